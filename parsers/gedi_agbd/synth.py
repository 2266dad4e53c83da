"""The sample writer of ``gedi_agbd``: small HDF5 batch files exactly as the publisher's
code writes them (tfds_builders/gedi_agbd/README.md, "Source format"), for the tests
and the demo."""

from __future__ import annotations

import datetime
import os
import pathlib

import h5py
import numpy as np

from parsers.atomic import atomic_path
from parsers.gedi_agbd.reader import GROUP, NO_DATA, SCL_CLASS_NAMES

__all__ = ["SAMPLE_FILES", "PUBLISHER_NAMES", "SAMPLE_LAYOUTS", "write_samples"]


def _write_h5(path: pathlib.Path, arrays: dict) -> None:
    """Write ``arrays`` as the publisher's ``numpy_to_hdf5``: group ``data``, LZF,
    chunks (1, ...), strings as variable-length UTF-8; temp name, then rename."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        group = f.create_group(GROUP)
        for name, value in arrays.items():
            dtype = value.dtype
            if dtype.kind in "SU":
                dtype = h5py.string_dtype()
            group.create_dataset(name, data=value, dtype=dtype, compression="lzf",
                                 chunks=(1,) + value.shape[1:])


def _hemi(degrees: int, letters: str) -> str:
    return letters[0] if degrees >= 0 else letters[1]


def _sample_arrays(rng: np.random.Generator, n: int, year: int, first_index: int) -> dict:
    """``n`` footprints of one batch, with the publisher's dtypes and value ranges."""
    s2 = np.empty((n, 12, 32, 32), np.int16)
    wc = np.empty((n, 1, 32, 32), np.uint8)
    dem = np.empty((n, 2, 32, 32), np.float32)
    raster = np.full((n, 1, 32, 32), NO_DATA, np.float32)
    transforms = np.empty((n, 9), np.float64)
    crs = np.empty((n, 1), "S12")
    scl_stats = np.empty((n, 12, 2), "S25")
    s2_name = np.empty((n, 1), "S62")
    wc_name = np.empty((n, 1), "S42")
    dem_name = np.empty((n, 1), "S42")
    agbd = np.empty((n, 1), np.float32)
    agbd_se = np.empty((n, 1), np.float32)
    gedi_name = np.empty((n, 1), "S60")
    shot = np.empty((n, 1), np.int64)
    acq = np.empty((n, 1), "S20")
    delta = np.empty((n, 1), np.float32)
    lat_lon = np.empty((n, 2), np.float64)
    yy, xx = np.mgrid[0:32, 0:32]
    epoch = datetime.datetime(2018, 1, 1)
    for i in range(n):
        lat = float(rng.uniform(-50, 50))
        lon = float(rng.uniform(-170, 170))
        zone = int((lon + 180) // 6) + 1
        epsg = (32600 if lat >= 0 else 32700) + zone
        when = datetime.datetime(year, 1, 1) + datetime.timedelta(
            seconds=int(rng.integers(0, 365 * 86400)))
        # Sentinel-2: SCL mostly vegetation / not vegetated, 16 valid centre pixels
        # (the publisher's filter), reflectances x 10000 with a few bright outliers.
        scl = rng.choice([4, 4, 4, 5, 5, 3, 6, 7, 8, 9, 10, 2], size=(32, 32)).astype(np.int16)
        scl[14:18, 14:18] = rng.choice([4, 5], size=(4, 4))
        s2[i, 0] = scl
        s2[i, 1:] = rng.integers(0, 6000, size=(11, 32, 32))
        s2[i, 1:, rng.integers(0, 32), rng.integers(0, 32)] = rng.integers(10000, 32767)
        counts = np.bincount(scl.reshape(-1), minlength=12)
        for c, name in enumerate(SCL_CLASS_NAMES):
            # np.array(list(stats.items())) turns the rounded float into its str()
            scl_stats[i, c] = (name, str(float(np.around(counts[c] / scl.size, 2))))
        wc[i, 0] = rng.choice([10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100], size=(32, 32))
        elevation = (rng.uniform(50, 2500) + np.cumsum(rng.normal(0, 0.3, (32, 32)), axis=0)
                     ).astype(np.float32)
        dz_dx, dz_dy = np.gradient(elevation)
        dem[i, 0] = elevation
        dem[i, 1] = np.degrees(np.arctan(np.sqrt(dz_dx ** 2 + dz_dy ** 2) * 0.1))
        value = np.float32(rng.uniform(5, 450))
        agbd[i, 0] = value
        agbd_se[i, 0] = np.float32(value * rng.uniform(0.05, 0.45))
        # The ~25 m footprint, rasterised with all_touched on the 10 m grid.
        disc = (yy - 15.5) ** 2 + (xx - 15.5) ** 2 <= 2.5 ** 2
        raster[i, 0][disc] = value
        x0 = float(rng.uniform(200000, 800000)) // 10 * 10
        y0 = float(rng.uniform(0, 9000000)) // 10 * 10
        transforms[i] = (10.0, 0.0, x0, 0.0, -10.0, y0, 0.0, 0.0, 1.0)
        crs[i, 0] = f"EPSG:{epsg}"
        tile = f"{zone:02d}{'CDEFGHJKLMNPQRSTUVWX'[int((lat + 80) // 8)]}" \
               f"{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUV'), 2))}"
        sensed = when + datetime.timedelta(days=int(rng.integers(-10, 11)))
        s2_name[i, 0] = (f"S2{'AB'[i % 2]}_MSIL2A_{sensed:%Y%m%dT%H%M%S}_N0214_R"
                         f"{int(rng.integers(1, 144)):03d}_T{tile}_{sensed:%Y%m%dT%H%M%S}")
        # Tiles are named by their south-west corner: 3 degrees (WorldCover), 1 (CopDEM).
        wc_lat, wc_lon = int(lat // 3 * 3), int(lon // 3 * 3)
        wc_name[i, 0] = (f"ESA_WorldCover_10m_{year}_v{100 if year == 2020 else 200}_"
                         f"{_hemi(wc_lat, 'NS')}{abs(wc_lat):02d}"
                         f"{_hemi(wc_lon, 'EW')}{abs(wc_lon):03d}_Map")
        dem_lat, dem_lon = int(lat // 1), int(lon // 1)
        dem_name[i, 0] = (f"Copernicus_DSM_COG_10_{_hemi(dem_lat, 'NS')}{abs(dem_lat):02d}_00_"
                          f"{_hemi(dem_lon, 'EW')}{abs(dem_lon):03d}_00_DEM")
        orbit = 5000 + first_index + i // 4
        gedi_name[i, 0] = (f"GEDI04_A_{when:%Y%j%H%M%S}_O{orbit:05d}_0{1 + i % 4}_T0"
                           f"{int(rng.integers(1000, 9999))}_02_002_02_V002.h5")
        beam = (0, 1, 2, 3, 5, 6, 8, 11)[i % 8]
        shot[i, 0] = orbit * 10 ** 13 + beam * 10 ** 11 + 2 * 10 ** 8 + \
            int(rng.integers(0, 10 ** 6)) * 100 + first_index + i
        acq[i, 0] = f"{when:%Y-%m-%d-%H-%M-%S}"
        delta[i, 0] = (when - epoch).total_seconds() + float(rng.uniform(0, 1))
        lat_lon[i] = (lat, lon)
    return {
        "Sentinel-2 L2A": s2,
        "WorldCover": wc,
        "CopDEM": dem,
        "AGBD Raster": raster,
        "Transforms": transforms,
        "CRS": crs,
        "S2 SCL Stats": scl_stats,
        "Sentinel-2 Product Name": s2_name,
        "WorldCover Tile Name": wc_name,
        "CopDEM Tile Name": dem_name,
        "AGBD Values": agbd,
        "AGBD Standard Error": agbd_se,
        "GEDI Product Name": gedi_name,
        "GEDI Shot Number": shot,
        "GEDI Acquisition Time": acq,
        "GEDI Delta Time": delta,
        "GEDI Lat Lon": lat_lon,
    }


#: The sample files: name -> (examples, year). 2020 is the train year, 2021 the test year.
SAMPLE_FILES = {
    "train_batch_0.h5": (12, 2020),
    "train_batch_1.h5": (9, 2020),
    "test_batch_0.h5": (7, 2021),
}
#: The same files as the publisher's scripts name them (``batch_<size>_<i>.h5``, batch
#: size 12, the last batch short), the test year's in a ``test/`` folder.
PUBLISHER_NAMES = {
    "train_batch_0.h5": "batch_12_0.h5",
    "train_batch_1.h5": "batch_12_1.h5",
    "test_batch_0.h5": "test/batch_7_0.h5",
}
SAMPLE_LAYOUTS = ("split_names", "publisher")


def write_samples(root: os.PathLike | str, seed: int = 0,
                  layout: str = "split_names") -> pathlib.Path:
    """Write small batch files as the publisher's code does, under ``root``.

    ``layout="split_names"``: ``train_batch_0.h5`` (12 footprints), ``train_batch_1.h5``
    (9), ``test_batch_0.h5`` (7) directly under ``root``; ``"publisher"``: the same files
    named as the publisher's scripts name them, ``batch_12_0.h5``, ``batch_12_1.h5``
    (train) and ``test/batch_7_0.h5`` (:data:`PUBLISHER_NAMES`). Group ``data``, all 17
    datasets with the code's dtypes (int16 Sentinel-2, float64 transforms and lat/lon,
    float32 delta time), LZF, chunks (1, ...), variable-length UTF-8 strings, SCL stats
    as (N, 12, 2) (name, fraction text), AGBD raster -9999 outside the footprint, unique
    shot numbers. About 1 MB; the same bytes of data for the same seed in either layout.
    Returns ``root``.
    """
    if layout not in SAMPLE_LAYOUTS:
        raise ValueError(f"layout must be one of {SAMPLE_LAYOUTS}, not {layout!r}")
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    first = 0
    for name, (n, year) in SAMPLE_FILES.items():
        path = root / (PUBLISHER_NAMES[name] if layout == "publisher" else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_h5(path, _sample_arrays(rng, n, year, first))
        first += n
    return root
