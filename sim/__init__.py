"""peersupport: agent-based simulation of peer support for people with type 2 diabetes.

Public API::

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/designs/hybrid_kickoff.yaml"), seed=1)
    result.summary, result.timeseries, result.provenance
"""

from sim.errors import ScenarioError
from sim.experiments.store import load_results
from sim.model import PeerSupportModel
from sim.results import RunResult, run
from sim.scenario import Scenario, load_scenario

__all__ = ["PeerSupportModel", "RunResult", "Scenario", "ScenarioError", "load_results",
           "load_scenario", "run"]
