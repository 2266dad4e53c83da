"""s2_cloud_timeseries: built from the parser's sample files (7z archives and extracted
TFRecords), every example compared bit for bit with what the writer wrote; the pipeline's
shapes, masks, windows, crops and normalisation; a small Keras model fits on it."""

import datetime
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import s2_cloud_timeseries as s2_cloud
from parsers.errors import SourceDataError
from tfds_builders.s2_cloud_timeseries.pipeline import covering_crop_origin, s2_cloud_timeseries
from tfds_builders.s2_cloud_timeseries import S2CloudTimeseries
from tfds_builders.s2_cloud_timeseries.s2_cloud_timeseries_dataset_builder import group_files

os.environ.setdefault("EO_TFDS_PROGRESS", "0")

NAME = "s2_cloud_timeseries"
SPLITS = {"train": "train", "validation": "val"}


def build(manual, data_dir):
    return tfds.load(NAME, split="train", data_dir=data_dir, download_and_prepare_kwargs={
        "download_config": tfds.download.DownloadConfig(manual_dir=os.fspath(manual))})


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2")
    manual = s2_cloud.write_samples(root / "manual")
    before = listing(manual)
    data_dir = root / "data"
    build(manual, data_dir)
    return {"manual": manual, "data_dir": data_dir, "manual_before": before,
            "builder": tfds.builder(NAME, data_dir=data_dir)}


def expected(split):
    """What the writer wrote for a split, in file-name order."""
    records = s2_cloud.sample_records()
    prefix = SPLITS[split]
    return [r for name in sorted(records) if name.startswith(prefix + "_") for r in records[name]]


def built_examples(data_dir, split):
    return list(tfds.as_numpy(tfds.load(NAME, split=split, data_dir=data_dir)))


def identity(example):
    tile = example["tile"].decode() if isinstance(example["tile"], bytes) else example["tile"]
    return tile, int(example["localid"]), np.asarray(example["dates"]).tobytes()


# --------------------------------------------------------------------------- builder


@pytest.mark.parametrize("split", ["train", "validation"])
def test_every_example_is_what_the_writer_wrote(built, split):
    got = built_examples(built["data_dir"], split)
    want = {identity(e): e for e in expected(split)}
    assert len(want) == len(expected(split))  # identities are unique in the sample
    assert len(got) == len(want) == built["builder"].info.splits[split].num_examples
    seen = set()
    for example in got:
        key = identity(example)
        assert key in want and key not in seen
        seen.add(key)
        source = want[key]
        assert example["tile"] == source["tile"].encode()
        assert example["localid"].dtype == np.int64 and example["localid"] == source["localid"]
        for feature, dtype in (("image", np.uint16), ("labels", np.int64), ("dates", np.int64),
                               ("weights", np.float32)):
            assert example[feature].dtype == dtype, feature
            assert example[feature].shape == source[feature].shape, feature
            assert example[feature].tobytes() == np.asarray(source[feature], dtype).tobytes()
        assert example["image"].shape[1:] == (42, 42, 4)


def test_features_and_raw_storage(built):
    assert isinstance(built["builder"], S2CloudTimeseries)
    info = built["builder"].info
    features = info.features
    assert features["image"].shape == (None, 42, 42, 4)
    assert features["image"].np_dtype == np.uint16
    assert isinstance(features["labels"], tfds.features.Sequence)
    assert features["labels"].feature.names == list(s2_cloud.CLASS_NAMES)
    assert features["dates"].shape == (None,) and features["dates"].np_dtype == np.int64
    assert features["weights"].shape == (None,) and features["weights"].np_dtype == np.float32
    assert features["localid"].np_dtype == np.int64 and features["localid"].shape == ()
    # the image is one raw little-endian uint16 byte string: not widened, not compressed
    shard = info.splits["train"].filepaths[0]
    for raw in tf.data.TFRecordDataset(os.fspath(shard)).take(3):
        example = tf.train.Example.FromString(raw.numpy())
        image = example.features.feature["image"]
        assert image.WhichOneof("kind") == "bytes_list"
        assert len(image.bytes_list.value[0]) % (42 * 42 * 4 * 2) == 0
    assert info.supervised_keys == ("image", "labels")


