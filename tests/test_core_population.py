"""Population moments: drawn attributes match their specification (n = 50,000)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import load_scenario
from sim.core.population import draw_patients

N = 50_000
SE = 1 / np.sqrt(N)  # standard error per unit SD; tolerances are 5 standard errors


@pytest.fixture(scope="module")
def drawn():
    # bounds at least 3.5 SD away: clipping moves the moments by far less than the tolerance
    sc = load_scenario({"population": {
        "size": N, "female_share": 0.45, "never_attend_share": 0.18,
        "age_years": {"mean": 62, "sd": 10, "min": 0, "max": 120},
        "baseline_hba1c_pct": {"mean": 8.2, "sd": 1.2, "min": 4, "max": 20},
        "digital_literacy": {"alpha": 3, "beta": 2},
    }})
    return sc, draw_patients(sc.population, sc.behaviour, np.random.default_rng(11))


@pytest.mark.parametrize("name, attr, mean, sd", [
    ("age", "age_years", 62.0, 10.0),
    ("baseline HbA1c", "hba1c0_pct", 8.2, 1.2),
    ("digital literacy Beta(3, 2)", "digital_literacy", 0.6, 0.2),  # sqrt(ab/((a+b)^2(a+b+1)))
])
def test_means_and_sds_match_the_spec(drawn, name, attr, mean, sd):
    x = getattr(drawn[1], attr)
    assert x.mean() == pytest.approx(mean, abs=5 * sd * SE), f"{name} mean {x.mean():.4f}"
    # SE of an SD is about sd / sqrt(2n)
    assert x.std() == pytest.approx(sd, abs=5 * sd * SE / np.sqrt(2) + 1e-12), \
        f"{name} SD {x.std():.4f}"


def test_shares_match_the_spec(drawn):
    sc, p = drawn
    binomial = 5 * np.sqrt(0.25) * SE  # 5 standard errors of a proportion (at most 0.011)
    assert p.female.mean() == pytest.approx(0.45, abs=binomial), "female share"
    never = float((p.attendance_prob == 0).mean())
    assert never == pytest.approx(0.18, abs=binomial), f"never-attend share {never:.4f}"
    assert p.size == N and all(a.shape == (N,) for a in vars(p).values()
                               if isinstance(a, np.ndarray))


def test_clipped_attributes_stay_within_their_bounds():
    sc = load_scenario({"population": {"size": 20_000}})
    p = draw_patients(sc.population, sc.behaviour, np.random.default_rng(3))
    spec = sc.population.baseline_hba1c_pct
    assert spec.min <= p.hba1c0_pct.min() and p.hba1c0_pct.max() <= spec.max, "HbA1c clipped"
    posting = p.posting_activity
    assert (posting >= 0).all(), "posting multipliers are lognormal or 0 (the hurdle)"
    can_post = float((posting > 0).mean())
    share = sc.behaviour.posting_share
    assert can_post == pytest.approx(share, abs=5 * np.sqrt(share * (1 - share) / p.size)), \
        f"share who can post {can_post:.4f}"
