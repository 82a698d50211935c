"""The model: reproducibility, common random numbers, scientific directions, Mesa views."""

from __future__ import annotations

import json
import subprocess
import sys

import mesa
import numpy as np
import pandas as pd
import pytest
import yaml

from sim import PeerSupportModel, load_scenario, run
from sim.core.simulation import Simulation

from .conftest import DESIGNS, ROOT, SMALL, write

HEALTH = ("pdc_mean_end", "adherent_share_end", "hba1c_mean_end", "utility_mean_end",
          "qalys_per_patient", "engagement_end")


def design(name: str, **overrides):
    return load_scenario(DESIGNS / f"{name}.yaml", {**SMALL, **overrides})


def test_same_seed_identical_different_seed_differs():
    sc = design("hybrid_kickoff")
    a, b, c = run(sc, seed=7), run(sc, seed=7), run(sc, seed=8)
    assert a.summary == b.summary
    assert a.timeseries.equals(b.timeseries)
    assert a.summary["hba1c_mean_end"] != c.summary["hba1c_mean_end"]


def test_a_run_without_time_series_has_the_same_summary():
    """Sweeps that store no time series skip recording it: nothing else may change."""
    sc = design("hybrid_kickoff")
    full, bare = run(sc, seed=7), run(sc, seed=7, timeseries=False)
    assert len(full.timeseries) > 2 and bare.timeseries.empty
    assert json.dumps(bare.summary, sort_keys=True) == json.dumps(full.summary, sort_keys=True)


