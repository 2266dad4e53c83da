"""``pipelines.glacier_interp``: per-scene normalised crops of the glacier scenes for Keras.

Reads the ``scenes`` config only (one build serves training and validation, any crop
size): crops are cut from the stored uint16 bands and int16 elevation and normalised
with the scene's own bounds (``norm_min``/``norm_max``; tfds_builders/glacier_interp/README.md),
exactly as the ``tiles512`` config stores them, so ``mode="grid"`` with ``crop_size=512``
yields the ``tiles512`` images bit for bit.

Read in stages: source (which scenes) -> geometry (crop origins per scene, crops kept
as raw integers through the shuffle buffer, then normalised and padded with weight 0)
-> augmentation (training only) -> batch and finish. The constants of the format
(band and channel counts, the ignore label, the normalisation epsilon) are those of
:mod:`parsers.glacier_interp`.
"""

from __future__ import annotations

import tensorflow as tf

import tfds_builders.glacier_interp  # noqa: F401  (registers the builder)
from parsers.glacier_interp import IGNORE_LABEL, NORM_EPSILON, NUM_BANDS, NUM_CHANNELS
from tfds_builders.pipelines import ops

MODES = ("random", "grid")

#: Top-left ``(rows, cols)`` of a scene's crops: ``grid`` (every pixel in exactly one
#: crop, padded past the scene) or ``random`` (inside the scene along every axis where
#: it is at least ``crop_size`` long); the shared :func:`ops.padded_crop_origins`.
crop_origins = ops.padded_crop_origins


def scene_normalize(x: tf.Tensor, norm_min: tf.Tensor, norm_max: tf.Tensor) -> tf.Tensor:
    """float32 ``clip((x - min) / (max - min + 1e-6), 0, 1)`` per channel, NaN -> 0.

    The publisher's normalisation (tfds_builders/glacier_interp/README.md) in float32,
    bit-identical to :func:`parsers.glacier_interp.normalize` (``max - min`` first,
    then ``+ 1e-6``).
    """
    norm_min = tf.cast(norm_min, tf.float32)
    span = (tf.cast(norm_max, tf.float32) - norm_min) + tf.constant(NORM_EPSILON, tf.float32)
    out = tf.clip_by_value((tf.cast(x, tf.float32) - norm_min) / span, 0.0, 1.0)
    return tf.where(tf.math.is_nan(out), 0.0, out)


