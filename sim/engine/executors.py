"""Executors: serial, local processes and Dask behind one ``concurrent.futures`` interface.

:func:`open_executor` yields a :class:`concurrent.futures.Executor`; ``submit`` returns a
:class:`concurrent.futures.Future`, so callers use ``wait``/``as_completed`` whatever runs
the work. Each backend runs ``initializer(*initargs)`` once in every worker process (the
place to send data every task needs, such as base scenarios, once instead of per task):

* ``serial``: in this process, in order (debugging, tiny sweeps, profiling);
* ``local``: a :class:`~concurrent.futures.ProcessPoolExecutor` with an explicit
  ``forkserver`` (or ``spawn``) context: the process-wide start method is never changed.
  Workers ignore SIGINT (the main process handles Ctrl-C and stops them) and exit by
  themselves when the main process dies (SIGKILL, a cluster time-out). A pool broken by a
  crashed worker (segfault, out of memory) is replaced on the next ``submit``;
* ``dask``: a ``distributed.Client`` of a new ``LocalCluster(processes=True)``, or of the
  scheduler at ``scheduler`` (e.g. ``tcp://host:8786``, as started by dask-jobqueue on
  SLURM); the initializer is a worker plugin, so workers that join later get it too.

Each also has ``capacity()``: how many tasks it runs at once now (a Dask cluster's count
follows workers joining and leaving), so callers keep enough work queued, and no more.

Every worker gets explicit compute-thread settings (:func:`limit_threads`): the cores it
may use divided by the tasks it runs at once on them, so parallel kernels (numba) and
BLAS/OpenMP libraries do not oversubscribe the cores. The local backends divide this
machine's cores by their workers; with ``scheduler`` the cores and task slots of each host
are read from the cluster when connecting (the smallest share over hosts wins).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sim.params.errors import ScenarioError

EXECUTORS = ("serial", "local", "dask")
"""Executor kinds accepted by :func:`open_executor` and ``peersupport sweep --executor``."""


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Environment variables that size the thread pools of OpenMP, MKL and OpenBLAS."""

_task_threads: int | None = None  # this worker's compute threads per task (limit_threads)


def default_workers() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


WORKERS_PER_CORE = 4
"""Most local worker processes per core: more only thrash (100,000 asked for 82 processes
and made an 80-run sweep 20 times slower)."""


def max_workers() -> int:
    """Most local worker processes allowed: :data:`WORKERS_PER_CORE` per available core."""
    return WORKERS_PER_CORE * default_workers()


def limit_threads(threads: int) -> None:
    """Give this worker process ``threads`` compute threads per task.

    Sets the OpenMP/MKL/OpenBLAS variables (read by libraries loaded from now on) and
    numba's thread count in the calling thread; numba's count is per thread, so a worker
    whose tasks run in other threads (Dask) applies it again in each task
    (:func:`_in_limits`).
    """
    global _task_threads
    _task_threads = max(1, threads)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(_task_threads)
    _apply_numba_threads()


