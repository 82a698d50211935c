"""The ``peersupport`` command.

Each subcommand lives in a module under ``sim.cli`` exposing ``register(sub)``,
which adds its parser and sets ``func`` (args -> exit status). Registering imports
nothing heavy (numpy, pydantic, mesa, numba load inside ``func``), so ``--help`` is fast,
and a command line naming a command registers only that command's module.
Bad input raises ScenarioError, printed as one paragraph with exit status 2 and no
traceback. Without a command the help is printed (exit status 2, argparse's convention).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import logging
import os
import sys
from typing import NoReturn

from sim.cli.options import configure_logging
from sim.params.errors import ScenarioError

COMMANDS = {
    "sim.cli.single": ("run", "check", "schema", "params"),
    "sim.cli.sweep": ("sweep",),
    "sim.cli.sensitivity": ("sensitivity",),
    "sim.cli.dashboard": ("dashboard",),
    "sim.cli.lessons": ("lesson",),
    "sim.cli.validate": ("validate",),
    "sim.cli.calibrate": ("calibrate",),
    "sim.cli.compare": ("compare",),
    "sim.cli.store": ("store",),
}
"""Each command module and the subcommands its ``register`` adds."""


class _VersionAction(argparse.Action):
    """``--version``: print the version, looked up only when asked for, and exit."""

    def __init__(self, option_strings: list[str], dest: str) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         nargs=0, help="show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        """Print ``peersupport <version>`` on stdout and exit 0."""
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every available subcommand.

    When ``argv`` starts with a known command, only that command's module is registered, so
    ``peersupport run ...`` does not import the other commands' modules (start-up time).
    """
    parser = argparse.ArgumentParser(
        prog="peersupport",
        description="Agent-based simulation of peer support for people with type 2 diabetes.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [name for name, commands in COMMANDS.items() if argv and argv[0] in commands]
    for name in wanted or COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def version() -> str:
    """The installed package's version ("unknown" when running from an uninstalled tree)."""
    from importlib import metadata

    try:
        return metadata.version("peersupport")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    Called as the program (``argv`` None: the console script, ``python -m``), a finished
    command of :data:`EXIT_AT_ONCE` ends the process itself (:func:`exit_at_once`).
    """
    as_program = argv is None
    if as_program:  # the process is ours: no third-party pydantic plugins (see PLUGINS_OFF)
        os.environ.setdefault(*PLUGINS_OFF)
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    configure_logging(args)
    status = _call(args)
    if as_program and args.command in EXIT_AT_ONCE:
        exit_at_once(status)
    return status


def _call(args: argparse.Namespace) -> int:
    """Run the parsed command; bad input, an interruption or a failed write become a status."""
    try:
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        print(f"peersupport {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"peersupport {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a write failing after the path checks (disk full, a race)
        from sim.cli.paths import write_advice

        print(f"peersupport {args.command}: error: cannot write {exc.filename or 'a file'} "
              f"({exc.strerror or exc}): {write_advice(exc)}", file=sys.stderr)
        return 1


PLUGINS_OFF = ("PYDANTIC_DISABLE_PLUGINS", "__all__")
"""The program's environment default: pydantic plugins installed in the environment do not run.

Scenario validation then does not depend on what else is installed, and pydantic skips its scan
of every installed distribution's entry points (30 ms of start-up). Set the variable to run
them anyway."""

GC_YOUNG_THRESHOLD = 20_000
"""Allocations between collections of the youngest generation in the program (Python's: 700).

Start-up allocates a few hundred thousand objects that live as long as the process (numba's,
numpy's and pydantic's registries): at 700 they made 290 collections, 0.10-0.17 s of a 1.1 s
``peersupport run``; at 20,000, 10 collections, 0.03-0.06 s (benchmarks/results.md,
2026-12-03 23:30). Cyclic garbage is still collected, after more allocations."""

EXIT_AT_ONCE = frozenset({"run", "check"})
"""Commands that leave no thread, process pool, client or open file behind when they return."""


def exit_at_once(status: int) -> NoReturn:
    """End the process now, skipping the interpreter's teardown.

    Freeing the objects of numba, Mesa, pandas and pydantic one by one at exit costs about a
    fifth of a 2,000-patient ``peersupport run`` (issue 17); the operating system reclaims the
    memory at once. Log handlers and the standard streams are flushed first (exit status 120,
    as the interpreter's own, when stdout cannot be flushed, e.g. a closed pipe).
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
    except OSError:
        status = status or 120
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
