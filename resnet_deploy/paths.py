"""What is wrong with a path the user gave, in words that name the true reason.

"does not exist" is only said of a path that does not exist: a directory, a
symlink loop, a dangling link, a device such as /dev/zero or an unreadable file
each get their own description, so the advice that follows fits.
"""

from __future__ import annotations

import errno
import os
import stat


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """None for a readable regular file, else e.g. 'does not exist' or 'is a directory'."""
    p = os.fspath(path)
    if not os.path.lexists(p):
        return "does not exist"
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        if os.path.islink(p):
            return "is a dangling symlink"
        return f"cannot be opened ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    if not os.access(p, os.R_OK):
        return "is not readable (permission denied)"
    return None


def dir_problem(path: str | os.PathLike[str]) -> str | None:
    """None for a listable directory, else the reason (a file, a loop, missing ...)."""
    p = os.fspath(path)
    if os.path.isdir(p):
        return None if os.access(p, os.R_OK | os.X_OK) else "is not readable (permission denied)"
    problem = file_problem(p)
    return "is a file, not a directory" if problem is None else problem
