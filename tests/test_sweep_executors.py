"""Sweeps on every executor: identical results, crash + resume, interrupts, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.analyses.sweep import run_sweep
from sim.engine.executors import open_executor
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, load_results
from sim.params.errors import ScenarioError
from tests.conftest import ROOT, sweep_yaml, write_sweep
from tests.test_sweep import TINY, assert_same_runs

CRASH = sweep_yaml("crash", size=300, days=90, n=4, replications=5, seed=99,
                   designs=("usual_care", "hybrid_kickoff", "hybrid_monthly"),
                   timeseries_every_days=30)
"""3 designs x 4 points x 5 replications = 60 runs, slow enough to be killed mid-way."""


def test_identical_on_serial_local_and_dask(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, TINY)
    runs = {}
    for executor in ("serial", "local", "dask"):
        report = run_sweep(path, tmp_path / executor, RunOptions(executor=executor, workers=2))
        assert report.ran == 12 and report.failed == 0, f"{executor}: {report.describe()}"
        runs[executor] = load_results(tmp_path / executor)
    for executor in ("local", "dask"):
        assert_same_runs(runs[executor], runs["serial"])
        pd.testing.assert_frame_equal(runs[executor].timeseries, runs["serial"].timeseries,
                                      check_exact=True)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with open_executor("dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=1):
            pass
    with pytest.raises(ScenarioError, match="executor must be one of"):
        with open_executor("threads"):
            pass


UNGUARDED_SCRIPT = """
from sim.engine.tasks import RunOptions, Task, run_tasks
tasks = [Task(i, {scenario!r}, seed=i, overrides={{"population.size": 50, "run.days": 5}})
         for i in range(400)]
run_tasks(tasks, {out!r}, RunOptions(executor="local", workers=2))
"""


def test_a_script_without_a_main_guard_stops_at_once_with_the_fix(tmp_path: Path) -> None:
    """Each worker imports the script and dies starting its own sweep: before, every run was
    retried alone up to ``MAX_CRASHES`` times (a 2,400-run sweep ran for over 10 minutes to
    record every run failed); now the first broken pool without a started worker stops it."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT.format(
        scenario=str(ROOT / "scenarios/designs/hybrid_kickoff.yaml"), out=str(tmp_path / "out")))
    token = uuid.uuid4().hex
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path,
                          env={**os.environ, "PEERSUPPORT_TEST_TOKEN": token})
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sim.engine.executors.WorkersCannotStart: the worker processes "
                           "exit as they start"), last
    assert 'if __name__ == "__main__":' in last
    no_orphans(token)


CLI_WITH_CTRL_C = ("import runpy, signal; "
                   "signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('sim.cli.main', run_name='__main__', alter_sys=True)")
"""``python -m sim.cli.main`` that takes Ctrl-C even when started with SIGINT ignored (as
Python leaves it when inherited: tests run from a background job, a CI runner's)."""


def sweep_cli(path: Path, out: Path, *extra: str, token: str) -> subprocess.Popen:
    """Start ``peersupport sweep`` in a subprocess tagged with ``token`` (in its env)."""
    cmd = [sys.executable, "-c", CLI_WITH_CTRL_C, "sweep", str(path), "--out", str(out),
           "--workers", "2", "--no-progress", *extra]
    env = {**os.environ, "PEERSUPPORT_TEST_TOKEN": token}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def tagged(token: str) -> list[psutil.Process]:
    """Live processes started with ``token`` in their environment."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("PEERSUPPORT_TEST_TOKEN") == token and proc.status() != (
                psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_for_parts(out: Path, proc: subprocess.Popen, n: int, timeout_s: float = 120) -> None:
    """Wait until ``out`` has ``n`` runs parts (the sweep has really started writing)."""
    deadline = time.monotonic() + timeout_s
    while len(ResultsStore(out).parts()) < n:
        assert proc.poll() is None, f"sweep ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no results part appeared in time"
        time.sleep(0.02)


def no_orphans(token: str, timeout_s: float = 15) -> None:
    """Worker processes exit by themselves once their sweep's main process is gone."""
    deadline = time.monotonic() + timeout_s
    while tagged(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p.cmdline()[:3] for p in tagged(token)]
    assert not left, f"worker processes outlived the killed sweep: {left}"


def test_sigkill_then_resume_gives_every_run_once(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, CRASH)
    ref, out = tmp_path / "reference", tmp_path / "killed"
    run_sweep(path, ref, RunOptions(executor="serial"))
    token = uuid.uuid4().hex
    proc = sweep_cli(path, out, "--chunk-size", "1", "--flush-every", "2", token=token)
    wait_for_parts(out, proc, 1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    done = len(load_results(out).runs)
    assert 0 < done < 60, f"the kill should land mid-way, {done} of 60 runs were recorded"
    no_orphans(token)

    resumed = sweep_cli(path, out, "--resume", token=token)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"{done:,} already recorded, skipped" in stdout, stdout
    results = load_results(out)
    raw = pd.concat(pd.read_parquet(p) for _, p in ResultsStore(out).parts())
    assert raw["run_id"].is_unique and len(raw) == 60, "every run exactly once, even raw"
    assert_same_runs(results, load_results(ref))
    pd.testing.assert_frame_equal(results.timeseries, load_results(ref).timeseries,
                                  check_exact=True)
    assert len(results.manifest["sessions"]) == 2


@pytest.mark.slow
def test_sigint_stops_workers_and_exits_130(tmp_path: Path) -> None:
    # 60,000 runs: far more than finish while the test reads the first parts and signals
    # (at 600, and at 6,000 once runs took 1-2 ms, a fast sweep finished first under a
    # loaded CI: exit 0)
    path = write_sweep(tmp_path, CRASH.replace("replications: 5", "replications: 5000"))
    out = tmp_path / "out"
    token = uuid.uuid4().hex
    proc = sweep_cli(path, out, "--chunk-size", "1", "--flush-every", "2", token=token)
    wait_for_parts(out, proc, 2)
    recorded = len(load_results(out).runs)  # what was saved before the signal is kept
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "continue with --resume" in stderr, stderr
    # Python's resource tracker may report (and then clean up) a queue semaphore of a worker
    # terminated while it held it; that notice is not an error of ours.
    ours = "\n".join(line for line in stderr.splitlines()
                     if "resource_tracker" not in line and "warnings.warn(" not in line)
    assert "Traceback" not in ours and "leaked" not in ours, f"workers stop cleanly: {ours}"
    no_orphans(token)
    saved = len(load_results(out).runs)
    assert 0 < recorded <= saved < 6000, f"{saved} runs saved of 6,000 ({recorded} before)"


def test_interrupt_saves_buffered_runs(tmp_path: Path, monkeypatch) -> None:
    import sim.runner

    original, calls = sim.runner.run, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sim.runner, "run", interrupted)
    path = write_sweep(tmp_path, TINY)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, tmp_path / "out", RunOptions(executor="serial", flush_every=1000))
    assert len(load_results(tmp_path / "out").runs) == 4, "runs finished before Ctrl-C are kept"
