"""Scoring the CloudSEN12 detectors (and a user's model) against manual_hq: the numbers
of ``tfds_builders.cloudsen12_hq.score`` and ``eo-tfds score`` against plain numpy over
the source ``.dat`` layers, with the rules written out here as the README states them
("Scoring the detectors, and your model"), and against what the sample masks were
designed to score."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest

from parsers import cloudsen12_hq as src
from tests.conftest import cli

P = 512
SIZES = (2, 1, 4)  # train, val, test patches; the last test patch is cloud-free
#: the detector classes of the README: (cloud values or "> 0", shadow values or None)
DETECTOR_CLASSES = {
    "fmask": ({4}, {2}),
    "qa60": ("> 0", None),
    "s2cloudless": ("> 0", None),
    "sen2cor": ({8, 9, 10}, {3}),
    "cd_fcnn_rgbi": ("> 0", None),
    "cd_fcnn_rgbi_swir": ("> 0", None),
    "kappamask_l1c": ({3, 4}, {2}),
    "kappamask_l2a": ({3, 4}, {2}),
}
LAYERS = {"fmask": ("LABEL_fmask", np.int16), "qa60": ("LABEL_QA60", np.int8),
          "s2cloudless": ("LABEL_s2cloudless", np.int8), "sen2cor": ("LABEL_sen2cor", np.int8),
          "cd_fcnn_rgbi": ("LABEL_cd_fcnn_rgbi", np.int8), "cd_fcnn_rgbi_swir": ("LABEL_cd_fcnn_rgbi_swir", np.int8),
          "kappamask_l1c": ("LABEL_kappamask_L1C", np.int8), "kappamask_l2a": ("LABEL_kappamask_L2A", np.int8)}
MODEL = ({1, 2}, {3})
TARGETS = {"cloud": {1, 2}, "shadow": {3}, "contaminated": {1, 2, 3}}
KEYS = ["algorithm", "experiment", "boa", "pa", "ua", "pa_low", "pa_mid", "pa_high",
        "ua_low", "ua_mid", "ua_high", "images"]


def layer(folder, stem, dtype):
    return np.fromfile(os.path.join(folder, f"{stem}.dat"), dtype=dtype).reshape(-1, P, P)


# ------------------------------------------------------------ the independent reference

def ratio(a, b):
    return a / b if b else math.nan


def reference_rows(folder, model=None):
    """{(id, algorithm, experiment): (cloud_cover, pa, ua, boa)} from the .dat files."""
    label = layer(folder, "LABEL_manual_hq", np.int8)
    masks = {name: layer(folder, stem, dtype) for name, (stem, dtype) in LAYERS.items()}
    algorithms = dict(DETECTOR_CLASSES)
    if model is not None:
        masks["model"] = model
        algorithms["model"] = MODEL
    out = {}
    for i in range(len(label)):
        truth = label[i, 1:510, 1:510]
        keep = (truth >= 0) & (truth <= 3)  # manual_hq not 0..3 left out
        t = truth[keep]
        cover = ratio(np.isin(t, [1, 2]).sum(), t.size)
        for name, (cloud_values, shadow_values) in algorithms.items():
            v = np.asarray(masks[name][i])[1:510, 1:510][keep].astype(np.int64)
            cloud = v > 0 if cloud_values == "> 0" else np.isin(v, list(cloud_values))
            guesses = {"cloud": cloud}
            if shadow_values is not None:
                shadow = np.isin(v, list(shadow_values))
                guesses.update(shadow=shadow, contaminated=cloud | shadow)
            for experiment, guess in guesses.items():
                target = np.isin(t, list(TARGETS[experiment]))
                tp = int((guess & target).sum())
                fn = int((~guess & target).sum())
                fp = int((guess & ~target).sum())
                tn = int((~guess & ~target).sum())
                recall, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
                out[(f"test/{i}", name, experiment)] = (cover, recall, ratio(tp, tp + fp), (recall + spec) / 2)
    return out


def reference_summary(rows):
    """One dict per (algorithm, experiment), as the README summarises."""
    groups = {}
    for (ident, algorithm, experiment), values in rows.items():
        groups.setdefault((algorithm, experiment), []).append(values)
    out = {}
    for (algorithm, experiment), values in groups.items():
        cloudy = [v for v in values if v[0] > 0]
        pa = np.array([v[1] for v in cloudy if not math.isnan(v[1])])
        ua = np.array([v[2] for v in cloudy if not math.isnan(v[2])])
        boa = np.array([v[3] for v in values if not math.isnan(v[3])])

        def median(a):
            return float(np.median(a)) if a.size else math.nan

        def pct(a, m):
            return 100.0 * m.sum() / a.size if a.size else math.nan

        out[(algorithm, experiment)] = {
            "algorithm": algorithm, "experiment": experiment, "boa": median(boa), "pa": median(pa),
            "ua": median(ua), "pa_low": pct(pa, pa < 0.1), "pa_mid": pct(pa, (pa >= 0.1) & (pa <= 0.9)),
            "pa_high": pct(pa, pa > 0.9), "ua_low": pct(ua, ua < 0.1),
            "ua_mid": pct(ua, (ua >= 0.1) & (ua <= 0.9)), "ua_high": pct(ua, ua > 0.9), "images": len(values)}
    return out


def assert_same_rows(got, want, rel):
    """{key: (cloud_cover, pa, ua, boa)} equal key for key, NaN where NaN."""
    assert sorted(got) == sorted(want)
    for key, values in want.items():
        assert list(got[key]) == pytest.approx(list(values), nan_ok=True, rel=rel, abs=0), key


def assert_same_summary(got, want):
    assert [(r["algorithm"], r["experiment"]) for r in got] == list(want)
    for row in got:
        assert list(row) == KEYS
        expected = want[(row["algorithm"], row["experiment"])]
        assert (row["algorithm"], row["experiment"], row["images"]) == (
            expected["algorithm"], expected["experiment"], expected["images"])
        for key in KEYS[2:-1]:
            assert row[key] == pytest.approx(expected[key], nan_ok=True, rel=1e-12, abs=1e-12), (row, key)


# ------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Sample sources and the detectors and l1c configs built from them."""
    os.environ["EO_TFDS_PROGRESS"] = "0"
    root = tmp_path_factory.mktemp("score")
    manual = src.write_samples(root / "manual", seed=6, sizes=SIZES)
    for spec in ("cloudsen12_hq/detectors", "cloudsen12_hq/l1c"):
        code, _, err = cli("build", spec, "--manual-dir", manual, "--data-dir", root / "data")
        assert code == 0, err
    return root / "manual", root / "data"


