"""The page's lever controls: label, range and help of each, and the server's check of them.

Every value a browser sends over the websocket is untrusted: a client can set a slider
past its maximum (100,000 patients on a page that stops at 2,000), send NaN, a string or
a megabyte of text. ``clean_levers`` brings each value back inside the page's own limits
(or to the scenario's value when it is not a number of the right kind) and says so in a
plain-words note the page shows, before anything is built.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any

from sim.params.errors import short
from sim.viz.arms import Levers

CONTAGIONS = ("simple", "complex")


@dataclass(frozen=True)
class Control:
    """A numeric lever as the page shows it.

    Attributes:
        name: the ``Levers`` field (and ``ClassroomModel`` keyword).
        label: what the page calls it, in plain words.
        lo, hi, step: the slider's range and increment.
        integer: whether values are whole numbers.
        help: one sentence for the tooltip.
    """

    name: str
    label: str
    lo: float
    hi: float
    step: float
    integer: bool
    help: str


BASE_CONTROLS = (
    Control("patients", "Patients in each arm", 50, 2000, 50, True,
            "How many patients each arm follows (the same people in both arms)."),
    Control("posts_per_week", "Chat posts per member a week", 0.0, 5.0, 0.1, False,
            "How often an average member posts in the instant-messaging group each week."),
    Control("peer_influence", "Peer influence (0 = none)", 0.0, 8.0, 0.05, False,
            "How strongly seeing friends take their medicine pulls a patient to take theirs "
            "(0 = not at all)."),
    Control("threshold", "Friends needed to convince", 1, 6, 1, True,
            "With complex contagion: how many adherent friends a patient needs to see "
            "before they are swayed."),
    Control("rewiring", "Random friendships (rewiring)", 0.0, 1.0, 0.05, False,
            "How many friendships are random rather than between neighbours "
            "(0 = close-knit clusters, 1 = random)."),
    Control("group_size", "Patients per group", 2, 30, 1, True,
            "How many patients share a peer group (with its peer leader)."),
)


TIPS = {
    "seed": "Which patients are drawn: the same seed gives the same people, so a change "
            "you see comes from the settings.",
    "compare": "What differs between arm A and arm B; everything else is the same.",
    "kickoff": "Two in-person group sessions, a week apart, at the start of the program.",
    "contagion": "Simple: one adherent friend can sway a patient. Complex: it takes "
                 "several (see 'Friends needed to convince').",
    "layout": "How the network is drawn: patients in their groups, or around a ring.",
}
"""Tooltips of the controls that are not sliders."""


def page_controls(opening: Levers) -> dict[str, Control]:
    """The numeric controls, each range widened to hold the value the page opens with."""
    return {c.name: replace(c, lo=min(c.lo, getattr(opening, c.name)),
                            hi=max(c.hi, getattr(opening, c.name))) for c in BASE_CONTROLS}


def shown(value: Any, limit: int = 25) -> str:
    """A short, printable rendering of an untrusted value for a message."""
    return short(value, limit, "\u2026")


def clean_number(control: Control, value: Any, default: float) -> tuple[float, str | None]:
    """``value`` inside the control's range (rounded when whole numbers), with a note if changed.

    Anything that is not a real number (NaN, a string, a bool, None) gives ``default``;
    infinities and numbers too large for a float are clamped like any other.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return default, f"{control.label}: {shown(value)} is not a number; using {default:g}"
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if math.isnan(number):
        return default, f"{control.label}: {shown(value)} is not a number; using {default:g}"
    clamped = min(max(number, control.lo), control.hi)
    if control.integer:
        clamped = int(round(clamped))
    if clamped == value:
        return clamped, None
    why = (f"is outside {control.lo:g} to {control.hi:g}" if number != min(max(
        number, control.lo), control.hi) else "is not a whole number")
    return clamped, f"{control.label}: {shown(value)} {why}; using {clamped:g}"


def clean_levers(given: dict[str, Any], defaults: Levers, controls: dict[str, Control]
                 ) -> tuple[Levers, list[str]]:
    """The levers from the values a page sent; None means the default (the scenario's value).

    Returns:
        The levers, every one inside the page's limits, and a note per value changed.
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, default in vars(defaults).items():
        value = given.get(name)
        if value is None:
            values[name] = default
            continue
        note = None
        if name in controls:
            value, note = clean_number(controls[name], value, default)
        elif name == "kickoff" and not isinstance(value, bool):
            value, note = default, f"In-person kick-off: {shown(value)} is not on/off"
        elif name == "contagion" and value not in CONTAGIONS:
            value, note = default, f"Contagion: {shown(value)} is not one of {CONTAGIONS}"
        values[name] = value
        if note:
            notes.append(note)
    return Levers(**values), notes
