"""The result of one run: time series + summary + provenance (one results type)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class RunResult:
    """One run: ``summary``, ``timeseries``, ``provenance`` and ``lifetime_curves``.

    ``summary`` is a flat dict, ``timeseries`` a DataFrame, ``lifetime_curves`` the cumulative
    incidence by lifetime-stage year (None without the lifetime stage).
    """

    summary: dict[str, float]
    timeseries: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    lifetime_curves: pd.DataFrame | None = None

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write summary.json, timeseries.parquet and provenance.json into ``out_dir``.

        With the lifetime stage, also lifetime.parquet.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"summary": out / "summary.json", "timeseries": out / "timeseries.parquet",
                 "provenance": out / "provenance.json"}
        paths["summary"].write_text(json.dumps(self.summary, indent=2))
        self.timeseries.to_parquet(paths["timeseries"], index=False)
        paths["provenance"].write_text(json.dumps(self.provenance, indent=2, default=str))
        if self.lifetime_curves is not None:
            paths["lifetime"] = out / "lifetime.parquet"
            self.lifetime_curves.to_parquet(paths["lifetime"], index=False)
        return paths
