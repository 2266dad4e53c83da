"""The one exception type for bad source data.

Every reader raises :class:`SourceDataError` when a file on disk is not what the
publisher's layout promises. It carries the offending path, what is wrong, and what
the user can do about it; the command line prints it as one ``error:`` line and exits
with status 2.
"""

from __future__ import annotations

import os


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
