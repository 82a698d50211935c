"""Sensitivity analyses of the ABM: sensitivity files, ``peersupport sensitivity``, stores.

The analysis machinery has its own known-answer tests (tests/test_sensitivity.py); these test
the integration: file validation, runs through the sweep engine, re-analysis of a store,
reproducibility, given-data methods on a sweep store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analyses import sa_runner
from sim.analyses.sa_runner import analyze_store, load_sensitivity
from sim.analyses.sweep import run_sweep
from sim.cli import main as cli
from sim.core.outcomes import summary_keys
from sim.core.rng import derive_seed
from sim.engine.options import RunOptions
from sim.engine.store import load_results
from sim.params.errors import ScenarioError
from tests.conftest import SCENARIOS, sweep_yaml

TINY_SOBOL = f"""\
name: tiny_sobol
base: {SCENARIOS}/designs/hybrid_kickoff.yaml
set:
  population.size: 100
  run.days: 40
inputs:
  behaviour.support_effect_logit: {{low: 0.5, high: 3.0}}
  clinical.utility_per_support: {{low: 0.0, high: 0.05}}
  clinical.utility_per_knowledge: {{low: 0.0, high: 0.1}}
method: sobol
settings: {{n: 8}}
outputs:
  primary: utility_change
  also: [qalys_per_patient]
replications: 2
seed: 5
analysis: {{num_resamples: 100}}
"""
"""N = 8 x (3 + 2) = 40 points x 2 replications = 80 runs of 100 patients x 40 days."""

TINY_MORRIS = f"""\
name: tiny_morris
base: {SCENARIOS}/designs/hybrid_kickoff.yaml
set: {{population.size: 100, run.days: 40}}
inputs:
  behaviour.support_effect_logit: {{low: 0.5, high: 3.0, group: patient behaviour}}
  behaviour.engagement_decay_days: {{low: 20, high: 60, group: patient behaviour}}
  program.im.posts_per_week: {{low: 1.0, high: 3.0, group: program design}}
  network.group_size: {{low: 8, high: 15, group: program design}}
method: morris
settings: {{n: 4, num_levels: 4}}
outputs: {{primary: utility_change, also: []}}
replications: 2
seed: 9
analysis: {{num_resamples: 100}}
"""
"""4 trajectories x (2 groups + 1) = 12 points x 2 replications = 24 runs."""


def write(folder: Path, text: str, name: str = "sa.yaml") -> Path:
    """Write a sensitivity file and return its path."""
    path = folder / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> ScenarioError:
    """The ScenarioError that loading ``text`` as a sensitivity file raises."""
    with pytest.raises(ScenarioError) as info:
        load_sensitivity(write(tmp_path, text))
    return info.value


def run_cli(*argv: str | Path) -> int:
    """``peersupport sensitivity ...`` in this process; the exit status."""
    return cli.main(["sensitivity", *map(str, argv)])


@pytest.fixture(scope="module")
def sobol_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Sobol' analysis, run once through the CLI (serial executor)."""
    folder = tmp_path_factory.mktemp("sobol")
    out = folder / "store"
    status = run_cli(write(folder, TINY_SOBOL), "--out", out, "--executor", "serial",
                     "--no-progress")
    assert status == 0, f"the tiny Sobol' analysis should succeed, exit status {status}"
    return out


# --------------------------------------------------------------------------- validation


