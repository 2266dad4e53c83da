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


def preview(builder, png: str, split: str | None = None) -> Path:
    """Write a PNG preview of the first example of ``split`` (the builder's own if it has one)."""
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    split = split or next(iter(builder.info.splits.keys()))
    path = _shard_paths(builder, split)[0]
    example = next(iter(_decoded_shard(builder, path)))
    package = type(builder).__module__.rsplit(".", 1)[0]
    try:
        module = importlib.import_module(f"{package}.preview")
    except ModuleNotFoundError:
        module = None
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    if module is not None and hasattr(module, "preview_png"):
        module.preview_png(example, out)  # the dataset's own: knows its bands and classes
    else:
        generic_preview(example, out, builder.info)
    return out


def stretch(rgb: np.ndarray) -> np.ndarray:
    """2-98 percentile stretch of an (H, W, 3) array to [0, 1] per channel."""
    rgb = rgb.astype(np.float32)
    lo = np.nanpercentile(rgb, 2, axis=(0, 1))
    hi = np.nanpercentile(rgb, 98, axis=(0, 1))
    return np.clip((rgb - lo) / np.where(hi > lo, hi - lo, 1), 0, 1)


def generic_preview(example: dict, out: Path, info) -> None:
    """Image as RGB (named bands if the metadata has them) beside the label/mask."""
    import matplotlib.pyplot as plt

    image = np.asarray(example.get("image"))
    while image.ndim > 3:  # time series: the last step
        image = image[-1]
    bands = list((info.metadata or {}).get("bands", []))
    idx = [bands.index(b) for b in ("B4", "B3", "B2") if b in bands]
    if len(idx) != 3:
        idx = [min(i, image.shape[-1] - 1) for i in (2, 1, 0)] if image.shape[-1] >= 3 else [0, 0, 0]
    panels = [("image (RGB)", stretch(image[..., idx]), None)]
    classes = list((info.metadata or {}).get("class_names", []))
    for key in ("label", "mask"):
        if key in example and np.ndim(example[key]) >= 2:
            lab = np.asarray(example[key])
            while lab.ndim > 2:
                lab = lab[-1]
            # 255 (no label / padding) is left blank so the classes keep their colours
            panels.append((f"{key} ({', '.join(classes)}; blank = no label)" if classes else key,
                           np.ma.masked_equal(lab, 255), "tab10"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5))
    axes = np.atleast_1d(axes)
    for ax, (title, arr, cmap) in zip(axes, panels):
        if cmap:
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=9, interpolation="nearest")
        else:
            ax.imshow(arr, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    name = example.get("id", b"")
    fig.suptitle(f"{info.full_name}  {name.decode() if isinstance(name, bytes) else name}")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
