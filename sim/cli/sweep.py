"""``peersupport sweep``: run a sweep file on this machine or a Dask cluster."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from sim.cli.options import (
    add_executor_arguments,
    add_output_arguments,
    check_memory,
    int_in,
    note,
    print_json,
    run_options,
    say,
)
from sim.cli.paths import check_output


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep", help="run many runs from a sweep file, streamed to a resumable results store",
        description="Run every run of SWEEP (levers x design points x replications) and write "
        "them to DIR as they finish (manifest.json, runs/*.parquet, timeseries/*.parquet). "
        "Exit status: 0 all runs ok, 1 some failed or were not run, 2 bad input, "
        "130 interrupted (continue with --resume).",
    )
    p.add_argument("sweep", type=Path, help="sweep YAML file (scenarios/sweeps/)")
    p.add_argument("--out", type=Path, default=None,
                   help="results directory (default: results/<sweep file name>)")
    add_executor_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue DIR: skip recorded runs (refused if the sweep changed)")
    p.add_argument("--retry-failed", action="store_true",
                   help="continue DIR and rerun the runs that failed")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the sweep and print its plan without running")
    p.add_argument("--chunk-size", type=int_in(1), default=None, metavar="RUNS",
                   help="runs sent to a worker at once (default: automatic)")
    p.add_argument("--flush-every", type=int, default=200, metavar="RUNS",
                   help="write a results part at least every RUNS runs (and every 5 s)")
    add_output_arguments(p, progress=True)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Validate, run and summarise a sweep; see :func:`register` for the exit status."""
    from sim.analyses.sweep import load_sweep, run_sweep

    sweep = load_sweep(args.sweep, max_runs=args.max_runs)
    out = args.out or Path("results") / args.sweep.stem
    check_output(out, "--out", folder=True)
    note(args, f"{args.sweep}: {sweep.describe()}")
    memory = check_memory(args, sweep.base, str(args.sweep))
    if args.dry_run:
        if args.json:
            print_json({"plan": sweep.describe(), "runs": sweep.n_runs, "memory": memory,
                        "points": sweep.points.reset_index()})
        else:
            print(f"{sweep.n_runs:,} runs, {memory} (estimated)")
            print(sweep.points.head(10).to_string() if len(sweep.points.columns) else
                  "no uncertain inputs")
        return 0
    options = run_options(args)
    note(args, f"running on {options.where}; results in {out}")
    try:
        with _sigterm_as_interrupt():
            report = run_sweep(sweep, out, options)
    except KeyboardInterrupt:
        print(f"peersupport sweep: interrupted; finished runs are saved in {out}; continue "
              "with --resume", file=sys.stderr)
        return 130
    say(args, report.describe())
    if args.json:
        print_json(report)
    return 1 if report.failed_total or report.missing else 0


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a batch-system time-out) like Ctrl-C: save finished runs, then stop."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
