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
    "engagement_end": Outcome("IM engagement of members on the last open day", "0-1",
                              "higher"),
    "engagement_open_mean": Outcome("IM engagement of members while open", "0-1", "higher"),
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

SUBGROUPS: dict[str, Callable[[Patients], np.ndarray]] = {
    "hba1c_lt7.5": lambda p: p.hba1c0_pct < 7.5,
    "hba1c_7.5to8.5": lambda p: (p.hba1c0_pct >= 7.5) & (p.hba1c0_pct < 8.5),
    "hba1c_ge8.5": lambda p: p.hba1c0_pct >= 8.5,
    "literacy_low": lambda p: p.digital_literacy < 0.5,
    "literacy_high": lambda p: p.digital_literacy >= 0.5,
}
"""Subgroups reported separately: baseline HbA1c bands (Qi 2015) and digital literacy."""
