"""``peersupport sensitivity``: run a sensitivity file, or re-analyse a results store."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from sim.cli.options import (
    add_executor_arguments,
    add_output_arguments,
    check_memory,
    int_in,
    note,
    print_json,
    run_options,
    say,
)
from sim.cli.paths import check_output
from sim.cli.sweep import _sigterm_as_interrupt
from sim.params.errors import ScenarioError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sensitivity`` subcommand."""
    p = sub.add_parser(
        "sensitivity",
        help="which uncertain inputs drive QoL and the other outputs (Sobol', Morris, ...)",
        description="Run every sample point x replication of a sensitivity file through the "
        "sweep engine into DIR (a resumable results store), average the replications, "
        "compute the indices with intervals and write the report into DIR: indices.csv/"
        ".parquet, noise.csv, convergence.csv, figures/, summary.md and summary.html. With "
        "--analyze DIR, analyse a store without running: a sensitivity store gives the same "
        "numbers as its run; the given-data methods (--method delta or pawn) analyse any "
        "Latin-hypercube sweep store. Exit status: 0 done, 1 some runs failed or were not "
        "run (no analysis), 2 bad input, 130 interrupted (continue with --resume).",
    )
    p.add_argument("file", type=Path, nargs="?",
                   help="sensitivity YAML file (scenarios/sensitivity/)")
    p.add_argument("--analyze", type=Path, default=None, metavar="DIR",
                   help="analyse the results store DIR instead of running a file")
    p.add_argument("--out", type=Path, default=None,
                   help="results directory of a run (default: results/sensitivity/<file "
                   "name>); with --analyze, where the report goes (default: DIR for its own "
                   "analysis, DIR/sensitivity_<method> for a given-data analysis)")
    add_executor_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue DIR: skip recorded runs (refused if the file changed)")
    p.add_argument("--retry-failed", action="store_true",
                   help="continue DIR and rerun the runs that failed")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the file, time two runs and print the plan and budget")
    add_output_arguments(p, progress=True)
    g = p.add_argument_group("--analyze options")
    g.add_argument("--method", choices=("sobol", "morris", "fast", "delta", "pawn"),
                   default=None, help="analysis method (default: the store's own; delta or "
                   "pawn for a Latin-hypercube sweep store)")
    g.add_argument("--inputs", default=None, metavar="A,B,...",
                   help="uncertain inputs to analyse (given-data methods; default: all)")
    g.add_argument("--outputs", default=None, metavar="Y1,Y2,...",
                   help="outputs to analyse, the primary first (default: utility_change, "
                   "qalys_per_patient, pdc_change, hba1c_change, cost_per_patient_discounted, "
                   "nmb_per_patient)")
    g.add_argument("--select", action="append", default=[], metavar="COLUMN=VALUE",
                   help="keep runs with this value, e.g. design=hybrid_kickoff (repeatable; "
                   "a sweep with several lever settings is analysed one setting at a time)")
    g.add_argument("--num-resamples", type=int_in(2), default=None, metavar="B",
                   help="bootstrap resamples, 2 to 100,000 (default: the store's own, else 1000)")
    p.set_defaults(func=cmd_sensitivity)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run a sensitivity file and report it, or analyse a store; see :func:`register`."""
    if (args.file is None) == (args.analyze is None):
        raise ScenarioError("give a sensitivity file to run, or --analyze DIR (not both)")
    if args.analyze is not None:
        run_flags = [f for f, on in (("--resume", args.resume),
                                     ("--retry-failed", args.retry_failed),
                                     ("--dry-run", args.dry_run),
                                     ("--workers", args.workers is not None),
                                     ("--scheduler", args.scheduler is not None)) if on]
        if run_flags:
            raise ScenarioError(f"{', '.join(run_flags)} only apply to running a file, not "
                                "to --analyze")
        if args.out is not None:
            check_output(args.out, "--out", folder=True)
        return _analyze(args, args.analyze, args.out)
    extra = [f for f, on in (("--method", args.method), ("--inputs", args.inputs),
                             ("--select", args.select)) if on]
    if extra:
        raise ScenarioError(f"{', '.join(extra)} only apply to --analyze; a sensitivity file "
                            "names its method and inputs itself")
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from sim.analyses.sa_runner import estimate_budget, load_sensitivity, run_sensitivity

    plan = load_sensitivity(args.file, max_runs=args.max_runs)
    out = args.out or Path("results") / "sensitivity" / args.file.stem
    check_output(out, "--out", folder=True)
    note(args, f"{args.file}: {plan.describe()}")
    memory = check_memory(args, plan.base, str(args.file))
    options = run_options(args)
    if args.dry_run:
        budget = estimate_budget(plan, options)
        say(args, budget.describe() + f"; {memory} (estimated)")
        say(args, plan.X.head(3).T.to_string())
        if args.json:
            print_json({"plan": plan.describe(), "runs": plan.n_runs, "memory": memory,
                        "seconds_per_run": budget.seconds_per_run, "workers": budget.workers,
                        "total_seconds": budget.total_seconds})
        return 0
    note(args, f"running on {options.where}; results in {out}")
    try:
        with _sigterm_as_interrupt():
            report = run_sensitivity(plan, out, options)
    except KeyboardInterrupt:
        print(f"peersupport sensitivity: interrupted; finished runs are saved in {out}; "
              "continue with --resume", file=sys.stderr)
        return 130
    say(args, report.describe())
    if report.failed_total or report.missing:
        print("not analysed: every sample point needs all its runs (the design breaks if "
              "points are dropped)", file=sys.stderr)
        return 1
    return _analyze(args, out, out)


def _analyze(args: argparse.Namespace, store: Path, report_dir: Path | None) -> int:
    from sim.analyses.sa_runner import analyze_store, describe_result, parse_select
    from sim.report.sensitivity_report import write_report

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        # collect warnings (delta's bias notice once per output and resample) to show once
        result = analyze_store(
            store,
            method=args.method,
            inputs=_names(args.inputs),
            outputs=_names(args.outputs),
            select=parse_select(args.select) if args.select else None,
            num_resamples=args.num_resamples,
        )
    _report_warnings(caught)
    given_data = bool(result.meta.get("given_data"))
    out = report_dir or (store / f"sensitivity_{result.method}" if given_data else store)
    primary = result.meta["primary_output"]
    paths = write_report(result, out, title=result.meta["title"], primary_output=primary)
    say(args, describe_result(result, primary))
    note(args, f"analysed in {time.perf_counter() - started:.1f} s; report: "
         f"{paths['summary_md']} (and summary.html, indices.csv, figures/)")
    if args.json:
        print_json({"method": result.method, "primary_output": primary,
                    "indices": result.indices, "report": paths})
    nan = result.meta.get("nan_indices") or []
    if nan:
        print(f"peersupport sensitivity: {len(nan)} indices are NaN (the method failed for "
              f"them; not reported as drivers): {'; '.join(nan[:6])}", file=sys.stderr)
        return 1
    return 0


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Show collected warnings once each; delta's bias warnings as one note."""
    from sim.analyses.sensitivity import DeltaBiasWarning

    bias = sorted({name for w in caught if isinstance(w.message, DeltaBiasWarning)
                   for name in w.message.inputs})
    if bias:
        print(f"note: SALib's delta found its raw and bin-balanced estimates differ for "
              f"{', '.join(bias)} (possible bias from uneven sampling): read their delta with "
              "care, and compare with the dummy-input threshold", file=sys.stderr)
    shown: set[str] = set()
    for w in caught:
        text = str(w.message)
        if isinstance(w.message, DeltaBiasWarning) or text in shown:
            continue
        shown.add(text)
        print(f"warning: {text}", file=sys.stderr)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ScenarioError(f"expected comma-separated names, got {text!r}")
    return names
