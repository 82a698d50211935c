"""Schedules: explicit day lists and several schedules per channel (issue 12, design doc §3.3)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core.program import contact_plan, schedule_mask
from sim.params.errors import ScenarioError
from sim.params.scenario import Schedule

from .conftest import DESIGNS, SCENARIOS, write

KICKOFF_MEETINGS = f"""\
# one in-person group session on day 0, then optional group meetings at months 1, 3 and 6
# (day = round(30.44 x month)) that fewer people attend
extends: {SCENARIOS}/base.yaml
name: kickoff_meetings
program:
  name: kickoff_meetings
  in_person:
    schedules:
      - {{days: [0], hours_per_session: 2.0}}
      - {{days: [30, 91, 182], hours_per_session: 1.5, attendance_factor: 0.7}}
"""


def _plan(sc, n_groups: int = 4):
    return contact_plan(sc.program, sc.run.days, n_groups, np.random.default_rng(0))


def _days(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def test_kickoff_then_optional_meetings_is_expressible_in_yaml_alone(tmp_path):
    sc = load_scenario(write(tmp_path / "kickoff_meetings.yaml", KICKOFF_MEETINGS))
    plan = _plan(sc)
    assert _days(plan.session) == [0, 30, 91, 182]
    assert plan.session_hours[[0, 30, 91, 182]].tolist() == [2.0, 1.5, 1.5, 1.5]
    assert plan.session_attendance[[0, 30, 91, 182]].tolist() == [1.0, 0.7, 0.7, 0.7]
    assert plan.session_hours.sum() == 6.5 and not plan.education_hours.any()


def test_explicit_days_give_sessions_exactly_there():
    days = [0, 30, 91, 182]
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml", {
        "run.days": 200, "program.in_person": {"days": days, "hours_per_session": 2.0},
        "program.education": {"days": [3, 10], "hours_per_session": 1.5}})
    plan = _plan(sc)
    assert _days(plan.session) == days
    assert _days(plan.education_hours) == [3, 10] and plan.education_hours[3] == 1.5


def test_several_schedules_per_channel_are_their_union():
    """Weekly sessions for 8 weeks plus monthly ones to day 180: one session where both meet
    (the longer), and the education hours of two curricula on one day add up."""
    sc = load_scenario(DESIGNS / "usual_care.yaml", {"program.in_person.schedules": [
        {"start_day": 0, "end_day": 56, "every_days": 7, "hours_per_session": 1.0},
        {"start_day": 28, "end_day": 180, "every_days": 28, "hours_per_session": 2.0,
         "attendance_factor": 0.5}],
        "program.education.schedules": [{"days": [5, 6], "hours_per_session": 1.0},
                                        {"days": [6], "hours_per_session": 2.5}]})
    plan = _plan(sc)
    weekly, monthly = list(range(0, 56, 7)), list(range(28, 180, 28))
    assert _days(plan.session) == sorted(set(weekly) | set(monthly))
    assert plan.session_hours[28] == 2.0 and plan.session_hours[21] == 1.0
    assert plan.session_attendance[28] == 1.0, "the fuller schedule holds on a shared day"
    assert plan.session_attendance[84] == 0.5 and plan.session_attendance[7] == 1.0
    assert plan.education_hours[5] == 1.0 and plan.education_hours[6] == 3.5


def test_one_to_one_takes_several_schedules():
    """Presley 2020's calls (12 weekly, then 3 monthly) as two schedules: the union of days,
    and the same run as the explicit day list."""
    weekly_then_monthly = [{"start_day": 0, "end_day": 84, "every_days": 7},
                           {"days": [112, 140, 168]}]
    base = {"population.size": 300, "run.days": 182, "program.one_to_one.mode": "mentor"}
    listed = load_scenario(DESIGNS / "usual_care.yaml", {
        **base, "program.one_to_one.schedules": weekly_then_monthly})
    days = list(range(0, 84, 7)) + [112, 140, 168]
    assert _days(_plan(listed).call) == days
    explicit = load_scenario(DESIGNS / "usual_care.yaml", {**base,
                                                          "program.one_to_one.days": days})
    a, b = PeerSupportModel(listed, seed=3), PeerSupportModel(explicit, seed=3)
    for _ in range(182):
        a.step()
        b.step()
    assert a.ledger.program > 0, "the calls were held and their mentor time costed"
    assert np.array_equal(a.state.hba1c, b.state.hba1c)
    assert a.ledger.program == b.ledger.program, "mentor time follows the same calls"


def _run(sc, days: int, seed: int = 4):
    m = PeerSupportModel(sc, seed=seed, agent_views=False)
    attended = []
    for _ in range(days):
        m.step()
        attended.append(m.state.attended.copy())
    return m, np.array(attended)


def test_flat_keys_equal_the_same_schedules_list_run_for_run():
    """The flat keys are one schedule; a list of that one schedule is the same design."""
    flat = load_scenario(DESIGNS / "hybrid_kickoff.yaml", {"population.size": 300,
                                                            "run.days": 40})
    listed = load_scenario(DESIGNS / "usual_care.yaml", {
        "population.size": 300, "run.days": 40, "program.im": flat.program.im.model_dump(),
        "program.in_person.schedules": [{"days": [0, 7], "hours_per_session": 2.0,
                                         "attendance_factor": 1.0}]})
    (a, att_a), (b, att_b) = _run(flat, 40), _run(listed, 40)
    assert np.array_equal(att_a, att_b), "a factor of 1 keeps every attendance draw"
    assert np.array_equal(a.state.hba1c, b.state.hba1c)
    assert a.ledger.program == b.ledger.program  # session costs follow the same days


def test_attendance_factor_thins_the_same_draws():
    """Fewer come to a schedule with a factor below 1, and only people who would have come."""
    base = {"population.size": 600, "run.days": 2, "population.never_attend_share": 0.0}
    full = load_scenario(DESIGNS / "usual_care.yaml", {
        **base, "program.in_person.schedules": [{"days": [0, 1]}]})
    thin = load_scenario(DESIGNS / "usual_care.yaml", {
        **base, "program.in_person.schedules": [{"days": [0, 1], "attendance_factor": 0.5}]})
    (_, att_full), (_, att_thin) = _run(full, 2), _run(thin, 2)
    assert not np.any(att_thin & ~att_full), "the same uniform: a subset of the attendees"
    share = att_thin.sum() / att_full.sum()
    assert 0.35 < share < 0.65, share  # mean attendance propensity Beta(2, 1): about 0.5-0.6


def test_session_costs_follow_the_hours_of_the_sessions_held():
    """Known answer: every group is offered; a 2-hour and three 1.5-hour sessions held."""
    zero_costs = {f"economics.{k}": 0.0 for k in (
        "session_cost_per_attendee", "medication_cost_per_dose", "platform_cost_per_patient_month",
        "peer_leader_cost_per_patient_year")}
    sc = load_scenario(DESIGNS / "usual_care.yaml", {
        "population.size": 120, "network.group_size": 12, "run.days": 200, **zero_costs,
        "program.in_person.schedules": [
            {"days": [0], "hours_per_session": 2.0},
            {"days": [30, 91, 182], "hours_per_session": 1.5, "attendance_factor": 0.7}]})
    m, _ = _run(sc, 200)
    rate = sc.economics.session_cost_per_group_hour
    assert m.ledger.program == pytest.approx(10 * (2.0 + 3 * 1.5) * rate, rel=1e-12)


def test_schedule_mask_drops_days_past_the_plan():
    """The mask is cut at the plan's length."""
    spaced = Schedule(start_day=3, end_day=1000, every_days=10)
    assert _days(schedule_mask(spaced, 30)) == [3, 13, 23]
    assert _days(schedule_mask(Schedule(days=[1, 29, 40]), 30)) == [1, 29]


