"""Subcommands for one scenario: run, check, schema, params."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.options import (
    MAX_SEED,
    add_output_arguments,
    int_in,
    note,
    print_json,
    set_errors_named,
    show_progress,
)
from sim.cli.paths import check_output
from sim.params.errors import ScenarioError

if TYPE_CHECKING:
    from sim.runner import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add run, check, schema and params."""
    p = sub.add_parser("run", help="run one scenario and print its summary")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=None,
                   help="root seed (default: run.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="write summary.json, timeseries.parquet, provenance.json here")
    p.add_argument("--force", action="store_true",
                   help="run even if the run's estimated memory exceeds what is available")
    add_output_arguments(p, progress=True)
    p.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="validate scenario files without running them")
    c.add_argument("files", type=Path, nargs="+")
    add_output_arguments(c)
    c.set_defaults(func=cmd_check)

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    add_output_arguments(s, json_output=False)
    s.set_defaults(func=cmd_schema)

    t = sub.add_parser("params", help="print the parameter table (Markdown)")
    add_output_arguments(t, json_output=False)
    t.set_defaults(func=cmd_params)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario, print its summary table, optionally save its outputs."""
    from sim.engine.budget import check_memory
    from sim.params.scenario import load_scenario, parse_set
    from sim.runner import run

    overrides = parse_set(args.overrides)
    with set_errors_named(overrides):
        scenario = load_scenario(args.scenario, overrides)
    if args.out:
        check_output(args.out, "--out", folder=True)
    check_memory(scenario, str(args.scenario), force=args.force)
    result = run(scenario, args.seed, progress=show_progress(args))
    if args.json:
        print_json(result.summary)
    else:
        print(format_summary(result))
    if args.out:
        paths = result.save(args.out)
        note(args, f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


ROWS = (
    ("Mean PDC", "pdc_mean", "{:.3f}"),
    ("Adherent (PDC >= 0.8)", "adherent_share", "{:.1%}"),
    ("HbA1c (%)", "hba1c_mean", "{:.2f}"),
    ("QoL (EQ-5D utility)", "utility_mean", "{:.3f}"),
)


def format_summary(result: RunResult) -> str:
    """A plain-text table of a run's summary: baseline and end, then totals."""
    s, prov = result.summary, result.provenance
    cur = prov["scenario"]["economics"]["currency"]
    lines = [f"{prov['design']} - {int(s['patients']):,} patients, {int(s['days'])} days, "
             f"seed {prov['seed']}", "", f"{'outcome':32s} {'baseline':>10s} {'end':>10s}"]
    for label, key, fmt in ROWS:
        lines.append(f"{label:32s} {fmt.format(s[key + '_baseline']):>10s} "
                     f"{fmt.format(s[key + '_end']):>10s}")
    engagement = f"{s['engagement_end']:.3f}" if s["im_days"] else "n/a (no IM)"
    lines += [
        f"{'IM engagement (0-1)':32s} {'':>10s} {engagement:>10s}",
        f"{'Attended any session':32s} {'':>10s} {s['attended_any_share']:>10.1%}",
        f"{'Cost per patient (' + cur + ')':32s} {'':>10s} {s['cost_per_patient']:>10.2f}",
        f"{'  of which program':32s} {'':>10s} {s['program_cost_per_patient']:>10.2f}",
        f"{'QALYs per patient (discounted)':32s} {'':>10s} {s['qalys_per_patient']:>10.4f}",
    ]
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate each file; report every bad one, exit 2 if any."""
    from sim.params.scenario import load_scenario

    checked = []
    for path in args.files:
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            print(f"FAIL {exc}", file=sys.stderr)
            checked.append({"file": str(path), "ok": False, "error": str(exc)})
        else:
            checked.append({"file": str(path), "ok": True, "design": sc.program.name,
                            "patients": sc.population.size, "days": sc.run.days})
            if not args.json:
                print(f"ok   {path} ({sc.program.name}, {sc.population.size:,} patients, "
                      f"{sc.run.days} days)")
    if args.json:
        print_json(checked)
    return 0 if all(c["ok"] for c in checked) else 2


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of scenario files."""
    from sim.params.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """Print the generated parameter table."""
    from sim.report.params_table import parameter_table

    print(parameter_table())
    return 0
