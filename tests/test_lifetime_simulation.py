"""Tests of the lifetime simulation: CRN, reproducibility, horizon, discounting, persistence,
costs and utilities, risk-factor draws and input validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import ValidationError

from sim.core.lifetime import (
    COST_SETS,
    UTILITY_SETS,
    Lifetime,
    Persistence,
    RiskFactorPopulation,
    annual_costs_gbp,
    annual_utility,
    draw_risk_factors,
    paired_difference,
    persistence_weight,
    reference_patients,
    simulate_lifetime,
    year_uniforms,
)
from sim.core.lifetime.equations import (
    EVENT_TYPES,
    annual_death_probability,
    annual_event_probabilities,
)

PERMANENT = Persistence(kind="permanent")


def uk_cohort(n: int, seed: int = 3):
    """A UK-like cohort: ABM-style age, sex, duration and HbA1c, then drawn risk factors."""
    g = np.random.default_rng(seed)
    age = np.clip(g.normal(62, 10, n), 30, 90)
    duration = np.minimum(np.clip(g.normal(9, 6, n), 0, 40), age - 18)
    hba1c = np.clip(g.normal(8.2, 1.2, n), 6, 13)
    return draw_risk_factors(age, g.random(n) < 0.45, duration, hba1c, g)


def run(rf, effect, seed=11, **spec):
    return simulate_lifetime(rf, effect, Lifetime(**({"persistence": PERMANENT} | spec)),
                             np.random.SeedSequence(seed))


@pytest.fixture(scope="module")
def cohort():
    return uk_cohort(6000)


@pytest.fixture(scope="module")
def arms(cohort):
    return run(cohort, 0.0), run(cohort, -1.0)


# --------------------------------------------------------------------------- CRN


def test_uniform_rows_do_not_depend_on_cohort_size() -> None:
    seq = np.random.SeedSequence(5)
    small, large = year_uniforms(seq, 3, 10), year_uniforms(seq, 3, 1000)
    assert np.array_equal(small, large[:10]), "patient i's uniforms changed with cohort size"
    assert not np.array_equal(year_uniforms(seq, 4, 10), small), "years must differ"


def test_one_year_events_are_nested_under_lower_hba1c(cohort) -> None:
    """From identical start states, the same uniforms and a lower HbA1c, every HbA1c-dependent
    event of the better arm also happens in the reference arm, and HbA1c-free events (IHD,
    CHF, renal) are identical."""
    # Everyone aged 60 with a horizon at 61: exactly one simulated year.
    rf = cohort.with_values(age_years=np.full(cohort.size, 60.0),
                            years_with_diabetes=np.minimum(cohort.years_with_diabetes, 40.0))
    ref, low = (run(rf, e, horizon_age_years=61.0) for e in (0.0, -1.0))
    for event in EVENT_TYPES:
        a, b = low.event_counts[event], ref.event_counts[event]
        if event in ("ihd", "chf", "renal"):
            assert np.array_equal(a, b), f"{event} does not depend on HbA1c but changed"
        else:
            assert np.all(a <= b), f"{event}: lower HbA1c produced an extra event in year 1"
    assert ref.n_years == 1, "horizon one year above entry age gives one simulated year"


@pytest.mark.parametrize("multiplier", [1.0, 10.0])
def test_one_year_events_and_deaths_are_the_public_probabilities_against_year_uniforms(
        cohort, multiplier) -> None:
    """The compiled year draws column j of ``year_uniforms`` for event type j (then death)
    and compares it with the equation the patient is on: in one year from no history, each
    first event happens exactly when u_j < its public probability, and death among patients
    with no event exactly when u_death < the no-history, no-event death probability. Catches
    a wrong column, index, year or time covariate in the kernel; 10% of durations are 0."""
    n = cohort.size
    rf = cohort.with_values(
        age_years=np.full(n, 60.0),
        years_with_diabetes=np.where(np.arange(n) % 10 == 0, 0.0,
                                     np.minimum(cohort.years_with_diabetes, 40.0)),
        **{f"history_{e}": np.zeros(n, dtype=cohort.history_mi.dtype) for e in EVENT_TYPES})
    seq = np.random.SeedSequence(99)
    res = run(rf, 0.0, seed=99, horizon_age_years=61.0, risk_multiplier=multiplier)
    u = year_uniforms(seq, 0, n)
    p = annual_event_probabilities(rf.covariates(), risk_multiplier=multiplier)
    first = {"mi": np.where(rf.female, p["mi1_female"], p["mi1_male"]), "ihd": p["ihd"],
             "chf": p["chf"], "stroke": p["stroke1"], "blindness": p["blindness"],
             "ulcer": p["ulcer"], "amputation": p["amp1_no_ulcer"], "renal": p["renal"]}
    any_event = np.zeros(n, dtype=bool)
    for j, event in enumerate(EVENT_TYPES):
        happened = res.event_counts[event] > 0
        expected = u[:, j] < first[event]
        assert np.array_equal(happened, expected), (
            f"{event}: {int(np.sum(happened != expected))} patients differ from u < P")
        any_event |= happened
    death = annual_death_probability(rf.covariates(), history=False, event_this_year=False,
                                     risk_multiplier=multiplier)
    quiet = ~any_event
    died = res.death_year == 0
    assert np.array_equal(died[quiet], u[quiet, len(EVENT_TYPES)] < death[quiet])
    if multiplier > 1.0:  # enough events and deaths for the comparison to mean something
        assert min(int(res.event_counts[e].sum()) for e in EVENT_TYPES) >= 5
        assert int(died.sum()) >= 20


def test_lifetime_blindness_never_higher_unless_the_patient_lives_longer(arms) -> None:
    """With CRN, lower HbA1c lowers every blindness probability and, while both arms are
    alive, keeps the set of prior complications nested (all event equations rise with
    history). So a patient who dies no later than in the reference arm never has more
    blindness. Patients who live longer can (more years at risk): "never more blindness for
    any patient" is not a valid property of a model with competing death."""
    ref, low = arms
    inf = np.iinfo(np.int64).max
    dies_low = np.where(low.death_year < 0, inf, low.death_year)
    dies_ref = np.where(ref.death_year < 0, inf, ref.death_year)
    not_longer = dies_low <= dies_ref
    for event in ("blindness", "ulcer"):
        more = (low.event_counts[event] > ref.event_counts[event]) & not_longer
        assert not more.any(), f"{event}: {int(more.sum())} patients have more under lower HbA1c"
    total_low = low.event_counts["blindness"].sum()
    total_ref = ref.event_counts["blindness"].sum()
    assert total_low < total_ref, f"blindness should fall: {total_low} >= {total_ref}"


