"""Faults of the user's files and machine, and builds that meet each other, as a user
meets them: real subprocesses, real files written by the sample writers, real mounts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from tests.test_cli import ROOT, _assert_clean_error, run

SRC_ENV = dict(os.environ, EO_TFDS_PROGRESS="0",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start(*args, prefix=()):
    """``eo-tfds ARGS`` started in the background (after ``prefix``, e.g. setpriv)."""
    return subprocess.Popen([*prefix, sys.executable, "-m", "conversion", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=SRC_ENV)


def cli(*args):
    """``eo-tfds ARGS`` in this process (no TensorFlow start-up per call): the
    CompletedProcess a subprocess would give."""
    import contextlib
    import io

    from conversion.cli import main

    out, err = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([str(a) for a in args])
    finally:
        signal.signal(signal.SIGTERM, handler)
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def wait_for(predicate, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def examples(data, spec="cloudsen12_hq/s1", split="train"):
    """The examples of a prepared split, as numpy."""
    return list(tfds.as_numpy(tfds.load(spec, split=split, data_dir=str(data))))


def same(a, b):
    return len(a) == len(b) and all(
        x["id"] == y["id"] and np.array_equal(x["image"], y["image"]) and np.array_equal(x["label"], y["label"])
        for x, y in zip(a, b))


def temporaries(data):
    return [p for p in Path(data).rglob("*") if p.name.startswith(("incomplete.", "rebuild.", "replaced."))]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("fault_src")
    for name in ("cloudsen12_hq", "s2_cloud_timeseries", "cpazmal"):
        assert run("synth", name, "--output", out, "--seed", 3).returncode == 0
    return out


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory):
    """cloudsen12_hq/s1 prepared once, with its train examples."""
    data = tmp_path_factory.mktemp("fault_data")
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", sources / "cloudsen12_hq", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    return data, examples(data)


def copy_prepared(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared[0], data)
    return data


# ------------------------------------------------------------------ overwrite

def test_failed_overwrite_keeps_the_old_dataset(sources, prepared, tmp_path):
    data = copy_prepared(prepared, tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(sources / "cloudsen12_hq", broken)
    with open(broken / "test" / "S1_VV.dat", "r+b") as f:  # test is written last: train is done
        f.truncate(512 * 512 * 4 + 8)
    r = cli("build", "cloudsen12_hq/s1", "--manual-dir", broken, "--data-dir", data, "--overwrite")
    _assert_clean_error(r, "S1_VV.dat", "not a whole number")
    assert same(examples(data), prepared[1]) and not temporaries(data)


def test_killed_overwrite_keeps_the_old_dataset_then_overwrite_gives_new_data(sources, prepared, tmp_path):
    data = copy_prepared(prepared, tmp_path)
    changed = tmp_path / "changed"
    shutil.copytree(sources / "cloudsen12_hq", changed)
    vv = np.fromfile(changed / "train" / "S1_VV.dat", np.float32)
    (vv + 1).tofile(changed / "train" / "S1_VV.dat")
    config_dir = data / "cloudsen12_hq" / "s1"
    p = start("build", "cloudsen12_hq/s1", "--manual-dir", changed, "--data-dir", data, "--overwrite")
    wait_for(lambda: any(config_dir.glob("incomplete.*")) or p.poll() is not None)
    p.kill()
    p.wait()
    assert p.returncode == -signal.SIGKILL, p.stderr.read()
    assert same(examples(data), prepared[1])  # the killed rebuild's folders are still there
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", changed, "--data-dir", data, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert not temporaries(data)
    new = examples(data)
    assert not same(new, prepared[1])
    order = {e["id"]: e for e in prepared[1]}
    for e in new:  # exactly the changed source: VV + 1, the rest as before
        old = order[e["id"]]
        assert np.array_equal(e["image"][..., 0], old["image"][..., 0] + 1)
        assert np.array_equal(e["image"][..., 1:], old["image"][..., 1:])


# ------------------------------------------------------------ concurrent builds

@pytest.mark.parametrize("spec", ["cloudsen12_hq/s1", "s2_cloud_timeseries"])
def test_two_builds_at_once(sources, tmp_path, spec):
    name = spec.split("/")[0]
    data = tmp_path / "data"
    first = start("build", spec, "--manual-dir", sources / name, "--data-dir", data)
    wait_for(lambda: any(data.rglob("incomplete.*")) or first.poll() is not None)
    first.send_signal(signal.SIGSTOP)  # a slow build, mid-write: the second must meet it
    second = start("build", spec, "--manual-dir", sources / name, "--data-dir", data)
    waiting = second.stderr.readline()
    first.send_signal(signal.SIGCONT)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert f"waiting for the build running in process {first.pid}" in waiting, (waiting, err2)
    assert "train" in out2 and "examples" in out2  # the second reports what the first built
    assert not temporaries(data)
    builder = tfds.builder(spec, data_dir=str(data))
    for split, info in builder.info.splits.items():
        assert len(list(builder.as_dataset(split=split))) == info.num_examples > 0


def test_sigterm_of_a_build_then_next_build_cleans(sources, tmp_path):
    data = tmp_path / "data"
    manual = sources / "cloudsen12_hq"
    config_dir = data / "cloudsen12_hq" / "s1"
    # the command line: SIGTERM is a clean exit, its temporary folder removed
    p = start("build", "cloudsen12_hq/s1", "--manual-dir", manual, "--data-dir", data)
    wait_for(lambda: any(config_dir.glob("incomplete.*")))
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert [line for line in err.splitlines() if line.strip()] == [
        "error: terminated (SIGTERM); nothing half-written was kept, run the command again"]
    assert not temporaries(data)
    # a user's own tfds.load, killed by SIGTERM (no handler: it dies at once)
    script = ("import sys, tensorflow_datasets as tfds, tfds_builders\n"
              "tfds.load('cloudsen12_hq/s1', split='train', data_dir=sys.argv[1], "
              "download_and_prepare_kwargs={'download_config': "
              "tfds.download.DownloadConfig(manual_dir=sys.argv[2])})\n")
    p = subprocess.Popen([sys.executable, "-c", script, str(data), str(manual)], env=SRC_ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: any(config_dir.glob("incomplete.*/*.tfrecord*")))
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == -signal.SIGTERM
    assert temporaries(data)
    r = run("build", "cloudsen12_hq/s1", "--manual-dir", manual, "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert not temporaries(data)


def test_ctrl_c_during_start_up(tmp_path):
    p = start("synth", "cloudsen12_hq", "--output", tmp_path)
    # TensorFlow's library is mapped: the import (seconds long) is under way
    wait_for(lambda: "libtensorflow" in Path(f"/proc/{p.pid}/maps").read_text() or p.poll() is not None)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()] == [
        "error: interrupted; nothing half-written was kept, run the command again"]


# ------------------------------------------------------------ the user's machine

def _mount(*args):
    return subprocess.run(["mount", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs (needs root and mount permission, as CI has)."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    r = _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", where)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): needs root with mount permission")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full(sources, tmpfs):
    data = tmpfs / "data"
    r = cli("build", "cloudsen12_hq/s1", "--manual-dir", sources / "cloudsen12_hq", "--data-dir", data)
    _assert_clean_error(r, str(data), "no space left on the device")
    assert not temporaries(data) and not list(data.rglob("*.tfrecord*"))
    r = cli("synth", "cloudsen12_hq", "--output", tmpfs / "synth")
    _assert_clean_error(r, str(tmpfs / "synth"), "no space left on the device")


def test_read_only_data_dir(sources, tmpfs):
    assert _mount("-o", "remount,ro", tmpfs).returncode == 0
    r = cli("build", "cloudsen12_hq/s1", "--manual-dir", sources / "cloudsen12_hq", "--data-dir", tmpfs / "d")
    _assert_clean_error(r, str(tmpfs / "d"), "read-only file system")


def _without_root_overrides():
    """A prefix that runs a command as root without its power to ignore file modes."""
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"eo_tfds_probe_{os.getpid()}"
    probe.write_text("x")
    probe.chmod(0)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        r = subprocess.run([*prefix, "cat", str(probe)], capture_output=True)
    except FileNotFoundError:
        pytest.skip("setpriv (util-linux) is not installed")
    finally:
        probe.unlink()
    if r.returncode == 0 or b"Permission denied" not in r.stderr:
        pytest.skip("cannot drop the capabilities that let root read a mode-000 file")
    return prefix


@pytest.mark.parametrize("dataset,target", [
    ("cloudsen12_hq", "val/S1_VV.dat"),
    ("cloudsen12_hq", "val"),
    ("s2_cloud_timeseries", "train_T31TCJ_3.tfrecord"),
    ("s2_cloud_timeseries", "s2cloud_train_01.7z"),
])
def test_permission_denied(sources, tmp_path, dataset, target):
    prefix = _without_root_overrides()
    manual = tmp_path / "manual"
    shutil.copytree(sources / dataset, manual)
    (manual / target).chmod(0)
    data = tmp_path / "data"
    p = start("build", "cloudsen12_hq/s1" if dataset == "cloudsen12_hq" else dataset,
              "--manual-dir", manual, "--data-dir", data, prefix=prefix)
    out, err = p.communicate(timeout=600)
    (manual / target).chmod(0o755)
    _assert_clean_error(subprocess.CompletedProcess(p.args, p.returncode, out, err),
                        str(manual / target), "permission denied")
    assert "corrupt" not in err and "download" not in err
    assert not temporaries(data) and not list(data.rglob("*.tfrecord*"))


def test_a_file_where_a_folder_is_expected(sources, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    r = cli("build", "cloudsen12_hq/s1", "--manual-dir", sources / "cloudsen12_hq", "--data-dir", a_file)
    _assert_clean_error(r, str(a_file), "is a file, a folder was expected")
    r = cli("build", "cloudsen12_hq/s1", "--manual-dir", a_file, "--data-dir", tmp_path / "d")
    _assert_clean_error(r, str(a_file), "is a file, a folder was expected")
    r = cli("synth", "cloudsen12_hq", "--output", a_file)
    _assert_clean_error(r, str(a_file), "is a file, a folder was expected")
    r = cli("fuse-hdf5", "--input", sources / "cpazmal", "--output", tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_damaged_hdf5_object_header(sources, tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(sources / "cpazmal", manual)
    path = next(manual.glob("*.hdf5"))
    with h5py.File(path, "r") as f:
        group = sorted(f["data"])[0]
        address = h5py.h5o.get_info(f["data"][group][sorted(f["data"][group])[0]].id).addr
    with open(path, "r+b") as f:  # the object header of the group's first orbit
        f.seek(address)
        f.write(b"\xff" * 16)
    data = tmp_path / "data"
    r = cli("build", "cpazmal", "--manual-dir", manual, "--data-dir", data)
    _assert_clean_error(r, str(path), "HDF5 object cannot be read", "damaged")
    assert not temporaries(data)


# ------------------------------------------------------------ bugs and messages

def test_a_bug_is_not_bad_input():
    from conversion.cli import classify

    try:
        {}["missing"]
    except KeyError as e:
        status, message = classify(e)
    assert status == 1 and message.startswith("internal error (KeyError") and "--debug" in message
    assert classify(ValueError("anything"))[0] == 1
    # an OSError of the machine that TFDS re-raised with context (no errno on the outside)
    try:
        try:
            raise PermissionError(13, "Permission denied", "/some/file")
        except PermissionError as inner:
            raise OSError("Failed to prepare: Permission denied") from inner
    except OSError as wrapped:
        assert classify(wrapped) == (2, "/some/file: permission denied; give this user access "
                                        "to it, or choose another path")


def test_unknown_config_lists_all(tmp_path):
    r = cli("build", "cpazmal/nope", "--manual-dir", tmp_path, "--data-dir", tmp_path / "d")
    configs = [c.name for c in tfds.builder_cls("cpazmal").BUILDER_CONFIGS]
    _assert_clean_error(r, "unknown config 'nope'", "valid: " + ", ".join(configs))
    r = cli("build", "gedi_agbd/nope", "--manual-dir", tmp_path, "--data-dir", tmp_path / "d")
    _assert_clean_error(r, "gedi_agbd has no configs")
    r = cli("verify", "nope", "--data-dir", tmp_path)
    _assert_clean_error(r, "unknown dataset 'nope'", "cloudsen12_hq", "glacier_interp")
