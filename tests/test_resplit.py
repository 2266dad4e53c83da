"""CloudSEN12 re-split trials (SPEC, cloudsen12_hq "Re-split trials"): the parts against an
independent numpy computation of the publisher's recipe, the pipeline's patches against
the .dat files read with plain numpy, a trial's normalisation against numpy statistics
of its train patches' valid pixels."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from parsers import cloudsen12_hq as src
from tfds_builders import pipelines
from tfds_builders.cloudsen12_hq import resplit, resplit_ids

P = 512
SIZES = (5, 3, 3)  # train, val, test patches: a pool of 11
FOLDERS = ("train", "val", "test")  # the sample writer's folder names (the ids' prefixes)
FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}
BANDS = {
    "l1c": [f"L1C_{b}" for b in "B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12".split()],
    "l2a": [f"L2A_{b}" for b in "B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B11 B12".split()],
    "s1": ["S1_VV", "S1_VH", "S1_angle"],
}
DTYPES = {"l1c": np.int16, "l2a": np.int16, "s1": np.float32}
#: the builds of this module: (config, file format)
BUILDS = [("l1c", "tfrecord"), ("l1c", "array_record"), ("l2a", "tfrecord"), ("s1", "array_record")]


# ------------------------------------------------------------------ independent reads

def layer_file(folder, layer):
    """The .dat file of ``layer`` in ``folder``, in any spelling the reader takes (tfds_builders/cloudsen12_hq/README.md)."""
    prefix, _, band = layer.partition("_")
    names = [layer]
    if band[:1] == "B" and band[1:2].isdigit() and not band[2:3].isdigit():
        names.append(f"{prefix}_B0{band[1:]}")  # L1C_B04, L2A_B08A
    if layer == "LABEL_manual_hq":
        names.append("manual_hq")
    found = [os.path.join(folder, n + ".dat") for n in names if os.path.exists(os.path.join(folder, n + ".dat"))]
    assert len(found) == 1, (folder, layer, found)
    return found[0]


def patch(samples, ident, config):
    """``(image (512, 512, C), label int8 (512, 512))`` of the patch ``"<folder>/<index>"``,
    read with plain numpy from the .dat files."""
    folder, index = ident.split("/")
    folder = os.path.join(samples, folder)
    image = np.stack([np.fromfile(layer_file(folder, layer), DTYPES[config]).reshape(-1, P, P)[int(index)]
                      for layer in BANDS[config]], axis=-1)
    label = np.fromfile(layer_file(folder, "LABEL_manual_hq"), np.int8).reshape(-1, P, P)[int(index)]
    return image, label


def recipe(samples, fractions, seed):
    """SPEC's recipe, computed here with numpy: ``{part: [id, ...]}``."""
    counts = [os.path.getsize(layer_file(os.path.join(samples, f), "LABEL_manual_hq")) // (P * P)
              for f in FOLDERS]
    pool = [f"{f}/{i}" for f, n in zip(FOLDERS, counts) for i in range(n)]
    order = np.random.default_rng(seed).permutation(len(pool))
    sizes = [math.floor(f * len(pool)) for f in fractions.values()]
    sizes[0] += len(pool) - sum(sizes)
    bounds = np.cumsum([0] + sizes)
    return {name: [pool[p] for p in order[bounds[k]:bounds[k + 1]]] for k, name in enumerate(fractions)}


# ------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("rs_src")
    src.write_samples(root, seed=11, sizes=SIZES)
    return root


@pytest.fixture(scope="module")
def data_dirs(samples, tmp_path_factory):
    """``{file format: data dir}`` holding the builds of :data:`BUILDS`."""
    os.environ["EO_TFDS_PROGRESS"] = "0"
    root = tmp_path_factory.mktemp("rs_data")
    for config, fmt in BUILDS:
        builder = tfds.builder(f"cloudsen12_hq/{config}", data_dir=str(root / fmt), file_format=fmt)
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(samples)))
    return {fmt: str(root / fmt) for fmt in ("tfrecord", "array_record")}