def small_model(data, size=None):
    """A per-pixel Keras model with known classes: 1 where raw B2 > T1, 3 where B2 < T2,
    else 0 (thresholds half-way between integers, in normalised units in the weights)."""
    import keras
    import tensorflow_datasets as tfds

    stats = tfds.builder("cloudsen12_hq/l1c", data_dir=os.fspath(data)).info.metadata["band_stats"]
    mean, std = stats["mean"][1], stats["std"][1]
    t1, t2 = thresholds()
    kernel = np.zeros((1, 1, 13, 4), np.float32)
    kernel[0, 0, 1, 1], kernel[0, 0, 1, 3] = 1.0, -1.0
    bias = np.array([0.0, -(t1 - mean) / std, -10.0, (t2 - mean) / std], np.float32)
    model = keras.Sequential([keras.Input((size, size, 13)), keras.layers.Conv2D(4, 1)])
    model.layers[0].set_weights([kernel, bias])
    return model


def thresholds():
    return 1500.5, 1000.5


def model_classes(manual):
    b2 = layer(manual / "test", "L1C_B2", np.int16)
    t1, t2 = thresholds()
    return np.select([b2 > t1, b2 < t2], [1, 3], 0).astype(np.uint8)


# ---------------------------------------------------------------------------- tests

def test_accuracies_of_hand_counted_masks():
    from tfds_builders.cloudsen12_hq.score import accuracies

    # tp 3, fn 1, fp 2, tn 4
    target = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    guess = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], bool)
    pa, ua, boa = accuracies(guess, target)
    assert (pa, ua) == (0.75, 0.6) and boa == pytest.approx((0.75 + 4 / 6) / 2)
    pa, ua, boa = accuracies(np.zeros(5, bool), np.zeros(5, bool))  # nothing to find, nothing found
    assert math.isnan(pa) and math.isnan(ua) and math.isnan(boa)


