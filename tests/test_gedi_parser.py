"""The GEDI AGBD reader, sample writer and fuser against real HDF5 files.

Every example the reader returns is compared bit for bit with what the sample writer
put in the file (read back with plain h5py); variants the writer does not make (the
README's dtypes, fixed-length strings, text delta time, reordered SCL stats, a fused
uncompressed file) are written by hand here.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import h5py
import numpy as np
import pytest

from parsers import gedi_agbd
from parsers.errors import SourceDataError

SPEC_FEATURES = {
    "sentinel2", "worldcover", "copdem", "agbd_raster", "agbd", "agbd_se", "lat_lon",
    "transform", "crs", "scl_stats", "s2_product", "worldcover_tile", "copdem_tile",
    "gedi_product", "acquisition_time", "shot_number", "delta_time",
}
SOURCE_DTYPES = {  # the publisher's code (tfds_builders/gedi_agbd/README.md, "Source format")
    "Sentinel-2 L2A": ("int16", (12, 32, 32)),
    "WorldCover": ("uint8", (1, 32, 32)),
    "CopDEM": ("float32", (2, 32, 32)),
    "AGBD Raster": ("float32", (1, 32, 32)),
    "Transforms": ("float64", (9,)),
    "CRS": ("string", (1,)),
    "S2 SCL Stats": ("string", (12, 2)),
    "Sentinel-2 Product Name": ("string", (1,)),
    "WorldCover Tile Name": ("string", (1,)),
    "CopDEM Tile Name": ("string", (1,)),
    "GEDI Product Name": ("string", (1,)),
    "AGBD Values": ("float32", (1,)),
    "AGBD Standard Error": ("float32", (1,)),
    "GEDI Shot Number": ("int64", (1,)),
    "GEDI Acquisition Time": ("string", (1,)),
    "GEDI Delta Time": ("float32", (1,)),
    "GEDI Lat Lon": ("float64", (2,)),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> pathlib.Path:
    return gedi_agbd.write_samples(tmp_path_factory.mktemp("gedi") / "gedi_agbd", seed=0)


def load_raw(path) -> dict[str, np.ndarray]:
    """Every dataset of group ``data`` as h5py returns it (vlen strings: bytes objects)."""
    with h5py.File(path, "r") as f:
        return {name: ds[()] for name, ds in f["data"].items()}


def write_raw(path, arrays: dict, strings: str = "vlen", compression="lzf") -> None:
    """Write ``arrays`` by hand; strings as vlen UTF-8 ("vlen") or fixed-length ("fixed")."""
    with h5py.File(path, "w") as f:
        group = f.create_group("data")
        for name, value in arrays.items():
            kwargs = {"chunks": (1,) + value.shape[1:]} if value.shape[0] else {}
            if compression and value.shape[0]:
                kwargs["compression"] = compression
            if value.dtype.kind in "OSU":
                texts = np.array([v.decode() if isinstance(v, bytes) else str(v)
                                  for v in value.reshape(-1)], dtype=object).reshape(value.shape)
                if strings == "vlen":
                    group.create_dataset(name, data=texts, dtype=h5py.string_dtype(), **kwargs)
                else:
                    fixed = np.array([t.encode() for t in texts.reshape(-1)]).reshape(value.shape)
                    group.create_dataset(name, data=fixed, **kwargs)
            else:
                group.create_dataset(name, data=value, **kwargs)


def expected_example(raw: dict, i: int) -> dict:
    """What the reader must return for row ``i``, computed from the raw arrays."""
    def text(name):
        return bytes(raw[name][i].reshape(-1)[0])
    stats = np.zeros(12, np.float32)
    for name, fraction in raw["S2 SCL Stats"][i]:
        stats[gedi_agbd.SCL_CLASS_NAMES.index(name.decode())] = float(fraction)
    delta = raw["GEDI Delta Time"][i].reshape(-1)[0]
    return {
        "sentinel2": raw["Sentinel-2 L2A"][i].transpose(1, 2, 0).astype(np.int16),
        "worldcover": raw["WorldCover"][i].transpose(1, 2, 0),
        "copdem": raw["CopDEM"][i].transpose(1, 2, 0),
        "agbd_raster": raw["AGBD Raster"][i].transpose(1, 2, 0),
        "agbd": np.float32(raw["AGBD Values"][i].reshape(-1)[0]),
        "agbd_se": np.float32(raw["AGBD Standard Error"][i].reshape(-1)[0]),
        "lat_lon": raw["GEDI Lat Lon"][i].astype(np.float64),
        "transform": raw["Transforms"][i].astype(np.float64),
        "crs": text("CRS"),
        "scl_stats": stats,
        "s2_product": text("Sentinel-2 Product Name"),
        "worldcover_tile": text("WorldCover Tile Name"),
        "copdem_tile": text("CopDEM Tile Name"),
        "gedi_product": text("GEDI Product Name"),
        "acquisition_time": text("GEDI Acquisition Time"),
        "shot_number": np.int64(raw["GEDI Shot Number"][i].reshape(-1)[0]),
        "delta_time": np.float64(float(delta.decode()) if isinstance(delta, bytes) else delta),
    }


def assert_same(example: dict, expected: dict) -> None:
    assert set(example) == SPEC_FEATURES
    for name, want in expected.items():
        got = example[name]
        dtype, shape = gedi_agbd.FEATURES[name]
        if dtype == "string":
            assert isinstance(got, bytes), name
            assert got == want, name
            continue
        got = np.asarray(got)
        assert got.dtype == dtype and got.shape == shape, (name, got.dtype, got.shape)
        assert got.tobytes() == np.asarray(want, dtype).tobytes(), name  # bit for bit


def assert_file_read(path, raw=None) -> None:
    raw = load_raw(path) if raw is None else raw
    pairs = list(gedi_agbd.iter_file(path))
    assert len(pairs) == len(raw["GEDI Shot Number"])
    for i, (key, example) in enumerate(pairs):
        assert key == str(int(raw["GEDI Shot Number"][i, 0]))
        assert_same(example, expected_example(raw, i))


def sample_raw(samples, name="train_batch_0.h5") -> dict:
    return load_raw(samples / name)


def assert_error(excinfo, path, *words) -> None:
    message = str(excinfo.value)
    assert os.path.abspath(path) in message
    for word in words:
        assert word in message, (word, message)


# ----------------------------------------------------------------- sample writer


def test_writer_layout_is_the_publishers(samples):
    files = sorted(p.name for p in samples.iterdir())
    assert files == ["test_batch_0.h5", "train_batch_0.h5", "train_batch_1.h5"]
    total = 0
    for path in samples.iterdir():
        with h5py.File(path, "r") as f:
            assert list(f.keys()) == ["data"]
            group = f["data"]
            assert set(group) == set(gedi_agbd.DATASET_NAMES.values()) == set(SOURCE_DTYPES)
            n = group["GEDI Shot Number"].shape[0]
            total += n
            for name, (dtype, trailing) in SOURCE_DTYPES.items():
                ds = group[name]
                assert ds.shape == (n,) + trailing, name
                assert ds.compression == "lzf" and ds.chunks == (1,) + trailing, name
                if dtype == "string":
                    info = h5py.check_string_dtype(ds.dtype)
                    assert info.encoding == "utf-8" and info.length is None, name
                else:
                    assert ds.dtype == np.dtype(dtype), name
    assert 20 <= total <= 60
    assert sum(p.stat().st_size for p in samples.iterdir()) < 5 * 2**20


def test_writer_values_are_realistic(samples):
    shots = []
    for path in sorted(samples.iterdir()):
        raw = load_raw(path)
        shots.extend(raw["GEDI Shot Number"][:, 0].tolist())
        s2 = raw["Sentinel-2 L2A"]
        assert s2[:, 0].min() >= 0 and s2[:, 0].max() <= 11  # SCL classes
        assert np.isin(s2[:, 0, 14:18, 14:18], [4, 5]).all()  # the publisher's filter
        assert np.isin(raw["WorldCover"], [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100]).all()
        for i in range(len(s2)):
            raster = raw["AGBD Raster"][i, 0]
            on = raster != -9999
            assert 4 <= on.sum() <= 40 and on[14:18, 14:18].all()
            assert (raster[on] == raw["AGBD Values"][i, 0]).all()
            names = [n.decode() for n in raw["S2 SCL Stats"][i, :, 0]]
            assert names == list(gedi_agbd.SCL_CLASS_NAMES)
            fractions = [float(v) for v in raw["S2 SCL Stats"][i, :, 1]]
            counts = np.bincount(s2[i, 0].reshape(-1), minlength=12) / 1024
            np.testing.assert_allclose(fractions, np.around(counts, 2))
        year = "2021" if path.name.startswith("test") else "2020"
        assert all(t.startswith(year.encode()) for t in raw["GEDI Acquisition Time"][:, 0])
        assert (raw["AGBD Standard Error"] < raw["AGBD Values"] / 2).all()
    assert len(set(shots)) == len(shots)


def test_writer_is_deterministic(samples, tmp_path):
    again = gedi_agbd.write_samples(tmp_path / "again", seed=0)
    other = gedi_agbd.write_samples(tmp_path / "other", seed=1)
    for name in ("train_batch_0.h5", "test_batch_0.h5"):
        a, b, c = load_raw(samples / name), load_raw(again / name), load_raw(other / name)
        for key in a:
            assert a[key].tobytes() == b[key].tobytes() if a[key].dtype != object else \
                a[key].tolist() == b[key].tolist()
        assert a["Sentinel-2 L2A"].tobytes() != c["Sentinel-2 L2A"].tobytes()
    assert not [p for p in again.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------ reader


def test_every_example_equals_what_was_written(samples):
    for path in gedi_agbd.find_files(samples):
        assert_file_read(path)


def test_scl_stats_are_fractions_of_the_scl_band(samples):
    for _, example in gedi_agbd.iter_file(samples / "train_batch_1.h5"):
        counts = np.bincount(example["sentinel2"][..., 0].reshape(-1), minlength=12)
        np.testing.assert_allclose(example["scl_stats"], np.around(counts / 1024, 2), atol=1e-6)
        assert example["scl_stats"][gedi_agbd.SCL_CLASS_NAMES.index("VEGETATION")] > 0 or \
            example["scl_stats"][gedi_agbd.SCL_CLASS_NAMES.index("NOT_VEGETATED")] > 0


def test_constants():
    assert gedi_agbd.SENTINEL2_BANDS == ("SCL", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                    "B8A", "B09", "B11", "B12")
    assert len(gedi_agbd.SCL_CLASS_NAMES) == 12 and gedi_agbd.SCL_CLASS_NAMES[4] == "VEGETATION"
    assert set(gedi_agbd.DATASET_NAMES) == set(gedi_agbd.FEATURES) == SPEC_FEATURES


def test_splits_files_and_work_items(samples, tmp_path):
    assert gedi_agbd.split_of("test_2021.h5") == "test"
    assert gedi_agbd.split_of(pathlib.Path("x") / "train_batch_0.h5") == "train"
    assert gedi_agbd.split_of("fused_dataset.h5") == "train"
    splits = gedi_agbd.split_files(samples)
    assert [p.name for p in splits["train"]] == ["train_batch_0.h5", "train_batch_1.h5"]
    assert [p.name for p in splits["test"]] == ["test_batch_0.h5"]
    assert gedi_agbd.num_examples(splits["train"]) == 21

    items = gedi_agbd.work_items(splits["train"], examples_per_item=5)
    assert len(items) == 3 + 2 and items[0] == (str(splits["train"][0]), 0, 5)
    by_items = [pair for item in items for pair in gedi_agbd.iter_work_item(item)]
    whole = list(gedi_agbd.iter_examples(splits["train"]))
    assert [k for k, _ in by_items] == [k for k, _ in whole]
    for (_, a), (_, b) in zip(by_items, whole):
        assert_same(a, b)

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("b.hdf5", "a.h5", "notes.txt", "c.H5"):
        (mixed / name).write_bytes(b"")
    assert [p.name for p in gedi_agbd.find_files(mixed)] == ["a.h5", "b.hdf5", "c.H5"]


def shots_of(path) -> list[int]:
    with h5py.File(path, "r") as f:
        return [int(v) for v in f["data"]["GEDI Shot Number"][:, 0]]


def test_publisher_names_and_split_folders(samples, tmp_path):
    root = gedi_agbd.write_samples(tmp_path / "pub", seed=0, layout="publisher")
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*.h5"))
    assert on_disk == ["batch_12_0.h5", "batch_12_1.h5", "test/batch_7_0.h5"]
    for ours, theirs in gedi_agbd.PUBLISHER_NAMES.items():  # the same data under either name
        a, b = load_raw(samples / ours), load_raw(root / theirs)
        assert all(a[k].tolist() == b[k].tolist() for k in a)
    # the publisher's names (and fused_dataset.h5) go to train, test/ to test
    shutil.copy(samples / "train_batch_0.h5", root / "fused_dataset.h5")
    splits = gedi_agbd.split_files(root)
    assert [str(p.relative_to(root)) for p in splits["train"]] == \
        ["batch_12_0.h5", "batch_12_1.h5", "fused_dataset.h5"]
    assert [str(p.relative_to(root)) for p in splits["test"]] == ["test/batch_7_0.h5"]
    test_keys = [k for k, _ in gedi_agbd.iter_examples(splits["test"])]
    assert test_keys == [str(v) for v in shots_of(samples / "test_batch_0.h5")]
    # train/ and test/ folders, whatever the files are called
    folders = tmp_path / "folders"
    (folders / "train").mkdir(parents=True)
    (folders / "test").mkdir()
    shutil.copy(samples / "train_batch_1.h5", folders / "train" / "a.h5")
    shutil.copy(samples / "test_batch_0.h5", folders / "test" / "a.h5")
    shutil.copy(samples / "train_batch_0.h5", folders / "b.h5")
    splits = gedi_agbd.split_files(folders)
    assert splits == {"train": [folders / "b.h5", folders / "train" / "a.h5"],
                      "test": [folders / "test" / "a.h5"]}
    # a file whose name says test in the train/ folder: which split it is, is unclear
    shutil.copy(samples / "test_batch_0.h5", folders / "train" / "test_2021.h5")
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.split_files(folders)
    assert_error(excinfo, folders / "train" / "test_2021.h5", "train/")


def test_find_files_errors(tmp_path):
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.find_files(tmp_path)
    assert_error(excinfo, tmp_path, "no .h5 files")
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.find_files(tmp_path / "absent")
    assert_error(excinfo, tmp_path / "absent", "not found")


def test_readme_dtypes_and_fixed_length_strings(samples, tmp_path):
    """uint16 Sentinel-2, float32 transforms/lat-lon, fixed-length strings, text delta time."""
    raw = sample_raw(samples)
    variant = dict(raw)
    variant["Sentinel-2 L2A"] = raw["Sentinel-2 L2A"].astype(np.uint16)
    variant["Transforms"] = raw["Transforms"].astype(np.float32)
    variant["GEDI Lat Lon"] = raw["GEDI Lat Lon"].astype(np.float32)
    variant["GEDI Delta Time"] = np.array(
        [[f"{t:.3f}".encode()] for t in raw["GEDI Delta Time"][:, 0].astype(np.float64) + 0.125],
        dtype=object)
    for strings in ("vlen", "fixed"):
        path = tmp_path / f"readme_{strings}.h5"
        write_raw(path, variant, strings=strings)
        with h5py.File(path) as f:
            assert f["data/Transforms"].dtype == np.float32
            assert (f["data/CRS"].dtype.kind == "S") == (strings == "fixed")
        assert_file_read(path, raw=variant)
        _, first = next(gedi_agbd.iter_file(path))
        assert first["delta_time"] == float(variant["GEDI Delta Time"][0, 0])
        assert first["delta_time"] % 1 == 0.125  # text keeps what float32 could not
        np.testing.assert_array_equal(first["sentinel2"],
                                      raw["Sentinel-2 L2A"][0].transpose(1, 2, 0))


def test_uncompressed_fused_layout_and_squeezed_shapes(samples, tmp_path):
    """The publisher's fused file (no compression), and (N,) scalar datasets."""
    raw = sample_raw(samples, "test_batch_0.h5")
    variant = dict(raw)
    for name in ("AGBD Values", "AGBD Standard Error", "GEDI Shot Number", "CRS"):
        variant[name] = raw[name][:, 0]
    path = tmp_path / "test_fused.h5"
    write_raw(path, variant, compression=None)
    assert_file_read(path, raw=raw)