def test_ready_files_validate_and_fit_their_purpose() -> None:
    morris = load_sensitivity(SCENARIOS / "sensitivity" / "qol_morris.yaml")
    sobol = load_sensitivity(SCENARIOS / "sensitivity" / "qol_sobol.yaml")
    assert morris.spec.method == "morris" and len(morris.inputs) >= 15, \
        "the screening file should screen 15 or more inputs"
    assert sobol.spec.method == "sobol" and 8 <= len(sobol.inputs) <= 10, \
        "the Sobol' file should quantify the 8-10 inputs that matter"
    levers = load_sensitivity(SCENARIOS / "sensitivity" / "qol_levers.yaml")
    for plan in (morris, sobol, levers):
        assert plan.outputs[0] == "qalys_per_patient", "QALYs are the primary output"
        assert {"utility_auc", "utility_change"} <= set(plan.outputs), "and QoL"
        assert plan.base["program"]["name"] == "hybrid_kickoff", "all analyse the hybrid design"
        assert plan.comparator["program"]["name"] == "usual_care", "on differences from it"
        assert plan.spec.replications >= 2, "a stochastic model needs replications for noise"
    assert {i.name for i in levers.inputs} == {
        "program.im.posts_per_week", "program.im.leader_posts_per_week",
        "program.im.moderator_posts_per_week", "network.group_size",
        "program.in_person.end_day", "program.im.end_day"}, "the programme levers"
    screened = {i.name for i in morris.inputs}
    assert {i.name for i in sobol.inputs} <= screened, \
        "the Sobol' inputs should be among those screened by Morris"


@pytest.mark.parametrize(
    ("old", "new", "expected", "path"),
    [
        ("replications: 2", "replicatons: 2", "did you mean 'replications'", "replicatons"),
        ("clinical.utility_per_support:", "clinical.utility_per_suport:",
         "did you mean 'clinical.utility_per_support'", "inputs.clinical.utility_per_suport"),
        ("{low: 0.0, high: 0.05}", "{low: -0.1, high: 0.05}",
         "low -0.1 is outside the parameter's valid range: clinical.utility_per_support must "
         "be >= 0", "inputs.clinical.utility_per_support.low"),
        ("{low: 0.0, high: 0.05}", "{low: 0.05, high: 0.01}", "low must be < high",
         "inputs.clinical.utility_per_support.low"),
        ("{n: 8}", "{n: 10}", "power of two", "settings.n"),
        ("{n: 8}", "{n: 8, num_levels: 4}", "not used by sobol (only by morris)",
         "settings.num_levels"),
        ("primary: utility_change", "primary: utility_chnge", "did you mean 'utility_change'",
         "outputs.primary"),
        ("  run.days: 40", "  run.days: 40\n  clinical.utility_per_support: 0.01",
         "both fixed (set) and uncertain", "inputs.clinical.utility_per_support"),
        ("clinical.utility_per_support:", "behaviour.contagion:", "is not a number",
         "inputs.behaviour.contagion"),
        ("method: sobol", "method: delta\ngroups: 1", "unknown key 'groups'", "groups"),
    ],
)
def test_file_errors_name_line_path_and_fix(tmp_path: Path, old: str, new: str, expected: str,
                                            path: str) -> None:
    assert old in TINY_SOBOL, f"test setup: {old!r} is not in the tiny file"
    err = load_error(tmp_path, TINY_SOBOL.replace(old, new, 1))
    assert expected in str(err), f"expected {expected!r} in: {err}"
    assert err.path == path, f"error should point at {path}, got {err.path}: {err}"
    assert err.file and err.file.endswith("sa.yaml") and err.line, \
        f"error should name the file and line: {err}"


def test_groups_with_a_method_without_groups_are_refused(tmp_path: Path) -> None:
    text = TINY_MORRIS.replace("method: morris", "method: delta").replace(
        "{n: 4, num_levels: 4}", "{n: 100}")
    err = load_error(tmp_path, text)
    assert "delta does not support groups" in str(err) and err.path.endswith(".group"), str(err)


def test_given_data_method_in_a_file_samples_a_latin_hypercube(tmp_path: Path) -> None:
    text = TINY_SOBOL.replace("method: sobol", "method: pawn").replace(
        "{n: 8}", "{n: 120, slices: 8}")
    plan = load_sensitivity(write(tmp_path, text))
    assert len(plan.X) == 120 and plan.X.attrs["sampler"] == "lhs", \
        "delta and PAWN run on a Latin hypercube of n points"
    assert plan.options() == {"S": 8}, "slices is PAWN's S"


