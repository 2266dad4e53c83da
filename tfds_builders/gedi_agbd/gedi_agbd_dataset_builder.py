"""``gedi_agbd``: GEDI biomass footprints with Sentinel-2, CopDEM and WorldCover windows (HDF5)."""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from parsers import gedi_agbd
from tfds_builders import core


def _raster(dtype, channels):
    return tfds.features.Tensor(shape=(gedi_agbd.PATCH, gedi_agbd.PATCH, channels), dtype=dtype,
                                encoding="bytes")


class GediAgbd(core.EoBuilder):
    """GEDI L4A footprints (AGBD, Mg/ha) with 32 x 32 windows of 10 m rasters around each.

    Features: ``sentinel2`` int16 (32, 32, 12) (SCL, B02..B12, reflectance x 1e4),
    ``worldcover`` uint8 (32, 32, 1) (ESA classes 10..100), ``copdem`` float32
    (32, 32, 2) (elevation m, slope degrees), ``agbd_raster`` float32 (32, 32, 1) (AGBD on
    the footprint, -9999 elsewhere), ``agbd`` / ``agbd_se`` float32, ``lat_lon`` float64
    (2,), ``transform`` float64 (9,), ``crs`` string, ``scl_stats`` float32 (12,) (SCL class
    fractions, names in ``info.metadata["scl_class_names"]``), product and tile names and
    ``acquisition_time`` strings, ``shot_number`` int64 (the key), ``delta_time`` float64
    (s since 2018-01-01). Splits: ``train`` (files not starting with ``test``, and those
    in a ``train/`` folder), ``test`` (``test*`` files, and those in a ``test/`` folder).

    ``transform`` is what the publisher's generator stores in ``Transforms``: the
    WorldCover tile's transform after reprojection (it overwrites the 32 x 32 window's),
    not the window's own.
    """

    name = "gedi_agbd"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: per-batch or fused HDF5 files, rasters channels-last and "
                 "bit-exact, float64 kept, keys = GEDI shot numbers (duplicates are an "
                 "error), per-band statistics of train.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Get the GEDI AGBD HDF5 files made by the publisher's dataset-generation code (GEDI L4A
footprints with Sentinel-2 L2A, CopDEM and ESA WorldCover windows; one group `data`):
either its per-batch files or the fused files (`create_dataset.py --fuse-hdf5-datasets`,
or `eo-tfds fuse-hdf5`). Put the `.h5` / `.hdf5` files in manual_dir, or in its
`train/` and `test/` folders:

  manual_dir/train_dataset.h5   manual_dir/test_dataset.h5      (fused), or
  manual_dir/train_batch_0.h5 ... manual_dir/test_batch_0.h5 ...  (per batch), or
  manual_dir/train/batch_1000_0.h5 ...  manual_dir/test/batch_1000_0.h5 ...

