"""CloudSEN12 end to end: memmap parser, builder, pipeline, Keras, bad input."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from parsers import cloudsen12_hq as src
from parsers.errors import SourceDataError
from tfds_builders import pipelines

P = src.PATCH


def raw_layer(folder, stem, dtype):
    """What the file holds, read independently of the parser."""
    data = np.fromfile(os.path.join(folder, f"{stem}.dat"), dtype=dtype)
    return data.reshape(-1, P, P)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("cs_src")
    src.write_samples(root, seed=3)
    return root


@pytest.fixture(scope="module")
def data_dir(samples, tmp_path_factory):
    data = tmp_path_factory.mktemp("cs_data")
    for config in ("l1c", "s1"):
        b = tfds.builder(f"cloudsen12_hq/{config}", data_dir=str(data))
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(samples)))
    return data


# ------------------------------------------------------------------------- parser

def test_writer_layout_and_padding(samples):
    train = sorted(p.name for p in (samples / "train").iterdir())
    val = sorted(p.name for p in (samples / "val").iterdir())
    assert "L1C_B4.dat" in train and "LABEL_manual_hq.dat" in train and "L1C_B8A.dat" in train
    assert "L1C_B04.dat" in val and "manual_hq.dat" in val and "L2A_B08A.dat" in val
    assert "L2A_B10.dat" not in train and "S1_angle.dat" in train
    lab = raw_layer(samples / "train", "LABEL_manual_hq", np.int8)
    assert lab.shape == (4, P, P)
    # one padded row on top, one column left, two rows bottom, two columns right
    assert (lab[:, 0, :] == -1).all() and (lab[:, :, 0] == -1).all()
    assert (lab[:, 510:, :] == -1).all() and (lab[:, :, 510:] == -1).all()
    assert (lab[:, 1:510, 1:510] >= -1).all() and set(np.unique(lab[:, 1:510, 1:510])) <= {-1, 0, 1, 2, 3}
    b4 = raw_layer(samples / "val", "L1C_B04", np.int16)
    assert (b4[:, 0, :] == 0).all() and (b4[:, 1:510, 1:510] > 0).all()  # the release padded with 0


@pytest.mark.parametrize("stem,canonical", [
    ("L1C_B4", "L1C_B4"), ("L1C_B04", "L1C_B4"), ("L2A_B08A", "L2A_B8A"), ("L1C_B10", "L1C_B10"),
    ("manual_hq", "LABEL_manual_hq"), ("LABEL_manual_hq", "LABEL_manual_hq"), ("S1_VV", "S1_VV"),
    ("fmask", "LABEL_fmask"), ("LABEL_QA60", "LABEL_QA60"), ("qa60", "LABEL_QA60"), ("QA60", "LABEL_QA60"),
    ("kappamask_L1C", "LABEL_kappamask_L1C"), ("label_kappamask_l2a", "LABEL_kappamask_L2A"),
    ("EXTRA_LC10", "EXTRA_LC10")])
def test_layer_spellings(stem, canonical):
    assert src.canonical_layer_name(stem) == canonical


@pytest.mark.parametrize("folder,config", [("train", "l1c"), ("val", "l2a"), ("test", "s1")])
def test_reader_matches_files(samples, folder, config):
    layers = src.CONFIGS[config]
    split = src.CloudSEN12Split(samples / folder, config)
    stems = {src.canonical_layer_name(p.stem): p.stem for p in (samples / folder).glob("*.dat")}
    raws = [raw_layer(samples / folder, stems[name], layers.dtype) for name in layers.layers]
    label = raw_layer(samples / folder, stems["LABEL_manual_hq"], np.int8)
    assert len(split) == raws[0].shape[0]
    for i, ex in enumerate(split):
        assert ex["id"] == f"{folder}/{i}"
        assert ex["image"].dtype == layers.dtype and ex["image"].shape == (P, P, len(layers.bands))
        for c, raw in enumerate(raws):
            assert ex["image"][..., c].tobytes() == raw[i].tobytes()
        expected = np.where((label[i] >= 0) & (label[i] <= 3), label[i], 255).astype(np.uint8)
        np.testing.assert_array_equal(ex["label"], expected)
    split.close()


def test_label_other_values_become_255(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for name in src.CONFIGS["s1"].layers:
        np.zeros((1, P, P), np.float32).tofile(folder / f"{name}.dat")
    lab = np.zeros((1, P, P), np.int8)
    lab[0, 5, 5:12] = [0, 1, 2, 3, 4, -1, 99]
    lab.tofile(folder / "manual_hq.dat")
    ex = src.CloudSEN12Split(folder, "s1").read(0)
    assert ex["label"][5, 5:12].tolist() == [0, 1, 2, 3, 255, 255, 255]


def test_bad_size_names_file(tmp_path, samples):
    folder = tmp_path / "train"
    shutil.copytree(samples / "train", folder)
    with open(folder / "L1C_B7.dat", "ab") as f:
        f.write(b"\0" * 100)
    with pytest.raises(SourceDataError, match=r"L1C_B7\.dat: size .* not a whole number"):
        src.CloudSEN12Split(folder, "l1c")


def test_layers_disagree_on_n(tmp_path, samples):
    folder = tmp_path / "train"
    shutil.copytree(samples / "train", folder)
    data = np.fromfile(folder / "L1C_B2.dat", np.int16)[: 3 * P * P]
    data.tofile(folder / "L1C_B2.dat")
    with pytest.raises(SourceDataError, match=r"L1C_B2\.dat: holds 3 images but .* holds 4"):
        src.CloudSEN12Split(folder, "l1c")


def test_missing_layer_for_config(tmp_path, samples):
    folder = tmp_path / "train"
    shutil.copytree(samples / "train", folder)
    os.remove(folder / "L1C_B10.dat")
    src.CloudSEN12Split(folder, "l2a")  # l2a does not need it
    with pytest.raises(SourceDataError, match=r"L1C_B10\.dat: layer L1C_B10 missing for config 'l1c'"):
        src.CloudSEN12Split(folder, "l1c")


# ------------------------------------------------------------------------ builder

@pytest.mark.parametrize("config", ["l1c", "s1"])
def test_built_examples_equal_sources(data_dir, samples, config):
    builder = tfds.builder(f"cloudsen12_hq/{config}", data_dir=str(data_dir))
    folders = {"train": "train", "validation": "val", "test": "test"}
    for split, folder in folders.items():
        ref = src.CloudSEN12Split(samples / folder, config)
        ds = tfds.load(f"cloudsen12_hq/{config}", split=split, data_dir=str(data_dir))
        seen = set()
        for ex in tfds.as_numpy(ds):
            ident = ex["id"].decode()
            index = int(ident.split("/")[1])
            assert ident.split("/")[0] == folder
            want = ref.read(index)
            assert ex["image"].dtype == want["image"].dtype
            assert ex["image"].tobytes() == want["image"].tobytes()
            assert ex["label"].dtype == np.uint8
            np.testing.assert_array_equal(ex["label"], want["label"])
            seen.add(index)
        assert seen == set(range(len(ref)))
        assert builder.info.splits[split].num_examples == len(ref)


def test_info_and_metadata(data_dir):
    builder = tfds.builder("cloudsen12_hq", data_dir=str(data_dir))  # default config
    assert builder.builder_config.name == "l1c"
    info = builder.info
    assert info.features["image"].shape == (P, P, 13) and info.features["image"].np_dtype == np.int16
    assert info.metadata["bands"] == src.L1C_BANDS
    assert info.metadata["valid_box"] == [1, 1, 510, 510]
    assert info.metadata["class_names"] == ["clear", "thick_cloud", "thin_cloud", "cloud_shadow"]
    assert info.metadata["scale"] == pytest.approx(1e-4)
    assert "memmap" in info.description and info.citation and builder.MANUAL_DOWNLOAD_INSTRUCTIONS
    assert builder.RELEASE_NOTES[str(builder.VERSION)]
    # images are raw bytes in the records, not int64 lists
    assert info.features["image"]._encoding == tfds.features.Encoding.BYTES  # pylint: disable=protected-access


def test_band_stats_over_valid_pixels(data_dir, samples):
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data_dir))
    stats = builder.info.metadata["band_stats"]
    ref = src.CloudSEN12Split(samples / "train", "l1c")
    valid = np.stack([ref.read(i)["image"][1:510, 1:510] for i in range(len(ref))]).astype(np.float64)
    valid = valid.reshape(-1, 13)
    assert stats["bands"] == src.L1C_BANDS
    assert stats["count"] == [valid.shape[0]] * 13
    np.testing.assert_allclose(stats["mean"], valid.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], valid.std(0), rtol=1e-9)
    np.testing.assert_array_equal(stats["min"], valid.min(0))
    np.testing.assert_array_equal(stats["max"], valid.max(0))
    # the 255 padding of train is outside the valid box: it would show up as min/max otherwise
    s1 = tfds.builder("cloudsen12_hq/s1", data_dir=str(data_dir)).info.metadata["band_stats"]
    assert max(s1["max"][:2]) < 100


def test_builder_errors_leave_nothing(tmp_path, samples):
    manual = tmp_path / "manual"
    shutil.copytree(samples, manual)
    os.remove(manual / "test" / "L1C_B1.dat")
    data = tmp_path / "data"
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data))
    with pytest.raises(SourceDataError, match="L1C_B1"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    assert not builder.is_prepared()
    # the build lock file (tfds_builders.locking) stays by design: it holds no data
    leftovers = [p for p in data.rglob("*") if p.is_file() and p.suffix not in (".json", ".lock")]
    assert leftovers == [] and not list(data.rglob("incomplete.*"))


def test_empty_manual_dir(tmp_path):
    (tmp_path / "manual").mkdir()
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(tmp_path / "data"))
    with pytest.raises(SourceDataError, match="manual_dir does not exist or is empty"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "manual")))


# ----------------------------------------------------------------------- pipeline

def _crop_origin(crop, image):
    """Where a crop of stored values lies in the full image (exhaustive search)."""
    size = crop.shape[0]
    candidates = np.argwhere(np.all(image[: P - size + 1, : P - size + 1] == crop[0, 0], axis=-1))
    return [(r, c) for r, c in candidates if np.array_equal(image[r:r + size, c:c + size], crop)]


def test_random_and_center_crops_stay_in_valid_box(data_dir, samples):
    ref = src.CloudSEN12Split(samples / "train", "l1c")
    full = [ref.read(i)["image"].astype(np.float32) for i in range(len(ref))]
    size = 200
    for mode in ("random", "center"):
        ds = pipelines.cloudsen12_hq("train", data_dir=str(data_dir), crop_size=size, mode=mode,
                                     batch_size=2, normalize=False, seed=7)
        n = 0
        for x, y, w in ds:
            assert x.shape[1:] == (size, size, 13) and x.dtype.name == "float32"
            for crop in x.numpy():
                origins = [(i, o) for i, img in enumerate(full) for o in _crop_origin(crop, img)]
                assert origins, "crop does not come from any source patch"
                for _, (r, c) in origins:
                    assert 1 <= r and r + size <= 510 and 1 <= c and c + size <= 510
                    if mode == "center":
                        assert (r, c) == (1 + (509 - size) // 2, 1 + (509 - size) // 2)
                n += 1
        assert n == len(ref)


def test_grid_counts_each_valid_pixel_once(data_dir, samples):
    ref = src.CloudSEN12Split(samples / "validation".replace("validation", "val"), "l1c")
    size = 160
    tiles = pipelines.grid_tiles((1, 1, 510, 510), size, (P, P))
    ds = pipelines.cloudsen12_hq("validation", data_dir=str(data_dir), crop_size=size, mode="grid",
                                 batch_size=5, normalize=False)
    xs, ys, ws = [], [], []
    for x, y, w in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
        ws.append(w.numpy())
    xs, ys, ws = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    assert len(xs) == len(ref) * len(tiles)
    for i in range(len(ref)):
        want = ref.read(i)
        coverage = np.zeros((P, P), np.float32)
        for t, (r, c, _) in enumerate(tiles):
            k = i * len(tiles) + t
            np.testing.assert_array_equal(xs[k], want["image"][r:r + size, c:c + size].astype(np.float32))
            coverage[r:r + size, c:c + size] += ws[k]
            lab = want["label"][r:r + size, c:c + size]
            assert (ws[k][lab == 255] == 0).all()
            np.testing.assert_array_equal(ys[k][lab != 255], lab[lab != 255])
        labelled = want["label"] != 255
        inside = np.zeros((P, P), bool)
        inside[1:510, 1:510] = True
        np.testing.assert_array_equal(coverage[inside & labelled], 1.0)
        assert (coverage[~inside] == 0).all() and (coverage[~labelled] == 0).all()


def test_normalisation_uses_band_stats(data_dir):
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data_dir))
    stats = builder.info.metadata["band_stats"]
    raw = next(iter(pipelines.cloudsen12_hq("test", data_dir=str(data_dir), mode="center",
                                            normalize=False, batch_size=2)))[0].numpy()
    norm = next(iter(pipelines.cloudsen12_hq("test", data_dir=str(data_dir), mode="center",
                                             batch_size=2)))[0].numpy()
    expected = (raw - np.float32(stats["mean"])) / np.float32(stats["std"])
    np.testing.assert_allclose(norm, expected, rtol=1e-5, atol=1e-5)


def test_seeded_pipeline_is_reproducible_and_augment_train_only(data_dir):
    def first(seed):
        ds = pipelines.cloudsen12_hq("train", data_dir=str(data_dir), crop_size=64, batch_size=4,
                                     augment=True, seed=seed)
        return next(iter(ds))[0].numpy()

    np.testing.assert_array_equal(first(11), first(11))
    assert not np.array_equal(first(11), first(12))
    with pytest.raises(ValueError, match="train split only"):
        pipelines.cloudsen12_hq("validation", data_dir=str(data_dir), augment=True)


def test_augmentation_moves_label_with_image():
    import tensorflow as tf

    image = tf.reshape(tf.range(4 * 4 * 2, dtype=tf.float32), (4, 4, 2))
    label = tf.cast(image[..., 0], tf.int32)
    weight = tf.cast(image[..., 1], tf.float32)
    outs = set()
    for s in range(40):
        x, y, w = pipelines.random_rot_flip([image, label, weight], tf.constant([s, 0], tf.int64))
        np.testing.assert_array_equal(x[..., 0].numpy().astype(np.int32), y.numpy())
        np.testing.assert_array_equal(x[..., 1].numpy(), w.numpy())
        outs.add(x.numpy().tobytes())
    assert len(outs) == 8  # all eight symmetries of the square occur


def test_keras_fits_on_the_pipeline(data_dir):
    import keras

    ds = pipelines.cloudsen12_hq("train", data_dir=str(data_dir), crop_size=64, batch_size=4,
                                 augment=True, seed=0)
    model = keras.Sequential([keras.Input((64, 64, 13)),
                              keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(4, 1)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds.repeat(), steps_per_epoch=3, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    val = pipelines.cloudsen12_hq("validation", data_dir=str(data_dir), crop_size=64, mode="grid", batch_size=8)
    assert np.isfinite(model.evaluate(val, verbose=0))


def test_crops_from_record_bytes_and_fallback(data_dir, samples):
    """The pipeline crops straight from the record bytes of eo-tfds shards, and knows a
    record written by another serializer (TFDS's own) is not laid out that way."""
    import tensorflow as tf

    from tfds_builders.pipelines import ops

    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data_dir))
    layout = ops.raw_layout(builder)
    assert layout is not None and list(layout)[:2] == ["image", "label"]
    record = next(iter(ops.read_records(builder, "test")))
    assert bool(ops.layout_matches(record, layout))
    want = tfds.as_numpy(ops.record_decoder(builder)(record))
    image = ops.crop_raw(record, layout["image"], 37, 101, 64).numpy()
    label = ops.crop_raw(record, layout["label"], 37, 101, 64).numpy()
    np.testing.assert_array_equal(image, want["image"][37:101, 101:165])
    np.testing.assert_array_equal(label, want["label"][37:101, 101:165])

    # the same example with one more map entry in front: a valid record, other offsets
    # (TFDS's own serializer orders map entries by hash, so it cannot be relied on here)
    other = _shifted(record.numpy())
    assert not bool(ops.layout_matches(tf.constant(other), layout))
    again = tfds.as_numpy(ops.record_decoder(builder)(tf.constant(other)))
    assert again["image"].tobytes() == want["image"].tobytes()


