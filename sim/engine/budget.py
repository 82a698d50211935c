"""A budget check before any allocation or task building: runs and memory per run.

A sweep of 10^10 runs, a Sobol' design of 2^23 base samples or a run of 20 million
patients in groups of 200 would otherwise hang while building tasks or fail with a
``MemoryError`` traceback after minutes. Each is estimated first (cheap arithmetic on
the specification) and refused with a clear message naming the override.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.params.errors import ScenarioError

if TYPE_CHECKING:
    from sim.params.scenario import Scenario

MAX_RUNS = 1_000_000
"""Default cap on the runs of one command (``--max-runs`` raises it)."""

BYTES_PER_TIE = 32
"""Peak memory per network tie (CSR index and strength plus build temporaries; measured:
about 24 B per tie at 80,000 patients with 89 ties each)."""

BYTES_PER_PATIENT = 500
"""Peak memory per patient besides the ties (state arrays, recorded outcomes)."""

BYTES_PER_PROCESS = 300 * 2**20
"""A worker process before its data (Python, numpy, numba's compiled kernels; measured:
about 300 MB resident for a run of 20,000 patients)."""


def check_runs(runs: int, what: str, max_runs: int | None = None) -> None:
    """Refuse more than ``max_runs`` (default :data:`MAX_RUNS`) runs, before any is built.

    Raises:
        ScenarioError: naming ``what`` (the file), the count and the override.
    """
    cap = MAX_RUNS if max_runs is None else max_runs
    if runs > cap:
        raise ScenarioError(f"{what}: {runs:,} runs is over the limit of {cap:,}; reduce the "
                            "design, or pass --max-runs N to allow more")


def run_memory(scenario: Scenario) -> int:
    """Estimated peak memory of one run in bytes (its process, network ties, patient state)."""
    n = scenario.population.size
    return (BYTES_PER_PROCESS + n * scenario.network.ties_per_patient * BYTES_PER_TIE
            + n * BYTES_PER_PATIENT)


def available_memory() -> int | None:
    """Memory available to new processes in bytes (``MemAvailable``), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def check_memory(scenario: Scenario, what: str, *, concurrent: int = 1,
                 force: bool = False) -> None:
    """Refuse runs whose estimated memory exceeds the memory available, unless ``force``.

    The estimate is per run times ``concurrent`` runs at once.

    Raises:
        ScenarioError: naming ``what``, the estimate and what to change.
    """
    need, have = run_memory(scenario) * max(1, concurrent), available_memory()
    if force or have is None or need <= have:
        return
    gib = 2**30
    each = f" ({concurrent} runs at once)" if concurrent > 1 else ""
    raise ScenarioError(
        f"{what}: the runs need about {need / gib:.1f} GiB{each}, but {have / gib:.1f} GiB is "
        f"available ({scenario.population.size:,} patients, about "
        f"{scenario.network.ties_per_patient:,} ties each); reduce population.size, "
        "network.group_size or network.background.mean_degree, use fewer --workers, or "
        "pass --force to try anyway")
