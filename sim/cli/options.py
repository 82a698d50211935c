"""Options shared by the many-run commands (sweep, sensitivity, compare, validate)."""

from __future__ import annotations

import argparse

from sim.engine.executors import EXECUTORS
from sim.engine.options import RunOptions


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


def run_options(args: argparse.Namespace, *, progress: bool | None = None) -> RunOptions:
    """The RunOptions a many-run command's arguments ask for (``--scheduler`` implies dask;
    ``progress`` replaces ``not --no-progress``)."""
    scheduler = getattr(args, "scheduler", None)
    return RunOptions(
        executor="dask" if scheduler else args.executor, workers=args.workers,
        scheduler=scheduler, resume=getattr(args, "resume", False),
        retry_failed=getattr(args, "retry_failed", False),
        progress=not args.no_progress if progress is None else progress,
        chunk_size=getattr(args, "chunk_size", None),
        flush_every=getattr(args, "flush_every", RunOptions.flush_every))
