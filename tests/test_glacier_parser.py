"""The glacier_interp GeoTIFF reader: examples equal what the files hold, normalisation
bounds equal a brute-force computation, tiles cover each scene exactly once, and bad
input fails with a SourceDataError naming the scene and the file."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from parsers import glacier
from parsers.errors import SourceDataError

# Small scenes of both splits and all three large-scene shapes (tall, wide, both).
SUBSET = ["l5_scene_01", "l5_scene_12", "l8_scene_02", "s2_scene_05", "s2_scene_11",
          "l9_scene_07"]


@pytest.fixture(scope="module")
def subset_root(tmp_path_factory):
    return glacier.write_samples(tmp_path_factory.mktemp("glacier") / "glacier_interp",
                                 scenes=SUBSET)


@pytest.fixture
def tiny_root(tmp_path):
    """A fresh manual_dir with two small sample scenes, for the bad-input tests."""
    return glacier.write_samples(tmp_path / "glacier_interp",
                                 scenes=["l7_scene_04", "l9_scene_11"])


def read_raw(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(masked=False)


def files_of(root, scene_id):
    return (root / "scene" / f"{scene_id}.tif", root / "dem" / f"{scene_id}_dem.tif",
            root / "truth" / f"{scene_id}.tif")


def brute_force_bounds(bands: np.ndarray, dem: np.ndarray):
    """Means of the k = max(1, floor(5% of n)) smallest / largest values, by sorting."""
    channels = [bands[c].ravel() for c in range(6)] + [dem.ravel()]
    lo, hi = [], []
    for values in channels:
        values = np.sort(values.astype(np.int64))
        k = max(1, (values.size * 5) // 100)
        lo.append(values[:k].sum() / k)
        hi.append(values[-k:].sum() / k)
    return np.array(lo, np.float32), np.array(hi, np.float32)


def reference_normalize(raw7: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    out = np.empty(raw7.shape, np.float32)
    for c in range(7):
        span = np.float32(hi[c] - lo[c])
        if span == 0:
            out[..., c] = 0
        else:
            out[..., c] = np.clip((raw7[..., c].astype(np.float32) - lo[c]) / span, 0, 1)
    return out


def write_tif(path, data, transform, crs, nodata=None, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    count, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", height=h, width=w, count=count,
                       dtype=data.dtype.name, transform=transform, crs=crs, nodata=nodata,
                       **options) as dst:
        dst.write(data)


def hand_scene(root, scene_id, bands, dem, truth, transform, crs, *, suffix=".tif",
               dem_transform=None, **options):
    write_tif(root / "scene" / f"{scene_id}{suffix}", bands, transform, crs, **options)
    write_tif(root / "dem" / f"{scene_id}_dem{suffix}", dem[None],
              dem_transform or transform, crs, **options)
    write_tif(root / "truth" / f"{scene_id}{suffix}", truth[None], transform, crs, nodata=0,
              **options)


UTM = CRS.from_epsg(32632)
GRID = Affine(30.0, 0.0, 400_020.0, 0.0, -30.0, 5_100_000.0)


# --- the sample set --------------------------------------------------------------------


def test_full_sample_set_layout_and_grids(tmp_path):
    root = glacier.write_samples(tmp_path / "glacier_interp", seed=0)
    scenes = glacier.find_scenes(root)
    ids = [s for s, _ in scenes]
    assert ids == sorted(ids) == glacier.all_scene_ids() and len(ids) == 65
    validation = glacier.scene_ids(root, "validation")
    assert len(glacier.scene_ids(root, "train")) == 50 and len(validation) == 15
    assert {int(s[-2:]) for s in validation} == {11, 12, 13}
    assert {s[:2] for s in validation} == set(glacier.SENSORS)

    total = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    assert total < 15e6
    assert not [f for f in root.rglob("*") if f.name.startswith(".")]  # no leftovers
    shapes, large = set(), []
    for scene_id in ids:
        scene_f, dem_f, truth_f = files_of(root, scene_id)
        with rasterio.open(scene_f) as s, rasterio.open(dem_f) as d, \
                rasterio.open(truth_f) as t:
            assert (s.count, s.dtypes[0], d.count, d.dtypes[0], t.count, t.dtypes[0]) == \
                (6, "uint16", 1, "int16", 1, "uint8")
            assert s.crs.to_epsg() // 100 in (326, 327)
            assert s.crs == d.crs == t.crs and s.transform == d.transform == t.transform
            assert s.res[0] in ((10.0, 30.0) if scene_id.startswith("s2") else (30.0,))
            assert t.nodata == 0 and s.compression is not None
            shapes.add(s.shape)
            if max(s.shape) > 512:
                large.append(scene_id)
            truth = t.read(1)
            assert set(np.unique(truth)) == {0, 1}  # both classes in every scene
    assert len(shapes) > 40
    assert len(large) >= 3 and any(glacier.split_of(s) == "validation" for s in large)


def test_writer_is_deterministic_per_scene_and_seed(tmp_path, subset_root):
    again = glacier.write_samples(tmp_path / "a", seed=0, scenes=["l8_scene_02"])
    other = glacier.write_samples(tmp_path / "b", seed=1, scenes=["l8_scene_02"])
    for a, b, c in zip(files_of(subset_root, "l8_scene_02"), files_of(again, "l8_scene_02"),
                       files_of(other, "l8_scene_02")):
        np.testing.assert_array_equal(read_raw(a), read_raw(b))
        assert read_raw(a).shape != read_raw(c).shape or \
            not np.array_equal(read_raw(a), read_raw(c))


# --- scenes config ---------------------------------------------------------------------


@pytest.mark.parametrize("scene_id", SUBSET)
def test_scene_example_equals_file_values(subset_root, scene_id):
    examples = list(glacier.iter_scene_examples(subset_root, scene_id))
    assert len(examples) == 1
    key, ex = examples[0]
    assert key == ex["id"] == scene_id and ex["sensor"] == scene_id[:2]
    assert set(ex) == {"id", "sensor", "image", "dem", "mask", "norm_min", "norm_max"}
    bands, dem, truth = (read_raw(f) for f in files_of(subset_root, scene_id))
    h, w = bands.shape[1:]
    assert ex["image"].dtype == np.uint16 and ex["image"].shape == (h, w, 6)
    assert ex["dem"].dtype == np.int16 and ex["dem"].shape == (h, w, 1)
    assert ex["mask"].dtype == np.uint8 and ex["mask"].shape == (h, w)
    np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
    np.testing.assert_array_equal(ex["dem"][..., 0], dem[0])
    np.testing.assert_array_equal(ex["mask"], truth[0])

    lo, hi = brute_force_bounds(bands, dem[0])
    assert ex["norm_min"].dtype == ex["norm_max"].dtype == np.float32
    assert ex["norm_min"].shape == ex["norm_max"].shape == (7,)
    np.testing.assert_array_equal(ex["norm_min"], lo)
    np.testing.assert_array_equal(ex["norm_max"], hi)
    assert np.all(lo < hi)
    b_lo, b_hi = glacier.normalization_bounds(subset_root, scene_id)
    np.testing.assert_array_equal(b_lo, lo)
    np.testing.assert_array_equal(b_hi, hi)


def test_bounds_exact_when_read_in_many_strips(subset_root, monkeypatch):
    # A tiny strip budget: the histograms are accumulated over dozens of windows.
    monkeypatch.setattr(glacier, "_STRIP_PIXELS", 1000)
    for scene_id in ("l8_scene_02", "l5_scene_01"):
        bands, dem, truth = (read_raw(f) for f in files_of(subset_root, scene_id))
        with rasterio.open(files_of(subset_root, scene_id)[0]) as src:
            assert math.ceil(src.height / glacier._strip_rows(src)) > 2
        lo, hi = brute_force_bounds(bands, dem[0])
        _, ex = next(glacier.iter_scene_examples(subset_root, scene_id))
        np.testing.assert_array_equal(ex["norm_min"], lo)
        np.testing.assert_array_equal(ex["norm_max"], hi)
        np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
        np.testing.assert_array_equal(ex["mask"], truth[0])


def test_tail_count_and_known_bounds(tmp_path):
    assert [glacier.tail_count(n) for n in (1, 19, 20, 39, 40, 100, 1999)] == \
        [1, 1, 1, 1, 2, 5, 99]
    # 40 pixels: each bound is the mean of the 2 smallest / largest values.
    bands = np.stack([np.arange(40, dtype=np.uint16).reshape(5, 8) * (c + 1)
                      for c in range(6)])
    dem = (np.arange(40, dtype=np.int16).reshape(5, 8) - 20) * 7
    truth = np.zeros((5, 8), np.uint8)
    hand_scene(tmp_path, "l8_scene_01", bands, dem, truth, GRID, UTM)
    lo, hi = glacier.normalization_bounds(tmp_path, "l8_scene_01")
    np.testing.assert_array_equal(lo, [0.5 * c for c in range(1, 7)] + [-136.5])
    np.testing.assert_array_equal(hi, [38.5 * c for c in range(1, 7)] + [129.5])


# --- tiles512 config -------------------------------------------------------------------


@pytest.mark.parametrize("scene_id", SUBSET)
def test_tiles_cover_scene_exactly_once(subset_root, scene_id):
    bands, dem, truth = (read_raw(f) for f in files_of(subset_root, scene_id))
    h, w = truth.shape[1:]
    lo, hi = brute_force_bounds(bands, dem[0])
    raw7 = np.concatenate([bands.astype(np.float32), dem.astype(np.float32)])
    expected = reference_normalize(raw7.transpose(1, 2, 0), lo, hi)
    rows, cols = math.ceil(h / 512), math.ceil(w / 512)
    image = np.zeros((rows * 512, cols * 512, 7), np.float32)
    mask = np.zeros((rows * 512, cols * 512), np.uint8)
    cover = np.zeros((rows * 512, cols * 512), np.int32)
    tiles = list(glacier.iter_tile_examples(subset_root, scene_id))
    assert len(tiles) == rows * cols
    assert [(t["row"], t["col"]) for _, t in tiles] == \
        [(r * 512, c * 512) for r in range(rows) for c in range(cols)]
    for key, t in tiles:
        r, c = int(t["row"]), int(t["col"])
        assert key == t["id"] == f"{scene_id}/r{r}_c{c}" and t["sensor"] == scene_id[:2]
        assert set(t) == {"id", "sensor", "row", "col", "image", "mask"}
        assert t["row"].dtype == t["col"].dtype == np.int32
        assert t["image"].dtype == np.float32 and t["image"].shape == (512, 512, 7)
        assert t["mask"].dtype == np.uint8 and t["mask"].shape == (512, 512)
        image[r:r + 512, c:c + 512] = t["image"]
        mask[r:r + 512, c:c + 512] = t["mask"]
        cover[r:r + 512, c:c + 512] += 1
    assert len({k for k, _ in tiles}) == len(tiles)
    assert np.all(cover[:h, :w] == 1)  # every scene pixel in exactly one tile
    np.testing.assert_array_equal(mask[:h, :w], truth[0])
    np.testing.assert_array_equal(image[:h, :w], expected)
    outside = np.ones(mask.shape, bool)
    outside[:h, :w] = False
    assert np.all(mask[outside] == 255) and np.all(image[outside] == 0)
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_tiles_of_a_two_tile_scene_with_constant_band(tmp_path):
    # 513 rows: the second tile holds one scene row; band 3 is constant -> 0.
    rng = np.random.default_rng(5)
    bands = rng.integers(7000, 40000, (6, 513, 70), dtype=np.uint16)
    bands[3] = 12345
    dem = rng.integers(-50, 3000, (513, 70), dtype=np.int16)
    truth = (rng.random((513, 70)) > 0.7).astype(np.uint8)
    hand_scene(tmp_path, "s2_scene_13", bands, dem, truth, GRID, UTM)
    assert glacier.find_scenes(tmp_path) == [("s2_scene_13", "validation")]
    tiles = list(glacier.iter_tile_examples(tmp_path, "s2_scene_13"))
    assert [k for k, _ in tiles] == ["s2_scene_13/r0_c0", "s2_scene_13/r512_c0"]
    last = tiles[1][1]
    np.testing.assert_array_equal(last["mask"][0, :70], truth[512])
    assert np.all(last["mask"][1:] == 255) and np.all(last["mask"][:, 70:] == 255)
    lo, hi = glacier.normalization_bounds(tmp_path, "s2_scene_13")
    assert lo[3] == hi[3] == 12345
    assert np.all(tiles[0][1]["image"][..., 3] == 0)
    raw = np.concatenate([bands.astype(np.float32), dem[None].astype(np.float32)])
    raw = raw.transpose(1, 2, 0)
    np.testing.assert_array_equal(tiles[0][1]["image"][:, :70],
                                  reference_normalize(raw[:512], lo, hi))


# --- the truth's no-data tag -----------------------------------------------------------


def test_truth_background_zero_is_not_masked(subset_root):
    scene_id = "s2_scene_11"
    truth_file = files_of(subset_root, scene_id)[2]
    with rasterio.open(truth_file) as src:
        assert src.nodata == 0
        masked = src.read(1, masked=True)
    zeros = int(np.sum(masked.data == 0))
    assert zeros > 0 and int(masked.mask.sum()) == zeros  # the trap: 0 reads as masked
    _, ex = next(glacier.iter_scene_examples(subset_root, scene_id))
    assert int(np.sum(ex["mask"] == 0)) == zeros
    assert set(np.unique(ex["mask"])) == {0, 1}
    _, tile = next(glacier.iter_tile_examples(subset_root, scene_id))
    h, w = masked.shape
    assert int(np.sum(tile["mask"][:h, :w] == 0)) == zeros
    assert not np.any(tile["mask"][:h, :w] == 255)


# --- variants the writer does not make -------------------------------------------------


def test_hand_written_variants_are_read(tmp_path):
    rng = np.random.default_rng(11)
    made = {}
    # Uncompressed strips, no tags, .tiff names; negative elevations (below sea level);
    # a dem whose transform differs from the scene's by rounding only.
    bands = rng.integers(0, 65535, (6, 37, 53), dtype=np.uint16)
    dem = rng.integers(-400, 200, (37, 53), dtype=np.int16)
    truth = rng.integers(0, 2, (37, 53), dtype=np.uint8)
    rounded = Affine(30.0, 0.0, 400_020.0 + 1e-7, 0.0, -30.0, 5_100_000.0 - 1e-7)
    hand_scene(tmp_path, "l7_scene_10", bands, dem, truth, GRID, UTM, suffix=".tiff",
               dem_transform=rounded)
    made["l7_scene_10"] = (bands, dem, truth)
    # LZW, tiled 16 x 16 blocks, southern-hemisphere UTM zone, Sentinel-2 at 10 m.
    bands = rng.integers(1000, 12000, (6, 48, 40), dtype=np.uint16)
    dem = rng.integers(3000, 6000, (48, 40), dtype=np.int16)
    truth = rng.integers(0, 2, (48, 40), dtype=np.uint8)
    hand_scene(tmp_path, "s2_scene_03", bands, dem, truth,
               Affine(10.0, 0.0, 600_000.0, 0.0, -10.0, 4_500_000.0), CRS.from_epsg(32718),
               compress="lzw", tiled=True, blockxsize=16, blockysize=16)
    made["s2_scene_03"] = (bands, dem, truth)
    (tmp_path / "scene" / "README.txt").write_text("not a scene")
    (tmp_path / "scene" / "l7_scene_10.tif.aux.xml").write_text("<PAMDataset/>")

    assert glacier.find_scenes(tmp_path) == [("l7_scene_10", "train"),
                                            ("s2_scene_03", "train")]
    for scene_id, (bands, dem, truth) in made.items():
        _, ex = next(glacier.iter_scene_examples(tmp_path, scene_id))
        np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
        np.testing.assert_array_equal(ex["dem"][..., 0], dem)
        np.testing.assert_array_equal(ex["mask"], truth)
        lo, hi = brute_force_bounds(bands, dem)
        np.testing.assert_array_equal(ex["norm_min"], lo)
        np.testing.assert_array_equal(ex["norm_max"], hi)


# --- bad input -------------------------------------------------------------------------


def assert_names(err: pytest.ExceptionInfo, scene_id: str, path) -> None:
    text = str(err.value)
    assert scene_id in text and os.path.abspath(path) in text, text
    assert isinstance(err.value, SourceDataError)


@pytest.mark.parametrize("which", [1, 2], ids=["dem", "truth"])
def test_scene_without_dem_or_truth(tiny_root, which):
    path = files_of(tiny_root, "l9_scene_11")[which]
    path.unlink()
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)
    assert "missing" in str(err.value)
    with pytest.raises(SourceDataError) as err:
        list(glacier.iter_tile_examples(tiny_root, "l9_scene_11"))
    assert_names(err, "l9_scene_11", path)
    # the other scene is still readable on its own
    assert len(list(glacier.iter_scene_examples(tiny_root, "l7_scene_04"))) == 1


def test_scene_file_itself_missing(tiny_root):
    with pytest.raises(SourceDataError) as err:
        list(glacier.iter_scene_examples(tiny_root, "l8_scene_09"))
    assert_names(err, "l8_scene_09", tiny_root / "scene" / "l8_scene_09.tif")


def regrid(path, *, shape=None, transform=None, crs=None):
    with rasterio.open(path) as src:
        data, profile = src.read(), src.profile
    if shape is not None:
        data = np.resize(data, (data.shape[0],) + shape)
    profile.update(height=data.shape[1], width=data.shape[2],
                   transform=transform or profile["transform"], crs=crs or profile["crs"])
    for key in ("blockxsize", "blockysize", "tiled"):  # a resized file may not fit them
        profile.pop(key, None)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


@pytest.mark.parametrize("change", ["shape", "transform", "crs"])
@pytest.mark.parametrize("which", [1, 2], ids=["dem", "truth"])
def test_file_on_another_grid(tiny_root, change, which):
    path = files_of(tiny_root, "l7_scene_04")[which]
    with rasterio.open(path) as src:
        h, w, t, crs = src.height, src.width, src.transform, src.crs
    if change == "shape":
        regrid(path, shape=(h + 1, w))
    elif change == "transform":
        regrid(path, transform=t @ Affine.translation(1, 0))  # one pixel east
    else:
        regrid(path, crs=CRS.from_epsg(crs.to_epsg() + 1))  # the next UTM zone
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert_names(err, "l7_scene_04", path)
    assert "another grid" in str(err.value) and change.upper() in str(err.value).upper()
    with pytest.raises(SourceDataError):
        next(glacier.iter_scene_examples(tiny_root, "l7_scene_04"))


@pytest.mark.parametrize("count", [1, 5, 7])
def test_scene_band_count_other_than_six(tiny_root, count):
    path = files_of(tiny_root, "l9_scene_11")[0]
    with rasterio.open(path) as src:
        data, t, crs = src.read(), src.transform, src.crs
    path.unlink()
    write_tif(path, np.resize(data, (count,) + data.shape[1:]), t, crs)
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)
    assert f"{count} bands" in str(err.value)
    with pytest.raises(SourceDataError):
        next(glacier.iter_tile_examples(tiny_root, "l9_scene_11"))


@pytest.mark.parametrize("which,dtype", [(0, "float32"), (0, "int16"), (1, "float32"),
                                         (1, "uint16"), (2, "uint16")],
                         ids=["scene-f32", "scene-i16", "dem-f32", "dem-u16", "truth-u16"])
def test_wrong_dtype(tiny_root, which, dtype):
    path = files_of(tiny_root, "l7_scene_04")[which]
    with rasterio.open(path) as src:
        data, t, crs = src.read(), src.transform, src.crs
    path.unlink()
    write_tif(path, data.astype(dtype), t, crs)
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert_names(err, "l7_scene_04", path)
    assert dtype in str(err.value)


def test_truncated_file(tiny_root):
    path = files_of(tiny_root, "l7_scene_04")[0]
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
        next(glacier.iter_scene_examples(tiny_root, "l7_scene_04"))
    assert_names(err, "l7_scene_04", path)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["scene", "dem", "truth"])
def test_corrupt_pixel_data(tiny_root, which):
    # The header is intact (the scenes are listed), the compressed pixels are not.
    path = files_of(tiny_root, "l7_scene_04")[which]
    data = bytearray(path.read_bytes())
    start = data.index(b"\x78\x9c") + 2  # the first deflate stream (zlib header)
    data[start:start + 64] = b"\x5a" * 64
    path.write_bytes(bytes(data))
    assert glacier.find_scenes(tiny_root)
    with pytest.raises(SourceDataError) as err:
        list(glacier.iter_tile_examples(tiny_root, "l7_scene_04"))
    assert_names(err, "l7_scene_04", path)
    assert "cannot read pixels" in str(err.value)


def test_not_a_geotiff(tiny_root):
    path = files_of(tiny_root, "l9_scene_11")[1]
    path.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)


def test_layout_errors(tmp_path, tiny_root):
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tmp_path / "nowhere")
    assert "scene" in str(err.value)
    (tmp_path / "empty" / "scene").mkdir(parents=True)
    with pytest.raises(SourceDataError, match="no scene"):
        glacier.find_scenes(tmp_path / "empty")
    stray = tiny_root / "scene" / "l8_scene_3.tif"
    stray.write_bytes(b"")
    with pytest.raises(SourceDataError) as err:
        glacier.find_scenes(tiny_root)
    assert os.path.abspath(stray) in str(err.value)
    with pytest.raises(ValueError):
        glacier.scene_ids(tiny_root, "test")
