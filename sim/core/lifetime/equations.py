"""UKPDS 82 risk equations: annual probabilities of complications and death, per patient.

Implemented from the published coefficient tables of Hayes 2013 (ESM Tables 4-6, as
transcribed in LONGTERM.md section 1.3 by two independent public transcriptions that agree on
every coefficient but one, flagged below). No third-party code is used. This module is the
equations only; it is not the licensed UKPDS Outcomes Model software.

Conventions (LONGTERM 1.1, 1.2):

* ``xb`` = intercept + sum of coefficient x transformed covariate (one row per patient).
* Weibull on diabetes duration t: H(t) = exp(xb) t^rho, P = 1 - exp(H(t) - H(t+1)).
* Exponential: the Weibull with rho = 1, i.e. P = 1 - exp(-exp(xb)).
* Gompertz on current age a: H(a) = exp(xb) (exp(phi a) - 1) / phi, P = 1 - exp(H(a) - H(a+1)).
* Logistic: P = 1 / (1 + exp(-xb)).
* A calibration ``risk_multiplier`` m adds log(m) to xb: it multiplies the hazard of the
  time-to-event forms and the odds of the logistic forms.

Covariate transforms (ESM Table 2): SBP / 10; HDL and LDL x 10; LDL35more =
max(LDL - 3.5, 0) x 10; eGFR / 10 (IHD); eGFR60less = min(eGFR, 60) / 10; eGFR60more =
max(eGFR - 60, 0) / 10; heart rate / 10; BMI1 = BMI < 18.5 and BMI3 = BMI >= 25 (mortality).
The splines are *continuous* at the knot: the "value if below the knot, else 0" coding seen
in some public code makes eGFR 59 less risky than eGFR 61 (LONGTERM 1.5 pitfall 1).

References:
    Hayes AJ, Leal J, Gray AM, Holman RR, Clarke PM. Diabetologia 2013;56(9):1925-1933
    (UKPDS 82), DOI 10.1007/s00125-013-2940-y.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Literal

import numpy as np
from numba import njit, vectorize
from numpy.typing import ArrayLike

from sim.core import vmath
from sim.core.numba_cache import drop_stale_cache

drop_stale_cache(__file__, vmath.__file__)  # hazard_above and event_happens inline vmath's

Form = Literal["weibull", "exponential", "gompertz", "logistic"]

SOURCE_MACRO = "Hayes 2013, ESM Table 4 (macrovascular)"
SOURCE_MICRO = "Hayes 2013, ESM Table 5 (microvascular)"
SOURCE_DEATH = "Hayes 2013, ESM Table 6 (mortality)"

EVENT_TYPES: tuple[str, ...] = ("mi", "ihd", "chf", "stroke", "blindness", "ulcer",
                                 "amputation", "renal")
"""Complication types simulated (first and second MI, stroke and amputation share a type)."""

REPEATABLE_EVENTS: tuple[str, ...] = ("mi", "stroke", "amputation")
"""Types that can happen twice; a third event is not modelled (as in UKPDS 82)."""

COVARIATES: tuple[str, ...] = (
    "AGE_DIAG",      # age at diagnosis, years (current age - duration)
    "CURR_AGE",      # current age, years (mortality equations)
    "YEAR",          # diabetes duration, years (death in the year of a first event)
    "FEMALE",        # 1 = female
    "AFRO",          # Afro-Caribbean ethnicity (reference White Caucasian)
    "INDIAN",        # Asian-Indian ethnicity
    "ATFIB",         # atrial fibrillation
    "PVD",           # peripheral vascular disease
    "MMALB",         # micro- or macro-albuminuria
    "BMI",           # kg/m2
    "BMI1",          # BMI < 18.5 (mortality)
    "BMI3",          # BMI >= 25 (mortality)
    "HBA1C",         # %, DCCT units
    "SBP",           # mmHg / 10
    "HDL",           # mmol/L x 10
    "LDL",           # mmol/L x 10
    "LDL35MORE",     # max(LDL - 3.5, 0) x 10
    "EGFR",          # mL/min/1.73m2 / 10 (IHD only)
    "EGFR60LESS",    # min(eGFR, 60) / 10
    "EGFR60MORE",    # max(eGFR - 60, 0) / 10
    "HEART_R",       # beats/min / 10
    "WBC",           # 10^9/L
    "HAEM",          # g/dL
    "SMOKER",        # current smoker
    "AMP_HIST", "BLIND_HIST", "CHF_HIST", "IHD_HIST", "MI_HIST", "RENAL_HIST",
    "STROKE_HIST", "ULCER_HIST",                      # event before this year
    "AMP1_EVENT", "AMP2_EVENT", "IHD_EVENT", "MI_EVENT", "RENAL_EVENT",
    "STROKE_EVENT",                                   # event in this year (mortality)
)
"""Transformed covariates, in the column order of :func:`covariate_matrix`."""

COLUMN: Mapping[str, int] = MappingProxyType({name: i for i, name in enumerate(COVARIATES)})
"""Column index of each covariate."""


@dataclass(frozen=True)
class Equation:
    """One published risk equation: form, intercept (lambda), shape and coefficients.

    ``shape`` is rho for Weibull (1 for exponential), phi for Gompertz, None for logistic.
    """

    name: str
    form: Form
    intercept: float
    shape: float | None
    coefficients: Mapping[str, float]
    source: str
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.coefficients) - set(COVARIATES)
        if unknown:
            raise ValueError(f"equation {self.name}: unknown covariates {sorted(unknown)}")
        if self.form in ("weibull", "gompertz") and (self.shape is None or self.shape <= 0):
            raise ValueError(f"equation {self.name}: {self.form} needs a shape > 0")
        if self.form == "exponential" and self.shape != 1.0:
            raise ValueError(f"equation {self.name}: exponential has shape 1")


def _eq(name: str, form: Form, intercept: float, shape: float | None, source: str,
        note: str = "", **coefficients: float) -> Equation:
    return Equation(name, form, intercept, shape, MappingProxyType(dict(coefficients)), source,
                    note)


# --------------------------------------------------------------------------- coefficients
# Plain data transcribed from Hayes 2013 ESM Tables 4-6 via LONGTERM.md 1.3.

EVENT_EQUATIONS: tuple[Equation, ...] = (
    _eq("chf", "weibull", -12.332, 1.514, SOURCE_MACRO,
        AGE_DIAG=0.068, ATFIB=1.562, BMI=0.072, EGFR60LESS=-0.220, LDL=0.012, MMALB=0.771,
        PVD=0.479, AMP_HIST=0.658, ULCER_HIST=0.654),
    _eq("ihd", "weibull", -6.709, 1.276, SOURCE_MACRO,
        AGE_DIAG=0.016, FEMALE=-0.532, EGFR=-0.053, HDL=-0.065, LDL=0.023, PVD=0.486,
        SBP=0.058, AMP_HIST=0.526, CHF_HIST=0.824),
    _eq("mi1_male", "exponential", -8.791, 1.0, SOURCE_MACRO,
        AFRO=-0.830, AGE_DIAG=0.045, INDIAN=0.279, HBA1C=0.108, HDL=-0.049, LDL=0.023,
        MMALB=0.203, PVD=0.340, SBP=0.046, SMOKER=0.277, WBC=0.026, AMP_HIST=0.743,
        CHF_HIST=0.814, IHD_HIST=0.846, STROKE_HIST=0.448),
    _eq("mi1_female", "weibull", -8.708, 1.376, SOURCE_MACRO,
        AFRO=-1.684, AGE_DIAG=0.041, EGFR60LESS=-0.280, HBA1C=0.078, LDL35MORE=0.035,
        MMALB=0.277, PVD=0.469, SBP=0.056, SMOKER=0.344, WBC=0.070, CHF_HIST=0.853,
        IHD_HIST=0.876),
    _eq("mi2", "exponential", -4.179, 1.0, SOURCE_MACRO, LDL=0.021, MMALB=0.344),
    _eq("stroke1", "weibull", -13.053, 1.466, SOURCE_MACRO,
        AGE_DIAG=0.066, FEMALE=-0.420, ATFIB=1.476, EGFR60LESS=-0.190, HBA1C=0.092,
        LDL=0.016, MMALB=0.420, SBP=0.170, SMOKER=0.331, WBC=0.040, AMP_HIST=1.090,
        IHD_HIST=0.481),
    _eq("stroke2", "weibull", -9.431, 1.956, SOURCE_MACRO,
        AGE_DIAG=0.046, MMALB=0.537, SMOKER=0.656),
    _eq("blindness", "exponential", -11.607, 1.0, SOURCE_MICRO,
        AGE_DIAG=0.047, HBA1C=0.171, HEART_R=0.080, SBP=0.068, WBC=0.052, CHF_HIST=0.841,
        IHD_HIST=0.610),
    _eq("ulcer", "logistic", -11.295, None, SOURCE_MICRO,
        AGE_DIAG=0.043, FEMALE=-0.962, BMI=0.053, HBA1C=0.160, PVD=0.968),
    _eq("amp1_no_ulcer", "weibull", -14.844, 2.067, SOURCE_MICRO,
        AGE_DIAG=0.023, FEMALE=-0.445, ATFIB=1.088, HBA1C=0.248, HDL=-0.059, HEART_R=0.098,
        MMALB=0.602, PVD=1.010, SBP=0.086, WBC=0.040, STROKE_HIST=1.299),
    # Intercept -0.811 (COMPAR-EU transcription), not -0.881 (microsim_tutorial): the OM2
    # v2.1 software's own output for an ulcer-history patient (age 57, duration 8) shows an
    # average first-amputation hazard of about 0.0187/yr; -0.811 gives a baseline hazard of
    # 0.0183/yr and -0.881 gives 0.0171/yr, and PVD onset can only raise the observed hazard,
    # so -0.811 fits (LONGTERM 1.3; likely, not proven).
    _eq("amp1_ulcer", "exponential", -0.811, 1.0, SOURCE_MICRO,
        note="intercept -0.811 vs -0.881 unresolved; -0.811 fits OM2 output",
        AGE_DIAG=-0.065, PVD=1.769),
    _eq("amp2", "exponential", -3.455, 1.0, SOURCE_MICRO, HBA1C=0.127),
    _eq("renal", "exponential", 3.549, 1.0, SOURCE_MICRO,
        AFRO=0.686, AGE_DIAG=-0.029, FEMALE=-0.869, BMI=-0.054, EGFR60LESS=-1.031,
        EGFR60MORE=-0.487, HAEM=-0.268, LDL=0.027, MMALB=1.373, SBP=0.085, WBC=0.029,
        AMP_HIST=1.108, BLIND_HIST=0.732),
)
"""The 13 complication equations (first and second events are separate equations)."""

DEATH_EQUATIONS: tuple[Equation, ...] = (
    _eq("death_no_history_no_event", "gompertz", -10.908, 0.098, SOURCE_DEATH,
        FEMALE=-0.229, SMOKER=0.379),
    _eq("death_first_event_year", "logistic", -6.916, None, SOURCE_DEATH,
        INDIAN=-0.540, YEAR=0.042, CURR_AGE=0.058, HEART_R=0.124, PVD=0.367, SMOKER=0.444,
        AMP1_EVENT=-0.734, IHD_EVENT=0.423, MI_EVENT=1.309, RENAL_EVENT=0.584,
        STROKE_EVENT=0.547),
    _eq("death_history_no_event", "gompertz", -9.207, 0.073, SOURCE_DEATH,
        BMI1=1.083, BMI3=-0.293, MMALB=0.348, SMOKER=0.374, WBC=0.048, AMP_HIST=0.539,
        CHF_HIST=0.632, RENAL_HIST=1.150, STROKE_HIST=0.473),
    _eq("death_history_event", "logistic", -4.868, None, SOURCE_DEATH,
        ATFIB=1.081, CURR_AGE=0.050, HDL=0.068, PVD=0.352, WBC=0.089, AMP1_EVENT=-1.267,
        AMP_HIST=0.753, AMP2_EVENT=-1.727, IHD_EVENT=0.583, IHD_HIST=-0.507, MI_EVENT=0.982,
        MI_HIST=0.440, RENAL_HIST=0.961, STROKE_EVENT=-0.619),
)
"""The four mortality equations; which applies depends on history and this year's events."""

