"""The one exception type for bad source data.

Every reader raises :class:`SourceDataError` when a file on disk is not what the
publisher's layout promises. It carries the offending path, what is wrong, and what
the user can do about it; the command line prints it as one ``error:`` line and exits
with status 2.
"""

from __future__ import annotations

import errno
import os
import pathlib


class SourceDataError(Exception):
    """A source file (or folder) is missing, truncated or not in the expected layout.

    Attributes:
        path: the file or folder at fault (as given, made absolute).
        problem: what is wrong with it, in a short sentence.
        remedy: what to do about it.
    """

    def __init__(self, path: os.PathLike | str, problem: str, remedy: str = ""):
        self.path = os.path.abspath(os.fspath(path))
        self.problem = problem
        self.remedy = remedy
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.path}: {self.problem}"
        if self.remedy:
            text += f"; {self.remedy}"
        return text

    def __reduce__(self):  # picklable across worker processes (Beam, multiprocessing)
        return (type(self), (self.path, self.problem, self.remedy))


#: errno -> (what happened, in plain words; what to do): failures of the user's machine
#: or permissions, not of the data, so never "corrupt, download again"
MACHINE_ERRNOS = {
    errno.ENOSPC: ("no space left on the device", "free some space or choose a folder on another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose a folder on another disk"),
    errno.EACCES: ("permission denied", "give this user access to it, or choose another path"),
    errno.EPERM: ("operation not permitted", "give this user access to it, or choose another path"),
    errno.EROFS: ("read-only file system", "choose a writable folder"),
    errno.EISDIR: ("is a folder, a file was expected", "give the path of a file"),
    errno.ENOTDIR: ("is a file, a folder was expected", "give the path of a folder"),
    errno.EEXIST: ("already exists", "remove it or choose another path"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EIO: ("input/output error: the disk or its connection failed",
                "check the device (dmesg) and run the command again"),
}


def _not_a_folder(path: str) -> str:
    """The part of ``path`` that is a file where a folder was expected (or ``path``)."""
    for parent in [path, *map(str, pathlib.Path(path).parents)]:
        if os.path.lexists(parent):
            return parent if not os.path.isdir(parent) else path
    return path


def machine_error(error: BaseException, path: os.PathLike | str | None = None) -> SourceDataError | None:
    """``error`` (an ``OSError`` of the user's machine: disk full, permission denied,
    read-only, a file where a folder should be, ...) as a :class:`SourceDataError` in
    plain words naming the path; None for any other exception.

    ``path`` is used when the error carries no file name (a write to an open file).
    """
    if not isinstance(error, OSError) or error.errno not in MACHINE_ERRNOS:
        return None
    problem, remedy = MACHINE_ERRNOS[error.errno]
    where = error.filename if error.filename is not None else path
    if where is None:
        where = "."
        problem += " (the path was not reported)"
    where = os.fsdecode(where) if isinstance(where, bytes) else os.fspath(where)
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        culprit = _not_a_folder(where)
        if os.path.lexists(culprit) and not os.path.isdir(culprit):
            where, problem, remedy = culprit, "is a file, a folder was expected", "give the path of a folder"
    return SourceDataError(where, problem, remedy)
