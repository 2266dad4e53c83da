"""The CPAZMAL HDF5 reader: which file, which groups, dates, orbits and polarisations, and
one group's series read as the publisher's ``load_data`` returns it (numpy only).

Both releases are read (the format: ``tfds_builders/cpazmal/README.md``): the first,
``PAZTSX_CRYO_ML.hdf5`` (PAZ, TerraSAR-X and TanDEM-X), and the later PAZ-only one
(``CPAZMaL.hdf5`` / ``PAZ_CRYO_ML.hdf5``: no ``satellites`` data, whose satellite is then
told by the date), under any name when it is the folder's only ``.hdf5`` file.

- :func:`find_source_file`: the one ``.hdf5`` file of a folder.
- :class:`CpazmalFile` (alias ``MLDatasetLoader``): the file opened once; ``classes``,
  ``learning_classes``, ``list_groups()`` (STUDY left out), ``group_classes()``,
  ``orbits()``, ``polarisations()``, ``load_data(...)`` and ``extract_windows(...)`` as
  the publisher's loader names them.
- :func:`load_data`: ``images`` float32 ``(H, W, T)`` or ``(H, W, T, P)``, ``masks`` int8
  ``(H, W, T)``, dates, satellites; scale ``intensity``/``amplitude``/``log10`` and a
  normalisation that is right for every scale and for dual polarisation (the
  publisher's applies intensity statistics after the scale, and none to dual
  polarisation).

Only the dates asked for are read (but for the statistics of an ``amplitude`` or
``log10`` normalisation: the whole series of the polarisation, once per file).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from typing import Sequence

import h5py
import numpy as np

from parsers.cpazmal.constants import (
    LEARNING_CLASSES, NODATA_VALUE, PAZ_FIRST_DATE, SCALE_TYPES, SOURCE_FILENAMES,
    SOURCE_SATELLITE, STUDY_CLASS)
from parsers.cpazmal.windows import extract_windows
from parsers.errors import SourceDataError, machine_error

__all__ = ["MissingSelectionError", "CpazmalFile", "MLDatasetLoader", "find_source_file",
           "load_data"]


class MissingSelectionError(SourceDataError):
    """The file has no data for the selection asked for: no such group, orbit or
    polarisation, or no date in the range. A :class:`SourceDataError`; the scenario
    iterators report it per group (warning) instead of stopping."""




def _text(value) -> str:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8").rstrip("\x00").strip()
    return str(value).strip()


def _texts(values) -> list[str]:
    return [_text(v) for v in np.asarray(values).reshape(-1)]


def _date(value, name: str = "date") -> str:
    text = _text(value) if not isinstance(value, (int, np.integer)) else str(int(value))
    if not re.fullmatch(r"\d{8}", text):
        raise ValueError(f"{name} must be 'YYYYMMDD', got {value!r}")
    return text


def _scale(scale_type: str) -> str:
    if scale_type not in SCALE_TYPES:
        raise ValueError(f"scale_type must be one of {SCALE_TYPES}, got {scale_type!r}")
    return scale_type


def _pols(polarisation) -> tuple[tuple[str, ...], bool]:
    """(pols, stacked): a plain 'HH' gives an unstacked (H, W, T) image."""
    if isinstance(polarisation, (bytes, str)):
        text = _text(polarisation)
        parts = [p.strip() for p in re.split(r"[+,\s]+", text) if p.strip()]
        if len(parts) == 1:
            return (parts[0],), False
        pols = tuple(parts)
    else:
        pols = tuple(_text(p) for p in polarisation)
    if not pols or len(set(pols)) != len(pols):
        raise ValueError(f"polarisation must be 'HH', 'HV' or distinct names, got {polarisation!r}")
    return pols, True



def find_source_file(folder: os.PathLike | str) -> pathlib.Path:
    """The CPAZMAL file in ``folder``: its one ``.hdf5`` file, whatever its name
    (``PAZTSX_CRYO_ML.hdf5``, ``CPAZMaL.hdf5``, ``PAZ_CRYO_ML.hdf5``, ...); ``folder``
    may also be the file itself. None, or two or more candidates, is a SourceDataError
    (naming two of them)."""
    folder = pathlib.Path(folder)
    if folder.is_file():
        return folder
    if not folder.is_dir():
        raise SourceDataError(folder, "folder not found",
                              "manual_dir must be the folder holding the CPAZMAL .hdf5 file")
    candidates = sorted(p for p in folder.iterdir() if p.is_file()
                        and p.suffix.lower() == ".hdf5" and not p.name.startswith("."))
    if len(candidates) > 1:
        more = f" (and {len(candidates) - 2} more)" if len(candidates) > 2 else ""
        raise SourceDataError(
            folder, f"two CPAZMAL candidates: {candidates[0].name} and "
                    f"{candidates[1].name}{more}",
            "keep the one release to build from in this folder (one .hdf5 file)")
    if not candidates:
        raise SourceDataError(
            folder, f"no CPAZMAL file ({', '.join(SOURCE_FILENAMES)}, or any .hdf5) in this folder",
            "download PAZTSX_CRYO_ML.hdf5 (or the later CPAZMaL.hdf5 / PAZ_CRYO_ML.hdf5) "
            "from the publisher and put it here")
    return candidates[0]



# ----------------------------------------------------------------------------------
# The file
# ----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Pol:
    """One ``data/<GROUP>/<ORBIT>/<POL>`` group, checked."""

    name: str  # "GROUP/ORBIT/POL"
    node: h5py.Group
    images: h5py.Dataset
    masks: h5py.Dataset
    timestamps: list[str]
    satellites: list[str]
    shape: tuple[int, int, int]


class CpazmalFile:
    """A CPAZMAL HDF5 file opened once (read-only). Use as a context manager, or
    :meth:`close` it.

    ``classes``: the file's ``metadata`` class list, in file order (STUDY included);
    ``learning_classes``: the same without STUDY; ``satellites``: the file's satellite
    list (empty in the later release); ``nodata``: the no-data value (-999.0).
    """

    def __init__(self, path: os.PathLike | str):
        self.path = find_source_file(path)
        try:
            self.h5 = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise SourceDataError(self.path, "file not found",
                                  "check the path (manual_dir must hold the .hdf5 file)") from None
        except OSError as e:
            raise machine_error(e, self.path) or SourceDataError(
                self.path, f"not an HDF5 file or unreadable ({e})",
                "download the file again; it may be truncated") from None
        try:
            self._read_metadata()
        except BaseException as e:
            self.h5.close()
            found = _read_failure(self.path, e)
            if found is not None:
                raise found from e
            raise
        self._stats_cache: dict = {}

    # -- metadata --------------------------------------------------------------

    def _fail(self, problem: str, remedy: str = "", cls=SourceDataError):
        raise cls(self.path, problem, remedy)

    def _read_metadata(self) -> None:
        f = self.h5
        if not isinstance(f.get("metadata"), h5py.Group):
            self._fail("no 'metadata' group: not a CPAZMAL file",
                       "use PAZTSX_CRYO_ML.hdf5 or CPAZMaL.hdf5 as published")
        if not isinstance(f.get("data"), h5py.Group):
            self._fail("no 'data' group: not a CPAZMAL file",
                       "use PAZTSX_CRYO_ML.hdf5 or CPAZMaL.hdf5 as published")
        attrs = f["metadata"].attrs
        if "classes" not in attrs:
            self._fail("metadata has no 'classes' attribute", "the file is incomplete; download it again")
        try:
            self.classes = [str(c) for c in json.loads(_text(attrs["classes"]))]
        except (ValueError, TypeError) as e:
            self._fail(f"metadata attribute 'classes' is not a JSON list ({e})", "download the file again")
        self.learning_classes = [c for c in self.classes if c != STUDY_CLASS]
        self.satellites = []
        if "satellites" in attrs:
            try:
                self.satellites = [str(s) for s in json.loads(_text(attrs["satellites"]))]
            except (ValueError, TypeError) as e:
                self._fail(f"metadata attribute 'satellites' is not JSON ({e})", "download the file again")
        self.nodata = float(attrs["nodata_value"]) if "nodata_value" in attrs else NODATA_VALUE
        self._class_index = {}
        by_class = f.get("index/by_class")
        if isinstance(by_class, h5py.Group):
            for cls_name in by_class:
                try:
                    entries = json.loads(_text(by_class[cls_name].attrs["entries_json"]))
                    for e in entries:
                        self._class_index.setdefault(str(e["group"]), cls_name)
                except (KeyError, ValueError, TypeError):
                    continue  # the index is a convenience; the group attribute is the truth

    def close(self) -> None:
        self.h5.close()

    def __enter__(self) -> "CpazmalFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- groups and classes ------------------------------------------------------

    def all_groups(self) -> list[str]:
        """Every group under ``data``, sorted, STUDY included."""
        return sorted(self.h5["data"].keys())

    def group_class(self, group: str) -> str:
        """The class of ``group`` (its ``class`` attribute; the class index if absent)."""
        node = self._group(group)
        if "class" in node.attrs:
            return _text(node.attrs["class"])
        if group in self._class_index:
            return self._class_index[group]
        self._fail(f"group data/{group} has no 'class' attribute and is not in index/by_class",
                   "the file is incomplete; download it again")

    def list_groups(self, include_study: bool = False) -> list[str]:
        """The groups, sorted; STUDY groups left out unless ``include_study``. A group of
        a class that is not a learning class (nor STUDY) raises SourceDataError naming it."""
        out = []
        for g in self.all_groups():
            cls = self.group_class(g)
            if cls == STUDY_CLASS:
                if include_study:
                    out.append(g)
                continue
            if cls not in LEARNING_CLASSES:
                self._fail(f"group data/{g} has class {cls!r}, which is not a learning class "
                           f"({' '.join(LEARNING_CLASSES)}) nor {STUDY_CLASS}",
                           "this reader knows the published classes only; remove the group or "
                           "report the new class")
            out.append(g)
        return out

    def group_classes(self, include_study: bool = False) -> dict[str, str]:
        """``{group: class}`` for :meth:`list_groups`."""
        return {g: self.group_class(g) for g in self.list_groups(include_study)}

    def get_groups_by_class(self, class_name: str) -> list[str]:
        """The publisher's name: the groups of one class."""
        return [g for g, c in self.group_classes(include_study=True).items() if c == class_name]

    def get_all_groups_with_classes(self) -> dict[str, str]:
        """The publisher's name: ``{group: class}``, STUDY included."""
        return self.group_classes(include_study=True)

    def group_info(self, group: str) -> dict:
        """Group attributes (class, latitude, longitude, elevation, ...) and its orbits."""
        node = self._group(group)
        info = {k: (_text(v) if isinstance(v, (str, bytes, np.bytes_)) else v)
                for k, v in node.attrs.items()}
        info["class"] = self.group_class(group)
        info["orbits"] = sorted(k for k in node.keys() if isinstance(node[k], h5py.Group))
        return info

    def orbits(self, group: str) -> list[str]:
        return self.group_info(group)["orbits"]

    def polarisations(self, group: str, orbit: str) -> list[str]:
        node = self._group(group)
        if orbit not in node:
            return []
        return sorted(k for k in node[orbit].keys() if isinstance(node[orbit][k], h5py.Group))

    def _group(self, group: str) -> h5py.Group:
        node = self.h5["data"].get(group)
        if not isinstance(node, h5py.Group):
            self._fail(f"group {group!r} is not in data/",
                       f"use one of: {', '.join(self.all_groups()) or '(none)'}",
                       cls=MissingSelectionError)
        return node

    def _pol(self, group: str, orbit: str, pol: str) -> _Pol:
        node = self._group(group)
        if not isinstance(node.get(orbit), h5py.Group):
            self._fail(f"group data/{group} has no orbit {orbit!r}",
                       f"it has: {', '.join(self.orbits(group)) or '(none)'}",
                       cls=MissingSelectionError)
        if not isinstance(node[orbit].get(pol), h5py.Group):
            self._fail(f"group data/{group}/{orbit} has no polarisation {pol!r}",
                       f"it has: {', '.join(self.polarisations(group, orbit)) or '(none)'}",
                       cls=MissingSelectionError)
        name = f"{group}/{orbit}/{pol}"
        pnode = node[orbit][pol]
        remedy = "the file is damaged or incomplete; download it again"
        for ds_name in ("images", "masks", "timestamps"):
            if not isinstance(pnode.get(ds_name), h5py.Dataset):
                self._fail(f"data/{name} has no '{ds_name}' dataset", remedy)
        images, masks = pnode["images"], pnode["masks"]
        if images.ndim != 3:
            self._fail(f"data/{name}/images has shape {images.shape}, expected (H, W, T)", remedy)
        if masks.shape != images.shape:
            self._fail(f"data/{name}/masks has shape {masks.shape}, images {images.shape}", remedy)
        try:
            timestamps = _texts(pnode["timestamps"][()])
            for t in timestamps:
                _date(t)
        except (ValueError, OSError, UnicodeDecodeError) as e:
            self._fail(f"data/{name}/timestamps are not YYYYMMDD dates ({e})", remedy)
        if len(timestamps) != images.shape[2]:
            self._fail(f"data/{name} has {len(timestamps)} timestamps for {images.shape[2]} images",
                       remedy)
        if isinstance(pnode.get("satellites"), h5py.Dataset):
            satellites = _texts(pnode["satellites"][()])
            if len(satellites) != len(timestamps):
                self._fail(f"data/{name} has {len(satellites)} satellites for "
                           f"{len(timestamps)} timestamps", remedy)
        else:  # the PAZ-only release has no satellite data
            satellites = [SOURCE_SATELLITE if t >= PAZ_FIRST_DATE else "Unknown" for t in timestamps]
        return _Pol(name, pnode, images, masks, timestamps, satellites, tuple(images.shape))

    def _read(self, pol: _Pol, ds_name: str, idx: Sequence[int], h: int, w: int) -> np.ndarray:
        """``data/<pol>/<ds_name>[:h, :w, idx]``; one chunk (one date) per read."""
        ds = pol.images if ds_name == "images" else pol.masks
        try:
            idx = [int(i) for i in idx]
            if idx and idx == list(range(idx[0], idx[-1] + 1)):  # one contiguous read
                return ds[:h, :w, idx[0]:idx[-1] + 1]
            out = np.empty((h, w, len(idx)), dtype=ds.dtype)
            for j, i in enumerate(idx):
                out[:, :, j] = ds[:h, :w, i]
            return out
        except (OSError, ValueError, RuntimeError) as e:
            self._fail(f"cannot read data/{pol.name}/{ds_name} ({e})",
                       "the file is damaged; download it again")

    # -- statistics ------------------------------------------------------------

    def _stats(self, pol: _Pol, scale_type: str) -> tuple[float, float]:
        """(mean, std) of the whole series of ``pol`` in ``scale_type``, no-data excluded.
        Intensity: the file's ``stat_mean``/``stat_std``; other scales: computed."""
        key = (pol.name, scale_type)
        if key not in self._stats_cache:
            attrs = pol.node.attrs
            if scale_type == "intensity" and "stat_mean" in attrs and "stat_std" in attrs:
                stats = (float(attrs["stat_mean"]), float(attrs["stat_std"]))
            else:
                h, w, t = pol.shape
                data = self._read(pol, "images", range(t), h, w)
                values = data[np.isfinite(data) & (data != self.nodata)]
                values = _apply_scale(values, scale_type)
                values = values[np.isfinite(values)].astype(np.float64)
                stats = (float(values.mean()), float(values.std())) if values.size else (0.0, 1.0)
            self._stats_cache[key] = stats
        return self._stats_cache[key]

    # -- the publisher's loader ------------------------------------------------

    def load_data(self, group_name: str | None = None, orbit: str = "DSC", polarisation="HH",
                  start_date=None, end_date=None, normalize: bool = False,
                  remove_nodata: bool = True, scale_type: str = "intensity", *,
                  group: str | None = None, polarization=None) -> dict:
        """See :func:`load_data`."""
        if (group_name is None) == (group is None):
            raise TypeError("load_data needs the group: group_name= (or group=), once")
        group_name = group_name if group is None else group
        if polarization is not None:  # the spelling of the publisher's scenario 2
            polarisation = polarization
        scale_type = _scale(scale_type)
        pols, stacked = _pols(polarisation)
        start = None if start_date is None else _date(start_date, "start_date")
        end = None if end_date is None else _date(end_date, "end_date")
        infos = [self._pol(group_name, orbit, p) for p in pols]
        where = f"data/{group_name}/{orbit}/{'+'.join(pols)}"
        if len(infos) == 1:
            dates = list(infos[0].timestamps)
        else:
            common = set(infos[0].timestamps)
            for info in infos[1:]:
                common &= set(info.timestamps)
            dates = sorted(common)
            if not dates:
                self._fail(f"{where}: {' and '.join(pols)} have no date in common", "",
                           cls=MissingSelectionError)
        def wanted(d):
            return (start is None or d >= start) and (end is None or d <= end)

        if len(infos) == 1:  # file order, as stored
            idxs = [[k for k, d in enumerate(infos[0].timestamps) if wanted(d)]]
        else:  # the common dates, sorted
            in_range = [d for d in dates if wanted(d)]
            idxs = [[{d: k for k, d in enumerate(i.timestamps)}[d] for d in in_range] for i in infos]
        if not idxs[0]:
            self._fail(f"{where}: no date in {start or 'start'}..{end or 'end'} "
                       f"(it has {dates[0] if dates else '-'}..{dates[-1] if dates else '-'})",
                       "choose dates inside the series", cls=MissingSelectionError)
        h = min(i.shape[0] for i in infos)
        w = min(i.shape[1] for i in infos)
        images, masks = [], []
        for info, idx in zip(infos, idxs):
            images.append(self._read(info, "images", idx, h, w).astype(np.float32, copy=False))
            masks.append(self._read(info, "masks", idx, h, w).astype(np.int8, copy=False))
        first, first_idx = infos[0], idxs[0]
        timestamps = [first.timestamps[k] for k in first_idx]
        satellites = [first.satellites[k] for k in first_idx]
        angles = None
        if isinstance(first.node.get("angles_incidence"), h5py.Dataset):
            all_angles = np.asarray(first.node["angles_incidence"][()], dtype=np.float32).reshape(-1)
            if len(all_angles) == len(first.timestamps):
                angles = all_angles[first_idx]

        out_channels = []
        norms = []
        for info, img in zip(infos, images):
            if remove_nodata:
                img = np.where(img == self.nodata, np.float32(np.nan), img)
            img = _apply_scale(img, scale_type)
            if normalize:
                mean, std = self._stats(info, scale_type)
                scaled = img.astype(np.float64) - mean
                if std > 0 and np.isfinite(std):
                    scaled /= std
                img = scaled.astype(np.float32)
                norms.append((mean, std))
            out_channels.append(img)
        if stacked:
            images_out = np.stack(out_channels, axis=-1)
            mask_out = masks[0]
            for m in masks[1:]:
                mask_out = np.maximum(mask_out, m)
        else:
            images_out, mask_out = out_channels[0], masks[0]
        return {
            "images": images_out,
            "masks": mask_out,
            "timestamps": timestamps,
            "satellites": satellites,
            "angles_incidence": angles,
            "group": group_name,
            "orbit": orbit,
            "class": self.group_class(group_name),
            "metadata": {
                "polarisation": list(pols) if stacked else pols[0],
                "dual_pol": stacked and len(pols) > 1,
                "scale_type": scale_type,
                "normalization": norms or None,
                "nodata": self.nodata,
            },
        }

    def extract_windows(self, image, mask, window_size: int, stride: int | None = None,
                        max_mask_value: int = 3, max_mask_percentage: float = 100.0,
                        min_valid_percentage: float = 50.0, skip_optim_offset: bool = False):
        """:func:`extract_windows` with this file's no-data value."""
        return extract_windows(image, mask, window_size, stride, max_mask_value,
                               max_mask_percentage, min_valid_percentage, skip_optim_offset,
                               nodata=self.nodata)


