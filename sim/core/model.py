"""PeerSupportModel: patients on peer networks, a program design, one simulated day a step.

Patient state lives in numpy arrays; peer contact is sparse matrix products. Patients
are also ``mesa.Agent`` objects (thin views over the arrays, created on demand for
large populations) so ``model.agents`` and Mesa's ``DataCollector`` work; the daily step
never loops over them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.core import kernels
from sim.core.economics import DAYS_PER_YEAR
from sim.core.network import PeerNetwork, build_network
from sim.core.population import Patients, draw_patients
from sim.core.program import ContactPlan, contact_plan
from sim.core.rng import Streams
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario, keyword_overrides, load_scenario

AGENT_VIEWS_AUTO_MAX = 10_000
"""Populations up to this size get their Mesa agent views at start-up."""


class _State:
    """A read-only per-patient value of a model array (``model.<array>[index]``)."""

    def __init__(self, array: str, kind: type = float, doc: str = "") -> None:
        self.array, self.kind, self.__doc__ = array, kind, doc

    def __get__(self, agent: Patient | None, owner: type) -> Any:
        if agent is None:
            return self
        return self.kind(getattr(agent.model, self.array)[agent.index])


class Patient(mesa.Agent):
    """A thin view of one patient's entries in the model's arrays (read-only)."""

    hba1c_pct = _State("hba1c", doc="Current HbA1c (%).")
    adherent = _State("adherent", bool, "Whether PDC >= 0.8.")
    adherence = _State("adherence", doc="Recent adherence (EWMA of doses taken).")
    engagement = _State("engagement", doc="IM engagement (0-1).")
    utility = _State("utility", doc="EQ-5D utility today.")
    distress = _State("distress", doc="Diabetes distress (0-1).")
    self_efficacy_gain = _State("self_efficacy_gain", doc="Self-efficacy gained in sessions (SD).")
    knowledge_gain = _State("knowledge_gain", doc="Self-care knowledge gained (0-1).")
    education_hours = _State("education_hours", doc="Curriculum hours received.")
    support = _State("support", doc="Support received (messages read per day, EWMA).")
    received = _State("received", doc="Today's rapport-weighted messages from members.")
    norm = _State("norm", doc="Peer norm signal from adherent ties (before centring).")
    contact = _State("contact", doc="Recency of program contact (0-1).")
    practice = _State("practice", doc="Self-care practice, diet and activity (0-1).")
    attended = _State("attended", bool, "Whether the patient attended a gathering today.")
    sessions_attended = _State("sessions_attended", int, "Sessions attended so far.")
    posts_total = _State("posts_total", int, "IM posts written so far.")
    qalys = _State("qalys", doc="Discounted QALYs accrued so far.")
    cost = _State("cost", doc="Discounted costs this patient caused so far (currency).")

    def __init__(self, model: PeerSupportModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def pdc(self) -> float:
        """Proportion of days covered over the PDC window."""
        m = self.model
        return float(m.pdc_count[self.index] / m.dose_window.shape[0])

    @property
    def self_efficacy_z(self) -> float:
        """Self-efficacy (z): baseline plus the gain from sessions."""
        return float(self.model.patients.self_efficacy0_z[self.index]) + self.self_efficacy_gain

    @property
    def knowledge(self) -> float:
        """Self-care knowledge (0-1): baseline plus the gain from education."""
        return float(self.model.patients.knowledge0[self.index]) + self.knowledge_gain

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

    Works with Mesa's tools: ``mesa.batch_run(PeerSupportModel, parameters={"scenario":
    "designs/hybrid_kickoff", "population_size": [500, 1000]}, iterations=2)``,
    ``run_model()`` (``running`` turns False at the horizon) and ``model.datacollector``
    (one row per recorded day; reporters ``MODEL_REPORTERS``).

    Args:
        scenario: a Scenario, a YAML path, a ready scenario's name (``designs/hybrid_kickoff``)
            or a dict; None: the default scenario. In ``batch_run`` pass a path, a name or a
            one-item list ``[scenario]`` (batch_run iterates a bare Scenario into pairs).
        seed: root seed of every named random stream; None: fresh randomness (Mesa's
            meaning; the seed drawn is kept in ``seed_used``). An int reproduces a run.
        rng: Mesa's name for the same (an int, a numpy Generator or None); not with ``seed``.
        agent_views: create ``Patient`` agents (None: only up to 10,000 patients; call
            ``create_agent_views()`` later for larger ones).
        **parameters: scenario overrides by dotted path with ``_`` for ``.``
            (``population_size=500``, ``program_im_posts_per_week=2``).
    """

    def __init__(self, scenario: Scenario | str | Path | dict[str, Any] | None = None,
                 seed: int | None = None, *, rng: int | np.random.Generator | None = None,
                 agent_views: bool | None = None, **parameters: Any) -> None:
        if seed is not None and rng is not None:
            raise ValueError("pass either seed or rng, not both")
        if isinstance(scenario, tuple):  # batch_run iterates a bare Scenario into pairs
            raise ScenarioError("scenario is a (field, value) pair: mesa.batch_run iterated a "
                                "Scenario; pass a path or name, or a one-item list "
                                "[scenario]", path="scenario")
        self.seed_used = root_seed(seed if rng is None else rng)
        super().__init__(rng=self.seed_used)
        scenario = load_scenario({} if scenario is None else scenario,
                                 keyword_overrides(parameters))
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
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        self.baseline = self.population_means()
        self.record()
        if agent_views or (agent_views is None and n <= AGENT_VIEWS_AUTO_MAX):
            self.create_agent_views()

    # ------------------------------------------------------------------ set-up

    def _init_state(self, program_rng: np.random.Generator) -> None:
        s, p, n = self.spec, self.patients, self.n
        b, c = s.behaviour, s.clinical
        self.base_logit = p.adherence_logit - b.complex_regimen_barrier_logit * p.complex_regimen
        self.adherence0, self.multiplier = kernels.baseline_arrays(
            self.base_logit, p.hba1c0_pct, c.effect_floor_hba1c_pct,
            c.effect_reference_hba1c_pct, c.effect_multiplier_cap)
        champions = np.argsort(program_rng.random(n), kind="stable")
        self.base_logit[champions[: int(round(s.program.champions_share * n))]] += \
            b.champion_boost_logit
        # PDC window warm-up: the W days before day 0, drawn at baseline propensity.
        warm = self.streams.day("warmup", -1)
        self.dose_window = np.empty((b.pdc_window_days, n), dtype=np.uint8)
        for row in self.dose_window:  # row by row: no W x N temporary of floats
            np.less(warm.random(n), self.adherence0, out=row, casting="unsafe")
        self.pdc_count = self.dose_window.sum(axis=0, dtype=np.int32)
        self.adherence = self.adherence0.copy()
        self.adherent = self.pdc_count >= 0.8 * b.pdc_window_days - 1e-9
        self.hba1c = p.hba1c0_pct.copy()
        self.utility = p.utility0.copy()
        self.distress = p.distress0.copy()
        self.engagement = p.digital_literacy.copy()
        self.engagement[self.network.leader] = 1.0
        self.engagement_resting = b.engagement_resting * p.digital_literacy
        self.rate = s.program.im.posts_per_week / 7.0 * p.posting_activity
        self.rate[self.network.leader] = s.program.im.leader_posts_per_week / 7.0
        for name in ("support", "contact", "practice", "self_efficacy_gain", "education_hours",
                     "knowledge_gain", "qalys", "qalys_undiscounted", "received", "norm",
                     "cost"):
            setattr(self, name, np.zeros(n))
        self.sessions_attended = np.zeros(n, dtype=np.int32)
        self.posts = np.zeros(n, dtype=np.int32)
        self.posts_total = np.zeros(n, dtype=np.int64)
        self.attended = np.zeros(n, dtype=bool)
        self.group_offered = self.plan.offered[self.network.group_id]
        self.baseline_norm = np.zeros(n)
        self._ties(gathering=False, im_active=False, evolve=False)
        self.baseline_norm = self.norm.copy()

    def create_agent_views(self) -> None:
        """Create one ``Patient`` agent per patient (idempotent)."""
        if len(self.agents) == 0:
            for i in range(self.n):
                Patient(self, i)

    # ------------------------------------------------------------------ the day

    @property
    def pdc(self) -> np.ndarray:
        """Proportion of days covered over the PDC window, per patient."""
        return self.pdc_count / self.dose_window.shape[0]

    def step(self) -> None:
        """Advance one day. Phases, in order:

        1. read today's contact plan (which channels act);
        2. in-person gatherings: attendance, education, self-efficacy, engagement, and
           rapport between co-attendees;
        3. IM messaging: heavy-tailed posting, reading weighted by tie strength
           (support received), rapport from reading, engagement fading without messages;
        4. support memory, recent contact and self-care practice;
        5. peer norms (simple or complex contagion) from yesterday's adherent status;
        6. dose taking; recent adherence (EWMA) and PDC;
        7. HbA1c relaxes toward its adherence- and practice-dependent target;
        8. distress and QoL (EQ-5D utility); QALYs and costs, discounted;
        9. rapport decays without contact;
        10. record the population means every ``record_every_days``.

        Phases 2-3 and 5 and 9 run as one pass over the ties, phases 3-8 as one pass
        over the patients (``sim.core.kernels``).
        """
        d = self.day
        plan, s = self.plan, self.spec
        if d >= plan.days:  # past the horizon (Mesa's run_model stops on running = False)
            self.running = False
            return
        gathering = self._gatherings(d)
        im_active = bool(plan.im_active[d])
        draws = self.n + self.network.n_groups  # one per patient, one per group's moderator
        log_u_msg = np.log(self.streams.day("messaging", d).random(draws)) if im_active \
            else np.zeros(draws)
        posts = self.kernels.gather_and_post(
            self.params, self.attended, self.engagement, self.self_efficacy_gain,
            self.sessions_attended, self.network.leader, log_u_msg, self.rate, self.posts,
            self.posts_total, gathering, im_active)
        moderator = kernels.poisson_counts(log_u_msg[self.n:],
                                           s.program.im.moderator_posts_per_week / 7.0)
        self._ties(gathering, im_active, evolve=True)
        e = s.economics
        df_qaly = (1.0 + e.discount_rate_effects) ** (-d / DAYS_PER_YEAR)
        df_cost = (1.0 + e.discount_rate_costs) ** (-d / DAYS_PER_YEAR)
        digital = plan.education_hours[d] > 0 and s.program.education.mode == "digital"
        p = self.patients
        taken = self.kernels.patient_pass(
            self.params, d, im_active, digital, self.attended, self.received, moderator,
            self.network.group_id, self.network.leader, self.norm, self.baseline_norm,
            self._logistic(self.streams.day("dosing", d)), self.base_logit, self.adherence0,
            p.hba1c0_pct, self.multiplier, p.utility0, p.distress0, p.digital_literacy,
            self.engagement_resting, self.knowledge_gain, self.self_efficacy_gain,
            self.engagement, self.support, self.contact, self.practice, self.adherence,
            self.dose_window, self.pdc_count, self.adherent, self.hba1c, self.distress,
            self.utility, self.qalys, self.qalys_undiscounted, df_qaly / DAYS_PER_YEAR,
            self.cost, e.medication_cost_per_dose * df_cost,
            e.healthcare_cost_per_year * df_cost / DAYS_PER_YEAR,
            e.healthcare_cost_per_hba1c_pct_year * df_cost / DAYS_PER_YEAR)
        if im_active:
            posts += int(moderator.sum())
        self._accounting(d, posts, taken, df_cost)
        self.day = d + 1
        if self.day % s.run.record_every_days == 0 or self.day == plan.days:
            self.record()
        self.running = self.day < plan.days

    def _logistic(self, rng: np.random.Generator) -> np.ndarray:
        """Standard logistic variates log(u / (1 - u)) of one uniform per patient."""
        u = rng.random(self.n)
        z = np.log(u)
        z -= np.log1p(-u)
        return z

    def _ties(self, gathering: bool, im_active: bool, evolve: bool) -> None:
        g, bg = self.network.group, self.network.background
        self.kernels.tie_pass(self.params, g.indptr, g.indices, g.data, bg.indptr, bg.indices,
                         bg.data, self.attended, self.engagement, self.posts, self.adherent,
                         self.received, self.norm, gathering, im_active, evolve)

    def _gatherings(self, d: int) -> bool:
        """Phase 2 (draws): who attends a session or in-person education today."""
        plan, s = self.plan, self.spec
        hours = plan.education_hours[d]
        in_person_ed = s.program.education.mode == "in_person" and hours > 0
        if not (plan.session[d] or hours > 0):
            if self.attended.any():
                self.attended[:] = False
            return False
        u = self.streams.day("attendance", d).random(self.n)
        invited = self.group_offered if plan.session[d] and not in_person_ed else in_person_ed
        np.logical_and(invited, u < self.patients.attendance_prob, out=self.attended)
        if hours > 0:
            reached = self.attended if in_person_ed else u < self.patients.digital_literacy
            self.education_hours += hours * reached
            kernels.knowledge_gains(self.patients.knowledge0, self.education_hours,
                                    s.behaviour.knowledge_hours_scale, self.knowledge_gain)
        return bool(self.attended.any())

    def _accounting(self, d: int, posts: int, taken: int, df_cost: float) -> None:
        """Phase 8 (program costs; medication, healthcare and QALYs accrue per patient)."""
        e, plan, n = self.spec.economics, self.plan, self.n
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
        if self.attended.any() or hours_ed > 0:
            per_patient = np.zeros(n)
            if plan.session[d]:
                per_patient += (self.attended & self.group_offered) * e.session_cost_per_attendee
            if hours_ed > 0 and self.spec.program.education.mode == "in_person":
                per_patient += self.attended * (hours_ed * e.education_cost_per_patient_hour)
            elif hours_ed > 0:
                shared += n * hours_ed * e.digital_education_cost_per_patient_hour
            caused = float(per_patient.sum())
            self.cost += per_patient * df_cost
        led = self.ledger
        led.program += shared + caused
        led.shared_discounted += shared * df_cost
        led.medication += taken * e.medication_cost_per_dose
        healthcare = n * e.healthcare_cost_per_year / DAYS_PER_YEAR
        if e.healthcare_cost_per_hba1c_pct_year:
            excess = float(np.maximum(self.hba1c - 7.0, 0.0).sum())
            healthcare += e.healthcare_cost_per_hba1c_pct_year * excess / DAYS_PER_YEAR
        led.healthcare += healthcare
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
        """Append today's population means to the time series and the DataCollector."""
        self.records.append(self.population_means())
        self.datacollector.collect(self)


def root_seed(value: int | np.integer | np.random.Generator | None) -> int:
    """The root seed of a run: an int as given; None or a Generator: a fresh 63-bit draw."""
    if isinstance(value, int | np.integer):
        return int(value)
    return int(np.random.default_rng(value).integers(2**63))


def _latest(key: str, model: PeerSupportModel) -> float:
    return model.records[-1][key]


MODEL_REPORTERS = {key: functools.partial(_latest, key) for key in (
    "day", "pdc_mean", "adherent_share", "adherence_mean", "hba1c_mean", "utility_mean",
    "engagement_mean", "support_mean", "practice_mean", "knowledge_gain_mean",
    "self_efficacy_gain_mean", "tie_strength_mean", "attended_any_share", "cost_per_patient",
    "qalys_per_patient")}
"""DataCollector model reporters: the population means of ``population_means()``."""
