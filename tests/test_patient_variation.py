"""Patient variation and eligibility (issue 12; design doc §4): direction and size.

The scenario sets the design's proposed values (§4.2): a clinical course of SD 1.0 %-point
(tau 180 d), biological and analytical CVs of 1.8% and 2%, progression 0.1 %/year and a
response CV of 0.5, with the trial-participation term off, so that regression to the mean
can only come from selection on a noisy measurement.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario, run
from sim.core.outcomes import summary_keys
from sim.core.rng import replication_seeds
from sim.params.errors import ScenarioError
from sim.report.columns_table import declaration

VARIATION = {"clinical.course_sd_pct": 1.0, "clinical.course_time_constant_days": 180,
             "clinical.biological_cv": 0.018, "clinical.analytical_cv": 0.02,
             "clinical.progression_pct_per_year": 0.1, "clinical.response_cv": 0.5,
             "run.trial_participation": False, "lifetime.enabled": False, "run.days": 182}
NO_NOISE = {"clinical.course_sd_pct": 0.0, "clinical.biological_cv": 0.0,
            "clinical.analytical_cv": 0.0}
MONS = {"population.baseline_hba1c_pct": {"mean": 7.6, "sd": 1.3},
        "population.eligibility.hba1c_min_pct": 7.5}
"""Entry >= 7.5 from a low source population (Mons 2013 type; design doc §4.4)."""


def _summary(design: str, n: int, seed: int = 1, **extra: Any) -> dict[str, float]:
    over = {**VARIATION, "population.size": n, **{k.replace("__", "."): v
                                                   for k, v in extra.items()}}
    return run(f"designs/{design}", seed=seed, overrides=over).summary


def _progression(days: int = 182, tau: float = 50.0, per_year: float = 0.1) -> float:
    """The progression in mean HbA1c by ``days``: the target's ramp, relaxed (kinetics lag)."""
    rate, d = -math.expm1(-1.0 / tau), np.arange(days, dtype=float)
    return per_year / 365.0 * rate * float(np.sum((1.0 - rate) ** (days - 1 - d) * d))


def test_sd_of_six_month_measured_change_is_as_in_trials():
    s = _summary("usual_care", 4000)
    assert 1.0 <= s["hba1c_change_sd"] <= 1.3, s["hba1c_change_sd"]  # measured 1.16
    off = _summary("usual_care", 4000, **{k.replace(".", "__"): v for k, v in NO_NOISE.items()})
    assert off["hba1c_change_sd"] < 0.1, "without course and noise patients barely differ"


def test_unselected_usual_care_changes_by_progression_only():
    s = _summary("usual_care", 20_000)
    assert s["hba1c_change"] == pytest.approx(_progression(), abs=0.03)  # +0.012 vs +0.037


def test_entry_on_a_high_measurement_regresses_to_the_mean():
    selected = _summary("usual_care", 4000, **{k.replace(".", "__"): v for k, v in MONS.items()})
    assert -0.5 <= selected["hba1c_change"] <= -0.2, selected["hba1c_change"]  # -0.36
    assert 0.4 < selected["screening_yield"] < 0.65  # about half the source is excluded
    quiet = _summary("usual_care", 4000, **{k.replace(".", "__"): v
                                            for k, v in (MONS | NO_NOISE).items()})
    assert abs(quiet["hba1c_change"] - _progression()) < 0.01, "no course, no noise: no RTM"


def test_course_and_noise_do_not_drown_the_paired_between_arm_difference():
    def paired_sd(extra: dict[str, Any]) -> float:
        diffs = []
        for seed in replication_seeds(7, 8):
            over = {k.replace(".", "__"): v for k, v in extra.items()}
            diffs.append(_summary("dsmes_in_person", 600, seed, **over)["hba1c_change"]
                         - _summary("usual_care", 600, seed, **over)["hba1c_change"])
        return float(np.std(diffs, ddof=1))

    assert paired_sd({}) < 1.5 * paired_sd({"clinical.course_sd_pct": 0.0})


def _patients(**population: Any) -> Any:
    sc = load_scenario({}, {**VARIATION, "population.size": 3000,
                            **{f"population.{k}": v for k, v in population.items()}})
    return PeerSupportModel(sc, seed=5, agent_views=False).patients


PRESLEY = {"mean": 10.0, "sd": 1.7, "min": 4.0, "max": 20.0}
"""A source population well above the entry bound (Presley 2020 type; design doc §4.1)."""


