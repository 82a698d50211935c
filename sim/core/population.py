"""Draw the patient arrays (who the patients are), one entry per patient."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.core.dynamics import PAID_MAX
from sim.params.scenario import Behaviour, Beta, Normal, Population

FLOAT = np.float64


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

    @property
    def size(self) -> int:
        """Number of patients."""
        return self.age_years.shape[0]

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def _normal(rng: np.random.Generator, spec: Normal, n: int) -> np.ndarray:
    return np.clip(rng.normal(spec.mean, spec.sd, n), spec.min, spec.max).astype(FLOAT)


def _beta(rng: np.random.Generator, spec: Beta, n: int) -> np.ndarray:
    return rng.beta(spec.alpha, spec.beta, n).astype(FLOAT)


def draw_patients(spec: Population, behaviour: Behaviour, rng: np.random.Generator,
                  response_cv: float = 0.0) -> Patients:
    """Draw every patient's baseline attributes from the population stream.

    The order of draws is fixed, so two scenarios with the same population section and
    seed draw identical patients whatever their program. Optional draws (the posting
    hurdle, the response multiplier) come last and only when switched on.
    """
    n = spec.size
    sigma = behaviour.posting_activity_sigma
    activity = rng.lognormal(-0.5 * sigma * sigma, sigma, n)  # mean 1 (van Mierlo 2014 tail)
    return Patients(
        age_years=_normal(rng, spec.age_years, n),
        female=rng.random(n) < spec.female_share,
        years_with_diabetes=_normal(rng, spec.years_with_diabetes, n),
        hba1c0_pct=_normal(rng, spec.baseline_hba1c_pct, n),
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
        response=_response(rng, response_cv, n),
    )


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
