"""The declared patient state and the daily kernels that take it whole."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np
import pytest

from sim import PeerSupportModel, load_scenario
from sim.core import dynamics, kernels, phases
from sim.core.state import PatientState

from .conftest import DESIGNS, ROOT


def _run(kernel_set: kernels.DayKernels, contagion: str, days: int = 30) -> PeerSupportModel:
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml",
                       {"population.size": 3000, "run.days": days,
                        "behaviour.contagion": contagion,
                        "clinical.course_sd_pct": 0.5})  # the course's writes too
    m = PeerSupportModel(sc, seed=3, agent_views=False)
    m.kernels = kernel_set
    for _ in range(days):
        m.step()
    ran = kernel_set.day_pass if kernel_set.run_days is None else kernel_set.run_days
    assert ran in m._entry_points, "other kernels ran"
    return m


@pytest.mark.parametrize("contagion", ["simple", "complex", "graded"])
def test_parallel_kernels_match_serial_bit_for_bit(contagion):
    """numba's parallel loops can silently drop writes to arrays held in a tuple (numba
    #5872): every state array and tie strength must match the serial kernels exactly."""
    serial, parallel = _run(kernels.SERIAL, contagion), _run(kernels.PARALLEL, contagion)
    assert serial.state.qalys.min() > 0, "30 days must accrue QALYs"
    for name in PatientState._fields:
        a, b = getattr(serial.state, name), getattr(parallel.state, name)
        assert np.array_equal(a, b), f"{name}: the parallel kernels differ from the serial ones"
    for name, a in serial.ties._asdict().items():
        assert np.array_equal(a, getattr(parallel.ties, name)), f"ties: {name} differs"
    assert np.array_equal(serial.network.group.data, parallel.network.group.data), "rapport"
    assert serial.ledger == parallel.ledger, "posts and doses counted differently"


def test_state_declares_every_patient_array():
    m = PeerSupportModel(load_scenario({}, {"population.size": 500, "run.days": 5}), seed=1,
                         agent_views=False)
    window = m.spec.behaviour.pdc_window_days
    for name, array in zip(PatientState._fields, m.state, strict=True):
        assert isinstance(array, np.ndarray), f"{name} is not an array"
        want = (window, m.n) if name == "dose_window" else (m.n,)
        assert array.shape == want, f"{name}: shape {array.shape}, expected {want}"
    assert m.hba1c is m.state.hba1c, "model.<field> must read the state array itself"
    assert m.state.hba1c0_pct is m.patients.hba1c0_pct, "baseline attributes are not copied"
    assert m.ties.bg_indices is m.network.background.indices, "the network's own arrays"
    with pytest.raises(AttributeError):
        m.state.hba1c = np.zeros(m.n)  # a field cannot be rebound, only updated in place
    with pytest.raises(AttributeError, match="no attribute 'hba1c_typo'"):
        _ = m.hba1c_typo


def _chosen_in_thread(n: int) -> kernels.DayKernels:
    chosen = []
    worker = threading.Thread(target=lambda: chosen.append(kernels.day_kernels(n)))
    worker.start()
    worker.join()
    return chosen[0]


def test_kernels_are_parallel_only_where_it_pays_and_is_safe(monkeypatch):
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    assert kernels.day_kernels(kernels.PARALLEL_MIN_PATIENTS - 1) is kernels.SERIAL
    assert kernels.day_kernels(kernels.PARALLEL_MIN_PATIENTS) is kernels.PARALLEL
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    assert _chosen_in_thread(5000) is kernels.PARALLEL, "omp is thread-safe"
    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert _chosen_in_thread(5000) is kernels.SERIAL, "workqueue aborts on concurrent use"
    assert kernels.day_kernels(5000) is kernels.PARALLEL, "the main thread launches alone"
    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    assert kernels.day_kernels(5000) is kernels.SERIAL, "one thread: no pool to wake"


