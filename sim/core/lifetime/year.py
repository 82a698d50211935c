"""The lifetime years of every patient, compiled (steps 1-9 of ``simulate``).

``live_years`` runs the whole year loop in one call: each year is one pass over the patients
still alive, which draws their uniforms where it needs them (``uniform``: counter-based,
``sim.core.counter_rng``), instead of a few hundred array operations and a generator a year.
The equations' functional forms are ``equations.event_happens`` (the hazards the ufuncs
of ``annual_probabilities`` use); utility and cost rules are those of
``costs_utilities.annual_utility`` and ``annual_costs_gbp``, which
tests/test_lifetime_simulation.py checks them against.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from sim.core import counter_rng as cr
from sim.core import vmath
from sim.core.lifetime import equations, progression
from sim.core.lifetime.equations import EVENT_TYPES, event_happens
from sim.core.lifetime.progression import hba1c_on_path, ukpds90_step
from sim.core.numba_cache import drop_stale_cache

drop_stale_cache(__file__, equations.__file__, progression.__file__, cr.__file__, vmath.__file__)

MI, IHD, CHF, STROKE, BLINDNESS, ULCER, AMPUTATION, RENAL = (
    EVENT_TYPES.index(e)
    for e in ("mi", "ihd", "chf", "stroke", "blindness", "ulcer", "amputation", "renal"))
"""Event type indices (``equations.EVENT_TYPES`` order)."""

PICKED_EQUATIONS: tuple[str, ...] = (
    "mi1_male", "mi1_female", "mi2", "ihd", "chf", "stroke1", "stroke2", "blindness",
    "ulcer", "amp1_no_ulcer", "amp1_ulcer", "amp2", "renal")
"""Event equations in the order ``Equations.pick`` lists their rows."""

(MI1_MALE, MI1_FEMALE, MI2, IHD_EQ, CHF_EQ, STROKE1, STROKE2, BLINDNESS_EQ, ULCER_EQ,
 AMP1_NO_ULCER, AMP1_ULCER, AMP2, RENAL_EQ) = range(len(PICKED_EQUATIONS))


DYNAMIC: tuple[str, ...] = (
    "AMP1_EVENT", "AMP2_EVENT", "AMP_HIST", "BLIND_HIST", "CHF_HIST", "CURR_AGE", "HBA1C",
    "IHD_EVENT", "IHD_HIST", "MI_EVENT", "MI_HIST", "RENAL_EVENT", "RENAL_HIST",
    "STROKE_EVENT", "STROKE_HIST", "ULCER_HIST", "YEAR")
"""Covariates that change during the simulation, sorted: the order terms are added in."""

(AMP1_EVENT, AMP2_EVENT, AMP_HIST, BLIND_HIST, CHF_HIST, CURR_AGE, HBA1C, IHD_EVENT, IHD_HIST,
 MI_EVENT, MI_HIST, RENAL_EVENT, RENAL_HIST, STROKE_EVENT, STROKE_HIST, ULCER_HIST,
 YEAR) = range(len(DYNAMIC))


class Cohort(NamedTuple):
    """Per-patient state over the whole cohort (length n; ``alive`` says who is in)."""

    age0: np.ndarray            # age at entry, years
    dur0: np.ndarray            # diabetes duration at entry, years
    female: np.ndarray          # bool
    afro: np.ndarray            # indicator, float
    indian: np.ndarray          # indicator, float
    base_hba1c: np.ndarray      # entry (reference) HbA1c, %
    natural: np.ndarray         # natural HbA1c path, % (updated)
    effect: np.ndarray          # programme effect at the end of the agent stage, %-points
    counts: np.ndarray          # (n, types) int8 events ever, history included (updated)
    stage_counts: np.ndarray    # (n, types) int8 events in the stage (updated)
    event_static: np.ndarray    # (event equations, n) fixed part of the linear predictors
    death_static: np.ndarray    # (death equations, n)


class Equations(NamedTuple):
    """The equations as arrays: forms, shapes, time-varying terms and which row is which.

    Equation j's time-varying terms are ``term_start[j]:term_start[j + 1]``: each adds
    beta x covariate to its linear predictor, the covariate an index into ``DYNAMIC``.
    """

    event_forms: np.ndarray
    event_shapes: np.ndarray
    event_term_start: np.ndarray
    event_term_covariates: np.ndarray
    event_term_betas: np.ndarray
    death_forms: np.ndarray
    death_shapes: np.ndarray
    death_term_start: np.ndarray
    death_term_covariates: np.ndarray
    death_term_betas: np.ndarray
    pick: np.ndarray            # event-equation rows in ``PICKED_EQUATIONS`` order


class Rules(NamedTuple):
    """Utilities and costs: ``costs_utilities`` sets as flat arrays."""

    utility_baseline: float
    utility_floor: float
    event_decrement: np.ndarray     # (types,)
    later_decrement: np.ndarray     # (types,)
    grouped_minimum: bool           # else additive
    utility_group: np.ndarray       # (types,) group index of each type
    n_groups: int
    fatal_gbp: np.ndarray           # (types, 10) [type, sex x 5 + age band]
    event_gbp: np.ndarray           # (types, 10)
    later_gbp: np.ndarray           # (types, 10)
    background_gbp: np.ndarray      # (10,)
    age_band_starts: np.ndarray     # integer ages at which bands 1.. start
    mortality_type: np.ndarray      # (types,) bool: an event of it takes the "event" branch


N_UNIFORMS = len(EVENT_TYPES) + 1
"""Uniforms per patient-year: one per complication type, then one for death."""


class Years(NamedTuple):
    """The stage's scalars, and per-year arrays (length: the years simulated)."""

    key: np.uint64              # the lifetime stream's counter key (``uniform``)
    horizon: float              # age at which patients leave, years
    persistence: np.ndarray     # share of the programme effect left at mid-year
    discount_effects: np.ndarray  # (1 + r)^-(offset + k + 0.5)
    discount_costs: np.ndarray
    ukpds90: bool               # natural HbA1c by UKPDS 90, else constant


