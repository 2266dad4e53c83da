"""Augmentation on the training path (``augment=True``), checked against the stored values.

The crops are the whole valid box (crop_size 509), so where each crop came from is known
and the augmentation can be undone with independent numpy: the symmetry is found from the
label (compared with the eight transforms of the stored label), the gamma from the image.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from parsers import cloudsen12_hq as src
from tfds_builders import pipelines

BOX = 509  # the valid box [1, 510) of a 512 patch


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug_src")
    src.write_samples(root, seed=3)
    data = tmp_path_factory.mktemp("aug_data")
    b = tfds.builder("cloudsen12_hq/l1c", data_dir=str(data))
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    ref = src.CloudSEN12Split(root / "train", "l1c")
    stored = [ref.read(i) for i in range(len(ref))]
    crops = [(s["image"][1:510, 1:510], s["label"][1:510, 1:510]) for s in stored]
    return str(data), crops, b.info.metadata


def transforms(a):
    """The eight symmetries of the square, numbered independently of the code under test:
    k counter-clockwise quarter turns, then a left-right mirror for the second four."""
    out = [np.rot90(a, k) for k in range(4)]
    return out + [np.fliplr(t) for t in out]


def identify(y, w, crops):
    """``(patch, symmetry)`` whose transformed stored label gives this crop's y and w."""
    found = []
    for p, (_, label) in enumerate(crops):
        valid = label != 255
        for s, (lab, val) in enumerate(zip(transforms(label), transforms(valid))):
            if np.array_equal(w, val.astype(np.float32)) and np.array_equal(y, np.where(val, lab, 0)):
                found.append((p, s))
    assert len(found) == 1, f"crop matches {found} (expected exactly one patch and symmetry)"
    return found[0]


def augmented(data, epochs, **kw):
    ds = pipelines.cloudsen12_hq("train", data_dir=data, crop_size=BOX, batch_size=4,
                                 augment=True, **kw)
    for x, y, w in ds.repeat(epochs):
        yield from zip(x.numpy(), y.numpy(), w.numpy())


def test_symmetries_uniform_aligned_and_gamma_in_range(built):
    data, crops, meta = built
    scale = float(meta["scale"])
    seen, gammas = [], []
    for x, y, w in augmented(data, 20, normalize=False, noise_stddev=0.0, seed=3):
        p, s = identify(y, w, crops)
        seen.append(s)
        # the image went through the same symmetry as label and weight: undo gamma with
        # that symmetry's stored values, one gamma for the whole crop
        v = transforms(crops[p][0])[s].astype(np.float64) * scale
        assert x.shape == v.shape
        assert (x[v <= 0] == 0).all()
        use = (v > 0.05) & (v < 0.95) & (x > 0)  # away from 1, where log v carries g
        g = np.median(np.log(x[use] * scale) / np.log(v[use]))
        assert 0.8 <= g <= 1.25
        np.testing.assert_allclose(x, np.maximum(v, 0) ** g / scale, rtol=2e-4, atol=1e-3)
        gammas.append(g)
    counts = np.bincount(seen, minlength=8)
    assert (counts > 0).all(), f"symmetries seen {counts}: each of the eight must occur"
    assert counts.max() <= 3 * len(seen) / 8, f"symmetries far from uniform: {counts}"
    # gamma uniform over [0.8, 1.25]: spread over the range, mean near 1.025
    assert min(gammas) < 0.86 and max(gammas) > 1.19
    assert abs(np.mean(gammas) - 1.025) < 0.05


