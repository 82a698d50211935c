"""Design comparison: compare files, PSA draws, paired runs, the analysis and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analyses.compare import (
    CompareResult,
    analyse,
    load_comparison,
    nmb_key,
    run_comparison,
)
from sim.cli import main as cli
from sim.core.rng import derive_seed
from sim.engine.options import RunOptions
from sim.engine.store import load_results
from sim.params.errors import ScenarioError
from sim.report.compare_words import summary_lines
from sim.uncertainty import Distribution, draw_parameters

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ROOT / "scenarios" / "designs"

TINY = f"""\
name: tiny_comparison
description: A small comparison for the tests.
designs:
  - {DESIGNS}/usual_care.yaml
  - usual_care_copy.yaml
  - {DESIGNS}/im_peer_support.yaml
  - {DESIGNS}/hybrid_kickoff.yaml
comparator: usual_care
replications: 6
seed: 5
horizon_days: 60
set:
  population.size: 200
thresholds: [20000, 30000]
psa:
  economics.staff_cost_per_hour: {{dist: gamma, mean: 45, sd: 9}}
  clinical.utility_per_hba1c_pct: {{dist: normal, mean: -0.02, sd: 0.007, max: 0}}
  network.in_person_gain: {{dist: beta, mean: 0.5, sd: 0.12}}
"""
"""4 designs (one an exact copy of the comparator) x 6 replications = 24 runs of 200
patients over 60 days, with three PSA parameters."""

COPY = f"""\
# usual care under another name: every draw must match the comparator's
extends: {DESIGNS}/usual_care.yaml
name: usual_care_copy
program:
  name: usual_care_copy
"""


def write_compare(folder: Path, text: str = TINY) -> Path:
    """Write the compare file (and the comparator's copy) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "usual_care_copy.yaml").write_text(COPY)
    path = folder / "compare.yaml"
    path.write_text(text)
    return path


def compare_error(tmp_path: Path, text: str) -> ScenarioError:
    """The ScenarioError that loading ``text`` as a compare file raises."""
    with pytest.raises(ScenarioError) as info:
        load_comparison(write_compare(tmp_path, text))
    return info.value


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory: pytest.TempPathFactory) -> CompareResult:
    """The tiny comparison, run in this process and analysed."""
    folder = tmp_path_factory.mktemp("compare")
    comparison = load_comparison(write_compare(folder))
    report = run_comparison(comparison, folder / "runs", RunOptions(executor="serial"))
    assert report.failed_total == 0, report.describe()
    return analyse(folder / "runs", comparison, command="pytest", report=report)


# --------------------------------------------------------------------------- files


def test_ready_compare_file_validates() -> None:
    comparison = load_comparison(ROOT / "scenarios" / "compare" / "all_designs.yaml")
    names = {p.stem for p in DESIGNS.glob("*.yaml")}  # the matched-length ones are in matched/
    assert set(comparison.names) == names, "all_designs compares every ready design"
    matched = load_comparison(ROOT / "scenarios" / "compare" / "matched_length.yaml")
    assert {p.stem for p in (DESIGNS / "matched").glob("*.yaml")} < set(matched.names)
    assert comparison.comparator == "usual_care"
    assert comparison.spec.replications >= 20, "enough PSA iterations for a CEAC"
    assert len(comparison.spec.psa) >= 5 and len(comparison.draws) == comparison.spec.replications
    costs = [c for c in comparison.draws.columns if c.startswith("economics.")]
    assert costs and (comparison.draws[costs] > 0).all().all(), "unit costs are positive"
    assert (comparison.draws["clinical.utility_per_hba1c_pct"] <= 0).all(), "a decrement"


