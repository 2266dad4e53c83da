"""``preview_rows``: an s2_cloud_timeseries series as a strip of true-colour time steps, each step's class named."""

from __future__ import annotations

import numpy as np

from parsers import s2_cloud_timeseries as src
from tfds_builders import preview as pv

#: clear, opaque_cloud, thin_cloud, haze, cloud_shadow, snow
CLASS_COLOURS = ("#3a8f3a", "#f4f4f4", "#8ecae6", "#c9b27c", "#5e3c99", "#00e5ff")
#: The most time steps shown (evenly spread over a longer series).
MAX_STEPS = 8


def preview_rows(example, info) -> list[pv.Row]:
    """One row of up to ``MAX_STEPS`` steps in true colour (B4 B3 B2, one stretch for the
    series); the label box (the labelled centre pixels) is framed in the step's class colour."""
    meta = info.metadata
    image = np.asarray(example["image"])
    labels = np.asarray(example["labels"])
    dates = src.decode_dates(example["dates"])
    classes = pv.Classes.of(meta["class_names"], CLASS_COLOURS, no_label=None)
    shown = pv.steps(len(labels), MAX_STEPS)
    strip = pv.composite(image[shown], meta["bands"], ("B4", "B3", "B2"))
    r0, c0, r1, c1 = meta["label_box"]
    panels = []
    for k, t in enumerate(shown):
        step = strip[k].copy()
        colour = classes.colour_of(labels[t])
        step[r0 - 1, c0 - 1:c1 + 1] = step[r1, c0 - 1:c1 + 1] = colour  # frame just outside the box
        step[r0 - 1:r1 + 1, c0 - 1] = step[r0 - 1:r1 + 1, c1] = colour
        panels.append(pv.Panel(f"t{t} {dates[t]}\n{classes.names[classes.values.index(int(labels[t]))]}",
                               step, classes.legend))
    title = f"tile {pv.text(example['tile'])}  localid {int(example['localid'])}  ({len(labels)} steps)"
    return [pv.Row(title, panels)]
