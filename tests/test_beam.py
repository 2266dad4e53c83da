"""Beam generation (DirectRunner, 2 worker processes) gives the in-process datasets exactly.

Every dataset is built both ways from the same synthetic sources, with shards small
enough that each split has several work items for the two workers. Then: the same
files, byte for byte (shards, dataset_info.json with split counts, shard lengths, sizes
and band statistics, features.json); every example decoded from both builds equal bit
for bit; and the Beam build verified against its sources, example by example.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

beam = pytest.importorskip("apache_beam")

import tensorflow_datasets as tfds  # noqa: E402

import tfds_builders  # noqa: E402,F401
from conversion import checks  # noqa: E402
from parsers import cloudsen12_hq as cloudsen12, cpazmal, gedi_agbd as gedi, glacier_interp as glacier, s2_cloud_timeseries as s2_cloud  # noqa: E402
from tests.test_cli import _assert_clean_error, run  # noqa: E402
from tfds_builders import core  # noqa: E402
from tfds_builders.s2_cloud_timeseries import s2_cloud_timeseries_dataset_builder as s2_builder  # noqa: E402

BEAM_FLAGS = ["--runner=DirectRunner", "--direct_num_workers=2",
              "--direct_running_mode=multi_processing"]
GLACIER_SCENES = ["l5_scene_01", "l5_scene_12", "l8_scene_02", "s2_scene_11", "l9_scene_07"]

#: spec -> writes the dataset's sample sources under a folder (the manual dir)
SAMPLES = {
    "cloudsen12_hq/l1c": lambda root: cloudsen12.write_samples(root, seed=4),
    "s2_cloud_timeseries": lambda root: s2_cloud.write_samples(root, seed=4),
    "gedi_agbd": lambda root: gedi.write_samples(root, seed=4),
    "glacier_interp/scenes": lambda root: glacier.write_samples(root, seed=4, scenes=GLACIER_SCENES),
    "cpazmal/scenario1": lambda root: cpazmal.write_samples(root, seed=4),
}


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of ~64 KiB (one file per shard for s2_cloud_timeseries): several work
    items per split on these tiny samples. Both builds of a test share the plan."""
    monkeypatch.setattr(core, "choose_num_shards",
                        functools.partial(core.choose_num_shards, target_bytes=64 << 10))
    monkeypatch.setattr(s2_builder, "group_files", functools.partial(s2_builder.group_files, target_bytes=1))


def _in_process_writer(*args, **kwargs):
    raise AssertionError("the in-process writer ran in a Beam build")


def prepare(spec, manual, data_dir, beam_flags=None, file_format=None):
    builder = tfds.builder(spec, data_dir=os.fspath(data_dir), file_format=file_format)
    options = {}
    if beam_flags is not None:
        options["beam_options"] = beam.options.pipeline_options.PipelineOptions(flags=beam_flags)
    with pytest.MonkeyPatch.context() as patch:
        if beam_flags is not None:  # the shards must come from the pipeline's workers
            patch.setattr(core.EoBuilder, "_write_split", _in_process_writer)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual), **options),
            file_format=file_format)
    return builder


def files_of(builder) -> dict[str, bytes]:
    root = Path(builder.data_dir)
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def assert_same_examples(a, b):
    """Every example of every split, in order, equal bit for bit (all features)."""
    assert list(a.info.splits.keys()) == list(b.info.splits.keys())
    for split, info in a.info.splits.items():
        assert b.info.splits[split].shard_lengths == info.shard_lengths
        count = 0
        for path_a, path_b in zip(checks._shard_paths(a, split), checks._shard_paths(b, split)):
            for ex_a, ex_b in zip(checks._decoded_shard(a, path_a), checks._decoded_shard(b, path_b),
                                  strict=True):
                assert ex_a.keys() == ex_b.keys()
                for name in ex_a:
                    assert checks._same(ex_a[name], ex_b[name]), (split, count, name)
                count += 1
        assert count == info.num_examples


@pytest.mark.parametrize("spec", list(SAMPLES))
def test_beam_build_equals_in_process_build(spec, tmp_path, small_shards):
    manual = tmp_path / "manual"
    SAMPLES[spec](manual)
    local = prepare(spec, manual, tmp_path / "local")
    beamed = prepare(spec, manual, tmp_path / "beam", BEAM_FLAGS)

    assert max(len(s.shard_lengths) for s in local.info.splits.values()) >= 2  # work to share
    assert files_of(beamed) == files_of(local)  # shards, dataset_info.json, features.json
    assert not list(Path(beamed.data_dir).glob("*.json.tmp"))
    # what a user gets from tfds: fresh builders read the prepared folders
    reread_local = tfds.builder(spec, data_dir=os.fspath(tmp_path / "local"))
    reread_beam = tfds.builder(spec, data_dir=os.fspath(tmp_path / "beam"))
    assert reread_beam.info.metadata == reread_local.info.metadata
    assert reread_beam.info.metadata["source_files"]  # recorded by the Beam driver too
    assert all(v for k, v in reread_beam.info.metadata.items() if k.endswith("_stats"))
    assert {k: (v.num_examples, v.num_bytes) for k, v in reread_beam.info.splits.items()} == \
        {k: (v.num_examples, v.num_bytes) for k, v in reread_local.info.splits.items()}
    assert_same_examples(reread_local, reread_beam)
    assert checks.verify(reread_beam, manual_dir=os.fspath(manual)) is None


