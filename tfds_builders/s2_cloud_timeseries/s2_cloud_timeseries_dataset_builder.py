"""``s2_cloud_timeseries``: Sentinel-2 cloud time series from the publisher's TFRecords."""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib

import numpy as np
import tensorflow_datasets as tfds

from parsers import s2_cloud_timeseries as src
from parsers.errors import SourceDataError
from tfds_builders import core, locking

log = logging.getLogger(__name__)

#: the labelled centre 6 x 6 of the 42 x 42 patch: (row0, col0, row1, col1), half-open
LABEL_BOX = (src.CENTRE.start, src.CENTRE.start, src.CENTRE.stop, src.CENTRE.stop)
#: scratch folder for archive extraction, under the data dir root
SCRATCH = ("downloads", "s2_cloud_timeseries_extracted")


@dataclasses.dataclass
class S2CloudTimeseriesConfig(tfds.core.BuilderConfig):
    """Which examples: the records as published, or whole series joined from them."""

    joined: bool = False


class S2CloudTimeseries(core.EoBuilder):
    """Sentinel-2 spatial-temporal cloud detection: time series of 42 x 42 patches.

    Config ``pieces`` (the default): one example per publisher record; ``joined``: one
    example per (split, tile, localid), its pieces joined in date order, with ``pieces``
    int32 (how many were joined). Features: ``image`` uint16 ``(T, 42, 42, 4)`` channels-last
    (bands B2 B3 B4 B8, the stored digital numbers bit for bit), ``labels`` ``(T,)``
    ClassLabel of the centre 6 x 6 pixels (``info.metadata["label_box"]``) per timestamp,
    ``dates`` int64 ``(T,)`` raw (day numbers from 0001-01-01 or YYYYMMDD; decode with
    ``parsers.s2_cloud_timeseries.decode_dates``), ``weights`` float32 ``(T,)`` (reserved by the
    publisher), ``tile`` and ``localid``. Series longer than 100 timestamps were cut by
    the publisher into several records sharing tile and localid.
    """

    name = "s2_cloud_timeseries"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: train and validation from the publisher's TFRecords "
                 "(in .7z archives or extracted), images bit-exact, per-band statistics "
                 "of train.",
        "1.1.0": "Configs: `pieces` (the default, so `s2_cloud_timeseries` still means it: "
                 "the 1.0.0 examples, unchanged) and `joined` (one example per split, tile "
                 "and localid, its pieces joined in date order, with `pieces` int32). A "
                 "builder with configs keeps each in its own folder: the pieces now live in "
                 "<data_dir>/s2_cloud_timeseries/pieces/1.1.0/, not "
                 "<data_dir>/s2_cloud_timeseries/1.0.0/; build it again there (the old "
                 "folder can then be deleted).",
    }
    BUILDER_CONFIGS = [
        S2CloudTimeseriesConfig(name="pieces", joined=False,
                                description="One example per record, as published: series "
                                            "longer than 100 timestamps in several pieces."),
        S2CloudTimeseriesConfig(name="joined", joined=True,
                                description="One example per (split, tile, localid): the whole "
                                            "series, its pieces joined in date order."),
    ]
    DEFAULT_CONFIG_NAME = "pieces"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the dataset of "Spatial-Temporal Approach and Dataset for Enhancing Cloud
Detection in Sentinel-2 Imagery" (Gong et al., 2024) from Zenodo,
https://zenodo.org/records/10613705 : the `.7z` archives (and their `.md5` files, which
are then checked). Put them under manual_dir in any folder layout, still packed or
already extracted, or a mix:

  manual_dir/**/<anything>.7z (+ <anything>.7z.md5)       archives holding the files
  manual_dir/**/<train|val>_<TILE>_<N>[.<ext>]            extracted TFRecord files

