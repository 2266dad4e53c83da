"""Record encoding: examples of a ``FeaturesDict`` into ``tf.train.Example`` bytes
(:class:`ExampleEncoder`, the large tensors written from their numpy buffers), and
TFRecord files written from lists of buffers (:class:`TFRecordFile`)."""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence

import crc32c
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer

from parsers.tfrecord import masked_crc


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_prefixed(field: int, length: int) -> bytes:
    """Tag (wire type 2) and length of a length-delimited protobuf field."""
    return _varint(field << 3 | 2) + _varint(length)


class ExampleEncoder:
    """Serialises examples of a ``FeaturesDict`` into ``tf.train.Example`` bytes.

    Top-level ``Tensor`` features with ``encoding="bytes"`` (the big image tensors) are
    written straight from the numpy buffer into the record: dtype and shape are
    checked, never cast. All other features go through TFDS's own encoder and
    serializer, so the records decode with the builder's ``info.features`` exactly as
    TFDS-written ones do.
    """

    def __init__(self, features: tfds.features.FeaturesDict):
        self.features = features
        self.raw: dict[str, tfds.features.Tensor] = {}
        small = {}
        for key, feature in features.items():
            # one copy from numpy into the record; a shape with several unknown
            # dimensions is stored by TFDS as <name>/value + <name>/shape: its encoder
            if (isinstance(feature, tfds.features.Tensor)
                    and feature._encoding == tfds.features.Encoding.BYTES  # pylint: disable=protected-access
                    and not feature._dynamic_shape):  # pylint: disable=protected-access
                self.raw[key] = feature
            else:
                small[key] = feature
        self._small_features = small
        info = features.get_serialized_info()
        self._serializer = example_serializer.ExampleSerializer({k: info[k] for k in small})

    def _raw_entry(self, key: str, value) -> tuple[bytes, memoryview]:
        feature = self.raw[key]
        array = np.asarray(value)
        if array.dtype != feature.np_dtype:
            raise ValueError(f"feature {key!r}: dtype {array.dtype} given, {feature.np_dtype} expected")
        shape = feature.shape
        if len(array.shape) != len(shape) or any(
                s is not None and s != a for s, a in zip(shape, array.shape)):
            raise ValueError(f"feature {key!r}: shape {array.shape} given, {shape} expected")
        data = memoryview(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)).cast("B")
        n = data.nbytes
        bytes_list = _len_prefixed(1, n)  # BytesList.value
        feature_msg_len = len(bytes_list) + n
        feature_hdr = _len_prefixed(1, feature_msg_len)  # Feature.bytes_list
        key_b = key.encode()
        key_field = _len_prefixed(1, len(key_b)) + key_b  # map entry key
        value_hdr = _len_prefixed(2, len(feature_hdr) + feature_msg_len)  # map entry value
        entry_len = len(key_field) + len(value_hdr) + len(feature_hdr) + feature_msg_len
        header = _len_prefixed(1, entry_len) + key_field + value_hdr + feature_hdr + bytes_list
        return header, data

    def encode_parts(self, example: Mapping) -> list:
        """The serialised ``tf.train.Example`` of one example as a list of buffers whose
        concatenation is the record: the big tensors are views of the example's arrays
        (see :class:`TFRecordFile`, which writes them without joining)."""
        missing = set(self.features.keys()) - set(example.keys())
        if missing:
            raise ValueError(f"example lacks features {sorted(missing)}")
        parts: list = []
        size = 0
        # raw entries first, in feature order: their bytes then sit at a fixed offset,
        # which lets a pipeline crop straight from the record (see raw_layout)
        for key in self.raw:
            header, data = self._raw_entry(key, example[key])
            parts.append(header)
            parts.append(data)
            size += len(header) + data.nbytes
        small = {k: self._small_features[k].encode_example(example[k]) for k in self._small_features}
        if small:
            # deterministic: protobuf (upb) orders map entries by a per-process hash
            # seed, so a plain SerializeToString differs between processes (workers)
            ser = self._serializer.get_tf_example(small).SerializeToString(deterministic=True)
            # strip the outer Example.features tag and length: keep the map entries
            pos = 1
            while ser[pos] & 0x80:
                pos += 1
            entries = memoryview(ser)[pos + 1:]
            parts.append(entries)
            size += entries.nbytes
        return [_len_prefixed(1, size)] + parts

    def encode(self, example: Mapping) -> bytes:
        """The serialised ``tf.train.Example`` of one example dict."""
        return b"".join(self.encode_parts(example))

    def raw_layout(self) -> dict[str, tuple[bytes, int]] | None:
        """Where the raw tensors of fixed shape sit in records this encoder writes.

        ``{name: (header, data_offset)}`` for the leading raw entries, assuming the
        small entries add under 2 KiB; a reader checks ``header`` right before
        ``data_offset`` and falls back to parsing when it does not match. None when
        a leading raw tensor has an unknown dimension.
        """
        entries = []
        total = 0
        for key, feature in self.raw.items():
            if any(d is None for d in feature.shape):
                break
            zeros = np.zeros(feature.shape, feature.np_dtype)
            header, data = self._raw_entry(key, zeros)
            entries.append((key, header, data.nbytes))
            total += len(header) + data.nbytes
        if not entries:
            return None
        prefix = len(_len_prefixed(1, total + 1024))
        if prefix != len(_len_prefixed(1, total)) or prefix != len(_len_prefixed(1, total + 2048)):
            return None  # too close to a varint boundary to be sure
        layout, offset = {}, prefix
        for key, header, nbytes in entries:
            offset += len(header)
            layout[key] = (header, offset)
            offset += nbytes
        return layout


