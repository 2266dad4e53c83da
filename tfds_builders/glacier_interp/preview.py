"""``preview_rows``: a glacier_interp scene (or tile) in true colour beside its elevation and glacier mask."""

from __future__ import annotations

import numpy as np

from tfds_builders import preview as pv

#: not_glacier, glacier
CLASS_COLOURS = ("#6b4f3a", "#d8f3ff")
#: The red, green and blue channels (the same place on every sensor: see ``channels``).
RGB_CHANNELS = ("red", "green", "blue")


def preview_rows(example, info) -> list[pv.Row]:
    """One row: the sensor's red/green/blue bands stretched, elevation (metres for
    ``scenes``, normalised for tiles) and the mask; outside the scene (mask 255, or
    Landsat's no-data 0 in every band) is grey."""
    meta = info.metadata
    image = np.asarray(example["image"])
    mask = np.asarray(example["mask"])
    sensor = info.features["sensor"].names[int(example["sensor"])]
    channels = list(meta["channels"])
    idx = [channels.index(c) for c in RGB_CHANNELS]
    outside = mask == meta["ignore_label"]
    if "dem" in example:
        outside = outside | (image == 0).all(-1)
        elevation, unit = np.asarray(example["dem"])[..., 0], "m"
    else:
        elevation, unit = image[..., channels.index("elevation")], "normalised"
    band_names = [meta["bands"][sensor][i] for i in idx]
    classes = pv.Classes.of(meta["class_names"], CLASS_COLOURS, no_label=int(meta["ignore_label"]),
                            no_label_name="outside the scene")
    panels = [
        pv.Panel(f"true colour ({', '.join(band_names)})", pv.stretch(image[..., idx], outside)),
        pv.Panel(f"elevation ({unit})", pv.colour_scale(elevation, "terrain", outside)),
        classes.panel("mask", mask),
    ]
    title = f"{pv.text(example['id'])} ({sensor})"
    if "row" in example:
        title += f"  tile at row {int(example['row'])}, col {int(example['col'])}"
    return [pv.Row(title, panels)]