def test_concurrent_runs_in_threads_survive_the_workqueue_layer():
    """Three threads stepping 3,000 patients at once, built there or on the main thread:
    with parallel kernels, numba's workqueue layer would abort the process ("Concurrent
    access has been detected")."""
    code = textwrap.dedent("""
        import threading
        from sim import load_scenario
        from sim.core.simulation import Simulation

        def build():
            return Simulation(load_scenario({}, {"population.size": 3000, "run.days": 30}), 1)

        def steps(sim):
            for _ in range(30):
                sim.step()

        built_here = [build() for _ in range(2)]  # chosen on the main thread, stepped in others
        threads = [threading.Thread(target=lambda: steps(build()))] + [
            threading.Thread(target=steps, args=(sim,)) for sim in built_here]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        steps(build())  # and the main thread, in parallel, after them
        import numba
        print(numba.threading_layer())
    """)
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "workqueue", "the main thread's run must be parallel"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_runs_in_a_child_forked_after_parallel_kernels_ran():
    """GNU OpenMP aborts a forked child of a process that used it ("fork() called from a
    process already using GNU OpenMP"): such a child runs the serial kernels, same numbers."""
    code = textwrap.dedent("""
        import multiprocessing
        from sim import load_scenario, run
        from sim.core.simulation import Simulation

        scenario = load_scenario({}, {"population.size": 3000, "run.days": 30})
        started = Simulation(scenario, 1)  # built and stepped in the parent, then forked

        def change(seed):
            return run(scenario, seed=seed).summary["hba1c_change"]

        def step_on(_):
            for _ in range(5):
                started.step()
            return started.day

        if __name__ == "__main__":
            here = change(1)
            started.step()
            # a fresh child per task: two tasks in one child would step its model twice
            with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
                there = pool.map(change, [1, 1])
                days = pool.map(step_on, [0, 1])
            print(here == there[0] == there[1] and days == [6, 6])
    """)
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "True"


@numba.njit(cache=False)
def _total(values, scale):
    return values.sum() * scale


def test_entry_points_are_kept_per_argument_types_only():
    """One compiled entry point per process and argument types: the same for new arrays of
    the same type, another for any difference numba's types see (dtype, dimensions, layout,
    writability), so an entry point never unboxes an argument of another type."""
    from sim.core.numba_cache import entry_point

    a = np.arange(4.0)
    first = entry_point(_total, (a, 2.0))
    assert entry_point(_total, (np.ones(9), 3.0)) is first
    readonly = np.arange(4.0)
    readonly.flags.writeable = False
    variants = [(readonly, 2.0), (np.arange(4), 2.0), (np.arange(8.0)[::2], 2.0),
                (np.ones((2, 2)), 2.0), (a, 2)]
    found = [entry_point(_total, args) for args in variants]
    assert len({id(f) for f in [first, *found]}) == len(variants) + 1
    for f, args in zip(found, variants, strict=True):
        assert f(*args) == args[0].sum() * args[1]


def test_type_keys_tell_apart_what_numbas_types_tell_apart():
    """Values whose numba types differ beyond their Python type get different keys."""
    from sim.core.numba_cache import _type_key

    pairs = [(np.datetime64(1, "s"), np.datetime64(1, "D")), ([1], [1.5]),
             (1, 2**63), (2**63, -(2**63) - 1), (np.int32(1), np.int64(1)), (True, 1),
             (np.zeros(2, dtype="M8[s]"), np.zeros(2, dtype="M8[D]"))]
    for a, b in pairs:
        assert _type_key(a) != _type_key(b), (a, b)
    assert _type_key(3) == _type_key(-5) and _type_key(2.0) == _type_key(7.5)


_PASSES_ONLY = """
import numpy as np
from sim import load_scenario
from sim.core import kernels, phases
from sim.core.simulation import Simulation
m = Simulation(load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                             {"population.size": 20, "run.days": 2}), 1)
t = phases.today(m.schedule, m.costs, 0, False)
for k in (kernels.SERIAL, kernels.PARALLEL):
    k.gather_and_post(m.params, t, m.state, m.keys)
    k.tie_pass(m.params, t, m.ties, m.state, np.zeros(m.network.n_groups, np.int32), True)
    k.patient_pass(m.params, t, m.state, m.keys)
"""

_WHOLE_DAYS = """
from tests.conftest import warm_kernels
warm_kernels()
print("warm")
"""


