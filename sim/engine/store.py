"""The results store of a sweep: a manifest and append-only Parquet part files.

Layout of ``DIR/``::

    manifest.json              what was run: sweep file as given and resolved, hashes of
                               the tasks and input files, code identity, package versions,
                               root seed, creation time, sessions
    runs/part-000001.parquet   one row per run (written as runs finish)
    timeseries/part-000001.parquet
                               optional: run_id + time-series columns, same part number
    corrupt/                   unreadable parts moved aside on resume (their runs are redone)
    .lock                      held (flock) while a sweep writes here

Runs and time series are two datasets with different columns: query ``DIR/runs/*.parquet``
or ``DIR/timeseries/*.parquet``, never ``DIR/**/*.parquet`` (docs/results.md gives the
DuckDB, polars and pandas reads). Column names in the files are SQL-safe
(:func:`sql_name`: ``network.in_person_gain`` is stored as ``network__in_person_gain``,
``share_hba1c_lt7.5`` as ``share_hba1c_lt7_5``); :func:`load_results` gives them back
under their model names (the mapping is in each part's schema metadata), and ``day`` is
an integer.

Every part is written to a temporary file and renamed into place (``os.replace``), the
time-series part before its runs part: a runs part is the commit record of its runs, so a
crash of the process loses at most the runs not yet written. Parts are not fsynced unless
asked (``ResultsStore(fsync=True)``, ``--fsync``): a power loss may then lose or damage the
last parts written, which resume moves aside and redoes; the manifest is always fsynced.
Rows for a run never appear twice: resume skips recorded runs and ``--retry-failed``
removes the failed rows (rewriting those parts atomically) before running them again.
:func:`load_results` still deduplicates defensively: for each run the last successful
record wins, else its last record. :func:`compact` rewrites many small parts into few.
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
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim.params.errors import ScenarioError

FORMAT = "peersupport-results/2"
"""Store format written into the manifest (``/1``: model names in the files; still read)."""

_FORMATS = ("peersupport-results/1", FORMAT)

RUN_COLUMNS = ("run_id", "seed", "status", "error", "wall_time_s")
"""Columns every runs part has; task metadata and summary outputs sit between them."""

_PART = re.compile(r"^part-(\d{6,})\.parquet$")
_NAMES_KEY = b"peersupport.names"
"""Schema metadata of a part: JSON ``{stored column name: model name}`` of renamed columns."""


def sql_name(name: str) -> str:
    """The SQL-safe column name a model name is stored under (the one place of the rule).

    A dot between digits becomes ``_`` (``share_hba1c_lt7.5`` -> ``share_hba1c_lt7_5``), a
    dot between path parts ``__`` (``network.in_person_gain`` ->
    ``network__in_person_gain``), any other character outside ``[A-Za-z0-9_]`` ``_``.
    """
    name = re.sub(r"(?<=\d)\.(?=\d)", "_", name)
    return re.sub(r"[^A-Za-z0-9_]", "_", name.replace(".", "__"))


def _stored(table: pa.Table) -> pa.Table:
    """``table`` with SQL-safe column names, the renames kept in its schema metadata."""
    names = [sql_name(n) for n in table.column_names]
    renamed = {new: old for new, old in zip(names, table.column_names, strict=True)
               if new != old}
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise ScenarioError(f"columns {', '.join(clash)} would be stored under one name; "
                            "rename the task metadata")
    meta = dict(table.schema.metadata or {})
    if renamed:
        meta[_NAMES_KEY] = json.dumps(renamed).encode()
    return table.rename_columns(names).replace_schema_metadata(meta)


class ResultsStore:
    """One sweep's directory: manifest, part files, lock. Used by ``run_tasks``.

    Args:
        path: the directory.
        fsync: flush each part (and its directory entry) to disk before going on, so a
            power loss cannot lose a written part; costs a disk round trip per part.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.runs_dir = self.path / "runs"
        self.ts_dir = self.path / "timeseries"
        self.manifest_path = self.path / "manifest.json"

    # ----------------------------------------------------------------- manifest

    def exists(self) -> bool:
        """True when the directory already holds a store (a manifest)."""
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as a dict (checked to be a peersupport results manifest)."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise ScenarioError(f"{self.path} holds no sweep results (no manifest.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{self.manifest_path} is not valid JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise ScenarioError(f"{self.manifest_path} is not a results manifest: expected a "
                                f"JSON object, got a {type(manifest).__name__}")
        if manifest.get("format") not in _FORMATS:
            raise ScenarioError(
                f"{self.manifest_path} is not a peersupport results manifest: 'format' is "
                f"{manifest.get('format')!r}, expected one of {', '.join(_FORMATS)}")
        if manifest.get("kind") == "sensitivity" and not isinstance(
                manifest.get("analysis"), dict):
            raise ScenarioError(f"{self.manifest_path} says kind 'sensitivity' but has no "
                                "'analysis' object; it was not written by peersupport")
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.manifest_path,
                      lambda f: f.write(json.dumps(manifest, indent=2, default=str).encode()),
                      fsync=True)

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
        """Recorded runs, for resuming.

        Reads only run_id and status of every part; moves unreadable parts aside and
        deletes the temporary files of writes a crash interrupted (parts, manifest).

        Returns:
            ``({run_id: status}, output columns, next part number)``; for a run recorded
            more than once the record :func:`load_results` would keep decides its status.

        Raises:
            ScenarioError: a part that is valid Parquet but not a runs part (no run_id or
                status column), named.
        """
        for folder in (self.path, self.runs_dir, self.ts_dir):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)  # a write interrupted by a crash
        status: dict[Any, str] = {}
        outputs: list[str] = []
        highest = 0
        for number, path in self.parts():
            highest = max(highest, number)
            ts_path = self.ts_dir / path.name
            try:
                schema = pq.read_schema(path)
                _check_part(path, schema)
                table = pq.read_table(path, columns=list(_KEY_COLUMNS))
                if ts_path.exists():
                    pq.read_metadata(ts_path)
            except (pa.ArrowException, OSError) as exc:
                self._quarantine(path, ts_path, exc)
                continue
            _extend(outputs, part_outputs(schema))
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
            series = _stored(_integer_day(timeseries))
            self.ts_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.ts_dir / name, lambda f: pq.write_table(series, f),
                          fsync=self.fsync)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        path = self.runs_dir / name
        stored = _stored(runs)
        _atomic_write(path, lambda f: pq.write_table(stored, f), fsync=self.fsync)
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
                    _atomic_write(part, lambda f, t=kept: pq.write_table(t, f),
                                  fsync=self.fsync)
                else:
                    part.unlink()
        return removed


