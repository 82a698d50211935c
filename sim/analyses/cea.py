"""Cost-effectiveness analysis over designs: ICER table, CEAC, CEAF, EVPI, CE plane.

Pure numpy/pandas functions over per-draw costs and QALYs (NICE methods guide; see
EVIDENCE.md); net monetary benefit is :func:`sim.core.economics.net_monetary_benefit`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.core.economics import format_money, net_monetary_benefit
from sim.params.errors import ScenarioError


def _suggest(name: str, options: Sequence[str]) -> str:
    by_lower = {str(o).lower(): str(o) for o in options}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
    return f"{hint} Options: {', '.join(map(str, options))}"


# --------------------------------------------------------------------------- ICER table


def _verdict(
    d_cost: float, d_effect: float, currency: str, effect_unit: str
) -> tuple[float, str, str]:
    """Ratio, quadrant and words for one option against a comparator."""
    if d_cost == 0 and d_effect == 0:
        return np.nan, "origin", "same cost and effect"
    if d_cost <= 0 and d_effect >= 0:
        return np.nan, "SE", "dominant"
    if d_cost >= 0 and d_effect <= 0:
        return np.nan, "NW", "dominated"
    ratio = d_cost / d_effect  # both strictly non-zero and of the same sign here
    if d_cost > 0:
        return ratio, "NE", f"ICER {format_money(ratio, currency)}/{effect_unit}"
    return (
        ratio,
        "SW",
        f"cheaper, less effective: ICER {format_money(ratio, currency)}/{effect_unit} "
        f"saved per {effect_unit} lost",
    )


def icer_table(
    df: pd.DataFrame,
    *,
    cost: str = "cost",
    effect: str = "qalys",
    name: str = "design",
    comparator: str | None = None,
    currency: str = "GBP",
    effect_unit: str = "QALY",
) -> pd.DataFrame:
    """Incremental analysis of mutually exclusive options (efficiency frontier).

    Steps: sort by cost (ties: more effective first); flag options strictly dominated by
    another (no cheaper-or-equal option may be at least as effective, with one strict);
    then repeatedly drop the first frontier option whose ICER exceeds the next one's
    (extended dominance); ICERs are then computed between neighbours on the frontier.

    Output columns, added after the input columns (rows sorted by cost):

    - ``status``: ``"reference"`` (cheapest frontier option; ``"comparator"`` if it is the
      named comparator), ``"ICER"`` (later frontier option), ``"dominated"``,
      ``"extendedly dominated"``, ``"dominant"`` (frontier option cheaper-or-equal and more
      effective, or cheaper and equally effective, than the named comparator) or
      ``"equivalent"`` (same cost and effect as an option kept on the frontier).
    - ``on_frontier`` (bool), ``note`` (which option dominates it, in words).
    - ``inc_cost``, ``inc_effect``, ``icer``: versus the previous frontier option
      (currency, effect unit, currency per effect unit); NaN off the frontier and for the
      reference, so no ratio shown is ever negative.
    - With ``comparator``: ``inc_cost_vs_comparator``, ``inc_effect_vs_comparator``,
      ``icer_vs_comparator`` (NaN where one option dominates the other or they coincide; in
      the south-west quadrant it is savings per effect unit lost, to be read the other way
      round against a threshold), ``quadrant_vs_comparator`` (NE/SE/SW/NW/origin) and
      ``verdict_vs_comparator`` in words.

    Args:
        df: One row per option with its name, mean cost and mean effect.
        cost: Column of costs (currency units, e.g. discounted GBP per patient).
        effect: Column of effects (e.g. discounted QALYs per patient).
        name: Column of option names (unique).
        comparator: Option to compare every other one with (e.g. usual care).
        currency: Currency code used in the words.
        effect_unit: Effect unit used in the words.

    Returns:
        A new frame, one row per option, sorted by cost then effect (descending).

    Raises:
        ScenarioError: On missing columns, duplicate names, non-finite numbers, or an unknown
            comparator.

    References:
        NICE methods guide (incremental analysis, dominance, thresholds); Drummond et al.,
        Methods for the Economic Evaluation of Health Care Programmes (extended dominance).
    """
    names, costs, effects = _options(df, name, cost, effect, comparator)
    out = df.copy()
    out["_c"], out["_e"], out["_n"] = costs, effects, names.to_numpy()
    out["_is_comp"] = names.to_numpy() == (str(comparator) if comparator is not None else None)
    out["_order"] = np.arange(len(out))
    # Cost ascending; equal cost: more effective first; exact ties: comparator, then input order.
    out = out.sort_values(
        ["_c", "_e", "_is_comp", "_order"], ascending=[True, False, False, True], kind="stable"
    ).reset_index(drop=True)
    c, e, n = out["_c"].to_numpy(), out["_e"].to_numpy(), out["_n"].to_numpy()
    k = len(out)
    status, note = _dominance(c, e, n)
    front = _extended_dominance(c, e, n, status, note)
    inc_cost, inc_effect, icer = _frontier_increments(c, e, front)
    status[front[0]] = "comparator" if out["_is_comp"].iloc[front[0]] else "reference"
    for b in front[1:]:
        status[b] = "ICER"
    if comparator is not None:
        _versus_comparator(out, status, front, currency, effect_unit)

    added = {
        "status": status,
        "on_frontier": np.isin(np.arange(k), front),
        "note": note,
        "inc_cost": inc_cost,
        "inc_effect": inc_effect,
        "icer": icer,
    }
    result = out.drop(columns=["_c", "_e", "_n", "_is_comp", "_order"])
    comp_cols = [col for col in result.columns if col.endswith("_vs_comparator")]
    base_cols = [col for col in result.columns if col not in comp_cols]
    result = result[base_cols].assign(**added)
    return pd.concat([result, out[comp_cols]], axis=1) if comp_cols else result


def _options(df: pd.DataFrame, name: str, cost: str, effect: str, comparator: str | None
             ) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The option names, costs and effects of ``df``, checked (see :func:`icer_table`)."""
    missing = [c for c in (name, cost, effect) if c not in df.columns]
    if missing:
        raise ScenarioError(
            f"icer_table: missing column(s) {missing}; columns are {list(df.columns)}"
        )
    if len(df) == 0:
        raise ScenarioError("icer_table: no options given")
    names = df[name].astype(str)
    if names.duplicated().any():
        raise ScenarioError(
            f"icer_table: option names must be unique, repeated: "
            f"{sorted(set(names[names.duplicated()]))}"
        )
    costs = pd.to_numeric(df[cost], errors="coerce").to_numpy(dtype=float)
    effects = pd.to_numeric(df[effect], errors="coerce").to_numpy(dtype=float)
    if not (np.all(np.isfinite(costs)) and np.all(np.isfinite(effects))):
        raise ScenarioError(f"icer_table: columns {cost!r} and {effect!r} must be finite numbers")
    if comparator is not None and str(comparator) not in set(names):
        raise ScenarioError(
            f"icer_table: comparator {comparator!r} is not an option" + _suggest(comparator, names)
        )
    return names, costs, effects