def test_scl_stats_matched_by_name_not_position(samples, tmp_path):
    raw = sample_raw(samples)
    variant = dict(raw)
    order = np.random.default_rng(3).permutation(12)
    variant["S2 SCL Stats"] = raw["S2 SCL Stats"][:, order]
    path = tmp_path / "shuffled.h5"
    write_raw(path, variant)
    original = gedi_agbd.iter_file(samples / "train_batch_0.h5")
    for (_, got), (_, want) in zip(gedi_agbd.iter_file(path), original):
        assert got["scl_stats"].tobytes() == want["scl_stats"].tobytes()
    assert not (order == np.arange(12)).all()


def test_empty_file_yields_nothing(samples, tmp_path):
    raw = sample_raw(samples)
    path = tmp_path / "empty.h5"
    write_raw(path, {k: v[:0] for k, v in raw.items()})
    assert list(gedi_agbd.iter_file(path)) == []
    assert gedi_agbd.inspect_file(path) == 0


# --------------------------------------------------------------------- bad input


@pytest.fixture()
def raw(samples):
    return sample_raw(samples)


def test_missing_dataset(raw, tmp_path):
    path = tmp_path / "train_missing.h5"
    write_raw(path, {k: v for k, v in raw.items() if k != "CopDEM"})
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_file(path))
    assert_error(excinfo, path, "'data/CopDEM'", "missing")


