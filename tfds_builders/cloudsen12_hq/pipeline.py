"""``pipelines.cloudsen12_hq``: padding-aware crops of CloudSEN12 for Keras segmentation.

The function reads as four stages: the source (which records, and which read path:
crops by offset from the memory-mapped shards, crops from the record bytes, or decoded
examples), the geometry (random or centred crops inside the valid box, or grid tiles),
the augmentation (training only), and batching with the vectorised cast and
normalisation. The valid box, band scale and class names come from ``info.metadata``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders.cloudsen12_hq import resplit as trials
from tfds_builders.pipelines import ops, records

MODES = ("random", "center", "grid")


class _Patch(NamedTuple):
    """What the pipeline needs to know of a config's patches (from its ``info``)."""

    box: tuple[int, int, int, int]
    height: int
    width: int
    bands: int
    classes: int
    scale: float
    reflectance: bool  # gamma applies to reflectance (integer) images only

    @classmethod
    def of(cls, builder) -> "_Patch":
        features, meta = builder.info.features, builder.info.metadata
        if "image" not in features:
            raise ValueError(f"{builder.info.full_name} has no image to train on (its features: "
                             f"{', '.join(features.keys())}); the pipeline reads l1c, l2a or s1")
        height, width, bands = features["image"].shape
        return cls(tuple(meta["valid_box"]), height, width, bands, len(meta["class_names"]),
                   float(meta["scale"]), np.dtype(features["image"].np_dtype).kind == "i")