class Tally(NamedTuple):
    """Outputs: per patient (full length) and per year."""

    outcomes: np.ndarray        # (len(OUTCOMES), n), in ``simulate.OUTCOMES`` order
    counts_out: np.ndarray      # (n, types) stage events at exit
    death_year: np.ndarray      # (n,) -1 alive
    exit_age: np.ndarray        # (n,)
    events_by_year: np.ndarray  # (types, years)
    first_by_year: np.ndarray   # (types, years)
    deaths_by_year: np.ndarray  # (years,)


@njit(cache=True, inline="always")
def uniform(year_key: np.uint64, patient: int, column: int) -> float:
    """Patient ``patient``'s uniform of ``column`` (event type, then death) in one year.

    ``year_key`` is ``counter_rng.day_key(key, year)``: the number depends only on (seed,
    year, patient index, column), never on other patients, on who is still alive or on the
    design (common random numbers).
    """
    return cr.uniform(year_key, patient * N_UNIFORMS + column)


@njit(cache=True)
def uniforms(key: np.uint64, year: int, n_rows: int) -> np.ndarray:
    """The uniforms of patients 0..n_rows-1 in ``year``, shape (n_rows, ``N_UNIFORMS``)."""
    year_key = cr.day_key(key, year)
    out = np.empty((n_rows, N_UNIFORMS))
    for i in range(n_rows):
        for c in range(N_UNIFORMS):
            out[i, c] = uniform(year_key, i, c)
    return out


@njit(cache=True)
def live_years(alive: np.ndarray, years: Years, cohort: Cohort, eq: Equations, rules: Rules,
               tally: Tally, alive_at_start: np.ndarray) -> int:
    """Every year of the stage for ``alive`` (all patients, in increasing order).

    Returns how many are still in after the last year (``alive[:m]``); ``alive_at_start[k]``
    gets the patients alive at the start of year k.
    """
    m = alive.shape[0]
    for k in range(years.persistence.shape[0]):
        m = censor(alive, m, years.horizon, k, cohort, tally)
        if m == 0:
            break
        alive_at_start[k] = m
        m = live_year(alive, m, k, years, cohort, eq, rules, tally)
    return m


@njit(cache=True)
def censor(alive: np.ndarray, m: int, horizon: float, k: int, cohort: Cohort,
           tally: Tally) -> int:
    """Step 1: patients whose age at the start of year ``k`` reached the horizon leave.

    ``alive[:m]`` holds the patients still in, in increasing order; returns the new ``m``.
    """
    kept = 0
    for j in range(m):
        i = alive[j]
        if cohort.age0[i] + k < horizon:
            alive[kept] = i
            kept += 1
        else:
            tally.counts_out[i] = cohort.stage_counts[i]
            tally.exit_age[i] = cohort.age0[i] + k
    return kept


@njit(cache=True, inline="always")
def _linear_predictor(static: float, row: int, start: np.ndarray, covariates: np.ndarray,
                      betas: np.ndarray, dynamic: np.ndarray) -> float:
    xb = static
    for t in range(start[row], start[row + 1]):
        xb += betas[t] * dynamic[covariates[t]]
    return xb


@njit(cache=True, inline="always")
def _first_or_second(count: int, first: int, second: int) -> int:
    """Equation row of the first event with none so far, of the second after one, else -1."""
    return first if count == 0 else (second if count == 1 else -1)


