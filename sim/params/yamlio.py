"""Safe YAML reading that remembers the line of every key.

Scenario errors must name the file and line of the offending key, so documents are
composed into nodes (a safe loader: no object construction) and converted to plain
Python while a ``{key path: line}`` map is recorded.

Hostile input is refused early, in bounded time and memory: at most
``MAX_DOCUMENT_BYTES`` are read; the event stream is scanned before any node is built
(at most ``MAX_NODES`` events, ``MAX_DEPTH`` levels); alias and ``<<`` merge expansion
is measured before converting (at most ``MAX_NODES`` values and ``MAX_EXPANDED_CHARS``
characters of text once expanded: one long string repeated by aliases would otherwise
grow to gigabytes wherever it is shown or copied); keys are at most ``MAX_KEY_CHARS``
long and base-60 numbers ``MAX_BASE60_CHARS`` (PyYAML reads those in quadratic time); only
the plain YAML tags (str, int, float, bool, null, timestamp, binary, map, seq) are
accepted. A file read as part of a chain (``read_document``) gets what is left of one value
budget. Every error is a one-line ScenarioError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml

from sim.params.errors import ScenarioError, cut, short
from sim.params.files import regular_file

MAX_DOCUMENT_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 50
MAX_EXPANDED_CHARS = 4 * MAX_DOCUMENT_BYTES
"""Characters of text (keys and values) a document may hold once aliases are expanded."""
MAX_BASE60_CHARS = 64
"""Longest base-60 (YAML 1.1 sexagesimal, ``1:30:00``) number read."""
MAX_KEY_CHARS = 256
"""Longest mapping key (a name: a section, parameter, design or input)."""

# libyaml (bundled with PyYAML's wheels) scans about 15x faster than pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")
)
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_NUMBER_TAGS = frozenset((_TAG + "int", _TAG + "float"))

Location = tuple[str, int | None]
"""(file label, 1-based line or None)."""


class Document(NamedTuple):
    """A YAML mapping read with the line of every key path and the values it holds."""

    data: dict[str, Any]
    lines: dict[tuple[str, ...], Location]
    values: int  # values converted, aliases expanded (counted against ``max_values``)


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], Location]]:
    """Read one YAML mapping from ``path``; return it and the line of every key path.

    Raises:
        ScenarioError: unreadable, oversized, malformed or non-mapping documents.
    """
    data, lines, _ = read_document(path)
    return data, lines


def read_document(path: Path, max_values: int = MAX_NODES) -> Document:
    """:func:`read_yaml` with a smaller value budget (what an ``extends`` chain has left)."""
    label = str(path)
    regular_file(path)  # a FIFO, directory or symlink loop is refused before opening
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)  # bounded: a file growing meanwhile
    except OSError as exc:
        raise ScenarioError(f"cannot read {label}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ScenarioError(
            f"the file is over {MAX_DOCUMENT_BYTES:,} bytes, the limit for scenario files",
            file=label,
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"not UTF-8 text (byte {exc.start}); save it as UTF-8", file=label
        ) from None
    return parse_yaml(text, label, max_values)


def parse_yaml(text: str, label: str, max_values: int = MAX_NODES) -> Document:
    """Parse YAML text; see :func:`read_yaml`."""
    try:
        _scan(text, label)
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        what = "; ".join(str(s) for s in (exc.context, exc.problem) if s)
        raise ScenarioError(f"malformed YAML: {_one_line(what)}", file=label, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ScenarioError(
            f"malformed YAML: unacceptable character #x{exc.character:04x} ({exc.reason})",
            file=label, line=line,
        ) from None
    except (yaml.YAMLError, UnicodeError, RecursionError) as exc:
        raise ScenarioError(f"malformed YAML: {_one_line(str(exc))}", file=label) from None
    if node is None:
        return Document({}, {}, 0)
    lines: dict[tuple[str, ...], Location] = {}
    converter = _Converter(label, lines, max_values)
    try:
        converter.measure(node, 0)  # alias bombs are refused here, before any copy is made
        value = converter.convert(node, (), depth=0)
    except RecursionError:
        raise ScenarioError(
            "document nested too deeply (aliases or '<<' merges)", file=label
        ) from None
    if not isinstance(value, dict):
        raise ScenarioError(
            f"expected a mapping of sections at the top level, got {type(value).__name__}",
            file=label,
            line=node.start_mark.line + 1,
        )
    return Document(value, lines, converter.count)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _values(limit: int) -> str:
    """The value limit as errors state it (a file of an ``extends`` chain has what is left)."""
    if limit >= MAX_NODES:
        return f"{MAX_NODES:,} values"
    return (f"{MAX_NODES:,} values across its 'extends' chain, of which {limit:,} were left "
            "for this file")


def _scan(text: str, label: str) -> None:
    """Refuse documents with too many events or too deep nesting before composing them."""
    count = depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        count += 1
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            what = f"{MAX_NODES:,} values" if count > MAX_NODES else f"{MAX_DEPTH} levels"
            raise ScenarioError(
                f"document too large or too deeply nested (over {what})",
                file=label, line=event.start_mark.line + 1 if event.start_mark else None,
            )


class _Converter:
    """Nodes -> plain Python, recording key lines; counts values including alias copies."""

    def __init__(self, label: str, lines: dict[tuple[str, ...], Location],
                 limit: int = MAX_NODES) -> None:
        self.label = label
        self.limit = limit
        self.lines = lines
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.pairs_memo: dict[int, list[tuple[str, yaml.Node, yaml.Node, bool]] | None] = {}
        self.sizes: dict[int, tuple[int, int, int] | None] = {}

    def measure(self, node: yaml.Node, level: int) -> tuple[int, int, int]:
        """(values, characters, levels) of ``node`` once aliases are expanded.

        Memoised per node, so a billion-laughs document costs one visit per distinct node, not per
        copy.
        """
        if level > MAX_DEPTH:
            raise self.error(f"document too deeply nested (over {MAX_DEPTH} levels, counting "
                             "aliases)", node)
        known = self.sizes.get(id(node), ())
        if known is None:
            raise self.error("recursive alias (a node that contains itself)", node)
        if not known:
            self.sizes[id(node)] = None  # in progress: meeting it again is a cycle
            if isinstance(node, yaml.MappingNode):
                children = [child for pair in node.value for child in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            size, height = 1, 0
            chars = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            for child in children:
                child_size, child_chars, child_height = self.measure(child, level + 1)
                size += child_size
                chars += child_chars
                height = max(height, child_height + 1)
                if size > self.limit:
                    raise self.error("document too large once aliases are expanded (over "
                                     f"{_values(self.limit)})", node)
                if chars > MAX_EXPANDED_CHARS:
                    raise self.error(f"document too large (over {MAX_EXPANDED_CHARS:,} "
                                     "characters of text once aliases are expanded)", node)
            known = self.sizes[id(node)] = (size, chars, height)
        if level + known[2] > MAX_DEPTH:
            raise self.error(f"document too deeply nested (over {MAX_DEPTH} levels, counting "
                             "aliases)", node)
        return known

    def error(self, message: str, node: yaml.Node, path: tuple[str, ...] = ()) -> ScenarioError:
        return ScenarioError(message, file=self.label, line=node.start_mark.line + 1,
                             path=".".join(path) or None)

    def convert(self, node: yaml.Node, path: tuple[str, ...], depth: int) -> Any:
        self.count += 1
        if self.count > self.limit or depth > MAX_DEPTH:
            raise self.error(
                f"document too large or too deeply nested (over {_values(self.limit)} or "
                f"{MAX_DEPTH} levels); YAML aliases may expand it", node)
        if isinstance(node, yaml.MappingNode):
            self.check_tag(node, _MAP, path)
            out: dict[str, Any] = {}
            for key, key_node, value_node, _ in self.pairs(node, path):
                self.lines[(*path, key)] = (self.label, key_node.start_mark.line + 1)
                out[key] = self.convert(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, _SEQ, path)
            return [self.convert(item, (*path, str(i)), depth + 1)
                    for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def check_tag(self, node: yaml.Node, expected: str, path: tuple[str, ...] = ()) -> None:
        if node.tag != expected:
            raise self.error(f"unsupported YAML tag '{node.tag}': only plain values, lists "
                             "and mappings are allowed", node, path)

    def scalar(self, node: yaml.Node, path: tuple[str, ...]) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.error(f"unsupported YAML tag '{node.tag}': only plain values, lists "
                             "and mappings are allowed", node, path)
        if node.tag in _NUMBER_TAGS and ":" in node.value and len(node.value) > MAX_BASE60_CHARS:
            # PyYAML reads YAML 1.1's base-60 numbers (1:30:00) by repeated big-integer
            # multiplication: time grows with the square of the length (88 s for 1.9 MB)
            raise self.error(f"cannot read {short(node.value, 42)} as "
                             f"{node.tag.removeprefix(_TAG)}: a base-60 number (a:b:c) of over "
                             f"{MAX_BASE60_CHARS} characters", node, path)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # int('abc'), KeyError, the int digit limit, ...
            detail = f": {exc.problem}" if isinstance(exc, yaml.MarkedYAMLError) else ""
            raise self.error(
                f"cannot read {short(node.value, 42)} as {node.tag.removeprefix(_TAG)}{detail}",
                node, path) from None
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self.error("text contains an invalid Unicode escape (a lone "
                                 "surrogate)", node, path) from None
        return value

    def pairs(self, node: yaml.MappingNode, path: tuple[str, ...]
              ) -> list[tuple[str, yaml.Node, yaml.Node, bool]]:
        """(key, key node, value node, merged) with ``<<`` merges resolved.

        Merged pairs come first and may be overridden by the mapping's own keys (YAML
        merge semantics; earlier merge sources win over later ones); a key written twice
        in the mapping itself is an error. Memoised per node, so aliases cost nothing.
        """
        memo = self.pairs_memo
        if id(node) in memo:
            done = memo[id(node)]
            if done is None:
                raise self.error("recursive '<<' merge", node, path)
            return done
        memo[id(node)] = None
        merged: dict[str, tuple[str, yaml.Node, yaml.Node, bool]] = {}
        own: dict[str, tuple[str, yaml.Node, yaml.Node, bool]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = (value_node.value if isinstance(value_node, yaml.SequenceNode)
                           else [value_node])
                for src in reversed(sources):
                    if not isinstance(src, yaml.MappingNode):
                        raise self.error("'<<' (merge) needs a mapping or a list of "
                                         "mappings", src, path)
                    for item in self.pairs(src, path):
                        merged[item[0]] = (item[0], item[1], item[2], True)
                continue
            key = self.key(key_node, path)
            if key in own:
                dotted = ".".join(cut(part) for part in (*path, key))
                raise self.error(f"key '{dotted}' appears twice", key_node, (*path, key))
            own[key] = (key, key_node, value_node, False)
        out = [item for k, item in merged.items() if k not in own] + list(own.values())
        if len(out) > self.limit:
            raise self.error(f"document too large (over {_values(self.limit)})", node, path)
        memo[id(node)] = out
        return out

    def key(self, key_node: yaml.Node, path: tuple[str, ...]) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            raise self.error("mapping keys must be plain names", key_node, path)
        if len(key_node.value) > MAX_KEY_CHARS:  # pydantic copies a key into every error below it
            raise self.error(f"mapping key {short(key_node.value, 42)} is over {MAX_KEY_CHARS} "
                             "characters", key_node, path)
        key = self.scalar(key_node, path)
        if not isinstance(key, str | int | float | bool) or key is None:
            raise self.error("mapping keys must be plain names", key_node, path)
        return str(key)


MAX_VALUE_CHARS = 100_000
"""Longest ``--set`` value (a command-line value is a scalar or a short list)."""


def parse_value(text: str, label: str) -> Any:
    """One YAML value from the command line (``--set key=value``).

    Under the same limits as files: bounded length, events, depth and alias expansion; plain tags
    only.

    Text that is not valid YAML is kept as a string (``--set name=a: b``).

    Raises:
        ScenarioError: too long, too large once expanded, too deep, or a non-plain tag.
    """
    if len(text) > MAX_VALUE_CHARS:
        raise ScenarioError(f"value is over {MAX_VALUE_CHARS:,} characters", file=label)
    try:
        _scan(text, label)
        node = yaml.compose(text, Loader=_LOADER)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=label) from None
    except (yaml.YAMLError, UnicodeError, RecursionError):
        return text
    if node is None:
        return None
    converter = _Converter(label, {})
    try:
        converter.measure(node, 0)
        return converter.convert(node, (), depth=0)
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=label) from None
