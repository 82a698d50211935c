"""Options shared by the many-run commands (sweep, sensitivity, compare, validate)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

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


MAX_SEED = 2**63 - 1
MAX_REPLICATIONS = 100_000


def max_workers() -> int:
    """Most worker processes ``--workers`` may ask for (imported when the option is given,
    so ``--help`` stays light)."""
    from sim.engine.executors import max_workers as limit

    return limit()


def int_in(lo: int, hi: int | Callable[[], int] | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]``, else argparse's clear one-line
    error (exit 2) naming the option, e.g. ``argument --workers: must be between 1 and 8``.
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        top = hi() if callable(hi) else hi
        if value < lo or (top is not None and value > top):
            span = f"between {lo:,} and {top:,}" if top is not None else f">= {lo:,}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value:,}")
        return value
    parse.__name__ = "integer"  # argparse names the type in its own messages
    return parse


def add_executor_arguments(p: argparse.ArgumentParser, *, scheduler: bool = True) -> None:
    """The --workers, --executor (and --scheduler) options shared by every many-run command."""
    p.add_argument("--workers", type=int_in(1, max_workers), default=None,
                   help="worker processes, at most 4 per core (default: all cores)")
    p.add_argument("--max-runs", type=int_in(1), default=None, metavar="N",
                   help="refuse more runs than this before building any (default 1,000,000)")
    p.add_argument("--force", action="store_true",
                   help="run even if the runs' estimated memory exceeds what is available")
    p.add_argument("--executor", choices=LazyChoices("sim.engine.executors", "EXECUTORS"),
                   default="local", metavar="KIND",
                   help="one of %(choices)s (default: local processes)")
    if scheduler:
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                       "(implies --executor dask; default: a local Dask cluster)")


def check_memory(args: argparse.Namespace, scenario: Any, what: str) -> str:
    """Refuse runs of ``scenario`` (a Scenario or its dict) whose memory, times the runs at
    once (``--workers``), exceeds what the machine has, unless ``--force``; return the
    estimate for ``--dry-run`` (``about 40 MiB per run``)."""
    from sim.engine import budget
    from sim.engine.executors import default_workers
    from sim.params.scenario import load_scenario

    serial = getattr(args, "executor", "local") == "serial"
    concurrent = 1 if serial or getattr(args, "scheduler", None) else (
        getattr(args, "workers", None) or default_workers())
    scenario = load_scenario(scenario)
    budget.check_memory(scenario, what, concurrent=concurrent,
                        force=getattr(args, "force", False))
    return f"about {budget.run_memory(scenario) / 2**20:,.0f} MiB per run"


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
