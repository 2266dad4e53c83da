"""cpazmal: the four scenarios built from the parser's sample file, every example compared
bit for bit with what the parser reads from the file; a dataclasses.replace variant; the
metadata; the pipeline's shapes, padding and group filter; the group split; Keras fits."""

import dataclasses
import os
import shutil

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import cpazmal as src
from parsers.errors import SourceDataError
from tfds_builders.cpazmal import CONFIGS, SCENARIO1, Cpazmal, CpazmalConfig
from tfds_builders.cpazmal.pipeline import cpazmal, cpazmal_group_split

os.environ.setdefault("EO_TFDS_PROGRESS", "0")


def prepare(config, manual, data_dir):
    builder = tfds.builder("cpazmal", config=config, data_dir=os.fspath(data_dir)) \
        if not isinstance(config, str) else tfds.builder(f"cpazmal/{config}", data_dir=os.fspath(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)))
    return builder


# scenario4_geometry reads the later release's 2021 dates; the others the first release
LATER_ONLY = "scenario4_geometry"
FIRST = [name for name in CONFIGS if name != LATER_ONLY]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpazmal")
    path = src.write_samples(root / "manual")
    later = src.write_samples(root / "later", later_release=True, filename="PAZ_CRYO_ML.hdf5")
    data_dir = root / "data"
    for name in FIRST:
        prepare(name, path.parent, data_dir)
    prepare(LATER_ONLY, later.parent, data_dir)
    return {"root": root, "path": path, "manual": path.parent, "data_dir": data_dir,
            "later": later}


def parser_examples(path, split, **params):
    out = {}
    for group in src.list_work_units(path, split, **params):
        for _, ex in src.iter_group_examples(path, group, split, **params):
            key = (ex["group"], tuple(int(v) for v in ex["position"]))
            assert key not in out
            out[key] = ex
    return out


