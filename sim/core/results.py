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
    pandas, a quarter of its start-up. ``save`` writes a DataFrame as edited since it was read.
    """

    def __init__(self, summary: dict[str, float], timeseries: Table,
                 provenance: dict[str, Any] | None = None,
                 lifetime_curves: Table | None = None) -> None:
        self.summary = summary
        self.provenance = {} if provenance is None else provenance
        self._tables = {"timeseries": _arrow(timeseries)}
        if lifetime_curves is not None:
            self._tables["lifetime"] = _arrow(lifetime_curves)

    def __repr__(self) -> str:
        rows = self._tables["timeseries"].num_rows
        lifetime = "with" if "lifetime" in self._tables else "without"
        return (f"RunResult({len(self.summary)} summary outcomes, {rows} recorded days, "
                f"{lifetime} lifetime curves, seed={self.provenance.get('seed')!r})")

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
        read = {"timeseries": "timeseries", "lifetime": "lifetime_curves"}
        for name, table in self._tables.items():
            paths.setdefault(name, out / f"{name}.parquet")
            frame = self.__dict__.get(read[name])  # the DataFrame, if it has been read
            pq.write_table(table if frame is None else _arrow(frame), paths[name])
        return paths


def _arrow(table: Table) -> pa.Table:
    """A table of a result as an Arrow table (see ``Table``)."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, Sequence):  # rows: one dict per recorded day
        keys = dict.fromkeys(key for row in table for key in row)
        table = {key: [row.get(key) for row in table] for key in keys}  # None: null
    if isinstance(table, Mapping):
        return pa.Table.from_arrays([_column(v) for v in table.values()], names=list(table))
    return pa.Table.from_pandas(table, preserve_index=None)  # a DataFrame, as to_parquet


def _column(values: Sequence[float] | np.ndarray) -> pa.Array:
    """A column as an Arrow array, numbers from a copy of their numpy buffer.

    ``pa.array`` imports pandas to check its input's type (0.2 s, a sixth of the start-up
    of ``peersupport run``); a numeric buffer needs no check. As ``pa.array`` on a DataFrame
    column does, NaN becomes null.
    """
    x = np.array(values)
    if x.dtype.kind not in "fiu" or x.ndim != 1:
        return pa.array(x)
    x = np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))  # Arrow is native-endian
    validity, nulls = None, 0
    if x.dtype.kind == "f" and np.isnan(x).any():
        valid = ~np.isnan(x)
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = len(x) - int(valid.sum())
    return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x),
                                 [validity, pa.py_buffer(x)], null_count=nulls)
