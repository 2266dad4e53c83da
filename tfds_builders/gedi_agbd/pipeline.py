"""``pipelines.gedi_agbd``: stacked Sentinel-2 / CopDEM / WorldCover inputs for biomass regression.

Read in stages: source (which records, shuffled or not) -> geometry (a crop holding the
footprint centre) -> inputs and target (the chosen sources stacked, normalised) ->
batch and finish. The constants of the format (window size, footprint pixels, no-data,
scale, WorldCover classes) are those of :mod:`parsers.gedi_agbd`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from parsers import gedi_agbd
from parsers.gedi_agbd import FOOTPRINT, NO_DATA, PATCH, SCALE, WORLDCOVER_CLASSES
from tfds_builders.pipelines import ops

SOURCES = ("sentinel2", "copdem", "worldcover")
TARGETS = ("agbd", "raster")
MODES = ("random", "center")
#: Channels each source contributes to ``x`` (Sentinel-2 without SCL, one-hot WorldCover).
CHANNELS = {
    "sentinel2": len(gedi_agbd.SENTINEL2_BANDS) - 1,
    "copdem": len(gedi_agbd.COPDEM_BANDS),
    "worldcover": len(WORLDCOVER_CLASSES),
}


def footprint_crop_box(crop_size: int) -> tuple[int, int, int, int]:
    """The box in which a ``crop_size`` crop can lie and still hold the footprint centre
    (for :func:`ops.random_crop_origin`)."""
    return ops.crop_box_containing((FOOTPRINT[0], FOOTPRINT[0], FOOTPRINT[1], FOOTPRINT[1]),
                                   crop_size, (PATCH, PATCH))


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


def _default_mode(shuffle: bool | None) -> tuple[str, str]:
    """The (training, otherwise) default crop: random when the examples are shuffled
    (the training split by default), centred when they are not."""
    if shuffle is None:
        return "random", "center"
    return ("random", "random") if shuffle else ("center", "center")


def gedi_agbd(split: str, *, data_dir=None, batch_size: int = 64,
              sources: Sequence[str] = SOURCES, target: str = "agbd",
              crop_size: int | None = None, mode: str | None = None, normalize=True,
              shuffle: bool | None = None, seed: int | None = None,
              shuffle_buffer: int = 1024, drop_remainder: bool = False,
              crop_mode: str | None = None) -> tf.data.Dataset:
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
        mode: ``"random"`` (uniform among such crops) or ``"center"``; default
            random when shuffling, centre otherwise.
        normalize: ``True``: Sentinel-2 ``(x - mean) / std`` with the train split's
            ``band_stats``, elevation and slope with its ``copdem_stats``;
            ``"scale"``: Sentinel-2 x 1e-4 (reflectance), elevation and slope
            standardised as with True; ``False``: the stored values as float32;
            or a dict ``{"mean": [...], "std": [...]}`` (Sentinel-2, 11 or 12 values)
            with an optional ``"copdem": {"mean", "std"}``. WorldCover is one-hot always.
        shuffle: shuffle files and examples; default True for ``train`` only.
        seed: makes shuffling and random crops reproducible.
        crop_mode: deprecated spelling of ``mode`` (a DeprecationWarning).

    Yields:
        ``x`` float32 ``(B, h, w, C)`` (h = w = crop_size or 32, C the sum of the
        sources' channels); ``y`` float32 ``(B,)`` for ``"agbd"``, or ``(B, h, w, 1)``
        with ``sample_weight`` float32 ``(B, h, w, 1)`` (1 on the footprint, 0 where the
        raster is -9999) for ``"raster"``.
    """
    mode = ops.renamed_mode("gedi_agbd", mode, crop_mode)
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    if not sources or any(s not in SOURCES for s in sources) or len(set(sources)) != len(sources):
        raise ValueError(f"sources must be distinct names among {SOURCES}, not {sources!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    size = PATCH if crop_size is None else ops.check_crop_size(
        crop_size, 2, PATCH, "the 32 x 32 window; a crop must hold the footprint centre")

    # source: which records, in which order
    src = ops.source("gedi_agbd", split, data_dir, mode=mode, modes=MODES,
                     default_mode=_default_mode(shuffle), shuffle=shuffle)
    s2_how, dem_how = _normalisation(src.builder, normalize, sources)
    ds = ops.read_examples(src.builder, split, shuffle_files=src.shuffle, seed=seed)
    if src.shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    # geometry: a crop that holds the footprint centre
    box = footprint_crop_box(size)
    centre = ops.center_crop_origin((0, 0, PATCH, PATCH), size)

    def crop_origin(seed_pair):
        if src.mode == "random" and size < PATCH:
            return ops.random_crop_origin(box, size, ops.sub_seed(seed_pair, 0))
        return centre

    # inputs and target of the crop
    channels = sum(CHANNELS[s] for s in sources)

    def inputs(crop):
        parts = []
        for source in sources:
            if source == "sentinel2":
                parts.append(_apply(tf.cast(crop("sentinel2")[..., 1:], tf.float32), s2_how))
            elif source == "copdem":
                parts.append(_apply(crop("copdem"), dem_how))
            else:
                parts.append(worldcover_one_hot(crop("worldcover")))
        return tf.ensure_shape(tf.concat(parts, axis=-1), (size, size, channels))

    def make(ex, seed_pair):
        row, col = crop_origin(seed_pair)

        def crop(name):
            return ex[name][row:row + size, col:col + size]

        x = inputs(crop)
        if target == "agbd":
            return x, tf.cast(ex["agbd"], tf.float32)
        raster = crop("agbd_raster")
        valid = tf.not_equal(raster, NO_DATA)
        y = tf.ensure_shape(tf.where(valid, raster, 0.0), (size, size, 1))
        return x, y, tf.ensure_shape(tf.cast(valid, tf.float32), (size, size, 1))

    ds = ops.with_seeds(ds, None if seed is None else seed + 1).map(
        make, num_parallel_calls=ops.AUTOTUNE, deterministic=True)
    # batch and finish
    return ops.finish(ds, batch_size, drop_remainder=drop_remainder)


__all__ = ["gedi_agbd", "worldcover_one_hot", "footprint_crop_box", "SOURCES", "TARGETS",
           "MODES", "WORLDCOVER_CLASSES", "CHANNELS"]
