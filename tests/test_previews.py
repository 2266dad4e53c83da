"""`eo-tfds inspect --png` on every dataset, config and file format: the PNG shows the
stored labels in their class colours, series as strips, and the path errors are clean."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import tfds_builders  # noqa: F401
from conversion import cli
from parsers import cloudsen12_hq as cloudsen12, cpazmal, gedi_agbd as gedi, glacier_interp as glacier, s2_cloud_timeseries as s2_cloud
from tests.test_cli import _assert_clean_error, run
from tfds_builders import preview as pv
from tfds_builders.cloudsen12_hq import preview as cloudsen12_preview
from tfds_builders.cpazmal import preview as cpazmal_preview
from tfds_builders.gedi_agbd import preview as gedi_preview
from tfds_builders.glacier_interp import preview as glacier_preview
from tfds_builders.s2_cloud_timeseries import preview as s2_preview

SPECS = {
    "cloudsen12_hq/l1c": "cloudsen12_hq", "cloudsen12_hq/l2a": "cloudsen12_hq", "cloudsen12_hq/s1": "cloudsen12_hq",
    "s2_cloud_timeseries": "s2_cloud_timeseries",
    "cpazmal/scenario1": "cpazmal", "cpazmal/scenario2": "cpazmal", "cpazmal/scenario3": "cpazmal",
    "cpazmal/scenario4": "cpazmal",
    "gedi_agbd": "gedi_agbd",
    "glacier_interp/scenes": "glacier_interp", "glacier_interp/tiles512": "glacier_interp",
}
FORMATS = ("tfrecord", "array_record")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Every config in both file formats, from small sample sources (about 15 s)."""
    root = tmp_path_factory.mktemp("previews")
    manual = root / "manual"
    cloudsen12.write_samples(manual / "cloudsen12_hq", seed=4, sizes=(2, 1, 1))
    s2_cloud.write_samples(manual / "s2_cloud_timeseries", seed=4)
    cpazmal.write_samples(manual / "cpazmal", seed=4)
    gedi.write_samples(manual / "gedi_agbd", seed=4)
    # a small scene (upsampled in the preview) and a large one in validation
    glacier.write_samples(manual / "glacier_interp", seed=4, scenes=["l8_scene_01", "s2_scene_11"])
    for spec, folder in SPECS.items():
        for fmt in FORMATS:
            tfds.builder(spec, data_dir=os.fspath(root / fmt), file_format=fmt).download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual / folder)),
                file_format=fmt)
    return root


def stored(spec, data_dir, split, n):
    """The first ``n`` examples of ``split`` read with TFDS's own readers, not the preview's."""
    builder = tfds.builder(spec, data_dir=os.fspath(data_dir))
    if builder.info.file_format == tfds.core.file_adapters.FileFormat.ARRAY_RECORD:
        source = tfds.data_source(spec, split=split, data_dir=os.fspath(data_dir))
        return builder.info, [source[i] for i in range(min(n, len(source)))]
    return builder.info, list(tfds.as_numpy(tfds.load(spec, split=split, data_dir=os.fspath(data_dir))))[:n]


def read_png(path):
    """(pixels uint8 (H, W, 3), drawn panels [{row, panel, box}], legend names)."""
    with Image.open(path) as im:
        assert im.format == "PNG"
        meta = json.loads(im.text["eo-tfds:panels"])
        return np.asarray(im.convert("RGB")), meta["panels"], meta["legend"]


def painted(label, values, colours, no_label):
    """Class colours of a label array, computed here from the palette: no-label grey."""
    out = np.zeros(np.shape(label) + (3,), np.uint8)
    for value, colour in zip(values, colours):
        out[np.asarray(label) == value] = pv.rgb(colour)
    out[np.asarray(label) == no_label] = pv.NO_LABEL_RGB
    return out


