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


def test_rows_and_columns_save_like_a_dataframe(tmp_path):
    """The runner hands over rows (the time series) and columns (the lifetime curves) without
    pandas; they must read back as the DataFrame they stand for, dtypes included."""
    import numpy as np

    rows = [{"day": 0.0, "hba1c_mean": 8.0}, {"day": 1.0, "hba1c_mean": 7.9}]
    curves = {"year": np.arange(1, 4), "death": np.array([0.01, 0.03, 0.06])}
    result = RunResult(summary={}, timeseries=rows, lifetime_curves=curves)
    paths = result.save(tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["timeseries"]), pd.DataFrame(rows))
    pd.testing.assert_frame_equal(pd.read_parquet(paths["lifetime"]), pd.DataFrame(curves))
    pd.testing.assert_frame_equal(result.timeseries, pd.DataFrame(rows))
    pd.testing.assert_frame_equal(result.lifetime_curves, pd.DataFrame(curves))
    assert RunResult(summary={}, timeseries=rows).lifetime_curves is None
