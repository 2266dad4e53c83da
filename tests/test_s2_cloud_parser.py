"""The s2_cloud_timeseries reader: real TFRecords and real .7z archives, written by the
module's sample writer and by hand, read back and compared bit for bit."""

import datetime
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from parsers import s2_cloud_timeseries as s2_cloud
from parsers.errors import SourceDataError

FEATURES = {"tile": None, "localid": np.int64, "image": np.uint16, "labels": np.int64,
            "dates": np.int64, "weights": np.float32}


# --------------------------------------------------------------------------- helpers


def make_example(t, localid=7, seed=0, tile="T11ABC"):
    rng = np.random.default_rng(seed)
    return {"tile": tile, "localid": np.int64(localid),
            "image": rng.integers(0, 12000, (t, 42, 42, 4), dtype=np.uint16),
            "labels": rng.integers(0, 6, t).astype(np.int64),
            "dates": s2_cloud.encode_dates(np.datetime64("2019-03-01") + 5 * np.arange(t)),
            "weights": rng.random(t).astype(np.float32)}


def raw_example(**features):
    """A tf.train.Example built by hand: bytes values -> bytes feature, ints -> int64."""
    feature = {}
    for key, value in features.items():
        if isinstance(value, bytes):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(value)))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def publisher_features(t, labels=None, seed=0):
    """The publisher's five features for T timestamps, stored (T, 4, 42, 42) little-endian."""
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 65535, (t, 4, 42, 42), dtype=np.uint16)
    labels = np.arange(t) % 6 if labels is None else np.asarray(labels)
    return stored, {"localid": [5], "image_raw_ldseries": stored.astype("<u2").tobytes(),
                    "labels": labels.astype(np.int8).tobytes(),
                    "dates": (737425 + np.arange(t)).astype("<i8").tobytes(),
                    "weights": np.ones(t, "<f4").tobytes()}


def read_all(path):
    return list(s2_cloud.iter_file(path))


def assert_same(example, expected):
    assert set(example) == set(FEATURES)
    for key, dtype in FEATURES.items():
        if dtype is None:
            assert example[key] == expected[key]
            continue
        value = np.asarray(example[key])
        assert value.dtype == dtype, key
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


def record_offsets(path):
    """Byte offset of each record's header in a TFRecord file."""
    data = pathlib.Path(path).read_bytes()
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + int.from_bytes(data[pos:pos + 8], "little")
    return offsets


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))


# --------------------------------------------------------------------------- samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = s2_cloud.write_samples(tmp_path_factory.mktemp("manual") / "s2_cloud_timeseries",
                                  seed=0)
    return root, s2_cloud.sample_records(0)


def test_writer_layout(samples, tmp_path):
    root, expected = samples
    again = s2_cloud.write_samples(tmp_path / "again", seed=0)  # byte for byte the same
    assert all((again / name).read_bytes() == (root / name).read_bytes()
               for name in listing(root) if (root / name).is_file())
    assert listing(root) == [
        "extracted", "extracted/val_T50TMK_2", "s2cloud_train_01.7z",
        "s2cloud_train_01.7z.md5", "s2cloud_val_01.7z", "s2cloud_val_01.7z.md5",
        "train_T31TCJ_3.tfrecord"]  # nothing half-written, no staging left
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 4 << 20
    lengths = [len(r["labels"]) for recs in expected.values() for r in recs]
    assert min(lengths) == 1 and max(lengths) == 100
    # the 130-long series is cut into 100 + 30 sharing tile and localid
    cut = expected["train_T50TMK_4"][2:4]
    assert [len(r["labels"]) for r in cut] == [100, 30]
    assert cut[0]["localid"] == cut[1]["localid"] and cut[0]["tile"] == cut[1]["tile"]
    assert s2_cloud.decode_dates(cut[1]["dates"][0]) > s2_cloud.decode_dates(cut[0]["dates"][-1])
    # one file with YYYYMMDD dates, the others day numbers
    assert all(19000000 <= r["dates"].min() for r in expected["train_T31TCJ_3"])
    assert all(r["dates"].max() < 19000000 for r in expected["val_T18SUJ_4"])
    md5_line = (root / "s2cloud_val_01.7z.md5").read_text().split()
    assert md5_line == [s2_cloud.file_md5(root / "s2cloud_val_01.7z"), "s2cloud_val_01.7z"]
    # deterministic for a seed, different for another
    assert_same(s2_cloud.sample_records(0)["val_T50TMK_2"][1], expected["val_T50TMK_2"][1])
    np.testing.assert_raises(AssertionError, np.testing.assert_array_equal,
                             s2_cloud.sample_records(1)["val_T50TMK_2"][0]["image"],
                             expected["val_T50TMK_2"][0]["image"])