# ------------------------------------------------------- reading crops by offset

def _shifted(record: bytes) -> bytes:
    """The same example with one more map entry in front: valid, other offsets."""
    from tfds_builders import encoding

    pos = 1
    while record[pos] & 0x80:
        pos += 1
    entries = record[pos + 1:]
    bytes_list = encoding._len_prefixed(1, 1) + b"x"
    feature = encoding._len_prefixed(1, len(bytes_list)) + bytes_list
    body = encoding._len_prefixed(1, 5) + b"extra" + encoding._len_prefixed(2, len(feature)) + feature
    extra = encoding._len_prefixed(1, len(body)) + body
    return encoding._len_prefixed(1, len(extra) + len(entries)) + extra + entries


def test_record_index_points_at_every_record(data_dir):
    import tensorflow as tf

    from tfds_builders.pipelines import ops, records

    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data_dir))
    layout = ops.raw_layout(builder)
    index = records.record_index(builder, "train", layout)
    files = [os.fspath(p) for p in builder.info.splits["train"].filepaths]
    want = [r.numpy() for r in tf.data.TFRecordDataset(files)]
    assert len(index) == len(want) == builder.info.splits["train"].num_examples
    for shard, offset, record in zip(index.shard, index.offset, want):
        with open(index.files[shard], "rb") as f:
            f.seek(offset)
            assert f.read(len(record)) == record
    # TFDS slicing selects the same records as tfds.load
    part = records.record_index(builder, "train[1:3]", layout)
    assert list(part.offset) == list(index.offset[1:3])