def test_same_seed_reproduces_and_other_seed_differs(cohort) -> None:
    a, b, c = run(cohort, -0.5, seed=1), run(cohort, -0.5, seed=1), run(cohort, -0.5, seed=2)
    assert np.array_equal(a.qalys_discounted, b.qalys_discounted), "same seed, other QALYs"
    assert np.array_equal(a.death_year, b.death_year), "same seed, other deaths"
    assert not np.array_equal(a.death_year, c.death_year), "another seed, same deaths"


def test_adding_patients_does_not_change_existing_patients(cohort) -> None:
    first = cohort.take(np.arange(500))
    small, full = run(first, -1.0), run(cohort, -1.0)
    assert np.array_equal(small.qalys_discounted, full.qalys_discounted[:500]), (
        "a patient's lifetime changed when other patients were added")


# --------------------------------------------------------------------------- horizon


def test_everyone_dies_or_is_censored_at_the_horizon(arms, cohort) -> None:
    ref, _ = arms
    dead = ref.death_year >= 0
    assert np.all(ref.age_at_exit_years[dead] < 100.5), "death recorded after the horizon"
    assert np.all(ref.age_at_exit_years[~dead] >= 100.0), "censored before the horizon"
    # Gompertz mortality reaches several tens of % a year in the 90s, so few reach 100:
    # LONGTERM's age-57 OM2 patient has 34% dead at 20 years; 10% is a loose upper bound.
    assert (~dead).mean() < 0.10, f"{(~dead).mean():.1%} alive at 100"
    span = ref.age_at_exit_years - cohort.age_years
    assert np.allclose(ref.life_years, span), "life years must equal time from entry to exit"


def test_short_horizon_caps_follow_up(cohort) -> None:
    res = run(cohort.take(np.arange(300)), 0.0, horizon_age_years=75.0)
    young = cohort.take(np.arange(300)).age_years < 75
    assert np.all(res.life_years[~young] == 0), "patients past the horizon get no years"
    assert np.all(res.age_at_exit_years[young] <= 76.0), "follow-up beyond the horizon year"


# --------------------------------------------------------------------------- discounting


