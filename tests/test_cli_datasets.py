"""The command line on the other datasets: synth all, extract, fuse-hdf5, inspect --png, errors."""

from __future__ import annotations

import hashlib
import shutil

import h5py
import numpy as np
import pytest

from tests.test_cli import _assert_clean_error, run


@pytest.fixture(scope="module")
def synth_all(tmp_path_factory):
    out = tmp_path_factory.mktemp("all_src")
    r = run("synth", "all", "--output", out, "--seed", 2)
    assert r.returncode == 0, r.stderr
    return out


def test_synth_all_writes_every_dataset(synth_all):
    names = sorted(p.name for p in synth_all.iterdir())
    assert names == ["cloudsen12_hq", "cpazmal", "gedi_agbd", "glacier_interp", "s2_cloud_timeseries"]
    assert list((synth_all / "s2_cloud_timeseries").rglob("*.7z"))
    assert (synth_all / "cpazmal" / "PAZTSX_CRYO_ML.hdf5").is_file()
    assert len(list((synth_all / "glacier_interp" / "scene").glob("*.tif"))) == 65


def test_extract_then_skip_then_md5_mismatch(synth_all, tmp_path):
    archive = sorted((synth_all / "s2_cloud_timeseries").rglob("*.7z"))[0]
    out = tmp_path / "out"
    r = run("extract", "--input", archive, "--output", out)
    assert r.returncode == 0, r.stderr
    files = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert files and all(p.stat().st_size > 0 for p in files)
    before = {p: p.stat().st_mtime_ns for p in files}
    r = run("extract", "--input", archive, "--output", out)  # already fully extracted: skipped
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in files} == before
    good = hashlib.md5(archive.read_bytes()).hexdigest()
    bad = ("0" if good[0] != "0" else "1") + good[1:]
    other = tmp_path / "other"
    r = run("extract", "--input", archive, "--output", other, "--md5", bad)
    _assert_clean_error(r, archive.name, "md5")
    assert not other.exists() or not [p for p in other.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_extract_truncated_archive(synth_all, tmp_path):
    archive = sorted((synth_all / "s2_cloud_timeseries").rglob("*.7z"))[0]
    cut = tmp_path / archive.name
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    r = run("extract", "--input", cut, "--output", tmp_path / "out")
    _assert_clean_error(r, archive.name)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_fuse_hdf5_refuses_to_mix_splits_per_split_equals_concatenation(synth_all, tmp_path):
    src = tmp_path / "batches"
    shutil.copytree(synth_all / "gedi_agbd", src)
    out = tmp_path / "fused.h5"
    r = run("fuse-hdf5", "--input", src, "--output", out)  # train_* and test_* files
    _assert_clean_error(r, "train_batch_0.h5", "test_batch_0.h5")
    assert not out.exists() and not list(tmp_path.glob(".fused*"))
    out_dir = tmp_path / "per_split"
    r = run("fuse-hdf5", "--input", src, "--output", out_dir, "--per-split")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["test_fused.h5", "train_fused.h5"]
    for split in ("train", "test"):
        files = sorted(src.glob(f"{split}*.h5"))
        with h5py.File(out_dir / f"{split}_fused.h5") as fused:
            for name, ds in fused["data"].items():
                parts = []
                for f in files:
                    with h5py.File(f) as h:
                        parts.append(h["data"][name][()])
                want = np.concatenate(parts)
                assert ds.dtype == parts[0].dtype and ds.shape == want.shape
                assert ds[()].tobytes() == want.tobytes() if want.dtype.kind != "O" else list(ds[()].ravel()) == list(want.ravel())
    for f in src.glob("test*.h5"):
        f.unlink()
    files = sorted(src.glob("*.h5"))
    with h5py.File(files[-1], "a") as h:  # another dtype in one file: schemas disagree
        data = h["data"]["AGBD Values"][()]
        del h["data"]["AGBD Values"]
        h["data"].create_dataset("AGBD Values", data=data.astype(np.float64))
    out2 = tmp_path / "fused2.h5"
    r = run("fuse-hdf5", "--input", src, "--output", out2)
    _assert_clean_error(r, files[-1].name, "AGBD Values")
    assert not out2.exists() and not list(tmp_path.glob(".fused2*"))


def test_inspect_glacier_png(synth_all, tmp_path):
    data = tmp_path / "data"
    r = run("build", "glacier_interp", "--manual-dir", synth_all / "glacier_interp", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    png = tmp_path / "glacier.png"
    r = run("inspect", "glacier_interp", "--data-dir", data, "--png", png)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    r = run("verify", "glacier_interp", "--data-dir", data, "--manual-dir", synth_all / "glacier_interp")
    assert r.returncode == 0, r.stderr


def test_build_errors_name_the_file(synth_all, tmp_path):
    manual = tmp_path / "gedi"
    shutil.copytree(synth_all / "gedi_agbd", manual)
    with h5py.File(manual / "train_batch_1.h5", "a") as h:
        del h["data"]["CRS"]
    r = run("build", "gedi_agbd", "--manual-dir", manual, "--data-dir", tmp_path / "d")
    _assert_clean_error(r, "train_batch_1.h5", "CRS")
    assert not list((tmp_path / "d").rglob("*.tfrecord*"))
