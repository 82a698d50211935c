"""Where numba writes compiled kernels: the user's cache folder, not the installed package.

Applied by ``sim/core/__init__.py``, before any core module imports numba, so a
read-only install (a wheel in site-packages, a container) caches once per user instead of
recompiling in every worker. A ``NUMBA_CACHE_DIR`` the user set is kept.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


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
