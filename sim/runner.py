"""The single-run driver: run a scenario, summarize the model, record provenance.

``RunResult`` lives in ``sim.core.results`` and is re-exported here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import get_cached_controller

from sim.core.economics import DAYS_PER_YEAR, discounted_sum, net_monetary_benefit
from sim.core.lifetime import EVENT_TYPES, draw_risk_factors, simulate_lifetime
from sim.core.outcomes import (
    CURVE_YEARS,
    MEASURED_AT_BASELINE_AND_END,
    MILESTONES,
    subgroups,
    top_share,
)
from sim.core.results import RunResult
from sim.core.simulation import Simulation
from sim.params.scenario import Scenario, load_scenario

__all__ = ["Milestones", "RunResult", "code_identity", "lifetime_effect", "lifetime_stage",
           "package_versions", "run", "scenario_hash", "summarize"]

PACKAGES = ("peersupport", "mesa", "numpy", "scipy", "numba", "llvmlite", "pyarrow", "pandas",
            "SALib", "networkx", "pydantic")
"""Packages whose version can change the numbers a run or an analysis gives."""

_SOURCE_ROOT = Path(__file__).resolve().parent
"""The ``sim`` package folder whose source is hashed into :func:`code_identity`."""


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on (read once per process)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@functools.cache
def code_identity() -> dict[str, Any]:
    """Which model code produced a result (computed once per process, a few milliseconds).

    ``source_sha256`` hashes every ``.py`` file of the ``sim`` package (path and content),
    so it identifies the code whether it runs from a checkout or an installed wheel; from a
    git checkout ``git_commit`` and ``git_dirty`` (uncommitted changes under ``sim/``) say
    where to find it. Resume compares ``source_sha256``.
    """
    digest = hashlib.sha256()
    for path in sorted(_SOURCE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(_SOURCE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    out: dict[str, Any] = {"source_sha256": digest.hexdigest()}
    out.update(_git_state(_SOURCE_ROOT))
    return out


def _git_state(folder: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the checkout holding ``folder`` (empty if none)."""
    if not (folder.parent / ".git").exists():
        return {}
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain",
                                "--untracked-files=no", "--", "."],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (canonical JSON)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


ONE_YEAR_DAYS = 365
"""The day of the one-year milestone (``<key>_1y``; the horizon when a run is shorter)."""

PROGRESS_DAYS = 10
"""Days simulated between updates of the progress bar (each update leaves the compiled loop)."""


class Milestones:
    """Snapshots of the population means on the milestone days, taken inside a run.

    The means are :data:`sim.core.outcomes.MEASURED_AT_BASELINE_AND_END`, the days those of
    :data:`sim.core.outcomes.MILESTONES`. Advance the model to each :meth:`next_stop` in
    turn and call :meth:`observe` after each.
    """

    def __init__(self, model: Simulation) -> None:
        self.days = {"programme_end": model.plan.end_day,
                     "1y": min(ONE_YEAR_DAYS, model.plan.days)}
        self.horizon = model.plan.days
        self.at: dict[str, dict[str, float]] = {}

    def next_stop(self, day: int) -> int:
        """The first milestone day after ``day``, or the horizon."""
        return min([d for d in self.days.values() if d > day] + [self.horizon])

    def observe(self, model: Simulation) -> None:
        """Snapshot the milestones that fall on ``model.day`` (day 1 on)."""
        for name, day in self.days.items():
            if model.day == day and model.day > 0:
                means = model.population_means()
                self.at[name] = {k: means[k] for k in MEASURED_AT_BASELINE_AND_END}

    def summary(self) -> dict[str, float]:
        """The programme's end day and the snapshots (NaN: a milestone not reached yet)."""
        nan = float("nan")
        out = {"programme_end_day": float(self.days["programme_end"])}
        for name in MILESTONES:
            snap = self.at.get(name, {})
            out |= {f"{k}_{name}": snap.get(k, nan) for k in MEASURED_AT_BASELINE_AND_END}
        return out


