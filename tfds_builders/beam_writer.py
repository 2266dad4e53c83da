"""Generation as an Apache Beam pipeline: one work item per shard, the same writer.

Used by :class:`tfds_builders.core.EoBuilder` when the ``DownloadConfig`` carries
``beam_options`` or a ``beam_runner`` (``tfds build --beam_pipeline_options=...``,
``eo-tfds build --beam``), and imported only then: the in-process path never imports
``apache_beam``.

The pipeline is::

    work items (split, shard index, shard path, shard fn, stats specs)
      | Reshuffle                      spread over the workers
      | WriteShard                     shards.write_shard with encoding.ExampleEncoder
      | ToList | SaveResults           one small JSON file under the data dir

Each work item's shard fn opens its own slice of the sources in the worker that runs
it (a patch range of a memmap split, some TFRecord files, HDF5 example ranges or
groups, some glacier scenes), and :func:`shards.write_shard` writes the very bytes the
in-process path writes. What each shard gives (count, bytes, statistics) travels
through the pipeline and is saved as JSON next to the shards, so the driver reads it
back from the data dir on any runner (DirectRunner, Dataflow, Spark, Flink), and then
sets split infos and statistics exactly as the in-process path does.

A :class:`parsers.errors.SourceDataError` in a worker does not fail the work item (a
runner would retry a deterministic error several times and then report a traceback
of its own): it becomes the item's result, and the driver raises it, the first in
split and shard order, once the pipeline has finished.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import apache_beam as beam
from etils import epath
from tensorflow_datasets.core import file_adapters
from tensorflow_datasets.core import split_builder as split_builder_lib

from parsers.errors import SourceDataError
from tfds_builders import shards
from tfds_builders.encoding import ExampleEncoder
from tfds_builders.stats import BandStats, PatchStats

#: the results file, in the (incomplete) data dir while the pipeline runs
RESULTS_NAME = "beam_shard_results.json"


class WorkItem(NamedTuple):
    """One shard to write: everything a worker needs, nothing of the builder."""

    split: str
    index: int
    path: str
    shard_fn: shards.ShardFn
    specs: Mapping[str, shards.StatsSpec]


def work_items(plan: Mapping[str, Sequence[shards.ShardFn]], templates: Mapping,
               specs: Mapping[str, Mapping[str, shards.StatsSpec]]) -> list[WorkItem]:
    """One :class:`WorkItem` per (split, shard index), with its shard file's path."""
    items = []
    for split, fns in plan.items():
        for index, fn in enumerate(fns):
            path = templates[split].sharded_filepath(shard_index=index, num_shards=len(fns))
            items.append(WorkItem(split, index, os.fspath(path), fn, specs.get(split, {})))
    return items


# ------------------------------------------------------------------ results as JSON

def _stats_state(acc: BandStats) -> dict:
    state = {"bands": acc.bands, "count": acc.count, "sum": acc.sum, "sumsq": acc.sumsq,
             "min": acc.min, "max": acc.max}
    if isinstance(acc, PatchStats):
        state["rows"] = acc.rows
    return state


def _stats_from_state(state: dict) -> BandStats:
    acc = BandStats(state["bands"]) if "rows" not in state else PatchStats(state["bands"])
    if "rows" in state:
        acc.rows = [[list(field) for field in row] for row in state["rows"]]
    # JSON keeps Python ints exact and floats to the last bit (shortest repr)
    acc.count, acc.sum, acc.sumsq = list(state["count"]), list(state["sum"]), list(state["sumsq"])
    acc.min, acc.max = [float(v) for v in state["min"]], [float(v) for v in state["max"]]
    return acc


def result_record(item: WorkItem, result: shards.ShardResult | None = None,
                  error: SourceDataError | None = None) -> dict:
    """What a worker sends back for one work item (JSON-able)."""
    record = {"split": item.split, "index": item.index}
    if error is not None:
        record["error"] = [error.path, error.problem, error.remedy]
    else:
        record.update(count=result.count, num_bytes=result.num_bytes,
                      stats={k: _stats_state(v) for k, v in result.stats.items()})
    return record


