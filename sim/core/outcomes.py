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

SUBGROUPS: dict[str, Callable[[Patients], np.ndarray]] = {
    "hba1c_lt7.5": lambda p: p.hba1c0_pct < 7.5,
    "hba1c_7.5to8.5": lambda p: (p.hba1c0_pct >= 7.5) & (p.hba1c0_pct < 8.5),
    "hba1c_ge8.5": lambda p: p.hba1c0_pct >= 8.5,
    "literacy_low": lambda p: p.digital_literacy < 0.5,
    "literacy_high": lambda p: p.digital_literacy >= 0.5,
}
"""Subgroups reported separately: baseline HbA1c bands (Qi 2015) and digital literacy."""

# --------------------------------------------------------------------------- summary columns
# Declarations of the remaining summary keys of ``sim.runner.summarize``, so the column
# dictionary of docs/results.md (``python -m sim.report.columns_table``) covers every key.

OUTCOMES.update({
    "days": Outcome("Days simulated", "days", "neither"),
    "patients": Outcome("Patients simulated", "patients", "neither"),
    "pdc_mean_baseline": Outcome("Mean PDC at baseline", "proportion of days covered",
                                 "neither"),
    "pdc_mean_end": Outcome("Mean PDC at the end", "proportion of days covered", "higher"),
    "adherent_share_baseline": Outcome(f"Adherent (PDC >= {PDC_ADHERENT}) at baseline",
                                       "share of patients", "neither"),
    "adherent_share_end": Outcome(f"Adherent (PDC >= {PDC_ADHERENT}) at the end",
                                  "share of patients", "higher"),
    "adherent_share_change": Outcome("Change in the adherent share", "share of patients",
                                     "higher"),
    "hba1c_mean_baseline": Outcome("Mean HbA1c at baseline", "%", "neither"),
    "hba1c_mean_end": Outcome("Mean HbA1c at the end", "%", "lower"),
    "utility_mean_baseline": Outcome("Mean QoL (EQ-5D utility) at baseline", "utility",
                                     "neither"),
    "utility_mean_end": Outcome("Mean QoL (EQ-5D utility) at the end", "utility", "higher"),
    "im_days": Outcome("Days the instant-messaging group was open", "days", "neither"),
    "sessions_attended_mean": Outcome("Sessions attended", "sessions per patient", "neither"),
    "education_hours_mean": Outcome("Education received", "hours per patient", "neither"),
    "medication_cost_per_patient": Outcome("Medication cost", "currency per patient",
                                           "lower"),
    "healthcare_cost_per_patient": Outcome("Other healthcare cost", "currency per patient",
                                           "lower"),
    "qalys_per_patient_undiscounted": Outcome("QALYs, undiscounted", "QALY per patient",
                                              "higher"),
})

SUBGROUP_LABELS: dict[str, str] = {
    "hba1c_lt7.5": "baseline HbA1c < 7.5%",
    "hba1c_7.5to8.5": "baseline HbA1c 7.5-8.5%",
    "hba1c_ge8.5": "baseline HbA1c >= 8.5%",
    "literacy_low": "digital literacy < 0.5",
    "literacy_high": "digital literacy >= 0.5",
}
"""Plain words for each of :data:`SUBGROUPS`."""

SUBGROUP_OUTCOMES: dict[str, Outcome] = {
    "share": Outcome("Share of patients with {group}", "share of patients", "neither"),
    "hba1c_change": Outcome("HbA1c change, patients with {group}", "%-points", "lower"),
    "utility_change": Outcome("QoL change, patients with {group}", "utility", "higher"),
    "pdc_end": Outcome("Mean PDC at the end, patients with {group}",
                       "proportion of days covered", "higher"),
    "qalys_per_patient": Outcome("QALYs, discounted, patients with {group}",
                                 "QALY per patient", "higher"),
    "cost_per_patient_discounted": Outcome("Cost, discounted, patients with {group}",
                                           "currency per patient", "lower"),
}
"""Summary key ``<prefix>_<subgroup>`` for each prefix here and each of :data:`SUBGROUPS`
(NaN when the subgroup is empty)."""