def test_every_example_equals_what_was_written(samples, tmp_path):
    root, expected = samples
    before = listing(root)
    scratch = tmp_path / "scratch"
    seen = {}
    for split, names in (("train", ["train_T31TCJ_3", "train_T49QGF_2", "train_T50TMK_4"]),
                         ("validation", ["val_T18SUJ_4", "val_T50TMK_2", "val_T50TMK_3"])):
        files = s2_cloud.split_files(root, split, scratch, progress=False)
        assert [s2_cloud.parse_source_name(f.name).name for f in files] == names
        for path in files:  # archive members land in scratch, never next to the user's files
            assert scratch in path.parents or path.parent in (root, root / "extracted")
        for key, example in s2_cloud.iter_split(root, split, scratch, progress=False):
            name, index = key.split("/")
            assert key not in seen
            seen[key] = split
            assert_same(example, expected[name][int(index)])
            assert example["image"].shape == (len(example["labels"]), 42, 42, 4)
            assert example["image"].flags.c_contiguous
    assert len(seen) == sum(len(v) for v in expected.values())
    assert listing(root) == before


def test_find_sources_of_samples(samples):
    root, expected = samples
    sources = s2_cloud.find_sources(root)
    assert [(s.split, s.name.name, s.member) for s in sources] == [
        ("train", "train_T31TCJ_3", None), ("train", "train_T49QGF_2", "train_T49QGF_2"),
        ("train", "train_T50TMK_4", "train_T50TMK_4"),
        ("validation", "val_T18SUJ_4", "val_T18SUJ_4"), ("validation", "val_T50TMK_2", None),
        ("validation", "val_T50TMK_3", "val_T50TMK_3")]
    assert sources[0].name.tile == "T31TCJ" and sources[0].name.num_records == 3


def test_extract_archive_md5_skip_and_resume(samples, tmp_path):
    root, expected = samples
    archive = root / "s2cloud_train_01.7z"
    out = tmp_path / "out"
    paths = s2_cloud.extract_archive(archive, out, md5=root / "s2cloud_train_01.7z.md5",
                                     progress=False)
    assert sorted(p.name for p in paths) == ["train_T49QGF_2", "train_T50TMK_4"]
    for path in paths:
        for (key, example), want in zip(read_all(path), expected[path.name], strict=True):
            assert_same(example, want)
    assert not list(out.glob(".*.part"))
    # already extracted: skipped (members untouched), also with the md5 as hex
    stamps = {p: p.stat().st_mtime_ns for p in paths}
    digest = s2_cloud.file_md5(archive)
    assert s2_cloud.extract_archive(archive, out, md5=digest.upper(), progress=False) == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps
    # an interrupted run: the finished member is kept, the missing one extracted
    marker = out / ".s2cloud_train_01.7z.extracted.json"
    marker.write_text(marker.read_text().replace('"complete": true', '"complete": false'))
    paths[0].unlink()
    s2_cloud.extract_archive(archive, out, progress=False)
    assert paths[0].is_file() and paths[1].stat().st_mtime_ns == stamps[paths[1]]
    assert [k for k, _ in read_all(paths[0])] == [f"{paths[0].name}/{i}" for i in
                                                  range(len(expected[paths[0].name]))]


