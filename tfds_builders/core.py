"""What every eo-tfds builder shares.

- :class:`EoBuilder`: a ``tfds.core.ShardBasedBuilder`` whose builders say which
  examples go in which shard (``_shard_iterators_per_split``), so a rebuild gives the
  same shards. Without Beam, shards are written by a pool of threads with
  :class:`ExampleEncoder` (large tensors go into the record with a single copy) and
  per-band statistics of the training split are computed in the same pass. With Beam
  (``DownloadConfig(beam_options=...)`` or ``beam_runner=...``), the same shards are
  written by a Beam pipeline, one work item per shard (:mod:`tfds_builders.beam_writer`).
  Both paths write with :func:`write_shard`, which gathers the :class:`StatsSpec`
  statistics of a builder in the same pass: the datasets are byte for byte the same.
- :func:`choose_num_shards`: the shard count for shards of roughly 100-300 MiB (the
  TFDS 4.9 writer honours only a count).
- :func:`split_range`: contiguous, near-equal index ranges.
- :func:`file_digest` / :func:`source_records`: size and CRC32C of the source files a
  build read, kept in ``info.metadata["source_files"]`` so that ``eo-tfds verify`` can
  tell which source changed since the build (LZF-compressed HDF5 has no checksum).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import crc32c
import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import example_serializer, file_adapters
from tensorflow_datasets.core import splits as splits_lib
from tqdm.auto import tqdm

from parsers.errors import SourceDataError
from parsers.tfrecord import masked_crc
from tfds_builders import locking
from tfds_builders.stats import BandStats

MiB = 1 << 20
TARGET_SHARD_BYTES = 192 * MiB
#: the block size of the source hashing (large enough for full disk/page-cache speed)
DIGEST_BLOCK = 16 * MiB

KeyExample = tuple[str, dict]
ShardFn = Callable[[], Iterator[KeyExample]]


def choose_num_shards(total_bytes: int, num_examples: int,
                      target_bytes: int = TARGET_SHARD_BYTES) -> int:
    """Shard count giving shards near ``target_bytes`` (never more shards than examples)."""
    if num_examples <= 0:
        return 1
    return max(1, min(num_examples, round(total_bytes / target_bytes)))


def split_range(n: int, parts: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ``parts`` contiguous ranges whose sizes differ by at most one."""
    parts = max(1, min(parts, n)) if n else 1
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def cores() -> int:
    """The cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def num_workers() -> int:
    """Writer threads: one per core (``EO_TFDS_WORKERS`` overrides)."""
    env = os.environ.get("EO_TFDS_WORKERS")
    if env:
        return max(1, int(env))
    return cores()


# ----------------------------------------------------------------------- encoding

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



# ----------------------------------------------------------------------- writing

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


# ------------------------------------------------------------------- source files

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


class _Background:
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


# ------------------------------------------------------------------------ builder

class StatsSpec(NamedTuple):
    """Per-band statistics a builder keeps in ``info.metadata[<key>]``.

    ``values(example) -> (array, valid_mask_or_None)`` must be picklable (a module-level
    function or a ``functools.partial`` of one): Beam workers call it.
    """

    bands: tuple[str, ...]
    values: Callable[[dict], tuple]
    #: the accumulator class (``BandStats``, or ``PatchStats`` to keep each example's own)
    accumulator: type = BandStats


class ShardResult(NamedTuple):
    """What writing one shard gives: example count, file size, statistics per key."""

    count: int
    num_bytes: int
    stats: dict


def write_shard(path, examples: Iterable[KeyExample], encoder: ExampleEncoder, file_format,
                specs: Mapping[str, StatsSpec] | None = None,
                on_example: Callable[[], None] | None = None) -> ShardResult:
    """Write one shard file from ``(key, example)`` pairs with ``encoder``; statistics of
    ``specs`` gathered in the same pass. Shared by the threaded and the Beam path, so
    both write the same bytes."""
    file_format = file_adapters.FileFormat(file_format)
    stats = {key: spec.accumulator(spec.bands) for key, spec in (specs or {}).items()}
    count = 0

    def gathered(examples):
        nonlocal count
        for key, example in examples:
            for name, spec in (specs or {}).items():
                stats[name].update(*spec.values(example))
            yield key, example
            count += 1
            if on_example is not None:
                on_example()

    if file_format == file_adapters.FileFormat.TFRECORD and "://" not in os.fspath(path):
        with TFRecordFile(path) as out:
            for _, example in gathered(examples):
                out.write(encoder.encode_parts(example))
    else:  # array_record, or remote storage (gs://...): TFDS's adapter with whole records
        adapter = file_adapters.ADAPTER_FOR_FORMAT[file_format]
        adapter.write_examples(path, ((k, encoder.encode(e)) for k, e in gathered(examples)))
    return ShardResult(count, epath.Path(path).stat().length, stats)  # also on gs:// (Beam)


def merge_stats(results: Sequence[ShardResult]) -> dict:
    """The statistics of a split: its shards' merged in shard order (deterministic)."""
    merged: dict = {}
    for result in results:
        for key, acc in result.stats.items():
            merged.setdefault(key, type(acc)(acc.bands)).merge(acc)
    return merged