def test_cli_needs_a_file_or_analyze(tmp_path: Path, capsys) -> None:
    assert run_cli() == 2 and "give a sensitivity file" in capsys.readouterr().err
    status = run_cli(write(tmp_path, TINY_SOBOL), "--method", "delta")
    assert status == 2 and "only apply to --analyze" in capsys.readouterr().err


def test_common_random_numbers_share_seeds_across_points(tmp_path: Path) -> None:
    plan = load_sensitivity(write(tmp_path, TINY_SOBOL))
    tasks = plan.tasks()
    assert len(tasks) == 40 * 2, "N(D+2) points x replications"
    by_rep: dict[int, set[int]] = {}
    for task in tasks:
        by_rep.setdefault(task.meta["replication"], set()).add(task.seed)
    assert by_rep == {0: {derive_seed(5, 0)}, 1: {derive_seed(5, 1)}}, \
        "streams: common gives replication r of every point the seed derive_seed(seed, r)"
    independent = load_sensitivity(write(tmp_path, TINY_SOBOL + "streams: independent\n"))
    seeds = {t.seed for t in independent.tasks()}
    assert len(seeds) == len(tasks), "streams: independent gives every run its own seed"


# --------------------------------------------------------------------------- end to end


def test_sobol_end_to_end_writes_the_report(sobol_store: Path) -> None:
    for name in ("indices.csv", "indices.parquet", "noise.csv", "convergence.csv",
                 "summary.md", "summary.html", "figures/indices.png",
                 "figures/convergence.png", "manifest.json"):
        assert (sobol_store / name).is_file(), f"the report should include {name}"
    idx = pd.read_parquet(sobol_store / "indices.parquet")
    assert set(idx["index"]) == {"S1", "ST"}, "Sobol' without second order: S1 and ST"
    assert set(idx["output"]) == {"utility_change", "qalys_per_patient"}
    summary = (sobol_store / "summary.md").read_text()
    assert "## What drives `utility_change`" in summary, "the summary leads with the primary"
    runs = load_results(sobol_store).runs
    assert len(runs) == 80 and (runs["status"] == "ok").all(), "every run recorded and ok"


def test_inert_input_is_flagged_on_common_random_numbers(sobol_store: Path) -> None:
    # hybrid_kickoff has no education, so knowledge never changes: its QoL weight is inert.
    idx = pd.read_parquet(sobol_store / "indices.parquet")
    st = idx[(idx["output"] == "utility_change") & (idx["index"] == "ST")
             & (idx["input"] == "clinical.utility_per_knowledge")].iloc[0]
    assert st["flagged_inert"], f"an input the design never uses should be flagged: {st}"
    assert abs(st["value"]) < 1e-9, \
        f"with common random numbers an inert input's ST is exactly zero, got {st['value']}"


def test_analyze_store_gives_identical_numbers(sobol_store: Path, tmp_path: Path) -> None:
    status = run_cli("--analyze", sobol_store, "--out", tmp_path / "again")
    assert status == 0
    for name in ("indices.csv", "noise.csv", "convergence.csv", "summary.md"):
        original = (sobol_store / name).read_text()
        again = (tmp_path / "again" / name).read_text()
        assert original == again, f"--analyze should reproduce {name} exactly"


def test_seeded_runs_give_identical_indices_on_any_executor(sobol_store: Path,
                                                            tmp_path: Path) -> None:
    # The same file on two worker processes (a different executor, another run order).
    out = tmp_path / "local"
    status = run_cli(write(tmp_path, TINY_SOBOL), "--out", out, "--executor", "local",
                     "--workers", "2", "--no-progress")
    assert status == 0
    first = pd.read_parquet(sobol_store / "indices.parquet")
    second = pd.read_parquet(out / "indices.parquet")
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_resume_skips_recorded_runs_and_refuses_a_changed_file(sobol_store: Path,
                                                               tmp_path: Path,
                                                               capsys) -> None:
    path = write(tmp_path, TINY_SOBOL)
    status = run_cli(path, "--out", sobol_store, "--executor", "serial", "--resume",
                     "--no-progress")
    assert status == 0 and "80 already recorded, skipped" in capsys.readouterr().out
    changed = write(tmp_path, TINY_SOBOL.replace("seed: 5", "seed: 6"))
    status = run_cli(changed, "--out", sobol_store, "--resume", "--no-progress")
    err = capsys.readouterr().err
    assert status == 2 and "changed since it was created" in err and "seed" in err, err


