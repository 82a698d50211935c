"""peersupport: agent-based simulation of peer support for people with type 2 diabetes.

Public API::

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/designs/hybrid_kickoff.yaml"), seed=1)
    result.summary, result.timeseries, result.provenance
"""

from sim.params.errors import ScenarioError
from sim.core.model import PeerSupportModel
from sim.runner import RunResult, run
from sim.params.scenario import Scenario, load_scenario

__all__ = ["PeerSupportModel", "RunResult", "Scenario", "ScenarioError", "load_results",
           "load_scenario", "run"]


def __getattr__(name: str):  # PEP 562: the results store (pyarrow) loads only when used
    if name == "load_results":
        from sim.engine.store import load_results

        return load_results
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
