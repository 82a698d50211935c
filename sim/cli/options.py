"""Options shared by the commands.

Output conventions (--json, --quiet/--verbose, progress only on a terminal) and the many-run options
(sweep, sensitivity, compare, validate).

Output conventions: results go to stdout (with ``--json``, stdout holds only the JSON and the
readable results go to stderr); notes (plans, "wrote ...") go to stderr and ``--quiet`` hides
them and the progress bars; ``--verbose`` also shows the libraries' log messages.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import logging
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.params.errors import ScenarioError

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
    """Most worker processes ``--workers`` may ask for.

    Imported when the option is given, so ``--help`` stays light.
    """
    from sim.engine.executors import max_workers as limit

    return limit()


def int_in(lo: int, hi: int | Callable[[], int] | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]``.

    Otherwise argparse's clear one-line error (exit 2) naming the option, e.g. ``argument --workers:
    must be between 1 and 8``.
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


def add_output_arguments(p: argparse.ArgumentParser, *, json_output: bool = True,
                         progress: bool = False) -> None:
    """--json (commands with results), --quiet/--verbose (every command), --no-progress."""
    if json_output:
        p.add_argument("--json", action="store_true",
                       help="print the results as JSON on stdout (everything else to stderr)")
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true",
                      help="print only results and errors: no notes, no progress bars")
    loud.add_argument("-v", "--verbose", action="store_true",
                      help="also print the libraries' informational log messages")
    if progress:
        p.add_argument("--no-progress", action="store_true",
                       help="hide the progress bar (shown only on a terminal)")


def configure_logging(args: argparse.Namespace) -> None:
    """Log to stderr: warnings by default, errors only with --quiet, info with --verbose."""
    level = (logging.INFO if getattr(args, "verbose", False) else
             logging.ERROR if getattr(args, "quiet", False) else logging.WARNING)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s: %(message)s")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: only on a terminal, never with --quiet/--no-progress."""
    return (not getattr(args, "no_progress", False) and not getattr(args, "quiet", False)
            and sys.stderr.isatty())


def note(args: argparse.Namespace, text: str) -> None:
    """A note for the person at the terminal (stderr; hidden by --quiet)."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


def say(args: argparse.Namespace, text: str) -> None:
    """Readable results: stdout, or stderr when --json keeps stdout for the JSON."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def print_json(data: Any) -> None:
    """Print ``data`` as strict JSON (NaN -> null; paths, numpy and dataclasses converted)."""
    print(json.dumps(jsonable(data), indent=2, allow_nan=False))


def jsonable(value: Any) -> Any:
    """``value`` made of JSON types only (frames as lists of records)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return jsonable(value.to_dict(orient="records"))
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@contextlib.contextmanager
def set_errors_named(overrides: Mapping[str, Any]) -> Iterator[None]:
    """Report a bad key that a ``--set`` option introduced as an error in that option.

    An unknown or bad key reads ``--set popluation.size: unknown key ...``, not an error in the
    scenario file.
    """
    try:
        yield
    except ScenarioError as err:
        key = next((k for k in overrides if err.path and (k == err.path or k.startswith(
            err.path + "."))), None)
        if key is None or err.file == f"--set {key}":
            raise
        raise ScenarioError(err.message, file=f"--set {key}", path=err.path) from None


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """The --workers, --executor and --scheduler options shared by every many-run command.

    Also the run budget's --max-runs and --force, and the store's --force-resume and --fsync.
    """
    p.add_argument("--workers", type=int_in(1, max_workers), default=None,
                   help="worker processes, at most 4 per core (default: all cores)")
    p.add_argument("--max-runs", type=int_in(1), default=None, metavar="N",
                   help="refuse more runs than this before building any (default 1,000,000)")
    p.add_argument("--force", action="store_true",
                   help="run even if the runs' estimated memory exceeds what is available")
    p.add_argument("--force-resume", action="store_true",
                   help="with --resume: continue even a store made by other code or package "
                   "versions (a warning names what differs)")
    p.add_argument("--fsync", action="store_true",
                   help="flush each results part to disk before going on (survives a power "
                   "loss; slower on network file systems)")
    p.add_argument("--executor", choices=LazyChoices("sim.engine.executors", "EXECUTORS"),
                   default="local", metavar="KIND",
                   help="one of %(choices)s (default: local processes)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                   "(implies --executor dask; default: a local Dask cluster)")


def check_memory(args: argparse.Namespace, scenario: Any, what: str) -> str:
    """Refuse runs of ``scenario`` whose memory exceeds what the machine has.

    ``scenario`` is a Scenario or its dict; its memory is counted times the runs at once
    (``--workers``); ``--force`` overrides. Returns the estimate for ``--dry-run`` (``about 40 MiB
    per run``).
    """
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


def run_options(args: argparse.Namespace) -> RunOptions:
    """The RunOptions a many-run command's arguments ask for.

    ``--scheduler`` implies dask; progress bars only on a terminal, see :func:`show_progress`.
    """
    from sim.engine.options import RunOptions

    scheduler = getattr(args, "scheduler", None)
    return RunOptions(
        executor="dask" if scheduler else args.executor, workers=args.workers,
        scheduler=scheduler, resume=getattr(args, "resume", False),
        force_resume=getattr(args, "force_resume", False),
        retry_failed=getattr(args, "retry_failed", False),
        progress=show_progress(args),
        chunk_size=getattr(args, "chunk_size", None),
        flush_every=getattr(args, "flush_every", RunOptions.flush_every),
        fsync=getattr(args, "fsync", False))
