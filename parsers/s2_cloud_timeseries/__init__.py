"""Sentinel-2 spatial-temporal cloud detection: TFRecords, optionally still in .7z archives.

The publisher ships many ``.7z`` archives (each with an md5) holding TFRecord files named
``<train|val>_<TILE>_<N>`` (with or without an extension), N being the number of records.
Each record is an uncompressed ``tf.train.Example`` with:

- ``localid``: int64 scalar (default -1), the sample's id within its tile;
- ``image_raw_ldseries``: bytes, little-endian uint16 ``(T, 4, 42, 42)``, bands B2 B3 B4 B8;
- ``labels``: bytes, int8 ``(T,)``, class of the centre 6 x 6 pixels per timestamp;
- ``dates``: bytes, int64 ``(T,)``, day numbers from 0001-01-01 or YYYYMMDD;
- ``weights``: bytes, float32 ``(T,)``, reserved.

A long series is cut into records of at most 100 timestamps sharing tile and localid.

What the reader returns, per record, as ``(key, example)`` with ``key`` =
``"<split>_<TILE>_<N>/<record index>"`` (e.g. ``"val_T50TMK_4/2"``) and ``example``:

- ``tile``: str, from the file name (e.g. ``"T50TMK"``);
- ``localid``: int64 scalar;
- ``image``: uint16 ``(T, 42, 42, 4)`` channels-last, bands B2 B3 B4 B8, raw digital numbers;
- ``labels``: int64 ``(T,)``, class indices 0..5 into :data:`CLASS_NAMES`;
- ``dates``: int64 ``(T,)``, the raw stored values (see :func:`decode_dates`);
- ``weights``: float32 ``(T,)``.

Typical use::

    for path in split_files(manual_dir, "train", scratch_dir):   # work items
        for key, example in iter_file(path):                    # one work item
            ...

TensorFlow is used only to read and write the TFRecord framing (CRC32C) and to parse
``tf.train.Example``; it is imported lazily.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import re
from typing import Iterator

import numpy as np

from parsers.errors import SourceDataError, machine_error
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
_MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
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
    import tensorflow as tf  # lazily: only the TFRecord layer needs it

    try:
        example = tf.train.Example.FromString(raw)
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
    import tensorflow as tf

    index = 0
    iterator = iter(tf.data.TFRecordDataset(str(path), buffer_size=1 << 20))
    while True:
        try:
            raw = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as e:
            detail = re.search(r"(corrupted|truncated) record at \d+", e.message or "")
            what = detail.group(0) if detail else (e.message or type(e).__name__).strip()
            raise SourceDataError(path, f"record {index}: fails its CRC check or is cut short "
                                  f"({what})", "re-extract or re-download the file") from None
        yield index, raw.numpy()
        index += 1


def iter_file(path: os.PathLike | str) -> Iterator[tuple[str, dict]]:
    """Yields ``(key, example)`` for every record of one TFRecord file, streaming.

    ``path`` must be named ``<train|val>_<TILE>_<N>[.<ext>]``. The record count is checked
    against N before the first example is yielded; any bad record raises SourceDataError
    naming the file and the record index.
    """
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
    seen = 0
    for index, raw in _iter_raw_records(path):
        yield f"{name.name}/{index}", parse_record(raw, tile=name.tile, path=path, index=index)
        seen += 1
    if seen != name.num_records:  # the file changed under us
        raise SourceDataError(path, f"holds {seen} records but its name says "
                              f"{name.num_records}", "re-extract or re-download it")


# --------------------------------------------------------------------------- md5


def read_md5_file(md5_path: os.PathLike | str, name: str | None = None) -> str:
    """The hex digest for ``name`` from an md5 file (``<hex>  <name>``, ``<hex> *<name>``,
    ``MD5 (<name>) = <hex>`` or a bare ``<hex>``). With a single entry, that entry."""
    md5_path = pathlib.Path(md5_path)
    try:
        text = md5_path.read_text(errors="replace")
    except OSError as e:
        raise SourceDataError(md5_path, f"cannot read the md5 file ({e.strerror})",
                              "check the path") from None
    entries: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        bsd = re.match(r"^MD5\s*\((.*)\)\s*=\s*([0-9a-fA-F]{32})$", line)
        if bsd:
            entries.append((bsd.group(2).lower(), bsd.group(1)))
            continue
        parts = line.split(None, 1)
        if _MD5_RE.match(parts[0]):
            entry = parts[1].strip().lstrip("*") if len(parts) > 1 else None
            entries.append((parts[0].lower(), os.path.basename(entry) if entry else None))
    if name is not None:
        for digest, entry in entries:
            if entry == os.path.basename(name):
                return digest
    if len(entries) == 1:
        return entries[0][0]
    raise SourceDataError(md5_path, f"no md5 entry for {name!r}" if entries else
                          "holds no md5 digest", "give the digest of the archive")


def find_md5(archive: os.PathLike | str) -> str | None:
    """The expected md5 of an archive from a checksum file beside it, if there is one:
    ``<archive>.md5``, ``<archive stem>.md5``, or any ``*.md5`` naming the archive."""
    archive = pathlib.Path(archive)
    for candidate in (archive.with_name(archive.name + ".md5"), archive.with_suffix(".md5")):
        if candidate.is_file():
            return read_md5_file(candidate, archive.name)
    for candidate in sorted(archive.parent.glob("*.md5")):
        try:
            if archive.name in candidate.read_text(errors="replace"):
                return read_md5_file(candidate, archive.name)
        except (OSError, SourceDataError):
            continue
    return None


def file_md5(path: os.PathLike | str, progress: bool = False) -> str:
    """The md5 hex digest of a file, read in 8 MiB blocks."""
    from tqdm.auto import tqdm

    path = pathlib.Path(path)
    digest = hashlib.md5()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     desc=f"md5 {path.name}", disable=not progress,
                                     leave=False) as bar:
        while block := f.read(8 << 20):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


# --------------------------------------------------------------------------- archives


class _OutputError(Exception):
    """An OSError while writing to the scratch folder (not the archive's fault)."""


def _member_path(out_dir: pathlib.Path, member: str, archive) -> pathlib.Path:
    parts = pathlib.PurePosixPath(member.replace("\\", "/")).parts
    if not parts or member.startswith("/") or ".." in parts:
        raise SourceDataError(archive, f"member {member!r} would be written outside the output "
                              "folder", "the archive is not from this dataset")
    return out_dir.joinpath(*parts)


def _archive_members(archive: pathlib.Path) -> list[tuple[str, int]]:
    """(name, uncompressed size) of every regular-file member; reads the header only."""
    import py7zr

    try:
        with py7zr.SevenZipFile(archive, "r") as z:
            return [(f.filename, int(f.uncompressed or 0)) for f in z.list()
                    if not f.is_directory and not f.is_symlink]
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise SourceDataError(archive, "archive not found", "check the path") from None
        raise machine_error(e, archive) or SourceDataError(
            archive, f"the archive cannot be read ({e}); it is cut short or corrupt",
            "download it again") from None
    except Exception as e:  # py7zr raises many types for a broken header
        raise SourceDataError(archive, f"the archive cannot be read ({type(e).__name__}: {e}); "
                              "it is cut short or corrupt", "download it again") from None


def _marker_path(out_dir: pathlib.Path, archive: pathlib.Path) -> pathlib.Path:
    return out_dir / f".{archive.name}.extracted.json"


def _archive_stamp(archive: pathlib.Path) -> dict:
    st = archive.stat()
    return {"archive": archive.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def extract_archive(archive: os.PathLike | str, out_dir: os.PathLike | str,
                    md5: str | os.PathLike | None = None,
                    progress: bool = True) -> list[pathlib.Path]:
    """Extracts every file of a ``.7z`` archive into ``out_dir``; returns their paths.

    - ``md5``: the expected digest of the archive, as hex or as the path of an ``.md5``
      file (``<hex>  <name>``); checked before anything is written.
    - Members are streamed to disk one after another (never held in memory), each under a
      hidden temporary name, and renamed only once complete and CRC-checked.
    - An archive already fully extracted (a completion marker in ``out_dir`` matching the
      archive's size, mtime and members) is skipped; after an interruption, members
      already complete are kept and the rest extracted.

    Raises SourceDataError naming the archive when it is cut short or corrupt or its md5
    does not match; no partial member is then left under its final name.
    """
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory
    from tqdm.auto import tqdm

    archive = pathlib.Path(archive)
    out_dir = pathlib.Path(out_dir).absolute()
    if not archive.is_file():
        raise SourceDataError(archive, "archive not found", "check the path")
    expected_md5 = None
    if md5 is not None:
        if isinstance(md5, str) and _MD5_RE.match(md5.strip()):
            expected_md5 = md5.strip().lower()
        else:
            expected_md5 = read_md5_file(md5, archive.name)

    stamp = _archive_stamp(archive)
    marker = _marker_path(out_dir, archive)
    members = _archive_members(archive)
    paths = {name: _member_path(out_dir, name, archive) for name, _ in members}
    listing = {name: size for name, size in members}

    def complete(name: str, size: int) -> bool:
        p = paths[name]
        return p.is_file() and p.stat().st_size == size

    try:
        state = json.loads(marker.read_text()) if marker.is_file() else {}
    except (OSError, ValueError):
        state = {}
    # Members on disk are trusted only if the marker says they came from this very archive.
    same_archive = ({k: state.get(k) for k in stamp} == stamp
                    and state.get("members") == listing)
    if same_archive and state.get("complete") and all(complete(n, s) for n, s in members):
        if expected_md5 is None or state.get("md5") == expected_md5:
            return [paths[n] for n, _ in members]
    if same_archive and expected_md5 and state.get("md5") not in (None, expected_md5):
        raise SourceDataError(archive, f"md5 is {state['md5']}, expected {expected_md5}",
                              "the archive is damaged or a different version; download it "
                              "again")

    actual_md5 = state.get("md5") if same_archive else None
    if expected_md5 is not None and actual_md5 is None:
        actual_md5 = file_md5(archive, progress=progress)
        if actual_md5 != expected_md5:
            raise SourceDataError(archive, f"md5 is {actual_md5}, expected {expected_md5}",
                                  "the archive is damaged or a different version; download "
                                  "it again")

    todo = [(n, s) for n, s in members if not (same_archive and complete(n, s))]
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_marker(marker, dict(stamp, members=listing, md5=actual_md5, complete=False))
    open_parts: dict[str, tuple] = {}  # final path -> (temp path, file object)
    bar = tqdm(total=sum(s for _, s in todo), unit="B", unit_scale=True,
               desc=f"extract {archive.name}", disable=not progress or not todo, leave=False)

    class _Member(Py7zIO):
        """Streams one member into its temporary file; renames it once py7zr closes it."""

        def __init__(self, final: pathlib.Path):
            self.final = final
            self.temp = final.with_name(f".{final.name}.{os.getpid()}.part")
            self._size = 0
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                self.file = open(self.temp, "wb")
            except OSError as e:
                raise _OutputError(e) from e
            open_parts[str(final)] = (self.temp, self.file)

        def write(self, s):
            try:
                n = self.file.write(s)
            except OSError as e:  # disk full: a write names no file, say which
                e.filename = e.filename or str(self.temp)
                raise _OutputError(e) from e
            self._size += len(s)
            bar.update(len(s))
            return n

        def read(self, size=None):
            return b""

        def seek(self, offset, whence=0):
            return self._size  # py7zr rewinds before close; the file is write-only

        def flush(self):
            self.file.flush()

        def size(self):
            return self._size

        def close(self):
            # py7zr calls this only after the member's CRC has been checked
            try:
                self.file.close()
                os.replace(self.temp, self.final)
            except OSError as e:
                raise _OutputError(e) from e
            open_parts.pop(str(self.final), None)

    class _Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            final = pathlib.Path(filename)
            if out_dir.resolve() not in final.resolve().parents:
                raise SourceDataError(archive, f"member {filename!r} would be written outside "
                                      "the output folder", "the archive is not from this dataset")
            return _Member(final)

    try:
        if todo:
            for name, _ in todo:  # leftovers of an interrupted run
                for stale in paths[name].parent.glob(f".{paths[name].name}.*.part"):
                    stale.unlink()
            # A file object (not a name) keeps py7zr sequential: one member at a time.
            with open(archive, "rb") as fp, py7zr.SevenZipFile(fp, "r") as z:
                z.extract(path=out_dir, targets=[n for n, _ in todo], factory=_Factory())
            missing = [n for n, s in todo if not complete(n, s)]
            if missing:
                raise SourceDataError(archive, f"member {missing[0]!r} was not extracted whole; "
                                      "the archive is cut short or corrupt", "download it again")
    except SourceDataError:
        _discard(open_parts)
        raise
    except _OutputError as e:
        _discard(open_parts)
        raise e.args[0] from None
    except BaseException as e:
        _discard(open_parts)
        if not isinstance(e, Exception) or isinstance(e, (MemoryError, RecursionError)):
            raise  # KeyboardInterrupt and the like: partial files are already gone
        raise SourceDataError(archive, f"extraction failed ({type(e).__name__}: {e}); the "
                              "archive is cut short or corrupt", "download it again") from None
    finally:
        bar.close()

    _write_marker(marker, dict(stamp, members=listing, md5=actual_md5, complete=True))
    return [paths[n] for n, _ in members]


def _write_marker(marker: pathlib.Path, state: dict) -> None:
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, marker)


def _discard(open_parts: dict) -> None:
    for temp, file in list(open_parts.values()):
        try:
            file.close()
        except OSError:
            pass
        try:
            os.unlink(temp)
        except OSError:
            pass
    open_parts.clear()


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
                for member, _ in _archive_members(path):
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
            extracted[source.path] = extract_archive(
                source.path, scratch_folder(source, manual_dir, scratch_dir),
                md5=find_md5(source.path), progress=progress)
        files.append(_member_path(scratch_folder(source, manual_dir, scratch_dir),
                                  source.member, source.path))
    return files


def iter_split(manual_dir: os.PathLike | str, split: str, scratch_dir: os.PathLike | str,
               progress: bool = True) -> Iterator[tuple[str, dict]]:
    """Yields ``(key, example)`` for a whole split: :func:`iter_file` over
    :func:`split_files`."""
    for path in split_files(manual_dir, split, scratch_dir, progress=progress):
        yield from iter_file(path)


# --------------------------------------------------------------------------- sample writer

# stem, where it goes, date style, series lengths (one localid each; > 100 is cut)
_SAMPLE_LAYOUT = (
    ("train_T50TMK", "s2cloud_train_01.7z", "ordinal", (1, 37, 130)),
    ("train_T49QGF", "s2cloud_train_01.7z", "ordinal", (12, 5)),
    ("train_T31TCJ", "train_T31TCJ_{n}.tfrecord", "yyyymmdd", (3, 8, 2)),
    ("val_T50TMK", "extracted/val_T50TMK_{n}", "ordinal", (20, 4)),
    ("val_T18SUJ", "s2cloud_val_01.7z", "ordinal", (6, 1, 9, 2)),
)
_BASE_DN = np.array([1100, 1000, 900, 2400])  # typical B2 B3 B4 B8 digital numbers


def _sample_series(rng: np.random.Generator, t: int, style: str) -> dict:
    """One realistic time series of length t (before cutting into records)."""
    # labels: persistent states, like real weather
    labels = np.empty(t, np.int64)
    state = int(rng.integers(0, 6))
    for i in range(t):
        if rng.random() < 0.35:
            state = int(rng.choice(6, p=[0.45, 0.2, 0.12, 0.08, 0.1, 0.05]))
        labels[i] = state
    start = np.datetime64("2018-01-01") + int(rng.integers(0, 3 * 365))
    steps = rng.choice([5, 5, 5, 10, 15], size=t)  # Sentinel-2 revisit, with gaps
    days = start + np.cumsum(steps).astype("timedelta64[D]") - steps[0]
    # smooth landscape: blocky low-resolution field, small noise (compresses well)
    field = np.kron(rng.normal(0, 1, (t, 7, 7, 4)), np.ones((1, 6, 6, 1)))
    image = _BASE_DN + field * (_BASE_DN * 0.15) + rng.normal(0, 12, (t, PATCH, PATCH, 4))
    centre = np.zeros((PATCH, PATCH, 1))
    centre[12:30, 12:30] = 0.6
    centre[CENTRE, CENTRE] = 1.0
    effect = {1: 6000, 2: 1800, 3: 700, 5: 5500}
    for i, label in enumerate(labels):
        if label in effect:
            boost = np.full(4, effect[label], float)
            if label == 5:
                boost[3] = 3500  # snow: bright visible, less bright NIR
            image[i] += centre * boost
        elif label == 4:
            image[i] *= 1 - 0.5 * centre  # shadow darkens
    image = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
    weights = rng.choice(np.array([1.0, 1.0, 1.0, 0.5, 0.25], np.float32), size=t)
    return {"image": image, "labels": labels, "dates": encode_dates(days, style),
            "weights": weights.astype(np.float32)}


def sample_records(seed: int = 0) -> dict[str, list[dict]]:
    """What :func:`write_samples` writes: file name (``<split>_<TILE>_<N>``, no extension)
    -> list of example dicts, exactly as the reader returns them."""
    rng = np.random.default_rng(seed)
    out = {}
    for stem, _, style, lengths in _SAMPLE_LAYOUT:
        tile = stem.split("_")[1]
        records = []
        for length in lengths:
            localid = np.int64(rng.integers(0, 50000))
            series = _sample_series(rng, length, style)
            for start in range(0, length, MAX_TIMESTAMPS):  # pieces share tile and localid
                piece = slice(start, start + MAX_TIMESTAMPS)
                records.append({"tile": tile, "localid": localid,
                                **{k: v[piece] for k, v in series.items()}})
        out[f"{stem}_{len(records)}"] = records
    return out


def serialize_record(example: dict) -> bytes:
    """A ``tf.train.Example`` as the publisher writes it, from an example dict
    (``image`` (T, 42, 42, 4) uint16, ``labels``/``dates``/``weights`` (T,))."""
    import tensorflow as tf

    def raw(values, dtype):
        return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[np.ascontiguousarray(values, dtype=dtype).tobytes()]))

    image = np.asarray(example["image"]).transpose(0, 3, 1, 2)  # back to (T, 4, 42, 42)
    feature = {
        "localid": tf.train.Feature(int64_list=tf.train.Int64List(
            value=[int(example["localid"])])),
        IMAGE_KEY: raw(image, "<u2"),
        "labels": raw(example["labels"], np.int8),
        "dates": raw(example["dates"], "<i8"),
        "weights": raw(example["weights"], "<f4"),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecord(path: os.PathLike | str, records) -> pathlib.Path:
    """Writes serialized records (bytes) or example dicts as one TFRecord file, atomically."""
    import tensorflow as tf

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for record in records:
                writer.write(record if isinstance(record, bytes) else serialize_record(record))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_archive(path: os.PathLike | str, members: dict[str, os.PathLike | str],
                  write_md5: bool = True) -> pathlib.Path:
    """Packs files into a ``.7z`` archive (``{member name: file}``), atomically, with an
    ``<archive>.md5`` beside it (``<hex>  <name>``) when ``write_md5``."""
    import py7zr

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with py7zr.SevenZipFile(tmp, "w") as z:
            for arcname, file in members.items():
                z.write(file, arcname)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if write_md5:
        md5_path = path.with_name(path.name + ".md5")
        md5_tmp = md5_path.with_name(f".{md5_path.name}.{os.getpid()}.part")
        md5_tmp.write_text(f"{file_md5(path)}  {path.name}\n")
        os.replace(md5_tmp, md5_path)
    return path


def write_samples(root: os.PathLike | str, seed: int = 0) -> pathlib.Path:
    """Writes a small sample of the dataset in the publisher's layout under ``root``.

    ``s2cloud_train_01.7z`` (members ``train_T50TMK_4``, with a 130-long series cut into
    100 + 30, and ``train_T49QGF_2``) and ``s2cloud_val_01.7z`` (``val_T18SUJ_4``), each
    with an ``.md5`` beside it; ``train_T31TCJ_3.tfrecord`` (dates as YYYYMMDD) and
    ``extracted/val_T50TMK_2`` (no extension) already extracted. About 1 MB; T from 1 to
    100; content is :func:`sample_records` (seed).
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    records = sample_records(seed)
    archives: dict[str, dict[str, bytes]] = {}
    for stem, where, _, _ in _SAMPLE_LAYOUT:
        name = next(k for k in records if k.rsplit("_", 1)[0] == stem)
        serialized = [serialize_record(r) for r in records[name]]
        if where.endswith(".7z"):
            archives.setdefault(where, {})[name] = serialized
        else:
            write_tfrecord(root / where.format(n=len(serialized)), serialized)
    staging = root / f".staging.{os.getpid()}"
    try:
        for archive, members in archives.items():
            files = {name: write_tfrecord(staging / name, recs) for name, recs in members.items()}
            for file in files.values():  # a fixed mtime: the same archive bytes for a seed
                os.utime(file, (1609459200, 1609459200))
            write_archive(root / archive, files)
    finally:
        for f in staging.glob("*"):
            f.unlink()
        if staging.exists():
            staging.rmdir()
    return root