def test_missing_group(tmp_path):
    path = tmp_path / "nogroup.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Sentinel-2 L2A", data=np.zeros((1, 12, 32, 32), np.int16))
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.inspect_file(path)
    assert_error(excinfo, path, "group 'data'")


def test_unequal_n(raw, tmp_path):
    path = tmp_path / "unequal.h5"
    variant = dict(raw)
    variant["GEDI Lat Lon"] = raw["GEDI Lat Lon"][:-1]
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_examples([path]))
    assert_error(excinfo, path, "'data/GEDI Lat Lon'", f"{len(raw['GEDI Lat Lon']) - 1} rows",
                 "unequal N")


def test_not_hdf5(tmp_path):
    for name, content in (("text.h5", b"this is not HDF5\n" * 10), ("empty.h5", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(SourceDataError) as excinfo:
            list(gedi_agbd.iter_file(path))
        assert_error(excinfo, path, "HDF5")


def test_truncated_hdf5(samples, tmp_path):
    path = tmp_path / "truncated.h5"
    data = (samples / "train_batch_0.h5").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_file(path))
    assert_error(excinfo, path)


def test_wrong_shape_and_dtype(raw, tmp_path):
    path = tmp_path / "shape.h5"
    variant = dict(raw)
    variant["Sentinel-2 L2A"] = raw["Sentinel-2 L2A"][:, :10]
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.inspect_file(path)
    assert_error(excinfo, path, "'data/Sentinel-2 L2A'", "shape")

    path = tmp_path / "dtype.h5"
    variant = dict(raw)
    variant["GEDI Lat Lon"] = np.array([[b"1", b"2"]] * len(raw["GEDI Lat Lon"]), dtype=object)
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.inspect_file(path)
    assert_error(excinfo, path, "'data/GEDI Lat Lon'", "dtype")


def test_uint16_sentinel2_that_does_not_fit_int16(raw, tmp_path):
    path = tmp_path / "uint16.h5"
    variant = dict(raw)
    variant["Sentinel-2 L2A"] = raw["Sentinel-2 L2A"].astype(np.uint16)
    variant["Sentinel-2 L2A"][5, 3, 7, 7] = 40000
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_file(path))
    assert_error(excinfo, path, "'data/Sentinel-2 L2A'", "record 5", "40000")


