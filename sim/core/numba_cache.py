"""Where numba writes compiled kernels: the user's cache folder, not the installed package.

Applied by ``sim/core/__init__.py``, before any core module imports numba, so a
read-only install (a wheel in site-packages, a container) caches once per user instead of
recompiling in every worker. A ``NUMBA_CACHE_DIR`` the user set is kept.
"""

from __future__ import annotations

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