_KEY_COLUMNS = ("run_id", "status")
"""Columns every runs part has; without them a Parquet file is not a runs part."""


def part_outputs(schema: pa.Schema) -> list[str]:
    """The summary output columns of a part, by model name (kept in its schema metadata)."""
    meta = schema.metadata or {}
    return list(json.loads(meta.get(b"peersupport.outputs", b"[]")))


def _check_part(path: Path, schema: pa.Schema, need: Sequence[str] = _KEY_COLUMNS) -> None:
    """Refuse a Parquet file that is not a part of this store (e.g. one made by hand)."""
    missing = [name for name in need if name not in schema.names]
    if missing:
        raise ScenarioError(
            f"{path} is not a results part of this store (no {' or '.join(missing)} "
            "column); move it out of the results directory")


def _integer_day(table: pa.Table) -> pa.Table:
    """``table`` with an integer ``day`` column (the model records whole days)."""
    if "day" not in table.column_names or pa.types.is_integer(table.schema.field("day").type):
        return table
    index = table.column_names.index("day")
    return table.set_column(index, "day", pc.cast(table.column("day"), pa.int64()))


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


def _atomic_write(path: Path, write: Any, *, fsync: bool = False) -> None:
    """Write via a temporary file in the same folder, then rename it into place.

    Readers see the old file or the whole new one, never a part of it. With ``fsync`` the
    data is on disk before the rename and the rename before returning (survives a power
    loss); without, the operating system writes it back in its own time (survives a crash
    of this process).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if fsync:
            _fsync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_directory(folder: Path) -> None:
    """Flush a directory's entries (a rename in it) to disk, where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


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
        series = read_parts(_parts(self.path / "timeseries"), need=("run_id", "day"))
        if series is None:
            return None
        ts = series.table.to_pandas()
        if ts["day"].dtype.kind == "f":  # stores written before days were integers
            ts["day"] = ts["day"].astype("int64")
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

    Reads every part in one ``pyarrow.dataset`` scan. Unreadable parts and Parquet files
    that are not runs parts are skipped with a warning. A run recorded more than once keeps
    its last successful record, else its last record. Columns carry their model names
    (``network.in_person_gain``), whatever name the files store them under.

    Args:
        path: the directory given to ``--out``.

    Returns:
        :class:`Results` with ``.runs`` (pandas), ``.timeseries`` (pandas or None) and
        ``.manifest``.
    """
    store = ResultsStore(path)
    manifest = store.read_manifest()
    parts = read_parts(store.parts(), need=_KEY_COLUMNS)
    if parts is None:
        runs, outputs = pd.DataFrame(columns=[*RUN_COLUMNS, "_part"]), []
    else:
        runs, outputs = parts.table.to_pandas(), parts.outputs
    runs = _kept(runs)
    winners = runs[["run_id", "_part"]].reset_index(drop=True)
    runs = runs.drop(columns="_part").reset_index(drop=True)
    return Results(path=Path(path), manifest=manifest, runs=runs, output_columns=outputs,
                   _winners=winners)


def _kept(runs: pd.DataFrame) -> pd.DataFrame:
    """The record kept for each run (last ok one, else last one; by ``_part``), by run_id."""
    ok = runs["status"] == "ok"
    order = runs.assign(_ok=ok).sort_values(["run_id", "_ok", "_part"], kind="stable")
    return order.drop_duplicates("run_id", keep="last").drop(columns="_ok")


@dataclass
class Parts:
    """Parts read as one Arrow table.

    Model column names, a ``_part`` column (the part number of each row), and the summary outputs of
    the parts in order.
    """

    table: pa.Table
    outputs: list[str]


def read_parts(parts: Sequence[tuple[int, Path]], need: Sequence[str],
               columns: Sequence[str] | None = None) -> Parts | None:
    """Every readable part in one ``pyarrow.dataset`` scan; None when there is none.

    Parts whose footer is unreadable or that lack a ``need`` column are skipped with a
    warning; schemas are unified (a later part may add outputs).

    Args:
        parts: ``(part number, path)`` in order.
        need: columns a part must have to be one of this store's.
        columns: stored columns to read (default: all).
    """
    paths, schemas, numbers = [], [], {}
    for number, path in parts:
        try:
            schema = pq.read_schema(path)
            _check_part(path, schema, need)
        except (pa.ArrowException, OSError, ScenarioError) as exc:
            _skip_warning(path, exc)
            continue
        paths.append(str(path))
        schemas.append(schema)
        numbers[str(path)] = number
    if not paths:
        return None
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    tagged = schema.append(pa.field("_part", pa.int64()))
    try:
        scanner = ds.dataset(paths, schema=schema, format="parquet").scanner()
        table = pa.Table.from_batches(
            [_tag(b.record_batch, numbers[b.fragment.path]) for b in scanner.scan_batches()],
            schema=tagged)
    except (pa.ArrowException, OSError):  # a part damaged past its footer: read one by one
        tables = []
        for path in paths:
            try:
                tables.append(_tag(pq.read_table(path, schema=schema), numbers[path]))
            except (pa.ArrowException, OSError) as exc:
                _skip_warning(Path(path), exc)
        if not tables:
            return None
        table = pa.concat_tables(tables)
    names: dict[str, str] = {}
    outputs: list[str] = []
    for part_schema in schemas:
        names.update(json.loads((part_schema.metadata or {}).get(_NAMES_KEY, b"{}")))
        _extend(outputs, part_outputs(part_schema))
    table = table.rename_columns([names.get(n, n) for n in table.column_names])
    return Parts(table=table.replace_schema_metadata(None), outputs=outputs)


def _tag(batch: Any, number: int) -> Any:
    """A record batch or table with a ``_part`` column holding ``number``."""
    return batch.append_column("_part", pa.array([number] * batch.num_rows, pa.int64()))


def _skip_warning(path: Path, exc: BaseException) -> None:
    if isinstance(exc, ScenarioError):  # a foreign file: not ours to redo
        text = f"skipping {exc}"
    else:
        text = (f"skipping unreadable results part {path} ({type(exc).__name__}: {exc}); "
                "its runs are missing (rerun the sweep with --resume to redo them)")
    warnings.warn(text, RuntimeWarning, stacklevel=4)


def compact(path: str | Path, rows_per_part: int = 500_000) -> tuple[int, int]:
    """Rewrite a store's runs (and time-series) parts into few large ones.

    Keeps exactly the records :func:`load_results` keeps (one per run), in part order,
    holding the store's lock. Each new part is written (atomically) before the old parts it
    replaces are removed, so an interrupted compaction leaves duplicates that loading
    resolves, never a lost run.

    Args:
        path: the results directory.
        rows_per_part: runs per new part (at least 1).

    Returns:
        ``(parts before, parts after)``.
    """
    if rows_per_part < 1:
        raise ScenarioError(f"rows_per_part must be >= 1, got {rows_per_part}")
    store = ResultsStore(path)
    store.read_manifest()
    with store.lock():
        _, _, next_part = store.scan()
        old = store.parts()
        keys = read_parts(old, need=_KEY_COLUMNS, columns=_KEY_COLUMNS)
        if keys is None:
            return len(old), 0
        winners = _kept(keys.table.to_pandas())
        keep = pd.MultiIndex.from_frame(winners[["run_id", "_part"]])
        per_part = winners["_part"].value_counts().to_dict()
        written, group, rows = 0, [], 0
        for index, (number, part) in enumerate(old):
            group.append((number, part))
            rows += per_part.get(number, 0)
            if rows >= rows_per_part or index == len(old) - 1:
                holding = [(n, p) for n, p in group if n in per_part]
                if _write_compacted(store, next_part + written, holding, keep):
                    written += 1
                for _, done in group:
                    done.unlink()
                    (store.ts_dir / done.name).unlink(missing_ok=True)
                group, rows = [], 0
    return len(old), written


def _write_compacted(store: ResultsStore, number: int, group: list[tuple[int, Path]],
                     keep: pd.MultiIndex) -> bool:
    """Write part ``number`` from a group of old parts (those holding a kept record).

    Keeps each run's kept record (``keep``: run_id, part); False when there is none.
    """
    runs = read_parts(group, need=_KEY_COLUMNS)
    if runs is None:
        return False
    mask = _winning(runs.table, keep)
    table = runs.table.filter(mask).drop_columns("_part")
    table = table.replace_schema_metadata(
        {b"peersupport.outputs": json.dumps(runs.outputs).encode()})
    series = read_parts([(n, store.ts_dir / p.name) for n, p in group
                         if (store.ts_dir / p.name).exists()], need=("run_id",))
    ts = None
    if series is not None:
        ts = series.table.filter(_winning(series.table, keep)).drop_columns("_part")
    store.write_part(number, table, ts)
    return True


def _winning(table: pa.Table, keep: pd.MultiIndex) -> pa.Array:
    """Mask of the rows of ``table`` (with ``_part``) that are their run's kept record."""
    rows = pd.MultiIndex.from_arrays([table.column("run_id").to_pandas(),
                                      table.column("_part").to_pandas()])
    return pa.array(rows.isin(keep))


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
