"""Readers of the five source formats, and writers of small sample files in the same
layouts. Nothing here needs TensorFlow: files in, numpy example dicts out.

Modules (one per dataset, each with its reader and its sample writer side by side):
``cloudsen12`` (raw memmap arrays), ``s2_cloud`` (TFRecords in 7z archives),
``cpazmal`` (HDF5 SAR time series), ``gedi`` (HDF5 biomass), ``glacier`` (GeoTIFF);
``tfrecord``: the TFRecord framing (record spans, masked CRCs) that the s2 reader, the
shard writer and the pipelines' record index share.
"""

from parsers.errors import SourceDataError

__all__ = ["SourceDataError"]