@pytest.mark.parametrize(("change", "expected"), [
    (("replications: 6", "replicatons: 6"), r"line 9: unknown key 'replicatons'; did you mean "
                                            r"'replications'\?"),
    (("economics.staff_cost_per_hour", "economics.staff_cost_per_hr"),
     r"line 16: psa.economics.staff_cost_per_hr: 'economics.staff_cost_per_hr' is not a "
     r"scenario parameter; did you mean 'economics.staff_cost_per_hour'\?"),
    (("dist: gamma", "dist: gama"), r"line 16: psa.economics.staff_cost_per_hour.dist must be "
                                    r"one of .*got 'gama'; did you mean 'gamma'\?"),
    (("sd: 0.12", "sd: 0.6"), r"line 18: psa.network.in_person_gain: a beta distribution "
                              r"needs 0 < sd < sqrt\(mean\*\(1-mean\)\)"),
    (("{dist: gamma, mean: 45, sd: 9}", "{dist: normal, mean: -5, sd: 9}"),
     r"line 16: psa.economics.staff_cost_per_hour: the draw for replication \d "
     r"\(economics.staff_cost_per_hour = -[\d.]+\) is invalid .* must be >= 0.*gamma"),
    (("{dist: gamma, mean: 45, sd: 9}", "{dist: gamma, mean: 45}"),
     r"line 16: psa.economics.staff_cost_per_hour: a gamma distribution needs mean, sd; "
     r"missing sd"),
    (("comparator: usual_care", "comparator: usual_cares"),
     r"line 8: comparator 'usual_cares' is not one of the designs; did you mean "
     r"'usual_care'\?"),
    (("economics.staff_cost_per_hour", "program.im.posts_per_week"),
     r"psa.program.im.posts_per_week: .* is a program lever"),
    (("population.size: 200", "run.days: 30"), r"line 13: set.run.days: 'run.days' cannot be "
                                               r"set here: use horizon_days"),
    (("population.size: 200", "population.size: -5"),
     r"line 13: set.population.size: population.size must be >= 1"),
    (("usual_care_copy.yaml", "missing.yaml"), r"line 5: designs\[1\]: design file not found"),
    (("seed: 5", "seed: -1"), r"line 10: seed must be >= 0, got -1"),
])
def test_bad_compare_files_name_line_and_fix(tmp_path: Path, change: tuple[str, str],
                                             expected: str) -> None:
    err = compare_error(tmp_path, TINY.replace(*change))
    assert err.file and err.file.endswith("compare.yaml"), err
    assert re.search(expected, str(err)), str(err)


def test_designs_must_share_population(tmp_path: Path) -> None:
    write_compare(tmp_path)
    (tmp_path / "usual_care_copy.yaml").write_text(COPY + "population: {female_share: 0.6}\n")
    with pytest.raises(ScenarioError, match=r"differ in population.female_share \(0.45 vs "
                                            r"0.6\).*set: \{population.female_share"):
        load_comparison(tmp_path / "compare.yaml")


def test_scenario_file_given_as_compare_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="missing required key 'designs'.*scenario file"):
        load_comparison(DESIGNS / "usual_care.yaml")


# --------------------------------------------------------------------------- PSA


@pytest.mark.parametrize("spec", [
    {"dist": "gamma", "mean": 45.0, "sd": 9.0},
    {"dist": "lognormal", "mean": 12.7, "sd": 5.0},
    {"dist": "beta", "mean": 0.3, "sd": 0.1},
    {"dist": "normal", "mean": -0.02, "sd": 0.007},
])
def test_distributions_have_the_mean_and_sd_asked_for(spec: dict) -> None:
    frozen = Distribution(**spec).frozen()
    # method of moments is exact: only float rounding separates them
    assert frozen.mean() == pytest.approx(spec["mean"], rel=1e-9)
    assert frozen.std() == pytest.approx(spec["sd"], rel=1e-9)


