"""Sentinel-2 spatial-temporal cloud detection: TFRecords, optionally still in .7z archives.

The publisher's layout (archives, file names ``<train|val>_<TILE>_<N>``, the five
features of each ``tf.train.Example`` record, series cut into pieces of at most 100
timestamps) is described in ``tfds_builders/s2_cloud_timeseries/README.md``.

Modules, re-exported here (``from parsers import s2_cloud_timeseries as s2_cloud;
s2_cloud.iter_file(...)``):

- :mod:`.reader`: constants, file names, dates, records, discovery of the files and
  archives of a split (:func:`split_files`, :func:`iter_file`, :func:`iter_split`);
- :mod:`.joined`: whole series, the pieces of one (split, tile, localid) joined in date
  order (:func:`index_series`, :func:`read_series`, :func:`iter_joined`);
- :mod:`.synth`: the sample writer (:func:`write_samples`, :func:`sample_records`);
- the md5 and 7z tools come from the shared :mod:`parsers.archives`.

Typical use::

    for path in split_files(manual_dir, "train", scratch_dir):   # work items
        for key, example in iter_file(path):                    # one work item
            ...

Nothing here imports TensorFlow: the framing is :mod:`parsers.tfrecord`, the
``tf.train.Example`` messages :mod:`parsers.tf_example` (the protobuf runtime alone).
"""

from parsers.archives import (
    archive_members,
    extract_archive,
    file_md5,
    find_md5,
    read_md5_file,
    write_archive,
)
from parsers.s2_cloud_timeseries.joined import (
    PIECES,
    Piece,
    Series,
    index_series,
    iter_joined,
    join_pieces,
    read_series,
)
from parsers.s2_cloud_timeseries.reader import (
    BANDS,
    CENTRE,
    CLASS_NAMES,
    IMAGE_KEY,
    MAX_TIMESTAMPS,
    NUM_BANDS,
    PATCH,
    SPLITS,
    TIMESTAMP_BYTES,
    Source,
    SourceName,
    decode_dates,
    encode_dates,
    find_sources,
    iter_file,
    iter_split,
    parse_record,
    parse_source_name,
    read_records_at,
    scratch_folder,
    split_files,
)
from parsers.s2_cloud_timeseries.synth import (
    sample_records,
    serialize_record,
    write_samples,
    write_tfrecord,
)

__all__ = [
    "BANDS", "CENTRE", "CLASS_NAMES", "IMAGE_KEY", "MAX_TIMESTAMPS", "NUM_BANDS", "PATCH",
    "PIECES", "SPLITS", "TIMESTAMP_BYTES", "Piece", "Series", "Source", "SourceName",
    "archive_members", "decode_dates", "encode_dates", "extract_archive", "file_md5",
    "find_md5", "find_sources", "index_series", "iter_file", "iter_joined", "iter_split",
    "join_pieces", "parse_record", "parse_source_name", "read_md5_file", "read_records_at",
    "read_series", "sample_records", "scratch_folder", "serialize_record", "split_files",
    "write_archive", "write_samples", "write_tfrecord",
]
