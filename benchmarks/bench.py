"""Speed and memory benchmark (run by hand; prints a table, appends to results.md).

Usage: python benchmarks/bench.py [--quick] [--sizes 1000,10000,100000,1000000] [--cli]
(``--cli``: only ``peersupport run`` 2,000 x 365 and where its start-up goes)

Every figure is measured in this run: the per-agent Mesa baseline
(benchmarks/baseline_mesa.py) runs beside the real model, so the ratios compare like
with like on the same machine and load. Each model run is a fresh subprocess, so its
peak memory (max RSS) and start-up are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIO = HERE / "full.yaml"
DAYS = 365

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from sim import load_scenario
from sim.core.model import PeerSupportModel
n, days, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sc = load_scenario(sys.argv[4], {"population.size": n, "run.days": days})
if what == "baseline":
    sys.path.insert(0, sys.argv[5])
    from baseline_mesa import BaselineModel
    t1 = time.perf_counter(); model = BaselineModel(sc, seed=1); t2 = time.perf_counter()
    model.run_for(days)
else:
    from sim.core.kernels import day_kernels
    warm = PeerSupportModel(load_scenario(sc, {"population.size": 100, "run.days": 2}), 2)
    warm.kernels = day_kernels(n)
    warm.step()  # loads the compiled kernels this size uses (serial or parallel) from cache
    t1 = time.perf_counter(); model = PeerSupportModel(sc, seed=1, agent_views=False)
    t2 = time.perf_counter()
    for _ in range(days): model.step()
t3 = time.perf_counter()
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM"))  # this process's own peak (ru_maxrss counts the parent's)
print(json.dumps({"build_s": t2 - t1, "step_s": t3 - t2, "import_s": t1 - t0,
                  "maxrss_mb": hwm / 1024}))
"""


def child(n: int, days: int, what: str, threads: int | None = None) -> dict[str, float]:
    """Run one model in a fresh process (on ``threads`` compute threads; None: every core);
    return its timings and peak memory."""
    env = None if threads is None else {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(days), what, str(SCENARIO),
                          str(HERE)], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=env)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["agent_days_per_s"] = n * days / res["step_s"]
    return res


def bandwidth_gb_s() -> float:
    """Single-core streaming bandwidth: best of 5 copies of a 512 MB array."""
    a = np.ones(64 * 2**20)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.nbytes / best / 1e9  # read + write


def bytes_per_agent_day() -> tuple[float, str]:
    """Bytes the daily kernels touch per patient, from the model's own arrays.

    The ties' part: each patient's running sums and counts, and the rapport read and written
    for every message read (members' posts a day, from 30 days of the model, x readers).
    """
    from sim import load_scenario
    from sim.core.model import PeerSupportModel

    m = PeerSupportModel(load_scenario(SCENARIO, {"population.size": 10_000}), 1,
                         agent_views=False)
    st, ties = m.state, m.ties
    per_patient = {  # arrays each pass reads (r) or reads and writes (rw)
        "r": [st.attended, st.called, st.rate, st.leader, st.posts, st.engagement_resting,
              st.call_support, st.digital_literacy, st.knowledge_gain, st.base_logit,
              st.baseline_norm, st.distress0, st.hba1c_setpoint, st.adherence0,
              st.multiplier, st.hba1c0_pct, st.utility0, ties.seen, ties.adherent_mates,
              ties.adopting_ties, ties.adherent_excess, ties.excess_sum, ties.bg_adopting,
              ties.bg_indptr],  # random numbers are computed in the kernels, not read
        "rw": [st.self_efficacy_gain, st.engagement, st.sessions_attended, st.posts, st.received,
               st.session_peers, st.messages, st.norm, st.support, st.contact, st.practice,
               st.adherence, st.pdc_count, st.adherent, st.hba1c_behaviour, st.hba1c_course,
               st.hba1c, st.burden, st.distress, st.utility, st.qalys, st.qalys_undiscounted,
               st.cost],
        # read again by a later pass (no longer in cache at 100,000)
        "again": [st.attended, st.engagement, st.leader, st.posts, st.adherent, st.messages,
                  st.self_efficacy_gain, st.norm],
    }
    patient = sum(a.itemsize for a in per_patient["r"] + per_patient["again"]) + 2 * sum(
        a.itemsize for a in per_patient["rw"]) + 2 * st.dose_window.itemsize
    for _ in range(30):
        m.step()
    reads = st.posts_total.sum() / (30 * m.n) * (ties.excess.shape[0] / m.n)  # x readers
    ties_bytes = reads * 2 * ties.excess.itemsize
    return patient + ties_bytes, f"{patient:.0f} B patient state + {ties_bytes:.0f} B ties"


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numba

    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python "
            f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")


