"""Phases 1, 2 and 6 of the day, compiled: gatherings and calls, today's scalars, the accounting.

They run around the fused passes of ``sim.core.kernels`` inside one compiled loop over days
(``kernels.run_days``), so a run of days crosses the Python-numba boundary once, not once a
day. Every number is computed in the order the numpy code before them used, so the results
are the same bit for bit: elementwise in the same operations, and every total with numpy's
own summation (``pairwise_sum``, ``SumPlan``). The run's fixed inputs come in three
named tuples: ``Schedule`` (the contact plan and who can be reached), ``Costs`` (unit costs,
the day's constant costs and the discount rates) and the kernels' ``DayParams``; running
totals go to one float array, indexed by ``LEDGER_FIELDS``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from sim.core import counter_rng as cr
from sim.core import dynamics as dyn
from sim.core import economics, state, vmath
from sim.core.buddies import Buddies
from sim.core.economics import DAYS_PER_YEAR, HBA1C_COST_THRESHOLD_PCT
from sim.core.numba_cache import drop_stale_cache
from sim.core.population import Patients
from sim.core.program import ContactPlan
from sim.core.state import PatientState
from sim.params.scenario import Scenario

drop_stale_cache(__file__, cr.__file__, dyn.__file__, vmath.__file__, economics.__file__,
                 state.__file__)  # economics: its constants; state: the tuples' fields

LEDGER_FIELDS = ("program", "medication", "healthcare", "shared_discounted", "posts", "calls",
                 "engagement_open_sum", "engagement_last_open", "adherent_share_sum",
                 "hba1c_sum", "utility_sum")
"""Running totals of a run, in ``Simulation.ledger`` (see ``sim.core.simulation.Ledger``)."""
(PROGRAM, MEDICATION, HEALTHCARE, SHARED_DISCOUNTED, POSTS, CALLS, ENGAGEMENT_OPEN_SUM,
 ENGAGEMENT_LAST_OPEN, ADHERENT_SHARE_SUM, HBA1C_SUM, UTILITY_SUM) = range(len(LEDGER_FIELDS))


class Today(NamedTuple):
    """Today's scalars: which channels act, and the day's discounted unit values."""

    day: int  # model day (0 = the first simulated day)
    gathering: bool  # someone attends a session or in-person education today
    session: bool  # an in-person group session is held today
    gathering_hours: float  # hours of today's session and in-person education (attendees)
    im_active: bool  # the IM groups are open
    digital_contact: bool  # digital curriculum delivered today
    calls: bool  # one-to-one calls are scheduled today (who had one: PatientState.called)
    cost_discount: float  # discount factor of costs incurred today
    qaly_weight: float  # QALY per unit of utility today, discounted (factor / DAYS_PER_YEAR)
    dose_cost: float  # currency per dose taken, discounted
    care_cost: float  # currency per patient-day of healthcare, discounted
    care_cost_per_pct: float  # currency per patient-day per HbA1c %-point above the
    #                           cost threshold (HBA1C_COST_THRESHOLD_PCT), discounted


class SumPlan(NamedTuple):
    """numpy's summation of some runs of an array, cut into its blocks (``sum_plan``).

    ``a.sum(where=mask)`` for a fixed mask (the runs its True values form; one run for a
    whole array) is the sum, run by run in order, of each run's pairwise sum, whose tree has
    blocks of at most ``PAIRWISE_BLOCK`` values as leaves. The blocks can be summed in any
    order and on any thread (``planned_sum``): the result is numpy's, bit for bit.
    """

    block_start: np.ndarray  # int64, first index of each block, in numpy's order
    block_length: np.ndarray  # int64
    steps: np.ndarray  # int8, the trees' replay: TAKE_BLOCK, ADD_TOP_TWO or END_RUN


TAKE_BLOCK, ADD_TOP_TWO, END_RUN = 0, 1, 2
"""``SumPlan.steps``: push the next block's sum; add the top two partial sums; add the run's
sum (the only partial sum left) to the total."""


class Schedule(NamedTuple):
    """The contact plan by day (``sim.core.program.ContactPlan``) and who each channel reaches."""

    im_active: np.ndarray  # bool per day
    session_hours: np.ndarray  # hours per day (0: no session)
    session_attendance: np.ndarray  # factor on the attendance probability, per day
    education_hours: np.ndarray  # curriculum hours per day
    education_attendance: np.ndarray  # factor on attendance (or reach), per day
    call: np.ndarray  # bool per day: one-to-one calls are scheduled
    in_person_education: bool  # the curriculum is taught in person (else digital)
    groups_offered: float  # groups offered in-person sessions
    attendance_prob: np.ndarray  # per patient (Patients.attendance_prob)
    knowledge0: np.ndarray  # per patient (Patients.knowledge0)
    knowledge_hours_scale: float  # hours (behaviour.knowledge_hours_scale)
    members: np.ndarray  # bool per patient: not a peer leader
    n_members: int  # members, at least 1
    everyone: SumPlan  # numpy's sum over every patient, in blocks
    member_runs: SumPlan  # numpy's sum over the members (``members``), in blocks
    call_unit: np.ndarray  # per patient, its call unit (Buddies.unit; empty: no calls)
    reachable: np.ndarray  # bool per patient (Buddies.reachable; empty: no calls)
    call_completion: float  # share of scheduled calls that take place
    call_gain: float  # rapport a call builds (network.call_gain, in person in_person_gain)
    mentors: int  # peer mentors (mentor mode), else 0
    mentor_mode: bool


class Costs(NamedTuple):
    """Unit costs, the run's constant daily costs and the discount rates (``economics``)."""

    rate_effects: float  # per year
    rate_costs: float  # per year
    dose: float  # medication_cost_per_dose
    healthcare_per_year: float
    healthcare_per_pct_year: float  # per HbA1c %-point above HBA1C_COST_THRESHOLD_PCT
    platform_day: float  # the whole population's platform cost a day the groups are open
    peer_leaders_day: float  # peer leaders' cost a day the groups are open (0: no leaders)
    healthcare_day: float  # the whole population's healthcare cost a day, before HbA1c
    moderation_minutes_per_group_week: float
    moderation_minutes_per_message: float
    moderation_max_messages: float  # a group's messages a moderator reads a day (inf: all)
    staff_cost_per_hour: float
    session_cost_per_group_hour: float
    session_cost_per_attendee: float
    education_cost_per_patient_hour: float  # in person
    digital_education_cost_per_patient_hour: float
    mentor_training: float  # per mentor, on day 0
    mentor_minutes_per_call: float
    mentor_admin_minutes_per_call: float
    mentor_cost_per_hour: float


