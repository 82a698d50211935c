"""The one-to-one peer contact channel: buddy pairs or peer mentors (design doc §3.2)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.cli.main import main
from sim.core.buddies import build_buddies, pair_units
from sim.core.network import group_starts
from sim.core.phases import mentor_time_cost
from sim.params.errors import ScenarioError

from .conftest import DESIGNS

WEEKLY = {"start_day": 0, "end_day": 182, "every_days": 7}
MONTHLY = {"start_day": 0, "end_day": 182, "every_days": 30}


def _model(overrides: dict, seed: int = 3, size: int = 400, days: int = 120) -> PeerSupportModel:
    sc = load_scenario(DESIGNS / "usual_care.yaml",
                       {"population.size": size, "run.days": days, **overrides})
    m = PeerSupportModel(sc, seed=seed, agent_views=False)
    for _ in range(days):
        m.step()
    return m


def _outcomes(m: PeerSupportModel) -> tuple:
    st = m.state
    return (st.hba1c.copy(), st.adherence.copy(), st.support.copy(), st.self_efficacy_gain.copy(),
            st.practice.copy(), st.utility.copy(), st.cost.copy(), m.ledger.program,
            m.ledger.medication)


def test_off_by_default():
    m = _model({}, days=10)
    assert not m.plan.call.any()
    assert m.buddies is None
    assert not m.state.called.any() and m.ledger.calls == 0


@pytest.mark.parametrize("mode", ["reciprocal", "mentor"])
@pytest.mark.parametrize("nobody", [{"uptake_share": 0.0}, {"call_completion": 0.0}])
def test_no_calls_taken_equals_usual_care_run_for_run(mode, nobody):
    """Pairs are drawn (program stream, last) but no call takes place: usual care, bit for bit."""
    champions = {"program.champions_share": 0.1}  # program-stream draws that must not shift
    usual = _model(champions)
    idle = _model({**champions, "program.one_to_one": {**WEEKLY, "mode": mode, **nobody},
                   "economics.mentor_training_cost": 0.0})
    assert idle.buddies is not None and idle.ledger.calls == 0
    for a, b in zip(_outcomes(usual), _outcomes(idle), strict=True):
        assert np.array_equal(a, b)


def _effect(schedule: dict, seeds: tuple[int, ...] = (1, 2)) -> tuple[float, float]:
    """Mean support over the run and end HbA1c, paired differences from usual care."""
    out = []
    for seed in seeds:
        arms = []
        for overrides in ({}, {"program.one_to_one": {**schedule, "mode": "reciprocal"}}):
            sc = load_scenario(DESIGNS / "usual_care.yaml",
                               {"population.size": 600, "run.days": 182, **overrides})
            m = PeerSupportModel(sc, seed=seed, agent_views=False)
            support = 0.0
            for _ in range(182):
                m.step()
                support += float(m.state.support.mean()) / 182
            arms.append((support, float(m.state.hba1c.mean())))
        out.append(np.subtract(arms[1], arms[0]))
    support, hba1c = np.mean(out, axis=0)
    return float(support), float(hba1c)


@pytest.mark.xfail(strict=True, reason=(
    "v2 defaults (call_support_days 0.4059, saturating support): no diminishing returns; "
    "seeds 1-4, 600 patients, 182 d: weekly support +0.109 vs monthly +0.0172 (6.3 x), "
    "HbA1c -0.134 vs -0.0238 (5.6 x) for 26 calls against 7 (3.7 x)"))
def test_weekly_calls_beat_monthly_with_diminishing_returns():
    weekly_support, weekly_hba1c = _effect(WEEKLY)
    monthly_support, monthly_hba1c = _effect(MONTHLY)
    assert weekly_support > monthly_support > 0.0
    assert weekly_hba1c < monthly_hba1c < 0.0  # weekly lowers HbA1c more
    # 26 calls against 7 (3.7 x), yet less than 4 x the effect: saturation (Qi 2015 [I])
    assert weekly_hba1c / monthly_hba1c < 4.0
    assert weekly_hba1c / monthly_hba1c > 1.5


@pytest.mark.parametrize("size", [2, 3, 5, 12, 13, 30, 31])
def test_reciprocal_pairs_cover_every_group_member(size):
    n = 4 * size + (size // 2 if size > 3 else 0)  # a last, smaller group too
    starts = group_starts(n, size)
    group_id = np.repeat(np.arange(starts.shape[0]), np.diff(np.append(starts, n)))
    unit = pair_units(group_id, starts, np.random.default_rng(size).random(n))
    sizes = np.bincount(unit, minlength=n)
    members = sizes[unit]
    assert set(np.unique(members)) <= {2, 3}  # everyone in a pair or a trio
    for g in range(starts.shape[0]):
        in_group = group_id == g
        assert np.all(group_id[np.isin(unit, unit[in_group])] == g)  # partners in the group
        trios = len(set(unit[in_group & (members == 3)]))
        assert trios == in_group.sum() % 2  # one trio exactly where the size is odd


def test_pairs_share_their_calls_and_participation_is_nested():
    sc = load_scenario(DESIGNS / "buddy_calls.yaml", {"population.size": 240, "run.days": 30})
    m = PeerSupportModel(sc, seed=5, agent_views=False)
    b = m.buddies
    assert b is not None and b.reachable.mean() > 0.7
    called = b.called(m.keys.calls, 3, 0.5)
    for u in np.unique(b.unit[b.reachable]):  # partners who take part talk together
        assert len(set(called[(b.unit == u) & b.reachable])) == 1
    spec = sc.program.one_to_one
    net = m.network

    def parts(share: float) -> np.ndarray:
        rng = np.random.default_rng(9)
        return build_buddies(spec.model_copy(update={"uptake_share": share, "mode": "mentor"}),
                             net.group_id, net.group_start, rng).reachable

    assert np.all(parts(0.9)[parts(0.4)])  # a wider uptake keeps the narrower one's people


def test_calls_build_rapport_self_efficacy_contact_and_support():
    sc = load_scenario(DESIGNS / "usual_care.yaml", {
        "population.size": 300, "run.days": 200,
        "program.one_to_one": {"days": [10], "mode": "mentor", "uptake_share": 1.0,
                               "call_completion": 1.0}})
    m = PeerSupportModel(sc, seed=2, agent_views=False)
    for _ in range(11):
        m.step()
    st = m.state
    assert st.called.all()  # day 10: everyone had their call
    assert np.all(st.call_support == pytest.approx(0.3, abs=0.01))  # g_B: rapport before it
    after_call = st.buddy_strength.copy()
    assert np.all(after_call > 0.6)  # 0.3 closes half its gap to 1 (call_gain 0.5)
    assert np.all(st.contact == 1.0)
    assert np.all(st.self_efficacy_gain > 0.0) and np.all(st.support > 0.0)
    for _ in range(189):
        m.step()
    assert not st.called.any() and not st.call_support.any()
    floor = sc.network.strength_floor  # rapport fades toward the floor, like group ties
    assert np.all((st.buddy_strength < after_call - 0.2) & (st.buddy_strength > floor))


def test_mentor_cost_known_answer():
    assert mentor_time_cost(12, 20.0, 5.0, 15.0) == pytest.approx(12 * 25 / 60 * 15)
    days = [0, 7, 14]
    m = _model({"program.one_to_one": {"days": days, "mode": "mentor", "mentees_per_mentor": 10,
                                       "uptake_share": 1.0, "call_completion": 1.0,
                                       "minutes_per_call": 20},
                "economics.mentor_cost_per_hour": 15.0,
                "economics.mentor_admin_minutes_per_call": 5.0,
                "economics.mentor_training_cost": 300.0}, size=25, days=20)
    assert m.buddies.mentors == 3  # 25 mentees, 10 each
    calls = 25 * len(days)
    assert m.ledger.calls == calls
    assert m.ledger.program == pytest.approx(3 * 300.0 + calls * (20 + 5) / 60 * 15.0)


def test_reciprocal_buddies_cost_no_mentor_time():
    m = _model({"program.one_to_one": {**WEEKLY, "mode": "reciprocal"}}, days=30)
    assert m.ledger.calls > 0 and m.ledger.program == 0.0


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("mode", "group", "reciprocal"),
    ("medium", "video", "phone"),
    ("uptake_share", 1.5, "1"),
    ("call_completion", -0.1, "0"),
    ("mentees_per_mentor", 0, "1"),
    ("minutes_per_call", 0, "0"),
    ("every_days", 0, "1"),
    ("days", [7, 7], "strictly increasing"),
])
def test_bad_values_are_located_errors(key, value, expected):
    with pytest.raises(ScenarioError, match=expected) as err:
        load_scenario(DESIGNS / "buddy_calls.yaml", {f"program.one_to_one.{key}": value})
    assert f"program.one_to_one.{key}" in str(err.value)


def test_bad_value_in_a_file_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {DESIGNS / 'buddy_calls.yaml'}\nprogram:\n  one_to_one:\n"
                    "    mentees_per_mentor: -3\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "bad.yaml" in text and "line 4" in text
    assert "program.one_to_one.mentees_per_mentor" in text


def test_buddy_calls_design_checks_and_runs(capsys):
    assert main(["check", "designs/buddy_calls"]) == 0
    assert main(["run", "designs/buddy_calls", "--set", "population.size=200",
                 "--set", "run.days=40"]) == 0
    assert "buddy_calls" in capsys.readouterr().out
