"""The per-agent Mesa baseline of benchmarks/ follows the same rules as the real model."""

from __future__ import annotations

import sys

import numpy as np

from sim import load_scenario
from sim.core.model import PeerSupportModel

from .conftest import DESIGNS, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from baseline_mesa import BaselineModel  # noqa: E402

KEYS = ("pdc_mean", "adherent_share", "hba1c_mean", "utility_mean", "engagement_mean")


def test_baseline_means_agree_with_model_within_sampling_error():
    """Same population and network per seed, independent draws: paired differences
    over 6 seeds must be centred on zero (|mean| < 4 standard errors + a small floor)."""
    # the baseline leaves out the peer support sessions deliver (behaviour.session_support_days)
    sc = load_scenario(DESIGNS / "hybrid_monthly.yaml",
                       {"population.size": 400, "run.days": 45,
                        "behaviour.session_support_days": 0.0})
    diffs = {k: [] for k in KEYS}
    for seed in range(1, 7):
        real = PeerSupportModel(sc, seed, agent_views=False)
        for _ in range(45):
            real.step()
        base = BaselineModel(sc, seed)
        base.run_for(45)
        got, want = base.means(), real.population_means()
        for k in KEYS:
            diffs[k].append(got[k] - want[k])
    for k, d in diffs.items():
        d = np.asarray(d)
        se = d.std(ddof=1) / np.sqrt(d.size)
        # floor 1e-3: the means of 400 patients differ by sampling noise of that order
        assert abs(d.mean()) < 4 * se + 1e-3, \
            f"{k}: baseline differs by {d.mean():.4f} (se {se:.4f})"
