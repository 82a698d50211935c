"""The model's daily rules written the idiomatic per-agent Mesa way, as a speed baseline.

One ``mesa.Agent`` per patient with its own ``step`` methods, its ties in Python dicts,
its draws from the model's generator one at a time: what a Mesa user would write. It
calls the same science (``sim.core.dynamics``, as plain Python) in the same order of phases
as ``PeerSupportModel.step``, and starts from the same population, network and contact
plan (taken from a ``PeerSupportModel`` built with the same scenario and seed), so
``benchmarks/bench.py`` compares like with like; ``tests/test_benchmark_baseline.py``
checks that its population means agree with the real model's within sampling error.

Usage: python benchmarks/baseline_mesa.py [N] [DAYS]
"""

from __future__ import annotations

import math
import sys
import time
import types
from typing import Any

import mesa

from sim.core import dynamics
from sim.core.economics import DAYS_PER_YEAR, discount_factor
from sim.core.model import PeerSupportModel
from sim.params.scenario import Scenario, load_scenario


def _plain(compiled: Any) -> Any:
    """A numba function's original Python, calling Python's math where it calls ``vmath``."""
    fn = compiled.py_func
    plain_math = types.SimpleNamespace(exp=math.exp, expm1=math.expm1, log=math.log)
    return types.FunctionType(fn.__code__, {**fn.__globals__, "vmath": plain_math},
                              fn.__name__, fn.__defaults__, fn.__closure__)


# The science as plain Python (numba's original functions): no compiled code here.
relax, toward_one = _plain(dynamics.relax), _plain(dynamics.toward_one)
poisson_inverse, dose_logit = _plain(dynamics.poisson_inverse), _plain(dynamics.dose_logit)
simple_norm, complex_norm = _plain(dynamics.simple_norm), _plain(dynamics.complex_norm)
hba1c_target, practice_target = _plain(dynamics.hba1c_target), _plain(dynamics.practice_target)
knowledge_gain, utility = _plain(dynamics.knowledge_gain), _plain(dynamics.utility)
distress_target, follow = _plain(dynamics.distress_target), _plain(dynamics.follow)
burden_update, overload = _plain(dynamics.burden_update), _plain(dynamics.overload)
adherent = _plain(dynamics.adherent)
clinical_course, true_hba1c = _plain(dynamics.clinical_course), _plain(dynamics.true_hba1c)
saturating = _plain(dynamics.saturating)


