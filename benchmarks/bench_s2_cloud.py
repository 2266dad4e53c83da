"""s2_cloud_timeseries read figure (issue 3): the pipeline's sequences per second against a
plain ``TFRecordDataset`` + ``parse_single_example`` + ``decode_raw`` loop over the
publisher's own files, same run. Bar: >= 1.0x.

Run: ``python -m benchmarks.bench_s2_cloud`` (``EO_TFDS_BENCH_SERIES`` sets the number of
series, default 2000, T from 1 to 100).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_publisher_files(root: Path, n: int, seed: int = 0) -> None:
    """Publisher-layout TFRecords (train and val files of 250 records each)."""
    from parsers import s2_cloud_timeseries as s2_cloud

    rng = np.random.default_rng(seed)
    per_file = 250
    for split in ("train", "val"):
        count = n if split == "train" else max(1, n // 10)
        for f, start in enumerate(range(0, count, per_file)):
            k = min(per_file, count - start)
            records = []
            for i in range(k):
                t = int(rng.integers(1, 101))
                records.append(s2_cloud.serialize_record({
                    "localid": np.int64(start + i),
                    "image": rng.integers(0, 12000, (t, 42, 42, 4), dtype=np.uint16),
                    "labels": rng.integers(0, 6, t).astype(np.int64),
                    "dates": (737425 + np.arange(t) * 5).astype(np.int64),
                    "weights": np.ones(t, np.float32),
                }))
            s2_cloud.write_tfrecord(root / f"{split}_T{50 + f}TMK_{k}", records)


def _rate(ds, per_element) -> float:
    it = iter(ds)
    next(it)
    n = 0
    t = time.perf_counter()
    for element in it:
        n += per_element(element)
    return n / (time.perf_counter() - t)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tensorflow as tf
    import tensorflow_datasets as tfds

    import tfds_builders  # noqa: F401
    from tfds_builders import pipelines

    n = int(os.environ.get("EO_TFDS_BENCH_SERIES", "2000"))
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="eo-tfds-bench-s2-"))
    try:
        manual, data = work / "manual", work / "data"
        write_publisher_files(manual, n)
        os.environ["EO_TFDS_PROGRESS"] = "0"
        tfds.builder("s2_cloud_timeseries", data_dir=str(data)).download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
        files = sorted(str(p) for p in manual.glob("train_*"))
        spec = {"image_raw_ldseries": tf.io.FixedLenFeature([], tf.string),
                "labels": tf.io.FixedLenFeature([], tf.string)}

        def plain(record):
            ex = tf.io.parse_single_example(record, spec)
            image = tf.io.decode_raw(ex["image_raw_ldseries"], tf.uint16)
            image = tf.transpose(tf.reshape(image, (-1, 4, 42, 42)), (0, 2, 3, 1))
            return tf.cast(image, tf.float32), tf.io.decode_raw(ex["labels"], tf.int8)

        plain_rate = _rate(tf.data.TFRecordDataset(files).map(plain).padded_batch(32), lambda e: int(e[0].shape[0]))
        ours = _rate(pipelines.s2_cloud_timeseries("train", data_dir=str(data), batch_size=32, seed=0),
                     lambda e: int(e[0].shape[0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = ours / plain_rate
    print(f"s2_cloud_timeseries read, cores {cores}, {n} train series: pipeline {ours:.0f} series/s "
          f"(normalised, padded per batch); plain TFRecordDataset + parse_single_example + decode_raw "
          f"{plain_rate:.0f} series/s -> {ratio:.2f}x (bar 1.0x)")
    if ratio < 1.0:
        print("BELOW BAR: s2 read")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