def test_metadata_and_band_stats(built):
    meta = built["builder"].info.metadata
    assert meta["bands"] == ["B2", "B3", "B4", "B8"]
    assert meta["class_names"] == list(s2_cloud.CLASS_NAMES)
    assert meta["label_box"] == [18, 18, 24, 24]
    assert set(meta["dates_encodings"]) >= {"ordinal", "yyyymmdd"}
    pixels = np.concatenate([e["image"].reshape(-1, 4) for e in expected("train")]).astype(np.float64)
    stats = meta["band_stats"]
    assert stats["bands"] == meta["bands"]
    assert stats["count"] == [pixels.shape[0]] * 4
    np.testing.assert_allclose(stats["mean"], pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], pixels.std(0), rtol=1e-9)
    assert stats["min"] == pixels.min(0).tolist() and stats["max"] == pixels.max(0).tolist()


def test_archives_extracted_under_data_dir_not_next_to_user_files(built):
    assert listing(built["manual"]) == built["manual_before"]
    scratch = built["data_dir"] / "downloads" / "s2_cloud_timeseries_extracted"
    extracted = {p.name for p in scratch.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert extracted == {"train_T50TMK_4", "train_T49QGF_2", "val_T18SUJ_4", "val_T50TMK_3"}
    # tiny data: one shard per split
    assert [built["builder"].info.splits[s].num_shards for s in SPLITS] == [1, 1]
    # the build records the files the user gave (archives, extracted files), not the scratch copies
    recorded = built["builder"].info.metadata["source_files"]
    assert sorted(recorded) == sorted(p.relative_to(built["manual"]).as_posix()
                                      for p in built["manual"].rglob("*")
                                      if p.is_file() and not p.name.endswith(".md5"))
    assert any(name.endswith(".7z") for name in recorded)


def test_group_files_packs_consecutive_files(tmp_path):
    files = []
    for i, size in enumerate([40, 40, 30, 200, 10, 10]):
        f = tmp_path / f"train_T{i}_1"
        f.write_bytes(b"x" * size)
        files.append(f)
    groups = group_files(files, target_bytes=100)
    assert [[f.name for f in g] for g in groups] == [
        ["train_T0_1", "train_T1_1"], ["train_T2_1"], ["train_T3_1"], ["train_T4_1", "train_T5_1"]]


def broken_copy(built, tmp_path, edit):
    manual = tmp_path / "manual"
    shutil.copytree(built["manual"], manual)
    culprit = edit(manual)
    data_dir = tmp_path / "data"
    with pytest.raises(SourceDataError) as error:
        build(manual, data_dir)
    assert error.value.path == os.path.abspath(culprit)
    assert not tfds.builder(NAME, data_dir=data_dir).is_prepared()
    assert not list(data_dir.rglob("dataset_info.json"))
    assert not list(data_dir.rglob("*.tfrecord*"))
    return error.value


def test_record_count_differing_from_name_is_an_error(built, tmp_path):
    def rename(manual):
        return (manual / "train_T31TCJ_3.tfrecord").rename(manual / "train_T31TCJ_4.tfrecord")

    error = broken_copy(built, tmp_path, rename)
    assert "3 records" in error.problem and "4" in error.problem


def test_bad_crc_is_an_error_naming_file_and_record(built, tmp_path):
    def corrupt(manual):
        path = manual / "extracted" / "val_T50TMK_2"
        data = bytearray(path.read_bytes())
        first = int.from_bytes(data[:8], "little")
        data[8 + 4 + first + 4 + 8 + 4 + 100] ^= 0xFF  # inside record 1's payload
        path.write_bytes(bytes(data))
        return path

    error = broken_copy(built, tmp_path, corrupt)
    assert "record 1" in error.problem


def test_missing_split_is_an_error(built, tmp_path):
    def drop_val(manual):
        (manual / "s2cloud_val_01.7z").unlink()
        shutil.rmtree(manual / "extracted")
        return manual

    error = broken_copy(built, tmp_path, drop_val)
    assert "val_" in error.problem


# -------------------------------------------------------------------------- pipeline


def batches(ds):
    return [tuple(t.numpy() for t in b) for b in ds]


@pytest.fixture(scope="module")
def stored(built):
    return {s: built_examples(built["data_dir"], s) for s in SPLITS}


def test_sequence_pads_per_batch_with_mask(built, stored):
    ds = s2_cloud_timeseries("train", data_dir=built["data_dir"], batch_size=4,
                             normalize=False, shuffle=False)
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[0].shape[2:] == (42, 42, 4)
    rows = iter(stored["train"])
    for x, y, w in batches(ds):
        assert x.dtype == np.float32 and y.dtype == np.int32 and w.dtype == np.float32
        assert y.shape == w.shape == x.shape[:2]
        lengths = []
        for i in range(x.shape[0]):
            source = next(rows)
            t = len(source["labels"])
            lengths.append(t)
            np.testing.assert_array_equal(x[i, :t], source["image"].astype(np.float32))
            np.testing.assert_array_equal(y[i, :t], source["labels"])
            assert (w[i, :t] == 1).all() and (w[i, t:] == 0).all()
            assert (x[i, t:] == 0).all() and (y[i, t:] == 0).all()
        assert x.shape[1] == max(lengths)  # padded to the batch's longest
    assert next(rows, None) is None


def test_max_length_cuts_into_windows_never_drops(built, stored):
    ds = s2_cloud_timeseries("train", data_dir=built["data_dir"], batch_size=3, max_length=16,
                             normalize=False, shuffle=False)
    windows = []
    for x, y, w in batches(ds):
        assert x.shape[1] == 16 and y.shape == w.shape == (x.shape[0], 16)
        for i in range(x.shape[0]):
            t = int(w[i].sum())
            assert (w[i, :t] == 1).all() and (w[i, t:] == 0).all() and (x[i, t:] == 0).all()
            windows.append((x[i, :t], y[i, :t]))
    want = [(e["image"][s:s + 16], e["labels"][s:s + 16])
            for e in stored["train"] for s in range(0, len(e["labels"]), 16)]
    assert len(windows) == len(want) > len(stored["train"])
    for (x, y), (image, labels) in zip(windows, want):
        np.testing.assert_array_equal(x, image.astype(np.float32))
        np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("max_length", [None, 7])
def test_last_target_is_the_last_label_with_pre_padding(built, stored, max_length):
    ds = s2_cloud_timeseries("validation", data_dir=built["data_dir"], target="last",
                             max_length=max_length, batch_size=4, normalize=False)
    got = [(x[i], y[i], w[i]) for x, y, w in batches(ds) for i in range(len(y))]
    step = max_length or 1000
    want = [(e["image"][s:s + step], e["labels"][s:s + step])
            for e in stored["validation"] for s in range(0, len(e["labels"]), step)]
    assert len(got) == len(want)
    for (x, y, w), (image, labels) in zip(got, want):
        assert y.shape == () and y.dtype == np.int32 and w == 1
        assert y == labels[-1]
        t = len(labels)  # real steps are the last t, the padding comes first
        np.testing.assert_array_equal(x[x.shape[0] - t:], image.astype(np.float32))
        assert (x[:x.shape[0] - t] == 0).all()


def test_random_crop_keeps_the_labelled_centre(built, stored):
    kwargs = dict(data_dir=built["data_dir"], batch_size=16, crop_size=9, mode="random",
                  normalize=False, shuffle=False, seed=5)
    (x, y, w), = batches(s2_cloud_timeseries("train", **kwargs))
    (x2, _, _), = batches(s2_cloud_timeseries("train", **kwargs))
    np.testing.assert_array_equal(x, x2)  # reproducible with a seed
    assert x.shape[2:] == (9, 9, 4)
    origins = set()
    for i, source in enumerate(stored["train"]):
        t = len(source["labels"])
        found = [(r, c) for r in range(0, 34) for c in range(0, 34)
                 if np.array_equal(x[i, :t], source["image"][:, r:r + 9, c:c + 9])]
        assert found, i
        r, c = found[0]
        assert r <= 18 and r + 9 >= 24 and c <= 18 and c + 9 >= 24
        origins.add(found[0])
    assert len(origins) > 1  # really random
    (xc, _, _), = batches(s2_cloud_timeseries("validation", data_dir=built["data_dir"],
                                              batch_size=16, crop_size=10, normalize=False,
                                              shuffle=False))
    source = stored["validation"][0]
    np.testing.assert_array_equal(xc[0, :len(source["labels"])], source["image"][:, 16:26, 16:26])


def test_crop_mode_is_a_deprecated_alias_of_mode(built, stored):
    kwargs = dict(data_dir=built["data_dir"], batch_size=16, crop_size=9, normalize=False,
                  shuffle=False, seed=5)
    with pytest.warns(DeprecationWarning, match="pass mode"):
        ds = s2_cloud_timeseries("train", crop_mode="center", **kwargs)
    (x, _, _), = batches(ds)
    for i, source in enumerate(stored["train"]):  # centred, not train's default random
        np.testing.assert_array_equal(x[i, :len(source["labels"])],
                                      source["image"][:, 17:26, 17:26])
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="mode"):
        s2_cloud_timeseries("train", crop_mode="sideways", **kwargs)