def test_discounted_life_years_follow_the_mid_year_convention(arms) -> None:
    ref, _ = arms
    r = 0.035
    years = np.floor(ref.life_years).astype(int)          # full years lived
    half = ref.life_years - years                          # 0.5 in the year of death
    factors = (1 + r) ** -(np.arange(ref.n_years + 1) + 0.5)
    cum = np.concatenate([[0.0], np.cumsum(factors)])
    expected = cum[years] + half * factors[years]
    assert np.allclose(ref.life_years_discounted, expected, rtol=1e-12), (
        "discounted life years differ from sum of (1.035)^-(k+0.5)")


def test_zero_rate_and_offset(cohort) -> None:
    rf = cohort.take(np.arange(400))
    zero = run(rf, 0.0, discount_rate_costs=0.0, discount_rate_effects=0.0)
    assert np.allclose(zero.qalys, zero.qalys_discounted), "0% must leave QALYs undiscounted"
    assert np.allclose(zero.cost_total_gbp, zero.cost_total_discounted_gbp), "0% costs"
    base, later = run(rf, 0.0), run(rf, 0.0, discount_start_years=1.0)
    assert np.allclose(later.qalys_discounted, base.qalys_discounted / 1.035, rtol=1e-12), (
        "starting one year later must divide discounted QALYs by 1.035")
    assert np.allclose(later.cost_total_discounted_gbp, base.cost_total_discounted_gbp / 1.035,
                       rtol=1e-12), "offset costs"


# --------------------------------------------------------------------------- persistence


def test_persistence_weights() -> None:
    t = np.array([0.0, 1.0, 2.0, 5.0])
    assert np.all(persistence_weight(t, {"kind": "permanent"}) == 1.0), "permanent is 1"
    assert np.allclose(persistence_weight(t, {"kind": "exponential", "half_life_years": 1}),
                       [1, 0.5, 0.25, 1 / 32]), "half-life 1 year halves each year"
    assert np.allclose(persistence_weight(t, {"kind": "linear_wane", "years": 4}),
                       [1, 0.75, 0.5, 0]), "linear wane to zero at 4 years"
    kept = persistence_weight(t, {"kind": "exponential", "half_life_years": 1,
                                  "retained_fraction": 1 / 3})
    assert np.allclose(kept, 1 / 3 + 2 / 3 * 0.5 ** t), "a third retained for life"
    assert persistence_weight(3.0, {"kind": "none"}) == 0.0, "none drops to zero"
    assert persistence_weight(0.0, {"kind": "none"}) == 1.0, "none: full effect at the end"
    assert isinstance(persistence_weight(1.0, PERMANENT), float), "scalar in, float out"


@pytest.mark.parametrize("spec", [
    {"kind": "linear_wane", "years": -2}, {"kind": "linear_wane"},
    {"kind": "exponential", "half_life_years": 0}, {"kind": "exponential", "years": 3},
    {"kind": "forever"}, {"kind": "none", "retained_fraction": 1.5},
    {"kind": "permanent", "halflife": 2},
])
def test_bad_persistence_spec_raises(spec) -> None:
    with pytest.raises(ValidationError):
        persistence_weight(1.0, spec)


def test_negative_time_raises() -> None:
    with pytest.raises(ValueError, match="years_since_end"):
        persistence_weight(-0.5, PERMANENT)


def test_effect_gain_ordered_by_persistence(cohort) -> None:
    rf = cohort.take(np.arange(3000))
    ref = run(rf, 0.0)
    gains = {}
    for name, spec in {"permanent": PERMANENT,
                       "exp5": Persistence(kind="exponential", half_life_years=5),
                       "none": Persistence(kind="none")}.items():
        res = simulate_lifetime(rf, -1.0, Lifetime(persistence=spec), np.random.SeedSequence(11))
        gains[name] = paired_difference(res, ref)["qalys_discounted"]
    assert gains["none"] == 0.0, f"no persistence must give exactly no gain, got {gains}"
    assert gains["permanent"] > gains["exp5"] > 0, f"gains not ordered: {gains}"


# --------------------------------------------------------------------------- costs, utilities


