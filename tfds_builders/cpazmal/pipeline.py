"""``pipelines.cpazmal``: the four CPAZMAL scenarios as Keras-ready batches.

Read as stages: the source (which records: the split, the groups, shuffled or not), the
geometry (the windows were cut when the dataset was built: each scenario's view of one
window, normalised, no-data set to 0, with its time mask), no augmentation (the
scenarios compare windows as they are), then the batch (padded along time for the series
of scenarios 1 and 2) and the finish (Keras tuples, prefetch).

Also :func:`cpazmal_group_split`, a deterministic group-wise train/test split: windows of
one group overlap in space and time, so a split by example would leak.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from parsers import cpazmal as src
from tfds_builders.pipelines import ops

#: the splits shuffled by default (scenario 4 trains on its source split)
TRAINING_SPLITS = ("train", "source")


def _builder(config, data_dir):
    """The prepared builder of ``config`` (a name like ``"scenario1"`` or a CpazmalConfig)."""
    if isinstance(config, str):
        return ops.load_builder(f"cpazmal/{config}", data_dir)
    import tensorflow_datasets as tfds

    import tfds_builders.cpazmal  # noqa: F401  (registers the builder)

    builder = tfds.builder("cpazmal", config=config, data_dir=data_dir)
    if not builder.is_prepared():
        raise FileNotFoundError(f"cpazmal/{config.name} is not prepared in {builder.data_dir}")
    return builder


def cpazmal_group_split(data_dir=None, config="scenario1", test_fraction: float = 0.25,
                        seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train_groups, test_groups)``: the groups of a prepared config cut in two.

    The groups are those of ``info.metadata["groups"]`` (the learning groups of the
    file), sorted, permuted with ``numpy.random.default_rng(seed)``; the first
    ``round(test_fraction * n)`` (at least 1 and at most n - 1 when n >= 2) are the test
    groups. Deterministic for a seed; no group is in both. Pass the lists as
    ``groups=`` to :func:`cpazmal`.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), not {test_fraction!r}")
    builder = _builder(config, data_dir)
    groups = sorted(builder.info.metadata["groups"])
    n = len(groups)
    n_test = min(max(1, round(test_fraction * n)), n - 1) if n >= 2 else 0
    order = np.random.default_rng(seed).permutation(n)
    test = sorted(groups[i] for i in order[:n_test])
    train = sorted(groups[i] for i in order[n_test:])
    return train, test


# ------------------------------------------------------------------------ source

def _records(source: ops.Source, groups, seed, shuffle_buffer: int) -> tf.data.Dataset:
    """The decoded examples of the split, of ``groups`` only (if given), shuffled when
    ``source.shuffle``."""
    ds = ops.read_examples(source.builder, source.split, shuffle_files=source.shuffle, seed=seed)
    if groups is not None:
        names = sorted({g.decode() if isinstance(g, bytes) else str(g) for g in groups})
        wanted = tf.constant(names or [""], tf.string)
        ds = ds.filter(lambda ex: tf.logical_and(
            bool(names), tf.reduce_any(tf.equal(ex["group"], wanted))))
    if source.shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds


# ---------------------------------------------------------------------- geometry

class _View(NamedTuple):
    """A scenario's view of its windows: ``prep`` (one example -> a dict of the tensors
    to batch), ``padded_shapes`` (the series' shapes to pad along time, or None: a plain
    batch) and ``keras(with_mask)`` (a batch dict -> the tuple ``model.fit`` takes)."""

    prep: Callable
    padded_shapes: dict | None
    keras: Callable


def _clean(x: tf.Tensor, nodata: float, mean=None, std=None) -> tf.Tensor:
    """Normalised (if stats are given) with NaN, +-inf and no-data set to 0."""
    bad = tf.logical_or(tf.logical_not(tf.math.is_finite(x)), tf.equal(x, nodata))
    if mean is not None:
        x = ops.normalize(x, mean, std)
    return tf.where(bad, tf.zeros_like(x), x)


def _temporal_stacking(ws, nodata, stats) -> _View:
    """scenario1: the (ws, ws, T, 2) series and its class."""
    mean, std = (None, None) if stats is None else stats

    def prep(ex):
        image = _clean(ex["image"], nodata, mean, std)
        steps = tf.shape(image)[2]
        return {"image": image, "time_mask": tf.ones([steps], tf.float32),
                "label": tf.cast(ex["label"], tf.int32)}

    def keras(with_mask):
        return lambda b: ({"image": b["image"], "time_mask": b["time_mask"]} if with_mask
                          else b["image"], b["label"])

    return _View(prep, {"image": [ws, ws, None, 2], "time_mask": [None], "label": []}, keras)


def _temporal_prediction(ws, nodata, stats) -> _View:
    """scenario2: the train-period series and the same window's predict-period series."""
    mean, std = (None, None) if stats is None else ([stats[0][0]], [stats[1][0]])

    def prep(ex):
        image = _clean(ex["image_train"], nodata, mean, std)
        target = _clean(ex["image_predict"], nodata, mean, std)
        return {"image": image, "time_mask": tf.ones([tf.shape(image)[2]], tf.float32),
                "target": target, "predict_mask": tf.ones([tf.shape(target)[2]], tf.float32)}

    def keras(with_mask):
        return lambda b: ({"image": b["image"], "time_mask": b["time_mask"],
                           "predict_mask": b["predict_mask"]} if with_mask else b["image"],
                          b["target"])

    shapes = {"image": [ws, ws, None], "time_mask": [None], "target": [ws, ws, None],
              "predict_mask": [None]}
    return _View(prep, shapes, keras)


