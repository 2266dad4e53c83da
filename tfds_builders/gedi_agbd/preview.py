"""``preview_rows``: a GEDI footprint's Sentinel-2 window, WorldCover and AGBD raster, the AGBD in the title."""

from __future__ import annotations

import numpy as np

from tfds_builders import preview as pv

#: ESA WorldCover's own legend colours, in the order of ``worldcover_classes``.
WORLDCOVER_COLOURS = ("#006400", "#ffbb22", "#ffff4c", "#f096ff", "#fa0000", "#b4b4b4",
                      "#f0f0f0", "#0064c8", "#0096a0", "#00cf75", "#fae6a0")
#: WorldCover's value of pixels without data.
WORLDCOVER_NO_DATA = 0


def preview_rows(example, info) -> list[pv.Row]:
    """One row: true colour (B04 B03 B02; SCL no-data grey), WorldCover in ESA colours,
    and the AGBD raster (no data grey), titled with AGBD +- its standard error."""
    meta = info.metadata
    s2 = np.asarray(example["sentinel2"])
    bands = list(meta["bands"])
    no_s2 = s2[..., bands.index("SCL")] == 0
    worldcover = pv.Classes.of(meta["worldcover_class_names"], WORLDCOVER_COLOURS, meta["worldcover_classes"],
                               no_label=WORLDCOVER_NO_DATA, no_label_name="no data")
    raster = np.asarray(example["agbd_raster"])[..., 0]
    lat, lon = np.asarray(example["lat_lon"])
    panels = [
        pv.Panel("true colour (B04, B03, B02)", pv.composite(s2, bands, ("B04", "B03", "B02"), no_s2)),
        worldcover.panel("ESA WorldCover", np.asarray(example["worldcover"])[..., 0]),
        pv.Panel("AGBD raster (Mg/ha)", pv.colour_scale(raster, "viridis", raster == meta["no_data"])),
    ]
    title = (f"AGBD {float(example['agbd']):.1f} ± {float(example['agbd_se']):.1f} Mg/ha  "
             f"shot {int(example['shot_number'])}  ({lat:.4f}, {lon:.4f})")
    return [pv.Row(title, panels)]
