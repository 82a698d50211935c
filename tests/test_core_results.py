"""The one results type: where it lives, its public names, and what it saves."""

from __future__ import annotations

import json

import pandas as pd

import sim
import sim.runner
from sim.core.results import RunResult


def test_run_result_is_one_type_under_its_public_names():
    assert sim.RunResult is RunResult, "sim.RunResult must be sim.core.results.RunResult"
    assert sim.runner.RunResult is RunResult, "sim.runner re-exports RunResult"


def test_run_result_saves_summary_timeseries_and_provenance(tmp_path):
    ts = pd.DataFrame({"day": [0.0, 1.0], "hba1c_mean": [8.0, 7.9]})
    result = RunResult(summary={"hba1c_change": -0.1}, timeseries=ts,
                       provenance={"seed": 3})
    paths = result.save(tmp_path / "out")
    assert json.loads(paths["summary"].read_text()) == {"hba1c_change": -0.1}
    assert pd.read_parquet(paths["timeseries"]).equals(ts), "time series must round-trip"
    assert json.loads(paths["provenance"].read_text()) == {"seed": 3}
