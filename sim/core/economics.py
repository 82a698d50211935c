"""The economics the model and runner use: discounting, QALYs and net monetary benefit.

Pure numpy functions (the analysis-level economics, ICERs, CEAC, CEAF and EVPI, are in
:mod:`sim.analyses.cea`).
Conventions follow the NICE methods guide (EVIDENCE.md): QALY = sum of utility x years,
costs and effects both discounted at 3.5% a year, threshold GBP 20,000-30,000 per QALY.

Time is measured in model days; a year is 365.25 days, so day ``d`` is ``d / 365.25`` years
after the start and is discounted by ``(1 + r) ** (-d / 365.25)``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.params.errors import ScenarioError

DAYS_PER_YEAR = 365.25
"""Days in a model year (Julian year), used for discounting and QALYs."""

HBA1C_COST_THRESHOLD_PCT = 7.0
"""HbA1c (%) above which each %-point adds ``economics.healthcare_cost_per_hba1c_pct_year``
to a patient's healthcare cost: the usual glycaemic target (ADA Standards of Care, < 7%)."""

NICE_DISCOUNT_RATE = 0.035
"""Annual discount rate for costs and effects, per year (NICE methods guide)."""

NICE_THRESHOLDS_GBP_PER_QALY = (20_000.0, 30_000.0)
"""Lower and upper NICE willingness-to-pay thresholds, GBP per QALY (NICE methods guide)."""


# --------------------------------------------------------------------------- discounting


def _check_rate(rate_per_year: float) -> float:
    rate = float(rate_per_year)
    if not math.isfinite(rate) or rate < 0:
        raise ScenarioError(f"rate_per_year must be a finite number >= 0, got {rate_per_year!r}")
    if rate > 1:
        raise ScenarioError(
            f"rate_per_year must be a fraction per year (0.035 for 3.5%), got {rate_per_year!r}; "
            "did you pass a percentage?"
        )
    return rate


def discount_factor(day: np.ndarray | float, rate_per_year: float) -> np.ndarray | float:
    """Discount factor for an amount accruing on a given model day.

    Annual compounding made continuous in time: ``(1 + rate) ** (-day / 365.25)``, so day 0
    gives 1 and day 365.25 gives ``1 / (1 + rate)``.

    Args:
        day: Model day(s) since the start of the analysis (days, >= 0); scalar or array.
        rate_per_year: Annual discount rate as a fraction (0.035 = 3.5% per year).

    Returns:
        Dimensionless factor(s) in (0, 1]; a float for scalar input, else an array of the
        same shape.

    Raises:
        ScenarioError: If the rate is negative, above 1 (a percentage by mistake) or if any
            day is negative or not finite.

    References:
        NICE methods guide (3.5% per year for costs and effects).
    """
    rate = _check_rate(rate_per_year)
    if isinstance(day, (int, float)) or np.ndim(day) == 0:  # scalars: Python floats (fast)
        days: float | np.ndarray = float(day)
        valid = math.isfinite(days) and days >= 0
    else:
        days = np.asarray(day, dtype=float)
        valid = bool(np.all(np.isfinite(days)) and not np.any(days < 0))
    if not valid:
        raise ScenarioError("day must be finite and >= 0 (days since the analysis start)")
    return (1.0 + rate) ** (-days / DAYS_PER_YEAR)


def discounted_sum(
    daily_values: np.ndarray, rate_per_year: float, start_day: int = 0
) -> float | np.ndarray:
    """Discounted sum of a daily series.

    ``daily_values[..., k]`` accrues on day ``start_day + k`` and is weighted by
    :func:`discount_factor` of that day.

    Args:
        daily_values: Amounts per day (e.g. GBP/day); days on the last axis. Extra leading
            axes (agents, draws) are summed separately.
        rate_per_year: Annual discount rate as a fraction (0.035 = 3.5% per year).
        start_day: Model day of the first value (days, >= 0).

    Returns:
        The discounted total (same unit as one daily value); a float for 1-D input, else
        an array over the leading axes.

    Raises:
        ScenarioError: On non-finite values, a scalar input or a negative start day.

    References:
        NICE methods guide (discounting of costs and effects).
    """
    values = np.asarray(daily_values, dtype=float)
    if values.ndim == 0:
        raise ScenarioError("daily_values must be an array with days on the last axis")
    if not np.all(np.isfinite(values)):
        raise ScenarioError(
            "daily_values must be finite; use 0 for days with no cost or utility (e.g. after death)"
        )
    if int(start_day) != start_day or start_day < 0:
        raise ScenarioError(f"start_day must be an integer >= 0, got {start_day!r}")
    days = int(start_day) + np.arange(values.shape[-1])
    total = values @ discount_factor(days, rate_per_year)
    return float(total) if values.ndim == 1 else total


def qalys_from_daily_utility(
    utility_by_day: np.ndarray, rate_per_year: float, start_day: int = 0
) -> float | np.ndarray:
    """Discounted QALYs from a daily utility series.

    ``QALY = sum_d utility_d / 365.25 * discount_factor(d)``: each day lived at utility ``u``
    contributes ``u / 365.25`` quality-adjusted life years.

    Args:
        utility_by_day: Health-state utility per day (EQ-5D scale, 1 = full health, 0 = dead);
            days on the last axis, leading axes (agents, draws) kept.
        rate_per_year: Annual discount rate as a fraction (0.035 = 3.5% per year).
        start_day: Model day of the first value (days, >= 0).

    Returns:
        QALYs; a float for 1-D input, else an array over the leading axes.

    References:
        NICE methods guide (QALY = utility x years, 3.5% discounting).
    """
    utility = np.asarray(utility_by_day, dtype=float)
    return discounted_sum(utility / DAYS_PER_YEAR, rate_per_year, start_day)


# --------------------------------------------------------------------------- words


def format_money(x: float, currency: str = "GBP", decimals: int | None = None) -> str:
    """Format an amount of money for words in tables and reports.

    Args:
        x: Amount (currency units).
        currency: Currency code written before the amount.
        decimals: Decimal places; by default 0 for amounts of 100 or more, else 2.

    Returns:
        For example ``"GBP 12,345"``, ``"-GBP 50.00"``, or ``"n/a"`` if ``x`` is not finite.
    """
    value = float(x)
    if not np.isfinite(value):
        return "n/a"
    if decimals is None:
        decimals = 0 if abs(value) >= 100 else 2
    sign = "-" if value < 0 and round(abs(value), decimals) != 0 else ""
    return f"{sign}{currency} {abs(value):,.{decimals}f}"


# --------------------------------------------------------------------------- net benefit


def net_monetary_benefit(
    cost: np.ndarray | float, qalys: np.ndarray | float, wtp_per_qaly: np.ndarray | float
) -> np.ndarray | float:
    """Net monetary benefit, ``NMB = wtp * qalys - cost`` (numpy broadcasting).

    Args:
        cost: Cost(s) (currency units, e.g. discounted GBP per patient).
        qalys: Effect(s) (discounted QALYs per patient).
        wtp_per_qaly: Willingness to pay (currency per QALY, e.g. 20,000 GBP/QALY).

    Returns:
        NMB in currency units, broadcast over the inputs.

    References:
        NICE methods guide (threshold GBP 20,000-30,000 per QALY).
    """
    return np.multiply(wtp_per_qaly, qalys) - np.asarray(cost, dtype=float)
