"""Known-answer tests of the decision tools (sim.analyses.decision) and the PSA copula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analyses import decision
from sim.analyses.compare import CompareResult, load_comparison
from sim.cli import main as cli
from sim.params.errors import ScenarioError
from sim.report.decision_report import render_decision_section
from sim.report.workbook import write_workbook
from sim.uncertainty import Distribution, check_correlation, correlate, draw_parameters

from .test_compare import TINY, tiny_result, write_compare  # noqa: F401 (shared fixture)

WTP = 20_000.0


def _runs(n: int = 2000, noise: float = 0.0, seed: int = 1) -> pd.DataFrame:
    """A toy comparison: design 'prog' vs 'usual', linear in three parameters.

    Incremental cost = 300 + 100 a (plus noise), incremental QALYs = 0.01 + 0.02 b and c is
    inert, so the incremental NMB at WTP 20,000 is ``-100 + 400 b - 100 a``.
    """
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(1, 0.5, n), rng.normal(0.5, 0.3, n), rng.uniform(0, 1, n)
    rows = []
    for r in range(n):
        base = {"replication": r, "p.a": a[r], "p.b": b[r], "p.c": c[r]}
        rows.append({**base, "design": "usual", "cost_per_patient_discounted": 1000.0,
                     "cost_per_patient": 1000.0, "qalys_per_patient": 0.70})
        rows.append({**base, "design": "prog",
                     "cost_per_patient_discounted": 1300 + 100 * a[r] + noise * rng.normal(),
                     "cost_per_patient": 1350 + 100 * a[r],
                     "qalys_per_patient": 0.71 + 0.02 * b[r]})
    return pd.DataFrame(rows)


def test_tornado_marks_bars_it_cannot_tell_from_noise() -> None:
    """One real slope, one inert parameter, noisy y: only the real bar is distinguishable (a
    small PSA gives inert parameters wide bars by chance; found in the shipped comparison)."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"real": rng.uniform(0, 1, 100), "inert": rng.uniform(0, 1, 100)})
    y = 50.0 * X["real"] + rng.normal(0, 20.0, 100)
    model = decision.fit_metamodel(X, y)
    assert model.slope_se[0] == pytest.approx(20.0 / np.sqrt(100 * X["real"].var()), rel=0.2)
    torn = decision.tornado(model, X).set_index("parameter")
    assert torn.loc["real", "distinguishable"] and not torn.loc["inert", "distinguishable"]


def test_tornado_of_a_linear_model_matches_its_slopes() -> None:
    runs = _runs()
    y = decision.incremental_nmb(runs, "prog", "usual", WTP)
    X = runs.groupby("replication")[["p.a", "p.b", "p.c"]].first()
    model = decision.fit_metamodel(X, y)
    np.testing.assert_allclose(model.slopes, [-100.0, 400.0, 0.0], atol=1e-8)
    assert model.r_squared == pytest.approx(1.0)
    torn = decision.tornado(model, X, low=0.1, high=0.9)
    assert torn["parameter"].tolist()[:2] == ["p.b", "p.a"]  # widest swing first
    row = torn.set_index("parameter").loc["p.b"]
    span = row["high_value"] - row["low_value"]
    assert row["y_at_high"] - row["y_at_low"] == pytest.approx(400.0 * span)
    assert torn.set_index("parameter").loc["p.c", "swing"] == pytest.approx(0.0, abs=1e-8)


def test_metamodel_averages_over_noise() -> None:
    runs = _runs(n=4000, noise=50.0)
    y = decision.incremental_nmb(runs, "prog", "usual", WTP)
    X = runs.groupby("replication")[["p.a", "p.b", "p.c"]].first()
    model = decision.fit_metamodel(X, y)
    np.testing.assert_allclose(model.slopes, [-100.0, 400.0, 0.0], atol=10.0)
    assert 0.5 < model.r_squared < 1.0


def test_threshold_analysis_finds_the_known_threshold() -> None:
    runs = _runs()
    y = decision.incremental_nmb(runs, "prog", "usual", WTP)
    X = runs.groupby("replication")[["p.a", "p.b", "p.c"]].first()
    model = decision.fit_metamodel(X, y)
    table = decision.thresholds(model, X).set_index("parameter")
    # inc NMB = -100 + 400 b - 100 a with a at its mean: zero at b* = (100 + 100 mean(a))/400
    b_star = (100 + 100 * X["p.a"].mean()) / 400
    assert table.loc["p.b", "threshold_value"] == pytest.approx(b_star)
    assert table.loc["p.b", "direction"] == "above"
    assert table.loc["p.a", "direction"] == "below"
    assert not table.loc["p.c", "within_sample"]  # an inert parameter never flips it
    grid = decision.two_way(model, X, "p.a", "p.b", points=5)
    expect = -100 + 400 * grid["p.b"] - 100 * grid["p.a"]
    np.testing.assert_allclose(grid["value"], expect, atol=1e-6)


