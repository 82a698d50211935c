"""The result of one run: time series + summary + provenance (one results type)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class RunResult:
    """One run: ``summary`` (flat dict), ``timeseries`` (DataFrame), ``provenance``."""

    summary: dict[str, float]
    timeseries: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write summary.json, timeseries.parquet and provenance.json into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"summary": out / "summary.json", "timeseries": out / "timeseries.parquet",
                 "provenance": out / "provenance.json"}
        paths["summary"].write_text(json.dumps(self.summary, indent=2))
        self.timeseries.to_parquet(paths["timeseries"], index=False)
        paths["provenance"].write_text(json.dumps(self.provenance, indent=2, default=str))
        return paths
