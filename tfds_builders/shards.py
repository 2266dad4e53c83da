"""Shard writing, shared by the threaded and the Beam path: :func:`write_shard` (one
shard file from ``(key, example)`` pairs, band statistics gathered in the same pass),
:func:`merge_stats`, the shard count for shards of roughly 100-300 MiB
(:func:`choose_num_shards`: the TFDS 4.9 writer honours only a count),
:func:`split_range`, and the picklable shard callables (:func:`shard_fn`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import file_adapters

from tfds_builders.encoding import ExampleEncoder, TFRecordFile
from tfds_builders.stats import BandStats

MiB = 1 << 20
TARGET_SHARD_BYTES = 192 * MiB
#: the block size of the source hashing (large enough for full disk/page-cache speed)

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


__all__ = ["MiB", "TARGET_SHARD_BYTES", "KeyExample", "ShardFn", "StatsSpec", "ShardResult", "write_shard",
           "merge_stats", "choose_num_shards", "split_range", "cores", "num_workers", "shard_fn",
           "total_bytes_estimate"]