class TFRecordFile:
    """A TFRecord file written from records given as lists of buffers.

    The framing is TFRecord's own (length, masked CRC32C of the length, data, masked
    CRC32C of the data), byte for byte what ``tf.io.TFRecordWriter`` writes, but a
    record's large parts go to the file with ``os.writev`` straight from the arrays
    they view: no joined copy of a record is made, and the (hardware) CRC reads each
    part once while it is still in cache. Small records are gathered in a buffer and
    written together. Nothing of a record is kept after :meth:`write` returns, so the
    caller may refill its arrays at once.
    """

    BUFFER_BYTES = 1 << 20   # small records gathered up to this size
    DIRECT_BYTES = 1 << 16   # a part this large is written from where it lies
    IOV_MAX = 512

    def __init__(self, path):
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._buffer = bytearray()

    def write(self, parts: Sequence) -> None:
        views = [memoryview(p).cast("B") for p in parts]
        length = struct.pack("<Q", sum(v.nbytes for v in views))
        crc = 0
        for v in views:
            crc = crc32c.crc32c(v, value=crc)
        head = length + struct.pack("<I", masked_crc(crc32c.crc32c(length)))
        tail = struct.pack("<I", masked_crc(crc))
        if any(v.nbytes >= self.DIRECT_BYTES for v in views):
            self._writev([bytes(self._buffer), head, *views, tail])
            self._buffer.clear()
            return
        self._buffer += head
        for v in views:
            self._buffer += v
        self._buffer += tail
        if len(self._buffer) >= self.BUFFER_BYTES:
            self.flush()

    def _writev(self, buffers: list) -> None:
        pending = [b for b in buffers if len(b)]
        while pending:
            batch = pending[:self.IOV_MAX]
            try:
                written = os.writev(self._fd, batch)
            except OSError as e:  # disk full, I/O error: name the file (a bare fd names none)
                raise OSError(e.errno, e.strerror, self.path) from None
            # a regular file takes all but on errors; still, resume a short write exactly
            done = 0
            for buf in batch:
                size = memoryview(buf).nbytes
                if written < size:
                    pending[done] = memoryview(buf)[written:]
                    break
                written -= size
                done += 1
            pending = pending[done:]

    def flush(self) -> None:
        if self._buffer:
            self._writev([self._buffer])
            self._buffer = bytearray()

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["ExampleEncoder", "TFRecordFile"]
