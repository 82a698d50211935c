"""Trial reproductions: file validation, the comparison machinery, fast directional runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analyses.validation import (
    OfSpec,
    OutcomeSpec,
    Validation,
    combine,
    default_files,
    evaluate,
    load_study,
    run_validation,
    summarise,
)
from sim.cli import main as cli
from sim.engine.options import RunOptions
from sim.params.errors import ScenarioError
from sim.report.validation_report import html_report, markdown_table, model_text

from .conftest import ROOT

VALIDATION = ROOT / "experiments" / "validation"
DESIGNS = ROOT / "scenarios" / "designs"
EXPECTED = {"dsmes_chrvala2016", "diabpeers_im_rct", "presley2020", "sartori2020_whatsapp",
            "qi2015_baseline_hba1c", "centola2010", "qi2015_frequency", "tang2014",
            "mentors_hba1c_gt8", "pearl2014", "mons2013"}

TINY = f"""\
study: tiny
title: DSMES vs usual care, small
citation: test
scenario: {DESIGNS}/usual_care.yaml
set:
  population.size: 200
  run.days: 60
arms:
  usual_care: {{label: usual care}}
  dsmes:
    scenario: {DESIGNS}/dsmes_in_person.yaml
replications: 3
seed: 5
outcomes:
  - name: net effect
    of: {{difference: [dsmes, usual_care]}}
    key: hba1c_change
    published: -0.5
    interval: [-5.0, 0.0]
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_study(write(tmp_path, text))
    return info.value


# --------------------------------------------------------------------------- the files


def test_every_target_has_a_validation_file_that_loads():
    files = default_files(ROOT)
    studies = {load_study(f).name: f for f in files}
    assert set(studies) == EXPECTED, f"validation files: {sorted(studies)}"
    for name, path in studies.items():
        assert path.stem == name, f"{path.name} should be named after its study '{name}'"


def test_validate_check_accepts_the_shipped_files(capsys):
    status = cli.main(["validate", "--check", *map(str, default_files(ROOT))])
    out = capsys.readouterr().out
    assert status == 0
    assert out.count("ok ") == len(EXPECTED), out


def test_arms_of_a_study_share_seeds_and_replications_differ():
    study = load_study(VALIDATION / "dsmes_chrvala2016.yaml")
    seeds = study.seeds(4)
    assert len(set(seeds)) == 4, "replications need distinct seeds"
    from sim.analyses.validation import study_tasks

    tasks = study_tasks(study, replications=4)
    by_rep: dict[int, set[int]] = {}
    for t in tasks:
        by_rep.setdefault(t.meta["replication"], set()).add(t.seed)
    assert all(len(s) == 1 for s in by_rep.values()), "arms must share the seed (paired)"


# --------------------------------------------------------------------------- errors


def test_unknown_key_names_line_and_suggests(tmp_path):
    err = error_of(tmp_path, TINY.replace("replications: 3", "replicatons: 3"))
    assert "replicatons" in str(err) and "did you mean 'replications'" in str(err)
    assert err.line == 12


def test_unknown_arm_in_outcome(tmp_path):
    err = error_of(tmp_path, TINY.replace("[dsmes, usual_care]", "[dsmes, usualcare]"))
    assert "unknown arm 'usualcare'" in str(err) and "did you mean 'usual_care'" in str(err)
    assert err.line == 16


def test_unknown_summary_key(tmp_path):
    err = error_of(tmp_path, TINY.replace("key: hba1c_change", "key: hba1c_chnage"))
    assert "unknown summary key 'hba1c_chnage'" in str(err)
    assert "did you mean 'hba1c_change'" in str(err)


def test_a_study_with_its_own_subgroup_cut_offs_may_target_their_keys(tmp_path):
    text = TINY.replace("  run.days: 60\n", "  run.days: 60\n  run.subgroups.hba1c: [9]\n")
    assert load_study(write(tmp_path, text.replace(
        "key: hba1c_change", "key: hba1c_change_hba1c_ge9"))).spec.outcomes[0].key
    assert "unknown summary key" in str(error_of(tmp_path, TINY.replace(
        "key: hba1c_change", "key: hba1c_change_hba1c_ge9")))
    err = error_of(tmp_path, text.replace("[9]", "[9, 8]"))
    assert "run.subgroups.hba1c" in str(err) and "strictly increasing" in str(err)


def test_bad_parameter_path_and_value(tmp_path):
    err = error_of(tmp_path, TINY.replace("population.size: 200", "population.sise: 200"))
    assert "'population.sise' is not a scenario parameter" in str(err) and err.line == 6
    err = error_of(tmp_path, TINY.replace("population.size: 200", "population.size: -3"))
    assert "population.size must be >= 1" in str(err) and err.line == 6