def summarize(model: Simulation, milestones: Milestones | None = None
              ) -> dict[str, float]:
    """The summary outcomes of a finished (or running) model; see ``sim.core.outcomes``.

    ``milestones`` were taken during the run (as :func:`run` does); without them the
    milestone outcomes are NaN. The time-averaged outcomes (``AUC_MEASURES``) come from
    every simulated day's population means (``model.ledger``); NaN before the first day.
    """
    base, end = model.baseline, model.population_means()
    p, led, n, st = model.patients, model.ledger, model.n, model.state
    posts = st.posts_total[~st.leader]  # members' own posts, leaders aside
    im_weeks = float(model.plan.im_active[: model.day].sum()) / 7.0
    out: dict[str, float] = {
        "days": float(model.day),
        "patients": float(n),
    }
    for key in MEASURED_AT_BASELINE_AND_END:
        out[f"{key}_baseline"] = base[key]
        out[f"{key}_end"] = end[key]
    out |= (milestones or Milestones(model)).summary()
    days = model.day
    for key, total in (("adherent_share_auc", led.adherent_share_sum),
                       ("hba1c_auc", led.hba1c_sum), ("utility_auc", led.utility_sum)):
        out[key] = total / days if days else float("nan")
    measured0, measured_end = p.hba1c0_measured_pct, model.measured_hba1c()
    out["hba1c_mean_baseline"] = float(measured0.mean())  # as trials report them
    out["hba1c_mean_end"] = float(measured_end.mean())
    out["hba1c_change"] = out["hba1c_mean_end"] - out["hba1c_mean_baseline"]
    out["hba1c_true_change"] = end["hba1c_mean"] - base["hba1c_mean"]
    hba1c_change = measured_end - measured0
    out["hba1c_change_sd"] = float(hba1c_change.std(ddof=1)) if n > 1 else 0.0
    out["screening_yield"] = p.screening_yield
    out["utility_change"] = end["utility_mean"] - base["utility_mean"]
    out["distress_change"] = end["distress_mean"] - base["distress_mean"]
    out["pdc_change"] = end["pdc_mean"] - base["pdc_mean"]
    out["adherent_share_change"] = end["adherent_share"] - base["adherent_share"]
    out["im_days"] = im_weeks * 7.0
    im_days = out["im_days"]  # engagement: members of open IM groups only, else nan
    out["engagement_end"] = led.engagement_last_open if im_days else float("nan")
    out["engagement_open_mean"] = (led.engagement_open_sum / im_days if im_days
                                   else float("nan"))
    out["attended_any_share"] = end["attended_any_share"]
    out["sessions_attended_mean"] = float(st.sessions_attended.mean())
    out["education_hours_mean"] = float(st.education_hours.mean())
    out["posts_per_member_week"] = (float(posts.sum()) / max(posts.shape[0], 1) / im_weeks
                                    if im_weeks else 0.0)
    out["posters_share"] = float((posts > 0).mean()) if posts.size else 0.0
    out["top1pct_post_share"] = top_share(posts)
    out["program_cost_per_patient"] = led.program / n
    out["medication_cost_per_patient"] = led.medication / n
    out["healthcare_cost_per_patient"] = led.healthcare / n
    out["cost_per_patient"] = (led.program + led.medication + led.healthcare) / n
    shared = led.shared_discounted / n
    out["cost_per_patient_discounted"] = float(st.cost.mean()) + shared
    out["qalys_per_patient"] = float(st.qalys.mean())
    out["qalys_per_patient_undiscounted"] = float(st.qalys_undiscounted.mean())
    wtp = model.spec.economics.wtp_per_qaly
    out["nmb_per_patient"] = float(net_monetary_benefit(
        out["cost_per_patient_discounted"], out["qalys_per_patient"], wtp))
    utility_change = st.utility - p.utility0
    for name, select in subgroups(model.spec.run.subgroups.hba1c).items():
        mask = select(p)
        share = float(mask.mean())
        out[f"share_{name}"] = share
        out[f"hba1c_change_{name}"] = float(hba1c_change[mask].mean()) if share else float("nan")
        out[f"utility_change_{name}"] = (float(utility_change[mask].mean()) if share
                                         else float("nan"))
        out[f"pdc_end_{name}"] = float(model.pdc[mask].mean()) if share else float("nan")
        out[f"qalys_per_patient_{name}"] = (float(st.qalys[mask].mean()) if share
                                            else float("nan"))
        out[f"cost_per_patient_discounted_{name}"] = (float(st.cost[mask].mean()) + shared
                                                      if share else float("nan"))
    return out


