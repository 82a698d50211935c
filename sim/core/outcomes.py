"""Outcomes, declared once: unit, which direction is better, meaning; and subgroups."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
    "hba1c_mean": Outcome("True HbA1c (no measurement noise)", "%", "lower"),
    "utility_mean": Outcome("QoL (EQ-5D utility)", "utility", "higher"),
    "hba1c_change": Outcome("HbA1c change, measured (as trials report it)", "%-points",
                            "lower"),
    "hba1c_true_change": Outcome("HbA1c change, true (without measurement noise)", "%-points",
                                 "lower"),
    "hba1c_change_sd": Outcome("SD of the patients' measured HbA1c change", "%-points",
                               "neither"),
    "screening_yield": Outcome("Candidates enrolled under the eligibility criteria",
                               "share of candidates screened", "neither"),
    "utility_change": Outcome("QoL change", "utility", "higher"),
    "distress_mean": Outcome("Diabetes distress", "PAID points (0-100)", "lower"),
    "distress_severe_share": Outcome("Severe diabetes distress (PAID >= 40)",
                                     "share of patients", "lower"),
    "distress_change": Outcome("Diabetes distress change", "PAID points (0-100)", "lower"),
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


def top_share(posts: np.ndarray, percent: int = 1) -> float:
    """Share of all posts written by the most active ``percent``% of ``posts``' writers.

    The top ``percent``% is ``n * percent // 100`` writers, at least one (so for 150-199
    members the top 1% is one member). References: van Mierlo T. J Med Internet Res
    2014;16:e33 (the 1% rule in digital health social networks).
    """
    total = float(posts.sum())
    if total <= 0:
        return 0.0
    k = max(posts.shape[0] * percent // 100, 1)
    return float(np.sort(posts)[::-1][:k].sum() / total)


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
       for y in CURVE_YEARS for e, label in {"death": "Death", **LIFETIME_EVENTS}.items()},
}

HBA1C_CUTS = (7.5, 8.5)
"""Default cut-offs of the baseline HbA1c bands (Qi 2015; ``run.subgroups.hba1c``)."""

_LITERACY: dict[str, Callable[[Patients], np.ndarray]] = {
    "literacy_low": lambda p: p.digital_literacy < 0.5,
    "literacy_high": lambda p: p.digital_literacy >= 0.5,
}


def _band(lo: float, hi: float) -> Callable[[Patients], np.ndarray]:
    """Patients whose measured baseline HbA1c lies in [lo, hi)."""
    return lambda p: (p.hba1c0_measured_pct >= lo) & (p.hba1c0_measured_pct < hi)


def subgroups(hba1c_cuts: Sequence[float] = HBA1C_CUTS
              ) -> dict[str, Callable[[Patients], np.ndarray]]:
    """Subgroups reported separately: measured baseline HbA1c bands, then digital literacy.

    Cut-offs c1 < ... < ck give ``hba1c_lt<c1>``, ``hba1c_<c1>to<c2>``, ..., ``hba1c_ge<ck>``
    (numbers as ``%g``). Bands are on the measured baseline, as trials define them, so they
    carry regression to the mean.
    """
    edges = (-np.inf, *hba1c_cuts, np.inf)
    names = [f"hba1c_lt{hba1c_cuts[0]:g}",
             *(f"hba1c_{a:g}to{b:g}" for a, b in zip(hba1c_cuts[:-1], hba1c_cuts[1:],
                                                     strict=True)),
             f"hba1c_ge{hba1c_cuts[-1]:g}"]
    bands = {name: _band(lo, hi) for name, lo, hi in zip(names, edges[:-1], edges[1:],
                                                          strict=True)}
    return bands | _LITERACY


SUBGROUPS = subgroups()
"""The subgroups with the default cut-offs."""

_HBA1C_BAND = re.compile(
    r"hba1c_(?:lt(?P<lt>[\d.]+)|ge(?P<ge>[\d.]+)|(?P<a>[\d.]+)to(?P<b>[\d.]+))")


def subgroup_label(name: str) -> str | None:
    """Plain words for a subgroup name of :func:`subgroups` (any cut-offs); None if not one."""
    if name in SUBGROUP_LABELS:
        return SUBGROUP_LABELS[name]
    band = _HBA1C_BAND.fullmatch(name)
    if band is None:
        return None
    if band["lt"]:
        return f"baseline HbA1c < {band['lt']}%"
    if band["ge"]:
        return f"baseline HbA1c >= {band['ge']}%"
    return f"baseline HbA1c {band['a']}-{band['b']}%"


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
    "hba1c_mean_baseline": Outcome("Mean measured HbA1c at baseline (the screening value)", "%",
                                   "neither"),
    "hba1c_mean_end": Outcome("Mean measured HbA1c at the end", "%", "lower"),
    "utility_mean_baseline": Outcome("Mean QoL (EQ-5D utility) at baseline", "utility",
                                     "neither"),
    "utility_mean_end": Outcome("Mean QoL (EQ-5D utility) at the end", "utility", "higher"),
    "distress_mean_baseline": Outcome("Mean diabetes distress at baseline", "PAID points (0-100)",
                                      "neither"),
    "distress_mean_end": Outcome("Mean diabetes distress at the end", "PAID points (0-100)",
                                 "lower"),
    "distress_severe_share_baseline": Outcome("Severe diabetes distress (PAID >= 40) at "
                                              "baseline", "share of patients", "neither"),
    "distress_severe_share_end": Outcome("Severe diabetes distress (PAID >= 40) at the end",
                                         "share of patients", "lower"),
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
"""Plain words for each of :data:`SUBGROUPS` (:func:`subgroup_label` for other cut-offs)."""

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

# ------------------------------------------------------------------ every key a run reports
# The runner's summary (sim.runner.summarize) and time series (Simulation.population_means)
# hold exactly these names; tests/test_core_outcomes.py checks them against a real run.

MEASURED_AT_BASELINE_AND_END = ("pdc_mean", "adherent_share", "hba1c_mean", "utility_mean",
                                "distress_mean", "distress_severe_share")
"""Population means reported as ``<key>_baseline`` and ``<key>_end``."""

MILESTONES = {"programme_end": "at the end of the programme", "1y": "at one year"}
"""Days besides the horizon at which :data:`MEASURED_AT_BASELINE_AND_END` are reported as
``<key>_<milestone>`` (``sim.runner.Milestones``): the programme's end (the day after the
last day any channel acts; the horizon when none acts) and day 365 (the horizon when the run
is shorter). HbA1c at a milestone is the true value, while ``hba1c_mean_baseline``/``_end``
are measured (as trials report them): with measurement noise on, compare milestones with
milestones, not with the measured baseline."""

AUC_MEASURES = {"adherent_share": "adherent_share_auc", "hba1c_mean": "hba1c_auc",
                "utility_mean": "utility_auc"}
"""Population means integrated over the horizon from daily means, per patient-year (the
area under the curve divided by the years simulated: the time-averaged level)."""

OUTCOMES.update({
    "programme_end_day": Outcome("Day the programme ends", "day", "neither"),
    **{f"{key}_{when}": Outcome(f"{OUTCOMES[key].label} {words}", OUTCOMES[key].unit,
                                OUTCOMES[key].better)
       for when, words in MILESTONES.items() for key in MEASURED_AT_BASELINE_AND_END},
    "adherent_share_auc": Outcome(f"Adherent (PDC >= {PDC_ADHERENT}), time-averaged (AUC)",
                                  "adherent patient-years per patient-year", "higher"),
    "hba1c_auc": Outcome("True HbA1c, time-averaged (AUC)", "%-years per patient-year",
                         "lower"),
    "utility_auc": Outcome("QoL (EQ-5D utility), time-averaged (AUC)",
                           "utility-years per patient-year", "higher"),
})

RUN_TOTALS = (
    "hba1c_change", "hba1c_true_change", "hba1c_change_sd", "screening_yield",
    "utility_change", "distress_change", "pdc_change", "adherent_share_change", "im_days",
    "engagement_end", "engagement_open_mean", "attended_any_share", "sessions_attended_mean",
    "education_hours_mean",
    "posts_per_member_week", "posters_share", "top1pct_post_share",
    "program_cost_per_patient", "medication_cost_per_patient", "healthcare_cost_per_patient",
    "cost_per_patient", "cost_per_patient_discounted", "qalys_per_patient",
    "qalys_per_patient_undiscounted", "nmb_per_patient",
)
"""Changes, engagement, costs and QALYs of the whole run, in the summary's order."""

