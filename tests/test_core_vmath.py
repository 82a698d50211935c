"""The kernels' own exp, expm1 and log: accuracy, special values, vector = scalar, and that the
patient pass's loops vectorise with them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from numba import njit

from sim import load_scenario
from sim.core import kernels, phases, vmath
from sim.core.simulation import Simulation

FUNCTIONS = {"exp": (vmath.exp, np.exp), "expm1": (vmath.expm1, np.expm1),
             "log": (vmath.log, np.log)}


@njit(error_model="numpy")
def _over(name: str, x: np.ndarray) -> np.ndarray:
    """One function over an array in a compiled loop (the loop vectorises)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if name == "exp":
            out[i] = vmath.exp(x[i])
        elif name == "expm1":
            out[i] = vmath.expm1(x[i])
        else:
            out[i] = vmath.log(x[i])
    return out


def _arguments(name: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    if name == "log":
        return np.concatenate([rng.random(200_000), np.exp(rng.uniform(-700, 700, 200_000)),
                               1.0 + rng.normal(0.0, 1e-4, 50_000),
                               2.0 ** -rng.uniform(1022, 1074, 1_000)])  # subnormals
    return np.concatenate([rng.uniform(-745, 709.7, 200_000), rng.uniform(-3, 3, 200_000),
                           rng.normal(0.0, 1e-6, 50_000)])


def _ulps(got: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|got - reference| in units of the last place of the float64 nearest the reference."""
    spacing = np.spacing(np.abs(reference.astype(np.float64))).astype(reference.dtype)
    return np.abs(got.astype(reference.dtype) - reference) / spacing


@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_one_ulp_of_the_exact_value(name: str) -> None:
    x = _arguments(name)
    got = _over(name, x)
    reference_fn = FUNCTIONS[name][1]
    if np.finfo(np.longdouble).nmant >= 63:  # x86's 80-bit floats: an exact-enough reference
        finite = (x > -745.0) & (x < 709.7) if name != "log" else np.ones(x.size, bool)
        ulps = _ulps(got[finite], reference_fn(x[finite].astype(np.longdouble)))
        assert ulps.max() < 1.0, (name, float(ulps.max()))
    else:  # the platform's library is itself within 1 ulp: within 2 of it
        assert _ulps(got, reference_fn(x)).max() <= 2.0
    assert np.mean(got == reference_fn(x)) > 0.85, "most results equal glibc's, bit for bit"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_special_values_are_the_math_librarys(name: str) -> None:
    """inf, NaN, zeros, subnormals and the bounds of overflow and underflow."""
    x = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1e-310, 2.2250738585072014e-308,
                  1.0, -1.0, 1e-300, -1e-300, 709.78, 709.79, -708.39, -745.13, -745.2, 800.0,
                  -800.0, 1.7976931348623157e308, -40.0, -41.0, 0.34657359027997264,
                  1.0397207708399179])
    with np.errstate(all="ignore"):
        expected = FUNCTIONS[name][1](x)
    got = _over(name, x)
    special = ~np.isfinite(expected) | (np.abs(expected) < 2.2250738585072014e-308)
    assert np.array_equal(got[special], expected[special], equal_nan=True), \
        list(zip(x[special], got[special], expected[special], strict=True))
    number = ~np.isnan(expected)  # a NaN's sign means nothing
    assert np.array_equal(np.signbit(got[number]), np.signbit(expected[number])), "signs, -0.0"
    assert _ulps(got[~special], expected[~special]).max() <= 1.0, "near the bounds, within 1 ulp"


def test_exp_above_bounds_e_to_the_x_closely() -> None:
    """At or above e^x (glibc's, to the last bit) everywhere it gives a bound, at most 6.2%
    above; inf (no bound) beyond |x| = 693 and for NaN, where a cheap test must not rule out."""
    x = np.concatenate([np.random.default_rng(3).uniform(-693.0, 693.0, 400_000),
                        np.arange(-690.0, 690.0) * math.log(2.0),  # f = 0: 2^n exactly
                        np.nextafter(np.arange(-690.0, 690.0) * math.log(2.0), -1.0), [0.0, -0.0]])
    bound = np.array([vmath.exp_above(float(v)) for v in x])
    assert np.all(bound >= np.exp(x))
    assert np.max(bound / np.exp(x)) < 1.0625
    for v in (694.0, -694.0, 800.0, -800.0, math.inf, -math.inf, math.nan):
        assert vmath.exp_above(v) == math.inf, v


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_vector_lane_gives_the_scalar_result(name: str) -> None:
    """The compiled loop (vector lanes and scalar remainder) equals calls one at a time."""
    x = _arguments(name)[::997]
    one_at_a_time = np.array([FUNCTIONS[name][0](v) for v in x])
    assert np.array_equal(_over(name, x), one_at_a_time)


def test_the_patient_pass_vectorises() -> None:
    """A math-library call, a raising division, an indexed read (a group's posts), a branch
    computing something costly on a few days (a session's support), or too few overlap checks
    (``numba_cache.VECTORIZE_MEMORY_CHECKS``) would make the pass run one patient at a time:
    68-71 ns per patient-day instead of 53-55 for its dose and HbA1c parts
    (benchmarks/results.md, 2026-12-03)."""
    fn = njit(error_model="numpy")(kernels._variant(kernels.patient_pass, "_probe"))
    m = Simulation(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                                 {"population.size": 20}), 1)
    fn(m.params, phases.today(m.schedule, m.costs, 0, False), m.state, m.keys)
    ir = fn.inspect_llvm(fn.signatures[0])
    assert re.search(r"@llvm\.vector\.reduce\.add\.v\d+i64", ir), "doses taken, summed"
    assert re.search(r"@llvm\.sqrt\.v\d+f64", ir), "the course's normal quantile"
    assert re.findall(r"^vector\.body[\d.]*:", ir, re.M), "the loop"
    assert not re.search(r"call double @(exp|expm1|log)\b", ir), "a scalar math call"


def test_the_posts_pass_vectorises_its_first_loop() -> None:
    """Sessions and calls as selects, and the count 0 for most uniforms without a Poisson
    inversion: 5-6 ns a patient-day at 100,000 instead of 9-10 (benchmarks/results.md)."""
    fn = njit(error_model="numpy")(kernels._variant(kernels.gather_and_post, "_probe"))
    m = Simulation(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                                 {"population.size": 20}), 1)
    fn(m.params, phases.today(m.schedule, m.costs, 0, False), m.state, m.keys)
    ir = fn.inspect_llvm(fn.signatures[0])
    assert re.findall(r"^vector\.body[\d.]*:", ir, re.M), "the sessions-and-zero-counts loop"


def test_the_tie_pass_prefetches_the_rapport_posters_readers_update() -> None:
    """A post's readers' rapport sits anywhere in a large array: without the prefetch a cache
    miss each, 6 of the tie pass's 24 ns a patient-day at 100,000 (benchmarks/results.md)."""
    fn = njit(error_model="numpy")(kernels._variant(kernels.tie_pass, "_probe"))
    m = Simulation(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                                 {"population.size": 20}), 1)
    t = phases.today(m.schedule, m.costs, 0, False)
    fn(m.params, t, m.ties, m.state, np.zeros(m.network.n_groups, dtype=np.int32), True)
    assert "@llvm.prefetch" in fn.inspect_llvm(fn.signatures[0])