def test_crop_reader_matches_decoded_examples(data_dir):
    from tfds_builders.pipelines import ops, records

    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data_dir))
    layout = ops.raw_layout(builder)
    index = records.record_index(builder, "train", layout)
    examples = list(tfds.as_numpy(builder.as_dataset("train", shuffle_files=False)))
    scale, offset = ops.normalize_affine(*ops.band_stats(builder, True))
    plain = records.CropReader(index, layout, ("image", "label"), 96)
    normed = records.CropReader(index, layout, ("image", "label"), 96,
                                {"image": (scale, offset)})
    rows, cols = [0, 416, 7, 200], [416, 0, 300, 33]
    positions = range(len(index))
    images, labels = plain.read_batch(positions, rows, cols)
    for k, ex in enumerate(examples):
        r, c = rows[k % 4], cols[k % 4]
        np.testing.assert_array_equal(images[k], ex["image"][r:r + 96, c:c + 96])
        np.testing.assert_array_equal(labels[k], ex["label"][r:r + 96, c:c + 96])
        img, _ = normed.read(k, r, c)
        np.testing.assert_allclose(img, ex["image"][r:r + 96, c:c + 96] * scale + offset, rtol=1e-6)
    plain.release_pages = True  # handing pages back changes nothing read
    again, _ = plain.read_batch(positions, rows, cols)
    np.testing.assert_array_equal(again, images)


