"""Probabilistic sensitivity analysis (PSA): distributions of uncertain parameters.

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

References:
    Briggs A, Claxton K, Sculpher M. Decision Modelling for Health Economic Evaluation.
    Oxford University Press 2006, chapter 4 (choosing distributions, method of moments).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

from sim.core.rng import seed_sequence
from sim.params.located import Located, Strict
from sim.params.scenario import check_parameter_path

DISTRIBUTIONS = ("normal", "lognormal", "gamma", "beta", "uniform", "triangular")
"""Distribution names accepted under ``psa:``."""

_PSA_STREAM = 0x50534121
"""Spawn key that separates PSA draws from the runs' own seeds (which use derive_seed)."""


DEFAULT = "default"
"""The word for "the parameter's current value" in a distribution (mean or mode)."""



class RangeSpec(Strict):
    """An uncertain input's range and shape, as sweep and sensitivity files write it.

    ``low``/``high`` (or ``around_default``, resolved by :func:`resolve_ranges` at the base
    scenario's value) bound a ``unif`` or ``triang`` input, or give the 95% interval of a
    ``norm`` or ``lognorm`` one.
    """

    low: float | None = Field(None, description="lower end of the range (or of its 95% "
                              "interval for norm and lognorm), in the parameter's unit")
    high: float | None = Field(None, description="upper end (as low)")
    around_default: float | None = Field(
        None, gt=0, le=10, description="instead of low/high: the range default*(1 -/+ this), "
        "e.g. 0.5 for +-50% around the base scenario's value")
    dist: Literal["unif", "norm", "lognorm", "triang"] = Field("unif", description="shape")
    mode: float | None = Field(None, description="peak of a triang input")

class Relative(BaseModel):
    """Spreads given as shares of the current default (``relative: {sd: 0.2}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    sd: float = Field(gt=0, le=10, description="sd as a share of |default|")


class Distribution(BaseModel):
    """One uncertain parameter's distribution (mean/sd for all but uniform and triangular).

    - ``normal``: mean, sd; optional min/max clip (for example ``max: 0`` for a decrement).
    - ``lognormal``: mean > 0 and sd of the value itself (not of its log).
    - ``gamma``: mean > 0, sd > 0 (method of moments: shape = mean²/sd², scale = sd²/mean).
    - ``beta``: 0 < mean < 1 and sd² < mean·(1 - mean) (method of moments).
    - ``uniform``: low < high.
    - ``triangular``: low <= mode <= high, low < high.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    dist: Literal["normal", "lognormal", "gamma", "beta", "uniform", "triangular"] = Field(
        description="distribution: normal, lognormal, gamma, beta, uniform or triangular")
    mean: float | Literal["default"] | None = Field(
        None, description="mean (normal, lognormal, gamma, beta); 'default': the current value")
    sd: float | None = Field(None, ge=0, description="standard deviation (as mean)")
    relative: Relative | None = Field(None, description="spread as a share of the current "
                                      "default, e.g. {sd: 0.2} (instead of sd)")
    low: float | None = Field(None, description="lower end (uniform, triangular)")
    high: float | None = Field(None, description="upper end (uniform, triangular)")
    mode: float | Literal["default"] | None = Field(
        None, description="peak (triangular); 'default': the current value")
    min: float | None = Field(None, description="normal only: clip draws below this")
    max: float | None = Field(None, description="normal only: clip draws above this")
    source: str = Field("", description="where the distribution comes from (shown in reports)")

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        needs = {"normal": ("mean", "sd"), "lognormal": ("mean", "sd"), "gamma": ("mean", "sd"),
                 "beta": ("mean", "sd"), "uniform": ("low", "high"),
                 "triangular": ("low", "mode", "high")}[self.dist]
        allowed = set(needs) | ({"min", "max"} if self.dist == "normal" else set())
        missing = [k for k in needs if getattr(self, k) is None
                   and not (k == "sd" and self.relative is not None)]
        if self.relative is not None and self.sd is not None:
            raise ValueError("give sd or relative: {sd: ...}, not both")
        if self.relative is not None and "sd" not in needs:
            raise ValueError(f"relative: {{sd: ...}} needs a distribution with an sd, not "
                             f"{self.dist}")
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(needs)}; missing "
                             f"{', '.join(missing)}")
        extra = [k for k in ("mean", "sd", "low", "high", "mode", "min", "max")
                 if getattr(self, k) is not None and k not in allowed]
        if extra:
            raise ValueError(f"a {self.dist} distribution takes {', '.join(sorted(allowed))}; "
                             f"remove {', '.join(extra)}")
        if self.pending:
            return self  # checked once resolved against the default (see :meth:`at_default`)
        m, s = self.mean, self.sd
        if self.dist in ("lognormal", "gamma") and not (m > 0 and s > 0):  # type: ignore[operator]
            raise ValueError(f"a {self.dist} distribution needs mean > 0 and sd > 0, got "
                             f"mean={m:g}, sd={s:g}")
        if self.dist == "beta":
            if not 0 < m < 1:  # type: ignore[operator]
                raise ValueError(f"a beta distribution needs 0 < mean < 1, got mean={m:g}")
            if not 0 < s**2 < m * (1 - m):  # type: ignore[operator]
                raise ValueError(f"a beta distribution needs 0 < sd < sqrt(mean*(1-mean)) = "
                                 f"{math.sqrt(m * (1 - m)):.4g}, got sd={s:g}")  # type: ignore[operator]
        if self.dist == "uniform" and not self.low < self.high:  # type: ignore[operator]
            raise ValueError(f"low must be < high, got low={self.low:g}, high={self.high:g}")
        if self.dist == "triangular" and not (
            self.low <= self.mode <= self.high and self.low < self.high  # type: ignore[operator]
        ):
            raise ValueError(f"a triangular distribution needs low <= mode <= high and "
                             f"low < high, got {self.low:g}, {self.mode:g}, {self.high:g}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must not exceed max ({self.max:g})")
        return self

    @property
    def pending(self) -> bool:
        """Whether it refers to the current default (resolve with :meth:`at_default`)."""
        return DEFAULT in (self.mean, self.mode) or self.relative is not None

    def at_default(self, default: float) -> Distribution:
        """The distribution with ``default`` and ``relative`` spreads filled in.

        Raises:
            ValueError: the resulting distribution is invalid (e.g. a gamma around a
                default of 0); the message says which value it used.
        """
        if not self.pending:
            return self
        data = self.model_dump(exclude={"relative"})
        for key in ("mean", "mode"):
            if data[key] == DEFAULT:
                data[key] = float(default)
        if self.relative is not None:
            data["sd"] = self.relative.sd * abs(float(default))
        try:
            return Distribution.model_validate(data)
        except ValueError as exc:
            detail = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
            raise ValueError(f"around the current default {default:g}: "
                             f"{detail.removeprefix('Value error, ')}") from None

    # ---------------------------------------------------------------- scipy view

    def frozen(self) -> stats.rv_continuous:
        """The distribution as a frozen scipy.stats object (before any normal clip)."""
        m, s = self.mean, self.sd
        if self.dist == "normal":
            return stats.norm(m, s)
        if self.dist == "lognormal":
            sigma2 = math.log1p((s / m) ** 2)  # type: ignore[operator]
            return stats.lognorm(math.sqrt(sigma2), scale=math.exp(math.log(m) - sigma2 / 2))
        if self.dist == "gamma":
            return stats.gamma((m / s) ** 2, scale=s**2 / m)  # type: ignore[operator]
        if self.dist == "beta":
            k = m * (1 - m) / s**2 - 1  # type: ignore[operator]
            return stats.beta(m * k, (1 - m) * k)  # type: ignore[operator]
        if self.dist == "uniform":
            return stats.uniform(self.low, self.high - self.low)  # type: ignore[operator]
        width = self.high - self.low  # type: ignore[operator]
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)  # type: ignore[operator]

    def ppf(self, u: np.ndarray | float) -> np.ndarray | float:
        """Quantile function (with the normal clip applied)."""
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
        if self.dist in ("uniform",):
            return f"uniform({self.low:g} to {self.high:g})"
        if self.dist == "triangular":
            return f"triangular({self.low:g}, mode {self.mode:g}, {self.high:g})"
        text = f"{self.dist}(mean {self.mean:g}, sd {self.sd:g}"
        if self.min is not None:
            text += f", min {self.min:g}"
        if self.max is not None:
            text += f", max {self.max:g}"
        return text + ")"


