"""The one vocabulary of distributions: PSA parameters, sweep/sensitivity inputs, priors.

Names (:data:`DISTRIBUTIONS`) and the keys each is given by (:data:`PARAMETERISATIONS`) are
declared here once, with one pydantic model (:class:`Distribution`; :class:`RangeSpec` for
sweep and sensitivity inputs), one translation to SALib (:meth:`Distribution.salib`) and one
to scipy (:meth:`Distribution.frozen`, :meth:`Distribution.ppf`). Each front-end accepts a
subset (:data:`SampledName`, :data:`PriorName`); former SALib spellings are refused with the
name to use (docs/distributions.md).

Health-economic convention (Briggs, Claxton & Sculpher 2006): each uncertain input gets a
distribution that respects its range (gamma or lognormal for costs, beta for probabilities
and shares, normal for effects that may take either sign) and is given by its mean and
standard deviation; one joint draw of every input is made per PSA iteration. Here an
iteration is a replication of the comparison, and all designs of a replication share its
draw (paired, like their random seed).

Each draw comes from its own ``SeedSequence`` keyed by (root seed, replication, parameter
name): adding a parameter or changing the number of replications leaves every other draw
unchanged (common random numbers, STYLE 5).

A distribution in a compare file, under ``psa:``::

    economics.staff_cost_per_hour: {dist: gamma, mean: 45, sd: 9}
    clinical.utility_per_hba1c_pct: {dist: normal, mean: -0.02, sd: 0.007, max: 0}
    network.in_person_gain: {dist: beta, mean: 0.5, sd: 0.12}
    economics.moderation_minutes_per_message: {dist: uniform, low: 1, high: 4}
    behaviour.engagement_decay_days: {dist: triangular, low: 20, mode: 35, high: 60}

Centred on the current default: ``mean: default`` (or ``mode: default``) takes the value
the designs use, and ``relative: {sd: 0.2}`` makes the sd 20% of it, so a recalibrated
default moves the distribution with it::

    behaviour.support_effect_logit: {dist: normal, mean: default, relative: {sd: 0.1}, min: 0}

One joint member, ``empirical``: whole rows of a table (a calibration's near-best set), one
row per replication, so the correlations between the table's parameters are kept. Only a
compare file takes it, as ``psa_empirical:`` (:class:`EmpiricalSpec`)::

    psa_empirical:
      file: ../../experiments/calibration/v2/near_best.csv   # relative to the compare file
      source: "near-best set of the v2 calibration (docs/validation.md)"

References:
    Briggs A, Claxton K, Sculpher M. Decision Modelling for Health Economic Evaluation.
    Oxford University Press 2006, chapter 4 (choosing distributions, method of moments).
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from scipy import stats

from sim.core.rng import seed_sequence
from sim.params.errors import ScenarioError
from sim.params.files import regular_file
from sim.params.located import Located
from sim.params.scenario import check_parameter_path, parameter_field

DistName = Literal["uniform", "normal", "lognormal", "gamma", "beta", "triangular", "log_uniform"]
"""The distributions of one parameter (PSA, sweep and sensitivity ranges, calibration priors)."""

EMPIRICAL = "empirical"
"""The joint member: whole rows of a table, one row per draw (:class:`EmpiricalSpec`). Also
the name of the stream its row choice is drawn from (:func:`empirical_rows`)."""

DISTRIBUTIONS: tuple[str, ...] = (*get_args(DistName), EMPIRICAL)
"""Every distribution name, in the order the docs' table lists them."""

PARAMETERISATIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "uniform": (("low", "high"),),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("mean", "sd"), ("low", "high")),
    "gamma": (("mean", "sd"),),
    "beta": (("mean", "sd"),),
    "triangular": (("low", "high"),),
    "log_uniform": (("low", "high"),),
    EMPIRICAL: (("file",),),
}
"""The key sets each distribution is given by. ``low``/``high`` of a normal or lognormal is
its central 95% interval; ``around_default`` stands for low/high and ``relative`` for sd."""

OPTIONAL_KEYS: dict[str, frozenset[str]] = {"triangular": frozenset({"mode"}),
                                            "normal": frozenset({"min", "max"}),
                                            EMPIRICAL: frozenset({"columns"})}