def test_unknown_scl_class_name(raw, tmp_path):
    path = tmp_path / "scl.h5"
    variant = dict(raw)
    stats = raw["S2 SCL Stats"].copy()
    stats[2, 11, 0] = b"SNOW_ICE"
    variant["S2 SCL Stats"] = stats
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_file(path))
    assert_error(excinfo, path, "'data/S2 SCL Stats'", "record 2", "SNOW_ICE")


def test_bad_delta_time_text(raw, tmp_path):
    path = tmp_path / "delta.h5"
    variant = dict(raw)
    variant["GEDI Delta Time"] = np.array([[b"12.5"]] * 3 + [[b"soon"]]
                                          + [[b"1.0"]] * (len(raw["GEDI Delta Time"]) - 4),
                                          dtype=object)
    write_raw(path, variant)
    with pytest.raises(SourceDataError) as excinfo:
        list(gedi_agbd.iter_file(path))
    assert_error(excinfo, path, "'data/GEDI Delta Time'", "record 3", "soon")


def test_duplicate_shot_number_across_files(samples, tmp_path):
    first = samples / "train_batch_0.h5"
    raw = load_raw(samples / "train_batch_1.h5")
    raw["GEDI Shot Number"] = raw["GEDI Shot Number"].copy()
    raw["GEDI Shot Number"][4, 0] = load_raw(first)["GEDI Shot Number"][7, 0]
    second = tmp_path / "train_batch_1.h5"
    write_raw(second, raw)
    pairs = gedi_agbd.iter_examples([first, second])
    with pytest.raises(SourceDataError) as excinfo:
        list(pairs)
    assert_error(excinfo, second, os.path.abspath(first), "duplicate shot number",
                 "record 4", "(record 7)")