EQUATIONS: Mapping[str, Equation] = MappingProxyType(
    {eq.name: eq for eq in (*EVENT_EQUATIONS, *DEATH_EQUATIONS)})
"""Every equation by name."""

EVENT_EQUATION_NAMES: tuple[str, ...] = tuple(eq.name for eq in EVENT_EQUATIONS)
DEATH_EQUATION_NAMES: tuple[str, ...] = tuple(eq.name for eq in DEATH_EQUATIONS)


# --------------------------------------------------------------------------- transforms


def sbp_term(sbp_mmhg: ArrayLike) -> np.ndarray:
    """Systolic blood pressure per 10 mmHg (ESM Table 2). References: Hayes 2013."""
    return np.asarray(sbp_mmhg, dtype=float) / 10.0


def lipid_term(mmol_per_l: ArrayLike) -> np.ndarray:
    """HDL or LDL cholesterol x 10 (per 0.1 mmol/L, ESM Table 2). References: Hayes 2013."""
    return np.asarray(mmol_per_l, dtype=float) * 10.0


def ldl35more(ldl_mmol_l: ArrayLike) -> np.ndarray:
    """LDL spline term above the 3.5 mmol/L knot: max(LDL - 3.5, 0) x 10.

    Continuous at the knot (pitfall 1 of LONGTERM 1.5: not "LDL if above 3.5, else 0").
    References: Hayes 2013, ESM Table 2; COMPAR-EU model v3 ("confirmed" against OM2).
    """
    return np.maximum(np.asarray(ldl_mmol_l, dtype=float) - 3.5, 0.0) * 10.0


