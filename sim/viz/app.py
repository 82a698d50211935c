"""The Solara page: Mesa's SolaraViz (controls and levers in the sidebar) + our main area.

Served by ``peersupport dashboard`` (``sim.cli.dashboard``), which passes the page's
settings in the ``PEERSUPPORT_DASHBOARD`` environment variable as JSON: the resolved
scenario (so the server reads no file), the comparison, the seed and the population.
Without it (``solara run sim.viz.app``) the page opens the built-in example.

Mesa's ``ModelController`` (SolaraViz's Reset, play and Step) re-creates the model on
Reset from the parameters: the fixed ``base`` scenario and limits and the current value of
every control (``ClassroomModel``'s keywords, checked there: a browser is untrusted). The
page draws its own controls (values always shown, plain-words labels with tooltips) and
its own main area, without SolaraViz's draggable grid, whose JavaScript Solara would
fetch from a CDN (a classroom may be offline), and without Mesa's internal settings
(play interval, threads).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import solara
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from sim.params.scenario import Scenario, load_scenario
from sim.viz.arms import COMPARISONS, comparison, levers_of
from sim.viz.classroom import DEFAULT_SEED, LAYOUTS, ClassroomModel, default_scenario
from sim.viz.controls import CONTAGIONS, TIPS, page_controls
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
    """The model's parameters in SolaraViz's format.

    Fixed ones (the scenario, the limits), then the controls (``type``, ``label``, ``value``,
    ranges), each with its ``help``.
    """
    lv = levers_of(cfg.scenario, patients=cfg.patients)
    limits = page_controls(lv)

    def slider(name: str) -> dict[str, Any]:
        c = limits[name]
        return {"type": "SliderInt" if c.integer else "SliderFloat", "label": c.label,
                "value": getattr(lv, name), "min": c.lo, "max": c.hi, "step": c.step,
                "help": c.help}

    def choice(name: str, label: str, value: Any, values: list[str]) -> dict[str, Any]:
        return {"type": "Select", "value": value, "values": values, "label": label,
                "help": TIPS[name]}

    return {
        "base": cfg.scenario,
        "limits": limits,
        "seed": {"type": "InputText", "value": str(cfg.seed), "label": "Seed",
                 "help": TIPS["seed"]},
        "compare": choice("compare", "Side by side", comparison(cfg.compare).label,
                          [c.label for c in COMPARISONS.values()]),
        "patients": slider("patients"),
        "posts_per_week": slider("posts_per_week"),
        "kickoff": {"type": "Checkbox", "value": lv.kickoff,
                    "label": "In-person kick-off (2 sessions)", "help": TIPS["kickoff"]},
        "peer_influence": slider("peer_influence"),
        "contagion": choice("contagion", "Contagion: simple or complex", lv.contagion,
                            list(CONTAGIONS)),
        "threshold": slider("threshold"),
        "rewiring": slider("rewiring"),
        "group_size": slider("group_size"),
        "layout": choice("layout", "Network drawing", "auto", list(LAYOUTS)),
    }


def initial_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The keywords Reset passes to ``ClassroomModel``, at their starting values."""
    return {name: p["value"] if isinstance(p, dict) and "type" in p else p
            for name, p in params.items()}


@solara.component
def ControlInput(name: str, spec: dict[str, Any], values: solara.Reactive[dict[str, Any]]) -> None:
    """One control, its value always shown, its help as a tooltip; changes go to ``values``."""
    def on_value(value: Any) -> None:
        values.set({**values.value, name: value})

    value = values.value[name]
    with solara.Tooltip(spec["help"]):
        match spec["type"]:
            case "SliderInt" | "SliderFloat":
                widget = solara.SliderInt if spec["type"] == "SliderInt" else solara.SliderFloat
                widget(spec["label"], value=value, on_value=on_value, min=spec["min"],
                       max=spec["max"], step=spec["step"], thumb_label="always")
            case "Select":
                solara.Select(spec["label"], value=value, values=spec["values"],
                              on_value=on_value)
            case "Checkbox":
                solara.Checkbox(label=spec["label"], value=value, on_value=on_value)
            case _:
                solara.InputText(spec["label"], value=value, on_value=on_value)


@solara.component
def MainArea(model: ClassroomModel, lesson: Lesson | None) -> None:
    """Status, legend, the arms' networks and tables, the time series."""
    update_counter.get()  # re-render after every step (SolaraViz's force_update)
    solara.HTML(tag="div", unsafe_innerHTML=page_html(model, lesson),
                attributes={"id": "ps-main", "data-day": str(model.day),
                            "data-model": f"{id(model):x}"})


@solara.component
def Page() -> None:
    """The whole page (Solara's entry point): Mesa's run buttons, the controls, our main area.

    Mesa's ``ModelController`` runs the model (Reset, play, Step); its other controls
    (play interval, threads) are fixed here rather than shown to a class.
    """
    cfg = solara.use_memo(page_config, [])
    params = solara.use_memo(lambda: model_params(cfg), [])
    first = solara.use_memo(lambda: ClassroomModel(**initial_kwargs(params)), [])
    model = solara.use_reactive(first)
    values = solara.use_reactive(initial_kwargs(params))
    days_per_step = solara.use_reactive(DAYS_PER_STEP)
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    use_threads = solara.use_reactive(False)
    solara.Style(CSS)
    topic = (cfg.lesson.title if cfg.lesson
             else cfg.scenario.description or cfg.scenario.name)
    with solara.AppBar():
        solara.AppBarTitle(f"Peer support classroom: {topic}")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run"):
            ModelController(model, model_parameters=values, play_interval=play_interval,
                            render_interval=days_per_step, use_threads=use_threads)
            with solara.Tooltip("How many days one press of STEP (or one frame of \u25B6) "
                                "advances."):
                solara.SliderInt("Days per step", value=days_per_step, min=1, max=28,
                                 thumb_label="always")
        with solara.Card("Settings (press RESET to apply)"):
            for name, spec in params.items():
                if isinstance(spec, dict) and "type" in spec:
                    ControlInput(name, spec, values)
    MainArea(model.value, cfg.lesson)


__all__ = ["DEFAULT_SEED", "Page", "model_params", "page_config"]
