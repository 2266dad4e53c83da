"""What ``verify`` and ``inspect`` do, as library functions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


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


def _split_records(builder, split):
    """``(path, index in file, example)`` of every prepared example of a split, in order.

    TFRecord shards are read one by one (a shard holding another count than
    dataset_info says raises ``ValueError``); other formats through ``tfds.data_source``.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    info = builder.info.splits[split]
    if builder.info.file_format == tfds.core.file_adapters.FileFormat.TFRECORD:
        for path, expected in zip(_shard_paths(builder, split), info.shard_lengths):
            count = 0
            try:
                for example in _decoded_shard(builder, path):
                    yield path, count, example
                    count += 1
            except tf.errors.OpError as e:
                raise ValueError(f"{path}: record {count} is unreadable ({e.message.splitlines()[0]})") from None
            if count != expected:
                raise ValueError(f"{path}: {count} records, dataset_info says {expected}")
    else:
        name = builder.name + (f"/{builder.builder_config.name}" if builder.builder_config else "")
        source = tfds.data_source(name, split=split, data_dir=os.fspath(builder.data_dir_root))
        if len(source) != info.num_examples:
            raise ValueError(f"split {split}: {len(source)} records, dataset_info says {info.num_examples}")
        for i in range(len(source)):
            yield f"{split} (random access)", i, source[i]


def verify(builder, manual_dir: str | None = None) -> str | None:
    """Re-read every prepared example; ``None`` if all is well, else the first problem.

    Counts are checked against ``dataset_info`` shard by shard and every record is
    decoded (a flipped byte fails its CRC). With ``manual_dir`` each example is
    compared, after TFDS encoding, with what the builder reads from the sources.
    """
    import tensorflow_datasets as tfds

    features = builder.info.features
    sources = None
    if manual_dir:
        dl_manager = builder._make_download_manager(  # pylint: disable=protected-access
            download_dir=None, download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
        sources = builder._shard_iterators_per_split(dl_manager)  # pylint: disable=protected-access
    for split in builder.info.splits.keys():
        source_iter = None
        if sources is not None:
            if split not in sources:
                return f"split {split}: not among the sources' splits {sorted(sources)}"
            source_iter = (kv for fn in sources[split] for kv in fn())
        where = f"split {split}"
        try:
            for path, index, example in _split_records(builder, split):
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
                        return f"{where} (source key {key}): feature {name!r} differs from the source"
        except ValueError as e:
            return str(e)
        if source_iter is not None and next(source_iter, None) is not None:
            return f"split {split}: the sources hold more examples than the dataset"
    return None


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
    """The decoded examples (numpy) of a split string such as ``"train[2:6]"``, in order.

    ArrayRecord builds are read by random access (``builder.as_data_source``), TFRecord
    builds through ``builder.as_dataset``: each build in the format it was written in.
    """
    import tensorflow_datasets as tfds

    if builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD:
        source = builder.as_data_source(split=split)
        return [source[i] for i in range(len(source))]
    return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


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