@pytest.mark.slow
def test_cached_run_days_load_after_the_passes_were_cached_apart(tmp_path):
    """One process caches the passes alone, the next compiles the days against them, a third
    loads them, as a fresh clone's test workers do. numba's cache crashed that third process
    when it loaded a cached loop over days around the parallel passes (the slow suite of a
    fresh clone, twice, 2026-12-03); ``run_days`` is now compiled with the serial passes only
    (its docstring), and this sequence must keep working."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "2"}
    for code in (_PASSES_ONLY, _WHOLE_DAYS, _WHOLE_DAYS):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=False, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "warm"


def _day_by_day(m: PeerSupportModel, strength: np.ndarray, moderator: np.ndarray,
                t: phases.Today) -> dict[str, np.ndarray]:
    """The tie pass as a loop over every tie every day: the model's definition, in Python."""
    p, st, g, bg = m.params, m.state, m.network.group_ties, m.network.background
    out = {name: np.zeros(m.n) for name in ("received", "session_peers", "norm")}
    for i in range(m.n):
        met = recv = weight = total = 0.0
        for k in range(g.indptr[i], g.indptr[i + 1]):
            j, s = g.indices[k], strength[k]
            if t.gathering and st.attended[i] and st.attended[j]:
                met += s
                s = dynamics.toward_one(s, p.in_person_gain)
            if t.im_active and st.posts[j] > 0:
                read = min(st.posts[j], p.read_limit)
                recv += s * read
                s = dynamics.toward_one(s, p.im_gain * st.engagement[i] * read)
            weight += (s > 0.0 if p.complex_contagion else s) * st.adherent[j]
            total += s
            strength[k] = s * p.tie_keep + (1.0 - p.tie_keep) * p.strength_floor
        for k in range(bg.indptr[i], bg.indptr[i + 1]):
            s = bg.data[k]
            weight += (s > 0.0 if p.complex_contagion else s) * st.adherent[bg.indices[k]]
            total += s
        out["received"][i] = recv
        out["session_peers"][i] = dynamics.saturating(met, p.session_support_half, 1.0)
        out["norm"][i] = (dynamics.complex_norm(weight, p.complex_threshold, p.norm_effect)
                          if p.complex_contagion else
                          dynamics.simple_norm(weight, total, p.norm_effect))
    return out


@pytest.mark.parametrize("options", [{}, {"behaviour.contagion": "complex"},
                                     {"network.strength_floor": 0.0,
                                      "network.initial_group_strength": 0.0},
                                     {"network.strength_decay_days": 2.0}])
def test_the_tie_pass_gives_what_a_pass_over_every_tie_every_day_gives(options):
    """Rapport kept as excess over the floor, to scale, with running sums (``tie_pass``),
    against the definition: every tie met, read, weighed and decayed every day. Only the
    last bits may differ. A decay of 2 days rescales every 10 days (``RESCALE_BELOW``)."""
    sc = load_scenario(DESIGNS / "hybrid_monthly.yaml",
                       {"population.size": 120, "run.days": 80, "network.group_size": 8,
                        "program.im.posts_per_week": 3.0, **options})
    m = PeerSupportModel(sc, seed=5, agent_views=False)
    m.kernels = kernels.SERIAL
    p, st, k = m.params, m.state, kernels.SERIAL
    strength = m.network.group.data.copy()
    rescaled, read, met, raised = 0, 0.0, 0.0, 0.0
    for d in range(sc.run.days):
        gathering = k.gatherings(m.schedule, st, m.keys.attendance, d)
        t = phases.today(m.schedule, m.costs, d, gathering)
        k.gather_and_post(p, t, st, m.keys)
        moderator = k.moderator_posts(m.keys.messaging, d, m.n, m.network.n_groups, 0.5)
        want = _day_by_day(m, strength, moderator, t)
        if m.ties.scale[0] < kernels.RESCALE_BELOW:
            k.rescale_ties(p, m.ties)
            rescaled += 1
        k.tie_pass(p, t, m.ties, st, moderator, True)
        m._rapport_written = False
        for name, values in want.items():
            np.testing.assert_allclose(getattr(st, name), values, rtol=1e-12, atol=1e-13,
                                       err_msg=f"day {d}: {name}")
        np.testing.assert_allclose(m.network.group.data, strength, rtol=1e-12, atol=1e-13,
                                   err_msg=f"day {d}: rapport")
        read, met = max(read, st.received.max()), max(met, st.session_peers.max())
        raised = max(raised, strength.max() - p.strength_floor)
        k.patient_pass(p, t, st, m.keys)
    assert read > 0 and met > 0, "reading and meeting happened"
    assert np.unique(st.adherent).size == 2 and raised > 0.1, "adherence varied, rapport rose"
    assert rescaled > 0 if options.get("network.strength_decay_days") else True