def test_morris_groups_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "morris"
    status = run_cli(write(tmp_path, TINY_MORRIS), "--out", out, "--executor", "serial",
                     "--no-progress")
    assert status == 0
    idx = pd.read_csv(out / "indices.csv")
    assert set(idx["input"]) == {"patient behaviour", "program design"}, \
        "grouped inputs give one index per group"
    assert {"mu_star", "sigma", "mu"} <= set(idx["index"])
    assert (out / "figures" / "morris_mu_star_sigma.png").is_file()


def test_failed_runs_stop_the_analysis(tmp_path: Path, monkeypatch, capsys) -> None:
    from sim.engine import tasks

    real_run = tasks._results.run

    def flaky(scenario, seed, **kwargs):
        if seed == derive_seed(9, 1):  # replication 1 of every point
            raise RuntimeError("simulated crash")
        return real_run(scenario, seed, **kwargs)

    monkeypatch.setattr(tasks._results, "run", flaky)
    out = tmp_path / "store"
    status = run_cli(write(tmp_path, TINY_MORRIS), "--out", out, "--executor", "serial",
                     "--no-progress")
    assert status == 1, "failed runs: exit status 1, no analysis"
    assert not (out / "indices.csv").exists()
    assert "not analysed" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match="failed .*--retry-failed"):
        analyze_store(out)


# --------------------------------------------------------------------------- given data

LHS_SWEEP = sweep_yaml("lhs_tiny", size=60, days=30, n=80, replications=1, seed=3,
                       designs=("hybrid_kickoff", "usual_care"),
                       uncertain={"clinical.trial_drift_hba1c_pct": (0.0, 2.0),
                                  "behaviour.support_effect_logit": (0.5, 3.0),
                                  "clinical.utility_per_knowledge": (0.0, 0.1)})
"""2 designs x 80 Latin-hypercube points = 160 runs of 60 patients x 30 days (80 points: too
few to check convergence, which keeps the slow delta bootstrap to one pass). Trial drift spans
0-2 %-points so that it outweighs the clinical course's noise (SD 1 %-point, 60 patients) and
is a real driver."""


def test_given_data_methods_on_an_lhs_sweep_store(tmp_path: Path, capsys) -> None:
    sweep_file = tmp_path / "lhs.yaml"
    sweep_file.write_text(LHS_SWEEP)
    store = tmp_path / "sweep"
    report = run_sweep(sweep_file, store, RunOptions(executor="serial"))
    assert report.failed_total == 0
    status = run_cli("--analyze", store, "--method", "delta", "--num-resamples", "20")
    assert status == 2 and "--select design=hybrid_kickoff" in capsys.readouterr().err, \
        "two lever settings: the user must pick one"
    status = run_cli("--analyze", store, "--method", "delta", "--num-resamples", "20",
                     "--select", "design=hybrid_kickoff", "--outputs", "hba1c_change")
    assert status == 0
    idx = pd.read_csv(store / "sensitivity_delta" / "indices.csv")
    delta = idx[idx["index"] == "delta"].set_index("input")
    assert set(delta.index) == {"clinical.trial_drift_hba1c_pct",
                                "behaviour.support_effect_logit",
                                "clinical.utility_per_knowledge"}
    # Trial drift moves every patient's HbA1c; the QoL weight of knowledge cannot move HbA1c.
    drift, inert = delta.loc["clinical.trial_drift_hba1c_pct"], delta.loc[
        "clinical.utility_per_knowledge"]
    assert not drift["flagged_inert"] and drift["value"] > inert["value"], \
        f"trial drift should drive HbA1c change: delta {drift['value']:.3f} vs inert " \
        f"{inert['value']:.3f}"
    assert inert["flagged_inert"], "an input that cannot move HbA1c should be flagged"
    result = analyze_store(store, method="pawn", select={"design": "hybrid_kickoff"},
                           outputs=["hba1c_change"], num_resamples=20)
    pawn = result.indices.set_index("input")["value"]
    assert pawn.idxmax() == "clinical.trial_drift_hba1c_pct", f"PAWN ranking: {pawn}"
    with pytest.raises(ScenarioError, match="needs its own sample design"):
        analyze_store(store, method="sobol", select={"design": "hybrid_kickoff"})
    with pytest.raises(ScenarioError, match="did you mean 'behaviour.support_effect_logit'"):
        analyze_store(store, method="delta", inputs=["behaviour.support_efect_logit",
                                                     "clinical.utility_per_knowledge"],
                      select={"design": "hybrid_kickoff"})


