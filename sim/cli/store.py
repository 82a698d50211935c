"""``peersupport store``: maintain a results store (``store compact DIR``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``store`` subcommand."""
    p = sub.add_parser("store", help="maintain a results store (compact its part files)",
                       description="Maintain the results store of a sweep, sensitivity "
                       "analysis or comparison (see docs/results.md).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = actions.add_parser("compact", help="rewrite many part files into few",
                           description="Rewrite DIR's runs and time-series parts into few "
                           "large ones, keeping each run's kept record once (what "
                           "load_results reads). Safe to interrupt; not while a sweep writes "
                           "to DIR (refused).")
    c.add_argument("dir", type=Path, help="the results directory")
    c.add_argument("--rows-per-part", type=int, default=500_000, metavar="RUNS",
                   help="runs per new part (default: 500000)")
    c.set_defaults(func=cmd_compact)


def cmd_compact(args: argparse.Namespace) -> int:
    """Compact a store; prints the part counts before and after."""
    from sim.engine.store import compact

    before, after = compact(args.dir, args.rows_per_part)
    print(f"{args.dir}: {before} runs parts -> {after}")
    return 0
