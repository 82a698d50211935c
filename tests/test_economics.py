"""Known-answer tests for sim.core.economics (discounting, QALYs, NMB) and
sim.analyses.cea (ICERs, CEAC, EVPI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analyses.cea import ce_plane_points, ceac, ceaf, evpi, icer_table
from sim.core.economics import (
    DAYS_PER_YEAR,
    discount_factor,
    discounted_sum,
    format_money,
    net_monetary_benefit,
    qalys_from_daily_utility,
)
from sim.params.errors import ScenarioError

# Float tolerance for closed-form arithmetic: a few ulps of accumulated rounding.
EXACT = 1e-12


# --------------------------------------------------------------------------- discounting


def test_discount_factor_known_values():
    assert discount_factor(0, 0.035) == 1.0, "day 0 must not be discounted"
    # One (Julian) year at 3.5%: 1 / 1.035 exactly, up to float rounding.
    assert discount_factor(DAYS_PER_YEAR, 0.035) == pytest.approx(1 / 1.035, rel=EXACT)
    # Two years: 1 / 1.035**2.
    assert discount_factor(2 * DAYS_PER_YEAR, 0.035) == pytest.approx(1 / 1.035**2, rel=EXACT)
    # Rate 0: no discounting at any horizon.
    assert discount_factor(10_000, 0.0) == 1.0


def test_discount_factor_types_and_monotonic():
    assert isinstance(discount_factor(3, 0.035), float), "scalar in, float out"
    days = np.arange(0, 4000, 100)
    f = discount_factor(days, 0.035)
    assert isinstance(f, np.ndarray) and f.shape == days.shape
    assert np.all(np.diff(f) < 0), "later days must be discounted more"


@pytest.mark.parametrize("bad_rate", [3.5, -0.01, float("nan")])
def test_discount_rate_validation(bad_rate):
    with pytest.raises(ScenarioError):
        discount_factor(1, bad_rate)


def test_discounted_sum_geometric_series():
    n, rate = 1000, 0.035
    v = (1 + rate) ** (-1 / DAYS_PER_YEAR)  # one day's discount factor
    expected = (1 - v**n) / (1 - v)  # sum_{d=0}^{n-1} v**d
    # Relative 1e-10: summing 1000 terms accumulates more rounding than a single product.
    assert discounted_sum(np.ones(n), rate) == pytest.approx(expected, rel=1e-10)
    assert discounted_sum(np.ones(n), 0.0) == n, "undiscounted sum of ones is the day count"


def test_discounted_sum_start_day_shifts_by_its_factor():
    values = np.linspace(1, 2, 50)
    base = discounted_sum(values, 0.035)
    shifted = discounted_sum(values, 0.035, start_day=730)
    assert shifted == pytest.approx(base * discount_factor(730, 0.035), rel=EXACT)


def test_discounted_sum_rows_are_independent():
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    per_row = discounted_sum(values, 0.035)
    assert per_row.shape == (2,)
    assert per_row[1] == pytest.approx(discounted_sum(values[1], 0.035), rel=EXACT)


def test_qalys_constant_utility_undiscounted():
    u = 0.77  # baseline EQ-5D-3L utility (Redenz 2023)
    # 4 x 365.25 = 1461 whole days is exactly 4 years, so 4 * u QALYs.
    assert qalys_from_daily_utility(np.full(1461, u), 0.0) == pytest.approx(4 * u, rel=EXACT)
    # 365 days is 365/365.25 of a year.
    assert qalys_from_daily_utility(np.full(365, u), 0.0) == pytest.approx(
        u * 365 / DAYS_PER_YEAR, rel=EXACT
    )


def test_qalys_discounting_lowers_long_horizons():
    u = np.full(10 * 365, 0.8)
    undiscounted = qalys_from_daily_utility(u, 0.0)
    discounted = qalys_from_daily_utility(u, 0.035)
    assert discounted < undiscounted, (
        f"discounting should lower QALYs: {discounted} >= {undiscounted}"
    )
    # Continuous-time annuity over T years: (1 - 1.035**-T) / (T ln 1.035), about 0.846 for
    # T = 3650/365.25. rel 1e-3: daily steps vs the integral differ by about half a day's
    # discounting (~5e-5 relative).
    years = 3650 / DAYS_PER_YEAR
    annuity = (1 - 1.035**-years) / (years * np.log(1.035))
    assert discounted / undiscounted == pytest.approx(annuity, rel=1e-3)


# --------------------------------------------------------------------------- ICER table


def _row(table: pd.DataFrame, design: str) -> pd.Series:
    return table.set_index("design").loc[design]


def test_icer_table_textbook_from_brief():
    # A 0/0, B 100/1.0, C 150/1.2, D 200/0.9.
    # D costs more than B and C and is less effective than both -> dominated (by B, the first
    # cheaper-and-better option). Frontier A-B-C: ICER(B vs A) = 100/1 = 100;
    # ICER(C vs B) = 50/0.2 = 250. 100 < 250, so no extended dominance.
    df = pd.DataFrame(
        {"design": list("ABCD"), "cost": [0, 100, 150, 200], "qalys": [0, 1.0, 1.2, 0.9]}
    )
    t = icer_table(df)
    assert list(t["design"]) == list("ABCD"), "rows are sorted by cost"
    assert list(t["status"]) == ["reference", "ICER", "ICER", "dominated"]
    assert _row(t, "B")["icer"] == pytest.approx(100, rel=EXACT)
    assert _row(t, "C")["icer"] == pytest.approx(250, rel=EXACT)
    assert np.isnan(_row(t, "D")["icer"]) and np.isnan(_row(t, "A")["icer"])
    assert _row(t, "D")["note"] == "dominated by B"


def test_icer_table_strict_and_extended_dominance():
    # A 0/0, B 100/0.5, C 150/1.2, D 200/0.9, E 300/1.5.
    # D: C is cheaper (150 < 200) and better (1.2 > 0.9) -> dominated by C.
    # Non-dominated, by cost: A, B, C, E.
    #   ICER(B vs A) = 100/0.5 = 200; ICER(C vs B) = 50/0.7 = 71.4 < 200 -> B is extendedly
    #   dominated (a mix of A and C gives more QALYs for the same cost).
    # Recompute: ICER(C vs A) = 150/1.2 = 125; ICER(E vs C) = 150/0.3 = 500 (125 < 500: done).
    df = pd.DataFrame(
        {
            "design": list("ABCDE"),
            "cost": [0, 100, 150, 200, 300],
            "qalys": [0, 0.5, 1.2, 0.9, 1.5],
        }
    )
    t = icer_table(df)
    status = dict(zip(t["design"], t["status"], strict=True))
    assert status == {
        "A": "reference",
        "B": "extendedly dominated",
        "C": "ICER",
        "D": "dominated",
        "E": "ICER",
    }
    assert _row(t, "C")["icer"] == pytest.approx(125, rel=EXACT)
    assert _row(t, "C")["inc_cost"] == pytest.approx(150, rel=EXACT)
    assert _row(t, "C")["inc_effect"] == pytest.approx(1.2, rel=EXACT)
    assert _row(t, "E")["icer"] == pytest.approx(500, rel=EXACT)
    assert _row(t, "B")["note"] == "extendedly dominated by a mix of A and C"
    assert list(t.loc[t["on_frontier"], "design"]) == ["A", "C", "E"]
    # ICERs along the frontier must increase (the definition of an efficient frontier).
    assert t.loc[t["on_frontier"], "icer"].dropna().is_monotonic_increasing


def test_icer_table_extended_dominance_is_iterative():
    # A 0/0, B 10/0.1, C 30/0.2, D 40/0.5.
    # Round 1: ICERs B 100, C 200, D 10/0.3 = 33.3 -> C (200 > 33.3) extendedly dominated.
    # Round 2: ICERs B 100, D vs B 30/0.4 = 75 -> B (100 > 75) extendedly dominated.
    # Final: D vs A = 40/0.5 = 80.
    df = pd.DataFrame(
        {"design": list("ABCD"), "cost": [0, 10, 30, 40], "qalys": [0, 0.1, 0.2, 0.5]}
    )
    t = icer_table(df)
    assert list(t["status"]) == [
        "reference",
        "extendedly dominated",
        "extendedly dominated",
        "ICER",
    ]
    assert _row(t, "D")["icer"] == pytest.approx(80, rel=EXACT)


def test_icer_table_does_not_depend_on_row_order():
    df = pd.DataFrame(
        {"design": list("ABCDE"), "cost": [0, 100, 150, 200, 300], "qalys": [0, 0.5, 1.2, 0.9, 1.5]}
    )
    a = icer_table(df)
    b = icer_table(df.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_icer_table_ties_without_division_by_zero():
    # Same effect, higher cost -> dominated; same cost, lower effect -> dominated;
    # exact twin -> "equivalent", never a 0/0 ratio.
    df = pd.DataFrame(
        {
            "design": ["base", "same_effect_dearer", "same_cost_worse", "twin", "better"],
            "cost": [10.0, 20.0, 10.0, 10.0, 30.0],
            "qalys": [1.0, 1.0, 0.5, 1.0, 1.1],
        }
    )
    with np.errstate(all="raise"):  # any division by zero would raise here
        t = icer_table(df, comparator="base")
    assert _row(t, "base")["status"] == "comparator"
    assert _row(t, "same_effect_dearer")["status"] == "dominated"
    assert _row(t, "same_cost_worse")["status"] == "dominated"
    assert _row(t, "twin")["status"] == "equivalent"
    assert _row(t, "better")["icer"] == pytest.approx(200, rel=EXACT)  # 20 / 0.1


def test_icer_table_verdicts_vs_comparator():
    # usual 100/1.0. cheap_good 80/1.1 (SE), dear_bad 150/0.9 (NW), ne 300/1.2
    # (NE: 200/0.2 = 1,000 per QALY), sw 50/0.9 (SW: -50/-0.1 = 500 saved per QALY lost),
    # clone 100/1.0 (origin).
    df = pd.DataFrame(
        {
            "design": ["usual", "cheap_good", "dear_bad", "ne", "sw", "clone"],
            "cost": [100.0, 80.0, 150.0, 300.0, 50.0, 100.0],
            "qalys": [1.0, 1.1, 0.9, 1.2, 0.9, 1.0],
        }
    )
    t = icer_table(df, comparator="usual").set_index("design")
    v = t["verdict_vs_comparator"]
    assert v["usual"] == "comparator"
    assert v["cheap_good"] == "dominant" and np.isnan(t.loc["cheap_good", "icer_vs_comparator"])
    assert v["dear_bad"] == "dominated" and np.isnan(t.loc["dear_bad", "icer_vs_comparator"])
    assert v["ne"] == "ICER GBP 1,000/QALY"
    assert t.loc["ne", "icer_vs_comparator"] == pytest.approx(1000, rel=EXACT)
    assert v["sw"] == "cheaper, less effective: ICER GBP 500/QALY saved per QALY lost"
    assert v["clone"] == "same cost and effect"
    assert t.loc["clone", "inc_cost_vs_comparator"] == 0.0
    assert t.loc["clone", "inc_effect_vs_comparator"] == 0.0
    assert np.isnan(t.loc["clone", "icer_vs_comparator"])
    # usual is dominated by cheap_good; cheap_good is on the frontier and dominates it.
    assert t.loc["usual", "status"] == "dominated"
    assert t.loc["cheap_good", "status"] == "dominant"
    # Never a negative ratio anywhere.
    ratios = pd.concat([t["icer"], t["icer_vs_comparator"]]).dropna()
    assert (ratios > 0).all(), f"negative ratios shown: {ratios[ratios <= 0]}"


def test_icer_table_keeps_extra_columns_and_rejects_bad_input():
    df = pd.DataFrame({"design": ["a", "b"], "cost": [0.0, 1.0], "qalys": [0.0, 1.0], "n": [5, 6]})
    assert "n" in icer_table(df).columns
    with pytest.raises(ScenarioError, match="did you mean 'a'"):
        icer_table(df, comparator="A")
    with pytest.raises(ScenarioError, match="unique"):
        icer_table(pd.concat([df, df]))
    with pytest.raises(ScenarioError, match="missing column"):
        icer_table(df, effect="qaly")


def test_format_money():
    assert format_money(12345.4) == "GBP 12,345"
    assert format_money(-50) == "-GBP 50.00"
    assert format_money(float("nan")) == "n/a"
    assert format_money(28800, currency="USD") == "USD 28,800"


# --------------------------------------------------------------------------- NMB and PSA


def test_net_monetary_benefit():
    assert net_monetary_benefit(1000.0, 0.1, 20_000) == pytest.approx(1000.0, rel=EXACT)
    nmb = net_monetary_benefit(np.array([0.0, 500.0]), np.array([0.0, 0.01]), 20_000)
    np.testing.assert_allclose(nmb, [0.0, -300.0], rtol=EXACT, atol=EXACT)


def _psa(seed: int = 0, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    costs = rng.normal([0.0, 300.0, 600.0], 150.0, size=(n, 3))
    qalys = rng.normal([0.0, 0.02, 0.025], 0.01, size=(n, 3))
    return costs, qalys


def test_ceac_sums_to_one_with_ties():
    costs, qalys = _psa()
    # Column 3 duplicates column 1 exactly, so every draw has a tie for those two; and at
    # threshold 0 a second tie is forced below by equal costs.
    costs = np.column_stack([costs, costs[:, 1]])
    qalys = np.column_stack([qalys, qalys[:, 1]])
    thresholds = np.array([0.0, 10_000, 20_000, 30_000, 100_000])
    curve = ceac(costs, qalys, thresholds, ["usual", "im", "hybrid", "im_copy"])
    totals = curve.groupby("threshold")["probability"].sum()
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=EXACT)  # float sum of k/n shares
    p = curve.pivot(index="threshold", columns="design", values="probability")
    np.testing.assert_array_equal(p["im"], p["im_copy"])  # ties are split evenly

    # All-equal NMB at threshold 0 (equal costs): each of 3 designs gets exactly 1/3.
    flat = ceac(np.ones((10, 3)), qalys[:10, :3], np.array([0.0]), ["a", "b", "c"])
    np.testing.assert_allclose(flat["probability"], 1 / 3, rtol=EXACT)


def test_ceac_always_dominant_design_has_probability_one():
    costs, qalys = _psa()
    costs[:, 2] = costs.min(axis=1) - 1.0  # always cheapest
    qalys[:, 2] = qalys.max(axis=1) + 0.01  # and always most effective
    curve = ceac(costs, qalys, np.linspace(0, 50_000, 6), ["a", "b", "c"])
    best = curve[curve["design"] == "c"]["probability"]
    np.testing.assert_array_equal(best, 1.0)


def test_ceac_rises_with_threshold_for_effective_costly_design():
    costs, qalys = _psa()
    curve = ceac(costs, qalys, np.array([0.0, 100_000.0]), ["a", "b", "c"])
    p = curve[curve["design"] == "a"]["probability"].to_numpy()
    # The cheap, least effective design should lose favour as WTP rises.
    assert p[0] > p[1], f"cheap design should be less acceptable at high WTP: {p}"


def test_ceaf_switches_at_the_icer():
    # Deterministic: B costs 1,000 more for 0.1 more QALY -> ICER 10,000 GBP/QALY.
    costs = np.array([[0.0, 1000.0]])
    qalys = np.array([[0.0, 0.1]])
    front = ceaf(costs, qalys, np.array([5_000.0, 15_000.0]), ["A", "B"])
    assert list(front["design"]) == ["A", "B"]
    assert front["expected_nmb"].iloc[1] == pytest.approx(500.0, rel=EXACT)  # 15,000*0.1 - 1,000


def test_ceaf_agrees_with_icer_frontier():
    # With one draw, the NMB-optimal design at threshold w is the frontier option with the
    # largest ICER <= w (frontier from the textbook example: A -> C at 125 -> E at 500).
    cost = np.array([0.0, 100.0, 150.0, 200.0, 300.0])
    qaly = np.array([0.0, 0.5, 1.2, 0.9, 1.5])
    names = list("ABCDE")
    front = ceaf(cost[None, :], qaly[None, :], np.array([100.0, 200.0, 1000.0]), names)
    assert list(front["design"]) == ["A", "C", "E"]


def test_evpi_zero_when_one_design_always_best():
    costs, qalys = _psa()
    costs[:, 2] = costs.min(axis=1) - 1.0
    qalys[:, 2] = qalys.max(axis=1) + 0.01
    values = evpi(costs, qalys, np.array([0.0, 20_000.0, 30_000.0]))["evpi"]
    np.testing.assert_allclose(values, 0.0, atol=1e-9)  # float rounding of means only


def test_evpi_hand_computed():
    # At 1,000/QALY: design 0 NMB (0, 0); design 1 NMB (1000*0.01 - 0, 0 - 6) = (10, -6).
    # E[max NMB] = (10 + 0)/2 = 5; max E[NMB] = max(0, 2) = 2; EVPI = 3.
    costs = np.array([[0.0, 0.0], [0.0, 6.0]])
    qalys = np.array([[0.0, 0.01], [0.0, 0.0]])
    value = evpi(costs, qalys, np.array([1000.0]))["evpi"].iloc[0]
    assert value == pytest.approx(3.0, rel=EXACT)
    assert (evpi(*_psa(), np.array([20_000.0]))["evpi"] > 0).all(), "uncertain choice: EVPI > 0"


def test_ce_plane_points():
    costs, qalys = _psa(n=5)
    pts = ce_plane_points(costs, qalys, 0, names=["usual", "im", "hybrid"])
    assert len(pts) == 5 * 2 and set(pts["design"]) == {"im", "hybrid"}
    assert (pts["comparator"] == "usual").all()
    row = pts[(pts["draw"] == 3) & (pts["design"] == "hybrid")].iloc[0]
    assert row["inc_cost"] == pytest.approx(costs[3, 2] - costs[3, 0], rel=EXACT)
    assert row["inc_effect"] == pytest.approx(qalys[3, 2] - qalys[3, 0], rel=EXACT)
    with pytest.raises(ScenarioError):
        ce_plane_points(costs, qalys, 3)


def test_psa_shape_errors():
    with pytest.raises(ScenarioError, match="n_draws, n_designs"):
        ceac(np.ones(3), np.ones(3), np.array([0.0]), ["a", "b", "c"])
    with pytest.raises(ScenarioError, match="names has 2"):
        ceac(np.ones((2, 3)), np.ones((2, 3)), np.array([0.0]), ["a", "b"])