def egfr_term(egfr_ml_min: ArrayLike) -> np.ndarray:
    """The eGFR term, per 10 mL/min/1.73m2 (IHD equation). References: Hayes 2013, ESM Table 2."""
    return np.asarray(egfr_ml_min, dtype=float) / 10.0


def egfr60less(egfr_ml_min: ArrayLike) -> np.ndarray:
    """Lower eGFR spline term: min(eGFR, 60) / 10 (continuous at the 60 knot).

    References: Hayes 2013, ESM Table 2; LONGTERM 1.5 pitfall 1.
    """
    return np.minimum(np.asarray(egfr_ml_min, dtype=float), 60.0) / 10.0


def egfr60more(egfr_ml_min: ArrayLike) -> np.ndarray:
    """Upper eGFR spline term: max(eGFR - 60, 0) / 10 (continuous at the 60 knot).

    References: Hayes 2013, ESM Table 2; LONGTERM 1.5 pitfall 1.
    """
    return np.maximum(np.asarray(egfr_ml_min, dtype=float) - 60.0, 0.0) / 10.0


def heart_rate_term(heart_rate_bpm: ArrayLike) -> np.ndarray:
    """Heart rate per 10 beats/min. References: Hayes 2013, ESM Table 2."""
    return np.asarray(heart_rate_bpm, dtype=float) / 10.0


