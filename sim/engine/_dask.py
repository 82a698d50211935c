"""Dask pieces imported only when the dask executor is used (distributed is optional)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from sim.engine.executors import limit_threads


class InitPlugin(WorkerPlugin):
    """Sets a worker's compute threads and runs an initializer once on every worker.

    Including workers that join later.
    """

    def __init__(self, initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
                 threads: int) -> None:
        self.initializer = initializer
        self.initargs = initargs
        self.threads = threads

    def setup(self, worker: Any) -> None:
        """Called by Dask when the plugin is registered, and when a worker starts."""
        limit_threads(self.threads)
        if self.initializer is not None:
            self.initializer(*self.initargs)