def cloudsen12_hq(split: str, *, config: str = "l1c", data_dir=None, crop_size: int = 256,
                  mode: str = "random", batch_size: int = 16, normalize=True,
                  augment: bool = False, shuffle: bool | None = None, seed: int | None = None,
                  shuffle_buffer: int = 64, drop_remainder: bool = False,
                  noise_stddev: float = 0.03, resplit: dict | None = None,
                  resplit_seed: int | None = None) -> tf.data.Dataset:
    """A batched, prefetched ``(x, y, sample_weight)`` dataset that ``model.fit`` takes as it is.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``, or any split string
            ``tfds.load`` takes (``"train[:10%]"``, ``"train[-5:]"``,
            ``"validation+test"``): the same examples as ``tfds.load`` gives.
        config: ``"l1c"`` (13 bands), ``"l2a"`` (12) or ``"s1"`` (3).
        data_dir: where ``eo-tfds build`` prepared the dataset.
        crop_size: side of the square crops (at most 509 for random/center, 512 for grid).
        mode: ``"random"`` (a uniformly random crop inside the valid box, for training),
            ``"center"`` (the crop centred in the valid box) or ``"grid"`` (tiles
            covering the valid box; every valid pixel has weight > 0 in exactly one
            tile, so an evaluation counts it once).
        batch_size: examples per batch.
        normalize: ``True`` for ``(x - mean) / std`` with the training split's
            ``band_stats``; ``False`` for the stored values (as float32); or a dict
            ``{"mean": [...], "std": [...]}``.
        augment: training only: random 90-degree rotations and flips (image, label
            and weight together), gamma (reflectance configs) and Gaussian noise of
            ``noise_stddev`` band standard deviations (image only).
        shuffle: shuffle files and crops; default True for ``train`` only.
        seed: makes shuffling, crops and augmentations reproducible.
        resplit: a re-split trial, e.g. ``{"train": 0.8, "validation": 0.1, "test":
            0.1}``: every published patch pooled, permuted with ``resplit_seed`` and cut
            into these parts (:mod:`tfds_builders.cloudsen12_hq.resplit`); ``split``
            then names parts (``"train[:50%]"``, ``"validation+test"``), normalisation
            uses the ``train`` part's statistics, and augment/shuffle apply to it only.
        resplit_seed: the trial (int >= 0), required with ``resplit``.

    Yields:
        ``x`` float32 ``(B, crop, crop, C)``; ``y`` int32 ``(B, crop, crop)`` classes 0..3
        (no-label pixels read 0); ``sample_weight`` float32 ``(B, crop, crop)``: 1 on
        labelled valid pixels, 0 on label 255, on padding and (grid) on pixels owned by
        another tile.
    """
    # ---- source: the split's records and the prepared build (mode, augment, shuffle settled)
    if resplit is None and resplit_seed is not None:
        raise ValueError("resplit_seed is the seed of a re-split trial: pass resplit={...} too")
    if resplit is not None:
        trials.check_fractions(resplit)
        trials.check_seed(resplit_seed)
    source = ops.source(f"cloudsen12_hq/{config}", split, data_dir, mode=mode, modes=MODES,
                        augment=augment, shuffle=shuffle)
    builder, mode, augment, shuffle = source.builder, source.mode, source.augment, source.shuffle
    patch = _Patch.of(builder)
    crop_size = _checked_crop_size(patch, mode, crop_size)
    # the published splits' reads, or those of a re-split trial's parts
    reads = trials.Published if resplit is None else trials.Trial(builder, resplit, resplit_seed)
    stats = reads.band_stats(builder, normalize) if (normalize or augment) else None
    layout = index = None
    if mode != "grid" and builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
        layout = ops.raw_layout(builder)
        if not (layout and {"image", "label"} <= layout.keys()):
            layout = None
    if layout:
        index = reads.record_index(builder, split, layout)

    def finish_batch(x, y, w, normalized=False):
        """Cast and normalise whole batches: one vectorised op instead of one per crop."""
        x = tf.cast(x, tf.float32)
        if normalize and not normalized:
            x = ops.normalize(x, *stats)
        return tf.ensure_shape(x, (None, crop_size, crop_size, patch.bands)), y, w

    if index is not None:
        # every stage in one read per batch: the crops' bytes only, by offset
        ds = _crops_by_offset(index, layout, patch, crop_size, mode, stats, normalize, augment,
                              shuffle, seed, batch_size, drop_remainder, noise_stddev, finish_batch)
        return ds.prefetch(ops.AUTOTUNE)

    if mode == "grid":
        # ---- geometry: every patch cut into the tiles that cover its valid box
        ds = reads.read_examples(builder, split, shuffle_files=shuffle, seed=seed)
        ds = ds.map(_grid_tiler(patch, crop_size), num_parallel_calls=ops.AUTOTUNE).unbatch()
    else:
        # ---- geometry: one crop per patch inside the valid box, from the record bytes
        # when the shards are eo-tfds's but not local, else from the decoded example
        if layout:
            ds = reads.read_records(builder, split, shuffle_files=shuffle, seed=seed)
            window = _record_window(builder, layout, crop_size)
        else:
            ds = reads.read_examples(builder, split, shuffle_files=shuffle, seed=seed)
            window = _example_window(crop_size)

        def crop(element, seed_pair):
            row, col = _origin(patch, mode, crop_size, seed_pair)
            image, label = window(element, row, col)
            y, w = ops.label_weights(label, patch.classes)
            if augment:  # ---- augmentation (training only)
                image, y, w = _augment_crop(image, y, w, seed_pair, patch, stats, noise_stddev)
            return image, y, w

        ds = ops.with_seeds(ds, seed).map(crop, num_parallel_calls=ops.AUTOTUNE)
        if shuffle:  # crops are small: shuffle them, not the patches
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    # ---- batch and finish
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=ops.AUTOTUNE)
    return ds.map(finish_batch, num_parallel_calls=ops.AUTOTUNE).prefetch(ops.AUTOTUNE)


# ----------------------------------------------------------------------- geometry

def _checked_crop_size(patch: _Patch, mode: str, crop_size) -> int:
    """Grid tiles fit the patch; random and centred crops fit the valid box."""
    if mode == "grid":
        return ops.check_crop_size(crop_size, 1, min(patch.height, patch.width),
                                   f"the {patch.height} x {patch.width} patch")
    box = patch.box
    return ops.check_crop_size(crop_size, 1, min(box[2] - box[0], box[3] - box[1]),
                               f"the valid box {list(box)}")


def _origin(patch: _Patch, mode: str, crop_size: int, seed_pair):
    """Top-left corner of the crop of one patch: random or centred in the valid box."""
    if mode == "random":
        return ops.random_crop_origin(patch.box, crop_size, ops.sub_seed(seed_pair, 0))
    return ops.center_crop_origin(patch.box, crop_size)


def _example_window(crop_size: int):
    """A crop of a decoded example: ``(image, label)`` at (row, col)."""
    def window(ex, row, col):
        return (ex["image"][row:row + crop_size, col:col + crop_size],
                ex["label"][row:row + crop_size, col:col + crop_size])

    return window


