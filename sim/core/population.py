"""Draw the patient arrays (who the patients are), one entry per patient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np

from sim.core.dynamics import HBA1C_RANGE_PCT, PAID_MAX
from sim.params.errors import ScenarioError
from sim.params.scenario import Behaviour, Beta, Clinical, Eligibility, Normal, Population

FLOAT = np.float64

MIN_SCREENING_YIELD = 0.01
"""Eligibility that enrols fewer candidates than this share is refused as a likely mistake."""

SCREENING_BLOCK = 4096
"""Fewest candidates drawn at a time under eligibility criteria."""


@dataclass(frozen=True)
class Patients:
    """Baseline attributes, fixed for a run (units in the scenario's parameter table)."""

    age_years: np.ndarray
    female: np.ndarray
    years_with_diabetes: np.ndarray
    hba1c0_pct: np.ndarray
    adherence_logit: np.ndarray
    complex_regimen: np.ndarray
    self_efficacy0_z: np.ndarray
    knowledge0: np.ndarray
    digital_literacy: np.ndarray
    distress0: np.ndarray
    utility0: np.ndarray
    attendance_prob: np.ndarray
    posting_activity: np.ndarray
    response: np.ndarray
    hba1c_course0_pct: np.ndarray  # clinical course on day 0: true HbA1c less its set-point
    hba1c0_measured_pct: np.ndarray  # the screening measurement, which is the baseline
    screening_yield: float = 1.0  # share of candidates enrolled (1 without eligibility)

    @property
    def size(self) -> int:
        """Number of patients."""
        return self.age_years.shape[0]

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(v.nbytes for f in fields(self)
                   if isinstance(v := getattr(self, f.name), np.ndarray))

    def subset(self, keep: np.ndarray | slice) -> Patients:
        """The patients selected by a boolean mask, index array or slice."""
        return replace(self, **{f.name: getattr(self, f.name)[keep] for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})


def _normal(rng: np.random.Generator, spec: Normal, n: int) -> np.ndarray:
    return np.clip(rng.normal(spec.mean, spec.sd, n), spec.min, spec.max).astype(FLOAT)


def _beta(rng: np.random.Generator, spec: Beta, n: int) -> np.ndarray:
    return rng.beta(spec.alpha, spec.beta, n).astype(FLOAT)


def draw_patients(spec: Population, behaviour: Behaviour, rng: np.random.Generator,
                  clinical: Clinical | None = None) -> Patients:
    """Draw every patient's baseline attributes from the population stream.

    The order of draws is fixed, so two scenarios with the same population section and
    seed draw identical patients whatever their program. Optional draws (the posting
    hurdle, the response multiplier, the clinical course, the screening noise) come last
    and only when switched on. Under ``spec.eligibility`` candidates are drawn in blocks,
    each attribute in that order, and those whose screening HbA1c meets the criteria are
    enrolled until there are ``spec.size``: a truncated distribution, not a clipped one,
    and still a fixed function of the seed and the sections (common random numbers).
    """
    clinical = Clinical() if clinical is None else clinical
    if not spec.eligibility.active:
        return _candidates(spec, behaviour, clinical, rng, spec.size)
    kept: list[Patients] = []
    enrolled = drawn = 0
    block = max(spec.size, SCREENING_BLOCK)
    while enrolled < spec.size:
        cand = _candidates(spec, behaviour, clinical, rng, block)
        ok = _eligible(cand, spec.eligibility)
        kept.append(cand.subset(ok))
        enrolled += int(ok.sum())
        drawn += block
        if enrolled < spec.size and enrolled < MIN_SCREENING_YIELD * drawn:
            _too_few(spec, enrolled, drawn)
    patients = _concatenate(kept)
    return replace(patients.subset(slice(0, spec.size)), screening_yield=enrolled / drawn)


def _eligible(p: Patients, rule: Eligibility) -> np.ndarray:
    """Whether each candidate's screening HbA1c meets the criteria (bounds inclusive)."""
    value = p.hba1c0_measured_pct if rule.on == "measured" else p.hba1c0_pct
    ok = np.ones(value.shape[0], dtype=bool)
    if rule.hba1c_min_pct is not None:
        ok &= value >= rule.hba1c_min_pct
    if rule.hba1c_max_pct is not None:
        ok &= value <= rule.hba1c_max_pct
    return ok


def _too_few(spec: Population, enrolled: int, drawn: int) -> None:
    rule, source = spec.eligibility, spec.baseline_hba1c_pct
    bounds = " and ".join(f"{op} {v:g}%" for op, v in
                          ((">=", rule.hba1c_min_pct), ("<=", rule.hba1c_max_pct))
                          if v is not None)
    raise ScenarioError(
        f"population.eligibility: the source population almost never meets the criterion: "
        f"{enrolled:,} of {drawn:,} candidates ({enrolled / drawn:.2%}, under "
        f"{MIN_SCREENING_YIELD:.0%}) have a "
        f"{rule.on} screening HbA1c {bounds} (population.baseline_hba1c_pct: mean "
        f"{source.mean:g}, sd {source.sd:g}, range {source.min:g}-{source.max:g}); widen the "
        "criteria or move the source population", path="population.eligibility")


def _concatenate(parts: list[Patients]) -> Patients:
    """One set of patients from several, in order."""
    first = parts[0]
    return replace(first, **{f.name: np.concatenate([getattr(q, f.name) for q in parts])
                             for f in fields(first)
                             if isinstance(getattr(first, f.name), np.ndarray)})


def _candidates(spec: Population, behaviour: Behaviour, clinical: Clinical,
                rng: np.random.Generator, n: int) -> Patients:
    """``n`` candidates from the source population, every attribute in the fixed order."""
    sigma = behaviour.posting_activity_sigma
    activity = rng.lognormal(-0.5 * sigma * sigma, sigma, n)  # mean 1 (van Mierlo 2014 tail)
    age_years = _normal(rng, spec.age_years, n)
    female = rng.random(n) < spec.female_share
    years_with_diabetes = _normal(rng, spec.years_with_diabetes, n)
    hba1c0 = _normal(rng, spec.baseline_hba1c_pct, n)
    return Patients(
        age_years=age_years,
        female=female,
        years_with_diabetes=years_with_diabetes,
        hba1c0_pct=hba1c0,
        adherence_logit=_normal(rng, spec.adherence_logit, n),
        complex_regimen=rng.random(n) < spec.complex_regimen_share,
        self_efficacy0_z=_normal(rng, spec.self_efficacy_z, n),
        knowledge0=_beta(rng, spec.knowledge, n),
        digital_literacy=_beta(rng, spec.digital_literacy, n),
        distress0=PAID_MAX * _beta(rng, spec.distress, n),
        utility0=_normal(rng, spec.baseline_utility, n),
        attendance_prob=_beta(rng, spec.attendance_propensity, n)
        * (rng.random(n) >= spec.never_attend_share),
        posting_activity=_can_post(rng, behaviour.posting_share, activity).astype(FLOAT),
        response=_response(rng, clinical.response_cv, n),
        hba1c_course0_pct=_course0(rng, clinical.course_sd_pct, spec.baseline_hba1c_pct, hba1c0),
        hba1c0_measured_pct=measured(hba1c0, measurement_cv(clinical), rng.standard_normal),
    )


def _course0(rng: np.random.Generator, sd: float, source: Normal,
             hba1c0: np.ndarray) -> np.ndarray:
    """Each patient's clinical course on day 0, given the true baseline HbA1c.

    True HbA1c = set-point + course, with the course N(0, sd^2) of the source population's
    variance, so given true HbA1c h the course is N(b (h - mean), sd^2 (1 - b)) with
    b = sd^2 / source sd^2 (design doc §4.2). A course wider than the source population
    (b > 1) is taken as b = 1: every set-point is the mean. Zeros, with no draw, when
    ``sd`` = 0.
    """
    if sd == 0.0:
        return np.zeros(hba1c0.shape[0], dtype=FLOAT)
    share = 1.0 if source.sd <= sd else (sd / source.sd) ** 2
    noise = rng.standard_normal(hba1c0.shape[0]) * (sd * np.sqrt(1.0 - share))
    return (share * (hba1c0 - source.mean) + noise).astype(FLOAT)


def measurement_cv(clinical: Clinical) -> float:
    """Coefficient of variation of one HbA1c measurement: biological and analytical together."""
    return float(np.hypot(clinical.biological_cv, clinical.analytical_cv))


def measured(true_pct: np.ndarray, cv: float, normals: Callable[[int], np.ndarray]
             ) -> np.ndarray:
    """Measured HbA1c: true x (1 + cv z), one standard normal z per patient, within 4-20 %.

    ``normals(n)`` gives the n standard normals (a generator's ``standard_normal`` at set-up,
    the measurement stream of the day later). The true values themselves, with no draw, when
    ``cv`` = 0.
    """
    if cv == 0.0:
        return true_pct
    noisy = true_pct * (1.0 + cv * normals(true_pct.shape[0]))
    return np.clip(noisy, *HBA1C_RANGE_PCT)


def _response(rng: np.random.Generator, cv: float, n: int) -> np.ndarray:
    """Each patient's HbA1c response multiplier: lognormal, mean 1, coefficient of variation ``cv``.

    Ones, with no draw, when ``cv`` = 0.
    """
    if cv == 0.0:
        return np.ones(n, dtype=FLOAT)
    v = np.log1p(cv * cv)
    return rng.lognormal(-0.5 * v, np.sqrt(v), n).astype(FLOAT)


def _can_post(rng: np.random.Generator, share: float, activity: np.ndarray) -> np.ndarray:
    """Hurdle on posting activity: a share ``share`` can post, at activity / share (mean 1 kept).

    The draw comes last, and only when ``share`` < 1, so the other attributes keep their draws and
    ``share`` = 1 reproduces the model without a hurdle.
    """
    if share >= 1.0:
        return activity
    return activity * (rng.random(activity.shape[0]) < share) / share