def test_numpy_side_never_imports_tensorflow(tmp_path):
    """The parser package, each of its modules and the shared pieces it uses are
    TensorFlow-free: imported, writing the samples and reading them back in a fresh
    process leaves 'tensorflow' out of sys.modules."""
    package = pathlib.Path(s2_cloud.__file__).parent
    modules = ["parsers.s2_cloud_timeseries"] + [
        f"parsers.s2_cloud_timeseries.{p.stem}" for p in sorted(package.glob("*.py"))
        if p.stem != "__init__"]
    assert "parsers.s2_cloud_timeseries.reader" in modules and len(modules) >= 3
    code = "\n".join([
        "import importlib, sys",
        f"for name in {modules + ['parsers.archives', 'parsers.tf_example', 'parsers.tfrecord']!r}:",
        "    importlib.import_module(name)",
        "from parsers import s2_cloud_timeseries as s2",
        f"root = s2.write_samples({str(tmp_path / 'manual')!r})",
        "n = sum(1 for split in ('train', 'validation')",
        f"        for _ in s2.iter_split(root, split, {str(tmp_path / 'scratch')!r}, progress=False))",
        "assert n > 0, n",
        "print('TF' if 'tensorflow' in sys.modules else 'NO_TF')"])
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parents[1]) + os.pathsep + env.get(
        "PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == "NO_TF"


def test_written_records_parse_identically_in_tensorflow(tmp_path):
    """What the TensorFlow-free writer writes, TensorFlow reads: the framing through
    tf.data.TFRecordDataset (its CRC checks), each record through tf.train.Example, whose
    features are the publisher's five, holding the example's values."""
    examples = [make_example(3, localid=-5, seed=1), make_example(100, localid=2**40, seed=2)]
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_2", examples)
    raws = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
    assert raws == [s2_cloud.serialize_record(e) for e in examples]
    for raw, example in zip(raws, examples, strict=True):
        parsed = tf.train.Example.FromString(raw)
        features = parsed.features.feature
        assert set(features) == {"localid", "image_raw_ldseries", "labels", "dates", "weights"}
        assert list(features["localid"].int64_list.value) == [int(example["localid"])]
        stored = np.frombuffer(features["image_raw_ldseries"].bytes_list.value[0], "<u2")
        np.testing.assert_array_equal(stored.reshape(-1, 4, 42, 42),
                                      example["image"].transpose(0, 3, 1, 2))
        for key, dtype in (("labels", np.int8), ("dates", "<i8"), ("weights", "<f4")):
            values = features[key].bytes_list.value
            assert len(values) == 1, key
            np.testing.assert_array_equal(np.frombuffer(values[0], dtype), example[key], key)
        # and TensorFlow writes the same message the same way
        assert tf.train.Example.FromString(parsed.SerializeToString()) == parsed
        again = tf.train.Example()
        again.ParseFromString(raw)
        assert again.SerializeToString(deterministic=True) == raw
    # TensorFlow's own writer and ours frame records identically
    theirs = tmp_path / "theirs"
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for raw in raws:
            writer.write(raw)
    assert theirs.read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- variants


@pytest.mark.parametrize("filename, parsed", [
    ("train_T50TMK_12", ("train", "T50TMK", 12, "train_T50TMK_12")),
    ("val_T50TMK_3.tfrecord", ("validation", "T50TMK", 3, "val_T50TMK_3")),
    ("val_50TMK_3.tfrecords", ("validation", "50TMK", 3, "val_50TMK_3")),
    ("train_T01ABC_007.tfrec", ("train", "T01ABC", 7, "train_T01ABC_007")),
    ("some/dir/train_T1_0.rec", ("train", "T1", 0, "train_T1_0")),
    ("train_T50TMK_12.md5", None), ("train_T50TMK_12.7z", None),
    (".train_T50TMK_12.123.part", None), ("test_T50TMK_12", None),
    ("train_T50TMK.tfrecord", None), ("train_T50_TMK_3", None), ("readme.txt", None)])
def test_name_variants(filename, parsed):
    name = s2_cloud.parse_source_name(filename)
    if parsed is None:
        assert name is None
    else:
        assert (name.split, name.tile, name.num_records, name.name) == parsed


def test_hand_written_layout_and_defaults(tmp_path):
    """The stored (T, 4, 42, 42) layout becomes (T, 42, 42, 4); a missing localid is -1,
    missing weights are ones; labels/dates as int64 lists are accepted too."""
    stored, features = publisher_features(3)
    del features["localid"], features["weights"]
    path = s2_cloud.write_tfrecord(tmp_path / "val_T11ABC_2.tfrecords", [
        raw_example(**features),
        raw_example(**dict(features, localid=[123456789012], labels=[0, 5, 2],
                           dates=[20200101, 20200106, 737430]))])
    (k0, e0), (k1, e1) = read_all(path)
    assert (k0, k1) == ("val_T11ABC_2/0", "val_T11ABC_2/1")
    assert e0["tile"] == "T11ABC" and e0["localid"] == -1 and e1["localid"] == 123456789012
    np.testing.assert_array_equal(e0["image"], stored.transpose(0, 2, 3, 1))
    assert e0["image"][2, 5, 7, 3] == stored[2, 3, 5, 7]
    np.testing.assert_array_equal(e0["weights"], np.ones(3, np.float32))
    np.testing.assert_array_equal(e0["labels"], [0, 1, 2])
    np.testing.assert_array_equal(e1["labels"], [0, 5, 2])
    np.testing.assert_array_equal(e0["dates"], [737425, 737426, 737427])
    np.testing.assert_array_equal(s2_cloud.decode_dates(e1["dates"]),
                                  np.array(["2020-01-01", "2020-01-06", "2020-01-06"],
                                           "datetime64[D]"))


def test_find_sources_mixed_layout_reads_each_file_once(tmp_path):
    manual = tmp_path / "manual"
    a = [make_example(4, localid=1, seed=1), make_example(2, localid=2, seed=2)]
    b = [make_example(1, localid=3, seed=3)]
    c = [make_example(5, localid=4, seed=4)]
    staging = tmp_path / "staging"
    # an archive with members in a subfolder; one of them also extracted by the user
    s2_cloud.write_archive(manual / "deep" / "pack.7z", {
        "data/train_T11ABC_2": s2_cloud.write_tfrecord(staging / "a", a),
        "data/val_T22DEF_1.tfrecord": s2_cloud.write_tfrecord(staging / "b", b)},
        write_md5=False)
    s2_cloud.write_tfrecord(manual / "x" / "y" / "train_T11ABC_2.tfrecord", a)
    s2_cloud.write_tfrecord(manual / "train_T33GHI_1.tfrec", c[:1])
    (manual / "notes.txt").write_text("not data")
    sources = s2_cloud.find_sources(manual)
    assert [(s.name.name, s.member) for s in sources] == [
        ("train_T11ABC_2", None), ("train_T33GHI_1", None),
        ("val_T22DEF_1", "data/val_T22DEF_1.tfrecord")]
    assert sources[0].path == manual / "x" / "y" / "train_T11ABC_2.tfrecord"
    scratch = tmp_path / "scratch"
    val = list(s2_cloud.iter_split(manual, "val", scratch, progress=False))
    assert [k for k, _ in val] == ["val_T22DEF_1/0"]
    assert_same(val[0][1], dict(b[0], tile="T22DEF"))
    assert (scratch / "deep" / "pack" / "data" / "val_T22DEF_1.tfrecord").is_file()
    train = list(s2_cloud.iter_split(manual, "train", scratch, progress=False))
    assert [k for k, _ in train] == ["train_T11ABC_2/0", "train_T11ABC_2/1", "train_T33GHI_1/0"]
    for (_, example), want in zip(train, a + c, strict=True):
        assert_same(example, dict(want, tile=example["tile"]))


def test_md5_file_formats(tmp_path):
    digest = "0123456789abcdef0123456789abcdef"
    (tmp_path / "one.md5").write_text(f"{digest.upper()}  renamed.7z\n")
    (tmp_path / "list.md5").write_text(f"{'f' * 32}  a.7z\n{digest} *sub/b.7z\n")
    (tmp_path / "bsd.md5").write_text(f"MD5 (c.7z) = {digest}\n")
    assert s2_cloud.read_md5_file(tmp_path / "one.md5", "c.7z") == digest
    assert s2_cloud.read_md5_file(tmp_path / "list.md5", "b.7z") == digest
    assert s2_cloud.read_md5_file(tmp_path / "bsd.md5", "c.7z") == digest
    with pytest.raises(SourceDataError, match="list.md5"):
        s2_cloud.read_md5_file(tmp_path / "list.md5", "z.7z")


# --------------------------------------------------------------------------- dates


def test_decode_dates_both_readings():
    days = np.array(["2020-01-01", "1999-12-31", "2016-02-29", "2024-07-15"], "datetime64[D]")
    ordinal = np.array([datetime.date.fromisoformat(str(d)).toordinal() for d in days])
    assert ordinal[0] == 737425
    ymd = np.array([20200101, 19991231, 20160229, 20240715])
    np.testing.assert_array_equal(s2_cloud.decode_dates(ordinal), days)
    np.testing.assert_array_equal(s2_cloud.decode_dates(ymd), days)
    # per element, in one array; a scalar gives a 0-d array
    np.testing.assert_array_equal(s2_cloud.decode_dates([737425, 20200101]), days[[0, 0]])
    assert s2_cloud.decode_dates(np.int64(737425)) == np.datetime64("2020-01-01")
    # both ends of the YYYYMMDD range belong to it; impossible calendar dates are NaT
    assert s2_cloud.decode_dates(19000101) == np.datetime64("1900-01-01")
    assert np.isnat(s2_cloud.decode_dates([19000000, 21000000, 20190229, 20191301, 0])).all()
    # just below the range: a (far-future) day number, not NaT
    assert s2_cloud.decode_dates(18999999) == np.datetime64("1970-01-01") + (18999999 - 719163)
    many = np.datetime64("1990-01-01") + np.arange(0, 20000, 37)
    for style in ("ordinal", "yyyymmdd"):
        np.testing.assert_array_equal(
            s2_cloud.decode_dates(s2_cloud.encode_dates(many, style)), many)


# --------------------------------------------------------------------------- bad input


def test_record_count_differs_from_name(tmp_path):
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_3",
                                   [make_example(2), make_example(1)])
    with pytest.raises(SourceDataError, match=r"train_T11ABC_3: holds 2 records.*says 3"):
        read_all(path)
    # nothing is yielded before the count is known to be wrong
    iterator = s2_cloud.iter_file(path)
    with pytest.raises(SourceDataError):
        next(iterator)


