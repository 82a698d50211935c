"""What the run-many front-ends (sweep, sensitivity) share.

The base scenario with its fixed overrides, checking a value against it, and naming what changed on
a resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.params.errors import ScenarioError
from sim.params.located import Located
from sim.params.scenario import Scenario, check_parameter_path, load_scenario


def load_base(folder: Path, base: str, fixed: Mapping[str, Any], where: Located,
              extra: Mapping[str, Any] | None = None) -> Scenario:
    """The ``base`` scenario file (relative to ``folder``) with overrides applied.

    The ``set:`` overrides ``fixed`` (and ``extra`` ones) are applied; errors are located at the key
    that caused them.
    """
    base_file = folder / base
    if not base_file.is_file():
        raise where.error(f"base names a missing scenario file: {base_file}", ("base",))
    for key in fixed:
        check_parameter_path(where, key, ("set", key))
    try:
        return load_scenario(base_file, {**fixed, **(extra or {})})
    except ScenarioError as exc:
        raise where.rethrow(exc, "set", list(fixed)) from None


def check_value(base: Scenario, overrides: dict[str, Any], where: Located,
                loc: tuple[str, ...], what: str = "") -> None:
    """Refuse (located at ``loc``) overrides the base scenario does not accept."""
    try:
        base.with_overrides(overrides)
    except ScenarioError as exc:
        raise where.error(f"{what}{exc.message}", loc) from None


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two resolved analysis files (spec keys, base, design files)."""
    out = []
    old_spec, new_spec = old.get("spec", {}), new.get("spec", {})
    for key in sorted(set(old_spec) | set(new_spec)):
        if old_spec.get(key) != new_spec.get(key):
            out.append(key)
    if old.get("base") != new.get("base") and "base" not in out:
        out.append("base scenario content")
    if old.get("levers") != new.get("levers") and "levers" not in out:
        out.append("design file content")
    return out