def test_published_value_outside_its_own_interval_is_refused(tmp_path):
    err = error_of(tmp_path, TINY.replace("interval: [-5.0, 0.0]", "interval: [0.5, 5.0]"))
    assert "lies outside its own interval [0.5, 5]" in str(err) and err.line is not None


def test_within_needs_an_interval_and_one_form_of(tmp_path):
    err = error_of(tmp_path, TINY.replace("    interval: [-5.0, 0.0]\n", ""))
    assert "needs an interval" in str(err)
    err = error_of(tmp_path, TINY.replace("{difference: [dsmes, usual_care]}",
                                          "{arm: dsmes, difference: [dsmes, usual_care]}"))
    assert "exactly one of arm, difference, ratio, contrast" in str(err)


# --------------------------------------------------------------------------- machinery


def test_combine_pairs_replications():
    table = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 1.0, 1.0]},
                         index=pd.Index([0, 1, 2], name="replication"))
    assert np.allclose(combine(OfSpec(arm="a"), table), [1, 2, 3])
    assert np.allclose(combine(OfSpec(difference=("a", "b")), table), [0.5, 1.0, 2.0])
    assert np.allclose(combine(OfSpec(ratio=("a", "b")), table), [2.0, 2.0, 3.0])
    assert np.allclose(combine(OfSpec(contrast={"a": 2, "b": -1}), table), [1.5, 3.0, 5.0])


def test_summary_interval_is_t_based():
    mean, lo, hi = summarise(np.array([1.0, 2.0, 3.0]))
    # t(0.975, 2) = 4.303, sd = 1, n = 3: half-width 4.303 / sqrt(3) = 2.484
    assert mean == 2.0 and hi - mean == pytest.approx(2.4841, abs=1e-3)
    assert math.isnan(summarise(np.array([1.0]))[1]), "one replication has no interval"


def test_timeseries_metrics_and_verdicts(tmp_path):
    study = load_study(write(tmp_path, TINY))
    runs = pd.DataFrame({"run_id": ["x", "y"], "study": "tiny", "arm": ["dsmes", "usual_care"],
                         "replication": 0, "status": "ok", "hba1c_change": [-0.6, -0.1]})
    ts = pd.DataFrame({"run_id": ["x"] * 3 + ["y"] * 3, "day": [0, 7, 14] * 2,
                       "adherent_share": [0.1, 0.3, 0.5, 0.1, 0.15, 0.2]})
    reach = OutcomeSpec(name="days", of=OfSpec(ratio=("usual_care", "dsmes")),
                        timeseries={"column": "adherent_share", "days_to_reach": 0.3},
                        published=2.0, interval=(1.5, 3.0))
    at = OutcomeSpec(name="at", of=OfSpec(arm="dsmes"),
                     timeseries={"column": "adherent_share", "at_day": 10},
                     published=0.5, compare="greater", threshold=0.4)
    res = {r.outcome.name: r for r in evaluate(study, runs, ts, [reach, at])}
    # y never reaches 0.3: censored at its last day (14); x reaches it on day 7 -> ratio 2
    assert res["days"].mean == 2.0 and res["days"].passed
    assert res["at"].mean == 0.5 and res["at"].passed, "first record on or after day 10"
    net = evaluate(study, runs, ts)[0]
    assert net.mean == pytest.approx(-0.5) and net.passed


# --------------------------------------------------------------------------- reproductions


def test_fast_reproductions_keep_their_directions():
    """Small populations, few replications: only the directions are checked here."""
    small = {"population.size": 400}
    chrvala = load_study(VALIDATION / "dsmes_chrvala2016.yaml", small)
    qi = load_study(VALIDATION / "qi2015_baseline_hba1c.yaml", {"population.size": 1500})
    centola = load_study(VALIDATION / "centola2010.yaml")  # 144 people: already small
    result = run_validation([chrvala, qi], None, RunOptions(executor="serial"), replications=2)
    runs = result.runs
    ok = runs[runs.status == "ok"]

    def arm(study, name, key):
        rows = ok[(ok.study == study) & (ok.arm == name)]
        return rows.sort_values("replication")[key].to_numpy()

    dsmes = arm("dsmes_chrvala2016", "dsmes", "hba1c_change")
    usual = arm("dsmes_chrvala2016", "usual_care", "hba1c_change")
    assert (dsmes < usual).all(), f"DSMES should improve more than control: {dsmes} {usual}"
    assert usual.mean() < 0, "control arms improve too (regression to the mean)"
    net = {band: (arm("qi2015_baseline_hba1c", "peer_support", f"hba1c_change_hba1c_{band}")
                  - arm("qi2015_baseline_hba1c", "usual_care", f"hba1c_change_hba1c_{band}")
                  ).mean() for band in ("lt7.5", "7.5to8.5", "ge8.5")}
    assert net["ge8.5"] < net["lt7.5"] and net["7.5to8.5"] < net["lt7.5"], \
        f"Qi 2015: the effect should grow with baseline HbA1c: {net}"
    # Centola: 30 paired replications (run in about 5 s); the clustered lattice should
    # spread the behaviour further than the random network of the same degree.
    spread = run_validation([centola], None, RunOptions(executor="serial"), replications=30)
    further = next(r for r in spread.results if r.outcome.name == "Clustered spreads further")
    assert further.mean > 0, f"clustered should beat random: {model_text(further)}"