def glacier_interp(split: str, *, data_dir=None, crop_size: int = 512, mode: str | None = None,
                   augment: bool | None = None, batch_size: int = 8, normalize: bool = True,
                   shuffle: bool | None = None, seed: int | None = None,
                   crops_per_scene: int | None = None, shuffle_buffer: int = 32,
                   cycle_length: int = 4, drop_remainder: bool = False,
                   noise_stddev: float = 0.02,
                   gamma_range: tuple[float, float] = (0.8, 1.25)) -> tf.data.Dataset:
    """A batched, prefetched ``(x, y, sample_weight)`` dataset that ``model.fit`` takes as it is.

    Args:
        split: ``"train"`` or ``"validation"`` (TFDS slicing works too).
        data_dir: where ``eo-tfds build glacier_interp`` prepared the ``scenes`` config.
        crop_size: side of the square crops.
        mode: ``"random"`` (default for train): uniformly random crops, inside the scene
            along every axis where it is at least ``crop_size`` long, padded (weight 0)
            along a shorter one; ``"grid"`` (default otherwise): the regular grid of
            tiles from (0, 0) over each scene, padded past its edges, so every scene
            pixel is in exactly one tile.
        augment: default True for train, False otherwise (True on another split is an
            error): the same random 90-degree rotation and flip of x, y and weight;
            gamma and Gaussian noise (``noise_stddev`` in normalised units, i.e. times
            the scene's ``max - min``) on the six spectral bands, inside the scene only.
        batch_size: crops per batch.
        normalize: True: per-scene normalisation (each channel to [0, 1] with the
            scene's ``norm_min``/``norm_max``); False: the stored values as float32.
        shuffle: shuffle files and crops; default True for train only.
        seed: makes shuffling, crops and augmentations reproducible.
        crops_per_scene: random crops drawn per scene and epoch; default as many as the
            scene has grid tiles, so an epoch sees about each scene's area once.
        shuffle_buffer: crops in the shuffle buffer (kept as raw integers until then).
        cycle_length: scenes decoded at once (crops of that many scenes are mixed).

    Yields:
        ``x`` float32 ``(B, crop, crop, 7)`` (6 bands, then elevation; 0 outside the
        scene); ``y`` float32 ``(B, crop, crop, 1)`` 1 glacier / 0 not (0 outside);
        ``sample_weight`` float32 ``(B, crop, crop)``: 1 on scene pixels labelled 0 or 1,
        0 outside the scene and on any other label value.
    """
    if crop_size < 1 or batch_size < 1:
        raise ValueError("crop_size and batch_size must be positive")
    c = int(crop_size)

    # source: which scenes, in which order
    src = ops.source("glacier_interp/scenes", split, data_dir, mode=mode, modes=MODES,
                     default_mode=("random", "grid"), augment=augment, augment_default=True,
                     shuffle=shuffle)
    ds = ops.read_examples(src.builder, split, shuffle_files=src.shuffle, seed=seed)

    # geometry: the crops of each scene, raw integers until after the shuffle buffer
    # (4x smaller than float32), then normalised and padded to crop_size with weight 0
    def scene_crops(ex, seed_pair):
        shape = tf.shape(ex["mask"])
        rows, cols = crop_origins(shape[0], shape[1], c, src.mode, crops_per_scene, seed_pair)

        def cut(row, col):
            return {
                "image": ex["image"][row:row + c, col:col + c],
                "dem": ex["dem"][row:row + c, col:col + c],
                "mask": ex["mask"][row:row + c, col:col + c],
                "norm_min": ex["norm_min"],
                "norm_max": ex["norm_max"],
            }

        return tf.data.Dataset.from_tensor_slices((rows, cols)).map(cut)

    ds = ops.with_seeds(ds, seed).interleave(
        scene_crops, cycle_length=cycle_length if src.mode == "random" else 1,
        num_parallel_calls=ops.AUTOTUNE, deterministic=True)
    if src.shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    pool = ops.noise_pool(seed) if src.augment else None

    def padded(ex):
        """``(x, y, weight, inside, span)`` of a crop padded to ``c`` x ``c``."""
        mask = ex["mask"]
        h, w = tf.shape(mask)[0], tf.shape(mask)[1]
        pad = [[0, c - h], [0, c - w]]
        x = tf.concat([tf.cast(ex["image"], tf.float32), tf.cast(ex["dem"], tf.float32)], -1)
        span = tf.cast(ex["norm_max"], tf.float32) - tf.cast(ex["norm_min"], tf.float32)
        if normalize:
            x = scene_normalize(x, ex["norm_min"], ex["norm_max"])
        x = tf.pad(x, pad + [[0, 0]])
        mask = tf.pad(mask, pad, constant_values=IGNORE_LABEL)
        valid = tf.logical_or(tf.equal(mask, 0), tf.equal(mask, 1))
        y = tf.where(valid, tf.cast(mask, tf.float32), 0.0)
        weight = tf.cast(valid, tf.float32)
        inside = tf.pad(tf.ones([h, w], tf.float32), pad)[..., None] if src.augment else None
        return x, y, weight, inside, span

    # augmentation: gamma and noise on the spectral bands inside the scene, then the
    # same rotation and flip of x, y and weight
    def augmented(x, y, weight, inside, span, seed_pair):
        bands, elevation = x[..., :NUM_BANDS], x[..., NUM_BANDS:]
        # gamma in [0, 1] units: the normalised values, or raw numbers / 65535
        scale = 1.0 if normalize else 1.0 / 65535.0
        bands = ops.random_gamma(bands, ops.sub_seed(seed_pair, 2), scale=scale,
                                 gamma_range=gamma_range)
        stddev = noise_stddev * (1.0 if normalize else span[:NUM_BANDS])
        bands = bands + (ops.gaussian_noise(tf.zeros_like(bands), ops.sub_seed(seed_pair, 3),
                                            stddev, pool) * inside)
        x = tf.concat([bands, elevation], -1)
        x, y, weight = (tf.ensure_shape(x, (c, c, NUM_CHANNELS)), tf.ensure_shape(y, (c, c)),
                        tf.ensure_shape(weight, (c, c)))  # static: a symmetry is one gather
        x, y, weight = ops.random_rot_flip([x, y, weight], ops.sub_seed(seed_pair, 1))
        return x, y, weight

    def finish_example(ex, seed_pair):
        x, y, weight, inside, span = padded(ex)
        if src.augment:
            x, y, weight = augmented(x, y, weight, inside, span, seed_pair)
        x = tf.ensure_shape(x, (c, c, NUM_CHANNELS))
        y = tf.ensure_shape(y[..., None], (c, c, 1))
        weight = tf.ensure_shape(weight, (c, c))
        return x, y, weight

    ds = ops.with_seeds(ds, None if seed is None else seed + 1).map(
        finish_example, num_parallel_calls=ops.AUTOTUNE, deterministic=True)
    # batch and finish
    return ops.finish(ds, batch_size, drop_remainder=drop_remainder)