def lifetime_effect(model: Simulation) -> np.ndarray:
    """Per-patient programme HbA1c effect that enters the lifetime stage (%-points).

    The change of the behavioural part of HbA1c over the agent-based stage (the clinical
    course is not a programme effect, and reverts), minus its trial-participation drift and
    its progression. The drift is a constant offset to every patient's HbA1c target, so at
    day T it contributes exactly -drift x (1 - exp(-T / tau)) (first-order kinetics,
    ``sim.core.dynamics``); a trial-participation effect ends with the trial. Progression
    is the lifetime stage's own business.
    """
    c, days, st = model.spec.clinical, model.day, model.state
    rate = model.params.hba1c_rate
    drift_part = model.params.drift * -np.expm1(-days / c.hba1c_time_constant_days)
    # the target's ramp g d on days d = 0..T-1, relaxed: sum of (1 - r)^(T-1-d) r g d
    ramp = np.arange(days, dtype=float)
    progression = model.params.progression_per_day * rate * float(
        np.sum((1.0 - rate) ** (days - 1 - ramp) * ramp)) if days else 0.0
    change = st.hba1c_behaviour - st.hba1c_setpoint + drift_part - progression
    return np.clip(change, -10.0, 10.0)


def lifetime_stage(model: Simulation, abm: dict[str, float]
                   ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Run the lifetime stage on the agent-based model's patients; summary keys and curves.

    Ages, sex, durations and baseline HbA1c come from the agent-based population (aged by the
    stage length); the other risk factors and the event uniforms come from the ``lifetime``
    stream, so every design run with the same seed gets the same patients and numbers (CRN).
    Lifetime totals = agent-based stage (``abm``: its discounted cost and QALYs) + lifetime
    stage discounted from the end of the agent-based stage. See docs/lifetime.md.
    """
    p, years = model.patients, model.day / DAYS_PER_YEAR
    spec = model.spec.lifetime.model_copy(update={"discount_start_years": years})
    factors = draw_risk_factors(
        p.age_years + years, p.female, np.minimum(p.years_with_diabetes + years,
                                                  p.age_years + years),
        p.hba1c0_pct, model.streams.get("lifetime"), spec=spec.risk_factors)
    effect = lifetime_effect(model)
    res = simulate_lifetime(factors, effect, spec, model.streams.root)
    s = res.summary()
    out = {
        "lifetime_hba1c_effect": float(effect.mean()),
        "lifetime_life_years": years + s["life_years"],
        "lifetime_life_years_discounted": float(discounted_sum(
            np.full(model.day, 1.0 / DAYS_PER_YEAR), spec.discount_rate_effects))
        + s["life_years_discounted"],
        "lifetime_qalys_discounted": abm["qalys_per_patient"] + s["qalys_discounted"],
        "lifetime_cost_discounted": abm["cost_per_patient_discounted"]
        + s["cost_total_discounted_gbp"],
        "lifetime_complication_cost_discounted": s["cost_complications_discounted_gbp"],
        # first-order Monte Carlo SE; undefined for one patient, reported as 0 then
        **{key: s[se] if res.n_patients > 1 else 0.0 for key, se in (
            ("lifetime_life_years_se", "life_years_se"),
            ("lifetime_qalys_discounted_se", "qalys_discounted_se"),
            ("lifetime_cost_discounted_se", "cost_total_discounted_gbp_se"))},
        "lifetime_deaths_per_1000": s["deaths_per_1000"],
    }
    out |= {f"lifetime_events_per_1000_{e}": s[f"events_per_1000_{e}"] for e in EVENT_TYPES}
    curves = {"year": np.arange(1, res.n_years + 1), "alive_at_start": res.alive_at_start,
              "death": res.cumulative_death,
              **{e: res.cumulative_incidence[e] for e in EVENT_TYPES}}
    for y in CURVE_YEARS:  # the curve at year y; past the last year, its final value
        row = min(y, res.n_years) - 1
        for name in ("death", *EVENT_TYPES):
            out[f"lifetime_cuminc_{name}_{y}y"] = float(curves[name][row]) if row >= 0 else 0.0
    return out, curves


def run(scenario: Scenario | str | Path | dict[str, Any], seed: int | None = None, *,
        overrides: dict[str, Any] | None = None, progress: bool = False,
        timeseries: bool = True) -> RunResult:
    """Run one scenario once.

    Args:
        scenario: a Scenario, a YAML path or a dict (validated like a file).
        seed: root seed (defaults to ``run.seed`` of the scenario).
        overrides: values by dotted path, e.g. ``{"population.size": 500}``.
        progress: show a tqdm progress bar over days.
        timeseries: record the population means every ``run.record_every_days``; False
            leaves ``timeseries`` empty and saves their cost (7% of a 2,000-patient run).
            The summary is the same either way.
    """
    sc = load_scenario(scenario, overrides)
    # One BLAS thread: the run's matrix products are small (patients x ~20 covariates), and
    # idle BLAS threads spin-wait on the cores the compiled passes and other workers use
    # (a 2,000-patient sweep on 2 workers ran 2.3 runs/s with them, 5.3 without). The
    # libraries are looked up again only after an import (a lookup reads the process's memory
    # map: 2 ms, 1% of a 2,000-patient run).
    with get_cached_controller().limit(limits=1, user_api="blas"):
        return _run(sc, sc.run.seed if seed is None else seed, progress, timeseries)


def _run(sc: Scenario, seed: int, progress: bool, timeseries: bool) -> RunResult:
    """Simulate the days, summarise, run the lifetime stage (:func:`run`)."""
    started = datetime.now(UTC)
    model = Simulation(sc, seed)
    model.recording = timeseries
    milestones = Milestones(model)
    bar = None
    if progress:  # tqdm is imported only when a bar is drawn (start-up time)
        from tqdm.auto import tqdm

        bar = tqdm(total=sc.run.days, desc=sc.program.name, unit="day", leave=False)
    while model.running:
        start = model.day
        stop = milestones.next_stop(start)
        model.advance(stop if bar is None else min(stop, start + PROGRESS_DAYS))
        milestones.observe(model)
        if bar is not None:
            bar.update(model.day - start)
    if bar is not None:
        bar.close()
    provenance = {
        "scenario_name": sc.name,
        "design": sc.program.name,
        "scenario_file": sc.source,
        "scenario_sha256": scenario_hash(sc),
        "seed": model.seed_used,
        "versions": dict(package_versions()),
        "code": dict(code_identity()),
        "started_utc": started.isoformat(),
        "scenario": sc.model_dump(mode="json"),
    }
    summary, curves = summarize(model, milestones), None
    if sc.lifetime.enabled:
        lifetime, curves = lifetime_stage(model, summary)
        summary |= lifetime
    return RunResult(summary=summary, timeseries=model.records if timeseries else [],
                     provenance=provenance,
                     lifetime_curves=curves)