# -------------------------------------------------------------------------- fuse


def test_fuse_equals_concatenation_in_sorted_order(samples, tmp_path):
    train = tmp_path / "batches"
    train.mkdir()
    # Written in reverse name order: the fuser must sort, not follow the directory.
    for name in ("train_batch_1.h5", "train_batch_0.h5"):
        (train / name).write_bytes((samples / name).read_bytes())
    (train / "README.txt").write_text("not a batch")
    out = gedi_agbd.fuse_hdf5(train, tmp_path / "fused" / "train_fused.h5", progress=False)
    assert out == tmp_path / "fused" / "train_fused.h5"
    assert [p.name for p in out.parent.iterdir()] == ["train_fused.h5"]  # no temp left

    parts = [load_raw(train / "train_batch_0.h5"), load_raw(train / "train_batch_1.h5")]
    fused = load_raw(out)
    with h5py.File(out) as f, h5py.File(train / "train_batch_0.h5") as g:
        assert set(f["data"]) == set(g["data"])
        for name, ds in f["data"].items():
            src = g["data"][name]
            assert ds.dtype == src.dtype and ds.shape[1:] == src.shape[1:], name
            assert h5py.check_string_dtype(ds.dtype) == h5py.check_string_dtype(src.dtype)
            assert ds.compression == "lzf" and ds.chunks == (1,) + ds.shape[1:], name
    for name in fused:
        want = np.concatenate([p[name] for p in parts])
        assert fused[name].shape == want.shape
        if want.dtype == object:
            assert fused[name].tolist() == want.tolist(), name
        else:
            assert fused[name].tobytes() == want.tobytes(), name

    by_parts = list(gedi_agbd.iter_examples(sorted(train.glob("*.h5"))))
    by_fused = list(gedi_agbd.iter_examples([out]))
    assert [k for k, _ in by_fused] == [k for k, _ in by_parts]
    for (_, a), (_, b) in zip(by_fused, by_parts):
        assert_same(a, b)

    # The output inside the input folder is not fused into itself on a rerun.
    again = gedi_agbd.fuse_hdf5(train, train / "zz_fused.h5", progress=False)
    again = gedi_agbd.fuse_hdf5(train, train / "zz_fused.h5", progress=False)
    assert gedi_agbd.inspect_file(again) == len(by_parts)