"""Keys a distribution may add to its parameterisation (a triangular's mode is the
midpoint unless given; a normal's min/max clip its draws; an empirical table's columns
choose which of its parameters are applied)."""

RENAMED = {"unif": "uniform", "norm": "normal", "lognorm": "lognormal", "triang": "triangular",
           "logunif": "log_uniform"}
"""Former (SALib) spellings, refused with the name to use instead."""

SALIB_NAMES = {"uniform": "unif", "normal": "norm", "lognormal": "lognorm",
               "triangular": "triang", "log_uniform": "logunif"}
"""The distributions SALib can sample, by their SALib ``dists`` name (not gamma or beta)."""

BOUNDED = ("uniform", "triangular", "log_uniform")
"""Members whose low and high are the ends of every draw (not a 95% interval)."""

NORMAL_95_Z = float(stats.norm.ppf(0.975))
"""z of a central 95% interval (1.96): a normal or lognormal given by low/high."""


def refuse_renamed(value: Any) -> Any:
    """Pydantic before-validator: an old spelling (``unif``) fails with the name to use.

    So does ``empirical`` where one parameter's distribution is asked for: it is a joint
    distribution of several parameters, which only a compare file takes (``psa_empirical``).
    """
    if isinstance(value, str) and value in RENAMED:
        raise ValueError(f"'{value}' is no longer a distribution name: use '{RENAMED[value]}'")
    if value == EMPIRICAL:
        raise ValueError("'empirical' draws whole rows of a file for several parameters at "
                         "once: only a compare file takes it, as psa_empirical: {file: ...} "
                         "beside psa: (docs/distributions.md); sweeps, sensitivity inputs "
                         "and calibration priors cannot use it")
    return value


SampledName = Annotated[Literal["uniform", "normal", "lognormal", "triangular", "log_uniform"],
                        BeforeValidator(refuse_renamed)]
"""The members sweep and sensitivity inputs accept (those SALib can sample)."""

PriorName = Annotated[Literal["uniform", "log_uniform", "normal"],
                      BeforeValidator(refuse_renamed)]
"""The members calibration priors accept."""

_PSA_STREAM = 0x50534121
"""Spawn key that separates PSA draws from the runs' own seeds (which use derive_seed)."""


DEFAULT = "default"
"""The word for "the parameter's current value" in a distribution (mean or mode)."""


