"""Outcomes, declared once: unit, which direction is better, meaning; and subgroups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.core.dynamics import PDC_ADHERENT
from sim.core.population import Patients


@dataclass(frozen=True)
class Outcome:
    """A reported outcome of a run."""

    label: str
    unit: str
    better: Literal["higher", "lower", "neither"]


OUTCOMES: dict[str, Outcome] = {
    "pdc_mean": Outcome("Mean PDC", "proportion of days covered", "higher"),
    "adherent_share": Outcome(f"Adherent (PDC >= {PDC_ADHERENT})", "share of patients",
                              "higher"),
    "hba1c_mean": Outcome("HbA1c", "%", "lower"),
    "utility_mean": Outcome("QoL (EQ-5D utility)", "utility", "higher"),
    "hba1c_change": Outcome("HbA1c change", "%-points", "lower"),
    "utility_change": Outcome("QoL change", "utility", "higher"),
    "pdc_change": Outcome("PDC change", "proportion", "higher"),
    "engagement_end": Outcome("IM engagement at end", "0-1", "higher"),
    "attended_any_share": Outcome("Attended any session", "share of patients", "higher"),
    "posts_per_member_week": Outcome("IM posts", "per member per week while open", "neither"),
    "posters_share": Outcome("Members who ever post", "share of members", "neither"),
    "top1pct_post_share": Outcome("Posts by the top 1% of members", "share of posts", "neither"),
    "cost_per_patient": Outcome("Cost", "currency per patient", "lower"),
    "program_cost_per_patient": Outcome("Program cost", "currency per patient", "lower"),
    "cost_per_patient_discounted": Outcome("Cost, discounted", "currency per patient", "lower"),
    "qalys_per_patient": Outcome("QALYs, discounted", "QALY per patient", "higher"),
    "nmb_per_patient": Outcome("Net monetary benefit", "currency per patient", "higher"),
}

# --- lifetime stage (sim.runner.lifetime_stage; docs/lifetime.md) -------------------------
LIFETIME_EVENTS = {"mi": "Myocardial infarction", "ihd": "Ischaemic heart disease",
                   "chf": "Heart failure", "stroke": "Stroke", "blindness": "Blindness",
                   "ulcer": "Foot ulcer", "amputation": "Amputation", "renal": "Renal failure"}
"""Complication types of the lifetime stage (``sim.core.lifetime.EVENT_TYPES`` order) and
their labels."""

CURVE_YEARS = (5, 10, 20, 30)
"""Lifetime-stage years at which cumulative incidence enters the run summary."""

OUTCOMES |= {
    "lifetime_hba1c_effect": Outcome("HbA1c effect entering the lifetime stage", "%-points",
                                     "lower"),
    "lifetime_life_years": Outcome("Life years", "years per patient", "higher"),
    "lifetime_life_years_discounted": Outcome("Life years, discounted", "years per patient",
                                              "higher"),
    "lifetime_qalys_discounted": Outcome("Lifetime QALYs, discounted", "QALY per patient",
                                         "higher"),
    "lifetime_cost_discounted": Outcome("Lifetime cost, discounted", "currency per patient",
                                        "lower"),
    "lifetime_complication_cost_discounted": Outcome(
        "Lifetime complication cost, discounted", "GBP per patient, 2012 prices", "lower"),
    "lifetime_life_years_se": Outcome("Life years: Monte Carlo SE", "years", "lower"),
    "lifetime_qalys_discounted_se": Outcome("Lifetime QALYs: Monte Carlo SE", "QALY", "lower"),
    "lifetime_cost_discounted_se": Outcome("Lifetime cost: Monte Carlo SE", "currency", "lower"),
    "lifetime_deaths_per_1000": Outcome("Deaths by the horizon", "per 1,000 patients",
                                        "neither"),
    **{f"lifetime_events_per_1000_{e}": Outcome(f"{label} events", "per 1,000 patients",
                                                "lower")
       for e, label in LIFETIME_EVENTS.items()},
    **{f"lifetime_cuminc_{e}_{y}y": Outcome(f"{label}: cumulative incidence, year {y}",
                                            "share of patients",
                                            "neither" if e == "death" else "lower")
       for e, label in {"death": "Death", **LIFETIME_EVENTS}.items() for y in CURVE_YEARS},
}

SUBGROUPS: dict[str, Callable[[Patients], np.ndarray]] = {
    "hba1c_lt7.5": lambda p: p.hba1c0_pct < 7.5,
    "hba1c_7.5to8.5": lambda p: (p.hba1c0_pct >= 7.5) & (p.hba1c0_pct < 8.5),
    "hba1c_ge8.5": lambda p: p.hba1c0_pct >= 8.5,
    "literacy_low": lambda p: p.digital_literacy < 0.5,
    "literacy_high": lambda p: p.digital_literacy >= 0.5,
}
"""Subgroups reported separately: baseline HbA1c bands (Qi 2015) and digital literacy."""
