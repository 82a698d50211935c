"""The results store of a sweep: a manifest and append-only Parquet part files.

Layout of ``DIR/``::

    manifest.json              what was run: sweep file as given and resolved, hashes,
                               package versions, root seed, creation time, sessions
    runs/part-000001.parquet   one row per run (written as runs finish)
    timeseries/part-000001.parquet
                               optional: run_id + time-series columns, same part number
    corrupt/                   unreadable parts moved aside on resume (their runs are redone)
    .lock                      held (flock) while a sweep writes here

Every part is written to a temporary file, flushed to disk and renamed into place
(``os.replace``), the time-series part before its runs part: a runs part is the commit
record of its runs, so a crash loses at most the runs not yet written. Rows for a run
never appear twice: resume skips recorded runs and ``--retry-failed`` removes the failed
rows (rewriting those parts atomically) before running them again. :func:`load_results`
still deduplicates defensively: for each run the last successful record wins, else its
last record.

The files are plain Parquet: ``pandas.read_parquet("DIR/runs")``,
``polars.read_parquet("DIR/runs/*.parquet")`` and DuckDB's
``SELECT * FROM 'DIR/runs/*.parquet'`` all read them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.params.errors import ScenarioError

FORMAT = "peersupport-results/1"
"""Store format written into the manifest."""

RUN_COLUMNS = ("run_id", "seed", "status", "error", "wall_time_s")
"""Columns every runs part has; task metadata and summary outputs sit between them."""

_PART = re.compile(r"^part-(\d{6,})\.parquet$")


class ResultsStore:
    """One sweep's directory: manifest, part files, lock. Used by ``run_tasks``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.runs_dir = self.path / "runs"
        self.ts_dir = self.path / "timeseries"
        self.manifest_path = self.path / "manifest.json"

    # ----------------------------------------------------------------- manifest

    def exists(self) -> bool:
        """True when the directory already holds a store (a manifest)."""
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as a dict."""
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise ScenarioError(f"{self.path} holds no sweep results (no manifest.json)") from None
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{self.manifest_path} is not valid JSON: {exc}") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.manifest_path,
                      lambda f: f.write(json.dumps(manifest, indent=2, default=str).encode()))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the directory (released when the process dies)."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            yield
            return
        with open(self.path / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                raise ScenarioError(
                    f"{self.path} is in use by another sweep ({owner}); wait for it to finish "
                    "or choose another --out"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ----------------------------------------------------------------- parts

    def parts(self) -> list[tuple[int, Path]]:
        """(part number, path) of every runs part, in writing order."""
        return _parts(self.runs_dir)

    def scan(self) -> tuple[dict[Any, str], list[str], int]:
        """Recorded runs, for resuming: checks every part, moves unreadable ones aside.

        Returns:
            ``({run_id: status}, output columns, next part number)``; for a run recorded
            more than once the record :func:`load_results` would keep decides its status.
        """
        for tmp in (*self.runs_dir.glob(".*.tmp"), *self.ts_dir.glob(".*.tmp")):
            tmp.unlink(missing_ok=True)  # a write interrupted by a crash
        status: dict[Any, str] = {}
        outputs: list[str] = []
        highest = 0
        for number, path in self.parts():
            highest = max(highest, number)
            ts_path = self.ts_dir / path.name
            try:
                table = pq.read_table(path)
                if ts_path.exists():
                    pq.read_table(ts_path)
            except (pa.ArrowException, OSError) as exc:
                self._quarantine(path, ts_path, exc)
                continue
            _extend(outputs, part_outputs(table.schema))
            for run_id, st in zip(table.column("run_id").to_pylist(),
                                  table.column("status").to_pylist(), strict=True):
                if status.get(run_id) != "ok":
                    status[run_id] = st
        for _, path in _parts(self.ts_dir):  # orphans: time series whose runs part is missing
            if not (self.runs_dir / path.name).exists():
                path.unlink()
        return status, outputs, highest + 1

    def _quarantine(self, path: Path, ts_path: Path, exc: BaseException) -> None:
        corrupt = self.path / "corrupt"
        corrupt.mkdir(exist_ok=True)
        os.replace(path, corrupt / f"runs-{path.name}")
        if ts_path.exists():
            os.replace(ts_path, corrupt / f"timeseries-{ts_path.name}")
        warnings.warn(
            f"{path} is unreadable ({type(exc).__name__}: {exc}); moved it to {corrupt} and "
            "its runs will be run again", RuntimeWarning, stacklevel=3,
        )

    def write_part(self, number: int, runs: pa.Table, timeseries: pa.Table | None) -> Path:
        """Write part ``number`` atomically: the time series first, then the runs."""
        name = f"part-{number:06d}.parquet"
        if timeseries is not None and timeseries.num_rows:
            self.ts_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.ts_dir / name, lambda f: pq.write_table(timeseries, f))
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.runs_dir / name
        _atomic_write(path, lambda f: pq.write_table(runs, f))
        return path

    def drop_runs(self, run_ids: set[Any]) -> int:
        """Remove every row of ``run_ids`` from the parts (atomic rewrites); rows removed."""
        removed = 0
        for _, path in self.parts():
            for part in (path, self.ts_dir / path.name):
                if not part.exists():
                    continue
                table = pq.read_table(part)
                keep = [rid not in run_ids for rid in table.column("run_id").to_pylist()]
                if all(keep):
                    continue
                if part == path:
                    removed += len(keep) - sum(keep)
                kept = table.filter(pa.array(keep))
                if kept.num_rows:
                    _atomic_write(part, lambda f, t=kept: pq.write_table(t, f))
                else:
                    part.unlink()
        return removed


def part_outputs(schema: pa.Schema) -> list[str]:
    """The summary output columns of a part (recorded in its schema metadata)."""
    meta = schema.metadata or {}
    return list(json.loads(meta.get(b"peersupport.outputs", b"[]")))


def _extend(names: list[str], more: Sequence[str]) -> None:
    names.extend(n for n in more if n not in names)


def _parts(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _PART.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _atomic_write(path: Path, write: Any) -> None:
    """Write via a temporary file in the same folder, fsync, then rename into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- loading


