"""ArrayRecord builds: random access through tfds.data_source gives the TFRecord build's
examples; the pipelines, `verify` and the README's random-access loader read them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from conversion import checks
from parsers import cloudsen12_hq as cloudsen12, s2_cloud_timeseries as s2_cloud
from tests.test_cli import changed_source, run, version_dir
from tfds_builders import pipelines

README = Path(__file__).resolve().parents[1] / "README.md"
SPECS = {"cloudsen12_hq/l1c": "cloudsen12_hq", "s2_cloud_timeseries": "s2_cloud_timeseries"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Each dataset from the same sources: TFRecord (tfds.load) and ArrayRecord."""
    root = tmp_path_factory.mktemp("array_record")
    cloudsen12.write_samples(root / "manual" / "cloudsen12_hq", seed=8)
    s2_cloud.write_samples(root / "manual" / "s2_cloud_timeseries", seed=8)
    for spec, folder in SPECS.items():
        for fmt in ("tfrecord", "array_record"):
            builder = tfds.builder(spec, data_dir=os.fspath(root / fmt), file_format=fmt)
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(root / "manual" / folder)),
                file_format=fmt)
    return root


def in_order(spec, data_dir, split):
    """The TFRecord build's examples of a split, in order (shard by shard)."""
    builder = tfds.builder(spec, data_dir=os.fspath(data_dir))
    return [ex for _, _, ex in checks._split_records(builder, split)]


@pytest.mark.parametrize("spec", list(SPECS))
def test_random_indices_give_the_tfrecord_examples(builds, spec):
    builder = tfds.builder(spec, data_dir=os.fspath(builds / "array_record"))
    assert builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    assert list(Path(builder.data_dir).glob("*.array_record-*"))
    for split in builder.info.splits.keys():
        expected = in_order(spec, builds / "tfrecord", split)
        source = tfds.data_source(spec, split=split, data_dir=os.fspath(builds / "array_record"))
        assert len(source) == len(expected) == builder.info.splits[split].num_examples
        rng = np.random.default_rng(0)
        indices = list(rng.permutation(len(source))) + list(rng.integers(0, len(source), 5))
        for i in indices:
            got = source[int(i)]
            assert got.keys() == expected[i].keys()
            for name in got:
                assert checks._same(got[name], expected[i][name]), (split, i, name)
    # the statistics do not depend on the file format
    tf_info = tfds.builder(spec, data_dir=os.fspath(builds / "tfrecord")).info
    assert builder.info.metadata["band_stats"] == tf_info.metadata["band_stats"]


def test_pipeline_reads_array_record(builds):
    for mode in ("center", "grid"):
        kwargs = dict(mode=mode, normalize=True, shuffle=False, batch_size=3)
        got = list(pipelines.cloudsen12_hq("train", data_dir=os.fspath(builds / "array_record"), **kwargs))
        want = list(pipelines.cloudsen12_hq("train", data_dir=os.fspath(builds / "tfrecord"), **kwargs))
        assert len(got) == len(want) > 0
        for a, b in zip(got, want):
            for x, y in zip(a, b):
                assert x.dtype == y.dtype and np.array_equal(x.numpy(), y.numpy())
    series = list(pipelines.s2_cloud_timeseries("validation", data_dir=os.fspath(builds / "array_record"),
                                                shuffle=False, batch_size=2))
    plain = list(pipelines.s2_cloud_timeseries("validation", data_dir=os.fspath(builds / "tfrecord"),
                                               shuffle=False, batch_size=2))
    assert len(series) == len(plain) > 0
    for a, b in zip(series, plain):
        for x, y in zip(a, b):
            assert np.array_equal(x.numpy(), y.numpy())


def test_cli_build_and_verify_array_record(builds, tmp_path):
    manual = builds / "manual" / "cloudsen12_hq"
    data = tmp_path / "data"
    r = run("build", "cloudsen12_hq/l2a", "--manual-dir", manual, "--data-dir", data,
            "--file-format", "array_record")
    assert r.returncode == 0, r.stderr
    assert list(version_dir(data, "l2a").glob("*-train.array_record-*"))
    r = run("verify", "cloudsen12_hq/l2a", "--data-dir", data, "--manual-dir", manual)
    assert r.returncode == 0, r.stderr
    assert "bit for bit" in r.stdout
    # a changed source file is named first (tests/test_sources.py) ...
    layer = next((manual / "val").glob("L2A_B0*3.dat")).name
    changed = changed_source(manual, tmp_path / "manual", f"val/{layer}", 512 * 512 + 1000)  # patch 1
    r = run("verify", "cloudsen12_hq/l2a", "--data-dir", data, "--manual-dir", changed)
    assert r.returncode == 1
    assert f"source file {changed / 'val' / layer} changed since the build" in r.stderr
    # ... and without the record of the sources (an older build) the changed value is found
    # in the array_record build, naming split, record and the source layer
    meta_path = version_dir(data, "l2a") / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["source_files"]
    meta_path.write_text(json.dumps(meta))
    r = run("verify", "cloudsen12_hq/l2a", "--data-dir", data, "--manual-dir", changed)
    assert r.returncode == 1
    assert "split validation, example 1 " in r.stderr and "record 1" in r.stderr and "'image'" in r.stderr
    assert str(changed / "val" / layer) in r.stderr and "(patch 1)" in r.stderr


def readme_loader() -> str:
    """The random-access loader of the README, as it stands there."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- random-access-loader -->\n```python\n(.*?)```", text, re.S)
    assert block, "README lost its random-access loader example"
    return block.group(1)


def test_readme_random_access_loader(builds):
    namespace: dict = {}
    exec(compile(readme_loader(), str(README), "exec"), namespace)  # noqa: S102
    data = os.fspath(builds / "array_record")
    patches = namespace["CloudSEN12Patches"]("train", data)
    expected = in_order("cloudsen12_hq/l1c", builds / "tfrecord", "train")
    stats = tfds.builder("cloudsen12_hq/l1c", data_dir=data).info.metadata["band_stats"]
    assert len(patches) == len(expected)
    r0, c0 = (1 + (509 - 256) // 2,) * 2
    for i in (2, 0, 3, 1):
        x, y = patches[i]
        assert x.shape == (13, 256, 256) and x.dtype == np.float32
        assert y.shape == (256, 256) and y.dtype == np.int64
        window = expected[i]["image"][r0:r0 + 256, c0:c0 + 256].astype(np.float32)
        want = (window - np.float32(stats["mean"])) / np.float32(stats["std"])
        assert np.array_equal(x, want.transpose(2, 0, 1))
        assert np.array_equal(y, expected[i]["label"][r0:r0 + 256, c0:c0 + 256])
