"""CPAZMAL: PAZ and TerraSAR-X/TanDEM-X SAR time series over the Mont-Blanc massif, in HDF5.

The format (FORMATS.md section 3): one file, ``PAZTSX_CRYO_ML.hdf5``, or the later
release, named ``CPAZMaL.hdf5`` by the publisher's script and ``PAZ_CRYO_ML.hdf5`` by its
README (PAZ only: no ``satellites`` datasets, no ``metadata`` attribute ``satellites``,
no ``index/by_satellite``). Both are read, under any of the three names or any other
name when it is the folder's only ``.hdf5`` file.

- ``metadata`` attributes: ``classes`` (JSON list, file order), ``satellites`` (JSON),
  ``nodata_value`` (-999.0), ``n_total_groups``, ``creation_date``.
- ``data/<GROUP>/<ORBIT>/<POL>`` (GROUP like ``ABL001``, ORBIT ``ASC``/``DSC``, POL
  ``HH``/``HV``): ``images`` float32 ``(H, W, T)`` raw intensity, -999 = no data;
  ``masks`` int8 ``(H, W, T)`` (0 none, 1 layover, 2 shadow, 3 both, -127 no data);
  ``timestamps`` ``S8`` ``YYYYMMDD``; ``satellites``, ``passes`` ``S20``;
  ``angles_incidence``, ``resolution_range``, ``resolution_azimuth`` float32 ``(T,)``;
  ``stat_*`` attributes of raw intensity. HH and HV of one group may differ slightly in
  H, W and dates. Group attributes: ``class``, ``latitude``, ``longitude``, ...
- ``index/by_class/<CLASS>``, ``index/by_satellite/<SAT>`` (``entries_json``),
  ``index/temporal_ranges`` (``ranges_json``). Class ``STUDY`` is not a learning class.

What this module gives (numpy only, no TensorFlow):

- :class:`CpazmalFile` (alias ``MLDatasetLoader``): the file opened once; ``classes``,
  ``learning_classes``, ``list_groups()`` (STUDY left out), ``group_classes()``,
  ``load_data(...)`` and ``extract_windows(...)`` as the publisher's loader names them.
- :func:`load_data`: ``images`` float32 ``(H, W, T)`` or ``(H, W, T, P)``, ``masks`` int8
  ``(H, W, T)``, dates, satellites; scale ``intensity``/``amplitude``/``log10`` and a
  normalisation that is right for every scale and for dual polarisation.
- :func:`extract_windows`: the publisher's windows, masks and positions (offset
  optimisation included), computed with summed-area tables; :func:`extract_windows_reference`
  is the plain per-window loop it is tested against.
- The four scenarios, and ``scenario4_geometry`` (the later release's scenario 4: one
  polarisation, two acquisition geometries): :func:`iter_scenario_examples` yields ``(key, example)`` with the
  SPEC feature names (work units: :func:`list_work_units` + :func:`iter_group_examples`);
  :func:`load_scenario` and the publisher-named ``scenario_1_...`` to ``scenario_4_...``
  return numpy arrays for scikit-learn (ragged series stay lists of arrays).
- :func:`write_samples`: small faithful sample files of both releases.

Unlike the publisher's code: normalisation uses statistics of the scale actually
returned, and is applied to dual polarisation too (per channel); a group that cannot
give data for a scenario is reported (a :class:`CpazmalSkipWarning` naming it, and the
``on_skip`` callback), and a group that is broken raises :class:`SourceDataError`; series
of unequal length are never forced into one object array.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import re
import warnings
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import h5py
import numpy as np

from parsers.errors import SourceDataError, machine_error

__all__ = [
    "SOURCE_FILENAMES",
    "LEARNING_CLASSES",
    "STUDY_CLASS",
    "NODATA_VALUE",
    "MASK_NODATA",
    "MASK_VALUES",
    "SCALE_TYPES",
    "SCENARIOS",
    "SCENARIO_SPLITS",
    "SCENARIO_DEFAULTS",
    "SOURCE_SATELLITE",
    "TARGET_SATELLITE",
    "ScenarioParams",
    "MissingSelectionError",
    "CpazmalSkipWarning",
    "CpazmalFile",
    "MLDatasetLoader",
    "find_source_file",
    "check_selection",
    "load_data",
    "extract_windows",
    "extract_windows_reference",
    "resolve_params",
    "params_from",
    "list_work_units",
    "iter_group_examples",
    "iter_scenario_examples",
    "load_scenario",
    "scenario_1_temporal_stacking_classification",
    "scenario_2_temporal_prediction_lstm",
    "scenario_3_domain_adaptation_pol",
    "scenario_4_domain_adaptation_satellite",
    "scenario_4_domain_adaptation_geometry",
    "write_samples",
    "write_later_release_samples",
    "PARAM_NAMES",
]

SOURCE_FILENAMES = ("PAZTSX_CRYO_ML.hdf5", "CPAZMaL.hdf5", "PAZ_CRYO_ML.hdf5")
# Canonical label list (the ClassLabel names); LAC comes with the later release.
LEARNING_CLASSES = ["ABL", "ACC", "FOR", "HAG", "ICA", "LAC", "PLA", "ROC"]
STUDY_CLASS = "STUDY"
NODATA_VALUE = -999.0
MASK_NODATA = -127
MASK_VALUES = {0: "none", 1: "layover", 2: "shadow", 3: "layover and shadow", -127: "no data"}
SCALE_TYPES = ("intensity", "amplitude", "log10")
SOURCE_SATELLITE = "PAZ"  # scenario 4, split "source"
TARGET_SATELLITE = "TerraSAR-X"  # scenario 4, split "target"
# PAZ was launched on 2018-02-22: in a file without satellite data (the PAZ-only
# release) later dates are PAZ, earlier ones cannot be and are reported "Unknown".
PAZ_FIRST_DATE = "20180222"

SCENARIOS = ("scenario1", "scenario2", "scenario3", "scenario4", "scenario4_geometry")
SCENARIO_SPLITS = {
    "scenario1": ("train",),
    "scenario2": ("train",),
    "scenario3": ("train",),
    "scenario4": ("source", "target"),
    "scenario4_geometry": ("source", "target"),
}


# ----------------------------------------------------------------------------------
# Scenario parameters
# ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScenarioParams:
    """Every parameter of the four scenarios, named as the publisher's arguments.

    Fields a scenario does not use are ``None``. ``polarisation`` is ``"HH"``/``"HV"``
    (scenario 2) or a pair: ``("HH", "HV")`` stacks HH then HV as channels (scenarios 1
    and 4), and means source HH, target HV in scenario 3. Dates are ``"YYYYMMDD"``,
    ranges inclusive. ``stride=None`` means ``window_size`` (non-overlapping, as the
    publisher's scenarios do). Defaults are those of ``scenario1``; use
    :meth:`for_scenario` (or :data:`SCENARIO_DEFAULTS`) for the others.

    Defaults (the publisher's README calls; where SPEC and the README are silent, the
    publisher's scenario functions): every scenario window_size 32, stride None,
    max_mask_value 1, max_mask_percentage 10, min_valid_percentage 50,
    skip_optim_offset True (the README's "deterministic" choice);
    scenario1 ASC, HH+HV, 20200101-20201231, amplitude; scenario2 DSC, HH, train
    20200101-20201031, predict 20201101-20201231, amplitude; scenario3 DSC, HH -> HV,
    target_date 20200804, intensity; scenario4 DSC, HH+HV, source_date 20200804 (PAZ),
    target_date 20080805 (TerraSAR-X), intensity; scenario4_geometry (the later
    release's scenario 4) source_orbit DSC, source_date 20210127, source_polarization HH
    -> target_orbit ASC, target_date 20210214, target_polarization HH, intensity (the
    fields ``orbit`` and ``polarisation`` are ``None`` there). Unlike the publisher,
    scenario 4's target split honours ``skip_optim_offset`` and
    ``min_valid_percentage`` too (its code forces True and 50 there; the same under the
    defaults).
    """

    scenario: str = "scenario1"
    window_size: int = 32
    stride: int | None = None
    orbit: str = "ASC"
    polarisation: str | tuple[str, ...] = ("HH", "HV")
    start_date: str | None = "20200101"
    end_date: str | None = "20201231"
    train_start: str | None = None
    train_end: str | None = None
    predict_start: str | None = None
    predict_end: str | None = None
    target_date: str | None = None
    source_date: str | None = None
    scale_type: str = "amplitude"
    max_mask_value: int = 1
    max_mask_percentage: float = 10.0
    min_valid_percentage: float = 50.0
    skip_optim_offset: bool = True
    # scenario4_geometry, spelled as the publisher's function spells them
    source_orbit: str | None = None
    target_orbit: str | None = None
    source_polarization: str | None = None
    target_polarization: str | None = None

    @classmethod
    def for_scenario(cls, scenario: str, **overrides) -> "ScenarioParams":
        """The publisher's README defaults of ``scenario``, with ``overrides`` applied."""
        if scenario not in SCENARIO_DEFAULTS:
            raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
        values = dict(SCENARIO_DEFAULTS[scenario])
        values.update(overrides)
        values["scenario"] = scenario
        return cls(**values)

    def as_kwargs(self) -> dict:
        return dataclasses.asdict(self)


PARAM_NAMES = tuple(f.name for f in dataclasses.fields(ScenarioParams))

_COMMON_DEFAULTS = dict(
    window_size=32, stride=None, max_mask_value=1, max_mask_percentage=10.0,
    min_valid_percentage=50.0, skip_optim_offset=True,
    start_date=None, end_date=None, train_start=None, train_end=None,
    predict_start=None, predict_end=None, target_date=None, source_date=None,
    source_orbit=None, target_orbit=None, source_polarization=None, target_polarization=None,
)
# The publisher's README calls (and, where the README passes nothing, its functions'
# defaults): scenario 1 and 2 in amplitude, scenarios 3 and 4 in intensity.
SCENARIO_DEFAULTS: dict[str, dict] = {
    "scenario1": {**_COMMON_DEFAULTS, "scenario": "scenario1", "orbit": "ASC",
                  "polarisation": ("HH", "HV"), "start_date": "20200101",
                  "end_date": "20201231", "scale_type": "amplitude"},
    "scenario2": {**_COMMON_DEFAULTS, "scenario": "scenario2", "orbit": "DSC",
                  "polarisation": "HH", "train_start": "20200101", "train_end": "20201031",
                  "predict_start": "20201101", "predict_end": "20201231",
                  "scale_type": "amplitude"},
    "scenario3": {**_COMMON_DEFAULTS, "scenario": "scenario3", "orbit": "DSC",
                  "polarisation": ("HH", "HV"), "target_date": "20200804",
                  "scale_type": "intensity"},
    "scenario4": {**_COMMON_DEFAULTS, "scenario": "scenario4", "orbit": "DSC",
                  "polarisation": ("HH", "HV"), "source_date": "20200804",
                  "target_date": "20080805", "scale_type": "intensity"},
    "scenario4_geometry": {**_COMMON_DEFAULTS, "scenario": "scenario4_geometry", "orbit": None,
                           "polarisation": None, "source_orbit": "DSC", "target_orbit": "ASC",
                           "source_date": "20210127", "target_date": "20210214",
                           "source_polarization": "HH", "target_polarization": "HH",
                           "scale_type": "intensity"},
}


def params_from(obj: Any) -> dict:
    """The scenario fields of ``obj`` (a ``ScenarioParams``, a TFDS config with the same
    fields, or a mapping), as keyword arguments for the scenario functions."""
    if isinstance(obj, Mapping):
        return {k: obj[k] for k in PARAM_NAMES if k in obj}
    return {k: getattr(obj, k) for k in PARAM_NAMES if hasattr(obj, k)}


def resolve_params(**params) -> ScenarioParams:
    """``params`` over the defaults of ``params["scenario"]`` (default ``scenario1``),
    checked. Unknown names raise ``TypeError``; bad values ``ValueError``."""
    unknown = sorted(set(params) - set(PARAM_NAMES))
    if unknown:
        raise TypeError(f"unknown scenario parameter(s) {unknown}; known: {list(PARAM_NAMES)}")
    scenario = params.pop("scenario", None) or "scenario1"
    p = ScenarioParams.for_scenario(scenario, **params)
    _window_args(p.window_size, p.stride)
    _scale(p.scale_type)
    if scenario == "scenario4_geometry":
        for name in ("source_orbit", "target_orbit", "source_polarization",
                     "target_polarization", "source_date", "target_date"):
            if getattr(p, name) is None:
                raise ValueError(f"{scenario} needs {name}")
        for name in ("source_polarization", "target_polarization"):
            if len(_pols(getattr(p, name))[0]) != 1:
                raise ValueError(f"{name} must be one polarisation, got {getattr(p, name)!r}")
        _date(p.source_date, "source_date")
        _date(p.target_date, "target_date")
        return p
    pols = _pols(p.polarisation)[0]
    want = 1 if scenario == "scenario2" else 2
    if len(pols) != want:
        raise ValueError(f"{scenario} needs {'one polarisation' if want == 1 else 'two polarisations'}, "
                         f"got {p.polarisation!r}")
    needed = {"scenario1": ("start_date", "end_date"),
              "scenario2": ("train_start", "train_end", "predict_start", "predict_end"),
              "scenario3": ("target_date",),
              "scenario4": ("source_date", "target_date")}[scenario]
    for name in needed:
        value = getattr(p, name)
        if value is not None:
            _date(value, name)
        elif scenario in ("scenario3", "scenario4"):  # a single date cannot be open
            raise ValueError(f"{scenario} needs {name}")
    return p


# ----------------------------------------------------------------------------------
# Errors and small helpers
# ----------------------------------------------------------------------------------


class MissingSelectionError(SourceDataError):
    """The file has no data for the selection asked for: no such group, orbit or
    polarisation, or no date in the range. A :class:`SourceDataError`; the scenario
    iterators report it per group (warning) instead of stopping."""


class CpazmalSkipWarning(UserWarning):
    """A group gave no data for a scenario (missing orbit, polarisation, date or
    satellite); the message names the group and the reason."""


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


def _window_args(window_size, stride) -> tuple[int, int]:
    ws = int(window_size)
    if ws < 1 or ws != window_size:
        raise ValueError(f"window_size must be a positive integer, got {window_size!r}")
    st = ws if stride is None else int(stride)
    if st < 1 or (stride is not None and st != stride):
        raise ValueError(f"stride must be a positive integer or None, got {stride!r}")
    return ws, st


def _str_array(values) -> np.ndarray:
    """A 1-D object array of bytes: what a TFDS string tensor of shape (None,) takes."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v.encode("utf-8") if isinstance(v, str) else bytes(v)
    return out


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


# ----------------------------------------------------------------------------------
# Windows
# ----------------------------------------------------------------------------------


def _window_inputs(image, mask, window_size, stride):
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim < 2 or mask.ndim < 2:
        raise ValueError(f"image and mask need (H, W, ...) shapes, got {image.shape} and {mask.shape}")
    if image.shape[:2] != mask.shape[:2]:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in H, W")
    ws, st = _window_args(window_size, stride)
    return image, mask, ws, st


def _empty_windows(image, mask, ws):
    return (np.zeros((0, ws, ws) + image.shape[2:], np.float32),
            np.zeros((0, ws, ws) + mask.shape[2:], np.int8),
            np.zeros((0, 2), np.int32))


def _gather(image, mask, ws, ys, xs):
    n = len(ys)
    windows = np.empty((n, ws, ws) + image.shape[2:], np.float32)
    masks = np.empty((n, ws, ws) + mask.shape[2:], np.int8)
    for i, (y, x) in enumerate(zip(ys, xs)):
        windows[i] = image[y:y + ws, x:x + ws]
        masks[i] = mask[y:y + ws, x:x + ws]
    positions = np.stack([np.asarray(ys, np.int32), np.asarray(xs, np.int32)], axis=-1) \
        if n else np.zeros((0, 2), np.int32)
    return windows, masks, positions.reshape(n, 2)


def extract_windows_reference(image, mask, window_size: int, stride: int | None = None,
                              max_mask_value: int = 3, max_mask_percentage: float = 100.0,
                              min_valid_percentage: float = 50.0,
                              skip_optim_offset: bool = False, *, nodata: float = NODATA_VALUE):
    """The publisher's algorithm as a plain loop over windows (FORMATS.md): the
    definition :func:`extract_windows` is tested and benchmarked against. Same
    arguments and result."""
    image, mask, ws, stride = _window_inputs(image, mask, window_size, stride)
    h, w = image.shape[:2]

    def kept(y, x) -> bool:
        window_mask = mask[y:y + ws, x:x + ws]
        bad = (window_mask > max_mask_value) & (window_mask != MASK_NODATA)
        if bad.ndim == 3:
            bad = np.any(bad, axis=-1)  # bad at any date
        bad_percentage = (np.sum(bad) / (ws * ws)) * 100.0
        window = image[y:y + ws, x:x + ws]
        invalid = np.isnan(window) | (window == nodata)
        valid = ~np.any(invalid.reshape(ws, ws, -1), axis=-1)  # valid at every date/channel
        valid_percentage = (np.sum(valid) / (ws * ws)) * 100.0
        return bool(bad_percentage <= max_mask_percentage
                    and valid_percentage >= min_valid_percentage)

    start_y, start_x = 0, 0
    if not skip_optim_offset:
        best_count = -1
        max_offset = min(stride, ws)
        for sy in range(max_offset):
            for sx in range(max_offset):
                if sy + ws > h or sx + ws > w:
                    continue
                count = 0
                for y in range(sy, h - ws + 1, stride):
                    for x in range(sx, w - ws + 1, stride):
                        count += kept(y, x)
                if count > best_count:  # strict: the first offset with the most wins
                    best_count, start_y, start_x = count, sy, sx
    ys, xs = [], []
    for y in range(start_y, h - ws + 1, stride):
        for x in range(start_x, w - ws + 1, stride):
            if kept(y, x):
                ys.append(y)
                xs.append(x)
    if not ys:
        return _empty_windows(image, mask, ws)
    return _gather(image, mask, ws, ys, xs)


def _pixel_bad(mask: np.ndarray, max_mask_value) -> np.ndarray:
    """(H, W) bool: mask > max_mask_value at any date, -127 never bad."""
    h, w = mask.shape[:2]
    bad = (mask > max_mask_value) & (mask != MASK_NODATA)
    return bad.reshape(h, w, -1).any(axis=-1)


def _pixel_valid(image: np.ndarray, nodata: float, rows: int = 64) -> np.ndarray:
    """(H, W) bool: neither NaN nor no-data at every date and channel. By row blocks,
    so the temporary boolean cube stays small."""
    h, w = image.shape[:2]
    valid = np.empty((h, w), bool)
    for y0 in range(0, h, rows):
        block = image[y0:y0 + rows]
        invalid = np.isnan(block)
        invalid |= block == nodata
        valid[y0:y0 + rows] = ~invalid.reshape(block.shape[0], w, -1).any(axis=-1)
    return valid


def _window_sums(indicator: np.ndarray, ws: int) -> np.ndarray:
    """Sum of ``indicator`` over every ws x ws window, by top-left corner:
    (H - ws + 1, W - ws + 1) int64, from one summed-area table."""
    h, w = indicator.shape
    table = np.zeros((h + 1, w + 1), np.int64)
    np.cumsum(indicator, axis=0, dtype=np.int64, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    ny, nx = h - ws + 1, w - ws + 1
    return (table[ws:, ws:] - table[:ny, ws:] - table[ws:, :nx] + table[:ny, :nx])


def extract_windows(image, mask, window_size: int, stride: int | None = None,
                    max_mask_value: int = 3, max_mask_percentage: float = 100.0,
                    min_valid_percentage: float = 50.0, skip_optim_offset: bool = False,
                    *, nodata: float = NODATA_VALUE):
    """The publisher's window extraction, exactly, without a loop over windows.

    Args:
        image: (H, W), (H, W, T), (H, W, C) or (H, W, T, C), e.g. ``load_data`` images.
        mask: (H, W) or (H, W, T) int8 (0..3, -127 no data).
        window_size: square side. stride: step (``None`` = window_size).
        max_mask_value: a pixel is bad if its mask exceeds this at any date (-127 never).
        max_mask_percentage: keep a window when bad% <= this.
        min_valid_percentage: ... and valid% >= this, a valid pixel being neither NaN
            nor ``nodata`` at every date and channel.
        skip_optim_offset: ``False``: try every start offset (sy, sx) in
            [0, min(stride, window_size))^2 that fits and use the first (smallest sy, then
            sx) with the most kept windows; ``True``: start at (0, 0).
        nodata: the no-data value (the file's, -999.0).

    Returns ``(windows, masks, positions)``, windows swept row-major: windows float32
    (N, ws, ws, *image.shape[2:]), masks int8 (N, ws, ws, *mask.shape[2:]), positions
    int32 (N, 2) top-left (y, x). N may be 0 (empty arrays, never None).

    How: per-pixel bad/valid images, one summed-area table each, so every window's
    counts come in O(1); the kept-window map is then summed per start offset by
    folding it with the stride (all offsets at once).
    """
    image, mask, ws, stride = _window_inputs(image, mask, window_size, stride)
    h, w = image.shape[:2]
    ny, nx = h - ws + 1, w - ws + 1
    if ny <= 0 or nx <= 0:
        return _empty_windows(image, mask, ws)
    area = ws * ws
    bad = _window_sums(_pixel_bad(mask, max_mask_value), ws)
    valid = _window_sums(_pixel_valid(image, nodata), ws)
    # The same float expressions as the loop, so the comparisons agree to the bit.
    keep = ((bad / area) * 100.0 <= max_mask_percentage) & \
           ((valid / area) * 100.0 >= min_valid_percentage)
    start_y, start_x = 0, 0
    if not skip_optim_offset:
        max_offset = min(stride, ws)  # <= stride: every offset is one residue class
        py, px = -(-ny // stride) * stride, -(-nx // stride) * stride
        folded = np.zeros((py, px), np.int64)
        folded[:ny, :nx] = keep
        counts = folded.reshape(py // stride, stride, px // stride, stride).sum(axis=(0, 2))
        counts = counts[:max_offset, :max_offset]
        # Offsets that do not fit count 0; if every count is 0 the loop keeps (0, 0) too.
        start_y, start_x = (int(v) for v in np.unravel_index(np.argmax(counts), counts.shape))
    sel = keep[start_y::stride, start_x::stride]
    iy, ix = np.nonzero(sel)  # row-major, as the sweep
    if iy.size == 0:
        return _empty_windows(image, mask, ws)
    return _gather(image, mask, ws, start_y + iy * stride, start_x + ix * stride)


# ----------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------


def _bad_percentage(window_mask: np.ndarray, max_mask_value, ws: int) -> float:
    bad = (window_mask > max_mask_value) & (window_mask != MASK_NODATA)
    if bad.ndim == 3:
        bad = np.any(bad, axis=-1)
    return (np.sum(bad) / (ws * ws)) * 100.0


def _split(p: ScenarioParams, split: str | None) -> str:
    splits = SCENARIO_SPLITS[p.scenario]
    if split is None:
        if len(splits) > 1:
            raise ValueError(f"{p.scenario} has splits {splits}: pass split=")
        return splits[0]
    if split not in splits:
        raise ValueError(f"{p.scenario} has splits {splits}, not {split!r}")
    return split


def list_work_units(path_or_file, split: str | None = None, **params) -> list[str]:
    """The work units of a scenario split: the learning groups (STUDY left out), sorted.
    Iterating :func:`iter_group_examples` over them in order == :func:`iter_scenario_examples`.
    Raises SourceDataError naming a group whose class is not a learning class."""
    p = resolve_params(**params)
    if split is not None:  # the same groups for both splits of scenario 4
        _split(p, split)
    with _Opened(path_or_file) as f:
        return f.list_groups()


def iter_group_examples(path_or_file, group: str, split: str | None = None, *,
                        on_skip: Callable[[str, str], None] | None = None,
                        **params) -> Iterator[tuple[str, dict]]:
    """The examples of one group for one scenario split, as ``(key, example)``.

    ``params`` are the :class:`ScenarioParams` fields (``scenario`` picks the defaults).
    A group that has no data for the selection (missing orbit or polarisation, no date in
    range, no acquisition of the wanted satellite) yields nothing and is reported: a
    :class:`CpazmalSkipWarning` and ``on_skip(group, reason)``. Anything broken raises
    SourceDataError. STUDY groups yield nothing (not a learning class).

    Example dicts (ws = window_size; strings as bytes, label/group as str):

    - scenario1 (split ``train``): ``image`` float32 (ws, ws, T, 2) [HH, HV], ``mask``
      int8 (ws, ws, T), ``label``, ``group``, ``position`` int32 (2,) (y, x),
      ``timestamps`` (T,), ``satellites`` (T,). Key ``GROUP/ORBIT/YYYYY_XXXXX``.
    - scenario2 (``train``): ``image_train`` float32 (ws, ws, T1), ``image_predict``
      (ws, ws, T2), ``mask_train``, ``mask_predict`` int8, ``timestamps_train`` (T1,),
      ``timestamps_predict`` (T2,), ``label``, ``group``, ``position``. Windows come from
      the train period; a predict window is kept when it passes the mask criterion.
    - scenario3 (``train``): ``source`` float32 (ws, ws) HH, ``target`` (ws, ws) HV,
      ``mask_source``, ``mask_target`` int8 (ws, ws), ``label``, ``group``, ``position``,
      ``satellite``. Windows from HH; an HV window is kept when it passes the mask
      criterion.
    - scenario4 (``source``: PAZ on ``source_date``; ``target``: TerraSAR-X on
      ``target_date``): ``image`` float32 (ws, ws, 2), ``mask`` int8 (ws, ws), ``label``,
      ``group``, ``position``, ``satellite``, ``date``.
    - scenario4_geometry (``source``: ``source_orbit``, ``source_polarization`` on
      ``source_date``; ``target``: the ``target_*`` ones): the features of scenario4,
      ``image`` float32 (ws, ws, 1) (the one polarisation). Each split's windows are
      extracted on its own image, under the same window rules.

    Values are ``load_data(..., normalize=False, remove_nodata=False, scale_type=...)``
    as the publisher's scenarios load them: in ``intensity`` the raw values (-999 kept),
    in ``amplitude``/``log10`` no-data and non-positive values become NaN.
    """
    p = resolve_params(**params)
    split = _split(p, split)
    with _Opened(path_or_file) as f:
        cls = f.group_class(group)
        if cls == STUDY_CLASS:
            return
        if cls not in LEARNING_CLASSES:
            f.list_groups()  # raises, naming the group
        gen = {"scenario1": _scenario1, "scenario2": _scenario2, "scenario3": _scenario3,
               "scenario4": _scenario4, "scenario4_geometry": _scenario4_geometry}[p.scenario]
        yielded = False
        try:
            for item in gen(f, group, cls, p, split):
                yielded = True
                yield item
        except MissingSelectionError as e:
            if yielded:  # cannot happen: every scenario loads before it yields
                raise
            warnings.warn(CpazmalSkipWarning(
                f"{f.path}: {p.scenario}: skipping group {group}: {e.problem}"), stacklevel=2)
            if on_skip is not None:
                on_skip(group, e.problem)


def iter_scenario_examples(path_or_file, split: str | None = None, *,
                           on_skip: Callable[[str, str], None] | None = None,
                           **params) -> Iterator[tuple[str, dict]]:
    """Every example of a scenario split, group by group (see :func:`iter_group_examples`),
    the file opened once. Keys are unique and deterministic. A split that no group can
    give because the asked date, orbit or polarisation is not in the file raises
    SourceDataError (:func:`check_selection`), before any example."""
    with _Opened(path_or_file) as f:
        check_selection(f, split, **params)
        for group in list_work_units(f, split, **params):
            yield from iter_group_examples(f, group, split, on_skip=on_skip, **params)


def _extract(f: CpazmalFile, p: ScenarioParams, image, mask):
    return extract_windows(image, mask, p.window_size, p.stride, p.max_mask_value,
                           p.max_mask_percentage, p.min_valid_percentage,
                           p.skip_optim_offset, nodata=f.nodata)


def _load(f: CpazmalFile, group, p: ScenarioParams, pol, start, end) -> dict:
    return f.load_data(group, p.orbit, pol, start, end, normalize=False,
                       remove_nodata=False, scale_type=p.scale_type)


def _pos_key(y, x) -> str:
    return f"{int(y):05d}_{int(x):05d}"


def _scenario1(f, group, cls, p, split):
    pols = _pols(p.polarisation)[0]
    data = _load(f, group, p, list(pols), p.start_date, p.end_date)
    windows, masks, positions = _extract(f, p, data["images"], data["masks"])
    timestamps = _str_array(data["timestamps"])
    satellites = _str_array(data["satellites"])
    for i in range(len(windows)):
        yield f"{group}/{p.orbit}/{_pos_key(*positions[i])}", {
            "image": windows[i], "mask": masks[i], "label": cls, "group": group,
            "position": positions[i], "timestamps": timestamps.copy(),
            "satellites": satellites.copy(),
        }


def _matching_windows(positions, image, mask, p):
    """``(i, y, x, window, window_mask)`` of the windows at ``positions`` in a second
    image, kept as the publisher keeps them: when they fit and pass the mask percentage
    (no valid-pixel check)."""
    ws = p.window_size
    for i, (y, x) in enumerate(positions):
        if y + ws > image.shape[0] or x + ws > image.shape[1]:
            continue
        win_mask = mask[y:y + ws, x:x + ws]
        if _bad_percentage(win_mask, p.max_mask_value, ws) > p.max_mask_percentage:
            continue
        yield (i, y, x, np.ascontiguousarray(image[y:y + ws, x:x + ws], np.float32),
               np.ascontiguousarray(win_mask, np.int8))


def _scenario2(f, group, cls, p, split):
    pol = _pols(p.polarisation)[0][0]
    train = _load(f, group, p, pol, p.train_start, p.train_end)
    predict = _load(f, group, p, pol, p.predict_start, p.predict_end)
    windows, masks, positions = _extract(f, p, train["images"], train["masks"])
    ts_train = _str_array(train["timestamps"])
    ts_predict = _str_array(predict["timestamps"])
    for i, y, x, window, win_mask in _matching_windows(positions, predict["images"], predict["masks"], p):
        yield f"{group}/{p.orbit}/{pol}/{_pos_key(y, x)}", {
            "image_train": windows[i],
            "image_predict": window,
            "mask_train": masks[i],
            "mask_predict": win_mask,
            "timestamps_train": ts_train.copy(), "timestamps_predict": ts_predict.copy(),
            "label": cls, "group": group, "position": positions[i],
        }


def _scenario3(f, group, cls, p, split):
    src_pol, tgt_pol = _pols(p.polarisation)[0]
    src = _load(f, group, p, src_pol, p.target_date, p.target_date)
    tgt = _load(f, group, p, tgt_pol, p.target_date, p.target_date)
    img_s, mask_s = src["images"][:, :, 0], src["masks"][:, :, 0]
    img_t, mask_t = tgt["images"][:, :, 0], tgt["masks"][:, :, 0]
    windows, masks, positions = _extract(f, p, img_s, mask_s)
    date = src["timestamps"][0]
    for i, y, x, window, win_mask in _matching_windows(positions, img_t, mask_t, p):
        yield f"{group}/{p.orbit}/{date}/{_pos_key(y, x)}", {
            "source": windows[i],
            "target": window,
            "mask_source": masks[i],
            "mask_target": win_mask,
            "label": cls, "group": group, "position": positions[i],
            "satellite": src["satellites"][0],
        }


def _scenario4(f, group, cls, p, split):
    pols = _pols(p.polarisation)[0]
    date, satellite = ((p.source_date, SOURCE_SATELLITE) if split == "source"
                       else (p.target_date, TARGET_SATELLITE))
    data = _load(f, group, p, list(pols), date, date)
    hits = [k for k, s in enumerate(data["satellites"]) if s == satellite]
    if not hits:
        raise MissingSelectionError(
            f.path, f"data/{group}/{p.orbit}: no {satellite} acquisition on {date} "
                    f"(found {', '.join(data['satellites'])})")
    k = hits[0]
    windows, masks, positions = _extract(f, p, data["images"][:, :, k, :], data["masks"][:, :, k])
    the_date = data["timestamps"][k]
    for i in range(len(windows)):
        yield f"{split}/{group}/{p.orbit}/{the_date}/{_pos_key(*positions[i])}", {
            "image": windows[i], "mask": masks[i], "label": cls, "group": group,
            "position": positions[i], "satellite": satellite, "date": the_date,
        }


def _scenario4_geometry(f, group, cls, p, split):
    orbit, pol, date = ((p.source_orbit, p.source_polarization, p.source_date) if split == "source"
                        else (p.target_orbit, p.target_polarization, p.target_date))
    data = f.load_data(group, orbit, pol, date, date, normalize=False, remove_nodata=False,
                       scale_type=p.scale_type)
    image, mask = data["images"][:, :, :1], data["masks"][:, :, 0]  # (H, W, 1): one pol
    windows, masks, positions = _extract(f, p, image, mask)
    the_date = data["timestamps"][0]
    for i in range(len(windows)):
        yield f"{split}/{group}/{orbit}/{the_date}/{_pos_key(*positions[i])}", {
            "image": windows[i], "mask": masks[i], "label": cls, "group": group,
            "position": positions[i], "satellite": data["satellites"][0], "date": the_date,
        }


# -- whole-split selection check ------------------------------------------------------

class _Ask(NamedTuple):
    """One selection a scenario split reads from every group."""

    orbit: str
    pols: tuple[str, ...]
    start: str | None
    end: str | None
    satellite: str | None = None

    def text(self) -> str:
        dates = (self.start if self.start == self.end and self.start
                 else f"{self.start or 'start'}..{self.end or 'end'}")
        sat = f" {self.satellite}" if self.satellite else ""
        return f"{self.orbit} {'+'.join(self.pols)}{sat} acquisition(s) on {dates}"


def _asks(p: ScenarioParams, split: str) -> list[_Ask]:
    if p.scenario == "scenario4_geometry":
        if split == "source":
            return [_Ask(p.source_orbit, (p.source_polarization,), p.source_date, p.source_date)]
        return [_Ask(p.target_orbit, (p.target_polarization,), p.target_date, p.target_date)]
    pols = _pols(p.polarisation)[0]
    if p.scenario == "scenario1":
        return [_Ask(p.orbit, pols, p.start_date, p.end_date)]
    if p.scenario == "scenario2":
        return [_Ask(p.orbit, pols, p.train_start, p.train_end),
                _Ask(p.orbit, pols, p.predict_start, p.predict_end)]
    if p.scenario == "scenario3":
        return [_Ask(p.orbit, (pol,), p.target_date, p.target_date) for pol in pols]
    if split == "source":
        return [_Ask(p.orbit, pols, p.source_date, p.source_date, SOURCE_SATELLITE)]
    return [_Ask(p.orbit, pols, p.target_date, p.target_date, TARGET_SATELLITE)]


def _acquisitions(f: CpazmalFile, group: str, ask: _Ask) -> list[tuple[str, str]] | None:
    """(date, satellite) of ``group``'s acquisitions under ask's orbit and polarisations
    (the dates common to them), or None when the orbit or a polarisation is missing."""
    try:
        infos = [f._pol(group, ask.orbit, pol) for pol in ask.pols]
    except MissingSelectionError:
        return None
    common = set(infos[0].timestamps)
    for info in infos[1:]:
        common &= set(info.timestamps)
    return sorted((d, s) for d, s in zip(infos[0].timestamps, infos[0].satellites) if d in common)


def _matches(acquisitions, ask: _Ask) -> bool:
    return any((ask.start is None or d >= ask.start) and (ask.end is None or d <= ask.end)
               and (ask.satellite is None or s == ask.satellite) for d, s in acquisitions)


def _holdings(f: CpazmalFile, groups: list[str], ask: _Ask) -> str:
    """What the file has where ``ask`` looked, in words."""
    found: set[tuple[str, str]] = set()
    where = f"{ask.orbit} {'+'.join(ask.pols)}"
    for group in groups:
        acquisitions = _acquisitions(f, group, ask)
        if acquisitions:
            found.update(acquisitions)
    if not found:
        orbits = sorted({o for g in groups for o in f.orbits(g)})
        pols = sorted({q for g in groups for q in f.polarisations(g, ask.orbit)})
        if ask.orbit not in orbits:
            return f"no orbit {ask.orbit} (orbits: {', '.join(orbits) or 'none'})"
        return f"no {where} (polarisations under {ask.orbit}: {', '.join(pols) or 'none'})"
    dates = sorted({d for d, _ in found})
    shown = " ".join(dates) if len(dates) <= 12 else \
        f"{dates[0]} .. {dates[-1]} ({len(dates)} dates)"
    sats = sorted({s for _, s in found})
    return f"{where} acquisitions on {shown} ({', '.join(sats)})"


def check_selection(path_or_file, split: str | None = None, **params) -> None:
    """Raise SourceDataError when a split of the scenario would be empty because what it
    asks for (a date, date range, orbit, polarisation or satellite) is in no learning
    group of the file; the message names what was asked and what the file has there.
    ``split=None`` checks every split of the scenario. Reads the timestamps only."""
    p = resolve_params(**params)
    splits = SCENARIO_SPLITS[p.scenario] if split is None else (_split(p, split),)
    with _Opened(path_or_file) as f:
        groups = f.list_groups()
        for sp in splits:
            asks = _asks(p, sp)
            if any(all(_matches(_acquisitions(f, g, a) or [], a) for a in asks) for g in groups):
                continue
            missing = next((a for a in asks
                            if not any(_matches(_acquisitions(f, g, a) or [], a) for g in groups)),
                           asks[0])
            raise SourceDataError(
                f.path, f"{p.scenario} split '{sp}' asks for {missing.text()}, which no group "
                        f"has: the file has {_holdings(f, groups, missing)}",
                "choose dates, orbit and polarisation that the file holds (config fields), "
                "or use the release they come from")


_RAGGED = {"image", "mask", "timestamps", "satellites", "image_train", "image_predict",
           "mask_train", "mask_predict", "timestamps_train", "timestamps_predict"}


def _collect(examples, skipped) -> dict:
    columns: dict[str, list] = {}
    keys = []
    for key, ex in examples:
        keys.append(key)
        for name, value in ex.items():
            columns.setdefault(name, []).append(value)
    out = {"key": np.asarray(keys, dtype=str)}
    for name, values in columns.items():
        shapes = {np.shape(v) for v in values}
        if name in _RAGGED and len(shapes) > 1:
            out[name] = values  # ragged: a list of arrays, never an object array
        elif name in ("label", "group", "satellite", "date"):
            out[name] = np.asarray(values, dtype=str)
        else:
            out[name] = np.stack(values) if values else np.zeros((0,))
    out["skipped"] = skipped
    return out


def load_scenario(path_or_file, split: str | None = None, **params) -> dict:
    """A whole scenario split as numpy, for scikit-learn.

    Returns a dict with the SPEC feature names of the scenario (see
    :func:`iter_group_examples`): each fixed-shape feature stacked to (N, ...);
    a variable-length one (scenario 1 and 2 series) stacked only when every example has
    the same length, else a list of N arrays; ``label``, ``group`` (for group-wise
    splits, e.g. ``GroupKFold``) and ``key`` as (N,) str arrays; ``skipped``: the
    ``(group, reason)`` pairs reported. For scenario4 with ``split=None``:
    ``{"source": {...}, "target": {...}}``.
    """
    p = resolve_params(**params)
    if split is None and len(SCENARIO_SPLITS[p.scenario]) > 1:
        with _Opened(path_or_file) as f:
            return {s: load_scenario(f, s, **params) for s in SCENARIO_SPLITS[p.scenario]}
    skipped: list[tuple[str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpazmalSkipWarning)  # reported in "skipped"
        examples = list(iter_scenario_examples(
            path_or_file, split, on_skip=lambda g, r: skipped.append((g, r)), **params))
    for g, r in skipped:
        warnings.warn(CpazmalSkipWarning(f"{p.scenario}: skipping group {g}: {r}"), stacklevel=2)
    return _collect(examples, skipped)


def scenario_1_temporal_stacking_classification(path_or_file, **params) -> dict:
    """Scenario 1 (dual-pol temporal stacking classification) as numpy; see load_scenario."""
    return load_scenario(path_or_file, None, **{**params, "scenario": "scenario1"})


def scenario_2_temporal_prediction_lstm(path_or_file, **params) -> dict:
    """Scenario 2 (train-period windows and the same windows later) as numpy."""
    return load_scenario(path_or_file, None, **{**params, "scenario": "scenario2"})


def scenario_3_domain_adaptation_pol(path_or_file, **params) -> dict:
    """Scenario 3 (HH -> HV on one date) as numpy."""
    return load_scenario(path_or_file, None, **{**params, "scenario": "scenario3"})


def scenario_4_domain_adaptation_satellite(path_or_file, **params) -> dict:
    """Scenario 4 (PAZ 2020 -> TerraSAR-X 2008): ``{"source": {...}, "target": {...}}``."""
    return load_scenario(path_or_file, None, **{**params, "scenario": "scenario4"})


def scenario_4_domain_adaptation_geometry(path_or_file, **params) -> dict:
    """The later release's scenario 4 (PAZ DSC 2021-01-27 HH -> PAZ ASC 2021-02-14 HH by
    default; ``source_orbit``, ``target_orbit``, ``source_date``, ``target_date``,
    ``source_polarization``, ``target_polarization``): ``{"source": ..., "target": ...}``."""
    return load_scenario(path_or_file, None, **{**params, "scenario": "scenario4_geometry"})


# ----------------------------------------------------------------------------------
# Sample writer
# ----------------------------------------------------------------------------------

# Satellite of a sample date: the 2008 acquisitions are TerraSAR-X/TanDEM-X, 2020 PAZ.
_SAMPLE_SATELLITE = {"20080805": "TerraSAR-X", "20080827": "TanDEM-X"}
_ASC_HH = ["20200115", "20200302", "20200520", "20200716", "20200913", "20201108", "20201222"]
_ASC_HV = ["20200115", "20200302", "20200521", "20200716", "20200913", "20201108", "20201222"]
_DSC_HH = ["20080805", "20080827", "20200210", "20200612", "20200804", "20201015",
           "20201120", "20201214"]
_DSC_HV = ["20080805", "20200210", "20200612", "20200804", "20200926", "20201120", "20201214"]
# The later, PAZ-only release: no 2008 dates, and the 2021 dates of its scenario 4
# (DSC 20210127 -> ASC 20210214), in both polarisations.
_DSC_HV_LATER = [d for d in _DSC_HV if d >= PAZ_FIRST_DATE] + ["20210127"]
_DSC_HH_LATER = [d for d in _DSC_HH if d >= PAZ_FIRST_DATE] + ["20210127"]
_ASC_LATER_DATES = ["20210214"]

# (group, class, (H, W) of HH; HV is one row fewer and one column more)
_SAMPLE_GROUPS = [
    ("ABL001", "ABL", (68, 70)),
    ("ACC002", "ACC", (66, 66)),
    ("FOR001", "FOR", (70, 67)),
    ("ICA001", "ICA", (67, 68)),
    ("PLA003", "PLA", (66, 69)),
    ("STUDY01", STUDY_CLASS, (44, 40)),
]
_LATER_GROUPS = [
    ("ABL001", "ABL", (66, 68)),
    ("HAG001", "HAG", (66, 66)),
    ("LAC001", "LAC", (67, 66)),
    ("ROC002", "ROC", (66, 67)),
    ("STUDY01", STUDY_CLASS, (40, 40)),
]


def _sample_pol(rng: np.random.Generator, shape, dates, level: float, edge: str):
    """Quantised gamma intensity (compresses like real data), with no-data and
    layover/shadow regions; masks -127 exactly where the image is -999."""
    h, w = shape
    t = len(dates)
    img = rng.gamma(2.0, level / 2.0, size=(h, w, t))
    img = (np.round(img * 256.0) / 256.0).astype(np.float32)
    img[rng.random((h, w, t)) < 0.002] = 0.0  # exact zeros: log10 -> NaN
    mask = np.zeros((h, w, t), np.int8)
    # layover (1) scattered, a shadow (2) block and a small both (3) block
    mask[rng.random((h, w, t)) < 0.01] = 1
    y0, x0 = int(rng.integers(h // 2, h - 12)), int(rng.integers(w // 2, w - 14))
    mask[y0:y0 + 11, x0:x0 + 13, :] = 2
    mask[2:6, w // 2:w // 2 + 5, : max(1, t // 2)] = 3
    # no data: a swath edge on every date, a block on one date
    if edge == "left":
        img[:, :5, :] = NODATA_VALUE
    else:
        img[-4:, :, :] = NODATA_VALUE
    k = int(rng.integers(0, t))
    img[:18, :20, k] = NODATA_VALUE
    mask[img == NODATA_VALUE] = MASK_NODATA
    return img, mask


def _stats_attrs(img: np.ndarray) -> dict:
    valid = img[np.isfinite(img) & (img != NODATA_VALUE)].astype(np.float64)
    return {
        "stat_mean": float(valid.mean()), "stat_std": float(valid.std()),
        "stat_min": float(valid.min()), "stat_max": float(valid.max()),
        "stat_percentile_1": float(np.percentile(valid, 1)),
        "stat_percentile_99": float(np.percentile(valid, 99)),
    }


def _write_file(path: pathlib.Path, rng: np.random.Generator, groups, later: bool) -> None:
    class_index: dict[str, list] = {}
    satellite_index: dict[str, list] = {}
    ranges: dict[str, dict] = {}
    with h5py.File(path, "w") as f:
        meta = f.create_group("metadata")
        data = f.create_group("data")
        index = f.create_group("index")
        for gi, (group, cls, (h, w)) in enumerate(groups):
            g = data.create_group(group)
            g.attrs["class"] = cls
            g.attrs["group_num"] = group[-3:]
            g.attrs["latitude"] = float(45.85 + 0.02 * gi)
            g.attrs["longitude"] = float(6.88 + 0.015 * gi)
            g.attrs["elevation"] = float(1500 + 250 * gi)
            g.attrs["orientation"] = float(30 * gi % 360)
            g.attrs["slope"] = float(10 + 5 * gi)
            g.attrs["id"] = gi + 1
            g.attrs["nodata"] = NODATA_VALUE
            level = 0.05 + 0.03 * gi
            for orbit in ("ASC", "DSC"):
                o = g.create_group(orbit)
                o.attrs["orbit"] = "ascending" if orbit == "ASC" else "descending"
                for pol in ("HH", "HV"):
                    if orbit == "ASC":
                        dates = (_ASC_HH if pol == "HH" else _ASC_HV) + (_ASC_LATER_DATES if later else [])
                    elif later:
                        dates = _DSC_HH_LATER if pol == "HH" else _DSC_HV_LATER
                    else:
                        dates = _DSC_HH if pol == "HH" else _DSC_HV
                    if gi % 2:  # series of different lengths across groups
                        dates = [d for d in dates if d not in ("20200913", "20200612")]
                    shape = (h, w) if pol == "HH" else (h - 1, w + 1)
                    img, mask = _sample_pol(rng, shape, dates, level * (1.0 if pol == "HH" else 0.3),
                                            "left" if (gi + (orbit == "DSC")) % 2 else "bottom")
                    if orbit == "DSC":
                        # distortion only in the predict period (scenario 2) or only in
                        # HV on 20200804 (scenario 3): windows the later check rejects
                        late = [k for k, d in enumerate(dates) if d >= "20201101"]
                        if pol == "HH" and gi % 2 == 0 and late:
                            mask[8:30, 8:30, late] = np.where(
                                mask[8:30, 8:30, late] == MASK_NODATA, MASK_NODATA, 2)
                        if pol == "HV" and gi % 2 == 1 and "20200804" in dates:
                            k = dates.index("20200804")
                            mask[2:24, 34:56, k] = np.where(
                                mask[2:24, 34:56, k] == MASK_NODATA, MASK_NODATA, 3)
                    p = o.create_group(pol)
                    chunks = (shape[0], shape[1], 1)
                    p.create_dataset("images", data=img, dtype=np.float32, compression="gzip",
                                     compression_opts=4, chunks=chunks)
                    p.create_dataset("masks", data=mask, dtype=np.int8, compression="gzip",
                                     compression_opts=4, chunks=chunks)
                    p.create_dataset("timestamps", data=np.array(dates, dtype="S8"))
                    sats = [_SAMPLE_SATELLITE.get(d, "PAZ") for d in dates]
                    if not later:
                        p.create_dataset("satellites", data=np.array(sats, dtype="S20"))
                    passes = ["Unknown" if d < PAZ_FIRST_DATE else orbit for d in dates]
                    p.create_dataset("passes", data=np.array(passes, dtype="S20"))
                    t = len(dates)
                    p.create_dataset("angles_incidence",
                                     data=(rng.uniform(25, 45, t)).astype(np.float32))
                    p.create_dataset("resolution_range", data=np.full(t, 2.1, np.float32))
                    p.create_dataset("resolution_azimuth", data=np.full(t, 3.3, np.float32))
                    for k, v in _stats_attrs(img).items():
                        p.attrs[k] = v
                    p.attrs["geo_projection"] = "EPSG:32632"
                    p.attrs["geo_transform"] = np.array(
                        [3.0, 0.0, 330000.0 + 500 * gi, 0.0, -3.0, 5080000.0 - 400 * gi,
                         0.0, 0.0, 1.0])
                    p.attrs["shape_original"] = np.array([shape[0], shape[1], 2])
                    p.attrs["n_timestamps"] = t
                    name = f"{group}/{orbit}/{pol}"
                    if not later:
                        for k, (d, s) in enumerate(zip(dates, sats)):
                            satellite_index.setdefault(s, []).append(
                                {"path": name, "timestamp_idx": k, "timestamp": d,
                                 "class": cls, "group": group})
                    class_index.setdefault(cls, []).append(
                        {"path": name, "group": group, "orbit": orbit,
                         "polarisation": pol, "n_samples": t})
                    ranges[name] = {"start": dates[0], "end": dates[-1], "n_samples": t}
        if not later:
            by_sat = index.create_group("by_satellite")
            for s, entries in satellite_index.items():
                sg = by_sat.create_group(s)
                sg.attrs["n_entries"] = len(entries)
                sg.attrs["entries_json"] = json.dumps(entries)
        by_class = index.create_group("by_class")
        for c, entries in class_index.items():
            cg = by_class.create_group(c)
            cg.attrs["n_groups"] = len(entries)
            cg.attrs["entries_json"] = json.dumps(entries)
        index.create_group("temporal_ranges").attrs["ranges_json"] = json.dumps(ranges)
        meta.attrs["classes"] = json.dumps(list(class_index))
        if not later:
            meta.attrs["satellites"] = json.dumps(list(satellite_index))
        meta.attrs["n_total_groups"] = len(ranges)  # the publisher counts GROUP/ORBIT/POL paths
        meta.attrs["creation_date"] = datetime.datetime(2025, 1, 1).isoformat()
        meta.attrs["nodata_value"] = NODATA_VALUE


def write_samples(root: os.PathLike | str, seed: int = 0, *, later_release: bool = False,
                  filename: str | None = None) -> pathlib.Path:
    """Write a small faithful CPAZMAL file directly under ``root``; returns its path.

    Default: ``PAZTSX_CRYO_ML.hdf5`` with 6 groups (ABL001, ACC002, FOR001, ICA001,
    PLA003 and the STUDY group STUDY01), ASC and DSC, HH and HV (HV one row fewer, one
    column more, and one or two different dates); ASC: 7 dates in 2020; DSC: 20080805
    (TerraSAR-X), 20080827 (TanDEM-X) and 2020 PAZ dates incl. 20200804 and Nov/Dec;
    -999 swath edges and blocks with -127 masks, layover/shadow regions, gzip, chunks
    (H, W, 1), every attribute and index group of FORMATS.md. Each scenario gives
    examples with its default parameters (groups >= 66 px for 32 px windows).

    ``later_release=True``: ``CPAZMaL.hdf5``, PAZ only (no 2008 dates), no satellite
    data, with a LAC group, and the dates of its scenario 4 (``scenario4_geometry``):
    DSC 20210127 and ASC 20210214 in HH and HV. ``filename`` writes another name (e.g.
    ``PAZ_CRYO_ML.hdf5``, the later release's README name). About 1-2 MB each;
    deterministic for a seed.
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = filename or (SOURCE_FILENAMES[1] if later_release else SOURCE_FILENAMES[0])
    rng = np.random.default_rng([seed, 1 if later_release else 0])
    final = root / name
    tmp = root / f".{name}.tmp-{os.getpid()}"
    try:
        _write_file(tmp, rng, _LATER_GROUPS if later_release else _SAMPLE_GROUPS, later_release)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


def write_later_release_samples(root: os.PathLike | str, seed: int = 0) -> pathlib.Path:
    """``write_samples(root, seed, later_release=True)``: the PAZ-only ``CPAZMaL.hdf5``."""
    return write_samples(root, seed, later_release=True)
