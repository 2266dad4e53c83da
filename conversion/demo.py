"""``eo-tfds demo``: synth -> build -> load -> pipeline -> one epoch of Keras, per dataset.

Each dataset has a small recipe: which builder config to build, how to call its
pipeline, and a tiny Keras model for its task. The demo prints one table row each.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from conversion import commands


@dataclass
class Recipe:
    spec: str                       # builder to build, "name/config"
    pipeline: Callable              # (data_dir) -> (train ds, eval ds)
    model: Callable                 # (train ds) -> compiled keras model
    task: str


def _segmentation_model(num_classes: int, binary: bool = False):
    def make(ds):
        import keras

        x = ds.element_spec[0]
        inputs = keras.Input(shape=x.shape[1:])
        h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
        h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)
        if binary:
            out = keras.layers.Conv2D(1, 1, activation="sigmoid")(h)
            loss, metric = "binary_crossentropy", "binary_accuracy"
        else:
            out = keras.layers.Conv2D(num_classes, 1)(h)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metric = "sparse_categorical_accuracy"
        model = keras.Model(inputs, out)
        model.compile("adam", loss, weighted_metrics=[metric])
        return model
    return make


def _cloudsen12(data_dir):
    from tfds_builders import pipelines

    train = pipelines.cloudsen12_hq("train", data_dir=data_dir, crop_size=128, batch_size=4,
                                    augment=True, seed=0)
    val = pipelines.cloudsen12_hq("validation", data_dir=data_dir, crop_size=128, mode="grid",
                                  batch_size=4)
    return train, val


def _sequence_model(ds):
    """Per-timestamp classes: a (1, 3, 3) Conv3D (Keras' TimeDistributed mis-infers T
    under tf.function with per-batch padding), pooled over space."""
    import keras

    x = ds.element_spec[0]
    inputs = keras.Input(shape=x.shape[1:])
    h = keras.layers.Conv3D(8, (1, 3, 3), activation="relu")(inputs)
    h = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(2, 3)))(h)
    out = keras.layers.Dense(6)(h)
    model = keras.Model(inputs, out)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=["sparse_categorical_accuracy"])
    return model


def _s2_cloud(data_dir):
    from tfds_builders import pipelines

    train = pipelines.s2_cloud_timeseries("train", data_dir=data_dir, batch_size=4, seed=0)
    val = pipelines.s2_cloud_timeseries("validation", data_dir=data_dir, batch_size=4)
    return train, val


def _regression_model(ds):
    import keras

    x = ds.element_spec[0]
    inputs = keras.Input(shape=x.shape[1:])
    h = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(1)(h)
    model = keras.Model(inputs, keras.layers.Reshape(())(out))
    model.compile("adam", "mse", metrics=["mae"])
    return model


def _gedi(data_dir):
    from tfds_builders import pipelines

    train = pipelines.gedi_agbd("train", data_dir=data_dir, batch_size=8, seed=0)
    test = pipelines.gedi_agbd("test", data_dir=data_dir, batch_size=8)
    return train, test


def _glacier(data_dir):
    from tfds_builders import pipelines

    train = pipelines.glacier_interp("train", data_dir=data_dir, crop_size=64, batch_size=8, seed=0)
    val = pipelines.glacier_interp("validation", data_dir=data_dir, crop_size=64, batch_size=8)
    return train, val


def _cpazmal(data_dir):
    from tfds_builders import pipelines

    train_groups, test_groups = pipelines.cpazmal_group_split(data_dir, "scenario1", seed=0)
    train = pipelines.cpazmal("train", data_dir=data_dir, batch_size=4, groups=train_groups,
                              with_mask=False, seed=0)
    test = pipelines.cpazmal("train", data_dir=data_dir, batch_size=4, groups=test_groups,
                             with_mask=False, shuffle=False)
    return train, test


def _series_classifier(ds):
    """(B, ws, ws, T, 2) -> class: a (3, 3, 1) Conv3D, then the mean over space and time."""
    import keras

    x = ds.element_spec[0]
    inputs = keras.Input(shape=x.shape[1:])
    h = keras.layers.Conv3D(8, (3, 3, 1), activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling3D()(h)
    out = keras.layers.Dense(8)(h)
    model = keras.Model(inputs, out)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    return model


RECIPES: dict[str, Recipe] = {
    "cloudsen12_hq": Recipe("cloudsen12_hq/l1c", _cloudsen12, _segmentation_model(4),
                            "cloud segmentation, 13 bands"),
    "s2_cloud_timeseries": Recipe("s2_cloud_timeseries", _s2_cloud, _sequence_model,
                                  "per-date cloud class, series"),
    "gedi_agbd": Recipe("gedi_agbd", _gedi, _regression_model, "biomass regression"),
    "cpazmal": Recipe("cpazmal/scenario1", _cpazmal, _series_classifier,
                      "land-cover class, SAR series (group-wise split)"),
    "glacier_interp": Recipe("glacier_interp/scenes", _glacier, _segmentation_model(1, binary=True),
                             "glacier segmentation"),
}


def detector_scores(manual: Path, data_dir: Path) -> str:
    """The published detectors scored against ``manual_hq`` on the sample test split, the
    CloudSEN12 paper's table (``cloudsen12_hq/detectors`` built from ``manual``)."""
    from tfds_builders.cloudsen12_hq.score import format_table, score

    commands.build("cloudsen12_hq/detectors", str(manual), str(data_dir))
    return format_table(score(str(data_dir), split="test"))


