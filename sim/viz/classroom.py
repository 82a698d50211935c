"""ClassroomModel: one or two arms of PeerSupportModel stepping together, for SolaraViz.

SolaraViz re-creates the model on Reset by calling its class with the page's parameter
values as keywords (``type(model)(**params)``), so every lever is a keyword parameter
here and the scenario the page opened with is a fixed parameter (``base``). Each arm is
a ``PeerSupportModel`` built from that scenario with the levers applied; both arms get the
same seed, so they start from the same patients and share every random draw their
designs do not touch (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.core.model import PeerSupportModel
from sim.params.scenario import Scenario, load_scenario
from sim.viz.arms import COMPARISONS, arm_scenarios, comparison, levers_of
from sim.viz.controls import Control, clean_levers, page_controls, shown
from sim.viz.layout import group_layout, ring_layout, spectral_ring_order
from sim.viz.measures import group_tie_pairs, tie_correlation, tie_pairs

DEFAULT_SEED = 1
LAYOUTS = ("auto", "groups", "ring")

# The page's time series, one value per arm per day (Mesa DataCollector reporters).
REPORTERS = {
    "adherent_share": lambda m: float(m.adherent.mean()),
    "hba1c_mean": lambda m: float(m.hba1c.mean()),
    "utility_mean": lambda m: float(m.utility.mean()),
    "engagement_mean": lambda m: float(m.engagement.mean()),
    "tie_strength_mean": lambda m: float(m.network.group.data.mean())
    if m.network.group.nnz else 0.0,
}


def default_scenario() -> Scenario:
    """The scenario of a bare ``peersupport dashboard``: an IM peer group design.

    Built in code (no file is read): 300 patients, groups of 12 with a peer leader, a
    moderated IM group for 26 weeks, followed for 36 weeks.
    """
    return load_scenario({
        "name": "im_peer_groups_example",
        "description": "IM peer groups for 26 weeks (built-in example)",
        "population": {"size": 300},
        "program": {"name": "im_peer_support",
                    "im": {"start_day": 0, "end_day": 182, "posts_per_week": 0.7,
                           "leader_posts_per_week": 3.0, "moderator_posts_per_week": 2.0}},
        "run": {"days": 252, "seed": DEFAULT_SEED, "record_every_days": 7},
    })


def parse_seed(text: Any) -> tuple[int, str | None]:
    """A seed from the page's text field; (seed, warning) with a fallback when invalid."""
    raw = str(text).strip()
    try:
        seed = int(raw)
    except ValueError:
        return DEFAULT_SEED, f"seed {shown(raw)} is not a whole number; using {DEFAULT_SEED}"
    if not 0 <= seed < 2**63:
        return DEFAULT_SEED, f"seed {seed} is out of range (0 to 2^63-1); using {DEFAULT_SEED}"
    return seed, None


@dataclass
class Arm:
    """One design on the page: its label, scenario, model and daily series."""

    label: str
    scenario: Scenario
    model: PeerSupportModel
    collector: mesa.DataCollector
    pairs: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)

    @property
    def day(self) -> int:
        """Days simulated."""
        return self.model.day

    def series(self, key: str) -> np.ndarray:
        """The daily series of a reporter (day 0 first)."""
        return np.asarray(self.collector.model_vars[key], dtype=np.float64)

    def friends_correlation(self) -> float:
        """PDC correlation between tied patients (background ties and active group ties)."""
        m = self.model
        bi, bj = self.pairs["background"]
        gi, gj, where = self.pairs["group"]
        active = m.network.group.data[where] > 0
        i = np.concatenate([bi, gi[active]])
        j = np.concatenate([bj, gj[active]])
        return tie_correlation(m.pdc, i, j)


