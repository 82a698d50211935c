"""Generate the parameter table of docs/model.md from the scenario declarations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sim.params.scenario import Scenario, section_type

BEGIN, END = "<!-- parameters:begin -->", "<!-- parameters:end -->"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = section_type(field.annotation)
        extra: dict[str, Any] = field.json_schema_extra or {}  # type: ignore[assignment]
        if sub is not None and "unit" not in extra:
            rows += _rows(sub, path + ".")
            continue
        default = field.default
        if isinstance(default, BaseModel):
            default = ", ".join(f"{k}={v}" for k, v in default.model_dump().items())
        rows.append((path, str(default), extra.get("unit", ""), field.description or "",
                     extra.get("source", "")))
    return rows


def parameter_table() -> str:
    """Markdown table: every parameter with its default, unit, meaning and source."""
    lines = ["| parameter | default | unit | meaning | source |", "|---|---|---|---|---|"]
    for row in _rows(Scenario, ""):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    return "\n".join(lines)


def update_model_doc(path: Path = Path("docs/model.md")) -> bool:
    """Rewrite the generated table in ``path``; return True when it changed."""
    text = path.read_text()
    block = f"{BEGIN}\n{parameter_table()}\n{END}"
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    changed = update_model_doc()
    print("docs/model.md updated" if changed else "docs/model.md already up to date")
