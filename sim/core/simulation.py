"""Simulation: patients on peer networks, a program design, days simulated in compiled calls.

Patient state lives in numpy arrays (``sim.core.state``), advanced by compiled daily
kernels (``sim.core.kernels``): ``advance`` runs as many days as asked in one compiled call.
This class has no Mesa in it, so the runner, sweeps and ``peersupport run`` start without
importing Mesa (and what Mesa imports: pandas, networkx, scipy.spatial);
``sim.core.model.PeerSupportModel`` is the same simulation as a ``mesa.Model``, for Mesa's
tools and the dashboard.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sim.core import counter_rng, dynamics, kernels, phases
from sim.core.buddies import Buddies, build_buddies
from sim.core.network import PeerNetwork, build_network
from sim.core.numba_cache import entry_point
from sim.core.population import Patients, draw_patients, measured, measurement_cv
from sim.core.program import ContactPlan, contact_plan
from sim.core.rng import Streams
from sim.core.state import PatientState, Ties
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario, keyword_overrides, load_scenario

CALL_AGENT_DAYS = 10_000_000
"""Most patient-days one compiled call simulates: about a second's work on one core
(2,000 patients: a whole 5,000-day run; 100,000 patients: 100 days)."""


class _Total:
    """A ``Ledger`` field: one slot of its array, read as a float."""

    def __init__(self, index: int, doc: str) -> None:
        self.index, self.__doc__ = index, doc

    def __get__(self, ledger: Ledger | None, owner: type) -> Any:
        return self if ledger is None else float(ledger.values[self.index])

    def __set__(self, ledger: Ledger, value: float) -> None:
        raise AttributeError("a ledger total is read-only: the compiled days add to "
                             "ledger.values")


class Ledger:
    """Running totals (whole population, undiscounted) of costs by category, posts and calls.

    Also IM group members' (not leaders') mean engagement on open IM days, and the daily
    population means behind the time-averaged outcomes. The compiled days add to ``values``
    (``sim.core.phases.LEDGER_FIELDS``); the fields read them as floats.
    ``shared_discounted`` holds the discounted program costs no single patient causes
    (platform, peer leaders, moderation, rooms and facilitators, digital curriculum, mentors);
    costs a patient causes accrue, discounted, in ``Simulation.cost``.
    """

    program = _Total(phases.PROGRAM, "programme costs")
    medication = _Total(phases.MEDICATION, "medication costs")
    healthcare = _Total(phases.HEALTHCARE, "healthcare costs")
    shared_discounted = _Total(phases.SHARED_DISCOUNTED, "shared programme costs, discounted")
    posts = _Total(phases.POSTS, "IM posts (members', leaders' and moderators')")
    calls = _Total(phases.CALLS, "one-to-one calls that took place, one per patient called")
    engagement_open_sum = _Total(phases.ENGAGEMENT_OPEN_SUM,
                                 "members' mean engagement, summed over open IM days")
    engagement_last_open = _Total(phases.ENGAGEMENT_LAST_OPEN,
                                  "members' mean engagement on the last open IM day (nan: none)")
    adherent_share_sum = _Total(phases.ADHERENT_SHARE_SUM, "adherent share, summed over days")
    hba1c_sum = _Total(phases.HBA1C_SUM, "mean HbA1c (%), summed over days")
    utility_sum = _Total(phases.UTILITY_SUM, "mean utility, summed over days")

    def __init__(self) -> None:
        self.values = np.zeros(len(phases.LEDGER_FIELDS))
        self.values[phases.ENGAGEMENT_LAST_OPEN] = math.nan

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ledger) and np.array_equal(self.values, other.values,
                                                             equal_nan=True)

    def __repr__(self) -> str:
        return "Ledger(" + ", ".join(f"{k}={getattr(self, k)!r}"
                                     for k in phases.LEDGER_FIELDS) + ")"


class Simulation:
    """Agent-based model of a peer-support program for people with type 2 diabetes.

    Build it from a scenario and a seed, call ``step()`` once per day or ``advance(day)`` for
    many days at once (``running`` turns False at the horizon), read the state as arrays
    (``model.hba1c``, ``model.state``) and the recorded population means in ``records`` (set
    ``recording`` False before stepping to skip them: a run whose time series nobody keeps,
    as in most sweeps).
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
        self._entry_points: dict[Any, Any] = {}  # compiled function: its entry (``_call``)
        self._init_state(program_rng)
        self.buddies = self._init_buddies(program_rng)
        self.schedule = phases.schedule(s, self.plan, p, self.network.leader, self.buddies)
        self._scratch = np.empty(self.n)  # a float per patient for the compiled phases
        self.costs = phases.costs(s, n)
        self.day = 0
        self.ledger = Ledger()
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
            session_peers=np.zeros(n), messages=np.zeros(n),
            practice=np.zeros(n), adherence=adherence0.copy(), dose_window=dose_window,
            pdc_count=pdc_count, adherent=dynamics.adherent(pdc_count, b.pdc_window_days),
            hba1c=p.hba1c0_pct.copy(), hba1c_behaviour=setpoint.copy(),
            hba1c_course=p.hba1c_course0_pct.copy(), distress=p.distress0.copy(),
            burden=np.zeros(n),
            utility=p.utility0.copy(),
            qalys=np.zeros(n), qalys_undiscounted=np.zeros(n), cost=np.zeros(n))
        g, bg = net.group_ties, net.background
        self.ties = Ties(
            g.indptr, g.indices, np.append(net.group_start, n).astype(np.int64),
            excess=np.empty(g.nnz), scale=np.ones(1),
            excess_sum=np.zeros(n), adherent_excess=np.zeros(n),
            adherent_mates=np.zeros(n, dtype=np.int32),
            adopting_ties=np.zeros(n, dtype=np.int32), seen=np.zeros(n, dtype=np.uint8),
            bg_indptr=bg.indptr, bg_indices=bg.indices,
            bg_adopting=np.zeros(n, dtype=np.int32),
            bg_strength=float(self.spec.network.background.strength),
            group_messages=np.zeros(net.n_groups))
        self.kernels.set_rapport(self.params, self.ties, g.data)
        self.kernels.rescale_ties(self.params, self.ties)  # its sums; nobody counted adherent
        self._rapport_written = True
        net.write_rapport = self._write_rapport
        quiet = phases.Today(0, False, False, 0.0, False, False, False, 1.0, 0.0, 0.0, 0.0,
                             0.0)  # a day without contact
        no_posts = np.zeros(net.n_groups, dtype=np.int32)
        self.kernels.tie_pass(self.params, quiet, self.ties, self.state, no_posts, False)
        if self.spec.behaviour.contagion == "graded":
            # the baseline is the steady state, where a non-adopter's pull has long waned
            # (else usual care's norm falls below its baseline as the day-0 signals wane)
            self.state.signal_day[:] = -1_000_000
            self.kernels.tie_pass(self.params, quiet, self.ties, self.state, no_posts, False)
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
        """Advance one day (``advance``); ``running`` turns False at the horizon."""
        self._simulate(self.day + 1)

    def advance(self, until: int) -> None:
        """Simulate the days before ``until`` (at most to the horizon), in compiled runs of days.

        Each day has seven phases; ``sim.core.phases`` and the kernels' docstrings give each
        one's science:

        1. gatherings: who attends a session or education; hours and knowledge gained;
           calls: which one-to-one calls take place; rapport with the buddy or mentor;
        2. today: which channels act; the day's discount factors and unit costs;
        3. posts: session effects on self-efficacy and engagement; members' and moderators' posts;
        4. ties: rapport, support received, peer norms (yesterday's adherence), rapport decay;
        5. patients: support, contact, practice, doses, PDC, HbA1c, distress, QoL, QALYs, costs;
        6. accounting: programme costs and the day's totals (``ledger``);
        7. record: population means every ``record_every_days`` and on the last day
           (when ``recording``).

        Draws: attendance, calls, messaging, dosing, course, all counter-based (keyed by
        the day), so the days come out the same however they are split into calls. A call
        simulates at most ``CALL_AGENT_DAYS`` patient-days, so Ctrl-C (which compiled code
        cannot see) stops a large run within about a second.
        """
        self._simulate(operator.index(until))

    def _simulate(self, until: int) -> None:
        """``advance``'s loop: compiled calls up to ``until``, records on record days."""
        stop = min(until, self.plan.days)
        every = self.spec.run.record_every_days
        span = max(CALL_AGENT_DAYS // self.n, 1)
        while self.day < stop:
            end = min(self.day + span, stop)
            if self.recording:
                end = min((self.day // every + 1) * every, end)
            self._run_days(self.day, end)
            self.day = end
            if self.recording and (end % every == 0 or end == self.plan.days):
                self.record()
        self.running = self.day < self.plan.days

    def _run_days(self, start: int, stop: int) -> None:
        """Phases 1-6 of days ``start`` to ``stop - 1``: one compiled call (serial kernels).

        With the parallel kernels (``kernels.day_kernels``: 500 patients or more, several
        threads) a compiled call a phase and day instead (``kernels.run_days``' docstring says
        why): the same functions in the same order, so the same numbers.
        """
        if self._kernels_chosen_in != _here():  # stepped in another thread or a forked child
            self.kernels, self._kernels_chosen_in = kernels.day_kernels(self.n), _here()
        k = self.kernels
        run = (self.params, self.schedule, self.costs, self.ties, self.state, self.keys,
               self.spec.program.im.moderator_posts_per_week / 7.0, self.network.n_groups,
               self.ledger.values, self._scratch, start, stop)
        if k.run_days is not None:
            self._call(k.run_days, *run)
        else:
            self._days_in_passes(k, *run)
        self._rapport_written = False

    def _write_rapport(self) -> None:
        """Today's rapport into ``network.group`` (``PeerNetwork.write_rapport``), if it moved."""
        if not self._rapport_written:
            k = kernels.day_kernels(self.n)  # for the thread that reads
            k.rapport(self.params, self.ties, self.network.group_ties.data)
            self._rapport_written = True

    def _days_in_passes(self, k: kernels.DayKernels, p: kernels.DayParams, s: phases.Schedule,
                        c: phases.Costs, ties: Ties, st: PatientState, keys: kernels.StreamKeys,
                        rate: float, groups: int, ledger: np.ndarray, scratch: np.ndarray,
                        start: int, stop: int) -> None:
        """``_run_days`` with the parallel kernels: a compiled call a phase and day."""
        for d in range(start, stop):
            gathering = self._call(k.gatherings, s, st, keys.attendance, d)
            held = self._call(phases.calls, s, st, keys.calls, d, p.tie_keep, p.strength_floor) \
                if self.buddies is not None else 0
            t = self._call(phases.today, s, c, d, gathering)
            posts, taken = self._call(k.day_pass, p, t, ties, st, keys, rate, groups)
            self._call(k.accounting, s, c, st, t, posts, taken, ties.group_messages, held,
                       ledger, scratch)
            self._call(k.observe, s, st, ledger)

    def _call(self, compiled: Any, *args: Any) -> Any:
        """``compiled(*args)`` through its entry point, resolved at the model's first call.

        numba's dispatcher would type every argument at every call: 58 us a day for the phases
        of 2,000 patients (``numba_cache.entry_point``). Each function gets arguments of the
        same types at every call of a model (the model's arrays, and ints, floats and bools).
        """
        entry = self._entry_points.get(compiled)
        if entry is None:
            entry = self._entry_points[compiled] = entry_point(compiled, args)
        return entry(*args)

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

    # ------------------------------------------------------------------ outputs

    def population_means(self) -> dict[str, float]:
        """Population means of the state (what the time series records).

        Each is numpy's ``mean`` of the values, to the last bit (float64 sum over the count),
        from one compiled pass (``phases.population_sums``; it uses the phases' scratch).
        """
        led, n = self.ledger, self.n
        k = kernels.day_kernels(n)  # for the thread that records
        sums = self._call(k.population_sums, self.schedule, self.state, self._scratch)
        (pdc, adherence, hba1c, utility, distress, engagement, support, practice, knowledge,
         self_efficacy, qalys, adherent, severe, attended) = (float(x) / n for x in sums)
        return {
            "day": float(self.day),
            "pdc_mean": pdc,
            "adherent_share": adherent,
            "adherence_mean": adherence,
            "hba1c_mean": hba1c,
            "utility_mean": utility,
            "distress_mean": distress,
            "distress_severe_share": severe,
            "engagement_mean": engagement,
            "support_mean": support,
            "practice_mean": practice,
            "knowledge_gain_mean": knowledge,
            "self_efficacy_gain_mean": self_efficacy,
            "tie_strength_mean": self._rapport_mean(),
            "attended_any_share": attended,
            "cost_per_patient": (led.program + led.medication + led.healthcare) / n,
            "qalys_per_patient": qalys,
        }

    def _rapport_mean(self) -> float:
        """Mean rapport of the group ties, from the patients' sums (``kernels.tie_pass``).

        Rapport is in [0, 1]; the sums can round the mean a few ulps outside (strangers at
        rapport 0 below a floor: -3e-17).
        """
        ties = self.ties
        if not ties.excess.shape[0]:
            return 0.0
        mean = (self.params.strength_floor
                + ties.scale[0] * float(np.add.reduce(ties.excess_sum)) / ties.excess.shape[0])
        return min(max(mean, 0.0), 1.0)

    def record(self) -> None:
        """Append today's population means to the time series (``records``)."""
        self.records.append(self.population_means())


def _here() -> tuple[int, int]:
    """This process and thread: the kernels safe to run depend on both (``day_kernels``)."""
    return os.getpid(), threading.get_ident()


def root_seed(value: int | np.integer | np.random.Generator | None) -> int:
    """The root seed of a run: an int as given; None or a Generator: a fresh 63-bit draw."""
    if isinstance(value, int | np.integer):
        return int(value)
    return int(np.random.default_rng(value).integers(2**63))
