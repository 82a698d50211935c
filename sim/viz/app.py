"""The Solara page: Mesa's SolaraViz (controls and levers in the sidebar) + our main area.

Served by ``peersupport dashboard`` (``sim.cli.dashboard``), which passes the page's
settings in the ``PEERSUPPORT_DASHBOARD`` environment variable as JSON: the resolved
scenario (so the server reads no file), the comparison, the seed and the population.
Without it (``solara run sim.viz.app``) the page opens the built-in example.

SolaraViz re-creates the model on Reset from ``model_params``: the fixed ``base``
scenario and the current value of every lever (``ClassroomModel``'s keywords). Its main
area (``components``) is left empty: the page draws its own, without the draggable grid,
whose JavaScript Solara would fetch from a CDN (a classroom may be offline).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import update_counter

from sim.params.scenario import Scenario, load_scenario
from sim.viz.arms import COMPARISONS, comparison, levers_of
from sim.viz.classroom import DEFAULT_SEED, LAYOUTS, ClassroomModel, default_scenario
from sim.viz.controls import CONTAGIONS, page_controls
from sim.viz.lessons import Lesson, lesson_for
from sim.viz.page import CSS, page_html

ENV = "PEERSUPPORT_DASHBOARD"
PLAY_INTERVAL_MS = 150
DAYS_PER_STEP = 7
"""Days a press of Step advances (SolaraViz's render interval; the sidebar can change it)."""


@dataclass(frozen=True)
class PageConfig:
    """What the page opens with."""

    scenario: Scenario
    compare: str
    seed: int
    patients: int | None
    lesson: Lesson | None


def page_config(raw: str | None = None) -> PageConfig:
    """The page's settings from JSON (by default the ``PEERSUPPORT_DASHBOARD`` variable)."""
    raw = os.environ.get(ENV) if raw is None else raw
    data: dict[str, Any] = json.loads(raw) if raw else {}
    scenario = (load_scenario(data["scenario"]) if data.get("scenario")
                else default_scenario())
    lesson = lesson_for(scenario)
    compare = data.get("compare") or (lesson.compare if lesson else "kickoff")
    seed = data.get("seed")
    return PageConfig(scenario=scenario, compare=comparison(compare).key,
                      seed=scenario.run.seed if seed is None else int(seed),
                      patients=data.get("patients"), lesson=lesson)


def model_params(cfg: PageConfig) -> dict[str, Any]:
    """SolaraViz's ``model_params``: the fixed scenario and limits, then seed and levers."""
    lv = levers_of(cfg.scenario, patients=cfg.patients)
    limits = page_controls(lv)

    def slider(name: str) -> Slider:
        c = limits[name]
        return Slider(c.label, getattr(lv, name), c.lo, c.hi, c.step)

    return {
        "base": cfg.scenario,
        "limits": limits,
        "seed": {"type": "InputText", "value": str(cfg.seed), "label": "Seed"},
        "compare": {"type": "Select", "value": comparison(cfg.compare).label,
                    "values": [c.label for c in COMPARISONS.values()],
                    "label": "Side by side"},
        "patients": slider("patients"),
        "posts_per_week": slider("posts_per_week"),
        "kickoff": {"type": "Checkbox", "value": lv.kickoff,
                    "label": "In-person kick-off (2 sessions)"},
        "peer_influence": slider("peer_influence"),
        "contagion": {"type": "Select", "value": lv.contagion,
                      "values": list(CONTAGIONS), "label": "Contagion"},
        "threshold": slider("threshold"),
        "rewiring": slider("rewiring"),
        "group_size": slider("group_size"),
        "layout": {"type": "Select", "value": "auto", "values": list(LAYOUTS),
                   "label": "Network layout"},
    }


def initial_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The keywords SolaraViz will pass on Reset, at their starting values."""
    out = {}
    for name, p in params.items():
        if isinstance(p, Slider):
            out[name] = p.value
        elif isinstance(p, dict) and "type" in p:
            out[name] = p["value"]
        else:
            out[name] = p
    return out


@solara.component
def MainArea(model: ClassroomModel, lesson: Lesson | None) -> None:
    """Status, legend, the arms' networks and tables, the time series."""
    update_counter.get()  # re-render after every step (SolaraViz's force_update)
    solara.HTML(tag="div", unsafe_innerHTML=page_html(model, lesson),
                attributes={"id": "ps-main", "data-day": str(model.day),
                            "data-model": f"{id(model):x}"})


@solara.component
def Page() -> None:
    """The whole page (Solara's entry point)."""
    cfg = solara.use_memo(page_config, [])
    params = solara.use_memo(lambda: model_params(cfg), [])
    first = solara.use_memo(lambda: ClassroomModel(**initial_kwargs(params)), [])
    model = solara.use_reactive(first)
    solara.Style(CSS)
    topic = (cfg.lesson.title if cfg.lesson
             else cfg.scenario.description or cfg.scenario.name)
    name = f"Peer support classroom: {topic}"
    SolaraViz(model, components=[], model_params=params, name=name,
              play_interval=PLAY_INTERVAL_MS, render_interval=DAYS_PER_STEP)
    MainArea(model.value, cfg.lesson)


__all__ = ["DEFAULT_SEED", "Page", "model_params", "page_config"]