def test_corrupted_crc_names_record(tmp_path):
    path = s2_cloud.write_tfrecord(tmp_path / "val_T11ABC_3",
                                   [make_example(2, seed=s) for s in range(3)])
    data = bytearray(path.read_bytes())
    data[record_offsets(path)[1] + 12 + 1000] ^= 0xFF  # inside record 1's payload
    path.write_bytes(data)
    seen = []
    with pytest.raises(SourceDataError, match=r"val_T11ABC_3: record 1: fails its CRC") as err:
        for key, _ in s2_cloud.iter_file(path):
            seen.append(key)
    assert seen == ["val_T11ABC_3/0"] and str(path) in str(err.value)


def test_corrupted_length_and_cut_short_name_record(tmp_path):
    examples = [make_example(1, seed=s) for s in range(3)]
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_3", examples)
    data = bytearray(path.read_bytes())
    data[record_offsets(path)[2] + 2] ^= 0x01  # record 2's length field
    path.write_bytes(data)
    with pytest.raises(SourceDataError, match=r"train_T11ABC_3: record 2: fails its CRC"):
        read_all(path)
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_3.tfrecord", examples)
    path.write_bytes(path.read_bytes()[:record_offsets(path)[1] + 500])
    with pytest.raises(SourceDataError, match=r"train_T11ABC_3.tfrecord: record 1: .*cut short"):
        read_all(path)