def _polarisation_adaptation(ws, nodata, stats) -> _View:
    """scenario3: the HH source and the HV target window, each with its band's stats."""
    (ms, ss), (mt, st) = ((None, None), (None, None)) if stats is None else \
        (([stats[0][0]], [stats[1][0]]), ([stats[0][1]], [stats[1][1]]))

    def prep(ex):
        return {"source": _clean(ex["source"], nodata, ms, ss)[..., None],
                "target": _clean(ex["target"], nodata, mt, st)[..., None]}

    return _View(prep, None, lambda with_mask: lambda b: (b["source"], b["target"]))


def _domain_adaptation(ws, nodata, stats) -> _View:
    """scenario4 and scenario4_geometry: one date's window and its class."""
    mean, std = (None, None) if stats is None else stats

    def prep(ex):
        return {"image": _clean(ex["image"], nodata, mean, std),
                "label": tf.cast(ex["label"], tf.int32)}

    return _View(prep, None, lambda with_mask: lambda b: (b["image"], b["label"]))


_VIEWS = {"scenario1": _temporal_stacking, "scenario2": _temporal_prediction,
          "scenario3": _polarisation_adaptation, "scenario4": _domain_adaptation,
          "scenario4_geometry": _domain_adaptation}


# ------------------------------------------------------------------- the pipeline

def cpazmal(split: str = "train", *, config="scenario1", data_dir=None, batch_size: int = 16,
            groups=None, shuffle: bool | None = None, seed: int | None = None,
            normalize=True, with_mask: bool = True, shuffle_buffer: int = 256,
            drop_remainder: bool = False) -> tf.data.Dataset:
    """A batched, prefetched dataset of one CPAZMAL scenario that ``model.fit`` takes as it is.

    Args:
        split: ``"train"`` (scenarios 1-3) or ``"source"``/``"target"`` (scenario 4); TFDS
            slicing works too.
        config: ``"scenario1"`` .. ``"scenario4"`` or a prepared ``CpazmalConfig`` variant.
        data_dir: where the dataset was prepared.
        groups: keep only examples whose ``group`` is in this collection (see
            :func:`cpazmal_group_split`); ``None`` keeps all.
        shuffle: default True for ``train`` and ``source``.
        seed: makes shuffling reproducible.
        normalize: ``True``: ``(v - mean) / std`` per band with ``info.metadata["band_stats"]``
            (scenario 3: source with the source band's, target with the target band's;
            scenario 4: both splits with the ``source`` split's); ``False``: the stored
            values; or ``{"mean": [...], "std": [...]}`` for the bands of x.
        with_mask: scenarios 1 and 2: x as a dict with the time masks (below); False: x
            is the image tensor alone (padded steps are all 0 there, but so can be a
            step with no data).

    Yields (B = batch, ws = window size); every no-data value (NaN, and
    ``info.metadata["nodata_value"]``, -999) is 0:

    - scenario1: ``(x, y)``: x ``{"image": (B, ws, ws, T, 2) float32, "time_mask": (B, T)
      float32}``, T the batch's longest series, padded steps 0 in the image and in
      ``time_mask`` (1 on real steps); y int32 ``(B,)`` class index of
      ``info.metadata["class_names"]``.
    - scenario2: ``(x, y)``: x ``{"image": image_train (B, ws, ws, T1), "time_mask": (B, T1),
      "predict_mask": (B, T2)}``, y ``image_predict`` (B, ws, ws, T2) float32, both padded
      per batch along T (``predict_mask`` says which steps of y are real).
    - scenario3: ``(source[..., None], target[..., None])``, both (B, ws, ws, 1) float32.
    - scenario4: ``(image (B, ws, ws, 2) float32, label int32 (B,))``;
      scenario4_geometry the same with ``(B, ws, ws, 1)``.
    """
    # source: which records
    source = ops.source(_builder(config, data_dir), split, shuffle=shuffle,
                        training_splits=TRAINING_SPLITS)
    cfg = source.builder.builder_config
    scenario = cfg.scenario
    if not set(ops.split_names(split)) <= set(src.SCENARIO_SPLITS[scenario]):
        raise ValueError(f"{scenario} has splits {src.SCENARIO_SPLITS[scenario]}, not {split!r}")
    stats = ops.band_stats(source.builder, normalize) if normalize else None
    ds = _records(source, groups, seed, shuffle_buffer)

    # geometry: the windows as the scenario's model sees them
    view = _VIEWS[scenario](int(cfg.window_size), source.metadata["nodata_value"], stats)
    ds = ds.map(view.prep, num_parallel_calls=ops.AUTOTUNE, deterministic=True)

    # augmentation: none

    # batch and finish
    if view.padded_shapes is None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=ops.AUTOTUNE)
    else:  # padded per batch along T, with zeros; the *_mask features say which steps are real
        ds = ds.padded_batch(batch_size, padded_shapes=view.padded_shapes,
                             drop_remainder=drop_remainder)
    return ds.map(view.keras(with_mask), num_parallel_calls=ops.AUTOTUNE).prefetch(ops.AUTOTUNE)


__all__ = ["cpazmal", "cpazmal_group_split"]
