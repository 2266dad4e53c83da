"""Nothing unchecked reaches a model: a prepared record whose bytes changed after it was
written is an error naming the shard and the record on every read path (crops by
offset, augmented crops, whole records, ArrayRecord); a label value outside the classes
gets sample weight 0."""

from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from parsers import cloudsen12_hq as cloudsen12, gedi_agbd as gedi, s2_cloud_timeseries as s2_cloud
from tfds_builders import pipelines
from tfds_builders.pipelines import ops

SPECS = {"cloudsen12_hq/l1c": cloudsen12, "gedi_agbd": gedi, "s2_cloud_timeseries": s2_cloud}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("checked")
    for spec, writer in SPECS.items():
        manual = root / "manual" / spec.split("/")[0]
        writer.write_samples(manual, seed=4)
        for fmt in ("tfrecord", "array_record"):
            tfds.builder(spec, data_dir=os.fspath(root / fmt), file_format=fmt).download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)), file_format=fmt)
    return root


@pytest.fixture
def data(pristine, tmp_path):
    """A copy of the builds that a test may damage."""
    for fmt in ("tfrecord", "array_record"):
        shutil.copytree(pristine / fmt, tmp_path / fmt)
    return tmp_path


def record_starts(path):
    """(data start, length) of each record, read from the framing with plain struct."""
    out, pos, raw = [], 0, open(path, "rb").read()
    while pos < len(raw):
        (length,) = struct.unpack_from("<Q", raw, pos)
        out.append((pos + 12, length))
        pos += 12 + length + 4
    return out


def shard_of(data_dir, spec, split, fmt="tfrecord"):
    builder = tfds.builder(spec, data_dir=os.fspath(data_dir))
    (path,) = [os.fspath(p) for p in builder.info.splits[split].filepaths]
    return builder, path


def set_byte(path, offset, value):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([value]))


def drain(ds):
    for _ in ds:
        pass


def label_pixel_offset(builder, path, record, row, col):
    """File offset of label pixel (row, col) of a record (the layout eo-tfds writes)."""
    _, offset, shape, _ = ops.raw_layout(builder)["label"]
    start, _ = record_starts(path)[record]
    return start + offset + row * shape[1] + col


CLOUDSEN12_PATHS = {
    "random crops by offset": dict(mode="random"),
    "center crops by offset": dict(mode="center", shuffle=False),
    "augmented crops by offset": dict(mode="random", augment=True),
    "grid tiles of whole records": dict(mode="grid"),
}


@pytest.mark.parametrize("path_name", list(CLOUDSEN12_PATHS))
def test_flipped_label_byte_is_an_error_naming_shard_and_record(data, path_name):
    """The trial that broke: a label byte 1 -> 253 inside a record arrived with weight 1."""
    builder, path = shard_of(data / "tfrecord", "cloudsen12_hq/l1c", "train")
    where = label_pixel_offset(builder, path, 2, 200, 200)
    with open(path, "rb") as f:
        f.seek(where)
        assert f.read(1)[0] <= 3  # a labelled pixel inside every crop of 256 in the box
    set_byte(path, where, 253)
    ds = pipelines.cloudsen12_hq("train", data_dir=os.fspath(data / "tfrecord"), crop_size=256,
                                 batch_size=2, seed=0, **CLOUDSEN12_PATHS[path_name])
    with pytest.raises(tf.errors.OpError) as info:
        drain(ds)
    message = str(info.value)
    assert os.path.basename(path) in message and "record 2" in message and "CRC" in message


def test_undamaged_records_still_read(data):
    """The check passes records that were not touched: the same crops as the decoded example."""
    ds = pipelines.cloudsen12_hq("train", data_dir=os.fspath(data / "tfrecord"), mode="center",
                                 crop_size=509, batch_size=8, normalize=False, shuffle=False)
    x, _, _ = next(iter(ds))
    want = [ex["image"][1:510, 1:510] for ex in tfds.as_numpy(
        tfds.load("cloudsen12_hq/l1c", split="train", data_dir=os.fspath(data / "tfrecord")))]
    np.testing.assert_array_equal(x.numpy(), np.stack(want).astype(np.float32))


