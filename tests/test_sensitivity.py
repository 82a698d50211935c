"""Known-answer tests of the sensitivity-analysis machinery, apart from the ABM.

Functions with known indices (Ishigami, linear models, pure noise) go through the same
pipeline (sample -> evaluate -> analyze -> convergence -> report) the ABM will use.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from SALib import ProblemSpec

from sim.analyses.sensitivity import (
    DeltaBiasWarning,
    Input,
    analyze,
    average_replications,
    converged,
    convergence,
    pawn_medians,
    recommend_n,
    replication_noise,
    run_function,
    sample,
)
from sim.report.sensitivity_report import write_report

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1
# Analytic indices of Ishigami with a=7, b=0.1 on [-pi, pi]^3 (Ishigami & Homma 1990;
# SALib.test_functions.Ishigami).
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami(params: dict[str, float]) -> dict[str, float]:
    """Deterministic Ishigami function (takes no rng: exercises the params-only path)."""
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    y = math.sin(x1) + ISHIGAMI_A * math.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * math.sin(x1)
    return {"y": y}


def noisy_linear(params: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    """y = 4a + 2b + 0c plus small noise (sd 0.1 against an output sd of about 1.3)."""
    y = 4 * params["a"] + 2 * params["b"] + 0 * params["c"] + rng.normal(0.0, 0.1)
    return {"qol_change": y}


def two_outputs(params: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    """A QoL-like primary output driven mostly by a, and a second, noisier output."""
    return {
        "qol_change": 4 * params["a"] + 2 * params["b"] + rng.normal(0.0, 0.2),
        "qalys": params["a"] * params["b"] + rng.normal(0.0, 0.1),
    }


ABC = [Input("a", 0.0, 1.0), Input("b", 0.0, 1.0), Input("c", 0.0, 1.0)]


def _index(indices: pd.DataFrame, inp: str, index: str, output: str | None = None) -> pd.Series:
    rows = indices[(indices["input"] == inp) & (indices["index"] == index)]
    if output is not None:
        rows = rows[rows["output"] == output]
    assert len(rows) == 1, f"expected one {index} row for {inp}, got {len(rows)}"
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------


def test_ishigami_sobol_reproduces_analytic_indices():
    inputs = [Input(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3)]
    result = run_function(ishigami, inputs, "sobol", 1024, seed=20240601, fractions=None)
    idx = result.indices
    assert len(result.X) == 1024 * (3 + 2), "Saltelli layout without S2 has N(D+2) rows"
    for name in ("x1", "x2", "x3"):
        s1 = _index(idx, name, "S1")["value"]
        st = _index(idx, name, "ST")["value"]
        # Tolerance 0.05: at N=1024 the bootstrap 95% half-widths are 0.04-0.09, and over
        # seeds 0-11 the largest error of any S1/ST was 0.028; a wrong Saltelli layout or
        # estimator misses by 0.1-0.5, so 0.05 catches breakage without depending on the seed.
        assert abs(s1 - ISHIGAMI_S1[name]) < 0.05, (
            f"S1[{name}] = {s1:.3f}, expected {ISHIGAMI_S1[name]}"
        )
        assert abs(st - ISHIGAMI_ST[name]) < 0.05, (
            f"ST[{name}] = {st:.3f}, expected {ISHIGAMI_ST[name]}"
        )
    # x3 acts only through its interaction with x1: S1 indistinguishable from zero, ST not.
    assert _index(idx, "x3", "S1")["flagged_inert"], "x3's S1 (analytically 0) should be flagged"
    assert not _index(idx, "x3", "ST")["flagged_inert"], "x3's ST (0.24) should not be flagged"


def test_inert_input_interval_includes_zero_and_is_flagged():
    result = run_function(noisy_linear, ABC, "sobol", 512, seed=7, replications=2, fractions=None)
    idx = result.indices
    c_s1 = _index(idx, "c", "S1")
    assert c_s1["includes_zero"], f"c's S1 interval should include zero: {c_s1.to_dict()}"
    assert c_s1["flagged_inert"], "c's S1 should be flagged inert"
    c_st = _index(idx, "c", "ST")
    # Noise gives every input a small ST (about the noise share of the averaged output);
    # the noise floor must still flag c.
    assert c_st["flagged_inert"], f"c's ST should be flagged inert: {c_st.to_dict()}"
    for name in ("a", "b"):
        for index in ("S1", "ST"):
            row = _index(idx, name, index)
            assert not row["flagged_inert"], (
                f"{name} {index} should not be flagged: {row.to_dict()}"
            )
            assert not row["includes_zero"], f"{name} {index} interval should exclude zero"


def test_noise_floor_flags_inert_input_under_large_noise():
    def very_noisy(params, rng):
        return {"y": 4 * params["a"] + 2 * params["b"] + rng.normal(0.0, 1.0)}

    result = run_function(very_noisy, ABC, "sobol", 256, seed=3, replications=2, fractions=None)
    floor = result.noise.set_index("output").loc["y", "noise_share_of_mean"]
    c_st = _index(result.indices, "c", "ST")
    # Noise variance of a 2-run mean is 0.5 against ~1.7 of signal: an inert input's ST sits
    # near that noise share (~0.2), far above the 1% convention, so only the floor flags it.
    assert c_st["value"] > 0.05, f"noise should inflate c's ST: {c_st['value']:.3f}"
    assert c_st["noise_threshold"] == pytest.approx(floor), "ST threshold should be the floor"
    assert c_st["flagged_inert"], f"c's ST should be flagged as noise: {c_st.to_dict()}"
    a_st = _index(result.indices, "a", "ST")
    assert not a_st["flagged_inert"], f"a's ST should clear the noise floor: {a_st.to_dict()}"


def test_morris_ranks_linear_inputs_by_coefficient():
    def linear(params):
        return {"y": 5 * params["a"] + 3 * params["b"] + 1 * params["c"]}

    result = run_function(linear, ABC, "morris", 20, seed=3, fractions=None)
    mu_star = result.indices[result.indices["index"] == "mu_star"].set_index("input")["value"]
    ranking = list(mu_star.sort_values(ascending=False).index)
    assert ranking == ["a", "b", "c"], f"mu* should rank a > b > c, got {mu_star.to_dict()}"
    # Elementary effects of a linear function equal its coefficients (per unit range), exactly
    # up to floating-point rounding: tolerance 1e-9.
    for name, coef in (("a", 5), ("b", 3), ("c", 1)):
        assert mu_star[name] == pytest.approx(coef, abs=1e-9), f"mu*[{name}] = {mu_star[name]}"


@pytest.mark.parametrize("method", ["sobol", "morris", "fast", "pawn"])
def test_seeded_runs_give_identical_indices(method):
    n = {"sobol": 64, "morris": 10, "fast": 129, "pawn": 200}[method]
    kwargs = dict(seed=99, replications=2, num_resamples=100)
    first = run_function(two_outputs, ABC, method, n, **kwargs)
    second = run_function(two_outputs, ABC, method, n, **kwargs)
    pd.testing.assert_frame_equal(first.X, second.X)
    pd.testing.assert_frame_equal(first.Y_reps, second.Y_reps)
    pd.testing.assert_frame_equal(first.indices, second.indices)
    other = run_function(two_outputs, ABC, method, n, **{**kwargs, "seed": 100})
    assert not np.allclose(first.Y_reps["qol_change"], other.Y_reps["qol_change"]), (
        "a different seed should change the sample or the replication noise"
    )


@pytest.mark.parametrize("method", ["pawn", "delta"])
def test_given_data_method_ranks_influential_above_inert(method):
    X = sample(ABC, "lhs", 300, seed=5)
    y = pd.Series(10 * X["a"] + 0.5 * X["b"] + 0 * X["c"], name="y")
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - checking SALib leaves it alone
    # delta's bootstrap costs ~10 ms per resample and input in SALib: 30 resamples keep this fast.
    idx = analyze(ABC, method, X, y, seed=1, num_resamples=30)
    after = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(before, after), f"{method} analysis must not reseed NumPy's global RNG"
    key = "pawn_median" if method == "pawn" else "delta"
    a, c = _index(idx, "a", key), _index(idx, "c", key)
    assert a["value"] > c["value"], (
        f"{key}: a ({a['value']:.3f}) should exceed c ({c['value']:.3f})"
    )
    assert not a["flagged_inert"], f"a should clear the dummy-input threshold: {a.to_dict()}"
    assert c["flagged_inert"], f"inert c should not clear the dummy-input threshold: {c.to_dict()}"


def test_pawn_bootstrap_statistic_matches_salib():
    rng = np.random.default_rng(0)
    X = sample(ABC, "lhs", 250, seed=2).to_numpy()
    y = 3 * X[:, 0] + X[:, 1] ** 2 + rng.normal(0, 0.2, len(X))
    rows = rng.integers(0, len(y), len(y))  # a bootstrap resample, with ties
    problem = ProblemSpec({"names": ["a", "b", "c"], "bounds": [[0, 1]] * 3})
    problem.set_samples(X[rows])
    problem.set_results(y[rows])
    problem.analyze_pawn(S=10)
    # Same statistic computed two ways: equal to rounding (1e-12).
    np.testing.assert_allclose(
        pawn_medians(X[rows], y[rows], 10), problem.analysis["median"], atol=1e-12
    )


# --------------------------------------------------------------------------------------------
# Replication noise
# --------------------------------------------------------------------------------------------


def test_replication_noise_attributes_pure_noise_to_noise():
    def pure_noise(params, rng):
        return {"y": rng.normal(0.0, 1.0), "signal": 2 * params["a"]}

    result = run_function(
        pure_noise, ABC, "pawn", 200, seed=4, replications=10, fractions=None, num_resamples=20
    )
    noise = result.noise.set_index("output")
    share = noise.loc["y", "noise_share"]
    # 200 points x 10 replications: the pooled within-point variance has 1800 degrees of
    # freedom, so its relative standard error is sqrt(2/1800) = 0.033; 0.1 is 3 SE.
    assert share == pytest.approx(1.0, abs=0.1), (
        f"pure noise should be ~100% noise, got {share:.3f}"
    )
    assert noise.loc["y", "var_noise_of_mean"] == pytest.approx(noise.loc["y", "var_within"] / 10)
    assert noise.loc["signal", "noise_share"] == 0.0, "a deterministic output has no noise"
    Y = average_replications(result.Y_reps)
    assert len(Y) == 200 and list(Y.columns) == ["y", "signal"]


def test_replication_noise_by_hand():
    # Two points, two replications: within-point values differ by 2 (variance 2 each), the
    # point means are 0 and 10. Exact arithmetic, so the tolerance is floating-point rounding.
    Y_reps = pd.DataFrame(
        {"point": [0, 0, 1, 1], "replication": [0, 1, 0, 1], "y": [-1.0, 1.0, 9.0, 11.0]}
    )
    row = replication_noise(Y_reps).set_index("output").loc["y"]
    assert row["var_within"] == pytest.approx(2.0)
    assert row["var_total"] == pytest.approx(np.var([-1, 1, 9, 11], ddof=1))
    assert row["var_noise_of_mean"] == pytest.approx(1.0), "var_within / R with R = 2"
    assert row["var_of_means"] == pytest.approx(50.0)
    assert row["noise_share_of_mean"] == pytest.approx(1.0 / 50.0)


# --------------------------------------------------------------------------------------------
# Designs, convergence, errors
# --------------------------------------------------------------------------------------------


def test_sobol_n_not_power_of_two_raises():
    with pytest.raises(ValueError, match="power of two") as err:
        sample(ABC, "sobol", 1000, seed=1)
    assert "512" in str(err.value) and "1024" in str(err.value), "should name the nearest N"


@pytest.mark.parametrize(
    ("inputs", "second_order", "block"),
    [
        (ABC, False, 3 + 2),
        (ABC, True, 2 * 3 + 2),
        (
            [Input("a", 0, 1, group="g1"), Input("b", 0, 1, group="g1"), Input("c", 0, 1)],
            False,
            2 + 2,
        ),
    ],
    ids=["first-order", "second-order", "groups"],
)
def test_convergence_subsets_whole_saltelli_blocks(inputs, second_order, block):
    X = sample(inputs, "sobol", 64, seed=8, calc_second_order=second_order)
    assert len(X) == 64 * block, f"expected {block} rows per base sample"
    Y = pd.DataFrame({"y": 4 * X["a"] + 2 * X["b"] + X["a"] * X["c"]})
    conv = convergence(inputs, "sobol", X, Y, seed=2, num_resamples=50)
    assert sorted(conv["n"].unique()) == [16, 32, 64]
    half = analyze(
        inputs,
        "sobol",
        X.iloc[: 32 * block],
        Y.iloc[: 32 * block],
        seed=2,
        num_resamples=50,
        calc_second_order=second_order,
    )
    got = conv[conv["n"] == 32].drop(columns=["n", "fraction"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, half)
    if second_order:
        assert (conv["index"] == "S2").any(), "second-order rows should give S2 pairs like 'a:b'"
    with pytest.raises(ValueError, match="multiple of"):
        analyze(
            inputs,
            "sobol",
            X.iloc[: 32 * block + 1],
            Y.iloc[: 32 * block + 1],
            seed=2,
            calc_second_order=second_order,
        )


def test_converged_and_recommend_n():
    rows = []
    for n, a_st in ((512, 0.50), (1024, 0.60)):  # a's ST moves by 0.10 between N/2 and N
        rows += [
            {"output": "y", "method": "sobol", "input": "a", "index": "ST", "value": a_st, "n": n},
            {"output": "y", "method": "sobol", "input": "b", "index": "ST", "value": 0.2, "n": n},
        ]
    conv = pd.DataFrame(rows)
    ok = converged(conv, tol=0.05)
    assert not ok[("y", "a")] and ok[("y", "b")]
    # Change 0.10 = 2 x tol: N * (0.10 / 0.05)^2 = 4096, a power of two.
    assert recommend_n(conv, tol=0.05) == 4096
    assert recommend_n(conv, tol=0.2) == 1024, "converged: keep N"


def test_input_distributions_follow_low_high():
    inputs = [
        Input("n", 1.0, 3.0, "normal"),  # central 95% interval [1, 3]
        Input("l", 0.5, 2.0, "lognormal"),  # central 95% interval [0.5, 2], median 1
        Input("t", 0.0, 10.0, "triangular", mode=2.0),  # mean (0 + 10 + 2) / 3 = 4
    ]
    X = sample(inputs, "lhs", 4000, seed=1)
    q = X.quantile([0.025, 0.5, 0.975])
    # A 4000-point Latin hypercube puts exactly 100 points in each 2.5% tail, so empirical
    # quantiles sit within one stratum (about 0.01 of these ranges) of the true ones: tol 0.02.
    assert q["n"].tolist() == pytest.approx([1.0, 2.0, 3.0], abs=0.02)
    assert q["l"].tolist() == pytest.approx([0.5, 1.0, 2.0], abs=0.02)
    assert X["t"].mean() == pytest.approx(4.0, abs=0.02)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="did you mean 'uniform'"):
        Input("x", 0, 1, dist="unform")
    with pytest.raises(ValueError, match="use 'uniform'"):
        Input("x", 0, 1, dist="unif")
    with pytest.raises(ValueError, match="low must be < high"):
        Input("x", 1, 0)
    with pytest.raises(ValueError, match="did you mean 'sobol'"):
        sample(ABC, "sobolx", 64, seed=1)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def test_report_files_exist_and_summary_names_top_input(tmp_path):
    result = run_function(
        two_outputs, ABC, "sobol", 128, seed=12, replications=2, num_resamples=200
    )
    paths = write_report(result, tmp_path / "report", title="Toy QoL", primary_output="qol_change")
    for role in (
        "indices_csv",
        "indices_parquet",
        "noise_csv",
        "convergence_csv",
        "fig_indices",
        "fig_convergence",
        "summary_md",
        "summary_html",
    ):
        assert paths[role].is_file() and paths[role].stat().st_size > 0, f"{role} missing"
    pd.testing.assert_frame_equal(pd.read_parquet(paths["indices_parquet"]), result.indices)
    summary = paths["summary_md"].read_text()
    assert "The input that drives `qol_change` most is `a`" in summary, summary
    assert "`c`" in summary.split("## Inputs that cannot be told apart from zero")[1], (
        "inert c should be listed as indistinguishable from zero"
    )
    assert "replication noise" in summary and "converged" in summary
    html = paths["summary_html"].read_text()
    assert html.count("data:image/png;base64,") == 2, "both figures should be embedded"


def test_report_draws_morris_plane(tmp_path):
    result = run_function(two_outputs, ABC, "morris", 12, seed=1, replications=2, num_resamples=100)
    paths = write_report(result, tmp_path, title="Screening", primary_output="qol_change")
    assert paths["fig_morris"].is_file()
    with pytest.raises(ValueError, match="primary_output"):
        write_report(result, tmp_path, title="x", primary_output="qol")


def test_delta_bias_is_one_warning_naming_the_unevenly_sampled_input() -> None:
    """SALib's per-resample bias and bin notices do not leak; the bias check is recomputed
    from its raw and bin-balanced estimates and raised once as a DeltaBiasWarning."""
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 1, 300) ** 6, rng.uniform(0, 1, 300)  # ``a`` crowds its low end
    X = pd.DataFrame({"a": a, "b": b})
    y = pd.Series(np.where(a > 0.5, 5.0, 0.0) + b, name="y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analyze([Input("a", 0, 1), Input("b", 0, 1)], "delta", X, y, seed=3, num_resamples=50)
    assert [type(w.message) for w in caught] == [DeltaBiasWarning], [str(w.message) for w in caught]
    assert caught[0].message.inputs == ("a",)


def test_ranking_verdicts_come_from_the_analysis_layer() -> None:
    """Known answers: each verdict of sim.analyses.sensitivity.ranking from hand-made indices."""
    from sim.analyses.sensitivity import ranking

    def rows(method: str, table: list[tuple[str, str, float, bool]]) -> pd.DataFrame:
        return pd.DataFrame([{"output": "y", "input": i, "index": k, "value": v,
                              "flagged_inert": f} for i, k, v, f in table])

    sobol = ranking(rows("sobol", [
        ("a", "ST", 0.6, False), ("a", "S1", 0.55, False),  # drives
        ("b", "ST", 0.4, False), ("b", "S1", 0.1, False),  # partly interactions
        ("c", "ST", 0.2, False), ("c", "S1", 0.0, True),  # interactions only
        ("d", "ST", 0.001, True), ("d", "S1", 0.0, True)]), "sobol", "y")
    assert sobol["input"].tolist() == ["a", "b", "c", "d"]
    assert sobol["verdict"].tolist() == ["drives", "partly_interactions", "interactions_only",
                                         "inert"]
    assert sobol["sigma_ratio"].isna().all()
    morris = ranking(rows("morris", [
        ("a", "mu_star", 2.0, False), ("a", "sigma", 3.0, False),
        ("b", "mu_star", 1.0, False), ("b", "sigma", 0.5, False),
        ("c", "mu_star", 0.0, True), ("c", "sigma", 0.0, False)]), "morris", "y")
    assert morris["verdict"].tolist() == ["nonlinear", "drives", "inert"]
    assert morris["sigma_ratio"].iloc[:2].tolist() == [1.5, 0.5]
    assert np.isnan(morris["sigma_ratio"].iloc[2])
