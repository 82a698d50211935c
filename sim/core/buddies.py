"""One-to-one peer contact: who talks to whom (buddy pairs or a peer mentor), drawn once.

Reciprocal mode pairs the members of each program group at random; an odd-sized group gets one
trio. Mentor mode gives every participant an external peer mentor (not a patient), one per
``mentees_per_mentor`` participants. The draws come from the program stream after all its other
draws, and only for a design with a call day, so any other design keeps every draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.counter_rng import uniforms_at
from sim.params.scenario import OneToOne


@dataclass(frozen=True)
class Buddies:
    """Who can be called, fixed for the run.

    Attributes:
        unit: per patient, the call unit it belongs to: its pair or trio (reciprocal), or itself
            (mentor). One uniform per unit and day decides whether the unit's call takes place,
            so both partners of a pair have the same calls.
        reachable: per patient, whether it takes part and has someone to talk to: a partner in its
            unit who takes part too (reciprocal), or a mentor (mentor).
        mentors: number of peer mentors (0 in reciprocal mode).
    """

    unit: np.ndarray
    reachable: np.ndarray
    mentors: int

    def called(self, key: np.uint64, day: int, completion: float) -> np.ndarray:
        """Who has a call on ``day``.

        Unit u's call takes place when uniform u of the day's calls stream (key ``key``,
        ``sim.core.counter_rng``) is below ``completion``.
        """
        return self.reachable & (uniforms_at(key, day, self.unit) < completion)


def pair_units(group_id: np.ndarray, group_start: np.ndarray, order_u: np.ndarray
               ) -> np.ndarray:
    """The pair (or trio) of every patient: each group's members paired in a random order.

    Members of group g are sorted by ``order_u`` and paired two by two; in a group of odd size
    (>= 3) the last one joins the pair before it. Unit ids are unique across groups
    (``group_start[g]`` + the pair's index within the group), all below the number of patients.
    """
    n = group_id.shape[0]
    order = np.lexsort((order_u, group_id))  # by group (contiguous blocks), random within
    g = group_id[order]
    size = np.diff(np.append(group_start, n))[g]
    pos = np.arange(n) - group_start[g]
    pair = pos // 2
    pair[(size % 2 == 1) & (size >= 3) & (pos == size - 1)] -= 1
    unit = np.empty(n, dtype=np.int64)
    unit[order] = group_start[g] + pair
    return unit


def build_buddies(spec: OneToOne, group_id: np.ndarray, group_start: np.ndarray,
                  rng: np.random.Generator) -> Buddies:
    """Who takes part (``uptake_share``), then the pairs, from the program stream.

    Participation comes first, one uniform per patient, so a higher uptake keeps every participant
    of a lower one and both modes share their participants (common random numbers).
    """
    n = group_id.shape[0]
    takes_part = rng.random(n) < spec.uptake_share
    if spec.mode == "mentor":
        participants = int(takes_part.sum())
        return Buddies(unit=np.arange(n), reachable=takes_part,
                       mentors=-(-participants // spec.mentees_per_mentor))
    unit = pair_units(group_id, group_start, rng.random(n))
    partners = np.bincount(unit, weights=takes_part, minlength=n)[unit] - takes_part
    return Buddies(unit=unit, reachable=takes_part & (partners > 0), mentors=0)
