"""Write a sensitivity analysis as tables, figures and a plain-words summary.

The summary answers what SALib users keep asking: which inputs drive the primary outcome
(with intervals), which cannot be told apart from zero, what a negative index means, how much
of the output variance is replication noise, whether the indices converged, and what N to
run next when they have not.

Figures use Matplotlib's object API with the Agg canvas (no pyplot, no global backend switch),
so writing a report never changes the caller's Matplotlib state.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.analyses.sensitivity import (
    RANKING_INDEX,
    SensitivityResult,
    convergence_summary,
    ranking,
)
from sim.params.errors import ScenarioError
from sim.report.render import markdown_html, md_escape, mpl_text, render

__all__ = ["summary_markdown", "summary_html", "write_report"]

SHOWN_INDICES = {
    "sobol": ("S1", "ST"),
    "fast": ("S1", "ST"),
    "morris": ("mu_star",),
    "delta": ("delta", "S1"),
    "pawn": ("pawn_median",),
}
"""Indices drawn as bars and quoted in the ranking table, per method."""

INDEX_LABEL = {
    "S1": "S1",
    "ST": "ST",
    "S2": "S2",
    "mu_star": "mu*",
    "sigma": "sigma",
    "mu": "mu",
    "delta": "delta",
    "pawn_median": "PAWN",
}

METHOD_NAME = {
    "sobol": "Sobol' variance-based indices (Saltelli sampling)",
    "morris": "Morris elementary-effects screening",
    "fast": "extended FAST (eFAST) variance-based indices",
    "delta": "Borgonovo's delta moment-independent index (given data, Latin hypercube)",
    "pawn": "PAWN distribution-based index (given data, Latin hypercube)",
}

METHOD_READING = {
    "sobol": (
        "S1 is the share of the output's variance that the input explains on its own; ST adds "
        "everything it does through interactions with other inputs, so ST - S1 measures its "
        "interactions. Both lie between 0 and 1; inputs with ST near 0 can be fixed anywhere "
        "in their range without changing the output."
    ),
    "fast": (
        "S1 and ST read as for Sobol': the share of output variance an input explains alone "
        "(S1) and with its interactions (ST). eFAST's bootstrap intervals are indicative only "
        "(SALib warns they are unreliable for this method)."
    ),
    "morris": (
        "mu* is the mean absolute change of the output when the input takes one step across "
        "its range (in the output's unit, per unit of the input's range): a screening measure "
        "for ranking, not a variance share. sigma is the spread of those changes: sigma/mu* "
        "above about 1 means the effect is non-linear or depends on other inputs."
    ),
    "delta": (
        "delta measures how far the whole output distribution moves when the input is known "
        "(0: not at all; 1: completely); S1 is a first-order variance share estimated from the "
        "same data. Both are biased upwards at finite sample size, so each is compared with a "
        "dummy input that the model never saw: an input indistinguishable from the dummy has "
        "no detectable effect."
    ),
    "pawn": (
        "PAWN is the median Kolmogorov-Smirnov distance between the output distribution when "
        "the input is confined to a slice of its range and the output distribution overall "
        "(0: no effect). It is biased upwards at finite sample size, so it is compared with a "
        "dummy input that the model never saw."
    ),
}

N_MEANING = {
    "sobol": "base samples",
    "fast": "points per search curve",
    "morris": "trajectories",
    "delta": "Latin hypercube points",
    "pawn": "Latin hypercube points",
}


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def write_report(
    result: SensitivityResult, out_dir: Path, *, title: str, primary_output: str
) -> dict[str, Path]:
    """Write index tables, figures and a plain-words summary of a sensitivity analysis.

    Args:
        result: The analysis (from :func:`sim.analyses.sensitivity.run_function` or the
            sweep engine).
        out_dir: Directory to write into (created if missing).
        title: Heading of the summary.
        primary_output: The output the summary leads with (e.g. ``"qol_change"``).

    Returns:
        Paths by role: ``indices_csv``, ``indices_parquet``, ``noise_csv``,
        ``convergence_csv`` (when convergence was checked), ``fig_indices``, ``fig_morris``
        (Morris only), ``fig_convergence`` (when checked), ``summary_md``, ``summary_html``.

    Raises:
        ScenarioError: ``primary_output`` is not one of the analysed outputs.
    """
    outputs = list(dict.fromkeys(result.indices["output"]))
    if primary_output not in outputs:
        raise ScenarioError(
            f"primary_output {primary_output!r} was not analysed; outputs are {', '.join(outputs)}"
        )
    out_dir = Path(out_dir)
    paths = _write_tables(result, out_dir)
    fig_paths = _write_figures(result, out_dir / "figures", primary_output)
    paths.update(fig_paths)
    figures = {role: path.relative_to(out_dir).as_posix() for role, path in fig_paths.items()}
    text = summary_markdown(result, title=title, primary_output=primary_output, figures=figures)
    paths["summary_md"] = out_dir / "summary.md"
    paths["summary_md"].write_text(text, encoding="utf-8")
    paths["summary_html"] = out_dir / "summary.html"
    paths["summary_html"].write_text(
        summary_html(result, title=title, primary_output=primary_output, figures=fig_paths),
        encoding="utf-8",
    )
    return paths


def _write_tables(result: SensitivityResult, out_dir: Path) -> dict[str, Path]:
    """Indices (CSV, Parquet), noise and convergence tables; their paths by role."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"indices_csv": out_dir / "indices.csv",
             "indices_parquet": out_dir / "indices.parquet", "noise_csv": out_dir / "noise.csv"}
    result.indices.to_csv(paths["indices_csv"], index=False)
    result.indices.to_parquet(paths["indices_parquet"], index=False)
    result.noise.to_csv(paths["noise_csv"], index=False)
    if result.convergence is not None:
        paths["convergence_csv"] = out_dir / "convergence.csv"
        result.convergence.to_csv(paths["convergence_csv"], index=False)
    return paths


