"""The page's browser assets (Solara's JavaScript, CSS and fonts), for offline use.

Solara's page loads them from its asset cache (``<venv>/share/solara/cdn``), or from a public
CDN into that cache on first use. The ``dashboard`` extra pins Solara together with the
``solara-assets`` release that holds exactly the files its page asks for, so
``pip install 'peersupport[dashboard]'`` is all an offline classroom needs. With another Solara
version, ``peersupport dashboard --fetch-assets`` installs the same files once from the npm
registry, with npm. The packages are read from the installed Solara's page template, so any
Solara version asks for its own.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import ipyvue

PACKAGE = re.compile(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+[\w.+-]*)/")
FONT_AWESOME = re.compile(r'fontawesome_path[^=]*=\s*"/([^/"]+)/')


def _solara_server_dir() -> Path:
    spec = importlib.util.find_spec("solara.server")
    if spec is None or spec.origin is None:
        raise RuntimeError("solara is not installed: pip install 'peersupport[dashboard]'")
    return Path(spec.origin).parent


def required_packages() -> list[str]:
    """The npm packages (name@version) the installed Solara's page loads from its CDN."""
    server = _solara_server_dir()
    template = (server / "templates" / "solara.html.j2").read_text()
    vue3 = ipyvue.__version__.startswith("3")
    wanted = []
    for spec in dict.fromkeys(PACKAGE.findall(template)):
        if "solara-vuetify" in spec and ("vuetify3" in spec) != vue3:
            continue  # the template loads one app or the other, by ipyvue's version
        wanted.append(spec)
    found = FONT_AWESOME.search((server / "settings.py").read_text())
    if found:
        wanted.append(found.group(1))
    return wanted


def default_cache_dir() -> Path:
    """Solara's asset cache (its ``assets.proxy_cache_dir`` setting)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def missing_packages(cache_dir: Path | None = None) -> list[str]:
    """Required packages not yet in the cache."""
    cache = cache_dir or default_cache_dir()
    return [p for p in required_packages() if not (cache / p / "package.json").is_file()]


def fetch_package(spec: str, cache_dir: Path, *, npm: str = "npm", timeout_s: float = 300
                  ) -> Path:
    """Download one package with ``npm pack`` and unpack it into the cache.

    Raises:
        RuntimeError: when npm is missing or fails (message names the package).
    """
    exe = shutil.which(npm)
    if exe is None:
        raise RuntimeError(f"npm not found: cannot fetch {spec} (install Node.js and npm, "
                           "or open the dashboard once on a machine that reaches the CDN)")
    target = cache_dir / spec
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([exe, "pack", spec, "--silent", "--pack-destination", tmp],
                              cwd=tmp, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise RuntimeError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(unpacked, filter="data")
        root = unpacked / "package"
        if not root.is_dir():
            raise RuntimeError(f"npm pack {spec}: unexpected tarball layout")
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy next to the cache entry, then rename: a concurrent fetch of the same
        # package (two test workers) never sees, or leaves, a half-written directory
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            shutil.copytree(root, staging / "package")
            if target.exists() and not (target / "package.json").is_file():
                target.rename(staging / "partial")  # files the CDN proxy cached one by one
            try:
                (staging / "package").rename(target)
            except OSError:
                if not (target / "package.json").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch_assets(cache_dir: Path | None = None) -> list[str]:
    """Fetch every missing package into the cache; returns the ones fetched."""
    cache = cache_dir or default_cache_dir()
    fetched = []
    for spec in missing_packages(cache):
        fetch_package(spec, cache)
        fetched.append(spec)
    return fetched
