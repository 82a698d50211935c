"""Instrument mappings (sim.analyses.instruments): worked examples and refusals."""

from __future__ import annotations

import pytest

from sim.analyses.instruments import map_change
from sim.params.errors import ScenarioError


def test_worked_examples() -> None:
    # Cochran & Conn 2008: DSMES QoL SMD 0.28 x EQ-5D SD 0.20 = +0.056 (design §5.3)
    assert map_change(0.28, "smd", "eq5d") == pytest.approx(0.056, rel=1e-12)
    # a distress SMD of -0.2 (e.g. on the DDS) x PAID SD 18 = -3.6 PAID points
    assert map_change(-0.2, "smd", "paid") == pytest.approx(-3.6, rel=1e-12)
    # SF-12 mental component +1 point = 0.1 SD = +0.02 EQ-5D
    assert map_change(1.0, "sf12_mcs", "eq5d") == pytest.approx(0.02, rel=1e-12)
    # DiabPeerS between-arm MCS change: 7.41 - 7.48 = -0.07 points = -0.0014 EQ-5D
    assert map_change(7.41 - 7.48, "sf12_mcs", "eq5d") == pytest.approx(-0.0014, rel=1e-9)
    # round trip
    assert map_change(map_change(0.05, "eq5d", "sf12_pcs"), "sf12_pcs", "eq5d") == \
        pytest.approx(0.05, rel=1e-12)


def test_refuses_unknown_instruments_and_crossing_constructs() -> None:
    with pytest.raises(ScenarioError, match="unknown instrument 'sf36'.*eq5d"):
        map_change(1.0, "sf36", "eq5d")
    with pytest.raises(ScenarioError, match="paid measures distress and eq5d measures qol"):
        map_change(-3.0, "paid", "eq5d")