def test_psa_draws_are_stable_and_independent_per_parameter() -> None:
    gamma = Distribution(dist="gamma", mean=45, sd=9)
    beta = Distribution(dist="beta", mean=0.5, sd=0.1)
    few = draw_parameters({"a.x": gamma}, seed=3, replications=5)
    more = draw_parameters({"b.y": beta, "a.x": gamma}, seed=3, replications=50)
    assert [d["a.x"] for d in few] == [d["a.x"] for d in more[:5]], (
        "adding replications or parameters must not change existing draws")
    values = np.array([d["a.x"] for d in draw_parameters({"a.x": gamma}, 3, 2000)])
    # 2000 draws: standard error of the mean 9/sqrt(2000) = 0.20, of the sd about 0.16;
    # 5 SE tolerances
    assert abs(values.mean() - 45) < 1.0, values.mean()
    assert abs(values.std() - 9) < 0.8, values.std()


def test_runs_are_paired_on_seed_and_draw(tiny_result: CompareResult) -> None:
    runs = tiny_result.runs
    for r, group in runs.groupby("replication"):
        assert group["seed"].nunique() == 1, f"replication {r} mixes seeds"
        assert group["seed"].iloc[0] == derive_seed(5, int(r)), "seed rule"
        for name in tiny_result.comparison.spec.psa:
            assert group[name].nunique() == 1, f"replication {r}: {name} differs by design"
    assert runs["seed"].nunique() == 6, "each replication has its own seed"


# --------------------------------------------------------------------------- analysis


def test_identical_design_has_zero_increment_everywhere(tiny_result: CompareResult) -> None:
    """usual_care_copy is usual care by another name: paired runs must match exactly."""
    res = tiny_result
    plane = res.ce_plane[res.ce_plane["design"] == "usual_care_copy"]
    assert len(plane) == 6
    assert (plane["inc_cost"] == 0).all() and (plane["inc_effect"] == 0).all(), plane
    both = pd.concat([res.outcomes, res.lifetime])
    copy = both[both["design"] == "usual_care_copy"]
    diffs = copy["diff_mean"].dropna()
    assert len(diffs) >= 10 and (diffs == 0).all(), copy[["outcome", "diff_mean"]]
    icer = res.icer.set_index("design")
    assert icer.loc["usual_care_copy", "inc_cost_vs_comparator"] == 0
    assert icer.loc["usual_care_copy", "inc_effect_vs_comparator"] == 0
    assert icer.loc["usual_care_copy", "verdict_vs_comparator"] == "same cost and effect"
    sub = res.subgroups[res.subgroups["design"] == "usual_care_copy"]["diff_mean"].dropna()
    assert len(sub) and (sub == 0).all(), "subgroup differences of identical runs are zero"


def test_ceac_sums_to_one_at_every_threshold(tiny_result: CompareResult) -> None:
    ceac = tiny_result.ceac
    sums = ceac.groupby("threshold")["probability"].sum()
    assert len(sums) >= 100 and sums.index.min() == 0 and sums.index.max() == 50_000
    # exact shares of 6 draws (ties split): only float rounding separates the sum from 1
    assert np.allclose(sums.to_numpy(), 1.0, atol=1e-12), sums[~np.isclose(sums, 1.0)]
    assert ceac["probability"].between(0, 1).all()
    assert {20_000.0, 30_000.0} <= set(ceac["threshold"]), "headline thresholds on the grid"
    assert (tiny_result.evpi["evpi"] >= 0).all()


def test_nmb_and_icer_follow_from_costs_and_qalys(tiny_result: CompareResult) -> None:
    runs = tiny_result.runs
    cost, qalys = tiny_result.comparison.ce_keys
    assert (cost, qalys) == ("lifetime_cost_discounted", "lifetime_qalys_discounted"), (
        "ICERs and NMB use lifetime figures by default")
    expected = 20_000 * runs[qalys] - runs[cost]
    assert np.allclose(runs[nmb_key(20_000)], expected)
    icer = tiny_result.icer.set_index("design")
    means = runs.groupby("design")[[cost, qalys]].mean()
    d = means.loc["hybrid_kickoff"] - means.loc["usual_care"]
    assert icer.loc["hybrid_kickoff", "inc_cost_vs_comparator"] == pytest.approx(
        d[cost])
    assert icer.loc["hybrid_kickoff", "inc_effect_vs_comparator"] == pytest.approx(
        d[qalys])
    program = tiny_result.outcomes.set_index(["outcome", "design"])
    assert program.loc[("program_cost_per_patient", "hybrid_kickoff"), "diff_mean"] > 0, (
        "a program with sessions and IM costs more than usual care")


