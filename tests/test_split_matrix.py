"""Every pipeline x file format x split string x mode yields exactly what ``tfds.load``
yields for that split string.

The reference is TFDS's own reader (``tfds.load`` of the TFRecord build, files in order);
each pipeline runs with ``normalize=False`` and settings under which every example gives
one element whose values are a plain numpy function of the example (a crop as large as
the valid box has one place to be; a series batch of one is not padded), so the test
compares values, in order when the pipeline does not shuffle and as a multiset when it
does. A pipeline that ignored the slice, read another split or dropped a merge part
yields other values or another count.
"""

from __future__ import annotations

import collections
import hashlib
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from tests.conftest import FORMATS
from tfds_builders import pipelines

SPLITS = {
    "cloudsen12_hq/l1c": ["train", "train[:2]", "train[-1:]", "train[25%:75%]", "validation+test",
                          "test[:1]+train[1:3]"],
    "gedi_agbd": ["train", "train[:5]", "train[-3:]", "train[10%:40%]", "test+train[:2]"],
    "s2_cloud_timeseries": ["train", "train[:3]", "train[-2:]", "validation[50%:]", "validation+train[:1]"],
    "s2_cloud_timeseries/joined": ["train", "train[:3]", "validation[-2:]", "validation+train[:1]"],
    "glacier_interp/scenes": ["validation", "validation[:3]", "train[-2:]", "train[10%:20%]+validation[:1]"],
    "cpazmal/scenario1": ["train", "train[:3]", "train[-2:]", "train[20%:60%]"],
    "cpazmal/scenario4": ["source", "target[:2]", "source+target", "target[-3:]+source[:1]"],
}


@pytest.fixture(scope="module")
def builds(matrix_builds):
    root, results = matrix_builds
    for key, (code, _, err) in results.items():
        assert code == 0, (key, err)
    return root


def reference(builds, spec, split):
    """``tfds.load``'s examples of ``split`` (TFRecord build, files in order), as numpy."""
    ds = tfds.load(spec, split=split, data_dir=os.fspath(builds / "tfrecord"), shuffle_files=False)
    return list(tfds.as_numpy(ds))


def digest(*arrays) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def elements(ds):
    """The pipeline's batches split into per-example numpy tuples."""
    out = []
    for batch in tfds.as_numpy(ds):
        parts = batch if isinstance(batch, tuple) else (batch,)
        n = len(parts[1]) if len(parts) > 1 else len(parts[0])
        for k in range(n):
            out.append(tuple({key: v[k] for key, v in p.items()} if isinstance(p, dict) else p[k]
                             for p in parts))
    return out


def compare(got, want, ordered):
    assert len(got) == len(want)
    assert len(set(want)) == len(want) or not ordered, "examples must be told apart"
    if ordered:
        assert got == want
    else:
        assert collections.Counter(got) == collections.Counter(want)


def cases():
    modes = {
        "cloudsen12_hq/l1c": ["center", "random", "grid", "augment"],
        "gedi_agbd": ["center", "random"],
        "s2_cloud_timeseries": ["whole", "shuffled", "windows"],
        "s2_cloud_timeseries/joined": ["whole", "windows"],
        "glacier_interp/scenes": ["grid", "random"],
        "cpazmal/scenario1": ["ordered", "shuffled"],
        "cpazmal/scenario4": ["ordered", "shuffled"],
    }
    for spec, splits in SPLITS.items():
        for fmt in FORMATS:
            for split in splits:
                for mode in modes[spec]:
                    yield pytest.param(spec, fmt, split, mode, id=f"{spec}-{fmt}-{split}-{mode}")


# --------------------------------------------------------------- per dataset: what to expect

def cloudsen12_case(data_dir, split, mode, examples):
    """Crops as large as the valid box [1:510, 1:510] (random and center: one place to be),
    or one 512 grid tile (the whole patch)."""
    def label_parts(label):
        valid = label < 4
        return np.where(valid, label, 0).astype(np.int32), valid.astype(np.float32)

    if mode == "grid":
        ds = pipelines.cloudsen12_hq(split, data_dir=data_dir, mode="grid", crop_size=512, batch_size=3,
                                     normalize=False, shuffle=False)
        got = [digest(x, y, w) for x, y, w in elements(ds)]
        want = []
        for ex in examples:
            y, w = label_parts(ex["label"])
            inside = np.zeros((512, 512), np.float32)
            inside[1:510, 1:510] = 1
            want.append(digest(ex["image"].astype(np.float32), y, w * inside))
        return got, want, True
    if mode == "augment":  # symmetries move pixels, gamma and noise change the image:
        # the label's class counts over the crop are what stays
        if not all(part.startswith("train") for part in split.split("+")):
            with pytest.raises(ValueError, match="train split only"):
                pipelines.cloudsen12_hq(split, data_dir=data_dir, augment=True)
            return [], [], True
        ds = pipelines.cloudsen12_hq(split, data_dir=data_dir, mode="random", crop_size=509, batch_size=3,
                                     normalize=False, augment=True, seed=1)
        got = [digest(np.bincount(y[w > 0].ravel(), minlength=4)) for _, y, w in elements(ds)]
        want = [digest(np.bincount(ex["label"][1:510, 1:510][ex["label"][1:510, 1:510] < 4].astype(np.int32)
                                   .ravel(), minlength=4)) for ex in examples]
        return got, want, False
    shuffle = mode == "random"
    ds = pipelines.cloudsen12_hq(split, data_dir=data_dir, mode=mode, crop_size=509, batch_size=3,
                                 normalize=False, shuffle=shuffle, seed=2)
    got = [digest(x, y, w) for x, y, w in elements(ds)]
    want = []
    for ex in examples:
        crop = ex["label"][1:510, 1:510]
        y, w = label_parts(crop)
        want.append(digest(ex["image"][1:510, 1:510].astype(np.float32), y, w))
    return got, want, not shuffle


