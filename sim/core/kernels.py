"""Fused daily kernels: passes over the patients' posts, the groups' ties and the patients.

They take the declared state (``sim.core.state``) whole and only wire the science in
``sim.core.dynamics`` (compiled with numba), in the phases of ``Simulation.advance``.
Few passes over each array keep the bytes touched per agent-day near the minimum; the tie
pass touches only the ties something happened to (``tie_pass``).
"""

from __future__ import annotations

import math
import os
import threading
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils
from numba.core.types import void
from numba.extending import intrinsic

from sim.core import counter_rng as cr
from sim.core import dynamics as dyn
from sim.core import economics, phases, state, vmath
from sim.core.economics import DAYS_PER_YEAR, HBA1C_COST_THRESHOLD_PCT
from sim.core.numba_cache import drop_stale_cache, vectorize_wide_loops
from sim.core.phases import Costs, Schedule, Today, accounting, gatherings, observe
from sim.core.rng import Streams
from sim.core.state import PatientState, Ties
from sim.params.scenario import Scenario

drop_stale_cache(__file__, dyn.__file__, cr.__file__, vmath.__file__, phases.__file__,
                 economics.__file__, state.__file__)  # run_days compiles phases' code in,
#                                                     economics' constants; state: the fields
vectorize_wide_loops()  # before the kernels compile

PARALLEL_MIN_PATIENTS = 500
"""Below this size a day's work is shorter than waking worker threads: run serially.

Measured on 2 idle cores (benchmarks/results.md, 2026-12-03): a 365-day run of 250
patients is 1.1x faster on both cores, of 500 1.2x, of 2,000 1.7x; of 100, 0.9x. A worker
of a sweep or calibration runs the parallel kernels on its own share of the cores
(``sim.engine.executors.limit_threads``)."""


class DayParams(NamedTuple):
    """Scalar parameters of the daily kernels (rates precomputed from time constants)."""

    in_person_gain: float
    im_gain: float
    tie_keep: float
    strength_floor: float
    complex_contagion: bool  # complex or graded: count adopting neighbours
    complex_threshold: float
    graded_contagion: bool
    graded_first_signal: float
    graded_signal_growth: float
    signal_waning_rate: float  # per day; 0: no waning
    norm_effect: float
    moderator_strength: float
    self_efficacy_gain: float
    self_efficacy_keep: float
    engagement_boost: float
    engagement_rate: float
    engagement_reinforcement: float
    support_rate: float
    contact_keep: float
    retention: float
    support_practice: float
    practice_rate: float
    support_effect: float
    self_efficacy_effect: float
    knowledge_effect: float
    distress_barrier: float
    adherence_rate: float
    pdc_window: int
    adherence_slope: float
    lifestyle_effect: float
    drift: float  # the trial-participation term; 0 when run.trial_participation is off
    progression_per_day: float  # %-points of HbA1c per day without treatment change
    hba1c_rate: float
    clinical_course: bool  # the course is on (its SD > 0; its daily step may underflow to 0)
    course_keep: float  # AR(1) coefficient of the clinical course per day
    course_step: float  # SD of the course's daily innovation
    distress_rate: float  # 1: distress follows its target the same day
    distress_per_support: float
    distress_per_self_efficacy: float
    distress_per_knowledge: float
    distress_per_hba1c_rise: float
    distress_per_burden: float
    distress_per_overload: float
    overload_messages: float
    burden_keep: float
    per_hba1c: float
    per_knowledge: float
    per_support: float
    per_distress: float
    per_burden: float
    per_overload: float
    participation_utility: float  # u_P when run.trial_participation, else 0
    days_per_year: float
    hba1c_cost_threshold_pct: float
    max_posts_per_day: float  # inf: no cap
    max_posts_per_member: float  # inf: no limit
    read_limit: float  # messages per author per day a reader takes in; inf: all
    support_half_messages: float
    support_max: float
    session_support_rate: float  # share of the gap a session's peer support closes; 0: none
    session_support_half: float  # rapport-weighted co-attendees giving 63% of it
    call_self_efficacy_gain: float  # SD per one-to-one call
    call_support_rate: float  # support memory's rate on a call day: 1 - exp(-(1 + w_B) / tau_S)