@njit(cache=True)
def utility(events: np.ndarray, history: np.ndarray, baseline: float, floor: float,
            event_decrement: np.ndarray, later_decrement: np.ndarray, grouped_minimum: bool,
            group: np.ndarray, n_groups: int) -> float:
    """EQ-5D of one patient-year (arguments: ``Rules``' utility fields): ``annual_utility``.

    Not inlined, as ``costs``: inlined, a function counts references to its array arguments
    at every call (0.3-0.5 ms of a 2,000-patient stage; ``_decrement``).
    """
    total = 0.0
    if grouped_minimum:
        for g in range(n_groups):
            low = math.inf
            for t in range(events.shape[0]):
                if group[t] == g:
                    low = min(low, _decrement(events[t], history[t], event_decrement[t],
                                              later_decrement[t]))
            total += low
    else:
        for t in range(events.shape[0]):
            total += _decrement(events[t], history[t], event_decrement[t], later_decrement[t])
    return max(baseline + total, floor)


@njit(cache=True, inline="always")
def _decrement(event: bool, history: bool, event_decrement: float,
               later_decrement: float) -> float:
    """One type's utility decrement.

    Scalars, not arrays: an inlined function that takes arrays counts references to them (two
    atomic operations each) at every call, a fifth of the lifetime stage when this one took
    arrays (benchmarks/results.md, 2026-12-03 23:00).
    """
    if event:
        return event_decrement
    return later_decrement if history else 0.0


@njit(cache=True)
def costs(female: bool, age: float, events: np.ndarray, history: np.ndarray, died: bool,
          fatal_gbp: np.ndarray, event_gbp: np.ndarray, later_gbp: np.ndarray,
          background_gbp: np.ndarray, age_band_starts: np.ndarray) -> tuple[float, float]:
    """Complication and background cost of one patient-year: ``annual_costs_gbp``.

    The tables are ``Rules``' cost fields.
    """
    band = 0
    for start in age_band_starts:
        band += math.floor(age) >= start
    cell = 5 * int(female) + band
    share = 0.5 if died else 1.0
    event_cost = 0.0
    later_cost = 0.0
    for t in range(events.shape[0]):
        if events[t]:
            event_cost += fatal_gbp[t, cell] if died else event_gbp[t, cell]
        elif history[t]:
            later_cost += later_gbp[t, cell] * share
    return event_cost + later_cost, background_gbp[cell] * share