# ---------------------------------------------------------------------------- parts

@pytest.mark.parametrize("fractions,seed", [
    (FRACTIONS, 0), (FRACTIONS, 5),
    ({"test": 0.25, "train": 0.5, "validation": 0.25}, 3),  # the remainder goes to "test"
    ({"train": 0.7, "holdout": 0.3}, 123456789)])
def test_parts_follow_the_recipe(data_dirs, samples, fractions, seed):
    ids = resplit_ids(data_dirs["tfrecord"], fractions, seed)
    want = recipe(samples, fractions, seed)
    assert list(ids) == list(fractions)
    assert ids == want  # same parts, same order inside each
    pool = [i for part in ids.values() for i in part]
    assert len(pool) == len(set(pool)) == sum(SIZES)  # disjoint, and cover the pool
    total = sum(SIZES)
    sizes = {k: math.floor(f * total) for k, f in fractions.items()}
    first = next(iter(fractions))
    sizes[first] += total - sum(sizes.values())
    assert {k: len(v) for k, v in ids.items()} == sizes
    # every config's build holds the same pool
    assert resplit_ids(data_dirs["tfrecord"], fractions, seed, config="l2a") == ids
    assert resplit_ids(data_dirs["array_record"], fractions, seed, config="s1") == ids


def test_seeds(data_dirs):
    one = resplit_ids(data_dirs["tfrecord"], FRACTIONS, 1)
    assert resplit_ids(data_dirs["tfrecord"], FRACTIONS, 1) == one
    assert resplit_ids(data_dirs["tfrecord"], FRACTIONS, 2) != one


@pytest.mark.parametrize("fractions", [
    {"train": 0.8, "test": 0.1},              # sums to 0.9
    {"train": 0.8, "test": 0.3},              # sums to 1.1
    {"train": 1.1, "test": -0.1},
    {"train": 1.0, "test": 0.0},
    {"train": float("nan"), "test": 0.5},
    {"train": True},
    {"validation": 0.5, "test": 0.5},         # no train part
    {"train": 0.5, "a+b": 0.5},
    {},
    [0.8, 0.2],
])
def test_bad_fractions(data_dirs, fractions):
    with pytest.raises(ValueError, match="resplit"):
        resplit_ids(data_dirs["tfrecord"], fractions, 0)
    with pytest.raises(ValueError, match="resplit"):
        pipelines.cloudsen12_hq("train", data_dir=data_dirs["tfrecord"], resplit=fractions, resplit_seed=0)


def test_bad_seed_split_and_augment(data_dirs):
    data = data_dirs["tfrecord"]
    for seed in (None, -1, 1.5):
        with pytest.raises(ValueError, match="resplit_seed"):
            pipelines.cloudsen12_hq("train", data_dir=data, resplit=FRACTIONS, resplit_seed=seed)
    with pytest.raises(ValueError, match="resplit"):
        pipelines.cloudsen12_hq("train", data_dir=data, resplit_seed=3)
    with pytest.raises(ValueError, match="'holdout' is not a part"):
        pipelines.cloudsen12_hq("train+holdout", data_dir=data, resplit=FRACTIONS, resplit_seed=3)
    with pytest.raises(ValueError, match="augment=True is for the train split only"):
        pipelines.cloudsen12_hq("train+validation", data_dir=data, resplit=FRACTIONS, resplit_seed=3,
                                augment=True)
    pipelines.cloudsen12_hq("train[:50%]", data_dir=data, resplit=FRACTIONS, resplit_seed=3, augment=True)


# -------------------------------------------------------------------------- reading

