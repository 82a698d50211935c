"""The planners' report: one self-contained HTML file, and every number in it as CSV/Parquet.

Sections, in order: a plain-words summary (key figures first), the side-by-side table with
a cost breakdown, the incremental analysis, time courses with 95% bands, the
cost-effectiveness plane, CEAC and EVPI, subgroups, the assumptions and the provenance.
Figures are inline SVG (Matplotlib's object API on an Agg canvas: no pyplot, no global
backend or style change); there is no script, no external stylesheet and no web font, so the
file opens anywhere without a network and prints cleanly.
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.core import economics as econ
from sim.analyses.compare import (
    SUBGROUP_LABELS,
    TIMECOURSE,
    CompareResult,
    fmt,
    fmt_interval,
    nmb_key,
)

__all__ = ["write_report", "render_html", "export_tables", "design_colours"]

COMPARATOR_COLOUR = "#6e7781"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C6D31",
           "#332288")
"""Okabe-Ito colours (readable with colour-vision deficiency); the comparator is grey."""

FONT_STACK = ("-apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', "
              "'Liberation Sans', 'DejaVu Sans', sans-serif")

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
    (folder / "summary.md").write_text("\n\n".join(result.summary) + "\n")
    return [*names, "provenance.json", "summary.md"]


# =========================================================================== figures


def _svg(fig: Figure, salt: str) -> str:
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


def _fig(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def _timecourse_fig(result: CompareResult, measure: str, colours: dict[str, str]) -> str:
    tc = result.timecourse[result.timecourse["measure"] == measure]
    label, unit = TIMECOURSE[measure]
    with mpl.rc_context(_RC):
        fig = _fig(HALF, 3.1)
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
                    label=name)
        ax.set_title(label)
        ax.set_xlabel("Months since the program started")
        if measure == "adherent_share":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.set_ylabel("Share of patients")
        else:
            ax.set_ylabel(unit)
        ax.set_xlim(left=0)
        return _svg(fig, f"tc-{measure}")


def _cost_fig(result: CompareResult, colours: dict[str, str]) -> str:
    out = result.outcomes.set_index(["outcome", "design"])
    names = result.comparison.names
    cur = result.comparison.currency
    parts = [("program_cost_per_patient", "Program", "#0b5394"),
             ("medication_cost_per_patient", "Medication", "#9fc5e8")]
    if "healthcare_cost_per_patient" in out.index.get_level_values(0):
        parts.append(("healthcare_cost_per_patient", "Other healthcare", "#cfd8e3"))
    with mpl.rc_context(_RC):
        fig = _fig(FULL, 0.42 * len(names) + 1.2)
        ax = fig.add_subplot()
        y = np.arange(len(names))[::-1]
        left = np.zeros(len(names))
        for key, label, colour in parts:
            vals = np.array([out.loc[(key, n), "mean"] for n in names], dtype=float)
            ax.barh(y, vals, left=left, color=colour, height=0.6, label=label)
            left += vals
        total = np.array([out.loc[("cost_per_patient_discounted", n), "mean"] for n in names])
        for yi, tot, lft in zip(y, total, left, strict=True):
            ax.text(lft + left.max() * 0.01, yi, f"{econ.format_money(tot, cur)} discounted",
                    va="center", fontsize=8.5, color="#3d444d")
        ax.set_yticks(y, names)
        for tick, name in zip(ax.get_yticklabels(), names, strict=True):
            tick.set_color(colours[name])
            tick.set_fontweight("bold")
        ax.set_xlim(0, left.max() * 1.28 if left.max() > 0 else 1)
        ax.set_xlabel(f"{cur} per patient over the horizon (undiscounted parts)")
        ax.set_title("Cost per patient, by component")
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside upper right", ncols=len(parts))
        return _svg(fig, "costs")


def _ce_plane_fig(result: CompareResult, colours: dict[str, str]) -> str:
    cp = result.ce_plane
    cur = result.comparison.currency
    thresholds = result.comparison.spec.thresholds
    with mpl.rc_context(_RC):
        fig = _fig(HALF, 4.3)
        ax = fig.add_subplot()
        for name in [n for n in result.comparison.names if n != result.comparison.comparator]:
            d = cp[cp["design"] == name]
            ax.scatter(d["inc_effect"], d["inc_cost"], s=16, color=colours[name], alpha=0.45,
                       linewidths=0)
            ax.scatter([d["inc_effect"].mean()], [d["inc_cost"].mean()], s=90,
                       color=colours[name], edgecolors="#1d2733", linewidths=1.1, zorder=5,
                       label=name)
        ax.axhline(0, color="#57606a", linewidth=0.9)
        ax.axvline(0, color="#57606a", linewidth=0.9)
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        span = max(abs(x0), abs(x1))
        xs = np.array([-span, span])
        for t, style in zip(thresholds, ("--", ":", "-.", (0, (1, 3))), strict=False):
            ax.plot(xs, t * xs, color="#3d444d", linewidth=1.0, linestyle=style,
                    label=f"{econ.format_money(t, cur)}/QALY")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(f"Incremental QALYs per patient vs {result.comparison.comparator}")
        ax.set_ylabel(f"Incremental cost per patient ({cur})")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title("Cost-effectiveness plane")
        fig.legend(loc="outside lower center", ncols=3, fontsize=8)
        return _svg(fig, "ceplane")


def _ceac_fig(result: CompareResult, colours: dict[str, str]) -> str:
    ceac, ceaf = result.ceac, result.ceaf
    cur = result.comparison.currency
    with mpl.rc_context(_RC):
        fig = _fig(HALF, 4.3)
        ax = fig.add_subplot()
        ax.plot(ceaf["threshold"] / 1000, ceaf["probability"], color="#c9d1d9",
                linewidth=7, solid_capstyle="round", label="frontier (best expected NMB)",
                zorder=1)
        for name in result.comparison.names:
            d = ceac[ceac["design"] == name]
            ax.plot(d["threshold"] / 1000, d["probability"], color=colours[name],
                    linewidth=2.0, label=name, zorder=3,
                    linestyle="--" if name == result.comparison.comparator else "-")
        for t in result.comparison.spec.thresholds:
            ax.axvline(t / 1000, color="#8c959f", linewidth=0.9, linestyle=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, ceac["threshold"].max() / 1000)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(f"Willingness to pay ({cur} thousand per QALY)")
        ax.set_ylabel("Probability most cost-effective")
        ax.set_title("Cost-effectiveness acceptability curves")
        fig.legend(loc="outside lower center", ncols=3, fontsize=8)
        return _svg(fig, "ceac")


def _evpi_fig(result: CompareResult) -> str:
    ev = result.evpi
    cur = result.comparison.currency
    with mpl.rc_context(_RC):
        fig = _fig(FULL, 2.7)
        ax = fig.add_subplot()
        ax.fill_between(ev["threshold"] / 1000, 0, ev["evpi"], color="#0b5394", alpha=0.12,
                        linewidth=0)
        ax.plot(ev["threshold"] / 1000, ev["evpi"], color="#0b5394", linewidth=2.0)
        for t in result.comparison.spec.thresholds:
            v = float(ev.loc[ev["threshold"] == t, "evpi"].iloc[0])
            ax.axvline(t / 1000, color="#8c959f", linewidth=0.9, linestyle=":")
            ax.annotate(econ.format_money(v, cur, 2), (t / 1000, v), xytext=(4, 6),
                        textcoords="offset points", fontsize=8.5, color="#0b5394")
        ax.set_xlim(0, ev["threshold"].max() / 1000)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"Willingness to pay ({cur} thousand per QALY)")
        ax.set_ylabel(f"{cur} per patient")
        ax.set_title("Expected value of perfect information, per patient")
        return _svg(fig, "evpi")


def _subgroup_fig(result: CompareResult, colours: dict[str, str]) -> str:
    sg = result.subgroups
    comp = result.comparison.comparator
    others = [n for n in result.comparison.names if n != comp]
    subs = [s for s in SUBGROUP_LABELS if s in set(sg["subgroup"])]
    k = len(others)
    with mpl.rc_context(_RC):
        fig = _fig(FULL, 0.2 * k * len(subs) + 0.25 * len(subs) + 1.0)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, (measure, title) in zip(axes, (
                ("hba1c_change", "HbA1c, %-points vs " + comp + " (left is better)"),
                ("utility_change", "QoL (EQ-5D) vs " + comp + " (right is better)")),
                strict=True):
            ticks, labels = [], []
            for i, sub in enumerate(subs):
                centre = -i * (k + 1)
                ticks.append(centre - (k - 1) / 2)
                grouping, band = SUBGROUP_LABELS[sub]
                share = float(sg.loc[sg["subgroup"] == sub, "share"].iloc[0])
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
                            markersize=5, label=name if first else None)
            ax.axvline(0, color="#57606a", linewidth=0.9)
            ax.set_yticks(ticks, labels)
            ax.set_title(title, fontsize=9.5)
            ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", ncols=len(others), fontsize=8.5)
        return _svg(fig, "subgroups")


# =========================================================================== HTML pieces


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _md(text: str) -> str:
    """The summary's tiny markdown: **bold**."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))


