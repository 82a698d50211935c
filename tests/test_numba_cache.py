"""numba's compiled-kernel cache goes to the user's cache folder, never into the package."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


WIDTH_PROBE = ("import sim.core, numba, llvmlite.binding as llvm; "
               "print(repr(numba.config.CPU_FEATURES)); "
               "print('+avx512f' in llvm.get_host_cpu_features().flatten().split(','))")


def _width_probe(env: dict[str, str]) -> tuple[str | None, bool]:
    """numba's CPU features in a fresh process that imports ``sim.core``; AVX-512 or not."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME")}
    done = subprocess.run([sys.executable, "-c", WIDTH_PROBE], env={**base, **env},
                          capture_output=True, text=True, check=True, timeout=300)
    features, avx512 = done.stdout.splitlines()
    return ast.literal_eval(features), avx512 == "True"


def test_the_kernels_use_512_bit_vectors_where_the_cpu_has_avx512() -> None:
    features, avx512 = _width_probe({})
    if avx512:
        assert features.endswith(",-prefer-256-bit") and "+avx512f" in features
    else:
        assert features is None, "no AVX-512: numba's own choice of features"


def test_cpu_features_or_name_the_user_set_are_kept() -> None:
    assert _width_probe({"NUMBA_CPU_FEATURES": "+sse2"})[0] == "+sse2"
    assert _width_probe({"NUMBA_CPU_FEATURES": ""})[0] == "", "empty is a choice too"
    assert _width_probe({"NUMBA_CPU_NAME": "generic"})[0] == "", "numba's portable default"


RUN_PROBE = """
import hashlib, sys
import numpy as np
from sim import load_scenario
from sim.core import kernels
from sim.core.model import PeerSupportModel
sc = load_scenario("scenarios/designs/hybrid_monthly.yaml", {"population.size": 600,
                                                            "run.days": 90})
h = hashlib.sha256()
for k in (kernels.SERIAL, kernels.PARALLEL):
    m = PeerSupportModel(sc, seed=5, agent_views=False)
    m.kernels = k
    m.advance(90)
    for name in ("hba1c", "utility", "distress", "support", "engagement", "qalys", "cost"):
        h.update(getattr(m.state, name).tobytes())
    h.update(m.ledger.values.tobytes())
print(h.hexdigest())
"""


@pytest.mark.slow
def test_results_do_not_depend_on_the_vector_width(tmp_path: Path) -> None:
    """The same run with 256- and 512-bit vectors: the same numbers, bit for bit."""
    wide, avx512 = _width_probe({})
    if not avx512 or wide is None:
        pytest.skip("this CPU has no AVX-512: one vector width only")
    narrow = wide.removesuffix(",-prefer-256-bit")  # the host's features, LLVM's tuning
    root = Path(sim.core.__file__).parents[2]
    base = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME")}
    digests = [subprocess.run([sys.executable, "-c", RUN_PROBE], cwd=root,
                              env={**base, "NUMBA_CPU_FEATURES": features},
                              capture_output=True, text=True, check=True,
                              timeout=1200).stdout.strip() for features in (wide, narrow)]
    assert digests[0] == digests[1]
