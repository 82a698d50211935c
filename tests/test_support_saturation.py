"""Bounded posting and saturating support (issue 12, design doc §2): direction and size.

The defaults bound posting (hurdle, writing cap, read limit) and saturate support; these
tests compare them with the unbounded settings that carried the v1 model's IM effect.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core import dynamics as dyn
from sim.core import kernels
from sim.params.errors import ScenarioError

from .conftest import DESIGNS

UNBOUNDED = {"behaviour.posting_share": 1.0, "behaviour.posting_activity_sigma": 3.6,
             "behaviour.max_posts_per_day": None, "behaviour.read_limit_per_author": None}
"""The v1 model's posting: no hurdle, the heavier tail, no writing cap, no read limit."""


def _model(design: str, overrides: dict, seed: int = 1, n: int = 2000,
           days: int = 182) -> PeerSupportModel:
    sc = load_scenario(DESIGNS / f"{design}.yaml",
                       {"population.size": n, "run.days": days, **overrides})
    m = PeerSupportModel(sc, seed=seed, agent_views=False)
    for _ in range(days):
        m.step()
    return m


def test_saturating_is_bounded_increasing_concave():
    xs = [0.0, 0.1, 0.5, 1.0, 2.0, 10.0, 1e6]
    ys = [dyn.saturating(x, 0.5, 1.0) for x in xs]
    assert ys[0] == 0.0 and ys[-1] <= 1.0
    assert all(b > a for a, b in zip(ys[:-1], ys[1:], strict=True))
    assert dyn.saturating(0.5, 0.5, 2.0) == pytest.approx(2.0 * (1 - math.exp(-1)))
    # concave: doubling the messages less than doubles the support
    assert dyn.saturating(1.0, 0.5, 1.0) < 2 * dyn.saturating(0.5, 0.5, 1.0)


def test_hurdle_keeps_other_draws_and_mean_activity():
    base = _model("im_peer_support", {"behaviour.posting_share": 1.0}, n=20_000,
                  days=1).patients
    hurdle = _model("im_peer_support", {}, n=20_000, days=1).patients
    assert np.array_equal(base.hba1c0_pct, hurdle.hba1c0_pct)
    assert np.array_equal(base.attendance_prob, hurdle.attendance_prob)
    can_post = hurdle.posting_activity > 0
    assert can_post.mean() == pytest.approx(0.35, abs=0.015)
    ratio = hurdle.posting_activity[can_post] / base.posting_activity[can_post]
    assert np.allclose(ratio, 1 / 0.35)


def test_daily_cap_and_member_limit_bound_posts():
    loud = {**UNBOUNDED, "program.im.posts_per_week": 100.0,
            "behaviour.posting_activity_sigma": 3.0}
    days = 60
    free = _model("im_peer_support", loud, days=days).state
    capped = _model("im_peer_support", {**loud, "behaviour.max_posts_per_day": 5},
                    days=days).state
    limited = _model("im_peer_support", {**loud, "behaviour.max_posts_per_member": 40},
                     days=days).state
    assert free.posts_total.max() > 5 * days
    assert capped.posts_total.max() <= 1.3 * 5 * days
    assert limited.posts_total.max() == 40
    # CRN: the same uniforms give fewer or equal posts, patient by patient
    assert np.all(capped.posts_total <= free.posts_total)
    assert np.all(limited.posts_total <= free.posts_total)


def test_read_limit_lowers_support_and_saturation_bounds_it():
    loud = {**UNBOUNDED, "program.im.posts_per_week": 50.0,
            "behaviour.posting_activity_sigma": 3.0, "behaviour.support_half_messages": 5.0}
    free = _model("im_peer_support", loud, days=60).state
    limited = _model("im_peer_support", {**loud, "behaviour.read_limit_per_author": 1},
                     days=60).state
    assert limited.support.mean() < 0.8 * free.support.mean()
    sat = _model("im_peer_support", {**loud, "behaviour.support_max": 0.8}, days=60).state
    assert sat.support.min() >= 0.0 and sat.support.max() <= 0.8


def test_mechanisms_on_parallel_kernels_match_serial():
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml",
                       {"population.size": 3000, "run.days": 30,
                        "behaviour.max_posts_per_member": 30})
    states = []
    for kernel_set in (kernels.SERIAL, kernels.PARALLEL):
        m = PeerSupportModel(sc, seed=3, agent_views=False)
        m.kernels = kernel_set
        for _ in range(30):
            m.step()
        states.append(m.state)
    for name in states[0]._fields:
        assert np.array_equal(getattr(states[0], name), getattr(states[1], name)), name


