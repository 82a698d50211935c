"""``peersupport calibrate``: fit parameters to published targets (Optuna, resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.options import (
    add_output_arguments,
    int_in,
    max_workers,
    note,
    print_json,
    say,
    show_progress,
)
from sim.cli.paths import check_output


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate", help="fit parameters to published targets with Optuna (resumable)",
        description="Fit the parameters of CALIB (ranges, priors) to its targets (means with "
        "standard errors, or proportions with counts) by minimising the sum of squared "
        "z-scores and binomial deviances over replications with fixed common seeds. The "
        "Optuna study is stored in OUT/optuna.sqlite3 (OUT: --out, default "
        "results/calibration/NAME); rerun with --resume to continue it. "
        "Writes OUT/best.yaml (scenario overlay), OUT/fit_report.md and .html (targets vs "
        "fitted) and OUT/trials.csv. Exit status: 0 done, 2 bad input, 130 interrupted.",
    )
    p.add_argument("calibration", type=Path, help="calibration YAML file")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="trials to run in this call (default: the file's 'trials')")
    p.add_argument("--workers", type=int_in(1, max_workers), default=1, metavar="N",
                   help="worker processes sharing the study (default: 1)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: results/calibration/NAME)")
    p.add_argument("--force", action="store_true",
                   help="write into an output folder holding files calibrate did not create")
    p.add_argument("--resume", action="store_true",
                   help="continue the stored study (refused if the calibration changed)")
    p.add_argument("--report-only", action="store_true",
                   help="run no trials; write the overlay and fit report from the stored study")
    p.add_argument("--check", action="store_true",
                   help="only validate the calibration file and its studies")
    add_output_arguments(p, progress=True)
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Load, optimise, write outputs; see :func:`register`."""
    from sim.analyses.calibration import load_calibration, optimise, write_outputs
    from sim.report.calibration_report import write_fit_report

    cal = load_calibration(args.calibration, args.out)
    check_output(cal.out_dir, "--out", folder=True)
    spec = cal.spec
    runs = sum(len(a) for a in cal.arms().values()) * spec.replications
    note(args, f"calibrate {spec.name}: {len(spec.parameters)} parameters, "
         f"{len(cal.targets)} targets, {runs} runs per trial; outputs in {cal.out_dir}")
    if args.check:
        if args.json:
            print_json({"name": spec.name, "parameters": len(spec.parameters),
                        "targets": len(cal.targets), "runs_per_trial": runs})
        return 0
    progress = show_progress(args)
    trials = 0 if args.report_only else args.trials
    study = optimise(cal, trials=trials, workers=args.workers,
                     resume=args.resume or args.report_only, progress=progress,
                     force=args.force)
    best = study.best_trial
    say(args, f"{len(study.trials)} trials in study '{spec.name}'; best: trial "
        f"{best.number}, objective {best.value:.4g}")
    fit = write_outputs(cal, study, workers=args.workers, progress=progress)
    report = write_fit_report(cal, study, fit)
    paths = {"overlay": fit.paths["overlay"], **report, "trials": fit.paths["trials"],
             "near_best": fit.paths["near_best"]}
    say(args, paths["report"].read_text())
    note(args, "wrote " + ", ".join(str(p) for p in paths.values()))
    if args.json:
        print_json({"name": spec.name, "trials": len(study.trials),
                    "best": {"trial": best.number, "objective": best.value,
                             "parameters": best.params}, "paths": paths})
    return 0
