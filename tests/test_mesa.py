"""The model as a Mesa citizen: batch_run, run_model, DataCollector, rng, agent views."""

from __future__ import annotations

import mesa
import pytest

from sim import PeerSupportModel, ScenarioError, load_scenario
from sim.core.model import MODEL_REPORTERS

from .conftest import DESIGNS

KICKOFF = str(DESIGNS / "hybrid_kickoff.yaml")


@pytest.mark.filterwarnings("ignore:The `iterations` keyword:DeprecationWarning")
def test_batch_run_two_iterations_differ():
    rows = mesa.batch_run(PeerSupportModel, parameters={
        "scenario": KICKOFF, "population_size": 150, "run_days": 20},
        iterations=2, max_steps=100, number_processes=1, data_collection_period=-1,
        display_progress=False)
    assert len(rows) == 2
    assert [r["Step"] for r in rows] == [20, 20]  # stopped at the horizon, not max_steps
    assert rows[0]["hba1c_mean"] != rows[1]["hba1c_mean"]


def test_batch_run_grid_over_keyword_and_dotted_parameters():
    rows = mesa.batch_run(PeerSupportModel, parameters={
        "scenario": KICKOFF, "population.size": [100, 120], "run_days": 5},
        rng=[3], max_steps=10, number_processes=1, data_collection_period=-1,
        display_progress=False)
    assert sorted(r["population.size"] for r in rows) == [100, 120]


def test_run_model_stops_at_the_horizon_and_step_after_is_harmless():
    m = PeerSupportModel(KICKOFF, seed=1, population_size=100, run_days=12)
    m.run_model()
    assert (m.day, m.steps, m.running) == (12, 12, False)
    m.step()
    assert m.day == 12 and not m.running


def test_datacollector_frame_has_the_reporters():
    m = PeerSupportModel(KICKOFF, seed=1, population_size=100, run_days=14,
                         run_record_every_days=7)
    m.run_model()
    frame = m.datacollector.get_model_vars_dataframe()
    assert set(MODEL_REPORTERS) <= set(frame.columns)
    for key in ("pdc_mean", "adherent_share", "hba1c_mean", "utility_mean", "engagement_mean"):
        assert key in frame.columns
    assert list(frame["day"]) == [0.0, 7.0, 14.0]
    assert frame["hba1c_mean"].iloc[-1] == m.records[-1]["hba1c_mean"]


def test_int_rng_reproduces_none_is_fresh():
    def end(**kw):
        m = PeerSupportModel(KICKOFF, population_size=100, run_days=10, **kw)
        m.run_model()
        return m.records[-1]["hba1c_mean"], m.seed_used

    assert end(rng=5) == end(rng=5) == end(seed=5)
    assert end(rng=None)[1] != end(rng=None)[1]
    with pytest.raises(ValueError, match="either seed or rng"):
        PeerSupportModel(KICKOFF, seed=1, rng=1)


def test_keyword_overrides_match_dotted_overrides():
    m = PeerSupportModel(KICKOFF, seed=1, population_size=90, program_im_posts_per_week=2.5)
    sc = load_scenario(KICKOFF, {"population.size": 90, "program.im.posts_per_week": 2.5})
    assert m.spec == sc


def test_unknown_keyword_is_a_clear_error():
    with pytest.raises(ScenarioError, match="unknown model parameter 'popluation_size'.*"
                                            "population_size"):
        PeerSupportModel(KICKOFF, popluation_size=10)


def test_patient_view_exposes_every_state():
    m = PeerSupportModel(KICKOFF, seed=2, population_size=60, run_days=30)
    m.run_model()
    agent = next(iter(m.agents))
    i = agent.index
    assert agent.distress == m.distress[i] and agent.utility == m.utility[i]
    assert agent.self_efficacy_z == pytest.approx(m.patients.self_efficacy0_z[i]
                                                  + m.self_efficacy_gain[i])
    assert agent.knowledge == pytest.approx(m.patients.knowledge0[i] + m.knowledge_gain[i])
    for name in ("hba1c_pct", "pdc", "adherent", "adherence", "engagement", "support",
                 "practice", "contact", "norm", "received", "education_hours", "qalys", "cost",
                 "sessions_attended", "posts_total", "attended", "group", "is_leader"):
        getattr(agent, name)
    assert agent.hba1c_pct == m.hba1c[i] and agent.pdc == m.pdc[i]
    assert isinstance(agent.sessions_attended, int) and isinstance(agent.adherent, bool)


def test_batch_run_takes_a_scenario_object_in_a_list_and_explains_a_bare_one():
    sc = load_scenario(KICKOFF, {"population.size": 80, "run.days": 3})
    rows = mesa.batch_run(PeerSupportModel, parameters={"scenario": [sc]}, rng=[1],
                          max_steps=10, number_processes=1, data_collection_period=-1,
                          display_progress=False)
    assert rows[0]["Step"] == 3
    with pytest.raises(ScenarioError, match="batch_run iterated a Scenario"):
        mesa.batch_run(PeerSupportModel, parameters={"scenario": sc}, rng=[1], max_steps=3,
                       number_processes=1, display_progress=False)


def test_the_mesa_model_steps_exactly_like_the_simulation_the_runner_drives():
    """PeerSupportModel is Simulation plus Mesa's interface: same numbers, seed for seed."""
    import numpy as np

    from sim.core.simulation import Simulation

    mesa_model = PeerSupportModel("designs/hybrid_kickoff", 5, population_size=300)
    plain = Simulation("designs/hybrid_kickoff", 5, population_size=300)
    for _ in range(40):
        mesa_model.step()
        plain.step()
    assert mesa_model.records == plain.records
    for name in ("hba1c", "adherence", "utility", "distress", "qalys", "cost"):
        assert np.array_equal(getattr(mesa_model, name), getattr(plain, name)), name
    assert len(mesa_model.datacollector.get_model_vars_dataframe()) == len(plain.records)
    assert len(mesa_model.agents) == 300 and not hasattr(plain, "agents")
