"""Programme schedules: which channel acts on which day (sim.core.program.contact_plan)."""

from __future__ import annotations

import numpy as np

from sim import load_scenario
from sim.core.program import contact_plan


def _plan(program: dict, days: int = 120, n_groups: int = 40):
    sc = load_scenario({"program": program, "run": {"days": days}})
    return contact_plan(sc.program, days, n_groups, np.random.default_rng(5))


def test_sessions_on_the_right_days_and_none_from_end_day():
    plan = _plan({"in_person": {"start_day": 3, "end_day": 40, "every_days": 7,
                                "hours_per_session": 2}})
    assert np.flatnonzero(plan.session).tolist() == [3, 10, 17, 24, 31, 38], \
        "sessions every 7 days from day 3, none from day 40 on"


def test_no_sessions_when_they_last_zero_hours():
    plan = _plan({"in_person": {"start_day": 0, "end_day": 60, "hours_per_session": 0}})
    assert not plan.session.any(), "a zero-hour session is no session"


def test_im_open_from_start_day_and_closed_from_end_day():
    plan = _plan({"im": {"start_day": 14, "end_day": 100}})
    assert np.flatnonzero(plan.im_active).tolist() == list(range(14, 100)), \
        "IM open on days 14-99 and closed after"


def test_education_hours_on_education_days():
    plan = _plan({"education": {"start_day": 0, "end_day": 30, "every_days": 10,
                                "hours_per_session": 1.5}})
    assert np.flatnonzero(plan.education_hours).tolist() == [0, 10, 20]
    assert plan.education_hours.sum() == 4.5, "three sessions of 1.5 hours"


def test_rollout_offers_the_share_of_groups_and_keeps_the_narrower_ones():
    narrow = _plan({"in_person": {"groups_share": 0.25}})
    wide = _plan({"in_person": {"groups_share": 0.5}})
    assert narrow.offered.sum() == 10 and wide.offered.sum() == 20, "25% and 50% of 40 groups"
    assert np.all(wide.offered[narrow.offered]), \
        "a wider rollout keeps the groups a narrower one had (common random numbers)"


def test_plan_is_cut_at_the_run_length():
    plan = _plan({"im": {"start_day": 0, "end_day": 1000}}, days=50)
    assert plan.days == 50 and plan.im_active.all(), "an end after the run is the run's end"


def test_programme_end_is_the_day_after_the_last_channel_acts() -> None:
    def end(name: str, days: int = 365) -> int:
        sc = load_scenario(name, {"run.days": days})
        return contact_plan(sc.program, days, 10, np.random.default_rng(0)).end_day

    assert end("designs/hybrid_kickoff") == 196  # IM open days 14-195
    assert end("designs/im_peer_support") == 182
    assert end("designs/dsmes_in_person") == 155  # last fortnightly session: day 154
    assert end("designs/usual_care") == 365  # no channel: the horizon
    assert end("designs/hybrid_kickoff", days=100) == 100  # still running at the horizon
