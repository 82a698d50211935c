"""``peersupport compare``: cost-effectiveness of program designs, with a report."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from sim.cli.options import (
    MAX_REPLICATIONS,
    MAX_SEED,
    add_executor_arguments,
    add_output_arguments,
    check_memory,
    int_in,
    note,
    print_json,
    run_options,
    say,
)
from sim.cli.paths import check_output, write_advice
from sim.params.errors import ScenarioError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    p = sub.add_parser(
        "compare",
        help="compare program designs: costs, QALYs, ICERs, PSA and a report",
        description="Run every design with paired seeds (replication r of every design "
        "shares its seed and its PSA draw), print the side-by-side table, the incremental "
        "analysis and the net monetary benefit, and optionally write a self-contained HTML "
        "report with every number also as CSV and Parquet. Give several design files, or "
        "one compare file (scenarios/compare/). Exit status: 0 ok, 1 some runs failed or "
        "were not run, 2 bad input, 130 interrupted (continue with --out DIR --resume).",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE",
                   help="design scenario files (DESIGN.yaml ...) or one compare file")
    p.add_argument("--comparator", default=None, metavar="NAME",
                   help="program.name of the comparator design (default: the compare "
                   "file's, else usual_care)")
    p.add_argument("--replications", type=int_in(2, MAX_REPLICATIONS), default=None, metavar="N",
                   help="replications per design (default: the compare file's, else 20)")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=None,
                   help="root seed (default: the compare file's, else 1)")
    p.add_argument("--report", type=Path, default=None, metavar="HTML",
                   help="write the HTML report here (and its data beside it, in "
                   "<name>_data/)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="keep the runs in this results store (resumable); default: a "
                   "temporary folder, removed at the end")
    p.add_argument("--population", type=int, default=None, metavar="N",
                   help="eligible population for the budget-impact table")
    p.add_argument("--uptake", type=_shares, default=(), metavar="SHARES",
                   help="share of the population starting the design in each year, e.g. "
                   "0.1,0.2,0.3 (with --population)")
    p.add_argument("--excel", type=Path, default=None, metavar="XLSX",
                   help="also write every table (with the decision tables when there are "
                   "PSA parameters) as sheets of an Excel workbook")
    p.add_argument("--resume", action="store_true",
                   help="continue the store in --out: skip runs already recorded")
    add_executor_arguments(p)
    p.add_argument("--dry-run", action="store_true",
                   help="validate and print the plan (and the PSA draws) without running")
    add_output_arguments(p, progress=True)
    p.set_defaults(func=cmd_compare)


def _shares(text: str) -> tuple[float, ...]:
    """``"0.1,0.2"`` -> ``(0.1, 0.2)`` (argparse type of --uptake)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected shares separated by commas, e.g. "
                                         f"0.1,0.2; got {text!r}") from None


def _load(args: argparse.Namespace):  # noqa: ANN202 (Comparison, imported lazily)
    from sim.analyses.compare import comparison_from_designs, load_comparison
    from sim.analyses.decision import check_budget
    from sim.params.yamlio import read_yaml

    if args.population is not None or args.uptake:
        check_budget(args.population or 0, args.uptake)

    if args.resume and args.out is None:
        raise ScenarioError("--resume needs --out DIR (the results store to continue)")
    if args.out is not None:
        check_output(args.out, "--out", folder=True)
    if args.report is not None:
        check_output(args.report, "--report")
    kinds = []
    for file in args.files:
        data, _ = read_yaml(file)
        kinds.append("designs" in data)
    if any(kinds):
        if len(args.files) > 1:
            compare = args.files[kinds.index(True)]
            raise ScenarioError(f"{compare} is a compare file (it has designs:); give it "
                                "alone, or give design scenario files only")
        return load_comparison(args.files[0], comparator=args.comparator,
                               replications=args.replications, seed=args.seed)
    return comparison_from_designs(args.files, comparator=args.comparator,
                                   replications=args.replications, seed=args.seed)


