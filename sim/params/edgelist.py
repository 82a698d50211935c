"""Read a background network's edge list (CSV of 0-based patient ids), with located errors.

Lives with the scenario loader because a scenario is checked against its edge list before
any run (unknown patient ids are input errors, reported with file and line).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sim.params.errors import ScenarioError
from sim.params.files import regular_file

INDEX = np.int32
"""Patient index dtype of the edge arrays (matches the network's CSR indices)."""


def read_edge_list(path: Path, n: int, where: tuple[str, int | None] = ("", None)
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Read 'source,target' rows of 0-based patient ids.

    Reject ids outside 0..n-1, a third column (weights are not supported) and anything but a regular
    file.
    """
    label = str(path)
    regular_file(path, "edge list file", file=where[0], line=where[1],
                 key="network.background.edge_list")
    us, vs = [], []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            if lineno == 1 and not row[0].strip().lstrip("-").isdigit():
                continue  # header
            if len(row) != 2:  # a third column would be a weight the model cannot use
                raise ScenarioError(
                    f"expected two columns (source,target), got {len(row)}; edge weights "
                    "are not supported (set network.background.strength instead)",
                    file=label, line=lineno)
            try:
                a, b = int(row[0]), int(row[1])
            except ValueError:  # the row itself is not shown: the file may not be ours
                raise ScenarioError("expected two integer patient ids (source,target)",
                                    file=label, line=lineno) from None
            for pid in (a, b):
                if not 0 <= pid < n:
                    raise ScenarioError(
                        f"edge names unknown patient {pid}; patients are 0..{n - 1} "
                        f"(population.size = {n})", file=label, line=lineno)
            us.append(a)
            vs.append(b)
    return np.asarray(us, dtype=INDEX), np.asarray(vs, dtype=INDEX)