def test_cost_rules() -> None:
    costs = COST_SETS["ukpds84"]
    events = np.zeros((4, len(EVENT_TYPES)), bool)
    history = np.zeros_like(events)
    mi, blind, stroke = (EVENT_TYPES.index(e) for e in ("mi", "blindness", "stroke"))
    events[0, mi] = events[1, mi] = True      # MI: fatal (0) vs non-fatal (1)
    events[2, blind] = True                   # blindness in the year of death: never fatal
    history[3, stroke] = True                 # later-year stroke cost, dies mid-year
    comp, bg = annual_costs_gbp(costs, female=np.zeros(4, bool), age_years=np.full(4, 55.0),
                                events=events, history=history,
                                died=np.array([True, False, True, True]))
    assert comp[0] == 2484 and comp[1] == 7339, f"fatal/non-fatal MI 51-60 male: {comp[:2]}"
    assert comp[2] == 3145, f"blindness costs its event-year cost even when dying: {comp[2]}"
    assert comp[3] == 1881 * 0.5, f"half a later year of stroke cost: {comp[3]}"
    assert np.allclose(bg, [495.5, 991, 495.5, 495.5]), f"background 991/yr, half if dead: {bg}"


def test_utility_rules() -> None:
    u = UTILITY_SETS["om2_default"]
    events = np.zeros((3, len(EVENT_TYPES)), bool)
    history = np.zeros_like(events)
    mi, chf, amp, ulcer = (EVENT_TYPES.index(e) for e in ("mi", "chf", "amputation", "ulcer"))
    events[0, mi] = True                        # MI decrement in the event year only
    history[1, mi] = True
    history[2, [chf, amp, ulcer]] = True        # CHF + amputation + ulcer
    add = annual_utility(u, events=events, history=history)
    assert np.allclose(add, [0.807 - 0.065, 0.807, 0.807 - 0.101 - 0.172 - 0.21]), add
    grouped = annual_utility(u, events=events, history=history, combination="grouped_minimum")
    assert grouped[2] == pytest.approx(0.807 - 0.101 - 0.21), (
        "grouped: only the larger of ulcer/amputation counts")
    with pytest.raises(ValueError, match="combination"):
        annual_utility(u, events=events, history=history, combination="product")


def test_every_set_runs(cohort) -> None:
    rf = cohort.take(np.arange(300))
    for c in COST_SETS:
        for u in UTILITY_SETS:
            s = run(rf, -0.5, cost_set=c, utility_set=u).summary()
            assert 0 < s["qalys_discounted"] < s["life_years_discounted"] + 1e-9, (c, u, s)
            assert s["cost_total_discounted_gbp"] > 0, (c, u)


# --------------------------------------------------------------------------- results


def test_summary_and_curves(arms) -> None:
    ref, low = arms
    s = ref.summary()
    for key in ("life_years", "qalys_discounted", "cost_total_discounted_gbp",
                "events_per_1000_mi", "deaths_per_1000", "qalys_discounted_se"):
        assert key in s, f"summary lacks {key}"
    assert 0 < s["qalys_discounted_se"] < 0.1 * s["qalys_discounted"], "implausible MC error"
    assert s["events_per_1000_mi"] >= s["patients_with_mi_per_1000"], "events >= patients"
    cd = ref.cumulative_death
    assert np.all(np.diff(cd) >= 0) and cd[-1] == pytest.approx(s["deaths_per_1000"] / 1000)
    for event, curve in ref.cumulative_incidence.items():
        assert curve[-1] * 1000 == pytest.approx(s[f"patients_with_{event}_per_1000"]), event
    d = paired_difference(low, ref)
    assert d["qalys_discounted"] > 0, f"lower HbA1c should gain QALYs: {d['qalys_discounted']}"
    assert d["qalys_discounted_se"] < d["qalys_discounted"], "CRN difference must be resolved"


