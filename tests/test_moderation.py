"""Moderation cost from moderator workload (issue 12, design doc §2.5), known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core.phases import moderation_minutes

from .conftest import DESIGNS


def test_moderation_minutes_known_answer():
    """Three open groups with 0, 10 and 80 messages today; 60 min a week each, 0.5 min a
    message read, at most 50 read per group: 3 x 60/7 + 0.5 x (0 + 10 + 50)."""
    messages = np.array([0.0, 10.0, 80.0])
    assert moderation_minutes(messages, 60.0, 0.5, 50.0) == pytest.approx(3 * 60 / 7 + 30.0)
    assert moderation_minutes(messages, 60.0, 0.5, np.inf) == pytest.approx(3 * 60 / 7 + 45.0)
    assert moderation_minutes(messages, 0.0, 2.0, np.inf) == 2.0 * 90.0, \
        "the defaults are today's rule: 2 minutes a message, every message"


def _one_group(days: int, **economics: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """One group of 12 where only the leader writes (Poisson at 5 a day); every other programme
    cost is zero. Returns the day's messages and programme cost, and the staff rate."""
    sc = load_scenario(DESIGNS / "im_peer_support.yaml", {
        "population.size": 12, "network.group_size": 12, "run.days": days,
        "program.im": {"start_day": 0, "end_day": days, "posts_per_week": 0.0,
                       "leader_posts_per_week": 35.0, "moderator_posts_per_week": 0.0},
        "economics.platform_cost_per_patient_month": 0.0,
        "economics.peer_leader_cost_per_patient_year": 0.0,
        "economics.medication_cost_per_dose": 0.0,
        **{f"economics.{k}": v for k, v in economics.items()}})
    m = PeerSupportModel(sc, seed=3, agent_views=False)
    messages, cost = [], []
    for _ in range(days):
        posts, program = m.ledger.posts, m.ledger.program
        m.step()
        messages.append(m.ledger.posts - posts)
        cost.append(m.ledger.program - program)
    return np.array(messages), np.array(cost), sc.economics.staff_cost_per_hour


def test_one_group_with_fixed_posts_costs_the_workload_known_answer():
    """Each day: 70/7 minutes plus half a minute for each of at most 3 messages read."""
    messages, cost, rate = _one_group(20, moderation_minutes_per_group_week=70.0,
                                      moderation_minutes_per_message=0.5,
                                      moderation_max_messages_per_group_day=3)
    assert messages.sum() > 60 and (messages > 3).any() and (messages < 3).any()
    expected = (70 / 7 + 0.5 * np.minimum(messages, 3)) / 60 * rate
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    messages, cost, rate = _one_group(20, moderation_minutes_per_group_week=0.0,
                                      moderation_minutes_per_message=2.0,
                                      moderation_max_messages_per_group_day=None)
    np.testing.assert_allclose(cost, messages * 2.0 / 60 * rate, rtol=1e-12,
                               err_msg="the message-count rule: 2 minutes a message, every one")
    messages, cost, rate = _one_group(20)
    np.testing.assert_allclose(cost, (60 / 7 + 0.5 * np.minimum(messages, 50)) / 60 * rate,
                               rtol=1e-12, err_msg="defaults: 60 min a group-week, 0.5 min a "
                               "message, at most 50 read a day")


def test_prolific_posters_cannot_drive_capped_moderation_cost():
    """Ten times the leaders' messages: the message-count cost (2 minutes a message, pinned)
    grows about tenfold, the workload cost (60 minutes a group-week, at most 2 messages read a
    day) hardly at all."""
    costs = {}
    for workload in (False, True):
        for leader in (20.0, 200.0):
            sc = load_scenario(DESIGNS / "im_peer_support.yaml", {
                "population.size": 120, "run.days": 30,
                "program.im.leader_posts_per_week": leader, "program.im.posts_per_week": 0.0,
                "program.im.moderator_posts_per_week": 0.0,
                "behaviour.max_posts_per_day": None,  # 200 a week is above the daily cap
                "economics.platform_cost_per_patient_month": 0.0,
                "economics.peer_leader_cost_per_patient_year": 0.0,
                "economics.medication_cost_per_dose": 0.0,
                **({"economics.moderation_minutes_per_group_week": 60.0,
                    "economics.moderation_minutes_per_message": 2.0,
                    "economics.moderation_max_messages_per_group_day": 2.0} if workload else
                   {"economics.moderation_minutes_per_group_week": 0.0,
                    "economics.moderation_minutes_per_message": 2.0,
                    "economics.moderation_max_messages_per_group_day": None})})
            m = PeerSupportModel(sc, seed=1, agent_views=False)
            for _ in range(30):
                m.step()
            costs[workload, leader] = m.ledger.program
    assert 8 < costs[False, 200.0] / costs[False, 20.0] < 12
    floor = 10 * 30 * (60 / 7) / 60 * 45.0
    ceiling = 10 * 30 * (60 / 7 + 2.0 * 2.0) / 60 * 45.0
    assert floor < costs[True, 20.0] <= costs[True, 200.0] <= ceiling
    assert costs[True, 200.0] / costs[True, 20.0] < 1.2