Files in `test/`, and files directly in manual_dir whose name starts with `test`, make
split `test`; all others split `train`, including the publisher's own names
(`batch_<size>_<i>.h5`, `fused_dataset.h5`: its scripts build the 2020 training set
only). Do not put a fused file next to the batch files it was made from: every GEDI shot
number may occur only once per split, and a duplicate stops the build.
"""

    def _info(self) -> tfds.core.DatasetInfo:
        scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)  # noqa: E731
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "sentinel2": _raster(np.int16, len(gedi_agbd.SENTINEL2_BANDS)),
                "worldcover": _raster(np.uint8, 1),
                "copdem": _raster(np.float32, 2),
                "agbd_raster": _raster(np.float32, 1),
                "agbd": scalar(np.float32),
                "agbd_se": scalar(np.float32),
                # float64 as raw bytes: TFDS would narrow them to float32 otherwise
                "lat_lon": tfds.features.Tensor(shape=(2,), dtype=np.float64, encoding="bytes"),
                "transform": tfds.features.Tensor(shape=(9,), dtype=np.float64, encoding="bytes"),
                "crs": tfds.features.Text(),
                "scl_stats": tfds.features.Tensor(shape=(len(gedi_agbd.SCL_CLASS_NAMES),),
                                                  dtype=np.float32),
                "s2_product": tfds.features.Text(),
                "worldcover_tile": tfds.features.Text(),
                "copdem_tile": tfds.features.Text(),
                "gedi_product": tfds.features.Text(),
                "acquisition_time": tfds.features.Text(),
                "shot_number": scalar(np.int64),
                "delta_time": tfds.features.Tensor(shape=(), dtype=np.float64, encoding="bytes"),
            }),
            supervised_keys=("sentinel2", "agbd"),
            homepage="https://daac.ornl.gov/GEDI/guides/GEDI_L4A_AGB_Density_V2_1.html",
            metadata=tfds.core.MetadataDict(
                bands=list(gedi_agbd.SENTINEL2_BANDS),
                scale=gedi_agbd.SCALE,
                scale_note="reflectance = value x scale for every sentinel2 band but SCL "
                           "(band 0: scene classification, values 0..11)",
                scl_class_names=list(gedi_agbd.SCL_CLASS_NAMES),
                worldcover_classes=list(gedi_agbd.WORLDCOVER_CLASSES),
                worldcover_class_names=list(gedi_agbd.WORLDCOVER_CLASS_NAMES),
                copdem_bands=list(gedi_agbd.COPDEM_BANDS),
                no_data=gedi_agbd.NO_DATA,
                transform_note=("'transform' is the publisher's 'Transforms' as stored: its "
                                "generator returns the WorldCover tile's reprojected "
                                "transform there, overwriting the 32 x 32 window's own; "
                                "it does not locate the window"),
                units={
                    "sentinel2": "reflectance x 1e4 (SCL: class index)",
                    "copdem": "elevation m, slope degrees (the publisher's code; its "
                              "README says percent)",
                    "agbd": "Mg/ha", "agbd_se": "Mg/ha", "agbd_raster": "Mg/ha, -9999 = no data",
                    "lat_lon": "degrees (latitude, longitude)",
                    "transform": "affine transform, CRS units: the WorldCover tile's "
                                 "reprojected transform, as the publisher's generator "
                                 "stores it in Transforms (it overwrites the window's)",
                    "scl_stats": "fraction of the window per SCL class",
                    "delta_time": "seconds since 2018-01-01T00:00:00 UTC",
                    "acquisition_time": "%Y-%m-%d-%H-%M-%S (coarse)",
                },
                band_stats_note="per sentinel2 band (all 12, SCL included) over the train "
                                "split's pixels whose SCL is not 0 (NO_DATA); std is the "
                                "population std; copdem_stats likewise for elevation and "
                                "slope (NaN/inf excluded)",
            ),
        )

    # ------------------------------------------------------------------ splits

    def _shard_iterators_per_split(self, dl_manager):
        root = core.manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        per_example = core.total_bytes_estimate(self.info.features, 1)
        plan = {}
        self._counts = {}
        for split, paths in gedi_agbd.split_files(os.fspath(root)).items():
            counts = [gedi_agbd.inspect_file(p) for p in paths]  # layout errors name file + dataset
            gedi_agbd.check_unique_shots(paths, counts)
            total = sum(counts)
            self._counts[split] = total
            shards = core.choose_num_shards(per_example * total, total)
            plan[split] = [core.shard_fn(_footprints, items)
                           for items in plan_shards(paths, counts, shards) if items]
            if not plan[split]:  # files without rows: one empty shard keeps the split
                plan[split] = [core.shard_fn(_footprints, ())]
        return plan

    def _source_files(self, root):
        return [p for paths in gedi_agbd.split_files(os.fspath(root)).values() for p in paths]

    def _example_source(self, root, split, key, feature):
        paths = gedi_agbd.split_files(os.fspath(root)).get(split, [])
        found = gedi_agbd.find_shot(paths, int(key))
        if found is None:
            return None
        path, row = found
        return f"{path}, dataset '{gedi_agbd.GROUP}/{gedi_agbd.DATASET_NAMES[feature]}', row {row}"

    # -------------------------------------------------------------- band stats

    def _stats_specs(self):
        return {"band_stats": core.StatsSpec(tuple(gedi_agbd.SENTINEL2_BANDS),
                                             _sentinel2_with_data),
                "copdem_stats": core.StatsSpec(tuple(gedi_agbd.COPDEM_BANDS), _copdem)}


def _sentinel2_with_data(example):
    s2 = example["sentinel2"]
    return s2, s2[..., 0] != gedi_agbd.SCL_NO_DATA


def _copdem(example):
    return example["copdem"], None


def plan_shards(paths, counts, num_shards) -> list[tuple[tuple[str, int, int], ...]]:
    """The split's examples (files in order) cut into ``num_shards`` near-equal shards,
    each a tuple of ``(path, start, stop)`` ranges of one or more files."""
    total = sum(counts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).tolist()
    shards = []
    for a, b in core.split_range(total, num_shards):
        items = []
        for path, lo, hi in zip(paths, offsets[:-1], offsets[1:]):
            start, stop = max(a, lo), min(b, hi)
            if start < stop:
                items.append((os.fspath(path), start - lo, stop - lo))
        shards.append(tuple(items))
    return shards


def _footprints(items):
    """The ``(key, example)`` pairs of one shard: ``(path, start, stop)`` ranges in order."""
    for path, start, stop in items:
        yield from gedi_agbd.iter_work_item(gedi_agbd.WorkItem(path, start, stop))
