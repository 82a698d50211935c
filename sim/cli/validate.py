"""``peersupport validate``: reproduce published trials with the current defaults."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.options import (
    MAX_REPLICATIONS,
    add_executor_arguments,
    add_output_arguments,
    int_in,
    note,
    print_json,
    run_options,
    say,
    set_errors_named,
)
from sim.cli.paths import check_output, write_advice

if TYPE_CHECKING:
    from sim.analyses.validation import OutcomeResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser(
        "validate", help="run the trial reproductions and compare with published results",
        description="Configure the model as each published study (experiments/validation/"
        "*.yaml by default), run every arm with paired seeds and compare each outcome with "
        "its published interval. Prints the table (study, outcome, published, model, result); "
        "--report writes it with a figure per study as one HTML file. Exit status: 0 every "
        "target passes, 1 a target fails or a run failed, 2 bad input.",
    )
    p.add_argument("files", type=Path, nargs="*",
                   help="validation files or names, e.g. centola2010 (default: every "
                   "study in experiments/validation/)")
    add_executor_arguments(p)
    p.add_argument("--replications", type=int_in(1, MAX_REPLICATIONS), default=None, metavar="N",
                   help="replications per arm instead of each file's own")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE",
                   help="override a parameter in every arm (repeatable), e.g. to try a "
                   "calibrated value or a smaller population")
    p.add_argument("--report", type=Path, default=None, metavar="HTML",
                   help="write a self-contained HTML report (table and figures)")
    p.add_argument("--markdown", type=Path, default=None, metavar="MD",
                   help="write the table as Markdown")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="keep the runs in this results store (default: a temporary one)")
    p.add_argument("--resume", action="store_true", help="continue the store given by --out")
    p.add_argument("--check", action="store_true",
                   help="only validate the files (and every arm's scenario), run nothing")
    add_output_arguments(p, progress=True)
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Load, run, tabulate; see :func:`register` for the exit status."""
    from sim.analyses.validation import default_files, load_study, run_validation
    from sim.engine.budget import check_runs
    from sim.params.catalogue import data_root, resolve
    from sim.params.errors import ScenarioError
    from sim.params.scenario import parse_set
    from sim.report.validation_report import html_report, markdown_table, text_table

    files = [resolve(f, "experiments/validation") for f in args.files] or default_files(
        data_root())
    if not files:
        raise ScenarioError("no validation files given and none shipped in "
                            f"{data_root() / 'experiments' / 'validation'}")
    for path, option, folder in ((args.out, "--out", True), (args.report, "--report", False),
                                 (args.markdown, "--markdown", False)):
        if path is not None:
            check_output(path, option, folder=folder)
    overrides = parse_set(args.overrides)
    with set_errors_named(overrides):
        studies = [load_study(f, overrides) for f in files]
    if args.check:
        for f, s in zip(files, studies, strict=True):
            say(args, f"ok   {f} ({s.name}: {len(s.scenarios)} arms, {len(s.spec.outcomes)} "
                f"outcomes, {s.spec.replications} replications)")
        if args.json:
            print_json([{"file": f, "study": s.name, "arms": len(s.scenarios),
                         "outcomes": len(s.spec.outcomes),
                         "replications": s.spec.replications}
                        for f, s in zip(files, studies, strict=True)])
        return 0
    runs = sum(len(s.scenarios) * (args.replications or s.spec.replications) for s in studies)
    check_runs(runs, "validate", args.max_runs)
    note(args, f"validate: {len(studies)} studies, {runs} runs")
    result = run_validation(studies, args.out, run_options(args),
                            replications=args.replications)
    say(args, text_table(result.results))
    passed = sum(r.passed for r in result.results)
    say(args, f"\n{passed} of {len(result.results)} outcomes pass"
        + (f"; {result.failed_runs} runs failed or missing" if result.failed_runs else ""))
    for path, text in ((args.markdown, lambda: markdown_table(result.results) + "\n"),
                       (args.report, lambda: html_report(result))):
        if path:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text())
            except OSError as exc:  # after the runs: the table above is the result
                kept = f"; the runs are kept in {args.out}" if args.out else ""
                print(f"peersupport validate: cannot write {path} ({exc.strerror or exc}): "
                      f"{write_advice(exc)}{kept}", file=sys.stderr)
                return 1
            note(args, f"wrote {path}")
    if args.json:
        print_json({"passed": result.passed, "failed_runs": result.failed_runs,
                    "outcomes": [_outcome_json(r) for r in result.results]})
    return 0 if result.passed else 1


def _outcome_json(r: OutcomeResult) -> dict[str, Any]:
    """One outcome's verdict as plain values."""
    return {"study": r.study, "outcome": r.outcome.name, "of": r.of,
            "published": r.outcome.published, "interval": r.outcome.interval,
            "model_mean": r.mean, "model_ci": [r.ci_low, r.ci_high], "n": r.n,
            "passed": r.passed}