class Relative(BaseModel):
    """Spreads given as shares of the current default (``relative: {sd: 0.2}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    sd: float = Field(gt=0, le=10, description="sd as a share of |default|")


class Distribution(BaseModel):
    """One uncertain parameter's distribution, in the one vocabulary (see docs/distributions.md).

    - ``uniform``: low < high.  ``log_uniform``: 0 < low < high (uniform in log).
    - ``normal``: mean, sd, or low/high as its central 95% interval; optional min/max clip
      (for example ``max: 0`` for a decrement).
    - ``lognormal``: mean > 0 and sd of the value itself (not of its log), or 0 < low/high
      as its central 95% interval.
    - ``gamma``: mean > 0, sd > 0 (method of moments: shape = mean²/sd², scale = sd²/mean).
    - ``beta``: 0 < mean < 1 and sd² < mean·(1 - mean) (method of moments).
    - ``triangular``: low <= mode <= high, low < high (mode defaults to the midpoint).

    Relative to the current default: ``mean: default``, ``mode: default``,
    ``relative: {sd: f}`` and ``around_default: f`` (low/high = default·(1 ∓ f)); resolve
    them with :meth:`at_default`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    dist: Annotated[DistName, BeforeValidator(refuse_renamed)] = Field(
        description="distribution: " + ", ".join(DISTRIBUTIONS))
    mean: float | Literal["default"] | None = Field(
        None, description="mean (normal, lognormal, gamma, beta); 'default': the current value")
    sd: float | None = Field(None, ge=0, description="standard deviation (as mean)")
    relative: Relative | None = Field(None, description="spread as a share of the current "
                                      "default, e.g. {sd: 0.2} (instead of sd)")
    low: float | None = Field(None, description="lower end (uniform, triangular, log_uniform; "
                              "of the 95% interval for normal and lognormal)")
    high: float | None = Field(None, description="upper end (as low)")
    around_default: float | None = Field(
        None, gt=0, le=10, description="instead of low/high: the range default*(1 -/+ this), "
        "e.g. 0.5 for +-50% around the base scenario's value")
    mode: float | Literal["default"] | None = Field(
        None, description="peak (triangular; default the midpoint); 'default': the current value")
    min: float | None = Field(None, description="normal only: clip draws below this")
    max: float | None = Field(None, description="normal only: clip draws above this")
    source: str = Field("", description="where the distribution comes from (shown in reports)")

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        _check_keys(self)
        if not self.pending:
            _check_values(self)
        return self

    @property
    def pending(self) -> bool:
        """Whether it refers to the current default (resolve with :meth:`at_default`)."""
        return (DEFAULT in (self.mean, self.mode) or self.relative is not None
                or self.around_default is not None)

    def at_default(self, default: float) -> Distribution:
        """The distribution with ``default``, ``relative`` and ``around_default`` filled in.

        Raises:
            ValueError: the resulting distribution is invalid (e.g. a gamma around a
                default of 0); the message says which value it used.
        """
        if not self.pending:
            return self
        data = self.model_dump(exclude={"relative", "around_default"}, exclude_unset=True)
        for key in ("mean", "mode"):
            if data.get(key) == DEFAULT:
                data[key] = float(default)
        if self.relative is not None:
            data["sd"] = self.relative.sd * abs(float(default))
        if self.around_default is not None:
            share = self.around_default
            data["low"], data["high"] = sorted((default * (1 - share), default * (1 + share)))
            if self.dist == "triangular" and self.mode is None:
                data["mode"] = float(default)
        try:
            return type(self).model_validate(data)
        except ValueError as exc:
            detail = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
            raise ValueError(f"around the current default {default:g}: "
                             f"{detail.removeprefix('Value error, ')}") from None

    # ------------------------------------------------------------ scipy and SALib views

    @property
    def by_interval(self) -> bool:
        """Whether a normal or lognormal is given by its 95% interval (low/high)."""
        return self.dist in ("normal", "lognormal") and self.low is not None

    def _moments(self) -> tuple[float, float]:
        """(mean, sd) of a normal, or of the log of a lognormal."""
        if self.by_interval:
            low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
            if self.dist == "lognormal":
                low, high = math.log(low), math.log(high)
            return (low + high) / 2, (high - low) / (2 * NORMAL_95_Z)
        m, s = float(self.mean), float(self.sd)  # type: ignore[arg-type]
        if self.dist == "normal":
            return m, s
        sigma2 = math.log1p((s / m) ** 2)
        return math.log(m) - sigma2 / 2, math.sqrt(sigma2)

    def _peak(self) -> float:
        """A triangular's peak as a share of its width (SALib's and scipy's ``c``)."""
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        mode = (low + high) / 2 if self.mode is None else float(self.mode)
        return (mode - low) / (high - low)

    def frozen(self) -> stats.rv_continuous:
        """The distribution as a frozen scipy.stats object (before any normal clip)."""
        m, s = self.mean, self.sd
        if self.dist == "normal":
            return stats.norm(*self._moments())
        if self.dist == "lognormal":
            if self.by_interval:
                mu, sigma = self._moments()
                return stats.lognorm(sigma, scale=math.exp(mu))
            sigma2 = math.log1p((s / m) ** 2)  # type: ignore[operator]
            return stats.lognorm(math.sqrt(sigma2), scale=math.exp(math.log(m) - sigma2 / 2))  # type: ignore[arg-type]
        if self.dist == "gamma":
            return stats.gamma((m / s) ** 2, scale=s**2 / m)  # type: ignore[operator]
        if self.dist == "beta":
            k = m * (1 - m) / s**2 - 1  # type: ignore[operator]
            return stats.beta(m * k, (1 - m) * k)  # type: ignore[operator]
        if self.dist == "uniform":
            return stats.uniform(self.low, self.high - self.low)  # type: ignore[operator]
        if self.dist == "log_uniform":
            return stats.loguniform(self.low, self.high)
        width = self.high - self.low  # type: ignore[operator]
        return stats.triang(self._peak(), loc=self.low, scale=width)

    def salib(self) -> tuple[str, list[float]]:
        """SALib's ``dists`` name and ``bounds`` entry for this distribution.

        Raises:
            ValueError: gamma and beta (SALib cannot sample them).
        """
        if self.dist not in SALIB_NAMES:
            raise ValueError(f"SALib cannot sample a {self.dist} distribution; use one of "
                             f"{', '.join(SALIB_NAMES)}")
        name = SALIB_NAMES[self.dist]
        if self.dist in ("normal", "lognormal"):
            return name, list(self._moments())
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        return name, [low, high, self._peak()] if self.dist == "triangular" else [low, high]

    def ppf(self, u: np.ndarray | float) -> np.ndarray | float:
        """Quantile function (with the normal clip applied).

        The SALib-sampled members map uniforms exactly as SALib's ``scale_samples`` does,
        so every front-end draws the same numbers from the same uniforms.
        """
        if self.dist == "uniform":
            low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
            x = np.asarray(u) * (high - low) + low
        elif self.dist == "lognormal" and self.by_interval:
            mu, sigma = self._moments()
            x = np.exp(stats.norm.ppf(u, loc=mu, scale=sigma))
        elif self.dist == "triangular":
            low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
            x = stats.triang.ppf(u, c=self._peak(), scale=high - low, loc=low)
        else:
            x = self.frozen().ppf(u)
        if self.min is not None or self.max is not None:
            x = np.clip(x, -np.inf if self.min is None else self.min,
                        np.inf if self.max is None else self.max)
        return x

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Central interval holding ``level`` of the probability."""
        lo, hi = self.ppf(np.array([(1 - level) / 2, (1 + level) / 2]))
        return float(lo), float(hi)

    def describe(self) -> str:
        """Words for reports, e.g. ``gamma(mean 45, sd 9)``."""
        if self.dist in ("uniform", "log_uniform"):
            return f"{self.dist}({self.low:g} to {self.high:g})"
        if self.dist == "triangular":
            mode = (self.low + self.high) / 2 if self.mode is None else self.mode  # type: ignore[operator]
            return f"triangular({self.low:g}, mode {mode:g}, {self.high:g})"
        if self.by_interval:
            text = f"{self.dist}(95% interval {self.low:g} to {self.high:g}"
        else:
            text = f"{self.dist}(mean {self.mean:g}, sd {self.sd:g}"
        if self.min is not None:
            text += f", min {self.min:g}"
        if self.max is not None:
            text += f", max {self.max:g}"
        return text + ")"


def _check_keys(d: Distribution) -> None:
    """The keys given must be one of the distribution's parameterisations (plus options)."""
    if d.relative is not None and d.sd is not None:
        raise ValueError("give sd or relative: {sd: ...}, not both")
    if d.around_default is not None and (d.low is not None or d.high is not None):
        raise ValueError("give low and high, or around_default, not both")
    given = {k for k in ("mean", "sd", "low", "high", "mode", "min", "max")
             if getattr(d, k) is not None}
    given |= {"sd"} if d.relative is not None else set()
    given |= {"low", "high"} if d.around_default is not None else set()
    forms = PARAMETERISATIONS[d.dist]
    form = max(forms, key=lambda f: len(given & set(f)))  # the closest (first on a tie)
    if d.relative is not None and "sd" not in form:
        raise ValueError(f"relative: {{sd: ...}} needs a distribution with an sd, not "
                         f"{d.dist}")
    optional = OPTIONAL_KEYS.get(d.dist, frozenset())
    missing = [k for k in form if k not in given]
    if missing:
        raise ValueError(f"a {d.dist} distribution needs {', '.join(form)}; missing "
                         f"{', '.join(missing)}")
    extra = sorted(given - set(form) - optional)
    if extra:
        takes = " or ".join(", ".join(f) for f in forms)
        takes += f" (optional {', '.join(sorted(optional))})" if optional else ""
        raise ValueError(f"a {d.dist} distribution takes {takes}; remove {', '.join(extra)}")


