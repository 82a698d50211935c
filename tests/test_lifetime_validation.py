"""Validation of the lifetime engine against published anchors (LONGTERM.md section 3).

Targets that the published UKPDS 82 equations cannot reach are kept as strict ``xfail``
tests that print the number: the tolerance is not tuned to pass (see docs/lifetime.md,
"Validation"). Monte Carlo error is kept well below every interval width with common random
numbers between arms (paired SEs are in the messages).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.lifetime import (
    Lifetime,
    LifetimeResult,
    Persistence,
    paired_difference,
    reference_patients,
    simulate_lifetime,
)

N_REFERENCE = 40_000
"""Patients per arm: the paired SE of the QALY gain is about 0.003, under 2% of Hua's
interval width (0.17), and the SE of the life-year gain about 0.008 (width 0.30)."""

SEED = np.random.SeedSequence(2024)


def mount_hood_cohort(n: int):
    """Mount Hood reference patient (LONGTERM 3), half men and half women."""
    return reference_patients(n, female=np.arange(n) % 2 == 1)


@pytest.fixture(scope="module")
def hba1c_arms() -> dict[str, LifetimeResult]:
    """Reference and permanent -1 and -0.5 %-point arms, same patients and seed (CRN)."""
    rf = mount_hood_cohort(N_REFERENCE)
    spec = Lifetime(persistence=Persistence(kind="permanent"))
    return {name: simulate_lifetime(rf, effect, spec, SEED)
            for name, effect in (("ref", 0.0), ("minus1", -1.0), ("minus05", -0.5))}


# --------------------------------------------------------------------------- OM2 software


OM2_PATIENT = dict(age_years=57.0, hba1c_pct=8.8, hdl_mmol_l=3.08, ldl_mmol_l=1.19,
                   sbp_mmhg=139.0, bmi_kg_m2=80.7 / 1.58**2, wbc_1e9_l=6.6)
# OM2 v2.1 output workbooks (COMPAR-EU validation; 1,000 loops, undiscounted, to age 99).
OM2_OUTPUTS = {
    "male": dict(le=(24.14, 23.20, 25.38), death10=11.4, death20=34.3,
                 incidence10=dict(mi=2.3, ihd=1.8, chf=2.5, stroke=3.5, amputation=0.6,
                                  blindness=2.0, renal=0.2, ulcer=3.5)),
    "female": dict(le=(24.85, 24.15, 26.33), death10=11.0, death20=33.0,
                   incidence10=dict(mi=5.5, stroke=1.4)),
}


@pytest.mark.parametrize("sex", ["male", "female"])
def test_against_om2_software_outputs(sex: str) -> None:
    n = 20_000   # SE of life expectancy about 0.08 years, of 10-year death about 0.2 pp
    rf = reference_patients(n, female=sex == "female")
    rf = rf.with_values(**{k: np.full(n, v) for k, v in OM2_PATIENT.items()})
    res = simulate_lifetime(rf, 0.0, Lifetime(horizon_age_years=99.0), SEED)
    target = OM2_OUTPUTS[sex]
    le, lo, hi = target["le"]
    got = res.summary()["life_years"]
    assert lo <= got <= hi, f"{sex} life expectancy {got:.2f}, OM2 {le} (95% CI {lo}-{hi})"
    # +-2 pp: OM2 also moves SBP, lipids, BMI etc. along UKPDS 90 paths, which we hold.
    for years, key in ((10, "death10"), (20, "death20")):
        dead = 100 * res.cumulative_death[years - 1]
        assert abs(dead - target[key]) <= 2.0, (
            f"{sex} {years}-year death {dead:.1f}%, OM2 {target[key]}%")
    # +-1.5 pp on 10-year incidence: ours is crude (death competes), OM2's is Kaplan-Meier
    # (higher by about the death share x incidence), plus the risk-factor paths above.
    for event, expected in target["incidence10"].items():
        got_inc = 100 * res.cumulative_incidence[event][9]
        assert abs(got_inc - expected) <= 1.5, (
            f"{sex} 10-year {event} incidence {got_inc:.2f}%, OM2 {expected}%")


# --------------------------------------------------------------------------- Hua 2017


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
@pytest.mark.xfail(strict=True, reason=(
    "UKPDS 82 has no HbA1c term in any mortality, IHD, CHF or renal equation (LONGTERM 1.5 "
    "pitfall 3): a permanent -1 point gives about +0.10 discounted QALYs, below Hua 2017's "
    "pooled 0.286-0.456, which mixes models with HbA1c in mortality. Not tuned."))
def test_hua_2017_qaly_gain_per_point(hba1c_arms) -> None:
    d = paired_difference(hba1c_arms["minus1"], hba1c_arms["ref"])
    gain, se = d["qalys_discounted"], d["qalys_discounted_se"]
    assert 0.286 <= gain <= 0.456, (
        f"discounted QALY gain {gain:.3f} (SE {se:.3f}; undiscounted {d['qalys']:.3f}) "
        "outside Hua 2017 0.286-0.456")


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
@pytest.mark.xfail(strict=True, reason=(
    "Life-year gain about +0.20 from a permanent -1 point: only through fewer MI, stroke and "
    "amputation events, which raise mortality; Hua 2017's +0.642 (0.494-0.790) is not "
    "reachable with the UKPDS 82 mortality equations. Not tuned."))
def test_hua_2017_life_year_gain_per_point(hba1c_arms) -> None:
    d = paired_difference(hba1c_arms["minus1"], hba1c_arms["ref"])
    assert 0.494 <= d["life_years"] <= 0.790, (
        f"life-year gain {d['life_years']:.3f} (SE {d['life_years_se']:.3f}) outside "
        "Hua 2017 0.494-0.790")


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
def test_gains_are_positive_and_resolved(hba1c_arms) -> None:
    """Whatever the target, the gains must be positive and well resolved by CRN."""
    d = paired_difference(hba1c_arms["minus1"], hba1c_arms["ref"])
    for key in ("qalys_discounted", "qalys", "life_years"):
        assert d[key] > 10 * d[f"{key}_se"], f"{key} gain {d[key]:.4f} not resolved"
    assert d["cost_complications_discounted_gbp"] < 0, "fewer complications must cost less"


# --------------------------------------------------------------------------- Mount Hood


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
def test_mount_hood_2018_half_point_life_year_gain(hba1c_arms) -> None:
    d = paired_difference(hba1c_arms["minus05"], hba1c_arms["ref"])
    gain, se = d["life_years"], d["life_years_se"]
    # Range across the eleven models of the 9th Mount Hood challenge (Tew 2022).
    assert 0.050 <= gain <= 0.750, f"-0.5 point life-year gain {gain:.3f} (SE {se:.3f})"
    full = paired_difference(hba1c_arms["minus1"], hba1c_arms["ref"])["life_years"]
    # Near-linear in the effect for small changes: half the 1-point gain within 25%.
    assert 0.75 * full / 2 <= gain <= 1.25 * full / 2, f"{gain:.3f} vs 1-point {full:.3f}"


# --------------------------------------------------------------------------- UKPDS 35


def _relative_reduction(arms: dict[str, LifetimeResult], events: tuple[str, ...],
                        years: int = 10) -> float:
    low = sum(arms["minus1"].events_by_year[e][:years].sum() for e in events)
    ref = sum(arms["ref"].events_by_year[e][:years].sum() for e in events)
    return 1.0 - low / ref


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
def test_mi_reduction_per_point_matches_the_coefficients(hba1c_arms) -> None:
    """Per 1 point lower HbA1c, 10-year MI falls by what the MI coefficients imply: between
    1 - exp(-0.078) = 7.5% (women) and 1 - exp(-0.108) = 10.2% (men), a little less once
    survivors add exposure. UKPDS 35's observational 14% (8-21) is higher (docs/lifetime.md)."""
    rr = _relative_reduction(hba1c_arms, ("mi",))
    # 1.5 pp below the women's bound: extra exposure of survivors; MC SE about 0.6 pp.
    assert 0.060 <= rr <= 0.102, f"10-year MI reduction {rr:.1%} per point"


@pytest.mark.slow   # shares the 3 x 40,000-patient fixture (about 5 s idle, 30 s loaded)
@pytest.mark.xfail(strict=True, reason=(
    "UKPDS 35's 37% (33-41) microvascular reduction per point includes photocoagulation and "
    "other endpoints; UKPDS 82 models blindness (HR 1.19 per point) and renal failure (no "
    "HbA1c term), so about 15% is the most it can give. Not tuned."))
def test_microvascular_reduction_per_point_vs_ukpds35(hba1c_arms) -> None:
    rr = _relative_reduction(hba1c_arms, ("blindness", "renal"))
    assert 0.33 <= rr <= 0.41, f"10-year blindness+renal reduction {rr:.1%}, UKPDS 35 37%"
