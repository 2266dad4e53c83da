"""The README's Python examples run as they stand there, on sample data."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from parsers import cloudsen12_hq as cloudsen12

README = Path(__file__).resolve().parents[1] / "README.md"


def block(marker: str) -> str:
    """The ```python block right after ``<!-- marker -->`` (indented blocks dedented)."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n( *)```python\n(.*?)\n *```", text, re.S)
    assert found, f"README lost its {marker} example"
    return textwrap.dedent(found.group(2))


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    cloudsen12.write_samples(root / "manual", seed=11)
    return {"DATA": os.fspath(root / "data"), "MANUAL": os.fspath(root / "manual")}


def tiny_model():
    import keras

    model = keras.Sequential([keras.Input((256, 256, 13)), keras.layers.Conv2D(4, 1)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_quick_start_runs(paths):
    namespace = dict(paths, model=tiny_model())
    exec(compile(block("quick-start"), str(README), "exec"), namespace)  # noqa: S102
    assert len(namespace["ds"]) == tfds.builder("cloudsen12_hq/l1c", data_dir=paths["DATA"]).info.splits["train"].num_examples
    assert np.isfinite(namespace["model"].history.history["loss"]).all()


def test_split_strings_example_runs(paths):
    if not os.path.isdir(paths["DATA"]):
        test_quick_start_runs(paths)  # builds the dataset
    from tfds_builders import pipelines

    namespace = dict(paths, pipelines=pipelines)
    exec(compile(block("split-strings"), str(README), "exec"), namespace)  # noqa: S102
    for name, split in (("hold_out", "train[75%:]"), ("fit_on", "train[:75%]")):
        got = sum(int(x.shape[0]) for x, _, _ in namespace[name])
        assert got == len(tfds.load("cloudsen12_hq/l1c", split=split, data_dir=paths["DATA"]))


def test_a_split_string_that_selects_nothing_is_an_error(paths):
    if not os.path.isdir(paths["DATA"]):
        test_quick_start_runs(paths)
    from tfds_builders import pipelines

    with pytest.raises(ValueError, match="selects no example"):
        pipelines.cloudsen12_hq("train[4:]", data_dir=paths["DATA"])


def test_s2_joined_example_runs(tmp_path):
    from parsers import s2_cloud_timeseries as s2_cloud

    namespace = {"S2_MANUAL": os.fspath(tmp_path / "manual"), "S2_DATA": os.fspath(tmp_path / "data")}
    exec(compile(block("s2-joined"), str(README), "exec"), namespace)  # noqa: S102
    builder = tfds.builder("s2_cloud_timeseries/joined", data_dir=namespace["S2_DATA"])
    records = s2_cloud.sample_records()
    series = {(r["tile"], int(r["localid"])) for name, recs in records.items()
              if name.startswith("train_") for r in recs}
    assert builder.info.splits["train"].num_examples == len(series)
    x, y, w = next(iter(namespace["train"]))
    assert x.shape[1] == y.shape[1] == w.shape[1] == 64
