"""The declared outcomes: one definition of the top-1% share, used by runs and dashboard."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.outcomes import top_share


@pytest.mark.parametrize(("n", "k"), [(1, 1), (99, 1), (150, 1), (199, 1), (200, 2), (1000, 10)])
def test_top_share_counts_n_over_100_writers_at_least_one(n: int, k: int) -> None:
    posts = np.arange(n, 0, -1, dtype=float)  # n, n-1, ..., 1
    expected = posts[:k].sum() / posts.sum()
    assert top_share(np.random.default_rng(0).permutation(posts)) == pytest.approx(expected)


def test_top_share_of_no_posts_is_zero() -> None:
    assert top_share(np.zeros(300)) == 0.0
    assert top_share(np.zeros(0)) == 0.0
