"""TFRecord framing, read and checked without TensorFlow.

A TFRecord file is a sequence of records, each: uint64 length (little-endian), uint32
masked CRC32C of those 8 bytes, ``length`` bytes of data, uint32 masked CRC32C of the
data. :func:`record_spans` walks the length headers only (one small read per record,
no payload read), which is how the s2 reader counts records and how pipelines index
prepared shards; ``core.TFRecordFile`` writes the same framing.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

import crc32c


def masked_crc(crc: int) -> int:
    """TFRecord's masking of a CRC32C value (the framing stores masked CRCs)."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class Span(NamedTuple):
    """Where one record's data lies in its file."""

    start: int
    length: int


class FramingError(NamedTuple):
    """Why a walk stopped early: ``kind`` is ``"cut"`` (the header is cut short),
    ``"crc"`` (the length's CRC does not match) or ``"past_end"`` (the data runs past
    the end of the file); ``pos`` the byte where that record begins."""

    kind: str
    pos: int


def record_spans(path: os.PathLike | str, *, check_length_crc: bool = False
                 ) -> tuple[list[Span], FramingError | None]:
    """The spans of the complete records of ``path`` in order, and None when the file
    ends exactly after the last one, else the :class:`FramingError` that stopped the walk."""
    spans: list[Span] = []
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            head = os.pread(fd, 12, pos)
            if len(head) < 12:
                return spans, FramingError("cut", pos)
            if check_length_crc and struct.unpack("<I", head[8:])[0] != masked_crc(crc32c.crc32c(head[:8])):
                return spans, FramingError("crc", pos)
            (length,) = struct.unpack("<Q", head[:8])
            start = pos + 12
            if start + length + 4 > size:
                return spans, FramingError("past_end", pos)
            spans.append(Span(start, length))
            pos = start + length + 4
    return spans, None
