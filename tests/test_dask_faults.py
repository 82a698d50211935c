"""Dask faults: sweeps survive lost workers, and a bad scheduler is a clear error.

* A Dask worker process killed mid-sweep (LocalCluster, real processes): the sweep still
  completes, with results identical to a serial run.
* A scheduler that cannot be reached: a clear error (exit 2, no traceback) within 15 s.

Figures go to ``$PEERSUPPORT_FAULT_REPORT`` when set (docs/reliability.md, section 4).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest

import sim.engine.executors as executors
from sim.analyses.sweep import run_sweep
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, load_results
from tests.conftest import sweep_yaml, write_sweep
from tests.ports import free_port
from tests.test_sweep import assert_same_runs
from tests.test_sweep_crash_resume import report_figures

ROOT = Path(__file__).resolve().parents[1]


def dask_sweep(replications: int) -> str:
    """2 designs x 5 points x ``replications`` of 200 patients x 60 days."""
    return sweep_yaml("workerfault", size=200, days=60, n=5, replications=replications,
                      seed=5, timeseries_every_days=20)


def live_worker_pids(client, killed: list[int], deadline: float) -> list[int]:
    """Worker pids not yet killed; a worker killed a moment ago may still be registered."""
    while True:
        pids = client.run(os.getpid, on_error="return").values()
        alive = sorted(p for p in pids if isinstance(p, int) and p not in killed)
        if alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def sweep_with_worker_kills(tmp_path: Path, monkeypatch, reps: int, kills: int) -> dict:
    """Run a sweep on a 2-worker LocalCluster, SIGKILL a worker process ``kills`` times."""
    path = write_sweep(tmp_path, dask_sweep(reps))
    n_runs = 10 * reps
    run_sweep(path, tmp_path / "serial", RunOptions(executor="serial"))
    ref = load_results(tmp_path / "serial")

    clients = []

    class Capturing(executors.DaskExecutor):
        def __init__(self, client) -> None:
            clients.append(client)
            super().__init__(client)

    monkeypatch.setattr(executors, "DaskExecutor", Capturing)
    out = tmp_path / "dask"
    store = ResultsStore(out)
    killed: list[int] = []
    problems: list[str] = []

    def killer() -> None:
        try:
            for k in range(kills):
                # wait until the sweep has recorded more runs since the last kill
                deadline = time.monotonic() + 180
                target = 2 + 3 * k
                while len(store.parts()) < target:
                    if time.monotonic() > deadline or done.is_set():
                        problems.append(f"kill {k}: the sweep did not reach part {target}")
                        return
                    time.sleep(0.01)
                alive = live_worker_pids(clients[-1], killed, deadline)
                if not alive:
                    problems.append(f"kill {k}: no live worker to kill")
                    return
                victim = alive[k % len(alive)]
                psutil.Process(victim).kill()
                killed.append(victim)
                if len(store.parts()) * 2 >= n_runs:
                    problems.append(f"kill {k} landed after the sweep had finished")
        except Exception as exc:  # reported by the test
            problems.append(repr(exc))

    done = threading.Event()
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        report = run_sweep(path, out, RunOptions(executor="dask", workers=2, chunk_size=1,
                                                       flush_every=2))
    finally:
        done.set()
        thread.join(timeout=30)
    wall = time.perf_counter() - started
    assert not problems, problems
    assert len(killed) == kills, f"killed {killed}"
    assert report.ran == n_runs and report.failed == 0 and report.missing == 0, \
        report.describe()
    raw = pd.concat(pd.read_parquet(p) for _, p in store.parts())
    assert len(raw) == n_runs and raw["run_id"].is_unique, "every run exactly once, even raw"
    results = load_results(out)
    assert_same_runs(results, ref)
    pd.testing.assert_frame_equal(results.timeseries, ref.timeseries, check_exact=True)
    return {"worker_kills": len(killed), "runs": n_runs, "runs_lost": 0,
            "runs_duplicated": len(raw) - n_runs, "wall_s": round(wall, 1)}


def test_dask_worker_killed_mid_sweep(tmp_path: Path, monkeypatch) -> None:
    figures = sweep_with_worker_kills(tmp_path, monkeypatch, reps=4, kills=1)
    report_figures("dask_worker_kill", **figures)


@pytest.mark.slow
def test_dask_workers_killed_repeatedly(tmp_path: Path, monkeypatch) -> None:
    figures = sweep_with_worker_kills(tmp_path, monkeypatch, reps=12, kills=4)
    report_figures("dask_worker_kill_repeated", **figures)


def unreachable(address: str, tmp_path: Path) -> tuple[float, float]:
    """Run ``peersupport sweep --scheduler ADDRESS`` and check its error.

    Returns:
        (seconds from the "running on dask" line, printed just before connecting, to the
        exit; seconds for the whole command, Python start-up included).
    """
    path = write_sweep(tmp_path, dask_sweep(1))
    out = tmp_path / "out"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli.main", "sweep", str(path), "--out",
                             str(out), "--scheduler", address, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, connecting = [], None
    for line in proc.stderr:
        lines.append(line)
        if connecting is None and line.startswith("running on dask"):
            connecting = time.perf_counter()
    proc.wait(timeout=60)
    ended = time.perf_counter()
    stderr = "".join(lines)
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert connecting is not None, stderr
    last = lines[-1].strip()
    assert last.startswith(f"peersupport sweep: error: cannot reach the Dask scheduler at "
                           f"{address} within 10 s"), last
    assert not (out / "manifest.json").exists(), "no half-made store is left"
    # The bound itself (10 s passed to Dask, 2 s grace) is checked in-process by
    # test_connect_passes_its_timeout_and_abandons_a_silent_handshake: a wall-clock limit
    # here failed on a loaded machine (19 s for a 15 s limit) while the mechanism held.
    return ended - connecting, ended - started


def test_connect_passes_its_timeout_and_abandons_a_silent_handshake() -> None:
    """The mechanism behind the unreachable-scheduler bound, independent of machine load:
    the configured timeout is what Dask's Client gets, and a client that never answers is
    abandoned after the timeout plus the grace (measured in this process's own thread)."""
    given: dict[str, float] = {}
    release = threading.Event()

    class SilentClient:
        def __init__(self, address: str, timeout: float) -> None:
            given["timeout"] = timeout
            release.wait(30)  # a handshake that never completes

    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="no answer from tcp://10.0.0.1:8786 in 2.25 s"):
        executors._connect(SilentClient, "tcp://10.0.0.1:8786", 0.25)
    waited = time.perf_counter() - started
    release.set()
    assert given["timeout"] == 0.25, "the configured timeout is passed to Dask"
    assert waited >= 2.25 - 0.05, f"gave up after {waited:.2f} s, before the grace ran out"


def test_unreachable_scheduler_fails_clearly_within_timeout(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    error_s, total_s = unreachable(address, tmp_path)
    report_figures("unreachable_scheduler_refused", error_s=round(error_s, 1),
                   command_s=round(total_s, 1))


@contextlib.contextmanager
def fake_scheduler(kind: str) -> Iterator[str]:
    """A local address that is not a working Dask scheduler.

    ``silent``: accepts connections (the kernel's backlog) and never answers.
    ``http``: a web server; its reply is not a Dask frame.
    """
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
                time.sleep(0.5)

    thread = threading.Thread(target=answer, daemon=True)
    if kind == "http":
        thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        if kind == "http":
            thread.join(timeout=5)
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silent", "http"])
def test_scheduler_that_is_not_dask_fails_clearly_within_timeout(tmp_path: Path,
                                                                 kind: str) -> None:
    """A port that accepts but never answers, or a web server: the same clear error."""
    with fake_scheduler(kind) as address:
        error_s, total_s = unreachable(address, tmp_path)
    report_figures(f"unreachable_scheduler_{kind}", error_s=round(error_s, 1),
                   command_s=round(total_s, 1))
