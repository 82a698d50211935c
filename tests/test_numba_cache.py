"""numba's compiled-kernel cache goes to the user's cache folder, never into the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sim.core

PROBE = ("import sim.core.dynamics as d, numba; d.relax(0.0, 1.0, 0.5); "
         "print(numba.config.CACHE_DIR)")


def _probe(env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env},
                          capture_output=True, text=True, check=True, timeout=300)
    return done.stdout.strip()


def test_cache_is_written_to_the_xdg_cache_folder_not_the_package(tmp_path: Path) -> None:
    package = Path(sim.core.__file__).parent / "__pycache__"
    before = set(package.glob("dynamics.relax-*.nb[ic]"))
    where = _probe({"XDG_CACHE_HOME": str(tmp_path)})
    assert Path(where) == tmp_path / "peersupport" / "numba"
    assert list(Path(where).glob("*/dynamics.relax-*.nbi")), "no cache index written"
    assert set(package.glob("dynamics.relax-*.nb[ic]")) == before


def test_a_numba_cache_dir_the_user_set_is_kept(tmp_path: Path) -> None:
    assert _probe({"NUMBA_CACHE_DIR": str(tmp_path / "mine"),
                   "XDG_CACHE_HOME": str(tmp_path / "xdg")}) == str(tmp_path / "mine")
    assert not (tmp_path / "xdg").exists()


def test_a_kernels_cache_is_dropped_when_a_module_it_calls_changes(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """numba keys a cache on the caller's file only: the fused kernels and the lifetime
    year must recompile when dynamics.py or equations.py changes."""
    from numba import config
    from numba.core.caching import _CacheLocator

    from sim.core.numba_cache import drop_stale_cache

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    module, source = tmp_path / "src" / "kernel.py", tmp_path / "src" / "science.py"
    module.parent.mkdir()
    module.write_text("")
    source.write_text("a = 1\n")
    cache = tmp_path / _CacheLocator.get_suitable_cache_subpath(str(module))
    cache.mkdir(parents=True)
    compiled = cache / "kernel.step-10.py312.nbi"
    compiled.write_text("old")
    drop_stale_cache(str(module), str(source))
    assert not compiled.exists(), "no record of the sources: the cache cannot be trusted"
    compiled.write_text("new")
    drop_stale_cache(str(module), str(source))
    assert compiled.exists(), "same sources: the cache is kept"
    source.write_text("a = 2\n")
    drop_stale_cache(str(module), str(source))
    assert not compiled.exists(), "a changed source drops the cache"
