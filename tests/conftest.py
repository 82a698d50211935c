"""Shared fixtures: small, fast scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ROOT / "scenarios" / "designs"
SMALL = {"population.size": 300, "run.days": 90}


@pytest.fixture
def root() -> Path:
    """The project root."""
    return ROOT


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
