"""The comparison in words: the plain-words summary and the plain-text tables of the CLI.

Numbers come from :class:`sim.analyses.compare.CompareResult`; this module only formats
them and builds sentences. Summary lines are light Markdown (``**bold**``, ``- `` bullets);
design names in them are untrusted text, escaped for Markdown by :func:`md_escape`, so a
name can never add a heading, a link, an image or raw HTML.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from sim.analyses.compare import CompareResult, OutcomeRow, nmb_key
from sim.core import economics as econ
from sim.report.render import fmt, fmt_interval, fmt_range, md_escape, money_decimals, pct

__all__ = ["summary_lines", "summary_markdown", "thresholds_words", "format_tables",
           "verdict_text", "CAVEAT_START", "GLOSSARY", "text_table"]

CAVEAT_START = "Read with care"
"""How the summary's caveat line starts (the HTML report sets it apart)."""

GLOSSARY = {
    "AUC": "area under the curve: an outcome averaged over the whole horizon (per patient-year), "
           "so a gain while a programme runs counts even if it fades after it ends",
    "DSMES": "diabetes self-management education and support: a taught group curriculum",
    "ICER": "incremental cost-effectiveness ratio: extra cost divided by extra QALYs, against "
            "the next cheaper design worth considering (or the comparator)",
    "IM": "instant messaging: peer groups chatting on a phone app",
    "NMB": "net monetary benefit: QALYs x the threshold (what a QALY is worth) minus cost; "
           "the design with the highest is the best value at that threshold",
    "PAID": "Problem Areas in Diabetes: a questionnaire of diabetes distress (0-100)",
    "pp": "percentage points: the difference between two percentages (60% vs 50% is +10 pp)",
    "QALY": "quality-adjusted life year: a year in full health; a year at EQ-5D utility 0.8 "
            "is 0.8 QALYs",
}
"""Terms the compare report uses, in plain words (its glossary)."""


def thresholds_words(result: CompareResult) -> str:
    """The thresholds in words, e.g. ``GBP 20,000 and GBP 30,000``."""
    cur = result.comparison.currency
    return " and ".join(econ.format_money(t, cur) for t in result.comparison.spec.thresholds)


def verdict_text(verdict: str) -> str:
    """A verdict against the comparator as the end of a sentence."""
    if verdict == "dominant":
        return "dominant (cheaper and more effective)"
    if verdict == "dominated":
        return "dominated (dearer and less effective)"
    if verdict.startswith("ICER"):
        return verdict.replace("ICER", "an ICER of") + " gained"
    return verdict


class _Numbers:
    """Look-ups into a result's tables that the sentences share."""

    def __init__(self, result: CompareResult) -> None:
        self.result = result
        self.cur = result.comparison.currency
        self.comp = result.comparison.comparator
        self.thresholds = result.comparison.spec.thresholds
        self.out = pd.concat([result.outcomes, result.lifetime]).set_index(
            ["outcome", "design"])
        self.cost_key, self.qaly_key = result.comparison.ce_keys
        self.icer = result.icer.set_index("design")
        self.h = result.headline

    def o(self, key: str, design: str, col: str) -> float:
        return float(self.out.loc[(key, design), col])

    def p_best(self, t: float, design: str) -> float:
        return self.h["probability_best"][f"{t:g}"].get(design, np.nan)

    def money(self, x: float, decimals: int | None = None) -> str:
        return econ.format_money(x, self.cur, decimals)


def _verdict_line(n: _Numbers) -> str:
    best, t1 = n.h["best_design"], n.thresholds[0]
    if best == n.comp:
        comp = md_escape(n.comp)
        return (f"At {n.money(t1)} per QALY no design beats {comp}: none adds enough health "
                f"for its extra cost (the highest expected net monetary benefit is {comp}'s).")
    cost, qaly = n.cost_key, n.qaly_key
    dc, dq = n.h["best_inc_cost"], n.h["best_inc_qalys"]
    low, high = n.o(cost, best, "diff_low"), n.o(cost, best, "diff_high")
    dec = money_decimals("money", dc)
    cost_iv = fmt("money", dc, diff=True, currency=n.cur, decimals=dec)
    rng = fmt_range("money", low, high, currency=n.cur, decimals=dec)
    if rng:
        cost_iv += f" (95% interval {rng})"
    qaly_iv = fmt_interval("qaly", dq, n.o(qaly, best, "diff_low"), n.o(qaly, best, "diff_high"),
                           diff=True)
    return (f"**{md_escape(best)}** gives the most health for the money at {n.money(t1)} per "
            f"QALY. Against {md_escape(n.comp)} it costs {cost_iv} per patient and gains "
            f"{qaly_iv} QALYs per patient ({horizon_words(n.result)}): "
            f"{verdict_text(n.h['best_verdict'])}.")


