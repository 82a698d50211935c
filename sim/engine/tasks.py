"""Run many scenario runs on any executor, streamed to a resumable results store.

The generic layer under ``peersupport sweep``, for anything that needs many runs
(sweeps, sensitivity analyses, design comparisons)::

    from sim.engine.tasks import RunOptions, Task, run_tasks
    tasks = [Task(run_id=i, scenario="scenarios/designs/hybrid_kickoff.yaml",
                  overrides={"behaviour.support_effect_logit": x}, seed=s,
                  meta={"point": i, "behaviour.support_effect_logit": x})
             for i, (x, s) in enumerate(points)]
    report = run_tasks(tasks, "results/my_analysis", RunOptions(workers=2, progress=True))
    results = sim.load_results("results/my_analysis")

A task is one run: a base scenario (path, dict or Scenario), overrides by dotted path, a
seed and metadata columns for the runs table. Distinct base scenarios are validated once
here and sent once to each worker, which keeps the validated Scenario; a task carries only
its key, overrides and seed. Tasks go to workers in chunks; results are written into
Parquet parts every ``flush_every`` runs or ``flush_seconds``, so memory stays flat and a
crash loses at most the runs in flight and those finished in the last few seconds.

A run that raises is recorded (status ``failed``, the error text) and the rest go on.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from sim import runner as _results
from sim.engine.executors import WorkerStopped, open_executor
from sim.engine.options import RunOptions
from sim.engine.store import (
    FORMAT,
    RUN_COLUMNS,
    ResultsStore,
    cell,
    column_type,
    now_utc,
    runs_schema,
)
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario, load_scenario

MAX_CRASHES = 3
"""A run whose worker process dies this many times is recorded as failed."""

NOOP_ENV = "PEERSUPPORT_NOOP_RUN_S"
"""Test hook for measuring the driver: set in a worker's environment to a number of
seconds, every run on that worker sleeps that long and returns the fixed summary
``{"noop": 1.0}`` instead of running the model (``0``: no sleep). An environment switch of
the worker processes only: no scenario or sweep file can reach it."""

AGENT_DAYS_PER_S = 20e6
"""The model's speed on one core (patients x days per second; benchmarks/results.md), for
the cost of a run before any has finished."""

RUN_OVERHEAD_S = 0.02
"""Fixed cost of a run besides its patient-days (set-up, recording, summary)."""

TASK_SECONDS = (0.05, 10.0)
"""Bounds of one task's expected work: above the per-task overhead of an executor (about
1 ms on Dask), below the work lost by a crash and the tail."""

GUIDED_K = 2
"""Guided self-scheduling: a task takes 1 / (GUIDED_K x capacity) of the runs not yet sent."""


@dataclass(frozen=True)
class Task:
    """One run.

    Attributes:
        run_id: unique id (int or str; one type for all tasks of a store).
        scenario: the base scenario: YAML path, dict or Scenario. Tasks sharing a base
            should pass the same object (it is validated and sent to workers once).
        seed: the run's root seed (recorded in the runs table).
        overrides: values by dotted path applied to the base, e.g. ``{"run.days": 30}``.
        meta: extra columns of the runs table, e.g. ``{"point": 3, "replication": 0}``.
    """

    run_id: int | str
    scenario: str | Path | dict[str, Any] | Scenario
    seed: int
    overrides: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    """What :func:`run_tasks` did.

    Attributes:
        out_dir: the results directory.
        total: tasks in the store's task list.
        skipped: tasks already recorded, not run again.
        ran: runs attempted in this call.
        failed: runs that failed in this call.
        failed_total: runs whose kept record is a failure (this call or earlier ones).
        missing: runs not recorded when the call ended (interrupted).
        wall_time_s: wall time of this call.
        setup_s: the part of it before the first task was sent (validation, the store,
            starting or reaching the executor and its workers).
    """

    out_dir: Path
    total: int
    skipped: int = 0
    ran: int = 0
    failed: int = 0
    failed_total: int = 0
    missing: int = 0
    wall_time_s: float = 0.0
    setup_s: float = 0.0

    @property
    def seconds_per_run(self) -> float:
        """Wall time per run attempted in this call."""
        return self.wall_time_s / self.ran if self.ran else float("nan")

    def describe(self) -> str:
        """A one-paragraph end summary."""
        ok = self.ran - self.failed
        text = (f"{self.ran:,} runs in {self.wall_time_s:,.1f} s wall "
                f"({self.seconds_per_run:.3f} s per run): {ok:,} ok, {self.failed:,} failed")
        if self.skipped:
            text += f"; {self.skipped:,} already recorded, skipped"
        if self.missing:
            text += f"; {self.missing:,} not run yet (continue with --resume)"
        if self.failed_total:
            text += (f". {self.failed_total:,} of {self.total:,} runs failed "
                     "(see the error column; rerun them with --retry-failed)")
        return text + f". Results: {self.out_dir}"


# --------------------------------------------------------------------------- workers
# Module state of a worker process: base scenarios sent once by the initializer, and the
# validated Scenario of each, kept across tasks.

_BASES: dict[str, dict[str, Any]] = {}
_SCENARIOS: dict[str, Scenario] = {}


def register_bases(bases: Mapping[str, dict[str, Any]]) -> None:
    """Executor initializer: make base scenarios available to this worker by key."""
    _BASES.update(bases)


def _base(key: str) -> Scenario:
    scenario = _SCENARIOS.get(key)
    if scenario is None:
        if len(_SCENARIOS) >= 256:  # bounded: a long-lived worker serves many sweeps
            _SCENARIOS.clear()
        scenario = _SCENARIOS[key] = load_scenario(_BASES[key])
    return scenario


def execute_chunk(chunk: Sequence[tuple[Any, str, dict[str, Any], int]],
                  timeseries: bool) -> list[dict[str, Any]]:
    """Run a chunk of ``(run_id, base key, overrides, seed)``; never raises for a run.

    Returns:
        One outcome per run: run_id, status, error, wall_time_s, summary, timeseries.
    """
    noop = os.environ.get(NOOP_ENV)
    if noop is not None:
        return [_noop(item[0], float(noop)) for item in chunk]
    return [_execute(*item, timeseries=timeseries) for item in chunk]


def _noop(run_id: Any, seconds: float) -> dict[str, Any]:
    """The outcome of a run under the :data:`NOOP_ENV` test hook: no model run."""
    started = time.perf_counter()
    if seconds > 0:
        time.sleep(seconds)
    return {"run_id": run_id, "status": "ok", "error": None, "summary": {"noop": 1.0},
            "timeseries": None, "wall_time_s": time.perf_counter() - started}


def _execute(run_id: Any, key: str, overrides: dict[str, Any], seed: int, *,
             timeseries: bool) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {"run_id": run_id, "status": "ok", "error": None,
                           "summary": None, "timeseries": None}
    try:
        scenario = _base(key)
        if overrides:
            scenario = scenario.with_overrides(overrides)
        result = _results.run(scenario, seed, timeseries=timeseries)
        out["summary"] = result.summary
        if timeseries:
            out["timeseries"] = result.timeseries
    except Exception as exc:
        out["status"] = "failed"
        out["error"] = _error_text(exc)
    out["wall_time_s"] = time.perf_counter() - started
    return out


def _error_text(exc: BaseException, limit: int = 4000) -> str:
    head = f"{type(exc).__name__}: {exc}"
    tail = "".join(traceback.format_exception(exc, limit=-3))
    text = f"{head}\n{tail}" if tail else head
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- driver


def run_tasks(
    tasks: Sequence[Task],
    out_dir: str | Path,
    options: RunOptions | None = None,
    *,
    timeseries: bool = False,
    manifest: Mapping[str, Any] | None = None,
) -> RunReport:
    """Run every task (or those not yet recorded) and stream the results to ``out_dir``.

    Args:
        tasks: the runs; their order is the order of submission.
        out_dir: results directory (see :mod:`sim.engine.store`).
        options: executor, workers, resume, progress, ... (see :class:`RunOptions`;
            default: local processes on every core).
        timeseries: also store each run's time series.
        manifest: extra manifest entries (e.g. the sweep file); written when the store is
            created.

    Returns:
        A :class:`RunReport`.

    Raises:
        ScenarioError: a bad task list or base scenario, a store that exists (without
            ``resume``) or whose tasks differ, an unreachable scheduler.
    """
    options = options or RunOptions()
    started = time.perf_counter()
    tasks = list(tasks)
    bases, payloads = _intern(tasks)
    id_type = column_type("run_id", [t.run_id for t in tasks])
    meta_types = _meta_types(tasks)
    inputs = input_files(bases, payloads)
    fingerprint = _fingerprint(bases, payloads, tasks, inputs)

    store = ResultsStore(out_dir, fsync=options.fsync)
    report = RunReport(out_dir=store.path, total=len(tasks))
    with _writable(store), store.lock():
        created = not store.exists()
        status, outputs, next_part = _open_store(store, fingerprint, inputs, manifest,
                                                 options, len(tasks))
        if options.retry_failed:
            failed = {rid for rid, st in status.items() if st != "ok"}
            store.drop_runs(failed)
            for rid in failed:
                del status[rid]
        todo = [i for i, t in enumerate(tasks) if t.run_id not in status]
        report.skipped = len(tasks) - len(todo)
        run_s = _run_seconds(bases, [payloads[i] for i in todo])
        size = options.chunk_size or (1 if options.executor == "serial" else None)
        writer = _PartWriter(store, next_part, id_type, meta_types, outputs, tasks,
                             options.flush_every, options.flush_seconds)
        bar = tqdm(total=len(todo), unit="run", desc="sweep", disable=not options.progress,
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        try:
            if todo:
                with open_executor(options.executor, options.workers,
                                   scheduler=options.scheduler,
                                   initializer=register_bases,
                                   initargs=(bases,)) as pool:
                    report.setup_s = time.perf_counter() - started
                    _drive(pool, todo, _Chunker(run_s, size), payloads,
                           timeseries, writer, bar, report, status)
        except ScenarioError:  # e.g. an unreachable scheduler: leave no half-made store
            if created and not writer.rows and not store.parts():
                store.manifest_path.unlink(missing_ok=True)
            raise
        finally:
            writer.flush()
            bar.close()
            report.failed_total = sum(st != "ok" for st in status.values())
            report.missing = len(tasks) - len(status)
            report.wall_time_s = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _writable(store: ResultsStore) -> Iterator[None]:
    """Turn a failed write into the store into a clear ScenarioError.

    Disk full, read-only, not a directory; other OSErrors pass unchanged.
    """
    try:
        yield
    except OSError as exc:
        try:
            inside = Path(os.path.abspath(exc.filename)).is_relative_to(
                os.path.abspath(store.path))
        except (TypeError, ValueError):
            inside = False
        if not inside:
            raise
        raise _write_error(store, exc) from None


def _write_error(store: ResultsStore, exc: OSError) -> ScenarioError:
    """A clear message for a results directory that cannot be written."""
    reason = exc.strerror or type(exc).__name__
    text = f"cannot write the results to {exc.filename or store.path} ({reason})"
    try:
        kept = len(store.parts())
    except OSError:
        kept = 0
    if kept:
        return ScenarioError(f"{text}; the {kept} results parts written before are kept in "
                             f"{store.path}: free disk space or fix its permissions, then "
                             "continue with --resume")
    return ScenarioError(f"{text}; free disk space or fix the permissions, or choose "
                         "another --out")


class _Chunker:
    """Task sizes from the executor's capacity and the cost of a run, small at the tail.

    Guided self-scheduling: a task takes ``remaining / (GUIDED_K x capacity)`` of the runs
    not yet sent, within :data:`TASK_SECONDS` of expected work, so early tasks are large
    (little per-task overhead) and the last ones small (workers finish together). The run
    cost starts from the scenario (patients x days) and follows the measured run times.
    A fixed ``size`` (``--chunk-size``) overrides it.
    """

    def __init__(self, run_s: float, size: int | None = None) -> None:
        self.run_s, self.size = run_s, size
        self.measured_s, self.measured_n = 0.0, 0

    def observe(self, outcomes: list[dict[str, Any]]) -> None:
        """Fold finished runs' wall times into the run cost."""
        for outcome in outcomes:
            if math.isfinite(outcome["wall_time_s"]):
                self.measured_s += outcome["wall_time_s"]
                self.measured_n += 1
        if self.measured_n:
            self.run_s = max(1e-6, self.measured_s / self.measured_n)

    def next(self, remaining: int, capacity: int) -> int:
        """Runs in the next task, with ``remaining`` runs not yet sent."""
        if self.size is not None:
            return min(self.size, remaining)
        low, high = (max(1, int(s / self.run_s)) for s in TASK_SECONDS)
        guided = math.ceil(remaining / (GUIDED_K * max(1, capacity)))
        return max(1, min(remaining, high, max(low, guided)))


