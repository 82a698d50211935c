"""Build the peer network: program groups (cliques) plus background ties, as CSR.

Groups are contiguous blocks of patient indices, so group members sit next to each
other in memory (patients are drawn i.i.d., so contiguous assignment is a random
assignment). Background generators work directly on arrays: networkx needs about
15 s and 1.75 GB for a 10^6-node small world; these take about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sim.params.edgelist import INDEX, read_edge_list
from sim.params.errors import ScenarioError
from sim.params.scenario import Network


@dataclass
class PeerNetwork:
    """Group ties (dynamic strength) and background ties (fixed strength).

    Attributes:
        group: CSR, group[i, j] = rapport between members i and j of the same group (today's,
            when a model moves it: it writes it out through ``write_rapport`` when read).
        group_rows: row index of every stored group tie (for pairwise updates).
        background: CSR of background tie strengths (symmetric).
        group_id: group of each patient; group_start: first member of each group.
        leader: True for each group's peer leader (its first member) when enabled.
        write_rapport: None, or called before ``group`` is read (``Simulation``: it keeps
            rapport in another form and writes it out only when someone looks).
    """

    group_ties: sp.csr_matrix
    group_rows: np.ndarray
    background: sp.csr_matrix
    group_id: np.ndarray
    group_start: np.ndarray
    leader: np.ndarray
    write_rapport: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def group(self) -> sp.csr_matrix:
        """The group ties (see the class docstring)."""
        if self.write_rapport is not None:
            self.write_rapport()
        return self.group_ties

    @property
    def n_groups(self) -> int:
        """Number of program groups."""
        return self.group_start.shape[0]

    def nbytes(self) -> int:
        """Memory held by the network arrays."""
        mats = (self.group_ties, self.background)
        return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in mats) + sum(
            a.nbytes for a in (self.group_rows, self.group_id, self.group_start, self.leader)
        )


def group_starts(n: int, group_size: int) -> np.ndarray:
    """First index of each group of ``group_size``; a last group of one joins the previous."""
    starts = np.arange(0, n, group_size, dtype=INDEX)
    if starts.shape[0] > 1 and n - starts[-1] < 2:
        starts = starts[:-1]
    return starts


def clique_csr(n: int, starts: np.ndarray, strength: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """CSR of cliques over the blocks [starts[g], starts[g+1]) and the row of every entry."""
    ends = np.append(starts[1:], n).astype(INDEX)
    sizes = ends - starts
    rows_parts, cols_parts = [], []
    # Only the last group may differ in size: build runs of equal size in index order,
    # each row-major (member, then neighbour), so the result is already CSR-sorted.
    run_edges = np.flatnonzero(np.diff(sizes)) + 1
    for lo, hi in zip(np.r_[0, run_edges], np.r_[run_edges, sizes.shape[0]], strict=True):
        k = int(sizes[lo])
        members = starts[lo:hi, None] + np.arange(k, dtype=INDEX)[None, :]
        off = ~np.eye(k, dtype=bool)
        rows_parts.append(np.broadcast_to(members[:, :, None], (hi - lo, k, k))[:, off].ravel())
        cols_parts.append(np.broadcast_to(members[:, None, :], (hi - lo, k, k))[:, off].ravel())
    rows = np.concatenate(rows_parts) if rows_parts else np.empty(0, INDEX)
    cols = np.concatenate(cols_parts) if cols_parts else np.empty(0, INDEX)
    indptr = np.zeros(n + 1, dtype=INDEX)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    data = np.full(rows.shape[0], strength, dtype=np.float64)
    return sp.csr_matrix((data, cols, indptr), shape=(n, n)), rows


def edges_to_csr(n: int, u: np.ndarray, v: np.ndarray, strength: float) -> sp.csr_matrix:
    """Symmetric CSR from undirected edges; self-loops and duplicates dropped."""
    keep = u != v
    u, v = u[keep].astype(np.int64), v[keep].astype(np.int64)
    keys = np.concatenate([u * n + v, v * n + u])
    keys.sort()
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
    rows, cols = (keys // n).astype(INDEX), (keys % n).astype(INDEX)
    indptr = np.zeros(n + 1, dtype=INDEX)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    data = np.full(rows.shape[0], strength, dtype=np.float64)
    return sp.csr_matrix((data, cols, indptr), shape=(n, n))


def ring_lattice_edges(order: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining each node to its k/2 successors along ``order`` (a ring)."""
    n = order.shape[0]
    half = max(k // 2, 0)
    if n < 2 or half == 0:
        return np.empty(0, INDEX), np.empty(0, INDEX)
    half = min(half, (n - 1) // 2 or 1)
    pos = np.arange(n)
    u = np.repeat(order, half)
    v = order[(pos[:, None] + np.arange(1, half + 1)[None, :]).ravel() % n]
    return u, v


def rewire(u: np.ndarray, v: np.ndarray, n: int, p: float, rng: np.random.Generator
           ) -> np.ndarray:
    """Watts-Strogatz rewiring: each edge's far end moves to a random node with prob p."""
    moved = rng.random(u.shape[0]) < p
    targets = rng.integers(0, n, u.shape[0])
    return np.where(moved, targets, v)


def small_world(n: int, k: int, p: float, rng: np.random.Generator) -> sp.csr_matrix:
    """Watts-Strogatz small world over a random ordering of patients (unit strength)."""
    order = rng.permutation(n)
    u, v = ring_lattice_edges(order, k)
    v = rewire(u, v, n, p, rng)
    return edges_to_csr(n, u, v, 1.0)


def scale_free(n: int, k: int, rng: np.random.Generator, exponent: float = 2.5
               ) -> sp.csr_matrix:
    """Chung-Lu graph with power-law expected degrees (mean about k).

    References: Chung F, Lu L. Ann Comb 2002;6:125-45 (expected-degree random graphs).
    """
    m = n * k // 2
    if n < 2 or m == 0:
        return edges_to_csr(n, np.empty(0, INDEX), np.empty(0, INDEX), 1.0)
    weights = (1.0 - rng.random(n)) ** (-1.0 / (exponent - 1.0))
    weights /= weights.sum()
    u = rng.choice(n, m, p=weights)
    v = rng.choice(n, m, p=weights)
    return edges_to_csr(n, u, v, 1.0)


def homophilous(n: int, k: int, homophily: float, trait: np.ndarray,
                rng: np.random.Generator) -> sp.csr_matrix:
    """Ties between patients close in ``trait`` (adherence propensity), 10% rewired.

    Patients are ordered by trait plus noise whose size falls as homophily rises,
    then joined along that ordering: homophily 0 gives random ties.
    """
    spread = float(np.std(trait)) or 1.0
    noise_sd = spread * (1.0 - homophily) / max(homophily, 1e-3)
    order = np.argsort(trait + rng.normal(0.0, noise_sd, n), kind="stable")
    u, v = ring_lattice_edges(order, k)
    v = rewire(u, v, n, 0.1, rng)
    return edges_to_csr(n, u, v, 1.0)


def build_network(spec: Network, n: int, trait: np.ndarray, rng: np.random.Generator
                  ) -> PeerNetwork:
    """Build groups and background ties from the network stream."""
    starts = group_starts(n, spec.group_size)
    group, rows = clique_csr(n, starts, spec.initial_group_strength)
    group_id = np.repeat(np.arange(starts.shape[0], dtype=INDEX),
                         np.diff(np.append(starts, n)))
    leader = np.zeros(n, dtype=bool)
    if spec.peer_leaders:
        leader[starts] = True
    bg = spec.background
    k = bg.mean_degree
    if bg.kind == "none" or (k == 0 and bg.kind != "edge_list"):
        background = edges_to_csr(n, np.empty(0, INDEX), np.empty(0, INDEX), 1.0)
    elif bg.kind == "small_world":
        background = small_world(n, k, bg.rewire_prob, rng)
    elif bg.kind == "scale_free":
        background = scale_free(n, k, rng)
    elif bg.kind == "homophily":
        background = homophilous(n, k, bg.homophily, trait, rng)
    else:
        if bg.edge_list is None:
            raise ScenarioError("network.background.kind is edge_list but no edge_list is given",
                                path="network.background.edge_list")
        u, v = read_edge_list(Path(bg.edge_list), n)
        background = edges_to_csr(n, u, v, 1.0)
    background.data *= bg.strength
    return PeerNetwork(group_ties=group, group_rows=rows, background=background,
                       group_id=group_id, group_start=starts, leader=leader)
