"""The fuse tool of ``gedi_agbd``: the publisher's fusing step (batch files -> one file,
its ``--fuse-hdf5-datasets``) done safely: sorted order, one schema checked across the
files, never two splits in one file, bounded memory, written under a temporary name and
renamed when complete (``eo-tfds fuse-hdf5``)."""

from __future__ import annotations

import os
import pathlib

import h5py

from parsers.atomic import atomic_path
from parsers.errors import SourceDataError
from parsers.gedi_agbd.reader import (
    GROUP,
    READ_AHEAD,
    SPLIT_FOLDERS,
    _data_group,
    _dtype_text,
    _open,
    split_files,
)

__all__ = ["fuse_hdf5", "fuse_hdf5_per_split"]


def _schema(path, f: h5py.File) -> dict:
    """Dataset name -> (dtype text, trailing shape, N); every N equal."""
    group = _data_group(f, path)
    schema = {}
    n0 = None
    for name in sorted(group.keys()):
        ds = group[name]
        if not isinstance(ds, h5py.Dataset) or ds.ndim < 1:
            raise SourceDataError(path, f"'{GROUP}/{name}' is not a dataset with one row "
                                        "per example", "this is not a GEDI batch file")
        if n0 is None:
            n0 = (name, ds.shape[0])
        elif ds.shape[0] != n0[1]:
            raise SourceDataError(
                path, f"dataset '{GROUP}/{name}' has {ds.shape[0]} rows but "
                      f"'{GROUP}/{n0[0]}' has {n0[1]}: datasets of unequal N",
                "the batch file is damaged; rebuild it")
        schema[name] = (_dtype_text(ds.dtype), tuple(ds.shape[1:]), ds.shape[0])
    if not schema:
        raise SourceDataError(path, f"group '{GROUP}' holds no datasets",
                              "this is not a GEDI batch file")
    return schema


def _compression(ds: h5py.Dataset) -> dict:
    """The input's compression, to be written again; LZF for a filter h5py cannot
    write (a plugin such as Blosc), none when the input has none."""
    if ds.compression is not None:
        opts = {"compression": ds.compression, "shuffle": ds.shuffle}
        if ds.compression_opts is not None:
            opts["compression_opts"] = ds.compression_opts
        return opts
    dcpl = ds.id.get_create_plist()
    codes = {dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())}
    # shuffle, fletcher32, n-bit and scale-offset do not compress by themselves
    if codes - {h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32,
                h5py.h5z.FILTER_NBIT, h5py.h5z.FILTER_SCALEOFFSET}:
        return {"compression": "lzf"}
    return {}


def _check_schemas(files: list[pathlib.Path]) -> tuple[dict, int]:
    """The files' common schema (that of the first) and their total N; SourceDataError
    naming the file and dataset where one differs."""
    schemas = []
    for path in files:
        with _open(path) as f:
            schemas.append(_schema(path, f))
    reference, ref_path = schemas[0], files[0]
    for path, schema in zip(files[1:], schemas[1:]):
        for name in sorted(set(reference) | set(schema)):
            if name not in schema:
                raise SourceDataError(path, f"dataset '{GROUP}/{name}' missing (present in "
                                            f"{ref_path.name})", "fuse only files of one schema")
            if name not in reference:
                raise SourceDataError(path, f"dataset '{GROUP}/{name}' not in "
                                            f"{ref_path.name}", "fuse only files of one schema")
            if schema[name][:2] != reference[name][:2]:
                raise SourceDataError(
                    path, f"dataset '{GROUP}/{name}' is {schema[name][0]} "
                          f"{schema[name][1]} per row, but {reference[name][0]} "
                          f"{reference[name][1]} in {ref_path.name}",
                    "fuse only files of one schema")
    return reference, sum(next(iter(s.values()))[2] for s in schemas)


def _inputs(input_dir, outputs: list[pathlib.Path]) -> dict[str, list[pathlib.Path]]:
    """``{split: files}`` of ``input_dir``, outputs (e.g. of an earlier run) left out."""
    def is_output(p):
        return any(p.absolute() == o or (o.exists() and p.samefile(o)) for o in outputs)

    splits = {split: [p for p in files if not is_output(p)]
              for split, files in split_files(input_dir).items()}
    splits = {split: files for split, files in splits.items() if files}
    if not splits:
        raise SourceDataError(input_dir, "no .h5 files to fuse besides the output",
                              "point --input at the folder of batch files")
    return splits