def cli_wall(n: int = 2000) -> float:
    """Wall time of `peersupport run` (hybrid kick-off design), start-up included; best of 3.

    Python may write its bytecode caches, as on a user's machine (an environment with
    PYTHONDONTWRITEBYTECODE set compiles peersupport's modules from source every time).
    """
    exe = Path(sys.executable).with_name("peersupport")
    cmd = [str(exe), "run", str(ROOT / "scenarios/designs/hybrid_kickoff.yaml"),
           "--set", f"population.size={n}", "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, capture_output=True, check=True, env=env)  # warm the caches
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        best = min(best, time.perf_counter() - t)
    return best


STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy, pyarrow, numba, pydantic, scipy.sparse  # the run path needs these
t1 = time.perf_counter()
import sim.runner
from sim.params.scenario import load_scenario
t2 = time.perf_counter()
sim.runner.package_versions(), sim.runner.code_identity()  # cached: run() reuses them
t3 = time.perf_counter()
sc = load_scenario(sys.argv[1], {"population.size": int(sys.argv[2]), "run.days": 1,
                                 "lifetime.enabled": False})
sim.runner.run(sc)  # one day: loads the compiled kernels from the cache
t4 = time.perf_counter()
print(json.dumps({"libraries": t1 - t0, "sim": t2 - t1, "provenance": t3 - t2,
                  "first_call": t4 - t3}))
"""


def cli_breakdown(n: int = 2000) -> dict[str, float]:
    """Where the start-up of ``peersupport run`` goes (median of 3 fresh processes, s).

    Imports of the libraries every run needs (numpy, pyarrow, numba, pydantic, scipy; a run
    imports neither Mesa nor pandas), then peersupport's own modules, the provenance
    (package versions, source hash, git state), then a one-day run without the lifetime
    stage (scenario validation, loading the cached compiled kernels: numba's registries).
    """
    scenario = str(ROOT / "scenarios/designs/hybrid_kickoff.yaml")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    runs = [json.loads(subprocess.run([sys.executable, "-c", STARTUP, scenario, str(n)],
                                      capture_output=True, text=True, check=True, env=env,
                                      ).stdout.splitlines()[-1]) for _ in range(3)]
    return {key: float(np.median([r[key] for r in runs])) for key in runs[0]}


def sweep_throughput(workers: int, runs: int) -> tuple[float, float]:
    """Runs per second of 2,000 patients x 365 days through the sweep engine.

    Returns the rate of a sweep of ``runs`` (the workers' start-up included) and the steady
    rate: ``runs`` more runs over the extra time a sweep of twice as many takes (what a long
    sweep, such as a Sobol' analysis, sees). Each length is timed twice and the faster kept:
    one slow sweep (a loaded host) would otherwise swing the difference, even below zero, for
    which the steady rate is NaN.
    """
    first = min(_sweep_seconds(workers, runs) for _ in range(2))
    extra = min(_sweep_seconds(workers, 2 * runs) for _ in range(2)) - first
    return runs / first, runs / extra if extra > 0 else float("nan")


def _sweep_seconds(workers: int, runs: int) -> float:
    """Wall time of a sweep of ``runs`` runs of 2,000 patients x 365 days."""
    import tempfile

    from sim.core.rng import derive_seed
    from sim.engine.options import RunOptions
    from sim.engine.tasks import Task, run_tasks

    base = str(ROOT / "scenarios/designs/hybrid_kickoff.yaml")
    tasks = [Task(run_id=i, scenario=base, seed=derive_seed(1, i)) for i in range(runs)]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_tasks(tasks, Path(tmp) / "store", RunOptions(
            workers=workers, executor="serial" if workers == 1 else "local"))
        return time.perf_counter() - t


def main() -> None:
    """Measure, print the table, append it to benchmarks/results.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip 1,000,000 and shorten the rest")
    ap.add_argument("--sizes", default=None, help="comma-separated population sizes")
    ap.add_argument("--cli", action="store_true",
                    help="only `peersupport run` 2,000 x 365 and where its start-up goes")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000])
    rows: list[tuple[str, str, str]] = []

    def add(what: str, value: str, target: str = "") -> None:
        rows.append((what, value, target))
        print(f"{what:58s} {value:>22s}  {target}", flush=True)

    add("`peersupport run` 2,000 x 365, wall incl. start-up (best of 3)", f"{cli_wall():.2f} s",
        "target < 1.2 s")
    for what, seconds in cli_breakdown().items():
        add(f"  start-up part: {STARTUP_PARTS[what]}", f"{seconds:.2f} s")
    if args.cli:
        return append(rows)
    bw = bandwidth_gb_s()
    bpad, detail = bytes_per_agent_day()
    add("memory bandwidth, one core (copy)", f"{bw:.1f} GB/s")
    add(f"bytes touched per agent-day ({detail})", f"{bpad:.0f} B")
    add("ceiling at that bandwidth", f"{bw * 1e9 / bpad / 1e6:.0f} M agent-days/s")
    model = {}
    for n in sizes:
        model[n] = r = child(n, DAYS, "model")
        target = {100_000: "target >= 35 M", 1_000_000: "target < 60 s, < 1.5 GB"}.get(n, "")
        add(f"model N={n:,} x {DAYS} d: agent-days/s", f"{r['agent_days_per_s'] / 1e6:.1f} M",
            target)
        add("  wall (steps), build, peak memory",
            f"{r['step_s']:.1f} s, {r['build_s']:.2f} s, {r['maxrss_mb']:.0f} MB")
        add("  share of the bandwidth ceiling (bytes touched x agent-days/s / bandwidth)",
            f"{r['agent_days_per_s'] * bpad / (bw * 1e9):.0%}")
    # Bandwidth-bound passes cost more per patient-day once the state outgrows the caches;
    # compute-bound ones cost the same (then fewer bytes, e.g. float32, would not help:
    # benchmarks/results.md, 2026-12-04 05:30)
    small, large = (child(n, DAYS, "model", threads=1)["step_s"] / (n * DAYS) * 1e9
                    for n in (2_000, 100_000))
    add("one thread, ns per patient-day at N=2,000 (in cache) and N=100,000",
        f"{small:.0f}, {large:.0f} ns")
    add("  ratio (about 1: compute-bound; well above 1: bandwidth-bound)",
        f"{large / small:.2f}")
    for n in (1_000, 10_000):
        days = 365 if n == 1_000 and not args.quick else 30
        b = child(n, days, "baseline")
        add(f"per-agent Mesa baseline N={n:,} x {days} d: agent-days/s",
            f"{b['agent_days_per_s'] / 1e6:.3f} M")
        if n in model:
            ratio = model[n]["agent_days_per_s"] / b["agent_days_per_s"]
            add(f"  ratio model / baseline at N={n:,}", f"{ratio:.0f}x",
                "target >= 100x" if n == 10_000 else "")
    runs = 20 if args.quick else 60
    for workers in (1, 2):
        whole, steady = sweep_throughput(workers, runs)
        add(f"sweep throughput, 2,000 x 365 d, {workers} worker(s): {runs} runs, steady",
            f"{whole:.1f}, {steady:.1f} runs/s", "target >= 30" if workers == 2 else "")
    append(rows)


STARTUP_PARTS = {
    "libraries": "numpy, pyarrow, numba, pydantic, scipy.sparse imports",
    "sim": "peersupport's modules",
    "first_call": "scenario + 1-day run (numba loads its registries and the cached kernels)",
    "provenance": "package versions, source hash, git state",
}
"""Labels of the parts of :func:`cli_breakdown`."""


def append(rows: list[tuple[str, str, str]]) -> None:
    """Append the table to benchmarks/results.md (with the machine and load)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = f"load average {os.getloadavg()[0]:.1f}"
    with (HERE / "results.md").open("a") as fh:
        fh.write(f"\n## {stamp}\n\n{machine()}; {load}\n\n| measure | value | target |\n"
                 "|---|---|---|\n")
        for what, value, target in rows:
            fh.write(f"| {what} | {value} | {target} |\n")
    print(f"\nappended to {HERE / 'results.md'}")


if __name__ == "__main__":
    main()
