"""Task sizes from the executor's capacity and the run cost (issue 17), the workers'
compute-thread limits and the no-op run test hook."""

from __future__ import annotations

import concurrent.futures as cf
import math

import numba
import pytest

import sim.engine.executors as executors
from sim.engine.tasks import (
    GUIDED_K,
    NOOP_ENV,
    TASK_SECONDS,
    _Chunker,
    _run_seconds,
    execute_chunk,
)


def plan(n: int, capacity: int, run_s: float, size: int | None = None) -> list[int]:
    """The task sizes of ``n`` runs, sent one after another."""
    chunker, sizes = _Chunker(run_s, size), []
    while n:
        sizes.append(chunker.next(n, capacity))
        n -= sizes[-1]
    return sizes


def test_every_worker_of_a_large_cluster_gets_work() -> None:
    # the case: 240 runs on 10 workers made 8 chunks (driver-sized): 2 idle
    sizes = plan(240, capacity=10, run_s=0.1)
    assert len(sizes) >= 2 * 10 and sum(sizes) == 240
    sizes = plan(12_288, capacity=3_200, run_s=0.1)
    assert len(sizes) >= 3_200, "a 3,200-worker cluster gets a task per worker"


def test_guided_sizes_shrink_to_small_tasks_at_the_tail() -> None:
    sizes = plan(12_288, capacity=200, run_s=0.08)
    assert sizes[0] == math.ceil(12_288 / (GUIDED_K * 200))
    assert sizes == sorted(sizes, reverse=True), "never larger than an earlier task"
    assert sizes[-1] == 1 and sum(sizes) == 12_288
    assert sizes[-200:] == [1] * 200, "the last round is one run per task"


def test_sizes_bounded_by_the_expected_work_of_a_task() -> None:
    low, high = TASK_SECONDS
    assert max(plan(100_000, capacity=2, run_s=1.0)) == int(high / 1.0), "long runs: capped"
    cheap = plan(100_000, capacity=200, run_s=0.001)
    assert min(cheap[:-1]) >= int(low / 0.001), "cheap runs: batched to amortise overhead"
    assert plan(10, capacity=2, run_s=1.0, size=3) == [3, 3, 3, 1], "a fixed size wins"


def test_run_cost_from_the_scenario_then_from_measured_runs() -> None:
    bases = {"k": {"population": {"size": 2_000}, "run": {"days": 365}}}
    small = _run_seconds(bases, [(0, "k", {}, 1)])
    big = _run_seconds(bases, [(0, "k", {"population.size": 200_000}, 1)])
    assert big > 50 * small, "patients x days drive the cost"
    chunker = _Chunker(small)
    chunker.observe([{"wall_time_s": 2.0}, {"wall_time_s": 4.0}, {"wall_time_s": math.nan}])
    assert chunker.run_s == pytest.approx(3.0)


def test_noop_hook_returns_a_fixed_summary_without_running_the_model(monkeypatch) -> None:
    monkeypatch.setenv(NOOP_ENV, "0")
    outcomes = execute_chunk([(7, "no-such-base", {}, 1)], timeseries=True)
    assert outcomes[0]["status"] == "ok" and outcomes[0]["summary"] == {"noop": 1.0}
    monkeypatch.delenv(NOOP_ENV)
    outcomes = execute_chunk([(7, "no-such-base", {}, 1)], timeseries=True)
    assert outcomes[0]["status"] == "failed", "without the hook the model runs (and fails)"


def test_limit_threads_applies_in_every_task_thread(monkeypatch) -> None:
    before = numba.get_num_threads()
    for name in executors.THREAD_VARIABLES:
        monkeypatch.setenv(name, "99")
    monkeypatch.setattr(executors, "_task_threads", None)
    try:
        executors.limit_threads(1)
        assert numba.get_num_threads() == 1
        assert all(executors.os.environ[n] == "1" for n in executors.THREAD_VARIABLES)
        with cf.ThreadPoolExecutor(1) as pool:  # numba's count is per thread (Dask tasks)
            assert pool.submit(executors._in_limits, numba.get_num_threads).result() == 1
    finally:
        numba.set_num_threads(before)