def test_foreign_layout_and_broken_framing(data_dir, tmp_path):
    """Shards whose records are laid out otherwise are read whole (same crops); a shard
    with a broken length CRC is an error naming it."""
    import tensorflow as tf

    from tfds_builders.pipelines import ops, records

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=str(copy))
    layout = ops.raw_layout(builder)
    (shard,) = [os.fspath(p) for p in builder.info.splits["test"].filepaths]
    recs = [r.numpy() for r in tf.data.TFRecordDataset(shard)]
    with tf.io.TFRecordWriter(shard) as w:
        for r in recs:
            w.write(_shifted(r))
    assert records.record_index(builder, "test", layout) is None
    ds = pipelines.cloudsen12_hq("test", data_dir=str(copy), mode="center", crop_size=100,
                                 batch_size=len(recs), normalize=False)
    ref = pipelines.cloudsen12_hq("test", data_dir=str(data_dir), mode="center", crop_size=100,
                                  batch_size=len(recs), normalize=False)
    np.testing.assert_array_equal(next(iter(ds))[0].numpy(), next(iter(ref))[0].numpy())

    raw = bytearray(open(shard, "rb").read())
    raw[9] ^= 0x01  # inside the first record's length CRC
    open(shard, "wb").write(bytes(raw))
    with pytest.raises(SourceDataError, match="length CRC"):
        records.RecordIndex([shard])


