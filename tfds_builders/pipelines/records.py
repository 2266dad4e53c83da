"""Records of prepared shards, read by offset and checked: the one read path of the pipelines.

Which records a split string means (``"train[:10%]"``, ``"train[-5:]"``,
``"train+validation"``) is TFDS's answer, the split's *file instructions*: per shard, how
many records to skip and take. :func:`record_index` turns them into a
:class:`RecordIndex`: where each chosen record starts, how long it is and which record of
its shard it is, found from the TFRecord framing (one 12-byte read per record, the
length CRCs checked). Every pipeline reads through it, whatever its mode:

- :class:`RecordReader` returns whole serialized records (then parsed as TFDS parses them);
- :class:`CropReader` copies only a crop's rows of raw (H, W[, C]) tensors out of the
  memory-mapped shards (eo-tfds writes them at fixed offsets,
  ``core.ExampleEncoder.raw_layout``), optionally cast and normalised in the same copy.

Both check a record's data CRC32C (hardware CRC, about 18 GB/s a core, the GIL
released) before they hand out anything of it, so a record that fails its check never
reaches a model: the read raises :class:`~parsers.errors.SourceDataError` naming the
shard and the record. A record is checked the first time a process reads it and again
whenever its file changed since (its identity: device, inode, size, mtime, ctime), so
the check costs the first epoch only. Shards that are not local files (gs://, s3://) are read by TensorFlow's own
reader over the same file instructions (it checks the CRCs too); ArrayRecord builds
through ``tfds.data_source`` (which checks its own chunk hashes), with the shard named
when a read fails.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import crc32c
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import tfrecord
from parsers.errors import SourceDataError
from tfds_builders.core import cores

_REBUILD = "the shard is corrupt: rebuild the dataset (eo-tfds build --overwrite)"


class FileSlice(NamedTuple):
    """Records ``[skip, skip + take)`` of one shard file."""

    path: str
    skip: int
    take: int


def file_slices(builder: tfds.core.DatasetBuilder, split: str) -> list[FileSlice]:
    """The shards and record ranges that ``split`` means, in ``tfds.load``'s order:
    any split string ``tfds.load`` takes (slices in % or absolute, negative indices,
    ``a+b`` merges). A split string that selects no record is a ValueError (as in
    ``tfds.load``): an empty pipeline would only fail later, inside ``model.fit``."""
    out = []
    info = builder.info.splits[split]
    if not info.num_examples:
        sizes = ", ".join(f"{k} {v.num_examples}" for k, v in builder.info.splits.items())
        raise ValueError(f"split {split!r} of {builder.info.full_name} selects no example "
                         f"(the splits hold: {sizes})")
    for i in info.file_instructions:
        n = int(i.examples_in_shard) if i.examples_in_shard is not None else None
        take = i.take if i.take is not None and i.take >= 0 else (n - i.skip if n is not None else -1)
        out.append(FileSlice(os.fspath(i.filename), int(i.skip), int(take)))
    return out


def is_local_tfrecord(builder: tfds.core.DatasetBuilder, split: str) -> bool:
    """True when ``split``'s shards are TFRecord files on a local file system."""
    if builder.info.file_format != tfds.core.file_adapters.FileFormat.TFRECORD:
        return False
    files = {s.path for s in file_slices(builder, split)}
    return all(os.path.isfile(f) for f in files)


