"""The reader of the GEDI AGBD HDF5 files (``gedi_agbd``): files in, numpy examples out.

The format (tfds_builders/gedi_agbd/README.md, "Source format"): one or more ``.h5``
files, per-batch files or one fused file, each holding a group ``data`` whose datasets
all share a first dimension N (one row per GEDI footprint), chunked ``(1, ...)``; batch
files are LZF-compressed, the publisher's fused file is not. Rasters are
channels-first, 32 x 32 pixels of 10 m around the footprint. Strings are HDF5
variable-length UTF-8 (h5py returns ``bytes``). The publisher's README and its code
disagree on some dtypes; both variants are read: Sentinel-2 int16 (README uint16),
transforms and lat/lon float64 (README float32), delta time float32 (README: text),
CopDEM slope in degrees (README: percent).

What the reader returns, per footprint, a dict with exactly these keys:

==================  =========  =============  ==========================================
feature             dtype      shape          meaning
==================  =========  =============  ==========================================
``sentinel2``       int16      (32, 32, 12)   L2A bands, order ``SENTINEL2_BANDS``
                                              (SCL first, then reflectance x 10000)
``worldcover``      uint8      (32, 32, 1)    ESA WorldCover class 10..100
``copdem``          float32    (32, 32, 2)    elevation (m), slope
``agbd_raster``     float32    (32, 32, 1)    AGBD (Mg/ha) on the footprint, -9999 elsewhere
``agbd``            float32    ()             GEDI L4A AGBD of the footprint (Mg/ha)
``agbd_se``         float32    ()             its standard error (Mg/ha)
``lat_lon``         float64    (2,)           footprint (latitude, longitude), degrees
``transform``       float64    (9,)           what the publisher's generator stores: the
                                              WorldCover tile's reprojected transform
                                              (it overwrites the window's), CRS units
``crs``             bytes      ()             e.g. ``b"EPSG:32632"``
``scl_stats``       float32    (12,)          SCL class fractions, order ``SCL_CLASS_NAMES``
``s2_product``      bytes      ()             Sentinel-2 product name
``worldcover_tile`` bytes      ()             WorldCover tile name
``copdem_tile``     bytes      ()             CopDEM tile name
``gedi_product``    bytes      ()             GEDI L4A granule name
``acquisition_time`` bytes     ()             ``%Y-%m-%d-%H-%M-%S`` (coarse)
``shot_number``     int64      ()             GEDI shot number (unique): the example key
``delta_time``      float64    ()             seconds since 2018-01-01T00:00 UTC
==================  =========  =============  ==========================================

Keys are ``str(shot_number)``. Files are read one block of ``READ_AHEAD`` examples per
dataset at a time, never whole. The constants of the format (band and class names,
no-data value, reflectance scale, window size, footprint pixels) live here, and the
builder and the pipeline read them from here.
"""

from __future__ import annotations

import os
import pathlib
from typing import Iterable, Iterator, NamedTuple, NoReturn, Sequence

import h5py
import numpy as np

from parsers.errors import SourceDataError, machine_error

__all__ = [
    "GROUP", "SENTINEL2_BANDS", "SCL_CLASS_NAMES", "SCL_NO_DATA", "WORLDCOVER_CLASSES",
    "WORLDCOVER_CLASS_NAMES", "COPDEM_BANDS", "PATCH", "FOOTPRINT", "NO_DATA", "SCALE",
    "DATASET_NAMES", "FEATURES", "READ_AHEAD", "SPLIT_FOLDERS", "WorkItem", "find_files",
    "split_of", "split_files", "inspect_file", "num_examples", "work_items",
    "iter_work_item", "iter_file", "iter_examples", "find_shot", "check_unique_shots",
]

GROUP = "data"

#: Sentinel-2 L2A bands in the order of the ``Sentinel-2 L2A`` dataset (and of the
#: last axis of ``sentinel2``).
SENTINEL2_BANDS = (
    "SCL", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)

