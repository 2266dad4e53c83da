"""Crops read straight from the prepared shards, by byte offset.

eo-tfds writes every raw, fixed-shape tensor at a fixed offset inside its record
(``core.ExampleEncoder.raw_layout``). A training pipeline that takes a 256 x 256 crop of
a 512 x 512 x 13 patch therefore needs a quarter of the record's bytes, not all of it:
:class:`RecordIndex` finds where every record starts from the TFRecord framing (one
small read per record, length CRCs checked, and the raw entries' headers checked
against the layout), and :class:`CropReader` copies only the crop's rows out of the
memory-mapped shard, optionally cast and normalised in the same pass.

The data CRC of a record covers all of its bytes, so a crop read this way does not
check it: ``eo-tfds verify`` does (and any full read through ``tf.data``). Shards that
are not local files, or whose records do not have eo-tfds's layout (e.g. written by
TFDS's own writer), get ``None`` from :func:`record_index`, and pipelines fall back to
reading whole records.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import tfrecord
from parsers.errors import SourceDataError


class RecordIndex:
    """Where the records of some TFRecord files start: ``shard`` (int32) and ``offset``
    (int64, the first byte of the serialized example) per record, in file order."""

    def __init__(self, files: Sequence[str], layout: Mapping | None = None):
        self.files = [os.fspath(f) for f in files]
        shards, offsets = [], []
        for k, path in enumerate(self.files):
            found = _scan(path, layout)
            shards.append(np.full(len(found), k, np.int32))
            offsets.append(np.asarray(found, np.int64))
        self.shard = np.concatenate(shards) if shards else np.zeros(0, np.int32)
        self.offset = np.concatenate(offsets) if offsets else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.offset)

    def select(self, ranges: Sequence[tuple[str, int, int]]) -> "RecordIndex":
        """The records ``[skip, skip + take)`` of each named file (TFDS file instructions)."""
        keep = []
        starts = np.searchsorted(self.shard, np.arange(len(self.files)))
        for path, skip, take in ranges:
            k = self.files.index(os.fspath(path))
            n = int(np.sum(self.shard == k))
            stop = n if take is None or take < 0 else min(n, skip + take)
            keep.append(np.arange(starts[k] + skip, starts[k] + stop))
        out = object.__new__(RecordIndex)
        out.files = self.files
        sel = np.concatenate(keep) if keep else np.zeros(0, np.int64)
        out.shard, out.offset = self.shard[sel], self.offset[sel]
        return out


_FRAMING = {
    "cut": ("record header cut short at byte {pos}", "rebuild the dataset (eo-tfds build --overwrite)"),
    "crc": ("record {index}: length CRC mismatch at byte {pos}",
            "the shard is corrupt: rebuild it (eo-tfds build --overwrite)"),
    "past_end": ("record {index} runs past the end of the file",
                 "the shard is truncated: rebuild it (eo-tfds build --overwrite)"),
}


def _scan(path: str, layout: Mapping | None) -> list[int]:
    """Record starts of one file; raises :class:`SourceDataError` on broken framing and
    ``_LayoutMismatch`` when a record's raw entries are not where ``layout`` says."""
    spans, error = tfrecord.record_spans(path, check_length_crc=True)
    if error is not None:
        problem, remedy = _FRAMING[error.kind]
        raise SourceDataError(path, problem.format(pos=error.pos, index=len(spans)), remedy)
    if layout:
        with open(path, "rb") as f:
            for start, length in spans:
                for header, data_offset, *_ in layout.values():
                    got = os.pread(f.fileno(), len(header), start + data_offset - len(header))
                    if got != header or data_offset > length:
                        raise _LayoutMismatch(path)
    return [start for start, _ in spans]


class _LayoutMismatch(Exception):
    pass


def record_index(builder: tfds.core.DatasetBuilder, split: str, layout: Mapping) -> RecordIndex | None:
    """The :class:`RecordIndex` of ``split`` (TFDS slicing honoured) when its shards are
    local TFRecord files in eo-tfds's layout, else None."""
    if builder.info.file_format != tfds.core.file_adapters.FileFormat.TFRECORD:
        return None
    instructions = builder.info.splits[split].file_instructions
    files = sorted({os.fspath(i.filename) for i in instructions})
    if not files or not all(os.path.isfile(f) for f in files):
        return None  # remote storage (gs://, s3://...): whole records through tf.data
    try:
        index = RecordIndex(files, layout)
    except _LayoutMismatch:
        return None
    return index.select([(os.fspath(i.filename), i.skip, i.take) for i in instructions])