class BaselinePatient(mesa.Agent):
    """One patient: its own state, its ties in dicts, its own step methods."""

    def __init__(self, model: BaselineModel, i: int, ref: PeerSupportModel) -> None:
        super().__init__(model)
        p, st = ref.patients, ref.state
        self.i = i
        self.leader = bool(ref.network.leader[i])
        self.group = int(ref.network.group_id[i])
        self.offered = bool(st.group_offered[i])
        self.base_logit = float(st.base_logit[i])
        self.adherence0 = float(st.adherence0[i])
        self.hba1c0 = float(p.hba1c0_pct[i])
        self.multiplier = float(st.multiplier[i])
        self.utility0 = float(p.utility0[i])
        self.distress0 = float(p.distress0[i])
        self.knowledge0 = float(p.knowledge0[i])
        self.literacy = float(p.digital_literacy[i])
        self.attend_prob = float(p.attendance_prob[i])
        self.rate = float(st.rate[i])
        self.resting = float(st.engagement_resting[i])
        self.engagement = float(st.engagement[i])
        self.window = [int(x) for x in st.dose_window[:, i]]
        self.pdc_count = int(st.pdc_count[i])
        self.adherent = bool(st.adherent[i])
        self.adherence = self.adherence0
        self.hba1c = self.hba1c0
        self.course = float(p.hba1c_course0_pct[i])
        self.setpoint = self.behaviour_hba1c = float(st.hba1c_setpoint[i])
        self.utility = self.utility0
        self.distress = self.distress0
        self.burden = 0.0
        self.support = self.contact = self.practice = 0.0
        self.self_efficacy_gain = self.education_hours = self.knowledge_gain = 0.0
        self.qalys = 0.0
        self.attended = False
        self.posts = 0
        self.received = 0.0
        self.norm = 0.0
        self.baseline_norm = float(st.baseline_norm[i])
        g = ref.network.group
        self.group_ties = {int(j): float(g.data[k])
                           for k, j in enumerate(g.indices[g.indptr[i]:g.indptr[i + 1]],
                                                 start=int(g.indptr[i]))}
        bg = ref.network.background
        self.background_ties = {int(bg.indices[k]): float(bg.data[k])
                                for k in range(bg.indptr[i], bg.indptr[i + 1])}

    def gather(self) -> None:
        """Phases 1 and 3: attend today's gathering, gain self-efficacy and engagement."""
        m = self.model
        self.self_efficacy_gain *= m.p.self_efficacy_keep
        u = m.rng.random()
        self.attended = m.invited(self) and u < self.attend_prob
        if m.hours > 0:
            reached = self.attended if m.in_person_ed else u < self.literacy
            if reached:
                self.education_hours += m.hours
            self.knowledge_gain = knowledge_gain(self.knowledge0, self.education_hours,
                                                 m.spec.behaviour.knowledge_hours_scale)
        if self.attended:
            self.self_efficacy_gain += m.p.self_efficacy_gain * (
                1.0 - self.self_efficacy_gain / 2.0)
            self.engagement = toward_one(self.engagement, m.p.engagement_boost)

    def post(self) -> None:
        """Phase 3: today's messages."""
        m = self.model
        lam = min(self.rate * (1.0 if self.leader else self.engagement), m.p.max_posts_per_day)
        self.posts = poisson_inverse(m.rng.random(), lam) if m.im_active else 0

    def read_ties(self) -> None:
        """Phase 4: rapport, messages read, peer norm, decay, tie by tie."""
        m, p = self.model, self.model.p
        agents = m.by_index
        recv = weight = ties = 0.0
        for j, s in self.group_ties.items():
            other = agents[j]
            if m.gathering and self.attended and other.attended:
                s = toward_one(s, p.in_person_gain)
            if m.im_active and other.posts > 0:
                read = min(other.posts, p.read_limit)
                recv += s * read
                s = toward_one(s, p.im_gain * self.engagement * read)
            if p.complex_contagion:
                weight += (s > 0.0) * other.adherent
            else:
                ties += s
                weight += s * other.adherent
            self.group_ties[j] = s * p.tie_keep + (1.0 - p.tie_keep) * p.strength_floor
        for j, s in self.background_ties.items():
            if p.complex_contagion:
                weight += (s > 0.0) * agents[j].adherent
            else:
                ties += s
                weight += s * agents[j].adherent
        self.received = recv
        self.norm = (complex_norm(weight, p.complex_threshold, p.norm_effect)
                     if p.complex_contagion else simple_norm(weight, ties, p.norm_effect))

    def act(self) -> None:
        """Phase 5: support, practice, dosing, adherence, HbA1c, QoL, QALYs."""
        m, p = self.model, self.model.p
        support_today = messages = 0.0
        if m.im_active:
            support_today = self.engagement * (
                self.received + p.moderator_strength * min(m.moderator[self.group], p.read_limit))
            messages = support_today
            support_today = saturating(support_today, p.support_half_messages, p.support_max)
            if self.leader:
                self.engagement = 1.0
            else:
                e = relax(self.engagement, self.resting, p.engagement_rate)
                self.engagement = toward_one(e, p.engagement_reinforcement
                                             * min(support_today, 1.0))
        self.support = relax(self.support, support_today, p.support_rate)
        c = max(self.contact * p.contact_keep, 1.0 if self.attended else 0.0)
        if m.im_active:
            c = max(c, min(support_today, 1.0))
        if m.digital:
            c = max(c, self.literacy)
        self.contact = c
        target = practice_target(self.knowledge_gain, c, self.support, p.retention,
                                 p.support_practice)
        self.practice = relax(self.practice, target, p.practice_rate)
        logit = dose_logit(self.base_logit, self.support, self.norm - self.baseline_norm,
                           self.self_efficacy_gain, self.knowledge_gain,
                           self.distress - self.distress0, p.support_effect,
                           p.self_efficacy_effect, p.knowledge_effect, p.distress_barrier)
        u = m.rng.random()
        took = logit > math.log(u) - math.log1p(-u)
        self.adherence = relax(self.adherence, 1.0 if took else 0.0, p.adherence_rate)
        slot = m.day % p.pdc_window
        self.pdc_count += int(took) - self.window[slot]
        self.window[slot] = int(took)
        self.adherent = adherent(self.pdc_count, p.pdc_window)
        target = hba1c_target(self.setpoint, self.adherence, self.adherence0, self.practice,
                              self.multiplier, p.adherence_slope, p.lifestyle_effect,
                              p.drift - p.progression_per_day * m.day)
        self.behaviour_hba1c = h = relax(self.behaviour_hba1c, target, p.hba1c_rate)
        if p.clinical_course:
            self.course = clinical_course(self.course, p.course_keep, p.course_step,
                                          m.rng.standard_normal())
            h = true_hba1c(h, self.course)
        self.hba1c = h
        self.burden = burden_update(self.burden, m.gathering_hours if self.attended else 0.0,
                                    p.burden_keep)
        o = overload(messages, p.overload_messages)
        target = distress_target(
            self.distress0, self.support, self.self_efficacy_gain, self.knowledge_gain,
            self.hba1c - self.hba1c0, self.burden, o, p.distress_per_support,
            p.distress_per_self_efficacy, p.distress_per_knowledge, p.distress_per_hba1c_rise,
            p.distress_per_burden, p.distress_per_overload)
        self.distress = follow(self.distress, target, p.distress_rate)
        self.utility = utility(self.utility0, self.hba1c - self.hba1c0, self.knowledge_gain,
                               self.support, self.distress - self.distress0, self.burden, o,
                               p.per_hba1c, p.per_knowledge, p.per_support, p.per_distress,
                               p.per_burden, p.per_overload, p.participation_utility)
        self.qalys += self.utility * m.qaly_weight


