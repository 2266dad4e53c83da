"""The s2_cloud_timeseries reader: file names, records, dates, discovery (no TensorFlow).

The source format is described in ``tfds_builders/s2_cloud_timeseries/README.md``
("Source format"). Per record this module returns ``(key, example)``: ``key`` =
``"<split>_<TILE>_<N>/<record index>"`` (e.g. ``"val_T50TMK_4/2"``), ``example`` a dict
of ``tile`` str, ``localid`` int64, ``image`` uint16 ``(T, 42, 42, 4)`` channels-last
(B2 B3 B4 B8, the stored digital numbers), ``labels`` int64 ``(T,)`` (0..5 into
:data:`CLASS_NAMES`), ``dates`` int64 ``(T,)`` raw (see :func:`decode_dates`) and
``weights`` float32 ``(T,)``.

The TFRecord framing and its CRCs are read by :mod:`parsers.tfrecord`, the
``tf.train.Example`` messages parsed by :mod:`parsers.tf_example`, the archives listed
and extracted by :mod:`parsers.archives`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import os
import pathlib
import re
from typing import Iterator

import numpy as np

from parsers import archives, tf_example, tfrecord
from parsers.errors import SourceDataError
from parsers.tfrecord import record_spans

log = logging.getLogger(__name__)

CLASS_NAMES = ("clear", "opaque_cloud", "thin_cloud", "haze", "cloud_shadow", "snow")
BANDS = ("B2", "B3", "B4", "B8")
PATCH = 42  # pixels, 10 m
NUM_BANDS = 4
MAX_TIMESTAMPS = 100  # the publisher cuts longer series into records of at most this many
CENTRE = slice(18, 24)  # the labelled 6 x 6 centre of the patch
TIMESTAMP_BYTES = NUM_BANDS * PATCH * PATCH * 2  # one (4, 42, 42) uint16 slice
SPLITS = {"train": "train", "val": "validation"}  # file-name prefix -> TFDS split

IMAGE_KEY = "image_raw_ldseries"

# <train|val>_<TILE>_<N>, then an optional extension (removed before parsing).
_NAME_RE = re.compile(r"^(train|val)_([A-Za-z0-9]+)_(\d+)(\..*)?$")
# Files that sit next to the data but are never TFRecords.
_NOT_DATA_SUFFIXES = {".7z", ".md5", ".json", ".txt", ".part", ".tmp", ".lock", ".zip", ".py"}
_ORDINAL_1970 = datetime.date(1970, 1, 1).toordinal()  # 719163
_YYYYMMDD_RANGE = (19000000, 21000000)


# --------------------------------------------------------------------------- names


@dataclasses.dataclass(frozen=True)
class SourceName:
    """A parsed ``<train|val>_<TILE>_<N>`` file name."""

    name: str  # the name without its extension, e.g. "train_T50TMK_12"
    prefix: str  # "train" or "val", as in the file name
    tile: str
    num_records: int

    @property
    def split(self) -> str:
        """The TFDS split: ``"train"`` or ``"validation"``."""
        return SPLITS[self.prefix]


def parse_source_name(filename: str) -> SourceName | None:
    """Parses ``<train|val>_<TILE>_<N>[.<ext>]`` (base name only); None if it is not one.

    Hidden files, temporary files and archives/checksums (``.7z``, ``.md5``...) are not.
    """
    base = os.path.basename(filename.rstrip("/"))
    if base.startswith("."):
        return None
    match = _NAME_RE.match(base)
    if match is None:
        return None
    if match.group(4) and os.path.splitext(base)[1].lower() in _NOT_DATA_SUFFIXES:
        return None
    prefix, tile, n = match.group(1), match.group(2), match.group(3)
    return SourceName(name=f"{prefix}_{tile}_{n}", prefix=prefix, tile=tile, num_records=int(n))


def _split_name(split: str) -> str:
    aliases = {"train": "train", "val": "validation", "validation": "validation"}
    if split not in aliases:
        raise ValueError(f"unknown split {split!r}: expected 'train' or 'validation'")
    return aliases[split]


# --------------------------------------------------------------------------- dates


def decode_dates(raw) -> np.ndarray:
    """Decodes stored ``dates`` to ``datetime64[D]``, element by element.

    Values in 19000000..21000000 are read as YYYYMMDD; any other value as a day number
    from 0001-01-01 (Python's ``date.toordinal``: 2020-01-01 is 737425). Values that are
    neither a valid calendar date nor a positive day number become ``NaT``.
    Returns an array of the input's shape (a 0-d array for a scalar).
    """
    values = np.asarray(raw, dtype=np.int64)
    out = np.full(values.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    is_ymd = (values >= _YYYYMMDD_RANGE[0]) & (values <= _YYYYMMDD_RANGE[1])

    ordinal = ~is_ymd & (values >= 1)
    out[ordinal] = (values[ordinal] - _ORDINAL_1970).astype("timedelta64[D]") + np.datetime64(
        "1970-01-01", "D")

    ymd = values[is_ymd]
    year, month, day = ymd // 10000, (ymd // 100) % 100, ymd % 100
    month_ok = (month >= 1) & (month <= 12)
    first = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.where(
        month_ok, month - 1, 0).astype("timedelta64[M]")
    days_in_month = ((first + np.timedelta64(1, "M")).astype("datetime64[D]")
                     - first.astype("datetime64[D]")).astype(np.int64)
    valid = month_ok & (day >= 1) & (day <= days_in_month)
    decoded = first.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    out[is_ymd] = np.where(valid, decoded, np.datetime64("NaT", "D"))
    return out


def encode_dates(dates, style: str = "ordinal") -> np.ndarray:
    """The inverse of :func:`decode_dates`: ``datetime64``/``date`` values to int64,
    as day numbers from 0001-01-01 (``style="ordinal"``) or YYYYMMDD (``"yyyymmdd"``)."""
    days = np.asarray(dates, dtype="datetime64[D]")
    if style == "ordinal":
        return (days - np.datetime64("1970-01-01", "D")).astype(np.int64) + _ORDINAL_1970
    if style == "yyyymmdd":
        years = days.astype("datetime64[Y]")
        months = days.astype("datetime64[M]")
        y = years.astype(np.int64) + 1970
        m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
        d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
        return y * 10000 + m * 100 + d
    raise ValueError(f"unknown date style {style!r}")


# --------------------------------------------------------------------------- records


def _feature(example, key: str, path, index: int, *, required: bool = True):
    """(kind, feature) of a feature; None (or an error if required) when it is absent."""
    features = example.features.feature
    if key not in features:
        if required:
            raise SourceDataError(path, f"record {index}: feature {key!r} is missing",
                                  "the file is not from this dataset or is damaged")
        return None
    return features[key].WhichOneof("kind"), features[key]


def _array_feature(example, key, dtype, path, index, *, required=True):
    """A (T,) feature stored as raw bytes (the publisher's way), or as a numeric list."""
    found = _feature(example, key, path, index, required=required)
    if found is None:
        return None
    kind, feature = found
    if kind == "bytes_list":
        values = feature.bytes_list.value
        if len(values) != 1:
            raise SourceDataError(path, f"record {index}: feature {key!r} holds {len(values)} "
                                  "byte strings instead of 1", "the file is damaged")
        itemsize = np.dtype(dtype).itemsize
        if len(values[0]) % itemsize:
            raise SourceDataError(path, f"record {index}: feature {key!r} has {len(values[0])} "
                                  f"bytes, not a multiple of {itemsize}", "the file is damaged")
        return np.frombuffer(values[0], dtype=np.dtype(dtype).newbyteorder("<"))
    if kind == "int64_list" and np.dtype(dtype).kind in "iu":
        return np.asarray(feature.int64_list.value, dtype=np.int64)
    if kind == "float_list" and np.dtype(dtype).kind == "f":
        return np.asarray(feature.float_list.value, dtype=np.float32)
    if kind is None:  # present but holding nothing
        if not required:
            return None
        raise SourceDataError(path, f"record {index}: feature {key!r} is empty",
                              "the file is damaged")
    raise SourceDataError(path, f"record {index}: feature {key!r} is a {kind}, expected bytes",
                          "the file is not from this dataset")


def parse_record(raw: bytes, *, tile: str, path: os.PathLike | str = "<record>",
                 index: int = 0) -> dict:
    """Decodes one serialized ``tf.train.Example`` into the example dict (see module doc).

    Raises SourceDataError naming ``path`` and ``index`` when the record does not parse,
    lacks ``image_raw_ldseries``/``labels``/``dates``, has an image byte length that is not
    a multiple of 4 x 42 x 42 x 2, lengths that disagree on T, or labels outside 0..5.
    """
    try:
        example = tf_example.Example.FromString(raw)
    except Exception as e:  # protobuf DecodeError and friends
        raise SourceDataError(path, f"record {index}: is not a tf.train.Example ({e})",
                              "the file is damaged; re-extract or re-download it") from None

    localid = -1  # the publisher's default when the feature is absent
    found = _feature(example, "localid", path, index, required=False)
    if found is not None:
        kind, feature = found
        if kind == "int64_list" and len(feature.int64_list.value) == 1:
            localid = int(feature.int64_list.value[0])
        elif not (kind is None or (kind == "int64_list" and not feature.int64_list.value)):
            raise SourceDataError(path, f"record {index}: feature 'localid' is not one int64",
                                  "the file is not from this dataset")

    found = _feature(example, IMAGE_KEY, path, index)
    kind, feature = found
    if kind != "bytes_list" or len(feature.bytes_list.value) != 1:
        raise SourceDataError(path, f"record {index}: feature {IMAGE_KEY!r} is not one byte "
                              "string", "the file is not from this dataset")
    image_bytes = feature.bytes_list.value[0]
    if len(image_bytes) % TIMESTAMP_BYTES or not image_bytes:
        raise SourceDataError(
            path, f"record {index}: {IMAGE_KEY!r} has {len(image_bytes)} bytes, not a positive "
            f"multiple of 4 x 42 x 42 x 2 = {TIMESTAMP_BYTES}", "the file is damaged")
    t = len(image_bytes) // TIMESTAMP_BYTES
    image = np.frombuffer(image_bytes, dtype="<u2").reshape(t, NUM_BANDS, PATCH, PATCH)
    # channels-last, native byte order, contiguous: what TFDS stores as raw bytes
    image = np.ascontiguousarray(image.transpose(0, 2, 3, 1), dtype=np.uint16)

    labels = _array_feature(example, "labels", np.int8, path, index)
    dates = _array_feature(example, "dates", np.int64, path, index)
    weights = _array_feature(example, "weights", np.float32, path, index, required=False)
    if weights is None:
        weights = np.ones(t, np.float32)  # reserved by the publisher; neutral when absent
    for key, values in (("labels", labels), ("dates", dates), ("weights", weights)):
        if values.shape != (t,):
            raise SourceDataError(path, f"record {index}: {key!r} has {values.size} values but "
                                  f"the image has T = {t} timestamps", "the file is damaged")
    bad = (labels < 0) | (labels >= len(CLASS_NAMES))
    if bad.any():
        raise SourceDataError(path, f"record {index}: label {int(labels[bad][0])} at timestamp "
                              f"{int(np.flatnonzero(bad)[0])} is outside 0..5",
                              "the file is not from this dataset or is damaged")
    return {
        "tile": tile,
        "localid": np.int64(localid),
        "image": image,
        "labels": labels.astype(np.int64),
        "dates": dates.astype(np.int64),
        "weights": weights.astype(np.float32),
    }


def _iter_raw_records(path: pathlib.Path) -> Iterator[tuple[int, bytes]]:
    """(index, serialized record) with CRCs checked; errors name the record index."""
    try:
        yield from enumerate(tfrecord.iter_records(path))
    except tfrecord.RecordError as e:
        raise _crc_error(path, e) from None


def _crc_error(path, e: tfrecord.RecordError) -> SourceDataError:
    return SourceDataError(path, f"record {e.index}: fails its CRC check or is cut short "
                           f"({e.what})", "re-extract or re-download the file")


def checked_spans(path: os.PathLike | str) -> tuple[SourceName, list[tfrecord.Span]]:
    """The parsed name of a TFRecord file and where its records lie, once the record
    count is known to equal the N of its name (SourceDataError naming the file, or the
    first bad record, otherwise). Reads the length headers only."""
    path = pathlib.Path(path)
    name = parse_source_name(path.name)
    if name is None:
        raise SourceDataError(path, "the name is not <train|val>_<TILE>_<N>[.<ext>]",
                              "keep the publisher's file names")
    if not path.is_file():
        raise SourceDataError(path, "file not found", "check the manual_dir layout")
    spans, framing_error = record_spans(path)  # length headers only: no CRC, no payload
    count, clean = len(spans), framing_error is None
    if not clean or count != name.num_records:
        # Let a CRC / truncation error (with its record index) take precedence.
        checked = sum(1 for _ in _iter_raw_records(path))
        raise SourceDataError(path, f"holds {checked if clean else count} records but its name "
                              f"says {name.num_records}", "the file is incomplete or renamed; "
                              "re-extract or re-download it")
    return name, spans


def iter_file(path: os.PathLike | str) -> Iterator[tuple[str, dict]]:
    """Yields ``(key, example)`` for every record of one TFRecord file, streaming.

    ``path`` must be named ``<train|val>_<TILE>_<N>[.<ext>]``. The record count is checked
    against N before the first example is yielded; any bad record raises SourceDataError
    naming the file and the record index.
    """
    path = pathlib.Path(path)
    name, _ = checked_spans(path)
    seen = 0
    for index, raw in _iter_raw_records(path):
        yield f"{name.name}/{index}", parse_record(raw, tile=name.tile, path=path, index=index)
        seen += 1
    if seen != name.num_records:  # the file changed under us
        raise SourceDataError(path, f"holds {seen} records but its name says "
                              f"{name.num_records}", "re-extract or re-download it")


@functools.lru_cache(maxsize=64)
def _spans_of(path: str, size: int, mtime_ns: int) -> tuple[SourceName, list[tfrecord.Span]]:
    return checked_spans(path)  # cached per file version: a joined build reads many series of one file


def read_records_at(path: os.PathLike | str, indexes) -> Iterator[tuple[int, dict]]:
    """``(index, example)`` for the given record indexes of one file (in the order
    given), each read at its place and CRC-checked: no other record is read."""
    path = pathlib.Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SourceDataError(path, "file not found", "check the manual_dir layout") from None
    name, spans = _spans_of(os.fspath(path), st.st_size, st.st_mtime_ns)
    with open(path, "rb") as f:
        for index in indexes:
            try:
                raw = tfrecord.read_record(f, spans[index], index)
            except tfrecord.RecordError as e:
                raise _crc_error(path, e) from None
            yield index, parse_record(raw, tile=name.tile, path=path, index=index)


# --------------------------------------------------------------------------- discovery


@dataclasses.dataclass(frozen=True)
class Source:
    """One TFRecord file of the dataset, extracted or still inside an archive."""

    name: SourceName
    path: pathlib.Path  # the extracted file, or the archive holding it
    member: str | None = None  # the member name inside the archive; None when extracted

    @property
    def split(self) -> str:
        """``"train"`` or ``"validation"``."""
        return self.name.split


def find_sources(manual_dir: os.PathLike | str) -> list[Source]:
    """Finds, recursively, the extracted ``<train|val>_<TILE>_<N>[.<ext>]`` files and the
    ``.7z`` archives holding such files, and returns one :class:`Source` per distinct name
    (``train_T50TMK_12`` once, whatever its extension or archive), sorted by split and name.

    A file both extracted and inside an archive is read from the extracted copy.
    Archives are only listed (header read), not extracted.
    """
    manual_dir = pathlib.Path(manual_dir)
    if not manual_dir.is_dir():
        raise SourceDataError(manual_dir, "manual_dir not found",
                              "put the .7z archives or extracted TFRecords there")
    extracted: dict[str, Source] = {}
    archived: dict[str, Source] = {}
    for root, dirs, files in os.walk(manual_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for filename in sorted(files):
            path = pathlib.Path(root) / filename
            if filename.lower().endswith(".7z") and not filename.startswith("."):
                for member, _ in archives.archive_members(path):
                    name = parse_source_name(member)
                    if name is not None:
                        _keep(archived, Source(name, path, member))
            else:
                name = parse_source_name(filename)
                if name is not None:
                    _keep(extracted, Source(name, path))
    sources = dict(archived)
    sources.update(extracted)  # prefer the extracted copy
    return sorted(sources.values(), key=lambda s: (s.split, s.name.name))


def _keep(found: dict, source: Source) -> None:
    other = found.get(source.name.name)
    if other is None:
        found[source.name.name] = source
    else:
        log.warning("%s: %s is also in %s; reading it once, from the latter",
                    source.path, source.member or source.name.name, other.path)


def scratch_folder(source: Source, manual_dir: os.PathLike | str,
                   scratch_dir: os.PathLike | str) -> pathlib.Path:
    """Where the archive of ``source`` is extracted: ``scratch_dir/<archive path in
    manual_dir without .7z>`` (so two archives never share a folder)."""
    relative = source.path.relative_to(pathlib.Path(manual_dir))
    return pathlib.Path(scratch_dir) / relative.with_suffix("")


def split_files(manual_dir: os.PathLike | str, split: str, scratch_dir: os.PathLike | str,
                progress: bool = True) -> list[pathlib.Path]:
    """The work items of a split: its TFRecord files, sorted by name.

    Archives holding files of the split are extracted into ``scratch_dir`` first (each
    once; md5 checked when a checksum file lies beside the archive), never next to the
    user's files. Iterating :func:`iter_file` over these in order iterates the split.
    """
    split = _split_name(split)
    files = []
    extracted: dict[pathlib.Path, list[pathlib.Path]] = {}
    for source in find_sources(manual_dir):
        if source.split != split:
            continue
        if source.member is None:
            files.append(source.path)
            continue
        if source.path not in extracted:
            extracted[source.path] = archives.extract_archive(
                source.path, scratch_folder(source, manual_dir, scratch_dir),
                md5=archives.find_md5(source.path), progress=progress)
        files.append(archives.member_path(scratch_folder(source, manual_dir, scratch_dir),
                                  source.member, source.path))
    return files


def iter_split(manual_dir: os.PathLike | str, split: str, scratch_dir: os.PathLike | str,
               progress: bool = True) -> Iterator[tuple[str, dict]]:
    """Yields ``(key, example)`` for a whole split: :func:`iter_file` over
    :func:`split_files`."""
    for path in split_files(manual_dir, split, scratch_dir, progress=progress):
        yield from iter_file(path)
