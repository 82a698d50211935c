"""Write the two networks of the Centola 2010 reproduction (run once; outputs committed).

Centola (Science 2010;329:1194) compared clustered-lattice networks with random networks of
the same size and degree (each participant had 6 neighbours; networks of 98-144 people).
Here: 144 nodes. ``centola_clustered.csv`` is a triangular lattice on a 12 x 12 torus
(degree 6, clustering 0.4); ``centola_random.csv`` is the same lattice after degree-preserving
double-edge swaps (random 6-regular graph, clustering about 0.03).

Usage: python experiments/validation/data/make_centola_networks.py
"""

from pathlib import Path

import networkx as nx

SIDE = 12
SEED = 2010
HERE = Path(__file__).resolve().parent


def lattice(side: int) -> nx.Graph:
    """Triangular lattice on a torus: neighbours (0,+-1), (+-1,0), (+1,-1), (-1,+1)."""
    g = nx.Graph()
    for r in range(side):
        for c in range(side):
            for dr, dc in ((0, 1), (1, 0), (1, -1)):
                g.add_edge(r * side + c, ((r + dr) % side) * side + (c + dc) % side)
    return g


def write(g: nx.Graph, name: str) -> None:
    rows = sorted(tuple(sorted(e)) for e in g.edges())
    (HERE / name).write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in rows))


if __name__ == "__main__":
    clustered = lattice(SIDE)
    rand = clustered.copy()
    nx.double_edge_swap(rand, nswap=10 * rand.number_of_edges(), max_tries=10**6, seed=SEED)
    assert {d for _, d in rand.degree()} == {6} and nx.is_connected(rand)
    write(clustered, "centola_clustered.csv")
    write(rand, "centola_random.csv")
    print(f"clustering: lattice {nx.average_clustering(clustered):.3f}, "
          f"random {nx.average_clustering(rand):.3f}")
