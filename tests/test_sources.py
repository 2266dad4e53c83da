"""The source files a build read: recorded at build time (size, CRC32C) and checked first
by ``eo-tfds verify --manual-dir``; mismatches and corrupt shards named as a user needs.

GEDI's HDF5 files are LZF-compressed, and LZF has no checksum: a damaged chunk builds
without an error and gives other values. These tests damage real files written by
``parsers.gedi_agbd.write_samples`` and run the command line in process (``cli.main``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import crc32c
import h5py
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401
from conversion import cli
from parsers import gedi_agbd as gedi

NAME = "gedi_agbd"
SENTINEL2 = f"{gedi.GROUP}/{gedi.DATASET_NAMES['sentinel2']}"


def build(manual, data_dir, file_format=None):
    builder = tfds.builder(NAME, data_dir=os.fspath(data_dir), file_format=file_format)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)), file_format=file_format)
    return builder


@pytest.fixture(scope="module")
def manual(tmp_path_factory) -> Path:
    return gedi.write_samples(tmp_path_factory.mktemp("sources") / "manual", seed=7)


@pytest.fixture(scope="module")
def data_dir(manual, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources_data")
    build(manual, out)
    return out


@pytest.fixture(scope="module")
def array_record_dir(manual, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources_ar")
    build(manual, out, file_format="array_record")
    return out


def verify(capsys, data_dir, manual_dir=None):
    """``eo-tfds verify`` in process: (exit code, stdout, stderr)."""
    args = ["verify", NAME, "--data-dir", os.fspath(data_dir)]
    if manual_dir is not None:
        args += ["--manual-dir", os.fspath(manual_dir)]
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def copy_of(manual, tmp_path) -> Path:
    out = tmp_path / "manual"
    shutil.copytree(manual, out)
    return out


def test_build_records_every_source_file_size_and_crc32c(manual, data_dir):
    recorded = tfds.builder(NAME, data_dir=os.fspath(data_dir)).info.metadata["source_files"]
    # independent of the streaming code: every .h5 file, read in one go
    expected = {p.name: {"size": p.stat().st_size, "crc32c": f"{crc32c.crc32c(p.read_bytes()):08x}"}
                for p in manual.glob("*.h5")}
    assert len(expected) == 3
    assert recorded == expected


def test_unchanged_sources_verify(capsys, manual, data_dir):
    code, out, err = verify(capsys, data_dir, manual)
    assert code == 0, err
    assert "bit for bit" in out and "note:" not in out


def lzf_chunk_offset(path: Path, dataset: str, row: int) -> tuple[int, int]:
    """File offset and size of the stored (LZF-compressed) chunk holding ``row``."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        assert ds.compression == "lzf" and ds.chunks[0] == 1
        info = ds.id.get_chunk_info_by_coord((row,) + (0,) * (ds.ndim - 1))
        return info.byte_offset, info.size


def test_damaged_lzf_chunk_is_named_before_values(capsys, manual, data_dir, tmp_path):
    source = copy_of(manual, tmp_path)
    path = source / "train_batch_1.h5"
    offset, size = lzf_chunk_offset(path, SENTINEL2, 4)
    data = bytearray(path.read_bytes())
    data[offset + size // 2] ^= 0x5A
    path.write_bytes(bytes(data))
    code, out, err = verify(capsys, data_dir, source)
    assert code == 1
    line = one_line(err)
    assert line.startswith("mismatch: source file ") and str(path) in line
    assert "changed since the build" in line and "crc32c" in line and "same size" in line


def test_truncated_removed_and_added_source_files(capsys, manual, data_dir, tmp_path):
    source = copy_of(manual, tmp_path)
    path = source / "test_batch_0.h5"
    path.write_bytes(path.read_bytes()[:-100])
    code, _, err = verify(capsys, data_dir, source)
    assert code == 1
    line = one_line(err)
    assert str(path) in line and "changed since the build" in line
    assert f"size {path.stat().st_size + 100} -> {path.stat().st_size} bytes" in line

    path.unlink()
    code, _, err = verify(capsys, data_dir, source)
    assert code == 1
    line = one_line(err)
    assert str(path) in line and "is missing" in line

    shutil.copy(manual / "test_batch_0.h5", path)
    added = source / "train_batch_2.h5"
    shutil.copy(manual / "train_batch_1.h5", added)
    code, _, err = verify(capsys, data_dir, source)
    assert code == 1
    line = one_line(err)
    assert str(added) in line and "is new since the build" in line


def test_value_mismatch_names_source_file_and_dataset(capsys, manual, data_dir, tmp_path):
    """A build made before sources were recorded: verify says it skips that check, and a
    changed value names dataset, split, example, source file, HDF5 dataset, row and shard."""
    old = tmp_path / "data"
    shutil.copytree(data_dir, old)
    meta_path = old / NAME / "1.0.0" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["source_files"]
    meta_path.write_text(json.dumps(meta))

    code, out, err = verify(capsys, old, manual)
    assert code == 0, err
    assert "note:" in out and "not checked" in out

    source = copy_of(manual, tmp_path)
    path = source / "train_batch_1.h5"
    with h5py.File(path, "r+") as f:
        f[SENTINEL2][4, 7, 9, 3] += 1
    code, out, err = verify(capsys, old, source)
    assert code == 1
    line = one_line(err)
    assert "gedi_agbd/1.0.0 split train, example 16 " in line  # 12 rows in train_batch_0 first
    assert f"{path}, dataset '{SENTINEL2}', row 4" in line and "'sentinel2'" in line
    assert "gedi_agbd-train.tfrecord-00000-of-00001: record 16" in line


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_array_record_shard_is_exit_2_naming_it(capsys, array_record_dir, tmp_path, damage):
    data = tmp_path / "data"
    shutil.copytree(array_record_dir, data)
    shard = next((data / NAME / "1.0.0").glob("*-train.array_record-*"))
    content = bytearray(shard.read_bytes())
    if damage == "flip":
        content[len(content) // 3] ^= 0xFF
    else:
        del content[len(content) // 2:]
    shard.write_bytes(bytes(content))
    code, out, err = verify(capsys, data)
    assert code == 2
    line = one_line(err)
    assert line.startswith("error: ") and str(shard) in line
    assert "ArrayRecord shard is corrupt" in line and "rebuild" in line
    assert "Traceback" not in err + out


def test_intact_array_record_build_verifies_against_sources(capsys, manual, array_record_dir):
    code, out, err = verify(capsys, array_record_dir, manual)
    assert code == 0, err
    assert "28 examples verified against the sources" in out
