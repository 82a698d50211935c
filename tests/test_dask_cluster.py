"""A real distributed sweep (issue 17): a ``dask scheduler`` and two ``dask worker``
processes started as separate processes on 127.0.0.1, driven by ``peersupport sweep
--scheduler``. The results equal a serial run's bit for bit, the workers ran the tasks with
explicit compute-thread settings, and every process started is gone afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.analyses.sweep import run_sweep
from sim.engine.executors import default_workers
from sim.engine.options import RunOptions
from sim.engine.store import load_results
from tests.ports import free_port
from tests.test_sweep import TINY, assert_same_runs, write_sweep

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2


def _start(args: list[str], log: Path) -> subprocess.Popen:
    """A Dask CLI process in its own session (so its whole group can be stopped)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):  # workers first, then the scheduler
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A scheduler and WORKERS one-thread workers (each under a nanny); yields the address
    and, after the test, checks that every process of the cluster has exited."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    procs = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port,
                     "--no-dashboard"], tmp_path / "scheduler.log")]
    pids: list[int] = []
    try:
        procs += [_start(["distributed.cli.dask_worker", address, "--nthreads", "1",
                          "--no-dashboard", "--name", f"w{i}"], tmp_path / f"worker{i}.log")
                  for i in range(WORKERS)]
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(WORKERS, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for proc in procs:  # nannies and the worker processes they spawned
            pids += [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(True))]
        yield address, pids
    finally:
        _stop(procs)
    alive = [p for p in pids if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"cluster processes still running: {alive}"


@pytest.mark.slow
def test_sweep_on_separate_scheduler_and_worker_processes(tmp_path: Path,
                                                          cluster: tuple[str, list[int]]
                                                          ) -> None:
    from distributed import Client

    address, pids = cluster
    assert len(pids) >= 1 + 2 * WORKERS, "scheduler, and a nanny and a worker per worker"
    path = write_sweep(tmp_path, TINY)
    run_sweep(path, tmp_path / "serial", RunOptions(executor="serial"))

    out = tmp_path / "dask"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "sim.cli.main", "sweep", str(path), "--out",
                           str(out), "--scheduler", address], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    results, ref = load_results(out), load_results(tmp_path / "serial")
    assert len(results.runs) == 12
    assert_same_runs(results, ref)
    pd.testing.assert_frame_equal(results.timeseries, ref.timeseries, check_exact=True)

    with Client(address, timeout=10) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        threads = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    assert len(executed) == WORKERS and all(n >= 1 for n in executed.values()), executed
    # one host, WORKERS one-thread workers: the cores each may use, shared between them
    expected = str(max(1, default_workers() // WORKERS))
    assert set(threads.values()) == {expected}, threads