class CropReader:
    """Square crops of raw (H, W[, C]) tensors read from memory-mapped shards.

    ``layout`` is :func:`ops.raw_layout`'s ``{name: (header, offset, shape, dtype)}``;
    ``affine`` optionally maps a name to ``(scale, offset)`` per band: that tensor then
    comes back as float32 ``value * scale + offset`` (the cast and the normalisation
    in the copy). Shards are mapped once per reader; with :attr:`release_pages` the
    pages a crop touched are handed back after the copy (the page cache keeps them).
    """

    #: hand a crop's pages back after copying it (keeps the resident set flat; costs
    #: a page fault per 64 KiB when the same pages are read again)
    release_pages = False

    def __init__(self, files: Sequence[str], layout: Mapping, names: Sequence[str], crop_size: int,
                 affine: Mapping[str, tuple] | None = None):
        self.files = list(files)
        self.crop_size = crop_size
        self.names = list(names)
        self._entries = [layout[n] for n in self.names]
        self._row_bytes = [int(np.prod(shape[1:], dtype=np.int64)) * dtype.size
                           for _, _, shape, dtype in self._entries]
        self._affine = {}
        for name, (scale, offset) in (affine or {}).items():
            # tiled to a whole crop row: the multiply-add then runs over long vectors
            self._affine[name] = (np.tile(np.asarray(scale, np.float32), crop_size),
                                  np.tile(np.asarray(offset, np.float32), crop_size))
        self._maps: dict[int, mmap.mmap] = {}
        self._lock = threading.Lock()

    def _map(self, shard: int) -> mmap.mmap:
        m = self._maps.get(shard)
        if m is None:
            with self._lock:
                m = self._maps.get(shard)
                if m is None:
                    with open(self.files[shard], "rb") as f:
                        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    self._maps[shard] = m
        return m

    def output_signature(self, batched: bool = False) -> list[tuple[tf.DType, tuple]]:
        out = []
        lead = (None,) if batched else ()
        for name, (_, _, shape, dtype) in zip(self.names, self._entries):
            dt = tf.float32 if name in self._affine else dtype
            out.append((dt, lead + (self.crop_size, self.crop_size) + tuple(shape[2:])))
        return out

    def read_batch(self, shards, offsets, rows, cols) -> list[np.ndarray]:
        """Crops of several records, stacked: ``[(B, crop, crop[, C]) per name]``."""
        n = len(offsets)
        cs = self.crop_size
        outs = []
        for name, (_, _, shape, dtype) in zip(self.names, self._entries):
            dt = np.float32 if name in self._affine else dtype.as_numpy_dtype
            outs.append(np.empty((n, cs, cs) + tuple(shape[2:]), dt))
        for k in range(n):
            m = self._map(int(shards[k]))
            offset, row, col = int(offsets[k]), int(rows[k]), int(cols[k])
            lo, hi = None, 0
            for out, name, (_, data_offset, shape, dtype), row_bytes in zip(
                    outs, self.names, self._entries, self._row_bytes):
                start = offset + data_offset
                full = np.ndarray(shape, dtype.as_numpy_dtype, buffer=m, offset=start)
                window = full[row:row + cs, col:col + cs]
                target = out[k]
                target[...] = window  # the one copy (and cast) out of the shard
                if name in self._affine:
                    scale, shift = self._affine[name]
                    flat = target.reshape(cs, -1)
                    flat *= scale
                    flat += shift
                del full, window
                first, last = start + row * row_bytes, start + (row + cs) * row_bytes
                lo = first if lo is None else min(lo, first)
                hi = max(hi, last)
            if self.release_pages:
                lo -= lo % mmap.PAGESIZE
                m.madvise(mmap.MADV_DONTNEED, lo, min(hi, len(m)) - lo)
        return outs

    def read(self, shard, offset, row, col) -> list[np.ndarray]:
        """The crops at ``(row, col)`` of the record at ``offset`` of shard ``shard``."""
        return [out[0] for out in self.read_batch([shard], [offset], [row], [col])]

    def __call__(self, shard, offset, row, col, batched: bool = False) -> list[tf.Tensor]:
        """Graph-mode crops (a ``tf.numpy_function``) with static shapes; ``batched``:
        the arguments are vectors and the crops come stacked (one call per batch)."""
        signature = self.output_signature(batched)
        fn = self.read_batch if batched else self.read
        tensors = tf.numpy_function(fn, [shard, offset, row, col], [dt for dt, _ in signature],
                                    stateful=False)
        return [tf.ensure_shape(t, shape) for t, (_, shape) in zip(tensors, signature)]

    def close(self) -> None:
        with self._lock:
            for m in self._maps.values():
                m.close()
            self._maps.clear()


def index_dataset(index: RecordIndex, *, shuffle: bool, seed: int | None) -> tf.data.Dataset:
    """``(shard, offset)`` of every record; shuffled as a whole each epoch when asked
    (a full permutation: better mixing than a shuffle buffer, and no patches held)."""
    ds = tf.data.Dataset.from_tensor_slices((index.shard, index.offset))
    if shuffle and len(index) > 1:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    return ds
