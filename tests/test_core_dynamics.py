"""Known answers of the science in sim.core.dynamics (scalar calls, no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.core import dynamics as dyn
from sim.core.economics import DAYS_PER_YEAR, discount_factor

EXACT = 1e-12  # same arithmetic in a different order: rounding only


def test_first_order_kinetics_close_one_minus_one_over_e_per_time_constant():
    tau, x, target = 90, 9.0, 7.0
    rate = dyn.relax_rate(tau)
    for _ in range(tau):
        x = dyn.relax(x, target, rate)
    closed = (9.0 - x) / (9.0 - 7.0)
    assert closed == pytest.approx(1 - 1 / math.e, rel=EXACT), \
        f"after tau days the gap must close by 1 - 1/e, closed {closed:.6f}"


def test_logistic_dosing_probabilities_at_known_logits():
    assert dyn.sigmoid(0.0) == pytest.approx(0.5, abs=EXACT), "logit 0 is probability 1/2"
    assert dyn.sigmoid(math.log(3.0)) == pytest.approx(0.75, rel=EXACT), "odds 3 is 3/4"
    assert dyn.sigmoid(-math.log(3.0)) == pytest.approx(0.25, rel=EXACT), "odds 1/3 is 1/4"
    assert dyn.sigmoid(-40.0) == pytest.approx(math.exp(-40.0), rel=1e-15), \
        "small probabilities keep full relative precision"
    assert (dyn.sigmoid(-1000.0), dyn.sigmoid(1000.0)) == (0.0, 1.0), "saturates, no NaN"
    # base 1 + 0.5 x support 2 + norm 0.3 + 0.4 x SE 1 + 0.6 x knowledge 0.5 - 0.8 x dPAID 0.5
    logit = dyn.dose_logit(1.0, 2.0, 0.3, 1.0, 0.5, 0.5, 0.5, 0.4, 0.6, 0.8)
    assert logit == pytest.approx(1.0 + 1.0 + 0.3 + 0.4 + 0.3 - 0.4, rel=EXACT), logit


def test_logistic_variates_take_doses_with_the_sigmoid_probability():
    """The kernels take a dose when logit > log(u / (1 - u)): P = sigmoid(logit)."""
    u = np.random.default_rng(1).random(400_000)
    z = np.log(u) - np.log1p(-u)
    for logit in (-1.0, 0.0, 1.5):
        share = float((logit > z).mean())
        # 5 binomial standard errors of a proportion over 400,000 draws (<= 0.004)
        assert share == pytest.approx(dyn.sigmoid(logit), abs=0.004), (logit, share)


def _utility(u0: float, dh: float, k: float, s: float, dd: float, per_h: float, per_k: float,
             per_s: float, per_d: float, burden: float = 0.0, over: float = 0.0,
             per_b: float = 0.0, per_o: float = 0.0, participation: float = 0.0) -> float:
    return dyn.utility(u0, dh, k, s, dd, burden, over, per_h, per_k, per_s, per_d, per_b, per_o,
                       participation)


def test_utility_equation_at_known_inputs_and_its_bounds():
    # 0.8 - 0.02 x (-1 %-point) + 0.05 x 0.4 + 0.03 x 1 - 0.002 x 10 PAID points
    u = _utility(0.8, -1.0, 0.4, 1.0, 10.0, -0.02, 0.05, 0.03, -0.002)
    assert u == pytest.approx(0.8 + 0.02 + 0.02 + 0.03 - 0.02, rel=EXACT), u
    assert _utility(0.99, -5.0, 1.0, 1.0, 0.0, -0.02, 0.05, 0.03, -0.1) == 1.0, \
        "utility is capped at full health"
    assert _utility(-0.5, 10.0, 0.0, 0.0, 0.0, -0.02, 0.0, 0.0, 0.0) == -0.594, \
        "utility is floored at the EQ-5D-3L minimum"
    # burden 3 h/week x 0.004 and overload 0.5 x 0.01 lower it; participation 0.02 raises it
    lower = _utility(0.7, 0.0, 0.0, 0.0, 0.0, -0.02, 0.05, 0.03, -0.002, burden=3.0, over=0.5,
                     per_b=0.004, per_o=0.01, participation=0.02)
    assert lower == pytest.approx(0.7 - 0.012 - 0.005 + 0.02, rel=EXACT), lower


def test_distress_target_known_answer_and_the_old_relief_term():
    # D0 30 - 3 x support 0.5 - 5 x SE 0.6 - 3 x knowledge 0.4 + 2 x rise 0.5 + 0.5 x 3 h + 2 x 0.25
    target = dyn.distress_target(30.0, 0.5, 0.6, 0.4, 0.5, 3.0, 0.25, 3.0, 5.0, 3.0, 2.0, 0.5,
                                 2.0)
    assert target == pytest.approx(30 - 1.5 - 3.0 - 1.2 + 1.0 + 1.5 + 0.5, rel=EXACT), target
    assert dyn.distress_target(30.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0, 0, 0, 2.0, 0, 0) == 30.0, \
        "a fall in HbA1c does not relieve distress through the HbA1c term"
    assert dyn.distress_target(1.0, 1.0, 2.0, 0, 0, 0, 0, 2.0, 5.0, 0, 0, 0, 0) == 0.0, "floored"
    assert dyn.distress_target(99.0, 0, 0, 0, 3.0, 0, 0, 0, 0, 0, 2.0, 0, 0) == dyn.PAID_MAX
    # with every new weight at 0 it is the original relief term D0 - d_S x support, exactly
    d0, support = 27.3, 0.37
    assert dyn.distress_target(d0, support, 1.1, 0.3, 0.4, 2.0, 1.5, 2.0, 0, 0, 0, 0, 0) \
        == min(max(d0 - 2.0 * support, 0.0), 100.0)


def test_distress_kinetics_burden_and_overload():
    assert dyn.follow(40.0, 31.3, 1.0) == 31.3, "a time constant of 0 lands on the target"
    rate = dyn.relax_rate(30.0)
    assert dyn.follow(40.0, 30.0, rate) == pytest.approx(40.0 - 10.0 * rate, rel=EXACT)
    keep, b = math.exp(-1 / 7), 0.0
    for day in range(7 * 40):  # weekly 3-hour sessions
        b = dyn.burden_update(b, 3.0 if day % 7 == 0 else 0.0, keep)
    week = []
    for day in range(7):
        b = dyn.burden_update(b, 3.0 if day % 7 == 0 else 0.0, keep)
        week.append(b)
    assert np.mean(week) == pytest.approx(3.0, rel=0.01), "weekly 3 h: about 3 h a week"
    assert dyn.overload(5.0, 10.0) == 0.0 and dyn.overload(25.0, 10.0) == 1.5


def test_hba1c_target_and_effect_multiplier():
    # h0 8 - m 1.5 x (slope 1 x (0.9 - 0.7) + lifestyle 0.5 x practice 0.4) - drift 0.1
    target = dyn.hba1c_target(8.0, 0.9, 0.7, 0.4, 1.5, 1.0, 0.5, 0.1)
    assert target == pytest.approx(8.0 - 1.5 * (0.2 + 0.2) - 0.1, rel=EXACT), target
    assert dyn.hba1c_target(4.5, 1.0, 0.0, 1.0, 3.0, 1.0, 1.0, 0.0) == dyn.HBA1C_RANGE_PCT[0]
    assert dyn.effect_multiplier(8.0, 6.0, 8.0, 2.5) == 1.0, "1 at the reference HbA1c"
    assert dyn.effect_multiplier(5.0, 6.0, 8.0, 2.5) == 0.0, "0 below the floor"
    assert dyn.effect_multiplier(13.0, 6.0, 8.0, 2.5) == 2.5, "capped"


def test_adherent_is_pdc_at_or_above_the_threshold():
    assert dyn.PDC_ADHERENT == 0.8
    assert dyn.adherent(72, 90) and not dyn.adherent(71, 90), "72/90 = 0.8 exactly is adherent"
    counts = np.array([23, 24, 30], dtype=np.int32)
    assert dyn.adherent(counts, 30).tolist() == [False, True, True], "per patient, W = 30"


def test_poisson_inverse_has_the_poisson_mean_and_zero_share():
    lam = 1.7
    u = np.random.default_rng(2).random(200_000)
    k = np.array([dyn.poisson_inverse(x, lam) for x in u])
    # 5 standard errors: sqrt(lam / n) = 0.003 for the mean, sqrt(p(1-p)/n) = 0.001 for zeros
    assert k.mean() == pytest.approx(lam, abs=0.015), k.mean()
    assert (k == 0).mean() == pytest.approx(math.exp(-lam), abs=0.005)


def test_poisson_inverse_gives_0_exactly_where_u_is_at_most_the_computed_e_to_the_minus_lam():
    """The shortcut u <= (1 - lam)(1 - 1e-15) must never answer 0 above the computed e^-lam:
    draws at and next to both thresholds, over rates from 0 to 2 (the shortcut's range)."""
    from sim.core import vmath

    g = np.random.default_rng(5)
    lams = np.concatenate([g.uniform(0.0, 1.0, 3000), g.uniform(0.0, 1e-6, 500),
                           g.uniform(0.99, 2.0, 500), [0.0, 1.0]])
    for lam in lams:
        p = vmath.exp(-float(lam))
        shortcut = (1.0 - lam) * dyn._BELOW_ONE_MINUS_LAM
        assert shortcut <= p, lam
        for u in (p, np.nextafter(p, 0.0), np.nextafter(p, 1.0), shortcut,
                  np.nextafter(shortcut, 1.0), np.nextafter(shortcut, 0.0)):
            if 0.0 < u < 1.0:
                assert (dyn.poisson_inverse(float(u), float(lam)) == 0) == (u <= p), (lam, u)


def test_poisson_inverse_stops_where_its_summed_cdf_stops_short_of_one() -> None:
    """For u within 1e-15 of 1 the float sum of the Poisson probabilities can stay below u;
    the count is then where the terms stop adding, not the loop's cap of 1000."""
    for lam in (0.5, 1.7, 6.0, 19.0, 39.0):
        k = dyn.poisson_inverse(np.nextafter(1.0, 0.0), lam)
        assert lam < k < lam + 20 * math.sqrt(lam) + 20, (lam, k)


@pytest.mark.parametrize("lam", [0.3, 6.0, 699.0, 700.5, 1000.0, 1e5])
def test_poisson_inverse_is_the_poisson_quantile(lam: float) -> None:
    """Exact inversion on both sides of POISSON_SUM_MAX (the CDF summed from 0, or from the
    mode where exp(-lam) underflows): before, rates above 745 all drew the loop's cap of 1000."""
    from scipy import stats

    u = np.random.default_rng(3).uniform(1e-9, 1.0 - 1e-9, 2_000)
    k = np.array([dyn.poisson_inverse(x, lam) for x in u])
    assert np.array_equal(k, stats.poisson.ppf(u, lam))


def test_norms_simple_and_complex():
    assert dyn.simple_norm(1.5, 3.0, 0.4) == pytest.approx(0.2, rel=EXACT), "0.4 x half adherent"
    assert dyn.simple_norm(0.0, 0.0, 0.4) == 0.0, "no ties, no norm"
    assert dyn.complex_norm(1.0, 2.0, 0.4) == 0.0, "one adherent neighbour is below threshold 2"
    assert dyn.complex_norm(2.0, 2.0, 0.4) == 0.4


def test_graded_norm_rises_with_the_count_and_caps():
    """p_k = min(p1 r^(k-1), 1): 0.1, 0.3, 0.9, then 1; non-responders and waning scale it."""
    first, growth, effect = 0.1, 3.0, 2.0
    got = [dyn.graded_norm(k, first, growth, True, 1.0, effect) for k in range(6)]
    assert got == pytest.approx([0.0, 0.2, 0.6, 1.8, 2.0, 2.0], rel=EXACT)
    assert dyn.graded_norm(3.0, first, growth, False, 1.0, effect) == 0.0, "not responsive"
    assert dyn.graded_norm(2.0, first, growth, True, 0.5, effect) == pytest.approx(0.3, rel=EXACT)
    assert dyn.graded_norm(50.0, 0.0, 1e300, True, 1.0, effect) == 0.0, "no 0 x inf"


def test_graded_norm_threshold_limit_is_complex_norm():
    """p1 -> 0 with p1 r = 1 (exact powers of two): the threshold-2 norm bit for bit from k = 2."""
    first, growth = 2.0 ** -40, 2.0 ** 40
    for k in (0.0, 2.0, 3.0, 6.0):
        assert dyn.graded_norm(k, first, growth, True, 1.0, 6.0) == dyn.complex_norm(k, 2.0, 6.0)
    assert 0 < dyn.graded_norm(1.0, first, growth, True, 1.0, 6.0) < 1e-11


def test_knowledge_and_practice_saturate():
    assert dyn.knowledge_gain(0.4, 0.0, 10.0) == 0.0
    gain = dyn.knowledge_gain(0.4, 10.0, 10.0)
    assert gain == pytest.approx(0.6 * (1 - math.exp(-1)), rel=EXACT), "gap x (1 - e^-h/scale)"
    assert dyn.practice_target(1.0, 1.0, 5.0, 0.3, 0.5) == 1.0, "practice is capped at 1"
    assert dyn.practice_target(0.5, 0.0, 0.0, 0.3, 0.5) == pytest.approx(0.15, rel=EXACT), \
        "without contact only the retained share of knowledge-driven practice remains"


def test_discount_factor_the_model_uses_matches_annual_compounding():
    d, r = 100, 0.035
    assert discount_factor(d, r) == (1.0 + r) ** (-d / DAYS_PER_YEAR), \
        "the model's daily factor must equal the formula bit for bit"
    assert discount_factor(DAYS_PER_YEAR, r) == pytest.approx(1 / 1.035, rel=EXACT)
