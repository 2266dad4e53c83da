"""Global glacier interpretation dataset (GeoTIFF scenes)."""

from tfds_builders.glacier_interp.glacier_interp_dataset_builder import (
    GlacierInterp,
    GlacierInterpConfig,
    SceneTensor,
)
from tfds_builders.glacier_interp.preview import preview_png

__all__ = ["GlacierInterp", "GlacierInterpConfig", "SceneTensor", "preview_png"]
