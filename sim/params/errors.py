"""The project's own error type for bad input: one clear paragraph, no traceback."""

from __future__ import annotations


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