def test_covering_crop_origin_bounds():
    box = (18, 18, 24, 24)
    for seed in range(30):
        r, c = (int(v) for v in covering_crop_origin(box, 6, (42, 42), tf.constant([seed, 1])))
        assert (r, c) == (18, 18)
        r, c = (int(v) for v in covering_crop_origin(box, 30, (42, 42), tf.constant([seed, 2])))
        assert 0 <= r <= 12 and 0 <= c <= 12 and r + 30 <= 42
    assert covering_crop_origin(box, 42, (42, 42)) == (0, 0)
    for bad in (5, 43):
        with pytest.raises(ValueError):
            covering_crop_origin(box, bad, (42, 42))


def test_normalisation_uses_band_stats(built, stored):
    stats = built["builder"].info.metadata["band_stats"]
    ds = s2_cloud_timeseries("validation", data_dir=built["data_dir"], batch_size=16)
    (x, _, w), = batches(ds)
    mean, std = np.array(stats["mean"], np.float32), np.array(stats["std"], np.float32)
    for i, source in enumerate(stored["validation"]):
        t = len(source["labels"])
        np.testing.assert_allclose(x[i, :t], (source["image"].astype(np.float32) - mean) / std,
                                   rtol=1e-5, atol=1e-5)
        assert (x[i, t:] == 0).all()


