"""Read a background network's edge list (CSV of 0-based patient ids), with located errors.

Lives with the scenario loader because a scenario is checked against its edge list before
any run (unknown patient ids are input errors, reported with file and line).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sim.params.errors import ScenarioError

INDEX = np.int32
"""Patient index dtype of the edge arrays (matches the network's CSR indices)."""


def read_edge_list(path: Path, n: int, where: tuple[str, int | None] = ("", None)
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Read 'source,target' rows of 0-based patient ids; reject ids outside 0..n-1."""
    label = str(path)
    if not path.is_file():
        raise ScenarioError(f"edge list file not found: {label}", file=where[0], line=where[1],
                            path="network.background.edge_list")
    us, vs = [], []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            if lineno == 1 and not row[0].strip().lstrip("-").isdigit():
                continue  # header
            try:
                a, b = int(row[0]), int(row[1])
            except (ValueError, IndexError):
                raise ScenarioError(f"expected two integer patient ids, got {row!r}",
                                    file=label, line=lineno) from None
            for pid in (a, b):
                if not 0 <= pid < n:
                    raise ScenarioError(
                        f"edge names unknown patient {pid}; patients are 0..{n - 1} "
                        f"(population.size = {n})", file=label, line=lineno)
            us.append(a)
            vs.append(b)
    return np.asarray(us, dtype=INDEX), np.asarray(vs, dtype=INDEX)
