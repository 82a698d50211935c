"""Are committed results still true? Compare a results manifest's defaults with today's.

A results store's manifest records the base scenario it ran (``resolved.base``: every
parameter value). When a default is recalibrated, or a design file changes, the committed
results under ``experiments/`` no longer reproduce; :func:`stale_parameters` lists what
changed, so a test can flag them and ``experiments/sensitivity/regenerate.sh`` can rerun them.

Likewise a compare file's empirical PSA table (a calibration's ``near_best.csv``) is centred
on the fit whose rounded values became the defaults: :func:`empirical_staleness` lists the
parameters on which the table's best row and today's values part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analyses.calibration import BEST_DIGITS
from sim.analyses.compare import flatten
from sim.analyses.sa_runner import load_sensitivity
from sim.params.errors import ScenarioError
from sim.uncertainty import EmpiricalTable

BEST_ROUNDING = 0.5 * 10.0 ** (1 - BEST_DIGITS)
"""Largest relative change of rounding to ``best.yaml``'s significant digits (5e-4 for 4)."""


def stale_parameters(recorded: dict[str, Any], current: dict[str, Any]) -> pd.DataFrame:
    """Parameters whose value in ``recorded`` differs from ``current`` (two scenario dicts).

    Returns:
        Columns ``parameter, recorded, current`` (values as JSON text when not numbers;
        a parameter present in only one of them shows None on the other side); empty
        when the results are fresh.
    """
    old, new = flatten(recorded), flatten(current)
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            rows.append({"parameter": key, "recorded": _text(a), "current": _text(b)})
    return pd.DataFrame(rows, columns=["parameter", "recorded", "current"])


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str) else json.dumps(value)


def sensitivity_freshness(results: str | Path, sensitivity_file: str | Path) -> pd.DataFrame:
    """What changed between committed sensitivity results and the file run today.

    Args:
        results: a folder with the store's manifest (``store_manifest.json`` in
            ``experiments/``, or ``manifest.json`` in a results store).
        sensitivity_file: the analysis file as it is now.

    Returns:
        :func:`stale_parameters` of the recorded base scenario, input ranges and comparator
        scenario vs those the file resolves to today (rows ``inputs.<name>.low``,
        ``comparator.<parameter>`` etc.; empty: fresh).
    """
    folder = Path(results)
    path = next((folder / n for n in ("store_manifest.json", "manifest.json")
                 if (folder / n).is_file()), None)
    if path is None:
        raise ScenarioError(f"{folder} holds no store_manifest.json or manifest.json")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    recorded = (manifest.get("resolved") or {}).get("base")
    if recorded is None:
        raise ScenarioError(f"{path} records no base scenario (resolved.base)")
    plan = load_sensitivity(sensitivity_file)
    ranges = {name: spec.model_dump(exclude={"around_default"})
              for name, spec in plan.spec.inputs.items()}
    recorded_ranges = manifest["resolved"].get("spec", {}).get("inputs", {})
    return pd.concat([stale_parameters(recorded, plan.base),
                      stale_parameters({"inputs": recorded_ranges}, {"inputs": ranges}),
                      stale_parameters({"comparator": manifest["resolved"].get("comparator")},
                                       {"comparator": plan.comparator})],
                     ignore_index=True)


def empirical_staleness(table: EmpiricalTable, scenario: dict[str, Any]) -> pd.DataFrame:
    """Parameters of an empirical table whose best row is not the scenario's value.

    The calibration that wrote the table wrote its best row, rounded to ``BEST_DIGITS``
    significant digits, to ``best.yaml``, which became the defaults: so the best row
    (:meth:`EmpiricalTable.best`: lowest objective, else the first row) must equal
    today's values within that rounding (:data:`BEST_ROUNDING`, relative), or the table
    and the defaults come from different fits.

    Args:
        table: the read table.
        scenario: the scenario the table's draws replace (a comparison's designs), as a dict.

    Returns:
        Columns ``parameter, best, current``; empty when they agree.
    """
    current = flatten(scenario)
    rows = [{"parameter": name, "best": best, "current": current[name]}
            for name, best in table.best().items()
            if abs(float(current[name]) - best) > BEST_ROUNDING * abs(best) + 1e-12]
    return pd.DataFrame(rows, columns=["parameter", "best", "current"])
