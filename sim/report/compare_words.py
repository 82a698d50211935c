"""The comparison in words: the plain-words summary and the plain-text tables of the CLI.

Numbers come from :class:`sim.analyses.compare.CompareResult`; this module only formats
them and builds sentences. Summary lines are light Markdown (``**bold**``, ``- `` bullets);
design names in them are untrusted text, escaped for Markdown by :func:`md_escape`, so a
name can never add a heading, a link, an image or raw HTML.
"""

from __future__ import annotations

import re

import numpy as np

from sim.analyses.compare import CompareResult, nmb_key
from sim.core import economics as econ
from sim.report.render import fmt, fmt_interval, fmt_range, md_escape, money_decimals, pct

__all__ = ["summary_lines", "summary_markdown", "thresholds_words", "format_tables",
           "verdict_text", "CAVEAT_START"]

CAVEAT_START = "Read with care"
"""How the summary's caveat line starts (the HTML report sets it apart)."""


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
        self.out = result.outcomes.set_index(["outcome", "design"])
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
    cost, qaly = "cost_per_patient_discounted", "qalys_per_patient"
    dc, dq = n.h["best_inc_cost"], n.h["best_inc_qalys"]
    low, high = n.o(cost, best, "diff_low"), n.o(cost, best, "diff_high")
    dec = money_decimals("money", dc, low, high)
    cost_iv = fmt("money", dc, diff=True, currency=n.cur, decimals=dec)
    rng = fmt_range("money", low, high, currency=n.cur, decimals=dec)
    if rng:
        cost_iv += f" (95% interval {rng})"
    qaly_iv = fmt_interval("qaly", dq, n.o(qaly, best, "diff_low"), n.o(qaly, best, "diff_high"),
                           diff=True)
    return (f"**{md_escape(best)}** gives the most health for the money at {n.money(t1)} per "
            f"QALY. Against {md_escape(n.comp)} it costs {cost_iv} per patient and gains "
            f"{qaly_iv} QALYs per patient: {verdict_text(n.h['best_verdict'])}.")