def _expected(parts, split):
    """The ids a split string of parts means: absolute slices as Python's, percent
    bounds rounded to the closest index (TFDS's rule), parts merged in order."""
    out = []
    for piece in split.split("+"):
        name, _, selector = piece.partition("[")
        ids = parts[name]
        if selector:
            lo, hi = selector.rstrip("]").split(":")

            def bound(v):
                if not v:
                    return None
                if v.endswith("%"):
                    return round(int(v[:-1]) * len(ids) / 100)
                return int(v)

            ids = ids[bound(lo):bound(hi)]
        out += ids
    return out


def _collect(ds):
    xs, ys, ws = [], [], []
    for x, y, w in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
        ws.append(w.numpy())
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


@pytest.mark.parametrize("fmt", ["tfrecord", "array_record"])
@pytest.mark.parametrize("split", ["train", "validation", "train[:50%]", "train[-3:]+test", "test+validation[1:]"])
def test_pipeline_reads_the_trial_patches(data_dirs, samples, fmt, split):
    seed = 5
    want = _expected(recipe(samples, FRACTIONS, seed), split)
    ds = pipelines.cloudsen12_hq(split, data_dir=data_dirs[fmt], mode="center", crop_size=509,
                                 normalize=False, shuffle=False, batch_size=3,
                                 resplit=FRACTIONS, resplit_seed=seed)
    xs, ys, ws = _collect(ds)
    assert len(xs) == len(want)
    for x, y, w, ident in zip(xs, ys, ws, want):
        image, label = patch(samples, ident, "l1c")
        np.testing.assert_array_equal(x, image[1:510, 1:510].astype(np.float32), err_msg=ident)
        label = label[1:510, 1:510]
        labelled = (label >= 0) & (label <= 3)
        np.testing.assert_array_equal(w, labelled.astype(np.float32))
        np.testing.assert_array_equal(y[labelled], label[labelled])


@pytest.mark.parametrize("fmt", ["tfrecord", "array_record"])
def test_grid_and_shuffled_train_read_the_trial_patches(data_dirs, samples, fmt):
    """The whole-example read path (grid mode), and the train part's default shuffle:
    the same patches, each once."""
    seed = 9
    parts = recipe(samples, FRACTIONS, seed)
    xs, _, ws = _collect(pipelines.cloudsen12_hq(
        "validation+test", data_dir=data_dirs[fmt], mode="grid", crop_size=P, normalize=False,
        batch_size=2, resplit=FRACTIONS, resplit_seed=seed))
    want = parts["validation"] + parts["test"]
    assert len(xs) == len(want)
    # the ids are the records' own id feature
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=data_dirs[fmt])
    examples = resplit.Trial(builder, FRACTIONS, seed).read_examples(builder, "validation+test")
    assert [ex["id"].decode() for ex in tfds.as_numpy(examples)] == want
    for x, w, ident in zip(xs, ws, want):
        image, label = patch(samples, ident, "l1c")
        np.testing.assert_array_equal(x, image.astype(np.float32), err_msg=ident)
        assert (w[0] == 0).all() and (w[:, 510:] == 0).all()
        labelled = (label[1:510, 1:510] >= 0) & (label[1:510, 1:510] <= 3)
        np.testing.assert_array_equal(w[1:510, 1:510], labelled.astype(np.float32))
    xs, _, _ = _collect(pipelines.cloudsen12_hq(
        "train", data_dir=data_dirs[fmt], mode="center", crop_size=509, normalize=False, seed=1,
        batch_size=4, resplit=FRACTIONS, resplit_seed=seed))
    images = {ident: patch(samples, ident, "l1c")[0][1:510, 1:510].astype(np.float32) for ident in parts["train"]}
    got = sorted(next(i for i, im in images.items() if np.array_equal(im, x)) for x in xs)
    assert got == sorted(parts["train"])


# ----------------------------------------------------------------------- statistics