def test_report_and_exit_status(tmp_path):
    path = write(tmp_path, TINY)
    html_path, md_path = tmp_path / "v.html", tmp_path / "v.md"
    status = cli.main(["validate", str(path), "--executor", "serial", "--no-progress",
                       "--report", str(html_path), "--markdown", str(md_path)])
    assert status == 0, "a passing target exits 0"
    page = html_path.read_text()
    assert "data:image/png;base64," in page and "net effect" in page
    assert "| tiny | net effect |" in md_path.read_text()
    failing = write(tmp_path, TINY.replace("published: -0.5", "published: 5.5").replace(
        "[-5.0, 0.0]", "[5.0, 6.0]"), "fail.yaml")
    assert cli.main(["validate", str(failing), "--executor", "serial", "--no-progress"]) == 1


def test_markdown_and_html_from_results(tmp_path):
    study = load_study(write(tmp_path, TINY))
    result = run_validation([study], None, RunOptions(executor="serial"), replications=2)
    text = markdown_table(result.results)
    assert text.splitlines()[0].startswith("| study | outcome | published")
    assert "<img" in html_report(result)


def _centola_runs(overrides: dict[str, object], replications: int = 40
                  ) -> tuple[Validation, dict[str, np.ndarray]]:
    """The Centola study's validation and each arm's adherent share by day (runs x days)."""
    study = load_study(VALIDATION / "centola2010.yaml", overrides)
    result = run_validation([study], None, RunOptions(executor="serial"),
                            replications=replications)
    assert result.timeseries is not None
    ts = result.timeseries.merge(result.runs[["run_id", "arm"]], on="run_id")
    return result, {arm: np.stack([g.sort_values("day")["adherent_share"].to_numpy()
                                   for _, g in rows.groupby("run_id")])
                    for arm, rows in ts.groupby("arm")}


def _days_to(curve: np.ndarray, share: float) -> int:
    return int(np.argmax(curve >= share)) if (curve >= share).any() else len(curve)


@pytest.mark.slow
def test_centola_graded_contagion_spreads_further_and_faster():
    """40 replications (docs/validation.md §6): reach at the end point (day 180) in the
    published bands, clustered faster on the mean curve (days to 25%, ratio >= 1.6, measured
    1.72; per run,
    the study's own metric, in [2, 8]); the random arm is delayed, not stalled (it still
    grows over the last 30 days). With one signal enough (p1 = 1) the random network
    spreads at least as fast as the lattice: simple contagion's known result."""
    result, curves = _centola_runs({})
    assert all(r.passed for r in result.results), markdown_table(result.results)
    clustered, random_ = curves["clustered"].mean(axis=0), curves["random"].mean(axis=0)
    assert 0.44 <= clustered[-1] <= 0.64 and 0.28 <= random_[-1] <= 0.48
    assert _days_to(random_, 0.25) >= 1.6 * _days_to(clustered, 0.25)
    assert random_[-1] - random_[-31] > 0.03, "random network delayed, not stalled"
    _, simple = _centola_runs({"behaviour.graded_first_signal": 1.0}, replications=20)
    assert _days_to(simple["random"].mean(axis=0), 0.25) <= \
        _days_to(simple["clustered"].mean(axis=0), 0.25)


@pytest.mark.slow
def test_full_validation_passes_every_target():
    """The shipped defaults pass every target of every trial reproduction (`peersupport
    validate` exits 0); a target that stops passing must be fixed or documented in
    docs/validation.md §6 and listed here."""
    documented: set[tuple[str, str]] = set()
    result = run_validation([load_study(f) for f in default_files(ROOT)], None,
                            RunOptions(workers=2))
    failed = {(r.study, r.outcome.name) for r in result.results if not r.passed}
    assert not result.failed_runs, f"{result.failed_runs} runs failed"
    assert failed == documented, f"undocumented failures: {failed - documented}; " \
        f"now passing (update docs/validation.md): {documented - failed}"