def _certainty_lines(n: _Numbers) -> list[str]:
    best, n_psa = n.h["best_design"], len(n.result.comparison.draws.columns)
    sure = " and ".join(f"{pct(n.p_best(t, best))} at {n.money(t)}/QALY" for t in n.thresholds)
    varies = f"the {n_psa} uncertain parameters and " if n_psa else ""
    lines = [
        f"How sure: the probability that {md_escape(best)} is the most cost-effective choice "
        f"is {sure} (the share of the {n.h['replications']} uncertainty draws in which it has "
        f"the highest net monetary benefit; each draw varies {varies}the simulation's "
        "randomness)."]
    for t in n.thresholds[1:]:
        other = n.h["best_by_threshold"][f"{t:g}"]
        if other != best:
            lines.append(f"At {n.money(t)} per QALY the best choice changes to "
                         f"**{md_escape(other)}** (probability {pct(n.p_best(t, other))}).")
    return lines


def _design_line(n: _Numbers, name: str) -> str:
    status, note = str(n.icer.loc[name, "status"]), str(n.icer.loc[name, "note"])
    frontier = ""
    if status in ("dominated", "extendedly dominated"):
        frontier = f"; {md_escape(note)} (not worth choosing at any threshold)"
    t1 = n.thresholds[0]
    dc = fmt("money", n.o(n.cost_key, name, "diff_mean"), diff=True, currency=n.cur)
    dq = fmt("qaly", n.o(n.qaly_key, name, "diff_mean"), diff=True)
    hb = fmt("hba1c", n.o("hba1c_change", name, "diff_mean"), diff=True)
    qol = fmt("utility", n.o("utility_change", name, "diff_mean"), diff=True)
    distress = fmt("distress", n.o("distress_change", name, "diff_mean"), diff=True)
    verdict = verdict_text(str(n.icer.loc[name, "verdict_vs_comparator"]))
    label = n.result.comparison.labels[name]
    about = f" ({md_escape(label)})" if label != name else ""
    return (f"- {md_escape(name)}{about}: {dc} and {dq} QALYs per patient vs "
            f"{md_escape(n.comp)}, "
            f"{verdict}{frontier}. HbA1c {hb} %-points, QoL {qol}, distress {distress} PAID "
            "points; best choice in "
            f"{pct(n.p_best(t1, name))} of draws at {n.money(t1)}/QALY.")


def _evpi_line(n: _Numbers) -> str:
    t1 = n.thresholds[0]
    ev = n.h["evpi_per_patient"][f"{t1:g}"]
    return (f"Value of more research: resolving all uncertainty would be worth up to "
            f"{n.money(ev, 2)} per patient at {n.money(t1)}/QALY (expected value of "
            "perfect information; multiply by the patients the decision affects).")


def _caveat(n: _Numbers) -> str:
    s = n.result.comparison.first
    e = s["economics"]
    health = e["healthcare_cost_per_year"] or e["healthcare_cost_per_hba1c_pct_year"]
    text = (f"{CAVEAT_START}: the agent-based stage is {s['run']['days']} days of "
            f"{s['population']['size']:,} simulated patients, costs and QALYs discounted at "
            f"{100 * e['discount_rate_costs']:.1f}% / {100 * e['discount_rate_effects']:.1f}% "
            f"a year ({n.cur}, {e['price_year']} prices); ")
    if n.result.comparison.lifetime:
        text += (f"the lifetime stage after it (UKPDS 82 risk equations, costs in "
                 f"{LIFETIME_PRICE_YEAR}, not inflated) rests on "
                 "each design's assumed persistence of its HbA1c effect (stated under Lifetime "
                 "results) and counts only HbA1c's route to complications")
    else:
        text += ("the lifetime stage is off, so there are no complications or deaths and "
                 "longer-term gains from lower HbA1c are not counted")
    if n.result.comparison.lifetime:
        text += (". First-stage healthcare costs outside the program are counted as the "
                 "scenario sets them; the lifetime stage adds UKPDS 84 background costs.")
    else:
        text += (". Healthcare costs outside the program are counted as the scenario sets "
                 "them." if health else
                 ", nor are healthcare costs outside the program (economics.healthcare_cost_* "
                 "are 0; see docs/planners.md to add them).")
    dropped = n.result.comparison.spec.replications - n.h["replications"]
    if dropped:
        text += f" {dropped} replication(s) had a failed run and were left out."
    return text


LIFETIME_PRICE_YEAR = "2012 GBP for complication and background costs (UKPDS 84, Alva 2015)"
"""Price year of the lifetime stage's cost sets (the programme costs are the scenario's)."""

DRIFT_WORDS = ("The lifetime stage starts every patient's HbA1c from their baseline value; "
               "the programme effect carried into it is the HbA1c change over the first "
               "stage minus the trial-participation drift seen in every arm (Chrvala 2016), "
               "which ends with the trial.")
"""How the programme effect enters the lifetime stage (sim.runner.lifetime_effect)."""


def horizon_words(result: CompareResult) -> str:
    """The horizon behind ICERs and NMB, in words."""
    if result.comparison.spec.horizon == "lifetime":
        return "lifetime, discounted"
    return f"first {result.comparison.first['run']['days']} days only, discounted"


