"""The ready files (scenarios, lessons, validation studies), addressable by name.

They live in the checkout's ``scenarios/`` and ``experiments/`` folders; a wheel ships
copies in ``sim/_data/`` (``setup.py`` copies them at build time). ``resolve`` turns a
path or a name (``designs/hybrid_kickoff``, ``kickoff_rapport``) into a file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from sim.params.errors import ScenarioError

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "_data"
"""Where an installed wheel keeps its copies."""

CHECKOUT = Path(__file__).resolve().parents[2]
"""The source tree (editable installs and ``PYTHONPATH`` runs)."""


def data_root() -> Path:
    """The folder holding ``scenarios/`` and ``experiments/``: the wheel's copy or the checkout."""
    return PACKAGE_DATA if (PACKAGE_DATA / "scenarios").is_dir() else CHECKOUT


def names(folder: str = "scenarios") -> list[str]:
    """Names of the YAML files under ``folder`` of the data root (``designs/usual_care``)."""
    base = data_root() / folder
    return sorted(p.relative_to(base).with_suffix("").as_posix() for p in base.rglob("*.yaml"))


def resolve(ref: str | Path, folder: str = "scenarios") -> Path:
    """The file ``ref`` names: an existing path as given, else a name under ``folder``.

    A name may omit ``.yaml`` and be relative to ``folder`` (``designs/hybrid_kickoff``) or
    to the data root (``scenarios/designs/hybrid_kickoff.yaml``).

    Raises:
        ScenarioError: neither a file nor a name, with the closest names.
    """
    path = Path(ref)
    if path.is_file() or path.is_absolute() or (
            (path.is_symlink() or path.exists()) and not path.is_dir()):
        return path  # a FIFO or a symlink loop is then refused by name, not "not found"
    root = data_root()
    for base in (root / folder, root):
        for candidate in (base / path, base / path.with_name(path.name + ".yaml")):
            if candidate.is_file():
                return candidate
    known = names(folder)
    close = difflib.get_close_matches(path.with_suffix("").as_posix(), known, n=3, cutoff=0.5)
    hint = (f"; did you mean {', '.join(close)}?" if close
            else f"; ready names: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}")
    raise ScenarioError(f"file not found: {ref} (neither a file nor a ready name under "
                        f"{folder}/{hint})")
