"""Readers of the five source formats, and writers of small sample files in the same
layouts. Nothing here needs TensorFlow: files in, numpy example dicts out.

Modules (one per dataset, each with its reader and its sample writer side by side):
``cloudsen12_hq`` (raw memmap arrays), ``s2_cloud_timeseries`` (TFRecords in 7z
archives), ``cpazmal`` (HDF5 SAR time series), ``gedi_agbd`` (HDF5 biomass),
``glacier_interp`` (GeoTIFF). Shared: ``errors`` (the error type), ``atomic``
(temp-then-rename writes), ``tfrecord`` (the TFRecord framing, record spans, masked
CRCs: the s2 reader, the shard writer and the pipelines' record index share it),
``tf_example`` (``tf.train.Example`` from the protobuf runtime), ``archives`` (7z + md5,
behind ``eo-tfds extract``).
"""

from parsers.errors import SourceDataError

__all__ = ["SourceDataError"]
