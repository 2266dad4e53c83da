"""Resumable input: an iterator of every pipeline, saved with ``tf.train.Checkpoint``
after k batches and restored into a fresh pipeline built with the same arguments and
seed, yields exactly the batches that an uninterrupted run yields after its k-th.

Every dataset, both file formats, the modes that shuffle and augment with a seed. The
datasets are small, so a pipeline's prefetch may have read the whole epoch before the
save (the reader's own state then no longer matters); the read layer is therefore also
checked on its own, unbuffered, one example in (the state of the reader itself)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

import tfds_builders  # noqa: F401
from tests.conftest import FORMATS
from tfds_builders import pipelines
from tfds_builders.pipelines import ops

#: (spec, pipeline arguments): the training modes that draw from the seed
CASES = {
    "cloudsen12_random_augment": ("cloudsen12_hq/l1c", lambda d: pipelines.cloudsen12_hq(
        "train", data_dir=d, crop_size=64, mode="random", augment=True, seed=7, batch_size=1)),
    "cloudsen12_grid_shuffled": ("cloudsen12_hq/l1c", lambda d: pipelines.cloudsen12_hq(
        "train", data_dir=d, crop_size=200, mode="grid", shuffle=True, seed=7, batch_size=3,
        shuffle_buffer=4)),
    "s2_augment_crop": ("s2_cloud_timeseries", lambda d: pipelines.s2_cloud_timeseries(
        "train", data_dir=d, augment=True, crop_size=24, seed=7, batch_size=2, shuffle_buffer=2,
        pad_to_multiple=4)),
    "s2_windows": ("s2_cloud_timeseries", lambda d: pipelines.s2_cloud_timeseries(
        "train", data_dir=d, augment=True, max_length=8, seed=7, batch_size=3, shuffle_buffer=4)),
    "cpazmal_scenario1": ("cpazmal/scenario1", lambda d: pipelines.cpazmal(
        "train", config="scenario1", data_dir=d, seed=7, batch_size=3, shuffle_buffer=4,
        pad_to_multiple=4)),
    "cpazmal_scenario4": ("cpazmal/scenario4", lambda d: pipelines.cpazmal(
        "source", config="scenario4", data_dir=d, seed=7, batch_size=4, shuffle_buffer=4)),
    "gedi_random_crop": ("gedi_agbd", lambda d: pipelines.gedi_agbd(
        "train", data_dir=d, crop_size=16, target="raster", seed=7, batch_size=4, shuffle_buffer=4)),
    "glacier_random_augment": ("glacier_interp/scenes", lambda d: pipelines.glacier_interp(
        "train[:6]", data_dir=d, crop_size=96, seed=7, batch_size=4, shuffle_buffer=8)),
}


@pytest.fixture(scope="module")
def builds(matrix_builds):
    root, results = matrix_builds
    for (spec, fmt), (code, _, err) in results.items():
        assert code == 0, f"build {spec} {fmt}: {err}"
    return root


def as_numpy(batch):
    return [t.numpy() for t in tf.nest.flatten(batch)]


def assert_same(got, want):
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape, f"batch {i}"
            np.testing.assert_array_equal(x, y, err_msg=f"batch {i}")


def resume(make, k, where):
    """``(uninterrupted, restored)``: every batch of a fresh ``make()``, and the batches a
    fresh ``make()`` yields after restoring an iterator saved after ``k`` batches."""
    full = [as_numpy(b) for b in make()]
    assert len(full) > k, f"only {len(full)} batches"
    it = iter(make())
    for _ in range(k):
        next(it)
    path = tf.train.Checkpoint(batches=it).save(os.fspath(where / "ckpt"))
    del it
    fresh = iter(make())
    tf.train.Checkpoint(batches=fresh).restore(path).assert_consumed()
    return full[k:], [as_numpy(b) for b in fresh]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_restored_iterator_yields_the_remaining_batches(builds, case, fmt, tmp_path):
    _, make = CASES[case]
    data_dir = os.fspath(builds / fmt)
    n = sum(1 for _ in make(data_dir))
    want, got = resume(lambda: make(data_dir), max(1, n // 2), tmp_path)
    assert_same(got, want)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_read_layer_resumes_mid_epoch(builds, fmt, tmp_path):
    """The readers themselves (TFRecord by offset, ArrayRecord through tfds.data_source),
    shuffled, saved one example in: no buffer above them holds the epoch."""
    builder = ops.load_builder("gedi_agbd", os.fspath(builds / fmt))

    def make():
        return ops.read_examples(builder, "train", shuffle_files=True, seed=5).map(
            lambda ex: ex["agbd"])

    want, got = resume(make, 1, tmp_path)
    assert len(want) == builder.info.splits["train"].num_examples - 1
    assert_same(got, want)


@pytest.mark.parametrize("stop_after", [1, 3])
def test_readme_preemptible_example_resumes_exactly(builds, tmp_path, stop_after):
    """The README's example run straight through, and the same example stopped after a
    batch of its first or its second epoch and started again: the same batches (steps)
    and the same final weights."""
    from tests.test_readme import block

    code = block("preemptible")
    stop = code.replace("        step.assign_add(1)\n",
                        "        step.assign_add(1)\n        if int(step) == STOP_AFTER:\n"
                        "            raise KeyboardInterrupt  # preempted\n")
    assert stop != code
    data = os.fspath(builds / "tfrecord")

    def run(source, workdir):
        namespace = {"DATA": data, "WORKDIR": os.fspath(workdir), "STOP_AFTER": stop_after}
        exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102
        return namespace

    straight = run(code, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        run(stop, tmp_path / "stopped")
    resumed = run(code, tmp_path / "stopped")
    assert int(straight["step"]) == int(resumed["step"]) == 4  # 2 epochs of 2 batches
    for a, b in zip(straight["model"].get_weights(), resumed["model"].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
