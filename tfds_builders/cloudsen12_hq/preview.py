"""``preview_rows``: a CloudSEN12 patch as true (or S1 false) colour beside its ``manual_hq`` label."""

from __future__ import annotations

import numpy as np

from tfds_builders import preview as pv

#: clear, thick_cloud, thin_cloud, cloud_shadow
CLASS_COLOURS = ("#3a8f3a", "#f4f4f4", "#8ecae6", "#5e3c99")
#: Sentinel-2 true colour, Sentinel-1 false colour (the third channel is VV - VH in dB).
S2_RGB = ("B4", "B3", "B2")
S1_RGB = ("VV", "VH")


def preview_rows(example, info) -> list[pv.Row]:
    """One row: the image in colour (stretched over the valid box) and the label in class colours."""
    meta = info.metadata
    image = np.asarray(example["image"])
    r0, c0, r1, c1 = meta["valid_box"]
    padding = np.ones(image.shape[:2], bool)
    padding[r0:r1, c0:c1] = False
    bands = list(meta["bands"])
    if "VV" in bands:
        vv, vh = (image[..., bands.index(b)].astype(np.float32) for b in S1_RGB)
        colour = pv.Panel("S1 false colour (VV, VH, VV-VH)", pv.stretch(np.stack([vv, vh, vv - vh], -1), padding))
    else:
        colour = pv.Panel("true colour (B4, B3, B2)", pv.composite(image, bands, S2_RGB, padding))
    classes = pv.Classes.of(meta["class_names"], CLASS_COLOURS, no_label=int(meta["no_label"]))
    return [pv.Row(pv.text(example["id"]), [colour, classes.panel("label (manual_hq)", example["label"])])]