def joined_series(manual: Path, data_dir: Path) -> str:
    """The published pieces of the sample series re-joined (``s2_cloud_timeseries/joined``
    built from ``manual``): one line per whole series of more than one piece."""
    import numpy as np
    import tensorflow_datasets as tfds

    builder = commands.build("s2_cloud_timeseries/joined", str(manual), str(data_dir))
    lines = []
    for split in builder.info.splits:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            if int(ex["pieces"]) > 1:
                dates = np.asarray(ex["dates"])
                lines.append(f"{split:<11}{ex['tile'].decode():<9}{int(ex['localid']):>8}"
                             f"{int(ex['pieces']):>7}{len(dates):>7}   {dates[0]} .. {dates[-1]}")
    head = f"{'split':<11}{'tile':<9}{'localid':>8}{'pieces':>7}{'steps':>7}   dates (raw)"
    return "\n".join([head, "-" * len(head)] + (lines or ["(no series of more than one piece)"]))


def run(workdir: str | None = None, datasets: list[str] | None = None) -> int:
    commands.quiet_tensorflow()
    import keras

    # a pipeline's length is known only once read: Keras says at the end of the first
    # epoch that the input "ran out of data", which is how every tf.data epoch ends
    warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)

    from tfds_builders import DATASETS

    names = datasets or list(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise commands.UsageError(f"no demo for {', '.join(unknown)}; available: {', '.join(RECIPES)}")
    temp = None
    if workdir is None:
        temp = tempfile.mkdtemp(prefix="eo-tfds-demo-")
        workdir = temp
    root = Path(workdir)
    rows = []
    try:
        for name in names:
            recipe = RECIPES[name]
            t0 = time.time()
            manual = root / "samples" / name
            DATASETS[name].parser.write_samples(manual, seed=0)
            t1 = time.time()
            builder = commands.build(recipe.spec, str(manual), str(root / "data"))
            t2 = time.time()
            counts = ", ".join(f"{k} {v.num_examples}" for k, v in builder.info.splits.items())
            train, val = recipe.pipeline(str(root / "data"))
            keras.utils.set_random_seed(0)
            model = recipe.model(train)
            history = model.fit(train, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
            result = model.evaluate(val, verbose=0, return_dict=True)
            t3 = time.time()
            loss = history.history["loss"][-1]
            metric = {k: v for k, v in result.items() if k != "loss"}
            metric_text = ", ".join(f"{k} {v:.3f}" for k, v in metric.items())
            rows.append((recipe.spec, counts, recipe.task, f"{loss:.4f}",
                         f"{result['loss']:.4f} ({metric_text})", f"{t1 - t0:.1f}/{t2 - t1:.1f}/{t3 - t2:.1f}"))
            print(f"[demo] {recipe.spec}: done", flush=True)
        extras = []
        if "cloudsen12_hq" in names:
            extras.append(("The eight published cloud detectors scored against manual_hq on the "
                           "sample test split (the CloudSEN12 paper's Figure 10 metrics; "
                           "eo-tfds score)", detector_scores(root / "samples" / "cloudsen12_hq", root / "data")))
        if "s2_cloud_timeseries" in names:
            extras.append(("s2_cloud_timeseries/joined: the published pieces re-joined into whole "
                           "series", joined_series(root / "samples" / "s2_cloud_timeseries", root / "data")))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    headers = ("dataset", "examples", "task", "train loss", "eval loss (metric)", "synth/build/fit s")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print()
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    for title, text in extras:
        print(f"\n{title}\n{text}")
    print(f"\nall data was in {root}" + (" (removed)" if temp else ""))
    return 0