def persistence_words(scenario: dict[str, Any]) -> str:
    """A design's persistence assumption (``lifetime.persistence``) in plain words."""
    p = scenario["lifetime"]["persistence"]
    kept = p["retained_fraction"]
    tail = (f", keeping {kept:.0%} of it for life" if kept else ", nothing kept for life")
    if p["kind"] == "permanent":
        return "the HbA1c effect at the end of the first stage lasts for life"
    if p["kind"] == "none":
        return ("no programme effect carries beyond the first stage" if not kept else
                f"{kept:.0%} of the end-of-stage HbA1c effect is kept for life, the rest ends")
    if p["kind"] == "linear_wane":
        return (f"the end-of-stage HbA1c effect fades linearly over {p['years']:g} years"
                f"{tail}")
    return (f"the end-of-stage HbA1c effect halves every {p['half_life_years']:g} years"
            f"{tail}")


def summary_lines(result: CompareResult) -> list[str]:
    """The plain-words summary, one paragraph or ``- `` bullet per item (light Markdown)."""
    n = _Numbers(result)
    designs = [_design_line(n, name) for name in result.comparison.names if name != n.comp]
    return [_verdict_line(n), *_certainty_lines(n), *designs, _evpi_line(n), _caveat(n)]


def summary_markdown(result: CompareResult) -> str:
    """The summary as a Markdown document (``summary.md`` beside the report)."""
    return "\n\n".join(summary_lines(result)) + "\n"


# --------------------------------------------------------------------------- text tables


def _side_by_side_text(result: CompareResult, lifetime: bool = False) -> list[str]:
    comp, names = result.comparison.comparator, result.comparison.names
    cur = result.comparison.currency
    frame, rows = ((result.lifetime, result.lifetime_rows) if lifetime
                   else (result.outcomes, result.rows))
    out = frame.set_index(["outcome", "design"])
    n = int(frame["n"].max())

    def cell(row: OutcomeRow, design: str, col: str) -> str:
        r = out.loc[(row.key, design)]
        return fmt_interval(row.kind, r[col], r[col.replace("mean", "low")],
                            r[col.replace("mean", "high")], diff=col != "mean", currency=cur)

    body = [["mean (95% interval), " + f"{n} replications", *names]]
    for row in rows:
        body.append([row.label, *(cell(row, d, "mean") for d in names)])
        body.append(["  vs " + comp, *("" if d == comp else cell(row, d, "diff_mean")
                                       for d in names)])
    lines = text_table(body)
    title = "lifetime results" if lifetime else "first stage (agent-based model)"
    return [f"Side by side, {title} (paired differences vs {comp} below each row)", "", *lines,
            ""]


def text_table(body: list[list[str]], gap: int = 3) -> list[str]:
    """Rows of cells as aligned plain text: the first column left, the others right.

    Each column is as wide as its widest cell, and columns are ``gap`` spaces apart, so
    cells never run together; a rule follows the first (header) row.
    """
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    sep = " " * gap
    lines = [sep.join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                            strict=True))])
             .rstrip() for r in body]
    return [lines[0], "-" * max(len(line) for line in lines), *lines[1:]]


def _icer_text(result: CompareResult, icer: pd.DataFrame, title: str) -> list[str]:
    comp, cur = result.comparison.comparator, result.comparison.currency
    thr = result.comparison.spec.thresholds
    body = [["design", "cost", "QALYs", "vs " + comp, "frontier",
             *(h for t in thr for h in (f"NMB@{t / 1000:g}k", "P(best)"))]]
    for _, r in icer.iterrows():
        frontier = r["status"] + (f" ({econ.format_money(r['icer'], cur)}/QALY)"
                                  if r["status"] == "ICER" else "")
        body.append([str(r["design"]), econ.format_money(r["cost"], cur), f"{r['qalys']:.4f}",
                     str(r["verdict_vs_comparator"]), frontier,
                     *(c for t in thr for c in (econ.format_money(r[nmb_key(t)], cur),
                                                pct(r[f"p_cost_effective_at_{t:g}"])))])
    return [f"Incremental analysis, {title} (mean discounted cost and QALYs per patient)", "",
            *text_table(body)]


def format_tables(result: CompareResult) -> str:
    """The side-by-side table, the incremental analysis and the words, as plain text."""
    words = [_plain(line) for line in summary_lines(result)]
    sbs, icer = _side_by_side_text(result), _icer_text(result, result.icer,
                                                              horizon_words(result))
    parts = [*sbs, *icer]
    if result.comparison.lifetime:  # lifetime first, then the first stage
        parts = [*_side_by_side_text(result, lifetime=True), *icer, "", *sbs]
        if result.comparison.spec.horizon != "programme":
            parts += _icer_text(result, result.icer_programme, "first stage only")
    return "\n".join([*parts, "", "Summary", "", *words])


def _plain(line: str) -> str:
    """A summary line for the terminal: no bold marks, no Markdown escapes."""
    return _ESCAPED.sub(r"\1", line.replace("**", ""))


_ESCAPED = re.compile(r"\\(.)")

