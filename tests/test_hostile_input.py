"""Hostile input, round two (issue 18, items 3, 4 and 7-12): one regression test per defect.

Each test states the attack as the issue reproduced it and checks the refusal: a clear
ScenarioError (or argparse error, exit 2) before any file is written or run started,
within seconds, naming what was wrong. docs/reliability.md lists them by defect number.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.analyses.calibration import (
    MARKER,
    RESULTS_ROOT,
    claim_out_dir,
    load_calibration,
    open_study,
)
from sim.analyses.sa_runner import analyze_store, load_sensitivity
from sim.analyses.sweep import load_sweep
from sim.cli.main import main as cli_main
from sim.cli.paths import check_output, write_advice
from sim.engine import budget
from sim.engine.executors import open_executor
from sim.params.errors import ScenarioError
from sim.params.scenario import MAX_EXTENDS_DEPTH, load_scenario, parse_set
from sim.params.yamlio import MAX_DOCUMENT_BYTES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
CALIBRATION = ROOT / "experiments" / "calibration" / "v2.yaml"
SHADOW = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
"""The shape of /etc/shadow: YAML reads each line as a key."""


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``peersupport`` in-process: (exit status, stderr)."""
    try:
        status = cli_main(argv)
    except SystemExit as exc:  # argparse
        status = int(exc.code or 0)
    return status, capsys.readouterr().err


def error_of(call) -> ScenarioError:  # noqa: ANN001 - any callable
    with pytest.raises(ScenarioError) as info:
        call()
    assert "\n" not in str(info.value), str(info.value)
    return info.value


# --------------------------------------------------------------------------- 3 calibration


def calibration_copy(tmp_path: Path, extra: str) -> Path:
    """The shipped calibration file beside copies of its studies, with ``extra`` lines."""
    (tmp_path / "validation").mkdir()
    for study in (ROOT / "experiments" / "validation").glob("*.yaml"):
        (tmp_path / "validation" / study.name).write_text(study.read_text())
    (tmp_path / "validation" / "data").symlink_to(ROOT / "experiments" / "validation" / "data")
    path = tmp_path / "calib" / "c.yaml"
    path.parent.mkdir()
    path.write_text(CALIBRATION.read_text() + extra)
    return path


@pytest.mark.parametrize("extra", ["out: ../../escaped\n", "out: /tmp/escaped\n", "out: ..\n"])
def test_calibration_out_key_cannot_name_a_path(tmp_path: Path, extra: str) -> None:
    err = error_of(lambda: load_calibration(calibration_copy(tmp_path, extra)))
    assert err.path == "out" and "[A-Za-z0-9_]" in str(err), str(err)  # pattern keeps its case


def test_calibration_name_cannot_be_dot_dot(tmp_path: Path) -> None:
    path = calibration_copy(tmp_path, "")
    path.write_text(path.read_text().replace("name: v2", "name: .."))
    assert error_of(lambda: load_calibration(path)).path == "name"


def test_calibration_outputs_default_to_results_not_beside_the_file() -> None:
    cal = load_calibration(CALIBRATION)
    assert cal.out_dir == RESULTS_ROOT / "v2"
    assert load_calibration(CALIBRATION, "elsewhere").out_dir == Path("elsewhere")


def test_calibration_refuses_a_folder_it_did_not_create_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    cal = load_calibration(CALIBRATION, out)
    err = error_of(lambda: claim_out_dir(cal))
    assert "did not create" in str(err) and "--force" in str(err)
    claim_out_dir(cal, force=True)
    assert (out / MARKER).is_file() and (out / "notes.txt").read_text() == "keep me"
    claim_out_dir(cal)  # now it is ours: no force needed


