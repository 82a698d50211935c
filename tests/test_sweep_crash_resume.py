"""Crash safety of sweeps: SIGKILL at random points (also in the middle of
a part-file write) then resume, corrupt parts, a full disk, an unwritable output directory.

Every kill is checked the same way: what the killed sweep recorded is a subset of the runs of
an uninterrupted sweep, identical bit for bit; after the final ``--resume`` the store holds
every run exactly once (also in the raw part files) and equals the uninterrupted sweep.

Figures go to the JSON-lines file named by ``PEERSUPPORT_FAULT_REPORT`` when it is set
(docs/reliability.md, section 3).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sim.engine.store as store_module
from sim.analyses.sweep import run_sweep
from sim.cli import main as cli
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, load_results
from tests.conftest import sweep_yaml, write_sweep
from tests.test_sweep import assert_same_runs
from tests.test_sweep_executors import no_orphans

N_RUNS = 80
SWEEP = sweep_yaml("crashsafe", size=60, days=15, n=10, replications=4, seed=7,
                   timeseries_every_days=5)
"""2 designs x 10 points x 4 replications = 80 runs of 60 patients x 15 days."""

DRIVER = """\
# `peersupport` with two fault-injection hooks, set by environment variables:
#   CS_RUN_DELAY=S     every run first sleeps S seconds (so a kill lands mid-way)
#   CS_HANG_ON_PART=K  the K-th runs part this process writes stops half-written in its
#                      temporary file, whose path then goes into the file CS_HANG_MARK
#                      (the test waits for it, then kills the process there)
import io, os, sys, time

delay = float(os.environ.get("CS_RUN_DELAY", "0"))
if delay:
    import sim.runner
    _run = sim.runner.run
    def run(*args, **kwargs):
        time.sleep(delay)
        return _run(*args, **kwargs)
    sim.runner.run = run

hang = int(os.environ.get("CS_HANG_ON_PART", "0"))
if hang:
    from sim.engine import store
    _atomic_write = store._atomic_write
    written = [0]
    mark = os.environ["CS_HANG_MARK"]
    def atomic_write(path, write, **kwargs):
        if path.parent.name == "runs" and path.name.startswith("part-"):
            written[0] += 1
            if written[0] == hang:
                buffer = io.BytesIO()
                write(buffer)
                data = buffer.getvalue()
                def half(handle):
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    with open(mark + ".tmp", "w") as note:
                        note.write(handle.name)
                    os.replace(mark + ".tmp", mark)
                    time.sleep(600)
                return _atomic_write(path, half, **kwargs)
        return _atomic_write(path, write, **kwargs)
    store._atomic_write = atomic_write

if __name__ == "__main__":  # worker processes (forkserver) import this file too
    from sim.cli.main import main
    sys.exit(main(sys.argv[1:]))
"""


def report_figures(name: str, **figures: object) -> None:
    """Append the figures of a test to ``$PEERSUPPORT_FAULT_REPORT`` (JSON lines)."""
    target = os.environ.get("PEERSUPPORT_FAULT_REPORT")
    if target:
        with open(target, "a") as handle:
            handle.write(json.dumps({"test": name, **figures}) + "\n")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, store_module.Results]:
    """The sweep file and the results of an uninterrupted serial sweep."""
    folder = tmp_path_factory.mktemp("crash_reference")
    path = write_sweep(folder, SWEEP)
    run_sweep(path, folder / "ref", RunOptions(executor="serial"))
    ref = load_results(folder / "ref")
    assert len(ref.runs) == N_RUNS and (ref.runs["status"] == "ok").all()
    return path, ref


def raw_runs(out: Path) -> pd.DataFrame:
    """Every row of every runs part, as written (no deduplication)."""
    parts = ResultsStore(out).parts()
    if not parts:
        return pd.DataFrame({"run_id": []})
    return pd.concat([pd.read_parquet(p) for _, p in parts], ignore_index=True)


def assert_subset_of(out: Path, ref: store_module.Results) -> int:
    """The runs recorded in ``out`` equal the reference's rows for them; their number."""
    raw = raw_runs(out)
    assert raw["run_id"].is_unique, "a run was recorded twice"
    got = load_results(out).runs.drop(columns="wall_time_s")
    want = ref.runs[ref.runs["run_id"].isin(got["run_id"])].drop(columns="wall_time_s")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_exact=True)
    return len(got)