def test_evppi_of_all_parameters_equals_evpi_and_inert_is_zero() -> None:
    runs = _runs(n=4000)
    table = decision.evppi_table(runs, ["usual", "prog"],
                                 {"a": ["p.a"], "c": ["p.c"], "all": ["p.a", "p.b", "p.c"]},
                                 [WTP])
    by = table.set_index("group")
    evpi = float(by.loc["all", "evpi"])
    assert evpi > 10  # the decision is uncertain: information has value
    assert by.loc["all", "evppi"] == pytest.approx(evpi, rel=0.01)
    assert by.loc["c", "evppi"] < 0.02 * evpi
    assert 0 < by.loc["a", "evppi"] < evpi


def test_budget_impact_arithmetic() -> None:
    runs = _runs(n=10)
    table = decision.budget_impact(runs, "prog", "usual", 10_000, [0.1, 0.2, 0.25])
    extra = 350 + 100 * runs[runs["design"] == "prog"]["p.a"].mean()
    assert table["patients"].tolist() == [1000, 2000, 2500]
    np.testing.assert_allclose(table["budget_impact"], [1000 * extra, 2000 * extra,
                                                        2500 * extra])
    assert table["cumulative_budget_impact"].iloc[-1] == pytest.approx(5500 * extra)
    with pytest.raises(ScenarioError, match="uptake"):
        decision.budget_impact(runs, "prog", "usual", 100, [1.5])


def test_decide_gives_every_table() -> None:
    runs = _runs(n=200)
    result = decision.decide(runs, ["usual", "prog"], "usual", ["p.a", "p.b", "p.c"],
                             [WTP, 30_000.0], population=500, uptake=[0.5])
    tables = result.tables()
    assert set(tables) == {"decision_metamodel", "tornado", "threshold_analysis", "two_way",
                           "evppi_groups", "budget_impact"}
    assert len(tables["evppi_groups"]) == 2 * 4  # 3 single + all, at 2 thresholds
    assert tables["two_way"].shape == (121, 4)
    assert tables["budget_impact"]["patients"].tolist() == [250]


def test_metamodel_refuses_too_few_draws() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]})
    with pytest.raises(ScenarioError, match="more PSA draws"):
        decision.fit_metamodel(X, np.array([1.0, 2.0]))


# --------------------------------------------------------------------------- copula


def test_copula_reproduces_the_target_rank_correlation() -> None:
    target = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.0], [-0.3, 0.0, 1.0]])
    u = np.random.default_rng(5).uniform(size=(20_000, 3))
    mixed = correlate(u, target)
    rho = stats.spearmanr(mixed).statistic
    expected = 6 / np.pi * np.arcsin(target / 2)
    np.testing.assert_allclose(rho, expected, atol=0.02)
    # each margin stays uniform
    for col in mixed.T:
        assert stats.kstest(col, "uniform").pvalue > 0.001


def test_correlated_draws_keep_their_margins() -> None:
    dists = {"x": Distribution(dist="gamma", mean=45, sd=9),
             "y": Distribution(dist="beta", mean=0.5, sd=0.1)}
    corr = {"parameters": ["x", "y"], "matrix": [[1, 0.7], [0.7, 1]]}
    rows = pd.DataFrame(draw_parameters(dists, 3, 3000, correlation=corr))
    assert stats.spearmanr(rows["x"], rows["y"]).statistic == pytest.approx(
        6 / np.pi * np.arcsin(0.35), abs=0.05)
    assert rows["x"].mean() == pytest.approx(45, rel=0.03)
    assert rows["y"].std() == pytest.approx(0.1, rel=0.1)


