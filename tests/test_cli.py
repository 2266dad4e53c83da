"""The command line as a user runs it: a subprocess, exit codes, stderr lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    env = dict(os.environ, EO_TFDS_PROGRESS="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "conversion", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=600)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_src")
    r = run("synth", "cloudsen12_hq", "--output", out, "--seed", 5)
    assert r.returncode == 0, r.stderr
    return out / "cloudsen12_hq"


@pytest.fixture(scope="module")
def built(synth, tmp_path_factory):
    data = tmp_path_factory.mktemp("cli_data")
    r = run("build", "cloudsen12_hq/l1c", "--manual-dir", synth, "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert "train" in r.stdout and "4 examples" in r.stdout and "validation" in r.stdout
    return data


def version_dir(data, config):
    """The prepared version folder of ``cloudsen12_hq/<config>`` (whatever the VERSION)."""
    (folder,) = [p for p in (data / "cloudsen12_hq" / config).iterdir()
                 if p.is_dir() and not p.name.startswith("incomplete")]
    return folder


def test_synth_writes_the_layout(synth):
    assert (synth / "train" / "L1C_B1.dat").is_file() and (synth / "val" / "manual_hq.dat").is_file()
    assert (synth / "test" / "S1_VV.dat").stat().st_size % (512 * 512 * 4) == 0


def test_verify_ok_then_flipped_byte_fails(built, synth, tmp_path):
    r = run("verify", "cloudsen12_hq/l1c", "--data-dir", built, "--manual-dir", synth)
    assert r.returncode == 0, r.stderr
    assert "bit for bit" in r.stdout
    copy = tmp_path / "data"
    shutil.copytree(built, copy)
    shard = next(version_dir(copy, "l1c").glob("*-train.tfrecord-*"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    r = run("verify", "cloudsen12_hq/l1c", "--data-dir", copy)
    assert r.returncode == 1
    # four records of equal size: the middle byte lies in record 2
    assert shard.name in r.stderr and "record 2" in r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr


def changed_source(synth, out, layer: str, offset: int):
    """A copy of the CloudSEN12 sources in ``out`` with one int16 value of ``layer``
    (e.g. ``"test/L1C_B3.dat"``) at ``offset`` changed by one."""
    shutil.copytree(synth, out)
    values = np.fromfile(out / layer, np.int16)
    values[offset] += 1
    values.tofile(out / layer)
    return out


def test_verify_detects_a_changed_source(built, synth, tmp_path):
    manual = changed_source(synth, tmp_path / "manual", "test/L1C_B3.dat", 512 * 512 + 700)  # patch 1
    r = run("verify", "cloudsen12_hq/l1c", "--data-dir", built, "--manual-dir", manual)
    assert r.returncode == 1
    # the source files recorded at build time are compared first (tests/test_sources.py)
    line = r.stderr.strip()
    assert line.startswith(f"mismatch: source file {manual / 'test' / 'L1C_B3.dat'} changed since the build (crc32c ")
    assert line.endswith(", same size)") and "\n" not in line
    # only the layers of the config and the labels are recorded, not l2a, s1 or extra layers
    meta = json.loads((version_dir(built, "l1c") / "metadata.json").read_text())
    assert sorted(meta["source_files"]) == sorted(
        p.relative_to(synth).as_posix() for p in synth.rglob("*.dat")
        if p.name.startswith("L1C_") or p.name in ("manual_hq.dat", "LABEL_manual_hq.dat"))


def test_inspect_prints_stats_and_writes_png(built, tmp_path):
    png = tmp_path / "preview.png"
    r = run("inspect", "cloudsen12_hq/l1c", "--data-dir", built, "--png", png)
    assert r.returncode == 0, r.stderr
    assert "band statistics" in r.stdout and "B8A" in r.stdout and "valid_box" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _assert_clean_error(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.mark.parametrize("damage,words", [
    ("truncate", ["L1C_B05.dat", "not a whole number"]),
    ("short_layer", ["L1C_B6.dat", "holds"]),
    ("missing", ["L1C_B9", "missing"]),
])
def test_bad_source_exit_2_nothing_left_then_fixed(synth, tmp_path, damage, words):
    manual = tmp_path / "manual"
    shutil.copytree(synth, manual)
    data = tmp_path / "data"
    if damage == "truncate":
        with open(manual / "val" / "L1C_B05.dat", "r+b") as f:
            f.truncate(512 * 512 * 2 + 10)
    elif damage == "short_layer":
        path = manual / "train" / "L1C_B6.dat"
        np.fromfile(path, np.int16)[: 512 * 512 * 2].tofile(path)
    else:
        os.remove(manual / "test" / "L1C_B9.dat")
    r = run("build", "cloudsen12_hq/l1c", "--manual-dir", manual, "--data-dir", data)
    _assert_clean_error(r, *words)
    assert not list(data.rglob("*.tfrecord*")) and not list(data.rglob("incomplete.*"))
    # the user fixes the input; the next build succeeds
    shutil.rmtree(manual)
    shutil.copytree(synth, manual)
    r = run("build", "cloudsen12_hq/l1c", "--manual-dir", manual, "--data-dir", data)
    assert r.returncode == 0, r.stderr


def test_empty_manual_dir_and_unknown_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run("build", "cloudsen12_hq", "--manual-dir", tmp_path / "empty", "--data-dir", tmp_path / "d")
    _assert_clean_error(r, "empty")
    r = run("build", "no_such_set", "--manual-dir", tmp_path / "empty", "--data-dir", tmp_path / "d")
    _assert_clean_error(r, "unknown dataset")
    r = run("verify", "cloudsen12_hq", "--data-dir", tmp_path / "nothing")
    _assert_clean_error(r, "not prepared")


def test_stale_incomplete_folder_is_cleared(synth, tmp_path):
    data = tmp_path / "data"
    from tfds_builders import Cloudsen12Hq

    stale = data / "cloudsen12_hq" / "s1" / f"incomplete.ABC123_{Cloudsen12Hq.VERSION}"
    stale.mkdir(parents=True)
    (stale / "cloudsen12_hq-train.tfrecord-00000-of-00001").write_bytes(b"half")
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", synth, "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()


def test_overwrite_rebuilds_a_prepared_dataset(synth, tmp_path):
    data = tmp_path / "data"
    assert run("build", "cloudsen12_hq/s1", "--manual-dir", synth, "--data-dir", data).returncode == 0
    shard = next(version_dir(data, "s1").glob("*-train.tfrecord-*"))
    shard.write_bytes(b"stale")
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", synth, "--data-dir", data)
    assert r.returncode == 0 and shard.read_bytes() == b"stale"  # prepared: reused as is
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", synth, "--data-dir", data, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert shard.stat().st_size > 1000
    r = run("verify", "cloudsen12_hq/s1", "--data-dir", data, "--manual-dir", synth)
    assert r.returncode == 0, r.stderr


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("eo-tfds")
    if not exe.exists():
        pytest.skip("project not installed in this interpreter's environment (make test installs it)")
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "synth" in r.stdout and "fuse-hdf5" in r.stdout


def test_output_into_a_closed_pipe_is_not_an_internal_error(tmp_path):
    """`eo-tfds ... | head`: the reader leaves before the command prints; the command
    stops quietly (status 141, as after SIGPIPE), with no "internal error" and no
    traceback, and the work it did is complete."""
    env = dict(os.environ, EO_TFDS_PROGRESS="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    script = (f'"{sys.executable}" -m conversion synth gedi_agbd --output "{tmp_path}" | true; '
              'echo "status=${PIPESTATUS[0]}" >&2')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert "status=141" in r.stderr, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert list((tmp_path / "gedi_agbd").rglob("*.h5")), "the samples were written before the print"