class RecordIndex:
    """Records of some TFRecord files, in a chosen order: per record ``shard`` (int32,
    index into :attr:`files`), ``offset`` (int64, first byte of the serialized
    example), ``length`` (int64) and ``number`` (int64, the record's place in its shard,
    for error messages)."""

    def __init__(self, files: Sequence[str], layout: Mapping | None = None):
        self.files = [os.fspath(f) for f in files]
        spans = [_scan(path, layout) for path in self.files]
        self.shard = np.concatenate([np.full(len(s), k, np.int32) for k, s in enumerate(spans)]
                                    or [np.zeros(0, np.int32)])
        self.offset = np.asarray([start for s in spans for start, _ in s], np.int64)
        self.length = np.asarray([length for s in spans for _, length in s], np.int64)
        self.number = np.concatenate([np.arange(len(s), dtype=np.int64) for s in spans]
                                     or [np.zeros(0, np.int64)])

    def __len__(self) -> int:
        return len(self.offset)

    def select(self, slices: Sequence[FileSlice | tuple]) -> "RecordIndex":
        """The records ``[skip, skip + take)`` of each named file, in the order given
        (a split's :func:`file_slices`)."""
        starts = np.searchsorted(self.shard, np.arange(len(self.files)))
        counts = np.bincount(self.shard, minlength=len(self.files))
        keep = []
        for path, skip, take in slices:
            k = self.files.index(os.fspath(path))
            n = int(counts[k])
            stop = n if take is None or take < 0 else min(n, skip + take)
            keep.append(np.arange(starts[k] + skip, starts[k] + stop))
        sel = np.concatenate(keep) if keep else np.zeros(0, np.int64)
        out = object.__new__(RecordIndex)
        out.files = self.files
        out.shard, out.offset = self.shard[sel], self.offset[sel]
        out.length, out.number = self.length[sel], self.number[sel]
        return out


_FRAMING = {
    "cut": ("record header cut short at byte {pos}", "rebuild the dataset (eo-tfds build --overwrite)"),
    "crc": ("record {index}: length CRC mismatch at byte {pos}", _REBUILD),
    "past_end": ("record {index} runs past the end of the file",
                 "the shard is truncated: rebuild it (eo-tfds build --overwrite)"),
}


def _scan(path: str, layout: Mapping | None) -> list[tfrecord.Span]:
    """Record spans of one file; raises :class:`SourceDataError` on broken framing and
    ``_LayoutMismatch`` when a record's raw entries are not where ``layout`` says."""
    try:
        spans, error = tfrecord.record_spans(path, check_length_crc=True)
    except PermissionError as e:
        raise SourceDataError(path, f"cannot read the shard ({e.strerror})",
                              "check the file's permissions") from None
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
    return spans


class _LayoutMismatch(Exception):
    pass


def record_index(builder: tfds.core.DatasetBuilder, split: str, layout: Mapping | None = None
                 ) -> RecordIndex | None:
    """The :class:`RecordIndex` of the records ``split`` means (any split string), in
    ``tfds.load``'s order, when its shards are local TFRecord files; None otherwise
    (remote or ArrayRecord shards), and None too when ``layout`` is given and the
    records are not laid out that way (written by another writer)."""
    if not is_local_tfrecord(builder, split):
        return None
    slices = file_slices(builder, split)
    files = sorted({s.path for s in slices})
    try:
        index = RecordIndex(files, layout)
    except _LayoutMismatch:
        return None
    return index.select(slices)


#: records whose data CRC matched, per file identity (path, device, inode, size, mtime,
#: ctime): a record is checked the first time this process reads it, and again only
#: when its file has changed since (any write changes mtime and ctime)
_VERIFIED: dict[tuple, set] = {}
_VERIFIED_LOCK = threading.Lock()


def forget_verified() -> None:
    """Check every record again at its next read (``make bench`` measures with it)."""
    with _VERIFIED_LOCK:
        _VERIFIED.clear()


def _verified_set(path: str, fd: int) -> set:
    st = os.fstat(fd)
    key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with _VERIFIED_LOCK:
        return _VERIFIED.setdefault(key, set())


