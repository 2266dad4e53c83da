"""``pipelines.gedi_agbd``: stacked Sentinel-2 / CopDEM / WorldCover inputs for biomass regression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from tfds_builders.pipelines import ops

SOURCES = ("sentinel2", "copdem", "worldcover")
TARGETS = ("agbd", "raster")
CROP_MODES = ("random", "center")
#: ESA WorldCover class codes, in the order of the one-hot channels.
WORLDCOVER_CLASSES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)
#: Channels each source contributes to ``x``.
CHANNELS = {"sentinel2": 11, "copdem": 2, "worldcover": len(WORLDCOVER_CLASSES)}
PATCH = 32
#: Rows/columns ``[15, 17)``: the pixels around the footprint centre (the window is
#: centred on the footprint), which every crop contains.
FOOTPRINT = (15, 17)
NO_DATA = -9999.0
SCALE = 1e-4


def footprint_crop_box(crop_size: int) -> tuple[int, int, int, int]:
    """The box in which a ``crop_size`` crop can lie and still hold the footprint centre
    (for :func:`ops.random_crop_origin`)."""
    lo = max(0, FOOTPRINT[1] - crop_size)
    hi = min(FOOTPRINT[0], PATCH - crop_size)
    return lo, lo, hi + crop_size, hi + crop_size


def worldcover_one_hot(worldcover: tf.Tensor) -> tf.Tensor:
    """uint8 ``(..., 1)`` class codes -> float32 ``(..., 11)`` one-hot over
    ``WORLDCOVER_CLASSES``; any other code (0 = no data) is all zeros."""
    codes = tf.constant(WORLDCOVER_CLASSES, dtype=worldcover.dtype)
    return tf.cast(tf.equal(worldcover, codes), tf.float32)


def _stats_of(meta_stats, what: str, builder) -> tuple[list[float], list[float]]:
    if not meta_stats:
        raise ValueError(
            f"{builder.info.full_name} has no {what} in its metadata: rebuild it with "
            "`eo-tfds build`, or pass normalize=False")
    return list(meta_stats["mean"]), list(meta_stats["std"])


def _normalisation(builder, normalize, sources):
    """``(s2, dem)``: each None (stored values), ``"scale"`` (x 1e-4, Sentinel-2 only)
    or ``(mean, std)`` lists, per the ``normalize`` option; statistics are looked up
    only for the sources used."""
    if normalize is False or normalize is None:
        return None, None
    if not (normalize is True or normalize == "scale" or isinstance(normalize, Mapping)):
        raise ValueError(f"normalize must be True, False, 'scale' or a dict, not {normalize!r}")
    meta = builder.info.metadata or {}
    s2 = dem = None
    if "sentinel2" in sources:
        if isinstance(normalize, Mapping):
            s2 = list(normalize["mean"]), list(normalize["std"])
        else:
            s2 = "scale" if normalize == "scale" else ops.band_stats(builder)
        if s2 != "scale":
            if len(s2[0]) == CHANNELS["sentinel2"] + 1:  # statistics of all 12 bands: drop SCL
                s2 = s2[0][1:], s2[1][1:]
            if len(s2[0]) != CHANNELS["sentinel2"] or len(s2[1]) != CHANNELS["sentinel2"]:
                raise ValueError("normalize needs 11 (or 12 with SCL) Sentinel-2 means and stds")
    if "copdem" in sources:
        if isinstance(normalize, Mapping) and "copdem" in normalize:
            dem = list(normalize["copdem"]["mean"]), list(normalize["copdem"]["std"])
        else:
            dem = _stats_of(meta.get("copdem_stats"), "copdem_stats", builder)
        if len(dem[0]) != CHANNELS["copdem"] or len(dem[1]) != CHANNELS["copdem"]:
            raise ValueError("normalize needs 2 CopDEM means and stds (elevation, slope)")
    return s2, dem


def _apply(image: tf.Tensor, how) -> tf.Tensor:
    if how is None:
        return image
    if isinstance(how, str):  # "scale"
        return image * SCALE
    return ops.normalize(image, *how)


def gedi_agbd(split: str, *, data_dir=None, batch_size: int = 64,
              sources: Sequence[str] = SOURCES, target: str = "agbd",
              crop_size: int | None = None, crop_mode: str | None = None, normalize=True,
              shuffle: bool | None = None, seed: int | None = None,
              shuffle_buffer: int = 1024, drop_remainder: bool = False) -> tf.data.Dataset:
    """A batched, prefetched dataset of ``(x, y)`` or ``(x, y, sample_weight)`` for ``model.fit``.

    Args:
        split: ``"train"`` or ``"test"`` (TFDS slicing works too).
        data_dir: where ``eo-tfds build`` prepared ``gedi_agbd``.
        batch_size: examples per batch.
        sources: which inputs, stacked along channels in this order:
            ``"sentinel2"`` (11 channels: B02..B12, SCL left out), ``"copdem"``
            (2: elevation, slope), ``"worldcover"`` (11: one-hot over the ESA classes
            10, 20, ..., 90, 95, 100; other codes all zeros).
        target: ``"agbd"`` (the footprint's AGBD, Mg/ha) or ``"raster"`` (the AGBD
            raster; pixels at -9999 read 0 and have sample weight 0).
        crop_size: side of a square crop (2..32) that always holds the footprint
            centre (pixels 15..16); None keeps the whole 32 x 32 window.
        crop_mode: ``"random"`` (uniform among such crops) or ``"center"``; default
            random when shuffling, centre otherwise.
        normalize: ``True``: Sentinel-2 ``(x - mean) / std`` with the train split's
            ``band_stats``, elevation and slope with its ``copdem_stats``;
            ``"scale"``: Sentinel-2 x 1e-4 (reflectance), elevation and slope
            standardised as with True; ``False``: the stored values as float32;
            or a dict ``{"mean": [...], "std": [...]}`` (Sentinel-2, 11 or 12 values)
            with an optional ``"copdem": {"mean", "std"}``. WorldCover is one-hot always.
        shuffle: shuffle files and examples; default True for ``train`` only.
        seed: makes shuffling and random crops reproducible.

    Yields:
        ``x`` float32 ``(B, h, w, C)`` (h = w = crop_size or 32, C the sum of the
        sources' channels); ``y`` float32 ``(B,)`` for ``"agbd"``, or ``(B, h, w, 1)``
        with ``sample_weight`` float32 ``(B, h, w, 1)`` (1 on the footprint, 0 where the
        raster is -9999) for ``"raster"``.
    """
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    if not sources or any(s not in SOURCES for s in sources) or len(set(sources)) != len(sources):
        raise ValueError(f"sources must be distinct names among {SOURCES}, not {sources!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    size = PATCH if crop_size is None else int(crop_size)
    if not 2 <= size <= PATCH:
        raise ValueError(f"crop_size must be between 2 and {PATCH} (it must hold the "
                         f"footprint centre), not {crop_size!r}")
    training = ops.is_training(split)
    if shuffle is None:
        shuffle = training
    if crop_mode is None:
        crop_mode = "random" if shuffle else "center"
    if crop_mode not in CROP_MODES:
        raise ValueError(f"crop_mode must be one of {CROP_MODES}, not {crop_mode!r}")
    builder = ops.load_builder("gedi_agbd", data_dir)
    s2_how, dem_how = _normalisation(builder, normalize, sources)
    channels = sum(CHANNELS[s] for s in sources)
    box = footprint_crop_box(size)
    centre = ops.center_crop_origin((0, 0, PATCH, PATCH), size)

    ds = ops.read_examples(builder, split, shuffle_files=shuffle, seed=seed)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def make(ex, seed_pair):
        if crop_mode == "random" and size < PATCH:
            row, col = ops.random_crop_origin(box, size, ops.sub_seed(seed_pair, 0))
        else:
            row, col = centre

        def crop(t):
            return t[row:row + size, col:col + size]

        parts = []
        for source in sources:
            if source == "sentinel2":
                parts.append(_apply(tf.cast(crop(ex["sentinel2"])[..., 1:], tf.float32), s2_how))
            elif source == "copdem":
                parts.append(_apply(crop(ex["copdem"]), dem_how))
            else:
                parts.append(worldcover_one_hot(crop(ex["worldcover"])))
        x = tf.ensure_shape(tf.concat(parts, axis=-1), (size, size, channels))
        if target == "agbd":
            return x, tf.cast(ex["agbd"], tf.float32)
        raster = crop(ex["agbd_raster"])
        valid = tf.not_equal(raster, NO_DATA)
        y = tf.ensure_shape(tf.where(valid, raster, 0.0), (size, size, 1))
        return x, y, tf.ensure_shape(tf.cast(valid, tf.float32), (size, size, 1))

    ds = ops.with_seeds(ds, None if seed is None else seed + 1).map(
        make, num_parallel_calls=ops.AUTOTUNE, deterministic=True)
    return ops.finish(ds, batch_size, drop_remainder=drop_remainder)


__all__ = ["gedi_agbd", "worldcover_one_hot", "footprint_crop_box", "SOURCES", "TARGETS",
           "WORLDCOVER_CLASSES", "CHANNELS"]