def test_readme_calibrate_command_starts_a_new_study_on_a_fresh_clone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`peersupport calibrate experiments/calibration/v2.yaml` failed with
    "already exists" (the tracked study beside the file); now it writes under results/,
    and --resume leaves the tracked files under experiments/ alone."""
    tracked = {p: p.stat().st_mtime_ns for p in (CALIBRATION.parent / "v2"
                                                  ).iterdir()}
    monkeypatch.chdir(tmp_path)
    cal = load_calibration(CALIBRATION)
    waiting = len(cal.spec.start)  # the file's start points, queued once when it is created
    assert len(open_study(cal, resume=False).trials) == waiting
    assert len(open_study(load_calibration(CALIBRATION), resume=True).trials) == waiting
    assert (tmp_path / RESULTS_ROOT / "v2" / "optuna.sqlite3").is_file()
    assert {p: p.stat().st_mtime_ns for p in tracked} == tracked


# --------------------------------------------------------------------------- 4 file contents


def test_extends_to_a_non_scenario_file_does_not_echo_it(tmp_path: Path) -> None:
    (tmp_path / "shadow").write_text(SHADOW)
    (tmp_path / "s.yaml").write_text(f"extends: {tmp_path / 'shadow'}\n")
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert "not a scenario file" in str(err) and str(tmp_path / "shadow") in str(err)
    assert "daemon" not in str(err) and "19000" not in str(err), str(err)


def test_edge_list_errors_do_not_echo_the_line(tmp_path: Path) -> None:
    (tmp_path / "edges.csv").write_text("0,1\nroot:*:19000,daemon\n")
    (tmp_path / "s.yaml").write_text("network:\n  background: {kind: edge_list, "
                                     "edge_list: edges.csv}\n")
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert err.line == 2 and ":*:" not in str(err) and "daemon" not in str(err), str(err)


def test_nul_byte_in_a_path_is_a_scenario_error(tmp_path: Path) -> None:
    err = error_of(lambda: load_scenario(str(tmp_path / "a\x00b.yaml")))
    assert "NUL byte" in str(err)
    (tmp_path / "s.yaml").write_text('extends: "a\\0b.yaml"\n')
    assert "NUL byte" in str(error_of(lambda: load_scenario(tmp_path / "s.yaml")))


# --------------------------------------------------------------------------- 7 output paths


@pytest.mark.parametrize("case", ["folder", "proc", "below_file", "nul"])
def test_output_path_is_checked_before_anything_runs(tmp_path: Path, case: str) -> None:
    (tmp_path / "afile").write_text("x")
    path = {"folder": tmp_path, "proc": Path("/proc/self/report.html"),
            "below_file": tmp_path / "afile" / "sub" / "r.html",
            "nul": tmp_path / "a\x00b.html"}[case]
    err = error_of(lambda: check_output(path, "--report"))
    assert str(err).startswith("--report "), str(err)


def test_unwritable_output_folder_is_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere: ask as an ordinary user would be told
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked)
    err = error_of(lambda: check_output(locked / "out", "--out", folder=True))
    assert f"cannot write in {locked} (permission denied)" in str(err), str(err)


def test_a_file_given_as_output_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert "is a file, not a folder" in str(error_of(
        lambda: check_output(tmp_path / "afile", "--out", folder=True)))


@pytest.mark.parametrize("argv", [
    ["run", "designs/usual_care", "--out", "{tmp}/afile/sub"],
    ["run", "designs/usual_care", "--out", "{tmp}/afile"],
    ["compare", "designs/usual_care", "designs/hybrid_kickoff", "--report", "{tmp}"],
    ["compare", "designs/usual_care", "designs/hybrid_kickoff", "--report", "/proc/x.html"],
    ["validate", "--report", "/proc/nonexistent/x.html"],
    ["validate", "--report", "{tmp}/afile/x.html"],
    ["sweep", str(SCENARIOS / "sweeps" / "hybrid_lhs.yaml"), "--out", "{tmp}/afile"],
    ["sensitivity", str(SCENARIOS / "sensitivity" / "qol_morris.yaml"), "--out",
     "{tmp}/afile"],
    ["sensitivity", "--analyze", "nowhere", "--out", "{tmp}/afile"],
    ["calibrate", str(CALIBRATION), "--out", "{tmp}/afile"],
])
def test_every_command_checks_its_output_paths_before_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    (tmp_path / "afile").write_text("x")
    started = time.perf_counter()
    status, err = cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert status == 2 and "Traceback" not in err, err
    assert "running on" not in err, "refused only after starting the runs"
    assert "--out" in err or "--report" in err, err
    assert time.perf_counter() - started < 60


def test_write_advice_matches_the_error() -> None:
    assert "disk space" not in write_advice(OSError(errno.EEXIST, "File exists"))
    assert "disk space" not in write_advice(OSError(errno.ENOTDIR, "Not a directory"))
    assert "disk space" in write_advice(OSError(errno.ENOSPC, "No space left on device"))
    assert "permissions" in write_advice(OSError(errno.EACCES, "Permission denied"))


def test_compare_keeps_its_temporary_runs_when_the_report_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.report.compare_report as compare_report

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compare_report, "write_report", full_disk)
    files = []
    for name in ("usual_care", "hybrid_kickoff"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"extends: {SCENARIOS / 'designs' / name}.yaml\n"
                        "population: {size: 30}\nrun: {days: 20}\n")
        files.append(str(path))
    status, err = cli(["compare", *files, "--replications", "2", "--executor", "serial",
                       "--no-progress", "--report", str(tmp_path / "r.html")], capsys)
    assert status == 1 and "free disk space" in err, err
    kept = Path(err.rsplit("the runs are kept in ", 1)[1].strip())
    try:
        assert (kept / "manifest.json").is_file(), err
    finally:
        import shutil

        shutil.rmtree(kept.parent)


# --------------------------------------------------------------------------- 8 budgets

SWEEP = f"""\
name: big
base: {SCENARIOS}/base.yaml
uncertain:
  behaviour.support_effect_logit: {{low: 1.0, high: 3.0, levels: LEVELS}}
  behaviour.norm_effect_logit: {{low: 0.1, high: 0.7, levels: LEVELS}}
  behaviour.engagement_resting: {{low: 0.1, high: 0.5, levels: LEVELS}}
