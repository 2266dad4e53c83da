"""The ``gedi_agbd`` builder and pipeline, built from the parser's sample HDF5 files.

Every built example is compared bit for bit with the arrays the sample writer put in
the files (read back with plain h5py, converted here by hand); the metadata's
statistics are recomputed with numpy; the pipeline's inputs, targets, weights and
crops are checked against the stored examples; Keras fits a few steps on it as it is.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import h5py
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_builders.gedi_agbd  # noqa: F401  (registers gedi_agbd)
from parsers import gedi_agbd
from parsers.errors import SourceDataError
from tfds_builders.gedi_agbd import gedi_agbd_dataset_builder as builder_mod
from tfds_builders.gedi_agbd.pipeline import gedi_agbd as pipeline

from tests.test_gedi_parser import expected_example, load_raw

SPEC = {  # the contract (README.md, gedi_agbd): name -> (dtype, shape); "string" decodes to bytes
    "sentinel2": (np.int16, (32, 32, 12)),
    "worldcover": (np.uint8, (32, 32, 1)),
    "copdem": (np.float32, (32, 32, 2)),
    "agbd_raster": (np.float32, (32, 32, 1)),
    "agbd": (np.float32, ()),
    "agbd_se": (np.float32, ()),
    "lat_lon": (np.float64, (2,)),
    "transform": (np.float64, (9,)),
    "crs": ("string", ()),
    "scl_stats": (np.float32, (12,)),
    "s2_product": ("string", ()),
    "worldcover_tile": ("string", ()),
    "copdem_tile": ("string", ()),
    "gedi_product": ("string", ()),
    "acquisition_time": ("string", ()),
    "shot_number": (np.int64, ()),
    "delta_time": (np.float64, ()),
}
WORLDCOVER = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100]


def load(split, data_dir, manual_dir):
    return tfds.load("gedi_agbd", split=split, data_dir=os.fspath(data_dir),
                     download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig(
                         manual_dir=os.fspath(manual_dir))})


@pytest.fixture(scope="module")
def manual(tmp_path_factory) -> pathlib.Path:
    return gedi_agbd.write_samples(tmp_path_factory.mktemp("gedi") / "manual", seed=3)


@pytest.fixture(scope="module")
def data_dir(manual, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("gedi_data")
    load("train", out, manual)  # builds both splits
    return out


@pytest.fixture(scope="module")
def info(data_dir):
    return tfds.builder("gedi_agbd", data_dir=os.fspath(data_dir)).info


def raw_rows(manual, split) -> list[dict]:
    """The writer's rows of a split's files (name order) as the SPEC's examples, by hand."""
    rows = []
    for name in sorted(n for n in gedi_agbd.SAMPLE_FILES if n.startswith("test") == (split == "test")):
        raw = load_raw(manual / name)
        rows.extend(expected_example(raw, i) for i in range(len(raw["GEDI Shot Number"])))
    return rows


def stored(data_dir, split) -> list[dict]:
    ds = tfds.builder("gedi_agbd", data_dir=os.fspath(data_dir)).as_dataset(split)
    return list(tfds.as_numpy(ds))


# ------------------------------------------------------------------------ builder


@pytest.mark.parametrize("split", ["train", "test"])
def test_every_example_is_the_source_bit_for_bit(manual, data_dir, split):
    want = raw_rows(manual, split)
    ds = load(split, data_dir, manual)
    for name, (dtype, shape) in SPEC.items():
        spec = ds.element_spec[name]
        assert spec.shape == shape, name
        assert spec.dtype == (tf.string if dtype == "string" else tf.as_dtype(dtype)), name
    got = list(tfds.as_numpy(ds))
    assert len(got) == len(want) == sum(n for f, (n, _) in gedi_agbd.SAMPLE_FILES.items()
                                        if f.startswith("test") == (split == "test"))
    # one shard, no shuffling: the files' order; keys are the shot numbers
    assert [int(e["shot_number"]) for e in got] == [int(r["shot_number"]) for r in want]
    for example, row in zip(got, want):
        assert set(example) == set(SPEC)
        for name, (dtype, shape) in SPEC.items():
            value = example[name]
            if dtype == "string":
                assert isinstance(value, bytes) and value == row[name], name
                continue
            assert value.dtype == dtype and value.shape == shape, (name, value.dtype, value.shape)
            assert value.tobytes() == np.asarray(row[name], dtype).tobytes(), name


