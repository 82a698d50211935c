"""Options shared by the many-run commands (sweep, sensitivity, compare, validate)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator


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
