"""Run by tests/test_keras_backends.py in a subprocess, with ``KERAS_BACKEND`` set
(tensorflow, jax or torch), on the CPU: ``python tests/keras_backend_worker.py DATA_DIR``.

For each pipeline (cloudsen12_hq, s2_cloud_timeseries, cpazmal scenario1) it builds a
small linear Keras model and

- predicts on the pipeline as it is (``model.predict(ds)``) and evaluates a weighted
  cross-entropy on it (``model.evaluate``), while numpy computes both from the batches
  that iterating the same pipeline in TensorFlow yields and the model's weights: equal
  values mean the model received exactly x, y and sample_weight (dtypes, dicts, padded
  lengths, weights intact) through Keras' own conversion for the backend;
- fits one epoch on a training pipeline (shuffled, augmented, variable lengths with
  ``pad_to_multiple``): the loss must be finite and the kernel must change.

Prints one JSON line: ``{case: {...}}``; the test reads and judges it.
"""

from __future__ import annotations

import json
import os
import sys
import time

START = time.perf_counter()
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import keras  # noqa: E402  (after the environment: the backend is chosen on import)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfds_builders import pipelines  # noqa: E402
from tfds_builders.pipelines import ops  # noqa: E402


def batches(ds):
    """The pipeline's batches as numpy, iterated by TensorFlow itself."""
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds]


def log_softmax(z):
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def weighted_ce(logits, y, w):
    """sum(ce * w) / sum(w), as a weighted Keras Mean metric accumulates it."""
    ce = -np.take_along_axis(log_softmax(logits), y[..., None].astype(np.int64), axis=-1)[..., 0]
    w = np.ones_like(ce) if w is None else w.astype(np.float64)
    return float((ce * w).sum() / w.sum())


def kernel(model):
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]


def check(model, eval_ds, train_ds, numpy_logits):
    """Predict and evaluate on ``eval_ds`` (compared with numpy), then fit on ``train_ds``."""
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce")])
    got = batches(eval_ds)
    weights = kernel(model)
    want_logits = np.concatenate([numpy_logits(b[0], weights) for b in got])
    want_ce = weighted_ce(np.concatenate([numpy_logits(b[0], weights).reshape(-1, want_logits.shape[-1])
                                          for b in got]),
                          np.concatenate([b[1].reshape(-1) for b in got]),
                          None if len(got[0]) < 3 else np.concatenate([b[2].reshape(-1) for b in got]))
    predicted = model.predict(eval_ds, verbose=0)
    evaluated = model.evaluate(eval_ds, verbose=0, return_dict=True)
    history = model.fit(train_ds, epochs=1, verbose=0)
    after = kernel(model)
    return {
        "predict_shape": list(predicted.shape), "numpy_shape": list(want_logits.shape),
        "predict_max_abs_err": float(np.max(np.abs(predicted - want_logits))) if predicted.shape == want_logits.shape else None,
        "ce_keras": float(evaluated["ce"]), "ce_numpy": want_ce,
        "fit_loss": [float(v) for v in history.history["loss"]],
        "weights_changed": bool(any(not np.array_equal(a, b) for a, b in zip(weights, after))),
        "y_dtypes": sorted({str(b[1].dtype) for b in got}),
    }


def cloudsen12(data_dir):
    builder = ops.load_builder("cloudsen12_hq/l1c", data_dir)
    bands = builder.info.features["image"].shape[-1]
    classes = len(builder.info.metadata["class_names"])
    common = dict(data_dir=data_dir, crop_size=32, batch_size=4)
    eval_ds = pipelines.cloudsen12_hq("validation", mode="center", **common)
    train_ds = pipelines.cloudsen12_hq("train", mode="random", augment=True, seed=1, **common)
    inputs = keras.Input((32, 32, bands))
    model = keras.Model(inputs, keras.layers.Dense(classes)(inputs))  # per pixel, linear

    def numpy_logits(x, w):
        return x.astype(np.float64) @ w[0] + w[1]

    return check(model, eval_ds, train_ds, numpy_logits)


def s2_cloud(data_dir):
    builder = ops.load_builder("s2_cloud_timeseries", data_dir)
    _, h, w, bands = builder.info.features["image"].shape
    classes = 6
    # fixed T (16) for predict, whose batches are concatenated; variable T (multiples
    # of 8) for fit
    eval_ds = pipelines.s2_cloud_timeseries("validation", data_dir=data_dir, batch_size=4,
                                            max_length=16, pad_to_multiple=8)
    train_ds = pipelines.s2_cloud_timeseries("train", data_dir=data_dir, batch_size=4, augment=True,
                                             seed=1, pad_to_multiple=8)
    inputs = keras.Input((None, h, w, bands))
    z = keras.layers.Dense(classes)(inputs)
    z = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(2, 3)))(z)  # (B, T, classes)
    model = keras.Model(inputs, z)

    def numpy_logits(x, w):
        return x.astype(np.float64).mean(axis=(2, 3)) @ w[0] + w[1]

    return check(model, eval_ds, train_ds, numpy_logits)


def cpazmal(data_dir):
    builder = ops.load_builder("cpazmal/scenario1", data_dir)
    classes = len(builder.info.metadata["class_names"])
    eval_ds = pipelines.cpazmal("train", config="scenario1", data_dir=data_dir, batch_size=4, shuffle=False)
    train_ds = pipelines.cpazmal("train", config="scenario1", data_dir=data_dir, batch_size=4, seed=1,
                                 pad_to_multiple=4)
    ws = eval_ds.element_spec[0]["image"].shape[1]
    image = keras.Input((ws, ws, None, 2), name="image")
    mask = keras.Input((None,), name="time_mask")
    z = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(1, 2)))(image)  # (B, T, 2)
    z = keras.layers.Dense(classes)(z)  # (B, T, classes)
    z = keras.layers.Lambda(lambda a: keras.ops.sum(a[0] * a[1][..., None], axis=1)
                            / keras.ops.maximum(keras.ops.sum(a[1], axis=1, keepdims=True), 1.0))([z, mask])
    model = keras.Model({"image": image, "time_mask": mask}, z)

    def numpy_logits(x, w):
        steps = x["image"].astype(np.float64).mean(axis=(1, 2)) @ w[0] + w[1]
        m = x["time_mask"].astype(np.float64)
        return (steps * m[..., None]).sum(1) / np.maximum(m.sum(1, keepdims=True), 1.0)

    return check(model, eval_ds, train_ds, numpy_logits)


CASES = {"cloudsen12_hq": cloudsen12, "s2_cloud_timeseries": s2_cloud, "cpazmal": cpazmal}


def main(argv):
    data_dir = argv[0]
    keras.utils.set_random_seed(0)
    out = {"backend": keras.backend.backend(), "import_seconds": round(time.perf_counter() - START, 1)}
    for name in argv[1:] or CASES:
        start = time.perf_counter()
        out[name] = CASES[name](data_dir)
        out[name]["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