def day_params(s: Scenario) -> DayParams:
    """Kernel parameters of a scenario."""
    b, c, net = s.behaviour, s.clinical, s.network
    return DayParams(
        in_person_gain=net.in_person_gain, im_gain=net.im_gain,
        tie_keep=1.0 - dyn.relax_rate(net.strength_decay_days),
        strength_floor=net.strength_floor,
        complex_contagion=b.contagion != "simple", complex_threshold=float(b.complex_threshold),
        graded_contagion=b.contagion == "graded", graded_first_signal=b.graded_first_signal,
        graded_signal_growth=b.graded_signal_growth,
        signal_waning_rate=0.0 if b.norm_signal_waning_days is None
        else 1.0 / b.norm_signal_waning_days,
        norm_effect=b.norm_effect_logit, moderator_strength=net.moderator_strength,
        self_efficacy_gain=b.self_efficacy_gain_per_session,
        self_efficacy_keep=1.0 - dyn.relax_rate(b.self_efficacy_decay_days),
        engagement_boost=b.in_person_engagement_boost,
        engagement_rate=dyn.relax_rate(b.engagement_decay_days),
        engagement_reinforcement=b.engagement_reinforcement,
        support_rate=dyn.relax_rate(b.support_time_constant_days),
        contact_keep=1.0 - dyn.relax_rate(c.contact_memory_days),
        retention=c.practice_retention, support_practice=c.support_practice_effect,
        practice_rate=dyn.relax_rate(c.practice_time_constant_days),
        support_effect=b.support_effect_logit, self_efficacy_effect=b.self_efficacy_effect_logit,
        knowledge_effect=b.knowledge_effect_logit, distress_barrier=b.distress_barrier_logit,
        adherence_rate=dyn.relax_rate(b.adherence_memory_days), pdc_window=b.pdc_window_days,
        adherence_slope=c.adherence_slope_pct, lifestyle_effect=c.lifestyle_effect_pct,
        drift=c.trial_drift_hba1c_pct if s.run.trial_participation else 0.0,
        progression_per_day=c.progression_pct_per_year / DAYS_PER_YEAR,
        hba1c_rate=dyn.relax_rate(c.hba1c_time_constant_days),
        clinical_course=c.course_sd_pct > 0.0,
        course_keep=1.0 - dyn.relax_rate(c.course_time_constant_days),
        course_step=c.course_sd_pct * math.sqrt(
            -math.expm1(-2.0 / c.course_time_constant_days)),
        distress_rate=(1.0 if c.distress_time_constant_days == 0
                       else dyn.relax_rate(c.distress_time_constant_days)),
        distress_per_support=c.distress_per_support,
        distress_per_self_efficacy=c.distress_per_self_efficacy,
        distress_per_knowledge=c.distress_per_knowledge,
        distress_per_hba1c_rise=c.distress_per_hba1c_rise,
        distress_per_burden=c.distress_per_burden, distress_per_overload=c.distress_per_overload,
        overload_messages=b.overload_messages_per_day, burden_keep=1.0 - dyn.relax_rate(7.0),
        per_hba1c=c.utility_per_hba1c_pct, per_knowledge=c.utility_per_knowledge,
        per_support=c.utility_per_support, per_distress=c.utility_per_distress,
        per_burden=c.utility_per_burden, per_overload=c.utility_per_overload,
        participation_utility=(c.trial_participation_utility if s.run.trial_participation
                               else 0.0),
        days_per_year=DAYS_PER_YEAR,
        hba1c_cost_threshold_pct=HBA1C_COST_THRESHOLD_PCT,
        max_posts_per_day=_or_inf(b.max_posts_per_day),
        max_posts_per_member=_or_inf(b.max_posts_per_member),
        read_limit=_or_inf(b.read_limit_per_author),
        support_half_messages=b.support_half_messages, support_max=b.support_max,
        session_support_rate=-math.expm1(-b.session_support_days
                                         / b.support_time_constant_days),
        session_support_half=b.session_support_half_attendees,
        call_self_efficacy_gain=b.self_efficacy_gain_per_call,
        call_support_rate=-math.expm1(-(1.0 + call_days(s)) / b.support_time_constant_days),
    )


def call_days(s: Scenario) -> float:
    """Days-equivalent of support a one-to-one call adds (w_B; twice as much in person [A])."""
    w = s.behaviour.call_support_days
    return 2.0 * w if s.program.one_to_one.medium == "in_person" else w


def _or_inf(limit: float | None) -> float:
    """An optional limit as a float: none = no limit (infinity)."""
    return math.inf if limit is None else float(limit)


class StreamKeys(NamedTuple):
    """The 64-bit keys of the run's daily streams (``Streams.key``; ``sim.core.counter_rng``)."""

    attendance: np.uint64
    messaging: np.uint64
    dosing: np.uint64
    warmup: np.uint64
    calls: np.uint64
    course: np.uint64
    measurement: np.uint64


def stream_keys(streams: Streams) -> StreamKeys:
    """The daily streams' keys of a run."""
    return StreamKeys(*(streams.key(name) for name in StreamKeys._fields))


# Each kernel first names the arrays it uses, one per line: numba's parallel loops drop
# writes to an array reached through a tuple inside the loop or by unpacking several at
# once (numba issues #5872, #7135, #10338). tests/test_core_kernels.py checks that the
# parallel kernels give the serial kernels' results bit for bit.


