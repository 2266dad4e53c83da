"""The shared writer pieces: TFRecord framing and exact per-band statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from tfds_builders.core import TFRecordFile, split_range
from tfds_builders.stats import BandStats


def _records(rng):
    """Records as lists of parts: tiny, empty, and large ones (written from the arrays)."""
    shapes = [(10, 3), (70_000, 5), (5, 100_000), (0, 0), (300, 2), (1, 1 << 20)]
    return [[rng.integers(0, 255, n, dtype=np.uint8), b"abc", rng.integers(-9, 9, m, dtype=np.int16)]
            for n, m in shapes * 20]


def test_tfrecord_file_is_byte_identical_to_tf_writer(tmp_path):
    records = _records(np.random.default_rng(1))
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "tf.tfrecord"
    with TFRecordFile(ours) as f:
        for parts in records:
            f.write(parts)
    with tf.io.TFRecordWriter(str(theirs)) as w:
        for parts in records:
            w.write(b"".join(memoryview(p).cast("B").tobytes() for p in parts))
    assert ours.read_bytes() == theirs.read_bytes()
    # and TensorFlow's reader (which checks both CRCs) gives the records back
    got = [r.numpy() for r in tf.data.TFRecordDataset(str(ours))]
    assert got == [b"".join(memoryview(p).cast("B").tobytes() for p in parts) for parts in records]


def test_tfrecord_file_keeps_nothing_after_write(tmp_path):
    """The caller may refill its arrays as soon as write returns."""
    path = tmp_path / "r.tfrecord"
    small, big = np.zeros(100, np.uint8), np.zeros(1 << 17, np.uint8)
    with TFRecordFile(path) as f:
        for value in (1, 2, 3):
            small[:] = value
            big[:] = value
            f.write([small])
            f.write([big])
    got = [np.frombuffer(r.numpy(), np.uint8) for r in tf.data.TFRecordDataset(str(path))]
    assert [int(r[0]) for r in got] == [1, 1, 2, 2, 3, 3]
    assert all((r == r[0]).all() for r in got)


def _reference(values, valid):
    """Statistics per band in exact Python arithmetic (ints via object arrays)."""
    out = []
    for b in range(values.shape[-1]):
        x = values[..., b]
        x = x[valid] if valid is not None else x.ravel()
        if x.dtype.kind == "f":
            x = x[np.isfinite(x)]
        out.append(x)
    return out


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.float32])
def test_band_stats_exact_and_independent_of_the_split(dtype):
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (info.min, info.max) if info else (-1e4, 1e4)
    values = (rng.integers(lo, hi, (6, 300, 300, 4), endpoint=True).astype(dtype) if info
              else rng.uniform(lo, hi, (6, 300, 300, 4)).astype(dtype))
    valid = rng.random((6, 300, 300)) > 0.2
    if info is None:
        values[0, 0, 0, 1] = np.nan
        values[1, 5, 5, 2] = np.inf
    whole, parts = BandStats("abcd"), BandStats("abcd")
    whole.update(values, valid)
    for a, b in split_range(6, 3):  # the same data in shards, merged in order
        shard = BandStats("abcd")
        for i in range(a, b):
            shard.update(values[i], valid[i])
        parts.merge(shard)
    ref = _reference(values, valid)
    got = whole.as_dict()
    for b, x in enumerate(ref):
        assert got["count"][b] == x.size
        if info:
            xs = x.astype(object)
            assert whole.sum[b] == sum(xs.tolist())
            assert whole.sumsq[b] == sum((xs * xs).tolist())
            assert got["mean"][b] == sum(xs.tolist()) / x.size
        else:
            assert math.isclose(got["mean"][b], float(np.mean(x, dtype=np.float64)), rel_tol=1e-9)
            assert math.isclose(got["std"][b], float(np.std(x, dtype=np.float64)), rel_tol=1e-9)
        assert got["min"][b] == float(x.min()) and got["max"][b] == float(x.max())
    if info:
        assert parts.as_dict() == got  # integer sums: identical however the pass is split


def test_record_spans_walks_the_framing_and_names_each_break(tmp_path):
    from parsers.tfrecord import FramingError, record_spans

    path = tmp_path / "r.tfrecord"
    records = [b"a" * 10, b"", b"b" * 300]
    with TFRecordFile(path) as f:
        for r in records:
            f.write([r])
    raw = path.read_bytes()
    spans, error = record_spans(path, check_length_crc=True)
    assert error is None and [raw[s:s + n] for s, n in spans] == records
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(raw[:-3])  # the last record's data CRC cut short
    spans, error = record_spans(cut)
    assert len(spans) == 2 and error == FramingError("past_end", 16 + 10 + 16)
    cut.write_bytes(raw[:16 + 10 + 5])  # the second header cut short
    assert record_spans(cut)[1] == FramingError("cut", 26)
    bad = bytearray(raw)
    bad[26 + 8] ^= 1  # the second record's length CRC
    cut.write_bytes(bytes(bad))
    assert record_spans(cut)[1] is None  # unchecked: only lengths are read
    assert record_spans(cut, check_length_crc=True) == ([spans[0]], FramingError("crc", 26))