def _apply_numba_threads() -> None:
    if _task_threads is None:
        return
    try:
        import numba
    except ImportError:
        return
    wanted = min(_task_threads, numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def _in_limits(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` in this thread with the worker's compute-thread limit applied."""
    _apply_numba_threads()
    return fn(*args, **kwargs)


@contextlib.contextmanager
def open_executor(
    kind: str = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    connect_timeout_s: float = 10.0,
) -> Iterator[cf.Executor]:
    """Open an executor; shut it down (and its workers) on exit.

    Args:
        kind: ``"serial"``, ``"local"`` or ``"dask"``.
        workers: worker processes (default: all cores); ignored by ``serial`` and when
            connecting to an existing Dask scheduler.
        scheduler: address of a running Dask scheduler (``kind="dask"`` only).
        initializer: run once in each worker before its first task.
        initargs: arguments of ``initializer`` (pickled once per worker).
        connect_timeout_s: how long to try reaching ``scheduler``.

    Raises:
        ScenarioError: unknown kind, bad worker count, unreachable scheduler.
    """
    if kind not in EXECUTORS:
        raise ScenarioError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if workers is not None and not 1 <= workers <= max_workers():
        raise ScenarioError(f"workers must be between 1 and {max_workers()} "
                            f"({WORKERS_PER_CORE} per core), got {workers:,}")
    if scheduler is not None and kind != "dask":
        raise ScenarioError(f"a scheduler address needs the dask executor, not {kind!r}")
    workers = workers or default_workers()
    if kind == "serial":
        executor: cf.Executor = SerialExecutor(initializer, initargs)
    elif kind == "local":
        executor = LocalProcessExecutor(workers, initializer, initargs,
                                        threads=max(1, default_workers() // workers))
    else:
        with _dask_executor(workers, scheduler, initializer, initargs,
                            connect_timeout_s) as executor:
            yield executor
        return
    try:
        yield executor
    except BaseException:
        _stop(executor)
        raise
    executor.shutdown(wait=True)


def _stop(executor: cf.Executor) -> None:
    if isinstance(executor, LocalProcessExecutor):
        executor.terminate()
    else:
        executor.shutdown(wait=False, cancel_futures=True)


class SerialExecutor(cf.Executor):
    """Runs each call in this process when it is submitted (a completed future)."""

    def __init__(self, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        if initializer is not None:
            initializer(*initargs)

    def capacity(self) -> int:
        """Tasks it runs at once: 1."""
        return 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn`` now, in this process, and return its already settled future."""
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class LocalProcessExecutor(cf.Executor):
    """A process pool with an explicit start method that replaces itself when broken."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None,
                 initargs: tuple[Any, ...], *, threads: int = 1) -> None:
        self.workers = workers
        self._init = (initializer, initargs, threads)
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn"
        )
        self._known_children = {p.pid for p in multiprocessing.active_children()}
        self._started = self._context.Value("i", 0)  # workers that got through start-up
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=self._context,
                                      initializer=_process_init,
                                      initargs=(*self._init, self._started))

    def capacity(self) -> int:
        """Tasks it runs at once: its worker processes."""
        return self.workers

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Queue ``fn`` on the pool, replacing the pool first if a dead worker broke it."""
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # a worker died; its futures already failed
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self._started.value == 0:
                raise WorkersCannotStart(
                    "the worker processes exit as they start (none has started; their error "
                    "output is above). In a script, call run_tasks, sweeps and analyses under "
                    "`if __name__ == \"__main__\":`: each worker process imports the script "
                    "(Python's multiprocessing), and without the guard it runs the script's "
                    "work again instead of starting") from None
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down (see :meth:`concurrent.futures.Executor.shutdown`)."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def terminate(self) -> None:
        """Stop now: terminate this pool's worker processes, then cancel queued work.

        Workers first: a worker waiting for a task when the pool closes its queue would
        print an ``EOFError`` traceback; told to stop, it exits quietly.
        """
        ours = [c for c in multiprocessing.active_children() if c.pid not in self._known_children]
        for child in ours:
            child.terminate()  # SIGTERM: the worker abandons its task and exits cleanly
        for child in ours:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)


class WorkersCannotStart(RuntimeError):
    """The local worker processes die before any of them has started.

    For example a script that calls ``run_tasks`` without a ``__main__`` guard: retrying
    would only repeat it.
    """


class WorkerStopped(SystemExit):
    """Raised in a worker process told to stop (SIGTERM), also in the middle of a task.

    A SystemExit, so a run's ``except Exception`` does not record it as a failed run and
    an idle worker exits quietly, running its clean-up (no leaked semaphores).
    """


def _stop_worker(signum: int, frame: Any) -> None:
    raise WorkerStopped(128 + signum)


