"""The science: small pure vectorized functions (numpy only), units in docstrings.

The model wires these together in ``PeerSupportModel.step``; nothing here loops over
patients or draws random numbers itself (uniforms are passed in, so every random
quantity is a fixed transform of its stream's draws: common random numbers).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, logit -> probability."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def relax_rate(time_constant_days: float) -> float:
    """Daily fraction of the gap closed by first-order kinetics: 1 - exp(-1 / tau)."""
    return float(-np.expm1(-1.0 / time_constant_days))


def relax(x: np.ndarray, target: np.ndarray, rate: float) -> None:
    """In place: move ``x`` a fraction ``rate`` of the way to ``target`` (one day)."""
    x += (target - x) * rate


def poisson_inverse(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts by CDF inversion of one uniform each (CRN-safe).

    A patient's count depends only on its own uniform and rate, whatever the others do;
    numpy's Poisson sampler consumes a variable number of draws per element.
    """
    out = np.zeros(u.shape[0], dtype=np.int32)
    p = np.exp(-lam)
    idx = np.flatnonzero(u > p)
    if idx.size == 0:
        return out
    u, lam, p = u[idx], lam[idx], p[idx]
    cdf = p.copy()
    k = 0
    while idx.size and k < 1000:
        k += 1
        out[idx] = k
        p = p * lam / k
        cdf += p
        more = u > cdf
        idx, u, lam, p, cdf = idx[more], u[more], lam[more], p[more], cdf[more]
    return out


def dose_logit(
    base_logit: np.ndarray,
    support: np.ndarray,
    norm: np.ndarray,
    self_efficacy_gain: np.ndarray,
    knowledge_gain: np.ndarray,
    distress_change: np.ndarray,
    *,
    support_effect: float,
    self_efficacy_effect: float,
    knowledge_effect: float,
    distress_barrier: float,
) -> np.ndarray:
    """Logit of today's dose probability.

    logit = base + b_s * support + norm + b_se * self-efficacy gain (SD)
            + b_k * knowledge gain - b_d * distress change.
    ``base`` already holds the baseline propensity less regimen barriers; every other
    term is a change since baseline, so the baseline population is at steady state.

    References: Patil 2016; Qi 2015 (support); Christakis & Fowler 2007 (norms);
    Liang 2021 (self-efficacy).
    """
    out = base_logit + support_effect * support
    out += norm
    out += self_efficacy_effect * self_efficacy_gain
    out += knowledge_effect * knowledge_gain
    out -= distress_barrier * distress_change
    return out


def simple_norm(adherent_weight: np.ndarray, tie_weight: np.ndarray,
                baseline_share: np.ndarray | float, effect: float) -> np.ndarray:
    """Linear (simple) contagion: effect x change in the tie-weighted adherent share.

    References: Christakis & Fowler 2007 (x1.57 odds per adopting friend).
    """
    share = np.divide(adherent_weight, tie_weight, out=np.zeros_like(adherent_weight),
                      where=tie_weight > 0)
    return effect * (share - baseline_share)


def complex_norm(adherent_count: np.ndarray, baseline_reached: np.ndarray | float,
                 threshold: int,
                 effect: float) -> np.ndarray:
    """Threshold (complex) contagion: effect once ``threshold`` neighbours are adherent.

    A single adherent neighbour never suffices when threshold >= 2.

    References: Centola 2010; Centola & Macy 2007.
    """
    reached = adherent_count >= threshold - 1e-9
    return effect * (reached.astype(np.float64) - baseline_reached)


def effect_multiplier(hba1c0_pct: np.ndarray, floor_pct: float, reference_pct: float,
                      cap: float) -> np.ndarray:
    """How strongly behaviour moves HbA1c, by baseline HbA1c (1 at ``reference_pct``).

    Rises linearly from 0 at ``floor_pct`` and is capped at ``cap``: behaviour change
    moves HbA1c 2-3x more when it is high, and hardly when it is near target.

    References: Nichols 2015; Qi 2015.
    """
    return np.clip((hba1c0_pct - floor_pct) / (reference_pct - floor_pct), 0.0, cap)


def hba1c_target(hba1c0_pct: np.ndarray, adherence: np.ndarray, adherence0: np.ndarray,
                 practice: np.ndarray, multiplier: np.ndarray, *, adherence_slope_pct: float,
                 lifestyle_effect_pct: float, drift_pct: float) -> np.ndarray:
    """Steady-state HbA1c (%) that current behaviour leads to.

    target = h0 - m * (slope * (adherence - adherence0) + lifestyle * practice) - drift.

    References: Rozenfeld 2008 (-0.1 per +10 pp PDC); Nichols 2016; Norris 2002;
    Chrvala 2016 (control-arm drift).
    """
    change = adherence - adherence0
    change *= adherence_slope_pct
    change += lifestyle_effect_pct * practice
    change *= multiplier
    return hba1c0_pct - change - drift_pct


def knowledge_gain(knowledge0: np.ndarray, hours: np.ndarray, hours_scale: float) -> np.ndarray:
    """Knowledge gained (0-1 scale) from education hours, saturating.

    References: Norris 2002 (-1 HbA1c %-point per 23.6 h of contact).
    """
    return (1.0 - knowledge0) * -np.expm1(-hours / hours_scale)


def practice_target(knowledge_gained: np.ndarray, contact: np.ndarray, support: np.ndarray,
                    *, retention: float, support_effect: float) -> np.ndarray:
    """Self-care practice (0-1) sustained by knowledge, recent contact and support.

    Without contact only ``retention`` of the knowledge-driven practice remains (Norris
    2002: about 2/3 of the DSMES effect lost within 1-3 months).
    """
    out = knowledge_gained * (retention + (1.0 - retention) * contact)
    out += support_effect * support
    return np.clip(out, 0.0, 1.0, out=out)


def utility(utility0: np.ndarray, hba1c_change: np.ndarray, knowledge_gained: np.ndarray,
            support: np.ndarray, distress_change: np.ndarray, *, per_hba1c: float,
            per_knowledge: float, per_support: float, per_distress: float) -> np.ndarray:
    """EQ-5D utility today, capped at 1 (full health) and at the EQ-5D-3L floor -0.594.

    References: Redekop 2002 (-0.02 per HbA1c %-point); Cochran & Conn 2008 (education);
    Kong 2019 (peer support).
    """
    out = utility0 + per_hba1c * hba1c_change
    out += per_knowledge * knowledge_gained
    out += per_support * support
    out += per_distress * distress_change
    return np.clip(out, -0.594, 1.0, out=out)


def pair_gain(strength: np.ndarray, rows: np.ndarray, cols: np.ndarray, weight_row: np.ndarray,
              weight_col: np.ndarray, gain: float) -> None:
    """In place: each tie i-j gains ``gain * w_i * w_j`` of its gap to full strength 1.

    Used for rapport built by attending the same session (w = attended) and by reading
    each other's messages (w = reading, posts).
    """
    strength += gain * (1.0 - strength) * weight_row[rows] * weight_col[cols]