def gedi_case(data_dir, split, mode, examples):
    shuffle = mode == "random"
    ds = pipelines.gedi_agbd(split, data_dir=data_dir, sources=("sentinel2",), normalize=False,
                             batch_size=4, shuffle=shuffle, seed=3)
    got = [digest(x, np.float32(y)) for x, y in elements(ds)]
    want = [digest(ex["sentinel2"][..., 1:].astype(np.float32), np.float32(ex["agbd"])) for ex in examples]
    return got, want, not shuffle


def s2_case(data_dir, split, mode, examples, config=None):
    if mode == "windows":  # series cut into windows of 4 steps, each padded to 4
        ds = pipelines.s2_cloud_timeseries(split, config=config, data_dir=data_dir, normalize=False,
                                           batch_size=1, max_length=4, shuffle=False)
        got = []
        for x, y, w in elements(ds):
            real = int(w.sum())
            got.append(digest(x[:real], y[:real]))
        want = []
        for ex in examples:
            for s in range(0, len(ex["labels"]), 4):
                want.append(digest(ex["image"][s:s + 4].astype(np.float32),
                                   ex["labels"][s:s + 4].astype(np.int32)))
        return got, want, True
    shuffle = mode == "shuffled"
    ds = pipelines.s2_cloud_timeseries(split, config=config, data_dir=data_dir, normalize=False,
                                       batch_size=1, shuffle=shuffle, seed=4)
    got = [digest(x, y, w) for x, y, w in elements(ds)]
    want = [digest(ex["image"].astype(np.float32), ex["labels"].astype(np.int32),
                   np.ones(len(ex["labels"]), np.float32)) for ex in examples]
    return got, want, not shuffle


def glacier_case(data_dir, split, mode, examples):
    """Crops as large as the split's largest scene: one crop per scene, at (0, 0),
    padded past the scene."""
    c = max(max(ex["mask"].shape) for ex in examples)
    ds = pipelines.glacier_interp(split, data_dir=data_dir, mode=mode, crop_size=c, batch_size=4,
                                  normalize=False, augment=False, shuffle=mode == "random", seed=5)
    got = [digest(x, y, w) for x, y, w in elements(ds)]
    want = []
    for ex in examples:
        h, w_ = ex["mask"].shape
        assert h <= c and w_ <= c
        x = np.zeros((c, c, 7), np.float32)
        x[:h, :w_, :6] = ex["image"]
        x[:h, :w_, 6:] = ex["dem"]
        mask = np.full((c, c), 255, np.uint8)
        mask[:h, :w_] = ex["mask"]
        valid = mask <= 1
        want.append(digest(x, np.where(valid, mask, 0).astype(np.float32)[..., None], valid.astype(np.float32)))
    return got, want, mode == "grid"


def cpazmal_case(data_dir, split, mode, examples, config):
    shuffle = mode == "shuffled"

    def clean(a):
        return np.where(np.isfinite(a) & (a != -999.0), a, 0).astype(np.float32)

    if config == "scenario1":
        ds = pipelines.cpazmal(split, config=config, data_dir=data_dir, normalize=False, batch_size=1,
                               with_mask=False, shuffle=shuffle, seed=6)
        want = [digest(clean(ex["image"]), np.int32(ex["label"])) for ex in examples]
    else:
        ds = pipelines.cpazmal(split, config=config, data_dir=data_dir, normalize=False, batch_size=2,
                               shuffle=shuffle, seed=6)
        want = [digest(clean(ex["image"]), np.int32(ex["label"])) for ex in examples]
    got = [digest(x, np.int32(y)) for x, y in elements(ds)]
    return got, want, not shuffle


@pytest.mark.parametrize("spec,fmt,split,mode", list(cases()))
def test_pipeline_yields_what_tfds_load_yields(builds, spec, fmt, split, mode):
    examples = reference(builds, spec, split)
    assert examples, "a split string of the matrix selects no example: the test would prove nothing"
    data_dir = os.fspath(builds / fmt)
    name = spec.split("/")[0]
    if name == "cloudsen12_hq":
        got, want, ordered = cloudsen12_case(data_dir, split, mode, examples)
    elif name == "gedi_agbd":
        got, want, ordered = gedi_case(data_dir, split, mode, examples)
    elif name == "s2_cloud_timeseries":
        got, want, ordered = s2_case(data_dir, split, mode, examples, (spec.split("/") + [None])[1])
    elif name == "glacier_interp":
        got, want, ordered = glacier_case(data_dir, split, mode, examples)
    else:
        got, want, ordered = cpazmal_case(data_dir, split, mode, examples, spec.split("/")[1])
    compare(got, want, ordered)


def test_split_strings_select_distinct_examples(builds):
    """The matrix is not vacuous: its slices select fewer examples than their whole split,
    and a merge as many as its parts."""
    for spec, splits in SPLITS.items():
        sizes = {split: len(reference(builds, spec, split)) for split in splits}
        whole = sizes[splits[0]]
        assert any(0 < n < whole for s, n in sizes.items() if "[" in s and "+" not in s), (spec, sizes)
