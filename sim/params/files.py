"""Open input files safely: regular files only, with a clear error for everything else.

A scenario, an ``extends`` parent or an edge list may name anything: a FIFO (opening it
would block forever), a directory, a device, a symlink loop, a path with a NUL byte. Each
is refused by ``stat`` before the file is opened, with a message saying what it is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sim.params.errors import ScenarioError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def regular_file(path: Path, what: str = "file", *, named_by: str | None = None,
                 file: str | None = None, line: int | None = None,
                 key: str | None = None) -> int:
    """The size in bytes of ``path`` if it is a readable regular file (symlinks followed).

    Args:
        path: the file.
        what: what the file is for (``"file"``, ``"edge list"``).
        named_by: the key naming it (``"'extends'"``): messages then read
            ``"'extends' names a FIFO ..."`` instead of ``"file is a FIFO ..."``.
        file: the file that named the path, for the error's location.
        line: its line there.
        key: its key path there.

    Raises:
        ScenarioError: missing, a directory, a FIFO, a device, a symlink loop, a NUL byte,
            unreadable; the message says which and names the path.
    """
    def fail(kind: str) -> ScenarioError:
        text = (f"{named_by} names {kind}: {path}" if named_by
                else f"{what} is {kind}: {path}")
        return ScenarioError(text, file=file, line=line, path=key)

    try:
        info = os.stat(path)
    except ValueError:  # embedded NUL byte
        raise fail("a path containing a NUL byte") from None
    except FileNotFoundError:
        if named_by:
            raise fail(f"a missing {what}") from None
        raise ScenarioError(f"{what} not found: {path}", file=file, line=line,
                            path=key) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise fail("a symlink loop") from None
        raise fail(f"a path that cannot be read ({exc.strerror or exc})") from None
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise fail(f"{kind}, not a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise fail("something that is not a regular file")
    return info.st_size
