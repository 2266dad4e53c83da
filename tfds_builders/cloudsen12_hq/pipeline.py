"""``pipelines.cloudsen12_hq``: padding-aware crops of CloudSEN12 for Keras segmentation."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders.cloudsen12_hq import resplit as trials
from tfds_builders.pipelines import ops, records

MODES = ("random", "center", "grid")


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
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    training = ops.is_training(split)
    if augment and not training:
        raise ValueError(f"augment=True is for the train split only, not {split!r}")
    if resplit is None and resplit_seed is not None:
        raise ValueError("resplit_seed is the seed of a re-split trial: pass resplit={...} too")
    if resplit is not None:
        trials.check_fractions(resplit)
        trials.check_seed(resplit_seed)
    builder = ops.load_builder(f"cloudsen12_hq/{config}", data_dir)
    # the published splits' reads, or those of a re-split trial's parts
    reads = trials.Published if resplit is None else trials.Trial(builder, resplit, resplit_seed)
    meta = builder.info.metadata
    box = tuple(meta["valid_box"])
    height, width = builder.info.features["image"].shape[:2]
    nbands = builder.info.features["image"].shape[-1]
    num_classes = len(meta["class_names"])
    if mode == "grid":
        crop_size = ops.check_crop_size(crop_size, 1, min(height, width), f"the {height} x {width} patch")
    else:
        crop_size = ops.check_crop_size(crop_size, 1, min(box[2] - box[0], box[3] - box[1]),
                                        f"the valid box {list(box)}")
    if shuffle is None:
        shuffle = training
    stats = reads.band_stats(builder, normalize) if (normalize or augment) else None
    reflectance = np.dtype(builder.info.features["image"].np_dtype).kind == "i"

    def augment_crop(image, y, w, seed_pair):
        """Rotations/flips on image, label and weight together; gamma and noise on the image."""
        x = tf.cast(image, tf.float32)
        x, y, w = ops.random_rot_flip([x, y, w], ops.sub_seed(seed_pair, 1))
        if reflectance:
            x = ops.random_gamma(x, ops.sub_seed(seed_pair, 2), scale=float(meta["scale"]))
        x = ops.gaussian_noise(x, ops.sub_seed(seed_pair, 3),
                               noise_stddev * tf.constant(stats[1], tf.float32))
        return x, y, w

    def origin(seed_pair):
        if mode == "random":
            return ops.random_crop_origin(box, crop_size, ops.sub_seed(seed_pair, 0))
        return ops.center_crop_origin(box, crop_size)

    def finish_batch(x, y, w, normalized=False):
        """Cast and normalise whole batches: one vectorised op instead of one per crop."""
        x = tf.cast(x, tf.float32)
        if normalize and not normalized:
            x = ops.normalize(x, *stats)
        return tf.ensure_shape(x, (None, crop_size, crop_size, nbands)), y, w

    layout = index = None
    if mode != "grid" and builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
        layout = ops.raw_layout(builder)
        if not (layout and {"image", "label"} <= layout.keys()):
            layout = None
    if layout:
        index = reads.record_index(builder, split, layout)

    if index is not None:
        # Fast path: the crop's bytes only, by offset, from the memory-mapped shards, one
        # call per batch, cast and normalised in the same copy; augmented in it too: the
        # symmetry is the copy's read order, gamma a table lookup that is the cast, the
        # noise drawn for the whole batch from a seed drawn here (new every epoch).
        affine = {"image": ops.normalize_affine(*stats) if normalize else None} if (normalize or augment) else None
        gamma_scale = noise = None
        if augment:
            if reflectance:
                gamma_scale = {"image": float(meta["scale"])}
            # today's meaning: noise_stddev band stds in raw units, before normalising
            raw_std = noise_stddev * np.asarray(stats[1], np.float64)
            noise = {"image": raw_std * (affine["image"][0] if normalize else 1.0)}
        reader = records.CropReader(index, layout, ("image", "label"), crop_size, affine,
                                    gamma_scale=gamma_scale, noise=noise, noise_pool_seed=seed)

        def place(position, seed_pair):
            row, col = origin(seed_pair)
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
            y, w = ops.label_weights(label, num_classes)
            return finish_batch(image, y, w, normalized=affine is not None)

        ds = records.index_dataset(index, shuffle=shuffle, seed=seed)
        ds = ops.with_seeds(ds, seed).map(place)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.map(read_batch, num_parallel_calls=ops.AUTOTUNE).prefetch(ops.AUTOTUNE)

    if mode == "grid":
        ds = reads.read_examples(builder, split, shuffle_files=shuffle, seed=seed)
        tiles = ops.grid_tiles(box, crop_size, (height, width))

        def tile_all(ex):
            label = ex["label"]
            xs, ys, ws = [], [], []
            for row, col, owned in tiles:
                y, w = ops.label_weights(label[row:row + crop_size, col:col + crop_size], num_classes)
                w = w * ops.box_mask((crop_size, crop_size), owned)
                xs.append(ex["image"][row:row + crop_size, col:col + crop_size])
                ys.append(y)
                ws.append(w)
            return tf.stack(xs), tf.stack(ys), tf.stack(ws)

        ds = ds.map(tile_all, num_parallel_calls=ops.AUTOTUNE).unbatch()
    else:
        if layout:
            # whole records through tf.data (shards not local): crop from the record bytes
            ds = reads.read_records(builder, split, shuffle_files=shuffle, seed=seed)
            decode = ops.record_decoder(builder)

            def window(record, row, col):
                def from_bytes():
                    return (ops.crop_raw(record, layout["image"], row, col, crop_size),
                            ops.crop_raw(record, layout["label"], row, col, crop_size))

                def parsed():  # records written by another writer (e.g. TFDS with Beam)
                    ex = decode(record)
                    return (ex["image"][row:row + crop_size, col:col + crop_size],
                            ex["label"][row:row + crop_size, col:col + crop_size])

                return tf.cond(ops.layout_matches(record, layout), from_bytes, parsed)
        else:
            ds = reads.read_examples(builder, split, shuffle_files=shuffle, seed=seed)

            def window(ex, row, col):
                return (ex["image"][row:row + crop_size, col:col + crop_size],
                        ex["label"][row:row + crop_size, col:col + crop_size])

        def crop(element, seed_pair):
            row, col = origin(seed_pair)
            image, label = window(element, row, col)
            y, w = ops.label_weights(label, num_classes)
            if augment:
                image, y, w = augment_crop(image, y, w, seed_pair)
            return image, y, w

        ds = ops.with_seeds(ds, seed).map(crop, num_parallel_calls=ops.AUTOTUNE)
        if shuffle:  # crops are small: shuffle them, not the patches
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=ops.AUTOTUNE)
    return ds.map(finish_batch, num_parallel_calls=ops.AUTOTUNE).prefetch(ops.AUTOTUNE)