def test_array_record_beam_build_equals_in_process_build(tmp_path, small_shards):
    manual = tmp_path / "manual"
    cloudsen12.write_samples(manual, seed=6)
    local = prepare("cloudsen12_hq/s1", manual, tmp_path / "local", file_format="array_record")
    beamed = prepare("cloudsen12_hq/s1", manual, tmp_path / "beam", BEAM_FLAGS, file_format="array_record")
    assert any(".array_record-" in name for name in files_of(local))
    assert files_of(beamed) == files_of(local)
    source = tfds.data_source("cloudsen12_hq/s1", split="train", data_dir=os.fspath(tmp_path / "beam"))
    for i in (3, 0, 2):
        assert source[i]["id"] == f"train/{i}".encode()


# ------------------------------------------------------------------ command lines

@pytest.fixture(scope="module")
def cloudsen12_manual(tmp_path_factory):
    root = tmp_path_factory.mktemp("beam_cs")
    cloudsen12.write_samples(root, seed=5)
    local = prepare("cloudsen12_hq/l1c", root, root.parent / (root.name + "_local"))
    return root, local


@pytest.mark.parametrize("beam_options", [
    None, "runner=DirectRunner,direct_num_workers=2,direct_running_mode=multi_processing"])
def test_tfds_build_command(cloudsen12_manual, tmp_path, beam_options):
    """SPEC: `tfds build cloudsen12_hq --imports tfds_builders ...` (which imports
    apache_beam and mlcroissant at start), without and with Beam options: the same dataset."""
    manual, local = cloudsen12_manual
    tfds_cli = Path(sys.executable).with_name("tfds")
    command = [str(tfds_cli)] if tfds_cli.exists() else [sys.executable, "-m", "tensorflow_datasets.scripts.cli.main"]
    env = dict(os.environ, EO_TFDS_PROGRESS="0", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    data = tmp_path / "data"
    r = subprocess.run(command + [
        "build", "cloudsen12_hq", "--imports", "tfds_builders", "--manual_dir", str(manual),
        "--data_dir", str(data)] + (["--beam_pipeline_options", beam_options] if beam_options else []),
        capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    # the runner's own log lines show whether a pipeline ran
    assert ("apache_beam.runners" in r.stderr) == bool(beam_options)
    built = tfds.builder("cloudsen12_hq/l1c", data_dir=os.fspath(data))
    assert files_of(built) == files_of(local)


def test_eo_tfds_build_beam(cloudsen12_manual, tmp_path):
    manual, local = cloudsen12_manual
    data = tmp_path / "data"
    r = run("build", "cloudsen12_hq/l1c", "--manual-dir", manual, "--data-dir", data, "--beam")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "train" in r.stdout and "4 examples" in r.stdout
    assert "generated by an Apache Beam pipeline, DirectRunner" in r.stdout
    assert files_of(tfds.builder("cloudsen12_hq/l1c", data_dir=os.fspath(data))) == files_of(local)


def test_bad_record_in_a_worker_is_one_clean_error(tmp_path):
    """A record failing its CRC is found by the worker that reads the file: the command
    still prints one `error:` line naming file and record, exits 2, keeps nothing."""
    manual = s2_cloud.write_samples(tmp_path / "manual")
    shard = next(manual.glob("train_T31TCJ_*.tfrecord"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    out = tmp_path / "data"
    r = run("build", "s2_cloud_timeseries", "--manual-dir", manual, "--data-dir", out,
            "--beam-options", "direct_num_workers=2")
    _assert_clean_error(r, shard.name, "record", "CRC")
    dataset_dir = out / "s2_cloud_timeseries"
    assert not list(dataset_dir.rglob("*.tfrecord*")) and not list(dataset_dir.rglob("incomplete.*"))
    # no dataset_info / metadata left; TFDS's note of the default config (.config/) is not one
    assert not [p for p in dataset_dir.rglob("*.json") if p.parent.name != ".config"]


def test_eo_tfds_build_does_not_import_beam(tmp_path):
    """SPEC: `eo-tfds build` works without the beam extra: it never imports apache_beam."""
    manual = tmp_path / "manual"
    cloudsen12.write_samples(manual, seed=1)
    code = ("import sys; from conversion import cli; "
            f"rc = cli.main(['build', 'cloudsen12_hq/s1', '--manual-dir', {str(manual)!r}, "
            f"'--data-dir', {str(tmp_path / 'data')!r}]); "
            "print('BEAM' if 'apache_beam' in sys.modules else 'NO_BEAM'); sys.exit(rc)")
    env = dict(os.environ, EO_TFDS_PROGRESS="0")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("NO_BEAM")


def test_beam_options_flags():
    from conversion.commands import beam_flags

    assert beam_flags()[0] == "--runner=DirectRunner" and "--direct_running_mode=multi_processing" in beam_flags()
    flags = beam_flags("runner=DataflowRunner, project=p,region=europe-west4")
    assert flags[-3:] == ["--runner=DataflowRunner", "--project=p", "--region=europe-west4"]
    options = beam.options.pipeline_options.PipelineOptions(flags=flags).get_all_options()
    assert options["runner"] == "DataflowRunner" and options["project"] == "p"  # the user's flags win