def bmi_below_18_5(bmi_kg_m2: ArrayLike) -> np.ndarray:
    """BMI1 indicator, BMI < 18.5 kg/m2 (mortality). References: Hayes 2013, ESM Table 2."""
    return (np.asarray(bmi_kg_m2, dtype=float) < 18.5).astype(float)


def bmi_25_or_more(bmi_kg_m2: ArrayLike) -> np.ndarray:
    """BMI3 indicator, BMI >= 25 kg/m2 (mortality). References: Hayes 2013, ESM Table 2."""
    return (np.asarray(bmi_kg_m2, dtype=float) >= 25.0).astype(float)


def covariate_matrix(
    *,
    age_years: ArrayLike,
    years_with_diabetes: ArrayLike,
    female: ArrayLike,
    hba1c_pct: ArrayLike,
    sbp_mmhg: ArrayLike,
    hdl_mmol_l: ArrayLike,
    ldl_mmol_l: ArrayLike,
    bmi_kg_m2: ArrayLike,
    egfr_ml_min: ArrayLike,
    heart_rate_bpm: ArrayLike,
    wbc_1e9_l: ArrayLike,
    haemoglobin_g_dl: ArrayLike,
    smoker: ArrayLike = 0,
    afro_caribbean: ArrayLike = 0,
    asian_indian: ArrayLike = 0,
    atrial_fibrillation: ArrayLike = 0,
    pvd: ArrayLike = 0,
    albuminuria: ArrayLike = 0,
    history: Mapping[str, ArrayLike] | None = None,
    events: Mapping[str, ArrayLike] | None = None,
) -> np.ndarray:
    """Transformed covariates of each patient, one row each, columns as :data:`COVARIATES`.

    Args:
        age_years: Current age (years).
        years_with_diabetes: Diabetes duration (years, >= 0); age at diagnosis = age - duration.
        female: 0/1 indicator.
        hba1c_pct: HbA1c (%, DCCT).
        sbp_mmhg: Systolic BP (mmHg).
        hdl_mmol_l: HDL cholesterol (mmol/L).
        ldl_mmol_l: LDL cholesterol (mmol/L).
        bmi_kg_m2: BMI (kg/m2).
        egfr_ml_min: eGFR (mL/min/1.73m2, MDRD).
        heart_rate_bpm: Heart rate (beats/min).
        wbc_1e9_l: White cells (10^9/L).
        haemoglobin_g_dl: Haemoglobin (g/dL).
        smoker: 0/1 indicator.
        afro_caribbean: 0/1 indicator.
        asian_indian: 0/1 indicator.
        atrial_fibrillation: 0/1 indicator.
        pvd: 0/1 indicator (peripheral vascular disease).
        albuminuria: 0/1 indicator.
        history: 0/1 prior events keyed by ``amp, blind, chf, ihd, mi, renal, stroke, ulcer``
            (missing keys are 0).
        events: 0/1 events this year keyed by ``amp1, amp2, ihd, mi, renal, stroke`` (missing
            keys are 0; used only by the mortality equations).

    Returns:
        Array (n, len(COVARIATES)) of floats; scalars broadcast to the common length.

    Raises:
        ValueError: On unknown history or event keys, negative duration or a duration above
            the age, or non-finite values.

    References:
        Hayes 2013, ESM Table 2 (variable definitions and scaling).
    """
    raw = {
        "age": age_years, "dur": years_with_diabetes, "female": female, "hba1c": hba1c_pct,
        "sbp": sbp_mmhg, "hdl": hdl_mmol_l, "ldl": ldl_mmol_l, "bmi": bmi_kg_m2,
        "egfr": egfr_ml_min, "hr": heart_rate_bpm, "wbc": wbc_1e9_l, "haem": haemoglobin_g_dl,
        "smoker": smoker, "afro": afro_caribbean, "indian": asian_indian,
        "atfib": atrial_fibrillation, "pvd": pvd, "mmalb": albuminuria,
    }
    history = dict(history or {})
    events = dict(events or {})
    hist_keys = ("amp", "blind", "chf", "ihd", "mi", "renal", "stroke", "ulcer")
    event_keys = ("amp1", "amp2", "ihd", "mi", "renal", "stroke")
    for given, allowed, what in ((history, hist_keys, "history"), (events, event_keys, "events")):
        bad = set(given) - set(allowed)
        if bad:
            raise ValueError(f"unknown {what} keys {sorted(bad)}; allowed: {', '.join(allowed)}")
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in raw.values()),
        *(np.asarray(history.get(k, 0), dtype=float) for k in hist_keys),
        *(np.asarray(events.get(k, 0), dtype=float) for k in event_keys),
    )
    arrays = [np.atleast_1d(a) for a in arrays]
    values = dict(zip(raw, arrays[: len(raw)], strict=True))
    hist = arrays[len(raw): len(raw) + len(hist_keys)]
    ev = arrays[len(raw) + len(hist_keys):]
    for name, arr in (*values.items(),):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"covariate '{name}' has non-finite values")
    age, dur = values["age"], values["dur"]
    if np.any(dur < 0) or np.any(dur > age):
        raise ValueError("years_with_diabetes must be >= 0 and <= age_years")
    n = age.shape[0]
    x = np.empty((n, len(COVARIATES)))
    columns = {
        "AGE_DIAG": age - dur, "CURR_AGE": age, "YEAR": dur, "FEMALE": values["female"],
        "AFRO": values["afro"], "INDIAN": values["indian"], "ATFIB": values["atfib"],
        "PVD": values["pvd"], "MMALB": values["mmalb"], "BMI": values["bmi"],
        "BMI1": bmi_below_18_5(values["bmi"]), "BMI3": bmi_25_or_more(values["bmi"]),
        "HBA1C": values["hba1c"], "SBP": sbp_term(values["sbp"]),
        "HDL": lipid_term(values["hdl"]), "LDL": lipid_term(values["ldl"]),
        "LDL35MORE": ldl35more(values["ldl"]), "EGFR": egfr_term(values["egfr"]),
        "EGFR60LESS": egfr60less(values["egfr"]), "EGFR60MORE": egfr60more(values["egfr"]),
        "HEART_R": heart_rate_term(values["hr"]), "WBC": values["wbc"],
        "HAEM": values["haem"], "SMOKER": values["smoker"],
    }
    columns |= {f"{k.upper()}_HIST": h for k, h in zip(hist_keys, hist, strict=True)}
    columns |= {f"{k.upper()}_EVENT": e for k, e in zip(event_keys, ev, strict=True)}
    for name, col in columns.items():
        x[:, COLUMN[name]] = col
    return x