def test_bad_inputs_raise(cohort) -> None:
    rf = cohort.take(np.arange(10))
    with pytest.raises(ValueError, match="hba1c_effect_pct"):
        simulate_lifetime(rf, np.zeros(3), Lifetime(), np.random.SeedSequence(1))
    with pytest.raises(ValueError, match="SeedSequence"):
        simulate_lifetime(rf, 0.0, Lifetime(), 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same patients"):
        paired_difference(run(rf, 0.0), run(cohort.take(np.arange(5)), 0.0))
    with pytest.raises(ValidationError):
        Lifetime(discount_rate_costs=-0.01)
    with pytest.raises(ValidationError):
        Lifetime(horizon_age=90)        # unknown key (the field is horizon_age_years)


# --------------------------------------------------------------------------- risk factors


def test_draw_risk_factors_keeps_given_arrays_and_matches_spec() -> None:
    n = 40_000
    g = np.random.default_rng(9)
    age, female = np.full(n, 60.0), g.random(n) < 0.5
    rf = draw_risk_factors(age, female, np.full(n, 5.0), np.full(n, 8.0), g)
    assert np.array_equal(rf.age_years, age) and np.array_equal(rf.female, female)
    spec = RiskFactorPopulation()
    # 4 binomial SEs at n = 40,000 (SE <= 0.0025) for shares; 4 SEs of the mean for SBP.
    for name, share in (("smoker", spec.smoker_share), ("pvd", spec.pvd_share),
                        ("albuminuria", spec.albuminuria_share),
                        ("afro_caribbean", spec.afro_caribbean_share),
                        ("asian_indian", spec.asian_indian_share)):
        assert abs(getattr(rf, name).mean() - share) < 0.01, f"{name} share off"
    assert abs(rf.sbp_mmhg.mean() - 134) < 4 * 16 / np.sqrt(n), "SBP mean off"
    # 4 SEs of the mean (6.9 / sqrt(n) = 0.035) plus the small shift from clipping.
    assert abs(rf.bmi_kg_m2.mean() - 31.5) < 0.2, "log-normal BMI mean off"
    again = [draw_risk_factors(age[:50], female[:50], np.full(50, 5.0), np.full(50, 8.0),
                               np.random.default_rng(4)) for _ in range(2)]
    assert np.array_equal(again[0].ldl_mmol_l, again[1].ldl_mmol_l), "same stream, other draw"


def test_draw_risk_factors_rejects_bad_input() -> None:
    g = np.random.default_rng(1)
    with pytest.raises(ValueError, match="entries"):
        draw_risk_factors(np.full(3, 60.0), np.zeros(3, bool), np.full(2, 5.0),
                          np.full(3, 8.0), g)
    with pytest.raises(ValueError, match="years_with_diabetes"):
        draw_risk_factors(np.full(3, 30.0), np.zeros(3, bool), np.full(3, 40.0),
                          np.full(3, 8.0), g)
    with pytest.raises(ValueError, match="n_patients"):
        reference_patients(0)


def test_compiled_year_costs_and_utility_match_the_public_functions() -> None:
    """The compiled year's per-patient rules (sim.core.lifetime.year) equal
    costs_utilities.annual_costs_gbp and annual_utility, for every set and rule."""
    from sim.core.lifetime import year
    from sim.core.lifetime.simulate import _rules

    g = np.random.default_rng(2)
    m = 400
    events = g.random((m, len(EVENT_TYPES))) < 0.1
    history = g.random((m, len(EVENT_TYPES))) < 0.2
    female, age, died = g.random(m) < 0.5, g.uniform(40, 95, m), g.random(m) < 0.2
    for (cost_name, costs), (utility_name, utilities), combination in itertools.product(
            COST_SETS.items(), UTILITY_SETS.items(), ("additive", "grouped_minimum")):
        r = _rules(costs, utilities, combination)
        ref_cost = annual_costs_gbp(costs, female=female, age_years=age, events=events,
                                    history=history, died=died)
        ref_utility = annual_utility(utilities, events=events, history=history,
                                     combination=combination)
        for i in range(m):
            cost = year.costs(female[i], age[i], events[i], history[i], died[i], r.fatal_gbp,
                              r.event_gbp, r.later_gbp, r.background_gbp, r.age_band_starts)
            assert cost == pytest.approx((ref_cost[0][i], ref_cost[1][i]), rel=1e-12), (
                cost_name, i)
            value = year.utility(events[i], history[i], r.utility_baseline, r.utility_floor,
                                 r.event_decrement, r.later_decrement, r.grouped_minimum,
                                 r.utility_group, r.n_groups)
            assert value == pytest.approx(ref_utility[i], rel=1e-12), (utility_name, i)


def test_risk_multiplier_lowers_events_and_lengthens_life(cohort) -> None:
    rf = cohort.take(np.arange(2000))
    base, calibrated = run(rf, 0.0), run(rf, 0.0, risk_multiplier=0.7)
    s0, s1 = base.summary(), calibrated.summary()
    assert s1["events_per_1000_mi"] < s0["events_per_1000_mi"], "x0.7 hazards, fewer MIs"
    assert s1["life_years"] > s0["life_years"], "x0.7 hazards (death too), longer lives"


def test_public_forms_take_keywords_and_arrays() -> None:
    """The forms are ufuncs underneath; their documented functions keep keyword arguments."""
    from sim.core.lifetime.equations import gompertz_probability, weibull_probability
    from sim.core.lifetime.progression import next_hba1c_ukpds90

    p = weibull_probability(xb=np.array([-5.0, -4.0]), rho=1.2, t_years=np.array([0.0, 3.0]))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))
    assert gompertz_probability(xb=-12.0, phi=0.09, age_years=60.0) == pytest.approx(
        -np.expm1(-np.exp(-12.0 + 0.09 * 60.0) * np.expm1(0.09) / 0.09))
    assert next_hba1c_ukpds90(hba1c_lag_pct=8.0, hba1c_baseline_pct=8.0, female=True,
                              afro_caribbean=0, asian_indian=0,
                              years_with_diabetes=np.e) == pytest.approx(
        1.4195 + 0.7235 * 8 + 0.0810 * 8 + 0.0543 + 0.1420)