design: {{method: grid}}
replications: REPS
seed: 1
"""


@pytest.mark.parametrize("levels,reps,runs", [(10_000, 10_000, "10,000,000,000,000,000"),
                                              (10_000, 1, "1,000,000,000,000")])
def test_huge_grid_sweep_is_refused_before_building_it(tmp_path: Path, levels: int,
                                                       reps: int, runs: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.replace("LEVELS", str(levels)).replace("REPS", str(reps)))
    started = time.perf_counter()
    err = error_of(lambda: load_sweep(path))
    assert f"{runs} runs is over the limit of 1,000,000" in str(err) and "--max-runs" in str(err)
    assert time.perf_counter() - started < 5


def test_max_runs_override_lets_a_large_sweep_through(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.replace("LEVELS", "2").replace("REPS", "3"))  # 24 runs
    with pytest.raises(ScenarioError, match="24 runs is over the limit of 10"):
        load_sweep(path, max_runs=10)
    assert load_sweep(path, max_runs=24).n_runs == 24


@pytest.mark.parametrize("design", ["{method: lhs, n: 10000000}",
                                    "{method: sobol, n: 8388608}"])
def test_huge_sampled_design_is_refused_before_sampling(tmp_path: Path, design: str) -> None:
    text = SWEEP.replace(", levels: LEVELS", "").replace("{method: grid}", design)
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("REPS", "1"))
    started = time.perf_counter()
    assert "over the limit" in str(error_of(lambda: load_sweep(path)))
    assert time.perf_counter() - started < 5


def test_huge_sobol_sensitivity_is_refused_before_sampling(tmp_path: Path) -> None:
    path = tmp_path / "sa.yaml"
    path.write_text(f"""\