class ClassroomModel(mesa.Model):
    """One or two designs run side by side on the same patients, a day per step.

    Args:
        base: the scenario the page opened with (a Scenario, a plain dict or a YAML
            path); None for ``default_scenario()``.
        seed: root seed of both arms, as typed in the page (text or int).
        compare: which lever differs between the arms (a key or label of
            ``sim.viz.arms.COMPARISONS``); "none" for one arm.
        patients, posts_per_week, kickoff, peer_influence, contagion, threshold,
            rewiring, group_size: the levers (``sim.viz.arms.Levers``); None takes the
            scenario's value.
        layout: "auto", "groups" or "ring" (``sim.viz.layout``).
        limits: the page's controls (``sim.viz.controls.page_controls``); every lever is
            brought inside them (a browser's values are untrusted). None: the limits of a
            page opened on ``base``.
    """

    def __init__(
        self,
        base: Scenario | dict[str, Any] | str | Path | None = None,
        *,
        seed: str | int = DEFAULT_SEED,
        compare: str = "kickoff",
        patients: int | None = None,
        posts_per_week: float | None = None,
        kickoff: bool | None = None,
        peer_influence: float | None = None,
        contagion: str | None = None,
        threshold: int | None = None,
        rewiring: float | None = None,
        group_size: int | None = None,
        layout: str = "auto",
        limits: dict[str, Control] | None = None,
    ) -> None:
        seed_value, warning = parse_seed(seed)
        super().__init__(rng=seed_value)
        self.seed_used = seed_value
        self.warnings: list[str] = [warning] if warning else []
        scenario = default_scenario() if base is None else load_scenario(base)
        self.base = scenario
        defaults = levers_of(scenario)
        given = {"patients": patients, "posts_per_week": posts_per_week, "kickoff": kickoff,
                 "peer_influence": peer_influence, "contagion": contagion,
                 "threshold": threshold, "rewiring": rewiring, "group_size": group_size}
        self.levers, notes = clean_levers(given, defaults, limits or page_controls(defaults))
        self.warnings += notes
        if not (isinstance(compare, str) and (
                compare in COMPARISONS or compare in {c.label for c in COMPARISONS.values()})):
            self.warnings.append(f"unknown comparison {shown(compare)}; using kickoff")
            compare = "kickoff"
        self.comparison = comparison(compare)
        self.days = scenario.run.days
        self.arms = [self._make_arm(label, sc) for label, sc in
                     arm_scenarios(scenario, self.levers, self.comparison.key)]
        self.layout_name = self._choose_layout(layout)
        self._positions: np.ndarray | None = None

    # ------------------------------------------------------------------ set-up

    def _make_arm(self, label: str, scenario: Scenario) -> Arm:
        model = PeerSupportModel(scenario, self.seed_used)
        collector = mesa.DataCollector(model_reporters=REPORTERS)
        collector.collect(model)
        arm = Arm(label=label, scenario=scenario, model=model, collector=collector)
        arm.pairs = {"background": tie_pairs(model.network.background),
                     "group": group_tie_pairs(model.network.group)}
        return arm

    def _choose_layout(self, requested: str) -> str:
        if requested not in LAYOUTS:
            self.warnings.append(f"unknown layout {shown(requested)}; using auto")
            requested = "auto"
        if requested != "auto":
            return requested
        net = self.arms[0].scenario.network
        inert_groups = net.initial_group_strength == 0 and net.strength_floor == 0
        if inert_groups and net.background.kind in ("small_world", "homophily"):
            return "ring"
        return "groups"

    @property
    def positions(self) -> np.ndarray:
        """Node positions (n, 2), computed once from arm A and shared by both arms."""
        if self._positions is None:
            self._positions = self._layout()
        return self._positions

    def _layout(self) -> np.ndarray:
        first = self.arms[0].model
        if self.layout_name == "groups":
            return group_layout(first.network.group_id)
        if self.arms[0].scenario.network.background.kind == "homophily":
            order = np.argsort(first.patients.adherence_logit, kind="stable")
        else:
            order = spectral_ring_order(first.network.background)
        return ring_layout(order)

    # ------------------------------------------------------------------ running

    @property
    def day(self) -> int:
        """Days simulated (all arms step together)."""
        return self.arms[0].day

    def step(self) -> None:
        """Advance every arm one day and record its series; stop at the scenario's end."""
        if self.day >= self.days:
            self.running = False
            return
        for arm in self.arms:
            arm.model.step()
            arm.collector.collect(arm.model)
        if self.day >= self.days:
            self.running = False