MLDatasetLoader = CpazmalFile  # the publisher's class name


class _Opened:
    """``with _Opened(path_or_file) as f``: opens a path, borrows an open CpazmalFile."""

    def __init__(self, path_or_file):
        self.given = path_or_file
        self.file: CpazmalFile | None = None

    def __enter__(self) -> CpazmalFile:
        if isinstance(self.given, CpazmalFile):
            return self.given
        self.file = CpazmalFile(self.given)
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.file is not None:
            self.file.close()
        path = self.file.path if self.file is not None else self.given.path
        found = _read_failure(path, exc)
        if found is not None:
            raise found from exc


def _read_failure(path, error) -> SourceDataError | None:
    """``error`` raised by h5py while reading ``path`` as a SourceDataError: a failure of
    the machine (permission, I/O) in its words, or a damaged HDF5 object (h5py reports one
    as a ``KeyError``/``OSError`` "Unable to ..." from HDF5's error stack); None for
    anything else, so that a bug of eo-tfds is not passed off as a damaged file."""
    if error is None or isinstance(error, SourceDataError):
        return None
    found = machine_error(error, path)
    if found is not None:
        return found
    if isinstance(error, (KeyError, OSError, RuntimeError)) and "nable to" in str(error):
        detail = " ".join(str(error).strip("'\"").split())
        return SourceDataError(path, f"an HDF5 object cannot be read ({detail}): the file is damaged",
                               "download it again")
    return None