def _decision_lines(decision, currency: str) -> str:  # noqa: ANN001 (DecisionResult, lazy)
    """The widest tornado bars per design, in a few console lines."""
    from sim.core.economics import format_money

    wtp = format_money(decision.threshold, currency)
    lines = [f"\nWhat moves the incremental NMB most (at {wtp}/QALY, linear metamodel of the "
             "PSA):"]
    for design, rows in decision.tornado.groupby("design", sort=False):
        real = rows[rows["distinguishable"]]
        top = "; ".join(f"{r.parameter} {format_money(r.y_at_low, currency)} to "
                        f"{format_money(r.y_at_high, currency)}"
                        for r in real.head(3).itertuples())
        lines.append(f"  {design}: {top or 'no parameter distinguishable from the noise'}")
    lines.append("  (bars whose slope the PSA sample cannot tell from zero are left out)")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """Validate, run, analyse, print and report; see :func:`register` for the exit status."""
    from sim.analyses.compare import analyse, run_comparison
    from sim.engine.budget import check_runs
    from sim.report.compare_words import format_tables

    comparison = _load(args)
    check_runs(comparison.n_runs, "compare", args.max_runs)
    check_memory(args, comparison.first, "compare")
    where = args.out or "a temporary results store"
    note(args, f"compare: {comparison.describe()}")
    if args.dry_run:
        stats = (comparison.draws.describe().T[["mean", "min", "max"]]
                 if len(comparison.draws.columns) else None)
        if args.json:
            print_json({"plan": comparison.describe(), "psa_draws": [] if stats is None
                        else stats.rename_axis("parameter").reset_index()})
        elif stats is not None:
            print("PSA draws per parameter over the replications:")
            print(stats.to_string(float_format=lambda v: f"{v:.4g}"))
        return 0
    options = run_options(args)
    note(args, f"running on {options.executor} ({args.workers or 'all'} workers); runs in "
         f"{where}")
    command = shlex.join(["peersupport", *sys.argv[1:]]) if sys.argv[1:2] == ["compare"] \
        else shlex.join(["peersupport", "compare", *map(str, args.files)])
    with tempfile.TemporaryDirectory(prefix="peersupport-compare-") as tmp:
        out = args.out or Path(tmp) / "runs"
        try:
            report = run_comparison(comparison, out, options)
        except KeyboardInterrupt:
            keep = f"finished runs are saved in {args.out}; continue with --resume" \
                if args.out else "rerun with --out DIR to keep finished runs"
            print(f"peersupport compare: interrupted; {keep}", file=sys.stderr)
            return 130
        note(args, report.describe().replace(f". Results: {out}", ""))
        try:
            result = analyse(out, comparison, command=command, report=report,
                             population=args.population, uptake=args.uptake)
        except ScenarioError as exc:  # too many failed runs: not bad input
            print(f"peersupport compare: {exc}", file=sys.stderr)
            return 1
        if args.out is None:
            result.provenance["results_store"] = "not kept (pass --out DIR to keep the runs)"
        say(args, format_tables(result))
        if result.decision is not None:
            say(args, _decision_lines(result.decision, comparison.currency))
        if args.excel:
            from sim.report.workbook import write_workbook

            note(args, f"workbook: {write_workbook(result.tables(), args.excel)}")
        paths = {}
        if args.report:
            from sim.report.compare_report import write_report

            try:
                paths = write_report(result, args.report)
            except OSError as exc:  # after the runs: keep them, say where
                kept = args.out or _keep(out)
                print(f"peersupport compare: cannot write the report {args.report} "
                      f"({exc.strerror or exc}): {write_advice(exc)}; the runs are kept in "
                      f"{kept}", file=sys.stderr)
                return 1
            note(args, f"report: {paths['report']}\ndata:   {paths['data']}/ (CSV and Parquet)")
        if args.json:
            print_json({"headline": result.headline, "outcomes": result.outcomes,
                        "incremental_analysis": result.icer, "evpi": result.evpi,
                        "failed_runs": report.failed_total, "missing_runs": report.missing,
                        "report": paths})
    return 1 if report.failed_total or report.missing else 0


def _keep(runs: Path) -> Path:
    """Move a temporary results store out of its temporary folder (which is deleted)."""
    kept = Path(tempfile.mkdtemp(prefix="peersupport-compare-runs-"))
    shutil.move(runs, kept / "runs")
    return kept / "runs"