def schedule(spec: Scenario, plan: ContactPlan, patients: Patients, leader: np.ndarray,
             buddies: Buddies | None) -> Schedule:
    """The compiled days' view of a run's plan, patients, peer leaders and call units."""
    no_calls = buddies is None
    members = ~leader
    one_to_one, net = spec.program.one_to_one, spec.network
    return Schedule(
        im_active=plan.im_active, session_hours=plan.session_hours,
        session_attendance=plan.session_attendance, education_hours=plan.education_hours,
        education_attendance=plan.education_attendance, call=plan.call,
        in_person_education=spec.program.education.mode == "in_person",
        groups_offered=float(plan.offered.sum()), attendance_prob=patients.attendance_prob,
        knowledge0=patients.knowledge0,
        knowledge_hours_scale=spec.behaviour.knowledge_hours_scale,
        members=members, n_members=max(int(members.sum()), 1),
        everyone=sum_plan(np.ones_like(members)), member_runs=sum_plan(members),
        call_unit=np.empty(0, dtype=np.int64) if no_calls else buddies.unit,
        reachable=np.empty(0, dtype=bool) if no_calls else buddies.reachable,
        call_completion=one_to_one.call_completion,
        call_gain=net.in_person_gain if one_to_one.medium == "in_person" else net.call_gain,
        mentors=0 if no_calls else buddies.mentors,
        mentor_mode=not no_calls and one_to_one.mode == "mentor")