def test_noise_std_as_asked_on_the_image_only(built):
    data, crops, _ = built
    # same seed: same crops, symmetries and gammas; only the noise differs
    with_noise = list(augmented(data, 2, noise_stddev=0.1, seed=9))
    without = list(augmented(data, 2, noise_stddev=0.0, seed=9))
    diffs = []
    for (xn, yn, wn), (x0, y0, w0) in zip(with_noise, without):
        np.testing.assert_array_equal(yn, y0)  # label and weight untouched by noise
        np.testing.assert_array_equal(wn, w0)
        diffs.append((xn - x0).astype(np.float64))
    d = np.stack(diffs)  # normalised units: noise_stddev for every band with a std
    assert abs(d.mean()) < 0.002
    np.testing.assert_allclose(d.std(axis=(0, 1, 2)), 0.1, rtol=0.02)
    kurtosis = np.mean(d ** 4) / np.mean(d ** 2) ** 2
    assert abs(kurtosis - 3) < 0.05, f"noise not Gaussian (kurtosis {kurtosis:.3f})"
    # independent between neighbouring pixels and bands, and different crop to crop
    flat = d.reshape(len(d), -1)
    assert abs(np.corrcoef(flat[0, :-1], flat[0, 1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(flat[0], flat[1])[0, 1]) < 0.05


def test_augmentation_reproducible_with_a_seed_and_new_every_epoch(built):
    data, _, _ = built

    def epochs(seed):
        ds = pipelines.cloudsen12_hq("train", data_dir=data, crop_size=128, batch_size=2,
                                     augment=True, seed=seed)
        return [[t.numpy() for t in batch] for _ in range(2) for batch in ds]

    a, b = epochs(5), epochs(5)
    for ba, bb in zip(a, b):
        for ta, tb in zip(ba, bb):
            np.testing.assert_array_equal(ta, tb)
    half = len(a) // 2
    assert not np.array_equal(np.concatenate([t[0] for t in a[:half]]),
                              np.concatenate([t[0] for t in a[half:]]))
    assert not np.array_equal(a[0][0], epochs(6)[0][0])


# ------------------------------------------- the generic augmentations (glacier, s2, own pipelines)

def test_rot_flip_each_symmetry_occurs_on_every_tensor_together():
    """``ops.random_rot_flip`` (one gather on square images of a static size, tf.image
    otherwise): every one of the eight symmetries occurs, image, label and weight move
    together, and a stack of images (N, H, W, C) moves as a whole."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    image = rng.normal(size=(9, 9, 3)).astype(np.float32)
    label = rng.integers(0, 5, (9, 9)).astype(np.int32)
    stack = rng.normal(size=(4, 9, 9, 2)).astype(np.float32)
    wide = rng.normal(size=(9, 9, 3)).astype(np.float32)
    seen = []
    for s in range(64):
        x, y, st = pipelines.random_rot_flip([tf.constant(image), tf.constant(label), tf.constant(stack)],
                                             tf.constant([s, 11], tf.int64))
        # the static-shape gather and tf.image's path (dynamic shape) agree
        (dyn,) = pipelines.random_rot_flip([tf.function(lambda t: t, input_signature=[
            tf.TensorSpec((None, None, 3), tf.float32)])(tf.constant(wide))], tf.constant([s, 11], tf.int64))
        (stat,) = pipelines.random_rot_flip([tf.constant(wide)], tf.constant([s, 11], tf.int64))
        np.testing.assert_array_equal(dyn.numpy(), stat.numpy())
        found = [k for k, t in enumerate(transforms(label)) if np.array_equal(t, y.numpy())]
        assert len(found) == 1
        k = found[0]
        np.testing.assert_array_equal(x.numpy(), transforms(image)[k])
        np.testing.assert_array_equal(st.numpy(), np.stack([transforms(a)[k] for a in stack]))
        seen.append(k)
    counts = np.bincount(seen, minlength=8)
    assert (counts > 0).all(), f"symmetries seen {counts}"


def test_random_gamma_in_range_and_zero_below_zero():
    import tensorflow as tf

    scale = 1e-4
    v = np.linspace(-500, 30000, 4096, dtype=np.float32).reshape(64, 64, 1)
    gammas = []
    for s in range(200):
        x = pipelines.random_gamma(tf.constant(v), tf.constant([s, 2], tf.int64), scale=scale).numpy()
        assert (x[v <= 0] == 0).all()
        use = (v > 500) & (v < 9000)
        g = np.median(np.log(x[use] * scale) / np.log(v[use] * scale))
        np.testing.assert_allclose(x, np.maximum(v * scale, 0) ** g / scale, rtol=2e-5, atol=1e-3)
        gammas.append(g)
    assert 0.8 <= min(gammas) < 0.83 and 1.22 < max(gammas) <= 1.25
    assert abs(np.mean(gammas) - 1.025) < 0.02


@pytest.mark.parametrize("pool", [True, False], ids=["pool", "drawn"])
def test_gaussian_noise_std_as_asked_per_band(pool):
    """``ops.gaussian_noise``: zero mean, the asked std per band, Gaussian, independent
    between neighbours, new for another seed; from a pool or drawn."""
    import tensorflow as tf

    std = np.array([0.5, 2.0, 0.01], np.float32)
    zeros = tf.zeros((100, 100, 3))
    p = pipelines.noise_pool(0) if pool else None
    d = np.stack([pipelines.gaussian_noise(zeros, tf.constant([s, 3], tf.int64), std, p).numpy()
                  for s in range(20)]).astype(np.float64)
    np.testing.assert_allclose(d.std(axis=(0, 1, 2)), std, rtol=0.02)
    assert (np.abs(d.mean(axis=(0, 1, 2))) < 0.02 * std).all()
    z = d / std
    kurtosis = np.mean(z ** 4) / np.mean(z ** 2) ** 2
    assert abs(kurtosis - 3) < 0.1
    flat = z.reshape(len(z), -1)
    assert abs(np.corrcoef(flat[0, :-1], flat[0, 1:])[0, 1]) < 0.02
    assert abs(np.corrcoef(flat[0], flat[1])[0, 1]) < 0.05
    again = pipelines.gaussian_noise(zeros, tf.constant([0, 3], tf.int64), std, p).numpy()
    np.testing.assert_array_equal(again, d[0].astype(np.float32))  # reproducible with a seed


def test_noise_larger_than_half_the_pool_is_drawn():
    import tensorflow as tf

    small = tf.constant(np.random.default_rng(0).standard_normal(1000).astype(np.float32))
    x = pipelines.gaussian_noise(tf.zeros((40, 40)), tf.constant([1, 1], tf.int64), 1.0, small).numpy()
    assert 0.9 < x.std() < 1.1
    assert not np.isin(x, small.numpy()).any()  # not from the pool