def test_augmented_pipeline_on_the_offset_reader(data_dir):
    """augment=True reads crops one by one by offset and augments them in the graph."""
    ds = pipelines.cloudsen12_hq("train", data_dir=str(data_dir), crop_size=48, batch_size=3,
                                 augment=True, seed=5, normalize=False)
    x, y, w = next(iter(ds))
    assert x.shape == (3, 48, 48, 13) and y.shape == (3, 48, 48) and w.shape == (3, 48, 48)
    assert set(np.unique(w.numpy())) <= {0.0, 1.0}


# ------------------------------------------------------------- config detectors

#: the detector layers as the source format has them: mask key -> (layer, dtype)
DETECTOR_LAYERS = {
    "fmask": ("LABEL_fmask", np.int16), "qa60": ("LABEL_QA60", np.int8),
    "s2cloudless": ("LABEL_s2cloudless", np.int8), "sen2cor": ("LABEL_sen2cor", np.int8),
    "cd_fcnn_rgbi": ("LABEL_cd_fcnn_rgbi", np.int8), "cd_fcnn_rgbi_swir": ("LABEL_cd_fcnn_rgbi_swir", np.int8),
    "kappamask_l1c": ("LABEL_kappamask_L1C", np.int8), "kappamask_l2a": ("LABEL_kappamask_L2A", np.int8),
}


