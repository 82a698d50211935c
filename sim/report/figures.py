"""Figures for the HTML reports: a blank figure of the house size, drawn as inline SVG.

One home for what every report figure shares, so a report section in its own module
(e.g. the decision section) draws like the rest without reaching into another report.
"""

from __future__ import annotations

import io
import re

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def inline_svg(fig: Figure, salt: str) -> str:
    """A figure as an inline <svg> element (responsive, unique ids, browser fonts)."""
    FigureCanvasAgg(fig)
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    width = re.search(r'viewBox="0 0 ([\d.]+) ', text)
    cap = f' style="max-width:{float(width.group(1)) * 1.45:.0f}px"' if width else ""
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  rf'<svg\1 role="img"{cap} preserveAspectRatio="xMidYMid meet"', text,
                  count=1)
    # Text takes the page's font (CSS below): no font files, no fixed family.
    return re.sub(r"\s*font-family:[^;\"]*;?", "", text)


FULL, HALF = 11.0, 5.5
"""Figure widths (inches) of a full-width and a half-width figure: at the page's width the
SVG is scaled about 1.35x, so 9.5 pt text reads as about 13 px, like the tables."""


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained", dpi=100)