def test_detectors_against_numpy(prepared):
    from tfds_builders.cloudsen12_hq.score import score, score_images

    manual, data = prepared
    want = reference_rows(manual / "test")
    rows = score_images(data, "test")
    assert_same_rows({(r.id, r.algorithm, r.experiment): (r.cloud_cover, r.pa, r.ua, r.boa) for r in rows},
                     want, 1e-12)
    assert len(rows) == len(want)
    summary = score(data)  # split="test" by default
    assert_same_summary(summary, reference_summary(want))
    by = {(r["algorithm"], r["experiment"]): r for r in summary}
    # every algorithm x experiment the README lists, and nothing else
    assert sorted(by) == sorted((a, e) for a, (_, s) in DETECTOR_CLASSES.items()
                                for e in (TARGETS if s is not None else ["cloud"]))
    # what the sample masks were designed to score
    for experiment in TARGETS:
        assert by[("kappamask_l1c", experiment)]["pa"] == by[("kappamask_l1c", experiment)]["ua"] == 1.0
        assert by[("kappamask_l1c", experiment)]["boa"] == 1.0
    assert by[("cd_fcnn_rgbi", "cloud")]["pa"] == by[("cd_fcnn_rgbi", "cloud")]["ua"] == 1.0
    assert by[("cd_fcnn_rgbi_swir", "cloud")]["pa"] == 1.0 and by[("cd_fcnn_rgbi_swir", "cloud")]["ua"] < 1.0
    assert by[("s2cloudless", "cloud")]["ua"] == by[("qa60", "cloud")]["ua"] == 1.0
    assert by[("s2cloudless", "cloud")]["pa"] < 1.0 and by[("kappamask_l2a", "cloud")]["pa"] < 1.0
    assert all(r["images"] == SIZES[2] for r in summary)
    # the cloud-free patch: cover 0, so out of PA and UA; its cloud recall is 0 / 0
    last = [r for r in rows if r.id == f"test/{SIZES[2] - 1}" and r.experiment == "cloud"]
    assert last and all(r.cloud_cover == 0 and math.isnan(r.pa) for r in last)


def test_predictions_array(prepared):
    from tfds_builders.cloudsen12_hq.score import score

    manual, data = prepared
    label = layer(manual / "test", "LABEL_manual_hq", np.int8)
    perfect = np.where((label >= 0) & (label <= 3), label, 0).astype(np.uint8)
    by = {(r["algorithm"], r["experiment"]): r for r in score(data, "test", perfect)}
    for experiment in TARGETS:
        assert by[("model", experiment)]["pa"] == by[("model", experiment)]["ua"] == 1.0
        assert by[("model", experiment)]["boa"] == 1.0 and by[("model", experiment)]["pa_high"] == 100.0
    guesses = np.random.default_rng(0).integers(0, 4, perfect.shape).astype(np.int64)
    assert_same_summary(score(data, "test", guesses), reference_summary(reference_rows(manual / "test", guesses)))
    with pytest.raises(ValueError, match=r"\(4, 512, 512\) expected"):
        score(data, "test", guesses[:3])
    with pytest.raises(ValueError, match="integer classes"):
        score(data, "test", guesses.astype(np.float32))


