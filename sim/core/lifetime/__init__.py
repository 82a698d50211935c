"""Lifetime-outcomes engine: complications, deaths, lifetime costs and QALYs.

After the agent-based stage, each patient's risk factors and the programme's HbA1c effect
are carried forward year by year with the published UKPDS 82 risk equations (Hayes 2013),
UKPDS 84 / OM2-default costs and OM2, ADVANCE or Mount Hood utilities, discounted at 3.5%.
Implemented from the published tables; this is not the licensed UKPDS Outcomes Model
software. See docs/lifetime.md.

Typical use::

    rf = draw_risk_factors(age_years, female, years_with_diabetes, hba1c_pct, rng)
    ref = simulate_lifetime(rf, 0.0, spec, seed_sequence)
    new = simulate_lifetime(rf, hba1c_effect_pct, spec, seed_sequence)   # same seed: CRN
    paired_difference(new, ref)["qalys_discounted"]

References:
    Hayes 2013 (UKPDS 82); Alva 2015 (UKPDS 84); NICE methods guide.
"""

from sim.core.lifetime.costs_utilities import (
    COST_SETS,
    UTILITY_SETS,
    CostSet,
    UtilitySet,
    annual_costs_gbp,
    annual_utility,
    cost_set,
    utility_set,
)
from sim.core.lifetime.equations import (
    DEATH_EQUATIONS,
    EVENT_EQUATIONS,
    EVENT_TYPES,
    Equation,
    annual_death_probability,
    annual_event_probabilities,
    annual_probabilities,
    covariate_matrix,
)
from sim.core.lifetime.progression import (
    hba1c_with_effect,
    next_hba1c_ukpds90,
    persistence_weight,
)
from sim.core.lifetime.risk_factors import RiskFactors, draw_risk_factors, reference_patients
from sim.core.lifetime.simulate import (
    OUTCOMES,
    LifetimeResult,
    paired_difference,
    simulate_lifetime,
    year_uniforms,
)
from sim.params.lifetime import Lifetime, Persistence, RiskFactorPopulation

__all__ = [
    "COST_SETS", "DEATH_EQUATIONS", "EVENT_EQUATIONS", "EVENT_TYPES", "OUTCOMES",
    "UTILITY_SETS", "CostSet", "Equation", "Lifetime", "LifetimeResult", "Persistence",
    "RiskFactorPopulation", "RiskFactors", "UtilitySet", "annual_costs_gbp",
    "annual_death_probability", "annual_event_probabilities", "annual_probabilities",
    "annual_utility", "cost_set", "covariate_matrix", "draw_risk_factors",
    "hba1c_with_effect", "next_hba1c_ukpds90", "paired_difference", "persistence_weight",
    "reference_patients", "simulate_lifetime", "utility_set", "year_uniforms",
]