def fuse_hdf5(input_dir: os.PathLike | str, output_file: os.PathLike | str,
              progress: bool = True) -> pathlib.Path:
    """Concatenate the ``.h5`` files of ``input_dir`` (sorted by name) into one file.

    The files must all belong to one split (:func:`.reader.split_of`): a folder
    holding ``train*`` and ``test*`` files (or ``train/`` and ``test/`` folders) is a
    SourceDataError naming one file of each, and nothing is written, since the fused
    file's name would send every row to one split; fuse such a folder with
    :func:`fuse_hdf5_per_split`. Every file's group ``data`` must hold the same dataset
    names with the same dtypes and trailing shapes (else SourceDataError naming the file
    and dataset). Copies ``READ_AHEAD`` rows at a time, keeps the inputs' compression and
    chunks (1, ...), writes under a temporary name in the output's folder and renames
    when complete. Returns the output path.
    """
    output = pathlib.Path(output_file).absolute()
    splits = _inputs(input_dir, [output])
    if len(splits) > 1:
        train, test = splits["train"][0], splits["test"][0]
        raise SourceDataError(
            input_dir, f"holds files of both splits, e.g. {train.name} (train) and "
                       f"{test.name} (test): one fused file would send the test rows to "
                       "one split", "fuse each split's files on their own (one folder "
                       "each), or write one output per split (eo-tfds fuse-hdf5 --per-split)")
    (files,) = splits.values()
    _fuse(files, output, progress)
    return output


def fuse_hdf5_per_split(input_dir: os.PathLike | str, output_dir: os.PathLike | str,
                        progress: bool = True) -> dict[str, pathlib.Path]:
    """:func:`fuse_hdf5` once per split of ``input_dir``'s files: ``train_fused.h5`` and
    ``test_fused.h5`` in ``output_dir`` (names that keep their split when the folder is
    a manual_dir). Every split's schema is checked before anything is written. Returns
    ``{split: output path}``.
    """
    folder = pathlib.Path(output_dir).absolute()
    outputs = {split: folder / f"{split}_fused.h5" for split in SPLIT_FOLDERS}
    splits = _inputs(input_dir, list(outputs.values()))
    for files in splits.values():
        _check_schemas(files)
    for split, files in splits.items():
        _fuse(files, outputs[split], progress)
    return {split: outputs[split] for split in splits}


def _fuse(files: list[pathlib.Path], output: pathlib.Path, progress: bool) -> None:
    from tqdm import tqdm

    reference, total = _check_schemas(files)
    ref_path = files[0]
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as out, tqdm(
            total=total, unit="example", disable=not progress, desc=f"fuse {output.name}") as bar:
        out_group = out.create_group(GROUP)
        targets = {}
        with _open(ref_path) as f:
            in_group = f[GROUP]
            for key, value in in_group.attrs.items():
                out_group.attrs[key] = value
            for name in reference:
                ds = in_group[name]
                created = targets[name] = out_group.create_dataset(
                    name, shape=(total,) + ds.shape[1:], dtype=ds.dtype,
                    chunks=(1,) + ds.shape[1:], **_compression(ds))
                for key, value in ds.attrs.items():
                    created.attrs[key] = value
        offset = 0
        for path in files:
            with _open(path) as f:
                in_group = f[GROUP]
                n = in_group[next(iter(reference))].shape[0]
                for a in range(0, n, READ_AHEAD):
                    b = min(n, a + READ_AHEAD)
                    for name in reference:
                        try:
                            block = in_group[name][a:b]
                        except (OSError, ValueError, RuntimeError) as err:
                            raise SourceDataError(
                                path, f"dataset '{GROUP}/{name}', records {a}..{b - 1} "
                                      f"cannot be read ({err})",
                                "the file is damaged; rebuild it") from None
                        targets[name][offset + a:offset + b] = block
                    bar.update(b - a)
            offset += n
