"""The source files a build read: size and CRC32C of each (:func:`source_records`),
kept in ``info.metadata["source_files"]`` so that ``eo-tfds verify`` can tell which
source changed since the build (LZF-compressed HDF5 has no checksum); hashed in a
thread beside the shard writers (:class:`Background`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

import crc32c
from etils import epath

from parsers.errors import SourceDataError

#: the block size of the source hashing (large enough for full disk/page-cache speed)
DIGEST_BLOCK = 16 << 20


def file_digest(path) -> dict:
    """``{"size": bytes, "crc32c": "8 hex digits"}`` of a file's whole content, read
    streaming in 16 MiB blocks (hardware CRC32C: GB/s, so it keeps up with the build)."""
    crc, size = 0, 0
    local = "://" not in os.fspath(path)
    buffer = bytearray(DIGEST_BLOCK)
    view = memoryview(buffer)
    with (open(path, "rb", buffering=0) if local else epath.Path(path).open("rb")) as f:
        while True:
            if local:
                n = f.readinto(buffer)
                block = view[:n]
            else:
                block = f.read(DIGEST_BLOCK)
                n = len(block)
            if not n:
                break
            crc = crc32c.crc32c(block, value=crc)  # releases the GIL on large blocks
            size += n
    return {"size": size, "crc32c": f"{crc:08x}"}


def relative_source(path, root) -> str:
    """``path`` relative to ``root`` with ``/`` separators (the key in ``source_files``)."""
    return os.path.relpath(os.fspath(path), os.fspath(root)).replace(os.sep, "/")


def source_digest(path) -> dict:
    """:func:`file_digest` of a source file; one that cannot be read is a
    :class:`SourceDataError` naming it."""
    try:
        return file_digest(path)
    except OSError as err:
        raise SourceDataError(path, f"cannot be read ({err.strerror or err})",
                              "check the file and its permissions") from None


def source_records(paths: Iterable, root) -> dict[str, dict]:
    """``{relative path: source_digest}`` of ``paths`` (under ``root``), sorted by path."""
    return {relative_source(path, root): source_digest(path) for path in sorted(paths, key=os.fspath)}


class Background:
    """Runs a function in a thread beside the shard writers; :meth:`result` joins it and
    returns its value or raises its exception."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name="eo-tfds-source-digest")
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
        except BaseException as err:  # pylint: disable=broad-except  # re-raised in result()
            self._error = err

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


__all__ = ["DIGEST_BLOCK", "file_digest", "relative_source", "source_digest", "source_records", "Background"]