def same_array(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()  # bit for bit: NaN and -999 included


def compare(builder, split, want):
    names = builder.info.features["label"].names
    got = list(tfds.as_numpy(builder.as_dataset(split=split)))
    assert len(got) == len(want) > 0
    for ex in got:
        group = ex["group"].decode()
        key = (group, tuple(int(v) for v in ex["position"]))
        ref = want.pop(key)
        assert set(ex) == set(ref)
        for name, value in ref.items():
            if name == "label":
                assert names[ex[name]] == value
            elif name in ("group", "satellite", "date"):
                assert ex[name].decode() == value
            elif name.startswith(("timestamps", "satellites")):
                assert [bytes(v) for v in ex[name]] == [bytes(v) for v in value]
            else:
                same_array(ex[name], value)
    assert not want


@pytest.mark.parametrize("scenario", list(CONFIGS))
def test_every_example_matches_the_file(built, scenario):
    builder = tfds.builder(f"cpazmal/{scenario}", data_dir=os.fspath(built["data_dir"]))
    assert list(builder.info.splits) == list(src.SCENARIO_SPLITS[scenario])
    path = built["later"] if scenario == LATER_ONLY else built["path"]
    for split in src.SCENARIO_SPLITS[scenario]:
        compare(builder, split, parser_examples(path, split, scenario=scenario))


def test_features_as_spec(built):
    f1 = tfds.builder("cpazmal/scenario1", data_dir=os.fspath(built["data_dir"])).info.features
    assert f1["image"].shape == (32, 32, None, 2) and f1["image"].np_dtype == np.float32
    assert f1["mask"].shape == (32, 32, None) and f1["mask"].np_dtype == np.int8
    assert f1["position"].shape == (2,) and f1["position"].np_dtype == np.int32
    assert f1["timestamps"].shape == (None,) and f1["satellites"].shape == (None,)
    assert f1["label"].names == src.LEARNING_CLASSES
    f2 = tfds.builder("cpazmal/scenario2", data_dir=os.fspath(built["data_dir"])).info.features
    assert set(f2) == {"image_train", "image_predict", "mask_train", "mask_predict",
                       "timestamps_train", "timestamps_predict", "label", "group", "position"}
    f3 = tfds.builder("cpazmal/scenario3", data_dir=os.fspath(built["data_dir"])).info.features
    assert f3["source"].shape == (32, 32) and f3["mask_target"].np_dtype == np.int8
    f4 = tfds.builder("cpazmal/scenario4", data_dir=os.fspath(built["data_dir"])).info.features
    assert f4["image"].shape == (32, 32, 2) and set(f4) == {
        "image", "mask", "label", "group", "position", "satellite", "date"}


def test_config_fields_and_defaults():
    assert isinstance(SCENARIO1, tfds.core.BuilderConfig)
    # declared in the class body (not generated): the publisher's names, the parser's defaults
    own = [f for f in dataclasses.fields(CpazmalConfig) if f.name in CpazmalConfig.__annotations__]
    assert tuple(f.name for f in own) == src.PARAM_NAMES
    assert [f.default for f in own] == [f.default for f in dataclasses.fields(src.ScenarioParams)]
    plain = CpazmalConfig(name="plain")
    assert type(plain.params) is src.ScenarioParams and plain.params == src.ScenarioParams()
    for name, config in CONFIGS.items():
        assert config.name == name
        assert config.params == src.ScenarioParams.for_scenario(name)
        assert src.params_from(config) == src.ScenarioParams.for_scenario(name).as_kwargs()
    assert [c.name for c in Cpazmal.BUILDER_CONFIGS] == list(CONFIGS)
    # a parameter given by name changes that one and keeps the others
    variant = dataclasses.replace(CONFIGS["scenario2"], name="s2_w16", window_size=16)
    assert variant.params == dataclasses.replace(CONFIGS["scenario2"].params, window_size=16)
    assert variant.window_size == 16 and variant.name == "s2_w16"
    assert CONFIGS["scenario2"].window_size == 32


def test_replace_variant_builds(built):
    variant = dataclasses.replace(SCENARIO1, name="s1_w16", window_size=16)
    builder = prepare(variant, built["manual"], built["data_dir"])
    assert builder.info.features["image"].shape == (16, 16, None, 2)
    assert builder.info.metadata["params"]["window_size"] == 16
    want = parser_examples(built["path"], "train", **src.params_from(variant))
    assert len(want) > 15  # more, smaller windows than the 32 px default
    compare(builder, "train", want)


def test_metadata(built):
    for name in FIRST:
        meta = tfds.builder(f"cpazmal/{name}", data_dir=os.fspath(built["data_dir"])).info.metadata
        params = dict(src.SCENARIO_DEFAULTS[name])
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        assert meta["params"] == params
        assert meta["class_names"] == src.LEARNING_CLASSES
        assert meta["nodata_value"] == -999.0
        assert meta["scale_type"] == params["scale_type"]
        assert meta["groups"] == ["ABL001", "ACC002", "FOR001", "ICA001", "PLA003"]
    # band statistics of scenario1 train, over finite, non-no-data values
    meta = tfds.builder("cpazmal/scenario1", data_dir=os.fspath(built["data_dir"])).info.metadata
    images = np.concatenate([e["image"].reshape(-1, 2) for e in
                             parser_examples(built["path"], "train", scenario="scenario1").values()])
    for b in range(2):
        v = images[:, b].astype(np.float64)
        v = v[np.isfinite(v) & (v != -999)]
        assert meta["band_stats"]["count"][b] == v.size
        np.testing.assert_allclose(meta["band_stats"]["mean"][b], v.mean(), rtol=1e-9)
        np.testing.assert_allclose(meta["band_stats"]["std"][b], v.std(), rtol=1e-6)


def test_scenario4_geometry(built, tmp_path):
    builder = tfds.builder(f"cpazmal/{LATER_ONLY}", data_dir=os.fspath(built["data_dir"]))
    assert builder.info.version == "1.1.0"
    f = builder.info.features
    assert f["image"].shape == (32, 32, 1) and f["image"].np_dtype == np.float32
    assert set(f) == {"image", "mask", "label", "group", "position", "satellite", "date"}
    meta = builder.info.metadata
    assert meta["source_file"] == "PAZ_CRYO_ML.hdf5" and "LAC001" in meta["groups"]
    assert {k: meta["params"][k] for k in ("source_orbit", "target_orbit", "source_date",
                                           "target_date", "source_polarization",
                                           "target_polarization", "scale_type")} == {
        "source_orbit": "DSC", "target_orbit": "ASC", "source_date": "20210127",
        "target_date": "20210214", "source_polarization": "HH", "target_polarization": "HH",
        "scale_type": "intensity"}
    for split, date in (("source", "20210127"), ("target", "20210214")):
        dates = {e["date"].decode() for e in tfds.as_numpy(builder.as_dataset(split=split))}
        assert dates == {date}
        image, label = next(iter(cpazmal(split, config=LATER_ONLY, data_dir=built["data_dir"],
                                         batch_size=4)))
        assert image.shape == (4, 32, 32, 1) and label.dtype == tf.int32
    # the first release has no 2021 date: an error naming what was asked, nothing built
    with pytest.raises(SourceDataError) as err:
        prepare(LATER_ONLY, built["manual"], tmp_path / "data")
    assert "20210127" in str(err.value) and "PAZTSX_CRYO_ML.hdf5" in str(err.value)
    assert not tfds.builder(f"cpazmal/{LATER_ONLY}", data_dir=os.fspath(tmp_path / "data")).is_prepared()
    # and the old scenario 4 on the later release: no TerraSAR-X date, no empty target
    with pytest.raises(SourceDataError, match="TerraSAR-X.*20080805"):
        prepare("scenario4", built["later"].parent, tmp_path / "data")
    assert not tfds.builder("cpazmal/scenario4", data_dir=os.fspath(tmp_path / "data")).is_prepared()


def test_missing_file_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "manual").mkdir()
    (tmp_path / "manual" / "other.txt").write_text("x")
    with pytest.raises(SourceDataError, match="PAZTSX_CRYO_ML.hdf5"):
        prepare("scenario3", tmp_path / "manual", tmp_path / "data")
    assert not tfds.builder("cpazmal/scenario3", data_dir=os.fspath(tmp_path / "data")).is_prepared()


