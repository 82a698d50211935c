"""Experimental designs: the rows of parameter values a sweep runs.

Each function returns a DataFrame with one column per parameter (dotted path) and one row
per design point (index ``point``, 0..n-1). Sampled designs are seeded: identical calls give
identical points.

* :func:`grid_design`: the Cartesian product of value lists (first parameter slowest).
* :func:`list_design`: hand-picked rows.
* :func:`lhs_design`: a Latin hypercube (``scipy.stats.qmc.LatinHypercube``) mapped through
  each input's distribution.
* :func:`sobol_design` and :func:`morris_design`: Saltelli's scheme and Morris trajectories,
  drawn by :func:`sim.analyses.sensitivity.sample` (SALib), so a sweep's points can be
  analysed by :func:`sim.analyses.sensitivity.analyze`.

Ranges use the vocabulary of :class:`sim.analyses.sensitivity.Input`: ``low``/``high`` are
the ends of a uniform or triangular range, or the central 95% interval of a normal or
log-normal input. Parameters whose scenario field is an integer are rounded to the nearest
integer (``integer=`` argument).

References:
    McKay M.D., Beckman R.J., Conover W.J. (1979) Technometrics 21:239-245 (LHS).
    Saltelli A. et al. (2010) Comput. Phys. Commun. 181:259-270 (Sobol' design).
    Morris M.D. (1991) Technometrics 33:161-174.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.analyses.sensitivity import Input, sample
from sim.core.rng import seed_sequence

METHODS = ("grid", "list", "lhs", "sobol", "morris")
"""Design methods a sweep file may name."""


def grid_design(values: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Every combination of the given values (the first parameter varies slowest).

    Args:
        values: parameter name -> non-empty list of values.

    Returns:
        ``prod(len(v))`` rows; no parameters gives one empty row (the base point).
    """
    names = list(values)
    for name in names:
        if len(values[name]) == 0:
            raise ValueError(f"grid parameter '{name}' has no values")
    rows = list(itertools.product(*(values[n] for n in names)))
    return _frame([dict(zip(names, row, strict=True)) for row in rows], names)


def list_design(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Hand-picked rows; every row must set the same parameters.

    Raises:
        ValueError: an empty list, or a row whose keys differ from the first row's.
    """
    if not rows:
        raise ValueError("a list design needs at least one row")
    names = list(rows[0])
    for i, row in enumerate(rows):
        if set(row) != set(names):
            missing, extra = set(names) - set(row), set(row) - set(names)
            raise ValueError(
                f"row {i + 1} sets different parameters from row 1"
                + (f"; missing {', '.join(sorted(missing))}" if missing else "")
                + (f"; extra {', '.join(sorted(extra))}" if extra else "")
            )
    return _frame([dict(row) for row in rows], names)


def lhs_design(
    inputs: Sequence[Input], n: int, *, seed: int, integer: Collection[str] = ()
) -> pd.DataFrame:
    """A Latin hypercube of ``n`` points, each input through its distribution's quantiles.

    Args:
        inputs: uncertain inputs (one or more).
        n: number of points (>= 1).
        seed: root seed; the hypercube uses its own named stream of it.
        integer: names of inputs to round to the nearest integer.
    """
    if n < 1:
        raise ValueError(f"LHS needs n >= 1 points, got {n}")
    rng = np.random.default_rng(seed_sequence(int(seed), "sweep.lhs"))
    unit = qmc.LatinHypercube(d=len(inputs), rng=rng).random(n)
    columns = {inp.name: _quantile(inp, unit[:, j]) for j, inp in enumerate(inputs)}
    return _finish(pd.DataFrame(columns), integer)


def sobol_design(
    inputs: Sequence[Input], n: int, *, seed: int, second_order: bool = False,
    integer: Collection[str] = (),
) -> pd.DataFrame:
    """Saltelli's Sobol' design: N(D+2) rows, N(2D+2) with ``second_order`` (N a power of 2)."""
    X = sample(inputs, "sobol", n, seed=seed, calc_second_order=second_order)
    return _finish(X, integer)


def morris_design(
    inputs: Sequence[Input], n: int, *, seed: int, num_levels: int = 4,
    integer: Collection[str] = (),
) -> pd.DataFrame:
    """Morris elementary-effect trajectories: ``n`` trajectories of D+1 rows each."""
    X = sample(inputs, "morris", n, seed=seed, num_levels=num_levels)
    return _finish(X, integer)


def expected_rows(method: str, n_inputs: int, n: int, *, second_order: bool = False) -> int:
    """Rows a sampled design gives: lhs n, sobol N(D+2) or N(2D+2), morris N(D+1)."""
    if method == "lhs":
        return n
    if method == "sobol":
        return n * (2 * n_inputs + 2 if second_order else n_inputs + 2)
    if method == "morris":
        return n * (n_inputs + 1)
    raise ValueError(f"rows of a {method} design depend on its values, not on n")


def _quantile(inp: Input, u: np.ndarray) -> np.ndarray:
    """Map uniform draws to ``inp``'s distribution (the numbers SALib would give)."""
    return np.asarray(inp.distribution().ppf(u), dtype=float)


def _finish(X: pd.DataFrame, integer: Collection[str]) -> pd.DataFrame:
    X = X.copy()
    X.attrs = {}
    for name in X.columns:
        if name in integer:
            X[name] = np.rint(X[name].to_numpy(dtype=float)).astype(np.int64)
    X.index = pd.RangeIndex(len(X), name="point")
    return X


def _frame(rows: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    X = pd.DataFrame(rows, columns=names) if names else pd.DataFrame(index=range(len(rows)))
    X.index = pd.RangeIndex(len(X), name="point")
    return X