def test_limits_must_be_positive():
    with pytest.raises(ScenarioError, match="max_posts_per_day"):
        load_scenario(DESIGNS / "im_peer_support.yaml", {"behaviour.max_posts_per_day": 0})
    with pytest.raises(ScenarioError, match="read_limit_per_author"):
        load_scenario(DESIGNS / "im_peer_support.yaml", {"behaviour.read_limit_per_author": -1})


def _im_change(overrides: dict, seed: int) -> tuple[float, np.ndarray]:
    """Mean HbA1c change in the IM arm, and the members' (not leaders') post totals."""
    st = _model("im_peer_support", overrides, seed).state
    return float(np.mean(st.hba1c - st.hba1c0_pct)), st.posts_total[~st.leader]


def _p99_cap_change(overrides: dict, seeds: range) -> tuple[float, float]:
    """Relative change of the IM arm's mean HbA1c effect (IM - usual care, paired by seed)
    when every member's posts are capped at the 99th percentile of members' totals, and the
    share of all members' posts the cap removes."""
    control = []
    for seed in seeds:
        st = _model("usual_care", overrides, seed).state
        control.append(float(np.mean(st.hba1c - st.hba1c0_pct)))
    runs = [_im_change(overrides, seed) for seed in seeds]
    p99 = int(np.percentile(np.concatenate([posts for _, posts in runs]), 99))
    cap = {**overrides, "behaviour.max_posts_per_member": p99}
    effect = np.mean([change for change, _ in runs]) - np.mean(control)
    capped_runs = [_im_change(cap, seed) for seed in seeds]
    capped = np.mean([change for change, _ in capped_runs]) - np.mean(control)
    removed = 1 - sum(p.sum() for _, p in capped_runs) / sum(p.sum() for _, p in runs)
    return float(abs(capped - effect) / abs(effect)), float(removed)


@pytest.mark.slow
def test_p99_posting_cap_changes_im_effect_by_less_than_15_percent():
    """Issue 12's robustness check (design doc §2.6.1): with the default bounded posting and
    saturating support, no handful of extreme posters carries the IM arm's effect, although
    the cap removes a large share of all posts (so the check is not vacuous).

    At the calibrated defaults: 14.6% with 54% of posts removed (seeds 1-10, 2,000 patients,
    182 days; v1 model: 42%). The calibration bounds support_half_messages at 0.92 for this
    check (experiments/calibration/v2/README.md): at 0.98 it gave 15.7%.
    """
    change, removed = _p99_cap_change({}, range(1, 11))
    assert change < 0.15
    assert removed > 0.2


def test_engagement_is_reported_for_open_im_group_members_only():
    """Usual care and in-person-only designs have no engagement (nan, 'n/a' in reports);
    an IM design's keys are the members' (not leaders') mean on open IM days."""
    from sim.runner import summarize

    for design in ("usual_care", "dsmes_in_person"):
        s = summarize(_model(design, {}, n=300, days=30))
        assert math.isnan(s["engagement_end"]) and math.isnan(s["engagement_open_mean"])
    sc = load_scenario(DESIGNS / "im_peer_support.yaml",
                       {"population.size": 300, "run.days": 40, "program.im.start_day": 5,
                        "program.im.end_day": 30})
    m = PeerSupportModel(sc, seed=2, agent_views=False)
    daily = []
    for _ in range(40):
        m.step()
        if m.plan.im_active[m.day - 1]:
            daily.append(m.state.engagement[~m.state.leader].mean())
    s = summarize(m)
    assert len(daily) == 25 and s["im_days"] == 25
    assert s["engagement_open_mean"] == pytest.approx(np.mean(daily), rel=1e-12)
    assert s["engagement_end"] == pytest.approx(daily[-1], rel=1e-12)


def test_response_heterogeneity_spreads_hba1c_change_not_its_mean():
    """clinical.response_cv (design doc §4.2): a mean-1 lognormal multiplier k_i of the
    HbA1c response (default CV 0.5); other patient draws unchanged; the spread of individual
    change grows."""
    still = {"clinical.course_sd_pct": 0.0}  # the course would swamp the response's spread
    base = _model("dsmes_in_person", {**still, "clinical.response_cv": 0.0}, n=4000, days=182)
    het = _model("dsmes_in_person", still, n=4000, days=182)
    k = het.patients.response
    assert np.array_equal(base.patients.hba1c0_pct, het.patients.hba1c0_pct)
    assert np.all(base.patients.response == 1.0)
    assert k.mean() == pytest.approx(1.0, abs=0.03)
    assert k.std() / k.mean() == pytest.approx(0.5, abs=0.05)
    change = [m.state.hba1c - m.state.hba1c0_pct for m in (base, het)]
    assert change[1].std() > 1.1 * change[0].std()
    assert change[1].mean() == pytest.approx(change[0].mean(), abs=0.1 * abs(change[0].mean()))