# --------------------------------------------------------------------------- functional forms


FORM_CODES: Mapping[str, int] = MappingProxyType(
    {"weibull": 0, "exponential": 1, "gompertz": 2, "logistic": 3})
"""Integer code of each functional form, as compiled code takes it (``event_happens``)."""

# Each form is a numba ufunc (private: ufuncs take no keywords) wrapped by its documented
# function: numpy arrays broadcast through it. The compiled lifetime year
# (``sim.core.lifetime.year``, through ``event_happens``) calls the same hazards on scalars.
# Compiled, or loaded from numba's cache, on first use per input type, so importing costs
# nothing (the first call in a process costs about 0.4 s: numba's registries).

HAZARD_ROOM = 1.0 + 1e-12
"""A uniform at or above the year's hazard H x this is above the probability P <= H, whatever
expm1's rounding (``event_happens``)."""


@njit(cache=True, inline="always", error_model="numpy")
def weibull_hazard(xb: float, rho: float, log_t: float, log_t1: float) -> float:
    """The Weibull hazard of the year [t, t + 1), H(t + 1) - H(t), from log t and log(t + 1).

    t^rho = exp(rho log t): the lifetime year computes the two logs once for all of a
    patient's Weibull equations, then two exponentials each instead of two slower powers.
    log 0 = -inf gives 0^rho = 0.
    """
    return math.exp(xb) * (math.exp(rho * log_t1) - math.exp(rho * log_t))


