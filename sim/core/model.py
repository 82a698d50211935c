"""PeerSupportModel: the simulation (``sim.core.simulation``) as a ``mesa.Model``.

Patients are also ``mesa.Agent`` objects (thin views over the arrays, created on demand for
large populations) so ``model.agents`` and Mesa's ``DataCollector``, ``batch_run`` and
SolaraViz work; the daily step never loops over them. Steps give the same numbers as
``Simulation`` with the same scenario and seed.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.core.outcomes import TIMESERIES_COLUMNS
from sim.core.simulation import Simulation, root_seed
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario

AGENT_VIEWS_AUTO_MAX = 10_000
"""Populations up to this size get their Mesa agent views at start-up."""


class _State:
    """A read-only per-patient value of a model array (``model.<array>[index]``)."""

    def __init__(self, array: str, kind: type = float, doc: str = "") -> None:
        self.array, self.kind, self.__doc__ = array, kind, doc

    def __get__(self, agent: Patient | None, owner: type) -> Any:
        if agent is None:
            return self
        return self.kind(getattr(agent.model, self.array)[agent.index])


class Patient(mesa.Agent):
    """A thin view of one patient's entries in the model's arrays (read-only)."""

    hba1c_pct = _State("hba1c", doc="Current HbA1c (%).")
    adherent = _State("adherent", bool, "Whether PDC >= 0.8.")
    adherence = _State("adherence", doc="Recent adherence (EWMA of doses taken).")
    engagement = _State("engagement", doc="IM engagement (0-1).")
    utility = _State("utility", doc="EQ-5D utility today.")
    distress = _State("distress", doc="Diabetes distress (PAID points, 0-100).")
    self_efficacy_gain = _State("self_efficacy_gain", doc="Self-efficacy gained in sessions (SD).")
    knowledge_gain = _State("knowledge_gain", doc="Self-care knowledge gained (0-1).")
    education_hours = _State("education_hours", doc="Curriculum hours received.")
    support = _State("support", doc="Support received (messages read per day, EWMA).")
    received = _State("received", doc="Today's rapport-weighted messages from members.")
    norm = _State("norm", doc="Peer norm signal from adherent ties (before centring).")
    contact = _State("contact", doc="Recency of program contact (0-1).")
    practice = _State("practice", doc="Self-care practice, diet and activity (0-1).")
    attended = _State("attended", bool, "Whether the patient attended a gathering today.")
    sessions_attended = _State("sessions_attended", int, "Sessions attended so far.")
    posts_total = _State("posts_total", int, "IM posts written so far.")
    qalys = _State("qalys", doc="Discounted QALYs accrued so far.")
    cost = _State("cost", doc="Discounted costs this patient caused so far (currency).")

    def __init__(self, model: PeerSupportModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def pdc(self) -> float:
        """Proportion of days covered over the PDC window."""
        m = self.model
        return float(m.pdc_count[self.index] / m.dose_window.shape[0])

    @property
    def self_efficacy_z(self) -> float:
        """Self-efficacy (z): baseline plus the gain from sessions."""
        return float(self.model.patients.self_efficacy0_z[self.index]) + self.self_efficacy_gain

    @property
    def knowledge(self) -> float:
        """Self-care knowledge (0-1): baseline plus the gain from education."""
        return float(self.model.patients.knowledge0[self.index]) + self.knowledge_gain

    @property
    def group(self) -> int:
        """Program group (cohort and IM group)."""
        return int(self.model.network.group_id[self.index])

    @property
    def is_leader(self) -> bool:
        """Whether this patient is the group's peer leader."""
        return bool(self.model.network.leader[self.index])


class PeerSupportModel(Simulation, mesa.Model):
    """Agent-based model of a peer-support program for people with type 2 diabetes, in Mesa.

    Works with Mesa's tools: ``mesa.batch_run(PeerSupportModel, parameters={"scenario":
    "designs/hybrid_kickoff", "population_size": [500, 1000]}, iterations=2)``,
    ``run_model()`` (``running`` turns False at the horizon) and ``model.datacollector``
    (one row per recorded day; reporters ``MODEL_REPORTERS``). The science is
    ``Simulation``'s.

    Args:
        scenario: a Scenario, a YAML path, a ready scenario's name (``designs/hybrid_kickoff``)
            or a dict; None: the default scenario. In ``batch_run`` pass a path, a name or a
            one-item list ``[scenario]`` (batch_run iterates a bare Scenario into pairs).
        seed: root seed of every named random stream; None: fresh randomness (Mesa's
            meaning; the seed drawn is kept in ``seed_used``). An int reproduces a run.
        rng: Mesa's name for the same (an int, a numpy Generator or None); not with ``seed``.
        agent_views: create ``Patient`` agents (None: only up to 10,000 patients; call
            ``create_agent_views()`` later for larger ones).
        **parameters: scenario overrides by dotted path with ``_`` for ``.``
            (``population_size=500``, ``program_im_posts_per_week=2``).
    """

    def __init__(self, scenario: Scenario | str | Path | dict[str, Any] | None = None,
                 seed: int | None = None, *, rng: int | np.random.Generator | None = None,
                 agent_views: bool | None = None, **parameters: Any) -> None:
        if seed is not None and rng is not None:
            raise ValueError("pass either seed or rng, not both")
        if isinstance(scenario, tuple):  # batch_run iterates a bare Scenario into pairs
            raise ScenarioError("scenario is a (field, value) pair: mesa.batch_run iterated a "
                                "Scenario; pass a path or name, or a one-item list "
                                "[scenario]", path="scenario")
        seed_used = root_seed(seed if rng is None else rng)
        mesa.Model.__init__(self, rng=seed_used)
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        Simulation.__init__(self, scenario, seed_used, **parameters)
        if agent_views or (agent_views is None and self.n <= AGENT_VIEWS_AUTO_MAX):
            self.create_agent_views()

    def create_agent_views(self) -> None:
        """Create one ``Patient`` agent per patient (idempotent)."""
        if len(self.agents) == 0:
            for i in range(self.n):
                Patient(self, i)

    def advance(self, until: int) -> None:
        """Step to day ``until`` (at most the horizon) through Mesa's clock, a ``step()`` a day.

        Mesa's ``steps`` and ``time`` stay the model's day, and its scheduled events run;
        ``Simulation.advance`` runs the days in compiled calls, for the runner and sweeps.
        """
        until = operator.index(until)
        while self.running and self.day < until:
            self.step()

    def record(self) -> None:
        """Append today's population means to the time series and the DataCollector."""
        super().record()
        self.datacollector.collect(self)


def _latest(key: str, model: PeerSupportModel) -> float:
    return model.records[-1][key]


MODEL_REPORTERS = {key: functools.partial(_latest, key) for key in TIMESERIES_COLUMNS}
"""DataCollector model reporters: the population means of ``population_means()``."""
