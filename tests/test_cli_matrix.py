"""Every command x every dataset x both file formats, through the command line's own
entry point (in this process: the exit-code and error-line tests run it as a
subprocess, tests/test_cli.py). Counts are compared with the dataset_info.json that the
build wrote, read as plain JSON."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import FORMATS, MATRIX_SPECS, cli

CASES = [pytest.param(spec, fmt, id=f"{spec}-{fmt}") for spec in MATRIX_SPECS for fmt in FORMATS]


def info_json(root, spec, fmt) -> dict:
    name, *config = spec.split("/")
    default = root / fmt / name / ".config" / "metadata.json"  # TFDS notes a default config there
    if not config and default.is_file():
        config = [json.loads(default.read_text())["default_config_name"]]
    folder = root / fmt / name / (config[0] if config else "")
    (version,) = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("incomplete")]
    return json.loads((version / "dataset_info.json").read_text())


def split_counts(info: dict) -> dict[str, int]:
    return {s["name"]: sum(int(n) for n in s["shardLengths"]) for s in info["splits"]}


@pytest.mark.parametrize("spec,fmt", CASES)
def test_build_prints_the_splits_it_wrote(matrix_builds, spec, fmt):
    root, results = matrix_builds
    code, out, err = results[(spec, fmt)]
    assert code == 0, err
    info = info_json(root, spec, fmt)
    assert info.get("fileFormat", "tfrecord") == fmt
    counts = split_counts(info)
    assert counts and all(n > 0 for n in counts.values())
    for split, n in counts.items():
        assert any(line.split()[:2] == [split, str(n)] for line in out.splitlines()), (split, n, out)


@pytest.mark.parametrize("spec,fmt", CASES)
def test_verify_against_the_sources(matrix_builds, spec, fmt):
    root, _ = matrix_builds
    code, out, err = cli("verify", spec, "--data-dir", root / fmt,
                         "--manual-dir", root / "manual" / MATRIX_SPECS[spec])
    assert code == 0, err
    total = sum(split_counts(info_json(root, spec, fmt)).values())
    assert out.startswith("ok:") and f"{total} examples" in out


@pytest.mark.parametrize("spec,fmt", CASES)
def test_inspect_lists_every_split(matrix_builds, spec, fmt):
    root, _ = matrix_builds
    code, out, err = cli("inspect", spec, "--data-dir", root / fmt)
    assert code == 0, err
    for split, n in split_counts(info_json(root, spec, fmt)).items():
        assert split in out and str(n) in out


def test_synth_wrote_every_dataset(matrix_builds):
    root, _ = matrix_builds
    for name in set(MATRIX_SPECS.values()):
        files = [p for p in (root / "manual" / name).rglob("*") if p.is_file()]
        assert files and all(os.path.getsize(p) > 0 for p in files), name
