"""Sweeps: sweep-file validation, designs, seeds, the results store, failures, pairing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

import sim
from sim.analyses import designs
from sim.analyses.paired import paired_differences
from sim.analyses.sensitivity import Input
from sim.analyses.sweep import load_sweep, run_sweep
from sim.cli import main as cli
from sim.core.rng import derive_seed
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, load_results
from sim.engine.tasks import Task, run_tasks
from sim.params.errors import ScenarioError

from .conftest import SCENARIOS, write_sweep

TINY = f"""\
name: tiny
base: {SCENARIOS}/base.yaml
set:
  population.size: 150
  run.days: 60
levers:
  design:
    - {SCENARIOS}/designs/usual_care.yaml
    - {SCENARIOS}/designs/hybrid_monthly.yaml
uncertain:
  behaviour.support_effect_logit: {{low: 1.5, high: 3.5}}
design:
  method: lhs
  n: 3
replications: 2
seed: 11
outputs:
  timeseries_every_days: 20
"""
"""2 designs x 3 LHS points x 2 replications = 12 runs of 150 patients x 60 days."""


def sweep_error(tmp_path: Path, text: str) -> ScenarioError:
    """The ScenarioError that loading ``text`` as a sweep file raises."""
    path = write_sweep(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_sweep(path)
    return info.value


# --------------------------------------------------------------------------- validation


def test_ready_sweep_files_validate() -> None:
    for path in sorted((SCENARIOS / "sweeps").glob("*.yaml")):
        sweep = load_sweep(path)
        assert sweep.n_runs > 0, f"{path} plans no runs"
    big = load_sweep(SCENARIOS / "sweeps" / "designs_x_replications.yaml")
    assert big.n_runs == 100, f"5 designs x 20 replications should be 100 runs: {big.n_runs}"
    assert big.base["population"]["size"] == 2000 and big.base["run"]["days"] == 365


def test_unknown_key_names_file_line_and_suggests(tmp_path: Path) -> None:
    err = sweep_error(tmp_path, TINY.replace("replications: 2", "replicatons: 2"))
    text = str(err)
    assert "did you mean 'replications'" in text, text
    assert err.file == str(tmp_path / "sweep.yaml") and err.line == 15, (err.file, err.line)
    assert err.path == "replicatons", err.path
    err = sweep_error(tmp_path, TINY.replace("{low: 1.5, high: 3.5}", "{low: 1.5, hgh: 3.5}"))
    assert "did you mean 'high'" in str(err) and err.line == 11, str(err)
    assert err.path == "uncertain.behaviour.support_effect_logit.hgh", err.path


def test_bad_parameter_path_suggests_the_schema_path(tmp_path: Path) -> None:
    err = sweep_error(tmp_path, TINY.replace("behaviour.support_effect_logit",
                                             "behaviour.suport_effect_logit"))
    assert "did you mean 'behaviour.support_effect_logit'" in str(err), str(err)
    assert err.line == 11 and err.path == "uncertain.behaviour.suport_effect_logit", str(err)
    err = sweep_error(tmp_path, TINY.replace("  population.size: 150",
                                             "  population.sise: 150"))
    assert "did you mean 'population.size'" in str(err) and err.line == 4, str(err)


def test_bad_ranges_name_line_and_bound(tmp_path: Path) -> None:
    err = sweep_error(tmp_path, TINY.replace("{low: 1.5, high: 3.5}", "{low: 3.5, high: 1.5}"))
    assert "low must be < high" in str(err) and err.line == 11, str(err)
    # the scenario schema caps support_effect_logit at 10
    err = sweep_error(tmp_path, TINY.replace("high: 3.5", "high: 12"))
    assert "must be <= 10" in str(err) and "high" in str(err) and err.line == 11, str(err)
    assert err.path == "uncertain.behaviour.support_effect_logit.high", err.path
    err = sweep_error(tmp_path, TINY.replace("n: 3", "n: 0"))
    assert "design.n must be >= 1" in str(err) and err.line == 14, str(err)


def test_bad_lever_value_and_design_file(tmp_path: Path) -> None:
    text = TINY.replace("  design:\n    - " + f"{SCENARIOS}/designs/usual_care.yaml\n    - "
                        f"{SCENARIOS}/designs/hybrid_monthly.yaml",
                        "  program.im.posts_per_week: [0.7, -1]")
    err = sweep_error(tmp_path, text)
    assert "program.im.posts_per_week must be >= 0" in str(err), str(err)
    assert err.line == 7 and err.path == "levers.program.im.posts_per_week[1]", str(err)
    err = sweep_error(tmp_path, TINY.replace("usual_care.yaml", "usual_cure.yaml"))
    assert "design file not found" in str(err) and err.line == 7, str(err)
    assert err.path == "levers.design[0]", err.path
    err = sweep_error(tmp_path, TINY.replace("seed: 11\n", ""))
    assert "missing required key 'seed'" in str(err), str(err)


def test_design_rows_and_bounds(tmp_path: Path) -> None:
    inputs = [Input("a", 0.0, 1.0), Input("b", 10.0, 20.0, "triangular"), Input("c", 2.0, 9.0)]
    cases = {
        "lhs": (designs.lhs_design(inputs, 7, seed=3), 7),
        "sobol": (designs.sobol_design(inputs, 8, seed=3), 8 * (3 + 2)),
        "sobol2": (designs.sobol_design(inputs, 8, seed=3, second_order=True), 8 * (6 + 2)),
        "morris": (designs.morris_design(inputs, 4, seed=3, integer={"c"}), 4 * (3 + 1)),
    }
    for name, (X, rows) in cases.items():
        assert len(X) == rows, f"{name}: {len(X)} rows, expected {rows}"
        for inp in inputs:
            col = X[inp.name]
            assert col.between(inp.low, inp.high).all(), f"{name}: {inp.name} out of bounds"
    assert (cases["morris"][0]["c"] % 1 == 0).all(), "integer inputs must be rounded"
    again = designs.lhs_design(inputs, 7, seed=3)
    pd.testing.assert_frame_equal(cases["lhs"][0], again)  # seeded: identical
    lhs = cases["lhs"][0]["a"].to_numpy()
    strata = np.floor(lhs * 7).astype(int)
    assert sorted(strata) == list(range(7)), "LHS puts one point in each of n strata"
    grid = designs.grid_design({"a": [1, 2, 3], "b": ["x", "y"]})
    assert len(grid) == 6 and grid.iloc[1].to_dict() == {"a": 1, "b": "y"}
    assert len(designs.list_design([{"a": 1}, {"a": 2}])) == 2
    with pytest.raises(ValueError, match="row 2"):
        designs.list_design([{"a": 1}, {"b": 2}])


@pytest.mark.parametrize(
    ("design", "uncertain", "points"),
    [
        ("{method: grid}", "{values: [1.5, 2.5]}\n  network.group_size: {low: 8, high: 12, "
         "levels: 3}", 6),
        ("{method: list, rows: [{behaviour.support_effect_logit: 2.0}, "
         "{behaviour.support_effect_logit: 3.0}]}", None, 2),
        ("{method: lhs, n: 5}", "{low: 1.5, high: 3.5}", 5),
        ("{method: sobol, n: 4}", "{low: 1.5, high: 3.5}\n  network.group_size: "
         "{low: 8, high: 14}", 4 * (2 + 2)),
        ("{method: morris, n: 3}", "{low: 1.5, high: 3.5}\n  network.group_size: "
         "{low: 8, high: 14}", 3 * (2 + 1)),
    ],
)
def test_sweep_designs_give_expected_runs(tmp_path: Path, design: str, uncertain: str | None,
                                          points: int) -> None:
    head, _, _ = TINY.partition("uncertain:")
    text = head
    if uncertain:
        text += f"uncertain:\n  behaviour.support_effect_logit: {uncertain}\n"
    text += f"design: {design}\nreplications: 2\nseed: 5\n"
    sweep = load_sweep(write_sweep(tmp_path, text))
    assert len(sweep.points) == points, sweep.points
    assert sweep.n_runs == 2 * points * 2 == len(sweep.tasks()), sweep.describe()
    x = sweep.points["behaviour.support_effect_logit"]
    assert x.between(1.5, 3.5).all(), x
    if "network.group_size" in sweep.points:
        g = sweep.points["network.group_size"]
        assert g.between(8, 14).all() and (g % 1 == 0).all(), "int parameter rounded, in range"


def test_seeds_are_shared_across_levers_and_recorded(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path, TINY))
    tasks = sweep.tasks()
    by_key: dict[tuple[int, int], set[int]] = {}
    for t in tasks:
        by_key.setdefault((t.meta["point"], t.meta["replication"]), set()).add(t.seed)
        assert t.seed == derive_seed(11, t.meta["point"], t.meta["replication"])
    assert all(len(s) == 1 for s in by_key.values()), "every lever shares the seed of (p, r)"
    assert len({next(iter(s)) for s in by_key.values()}) == len(by_key), "seeds differ by (p, r)"


# --------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> sim.engine.store.Results:
    folder = tmp_path_factory.mktemp("tiny")
    report = run_sweep(write_sweep(folder, TINY), folder / "out", RunOptions(executor="serial"))
    assert report.ran == 12 and report.failed == 0, report.describe()
    return load_results(folder / "out")


def test_results_table_and_manifest(tiny_results: sim.engine.store.Results) -> None:
    runs = tiny_results.runs
    assert len(runs) == 12 and runs["run_id"].is_unique
    expected = ["run_id", "point", "lever", "design", "replication",
                "behaviour.support_effect_logit", "seed"]
    assert list(runs.columns[:7]) == expected, list(runs.columns)
    assert list(runs.columns[-3:]) == ["status", "error", "wall_time_s"]
    assert {"hba1c_change", "qalys_per_patient", "cost_per_patient"} <= set(
        tiny_results.output_columns)
    assert (runs["status"] == "ok").all() and runs["error"].isna().all()
    m = tiny_results.manifest
    for key in ("sweep_text", "sweep_sha256", "resolved", "versions", "seed", "created_utc"):
        assert key in m, f"manifest lacks {key}"
    assert m["seed"] == 11 and "tiny" in m["sweep_text"]
    assert tiny_results.lever_columns == ["design"]
    assert tiny_results.parameter_columns == ["behaviour.support_effect_logit"]
    ts = tiny_results.timeseries
    assert ts is not None and set(ts["run_id"]) == set(runs["run_id"])
    assert sorted(ts["day"].unique()) == [0, 20, 40, 60], "time series every 20 days"


def test_results_open_in_polars_and_duckdb(tiny_results: sim.engine.store.Results) -> None:
    import duckdb
    import polars as pl

    runs_glob = str(tiny_results.path / "runs" / "*.parquet")
    frame = pl.read_parquet(runs_glob)
    assert frame.height == 12 and "hba1c_change" in frame.columns
    con = duckdb.connect()
    n, mean = con.execute(f"SELECT count(*), avg(hba1c_change) FROM '{runs_glob}'").fetchone()
    assert n == 12 and math.isclose(mean, tiny_results.runs["hba1c_change"].mean())
    ts_glob = str(tiny_results.path / "timeseries" / "*.parquet")
    assert con.execute(f"SELECT count(DISTINCT run_id) FROM '{ts_glob}'").fetchone()[0] == 12
    assert len(pd.read_parquet(tiny_results.path / "runs")) == 12


def test_run_reproduces_a_single_run(tiny_results: sim.engine.store.Results) -> None:
    row = tiny_results.runs.iloc[5]
    scenario = sim.load_scenario(SCENARIOS / "designs" / f"{row['design']}.yaml", {
        "population.size": 150, "run.days": 60, "run.record_every_days": 20,
        "behaviour.support_effect_logit": row["behaviour.support_effect_logit"]})
    single = sim.run(scenario, int(row["seed"]))
    assert single.summary["hba1c_change"] == row["hba1c_change"], "a run is its seed + scenario"


def test_failing_run_recorded_then_retried(tmp_path: Path, monkeypatch) -> None:
    path = write_sweep(tmp_path, TINY)
    out = tmp_path / "out"
    target = derive_seed(11, 1, 0)
    original = sim.runner.run
    calls = []

    def flaky(scenario, seed=None, **kwargs):
        calls.append(seed)
        if scenario.program.name == "hybrid_monthly" and seed == target:
            raise RuntimeError("injected failure")
        return original(scenario, seed, **kwargs)

    monkeypatch.setattr(sim.runner, "run", flaky)
    args = ["sweep", str(path), "--out", str(out), "--executor", "serial", "--no-progress"]
    assert cli.main(args) == 1, "a failed run makes the exit status non-zero"
    runs = load_results(out).runs
    failed = runs[runs["status"] == "failed"]
    assert len(runs) == 12 and len(failed) == 1, runs[["run_id", "status"]]
    assert "injected failure" in failed["error"].iloc[0]
    assert failed["design"].iloc[0] == "hybrid_monthly" and np.isnan(failed["hba1c_change"].iloc[0])
    assert cli.main(args + ["--resume"]) == 1, "resume leaves the failure in place"
    monkeypatch.setattr(sim.runner, "run", lambda *a, **k: (calls.append(a[1]), original(
        *a, **k))[1])
    calls.clear()
    assert cli.main(args + ["--retry-failed"]) == 0
    assert calls == [target], f"--retry-failed reruns only the failed run, ran {calls}"
    runs = load_results(out).runs
    assert (runs["status"] == "ok").all() and len(runs) == 12
    raw = pd.concat(pd.read_parquet(p) for _, p in ResultsStore(out).parts())
    assert raw["run_id"].is_unique, "no duplicate rows even in the raw parts"


def test_existing_store_needs_resume_and_unchanged_sweep(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, TINY.replace("replications: 2", "replications: 1"))
    out = tmp_path / "out"
    run_sweep(path, out, RunOptions(executor="serial"))
    with pytest.raises(ScenarioError, match="already holds results"):
        run_sweep(path, out, RunOptions(executor="serial"))
    report = run_sweep(path, out, RunOptions(executor="serial", resume=True))
    assert report.ran == 0 and report.skipped == 6, report.describe()
    path.write_text(TINY.replace("replications: 2", "replications: 1").replace(
        "seed: 11", "seed: 12"))
    with pytest.raises(ScenarioError, match="the sweep changed.*changed: seed"):
        run_sweep(path, out, RunOptions(executor="serial", resume=True))
    path.write_text(TINY.replace("replications: 2", "replications: 1").replace(
        "size: 150", "size: 151"))
    with pytest.raises(ScenarioError, match="changed: .*set"):
        run_sweep(path, out, RunOptions(executor="serial", resume=True))


def test_corrupt_part_is_detected_and_redone(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, TINY)
    ref, out = tmp_path / "ref", tmp_path / "out"
    run_sweep(path, ref, RunOptions(executor="serial"))
    run_sweep(path, out, RunOptions(executor="serial", flush_every=3))
    store = ResultsStore(out)
    number, victim = store.parts()[1]
    lost = set(pq.read_table(victim, columns=["run_id"]).column("run_id").to_pylist())
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # truncated
    with pytest.warns(RuntimeWarning, match="unreadable"):
        partial = load_results(out)
    assert set(partial.runs["run_id"]) == set(range(12)) - lost
    with pytest.warns(RuntimeWarning, match="moved it to"):
        report = run_sweep(path, out, RunOptions(executor="serial", resume=True))
    assert report.ran == len(lost), report.describe()
    assert_same_runs(load_results(out), load_results(ref))


def assert_same_runs(a: sim.engine.store.Results, b: sim.engine.store.Results) -> None:
    """Runs tables identical bit for bit, apart from wall time."""
    left = a.runs.drop(columns="wall_time_s")
    right = b.runs.drop(columns="wall_time_s")
    pd.testing.assert_frame_equal(left, right, check_exact=True)


# --------------------------------------------------------------------------- pairing


def test_paired_differences_known_answer() -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1, 30)  # noise both settings share (common random numbers)
    runs = pd.DataFrame({
        "run_id": range(60), "point": 0, "replication": list(range(30)) * 2,
        "design": ["a"] * 30 + ["b"] * 30, "status": "ok",
        "y": np.concatenate([shared, shared + 0.5 + rng.normal(0, 0.1, 30)]),
    })
    out = paired_differences(runs, "y", "a")
    d = runs["y"].to_numpy()[30:] - runs["y"].to_numpy()[:30]
    half = stats.t.ppf(0.975, 29) * d.std(ddof=1) / np.sqrt(30)
    row = out.loc["b"]
    assert row["n_pairs"] == 30 and math.isclose(row["mean_difference"], d.mean())
    assert math.isclose(row["ci_high"] - row["ci_low"], 2 * half, rel_tol=1e-12)
    assert row["se"] < row["unpaired_se"] / 5, "shared noise cancels in paired differences"


def test_paired_differences_narrower_than_unpaired(tmp_path: Path) -> None:
    text = f"""\