def test_eligibility_truncates_on_the_measured_value_without_a_pile_up():
    p = _patients(baseline_hba1c_pct=PRESLEY, eligibility={"hba1c_min_pct": 7.5})
    m = p.hba1c0_measured_pct
    assert p.size == 3000 and m.min() >= 7.5
    assert float((m < 7.55).mean()) < 0.01, "patients piled on the bound"  # 0.5% expected
    clipped = _patients(baseline_hba1c_pct={**PRESLEY, "min": 7.5})
    assert float((clipped.hba1c0_pct == 7.5).mean()) > 0.05, "clipping piles them up (6.9%)"
    capped = _patients(eligibility={"hba1c_min_pct": 7.5, "hba1c_max_pct": 11.0})
    assert capped.hba1c0_measured_pct.max() <= 11.0
    assert 4.0 <= p.hba1c0_pct.min() and p.hba1c0_pct.max() <= 20.0
    assert (p.hba1c0_pct < 7.5).any(), "screened on the measurement, not on true HbA1c"
    assert 4.0 <= p.hba1c0_pct.min() and p.hba1c0_pct.max() <= 20.0
    assert (p.hba1c0_pct < 7.5).any(), "screened on the measurement, not on true HbA1c"
    on_true = _patients(eligibility={"hba1c_min_pct": 7.5, "on": "true"})
    assert on_true.hba1c0_pct.min() >= 7.5


def test_two_designs_with_one_population_get_identical_patients_and_course():
    over = {**VARIATION, **MONS, "population.size": 500, "run.days": 30}
    a = PeerSupportModel(load_scenario("designs/usual_care", over), seed=9, agent_views=False)
    b = PeerSupportModel(load_scenario("designs/im_peer_support", over), seed=9,
                         agent_views=False)
    for name, value in vars(a.patients).items():
        assert np.array_equal(value, getattr(b.patients, name)), name
    for _ in range(30):
        a.step()
        b.step()
    assert np.array_equal(a.state.hba1c_course, b.state.hba1c_course)
    np.testing.assert_allclose(a.measured_hba1c() / a.state.hba1c,
                               b.measured_hba1c() / b.state.hba1c, rtol=1e-12)


def test_a_criterion_the_source_almost_never_meets_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="almost never meets") as err:
        _patients(eligibility={"hba1c_min_pct": 12.5})
    assert "population.eligibility" in str(err.value)
    path = tmp_path / "strict.yaml"
    path.write_text("population:\n  eligibility:\n    hba1c_max_pct: 5.0\n")
    with pytest.raises(ScenarioError, match="<= 5%") as err:
        PeerSupportModel(path, seed=1)
    assert err.value.file == str(path) and str(err.value).startswith(str(path))


def test_user_subgroup_cut_offs_name_their_keys():
    s = run("designs/usual_care", seed=2, overrides={
        "population.size": 300, "run.days": 7, "run.subgroups.hba1c": [9],
        "lifetime.enabled": False}).summary
    assert tuple(s) == summary_keys(lifetime=False, hba1c_cuts=[9])
    assert s["share_hba1c_lt9"] + s["share_hba1c_ge9"] == pytest.approx(1.0)
    assert "hba1c_change_hba1c_ge9" in s and "hba1c_change_hba1c_ge8.5" not in s
    assert declaration("hba1c_change_hba1c_ge9").label.endswith("baseline HbA1c >= 9%")
    assert declaration("share_hba1c_7to9.5").label.endswith("baseline HbA1c 7-9.5%")


def test_trial_participation_term_is_switched_off_for_planning():
    # Drift pinned large enough to be seen (default 0.014); HbA1c's feedback on distress (and so
    # on dosing) pinned off, so the term moves HbA1c by first-order kinetics alone.
    pinned = {"clinical__trial_drift_hba1c_pct": 0.17, "clinical__distress_per_hba1c_rise": 0.0}
    on = _summary("usual_care", 500, **pinned, **{"run__trial_participation": True})
    off = _summary("usual_care", 500, **pinned)
    drift = 0.17 * -math.expm1(-182 / 50)  # the pinned term, at first-order kinetics
    assert on["hba1c_true_change"] - off["hba1c_true_change"] == pytest.approx(-drift, abs=1e-9)


def test_the_lifetime_stage_gets_behaviour_change_not_the_course():
    s = _summary("usual_care", 2000, **{"lifetime__enabled": True,
                                        **{k.replace(".", "__"): v for k, v in MONS.items()}})
    assert s["hba1c_true_change"] < -0.2, "regression to the mean in the trial's HbA1c"
    assert abs(s["lifetime_hba1c_effect"]) < 0.02, "but not a programme effect for life"
