"""parsers.cpazmal: the HDF5 reader, the numpy API (load_data, extract_windows, the four
scenarios) and the sample writer, checked against what the files hold (read with h5py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import h5py
import numpy as np
import pytest

from parsers import cpazmal
from parsers.errors import SourceDataError


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return cpazmal.write_samples(tmp_path_factory.mktemp("cpazmal"), seed=3)


@pytest.fixture(scope="module")
def later(tmp_path_factory):
    return cpazmal.write_samples(tmp_path_factory.mktemp("cpazmal_later"), seed=3,
                                 later_release=True)


def _raw(path, group, orbit, pol):
    """What the file holds for one polarisation, read directly with h5py."""
    with h5py.File(path, "r") as f:
        p = f[f"data/{group}/{orbit}/{pol}"]
        out = {"images": p["images"][()], "masks": p["masks"][()],
               "timestamps": [t.decode() for t in p["timestamps"][()]],
               "attrs": dict(p.attrs)}
        out["satellites"] = ([s.decode() for s in p["satellites"][()]]
                             if "satellites" in p else None)
        out["class"] = f[f"data/{group}"].attrs["class"]
    return out


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _sqrt(x):
    with np.errstate(invalid="ignore"):
        return np.where(x >= 0, np.sqrt(x), np.float32(np.nan)).astype(np.float32)


# ------------------------------------------------------------------ the sample files


def test_sample_is_faithful(sample):
    assert sample.name == "PAZTSX_CRYO_ML.hdf5"
    with h5py.File(sample, "r") as f:
        meta = f["metadata"].attrs
        classes = json.loads(meta["classes"])
        assert "STUDY" in classes and set(classes) - {"STUDY"} <= set(cpazmal.LEARNING_CLASSES)
        assert set(json.loads(meta["satellites"])) == {"PAZ", "TerraSAR-X", "TanDEM-X"}
        assert meta["nodata_value"] == -999.0
        assert "n_total_groups" in meta and "creation_date" in meta
        for name in ("index/by_class", "index/by_satellite"):
            for sub in f[name].values():
                assert isinstance(json.loads(sub.attrs["entries_json"]), list)
        ranges = json.loads(f["index/temporal_ranges"].attrs["ranges_json"])
        assert ranges["ABL001/DSC/HH"]["start"] == "20080805"
        groups = list(f["data"])
        assert sum(f[f"data/{g}"].attrs["class"] == "STUDY" for g in groups) == 1
        dates_seen, shapes_differ, dates_differ = set(), False, False
        for g in groups:
            node = f[f"data/{g}"]
            for key in ("class", "latitude", "longitude", "elevation", "orientation", "slope"):
                assert key in node.attrs
            for orbit in ("ASC", "DSC"):
                hh, hv = node[orbit]["HH"], node[orbit]["HV"]
                shapes_differ |= hh["images"].shape[:2] != hv["images"].shape[:2]
                dates_differ |= list(hh["timestamps"][()]) != list(hv["timestamps"][()])
                for p in (hh, hv):
                    img, msk = p["images"], p["masks"]
                    assert img.dtype == np.float32 and msk.dtype == np.int8
                    assert img.chunks == (img.shape[0], img.shape[1], 1) and img.compression == "gzip"
                    assert msk.chunks == img.chunks and msk.compression == "gzip"
                    assert p["timestamps"].dtype == np.dtype("S8")
                    assert p["satellites"].dtype == np.dtype("S20") and p["passes"].dtype == np.dtype("S20")
                    ts = p["timestamps"][()]
                    assert list(ts) == sorted(ts)
                    for name in ("angles_incidence", "resolution_range", "resolution_azimuth"):
                        assert p[name].dtype == np.float32 and p[name].shape == ts.shape
                    a, m = img[()], msk[()]
                    assert (a == -999).any() and np.array_equal(a == -999, m == -127)
                    assert {0, 1, 2, 3} <= set(np.unique(m).tolist())
                    valid = a[a != -999].astype(np.float64)
                    assert p.attrs["stat_mean"] == pytest.approx(valid.mean())
                    assert p.attrs["stat_std"] == pytest.approx(valid.std())
                    assert len(p.attrs["geo_transform"]) == 9 and "geo_projection" in p.attrs
                    assert p.attrs["n_timestamps"] == len(ts)
                    sats = dict(zip(ts, p["satellites"][()]))
                    dates_seen |= set(ts)
                    if b"20080805" in sats:
                        assert sats[b"20080805"] == b"TerraSAR-X"
                    if b"20200804" in sats:
                        assert sats[b"20200804"] == b"PAZ"
        assert shapes_differ and dates_differ
        assert {b"20080805", b"20200804"} <= dates_seen


def test_sample_is_deterministic(sample, tmp_path):
    again = cpazmal.write_samples(tmp_path, seed=3)
    assert again.read_bytes() == sample.read_bytes()
    other = cpazmal.write_samples(tmp_path / "other", seed=4)
    assert other.read_bytes() != sample.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_later_release_layout(later):
    assert later.name == "CPAZMaL.hdf5"
    with h5py.File(later, "r") as f:
        assert "satellites" not in f["metadata"].attrs and "by_satellite" not in f["index"]
        assert "LAC" in json.loads(f["metadata"].attrs["classes"])
        for g in f["data"]:
            for o in f[f"data/{g}"]:
                for p in f[f"data/{g}/{o}"].values():
                    assert "satellites" not in p
                    assert all(t >= b"2018" for t in p["timestamps"][()])


# ------------------------------------------------------------------ groups, load_data


def test_groups_and_classes(sample):
    with cpazmal.CpazmalFile(sample) as f, h5py.File(sample, "r") as h:
        assert f.classes == json.loads(h["metadata"].attrs["classes"])
        assert f.learning_classes == [c for c in f.classes if c != "STUDY"]
        truth = {g: h[f"data/{g}"].attrs["class"] for g in h["data"]}
        assert f.list_groups() == sorted(g for g, c in truth.items() if c != "STUDY")
        assert f.list_groups(include_study=True) == sorted(truth)
        assert f.group_classes() == {g: c for g, c in truth.items() if c != "STUDY"}
        assert f.get_groups_by_class("ABL") == ["ABL001"]
    assert cpazmal.find_source_file(sample.parent) == sample
    assert cpazmal.MLDatasetLoader is cpazmal.CpazmalFile


def test_load_data_single_pol_dates_inclusive(sample):
    raw = _raw(sample, "ABL001", "DSC", "HH")
    d = cpazmal.load_data(sample, "ABL001", "DSC", "HH", "20200210", "20201120",
                          remove_nodata=False)
    keep = [k for k, t in enumerate(raw["timestamps"]) if "20200210" <= t <= "20201120"]
    assert d["timestamps"] == [raw["timestamps"][k] for k in keep]
    assert d["timestamps"][0] == "20200210" and d["timestamps"][-1] == "20201120"
    assert _same(d["images"], raw["images"][:, :, keep])
    assert _same(d["masks"], raw["masks"][:, :, keep])
    assert d["satellites"] == [raw["satellites"][k] for k in keep]
    assert d["class"] == "ABL" and d["angles_incidence"].shape == (len(keep),)
    nan = cpazmal.load_data(sample, group="ABL001", orbit="DSC", polarisation="HH",
                            start_date="20200210", end_date="20201120")["images"]
    assert np.array_equal(np.isnan(nan), raw["images"][:, :, keep] == -999)


def test_scales(sample):
    raw = _raw(sample, "ACC002", "ASC", "HV")["images"]
    amp = cpazmal.load_data(sample, "ACC002", "ASC", "HV", scale_type="amplitude")["images"]
    assert _same(amp, _sqrt(np.where(raw == -999, np.nan, raw).astype(np.float32)))
    log = cpazmal.load_data(sample, "ACC002", "ASC", "HV", scale_type="log10")["images"]
    assert (raw == 0).any()
    assert np.array_equal(np.isnan(log), (raw <= 0))  # -999 and 0 -> NaN
    ok = raw > 0
    assert _same(log[ok], np.log10(raw[ok]))
    with pytest.raises(ValueError):
        cpazmal.load_data(sample, "ACC002", "ASC", "HV", scale_type="dB")


@pytest.mark.parametrize("scale", ["intensity", "amplitude", "log10"])
def test_normalisation_is_right_for_every_scale(sample, scale):
    raw = _raw(sample, "FOR001", "DSC", "HV")
    d = cpazmal.load_data(sample, "FOR001", "DSC", "HV", normalize=True, scale_type=scale)
    plain = cpazmal.load_data(sample, "FOR001", "DSC", "HV", scale_type=scale)["images"]
    if scale == "intensity":  # the file's statistics are of intensity
        mean, std = raw["attrs"]["stat_mean"], raw["attrs"]["stat_std"]
    else:  # statistics of the scale returned
        v = plain[np.isfinite(plain)].astype(np.float64)
        mean, std = v.mean(), v.std()
    expect = ((plain.astype(np.float64) - mean) / std).astype(np.float32)
    np.testing.assert_allclose(d["images"], expect, rtol=1e-5, atol=1e-5)
    finite = d["images"][np.isfinite(d["images"])].astype(np.float64)
    assert abs(finite.mean()) < 1e-3 and abs(finite.std() - 1) < 1e-3  # whole series


def test_dual_pol_common_dates_crop_max_mask_and_normalised(sample):
    hh, hv = _raw(sample, "ICA001", "DSC", "HH"), _raw(sample, "ICA001", "DSC", "HV")
    d = cpazmal.load_data(sample, "ICA001", "DSC", ["HH", "HV"], "20080101", "20201130",
                          remove_nodata=False)
    common = sorted(set(hh["timestamps"]) & set(hv["timestamps"]))
    common = [t for t in common if "20080101" <= t <= "20201130"]
    assert d["timestamps"] == common and len(common) < len(hh["timestamps"])
    h = min(hh["images"].shape[0], hv["images"].shape[0])
    w = min(hh["images"].shape[1], hv["images"].shape[1])
    ih = [hh["timestamps"].index(t) for t in common]
    iv = [hv["timestamps"].index(t) for t in common]
    assert d["images"].shape == (h, w, len(common), 2) and d["images"].dtype == np.float32
    assert _same(d["images"][..., 0], hh["images"][:h, :w, ih])
    assert _same(d["images"][..., 1], hv["images"][:h, :w, iv])
    assert _same(d["masks"], np.maximum(hh["masks"][:h, :w, ih], hv["masks"][:h, :w, iv]))
    assert d["satellites"] == [hh["satellites"][k] for k in ih]
    n = cpazmal.load_data(sample, "ICA001", "DSC", ["HH", "HV"], normalize=True)
    plain = cpazmal.load_data(sample, "ICA001", "DSC", ["HH", "HV"])["images"]
    for c, raw in enumerate((hh, hv)):  # each channel with its own polarisation's statistics
        mean, std = raw["attrs"]["stat_mean"], raw["attrs"]["stat_std"]
        np.testing.assert_allclose(n["images"][..., c], (plain[..., c] - mean) / std,
                                   rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ extract_windows


def _random_case(rng):
    h, w = (int(v) for v in rng.integers(2, 34, 2))
    t = int(rng.integers(1, 5))
    shape = [(h, w), (h, w, t), (h, w, t, 2), (h, w, 2)][int(rng.integers(4))]
    image = rng.gamma(2.0, 0.1, shape).astype(np.float32)
    image[rng.random(shape) < rng.choice([0.0, 0.03, 0.2])] = np.nan
    image[rng.random(shape) < rng.choice([0.0, 0.03, 0.2])] = -999.0
    if rng.random() < 0.3:  # a no-data block, as at a swath edge
        image[: int(rng.integers(0, h)), : int(rng.integers(0, w))] = -999.0
    mshape = (h, w, t) if rng.random() < 0.7 else (h, w)
    mask = rng.choice(np.array([0, 1, 2, 3, -127], np.int8), mshape,
                      p=rng.dirichlet(np.ones(5)))
    ws = int(rng.integers(1, 10))
    args = dict(window_size=ws,
                stride=None if rng.random() < 0.3 else int(rng.integers(1, 12)),
                max_mask_value=int(rng.integers(-1, 4)),
                max_mask_percentage=float(rng.choice([0.0, 5.0, 10.0, 25.0, 50.0, 100.0])),
                min_valid_percentage=float(rng.choice([0.0, 25.0, 50.0, 75.0, 100.0])))
    return image, mask, args


@pytest.mark.parametrize("skip_optim_offset", [False, True])
def test_extract_windows_equals_reference_loop(skip_optim_offset):
    rng = np.random.default_rng(11 + skip_optim_offset)
    kept = 0
    for _ in range(250):
        image, mask, args = _random_case(rng)
        fast = cpazmal.extract_windows(image, mask, skip_optim_offset=skip_optim_offset, **args)
        loop = cpazmal.extract_windows_reference(image, mask, skip_optim_offset=skip_optim_offset,
                                                 **args)
        for a, b in zip(fast, loop):
            assert _same(a, b), args
        assert fast[0].dtype == np.float32 and fast[1].dtype == np.int8
        assert fast[2].dtype == np.int32 and fast[2].shape == (len(fast[0]), 2)
        kept += len(fast[0])
    assert kept > 500  # the cases keep windows, not only reject them


def test_extract_windows_rules_by_hand():
    image = np.ones((8, 8, 3), np.float32)
    mask = np.zeros((8, 8, 3), np.int8)
    mask[0:2, 0:4, 1] = 2       # 8 of 16 pixels bad at one date in window (0, 0)
    mask[4:8, 4:8, :] = -127    # no-data mask never counts as bad
    image[4:6, 0:4, 2] = np.nan  # 8 of 16 pixels invalid in window (4, 0)
    image[6:8, 0:4, 0] = -999.0
    w, m, pos = cpazmal.extract_windows(image, mask, 4, max_mask_value=1,
                                        max_mask_percentage=50.0, min_valid_percentage=0.0,
                                        skip_optim_offset=True)
    assert pos.tolist() == [[0, 0], [0, 4], [4, 0], [4, 4]]  # 50 % bad is still <= 50 %
    _, _, pos = cpazmal.extract_windows(image, mask, 4, max_mask_value=1,
                                        max_mask_percentage=49.0, min_valid_percentage=1.0,
                                        skip_optim_offset=True)
    assert pos.tolist() == [[0, 4], [4, 4]]  # window (4, 0) has no valid pixel at all dates
    assert _same(w[3], image[4:8, 4:8]) and _same(m[0], mask[0:4, 0:4])
    # offset search: a no-data edge of one row and one column moves the grid to (1, 1)
    image = np.ones((9, 9), np.float32)
    image[0, :] = image[:, 0] = -999.0
    _, _, pos = cpazmal.extract_windows(image, np.zeros((9, 9), np.int8), 4,
                                        min_valid_percentage=100.0)
    assert pos.tolist() == [[1, 1], [1, 5], [5, 1], [5, 5]]
    empty = cpazmal.extract_windows(np.ones((3, 3, 2, 2), np.float32),
                                    np.zeros((3, 3, 2), np.int8), 4)
    assert [a.shape for a in empty] == [(0, 4, 4, 2, 2), (0, 4, 4, 2), (0, 2)]


# ------------------------------------------------------------------ scenarios


def _windows_from_file(path, group, orbit, pols, dates, ws, scale="intensity"):
    """The scenario input computed from the raw file: common dates, crop, max mask."""
    raws = [_raw(path, group, orbit, p) for p in pols]
    h = min(r["images"].shape[0] for r in raws)
    w = min(r["images"].shape[1] for r in raws)
    imgs = [r["images"][:h, :w, [r["timestamps"].index(t) for t in dates]] for r in raws]
    masks = [r["masks"][:h, :w, [r["timestamps"].index(t) for t in dates]] for r in raws]
    if scale == "amplitude":
        imgs = [_sqrt(i) for i in imgs]
    mask = masks[0]
    for m in masks[1:]:
        mask = np.maximum(mask, m)
    return imgs, mask, raws


def _bad_pct(win_mask, ws):
    bad = (win_mask > 1) & (win_mask != -127)
    if bad.ndim == 3:
        bad = bad.any(-1)
    return bad.sum() / (ws * ws) * 100.0


def test_scenario1_examples_match_file(sample):
    examples = list(cpazmal.iter_scenario_examples(sample, scenario="scenario1"))
    assert len(examples) >= 5 and len({k for k, _ in examples}) == len(examples)
    by_group = {}
    for key, ex in examples:
        assert set(ex) == {"image", "mask", "label", "group", "position", "timestamps", "satellites"}
        by_group.setdefault(ex["group"], []).append(ex)
    assert len(by_group) >= 3
    lengths = set()
    for group, exs in by_group.items():
        hh, hv = _raw(sample, group, "ASC", "HH"), _raw(sample, group, "ASC", "HV")
        dates = sorted(t for t in set(hh["timestamps"]) & set(hv["timestamps"])
                       if "20200101" <= t <= "20201231")
        (ih, iv), mask, raws = _windows_from_file(sample, group, "ASC", ["HH", "HV"], dates, 32,
                                                  "amplitude")
        cube = np.stack([ih, iv], -1)
        _, _, positions = cpazmal.extract_windows_reference(
            cube, mask, 32, 32, 1, 10.0, 50.0, True)
        assert [e["position"].tolist() for e in exs] == positions.tolist()
        for ex in exs:
            y, x = ex["position"]
            assert _same(ex["image"], cube[y:y + 32, x:x + 32])
            assert _same(ex["mask"], mask[y:y + 32, x:x + 32])
            assert ex["label"] == hh["class"] and ex["position"].dtype == np.int32
            assert [t.decode() for t in ex["timestamps"]] == dates
            assert [s.decode() for s in ex["satellites"]] == \
                [hh["satellites"][hh["timestamps"].index(t)] for t in dates]
            lengths.add(ex["image"].shape[2])
    assert len(lengths) > 1  # series of different lengths across groups
    arrays = cpazmal.scenario_1_temporal_stacking_classification(sample)
    assert isinstance(arrays["image"], list) and len(arrays["image"]) == len(examples)  # ragged
    assert arrays["label"].tolist() == [ex["label"] for _, ex in examples]
    assert arrays["group"].tolist() == [ex["group"] for _, ex in examples]
    assert arrays["position"].shape == (len(examples), 2)


def _expected_positions(path, orbit, pol_train, dates_train, pol_later, dates_later,
                        scale):
    """Per group: the train windows (reference loop) kept where the later window passes
    the mask rule; and how many the later rule dropped."""
    out, dropped = {}, 0
    with cpazmal.CpazmalFile(path) as f:
        groups = f.list_groups()
    for g in groups:
        a, b = _raw(path, g, orbit, pol_train), _raw(path, g, orbit, pol_later)
        ia = [k for k, t in enumerate(a["timestamps"]) if dates_train(t)]
        ib = [k for k, t in enumerate(b["timestamps"]) if dates_later(t)]
        img = a["images"][:, :, ia]
        img = _sqrt(img) if scale == "amplitude" else img
        _, _, pos = cpazmal.extract_windows_reference(img, a["masks"][:, :, ia], 32, 32, 1,
                                                      10.0, 50.0, True)
        mb = b["masks"][:, :, ib]
        keep = [(y, x) for y, x in pos.tolist()
                if y + 32 <= mb.shape[0] and x + 32 <= mb.shape[1]
                and _bad_pct(mb[y:y + 32, x:x + 32], 32) <= 10.0]
        dropped += len(pos) - len(keep)
        if keep:
            out[g] = keep
    return out, dropped


def test_scenario2_examples_match_file(sample):
    examples = list(cpazmal.iter_scenario_examples(sample, scenario="scenario2"))
    assert len(examples) >= 5
    expected, dropped = _expected_positions(
        sample, "DSC", "HH", lambda t: "20200101" <= t <= "20201031",
        "HH", lambda t: "20201101" <= t <= "20201231", "amplitude")
    got = {}
    for _, ex in examples:
        got.setdefault(ex["group"], []).append(tuple(ex["position"].tolist()))
    assert got == expected and dropped > 0
    for key, ex in examples:
        assert set(ex) == {"image_train", "image_predict", "mask_train", "mask_predict",
                           "timestamps_train", "timestamps_predict", "label", "group", "position"}
        raw = _raw(sample, ex["group"], "DSC", "HH")
        tr = [k for k, t in enumerate(raw["timestamps"]) if "20200101" <= t <= "20201031"]
        pr = [k for k, t in enumerate(raw["timestamps"]) if "20201101" <= t <= "20201231"]
        y, x = ex["position"]
        img = _sqrt(raw["images"])
        assert _same(ex["image_train"], img[y:y + 32, x:x + 32, tr])
        assert _same(ex["image_predict"], img[y:y + 32, x:x + 32, pr])
        assert _same(ex["mask_train"], raw["masks"][y:y + 32, x:x + 32, tr])
        assert _same(ex["mask_predict"], raw["masks"][y:y + 32, x:x + 32, pr])
        assert _bad_pct(ex["mask_predict"], 32) <= 10.0 and _bad_pct(ex["mask_train"], 32) <= 10.0
        assert [t.decode() for t in ex["timestamps_predict"]] == [raw["timestamps"][k] for k in pr]
        assert ex["label"] == raw["class"]


def test_scenario3_examples_match_file(sample):
    examples = list(cpazmal.iter_scenario_examples(sample, scenario="scenario3"))
    assert len(examples) >= 5
    on_date = lambda t: t == "20200804"  # noqa: E731
    expected, dropped = _expected_positions(sample, "DSC", "HH", on_date, "HV", on_date,
                                            "intensity")
    got = {}
    for _, ex in examples:
        got.setdefault(ex["group"], []).append(tuple(ex["position"].tolist()))
    assert got == expected and dropped > 0
    for key, ex in examples:
        assert set(ex) == {"source", "target", "mask_source", "mask_target", "label", "group",
                           "position", "satellite"}
        hh, hv = _raw(sample, ex["group"], "DSC", "HH"), _raw(sample, ex["group"], "DSC", "HV")
        a, b = hh["timestamps"].index("20200804"), hv["timestamps"].index("20200804")
        y, x = ex["position"]
        assert _same(ex["source"], hh["images"][y:y + 32, x:x + 32, a])  # intensity, raw
        assert _same(ex["target"], hv["images"][y:y + 32, x:x + 32, b])
        assert _same(ex["mask_source"], hh["masks"][y:y + 32, x:x + 32, a])
        assert _same(ex["mask_target"], hv["masks"][y:y + 32, x:x + 32, b])
        assert ex["satellite"] == "PAZ" and key.startswith(f"{ex['group']}/DSC/20200804/")


@pytest.mark.parametrize("split,date,satellite", [("source", "20200804", "PAZ"),
                                                  ("target", "20080805", "TerraSAR-X")])
def test_scenario4_examples_match_file(sample, split, date, satellite):
    examples = list(cpazmal.iter_scenario_examples(sample, split, scenario="scenario4"))
    assert len(examples) >= 5
    for key, ex in examples:
        assert set(ex) == {"image", "mask", "label", "group", "position", "satellite", "date"}
        assert ex["date"] == date and ex["satellite"] == satellite and key.startswith(split)
        (ih, iv), mask, raws = _windows_from_file(sample, ex["group"], "DSC", ["HH", "HV"],
                                                  [date], 32)
        y, x = ex["position"]
        assert _same(ex["image"], np.stack([ih, iv], -1)[y:y + 32, x:x + 32, 0])
        assert _same(ex["mask"], mask[y:y + 32, x:x + 32, 0])
        assert ex["label"] == raws[0]["class"]
    both = cpazmal.scenario_4_domain_adaptation_satellite(sample)
    assert len(both[split]["key"]) == len(examples)
    assert both[split]["image"].shape == (len(examples), 32, 32, 2)


def test_scenario4_takes_only_the_wanted_satellite(sample, tmp_path):
    path = tmp_path / "PAZTSX_CRYO_ML.hdf5"
    shutil.copy(sample, path)
    with h5py.File(path, "a") as f:
        p = f["data/FOR001/DSC/HH"]
        k = list(p["timestamps"][()]).index(b"20200804")
        p["satellites"][k] = b"TanDEM-X"
    with pytest.warns(cpazmal.CpazmalSkipWarning, match="FOR001.*no PAZ acquisition"):
        examples = list(cpazmal.iter_scenario_examples(path, "source", scenario="scenario4"))
    assert examples and "FOR001" not in {ex["group"] for _, ex in examples}


@pytest.mark.parametrize("scenario", cpazmal.SCENARIOS)
def test_work_units_cover_the_split(sample, later, scenario):
    sample = later if scenario == "scenario4_geometry" else sample  # its dates: 2021
    for split in cpazmal.SCENARIO_SPLITS[scenario]:
        units = cpazmal.list_work_units(sample, split, scenario=scenario)
        assert "STUDY01" not in units
        with cpazmal.CpazmalFile(sample) as f:
            by_unit = [kv for g in units for kv in cpazmal.iter_group_examples(
                f, g, split, scenario=scenario, skip_optim_offset=False)]
        whole = list(cpazmal.iter_scenario_examples(sample, split, scenario=scenario,
                                                    skip_optim_offset=False))
        assert [k for k, _ in by_unit] == [k for k, _ in whole]
        assert len({k for k, _ in whole}) == len(whole) > 0


def test_scenario_params():
    names = [f.name for f in dataclasses.fields(cpazmal.ScenarioParams)]
    assert names == ["scenario", "window_size", "stride", "orbit", "polarisation", "start_date",
                     "end_date", "train_start", "train_end", "predict_start", "predict_end",
                     "target_date", "source_date", "scale_type", "max_mask_value",
                     "max_mask_percentage", "min_valid_percentage", "skip_optim_offset",
                     "source_orbit", "target_orbit", "source_polarization",
                     "target_polarization"]
    d = cpazmal.SCENARIO_DEFAULTS
    assert (d["scenario1"]["orbit"], d["scenario1"]["scale_type"], d["scenario1"]["window_size"],
            d["scenario1"]["max_mask_value"], d["scenario1"]["max_mask_percentage"],
            d["scenario1"]["min_valid_percentage"]) == ("ASC", "amplitude", 32, 1, 10.0, 50.0)
    assert (d["scenario2"]["orbit"], d["scenario2"]["polarisation"], d["scenario2"]["train_start"],
            d["scenario2"]["train_end"], d["scenario2"]["predict_start"],
            d["scenario2"]["predict_end"]) == ("DSC", "HH", "20200101", "20201031", "20201101",
                                               "20201231")
    assert (d["scenario3"]["orbit"], d["scenario3"]["target_date"]) == ("DSC", "20200804")
    assert (d["scenario4"]["source_date"], d["scenario4"]["target_date"]) == ("20200804", "20080805")
    g = d["scenario4_geometry"]  # the later release's function arguments and defaults
    assert (g["source_orbit"], g["target_orbit"], g["source_date"], g["target_date"],
            g["source_polarization"], g["target_polarization"], g["scale_type"]) == \
        ("DSC", "ASC", "20210127", "20210214", "HH", "HH", "intensity")
    with pytest.raises(ValueError):
        cpazmal.resolve_params(scenario="scenario4_geometry", source_polarization="HH+HV")
    for name, values in d.items():
        assert cpazmal.ScenarioParams.for_scenario(name) == cpazmal.ScenarioParams(**values)
    with pytest.raises(TypeError):
        cpazmal.resolve_params(scenario="scenario1", windowsize=16)
    with pytest.raises(ValueError):
        cpazmal.resolve_params(scenario="scenario2", polarisation=("HH", "HV"))

    @dataclasses.dataclass
    class Config:  # what a TFDS BuilderConfig with the same fields looks like
        name: str = "s1_w16"
        scenario: str = "scenario1"
        window_size: int = 16

    assert cpazmal.params_from(Config()) == {"scenario": "scenario1", "window_size": 16}


def test_window_size_variant_changes_the_examples(sample):
    small = list(cpazmal.iter_scenario_examples(sample, scenario="scenario1", window_size=16))
    assert small and all(ex["image"].shape[:2] == (16, 16) for _, ex in small)


# ------------------------------------------------------------------ the later release


def test_later_release_is_read(later):
    with cpazmal.CpazmalFile(later) as f:
        assert f.satellites == [] and "LAC" in f.learning_classes
        d = f.load_data("LAC001", "DSC", ["HH", "HV"])
        assert set(d["satellites"]) == {"PAZ"}  # no satellite data: PAZ from the dates
        s1 = list(cpazmal.iter_scenario_examples(f, scenario="scenario1"))
        assert "LAC" in {ex["label"] for _, ex in s1}
        assert list(cpazmal.iter_scenario_examples(f, "source", scenario="scenario4"))


def test_later_release_file_names(later, tmp_path):
    """The three names, and any single .hdf5; two candidates are an error naming both."""
    for name in ("PAZTSX_CRYO_ML.hdf5", "CPAZMaL.hdf5", "PAZ_CRYO_ML.hdf5", "my_copy.hdf5"):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        shutil.copy(later, folder / name)
        (folder / "notes.txt").write_text("not a candidate")
        assert cpazmal.find_source_file(folder) == folder / name
        with cpazmal.CpazmalFile(folder) as f:
            assert f.path == folder / name and "LAC" in f.learning_classes
    shutil.copy(later, tmp_path / "PAZ_CRYO_ML" / "CPAZMaL.hdf5")
    with pytest.raises(SourceDataError) as err:
        cpazmal.find_source_file(tmp_path / "PAZ_CRYO_ML")
    _expect(err, tmp_path / "PAZ_CRYO_ML", "CPAZMaL.hdf5", "PAZ_CRYO_ML.hdf5")


def test_later_release_has_the_geometry_dates(tmp_path):
    path = cpazmal.write_samples(tmp_path, seed=1, later_release=True, filename="PAZ_CRYO_ML.hdf5")
    assert path == tmp_path / "PAZ_CRYO_ML.hdf5"
    with h5py.File(path, "r") as f:
        for g in f["data"]:
            for orbit, date in (("DSC", b"20210127"), ("ASC", b"20210214")):
                for pol in ("HH", "HV"):
                    assert date in list(f[f"data/{g}/{orbit}/{pol}/timestamps"][()])


def _publisher_windows(image, mask, ws=32, max_mask_value=1, max_bad=10.0, min_valid=50.0):
    """Top-left corners of the windows the publisher keeps from (0, 0) (its
    skip_optim_offset=True): bad% (mask > max_mask_value, -127 not bad) <= max_bad and
    valid% (neither NaN nor -999) >= min_valid, swept row-major with stride ws."""
    kept = []
    for y in range(0, image.shape[0] - ws + 1, ws):
        for x in range(0, image.shape[1] - ws + 1, ws):
            m = mask[y:y + ws, x:x + ws]
            bad = ((m > max_mask_value) & (m != -127)).sum() / (ws * ws) * 100.0
            win = image[y:y + ws, x:x + ws]
            valid = (~(np.isnan(win) | (win == -999.0))).sum() / (ws * ws) * 100.0
            if bad <= max_bad and valid >= min_valid:
                kept.append((y, x))
    return kept


@pytest.mark.parametrize("split,orbit,date", [("source", "DSC", "20210127"),
                                              ("target", "ASC", "20210214")])
def test_scenario4_geometry_examples_match_file(later, split, orbit, date):
    examples = list(cpazmal.iter_scenario_examples(later, split, scenario="scenario4_geometry"))
    assert len(examples) >= 5
    with cpazmal.CpazmalFile(later) as f:
        groups = f.list_groups()
    got = {}
    for key, ex in examples:
        assert set(ex) == {"image", "mask", "label", "group", "position", "satellite", "date"}
        assert ex["date"] == date and ex["satellite"] == "PAZ" and key.startswith(f"{split}/")
        got.setdefault(ex["group"], []).append(ex)
    assert "LAC001" in got
    for group in groups:
        raw = _raw(later, group, orbit, "HH")
        k = raw["timestamps"].index(date)
        image, mask = raw["images"][:, :, k], raw["masks"][:, :, k]
        want = _publisher_windows(image, mask)
        exs = got.get(group, [])
        assert [tuple(int(v) for v in ex["position"]) for ex in exs] == want
        for ex, (y, x) in zip(exs, want):
            assert _same(ex["image"], image[y:y + 32, x:x + 32, None])
            assert _same(ex["mask"], mask[y:y + 32, x:x + 32])
            assert ex["label"] == raw["class"]
    both = cpazmal.scenario_4_domain_adaptation_geometry(later)
    assert both[split]["image"].shape == (len(examples), 32, 32, 1)


def test_absent_selection_is_an_error_not_an_empty_split(sample, later):
    # the old scenario 4's TerraSAR-X date is not in the PAZ-only release
    with pytest.raises(SourceDataError) as err:
        list(cpazmal.iter_scenario_examples(later, "target", scenario="scenario4"))
    _expect(err, later, "scenario4", "'target'", "TerraSAR-X", "20080805", "20200804 ", "(PAZ)")
    # the geometry scenario's 2021 dates are not in the first release
    with pytest.raises(SourceDataError) as err:
        cpazmal.load_scenario(sample, "source", scenario="scenario4_geometry")
    _expect(err, sample, "DSC HH", "20210127", "20201214")
    for params, words in (({"target_orbit": "XYZ"}, ("XYZ", "orbits: ASC, DSC")),
                          ({"source_polarization": "VV"}, ("VV", "polarisations under DSC: HH, HV"))):
        with pytest.raises(SourceDataError) as err:
            cpazmal.check_selection(later, scenario="scenario4_geometry", **params)
        _expect(err, later, *words)
    with pytest.raises(SourceDataError) as err:
        cpazmal.check_selection(sample, scenario="scenario1", start_date="20220101",
                                end_date="20221231")
    _expect(err, sample, "20220101..20221231", "ASC HH+HV")
    cpazmal.check_selection(later, scenario="scenario4_geometry")  # present: no error


def test_hand_written_variant(tmp_path):
    """Attributes as bytes, timestamps as variable-length strings, no index, no
    statistics, no satellite data: still read, statistics computed."""
    path = tmp_path / "CPAZMaL.hdf5"
    rng = np.random.default_rng(0)
    img = rng.gamma(2.0, 0.1, (40, 40, 3)).astype(np.float32)
    img[:, :3] = -999.0
    with h5py.File(path, "w") as f:
        f.create_group("metadata").attrs["classes"] = np.bytes_(b'["ROC", "STUDY"]')
        g = f.create_group("data/ROC007")
        g.attrs["class"] = np.bytes_(b"ROC")
        for pol in ("HH", "HV"):
            p = g.create_group(f"DSC/{pol}")
            p.create_dataset("images", data=img)
            p.create_dataset("masks", data=np.where(img == -999, -127, 0).astype(np.int8))
            p.create_dataset("timestamps", data=["20200101", "20200804", "20201201"],
                             dtype=h5py.string_dtype())
    with cpazmal.CpazmalFile(tmp_path) as f:
        assert f.nodata == -999.0 and f.list_groups() == ["ROC007"]
        d = f.load_data("ROC007", "DSC", "HH", normalize=True)
        valid = img[img != -999].astype(np.float64)
        np.testing.assert_allclose(d["images"][:, 3:], (img[:, 3:] - valid.mean()) / valid.std(),
                                   rtol=1e-5, atol=1e-5)
        ex = list(cpazmal.iter_scenario_examples(f, scenario="scenario3", window_size=16))
        assert ex and ex[0][1]["satellite"] == "PAZ" and ex[0][1]["label"] == "ROC"


# ------------------------------------------------------------------ bad input


def _expect(exc_info, path, *words):
    text = str(exc_info.value)
    assert str(path) in text, text
    for w in words:
        assert w in text, text


def test_missing_group(sample):
    with pytest.raises(SourceDataError) as e:
        cpazmal.load_data(sample, "ABL999", "DSC", "HH")
    _expect(e, sample, "ABL999")


def test_missing_orbit(sample, tmp_path):
    path = tmp_path / "PAZTSX_CRYO_ML.hdf5"
    shutil.copy(sample, path)
    with h5py.File(path, "a") as f:
        del f["data/ACC002/DSC"]
    with pytest.raises(SourceDataError) as e:
        cpazmal.load_data(path, "ACC002", "DSC", "HH")
    _expect(e, path, "ACC002", "DSC")
    # in a scenario the group is reported, not silently dropped, and the others go on
    skipped = []
    with pytest.warns(cpazmal.CpazmalSkipWarning, match="ACC002"):
        examples = list(cpazmal.iter_scenario_examples(
            path, scenario="scenario2", on_skip=lambda g, r: skipped.append((g, r))))
    assert [g for g, _ in skipped] == ["ACC002"] and "DSC" in skipped[0][1]
    assert examples and "ACC002" not in {ex["group"] for _, ex in examples}


def test_missing_polarisation(sample, tmp_path):
    path = tmp_path / "PAZTSX_CRYO_ML.hdf5"
    shutil.copy(sample, path)
    with h5py.File(path, "a") as f:
        del f["data/FOR001/ASC/HV"]
    with pytest.raises(SourceDataError) as e:
        cpazmal.load_data(path, "FOR001", "ASC", ["HH", "HV"])
    _expect(e, path, "FOR001", "HV")


def test_no_date_in_range(sample):
    with pytest.raises(SourceDataError) as e:
        cpazmal.load_data(sample, "PLA003", "ASC", "HH", "20210101", "20211231")
    _expect(e, sample, "PLA003", "20210101")


def test_group_of_unknown_class(sample, tmp_path):
    path = tmp_path / "PAZTSX_CRYO_ML.hdf5"
    shutil.copy(sample, path)
    with h5py.File(path, "a") as f:
        f["data"].copy(f["data/ABL001"], "XYZ001")
        f["data/XYZ001"].attrs["class"] = "XYZ"
    with pytest.raises(SourceDataError) as e:
        cpazmal.list_work_units(path, scenario="scenario1")
    _expect(e, path, "XYZ001", "XYZ")
    with pytest.raises(SourceDataError) as e:
        list(cpazmal.iter_scenario_examples(path, scenario="scenario1"))
    _expect(e, path, "XYZ001")


def test_not_hdf5(tmp_path):
    path = tmp_path / "PAZTSX_CRYO_ML.hdf5"
    path.write_bytes(b"this is not HDF5\n" * 10)
    with pytest.raises(SourceDataError) as e:
        cpazmal.CpazmalFile(path)
    _expect(e, path, "HDF5")
    with pytest.raises(SourceDataError) as e:
        cpazmal.find_source_file(tmp_path / "empty_folder_that_does_not_exist")
    with pytest.raises(SourceDataError):
        cpazmal.load_data(tmp_path / "missing.hdf5", "ABL001")


def test_hdf5_that_is_not_cpazmal(tmp_path):
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    with pytest.raises(SourceDataError) as e:
        cpazmal.CpazmalFile(path)
    _expect(e, path, "metadata")
