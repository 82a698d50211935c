"""The one distribution vocabulary (sim/uncertainty.py) across PSA, sweep, sensitivity, priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from SALib.util import scale_samples
from scipy import stats

from sim.analyses.calibration import CalibrationSpec, load_calibration
from sim.analyses.designs import _quantile
from sim.analyses.sa_runner import load_sensitivity
from sim.analyses.sensitivity import Input, make_problem
from sim.analyses.sweep import load_sweep
from sim.params.errors import ScenarioError
from sim.params.located import load_document
from sim.uncertainty import (
    DISTRIBUTIONS,
    EMPIRICAL,
    OPTIONAL_KEYS,
    PARAMETERISATIONS,
    RENAMED,
    SALIB_NAMES,
    Distribution,
    RangeSpec,
)
from tests.test_compare import TINY as COMPARE
from tests.test_compare import compare_error
from tests.test_sensitivity_cli import TINY_SOBOL, load_error
from tests.test_sweep import TINY as SWEEP
from tests.test_sweep import sweep_error

SAMPLED = [
    {"dist": "uniform", "low": 2.0, "high": 7.0},
    {"dist": "triangular", "low": 0.0, "high": 10.0, "mode": 2.0},
    {"dist": "triangular", "low": 1.0, "high": 3.0},
    {"dist": "normal", "low": 1.0, "high": 3.0},
    {"dist": "lognormal", "low": 0.5, "high": 2.0},
    {"dist": "log_uniform", "low": 0.01, "high": 10.0},
]
"""The members every front-end accepts, each by its range."""


def test_vocabulary_is_declared_once() -> None:
    assert DISTRIBUTIONS == ("uniform", "normal", "lognormal", "gamma", "beta", "triangular",
                             "log_uniform", "empirical")
    assert set(PARAMETERISATIONS) == set(DISTRIBUTIONS)
    assert set(OPTIONAL_KEYS) <= set(DISTRIBUTIONS)
    assert set(SALIB_NAMES) <= set(DISTRIBUTIONS) and "gamma" not in SALIB_NAMES
    assert set(RENAMED.values()) <= set(DISTRIBUTIONS)


@pytest.mark.parametrize("spec", SAMPLED, ids=lambda s: s["dist"])
def test_same_distribution_same_samples_in_every_front_end(spec: dict) -> None:
    u = np.random.default_rng(7).random(257)
    psa = np.asarray(Distribution(**spec).ppf(u))
    as_input = Input("x", spec["low"], spec["high"], spec["dist"], mode=spec.get("mode"))
    sweep = _quantile(as_input, u)  # sweep designs and the given-data samplers
    problem = make_problem([as_input, Input("y", 0.0, 1.0)])
    salib = scale_samples(np.column_stack([u, u]), problem)[:, 0]  # sensitivity (SALib)
    assert np.array_equal(psa, sweep) and np.array_equal(psa, salib)
    ranged = RangeSpec(**spec)
    assert np.array_equal(np.asarray(ranged.ppf(u)), psa)


def test_ranges_mean_what_the_table_says() -> None:
    normal = Distribution(dist="normal", low=1.0, high=3.0)
    assert normal.interval() == pytest.approx((1.0, 3.0))
    lognormal = Distribution(dist="lognormal", low=0.5, high=2.0)
    assert lognormal.interval() == pytest.approx((0.5, 2.0))
    assert lognormal.frozen().median() == pytest.approx(1.0)
    log_uniform = Distribution(dist="log_uniform", low=0.01, high=100.0)
    assert log_uniform.frozen().median() == pytest.approx(1.0)
    assert Distribution(dist="triangular", low=1.0, high=3.0).frozen().mean() == 2.0
    moments = Distribution(dist="lognormal", mean=2.0, sd=0.5).frozen()
    assert (moments.mean(), moments.std()) == pytest.approx((2.0, 0.5))


def test_around_default_resolves_in_every_model() -> None:
    for model in (Distribution, RangeSpec):
        spread = model(dist="triangular", around_default=0.5).at_default(4.0)
        assert (spread.low, spread.high, spread.mode, spread.pending) == (2.0, 6.0, 4.0, False)


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_spellings_are_refused_with_the_new_name(old: str) -> None:
    with pytest.raises(ValueError, match=f"use '{RENAMED[old]}'"):
        Distribution(dist=old, low=1.0, high=2.0)


def test_sweep_and_sensitivity_refuse_old_names_and_gamma_located(tmp_path: Path) -> None:
    old = SWEEP.replace("{low: 1.5, high: 3.5}", "{low: 1.5, high: 3.5, dist: unif}")
    err = sweep_error(tmp_path, old)
    assert err.line == 11 and "uncertain.behaviour.support_effect_logit.dist" in str(err)
    assert "use 'uniform'" in str(err)
    gamma = TINY_SOBOL.replace("{low: 0.5, high: 3.0}", "{low: 0.5, high: 3.0, dist: gamma}")
    err = load_error(tmp_path, gamma)
    assert err.line == 7 and "inputs.behaviour.support_effect_logit.dist" in str(err)
    assert "'uniform', 'normal', 'lognormal', 'triangular' or 'log_uniform'" in str(err), err
    mean_sd = TINY_SOBOL.replace("{low: 0.5, high: 3.0}", "{dist: normal, mean: 1, sd: 0.2}")
    assert "gives its range" in str(load_error(tmp_path, mean_sd))


def test_sampled_new_names_run_through_the_loaders(tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(SWEEP.replace("{low: 1.5, high: 3.5}",
                                        "{low: 1.5, high: 3.5, dist: normal}"))
    points = load_sweep(sweep_file).points["behaviour.support_effect_logit"].to_numpy()
    assert np.isfinite(points).all() and points.std() > 0
    sa_file = tmp_path / "sa.yaml"
    sa_file.write_text(TINY_SOBOL.replace("{low: 0.0, high: 0.1}",
                                          "{low: 0.001, high: 0.1, dist: log_uniform}"))
    X = load_sensitivity(sa_file).X["clinical.utility_per_knowledge"]
    assert X.between(0.001, 0.1).all()
    assert stats.kstest(np.log(X), "uniform", (np.log(0.001), np.log(100))).pvalue > 1e-3


def test_compare_and_calibration_refuse_old_names_located(tmp_path: Path) -> None:
    psa = COMPARE.replace("{dist: beta, mean: 0.5, sd: 0.12}",
                          "{dist: triang, low: 0.2, high: 0.6}")
    err = compare_error(tmp_path, psa)
    assert "psa.network.in_person_gain.dist" in str(err) and "use 'triangular'" in str(err)
    prior = tmp_path / "calib.yaml"
    prior.write_text("name: c\nstudies: [study.yaml]\nparameters:\n"
                     "  clinical.lifestyle_effect_pct: {low: 0.5, high: 5.0, prior: logunif}\n"
                     "targets: []\n")
    with pytest.raises(ScenarioError, match="use 'log_uniform'") as info:
        load_document(prior, CalibrationSpec)
    assert info.value.line == 4
    prior.write_text(prior.read_text().replace("logunif", "gamma"))
    with pytest.raises(ScenarioError, match="'uniform', 'log_uniform' or 'normal'"):
        load_calibration(prior)


def test_only_compare_files_take_the_empirical_member_located(tmp_path: Path) -> None:
    """A sweep, a sensitivity file and a calibration prior refuse it, pointing to the one
    front-end that takes it (a compare file's psa_empirical: tests/test_compare_empirical.py)."""
    joint = "only a compare file takes it, as psa_empirical"
    err = sweep_error(tmp_path, SWEEP.replace("{low: 1.5, high: 3.5}",
                                              f"{{low: 1.5, high: 3.5, dist: {EMPIRICAL}}}"))
    assert err.line == 11 and "uncertain.behaviour.support_effect_logit.dist" in str(err)
    assert joint in str(err), err
    err = load_error(tmp_path, TINY_SOBOL.replace("{low: 0.5, high: 3.0}",
                                                  f"{{low: 0.5, high: 3.0, dist: {EMPIRICAL}}}"))
    assert err.line == 7 and "inputs.behaviour.support_effect_logit.dist" in str(err)
    assert joint in str(err), err
    prior = tmp_path / "calib.yaml"
    prior.write_text("name: c\nstudies: [study.yaml]\nparameters:\n"
                     f"  clinical.lifestyle_effect_pct: {{low: 0.5, high: 5.0, prior: {EMPIRICAL}}}"
                     "\ntargets: []\n")
    with pytest.raises(ScenarioError, match=joint) as info:
        load_document(prior, CalibrationSpec)
    assert info.value.line == 4 and "prior" in str(info.value)
    with pytest.raises(ValueError, match=joint):
        RangeSpec(dist=EMPIRICAL, low=0.0, high=1.0)