def test_splits_keys_and_metadata(manual, info):
    assert set(info.splits) == {"train", "test"}
    assert info.splits["train"].num_examples == 21 and info.splits["test"].num_examples == 7
    meta = info.metadata
    assert meta["bands"] == list(gedi_agbd.SENTINEL2_BANDS)
    assert meta["scl_class_names"] == list(gedi_agbd.SCL_CLASS_NAMES)
    assert meta["worldcover_classes"] == WORLDCOVER and len(meta["worldcover_class_names"]) == 11
    assert meta["copdem_bands"] == ["elevation", "slope"]
    assert meta["no_data"] == -9999 and meta["scale"] == 1e-4
    assert meta["units"]["agbd"] == "Mg/ha"
    assert "WorldCover tile's reprojected transform" in meta["transform_note"]
    assert "WorldCover tile" in meta["units"]["transform"]

    # band_stats: the train split's 12 sentinel2 bands over pixels whose SCL is not 0
    rows = raw_rows(manual, "train")
    valid = np.stack([r["sentinel2"][..., 0] for r in rows]) != 0
    values = np.stack([r["sentinel2"] for r in rows]).astype(np.float64)[valid]
    stats = meta["band_stats"]
    assert stats["bands"] == list(gedi_agbd.SENTINEL2_BANDS)
    assert stats["count"] == [int(valid.sum())] * 12
    np.testing.assert_allclose(stats["mean"], values.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], values.std(0), rtol=1e-9)
    assert stats["min"] == values.min(0).tolist() and stats["max"] == values.max(0).tolist()
    dem = np.stack([r["copdem"] for r in rows]).reshape(-1, 2).astype(np.float64)
    dstats = meta["copdem_stats"]
    assert dstats["bands"] == ["elevation", "slope"] and dstats["count"] == [len(dem)] * 2
    np.testing.assert_allclose(dstats["mean"], dem.mean(0), rtol=1e-9)
    np.testing.assert_allclose(dstats["std"], dem.std(0), rtol=1e-6)


def test_no_data_pixels_are_left_out_of_band_stats(manual, tmp_path):
    nodata = tmp_path / "manual"
    shutil.copytree(manual, nodata)
    with h5py.File(nodata / "train_batch_0.h5", "r+") as f:
        s2 = f["data/Sentinel-2 L2A"][0]
        s2[:, :4, :] = 0  # the first 4 rows of example 0: NO_DATA (SCL 0, bands 0)
        f["data/Sentinel-2 L2A"][0] = s2
    load("train", tmp_path / "data", nodata)
    stats = tfds.builder("gedi_agbd", data_dir=os.fspath(tmp_path / "data")).info.metadata["band_stats"]
    rows = raw_rows(nodata, "train")
    s2 = np.stack([r["sentinel2"] for r in rows]).astype(np.float64)
    valid = s2[..., 0] != 0
    assert valid.sum() == 21 * 32 * 32 - 4 * 32
    assert stats["count"] == [int(valid.sum())] * 12
    np.testing.assert_allclose(stats["mean"], s2[valid].mean(0), rtol=1e-12)
    assert stats["min"][0] > 0  # no SCL 0 counted


def test_shard_plan_covers_every_row_once(manual):
    paths = [manual / n for n in ("train_batch_0.h5", "train_batch_1.h5")]
    counts = [gedi_agbd.inspect_file(p) for p in paths]
    for shards in (1, 2, 3, 5, 21):
        plan = builder_mod.plan_shards(paths, counts, shards)
        assert len(plan) == shards
        sizes = [sum(b - a for _, a, b in items) for items in plan]
        assert sum(sizes) == 21 and max(sizes) - min(sizes) <= 1
        keys = [k for items in plan for k, _ in builder_mod._footprints(items)]
        assert keys == [k for k, _ in gedi_agbd.iter_examples(paths)]  # all, once, in order


def _copy(manual, tmp_path) -> pathlib.Path:
    out = tmp_path / "manual"
    shutil.copytree(manual, out)
    return out


def _assert_failed_cleanly(tmp_path, manual, match):
    data = tmp_path / "data"
    with pytest.raises(SourceDataError, match=match) as err:
        load("train", data, manual)
    # the build lock file (tfds_builders.locking) stays by design: it holds no data
    leftovers = [p for p in data.rglob("*") if p.is_file() and p.suffix != ".lock"] if data.exists() else []
    assert not leftovers, leftovers
    assert not tfds.builder("gedi_agbd", data_dir=os.fspath(data)).is_prepared()
    return err.value


def test_publishers_file_names_and_split_folders(manual, tmp_path):
    """The publisher's own layout: its fused_dataset.h5 (made by fuse-hdf5 from its
    batch_<size>_<i>.h5 files) goes to train, the files of test/ to test."""
    root = gedi_agbd.write_samples(tmp_path / "pub", seed=3, layout="publisher")
    batches = tmp_path / "batches"
    batches.mkdir()
    for name in ("batch_12_0.h5", "batch_12_1.h5"):  # the fused file replaces them
        (root / name).rename(batches / name)
    gedi_agbd.fuse_hdf5(batches, root / "fused_dataset.h5", progress=False)
    got = {split: [int(e["shot_number"]) for e in tfds.as_numpy(load(split, tmp_path / "d", root))]
           for split in ("train", "test")}
    with h5py.File(root / "fused_dataset.h5", "r") as f:
        assert got["train"] == f["data/GEDI Shot Number"][:, 0].tolist()
    with h5py.File(root / "test" / "batch_7_0.h5", "r") as f:
        assert got["test"] == f["data/GEDI Shot Number"][:, 0].tolist()
    assert got == {split: [int(r["shot_number"]) for r in raw_rows(manual, split)]
                   for split in ("train", "test")}


