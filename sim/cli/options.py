"""Options shared by the many-run commands (sweep, sensitivity, compare, validate)."""

from __future__ import annotations

import argparse

from sim.engine.executors import EXECUTORS


def add_executor_arguments(p: argparse.ArgumentParser, *, scheduler: bool = True) -> None:
    """The --workers, --executor (and --scheduler) options shared by every many-run command."""
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="serial, local processes (default) or dask")
    if scheduler:
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                       "(implies --executor dask; default: a local Dask cluster)")