def _apply_scale(img: np.ndarray, scale_type: str) -> np.ndarray:
    """intensity: as is; amplitude: sqrt (negative -> NaN); log10: log10 (<= 0 -> NaN).
    float32 in, float32 out, as the publisher computes it."""
    img = np.asarray(img, dtype=np.float32)
    if scale_type == "amplitude":
        with np.errstate(invalid="ignore"):
            return np.where(img >= 0, np.sqrt(img), np.float32(np.nan)).astype(np.float32)
    if scale_type == "log10":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(img > 0, np.log10(img), np.float32(np.nan)).astype(np.float32)
    return img


def load_data(path_or_file, group_name: str | None = None, orbit: str = "DSC",
              polarisation="HH", start_date=None, end_date=None, normalize: bool = False,
              remove_nodata: bool = True, scale_type: str = "intensity", *,
              group: str | None = None, polarization=None) -> dict:
    """One group's series, as the publisher's ``load_data`` returns it, without its faults.

    Args:
        path_or_file: the .hdf5 path (or its folder), or an open :class:`CpazmalFile`.
        group_name: e.g. ``"ABL001"`` (``group=`` is accepted too). orbit: ``"ASC"``
            or ``"DSC"``. Positional order as the publisher's (``normalize``,
            ``remove_nodata``, ``scale_type`` last); keywords are safer.
        polarisation: ``"HH"``/``"HV"`` (single), or a list such as ``["HH", "HV"]``:
            the dates common to all, every one cropped to the smallest H and W, stacked
            in the given order, masks combined by element-wise max.
        start_date, end_date: ``"YYYYMMDD"``, inclusive; ``None`` = open.
        normalize: subtract the mean and divide by the std of the series in the chosen
            scale (intensity: the file's ``stat_mean``/``stat_std``; amplitude/log10: the
            same statistics computed on the transformed series, all dates, no-data
            excluded), per polarisation. A std of 0 only centres.
        remove_nodata: -999 -> NaN first.
        scale_type: ``intensity`` (as is), ``amplitude`` (sqrt; negative -> NaN) or
            ``log10`` (non-positive -> NaN); applied after no-data removal, before
            normalisation.

    Returns a dict: ``images`` float32 (H, W, T) or (H, W, T, P); ``masks`` int8
    (H, W, T); ``timestamps`` and ``satellites``: lists of T str (satellites of the first
    polarisation; derived from the date in files without satellite data);
    ``angles_incidence`` float32 (T,) or None; ``group``, ``orbit``, ``class``;
    ``metadata`` (polarisation, dual_pol, scale_type, normalization [(mean, std)] or None).

    Raises MissingSelectionError (a SourceDataError naming file and group) for a missing
    group, orbit or polarisation, or when no date lies in the range.
    """
    with _Opened(path_or_file) as f:
        return f.load_data(group_name, orbit, polarisation, start_date, end_date,
                           normalize, remove_nodata, scale_type, group=group,
                           polarization=polarization)