def _error(tmp_path, program: str, days: int = 365) -> ScenarioError:
    path = write(tmp_path / "design.yaml",
                 f"extends: {SCENARIOS}/base.yaml\nrun: {{days: {days}}}\nprogram:\n{program}")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    return err.value


def test_days_past_the_run_are_not_reached(tmp_path):
    """A design keeps its schedule when run for a shorter horizon (a 30-day check)."""
    path = write(tmp_path / "design.yaml",
                 f"extends: {SCENARIOS}/base.yaml\nrun: {{days: 120}}\nprogram:\n"
                 "  in_person:\n    schedules:\n      - {days: [0]}\n"
                 "      - {days: [30, 91, 182]}\n")
    scenario = load_scenario(path)
    assert scenario.program.in_person.schedules[1].days == [30, 91, 182]
    assert _days(schedule_mask(scenario.program.in_person.schedules[1], 120)) == [30, 91]


def test_unsorted_days_are_a_located_error(tmp_path):
    err = _error(tmp_path, "  in_person:\n    schedules:\n      - {days: [0]}\n"
                           "      - {days: [30, 91, 91]}\n")
    assert err.path == "program.in_person.schedules[1].days"
    assert "strictly increasing" in str(err) and err.line == 7
    negative = _error(tmp_path, "  in_person:\n    days: [-1, 5]\n")
    assert negative.path == "program.in_person.days" and ">= 0" in str(negative)


@pytest.mark.parametrize(("program", "path", "expected"), [
    ("  in_person:\n    start_day: 3\n    schedules: [{days: [0]}]\n", "program.in_person",
     "either schedules or start_day"),
    ("  education:\n    days: [1]\n    schedules: [{days: [0]}]\n", "program.education",
     "either schedules or days"),
    ("  in_person:\n    schedules:\n      - {days: [0], every_days: 14}\n",
     "program.in_person.schedules[0]", "either days or every_days"),
    ("  in_person:\n    days: [0, 30]\n    end_day: 60\n", "program.in_person",
     "either days or end_day"),
    ("  in_person:\n    schedules: [{days: [0], attendance_factor: 0}]\n",
     "program.in_person.schedules[0].attendance_factor", "> 0"),
    ("  one_to_one:\n    every_days: 14\n    schedules: [{days: [0]}]\n",
     "program.one_to_one", "either schedules or every_days"),
    ("  one_to_one:\n    schedules: [{days: [3, 1]}]\n",
     "program.one_to_one.schedules[0].days", "strictly increasing"),
])
def test_both_forms_or_bad_values_are_located_errors(tmp_path, program, path, expected):
    err = _error(tmp_path, program)
    assert err.path == path and expected in str(err), str(err)


def test_the_dashboard_kickoff_lever_switches_any_schedule_form(tmp_path):
    """The classroom's kick-off lever reads and replaces a channel of several schedules."""
    from sim.viz.arms import has_sessions, with_kickoff

    sc = load_scenario(write(tmp_path / "kickoff_meetings.yaml", KICKOFF_MEETINGS))
    assert has_sessions(sc) and with_kickoff(sc, True) == {}
    off = load_scenario(sc, with_kickoff(sc, False))
    assert not has_sessions(off) and not _plan(off).session.any()
    on = load_scenario(off, with_kickoff(off, True))
    assert _days(_plan(on).session) == [0, 7]
    none = load_scenario(sc, {"program.in_person.schedules": [{"days": [0],
                                                                "hours_per_session": 0}]})
    assert not has_sessions(none), "0-hour sessions are none"
