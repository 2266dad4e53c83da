"""TFRecord framing, read and checked without TensorFlow.

A TFRecord file is a sequence of records, each: uint64 length (little-endian), uint32
masked CRC32C of those 8 bytes, ``length`` bytes of data, uint32 masked CRC32C of the
data. :func:`record_spans` walks the length headers only (one small read per record,
no payload read), which is how the s2 reader counts records and how pipelines index
prepared shards; :func:`iter_records` and :func:`read_record` read records with both
CRCs checked (streaming, or one record at a known span); :func:`write_records` writes
the framing (``core.TFRecordFile`` writes the same framing for the shard writer).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

import crc32c

from parsers.atomic import atomic_path


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


class RecordError(Exception):
    """A record that fails a CRC check or is cut short: ``index`` (0-based record
    number), ``pos`` (the byte where its header begins) and ``what``
    (``"corrupted record at <pos>"`` or ``"truncated record at <pos>"``)."""

    def __init__(self, index: int, pos: int, kind: str):
        self.index, self.pos = index, pos
        self.what = f"{kind} record at {pos}"
        super().__init__(f"record {index}: {self.what}")


def _crc(data) -> int:
    return masked_crc(crc32c.crc32c(data))


def _read_checked(f: BinaryIO, index: int, pos: int) -> bytes | None:
    """The data of the record whose header begins at ``f``'s position ``pos``, both
    CRCs checked; None at a clean end of file."""
    head = f.read(12)
    if not head:
        return None
    if len(head) < 12:
        raise RecordError(index, pos, "truncated")
    if struct.unpack("<I", head[8:])[0] != _crc(head[:8]):
        raise RecordError(index, pos, "corrupted")
    (length,) = struct.unpack("<Q", head[:8])
    data = f.read(length)
    tail = f.read(4)
    if len(data) < length or len(tail) < 4:
        raise RecordError(index, pos, "truncated")
    if struct.unpack("<I", tail)[0] != _crc(data):
        raise RecordError(index, pos, "corrupted")
    return data


def iter_records(path: os.PathLike | str) -> Iterator[bytes]:
    """The data of every record of ``path`` in order, streaming (one record in memory at
    a time), each checked against its length and data CRCs; raises :class:`RecordError`
    at the first record that fails a check or is cut short."""
    with open(path, "rb", buffering=1 << 20) as f:
        index = pos = 0
        while (data := _read_checked(f, index, pos)) is not None:
            yield data
            index += 1
            pos += 16 + len(data)


def read_record(f: BinaryIO, span: Span, index: int = 0) -> bytes:
    """The data of the one record at ``span`` (from :func:`record_spans`) of the open
    file ``f``, both CRCs checked (:class:`RecordError` naming ``index`` otherwise)."""
    f.seek(span.start - 12)
    data = _read_checked(f, index, span.start - 12)
    if data is None:
        raise RecordError(index, span.start - 12, "truncated")
    return data


def write_record(f: BinaryIO, data: bytes) -> None:
    """Appends one framed record to the open binary file ``f``."""
    head = struct.pack("<Q", len(data))
    f.write(head + struct.pack("<I", _crc(head)))
    f.write(data)
    f.write(struct.pack("<I", _crc(data)))


def write_records(path: os.PathLike | str, records: Iterable[bytes]) -> None:
    """Writes ``records`` (bytes, in order) as one TFRecord file, atomically
    (:func:`parsers.atomic.atomic_path`): the file appears only once complete."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for data in records:
            write_record(f, data)