def test_duplicate_shot_number_across_files_fails_the_build(manual, tmp_path):
    bad = _copy(manual, tmp_path)
    with h5py.File(bad / "train_batch_0.h5", "r") as f:
        shot = int(f["data/GEDI Shot Number"][5, 0])
    with h5py.File(bad / "train_batch_1.h5", "r+") as f:
        f["data/GEDI Shot Number"][2] = shot
    err = _assert_failed_cleanly(tmp_path, bad, f"duplicate shot number {shot}")
    assert err.path == str(bad / "train_batch_1.h5")
    assert "record 2" in err.problem and "train_batch_0.h5 (record 5)" in err.problem


def test_batch_files_next_to_their_fused_file_fail(manual, tmp_path):
    bad = _copy(manual, tmp_path)
    shutil.copy(bad / "train_batch_1.h5", bad / "train_dataset.h5")
    err = _assert_failed_cleanly(tmp_path, bad, "duplicate shot number")
    assert err.path == str(bad / "train_dataset.h5")
    assert "8 more duplicate(s)" in err.problem  # all 9 rows of the copy


def test_missing_dataset_fails_naming_file_and_dataset(manual, tmp_path):
    bad = _copy(manual, tmp_path)
    with h5py.File(bad / "train_batch_1.h5", "r+") as f:
        del f["data/CopDEM"]
    err = _assert_failed_cleanly(tmp_path, bad, "'data/CopDEM' missing")
    assert err.path == str(bad / "train_batch_1.h5")


def test_unequal_n_fails_naming_file_and_dataset(manual, tmp_path):
    bad = _copy(manual, tmp_path)
    with h5py.File(bad / "test_batch_0.h5", "r+") as f:
        values = f["data/AGBD Values"][()]
        del f["data/AGBD Values"]
        f["data"].create_dataset("AGBD Values", data=values[:-1])
    err = _assert_failed_cleanly(tmp_path, bad, "'data/AGBD Values' has 6 rows")
    assert err.path == str(bad / "test_batch_0.h5") and "unequal N" in err.problem


# ----------------------------------------------------------------------- pipeline


def test_pipeline_stacks_the_stored_values(data_dir):
    examples = stored(data_dir, "train")
    ds = pipeline("train", data_dir=data_dir, batch_size=8, normalize=False, shuffle=False)
    assert ds.element_spec[0].shape.as_list() == [None, 32, 32, 24]
    assert ds.element_spec[1].shape.as_list() == [None]
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.dtype == np.float32 and y.dtype == np.float32 and len(x) == len(examples) == 21
    s2 = np.stack([e["sentinel2"] for e in examples])
    np.testing.assert_array_equal(x[..., :11], s2[..., 1:].astype(np.float32))  # SCL left out
    np.testing.assert_array_equal(x[..., 11:13], np.stack([e["copdem"] for e in examples]))
    wc = np.stack([e["worldcover"] for e in examples])
    np.testing.assert_array_equal(x[..., 13:], (wc == np.array(WORLDCOVER)).astype(np.float32))
    assert (x[..., 13:].sum(-1) == 1).all()
    np.testing.assert_array_equal(y, [e["agbd"] for e in examples])


def test_pipeline_normalisation(data_dir, info):
    e = stored(data_dir, "test")[0]
    s2 = e["sentinel2"][..., 1:].astype(np.float32)
    stats, dstats = info.metadata["band_stats"], info.metadata["copdem_stats"]
    (x,), = [x.numpy()[:1] for x, _ in pipeline("test", data_dir=data_dir, batch_size=1).take(1)]
    want = (s2 - np.float32(stats["mean"][1:])) / np.float32(stats["std"][1:])
    np.testing.assert_allclose(x[..., :11], want, rtol=1e-5, atol=1e-5)
    dem = (e["copdem"] - np.float32(dstats["mean"])) / np.float32(dstats["std"])
    np.testing.assert_allclose(x[..., 11:13], dem, rtol=1e-5, atol=1e-5)
    (x,), = [x.numpy()[:1] for x, _ in pipeline("test", data_dir=data_dir, batch_size=1,
                                                normalize="scale").take(1)]
    np.testing.assert_allclose(x[..., :11], s2 * np.float32(1e-4), rtol=1e-6)
    np.testing.assert_allclose(x[..., 11:13], dem, rtol=1e-5, atol=1e-5)


