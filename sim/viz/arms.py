"""The dashboard's levers and the two arms it compares (no Mesa, no Solara here).

A classroom page shows one or two *arms*: the same patients (same seed, so common random
numbers) under two designs that differ in exactly one lever. The levers are the few
parameters that teach something; every other parameter comes from the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sim.params.scenario import Scenario

DEFAULT_PATIENTS = 300
"""Population the dashboard opens with when the scenario is larger than ``MAX_OPEN_PATIENTS``."""

MAX_OPEN_PATIENTS = 1000
"""Scenarios up to this size open at their own size; larger ones open at 300 patients."""

KICKOFF_DAYS = 14
"""Length of an added in-person kick-off: sessions on its days 0 and 7."""


@dataclass(frozen=True)
class Levers:
    """The parameters a class can move, each mapped to one scenario key.

    Attributes:
        patients: ``population.size``.
        posts_per_week: ``program.im.posts_per_week`` (IM posting intensity).
        kickoff: in-person sessions at the start of the program (see ``with_kickoff``).
        peer_influence: ``behaviour.norm_effect_logit``.
        contagion: ``behaviour.contagion`` ("simple" or "complex").
        threshold: ``behaviour.complex_threshold``.
        rewiring: ``network.background.rewire_prob`` (0 clustered lattice, 1 random).
        group_size: ``network.group_size``.
    """

    patients: int
    posts_per_week: float
    kickoff: bool
    peer_influence: float
    contagion: str
    threshold: int
    rewiring: float
    group_size: int


def has_sessions(scenario: Scenario) -> bool:
    """Whether the scenario's program offers any in-person group session."""
    ip = scenario.program.in_person
    return ip.holds_sessions and ip.groups_share > 0


def levers_of(scenario: Scenario, *, patients: int | None = None) -> Levers:
    """The lever values a scenario sets (the dashboard's starting values).

    Args:
        scenario: the scenario the page opens with.
        patients: population to open with; by default the scenario's own size, or
            ``DEFAULT_PATIENTS`` when it has more than ``MAX_OPEN_PATIENTS``.
    """
    size = scenario.population.size
    if patients is None:
        patients = size if size <= MAX_OPEN_PATIENTS else DEFAULT_PATIENTS
    b = scenario.behaviour
    return Levers(
        patients=int(patients),
        posts_per_week=scenario.program.im.posts_per_week,
        kickoff=has_sessions(scenario),
        peer_influence=b.norm_effect_logit,
        contagion=b.contagion,
        threshold=b.complex_threshold,
        rewiring=scenario.network.background.rewire_prob,
        group_size=scenario.network.group_size,
    )


def with_kickoff(scenario: Scenario, on: bool) -> dict[str, Any]:
    """Overrides that switch in-person sessions on or off.

    On: keep the scenario's own sessions if it has any, else add two weekly sessions
    at the start of the IM group (days s and s + 7), as the hybrid_kickoff design does.
    Off: no in-person sessions; everything else (IM schedule included) is unchanged. Either way
    the in-person channel is replaced whole, whatever form its schedule had.
    """
    if on == has_sessions(scenario):
        return {}
    if not on:
        return {"program.in_person": {}}
    start = scenario.program.im.start_day if scenario.program.im.end_day > 0 else 0
    return {"program.in_person": {"start_day": start, "end_day": start + KICKOFF_DAYS,
                                  "every_days": 7}}


def apply_levers(scenario: Scenario, levers: Levers) -> Scenario:
    """The scenario with every lever set (validated like a ``--set`` override)."""
    overrides: dict[str, Any] = {
        "population.size": int(levers.patients),
        "program.im.posts_per_week": float(levers.posts_per_week),
        "behaviour.norm_effect_logit": float(levers.peer_influence),
        "behaviour.contagion": levers.contagion,
        "behaviour.complex_threshold": int(levers.threshold),
        "network.background.rewire_prob": float(levers.rewiring),
        "network.group_size": int(levers.group_size),
    }
    overrides.update(with_kickoff(scenario, levers.kickoff))
    return scenario.with_overrides(overrides)


@dataclass(frozen=True)
class Comparison:
    """A side-by-side contrast: arm B differs from arm A in one lever.

    Attributes:
        key: short name (CLI ``--compare``).
        label: what the page's selector shows.
        lever: the lever that differs.
    """

    key: str
    label: str
    lever: str | None

    def arms(self, levers: Levers) -> list[tuple[str, Levers]]:
        """(label, levers) of each arm: one arm for "none", else A and B."""
        match self.key:
            case "kickoff":
                return [("A: IM only (no kick-off)", replace(levers, kickoff=False)),
                        ("B: in-person kick-off, then IM", replace(levers, kickoff=True))]
            case "clustering":
                return [(f"A: rewiring {levers.rewiring:.2f}"
                         f"{' (clustered)' if levers.rewiring <= 0.05 else ''}", levers),
                        ("B: rewiring 1.00 (random)", replace(levers, rewiring=1.0))]
            case "influence":
                return [("A: no peer influence", replace(levers, peer_influence=0.0)),
                        (f"B: peer influence {levers.peer_influence:.2f} logit", levers)]
            case "contagion":
                return [("A: simple contagion", replace(levers, contagion="simple")),
                        (f"B: complex contagion (threshold {levers.threshold})",
                         replace(levers, contagion="complex"))]
            case _:
                return [("Single arm", levers)]


COMPARISONS: dict[str, Comparison] = {c.key: c for c in (
    Comparison("kickoff", "In-person kick-off: off (A) vs on (B)", "kickoff"),
    Comparison("clustering", "Network: your rewiring (A) vs random (B)", "rewiring"),
    Comparison("influence", "Peer influence: off (A) vs your slider (B)", "peer_influence"),
    Comparison("contagion", "Contagion: simple (A) vs complex (B)", "contagion"),
    Comparison("none", "One arm only", None),
)}
"""Every contrast the page offers, by key."""


def comparison(key_or_label: str) -> Comparison:
    """The comparison named by its key or its label.

    Raises:
        ValueError: naming the valid keys.
    """
    for c in COMPARISONS.values():
        if key_or_label in (c.key, c.label):
            return c
    raise ValueError(f"unknown comparison '{key_or_label}'; choose one of "
                     f"{', '.join(COMPARISONS)}")


def arm_scenarios(scenario: Scenario, levers: Levers, compare: str
                  ) -> list[tuple[str, Scenario]]:
    """The (label, scenario) of each arm the page runs, levers applied."""
    return [(label, apply_levers(scenario, lv))
            for label, lv in comparison(compare).arms(levers)]


def lever_names() -> list[str]:
    """Names of the levers, in display order."""
    return [f.name for f in fields(Levers)]
