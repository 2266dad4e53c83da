"""Re-split trials of CloudSEN12: the publisher's recipe of pooling every patch and drawing
each trial's splits at random, over one prepared build.

The pool is the patches of the three published splits, ordered by split (``train``,
``validation``, ``test``) then index. A trial ``(fractions, seed)`` permutes it with
``numpy.random.default_rng(seed).permutation`` and cuts the permutation in the order of
the ``fractions`` dict into parts of ``floor(fraction * total)`` patches, the remainder
going to the first part. The parts are disjoint and cover the pool; a part keeps the
permutation's order, and TFDS split strings slice and merge parts as they slice and
merge published splits (``"train[:50%]"``, ``"validation+test"``).

The trial's normalisation uses the statistics of its own ``train`` part, exact and with
no pass over the data: the build keeps each patch's per-band count, sum, sum of squares,
min and max over the pixels ``band_stats`` counts (inside ``valid_box``; NaN and
infinities left out), in ``patch_stats.npz`` beside the shards (:func:`write_patch_stats`).
Sums of integer bands are int64 per patch and Python ints over a part, so a part equal
to the published train split gives ``info.metadata["band_stats"]`` exactly; float bands
(``s1``) are float64 sums, added with ``math.fsum``.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import types
import zipfile
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from etils import epath

from parsers import atomic
from tfds_builders.pipelines import ops, records
from tfds_builders.stats import BandStats, PatchStats

#: the file of per-patch statistics in a prepared build's version folder
PATCH_STATS_FILE = "patch_stats.npz"
#: the published splits, in pool order
POOL_SPLITS = ("train", "validation", "test")
POOL = "+".join(POOL_SPLITS)
#: the part whose statistics normalise a trial, and on which it augments and shuffles
TRAIN_PART = "train"
#: how far the fractions' sum may stray from 1 (float rounding of e.g. 0.8 + 0.1 + 0.1)
SUM_TOLERANCE = 1e-6
#: the configs whose builds keep per-patch statistics
CONFIGS = ("l1c", "l2a", "s1")

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip member time: the same build, the same bytes


# --------------------------------------------------------------------- at build time

def write_patch_stats(data_dir, stats: Mapping[str, PatchStats], folders: Mapping[str, str]) -> None:
    """Write ``patch_stats.npz`` into ``data_dir`` (atomically; byte for byte the same for
    the same build): ``bands`` (B,), and per published split ``<split>.folder`` (the
    split folder's name, as in the ``id`` feature) and ``<split>.count``,
    ``<split>.sum``, ``<split>.sumsq``, ``<split>.min``, ``<split>.max`` (patches, B) in
    patch index order (see :meth:`PatchStats.arrays`)."""
    bands = next(iter(stats.values())).bands
    arrays = {"bands": np.asarray(bands, dtype=str)}
    for split, acc in stats.items():
        arrays[f"{split}.folder"] = np.asarray(folders[split], dtype=str)
        for field, array in acc.arrays().items():
            arrays[f"{split}.{field}"] = array
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            with zf.open(zipfile.ZipInfo(f"{name}.npy", _FIXED_TIME), "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)
    path = os.path.join(os.fspath(data_dir), PATCH_STATS_FILE)
    if "://" in path:  # remote data dir (Beam on gs://): its own file system
        epath.Path(path).write_bytes(buffer.getvalue())
    else:
        atomic.write_bytes(path, buffer.getvalue())


def read_patch_stats(builder: tfds.core.DatasetBuilder) -> dict[str, np.ndarray]:
    """The arrays of a prepared build's ``patch_stats.npz``, checked against its splits.

    Raises:
        ValueError: the build has none (made before re-split trials) or they do not
            match its splits: says to rebuild with ``--overwrite``.
    """
    path = os.path.join(os.fspath(builder.data_dir), PATCH_STATS_FILE)
    rebuild = (f"rebuild it: eo-tfds build {builder.info.full_name.rsplit('/', 1)[0]} --manual-dir MANUAL "
               f"--data-dir {os.fspath(builder.data_dir_root)} --overwrite")
    try:
        with epath.Path(path).open("rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise ValueError(f"{builder.info.full_name} in {os.fspath(builder.data_dir)} has no per-patch "
                         f"statistics ({PATCH_STATS_FILE}): it was built before re-split trials; "
                         f"{rebuild}") from None
    for split in POOL_SPLITS:
        n = builder.info.splits[split].num_examples
        if f"{split}.count" not in arrays or len(arrays[f"{split}.count"]) != n:
            raise ValueError(f"{path}: per-patch statistics do not match split {split!r} "
                             f"({n} examples); {rebuild}")
    return arrays


# ----------------------------------------------------------------------- the draw

def check_fractions(fractions) -> dict[str, float]:
    """``fractions`` checked: a non-empty dict of part name -> fraction, with a
    ``"train"`` part; names free of ``+ [ ] :`` (they appear in split strings); every
    fraction a finite number > 0; their sum 1 (within :data:`SUM_TOLERANCE`: the parts
    cover the pool, and a smaller sum would silently enlarge the first part)."""
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(f"resplit must be a non-empty dict of part name -> fraction, not {fractions!r}")
    out = {}
    for name, value in fractions.items():
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "+[]:") or name == "all":
            raise ValueError(f"resplit: bad part name {name!r} (a split name: no '+', '[', ']', ':'; not 'all')")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"resplit: the fraction of part {name!r} must be a number > 0, not {value!r}")
        out[name] = float(value)
    if TRAIN_PART not in out:
        raise ValueError(f"resplit needs a {TRAIN_PART!r} part (its statistics normalise the trial), "
                         f"not only {list(out)}")
    total = math.fsum(out.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"resplit: the fractions must sum to 1, not {total!r} ({out})")
    return out


def check_seed(seed) -> int:
    """A trial's seed: an int >= 0 (required: two pipelines of one trial must agree)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"resplit_seed must be an int >= 0 (the trial), not {seed!r}")
    return int(seed)


def part_sizes(total: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """``{part: floor(fraction * total)}``, the remainder added to the first part."""
    sizes = {name: math.floor(f * total) for name, f in fractions.items()}
    first = next(iter(sizes))
    sizes[first] += total - sum(sizes.values())
    if sizes[first] < 0:
        raise ValueError(f"resplit: fractions {dict(fractions)} ask for more than the {total} patches")
    return sizes


def draw(total: int, fractions, seed) -> dict[str, np.ndarray]:
    """``{part: pool positions (int64), in the permutation's order}`` of a trial over a
    pool of ``total`` patches."""
    fractions, seed = check_fractions(fractions), check_seed(seed)
    order = np.random.default_rng(seed).permutation(total).astype(np.int64)
    parts, start = {}, 0
    for name, size in part_sizes(total, fractions).items():
        parts[name] = order[start:start + size]
        start += size
    return parts


def _prepared_builder(data_dir, config: str | None) -> tfds.core.DatasetBuilder:
    if config is not None:
        return ops.load_builder(f"cloudsen12_hq/{config}", data_dir)
    for name in CONFIGS:
        builder = tfds.builder(f"cloudsen12_hq/{name}", data_dir=data_dir)
        if builder.is_prepared():
            return builder
    return ops.load_builder(f"cloudsen12_hq/{CONFIGS[0]}", data_dir)  # raises: says how to build


def resplit_ids(data_dir, fractions, seed, *, config: str | None = None) -> dict[str, list[str]]:
    """``{part: [id, ...]}`` of the trial ``(fractions, seed)``: the ``id`` feature of each
    patch (``"<split folder>/<index>"``, e.g. ``"val/17"``), in the part's order, which is
    the order the trial's pipeline reads (unshuffled).

    Args:
        data_dir: where ``eo-tfds build`` prepared ``cloudsen12_hq``.
        fractions: ``{part: fraction}`` (see :func:`check_fractions`).
        seed: the trial (int >= 0).
        config: whose build to read the split sizes from; default the first prepared
            of ``l1c``, ``l2a``, ``s1`` (built from one release, they hold the same patches).
    """
    return Trial(_prepared_builder(data_dir, config), fractions, seed).ids()


# ---------------------------------------------------------------------- the reads

class Published:
    """The published splits' reads (``ops``/``records``), under :class:`Trial`'s method
    names, so that a pipeline reads one way whatever the split."""

    @staticmethod
    def band_stats(builder, override=None):
        return ops.band_stats(builder, override)

    @staticmethod
    def record_index(builder, split, layout=None):
        return records.record_index(builder, split, layout)

    @staticmethod
    def read_records(builder, split, *, shuffle_files=False, seed=None):
        return ops.read_records(builder, split, shuffle_files=shuffle_files, seed=seed)

    @staticmethod
    def read_examples(builder, split, *, shuffle_files=False, seed=None):
        return ops.read_examples(builder, split, shuffle_files=shuffle_files, seed=seed)


class Trial:
    """One re-split trial over a prepared build: its parts, its statistics, and the
    reads of a split string of parts (the methods of :class:`Published`)."""

    def __init__(self, builder: tfds.core.DatasetBuilder, fractions, seed):
        self.builder = builder
        self.fractions = check_fractions(fractions)
        self.seed = check_seed(seed)
        self.arrays = read_patch_stats(builder)
        self.sizes = [builder.info.splits[s].num_examples for s in POOL_SPLITS]
        self.parts = draw(sum(self.sizes), self.fractions, self.seed)

    # -------------------------------------------------------------------- which patches

    def ids(self) -> dict[str, list[str]]:
        """``{part: [id, ...]}`` in each part's order."""
        starts = np.cumsum([0] + self.sizes)
        folders = [str(self.arrays[f"{s}.folder"]) for s in POOL_SPLITS]
        out = {}
        for name, positions in self.parts.items():
            k = np.searchsorted(starts, positions, side="right") - 1
            out[name] = [f"{folders[s]}/{p - starts[s]}" for s, p in zip(k.tolist(), positions.tolist())]
        return out

    def positions(self, split: str) -> np.ndarray:
        """Pool positions a split string of parts means, in order: TFDS's slicing
        (``"train[:50%]"``, ``"train[-5:]"``) inside a part, ``+`` merging parts."""
        names = ops.split_names(split)
        unknown = [n for n in names if n not in self.parts and n != "all"]
        if unknown:
            raise ValueError(f"split {split!r}: {unknown[0]!r} is not a part of the re-split "
                             f"trial (its parts: {list(self.parts)})")
        infos = {name: types.SimpleNamespace(num_examples=len(p), shard_lengths=[len(p)])
                 for name, p in self.parts.items()}
        pieces = [self.parts[i.splitname][i.from_:i.to]
                  for i in tfds.core.ReadInstruction.from_spec(split).to_absolute(infos)]
        chosen = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
        if not len(chosen):
            raise ValueError(f"split {split!r} of the re-split trial selects no patch "
                             f"(parts: {', '.join(f'{k} {len(v)}' for k, v in self.parts.items())})")
        return chosen

    def _pool_slices(self) -> tuple[list[records.FileSlice], np.ndarray]:
        slices = records.file_slices(self.builder, POOL)
        return slices, np.cumsum([s.take for s in slices])

    def file_slices(self, split: str) -> list[records.FileSlice]:
        """The records of ``split``, as runs of consecutive records of one shard, in order."""
        slices, ends = self._pool_slices()
        positions = self.positions(split)
        k = np.searchsorted(ends, positions, side="right")
        numbers = positions - np.where(k > 0, ends[k - 1], 0) + np.asarray([s.skip for s in slices])[k]
        out: list[records.FileSlice] = []
        for shard, number in zip(k.tolist(), numbers.tolist()):
            path = slices[shard].path
            if out and out[-1].path == path and out[-1].skip + out[-1].take == number:
                out[-1] = out[-1]._replace(take=out[-1].take + 1)
            else:
                out.append(records.FileSlice(path, number, 1))
        return out

    # ----------------------------------------------------------------------- statistics

    def part_stats(self, part: str = TRAIN_PART) -> dict:
        """``band_stats`` (as ``info.metadata["band_stats"]``) of a part's patches."""
        return patch_band_stats(self.arrays, self.parts[part])

    def band_stats(self, builder=None, override=None) -> tuple[list[float], list[float]]:
        """``(mean, std)`` of the trial's ``train`` part (or ``override``'s)."""
        if isinstance(override, Mapping):
            return ops.band_stats(self.builder, override)
        stats = self.part_stats(TRAIN_PART)
        return list(stats["mean"]), list(stats["std"])

    # ---------------------------------------------------------------------------- reads

    def record_index(self, builder, split: str, layout=None) -> records.RecordIndex | None:
        """The :class:`records.RecordIndex` of ``split``'s records across the published
        splits' shards, in order; None when they are not local TFRecord files, or (with
        ``layout``) not laid out that way."""
        if layout:
            pool = records.record_index(self.builder, POOL, layout)  # checks the layout
            if pool is None:
                return None
            files = pool.files
        elif records.is_local_tfrecord(self.builder, POOL):
            files = sorted({s.path for s in records.file_slices(self.builder, POOL)})
        else:
            return None
        return records.RecordIndex(files).select(self.file_slices(split))

    def read_records(self, builder, split: str, *, shuffle_files=False, seed=None) -> tf.data.Dataset:
        """Serialized, checked records of ``split`` (local TFRecord shards)."""
        index = self.record_index(builder, split)
        if index is None:
            raise ValueError(f"re-split trials read local TFRecord shards or ArrayRecord builds; "
                             f"{self.builder.info.full_name} in {os.fspath(self.builder.data_dir)} is neither: "
                             "copy it to a local disk")
        return records.RecordReader(index).dataset(shuffle=shuffle_files, seed=seed)

    def read_examples(self, builder, split: str, *, shuffle_files=False, seed=None) -> tf.data.Dataset:
        """Decoded, checked examples of ``split``, in order or a new permutation each epoch."""
        if self.builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
            return self.read_records(builder, split, shuffle_files=shuffle_files, seed=seed).map(
                ops.record_decoder(self.builder), num_parallel_calls=ops.AUTOTUNE, deterministic=True)
        return self._data_source_examples(split, shuffle=shuffle_files, seed=seed)

    def _data_source_examples(self, split: str, *, shuffle: bool, seed) -> tf.data.Dataset:
        """ArrayRecord builds: the pool's ``tfds.data_source`` at the split's positions,
        through the pipelines' checked, checkpointable reader (a read that fails names
        the shard and the record)."""
        reader = records.DataSourceReader(self.builder, POOL, positions=self.positions(split))
        return reader.dataset(shuffle=shuffle, seed=seed).map(
            ops.record_decoder(self.builder), num_parallel_calls=ops.AUTOTUNE, deterministic=True)


def patch_band_stats(arrays: Mapping[str, np.ndarray], positions) -> dict:
    """``band_stats`` (``{"bands", "count", "mean", "std", "min", "max"}``, as
    ``BandStats.as_dict``) of the pool patches at ``positions``, from per-patch rows
    (:func:`read_patch_stats`): integer sums added exactly (Python ints), float sums with
    ``math.fsum``; no pixel read."""
    fields = {field: np.concatenate([arrays[f"{s}.{field}"] for s in POOL_SPLITS])
              for field in PatchStats.FIELDS}
    positions = np.asarray(positions, np.int64)
    acc = BandStats([str(b) for b in arrays["bands"]])
    for b in range(len(acc.bands)):
        column = {field: values[positions, b] for field, values in fields.items()}
        acc.count[b] = sum(int(v) for v in column["count"])
        for field in ("sum", "sumsq"):
            values = column[field]
            getattr(acc, field)[b] = (sum(int(v) for v in values) if values.dtype.kind == "i"
                                      else math.fsum(values.tolist()))
        acc.min[b] = float(column["min"].min()) if len(positions) else math.inf
        acc.max[b] = float(column["max"].max()) if len(positions) else -math.inf
    return acc.as_dict()
