"""The declared patient state and the daily kernels that take it whole."""

from __future__ import annotations

import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core import kernels
from sim.core.state import PatientState

from .conftest import DESIGNS


def _run(kernel_set: kernels.DayKernels, contagion: str, days: int = 30) -> PeerSupportModel:
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml",
                       {"population.size": 3000, "run.days": days,
                        "behaviour.contagion": contagion,
                        "clinical.course_sd_pct": 0.5})  # the course's writes too
    m = PeerSupportModel(sc, seed=3, agent_views=False)
    m.kernels = kernel_set
    for _ in range(days):
        m.step()
    return m


@pytest.mark.parametrize("contagion", ["simple", "complex", "graded"])
def test_parallel_kernels_match_serial_bit_for_bit(contagion):
    """numba's parallel loops can silently drop writes to arrays held in a tuple (numba
    #5872): every state array and tie strength must match the serial kernels exactly."""
    serial, parallel = _run(kernels.SERIAL, contagion), _run(kernels.PARALLEL, contagion)
    assert serial.state.qalys.min() > 0, "30 days must accrue QALYs"
    for name in PatientState._fields:
        a, b = getattr(serial.state, name), getattr(parallel.state, name)
        assert np.array_equal(a, b), f"{name}: the parallel kernels differ from the serial ones"
    assert np.array_equal(serial.ties.strength, parallel.ties.strength), "tie strengths differ"
    assert serial.ledger == parallel.ledger, "posts and doses counted differently"


def test_state_declares_every_patient_array():
    m = PeerSupportModel(load_scenario({}, {"population.size": 500, "run.days": 5}), seed=1,
                         agent_views=False)
    window = m.spec.behaviour.pdc_window_days
    for name, array in zip(PatientState._fields, m.state, strict=True):
        assert isinstance(array, np.ndarray), f"{name} is not an array"
        want = (window, m.n) if name == "dose_window" else (m.n,)
        assert array.shape == want, f"{name}: shape {array.shape}, expected {want}"
    assert m.hba1c is m.state.hba1c, "model.<field> must read the state array itself"
    assert m.state.hba1c0_pct is m.patients.hba1c0_pct, "baseline attributes are not copied"
    assert m.ties.strength is m.network.group.data, "tie strengths are the network's own"
    with pytest.raises(AttributeError):
        m.state.hba1c = np.zeros(m.n)  # a field cannot be rebound, only updated in place
    with pytest.raises(AttributeError, match="no attribute 'hba1c_typo'"):
        _ = m.hba1c_typo
