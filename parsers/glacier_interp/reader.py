"""The reader of the glacier interpretation GeoTIFF scenes (``glacier_interp``), with rasterio.

Layout under ``manual_dir`` (tfds_builders/glacier_interp/README.md, "Source format")::

    scene/<id>.tif       6 bands, uint16, raw surface-reflectance numbers
    dem/<id>_dem.tif     1 band, int16, AW3D30 elevation (m), same grid as the scene
    truth/<id>.tif       1 band, uint8, 1 glacier / 0 not glacier, same grid;
                         its GeoTIFF no-data tag is 0

with ``<id>`` = ``<sensor>_scene_<NN>``, sensor in ``l5 l7 l8 l9 s2``, NN ``01..13``.
Scenes 11..13 of each sensor are the ``validation`` split, all others ``train``. Every
scene has its own size and its own UTM grid; the three files of a scene must share
it (shape, transform, CRS). ``.tiff`` is accepted as well as ``.tif``.

What the reader returns (numpy only, no TensorFlow), one scene at a time:

- :func:`iter_scene_examples` (config ``scenes``): one example per scene, ``id`` str,
  ``sensor`` str, ``image`` uint16 (H, W, 6), ``dem`` int16 (H, W, 1), ``mask`` uint8
  (H, W), ``norm_min`` / ``norm_max`` float32 (7,): bit-exact file values.
- :func:`iter_tile_examples` (config ``tiles512``): a regular grid of 512 x 512 tiles
  from (0, 0), every scene pixel in exactly one tile; ``image`` float32 (512, 512, 7)
  normalised (0 outside the scene), ``mask`` uint8 (512, 512), 255 outside the scene.
- ``bounds="glaset"`` (configs ``glaset_scenes``; :func:`iter_glaset_tile_examples` for
  ``glaset_tiles256``): the same examples with the publisher's fixed per-sensor bounds.

Normalisation (per scene, per channel; channels = the 6 bands, then elevation), exactly
the publisher's ``calculate_histogram_params``: with the channel's n values sorted
(every pixel counts; the files carry no NaN and no no-data in scene or dem),
``lo = int(0.05 * n)``, ``min`` = mean of ``sorted[:lo + 1]``;
``hi = min(n - 1, int(0.95 * n))``, ``max`` = mean of ``sorted[hi:]``. The two tails
differ in length (e.g. n = 100: 6 values for min, 5 for max). The normalised value is
``clip((x - min) / (max - min + 1e-6), 0, 1)`` in float32 arithmetic on the float32
bounds, NaN -> 0 (a constant channel gives 0). The bounds are exact: an integer
histogram of each channel, accumulated strip by strip, so memory stays bounded.

The publisher's current protocol (its main branch; configs ``glaset_*``): validation =
every 4th of the 65 scene ids sorted by name (:func:`glaset_split_of`), fixed bounds per
sensor (:func:`glaset_bounds`) instead of per-scene ones, and validation tiles of 256 px
with a 40 px overlap where its ``img2patch`` puts them (:func:`glaset_tile_origins`).

The truth is always read raw (``masked=False``): its no-data tag is 0, and applying it
would hide the whole background class.

"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import re
from collections.abc import Iterator

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.windows import Window

from parsers.errors import SourceDataError

SENSORS = ("l5", "l7", "l8", "l9", "s2")
SPLITS = ("train", "validation")
VALIDATION_SCENE_NUMBERS = (11, 12, 13)
SCENES_PER_SENSOR = 13

#: The six bands of ``scene/<id>.tif``, in file order, per sensor.
BAND_NAMES = {
    "l5": ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7"),
    "l7": ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B7"),
    "l8": ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"),
    "l9": ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"),
    "s2": ("B2", "B3", "B4", "B8", "B11", "B12"),
}
#: The seven normalised input channels: the six bands (blue, green, red, NIR, SWIR 1,
#: SWIR 2 on every sensor), then elevation.
CHANNEL_NAMES = ("blue", "green", "red", "nir", "swir1", "swir2", "elevation")
CLASS_NAMES = ("not_glacier", "glacier")
NUM_BANDS = 6
NUM_CHANNELS = 7
TILE_SIZE = 512
#: Label outside the scene in ``tiles512`` masks.
IGNORE_LABEL = 255
#: Share of a scene's values averaged into each normalisation bound.
TAIL_FRACTION = 0.05
#: Normalisation bounds: the scene's own (``scene``), or the publisher's fixed ones.
BOUNDS = ("scene", "glaset")
#: Added to ``max - min`` by the publisher's normalisation.
NORM_EPSILON = 1e-6

#: The publisher's current protocol (main branch): fixed per-sensor bounds of the six
#: bands, and of elevation for every sensor.
GLASET_BAND_MIN = {"l5": 4891, "l7": 6719, "l8": 1, "l9": 1, "s2": 1}
GLASET_BAND_MAX = {"l5": 65454, "l7": 56297, "l8": 65439, "l9": 65453, "s2": 19312}
GLASET_ELEVATION = (-420, 8848)
GLASET_TILE_SIZE = 256
GLASET_OVERLAP = 40
#: Every GLASET_VALIDATION_EVERY-th id of the 65, sorted by name, is validation.
GLASET_VALIDATION_EVERY = 4

_ID_RE = re.compile(r"^(l5|l7|l8|l9|s2)_scene_(\d{2})$", re.IGNORECASE)
_TIF_SUFFIXES = (".tif", ".tiff")
# Pixels per strip read for the histograms: bounds memory (~100 MB at 6 bands).
_STRIP_PIXELS = 1 << 22


@dataclasses.dataclass(frozen=True)
class ScenePaths:
    """The three files of one scene."""

    scene: pathlib.Path
    dem: pathlib.Path
    truth: pathlib.Path


def all_scene_ids() -> list[str]:
    """The publisher's 65 scene ids, sorted."""
    return [f"{s}_scene_{n:02d}" for s in SENSORS for n in range(1, SCENES_PER_SENSOR + 1)]