#: The 12 Sentinel-2 scene classes (SCL values 0..11), spelled as the publisher writes
#: them in ``S2 SCL Stats``; ``scl_stats[i]`` is the fraction of class ``SCL_CLASS_NAMES[i]``.
SCL_CLASS_NAMES = (
    "NO_DATA",
    "SATURATED_OR_DEFECTIVE",
    "CAST_SHADOWS",
    "CLOUD_SHADOWS",
    "VEGETATION",
    "NOT_VEGETATED",
    "WATER",
    "UNCLASSIFIED",
    "CLOUD_MEDIUM_PROBABILITY",
    "CLOUD_HIGH_PROBABILITY",
    "THIN_CIRRUS",
    "SNOW or ICE",
)
_SCL_INDEX = {name: i for i, name in enumerate(SCL_CLASS_NAMES)}

#: ESA WorldCover class codes (the values of ``worldcover``) and their names.
WORLDCOVER_CLASSES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)
WORLDCOVER_CLASS_NAMES = (
    "Tree cover", "Shrubland", "Grassland", "Cropland", "Built-up",
    "Bare / sparse vegetation", "Snow and ice", "Permanent water bodies",
    "Herbaceous wetland", "Mangroves", "Moss and lichen",
)
#: The two channels of ``copdem``.
COPDEM_BANDS = ("elevation", "slope")
#: Side of the square window around each footprint, in 10 m pixels.
PATCH = 32
#: Rows/columns ``[15, 17)``: the pixels around the footprint centre (the window is
#: centred on the footprint).
FOOTPRINT = (15, 17)
#: ``agbd_raster`` value off the footprint.
NO_DATA = -9999.0
#: Sentinel-2 reflectance = stored value x SCALE (all bands but SCL).
SCALE = 1e-4
#: SCL value of pixels without Sentinel-2 data.
SCL_NO_DATA = 0

#: Feature name -> HDF5 dataset name under group ``data``.
DATASET_NAMES = {
    "sentinel2": "Sentinel-2 L2A",
    "worldcover": "WorldCover",
    "copdem": "CopDEM",
    "agbd_raster": "AGBD Raster",
    "agbd": "AGBD Values",
    "agbd_se": "AGBD Standard Error",
    "lat_lon": "GEDI Lat Lon",
    "transform": "Transforms",
    "crs": "CRS",
    "scl_stats": "S2 SCL Stats",
    "s2_product": "Sentinel-2 Product Name",
    "worldcover_tile": "WorldCover Tile Name",
    "copdem_tile": "CopDEM Tile Name",
    "gedi_product": "GEDI Product Name",
    "acquisition_time": "GEDI Acquisition Time",
    "shot_number": "GEDI Shot Number",
    "delta_time": "GEDI Delta Time",
}

#: Feature name -> (numpy dtype, or "string" for bytes; shape of one example).
FEATURES = {
    "sentinel2": (np.dtype(np.int16), (PATCH, PATCH, len(SENTINEL2_BANDS))),
    "worldcover": (np.dtype(np.uint8), (PATCH, PATCH, 1)),
    "copdem": (np.dtype(np.float32), (PATCH, PATCH, len(COPDEM_BANDS))),
    "agbd_raster": (np.dtype(np.float32), (PATCH, PATCH, 1)),
    "agbd": (np.dtype(np.float32), ()),
    "agbd_se": (np.dtype(np.float32), ()),
    "lat_lon": (np.dtype(np.float64), (2,)),
    "transform": (np.dtype(np.float64), (9,)),
    "crs": ("string", ()),
    "scl_stats": (np.dtype(np.float32), (12,)),
    "s2_product": ("string", ()),
    "worldcover_tile": ("string", ()),
    "copdem_tile": ("string", ()),
    "gedi_product": ("string", ()),
    "acquisition_time": ("string", ()),
    "shot_number": (np.dtype(np.int64), ()),
    "delta_time": (np.dtype(np.float64), ()),
}

# Shot numbers read per h5py call in the duplicate check: with chunks of one row, h5py
# is fastest on small selections (~1 us a row at 64..256; 10x slower at 65536).
_SHOT_BLOCK = 256

#: Examples read per dataset per h5py call: large enough to amortise h5py's per-call
#: cost, small enough (about 2 MB for all datasets) to keep memory flat.
READ_AHEAD = 64

_SUFFIXES = (".h5", ".hdf5")
#: Folders of manual_dir whose files go to that split.
SPLIT_FOLDERS = ("train", "test")
_IMAGES = ("sentinel2", "worldcover", "copdem", "agbd_raster")
_VECTORS = ("lat_lon", "transform")
_STRINGS = ("crs", "s2_product", "worldcover_tile", "copdem_tile", "gedi_product",
            "acquisition_time")


