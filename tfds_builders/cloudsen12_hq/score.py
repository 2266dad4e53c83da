"""Scoring the published cloud detectors, and a user's model, against ``manual_hq``.

As the CloudSEN12 paper's Figure 10 scripts do: per image, over the 509 x 509 valid box
(``info.metadata["valid_box"]``), with the pixels whose ``manual_hq`` is not a class
(label 255) left out, a boolean prediction is compared with a boolean target:

- PA (producer's accuracy, recall) = TP / (TP + FN);
- UA (user's accuracy, precision) = TP / (TP + FP);
- BOA (balanced overall accuracy) = (recall + specificity) / 2, specificity = TN / (TN + FP).

A ratio 0 / 0 is undefined (NaN), and so is a BOA with an undefined part. Experiments:
``cloud`` (target ``manual_hq`` in {1, 2}), ``shadow`` (3), ``contaminated`` ({1, 2, 3}).
Each detector's values are read with its classes (``parsers.cloudsen12_hq.DETECTORS``):
Sen2Cor cloud {8, 9, 10} shadow {3}; KappaMask cloud {3, 4} shadow {2}; Fmask cloud {4}
shadow {2}; s2cloudless, CD-FCNN (both) and QA60 cloud = value > 0, scored on ``cloud``
only (no shadow class); contaminated = cloud or shadow. A user's predictions, classes
0..3 as ``manual_hq``'s, are algorithm ``model``: cloud {1, 2}, shadow {3}.

Summaries (:func:`summarise`): PA and UA over the images whose cloud cover (share of
the valid, labelled pixels with ``manual_hq`` in {1, 2}) is > 0, BOA over all images;
the medians leave undefined values out, and so do the percents of images with PA (UA)
< 0.1, in [0.1, 0.9] and > 0.9 (percents of the images with a defined value).

    from tfds_builders.cloudsen12_hq.score import score
    for row in score(DATA, split="test"):
        print(row["algorithm"], row["experiment"], row["boa"])

The masks come from the prepared ``cloudsen12_hq/detectors`` config, read streaming
through the pipelines' checked read path; a model is applied to the l1c images of the
prepared ``cloudsen12_hq/l1c`` config in the same data dir, in the same order.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from parsers import cloudsen12_hq as src
from parsers.atomic import atomic_path
from parsers.errors import SourceDataError

#: experiment -> the ``manual_hq`` classes of its target
EXPERIMENTS = {"cloud": (1, 2), "shadow": (3,), "contaminated": (1, 2, 3)}
#: the algorithm name of a user's predictions, and how its classes (``manual_hq``'s) read
MODEL = "model"
MODEL_CLASSES = src.Detector(layer="", cloud=(1, 2), shadow=(3,), values="manual_hq classes 0..3")
#: the keys of one summary row, in order
SUMMARY_KEYS = ("algorithm", "experiment", "boa", "pa", "ua", "pa_low", "pa_mid", "pa_high",
                "ua_low", "ua_mid", "ua_high", "images")
#: the columns of the per-image CSV
CSV_COLUMNS = ("id", "algorithm", "experiment", "cloud_cover", "pa", "ua", "boa")


class ImageScore(NamedTuple):
    """One image's values for one (algorithm, experiment): a row of the CSV."""

    id: str
    algorithm: str
    experiment: str
    cloud_cover: float
    pa: float
    ua: float
    boa: float


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def accuracies(prediction: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """``(PA, UA, BOA)`` of a boolean prediction against a boolean target (same shape,
    the pixels to count only); NaN where a ratio is 0 / 0."""
    prediction = np.asarray(prediction, bool)
    target = np.asarray(target, bool)
    tp = int(np.count_nonzero(prediction & target))
    fn = int(np.count_nonzero(target)) - tp
    fp = int(np.count_nonzero(prediction)) - tp
    tn = prediction.size - tp - fn - fp
    recall = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return recall, _ratio(tp, tp + fp), (recall + specificity) / 2


def predicted(values: np.ndarray, classes: src.Detector) -> dict[str, np.ndarray]:
    """The boolean predictions of a mask (or a model's classes) per experiment it is
    scored on: ``cloud``, and with a shadow class ``shadow`` and ``contaminated``."""
    cloud = values > 0 if classes.cloud is None else np.isin(values, classes.cloud)
    if classes.shadow is None:
        return {"cloud": cloud}
    shadow = np.isin(values, classes.shadow)
    return {"cloud": cloud, "shadow": shadow, "contaminated": cloud | shadow}


def image_scores(ident: str, label: np.ndarray, predictions: dict[str, np.ndarray],
                 box, classes: dict[str, src.Detector]) -> list[ImageScore]:
    """The rows of one image: ``label`` its (512, 512) label (255 no label),
    ``predictions`` ``{algorithm: (512, 512) values}``, ``classes`` how each reads."""
    r0, c0, r1, c1 = box
    label = np.asarray(label)[r0:r1, c0:c1]
    labelled = label < len(src.CLASS_NAMES)
    truth = label[labelled]
    targets = {name: np.isin(truth, values) for name, values in EXPERIMENTS.items()}
    cloud_cover = _ratio(int(np.count_nonzero(targets["cloud"])), truth.size)
    rows = []
    for algorithm, values in predictions.items():
        inside = np.asarray(values)[r0:r1, c0:c1][labelled]
        for experiment, guess in predicted(inside, classes[algorithm]).items():
            rows.append(ImageScore(ident, algorithm, experiment, cloud_cover,
                                   *accuracies(guess, targets[experiment])))
    return rows


def _prepared(name: str, data_dir):
    """The prepared builder ``name`` in ``data_dir``, or a SourceDataError saying how to build it."""
    from tfds_builders.pipelines import ops

    try:
        return ops.load_builder(name, data_dir)
    except FileNotFoundError as e:
        raise SourceDataError(os.path.join(os.fspath(data_dir), *name.split("/")), f"{name} is not prepared here",
                              f"run `eo-tfds build {name} --manual-dir MANUAL --data-dir {data_dir}`") from e


def _split_size(builder, split: str) -> int:
    from tfds_builders.pipelines import ops

    names = list(builder.info.splits.keys())
    unknown = [s for s in ops.split_names(split) if s not in names]
    if unknown:
        raise SourceDataError(builder.data_dir, f"{builder.info.full_name} has no split {unknown[0]!r}",
                              f"give a split string of {', '.join(names)}")
    return int(builder.info.splits[split].num_examples)


def _load_predictions(path) -> object:
    """A ``.npy`` file as a read-only memmap, any other file as a Keras model."""
    path = os.fspath(path)
    if not os.path.isfile(path) and not os.path.isdir(path):
        raise SourceDataError(path, "no such file", "give the path of a .npy file or a saved Keras model")
    if path.endswith(".npy"):
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            raise SourceDataError(path, f"is not a readable .npy array ({e})",
                                  "save the predictions with numpy.save") from None
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # pylint: disable=broad-except  # Keras raises many types for a bad file
        raise SourceDataError(path, f"cannot be loaded as a Keras model ({type(e).__name__}: {e})",
                              "save the model with model.save('model.keras')") from None


def _array_predictions(array, n: int, source: str | None) -> Iterator[np.ndarray]:
    """The images of an (N, 512, 512) array of classes, one at a time."""
    shape = tuple(getattr(array, "shape", ()))
    where = source or "predictions"
    if shape != (n, src.PATCH, src.PATCH):
        problem = f"predictions of shape {shape}, the split has {n} images: ({n}, {src.PATCH}, {src.PATCH}) expected"
        if source:
            raise SourceDataError(source, problem, "predict every image of the split, in its order")
        raise ValueError(problem)
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        problem = f"predictions of dtype {array.dtype}: integer classes 0..3 expected"
        if source:
            raise SourceDataError(source, problem, "save the classes (argmax), not scores")
        raise ValueError(f"{where}: {problem}")
    for i in range(n):
        yield np.asarray(array[i])


def _model_predictions(model, data_dir, split: str, n: int) -> Iterator[np.ndarray]:
    """The model's classes of each image of ``split`` of the prepared l1c config: the
    normalised grid tiles of ``pipelines.cloudsen12_hq(mode="grid")`` at the model's
    input size (the whole 512 x 512 patch when it takes any size), each tile's argmax
    put back where the tile owns the valid box."""
    from tfds_builders.cloudsen12_hq.pipeline import cloudsen12_hq
    from tfds_builders.pipelines import ops

    l1c = _prepared("cloudsen12_hq/l1c", data_dir)
    if _split_size(l1c, split) != n:
        raise SourceDataError(l1c.data_dir, f"split {split!r} holds {_split_size(l1c, split)} images, "
                              f"the detectors config {n}", "build both configs from the same manual dir")
    shape = tuple(model.input_shape)
    height, width = shape[1:3]
    size = src.PATCH if height is None and width is None else height
    if height != width or size > src.PATCH:
        raise ValueError(f"the model takes {shape[1:3]} inputs: a square input of at most "
                         f"{src.PATCH} pixels, or any size (None, None), is needed")
    box = tuple(l1c.info.metadata["valid_box"])
    tiles = ops.grid_tiles(box, size, (src.PATCH, src.PATCH))
    ds = cloudsen12_hq(split, config="l1c", data_dir=data_dir, mode="grid", crop_size=size,
                       batch_size=len(tiles), shuffle=False)
    for x, _, _ in ds:  # one batch: the tiles of one image
        out = np.asarray(model.predict_on_batch(x.numpy()))
        classes = out.argmax(-1) if out.ndim == 4 and out.shape[-1] > 1 else out.reshape(len(tiles), size, size)
        image = np.zeros((src.PATCH, src.PATCH), np.int64)
        for k, (row, col, (a, b, c, d)) in enumerate(tiles):
            image[row + a:row + c, col + b:col + d] = classes[k, a:c, b:d]
        yield image


def score_images(data_dir, split: str = "test", predictions=None) -> list[ImageScore]:
    """The per-image values (the rows of ``eo-tfds score --csv``) of every detector of the
    prepared ``cloudsen12_hq/detectors`` config, and of ``predictions`` as algorithm
    ``model``: an (N, 512, 512) array of classes 0..3 in split order, a Keras model
    (applied to the l1c config's images), or the path of a ``.npy`` file or saved model.

    Rows come per image, then algorithm (``DETECTORS``' order, ``model`` last), then
    experiment.

    Raises:
        SourceDataError: a config is not prepared in ``data_dir``, the split does not
            exist, or a predictions file has the wrong shape (naming the file).
        ValueError: a predictions array of the wrong shape or dtype.
    """
    import tensorflow_datasets as tfds

    from tfds_builders.pipelines import ops

    builder = _prepared("cloudsen12_hq/detectors", data_dir)
    n = _split_size(builder, split)
    classes = dict(src.DETECTORS)
    source = None
    if isinstance(predictions, (str, os.PathLike)):
        source = os.fspath(predictions)
        predictions = _load_predictions(predictions)
    model_images: Iterator | None = None
    if predictions is not None:
        classes[MODEL] = MODEL_CLASSES
        if hasattr(predictions, "shape") and hasattr(predictions, "dtype"):
            model_images = _array_predictions(predictions, n, source)
        else:
            model_images = _model_predictions(predictions, data_dir, split, n)
    box = tuple(builder.info.metadata["valid_box"])
    rows: list[ImageScore] = []
    count = 0
    for example in tfds.as_numpy(ops.read_examples(builder, split)):
        masks = {name: example["masks"][name] for name in src.DETECTORS}
        if model_images is not None:
            masks[MODEL] = next(model_images)
        rows += image_scores(example["id"].decode(), example["label"], masks, box, classes)
        count += 1
    if count != n:  # dataset_info and the shards disagree: the read path would have said so
        raise SourceDataError(builder.data_dir, f"split {split!r} gave {count} examples, dataset_info says {n}",
                              "rebuild the dataset (eo-tfds build ... --overwrite)")
    return rows


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def _percents(values: list[float]) -> tuple[float, float, float]:
    """Percent of ``values`` < 0.1, in [0.1, 0.9], > 0.9 (NaN each when there are none)."""
    if not values:
        return math.nan, math.nan, math.nan
    v = np.asarray(values)
    return tuple(100.0 * float(np.count_nonzero(m)) / v.size for m in (v < 0.1, (v >= 0.1) & (v <= 0.9), v > 0.9))


def summarise(images: Iterable[ImageScore]) -> list[dict]:
    """One dict per (algorithm, experiment), in the order of ``images``, with the keys
    :data:`SUMMARY_KEYS`: the medians ``boa`` (all images), ``pa`` and ``ua`` (images
    with cloud cover > 0), undefined values left out; ``pa_low``, ``pa_mid``,
    ``pa_high`` (``ua_...``): percent of those images with a defined value that is
    < 0.1, in [0.1, 0.9], > 0.9; ``images``: the images scored."""
    groups: dict[tuple[str, str], list[ImageScore]] = {}
    for row in images:
        groups.setdefault((row.algorithm, row.experiment), []).append(row)
    out = []
    for (algorithm, experiment), rows in groups.items():
        cloudy = [r for r in rows if r.cloud_cover > 0]
        pa = [r.pa for r in cloudy if not math.isnan(r.pa)]
        ua = [r.ua for r in cloudy if not math.isnan(r.ua)]
        boa = [r.boa for r in rows if not math.isnan(r.boa)]
        summary = {"algorithm": algorithm, "experiment": experiment, "boa": _median(boa),
                   "pa": _median(pa), "ua": _median(ua)}
        summary.update(zip(("pa_low", "pa_mid", "pa_high"), _percents(pa)))
        summary.update(zip(("ua_low", "ua_mid", "ua_high"), _percents(ua)))
        summary["images"] = len(rows)
        out.append({k: summary[k] for k in SUMMARY_KEYS})
    return out


def score(data_dir, split: str = "test", predictions=None) -> list[dict]:
    """The summary table: one dict per (algorithm, experiment) with the keys
    :data:`SUMMARY_KEYS` (see :func:`summarise`), of the detectors of the prepared
    ``cloudsen12_hq/detectors`` config and, given ``predictions`` (see
    :func:`score_images`), of algorithm ``model``."""
    return summarise(score_images(data_dir, split, predictions))


def format_table(summary: list[dict]) -> str:
    """The summary as a text table (values 0..1 to three places, percents to one; ``-``
    where undefined)."""
    def num(value, places):
        return "-" if value is None or math.isnan(value) else f"{value:.{places}f}"

    head = (f"{'algorithm':<18}{'experiment':<14}{'images':>7}{'BOA':>8}{'PA':>8}{'UA':>8}"
            f"{'PA<0.1':>8}{'PA mid':>8}{'PA>0.9':>8}{'UA<0.1':>8}{'UA mid':>8}{'UA>0.9':>8}")
    lines = [head, "-" * len(head)]
    for r in summary:
        lines.append(f"{r['algorithm']:<18}{r['experiment']:<14}{r['images']:>7}"
                     + "".join(f"{num(r[k], 3):>8}" for k in ("boa", "pa", "ua"))
                     + "".join(f"{num(r[k], 1):>8}" for k in ("pa_low", "pa_mid", "pa_high",
                                                               "ua_low", "ua_mid", "ua_high")))
    lines.append("PA and UA: medians over the images with cloud cover > 0; BOA over all images; "
                 "percents of images with PA (UA) < 0.1, in [0.1, 0.9], > 0.9")
    return "\n".join(lines)


def write_csv(images: Iterable[ImageScore], path) -> str:
    """The per-image values as CSV (columns :data:`CSV_COLUMNS`; undefined values ``NaN``),
    written atomically: the file appears complete or not at all."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SourceDataError(path, "is a folder", "give --csv a file name, e.g. scores.csv")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SourceDataError(parent, "does not exist", "create that folder or write the CSV elsewhere")
    try:
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for row in images:
                writer.writerow([row.id, row.algorithm, row.experiment,
                                 *("NaN" if math.isnan(v) else repr(float(v))
                                   for v in (row.cloud_cover, row.pa, row.ua, row.boa))])
    except OSError as e:
        raise SourceDataError(path, f"cannot be written ({e.strerror or e})",
                              "choose a writable place for --csv") from None
    return path
