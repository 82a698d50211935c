"""Paired differences between lever settings (common random numbers).

Replication r of every lever setting at a design point shares its seed, so the runs of two
settings differ only by what the setting changes. The difference of an outcome between a
setting and the comparator is then taken run by run (paired), which removes the variation
the two share: its interval is far narrower than the unpaired (Welch) interval of the
difference of two means, which is reported beside it for comparison.

References:
    Law A.M. (2015) Simulation Modeling and Analysis, 5th ed., sections 10.2 (paired-t and
    Welch confidence intervals) and 11.2 (common random numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.store import Results
from sim.params.errors import ScenarioError


def paired_differences(
    results: Results | pd.DataFrame,
    outcome: str,
    comparator: Any,
    *,
    lever: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean difference of ``outcome`` between each lever value and ``comparator``.

    Runs are paired on everything but the lever: design point, replication (hence seed)
    and the other levers. Only pairs where both runs succeeded count.

    Args:
        results: loaded results (or their runs table).
        outcome: a summary output column, e.g. ``"hba1c_change"``.
        comparator: the lever value to compare against, e.g. ``"usual_care"``.
        lever: the lever column (default: the one lever column holding ``comparator``).
        confidence: interval level (t-based).

    Returns:
        One row per other lever value (index named after the lever): ``n_pairs``,
        ``mean_difference``, ``ci_low``, ``ci_high``, ``se`` (paired), and the unpaired
        (Welch) ``unpaired_se``, ``unpaired_ci_low``, ``unpaired_ci_high``.

    Raises:
        ScenarioError: unknown outcome or lever, comparator not found, fewer than 2 pairs.
    """
    runs = results.runs if isinstance(results, Results) else results
    levers = (results.lever_columns if isinstance(results, Results)
              else [c for c in ("design",) if c in runs.columns])
    if outcome not in runs.columns:
        raise ScenarioError(f"unknown outcome '{outcome}'; outcomes are columns of the runs "
                            "table such as hba1c_change, qalys_per_patient")
    if lever is None:
        holding = [c for c in levers if (runs[c] == comparator).any()]
        if len(holding) != 1:
            raise ScenarioError(f"cannot tell which lever '{comparator}' is a value of "
                                f"(lever columns: {', '.join(levers) or 'none'}); pass lever=")
        lever = holding[0]
    if lever not in runs.columns:
        raise ScenarioError(f"unknown lever column '{lever}'")
    if not 0 < confidence < 1:
        raise ScenarioError(f"confidence must be in (0, 1), got {confidence}")
    ok = runs[runs["status"] == "ok"]
    keys = ["point", "replication", *[c for c in levers if c != lever]]
    keys = [k for k in keys if k in ok.columns]
    base = ok[ok[lever] == comparator].set_index(keys)[outcome]
    if base.empty:
        raise ScenarioError(f"no successful runs with {lever} = {comparator!r}")
    rows = {}
    for value, group in ok[ok[lever] != comparator].groupby(lever, sort=False):
        other = group.set_index(keys)[outcome]
        joined = pd.concat({"a": other, "b": base}, axis=1, join="inner").dropna()
        n = len(joined)
        if n < 2:
            raise ScenarioError(f"{lever} = {value!r} has {n} run paired with the comparator; "
                                "at least 2 replications are needed for an interval")
        diff = joined["a"] - joined["b"]
        mean, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n))
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * se
        a, b = other.dropna(), base.dropna()
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        un_se = float(np.sqrt(va + vb))
        df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if un_se else 1.0
        un_mean = float(a.mean() - b.mean())
        un_half = stats.t.ppf(0.5 + confidence / 2, df) * un_se
        rows[value] = {
            "comparator": comparator, "outcome": outcome, "n_pairs": n,
            "mean_difference": mean, "ci_low": mean - half, "ci_high": mean + half, "se": se,
            "unpaired_mean_difference": un_mean, "unpaired_se": un_se,
            "unpaired_ci_low": un_mean - un_half, "unpaired_ci_high": un_mean + un_half,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = lever
    return out
