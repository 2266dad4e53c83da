"""Global glacier interpretation dataset (GeoTIFF scenes)."""

from tfds_builders.glacier_interp.glacier_interp_dataset_builder import (
    GlacierInterp,
    GlacierInterpConfig,
    SceneTensor,
)

__all__ = ["GlacierInterp", "GlacierInterpConfig", "SceneTensor"]
