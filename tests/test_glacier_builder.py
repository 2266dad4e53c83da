"""glacier_interp: the built examples equal what the GeoTIFFs hold, the normalisation bounds
equal a brute-force computation, tiles cover each scene exactly once, the pipeline's crops,
tiles, weights and augmentations do what its docstring says, and a small Keras model fits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import glacier_interp
from parsers.errors import SourceDataError
from tfds_builders.glacier_interp import GlacierInterp  # registers the builder
from tfds_builders.preview import preview_png
from tfds_builders import pipelines
from tests.test_glacier_parser import img2patch_origins, publisher_bounds, reference_normalize

# Both splits; small scenes and every large-scene shape (tall, wide, both; one in validation).
SUBSET = ["l5_scene_01", "l5_scene_12", "l8_scene_02", "s2_scene_05", "s2_scene_11",
          "l9_scene_07"]
TRAIN = sorted(s for s in SUBSET if glacier_interp.split_of(s) == "train")
VALIDATION = sorted(s for s in SUBSET if glacier_interp.split_of(s) == "validation")
# The publisher's current protocol: every 4th of the 65 ids sorted by name.
GLASET_VALIDATION = sorted(set(sorted(f"{s}_scene_{n:02d}" for s in glacier_interp.SENSORS
                                      for n in range(1, 14))[::4]) & set(SUBSET))
GLASET_TRAIN = sorted(set(SUBSET) - set(GLASET_VALIDATION))


def download_config(manual):
    return {"download_config": tfds.download.DownloadConfig(manual_dir=str(manual))}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("glacier_builder")
    manual = glacier_interp.write_samples(base / "manual", scenes=SUBSET)
    data = base / "data"
    for config in ("scenes", "tiles512", "glaset_scenes", "glaset_tiles256"):
        tfds.builder(f"glacier_interp/{config}", data_dir=str(data)).download_and_prepare(
            **download_config(manual))
    return manual, data


def load(data, config, split):
    return list(tfds.as_numpy(tfds.load(f"glacier_interp/{config}", split=split, data_dir=str(data))))


def read_files(manual, scene_id):
    """(bands (6, H, W) uint16, dem (H, W) int16, truth (H, W) uint8) read raw with rasterio."""
    out = []
    for path in (manual / "scene" / f"{scene_id}.tif", manual / "dem" / f"{scene_id}_dem.tif",
                 manual / "truth" / f"{scene_id}.tif"):
        with rasterio.open(path) as src:
            out.append(src.read(masked=False))
    return out[0], out[1][0], out[2][0]


def raw7_of(bands, dem):
    return np.concatenate([bands.transpose(1, 2, 0).astype(np.float32),
                           dem[..., None].astype(np.float32)], -1)


# ----------------------------------------------------------------------- builder

def test_scene_features_as_specified(built):
    _, data = built
    builder = tfds.builder("glacier_interp", data_dir=str(data))
    assert isinstance(builder, GlacierInterp)
    info = builder.info
    assert info.full_name == "glacier_interp/scenes/1.1.0"
    f = info.features
    assert f["image"].shape == (None, None, 6) and f["image"].np_dtype == np.uint16
    assert f["dem"].shape == (None, None, 1) and f["dem"].np_dtype == np.int16
    assert f["mask"].shape == (None, None) and f["mask"].np_dtype == np.uint8
    assert f["norm_min"].shape == (7,) and f["norm_max"].np_dtype == np.float32
    assert f["sensor"].names == ["l5", "l7", "l8", "l9", "s2"]
    assert set(f.keys()) == {"id", "sensor", "image", "dem", "mask", "norm_min", "norm_max"}
    # stored raw: bytes, never zlib
    assert all(f[k]._encoding == tfds.features.Encoding.BYTES for k in ("image", "dem", "mask"))
    tiles = tfds.builder("glacier_interp/tiles512", data_dir=str(data)).info.features
    assert set(tiles.keys()) == {"id", "sensor", "row", "col", "image", "mask"}
    assert tiles["image"].shape == (512, 512, 7) and tiles["image"].np_dtype == np.float32
    assert tiles["mask"].shape == (512, 512) and tiles["mask"].np_dtype == np.uint8
    assert tiles["row"].np_dtype == np.int32 and tiles["col"].np_dtype == np.int32


@pytest.mark.parametrize("split,scenes", [("train", TRAIN), ("validation", VALIDATION)])
def test_scene_examples_equal_files(built, split, scenes):
    manual, data = built
    examples = load(data, "scenes", split)
    assert sorted(e["id"].decode() for e in examples) == scenes
    for ex in examples:
        scene_id = ex["id"].decode()
        bands, dem, truth = read_files(manual, scene_id)
        h, w = truth.shape
        assert ex["image"].dtype == np.uint16 and ex["image"].shape == (h, w, 6)
        assert ex["dem"].dtype == np.int16 and ex["dem"].shape == (h, w, 1)
        assert ex["mask"].dtype == np.uint8 and ex["mask"].shape == (h, w)
        np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
        np.testing.assert_array_equal(ex["dem"][..., 0], dem)
        np.testing.assert_array_equal(ex["mask"], truth)
        assert 0 < truth.sum() < truth.size  # both classes: the no-data tag 0 was not applied
        assert glacier_interp.SENSORS[ex["sensor"]] == scene_id[:2]
        lo, hi = publisher_bounds(bands, dem)
        assert ex["norm_min"].dtype == np.float32 and ex["norm_min"].shape == (7,)
        np.testing.assert_array_equal(ex["norm_min"], lo)
        np.testing.assert_array_equal(ex["norm_max"], hi)
        # and the parser's own example, field for field
        _, ref = next(glacier_interp.iter_scene_examples(manual, scene_id))
        for key in ("image", "dem", "mask", "norm_min", "norm_max"):
            np.testing.assert_array_equal(ex[key], ref[key])


@pytest.mark.parametrize("split,scenes", [("train", TRAIN), ("validation", VALIDATION)])
def test_tiles_equal_parser_and_cover_each_scene_once(built, split, scenes):
    manual, data = built
    tiles = load(data, "tiles512", split)
    by_scene: dict = {}
    for t in tiles:
        by_scene.setdefault(t["id"].decode().split("/")[0], []).append(t)
    assert sorted(by_scene) == scenes
    for scene_id, scene_tiles in by_scene.items():
        bands, dem, truth = read_files(manual, scene_id)
        h, w = truth.shape
        assert len(scene_tiles) == math.ceil(h / 512) * math.ceil(w / 512)
        refs = dict(glacier_interp.iter_tile_examples(manual, scene_id))
        lo, hi = publisher_bounds(bands, dem)
        expected = reference_normalize(raw7_of(bands, dem), lo, hi)
        count = np.zeros((h, w), np.int32)
        mosaic_mask = np.zeros((h, w), np.uint8)
        mosaic_image = np.zeros((h, w, 7), np.float32)
        for t in scene_tiles:
            key = t["id"].decode()
            assert t["image"].dtype == np.float32 and t["image"].shape == (512, 512, 7)
            assert t["mask"].dtype == np.uint8 and t["mask"].shape == (512, 512)
            assert glacier_interp.SENSORS[t["sensor"]] == scene_id[:2]
            r, c = int(t["row"]), int(t["col"])
            assert key == f"{scene_id}/r{r}_c{c}" and r % 512 == 0 and c % 512 == 0
            np.testing.assert_array_equal(t["image"], refs[key]["image"])
            np.testing.assert_array_equal(t["mask"], refs[key]["mask"])
            inside = t["mask"] != 255
            th, tw = min(512, h - r), min(512, w - c)
            assert inside[:th, :tw].all() and inside.sum() == th * tw
            assert (t["image"][~inside] == 0).all()
            count[r:r + th, c:c + tw] += 1
            mosaic_mask[r:r + th, c:c + tw] = t["mask"][:th, :tw]
            mosaic_image[r:r + th, c:c + tw] = t["image"][:th, :tw]
        assert (count == 1).all()
        np.testing.assert_array_equal(mosaic_mask, truth)
        np.testing.assert_array_equal(mosaic_image, expected)
        assert mosaic_image.min() == 0.0 and mosaic_image.max() == 1.0


def test_metadata_and_band_stats(built):
    manual, data = built
    info = tfds.builder("glacier_interp/scenes", data_dir=str(data)).info
    meta = info.metadata
    assert meta["class_names"] == ["not_glacier", "glacier"]
    assert meta["ignore_label"] == 255
    assert meta["sensors"] == ["l5", "l7", "l8", "l9", "s2"]
    assert meta["bands"]["l8"] == ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"]
    assert meta["bands"]["s2"] == ["B2", "B3", "B4", "B8", "B11", "B12"]
    assert meta["channel_names"]["l5"][-1] == "elevation" and len(meta["channel_names"]["l5"]) == 7
    assert meta["channels"] == list(glacier_interp.CHANNEL_NAMES)
    assert "sorted[:lo + 1]" in meta["normalization"]["definition"]
    assert "1e-6" in meta["normalization"]["definition"]
    assert meta["normalization"]["tail_fraction"] == 0.05
    assert info.splits["train"].num_examples == len(TRAIN)
    assert info.splits["validation"].num_examples == len(VALIDATION)
    # band statistics of the train split over every scene pixel, from the files
    stacks = [raw7_of(*read_files(manual, s)[:2]).reshape(-1, 7).astype(np.float64) for s in TRAIN]
    values = np.concatenate(stacks)
    stats = meta["band_stats"]
    assert stats["bands"] == list(glacier_interp.CHANNEL_NAMES)
    assert stats["count"] == [len(values)] * 7
    np.testing.assert_allclose(stats["mean"], values.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], values.std(0), rtol=1e-9)
    np.testing.assert_array_equal(stats["min"], values.min(0))
    np.testing.assert_array_equal(stats["max"], values.max(0))
    # metadata survives a reload from the prepared directory
    on_disk = json.loads((data / "glacier_interp" / "scenes" / "1.1.0" / "metadata.json").read_text())
    assert on_disk["ignore_label"] == 255 and on_disk["band_stats"]["count"] == stats["count"]
    tiles_meta = tfds.builder("glacier_interp/tiles512", data_dir=str(data)).info.metadata
    assert tiles_meta["tile_size"] == 512
    assert tiles_meta["band_stats"]["min"] == [0.0] * 7 and tiles_meta["band_stats"]["max"] == [1.0] * 7


def test_glaset_configs(built):
    manual, data = built
    assert GLASET_VALIDATION == ["l5_scene_01", "s2_scene_05"]
    for split, scenes in (("train", GLASET_TRAIN), ("validation", GLASET_VALIDATION)):
        examples = load(data, "glaset_scenes", split)
        assert sorted(e["id"].decode() for e in examples) == scenes
        for ex in examples:
            scene_id = ex["id"].decode()
            bands, dem, truth = read_files(manual, scene_id)
            np.testing.assert_array_equal(ex["image"], bands.transpose(1, 2, 0))
            np.testing.assert_array_equal(ex["mask"], truth)
            mn, mx = {"l5": (4891, 65454), "l8": (1, 65439), "l9": (1, 65453),
                      "s2": (1, 19312)}[scene_id[:2]]
            np.testing.assert_array_equal(ex["norm_min"], [mn] * 6 + [-420])
            np.testing.assert_array_equal(ex["norm_max"], [mx] * 6 + [8848])
    builder = tfds.builder("glacier_interp/glaset_tiles256", data_dir=str(data))
    assert list(builder.info.splits) == ["validation"]
    assert builder.info.metadata["tile_overlap"] == 40
    tiles = load(data, "glaset_tiles256", "validation")
    want = [(s, r, c) for s in GLASET_VALIDATION
            for r, c in img2patch_origins(*read_files(manual, s)[2].shape)]
    assert len(want) == 2  # s2_scene_05 (530 x 300): two rows of one tile; l5_scene_01: none
    assert sorted((t["id"].decode().split("/")[0], int(t["row"]), int(t["col"])) for t in tiles) == want
    for t in tiles:
        scene_id = t["id"].decode().split("/")[0]
        bands, dem, truth = read_files(manual, scene_id)
        r, c = int(t["row"]), int(t["col"])
        lo = np.array([1] * 6 + [-420], np.float32)
        hi = np.array([19312] * 6 + [8848], np.float32)
        expected = reference_normalize(raw7_of(bands, dem)[r:r + 256, c:c + 256], lo, hi)
        np.testing.assert_array_equal(t["image"], expected)
        np.testing.assert_array_equal(t["mask"], truth[r:r + 256, c:c + 256])


def _break_dem_missing(root, scene_id):
    path = root / "dem" / f"{scene_id}_dem.tif"
    path.unlink()
    return path


def _break_truth_grid(root, scene_id):
    path = root / "truth" / f"{scene_id}.tif"
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.update(height=profile["height"] - 3)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data[:, 3:])
    return path


@pytest.mark.parametrize("breaker,words", [(_break_dem_missing, "dem file missing"),
                                           (_break_truth_grid, "another grid")])
def test_bad_scene_fails_naming_it_and_leaves_nothing(tmp_path, breaker, words):
    manual = glacier_interp.write_samples(tmp_path / "manual", scenes=["l7_scene_04", "l9_scene_11"])
    path = breaker(manual, "l9_scene_11")
    data = tmp_path / "data"
    builder = tfds.builder("glacier_interp/scenes", data_dir=str(data))
    with pytest.raises(SourceDataError) as err:
        builder.download_and_prepare(**download_config(manual))
    assert err.value.path == str(path) and "l9_scene_11" in str(err.value) and words in str(err.value)
    assert not tfds.builder("glacier_interp/scenes", data_dir=str(data)).is_prepared()
    assert not list(data.rglob("dataset_info.json")) and not list(data.rglob("*.tfrecord*"))


def test_preview_png(built, tmp_path):
    _, data = built
    scene = load(data, "scenes", "validation")[0]
    tile = load(data, "tiles512", "validation")[0]
    for name, ex in (("scenes", scene), ("tiles512", tile)):
        info = tfds.builder(f"glacier_interp/{name}", data_dir=str(data)).info
        out = preview_png([ex], info, tmp_path / f"{name}.png")
        with open(out, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- pipeline

def collect(ds):
    xs, ys, ws = [], [], []
    for x, y, w in ds:
        xs.append(x.numpy()), ys.append(y.numpy()), ws.append(w.numpy())
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def test_pipeline_train_defaults(built):
    manual, data = built
    ds = pipelines.glacier_interp("train", data_dir=str(data), batch_size=3, seed=0)
    assert ds.element_spec[0].shape.as_list() == [None, 512, 512, 7]
    assert ds.element_spec[0].dtype == tf.float32
    assert ds.element_spec[1].shape.as_list() == [None, 512, 512, 1]
    assert ds.element_spec[2].shape.as_list() == [None, 512, 512]
    x, y, w = collect(ds)
    sizes = [read_files(manual, s)[2].shape for s in TRAIN]
    # as many crops as grid tiles per scene
    assert len(x) == sum(math.ceil(h / 512) * math.ceil(v / 512) for h, v in sizes)
    # each crop: inside the scene along long axes, padded (weight 0) along short ones
    allowed = {min(h, 512) * min(v, 512) for h, v in sizes}
    assert {int(s) for s in w.sum((1, 2))} <= allowed
    assert set(np.unique(y)) <= {0.0, 1.0} and set(np.unique(w)) <= {0.0, 1.0}
    assert (y[..., 0][w == 0] == 0).all()
    # augmented: noise leaves [0, 1] somewhere, padding stays 0
    assert x.min() < 0 or x.max() > 1
    assert (x[w == 0] == 0).all()


def locate(crop7, scenes):
    """(scene_id, row, col) of the window whose top-left pixel and content match the crop."""
    for scene_id, raw in scenes.items():
        hits = np.argwhere((raw == crop7[0, 0]).all(-1))
        for r, c in hits:
            window = raw[r:r + crop7.shape[0], c:c + crop7.shape[1]]
            if window.shape == crop7.shape and (window == crop7).all():
                return scene_id, int(r), int(c)
    return None


def test_pipeline_random_crops_come_from_the_scenes(built):
    manual, data = built
    crop = 64
    raws = {s: raw7_of(*read_files(manual, s)[:2]) for s in TRAIN}
    truths = {s: read_files(manual, s)[2] for s in TRAIN}
    ds = pipelines.glacier_interp("train", data_dir=str(data), crop_size=crop, batch_size=16, seed=3,
                        augment=False, normalize=False, crops_per_scene=4)
    x, y, w = collect(ds)
    assert len(x) == 4 * len(TRAIN)
    found = set()
    for i in range(len(x)):
        hit = locate(x[i], raws)  # every crop here lies fully inside its scene
        assert hit is not None, f"crop {i} is no window of any scene"
        scene_id, r, c = hit
        found.add(scene_id)
        np.testing.assert_array_equal(y[i, ..., 0], truths[scene_id][r:r + crop, c:c + crop])
        assert (w[i] == 1).all()
    assert found == set(TRAIN)
    # reproducible for a seed, different for another
    again = collect(pipelines.glacier_interp("train", data_dir=str(data), crop_size=crop, batch_size=16,
                                   seed=3, augment=False, normalize=False, crops_per_scene=4))
    np.testing.assert_array_equal(again[0], x)
    other = collect(pipelines.glacier_interp("train", data_dir=str(data), crop_size=crop, batch_size=16,
                                   seed=4, augment=False, normalize=False, crops_per_scene=4))
    assert not np.array_equal(other[0], x)


def test_pipeline_small_scene_is_padded_with_weight_zero(built):
    manual, data = built
    raws = {s: raw7_of(*read_files(manual, s)[:2]) for s in VALIDATION}
    ds = pipelines.glacier_interp("validation", data_dir=str(data), mode="random", crop_size=512,
                        batch_size=8, seed=0, normalize=False, shuffle=False)
    x, y, w = collect(ds)
    for i in range(len(x)):
        inside = w[i] > 0
        rows, cols = np.where(inside)
        ch, cw = rows.max() + 1, cols.max() + 1
        assert inside[:ch, :cw].all() and inside.sum() == ch * cw  # top-left block
        hit = locate(x[i, :ch, :cw], raws)
        assert hit is not None
        sh, sw = raws[hit[0]].shape[:2]
        assert (ch, cw) == (min(sh, 512), min(sw, 512))
        assert (x[i][~inside] == 0).all() and (y[i, ..., 0][~inside] == 0).all()


def test_pipeline_grid_equals_tiles512_and_counts_each_pixel_once(built):
    manual, data = built
    ds = pipelines.glacier_interp("validation", data_dir=str(data), batch_size=4)  # default: grid, no augment
    x, y, w = collect(ds)
    tiles = load(data, "tiles512", "validation")  # one shard: scenes in order, tiles row-major
    assert len(x) == len(tiles)
    for i, t in enumerate(tiles):
        np.testing.assert_array_equal(x[i], t["image"])
        np.testing.assert_array_equal(w[i], (t["mask"] != 255).astype(np.float32))
        np.testing.assert_array_equal(y[i, ..., 0], np.where(t["mask"] == 255, 0, t["mask"]))
    again = collect(pipelines.glacier_interp("validation", data_dir=str(data), batch_size=4, mode="grid",
                                   augment=False))
    np.testing.assert_array_equal(again[0], x)
    # any crop size: every scene pixel weighted exactly once
    total = sum(read_files(manual, s)[2].size for s in VALIDATION)
    _, _, w64 = collect(pipelines.glacier_interp("validation", data_dir=str(data), crop_size=96,
                                       batch_size=32))
    assert w64.sum() == total and set(np.unique(w64)) <= {0.0, 1.0}


def test_pipeline_augmentation_is_a_symmetry_plus_photometric_noise(built):
    _, data = built
    kw = dict(data_dir=str(data), crop_size=64, batch_size=64, seed=7, crops_per_scene=3)
    xp, yp, wp = collect(pipelines.glacier_interp("train", augment=False, **kw))
    xa, ya, wa = collect(pipelines.glacier_interp("train", augment=True, **kw))
    transformed = 0
    for i in range(len(xp)):
        candidates = []
        for k in range(4):
            for flip in (False, True):
                f = (lambda a, k=k, flip=flip: np.rot90(a, k)[:, ::-1] if flip else np.rot90(a, k))
                if np.array_equal(f(yp[i]), ya[i]) and np.array_equal(f(wp[i]), wa[i]) \
                        and np.array_equal(f(xp[i][..., 6]), xa[i][..., 6]):
                    candidates.append((k, flip))
        assert candidates, f"crop {i}: label/weight/elevation are no symmetry of the plain crop"
        k, flip = candidates[0]
        transformed += (k, flip) != (0, False)
        f = (lambda a: np.rot90(a, k)[:, ::-1] if flip else np.rot90(a, k))
        assert not np.array_equal(f(xp[i][..., :6]), xa[i][..., :6])  # gamma + noise on bands
    assert transformed > 0


def _symmetry_of(yp, wp, ep, ya, wa, ea):
    """The transform f (numpy, independent of the code under test) that maps the plain
    crop's label, weight and elevation onto the augmented crop's."""
    found = []
    for k in range(4):
        for flip in (False, True):
            f = (lambda a, k=k, flip=flip: np.rot90(a, k)[:, ::-1] if flip else np.rot90(a, k))
            if np.array_equal(f(yp), ya) and np.array_equal(f(wp), wa) and np.array_equal(f(ep), ea):
                found.append((f, 4 * flip + k))
    assert found, "label/weight/elevation are no symmetry of the plain crop"
    return found[0][0], (found[0][1] if len(found) == 1 else None)  # None: ambiguous crop


def test_pipeline_augmentation_distributions(built):
    """Each symmetry occurs (image, label and weight together), gamma lies in
    ``gamma_range`` (one per crop), the noise has ``noise_stddev`` on the bands inside the
    scene and none outside or on the elevation."""
    _, data = built
    kw = dict(data_dir=str(data), crop_size=64, batch_size=64, seed=7, crops_per_scene=24)
    xp, yp, wp = collect(pipelines.glacier_interp("train", augment=False, **kw))
    xg, yg, wg = collect(pipelines.glacier_interp("train", augment=True, noise_stddev=0.0, **kw))
    xn, yn, wn = collect(pipelines.glacier_interp("train", augment=True, gamma_range=(1.0, 1.0),
                                        noise_stddev=0.1, **kw))
    seen, gammas, noise = [], [], []
    for i in range(len(xp)):
        f, s = _symmetry_of(yp[i], wp[i], xp[i][..., 6], yg[i], wg[i], xg[i][..., 6])
        if s is not None:
            seen.append(s)
        bands = f(xp[i][..., :6]).astype(np.float64)
        use = (bands > 0.05) & (bands < 0.95)
        if use.sum() > 50:
            g = np.median(np.log(xg[i][..., :6][use]) / np.log(bands[use]))
            assert 0.8 <= g <= 1.25
            np.testing.assert_allclose(xg[i][..., :6], bands ** g, rtol=1e-4, atol=1e-5)
            gammas.append(g)
        f, _ = _symmetry_of(yp[i], wp[i], xp[i][..., 6], yn[i], wn[i], xn[i][..., 6])
        inside = f(np.asarray(wp[i] > 0))
        d = xn[i][..., :6].astype(np.float64) - f(xp[i][..., :6])
        np.testing.assert_allclose(d[~inside & (f(xp[i][..., 6]) == 0)], 0, atol=1e-6)  # padding
        noise.append(d[inside])
    counts = np.bincount(seen, minlength=8)
    assert (counts > 0).all(), f"symmetries seen {counts}: each of the eight must occur"
    assert min(gammas) < 0.9 and max(gammas) > 1.15
    noise = np.concatenate(noise)
    assert abs(noise.mean()) < 0.005
    np.testing.assert_allclose(noise.std(), 0.1, rtol=0.03)


def test_pipeline_argument_errors(built):
    _, data = built
    with pytest.raises(ValueError, match="train"):
        pipelines.glacier_interp("validation", data_dir=str(data), augment=True)
    with pytest.raises(ValueError, match="mode"):
        pipelines.glacier_interp("train", data_dir=str(data), mode="center")


def test_keras_model_fits_on_the_pipeline(built):
    _, data = built
    import keras

    tf.keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None, None, 7)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(1, 1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy",
                  weighted_metrics=["accuracy"])
    train = pipelines.glacier_interp("train", data_dir=str(data), crop_size=128, batch_size=4, seed=0)
    history = model.fit(train.repeat(), steps_per_epoch=6, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    result = model.evaluate(pipelines.glacier_interp("validation", data_dir=str(data), crop_size=128,
                                           batch_size=4), verbose=0, return_dict=True)
    assert np.isfinite(result["loss"]) and 0 <= result["accuracy"] <= 1