N is the number of records of the file (checked). Archives are extracted once into
<data_dir>/downloads/s2_cloud_timeseries_extracted/ (never next to your files); that
folder can be deleted after the build. `train_*` files make the `train` split, `val_*`
files the `validation` split.
"""

    @property
    def _joined(self) -> bool:
        return self.builder_config.joined

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "tile": tfds.features.Text(),
            "localid": tfds.features.Scalar(dtype=np.int64),
            "image": tfds.features.Tensor(shape=(None, src.PATCH, src.PATCH, src.NUM_BANDS),
                                          dtype=np.uint16, encoding="bytes"),
            "labels": tfds.features.Sequence(tfds.features.ClassLabel(names=src.CLASS_NAMES)),
            "dates": tfds.features.Tensor(shape=(None,), dtype=np.int64),
            "weights": tfds.features.Tensor(shape=(None,), dtype=np.float32),
        }
        if self._joined:
            features[src.PIECES] = tfds.features.Scalar(dtype=np.int32)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "labels"),
            homepage="https://zenodo.org/records/10613705",
            metadata=tfds.core.MetadataDict(
                bands=list(src.BANDS),
                class_names=list(src.CLASS_NAMES),
                label_box=list(LABEL_BOX),
                valid_box=[0, 0, src.PATCH, src.PATCH],
                patch_size=src.PATCH,
                resolution_m=10,
                max_timestamps_per_record=src.MAX_TIMESTAMPS,
                scale=1e-4,
                units="Sentinel-2 digital numbers (reflectance x 1e4; products of processing "
                      "baseline 04.00 and later add an offset of 1000)",
                dates_encodings={
                    "ordinal": "day number from 0001-01-01 (Python date.toordinal; "
                               "2020-01-01 = 737425): any value outside 19000000..21000000",
                    "yyyymmdd": "values in 19000000..21000000 are YYYYMMDD",
                    "decoder": "parsers.s2_cloud_timeseries.decode_dates",
                },
                band_stats_note="over all pixels of all timestamps of the train split; "
                                "std is the population std",
            ),
        )

    # ------------------------------------------------------------------ splits

    def _scratch_root(self) -> pathlib.Path:
        return pathlib.Path(os.fspath(self.data_dir_root)).joinpath(*SCRATCH).absolute()

    def _build_lock(self):
        # both configs extract into the one scratch folder: one build at a time uses it,
        # so the leftovers it removes (parts of a killed extraction) are never a live one's
        return locking.exclusive(self._scratch_root().with_suffix(".lock"),
                                 f"{self.name} archive extraction")

    def _scratch_dir(self, manual: pathlib.Path) -> pathlib.Path:
        scratch = self._scratch_root()
        if manual.resolve() in scratch.resolve().parents:
            log.warning("the data dir %s lies inside manual_dir %s: archives are extracted "
                        "there", scratch, manual)
        return scratch

    def _shard_iterators_per_split(self, dl_manager):
        manual = pathlib.Path(os.fspath(core.manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)))
        scratch = self._scratch_dir(manual)
        progress = os.environ.get("EO_TFDS_PROGRESS", "1") != "0"
        plan = {}
        self._counts = {}
        for split, prefix in (("train", "train"), ("validation", "val")):
            files = src.split_files(manual, split, scratch, progress=progress)
            if not files:
                raise SourceDataError(
                    manual, f"no {prefix}_<TILE>_<N> file found (extracted or in a .7z archive) "
                    f"for the {split} split", "put the publisher's archives or extracted files "
                    "there (see the manual download instructions)")
            if self._joined:  # a first pass over the split: where each series' pieces are
                series = src.index_series(files)
                self._counts[split] = len(series)
                plan[split] = [core.shard_fn(_read_series, tuple(group))
                               for group in group_series(series)]
                continue
            self._counts[split] = sum(src.parse_source_name(f.name).num_records for f in files)
            plan[split] = [core.shard_fn(_read_files, tuple(str(f) for f in group))
                           for group in group_files(files)]
        return plan

    def _source_files(self, root):
        # the archives and extracted files the user gave, never the scratch extraction
        return sorted({source.path for source in src.find_sources(root)})

    def _example_source(self, root, split, key, feature):
        name, index = key.rsplit("/", 1)
        if self._joined:  # "<TILE>/<localid>": the pieces lie in the files of the tile
            where = [f"{s.path}" + (f", member {s.member}" if s.member else "")
                     for s in src.find_sources(root) if s.split == split and s.name.tile == name]
            return f"the pieces of localid {index} in {'; '.join(where)}" if where else None
        for source in src.find_sources(root):
            if source.name.name == name:
                member = f", member {source.member}" if source.member else ""
                return f"{source.path}{member}, record {index}"
        return None

    def _stats_specs(self):
        return {"band_stats": core.StatsSpec(tuple(src.BANDS), _all_pixels)}


def _all_pixels(example):
    return example["image"], None  # every pixel of every timestamp is valid


def _group(items, size_of, target_bytes: int) -> list[list]:
    """Consecutive items grouped into shards of about ``target_bytes``; an item larger
    than that is a shard of its own."""
    groups: list[list] = []
    size = 0
    for item in items:
        n = size_of(item)
        if groups and size + n <= target_bytes:
            groups[-1].append(item)
            size += n
        else:
            groups.append([item])
            size = n
    return groups


def group_files(files, target_bytes: int = core.TARGET_SHARD_BYTES) -> list[list[pathlib.Path]]:
    """Consecutive files (in the given, sorted order) grouped into shards of about
    ``target_bytes``; a file larger than that is a shard of its own."""
    return _group(files, os.path.getsize, target_bytes)


def group_series(series, target_bytes: int = core.TARGET_SHARD_BYTES) -> list[list]:
    """Consecutive series (``src.Series``, in index order) grouped into shards of about
    ``target_bytes`` of image data."""
    return _group(series, lambda s: s.length * src.TIMESTAMP_BYTES, target_bytes)


def _read_files(paths: tuple[str, ...]):
    """The ``(key, example)`` pairs of several TFRecord files, one after the other."""
    for path in paths:
        yield from src.iter_file(path)


def _read_series(series: tuple):
    """The ``(key, joined example)`` pairs of several series (``src.Series``)."""
    for one in series:
        yield one.key, src.read_series(one)
