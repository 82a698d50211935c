"""The project's own error type for bad input: one clear paragraph, no traceback."""

from __future__ import annotations

from typing import Any


class ScenarioError(ValueError):
    """Bad scenario, sweep or analysis input.

    The message names the file, the line and the key path where known, what was
    expected and what was found. The CLI prints it and exits with status 2.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f", line {self.line}" if self.line else "")
        return _printable(f"{where}: {self.message}" if where else self.message)


def _printable(text: str) -> str:
    """Escape control and other unprintable characters (from keys, values or file names).

    So a message stays one line and cannot drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def short(value: Any, limit: int = 60, ellipsis: str = "...") -> str:
    """``repr(value)`` cut to ``limit`` characters (``ellipsis`` included): a value preview.

    Lists, tuples, dicts, sets (their subclasses written like them), strings, bytes and
    integers are written piece by piece and stopped once past ``limit``, so the work stays
    bounded: megabytes of text, a list repeated by YAML aliases, lists nested in shared lists
    (from the Python API), an integer too long for ``repr`` (``<N-digit integer>``). Any
    other object shows its own repr, or ``<type>`` if that fails.
    """
    pieces: list[str] = []
    size = 0

    def put(text: str) -> bool:
        """Append ``text``; True once the preview is past ``limit`` (stop writing)."""
        nonlocal size
        pieces.append(text)
        size += len(text)
        return size > limit

    def walk(item: Any) -> bool:
        kind = next((t for t in _BRACKETS if isinstance(item, t)), None)
        if kind is not None:
            if kind in (set, frozenset) and not item:
                return put(f"{kind.__name__}()")
            opening, closing = _BRACKETS[kind]
            if put(opening):
                return True
            for i, element in enumerate(item.items() if kind is dict else item):
                if (i and put(", ")) or walk(element[0] if kind is dict else element):
                    return True
                if kind is dict and (put(": ") or walk(element[1])):
                    return True
            return put("," * (kind is tuple and len(item) == 1) + closing)
        if isinstance(item, str | bytes | bytearray):
            return put(_text_repr(item, limit + 1))
        if isinstance(item, int) and not isinstance(item, bool):
            return put(_int_repr(item))
        try:
            return put(repr(item))
        except Exception:  # a repr that raises (an object array of huge integers, ...)
            return put(f"<{type(item).__name__}>")

    walk(value)
    text = "".join(pieces)
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)] + ellipsis[: limit]


_BRACKETS: dict[type, str] = {list: "[]", tuple: "()", dict: "{}", set: "{}", frozenset: "{}"}
"""Containers ``short`` writes itself, by their base type."""


def _int_repr(value: int) -> str:
    """``repr(value)``, or ``<N-digit integer>`` past Python's int_max_str_digits (4,300)."""
    try:
        return repr(value)
    except ValueError:
        digits = int(value.bit_length() * 0.30103) + 1  # at most one too many
        if 10 ** (digits - 1) > abs(value):
            digits -= 1
        return f"<{'negative ' if value < 0 else ''}{digits:,}-digit integer>"


def cut(text: str, limit: int = 60) -> str:
    """``text`` (a key, a value as typed) cut to ``limit`` characters for a message (``kk...``)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text_repr(text: str | bytes | bytearray, keep: int) -> str:
    """The repr of ``text``'s first ``keep`` characters, quoted as repr quotes all of it.

    repr uses double quotes for text holding ``'`` and no ``"``, which the kept part alone
    may not show.
    """
    head = text[:keep]
    out = repr(head)
    if type(text) not in (str, bytes):  # bytearray(b'...'): its own repr
        return out
    single, double = ("'", '"') if isinstance(text, str) else (b"'", b'"')
    if single in text and double not in text and single not in head:
        start = out.index("'")
        out = out[:start] + '"' + out[start + 1:-1] + '"'
    return out