@pytest.mark.parametrize("missing", ["image_raw_ldseries", "labels", "dates"])
def test_missing_feature_names_record(tmp_path, missing):
    _, features = publisher_features(2)
    broken = {k: v for k, v in features.items() if k != missing}
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_2",
                                   [raw_example(**features), raw_example(**broken)])
    with pytest.raises(SourceDataError,
                       match=rf"train_T11ABC_2: record 1: feature '{missing}' is missing"):
        read_all(path)


def test_image_length_not_a_multiple_names_record(tmp_path):
    _, features = publisher_features(2)
    short = dict(features, image_raw_ldseries=features["image_raw_ldseries"][:-2])
    path = s2_cloud.write_tfrecord(tmp_path / "val_T11ABC_2",
                                   [raw_example(**short), raw_example(**features)])
    with pytest.raises(SourceDataError, match=r"val_T11ABC_2: record 0: .*28222 bytes.*14112"):
        read_all(path)


def test_lengths_disagreeing_on_t_names_record(tmp_path):
    _, features = publisher_features(3)
    _, two = publisher_features(2)
    path = s2_cloud.write_tfrecord(tmp_path / "val_T11ABC_1",
                                   [raw_example(**dict(features, labels=two["labels"]))])
    with pytest.raises(SourceDataError, match=r"record 0: 'labels' has 2 values.*T = 3"):
        read_all(path)


