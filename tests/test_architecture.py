"""The package's shape: imports flow one way between layers, only the model and viz use Mesa.

The contracts live in pyproject.toml ([tool.importlinter]); see ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"an import goes the wrong way:\n{proc.stdout}\n{proc.stderr}"
    assert "0 broken" in proc.stdout, proc.stdout


def test_architecture_doc_lists_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    missing = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "sim").rglob("*.py"))
               if p.name != "__init__.py" and f"`{p.relative_to(ROOT).as_posix()}`" not in text]
    assert not missing, f"ARCHITECTURE.md does not list: {missing}"
