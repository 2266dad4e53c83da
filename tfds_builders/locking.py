"""One build at a time per dataset version, and no temporary folder of a dead build left.

A build holds an exclusive ``flock`` on ``<version folder>.lock`` (e.g.
``DATA/cloudsen12_hq/l1c/1.0.0.lock``, holding the builder's pid) from start to end. A
second build of the same dataset, config and data dir says which process it waits for,
and waits. The kernel drops the lock when its holder dies, even by SIGKILL, so a lock is
never stale: whoever holds it knows that no live build owns the temporary folders
(``incomplete.*``, ``rebuild.*``, ``replaced.*``) beside the version folder, and removes
them before building.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

#: temporary folders beside a version folder: TFDS's own, and the two of an overwrite
TEMPORARY_PREFIXES = ("incomplete.", "rebuild.", "replaced.")


@contextlib.contextmanager
def exclusive(lock_path: os.PathLike | str, what: str) -> Iterator[bool]:
    """Holds an exclusive lock on ``lock_path`` (created with its folder), with this
    process's pid written in it; while another live process holds it, says on stderr
    which (``what`` names the thing built) and waits. Yields whether it waited."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            print(f"{what}: waiting for the build running in process {holder} ({lock_path})",
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
            waited = True
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield waited
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race)


def lock_path(version_dir: os.PathLike | str) -> Path:
    """The lock file of a version folder: ``<version folder>.lock`` beside it."""
    version_dir = Path(version_dir)
    return version_dir.with_name(version_dir.name + ".lock")


def remove_temporaries(version_dir: os.PathLike | str) -> None:
    """Removes the temporary folders of dead builds of ``version_dir``; call it only
    while holding its lock. An overwrite killed between its two renames left the old
    dataset as ``replaced.*``: it is put back first."""
    version_dir = Path(version_dir)
    parent, name = version_dir.parent, version_dir.name
    if not parent.is_dir():
        return
    replaced = sorted(parent.glob(f"replaced.*_{name}"))
    if replaced and not version_dir.exists():
        os.rename(replaced[0], version_dir)
    for prefix in TEMPORARY_PREFIXES:
        for stale in parent.glob(f"{prefix}*_{name}"):
            shutil.rmtree(stale)


def aside(version_dir: os.PathLike | str) -> Path:
    """A fresh folder name beside ``version_dir`` to build a replacement in."""
    version_dir = Path(version_dir)
    return version_dir.with_name(f"rebuild.{uuid.uuid4().hex[:8]}_{version_dir.name}")


def swap_in(new: os.PathLike | str, version_dir: os.PathLike | str) -> None:
    """Puts the complete folder ``new`` in place of ``version_dir``: two renames, the old
    one removed only after the new one is in place."""
    version_dir = Path(version_dir)
    old = version_dir.with_name(f"replaced.{uuid.uuid4().hex[:8]}_{version_dir.name}")
    os.rename(version_dir, old)
    os.rename(new, version_dir)
    shutil.rmtree(old)
