"""The planners' report: one self-contained HTML file, and every number in it as CSV/Parquet.

Sections, in order (one template block each): a plain-words summary (key figures first), the
lifetime results (persistence in words, Monte Carlo error, cumulative incidence), the
incremental analysis, the first-stage side-by-side table with a cost breakdown, time courses
with 95% bands, the cost-effectiveness plane, CEAC and EVPI, subgroups, the assumptions and
the provenance.
Figures are inline SVG (Matplotlib's object API on an Agg canvas: no pyplot, no global
backend or style change); there is no script, no external stylesheet and no web font, so the
file opens anywhere without a network and prints cleanly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.analyses.compare import TIMECOURSE, CompareResult, OutcomeRow, nmb_key
from sim.core import economics as econ
from sim.core.outcomes import CURVE_YEARS, LIFETIME_EVENTS, OUTCOMES
from sim.report.compare_words import (
    DRIFT_WORDS,
    GLOSSARY,
    LIFETIME_PRICE_YEAR,
    horizon_words,
    persistence_words,
    summary_lines,
    summary_markdown,
    thresholds_words,
)
from sim.report.figures import FULL, HALF, inline_svg, new_figure
from sim.report.render import (
    fmt,
    fmt_range,
    markdown_html,
    money_decimals,
    mpl_text,
    num,
    pct,
    render,
)

__all__ = ["write_report", "render_html", "export_tables", "design_colours"]

COMPARATOR_COLOUR = "#6e7781"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C6D31",
           "#332288")
"""Okabe-Ito colours (readable with colour-vision deficiency); the comparator is grey."""

_RC = {
    "svg.fonttype": "none", "font.size": 9.5, "axes.titlesize": 10.5,
    "axes.titleweight": "bold", "axes.titlelocation": "left", "axes.labelsize": 9.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#8c959f",
    "axes.grid": True, "grid.color": "#e6e9ee", "grid.linewidth": 0.8,
    "xtick.color": "#57606a", "ytick.color": "#57606a", "legend.frameon": False,
    "legend.fontsize": 8.5, "font.family": "sans-serif",
}


def design_colours(names: list[str], comparator: str) -> dict[str, str]:
    """A colour per design (comparator grey), stable across every figure and table."""
    out, k = {}, 0
    for name in names:
        if name == comparator:
            out[name] = COMPARATOR_COLOUR
        else:
            out[name] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


# =========================================================================== entry point


def write_report(result: CompareResult, path: str | Path) -> dict[str, Path]:
    """Write the HTML report and, beside it, ``<stem>_data/`` with every table.

    Args:
        result: the analysed comparison (:func:`sim.analyses.compare.analyse`).
        path: the HTML file to write (its folder is created).

    Returns:
        Paths: ``report`` (the HTML), ``data`` (the folder of CSV and Parquet files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data_dir = path.with_name(path.stem + "_data")
    files = export_tables(result, data_dir)
    text = render_html(result, data_dir_name=data_dir.name, files=sorted(files))
    path.write_text(text, encoding="utf-8")
    return {"report": path, "data": data_dir}


def export_tables(result: CompareResult, folder: Path) -> list[str]:
    """Every table of the report as CSV and Parquet, plus provenance.json and summary.md."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name, frame in result.tables().items():
        frame = frame.copy()
        for col in frame.columns:  # Parquet needs one type per column
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str)
                                            else json.dumps(v, default=str)
                                            if isinstance(v, dict | list) else str(v))
        frame.to_csv(folder / f"{name}.csv", index=False)
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        names += [f"{name}.csv", f"{name}.parquet"]
    (folder / "provenance.json").write_text(json.dumps(result.provenance, indent=2,
                                                       default=str))
    (folder / "summary.md").write_text(summary_markdown(result))
    return [*names, "provenance.json", "summary.md"]


# =========================================================================== figures


def _timecourse_fig(result: CompareResult, measure: str, colours: dict[str, str]) -> str:
    tc = result.timecourse[result.timecourse["measure"] == measure]
    label, unit = TIMECOURSE[measure]
    with mpl.rc_context(_RC):
        fig = new_figure(HALF, 3.1)
        ax = fig.add_subplot()
        for name in result.comparison.names:
            d = tc[tc["design"] == name]
            if d.empty:
                continue
            months = d["day"].to_numpy() / 30.4375
            ax.fill_between(months, d["low"], d["high"], color=colours[name], alpha=0.16,
                            linewidth=0)
            ax.plot(months, d["mean"], color=colours[name], linewidth=1.9,
                    linestyle="--" if name == result.comparison.comparator else "-",
                    label=mpl_text(name))
        ax.set_title(label)
        ax.set_xlabel("Months since the program started")
        if measure == "adherent_share":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.set_ylabel("Share of patients")
        else:
            ax.set_ylabel(mpl_text(unit))
        ax.set_xlim(left=0)
        return inline_svg(fig, f"tc-{measure}")


def _cost_fig(result: CompareResult, colours: dict[str, str]) -> str:
    out = result.outcomes.set_index(["outcome", "design"])
    names = result.comparison.names
    cur = result.comparison.currency
    parts = [("program_cost_per_patient", "Program", "#0b5394"),
             ("medication_cost_per_patient", "Medication", "#9fc5e8")]
    if "healthcare_cost_per_patient" in out.index.get_level_values(0):
        parts.append(("healthcare_cost_per_patient", "Other healthcare", "#cfd8e3"))
    with mpl.rc_context(_RC):
        fig = new_figure(FULL, 0.42 * len(names) + 1.2)
        ax = fig.add_subplot()
        y = np.arange(len(names))[::-1]
        left = np.zeros(len(names))
        for key, label, colour in parts:
            vals = np.array([out.loc[(key, n), "mean"] for n in names], dtype=float)
            ax.barh(y, vals, left=left, color=colour, height=0.6, label=label)
            left += vals
        total = np.array([out.loc[("cost_per_patient_discounted", n), "mean"] for n in names])
        for yi, tot, lft in zip(y, total, left, strict=True):
            label = mpl_text(f"{econ.format_money(tot, cur)} discounted")
            ax.text(lft + left.max() * 0.01, yi, label,
                    va="center", fontsize=8.5, color="#3d444d")
        ax.set_yticks(y, [mpl_text(n) for n in names])
        for tick, name in zip(ax.get_yticklabels(), names, strict=True):
            tick.set_color(colours[name])
            tick.set_fontweight("bold")
        ax.set_xlim(0, left.max() * 1.28 if left.max() > 0 else 1)
        ax.set_xlabel(mpl_text(f"{cur} per patient over the horizon (undiscounted parts)"))
        ax.set_title("Cost per patient, by component")
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside upper right", ncols=len(parts))
        return inline_svg(fig, "costs")


def _ce_plane_fig(result: CompareResult, colours: dict[str, str]) -> str:
    cp = result.ce_plane
    cur = result.comparison.currency
    thresholds = result.comparison.spec.thresholds
    with mpl.rc_context(_RC):
        fig = new_figure(HALF, 4.3)
        ax = fig.add_subplot()
        for name in [n for n in result.comparison.names if n != result.comparison.comparator]:
            d = cp[cp["design"] == name]
            ax.scatter(d["inc_effect"], d["inc_cost"], s=16, color=colours[name], alpha=0.45,
                       linewidths=0)
            ax.scatter([d["inc_effect"].mean()], [d["inc_cost"].mean()], s=90,
                       color=colours[name], edgecolors="#1d2733", linewidths=1.1, zorder=5,
                       label=mpl_text(name))
        ax.axhline(0, color="#57606a", linewidth=0.9)
        ax.axvline(0, color="#57606a", linewidth=0.9)
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        span = max(abs(x0), abs(x1))
        xs = np.array([-span, span])
        for t, style in zip(thresholds, ("--", ":", "-.", (0, (1, 3))), strict=False):
            ax.plot(xs, t * xs, color="#3d444d", linewidth=1.0, linestyle=style,
                    label=mpl_text(f"{econ.format_money(t, cur)}/QALY"))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(mpl_text(f"Incremental QALYs per patient vs {result.comparison.comparator}"))
        ax.set_ylabel(mpl_text(f"Incremental cost per patient ({cur})"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title("Cost-effectiveness plane")
        fig.legend(loc="outside lower center", ncols=3, fontsize=8)
        return inline_svg(fig, "ceplane")


def _ceac_fig(result: CompareResult, colours: dict[str, str]) -> str:
    ceac, ceaf = result.ceac, result.ceaf
    cur = result.comparison.currency
    with mpl.rc_context(_RC):
        fig = new_figure(HALF, 4.3)
        ax = fig.add_subplot()
        ax.plot(ceaf["threshold"] / 1000, ceaf["probability"], color="#c9d1d9",
                linewidth=7, solid_capstyle="round", label="frontier (best expected NMB)",
                zorder=1)
        for name in result.comparison.names:
            d = ceac[ceac["design"] == name]
            ax.plot(d["threshold"] / 1000, d["probability"], color=colours[name],
                    linewidth=2.0, label=mpl_text(name), zorder=3,
                    linestyle="--" if name == result.comparison.comparator else "-")
        for t in result.comparison.spec.thresholds:
            ax.axvline(t / 1000, color="#8c959f", linewidth=0.9, linestyle=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, ceac["threshold"].max() / 1000)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(mpl_text(f"Willingness to pay ({cur} thousand per QALY)"))
        ax.set_ylabel("Probability most cost-effective")
        ax.set_title("Cost-effectiveness acceptability curves")
        fig.legend(loc="outside lower center", ncols=3, fontsize=8)
        return inline_svg(fig, "ceac")


def _evpi_fig(result: CompareResult) -> str:
    ev = result.evpi
    cur = result.comparison.currency
    with mpl.rc_context(_RC):
        fig = new_figure(FULL, 2.7)
        ax = fig.add_subplot()
        ax.fill_between(ev["threshold"] / 1000, 0, ev["evpi"], color="#0b5394", alpha=0.12,
                        linewidth=0)
        ax.plot(ev["threshold"] / 1000, ev["evpi"], color="#0b5394", linewidth=2.0)
        for t in result.comparison.spec.thresholds:
            v = float(ev.loc[ev["threshold"] == t, "evpi"].iloc[0])
            ax.axvline(t / 1000, color="#8c959f", linewidth=0.9, linestyle=":")
            ax.annotate(mpl_text(econ.format_money(v, cur, 2)), (t / 1000, v), xytext=(4, 6),
                        textcoords="offset points", fontsize=8.5, color="#0b5394")
        ax.set_xlim(0, ev["threshold"].max() / 1000)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(mpl_text(f"Willingness to pay ({cur} thousand per QALY)"))
        ax.set_ylabel(mpl_text(f"{cur} per patient"))
        ax.set_title("Expected value of perfect information, per patient")
        return inline_svg(fig, "evpi")


def _subgroup_fig(result: CompareResult, colours: dict[str, str]) -> str:
    sg = result.subgroups
    comp = result.comparison.comparator
    others = [n for n in result.comparison.names if n != comp]
    subs = list(dict.fromkeys(sg["subgroup"]))  # in the order compare found them
    k = len(others)
    with mpl.rc_context(_RC):
        fig = new_figure(FULL, 0.2 * k * len(subs) + 0.25 * len(subs) + 1.0)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, (measure, title) in zip(axes, (
                ("hba1c_change", "HbA1c, %-points vs " + comp + " (left is better)"),
                ("utility_change", "QoL (EQ-5D) vs " + comp + " (right is better)")),
                strict=True):
            ticks, labels = [], []
            for i, sub in enumerate(subs):
                centre = -i * (k + 1)
                ticks.append(centre - (k - 1) / 2)
                first = sg[sg["subgroup"] == sub].iloc[0]
                grouping, band, share = first["grouping"], first["band"], float(first["share"])
                labels.append(f"{grouping} {band}\n{100 * share:.0f}% of patients")
                for j, name in enumerate(others):
                    row = sg[(sg["subgroup"] == sub) & (sg["measure"] == measure) &
                             (sg["design"] == name)]
                    if row.empty or not np.isfinite(row["diff_mean"].iloc[0]):
                        continue
                    y = centre - j
                    ax.plot([row["diff_low"].iloc[0], row["diff_high"].iloc[0]], [y, y],
                            color=colours[name], linewidth=1.8)
                    first = i == 0 and measure == "hba1c_change"
                    ax.plot([row["diff_mean"].iloc[0]], [y], "o", color=colours[name],
                            markersize=5, label=mpl_text(name) if first else None)
            ax.axvline(0, color="#57606a", linewidth=0.9)
            ax.set_yticks(ticks, labels)
            ax.set_title(mpl_text(title), fontsize=9.5)
            ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", ncols=len(others), fontsize=8.5)
        return inline_svg(fig, "subgroups")


# =========================================================================== page


def _tone(low: float, high: float, better: str) -> str:
    """Tone ``good`` / ``bad`` when the difference's interval excludes zero in a direction."""
    if not (np.isfinite(low) and np.isfinite(high)) or better not in ("higher", "lower"):
        return ""
    if low > 0 or high < 0:
        return "good" if (low > 0) == (better == "higher") else "bad"
    return ""


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _side_by_side(result: CompareResult, frame: pd.DataFrame | None = None,
                  table_rows: list[OutcomeRow] | None = None) -> list[dict[str, Any]]:
    """Rows of a side-by-side table (default: the first stage's outcomes)."""
    comp, names = result.comparison.comparator, result.comparison.names
    frame = result.outcomes if frame is None else frame
    out = frame.set_index(["outcome", "design"])
    rows = []
    for row in result.rows if table_rows is None else table_rows:
        cells = []
        for n in names:
            r = out.loc[(row.key, n)]
            cells.append({"na": not np.isfinite(r["mean"]), "reference": n == comp,
                          "mean": r["mean"], "low": r["low"], "high": r["high"],
                          "diff_mean": _finite_or_none(r["diff_mean"]),
                          "diff_low": r["diff_low"], "diff_high": r["diff_high"],
                          "tone": _tone(r["diff_low"], r["diff_high"], r["better"]),
                          "decimals": money_decimals(row.kind, r["mean"])})
        rows.append({"label": row.label, "unit": row.unit, "kind": row.kind, "cells": cells})
    return rows


def _icer_rows(result: CompareResult, ic: pd.DataFrame) -> list[dict[str, Any]]:
    thr = result.comparison.spec.thresholds
    best = {t: ic.loc[ic[nmb_key(t)].idxmax(), "design"] for t in thr}
    rows = []
    for _, r in ic.iterrows():
        status = str(r["status"])
        rows.append({
            "design": r["design"], "cost": r["cost"], "qalys": r["qalys"],
            "comparator": r["design"] == result.comparison.comparator,
            "inc_cost": r["inc_cost_vs_comparator"], "inc_qalys": r["inc_effect_vs_comparator"],
            "verdict": r["verdict_vs_comparator"], "status": status, "note": r["note"],
            "icer": r["icer"], "off": status in ("dominated", "extendedly dominated"),
            "by_threshold": [{"nmb": r[nmb_key(t)], "best": r["design"] == best[t],
                              "p": r[f"p_cost_effective_at_{t:g}"]} for t in thr]})
    return rows


SUBGROUP_MEASURES = (("hba1c_change", "hba1c", "HbA1c change", "lower"),
                     ("utility_change", "utility", "QoL change", "higher"))
"""Subgroup table rows: measure, kind, label, better direction."""


def _subgroup_rows(result: CompareResult) -> list[dict[str, Any]]:
    sg, comp, names = result.subgroups, result.comparison.comparator, result.comparison.names
    groups = []
    for sub in dict.fromkeys(sg["subgroup"]):
        part = sg[sg["subgroup"] == sub]
        grouping, band = part["grouping"].iloc[0], part["band"].iloc[0]
        measures = []
        for measure, kind, label, better in SUBGROUP_MEASURES:
            cells = []
            for n in names:
                r = part[(part["measure"] == measure) & (part["design"] == n)].iloc[0]
                cells.append({"mean": r["mean"], "reference": n == comp,
                              "diff_mean": r["diff_mean"], "diff_low": r["diff_low"],
                              "diff_high": r["diff_high"],
                              "tone": _tone(r["diff_low"], r["diff_high"], better)})
            measures.append({"label": label, "kind": kind, "cells": cells})
        groups.append({"grouping": grouping, "band": band,
                       "share": float(part["share"].iloc[0]), "measures": measures})
    return groups


def _assumption_rows(result: CompareResult) -> dict[str, list[dict[str, Any]]]:
    names = result.comparison.names
    a = result.assumptions[result.assumptions["parameter"] != "program.name"]
    assumptions = [{"parameter": r["parameter"], "description": r["description"],
                    "unit": r["unit"], "default": r["default"],
                    "by_design": [r[n] for n in names]} for _, r in a.iterrows()]
    economics = []
    for _, r in result.economics.iterrows():
        values = [(n, r[n]) for n in names]
        economics.append({"parameter": r["parameter"], "description": r["description"],
                          "unit": r["unit"], "psa": r["psa"], "source": r["source"],
                          "by_design": values, "same": len({str(v) for _, v in values}) == 1})
    return {"assumptions": assumptions, "economics": economics,
            "psa": result.psa.to_dict("records")}


def _cards(result: CompareResult) -> list[dict[str, Any]]:
    h, comp, cur = result.headline, result.comparison.comparator, result.comparison.currency
    thr = result.comparison.spec.thresholds
    out = pd.concat([result.outcomes, result.lifetime]).set_index(["outcome", "design"])
    cost_key, qaly_key = result.comparison.ce_keys
    best = focus = h["best_design"]
    if best == comp:
        focus = str(result.icer.set_index("design")[nmb_key(thr[0])].drop(comp).idxmax())
    dc = out.loc[(cost_key, focus)]
    dq = out.loc[(qaly_key, focus)]
    probs = " / ".join(pct(h["probability_best"][f"{t:g}"][best]) for t in thr)
    at = " / ".join(f"{t / 1000:g}k" for t in thr)
    dec = money_decimals("money", dc["diff_mean"])
    cost_range = fmt_range("money", dc["diff_low"], dc["diff_high"], currency=cur,
                           decimals=dec)
    dn = out.loc[(nmb_key(thr[0]), focus)]
    nmb_range = fmt_range("money", dn["diff_low"], dn["diff_high"], currency=cur,
                          decimals=money_decimals("money", dn["diff_mean"]))
    by = "" if focus == best else f" ({focus})"
    return [
        {"k": f"Best value at {econ.format_money(thr[0], cur)}/QALY", "v": best, "chip": True,
         "s": "highest expected net monetary benefit" if best != comp else
         "no design adds enough health for its cost"},
        {"k": f"Extra cost per patient{'' if focus == best else ' (' + focus + ')'}",
         "v": fmt("money", dc["diff_mean"], diff=True, currency=cur), "chip": False,
         "s": f"95% interval {cost_range}, {horizon_words(result)}, vs {comp}"},
        {"k": f"Net benefit gained at {econ.format_money(thr[0], cur)}/QALY",
         "v": fmt("money", dn["diff_mean"], diff=True, currency=cur), "chip": False,
         "s": f"95% interval {nmb_range}, per patient vs {comp}{by}: QALYs x threshold "
              "minus cost"},
        {"k": "QALYs gained per patient", "v": fmt("qaly", dq["diff_mean"], diff=True),
         "chip": False,
         "s": f"95% interval {num(dq['diff_low'], 4)} to {num(dq['diff_high'], 4)}; about "
              f"{num(dq['diff_mean'] * econ.DAYS_PER_YEAR, 1)} days in full health"},
        {"k": f"Probability {best} is cost-effective", "v": probs, "chip": False,
         "s": f"at {cur} {at} per QALY, over {h['replications']} uncertainty draws"},
    ]


def _meta(result: CompareResult) -> str:
    comp = result.comparison
    s, e = comp.first, comp.first["economics"]
    return (f"{len(comp.names)} designs · {result.headline['replications']} replications · "
            f"{s['population']['size']:,} patients · {s['run']['days']}-day horizon · "
            f"{comp.currency}, {e['price_year']} prices · discounting "
            f"{100 * e['discount_rate_costs']:.1f}%/yr · comparator {comp.comparator} · "
            f"{result.provenance['created_utc'][:10]}")


TOC = (("summary", "Summary"), ("lifetime", "Lifetime results"),
       ("incremental", "Incremental analysis"), ("results", "First stage side by side"),
       ("timecourses", "Time courses"),
       ("uncertainty", "Uncertainty"), ("subgroups", "Subgroups"),
       ("assumptions", "Assumptions"), ("provenance", "Provenance"),
       ("glossary", "Glossary"))


CURVE_EVENTS = ("death", "mi", "stroke", "chf", "amputation", "blindness", "renal")
"""Panels of the cumulative-incidence figure (summary event names)."""


def _cuminc_fig(result: CompareResult, colours: dict[str, str]) -> str:
    """Cumulative incidence by lifetime-stage year, mean over replications, per design."""
    runs, names = result.runs, result.comparison.names
    years = np.array([0, *CURVE_YEARS])
    with mpl.rc_context(_RC):
        fig = new_figure(FULL, 4.6)
        axes = fig.subplots(2, 4, sharex=True).ravel()
        titles = {"death": "Death", **LIFETIME_EVENTS}
        for ax, event in zip(axes, CURVE_EVENTS, strict=False):
            for name in names:
                d = runs[runs["design"] == name]
                y = [0.0, *(float(d[f"lifetime_cuminc_{event}_{k}y"].mean())
                            for k in CURVE_YEARS)]
                ax.plot(years, y, color=colours[name], linewidth=1.7, marker="o", markersize=3,
                        linestyle="--" if name == result.comparison.comparator else "-",
                        label=mpl_text(name))
            ax.set_title(titles[event])
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes[-1].axis("off")
        axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center")
        for ax in axes[4:7]:
            ax.set_xlabel("Years after the first stage")
        return inline_svg(fig, "cuminc")


MC_KEYS = (("lifetime_qalys_discounted_se", "qaly"), ("lifetime_cost_discounted_se", "money"),
           ("lifetime_life_years_se", "plain"))
"""Monte Carlo (patient-level) standard errors of a run's lifetime means."""


def _lifetime(result: CompareResult, colours: dict[str, str]) -> dict[str, Any]:
    """Template values of the lifetime section (empty when the stage is off)."""
    comp = result.comparison
    if not comp.lifetime:
        return {"lifetime": None}
    runs, n_rep = result.runs, result.headline["replications"]
    mc = [{"label": OUTCOMES[key].label, "kind": kind,
           "cells": [(float(runs.loc[runs["design"] == n, key].mean()),
                      float(runs.loc[runs["design"] == n, key].mean()) / np.sqrt(n_rep))
                     for n in comp.names]} for key, kind in MC_KEYS]
    return {"lifetime": {
        "rows": _side_by_side(result, result.lifetime, result.lifetime_rows),
        "persistence": [(d.name, persistence_words(d.scenario)) for d in comp.designs],
        "drift_words": DRIFT_WORDS, "price_year": LIFETIME_PRICE_YEAR,
        "horizon_age": comp.first["lifetime"]["horizon_age_years"],
        "mc": mc, "figure": _cuminc_fig(result, colours)}}


def _figures(result: CompareResult, colours: dict[str, str]) -> tuple[dict[str, str],
                                                                       list[tuple[str, str]]]:
    """Every figure as inline SVG by element id, and the time-course (id, caption) pairs."""
    figures = {"fig-costs": _cost_fig(result, colours),
               "fig-ceplane": _ce_plane_fig(result, colours),
               "fig-ceac": _ceac_fig(result, colours), "fig-evpi": _evpi_fig(result),
               "fig-subgroups": _subgroup_fig(result, colours)}
    timecourses = []
    for m, (label, unit) in TIMECOURSE.items():
        if (result.timecourse["measure"] == m).any():
            figures[f"fig-{m}"] = _timecourse_fig(result, m, colours)
            caption = (f"{label}{'' if unit in label else f' ({unit})'}: mean over "
                       "replications; band: 95% interval.")
            timecourses.append((f"fig-{m}", caption))
    return figures, timecourses


def render_html(result: CompareResult, *, data_dir_name: str = "report_data",
                files: list[str] | None = None) -> str:
    """The report as one self-contained HTML document (no scripts, no external files)."""
    comp = result.comparison
    spec = comp.spec
    colours = design_colours(comp.names, comp.comparator)
    figures, timecourses = _figures(result, colours)
    lines = summary_lines(result)
    seeds = result.provenance["replication_seeds"]
    toc, decision_html = TOC, None
    if result.decision is not None:  # the decision section (rendered by its own module)
        from sim.report.decision_report import render_decision_section

        decision_html = render_decision_section(result.decision, comp.currency)
        at = [a for a, _ in TOC].index("subgroups")
        toc = (*TOC[:at], ("decision", "Decision analysis"), *TOC[at:])
    return render(
        "compare.html.j2", generator="peersupport compare",
        eyebrow="comparison of program designs",
        title=spec.name.replace("_", " ") if spec.name else "Program designs compared",
        description=spec.description, meta=_meta(result), toc=toc, colours=colours,
        decision_html=decision_html,
        names=comp.names, comparator=comp.comparator, currency=comp.currency,
        thresholds=spec.thresholds, thresholds_words=thresholds_words(result),
        n_rep=result.headline["replications"], cards=_cards(result),
        labels=comp.labels, glossary=GLOSSARY,
        summary_html=markdown_html("\n\n".join(lines[:-1])),
        caveat_html=markdown_html(lines[-1]), side_by_side=_side_by_side(result),
        icer=_icer_rows(result, result.icer), horizon_words=horizon_words(result),
        first_stage_days=comp.first["run"]["days"],
        icer_programme=_icer_rows(result, result.icer_programme)
        if comp.lifetime and spec.horizon != "programme" else None,
        **_lifetime(result, colours), subgroups=_subgroup_rows(result),
        **_assumption_rows(result), figures=figures, timecourse_figures=timecourses,
        provenance=result.provenance, seeds_shown=list(seeds.items())[:6],
        data_dir=data_dir_name, csv_files=[f for f in files or [] if f.endswith(".csv")])