@njit(cache=True, inline="always", error_model="numpy")
def gompertz_hazard(xb: float, phi: float, age_years: float) -> float:
    """The Gompertz hazard of the year [a, a + 1), H(a + 1) - H(a)."""
    return math.exp(xb + phi * age_years) * math.expm1(phi) / phi


@vectorize(cache=True)
def _weibull(xb: float, rho: float, t_years: float) -> float:
    log_t = math.log(t_years) if t_years != 0.0 else -math.inf  # no divide-by-zero flag
    return -math.expm1(-weibull_hazard(xb, rho, log_t, math.log(t_years + 1.0)))


@vectorize(cache=True)
def _exponential(xb: float) -> float:
    return -math.expm1(-math.exp(xb))


@vectorize(cache=True)
def _gompertz(xb: float, phi: float, age_years: float) -> float:
    return -math.expm1(-gompertz_hazard(xb, phi, age_years))


@vectorize(cache=True)
def _logistic(xb: float) -> float:
    return 1.0 / (1.0 + math.exp(-xb))


BOUND_ROOM = 1.0 + 1e-9
"""How far ``hazard_above`` is raised over the hazard's exact value: far more than the
rounding of the computed hazards and probabilities (a few ulps, 1e-15 relative)."""


@njit(cache=True, inline="always", error_model="numpy")
def hazard_above(form: int, xb: float, shape: float, log_duration: float,
                 log_duration1: float, age_years: float) -> float:
    """An upper bound of the year's hazard H (of P for the logistic form), without a libm call.

    Most draws lie far above an annual hazard; this bound (``vmath.exp_above``, at most 6%
    above e^x) rules them out before the two or three exponentials of the hazard itself:
    - Weibull: with a = rho log(t + 1) and b = rho log t, e^a - e^b <= (a - b) e^a (e^x is
      increasing), so H <= (a - b) e^(xb + a); applied only where a - b > 1e-3 (t < 1,000 rho
      years), so that the rounding of e^a - e^b (up to 1e-15 / (a - b) relative) is inside
      ``BOUND_ROOM``; t = 0 gives no bound;
    - exponential: e^xb; logistic: 1 / (1 + e^-xb) < e^xb;
    - Gompertz: e^(xb + phi a) (e^phi - 1) / phi <= e^(xb + phi a + max(phi, 0)).
    inf where there is no bound (NaN arguments, exponents beyond +-693).
    """
    if form == 0:
        a = shape * log_duration1
        gap = a - shape * log_duration
        if not (gap > 1e-3 and gap < 1e300):  # t = 0: gap = inf; NaN
            return 1.0e309  # inf
        return gap * vmath.exp_above(xb + a) * BOUND_ROOM
    if form == 2:
        return vmath.exp_above(xb + shape * age_years + max(shape, 0.0)) * BOUND_ROOM
    return vmath.exp_above(xb) * BOUND_ROOM


@njit(cache=True, inline="always", error_model="numpy")
def event_happens(u: float, form: int, xb: float, shape: float, log_duration: float,
                  log_duration1: float, age_years: float) -> bool:
    """Whether uniform ``u`` falls below an equation's annual probability, compiled.

    ``form`` is a ``FORM_CODES`` value; ``log_duration`` and ``log_duration1`` are log t and
    log(t + 1) of the diabetes duration t in years (``weibull_hazard``). The answer is always
    ``u < P``, P as the public functions compute it, computed only where it is in doubt:
    - a draw at or above ``hazard_above`` is above P (most draws: annual hazards are small);
      this saves the hazard's exponentials (a quarter of the lifetime stage's compiled time);
    - for the time-to-event forms P = 1 - exp(-H) <= H, so ``u >= H x HAZARD_ROOM`` rules the
      event out without the expm1; the room covers expm1's rounding.
    """
    if u >= hazard_above(form, xb, shape, log_duration, log_duration1, age_years):
        return False
    if form == 3:
        return u < _logistic(xb)
    if form == 0:
        h = weibull_hazard(xb, shape, log_duration, log_duration1)
    elif form == 1:
        h = math.exp(xb)
    else:
        h = gompertz_hazard(xb, shape, age_years)
    return u < h * HAZARD_ROOM and u < -math.expm1(-h)


