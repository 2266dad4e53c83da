"""The sample writer of ``glacier_interp``: all 65 scenes (or some) as small real
GeoTIFFs in the publisher's layout (tfds_builders/glacier_interp/README.md, "Source
format"), for the tests and the demo."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from parsers.atomic import atomic_path
from parsers.glacier_interp.reader import BAND_NAMES, SENSORS, all_scene_ids, sensor_of

__all__ = ["write_samples"]


# A few scenes larger than one tile, so tiles512 makes several tiles of them
# (one in validation), and s2_scene_05 (glaset validation) two 256 px glaset tiles:
# (height, width).
_LARGE_SCENES = {
    "l8_scene_02": (600, 530),
    "s2_scene_05": (530, 300),
    "l5_scene_12": (160, 560),
    "l9_scene_07": (520, 260),
}
# Glacier regions: (EPSG code of the UTM zone, easting, northing of a scene corner).
_REGIONS = (
    (32632, 400_020, 5_100_000),  # Alps, UTM 32N
    (32645, 300_000, 3_120_000),  # Himalaya, 45N
    (32606, 500_010, 6_700_020),  # Alaska, 6N
    (32718, 600_000, 4_500_030),  # Patagonia, 18S
    (32759, 400_000, 5_200_000),  # Southern Alps NZ, 59S
    (32633, 450_000, 8_700_000),  # Svalbard, 33N
)
# Surface reflectance of blue, green, red, NIR, SWIR1, SWIR2.
_REFLECTANCE = {
    "rock": np.array([0.08, 0.10, 0.12, 0.18, 0.24, 0.19]),
    "vegetation": np.array([0.03, 0.06, 0.04, 0.32, 0.17, 0.08]),
    "ice": np.array([0.72, 0.70, 0.66, 0.52, 0.06, 0.04]),
}


def _smooth_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """A smooth random field (h, w), unit-ish variance: bilinear upsampling of noise."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    grid = rng.standard_normal((gh, gw))
    y, x = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], x - x0
    rows = grid[y0] * (1 - fy) + grid[y0 + 1] * fy
    return rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx


def _sample_scene(scene_id: str, seed: int):
    sensor, nn = sensor_of(scene_id), int(scene_id[-2:])
    # One generator per scene, so a subset writes the same files as the full set.
    rng = np.random.default_rng([seed, SENSORS.index(sensor), nn])
    h, w = _LARGE_SCENES.get(scene_id) or tuple(int(v) for v in rng.integers(60, 141, 2))
    res = 30.0 if sensor != "s2" or nn % 2 == 0 else 10.0
    epsg, east, north = _REGIONS[(SENSORS.index(sensor) + nn) % len(_REGIONS)]
    transform = Affine(res, 0.0, east + 30.0 * int(rng.integers(0, 100)), 0.0, -res,
                       north - 30.0 * int(rng.integers(0, 100)))

    relief = _smooth_field(rng, h, w, 40.0) + 0.5 * _smooth_field(rng, h, w, 12.0)
    elevation = 2500.0 + 900.0 * relief + 600.0 * float(rng.uniform(-1, 1))
    blobs = relief + 0.8 * _smooth_field(rng, h, w, 15.0)
    glacier = blobs > np.quantile(blobs, float(rng.uniform(0.6, 0.85)))
    vegetated = ~glacier & (elevation < np.quantile(elevation, 0.25))

    refl = np.where(glacier[..., None], _REFLECTANCE["ice"],
                    np.where(vegetated[..., None], _REFLECTANCE["vegetation"],
                             _REFLECTANCE["rock"]))
    refl = refl * (1.0 + 0.08 * _smooth_field(rng, h, w, 25.0))[..., None]
    # Raw numbers as the archives store them: Landsat Collection 2 SR (scale 2.75e-5,
    # offset -0.2); Sentinel-2 L2A (1e4, BOA offset +1000).
    if sensor == "s2":
        dn = refl * 1e4 + 1000.0
        noise = 2.0
    else:
        dn = (refl + 0.2) / 2.75e-5
        noise = 3.0
    dn = dn + rng.normal(0.0, noise, dn.shape)
    bands = np.clip(np.rint(dn), 1, 65535).astype(np.uint16).transpose(2, 0, 1)
    dem = np.rint(elevation + rng.normal(0.0, 1.5, (h, w))).astype(np.int16)
    truth = glacier.astype(np.uint8)
    return bands, dem, truth, transform, CRS.from_epsg(epsg)


def _write_tif(path: pathlib.Path, data: np.ndarray, transform: Affine, crs: CRS,
               nodata=None, descriptions=None) -> None:
    count, h, w = data.shape
    profile = dict(driver="GTiff", height=h, width=w, count=count, dtype=data.dtype.name,
                   crs=crs, transform=transform, compress="deflate", predictor=2,
                   nodata=nodata)
    if h >= 256 and w >= 256:  # big rasters come tiled, small ones in strips
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        for i, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, text)




def write_samples(root: os.PathLike | str, seed: int = 0,
                  scenes: Iterable[str] | None = None) -> pathlib.Path:
    """Writes small sample scenes in the publisher's layout under ``root``; returns root.

    All 65 scenes by default (or only ``scenes``, the same files as in the full set):
    real GeoTIFFs in ``scene/`` (6 x uint16 raw SR numbers, Landsat C2 or S2 L2A
    scaling, no-data tag 0 on Landsat), ``dem/`` (int16 metres) and ``truth/`` (uint8
    glacier blobs, no-data tag 0), each scene on its own UTM grid (EPSG 326xx/327xx,
    30 m; Sentinel-2 odd scenes 10 m), 60..140 px a side except four scenes of 520..600
    px in one or both dimensions (tiled 256 x 256; the others in strips; one of them in
    validation), deflate-compressed with a horizontal predictor. About 10 MB in all.
    Deterministic for a seed.
    """
    root = pathlib.Path(root)
    for sub in ("scene", "dem", "truth"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for scene_id in (all_scene_ids() if scenes is None else list(scenes)):
        sensor = sensor_of(scene_id)
        bands, dem, truth, transform, crs = _sample_scene(scene_id, seed)
        _write_tif(root / "scene" / f"{scene_id}.tif", bands, transform, crs,
                   nodata=None if sensor == "s2" else 0, descriptions=BAND_NAMES[sensor])
        _write_tif(root / "dem" / f"{scene_id}_dem.tif", dem[None], transform, crs)
        _write_tif(root / "truth" / f"{scene_id}.tif", truth[None], transform, crs, nodata=0)
    return root
