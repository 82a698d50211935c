"""Global sensitivity analysis: which uncertain inputs drive an outcome, with honest intervals.

This module is the analysis machinery, independent of the agent-based model. It wraps SALib's
``ProblemSpec`` (Sobol', Morris, eFAST, delta, PAWN) and adds what a stochastic simulator needs:

* one seed and named random streams, so identical calls give identical samples and indices;
* tidy index tables (one row per output x input x index) with interval bounds, a flag for
  inputs whose interval includes zero, and a flag for inputs that cannot be told apart from
  noise (``flagged_inert``);
* replication-noise accounting (how much of the output variance is run-to-run noise);
* convergence checks that recompute indices on the first half / quarter of the base samples
  (keeping Saltelli blocks and Morris trajectories whole) and recommend a larger N.

The "any model" path, :func:`run_function`, evaluates a plain Python function at every sample
point and replication, so the pipeline can be tested on functions with known indices
(Ishigami, linear models) apart from the ABM.

Conventions:
    * ``X``: one column per input name, one row per sample point, index = sample point id
      (named ``point``). :func:`sample` records how it was drawn in ``X.attrs``.
    * ``Y``: one column per output, index aligned with ``X.index``.
    * ``Y_reps``: long table with columns ``point``, ``replication`` and one per output.
    * Intervals are SALib's bootstrap intervals: ``value +/- z * SD(bootstrap)`` at
      ``conf_level`` (normal approximation), i.e. ``conf_low``/``conf_high``.

References:
    Saltelli A. et al. (2010) Variance based sensitivity analysis of model output. Design and
    estimator for the total sensitivity index. Comput. Phys. Commun. 181:259-270.
    Morris M.D. (1991) Factorial sampling plans for preliminary computational experiments.
    Technometrics 33:161-174. Campolongo F. et al. (2007) Environ. Model. Softw. 22:1509-1518.
    Saltelli A., Tarantola S., Chan K. (1999) Technometrics 41:39-56 (eFAST).
    Plischke E., Borgonovo E., Smith C.L. (2013) Eur. J. Oper. Res. 226:536-550 (delta).
    Pianosi F., Wagener T. (2015, 2018) Environ. Model. Softw. 67:1-11, 108:197-207 (PAWN).
    Khorashadi Zadeh F. et al. (2017) Environ. Model. Softw. 91:210-222 (dummy-input threshold).
    Iooss B., Lemaitre P. (2015) A review on global sensitivity analysis methods (noise, N).
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as _pkg_version
from typing import Any

import numpy as np
import pandas as pd
from SALib import ProblemSpec
from scipy.stats import norm

from sim.core.rng import seed_sequence
from sim.params.errors import ScenarioError
from sim.uncertainty import RENAMED, SALIB_NAMES, Distribution

__all__ = [
    "ANALYSIS_METHODS",
    "DELTA_BIAS_THRESHOLD",
    "DISTS",
    "DeltaBiasWarning",
    "MIN_CONVERGENCE_N",
    "RANKING_INDEX",
    "SAMPLING_METHODS",
    "Input",
    "SensitivityResult",
    "analyze",
    "analyze_replications",
    "average_replications",
    "convergence",
    "convergence_table",
    "converged",
    "make_problem",
    "noise_floors",
    "ranking",
    "pawn_medians",
    "recommend_n",
    "replication_noise",
    "run_function",
    "sample",
]

DELTA_BIAS_THRESHOLD = 0.1
"""Raw and bin-balanced delta differing by more than this hint at uneven sampling (the
threshold of SALib's own "Potential Bias Notice", ``delta_warn_threshold``)."""


class DeltaBiasWarning(UserWarning):
    """Delta's raw and bin-balanced estimates differ for some inputs (read them with care).

    Attributes:
        inputs: the inputs whose estimates differ by more than :data:`DELTA_BIAS_THRESHOLD`.
    """

    def __init__(self, inputs: Sequence[str]) -> None:
        self.inputs = tuple(inputs)
        super().__init__(f"delta's raw and bin-balanced estimates differ by more than "
                         f"{DELTA_BIAS_THRESHOLD} for {', '.join(self.inputs)} (possible bias "
                         "from uneven sampling)")


SAMPLING_METHODS = ("sobol", "morris", "fast", "lhs")
"""Samplers: Saltelli/Sobol' sequence, Morris trajectories, eFAST search curves, Latin hypercube."""

ANALYSIS_METHODS = ("sobol", "morris", "fast", "delta", "pawn")
"""Analysers. ``delta`` and ``pawn`` are given-data methods: they work on any LHS sweep."""

SAMPLER_FOR = {"sobol": "sobol", "morris": "morris", "fast": "fast", "delta": "lhs", "pawn": "lhs"}
"""The sampler each analyser needs (given-data methods take a Latin hypercube)."""

DISTS = tuple(SALIB_NAMES)
"""Input distributions (the SALib-sampled members of the one vocabulary, sim.uncertainty).
See :class:`Input` for what ``low``/``high`` mean."""

RANKING_INDEX = {
    "sobol": "ST",
    "fast": "ST",
    "morris": "mu_star",
    "delta": "delta",
    "pawn": "pawn_median",
}
"""The index each method ranks inputs by (total effect where the method has one)."""

INTERACTION_GAP = 0.1
"""ST - S1 above which an input is said to act partly through interactions (Sobol', eFAST)."""

NONLINEAR_RATIO = 1.0
"""sigma / mu* above which an input's effect is said to be non-linear or interacting (Morris;
Campolongo F, Cariboni J, Saltelli A. Environ Model Softw 2007;22:1509-1518)."""

VERDICTS = ("inert", "interactions_only", "partly_interactions", "nonlinear", "drives")
"""What :func:`ranking` says of each input: its ranking index cannot be told from zero; it
acts only through interactions (S1 inert, ST not); partly through interactions (ST - S1 >
:data:`INTERACTION_GAP`); non-linearly or interacting (sigma/mu* > :data:`NONLINEAR_RATIO`);
it drives the output."""


def ranking(indices: pd.DataFrame, method: str, output: str) -> pd.DataFrame:
    """The ranking index's rows for one output, most influential first, with a verdict each.

    Adds ``sigma_ratio`` (Morris sigma / mu*, NaN for other methods or mu* = 0) and
    ``verdict`` (one of :data:`VERDICTS`), so reports only put them into words.
    """
    key = RANKING_INDEX[method]
    mine = indices[indices["output"] == output]
    rows = mine[mine["index"] == key].sort_values("value", ascending=False, kind="stable")
    rows = rows.reset_index(drop=True)

    def other(index: str) -> pd.Series:
        return mine[mine["index"] == index].set_index("input").reindex(rows["input"])

    s1, sigma = other("S1"), other("sigma")
    value = rows["value"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(value != 0, sigma["value"].to_numpy(float) / value, np.nan)
    rows["sigma_ratio"] = ratio if method == "morris" else np.nan
    s1_inert = s1["flagged_inert"].fillna(False).to_numpy(bool)
    gap = value - s1["value"].to_numpy(float)
    verdict = np.full(len(rows), "drives", dtype=object)
    if method == "morris":
        verdict[ratio > NONLINEAR_RATIO] = "nonlinear"
    if method in ("sobol", "fast"):
        verdict[gap > INTERACTION_GAP] = "partly_interactions"
        verdict[s1_inert] = "interactions_only"
    verdict[rows["flagged_inert"].to_numpy(bool)] = "inert"
    rows["verdict"] = verdict
    return rows


CONVERGENCE_INDICES = {
    "sobol": ("S1", "ST"),
    "fast": ("S1", "ST"),
    "morris": ("mu_star",),
    "delta": ("delta", "S1"),
    "pawn": ("pawn_median",),
}
"""Indices compared between N/2 and N by :func:`converged`."""

DEFAULT_SHARE_THRESHOLD = 0.01
"""Variance-share indices (Sobol', eFAST) below 1% of output variance count as negligible.

A screening convention, not a law: pass ``noise_threshold`` to :func:`analyze` to change it.
Stochastic models raise it to the replication-noise floor (:func:`noise_floors`)."""

DEFAULT_MORRIS_RELATIVE_THRESHOLD = 0.01
"""Morris mu* below 1% of the largest mu* of the same output counts as negligible (convention)."""

_MIN_BASE_SAMPLES = {"sobol": 4, "morris": 2, "delta": 50, "pawn": 50}
"""Smallest subset :func:`convergence` analyses (fewer points give meaningless bootstraps)."""

MIN_CONVERGENCE_N = {method: 2 * n for method, n in _MIN_BASE_SAMPLES.items()}
"""Smallest base sample count whose convergence can be checked (N/2 must reach the minimum
subset :func:`convergence` analyses); below it, skip convergence (``fractions=None``)."""

_DUMMY = "noise_dummy"


# --------------------------------------------------------------------------------------------
# Inputs and the SALib problem
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One uncertain input of a sensitivity analysis.

    Attributes:
        name: Dotted parameter path, e.g. ``"behaviour.support_effect"``; becomes the column
            name of the sample frame.
        low: Lower end of the plausible range, in the parameter's unit.
        high: Upper end of the plausible range, in the parameter's unit (> ``low``).
        dist: ``"uniform"`` (on [low, high]), ``"triangular"`` (on [low, high], peak at
            ``mode``), ``"normal"`` (whose central 95% interval is [low, high]),
            ``"lognormal"`` (likewise, low > 0) or ``"log_uniform"`` (uniform in log, low > 0).
        group: Optional group name (e.g. ``"program design"``); when any input has a group,
            Sobol' and Morris report one index per group (ungrouped inputs form their own).
        mode: Peak of a ``triangular`` input, in [low, high]; defaults to the midpoint.
    """

    name: str
    low: float
    high: float
    dist: str = "uniform"
    group: str | None = None
    mode: float | None = None

    def __post_init__(self) -> None:
        where = f"sensitivity input '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise ScenarioError(
                f"sensitivity input names must be non-empty strings, got {self.name!r}"
            )
        if self.dist in RENAMED:
            raise ScenarioError(f"{where}: dist '{self.dist}' is no longer a distribution "
                                f"name: use '{RENAMED[self.dist]}'")
        if self.dist not in DISTS:
            raise ScenarioError(
                f"{where}: dist must be one of {', '.join(DISTS)}, got {self.dist!r}"
                + _did_you_mean(str(self.dist), DISTS)
            )
        for label, value in (("low", self.low), ("high", self.high)):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
            ):
                raise ScenarioError(f"{where}: {label} must be a finite number, got {value!r}")
        if not self.low < self.high:
            raise ScenarioError(
                f"{where}: low must be < high, got low={self.low}, high={self.high}"
            )
        if self.dist in ("lognormal", "log_uniform") and self.low <= 0:
            raise ScenarioError(
                f"{where}: a {self.dist} input needs low > 0, got low={self.low}"
            )
        if self.mode is not None:
            if self.dist != "triangular":
                raise ScenarioError(
                    f"{where}: mode is only used by dist 'triangular', not {self.dist!r}"
                )
            if not self.low <= self.mode <= self.high:
                raise ScenarioError(
                    f"{where}: mode must lie in [low, high] = [{self.low}, {self.high}], "
                    f"got {self.mode}"
                )

    def distribution(self) -> Distribution:
        """The input as a distribution of the one vocabulary (sim.uncertainty)."""
        return Distribution(dist=self.dist, low=self.low, high=self.high, mode=self.mode)

    def salib_bounds(self) -> list[float]:
        """The distribution parameters SALib expects for this input's ``dist``.

        Returns:
            uniform, log_uniform: [low, high]; triangular: [low, high, peak as a fraction of
            the width]; normal: [mean, sd]; lognormal: [mean, sd] of ln(x).
        """
        return self.distribution().salib()[1]


def make_problem(inputs: Sequence[Input]) -> ProblemSpec:
    """Build a SALib ``ProblemSpec`` from the inputs (with groups when any input has one).

    Args:
        inputs: The uncertain inputs, at least two, unique names.

    Returns:
        A fresh ``ProblemSpec`` with names, bounds, dists and (optionally) groups.

    Raises:
        ScenarioError: fewer than two inputs or groups, duplicate names, or non-Input items.
    """
    inputs = _check_inputs(inputs)
    spec: dict[str, Any] = {
        "names": [i.name for i in inputs],
        "bounds": [i.salib_bounds() for i in inputs],
        "dists": [SALIB_NAMES[i.dist] for i in inputs],
    }
    if any(i.group is not None for i in inputs):
        groups = [i.group if i.group is not None else i.name for i in inputs]
        if len(set(groups)) < 2:
            raise ScenarioError(
                "sensitivity inputs form a single group; a sensitivity analysis needs at least "
                "two groups (or no groups)"
            )
        spec["groups"] = groups
    return ProblemSpec(spec)


def factor_names(inputs: Sequence[Input]) -> list[str]:
    """Names the indices are reported for: group names (first-seen order) or input names."""
    if any(i.group is not None for i in inputs):
        seen: dict[str, None] = {}
        for i in inputs:
            seen.setdefault(i.group if i.group is not None else i.name, None)
        return list(seen)
    return [i.name for i in inputs]


def _check_inputs(inputs: Sequence[Input]) -> list[Input]:
    inputs = list(inputs)
    bad = [i for i in inputs if not isinstance(i, Input)]
    if bad:
        raise ScenarioError(f"sensitivity inputs must be Input objects, got {bad[0]!r}")
    if len(inputs) < 2:
        raise ScenarioError(
            f"a sensitivity analysis needs at least two inputs, got {len(inputs)}: with one "
            "input every effect is that input's"
        )
    names = [i.name for i in inputs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(f"sensitivity input names must be unique; repeated: {', '.join(dupes)}")
    return inputs


# --------------------------------------------------------------------------------------------
# Seeds: one seed, named streams
# --------------------------------------------------------------------------------------------


def _stream(seed: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of named stream ``name`` under root ``seed`` (independent streams)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
    return seed_sequence(int(seed), name)


BOOTSTRAP_STREAM = "sensitivity.analyze"
"""The named stream of the bootstrap (confidence intervals) under the root seed (the
analysers below spell it out)."""


def bootstrap_seeds(seed: int) -> dict[str, Any]:
    """How the bootstrap of an analysis under root ``seed`` is seeded (for manifests).

    The stream name and the 32-bit seed SALib's analysers get from it.
    """
    return {"root_seed": int(seed), "stream": BOOTSTRAP_STREAM,
            "salib_seed": _int_seed(seed, BOOTSTRAP_STREAM)}


def _int_seed(seed: int, name: str) -> int:
    """A non-zero 32-bit integer seed for SALib analysers (SALib ignores a seed of 0)."""
    value = int(_stream(seed, name).generate_state(1, np.uint32)[0])
    return value or 1


@contextlib.contextmanager
def _isolated_legacy_rng() -> Iterator[None]:
    """Restore NumPy's legacy global RNG state after SALib analysers that reseed it.

    SALib's eFAST, delta and PAWN analysers call ``np.random.seed``; without this guard a
    sensitivity analysis would silently reseed every other user of the global RNG.
    """
    state = np.random.get_state()  # noqa: NPY002 - saved only to undo SALib's global reseed
    formatwarning = warnings.formatwarning  # SALib's delta replaces it globally
    try:
        with warnings.catch_warnings():
            yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
        warnings.formatwarning = formatwarning


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def sample(
    inputs: Sequence[Input],
    method: str,
    n: int,
    *,
    seed: int,
    calc_second_order: bool = False,
    num_levels: int = 4,
    M: int = 4,
    optimal_trajectories: int | None = None,
) -> pd.DataFrame:
    """Draw the sample points of a sensitivity design.

    Args:
        inputs: The uncertain inputs.
        method: ``"sobol"`` (Saltelli's scheme on a scrambled Sobol' sequence), ``"morris"``
            (``n`` trajectories), ``"fast"`` (eFAST, ``n`` points per search curve) or
            ``"lhs"`` (Latin hypercube of ``n`` points, for the given-data methods delta/PAWN).
        n: Sobol' base samples N (a power of two; the design has N(D+2) rows, N(2D+2) with
            second order, D = number of inputs or groups); Morris trajectories (N(D+1) rows);
            eFAST points per curve (> 4 M^2; N*D rows); LHS points (N rows).
        seed: Root seed; identical calls give identical samples.
        calc_second_order: Sobol' only: add the rows second-order indices S2 need.
        num_levels: Morris grid levels (even).
        M: eFAST interference parameter.
        optimal_trajectories: Morris only: keep this many of ``n`` trajectories chosen for
            spread (Campolongo et al. 2007); slower.

    Returns:
        Frame with one column per input name and one row per sample point; index ``point``
        (0..rows-1). ``attrs`` records sampler, n, seed and layout options for :func:`analyze`.

    Raises:
        ScenarioError: unknown method, n not valid for the method, distributions a method
            cannot use.
    """
    inputs = _check_inputs(inputs)
    method = _check_choice("sampling method", method, SAMPLING_METHODS)
    n = _check_n(method, n)
    problem = make_problem(inputs)
    rng = np.random.default_rng(_stream(seed, "sensitivity.sample"))
    names = [i.name for i in inputs]
    n_factors = len(factor_names(inputs))
    attrs: dict[str, Any] = {"sampler": method, "n": n, "seed": int(seed), "names": names}

    if method == "sobol":
        problem.sample_sobol(n, calc_second_order=bool(calc_second_order), seed=rng)
        attrs["calc_second_order"] = bool(calc_second_order)
        attrs["block"] = (2 * n_factors + 2) if calc_second_order else (n_factors + 2)
    elif method == "morris":
        infinite = [i.name for i in inputs if i.dist in ("normal", "lognormal")]
        if infinite:
            raise ScenarioError(
                "Morris grids include the 0 and 100% quantiles, which are infinite for "
                f"normal/lognormal inputs ({', '.join(infinite)}); give them dist 'uniform' "
                "or 'triangular' for screening"
            )
        if num_levels < 2 or num_levels % 2:
            raise ScenarioError(f"Morris num_levels must be an even number >= 2, got {num_levels}")
        if optimal_trajectories is not None and not 2 <= optimal_trajectories <= n:
            raise ScenarioError(
                f"Morris optimal_trajectories must be between 2 and n={n}, "
                f"got {optimal_trajectories}"
            )
        problem.sample_morris(
            n, num_levels=num_levels, optimal_trajectories=optimal_trajectories, seed=rng
        )
        attrs["num_levels"] = int(num_levels)
        attrs["block"] = n_factors + 1
        attrs["n"] = optimal_trajectories or n
    elif method == "fast":
        if any(i.group is not None for i in inputs):
            raise ScenarioError("eFAST does not support groups; use sobol or morris for groups")
        if n <= 4 * M**2:
            raise ScenarioError(
                f"eFAST needs n > 4*M^2 = {4 * M**2} points per search curve (M={M}), got {n}; "
                f"try n = {max(65, 4 * M**2 + 1)} or more (several hundred for stable indices)"
            )
        problem.sample_fast(n, M=M, seed=rng)
        attrs["M"] = int(M)
    else:
        problem.sample_latin(n, seed=rng)

    X = pd.DataFrame(problem.samples, columns=names)
    X.index = pd.RangeIndex(len(X), name="point")
    X.attrs = attrs
    return X


def _check_n(method: str, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ScenarioError(f"{method} sample size n must be a positive integer, got {n!r}")
    n = int(n)
    if method == "sobol" and n & (n - 1):
        lower = 1 << (n.bit_length() - 1)
        allowed = ", ".join(str(2**k) for k in range(6, 14))
        raise ScenarioError(
            f"Sobol' N must be a power of two (allowed: {allowed}, ...), got {n}; "
            f"the nearest are {lower} and {2 * lower}. Sobol' sequences keep their balance "
            "properties only at powers of two"
        )
    if method == "morris" and n < 2:
        raise ScenarioError(f"Morris needs at least 2 trajectories, got {n}")
    return n


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------

_INDEX_COLUMNS = [
    "output",
    "method",
    "input",
    "index",
    "value",
    "conf_low",
    "conf_high",
    "includes_zero",
    "noise_threshold",
    "flagged_inert",
]


def analyze(
    inputs: Sequence[Input],
    method: str,
    X: pd.DataFrame,
    Y: pd.DataFrame | pd.Series,
    *,
    seed: int,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    noise_threshold: float | Mapping[str, float] | None = None,
    noise_floor: Mapping[str, float] | None = None,
    **opts: Any,
) -> pd.DataFrame:
    """Compute sensitivity indices of every output column, as one tidy frame.

    Args:
        inputs: The uncertain inputs (as given to :func:`sample`).
        method: ``"sobol"``, ``"morris"``, ``"fast"``, ``"delta"`` or ``"pawn"``.
        X: Sample points (from :func:`sample`, or any LHS sweep for delta/PAWN).
        Y: Outputs, one column per output (a Series is one output), index aligned with
            ``X.index``; average replications first (:func:`average_replications`).
        seed: Root seed of the bootstrap; identical inputs give identical numbers.
        num_resamples: Bootstrap resamples for the intervals.
        conf_level: Interval level.
        noise_threshold: Index value at or below which an input counts as negligible: one
            number, or one per output name. Default: 0.01 for Sobol'/eFAST (1% of variance),
            1% of the largest mu* for Morris; delta/PAWN always also use a dummy input.
        noise_floor: Per output, the value replication noise alone gives the indices that
            noise inflates (Sobol'/eFAST ST, Morris mu*), from :func:`noise_floors`; those
            indices are flagged at or below max(noise_threshold, noise_floor). S1 and S2 are
            not inflated by noise (only their intervals widen), so they keep noise_threshold.
        **opts: Method options: ``calc_second_order`` (Sobol'; default from ``X.attrs``),
            ``num_levels`` and ``scaled`` (Morris), ``M`` (eFAST), ``S`` (PAWN slices, 10).

    Returns:
        Tidy frame, columns ``output, method, input, index, value, conf_low, conf_high,
        includes_zero, noise_threshold, flagged_inert``. ``input`` is a group name when groups
        are used, and ``"a:b"`` for a second-order pair. ``index`` is ``S1``/``ST``/``S2``
        (Sobol', eFAST), ``mu_star``/``sigma``/``mu`` (Morris), ``delta``/``S1`` (delta) or
        ``pawn_median`` (PAWN). ``flagged_inert`` is true when the interval includes zero or
        its lower end (the value, when there is no interval) is at or below the noise
        threshold: such an input cannot be told apart from no effect. For delta and PAWN the
        threshold is the upper interval end of a dummy input that does not enter the model.

    Raises:
        ScenarioError: unknown method, mismatched X/Y, non-finite outputs, a layout that does
            not match the method.
    """
    inputs = _check_inputs(inputs)
    method = _check_choice("analysis method", method, ANALYSIS_METHODS)
    if not 0 < conf_level < 1:
        raise ScenarioError(f"conf_level must be between 0 and 1, got {conf_level}")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, int) or num_resamples < 2:
        raise ScenarioError(f"num_resamples must be an integer >= 2, got {num_resamples!r}")
    names = [i.name for i in inputs]
    X = _check_X(X, names)
    Y = _check_Y(Y, X)
    analyzer = {
        "sobol": _analyze_sobol,
        "morris": _analyze_morris,
        "fast": _analyze_fast,
        "delta": _analyze_delta,
        "pawn": _analyze_pawn,
    }[method]
    opts = _resolve_opts(method, inputs, X, opts)
    frames = []
    for output in Y.columns:
        y = Y[output].to_numpy(dtype=float)
        rows = analyzer(
            inputs, X, y, seed=seed, num_resamples=num_resamples, conf_level=conf_level, **opts
        )
        rows.insert(0, "output", str(output))
        rows.insert(1, "method", method)
        threshold = _threshold_for(noise_threshold, str(output))
        floor = _threshold_for(noise_floor, str(output))
        frames.append(_flag(rows, method, threshold, floor))
    out = pd.concat(frames, ignore_index=True)[_INDEX_COLUMNS]
    return out


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ScenarioError(
            f"{what} must be one of {', '.join(allowed)}, got {value!r}"
            + _did_you_mean(str(value), allowed)
        )
    return value.lower()


def _did_you_mean(value: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(value.lower(), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_X(X: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ScenarioError(
            f"X must be a pandas DataFrame of sample points, got {type(X).__name__}"
        )
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ScenarioError(
            f"X lacks columns for inputs {', '.join(missing)}; "
            f"it has {', '.join(map(str, X.columns))}"
        )
    attrs = dict(X.attrs)
    X = X[names].astype(float)
    X.attrs = attrs
    if not np.isfinite(X.to_numpy()).all():
        raise ScenarioError("X contains non-finite input values")
    return X


def _check_Y(Y: pd.DataFrame | pd.Series, X: pd.DataFrame) -> pd.DataFrame:
    if isinstance(Y, pd.Series):
        Y = Y.to_frame(name=Y.name if Y.name is not None else "Y")
    if not isinstance(Y, pd.DataFrame):
        raise ScenarioError(f"Y must be a pandas DataFrame or Series, got {type(Y).__name__}")
    if "replication" in Y.columns:
        raise ScenarioError(
            "Y has a replication column: average the replications per point first "
            "(average_replications(Y_reps))"
        )
    if "point" in Y.columns:
        Y = Y.set_index("point")
    if Y.shape[1] == 0:
        raise ScenarioError("Y has no output columns")
    missing = X.index.difference(Y.index)
    if len(missing):
        raise ScenarioError(
            f"Y lacks outputs for {len(missing)} of {len(X)} sample points (first: "
            f"{list(missing[:5])}); every point of X needs an output (the design breaks if "
            "points are dropped)"
        )
    Y = Y.loc[X.index]
    values = Y.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [str(c) for c, b in zip(Y.columns, bad.any(axis=0), strict=True) if b]
        raise ScenarioError(
            f"outputs {', '.join(cols)} have {int(bad.sum())} non-finite values; fix or drop "
            "those outputs before analysis"
        )
    return Y


def _resolve_opts(method: str, inputs: list[Input], X: pd.DataFrame, opts: dict) -> dict:
    """Method options: explicit > recorded in X.attrs by :func:`sample` > defaults."""
    allowed = {
        "sobol": {"calc_second_order"},
        "morris": {"num_levels", "scaled"},
        "fast": {"M"},
        "delta": set(),
        "pawn": {"S"},
    }[method]
    unknown = set(opts) - allowed
    if unknown:
        raise ScenarioError(
            f"unknown option(s) {', '.join(sorted(unknown))} for {method}; allowed: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    attrs = X.attrs or {}
    groups = any(i.group is not None for i in inputs)
    n_factors = len(factor_names(inputs))
    rows = len(X)
    resolved: dict[str, Any] = {}
    if method == "sobol":
        resolved["calc_second_order"] = _sobol_second_order(
            opts.get("calc_second_order", attrs.get("calc_second_order")), n_factors, rows)
    elif method == "morris":
        resolved["num_levels"] = int(opts.get("num_levels", attrs.get("num_levels", 4)))
        resolved["scaled"] = bool(opts.get("scaled", False))
        if rows % (n_factors + 1):
            raise ScenarioError(
                f"a Morris sample with {n_factors} inputs/groups has trajectories of "
                f"{n_factors + 1} rows, got {rows} rows"
            )
    elif method == "fast":
        if groups:
            raise ScenarioError("eFAST does not support groups; use sobol or morris for groups")
        resolved["M"] = int(opts.get("M", attrs.get("M", 4)))
        if rows % len(inputs):
            raise ScenarioError(
                f"an eFAST sample with {len(inputs)} inputs has a multiple of {len(inputs)} rows, "
                f"got {rows}"
            )
    elif method == "delta":
        if groups:
            raise ScenarioError("delta does not support groups; use sobol, morris or pawn")
    else:
        resolved["S"] = int(opts.get("S", 10))
        if resolved["S"] < 2:
            raise ScenarioError(f"PAWN needs S >= 2 slices, got {resolved['S']}")
    return resolved


def _sobol_second_order(cso: bool | None, n_factors: int, rows: int) -> bool:
    """Whether a Sobol' sample has second-order rows (as told, else by its row count).

    Raises:
        ScenarioError: the row count fits neither, both, or not the one told.
    """
    if cso is None:
        fits = [c for c in (False, True) if rows % ((2 if c else 1) * n_factors + 2) == 0]
        if len(fits) != 1:
            raise ScenarioError(
                f"cannot tell from {rows} rows whether the Sobol' sample has second-order "
                "rows; pass calc_second_order=True or False as used when sampling"
            )
        cso = fits[0]
    block = (2 * n_factors + 2) if cso else (n_factors + 2)
    if rows % block:
        raise ScenarioError(
            f"a Sobol' sample with {n_factors} inputs/groups and calc_second_order={cso} "
            f"has a multiple of {block} rows, got {rows}; check calc_second_order and that "
            "no points were dropped"
        )
    return bool(cso)


def _half_width_rows(
    names: Sequence[str], index: str, values: np.ndarray, half: np.ndarray | None
) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    half = np.full_like(values, np.nan) if half is None else np.abs(np.asarray(half, dtype=float))
    return pd.DataFrame(
        {
            "input": list(names),
            "index": index,
            "value": values,
            "conf_low": values - half,
            "conf_high": values + half,
        }
    )


def _problem_with(inputs: list[Input], X: pd.DataFrame, y: np.ndarray) -> ProblemSpec:
    """The inputs' SALib problem holding the sample and the model's results."""
    problem = make_problem(inputs)
    problem.set_samples(X.to_numpy())
    problem.set_results(y)
    return problem


def _analyze_sobol(
    inputs: list[Input],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int,
    num_resamples: int,
    conf_level: float,
    calc_second_order: bool,
) -> pd.DataFrame:
    problem = _problem_with(inputs, X, y)
    problem.analyze_sobol(
        calc_second_order=calc_second_order,
        num_resamples=num_resamples,
        conf_level=conf_level,
        seed=_int_seed(seed, "sensitivity.analyze"),
    )
    S = problem.analysis
    factors = factor_names(inputs)
    frames = [
        _half_width_rows(factors, "S1", S["S1"], S["S1_conf"]),
        _half_width_rows(factors, "ST", S["ST"], S["ST_conf"]),
    ]
    if calc_second_order:
        pairs, vals, confs = [], [], []
        for j in range(len(factors)):
            for k in range(j + 1, len(factors)):
                pairs.append(f"{factors[j]}:{factors[k]}")
                vals.append(S["S2"][j, k])
                confs.append(S["S2_conf"][j, k])
        frames.append(_half_width_rows(pairs, "S2", np.array(vals), np.array(confs)))
    return pd.concat(frames, ignore_index=True)


def _analyze_morris(
    inputs: list[Input],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int,
    num_resamples: int,
    conf_level: float,
    num_levels: int,
    scaled: bool,
) -> pd.DataFrame:
    problem = _problem_with(inputs, X, y)
    problem.analyze_morris(
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=num_levels,
        scaled=scaled,
        seed=np.random.default_rng(_stream(seed, "sensitivity.analyze")),
    )
    S = problem.analysis
    factors = factor_names(inputs)
    return pd.concat(
        [
            _half_width_rows(factors, "mu_star", S["mu_star"], S["mu_star_conf"]),
            _half_width_rows(factors, "sigma", S["sigma"], None),
            _half_width_rows(factors, "mu", S["mu"], None),
        ],
        ignore_index=True,
    )


def _analyze_fast(
    inputs: list[Input],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int,
    num_resamples: int,
    conf_level: float,
    M: int,
) -> pd.DataFrame:
    problem = _problem_with(inputs, X, y)
    with _isolated_legacy_rng():
        # SALib warns its eFAST bootstrap intervals are indicative only (SALib issue 649);
        # the report says so in words instead of a warning per output.
        warnings.filterwarnings("ignore", message="FAST confidence intervals")
        problem.analyze_fast(
            M=M,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=_int_seed(seed, "sensitivity.analyze"),
        )
    S = problem.analysis
    names = [i.name for i in inputs]
    return pd.concat(
        [
            _half_width_rows(names, "S1", S["S1"], S["S1_conf"]),
            _half_width_rows(names, "ST", S["ST"], S["ST_conf"]),
        ],
        ignore_index=True,
    )


def _with_dummy(inputs: list[Input], X: pd.DataFrame, seed: int) -> tuple[list[Input], np.ndarray]:
    """Append a uniform dummy input that the model never saw (its index is pure estimator noise).

    References:
        Khorashadi Zadeh F. et al. (2017) Comparison of variance-based and moment-independent
        global sensitivity analysis approaches by application to the SWAT model. Environ.
        Model. Softw. 91:210-222.
    """
    name = _DUMMY
    taken = {i.name for i in inputs}
    while name in taken:
        name = "_" + name
    rng = np.random.default_rng(_stream(seed, "sensitivity.dummy"))
    dummy = rng.permutation(np.arange(len(X)) + rng.random(len(X))) / len(X)  # LHS in [0, 1)
    group = "__dummy__" if any(i.group is not None for i in inputs) else None
    return [*inputs, Input(name, 0.0, 1.0, group=group)], np.column_stack([X.to_numpy(), dummy])


def _analyze_delta(
    inputs: list[Input],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int,
    num_resamples: int,
    conf_level: float,
) -> pd.DataFrame:
    all_inputs, Xd = _with_dummy(inputs, X, seed)
    problem = make_problem(all_inputs)
    problem.set_samples(Xd)
    problem.set_results(y)
    with _isolated_legacy_rng(), warnings.catch_warnings(record=True):
        # SALib's delta warns per input and resample (bin merges, bias); its bias check is
        # recomputed below from the estimates, the rest are informational notes.
        problem.analyze_delta(
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=_int_seed(seed, "sensitivity.analyze"),
            method="all",
        )
    S = problem.analysis
    names = [i.name for i in inputs]
    gap = np.abs(np.asarray(S["delta_balanced"][:-1]) - np.asarray(S["delta_raw"][:-1]))
    if (gap > DELTA_BIAS_THRESHOLD).any():
        warnings.warn(DeltaBiasWarning([n for n, g in zip(names, gap, strict=True)
                                        if g > DELTA_BIAS_THRESHOLD]), stacklevel=2)
    frames = []
    for index, key in (("delta", "delta_raw"), ("S1", "S1")):
        rows = _half_width_rows(names, index, S[key][:-1], S[f"{key}_conf"][:-1])
        rows["dummy_high"] = S[key][-1] + abs(S[f"{key}_conf"][-1])
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def pawn_medians(
    X: np.ndarray, y: np.ndarray, S: int, groups: Sequence[str] | None = None
) -> np.ndarray:
    """PAWN index (median KS distance over S conditioning slices) of each input, vectorised.

    The same statistic as SALib's ``pawn.analyze`` ``median`` (slices at the empirical
    quantiles of each input, ``x >= q_s`` and ``x < q_{s+1}``; KS distance between the outputs
    of a slice and all outputs; group members averaged), without scipy's KS p-values, so a
    bootstrap of a thousand resamples takes about a second. :func:`analyze` takes the point
    estimate from SALib itself; tests check this function reproduces it.

    Args:
        X: Inputs, rows x D.
        y: Outputs, one per row.
        S: Number of slices.
        groups: Group of each column (None: one index per column).

    Returns:
        One value per input (per group, in first-seen order, when groups are given).

    References:
        Pianosi F., Wagener T. (2015) A simple and efficient method for global sensitivity
        analysis based on cumulative distribution functions. Environ. Model. Softw. 67:1-11.
    """
    n, D = X.shape
    y_sorted = np.sort(y)
    step = 1 / S
    seq = np.arange(0, 1 + step, step)  # as SALib builds it, float steps included
    medians = np.full(D, np.nan)
    cdf_all = np.searchsorted(y_sorted, y_sorted, side="right") / n
    for d in range(D):
        x = X[:, d]
        q = np.nanquantile(x, seq)
        stats = np.full(S, np.nan)
        for s in range(S):
            sel = np.sort(y[(x >= q[s]) & (x < q[s + 1])])
            if len(sel) == 0:
                continue
            cdf_sel = np.searchsorted(sel, y_sorted, side="right") / len(sel)
            stats[s] = np.max(np.abs(cdf_sel - cdf_all))
        medians[d] = np.nanmedian(stats)
    if groups is None:
        return medians
    order = list(dict.fromkeys(groups))
    g = np.asarray(groups)
    return np.array([medians[g == name].mean() for name in order])


def _analyze_pawn(
    inputs: list[Input],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    seed: int,
    num_resamples: int,
    conf_level: float,
    S: int,
) -> pd.DataFrame:
    all_inputs, Xd = _with_dummy(inputs, X, seed)
    problem = make_problem(all_inputs)
    factors = factor_names(all_inputs)
    problem.set_samples(Xd)
    problem.set_results(y)
    problem.analyze_pawn(S=S)  # PAWN is deterministic: no seed, so no global reseed
    value = np.asarray(problem.analysis["median"], dtype=float)
    groups = problem["groups"] if any(i.group is not None for i in all_inputs) else None
    # SALib's PAWN has no intervals: bootstrap whole rows (Pianosi & Wagener 2018, sec. 3).
    rng = np.random.default_rng(_stream(seed, "sensitivity.analyze"))
    boot = np.empty((num_resamples, len(factors)))
    for b in range(num_resamples):
        rows = rng.integers(0, len(y), len(y))
        boot[b] = pawn_medians(Xd[rows], y[rows], S, groups)
    half = norm.ppf(0.5 + conf_level / 2) * np.nanstd(boot, axis=0, ddof=1)
    rows = _half_width_rows(factors[:-1], "pawn_median", value[:-1], half[:-1])
    rows["dummy_high"] = value[-1] + half[-1]
    return rows


def _threshold_for(
    noise_threshold: float | Mapping[str, float] | None, output: str
) -> float | None:
    if noise_threshold is None:
        return None
    if isinstance(noise_threshold, Mapping):
        value = noise_threshold.get(output)
        return None if value is None or not math.isfinite(value) else float(value)
    return float(noise_threshold)


NOISE_INFLATED = {"sobol": ("ST",), "fast": ("ST",), "morris": ("mu_star",)}
"""Indices whose expected value replication noise raises (an inert input gets the noise floor)."""


def _flag(
    rows: pd.DataFrame, method: str, threshold: float | None, floor: float | None
) -> pd.DataFrame:
    """Add includes_zero, noise_threshold and flagged_inert (see :func:`analyze`)."""
    rows = rows.copy()
    has_ci = rows["conf_low"].notna() & rows["conf_high"].notna()
    rows["includes_zero"] = has_ci & (rows["conf_low"] <= 0) & (rows["conf_high"] >= 0)
    if method in ("delta", "pawn"):
        dummy = rows.pop("dummy_high")
        rows["noise_threshold"] = dummy if threshold is None else np.maximum(dummy, threshold)
    else:
        if threshold is None and method == "morris":
            mu_star = rows.loc[rows["index"] == "mu_star", "value"]
            threshold = DEFAULT_MORRIS_RELATIVE_THRESHOLD * float(mu_star.max())
        elif threshold is None:
            threshold = DEFAULT_SHARE_THRESHOLD
        rows["noise_threshold"] = float(threshold)
        if floor is not None:
            # Morris: every row of an input is judged by its mu*, so all share mu*'s threshold.
            inflated = rows["index"].isin(NOISE_INFLATED[method]) | (method == "morris")
            rows.loc[inflated, "noise_threshold"] = max(float(threshold), float(floor))
    lower = rows["conf_low"].where(has_ci, rows["value"])
    # A NaN index (the method failed for that input) is never reported as a driver.
    rows["flagged_inert"] = (rows["includes_zero"] | (lower <= rows["noise_threshold"])
                             | rows["value"].isna())
    if method == "morris":
        # mu and sigma describe the same elementary effects; mu* decides whether they matter.
        inert = rows.loc[rows["index"] == "mu_star"].set_index("input")["flagged_inert"]
        rows["flagged_inert"] = rows["input"].map(inert).astype(bool)
    rows["includes_zero"] = rows["includes_zero"].astype(bool)
    rows["flagged_inert"] = rows["flagged_inert"].astype(bool)
    return rows


# --------------------------------------------------------------------------------------------
# Stochastic models: replications and their noise
# --------------------------------------------------------------------------------------------


def _output_columns(Y_reps: pd.DataFrame) -> list[str]:
    if not isinstance(Y_reps, pd.DataFrame):
        raise ScenarioError(f"Y_reps must be a DataFrame, got {type(Y_reps).__name__}")
    missing = [c for c in ("point", "replication") if c not in Y_reps.columns]
    if missing:
        raise ScenarioError(
            "Y_reps needs columns point, replication and one per output; "
            f"missing {', '.join(missing)}"
        )
    outputs = [c for c in Y_reps.columns if c not in ("point", "replication")]
    if not outputs:
        raise ScenarioError("Y_reps has no output columns besides point and replication")
    return outputs


def average_replications(Y_reps: pd.DataFrame) -> pd.DataFrame:
    """Mean of each output over the replications of every sample point.

    Args:
        Y_reps: Columns ``point``, ``replication`` and one per output.

    Returns:
        Frame indexed by ``point`` (sorted), one column per output.
    """
    outputs = _output_columns(Y_reps)
    return Y_reps.groupby("point", sort=True)[outputs].mean()


def replication_noise(
    Y_reps: pd.DataFrame, *, common_random_numbers: bool = False
) -> pd.DataFrame:
    """How much of each output's variance is replication noise (ANOVA by point).

    Independent streams (each run its own seed): one-way ANOVA, the pooled within-point
    variance is the noise. Common random numbers (replication r of every point shares a seed):
    part of the run-to-run noise is the same at every point (the same simulated patients), so
    it shifts every point's mean alike and cancels from the indices; what remains is the
    point x replication interaction of a two-way ANOVA without replication, which is the noise
    that reaches the averaged outputs' differences.

    Args:
        Y_reps: Columns ``point``, ``replication`` and one per output (several replications
            per point; with one replication everywhere, the noise columns are NaN).
        common_random_numbers: Replication r used the same seed at every point. Needs a
            balanced design (every point has the same replications); otherwise the one-way
            estimate is kept (an upper bound).

    Returns:
        One row per output with columns ``output``, ``n_points``, ``replications`` (mean per
        point), ``var_total`` (variance of all runs), ``var_within`` (pooled within-point
        variance: how much runs with identical inputs differ), ``noise_share`` (the share of
        a single run's variance that is noise: ``var_within / var_total``; under common random
        numbers ``var_within / (var_within + var_of_means - var_noise_of_mean)``, as the
        realised common effects do not spread the total), ``common_random_numbers``,
        ``var_noise`` (the noise
        that reaches the indices: ``var_within``, or the interaction variance under common
        random numbers), ``var_noise_of_mean`` (its variance in a point's mean of R runs,
        ``var_noise / R``, averaged over points), ``var_of_means`` (variance of the point
        means that the indices are computed from) and ``noise_share_of_mean``
        (``var_noise_of_mean / var_of_means``: a Sobol' or eFAST index below it cannot be told
        apart from noise).

    References:
        Iooss B., Lemaitre P. (2015) A review on global sensitivity analysis methods, sec. 5
        (stochastic codes). In: Uncertainty Management in Simulation-Optimization.
        Law A.M. (2015) Simulation Modeling and Analysis, 5th ed., sec. 11.2 (common random
        numbers).
    """
    outputs = _output_columns(Y_reps)
    groups = Y_reps.groupby("point", sort=True)
    counts = groups.size()
    crn = bool(common_random_numbers) and _balanced(Y_reps, counts)
    rows = []
    for out in outputs:
        values = Y_reps[out].to_numpy(dtype=float)
        var_total = float(np.var(values, ddof=1)) if len(values) > 1 else math.nan
        dof = float((counts - 1).sum())
        if dof > 0:
            within_ss = float(groups[out].var(ddof=1).mul(counts - 1).fillna(0.0).sum())
            var_within = within_ss / dof
        else:
            var_within = math.nan
        var_noise = _interaction_variance(Y_reps, out) if crn else var_within
        var_noise_of_mean = var_noise * float((1.0 / counts).mean())
        means = groups[out].mean()
        var_of_means = float(means.var(ddof=1)) if len(means) > 1 else math.nan
        noise_share = _ratio(var_within, var_total)
        if crn:
            # The realised common effects shift every point alike, so they do not spread the
            # runs' total variance as independent noise would: compare with signal + noise.
            var_signal = max(var_of_means - var_noise_of_mean, 0.0)
            noise_share = _ratio(var_within, var_signal + var_within)
        rows.append(
            {
                "output": str(out),
                "n_points": int(len(counts)),
                "replications": float(counts.mean()),
                "var_total": var_total,
                "var_within": var_within,
                "noise_share": noise_share,
                "common_random_numbers": crn,
                "var_noise": var_noise,
                "var_noise_of_mean": var_noise_of_mean,
                "var_of_means": var_of_means,
                "noise_share_of_mean": _ratio(var_noise_of_mean, var_of_means),
            }
        )
    return pd.DataFrame(rows)


def _balanced(Y_reps: pd.DataFrame, counts: pd.Series) -> bool:
    """Every point has the same replications (at least two points and two replications)."""
    if len(counts) < 2 or counts.min() < 2 or counts.nunique() != 1:
        return False
    reps = Y_reps.groupby("point", sort=True)["replication"].apply(lambda r: tuple(sorted(r)))
    return reps.nunique() == 1


def _interaction_variance(Y_reps: pd.DataFrame, output: str) -> float:
    """Point x replication interaction mean square of a balanced two-way table."""
    table = Y_reps.pivot(index="point", columns="replication", values=output).to_numpy(float)
    P, R = table.shape
    resid = (
        table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True)
        + table.mean()
    )
    return float((resid**2).sum() / ((P - 1) * (R - 1)))


def _ratio(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    if b <= 0:
        return 1.0 if a <= 0 else math.inf  # a constant output: all of nothing is noise
    return a / b


def noise_floors(noise: pd.DataFrame, method: str, *, num_levels: int = 4) -> dict[str, float]:
    """Index value that replication noise alone would produce, per output.

    Sobol'/eFAST: an input that does nothing gets ST ~ noise variance of the averaged output
    over its total variance (``noise_share_of_mean``). Morris: an inert input's elementary
    effect is the difference of two noisy means over the step, so
    mu* ~ 2 sqrt(var_noise_of_mean / pi) / step. Delta/PAWN: none (their dummy input already
    carries the noise). Outputs without a noise estimate (one replication) are left out.

    Args:
        noise: Output of :func:`replication_noise`.
        method: Analysis method.
        num_levels: Morris grid levels (step = num_levels / (2 (num_levels - 1))).

    Returns:
        ``{output: threshold}`` to pass as ``noise_threshold`` to :func:`analyze`.
    """
    method = _check_choice("analysis method", method, ANALYSIS_METHODS)
    floors: dict[str, float] = {}
    for row in noise.itertuples(index=False):
        if method in ("sobol", "fast") and math.isfinite(row.noise_share_of_mean):
            floors[row.output] = float(min(row.noise_share_of_mean, 1.0))
        elif method == "morris" and math.isfinite(row.var_noise_of_mean):
            step = num_levels / (2 * (num_levels - 1))
            floors[row.output] = 2 * math.sqrt(row.var_noise_of_mean / math.pi) / step
    return floors


# --------------------------------------------------------------------------------------------
# Convergence
# --------------------------------------------------------------------------------------------


def _layout(method: str, inputs: list[Input], X: pd.DataFrame, opts: dict) -> tuple[int, int]:
    """(base sample count N, rows per base sample) of a design."""
    n_factors = len(factor_names(inputs))
    if method == "sobol":
        block = (2 * n_factors + 2) if opts["calc_second_order"] else (n_factors + 2)
    elif method == "morris":
        block = n_factors + 1
    else:
        block = 1
    return len(X) // block, block


def convergence(
    inputs: Sequence[Input],
    method: str,
    X: pd.DataFrame,
    Y: pd.DataFrame | pd.Series,
    *,
    seed: int,
    fractions: Sequence[float] = (0.25, 0.5, 1.0),
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    noise_threshold: float | Mapping[str, float] | None = None,
    noise_floor: Mapping[str, float] | None = None,
    **opts: Any,
) -> pd.DataFrame:
    """Recompute the indices on the first fraction of the base samples.

    Sobol' designs are subset in whole Saltelli blocks (D+2 rows per base sample, 2D+2 with
    second order, D = inputs or groups), so the first n_sub blocks are a valid design built
    on the first n_sub Sobol' points; Morris designs in whole trajectories; LHS designs by
    rows. eFAST search curves cannot be cut, so ``method="fast"`` is refused.

    Args:
        inputs: As for :func:`analyze`.
        method: As for :func:`analyze` (not ``"fast"``).
        X: As for :func:`analyze`.
        Y: As for :func:`analyze`.
        seed: As for :func:`analyze`.
        num_resamples: As for :func:`analyze`.
        conf_level: As for :func:`analyze`.
        noise_threshold: As for :func:`analyze`.
        noise_floor: As for :func:`analyze`.
        **opts: As for :func:`analyze`.
        fractions: Fractions of the base samples to analyse (1.0 = all).

    Returns:
        The tidy index frame of :func:`analyze` for each subset, with ``n`` (base samples:
        Sobol' N, Morris trajectories, LHS rows) and ``fraction`` columns.

    Raises:
        ScenarioError: eFAST, or fractions outside (0, 1].
    """
    inputs = _check_inputs(inputs)
    method = _check_choice("analysis method", method, ANALYSIS_METHODS)
    if method == "fast":
        raise ScenarioError(
            "eFAST search curves cannot be subset, so convergence cannot be checked from one "
            "run; rerun eFAST with half the n and compare, or use Sobol'"
        )
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        raise ScenarioError(f"convergence fractions must lie in (0, 1], got {bad}")
    X = _check_X(X, [i.name for i in inputs])
    Y = _check_Y(Y, X)
    resolved = _resolve_opts(method, inputs, X, dict(opts))
    n_base, block = _layout(method, inputs, X, resolved)
    frames = []
    done: set[int] = set()
    for fraction in sorted(fractions):
        n_sub = max(1, int(round(n_base * fraction)))
        if method == "sobol" and n_sub & (n_sub - 1):
            n_sub = 1 << (n_sub.bit_length() - 1)  # keep Sobol' subsets at powers of two
        if n_sub in done or n_sub < _MIN_BASE_SAMPLES[method]:
            continue
        done.add(n_sub)
        Xs = X.iloc[: n_sub * block]
        res = analyze(
            inputs,
            method,
            Xs,
            Y.loc[Xs.index],
            seed=seed,
            num_resamples=num_resamples,
            conf_level=conf_level,
            noise_threshold=noise_threshold,
            noise_floor=noise_floor,
            **resolved,
        )
        res["n"] = n_sub
        res["fraction"] = n_sub / n_base
        frames.append(res)
    if not frames:
        raise ScenarioError(
            f"every convergence subset is below {_MIN_BASE_SAMPLES[method]} samples"
        )
    return pd.concat(frames, ignore_index=True)


def convergence_table(conv_df: pd.DataFrame, tol: float = 0.05) -> pd.DataFrame:
    """How much each index moved between the two largest sample sizes (N/2 and N).

    Variance shares, delta and PAWN are compared in absolute terms; Morris mu* relative to
    the largest mu* of the output at N (mu* carries the output's unit).

    Args:
        conv_df: Output of :func:`convergence`.
        tol: Largest change that counts as converged.

    Returns:
        One row per output, input and compared index: ``n_half``, ``n_full``, ``value_half``,
        ``value_full``, ``change`` (on the compared scale) and ``converged``.
    """
    if "n" not in conv_df.columns:
        raise ScenarioError("conv_df must come from convergence() (it lacks the column n)")
    rows = []
    for (output, method), df in conv_df.groupby(["output", "method"], sort=False):
        ns = sorted(df["n"].unique())
        if len(ns) < 2:
            raise ScenarioError(
                f"convergence of {output} needs two sample sizes, got n = {ns}; include 0.5 "
                "in fractions"
            )
        n_half, n_full = ns[-2], ns[-1]
        keep = df["index"].isin(CONVERGENCE_INDICES[method])
        half = df[keep & (df["n"] == n_half)].set_index(["input", "index"])["value"]
        full = df[keep & (df["n"] == n_full)].set_index(["input", "index"])["value"]
        scale = 1.0
        if method == "morris":
            scale = float(full.abs().max()) or 1.0
        for (inp, index), v_full in full.items():
            v_half = float(half.get((inp, index), math.nan))
            change = abs(float(v_full) - v_half) / scale
            rows.append(
                {
                    "output": output,
                    "method": method,
                    "input": inp,
                    "index": index,
                    "n_half": int(n_half),
                    "n_full": int(n_full),
                    "value_half": v_half,
                    "value_full": float(v_full),
                    "change": change,
                    "converged": bool(change <= tol),
                }
            )
    return pd.DataFrame(rows)


def converged(conv_df: pd.DataFrame, tol: float = 0.05) -> pd.Series:
    """Whether each input's indices moved by at most ``tol`` between N/2 and N.

    Args:
        conv_df: Output of :func:`convergence`.
        tol: Largest change that counts as converged (see :func:`convergence_table`).

    Returns:
        Boolean Series indexed by (output, input).
    """
    table = convergence_table(conv_df, tol)
    return table.groupby(["output", "input"], sort=False)["converged"].all()


def recommend_n(conv_df: pd.DataFrame, tol: float = 0.05, *, output: str | None = None) -> int:
    """The N to run next: the current N if converged, else a larger power of two.

    The change between nested estimates at N/2 and N is about one standard error at N, and
    Monte Carlo error shrinks as 1/sqrt(N); so N * (change / tol)^2 is where the change
    should fall below ``tol``. The result is rounded up to a power of two, at least 2N.

    Args:
        conv_df: Output of :func:`convergence`.
        tol: Tolerance of :func:`convergence_table`.
        output: Only consider this output (default: all).

    Returns:
        Recommended number of base samples (Sobol' N, Morris trajectories, LHS rows).
    """
    table = convergence_table(conv_df, tol)
    if output is not None:
        if output not in set(table["output"]):
            raise ScenarioError(
                f"no output {output!r} in the convergence table; outputs are "
                f"{', '.join(sorted(set(table['output'])))}"
            )
        table = table[table["output"] == output]
    n_full = int(table["n_full"].max())
    if table["converged"].all():
        return n_full
    worst = float(table["change"].max())
    if not math.isfinite(worst):
        return 2 * n_full
    target = max(2 * n_full, math.ceil(n_full * (worst / tol) ** 2))
    return 1 << (target - 1).bit_length()


# --------------------------------------------------------------------------------------------
# Any model: a plain Python function
# --------------------------------------------------------------------------------------------


@dataclass
class SensitivityResult:
    """Everything one sensitivity analysis produced, for reports and re-analysis.

    Attributes:
        inputs: The uncertain inputs.
        method: Analysis method.
        X: Sample points (index ``point``).
        Y_reps: Outputs per point and replication (columns point, replication, outputs).
        indices: Tidy index frame (:func:`analyze`).
        noise: Replication-noise table (:func:`replication_noise`).
        convergence: Tidy frame of :func:`convergence`, or None (eFAST, or not requested).
        n: Base sample count (Sobol' N, Morris trajectories, eFAST points per curve, LHS rows).
        seed: Root seed.
        replications: Replications per sample point.
        conf_level: Interval level.
        tol: Convergence tolerance.
        meta: Provenance (SALib version, wall time, options).
    """

    inputs: list[Input]
    method: str
    X: pd.DataFrame
    Y_reps: pd.DataFrame
    indices: pd.DataFrame
    noise: pd.DataFrame
    convergence: pd.DataFrame | None = None
    n: int = 0
    seed: int = 0
    replications: int = 1
    conf_level: float = 0.95
    tol: float = 0.05
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def Y(self) -> pd.DataFrame:  # noqa: N802 - X/Y as in SALib
        """Outputs averaged over replications, indexed by point."""
        return average_replications(self.Y_reps)

    @property
    def outputs(self) -> list[str]:
        """Output names in the order the model returned them."""
        return [c for c in self.Y_reps.columns if c not in ("point", "replication")]


def _takes_rng(func: Callable) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def evaluate_function(
    func: Callable[..., Mapping[str, float]],
    X: pd.DataFrame,
    *,
    seed: int,
    replications: int = 1,
    outputs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Evaluate ``func`` at every sample point and replication.

    Replication r of point p draws from its own generator: the "sensitivity.model" stream of
    ``seed`` is spawned once per point, and each point's SeedSequence once per replication
    (``SeedSequence.spawn``, never ``seed + i``). Adding replications leaves earlier ones
    unchanged.

    Args:
        func: ``func(params, rng) -> {output: value}``; a deterministic function may take
            ``params`` only.
        X: Sample points.
        seed: Root seed.
        replications: Runs per point.
        outputs: Outputs to keep (default: every key the function returns).

    Returns:
        Long frame with columns ``point``, ``replication`` and one per output.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ScenarioError(f"replications must be a positive integer, got {replications!r}")
    takes_rng = _takes_rng(func)
    point_seqs = _stream(seed, "sensitivity.model").spawn(len(X))
    names = list(X.columns)
    values = X.to_numpy(dtype=float)
    records: list[dict[str, Any]] = []
    keep = list(outputs) if outputs is not None else None
    for row, (point, seq) in enumerate(zip(X.index, point_seqs, strict=True)):
        params = {name: float(v) for name, v in zip(names, values[row], strict=True)}
        for rep, rep_seq in enumerate(seq.spawn(replications)):
            result = func(params, np.random.default_rng(rep_seq)) if takes_rng else func(params)
            if not isinstance(result, Mapping):
                raise ScenarioError(
                    f"the model must return a dict of outputs, got {type(result).__name__} at "
                    f"point {point}"
                )
            if keep is None:
                keep = list(result)
            missing = [k for k in keep if k not in result]
            if missing:
                raise ScenarioError(
                    f"the model returned no {', '.join(missing)} at point {point}, replication "
                    f"{rep}; it returned {', '.join(map(str, result))}"
                )
            records.append(
                {"point": point, "replication": rep, **{k: float(result[k]) for k in keep}}
            )
    return pd.DataFrame.from_records(records)


def run_function(
    func: Callable[..., Mapping[str, float]],
    inputs: Sequence[Input],
    method: str,
    n: int,
    *,
    seed: int,
    replications: int = 1,
    outputs: Sequence[str] | None = None,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    fractions: Sequence[float] | None = (0.25, 0.5, 1.0),
    tol: float = 0.05,
    **opts: Any,
) -> SensitivityResult:
    """Sample, evaluate a plain Python function, and analyse: the "any model" path.

    Args:
        func: ``func(params: dict[str, float], rng: np.random.Generator) -> dict[str, float]``
            (deterministic functions may take ``params`` only).
        inputs: The uncertain inputs.
        method: Analysis method (``sobol``, ``morris``, ``fast``, ``delta``, ``pawn``); delta
            and PAWN run on a Latin hypercube.
        n: Base sample size (see :func:`sample`).
        seed: Root seed of sampling, model replications and bootstrap.
        replications: Runs per sample point (averaged before analysis; their spread is the
            replication noise and raises the flagging threshold to the noise floor).
        outputs: Outputs to analyse (default all the function returns).
        num_resamples: Bootstrap resamples.
        conf_level: Interval level.
        fractions: Base-sample fractions for :func:`convergence` (None: skip; eFAST: skipped).
        tol: Convergence tolerance.
        **opts: Sampler/analyser options (``calc_second_order``, ``num_levels``, ``M``, ``S``,
            ``optimal_trajectories``, ``scaled``).

    Returns:
        A :class:`SensitivityResult`.
    """
    started = time.perf_counter()
    inputs = _check_inputs(inputs)
    method = _check_choice("analysis method", method, ANALYSIS_METHODS)
    sample_keys = {"calc_second_order", "num_levels", "M", "optimal_trajectories"}
    X = sample(
        inputs,
        SAMPLER_FOR[method],
        n,
        seed=seed,
        **{k: v for k, v in opts.items() if k in sample_keys},
    )
    Y_reps = evaluate_function(func, X, seed=seed, replications=replications, outputs=outputs)
    evaluated = time.perf_counter()
    result = analyze_replications(
        inputs,
        method,
        X,
        Y_reps,
        seed=seed,
        num_resamples=num_resamples,
        conf_level=conf_level,
        fractions=fractions,
        tol=tol,
        **opts,
    )
    finished = time.perf_counter()
    result.meta["wall_time_s"] = round(finished - started, 3)
    result.meta["model_time_s"] = round(evaluated - started, 3)
    return result


def analyze_replications(
    inputs: Sequence[Input],
    method: str,
    X: pd.DataFrame,
    Y_reps: pd.DataFrame,
    *,
    seed: int,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
    fractions: Sequence[float] | None = (0.25, 0.5, 1.0),
    tol: float = 0.05,
    common_random_numbers: bool = False,
    **opts: Any,
) -> SensitivityResult:
    """Analyse model runs already made: average replications, measure noise, index, converge.

    The second half of :func:`run_function`, shared by every model (a Python function, or the
    ABM through the sweep engine, :mod:`sim.analyses.sa_runner`), so identical runs give
    identical numbers whichever way they were made.

    Args:
        inputs: The uncertain inputs.
        method: Analysis method.
        X: Sample points (index ``point``), as drawn by :func:`sample` (or any LHS for
            delta/PAWN).
        Y_reps: Outputs per run: columns ``point``, ``replication`` and one per output.
        seed: Root seed of the bootstrap.
        num_resamples: As for :func:`run_function`.
        conf_level: As for :func:`run_function`.
        fractions: As for :func:`run_function`.
        tol: As for :func:`run_function`.
        **opts: As for :func:`run_function`.
        common_random_numbers: Replication r used the same seed at every point (see
            :func:`replication_noise`).

    Returns:
        A :class:`SensitivityResult`; ``meta`` has no wall times (the caller knows them).
    """
    inputs = _check_inputs(inputs)
    method = _check_choice("analysis method", method, ANALYSIS_METHODS)
    replications = Y_reps.groupby("point").size() if len(Y_reps) else pd.Series(dtype=int)
    Y = average_replications(Y_reps)
    noise = replication_noise(Y_reps, common_random_numbers=common_random_numbers)
    analyze_opts = {k: v for k, v in opts.items() if k not in {"optimal_trajectories"}}
    if method != "sobol":
        analyze_opts.pop("calc_second_order", None)
    if method != "morris":
        analyze_opts.pop("num_levels", None)
    if method != "fast":
        analyze_opts.pop("M", None)
    floors = noise_floors(noise, method, num_levels=int(opts.get("num_levels", 4)))
    common = {
        "seed": seed,
        "num_resamples": num_resamples,
        "conf_level": conf_level,
        "noise_floor": floors or None,
    }
    indices = analyze(inputs, method, X, Y, **common, **analyze_opts)
    conv = None
    if fractions is not None and method != "fast":
        conv = convergence(inputs, method, X, Y, fractions=fractions, **common, **analyze_opts)
    return SensitivityResult(
        inputs=inputs,
        method=method,
        X=X,
        Y_reps=Y_reps,
        indices=indices,
        noise=noise,
        convergence=conv,
        n=int(X.attrs.get("n", 0)),
        seed=int(seed),
        replications=int(replications.max()) if len(replications) else 0,
        conf_level=float(conf_level),
        tol=float(tol),
        meta={
            "salib_version": _pkg_version("SALib"),
            "sampler": SAMPLER_FOR[method],
            "model_runs": int(len(Y_reps)),
            "num_resamples": int(num_resamples),
            "options": dict(opts),
            "noise_floor": floors,
        },
    )


@dataclass(frozen=True)
class ConvergenceSummary:
    """The convergence numbers a report quotes, computed once from a result.

    Attributes:
        table: :func:`convergence_table` at the result's tolerance.
        recommended_n: the N that would settle every output (:func:`recommend_n`).
        recommended_n_by_output: the N that would settle each output.
    """

    table: pd.DataFrame
    recommended_n: int
    recommended_n_by_output: dict[str, int]


def convergence_summary(result: SensitivityResult) -> ConvergenceSummary | None:
    """The convergence table and recommended N of a result (None when not checked)."""
    if result.convergence is None:
        return None
    table = convergence_table(result.convergence, result.tol)
    by_output = {str(out): recommend_n(result.convergence, result.tol, output=out)
                 for out in dict.fromkeys(table["output"])}
    return ConvergenceSummary(table=table,
                              recommended_n=recommend_n(result.convergence, result.tol),
                              recommended_n_by_output=by_output)
