"""PeerSupportModel: patients on peer networks, a program design, one simulated day a step.

Patient state lives in numpy arrays; peer contact is sparse matrix products. Patients
are also ``mesa.Agent`` objects (thin views over the arrays, created on demand for
large populations) so ``model.agents`` and Mesa's ``DataCollector`` work; the daily step
never loops over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.core import dynamics, kernels
from sim.core.economics import DAYS_PER_YEAR, HBA1C_COST_THRESHOLD_PCT, discount_factor
from sim.core.network import PeerNetwork, build_network
from sim.core.population import Patients, draw_patients
from sim.core.program import ContactPlan, contact_plan
from sim.core.rng import Streams
from sim.core.state import PatientState, Ties
from sim.params.scenario import Scenario

AGENT_VIEWS_AUTO_MAX = 10_000
"""Populations up to this size get their Mesa agent views at start-up."""


class Patient(mesa.Agent):
    """A thin view of one patient's entries in the model's arrays (read-only)."""

    def __init__(self, model: PeerSupportModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def hba1c_pct(self) -> float:
        """Current HbA1c (%)."""
        return float(self.model.hba1c[self.index])

    @property
    def pdc(self) -> float:
        """Proportion of days covered over the PDC window."""
        m = self.model
        return float(m.pdc_count[self.index] / m.dose_window.shape[0])

    @property
    def adherence(self) -> float:
        """Recent adherence (EWMA of doses taken)."""
        return float(self.model.adherence[self.index])

    @property
    def engagement(self) -> float:
        """IM engagement (0-1)."""
        return float(self.model.engagement[self.index])

    @property
    def utility(self) -> float:
        """EQ-5D utility today."""
        return float(self.model.utility[self.index])

    @property
    def group(self) -> int:
        """Program group (cohort and IM group)."""
        return int(self.model.network.group_id[self.index])

    @property
    def is_leader(self) -> bool:
        """Whether this patient is the group's peer leader."""
        return bool(self.model.network.leader[self.index])


@dataclass
class Ledger:
    """Running totals (whole population, undiscounted) of costs by category and posts.

    ``shared_discounted`` holds the discounted program costs no single patient causes
    (platform, peer leaders, moderation, rooms and facilitators, digital curriculum);
    costs a patient causes accrue, discounted, in ``PeerSupportModel.cost``.
    """

    program: float = 0.0
    medication: float = 0.0
    healthcare: float = 0.0
    shared_discounted: float = 0.0
    posts: float = 0.0


