"""How numba compiles, caches and calls the kernels: cache folder, vectoriser, entry points.

The cache goes to the user's cache folder, not the installed package (applied by
``sim/core/__init__.py``, before any core module imports numba), so a read-only install (a
wheel in site-packages, a container) caches once per user instead of recompiling in every
worker; a ``NUMBA_CACHE_DIR`` the user set is kept. On a CPU with AVX-512 the kernels' loops
use all of its width (``prefer_wide_vectors``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/peersupport/numba`` (default ``~/.cache/peersupport/numba``)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "peersupport" / "numba"


def use_user_cache_dir() -> None:
    """Point numba's cache at :func:`user_cache_dir` unless ``NUMBA_CACHE_DIR`` is set."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir())
    if "numba" in sys.modules:  # imported earlier (e.g. by a user's script): re-read it
        sys.modules["numba"].core.config.reload_config()


def prefer_wide_vectors() -> None:
    """Let LLVM vectorise with 512-bit registers where the CPU has them (AVX-512).

    LLVM's tuning for many Intel CPUs with AVX-512 prefers 256-bit vectors (``prefer-256-bit``:
    older chips slowed their clock for 512-bit work), so numba's loops ran four patients per
    instruction where eight fit. The patient pass is compute-bound: eight lanes took it from
    29 to 24-25 ns a patient-day at 100,000 on one core of a Xeon with AVX-512 (benchmarks/
    results.md, 2026-12-04 13:25). Results do not change: every lane does the scalar loop's
    IEEE operations in source order (``sim.core.vmath``), whatever the width.

    Sets ``NUMBA_CPU_FEATURES`` (the host's features, less that tuning) for numba to read at
    import, so it applies before the first ``import numba`` only (``sim/core/__init__.py``),
    and to the processes this one starts. A ``NUMBA_CPU_FEATURES`` or ``NUMBA_CPU_NAME`` the
    user set (even empty; ``generic`` for a portable cache) is kept as numba reads it.
    """
    user_set = {"NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME"} & os.environ.keys()
    if user_set or "numba" in sys.modules:
        return
    import llvmlite.binding as llvm

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot read this host's features: numba's defaults
        return
    if "+avx512f" in features.split(","):
        os.environ["NUMBA_CPU_FEATURES"] = features + ",-prefer-256-bit"


VECTORIZE_MEMORY_CHECKS = 1024
"""Runtime overlap checks LLVM's loop vectoriser may emit for one loop (LLVM's default: 128).

A loop writing to arrays LLVM cannot prove distinct vectorises behind a check, at loop entry,
that no two of them overlap: one per pair of a written and another array. The patient pass's
HbA1c-to-costs loop writes 9 of its 23 arrays and needs between 160 and 200; held to 128, it
ran one patient at a time and the pass took 68-71 ns per patient-day instead of 53-55
(benchmarks/results.md, 2026-12-03). The checks cost well under a microsecond per call.
"""


def vectorize_wide_loops() -> None:
    """Let LLVM vectorise loops over many arrays (``VECTORIZE_MEMORY_CHECKS``).

    An LLVM option of the whole process, set before the kernels compile (cached kernels keep
    the code they were compiled to); set by ``sim.core.kernels``, so it also applies to numba
    code compiled later in the process. It changes which loops run vectorised, never a result
    of code compiled without fast-math: the checks fall back to the scalar loop when arrays do
    overlap, and a vector lane does the scalar loop's operations in the same order.
    """
    import llvmlite.binding as llvm

    llvm.set_option("", f"-vectorize-memory-check-threshold={VECTORIZE_MEMORY_CHECKS}")


def drop_stale_cache(module_file: str, *sources: str) -> None:
    """Delete ``module_file``'s compiled-kernel cache when one of ``sources`` changed.

    numba keys its on-disk cache on the calling module's file only, so editing a module whose
    compiled functions it calls (the science in dynamics.py, the equations) would otherwise
    leave its kernels running the old code. A hash of the sources is kept beside the cache.
    """
    from numba import config
    from numba.core.caching import _CacheLocator

    cache = Path(config.CACHE_DIR) / _CacheLocator.get_suitable_cache_subpath(module_file)
    stem = Path(module_file).stem
    stamp = cache / f"{stem}.sources.sha256"
    digest = hashlib.sha256(b"".join(Path(f).read_bytes() for f in sources)).hexdigest()
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return
        for old in cache.glob(f"{stem}.*.nb[ic]"):
            old.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba then cannot cache either
        pass


def entry_point(dispatcher: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """The compiled ``dispatcher`` for arguments of ``args``' types, called without dispatch.

    numba's dispatcher types every argument at every call, a named tuple field by field in
    Python. The entry point unboxes the arguments by its signature alone, so it must only get
    arguments of the types ``args`` had (the model's arguments keep theirs for the whole run).
    Compiles, or loads from numba's cache, once per process and argument types: typing the
    model's 70 arrays costs 1 ms, 1.4% of a 2,000-patient run; ``_type_key`` 0.03 ms.
    """
    key = (dispatcher, _type_key(args))
    found = _entry_points.get(key)
    if found is None:
        found = dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
        _entry_points[key] = found
    return found


_entry_points: dict[tuple[Any, Any], Callable[..., Any]] = {}


def _type_key(value: Any) -> Any:
    """What numba's type of ``value`` depends on (``numba.typeof``), cheaply where it can.

    An array's dtype, dimensions, layout, writability and alignment; a tuple's class and its
    items'; an int's range (int64, uint64 or neither); a plain or numpy number's type. Anything
    else (a datetime, a list, a record) is keyed by its numba type itself.
    """
    if isinstance(value, np.ndarray):
        f = value.flags
        return value.dtype, value.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned
    if isinstance(value, tuple):
        return type(value), *map(_type_key, value)
    kind = type(value)
    if kind is int:
        return int, (value >= 2**63) - (value < -(2**63))
    if kind in _NUMBER_TYPES:
        return kind
    from numba import typeof

    return typeof(value)


_NUMBER_TYPES = frozenset({bool, float, complex, *(np.dtype(c).type for c in "?bhilqBHILQfdFD")})
"""Types whose numba type the type alone decides."""