# --------------------------------------------------------------------------- files


def _h5_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in _SUFFIXES
                   and not p.name.startswith(".")),  # skips our own temporary files
                  key=lambda p: p.name)


def find_files(manual_dir: os.PathLike | str) -> list[pathlib.Path]:
    """The ``.h5``/``.hdf5`` files directly under ``manual_dir``, then those in its
    ``train/`` and ``test/`` folders (if any), each group sorted by name.

    Raises SourceDataError when the folder does not exist or holds no such file.
    """
    folder = pathlib.Path(manual_dir)
    if not folder.is_dir():
        raise SourceDataError(folder, "folder not found",
                              "put the GEDI .h5 files (group 'data') in it")
    files = _h5_files(folder)
    for name in SPLIT_FOLDERS:
        if (folder / name).is_dir():
            files += _h5_files(folder / name)
    if not files:
        raise SourceDataError(folder, "no .h5 files found",
                              "put the GEDI per-batch or fused .h5 files in it (or in its "
                              "train/ and test/ folders)")
    return files


def _split_of_name(name: str) -> str:
    return "test" if name.startswith("test") else "train"


def split_of(path: os.PathLike | str, manual_dir: os.PathLike | str | None = None) -> str:
    """The split of a file: that of its folder when it sits in ``manual_dir/train/`` or
    ``manual_dir/test/``; else ``"test"`` when its name starts with ``test``, ``"train"``
    otherwise (``train*`` names, and the publisher's ``batch_<size>_<i>.h5`` and
    ``fused_dataset.h5``: its scripts build the 2020 training set only).

    A file in ``train/`` named ``test*`` (or in ``test/`` named ``train*``) is a
    SourceDataError: its folder and its name disagree.
    """
    path = pathlib.Path(path)
    by_name = _split_of_name(path.name)
    if manual_dir is None or path.parent == pathlib.Path(manual_dir) \
            or path.parent.name not in SPLIT_FOLDERS:
        return by_name
    by_folder = path.parent.name
    if path.name.startswith(("train", "test")) and by_name != by_folder:
        raise SourceDataError(path, f"a {by_name} file (by its name) in the {by_folder}/ "
                                    "folder", "move it to the folder of its split or rename it")
    return by_folder


def split_files(manual_dir: os.PathLike | str) -> dict[str, list[pathlib.Path]]:
    """``{split: files}`` for the splits that have files (``train``, ``test``), in the
    order of :func:`find_files`; see :func:`split_of`."""
    splits: dict[str, list[pathlib.Path]] = {}
    for path in find_files(manual_dir):
        splits.setdefault(split_of(path, manual_dir), []).append(path)
    return splits


# ----------------------------------------------------------------------- validation


def _open(path: os.PathLike | str) -> h5py.File:
    path = pathlib.Path(path)
    if not path.is_file():
        raise SourceDataError(path, "file not found", "check the path")
    try:
        if not h5py.is_hdf5(path):
            raise SourceDataError(path, "not an HDF5 file",
                                  "replace it with a complete GEDI .h5 file")
        return h5py.File(path, "r")
    except SourceDataError:
        raise
    except OSError as err:  # truncated, unreadable
        raise machine_error(err, path) or SourceDataError(
            path, f"cannot be opened as HDF5 ({err})", "replace it with a complete GEDI .h5 file") from None


def _data_group(f: h5py.File, path) -> h5py.Group:
    group = f.get(GROUP)
    if not isinstance(group, h5py.Group):
        raise SourceDataError(path, f"group '{GROUP}' missing",
                              "this is not a GEDI AGBD file of the publisher's layout")
    return group


def _is_string(dtype: np.dtype) -> bool:
    return dtype.kind in "SU" or h5py.check_string_dtype(dtype) is not None


def _image_source_shapes(feature: str) -> list[tuple]:
    h, w, c = FEATURES[feature][1]
    shapes = [(c, h, w)]
    if c == 1:
        shapes.append((h, w))  # a squeezed channel axis reads the same
    return shapes


