"""Options shared by the many-run commands (sweep, sensitivity, compare, validate)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.engine.options import RunOptions


class LazyChoices:
    """argparse ``choices`` read from ``module.name`` only when checked or listed in help.

    Registering the parsers then imports nothing heavy, so ``peersupport --help`` is fast.
    Give such an option a ``metavar`` (argparse formats it when the option is added) and
    list the choices in its help with ``%(choices)s``.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def _values(self) -> list[str]:
        return list(getattr(importlib.import_module(self.module), self.name))

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())


def add_executor_arguments(p: argparse.ArgumentParser, *, scheduler: bool = True) -> None:
    """The --workers, --executor (and --scheduler) options shared by every many-run command."""
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--executor", choices=LazyChoices("sim.engine.executors", "EXECUTORS"),
                   default="local", metavar="KIND",
                   help="one of %(choices)s (default: local processes)")
    if scheduler:
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                       "(implies --executor dask; default: a local Dask cluster)")


def run_options(args: argparse.Namespace, *, progress: bool | None = None) -> RunOptions:
    """The RunOptions a many-run command's arguments ask for (``--scheduler`` implies dask;
    ``progress`` replaces ``not --no-progress``)."""
    from sim.engine.options import RunOptions

    scheduler = getattr(args, "scheduler", None)
    return RunOptions(
        executor="dask" if scheduler else args.executor, workers=args.workers,
        scheduler=scheduler, resume=getattr(args, "resume", False),
        retry_failed=getattr(args, "retry_failed", False),
        progress=not args.no_progress if progress is None else progress,
        chunk_size=getattr(args, "chunk_size", None),
        flush_every=getattr(args, "flush_every", RunOptions.flush_every))
