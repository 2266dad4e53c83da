"""The CPAZMAL scenarios: their parameters (:class:`ScenarioParams`, the publisher's README
defaults), splits, and examples (numpy only).

- The four scenarios of the publisher, and ``scenario4_geometry`` (the later release's
  scenario 4: one polarisation, two acquisition geometries).
  :func:`iter_scenario_examples` yields ``(key, example)`` with the feature names of the
  ``cpazmal`` dataset (work units: :func:`list_work_units` + :func:`iter_group_examples`);
  :func:`load_scenario` and the publisher-named ``scenario_1_...`` to ``scenario_4_...``
  return numpy arrays for scikit-learn (ragged series stay lists of arrays, never one
  object array).
- :func:`check_selection`: a split that no group can give because its date, orbit or
  polarisation is not in the file is an error naming what was asked and what is there.

Unlike the publisher's code, a group that cannot give data for a scenario is reported (a
:class:`CpazmalSkipWarning` naming it, and the ``on_skip`` callback), and a group that
is broken raises :class:`SourceDataError`.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from parsers.cpazmal.constants import (
    LEARNING_CLASSES, SOURCE_SATELLITE, STUDY_CLASS, TARGET_SATELLITE)
from parsers.cpazmal.reader import CpazmalFile, MissingSelectionError, _date, _Opened, _pols, _scale
from parsers.cpazmal.windows import _bad_percentage, _window_args, extract_windows
from parsers.errors import SourceDataError

__all__ = [
    "SCENARIOS", "SCENARIO_SPLITS", "SCENARIO_DEFAULTS", "PARAM_NAMES", "ScenarioParams",
    "CpazmalSkipWarning", "params_from", "resolve_params", "check_selection",
    "list_work_units", "iter_group_examples", "iter_scenario_examples", "load_scenario",
    "scenario_1_temporal_stacking_classification", "scenario_2_temporal_prediction_lstm",
    "scenario_3_domain_adaptation_pol", "scenario_4_domain_adaptation_satellite",
    "scenario_4_domain_adaptation_geometry",
]

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

    Defaults (the publisher's README calls; where the README passes nothing, the
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
    """The scenario fields of ``obj`` (a ``ScenarioParams``, a ``CpazmalConfig``, which
    reads them from its ``params``, or a mapping), as keyword arguments for the scenario
    functions."""
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
# Examples
# ----------------------------------------------------------------------------------


class CpazmalSkipWarning(UserWarning):
    """A group gave no data for a scenario (missing orbit, polarisation, date or
    satellite); the message names the group and the reason."""



def _str_array(values) -> np.ndarray:
    """A 1-D object array of bytes: what a TFDS string tensor of shape (None,) takes."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v.encode("utf-8") if isinstance(v, str) else bytes(v)
    return out



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

    Returns a dict with the feature names of the scenario (see
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

