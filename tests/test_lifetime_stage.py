"""The lifetime stage wired into a run: summary keys, CRN across designs, --out files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.model import PeerSupportModel
from sim.core.outcomes import OUTCOMES
from sim.runner import lifetime_effect, lifetime_stage, run, summarize

SMALL = {"population.size": 300, "run.days": 60}


@pytest.fixture(scope="module")
def dsmes() -> object:
    return run("scenarios/designs/dsmes_in_person.yaml", 5, overrides=SMALL)


def test_summary_has_declared_finite_lifetime_keys(dsmes) -> None:
    keys = [k for k in dsmes.summary if k.startswith("lifetime_")]
    assert len(keys) >= 40
    for key in keys:
        assert key in OUTCOMES, f"{key} is not declared in sim.core.outcomes"
        assert math.isfinite(dsmes.summary[key]), key
    s = dsmes.summary
    assert s["lifetime_qalys_discounted"] > s["qalys_per_patient"] > 0
    assert s["lifetime_cost_discounted"] > s["cost_per_patient_discounted"]
    assert s["lifetime_life_years"] > s["lifetime_life_years_discounted"] > 1
    assert 0 < s["lifetime_qalys_discounted_se"] < 0.2 * s["lifetime_qalys_discounted"]
    assert s["lifetime_deaths_per_1000"] > 500, "most patients die before age 100"


def test_declared_event_types_follow_the_engine() -> None:
    from sim.core.lifetime import EVENT_TYPES
    from sim.core.outcomes import LIFETIME_EVENTS
    assert tuple(LIFETIME_EVENTS) == EVENT_TYPES


def test_out_writes_lifetime_curves(dsmes, tmp_path: Path) -> None:
    paths = dsmes.save(tmp_path)
    curves = pd.read_parquet(paths["lifetime"])
    assert paths["lifetime"].name == "lifetime.parquet"
    assert {"year", "death", "mi", "stroke", "renal"} <= set(curves.columns)
    assert (np.diff(curves["death"]) >= 0).all() and curves["death"].iloc[-1] <= 1


def test_disabled_stage_adds_nothing() -> None:
    res = run("scenarios/designs/usual_care.yaml", 5,
              overrides={**SMALL, "lifetime.enabled": False})
    assert not any(k.startswith("lifetime_") for k in res.summary)
    assert res.lifetime_curves is None


def _models(seed: int, overrides: dict[str, float] | None = None
            ) -> tuple[PeerSupportModel, PeerSupportModel]:
    from sim.params.scenario import load_scenario
    out = []
    for design in ("usual_care", "im_peer_support"):
        sc = load_scenario(f"scenarios/designs/{design}.yaml", {**SMALL, **(overrides or {})})
        model = PeerSupportModel(sc, seed, agent_views=False)
        for _ in range(sc.run.days):
            model.step()
        out.append(model)
    return out[0], out[1]


def test_common_random_numbers_across_designs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed, equal HbA1c effects -> identical lifetime outcomes whatever the design;
    a lower HbA1c effect -> no fewer QALYs on average."""
    a, b = _models(7)
    np.testing.assert_array_equal(a.patients.hba1c0_pct, b.patients.hba1c0_pct)
    drawn = {}
    import sim.runner as runner
    real = runner.draw_risk_factors

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        drawn.setdefault("rf", []).append(out)
        return out

    monkeypatch.setattr(runner, "draw_risk_factors", spy)
    zero = np.zeros(a.n)
    monkeypatch.setattr(runner, "lifetime_effect", lambda model: zero)
    ra, _ = lifetime_stage(a, summarize(a))
    rb, _ = lifetime_stage(b, summarize(b))
    rf_a, rf_b = drawn["rf"]
    for name in ("sbp_mmhg", "hdl_mmol_l", "smoker", "egfr_ml_min", "age_years"):
        np.testing.assert_array_equal(getattr(rf_a, name), getattr(rf_b, name))
    for key in ("lifetime_life_years", "lifetime_events_per_1000_mi",
                "lifetime_deaths_per_1000"):
        assert ra[key] == rb[key], key
    monkeypatch.setattr(runner, "lifetime_effect", lambda model: zero - 1.0)
    better, _ = lifetime_stage(b, summarize(b))
    gain = better["lifetime_qalys_discounted"] - rb["lifetime_qalys_discounted"]
    assert gain > -0.02, "a 1-point lower HbA1c for life gives no fewer QALYs"


def test_trial_drift_is_not_carried_into_the_lifetime_stage() -> None:
    """Lifetime effect = HbA1c change less the drift (course and progression pinned off, so the
    change is behaviour and drift only; drift pinned at 0.17 so that its removal shows)."""
    a, _ = _models(3, {"clinical.trial_drift_hba1c_pct": 0.17, "clinical.course_sd_pct": 0.0,
                       "clinical.progression_pct_per_year": 0.0})
    effect = lifetime_effect(a)
    c = a.spec.clinical
    drift = c.trial_drift_hba1c_pct * -np.expm1(-a.day / c.hba1c_time_constant_days)
    change = a.state.hba1c - a.patients.hba1c0_pct
    np.testing.assert_allclose(effect, change + drift)
    assert abs(effect.mean()) < abs(change.mean()), "usual care: drift removed"