def test_outcome_intervals_bracket_the_mean(tiny_result: CompareResult) -> None:
    out = tiny_result.outcomes.dropna(subset=["mean"])
    assert (out["low"] <= out["mean"] + 1e-12).all() and (out["mean"] <= out["high"] + 1e-12).all()
    ts = tiny_result.timecourse
    assert set(ts["measure"]) == {"adherent_share", "hba1c_mean", "utility_mean",
                                  "engagement_mean"}
    assert "usual_care" not in set(ts[ts["measure"] == "engagement_mean"]["design"]), (
        "engagement is drawn only for designs with an IM group")
    assert (ts["low"] <= ts["high"]).all()


def test_summary_words_name_the_best_design(tiny_result: CompareResult) -> None:
    best = tiny_result.headline["best_design"]
    nmb = tiny_result.icer.set_index("design")[nmb_key(20_000)]
    assert best == nmb.idxmax(), "the best design has the highest expected NMB"
    text = " ".join(summary_lines(tiny_result))
    assert best in text and "GBP 20,000" in text and "probability" in text
    assert "agent-based stage is 60 days" in text


# --------------------------------------------------------------------------- CLI


def test_cli_compare_writes_table_report_and_data(tmp_path: Path, capsys) -> None:
    path = write_compare(tmp_path, TINY.replace("replications: 6", "replications: 3"))
    report = tmp_path / "out" / "report.html"
    code = cli.main(["compare", str(path), "--report", str(report), "--executor", "serial",
                     "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, out
    for words in ("Side by side", "vs usual_care", "Incremental analysis", "NMB@20k",
                  "same cost and effect"):
        assert words in out, f"{words!r} missing from the printed tables"
    assert "report:" in err, "where the report went is a note on stderr"
    data = tmp_path / "out" / "report_data"
    for name in ("outcomes", "incremental_analysis", "ce_plane", "ceac", "evpi", "timecourse",
                 "subgroups", "assumptions", "psa_distributions", "runs"):
        csv, parquet = pd.read_csv(data / f"{name}.csv"), pd.read_parquet(data / f"{name}.parquet")
        assert len(csv) == len(parquet) > 0, name
    assert report.stat().st_size > 50_000


def test_cli_design_files_and_resume(tmp_path: Path, monkeypatch, capsys) -> None:
    import sim.analyses.compare as compare_module

    store = tmp_path / "store"
    args = ["compare", str(DESIGNS / "usual_care.yaml"), str(DESIGNS / "im_peer_support.yaml"),
            "--replications", "2", "--executor", "serial", "--no-progress", "--out",
            str(store)]
    original = compare_module.load_scenario

    def small(source, overrides=None):  # the CLI takes no --set: shrink the runs here
        return original(source, {"population.size": 100, "run.days": 20, **(overrides or {})})

    monkeypatch.setattr(compare_module, "load_scenario", small)
    assert cli.main(args) == 0
    assert len(load_results(store).runs) == 4, "2 designs x 2 replications"
    assert cli.main(args) == 2, "an existing store needs --resume"
    assert "already holds results" in capsys.readouterr().err
    assert cli.main([*args, "--resume"]) == 0, "resume reuses the recorded runs"
    assert "4 already recorded, skipped" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["compare", "nope.yaml"], "file not found: nope.yaml"),
    (["compare", str(DESIGNS / "usual_care.yaml")], "give at least two design files"),
    (["compare", str(DESIGNS / "usual_care.yaml"), str(DESIGNS / "hybrid_kickoff.yaml"),
      "--comparator", "usual"], "comparator 'usual' is not one of the designs; did you mean"),
    (["compare", str(ROOT / "scenarios/compare/all_designs.yaml"),
      str(DESIGNS / "usual_care.yaml")], "is a compare file"),
    (["compare", str(ROOT / "scenarios/compare/all_designs.yaml"), "--replications", "1"],
     "argument --replications: must be between 2 and 100,000, got 1"),
    (["compare", str(ROOT / "scenarios/compare/all_designs.yaml"), "--resume"],
     "--resume needs --out"),
])
def test_cli_bad_input_exits_2_without_traceback(argv: list[str], message: str,
                                                 capsys) -> None:
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # option bounds are argparse's
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_cli_bad_input_in_a_subprocess_prints_one_line(tmp_path: Path) -> None:
    path = write_compare(tmp_path, TINY.replace("dist: gamma", "dist: gama"))
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "compare", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "did you mean 'gamma'" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, "one paragraph, one line"


