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

from sim import dynamics as dyn
from sim.economics import DAYS_PER_YEAR
from sim.network import PeerNetwork, build_network
from sim.population import Patients, draw_patients
from sim.program import ContactPlan, contact_plan
from sim.rng import Streams
from sim.scenario import Scenario

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
        return float(self.model.pdc[self.index])

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
    """Running totals (whole population) of costs by category and of QALYs."""

    program: float = 0.0
    program_discounted: float = 0.0
    medication: float = 0.0
    healthcare: float = 0.0
    care_discounted: float = 0.0
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
        self._init_rates()
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
        s, p, n = self.spec, self.patients, self.n
        b = s.behaviour
        self.base_logit = p.adherence_logit - b.complex_regimen_barrier_logit * p.complex_regimen
        champions = np.argsort(program_rng.random(n), kind="stable")
        champions = champions[: int(round(s.program.champions_share * n))]
        self.adherence0 = dyn.sigmoid(self.base_logit)
        self.base_logit[champions] += b.champion_boost_logit
        # PDC window warm-up: the W days before day 0, drawn at baseline propensity.
        window = b.pdc_window_days
        warm = self.streams.day("warmup", -1).random((window, n)) < self.adherence0
        self.dose_window = warm.astype(np.uint8)
        self.pdc_count = self.dose_window.sum(axis=0, dtype=np.int32)
        self.pdc = self.pdc_count / window
        self.adherence = self.adherence0.copy()
        self.adherent = self.pdc >= 0.8
        self.hba1c = p.hba1c0_pct.copy()
        self.utility = p.utility0.copy()
        self.engagement = p.digital_literacy.copy()
        self.engagement[self.network.leader] = 1.0
        self.support = np.zeros(n)
        self.support_today = np.zeros(n)
        self.contact = np.zeros(n)
        self.practice = np.zeros(n)
        self.self_efficacy_gain = np.zeros(n)
        self.education_hours = np.zeros(n)
        self.knowledge_gain = np.zeros(n)
        self.sessions_attended = np.zeros(n, dtype=np.int32)
        self.posts_total = np.zeros(n, dtype=np.int32)
        self.qalys = np.zeros(n)
        self.qalys_undiscounted = np.zeros(n)
        self.distress = p.distress0.copy()
        self.multiplier = dyn.effect_multiplier(
            p.hba1c0_pct, s.clinical.effect_floor_hba1c_pct,
            s.clinical.effect_reference_hba1c_pct, s.clinical.effect_multiplier_cap)
        self.group_offered = self.plan.offered[self.network.group_id]
        self.baseline_norm = np.zeros(n)
        self.baseline_norm = self._norm_signal()

    def _init_rates(self) -> None:
        s = self.spec
        self.rate_support = dyn.relax_rate(s.behaviour.support_time_constant_days)
        self.rate_adherence = dyn.relax_rate(s.behaviour.adherence_memory_days)
        self.rate_hba1c = dyn.relax_rate(s.clinical.hba1c_time_constant_days)
        self.rate_practice = dyn.relax_rate(s.clinical.practice_time_constant_days)
        self.contact_keep = 1.0 - dyn.relax_rate(s.clinical.contact_memory_days)
        self.engagement_keep = 1.0 - dyn.relax_rate(s.behaviour.engagement_decay_days)
        self.tie_keep = 1.0 - dyn.relax_rate(s.network.strength_decay_days)
        im = s.program.im
        self.engagement_resting = s.behaviour.engagement_resting * self.patients.digital_literacy
        self.member_rate = im.posts_per_week / 7.0 * self.patients.posting_activity
        self.member_rate[self.network.leader] = im.leader_posts_per_week / 7.0
        bg = self.network.background
        self.background_weight = np.asarray(bg.sum(axis=1)).ravel()
        self.background_binary = bg.copy()
        self.background_binary.data = (bg.data > 0).astype(np.float64)
        self.group_binary = self.network.group.copy()
        self.norm_inputs = np.ones((self.n, 2))

    def create_agent_views(self) -> None:
        """Create one ``Patient`` agent per patient (idempotent)."""
        if len(self.agents) == 0:
            for i in range(self.n):
                Patient(self, i)

    # ------------------------------------------------------------------ the day

    def step(self) -> None:
        """Advance one day. Phases, in order:

        1. read today's contact plan (which channels act);
        2. in-person gatherings: attendance, rapport between co-attendees, education,
           self-efficacy and engagement;
        3. IM messaging: heavy-tailed posting, reading weighted by tie strength
           (support received), rapport from reading, engagement fading without replies;
        4. support memory, recent contact and self-care practice;
        5. peer norms (simple or complex contagion) from yesterday's adherent status;
        6. dose taking; recent adherence (EWMA) and PDC;
        7. HbA1c relaxes toward its adherence- and practice-dependent target;
        8. distress and QoL (EQ-5D utility); QALYs and costs, discounted;
        9. rapport decays without contact;
        10. record the population means every ``record_every_days``.
        """
        d = self.day
        if d >= self.plan.days:
            raise RuntimeError(f"the scenario runs {self.plan.days} days; day {d} is past it")
        attended = self._gatherings(d)
        posts = self._messaging(d)
        self._support_and_practice(d, attended)
        norm = self._norm_signal() - self.baseline_norm
        took = self._dosing(d, norm)
        self._clinical()
        self._accounting(d, attended, posts, took)
        self.network.group.data *= self.tie_keep
        self.network.group.data += (1.0 - self.tie_keep) * self.spec.network.strength_floor
        self.day = d + 1
        if self.day % self.spec.run.record_every_days == 0 or self.day == self.plan.days:
            self.record()

    def _gatherings(self, d: int) -> np.ndarray:
        """Phase 2; returns who attended a gathering today (bool)."""
        plan, s = self.plan, self.spec
        in_person_ed = s.program.education.mode == "in_person" and plan.education_hours[d] > 0
        if not (plan.session[d] or plan.education_hours[d] > 0):
            return np.zeros(self.n, dtype=bool)
        u = self.streams.day("attendance", d).random(self.n)
        if plan.session[d] and in_person_ed:
            invited = np.ones(self.n, dtype=bool)
        elif plan.session[d]:
            invited = self.group_offered
        else:
            invited = np.full(self.n, in_person_ed)
        attended = invited & (u < self.patients.attendance_prob)
        if s.program.education.mode == "digital" and plan.education_hours[d] > 0:
            self.education_hours += plan.education_hours[d] * (u < self.patients.digital_literacy)
        elif in_person_ed:
            self.education_hours += plan.education_hours[d] * attended
        self.knowledge_gain = dyn.knowledge_gain(self.patients.knowledge0, self.education_hours,
                                                 s.behaviour.knowledge_hours_scale)
        if attended.any():
            w = attended.astype(np.float64)
            g = self.network.group
            dyn.pair_gain(g.data, self.network.group_rows, g.indices, w, w,
                          s.network.in_person_gain)
            b = s.behaviour
            self.self_efficacy_gain += b.self_efficacy_gain_per_session * w * (
                1.0 - self.self_efficacy_gain / 2.0)
            self.engagement += b.in_person_engagement_boost * w * (1.0 - self.engagement)
            self.sessions_attended += attended
        return attended

    def _messaging(self, d: int) -> float:
        """Phase 3; returns the number of messages posted today."""
        self.support_today[:] = 0.0
        if not self.plan.im_active[d]:
            return 0.0
        s = self.spec
        rng = self.streams.day("messaging", d)
        u = rng.random(self.n)
        posts = dyn.poisson_inverse(u, self.member_rate * self.engagement)
        mod_rate = s.program.im.moderator_posts_per_week / 7.0
        mod_posts = dyn.poisson_inverse(rng.random(self.network.n_groups),
                                        np.full(self.network.n_groups, mod_rate))
        self.posts_total += posts
        g = self.network.group
        received = g @ posts.astype(np.float64)
        received += s.network.moderator_strength * mod_posts[self.network.group_id]
        np.multiply(self.engagement, received, out=self.support_today)
        dyn.pair_gain(g.data, self.network.group_rows, g.indices, self.engagement,
                      posts.astype(np.float64), s.network.im_gain)
        b = s.behaviour
        dyn.relax(self.engagement, self.engagement_resting, 1.0 - self.engagement_keep)
        self.engagement += b.engagement_reinforcement * np.minimum(self.support_today, 1.0) * (
            1.0 - self.engagement)
        self.engagement[self.network.leader] = 1.0
        return float(posts.sum() + mod_posts.sum())

    def _support_and_practice(self, d: int, attended: np.ndarray) -> None:
        """Phase 4."""
        s = self.spec
        dyn.relax(self.support, self.support_today, self.rate_support)
        self.contact *= self.contact_keep
        np.maximum(self.contact, attended, out=self.contact)
        if self.plan.im_active[d]:
            np.maximum(self.contact, np.minimum(self.support_today, 1.0), out=self.contact)
        if self.plan.education_hours[d] > 0 and s.program.education.mode == "digital":
            self.contact = np.maximum(self.contact, self.patients.digital_literacy)
        target = dyn.practice_target(self.knowledge_gain, self.contact, self.support,
                                     retention=s.clinical.practice_retention,
                                     support_effect=s.clinical.support_practice_effect)
        dyn.relax(self.practice, target, self.rate_practice)

    def _norm_signal(self) -> np.ndarray:
        """Phase 5 (uncentred): tie-weighted adherent share, or adherent-neighbour count."""
        b = self.spec.behaviour
        g = self.network.group
        if b.contagion == "simple":
            self.norm_inputs[:, 0] = self.adherent
            both = g @ self.norm_inputs  # one product: adherent weight and total tie weight
            weighted = both[:, 0] + self.network.background @ self.norm_inputs[:, 0]
            ties = both[:, 1] + self.background_weight
            return dyn.simple_norm(weighted, ties, 0.0, b.norm_effect_logit)
        a = self.adherent.astype(np.float64)
        np.greater(g.data, 0.0, out=self.group_binary.data, casting="unsafe")
        count = self.group_binary @ a + self.background_binary @ a
        return dyn.complex_norm(count, 0.0, b.complex_threshold, b.norm_effect_logit)

    def _dosing(self, d: int, norm: np.ndarray) -> np.ndarray:
        """Phase 6; returns who took today's dose."""
        s, p = self.spec, self.patients
        b = s.behaviour
        logit = dyn.dose_logit(
            self.base_logit, self.support, norm, self.self_efficacy_gain, self.knowledge_gain,
            self.distress - p.distress0, support_effect=b.support_effect_logit,
            self_efficacy_effect=b.self_efficacy_effect_logit,
            knowledge_effect=b.knowledge_effect_logit, distress_barrier=b.distress_barrier_logit)
        took = self.streams.day("dosing", d).random(self.n) < dyn.sigmoid(logit)
        dyn.relax(self.adherence, took, self.rate_adherence)
        slot = d % self.dose_window.shape[0]
        self.pdc_count += took
        self.pdc_count -= self.dose_window[slot]
        self.dose_window[slot] = took
        self.pdc = self.pdc_count / self.dose_window.shape[0]
        self.adherent = self.pdc >= 0.8
        return took

    def _clinical(self) -> None:
        """Phases 7-8 (health states)."""
        s, p = self.spec, self.patients
        c = s.clinical
        target = dyn.hba1c_target(
            p.hba1c0_pct, self.adherence, self.adherence0, self.practice, self.multiplier,
            adherence_slope_pct=c.adherence_slope_pct, lifestyle_effect_pct=c.lifestyle_effect_pct,
            drift_pct=c.trial_drift_hba1c_pct)
        dyn.relax(self.hba1c, target, self.rate_hba1c)
        np.clip(p.distress0 - c.distress_relief_per_support * self.support, 0.0, 1.0,
                out=self.distress)
        self.utility = dyn.utility(
            p.utility0, self.hba1c - p.hba1c0_pct, self.knowledge_gain, self.support,
            self.distress - p.distress0, per_hba1c=c.utility_per_hba1c_pct,
            per_knowledge=c.utility_per_knowledge, per_support=c.utility_per_support,
            per_distress=c.utility_per_distress)

    def _accounting(self, d: int, attended: np.ndarray, posts: float, took: np.ndarray) -> None:
        """Phase 8 (QALYs and costs, discounted to day 0)."""
        e, plan = self.spec.economics, self.plan
        df_cost = (1.0 + e.discount_rate_costs) ** (-d / DAYS_PER_YEAR)
        df_qaly = (1.0 + e.discount_rate_effects) ** (-d / DAYS_PER_YEAR)
        self.qalys_undiscounted += self.utility / DAYS_PER_YEAR
        self.qalys += self.utility * (df_qaly / DAYS_PER_YEAR)
        program = 0.0
        if plan.im_active[d]:
            im_days = self.n / DAYS_PER_YEAR
            program += e.platform_cost_per_patient_month * 12.0 * im_days
            if self.spec.network.peer_leaders:
                program += e.peer_leader_cost_per_patient_year * im_days
            program += posts * e.moderation_minutes_per_message / 60.0 * e.staff_cost_per_hour
        n_att = float(attended.sum())
        if plan.session[d]:
            groups = float(self.plan.offered.sum())
            hours = self.spec.program.in_person.hours_per_session
            program += groups * hours * e.session_cost_per_group_hour
            program += n_att * e.session_cost_per_attendee
        hours_ed = plan.education_hours[d]
        if hours_ed > 0:
            if self.spec.program.education.mode == "in_person":
                program += n_att * hours_ed * e.education_cost_per_patient_hour
            else:
                program += self.n * hours_ed * e.digital_education_cost_per_patient_hour
        medication = float(took.sum()) * e.medication_cost_per_dose
        healthcare = (self.n * e.healthcare_cost_per_year + e.healthcare_cost_per_hba1c_pct_year
                      * float(np.maximum(self.hba1c - 7.0, 0.0).sum())) / DAYS_PER_YEAR
        led = self.ledger
        led.program += program
        led.program_discounted += program * df_cost
        led.medication += medication
        led.healthcare += healthcare
        led.care_discounted += (medication + healthcare) * df_cost
        led.posts += posts

    # ------------------------------------------------------------------ outputs

    def population_means(self) -> dict[str, float]:
        """Population means of the state (what the time series records)."""
        led, n = self.ledger, self.n
        return {
            "day": float(self.day),
            "pdc_mean": float(self.pdc.mean()),
            "adherent_share": float(self.adherent.mean()),
            "adherence_mean": float(self.adherence.mean()),
            "hba1c_mean": float(self.hba1c.mean()),
            "utility_mean": float(self.utility.mean()),
            "engagement_mean": float(self.engagement.mean()),
            "support_mean": float(self.support.mean()),
            "practice_mean": float(self.practice.mean()),
            "knowledge_gain_mean": float(self.knowledge_gain.mean()),
            "self_efficacy_gain_mean": float(self.self_efficacy_gain.mean()),
            "tie_strength_mean": float(self.network.group.data.mean())
            if self.network.group.nnz else 0.0,
            "attended_any_share": float((self.sessions_attended > 0).mean()),
            "cost_per_patient": (led.program + led.medication + led.healthcare) / n,
            "qalys_per_patient": float(self.qalys.mean()),
        }

    def record(self) -> None:
        """Append today's population means to the time series."""
        self.records.append(self.population_means())