def costs(spec: Scenario, n: int) -> Costs:
    """Unit costs, constant daily costs and discount rates of a run of ``n`` patients.

    The daily constants are computed as the per-day code computed them (same operations in the
    same order), so the totals are the same to the last bit. Raises ``ScenarioError`` for a
    discount rate out of range (``economics.discount_factor``).
    """
    e = spec.economics
    for rate in (e.discount_rate_effects, e.discount_rate_costs):
        economics.discount_factor(0, rate)
    cap = e.moderation_max_messages_per_group_day
    return Costs(
        rate_effects=e.discount_rate_effects, rate_costs=e.discount_rate_costs,
        dose=e.medication_cost_per_dose, healthcare_per_year=e.healthcare_cost_per_year,
        healthcare_per_pct_year=e.healthcare_cost_per_hba1c_pct_year,
        platform_day=e.platform_cost_per_patient_month * 12.0 * n / DAYS_PER_YEAR,
        peer_leaders_day=(e.peer_leader_cost_per_patient_year * n / DAYS_PER_YEAR
                          if spec.network.peer_leaders else 0.0),
        healthcare_day=n * e.healthcare_cost_per_year / DAYS_PER_YEAR,
        moderation_minutes_per_group_week=e.moderation_minutes_per_group_week,
        moderation_minutes_per_message=e.moderation_minutes_per_message,
        moderation_max_messages=np.inf if cap is None else float(cap),
        staff_cost_per_hour=e.staff_cost_per_hour,
        session_cost_per_group_hour=e.session_cost_per_group_hour,
        session_cost_per_attendee=e.session_cost_per_attendee,
        education_cost_per_patient_hour=e.education_cost_per_patient_hour,
        digital_education_cost_per_patient_hour=e.digital_education_cost_per_patient_hour,
        mentor_training=e.mentor_training_cost,
        mentor_minutes_per_call=spec.program.one_to_one.minutes_per_call,
        mentor_admin_minutes_per_call=e.mentor_admin_minutes_per_call,
        mentor_cost_per_hour=e.mentor_cost_per_hour)


PAIRWISE_BLOCK = 128
"""numpy's ``PW_BLOCKSIZE``: the longest run ``pairwise_sum`` adds without halving it."""