class BaselineModel(mesa.Model):
    """Per-agent Mesa version of PeerSupportModel's daily rules (costs left out)."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        super().__init__(rng=seed)
        ref = PeerSupportModel(scenario, seed, agent_views=False)
        self.spec, self.p, self.plan = scenario, ref.params, ref.plan
        self.n_groups = ref.network.n_groups
        self.by_index = [BaselinePatient(self, i, ref) for i in range(ref.n)]
        self.day = 0

    def invited(self, agent: BaselinePatient) -> bool:
        """Whether the agent is invited to a gathering today."""
        if self.session and not self.in_person_ed:
            return agent.offered
        return self.in_person_ed

    def step(self) -> None:
        """One day: the phases of PeerSupportModel.step, agent by agent."""
        d, plan, s = self.day, self.plan, self.spec
        self.session = bool(plan.session[d])
        self.hours = float(plan.education_hours[d])
        self.in_person_ed = s.program.education.mode == "in_person" and self.hours > 0
        self.digital = self.hours > 0 and not self.in_person_ed
        self.im_active = bool(plan.im_active[d])
        self.gathering_hours = (s.program.in_person.hours_per_session * self.session
                                + self.hours * (s.program.education.mode == "in_person"))
        if self.session or self.hours > 0:
            self.agents.do("gather")
        else:
            for a in self.agents:
                a.attended = False
                a.self_efficacy_gain *= self.p.self_efficacy_keep
        self.gathering = any(a.attended for a in self.agents)
        self.agents.do("post")
        lam = s.program.im.moderator_posts_per_week / 7.0
        self.moderator = [poisson_inverse(self.rng.random(), lam)
                          if self.im_active else 0 for _ in range(self.n_groups)]
        self.agents.do("read_ties")
        self.qaly_weight = discount_factor(d, s.economics.discount_rate_effects) / DAYS_PER_YEAR
        self.agents.do("act")
        self.day += 1

    def means(self) -> dict[str, float]:
        """Population means comparable with PeerSupportModel.population_means()."""
        agents = self.by_index
        n = len(agents)
        return {
            "pdc_mean": sum(a.pdc_count for a in agents) / n / self.p.pdc_window,
            "adherent_share": sum(a.adherent for a in agents) / n,
            "hba1c_mean": sum(a.hba1c for a in agents) / n,
            "utility_mean": sum(a.utility for a in agents) / n,
            "engagement_mean": sum(a.engagement for a in agents) / n,
            "qalys_per_patient": sum(a.qalys for a in agents) / n,
        }


def main() -> None:
    """Time the baseline on the hybrid design."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    sc = load_scenario("scenarios/designs/hybrid_monthly.yaml",
                       {"population.size": n, "run.days": days})
    model = BaselineModel(sc, seed=1)
    start = time.perf_counter()
    model.run_for(days)
    wall = time.perf_counter() - start
    print(f"per-agent Mesa baseline: {n:,} patients x {days} days in {wall:.2f} s = "
          f"{n * days / wall / 1e6:.3f} M agent-days/s")
    print(model.means())


if __name__ == "__main__":
    main()