class _Shards:
    """Memory maps of an index's shards (opened once, shared by reader threads), and
    the data CRC check of a record: the first time this process reads a record of an
    unchanged file (later epochs then cost nothing more)."""

    def __init__(self, index: RecordIndex):
        self.index = index
        self._maps: dict[int, mmap.mmap] = {}
        self._verified: dict[int, set] = {}
        self._lock = threading.Lock()

    def map(self, shard: int) -> mmap.mmap:
        m = self._maps.get(shard)
        if m is None:
            with self._lock:
                m = self._maps.get(shard)
                if m is None:
                    path = self.index.files[shard]
                    try:
                        with open(path, "rb") as f:
                            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                            self._verified[shard] = _verified_set(path, f.fileno())
                    except OSError as e:
                        raise SourceDataError(path, f"cannot read the shard ({e.strerror})",
                                              "check that the file is there and readable") from None
                    self._maps[shard] = m
        return m

    def checked(self, position: int) -> tuple[mmap.mmap, int, int]:
        """``(map, offset, length)`` of record ``position`` of the index, once its data
        CRC32C matched the one stored behind it."""
        idx = self.index
        shard, offset, length = int(idx.shard[position]), int(idx.offset[position]), int(idx.length[position])
        m = self.map(shard)
        if offset + length + 4 > len(m):
            raise SourceDataError(idx.files[shard], f"record {int(idx.number[position])} runs past "
                                  "the end of the file (the shard changed since it was indexed)", _REBUILD)
        verified = self._verified[shard]
        if offset in verified:
            return m, offset, length
        (stored,) = struct.unpack_from("<I", m, offset + length)
        with memoryview(m) as view:
            got = tfrecord.masked_crc(crc32c.crc32c(view[offset:offset + length]))
        if got != stored:
            raise SourceDataError(idx.files[shard], f"record {int(idx.number[position])}: data CRC "
                                  "mismatch (the record's bytes changed after it was written)", _REBUILD)
        verified.add(offset)
        return m, offset, length

    def close(self) -> None:
        with self._lock:
            for m in self._maps.values():
                m.close()
            self._maps.clear()


