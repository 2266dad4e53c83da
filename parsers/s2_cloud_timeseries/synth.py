"""The s2_cloud_timeseries sample writer: small files in the publisher's exact layout
(TFRecords of ``tf.train.Example`` records, in ``.7z`` archives with ``.md5`` files or
already extracted), written without TensorFlow.

:func:`write_samples` writes a sample under a folder, :func:`sample_records` says what
it holds; :func:`serialize_record` and :func:`write_tfrecord` write records as the
publisher does, for tests of one's own.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from parsers import tf_example, tfrecord
from parsers.archives import write_archive
from parsers.s2_cloud_timeseries.reader import (
    CENTRE,
    IMAGE_KEY,
    MAX_TIMESTAMPS,
    PATCH,
    decode_dates,
    encode_dates,
)

# stem, where it goes, date style, series: a length (a new series, one localid each;
# > 100 is cut into pieces), or ("after" | "before", j, k): a further piece of the j-th
# series of the same stem's earlier files, k new timestamps after its last date (the
# piece starts with a copy of that last timestamp: one date in two pieces with the same
# data) or before its first one
_SAMPLE_LAYOUT = (
    ("train_T50TMK", "s2cloud_train_01.7z", "ordinal", (1, 37, 130)),
    ("train_T49QGF", "s2cloud_train_01.7z", "ordinal", (12, 5)),
    ("train_T31TCJ", "train_T31TCJ_{n}.tfrecord", "yyyymmdd", (3, 8, 2)),
    ("val_T50TMK", "extracted/val_T50TMK_{n}", "ordinal", (20, 4)),
    ("val_T18SUJ", "s2cloud_val_01.7z", "ordinal", (6, 1, 9, 2)),
    ("val_T50TMK", "s2cloud_val_01.7z", "ordinal", (("after", 0, 6), ("before", 1, 5), 7)),
)
_REVISIT = 5  # days between the timestamps of the pieces added to earlier series
_BASE_DN = np.array([1100, 1000, 900, 2400])  # typical B2 B3 B4 B8 digital numbers


def _sample_series(rng: np.random.Generator, t: int, style: str) -> dict:
    """One realistic time series of length t (before cutting into records)."""
    # labels: persistent states, like real weather
    labels = np.empty(t, np.int64)
    state = int(rng.integers(0, 6))
    for i in range(t):
        if rng.random() < 0.35:
            state = int(rng.choice(6, p=[0.45, 0.2, 0.12, 0.08, 0.1, 0.05]))
        labels[i] = state
    start = np.datetime64("2018-01-01") + int(rng.integers(0, 3 * 365))
    steps = rng.choice([5, 5, 5, 10, 15], size=t)  # Sentinel-2 revisit, with gaps
    days = start + np.cumsum(steps).astype("timedelta64[D]") - steps[0]
    # smooth landscape: blocky low-resolution field, small noise (compresses well)
    field = np.kron(rng.normal(0, 1, (t, 7, 7, 4)), np.ones((1, 6, 6, 1)))
    image = _BASE_DN + field * (_BASE_DN * 0.15) + rng.normal(0, 12, (t, PATCH, PATCH, 4))
    centre = np.zeros((PATCH, PATCH, 1))
    centre[12:30, 12:30] = 0.6
    centre[CENTRE, CENTRE] = 1.0
    effect = {1: 6000, 2: 1800, 3: 700, 5: 5500}
    for i, label in enumerate(labels):
        if label in effect:
            boost = np.full(4, effect[label], float)
            if label == 5:
                boost[3] = 3500  # snow: bright visible, less bright NIR
            image[i] += centre * boost
        elif label == 4:
            image[i] *= 1 - 0.5 * centre  # shadow darkens
    image = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
    weights = rng.choice(np.array([1.0, 1.0, 1.0, 0.5, 0.25], np.float32), size=t)
    return {"image": image, "labels": labels, "dates": encode_dates(days, style),
            "weights": weights.astype(np.float32)}


def sample_records(seed: int = 0) -> dict[str, list[dict]]:
    """What :func:`write_samples` writes: file name (``<split>_<TILE>_<N>``, no extension)
    -> list of example dicts, exactly as the reader returns them, in the order of the
    layout (:data:`_SAMPLE_LAYOUT`)."""
    rng = np.random.default_rng(seed)
    out = {}
    made: dict[str, list[dict]] = {}  # stem -> its whole series, in the order drawn
    for stem, _, style, items in _SAMPLE_LAYOUT:
        tile = stem.split("_")[1]
        series_of_stem = made.setdefault(stem, [])
        records = []
        for item in items:
            if not isinstance(item, int):
                records.append(_further_piece(rng, series_of_stem, item, style))
                continue
            localid = np.int64(rng.integers(0, 50000))
            while any(s["localid"] == localid for s in series_of_stem):  # one series each
                localid = np.int64(rng.integers(0, 50000))
            series = dict(_sample_series(rng, item, style), tile=tile, localid=localid)
            series_of_stem.append(series)
            for start in range(0, item, MAX_TIMESTAMPS):  # pieces share tile and localid
                piece = slice(start, start + MAX_TIMESTAMPS)
                records.append({"tile": tile, "localid": localid,
                                **{k: series[k][piece] for k in _STEP_KEYS}})
        out[f"{stem}_{len(records)}"] = records
    return out


_STEP_KEYS = ("image", "labels", "dates", "weights")


def _further_piece(rng: np.random.Generator, series_of_stem: list[dict], item, style: str) -> dict:
    """A piece of an earlier series: ``("after" | "before", j, k)`` (see the layout)."""
    where, j, k = item
    series = series_of_stem[j]
    extra = _sample_series(rng, k, style)
    days = decode_dates(series["dates"])
    if where == "after":
        new_days = days[-1] + _REVISIT * np.arange(1, k + 1)
        extra["dates"] = encode_dates(new_days, style)
        extra = {key: np.concatenate([series[key][-1:], extra[key]]) for key in _STEP_KEYS}
    else:
        new_days = days[0] - _REVISIT * np.arange(k, 0, -1)
        extra["dates"] = encode_dates(new_days, style)
    return {"tile": series["tile"], "localid": series["localid"], **extra}


def serialize_record(example: dict) -> bytes:
    """A ``tf.train.Example`` as the publisher writes it, from an example dict
    (``image`` (T, 42, 42, 4) uint16, ``labels``/``dates``/``weights`` (T,))."""
    def raw(values, dtype):
        return tf_example.bytes_feature(np.ascontiguousarray(values, dtype=dtype).tobytes())

    image = np.asarray(example["image"]).transpose(0, 3, 1, 2)  # back to (T, 4, 42, 42)
    return tf_example.serialize({
        "localid": tf_example.int64_feature([example["localid"]]),
        IMAGE_KEY: raw(image, "<u2"),
        "labels": raw(example["labels"], np.int8),
        "dates": raw(example["dates"], "<i8"),
        "weights": raw(example["weights"], "<f4"),
    })


def write_tfrecord(path: os.PathLike | str, records) -> pathlib.Path:
    """Writes serialized records (bytes) or example dicts as one TFRecord file, atomically."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tfrecord.write_records(path, (r if isinstance(r, bytes) else serialize_record(r)
                                  for r in records))
    return path