def assert_panel_shows(pixels, panel, expected):
    """The panel's pixels at the centre of each source pixel equal ``expected`` (when the
    panel is drawn smaller than its source, only where the source's 5 x 5 neighbourhood has
    one colour, so that nearest-neighbour resampling cannot pick another)."""
    x0, y0, x1, y1 = panel["box"]
    h, w = expected.shape[:2]
    flat = expected.reshape(h, w, 3).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1])
    padded = np.pad(flat, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5))
    uniform = (windows == flat[..., None, None]).all((-1, -2))
    if x1 - x0 >= w and y1 - y0 >= h:  # enlarged: every source pixel has its own block of PNG pixels
        uniform[:] = True
    rows, cols = np.nonzero(uniform)
    assert rows.size > 0.2 * h * w, "too few uniform pixels to check"
    py = (y0 + (rows + 0.5) * (y1 - y0) / h).astype(int)
    px = (x0 + (cols + 0.5) * (x1 - x0) / w).astype(int)
    inside = (py >= y0 + 2) & (py < y1 - 2) & (px >= x0 + 2) & (px < x1 - 2)  # not under the panel's frame
    rows, cols, py, px = rows[inside], cols[inside], py[inside], px[inside]
    got = pixels[py, px]
    bad = np.nonzero((got != expected[rows, cols]).any(-1))[0]
    first = bad[0] if bad.size else None
    assert bad.size == 0, (f"{panel['row']} / {panel['panel']}: {bad.size} of {rows.size} pixels differ, first at "
                           f"source {rows[first], cols[first]}: {got[first]} != {expected[rows[first], cols[first]]}")


def masks(mask):
    """CPAZMAL mask colours: none, layover, shadow, both; no data -127 grey."""
    return painted(mask, list(cpazmal_preview.MASK_COLOURS), list(cpazmal_preview.MASK_COLOURS.values()), -127)


def expected_rows(spec, info, examples):
    """Per example row(s): (row-title words, {panel title prefix: expected RGB}, panel count)."""
    meta = info.metadata
    name = spec.split("/")[0]
    out = []
    for ex in examples:
        if name == "cloudsen12_hq":
            label = painted(ex["label"], range(4), cloudsen12_preview.CLASS_COLOURS, 255)
            out.append(([ex["id"].decode()], {"label": label}, 2))
        elif name == "s2_cloud_timeseries":
            t = len(ex["labels"])
            shown = np.linspace(0, t - 1, min(t, 8)).round().astype(int)
            names = [meta["class_names"][ex["labels"][i]] for i in shown]
            out.append(([ex["tile"].decode(), f"({t} steps)"], {f"t{i} ": None for i in shown}, len(shown)))
            out[-1][0].extend(names)
        elif name == "cpazmal":
            label = info.features["label"].names[ex["label"]]
            scenario = meta["scenario"]
            if scenario == "scenario1":
                out.append(([label], {"mask": masks(ex["mask"][..., 0])},
                            min(ex["image"].shape[2], 8) + 1))
            elif scenario == "scenario2":
                for part in ("train", "predict"):
                    out.append(([label, part], {"mask": masks(ex[f"mask_{part}"][..., 0])},
                                min(ex[f"image_{part}"].shape[2], 8) + 1))
            elif scenario == "scenario3":
                out.append(([label], {"mask source": masks(ex["mask_source"]),
                                      "mask target": masks(ex["mask_target"])}, 4))
            else:
                out.append(([label, ex["satellite"].decode()], {"mask": masks(ex["mask"])}, 3))
        elif name == "gedi_agbd":
            wc = painted(ex["worldcover"][..., 0], meta["worldcover_classes"], gedi_preview.WORLDCOVER_COLOURS, 0)
            out.append(([f"AGBD {ex['agbd']:.1f}", str(ex["shot_number"])], {"ESA WorldCover": wc}, 3))
        else:
            mask = painted(ex["mask"], range(2), glacier_preview.CLASS_COLOURS, 255)
            out.append(([ex["id"].decode()], {"mask": mask}, 3))
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("spec", list(SPECS))
def test_inspect_png_shows_the_stored_labels(builds, tmp_path, capsys, spec, fmt):
    data = builds / fmt
    png = tmp_path / "preview.png"
    # two examples (rows) keep the matrix fast; the default count is tested below
    assert cli.main(["inspect", spec, "--data-dir", str(data), "--png", str(png), "--count", "2"]) == 0
    assert f"written to {png}" in capsys.readouterr().out
    pixels, panels, legend = read_png(png)
    info, examples = stored(spec, data, next(iter(tfds.builder(spec, data_dir=os.fspath(data)).info.splits)), 2)
    rows = expected_rows(spec, info, examples)
    titles = list(dict.fromkeys(p["row"] for p in panels))
    assert len(titles) == len(rows) == len(examples) * (2 if spec.endswith("scenario2") else 1)
    # sensible size: one row of panels (about 2.6 in at 100 dpi) per row of the preview
    assert pixels.shape[0] >= 200 * len(rows) and pixels.shape[1] >= 200 * max(r[2] for r in rows)
    for title, (words, expected, count) in zip(titles, rows):
        drawn = [p for p in panels if p["row"] == title]
        assert len(drawn) == count, (title, [p["panel"] for p in drawn])
        for word in words:
            assert word in title or any(word in p["panel"] for p in drawn), (word, title)
        for prefix, colours in expected.items():
            panel = [p for p in drawn if p["panel"].startswith(prefix)]
            assert len(panel) == 1, (prefix, [p["panel"] for p in drawn])
            if colours is not None:
                assert_panel_shows(pixels, panel[0], colours)
    if spec.startswith("s2_cloud"):  # each step's label box framed in its class colour
        r0, c0, _, c1 = info.metadata["label_box"]
        for ex, title in zip(examples, titles):
            t = len(ex["labels"])
            drawn = [p for p in panels if p["row"] == title]
            for p, step in zip(drawn, np.linspace(0, t - 1, min(t, 8)).round().astype(int)):
                x0, y0, x1, y1 = p["box"]
                y = int(y0 + (r0 - 0.5) * (y1 - y0) / 42)  # the row just above the box
                xs = (x0 + (np.arange(c0, c1) + 0.5) * (x1 - x0) / 42).astype(int)
                colour = pv.rgb(s2_preview.CLASS_COLOURS[ex["labels"][step]])
                assert (pixels[y, xs] == colour).all(), p["panel"]
    # the legend names every class (cpazmal: the mask's values; gedi: WorldCover's)
    meta = info.metadata
    names = (meta["worldcover_class_names"] if spec == "gedi_agbd" else
             [v for k, v in meta["mask_values"].items() if k != "-127"] if spec.startswith("cpazmal") else
             meta["class_names"])
    assert set(names) <= set(legend)


