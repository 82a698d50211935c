"""The declared state the daily kernels read and write: one array per patient quantity.

``PatientState`` and ``Ties`` are named tuples of numpy arrays: numba compiles them as
structs, so the kernels take them whole (no positional argument lists) at the speed of
separate arrays. The tuples are immutable (no field can be rebound to another array);
the arrays are updated in place, so every holder of the state sees the same numbers.
A per-patient array is indexed by patient (length N) unless its comment says otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PatientState(NamedTuple):
    """Every patient's state; built once by ``Simulation``, changed in place daily.

    The first block is fixed for the run (some are the very arrays of ``Patients`` and
    ``PeerNetwork``, not copies); the second evolves day by day.
    """

    # -- fixed for the run
    group_id: np.ndarray  # int, program group (cohort and IM group); PeerNetwork.group_id
    leader: np.ndarray  # bool, the group's peer leader; PeerNetwork.leader
    group_offered: np.ndarray  # bool, the patient's group is offered in-person sessions
    hba1c0_pct: np.ndarray  # %, true baseline HbA1c; Patients.hba1c0_pct
    hba1c_setpoint: np.ndarray  # %, true baseline HbA1c less the day-0 clinical course
    utility0: np.ndarray  # EQ-5D utility at baseline; Patients.utility0
    distress0: np.ndarray  # PAID points (0-100), distress at baseline; Patients.distress0
    digital_literacy: np.ndarray  # 0-1; Patients.digital_literacy
    base_logit: np.ndarray  # logit, baseline dose propensity (regimen barrier, champions)
    adherence0: np.ndarray  # probability, expected baseline adherence (before champions)
    multiplier: np.ndarray  # dimensionless, how strongly behaviour moves HbA1c
    engagement_resting: np.ndarray  # 0-1, IM engagement without messages
    rate: np.ndarray  # posts/day at full engagement
    baseline_norm: np.ndarray  # logit, peer norm at baseline (set after the first tie pass)
    responsive: np.ndarray  # bool, responds to peers' signals at all (graded contagion)
    # -- evolving
    attended: np.ndarray  # bool, attended a gathering today
    sessions_attended: np.ndarray  # int32, sessions attended so far
    education_hours: np.ndarray  # hours of curriculum received so far
    knowledge_gain: np.ndarray  # 0-1, knowledge gained from education
    self_efficacy_gain: np.ndarray  # SD, self-efficacy gained from sessions
    called: np.ndarray  # bool, had a one-to-one call today
    call_support: np.ndarray  # 0-1, today's call's support input g_B (0: no call)
    buddy_strength: np.ndarray  # 0-1, rapport with the buddy or mentor
    engagement: np.ndarray  # 0-1, IM engagement
    posts: np.ndarray  # int32, IM posts made today
    posts_total: np.ndarray  # int64, IM posts made so far
    received: np.ndarray  # messages read today, weighted by rapport
    session_peers: np.ndarray  # 0-1, peer support from today's gathering: saturating in
    #                            the group mates met, weighted by rapport (0: none met)
    messages: np.ndarray  # messages read today (peers' by rapport, the moderator's by its
    #                       strength) times engagement; 0 when the IM groups are closed
    #                       (between the tie and patient passes: not yet times engagement)
    norm: np.ndarray  # logit, peer norm from neighbours' adherent status
    signal_count: np.ndarray  # adopting neighbours at the last tie pass (graded contagion)
    signal_day: np.ndarray  # int32, day that count last rose or i was adherent (graded waning)
    support: np.ndarray  # support memory (EWMA of support received per day)
    contact: np.ndarray  # 0-1, recent programme contact
    practice: np.ndarray  # 0-1, self-care practice
    adherence: np.ndarray  # proportion, recent adherence (EWMA of doses taken)
    dose_window: np.ndarray  # uint8, (PDC window days x N): 1 = dose taken that day
    pdc_count: np.ndarray  # int32, days covered within the PDC window
    adherent: np.ndarray  # bool, PDC >= the adherence threshold (dynamics.PDC_ADHERENT)
    hba1c: np.ndarray  # %, true HbA1c: behavioural state + clinical course, within 4-20
    hba1c_behaviour: np.ndarray  # %, the part of HbA1c behaviour moves (relaxes to its target)
    hba1c_course: np.ndarray  # %-points, clinical course (AR(1) around the set-point)
    distress: np.ndarray  # PAID points (0-100), diabetes distress
    burden: np.ndarray  # contact hours per week, attendance burden (EWMA, 1-week memory)
    utility: np.ndarray  # EQ-5D utility today
    qalys: np.ndarray  # QALY, accrued so far, discounted
    qalys_undiscounted: np.ndarray  # QALY, accrued so far
    cost: np.ndarray  # currency, medication, healthcare and attendance costs, discounted


class Ties(NamedTuple):
    """The peer network as CSR arrays (row i: patient i's ties) and the group ties' rapport.

    Groups are cliques of consecutive patients (``network.clique_csr``): row i lists its
    group mates in order, skipping i. Rapport (0-1) is kept as its excess over the floor, to
    scale: a tie's rapport is ``floor + scale[0] * excess``, so the daily decay toward the
    floor multiplies ``scale`` alone (``kernels.tie_pass``; ``kernels.rapport`` writes it
    out in CSR order). Every background tie has the
    same fixed strength (``network.background.strength``; an edge list carries no weights).
    """

    indptr: np.ndarray  # group ties: row pointers (N + 1)
    indices: np.ndarray  # group ties: the other member of each tie
    group_bounds: np.ndarray  # int64, first patient of each group, then N (groups + 1)
    excess: np.ndarray  # per group tie, by author (``kernels._tie``): (rapport - floor) / scale
    scale: np.ndarray  # 1 float: the decay since the excesses were last rescaled
    excess_sum: np.ndarray  # sum of the patient's excesses
    adherent_excess: np.ndarray  # sum of its excesses to adherent mates (as of ``seen``)
    adherent_mates: np.ndarray  # int32, adherent group mates (as of ``seen``)
    adopting_ties: np.ndarray  # int32, adherent group mates with rapport > 0 (as of ``seen``)
    seen: np.ndarray  # uint8, the adherent status the counts count (1 = adherent)
    bg_indptr: np.ndarray  # background ties: row pointers (N + 1); symmetric
    bg_indices: np.ndarray  # background ties: the other patient of each tie
    bg_adopting: np.ndarray  # int32, adherent background neighbours (as of ``seen``)
    bg_strength: float  # 0-1, the fixed strength of every background tie
    group_messages: np.ndarray  # float, each group's messages today (members' and moderator's;
    #                             written on open IM days only: ``kernels.tie_pass``)
