"""Schedules with explicit day lists (issue 12, design doc §3.3)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core.program import contact_plan
from sim.params.errors import ScenarioError

from .conftest import DESIGNS


def _plan(overrides: dict, days: int = 200):
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml", {"run.days": days, **overrides})
    return sc, contact_plan(sc.program, days, 4, np.random.default_rng(0))


def test_explicit_days_give_sessions_exactly_there():
    days = [0, 30, 91, 182]
    _, plan = _plan({"program.in_person": {"days": days, "hours_per_session": 2.0},
                     "program.education": {"days": [3, 10], "hours_per_session": 1.5}})
    assert np.flatnonzero(plan.session).tolist() == days
    assert np.flatnonzero(plan.education_hours).tolist() == [3, 10]
    assert plan.education_hours[3] == 1.5
    _, short = _plan({"program.in_person": {"days": days}}, days=100)
    assert np.flatnonzero(short.session).tolist() == [0, 30, 91]  # past the run: not reached


def test_evenly_spaced_days_equal_the_same_explicit_list_run_for_run():
    spaced = load_scenario(DESIGNS / "hybrid_kickoff.yaml",
                           {"population.size": 300, "run.days": 40})
    listed = load_scenario(spaced, {"program.in_person": {"days": [0, 7],
                                                          "hours_per_session": 2.0}})
    results = []
    for sc in (spaced, listed):
        m = PeerSupportModel(sc, seed=4, agent_views=False)
        for _ in range(40):
            m.step()
        results.append((m.state.hba1c.copy(), m.ledger.program))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]  # session costs follow the same days


@pytest.mark.parametrize(("days", "expected"), [
    ([0, 30, 30], "strictly increasing"),
    ([-1, 5], ">= 0"),
])
def test_bad_day_lists_are_located_errors(days, expected):
    with pytest.raises(ScenarioError, match=expected) as err:
        load_scenario(DESIGNS / "usual_care.yaml", {"program.in_person.days": days})
    assert "program.in_person.days" in str(err.value)


def test_days_and_spacing_together_are_refused():
    with pytest.raises(ScenarioError, match="either days or") as err:
        load_scenario(DESIGNS / "hybrid_kickoff.yaml", {"program.in_person.days": [0, 30]})
    assert "program.in_person" in str(err.value)
