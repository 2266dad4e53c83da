"""``pad_to_multiple=K`` on the variable-length pipelines (s2_cloud_timeseries; cpazmal
scenarios 1 and 2): every batch's time length is a multiple of K, the extra steps are
padding (zeros, weight or mask 0), and the real values are those of the same pipeline
without it; ``max_length`` still cuts the series."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

import tfds_builders  # noqa: F401
from tests.conftest import cli
from tfds_builders import pipelines


@pytest.fixture(scope="module")
def data_dir(matrix_builds):
    """The matrix's TFRecord builds, plus cpazmal/scenario2 (not in the matrix)."""
    root, results = matrix_builds
    data = root / "tfrecord"
    if not (data / "cpazmal" / "scenario2").is_dir():
        code, _, err = cli("build", "cpazmal/scenario2", "--manual-dir", root / "manual" / "cpazmal",
                           "--data-dir", data)
        assert code == 0, err
    return os.fspath(data)


def as_numpy(ds):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds]


def check_padded(padded, plain, axis, k, pad_value=0):
    """``padded`` is ``plain`` with steps appended along ``axis`` up to a multiple of k."""
    steps = padded.shape[axis]
    assert steps % k == 0 and plain.shape[axis] <= steps < plain.shape[axis] + k
    real = np.take(padded, np.arange(plain.shape[axis]), axis=axis)
    extra = np.take(padded, np.arange(plain.shape[axis], steps), axis=axis)
    np.testing.assert_array_equal(real, plain)
    assert (extra == pad_value).all()


@pytest.mark.parametrize("target", ["sequence", "last"])
def test_s2_series_padded_to_a_multiple(data_dir, target):
    kwargs = dict(data_dir=data_dir, batch_size=3, shuffle=False, target=target)
    plain = as_numpy(pipelines.s2_cloud_timeseries("train", **kwargs))
    padded = as_numpy(pipelines.s2_cloud_timeseries("train", pad_to_multiple=8, **kwargs))
    assert len(padded) == len(plain)
    lengths = {b[0].shape[1] for b in plain}
    assert any(t % 8 for t in lengths), "the sample has no length to round"
    for (x, y, w), (x0, y0, w0) in zip(padded, plain):
        assert x.shape[1] % 8 == 0
        if target == "sequence":  # padding after the real steps: x, y, weight 0 there
            check_padded(x, x0, 1, 8)
            check_padded(y, y0, 1, 8)
            check_padded(w, w0, 1, 8)
        else:  # "pre": the padding goes in front, the last step stays the labelled one
            t0 = x0.shape[1]
            np.testing.assert_array_equal(x[:, x.shape[1] - t0:], x0)
            assert (x[:, :x.shape[1] - t0] == 0).all()
            np.testing.assert_array_equal(y, y0)
            np.testing.assert_array_equal(w, w0)


def test_s2_max_length_still_cuts(data_dir):
    kwargs = dict(data_dir=data_dir, batch_size=4, shuffle=False, max_length=5)
    plain = as_numpy(pipelines.s2_cloud_timeseries("train", **kwargs))
    padded = as_numpy(pipelines.s2_cloud_timeseries("train", pad_to_multiple=4, **kwargs))
    assert len(padded) == len(plain)
    for (x, y, w), (x0, y0, w0) in zip(padded, plain):
        assert x.shape[1] == 8 and x0.shape[1] == 5  # windows of 5 steps at most, padded to 8
        check_padded(x, x0, 1, 4)
        check_padded(w, w0, 1, 4)
        assert (w[:, 5:] == 0).all()


def test_cpazmal_scenario1_padded_to_a_multiple(data_dir):
    kwargs = dict(config="scenario1", data_dir=data_dir, batch_size=4, shuffle=False)
    plain = as_numpy(pipelines.cpazmal("train", **kwargs))
    padded = as_numpy(pipelines.cpazmal("train", pad_to_multiple=4, **kwargs))
    assert len(padded) == len(plain)
    for (x, y), (x0, y0) in zip(padded, plain):
        check_padded(x["image"], x0["image"], 3, 4)
        check_padded(x["time_mask"], x0["time_mask"], 1, 4)
        np.testing.assert_array_equal(y, y0)


def test_cpazmal_scenario2_pads_both_series(data_dir):
    kwargs = dict(config="scenario2", data_dir=data_dir, batch_size=4, shuffle=False)
    plain = as_numpy(pipelines.cpazmal("train", **kwargs))
    padded = as_numpy(pipelines.cpazmal("train", pad_to_multiple=3, **kwargs))
    assert len(padded) == len(plain)
    for (x, y), (x0, y0) in zip(padded, plain):
        check_padded(x["image"], x0["image"], 3, 3)
        check_padded(x["time_mask"], x0["time_mask"], 1, 3)
        check_padded(x["predict_mask"], x0["predict_mask"], 1, 3)
        check_padded(y, y0, 3, 3)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "8"])
def test_pad_to_multiple_must_be_a_positive_int(data_dir, bad):
    with pytest.raises(ValueError, match="pad_to_multiple"):
        pipelines.s2_cloud_timeseries("train", data_dir=data_dir, pad_to_multiple=bad)
    with pytest.raises(ValueError, match="pad_to_multiple"):
        pipelines.cpazmal("train", data_dir=data_dir, pad_to_multiple=bad)
