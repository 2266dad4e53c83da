"""``pipelines.s2_cloud_timeseries``: padded, masked batches of cloud time series for Keras.

The pipeline reads in four stages: source (which records, how they are read, shuffled)
-> geometry (the crop that keeps the labelled centre) -> augmentation, cast and
normalisation -> batch (padded per batch or to ``max_length``) and finish (the Keras
tuples). Patch size, bands, label box and scale come from the builder's features and
``info.metadata``.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders.pipelines import ops

NAME = "s2_cloud_timeseries"
TARGETS = ("sequence", "last")
#: crop modes (the ``mode`` argument): random on training splits, centred elsewhere
CROP_MODES = ("random", "center")
PADDINGS = ("post", "pre")


def covering_crop_origin(box: Sequence[int], crop_size: int, shape: Sequence[int],
                         seed: tf.Tensor | None = None) -> tuple:
    """Top-left ``(row, col)`` of a ``crop_size`` crop of an image of ``shape`` (H, W)
    that keeps ``box`` entirely inside it: uniformly random with a stateless ``seed``,
    centred on the box without one.

    Raises ValueError when ``box`` does not fit in a crop of that size, or the crop in
    the image.
    """
    row0, col0, row1, col1 = outer = ops.crop_box_containing(box, crop_size, shape)
    if seed is not None:
        return ops.random_crop_origin(outer, crop_size, seed)
    r0, c0, r1, c1 = box
    centre = ((r0 + r1) // 2, (c0 + c1) // 2)
    lo, hi = (row0, col0), (row1 - crop_size, col1 - crop_size)
    return tuple(min(max(c - crop_size // 2, a), b) for c, a, b in zip(centre, lo, hi))


def s2_cloud_timeseries(split: str, *, config: str | None = None, data_dir=None,
                        target: str = "sequence", max_length: int | None = None,
                        batch_size: int = 32, crop_size: int | None = None,
                        mode: str | None = None, normalize=True, augment: bool = False,
                        shuffle: bool | None = None, seed: int | None = None,
                        shuffle_buffer: int = 128, padding: str | None = None,
                        source_weights: bool = False, drop_remainder: bool = False,
                        noise_stddev: float = 0.03, pad_to_multiple: int | None = None,
                        crop_mode: str | None = None) -> tf.data.Dataset:
    """A batched, prefetched ``(x, y, sample_weight)`` dataset that ``model.fit`` takes as it is.

    Args:
        split: ``"train"`` or ``"validation"`` (TFDS slicing works too).
        config: ``None`` or ``"pieces"`` for the records as published (series longer
            than 100 timestamps in several pieces), ``"joined"`` for one whole series
            per (tile, localid); the config must have been built.
        data_dir: where ``eo-tfds build`` prepared the dataset.
        target: ``"sequence"``: one label per timestamp; ``"last"``: the label of the
            last timestamp of each series (or window).
        max_length: ``None``: whole examples (T <= 100 in ``pieces``, any T in
            ``joined``), each batch padded to its longest series. An int: a series
            longer than ``max_length`` is cut into consecutive windows of ``max_length``
            timestamps (the last one shorter), ALL of them yielded as separate examples:
            nothing is dropped; every batch is then padded to exactly ``max_length``.
        batch_size: examples (series or windows) per batch.
        crop_size: ``None`` for the full 42 x 42 patch; else the side of a square crop,
            6..42, that always keeps the labelled centre (rows and columns ``[18:24]``)
            inside. The same crop for every timestamp of a series.
        mode: the crop: ``"random"`` (default on ``train``) or ``"center"`` (default
            elsewhere).
        normalize: ``True`` for ``(x - mean) / std`` per band with the training split's
            ``band_stats``; ``False`` for the stored digital numbers as float32; or a
            dict ``{"mean": [...], "std": [...]}``.
        augment: training only: the same random 90-degree rotation and flip for all
            timestamps of a series, gamma and Gaussian noise (``noise_stddev`` band
            standard deviations); labels are per timestamp, so they do not move.
        shuffle: shuffle files and examples; default True for ``train`` only.
        seed: makes shuffling, crops and augmentations reproducible.
        padding: where padded steps go: ``"post"`` (default for ``"sequence"``) or
            ``"pre"`` (default for ``"last"``, so that the final step of every row is
            the labelled real one and a recurrent model ends on it).
        source_weights: multiply the sample weights by the stored (publisher-reserved)
            ``weights`` per timestamp.
        pad_to_multiple: ``K``: every batch's ``T`` rounded up to a multiple of ``K``
            (more padded steps, masked as any), so that XLA and jax compile a bounded
            number of shapes; with ``max_length`` (still cutting the series),
            ``T`` is ``max_length`` rounded up.
        crop_mode: the former name of ``mode`` (deprecated: a DeprecationWarning).

    Yields:
        ``x`` float32 ``(B, T, crop, crop, 4)`` (bands B2 B3 B4 B8), all zeros on padded
        steps. ``target="sequence"``: ``y`` int32 ``(B, T)`` classes 0..5 (0 on padded
        steps) and ``sample_weight`` float32 ``(B, T)``: 1 on real steps (the stored
        weight with ``source_weights``), 0 on padded ones: the mask. ``target="last"``: ``y`` int32 ``(B,)`` and ``sample_weight``
        float32 ``(B,)`` (1, or the stored weight with ``source_weights``).
        ``T`` is the batch's longest series, or ``max_length`` when given (each rounded
        up to a multiple of ``pad_to_multiple``).
    """
    mode = ops.renamed_mode("s2_cloud_timeseries", mode, crop_mode)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ValueError(f"max_length must be a positive int or None, not {max_length!r}")
    if padding is None:
        padding = "post" if target == "sequence" else "pre"
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")
    pad_to_multiple = ops.check_pad_to_multiple(pad_to_multiple)

    # ------------------------------------------------------------------ source
    source = ops.source(NAME if config is None else f"{NAME}/{config}", split, data_dir,
                        mode=mode, modes=CROP_MODES, default_mode=("random", "center"),
                        augment=augment, shuffle=shuffle)
    builder, mode, augment, shuffle = source.builder, source.mode, source.augment, source.shuffle
    meta = source.metadata
    _, height, width, nbands = builder.info.features["image"].shape
    box = tuple(meta["label_box"])
    if crop_size is not None:
        covering_crop_origin(box, crop_size, (height, width))  # validates crop_size
    side_h, side_w = (height, width) if crop_size is None else (crop_size, crop_size)
    stats = ops.band_stats(builder, normalize) if (normalize or augment) else None

    if builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
        # shuffle the serialized records (cheap strings), then decode, crop, cast and
        # normalise in one parallel map
        ds = ops.read_records(builder, split, shuffle_files=shuffle, seed=seed)
        decode = ops.record_decoder(builder)
    else:
        ds = ops.read_examples(builder, split, shuffle_files=shuffle, seed=seed)
        decode = None
    if shuffle and max_length is None:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def decoded(element):
        return decode(element) if decode is not None else element

    # ---------------------------------------------------------------- geometry
    def select(ex, seed_pair):
        """The crop (the same for every timestamp) and the per-step targets."""
        image = ex["image"]
        if crop_size is not None:
            row, col = covering_crop_origin(
                box, crop_size, (height, width),
                ops.sub_seed(seed_pair, 0) if mode == "random" else None)
            image = image[:, row:row + crop_size, col:col + crop_size]
        weights = ex["weights"] if source_weights else tf.ones_like(ex["weights"])
        return {"image": image, "labels": tf.cast(ex["labels"], tf.int32), "weights": weights}

    # ------------------------------------------------------------ augmentation
    pool = ops.noise_pool(seed) if augment else None

    def per_example(ex, seed_pair):
        """Augmentation, cast and normalisation of one (cropped) series."""
        image = ex["image"]
        if augment:
            image = tf.ensure_shape(tf.cast(image, tf.float32), (None, side_h, side_w, nbands))
            (image,) = ops.random_rot_flip([image], ops.sub_seed(seed_pair, 1))
            image = ops.random_gamma(image, ops.sub_seed(seed_pair, 2), scale=float(meta["scale"]))
            image = ops.gaussian_noise(image, ops.sub_seed(seed_pair, 3),
                                       noise_stddev * tf.constant(stats[1], tf.float32), pool)
        # cast and normalise here, before padding: padded steps then stay exactly 0
        # without a masking pass over the batch
        image = tf.cast(image, tf.float32)
        if normalize:
            image = ops.normalize(image, *stats)
        image = tf.ensure_shape(image, (None, side_h, side_w, nbands))
        out = {"x": image, "labels": ex["labels"], "weights": ex["weights"],
               "real": tf.ones_like(ex["weights"])}
        if padding == "pre":  # padded_batch pads at the end: pad the reversed series
            out = {k: tf.reverse(v, [0]) for k, v in out.items()}
        return out

    needs_seeds = augment or (crop_size is not None and mode == "random")
    if max_length is None:
        def one_map(element, seed_pair=None):
            return per_example(select(decoded(element), seed_pair), seed_pair)

        if needs_seeds:
            ds = ops.with_seeds(ds, seed)
        ds = ds.map(one_map, num_parallel_calls=ops.AUTOTUNE)
    else:
        def windows(ex):
            n = tf.shape(ex["labels"])[0]
            starts = tf.range(0, n, max_length)
            return tf.data.Dataset.from_tensor_slices(starts).map(
                lambda s: {k: v[s:s + max_length] for k, v in ex.items()})

        ds = ops.with_seeds(ds, seed).map(lambda e, sp: select(decoded(e), sp),
                                          num_parallel_calls=ops.AUTOTUNE)
        ds = ds.flat_map(windows)
        if shuffle:  # after windowing: windows of one series do not stay together
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ops.with_seeds(ds, None if seed is None else seed + 1).map(
            per_example, num_parallel_calls=ops.AUTOTUNE, deterministic=True)

    # -------------------------------------------------------- batch and finish
    # None: the batch's longest (rounded up in to_keras)
    steps = None if max_length is None else ops.round_up(max_length, pad_to_multiple)
    ds = ds.padded_batch(
        batch_size,
        padded_shapes={"x": [steps, side_h, side_w, nbands], "labels": [steps],
                       "weights": [steps], "real": [steps]},
        drop_remainder=drop_remainder)

    def to_keras(batch):
        x, labels, weights, real = batch["x"], batch["labels"], batch["weights"], batch["real"]
        if steps is None:  # padded steps at the end, before "pre" turns them round
            x, labels, weights, real = (ops.pad_to_multiple(v, 1, pad_to_multiple)
                                        for v in (x, labels, weights, real))
        if padding == "pre":
            x, labels, weights, real = (tf.reverse(v, [1]) for v in (x, labels, weights, real))
        weights = weights * real  # 0 on padded steps
        if target == "sequence":
            return x, labels, weights
        if padding == "pre":
            return x, labels[:, -1], weights[:, -1]
        last = tf.cast(tf.reduce_sum(real, axis=1), tf.int32) - 1
        return (x, tf.gather(labels, last, axis=1, batch_dims=1),
                tf.gather(weights, last, axis=1, batch_dims=1))

    return ds.map(to_keras, num_parallel_calls=ops.AUTOTUNE).prefetch(ops.AUTOTUNE)
