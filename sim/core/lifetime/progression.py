"""Yearly progression of risk factors and persistence of the programme's HbA1c effect.

Each simulated year: age + 1 and duration + 1; HbA1c follows either the UKPDS 90
dynamic-panel equation or stays constant (``hba1c_progression``); every other risk factor
(SBP, lipids, BMI, eGFR, heart rate, WBC, haemoglobin, smoking, albuminuria, PVD, AF) is held
at its entry value for life, an assumption (OM2 itself updates them with UKPDS 90; that makes
absolute risks rise with time but moves both arms of a comparison alike).

The programme effect (``hba1c_effect_pct``, negative = improvement, at the end of the
agent-based stage) is an offset on the natural path: HbA1c in year k = natural_k +
effect x w(k + 0.5), with w from :func:`persistence_weight` evaluated at the middle of the
year. The natural path never sees the effect, so "permanent" stays permanent (if the effect
fed the lagged term it would decay at the lag coefficient 0.72 a year whatever the spec).

References:
    Leal J, et al. Diabet Med 2021 (UKPDS 90), PMID 34297424; Norris 2002 (decay of DSMES
    effects); Zhang (thesis) (peer-support effect after support stops).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numba import vectorize
from numpy.typing import ArrayLike

from sim.params.lifetime import Persistence

UKPDS90_HBA1C: Mapping[str, float] = MappingProxyType({
    "intercept": 1.4195,
    "hba1c_lag": 0.7235,         # HbA1c of the previous year, %
    "hba1c_baseline": 0.0810,    # HbA1c at entry to the lifetime stage, % (see docstring)
    "female": 0.0543,
    "afro_caribbean": 0.0658,    # "Black" in the transcription
    "asian_indian": 0.0461,
    "log_duration": 0.1420,      # ln(diabetes duration, years)
})
"""UKPDS 90 HbA1c equation, dynamic-panel form. [unverified]: transcribed from the
microsim_tutorial coefficient file (LONGTERM 1.5 pitfall 4), not checked against Leal 2021."""


def persistence_weight(years_since_end: ArrayLike,
                       spec: Persistence | Mapping[str, Any]) -> float | np.ndarray:
    """Share of the programme's end-of-stage HbA1c effect still present at time t.

    With r = ``retained_fraction``: permanent w = 1; none w = r; linear_wane
    w = r + (1 - r) max(0, 1 - t / years); exponential w = r + (1 - r) 0.5^(t / half_life).
    At t = 0 every kind but "none" gives 1.

    Args:
        years_since_end: Years since the agent-based stage ended (>= 0); scalar or array.
        spec: A ``Persistence`` model or a mapping such as ``{"kind": "exponential",
            "half_life_years": 1}`` (validated the same way).

    Returns:
        Weight(s) in [0, 1]; a float for scalar input.

    Raises:
        ValueError: On negative or non-finite times, or an invalid spec (e.g. negative years,
            a parameter that does not belong to the kind).

    References:
        Norris 2002 (DSMES keeps about 1/3 of its effect); Zhang (thesis) (peer support about
        0 after support stops).
    """
    if not isinstance(spec, Persistence):
        spec = Persistence.model_validate(dict(spec))
    t = np.asarray(years_since_end, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"years_since_end must be finite and >= 0, got {years_since_end!r}")
    r = spec.retained_fraction
    if spec.kind == "permanent":
        w = np.ones_like(t)
    elif spec.kind == "none":
        w = np.where(t > 0, r, 1.0)
    elif spec.kind == "linear_wane":
        years = float(spec.years or 0.0)  # the model validator guarantees years > 0
        w = r + (1.0 - r) * np.maximum(0.0, 1.0 - t / years)
    else:
        half_life = float(spec.half_life_years or 0.0)  # guaranteed > 0 by the validator
        w = r + (1.0 - r) * 0.5 ** (t / half_life)
    return float(w) if np.ndim(years_since_end) == 0 else w


_UKPDS90 = tuple(UKPDS90_HBA1C.values())  # numba reads module constants, not a mapping


@vectorize(cache=True)
def ukpds90_step(hba1c_lag_pct: float, hba1c_baseline_pct: float, female: float,
                 afro_caribbean: float, asian_indian: float, years_with_diabetes: float) -> float:
    """:func:`next_hba1c_ukpds90` as a ufunc (positional arguments only).

    The compiled lifetime year calls it per patient.
    """
    c = _UKPDS90
    return (c[0] + c[1] * hba1c_lag_pct + c[2] * hba1c_baseline_pct + c[3] * female
            + c[4] * afro_caribbean + c[5] * asian_indian
            + c[6] * math.log(max(years_with_diabetes, 1.0)))


def next_hba1c_ukpds90(
    hba1c_lag_pct: np.ndarray,
    hba1c_baseline_pct: np.ndarray,
    female: np.ndarray,
    afro_caribbean: np.ndarray,
    asian_indian: np.ndarray,
    years_with_diabetes: np.ndarray,
) -> np.ndarray:
    """Next year's natural HbA1c (%) from the UKPDS 90 dynamic-panel equation [unverified].

    HbA1c_t = 1.4195 + 0.7235 HbA1c_{t-1} + 0.0810 HbA1c_0 + 0.0543 female + 0.0658 Black
    + 0.0461 Indian + 0.1420 ln(duration_t). HbA1c_0 is taken as the entry HbA1c of the
    lifetime stage (in UKPDS 90 the baseline is the study baseline; an assumption), and the
    duration is floored at 1 year inside the log.

    Args:
        hba1c_lag_pct: Natural HbA1c of the previous year (%).
        hba1c_baseline_pct: Entry HbA1c (%).
        female: Indicator.
        afro_caribbean: Indicator.
        asian_indian: Indicator.
        years_with_diabetes: Duration in the year being predicted (years).

    References:
        Leal 2021 (UKPDS 90), coefficients as transcribed in LONGTERM 1.5 [unverified].
    """
    return ukpds90_step(hba1c_lag_pct, hba1c_baseline_pct, female, afro_caribbean,
                        asian_indian, years_with_diabetes)


@vectorize(cache=True)
def hba1c_on_path(natural_hba1c_pct: float, hba1c_effect_pct: float, weight: float) -> float:
    """HbA1c (%) on the natural path plus effect x weight, floored at 4%; a ufunc.

    4% is the lowest physiological HbA1c.
    """
    return max(natural_hba1c_pct + hba1c_effect_pct * weight, 4.0)


def hba1c_with_effect(natural_hba1c_pct: np.ndarray, hba1c_effect_pct: np.ndarray,
                      year_index: int, spec: Persistence) -> np.ndarray:
    """HbA1c (%) used by the equations in lifetime year ``year_index`` (0-based).

    natural + effect x w(year_index + 0.5), floored at 4% (the lowest physiological HbA1c).

    References:
        See :func:`persistence_weight`.
    """
    return hba1c_on_path(natural_hba1c_pct, hba1c_effect_pct,
                         persistence_weight(year_index + 0.5, spec))
