"""The single-run driver: run a scenario, summarize the model, record provenance.

``RunResult`` lives in ``sim.core.results`` and is re-exported here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.core.economics import net_monetary_benefit
from sim.core.model import PeerSupportModel
from sim.core.outcomes import SUBGROUPS
from sim.core.results import RunResult
from sim.params.scenario import Scenario, load_scenario

__all__ = ["RunResult", "package_versions", "run", "scenario_hash", "summarize"]

PACKAGES = ("peersupport", "mesa", "numpy", "scipy", "networkx", "pydantic", "pandas")


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


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (canonical JSON)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def summarize(model: PeerSupportModel) -> dict[str, float]:
    """The summary outcomes of a finished (or running) model; see ``sim.core.outcomes``."""
    base, end = model.baseline, model.population_means()
    p, led, n, st = model.patients, model.ledger, model.n, model.state
    posts = st.posts_total[~st.leader]  # members' own posts, leaders aside
    top = np.sort(posts)[::-1][: max(posts.shape[0] // 100, 1)]
    im_weeks = float(model.plan.im_active[: model.day].sum()) / 7.0
    out: dict[str, float] = {
        "days": float(model.day),
        "patients": float(n),
    }
    for key in ("pdc_mean", "adherent_share", "hba1c_mean", "utility_mean"):
        out[f"{key}_baseline"] = base[key]
        out[f"{key}_end"] = end[key]
    out["hba1c_change"] = end["hba1c_mean"] - base["hba1c_mean"]
    out["utility_change"] = end["utility_mean"] - base["utility_mean"]
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
    out["top1pct_post_share"] = float(top.sum() / posts.sum()) if posts.sum() else 0.0
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
    hba1c_change = st.hba1c - p.hba1c0_pct
    utility_change = st.utility - p.utility0
    for name, select in SUBGROUPS.items():
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


def run(scenario: Scenario | str | Path | dict[str, Any], seed: int | None = None, *,
        overrides: dict[str, Any] | None = None, progress: bool = False) -> RunResult:
    """Run one scenario once.

    Args:
        scenario: a Scenario, a YAML path or a dict (validated like a file).
        seed: root seed (defaults to ``run.seed`` of the scenario).
        overrides: values by dotted path, e.g. ``{"population.size": 500}``.
        progress: show a tqdm progress bar over days.
    """
    sc = load_scenario(scenario, overrides)
    started = datetime.now(UTC)
    model = PeerSupportModel(sc, sc.run.seed if seed is None else seed, agent_views=False)
    for _ in tqdm(range(sc.run.days), desc=sc.program.name, unit="day", disable=not progress,
                  leave=False):
        model.step()
    provenance = {
        "scenario_name": sc.name,
        "design": sc.program.name,
        "scenario_file": sc.source,
        "scenario_sha256": scenario_hash(sc),
        "seed": model.seed_used,
        "versions": dict(package_versions()),
        "started_utc": started.isoformat(),
        "scenario": sc.model_dump(mode="json"),
    }
    return RunResult(summary=summarize(model), timeseries=pd.DataFrame(model.records),
                     provenance=provenance)