base: {SCENARIOS}/base.yaml
set: {{population.size: 150, run.days: 60}}
levers:
  design: [{SCENARIOS}/designs/usual_care.yaml, {SCENARIOS}/designs/hybrid_monthly.yaml]
replications: 12
seed: 3
"""
    run_sweep(write_sweep(tmp_path, text), tmp_path / "out", RunOptions(executor="serial"))
    results = load_results(tmp_path / "out")
    # outcome levels (not changes from baseline, which difference out the population
    # within each run already)
    for outcome in ("hba1c_mean_end", "qalys_per_patient", "pdc_mean_end", "nmb_per_patient"):
        table = paired_differences(results, outcome, "usual_care")
        row = table.loc["hybrid_monthly"]
        # common random numbers: the same patients and draws in both arms, so the paired
        # variance must be well below the unpaired one (observed ratio 0.07-0.2; 0.5 leaves
        # room for model changes)
        assert row["se"] ** 2 < 0.5 * row["unpaired_se"] ** 2, (
            f"{outcome}: paired var {row['se'] ** 2:.3g} not < unpaired "
            f"{row['unpaired_se'] ** 2:.3g}")
        assert row["n_pairs"] == 12
    with pytest.raises(ScenarioError, match="cannot tell which lever"):
        paired_differences(results, "hba1c_change", "nope")


# --------------------------------------------------------------------------- generic layer


def test_run_tasks_generic_layer(tmp_path: Path) -> None:
    base = SCENARIOS / "designs" / "hybrid_kickoff.yaml"
    tasks = [Task(run_id=f"r{i}", scenario=str(base), seed=100 + i,
                  overrides={"population.size": 60, "run.days": 20,
                             "program.im.posts_per_week": 0.5 * i},
                  meta={"posts": 0.5 * i, "label": f"x{i}"})
             for i in range(4)]
    report = run_tasks(tasks, tmp_path / "out", RunOptions(executor="serial"), timeseries=True,
                       manifest={"purpose": "test"})
    assert report.ran == 4 and report.failed_total == 0
    res = load_results(tmp_path / "out")
    assert list(res.runs["run_id"]) == ["r0", "r1", "r2", "r3"]
    assert res.manifest["purpose"] == "test" and list(res.runs["label"]) == ["x0", "x1", "x2",
                                                                             "x3"]
    assert res.timeseries is not None and res.timeseries["run_id"].nunique() == 4
    with pytest.raises(ScenarioError, match="appears twice"):
        run_tasks(tasks + tasks[:1], tmp_path / "other", RunOptions(executor="serial"))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["n_runs"] == 4 and len(manifest["sessions"]) == 1
