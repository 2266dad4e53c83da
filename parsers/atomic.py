"""Atomic file writes: write beside the final name, rename onto it when complete.

Every writer in eo-tfds that produces a file a user or a later step reads (sample files,
fused HDF5 stores, extracted members, state markers) goes through :func:`atomic_path`,
so that a failure or a kill never leaves a partial file under its final name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: suffix of the temporaries (readers skip files ending in it)
PART_SUFFIX = ".part"


def temporary_name(final: str | os.PathLike) -> Path:
    """The hidden temporary of ``final``: ``.<name>.<pid>.part`` in the same folder (the
    same file system, so the rename is atomic; the pid keeps two writers apart)."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}{PART_SUFFIX}")


def stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Temporaries of ``final`` left by earlier (killed) writers, of any pid."""
    final = Path(final)
    return sorted(final.parent.glob(f".{final.name}.*{PART_SUFFIX}"))


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed onto ``final``, on any
    failure (an exception, Ctrl-C) it is removed and ``final`` is left as it was.

        with atomic_path(out) as tmp:
            with h5py.File(tmp, "w") as f:
                ...
    """
    final = Path(final)
    tmp = temporary_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(final: str | os.PathLike, data: bytes) -> None:
    """``Path(final).write_bytes(data)``, atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text(final: str | os.PathLike, text: str) -> None:
    """``Path(final).write_text(text)``, atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text)
