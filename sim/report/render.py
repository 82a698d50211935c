"""One way to render reports: a Jinja2 environment with autoescaping and shared number filters.

Every report (compare, sensitivity, validation, calibration) extends ``base.html.j2`` and its
one stylesheet, so all four look alike. Templates format numbers; they never compute them.
Names, titles and labels are untrusted text: HTML gets them through autoescaping, Markdown
through :func:`md_escape`, Matplotlib through :func:`mpl_text`.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

import jinja2
from markdown_it import MarkdownIt

from sim.core import economics as econ

__all__ = ["environment", "render", "fmt", "fmt_interval", "pct", "num", "money",
           "interval", "sig", "md_escape", "markdown_html", "mpl_text"]


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def num(value: Any, places: int = 3, *, signed: bool = False) -> str:
    """A number with ``places`` decimals ("n/a" when missing); ``-0`` prints as 0."""
    if not _finite(value):
        return "n/a"
    v = float(value)
    if round(v, places) == 0:
        v = 0.0
    return f"{v:+,.{places}f}" if signed else f"{v:,.{places}f}"


def money(value: Any, currency: str = "GBP", decimals: int | None = None) -> str:
    """An amount of money, e.g. ``GBP 12,345`` (``sim.core.economics.format_money``)."""
    return econ.format_money(float(value), currency, decimals) if _finite(value) else "n/a"


def pct(p: Any) -> str:
    """A probability as a whole percentage; "< 1%" and "> 99%" near the ends."""
    if not _finite(p):
        return "n/a"
    p = float(p)
    if 0 < p < 0.01:
        return "< 1%"
    if 0.99 < p < 1:
        return "> 99%"
    return f"{100 * p:.0f}%"


def sig(value: Any, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` significant figures (missing: empty), else text."""
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else ""
    return str(value)


def interval(low: Any, high: Any, places: int = 3) -> str:
    """``low to high`` ("" when either end is missing)."""
    if not (_finite(low) and _finite(high)):
        return ""
    return f"{num(low, places)} to {num(high, places)}"


_KINDS = {"share": (100.0, 1), "hba1c": (1.0, 2), "utility": (1.0, 4), "qaly": (1.0, 4),
          "per1000": (1.0, 1), "distress": (1.0, 2)}


def fmt(kind: str, value: Any, *, diff: bool = False, currency: str = "GBP",
        unit: bool = True, decimals: int | None = None) -> str:
    """Format a value of an outcome kind (share, hba1c, utility, distress, money, qaly, plain).

    Values that round to zero print as 0 (never "-0.0"); differences carry a sign.
    """
    if not _finite(value):
        return "n/a"
    value = float(value)
    scale, places = _KINDS.get(kind, (1.0, 3))
    if kind == "money":
        scale, places = 1.0, money_decimals(kind, value) if decimals is None else decimals
    v = value * scale
    if round(v, places) == 0:
        v = 0.0
    sign = "+" if diff and v > 0 else ""
    if kind == "money":
        text = econ.format_money(v, currency, places) if unit else f"{v:,.{places}f}"
        return f"+{text}" if sign else text
    text = f"{sign}{v:.{places}f}"
    if kind == "share" and unit:
        text += " pp" if diff else "%"
    return text


def money_decimals(kind: str, value: Any) -> int | None:
    """Decimals of an amount of money and of its interval: 0 from 100 up, else 2.

    Decided by the amount alone (not by the row or sentence it is in), so one amount, e.g. an
    increment, prints the same in every table, card and sentence. None for other kinds.
    """
    if kind != "money":
        return None
    return 0 if _finite(value) and abs(float(value)) >= 100 else 2


def fmt_range(kind: str, low: Any, high: Any, *, currency: str = "GBP",
              decimals: int | None = None) -> str:
    """``low to high`` of an outcome kind without units ("" when either end is missing)."""
    if not (_finite(low) and _finite(high)):
        return ""
    lo = fmt(kind, low, currency=currency, unit=False, decimals=decimals)
    hi = fmt(kind, high, currency=currency, unit=False, decimals=decimals)
    return f"{lo} to {hi}"


def fmt_interval(kind: str, mean: Any, low: Any, high: Any, *, diff: bool = False,
                 currency: str = "GBP", decimals: int | None = None) -> str:
    """``mean (low to high)``, the interval without units (money: the mean's decimals)."""
    if not _finite(mean):
        return "n/a"
    if decimals is None:
        decimals = money_decimals(kind, mean)
    head = fmt(kind, mean, diff=diff, currency=currency, decimals=decimals)
    rng = fmt_range(kind, low, high, currency=currency, decimals=decimals)
    return f"{head} ({rng})" if rng else head


# --------------------------------------------------------------------------- untrusted text

_MD_SPECIAL = re.compile(r"[\\`*\[\]<>#|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_LINE_START = re.compile(r"^(\d*)([-+=.)])")


def md_escape(text: Any) -> str:
    """Untrusted text as one line of literal Markdown: significant characters escaped.

    Newlines become spaces, so a name can never start a heading, a list or an image line;
    brackets, angle brackets, emphasis marks and entities are backslash-escaped (an
    underscore inside a word, as in ``usual_care``, is literal in CommonMark and stays).
    """
    flat = " ".join(str(text).split())
    flat = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    return _MD_LINE_START.sub(r"\1\\\2", flat)


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in the source is shown as text; images are not rendered (never follow a path
    # found in text): figures go into the page through the template, not through Markdown.
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def markdown_html(text: str) -> str:
    """CommonMark (with tables) as HTML, with raw HTML escaped and images left as text."""
    return _markdown().render(text)


def mpl_text(text: Any) -> str:
    """Untrusted text made literal for Matplotlib: ``$`` escaped, so no mathtext is parsed."""
    return str(text).replace("$", r"\$")


# --------------------------------------------------------------------------- environment


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: package templates, autoescaping, shared filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sim.report", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update(
        num=num, money=money, pct=pct, interval=interval, sig=sig,
        outcome=lambda value, kind, **kw: fmt(kind, value, **kw),
        outcome_interval=lambda mean, low, high, kind, **kw: fmt_interval(kind, mean, low, high,
                                                                          **kw),
        outcome_range=lambda low, high, kind, **kw: fmt_range(kind, low, high, **kw))
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the report templates (``sim/report/templates``)."""
    return environment().get_template(template).render(**context)