@pytest.mark.parametrize("bad", [6, -1])
def test_label_out_of_range_names_record(tmp_path, bad):
    _, good = publisher_features(2)
    _, features = publisher_features(4, labels=[0, 1, bad, 2])
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_2",
                                   [raw_example(**good), raw_example(**features)])
    with pytest.raises(SourceDataError, match=rf"train_T11ABC_2: record 1: label {bad} at "
                                              r"timestamp 2 is outside 0..5"):
        read_all(path)


def test_record_not_an_example_names_record(tmp_path):
    path = s2_cloud.write_tfrecord(tmp_path / "train_T11ABC_1", [b"\xff\xff not a proto"])
    with pytest.raises(SourceDataError, match=r"train_T11ABC_1: record 0: is not a tf.train"):
        read_all(path)


def test_badly_named_file(tmp_path):
    path = s2_cloud.write_tfrecord(tmp_path / "T11ABC.tfrecord", [make_example(1)])
    with pytest.raises(SourceDataError, match="T11ABC.tfrecord: the name"):
        read_all(path)


@pytest.fixture
def small_archive(tmp_path):
    """A two-member archive of incompressible data, and its members' bytes."""
    staging = tmp_path / "staging"
    files = {"train_T11ABC_2": s2_cloud.write_tfrecord(
                 staging / "a", [make_example(6, seed=1), make_example(3, seed=2)]),
             "val_T11ABC_1": s2_cloud.write_tfrecord(staging / "b", [make_example(6, seed=3)])}
    archive = s2_cloud.write_archive(tmp_path / "manual" / "pack.7z", files)
    return archive, {name: path.read_bytes() for name, path in files.items()}


def assert_nothing_partial(out, members):
    if not out.exists():
        return
    for path in out.rglob("*"):
        assert not path.name.endswith(".part"), path
        if path.name in members:  # only whole, CRC-checked members under final names
            assert path.read_bytes() == members[path.name]
    assert not (out / ".pack.7z.extracted.json").exists() or \
        '"complete": true' not in (out / ".pack.7z.extracted.json").read_text()


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_archive_cut_short(small_archive, tmp_path, keep):
    archive, members = small_archive
    archive.write_bytes(archive.read_bytes()[:int(archive.stat().st_size * keep)])
    out = tmp_path / "out"
    with pytest.raises(SourceDataError, match=r"pack.7z: .*cut short or corrupt"):
        s2_cloud.extract_archive(archive, out, progress=False)
    assert_nothing_partial(out, members)
    with pytest.raises(SourceDataError, match=r"pack.7z: .*cut short or corrupt"):
        s2_cloud.find_sources(archive.parent)


