"""Keras 3 on every backend: the pipelines feed ``model.fit`` with ``KERAS_BACKEND``
tensorflow, jax and torch, on the CPU.

Each backend runs in its own process (Keras picks its backend once, on import):
tests/keras_backend_worker.py fits small linear models on a cloudsen12_hq, an
s2_cloud_timeseries and a cpazmal scenario1 pipeline, and compares what Keras' predict
and weighted evaluation give on each pipeline with numpy on the batches the same
pipeline yields when TensorFlow iterates it. A backend that is not installed is
skipped (``pip install 'eo-tfds[backends]'`` installs jax and torch).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parsers import cloudsen12_hq, cpazmal, s2_cloud_timeseries
from tests.conftest import cli

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "keras_backend_worker.py"
CASES = ("cloudsen12_hq", "s2_cloud_timeseries", "cpazmal")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Small builds (eo-tfds build of the sample writers' files) of the three datasets."""
    os.environ["EO_TFDS_PROGRESS"] = "0"
    root = tmp_path_factory.mktemp("backends")
    cloudsen12_hq.write_samples(root / "manual" / "cloudsen12_hq", seed=5, sizes=(2, 1, 1))
    s2_cloud_timeseries.write_samples(root / "manual" / "s2_cloud_timeseries", seed=5)
    cpazmal.write_samples(root / "manual" / "cpazmal", seed=5)
    for spec in ("cloudsen12_hq/l1c", "s2_cloud_timeseries", "cpazmal/scenario1"):
        code, _, err = cli("build", spec, "--manual-dir", root / "manual" / spec.split("/")[0],
                           "--data-dir", root / "data")
        assert code == 0, err
    return root / "data"


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_pipelines_feed_keras_fit(data_dir, backend):
    if backend != "tensorflow" and importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'eo-tfds[backends]')")
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    run = subprocess.run([sys.executable, str(WORKER), str(data_dir)], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    for case in CASES:
        got = result[case]
        # the model received exactly what the pipeline yields: x (predict), y and
        # sample_weight (the weighted cross-entropy) as numpy computes them from it
        assert got["predict_shape"] == got["numpy_shape"], (case, got)
        assert got["predict_max_abs_err"] < 1e-4, (case, got)
        assert got["ce_keras"] == pytest.approx(got["ce_numpy"], rel=1e-5), (case, got)
        assert got["y_dtypes"] == ["int32"], (case, got)
        # and it trains: a finite loss, weights that moved
        assert np.isfinite(got["fit_loss"]).all(), (case, got)
        assert got["weights_changed"], (case, got)
