"""The science: small pure functions of one patient (or one tie), units in docstrings.

Each function is compiled with numba and called per patient from the fused daily
kernels in ``sim.core.kernels``; each is also callable from Python on scalars, which is how
the tests check them. Nothing here draws random numbers: uniforms are passed in, so
every random quantity is a fixed transform of its stream's draws (common random
numbers). Compiled with numpy's error model (``sim.core.vmath`` says why): a division by zero
gives inf or NaN instead of raising; the scenario schema keeps every divisor positive.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from numba import njit

from sim.core import vmath
from sim.core.numba_cache import drop_stale_cache

if TYPE_CHECKING:
    import numpy as np

drop_stale_cache(__file__, vmath.__file__)  # the functions inline vmath's


def relax_rate(time_constant_days: float) -> float:
    """Daily fraction of the gap closed by first-order kinetics: 1 - exp(-1 / tau)."""
    return -math.expm1(-1.0 / time_constant_days)


@njit(cache=True, error_model="numpy")
def relax(x: float, target: float, rate: float) -> float:
    """One day of first-order relaxation of ``x`` toward ``target``."""
    return x + (target - x) * rate


@njit(cache=True, error_model="numpy")
def toward_one(x: float, amount: float) -> float:
    """Close a fraction ``amount`` (capped at 1) of the gap between ``x`` and 1."""
    return x + min(amount, 1.0) * (1.0 - x)


@njit(cache=True, inline="always", error_model="numpy")
def saturating(messages: float, half_messages: float, maximum: float) -> float:
    """Daily support from rapport-weighted messages read.

    Bounded, increasing and concave: ``maximum * (1 - exp(-messages / half_messages))`` (63% of the
    maximum at ``half``).
    """
    if messages == 0.0:  # the common day without messages, without computing expm1
        return 0.0
    return -maximum * vmath.expm1(-messages / half_messages)


@njit(cache=True, error_model="numpy")
def combine_support(first: float, second: float, maximum: float) -> float:
    """The day's support from two sources: the second fills its share of the gap the first leaves.

    ``first + second * max(maximum - first, 0)`` with ``second`` in [0, 1]: for inputs in
    [0, maximum] it is ``maximum * (1 - (1 - first/maximum) * (1 - second))`` (support from any
    source, bounded).
    """
    return first + second * max(maximum - first, 0.0)


@njit(cache=True, error_model="numpy")
def sigmoid(x: float) -> float:
    """Logistic function, logit -> probability.

    ``1 / (1 + exp(-x))``: exp costs half of tanh (the dose draw of every patient-day;
    benchmarks/results.md), keeps small probabilities to full relative precision, and
    saturates cleanly (exp overflows to inf, giving 0).
    """
    return 1.0 / (1.0 + vmath.exp(-x))


POISSON_SUM_MAX = 700.0
"""Above this rate Poisson counts are inverted from the mode: exp(-lam) underflows at 745."""


_BELOW_ONE_MINUS_LAM = 1.0 - 1e-15
"""e^-lam >= 1 - lam, and ``vmath.exp`` is within 1 ulp (2.2e-16): a uniform at or below
(1 - lam) x this is at or below the computed e^-lam, so its count is 0 (most draws on IM days:
rates are a few posts a week; 1.7 ms of a 2,000-patient run's 50 ms of days, results.md
2026-12-04 00:10)."""


@njit(cache=True, inline="always", error_model="numpy")
def no_poisson_count(u: float, lam: float) -> bool:
    """Whether ``poisson_inverse(u, lam)`` is 0 for the cheap reason: u <= 1 - lam < e^-lam."""
    return u <= (1.0 - lam) * _BELOW_ONE_MINUS_LAM


@njit(cache=True, error_model="numpy")
def poisson_inverse(u: float, lam: float) -> int:
    """Poisson count by CDF inversion of one uniform u in (0, 1) (CRN-safe); lam finite.

    A patient's count depends only on its own uniform and rate, whatever the others do
    (numpy's Poisson sampler consumes a variable number of draws per element). The common
    count 0 costs a multiplication and a comparison where u <= 1 - lam, else one exp. The CDF
    is summed from 0 up to ``POISSON_SUM_MAX``, from the mode above it
    (``_poisson_from_mode``); the sum stops where its terms stop adding (u within 1e-15 of 1).
    """
    if lam > POISSON_SUM_MAX:
        return _poisson_from_mode(u, lam)
    if no_poisson_count(u, lam):
        return 0
    p = vmath.exp(-lam)
    if u <= p:
        return 0
    return _count_up(u, lam, 0, p, p)


@njit(inline="always", error_model="numpy")
def _count_up(u: float, lam: float, k: int, p: float, cdf: float) -> int:
    """The count from k, with p = p_k and cdf = F(k) < u: step up until F(k) >= u.

    Above the mode, stop where the terms stop adding (the summed CDF stopped short of u).
    """
    while u > cdf:
        k += 1
        p *= lam / k
        if k > lam and cdf + p == cdf:
            break
        cdf += p
    return k


@njit(cache=True, error_model="numpy")
def _poisson_from_mode(u: float, lam: float) -> int:
    """``poisson_inverse`` for a large rate: probabilities from the mode m = floor(lam).

    p_m = exp(-lam + m ln lam - ln m!); F(m) sums p_m and the terms below it down to where
    they stop adding; the count walks down from m while u <= F(k - 1), or up while u > F(k).
    """
    k = int(math.floor(lam))
    p_mode = vmath.exp(-lam + k * vmath.log(lam) - math.lgamma(k + 1.0))
    below = 0.0
    p = p_mode
    for j in range(k, 0, -1):
        p *= j / lam
        if below + p == below:
            break
        below += p
    cdf = below + p_mode  # F(m)
    p = p_mode
    if u <= cdf:
        while k > 0 and u <= cdf - p:  # u <= F(k - 1)
            cdf -= p
            p *= k / lam
            k -= 1
        return k
    return _count_up(u, lam, k, p, cdf)  # k + 1 > lam: the stop applies from the first step


PDC_ADHERENT = 0.8
"""Proportion of days covered at or above which a patient counts as adherent (the PDC
convention; Piragine 2023, Rozenfeld 2008)."""


@njit(cache=True, error_model="numpy")
def adherent(days_covered: int | np.ndarray, window_days: int) -> bool | np.ndarray:
    """Whether PDC = days covered / window days reaches ``PDC_ADHERENT`` (per patient).

    The 1e-9 guards against 0.8 x W rounding up past a whole number of days in floating
    point, which would ask for one covered day more.
    """
    return days_covered >= PDC_ADHERENT * window_days - 1e-9


@njit(cache=True, error_model="numpy")
def dose_logit(base_logit: float, support: float, norm: float, self_efficacy_gain: float,
               knowledge_gain: float, distress_change: float, support_effect: float,
               self_efficacy_effect: float, knowledge_effect: float,
               distress_barrier: float) -> float:
    """Logit of today's dose probability.

    logit = base + b_s * support + norm + b_se * self-efficacy gain (SD)
            + b_k * knowledge gain - b_d * distress change.
    ``base`` holds the baseline propensity less regimen barriers; every other term is a
    change since baseline, so the baseline population is at steady state.

    References: Patil 2016; Qi 2015 (support); Christakis & Fowler 2007 (norms);
    Liang 2021 (self-efficacy).
    """
    return (base_logit + support_effect * support + norm
            + self_efficacy_effect * self_efficacy_gain + knowledge_effect * knowledge_gain
            - distress_barrier * distress_change)


@njit(cache=True, error_model="numpy")
def simple_norm(adherent_weight: float, tie_weight: float, effect: float) -> float:
    """Linear (simple) contagion: effect x tie-weighted share of adherent neighbours.

    References: Christakis & Fowler 2007 (x1.57 odds per adopting friend).
    """
    if tie_weight <= 0.0:
        return 0.0
    return effect * adherent_weight / tie_weight


@njit(cache=True, error_model="numpy")
def complex_norm(adherent_count: float, threshold: float, effect: float) -> float:
    """Threshold (complex) contagion: effect once ``threshold`` neighbours are adherent.

    A single adherent neighbour never suffices when threshold >= 2.

    References: Centola 2010; Centola & Macy 2007.
    """
    return effect if adherent_count >= threshold - 1e-9 else 0.0


@njit(cache=True, error_model="numpy")
def graded_norm(adherent_count: float, first: float, growth: float, responsive: bool,
                waning: float, effect: float) -> float:
    """Graded complex contagion: effect x p_k x waning for a responsive patient.

    p_k = min(p1 r^(k-1), 1) for k >= 1 adopting neighbours (p_0 = 0), so reinforcement
    from a second neighbour counts r times the first; ``waning`` (0-1) is the pull left of
    the latest signal. Its threshold limit (p1 -> 0, p1 r = 1, every patient responsive,
    no waning) is ``complex_norm`` with threshold 2.

    References: Centola 2010; Centola & Macy 2007.
    """
    if adherent_count < 1.0 - 1e-9 or not responsive:
        return 0.0
    response = first
    for _ in range(int(adherent_count + 0.5) - 1):  # p1 r^(k-1) without overflow
        if response >= 1.0:
            break
        response *= growth
    return effect * min(response, 1.0) * waning


@njit(cache=True, error_model="numpy")
def effect_multiplier(hba1c0_pct: float, floor_pct: float, reference_pct: float,
                      cap: float) -> float:
    """How strongly behaviour moves HbA1c, by baseline HbA1c (1 at ``reference_pct``).

    Rises linearly from 0 at ``floor_pct`` and is capped at ``cap``: behaviour change
    moves HbA1c 2-3x more when it is high, and hardly when it is near target.

    References: Nichols 2015; Qi 2015.
    """
    return min(max((hba1c0_pct - floor_pct) / (reference_pct - floor_pct), 0.0), cap)


HBA1C_RANGE_PCT = (4.0, 20.0)
"""Physiological bounds of HbA1c targets: behaviour cannot take HbA1c outside them."""


@njit(cache=True, error_model="numpy")
def hba1c_target(hba1c0_pct: float, adherence: float, adherence0: float, practice: float,
                 multiplier: float, adherence_slope_pct: float, lifestyle_effect_pct: float,
                 drift_pct: float) -> float:
    """Steady-state HbA1c (%) that current behaviour leads to.

    target = h0 - m * (slope * (adherence - adherence0) + lifestyle * practice) - drift,
    kept within the physiological range 4-20 % (HBA1C_RANGE_PCT). ``h0`` is the set-point
    (baseline HbA1c less its clinical course); ``drift`` the trial-participation term less
    disease progression so far.

    References: Rozenfeld 2008 (-0.1 per +10 pp PDC); Nichols 2016; Norris 2002;
    Chrvala 2016 (control-arm drift).
    """
    target = hba1c0_pct - multiplier * (adherence_slope_pct * (adherence - adherence0)
                                        + lifestyle_effect_pct * practice) - drift_pct
    return min(max(target, HBA1C_RANGE_PCT[0]), HBA1C_RANGE_PCT[1])


@njit(cache=True, error_model="numpy")
def clinical_course(course_pct: float, keep: float, step_sd: float, z: float) -> float:
    """One day of a patient's clinical course, an AR(1): keep x course + step_sd x z.

    With keep = exp(-1 / tau_c) and step_sd = sigma_c sqrt(1 - keep^2) the course stays
    N(0, sigma_c^2) and reverts with time constant tau_c: HbA1c moves that behaviour does not
    control (treatment changes, illness, life events), the source of regression to the mean
    when patients are selected on a high measurement (design doc §4.2).
    """
    return keep * course_pct + step_sd * z


@njit(cache=True, error_model="numpy")
def true_hba1c(behaviour_pct: float, course_pct: float) -> float:
    """True HbA1c (%): behavioural state plus clinical course, within HBA1C_RANGE_PCT."""
    return min(max(behaviour_pct + course_pct, HBA1C_RANGE_PCT[0]), HBA1C_RANGE_PCT[1])


@njit(cache=True, error_model="numpy")
def knowledge_gain(knowledge0: float, hours: float, hours_scale: float) -> float:
    """Knowledge gained (0-1 scale) from education hours, saturating.

    References: Norris 2002 (-1 HbA1c %-point per 23.6 h of contact).
    """
    return (1.0 - knowledge0) * -vmath.expm1(-hours / hours_scale)


@njit(cache=True, error_model="numpy")
def practice_target(knowledge_gained: float, contact: float, support: float,
                    retention: float, support_effect: float) -> float:
    """Self-care practice (0-1) sustained by knowledge, recent contact and support.

    Without contact only ``retention`` of the knowledge-driven practice remains (Norris
    2002: about 2/3 of the DSMES effect lost within 1-3 months).
    """
    out = knowledge_gained * (retention + (1.0 - retention) * contact) + support_effect * support
    return min(max(out, 0.0), 1.0)


PAID_MAX = 100.0
"""Top of the PAID scale (Problem Areas in Diabetes, 20 items, 0-100) on which distress is held."""

PAID_SEVERE = 40.0
"""PAID score from which distress counts as severe (the usual cut-off [M])."""


@njit(cache=True, error_model="numpy")
def distress_target(distress0: float, support: float, self_efficacy_gain: float,
                    knowledge_gained: float, hba1c_change: float, burden: float,
                    overload: float, per_support: float, per_self_efficacy: float,
                    per_knowledge: float, per_hba1c_rise: float, per_burden: float,
                    per_overload: float) -> float:
    """Diabetes distress (PAID points, 0-100) that today's state leads to.

    target = D0 - d_S * support - d_SE * self-efficacy gain (SD) - d_K * knowledge gain
             + d_H * max(HbA1c change, 0) + d_B * burden + d_O * overload, within 0-100.
    Sessions reach distress through self-efficacy and knowledge; worsening control, the burden
    of attending and IM overload raise it. With every weight but ``per_support`` at 0 this is
    the model's original relief term, D0 - d_S * support.

    References: Liang 2021 (peer support, n.s.); Steinsbekk 2012 (self-efficacy with DSME).
    """
    out = (distress0 - per_support * support - per_self_efficacy * self_efficacy_gain
           - per_knowledge * knowledge_gained + per_hba1c_rise * max(hba1c_change, 0.0)
           + per_burden * burden + per_overload * overload)
    return min(max(out, 0.0), PAID_MAX)


@njit(cache=True, error_model="numpy")
def follow(x: float, target: float, rate: float) -> float:
    """``relax`` that lands exactly on the target at rate 1 (a time constant of 0)."""
    return target if rate >= 1.0 else relax(x, target, rate)


@njit(cache=True, error_model="numpy")
def burden_update(burden: float, hours_today: float, keep: float) -> float:
    """Attendance burden (contact hours per week): an EWMA of 7 x today's hours attended.

    ``keep`` = exp(-1/7) (a one-week memory), so weekly 3-hour sessions hold it near 3.
    """
    return burden * keep + (1.0 - keep) * 7.0 * hours_today


@njit(cache=True, error_model="numpy")
def overload(messages: float, threshold: float) -> float:
    """IM overload: rapport-weighted messages read today beyond ``threshold``, per threshold."""
    return max(messages - threshold, 0.0) / threshold


@njit(cache=True, error_model="numpy")
def utility(utility0: float, hba1c_change: float, knowledge_gained: float, support: float,
            distress_change: float, burden: float, overload: float, per_hba1c: float,
            per_knowledge: float, per_support: float, per_distress: float, per_burden: float,
            per_overload: float, participation: float) -> float:
    """EQ-5D utility today, capped at 1 (full health) and at the EQ-5D-3L floor -0.594.

    U = U0 + u_H * dHbA1c + u_K * knowledge gain + u_S * support + u_D * dPAID
        - u_B * burden - u_O * overload + participation,
    ``participation`` being the trial-participation term u_P (0 in planning runs). Burden and
    overload let a programme lower QoL.

    References: Redekop 2002 (-0.02 per HbA1c %-point); Cochran & Conn 2008 (education);
    Kong 2019 (peer support).
    """
    out = (utility0 + per_hba1c * hba1c_change + per_knowledge * knowledge_gained
           + per_support * support + per_distress * distress_change
           - per_burden * burden - per_overload * overload + participation)
    return min(max(out, -0.594), 1.0)