def test_archive_corrupt_midstream(small_archive, tmp_path):
    archive, members = small_archive
    data = bytearray(archive.read_bytes())
    middle = 32 + (len(data) - 32) * 3 // 4  # packed streams start after the 32-byte header
    data[middle:middle + 64] = bytes(64)
    archive.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(SourceDataError, match=r"pack.7z: .*cut short or corrupt"):
        s2_cloud.extract_archive(archive, out, progress=False)
    assert_nothing_partial(out, members)
    assert not (out / "val_T11ABC_1").exists() or not (out / "train_T11ABC_2").exists()


def test_md5_mismatch(small_archive, tmp_path):
    archive, members = small_archive
    out = tmp_path / "out"
    with pytest.raises(SourceDataError, match=r"pack.7z: md5 is [0-9a-f]{32}, expected 0{32}"):
        s2_cloud.extract_archive(archive, out, md5="0" * 32, progress=False)
    assert not out.exists()
    # through the .md5 file beside the archive, as split_files finds it
    (archive.parent / "pack.7z.md5").write_text(f"{'1' * 32}  pack.7z\n")
    with pytest.raises(SourceDataError, match=r"pack.7z: md5 is .*expected 1{32}"):
        s2_cloud.split_files(archive.parent, "train", tmp_path / "scratch", progress=False)
    assert not list((tmp_path / "scratch").rglob("*_T11ABC_*"))
    # a good extraction, then a different expected digest: still a mismatch, not a skip
    good = s2_cloud.extract_archive(archive, out, md5=s2_cloud.file_md5(archive),
                                    progress=False)
    assert {p.name: p.read_bytes() for p in good} == members
    with pytest.raises(SourceDataError, match=r"pack.7z: md5 is"):
        s2_cloud.extract_archive(archive, out, md5="2" * 32, progress=False)


# --------------------------------------------------------------------------- joined


