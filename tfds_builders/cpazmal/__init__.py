"""CPAZMAL: PAZ and TerraSAR-X/TanDEM-X SAR time series over the Mont-Blanc massif (HDF5)."""

from tfds_builders.cpazmal.cpazmal_dataset_builder import (
    CONFIGS,
    SCENARIO1,
    SCENARIO2,
    SCENARIO3,
    SCENARIO4,
    SCENARIO4_GEOMETRY,
    Cpazmal,
    CpazmalConfig,
)

__all__ = ["CONFIGS", "SCENARIO1", "SCENARIO2", "SCENARIO3", "SCENARIO4", "SCENARIO4_GEOMETRY", "Cpazmal", "CpazmalConfig"]