def _check_values(d: Distribution) -> None:
    """The values must make a proper distribution (raises ValueError saying which)."""
    if d.dist in ("uniform", "log_uniform", "triangular") or d.by_interval:
        if not d.low < d.high:  # type: ignore[operator]
            raise ValueError(f"low must be < high, got low={d.low:g}, high={d.high:g}")
        if d.dist in ("lognormal", "log_uniform") and d.low <= 0:  # type: ignore[operator]
            raise ValueError(f"a {d.dist} distribution needs low > 0, got low={d.low:g}")
    m, s = d.mean, d.sd
    if d.dist in ("lognormal", "gamma") and not d.by_interval and not (m > 0 and s > 0):  # type: ignore[operator]
        raise ValueError(f"a {d.dist} distribution needs mean > 0 and sd > 0, got "
                         f"mean={m:g}, sd={s:g}")
    if d.dist == "beta":
        if not 0 < m < 1:  # type: ignore[operator]
            raise ValueError(f"a beta distribution needs 0 < mean < 1, got mean={m:g}")
        if not 0 < s**2 < m * (1 - m):  # type: ignore[operator]
            raise ValueError(f"a beta distribution needs 0 < sd < sqrt(mean*(1-mean)) = "
                             f"{math.sqrt(m * (1 - m)):.4g}, got sd={s:g}")  # type: ignore[operator]
    if d.dist == "triangular" and d.mode is not None and not d.low <= d.mode <= d.high:  # type: ignore[operator]
        raise ValueError(f"a triangular distribution needs low <= mode <= high, got "
                         f"{d.low:g}, {d.mode:g}, {d.high:g}")
    if d.min is not None and d.max is not None and d.min > d.max:
        raise ValueError(f"min ({d.min:g}) must not exceed max ({d.max:g})")


