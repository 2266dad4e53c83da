"""What ``verify`` and ``inspect`` do, as library functions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from parsers.errors import SourceDataError


def _shard_paths(builder, split) -> list[str]:
    return [os.fspath(p) for p in builder.info.splits[split].filepaths]


def _decoded_shard(builder, path: str):
    """Decoded examples of one TFRecord shard, as numpy, in file order."""
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import example_parser

    features = builder.info.features
    parser = example_parser.ExampleParser(features.get_serialized_info())
    ds = tf.data.TFRecordDataset(path).map(lambda r: features.decode_example(parser.parse_example(r)))
    return tfds.as_numpy(ds)


def _same(a, b) -> bool:
    """Bit-for-bit equality of two encoded feature values (nested dicts, lists, arrays, bytes)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (bytes, str)) or isinstance(b, (bytes, str)):
        ea = a.encode() if isinstance(a, str) else a
        eb = b.encode() if isinstance(b, str) else b
        if isinstance(ea, bytes) and isinstance(eb, bytes):
            return ea == eb
    xa, xb = np.asarray(a), np.asarray(b)
    if xa.dtype.kind in "OSU" or xb.dtype.kind in "OSU":
        return xa.shape == xb.shape and all(_same(p, q) for p, q in zip(xa.ravel().tolist(), xb.ravel().tolist()))
    return xa.shape == xb.shape and xa.dtype == xb.dtype and xa.tobytes() == xb.tobytes()


def _array_record_shard(builder, path: str, expected: int):
    """Decoded examples of one ArrayRecord shard, as numpy, in file order; a shard the
    reader rejects (chunk hash, truncated) is a SourceDataError naming it."""
    from array_record.python import array_record_module

    def corrupt(reason):
        return SourceDataError(path, f"ArrayRecord shard is corrupt ({str(reason).split(';')[0]})",
                               "rebuild the dataset (eo-tfds build ... --overwrite)")

    features = builder.info.features
    try:
        reader = array_record_module.ArrayRecordReader(path)
    except (RuntimeError, OSError) as err:
        raise corrupt(err) from None
    try:
        try:
            # a truncated shard opens with ok() false and 0 records; close() says why
            if not reader.ok():
                reader.close()
                raise corrupt("no readable index")
            count = reader.num_records()
        except (RuntimeError, OSError) as err:
            raise corrupt(err) from None
        if count != expected:
            raise ValueError(f"{path}: {count} records, dataset_info says {expected}")
        for start in range(0, count, 64):  # a few records at a time: shards are ~200 MiB
            try:
                records = reader.read(start, min(start + 64, count))
            except (RuntimeError, OSError) as err:
                raise corrupt(err) from None
            for record in records:
                yield features.deserialize_example_np(record)
    finally:
        if reader.is_open():
            try:
                reader.close()
            except RuntimeError:
                pass  # already reported above


