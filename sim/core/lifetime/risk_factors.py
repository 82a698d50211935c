"""Risk factors the UKPDS 82 equations need, one entry per patient.

Age, sex, diabetes duration and HbA1c are given by the agent-based model (never drawn twice);
the rest is drawn here from a documented UK T2DM population (``RiskFactorPopulation`` in
``sim.params.lifetime``; LONGTERM.md section 4). Assumptions, stated once here and in
docs/lifetime.md:

* every factor is drawn independently of the others and of age, sex and HbA1c (no UK
  correlation matrix was found; LONGTERM 4);
* continuous factors are normal (BMI log-normal), clipped to their physical range; SDs marked
  "assumption" in the schema are not from a source;
* ethnicity is one categorical draw (Afro-Caribbean, Asian-Indian, else White Caucasian);
* complication history at entry defaults to none (prevalences can be set).

References:
    Hayes 2013 (UKPDS 82) ESM Table 2 (variables); THIN 2016 (Trials 17:402); Zhang 2022
    (CPRD, BMC Med); COMPAR-EU UK baseline vector (LONGTERM 4).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import ArrayLike

from sim.core.lifetime.equations import EVENT_TYPES, REPEATABLE_EVENTS, covariate_matrix
from sim.params.lifetime import LogNormalDist, NormalDist, RiskFactorPopulation

HISTORY_EVENTS: tuple[str, ...] = EVENT_TYPES
"""Complication types; the count fields of :class:`RiskFactors` are ``history_<event>``."""


@dataclass(frozen=True)
class RiskFactors:
    """Risk factors at the start of the lifetime stage; arrays of equal length n.

    ``hba1c_pct`` is the reference (no-programme) HbA1c; a programme's effect is passed to the
    simulation separately, so two designs share the same ``RiskFactors``. History fields count
    prior events (0-2 for MI, stroke and amputation, 0-1 for the others).
    """

    age_years: np.ndarray
    female: np.ndarray
    years_with_diabetes: np.ndarray
    hba1c_pct: np.ndarray
    afro_caribbean: np.ndarray
    asian_indian: np.ndarray
    smoker: np.ndarray
    sbp_mmhg: np.ndarray
    hdl_mmol_l: np.ndarray
    ldl_mmol_l: np.ndarray
    bmi_kg_m2: np.ndarray
    egfr_ml_min: np.ndarray
    heart_rate_bpm: np.ndarray
    wbc_1e9_l: np.ndarray
    haemoglobin_g_dl: np.ndarray
    albuminuria: np.ndarray
    atrial_fibrillation: np.ndarray
    pvd: np.ndarray
    history_mi: np.ndarray
    history_ihd: np.ndarray
    history_chf: np.ndarray
    history_stroke: np.ndarray
    history_blindness: np.ndarray
    history_ulcer: np.ndarray
    history_amputation: np.ndarray
    history_renal: np.ndarray

    def __post_init__(self) -> None:
        n = np.shape(self.age_years)[0] if np.ndim(self.age_years) == 1 else -1
        if n < 0:
            raise ValueError("age_years must be a 1-D array (one entry per patient)")
        for f in fields(self):
            arr = getattr(self, f.name)
            if not isinstance(arr, np.ndarray) or arr.shape != (n,):
                raise ValueError(f"{f.name} must be a numpy array of shape ({n},), "
                                 f"got {getattr(arr, 'shape', type(arr).__name__)}")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise ValueError(f"{f.name} has non-finite values")
        if np.any(self.years_with_diabetes < 0) or np.any(
                self.years_with_diabetes > self.age_years):
            raise ValueError("years_with_diabetes must be >= 0 and <= age_years")
        if np.any(self.afro_caribbean & self.asian_indian):
            raise ValueError("a patient cannot be both Afro-Caribbean and Asian-Indian")
        for event in HISTORY_EVENTS:
            top = 2 if event in REPEATABLE_EVENTS else 1
            h = getattr(self, f"history_{event}")
            if np.any(h < 0) or np.any(h > top):
                raise ValueError(f"history_{event} must lie in 0..{top}")

    @property
    def size(self) -> int:
        """Number of patients."""
        return int(self.age_years.shape[0])

    def take(self, index: ArrayLike) -> RiskFactors:
        """The patients at ``index`` (integer or boolean index), as a new RiskFactors."""
        return RiskFactors(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def with_values(self, **changes: np.ndarray) -> RiskFactors:
        """A copy with some arrays replaced (e.g. ``hba1c_pct=...``)."""
        return replace(self, **changes)

    def covariates(self) -> np.ndarray:
        """Transformed covariate matrix at entry (``equations.covariate_matrix``)."""
        return covariate_matrix(
            age_years=self.age_years, years_with_diabetes=self.years_with_diabetes,
            female=self.female, hba1c_pct=self.hba1c_pct, sbp_mmhg=self.sbp_mmhg,
            hdl_mmol_l=self.hdl_mmol_l, ldl_mmol_l=self.ldl_mmol_l, bmi_kg_m2=self.bmi_kg_m2,
            egfr_ml_min=self.egfr_ml_min, heart_rate_bpm=self.heart_rate_bpm,
            wbc_1e9_l=self.wbc_1e9_l, haemoglobin_g_dl=self.haemoglobin_g_dl,
            smoker=self.smoker, afro_caribbean=self.afro_caribbean,
            asian_indian=self.asian_indian, atrial_fibrillation=self.atrial_fibrillation,
            pvd=self.pvd, albuminuria=self.albuminuria,
            history={"amp": self.history_amputation > 0, "blind": self.history_blindness > 0,
                     "chf": self.history_chf > 0, "ihd": self.history_ihd > 0,
                     "mi": self.history_mi > 0, "renal": self.history_renal > 0,
                     "stroke": self.history_stroke > 0, "ulcer": self.history_ulcer > 0},
        )


def _given(name: str, values: ArrayLike, n: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (one entry per patient), got shape "
                         f"{arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values")
    return arr


def _normal(rng: np.random.Generator, spec: NormalDist, n: int) -> np.ndarray:
    return np.clip(rng.normal(spec.mean, spec.sd, n), spec.min, spec.max)


def _lognormal(rng: np.random.Generator, spec: LogNormalDist, n: int) -> np.ndarray:
    """Log-normal with the given arithmetic mean and SD (moment matching), clipped."""
    sigma2 = np.log1p((spec.sd / spec.mean) ** 2)
    mu = np.log(spec.mean) - 0.5 * sigma2
    return np.clip(rng.lognormal(mu, np.sqrt(sigma2), n), spec.min, spec.max)


def draw_risk_factors(
    age_years: ArrayLike,
    female: ArrayLike,
    years_with_diabetes: ArrayLike,
    hba1c_pct: ArrayLike,
    rng: np.random.Generator,
    *,
    spec: RiskFactorPopulation | None = None,
) -> RiskFactors:
    """Draw each patient's remaining UKPDS 82 risk factors from a UK T2DM population.

    The draw order is fixed (ethnicity, smoking, SBP, HDL, LDL, BMI, eGFR, heart rate, WBC,
    haemoglobin, albuminuria, PVD, AF, then entry histories in :data:`HISTORY_EVENTS` order),
    so the same generator state gives the same patients whatever the programme design.

    Args:
        age_years: Age at the start of the lifetime stage (years), from the agent-based model.
        female: Sex (bool per patient), from the agent-based model.
        years_with_diabetes: Diabetes duration (years, 0 <= duration <= age).
        hba1c_pct: Reference (no-programme) HbA1c (%, DCCT).
        rng: Generator of a dedicated stream (e.g. the population stream of the run).
        spec: Population distributions; default ``RiskFactorPopulation()``.

    Returns:
        A :class:`RiskFactors` with n patients.

    Raises:
        ValueError: On arrays of different lengths, non-finite values or a duration outside
            [0, age].

    References:
        THIN 2016 (Trials 17:402); Zhang 2022 (CPRD); COMPAR-EU UK vector (LONGTERM 4).
    """
    spec = spec or RiskFactorPopulation()
    age = _given("age_years", age_years, None)
    n = age.shape[0]
    female_arr = np.asarray(female).astype(bool)
    if female_arr.shape != (n,):
        raise ValueError(f"female must have shape ({n},), got {female_arr.shape}")
    duration = _given("years_with_diabetes", years_with_diabetes, n)
    hba1c = _given("hba1c_pct", hba1c_pct, n)
    u_eth = rng.random(n)
    afro = u_eth < spec.afro_caribbean_share
    indian = (~afro) & (u_eth < spec.afro_caribbean_share + spec.asian_indian_share)
    smoker = rng.random(n) < spec.smoker_share
    sbp = _normal(rng, spec.sbp_mmhg, n)
    hdl = _normal(rng, spec.hdl_mmol_l, n)
    ldl = _normal(rng, spec.ldl_mmol_l, n)
    bmi = _lognormal(rng, spec.bmi_kg_m2, n)
    egfr = _normal(rng, spec.egfr_ml_min, n)
    hr = _normal(rng, spec.heart_rate_bpm, n)
    wbc = _normal(rng, spec.wbc_1e9_l, n)
    haem = _normal(rng, spec.haemoglobin_g_dl, n)
    mmalb = rng.random(n) < spec.albuminuria_share
    pvd = rng.random(n) < spec.pvd_share
    atfib = rng.random(n) < spec.atrial_fibrillation_share
    history = {f"history_{e}": (rng.random(n) < getattr(spec.history, e)).astype(np.int8)
               for e in HISTORY_EVENTS}
    return RiskFactors(
        age_years=age, female=female_arr, years_with_diabetes=duration, hba1c_pct=hba1c,
        afro_caribbean=afro, asian_indian=indian, smoker=smoker, sbp_mmhg=sbp,
        hdl_mmol_l=hdl, ldl_mmol_l=ldl, bmi_kg_m2=bmi, egfr_ml_min=egfr, heart_rate_bpm=hr,
        wbc_1e9_l=wbc, haemoglobin_g_dl=haem, albuminuria=mmalb, atrial_fibrillation=atfib,
        pvd=pvd, **history,
    )


def reference_patients(n_patients: int, *, female: ArrayLike = False) -> RiskFactors:
    """``n_patients`` copies of the Mount Hood reference patient (for validation and tests).

    Age 66, duration 8, White, non-smoker, HbA1c 7.5%, SBP 145 mmHg, HDL 1.3 and LDL 3.0
    mmol/L, BMI 28, eGFR 70, WBC 7, heart rate 79, haemoglobin 14, no albuminuria, PVD or AF,
    no history. ``female`` is a bool or a bool array of length n.

    References:
        COMPAR-EU ``input/baseline_characteristics_MH2020.csv`` (presumed Mount Hood 2020
        reference patient; LONGTERM 3).
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    n = int(n_patients)

    def full(value: float) -> np.ndarray:
        return np.full(n, value, dtype=float)

    def no() -> np.ndarray:
        return np.zeros(n, dtype=bool)

    fem = np.broadcast_to(np.asarray(female, dtype=bool), (n,)).copy()
    return RiskFactors(
        age_years=full(66), female=fem, years_with_diabetes=full(8), hba1c_pct=full(7.5),
        afro_caribbean=no(), asian_indian=no(), smoker=no(), sbp_mmhg=full(145),
        hdl_mmol_l=full(1.3), ldl_mmol_l=full(3.0), bmi_kg_m2=full(28), egfr_ml_min=full(70),
        heart_rate_bpm=full(79), wbc_1e9_l=full(7), haemoglobin_g_dl=full(14),
        albuminuria=no(), atrial_fibrillation=no(), pvd=no(),
        **{f"history_{e}": np.zeros(n, dtype=np.int8) for e in HISTORY_EVENTS},
    )