def _process_init(initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
                  threads: int, started: Any) -> None:
    """Worker start-up.

    Count itself in ``started`` (a shared int: the owner tells a worker that cannot start
    from one that crashed later), ignore Ctrl-C, exit with the pool's owner, limit the compute
    threads, then the initializer.
    """
    with started.get_lock():
        started.value += 1
    limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    owner = multiprocessing.parent_process()  # the process that owns the pool
    if owner is not None:
        # A forkserver worker's parent is the fork server, which outlives a killed owner
        # (the workers hold it open), so watch the owner itself: its sentinel is ready
        # when it dies.
        def watch() -> None:
            owner.join()
            os._exit(1)

        threading.Thread(target=watch, name="owner-watch", daemon=True).start()
    # tqdm's default lock is a multiprocessing semaphore; a worker terminated on Ctrl-C would
    # leak it (a resource_tracker warning at exit). Workers never share a terminal bar.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def _dask_executor(workers: int, scheduler: str | None,
                   initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
                   connect_timeout_s: float) -> Iterator[cf.Executor]:
    try:
        from distributed import Client, LocalCluster

        from sim.engine._dask import InitPlugin
    except ImportError:
        raise ScenarioError("the dask executor needs dask[distributed]: "
                            "pip install 'peersupport[cluster]'") from None
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR,
            ))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = _connect(Client, scheduler, connect_timeout_s)
            except Exception as exc:  # noqa: BLE001 (a non-Dask service can raise anything)
                if isinstance(exc, OSError | TimeoutError | ValueError):
                    why = f"{type(exc).__name__}: {exc}"
                else:  # e.g. a web server there: its reply read as a Dask frame length
                    why = f"something answered, but not a Dask scheduler: {type(exc).__name__}"
                raise ScenarioError(
                    f"cannot reach the Dask scheduler at {scheduler} within "
                    f"{connect_timeout_s:g} s ({why}); check the address "
                    "and that the scheduler is running (e.g. `dask scheduler`, or the "
                    "dask-jobqueue script in experiments/slurm/), or omit --scheduler to start "
                    "a local cluster"
                ) from None
            stack.enter_context(client)
            if not client.scheduler_info().get("workers"):
                logging.getLogger(__name__).warning(
                    "the Dask scheduler at %s has no workers yet; tasks wait until some join",
                    scheduler)
        threads = (max(1, default_workers() // workers) if scheduler is None
                   else cluster_threads(client))
        name = f"peersupport-init-{uuid.uuid4().hex[:12]}"
        client.register_plugin(InitPlugin(initializer, initargs, threads), name=name)
        executor = DaskExecutor(client)
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            if scheduler is not None:
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(name)
        executor.shutdown(wait=True)


def cluster_threads(client: Any) -> int:
    """Compute threads per task for a Dask cluster's workers.

    On each host, the cores its workers may use over their task slots (threads); the smallest over
    hosts. 1 when no worker has joined yet (Dask's own default for OpenMP/BLAS in worker processes).
    """
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        return 1
    cores = client.run(default_workers)  # by worker address
    slots: dict[str, int] = collections.defaultdict(int)
    host_cores: dict[str, int] = collections.defaultdict(int)
    for address, info in workers.items():
        host = info.get("host", address)
        slots[host] += int(info.get("nthreads", 1))
        host_cores[host] = max(host_cores[host], int(cores.get(address, 1)))
    return max(1, min(host_cores[h] // max(1, slots[h]) for h in slots))


def _connect(client_class: Any, scheduler: str, timeout_s: float) -> Any:
    """``Client(scheduler)`` within ``timeout_s`` (plus a grace of 2 s).

    Dask's own timeout bounds the TCP connection, not its handshake: a port that accepts
    connections and never answers would hang forever. The client is made in a daemon
    thread, abandoned (it holds no results) when it does not connect in time.
    """
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(scheduler, timeout=timeout_s)
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            box["error"] = exc

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 2)
    if thread.is_alive():
        raise TimeoutError(f"no answer from {scheduler} in {timeout_s + 2:g} s")
    if "error" in box:
        raise box["error"]
    return box["client"]


class DaskExecutor(cf.Executor):
    """A Dask client as a concurrent.futures executor whose capacity follows its workers."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._inner = client.get_executor(pure=False)
        self._capacity, self._checked = 1, -math.inf

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Queue ``fn`` on the cluster, run with the worker's compute-thread limit."""
        return self._inner.submit(_in_limits, fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop submitting; wait for running tasks unless asked to cancel them."""
        self._inner.shutdown(wait=wait and not cancel_futures)

    def capacity(self) -> int:
        """Worker threads in the cluster now.

        Checked at most every 2 s; adaptive clusters grow and shrink.
        """
        now = time.monotonic()
        if now - self._checked > 2.0:
            self._capacity = max(1, sum(self.client.nthreads().values()))
            self._checked = now
        return self._capacity
