"""Golden baseline: the small fixed scenario still gives the stored summary."""

from __future__ import annotations

import json
import math

from .update_baseline import BASELINE, golden_summary


def test_golden_baseline_unchanged():
    stored = json.loads(BASELINE.read_text())
    now = golden_summary()
    assert set(now) == set(stored), "summary keys changed: run python tests/update_baseline.py"
    changed = {k: (stored[k], now[k]) for k in stored
               if not (math.isclose(now[k], stored[k], rel_tol=1e-9, abs_tol=1e-12)
                       or (math.isnan(now[k]) and math.isnan(stored[k])))}
    # 1e-9: same arithmetic on the same draws; only a model change moves it further.
    assert not changed, (f"results changed for {len(changed)} outputs, e.g. "
                         f"{dict(list(changed.items())[:3])}; if intended, run "
                         "python tests/update_baseline.py and review the diff")