def gather_and_post(p: DayParams, t: Today, st: PatientState, keys: StreamKeys) -> int:
    """Step phase 3 per patient; returns the posts made.

    Self-efficacy gained at sessions decays; attending today raises it (saturating) and
    raises IM engagement; a one-to-one call raises self-efficacy too; then each member posts a
    Poisson count at rate x engagement (leaders at their full rate), at most
    ``max_posts_per_day`` a day and until ``max_posts_per_member`` in all (fewer or equal posts
    from the same uniform: CRN-safe): patient i inverts uniform i of the day's messaging stream.

    Two loops: the first, vectorised, does the sessions and calls (as selects) and gives the
    count 0 to every uniform below 1 - rate (``dynamics.poisson_inverse``'s first test: most
    patients on most days); the second inverts the others' uniforms. 5-6 ns a patient-day at
    100,000 instead of 9-10 (benchmarks/results.md, 2026-12-04 10:15-11:45).
    """
    attended = st.attended
    called = st.called
    engagement = st.engagement
    self_efficacy = st.self_efficacy_gain
    sessions = st.sessions_attended
    leader = st.leader
    rate = st.rate
    posts = st.posts
    posts_total = st.posts_total
    messaging = cr.day_key(keys.messaging, t.day)
    for i in prange(attended.shape[0]):
        s = self_efficacy[i] * p.self_efficacy_keep
        met = t.gathering & attended[i]
        if met:
            s += p.self_efficacy_gain * (1.0 - s / 2.0)
        e = dyn.toward_one(engagement[i], p.engagement_boost) if met else engagement[i]
        engagement[i] = e
        sessions[i] += met
        if t.calls & called[i]:
            s += p.call_self_efficacy_gain * (1.0 - s / 2.0)
        self_efficacy[i] = s
        lam = min(rate[i] * (1.0 if leader[i] else e), p.max_posts_per_day)
        none = dyn.no_poisson_count(cr.uniform(messaging, i), lam) or not t.im_active
        posts[i] = 0 if none else -1  # -1: to invert in the second loop
    made = 0
    if t.im_active:
        for i in prange(attended.shape[0]):
            if posts[i] < 0:
                lam = min(rate[i] * (1.0 if leader[i] else engagement[i]), p.max_posts_per_day)
                k = dyn.poisson_inverse(cr.uniform(messaging, i), lam)
                if k > p.max_posts_per_member - posts_total[i]:
                    k = max(int(p.max_posts_per_member - posts_total[i]), 0)
                posts[i] = k
                posts_total[i] += k
                made += k
    return made