def read_results(path, plan: Mapping[str, Sequence]) -> dict[str, list[shards.ShardResult]]:
    """``{split: [ShardResult in shard order]}`` from the saved records; raises the
    first :class:`SourceDataError` (split, then shard order) a worker reported."""
    records = json.loads(epath.Path(path).read_text())
    by_item = {(r["split"], r["index"]): r for r in records}
    results = {}
    for split, fns in plan.items():
        shard_results = []
        for index in range(len(fns)):
            record = by_item.get((split, index))
            if record is None:
                raise RuntimeError(f"the Beam pipeline gave no result for shard {index} of split {split}")
            if "error" in record:
                raise SourceDataError(*record["error"])
            shard_results.append(shards.ShardResult(
                record["count"], record["num_bytes"],
                {k: _stats_from_state(v) for k, v in record["stats"].items()}))
        results[split] = shard_results
    return results


def _save_results(records: list[dict], path: str) -> None:
    text = json.dumps(sorted(records, key=lambda r: (r["split"], r["index"])))
    tmp = epath.Path(path + ".tmp")
    tmp.write_text(text)
    tmp.rename(path)  # the driver never reads half a file


# ------------------------------------------------------------------------ the pipeline

class WriteShard(beam.DoFn):
    """Writes one work item's shard with :func:`shards.write_shard`; yields its result record."""

    def __init__(self, features, file_format: str):
        super().__init__()
        self.features, self.file_format = features, file_format
        self.encoder = None

    def setup(self):
        self.encoder = ExampleEncoder(self.features)

    def process(self, item: WorkItem):
        try:
            result = shards.write_shard(item.path, item.shard_fn(), self.encoder,
                                      self.file_format, item.specs)
        except SourceDataError as error:
            yield result_record(item, error=error)
            return
        beam.metrics.Metrics.counter("eo_tfds", f"examples_{item.split}").inc(result.count)
        yield result_record(item, result)


def write_splits(plan: Mapping[str, Sequence[shards.ShardFn]], *, templates: Mapping,
                 specs: Mapping[str, Mapping[str, shards.StatsSpec]], features, file_format,
                 data_dir, split_dict, dataset_size=None, beam_options=None, beam_runner=None
                 ) -> dict[str, list[shards.ShardResult]]:
    """Write every shard of ``plan`` with one Beam pipeline; ``{split: [ShardResult]}``.

    ``templates`` maps each split to its ``ShardedFileTemplate``; ``specs`` the splits
    that gather statistics to their ``StatsSpec`` s. The pipeline is TFDS's own
    (``SplitBuilder.maybe_beam_pipeline``: the runner and options of the
    ``DownloadConfig``, type checks off).
    """
    items = work_items(plan, templates, specs)
    results_path = os.fspath(epath.Path(data_dir) / RESULTS_NAME)
    tfds_split_builder = split_builder_lib.SplitBuilder(
        split_dict=split_dict, features=features, dataset_size=dataset_size,
        beam_options=beam_options, beam_runner=beam_runner,
        max_examples_per_split=None, example_writer=None)
    with tfds_split_builder.maybe_beam_pipeline():
        _ = (tfds_split_builder.beam_pipeline
             | "WorkItems" >> beam.Create(items)
             | "SpreadOverWorkers" >> beam.Reshuffle()
             | "WriteShard" >> beam.ParDo(WriteShard(features, file_adapters.FileFormat(file_format).value))
             | "Collect" >> beam.combiners.ToList()
             | "SaveResults" >> beam.Map(_save_results, results_path))
    try:
        return read_results(results_path, plan)
    finally:
        epath.Path(results_path).unlink(missing_ok=True)


__all__ = ["WorkItem", "WriteShard", "work_items", "write_splits", "read_results", "result_record", "RESULTS_NAME"]