class RecordReader(_Shards):
    """Whole serialized records of a :class:`RecordIndex`, each checked against its
    data CRC; graph-mode through :meth:`dataset`."""

    def read_batch(self, positions) -> np.ndarray:
        """The records at ``positions`` of the index, as an object array of bytes."""
        out = np.empty(len(positions), object)
        for k, position in enumerate(positions):
            m, offset, length = self.checked(int(position))
            out[k] = m[offset:offset + length]
        return out

    def dataset(self, *, shuffle: bool, seed: int | None) -> tf.data.Dataset:
        """Serialized records (``tf.string`` scalars) in index order, or a new full
        permutation each epoch with ``shuffle``; read several at a time on parallel
        threads (about 8 MiB a call) and checked."""
        mean = float(np.mean(self.index.length)) if len(self.index) else 1.0
        per_call = int(max(1, min(256, (8 << 20) // max(mean, 1.0))))
        ds = index_dataset(self.index, shuffle=shuffle, seed=seed).batch(per_call)
        read = lambda positions: tf.numpy_function(  # noqa: E731
            self.read_batch, [positions], tf.string, stateful=False)
        ds = ds.map(lambda p: tf.ensure_shape(read(p), [None]), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
        return ds.unbatch()


#: the eight symmetries of the square, numbered as :func:`ops.random_rot_flip` draws
#: them: ``s % 4`` counter-clockwise quarter turns (``np.rot90``, ``tf.image.rot90``),
#: then a left-right flip when ``s >= 4``
SYMMETRIES = 8


TENSOR_ALIGNMENT = 64  # TF's EIGEN_MAX_ALIGN_BYTES


def aligned_empty(shape, dtype) -> np.ndarray:
    """``np.empty`` whose data starts on a 64-byte boundary: a ``tf.numpy_function``
    returning it hands its buffer to the tensor as it is, while an unaligned array
    (numpy's large blocks start 16 bytes into a page) is copied once more by TensorFlow,
    single-threaded, into fresh memory: measured, that copy cost two thirds of the
    cloudsen12 reading rate."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + TENSOR_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def symmetric_view(array: np.ndarray, s: int) -> np.ndarray:
    """A view of ``array`` (H, W, ...) under symmetry ``s`` (0..7): no copy, a different
    read order of the same memory."""
    view = np.rot90(array, int(s) % 4, axes=(0, 1))
    return view[:, ::-1] if s >= 4 else view


def _pixel_view(array: np.ndarray) -> np.ndarray:
    """``array`` (H, W[, C]) as (H, W) whole pixels: the C values of a pixel (contiguous)
    viewed as one ``C * itemsize``-byte void item; a 2-D array as it is."""
    if array.ndim == 2:
        return array
    item = np.dtype((np.void, array.shape[2] * array.itemsize))
    return array.view(item).reshape(array.shape[:2])


def _from_pixel_view(pixels: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The (H, W[, C]) array of ``like``'s dtype behind a :func:`_pixel_view`."""
    if pixels.dtype == like.dtype:
        return pixels
    return pixels[..., None].view(like.dtype)


class _Scratch(threading.local):
    """Per-thread buffers of :meth:`CropReader.read_batch` (reader threads run at once)."""

    index = pixels = None


class CropReader(_Shards):
    """Square crops of raw (H, W[, C]) tensors read from memory-mapped shards.

    ``layout`` is :func:`ops.raw_layout`'s ``{name: (header, offset, shape, dtype)}``;
    ``affine`` optionally maps a name to ``(scale, offset)`` per band: that tensor then
    comes back as float32 ``value * scale + offset`` (the cast and the normalisation
    in the copy; ``None`` instead of the pair: float32 values, no multiply-add). Each
    record's data CRC is checked before its crop is copied. With
    :attr:`release_pages` the pages a crop touched are handed back after the copy (the
    page cache keeps them).

    Augmentation in the same copy (:meth:`read_batch`'s ``symmetry``, ``gamma`` and
    ``noise_seed``): a symmetry of the square is a different read order of the window
    (``np.rot90`` / flipped views, copied as any crop is); ``gamma`` maps the stored
    values ``v`` of the names in ``gamma_scale`` to ``max(v * scale, 0) ** g / scale``
    before the affine, through a table of every 16-bit value (one lookup a value
    instead of a ``pow``); ``noise`` maps a name of ``affine`` to a per-band standard
    deviation in output units: Gaussian noise added after the affine, as windows at
    random offsets of one pool of standard normal values drawn once (from
    ``noise_pool_seed``) that also holds the affine's offsets: the noise costs no pass of
    its own, the affine's add reads the pool instead of the offsets (:meth:`_noise_window`).
    """

    #: hand a crop's pages back after copying it (keeps the resident set flat; costs
    #: a page fault per 64 KiB when the same pages are read again)
    release_pages = False

    #: ask for the batch's bytes before copying them (:meth:`_read_ahead`)
    readahead = True

    def __init__(self, index: RecordIndex, layout: Mapping, names: Sequence[str], crop_size: int,
                 affine: Mapping[str, tuple | None] | None = None,
                 gamma_scale: Mapping[str, float] | None = None,
                 noise: Mapping[str, Sequence[float]] | None = None,
                 noise_pool_seed: int | None = None):
        super().__init__(index)
        self.crop_size = crop_size
        self.names = list(names)
        self._entries = [layout[n] for n in self.names]
        self._row_bytes = [int(np.prod(shape[1:], dtype=np.int64)) * dtype.size
                           for _, _, shape, dtype in self._entries]
        self._affine = {}
        for name, pair in (affine or {}).items():
            if pair is None:
                self._affine[name] = None
                continue
            scale, offset = pair
            # tiled to a whole crop row: the multiply-add then runs over long vectors
            self._affine[name] = (np.tile(np.asarray(scale, np.float32), crop_size),
                                  np.tile(np.asarray(offset, np.float32), crop_size))
        self._gamma = {}
        for name, scale in (gamma_scale or {}).items():
            dtype = layout[name][3].as_numpy_dtype
            if name not in self._affine or np.dtype(dtype).itemsize != 2 or np.dtype(dtype).kind not in "iu":
                raise ValueError(f"gamma by table needs a 16-bit integer tensor read as float32, not {name!r}")
            # log(v * scale) of every 16-bit pattern read as this dtype (negatives: -inf,
            # so that max(v * scale, 0) ** g is 0 there); a gamma's table is then one exp
            # (bit patterns 0..32767 of int16 and 0..65535 of uint16 are the values >= 0)
            nonneg = 1 << (15 if np.dtype(dtype).kind == "i" else 16)
            values = np.arange(nonneg, dtype=np.float32) * np.float32(scale)
            with np.errstate(divide="ignore"):
                self._gamma[name] = (np.log(values), np.float32(scale))
        self._noise = {}
        for name, std in (noise or {}).items():
            if name not in self._affine:
                raise ValueError(f"noise is added to float32 tensors only, not {name!r}")
            self._noise[name] = np.asarray(std, np.float32)
        self._noise_seed = noise_pool_seed
        self._pools: dict[str, np.ndarray] = {}
        self._scratch = _Scratch()

    def output_signature(self, batched: bool = False) -> list[tuple[tf.DType, tuple]]:
        out = []
        lead = (None,) if batched else ()
        for name, (_, _, shape, dtype) in zip(self.names, self._entries):
            dt = tf.float32 if name in self._affine else dtype
            out.append((dt, lead + (self.crop_size, self.crop_size) + tuple(shape[2:])))
        return out

    #: bytes of output a copy pass handles before the passes that follow it
    _block_bytes = 192 << 10

    #: standard normal values in a noise pool (64 MiB of float32)
    noise_pool_size = 1 << 24

    def _pool(self, name: str, per_crop: int) -> np.ndarray:
        """The noise pool of ``name``: :attr:`noise_pool_size` standard normal float32
        values drawn once (from ``noise_pool_seed``), each times its band's standard
        deviation plus its band's affine offset (value ``j`` is band ``j % C``): adding a
        window of it is the affine's add and the noise in one pass."""
        pool = self._pools.get(name)
        if pool is None:
            with self._lock:
                pool = self._pools.get(name)
                if pool is None:
                    std = self._noise[name]
                    affine = self._affine.get(name)
                    bands = max(std.size, affine[1].size // self.crop_size if affine else 1)
                    size = max(self.noise_pool_size, 2 * per_crop)
                    size -= size % bands
                    rng = np.random.Generator(np.random.SFC64(self._noise_seed))
                    pool = rng.standard_normal(size, dtype=np.float32).reshape(-1, bands)
                    pool *= np.broadcast_to(std, (bands,)) if std.ndim else std
                    if affine is not None:
                        pool += affine[1][:bands]
                    self._pools[name] = pool = pool.reshape(-1)
        return pool

    def _noise_window(self, name: str, size: int, rng: np.random.Generator) -> np.ndarray:
        """The Gaussian noise (plus the affine offset) of one crop of ``size`` values: the
        window of the noise pool at a random offset (a multiple of the band count, so each
        value keeps its band's std and offset). Within a crop the noise values are
        independent ``N(0, std**2)``; crops whose windows overlap share values, at other
        pixels."""
        pool = self._pool(name, size)
        std = self._noise[name]
        affine = self._affine.get(name)
        bands = max(std.size, affine[1].size // self.crop_size if affine else 1)
        start = int(rng.integers(0, (pool.size - size) // bands + 1)) * bands
        return pool[start:start + size]

    def _buffer(self, attr: str, size: int, dtype) -> np.ndarray:
        buf = getattr(self._scratch, attr)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(size, dtype)
            setattr(self._scratch, attr, buf)
        return buf[:size]

    def gamma_table(self, name: str, g: float) -> np.ndarray:
        """float32 ``max(v * scale, 0) ** g / scale`` for every 16-bit value ``v``, indexed
        by the value's bit pattern (``values.view(np.uint16)``)."""
        log, scale = self._gamma[name]
        table = np.zeros(1 << 16, np.float32)
        values = table[:log.size]
        np.multiply(log, np.float32(g), out=values)
        np.exp(values, out=values)
        values /= scale
        return table

    def read_batch(self, positions, rows, cols, symmetry=None, gamma=None, noise_seed=None
                   ) -> list[np.ndarray]:
        """Crops of the records at ``positions`` of the index, stacked:
        ``[(B, crop, crop[, C]) per name]``.

        Optional augmentation, per crop: ``symmetry`` (0..7, :func:`symmetric_view`) on
        every name, ``gamma`` (> 0) on the names of ``gamma_scale``; per batch:
        ``noise_seed`` (two integers) seeds the Gaussian noise of the names of
        ``noise`` (the same seed, the same noise)."""
        n = len(positions)
        cs = self.crop_size
        outs = []
        for name, (_, _, shape, dtype) in zip(self.names, self._entries):
            dt = np.float32 if name in self._affine else dtype.as_numpy_dtype
            outs.append(aligned_empty((n, cs, cs) + tuple(shape[2:]), dt))
        rng = None
        if self._noise and noise_seed is not None:
            key = [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.ravel(noise_seed)]
            rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence(key)))
        if self.readahead:
            self._read_ahead(positions, rows)
        for k in range(n):
            m, offset, _ = self.checked(int(positions[k]))
            row, col = int(rows[k]), int(cols[k])
            s = int(symmetry[k]) if symmetry is not None else 0
            lo, hi = None, 0
            for out, name, (_, data_offset, shape, dtype), row_bytes in zip(
                    outs, self.names, self._entries, self._row_bytes):
                start = offset + data_offset
                full = np.ndarray(shape, dtype.as_numpy_dtype, buffer=m, offset=start)
                window = full[row:row + cs, col:col + cs]
                table = (self.gamma_table(name, gamma[k])
                         if gamma is not None and name in self._gamma else None)
                noise = self._noise_window(name, out[k].size, rng) if rng is not None and name in self._noise else None
                self._copy_crop(out[k], window, s, table, self._affine.get(name), noise)
                del full, window
                first, last = start + row * row_bytes, start + (row + cs) * row_bytes
                lo = first if lo is None else min(lo, first)
                hi = max(hi, last)
            if self.release_pages:
                lo -= lo % mmap.PAGESIZE
                m.madvise(mmap.MADV_DONTNEED, lo, min(hi, len(m)) - lo)
        return outs

    def _read_ahead(self, positions, rows) -> None:
        """Ask the kernel for the bytes the batch will read, all records at once
        (``MADV_WILLNEED``: asynchronous reads of what is not in the page cache yet, so a
        cold disk serves the batch's records in parallel instead of one page fault after
        another): the whole record when its CRC is still to be checked, else the crop's
        rows only. Pages already cached cost a look-up each."""
        idx = self.index
        page = mmap.PAGESIZE
        for k in range(len(positions)):
            position = int(positions[k])
            shard, offset, length = int(idx.shard[position]), int(idx.offset[position]), int(idx.length[position])
            m = self.map(shard)
            if offset in self._verified[shard]:
                row = int(rows[k])
                lo = offset + min(e[1] + row * b for e, b in zip(self._entries, self._row_bytes))
                hi = offset + max(e[1] + (row + self.crop_size) * b for e, b in zip(self._entries, self._row_bytes))
            else:
                lo, hi = offset, offset + length + 4
            lo -= lo % page
            hi = min(hi, len(m))
            if hi > lo:
                m.madvise(mmap.MADV_WILLNEED, lo, hi - lo)

    def _copy_crop(self, target: np.ndarray, window: np.ndarray, s: int, table, affine, noise) -> None:
        """``target`` (crop, crop[, C]) from the stored ``window`` under symmetry ``s``, through
        the gamma ``table``, times ``affine``'s scale plus its offset (or plus ``noise``,
        the pool window that holds noise and offset).

        A block of output rows at a time, each pass finding the block in the cache (a crop
        of 13 float32 bands is 3.4 MB; a block about 200 KB). A symmetry that moves pixels
        out of their rows (a transpose or a left-right flip) is copied first into a
        stored-dtype scratch crop, whole pixels at a time (a pixel of C bands viewed as one
        ``C * itemsize``-byte item: a strided copy of 26-byte items instead of 2-byte ones,
        2-3x faster), so that the cast or the table's index reads contiguous memory."""
        cs = self.crop_size
        pixels = _pixel_view(window)
        if s:
            pixels = symmetric_view(pixels, s)
        rows_whole = pixels.strides[1] == pixels.itemsize  # each output row is one stored row
        same = target.dtype == window.dtype and affine is None and noise is None and table is None
        if same:  # e.g. labels: one (strided) copy
            _pixel_view(target)[...] = pixels
            return
        if rows_whole:
            source = window if not s else _from_pixel_view(pixels, window)
        else:
            # the whole crop at once: numpy then runs its inner loop along the stored rows
            # (a block of a few output rows would make that loop a few items long: 2x slower)
            source = self._buffer("pixels", target.size, window.dtype).reshape(target.shape)
            _pixel_view(source)[...] = pixels
        step = max(1, self._block_bytes // max(1, target[0].nbytes))
        for r0 in range(0, cs, step):
            part = target[r0:r0 + step]
            src = source[r0:r0 + step]
            if table is not None:
                # the copy out of the shard is the index into the gamma's table
                index = self._buffer("index", part.size, np.intp).reshape(part.shape)
                np.copyto(index, src.view(np.uint16), casting="unsafe")
                np.take(table, index, out=part, mode="wrap")
                del index
            else:
                np.copyto(part, src, casting="unsafe")  # the one copy (and cast) out of the shard
            if affine is not None or noise is not None:
                flat = part.reshape(len(part), -1)
                if affine is not None:
                    flat *= affine[0]
                if noise is not None:  # noise and the affine's offset in one add
                    width = flat.shape[1]
                    flat += noise[r0 * width:(r0 + len(part)) * width].reshape(flat.shape)
                elif affine is not None:
                    flat += affine[1]
                del flat
            del part, src
        del source, pixels

    def read(self, position, row, col, *augment) -> list[np.ndarray]:
        """The crops at ``(row, col)`` of the record at ``position`` of the index."""
        if augment:  # per-crop symmetry and gamma as 1-vectors, the noise seed as it is
            augment = ([augment[0]], [augment[1]], augment[2])
        return [out[0] for out in self.read_batch([position], [row], [col], *augment)]

    def __call__(self, position, row, col, batched: bool = False, symmetry=None, gamma=None,
                 noise_seed=None) -> list[tf.Tensor]:
        """Graph-mode crops (a ``tf.numpy_function``) with static shapes; ``batched``:
        the arguments are vectors and the crops come stacked (one call per batch).
        ``symmetry`` (int32), ``gamma`` (float32) and ``noise_seed`` (int64 ``(2,)``)
        augment in the same call (:meth:`read_batch`): give all three or none."""
        signature = self.output_signature(batched)
        fn = self.read_batch if batched else self.read
        args = [position, row, col]
        if symmetry is not None:
            args += [symmetry, gamma, noise_seed]
        tensors = tf.numpy_function(fn, args, [dt for dt, _ in signature], stateful=False)
        return [tf.ensure_shape(t, shape) for t, (_, shape) in zip(tensors, signature)]


def index_dataset(index: RecordIndex, *, shuffle: bool, seed: int | None) -> tf.data.Dataset:
    """Positions (int64) of every record of ``index``, in order or shuffled as a whole
    each epoch (a full permutation: better mixing than a shuffle buffer, and no
    records held)."""
    ds = tf.data.Dataset.range(len(index))
    if shuffle and len(index) > 1:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    return ds


def read_records(builder: tfds.core.DatasetBuilder, split: str, *, shuffle: bool = False,
                 seed: int | None = None, cycle_length: int | None = None) -> tf.data.Dataset:
    """Serialized, checked records of any split string of a prepared TFRecord build, in
    ``tfds.load``'s order (or shuffled as a whole each epoch).

    Local shards go through :class:`RecordReader`; remote ones through TensorFlow's
    reader over the same file instructions (records skipped and taken per shard, files
    interleaved when shuffling)."""
    index = record_index(builder, split)
    if index is not None:
        return RecordReader(index).dataset(shuffle=shuffle, seed=seed)
    slices = file_slices(builder, split)
    ds = tf.data.Dataset.from_tensor_slices((
        [s.path for s in slices], np.asarray([s.skip for s in slices], np.int64),
        np.asarray([s.take for s in slices], np.int64)))
    if shuffle and len(slices) > 1:
        ds = ds.shuffle(len(slices), seed=seed, reshuffle_each_iteration=True)
    return ds.interleave(lambda path, skip, take: tf.data.TFRecordDataset(path).skip(skip).take(take),
                         cycle_length=(cycle_length or max(2, cores())) if shuffle else 1, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=True)


class DataSourceReader:
    """Serialized records of any split string of an ArrayRecord build, read by position
    through ``tfds.data_source`` (its reader checks the records' hashes); a read that
    fails, or bytes that are no ``tf.train.Example``, name the shard and the record.

    Graph-mode through :meth:`dataset`: positions from :func:`index_dataset` and a
    stateless ``tf.numpy_function`` per group of positions, so an iterator of it can be
    saved with ``tf.train.Checkpoint`` (a ``from_generator`` reader cannot: its state
    lives in Python)."""

    def __init__(self, builder: tfds.core.DatasetBuilder, split: str, positions=None):
        self.source = builder.as_data_source(split).data_source  # raw bytes, not decoded
        self.slices = file_slices(builder, split)
        self._ends = np.cumsum([s.take for s in self.slices])
        #: the positions of ``split`` to read, in this order (default: all of them)
        self.positions = None if positions is None else np.asarray(positions, np.int64)

    def __len__(self) -> int:
        return len(self.source) if self.positions is None else len(self.positions)

    def where(self, i: int) -> tuple[str, int]:
        """``(shard, record number in it)`` of position ``i``."""
        k = int(np.searchsorted(self._ends, i, side="right"))
        return self.slices[k].path, self.slices[k].skip + i - (int(self._ends[k - 1]) if k else 0)

    def read_batch(self, positions) -> np.ndarray:
        out = np.empty(len(positions), object)
        if self.positions is not None:
            positions = self.positions[np.asarray(positions, np.int64)]
        for k, i in enumerate(positions):
            try:
                record = self.source[int(i)]
                tf.train.Example.FromString(record)  # bytes that do not parse fail here, named
            except Exception as e:  # riegeli's hash check, protobuf's DecodeError
                path, number = self.where(int(i))
                raise SourceDataError(path, f"record {number} cannot be read ({type(e).__name__}: "
                                      f"{' '.join(str(e).split())[:200]})", _REBUILD) from e
            out[k] = record
        return out

    def dataset(self, *, shuffle: bool, seed: int | None, per_call: int = 16) -> tf.data.Dataset:
        """Serialized records (``tf.string`` scalars) in order, or a new full permutation
        each epoch with ``shuffle``."""
        read = lambda positions: tf.numpy_function(  # noqa: E731
            self.read_batch, [positions], tf.string, stateful=False)
        ds = index_dataset(self, shuffle=shuffle, seed=seed).batch(per_call)
        ds = ds.map(lambda p: tf.ensure_shape(read(p), [None]), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
        return ds.unbatch()


def data_source_examples(builder: tfds.core.DatasetBuilder, split: str, *, shuffle: bool = False,
                         seed: int | None = None) -> tf.data.Dataset:
    """Decoded examples of any split string of an ArrayRecord build (:class:`DataSourceReader`,
    parsed with the builder's own features), in order or a new permutation each epoch."""
    from tfds_builders.pipelines.ops import record_decoder

    return DataSourceReader(builder, split).dataset(shuffle=shuffle, seed=seed).map(
        record_decoder(builder), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