def _run_seconds(bases: dict[str, dict[str, Any]], payloads: list[tuple]) -> float:
    """Expected wall time of one run (mean over ``payloads``), from patients x days."""
    if not payloads:
        return RUN_OVERHEAD_S
    total = 0.0
    for _, key, overrides, _ in payloads:
        base = bases[key]
        size = overrides.get("population.size", base.get("population", {}).get("size", 2000))
        days = overrides.get("run.days", base.get("run", {}).get("days", 365))
        total += float(size) * float(days)
    return RUN_OVERHEAD_S + total / len(payloads) / AGENT_DAYS_PER_S


def _drive(pool: cf.Executor, todo: list[int], chunker: _Chunker, payloads: list[tuple],
           timeseries: bool, writer: _PartWriter, bar: tqdm, report: RunReport,
           status: dict[Any, str]) -> None:
    pending = collections.deque(todo)
    retry: collections.deque[int] = collections.deque()  # crashed runs, rerun alone
    crashes: collections.Counter[int] = collections.Counter()
    inflight: dict[cf.Future, list[int]] = {}
    capacity = pool.capacity  # type: ignore[attr-defined]  (every open_executor kind has it)
    while pending or retry or inflight:
        slots = capacity()
        while (pending or retry) and len(inflight) < 2 * slots:  # one running, one waiting
            if retry:
                chunk = [retry.popleft()]
            else:
                size = chunker.next(len(pending), slots)
                chunk = [pending.popleft() for _ in range(size)]
            inflight[pool.submit(execute_chunk, [payloads[i] for i in chunk], timeseries)] = chunk
        done, _ = cf.wait(inflight, timeout=writer.time_left(),
                          return_when=cf.FIRST_COMPLETED)
        for future in done:
            chunk = inflight.pop(future)
            try:
                outcomes = future.result()
            except WorkerStopped:  # workers were told to stop (SIGTERM from a batch system)
                raise KeyboardInterrupt from None
            except Exception as exc:  # the worker died (crash, out of memory, lost node)
                outcomes = []
                for i in chunk:
                    crashes[i] += 1
                    if crashes[i] < MAX_CRASHES:
                        retry.append(i)  # rerun alone, to find the culprit
                    else:
                        outcomes.append(_crashed(payloads[i][0], exc))
            for outcome in outcomes:
                writer.add(outcome)
                status[outcome["run_id"]] = outcome["status"]
                report.failed += outcome["status"] != "ok"
            report.ran += len(outcomes)
            chunker.observe(outcomes)
            if outcomes:
                bar.update(len(outcomes))
                bar.set_postfix_str(f"failed={report.failed}", refresh=False)
        writer.maybe_flush()