def _certainty_lines(n: _Numbers) -> list[str]:
    best, spec = n.h["best_design"], n.result.comparison.spec
    sure = " and ".join(f"{pct(n.p_best(t, best))} at {n.money(t)}/QALY" for t in n.thresholds)
    varies = f"the {len(spec.psa)} uncertain parameters and " if spec.psa else ""
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
    dc = fmt("money", n.o("cost_per_patient_discounted", name, "diff_mean"), diff=True,
             currency=n.cur)
    dq = fmt("qaly", n.o("qalys_per_patient", name, "diff_mean"), diff=True)
    hb = fmt("hba1c", n.o("hba1c_change", name, "diff_mean"), diff=True)
    qol = fmt("utility", n.o("utility_change", name, "diff_mean"), diff=True)
    verdict = verdict_text(str(n.icer.loc[name, "verdict_vs_comparator"]))
    return (f"- {md_escape(name)}: {dc} and {dq} QALYs per patient vs {md_escape(n.comp)}, "
            f"{verdict}{frontier}. HbA1c {hb} %-points, QoL {qol}; best choice in "
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
    text = (f"{CAVEAT_START}: the horizon is {s['run']['days']} days of "
            f"{s['population']['size']:,} simulated patients, costs and QALYs discounted at "
            f"{100 * e['discount_rate_costs']:.1f}% / {100 * e['discount_rate_effects']:.1f}% "
            f"a year ({n.cur}, {e['price_year']} prices); the model has no complications or "
            "deaths, so longer-term gains from lower HbA1c are not counted")
    text += (". Healthcare costs outside the program are counted as the scenario sets them."
             if health else
             ", nor are healthcare costs outside the program (economics.healthcare_cost_* "
             "are 0; see docs/planners.md to add them).")
    dropped = n.result.comparison.spec.replications - n.h["replications"]
    if dropped:
        text += f" {dropped} replication(s) had a failed run and were left out."
    return text


def summary_lines(result: CompareResult) -> list[str]:
    """The plain-words summary, one paragraph or ``- `` bullet per item (light Markdown)."""
    n = _Numbers(result)
    designs = [_design_line(n, name) for name in result.comparison.names if name != n.comp]
    return [_verdict_line(n), *_certainty_lines(n), *designs, _evpi_line(n), _caveat(n)]


def summary_markdown(result: CompareResult) -> str:
    """The summary as a Markdown document (``summary.md`` beside the report)."""
    return "\n\n".join(summary_lines(result)) + "\n"


# --------------------------------------------------------------------------- text tables


def _side_by_side_text(result: CompareResult, width: int) -> list[str]:
    comp, names = result.comparison.comparator, result.comparison.names
    cur = result.comparison.currency
    out = result.outcomes.set_index(["outcome", "design"])
    n = int(result.outcomes["n"].max())
    label_w = 34
    head = f"{'mean (95% interval), ' + str(n) + ' replications':<{label_w}}" + "".join(
        f"{name[:width - 1]:>{width}}" for name in names)
    lines = [head, "-" * len(head)]
    for row in result.rows:
        part = result.outcomes[result.outcomes["outcome"] == row.key]
        dec = money_decimals(row.kind, *part[["mean", "low", "high"]].to_numpy().ravel())

        def cell(d: str, col: str, diff: bool, key: str = row.key, kind: str = row.kind,
                 decimals: int | None = dec) -> str:
            r = out.loc[(key, d)]
            return fmt_interval(kind, r[col], r[col.replace("mean", "low")],
                                r[col.replace("mean", "high")], diff=diff, currency=cur,
                                decimals=decimals)

        lines.append(f"{row.label[:label_w - 1]:<{label_w}}" +
                     "".join(f"{cell(d, 'mean', False):>{width}}" for d in names))
        diffs = ["" if d == comp else cell(d, "diff_mean", True) for d in names]
        lines.append(f"{'  vs ' + comp:<{label_w}}" + "".join(f"{c:>{width}}" for c in diffs))
    return ["Side by side (paired differences vs " + comp + " below each row)", "", *lines, ""]


def _icer_text(result: CompareResult) -> list[str]:
    comp, cur = result.comparison.comparator, result.comparison.currency
    thr = result.comparison.spec.thresholds
    hdr = (f"{'design':<20}{'cost':>12}{'QALYs':>9}{'vs ' + comp:>46}  {'frontier':<22}"
           + "".join(f"{'NMB@' + format(t / 1000, 'g') + 'k':>12}{'P(best)':>9}" for t in thr))
    text = ["Incremental analysis (mean discounted cost and QALYs per patient)", "", hdr,
            "-" * len(hdr)]
    for _, r in result.icer.iterrows():
        frontier = r["status"] + (f" ({econ.format_money(r['icer'], cur)}/QALY)"
                                  if r["status"] == "ICER" else "")
        text.append(
            f"{r['design'][:19]:<20}{econ.format_money(r['cost'], cur):>12}"
            f"{r['qalys']:>9.4f}{str(r['verdict_vs_comparator'])[:45]:>46}  {frontier[:22]:<22}"
            + "".join(f"{econ.format_money(r[nmb_key(t)], cur):>12}"
                      f"{pct(r[f'p_cost_effective_at_{t:g}']):>9}" for t in thr))
    return text


def format_tables(result: CompareResult, width: int = 26) -> str:
    """The side-by-side table, the incremental analysis and the words, as plain text."""
    words = [_plain(line) for line in summary_lines(result)]
    return "\n".join([*_side_by_side_text(result, width), *_icer_text(result), "", "Summary",
                      "", *words])


def _plain(line: str) -> str:
    """A summary line for the terminal: no bold marks, no Markdown escapes."""
    return _ESCAPED.sub(r"\1", line.replace("**", ""))


_ESCAPED = re.compile(r"\\(.)")