def test_pipeline_argument_errors(built):
    for kwargs in (dict(target="middle"), dict(max_length=0), dict(crop_size=5),
                   dict(crop_size=43), dict(padding="both")):
        with pytest.raises(ValueError):
            s2_cloud_timeseries("train", data_dir=built["data_dir"], **kwargs)
    with pytest.raises(ValueError):
        s2_cloud_timeseries("validation", data_dir=built["data_dir"], augment=True)


def test_keras_fits_on_the_pipeline(built):
    keras = tf.keras
    keras.utils.set_random_seed(0)

    def model(return_sequences):
        inputs = keras.Input((None, 42, 42, 4))
        # a per-timestamp CNN as a (1, k, k) Conv3D: Keras 3's TimeDistributed gets T wrong
        # when T is unknown inside tf.function (per-batch padding)
        h = keras.layers.Conv3D(4, (1, 6, 6), strides=(1, 6, 6), activation="relu")(inputs)
        h = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(2, 3)))(h)
        h = keras.layers.LSTM(8, return_sequences=return_sequences)(h)
        m = keras.Model(inputs, keras.layers.Dense(6)(h))
        m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    # per-batch padding (T varies between batches), then fixed windows
    for target, sequences, max_length in (("sequence", True, None), ("last", False, 20)):
        ds = s2_cloud_timeseries("train", data_dir=built["data_dir"], target=target,
                                 batch_size=4, max_length=max_length, augment=True, seed=0)
        history = model(sequences).fit(ds, epochs=2, verbose=0)
        assert len(history.history["loss"]) == 2
        assert np.isfinite(history.history["loss"]).all()


# --------------------------------------------------------------------------- joined


def day_number(value):
    """A stored date as a day number, decoded with datetime alone."""
    value = int(value)
    if 19000000 <= value <= 21000000:
        return datetime.date(value // 10000, value // 100 % 100, value % 100).toordinal()
    return value


def joined_expected(split):
    """{(tile, localid): (image, labels, dates, weights, pieces)}: the writer's records of a
    split grouped by tile and localid, timestamps in date order, a repeated date once."""
    groups = {}
    for record in expected(split):
        group = groups.setdefault((record["tile"], int(record["localid"])), [{}, 0])
        group[1] += 1
        for t in range(len(record["dates"])):
            group[0].setdefault(day_number(record["dates"][t]),
                                tuple(record[k][t] for k in ("image", "labels", "dates", "weights")))
    return {key: tuple(np.stack([steps[d][i] for d in sorted(steps)]) for i in range(4)) + (n,)
            for key, (steps, n) in groups.items()}


@pytest.fixture(scope="module")
def joined(built, tmp_path_factory):
    """The joined config built from the same sample, in both file formats."""
    root = tmp_path_factory.mktemp("s2_joined")
    data = {}
    for fmt in ("tfrecord", "array_record"):
        builder = tfds.builder(f"{NAME}/joined", data_dir=root / fmt, file_format=fmt)
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=os.fspath(built["manual"])))
        data[fmt] = root / fmt
    return data