def _crashed(run_id: Any, exc: BaseException) -> dict[str, Any]:
    return {"run_id": run_id, "status": "failed", "summary": None, "timeseries": None,
            "wall_time_s": math.nan,
            "error": f"the worker process running this run died {MAX_CRASHES} times "
                     f"({type(exc).__name__}: {exc}); out of memory?"}


def _open_store(store: ResultsStore, fingerprint: str, inputs: dict[str, str],
                extra: Mapping[str, Any] | None, options: RunOptions,
                n_tasks: int) -> tuple[dict[Any, str], list[str], int]:
    resume, retry_failed = options.resume, options.retry_failed
    session = {"started_utc": now_utc(), "executor": options.executor,
               "workers": options.workers, "resume": resume, "retry_failed": retry_failed,
               "pid": os.getpid(), "code": _results.code_identity(),
               "versions": _results.package_versions()}
    if not store.exists():
        if store.parts():
            raise ScenarioError(f"{store.path} holds result parts but no manifest.json; "
                                "choose another --out")
        manifest = {"format": FORMAT, "created_utc": session["started_utc"],
                    **(extra or {}), "tasks_sha256": fingerprint, "n_runs": n_tasks,
                    "inputs": inputs, "code": _results.code_identity(),
                    "versions": _results.package_versions(), "sessions": [session]}
        store.write_manifest(manifest)
        return {}, [], 1
    manifest = store.read_manifest()
    if not (resume or retry_failed):
        raise ScenarioError(
            f"{store.path} already holds results (created {manifest.get('created_utc')}); "
            "continue them with --resume, rerun their failures with --retry-failed, or "
            "choose another --out"
        )
    changed = changed_inputs(manifest.get("inputs", {}), inputs)
    if changed:
        raise ScenarioError(
            f"cannot resume {store.path}: input files changed since it was created: "
            f"{'; '.join(changed)}. Restore them or start a new --out")
    if manifest.get("tasks_sha256") != fingerprint:
        raise ScenarioError(
            f"cannot resume {store.path}: its runs differ from the ones asked for now (task "
            f"hash {str(manifest.get('tasks_sha256'))[:12]} vs {fingerprint[:12]}): the "
            "sweep or its base scenario changed since it was created. Start a new --out, "
            "or restore what changed"
        )
    differences = provenance_differences(manifest)
    if differences:
        text = (f"{store.path} was created by other code or package versions than this "
                f"session's ({'; '.join(differences)}), so its runs and new ones may not be "
                "comparable")
        if not options.force_resume:
            raise ScenarioError(
                f"cannot resume: {text}. Start a new --out, run the code and versions that "
                "made it, or resume anyway with --force-resume (Python: "
                "RunOptions(force_resume=True))")
        warnings.warn(f"resuming anyway: {text}", RuntimeWarning, stacklevel=3)
    manifest.setdefault("sessions", []).append(session)
    store.write_manifest(manifest)
    return store.scan()


