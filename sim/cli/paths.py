"""Output paths checked before the first simulation, and advice that fits a write error.

Every command that writes files checks its output paths with :func:`check_output` before
it runs anything: a folder given for a report file, a path under ``/proc``, a path below a
regular file or in a folder it cannot write would otherwise fail only after the runs.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sim.params.errors import ScenarioError

SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Virtual file systems: never an output place."""


def check_output(path: Path, option: str, *, folder: bool = False) -> None:
    """Refuse ``path`` (given by ``option``) if it cannot be created or replaced there.

    ``path`` is a file (``folder``: a folder); nothing is created.

    Raises:
        ScenarioError: naming the option, the path and what is wrong with it.
    """
    def fail(reason: str) -> ScenarioError:
        return ScenarioError(f"{option} {path}: {reason}")

    if "\0" in str(path):
        raise fail("the path contains a NUL byte")
    full = Path(os.path.abspath(path))
    if any(full == top or top in full.parents for top in SYSTEM_FOLDERS):
        raise fail("is inside a system folder (/proc, /sys or /dev); choose another path")
    if full.exists():
        if folder and not full.is_dir():
            raise fail("is a file, not a folder; give a folder (it is created if missing)")
        if not folder and full.is_dir():
            raise fail("is a folder; give a file name, e.g. " + str(path / "report.html"))
        if not folder and not full.is_file():
            raise fail("is not a regular file")
    ancestor = full if full.is_dir() else full.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise fail(f"{ancestor} is a file, so nothing can be created below it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise fail(f"cannot write in {ancestor} (permission denied); choose another path")


def write_advice(exc: OSError) -> str:
    """What to do about a failed write, by its cause.

    No "free disk space" for a name clash.
    """
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free disk space, then try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "fix the permissions or choose another path"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return "a file or folder of that name is in the way; choose another path"
    return "choose another path"