def weibull_probability(xb: ArrayLike, rho: ArrayLike, t_years: ArrayLike) -> np.ndarray:
    """Annual probability from a Weibull cumulative hazard on diabetes duration.

    P = 1 - exp(exp(xb) * (t^rho - (t+1)^rho)), the chance of the event in [t, t+1] given
    none before t. ``rho = 1`` gives the exponential form.

    Args:
        xb: Linear predictor including the intercept (lambda).
        rho: Weibull shape (dimensionless, > 0).
        t_years: Diabetes duration at the start of the year (years, >= 0).

    Returns:
        Probability in [0, 1], broadcast over the inputs.

    References:
        Hayes 2013 (UKPDS 82), ESM; LONGTERM 1.1.
    """
    return _weibull(xb, rho, t_years)


def exponential_probability(xb: ArrayLike) -> np.ndarray:
    """Annual probability with a constant hazard exp(xb): P = 1 - exp(-exp(xb)).

    References: Hayes 2013 (UKPDS 82), ESM; LONGTERM 1.1.
    """
    return _exponential(xb)


def gompertz_probability(xb: ArrayLike, phi: ArrayLike, age_years: ArrayLike) -> np.ndarray:
    """Annual probability from a Gompertz cumulative hazard on current age.

    H(a) = exp(xb) (exp(phi a) - 1) / phi; P = 1 - exp(H(a) - H(a+1))
    = 1 - exp(-exp(xb) exp(phi a) (exp(phi) - 1) / phi).

    Args:
        xb: Linear predictor including the intercept (lambda).
        phi: Gompertz shape (per year, > 0).
        age_years: Current age at the start of the year (years).

    References:
        Hayes 2013 (UKPDS 82), ESM; LONGTERM 1.1.
    """
    return _gompertz(xb, phi, age_years)


def logistic_probability(xb: ArrayLike) -> np.ndarray:
    """P = 1 / (1 + exp(-xb)). References: Hayes 2013 (UKPDS 82), ESM; LONGTERM 1.1."""
    return _logistic(xb)


# --------------------------------------------------------------------------- vectorised sets


@dataclass(frozen=True)
class EquationSet:
    """Equations stacked as matrices so one ``X @ B`` gives every linear predictor."""

    names: tuple[str, ...]
    coefficients: np.ndarray   # (len(COVARIATES), E)
    intercepts: np.ndarray     # (E,)
    shapes: np.ndarray         # (E,) rho, phi, or nan for logistic
    forms: tuple[Form, ...]
    form_codes: np.ndarray     # (E,) the forms as FORM_CODES, for compiled code


@cache
def equation_set(names: Sequence[str]) -> EquationSet:
    """Stack the named equations (see :data:`EQUATIONS`) into matrices (cached)."""
    eqs = [EQUATIONS[n] for n in names]
    b = np.zeros((len(COVARIATES), len(eqs)))
    for j, eq in enumerate(eqs):
        for cov, beta in eq.coefficients.items():
            b[COLUMN[cov], j] = beta
    b.setflags(write=False)
    intercepts = np.array([eq.intercept for eq in eqs])
    shapes = np.array([np.nan if eq.shape is None else eq.shape for eq in eqs])
    forms = tuple(eq.form for eq in eqs)
    return EquationSet(tuple(names), b, intercepts, shapes, forms,
                       np.array([FORM_CODES[f] for f in forms], dtype=np.int64))