class RangeSpec(Distribution):
    """An uncertain input of a sweep or sensitivity file: a range and its shape.

    The members SALib can sample, each by its range: ``low``/``high`` (the central 95%
    interval of a normal or lognormal), or ``around_default`` (resolved by
    :func:`resolve_ranges` at the base scenario's value); a triangular may add ``mode``.
    Which keys: checked here; their values: by the front-end (``Input``), which names the
    key at fault.
    """

    dist: SampledName = Field("uniform", description="shape: " + ", ".join(SALIB_NAMES))

    @model_validator(mode="after")
    def _consistent(self) -> RangeSpec:
        given = [k for k in ("mean", "sd", "relative", "min", "max")
                 if getattr(self, k) is not None]
        if given:
            raise ValueError(f"an input gives its range: low and high (for normal and "
                             f"lognormal, the central 95% interval) or around_default; "
                             f"remove {', '.join(given)}")
        if self.low is None and self.high is None and self.around_default is None:
            return self  # no range (a grid's values): the front-end says what it needs
        _check_keys(self)  # values: checked by the front-end, at the key at fault (.low)
        return self


def resolve_ranges(specs: dict[str, RangeSpec], base: dict[str, Any], where: Located,
                   section: str) -> dict[str, RangeSpec]:
    """Fill ``low``/``high`` (and a triangular's ``mode``) of inputs given ``around_default``.

    A sweep's or sensitivity file's input ``{around_default: 0.5}`` means the range from
    50% below to 50% above the parameter's value in ``base`` (the analysis' base scenario),
    so it stays centred when a default is recalibrated; a triangular input peaks at the
    default (:meth:`Distribution.at_default`).

    Args:
        specs: input specs by dotted path.
        base: the resolved base scenario as a dict.
        where: the file, for located errors.
        section: its key (``inputs``, ``uncertain``).
    """
    out = {}
    for name, spec in specs.items():
        if spec.around_default is None:
            out[name] = spec
            continue
        loc = (section, name)
        check_parameter_path(where, name, loc, numeric_for="can be uncertain inputs")
        node: Any = base
        for key in name.split("."):
            node = node[key]
        default = float(node)
        if default == 0:
            raise where.error(f"around_default needs a nonzero default; {name} is 0: give "
                              "low and high", (*loc, "around_default"))
        try:
            out[name] = spec.at_default(default)
        except ValueError as exc:
            raise where.error(str(exc), loc) from None
    return out


