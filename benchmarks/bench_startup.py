"""Start-up cost: ``import sim`` and ``peersupport --help`` (wall, median of N, and CPU).

Usage: ``python benchmarks/bench_startup.py [--repeat 5] [--label after]``. Each measure
runs in a fresh interpreter from a temporary directory; the table is appended to
``benchmarks/results.md``. ``python -X importtime -c "import sim"`` shows where
the time goes when a number regresses.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
MEASURES = (
    ("`import sim`", ["-c", "import sim"], 0.5),
    ("`peersupport --help`", ["-m", "sim.cli.main", "--help"], 0.3),
    ("python alone (`-c pass`)", ["-c", "pass"], None),
)


def timed(args: list[str], cwd: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh interpreter running ``args``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--label", default="", help="a note for the heading, e.g. 'before'")
    args = parser.parse_args()
    rows = ["| measure | wall (median) | CPU (median) | target |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as cwd:
        for label, cmd, target in MEASURES:
            timed(cmd, cwd)  # warm the file cache and the bytecode
            runs = [timed(cmd, cwd) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            goal = f"< {target} s" if target else ""
            rows.append(f"| {label} | {wall:.3f} s | {cpu:.3f} s | {goal} |")
            print(rows[-1])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"## {stamp}" + (f" ({args.label})" if args.label else "")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    note = f"median of {args.repeat} fresh interpreters; load average {os.getloadavg()[0]:.1f}"
    text = "\n".join(["", heading, "", machine + "; " + note, "", *rows, ""])
    with RESULTS.open("a") as fh:
        fh.write(text)
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