def write_samples(root: os.PathLike | str, seed: int = 0) -> pathlib.Path:
    """Writes a small sample of the dataset in the publisher's layout under ``root``.

    ``s2cloud_train_01.7z`` (members ``train_T50TMK_4``, with a 130-long series cut into
    100 + 30, and ``train_T49QGF_2``) and ``s2cloud_val_01.7z`` (``val_T18SUJ_4`` and
    ``val_T50TMK_3``), each with an ``.md5`` beside it; ``train_T31TCJ_3.tfrecord``
    (dates as YYYYMMDD) and ``extracted/val_T50TMK_2`` (no extension) already extracted.
    ``val_T50TMK_3`` holds further pieces of both series of ``val_T50TMK_2``: one after
    the first (starting with a copy of its last timestamp: a date in two pieces with the
    same data), one before the second; and a series of its own. About 1 MB; T from 1 to
    100; content is :func:`sample_records` (seed).
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    records = sample_records(seed)
    archives: dict[str, dict[str, bytes]] = {}
    for (_, where, _, _), name in zip(_SAMPLE_LAYOUT, records, strict=True):
        serialized = [serialize_record(r) for r in records[name]]
        if where.endswith(".7z"):
            archives.setdefault(where, {})[name] = serialized
        else:
            write_tfrecord(root / where.format(n=len(serialized)), serialized)
    staging = root / f".staging.{os.getpid()}"
    try:
        for archive, members in archives.items():
            files = {name: write_tfrecord(staging / name, recs) for name, recs in members.items()}
            for file in files.values():  # a fixed mtime: the same archive bytes for a seed
                os.utime(file, (1609459200, 1609459200))
            write_archive(root / archive, files)
    finally:
        for f in staging.glob("*"):
            f.unlink()
        if staging.exists():
            staging.rmdir()
    return root