def stored_dist(stored: dict[str, Any]) -> str:
    """An input's distribution name in a stored manifest (older results used SALib's names)."""
    name = str(stored.get("dist") or "uniform")
    return RENAMED.get(name, name)


def psa_uniform(seed: int, replication: int, name: str) -> float:
    """The uniform (0, 1) number behind parameter ``name``'s draw in one replication."""
    sequence = seed_sequence(seed, _PSA_STREAM, replication, name)
    word = int(sequence.generate_state(1, np.uint64)[0])
    return ((word >> 11) + 0.5) / 2.0**53  # 53 random bits, strictly inside (0, 1)


def check_correlation(matrix: np.ndarray | list[list[float]]) -> np.ndarray:
    """The Cholesky factor of a correlation matrix, after checking it is one.

    Raises:
        ValueError: not square, not symmetric, a diagonal other than 1, an entry outside
            [-1, 1], or not positive definite (the message says which).
    """
    r = np.asarray(matrix, dtype=float)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"a correlation matrix must be square, got shape {r.shape}")
    if not np.allclose(r, r.T):
        raise ValueError("a correlation matrix must be symmetric")
    if not np.allclose(np.diag(r), 1.0):
        raise ValueError("a correlation matrix must have 1 on its diagonal")
    if np.abs(r).max() > 1:
        raise ValueError("correlations must lie between -1 and 1")
    try:
        return np.linalg.cholesky(r)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(r).min())
        raise ValueError(f"the correlation matrix is not positive definite (smallest "
                         f"eigenvalue {low:.3g}): the correlations contradict each other"
                         ) from None


def correlate(uniforms: np.ndarray, matrix: np.ndarray | list[list[float]]) -> np.ndarray:
    """Gaussian copula: independent uniforms (n, k) -> uniforms with the given correlation.

    The normal scores ``z = Phi^-1(u)`` are mixed by the Cholesky factor L of the matrix
    (``z L^T``) and mapped back through Phi; each column stays uniform, so every parameter
    keeps its own distribution (inverse CDF) while ranks correlate as asked (the Pearson
    correlation of the normal scores is the matrix; Spearman's rho is
    ``6/pi * asin(r/2)``, within 0.02 of r).
    """
    chol = check_correlation(matrix)
    u = np.asarray(uniforms, dtype=float)
    if u.ndim != 2 or u.shape[1] != chol.shape[0]:
        raise ValueError(f"uniforms must have {chol.shape[0]} columns, got shape {u.shape}")
    return stats.norm.cdf(stats.norm.ppf(u) @ chol.T)


# --------------------------------------------------------------------------- empirical


NOT_PARAMETERS = ("trial", "objective")
"""Columns of a table that are bookkeeping, never applied: a calibration's ``near_best.csv``
writes each row's trial number and objective beside the parameters. Every other column is a
parameter (or ``columns:`` picks the parameters)."""

OBJECTIVE = "objective"
"""The column ranking a table's rows, lower is better (:meth:`EmpiricalTable.best`)."""

MIN_ROWS = 2
"""Fewest rows an empirical table may have (one row would be a fixed value: set it)."""


