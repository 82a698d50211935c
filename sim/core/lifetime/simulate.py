"""Simulate each patient's lifetime, year by year, with the UKPDS 82 equations.

Order of operations in lifetime year k (k = 0, 1, ...; the year loop and every step are
compiled in ``sim.core.lifetime.year``, one pass over the patients still alive a year):

1. Censor patients whose age at the start of the year has reached the horizon.
2. The year's uniforms, counter-based (``sim.core.counter_rng``): patient i's number for
   column j (EVENT_TYPES order, then death) is a hash of (stream key, year, 9 i + j), drawn
   where an equation needs it.
3. Set this year's covariates: current age = entry age + k, duration = entry duration + k,
   HbA1c = natural path + programme effect x persistence weight at mid-year.
4. Complication probabilities from the start-of-year state; pick per patient the equation
   that applies (first or second MI / stroke / amputation, sex for first MI, ulcer history
   for first amputation); one-off events (IHD, CHF, blindness, ulcer, renal) only once.
5. Events: uniform < probability.
6. Death: branch on history (any prior complication, blindness and ulcer included) and on
   an event this year (MI, IHD, CHF, stroke, amputation or renal failure; blindness and
   ulcer excluded); the four mortality equations (LONGTERM 1.1); uniform < probability.
7. Accrue life years, QALYs and costs (survivors a full year, deaths half a year:
   half-cycle), each discounted at the year's midpoint, (1 + r)^-(offset + k + 0.5).
8. This year's events become history; the natural HbA1c moves on (UKPDS 90 or constant).
9. Drop the dead.

Common random numbers: a patient's uniforms depend only on (seed, patient index, year,
event column), never on other patients or on the design, so two designs run with the same
seed and the same patients differ only through the probabilities.

References:
    Hayes 2013 (UKPDS 82); Alva 2015 (UKPDS 84); NICE methods guide (3.5% discounting).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from sim.core import rng
from sim.core.lifetime import year
from sim.core.lifetime.costs_utilities import (
    AGE_BAND_STARTS,
    EQ5D_MIN,
    UTILITY_GROUPS,
    CostSet,
    UtilitySet,
    cost_set,
    utility_set,
)
from sim.core.lifetime.equations import (
    COLUMN,
    COVARIATES,
    DEATH_EQUATION_NAMES,
    EVENT_EQUATION_NAMES,
    EVENT_TYPES,
    EquationSet,
    equation_set,
)
from sim.core.lifetime.progression import persistence_weight
from sim.core.lifetime.risk_factors import RiskFactors
from sim.core.numba_cache import entry_point
from sim.params.lifetime import Lifetime

_MORTALITY_EVENT_TYPES = ("mi", "ihd", "chf", "stroke", "amputation", "renal")

OUTCOMES: tuple[str, ...] = (
    "life_years", "life_years_discounted", "qalys", "qalys_discounted",
    "cost_complications_gbp", "cost_background_gbp", "cost_complications_discounted_gbp",
    "cost_background_discounted_gbp",
)
"""Per-patient outcome fields of :class:`LifetimeResult` (see its docstring for units)."""


def stream_key(seed_sequence: np.random.SeedSequence) -> np.uint64:
    """The 64-bit counter key of the lifetime events under a run's root seed sequence.

    The "events" child of the run's "lifetime" stream (``sim.core.rng``): independent of the
    generator that stream seeds for the risk factors (``Streams.get``).
    """
    seq = np.random.SeedSequence(seed_sequence.entropy, spawn_key=(
        *seed_sequence.spawn_key, rng.stream_key("lifetime"), rng.name_key("events")))
    return seq.generate_state(1, np.uint64)[0]


def year_uniforms(seed_sequence: np.random.SeedSequence, year_index: int, n_rows: int
                  ) -> np.ndarray:
    """Uniforms of lifetime year ``year_index`` (0-based) of patients 0..n_rows-1: (n_rows, 9).

    Row i is the numbers the year kernel draws for patient i (``sim.core.lifetime.year``'s
    ``uniform``): they never depend on how many patients follow or on who is still alive.

    References:
        Steele 2014 (SplitMix64), through ``sim.core.counter_rng``.
    """
    return year.uniforms(stream_key(seed_sequence), int(year_index), int(n_rows))


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    n = values.shape[0]
    mean = float(values.mean())
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return mean, se


@dataclass(frozen=True)
class LifetimeResult:
    """Per-patient lifetime outcomes and cohort curves.

    Per-patient arrays (length n): ``life_years`` (years alive in the stage, undiscounted;
    deaths count half of their last year), ``life_years_discounted``, ``qalys`` and
    ``qalys_discounted`` (QALYs), ``cost_complications_gbp`` / ``cost_background_gbp``
    (undiscounted) and their ``_discounted_gbp`` versions (GBP at the cost set's price year),
    ``event_counts[type]`` (events during the stage, 0-2), ``death_year`` (0-based stage year
    of death, -1 if alive at the horizon), ``age_at_exit_years`` (age at death, mid-year, or
    at censoring).

    Cohort curves (length ``n_years``): ``cumulative_incidence[type][k]`` share of the cohort
    with a first stage event of that type by the end of year k (crude, competing death);
    ``events_by_year[type][k]`` events in year k; ``cumulative_death[k]`` share dead by the end
    of year k; ``alive_at_start[k]`` patients alive at the start of year k.
    """

    life_years: np.ndarray
    life_years_discounted: np.ndarray
    qalys: np.ndarray
    qalys_discounted: np.ndarray
    cost_complications_gbp: np.ndarray
    cost_background_gbp: np.ndarray
    cost_complications_discounted_gbp: np.ndarray
    cost_background_discounted_gbp: np.ndarray
    event_counts: Mapping[str, np.ndarray]
    death_year: np.ndarray
    age_at_exit_years: np.ndarray
    cumulative_incidence: Mapping[str, np.ndarray]
    events_by_year: Mapping[str, np.ndarray]
    cumulative_death: np.ndarray
    alive_at_start: np.ndarray
    cost_set: str
    utility_set: str
    currency: str
    price_year: int
    discount_rate_costs: float
    discount_rate_effects: float
    provenance: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_patients(self) -> int:
        """Number of patients simulated."""
        return int(self.life_years.shape[0])

    @property
    def n_years(self) -> int:
        """Number of simulated years (length of the cohort curves)."""
        return int(self.cumulative_death.shape[0])

    @property
    def cost_total_discounted_gbp(self) -> np.ndarray:
        """Discounted complication + background cost per patient (GBP)."""
        return self.cost_complications_discounted_gbp + self.cost_background_discounted_gbp

    @property
    def cost_total_gbp(self) -> np.ndarray:
        """Undiscounted complication + background cost per patient (GBP)."""
        return self.cost_complications_gbp + self.cost_background_gbp

    def per_patient(self, name: str) -> np.ndarray:
        """A per-patient outcome array by name (:data:`OUTCOMES` or a ``cost_total_*``)."""
        if name not in (*OUTCOMES, "cost_total_gbp", "cost_total_discounted_gbp"):
            raise ValueError(f"unknown outcome '{name}'; choose from {', '.join(OUTCOMES)}, "
                             "cost_total_gbp, cost_total_discounted_gbp")
        return getattr(self, name)

    def summary(self) -> dict[str, float]:
        """Means per patient with Monte Carlo standard errors, and events per 1,000.

        Keys: ``n_patients``; for each of :data:`OUTCOMES` plus ``cost_total_gbp`` and
        ``cost_total_discounted_gbp`` the mean and ``<name>_se`` (SD / sqrt(n): first-order
        Monte Carlo error, no parameter uncertainty); ``events_per_1000_<type>`` (all stage
        events, second events included), ``patients_with_<type>_per_1000`` (at least one),
        ``deaths_per_1000`` (by the horizon) and ``mean_age_at_exit_years``.
        """
        out: dict[str, float] = {"n_patients": float(self.n_patients)}
        for name in (*OUTCOMES, "cost_total_gbp", "cost_total_discounted_gbp"):
            out[name], out[f"{name}_se"] = _mean_se(self.per_patient(name))
        per_1000 = 1000.0 / self.n_patients
        for event in EVENT_TYPES:
            counts = self.event_counts[event]
            out[f"events_per_1000_{event}"] = float(counts.sum()) * per_1000
            out[f"patients_with_{event}_per_1000"] = float((counts > 0).sum()) * per_1000
        out["deaths_per_1000"] = float((self.death_year >= 0).sum()) * per_1000
        out["mean_age_at_exit_years"] = float(self.age_at_exit_years.mean())
        return out


def paired_difference(treated: LifetimeResult, reference: LifetimeResult
                      ) -> dict[str, float]:
    """Mean per-patient difference treated - reference and its paired Monte Carlo SE.

    Both results must come from the same patients and seed (common random numbers), so the
    per-patient differences are paired and their SE is SD(diff) / sqrt(n).

    Returns:
        ``<outcome>`` and ``<outcome>_se`` for each of :data:`OUTCOMES` and the total costs.

    Raises:
        ValueError: If the two results have different numbers of patients.

    References:
        Stout & Goldie 2008 (common random numbers in microsimulation) [M].
    """
    if treated.n_patients != reference.n_patients:
        raise ValueError("paired_difference needs results for the same patients, got "
                         f"{treated.n_patients} and {reference.n_patients}")
    out: dict[str, float] = {}
    for name in (*OUTCOMES, "cost_total_gbp", "cost_total_discounted_gbp"):
        diff = treated.per_patient(name) - reference.per_patient(name)
        out[name], out[f"{name}_se"] = _mean_se(diff)
    return out


def _effect_array(hba1c_effect_pct: ArrayLike, n: int) -> np.ndarray:
    effect = np.asarray(hba1c_effect_pct, dtype=float)
    if effect.ndim == 0:
        effect = np.full(n, float(effect))
    if effect.shape != (n,):
        raise ValueError(f"hba1c_effect_pct must be a scalar or have shape ({n},), "
                         f"got {effect.shape}")
    if not np.all(np.isfinite(effect)) or np.any(np.abs(effect) > 10):
        raise ValueError("hba1c_effect_pct must be finite %-points within [-10, 10]")
    return effect


_EVENT_SET = equation_set(EVENT_EQUATION_NAMES)
_DEATH_SET = equation_set(DEATH_EQUATION_NAMES)


def _split_linear_predictor(x: np.ndarray, eqs: EquationSet, multiplier: float
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed part of the linear predictors (E, n) from the entry covariates ``x``.

    And the time-varying terms to add each year, by equation: the terms of equation j are
    ``start[j]:start[j + 1]`` of the arrays of indices into ``year.DYNAMIC`` and
    coefficients, in ``DYNAMIC`` order.
    """
    static = np.array([c not in year.DYNAMIC for c in COVARIATES])
    xb = x[:, static] @ eqs.coefficients[static] + eqs.intercepts + np.log(multiplier)
    dynamic = [COLUMN[name] for name in year.DYNAMIC]
    betas = eqs.coefficients[dynamic].T                     # (E, len(DYNAMIC))
    has = betas != 0.0
    start = np.concatenate([[0], np.cumsum(has.sum(axis=1))]).astype(np.int64)
    covariates = np.nonzero(has)[1].astype(np.int64)        # row by row, DYNAMIC order
    return np.ascontiguousarray(xb.T), start, covariates, np.ascontiguousarray(betas[has])


def _rules(costs: CostSet, utilities: UtilitySet, combination: str) -> year.Rules:
    """Cost and utility rules as flat arrays.

    Fatal cells that are 'not applicable' take the event-year cost (the event is never fatal).
    """
    if combination not in ("additive", "grouped_minimum"):
        raise ValueError(f"unknown utility combination '{combination}'; "
                         "choose 'additive' or 'grouped_minimum'")
    n_types = len(EVENT_TYPES)
    nonfatal = costs.event_year_gbp.reshape(n_types, 10)
    fatal = costs.fatal_gbp.reshape(n_types, 10)
    never_fatal = np.array([e not in _MORTALITY_EVENT_TYPES for e in EVENT_TYPES])
    group = {e: g for g, types in enumerate(UTILITY_GROUPS.values()) for e in types}
    return year.Rules(
        utility_baseline=utilities.baseline, utility_floor=EQ5D_MIN,
        event_decrement=np.asarray(utilities.event_year_decrement, dtype=float),
        later_decrement=np.asarray(utilities.later_year_decrement, dtype=float),
        grouped_minimum=combination == "grouped_minimum",
        utility_group=np.array([group[e] for e in EVENT_TYPES], dtype=np.int64),
        n_groups=len(UTILITY_GROUPS),
        fatal_gbp=np.where(np.isnan(fatal) | never_fatal[:, None], nonfatal, fatal),
        event_gbp=np.ascontiguousarray(nonfatal),
        later_gbp=np.ascontiguousarray(costs.later_year_gbp.reshape(n_types, 10)),
        background_gbp=np.ascontiguousarray(costs.background_gbp_per_year.reshape(10)),
        age_band_starts=np.array(AGE_BAND_STARTS, dtype=float),
        mortality_type=~never_fatal)


def _equations(x_entry: np.ndarray, multiplier: float
               ) -> tuple[year.Equations, np.ndarray, np.ndarray]:
    """The equations for the year kernel, and the fixed linear predictors (event, death)."""
    event_static, *event_terms = _split_linear_predictor(x_entry, _EVENT_SET, multiplier)
    death_static, *death_terms = _split_linear_predictor(x_entry, _DEATH_SET, multiplier)
    row = {name: j for j, name in enumerate(EVENT_EQUATION_NAMES)}
    eq = year.Equations(
        _EVENT_SET.form_codes, _EVENT_SET.shapes, *event_terms,
        _DEATH_SET.form_codes, _DEATH_SET.shapes, *death_terms,
        pick=np.array([row[name] for name in year.PICKED_EQUATIONS], dtype=np.int64))
    return eq, event_static, death_static


def simulate_lifetime(
    risk_factors: RiskFactors,
    hba1c_effect_pct: ArrayLike,
    spec: Lifetime,
    seed_sequence: np.random.SeedSequence,
) -> LifetimeResult:
    """Simulate complications, deaths, costs and QALYs until death or the horizon age.

    Args:
        risk_factors: Patients at the start of the lifetime stage; ``hba1c_pct`` is the
            reference (no-programme) HbA1c. Pass the same object to every design compared.
        hba1c_effect_pct: Programme effect on HbA1c at the end of the agent-based stage
            (%-points, negative = improvement), scalar or one per patient; carried into later
            years by ``spec.persistence`` as an offset on the natural HbA1c path.
        spec: The ``lifetime`` scenario section (horizon, discounting, persistence, cost and
            utility sets, HbA1c progression, risk multiplier).
        seed_sequence: Root of the lifetime random numbers; use the same one for designs
            that are compared (common random numbers).

    Returns:
        A :class:`LifetimeResult`.

    Raises:
        ValueError: On a bad effect array or a seed that is not a SeedSequence.

    References:
        Hayes 2013 (UKPDS 82) and LONGTERM 1.1 (mortality branching); Alva 2015 (costs);
        NICE methods guide (discounting).
    """
    if not isinstance(seed_sequence, np.random.SeedSequence):
        raise ValueError("seed_sequence must be a numpy.random.SeedSequence, got "
                         f"{type(seed_sequence).__name__}")
    if not isinstance(spec, Lifetime):
        raise ValueError(f"spec must be a Lifetime section, got {type(spec).__name__}")
    n = risk_factors.size
    effect_all = _effect_array(hba1c_effect_pct, n)
    costs = cost_set(spec.cost_set)
    utilities = utility_set(spec.utility_set)
    horizon = spec.horizon_age_years
    multiplier = spec.risk_multiplier
    n_years = max(int(np.ceil(np.max(horizon - risk_factors.age_years))), 0)
    t_mid = spec.discount_start_years + np.arange(n_years) + 0.5
    years = year.Years(
        key=stream_key(seed_sequence), horizon=float(horizon),
        persistence=persistence_weight(np.arange(n_years) + 0.5, spec.persistence),
        discount_effects=(1.0 + spec.discount_rate_effects) ** -t_mid,
        discount_costs=(1.0 + spec.discount_rate_costs) ** -t_mid,
        ukpds90=spec.hba1c_progression == "ukpds90")

    # The time-invariant part of every linear predictor is computed once; the year kernel
    # adds the time-varying covariates (age, duration, HbA1c, histories, this year's events).
    eq, event_static, death_static = _equations(risk_factors.covariates(), multiplier)
    counts = np.stack([getattr(risk_factors, f"history_{e}") for e in EVENT_TYPES],
                      axis=1).astype(np.int8)
    cohort = year.Cohort(
        age0=np.array(risk_factors.age_years, dtype=float),
        dur0=np.array(risk_factors.years_with_diabetes, dtype=float),
        female=np.array(risk_factors.female, dtype=bool),
        afro=np.array(risk_factors.afro_caribbean, dtype=float),
        indian=np.array(risk_factors.asian_indian, dtype=float),
        base_hba1c=np.array(risk_factors.hba1c_pct, dtype=float),
        natural=np.array(risk_factors.hba1c_pct, dtype=float), effect=effect_all.copy(),
        counts=counts, stage_counts=np.zeros_like(counts),
        event_static=event_static, death_static=death_static)
    tally = year.Tally(
        outcomes=np.zeros((len(OUTCOMES), n)), counts_out=np.zeros_like(counts),
        death_year=np.full(n, -1, dtype=np.int64), exit_age=cohort.age0.copy(),
        events_by_year=np.zeros((len(EVENT_TYPES), n_years), dtype=np.int64),
        first_by_year=np.zeros((len(EVENT_TYPES), n_years), dtype=np.int64),
        deaths_by_year=np.zeros(n_years, dtype=np.int64))
    rules = _rules(costs, utilities, spec.utility_combination)
    alive_at_start = np.zeros(n_years, dtype=np.int64)
    alive = np.arange(n)   # the patients still in, in increasing order: alive[:m]
    args = (alive, years, cohort, eq, rules, tally, alive_at_start)
    m = entry_point(year.live_years, args)(*args)  # typing its 40 arrays: 0.5 ms a call
    # Patients still here after the last year are censored at the age they reached.
    still = alive[:m]
    tally.counts_out[still] = cohort.stage_counts[still]
    tally.exit_age[still] = cohort.age0[still] + n_years
    counts_out, first_by_year, events_by_year = (tally.counts_out, tally.first_by_year,
                                                 tally.events_by_year)
    cum_first = np.cumsum(first_by_year, axis=1) / max(n, 1)
    return LifetimeResult(
        **dict(zip(OUTCOMES, tally.outcomes, strict=True)),
        event_counts=MappingProxyType({e: counts_out[:, j] for j, e in enumerate(EVENT_TYPES)}),
        death_year=tally.death_year,
        age_at_exit_years=tally.exit_age,
        cumulative_incidence=MappingProxyType(
            {e: cum_first[j] for j, e in enumerate(EVENT_TYPES)}),
        events_by_year=MappingProxyType(
            {e: events_by_year[j] for j, e in enumerate(EVENT_TYPES)}),
        cumulative_death=np.cumsum(tally.deaths_by_year) / max(n, 1),
        alive_at_start=alive_at_start,
        cost_set=costs.name,
        utility_set=utilities.name,
        currency=costs.currency,
        price_year=costs.price_year,
        discount_rate_costs=spec.discount_rate_costs,
        discount_rate_effects=spec.discount_rate_effects,
        provenance=MappingProxyType({
            "equations": "UKPDS 82 (Hayes 2013), implemented from the published tables",
            "seed_entropy": seed_sequence.entropy,
            "seed_spawn_key": tuple(seed_sequence.spawn_key),
            "spec": spec.model_dump(mode="json"),
        }),
    )
