"""Simulation: patients on peer networks, a program design, one simulated day a step.

Patient state lives in numpy arrays (``sim.core.state``), advanced by compiled daily
kernels (``sim.core.kernels``). This class has no Mesa in it, so the runner, sweeps and
``peersupport run`` start without importing Mesa (and what Mesa imports: pandas, networkx,
scipy.spatial); ``sim.core.model.PeerSupportModel`` is the same simulation as a
``mesa.Model``, for Mesa's tools and the dashboard.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.core import counter_rng, dynamics, kernels
from sim.core.buddies import Buddies, build_buddies
from sim.core.economics import (
    DAYS_PER_YEAR,
    HBA1C_COST_THRESHOLD_PCT,
    discount_factor,
    mentor_time_cost,
    moderation_minutes,
)
from sim.core.network import PeerNetwork, build_network
from sim.core.population import Patients, draw_patients, measured, measurement_cv
from sim.core.program import ContactPlan, contact_plan
from sim.core.rng import Streams
from sim.core.state import PatientState, Ties
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario, keyword_overrides, load_scenario


@dataclass
class Ledger:
    """Running totals (whole population, undiscounted) of costs by category, posts and calls.

    Also IM group members' (not leaders') engagement on open IM days.

    ``shared_discounted`` holds the discounted program costs no single patient causes
    (platform, peer leaders, moderation, rooms and facilitators, digital curriculum, mentors);
    costs a patient causes accrue, discounted, in ``Simulation.cost``.
    """

    program: float = 0.0
    medication: float = 0.0
    healthcare: float = 0.0
    shared_discounted: float = 0.0
    posts: float = 0.0
    calls: float = 0.0  # one-to-one calls that took place, one per patient called
    engagement_open_sum: float = 0.0  # members' mean engagement, summed over open IM days
    engagement_last_open: float = math.nan  # members' mean engagement on the last IM day


class Simulation:
    """Agent-based model of a peer-support program for people with type 2 diabetes.

    Build it from a scenario and a seed, call ``step()`` once per day (``running`` turns
    False at the horizon), read the state as arrays (``model.hba1c``, ``model.state``) and
    the recorded population means in ``records`` (set ``recording`` False before stepping to
    skip them: a run whose time series nobody keeps, as in most sweeps).
    ``sim.runner.run`` drives it; ``sim.core.model.PeerSupportModel`` adds Mesa's interface.

    Args:
        scenario: a Scenario, a YAML path, a ready scenario's name (``designs/hybrid_kickoff``)
            or a dict; None: the default scenario.
        seed: root seed of every named random stream; None: fresh randomness (the seed drawn
            is kept in ``seed_used``). An int reproduces a run.
        **parameters: scenario overrides by dotted path with ``_`` for ``.``
            (``population_size=500``, ``program_im_posts_per_week=2``).
    """

    def __init__(self, scenario: Scenario | str | Path | dict[str, Any] | None = None,
                 seed: int | np.random.Generator | None = None, **parameters: Any) -> None:
        self.seed_used = root_seed(seed)
        self.running = True
        scenario = load_scenario({} if scenario is None else scenario,
                                 keyword_overrides(parameters))
        self.spec = scenario
        self.streams = Streams(self.seed_used)
        self.keys = kernels.stream_keys(self.streams)
        s = scenario
        try:
            self.patients: Patients = draw_patients(s.population, s.behaviour,
                                                    self.streams.get("population"), s.clinical)
        except ScenarioError as exc:  # eligibility nobody meets: name the file too
            raise ScenarioError(exc.message, file=s.source or exc.file, path=exc.path) from None
        p = self.patients
        n = p.size
        self.n = n
        self.network: PeerNetwork = build_network(s.network, n, p.adherence_logit,
                                                  self.streams.get("network"))
        program_rng = self.streams.get("program")
        self.plan: ContactPlan = contact_plan(s.program, s.run.days, self.network.n_groups,
                                              program_rng)
        self.params = kernels.day_params(scenario)
        self.kernels = kernels.day_kernels(self.n)
        self._kernels_chosen_in = _here()
        self._day_pass_of: tuple[Any, Any] = (None, None)  # kernels.day_pass, its entry point
        self._init_state(program_rng)
        self.buddies = self._init_buddies(program_rng)
        self.day = 0
        self.ledger = Ledger()
        members = ~self.state.leader
        self._members = members
        self._n_members = max(int(members.sum()), 1)
        self.records: list[dict[str, float]] = []
        self.recording = True
        self.baseline = self.population_means()
        self.record()

    # ------------------------------------------------------------------ set-up

    def _init_state(self, program_rng: np.random.Generator) -> None:
        """Build ``self.state`` and ``self.ties`` at baseline.

        Draws: champions, who responds to peers (graded contagion), the PDC warm-up.
        """
        s, p, n, net = self.spec, self.patients, self.n, self.network
        b, c = s.behaviour, s.clinical
        base_logit = p.adherence_logit - b.complex_regimen_barrier_logit * p.complex_regimen
        adherence0, multiplier = kernels.baseline_arrays(
            base_logit, p.hba1c0_pct, c.effect_floor_hba1c_pct,
            c.effect_reference_hba1c_pct, c.effect_multiplier_cap)
        multiplier *= p.response  # between-patient response heterogeneity (1 by default)
        champions = np.argsort(program_rng.random(n), kind="stable")
        base_logit[champions[: int(round(s.program.champions_share * n))]] += \
            b.champion_boost_logit
        responsive = program_rng.random(n) < b.norm_responsive_share  # the last program draw
        # PDC window warm-up: the W days before day 0, drawn at baseline propensity (warm-up
        # day r is day r of the warmup stream).
        dose_window = np.empty((b.pdc_window_days, n), dtype=np.uint8)
        for r, row in enumerate(dose_window):  # row by row: no W x N temporary of floats
            np.less(counter_rng.uniforms(self.keys.warmup, r, n), adherence0, out=row,
                    casting="unsafe")
        pdc_count = dose_window.sum(axis=0, dtype=np.int32)
        engagement = p.digital_literacy.copy()
        engagement[net.leader] = 1.0
        rate = s.program.im.posts_per_week / 7.0 * p.posting_activity
        rate[net.leader] = s.program.im.leader_posts_per_week / 7.0
        setpoint = p.hba1c0_pct - p.hba1c_course0_pct
        self.state = PatientState(
            group_id=net.group_id, leader=net.leader,
            group_offered=self.plan.offered[net.group_id], hba1c0_pct=p.hba1c0_pct,
            hba1c_setpoint=setpoint,
            utility0=p.utility0, distress0=p.distress0, digital_literacy=p.digital_literacy,
            base_logit=base_logit, adherence0=adherence0, multiplier=multiplier,
            engagement_resting=b.engagement_resting * p.digital_literacy, rate=rate,
            baseline_norm=np.zeros(n), responsive=responsive, attended=np.zeros(n, dtype=bool),
            sessions_attended=np.zeros(n, dtype=np.int32), education_hours=np.zeros(n),
            knowledge_gain=np.zeros(n), self_efficacy_gain=np.zeros(n),
            called=np.zeros(n, dtype=bool), call_support=np.zeros(n), buddy_strength=np.zeros(n),
            engagement=engagement,
            posts=np.zeros(n, dtype=np.int32), posts_total=np.zeros(n, dtype=np.int64),
            received=np.zeros(n), norm=np.zeros(n), signal_count=np.zeros(n),
            signal_day=np.zeros(n, dtype=np.int32), support=np.zeros(n), contact=np.zeros(n),
            co_attendees=np.zeros(n), messages=np.zeros(n), dose_logit=np.zeros(n),
            practice=np.zeros(n), adherence=adherence0.copy(), dose_window=dose_window,
            pdc_count=pdc_count, adherent=dynamics.adherent(pdc_count, b.pdc_window_days),
            hba1c=p.hba1c0_pct.copy(), hba1c_behaviour=setpoint.copy(),
            hba1c_course=p.hba1c_course0_pct.copy(), distress=p.distress0.copy(),
            burden=np.zeros(n),
            utility=p.utility0.copy(),
            qalys=np.zeros(n), qalys_undiscounted=np.zeros(n), cost=np.zeros(n))
        g, bg = net.group, net.background
        self.ties = Ties(g.indptr, g.indices, g.data, bg.indptr, bg.indices, bg.data)
        quiet = self._today(0, gathering=False)._replace(im_active=False)  # no contact
        self.kernels.tie_pass(self.params, quiet, self.ties, self.state, False)
        if self.spec.behaviour.contagion == "graded":
            # the baseline is the steady state, where a non-adopter's pull has long waned
            # (else usual care's norm falls below its baseline as the day-0 signals wane)
            self.state.signal_day[:] = -1_000_000
            self.kernels.tie_pass(self.params, quiet, self.ties, self.state, False)
        self.state.baseline_norm[:] = self.state.norm

    def _init_buddies(self, program_rng: np.random.Generator) -> Buddies | None:
        """The one-to-one channel's pairs or mentees, if it has a call day (draws: program, last).

        Rapport with the buddy or mentor starts at ``network.buddy_initial_strength`` or
        ``network.mentor_initial_strength``.
        """
        spec, net = self.spec.program.one_to_one, self.spec.network
        if not self.plan.call.any():
            return None
        self.state.buddy_strength[:] = (net.mentor_initial_strength if spec.mode == "mentor"
                                        else net.buddy_initial_strength)
        return build_buddies(spec, self.network.group_id, self.network.group_start, program_rng)

    def __getattr__(self, name: str) -> np.ndarray:
        """The patient arrays of ``self.state`` read as attributes (``model.hba1c``)."""
        state = self.__dict__.get("state")
        if state is not None and name in PatientState._fields:
            return getattr(state, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ the day

    @property
    def pdc(self) -> np.ndarray:
        """Proportion of days covered over the PDC window, per patient."""
        return self.state.pdc_count / self.state.dose_window.shape[0]

    def step(self) -> None:
        """Advance one day in seven phases; the kernels' docstrings give each one's science.

        1. gatherings: who attends a session or education; hours and knowledge gained;
           calls: which one-to-one calls take place; rapport with the buddy or mentor;
        2. today: which channels act; the day's discount factors and unit costs;
        3. posts: session effects on self-efficacy and engagement; members' and moderators' posts;
        4. ties: rapport, support received, peer norms (yesterday's adherence), rapport decay;
        5. patients: support, contact, practice, doses, PDC, HbA1c, distress, QoL, QALYs, costs;
        6. accounting: programme costs and the day's totals;
        7. record: population means every ``record_every_days`` and on the last day
           (when ``recording``).
        """
        d = self.day
        plan, s = self.plan, self.spec
        if d >= plan.days:  # past the horizon (Mesa's run_model stops on running = False)
            self.running = False
            return
        gathering = self._gatherings(d)  # 1
        self._calls(d)  # 1
        today = self._today(d, gathering)  # 2
        posts, taken, moderator = self._day_pass(today)  # 3-5
        self._accounting(d, posts, taken, moderator, today.cost_discount)  # 6
        self.day = d + 1  # 7
        if self.recording and (self.day % s.run.record_every_days == 0
                               or self.day == plan.days):
            self.record()
        self.running = self.day < plan.days

    def _today(self, d: int, gathering: bool) -> kernels.Today:
        """Phase 2: which channels act today, and today's discounted unit values."""
        s, e = self.spec, self.spec.economics
        df_qaly = discount_factor(d, e.discount_rate_effects)
        df_cost = discount_factor(d, e.discount_rate_costs)
        in_person_ed = s.program.education.mode == "in_person"
        hours = float(self.plan.session_hours[d] + self.plan.education_hours[d] * in_person_ed)
        return kernels.Today(
            day=d, gathering=gathering, session=bool(self.plan.session_hours[d] > 0),
            gathering_hours=hours,
            im_active=bool(self.plan.im_active[d]),
            digital_contact=bool(self.plan.education_hours[d] > 0
                                 and s.program.education.mode == "digital"),
            calls=bool(self.plan.call[d]),
            cost_discount=df_cost, qaly_weight=df_qaly / DAYS_PER_YEAR,
            dose_cost=e.medication_cost_per_dose * df_cost,
            care_cost=e.healthcare_cost_per_year * df_cost / DAYS_PER_YEAR,
            care_cost_per_pct=e.healthcare_cost_per_hba1c_pct_year * df_cost / DAYS_PER_YEAR)

    def _day_pass(self, t: kernels.Today) -> tuple[int, int, np.ndarray]:
        """Phases 3-5 in one compiled call (draws: messaging, dosing, course, in the kernels).

        All posts made today (members' and moderators'), the doses taken and each group's
        moderator posts.
        """
        if self._kernels_chosen_in != _here():  # stepped in another thread or a forked child
            self.kernels, self._kernels_chosen_in = kernels.day_kernels(self.n), _here()
        args = (self.params, t, self.ties, self.state, self.keys,
                self.spec.program.im.moderator_posts_per_week / 7.0, self.network.n_groups)
        if self._day_pass_of[0] is not self.kernels.day_pass:  # new kernels: resolve them
            self._day_pass_of = (self.kernels.day_pass,
                                 kernels.entry_point(self.kernels.day_pass, args))
        posts, taken, moderator = self._day_pass_of[1](*args)
        if t.im_active:
            posts += int(moderator.sum())
        return posts, taken, moderator

    def measured_hba1c(self) -> np.ndarray:
        """Every patient's HbA1c as measured today (draws: measurement, keyed by the day).

        The baseline measurement is the screening value (``Patients.hba1c0_measured_pct``);
        a later one is true HbA1c with biological and analytical noise. Every design run
        with one seed shares the noise of a day (common random numbers).
        """
        if self.day == 0:
            return self.patients.hba1c0_measured_pct
        return measured(self.state.hba1c, measurement_cv(self.spec.clinical),
                        functools.partial(counter_rng.normals, self.keys.measurement, self.day))

    def _gatherings(self, d: int) -> bool:
        """Phase 1 (draws: attendance): who attends a session or education today."""
        plan, s, st = self.plan, self.spec, self.state
        hours, session = plan.education_hours[d], plan.session_hours[d] > 0
        in_person_ed = s.program.education.mode == "in_person" and hours > 0
        if not (session or hours > 0):
            if st.attended.any():
                st.attended[:] = False
            return False
        u = counter_rng.uniforms(self.keys.attendance, d, self.n)
        # the schedule's attendance factor scales each patient's chance (same uniform)
        factor = plan.education_attendance[d] if in_person_ed else plan.session_attendance[d]
        invited = st.group_offered if session and not in_person_ed else in_person_ed
        np.logical_and(invited, u < self.patients.attendance_prob * factor, out=st.attended)
        if hours > 0:
            reached = st.attended if in_person_ed else \
                u < self.patients.digital_literacy * plan.education_attendance[d]
            np.add(st.education_hours, hours * reached, out=st.education_hours)
            kernels.knowledge_gains(self.patients.knowledge0, st.education_hours,
                                    s.behaviour.knowledge_hours_scale, st.knowledge_gain)
        return bool(st.attended.any())

    def _calls(self, d: int) -> None:
        """Phase 1, one-to-one (draws: calls): who has a call today; rapport with the partner.

        One uniform per call unit (pair, trio or mentee) decides whether its call takes place.
        A call's support input is the rapport before it (g_B = s_B); the call then builds rapport
        (``network.call_gain``, in person ``network.in_person_gain``), and every one-to-one tie
        decays toward ``network.strength_floor`` like the group ties.
        """
        b, st, net = self.buddies, self.state, self.spec.network
        if b is None:
            return
        spec = self.spec.program.one_to_one
        strength = st.buddy_strength
        if self.plan.call[d]:
            np.copyto(st.called, b.called(self.keys.calls, d, spec.call_completion))
            np.multiply(strength, st.called, out=st.call_support)
            gain = net.in_person_gain if spec.medium == "in_person" else net.call_gain
            strength += st.called * (gain * (1.0 - strength))  # toward_one
            self.ledger.calls += int(st.called.sum())
        elif st.called.any():
            st.called[:] = False
            st.call_support[:] = 0.0
        keep = self.params.tie_keep
        strength *= keep
        strength += (1.0 - keep) * net.strength_floor

    def _accounting(self, d: int, posts: int, taken: int, moderator: np.ndarray,
                    df_cost: float) -> None:
        """Phase 6: programme costs and the day's totals (``Ledger``).

        The costs each patient causes accrue, discounted, in ``state.cost`` (attendance here, the
        rest in phase 5). ``moderator`` holds each group's moderator posts today.
        """
        e, plan, n, st = self.spec.economics, self.plan, self.n, self.state
        shared = 0.0
        if plan.im_active[d]:
            shared += e.platform_cost_per_patient_month * 12.0 * n / DAYS_PER_YEAR
            if self.spec.network.peer_leaders:
                shared += e.peer_leader_cost_per_patient_year * n / DAYS_PER_YEAR
            messages = np.bincount(st.group_id, weights=st.posts,
                                   minlength=moderator.shape[0]) + moderator
            shared += moderation_minutes(
                messages, e.moderation_minutes_per_group_week, e.moderation_minutes_per_message,
                e.moderation_max_messages_per_group_day) / 60.0 * e.staff_cost_per_hour
        session_hours = float(plan.session_hours[d])  # the day's schedule sets the length
        if session_hours > 0:
            shared += float(plan.offered.sum()) * session_hours * e.session_cost_per_group_hour
        if self.buddies is not None:
            shared += self._mentor_cost(d)
        hours_ed = plan.education_hours[d]
        caused = 0.0
        if st.attended.any() or hours_ed > 0:
            per_patient = np.zeros(n)
            if session_hours > 0:
                per_patient += (st.attended & st.group_offered) * e.session_cost_per_attendee
            if hours_ed > 0 and self.spec.program.education.mode == "in_person":
                per_patient += st.attended * (hours_ed * e.education_cost_per_patient_hour)
            elif hours_ed > 0:
                shared += n * hours_ed * e.digital_education_cost_per_patient_hour
            caused = float(per_patient.sum())
            np.add(st.cost, per_patient * df_cost, out=st.cost)
        led = self.ledger
        led.program += shared + caused
        led.shared_discounted += shared * df_cost
        led.medication += taken * e.medication_cost_per_dose
        healthcare = n * e.healthcare_cost_per_year / DAYS_PER_YEAR
        if e.healthcare_cost_per_hba1c_pct_year:
            excess = float(np.maximum(st.hba1c - HBA1C_COST_THRESHOLD_PCT, 0.0).sum())
            healthcare += e.healthcare_cost_per_hba1c_pct_year * excess / DAYS_PER_YEAR
        led.healthcare += healthcare
        led.posts += posts
        if plan.im_active[d]:  # engagement is defined for members of open IM groups only
            # sum, then divide: a mean of values in [0, 1] stays in [0, 1] (1/n weights
            # can round a weighted sum above 1). A numpy reduction, not a BLAS dot product:
            # a multi-threaded BLAS sums in an order that depends on its thread count, and
            # its threads spin after each call, taking the cores from the compiled passes.
            engagement = float(st.engagement.sum(where=self._members)) / self._n_members
            led.engagement_open_sum += engagement
            led.engagement_last_open = engagement

    def _mentor_cost(self, d: int) -> float:
        """Peer mentors' time for today's calls, and their training on day 0 (mentor mode)."""
        spec, e = self.spec.program.one_to_one, self.spec.economics
        if spec.mode != "mentor":
            return 0.0
        calls = int(self.state.called.sum()) if self.plan.call[d] else 0
        training = self.buddies.mentors * e.mentor_training_cost if d == 0 else 0.0
        return training + mentor_time_cost(calls, spec.minutes_per_call,
                                           e.mentor_admin_minutes_per_call, e.mentor_cost_per_hour)

    # ------------------------------------------------------------------ outputs

    def population_means(self) -> dict[str, float]:
        """Population means of the state (what the time series records)."""
        led, n, st = self.ledger, self.n, self.state
        return {
            "day": float(self.day),
            "pdc_mean": mean(self.pdc),
            "adherent_share": mean(st.adherent),
            "adherence_mean": mean(st.adherence),
            "hba1c_mean": mean(st.hba1c),
            "utility_mean": mean(st.utility),
            "distress_mean": mean(st.distress),
            "distress_severe_share": mean(st.distress >= dynamics.PAID_SEVERE),
            "engagement_mean": mean(st.engagement),
            "support_mean": mean(st.support),
            "practice_mean": mean(st.practice),
            "knowledge_gain_mean": mean(st.knowledge_gain),
            "self_efficacy_gain_mean": mean(st.self_efficacy_gain),
            "tie_strength_mean": mean(self.network.group.data)
            if self.network.group.nnz else 0.0,
            "attended_any_share": mean(st.sessions_attended > 0),
            "cost_per_patient": (led.program + led.medication + led.healthcare) / n,
            "qalys_per_patient": mean(st.qalys),
        }

    def record(self) -> None:
        """Append today's population means to the time series (``records``)."""
        self.records.append(self.population_means())


def mean(values: np.ndarray) -> float:
    """``values.mean()`` of a 1-D float64, integer or bool array, without its Python overhead.

    The same float64 sum, divided by the count (not for float32, which ``mean`` sums in
    float32). At 2,000 values: 1.6 us instead of 6.4 for floats, 3.3 instead of 6.1 for
    bools; a run takes several means a day.
    """
    return float(np.add.reduce(values, dtype=np.float64) / values.shape[0])


def _here() -> tuple[int, int]:
    """This process and thread: the kernels safe to run depend on both (``day_kernels``)."""
    return os.getpid(), threading.get_ident()


def root_seed(value: int | np.integer | np.random.Generator | None) -> int:
    """The root seed of a run: an int as given; None or a Generator: a fresh 63-bit draw."""
    if isinstance(value, int | np.integer):
        return int(value)
    return int(np.random.default_rng(value).integers(2**63))