def test_cli_failed_runs_exit_1(tmp_path: Path, monkeypatch, capsys) -> None:
    path = write_compare(tmp_path, TINY.replace("replications: 6", "replications: 2"))
    original = sim.runner.run

    def failing(scenario, seed=None, **kwargs):
        if scenario.program.name == "hybrid_kickoff":
            raise RuntimeError("injected failure")
        return original(scenario, seed, **kwargs)

    monkeypatch.setattr(sim.runner, "run", failing)
    code = cli.main(["compare", str(path), "--executor", "serial", "--no-progress"])
    assert code == 1, "failed runs make the exit status 1"
    assert "replication(s) finished for every design" in capsys.readouterr().err


@pytest.mark.slow
def test_ready_comparison_runs_end_to_end(tmp_path: Path, capsys) -> None:
    """The README's main job at 3 replications: every design of the ready file, full size."""
    report = tmp_path / "report.html"
    code = cli.main(["compare", str(ROOT / "scenarios/compare/all_designs.yaml"),
                     "--replications", "3", "--report", str(report), "--workers", "2",
                     "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dsmes_in_person" in out and "hybrid_monthly" in out
    icer = pd.read_csv(tmp_path / "report_data" / "incremental_analysis.csv")
    assert set(icer["design"]) == {p.stem for p in DESIGNS.glob("*.yaml")}
    programs = icer.set_index("design")["cost"]
    assert (programs.drop("usual_care") > programs["usual_care"]).all(), (
        "every program costs more than usual care")


# --------------------------------------------------------------------------- console and money


def test_text_table_columns_never_run_together() -> None:
    from sim.report.compare_words import text_table

    lines = text_table([["outcome", "a", "b"], ["x", "(0.0115 to 0.0184)", "+0.0002"],
                        ["longer label", "1", "+GBP 52.92 (10.00 to 120.00)"]])
    assert lines[2] == "x              (0.0115 to 0.0184)                        +0.0002"
    assert "(0.0115 to 0.0184)+0.0002" not in "\n".join(lines)
    assert {len(line) for line in (lines[0], lines[2], lines[3])} == {len(lines[1])}


def test_a_money_increment_rounds_the_same_everywhere() -> None:
    from sim.report.render import fmt, fmt_interval, money_decimals

    alone = fmt("money", 52.92, diff=True)
    assert alone == "+GBP 52.92"
    assert fmt_interval("money", 52.92, 10.0, 120.0, diff=True).startswith(alone + " (")
    assert fmt_interval("money", 152.4, 10.0, 320.0) == "GBP 152 (10 to 320)"
    assert money_decimals("money", 99.5) == 2 and money_decimals("qaly", 1.0) is None


def test_programme_end_differences_read_the_comparator_on_the_same_day() -> None:
    """A design ending on day 100 is compared with usual care on day 100, not at its horizon
    (usual care's own course between the two days is no effect of the programme)."""
    from sim.analyses.compare import OutcomeRow, _comparator_on_design_days, _outcome_table

    runs = pd.DataFrame({"run_id": [0, 1, 2, 3], "design": ["uc", "prog", "uc", "prog"],
                         "replication": [0, 0, 1, 1], "status": "ok",
                         "programme_end_day": [365.0, 100.0, 365.0, 100.0],
                         "adherent_share_programme_end": [0.9, 0.7, 0.8, 0.8]})
    days = np.arange(0, 366, 7.0)
    ts = pd.concat([pd.DataFrame({"run_id": rid, "day": days, "adherent_share": 0.5 + days
                                  / 730 + 0.1 * rep}) for rid, rep in ((0, 0), (2, 1))])
    matched = _comparator_on_design_days(runs, ts, ["uc", "prog"], "uc")
    on_day_100 = matched["prog"].set_index("run_id").loc[[0, 2], "adherent_share_programme_end"]
    assert np.allclose(on_day_100, [0.5 + 100 / 730, 0.6 + 100 / 730])
    row = OutcomeRow("adherent_share_programme_end", "x", "share", "higher", "share")
    table = _outcome_table(runs, [row], ["uc", "prog"], "uc", matched).set_index("design")
    assert table.loc["prog", "diff_mean"] == pytest.approx(0.75 - (0.55 + 100 / 730))
    unmatched = _outcome_table(runs, [row], ["uc", "prog"], "uc").set_index("design")
    assert unmatched.loc["prog", "diff_mean"] == pytest.approx(0.75 - 0.85)


def test_console_shows_programme_end_and_later_side_by_side(tiny_result: CompareResult
                                                            ) -> None:
    from sim.report.compare_words import format_tables

    keys = set(tiny_result.outcomes["outcome"])
    assert {"adherent_share_programme_end", "adherent_share_end",  # horizon 60 < one year
            "adherent_share_auc", "hba1c_auc", "utility_auc"} <= keys
    text = format_tables(tiny_result)
    assert "at programme end" in text and "at day 60" in text and "60-day average" in text
    block = text.split("Incremental analysis")[0].splitlines()
    header = next(line for line in block if line.startswith("mean (95% interval)"))
    others = [n for n in tiny_result.comparison.names if n != tiny_result.comparison.comparator]
    for line in filter(None, block[block.index(header) + 2:]):
        # every cell is right-aligned under its design's name: it ends where the name ends
        assert all(line[header.index(n) + len(n) - 1] != " " for n in others), line


# --------------------------------------------------------------------------- planners' words


def test_design_labels_come_from_the_design_files_and_are_escaped(tiny_result: CompareResult
                                                                  ) -> None:
    import dataclasses

    from sim.report.compare_report import render_html
    from sim.report.compare_words import GLOSSARY

    labels = tiny_result.comparison.labels
    assert labels["usual_care"] == "Usual care: no peer-support programme"
    assert labels["usual_care_copy"] == "usual_care_copy", "no description of its own: the name"
    assert "(Instant-messaging (IM) peer groups" in " ".join(summary_lines(tiny_result))
    hostile = "<script>alert(1)</script> **IM** ![x](/etc/passwd)"
    comparison = tiny_result.comparison
    designs = [dataclasses.replace(d, label=hostile) if d.name == "hybrid_kickoff" else d
               for d in comparison.designs]
    result = dataclasses.replace(
        tiny_result, comparison=dataclasses.replace(comparison, designs=designs))
    page = render_html(result)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="/etc/passwd"' not in page
    assert 'id="glossary"' in page and all(f"<dt>{term}</dt>" in page for term in GLOSSARY)
    assert {"DSMES", "IM", "ICER", "NMB", "QALY", "pp", "PAID", "AUC"} <= set(GLOSSARY)
    assert "Net benefit gained at GBP 20,000/QALY" in page, "the headline is an increment"