def test_compiled_event_draw_is_u_below_the_public_probability() -> None:
    """``event_happens`` skips the expm1 where the hazard rules the event out (P <= H); its
    answer must still be exactly ``u < P`` for every form, at draws just below, at and just
    above P, and where P is large or the duration is 0."""
    from sim.core.lifetime.equations import (
        FORM_CODES,
        event_happens,
        exponential_probability,
        gompertz_probability,
        logistic_probability,
        weibull_probability,
    )

    g = np.random.default_rng(4)
    n = 4000
    xb = g.uniform(-40.0, 2.0, n)  # down to hazards of 1e-17, where P and H agree
    shape = g.uniform(0.05, 2.5, n)
    t = np.where(g.random(n) < 0.1, 0.0, g.uniform(0.0, 60.0, n))
    age = g.uniform(30.0, 100.0, n)
    probabilities = {
        "weibull": weibull_probability(xb, shape, t),
        "exponential": exponential_probability(xb),
        "gompertz": gompertz_probability(xb, shape, age),
        "logistic": logistic_probability(xb),
    }
    # the C library's log, as compiled code calls it (numpy's own log can differ by an ulp)
    log_t = [math.log(x) if x > 0 else -math.inf for x in t]
    log_t1 = [math.log(x + 1.0) for x in t]
    for form, p in probabilities.items():
        for u in (p, np.nextafter(p, 0.0), np.nextafter(p, 1.0), p * (1 + 1e-13),
                  g.random(n)):
            got = [event_happens(float(u[i]), FORM_CODES[form], float(xb[i]),
                                 float(shape[i]), log_t[i], log_t1[i], float(age[i]))
                   for i in range(n)]
            mismatched = int(np.sum(np.array(got) != (u < p)))
            assert mismatched == 0, f"{form}: {mismatched} of {n} draws disagree with u < P"


def test_the_hazard_bound_is_above_every_probability_it_rules_out() -> None:
    """``hazard_above`` (which rules out draws before any exponential) is at or above the
    probability P that the public functions compute, for every form and wide ranges of the
    linear predictor, shape, duration and age, and close to it where hazards are small (the
    point of it: at most 1.5 x P for 95% of them)."""
    from sim.core.lifetime.equations import (
        FORM_CODES,
        exponential_probability,
        gompertz_probability,
        hazard_above,
        logistic_probability,
        weibull_probability,
    )

    g = np.random.default_rng(11)
    n = 20_000
    xb = g.uniform(-60.0, 6.0, n)
    shape = np.concatenate([g.uniform(0.01, 4.0, n - 100), np.ones(100)])
    t = np.concatenate([g.uniform(0.0, 80.0, n - 200), np.arange(0.0, 100.0), [0.0] * 100])
    age = g.uniform(18.0, 110.0, n)
    phi = np.where(g.random(n) < 0.2, -shape / 20, shape / 10)  # Gompertz: some negative
    cases = {
        "weibull": (shape, weibull_probability(xb, shape, t)),
        "exponential": (shape, exponential_probability(xb)),
        "gompertz": (phi, gompertz_probability(xb, phi, age)),
        "logistic": (shape, logistic_probability(xb)),
    }
    log_t = [math.log(x) if x > 0 else -math.inf for x in t]
    log_t1 = [math.log(x + 1.0) for x in t]
    for form, (s, p) in cases.items():
        bound = np.array([hazard_above(FORM_CODES[form], float(xb[i]), float(s[i]), log_t[i],
                                       log_t1[i], float(age[i])) for i in range(n)])
        assert np.all(bound >= p), f"{form}: the bound is below P"
        small = (p > 1e-300) & (p < 0.01) & (t > 0.0)
        assert np.quantile(bound[small] / p[small], 0.95) < 1.5, form
