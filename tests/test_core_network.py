"""Peer network: groups, and background degree and clustering against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim import load_scenario
from sim.core.network import build_network, small_world

N, K = 4000, 6


def _clustering(adj) -> float:
    return nx.average_clustering(nx.from_scipy_sparse_array(adj))


@pytest.mark.parametrize("p", [0.0, 0.1])
def test_small_world_degree_and_clustering_match_networkx(p):
    ours = small_world(N, K, p, np.random.default_rng(4))
    oracle = nx.watts_strogatz_graph(N, K, p, seed=4)
    degree = np.diff(ours.indptr)
    # rewiring can hit a node already tied (or itself); a few ties merge: within 2% of k
    assert degree.mean() == pytest.approx(K, rel=0.02), f"mean degree {degree.mean():.3f}"
    assert (ours != ours.T).nnz == 0, "background ties are symmetric"
    want = nx.average_clustering(oracle)
    # p = 0: both are the same ring lattice, C = 3(k-2)/(4(k-1)) = 0.6 exactly; p = 0.1:
    # same expectation, two independent draws of 4,000 nodes differ by about 0.01
    assert _clustering(ours) == pytest.approx(want, abs=1e-9 if p == 0 else 0.03), \
        f"clustering {_clustering(ours):.4f} vs networkx {want:.4f}"


def test_groups_are_cliques_with_one_leader_each():
    sc = load_scenario({"population": {"size": 250}, "network": {
        "group_size": 12, "peer_leaders": True, "background": {"kind": "none"}}})
    net = build_network(sc.network, 250, np.zeros(250), np.random.default_rng(1))
    sizes = np.bincount(net.group_id)
    assert sizes.sum() == 250 and set(sizes[:-1]) == {12}, sizes
    assert net.leader.sum() == net.n_groups, "one peer leader per group"
    degree = np.diff(net.group.indptr)
    assert np.array_equal(degree, sizes[net.group_id] - 1), "every member tied to all others"
    assert _clustering(net.group) == pytest.approx(1.0), "cliques are fully clustered"
    assert net.background.nnz == 0