def test_common_random_numbers_noise_is_the_interaction() -> None:
    # y = point effect + replication effect (shared by every point) + interaction: under
    # common random numbers only the interaction reaches the indices.
    from sim.analyses.sensitivity import replication_noise

    rng = np.random.default_rng(0)
    points, reps = 400, 3
    point_effect = rng.normal(0.0, 1.0, points)
    rep_effect = np.array([-5.0, 0.0, 5.0])  # large noise, common to all points
    inter = rng.normal(0.0, 0.1, (points, reps))
    y = point_effect[:, None] + rep_effect[None, :] + inter
    Y_reps = pd.DataFrame({"point": np.repeat(np.arange(points), reps),
                           "replication": np.tile(np.arange(reps), points),
                           "y": y.ravel()})
    crn = replication_noise(Y_reps, common_random_numbers=True).iloc[0]
    ind = replication_noise(Y_reps).iloc[0]
    # 400 x 2 degrees of freedom: the interaction variance is estimated within about 10%.
    assert crn["var_noise"] == pytest.approx(0.01, rel=0.1), crn
    assert crn["noise_share_of_mean"] < 0.01, "the shared replication effect cancels"
    assert ind["noise_share_of_mean"] > 1.0, "read as independent noise it swamps the signal"
    assert crn["noise_share"] > 0.9 and crn["noise_share"] <= 1.0, \
        "single runs are mostly noise, and a share is at most 1"


def test_summary_keys_list_the_primary_outputs() -> None:
    names = summary_keys()
    missing = [o for o in sa_runner.DEFAULT_OUTPUTS if o not in names]
    assert not missing, f"a run's summary should include {missing}"


def test_budget_times_runs_and_extrapolates_to_the_plan(tmp_path: Path) -> None:
    plan = load_sensitivity(write(tmp_path, TINY_SOBOL))
    budget = sa_runner.estimate_budget(plan, RunOptions(executor="serial"), timed_runs=1)
    assert budget.runs == plan.n_runs and budget.workers == 1
    assert budget.seconds_per_run > 0
    assert budget.total_seconds == pytest.approx(plan.n_runs * budget.seconds_per_run)
    assert f"{plan.n_runs:,} runs on 1 worker(s)" in budget.describe()
    two = sa_runner.estimate_budget(plan, RunOptions(executor="local", workers=2), timed_runs=1)
    assert two.workers == 2


def test_given_data_on_too_few_points_is_a_clear_error(tmp_path: Path, capsys) -> None:
    sweep_file = tmp_path / "lhs.yaml"
    sweep_file.write_text(LHS_SWEEP.replace("n: 80", "n: 16"))
    store = tmp_path / "sweep"
    assert run_sweep(sweep_file, store, RunOptions(executor="serial")).failed_total == 0
    status = run_cli("--analyze", store, "--method", "delta", "--num-resamples", "20",
                     "--select", "design=hybrid_kickoff", "--outputs", "utility_change")
    err = capsys.readouterr().err
    assert status == 2, "every index NaN: the data cannot support delta"
    assert "the data cannot support delta" in err and "16 sample points" in err, err
    assert not (store / "sensitivity_delta" / "summary.md").exists(), "no report of NaNs"


