"""Shared fixtures: small, fast scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
DESIGNS = SCENARIOS / "designs"
SMALL = {"population.size": 300, "run.days": 90}


@pytest.fixture
def root() -> Path:
    """The project root."""
    return ROOT


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sweep_yaml(name: str, *, size: int, days: int, n: int, replications: int, seed: int,
               designs: tuple[str, ...] = ("usual_care", "hybrid_kickoff"),
               uncertain: dict[str, tuple[float, float]] | None = None,
               timeseries_every_days: int | None = None) -> str:
    """A small Latin-hypercube sweep file over shipped designs (the tests' common fixture).

    ``uncertain`` maps dotted parameters to (low, high); by default the in-person gain
    varies over 0.2-0.6.
    """
    uncertain = uncertain or {"network.in_person_gain": (0.2, 0.6)}
    lines = [f"name: {name}", f"base: {SCENARIOS}/base.yaml", "set:",
             f"  population.size: {size}", f"  run.days: {days}", "levers:", "  design:",
             *(f"    - {DESIGNS}/{d}.yaml" for d in designs), "uncertain:",
             *(f"  {k}: {{low: {lo}, high: {hi}}}" for k, (lo, hi) in uncertain.items()),
             f"design: {{method: lhs, n: {n}}}", f"replications: {replications}",
             f"seed: {seed}"]
    if timeseries_every_days is not None:
        lines.append(f"outputs: {{timeseries_every_days: {timeseries_every_days}}}")
    return "\n".join(lines) + "\n"


def write_sweep(folder: Path, text: str, name: str = "sweep.yaml") -> Path:
    """Write a sweep file into ``folder`` and return its path."""
    return write(folder / name, text)


def warm_kernels() -> None:
    """Compile both daily kernel sets into numba's cache (the dashboard's process loads them).

    On a fresh machine the cache is empty, and the first Step would compile for longer than
    the page waits (about 30 s with a second test worker compiling too).
    """
    from sim import load_scenario
    from sim.core import kernels
    from sim.core.simulation import Simulation

    small = load_scenario("scenarios/designs/hybrid_kickoff.yaml",
                          {"population.size": 20, "run.days": 2})
    for kernel_set in (kernels.SERIAL, kernels.PARALLEL):
        model = Simulation(small, 1)
        model.kernels = kernel_set
        model.step()
