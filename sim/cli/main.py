"""The ``peersupport`` command.

Each subcommand lives in a module under ``sim.cli`` exposing ``register(sub)``,
which adds its parser and sets ``func`` (args -> exit status). Registering imports
nothing heavy (numpy, pydantic, mesa, numba load inside ``func``), so ``--help`` is fast.
Bad input raises ScenarioError, printed as one paragraph with exit status 2 and no
traceback. Without a command the help is printed (exit status 2, argparse's convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sim.cli.options import configure_logging
from sim.params.errors import ScenarioError

COMMANDS = (
    "sim.cli.single",  # run, check, schema, params
    "sim.cli.sweep",  # sweep
    "sim.cli.sensitivity",  # sensitivity
    "sim.cli.dashboard",  # dashboard
    "sim.cli.lessons",  # lesson
    "sim.cli.validate",  # validate
    "sim.cli.calibrate",  # calibrate
    "sim.cli.compare",  # compare
    "sim.cli.store",  # store compact
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="peersupport",
        description="Agent-based simulation of peer support for people with type 2 diabetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
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
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    configure_logging(args)
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


if __name__ == "__main__":
    sys.exit(main())
