"""Run a sweep on a SLURM cluster: dask-jobqueue starts Dask workers as SLURM jobs.

Run this driver where it may stay up for the whole sweep (a login node if your site allows
long-lived processes there, else inside the small allocation of ``sweep.sbatch``)::

    python experiments/slurm/run_sweep_slurm.py scenarios/sweeps/designs_x_replications.yaml \\
        --out results/designs_x_replications --jobs 10 --cores 32 --memory 64GB \\
        --walltime 02:00:00 --partition compute --account myproject

It submits up to ``--jobs`` worker jobs, each running ``--cores`` single-threaded Dask worker
processes, and streams results to ``--out`` (on a shared file system) as runs finish. If it
stops (time limit, node failure, Ctrl-C), run the same command again: it resumes, skipping
finished runs. Workers retire before their job's wall time ends (``--lifetime``) and new
jobs replace them, so a long sweep outlives any single job.

``--print-job-script`` prints the SLURM script of one worker job and exits (check it first).
Needs ``pip install 'peersupport[cluster]'`` (dask[distributed], dask-jobqueue) in the
environment that the worker jobs activate (``--setup``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.analyses.sweep import load_sweep, run_sweep
from sim.engine.store import ResultsStore
from sim.params.errors import ScenarioError


def main(argv: list[str] | None = None) -> int:
    """Start the SLURM cluster, run (or resume) the sweep, report; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sweep", type=Path, help="sweep YAML file")
    p.add_argument("--out", type=Path, required=True, help="results directory (shared disk)")
    p.add_argument("--jobs", type=int, default=4, help="most worker jobs at once")
    p.add_argument("--cores", type=int, default=16, help="cores (= worker processes) per job")
    p.add_argument("--memory", default="32GB", help="memory per job")
    p.add_argument("--walltime", default="01:00:00", help="wall time per worker job")
    p.add_argument("--lifetime", default="50m",
                   help="retire workers after this long (less than --walltime)")
    p.add_argument("--partition", default=None, help="SLURM partition (queue)")
    p.add_argument("--account", default=None, help="SLURM account")
    p.add_argument("--setup", action="append",
                   default=["source .venv/bin/activate", "export NUMBA_NUM_THREADS=1",
                            "export OMP_NUM_THREADS=1"],
                   help="shell lines run before each worker starts (repeatable)")
    p.add_argument("--print-job-script", action="store_true",
                   help="print one worker job's SLURM script and exit")
    args = p.parse_args(argv)

    from dask_jobqueue import SLURMCluster

    sweep = load_sweep(args.sweep)  # validate before asking SLURM for anything
    cluster = SLURMCluster(
        cores=args.cores,
        processes=args.cores,  # one single-threaded worker process per core
        memory=args.memory,
        walltime=args.walltime,
        queue=args.partition,
        account=args.account,
        job_script_prologue=args.setup,
        worker_extra_args=["--lifetime", args.lifetime, "--lifetime-stagger", "5m"],
        log_directory=str(args.out / "slurm-logs"),
    )
    try:
        if args.print_job_script:
            print(cluster.job_script())
            return 0
        cluster.adapt(minimum_jobs=1, maximum_jobs=args.jobs)
        resume = ResultsStore(args.out).exists()
        print(f"{sweep.describe()}; Dask scheduler {cluster.scheduler_address}; "
              f"{'resuming' if resume else 'new'} results in {args.out}", file=sys.stderr)
        report = run_sweep(sweep, args.out, executor="dask",
                           scheduler=cluster.scheduler_address, resume=resume, progress=True)
        print(report.describe())
        return 1 if report.failed_total or report.missing else 0
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