def _record_window(builder, layout: dict, crop_size: int):
    """A crop of a serialized record: the crop's rows from the record bytes, or the
    decoded example's when the record is laid out otherwise (written by TFDS with Beam)."""
    decode = ops.record_decoder(builder)
    example_window = _example_window(crop_size)

    def window(record, row, col):
        def from_bytes():
            return (ops.crop_raw(record, layout["image"], row, col, crop_size),
                    ops.crop_raw(record, layout["label"], row, col, crop_size))

        return tf.cond(ops.layout_matches(record, layout), from_bytes,
                       lambda: example_window(decode(record), row, col))

    return window


def _grid_tiler(patch: _Patch, crop_size: int):
    """A decoded example -> its stacked tiles ``(x, y, w)``; a pixel outside the tile's
    owned box (the valid box, minus what a neighbouring tile counts) has weight 0."""
    tiles = ops.grid_tiles(patch.box, crop_size, (patch.height, patch.width))

    def tile_all(ex):
        label = ex["label"]
        xs, ys, ws = [], [], []
        for row, col, owned in tiles:
            y, w = ops.label_weights(label[row:row + crop_size, col:col + crop_size], patch.classes)
            w = w * ops.box_mask((crop_size, crop_size), owned)
            xs.append(ex["image"][row:row + crop_size, col:col + crop_size])
            ys.append(y)
            ws.append(w)
        return tf.stack(xs), tf.stack(ys), tf.stack(ws)

    return tile_all


# ------------------------------------------------------------------- augmentation

def _augment_crop(image, y, w, seed_pair, patch: _Patch, stats, noise_stddev: float):
    """Rotations/flips on image, label and weight together; gamma and noise on the image."""
    x = tf.cast(image, tf.float32)
    x, y, w = ops.random_rot_flip([x, y, w], ops.sub_seed(seed_pair, 1))
    if patch.reflectance:
        x = ops.random_gamma(x, ops.sub_seed(seed_pair, 2), scale=patch.scale)
    x = ops.gaussian_noise(x, ops.sub_seed(seed_pair, 3),
                           noise_stddev * tf.constant(stats[1], tf.float32))
    return x, y, w


# --------------------------------------------------- all stages in one read per batch

def _crops_by_offset(index, layout, patch: _Patch, crop_size: int, mode: str, stats, normalize,
                     augment: bool, shuffle: bool, seed, batch_size: int, drop_remainder: bool,
                     noise_stddev: float, finish_batch) -> tf.data.Dataset:
    """Batches of ``(x, y, w)`` read by offset from the memory-mapped shards.

    Source: the split's records by position; geometry: each crop's origin; batch: the
    positions and origins; then one read per batch copies the crops' bytes only, cast
    and (with ``normalize`` or ``augment``) normalised in the same copy, and augmented
    in it too: the symmetry is the copy's read order, gamma a table lookup that is the
    cast, the noise drawn for the whole batch from a seed drawn here (new every epoch);
    ``finish_batch`` finishes it in the same map.
    """
    affine = {"image": ops.normalize_affine(*stats) if normalize else None} if (normalize or augment) else None
    gamma_scale = noise = None
    if augment:
        if patch.reflectance:
            gamma_scale = {"image": patch.scale}
        # today's meaning: noise_stddev band stds in raw units, before normalising
        raw_std = noise_stddev * np.asarray(stats[1], np.float64)
        noise = {"image": raw_std * (affine["image"][0] if normalize else 1.0)}
    reader = records.CropReader(index, layout, ("image", "label"), crop_size, affine,
                                gamma_scale=gamma_scale, noise=noise, noise_pool_seed=seed)

    def place(position, seed_pair):
        row, col = _origin(patch, mode, crop_size, seed_pair)
        if not augment:
            return position, row, col
        symmetry = ops.random_symmetry(ops.sub_seed(seed_pair, 1))
        gamma = tf.random.stateless_uniform([], seed=ops.sub_seed(seed_pair, 2),
                                            minval=ops.GAMMA_RANGE[0], maxval=ops.GAMMA_RANGE[1])
        return position, row, col, symmetry, gamma, ops.sub_seed(seed_pair, 3)

    def read_batch(position, row, col, *augmentation):
        if augmentation:
            symmetry, gamma, seeds = augmentation
            augmentation = (symmetry, gamma, seeds[0])  # the batch's noise seed
        image, label = reader(position, row, col, True, *augmentation)
        y, w = ops.label_weights(label, patch.classes)
        return finish_batch(image, y, w, normalized=affine is not None)

    ds = records.index_dataset(index, shuffle=shuffle, seed=seed)
    ds = ops.with_seeds(ds, seed).map(place)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(read_batch, num_parallel_calls=ops.AUTOTUNE)