def test_fuse_refuses_to_mix_splits_and_writes_one_file_per_split(samples, tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    for name in gedi_agbd.SAMPLE_FILES:
        shutil.copy(samples / name, src / name)
    output = tmp_path / "out" / "fused.h5"
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.fuse_hdf5(src, output, progress=False)
    assert_error(excinfo, src, "train_batch_0.h5", "test_batch_0.h5", "--per-split")
    assert not output.exists() and not output.parent.exists()
    # train/ and test/ folders are two splits as well
    folders = gedi_agbd.write_samples(tmp_path / "pub", layout="publisher")
    with pytest.raises(SourceDataError):
        gedi_agbd.fuse_hdf5(folders, tmp_path / "fused_dataset.h5", progress=False)
    assert not (tmp_path / "fused_dataset.h5").exists()

    outputs = gedi_agbd.fuse_hdf5_per_split(src, tmp_path / "per_split", progress=False)
    assert outputs == {"train": tmp_path / "per_split" / "train_fused.h5",
                       "test": tmp_path / "per_split" / "test_fused.h5"}
    for split, names in (("train", ["train_batch_0.h5", "train_batch_1.h5"]),
                         ("test", ["test_batch_0.h5"])):
        assert shots_of(outputs[split]) == [v for n in names for v in shots_of(samples / n)]
        fused, parts = load_raw(outputs[split]), [load_raw(samples / n) for n in names]
        for key in fused:
            assert fused[key].tolist() == np.concatenate([p[key] for p in parts]).tolist(), key
    assert gedi_agbd.split_files(tmp_path / "per_split") == {
        "train": [outputs["train"]], "test": [outputs["test"]]}
    # a rerun into the input folder does not fuse its own outputs
    again = gedi_agbd.fuse_hdf5_per_split(src, src, progress=False)
    again = gedi_agbd.fuse_hdf5_per_split(src, src, progress=False)
    assert gedi_agbd.inspect_file(again["train"]) == 21 and gedi_agbd.inspect_file(again["test"]) == 7


def test_fuse_keeps_no_compression(samples, tmp_path):
    src = tmp_path / "plain"
    src.mkdir()
    write_raw(src / "a.h5", sample_raw(samples), compression=None)
    out = gedi_agbd.fuse_hdf5(src, tmp_path / "fused.h5", progress=False)
    with h5py.File(out) as f:
        assert all(ds.compression is None for ds in f["data"].values())
    assert_file_read(out, raw=sample_raw(samples))


@pytest.mark.parametrize("change", ["dtype", "shape", "missing", "extra"])
def test_fuse_schema_differs(samples, tmp_path, change):
    src = tmp_path / "src"
    src.mkdir()
    (src / "batch_0.h5").write_bytes((samples / "train_batch_0.h5").read_bytes())
    raw = sample_raw(samples, "train_batch_1.h5")
    if change == "dtype":
        raw["Transforms"] = raw["Transforms"].astype(np.float32)
    elif change == "shape":
        raw["CopDEM"] = raw["CopDEM"][:, :1]
    elif change == "missing":
        del raw["Transforms"]
    else:
        raw["Extra"] = raw["Transforms"]
    bad = src / "batch_1.h5"
    write_raw(bad, raw)
    output = tmp_path / "out" / "fused.h5"
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.fuse_hdf5(src, output, progress=False)
    assert_error(excinfo, bad, "'data/" + ("Extra" if change == "extra" else
                                          "CopDEM" if change == "shape" else "Transforms"))
    assert not output.exists()
    assert not output.parent.exists() or not list(output.parent.iterdir())


def test_fuse_bad_inputs(samples, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "batch_0.h5").write_bytes((samples / "train_batch_0.h5").read_bytes())
    bad = src / "batch_1.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.fuse_hdf5(src, tmp_path / "fused.h5", progress=False)
    assert_error(excinfo, bad, "HDF5")

    raw = sample_raw(samples, "train_batch_1.h5")
    raw["AGBD Values"] = raw["AGBD Values"][:-2]
    write_raw(bad, raw)
    with pytest.raises(SourceDataError) as excinfo:
        gedi_agbd.fuse_hdf5(src, tmp_path / "fused.h5", progress=False)
    assert_error(excinfo, bad, "'data/AGBD Values'", "unequal N")
    assert not (tmp_path / "fused.h5").exists()
    assert sorted(p.name for p in src.iterdir()) == ["batch_0.h5", "batch_1.h5"]