def annual_probabilities(
    covariates: np.ndarray,
    names: Sequence[str],
    *,
    risk_multiplier: float = 1.0,
) -> np.ndarray:
    """Annual probability of each named equation for each patient.

    Time scales are read from the covariate matrix: Weibull and exponential equations use
    diabetes duration (column ``YEAR``), Gompertz equations use current age (``CURR_AGE``).

    Args:
        covariates: Output of :func:`covariate_matrix` (n, len(COVARIATES)).
        names: Equation names (:data:`EVENT_EQUATION_NAMES`, :data:`DEATH_EQUATION_NAMES`).
        risk_multiplier: Calibration multiplier of hazards (odds for logistic forms), > 0.

    Returns:
        Array (n, len(names)) of probabilities in [0, 1].

    Raises:
        ValueError: If the multiplier is not a positive finite number or the matrix has the
            wrong number of columns.

    References:
        Hayes 2013 (UKPDS 82), ESM Tables 4-6; LONGTERM 1.1.
    """
    if not (np.isfinite(risk_multiplier) and risk_multiplier > 0):
        raise ValueError(f"risk_multiplier must be a finite number > 0, got {risk_multiplier!r}")
    x = np.asarray(covariates, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(COVARIATES):
        raise ValueError(f"covariates must have shape (n, {len(COVARIATES)}), got {x.shape}")
    eqs = equation_set(tuple(names))
    xb = x @ eqs.coefficients + eqs.intercepts
    if risk_multiplier != 1.0:
        xb += np.log(risk_multiplier)
    return probabilities_from_linear_predictors(
        xb.T, eqs, duration_years=x[:, COLUMN["YEAR"]], age_years=x[:, COLUMN["CURR_AGE"]]).T


def probabilities_from_linear_predictors(
    xb: np.ndarray,
    eqs: EquationSet,
    *,
    duration_years: np.ndarray,
    age_years: np.ndarray,
) -> np.ndarray:
    """Annual probabilities from linear predictors, one row per equation of ``eqs``.

    Args:
        xb: Linear predictors including intercepts (and log risk multiplier), shape (E, n).
        eqs: The stacked equations (:func:`equation_set`).
        duration_years: Diabetes duration at the start of the year (Weibull time scale).
        age_years: Current age at the start of the year (Gompertz time scale).

    Returns:
        Array (E, n) of probabilities.

    References:
        Hayes 2013 (UKPDS 82), ESM; LONGTERM 1.1.
    """
    out = np.empty_like(xb)
    forms = np.array(eqs.forms)
    for form in ("weibull", "exponential", "gompertz", "logistic"):
        rows = np.flatnonzero(forms == form)
        if rows.size == 0:
            continue
        if form == "weibull":
            out[rows] = weibull_probability(xb[rows], eqs.shapes[rows, None], duration_years)
        elif form == "exponential":
            out[rows] = exponential_probability(xb[rows])
        elif form == "gompertz":
            out[rows] = gompertz_probability(xb[rows], eqs.shapes[rows, None], age_years)
        else:
            out[rows] = logistic_probability(xb[rows])
    return out


def annual_event_probabilities(covariates: np.ndarray, *, risk_multiplier: float = 1.0
                               ) -> dict[str, np.ndarray]:
    """Annual probability of every complication equation, by equation name.

    The simulation picks which equation applies (first or second event, sex, ulcer history);
    this returns them all. See :func:`annual_probabilities` for arguments.

    References:
        Hayes 2013 (UKPDS 82), ESM Tables 4-5.
    """
    p = annual_probabilities(covariates, EVENT_EQUATION_NAMES, risk_multiplier=risk_multiplier)
    return {name: p[:, j] for j, name in enumerate(EVENT_EQUATION_NAMES)}


def annual_death_probability(
    covariates: np.ndarray,
    *,
    history: ArrayLike,
    event_this_year: ArrayLike,
    risk_multiplier: float = 1.0,
) -> np.ndarray:
    """Annual probability of death, choosing the mortality equation per patient.

    Branching (LONGTERM 1.1): no history and no event this year: Gompertz
    (``death_no_history_no_event``); no history but an event: logistic
    (``death_first_event_year``); history but no event: Gompertz
    (``death_history_no_event``); history and an event: logistic (``death_history_event``).

    Args:
        covariates: Output of :func:`covariate_matrix`, with this year's event columns set.
        history: Any prior MI, IHD, CHF, stroke, amputation, renal failure, blindness or
            ulcer (bool per patient; blindness and ulcer count here).
        event_this_year: Any MI, IHD, CHF, stroke, amputation or renal failure this year
            (bool per patient; blindness and ulcer do not count). Passed explicitly because a
            CHF event is the reference category and has no covariate column.
        risk_multiplier: Calibration multiplier of hazards (odds for logistic forms), > 0.

    Returns:
        Probability of death in the year, per patient.

    References:
        Hayes 2013 (UKPDS 82), ESM Table 6.
    """
    p = annual_probabilities(covariates, DEATH_EQUATION_NAMES, risk_multiplier=risk_multiplier)
    hist = np.broadcast_to(np.asarray(history, dtype=bool), p.shape[:1])
    event = np.broadcast_to(np.asarray(event_this_year, dtype=bool), p.shape[:1])
    branch = hist.astype(np.intp) * 2 + event.astype(np.intp)
    return np.take_along_axis(p, branch[:, None], axis=1)[:, 0]