def _dominance(c: np.ndarray, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Status and note of options (sorted by cost) dominated by, or equal to, a kept one.

    Strict and exact-tie dominance: only an option earlier in the order can dominate.
    """
    k = len(c)
    status = np.array([""] * k, dtype=object)
    note = np.array([""] * k, dtype=object)
    for i in range(k):
        for j in range(i):
            if status[j]:
                continue  # compare with kept options only; dominance is transitive
            if c[j] == c[i] and e[j] == e[i]:
                status[i], note[i] = "equivalent", f"same cost and effect as {n[j]}"
                break
            if c[j] <= c[i] and e[j] >= e[i]:
                status[i], note[i] = "dominated", f"dominated by {n[j]}"
                break
    return status, note


def _extended_dominance(c: np.ndarray, e: np.ndarray, n: np.ndarray, status: np.ndarray,
                        note: np.ndarray) -> list[int]:
    """The frontier: drop (and mark in place) options whose ICER exceeds the next one's.

    Costs and effects strictly increase along the options not yet dominated.
    """
    front = [i for i in range(len(c)) if not status[i]]
    while len(front) >= 3:
        ratios = [(c[b] - c[a]) / (e[b] - e[a]) for a, b in zip(front[:-1], front[1:], strict=True)]
        drop = next((m for m in range(len(ratios) - 1) if ratios[m] > ratios[m + 1]), None)
        if drop is None:
            break
        lo, mid, hi = front[drop], front[drop + 1], front[drop + 2]
        status[mid] = "extendedly dominated"
        note[mid] = f"extendedly dominated by a mix of {n[lo]} and {n[hi]}"
        front.pop(drop + 1)
    return front


def _frontier_increments(c: np.ndarray, e: np.ndarray, front: list[int]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incremental cost, effect and ICER of each frontier option vs the previous one."""
    k = len(c)
    inc_cost, inc_effect, icer = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    for a, b in zip(front[:-1], front[1:], strict=True):
        inc_cost[b], inc_effect[b] = c[b] - c[a], e[b] - e[a]
        icer[b] = inc_cost[b] / inc_effect[b]  # inc_effect > 0 on the frontier
    return inc_cost, inc_effect, icer


def _versus_comparator(out: pd.DataFrame, status: np.ndarray, front: list[int],
                       currency: str, effect_unit: str) -> None:
    """Add the ``*_vs_comparator`` columns to ``out`` and mark dominant frontier options."""
    c, e = out["_c"].to_numpy(), out["_e"].to_numpy()
    ci = int(np.flatnonzero(out["_is_comp"].to_numpy())[0])
    d_cost, d_effect = c - c[ci], e - e[ci]
    verdicts = [
        _verdict(dc, de, currency, effect_unit) for dc, de in zip(d_cost, d_effect, strict=True)
    ]
    words = [v[2] for v in verdicts]
    words[ci] = "comparator"
    for i in front:
        if words[i] == "dominant":
            status[i] = "dominant"
    out["inc_cost_vs_comparator"] = d_cost
    out["inc_effect_vs_comparator"] = d_effect
    out["icer_vs_comparator"] = [v[0] for v in verdicts]
    out["quadrant_vs_comparator"] = [v[1] for v in verdicts]
    out["verdict_vs_comparator"] = words


# --------------------------------------------------------------------------- PSA draws


def _check_psa(
    costs: np.ndarray,
    qalys: np.ndarray,
    thresholds: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qalys, dtype=float)
    if c.ndim != 2 or c.shape != q.shape:
        raise ScenarioError(
            "costs and qalys must both be 2-D arrays shaped (n_draws, n_designs), got "
            f"{c.shape} and {q.shape}; for a single draw use x.reshape(1, -1)"
        )
    if c.shape[0] == 0 or c.shape[1] == 0:
        raise ScenarioError(f"costs and qalys need at least one draw and one design, got {c.shape}")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(q))):
        raise ScenarioError("costs and qalys must be finite")
    t = np.atleast_1d(np.asarray(thresholds if thresholds is not None else [0.0], dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ScenarioError("thresholds must be a 1-D array of finite values >= 0 (GBP per QALY)")
    if names is None:
        labels = [f"design_{j}" for j in range(c.shape[1])]
    else:
        labels = [str(x) for x in names]
        if len(labels) != c.shape[1]:
            raise ScenarioError(
                f"names has {len(labels)} entries but costs has {c.shape[1]} designs (columns)"
            )
        if len(set(labels)) != len(labels):
            raise ScenarioError(f"names must be unique, got {labels}")
    return c, q, t, labels


def _best_share(nmb: np.ndarray, c: np.ndarray, q: np.ndarray, wtp: float) -> np.ndarray:
    """Per draw, 1/k for each of the k designs tied for the highest NMB, else 0."""
    # Tie tolerance: 1e-12 of the size of the terms, i.e. float rounding of wtp*q - c only.
    scale = np.max(np.abs(wtp * q) + np.abs(c), axis=1, keepdims=True)
    best = nmb >= nmb.max(axis=1, keepdims=True) - 1e-12 * scale
    return best / best.sum(axis=1, keepdims=True)


def ceac(
    costs: np.ndarray, qalys: np.ndarray, thresholds: np.ndarray, names: list[str]
) -> pd.DataFrame:
    """Cost-effectiveness acceptability curves from a probabilistic sensitivity analysis.

    For each threshold, the share of draws in which each design has the highest net
    monetary benefit; a draw where k designs tie counts 1/k for each, so the probabilities
    sum to 1 at every threshold.

    Args:
        costs: Cost per patient, shape (n_draws, n_designs) (currency units).
        qalys: QALYs per patient, shape (n_draws, n_designs).
        thresholds: Willingness-to-pay values (currency per QALY, >= 0), 1-D.
        names: Design names, one per column.

    Returns:
        Tidy frame with columns ``threshold``, ``design``, ``probability``
        (n_thresholds x n_designs rows, thresholds in input order).

    References:
        NICE methods guide (probabilistic sensitivity analysis, GBP 20,000-30,000/QALY).
    """
    c, q, t, labels = _check_psa(costs, qalys, thresholds, names)
    probs = np.vstack([_best_share(wtp * q - c, c, q, wtp).mean(axis=0) for wtp in t])
    return pd.DataFrame(
        {
            "threshold": np.repeat(t, len(labels)),
            "design": np.tile(np.array(labels, dtype=object), len(t)),
            "probability": probs.ravel(),
        }
    )


def ceaf(
    costs: np.ndarray, qalys: np.ndarray, thresholds: np.ndarray, names: list[str]
) -> pd.DataFrame:
    """Cost-effectiveness acceptability frontier: the optimal design at each threshold.

    The optimal design maximises expected (mean over draws) net monetary benefit; ties go to
    the design listed first in ``names``.

    Args:
        costs: Cost per patient, shape (n_draws, n_designs) (currency units).
        qalys: QALYs per patient, shape (n_draws, n_designs).
        thresholds: Willingness-to-pay values (currency per QALY, >= 0), 1-D.
        names: Design names, one per column.

    Returns:
        Frame with columns ``threshold``, ``design`` (optimal), ``expected_nmb`` (currency
        units per patient) and ``probability`` (its CEAC value: chance it is the best).

    References:
        NICE methods guide (decision on expected net benefit).
    """
    c, q, t, labels = _check_psa(costs, qalys, thresholds, names)
    rows = []
    for wtp in t:
        nmb = net_monetary_benefit(c, q, wtp)
        mean = nmb.mean(axis=0)
        j = int(np.argmax(mean))
        prob = _best_share(nmb, c, q, wtp).mean(axis=0)[j]
        rows.append((wtp, labels[j], float(mean[j]), float(prob)))
    return pd.DataFrame(rows, columns=["threshold", "design", "expected_nmb", "probability"])


def evpi(costs: np.ndarray, qalys: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Per-patient expected value of perfect information, ``E[max NMB] - max E[NMB]``.

    Args:
        costs: Cost per patient, shape (n_draws, n_designs) (currency units).
        qalys: QALYs per patient, shape (n_draws, n_designs).
        thresholds: Willingness-to-pay values (currency per QALY, >= 0), 1-D.

    Returns:
        Frame with columns ``threshold`` and ``evpi`` (currency units per patient, >= 0;
        float rounding below zero is clipped to 0). Multiply by the discounted number of
        patients affected for the population EVPI.

    References:
        NICE methods guide (value of information in probabilistic analysis).
    """
    c, q, t, _ = _check_psa(costs, qalys, thresholds)
    values = []
    for wtp in t:
        nmb = net_monetary_benefit(c, q, wtp)
        values.append(max(0.0, float(nmb.max(axis=1).mean() - nmb.mean(axis=0).max())))
    return pd.DataFrame({"threshold": t, "evpi": values})


def ce_plane_points(
    costs: np.ndarray,
    qalys: np.ndarray,
    comparator_index: int,
    *,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """Incremental cost and effect of each design versus a comparator, per PSA draw.

    Args:
        costs: Cost per patient, shape (n_draws, n_designs) (currency units).
        qalys: QALYs per patient, shape (n_draws, n_designs).
        comparator_index: Column of the comparator (e.g. usual care).
        names: Design names, one per column (default ``design_0``, ``design_1``, ...).

    Returns:
        Tidy frame with columns ``draw``, ``design``, ``comparator``, ``inc_cost``
        (currency units) and ``inc_effect`` (QALYs); the comparator's own rows are left out.

    References:
        NICE methods guide (cost-effectiveness plane).
    """
    c, q, _, labels = _check_psa(costs, qalys, None, names)
    n_draws, n_designs = c.shape
    if not (isinstance(comparator_index, int | np.integer) and 0 <= comparator_index < n_designs):
        raise ScenarioError(
            f"comparator_index must be an integer in [0, {n_designs - 1}], got {comparator_index!r}"
        )
    others = [j for j in range(n_designs) if j != comparator_index]
    d_cost = (c[:, others] - c[:, [comparator_index]]).ravel()
    d_eff = (q[:, others] - q[:, [comparator_index]]).ravel()
    return pd.DataFrame(
        {
            "draw": np.repeat(np.arange(n_draws), len(others)),
            "design": np.tile(np.array([labels[j] for j in others], dtype=object), n_draws),
            "comparator": labels[comparator_index],
            "inc_cost": d_cost,
            "inc_effect": d_eff,
        }
    )