def test_a_nan_index_is_never_a_driver() -> None:
    from sim.analyses.sensitivity import _flag

    rows = pd.DataFrame({"output": "y", "input": ["a", "b"], "index": "delta",
                         "value": [0.4, np.nan], "conf_low": [0.3, np.nan],
                         "conf_high": [0.5, np.nan], "dummy_high": [0.05, 0.05]})
    flagged = _flag(rows, "delta", None, None).set_index("input")["flagged_inert"]
    assert not flagged["a"] and flagged["b"]


# --------------------------------------------------------------------------- comparator

PAIRED = f"""\
name: tiny_paired
base: {SCENARIOS}/designs/hybrid_kickoff.yaml
comparator: designs/usual_care
set: {{population.size: 60, run.days: 30, program.im.leader_posts_per_week: 4.0}}
inputs:
  economics.healthcare_cost_per_year: {{low: 500, high: 1500}}
  program.im.posts_per_week: {{low: 1.0, high: 3.0}}
method: morris
settings: {{n: 4, num_levels: 4}}
outputs: {{primary: cost_per_patient, also: [im_days]}}
replications: 2
seed: 4
analysis: {{num_resamples: 50}}
"""
"""4 trajectories x 3 points x 2 replications x 2 arms = 48 runs of 60 patients x 30 days."""


def test_differences_from_a_comparator_cancel_what_both_arms_share(tmp_path: Path) -> None:
    """Known answer: healthcare cost per year adds the same to both arms, so its mu* on the
    cost difference is 0, while the design-only lever (posts) drives it."""
    path = write(tmp_path, PAIRED)
    plan = load_sensitivity(path)
    assert plan.n_runs == 48 and plan.comparator["program"]["name"] == "usual_care"
    tasks = plan.tasks()
    design, comp = tasks[0], tasks[1]
    assert design.seed == comp.seed and (design.meta["arm"], comp.meta["arm"]) == (0, 1)
    assert "program.im.posts_per_week" not in comp.overrides
    assert comp.overrides["economics.healthcare_cost_per_year"] == \
        design.overrides["economics.healthcare_cost_per_year"]
    assert comp.scenario["program"]["im"]["leader_posts_per_week"] != 4.0, \
        "set keys under program. stay the design's"
    out = tmp_path / "store"
    assert run_cli(path, "--out", out, "--executor", "serial", "--no-progress") == 0
    result = analyze_store(out)
    assert result.meta["primary_output"] == "cost_per_patient_diff"
    assert result.outputs == ["cost_per_patient_diff", "im_days_diff"]
    mu = result.indices[(result.indices["index"] == "mu_star")
                        & (result.indices["output"] == "cost_per_patient_diff")]
    mu = mu.set_index("input")["value"]
    assert mu["economics.healthcare_cost_per_year"] < 1e-9 * mu["program.im.posts_per_week"]
    assert mu["program.im.posts_per_week"] > 0
    runs = load_results(out).runs
    assert (runs.loc[runs["arm"] == 1, "im_days"] == 0).all(), "usual care has no IM group"
    assert load_results(out).manifest["analysis"]["comparator"] == "usual_care"
    same = analyze_store(out, outputs=["cost_per_patient"])  # with or without _diff
    assert same.outputs == ["cost_per_patient_diff"]
    assert "Top inputs for cost_per_patient_diff" in sa_runner.describe_result(
        result, "cost_per_patient_diff")
    report = sa_runner.run_sensitivity(plan, out, RunOptions(executor="serial", resume=True))
    assert report.ran == 0 and report.skipped == 48, "resumable: every pair recorded"
    with pytest.raises(ScenarioError, match="paired runs against a comparator"):
        analyze_store(out, method="pawn")


def test_a_missing_comparator_is_located(tmp_path: Path) -> None:
    err = load_error(tmp_path, PAIRED.replace("designs/usual_care", "designs/no_such"))
    assert err.path == "comparator" and "comparator" in str(err)