def _write_figures(result: SensitivityResult, fig_dir: Path, primary: str) -> dict[str, Path]:
    """The PNG figures; their paths by role (``fig_...``)."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    order = ranking(result.indices, result.method, primary)["input"].tolist()
    paths = {"fig_indices": fig_dir / "indices.png"}
    _plot_indices(result, order, paths["fig_indices"])
    if result.method == "morris":
        paths["fig_morris"] = fig_dir / "morris_mu_star_sigma.png"
        _plot_morris(result, paths["fig_morris"])
    if result.convergence is not None:
        paths["fig_convergence"] = fig_dir / "convergence.png"
        _plot_convergence(result, order, primary, paths["fig_convergence"])
    return paths


# --------------------------------------------------------------------------------------------
# Summary in plain words
# --------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    a = abs(value)
    if a >= 100:
        return f"{value:,.0f}"
    if a >= 1:
        return f"{value:.2f}"
    if 0 < a < 0.001:
        return f"{value:.1e}"
    return f"{value:.3f}"


def _with_interval(row: pd.Series | None, level: str = "") -> str:
    """``0.31 (95% interval 0.26 to 0.37)``; without ``level``: ``0.31 (0.26 to 0.37)``."""
    if row is None:
        return "n/a"
    if math.isfinite(row["conf_low"]) and math.isfinite(row["conf_high"]):
        prefix = f"{level} " if level else ""
        return f"{_fmt(row['value'])} ({prefix}{_fmt(row['conf_low'])} to {_fmt(row['conf_high'])})"
    return _fmt(row["value"])


def _row(indices: pd.DataFrame, output: str, inp: str, index: str) -> pd.Series | None:
    hit = indices[
        (indices["output"] == output) & (indices["input"] == inp) & (indices["index"] == index)
    ]
    return None if hit.empty else hit.iloc[0]


def _why_flagged(row: pd.Series, method: str) -> str:
    if row["includes_zero"]:
        return "its interval includes zero"
    floor = (
        "the level of a dummy input the model never used"
        if method in ("delta", "pawn")
        else "the noise threshold"
    )
    if math.isfinite(row["conf_low"]):
        return f"its interval reaches down to {floor} ({_fmt(row['noise_threshold'])})"
    return f"it is at or below {floor} ({_fmt(row['noise_threshold'])})"


def _code(name: object) -> str:
    """A name from the analysis as inline code (untrusted: no backtick or line break)."""
    text = " ".join(str(name).split())
    return f"`{text}`" if "`" not in text else md_escape(text)


def _level(result: SensitivityResult) -> str:
    return f"{round(100 * result.conf_level)}% interval"


def _header_lines(result: SensitivityResult) -> list[str]:
    method = result.method
    runs = result.meta.get("model_runs", len(result.Y_reps))
    wall = result.meta.get("wall_time_s")
    comparator = result.meta.get("comparator")
    pair = (f" x 2 (the design and {_code(comparator)}, same seed: each output is the "
            "difference, design minus comparator)" if comparator else "")
    return [
        f"**Method:** {METHOD_NAME[method]}; N = {result.n} {N_MEANING[method]}, "
        f"{len(result.X):,} sample points x {result.replications} replication(s){pair} = "
        f"{runs:,} model runs; seed {result.seed}; {_level(result)}s from "
        f"{result.meta.get('num_resamples', 'SALib')} bootstrap resamples"
        + (f"; wall time {wall:.1f} s." if isinstance(wall, int | float) else "."),
        "",
        METHOD_READING[method],
        "",
    ]


def _driver_lines(result: SensitivityResult, primary: str, ranked: pd.DataFrame) -> list[str]:
    idx, method, level = result.indices, result.method, _level(result)
    key = RANKING_INDEX[method]
    lines = [f"## What drives {_code(primary)}", ""]
    drivers = ranked[~ranked["flagged_inert"]]
    if drivers.empty:
        return [*lines,
                f"No input's {INDEX_LABEL[key]} is clear of zero and of the noise threshold for "
                f"{_code(primary)}: at this sample size the analysis cannot say which inputs "
                "drive it (see convergence and replication noise below).", ""]
    parts = []
    for _, r in drivers.head(3).iterrows():
        extra = ""
        if method in ("sobol", "fast", "delta"):
            other = "S1" if key != "S1" else "ST"
            other_row = _row(idx, primary, r["input"], other)
            extra = f" and {other} = {_with_interval(other_row, level)}"
        parts.append(f"{_code(r['input'])}, with {INDEX_LABEL[key]} = "
                     f"{_with_interval(r, level)}{extra}")
    lead = f"The input that drives {_code(primary)} most is {parts[0]}."
    if len(parts) > 1:
        lead += " Next come " + "; then ".join(parts[1:]) + "."
    return [*lines, lead, ""]


def _ranking_table_lines(result: SensitivityResult, primary: str,
                         ranked: pd.DataFrame) -> list[str]:
    idx, method = result.indices, result.method
    shown = SHOWN_INDICES[method]
    header = ["Rank", "Input"] + [f"{INDEX_LABEL[i]} ({_level(result)})" for i in shown]
    if method == "morris":
        header += ["sigma", "sigma/mu*"]
    header += ["Verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rank, r in ranked.iterrows():
        inp = r["input"]
        cells = [str(rank + 1), _code(inp).replace("|", "\\|")]
        cells += [_with_interval(_row(idx, primary, inp, i)) for i in shown]
        if method == "morris":
            sigma = _row(idx, primary, inp, "sigma")
            cells += [_fmt(float(sigma["value"]) if sigma is not None else math.nan),
                      _fmt(r["sigma_ratio"])]
        cells.append(VERDICT_WORDS[r["verdict"]])
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _zero_lines(result: SensitivityResult, primary: str, ranked: pd.DataFrame) -> list[str]:
    idx, method, level = result.indices, result.method, _level(result)
    key_label = INDEX_LABEL[RANKING_INDEX[method]]
    lines = ["## Inputs that cannot be told apart from zero", ""]
    flagged = ranked[ranked["flagged_inert"]]
    if flagged.empty:
        lines += [f"For {_code(primary)}, every input's {key_label} interval is clear of zero "
                  "and of the noise threshold.", ""]
    else:
        lines += [f"For {_code(primary)} these inputs' {key_label} cannot be told apart from "
                  "zero: fixing them anywhere in their range would not detectably change the "
                  "result.", ""]
        lines += [f"- {_code(r['input'])}: {key_label} = {_with_interval(r, level)}; "
                  f"{_why_flagged(r, method)}." for _, r in flagged.iterrows()]
        lines.append("")
    if method in ("sobol", "fast"):
        interacting = ranked.loc[ranked["verdict"] == "interactions_only", "input"].tolist()
        if interacting:
            lines += [f"{', '.join(map(_code, interacting))}: S1 cannot be told apart from zero "
                      "but ST can, so the input acts only through interactions with other "
                      "inputs.", ""]
    others = [o for o in dict.fromkeys(idx["output"]) if o != primary]
    if others:
        lines += ["Other outputs, inputs flagged the same way:", ""]
        for out in others:
            other = ranking(idx, method, out)
            names = ", ".join(map(_code, other.loc[other["flagged_inert"], "input"]))
            lines.append(f"- {_code(out)}: {names or 'none'}.")
        lines.append("")
    return lines


def _negative_lines(result: SensitivityResult) -> list[str]:
    idx = result.indices
    shares = idx[idx["index"].isin(["S1", "ST", "S2", "delta", "pawn_median"])]
    negative = shares[shares["value"] < 0]
    lines = [
        "## What a negative index means", "",
        "A share of variance cannot be below zero. A negative estimate is sampling error "
        'around an index that is zero or very small: read it as "no detectable effect", never '
        "as an input that reduces the output's variance; its interval shows how far the "
        "estimate wanders at this sample size."]
    if negative.empty:
        return [*lines, "", "No index in this analysis came out negative.", ""]
    lines += ["", "Negative estimates here:", ""]
    lines += [f"- {_code(r['output'])}, {_code(r['input'])} "
              f"{INDEX_LABEL.get(r['index'], r['index'])} = {_with_interval(r, _level(result))}"
              + (" (interval includes zero)." if r["includes_zero"] else ".")
              for _, r in negative.iterrows()]
    return [*lines, ""]


FIGURE_CAPTIONS = {
    "fig_indices": "Indices with {level}s, per output; dashed line: noise threshold.",
    "fig_morris": "Morris mu*-sigma plane; lines sigma/mu* = 0.1, 0.5, 1.",
    "fig_convergence": "Indices against the number of samples N.",
}
"""Caption of each figure (``{level}``: the interval level)."""


def _figure_lines(result: SensitivityResult, figures: dict[str, str]) -> list[str]:
    if not figures:
        return []
    lines = ["## Figures", ""]
    for role, rel in figures.items():
        caption = FIGURE_CAPTIONS.get(role, "").format(level=_level(result))
        lines += [f"![{role.removeprefix('fig_')}]({rel})", "", caption, ""]
    return lines


def _file_lines(result: SensitivityResult) -> list[str]:
    lines = [
        "## Files",
        "",
        "- `indices.csv`, `indices.parquet`: every index, one row per output, input and index, "
        "with interval, `includes_zero`, `noise_threshold` and `flagged_inert`.",
        "- `noise.csv`: replication noise per output.",
    ]
    if result.convergence is not None:
        lines.append(
            "- `convergence.csv`: indices recomputed on the first quarter, half and all samples.")
    return [*lines, ""]


def _body_lines(result: SensitivityResult, primary: str) -> list[str]:
    """The summary between the title and the figures."""
    ranked = ranking(result.indices, result.method, primary)
    outputs = list(dict.fromkeys(result.indices["output"]))
    return [*_header_lines(result), *_driver_lines(result, primary, ranked),
            *_ranking_table_lines(result, primary, ranked),
            *_zero_lines(result, primary, ranked), *_negative_lines(result),
            "## Replication noise", "", *_noise_lines(result, primary, outputs),
            "## Have the indices converged?", "", *_convergence_lines(result, primary)]


def summary_markdown(
    result: SensitivityResult,
    *,
    title: str,
    primary_output: str,
    figures: dict[str, str] | None = None,
) -> str:
    """The plain-words summary as Markdown (see :func:`write_report`).

    ``title`` and every name are untrusted text: escaped, they can never add a heading, a
    link, an image or raw HTML.
    """
    lines = [f"# {md_escape(title)}", "", *_body_lines(result, primary_output),
             *_figure_lines(result, figures or {}), *_file_lines(result)]
    return "\n".join(lines)


VERDICT_WORDS = {
    "inert": "cannot be told apart from zero",
    "interactions_only": "drives it through interactions only",
    "partly_interactions": "drives it, partly through interactions",
    "nonlinear": "drives it; non-linear or interacting",
    "drives": "drives it",
}
"""Each verdict of ``sim.analyses.sensitivity.ranking`` in words."""


def _noise_lines(result: SensitivityResult, primary: str, outputs: list[str]) -> list[str]:
    noise = result.noise.set_index("output")
    if noise["var_within"].isna().all():
        return [
            "Each sample point ran once, so replication noise was not measured. For a stochastic "
            "model, run at least 2 replications per point: otherwise noise is counted as input "
            "effects (it raises every ST and mu*).",
            "",
        ]
    lines = []
    key = RANKING_INDEX[result.method]
    for out in [primary] + [o for o in outputs if o != primary]:
        if out not in noise.index:
            continue
        row = noise.loc[out]
        share, share_mean = row["noise_share"], row["noise_share_of_mean"]
        reps = row["replications"]
        text = (
            f"`{out}`: {_pct(share)} of the variance across all runs is replication noise "
            f"(runs with identical inputs differ by chance). "
        )
        if bool(row.get("common_random_numbers", False)):
            text += (
                "Replication r used the same random numbers at every sample point (common "
                "random numbers), so the noise all points share cancels from the indices; "
                f"averaging {reps:g} replications per point leaves {_pct(share_mean)} of the "
                "variance of the averaged output as noise that can reach the indices"
            )
        else:
            text += (
                f"Averaging {reps:g} replications per point leaves {_pct(share_mean)} of the "
                "variance of the averaged output as noise"
            )
        if result.method in ("sobol", "fast"):
            text += (
                ", so an input whose ST is below about "
                f"{_fmt(min(share_mean, 1.0))} cannot be told from noise"
            )
        elif result.method == "morris":
            floor = result.meta.get("noise_floor", {}).get(out)
            if floor is not None:
                text += f", so a mu* below about {_fmt(floor)} cannot be told from noise"
        text += "."
        if math.isfinite(share_mean) and share_mean > 0.2:
            text += (
                " That is a large share: more replications per point (noise falls as 1/R) "
                f"would sharpen the {INDEX_LABEL[key]} values."
            )
        lines += [("- " if len(outputs) > 1 else "") + text]
    return [*lines, ""]


def _pct(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    if 0 < x < 0.001:
        return f"{100 * x:.2g}%"  # 0.019%, not 0.0%
    return f"{100 * x:.1f}%" if x < 0.995 else f"{100 * x:.0f}%"


def _convergence_lines(result: SensitivityResult, primary: str) -> list[str]:
    summary = convergence_summary(result)
    if summary is None:
        if result.method == "fast":
            return [
                "Not checked: eFAST search curves cannot be cut into smaller designs. Re-run with "
                f"half of N = {result.n} and compare, or use Sobol'.",
                "",
            ]
        return ["Not checked for this analysis.", ""]
    tol, table = result.tol, summary.table
    prim = table[table["output"] == primary]
    n_half, n_full = int(prim["n_half"].iloc[0]), int(prim["n_full"].iloc[0])
    scale = " (relative to the largest mu*)" if result.method == "morris" else ""
    lines = [
        f"Indices were recomputed on the first N/2 = {n_half} of the N = {n_full} "
        f"{N_MEANING[result.method]} and compared; an index counts as converged when it moved "
        f"by at most {_fmt(tol)}{scale}.",
        "",
    ]
    moved = prim[~prim["converged"]]
    if moved.empty:
        lines.append(
            f"For {_code(primary)} every index moved by at most {_fmt(tol)} between N/2 and N "
            f"(largest change {_fmt(prim['change'].max())}): the indices have converged at N = "
            f"{n_full}."
        )
    else:
        items = "; ".join(
            f"{_code(r['input'])} {INDEX_LABEL.get(r['index'], r['index'])} "
            f"{_fmt(r['value_half'])} -> {_fmt(r['value_full'])}"
            for _, r in moved.sort_values("change", ascending=False).iterrows()
        )
        lines.append(
            f"For {_code(primary)} the indices have **not converged**: these moved by more than "
            f"{_fmt(tol)} between N/2 and N: {items}. Recommended: re-run with N = "
            f"{summary.recommended_n_by_output[primary]} {N_MEANING[result.method]} (the "
            "change shrinks roughly as 1/sqrt(N))."
        )
    others = table[(table["output"] != primary) & ~table["converged"]]
    if not others.empty:
        outs = ", ".join(map(_code, dict.fromkeys(others["output"])))
        lines.append(
            f"\nNot converged for other outputs: {outs}; the N that would settle all outputs is "
            f"{summary.recommended_n}."
        )
    return [*lines, ""]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _plot_indices(result: SensitivityResult, order: list[str], path: Path) -> None:
    idx = result.indices
    outputs = list(dict.fromkeys(idx["output"]))
    shown = SHOWN_INDICES[result.method]
    width = 0.8 / len(shown)
    fig = Figure(figsize=(max(6.0, 0.9 * len(order) + 2), 2.8 * len(outputs)))
    axes = np.atleast_1d(fig.subplots(len(outputs), 1, squeeze=False)[:, 0])
    colours = ["#3b6ea5", "#d1793b", "#5a9a5a"]
    x = np.arange(len(order))
    for ax, out in zip(axes, outputs, strict=True):
        sub = idx[idx["output"] == out]
        for k, index in enumerate(shown):
            rows = sub[sub["index"] == index].set_index("input").reindex(order)
            vals = rows["value"].to_numpy(dtype=float)
            low = np.clip(vals - rows["conf_low"].to_numpy(dtype=float), 0, None)
            high = np.clip(rows["conf_high"].to_numpy(dtype=float) - vals, 0, None)
            err = np.nan_to_num(np.vstack([low, high]))
            flagged = rows["flagged_inert"].fillna(False).to_numpy(dtype=bool)
            pos = x + (k - (len(shown) - 1) / 2) * width
            bars = ax.bar(
                pos,
                np.nan_to_num(vals),
                width,
                yerr=err,
                capsize=3,
                color=colours[k % len(colours)],
                label=INDEX_LABEL[index],
            )
            for bar, is_flagged in zip(bars, flagged, strict=True):
                if is_flagged:
                    bar.set_alpha(0.35)
        key_rows = sub[sub["index"] == RANKING_INDEX[result.method]]
        if not key_rows.empty and key_rows["noise_threshold"].notna().any():
            ax.axhline(float(key_rows["noise_threshold"].max()), ls="--", lw=1, color="grey")
        ax.axhline(0, lw=0.8, color="black")
        ax.set_title(mpl_text(out), fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels([mpl_text(o) for o in order], rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Sensitivity indices (faded: cannot be told apart from zero)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _plot_morris(result: SensitivityResult, path: Path) -> None:
    idx = result.indices
    outputs = list(dict.fromkeys(idx["output"]))
    ncol = min(3, len(outputs))
    nrow = math.ceil(len(outputs) / ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.8 * nrow))
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False).ravel())
    for ax, out in zip(axes, outputs, strict=False):
        sub = idx[idx["output"] == out].pivot(index="input", columns="index", values="value")
        mu, sigma = sub["mu_star"].to_numpy(float), sub["sigma"].to_numpy(float)
        ax.scatter(mu, sigma, color="#3b6ea5", zorder=3)
        for name, m, s in zip(sub.index, mu, sigma, strict=True):
            if math.isfinite(m) and math.isfinite(s):
                ax.annotate(mpl_text(name), (m, s), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        top = np.nanmax(np.concatenate([mu, sigma, [1e-12]])) * 1.1
        line = np.array([0.0, top])
        for ratio, style in ((1.0, "-"), (0.5, "--"), (0.1, ":")):
            ax.plot(line, ratio * line, style, color="grey", lw=0.8, label=f"sigma/mu* = {ratio}")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("mu*")
        ax.set_ylabel("sigma")
        ax.set_title(mpl_text(out), fontsize=10)
    axes[0].legend(fontsize=7, loc="upper left")
    for ax in axes[len(outputs) :]:
        ax.set_visible(False)
    fig.tight_layout()
    _save(fig, path)


def _plot_convergence(
    result: SensitivityResult, order: list[str], primary: str, path: Path
) -> None:
    conv = result.convergence
    if conv is None:
        raise ScenarioError("no convergence table to plot; run convergence() first")
    outputs = [primary] + [o for o in dict.fromkeys(conv["output"]) if o != primary]
    shown = SHOWN_INDICES[result.method]
    fig = Figure(figsize=(4.2 * len(shown), 3.0 * len(outputs)))
    axes = fig.subplots(len(outputs), len(shown), squeeze=False)
    for i, out in enumerate(outputs):
        for j, index in enumerate(shown):
            ax = axes[i, j]
            sub = conv[(conv["output"] == out) & (conv["index"] == index)]
            for name in order:
                rows = sub[sub["input"] == name].sort_values("n")
                if rows.empty:
                    continue
                vals = rows["value"].to_numpy(float)
                err = np.nan_to_num(
                    np.vstack(
                        [
                            np.clip(vals - rows["conf_low"].to_numpy(float), 0, None),
                            np.clip(rows["conf_high"].to_numpy(float) - vals, 0, None),
                        ]
                    )
                )
                ax.errorbar(rows["n"], vals, yerr=err, marker="o", ms=3, capsize=2,
                            label=mpl_text(name))
            ax.set_xscale("log", base=2)
            ax.axhline(0, lw=0.8, color="black")
            ax.set_title(mpl_text(f"{out}: {INDEX_LABEL[index]}"), fontsize=10)
            ax.set_xlabel(f"N ({N_MEANING[result.method]})")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------------------------
# HTML page
# --------------------------------------------------------------------------------------------


def summary_html(result: SensitivityResult, *, title: str, primary_output: str,
                 figures: dict[str, Path]) -> str:
    """The summary as one self-contained page through the shared report template.

    The words go through markdown-it-py with raw HTML shown as text and images off; the
    figures are the files this report wrote (``figures``), embedded by the template, never
    a path found in text.
    """
    embedded = [{"src": "data:image/png;base64," + base64.b64encode(path.read_bytes())
                 .decode("ascii"), "alt": role.removeprefix("fig_"),
                 "caption": FIGURE_CAPTIONS.get(role, "").format(level=_level(result))}
                for role, path in figures.items()]
    body = "\n".join(_body_lines(result, primary_output))
    return render("sensitivity.html.j2", generator="peersupport sensitivity",
                  eyebrow="sensitivity analysis", title=title,
                  meta=f"{METHOD_NAME[result.method]} · primary output {primary_output}",
                  toc=(), body_html=markdown_html(body), figures=embedded,
                  files_html=markdown_html("\n".join(_file_lines(result))))
