"""tf.data pipelines that Keras ``model.fit`` takes as they are.

One function per dataset returns a batched, prefetched ``tf.data.Dataset`` of
``(x, y)`` or ``(x, y, sample_weight)``. The generic pieces (crops, tiling,
augmentations, normalisation, the Keras adapter) are in :mod:`.ops` and re-exported
here for users' own pipelines.
"""

import importlib

from tfds_builders.pipelines.ops import (
    AUTOTUNE,
    band_stats,
    box_mask,
    center_crop_origin,
    crop_box_containing,
    finish,
    gaussian_noise,
    grid_tiles,
    label_weights,
    load_builder,
    noise_pool,
    normalize,
    padded_crop_origins,
    pad_to_multiple,
    random_crop_origin,
    random_gamma,
    random_rot_flip,
    read_examples,
    sub_seed,
    to_keras,
    with_seeds,
)

#: public names of the datasets' pipeline modules re-exported here besides each
#: dataset's own pipeline function (``DATASETS[name].pipeline``)
_EXTRA = {
    "cpazmal_group_split": "cpazmal",
    "covering_crop_origin": "s2_cloud_timeseries",
}


def __getattr__(name: str):
    """Every dataset's pipeline, ``pipelines.<dataset>(...)``, loaded on first use from
    ``tfds_builders.<dataset>.pipeline`` (the dataset packages import the shared ops
    from here, so the re-export is lazy: no import circle)."""
    from tfds_builders import DATASETS

    if name in DATASETS:
        return DATASETS[name].pipeline
    if name in _EXTRA:
        return getattr(importlib.import_module(f"tfds_builders.{_EXTRA[name]}.pipeline"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "cloudsen12_hq", "s2_cloud_timeseries", "gedi_agbd", "glacier_interp", "covering_crop_origin",
    "cpazmal", "cpazmal_group_split",
    "AUTOTUNE", "band_stats", "box_mask", "center_crop_origin", "finish", "gaussian_noise",
    "grid_tiles", "label_weights", "load_builder", "noise_pool", "normalize", "random_crop_origin",
    "crop_box_containing", "padded_crop_origins",
    "grid_tiles", "label_weights", "load_builder", "normalize", "pad_to_multiple", "random_crop_origin",
    "random_gamma", "random_rot_flip", "read_examples", "sub_seed", "to_keras", "with_seeds",
]