class EmpiricalSpec(BaseModel):
    """A joint empirical distribution: whole rows of a CSV table, one row per PSA iteration.

    The table's header names the parameters (dotted scenario paths); ``trial`` and
    ``objective`` columns (:data:`NOT_PARAMETERS`) are ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1, description="CSV table, relative to the file naming it: a "
                      "header of dotted parameter paths, one row per joint draw")
    columns: list[str] | None = Field(None, min_length=1, description="the parameter columns "
                                      "to apply (default: every column but "
                                      f"{' and '.join(NOT_PARAMETERS)})")
    source: str = Field("", description="where the table comes from (shown in reports)")


@dataclass(frozen=True)
class EmpiricalTable:
    """A read and checked empirical table (:func:`read_empirical`).

    Attributes:
        path: the CSV file.
        columns: the parameter columns applied.
        values: their values, rows x columns.
        lines: the file line of each row (for messages).
        objective: each row's objective, when the table has that column.
        sha256: of the file's bytes (part of a comparison's identity).
        source: where it comes from.
    """

    path: Path
    columns: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    lines: tuple[int, ...] = field(repr=False)
    objective: np.ndarray | None = field(default=None, repr=False)
    sha256: str = ""
    source: str = ""

    @property
    def n_rows(self) -> int:
        """Rows of the table (joint draws it holds)."""
        return int(self.values.shape[0])

    def rows(self, seed: int, replications: int) -> np.ndarray:
        """The row each replication draws (:func:`empirical_rows`)."""
        return empirical_rows(self.n_rows, seed, replications)

    def best(self) -> dict[str, float]:
        """The best row: the lowest objective; without an objective column, the first row.

        (``near_best.csv`` lists its best trial first, so both rules agree on it.)
        """
        i = 0 if self.objective is None else int(np.argmin(self.objective))
        return {name: float(v) for name, v in zip(self.columns, self.values[i], strict=True)}

    def describe(self) -> str:
        """Words for reports, e.g. ``empirical: 40 rows of near_best.csv, drawn whole``."""
        return f"{EMPIRICAL}: {self.n_rows} rows of {self.path.name}, drawn whole"

    def record(self) -> dict[str, Any]:
        """What provenance and manifests keep: file, hash, rows, columns, source."""
        return {"file": str(self.path), "sha256": self.sha256, "rows": self.n_rows,
                "columns": list(self.columns), "source": self.source,
                "row_rule": f"row floor(u * rows), u from SeedSequence(root_seed, (PSA key, "
                            f"r, crc32('{EMPIRICAL}')))"}


def empirical_rows(n_rows: int, seed: int, replications: int) -> np.ndarray:
    """The table row each replication draws, each row equally likely.

    Row ``floor(u * n_rows)`` with ``u = psa_uniform(seed, r, "empirical")``: replication r's
    row depends only on (seed, r, n_rows), so adding or removing other PSA parameters (or
    replications) leaves it unchanged; every design of a replication shares it (paired).
    """
    u = np.array([psa_uniform(seed, r, EMPIRICAL) for r in range(replications)])
    return np.minimum((u * n_rows).astype(np.int64), n_rows - 1)


def read_empirical(spec: EmpiricalSpec, folder: Path, where: Located,
                   section: str = "psa_empirical") -> EmpiricalTable:
    """Read and check the table ``spec`` names (its file relative to ``folder``).

    Raises:
        ScenarioError: at ``section.file`` (``section.columns[i]`` for a listed column),
            naming the table's line: a missing or unreadable file, an empty one, fewer than
            :data:`MIN_ROWS` rows, a row of another width, a value that is not a finite
            number (or not whole, for an integer parameter), a column that is not a numeric
            scenario parameter, a listed column the table lacks.
    """
    path = folder / spec.file
    loc = (section, "file")
    try:
        regular_file(path, "table")
        data = path.read_bytes()
        records = [(n, [c.strip() for c in row]) for n, row in enumerate(
            csv.reader(data.decode("utf-8-sig").splitlines()), start=1) if any(
            c.strip() for c in row)]
    except ScenarioError as exc:
        raise where.error(f"{exc.message} (expected a CSV table: a header of parameter "
                          "paths, one row per draw)", loc) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise where.error(f"cannot read {path}: {reason}", loc) from None
    if not records:
        raise where.error(f"{path} is empty; expected a header of parameter paths and at "
                          f"least {MIN_ROWS} rows", loc)
    header_line, header = records[0]
    columns = _empirical_columns(spec, header, path, header_line, where, section)
    body = records[1:]
    if len(body) < MIN_ROWS:
        raise where.error(f"{path} has {len(body)} row(s); an empirical distribution needs "
                          f"at least {MIN_ROWS} (for one value, set the parameters instead)",
                          loc)
    wanted = [*columns, *([OBJECTIVE] if OBJECTIVE in header else [])]
    values = np.empty((len(body), len(wanted)))
    for i, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise where.error(f"{path}, line {line}: {len(row)} fields, but the header has "
                              f"{len(header)}", loc)
        for j, name in enumerate(wanted):
            values[i, j] = _table_number(row[header.index(name)], name,
                                         f"{path}, line {line}", where, loc)
    return EmpiricalTable(
        path=path, columns=tuple(columns), values=values[:, :len(columns)],
        lines=tuple(line for line, _ in body), sha256=hashlib.sha256(data).hexdigest(),
        objective=values[:, -1] if len(wanted) > len(columns) else None, source=spec.source)


def _empirical_columns(spec: EmpiricalSpec, header: list[str], path: Path, line: int,
                       where: Located, section: str) -> list[str]:
    """The parameter columns to apply, each checked to be a numeric scenario parameter."""
    doubled = sorted({c for c in header if header.count(c) > 1})
    if doubled:
        raise where.error(f"{path}, line {line}: column {doubled[0]!r} appears twice",
                          (section, "file"))
    given = spec.columns is not None
    columns = list(spec.columns) if given else [c for c in header if c not in NOT_PARAMETERS]
    if not columns:
        raise where.error(f"{path}, line {line}: no parameter columns (only "
                          f"{', '.join(header)}); expected dotted parameter paths",
                          (section, "file"))
    for i, name in enumerate(columns):
        loc = (section, "columns", str(i)) if given else (section, "file")
        if given and name not in header:
            raise where.error(f"{name!r} is not a column of {path} (its columns: "
                              f"{', '.join(header)})", loc)
        if given and columns.count(name) > 1:
            raise where.error(f"{name!r} is listed twice", loc)
        try:
            check_parameter_path(Located(str(path), {}), name, (),
                                 numeric_for="can take an empirical distribution")
        except ScenarioError as exc:
            raise where.error(f"{path}, line {line}: column {exc.message}", loc) from None
    return columns


def _table_number(text: str, name: str, at: str, where: Located, loc: tuple[str, ...]
                  ) -> float:
    """One cell as a finite number (whole, for an integer parameter)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise where.error(f"{at}, column {name!r}: expected a finite number, got {shown!r}",
                          loc)
    info = parameter_field(name) if name != OBJECTIVE else None
    if info is not None and info.annotation is int and not value.is_integer():
        raise where.error(f"{at}, column {name!r}: {name} is a whole number, got {text}", loc)
    return value