def raw_detector(folder, layer, dtype):
    """A detector layer read from its file, either spelling (``LABEL_fmask.dat``, ``fmask.dat``)."""
    for stem in (layer, layer[len("LABEL_"):]):
        if os.path.exists(os.path.join(folder, f"{stem}.dat")):
            return raw_layer(folder, stem, dtype)
    raise AssertionError(f"no file for {layer} in {folder}")


@pytest.fixture(scope="module")
def detectors_dir(samples, tmp_path_factory):
    data = tmp_path_factory.mktemp("cs_detectors")
    from tests.conftest import cli

    code, _, err = cli("build", "cloudsen12_hq/detectors", "--manual-dir", samples, "--data-dir", data)
    assert code == 0, err
    return data


def test_sample_detector_layers(samples):
    """Both spellings are written, and every mask holds values its detector has."""
    assert "LABEL_QA60.dat" in os.listdir(samples / "train") and "QA60.dat" in os.listdir(samples / "val")
    allowed = {"fmask": {0, 1, 2, 3, 4}, "qa60": {0, 1, 2}, "sen2cor": {2, 3, 4, 5, 6, 8, 9, 10, 11},
               "kappamask_l1c": {1, 2, 3, 4}, "kappamask_l2a": {1, 2, 3, 4}}
    for folder in ("train", "val", "test"):
        for key, (layer, dtype) in DETECTOR_LAYERS.items():
            mask = raw_detector(samples / folder, layer, dtype)
            assert mask.shape[0] == raw_layer(samples / folder, "L1C_B1" if folder != "val" else "L1C_B01",
                                              np.int16).shape[0]
            values = set(np.unique(mask[:, 1:510, 1:510]).tolist())
            assert values <= allowed.get(key, {0, 1}), (folder, key, values)
        # thick clouds are in every split: QA60 marks them opaque (1), Sen2Cor 8 or 9
        qa60 = raw_detector(samples / folder, "LABEL_QA60", np.int8)
        assert (qa60 == 1).any()


def test_detectors_reader_matches_files(samples):
    for folder in ("train", "val", "test"):
        split = src.CloudSEN12Split(samples / folder, "detectors")
        label = raw_detector(samples / folder, "LABEL_manual_hq", np.int8)
        masks = {k: raw_detector(samples / folder, layer, dtype) for k, (layer, dtype) in DETECTOR_LAYERS.items()}
        assert len(split) == len(label)
        for i, ex in enumerate(split):
            assert ex["id"] == f"{folder}/{i}" and "image" not in ex
            assert set(ex["masks"]) == set(DETECTOR_LAYERS)
            for key, mask in masks.items():
                assert ex["masks"][key].dtype == mask.dtype and ex["masks"][key].tobytes() == mask[i].tobytes()
            expected = np.where((label[i] >= 0) & (label[i] <= 3), label[i], 255).astype(np.uint8)
            np.testing.assert_array_equal(ex["label"], expected)
        split.close()


def test_detectors_missing_layer_names_file(tmp_path, samples):
    folder = tmp_path / "val"
    shutil.copytree(samples / "val", folder)
    os.remove(folder / "QA60.dat")
    src.CloudSEN12Split(folder, "l1c")  # l1c does not need it
    with pytest.raises(SourceDataError, match=r"LABEL_QA60\.dat: layer LABEL_QA60 missing for config 'detectors'"):
        src.CloudSEN12Split(folder, "detectors")
    shutil.copy(samples / "train" / "LABEL_fmask.dat", folder / "LABEL_fmask.dat")  # beside fmask.dat
    with pytest.raises(SourceDataError, match=r"layer LABEL_fmask is also present as"):
        src.CloudSEN12Split(folder, "detectors")