def test_unknown_class_is_an_error_naming_it(built, tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    path = shutil.copy(built["path"], manual / built["path"].name)
    with h5py.File(path, "r+") as f:
        f["data/FOR001"].attrs["class"] = "XYZ"
    with pytest.raises(SourceDataError, match="XYZ"):
        prepare("scenario3", manual, tmp_path / "data")
    assert not tfds.builder("cpazmal/scenario3", data_dir=os.fspath(tmp_path / "data")).is_prepared()


def clean(a):
    a = np.where(np.isfinite(a) & (a != -999), a, 0)
    return a.astype(np.float32)


def test_pipeline_scenario1_padding(built):
    want = list(parser_examples(built["path"], "train", scenario="scenario1").values())
    ds = cpazmal("train", config="scenario1", data_dir=built["data_dir"], batch_size=32,
                 shuffle=False, normalize=False)
    batches = list(ds)
    assert len(batches) == 1
    x, y = batches[0]
    image, time_mask = x["image"].numpy(), x["time_mask"].numpy()
    lengths = [e["image"].shape[2] for e in want]
    assert len(set(lengths)) > 1  # the sample has series of different lengths
    assert image.shape == (len(want), 32, 32, max(lengths), 2) and image.dtype == np.float32
    assert time_mask.shape == (len(want), max(lengths)) and y.dtype == tf.int32
    by_key = {(e["group"], tuple(e["position"])): e for e in want}
    assert len(by_key) == len(want)
    for i, e in enumerate(want):  # one shard, no shuffle: the file's order
        t = lengths[i]
        np.testing.assert_array_equal(time_mask[i], [1.0] * t + [0.0] * (max(lengths) - t))
        np.testing.assert_array_equal(image[i, :, :, :t], clean(e["image"]))
        assert not image[i, :, :, t:].any()
        assert int(y[i]) == src.LEARNING_CLASSES.index(e["label"])
    # normalised: finite everywhere, padded steps still 0
    xn, _ = next(iter(cpazmal("train", config="scenario1", data_dir=built["data_dir"],
                              batch_size=32, shuffle=False)))
    assert np.isfinite(xn["image"].numpy()).all()
    assert not np.moveaxis(xn["image"].numpy(), 3, 1)[time_mask == 0].any()


def test_pipeline_scenario2_to_4_shapes(built):
    want = list(parser_examples(built["path"], "train", scenario="scenario2").values())
    x, y = next(iter(cpazmal(config="scenario2", data_dir=built["data_dir"], batch_size=32,
                             shuffle=False, normalize=False)))
    t1 = [e["image_train"].shape[2] for e in want]
    t2 = [e["image_predict"].shape[2] for e in want]
    assert x["image"].shape == (len(want), 32, 32, max(t1)) and y.shape == (len(want), 32, 32, max(t2))
    np.testing.assert_array_equal(x["time_mask"].numpy().sum(1), t1)
    np.testing.assert_array_equal(x["predict_mask"].numpy().sum(1), t2)
    for i, e in enumerate(want):
        np.testing.assert_array_equal(y.numpy()[i, :, :, :t2[i]], clean(e["image_predict"]))
        assert not y.numpy()[i, :, :, t2[i]:].any()
    s, t = next(iter(cpazmal(config="scenario3", data_dir=built["data_dir"], batch_size=4)))
    assert s.shape == (4, 32, 32, 1) and t.shape == (4, 32, 32, 1) and s.dtype == tf.float32
    for split in ("source", "target"):
        image, label = next(iter(cpazmal(split, config="scenario4", data_dir=built["data_dir"], batch_size=4)))
        assert image.shape == (4, 32, 32, 2) and label.dtype == tf.int32
    with pytest.raises(ValueError, match="source"):
        cpazmal("train", config="scenario4", data_dir=built["data_dir"])


def test_group_split_and_filter(built):
    train, test = cpazmal_group_split(built["data_dir"], "scenario1", test_fraction=0.4, seed=3)
    assert (train, test) == cpazmal_group_split(built["data_dir"], "scenario1", test_fraction=0.4, seed=3)
    assert not set(train) & set(test) and len(test) == 2
    assert sorted(train + test) == ["ABL001", "ACC002", "FOR001", "ICA001", "PLA003"]
    want = parser_examples(built["path"], "train", scenario="scenario1")
    for groups in (train, test):
        labels = np.concatenate([y.numpy() for _, y in cpazmal(
            config="scenario1", data_dir=built["data_dir"], groups=groups, seed=0)])
        expected = sorted(src.LEARNING_CLASSES.index(e["label"]) for (g, _), e in want.items() if g in groups)
        assert sorted(labels.tolist()) == expected
    assert not list(cpazmal(config="scenario1", data_dir=built["data_dir"], groups=[]))


def test_keras_fits_every_scenario(built):
    keras.utils.set_random_seed(0)
    dd = built["data_dir"]
    # scenario1: masked mean over time of the per-step spatial means
    image = keras.Input((32, 32, None, 2), name="image")
    mask = keras.Input((None,), name="time_mask")
    per_step = keras.ops.mean(image, axis=(1, 2))  # (B, T, 2)
    pooled = keras.ops.sum(per_step * mask[..., None], axis=1) / keras.ops.maximum(
        keras.ops.sum(mask, axis=1, keepdims=True), 1.0)
    m1 = keras.Model({"image": image, "time_mask": mask},
                     keras.layers.Dense(len(src.LEARNING_CLASSES))(pooled))
    m1.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = m1.fit(cpazmal(config="scenario1", data_dir=dd, batch_size=4, seed=0).repeat(), steps_per_epoch=2,
               epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    # scenario2: the last-step mean image repeated over the predict steps
    image = keras.Input((32, 32, None), name="image")
    tmask = keras.Input((None,), name="time_mask")
    pmask = keras.Input((None,), name="predict_mask")
    mean = keras.ops.sum(image * tmask[:, None, None, :], axis=-1, keepdims=True) / keras.ops.maximum(
        keras.ops.sum(tmask, axis=1)[:, None, None, None], 1.0)
    out = keras.layers.Conv2D(1, 3, padding="same")(mean) * pmask[:, None, None, :]
    m2 = keras.Model({"image": image, "time_mask": tmask, "predict_mask": pmask}, out)
    m2.compile("adam", "mse")
    h = m2.fit(cpazmal(config="scenario2", data_dir=dd, batch_size=4, seed=0).repeat(), steps_per_epoch=2,
               epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    m3 = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    m3.compile("adam", "mse")
    h = m3.fit(cpazmal(config="scenario3", data_dir=dd, batch_size=4, seed=0).repeat(), steps_per_epoch=2,
               epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    m4 = keras.Sequential([keras.Input((32, 32, 2)), keras.layers.GlobalAveragePooling2D(),
                           keras.layers.Dense(len(src.LEARNING_CLASSES))])
    m4.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = m4.fit(cpazmal("source", config="scenario4", data_dir=dd, batch_size=4, seed=0).repeat(),
               steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