def provenance_differences(manifest: Mapping[str, Any]) -> list[str]:
    """What differs between the versions that made a store and this process's.

    The code and number-changing versions, as ``name: then -> now``; empty when they match.
    """
    out = []
    then_code = manifest.get("code")
    now_code = _results.code_identity()
    if not isinstance(then_code, dict) or "source_sha256" not in then_code:
        out.append("code identity: not recorded (an older store)")
    elif then_code["source_sha256"] != now_code["source_sha256"]:
        where = (f" (made at git commit {then_code['git_commit'][:12]}"
                 f"{' with local changes' if then_code.get('git_dirty') else ''})"
                 if then_code.get("git_commit") else "")
        out.append(f"model code: source hash {then_code['source_sha256'][:12]} -> "
                   f"{now_code['source_sha256'][:12]}{where}")
    then_versions = manifest.get("versions")
    then_versions = then_versions if isinstance(then_versions, dict) else {}
    for name, version in _results.package_versions().items():
        if name != "peersupport" and then_versions.get(name) != version:
            out.append(f"{name}: {then_versions.get(name, 'not recorded')} -> {version}")
    return out


def changed_inputs(then: Any, now: Mapping[str, str]) -> list[str]:
    """Input files whose content hash differs between a store's manifest and now."""
    then = then if isinstance(then, dict) else {}
    out = []
    for path in sorted(set(then) | set(now)):
        if then.get(path) != now.get(path):
            state = ("new" if path not in then else "no longer used" if path not in now
                     else "content changed")
            out.append(f"{path} ({state})")
    return out