SUBGROUP_MEASURES = tuple(SUBGROUP_OUTCOMES)
"""Reported per subgroup as ``<measure>_<subgroup>`` (``share``: the subgroup's share); the
HbA1c change is the measured one."""

TIMESERIES_COLUMNS = (
    "day", "pdc_mean", "adherent_share", "adherence_mean", "hba1c_mean", "utility_mean",
    "distress_mean", "distress_severe_share", "engagement_mean", "support_mean", "practice_mean",
    "knowledge_gain_mean",
    "self_efficacy_gain_mean", "tie_strength_mean", "attended_any_share",
    "cost_per_patient", "qalys_per_patient",
)
"""Columns of a run's time series (population means on each recorded day)."""


def summary_keys(*, lifetime: bool = True,
                 hba1c_cuts: Sequence[float] = HBA1C_CUTS) -> tuple[str, ...]:
    """Every key of a run's summary, in the order the runner writes them.

    The lifetime stage's keys come last, when ``lifetime.enabled``; the subgroups follow
    ``run.subgroups.hba1c`` (``hba1c_cuts``).
    """
    keys = ["days", "patients"]
    keys += [f"{k}_{when}" for k in MEASURED_AT_BASELINE_AND_END for when in ("baseline", "end")]
    keys += ["programme_end_day"]
    keys += [f"{k}_{when}" for when in MILESTONES for k in MEASURED_AT_BASELINE_AND_END]
    keys += AUC_MEASURES.values()
    keys += RUN_TOTALS
    keys += [f"{m}_{g}" for g in subgroups(hba1c_cuts) for m in SUBGROUP_MEASURES]
    if lifetime:
        keys += [k for k in OUTCOMES if k.startswith("lifetime_")]
    return tuple(keys)
