"""The glacier_interp GeoTIFF reader: examples equal what the files hold, normalisation
bounds equal the publisher's rule computed by sorting, tiles cover each scene exactly once, and bad
input fails with a SourceDataError naming the scene and the file."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from parsers import glacier_interp
from parsers.glacier_interp import reader
from parsers.errors import SourceDataError

# Small scenes of both splits and all three large-scene shapes (tall, wide, both).
SUBSET = ["l5_scene_01", "l5_scene_12", "l8_scene_02", "s2_scene_05", "s2_scene_11",
          "l9_scene_07"]


@pytest.fixture(scope="module")
def subset_root(tmp_path_factory):
    return glacier_interp.write_samples(tmp_path_factory.mktemp("glacier") / "glacier_interp",
                                 scenes=SUBSET)


@pytest.fixture
def tiny_root(tmp_path):
    """A fresh manual_dir with two small sample scenes, for the bad-input tests."""
    return glacier_interp.write_samples(tmp_path / "glacier_interp",
                                 scenes=["l7_scene_04", "l9_scene_11"])


def read_raw(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(masked=False)


def files_of(root, scene_id):
    return (root / "scene" / f"{scene_id}.tif", root / "dem" / f"{scene_id}_dem.tif",
            root / "truth" / f"{scene_id}.tif")


def publisher_bounds(bands: np.ndarray, dem: np.ndarray):
    """The publisher's calculate_histogram_params written out on the raw arrays: per
    channel the non-NaN values sorted, lo = int(0.05 n), min = mean(sorted[:lo + 1])
    (sorted[0] when lo = 0); hi = min(n - 1, int(0.95 n)), max = mean(sorted[hi:])."""
    channels = [bands[c].ravel() for c in range(6)] + [dem.ravel()]
    lo_b, hi_b = [], []
    for values in channels:
        values = np.sort(values.astype(np.float64))
        values = values[~np.isnan(values)]
        n = values.size
        lo = int(0.05 * n)
        lo_b.append(values[0] if lo == 0 else np.mean(values[:lo + 1]))
        hi = min(n - 1, int(0.95 * n))
        hi_b.append(np.mean(values[hi:]))
    return np.array(lo_b, np.float32), np.array(hi_b, np.float32)


def floor_tail_bounds(bands: np.ndarray, dem: np.ndarray):
    """The rule of eo-tfds 1.0 (both tails average max(1, floor(0.05 n)) values): the
    tests assert that the sample scenes tell it apart from the publisher's."""
    lo_b, hi_b = [], []
    for values in [bands[c].ravel() for c in range(6)] + [dem.ravel()]:
        values = np.sort(values.astype(np.int64))
        k = max(1, values.size * 5 // 100)
        lo_b.append(values[:k].mean())
        hi_b.append(values[-k:].mean())
    return np.array(lo_b, np.float32), np.array(hi_b, np.float32)


def reference_normalize(raw7: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """clip((x - min) / (max - min + 1e-6), 0, 1), NaN -> 0, per channel in float32."""
    out = np.empty(raw7.shape, np.float32)
    for c in range(7):
        span = (np.float32(hi[c]) - np.float32(lo[c])) + np.float32(1e-6)
        x = (raw7[..., c].astype(np.float32) - np.float32(lo[c])) / span
        out[..., c] = np.where(np.isnan(x), 0, np.clip(x, 0, 1))
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
    root = glacier_interp.write_samples(tmp_path / "glacier_interp", seed=0)
    scenes = glacier_interp.find_scenes(root)
    ids = [s for s, _ in scenes]
    assert ids == sorted(ids) == glacier_interp.all_scene_ids() and len(ids) == 65
    validation = glacier_interp.scene_ids(root, "validation")
    assert len(glacier_interp.scene_ids(root, "train")) == 50 and len(validation) == 15
    assert {int(s[-2:]) for s in validation} == {11, 12, 13}
    assert {s[:2] for s in validation} == set(glacier_interp.SENSORS)

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
    assert len(large) >= 3 and any(glacier_interp.split_of(s) == "validation" for s in large)


def test_writer_is_deterministic_per_scene_and_seed(tmp_path, subset_root):
    again = glacier_interp.write_samples(tmp_path / "a", seed=0, scenes=["l8_scene_02"])
    other = glacier_interp.write_samples(tmp_path / "b", seed=1, scenes=["l8_scene_02"])
    for a, b, c in zip(files_of(subset_root, "l8_scene_02"), files_of(again, "l8_scene_02"),
                       files_of(other, "l8_scene_02")):
        np.testing.assert_array_equal(read_raw(a), read_raw(b))
        assert read_raw(a).shape != read_raw(c).shape or \
            not np.array_equal(read_raw(a), read_raw(c))


# --- scenes config ---------------------------------------------------------------------


@pytest.mark.parametrize("scene_id", SUBSET)
def test_scene_example_equals_file_values(subset_root, scene_id):
    examples = list(glacier_interp.iter_scene_examples(subset_root, scene_id))
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

    lo, hi = publisher_bounds(bands, dem[0])
    assert ex["norm_min"].dtype == ex["norm_max"].dtype == np.float32
    assert ex["norm_min"].shape == ex["norm_max"].shape == (7,)
    np.testing.assert_array_equal(ex["norm_min"], lo)
    np.testing.assert_array_equal(ex["norm_max"], hi)
    assert np.all(lo < hi)
    # the publisher's min averages one value more than floor(5 %); its max as many
    # only when 0.05 n is a whole number (n % 20 == 0, as for l5_scene_12)
    old_lo, old_hi = floor_tail_bounds(bands, dem[0])
    assert np.any(old_lo != lo)
    assert np.any(old_hi != hi) == bool((h * w) % 20)
    b_lo, b_hi = glacier_interp.normalization_bounds(subset_root, scene_id)
    np.testing.assert_array_equal(b_lo, lo)
    np.testing.assert_array_equal(b_hi, hi)


def test_bounds_exact_when_read_in_many_strips(subset_root, monkeypatch):
    # A tiny strip budget: the histograms are accumulated over dozens of windows.
    monkeypatch.setattr(reader, "_STRIP_PIXELS", 1000)
    for scene_id in ("l8_scene_02", "l5_scene_01"):
        bands, dem, truth = (read_raw(f) for f in files_of(subset_root, scene_id))
        with rasterio.open(files_of(subset_root, scene_id)[0]) as src:
            assert math.ceil(src.height / reader._strip_rows(src)) > 2
        lo, hi = publisher_bounds(bands, dem[0])
        _, ex = next(glacier_interp.iter_scene_examples(subset_root, scene_id))
        np.testing.assert_array_equal(ex["norm_min"], lo)
        np.testing.assert_array_equal(ex["norm_max"], hi)
        np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
        np.testing.assert_array_equal(ex["mask"], truth[0])


def test_tail_counts_and_known_bounds(tmp_path):
    # (values averaged into min, into max): lo + 1 and n - hi of the publisher's indices
    assert [glacier_interp.tail_counts(n) for n in (1, 2, 19, 20, 39, 40, 100, 1999, 12000)] == \
        [(1, 1), (1, 1), (1, 1), (2, 1), (2, 2), (3, 2), (6, 5), (100, 100), (601, 600)]
    # 40 pixels: min = mean of the 3 smallest, max = mean of the 2 largest values.
    bands = np.stack([np.arange(40, dtype=np.uint16).reshape(5, 8) * (c + 1)
                      for c in range(6)])
    dem = (np.arange(40, dtype=np.int16).reshape(5, 8) - 20) * 7
    truth = np.zeros((5, 8), np.uint8)
    hand_scene(tmp_path, "l8_scene_01", bands, dem, truth, GRID, UTM)
    lo, hi = glacier_interp.normalization_bounds(tmp_path, "l8_scene_01")
    np.testing.assert_array_equal(lo, [1.0 * c for c in range(1, 7)] + [-133.0])
    np.testing.assert_array_equal(hi, [38.5 * c for c in range(1, 7)] + [129.5])
    np.testing.assert_array_equal(lo, publisher_bounds(bands, dem)[0])
    assert np.all(floor_tail_bounds(bands, dem)[0] != lo)  # the old rule: 0.5 * c


def test_normalize_is_the_publishers_formula():
    rng = np.random.default_rng(2)
    lo = np.array([10, 20, 30, 40, 50, 60, -5], np.float32)
    hi = np.array([1000, 20, 3000, 41, 5000, 6000, 8848], np.float32)  # channel 1 constant
    x = rng.uniform(-100, 9000, (9, 11, 7)).astype(np.float32)
    x[0, 0, 2] = np.nan
    x[1, 1, 1] = 20  # == min of the constant channel
    got = glacier_interp.normalize(x, lo, hi)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, reference_normalize(x, lo, hi))
    assert got[0, 0, 2] == 0 and got[1, 1, 1] == 0
    # + 1e-6 matters where max - min is small: channel 3 spans 1, x = 40.5 -> 0.4999995
    assert glacier_interp.normalize(np.full((1, 7), 40.5, np.float32), lo, hi)[0, 3] < 0.5


# --- the publisher's current protocol (glaset_*) --------------------------------------


def test_glaset_split_is_every_fourth_id_sorted_by_name():
    ids = sorted(f"{s}_scene_{n:02d}" for s in ("l5", "l7", "l8", "l9", "s2")
                 for n in range(1, 14))
    validation = set(ids[::4])
    assert len(ids) == 65 and len(validation) == 17
    assert {s for s in ids if glacier_interp.glaset_split_of(s) == "validation"} == validation
    assert sum(glacier_interp.glaset_split_of(s) == "train" for s in ids) == 48
    assert glacier_interp.glaset_split_of("s2_scene_05") == "validation"


def test_glaset_bounds_are_the_publishers_constants():
    want = {"l5": (4891, 65454), "l7": (6719, 56297), "l8": (1, 65439), "l9": (1, 65453),
            "s2": (1, 19312)}
    for sensor, (mn, mx) in want.items():
        lo, hi = glacier_interp.glaset_bounds(f"{sensor}_scene_01")
        assert lo.dtype == hi.dtype == np.float32
        np.testing.assert_array_equal(lo, [mn] * 6 + [-420])
        np.testing.assert_array_equal(hi, [mx] * 6 + [8848])


def img2patch_origins(h, w, size=256, overlap=40):
    """Where the publisher's img2patch puts its patches without padding: a window
    sliding by size - overlap from (0, 0) while the next step still leaves room for the
    overlap (range((H - overlap) // step))."""
    step = size - overlap
    return [(i * step, j * step) for i in range((h - overlap) // step)
            for j in range((w - overlap) // step)]


@pytest.mark.parametrize("h,w", [(255, 900), (256, 256), (471, 472), (472, 687), (688, 256)])
def test_glaset_tile_origins(h, w):
    origins = glacier_interp.glaset_tile_origins(h, w)
    assert origins == img2patch_origins(h, w)
    assert all(r + 256 <= h and c + 256 <= w for r, c in origins)  # never padded
    rows = sorted({r for r, _ in origins})
    assert rows == [216 * i for i in range(len(rows))]


def test_glaset_examples_use_fixed_bounds_and_img2patch_tiles(tmp_path):
    rng = np.random.default_rng(9)
    h, w = 472, 300  # two rows, one column of 256 px tiles (rows overlap by 40 px)
    bands = rng.integers(0, 65535, (6, h, w), dtype=np.uint16)
    dem = rng.integers(-500, 9000, (h, w), dtype=np.int16)
    truth = rng.integers(0, 2, (h, w), dtype=np.uint8)
    hand_scene(tmp_path, "l7_scene_08", bands, dem, truth, GRID, UTM)
    assert glacier_interp.glaset_split_of("l7_scene_08") == "validation"
    _, ex = next(glacier_interp.iter_scene_examples(tmp_path, "l7_scene_08", bounds="glaset"))
    np.testing.assert_array_equal(ex["norm_min"], [6719] * 6 + [-420])
    np.testing.assert_array_equal(ex["norm_max"], [56297] * 6 + [8848])
    np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
    tiles = list(glacier_interp.iter_glaset_tile_examples(tmp_path, "l7_scene_08"))
    assert [k for k, _ in tiles] == ["l7_scene_08/r0_c0", "l7_scene_08/r216_c0"]
    raw7 = np.concatenate([bands, dem[None].astype(np.int64)]).transpose(1, 2, 0)
    lo = np.array([6719] * 6 + [-420], np.float32)
    hi = np.array([56297] * 6 + [8848], np.float32)
    for _, t in tiles:
        r, c = int(t["row"]), int(t["col"])
        assert t["image"].shape == (256, 256, 7) and t["mask"].shape == (256, 256)
        np.testing.assert_array_equal(t["mask"], truth[r:r + 256, c:c + 256])
        np.testing.assert_array_equal(
            t["image"], reference_normalize(raw7[r:r + 256, c:c + 256], lo, hi))
    # clipped at both ends: values below the sensor's min and above its max exist here
    assert tiles[0][1]["image"].min() == 0 and tiles[0][1]["image"].max() == 1


# --- tiles512 config -------------------------------------------------------------------


@pytest.mark.parametrize("scene_id", SUBSET)
def test_tiles_cover_scene_exactly_once(subset_root, scene_id):
    bands, dem, truth = (read_raw(f) for f in files_of(subset_root, scene_id))
    h, w = truth.shape[1:]
    lo, hi = publisher_bounds(bands, dem[0])
    raw7 = np.concatenate([bands.astype(np.float32), dem.astype(np.float32)])
    expected = reference_normalize(raw7.transpose(1, 2, 0), lo, hi)
    rows, cols = math.ceil(h / 512), math.ceil(w / 512)
    image = np.zeros((rows * 512, cols * 512, 7), np.float32)
    mask = np.zeros((rows * 512, cols * 512), np.uint8)
    cover = np.zeros((rows * 512, cols * 512), np.int32)
    tiles = list(glacier_interp.iter_tile_examples(subset_root, scene_id))
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
    assert glacier_interp.find_scenes(tmp_path) == [("s2_scene_13", "validation")]
    tiles = list(glacier_interp.iter_tile_examples(tmp_path, "s2_scene_13"))
    assert [k for k, _ in tiles] == ["s2_scene_13/r0_c0", "s2_scene_13/r512_c0"]
    last = tiles[1][1]
    np.testing.assert_array_equal(last["mask"][0, :70], truth[512])
    assert np.all(last["mask"][1:] == 255) and np.all(last["mask"][:, 70:] == 255)
    lo, hi = glacier_interp.normalization_bounds(tmp_path, "s2_scene_13")
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
    _, ex = next(glacier_interp.iter_scene_examples(subset_root, scene_id))
    assert int(np.sum(ex["mask"] == 0)) == zeros
    assert set(np.unique(ex["mask"])) == {0, 1}
    _, tile = next(glacier_interp.iter_tile_examples(subset_root, scene_id))
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

    assert glacier_interp.find_scenes(tmp_path) == [("l7_scene_10", "train"),
                                            ("s2_scene_03", "train")]
    for scene_id, (bands, dem, truth) in made.items():
        _, ex = next(glacier_interp.iter_scene_examples(tmp_path, scene_id))
        np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
        np.testing.assert_array_equal(ex["dem"][..., 0], dem)
        np.testing.assert_array_equal(ex["mask"], truth)
        lo, hi = publisher_bounds(bands, dem)
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
        glacier_interp.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)
    assert "missing" in str(err.value)
    with pytest.raises(SourceDataError) as err:
        list(glacier_interp.iter_tile_examples(tiny_root, "l9_scene_11"))
    assert_names(err, "l9_scene_11", path)
    # the other scene is still readable on its own
    assert len(list(glacier_interp.iter_scene_examples(tiny_root, "l7_scene_04"))) == 1


def test_scene_file_itself_missing(tiny_root):
    with pytest.raises(SourceDataError) as err:
        list(glacier_interp.iter_scene_examples(tiny_root, "l8_scene_09"))
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
        glacier_interp.find_scenes(tiny_root)
    assert_names(err, "l7_scene_04", path)
    assert "another grid" in str(err.value) and change.upper() in str(err.value).upper()
    with pytest.raises(SourceDataError):
        next(glacier_interp.iter_scene_examples(tiny_root, "l7_scene_04"))


@pytest.mark.parametrize("count", [1, 5, 7])
def test_scene_band_count_other_than_six(tiny_root, count):
    path = files_of(tiny_root, "l9_scene_11")[0]
    with rasterio.open(path) as src:
        data, t, crs = src.read(), src.transform, src.crs
    path.unlink()
    write_tif(path, np.resize(data, (count,) + data.shape[1:]), t, crs)
    with pytest.raises(SourceDataError) as err:
        glacier_interp.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)
    assert f"{count} bands" in str(err.value)
    with pytest.raises(SourceDataError):
        next(glacier_interp.iter_tile_examples(tiny_root, "l9_scene_11"))


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
        glacier_interp.find_scenes(tiny_root)
    assert_names(err, "l7_scene_04", path)
    assert dtype in str(err.value)


def test_truncated_file(tiny_root):
    path = files_of(tiny_root, "l7_scene_04")[0]
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(SourceDataError) as err:
        glacier_interp.find_scenes(tiny_root)
        next(glacier_interp.iter_scene_examples(tiny_root, "l7_scene_04"))
    assert_names(err, "l7_scene_04", path)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["scene", "dem", "truth"])
def test_corrupt_pixel_data(tiny_root, which):
    # The header is intact (the scenes are listed), the compressed pixels are not.
    path = files_of(tiny_root, "l7_scene_04")[which]
    data = bytearray(path.read_bytes())
    start = data.index(b"\x78\x9c") + 2  # the first deflate stream (zlib header)
    data[start:start + 64] = b"\x5a" * 64
    path.write_bytes(bytes(data))
    assert glacier_interp.find_scenes(tiny_root)
    with pytest.raises(SourceDataError) as err:
        list(glacier_interp.iter_tile_examples(tiny_root, "l7_scene_04"))
    assert_names(err, "l7_scene_04", path)
    assert "cannot read pixels" in str(err.value)


def test_not_a_geotiff(tiny_root):
    path = files_of(tiny_root, "l9_scene_11")[1]
    path.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(SourceDataError) as err:
        glacier_interp.find_scenes(tiny_root)
    assert_names(err, "l9_scene_11", path)


def test_layout_errors(tmp_path, tiny_root):
    with pytest.raises(SourceDataError) as err:
        glacier_interp.find_scenes(tmp_path / "nowhere")
    assert "scene" in str(err.value)
    (tmp_path / "empty" / "scene").mkdir(parents=True)
    with pytest.raises(SourceDataError, match="no scene"):
        glacier_interp.find_scenes(tmp_path / "empty")
    stray = tiny_root / "scene" / "l8_scene_3.tif"
    stray.write_bytes(b"")
    with pytest.raises(SourceDataError) as err:
        glacier_interp.find_scenes(tiny_root)
    assert os.path.abspath(stray) in str(err.value)
    with pytest.raises(ValueError):
        glacier_interp.scene_ids(tiny_root, "test")
