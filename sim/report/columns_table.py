"""Generate the column dictionary of docs/results.md.

Every summary key of a run, its stored (SQL) name, unit, meaning and better direction, from
``sim.core.outcomes``.

``python -m sim.report.columns_table`` rewrites the table in docs/results.md.
"""

from __future__ import annotations

from pathlib import Path

from sim.core.outcomes import (
    OUTCOMES,
    SUBGROUP_OUTCOMES,
    Outcome,
    subgroup_label,
    summary_keys,
)
from sim.engine.store import sql_name

BEGIN, END = "<!-- columns:begin -->", "<!-- columns:end -->"
UNDECLARED = "UNDECLARED"
"""Placeholder for a summary key without a declaration in ``sim.core.outcomes``."""


def declaration(key: str) -> Outcome | None:
    """The declared outcome of a summary key (subgroup keys from their template)."""
    if key in OUTCOMES:
        return OUTCOMES[key]
    for prefix, template in SUBGROUP_OUTCOMES.items():
        group = key.removeprefix(f"{prefix}_")
        words = subgroup_label(group) if group != key else None
        if words is not None:
            return Outcome(template.label.format(group=words), template.unit, template.better)
    return None


def column_table(keys: list[str] | None = None) -> str:
    """Markdown table: every summary key with its stored name, unit, meaning, direction."""
    lines = ["| column | stored as (SQL) | unit | meaning | better |",
             "|---|---|---|---|---|"]
    for key in summary_keys() if keys is None else keys:
        found = declaration(key)
        unit, label, better = ((found.unit, found.label, found.better) if found else
                               (UNDECLARED, UNDECLARED, UNDECLARED))
        cells = (f"`{key}`", f"`{sql_name(key)}`", unit, label, better)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def update(doc: Path) -> None:
    """Replace the table between the markers of ``doc``."""
    text = doc.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{column_table()}\n{END}{tail}")


if __name__ == "__main__":
    update(Path(__file__).resolve().parents[2] / "docs" / "results.md")
