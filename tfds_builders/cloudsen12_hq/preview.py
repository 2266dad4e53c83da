"""``preview_rows``: a CloudSEN12 patch as true (or S1 false) colour beside its ``manual_hq``
label; for ``detectors``, the label beside a few detectors' masks read as clear / cloud /
shadow with the value classes of ``info.metadata["mask_classes"]``."""

from __future__ import annotations

import numpy as np

from tfds_builders import preview as pv

#: clear, thick_cloud, thin_cloud, cloud_shadow
CLASS_COLOURS = ("#3a8f3a", "#f4f4f4", "#8ecae6", "#5e3c99")
#: Sentinel-2 true colour, Sentinel-1 false colour (the third channel is VV - VH in dB).
S2_RGB = ("B4", "B3", "B2")
S1_RGB = ("VV", "VH")
#: the detectors' masks a ``detectors`` preview shows beside the label
SHOWN_MASKS = ("fmask", "sen2cor", "kappamask_l1c", "s2cloudless")


def detector_classes(mask: np.ndarray, classes: dict) -> np.ndarray:
    """A detector's mask as label values: 1 (thick cloud colour) where its values mean
    cloud, 3 where they mean shadow, else 0 (clear)."""
    mask = np.asarray(mask)
    cloud = mask > 0 if classes["cloud"] == "value > 0" else np.isin(mask, classes["cloud"])
    shadow = np.isin(mask, classes["shadow"]) if classes.get("shadow") else np.zeros(mask.shape, bool)
    return np.select([cloud, shadow], [1, 3], 0).astype(np.uint8)


def preview_rows(example, info) -> list[pv.Row]:
    """One row: the image in colour (stretched over the valid box) and the label in class
    colours; for ``detectors`` the label and :data:`SHOWN_MASKS` (padding grey)."""
    meta = info.metadata
    classes = pv.Classes.of(meta["class_names"], CLASS_COLOURS, no_label=int(meta["no_label"]))
    label = classes.panel("label (manual_hq)", example["label"])
    if "masks" in example:
        r0, c0, r1, c1 = meta["valid_box"]
        panels = [label]
        for name in SHOWN_MASKS:
            shown = np.full(np.shape(example["label"]), int(meta["no_label"]), np.uint8)
            shown[r0:r1, c0:c1] = detector_classes(example["masks"][name], meta["mask_classes"][name])[r0:r1, c0:c1]
            read_as = "cloud, shadow" if meta["mask_classes"][name].get("shadow") else "cloud"
            panels.append(classes.panel(f"{name} ({read_as})", shown))
        return [pv.Row(pv.text(example["id"]), panels)]
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
    return [pv.Row(pv.text(example["id"]), [colour, label])]