def shots_in_rows(png):
    _, panels, _ = read_png(png)
    return [int(t.split("shot ")[1].split()[0]) for t in dict.fromkeys(p["row"] for p in panels)]


def test_index_count_and_split(builds, tmp_path, capsys):
    png = tmp_path / "p.png"
    data = builds / "array_record"
    args = ["inspect", "gedi_agbd", "--data-dir", str(data), "--png", str(png)]
    assert cli.main(args + ["--split", "train"]) == 0  # four examples by default
    _, train = stored("gedi_agbd", data, "train", 4)
    assert shots_in_rows(png) == [int(ex["shot_number"]) for ex in train]
    assert cli.main(args + ["--split", "test", "--index", "5", "--count", "4"]) == 0  # 7 examples: 5 and 6
    _, test = stored("gedi_agbd", data, "test[5:]", 9)
    assert shots_in_rows(png) == [int(ex["shot_number"]) for ex in test] and len(test) == 2
    capsys.readouterr()
    assert cli.main(args + ["--split", "test", "--index", "7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "0..6" in err
    assert cli.main(args + ["--split", "val"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "'val'" in err and "train" in err and "test" in err


def test_png_path_that_cannot_be_written(builds, tmp_path, capsys):
    data = str(builds / "tfrecord")
    r = run("inspect", "cpazmal/scenario3", "--data-dir", data, "--png", tmp_path)  # a folder
    _assert_clean_error(r, str(tmp_path), "is a folder")
    missing = tmp_path / "no" / "such"
    assert cli.main(["inspect", "cpazmal/scenario3", "--data-dir", data, "--png", str(missing / "p.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(missing) in err and "does not exist" in err
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob(".*.tmp"))