class PeerSupportModel(mesa.Model):
    """Agent-based model of a peer-support program for people with type 2 diabetes.

    Args:
        scenario: a validated Scenario.
        seed: root seed of every named random stream (defaults to ``scenario.run.seed``).
        agent_views: create ``Patient`` agents (None: only up to 10,000 patients; call
            ``create_agent_views()`` later for larger ones).
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, *,
                 agent_views: bool | None = None) -> None:
        self.seed_used = scenario.run.seed if seed is None else int(seed)
        super().__init__(rng=self.seed_used)
        self.spec = scenario
        self.streams = Streams(self.seed_used)
        s = scenario
        self.patients: Patients = draw_patients(s.population, s.behaviour,
                                                self.streams.get("population"))
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
        self._init_state(program_rng)
        self.day = 0
        self.ledger = Ledger()
        self.records: list[dict[str, float]] = []
        self.baseline = self.population_means()
        self.record()
        if agent_views or (agent_views is None and n <= AGENT_VIEWS_AUTO_MAX):
            self.create_agent_views()

    # ------------------------------------------------------------------ set-up

    def _init_state(self, program_rng: np.random.Generator) -> None:
        """Build ``self.state`` and ``self.ties`` at baseline (draws: champions, PDC warm-up)."""
        s, p, n, net = self.spec, self.patients, self.n, self.network
        b, c = s.behaviour, s.clinical
        base_logit = p.adherence_logit - b.complex_regimen_barrier_logit * p.complex_regimen
        adherence0, multiplier = kernels.baseline_arrays(
            base_logit, p.hba1c0_pct, c.effect_floor_hba1c_pct,
            c.effect_reference_hba1c_pct, c.effect_multiplier_cap)
        champions = np.argsort(program_rng.random(n), kind="stable")
        base_logit[champions[: int(round(s.program.champions_share * n))]] += \
            b.champion_boost_logit
        # PDC window warm-up: the W days before day 0, drawn at baseline propensity.
        warm = self.streams.day("warmup", -1)
        dose_window = np.empty((b.pdc_window_days, n), dtype=np.uint8)
        for row in dose_window:  # row by row: no W x N temporary of floats
            np.less(warm.random(n), adherence0, out=row, casting="unsafe")
        pdc_count = dose_window.sum(axis=0, dtype=np.int32)
        engagement = p.digital_literacy.copy()
        engagement[net.leader] = 1.0
        rate = s.program.im.posts_per_week / 7.0 * p.posting_activity
        rate[net.leader] = s.program.im.leader_posts_per_week / 7.0
        self.state = PatientState(
            group_id=net.group_id, leader=net.leader,
            group_offered=self.plan.offered[net.group_id], hba1c0_pct=p.hba1c0_pct,
            utility0=p.utility0, distress0=p.distress0, digital_literacy=p.digital_literacy,
            base_logit=base_logit, adherence0=adherence0, multiplier=multiplier,
            engagement_resting=b.engagement_resting * p.digital_literacy, rate=rate,
            baseline_norm=np.zeros(n), attended=np.zeros(n, dtype=bool),
            sessions_attended=np.zeros(n, dtype=np.int32), education_hours=np.zeros(n),
            knowledge_gain=np.zeros(n), self_efficacy_gain=np.zeros(n), engagement=engagement,
            posts=np.zeros(n, dtype=np.int32), posts_total=np.zeros(n, dtype=np.int64),
            received=np.zeros(n), norm=np.zeros(n), support=np.zeros(n), contact=np.zeros(n),
            practice=np.zeros(n), adherence=adherence0.copy(), dose_window=dose_window,
            pdc_count=pdc_count, adherent=dynamics.adherent(pdc_count, b.pdc_window_days),
            hba1c=p.hba1c0_pct.copy(), distress=p.distress0.copy(), utility=p.utility0.copy(),
            qalys=np.zeros(n), qalys_undiscounted=np.zeros(n), cost=np.zeros(n))
        g, bg = net.group, net.background
        self.ties = Ties(g.indptr, g.indices, g.data, bg.indptr, bg.indices, bg.data)
        quiet = self._today(0, gathering=False)._replace(im_active=False)  # no contact
        self.kernels.tie_pass(self.params, quiet, self.ties, self.state, False)
        self.state.baseline_norm[:] = self.state.norm

    def __getattr__(self, name: str) -> np.ndarray:
        """The patient arrays of ``self.state`` read as attributes (``model.hba1c``)."""
        state = self.__dict__.get("state")
        if state is not None and name in PatientState._fields:
            return getattr(state, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def create_agent_views(self) -> None:
        """Create one ``Patient`` agent per patient (idempotent)."""
        if len(self.agents) == 0:
            for i in range(self.n):
                Patient(self, i)

    # ------------------------------------------------------------------ the day

    @property
    def pdc(self) -> np.ndarray:
        """Proportion of days covered over the PDC window, per patient."""
        return self.state.pdc_count / self.state.dose_window.shape[0]

    def step(self) -> None:
        """Advance one day, in these phases (the kernels' docstrings give each one's science):

        1. gatherings: who attends a session or education; hours and knowledge gained;
        2. today: which channels act; the day's discount factors and unit costs;
        3. posts: session effects on self-efficacy and engagement; members' and moderators' posts;
        4. ties: rapport, support received, peer norms (yesterday's adherence), rapport decay;
        5. patients: support, contact, practice, doses, PDC, HbA1c, distress, QoL, QALYs, costs;
        6. accounting: programme costs and the day's totals;
        7. record: population means every ``record_every_days`` and on the last day.
        """
        d = self.day
        plan, s, st = self.plan, self.spec, self.state
        if d >= plan.days:
            raise RuntimeError(f"the scenario runs {plan.days} days; day {d} is past it")
        gathering = self._gatherings(d)  # 1
        today = self._today(d, gathering)  # 2
        posts, moderator = self._posts(today)  # 3
        self.kernels.tie_pass(self.params, today, self.ties, st, True)  # 4
        taken = self.kernels.patient_pass(self.params, today, st, self._dose_variates(d),
                                          moderator)  # 5
        self._accounting(d, posts, taken, today.cost_discount)  # 6
        self.day = d + 1  # 7
        if self.day % s.run.record_every_days == 0 or self.day == plan.days:
            self.record()

    def _today(self, d: int, gathering: bool) -> kernels.Today:
        """Phase 2: which channels act today, and today's discounted unit values."""
        s, e = self.spec, self.spec.economics
        df_qaly = discount_factor(d, e.discount_rate_effects)
        df_cost = discount_factor(d, e.discount_rate_costs)
        return kernels.Today(
            day=d, gathering=gathering, im_active=bool(self.plan.im_active[d]),
            digital_contact=bool(self.plan.education_hours[d] > 0
                                 and s.program.education.mode == "digital"),
            cost_discount=df_cost, qaly_weight=df_qaly / DAYS_PER_YEAR,
            dose_cost=e.medication_cost_per_dose * df_cost,
            care_cost=e.healthcare_cost_per_year * df_cost / DAYS_PER_YEAR,
            care_cost_per_pct=e.healthcare_cost_per_hba1c_pct_year * df_cost / DAYS_PER_YEAR)

    def _posts(self, t: kernels.Today) -> tuple[int, np.ndarray]:
        """Phase 3 (draws: messaging): all posts made today, and each group's moderator posts."""
        draws = self.n + self.network.n_groups  # one per patient, one per group's moderator
        log_u = np.log(self.streams.day("messaging", t.day).random(draws)) if t.im_active \
            else np.zeros(draws)
        posts = self.kernels.gather_and_post(self.params, t, self.state, log_u)
        moderator = kernels.poisson_counts(log_u[self.n:],
                                           self.spec.program.im.moderator_posts_per_week / 7.0)
        if t.im_active:
            posts += int(moderator.sum())
        return posts, moderator

    def _dose_variates(self, d: int) -> np.ndarray:
        """Phase 5 (draws: dosing): standard logistic variates log(u / (1 - u)), one per patient."""
        u = self.streams.day("dosing", d).random(self.n)
        z = np.log(u)
        z -= np.log1p(-u)
        return z

    def _gatherings(self, d: int) -> bool:
        """Phase 1 (draws: attendance): who attends a session or education today."""
        plan, s, st = self.plan, self.spec, self.state
        hours = plan.education_hours[d]
        in_person_ed = s.program.education.mode == "in_person" and hours > 0
        if not (plan.session[d] or hours > 0):
            if st.attended.any():
                st.attended[:] = False
            return False
        u = self.streams.day("attendance", d).random(self.n)
        invited = st.group_offered if plan.session[d] and not in_person_ed else in_person_ed
        np.logical_and(invited, u < self.patients.attendance_prob, out=st.attended)
        if hours > 0:
            reached = st.attended if in_person_ed else u < self.patients.digital_literacy
            np.add(st.education_hours, hours * reached, out=st.education_hours)
            kernels.knowledge_gains(self.patients.knowledge0, st.education_hours,
                                    s.behaviour.knowledge_hours_scale, st.knowledge_gain)
        return bool(st.attended.any())

    def _accounting(self, d: int, posts: int, taken: int, df_cost: float) -> None:
        """Phase 6: programme costs and the day's totals (``Ledger``); the costs each patient
        causes accrue, discounted, in ``state.cost`` (attendance here, the rest in phase 5)."""
        e, plan, n, st = self.spec.economics, self.plan, self.n, self.state
        shared = 0.0
        if plan.im_active[d]:
            shared += e.platform_cost_per_patient_month * 12.0 * n / DAYS_PER_YEAR
            if self.spec.network.peer_leaders:
                shared += e.peer_leader_cost_per_patient_year * n / DAYS_PER_YEAR
            shared += posts * e.moderation_minutes_per_message / 60.0 * e.staff_cost_per_hour
        if plan.session[d]:
            shared += float(plan.offered.sum()) * self.spec.program.in_person.hours_per_session \
                * e.session_cost_per_group_hour
        hours_ed = plan.education_hours[d]
        caused = 0.0
        if st.attended.any() or hours_ed > 0:
            per_patient = np.zeros(n)
            if plan.session[d]:
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

    # ------------------------------------------------------------------ outputs

    def population_means(self) -> dict[str, float]:
        """Population means of the state (what the time series records)."""
        led, n, st = self.ledger, self.n, self.state
        return {
            "day": float(self.day),
            "pdc_mean": float(self.pdc.mean()),
            "adherent_share": float(st.adherent.mean()),
            "adherence_mean": float(st.adherence.mean()),
            "hba1c_mean": float(st.hba1c.mean()),
            "utility_mean": float(st.utility.mean()),
            "engagement_mean": float(st.engagement.mean()),
            "support_mean": float(st.support.mean()),
            "practice_mean": float(st.practice.mean()),
            "knowledge_gain_mean": float(st.knowledge_gain.mean()),
            "self_efficacy_gain_mean": float(st.self_efficacy_gain.mean()),
            "tie_strength_mean": float(self.network.group.data.mean())
            if self.network.group.nnz else 0.0,
            "attended_any_share": float((st.sessions_attended > 0).mean()),
            "cost_per_patient": (led.program + led.medication + led.healthcare) / n,
            "qalys_per_patient": float(st.qalys.mean()),
        }

    def record(self) -> None:
        """Append today's population means to the time series."""
        self.records.append(self.population_means())
