"""How many runs are executed: one options object for every many-run analysis."""

from __future__ import annotations

from dataclasses import dataclass

from sim.engine.executors import EXECUTORS
from sim.params.errors import ScenarioError


@dataclass(frozen=True)
class RunOptions:
    """Where and how :func:`sim.engine.tasks.run_tasks` runs tasks (validated on creation).

    Attributes:
        executor: ``"serial"``, ``"local"`` (processes, default) or ``"dask"``.
        workers: worker processes (default: all cores).
        scheduler: Dask scheduler address (``executor="dask"``; default: a local cluster).
        resume: continue a store: skip recorded runs (refused when the tasks changed).
        retry_failed: like ``resume``, and also rerun runs recorded as failed.
        force_resume: resume even a store made by other code or number-changing package
            versions (refused otherwise, naming what differs).
        progress: show a tqdm bar (runs done, failures, ETA) on stderr.
        chunk_size: runs per task sent to a worker (default: guided by the executor's
            capacity and the run cost, smaller towards the end; see tasks._Chunker).
        flush_every: write a results part at least every this many finished runs ...
        flush_seconds: ... or this many seconds.
        fsync: flush every results part to disk before going on (survives a power loss,
            at a disk round trip per part). Without it a part is still written atomically,
            so a crash of the process loses nothing written; a power loss may lose the last
            parts, which ``resume`` redoes.
    """

    executor: str = "local"
    workers: int | None = None
    scheduler: str | None = None
    resume: bool = False
    retry_failed: bool = False
    force_resume: bool = False
    progress: bool = False
    chunk_size: int | None = None
    flush_every: int = 200
    flush_seconds: float = 5.0
    fsync: bool = False

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ScenarioError(f"executor must be one of {', '.join(EXECUTORS)}, got "
                                f"{self.executor!r}")
        if self.scheduler is not None and self.executor != "dask":
            raise ScenarioError(f"a scheduler address needs the dask executor, not "
                                f"{self.executor!r}")
        for name, value in (("workers", self.workers), ("chunk_size", self.chunk_size),
                            ("flush_every", self.flush_every)):
            if value is not None and value < 1:
                raise ScenarioError(f"{name} must be >= 1, got {value}")
        if not self.flush_seconds > 0:
            raise ScenarioError(f"flush_seconds must be > 0, got {self.flush_seconds}")

    @property
    def where(self) -> str:
        """Where the runs go, for a one-line plan: ``local (2 workers)``."""
        place = self.scheduler or (f"{self.workers or 'all'} workers"
                                   if self.executor != "serial" else "this process")
        return f"{self.executor} ({place})"