def _check_dataset(path, feature: str, ds) -> None:
    """Raise SourceDataError unless ``ds`` can give ``feature`` exactly."""
    name = DATASET_NAMES[feature]
    where = f"dataset '{GROUP}/{name}'"
    if not isinstance(ds, h5py.Dataset):
        raise SourceDataError(path, f"{where} missing" if ds is None else
                              f"{where} is not a dataset",
                              "this is not a complete GEDI AGBD file")
    dtype, shape = FEATURES[feature]
    if not ds.shape:  # scalar or empty dataspace
        raise SourceDataError(path, f"{where} is a scalar, not one row per example",
                              "this is not a GEDI AGBD file of the publisher's layout")
    if feature in _IMAGES:
        allowed = _image_source_shapes(feature)
    elif feature == "scl_stats":
        allowed = [(len(SCL_CLASS_NAMES), 2)]
    elif shape == ():
        allowed = [(1,), ()]
    else:
        allowed = [shape]
    trailing = tuple(ds.shape[1:])
    if trailing not in allowed:
        want = " or ".join(str(("N",) + s).replace("'", "") for s in allowed)
        raise SourceDataError(path, f"{where} has shape {ds.shape}, expected {want}",
                              "this is not a GEDI AGBD file of the publisher's layout")
    kind = ds.dtype.kind
    if isinstance(dtype, str) or feature == "scl_stats":
        ok = _is_string(ds.dtype)
    elif feature == "delta_time":
        ok = kind in "fiu" or _is_string(ds.dtype)  # float32 in the code, text in the README
    elif dtype.kind in "iu":
        ok = kind in "iu"
    else:
        ok = kind == "f"
    if not ok:
        raise SourceDataError(path, f"{where} has dtype {_dtype_text(ds.dtype)}, "
                                    f"which cannot hold {feature} ({_dtype_text(dtype)})",
                              "this is not a GEDI AGBD file of the publisher's layout")


def _dtype_text(dtype) -> str:
    if isinstance(dtype, str):
        return dtype
    if h5py.check_string_dtype(dtype) is not None:
        info = h5py.check_string_dtype(dtype)
        return f"string ({info.encoding}, {'variable' if info.length is None else info.length})"
    return str(dtype)


def _validate(f: h5py.File, path) -> tuple[h5py.Group, int]:
    group = _data_group(f, path)
    n = None
    first = None
    for feature, name in DATASET_NAMES.items():
        ds = group.get(name)
        _check_dataset(path, feature, ds)
        if n is None:
            n, first = ds.shape[0], name
        elif ds.shape[0] != n:
            raise SourceDataError(
                path, f"dataset '{GROUP}/{name}' has {ds.shape[0]} rows but "
                      f"'{GROUP}/{first}' has {n}: datasets of unequal N",
                "the file is truncated or damaged; rebuild it from its batch files")
    return group, int(n)


def inspect_file(path: os.PathLike | str) -> int:
    """Check a file's layout (group, datasets, shapes, dtypes, equal N); its N."""
    with _open(path) as f:
        return _validate(f, path)[1]


def num_examples(paths: Iterable[os.PathLike | str]) -> int:
    """Total number of examples in ``paths`` (each file validated)."""
    return sum(inspect_file(p) for p in paths)


# -------------------------------------------------------------------------- reading


class WorkItem(NamedTuple):
    """A range of examples ``[start, stop)`` of one file: the unit of parallel work."""

    path: str
    start: int
    stop: int


def work_items(paths: Sequence[os.PathLike | str],
               examples_per_item: int = 4096) -> list[WorkItem]:
    """The work items of a split, in order: each file cut into ranges of at most
    ``examples_per_item`` examples (a fused file can hold millions)."""
    items = []
    for path in paths:
        n = inspect_file(path)
        for start in range(0, n, examples_per_item):
            items.append(WorkItem(os.fspath(path), start, min(n, start + examples_per_item)))
    return items


def iter_work_item(item: WorkItem) -> Iterator[tuple[str, dict]]:
    """The ``(key, example)`` pairs of one work item."""
    return iter_file(item.path, item.start, item.stop)


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):  # also np.bytes_ (trailing NULs already stripped)
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(type(value).__name__)


def _fail(path, feature, index, problem,
          remedy="the file is damaged; rebuild it") -> NoReturn:
    raise SourceDataError(
        path, f"dataset '{GROUP}/{DATASET_NAMES[feature]}', record {index}: {problem}", remedy)


