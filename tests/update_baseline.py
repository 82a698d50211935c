"""Rewrite tests/baseline.json from tests/data/golden.yaml (run by hand, then review the diff).

Usage: python tests/update_baseline.py
"""

from __future__ import annotations

import json
from pathlib import Path

from sim import run

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "data" / "golden.yaml"
BASELINE = HERE / "baseline.json"


def golden_summary() -> dict[str, float]:
    """The summary of the golden scenario at its own seed."""
    return run(SCENARIO).summary


if __name__ == "__main__":
    BASELINE.write_text(json.dumps(golden_summary(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {BASELINE}; review `git diff {BASELINE.name}` before committing")
