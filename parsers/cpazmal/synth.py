"""Small faithful CPAZMAL sample files of both releases (:func:`write_samples`), in the
layout :mod:`parsers.cpazmal.reader` reads (``tfds_builders/cpazmal/README.md``), written
with h5py through :func:`parsers.atomic.atomic_path`: a failure never leaves a partial
file under the final name."""

from __future__ import annotations

import datetime
import json
import os
import pathlib

import h5py
import numpy as np

from parsers.atomic import atomic_path
from parsers.cpazmal.constants import (
    MASK_NODATA, NODATA_VALUE, PAZ_FIRST_DATE, SOURCE_FILENAMES, STUDY_CLASS)

__all__ = ["write_samples", "write_later_release_samples"]

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
    (H, W, 1), every attribute and index group of the format. Each scenario gives
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
    with atomic_path(final) as tmp:
        _write_file(tmp, rng, _LATER_GROUPS if later_release else _SAMPLE_GROUPS, later_release)
    return final


def write_later_release_samples(root: os.PathLike | str, seed: int = 0) -> pathlib.Path:
    """``write_samples(root, seed, later_release=True)``: the PAZ-only ``CPAZMaL.hdf5``."""
    return write_samples(root, seed, later_release=True)