def _cast_exact(path, feature, block, start, dtype):
    """``block`` as ``dtype``; integers only when every value fits (bit-exact)."""
    if block.dtype == dtype:
        return block
    if dtype.kind in "iu" and not np.can_cast(block.dtype, dtype, "safe") and block.size:
        info = np.iinfo(dtype)
        bad = (block < info.min) | (block > info.max)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            value = block[row].reshape(-1)[np.argmax(bad[row].reshape(-1))]
            _fail(path, feature, start + row,
                  f"value {value} does not fit {dtype} (stored as {block.dtype})",
                  f"only {dtype} values are valid here; the file is not of the publisher's layout")
    return block.astype(dtype)


def _read_block(path, ds, feature, a, b):
    try:
        return ds[a:b]
    except (OSError, ValueError, RuntimeError) as err:
        raise SourceDataError(
            path, f"dataset '{GROUP}/{DATASET_NAMES[feature]}', records {a}..{b - 1} "
                  f"cannot be read ({err})",
            "the file is damaged; download or rebuild it") from None


def _convert_block(path, feature, block, start) -> list:
    """One read-ahead block of a dataset -> a list of per-example values."""
    dtype, shape = FEATURES[feature]
    if feature in _IMAGES:
        block = _cast_exact(path, feature, block, start, dtype)
        if block.ndim == 3:
            block = block[:, np.newaxis]
        block = np.moveaxis(block, 1, -1)  # channels-last
        return [np.ascontiguousarray(x) for x in block]
    if feature in _VECTORS:
        block = block.astype(dtype)
        return [np.ascontiguousarray(x) for x in block]
    if feature in _STRINGS:
        flat = block.reshape(len(block), -1)
        return [_as_bytes(row[0]) for row in flat]
    if feature == "scl_stats":
        return [_scl_fractions(path, block[i], start + i) for i in range(len(block))]
    flat = block.reshape(len(block))
    if feature == "delta_time" and _is_string(block.dtype):
        out = []
        for i, value in enumerate(flat):
            try:
                out.append(np.float64(_as_bytes(value).decode("utf-8").strip()))
            except (ValueError, UnicodeDecodeError):
                _fail(path, feature, start + i, f"{value!r} is not a number of seconds")
        return out
    flat = _cast_exact(path, feature, flat, start, dtype)
    return list(flat)  # numpy scalars of the feature dtype


def _scl_fractions(path, rows, index) -> np.ndarray:
    """(12, 2) rows of (class name, fraction text) -> float32 (12,) in class order."""
    out = np.zeros(len(SCL_CLASS_NAMES), np.float32)
    seen = set()
    for name_raw, fraction_raw in rows:
        try:
            name = _as_bytes(name_raw).decode("utf-8").strip()
            fraction_text = _as_bytes(fraction_raw).decode("utf-8").strip()
        except UnicodeDecodeError:
            _fail(path, "scl_stats", index, "class name or fraction is not UTF-8 text")
        if name not in _SCL_INDEX:
            _fail(path, "scl_stats", index,
                  f"unknown SCL class name {name!r} (known: {', '.join(SCL_CLASS_NAMES)})",
                  "the file is not of the publisher's layout")
        if name in seen:
            _fail(path, "scl_stats", index, f"SCL class {name!r} listed twice")
        seen.add(name)
        try:
            out[_SCL_INDEX[name]] = float(fraction_text)
        except ValueError:
            _fail(path, "scl_stats", index,
                  f"fraction {fraction_text!r} of class {name!r} is not a number")
    return out


def iter_file(path: os.PathLike | str, start: int = 0,
              stop: int | None = None) -> Iterator[tuple[str, dict]]:
    """``(str(shot_number), example)`` for examples ``[start, stop)`` of one file.

    Streams: each dataset is read ``READ_AHEAD`` examples at a time.
    """
    with _open(path) as f:
        group, n = _validate(f, path)
        stop = n if stop is None else min(stop, n)
        datasets = {feature: group[name] for feature, name in DATASET_NAMES.items()}
        for a in range(max(0, start), stop, READ_AHEAD):
            b = min(stop, a + READ_AHEAD)
            columns = {feature: _convert_block(path, feature,
                                               _read_block(path, ds, feature, a, b), a)
                       for feature, ds in datasets.items()}
            for i in range(b - a):
                example = {feature: columns[feature][i] for feature in FEATURES}
                yield str(int(example["shot_number"])), example