def _split_records(builder, split):
    """``(path, index in file, example)`` of every prepared example of a split, in order.

    Shards are read one by one: one holding another count than dataset_info says, or a
    TFRecord failing its CRC, raises ``ValueError`` naming shard and record (a mismatch);
    an ArrayRecord shard its reader rejects raises :class:`SourceDataError` (corrupt).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    info = builder.info.splits[split]
    tfrecord = builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD
    for path, expected in zip(_shard_paths(builder, split), info.shard_lengths):
        if not tfrecord:
            for count, example in enumerate(_array_record_shard(builder, path, expected)):
                yield path, count, example
            continue
        count = 0
        try:
            for example in _decoded_shard(builder, path):
                yield path, count, example
                count += 1
        except tf.errors.OpError as e:
            raise ValueError(f"{path}: record {count} is unreadable ({e.message.splitlines()[0]})") from None
        if count != expected:
            raise ValueError(f"{path}: {count} records, dataset_info says {expected}")


def check_sources(builder, root) -> str | None:
    """Compare the source files recorded at build time (``info.metadata["source_files"]``)
    with those under manual_dir ``root``: the first one missing, changed (size, then
    CRC32C) or new, as a sentence; None when they all match. Raises ``LookupError`` when
    the build recorded none (built before eo-tfds recorded them)."""
    from tfds_builders import core

    recorded = (builder.info.metadata or {}).get("source_files")
    if recorded is None:
        raise LookupError("no source files recorded")
    root = os.fspath(root)
    for rel, want in sorted(recorded.items()):
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            return (f"source file {path} is missing (the build read it: {want['size']} bytes, "
                    f"crc32c {want['crc32c']})")
        size = os.path.getsize(path)
        if size != want["size"]:
            return f"source file {path} changed since the build (size {want['size']} -> {size} bytes)"
        got = core.source_digest(path)
        if got["crc32c"] != want["crc32c"]:
            return (f"source file {path} changed since the build (crc32c {want['crc32c']} -> "
                    f"{got['crc32c']}, same size)")
    current = {core.relative_source(p, root): p for p in builder._source_files(root)}  # pylint: disable=protected-access
    new = sorted(set(current) - set(recorded))
    if new:
        return (f"source file {current[new[0]]} is new since the build (the build read "
                f"{len(recorded)} files, not this one)")
    return None


def verify(builder, manual_dir: str | None = None, note=None) -> str | None:
    """Re-read every prepared example; ``None`` if all is well, else the first problem.

    Counts are checked against ``dataset_info`` shard by shard and every record is
    decoded (a flipped byte fails its CRC). With ``manual_dir`` the source files are
    first compared with those the build read (size and CRC32C in ``info.metadata``):
    a changed, missing or new one is the problem; then each example is compared, after
    TFDS encoding, with what the builder reads from the sources, and a difference names
    the split, example, feature, its source file (and dataset / layer / record) and the
    shard. ``note(text)`` hears what was skipped. A corrupt ArrayRecord shard raises
    :class:`SourceDataError`.
    """
    import tensorflow_datasets as tfds

    from tfds_builders import core

    features = builder.info.features
    sources = root = None
    if manual_dir:
        dl_manager = builder._make_download_manager(  # pylint: disable=protected-access
            download_dir=None, download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
        root = core.manual_dir(dl_manager, builder.MANUAL_DOWNLOAD_INSTRUCTIONS)
        try:
            problem = check_sources(builder, root)
        except LookupError:
            if note is not None:
                note("this build recorded no source file sizes and hashes (built before eo-tfds "
                     "recorded them): source files not checked, values compared")
        else:
            if problem:
                return problem
        sources = builder._shard_iterators_per_split(dl_manager)  # pylint: disable=protected-access
    for split in builder.info.splits.keys():
        source_iter = None
        if sources is not None:
            if split not in sources:
                return f"split {split}: not among the sources' splits {sorted(sources)}"
            source_iter = (kv for fn in sources[split] for kv in fn())
        where = f"split {split}"
        try:
            for number, (path, index, example) in enumerate(_split_records(builder, split)):
                where = f"{path}: record {index}"
                if source_iter is None:
                    continue
                source = next(source_iter, None)
                if source is None:
                    return f"{where}: the sources have no more examples"
                key, src_example = source
                enc_src = features.encode_example(src_example)
                enc_out = features.encode_example(example)
                for name in enc_src:
                    if not _same(enc_src[name], enc_out[name]):
                        return (f"{builder.info.full_name} split {split}, example {number} (key {key}): "
                                f"feature {name!r} differs from its source "
                                f"{_source_of(builder, root, split, key, name)}; shard {where}")
        except ValueError as e:
            return str(e)
        if source_iter is not None and next(source_iter, None) is not None:
            return f"split {split}: the sources hold more examples than the dataset"
    return None


def _source_of(builder, root, split: str, key: str, feature: str) -> str:
    """Where the builder reads ``feature`` of example ``key`` (for a mismatch message)."""
    try:
        found = builder._example_source(root, split, key, feature)  # pylint: disable=protected-access
    except SourceDataError as err:
        return f"(not located: {err.message})"
    return found or f"(not located; source files under {os.fspath(root)})"


def describe(builder) -> str:
    """Splits, counts, features and per-band statistics as text."""
    info = builder.info
    lines = [f"{info.full_name}  ({builder.data_dir})", "", "splits:"]
    for name, split in info.splits.items():
        lines.append(f"  {name:<12} {split.num_examples:>8} examples  {split.num_shards:>4} shards  "
                     f"{split.num_bytes / 2**20:10.1f} MiB")
    lines += ["", "features:"]
    for line in str(info.features).splitlines():
        lines.append("  " + line)
    meta = dict(info.metadata or {})
    stats = meta.pop("band_stats", None)
    if meta:
        lines += ["", "metadata:"]
        for k, v in meta.items():
            lines.append(f"  {k}: {v}")
    if stats:
        lines += ["", "band statistics (train, valid pixels):",
                  f"  {'band':<10}{'count':>14}{'mean':>14}{'std':>14}{'min':>12}{'max':>12}"]
        for i, band in enumerate(stats["bands"]):
            lines.append(f"  {band:<10}{stats['count'][i]:>14}{stats['mean'][i]:>14.4f}"
                         f"{stats['std'][i]:>14.4f}{stats['min'][i]:>12.4g}{stats['max'][i]:>12.4g}")
    return "\n".join(lines)


def read_examples(builder, split: str) -> list[dict]:
    """The decoded examples (numpy) of a split string such as ``"train[2:6]"``, in order,
    through the pipelines' one checked read path (either file format)."""
    import tensorflow_datasets as tfds

    from tfds_builders.pipelines import ops

    return list(tfds.as_numpy(ops.read_examples(builder, split)))


def preview(builder, png: str, split: str | None = None, index: int = 0, count: int = 4) -> Path:
    """Writes a PNG preview of ``count`` examples of ``split`` from ``index`` on, one row each.

    What a row shows is the dataset's own (``tfds_builders/<dataset>/preview.py``): the
    image in colour beside the label in class colours, series as time strips. Raises
    :class:`SourceDataError` when ``png`` is a folder or its folder does not exist.
    """
    from parsers.errors import SourceDataError
    from tfds_builders.preview import preview_png

    out = Path(png)
    if out.is_dir():
        raise SourceDataError(out, "is a folder", "give --png a file name, e.g. preview.png")
    if not out.parent.is_dir():
        raise SourceDataError(out.parent, "is not a folder" if out.parent.exists() else "does not exist",
                              "create that folder or write the preview elsewhere")
    split = split or next(iter(builder.info.splits.keys()))
    end = min(index + count, builder.info.splits[split].num_examples)  # TFDS refuses a slice past the end
    examples = read_examples(builder, f"{split}[{index}:{end}]")
    try:
        return preview_png(examples, builder.info, out)
    except OSError as e:  # a folder the user cannot write to, a full disk
        raise SourceDataError(out, f"cannot be written ({e.strerror or e})",
                              "choose a writable place for --png") from None
