"""What the page and the lessons measure on a running model (numpy only)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def tie_pairs(adjacency: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every undirected tie, each once (i < j)."""
    coo = sp.coo_matrix(adjacency)
    keep = coo.row < coo.col
    return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)


def group_tie_pairs(group: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, k) of every group tie once (i < j); ``group.data[k]`` is its strength.

    The model updates tie strengths in place in ``group.data``, so ``k`` stays valid.
    """
    rows = np.repeat(np.arange(group.shape[0]), np.diff(group.indptr))
    keep = np.flatnonzero(rows < group.indices)
    return rows[keep].astype(np.int64), group.indices[keep].astype(np.int64), keep


def tie_correlation(values: np.ndarray, i: np.ndarray, j: np.ndarray) -> float:
    """Pearson correlation of ``values`` between the two ends of each tie.

    Both orientations of every tie are used, so the result does not depend on which end
    is called i. NaN when there are no ties or no variation.

    References: Christakis NA, Fowler JH. N Engl J Med 2007;357:370-9 (correlation of
    an outcome between connected people); Shalizi CR, Thomas AC. Sociol Methods Res
    2011;40:211-39 (why it cannot separate influence from homophily).
    """
    if i.shape[0] == 0:
        return float("nan")
    x = np.concatenate([values[i], values[j]])
    y = np.concatenate([values[j], values[i]])
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return float("nan")
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def posters_share(posts_total: np.ndarray, members: np.ndarray | None = None) -> float:
    """Share of (non-leader) members who posted at least once."""
    p = posts_total if members is None else posts_total[members]
    return float((p > 0).mean()) if p.size else float("nan")
