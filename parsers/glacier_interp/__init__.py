"""Global glacier interpretation dataset: GeoTIFF scenes, read with rasterio (``glacier_interp``).

The source format is described in tfds_builders/glacier_interp/README.md ("Source
format"). This package holds, one concern a module:

- :mod:`.reader`: the layout (scene ids, splits, bands, the publisher's two protocols),
  the scene reader (checks, whole scenes, tiles) and the publisher's normalisation
  bounds rules (see its docstring);
- :mod:`.synth`: :func:`write_samples`, all 65 scenes as small real GeoTIFFs in the
  publisher's layout.

Everything public is re-exported here: ``from parsers import glacier_interp;
glacier_interp.find_scenes(...)``.
"""

from parsers.glacier_interp.reader import (
    BAND_NAMES,
    BOUNDS,
    CHANNEL_NAMES,
    CLASS_NAMES,
    GLASET_BAND_MAX,
    GLASET_BAND_MIN,
    GLASET_ELEVATION,
    GLASET_OVERLAP,
    GLASET_TILE_SIZE,
    GLASET_VALIDATION_EVERY,
    IGNORE_LABEL,
    NORM_EPSILON,
    NUM_BANDS,
    NUM_CHANNELS,
    SCENES_PER_SENSOR,
    SENSORS,
    SPLITS,
    TAIL_FRACTION,
    TILE_SIZE,
    VALIDATION_SCENE_NUMBERS,
    ScenePaths,
    all_scene_ids,
    check_scene,
    find_scenes,
    glaset_bounds,
    glaset_split_of,
    glaset_tile_origins,
    iter_glaset_tile_examples,
    iter_scene_examples,
    iter_tile_examples,
    normalization_bounds,
    normalize,
    scene_ids,
    scene_paths,
    sensor_of,
    split_of,
    tail_counts,
    tile_id,
    tile_origins,
)
from parsers.glacier_interp.synth import write_samples

__all__ = [
    "SENSORS", "SPLITS", "VALIDATION_SCENE_NUMBERS", "SCENES_PER_SENSOR", "BAND_NAMES",
    "CHANNEL_NAMES", "CLASS_NAMES", "NUM_BANDS", "NUM_CHANNELS", "TILE_SIZE", "IGNORE_LABEL",
    "TAIL_FRACTION", "BOUNDS", "NORM_EPSILON", "GLASET_BAND_MIN", "GLASET_BAND_MAX",
    "GLASET_ELEVATION", "GLASET_TILE_SIZE", "GLASET_OVERLAP", "GLASET_VALIDATION_EVERY",
    "ScenePaths", "all_scene_ids", "split_of", "glaset_split_of", "glaset_bounds", "sensor_of",
    "scene_paths", "check_scene", "find_scenes", "scene_ids", "tail_counts",
    "normalization_bounds", "normalize", "iter_scene_examples", "tile_origins",
    "glaset_tile_origins", "tile_id", "iter_tile_examples", "iter_glaset_tile_examples",
    "write_samples",
]