@njit(cache=True)
def live_year(alive: np.ndarray, m: int, k: int, years: Years, cohort: Cohort,
              eq: Equations, rules: Rules, tally: Tally) -> int:
    """Steps 2-9 of year ``k`` for ``alive[:m]``; returns how many are still alive.

    Patient i draws ``uniform`` i of the year for each equation that applies. The tuples'
    arrays are unpacked once: touching them in the loop would count references every time.
    """
    age0, dur0, female, natural = cohort.age0, cohort.dur0, cohort.female, cohort.natural
    effect, base_hba1c, afro, indian = (cohort.effect, cohort.base_hba1c, cohort.afro,
                                        cohort.indian)
    counts, stage = cohort.counts, cohort.stage_counts
    event_static, death_static = cohort.event_static, cohort.death_static
    event_forms, event_shapes, pick = eq.event_forms, eq.event_shapes, eq.pick
    event_start, event_covariates, event_betas = (eq.event_term_start, eq.event_term_covariates,
                                                  eq.event_term_betas)
    death_forms, death_shapes = eq.death_forms, eq.death_shapes
    death_start, death_covariates, death_betas = (eq.death_term_start, eq.death_term_covariates,
                                                  eq.death_term_betas)
    mortality_type = rules.mortality_type
    event_decrement, later_decrement = rules.event_decrement, rules.later_decrement
    utility_group, n_groups, grouped = rules.utility_group, rules.n_groups, rules.grouped_minimum
    fatal_gbp, event_gbp, later_gbp = rules.fatal_gbp, rules.event_gbp, rules.later_gbp
    background_gbp, band_starts = rules.background_gbp, rules.age_band_starts
    out, events_by_year, first_by_year = tally.outcomes, tally.events_by_year, tally.first_by_year
    death_year, exit_age, counts_out = tally.death_year, tally.exit_age, tally.counts_out
    ukpds90 = years.ukpds90
    n_types = counts.shape[1]
    dynamic = np.zeros(len(DYNAMIC))
    hist = np.zeros(n_types, dtype=np.bool_)
    events = np.zeros(n_types, dtype=np.bool_)
    rows = np.empty(n_types, dtype=np.int64)
    persistence = years.persistence[k]
    discount_effects, discount_costs = years.discount_effects[k], years.discount_costs[k]
    year_key = cr.day_key(years.key, k)
    kept = 0
    for j in range(m):
        i = alive[j]
        age = age0[i] + k
        duration = dur0[i] + k
        log_t, log_t1 = math.log(duration), math.log(duration + 1.0)  # Weibull forms
        any_history = False
        for t in range(n_types):
            hist[t] = counts[i, t] > 0
            any_history |= hist[t]
        # 3. covariates of this year
        for d in range(len(DYNAMIC)):
            dynamic[d] = 0.0
        dynamic[CURR_AGE], dynamic[YEAR] = age, duration
        dynamic[HBA1C] = hba1c_on_path(natural[i], effect[i], persistence)
        dynamic[MI_HIST], dynamic[IHD_HIST], dynamic[CHF_HIST] = hist[MI], hist[IHD], hist[CHF]
        dynamic[STROKE_HIST], dynamic[BLIND_HIST] = hist[STROKE], hist[BLINDNESS]
        dynamic[ULCER_HIST], dynamic[AMP_HIST] = hist[ULCER], hist[AMPUTATION]
        dynamic[RENAL_HIST] = hist[RENAL]
        # 4. which equation applies (-1: none), then 5. events
        rows[MI] = _first_or_second(counts[i, MI],
                                    pick[MI1_FEMALE] if female[i] else pick[MI1_MALE], pick[MI2])
        rows[STROKE] = _first_or_second(counts[i, STROKE], pick[STROKE1], pick[STROKE2])
        rows[AMPUTATION] = _first_or_second(
            counts[i, AMPUTATION], pick[AMP1_ULCER] if hist[ULCER] else pick[AMP1_NO_ULCER],
            pick[AMP2])
        for t, r in ((IHD, pick[IHD_EQ]), (CHF, pick[CHF_EQ]), (BLINDNESS, pick[BLINDNESS_EQ]),
                     (ULCER, pick[ULCER_EQ]), (RENAL, pick[RENAL_EQ])):
            rows[t] = -1 if hist[t] else r
        any_event = False
        for t in range(n_types):
            r = rows[t]
            events[t] = False
            if r >= 0:
                xb = _linear_predictor(event_static[r, i], r, event_start, event_covariates,
                                       event_betas, dynamic)
                events[t] = event_happens(uniform(year_key, i, t), event_forms[r], xb,
                                          event_shapes[r], log_t, log_t1, age)
            any_event |= events[t] and mortality_type[t]
        # 6. death: the branch on history and a mortality-relevant event this year
        dynamic[AMP1_EVENT] = events[AMPUTATION] and counts[i, AMPUTATION] == 0
        dynamic[AMP2_EVENT] = events[AMPUTATION] and counts[i, AMPUTATION] == 1
        dynamic[IHD_EVENT], dynamic[MI_EVENT] = events[IHD], events[MI]
        dynamic[RENAL_EVENT], dynamic[STROKE_EVENT] = events[RENAL], events[STROKE]
        branch = 2 * int(any_history) + int(any_event)
        xb = _linear_predictor(death_static[branch, i], branch, death_start, death_covariates,
                               death_betas, dynamic)
        died = event_happens(uniform(year_key, i, n_types), death_forms[branch], xb,
                             death_shapes[branch], log_t, log_t1, age)
        # 7. accrue outcomes
        share = 0.5 if died else 1.0
        qaly = share * utility(events, hist, rules.utility_baseline, rules.utility_floor,
                               event_decrement, later_decrement, grouped, utility_group,
                               n_groups)
        complication, background = costs(female[i], age, events, hist, died, fatal_gbp,
                                         event_gbp, later_gbp, background_gbp, band_starts)
        out[0, i] += share
        out[1, i] += share * discount_effects
        out[2, i] += qaly
        out[3, i] += qaly * discount_effects
        out[4, i] += complication
        out[5, i] += background
        out[6, i] += complication * discount_costs
        out[7, i] += background * discount_costs
        # 8. events become history; the natural HbA1c moves on
        for t in range(n_types):
            if events[t]:
                events_by_year[t, k] += 1
                first_by_year[t, k] += stage[i, t] == 0
                counts[i, t] += 1
                stage[i, t] += 1
        if ukpds90:
            natural[i] = ukpds90_step(natural[i], base_hba1c[i], female[i], afro[i], indian[i],
                                      dur0[i] + k + 1)
        # 9. the dead leave
        if died:
            death_year[i] = k
            exit_age[i] = age + 0.5
            counts_out[i] = stage[i]
            tally.deaths_by_year[k] += 1
        else:
            alive[kept] = i
            kept += 1
    return kept