@intrinsic
def _prefetch(typingctx: Any, array: Any, index: Any) -> Any:
    """Ask the CPU to fetch ``array[index]``'s cache line now (a hint: no effect on values)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])  # read, keep
        return context.get_dummy_value()
    return void(array, index), codegen


PREFETCH_GROUPS = 16
"""The tie pass asks for the rapport of the group this many ahead: its posters' readers', or
all of it on a gathering day (``_prefetch``)."""

RESCALE_BELOW = 2.0**-20
"""``Ties.scale`` below which the tie pass folds it into the excesses (``rescale_ties``)."""


@njit(cache=True, inline="always", error_model="numpy")
def _tie(block: int, lo: int, size: int, i: int, j: int) -> int:
    """Index in ``Ties.excess`` of group tie i-j (i reads j; i != j), by author then reader.

    A group's ties fill ``size x (size - 1)`` places from ``block``: author j's readers, in
    order, skipping j, so a post or a change in an author's adherence touches one run.
    """
    return block + (j - lo) * (size - 1) + (i - lo) - (1 if i > j else 0)


def tie_pass(p: DayParams, t: Today, ties: Ties, st: PatientState, moderator: np.ndarray,
             evolve: bool) -> None:
    """Step phase 4 per group: rapport from today's contacts, support received, peer norms.

    Group by group. Reader i of author j's messages (at most ``read_limit`` of them) receives
    them with weight = rapport (support received) and gains rapport from reading; members who
    both attend today's gathering meet (rapport-weighted co-attendees, rapport before today's
    meeting) and gain rapport, meeting before reading. Each patient's peer norm weighs its
    group and background ties' neighbours' adherent status (yesterday's); then all rapport
    decays toward the floor. With ``evolve`` False, only the norms (the baseline norm). On an IM
    day ``st.messages`` gets what i reads, peers' messages by rapport and the moderator's
    (``moderator``: each group's posts today) by its strength, for the patient pass to weigh
    by engagement, and ``ties.group_messages`` each group's messages (members' and the
    moderator's: the accounting's moderation time). Graded contagion notes the day the count
    of adopting neighbours last rose (or i was adherent): a non-adopter's pull wanes from then.

    A day costs what happened that day, not a pass over every tie. Rapport is kept as excess
    over the floor, to scale (``Ties``), so the decay toward the floor multiplies one number;
    each patient's sums of excess over its ties, and over its adherent mates' ties, and its
    counts of adherent mates and background neighbours change only where a tie changes (a
    message read, a meeting) or a neighbour's adherent status does. The sums differ from a
    day-by-day sum over the ties in the last bits only (tests/test_core_kernels.py holds it to
    that definition). A year of 100,000 patients: 17-19 ns per patient-day on one core instead
    of 38-43 (benchmarks/results.md, 2026-12-04 10:15-11:45).
    """
    indptr = ties.indptr
    bounds = ties.group_bounds
    excess = ties.excess
    excess_sum = ties.excess_sum
    adherent_excess = ties.adherent_excess
    adherent_mates = ties.adherent_mates
    adopting_ties = ties.adopting_ties
    seen = ties.seen
    bg_indptr = ties.bg_indptr
    bg_indices = ties.bg_indices
    bg_adopting = ties.bg_adopting
    bg_strength = ties.bg_strength
    group_messages = ties.group_messages
    bg_counts = 1.0 if bg_strength > 0.0 else 0.0  # a tie counts (complex, graded) if s > 0
    attended = st.attended
    engagement = st.engagement
    posts = st.posts
    adherent = st.adherent.view(np.uint8)
    received = st.received
    session_peers = st.session_peers
    messages = st.messages
    norm = st.norm
    responsive = st.responsive
    signal_count = st.signal_count
    signal_day = st.signal_day
    scale_now = ties.scale
    scale = scale_now[0]
    floor = p.strength_floor
    # background neighbours whose adherent status changed: one serial pass (their
    # neighbours are in other groups), a byte compare a patient and a few updates
    for j in range(seen.shape[0]):
        if adherent[j] != seen[j]:
            sign = 1 if adherent[j] else -1
            for k in range(bg_indptr[j], bg_indptr[j + 1]):  # symmetric: j's neighbours
                bg_adopting[bg_indices[k]] += sign
    groups = bounds.shape[0] - 1
    for g in prange(groups):
        lo, hi = bounds[g], bounds[g + 1]
        size = hi - lo
        block = indptr[lo]
        if evolve and g + PREFETCH_GROUPS < groups:
            # the rapport a later group's meeting or posters' readers will update: a cache
            # miss each otherwise, 6 of the pass's 24 ns a patient-day at 100,000 (results.md)
            ahead = g + PREFETCH_GROUPS
            lo2, hi2 = bounds[ahead], bounds[ahead + 1]
            if t.gathering:  # the whole group's
                for k in range(indptr[lo2], indptr[hi2], 8):
                    _prefetch(excess, k)
            elif t.im_active:
                for j in range(lo2, hi2):
                    if posts[j] > 0:
                        first = indptr[lo2] + (j - lo2) * (hi2 - lo2 - 1)
                        _prefetch(excess, first)
                        _prefetch(excess, first + hi2 - lo2 - 2)
        for j in range(lo, hi):  # group mates whose adherent status changed
            a = adherent[j]
            if a != seen[j]:
                sign = 1 if a else -1
                for i in range(lo, hi):
                    if i != j:
                        e = excess[_tie(block, lo, size, i, j)]
                        adherent_excess[i] += sign * e
                        adherent_mates[i] += sign
                        if floor > 0.0 or e > 0.0:
                            adopting_ties[i] += sign
                seen[j] = a
        for i in range(lo, hi):
            received[i] = 0.0
            session_peers[i] = 0.0
        if evolve and t.gathering:
            for i in range(lo, hi):
                if attended[i]:
                    met = 0.0
                    total = excess_sum[i]  # i's sums, in registers through its meetings
                    weight = adherent_excess[i]
                    adopting = adopting_ties[i]
                    for mate in range(size - 1):  # without a branch: a mate who stayed
                        j = lo + mate + (1 if mate >= i - lo else 0)  # away adds 0 to each
                        k = _tie(block, lo, size, i, j)
                        e = excess[k]
                        s = floor + scale * e
                        both = attended[j]
                        met += s if both else 0.0
                        e2 = (dyn.toward_one(s, p.in_person_gain) - floor) / scale
                        e2 = e2 if both else e
                        excess[k] = e2
                        total += e2 - e
                        weight += (e2 - e) * adherent[j]
                        adopting += adherent[j] * (floor <= 0.0 and e <= 0.0 < e2)
                    excess_sum[i] = total
                    adherent_excess[i] = weight
                    adopting_ties[i] = adopting
                    session_peers[i] = dyn.saturating(met, p.session_support_half, 1.0)
        if evolve and t.im_active:
            group_posts = 0
            for j in range(lo, hi):
                if posts[j] > 0:
                    group_posts += posts[j]
                    read = min(posts[j], p.read_limit)
                    for reader in range(size - 1):
                        i = lo + reader + (1 if reader >= j - lo else 0)
                        k = _tie(block, lo, size, i, j)
                        e = excess[k]
                        s = floor + scale * e
                        received[i] += s * read
                        e2 = (dyn.toward_one(s, p.im_gain * engagement[i] * read) - floor) / scale
                        excess[k] = e2
                        excess_sum[i] += e2 - e
                        if adherent[j]:
                            adherent_excess[i] += e2 - e
                            if floor <= 0.0 and e <= 0.0 < e2:
                                adopting_ties[i] += 1
            group_messages[g] = group_posts + moderator[g]
        for i in range(lo, hi):
            if t.im_active:
                messages[i] = received[i] + p.moderator_strength * min(moderator[g],
                                                                       p.read_limit)
            if p.complex_contagion:
                weight = adopting_ties[i] + bg_adopting[i] * bg_counts
            else:
                weight = (floor * adherent_mates[i] + scale * adherent_excess[i]
                          + bg_adopting[i] * bg_strength)
            if p.graded_contagion:
                if weight > signal_count[i] or adherent[i]:  # an adopter's pull does not wane
                    signal_day[i] = t.day
                signal_count[i] = weight
                waning = vmath.exp(-p.signal_waning_rate * (t.day - signal_day[i]))
                norm[i] = dyn.graded_norm(weight, p.graded_first_signal, p.graded_signal_growth,
                                          responsive[i], waning, p.norm_effect)
            elif p.complex_contagion:
                norm[i] = dyn.complex_norm(weight, p.complex_threshold, p.norm_effect)
            else:
                total = (floor * (size - 1) + scale * excess_sum[i]
                         + (bg_indptr[i + 1] - bg_indptr[i]) * bg_strength)
                norm[i] = dyn.simple_norm(weight, total, p.norm_effect)
    if evolve:  # the decay toward the floor, of every tie at once
        scale_now[0] = scale * p.tie_keep


def rescale_ties(p: DayParams, ties: Ties) -> None:
    """Fold ``Ties.scale`` into the excesses and recompute the group sums from them.

    Before the scale gets small enough for the excesses to lose range, and so that rounding
    in the running sums never accumulates for long: on the days the scale falls below
    ``RESCALE_BELOW`` (a few hundred days apart), whatever the calls the days are split into.
    """
    indptr = ties.indptr
    bounds = ties.group_bounds
    excess = ties.excess
    excess_sum = ties.excess_sum
    adherent_excess = ties.adherent_excess
    adherent_mates = ties.adherent_mates
    adopting_ties = ties.adopting_ties
    seen = ties.seen
    scale_now = ties.scale
    scale = scale_now[0]
    floor = p.strength_floor
    for g in prange(bounds.shape[0] - 1):
        lo, hi = bounds[g], bounds[g + 1]
        block = indptr[lo]
        for k in range(block, indptr[hi]):
            excess[k] *= scale
        for i in range(lo, hi):
            total = 0.0
            weight = 0.0
            mates = 0
            adopting = 0
            for j in range(lo, hi):
                if j != i:
                    e = excess[_tie(block, lo, hi - lo, i, j)]
                    a = seen[j]
                    total += e
                    weight += e * a
                    mates += a
                    adopting += a if floor > 0.0 or e > 0.0 else 0
            excess_sum[i] = total
            adherent_excess[i] = weight
            adherent_mates[i] = mates
            adopting_ties[i] = adopting
    scale_now[0] = 1.0


def set_rapport(p: DayParams, ties: Ties, strength: np.ndarray) -> None:
    """Every group tie's rapport from ``strength`` (CSR order); ``rescale_ties`` then sums it."""
    indptr = ties.indptr
    bounds = ties.group_bounds
    excess = ties.excess
    ties.scale[0] = 1.0
    for g in prange(bounds.shape[0] - 1):
        lo, hi = bounds[g], bounds[g + 1]
        for i in range(lo, hi):
            for j in range(lo, hi):
                if j != i:
                    excess[_tie(indptr[lo], lo, hi - lo, i, j)] = \
                        strength[indptr[i] + (j - lo) - (1 if j > i else 0)] - p.strength_floor


def rapport(p: DayParams, ties: Ties, out: np.ndarray) -> None:
    """Every group tie's rapport (0-1) into ``out``, in CSR order: floor + scale x excess."""
    indptr = ties.indptr
    bounds = ties.group_bounds
    excess = ties.excess
    scale = ties.scale[0]
    for g in prange(bounds.shape[0] - 1):
        lo, hi = bounds[g], bounds[g + 1]
        for i in range(lo, hi):
            for j in range(lo, hi):
                if j != i:
                    out[indptr[i] + (j - lo) - (1 if j > i else 0)] = \
                        p.strength_floor + scale * excess[_tie(indptr[lo], lo, hi - lo, i, j)]


def patient_pass(p: DayParams, t: Today, st: PatientState, keys: StreamKeys) -> int:
    """Step phase 5 per patient; returns the number of doses taken.

    In order: support received today (messages read and the moderator's, weighted by
    engagement, saturating: ``dynamics.saturating``) and engagement fading
    toward rest; support memory (a one-to-one call adds its input, ``dynamics.combine_support``,
    and weighs more), and for attendees of a group session or an in-person class the peer
    support it delivers (saturating in rapport-weighted co-attendees, worth
    ``session_support_days`` of contact);
    recent contact (a call is contact);
    self-care practice; today's dose against the peer norm and the other dose-logit terms;
    recent adherence (EWMA), PDC and adherent status; HbA1c: the behavioural state toward
    its target (with progression and the trial-participation term), plus the clinical
    course; attendance burden, IM overload and distress (PAID) toward its target; QoL (EQ-5D
    utility); QALYs and costs, discounted.

    Patient i's dose is taken when uniform i of the day's dosing stream is below
    sigmoid(dose logit). ``st.cost`` accrues each patient's medication and healthcare cost,
    already discounted (``t.dose_cost`` per dose, ``t.care_cost`` per day plus
    ``t.care_cost_per_pct`` per HbA1c %-point above ``HBA1C_COST_THRESHOLD_PCT``).
    The course's innovation is normal i of the day's course stream (not drawn when there is
    no course: ``p.clinical_course`` False, as at set-up, ``population._course0``).

    One loop over the patients, each patient's arithmetic in the order above, vectorised
    (``sim.core.vmath``): it reads the messages the tie pass summed, the moderator's included,
    and the session's peer support the tie pass computed for its attendees
    (``st.session_peers``), not its group's posts by index. A vector loop computes every
    branch for every patient, so what is costly and applies only on some days stays out of it:
    a call is a select, the session's ``expm1`` is the tie pass's (attendees only). The
    patient pass took 20-22 ns per patient-day at 100,000 instead of 38-41 (benchmarks/
    results.md, 2026-12-04 10:15-11:45).
    """
    leader = st.leader
    hba1c0 = st.hba1c0_pct
    setpoint = st.hba1c_setpoint
    utility0 = st.utility0
    distress0 = st.distress0
    literacy = st.digital_literacy
    base_logit = st.base_logit
    adherence0 = st.adherence0
    multiplier = st.multiplier
    resting = st.engagement_resting
    baseline_norm = st.baseline_norm
    attended = st.attended
    called = st.called
    call_support = st.call_support
    session_peers = st.session_peers
    norm = st.norm
    knowledge_gain = st.knowledge_gain
    self_efficacy = st.self_efficacy_gain
    engagement = st.engagement
    support = st.support
    contact = st.contact
    practice = st.practice
    adherence = st.adherence
    pdc_count = st.pdc_count
    adherent = st.adherent
    hba1c = st.hba1c
    behaviour_hba1c = st.hba1c_behaviour
    course = st.hba1c_course
    distress = st.distress
    burden = st.burden
    util = st.utility
    qalys = st.qalys
    cost = st.cost
    qalys_undiscounted = st.qalys_undiscounted
    messages = st.messages
    today = st.dose_window[t.day % p.pdc_window]  # today's row of the PDC window
    offset = p.drift - p.progression_per_day * t.day  # trial participation less progression
    dosing = cr.day_key(keys.dosing, t.day)
    clinical = cr.day_key(keys.course, t.day)
    session = t.gathering and p.session_support_rate > 0.0  # attendees get peer support
    taken = 0
    for i in prange(hba1c.shape[0]):
        support_today = 0.0
        read = 0.0
        if t.im_active:
            read = engagement[i] * messages[i]  # the tie pass's messages read
            support_today = dyn.saturating(read, p.support_half_messages, p.support_max)
            if leader[i]:
                engagement[i] = 1.0
            else:
                e = dyn.relax(engagement[i], resting[i], p.engagement_rate)
                engagement[i] = dyn.toward_one(
                    e, p.engagement_reinforcement * min(support_today, 1.0))
        messages[i] = read
        # a call weighs 1 + w_B days in support memory
        call = t.calls & called[i]
        with_call = dyn.combine_support(support_today, call_support[i], p.support_max)
        sup = dyn.relax(support[i], with_call if call else support_today,
                        p.call_support_rate if call else p.support_rate)
        at_session = dyn.relax(sup, dyn.combine_support(support_today, session_peers[i],
                                                        p.support_max), p.session_support_rate)
        sup = at_session if session & attended[i] else sup
        support[i] = sup
        c = max(contact[i] * p.contact_keep, 1.0 if attended[i] | call else 0.0)
        if t.im_active:
            c = max(c, min(support_today, 1.0))
        if t.digital_contact:
            c = max(c, literacy[i])
        contact[i] = c
        target = dyn.practice_target(knowledge_gain[i], c, sup, p.retention, p.support_practice)
        pr = dyn.relax(practice[i], target, p.practice_rate)
        practice[i] = pr
        logit = dyn.dose_logit(
            base_logit[i], sup, norm[i] - baseline_norm[i], self_efficacy[i], knowledge_gain[i],
            distress[i] - distress0[i], p.support_effect, p.self_efficacy_effect,
            p.knowledge_effect, p.distress_barrier)
        took = cr.uniform(dosing, i) < dyn.sigmoid(logit)  # today's dose, adherence and PDC
        taken += took
        adh = dyn.relax(adherence[i], 1.0 if took else 0.0, p.adherence_rate)
        adherence[i] = adh
        pdc_count[i] += took - today[i]
        today[i] = took
        adherent[i] = dyn.adherent(pdc_count[i], p.pdc_window)
        target = dyn.hba1c_target(setpoint[i], adh, adherence0[i], pr, multiplier[i],
                                  p.adherence_slope, p.lifestyle_effect, offset)
        h = dyn.relax(behaviour_hba1c[i], target, p.hba1c_rate)
        behaviour_hba1c[i] = h
        if p.clinical_course:
            course[i] = dyn.clinical_course(course[i], p.course_keep, p.course_step,
                                            cr.normal(clinical, i))
            h = dyn.true_hba1c(h, course[i])
        hba1c[i] = h
        b = dyn.burden_update(burden[i], t.gathering_hours if attended[i] else 0.0,
                              p.burden_keep)
        burden[i] = b
        o = dyn.overload(read, p.overload_messages)
        target = dyn.distress_target(
            distress0[i], sup, self_efficacy[i], knowledge_gain[i], h - hba1c0[i], b, o,
            p.distress_per_support, p.distress_per_self_efficacy, p.distress_per_knowledge,
            p.distress_per_hba1c_rise, p.distress_per_burden, p.distress_per_overload)
        d = dyn.follow(distress[i], target, p.distress_rate)
        distress[i] = d
        u = dyn.utility(utility0[i], h - hba1c0[i], knowledge_gain[i], sup, d - distress0[i], b,
                        o, p.per_hba1c, p.per_knowledge, p.per_support, p.per_distress,
                        p.per_burden, p.per_overload, p.participation_utility)
        util[i] = u
        qalys[i] += u * t.qaly_weight
        qalys_undiscounted[i] += u / p.days_per_year
        excess = max(h - p.hba1c_cost_threshold_pct, 0.0)
        cost[i] += took * t.dose_cost + t.care_cost + t.care_cost_per_pct * excess
    return taken


def moderator_posts(key: np.uint64, day: int, first: int, groups: int, lam: float
                    ) -> np.ndarray:
    """Each group's moderator posts today: Poisson at rate ``lam`` per group.

    Group g inverts uniform ``first + g`` of the day's messaging stream (after the patients'
    draws 0..first-1).
    """
    k = cr.day_key(key, day)
    out = np.empty(groups, dtype=np.int32)
    for g in prange(groups):
        out[g] = dyn.poisson_inverse(cr.uniform(k, first + g), lam)
    return out


@njit(cache=True, error_model="numpy")
def baseline_arrays(base_logit: np.ndarray, hba1c0: np.ndarray, floor: float, reference: float,
                    cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected baseline adherence and the HbA1c effect multiplier of every patient."""
    n = base_logit.shape[0]
    adherence0 = np.empty(n)
    multiplier = np.empty(n)
    for i in range(n):
        adherence0[i] = dyn.sigmoid(base_logit[i])
        multiplier[i] = dyn.effect_multiplier(hba1c0[i], floor, reference, cap)
    return adherence0, multiplier


def day_pass(p: DayParams, t: Today, ties: Ties, st: PatientState, keys: StreamKeys,
             moderator_rate: float, groups: int) -> tuple[int, int]:
    """Step phases 3-5 in one compiled call: posts, ties, patients.

    Returns the posts made, by patients and by the ``groups`` groups' moderators (Poisson at
    ``moderator_rate`` per day; none when the IM groups are closed), and the doses taken;
    each group's messages are in ``ties.group_messages``. Every draw comes from the
    counter-based daily streams.
    """
    made = gather_and_post(p, t, st, keys)
    if t.im_active:
        moderator = moderator_posts(keys.messaging, t.day, st.group_id.shape[0], groups,
                                    moderator_rate)
        made += moderator.sum()
    else:
        moderator = np.zeros(groups, dtype=np.int32)
    if ties.scale[0] < RESCALE_BELOW:
        rescale_ties(p, ties)
    tie_pass(p, t, ties, st, moderator, True)
    taken = patient_pass(p, t, st, keys)
    return made, taken


def run_days(p: DayParams, s: Schedule, c: Costs, ties: Ties, st: PatientState,
             keys: StreamKeys, moderator_rate: float, groups: int, ledger: np.ndarray,
             scratch: np.ndarray, start: int, stop: int) -> None:
    """Days ``start`` to ``stop - 1``: every phase of ``Simulation.advance`` but the recording.

    Gatherings and calls (``sim.core.phases``), today's scalars, the fused passes
    (``day_pass``), the accounting and the daily population means, in one compiled call, so
    a run of days costs no Python per day. Running totals go to ``ledger``
    (``phases.LEDGER_FIELDS``); ``scratch`` is the accounting's float per patient. Compiled
    with the serial passes only: numba's cache crashes a process that loads a cached loop like
    this one around the parallel (``prange``) passes when another process cached some of its
    callees (in a fresh clone's tests), so the parallel passes run a ``day_pass`` a day
    (``Simulation._run_days``).
    """
    for d in range(start, stop):
        gathering = gatherings(s, st, keys.attendance, d)
        held = 0
        if s.call_unit.shape[0] > 0:  # the design has a call day
            held = phases.calls(s, st, keys.calls, d, p.tie_keep, p.strength_floor)
        t = phases.today(s, c, d, gathering)
        posts, taken = day_pass(p, t, ties, st, keys, moderator_rate, groups)
        accounting(s, c, st, t, posts, taken, ties.group_messages, held, ledger, scratch)
        observe(s, st, ledger)


class DayKernels(NamedTuple):
    """The daily passes, compiled serially or for all cores (``prange``).

    ``day_pass`` calls the passes (a day's); ``run_days`` (serial kernels only, else None)
    calls ``day_pass`` for a run of days; ``tie_pass`` alone sets the baseline norm;
    ``set_rapport`` sets the group ties' rapport, ``rapport`` writes it out (``Simulation``
    after each run of days); ``population_sums`` sums what the time series records.
    """

    gather_and_post: object
    moderator_posts: object
    tie_pass: object
    rescale_ties: object
    set_rapport: object
    rapport: object
    patient_pass: object
    gatherings: object
    accounting: object
    observe: object
    population_sums: object
    day_pass: object
    run_days: object


def _variant(fn: Callable[..., Any], suffix: str,
             callees: dict[str, Any] | None = None) -> Callable[..., Any]:
    """A copy of ``fn`` under another name.

    Numba names its cache files after the function only, so the serial and parallel compilations
    need distinct names not to overwrite (and load) each other. ``callees`` rebinds global names
    ``fn`` calls (to the variant's compiled kernels); globals are not part of numba's cache key, so
    the cache still hits.
    """
    namespace = fn.__globals__ if callees is None else {**fn.__globals__, **callees}
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    return copy


def _compiled(parallel: bool) -> DayKernels:
    # No fastmath: every sum runs in source order, so results do not depend on the CPU's
    # vector width or on the number of threads. numpy's error model: a division by zero gives
    # inf or NaN instead of a branch that raises, which would stop the loops vectorising.
    suffix = "_parallel" if parallel else ""
    jit = njit(cache=True, parallel=parallel, error_model="numpy")
    passes = {name: jit(_variant(fn, suffix)) for name, fn in
              (("gather_and_post", gather_and_post), ("moderator_posts", moderator_posts),
               ("tie_pass", tie_pass), ("rescale_ties", rescale_ties),
               ("set_rapport", set_rapport), ("rapport", rapport),
               ("patient_pass", patient_pass))}
    sums = {"block_sums": jit(_variant(phases.block_sums, suffix))}
    around = {name: jit(_variant(fn, suffix, sums)) for name, fn in  # the phases around them
              (("gatherings", gatherings), ("accounting", accounting), ("observe", observe),
               ("population_sums", phases.population_sums))}
    serial = njit(cache=True, error_model="numpy")
    day = serial(_variant(day_pass, suffix, passes))
    days = None if parallel else serial(_variant(run_days, suffix, {"day_pass": day, **around}))
    return DayKernels(**passes, **around, day_pass=day, run_days=days)


SERIAL, PARALLEL = _compiled(False), _compiled(True)


def day_kernels(n: int) -> DayKernels:
    """The kernels for a population of ``n``: parallel only where it pays and is safe.

    Serial with one compute thread (a sweep's worker); in a process forked from one that
    already ran them on OpenMP (GNU OpenMP aborts such a child: ``multiprocessing``'s
    default start method on Linux); and off the main thread unless numba's threading layer
    is thread-safe: its fallback layer, workqueue (macOS without OpenMP, for one), aborts
    the process when two threads launch parallel kernels at once (Dask worker threads,
    concurrent dashboard sessions). Serial and parallel kernels give identical results
    (tests/test_core_kernels.py). ``Simulation`` chooses again when stepped in another
    thread or process than the one that chose.
    """
    if n < PARALLEL_MIN_PATIENTS or _forked_from_openmp or numba.get_num_threads() == 1:
        return SERIAL
    # get_num_threads has started numba's threads: the layer is known
    if threading.current_thread() is threading.main_thread() or \
            numba.threading_layer() != "workqueue":
        return PARALLEL
    return SERIAL


_forked_from_openmp = False


def _after_fork_in_child() -> None:
    global _forked_from_openmp
    try:
        _forked_from_openmp = numba.threading_layer() == "omp"
    except ValueError:  # the parent never started numba's threads
        pass


os.register_at_fork(after_in_child=_after_fork_in_child)


