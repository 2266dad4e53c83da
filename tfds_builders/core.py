"""The builder base: :class:`EoBuilder`, a ``tfds.core.ShardBasedBuilder`` whose
builders say which examples go in which shard (``_shard_iterators_per_split``), so a
rebuild gives the same shards. Without Beam, shards are written by a pool of threads
(:func:`tfds_builders.shards.write_shard`, records encoded by
:class:`tfds_builders.encoding.ExampleEncoder`), per-band statistics of the training
split computed in the same pass; with Beam (``DownloadConfig(beam_options=...)`` or
``beam_runner=...``) the same shards are written by a Beam pipeline, one work item per
shard (:mod:`tfds_builders.beam_writer`, which uses the same writer): the datasets are
byte for byte the same. The source files' digests (:mod:`tfds_builders.sources`) go
into ``info.metadata["source_files"]``.

The names a builder module uses are re-exported here (``core.shard_fn``,
``core.StatsSpec``, ...), so a builder imports this one module.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import threading
from collections.abc import Mapping, Sequence

import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core import splits as splits_lib
from tqdm.auto import tqdm

from parsers.errors import SourceDataError
from tfds_builders import locking
from tfds_builders.encoding import ExampleEncoder, TFRecordFile
from tfds_builders.shards import (
    MiB,
    TARGET_SHARD_BYTES,
    KeyExample,
    ShardFn,
    ShardResult,
    StatsSpec,
    choose_num_shards,
    cores,
    merge_stats,
    num_workers,
    shard_fn,
    split_range,
    total_bytes_estimate,
    write_shard,
)
from tfds_builders.sources import Background, file_digest, relative_source, source_digest, source_records
from tfds_builders.stats import BandStats


class EoBuilder(tfds.core.ShardBasedBuilder, skip_registration=True):
    """Base of the eo-tfds builders (see module docstring).

    A subclass implements ``_info`` and ``_shard_iterators_per_split`` (a mapping
    split -> list of zero-argument callables, one per shard, each returning an
    iterator of ``(key, example)``), and may set :attr:`STATS_SPLIT` and implement
    :meth:`_stats_specs` (or, for statistics of other splits or kept elsewhere than in
    ``info.metadata``, :meth:`_split_stats_specs` and :meth:`_keep_stats`) and
    :meth:`_source_metadata`.
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

    def _source_metadata(self, root) -> dict:
        """``info.metadata`` entries that depend on the source files under manual_dir
        ``root`` (``_info`` cannot know them), set once after the shards are written;
        none by default."""
        return {}

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
        digests = Background(source_records, self._source_files(root), root)
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
        self.info.metadata.update(self._source_metadata(root))
        self.info.set_splits(splits_lib.SplitDict(split_infos))

    #: examples per split when a builder knows them up front (it sets this in
    #: ``_shard_iterators_per_split``): the progress bar's totals
    _counts: Mapping[str, int] = {}

    def _expected_examples(self, split: str) -> int | None:
        """Number of examples of a split if known up front (for the progress bar)."""
        return self._counts.get(split)

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


__all__ = ["EoBuilder", "manual_dir",
           # re-exported for the builder modules
           "ExampleEncoder", "TFRecordFile", "BandStats", "StatsSpec", "ShardResult", "ShardFn", "KeyExample",
           "write_shard", "merge_stats", "choose_num_shards", "split_range", "shard_fn", "total_bytes_estimate",
           "cores", "num_workers", "MiB", "TARGET_SHARD_BYTES",
           "file_digest", "source_digest", "relative_source", "source_records", "Background"]