def test_run_holds_blas_to_one_thread_and_restores_the_callers(monkeypatch):
    """Idle BLAS threads spin on the cores the compiled passes use (a 2,000-patient sweep on
    2 workers ran 2.3 runs/s with them, 5.3 without), and a threaded BLAS sums in an order
    that depends on its thread count: a run uses one, whatever its caller set."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    seen: list[set[int]] = []
    advance = Simulation.advance
    monkeypatch.setattr(Simulation, "advance",
                        lambda self, until: (seen.append(blas_threads()), advance(self, until))[1])
    sc = design("hybrid_kickoff", **{"run.days": 5})
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        a = run(sc, seed=7)
        assert blas_threads() == before
    assert seen and all(s == {1} for s in seen)
    with threadpool_limits(limits=1, user_api="blas"):
        again = run(sc, seed=7).summary
    assert json.dumps(again, sort_keys=True) == json.dumps(a.summary, sort_keys=True)


def test_two_designs_draw_identical_population_and_network():
    a = PeerSupportModel(design("usual_care"), seed=3)
    b = PeerSupportModel(design("hybrid_monthly"), seed=3)
    for field in ("hba1c0_pct", "adherence_logit", "digital_literacy", "posting_activity"):
        assert np.array_equal(getattr(a.patients, field), getattr(b.patients, field)), field
    assert (a.network.background != b.network.background).nnz == 0
    assert np.array_equal(a.network.group.indices, b.network.group.indices)


def test_in_person_change_leaves_untouched_patients_messaging_unchanged():
    """CRN: offering sessions to half the groups changes nothing for the other half."""
    common = {**SMALL, "network.background.kind": "none", "program.im.end_day": 90}
    im_only = load_scenario(DESIGNS / "im_peer_support.yaml", common)
    rollout = load_scenario(DESIGNS / "im_peer_support.yaml", {
        **common, "program.in_person.end_day": 30, "program.in_person.groups_share": 0.5})
    a, b = PeerSupportModel(im_only, seed=5), PeerSupportModel(rollout, seed=5)
    for _ in range(90):
        a.step()
        b.step()
    untouched = ~b.group_offered
    touched = b.group_offered
    assert untouched.sum() > 50 and touched.sum() > 50
    assert np.array_equal(a.posts_total[untouched], b.posts_total[untouched])
    assert np.array_equal(a.hba1c[untouched], b.hba1c[untouched])
    assert not np.array_equal(a.posts_total[touched], b.posts_total[touched]), \
        "sessions should change the messaging of groups that had them"


def test_yaml_dict_and_cli_give_identical_results(tmp_path):
    path = DESIGNS / "hybrid_kickoff.yaml"
    from_yaml = run(load_scenario(path, SMALL), seed=2).summary
    as_dict = yaml.safe_load(path.read_text())
    as_dict["extends"] = str(DESIGNS.parent / "base.yaml")
    as_dict["population"] = {"size": 300}
    as_dict["run"] = {"days": 90}
    from_dict = run(as_dict, seed=2).summary
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli.main", "run", str(path), "--seed", "2", "--json",
         "--set", "population.size=300", "--set", "run.days=90", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, check=True)
    from_cli = json.loads(proc.stdout)  # stdout holds only the JSON, even with --out
    assert from_yaml == from_dict == from_cli
    saved = json.loads((tmp_path / "provenance.json").read_text())
    assert saved["seed"] == 2 and saved["scenario"]["population"]["size"] == 300
    assert (tmp_path / "timeseries.parquet").stat().st_size > 0


def test_more_im_support_raises_adherence():
    base = {"program.im.end_day": 90}
    low = run(design("im_peer_support", **base, **{"program.im.posts_per_week": 0.2}), seed=4)
    high = run(design("im_peer_support", **base, **{"program.im.posts_per_week": 3.0}), seed=4)
    lo, hi = low.summary["pdc_mean_end"], high.summary["pdc_mean_end"]
    assert hi > lo, f"more posting should raise PDC: {hi:.3f} <= {lo:.3f}"


def test_zero_intensity_program_equals_usual_care():
    zero = design("hybrid_monthly", **{
        "program.im.posts_per_week": 0, "program.im.leader_posts_per_week": 0,
        "program.im.moderator_posts_per_week": 0, "program.in_person.hours_per_session": 0})
    a, b = run(design("usual_care"), seed=9), run(zero, seed=9)
    for key in HEALTH[:-1]:
        assert a.summary[key] == b.summary[key], key
    cols = ["pdc_mean", "hba1c_mean", "utility_mean", "adherent_share"]
    assert a.timeseries[cols].equals(b.timeseries[cols])


def test_hba1c_relaxes_with_documented_time_constant():
    """Only the trial drift acts: the gap closes by 1 - 1/e after one time constant (the
    clinical course, progression and measurement noise pinned off, the drift pinned at 0.17)."""
    sc = load_scenario({}, {"population.size": 2000, "run.days": 50,
                            "clinical.adherence_slope_pct": 0.0, "run.record_every_days": 1,
                            "clinical.trial_drift_hba1c_pct": 0.17,
                            "clinical.course_sd_pct": 0.0, "clinical.progression_pct_per_year": 0.0,
                            "clinical.biological_cv": 0.0, "clinical.analytical_cv": 0.0})
    ts = run(sc, seed=1).timeseries
    drift, tau = sc.clinical.trial_drift_hba1c_pct, sc.clinical.hba1c_time_constant_days
    change = ts.hba1c_mean.iloc[-1] - ts.hba1c_mean.iloc[0]
    expected = -drift * (1 - np.exp(-50 / tau))
    assert change == pytest.approx(expected, rel=1e-6), "first-order kinetics, tau = 50 d"


def _pairs_scenario(tmp_path, contagion: str):
    """Each patient has exactly one neighbour; half are coached champions."""
    n = 400
    write(tmp_path / "pairs.csv", "\n".join(f"{i},{i + 1}" for i in range(0, n, 2)))
    return load_scenario({
        "population": {"size": n, "adherence_logit": {"mean": -6, "sd": 0}},
        "network": {"group_size": 2, "initial_group_strength": 0, "strength_floor": 0,
                    "background": {"kind": "edge_list", "edge_list": str(tmp_path / "pairs.csv")}},
        "program": {"champions_share": 0.5},
        "behaviour": {"contagion": contagion, "complex_threshold": 2, "norm_effect_logit": 10,
                      "champion_boost_logit": 12, "pdc_window_days": 7},
        "run": {"days": 60},
    })


def test_complex_contagion_needs_two_adherent_neighbours(tmp_path):
    for contagion, should_spread in (("complex", False), ("simple", True)):
        m = PeerSupportModel(_pairs_scenario(tmp_path, contagion), seed=1)
        for _ in range(60):
            m.step()
        champion = m.state.base_logit > 0
        partner = m.network.background @ champion.astype(float) > 0
        followers = ~champion & partner
        share = m.state.adherent[followers].mean()
        assert followers.sum() > 30
        if should_spread:
            assert share > 0.9, f"simple contagion should spread from one neighbour: {share:.2f}"
        else:
            assert share == 0.0, f"one adherent neighbour must not suffice: {share:.2f}"


def _followers_adherent(scenario) -> float:
    """Share adherent after 60 days among non-champions whose one neighbour is a champion."""
    m = PeerSupportModel(scenario, seed=1)
    for _ in range(60):
        m.step()
    champion = m.state.base_logit > 0
    followers = ~champion & (m.network.background @ champion.astype(float) > 0)
    assert followers.sum() > 30
    return float(m.state.adherent[followers].mean())


def test_graded_contagion_responsive_share_and_waning(tmp_path):
    """One signal at full response (p1 = 1) spreads; nobody responsive, or a pull that wanes
    within a day (adoption takes 6 dosed days of 7), does not."""
    graded = _pairs_scenario(tmp_path, "graded")

    def with_(**behaviour) -> object:
        return graded.model_copy(update={"behaviour": graded.behaviour.model_copy(
            update={"graded_first_signal": 1.0, "norm_responsive_share": 1.0,
                    "norm_signal_waning_days": None, **behaviour})})
    assert _followers_adherent(with_()) > 0.9
    assert _followers_adherent(with_(norm_responsive_share=0.0)) == 0.0
    assert _followers_adherent(with_(norm_signal_waning_days=1.0)) == 0.0


def test_graded_contagion_baseline_is_a_steady_state():
    """With no programme the peer norm stays at its baseline: the baseline is taken where a
    non-adopter's pull has already waned (found by review: it fell 0.15 logit in 60 days)."""
    model = PeerSupportModel(design("usual_care", **{
        "population.size": 1000, "run.days": 60, "behaviour.contagion": "graded",
        "run.trial_participation": False}), 1)
    model.run_model()
    st = model.state
    shift = st.norm - st.baseline_norm
    assert abs(float(shift.mean())) < 0.05, float(shift.mean())  # was -0.15


