"""The result of one run: time series + summary + provenance (one results type)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

type Table = pd.DataFrame | pa.Table | Sequence[Mapping[str, float]] | Mapping[str, np.ndarray]
"""A table of a result as given: a DataFrame, an Arrow table, rows or columns."""


class RunResult:
    """One run: ``summary``, ``timeseries``, ``provenance`` and ``lifetime_curves``.

    ``summary`` is a flat dict, ``timeseries`` a DataFrame (one row per recorded day),
    ``lifetime_curves`` the cumulative incidence by lifetime-stage year as a DataFrame (None
    without the lifetime stage). The tables are held as Arrow tables and become DataFrames
    when first read, so a run that only saves its files (``peersupport run``) never imports
    pandas, a quarter of its start-up.
    """

    def __init__(self, summary: dict[str, float], timeseries: Table,
                 provenance: dict[str, Any] | None = None,
                 lifetime_curves: Table | None = None) -> None:
        self.summary = summary
        self.provenance = {} if provenance is None else provenance
        self._tables = {"timeseries": _arrow(timeseries)}
        if lifetime_curves is not None:
            self._tables["lifetime"] = _arrow(lifetime_curves)

    @functools.cached_property
    def timeseries(self) -> pd.DataFrame:
        """Population means by recorded day (``sim.core.outcomes.TIMESERIES_COLUMNS``)."""
        return self._tables["timeseries"].to_pandas()

    @functools.cached_property
    def lifetime_curves(self) -> pd.DataFrame | None:
        """Cumulative incidence of death and each event by lifetime-stage year, or None."""
        table = self._tables.get("lifetime")
        return None if table is None else table.to_pandas()

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write summary.json, timeseries.parquet and provenance.json into ``out_dir``.

        With the lifetime stage, also lifetime.parquet.
        """
        import pyarrow.parquet as pq

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"summary": out / "summary.json", "timeseries": out / "timeseries.parquet",
                 "provenance": out / "provenance.json"}
        paths["summary"].write_text(json.dumps(self.summary, indent=2))
        paths["provenance"].write_text(json.dumps(self.provenance, indent=2, default=str))
        for name, table in self._tables.items():
            paths.setdefault(name, out / f"{name}.parquet")
            pq.write_table(table, paths[name])
        return paths


def _arrow(table: Table) -> pa.Table:
    """A table of a result as an Arrow table (see ``Table``)."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, Sequence):  # rows: one dict per recorded day
        table = {key: [row[key] for row in table] for key in (table[0] if table else {})}
    if isinstance(table, Mapping):
        return pa.Table.from_arrays([_column(v) for v in table.values()], names=list(table))
    return pa.Table.from_pandas(table, preserve_index=False)  # a DataFrame


def _column(values: Sequence[float] | np.ndarray) -> pa.Array:
    """A column as an Arrow array; numbers zero-copy from numpy.

    ``pa.array`` imports pandas to check its input's type (0.2 s, a sixth of the start-up
    of ``peersupport run``); a numeric buffer needs no check.
    """
    x = np.ascontiguousarray(values)
    if x.dtype.kind not in "fiu":
        return pa.array(x)
    return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x), [None, pa.py_buffer(x)])
