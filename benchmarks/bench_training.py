"""Training-path figures of glacier_interp and s2_cloud_timeseries (SPEC "Performance":
"the glacier and s2 training paths are measured likewise and printed"), ratios in one run.

For each dataset, in the same process:

- the training pipeline augmented (glacier: ``glacier_interp("train")``, augmented by
  default; s2: ``s2_cloud_timeseries("train", augment=True)``) and un-augmented: the
  augmentation's cost (goal <= 30 %, as cloudsen12's);
- one bare ``tf.data.TFRecordDataset`` over the same prepared shards (records/s; a
  glacier record is a whole scene and the pipeline yields crops, so that ratio compares
  crops with scenes and is printed as such);
- a plain ``tfds.load`` + map pipeline that a user writes without eo-tfds, doing the same
  crops, normalisation and augmentations per example (rot90 / flip, ``tf.pow`` gamma,
  ``tf.random.normal`` noise), batched the same way.

Run: ``python -m benchmarks.bench_training`` (``EO_TFDS_BENCH_SERIES``: s2 series, default
600; ``EO_TFDS_BENCH_EPOCHS``: glacier epochs per figure, default 4). No bars: the
figures are printed (exit 0).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

GLACIER_CROP = 128
GLACIER_BATCH = 8
S2_BATCH = 32


def _rate(ds, per_element) -> float:
    it = iter(ds)
    next(it)  # start-up (thread pools, buffers) is not throughput
    n = 0
    t = time.perf_counter()
    for element in it:
        n += per_element(element)
    return n / (time.perf_counter() - t)


def _count(e) -> int:
    return int(e[0].shape[0])


def glacier_plain(data: str, epochs: int):
    """``tfds.load`` + per-example maps: random crops (as many per scene as grid tiles),
    per-scene normalisation, gamma and noise on the six bands inside the scene, the same
    rot90 / flip of image, label and weight, padded to the crop size."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    c = GLACIER_CROP

    def crops(ex):
        h, w = tf.shape(ex["mask"])[0], tf.shape(ex["mask"])[1]
        n = ((h + c - 1) // c) * ((w + c - 1) // c)
        rows = tf.random.uniform([n], 0, tf.maximum(h - c, 0) + 1, tf.int32)
        cols = tf.random.uniform([n], 0, tf.maximum(w - c, 0) + 1, tf.int32)

        def cut(r, k):
            x = tf.concat([tf.cast(ex["image"][r:r + c, k:k + c], tf.float32),
                           tf.cast(ex["dem"][r:r + c, k:k + c], tf.float32)], -1)
            return x, ex["mask"][r:r + c, k:k + c], ex["norm_min"], ex["norm_max"]

        return tf.data.Dataset.from_tensor_slices((rows, cols)).map(cut)

    def augment(x, mask, lo, hi):
        h, w = tf.shape(mask)[0], tf.shape(mask)[1]
        x = tf.clip_by_value((x - lo) / (hi - lo + 1e-6), 0.0, 1.0)
        x = tf.where(tf.math.is_nan(x), 0.0, x)
        pad = [[0, c - h], [0, c - w]]
        x = tf.pad(x, pad + [[0, 0]])
        mask = tf.pad(mask, pad, constant_values=255)
        valid = tf.logical_or(tf.equal(mask, 0), tf.equal(mask, 1))
        y = tf.where(valid, tf.cast(mask, tf.float32), 0.0)[..., None]
        weight = tf.cast(valid, tf.float32)[..., None]
        inside = tf.pad(tf.ones([h, w, 1]), pad + [[0, 0]])
        g = tf.random.uniform([], 0.8, 1.25)
        bands = tf.pow(tf.maximum(x[..., :6], 0.0), g)
        bands = bands + tf.random.normal(tf.shape(bands)) * 0.02 * inside
        x = tf.concat([bands, x[..., 6:]], -1)
        k = tf.random.uniform([], 0, 4, tf.int32)
        x, y, weight = tf.image.rot90(x, k), tf.image.rot90(y, k), tf.image.rot90(weight, k)
        flip = tf.random.uniform([]) < 0.5
        x, y, weight = (tf.cond(flip, lambda t=t: tf.image.flip_left_right(t), lambda t=t: t)
                        for t in (x, y, weight))
        return x, y, weight[..., 0]

    ds = tfds.load("glacier_interp/scenes", split="train", data_dir=data, shuffle_files=True)
    return ds.flat_map(crops).shuffle(32).map(augment).batch(GLACIER_BATCH).repeat(epochs)


def glacier_figures(work: Path) -> dict:
    import tensorflow as tf

    from conversion import commands
    from parsers import glacier_interp as src
    from tfds_builders import pipelines

    epochs = int(os.environ.get("EO_TFDS_BENCH_EPOCHS", "4"))
    manual, data = work / "glacier_manual", work / "glacier_data"
    src.write_samples(manual)
    builder = commands.build("glacier_interp/scenes", str(manual), str(data))  # the prepared builder
    shards = [os.fspath(p) for p in builder.info.splits["train"].filepaths]

    def ours(augment):
        return pipelines.glacier_interp("train", data_dir=str(data), crop_size=GLACIER_CROP,
                                        batch_size=GLACIER_BATCH, seed=0, augment=augment).repeat(epochs)

    out = {"bare": _rate(tf.data.TFRecordDataset(shards).repeat(epochs), lambda e: 1)}
    out["aug"] = _rate(ours(True), _count)
    out["unaug"] = _rate(ours(False), _count)
    out["plain"] = _rate(glacier_plain(str(data), epochs), _count)
    out["aug2"] = _rate(ours(True), _count)  # the pair again: order effects show
    out["unaug2"] = _rate(ours(False), _count)
    return out


def s2_plain(data: str, builder):
    """``tfds.load`` + a per-example map: cast, the same rot90 / flip for every timestamp,
    ``tf.pow`` gamma on reflectance, noise of 0.03 band stds, normalisation; padded batches."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    meta = builder.info.metadata
    scale = float(meta["scale"])
    mean = tf.constant(meta["band_stats"]["mean"], tf.float32)
    std = tf.constant(meta["band_stats"]["std"], tf.float32)

    def augment(ex):
        x = tf.cast(ex["image"], tf.float32)  # (T, H, W, C): rot90 over H, W of every step
        k = tf.random.uniform([], 0, 4, tf.int32)
        x = tf.image.rot90(x, k)
        x = tf.cond(tf.random.uniform([]) < 0.5, lambda: tf.image.flip_left_right(x), lambda: x)
        g = tf.random.uniform([], 0.8, 1.25)
        x = tf.pow(tf.maximum(x * scale, 0.0), g) / scale
        x = x + tf.random.normal(tf.shape(x)) * 0.03 * std
        x = (x - mean) / std
        return x, tf.cast(ex["labels"], tf.int32), tf.ones_like(ex["weights"])

    ds = tfds.load("s2_cloud_timeseries", split="train", data_dir=data, shuffle_files=True)
    return ds.shuffle(128).map(augment).padded_batch(S2_BATCH)


def s2_figures(work: Path) -> dict:
    import tensorflow as tf

    from benchmarks.bench_s2_cloud import write_publisher_files
    from conversion import commands
    from tfds_builders import pipelines

    n = int(os.environ.get("EO_TFDS_BENCH_SERIES", "600"))
    manual, data = work / "s2_manual", work / "s2_data"
    write_publisher_files(manual, n)
    builder = commands.build("s2_cloud_timeseries", str(manual), str(data))  # the prepared builder
    shards = [os.fspath(p) for p in builder.info.splits["train"].filepaths]

    def ours(augment):
        return pipelines.s2_cloud_timeseries("train", data_dir=str(data), batch_size=S2_BATCH,
                                             seed=0, augment=augment)

    out = {"series": n, "bare": _rate(tf.data.TFRecordDataset(shards), lambda e: 1)}
    out["aug"] = _rate(ours(True), _count)
    out["unaug"] = _rate(ours(False), _count)
    out["plain"] = _rate(s2_plain(str(data), builder), _count)
    out["aug2"] = _rate(ours(True), _count)
    out["unaug2"] = _rate(ours(False), _count)
    return out


def report(name: str, unit: str, bare_unit: str, f: dict, cores: int) -> None:
    aug = (f["aug"] + f["aug2"]) / 2
    unaug = (f["unaug"] + f["unaug2"]) / 2
    print(f"{name} training (cores {cores}): augmented {f['aug']:.0f} / {f['aug2']:.0f} {unit}/s, "
          f"un-augmented {f['unaug']:.0f} / {f['unaug2']:.0f} -> augmentation costs "
          f"{100 * (1 - aug / unaug):.0f} % (goal <= 30 %); one bare TFRecordDataset {f['bare']:.0f} "
          f"{bare_unit}/s -> {aug / f['bare']:.2f}x; plain tfds.load + map augmenting per example "
          f"{f['plain']:.0f} {unit}/s -> {aug / f['plain']:.2f}x")


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["EO_TFDS_PROGRESS"] = "0"
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="eo-tfds-bench-train-"))
    try:
        glacier = glacier_figures(work)
        s2 = s2_figures(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(f"glacier_interp/scenes ({GLACIER_CROP} px random crops, batch {GLACIER_BATCH}, 48 sample "
           f"scenes of 60..600 px)", "crops", "scenes", glacier, cores)
    report(f"s2_cloud_timeseries ({s2['series']} series of T 1..100, batch {S2_BATCH})",
           "series", "series", s2, cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
