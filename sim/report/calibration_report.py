"""The calibration fit report: parameters, targets vs fitted, and the optimisation history.

Numbers come from the calibration (:mod:`sim.analyses.calibration`) and its recheck (a
:class:`~sim.analyses.validation.Validation`); the page is the validation report's template
with an "Optimisation" section, so all reports look alike.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from sim.analyses.calibration import (
    EDGE_SHARE,
    JOINT_R,
    NEAR_BEST_LEVEL,
    WEAK_SHARE,
    Calibration,
    Fit,
    joint_pairs,
)
from sim.analyses.validation import Validation
from sim.report.render import markdown_html, md_escape, mpl_text
from sim.report.validation_report import html_report, model_text, published_text

__all__ = ["fit_markdown", "history_figure", "write_fit_report"]


def _intro_lines(cal: Calibration, study: Any, check: Validation) -> list[str]:
    best = study.best_trial
    complete = [t for t in study.trials if t.value is not None]
    return [
        f"Calibration file `{cal.path}`; Optuna study `{cal.spec.name}` in "
        f"`{cal.out_dir / 'optuna.sqlite3'}`: {len(study.trials)} trials ({len(complete)} "
        f"complete); best trial {best.number}, objective {best.value:.4g} (sum of squared "
        "z-scores and binomial deviances, plus normal-prior penalties).", "",
        f"While fitting: {cal.spec.replications} replications per arm (common seeds), "
        f"overrides {md_escape(dict(cal.spec.set) or 'none')}. Fitted values below are "
        f"rechecked with {check.replications and max(check.replications.values())} "
        "replications.", ""]


def _parameter_lines(cal: Calibration, params: Mapping[str, float]) -> list[str]:
    lines = ["## Parameters", "", "| parameter | range | prior | best |", "|---|---|---|---|"]
    for name, p in cal.spec.parameters.items():
        prior = p.prior if p.prior != "normal" else f"normal({p.mean:g}, {p.sd:g})"
        lines.append(f"| {md_escape(name)} | [{p.low:g}, {p.high:g}] | {prior} | "
                     f"{params[name]:.4g} |")
    return lines


def _target_lines(cal: Calibration, check: Validation) -> list[str]:
    lines = ["## Targets vs fitted", "",
             "| study | target | published (95% interval) | fitted (95% interval) | misfit | "
             "within |", "|---|---|---|---|---|---|"]
    by_name = {t.name: t for t in cal.targets}
    for r in check.results:
        misfit = by_name[r.outcome.name].spec.misfit(r.mean)
        lines.append(f"| {md_escape(r.study)} | {md_escape(r.outcome.name)} | "
                     f"{published_text(r)} | {model_text(r)} | {misfit:.2f} | "
                     f"{'yes' if r.passed else '**no**'} |")
    return lines


def _identifiability_lines(cal: Calibration, fit: Fit) -> list[str]:
    k = len(cal.spec.parameters)
    lines = ["## Identifiability", "",
             f"Near-best set: the {len(fit.near_best)} trials whose objective lies within "
             f"chi2_{k}({NEAR_BEST_LEVEL:g}) = {stats.chi2.ppf(NEAR_BEST_LEVEL, k):.3g} of the "
             f"best (`{fit.paths['near_best'].name}`), a plausible region of fits, not "
             "posterior draws. *Weak*: its 5-95% range spans more than "
             f"{WEAK_SHARE:.0%} of the parameter's range; *at a bound*: the best value or a "
             f"near-best 5th/95th percentile lies within {EDGE_SHARE:.0%} of the range's edge.",
             "", "| parameter | best | near-best median (5-95%) | share of range | weak | "
             "at a bound |", "|---|---|---|---|---|---|"]
    for r in fit.identifiability.itertuples():
        lines.append(f"| {md_escape(r.parameter)} | {r.best:.4g} | {r.median:.4g} "
                     f"({r.p5:.4g} to {r.p95:.4g}) | {r.range_share:.0%} | "
                     f"{'**yes**' if r.weak else 'no'} | "
                     f"{'**' + r.at_bound + '**' if r.at_bound else 'no'} |")
    pairs = joint_pairs(cal, fit.near_best)
    if pairs:
        lines += ["", "Identified only jointly (near-best correlation |r| > "
                  f"{JOINT_R:g}): " + "; ".join(f"{md_escape(a)} and {md_escape(b)} "
                                                f"(r = {r:+.2f})" for a, b, r in pairs) + "."]
    return lines


def fit_markdown(cal: Calibration, study: Any, fit: Fit) -> str:
    """The fit report in Markdown: parameters, targets vs fitted, identifiability."""
    lines = [f"# Fit report: {md_escape(cal.spec.name)}", "", *_body_lines(cal, study, fit)]
    return "\n".join(lines) + "\n"


def _body_lines(cal: Calibration, study: Any, fit: Fit) -> list[str]:
    return [*_intro_lines(cal, study, fit.check), *_parameter_lines(cal, fit.params), "",
            *_target_lines(cal, fit.check), "", *_identifiability_lines(cal, fit)]


def history_figure(cal: Calibration, study: Any) -> bytes:
    """PNG: objective by trial (and best so far); objective against each parameter."""
    done = [t for t in study.trials if t.value is not None]
    k = len(cal.spec.parameters)
    fig = Figure(figsize=(3.3 * (k + 1), 3.0))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, k + 1, squeeze=False)
    ax = axes[0, 0]
    if done:
        x = [t.number for t in done]
        y = np.array([t.value for t in done])
        ax.plot(x, y, ".", color="grey", ms=4)
        ax.plot(x, np.minimum.accumulate(y), color="#1b7837")
        ax.set_yscale("log")
    ax.set_xlabel("trial", fontsize=8)
    ax.set_ylabel("objective", fontsize=8)
    ax.set_title("optimisation history", fontsize=9)
    for ax, (name, p) in zip(axes[0, 1:], cal.spec.parameters.items(), strict=True):
        if done:
            ax.scatter([t.params[name] for t in done], [t.value for t in done], s=6,
                       color="grey")
            ax.axvline(study.best_trial.params[name], color="#1b7837")
            ax.set_yscale("log")
            if p.prior == "log_uniform":
                ax.set_xscale("log")
        ax.set_xlabel(mpl_text(name), fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write_fit_report(cal: Calibration, study: Any, fit: Fit) -> dict[str, Path]:
    """Write ``fit_report.md`` and ``fit_report.html`` beside the fit; return their paths."""
    out = cal.out_dir
    paths = {"report": out / "fit_report.md", "html": out / "fit_report.html"}
    paths["report"].write_text(fit_markdown(cal, study, fit))
    history = "data:image/png;base64," + base64.b64encode(history_figure(cal, study)).decode()
    body = "\n".join(_body_lines(cal, study, fit))
    paths["html"].write_text(html_report(
        fit.check, title=f"Fit report: {cal.spec.name}", template="calibration.html.j2",
        generator="peersupport calibrate", eyebrow="calibration fit report",
        fit_html=markdown_html(body), history=history))
    return paths