@pytest.mark.parametrize(("matrix", "words"), [
    ([[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]], "not positive definite"),
    ([[1, 0.2], [0.3, 1]], "symmetric"),
    ([[2, 0], [0, 1]], "diagonal"),
])
def test_bad_correlation_matrix_is_named(matrix: list[list[float]], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        check_correlation(matrix)


# --------------------------------------------------------------------------- on a real comparison


def test_comparison_gets_decision_tables_section_and_workbook(
        tiny_result: CompareResult, tmp_path: Path) -> None:  # noqa: F811
    decision_ = tiny_result.decision
    assert decision_ is not None, "three PSA parameters and six replications: a metamodel fits"
    tables = tiny_result.tables()
    for name in ("tornado", "threshold_analysis", "evppi_groups", "decision_metamodel"):
        assert name in tables and not tables[name].empty, name
    designs = set(tiny_result.comparison.names) - {"usual_care"}
    assert set(decision_.tornado["design"]) == designs
    html = render_decision_section(decision_, "GBP")
    assert html.lstrip().startswith("<section id=\"decision\">")
    assert html.count("<svg") == len(designs), "one tornado figure per design"
    for words in ("Threshold analysis", "EVPPI", "network.in_person_gain", "id=\"evppi\""):
        assert words in html, words
    assert "Budget impact" not in html, "no population: no budget-impact table"
    path = write_workbook(tables, tmp_path / "compare.xlsx")
    book = pd.read_excel(path, sheet_name=None)
    assert list(book) == [name[:31] for name in tables]
    for name, frame in tables.items():
        assert len(book[name[:31]]) == len(frame), name


def test_psa_correlation_is_checked_with_its_key_path(tmp_path: Path) -> None:
    bad = TINY + ("psa_correlation:\n  parameters: [economics.staff_cost_per_hour, "
                  "network.in_person_gain, clinical.utility_per_hba1c_pct]\n"
                  "  matrix: [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]\n")
    with pytest.raises(ScenarioError, match=r"psa_correlation\.matrix: .*not positive definite"):
        load_comparison(write_compare(tmp_path, bad))
    unknown = TINY + ("psa_correlation:\n  parameters: [economics.staff_cost_per_hour, "
                      "behaviour.support_effect_logit]\n  matrix: [[1, 0.5], [0.5, 1]]\n")
    with pytest.raises(ScenarioError, match="is not a psa parameter"):
        load_comparison(write_compare(tmp_path, unknown))
    good = TINY + ("psa_correlation:\n  parameters: [economics.staff_cost_per_hour, "
                   "network.in_person_gain]\n  matrix: [[1, 0.5], [0.5, 1]]\n")
    draws = load_comparison(write_compare(tmp_path, good)).draws
    plain = load_comparison(write_compare(tmp_path, TINY)).draws
    assert (draws["clinical.utility_per_hba1c_pct"]
            == plain["clinical.utility_per_hba1c_pct"]).all(), "others keep their draws"
    assert not (draws["network.in_person_gain"] == plain["network.in_person_gain"]).all()


@pytest.mark.parametrize(("extra", "words"), [
    (["--population", "0", "--uptake", "0.1"], "--population must be at least 1"),
    (["--population", "100", "--uptake", "1.5"], "--uptake takes shares between 0 and 1"),
    (["--population", "100"], "--uptake takes shares"),
])
def test_budget_options_are_checked_before_running(tmp_path: Path, extra: list[str],
                                                   words: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    path = write_compare(tmp_path)
    assert cli.main(["compare", str(path), "--dry-run", *extra]) == 2
    assert words in capsys.readouterr().err


# --------------------------------------------------------------------------- distributions


@pytest.mark.parametrize(("spec", "mean", "sd"), [
    ({"dist": "normal", "mean": -0.02, "sd": 0.007}, -0.02, 0.007),
    ({"dist": "lognormal", "mean": 12.7, "sd": 5}, 12.7, 5),
    ({"dist": "gamma", "mean": 45, "sd": 9}, 45, 9),
    ({"dist": "beta", "mean": 0.3, "sd": 0.1}, 0.3, 0.1),
    ({"dist": "uniform", "low": 1, "high": 4}, 2.5, 3 / 12**0.5),
    ({"dist": "triangular", "low": 20, "mode": 35, "high": 60}, 115 / 3,
     ((20**2 + 35**2 + 60**2 - 20 * 35 - 20 * 60 - 35 * 60) / 18) ** 0.5),
])
def test_each_distribution_has_its_moments_and_ppf(spec: dict, mean: float, sd: float) -> None:
    dist = Distribution(**spec)
    draws = pd.DataFrame(draw_parameters({"x": dist}, 11, 20_000))["x"]
    assert draws.mean() == pytest.approx(mean, abs=4 * sd / 20_000**0.5)
    assert draws.std() == pytest.approx(sd, rel=0.03)
    u = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(dist.ppf(u), np.quantile(draws, u), rtol=0.03, atol=0.03 * sd)


def test_relative_spread_resolves_at_the_default() -> None:
    dist = Distribution(dist="gamma", mean="default", relative={"sd": 0.2})
    assert dist.pending
    resolved = dist.at_default(50.0)
    assert (resolved.mean, resolved.sd, resolved.pending) == (50.0, 10.0, False)
    with pytest.raises(ValueError, match="needs a distribution with an sd"):
        Distribution(dist="uniform", low=0, high=1, relative={"sd": 0.2})
