"""Dask pieces imported only when the dask executor is used (distributed is optional)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class InitPlugin(WorkerPlugin):
    """Runs an initializer once on every worker, including workers that join later."""

    def __init__(self, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self.initializer = initializer
        self.initargs = initargs

    def setup(self, worker: Any) -> None:
        """Called by Dask when the plugin is registered, and when a worker starts."""
        self.initializer(*self.initargs)
