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