def _chip(name: str, colours: dict[str, str]) -> str:
    return (f'<span class="chip" style="background:{colours[name]}"></span>'
            f'<span class="dname">{_e(name)}</span>')


def _pct(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    if 0 < p < 0.01:
        return "&lt;1%"
    if 0.99 < p < 1:
        return "&gt;99%"
    return f"{100 * p:.0f}%"


def _tone(row: pd.Series) -> str:
    """good / bad when the difference's interval excludes zero in a direction."""
    lo, hi, better = row["diff_low"], row["diff_high"], row["better"]
    if not (np.isfinite(lo) and np.isfinite(hi)) or better not in ("higher", "lower"):
        return ""
    if lo > 0 or hi < 0:
        up = lo > 0
        return "good" if (up == (better == "higher")) else "bad"
    return ""


def _side_by_side(result: CompareResult, colours: dict[str, str]) -> str:
    comp, names, cur = (result.comparison.comparator, result.comparison.names,
                        result.comparison.currency)
    out = result.outcomes.set_index(["outcome", "design"])
    head = "".join(f"<th>{_chip(n, colours)}{'<br><small>comparator</small>' if n == comp else ''}"
                   "</th>" for n in names)
    body = []
    for row in result.rows:
        cells = []
        part = result.outcomes[result.outcomes["outcome"] == row.key]
        big = np.nanmax(np.abs(part[["mean", "low", "high"]].to_numpy(dtype=float)))
        decimals = (0 if big >= 100 else 2) if row.kind == "money" else None
        for n in names:
            r = out.loc[(row.key, n)]
            if not np.isfinite(r["mean"]):
                cells.append('<td><span class="na">no IM group</span></td>')
                continue
            value = fmt(row.kind, r["mean"], currency=cur, decimals=decimals)
            iv = fmt_interval(row.kind, r["mean"], r["low"], r["high"], currency=cur,
                              decimals=decimals)
            iv = iv[iv.find("(") + 1:-1] if "(" in iv else ""
            if n == comp:
                diff = '<span class="d muted">reference</span>'
            elif np.isfinite(r["diff_mean"]):
                d = fmt_interval(row.kind, r["diff_mean"], r["diff_low"], r["diff_high"],
                                 diff=True, currency=cur, decimals=decimals)
                diff = f'<span class="d {_tone(r)}">{_e(d)}</span>'
            else:
                diff = '<span class="d muted">&ndash;</span>'
            cells.append(f'<td><span class="v">{_e(value)}</span>'
                         f'<span class="iv">{_e(iv)}</span>{diff}</td>')
        body.append(f'<tr><th scope="row">{_e(row.label)}<span class="unit">{_e(row.unit)}'
                    f'</span></th>{"".join(cells)}</tr>')
    return (f'<div class="tablewrap"><table class="sbs" id="side-by-side-table"><thead><tr>'
            f'<th>Outcome (per patient)</th>{head}</tr></thead><tbody>{"".join(body)}'
            "</tbody></table></div>")


def _icer_table(result: CompareResult, colours: dict[str, str]) -> str:
    ic, cur = result.icer, result.comparison.currency
    thr = result.comparison.spec.thresholds
    head = ("<th>Design</th><th>Cost</th><th>QALYs</th><th>Extra<br>cost</th><th>Extra<br>"
            f"QALYs</th><th class=\"l\">Against {_e(result.comparison.comparator)}</th>"
            "<th class=\"l\">Frontier ICER</th>"
            + "".join(f"<th>NMB<br>at {t / 1000:g}k</th><th>P(best)<br>at {t / 1000:g}k</th>"
                      for t in thr))
    rows = []
    best = {t: ic.loc[ic[nmb_key(t)].idxmax(), "design"] for t in thr}
    for _, r in ic.iterrows():
        status = str(r["status"])
        if status == "ICER":
            frontier = _e(f"{econ.format_money(r['icer'], cur)}/QALY")
        elif status == "extendedly dominated":
            mix = str(r["note"]).removeprefix("extendedly dominated by a mix of ")
            frontier = f'extendedly dominated<span class="unit">by a mix of {_e(mix)}</span>'
        elif status == "dominated":
            by = str(r["note"]).removeprefix("dominated by ")
            frontier = f'dominated<span class="unit">by {_e(by)}</span>'
        else:
            frontier = _e(status)
        cls = " class=\"off\"" if status in ("dominated", "extendedly dominated") else ""
        comparator = r["design"] == result.comparison.comparator
        extra_c = "" if comparator else fmt("money", r["inc_cost_vs_comparator"], diff=True,
                                            currency=cur)
        extra_q = "" if comparator else fmt("qaly", r["inc_effect_vs_comparator"], diff=True)
        cells = [f'<th scope="row">{_chip(r["design"], colours)}</th>',
                 f"<td>{_e(econ.format_money(r['cost'], cur))}</td>",
                 f"<td>{r['qalys']:.4f}</td>", f"<td>{_e(extra_c)}</td>",
                 f"<td>{_e(extra_q)}</td>",
                 f'<td class="words">{_e(r["verdict_vs_comparator"])}</td>',
                 f'<td class="words">{frontier}</td>']
        for t in thr:
            strong = r["design"] == best[t]
            nmb = econ.format_money(r[nmb_key(t)], cur)
            cells.append(f"<td>{'<strong>' if strong else ''}{_e(nmb)}"
                         f"{'</strong>' if strong else ''}</td>")
            cells.append(f"<td>{_pct(r[f'p_cost_effective_at_{t:g}'])}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (f'<div class="tablewrap"><table class="icer" id="incremental-table"><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _subgroup_table(result: CompareResult, colours: dict[str, str]) -> str:
    sg, comp = result.subgroups, result.comparison.comparator
    names = result.comparison.names
    head = "".join(f"<th>{_chip(n, colours)}</th>" for n in names)
    rows = []
    for sub, (grouping, band) in SUBGROUP_LABELS.items():
        part = sg[sg["subgroup"] == sub]
        if part.empty:
            continue
        share = float(part["share"].iloc[0])
        for measure, kind in (("hba1c_change", "hba1c"), ("utility_change", "utility")):
            cells = []
            for n in names:
                r = part[(part["measure"] == measure) & (part["design"] == n)].iloc[0]
                value = fmt(kind, r["mean"])
                if n == comp:
                    diff = '<span class="d muted">reference</span>'
                else:
                    d = fmt_interval(kind, r["diff_mean"], r["diff_low"], r["diff_high"],
                                     diff=True)
                    better = "lower" if measure == "hba1c_change" else "higher"
                    tone = _tone(pd.Series({"diff_low": r["diff_low"],
                                            "diff_high": r["diff_high"], "better": better}))
                    diff = f'<span class="d {tone}">{_e(d)}</span>'
                cells.append(f'<td><span class="v">{_e(value)}</span>{diff}</td>')
            label = "HbA1c change" if measure == "hba1c_change" else "QoL change"
            first = measure == "hba1c_change"
            group_cell = (f'<th scope="rowgroup" rowspan="2">{_e(grouping)}: {_e(band)}'
                          f'<span class="unit">{100 * share:.0f}% of patients</span></th>'
                          if first else "")
            rows.append(f'<tr class="{"first" if first else ""}">{group_cell}<td class="m">'
                        f'{label}</td>{"".join(cells)}</tr>')
    return (f'<div class="tablewrap"><table class="sub" id="subgroup-table"><thead><tr>'
            f'<th>Subgroup (at baseline)</th><th>Measure</th>{head}</tr></thead><tbody>'
            f'{"".join(rows)}</tbody></table></div>')


def _plain_table(frame: pd.DataFrame, columns: list[tuple[str, str]], table_id: str,
                 cls: str = "plain") -> str:
    head = "".join(f"<th>{_e(label)}</th>" for _, label in columns)
    body = []
    for _, r in frame.iterrows():
        cells = []
        for i, (col, _) in enumerate(columns):
            v = r[col]
            if isinstance(v, float):
                v = f"{v:.4g}" if np.isfinite(v) else ""
            tag = "th scope=\"row\"" if i == 0 else "td"
            cells.append(f"<{tag}>{_e(v)}</{tag.split()[0]}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="tablewrap"><table class="{cls}" id="{table_id}"><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _figure(svg: str, caption: str, fig_id: str) -> str:
    return (f'<figure class="fig" id="{fig_id}">{svg}<figcaption>{caption}</figcaption>'
            "</figure>")


def _cards(result: CompareResult, colours: dict[str, str]) -> str:
    h, comp, cur = result.headline, result.comparison.comparator, result.comparison.currency
    thr = result.comparison.spec.thresholds
    out = result.outcomes.set_index(["outcome", "design"])
    best = h["best_design"]
    focus = best
    if best == comp:
        nmb = result.icer.set_index("design")[nmb_key(thr[0])].drop(comp)
        focus = str(nmb.idxmax())
    dc = out.loc[("cost_per_patient_discounted", focus)]
    dq = out.loc[("qalys_per_patient", focus)]
    probs = " / ".join(_pct(h["probability_best"][f"{t:g}"][best]) for t in thr)
    at = " / ".join(f"{t / 1000:g}k" for t in thr)
    days = dq["diff_mean"] * econ.DAYS_PER_YEAR
    cards = [
        (f"Best value at {econ.format_money(thr[0], cur)}/QALY",
         f'<span class="chip big" style="background:{colours[best]}"></span>{_e(best)}',
         "highest expected net monetary benefit" if best != comp else
         "no design adds enough health for its cost"),
        (f"Extra cost per patient{'' if focus == best else ' (' + focus + ')'}",
         _e(fmt("money", dc["diff_mean"], diff=True, currency=cur)),
         "95% interval " + _e(fmt_interval("money", dc["diff_mean"], dc["diff_low"],
                                           dc["diff_high"], currency=cur)
                              .split("(")[-1].rstrip(")")) + f", discounted, vs {_e(comp)}"),
        ("QALYs gained per patient", _e(fmt("qaly", dq["diff_mean"], diff=True)),
         f"95% interval {dq['diff_low']:.4f} to {dq['diff_high']:.4f}; about "
         f"{days:.1f} days in full health"),
        (f"Probability {_e(best)} is cost-effective", probs,
         f"at {cur} {at} per QALY, over {h['replications']} uncertainty draws"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div>'
        f'<div class="s">{s}</div></div>' for k, v, s in cards) + "</div>"


def _summary(result: CompareResult) -> str:
    paras, bullets = [], []
    for line in result.summary:
        if line.startswith("- "):
            bullets.append(f"<li>{_md(line[2:])}</li>")
        else:
            if bullets:
                paras.append(f"<ul>{''.join(bullets)}</ul>")
                bullets = []
            cls = ' class="caveat"' if line.startswith("Read with care") else ""
            paras.append(f"<p{cls}>{_md(line)}</p>")
    if bullets:
        paras.append(f"<ul>{''.join(bullets)}</ul>")
    return "".join(paras)


def _provenance(result: CompareResult, data_dir_name: str, files: list[str]) -> str:
    p = result.provenance
    v = p.get("versions", {})
    designs = "".join(
        f"<tr><th scope=\"row\">{_e(d['name'])}</th><td class=\"l\">{_e(d['file'])}</td>"
        f"<td class=\"l mono\">{_e(d['scenario_sha256'])}</td></tr>" for d in p["designs"])
    seeds = p["replication_seeds"]
    seed_text = ", ".join(f"{r}: {s}" for r, s in list(seeds.items())[:6])
    if len(seeds) > 6:
        seed_text += f", ... ({len(seeds)} in {data_dir_name}/provenance.json)"
    items = [
        ("Command", f'<code>{_e(p["command"])}</code>'),
        ("Compare file", _e(p.get("compare_file") or "(design files on the command line)")),
        ("Comparison hash", f'<span class="mono">{_e(p["compare_sha256"])}</span>'),
        ("Root seed", _e(p["root_seed"])),
        ("Seeds", _e(p["seed_rule"]) + f"<br><span class=\"mono\">{_e(seed_text)}</span>"),
        ("Replications used", _e(f"{len(p['replications_used'])} "
                                 f"(of {len(seeds)})")),
        *([("Runs", _e(f"{p['runs']} runs, {p['runs_failed']} failed, "
                        f"{p['wall_time_s']} s wall ({p['seconds_per_run']} s per run)"))]
          if "runs" in p else []),
        ("Versions", _e(", ".join(f"{k} {val}" for k, val in v.items()))),
        ("Created", _e(p["created_utc"])),
        ("Results store", _e(p["results_store"])),
        ("Data files", f"<code>{_e(data_dir_name)}/</code>: " +
         ", ".join(f"<code>{_e(f)}</code>" for f in files if f.endswith(".csv")) +
         " (each also as .parquet), provenance.json, summary.md"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{val}</dd>" for k, val in items)
    return (f'<dl class="prov">{dl}</dl><h3>Designs and scenario hashes</h3>'
            f'<div class="tablewrap"><table class="plain" id="provenance-table"><thead><tr>'
            f"<th>Design</th><th>File</th><th>Scenario SHA-256 (resolved)</th></tr></thead>"
            f"<tbody>{designs}</tbody></table></div>")


def _assumption_tables(result: CompareResult, colours: dict[str, str]) -> str:
    names = result.comparison.names
    a = result.assumptions
    a = a[a["parameter"] != "program.name"]
    head = "".join(f"<th>{_chip(n, colours)}</th>" for n in names)
    rows = []
    for _, r in a.iterrows():
        cells = []
        for n in names:
            value = r[n]
            differs = value != r["default"]
            cells.append(f'<td class="{"chg" if differs else "dflt"}">{_e(value)}</td>')
        rows.append(f'<tr><th scope="row"><code>{_e(r["parameter"])}</code><span class="unit">'
                    f'{_e(r["description"])} ({_e(r["unit"])})</span></th>'
                    f'<td class="dflt">{_e(r["default"])}</td>{"".join(cells)}</tr>')
    diff_table = (f'<div class="tablewrap"><table class="assume" id="assumptions-table"><thead>'
                  f"<tr><th>Parameter</th><th>Default</th>{head}</tr></thead><tbody>"
                  f"{''.join(rows)}</tbody></table></div>")
    psa = result.psa
    if len(psa):
        psa_html = _plain_table(psa.assign(
            range95=[f"{lo:.4g} to {hi:.4g}" for lo, hi in zip(psa["low_95"], psa["high_95"],
                                                                 strict=True)],
            drawn=[f"{m:.4g} ({lo:.4g} to {hi:.4g})" for m, lo, hi in
                   zip(psa["drawn_mean"], psa["drawn_min"], psa["drawn_max"], strict=True)]),
            [("parameter", "Parameter"), ("unit", "Unit"), ("base_value", "Base value"),
             ("distribution", "Distribution"), ("range95", "95% range"),
             ("drawn", "Drawn: mean (min to max)"), ("source", "Source")], "psa-table")
    else:
        psa_html = ("<p>No parameters were varied: the intervals show simulation noise only "
                    "(add a <code>psa:</code> block to the compare file).</p>")
    cur = result.comparison.currency
    thr = " and ".join(econ.format_money(t, cur) for t in result.comparison.spec.thresholds)
    econ_t = result.economics.copy()
    same = econ_t[names].nunique(axis=1) == 1
    econ_t["value"] = [r[names[0]] if s else "; ".join(f"{n}: {r[n]}" for n in names)
                       for (_, r), s in zip(econ_t.iterrows(), same, strict=True)]
    econ_html = _plain_table(econ_t, [("parameter", "Parameter"), ("description", "Meaning"),
                                      ("unit", "Unit"), ("value", "Value used"),
                                      ("psa", "PSA distribution"), ("source", "Source")],
                             "economics-table")
    return (f"<h3>What each design changes (parameters that differ from the defaults)</h3>"
            f"<p class=\"note\">Values in bold differ from the documented default "
            f"(<code>peersupport params</code>); grey ones are the default.</p>{diff_table}"
            f"<h3>Uncertain parameters (probabilistic sensitivity analysis)</h3>"
            f"<p class=\"note\">Each replication draws every parameter once from its "
            f"distribution; all designs in a replication share the draw and the random seed "
            f"(paired).</p>{psa_html}<h3>Unit costs and economic settings</h3>"
            f"<p class=\"note\">Thresholds of this comparison: {_e(thr)} per QALY (compare "
            f"file <code>thresholds</code>); <code>economics.wtp_per_qaly</code> only sets the "
            f"net benefit reported by single runs.</p>{econ_html}")


CSS = """
:root{--ink:#1d2733;--muted:#5b6777;--line:#dde2e8;--soft:#f5f7f9;--accent:#0b5394;
--good:#1a7f37;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font-family:FONTS;color:var(--ink);background:#fff;font-size:15px;line-height:1.5;
-webkit-font-smoothing:antialiased}
.wrap{max-width:1180px;margin:0 auto;padding:0 32px}
header.top{background:#0f2942;color:#fff;padding:30px 0 24px}
header.top .eyebrow{font-size:12px;letter-spacing:.12em;text-transform:uppercase;color:#9fb8d1}
header.top h1{font-size:28px;line-height:1.25;margin:6px 0 8px;font-weight:650}
header.top p{margin:0;color:#d3dfeb;max-width:860px}
header.top .meta{margin-top:12px;font-size:13px;color:#9fb8d1}
nav.toc{border-bottom:1px solid var(--line);background:var(--soft);font-size:13.5px}
nav.toc a{color:var(--accent);text-decoration:none;margin-right:18px;display:inline-block;
padding:9px 0}
section{padding:8px 0 26px;border-bottom:1px solid var(--line)}
h2{font-size:21px;margin:26px 0 6px;font-weight:650}
h2 .num{color:var(--muted);font-weight:500;margin-right:8px}
h3{font-size:16px;margin:22px 0 6px}
p{margin:8px 0}
p.lead{color:var(--muted);margin-top:0;max-width:900px}
p.note{color:var(--muted);font-size:13px;margin:4px 0 8px}
p.caveat{font-size:13.5px;color:var(--muted);border-left:3px solid #d4a72c;padding:6px 12px;
background:#fffaf0}
.summary ul{padding-left:20px;margin:8px 0}.summary li{margin:5px 0}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin:16px 0 10px}
.card{border:1px solid var(--line);border-radius:10px;padding:14px 16px;background:var(--soft)}
.card .k{font-size:11.5px;letter-spacing:.05em;text-transform:uppercase;color:var(--muted)}
.card .v{font-size:23px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums;
overflow-wrap:anywhere}
.card .s{font-size:12.5px;color:var(--muted)}
.tablewrap{overflow-x:auto;margin:10px 0}
table{border-collapse:collapse;width:100%;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:7px 9px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th:first-child,td.l,td.words,td.m,th.l{text-align:left}
thead th{background:var(--soft);font-weight:600;border-bottom:2px solid #b9c3cf;
vertical-align:bottom;white-space:nowrap}
tbody th{font-weight:600;text-align:left}
.unit{display:block;font-weight:400;color:var(--muted);font-size:12px}
td .v{display:block;font-weight:600}
td .iv{display:block;color:var(--muted);font-size:12px}
td .d{display:block;font-size:12.5px;margin-top:2px}
.good{color:var(--good)}.bad{color:var(--bad)}.muted,.na{color:#8c959f}
.na{font-size:12.5px}
table.icer td.words{font-size:12.5px;max-width:210px}
table.icer th,table.icer td{padding:7px 7px}
table.icer tr.off td,table.icer tr.off th{color:#8c959f}
table.sub tr.first td,table.sub tr.first th{border-top:2px solid #c9d1d9}
table.assume td.dflt{color:#8c959f}table.assume td.chg{font-weight:650}
table.assume td,table.plain td,table.assume th,table.plain th{text-align:left}
table.icer td{white-space:nowrap}table.icer td.words{white-space:normal}
tbody th{white-space:nowrap}table.assume tbody th,table.plain tbody th{white-space:normal}
.chip{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;
vertical-align:-1px}
.chip.big{width:16px;height:16px;border-radius:4px;vertical-align:-2px}
.dname{font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:6px 20px;font-size:13px;margin:8px 0 2px}
.legend .line{display:inline-block;width:22px;height:0;border-top:3px solid;
margin-right:6px;vertical-align:3px}
.legend .line.dash{border-top-style:dashed}
figure.fig{margin:12px 0;border:1px solid var(--line);border-radius:10px;padding:10px 12px 8px;
background:#fff;break-inside:avoid}
figure.fig svg{width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:12.5px;color:var(--muted);margin-top:4px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.mono,code{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,'Liberation Mono',monospace;
font-size:12px}
dl.prov{display:grid;grid-template-columns:180px 1fr;gap:6px 16px;font-size:13.5px}
dl.prov dt{color:var(--muted)}dl.prov dd{margin:0;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12.5px;padding:18px 0 40px}
@media (max-width:900px){.cards{grid-template-columns:1fr 1fr}.grid2{grid-template-columns:1fr}}
@media print{header.top{background:none;color:var(--ink);padding:0}
header.top p,header.top .meta,header.top .eyebrow{color:var(--muted)}nav.toc{display:none}
section{break-inside:auto}.wrap{max-width:none;padding:0}body{font-size:12px}}
""".replace("FONTS", FONT_STACK)


def render_html(result: CompareResult, *, data_dir_name: str = "report_data",
                files: list[str] | None = None) -> str:
    """The report as one self-contained HTML document (no scripts, no external files)."""
    comp = result.comparison
    spec, names, cur = comp.spec, comp.names, comp.currency
    colours = design_colours(names, comp.comparator)
    s = comp.first
    n_rep = result.headline["replications"]
    title = spec.name.replace("_", " ") if spec.name else "Program designs compared"
    meta = (f"{len(names)} designs · {n_rep} replications · "
            f"{s['population']['size']:,} patients · {s['run']['days']}-day horizon · "
            f"{cur}, {s['economics']['price_year']} prices · discounting "
            f"{100 * s['economics']['discount_rate_costs']:.1f}%/yr · comparator "
            f"{comp.comparator} · {result.provenance['created_utc'][:10]}")
    legend = '<div class="legend">' + "".join(
        f'<span><span class="line{" dash" if n == comp.comparator else ""}" '
        f'style="border-color:{colours[n]}"></span>{_e(n)}</span>' for n in names) + "</div>"
    figs_tc = "".join(_figure(_timecourse_fig(result, m, colours),
                              f"{label}{'' if unit in label else f' ({unit})'}: mean over "
                              "replications; band: 95% interval.", f"fig-{m}")
                      for m, (label, unit) in TIMECOURSE.items()
                      if (result.timecourse["measure"] == m).any())
    t1 = spec.thresholds[0]
    thr_text = " and ".join(econ.format_money(t, cur) for t in spec.thresholds)
    toc = "".join(f'<a href="#{a}">{t}</a>' for a, t in (
        ("summary", "Summary"), ("results", "Side by side"), ("incremental", "Incremental "
                                                                           "analysis"),
        ("timecourses", "Time courses"), ("uncertainty", "Uncertainty"),
        ("subgroups", "Subgroups"), ("assumptions", "Assumptions"),
        ("provenance", "Provenance")))
    desc = f"<p>{_e(spec.description)}</p>" if spec.description else ""
    sections = [
        f'<section id="summary" class="summary"><h2><span class="num">1</span>Summary</h2>'
        f"{_cards(result, colours)}{_summary(result)}</section>",

        f'<section id="results"><h2><span class="num">2</span>Side by side</h2>'
        f'<p class="lead">Mean over {n_rep} replications; below it the 95% interval '
        f"(2.5th to 97.5th percentile over replications) and, coloured, the paired "
        f"difference from {_e(comp.comparator)} with its 95% interval: green when the "
        f"interval is wholly on the better side, red when wholly on the worse side. Costs "
        f"are per patient over the whole horizon; totals and QALYs are discounted.</p>"
        f"{_side_by_side(result, colours)}"
        + _figure(_cost_fig(result, colours),
                  "Cost per patient by component (undiscounted); the label gives the "
                  "discounted total used in the cost-effectiveness analysis.", "fig-costs")
        + "</section>",

        f'<section id="incremental"><h2><span class="num">3</span>Incremental analysis</h2>'
        f'<p class="lead">Designs sorted by mean discounted cost. A design is '
        f"<em>dominated</em> when another costs less and gains more, <em>extendedly "
        f"dominated</em> when a mix of two others would; the ICER on the frontier compares "
        f"each design with the next cheaper one worth considering. Net monetary benefit "
        f"(NMB = threshold × QALYs − cost) is highest for the best choice at each threshold "
        f"(bold); P(best) is the probability of being the most cost-effective. Per patient, "
        f"discounted, {_e(cur)}.</p>"
        f"{_icer_table(result, colours)}</section>",

        f'<section id="timecourses"><h2><span class="num">4</span>Time courses</h2>'
        f'<p class="lead">Population means by week, per design, with 95% bands over '
        f"replications. IM engagement is shown only for designs that run an IM group.</p>"
        f'{legend}<div class="grid2">{figs_tc}</div></section>',

        f'<section id="uncertainty"><h2><span class="num">5</span>Cost-effectiveness under '
        f"uncertainty</h2>"
        f'<p class="lead">Each replication is one draw of the uncertain parameters (section '
        f"7) with its own random seed, shared by all designs. Dots below a threshold line "
        f"are cost-effective at that threshold against {_e(comp.comparator)}. The "
        f"acceptability curves give, for each willingness to pay, the probability that each "
        f"design is the best of all {len(names)} (they sum to 100%). The value of perfect "
        f"information is what removing all uncertainty would be worth per patient: small "
        f"values mean more research would hardly change the decision.</p>"
        f'<div class="grid2">'
        + _figure(_ce_plane_fig(result, colours),
                  f"Incremental cost and QALYs per patient against {_e(comp.comparator)}; "
                  f"lines: {thr_text} per QALY.", "fig-ceplane")
        + _figure(_ceac_fig(result, colours),
                  f"Probability each design has the highest net monetary benefit; dotted: "
                  f"{thr_text} per QALY.", "fig-ceac")
        + "</div>"
        + _figure(_evpi_fig(result),
                  "Expected value of perfect information per patient (multiply by the "
                  "patients affected for the population value).", "fig-evpi")
        + "</section>",

        f'<section id="subgroups"><h2><span class="num">6</span>Subgroups</h2>'
        f'<p class="lead">Change from baseline to the end of the horizon within subgroups '
        f"defined at baseline, and the paired difference from {_e(comp.comparator)} (95% "
        f"interval over replications). Peer support is expected to help most when "
        f"baseline HbA1c is high (Qi 2015) and IM groups to reach patients at ease "
        f"online.</p>"
        + _figure(_subgroup_fig(result, colours),
                  "Difference from the comparator by subgroup: dot = mean, line = 95% "
                  "interval; percentages are the subgroup's share of patients.",
                  "fig-subgroups")
        + f"{_subgroup_table(result, colours)}</section>",

        f'<section id="assumptions"><h2><span class="num">7</span>Assumptions</h2>'
        f'<p class="lead">Every parameter not listed takes its documented default (unit, '
        f"default and source of each: <code>peersupport params</code> or docs/model.md).</p>"
        f"{_assumption_tables(result, colours)}</section>",

        f'<section id="provenance"><h2><span class="num">8</span>Provenance</h2>'
        f'<p class="lead">Everything needed to reproduce this report: the same compare '
        f"file, seed and package versions give the same numbers.</p>"
        f"{_provenance(result, data_dir_name, files or [])}</section>",
    ]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="peersupport compare">
<title>{_e(title)}: cost-effectiveness of peer-support designs</title>
<style>{CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<div class="eyebrow">peersupport · comparison of program designs</div>
<h1>{_e(title[:1].upper() + title[1:])}: which design gives most health for the money?</h1>
{desc}
<div class="meta">{_e(meta)}</div>
</div></header>
<nav class="toc"><div class="wrap">{toc}</div></nav>
<main class="wrap">
{"".join(sections)}
</main>
<footer class="wrap">Generated by <code>peersupport compare</code>. Primary threshold
{_e(econ.format_money(t1, cur))} per QALY (NICE methods guide: {cur} 20,000-30,000). Every
number in this report is in <code>{_e(data_dir_name)}/</code> as CSV and Parquet.</footer>
</body>
</html>
"""
