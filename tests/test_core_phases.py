"""The compiled day outside the fused passes: numpy's sums, and days run in any split."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim.core import phases
from sim.core.simulation import Simulation
from sim.params.scenario import load_scenario

LENGTHS = [*range(0, 300), 1000, 1999, 2000, 2001, 8191, 8192, 8193, 100_003]


def test_pairwise_sum_is_numpys_sum_to_the_last_bit() -> None:
    """Every length through the block sizes (8, 128) and numpy's buffer (8192), magnitudes
    over six decades: the totals the ledger adds must be numpy's own."""
    rng = np.random.default_rng(5)
    for n in LENGTHS:
        a = rng.normal(size=n) * 10 ** rng.uniform(-3, 3, size=n)
        assert phases.pairwise_sum(a, 0, n) == np.add.reduce(a), n
        lo = n // 3  # a slice from inside the array
        assert phases.pairwise_sum(a, lo, n - lo) == np.add.reduce(a[lo:]), n
        zeros = np.full(n, -0.0)  # numpy's sum starts at +0.0: its sign too
        assert np.signbit(phases.pairwise_sum(zeros, 0, n)) == np.signbit(np.add.reduce(zeros))


@pytest.mark.parametrize("share", [0.0, 0.5, 0.95, 1.0])
def test_a_sum_in_blocks_is_numpys_masked_sum_to_the_last_bit(share: float) -> None:
    """The ledger's sums over every patient or the members, block by block (on any thread)
    and then along numpy's tree: ``a.sum(where=mask)`` exactly."""
    block_sums = njit(phases.block_sums)
    rng = np.random.default_rng(6)
    for n in LENGTHS[::7]:
        a = rng.random(n) * 10 ** rng.uniform(-3, 3, size=n)
        mask = rng.random(n) < share
        plan = phases.sum_plan(mask)
        got = phases.planned_sum(plan, block_sums(a, plan))
        assert got == float(a.sum(where=mask)), (n, share)
        assert plan.block_length.sum() == mask.sum()


@pytest.mark.parametrize("n", [1, 7, 129, 1_537])
def test_the_recorded_means_are_numpys_means_to_the_last_bit(n: int) -> None:
    """The time series' means come from one compiled pass (``population_sums``), serial or
    parallel: each is still ``values.mean()`` of the state's array, bit for bit."""
    from sim.core import kernels

    sim = Simulation(load_scenario("scenarios/designs/hybrid_monthly.yaml",
                                   {"population.size": n, "run.days": 60}), seed=4)
    sim.advance(45)  # support, distress and PDC away from their starting values
    st = sim.state
    want = {"pdc_mean": (st.pdc_count / st.dose_window.shape[0]).mean(),
            "adherent_share": st.adherent.mean(), "adherence_mean": st.adherence.mean(),
            "hba1c_mean": st.hba1c.mean(), "utility_mean": st.utility.mean(),
            "distress_mean": st.distress.mean(),
            "distress_severe_share": (st.distress >= 40.0).mean(),
            "engagement_mean": st.engagement.mean(), "support_mean": st.support.mean(),
            "practice_mean": st.practice.mean(), "knowledge_gain_mean": st.knowledge_gain.mean(),
            "self_efficacy_gain_mean": st.self_efficacy_gain.mean(),
            "attended_any_share": (st.sessions_attended > 0).mean(),
            "qalys_per_patient": st.qalys.mean()}
    assert 0.0 < want["support_mean"] and 0.0 < want["attended_any_share"] < 1.0 or n < 100
    got = sim.population_means()
    assert {k: got[k] for k in want} == {k: float(v) for k, v in want.items()}
    parts = [k.population_sums(sim.schedule, st, np.empty(n))
             for k in (kernels.SERIAL, kernels.PARALLEL)]
    assert np.array_equal(parts[0], parts[1])


SPLIT_CASES = {
    "mentors in person, digital curriculum, HbA1c costs, moderation cap": (
        "scenarios/designs/buddy_calls.yaml",
        {"program.one_to_one.mode": "mentor", "program.one_to_one.medium": "in_person",
         "program.one_to_one.call_completion": 0.7, "program.education.mode": "digital",
         "program.education.end_day": 90, "program.education.every_days": 10,
         "program.im.end_day": 120, "economics.healthcare_cost_per_hba1c_pct_year": 150.0,
         "economics.moderation_max_messages_per_group_day": 2}),
    "in-person DSMES then IM, graded contagion": (
        "scenarios/designs/dsmes_then_im.yaml", {"behaviour.contagion": "graded"}),
}


@pytest.mark.parametrize("case", SPLIT_CASES)
def test_days_come_out_the_same_however_they_are_split(case: str, monkeypatch) -> None:
    """One compiled call for the whole horizon, a day at a time (Mesa's step), in uneven
    pieces or in calls capped at a week (``CALL_AGENT_DAYS``): the same state, tie strengths
    and ledger, bit for bit (every draw is keyed by its day, and no phase keeps anything
    between calls)."""
    from sim.core import simulation

    path, overrides = SPLIT_CASES[case]
    sc = load_scenario(path, {"population.size": 300, "run.days": 200, **overrides})
    whole, daily, pieces, weeks = (Simulation(sc, 4) for _ in range(4))
    for m in (whole, daily, pieces, weeks):
        m.recording = False
    whole.advance(10_000)
    while daily.running:
        daily.step()
    for until in (1, 2, 30, 31, 97, 150, 199, 200, 201):
        pieces.advance(until)
    monkeypatch.setattr(simulation, "CALL_AGENT_DAYS", 7 * 300)
    calls = []
    run_days = weeks._run_days
    monkeypatch.setattr(weeks, "_run_days", lambda a, b: (calls.append(b - a), run_days(a, b)))
    weeks.advance(200)
    assert max(calls) == 7 and sum(calls) == 200
    assert whole.ledger.program > 0 and whole.ledger.posts > 0
    assert whole.ledger.calls > 0 or whole.buddies is None
    for m in (daily, pieces, weeks):
        assert m.day == whole.day == 200 and not m.running
        assert m.ledger == whole.ledger
        assert np.array_equal(m.network.group.data, whole.network.group.data)
        for name, a in m.ties._asdict().items():
            assert np.array_equal(a, getattr(whole.ties, name)), name
        for name in m.state._fields:
            assert np.array_equal(getattr(m.state, name), getattr(whole.state, name)), name


def test_recording_stops_on_record_days_and_the_horizon() -> None:
    sc = load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                       {"population.size": 100, "run.days": 65, "run.record_every_days": 30})
    m = Simulation(sc, 1)
    m.advance(1_000)
    assert [r["day"] for r in m.records] == [0.0, 30.0, 60.0, 65.0]


def test_advance_takes_whole_days_and_ledger_totals_are_read_only() -> None:
    m = Simulation(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                                 {"population.size": 50, "run.days": 20}), 1)
    with pytest.raises(TypeError):
        m.advance(5.5)
    m.advance(np.int64(5))
    assert m.day == 5
    with pytest.raises(AttributeError, match="read-only"):
        m.ledger.program = 0.0
    assert m.ledger.program == m.ledger.values[phases.PROGRAM] > 0


def test_the_mesa_model_advances_on_mesas_clock() -> None:
    from sim import PeerSupportModel

    m = PeerSupportModel(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                                       {"population.size": 50, "run.days": 20}), seed=1,
                         agent_views=False)
    m.advance(12)
    assert m.day == m.steps == 12 and m.time == 12.0
    m.advance(100)
    assert m.day == m.steps == 20 and not m.running
