"""peersupport: agent-based simulation of peer support for people with type 2 diabetes.

Public API::

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/designs/hybrid_kickoff.yaml"), seed=1)
    result.summary, result.timeseries, result.provenance

The names load on first use (PEP 562), so ``import sim`` and the CLI's help stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.core.model import PeerSupportModel
    from sim.engine.store import load_results
    from sim.params.errors import ScenarioError
    from sim.params.scenario import Scenario, load_scenario
    from sim.runner import RunResult, run

_HOMES = {
    "PeerSupportModel": "sim.core.model",
    "RunResult": "sim.runner",
    "Scenario": "sim.params.scenario",
    "ScenarioError": "sim.params.errors",
    "load_results": "sim.engine.store",
    "load_scenario": "sim.params.scenario",
    "run": "sim.runner",
}

__all__ = ["PeerSupportModel", "RunResult", "Scenario", "ScenarioError", "load_results",
           "load_scenario", "run"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
