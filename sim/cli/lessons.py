"""Subcommand ``lesson``: list the classroom lessons, or check one before class."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.options import (
    MAX_REPLICATIONS,
    MAX_SEED,
    add_output_arguments,
    int_in,
    print_json,
    say,
    set_errors_named,
)
from sim.params.errors import ScenarioError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lesson``."""
    p = sub.add_parser(
        "lesson", help="list the classroom lessons or check that one works",
        description="Without arguments, list the lessons. With a lesson's name "
                    "(kickoff_rapport) or scenario file (scenarios/classroom/*.yaml), run it "
                    "for several seeds and report how often the lesson's claim holds, as "
                    "tests/test_lessons.py does.")
    p.add_argument("scenario", type=Path, nargs="?", default=None,
                   help="a lesson's name or scenario file")
    p.add_argument("--replications", type=int_in(1, MAX_REPLICATIONS), default=20, metavar="N",
                   help="replications, one seed each (default 20)")
    p.add_argument("--seeds", dest="replications", type=int_in(1, MAX_REPLICATIONS),
                   help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=2024,
                   help="root seed of the replications (default 2024)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a parameter (repeatable)")
    add_output_arguments(p)
    p.set_defaults(func=cmd_lesson)


def cmd_lesson(args: argparse.Namespace) -> int:
    """List lessons, or check one; exit 1 when its claim is not reliable."""
    from sim.params.catalogue import resolve
    from sim.params.scenario import load_scenario, parse_set
    from sim.viz.lessons import LESSONS, check_lesson, lesson_for

    if args.scenario is None:
        if args.json:
            print_json([{"name": Path(ls.file).stem, "title": ls.title, "sheet": ls.sheet,
                         "scenario": ls.file} for ls in LESSONS.values()])
            return 0
        for lesson in LESSONS.values():
            name = Path(lesson.file).stem
            print(f"{name}\n    {lesson.title}\n    sheet: {lesson.sheet}\n"
                  f"    peersupport lesson {name}\n    peersupport dashboard classroom/{name}")
        return 0
    if not 1 <= args.replications <= 10_000:
        raise ScenarioError(f"--replications must be between 1 and 10000, got "
                            f"{args.replications}")
    overrides = parse_set(args.overrides)
    with set_errors_named(overrides):
        scenario = load_scenario(resolve(args.scenario, "scenarios/classroom"), overrides)
    lesson = lesson_for(scenario)
    if lesson is None:
        names = ", ".join(ls.scenario_name for ls in LESSONS.values())
        raise ScenarioError(f"scenario name '{scenario.name}' is not a lesson; lesson "
                            f"scenarios are named {names}", file=str(args.scenario),
                            path="name")
    report = check_lesson(lesson, args.replications, scenario=scenario, root_seed=args.seed)
    say(args, report.summary())
    if args.json:
        print_json({"name": Path(lesson.file).stem, "claim": lesson.claim, "ok": report.ok,
                    "pass_rate": report.pass_rate, "required_rate": lesson.required_rate,
                    "seeds": report.seeds, "passed": report.passed, "numbers": report.numbers})
    if not report.ok:
        print(f"peersupport lesson: the claim held in only {report.pass_rate:.0%} of seeds",
              file=sys.stderr)
    return 0 if report.ok else 1