name: big
base: {SCENARIOS}/base.yaml
inputs:
  behaviour.support_effect_logit: {{low: 1.0, high: 3.0}}
  behaviour.norm_effect_logit: {{low: 0.1, high: 0.7}}
method: sobol
settings: {{n: 8388608}}
replications: 2
seed: 1
""")
    started = time.perf_counter()
    err = error_of(lambda: load_sensitivity(path))
    assert "67,108,864 runs is over the limit" in str(err), str(err)
    assert time.perf_counter() - started < 5


def test_network_over_int32_indices_is_refused_at_load() -> None:
    err = error_of(lambda: load_scenario(
        {"population": {"size": 20_000_000},
         "network": {"group_size": 200, "background": {"mean_degree": 200}}}))
    assert "7,980,000,000 ties" in str(err) and "2,147,483,647" in str(err), str(err)


def test_memory_estimate_is_checked_against_the_machine(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(budget, "available_memory", lambda: 2 * 2**30)
    big = load_scenario({"population": {"size": 5_000_000}})
    err = error_of(lambda: budget.check_memory(big, "run", concurrent=2))
    assert "2.0 GiB is available" in str(err) and "--force" in str(err), str(err)
    budget.check_memory(big, "run", concurrent=2, force=True)
    budget.check_memory(load_scenario({"population": {"size": 2000}}), "run")


def test_run_command_refuses_a_run_bigger_than_memory(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "available_memory", lambda: 2**30)
    status, err = cli(["run", "designs/usual_care", "--set", "population.size=20000000"],
                      capsys)
    assert status == 2 and "GiB is available" in err, err


@pytest.mark.parametrize("argv,expected", [
    (["validate", "--replications", "1000000000"], "--replications: must be between 1 and"),
    (["sensitivity", "--analyze", "nowhere", "--num-resamples", "0"],
     "--num-resamples: must be >= 2, got 0"),
    (["sweep", "x.yaml", "--workers", "100000"], "--workers: must be between 1 and"),
    (["sweep", "x.yaml", "--chunk-size", "-5"], "--chunk-size: must be >= 1, got -5"),
    (["calibrate", "x.yaml", "--workers", "0"], "--workers: must be between 1 and"),
    (["run", "x.yaml", "--seed", "-1"], "--seed: must be between 0 and"),
    (["compare", "a.yaml", "--seed", "-1"], "--seed: must be between 0 and"),
])
def test_option_bounds_are_clear_errors(capsys: pytest.CaptureFixture[str], argv: list[str],
                                        expected: str) -> None:
    status, err = cli(argv, capsys)
    assert status == 2 and expected in err and "Traceback" not in err, err


def test_huge_resample_count_is_refused_before_loading() -> None:
    err = error_of(lambda: analyze_store("nowhere", num_resamples=10**9))
    assert "between 2 and 100,000" in str(err)
    assert "between 2 and" in str(error_of(lambda: analyze_store("nowhere", num_resamples=0)))


def test_executor_refuses_more_workers_than_four_per_core() -> None:
    with pytest.raises(ScenarioError, match="per core"):
        with open_executor("local", 100_000):
            pass


# --------------------------------------------------------------------------- 10 --set, chains


def test_set_billion_laughs_is_refused_fast() -> None:
    levels = ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    started = time.perf_counter()
    err = error_of(lambda: parse_set(["population.size=[" + ", ".join(levels) + "]"]))
    assert "too large" in str(err) and str(err).startswith("--set population.size")
    assert time.perf_counter() - started < 2


def test_set_deep_nesting_is_a_scenario_error() -> None:
    try:
        values = parse_set(["population.size=" + "[" * 30_000])
    except ScenarioError as exc:
        assert "--set population.size" in str(exc)
    else:  # unclosed brackets are not YAML: kept as text, refused by the schema
        err = error_of(lambda: load_scenario(SCENARIOS / "base.yaml", values))
        assert str(err).startswith("--set population.size=[[["), str(err)


def test_set_errors_name_the_option_not_the_file() -> None:
    err = error_of(lambda: load_scenario(SCENARIOS / "base.yaml",
                                         parse_set(["popluation.size=100"])))
    assert str(err).startswith("--set popluation.size=100: unknown key 'popluation'; did you "
                               "mean 'population'?"), str(err)


def test_size_limit_holds_for_the_whole_extends_chain(tmp_path: Path) -> None:
    """One 1.46 MB file hard-linked 60 deep took 204 s and 2.46 GB before refusal."""
    body = "extends: sub/s.yaml\nname: big\n" + ("#" + "y" * 99 + "\n") * 14_600
    folder = tmp_path
    (folder / "s.yaml").write_text(body)
    for _ in range(60):
        (folder / "sub").mkdir()
        os.link(tmp_path / "s.yaml", folder / "sub" / "s.yaml")
        folder = folder / "sub"
    started = time.perf_counter()
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert f"over {MAX_DOCUMENT_BYTES:,} bytes in total" in str(err), str(err)
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------- 11 files


def test_extends_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "s.yaml").write_text("extends: a\n")
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert "'extends' names a symlink loop" in str(err) and err.line == 1


def test_edge_list_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "s.yaml").write_text("network:\n  background: {kind: edge_list, "
                                     "edge_list: a}\n")
    assert "edge list file is a symlink loop" in str(
        error_of(lambda: load_scenario(tmp_path / "s.yaml")))


@pytest.mark.parametrize("kind,expected", [("fifo", "a FIFO (named pipe), not a regular file"),
                                           ("dir", "a directory, not a regular file")])
def test_extends_to_a_fifo_or_folder_says_what_it_is(tmp_path: Path, kind: str,
                                                     expected: str) -> None:
    target = tmp_path / "t"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    (tmp_path / "s.yaml").write_text("extends: t\n")
    assert f"'extends' names {expected}" in str(error_of(
        lambda: load_scenario(tmp_path / "s.yaml")))


def test_check_on_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "check", "pipe.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "is a FIFO (named pipe)" in proc.stderr, proc.stderr


def test_deep_extends_chain_is_reported_as_such(tmp_path: Path) -> None:
    for i in range(500):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n" if i < 499
                                             else "name: end\n")
    err = error_of(lambda: load_scenario(tmp_path / "c0.yaml"))
    assert f"extends chain too deep (over {MAX_EXTENDS_DEPTH} files)" in str(err)
    assert "c0.yaml -> " in str(err) and "aliases" not in str(err), str(err)
    (tmp_path / f"c{MAX_EXTENDS_DEPTH - 1}.yaml").write_text("name: end\n")  # 20 files
    assert load_scenario(tmp_path / "c0.yaml").name == "end"  # the limit itself is allowed


# --------------------------------------------------------------------------- 12 coercion


@pytest.mark.parametrize("text", ["population:\n  size: true\n", "run:\n  days: false\n",
                                  "population:\n  female_share: true\n"])
def test_booleans_are_not_numbers(tmp_path: Path, text: str) -> None:
    (tmp_path / "s.yaml").write_text(text)
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert "expected a number, got the boolean" in str(err) and err.line == 2


def test_whole_float_days_read_as_integers_and_fractions_refused(tmp_path: Path) -> None:
    """Documented in docs/reliability.md: 1.0 is the integer 1; 1.5 is an error."""
    assert load_scenario({"run": {"days": 1.0}}).run.days == 1
    assert "run.days" in str(error_of(lambda: load_scenario({"run": {"days": 1.5}})))


def test_edge_list_weight_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / "edges.csv").write_text("source,target,weight\n0,1,0.5\n")
    (tmp_path / "s.yaml").write_text("network:\n  background: {kind: edge_list, "
                                     "edge_list: edges.csv}\n")
    err = error_of(lambda: load_scenario(tmp_path / "s.yaml"))
    assert "expected two columns (source,target), got 3" in str(err) and err.line == 2