@njit(cache=True, inline="always", error_model="numpy")
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """The sum of at most ``PAIRWISE_BLOCK`` values, as numpy adds them.

    Below 8 values in order, else in eight interleaved partial sums, added in pairs, then the
    rest in order.
    """
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, error_model="numpy")
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Sum of ``a[lo:lo + n]`` as numpy's ``add.reduce`` of a contiguous float64 array.

    numpy's pairwise summation (``pairwise_sum_DOUBLE``): a run longer than
    ``PAIRWISE_BLOCK`` is the sum of its two halves, cut at a multiple of 8; shorter runs are
    summed by ``_block_sum``. The halving runs on an explicit stack: numba's cache cannot
    load a recursive function (it crashes the process).
    """
    if n <= PAIRWISE_BLOCK:  # numpy adds the sum to its start, 0.0: -0.0 + 0.0 is 0.0
        return 0.0 + _block_sum(a, lo, n)
    starts = np.empty(192, dtype=np.int64)  # 3 entries per halving, at most 63 halvings
    lengths = np.empty(192, dtype=np.int64)  # -1: add the top two partial sums
    partial = np.empty(64)
    top = 0
    sums = 0
    starts[0], lengths[0] = lo, n
    while top >= 0:
        start, length = starts[top], lengths[top]
        top -= 1
        if length < 0:
            sums -= 1
            partial[sums - 1] += partial[sums]
        elif length <= PAIRWISE_BLOCK:
            partial[sums] = _block_sum(a, start, length)
            sums += 1
        else:
            half = length // 2
            half -= half % 8
            starts[top + 1], lengths[top + 1] = 0, -1
            starts[top + 2], lengths[top + 2] = start + half, length - half
            starts[top + 3], lengths[top + 3] = start, half
            top += 3
    return 0.0 + partial[0]


@njit(cache=True, error_model="numpy")
def sum_plan(mask: np.ndarray) -> SumPlan:
    """The blocks of ``a.sum(where=mask)`` for any ``a`` as long as ``mask``; their replay.

    The steps replay each run's pairwise tree over the blocks' sums (``planned_sum``).
    """
    n = mask.shape[0]
    starts, lengths, steps = [], [], []
    todo = np.empty((192, 2), dtype=np.int64)  # 3 entries per halving, at most 63 halvings
    i = 0
    while i < n:
        while i < n and not mask[i]:
            i += 1
        j = i
        while j < n and mask[j]:
            j += 1
        if j > i:  # a run: pairwise_sum's halving, left half, right half, then their sum
            top = 0
            todo[0, 0], todo[0, 1] = i, j - i
            while top >= 0:
                lo, m = todo[top, 0], todo[top, 1]
                top -= 1
                if m < 0:
                    steps.append(ADD_TOP_TWO)
                elif m <= PAIRWISE_BLOCK:
                    starts.append(lo)
                    lengths.append(m)
                    steps.append(TAKE_BLOCK)
                else:
                    half = m // 2
                    half -= half % 8
                    todo[top + 1, 0], todo[top + 1, 1] = 0, -1
                    todo[top + 2, 0], todo[top + 2, 1] = lo + half, m - half
                    todo[top + 3, 0], todo[top + 3, 1] = lo, half
                    top += 3
            steps.append(END_RUN)
        i = j
    return SumPlan(np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64),
                   np.array(steps, dtype=np.int8))


@njit(cache=True, error_model="numpy")
def planned_sum(plan: SumPlan, block_sums: np.ndarray) -> float:
    """``a.sum(where=mask)`` from ``block_sums[b]`` = ``_block_sum`` of ``plan``'s block b of a.

    Replays each run's pairwise tree over its blocks' sums (``pairwise_sum``, as the plan's
    steps say) and adds the runs in order, as numpy's masked sum does.
    """
    partial = np.empty(64)  # at most 63 halvings deep
    top = 0
    b = 0
    total = 0.0
    for step in plan.steps:
        if step == TAKE_BLOCK:
            partial[top] = block_sums[b]
            b += 1
            top += 1
        elif step == ADD_TOP_TWO:
            top -= 1
            partial[top - 1] += partial[top]
        else:
            top -= 1
            total += 0.0 + partial[top]
    return total


@njit(cache=True, error_model="numpy")
def day_discount(day: int, rate_per_year: float) -> float:
    """``economics.discount_factor`` of a day (rates checked when the ``Costs`` were built)."""
    return (1.0 + rate_per_year) ** (-float(day) / DAYS_PER_YEAR)


@njit(cache=True, error_model="numpy")
def today(s: Schedule, c: Costs, d: int, gathering: bool) -> Today:
    """Phase 2: which channels act on day ``d``, and its discounted unit values."""
    df_qaly = day_discount(d, c.rate_effects)
    df_cost = day_discount(d, c.rate_costs)
    in_person = 1.0 if s.in_person_education else 0.0
    return Today(
        d, gathering, s.session_hours[d] > 0, s.session_hours[d] + s.education_hours[d] * in_person,
        s.im_active[d], s.education_hours[d] > 0 and not s.in_person_education, s.call[d],
        df_cost, df_qaly / DAYS_PER_YEAR, c.dose * df_cost,
        c.healthcare_per_year * df_cost / DAYS_PER_YEAR,
        c.healthcare_per_pct_year * df_cost / DAYS_PER_YEAR)


def gatherings(s: Schedule, st: PatientState, attendance_key: np.uint64, d: int) -> bool:
    """Phase 1 (draws: attendance): who attends a session or education on day ``d``.

    Patient i attends when invited and uniform i of the day's attendance stream is below its
    attendance probability times the day's attendance factor; digital education reaches it
    when the same uniform is below its digital literacy times the factor. Education hours
    received raise knowledge (``dynamics.knowledge_gain``). Returns whether anyone attended.
    Compiled like ``accounting``.
    """
    attended = st.attended
    hours = s.education_hours[d]
    session = s.session_hours[d] > 0
    in_person_ed = s.in_person_education and hours > 0
    if not (session or hours > 0):
        attended[:] = False
        return False
    key = cr.day_key(attendance_key, d)
    factor = s.education_attendance[d] if in_person_ed else s.session_attendance[d]
    group_invite = session and not in_person_ed
    offered = st.group_offered
    literacy = st.digital_literacy
    received = st.education_hours
    probability = s.attendance_prob
    reach = s.education_attendance[d]  # digital education's factor
    knowledge0 = s.knowledge0
    scale = s.knowledge_hours_scale
    gain = st.knowledge_gain
    attendees = 0
    for i in prange(attended.shape[0]):
        u = cr.uniform(key, i)
        invited = offered[i] if group_invite else in_person_ed
        went = invited and u < probability[i] * factor
        attended[i] = went
        attendees += went
        if hours > 0:
            reached = went if in_person_ed else u < literacy[i] * reach
            received[i] += hours * (1.0 if reached else 0.0)
            gain[i] = dyn.knowledge_gain(knowledge0[i], received[i], scale)
    return attendees > 0


@njit(cache=True, error_model="numpy")
def calls(s: Schedule, st: PatientState, calls_key: np.uint64, d: int, tie_keep: float,
          strength_floor: float) -> int:
    """Phase 1, one-to-one (draws: calls): who has a call on day ``d``; rapport with the partner.

    Unit u's call takes place when uniform u of the day's calls stream is below the completion
    share (both partners of a pair have the same calls). A call's support input is the rapport
    before it; the call then builds rapport, and every one-to-one tie decays toward the floor
    like the group ties. Returns the calls held (one per patient called).
    """
    called = st.called
    support = st.call_support
    strength = st.buddy_strength
    held = 0
    if s.call[d]:
        key = cr.day_key(calls_key, d)
        for i in range(called.shape[0]):
            c = s.reachable[i] and cr.uniform(key, s.call_unit[i]) < s.call_completion
            called[i] = c
            one = 1.0 if c else 0.0
            support[i] = strength[i] * one
            strength[i] += one * (s.call_gain * (1.0 - strength[i]))  # toward_one
            held += c
    else:
        called[:] = False
        support[:] = 0.0
    for i in range(strength.shape[0]):
        strength[i] *= tie_keep
        strength[i] += (1.0 - tie_keep) * strength_floor
    return held


@njit(cache=True, error_model="numpy")
def moderation_minutes(messages: np.ndarray, minutes_per_group_week: float,
                       minutes_per_message: float, max_messages: float) -> float:
    """Moderator minutes on one day the IM groups are open: the workload, not the message count.

    ``minutes = sum over groups g of (base / 7 + per_message * min(messages_g, cap))``: a fixed
    time per open group plus time per message read, up to the messages a moderator reads in a
    group a day (beyond that they skim), so a few prolific posters cannot drive the cost.

    Args:
        messages: today's messages per open group (members', leaders' and the moderator's).
        minutes_per_group_week: base moderator time per open group (minutes per week).
        minutes_per_message: moderator time per message read (minutes).
        max_messages: messages read per group and day; inf: every message.

    Returns:
        Moderator minutes today, summed over the groups.

    References:
        docs/science_v2_design.md §2.5 (assumptions; no source gives facilitator minutes).
    """
    groups = messages.shape[0]
    read = np.empty(groups)
    for g in range(groups):
        read[g] = min(messages[g], max_messages)
    return (groups * minutes_per_group_week / 7.0
            + minutes_per_message * pairwise_sum(read, 0, groups))


@njit(cache=True, error_model="numpy")
def mentor_time_cost(calls: float, minutes_per_call: float, admin_minutes_per_call: float,
                     cost_per_hour: float) -> float:
    """Peer mentors' time: calls x (call + admin minutes) / 60 x hourly rate (currency).

    Design doc §3.2: a mentor's call takes its length plus notes and scheduling.
    """
    return calls * (minutes_per_call + admin_minutes_per_call) / 60.0 * cost_per_hour


def accounting(s: Schedule, c: Costs, st: PatientState, t: Today, posts: int, taken: int,
               messages: np.ndarray, held: int, ledger: np.ndarray, scratch: np.ndarray
               ) -> None:
    """Phase 6: programme costs and the day's totals, added to ``ledger``.

    Shared costs (no single patient causes them): platform, peer leaders and moderation on
    open IM days (``moderation_minutes`` of ``messages``, each group's today: members',
    leaders' and the moderator's, ``Ties.group_messages``), rooms and facilitators per
    session held, digital curriculum, mentors' time for the ``held`` calls and their training
    on day 0. Attendance costs each attendee causes accrue, discounted, in ``st.cost`` too.
    Then the day's medication and healthcare, posts, and members' mean engagement on open IM days.
    ``scratch`` is a work array of one float per patient. Compiled serially and for all
    cores (``kernels.DayKernels``): the per-patient loops and the blocks of every sum
    (``SumPlan``) run in parallel, and the sums come out as numpy's, bit for bit.
    """
    d, n = t.day, st.hba1c.shape[0]
    hba1c = st.hba1c
    cost = st.cost
    attended = st.attended
    offered = st.group_offered
    engagement = st.engagement
    everyone = s.everyone
    members = s.member_runs
    shared = 0.0
    if t.im_active:
        shared += c.platform_day
        shared += c.peer_leaders_day
        shared += moderation_minutes(
            messages, c.moderation_minutes_per_group_week, c.moderation_minutes_per_message,
            c.moderation_max_messages) / 60.0 * c.staff_cost_per_hour
    session_hours = s.session_hours[d]
    if session_hours > 0:
        shared += s.groups_offered * session_hours * c.session_cost_per_group_hour
    if s.mentor_mode:
        training = s.mentors * c.mentor_training if d == 0 else 0.0
        shared += training + mentor_time_cost(held, c.mentor_minutes_per_call,
                                              c.mentor_admin_minutes_per_call,
                                              c.mentor_cost_per_hour)
    hours_ed = s.education_hours[d]
    caused = 0.0
    if t.gathering or hours_ed > 0:
        in_person_ed = hours_ed > 0 and s.in_person_education
        for i in prange(n):
            x = 0.0
            if session_hours > 0:
                x += (1.0 if attended[i] and offered[i] else 0.0) * c.session_cost_per_attendee
            if in_person_ed:
                x += (1.0 if attended[i] else 0.0) * (hours_ed * c.education_cost_per_patient_hour)
            scratch[i] = x
            cost[i] += x * t.cost_discount
        if hours_ed > 0 and not s.in_person_education:
            shared += n * hours_ed * c.digital_education_cost_per_patient_hour
        caused = planned_sum(everyone, block_sums(scratch, everyone))
    ledger[PROGRAM] += shared + caused
    ledger[SHARED_DISCOUNTED] += shared * t.cost_discount
    ledger[MEDICATION] += taken * c.dose
    healthcare = c.healthcare_day
    if c.healthcare_per_pct_year != 0.0:
        for i in prange(n):
            scratch[i] = max(hba1c[i] - HBA1C_COST_THRESHOLD_PCT, 0.0)
        healthcare += c.healthcare_per_pct_year * planned_sum(
            everyone, block_sums(scratch, everyone)) / DAYS_PER_YEAR
    ledger[HEALTHCARE] += healthcare
    ledger[POSTS] += posts
    ledger[CALLS] += held
    if t.im_active:  # engagement is defined for members of open IM groups only
        # sum, then divide: a mean of values in [0, 1] stays in [0, 1] (1/n weights can
        # round a weighted sum above 1)
        mean = planned_sum(members, block_sums(engagement, members)) / s.n_members
        ledger[ENGAGEMENT_OPEN_SUM] += mean
        ledger[ENGAGEMENT_LAST_OPEN] = mean


def observe(s: Schedule, st: PatientState, ledger: np.ndarray) -> None:
    """Add the day's population means behind the time-averaged outcomes to ``ledger``.

    Adherent share, HbA1c and utility (``sim.core.outcomes.AUC_MEASURES``), each
    numpy's float64 sum, divided by the count; one pass over the ``SumPlan`` blocks for
    the three. Compiled like ``accounting``.
    """
    n = st.hba1c.shape[0]
    adherent_now = st.adherent
    hba1c = st.hba1c
    utility = st.utility
    everyone = s.everyone
    start = everyone.block_start
    length = everyone.block_length
    sums = np.empty((2, start.shape[0]))
    adherent = 0
    for b in prange(start.shape[0]):
        lo, m = start[b], length[b]
        sums[0, b] = _block_sum(hba1c, lo, m)
        sums[1, b] = _block_sum(utility, lo, m)
        count = 0
        for i in range(lo, lo + m):
            count += adherent_now[i]
        adherent += count
    ledger[ADHERENT_SHARE_SUM] += adherent / n
    ledger[HBA1C_SUM] += planned_sum(everyone, sums[0]) / n
    ledger[UTILITY_SUM] += planned_sum(everyone, sums[1]) / n


RECORDED_MEANS = ("pdc", "adherence", "hba1c", "utility", "distress", "engagement", "support",
                  "practice", "knowledge_gain", "self_efficacy_gain", "qalys")
"""Patient quantities whose population mean the time series records (``population_sums``)."""
RECORDED_SHARES = ("adherent", "distress_severe", "attended_any")
"""Shares of patients the time series records: adherent, PAID >= 40, ever at a session."""


def population_sums(s: Schedule, st: PatientState, scratch: np.ndarray) -> np.ndarray:
    """The sums behind the recorded means (``RECORDED_MEANS``), then the counts of the shares.

    One pass over the patients in ``SumPlan`` blocks instead of a numpy reduction per
    quantity (a record of 100,000 patients: 0.6 ms in numpy): each sum is numpy's
    pairwise sum of the float64 values, bit for bit (PDC: ``pdc_count / window``, into
    ``scratch``, as numpy divides it), so ``sum / n`` is ``values.mean()``.
    Compiled like ``accounting``.
    """
    plan = s.everyone
    start = plan.block_start
    length = plan.block_length
    window = st.dose_window.shape[0]
    pdc_count = st.pdc_count
    adherence = st.adherence
    hba1c = st.hba1c
    utility = st.utility
    distress = st.distress
    engagement = st.engagement
    support = st.support
    practice = st.practice
    knowledge = st.knowledge_gain
    self_efficacy = st.self_efficacy_gain
    qalys = st.qalys
    adherent = st.adherent
    sessions = st.sessions_attended
    blocks = start.shape[0]
    means = len(RECORDED_MEANS)
    sums = np.empty((means + len(RECORDED_SHARES), blocks))
    for b in prange(blocks):
        lo, m = start[b], length[b]
        adherent_count = 0
        severe = 0
        attended = 0
        for i in range(lo, lo + m):
            scratch[i] = pdc_count[i] / window
            adherent_count += adherent[i]
            severe += distress[i] >= dyn.PAID_SEVERE
            attended += sessions[i] > 0
        sums[0, b] = _block_sum(scratch, lo, m)
        sums[1, b] = _block_sum(adherence, lo, m)
        sums[2, b] = _block_sum(hba1c, lo, m)
        sums[3, b] = _block_sum(utility, lo, m)
        sums[4, b] = _block_sum(distress, lo, m)
        sums[5, b] = _block_sum(engagement, lo, m)
        sums[6, b] = _block_sum(support, lo, m)
        sums[7, b] = _block_sum(practice, lo, m)
        sums[8, b] = _block_sum(knowledge, lo, m)
        sums[9, b] = _block_sum(self_efficacy, lo, m)
        sums[10, b] = _block_sum(qalys, lo, m)
        sums[means, b] = adherent_count
        sums[means + 1, b] = severe
        sums[means + 2, b] = attended
    out = np.empty(sums.shape[0])
    for f in range(means):
        out[f] = planned_sum(plan, sums[f])
    for f in range(means, sums.shape[0]):
        out[f] = sums[f].sum()  # whole numbers: any order
    return out


def block_sums(a: np.ndarray, plan: SumPlan) -> np.ndarray:
    """``_block_sum`` of each of ``plan``'s blocks of ``a`` (in parallel where compiled so)."""
    start = plan.block_start
    length = plan.block_length
    out = np.empty(start.shape[0])
    for b in prange(start.shape[0]):
        out[b] = _block_sum(a, start[b], length[b])
    return out
