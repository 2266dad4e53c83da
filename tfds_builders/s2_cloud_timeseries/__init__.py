"""Sentinel-2 spatial-temporal cloud detection time series (TFRecords, optionally in .7z)."""

from tfds_builders.s2_cloud_timeseries.s2_cloud_timeseries_dataset_builder import S2CloudTimeseries

__all__ = ["S2CloudTimeseries"]