@dataclass
class Results:
    """A sweep's results, loaded from its directory.

    Attributes:
        path: the results directory.
        manifest: the manifest (sweep file, hashes, versions, seed, sessions).
        runs: one row per run (deduplicated), sorted by ``run_id``.
        output_columns: the summary output columns of ``runs``.
    """

    path: Path
    manifest: dict[str, Any]
    runs: pd.DataFrame
    output_columns: list[str] = field(default_factory=list)
    _winners: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @cached_property
    def timeseries(self) -> pd.DataFrame | None:
        """Time series of the runs kept in :attr:`runs` (None when none were recorded)."""
        frames = []
        for number, path in _parts(self.path / "timeseries"):
            table = _read(path)
            if table is None:
                continue
            frame = table.to_pandas()
            frame["_part"] = number
            frames.append(frame)
        if not frames:
            return None
        ts = pd.concat(frames, ignore_index=True)
        ts = ts.merge(self._winners, on=["run_id", "_part"], how="inner")
        ts = ts.drop(columns="_part").sort_values(["run_id", "day"], kind="stable")
        return ts.reset_index(drop=True)

    @property
    def lever_columns(self) -> list[str]:
        """Columns naming the lever settings (program designs, lever parameters)."""
        return list(self.manifest.get("columns", {}).get("levers", []))

    @property
    def parameter_columns(self) -> list[str]:
        """Columns holding the uncertain parameter values of each run."""
        return list(self.manifest.get("columns", {}).get("parameters", []))


def load_results(path: str | Path) -> Results:
    """Load a results directory written by ``peersupport sweep`` / ``run_tasks``.

    Unreadable parts are skipped with a warning. A run recorded more than once keeps its
    last successful record, else its last record.

    Args:
        path: the directory given to ``--out``.

    Returns:
        :class:`Results` with ``.runs`` (pandas), ``.timeseries`` (pandas or None) and
        ``.manifest``.
    """
    store = ResultsStore(path)
    manifest = store.read_manifest()
    frames, outputs = [], []
    for number, part in store.parts():
        table = _read(part)
        if table is None:
            continue
        _extend(outputs, part_outputs(table.schema))
        frame = table.to_pandas()
        frame["_part"] = number
        frames.append(frame)
    if frames:
        runs = pd.concat(frames, ignore_index=True)
    else:
        runs = pd.DataFrame(columns=[*RUN_COLUMNS, "_part"])
    runs["_ok"] = runs["status"] == "ok"
    runs = runs.sort_values(["run_id", "_ok", "_part"], kind="stable")
    runs = runs.drop_duplicates("run_id", keep="last")
    winners = runs[["run_id", "_part"]].reset_index(drop=True)
    runs = runs.drop(columns=["_ok", "_part"]).reset_index(drop=True)
    return Results(path=Path(path), manifest=manifest, runs=runs, output_columns=outputs,
                   _winners=winners)


def _read(path: Path) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        warnings.warn(f"skipping unreadable results part {path} ({type(exc).__name__}: {exc}); "
                      "its runs are missing (rerun the sweep with --resume to redo them)",
                      RuntimeWarning, stacklevel=3)
        return None


# --------------------------------------------------------------------------- tables


def runs_schema(
    id_type: pa.DataType, metadata: dict[str, pa.DataType], outputs: Sequence[str]
) -> pa.Schema:
    """Schema of a runs part: run_id, metadata, seed, outputs, status, error, wall_time_s."""
    fields = [pa.field("run_id", id_type, nullable=False)]
    fields += [pa.field(name, typ) for name, typ in metadata.items()]
    fields.append(pa.field("seed", pa.int64()))
    fields += [pa.field(name, pa.float64()) for name in outputs]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string()),
               pa.field("wall_time_s", pa.float64())]
    return pa.schema(fields, metadata={"peersupport.outputs": json.dumps(list(outputs))})


def column_type(name: str, values: Sequence[Any]) -> pa.DataType:
    """The Arrow type of a metadata column (mappings and lists are stored as JSON text)."""
    if any(isinstance(v, dict | list | tuple) for v in values):
        return pa.string()
    try:
        typ = pa.array(list(values)).type
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ScenarioError(f"task metadata '{name}' mixes value types ({exc}); give every "
                            "task the same type for it") from None
    return pa.string() if pa.types.is_null(typ) else typ


def cell(value: Any, typ: pa.DataType) -> Any:
    """A metadata value as stored (JSON text for mappings and lists)."""
    if pa.types.is_string(typ) and isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True)
    return value


def now_utc() -> str:
    """The current time as ISO 8601 UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")