def iter_examples(paths: Sequence[os.PathLike | str]) -> Iterator[tuple[str, dict]]:
    """``(key, example)`` for every example of ``paths`` in order (one split).

    Raises SourceDataError on a shot number seen twice (in one file or two), naming
    both places, rather than keeping the footprint twice.
    """
    paths = list(paths)
    seen: set[int] = set()
    for i, path in enumerate(paths):
        for index, (key, example) in enumerate(iter_file(path)):
            shot = int(example["shot_number"])
            if shot in seen:
                # Only now find where it came from: storing a location per shot would
                # cost far more memory than the set.
                first = find_shot(paths[:i + 1], shot)
                where = (f"{os.path.abspath(first[0])} (record {first[1]})" if first
                         else "an earlier file")
                _fail(path, "shot_number", index,
                      f"duplicate shot number {shot}, already read from {where}",
                      "keep each footprint in one file only (do not put batch files "
                      "and the fused file in the same folder)")
            seen.add(shot)
            yield key, example


# --------------------------------------------------------------------- shot numbers


def _shot_column(path, n: int | None = None) -> np.ndarray:
    """The shot numbers of one file as int64 (read in small blocks); SourceDataError if
    the column is not int64 shot numbers or cannot be read."""
    n = inspect_file(path) if n is None else n
    name = DATASET_NAMES["shot_number"]
    column = np.empty(n, np.int64)
    try:
        with h5py.File(path, "r") as f:
            ds = f[GROUP][name]
            for a in range(0, n, _SHOT_BLOCK):
                block = np.asarray(ds[a:a + _SHOT_BLOCK]).reshape(-1)
                if block.dtype.kind not in "iu" or (
                        block.size and block.dtype.kind == "u"
                        and int(block.max()) > np.iinfo(np.int64).max):
                    raise SourceDataError(
                        path, f"dataset '{GROUP}/{name}' holds values that are "
                              "not int64 shot numbers",
                        "this is not a GEDI AGBD file of the publisher's layout")
                column[a:a + block.size] = block
    except (OSError, ValueError, RuntimeError) as err:
        raise SourceDataError(path, f"dataset '{GROUP}/{name}' cannot be read ({err})",
                              "the file is damaged; download or rebuild it") from None
    return column


def find_shot(paths, shot: int) -> tuple[str, int] | None:
    """``(file, row)`` of GEDI shot number ``shot`` among ``paths``, or None."""
    for path in paths:
        rows = np.flatnonzero(_shot_column(path) == shot)
        if rows.size:
            return os.fspath(path), int(rows[0])
    return None


def check_unique_shots(paths, counts=None) -> None:
    """Raise SourceDataError if a GEDI shot number occurs twice in ``paths`` (one split).

    Reads only the shot-number column (8 bytes per example), so that shards written in
    parallel cannot each keep one copy of a duplicated footprint. The error names the
    second occurrence's file and record and where the first one is.
    """
    counts = counts if counts is not None else [inspect_file(p) for p in paths]
    name = DATASET_NAMES["shot_number"]
    columns = [_shot_column(path, n) for path, n in zip(paths, counts)]
    if not columns:
        return
    shots = np.concatenate(columns)
    order = np.argsort(shots, kind="stable")  # equal shots keep their reading order
    ranked = shots[order]
    dup = np.flatnonzero(ranked[1:] == ranked[:-1])
    if dup.size == 0:
        return
    offsets = np.cumsum([0] + list(counts))

    def where(index):
        f = int(np.searchsorted(offsets, index, side="right")) - 1
        return paths[f], int(index - offsets[f])

    first_path, first_row = where(order[dup[0]])
    path, row = where(order[dup[0] + 1])
    more = f" ({dup.size - 1} more duplicate(s) in this split)" if dup.size > 1 else ""
    raise SourceDataError(
        path, f"dataset '{GROUP}/{name}', record {row}: duplicate shot number "
              f"{int(ranked[dup[0]])}, already in {os.path.abspath(first_path)} "
              f"(record {first_row}){more}",
        "keep each footprint in one file only (do not put batch files and the fused "
        "file in the same folder)")