def test_detectors_built_equal_sources(detectors_dir, samples):
    builder = tfds.builder("cloudsen12_hq/detectors", data_dir=str(detectors_dir))
    features = builder.info.features
    assert "image" not in features and set(features["masks"].keys()) == set(DETECTOR_LAYERS)
    for key, (_, dtype) in DETECTOR_LAYERS.items():
        assert features["masks"][key].np_dtype == dtype and features["masks"][key].shape == (P, P)
    assert builder.info.metadata["valid_box"] == [1, 1, 510, 510]
    assert builder.info.metadata["masks"]["qa60"] == "LABEL_QA60"
    assert "band_stats" not in builder.info.metadata
    for split, folder in {"train": "train", "validation": "val", "test": "test"}.items():
        label = raw_detector(samples / folder, "LABEL_manual_hq", np.int8)
        masks = {k: raw_detector(samples / folder, layer, dtype) for k, (layer, dtype) in DETECTOR_LAYERS.items()}
        got = list(tfds.as_numpy(tfds.load("cloudsen12_hq/detectors", split=split, data_dir=str(detectors_dir))))
        assert sorted(int(ex["id"].decode().split("/")[1]) for ex in got) == list(range(len(label)))
        for ex in got:
            folder_name, index = ex["id"].decode().split("/")
            assert folder_name == folder
            i = int(index)
            for key, mask in masks.items():
                assert ex["masks"][key].dtype == mask.dtype and ex["masks"][key].tobytes() == mask[i].tobytes()
            expected = np.where((label[i] >= 0) & (label[i] <= 3), label[i], 255).astype(np.uint8)
            assert ex["label"].dtype == np.uint8
            np.testing.assert_array_equal(ex["label"], expected)
    with pytest.raises(ValueError, match="no image"):
        pipelines.cloudsen12_hq("train", config="detectors", data_dir=str(detectors_dir))


def test_detectors_verify_inspect_and_preview(detectors_dir, samples, tmp_path):
    from tests.conftest import cli
    from tests.test_previews import assert_panel_shows, painted, read_png
    from tfds_builders.cloudsen12_hq import preview

    code, out, err = cli("verify", "cloudsen12_hq/detectors", "--data-dir", detectors_dir, "--manual-dir", samples)
    assert code == 0 and "bit for bit" in out, err
    # a flipped byte in a detector layer is found, naming the layer
    changed = tmp_path / "manual"
    shutil.copytree(samples, changed)
    with open(changed / "test" / "LABEL_sen2cor.dat", "r+b") as f:
        f.seek(P * P + 300 * P + 300)  # patch 1
        value = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([value[0] ^ 0x01]))
    code, _, err = cli("verify", "cloudsen12_hq/detectors", "--data-dir", detectors_dir, "--manual-dir", changed)
    assert code == 1 and "LABEL_sen2cor.dat changed since the build" in err
    png = tmp_path / "p.png"
    code, out, err = cli("inspect", "cloudsen12_hq/detectors", "--data-dir", detectors_dir, "--png", png,
                         "--split", "test", "--count", "1")
    assert code == 0, err
    assert "masks" in out and "fmask" in out and "kappamask_l2a" in out
    pixels, panels, legend = read_png(png)
    assert [p["panel"].split()[0] for p in panels] == ["label"] + list(preview.SHOWN_MASKS)
    label = raw_detector(samples / "test", "LABEL_manual_hq", np.int8)[0]
    stored = np.where((label >= 0) & (label <= 3), label.astype(np.int64), 255)
    colours = preview.CLASS_COLOURS
    assert_panel_shows(pixels, panels[0], painted(stored, range(4), colours, 255))
    # fmask as the preview reads it (the README: cloud 4, shadow 2), padding grey
    fmask = raw_detector(samples / "test", "LABEL_fmask", np.int16)[0]
    shown = np.full((P, P), 255)
    shown[1:510, 1:510] = np.select([fmask == 4, fmask == 2], [1, 3], 0)[1:510, 1:510]
    assert_panel_shows(pixels, panels[1], painted(shown, range(4), colours, 255))
    assert {"clear", "thick_cloud", "cloud_shadow"} <= set(legend)