_GLASET_VALIDATION = frozenset(sorted(all_scene_ids())[::GLASET_VALIDATION_EVERY])


def split_of(scene_id: str) -> str:
    """``"validation"`` for scenes 11..13 of a sensor, ``"train"`` for all others."""
    m = _ID_RE.match(scene_id)
    if m is None:
        raise ValueError(f"not a glacier scene id: {scene_id!r}")
    return "validation" if int(m.group(2)) in VALIDATION_SCENE_NUMBERS else "train"


def glaset_split_of(scene_id: str) -> str:
    """The publisher's current split: ``"validation"`` for every 4th of the 65 scene ids
    sorted by name (``ids[::4]``: 17 scenes), ``"train"`` for the other 48. Decided on
    the publisher's 65 ids, so a manual_dir holding a subset splits the same way."""
    if _ID_RE.match(scene_id) is None:
        raise ValueError(f"not a glacier scene id: {scene_id!r}")
    return "validation" if scene_id.lower() in _GLASET_VALIDATION else "train"


def glaset_bounds(scene_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The publisher's fixed (norm_min, norm_max) of the scene's sensor, float32 (7,):
    the six bands, then elevation (-420 .. 8848 m)."""
    sensor = sensor_of(scene_id)
    lo = [GLASET_BAND_MIN[sensor]] * NUM_BANDS + [GLASET_ELEVATION[0]]
    hi = [GLASET_BAND_MAX[sensor]] * NUM_BANDS + [GLASET_ELEVATION[1]]
    return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


def sensor_of(scene_id: str) -> str:
    """The sensor name (``l5 l7 l8 l9 s2``) of a scene id."""
    m = _ID_RE.match(scene_id)
    if m is None:
        raise ValueError(f"not a glacier scene id: {scene_id!r}")
    return m.group(1).lower()


def _find_tif(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    for suffix in _TIF_SUFFIXES + tuple(s.upper() for s in _TIF_SUFFIXES):
        path = folder / (stem + suffix)
        if path.is_file():
            return path
    return None


def scene_paths(manual_dir: os.PathLike | str, scene_id: str) -> ScenePaths:
    """The scene, dem and truth files of ``scene_id``; SourceDataError if one is missing."""
    root = pathlib.Path(manual_dir)
    scene = _find_tif(root / "scene", scene_id)
    if scene is None:
        raise SourceDataError(root / "scene" / f"{scene_id}.tif",
                              f"scene {scene_id}: scene file missing",
                              "put the 6-band GeoTIFF there")
    dem = _find_tif(root / "dem", f"{scene_id}_dem")
    if dem is None:
        raise SourceDataError(root / "dem" / f"{scene_id}_dem.tif",
                              f"scene {scene_id}: dem file missing (the scene is {scene})",
                              "put the scene's AW3D30 DEM there, on the scene's grid")
    truth = _find_tif(root / "truth", scene_id)
    if truth is None:
        raise SourceDataError(root / "truth" / f"{scene_id}.tif",
                              f"scene {scene_id}: truth file missing (the scene is {scene})",
                              "put the scene's glacier mask there, on the scene's grid")
    return ScenePaths(scene, dem, truth)


@contextlib.contextmanager
def _open(path: pathlib.Path, scene_id: str, role: str):
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioError as e:
        raise SourceDataError(path, f"scene {scene_id}: cannot open the {role} GeoTIFF ({e})",
                              "re-download the file") from e
    with src:
        yield src


def _read(src, path: pathlib.Path, scene_id: str, window: Window, indexes=None) -> np.ndarray:
    # masked=False: the truth's no-data tag is 0, the background class.
    try:
        return src.read(indexes, window=window, masked=False)
    except rasterio.errors.RasterioError as e:
        detail = e.__cause__ or e  # GDAL's own message ("IReadBlock failed ...")
        raise SourceDataError(path, f"scene {scene_id}: cannot read pixels in {window} "
                              f"({detail})", "re-download the file") from e


def _check_raster(src, path, scene_id, role, count, dtype):
    if src.count != count:
        raise SourceDataError(path, f"scene {scene_id}: {role} has {src.count} bands, "
                              f"expected {count}", "use the publisher's file")
    if any(np.dtype(d) != np.dtype(dtype) for d in src.dtypes):
        raise SourceDataError(path, f"scene {scene_id}: {role} has dtype "
                              f"{','.join(sorted(set(src.dtypes)))}, expected {dtype}",
                              "use the publisher's file")


def _same_transform(a: Affine, b: Affine) -> bool:
    # Tools round coordinates differently; a millionth of a pixel is the same grid.
    tol = 1e-6 * max(abs(a.a), abs(a.e), 1e-12)
    return all(abs(x - y) <= tol for x, y in zip(a[:6], b[:6]))


def _check_grid(scene_src, other, path, scene_id, role):
    problems = []
    if other.shape != scene_src.shape:
        problems.append(f"shape {other.shape} != scene's {scene_src.shape}")
    if not _same_transform(scene_src.transform, other.transform):
        problems.append(f"transform {tuple(other.transform)[:6]} != scene's "
                        f"{tuple(scene_src.transform)[:6]}")
    if scene_src.crs != other.crs:
        problems.append(f"CRS {other.crs} != scene's {scene_src.crs}")
    if problems:
        raise SourceDataError(path, f"scene {scene_id}: {role} is on another grid than the "
                              f"scene ({'; '.join(problems)})",
                              "resample it onto the scene's grid or replace it")


@contextlib.contextmanager
def _open_scene(manual_dir, scene_id: str):
    """Opens and checks the three files; yields (scene, dem, truth) datasets and paths."""
    paths = scene_paths(manual_dir, scene_id)
    with contextlib.ExitStack() as stack:
        scene = stack.enter_context(_open(paths.scene, scene_id, "scene"))
        dem = stack.enter_context(_open(paths.dem, scene_id, "dem"))
        truth = stack.enter_context(_open(paths.truth, scene_id, "truth"))
        _check_raster(scene, paths.scene, scene_id, "scene", NUM_BANDS, "uint16")
        _check_raster(dem, paths.dem, scene_id, "dem", 1, "int16")
        _check_raster(truth, paths.truth, scene_id, "truth", 1, "uint8")
        _check_grid(scene, dem, paths.dem, scene_id, "dem")
        _check_grid(scene, truth, paths.truth, scene_id, "truth")
        yield scene, dem, truth, paths


def check_scene(manual_dir: os.PathLike | str, scene_id: str) -> tuple[int, int]:
    """Checks one scene's three files (present, band counts, dtypes, one grid).

    Reads headers only. Returns the scene's (height, width); raises SourceDataError
    naming the scene and the file at fault.
    """
    with _open_scene(manual_dir, scene_id) as (scene, _, _, _):
        return scene.height, scene.width


def find_scenes(manual_dir: os.PathLike | str) -> list[tuple[str, str]]:
    """All scenes under ``manual_dir`` as sorted ``(scene_id, split)`` pairs.

    Every scene is checked (:func:`check_scene`, headers only): a missing dem or truth,
    a file on another grid, a band count or dtype other than the format's is a
    SourceDataError naming the scene and file. Hidden files and non-TIFFs are ignored.
    """
    root = pathlib.Path(manual_dir)
    folder = root / "scene"
    if not folder.is_dir():
        raise SourceDataError(folder, "no scene folder",
                              "manual_dir must hold scene/, dem/ and truth/")
    ids: dict[str, pathlib.Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in _TIF_SUFFIXES:
            continue
        if _ID_RE.match(path.stem) is None:
            raise SourceDataError(path, "not a scene name <sensor>_scene_<NN> "
                                  "(sensor l5 l7 l8 l9 s2)", "rename or remove it")
        if path.stem in ids:
            raise SourceDataError(path, f"scene {path.stem} is there twice "
                                  f"(also {ids[path.stem].name})", "keep one of them")
        ids[path.stem] = path
    if not ids:
        raise SourceDataError(folder, "no scene GeoTIFFs (<sensor>_scene_<NN>.tif)",
                              "put the publisher's scene files there")
    scenes = sorted(ids)
    for scene_id in scenes:
        check_scene(root, scene_id)
    return [(scene_id, split_of(scene_id)) for scene_id in scenes]


def scene_ids(manual_dir: os.PathLike | str, split: str) -> list[str]:
    """The work units of a split: its sorted scene ids (checked as in find_scenes)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    return [s for s, sp in find_scenes(manual_dir) if sp == split]


# --- normalisation ------------------------------------------------------------------

# Histograms cover the full 16-bit range; int16 values are shifted by this offset.
_HIST_BINS = 1 << 16
_INT16_OFFSET = 1 << 15


class _Histograms:
    """Exact per-channel value counts, accumulated one strip at a time."""

    def __init__(self):
        self.counts = np.zeros((NUM_CHANNELS, _HIST_BINS), np.int64)

    def add(self, bands: np.ndarray, dem: np.ndarray) -> None:
        """bands: uint16 (6, h, w); dem: int16 (h, w)."""
        for c in range(NUM_BANDS):
            self.counts[c] += np.bincount(bands[c].ravel(), minlength=_HIST_BINS)
        shifted = dem.astype(np.int32).ravel() + _INT16_OFFSET
        self.counts[NUM_BANDS] += np.bincount(shifted, minlength=_HIST_BINS)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        norm_min = np.zeros(NUM_CHANNELS, np.float32)
        norm_max = np.zeros(NUM_CHANNELS, np.float32)
        for c in range(NUM_CHANNELS):
            values = np.arange(_HIST_BINS, dtype=np.int64)
            if c == NUM_BANDS:
                values -= _INT16_OFFSET
            counts = self.counts[c]
            k_min, k_max = tail_counts(int(counts.sum()))
            norm_min[c] = _tail_mean(values, counts, k_min)
            norm_max[c] = _tail_mean(values[::-1], counts[::-1], k_max)
        return norm_min, norm_max


def tail_counts(n: int) -> tuple[int, int]:
    """How many of n sorted values the (min, max) bounds average, by the publisher's
    index rule: ``sorted[:lo + 1]`` with ``lo = int(0.05 n)``, and ``sorted[hi:]`` with
    ``hi = min(n - 1, int(0.95 n))``; e.g. n = 100 gives (6, 5), n = 20 gives (2, 1)."""
    lo = int(0.05 * n)  # the publisher's float expressions (equal to n*5//100 up to 2e6)
    hi = min(n - 1, int(0.95 * n))
    return lo + 1, n - hi


def _tail_mean(values: np.ndarray, counts: np.ndarray, k: int) -> float:
    """Exact mean of the first k values of the multiset (values, counts) in that order."""
    cum = np.cumsum(counts)
    i = int(np.searchsorted(cum, k))  # first bin that completes k values
    before = int(cum[i - 1]) if i else 0
    total = int(np.dot(values[:i], counts[:i])) + (k - before) * int(values[i])
    return total / k


def _strip_rows(src) -> int:
    """Rows per strip: a multiple of the block height, about _STRIP_PIXELS pixels."""
    block_h = max(1, src.block_shapes[0][0])
    rows = max(1, _STRIP_PIXELS // max(1, src.width))
    return max(block_h, rows // block_h * block_h)


def _strips(src) -> Iterator[Window]:
    step = _strip_rows(src)
    for r0 in range(0, src.height, step):
        yield Window(0, r0, src.width, min(step, src.height - r0))


def _bounds_of(scene, dem, paths: ScenePaths, scene_id: str):
    hist = _Histograms()
    for w in _strips(scene):
        hist.add(_read(scene, paths.scene, scene_id, w),
                 _read(dem, paths.dem, scene_id, w, 1))
    return hist.bounds()


def normalization_bounds(manual_dir: os.PathLike | str,
                         scene_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The scene's (norm_min, norm_max), float32 (7,) each: bands then elevation.

    Exact (see the module docstring), in one strip-by-strip pass over the files.
    """
    with _open_scene(manual_dir, scene_id) as (scene, dem, _, paths):
        return _bounds_of(scene, dem, paths, scene_id)


def normalize(x: np.ndarray, norm_min: np.ndarray, norm_max: np.ndarray) -> np.ndarray:
    """float32 ``clip((x - min) / (max - min + 1e-6), 0, 1)`` over the last axis, NaN -> 0.

    The publisher's normalisation, in float32 on float32 bounds (``max - min`` first,
    then ``+ 1e-6``). ``x`` is (..., 7) (any numeric dtype); a channel whose bounds are
    equal gives 0 (x = min there).
    """
    norm_min = np.asarray(norm_min, np.float32)
    span = (np.asarray(norm_max, np.float32) - norm_min) + np.float32(NORM_EPSILON)
    with np.errstate(invalid="ignore"):
        out = (np.asarray(x, np.float32) - norm_min) / span
    np.clip(out, 0.0, 1.0, out=out)
    np.nan_to_num(out, copy=False, nan=0.0)
    return out


# --- examples -----------------------------------------------------------------------


def _check_bounds(bounds: str) -> None:
    if bounds not in BOUNDS:
        raise ValueError(f"bounds must be one of {BOUNDS}, not {bounds!r}")


def iter_scene_examples(manual_dir: os.PathLike | str, scene_id: str,
                        bounds: str = "scene") -> Iterator[tuple[str, dict]]:
    """Configs ``scenes`` and ``glaset_scenes``: yields the one ``(scene_id, example)`` of a scene.

    example: ``id`` str, ``sensor`` str (l5 l7 l8 l9 s2), ``image`` uint16 (H, W, 6)
    raw reflectance numbers, ``dem`` int16 (H, W, 1) metres, ``mask`` uint8 (H, W)
    (1 glacier, 0 not), ``norm_min`` / ``norm_max`` float32 (7,): with
    ``bounds="scene"`` the scene's own bounds, from the same single pass that fills the
    arrays; with ``bounds="glaset"`` the fixed bounds of its sensor (:func:`glaset_bounds`).
    """
    _check_bounds(bounds)
    with _open_scene(manual_dir, scene_id) as (scene, dem, truth, paths):
        h, w = scene.height, scene.width
        image = np.empty((h, w, NUM_BANDS), np.uint16)
        elevation = np.empty((h, w, 1), np.int16)
        mask = np.empty((h, w), np.uint8)
        hist = _Histograms() if bounds == "scene" else None
        for win in _strips(scene):
            r0, r1 = win.row_off, win.row_off + win.height
            bands = _read(scene, paths.scene, scene_id, win)
            elev = _read(dem, paths.dem, scene_id, win, 1)
            image[r0:r1] = bands.transpose(1, 2, 0)
            elevation[r0:r1, :, 0] = elev
            mask[r0:r1] = _read(truth, paths.truth, scene_id, win, 1)
            if hist is not None:
                hist.add(bands, elev)
        norm_min, norm_max = hist.bounds() if hist is not None else glaset_bounds(scene_id)
    yield scene_id, {
        "id": scene_id,
        "sensor": sensor_of(scene_id),
        "image": image,
        "dem": elevation,
        "mask": mask,
        "norm_min": norm_min,
        "norm_max": norm_max,
    }


def tile_origins(height: int, width: int, tile_size: int = TILE_SIZE) -> list[tuple[int, int]]:
    """Top-left (row, col) of the regular tile grid from (0, 0), row-major.

    Every pixel of a (height, width) scene lies in exactly one tile; the last row and
    column of tiles reach past the scene when its size is not a multiple of tile_size.
    """
    return [(r, c) for r in range(0, height, tile_size) for c in range(0, width, tile_size)]


def glaset_tile_origins(height: int, width: int, tile_size: int = GLASET_TILE_SIZE,
                        overlap: int = GLASET_OVERLAP) -> list[tuple[int, int]]:
    """Top-left (row, col) of the publisher's ``img2patch`` tiles without padding, row-major.

    Step ``tile_size - overlap`` (216) from (0, 0), ``(height - overlap) // step`` rows and
    ``(width - overlap) // step`` columns: every tile lies inside the scene; a strip of
    up to ``step - 1`` pixels at the bottom and right is in no tile, and a scene smaller
    than a tile gives none.
    """
    step = tile_size - overlap
    rows, cols = max(0, (height - overlap) // step), max(0, (width - overlap) // step)
    return [(r * step, c * step) for r in range(rows) for c in range(cols)]


def tile_id(scene_id: str, row: int, col: int) -> str:
    """The id (and key) of a tile, e.g. ``"l8_scene_03/r512_c0"``."""
    return f"{scene_id}/r{row}_c{col}"


def _iter_tiles(manual_dir, scene_id: str, tile_size: int, origins, bounds: str):
    sensor = sensor_of(scene_id)
    with _open_scene(manual_dir, scene_id) as (scene, dem, truth, paths):
        if bounds == "scene":  # one pass over the scene for the bounds first
            norm_min, norm_max = _bounds_of(scene, dem, paths, scene_id)
        else:
            norm_min, norm_max = glaset_bounds(scene_id)
        for row, col in origins(scene.height, scene.width):
            h = min(tile_size, scene.height - row)
            w = min(tile_size, scene.width - col)
            win = Window(col, row, w, h)
            raw = np.empty((h, w, NUM_CHANNELS), np.float32)
            raw[..., :NUM_BANDS] = _read(scene, paths.scene, scene_id, win).transpose(1, 2, 0)
            raw[..., NUM_BANDS] = _read(dem, paths.dem, scene_id, win, 1)
            image = np.zeros((tile_size, tile_size, NUM_CHANNELS), np.float32)
            image[:h, :w] = normalize(raw, norm_min, norm_max)
            mask = np.full((tile_size, tile_size), IGNORE_LABEL, np.uint8)
            mask[:h, :w] = _read(truth, paths.truth, scene_id, win, 1)
            key = tile_id(scene_id, row, col)
            yield key, {
                "id": key,
                "sensor": sensor,
                "row": np.int32(row),
                "col": np.int32(col),
                "image": image,
                "mask": mask,
            }


def iter_tile_examples(manual_dir: os.PathLike | str,
                       scene_id: str) -> Iterator[tuple[str, dict]]:
    """Config ``tiles512``: yields ``(tile_id, example)`` for each 512 x 512 tile, row-major.

    example: ``id`` str (``"<scene_id>/r<row>_c<col>"``), ``sensor`` str, ``row``,
    ``col`` int32 (the tile's top-left pixel in the scene), ``image`` float32
    (512, 512, 7) normalised with the scene's bounds (bands then elevation; 0 outside
    the scene), ``mask`` uint8 (512, 512), the truth inside the scene, 255 outside.
    One pass over the scene for the bounds, then one window read per tile.
    """
    return _iter_tiles(manual_dir, scene_id, TILE_SIZE, tile_origins, "scene")


def iter_glaset_tile_examples(manual_dir: os.PathLike | str,
                              scene_id: str) -> Iterator[tuple[str, dict]]:
    """Config ``glaset_tiles256``: ``(tile_id, example)`` for each of the publisher's
    256 x 256 validation tiles (:func:`glaset_tile_origins`), row-major: the features of
    ``tiles512`` at 256 px, ``image`` normalised with the fixed bounds of the sensor;
    every tile lies inside the scene (no 255 in ``mask``)."""
    return _iter_tiles(manual_dir, scene_id, GLASET_TILE_SIZE, glaset_tile_origins, "glaset")
