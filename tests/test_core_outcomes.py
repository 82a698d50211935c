"""The declared outcomes: every summary key, and one top-1% share for runs and dashboard."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.outcomes import OUTCOMES, TIMESERIES_COLUMNS, summary_keys, top_share
from sim.params.scenario import load_scenario


@pytest.mark.parametrize(("n", "k"), [(1, 1), (99, 1), (150, 1), (199, 1), (200, 2), (1000, 10)])
def test_top_share_counts_n_over_100_writers_at_least_one(n: int, k: int) -> None:
    posts = np.arange(n, 0, -1, dtype=float)  # n, n-1, ..., 1
    expected = posts[:k].sum() / posts.sum()
    assert top_share(np.random.default_rng(0).permutation(posts)) == pytest.approx(expected)


def test_top_share_of_no_posts_is_zero() -> None:
    assert top_share(np.zeros(300)) == 0.0
    assert top_share(np.zeros(0)) == 0.0


def test_declared_keys_are_exactly_what_a_run_reports() -> None:
    from sim.runner import run

    result = run(load_scenario({}, {"population.size": 24, "run.days": 2}), seed=0)
    assert tuple(result.summary) == summary_keys()
    off = run(load_scenario({}, {"population.size": 24, "run.days": 2,
                                 "lifetime.enabled": False}), seed=0)
    assert tuple(off.summary) == summary_keys(lifetime=False)
    assert tuple(result.timeseries.columns) == TIMESERIES_COLUMNS


def test_every_declared_outcome_is_a_summary_key() -> None:
    keys = set(summary_keys())
    assert all(k in keys or f"{k}_end" in keys for k in OUTCOMES), set(OUTCOMES) - keys
    assert "cost_per_patient_discounted_hba1c_ge8.5" in summary_keys()


def test_time_averaged_outcomes_are_the_mean_of_every_days_means() -> None:
    """AUC per patient-year = mean of the daily population means (recorded every day here)."""
    from sim.runner import run

    result = run(load_scenario({}, {"population.size": 60, "run.days": 40,
                                    "run.record_every_days": 1}), seed=3)
    days = result.timeseries[result.timeseries["day"] > 0]
    for measure, key in (("adherent_share", "adherent_share_auc"),
                         ("hba1c_mean", "hba1c_auc"), ("utility_mean", "utility_auc")):
        assert result.summary[key] == pytest.approx(days[measure].mean(), rel=1e-12)


def test_time_averaged_outcome_of_a_constant_run_is_the_constant() -> None:
    """Known answer: a population that never changes has AUC per patient-year = its level."""
    from sim.core import kernels
    from sim.core.simulation import Ledger, Simulation

    n, horizon = 50, 400
    m = Simulation(load_scenario({}, {"population.size": n}), 1)
    st = m.state._replace(adherent=np.arange(n) < 30, hba1c=np.full(n, 7.25),
                          utility=np.full(n, 0.8))
    ledger = Ledger()
    for _ in range(horizon):
        kernels.SERIAL.observe(m.schedule, st, ledger.values)
    assert ledger.adherent_share_sum / horizon == pytest.approx(0.6)
    assert ledger.hba1c_sum / horizon == pytest.approx(7.25)
    assert ledger.utility_sum / horizon == pytest.approx(0.8)


def test_milestones_snapshot_their_days_and_nothing_else() -> None:
    from types import SimpleNamespace

    from sim.runner import Milestones

    levels = {"pdc_mean": 0.7, "adherent_share": 0.6, "hba1c_mean": 7.25,
              "utility_mean": 0.8, "distress_mean": 20.0, "distress_severe_share": 0.1}
    model = SimpleNamespace(plan=SimpleNamespace(end_day=120, days=400), day=0,
                            population_means=lambda: levels)
    milestones = Milestones(model)  # type: ignore[arg-type]
    stops = []
    while model.day < 400:
        model.day = milestones.next_stop(model.day)
        stops.append(model.day)
        milestones.observe(model)  # type: ignore[arg-type]
    assert stops == [120, 365, 400], "a run stops on each milestone day, then the horizon"
    out = milestones.summary()
    assert out["programme_end_day"] == 120
    assert out["adherent_share_programme_end"] == out["adherent_share_1y"] == 0.6
    unobserved = Milestones(model).summary()  # type: ignore[arg-type]
    assert np.isnan(unobserved["utility_mean_1y"]), "a milestone not reached: NaN"


def test_short_run_milestones_fall_on_the_horizon() -> None:
    from sim.runner import run

    s = run(load_scenario("designs/usual_care", {"population.size": 30, "run.days": 20}),
            seed=1).summary
    assert s["programme_end_day"] == 20, "no channel acts: the programme ends at the horizon"
    assert s["adherent_share_programme_end"] == s["adherent_share_end"]
    assert s["adherent_share_1y"] == s["adherent_share_end"], "a shorter run: its horizon"
    assert all(np.isfinite(s[k]) for k in s if k.endswith(("_1y", "_auc"))), s


def test_im_design_gain_is_seen_at_programme_end_not_at_one_year() -> None:
    """hybrid_kickoff's IM groups close at day 196: its adherent-share gain over usual care
    (same seed) is large then and mostly gone by day 365."""
    from sim.runner import run

    size = {"population.size": 600}
    im = run("designs/hybrid_kickoff", seed=7, overrides=size).summary
    uc = run("designs/usual_care", seed=7, overrides=size).summary
    assert im["programme_end_day"] == 196
    end_gain = im["adherent_share_programme_end"] - uc["adherent_share_programme_end"]
    year_gain = im["adherent_share_1y"] - uc["adherent_share_1y"]
    assert end_gain > 0.1
    assert end_gain > year_gain + 0.08
    assert im["adherent_share_auc"] > uc["adherent_share_auc"] + 0.05
