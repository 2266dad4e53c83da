"""``preview_rows``: a CPAZMAL window as a time strip of HH (or its source and target) beside its mask."""

from __future__ import annotations

import numpy as np

from parsers import cpazmal as src
from tfds_builders import preview as pv

#: The layover/shadow mask: none, layover, shadow, both; no data (-127) is drawn grey.
MASK_COLOURS = {0: "#1f1f1f", 1: "#e41a1c", 2: "#377eb8", 3: "#984ea3"}
#: The most time steps shown (evenly spread over a longer series).
MAX_STEPS = 8


def _mask_classes(info) -> pv.Classes:
    names = {int(k): v for k, v in info.metadata["mask_values"].items()}
    return pv.Classes.of([names[v] for v in MASK_COLOURS], list(MASK_COLOURS.values()), list(MASK_COLOURS),
                         no_label=src.MASK_NODATA, no_label_name=names[src.MASK_NODATA])


def _no_data(values, info) -> np.ndarray:
    return np.isnan(values) | (values == info.metadata["nodata_value"])


def _strip(series, mask, timestamps, info) -> list[pv.Panel]:
    """(ws, ws, T) amplitudes: up to MAX_STEPS grey panels (one stretch), then the first step's mask."""
    series = np.moveaxis(np.asarray(series, np.float32), -1, 0)  # (T, ws, ws)
    shown = pv.steps(len(series), MAX_STEPS)
    strip = pv.gray(series[shown], _no_data(series[shown], info))
    panels = [pv.Panel(f"HH {pv.text(timestamps[t])}", strip[k]) for k, t in enumerate(shown)]
    mask = np.asarray(mask)
    return panels + [_mask_classes(info).panel(f"mask {pv.text(timestamps[0])}", mask[..., 0])]


def preview_rows(example, info) -> list[pv.Row]:
    """Scenario 1: the HH strip; 2: the train and the predict strips (two rows); 3: HH
    source and HV target; 4: HH and HV of the image. Each with its mask, titled with the
    window's group, class and position."""
    names = info.features["label"].names
    y, x = (int(v) for v in np.asarray(example["position"]))
    title = f"{pv.text(example['group'])}  {names[int(example['label'])]}  at (y {y}, x {x})"
    scenario = info.metadata["scenario"]
    masks = _mask_classes(info)
    if scenario == "scenario1":
        image = np.asarray(example["image"])
        return [pv.Row(title, _strip(image[..., 0], example["mask"], example["timestamps"], info))]
    if scenario == "scenario2":
        return [pv.Row(f"{title}: {part}", _strip(example[f"image_{part}"], example[f"mask_{part}"],
                                                  example[f"timestamps_{part}"], info))
                for part in ("train", "predict")]
    if scenario == "scenario3":
        pols = info.metadata["polarisations"]
        images = [("source", example["source"], pols[0]), ("target", example["target"], pols[-1])]
        masks_of = [example["mask_source"], example["mask_target"]]
    else:
        image = np.asarray(example["image"])
        images = [("image", image[..., i], pol) for i, pol in enumerate(info.metadata["polarisations"])]
        masks_of = [example["mask"]]
        title += f"  {pv.text(example['satellite'])} {pv.text(example['date'])}"
    panels = [pv.Panel(f"{part} {pol}", pv.gray(band, _no_data(np.asarray(band), info)))
              for part, band, pol in images]
    panels += [masks.panel(f"mask {part}" if len(masks_of) > 1 else "mask", m)
               for part, m in zip(("source", "target"), masks_of)]
    return [pv.Row(title, panels)]
