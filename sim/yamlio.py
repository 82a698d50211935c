"""Safe YAML reading that remembers the line of every key.

Scenario errors must name the file and line of the offending key, so documents are
composed into nodes (PyYAML's safe loader: no object construction) and converted to
plain Python while a ``{key path: line}`` map is recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError

MAX_DOCUMENT_BYTES = 2_000_000
MAX_NODES = 200_000

Location = tuple[str, int | None]
"""(file label, 1-based line or None)."""


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], Location]]:
    """Read one YAML mapping from ``path``; return it and the line of every key path.

    Raises:
        ScenarioError: unreadable, oversized, malformed or non-mapping documents.
    """
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"file not found: {label}") from None
    except OSError as exc:
        raise ScenarioError(f"cannot read {label}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ScenarioError(
            f"{label} is {len(raw):,} bytes; scenario files are limited to "
            f"{MAX_DOCUMENT_BYTES:,} bytes"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{label} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    return parse_yaml(text, label)


def parse_yaml(
    text: str, label: str
) -> tuple[dict[str, Any], dict[tuple[str, ...], Location]]:
    """Parse YAML text; see :func:`read_yaml`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ScenarioError(
            f"malformed YAML: {exc.problem or exc}", file=label, line=line
        ) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=label) from None
    if node is None:
        return {}, {}
    lines: dict[tuple[str, ...], Location] = {}
    counter = [0]
    value = _convert(node, (), label, lines, counter, depth=0)
    if not isinstance(value, dict):
        raise ScenarioError(
            f"expected a mapping of sections at the top level, got {type(value).__name__}",
            file=label,
            line=node.start_mark.line + 1,
        )
    return value, lines


def _convert(
    node: yaml.Node,
    path: tuple[str, ...],
    label: str,
    lines: dict[tuple[str, ...], Location],
    counter: list[int],
    depth: int,
) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES or depth > 50:
        raise ScenarioError(
            f"document too large or too deeply nested (over {MAX_NODES:,} values or "
            "50 levels); YAML aliases may expand it",
            file=label,
            line=node.start_mark.line + 1,
        )
    if isinstance(node, yaml.MappingNode):
        loader = yaml.SafeLoader("")
        loader.flatten_mapping(node)  # resolves << merge keys
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise ScenarioError(
                    "mapping keys must be plain names", file=label,
                    line=key_node.start_mark.line + 1,
                )
            key = str(key)
            if key in out:
                raise ScenarioError(
                    f"key '{'.'.join((*path, key))}' appears twice", file=label,
                    line=key_node.start_mark.line + 1,
                )
            lines[(*path, key)] = (label, key_node.start_mark.line + 1)
            out[key] = _convert(value_node, (*path, key), label, lines, counter, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, str(i)), label, lines, counter, depth + 1)
            for i, item in enumerate(node.value)
        ]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ScenarioError(
            f"cannot read value: {exc}", file=label, line=node.start_mark.line + 1
        ) from None