def test_graded_threshold_limit_reproduces_complex_contagion():
    """Graded with p1 = 2^-40, r = 2^40, everyone responsive, no waning: complex bit for bit."""
    from sim.analyses.validation import load_study

    over = {"run.days": 60, "behaviour.contagion": "complex"}
    path = ROOT / "experiments" / "validation" / "centola2010.yaml"
    complex_ = load_study(path, over).scenarios["clustered"]
    graded = load_study(path, {**over, "behaviour.contagion": "graded",
                               "behaviour.graded_first_signal": 2.0 ** -40,
                               "behaviour.graded_signal_growth": 2.0 ** 40,
                               "behaviour.norm_responsive_share": 1.0,
                               "behaviour.norm_signal_waning_days": None}).scenarios["clustered"]
    runs = [run(sc, seed=3).timeseries for sc in (complex_, graded)]
    assert runs[0]["adherent_share"].iloc[-1] > 0.1, "the behaviour spreads at all"
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)


def test_effects_grow_with_baseline_hba1c():
    r = run(design("hybrid_monthly", **{"population.size": 2000, "run.days": 182}), seed=1)
    uc = run(design("usual_care", **{"population.size": 2000, "run.days": 182}), seed=1)
    net = {g: r.summary[f"hba1c_change_{g}"] - uc.summary[f"hba1c_change_{g}"]
           for g in ("hba1c_lt7.5", "hba1c_7.5to8.5", "hba1c_ge8.5")}
    assert net["hba1c_ge8.5"] < net["hba1c_7.5to8.5"] < net["hba1c_lt7.5"] < 0, net


def test_design_directions_match_evidence():
    """The control arm improves by the trial drift; IM-only little; hybrid more; DSMES most.

    The control-arm check pins the clinical course and disease progression off: at the
    defaults progression (0.1 %/yr) outweighs the calibrated drift (0.014) and usual care's
    change is +0.020 at 6 months (2,000 patients, seed 1; -0.025 with both pinned off)."""
    over = {"population.size": 2000, "run.days": 182}
    drift_only = run(design("usual_care", **over, **{
        "clinical.course_sd_pct": 0.0, "clinical.progression_pct_per_year": 0.0}), seed=1)
    assert drift_only.summary["hba1c_change"] < 0, "control arms improve too (Chrvala 2016)"
    change = {n: run(design(n, **over), seed=1).summary["hba1c_change"]
              for n in ("usual_care", "im_peer_support", "hybrid_kickoff", "hybrid_monthly",
                        "dsmes_in_person")}
    im_net = change["im_peer_support"] - change["usual_care"]
    assert -0.35 < im_net < 0, f"IM-only should lower HbA1c a little: {im_net:.2f}"
    assert change["hybrid_kickoff"] < change["im_peer_support"], change
    assert change["hybrid_monthly"] < change["hybrid_kickoff"], change


def test_mesa_agents_and_datacollector():
    m = PeerSupportModel(design("hybrid_kickoff"), seed=1)
    assert len(m.agents) == 300
    dc = mesa.DataCollector(model_reporters={"hba1c": lambda mod: float(mod.hba1c.mean())},
                            agent_reporters={"pdc": "pdc", "hba1c": "hba1c_pct"})
    for _ in range(3):
        m.step()
        dc.collect(m)
    assert m.time == 3.0 and m.day == 3
    agents = dc.get_agent_vars_dataframe()
    assert len(agents) == 900
    first = next(iter(m.agents))
    assert first.hba1c_pct == pytest.approx(m.hba1c[first.index])


def test_large_population_creates_views_on_demand():
    m = PeerSupportModel(load_scenario({}, {"population.size": 12_000, "run.days": 5}), seed=1)
    assert len(m.agents) == 0
    m.create_agent_views()
    assert len(m.agents) == 12_000
