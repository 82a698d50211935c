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


def test_columns_keep_nan_as_null_byte_order_and_their_own_copy(tmp_path):
    """NaN is saved as null (as pandas saves it), a big-endian column reads back as its
    values, and editing the caller's array after the fact changes nothing."""
    import numpy as np
    import pyarrow.parquet as pq

    death = np.array([0.01, np.nan, 0.06])
    year = np.arange(1, 4, dtype=">i8")
    result = RunResult(summary={}, timeseries={"day": np.array([0.0])},
                       lifetime_curves={"year": year, "death": death})
    death[0] = 99.0
    paths = result.save(tmp_path)
    table = pq.read_table(paths["lifetime"])
    assert table["death"].null_count == 1
    assert table["year"].to_pylist() == [1, 2, 3]
    assert table["death"].to_pylist() == [0.01, None, 0.06]
    assert np.isnan(result.lifetime_curves["death"][1])


def test_rows_with_different_keys_keep_every_column():
    rows = [{"day": 0.0, "hba1c_mean": 8.0, "arm": "a"}, {"day": 1.0, "pdc_mean": 0.7}]
    frame = RunResult(summary={}, timeseries=rows).timeseries
    assert list(frame.columns) == ["day", "hba1c_mean", "arm", "pdc_mean"]
    assert frame["pdc_mean"].isna().tolist() == [True, False]
    assert frame["arm"][0] == "a" and frame["arm"].isna().tolist() == [False, True], (
        "a missing text value is null, not the text 'nan'")


def test_save_writes_the_dataframe_as_edited(tmp_path):
    result = RunResult(summary={}, timeseries=[{"day": 0.0, "hba1c_mean": 8.0}],
                       provenance={"seed": 7})
    result.timeseries["hba1c_mean"] = 7.5
    result.timeseries["note"] = "edited"
    saved = pd.read_parquet(result.save(tmp_path)["timeseries"])
    assert saved["hba1c_mean"].tolist() == [7.5] and saved["note"].tolist() == ["edited"]
    result.timeseries = result.timeseries.set_index("day")
    saved = pd.read_parquet(result.save(tmp_path)["timeseries"])
    assert saved.index.name == "day", "an index is saved, as DataFrame.to_parquet saves it"
    assert repr(result) == ("RunResult(0 summary outcomes, 1 recorded days, "
                            "without lifetime curves, seed=7)")
