"""tf.data pipelines that Keras ``model.fit`` takes as they are.

One function per dataset returns a batched, prefetched ``tf.data.Dataset`` of
``(x, y)`` or ``(x, y, sample_weight)``. The generic pieces (crops, tiling,
augmentations, normalisation, the Keras adapter) are in :mod:`.ops` and re-exported
here for users' own pipelines.
"""

from tfds_builders.pipelines.cloudsen12 import cloudsen12_hq
from tfds_builders.pipelines.cpazmal import cpazmal, cpazmal_group_split
from tfds_builders.pipelines.gedi import gedi_agbd
from tfds_builders.pipelines.glacier import glacier_interp
from tfds_builders.pipelines.s2_cloud import covering_crop_origin, s2_cloud_timeseries
from tfds_builders.pipelines.ops import (
    AUTOTUNE,
    band_stats,
    box_mask,
    center_crop_origin,
    finish,
    gaussian_noise,
    grid_tiles,
    label_weights,
    load_builder,
    normalize,
    random_crop_origin,
    random_gamma,
    random_rot_flip,
    read_examples,
    sub_seed,
    to_keras,
    with_seeds,
)

__all__ = [
    "cloudsen12_hq", "s2_cloud_timeseries", "gedi_agbd", "glacier_interp", "covering_crop_origin",
    "cpazmal", "cpazmal_group_split",
    "AUTOTUNE", "band_stats", "box_mask", "center_crop_origin", "finish", "gaussian_noise",
    "grid_tiles", "label_weights", "load_builder", "normalize", "random_crop_origin",
    "random_gamma", "random_rot_flip", "read_examples", "sub_seed", "to_keras", "with_seeds",
]
