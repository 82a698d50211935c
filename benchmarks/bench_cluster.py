"""Scale-out: driver ingest rate, idle share and tail of a simulated 100-800 worker cluster.

Usage: ``python benchmarks/bench_cluster.py [--runs 12288] [--workers 200 800]
[--sleep 0.08] [--dask] [--label note]``. The table is appended to
``benchmarks/results.md``.

The model is replaced by the no-op test hook (``PEERSUPPORT_NOOP_RUN_S``, see
:data:`sim.engine.tasks.NOOP_ENV`): each run sleeps ``--sleep`` seconds (a realistic run
time) or nothing, and returns a one-number summary. The driver (``run_tasks``: chunking,
results buffering, Parquet parts) is the real one. Simulated workers are threads that sleep
(they cost no CPU, so 200-800 of them run on a loaded 2-core machine): by default a thread
pool handed to ``run_tasks`` in place of the executor (no scheduler between driver and
workers), with ``--dask`` the threads of a ``LocalCluster(processes=False)`` reached over
TCP (Dask's scheduling and serialisation included; hundreds of in-process Dask workers
need a quiet machine). Measures, for a Sobol'-sized task list (10 overridden inputs, 2
columns of metadata):

* ingest: runs/s through the driver with a no-op model (no sleep), serial executor (the
  driver alone, one run per task), without and with ``fsync`` of each part (parts of 200
  runs, ``--flush-every``), and a Dask cluster of ``--ingest-workers`` threads;
* per simulated cluster size: the set-up before the first task (validation, store,
  reaching the cluster and setting up its workers), the work phase after it, the ideal
  (total run time / workers), the idle share of the work phase
  ``1 - sum(run times) / (workers x work phase)`` and its tail ``work phase - ideal``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import logging
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dask  # noqa: E402
from distributed import LocalCluster  # noqa: E402

import sim.engine.tasks  # noqa: E402
from sim.engine.options import RunOptions  # noqa: E402
from sim.engine.store import load_results  # noqa: E402
from sim.engine.tasks import NOOP_ENV, Task, run_tasks  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.md"
INPUTS = [f"behaviour.input_{i}" for i in range(10)]  # never applied: the model is a no-op


def sobol_tasks(n: int) -> list[Task]:
    """``n`` tasks shaped like a 10-input Sobol' design with 2 replications."""
    base = str(ROOT / "scenarios" / "designs" / "hybrid_kickoff.yaml")
    return [Task(run_id=i, scenario=base, seed=1000 + i,
                 overrides={name: (i * 7919 + k) % 1000 / 1000 for k, name in
                            enumerate(INPUTS)},
                 meta={"point": i // 2, "replication": i % 2}) for i in range(n)]


def sweep(tasks: list[Task], options: RunOptions,
          sleep_s: float) -> tuple[float, float, float]:
    """Wall time and set-up time of ``run_tasks`` and the summed run times (no-op model)."""
    os.environ[NOOP_ENV] = str(sleep_s)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = run_tasks(tasks, Path(tmp) / "out", options)
            runs = load_results(Path(tmp) / "out").runs
    finally:
        del os.environ[NOOP_ENV]
    assert report.ran == len(tasks) and (runs["status"] == "ok").all(), report.describe()
    return report.wall_time_s, report.setup_s, float(runs["wall_time_s"].sum())


class SleepingWorkers(cf.ThreadPoolExecutor):
    """``workers`` threads as a cluster's workers, one task at a time each."""

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="simulated-worker")
        self.workers = workers

    def capacity(self) -> int:
        """Tasks it runs at once: its threads."""
        return self.workers


def on_threads(workers: int, tasks: list[Task],
               sleep_s: float) -> tuple[float, float, float]:
    """:func:`sweep` with ``workers`` sleeping threads in place of the executor."""

    @contextlib.contextmanager
    def simulated(*args: Any, initializer: Any = None, initargs: tuple = (),
                  **kwargs: Any) -> Iterator[cf.Executor]:
        if initializer is not None:
            initializer(*initargs)
        with SleepingWorkers(workers) as pool:
            yield pool

    with mock.patch.object(sim.engine.tasks, "open_executor", simulated):
        return sweep(tasks, RunOptions(executor="local"), sleep_s)


def on_cluster(workers: int, tasks: list[Task],
               sleep_s: float) -> tuple[float, float, float]:
    """:func:`sweep` on a fresh in-process cluster of ``workers`` one-thread workers.

    Each in-process worker would otherwise run its own statistical profiler (every 10 ms)
    and monitors, which for hundreds of workers in one process swamp the CPU: a real
    worker has its own process and cores for them.
    """
    quiet = {"distributed.worker.profile.enabled": False,
             "distributed.worker.memory.monitor-interval": "5s",
             "distributed.admin.system-monitor.interval": "5s"}
    with tempfile.TemporaryDirectory() as scratch, dask.config.set(quiet), LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=False, protocol="tcp://",
        dashboard_address=None, silence_logs=logging.ERROR, local_directory=scratch,
    ) as cluster:
        return sweep(tasks, RunOptions(executor="dask", scheduler=cluster.scheduler_address),
                     sleep_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12_288)
    ap.add_argument("--workers", type=int, nargs="+", default=[200])
    ap.add_argument("--ingest-workers", type=int, default=8)
    ap.add_argument("--sleep", type=float, default=0.08, help="seconds per simulated run")
    ap.add_argument("--dask", action="store_true",
                    help="simulated workers in an in-process Dask cluster (default: threads)")
    ap.add_argument("--skip-ingest", action="store_true", help="only the simulated clusters")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    tasks = sobol_tasks(args.runs)
    lines = []
    kind = "Dask" if args.dask else "thread"
    ingest = () if args.skip_ingest else (
        ("ingest, serial (the driver alone, 1 run/task), no-op", None, 0.0, False),
        ("ingest, serial, no-op, `--fsync` (every part fsynced)", None, 0.0, True),
        (f"ingest, Dask {args.ingest_workers} workers, no-op", args.ingest_workers, 0.0,
         False))
    for name, workers, sleep_s, fsync in (
        *ingest,
        *((f"{w} simulated workers ({kind}), {args.sleep * 1000:.0f} ms runs", w,
           args.sleep, False) for w in args.workers),
    ):
        if workers is None:
            wall, setup, busy = sweep(tasks, RunOptions(executor="serial", fsync=fsync),
                                      sleep_s)
        elif sleep_s == 0 or args.dask:
            wall, setup, busy = on_cluster(workers, tasks, sleep_s)
        else:
            wall, setup, busy = on_threads(workers, tasks, sleep_s)
        work = wall - setup
        row = [name, f"{args.runs:,}", str(workers or 1), f"{wall:.2f}", f"{setup:.2f}",
               f"**{args.runs / work:,.0f}**"]
        if sleep_s > 0:
            ideal = busy / workers
            row += [f"{ideal:.2f}", f"**{1 - busy / (workers * work):.1%}**",
                    f"{work - ideal:.2f}"]
        else:
            row += ["-", "-", "-"]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = ("" if RESULTS.exists() else
            "# Scale-out benchmark (benchmarks/bench_cluster.py)\n\n"
            "Driver ingest and the idle share of simulated clusters (no-op model; see the "
            "script's docstring). Runs/s and the idle share are over the work phase (wall "
            "minus set-up); idle share = 1 - sum of run times / (workers x work phase); "
            "tail = work phase - ideal.\n")
    with RESULTS.open("a") as out:
        out.write(f"{head}\n## {stamp} {args.label}\n\n{platform.node()}, "
                  f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n"
                  "| measure | runs | workers | wall s | set-up s | runs/s | ideal s "
                  "| idle share | tail s |\n|---|---|---|---|---|---|---|---|---|\n"
                  + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