def _numpy_stats(samples, ids, config):
    """mean, std (population), count, min, max per band over the valid box's finite pixels."""
    values = np.concatenate([patch(samples, i, config)[0][1:510, 1:510].reshape(-1, len(BANDS[config]))
                             for i in ids]).astype(np.float64)
    out = {k: [] for k in ("count", "mean", "std", "min", "max")}
    for b in range(values.shape[1]):
        v = values[:, b][np.isfinite(values[:, b])]
        out["count"].append(v.size)
        out["mean"].append(v.mean())
        out["std"].append(v.std())
        out["min"].append(v.min())
        out["max"].append(v.max())
    return out


@pytest.mark.parametrize("config,fmt", BUILDS[1:])
def test_trial_normalises_with_its_train_part(data_dirs, samples, config, fmt):
    seed = 4
    parts = recipe(samples, FRACTIONS, seed)
    want = _numpy_stats(samples, parts["train"], config)
    builder = tfds.builder(f"cloudsen12_hq/{config}", data_dir=data_dirs[fmt])
    got = resplit.Trial(builder, FRACTIONS, seed).part_stats("train")
    assert got["count"] == want["count"]
    np.testing.assert_array_equal(got["min"], want["min"])
    np.testing.assert_array_equal(got["max"], want["max"])
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["std"], want["std"], rtol=1e-9)
    # ... and not the published train split's
    assert not np.allclose(got["mean"], builder.info.metadata["band_stats"]["mean"], rtol=1e-6)
    # the pipeline normalises with them
    xs, _, _ = _collect(pipelines.cloudsen12_hq(
        "validation", config=config, data_dir=data_dirs[fmt], mode="center", crop_size=509,
        batch_size=4, resplit=FRACTIONS, resplit_seed=seed))
    for x, ident in zip(xs, parts["validation"]):
        raw = patch(samples, ident, config)[0][1:510, 1:510].astype(np.float64)
        expected = (raw - np.asarray(want["mean"])) / np.asarray(want["std"])
        np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config,fmt", BUILDS[1:])
def test_published_train_rows_give_band_stats(data_dirs, config, fmt):
    """A part that is exactly the published train split: the build's band_stats."""
    builder = tfds.builder(f"cloudsen12_hq/{config}", data_dir=data_dirs[fmt])
    published = builder.info.metadata["band_stats"]
    got = resplit.patch_band_stats(resplit.read_patch_stats(builder), np.arange(SIZES[0]))
    assert got["count"] == published["count"] and got["bands"] == published["bands"]
    assert got["min"] == published["min"] and got["max"] == published["max"]
    if config == "s1":  # float bands: float64 sums, added in another order
        np.testing.assert_allclose(got["mean"], published["mean"], rtol=1e-13)
        np.testing.assert_allclose(got["std"], published["std"], rtol=1e-9)
    else:  # integer bands: exact sums, the same formula
        assert got["mean"] == published["mean"] and got["std"] == published["std"]


def test_build_without_patch_stats_says_rebuild(data_dirs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(os.path.join(data_dirs["tfrecord"], "cloudsen12_hq", "l1c"), old / "cloudsen12_hq" / "l1c")
    (path,) = old.rglob(resplit.PATCH_STATS_FILE)
    path.unlink()  # as a build made before re-split trials
    with pytest.raises(ValueError, match="built before re-split trials.*--overwrite"):
        pipelines.cloudsen12_hq("train", data_dir=str(old), resplit=FRACTIONS, resplit_seed=0)
    with pytest.raises(ValueError, match="built before re-split trials.*--overwrite"):
        resplit_ids(str(old), FRACTIONS, 0)
    # the published splits still read as before
    next(iter(pipelines.cloudsen12_hq("validation", data_dir=str(old), mode="center")))


def test_readme_example_runs(data_dirs, samples):
    import keras

    from tests.test_readme import block

    model = keras.Sequential([keras.Input((256, 256, 13)), keras.layers.Conv2D(4, 1)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    namespace = {"DATA": data_dirs["tfrecord"], "model": model}
    exec(compile(block("resplit"), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["ids"] == recipe(samples, namespace["parts"], 1)
    assert np.isfinite(model.history.history["val_loss"]).all()