def resolve_ranges(specs: dict[str, BaseModel], base: dict[str, Any], where: Located,
                   section: str) -> dict[str, BaseModel]:
    """Fill ``low``/``high`` (and a triang ``mode``) of inputs given ``around_default: f``.

    A sweep's or sensitivity file's input ``{around_default: 0.5}`` means the range from
    50% below to 50% above the parameter's value in ``base`` (the analysis' base scenario),
    so it stays centred when a default is recalibrated; a triang input peaks at the default.

    Args:
        specs: input specs by dotted path (pydantic models with ``low``, ``high``, ``mode``
            and ``around_default`` fields).
        base: the resolved base scenario as a dict.
        where: the file, for located errors.
        section: its key (``inputs``, ``uncertain``).
    """
    out = {}
    for name, spec in specs.items():
        share = getattr(spec, "around_default", None)
        if share is None:
            out[name] = spec
            continue
        loc = (section, name)
        check_parameter_path(where, name, loc, numeric_for="can be uncertain inputs")
        if spec.low is not None or spec.high is not None:  # type: ignore[attr-defined]
            raise where.error("give low and high, or around_default, not both", loc)
        node: Any = base
        for key in name.split("."):
            node = node[key]
        default = float(node)
        if default == 0:
            raise where.error(f"around_default needs a nonzero default; {name} is 0: give "
                              "low and high", (*loc, "around_default"))
        low, high = sorted((default * (1 - share), default * (1 + share)))
        update = {"low": low, "high": high}
        if spec.dist == "triang" and spec.mode is None:  # type: ignore[attr-defined]
            update["mode"] = default
        out[name] = spec.model_copy(update=update)
    return out


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


def draw_parameters(distributions: dict[str, Distribution], seed: int,
                    replications: int, *, correlation: dict[str, Any] | None = None
                    ) -> list[dict[str, float]]:
    """One joint draw of every uncertain parameter per replication (inverse CDF).

    Args:
        distributions: by dotted scenario path.
        seed: the comparison's root seed.
        replications: number of replications (PSA iterations).
        correlation: optional ``{"parameters": [names], "matrix": [[...]]}``: those
            parameters are drawn through a Gaussian copula (:func:`correlate`).

    Returns:
        ``replications`` mappings ``{dotted path: value}``; replication r's draw depends
        only on (seed, r, parameter name) and, for correlated parameters, the matrix.
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
    return [{name: float(col[r]) for name, col in columns.items()}
            for r in range(replications)]
