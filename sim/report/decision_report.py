"""The decision section of the compare report: tornado, threshold, EVPPI and budget impact.

:func:`decision_context` turns a :class:`sim.analyses.decision.DecisionResult` into the
context of ``templates/decision_section.html.j2`` (a fragment the compare report includes);
:func:`render_decision_section` renders it on its own. Numbers come from
``sim.analyses.decision``; here they are only formatted and drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

from sim.analyses.decision import DecisionResult
from sim.report.figures import FULL, inline_svg, new_figure
from sim.report.render import mpl_text, render

TOP = 10
"""Parameters shown per design in the tornado figure and table."""


def _tornado_fig(tornado: pd.DataFrame, design: str, base: float, currency: str) -> str:
    """Horizontal bars from the base incremental NMB to its value at the low/high percentile."""
    rows = tornado[tornado["design"] == design].head(TOP).iloc[::-1]
    fig = new_figure(FULL, 0.9 + 0.38 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    for value, colour, label in (("y_at_low", "#4477aa", "parameter at its low (2.5th pct)"),
                                 ("y_at_high", "#ee6677", "parameter at its high (97.5th pct)")):
        shades = [to_rgba(colour, 1.0 if real else 0.3) for real in rows["distinguishable"]]
        ax.barh(y, rows[value].to_numpy() - base, left=base, color=shades, height=0.6,
                label=label)
    ax.axvline(base, color="#333", lw=1)
    ax.axvline(0, color="#999", lw=1, ls="--")
    ax.set_yticks(y, [mpl_text(p) for p in rows["parameter"]])
    ax.set_xlabel(f"incremental net monetary benefit vs comparator ({currency} per patient)")
    ax.set_title(mpl_text(design), loc="left")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return inline_svg(fig, f"tornado-{design}")


def decision_context(decision: DecisionResult, currency: str) -> dict[str, Any]:
    """The template context of the decision section (records of plain values, figures)."""
    fits = decision.metamodel.sort_values("base_incremental_nmb", ascending=False)
    designs = fits["design"].tolist()
    evppi = decision.evppi[decision.evppi["threshold"] == decision.threshold]
    return {
        "threshold": decision.threshold, "comparator": decision.comparator,
        "currency": currency, "top": TOP,
        "metamodel": fits.to_dict("records"),
        "tornado_figures": {d: _tornado_fig(decision.tornado, d, float(b), currency)
                            for d, b in zip(fits["design"], fits["base_incremental_nmb"],
                                            strict=True)},
        "tornado": {d: decision.tornado[decision.tornado["design"] == d].head(TOP)
                    .to_dict("records") for d in designs},
        "thresholds": decision.thresholds[decision.thresholds["within_sample"]]
        .to_dict("records"),
        "evppi": evppi.sort_values("evppi", ascending=False).to_dict("records"),
        "budget_impact": decision.budget_impact.to_dict("records"),
    }


def render_decision_section(decision: DecisionResult, currency: str) -> str:
    """The decision section as an HTML fragment (``decision_section.html.j2``)."""
    return render("decision_section.html.j2", **decision_context(decision, currency))