class EoBuilder(tfds.core.ShardBasedBuilder, skip_registration=True):
    """Base of the eo-tfds builders (see module docstring).

    A subclass implements ``_info`` and ``_shard_iterators_per_split`` (a mapping
    split -> list of zero-argument callables, one per shard, each returning an
    iterator of ``(key, example)``), and may set :attr:`STATS_SPLIT` and implement
    :meth:`_stats_specs` (or, for statistics of other splits or kept elsewhere than in
    ``info.metadata``, :meth:`_split_stats_specs` and :meth:`_keep_stats`).
    """

    #: the split whose per-band statistics go into ``info.metadata``
    STATS_SPLIT = "train"

    def _source_files(self, root) -> list:
        """The files under manual_dir ``root`` that this builder (and config) reads; their
        sizes and CRC32C go into ``info.metadata["source_files"]``. By default every
        non-hidden file under ``root``; builders narrow it to what they read."""
        found = []
        for folder, dirs, files in os.walk(os.fspath(root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.join(folder, f) for f in sorted(files) if not f.startswith(".")]
        return found

    def _example_source(self, root, split: str, key: str, feature: str) -> str | None:
        """Where feature ``feature`` of the example ``key`` of ``split`` comes from (source
        file, and dataset / layer / record in it), for ``verify``'s mismatch message;
        None when unknown. By default the one source file, if there is only one."""
        files = self._source_files(root)
        return os.fspath(files[0]) if len(files) == 1 else None

    def _stats_specs(self) -> dict[str, StatsSpec]:
        """``{metadata key: StatsSpec}`` gathered over :attr:`STATS_SPLIT` (none by default)."""
        return {}

    def _split_stats_specs(self, split: str) -> dict[str, StatsSpec]:
        """``{key: StatsSpec}`` gathered over ``split`` while it is written: by default
        :meth:`_stats_specs` on :attr:`STATS_SPLIT`, nothing on the other splits."""
        return self._stats_specs() if split == self.STATS_SPLIT else {}

    def _keep_stats(self, stats: Mapping[str, Mapping[str, BandStats]]) -> None:
        """Store what :meth:`_split_stats_specs` gathered (``{split: {key: merged
        accumulator}}``), once every split is written; by default each as
        ``info.metadata[key] = acc.as_dict()``. ``self.data_dir`` is then the build's
        (incomplete) folder: a file written there is part of the prepared dataset."""
        for split_stats in stats.values():
            for key, acc in split_stats.items():
                self.info.metadata[key] = acc.as_dict()

    def download_and_prepare(self, *, download_config=None, **kwargs) -> None:
        """Prepares the dataset as TFDS does, and also: one build at a time per dataset,
        config and data dir (a second one waits, see :mod:`tfds_builders.locking`);
        temporary folders of dead builds removed first; an overwrite
        (``download_mode`` ``REUSE_CACHE_IF_EXISTS`` or ``FORCE_REDOWNLOAD``) is built
        beside the prepared dataset, which stays until the new one is complete."""
        config = download_config or tfds.download.DownloadConfig()
        final = os.fspath(self.data_dir)
        with self._build_lock(), locking.exclusive(locking.lock_path(final), self.info.full_name):
            locking.remove_temporaries(final)
            exists = os.path.isdir(final)
            if exists and config.download_mode.overwrite_dataset:
                # the info TFDS restored from the old dataset is final (its file format
                # cannot change): the new one starts from the code's, as a first build does
                old_info = self.info
                fresh = self._info()
                fresh.set_file_format(kwargs.get("file_format") or old_info.file_format)
                new = locking.aside(final)
                self._fresh_info = fresh
                try:
                    with tfds.core.utils.temporary_assignment(self, "_data_dir", os.fspath(new)):
                        self._prepare(download_config=config, **kwargs)
                except BaseException:
                    self._fresh_info = None  # the old dataset and its info stay
                    raise
                locking.swap_in(new, final)
                self.info.update_data_dir(final)
                return
            if exists and not self.info.initialized:
                # prepared meanwhile by the build we waited for: read what it wrote
                self.info.read_from_directory(final)
            self._prepare(download_config=config, **kwargs)

    _fresh_info = None

    @property
    def info(self) -> tfds.core.DatasetInfo:
        """``tfds.core.DatasetInfo`` of this builder (of the new build after an overwrite)."""
        return self._fresh_info if self._fresh_info is not None else super().info

    def _build_lock(self):
        """A further lock a subclass holds around a build (a shared scratch folder)."""
        return contextlib.nullcontext()

    def _prepare(self, **kwargs) -> None:
        try:
            super().download_and_prepare(**kwargs)
        except OSError as e:
            if e.errno is None and str(e).startswith("Not enough disk space"):
                # TFDS's own check, without errno or path
                raise OSError(errno.ENOSPC, str(e), os.fspath(self.data_dir_root)) from e
            raise

    def _download_and_prepare(self, dl_manager, download_config=None):
        download_config = download_config or tfds.download.DownloadConfig()
        shard_fns = self._shard_iterators_per_split(dl_manager)
        root = manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        # hashed while the shards are written: the files are read (and cached) anyway
        digests = _Background(source_records, self._source_files(root), root)
        specs = {split: self._split_stats_specs(split) for split in shard_fns}
        if download_config.beam_runner is not None or download_config.beam_options is not None:
            from tfds_builders import beam_writer  # imports apache_beam: only when asked for

            results = beam_writer.write_splits(
                shard_fns, templates={s: self._get_filename_template(split_name=s) for s in shard_fns},
                specs=specs, features=self.info.features, file_format=self.info.file_format,
                data_dir=self.data_dir, split_dict=self.info.splits, dataset_size=self.info.dataset_size,
                beam_options=download_config.beam_options, beam_runner=download_config.beam_runner)
        else:
            encoder = ExampleEncoder(self.info.features)
            results = {split: self._write_split(split, fns, encoder, specs.get(split, {}))
                       for split, fns in shard_fns.items()}
        split_infos, stats = [], {}
        for split, shard_results in results.items():
            split_infos.append(splits_lib.SplitInfo(
                name=split, shard_lengths=[r.count for r in shard_results],
                num_bytes=sum(r.num_bytes for r in shard_results),
                filename_template=self._get_filename_template(split_name=split)))
            stats[split] = merge_stats(shard_results)
        self._keep_stats(stats)
        self.info.metadata["source_files"] = digests.result()
        self.info.set_splits(splits_lib.SplitDict(split_infos))

    def _expected_examples(self, split: str) -> int | None:
        """Number of examples of a split if known up front (for the progress bar)."""
        return None

    def _write_split(self, split: str, shard_fns: Sequence[ShardFn], encoder: ExampleEncoder,
                     specs: Mapping[str, StatsSpec]) -> list[ShardResult]:
        """Shards of one split written by a pool of threads; their results in shard order."""
        template = self._get_filename_template(split_name=split)
        num_shards = len(shard_fns)
        stop = threading.Event()
        progress = tqdm(total=self._expected_examples(split), unit=" examples",
                        desc=f"{self.name} {split}", leave=False,
                        disable=os.environ.get("EO_TFDS_PROGRESS", "1") == "0")
        lock = threading.Lock()

        def tick() -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            with lock:
                progress.update(1)

        def write(index: int) -> ShardResult:
            path = template.sharded_filepath(shard_index=index, num_shards=num_shards)
            return write_shard(path, shard_fns[index](), encoder, self.info.file_format, specs, tick)

        results: list = [None] * num_shards
        with concurrent.futures.ThreadPoolExecutor(max_workers=num_workers()) as pool:
            futures = {pool.submit(write, i): i for i in range(num_shards)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
            except BaseException:
                stop.set()
                for future in futures:
                    future.cancel()
                raise
            finally:
                progress.close()
        return results


def shard_fn(fn: Callable[..., Iterator[KeyExample]], *args, **kwargs) -> ShardFn:
    """A picklable zero-argument shard callable (Beam ships it to workers)."""
    return _ShardFn(fn, args, kwargs)


class _ShardFn:
    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self):
        return self.fn(*self.args, **self.kwargs)

    def __repr__(self):
        return f"shard({getattr(self.fn, '__name__', self.fn)}, {self.args})"


def total_bytes_estimate(features: tfds.features.FeaturesDict, example_count: int) -> int:
    """Bytes of ``example_count`` examples whose raw tensors all have static shapes."""
    per = 0
    for feature in features.values():
        if isinstance(feature, tfds.features.Tensor) and all(s is not None for s in feature.shape):
            per += int(np.prod(feature.shape, dtype=np.int64)) * np.dtype(feature.np_dtype).itemsize
    return per * example_count


def manual_dir(dl_manager, instructions: str):
    """``dl_manager.manual_dir``, or a :class:`SourceDataError` saying what to put there."""
    path = getattr(dl_manager, "_manual_dir", None)
    if not path:
        raise SourceDataError(".", "no manual_dir given",
                              "pass --manual-dir (eo-tfds, tfds build) or DownloadConfig(manual_dir=...)")
    try:
        return epath.Path(dl_manager.manual_dir)
    except AssertionError:
        first = " ".join(instructions.split())[:300]
        raise SourceDataError(path, "manual_dir does not exist or is empty", first) from None


__all__ = ["EoBuilder", "ExampleEncoder", "TFRecordFile", "BandStats", "StatsSpec", "ShardResult", "write_shard",
           "merge_stats", "choose_num_shards", "split_range",
           "shard_fn", "total_bytes_estimate", "cores", "num_workers", "manual_dir",
           "file_digest", "source_digest", "relative_source", "source_records"]
