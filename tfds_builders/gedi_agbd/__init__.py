"""GEDI above-ground biomass with Sentinel-2, CopDEM and WorldCover (HDF5)."""

from tfds_builders.gedi_agbd.gedi_agbd_dataset_builder import GediAgbd

__all__ = ["GediAgbd"]