class _PartWriter:
    """Buffers finished runs and writes them as parts (every K runs or T seconds)."""

    def __init__(self, store: ResultsStore, next_part: int, id_type: pa.DataType,
                 meta_types: dict[str, pa.DataType], outputs: list[str],
                 tasks: list[Task], flush_every: int, flush_seconds: float) -> None:
        self.store, self.number = store, next_part
        self.id_type, self.meta_types, self.outputs = id_type, meta_types, list(outputs)
        self.by_id = {t.run_id: t for t in tasks}
        self.flush_every, self.flush_seconds = max(1, flush_every), flush_seconds
        self.rows: list[dict[str, Any]] = []
        self.series: list[pd.DataFrame] = []
        self.last = time.monotonic()

    def add(self, outcome: dict[str, Any]) -> None:
        task = self.by_id[outcome["run_id"]]
        row = {"run_id": task.run_id, "seed": int(task.seed), "status": outcome["status"],
               "error": outcome["error"], "wall_time_s": outcome["wall_time_s"]}
        for name, typ in self.meta_types.items():
            row[name] = cell(task.meta.get(name), typ)
        summary = outcome["summary"] or {}
        for name, value in summary.items():
            if name in row:
                raise ScenarioError(f"summary output '{name}' has the name of a task "
                                    "metadata column; rename the metadata")
            if name not in self.outputs:
                self.outputs.append(name)
            row[name] = float(value)
        self.rows.append(row)
        ts = outcome["timeseries"]
        if ts is not None:
            ts = ts.copy()
            ts.insert(0, "run_id", task.run_id)
            self.series.append(ts)

    def time_left(self) -> float:
        return max(0.05, self.flush_seconds - (time.monotonic() - self.last))

    def maybe_flush(self) -> None:
        if len(self.rows) >= self.flush_every or (
            self.rows and time.monotonic() - self.last >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.rows:
            return
        schema = runs_schema(self.id_type, self.meta_types, self.outputs)
        runs = pa.Table.from_pylist(self.rows, schema=schema)
        series = None
        if self.series:
            frame = pd.concat(self.series, ignore_index=True)
            series = pa.Table.from_pandas(frame, preserve_index=False)
            series = series.cast(series.schema.set(0, pa.field("run_id", self.id_type)))
        try:
            self.store.write_part(self.number, runs, series)
        except OSError as exc:  # disk full, directory made read-only or removed
            if exc.filename is None:  # e.g. raised by the Parquet writer
                exc.filename = str(self.store.runs_dir)
            raise _write_error(self.store, exc) from None
        self.number += 1
        self.rows, self.series = [], []


# --------------------------------------------------------------------------- helpers


def _intern(tasks: list[Task]) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
    """Validate each distinct base once; payload per task: (run_id, key, overrides, seed)."""
    if not tasks:
        raise ScenarioError("no runs to do: the task list is empty")
    keys: dict[Any, str] = {}
    bases: dict[str, dict[str, Any]] = {}
    payloads = []
    seen: set[Any] = set()
    for task in tasks:
        if task.run_id in seen:
            raise ScenarioError(f"run_id {task.run_id!r} appears twice in the task list")
        seen.add(task.run_id)
        if isinstance(task.seed, bool) or not isinstance(task.seed, int) or not (
            0 <= task.seed < 2**63
        ):
            raise ScenarioError(f"run {task.run_id!r}: seed must be an integer in "
                                f"[0, 2**63), got {task.seed!r}")
        ref = task.scenario
        memo = str(ref) if isinstance(ref, str | Path) else id(ref)
        key = keys.get(memo)
        if key is None:
            data = load_scenario(ref).model_dump(mode="json")
            key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            bases[key] = data
            keys[memo] = key
        payloads.append((task.run_id, key, dict(task.overrides), int(task.seed)))
    return bases, payloads


def _meta_types(tasks: list[Task]) -> dict[str, pa.DataType]:
    names: dict[str, None] = {}
    for task in tasks:
        for name in task.meta:
            names.setdefault(name, None)
    if set(names) & set(RUN_COLUMNS):
        raise ScenarioError("task metadata may not use the reserved column names "
                            f"{', '.join(sorted(set(names) & set(RUN_COLUMNS)))}")
    return {n: column_type(n, [t.meta.get(n) for t in tasks]) for n in names}


def input_files(bases: Mapping[str, dict[str, Any]], payloads: Sequence[tuple]
                ) -> dict[str, str]:
    """SHA-256 of the content of every file the runs read, by path.

    The files a scenario refers to (the background network's edge list), in the base
    scenarios and in the tasks' overrides: editing one changes the runs, so it is part of
    the task identity and resume names it.
    """
    paths: set[str] = set()
    for data in bases.values():
        background = data.get("network", {}).get("background", {})
        if background.get("kind") == "edge_list" and background.get("edge_list"):
            paths.add(str(background["edge_list"]))
    for payload in payloads:
        value = payload[2].get(_EDGE_LIST)
        if isinstance(value, str | Path):
            paths.add(str(value))
    out = {}
    for path in sorted(paths):
        try:
            out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError as exc:
            raise ScenarioError(f"cannot read {path} ({exc.strerror or exc}), the "
                                f"{_EDGE_LIST} file of a run") from None
    return out


_EDGE_LIST = "network.background.edge_list"


def _fingerprint(bases: dict[str, dict[str, Any]], payloads: list[tuple],
                 tasks: list[Task], inputs: Mapping[str, str]) -> str:
    """SHA-256 of everything that decides what the runs compute and record."""
    digest = hashlib.sha256()
    if inputs:  # absent from stores without input files, so their hash stays as it was
        digest.update(json.dumps(dict(inputs), sort_keys=True).encode())
    for payload, task in zip(payloads, tasks, strict=True):
        digest.update(json.dumps([payload, dict(task.meta)], sort_keys=True,
                                 default=str).encode())
    digest.update(json.dumps(sorted(bases)).encode())
    return digest.hexdigest()
