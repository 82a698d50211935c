"""Benchmark of the lifetime-outcomes engine, and its Monte Carlo error table.

    PYTHONPATH=. python benchmarks/bench_lifetime.py            # 100,000 patients to death
    PYTHONPATH=. python benchmarks/bench_lifetime.py --mc       # also the MC error table

Prints a markdown table and appends it, dated, to benchmarks/results.md.
Target: 100,000 patients simulated to death (horizon age 100) in under 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sim.core.lifetime import (
    Lifetime,
    Persistence,
    draw_risk_factors,
    paired_difference,
    simulate_lifetime,
)

RESULTS = Path(__file__).with_name("results.md")


def uk_cohort(n: int, seed: int = 3):
    """ABM-like age, sex, duration, HbA1c (sim.scenario defaults) + drawn risk factors."""
    g = np.random.default_rng(seed)
    age = np.clip(g.normal(62, 10, n), 30, 90)
    duration = np.minimum(np.clip(g.normal(9, 6, n), 0, 40), age - 18)
    hba1c = np.clip(g.normal(8.2, 1.2, n), 6, 13)
    return draw_risk_factors(age, g.random(n) < 0.45, duration, hba1c, g)


def timing_rows(n: int, repeats: int) -> list[tuple[str, str, str]]:
    rf = uk_cohort(n)
    spec = Lifetime()
    simulate_lifetime(uk_cohort(1000), -0.5, spec, np.random.SeedSequence(0))  # warm caches
    walls, cpus = [], []
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = simulate_lifetime(rf, -0.5, spec, np.random.SeedSequence(r))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = min(walls)
    patient_years = float(res.life_years.sum())
    return [
        (f"{n:,} patients to death (horizon 100), wall, best of {repeats}",
         f"{best:.2f} s (all: {', '.join(f'{w:.2f}' for w in walls)})", "< 5 s"),
        ("  process CPU time of that run (single-threaded loop: the idle-machine wall)",
         f"{cpus[walls.index(best)]:.2f} s", ""),
        ("  simulated years (loop length), patient-years", f"{res.n_years}, "
         f"{patient_years / 1e6:.2f} M", ""),
        ("  patient-years per second", f"{patient_years / best / 1e6:.2f} M", ""),
        ("  dead by the horizon", f"{res.summary()['deaths_per_1000'] / 10:.1f}%", ""),
    ]


def mc_rows() -> list[tuple[str, ...]]:
    """SE of the mean discounted QALYs and of the paired -0.5 (permanent) QALY difference."""
    spec = Lifetime(persistence=Persistence(kind="permanent"))
    rows = []
    for n, reps in ((1_000, 20), (10_000, 10), (100_000, 1)):
        rf = uk_cohort(n, seed=10 + n)
        means, diffs, se_mean, se_diff = [], [], [], []
        for r in range(reps):
            seq = np.random.SeedSequence(1000 + r)
            ref = simulate_lifetime(rf, 0.0, spec, seq)
            low = simulate_lifetime(rf, -0.5, spec, seq)
            s, d = ref.summary(), paired_difference(low, ref)
            means.append(s["qalys_discounted"])
            se_mean.append(s["qalys_discounted_se"])
            diffs.append(d["qalys_discounted"])
            se_diff.append(d["qalys_discounted_se"])
        emp = (f"{np.std(means, ddof=1):.4f} / {np.std(diffs, ddof=1):.4f}" if reps > 1
               else "-")
        rows.append((f"{n:,}", f"{np.mean(means):.3f}", f"{np.mean(se_mean):.4f}",
                     f"{np.mean(diffs):.4f}", f"{np.mean(se_diff):.4f}", emp, str(reps)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="patients (default 100,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats")
    parser.add_argument("--mc", action="store_true", help="also the Monte Carlo error table")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = os.getloadavg()
    head = (f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}; load average at start "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)\n\n")
    table = "| measure | value | target |\n|---|---|---|\n" + "".join(
        f"| {a} | {b} | {c} |\n" for a, b, c in timing_rows(args.n, args.repeats))
    text = head + table
    if args.mc:
        text += ("\nMonte Carlo error, UK cohort, default spec with permanent persistence: "
                 "mean discounted QALYs per patient and the paired (CRN) difference of a "
                 "-0.5 %-point arm; SE = SD/sqrt(n) within a run; empirical = SD across "
                 "replicate seeds (mean / difference).\n\n"
                 "| patients | mean QALYs (disc.) | SE of mean | QALY difference | SE of "
                 "difference | empirical SD across seeds | replicates |\n"
                 "|---|---|---|---|---|---|---|\n"
                 + "".join("| " + " | ".join(r) + " |\n" for r in mc_rows()))
    print(text)
    if not args.no_write:
        with RESULTS.open("a") as fh:
            if RESULTS.stat().st_size == 0:
                fh.write("# Lifetime-outcomes engine benchmarks\n\n"
                         "Appended by benchmarks/bench_lifetime.py.\n\n")
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
