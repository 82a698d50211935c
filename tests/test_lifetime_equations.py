"""Known-answer tests of the UKPDS 82 equations (sim.core.lifetime.equations).

Targets from LONGTERM.md 1.4: the ESM worked examples (as encoded in the Sheffield unit
tests) and an independently recomputed test vector. A wrong coefficient, transform or
functional form moves at least one of these beyond its tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.core.lifetime.equations import (
    DEATH_EQUATION_NAMES,
    EQUATIONS,
    EVENT_EQUATION_NAMES,
    annual_death_probability,
    annual_event_probabilities,
    annual_probabilities,
    covariate_matrix,
    egfr60less,
    egfr60more,
    exponential_probability,
    gompertz_probability,
    ldl35more,
    logistic_probability,
    weibull_probability,
)

# Mount Hood-style reference patient of the LONGTERM 1.4 "own test vector".
VECTOR = dict(age_years=66.0, years_with_diabetes=8.0, hba1c_pct=7.5, sbp_mmhg=145.0,
              hdl_mmol_l=1.3, ldl_mmol_l=3.0, bmi_kg_m2=28.0, egfr_ml_min=70.0,
              wbc_1e9_l=7.0, heart_rate_bpm=79.0, haemoglobin_g_dl=14.0)

# The 70-year-old men of the ESM examples; only the listed inputs matter for the equation.
MAN70 = dict(age_years=70.0, female=0, hba1c_pct=7.0, sbp_mmhg=130.0, hdl_mmol_l=1.2,
             ldl_mmol_l=3.0, bmi_kg_m2=28.0, egfr_ml_min=70.0, wbc_1e9_l=6.0,
             heart_rate_bpm=80.0, haemoglobin_g_dl=14.0)

# Half a unit in the last printed decimal of LONGTERM's 5-decimal table, plus float noise.
HALF_ULP_5DP = 5e-6 + 1e-12
# Half a unit in the last printed decimal of a 3-decimal figure.
HALF_ULP_3DP = 5e-4 + 1e-12


def p_event(name: str, **values: object) -> float:
    """Annual probability of one event equation for one patient."""
    return float(annual_event_probabilities(covariate_matrix(**values))[name][0])


# --------------------------------------------------------------------------- ESM examples


def test_first_chf_worked_example() -> None:
    p = p_event("chf", **(MAN70 | dict(years_with_diabetes=8.0, bmi_kg_m2=32.0,
                                       egfr_ml_min=50.0, albuminuria=1)),
                history={"amp": 1})
    # Recomputed value 0.0267 to 4 decimals (ESM prints 0.027): half a unit in the 4th.
    assert abs(p - 0.0267) <= 5e-5, f"first CHF probability {p:.5f}, expected 0.0267"


@pytest.mark.parametrize(("event", "expected"), [("mi", 0.597), ("chf", 0.286)])
def test_death_in_year_of_first_event(event: str, expected: float) -> None:
    events = {"mi": 1} if event == "mi" else {}   # CHF is the reference category
    x = covariate_matrix(**(MAN70 | dict(years_with_diabetes=12.0, smoker=1)), events=events)
    p = float(annual_death_probability(x, history=False, event_this_year=True)[0])
    assert abs(p - expected) <= HALF_ULP_3DP, (
        f"death in the year of a first {event}: {p:.4f}, expected {expected}")


def test_gompertz_history_no_event_worked_example() -> None:
    x = covariate_matrix(**(MAN70 | dict(years_with_diabetes=12.0, smoker=1, wbc_1e9_l=6.0,
                                         bmi_kg_m2=30.0)), history={"chf": 1})
    p = float(annual_death_probability(x, history=True, event_this_year=False)[0])
    xb = -9.207 - 0.293 + 0.374 + 0.048 * 6 + 0.632
    by_hand = 1 - math.exp(-(math.exp(xb) / 0.073) * (math.exp(0.073 * 71) - math.exp(0.073 * 70)))
    assert abs(p - by_hand) <= 1e-12, f"Gompertz {p} differs from the closed form {by_hand}"
    assert abs(p - 0.0458) <= 5e-5, f"history/no-event death {p:.5f}, expected 0.0458"


# --------------------------------------------------------------------------- own test vector

VECTOR_TABLE = {  # LONGTERM 1.4: (male, female)
    "chf": (0.00297, 0.00297),
    "ihd": (0.00969, 0.00570),
    "mi1": (0.01139, 0.00672),
    "stroke1": (0.00626, 0.00412),
    "blindness": (0.00363, 0.00363),
    "ulcer": (0.00220, 0.00084),
    "amp1_no_ulcer": (0.00082, 0.00053),
    "renal": (0.00040, 0.00017),
    "death": (0.01232, 0.00981),
}


def _vector_probability(row: str, female: int, hba1c: float = 7.5) -> float:
    x = covariate_matrix(**(VECTOR | dict(female=female, hba1c_pct=hba1c)))
    if row == "death":
        return float(annual_death_probability(x, history=False, event_this_year=False)[0])
    name = ("mi1_female" if female else "mi1_male") if row == "mi1" else row
    return float(annual_event_probabilities(x)[name][0])


@pytest.mark.parametrize("female", [0, 1], ids=["male", "female"])
@pytest.mark.parametrize("row", list(VECTOR_TABLE))
def test_own_test_vector(row: str, female: int) -> None:
    expected = VECTOR_TABLE[row][female]
    p = _vector_probability(row, female)
    assert abs(p - expected) <= HALF_ULP_5DP, (
        f"{row} ({'female' if female else 'male'}): {p:.6f}, expected {expected:.5f}")


MULTIPLIERS = [  # LONGTERM 1.4: HbA1c 7.5 -> 7.0
    ("mi1", 0, 0.948), ("mi1", 1, 0.962), ("stroke1", 0, 0.955), ("stroke1", 1, 0.955),
    ("blindness", 0, 0.918), ("ulcer", 0, 0.923), ("ulcer", 1, 0.923),
    ("amp1_no_ulcer", 0, 0.883), ("amp1_no_ulcer", 1, 0.883),
    ("chf", 0, 1.0), ("chf", 1, 1.0), ("ihd", 0, 1.0), ("ihd", 1, 1.0), ("renal", 0, 1.0),
    ("renal", 1, 1.0), ("death", 0, 1.0), ("death", 1, 1.0),
]


@pytest.mark.parametrize(("row", "female", "expected"), MULTIPLIERS)
def test_hba1c_7_5_to_7_0_multipliers(row: str, female: int, expected: float) -> None:
    ratio = _vector_probability(row, female, 7.0) / _vector_probability(row, female, 7.5)
    assert abs(ratio - expected) <= HALF_ULP_3DP, (
        f"{row} multiplier {ratio:.4f} for HbA1c 7.5 -> 7.0, expected {expected}")


def test_hba1c_absent_from_mortality_equations() -> None:
    """LONGTERM 1.5 pitfall 3: HbA1c enters only MI, stroke, blindness, ulcer, amputation."""
    with_hba1c = {n for n, eq in EQUATIONS.items() if "HBA1C" in eq.coefficients}
    assert with_hba1c == {"mi1_male", "mi1_female", "stroke1", "blindness", "ulcer",
                          "amp1_no_ulcer", "amp2"}, f"HbA1c appears in {sorted(with_hba1c)}"


# --------------------------------------------------------------------------- longhand checks
# Equations the worked examples do not reach, recomputed longhand from LONGTERM 1.3.


def _hand_patient(**extra: object) -> np.ndarray:
    return covariate_matrix(**(VECTOR | dict(female=0, albuminuria=1, pvd=1) | extra))


def test_second_events_and_prior_ulcer_amputation_longhand() -> None:
    x = _hand_patient(history={"mi": 1, "stroke": 1, "amp": 1, "ulcer": 1})
    p = annual_event_probabilities(x)
    age_diag = 58.0
    expected = {
        "mi2": 1 - math.exp(-math.exp(-4.179 + 0.021 * 30 + 0.344)),
        "stroke2": 1 - math.exp(math.exp(-9.431 + 0.046 * age_diag + 0.537)
                                * (8 ** 1.956 - 9 ** 1.956)),
        # prior-ulcer first amputation: intercept -0.811 (see equations.py)
        "amp1_ulcer": 1 - math.exp(-math.exp(-0.811 - 0.065 * age_diag + 1.769)),
        "amp2": 1 - math.exp(-math.exp(-3.455 + 0.127 * 7.5)),
    }
    for name, value in expected.items():
        assert abs(p[name][0] - value) <= 1e-12, f"{name}: {p[name][0]} vs longhand {value}"


def test_renal_and_death_with_history_and_event_longhand() -> None:
    x = _hand_patient(atrial_fibrillation=1, history={"amp": 1, "blind": 1, "ihd": 1,
                                                     "mi": 1, "renal": 1},
                      events={"mi": 1, "stroke": 1, "amp2": 1, "ihd": 1})
    renal_xb = (3.549 - 0.029 * 58 - 0.054 * 28 - 1.031 * 6.0 - 0.487 * 1.0 - 0.268 * 14
                + 0.027 * 30 + 1.373 + 0.085 * 14.5 + 0.029 * 7 + 1.108 + 0.732)
    renal = annual_event_probabilities(x)["renal"][0]
    assert abs(renal - (1 - math.exp(-math.exp(renal_xb)))) <= 1e-12, "renal longhand"
    death_xb = (-4.868 + 1.081 + 0.050 * 66 + 0.068 * 13 + 0.352 + 0.089 * 7 + 0.753
                - 1.727 + 0.583 - 0.507 + 0.982 + 0.440 + 0.961 - 0.619)
    death = annual_death_probability(x, history=True, event_this_year=True)[0]
    assert abs(death - 1 / (1 + math.exp(-death_xb))) <= 1e-12, "history+event death longhand"


# --------------------------------------------------------------------------- splines

GRID = dict(age_years=np.repeat([50.0, 65.0, 80.0], 4), years_with_diabetes=np.tile(
    [1.0, 5.0, 10.0, 20.0], 3))


def _grid_probabilities(egfr: float, ldl: float, female: int) -> dict[str, np.ndarray]:
    x = covariate_matrix(**(VECTOR | GRID | dict(female=female, egfr_ml_min=egfr,
                                                 ldl_mmol_l=ldl, albuminuria=1)))
    return annual_event_probabilities(x)


@pytest.mark.parametrize("female", [0, 1])
def test_egfr_spline_monotone_across_the_knot(female: int) -> None:
    """eGFR 59 never gives lower CHF, stroke, female MI or renal risk than 61 (or any higher
    eGFR): every eGFR coefficient is negative, so risk must fall as eGFR rises."""
    egfrs = np.arange(30.0, 90.01, 0.5)
    probs = [_grid_probabilities(e, 3.0, female) for e in egfrs]
    for name in ("chf", "stroke1", "mi1_female", "renal"):
        series = np.array([p[name] for p in probs])        # (eGFR, patients)
        rises = np.diff(series, axis=0) > 1e-15
        assert not rises.any(), f"{name} risk rises with eGFR at {egfrs[1:][rises.any(1)]}"
        p59, p61 = series[egfrs == 59.0][0], series[egfrs == 61.0][0]
        assert np.all(p59 >= p61), f"{name}: eGFR 59 less risky than 61"


def test_ldl_spline_monotone_across_the_knot() -> None:
    """Female MI risk never falls as LDL rises through 3.5 (LDL35more is continuous)."""
    ldls = np.arange(2.0, 5.01, 0.05)
    series = np.array([_grid_probabilities(70.0, v, 1)["mi1_female"] for v in ldls])
    assert not (np.diff(series, axis=0) < -1e-15).any(), "female MI falls as LDL rises"
    p34 = _grid_probabilities(70.0, 3.4, 1)["mi1_female"]
    p36 = _grid_probabilities(70.0, 3.6, 1)["mi1_female"]
    assert np.all(p36 > p34), "LDL 3.6 must be riskier than 3.4 for female MI"


def test_spline_terms_continuous_at_knots() -> None:
    eps = 1e-9   # distance either side of the knot
    assert abs(egfr60less(60 - eps) - egfr60less(60 + eps)) < 1e-8, "eGFR60less jumps at 60"
    assert abs(egfr60more(60 - eps) - egfr60more(60 + eps)) < 1e-8, "eGFR60more jumps at 60"
    assert abs(ldl35more(3.5 - eps) - ldl35more(3.5 + eps)) < 1e-7, "LDL35more jumps at 3.5"
    assert ldl35more(4.0) == pytest.approx(5.0), "LDL35more = (LDL - 3.5) x 10"


# --------------------------------------------------------------------------- forms and inputs


def test_functional_forms_agree_with_cumulative_hazards() -> None:
    xb, t = -5.0, np.array([0.0, 3.0, 12.5])
    assert np.allclose(weibull_probability(xb, 1.0, t), exponential_probability(xb),
                       rtol=1e-13), "Weibull with rho 1 must equal the exponential form"
    h = lambda a: np.exp(xb) * (np.exp(0.09 * a) - 1) / 0.09   # noqa: E731
    a = np.array([40.0, 70.0, 99.0])
    assert np.allclose(gompertz_probability(xb, 0.09, a), 1 - np.exp(h(a) - h(a + 1)),
                       rtol=1e-12), "Gompertz form"
    assert logistic_probability(0.0) == pytest.approx(0.5), "logistic midpoint"


def test_risk_multiplier_scales_hazard_and_odds() -> None:
    x = covariate_matrix(**(VECTOR | dict(female=0)))
    p1 = annual_probabilities(x, EVENT_EQUATION_NAMES)
    p2 = annual_probabilities(x, EVENT_EQUATION_NAMES, risk_multiplier=2.0)
    j = EVENT_EQUATION_NAMES.index("blindness")      # exponential: hazard doubles
    assert -np.log1p(-p2[0, j]) == pytest.approx(-2 * np.log1p(-p1[0, j]), rel=1e-12)
    j = EVENT_EQUATION_NAMES.index("ulcer")          # logistic: odds double
    odds = lambda p: p / (1 - p)                     # noqa: E731
    assert odds(p2[0, j]) == pytest.approx(2 * odds(p1[0, j]), rel=1e-12)
    with pytest.raises(ValueError, match="risk_multiplier"):
        annual_probabilities(x, DEATH_EQUATION_NAMES, risk_multiplier=0.0)


def test_bad_covariate_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown history"):
        covariate_matrix(**(VECTOR | dict(female=0)), history={"angina": 1})
    with pytest.raises(ValueError, match="years_with_diabetes"):
        covariate_matrix(**(VECTOR | dict(female=0, years_with_diabetes=80.0)))
    with pytest.raises(ValueError, match="non-finite"):
        covariate_matrix(**(VECTOR | dict(female=0, sbp_mmhg=np.nan)))