def plain_day(value):
    """A stored date as a day number (date.toordinal), decoded here with datetime alone."""
    value = int(value)
    if 19000000 <= value <= 21000000:
        return datetime.date(value // 10000, value // 100 % 100, value % 100).toordinal()
    return value


def plain_records(path):
    """(localid, image (T, 42, 42, 4), labels, dates, weights) per record, read with
    TensorFlow's reader and tf.train.Example (not the module under test)."""
    out = []
    for raw in tf.data.TFRecordDataset(str(path)):
        f = tf.train.Example.FromString(raw.numpy()).features.feature
        image = np.frombuffer(f["image_raw_ldseries"].bytes_list.value[0], "<u2")
        out.append((int(f["localid"].int64_list.value[0]),
                    image.reshape(-1, 4, 42, 42).transpose(0, 2, 3, 1),
                    np.frombuffer(f["labels"].bytes_list.value[0], np.int8).astype(np.int64),
                    np.frombuffer(f["dates"].bytes_list.value[0], "<i8"),
                    np.frombuffer(f["weights"].bytes_list.value[0], "<f4")))
    return out


def plain_join(files):
    """{(tile, localid): (image, labels, dates, weights, pieces, files)}: every record of
    the files grouped by tile and localid, its timestamps put in date order one by one,
    a repeated date dropped (after checking its data is the same)."""
    groups = {}
    for path in files:
        tile = path.name.split("_")[1]
        for localid, image, labels, dates, weights in plain_records(path):
            group = groups.setdefault((tile, localid), {"steps": {}, "pieces": 0, "files": set()})
            group["pieces"] += 1
            group["files"].add(path.name)
            for t in range(len(dates)):
                step = (image[t], labels[t], dates[t], weights[t])
                day = plain_day(dates[t])
                if day in group["steps"]:
                    kept = group["steps"][day]
                    assert all(np.array_equal(a, b) for a, b in zip(kept, step))
                    group["overlap"] = True
                else:
                    group["steps"][day] = step
    out = {}
    for key, group in groups.items():
        steps = [group["steps"][d] for d in sorted(group["steps"])]
        out[key] = (np.stack([s[0] for s in steps]), np.array([s[1] for s in steps]),
                    np.array([s[2] for s in steps]), np.array([s[3] for s in steps]),
                    group["pieces"], group["files"], group.get("overlap", False))
    return out


@pytest.mark.parametrize("split", ["train", "validation"])
def test_joined_series_equal_plain_concatenation(samples, tmp_path, split):
    root, _ = samples
    files = s2_cloud.split_files(root, split, tmp_path / "scratch", progress=False)
    want = plain_join(files)
    got = list(s2_cloud.iter_joined(files))
    assert len(got) == len(want)
    assert len({k for k, _ in got}) == len(got)
    for key, example in got:
        image, labels, dates, weights, pieces, _, _ = want[(example["tile"], int(example["localid"]))]
        assert key == f"{example['tile']}/{int(example['localid'])}"
        assert example["image"].dtype == np.uint16 and example["image"].flags.c_contiguous
        np.testing.assert_array_equal(example["image"], image)
        np.testing.assert_array_equal(example["labels"], labels)
        np.testing.assert_array_equal(example["dates"], dates)
        np.testing.assert_array_equal(example["weights"], weights)
        assert example["pieces"].dtype == np.int32 and example["pieces"] == pieces
        days = [plain_day(d) for d in example["dates"]]
        assert all(a < b for a, b in zip(days, days[1:]))  # strictly increasing
    # the sample exercises joining: within a file (the 130-long series), across an
    # extracted file and an archive, with one date in two pieces (same data)
    many = [v for v in want.values() if v[4] > 1]
    assert many
    if split == "validation":
        assert any(len(v[5]) > 1 for v in many) and any(v[6] for v in many)
        assert len(got) < sum(len(plain_records(f)) for f in files)


def test_joined_duplicate_date_with_different_data_names_both_files(tmp_path):
    first = make_example(5, localid=9, seed=1)  # dates 2019-03-01 + 5 k
    later = make_example(4, localid=9, seed=2)
    later["dates"] = first["dates"][-1] + 5 * np.arange(4)  # starts on first's last date
    manual = tmp_path / "manual"
    a = s2_cloud.write_tfrecord(manual / "train_T11ABC_1", [first])
    b = s2_cloud.write_tfrecord(manual / "more" / "train_T11ABC_2.tfrecord",
                                [make_example(2, localid=3, seed=3), later])
    with pytest.raises(SourceDataError) as error:
        list(s2_cloud.iter_joined([a, b]))
    assert str(a) in str(error.value) and str(b) in str(error.value)
    assert "2019-03-21" in str(error.value) and "different data" in str(error.value)
    # the same date with the same data is kept once
    same = {k: np.concatenate([first[k][-1:], v[1:]]) if k in ("image", "labels", "dates",
                                                                "weights") else v
            for k, v in later.items()}
    b = s2_cloud.write_tfrecord(manual / "more" / "train_T11ABC_2.tfrecord",
                                [make_example(2, localid=3, seed=3), same])
    joined = dict(s2_cloud.iter_joined([b, a]))  # file order does not matter: dates do
    assert set(joined) == {"T11ABC/9", "T11ABC/3"}
    series = joined["T11ABC/9"]
    assert series["pieces"] == 2 and len(series["dates"]) == 8
    np.testing.assert_array_equal(series["image"], np.concatenate([first["image"], same["image"][1:]]))
    np.testing.assert_array_equal(series["dates"], 737119 + 5 * np.arange(8))


def test_joined_undecodable_date_names_file_and_record(tmp_path):
    bad = make_example(3, localid=1)
    bad["dates"] = np.array([737119, 20191301, 737130])  # month 13
    path = s2_cloud.write_tfrecord(tmp_path / "val_T11ABC_2", [make_example(2, localid=2), bad])
    assert len(read_all(path)) == 2  # the pieces as published keep raw dates
    with pytest.raises(SourceDataError, match=r"val_T11ABC_2: record 1: date 20191301"):
        list(s2_cloud.iter_joined([path]))
