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

DISTRIBUTIONS = ("normal", "lognormal", "gamma", "beta", "uniform", "triangular")
"""Distribution names accepted under ``psa:``."""

_PSA_STREAM = 0x50534121
"""Spawn key that separates PSA draws from the runs' own seeds (which use derive_seed)."""


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
    mean: float | None = Field(None, description="mean (normal, lognormal, gamma, beta)")
    sd: float | None = Field(None, ge=0, description="standard deviation (as mean)")
    low: float | None = Field(None, description="lower end (uniform, triangular)")
    high: float | None = Field(None, description="upper end (uniform, triangular)")
    mode: float | None = Field(None, description="peak (triangular)")
    min: float | None = Field(None, description="normal only: clip draws below this")
    max: float | None = Field(None, description="normal only: clip draws above this")
    source: str = Field("", description="where the distribution comes from (shown in reports)")

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        needs = {"normal": ("mean", "sd"), "lognormal": ("mean", "sd"), "gamma": ("mean", "sd"),
                 "beta": ("mean", "sd"), "uniform": ("low", "high"),
                 "triangular": ("low", "mode", "high")}[self.dist]
        allowed = set(needs) | ({"min", "max"} if self.dist == "normal" else set())
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(needs)}; missing "
                             f"{', '.join(missing)}")
        extra = [k for k in ("mean", "sd", "low", "high", "mode", "min", "max")
                 if getattr(self, k) is not None and k not in allowed]
        if extra:
            raise ValueError(f"a {self.dist} distribution takes {', '.join(sorted(allowed))}; "
                             f"remove {', '.join(extra)}")
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