def start(driver: Path, sweep: Path, out: Path, *extra: str, token: str,
          **env: str) -> subprocess.Popen:
    """Start the sweep CLI (through the fault-injection driver) in a subprocess."""
    cmd = [sys.executable, str(driver), "sweep", str(sweep), "--out", str(out),
           "--no-progress", "--chunk-size", "1", "--flush-every", "2", *extra]
    return subprocess.Popen(cmd, env={**os.environ, "PEERSUPPORT_TEST_TOKEN": token, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, proc: subprocess.Popen, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, f"sweep ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def kill_chain(tmp_path: Path, sweep: Path, ref: store_module.Results, kills: int,
               seed: int, local_every: int = 4, hang_at: int = 2,
               max_delay_s: float = 0.25) -> dict[str, int]:
    """Start, SIGKILL at a random point and resume, ``kills`` times; then finish.

    Kill ``hang_at`` lands while a runs part is half-written in its temporary file; every
    ``local_every``-th session runs on local worker processes (checked for orphans), the
    others in the sweep's own process.
    """
    rng = random.Random(seed)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "out"
    store = ResultsStore(out)
    token = uuid.uuid4().hex
    done_before, mid_write = 0, 0
    for k in range(kills):
        extra = ["--resume"] if k else []
        local = local_every and k % local_every == local_every - 1
        extra += ["--executor", "local", "--workers", "2"] if local else ["--executor", "serial"]
        env = {"CS_RUN_DELAY": "0.03"}
        mark = tmp_path / f"hang-{k}.txt"
        if k == hang_at:
            env |= {"CS_HANG_ON_PART": str(rng.randint(1, 2)), "CS_HANG_MARK": str(mark)}
        parts_before = len(store.parts())
        proc = start(driver, sweep, out, *extra, token=token, **env)
        if k == hang_at:
            # Wait for this session's own hung write: a temporary part on disk may also be
            # an earlier session's, killed mid-write (complete or not; resume deletes it).
            wait_until(mark.exists, proc, "a half-written part")
        else:
            wait_until(lambda n=parts_before: len(store.parts()) > n, proc, "a new part")
            time.sleep(rng.uniform(0.0, max_delay_s))
        assert proc.poll() is None, f"kill {k} came too late: the sweep had finished"
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if k == hang_at:  # killed inside the write: the temporary file is there, half full
            tmp = Path(mark.read_text())
            assert tmp.parent == store.runs_dir and tmp.name.endswith(f".{proc.pid}.tmp")
            assert tmp.stat().st_size > 0
            part = tmp.name.split(".")[1]  # .part-000007.parquet.<pid>.tmp
            assert not (store.runs_dir / f"{part}.parquet").exists()
            with pytest.raises(pa.ArrowException):
                pq.read_table(tmp)
            mid_write += 1
        if local:
            no_orphans(token)
        done = assert_subset_of(out, ref)
        assert done_before <= done < N_RUNS, f"kill {k}: {done} of {N_RUNS} recorded"
        done_before = done

    proc = start(driver, sweep, out, "--resume", "--executor", "serial", token=token)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert f"{done_before:,} already recorded, skipped" in stdout, stdout
    raw = raw_runs(out)
    assert len(raw) == N_RUNS and raw["run_id"].is_unique, "every run exactly once, even raw"
    results = load_results(out)
    assert_same_runs(results, ref)
    pd.testing.assert_frame_equal(results.timeseries, ref.timeseries, check_exact=True)
    assert not list(out.rglob("*.tmp")), "no temporary file left behind"
    assert len(results.manifest["sessions"]) == kills + 1
    return {"kills": kills, "mid_write_kills": mid_write, "runs": N_RUNS,
            "runs_lost": N_RUNS - len(results.runs), "runs_duplicated": len(raw) - N_RUNS}


def test_sigkill_at_random_points_then_resume(tmp_path: Path, reference) -> None:
    sweep, ref = reference
    figures = kill_chain(tmp_path, sweep, ref, kills=8, seed=1)
    assert figures["runs_lost"] == 0 and figures["runs_duplicated"] == 0
    report_figures("sigkill_random", **figures)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_sigkill_at_random_points_then_resume_long(tmp_path: Path, reference, seed) -> None:
    sweep, ref = reference
    figures = kill_chain(tmp_path, sweep, ref, kills=12, seed=seed, local_every=3,
                         hang_at=seed % 5 + 1, max_delay_s=0.15)
    assert figures["runs_lost"] == 0 and figures["runs_duplicated"] == 0
    report_figures(f"sigkill_random_long_{seed}", **figures)


# --------------------------------------------------------------------------- corrupt parts


@pytest.mark.parametrize("damage", ["junk runs part", "empty runs part",
                                    "junk time-series part", "runs part cut after its header"])
def test_corrupt_part_is_reported_and_redone(tmp_path: Path, reference, damage: str) -> None:
    sweep, ref = reference
    out = tmp_path / "out"
    run_sweep(sweep, out, RunOptions(executor="serial", flush_every=7))
    store = ResultsStore(out)
    _, victim = store.parts()[2]
    lost = set(pq.read_table(victim, columns=["run_id"]).column("run_id").to_pylist())
    if damage == "junk runs part":
        victim.write_bytes(random.Random(0).randbytes(victim.stat().st_size))
    elif damage == "empty runs part":
        victim.write_bytes(b"")
    elif damage == "junk time-series part":
        (store.ts_dir / victim.name).write_bytes(b"PAR1" + b"\x00junk" * 100)
    else:
        victim.write_bytes(victim.read_bytes()[:64])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        partial = load_results(out)
        if damage == "junk time-series part":
            partial.timeseries  # noqa: B018 (the runs part is fine; its time series is not)
    if damage != "junk time-series part":
        assert set(partial.runs["run_id"]) == set(ref.runs["run_id"]) - lost
    with pytest.warns(RuntimeWarning, match="moved it to"):
        report = run_sweep(sweep, out, RunOptions(executor="serial", resume=True))
    assert report.ran == len(lost), report.describe()
    assert (out / "corrupt" / f"runs-{victim.name}").exists(), "the damaged part is kept aside"
    results = load_results(out)
    assert_same_runs(results, ref)
    pd.testing.assert_frame_equal(results.timeseries, ref.timeseries, check_exact=True)
    assert raw_runs(out)["run_id"].is_unique


# --------------------------------------------------------------------------- unwritable output


def cli_run(capsys, *args: str) -> tuple[int, str]:
    """Run ``peersupport`` in this process; (exit status, stderr)."""
    code = cli.main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_write_failure_mid_sweep_is_clear_and_keeps_parts(tmp_path: Path, reference, capsys,
                                                          monkeypatch, err: int) -> None:
    """A disk that fills up (or turns read-only) after 3 parts: the 4th write fails half-way."""
    sweep, ref = reference
    out = tmp_path / "out"
    real_write, calls = pq.write_table, []

    def failing_write(table, where, *args, **kwargs):
        calls.append(1)
        if len(calls) > 6:  # 3 parts of runs + time series, then the disk is full
            where.write(b"PAR1" + b"\x00" * 100)  # some bytes get out first
            raise OSError(err, os.strerror(err))
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(store_module.pq, "write_table", failing_write)
    code, stderr = cli_run(capsys, "sweep", str(sweep), "--out", str(out), "--executor",
                           "serial", "--no-progress", "--flush-every", "5")
    monkeypatch.undo()
    assert code == 2, stderr
    (message,) = [line for line in stderr.splitlines() if "error" in line]
    assert "Traceback" not in stderr
    assert f"cannot write the results to {out}" in message and os.strerror(err) in message
    assert "3 results parts written before are kept" in message and "--resume" in message
    kept = assert_subset_of(out, ref)
    assert len(ResultsStore(out).parts()) == 3 and 15 <= kept < N_RUNS
    assert not list(out.rglob("*.tmp")), "the failed write leaves no temporary file"

    code, stderr = cli_run(capsys, "sweep", str(sweep), "--out", str(out), "--executor",
                           "serial", "--no-progress", "--resume")
    assert code == 0, stderr
    assert_same_runs(load_results(out), ref)
    report_figures(f"write_failure_{errno.errorcode[err]}", parts_kept=3, runs_kept=kept,
                   runs_lost=0)


def test_unwritable_output_directory_is_a_clear_error(tmp_path: Path, reference,
                                                      capsys) -> None:
    sweep, _ = reference
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    # A file where a directory should be (chmod does not stop root), and /proc: refused
    # before any run by the output-path check (sim.cli.paths).
    for out, reason in ((blocker / "results", f"{blocker} is a file, so nothing can be "
                         "created below it"),
                        (Path("/proc/peersupport-results"), "is inside a system folder")):
        code, stderr = cli_run(capsys, "sweep", str(sweep), "--out", str(out), "--executor",
                               "serial", "--no-progress")
        assert code == 2, stderr
        assert "Traceback" not in stderr and "running on" not in stderr
        assert f"error: --out {out}: " in stderr and reason in stderr, stderr
        assert not out.exists()
    assert blocker.read_text() == "not a directory\n"

    # The same through the real command line: exit 2, one error line, no traceback.
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "sweep", str(sweep), "--out",
                           str(blocker / "results"), "--executor", "serial", "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"peersupport sweep: error: --out {blocker / 'results'}: ")
