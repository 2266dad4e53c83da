"""GEDI biomass with Sentinel-2, CopDEM and WorldCover, as HDF5 files (``gedi_agbd``).

The format (FORMATS.md section 4): one or more ``.h5`` files, per-batch files or one
fused file, each holding a group ``data`` whose datasets all share a first dimension N
(one row per GEDI footprint), chunked ``(1, ...)``; batch files are LZF-compressed, the
publisher's fused file is not. Rasters are channels-first, 32 x 32 pixels of 10 m
around the footprint. Strings are HDF5 variable-length UTF-8 (h5py returns ``bytes``).
The publisher's README and its code disagree on some dtypes; both variants are read:
Sentinel-2 int16 (README uint16), transforms and lat/lon float64 (README float32),
delta time float32 (README: text), CopDEM slope in degrees (README: percent).

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
dataset at a time, never whole. ``fuse_hdf5`` is the publisher's fusing step done
safely (sorted order, schema check, bounded memory, atomic rename); ``write_samples``
writes small batch files exactly as the publisher's code does.
"""

from __future__ import annotations

import datetime
import os
import pathlib
from typing import Iterable, Iterator, NamedTuple, NoReturn, Sequence

import h5py
import numpy as np

from parsers.errors import SourceDataError, machine_error

__all__ = [
    "SENTINEL2_BANDS",
    "SCL_CLASS_NAMES",
    "DATASET_NAMES",
    "FEATURES",
    "GROUP",
    "READ_AHEAD",
    "WorkItem",
    "find_files",
    "split_of",
    "split_files",
    "inspect_file",
    "num_examples",
    "work_items",
    "iter_work_item",
    "iter_file",
    "iter_examples",
    "write_samples",
    "fuse_hdf5",
    "fuse_hdf5_per_split",
    "SPLIT_FOLDERS",
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
    "sentinel2": (np.dtype(np.int16), (32, 32, 12)),
    "worldcover": (np.dtype(np.uint8), (32, 32, 1)),
    "copdem": (np.dtype(np.float32), (32, 32, 2)),
    "agbd_raster": (np.dtype(np.float32), (32, 32, 1)),
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

#: Examples read per dataset per h5py call: large enough to amortise h5py's per-call
#: cost, small enough (about 2 MB for all datasets) to keep memory flat.
READ_AHEAD = 64

_AGBD_NODATA = -9999.0
_SUFFIXES = (".h5", ".hdf5")
#: Folders of manual_dir whose files go to that split.
SPLIT_FOLDERS = ("train", "test")
_KEY_DATASET = DATASET_NAMES["shot_number"]
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


def _find_shot(paths, shot: int) -> tuple[str, int] | None:
    for path in paths:
        with _open(path) as f:
            ds = f[GROUP][_KEY_DATASET]
            for a in range(0, ds.shape[0], 4096):
                hits = np.flatnonzero(ds[a:a + 4096].reshape(-1) == shot)
                if hits.size:
                    return os.path.abspath(path), a + int(hits[0])
    return None


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
                first = _find_shot(paths[:i + 1], shot)
                where = f"{first[0]} (record {first[1]})" if first else "an earlier file"
                _fail(path, "shot_number", index,
                      f"duplicate shot number {shot}, already read from {where}",
                      "keep each footprint in one file only (do not put batch files "
                      "and the fused file in the same folder)")
            seen.add(shot)
            yield key, example


# ------------------------------------------------------------------- sample writer


def _write_h5(path: pathlib.Path, arrays: dict) -> None:
    """Write ``arrays`` as the publisher's ``numpy_to_hdf5``: group ``data``, LZF,
    chunks (1, ...), strings as variable-length UTF-8; temp name, then rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            group = f.create_group(GROUP)
            for name, value in arrays.items():
                dtype = value.dtype
                if dtype.kind in "SU":
                    dtype = h5py.string_dtype()
                group.create_dataset(name, data=value, dtype=dtype, compression="lzf",
                                     chunks=(1,) + value.shape[1:])
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _hemi(degrees: int, letters: str) -> str:
    return letters[0] if degrees >= 0 else letters[1]


def _sample_arrays(rng: np.random.Generator, n: int, year: int, first_index: int) -> dict:
    """``n`` footprints of one batch, with the publisher's dtypes and value ranges."""
    s2 = np.empty((n, 12, 32, 32), np.int16)
    wc = np.empty((n, 1, 32, 32), np.uint8)
    dem = np.empty((n, 2, 32, 32), np.float32)
    raster = np.full((n, 1, 32, 32), _AGBD_NODATA, np.float32)
    transforms = np.empty((n, 9), np.float64)
    crs = np.empty((n, 1), "S12")
    scl_stats = np.empty((n, 12, 2), "S25")
    s2_name = np.empty((n, 1), "S62")
    wc_name = np.empty((n, 1), "S42")
    dem_name = np.empty((n, 1), "S42")
    agbd = np.empty((n, 1), np.float32)
    agbd_se = np.empty((n, 1), np.float32)
    gedi_name = np.empty((n, 1), "S60")
    shot = np.empty((n, 1), np.int64)
    acq = np.empty((n, 1), "S20")
    delta = np.empty((n, 1), np.float32)
    lat_lon = np.empty((n, 2), np.float64)
    yy, xx = np.mgrid[0:32, 0:32]
    epoch = datetime.datetime(2018, 1, 1)
    for i in range(n):
        lat = float(rng.uniform(-50, 50))
        lon = float(rng.uniform(-170, 170))
        zone = int((lon + 180) // 6) + 1
        epsg = (32600 if lat >= 0 else 32700) + zone
        when = datetime.datetime(year, 1, 1) + datetime.timedelta(
            seconds=int(rng.integers(0, 365 * 86400)))
        # Sentinel-2: SCL mostly vegetation / not vegetated, 16 valid centre pixels
        # (the publisher's filter), reflectances x 10000 with a few bright outliers.
        scl = rng.choice([4, 4, 4, 5, 5, 3, 6, 7, 8, 9, 10, 2], size=(32, 32)).astype(np.int16)
        scl[14:18, 14:18] = rng.choice([4, 5], size=(4, 4))
        s2[i, 0] = scl
        s2[i, 1:] = rng.integers(0, 6000, size=(11, 32, 32))
        s2[i, 1:, rng.integers(0, 32), rng.integers(0, 32)] = rng.integers(10000, 32767)
        counts = np.bincount(scl.reshape(-1), minlength=12)
        for c, name in enumerate(SCL_CLASS_NAMES):
            # np.array(list(stats.items())) turns the rounded float into its str()
            scl_stats[i, c] = (name, str(float(np.around(counts[c] / scl.size, 2))))
        wc[i, 0] = rng.choice([10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100], size=(32, 32))
        elevation = (rng.uniform(50, 2500) + np.cumsum(rng.normal(0, 0.3, (32, 32)), axis=0)
                     ).astype(np.float32)
        dz_dx, dz_dy = np.gradient(elevation)
        dem[i, 0] = elevation
        dem[i, 1] = np.degrees(np.arctan(np.sqrt(dz_dx ** 2 + dz_dy ** 2) * 0.1))
        value = np.float32(rng.uniform(5, 450))
        agbd[i, 0] = value
        agbd_se[i, 0] = np.float32(value * rng.uniform(0.05, 0.45))
        # The ~25 m footprint, rasterised with all_touched on the 10 m grid.
        disc = (yy - 15.5) ** 2 + (xx - 15.5) ** 2 <= 2.5 ** 2
        raster[i, 0][disc] = value
        x0 = float(rng.uniform(200000, 800000)) // 10 * 10
        y0 = float(rng.uniform(0, 9000000)) // 10 * 10
        transforms[i] = (10.0, 0.0, x0, 0.0, -10.0, y0, 0.0, 0.0, 1.0)
        crs[i, 0] = f"EPSG:{epsg}"
        tile = f"{zone:02d}{'CDEFGHJKLMNPQRSTUVWX'[int((lat + 80) // 8)]}" \
               f"{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUV'), 2))}"
        sensed = when + datetime.timedelta(days=int(rng.integers(-10, 11)))
        s2_name[i, 0] = (f"S2{'AB'[i % 2]}_MSIL2A_{sensed:%Y%m%dT%H%M%S}_N0214_R"
                         f"{int(rng.integers(1, 144)):03d}_T{tile}_{sensed:%Y%m%dT%H%M%S}")
        # Tiles are named by their south-west corner: 3 degrees (WorldCover), 1 (CopDEM).
        wc_lat, wc_lon = int(lat // 3 * 3), int(lon // 3 * 3)
        wc_name[i, 0] = (f"ESA_WorldCover_10m_{year}_v{100 if year == 2020 else 200}_"
                         f"{_hemi(wc_lat, 'NS')}{abs(wc_lat):02d}"
                         f"{_hemi(wc_lon, 'EW')}{abs(wc_lon):03d}_Map")
        dem_lat, dem_lon = int(lat // 1), int(lon // 1)
        dem_name[i, 0] = (f"Copernicus_DSM_COG_10_{_hemi(dem_lat, 'NS')}{abs(dem_lat):02d}_00_"
                          f"{_hemi(dem_lon, 'EW')}{abs(dem_lon):03d}_00_DEM")
        orbit = 5000 + first_index + i // 4
        gedi_name[i, 0] = (f"GEDI04_A_{when:%Y%j%H%M%S}_O{orbit:05d}_0{1 + i % 4}_T0"
                           f"{int(rng.integers(1000, 9999))}_02_002_02_V002.h5")
        beam = (0, 1, 2, 3, 5, 6, 8, 11)[i % 8]
        shot[i, 0] = orbit * 10 ** 13 + beam * 10 ** 11 + 2 * 10 ** 8 + \
            int(rng.integers(0, 10 ** 6)) * 100 + first_index + i
        acq[i, 0] = f"{when:%Y-%m-%d-%H-%M-%S}"
        delta[i, 0] = (when - epoch).total_seconds() + float(rng.uniform(0, 1))
        lat_lon[i] = (lat, lon)
    return {
        "Sentinel-2 L2A": s2,
        "WorldCover": wc,
        "CopDEM": dem,
        "AGBD Raster": raster,
        "Transforms": transforms,
        "CRS": crs,
        "S2 SCL Stats": scl_stats,
        "Sentinel-2 Product Name": s2_name,
        "WorldCover Tile Name": wc_name,
        "CopDEM Tile Name": dem_name,
        "AGBD Values": agbd,
        "AGBD Standard Error": agbd_se,
        "GEDI Product Name": gedi_name,
        "GEDI Shot Number": shot,
        "GEDI Acquisition Time": acq,
        "GEDI Delta Time": delta,
        "GEDI Lat Lon": lat_lon,
    }


#: The sample files: name -> (examples, year). 2020 is the train year, 2021 the test year.
SAMPLE_FILES = {
    "train_batch_0.h5": (12, 2020),
    "train_batch_1.h5": (9, 2020),
    "test_batch_0.h5": (7, 2021),
}
#: The same files as the publisher's scripts name them (``batch_<size>_<i>.h5``, batch
#: size 12, the last batch short), the test year's in a ``test/`` folder.
PUBLISHER_NAMES = {
    "train_batch_0.h5": "batch_12_0.h5",
    "train_batch_1.h5": "batch_12_1.h5",
    "test_batch_0.h5": "test/batch_7_0.h5",
}
SAMPLE_LAYOUTS = ("split_names", "publisher")


def write_samples(root: os.PathLike | str, seed: int = 0,
                  layout: str = "split_names") -> pathlib.Path:
    """Write small batch files as the publisher's code does, under ``root``.

    ``layout="split_names"``: ``train_batch_0.h5`` (12 footprints), ``train_batch_1.h5``
    (9), ``test_batch_0.h5`` (7) directly under ``root``; ``"publisher"``: the same files
    named as the publisher's scripts name them, ``batch_12_0.h5``, ``batch_12_1.h5``
    (train) and ``test/batch_7_0.h5`` (:data:`PUBLISHER_NAMES`). Group ``data``, all 17
    datasets with the code's dtypes (int16 Sentinel-2, float64 transforms and lat/lon,
    float32 delta time), LZF, chunks (1, ...), variable-length UTF-8 strings, SCL stats
    as (N, 12, 2) (name, fraction text), AGBD raster -9999 outside the footprint, unique
    shot numbers. About 1 MB; the same bytes of data for the same seed in either layout.
    Returns ``root``.
    """
    if layout not in SAMPLE_LAYOUTS:
        raise ValueError(f"layout must be one of {SAMPLE_LAYOUTS}, not {layout!r}")
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    first = 0
    for name, (n, year) in SAMPLE_FILES.items():
        path = root / (PUBLISHER_NAMES[name] if layout == "publisher" else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_h5(path, _sample_arrays(rng, n, year, first))
        first += n
    return root


# ---------------------------------------------------------------------------- fuse


def _schema(path, f: h5py.File) -> dict:
    """Dataset name -> (dtype text, trailing shape, N); every N equal."""
    group = _data_group(f, path)
    schema = {}
    n0 = None
    for name in sorted(group.keys()):
        ds = group[name]
        if not isinstance(ds, h5py.Dataset) or ds.ndim < 1:
            raise SourceDataError(path, f"'{GROUP}/{name}' is not a dataset with one row "
                                        "per example", "this is not a GEDI batch file")
        if n0 is None:
            n0 = (name, ds.shape[0])
        elif ds.shape[0] != n0[1]:
            raise SourceDataError(
                path, f"dataset '{GROUP}/{name}' has {ds.shape[0]} rows but "
                      f"'{GROUP}/{n0[0]}' has {n0[1]}: datasets of unequal N",
                "the batch file is damaged; rebuild it")
        schema[name] = (_dtype_text(ds.dtype), tuple(ds.shape[1:]), ds.shape[0])
    if not schema:
        raise SourceDataError(path, f"group '{GROUP}' holds no datasets",
                              "this is not a GEDI batch file")
    return schema


def _compression(ds: h5py.Dataset) -> dict:
    """The input's compression, to be written again; LZF for a filter h5py cannot
    write (a plugin such as Blosc), none when the input has none."""
    if ds.compression is not None:
        opts = {"compression": ds.compression, "shuffle": ds.shuffle}
        if ds.compression_opts is not None:
            opts["compression_opts"] = ds.compression_opts
        return opts
    dcpl = ds.id.get_create_plist()
    codes = {dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())}
    # shuffle, fletcher32, n-bit and scale-offset do not compress by themselves
    if codes - {h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32,
                h5py.h5z.FILTER_NBIT, h5py.h5z.FILTER_SCALEOFFSET}:
        return {"compression": "lzf"}
    return {}


def _check_schemas(files: list[pathlib.Path]) -> tuple[dict, int]:
    """The files' common schema (that of the first) and their total N; SourceDataError
    naming the file and dataset where one differs."""
    schemas = []
    for path in files:
        with _open(path) as f:
            schemas.append(_schema(path, f))
    reference, ref_path = schemas[0], files[0]
    for path, schema in zip(files[1:], schemas[1:]):
        for name in sorted(set(reference) | set(schema)):
            if name not in schema:
                raise SourceDataError(path, f"dataset '{GROUP}/{name}' missing (present in "
                                            f"{ref_path.name})", "fuse only files of one schema")
            if name not in reference:
                raise SourceDataError(path, f"dataset '{GROUP}/{name}' not in "
                                            f"{ref_path.name}", "fuse only files of one schema")
            if schema[name][:2] != reference[name][:2]:
                raise SourceDataError(
                    path, f"dataset '{GROUP}/{name}' is {schema[name][0]} "
                          f"{schema[name][1]} per row, but {reference[name][0]} "
                          f"{reference[name][1]} in {ref_path.name}",
                    "fuse only files of one schema")
    return reference, sum(next(iter(s.values()))[2] for s in schemas)


def _inputs(input_dir, outputs: list[pathlib.Path]) -> dict[str, list[pathlib.Path]]:
    """``{split: files}`` of ``input_dir``, outputs (e.g. of an earlier run) left out."""
    def is_output(p):
        return any(p.absolute() == o or (o.exists() and p.samefile(o)) for o in outputs)

    splits = {split: [p for p in files if not is_output(p)]
              for split, files in split_files(input_dir).items()}
    splits = {split: files for split, files in splits.items() if files}
    if not splits:
        raise SourceDataError(input_dir, "no .h5 files to fuse besides the output",
                              "point --input at the folder of batch files")
    return splits


def fuse_hdf5(input_dir: os.PathLike | str, output_file: os.PathLike | str,
              progress: bool = True) -> pathlib.Path:
    """Concatenate the ``.h5`` files of ``input_dir`` (sorted by name) into one file.

    The files must all belong to one split (:func:`split_of`): a folder holding
    ``train*`` and ``test*`` files (or ``train/`` and ``test/`` folders) is a
    SourceDataError naming one file of each, and nothing is written, since the fused
    file's name would send every row to one split; fuse such a folder with
    :func:`fuse_hdf5_per_split`. Every file's group ``data`` must hold the same dataset
    names with the same dtypes and trailing shapes (else SourceDataError naming the file
    and dataset). Copies ``READ_AHEAD`` rows at a time, keeps the inputs' compression and
    chunks (1, ...), writes under a temporary name in the output's folder and renames
    when complete. Returns the output path.
    """
    output = pathlib.Path(output_file).absolute()
    splits = _inputs(input_dir, [output])
    if len(splits) > 1:
        train, test = splits["train"][0], splits["test"][0]
        raise SourceDataError(
            input_dir, f"holds files of both splits, e.g. {train.name} (train) and "
                       f"{test.name} (test): one fused file would send the test rows to "
                       "one split", "fuse each split's files on their own (one folder "
                       "each), or write one output per split (eo-tfds fuse-hdf5 --per-split)")
    (files,) = splits.values()
    _fuse(files, output, progress)
    return output


def fuse_hdf5_per_split(input_dir: os.PathLike | str, output_dir: os.PathLike | str,
                        progress: bool = True) -> dict[str, pathlib.Path]:
    """:func:`fuse_hdf5` once per split of ``input_dir``'s files: ``train_fused.h5`` and
    ``test_fused.h5`` in ``output_dir`` (names that keep their split when the folder is
    a manual_dir). Every split's schema is checked before anything is written. Returns
    ``{split: output path}``.
    """
    folder = pathlib.Path(output_dir).absolute()
    outputs = {split: folder / f"{split}_fused.h5" for split in SPLIT_FOLDERS}
    splits = _inputs(input_dir, list(outputs.values()))
    for files in splits.values():
        _check_schemas(files)
    for split, files in splits.items():
        _fuse(files, outputs[split], progress)
    return {split: outputs[split] for split in splits}


def _fuse(files: list[pathlib.Path], output: pathlib.Path, progress: bool) -> None:
    from tqdm import tqdm

    reference, total = _check_schemas(files)
    ref_path = files[0]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as out, tqdm(total=total, unit="example", disable=not progress,
                                               desc=f"fuse {output.name}") as bar:
            out_group = out.create_group(GROUP)
            targets = {}
            with _open(ref_path) as f:
                in_group = f[GROUP]
                for key, value in in_group.attrs.items():
                    out_group.attrs[key] = value
                for name in reference:
                    ds = in_group[name]
                    created = targets[name] = out_group.create_dataset(
                        name, shape=(total,) + ds.shape[1:], dtype=ds.dtype,
                        chunks=(1,) + ds.shape[1:], **_compression(ds))
                    for key, value in ds.attrs.items():
                        created.attrs[key] = value
            offset = 0
            for path in files:
                with _open(path) as f:
                    in_group = f[GROUP]
                    n = in_group[next(iter(reference))].shape[0]
                    for a in range(0, n, READ_AHEAD):
                        b = min(n, a + READ_AHEAD)
                        for name in reference:
                            try:
                                block = in_group[name][a:b]
                            except (OSError, ValueError, RuntimeError) as err:
                                raise SourceDataError(
                                    path, f"dataset '{GROUP}/{name}', records {a}..{b - 1} "
                                          f"cannot be read ({err})",
                                    "the file is damaged; rebuild it") from None
                            targets[name][offset + a:offset + b] = block
                        bar.update(b - a)
                offset += n
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