def test_pipeline_sources_order_and_subset(data_dir):
    e = stored(data_dir, "test")[0]
    ds = pipeline("test", data_dir=data_dir, batch_size=2, normalize=False,
                  sources=("copdem", "sentinel2"))
    x = next(iter(ds))[0].numpy()
    assert x.shape == (2, 32, 32, 13)
    np.testing.assert_array_equal(x[0, ..., :2], e["copdem"])
    np.testing.assert_array_equal(x[0, ..., 2:], e["sentinel2"][..., 1:])
    x = next(iter(pipeline("test", data_dir=data_dir, sources=("worldcover",))))[0]
    assert x.shape == (7, 32, 32, 11)


def test_pipeline_raster_target_random_crops_hold_the_footprint(data_dir):
    ds = pipeline("train", data_dir=data_dir, batch_size=5, target="raster", crop_size=8,
                  normalize=False, sources=("sentinel2",), seed=7)
    assert [s.shape.as_list() for s in ds.element_spec] == [[None, 8, 8, 11], [None, 8, 8, 1],
                                                            [None, 8, 8, 1]]
    examples = stored(data_dir, "train")
    origins = set()
    n = 0
    for x, y, w in ds:
        for xi, yi, wi in zip(x.numpy(), y.numpy(), w.numpy()):
            n += 1
            # find the example and crop origin the crop came from
            hits = [(e, r, c) for e in examples for r in range(25) for c in range(25)
                    if np.array_equal(e["sentinel2"][r:r + 8, c:c + 8, 1:], xi)]
            assert len(hits) == 1
            e, r, c = hits[0]
            origins.add((r, c))
            assert r <= 15 and r + 8 >= 17 and c <= 15 and c + 8 >= 17  # holds the centre
            raster = e["agbd_raster"][r:r + 8, c:c + 8]
            np.testing.assert_array_equal(wi, (raster != -9999).astype(np.float32))
            np.testing.assert_array_equal(yi, np.where(raster != -9999, raster, 0))
            assert wi.sum() >= 4 and (yi[wi > 0] == e["agbd"]).all()
    assert n == 21 and len(origins) > 3  # random, not all the same


def test_pipeline_center_crop_seed_and_errors(data_dir):
    e = stored(data_dir, "test")[0]
    x, y, w = next(iter(pipeline("test", data_dir=data_dir, target="raster", crop_size=6,
                                 normalize=False, sources=("sentinel2",))))
    np.testing.assert_array_equal(x[0], e["sentinel2"][13:19, 13:19, 1:])
    a = [b[0].numpy() for b in pipeline("train", data_dir=data_dir, crop_size=16, seed=3)]
    b = [b[0].numpy() for b in pipeline("train", data_dir=data_dir, crop_size=16, seed=3)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    for kwargs in ({"target": "height"}, {"sources": ("s1",)}, {"crop_size": 40},
                   {"crop_size": 1}, {"mode": "grid"}, {"normalize": "minmax"}):
        with pytest.raises(ValueError):
            pipeline("train", data_dir=data_dir, **kwargs)


def test_pipeline_crop_mode_is_a_deprecated_alias_of_mode(data_dir):
    kwargs = dict(data_dir=data_dir, target="raster", crop_size=6, normalize=False,
                  sources=("sentinel2",), seed=5)
    want = [b[0].numpy() for b in pipeline("train", mode="random", **kwargs)]
    with pytest.warns(DeprecationWarning, match="crop_mode"):
        got = [b[0].numpy() for b in pipeline("train", crop_mode="random", **kwargs)]
    assert len(got) == len(want) and all(np.array_equal(p, q) for p, q in zip(got, want))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError):
        pipeline("train", crop_mode="grid", **kwargs)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError):
        pipeline("train", mode="center", crop_mode="random", **kwargs)


def test_keras_fits_on_the_pipeline_as_it_is(data_dir):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 24)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    ds = pipeline("train", data_dir=data_dir, batch_size=4, seed=0).repeat()
    history = model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()

    dense = keras.Sequential([keras.Input((16, 16, 24)), keras.layers.Conv2D(1, 3, padding="same")])
    dense.compile("adam", "mse")
    ds = pipeline("train", data_dir=data_dir, batch_size=4, target="raster", crop_size=16, seed=0)
    history = dense.fit(ds.repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # the weights count: the loss is over footprint pixels only
    x, y, w = next(iter(ds))
    err = (dense.predict(x, verbose=0) - y.numpy()) ** 2
    want = float((err[..., 0] * w.numpy()[..., 0]).sum() / w.numpy().size)
    assert dense.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(want, rel=1e-4)