def draw_parameters(distributions: dict[str, Distribution], seed: int,
                    replications: int, *, correlation: dict[str, Any] | None = None,
                    empirical: EmpiricalTable | None = None) -> list[dict[str, float]]:
    """One joint draw of every uncertain parameter per replication (inverse CDF).

    Args:
        distributions: by dotted scenario path.
        seed: the comparison's root seed.
        replications: number of replications (PSA iterations).
        correlation: optional ``{"parameters": [names], "matrix": [[...]]}``: those
            parameters are drawn through a Gaussian copula (:func:`correlate`).
        empirical: optional table whose parameters are drawn as one whole row per
            replication (:func:`empirical_rows`); none of them may be in ``distributions``.

    Returns:
        ``replications`` mappings ``{dotted path: value}``; replication r's draw depends
        only on (seed, r, parameter name) and, for correlated parameters, the matrix (for
        an empirical table's parameters: on (seed, r) and the table).
    """
    uniforms = {name: np.array([psa_uniform(seed, r, name) for r in range(replications)])
                for name in distributions}
    if correlation:
        names = list(correlation["parameters"])
        mixed = correlate(np.column_stack([uniforms[n] for n in names]),
                          correlation["matrix"])
        uniforms.update({n: mixed[:, i] for i, n in enumerate(names)})
    columns = {}
    for name, dist in distributions.items():
        columns[name] = np.asarray(dist.ppf(uniforms[name]), dtype=float)  # one scipy call
    if empirical is not None:
        both = sorted(set(empirical.columns) & set(distributions))
        if both:
            raise ValueError(f"{', '.join(both)}: both in the empirical table and given a "
                             "distribution; keep each parameter in one")
        rows = empirical.rows(seed, replications)
        columns.update({name: empirical.values[rows, j]
                        for j, name in enumerate(empirical.columns)})
    return [{name: float(col[r]) for name, col in columns.items()}
            for r in range(replications)]