def test_keras_model_applied_to_the_l1c_images(prepared):
    from tfds_builders.cloudsen12_hq.score import score

    manual, data = prepared
    want = reference_summary(reference_rows(manual / "test", model_classes(manual)))
    classes = model_classes(manual)
    assert len(np.unique(classes[:, 1:510, 1:510])) == 3  # the thresholds cut the values
    assert_same_summary(score(data, "test", small_model(data)), want)
    # a model of a fixed input size is applied tile by tile (160 x 160 grid tiles)
    assert_same_summary(score(data, "test", small_model(data, 160)), want)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_cli_score_with_csv(prepared, tmp_path):
    manual, data = prepared
    npy = tmp_path / "pred.npy"
    np.save(npy, model_classes(manual))
    out_csv = tmp_path / "scores.csv"
    code, out, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--predictions", npy, "--csv", out_csv)
    assert code == 0, err
    want = reference_rows(manual / "test", model_classes(manual))
    summary = reference_summary(want)
    lines = out.splitlines()
    for (algorithm, experiment), row in summary.items():
        line = next(line for line in lines if line.split()[:2] == [algorithm, experiment])
        assert line.split()[2] == str(row["images"])
        assert line.split()[3] == ("-" if math.isnan(row["boa"]) else f"{row['boa']:.3f}")
    assert f"written to {out_csv}" in out
    header, rows = read_csv(out_csv)
    assert header == ["id", "algorithm", "experiment", "cloud_cover", "pa", "ua", "boa"]
    got = {(r[0], r[1], r[2]): tuple(float(v) for v in r[3:]) for r in rows}
    assert len(rows) == len(want)
    assert_same_rows(got, want, 1e-15)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_cli_score_with_a_saved_model(prepared, tmp_path):
    manual, data = prepared
    path = tmp_path / "model.keras"
    small_model(data).save(path)
    out_csv = tmp_path / "scores.csv"
    code, out, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--model", path, "--csv", out_csv)
    assert code == 0, err
    _, rows = read_csv(out_csv)
    want = {k: v for k, v in reference_rows(manual / "test", model_classes(manual)).items() if k[1] == "model"}
    got = {(r[0], r[1], r[2]): tuple(float(v) for v in r[3:]) for r in rows if r[1] == "model"}
    assert len(got) == 3 * SIZES[2]
    assert_same_rows(got, want, 1e-15)


def test_cli_score_errors(prepared, tmp_path):
    manual, data = prepared
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((SIZES[2], 256, 256), np.uint8))
    code, _, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--predictions", bad)
    assert code == 2 and err.startswith("error:") and str(bad) in err and "(4, 256, 256)" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli("score", "cloudsen12_hq", "--data-dir", tmp_path / "empty")
    assert code == 2 and "cloudsen12_hq/detectors is not prepared" in err and str(tmp_path / "empty") in err
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_bytes(b"not a model")
    code, _, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--model", not_a_model)
    assert code == 2 and str(not_a_model) in err and "Keras model" in err
    code, _, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--split", "nope")
    assert code == 2 and "no split 'nope'" in err
    code, _, err = cli("score", "cloudsen12_hq", "--data-dir", data, "--csv", tmp_path / "no" / "x.csv")
    assert code == 2 and str(tmp_path / "no") in err and "does not exist" in err
    code, _, err = cli("score", "gedi_agbd", "--data-dir", data)
    assert code == 2 and "cloudsen12_hq" in err


def test_readme_score_example_runs(prepared, capsys):
    from tests.test_readme import README, block

    _, data = prepared
    exec(compile(block("score"), str(README), "exec"), {"DATA": os.fspath(data)})  # noqa: S102
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 16  # 4 detectors x 3 experiments + 4 x cloud
    assert lines[0].split()[:2] == ["fmask", "cloud"] and "BOA" in lines[0]