@pytest.mark.parametrize("spec", ["gedi_agbd", "s2_cloud_timeseries"])
def test_whole_record_readers_name_the_shard(data, spec):
    builder, path = shard_of(data / "tfrecord", spec, "train")
    start, length = record_starts(path)[1]
    raw = open(path, "rb").read()
    set_byte(path, start + length // 2, raw[start + length // 2] ^ 0x01)
    fn = pipelines.gedi_agbd if spec == "gedi_agbd" else pipelines.s2_cloud_timeseries
    with pytest.raises(tf.errors.OpError) as info:
        drain(fn("train", data_dir=os.fspath(data / "tfrecord"), shuffle=False))
    assert os.path.basename(path) in str(info.value) and "record 1" in str(info.value)


def test_broken_framing_names_the_shard_at_construction(data):
    builder, path = shard_of(data / "tfrecord", "gedi_agbd", "train")
    start, length = record_starts(path)[3]
    raw = open(path, "rb").read()
    set_byte(path, start - 4, raw[start - 4] ^ 0x10)  # the 4th record's length CRC
    from parsers.errors import SourceDataError

    with pytest.raises(SourceDataError, match=os.path.basename(path) + ".*record 3: length CRC"):
        pipelines.gedi_agbd("train", data_dir=os.fspath(data / "tfrecord"))


def test_corrupt_array_record_names_the_shard(data):
    builder = tfds.builder("gedi_agbd", data_dir=os.fspath(data / "array_record"))
    (path,) = [os.fspath(p) for p in builder.info.splits["train"].filepaths]
    raw = bytearray(open(path, "rb").read())
    for pos in range(len(raw) // 3, len(raw) // 2, 4096):
        raw[pos] ^= 0xFF
    open(path, "wb").write(bytes(raw))
    with pytest.raises(tf.errors.OpError) as info:
        drain(pipelines.gedi_agbd("train", data_dir=os.fspath(data / "array_record"), shuffle=False))
    assert os.path.basename(path) in str(info.value) and "record" in str(info.value)


def test_labels_outside_the_classes_get_weight_zero():
    label = np.array([[0, 1, 2, 3], [4, 253, 255, 7]], np.uint8)
    y, w = ops.label_weights(tf.constant(label), num_classes=4)
    np.testing.assert_array_equal(w.numpy(), [[1, 1, 1, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(y.numpy(), [[0, 1, 2, 3], [0, 0, 0, 0]])
    signed = tf.constant([-1, 0, 5, 6], tf.int64)
    _, w = ops.label_weights(signed, num_classes=6)
    np.testing.assert_array_equal(w.numpy(), [0, 1, 1, 0])


def test_pipeline_gives_weight_zero_to_a_stored_label_outside_the_classes(pristine, tmp_path):
    """A label outside 0..3 written into a record with a valid CRC (as another writer could)
    trains with weight 0, never 1."""
    shutil.copytree(pristine / "tfrecord", tmp_path / "tfrecord")
    builder, path = shard_of(tmp_path / "tfrecord", "cloudsen12_hq/l1c", "train")
    where = label_pixel_offset(builder, path, 0, 5, 7)
    raw = bytearray(open(path, "rb").read())
    raw[where] = 200
    start, length = record_starts(path)[0]
    import crc32c

    from parsers.tfrecord import masked_crc

    struct.pack_into("<I", raw, start + length, masked_crc(crc32c.crc32c(bytes(raw[start:start + length]))))
    open(path, "wb").write(bytes(raw))
    ds = pipelines.cloudsen12_hq("train", data_dir=os.fspath(tmp_path / "tfrecord"), mode="center",
                                 crop_size=509, batch_size=1, normalize=False, shuffle=False)
    _, y, w = next(iter(ds))
    assert w.numpy()[0, 4, 6] == 0.0 and y.numpy()[0, 4, 6] == 0  # (5, 7) in the crop from (1, 1)
    assert w.numpy()[0].sum() == np.sum(
        next(iter(tfds.as_numpy(tfds.load("cloudsen12_hq/l1c", split="train[:1]",
                                          data_dir=os.fspath(tmp_path / "tfrecord")))))["label"][1:510, 1:510] < 4)


def test_crop_size_errors_come_before_any_trace(pristine):
    for bad in (0, -3, 600):
        with pytest.raises(ValueError, match="crop_size must lie between") as info:
            pipelines.cloudsen12_hq("train", data_dir=os.fspath(pristine / "tfrecord"), crop_size=bad)
        assert "tf.function" not in str(info.value) and "trac" not in str(info.value)


def test_damage_after_a_clean_read_is_caught(data):
    """Records are checked once per process while their file is unchanged: a byte
    written into the shard afterwards makes them checked again."""
    spec_dir = os.fspath(data / "tfrecord")
    drain(pipelines.gedi_agbd("train", data_dir=spec_dir, shuffle=False))  # all records good
    builder, path = shard_of(data / "tfrecord", "gedi_agbd", "train")
    start, length = record_starts(path)[4]
    raw = open(path, "rb").read()
    set_byte(path, start + 100, raw[start + 100] ^ 0x04)
    with pytest.raises(tf.errors.OpError, match="record 4: data CRC"):
        drain(pipelines.gedi_agbd("train", data_dir=spec_dir, shuffle=False))
