"""The validation report: the table of published vs model values, and a page per study.

Numbers come from :class:`sim.analyses.validation.Validation`; this module formats them
(plain text for the terminal, Markdown, and HTML through the shared report template) and
draws one figure per study. Failures are highlighted in every form.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.analyses.validation import OutcomeResult, Study, Validation
from sim.report.render import md_escape, mpl_text, render

__all__ = ["COLUMNS", "published_text", "model_text", "table_rows", "markdown_table",
           "text_table", "study_figure", "html_report", "study_sections"]

COLUMNS = ("study", "outcome", "published (interval)", "model (95% interval)", "result")


def published_text(r: OutcomeResult) -> str:
    """E.g. ``-0.74 [-0.94, -0.54]`` or ``+0.16 (needs > 0)``."""
    o = r.outcome
    text = f"{o.published:+.3g}"
    if o.interval is not None:
        text += f" [{o.interval[0]:+.3g}, {o.interval[1]:+.3g}]"
    if o.compare != "within":
        text += f" (needs {'>' if o.compare == 'greater' else '<'} {o.threshold:g})"
    return text


def model_text(r: OutcomeResult) -> str:
    """E.g. ``-0.71 [-0.74, -0.68]`` (mean and 95% interval over replications)."""
    if not math.isfinite(r.mean):
        return "n/a"
    if not math.isfinite(r.ci_low):
        return f"{r.mean:+.3g}"
    return f"{r.mean:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}]"


def table_rows(results: Sequence[OutcomeResult]) -> list[tuple[str, ...]]:
    """The validation table as rows of text."""
    return [(r.study, r.outcome.name, published_text(r), model_text(r),
             "pass" if r.passed else "FAIL") for r in results]


def markdown_table(results: Sequence[OutcomeResult]) -> str:
    """The validation table in Markdown (names escaped, failures in bold)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table_rows(results):
        names = [md_escape(c) for c in row[:2]]  # untrusted; numbers are ours
        cells = [*names, *(c.replace("|", "/") for c in row[2:-1])]
        lines.append("| " + " | ".join(cells) +
                     f" | {'pass' if row[-1] == 'pass' else '**FAIL**'} |")
    return "\n".join(lines)


def text_table(results: Sequence[OutcomeResult]) -> str:
    """The validation table as aligned plain text."""
    rows = [COLUMNS, *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


# --------------------------------------------------------------------------- figure


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _outcome_panel(ax: Any, res: OutcomeResult) -> None:
    o = res.outcome
    if o.interval is not None:
        ax.errorbar([0], [o.published], yerr=[[o.published - o.interval[0]],
                                              [o.interval[1] - o.published]],
                    fmt="D", color="black", capsize=6, label="published")
    else:
        ax.plot([0], [o.published], "D", color="black", label="published")
    color = "#1b7837" if res.passed else "#c51b7d"
    if math.isfinite(res.mean):
        err = ([[res.mean - res.ci_low], [res.ci_high - res.mean]]
               if math.isfinite(res.ci_low) else None)
        ax.errorbar([1], [res.mean], yerr=err, fmt="o", color=color, capsize=6, label="model")
    if o.compare != "within":
        ax.axhline(o.threshold, color="grey", lw=0.8, ls="--")
    ax.set_xticks([0, 1], ["published", "model"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_title(mpl_text(_wrap(o.name, 34)) + ("" if res.passed else "  [FAIL]"),
                 fontsize=8.5, color="#1d2733" if res.passed else "#b42318")
    ax.set_ylabel(mpl_text(_wrap(f"{o.metric()}: {res.of}", 40)), fontsize=7.5)
    ax.tick_params(labelsize=7.5)


def _arms_panel(ax: Any, study: Study, timeseries: pd.DataFrame, runs: pd.DataFrame) -> None:
    ids = runs[(runs["study"] == study.name) & (runs["status"] == "ok")]
    for arm, label in study.labels.items():
        run_ids = ids.loc[ids["arm"] == arm, "run_id"]
        ts = timeseries[timeseries["run_id"].isin(run_ids)]
        if ts.empty or study.spec.plot not in ts:
            continue
        g = ts.groupby("day")[study.spec.plot]
        mean, lo, hi = g.mean(), g.min(), g.max()
        line, = ax.plot(mean.index, mean.values, lw=1.4, label=mpl_text(label))
        ax.fill_between(mean.index, lo.values, hi.values, alpha=0.15, color=line.get_color())
    ax.set_xlabel("day", fontsize=8)
    ax.set_ylabel(mpl_text(study.spec.plot), fontsize=8)
    ax.set_title("arms (mean; band: range over replications)", fontsize=8.5)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7.5)


def study_figure(study: Study, results: Sequence[OutcomeResult],
                 timeseries: pd.DataFrame | None, runs: pd.DataFrame) -> bytes:
    """PNG: one panel per outcome (published vs model) and the arms' time courses."""
    mine = [r for r in results if r.study == study.name]
    panels = len(mine) + (timeseries is not None)
    cols = min(4, panels)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(3.4 * cols, 3.0 * rows))
    FigureCanvasAgg(fig)
    flat = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax, res in zip(flat, mine, strict=False):
        _outcome_panel(ax, res)
    if timeseries is not None:
        _arms_panel(flat[len(mine)], study, timeseries, runs)
    for ax in flat[panels:]:
        ax.set_visible(False)
    fig.suptitle(mpl_text(f"{study.name}: {study.spec.title}"), fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def study_sections(validation: Validation) -> list[dict[str, Any]]:
    """Per study with results: its description, outcomes and figure (template context)."""
    res = validation.results
    sections = []
    for study in validation.studies:
        mine = [r for r in res if r.study == study.name]
        if not mine:
            continue
        sections.append({
            "spec": study.spec, "labels": list(study.labels.items()),
            "replications": validation.replications.get(study.spec.study, "?"),
            "outcomes": [{"r": r, "published": published_text(r), "model": model_text(r)}
                         for r in mine],
            "figure": _png_uri(study_figure(study, res, validation.timeseries,
                                            validation.runs))})
    return sections


def html_report(validation: Validation, title: str = "peersupport validation",
                **extra: Any) -> str:
    """A self-contained HTML page: the table, then per study its setting and figure.

    ``extra`` goes to the template (the calibration report adds its own sections).
    """
    res = validation.results
    template = extra.pop("template", "validation.html.j2")
    return render(
        template, generator=extra.pop("generator", "peersupport validate"),
        eyebrow=extra.pop("eyebrow", "validation against published studies"), title=title,
        meta=f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} · "
             f"{validation.wall_time_s:,.0f} s of runs",
        toc=(), passed=sum(r.passed for r in res), total=len(res),
        failed_runs=validation.failed_runs, columns=COLUMNS,
        rows=[{"cells": row[:-1], "passed": row[-1] == "pass"} for row in table_rows(res)],
        studies=study_sections(validation), **extra)