def joined_examples(builder, split):
    if builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
        return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
    source = builder.as_data_source(split=split)
    return [source[i] for i in range(len(source))]


@pytest.mark.parametrize("fmt", ["tfrecord", "array_record"])
@pytest.mark.parametrize("split", ["train", "validation"])
def test_joined_examples_are_the_whole_series(joined, split, fmt):
    builder = tfds.builder(f"{NAME}/joined", data_dir=joined[fmt])
    assert builder.builder_config.name == "joined" and "pieces" in builder.info.features
    assert builder.info.features["pieces"].np_dtype == np.int32
    assert pathlib.Path(builder.data_dir) == joined[fmt] / NAME / "joined" / str(builder.version)
    want = joined_expected(split)
    got = joined_examples(builder, split)
    assert len(got) == len(want) == builder.info.splits[split].num_examples
    seen = set()
    for example in got:
        tile = example["tile"].decode() if isinstance(example["tile"], bytes) else example["tile"]
        key = (tile, int(example["localid"]))
        assert key in want and key not in seen
        seen.add(key)
        image, labels, dates, weights, pieces = want[key]
        assert example["image"].dtype == np.uint16
        np.testing.assert_array_equal(example["image"], image)
        np.testing.assert_array_equal(example["labels"], labels)
        np.testing.assert_array_equal(example["dates"], dates)
        np.testing.assert_array_equal(example["weights"], weights)
        assert example["pieces"] == pieces
        days = [day_number(d) for d in example["dates"]]
        assert all(a < b for a, b in zip(days, days[1:]))
    # the sample really joins: fewer series than records, some longer than a record
    assert len(got) < len(expected(split))
    assert max(len(e["labels"]) for e in got) > (100 if split == "train" else 20)


def test_default_config_is_the_pieces(built):
    builder = built["builder"]
    assert builder.builder_config.name == "pieces" and "pieces" not in builder.info.features
    assert pathlib.Path(builder.data_dir) == built["data_dir"] / NAME / "pieces" / str(builder.version)
    assert builder.info.splits["validation"].num_examples == len(expected("validation"))


@pytest.mark.parametrize("fmt", ["tfrecord", "array_record"])
def test_pipeline_over_joined(joined, fmt):
    want = joined_expected("validation")
    builder = tfds.builder(f"{NAME}/joined", data_dir=joined[fmt])
    order = [(e["tile"].decode() if isinstance(e["tile"], bytes) else e["tile"], int(e["localid"]))
             for e in joined_examples(builder, "validation")]
    ds = s2_cloud_timeseries("validation", config="joined", data_dir=joined[fmt], batch_size=3,
                             normalize=False, shuffle=False)
    rows = [(x[i], y[i], w[i]) for x, y, w in batches(ds) for i in range(len(y))]
    assert len(rows) == len(order)
    for (x, y, w), key in zip(rows, order):
        image, labels = want[key][:2]
        t = len(labels)
        np.testing.assert_array_equal(x[:t], image.astype(np.float32))
        np.testing.assert_array_equal(y[:t], labels)
        assert (w[:t] == 1).all() and (w[t:] == 0).all() and (x[t:] == 0).all()
    # cut into windows of max_length: every timestamp once, nothing dropped
    ds = s2_cloud_timeseries("validation", config="joined", data_dir=joined[fmt], batch_size=4,
                             max_length=8, normalize=False, shuffle=False)
    windows = [(x[i], y[i], w[i]) for x, y, w in batches(ds) for i in range(len(y))]
    cut = [(want[k][0][s:s + 8], want[k][1][s:s + 8]) for k in order
           for s in range(0, len(want[k][1]), 8)]
    assert len(windows) == len(cut)
    for (x, y, w), (image, labels) in zip(windows, cut):
        t = int(w.sum())
        assert x.shape[0] == 8 and t == len(labels)
        np.testing.assert_array_equal(x[:t], image.astype(np.float32))
        np.testing.assert_array_equal(y[:t], labels)
