"""CloudSEN12 high-quality: raw memmap arrays (FORMATS.md section 1).

On disk, one folder per split (``train/``, ``val/``, ``test/``) holding one headerless
C-order file per layer, ``<LAYER>.dat``, of shape ``(N, 512, 512)``. N is stored nowhere:
it is ``file_size / (512 * 512 * itemsize)``.

What the reader gives, one patch at a time (:meth:`CloudSEN12Split.read`):

- ``image``: channels-last ``(512, 512, C)``, the source values bit for bit
  (int16 reflectance x 1e4 for ``l1c``/``l2a``, float32 for ``s1``);
- ``label``: uint8 ``(512, 512)``, ``manual_hq`` classes 0..3, anything else 255;
- ``id``: ``"<split folder>/<index>"``.

The scene is 509 x 509 pixels padded to 512 x 512: the true data is ``[1:510, 1:510]``
(:data:`VALID_BOX`). Layers are opened with ``mmap`` and the pages of a patch are given
back to the kernel once it is read, so a pass over a 1 TB split keeps a small,
constant resident set.

:func:`write_samples` writes small files in exactly this layout (padding included).
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parsers.errors import SourceDataError

PATCH = 512
#: The true scene inside each 512 x 512 patch: (row0, col0, row1, col1), half-open.
VALID_BOX = (1, 1, 510, 510)

L1C_BANDS = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"]
L2A_BANDS = [b for b in L1C_BANDS if b != "B10"]
S1_BANDS = ["VV", "VH", "angle"]
CLASS_NAMES = ["clear", "thick_cloud", "thin_cloud", "cloud_shadow"]
NO_LABEL = 255

#: Split name (TFDS) -> accepted folder names, first is the publisher's.
SPLIT_FOLDERS = {"train": ("train",), "validation": ("val", "validation"), "test": ("test",)}

LABEL_LAYER = "LABEL_manual_hq"


@dataclass(frozen=True)
class ConfigLayers:
    """The layers one builder config reads, in channel order."""

    layers: tuple[str, ...]
    bands: tuple[str, ...]
    dtype: np.dtype
    scale: float  # physical value = stored value * scale


CONFIGS = {
    "l1c": ConfigLayers(tuple(f"L1C_{b}" for b in L1C_BANDS), tuple(L1C_BANDS), np.dtype("<i2"), 1e-4),
    "l2a": ConfigLayers(tuple(f"L2A_{b}" for b in L2A_BANDS), tuple(L2A_BANDS), np.dtype("<i2"), 1e-4),
    "s1": ConfigLayers(tuple(f"S1_{b}" for b in S1_BANDS), tuple(S1_BANDS), np.dtype("<f4"), 1.0),
}


def layer_dtype(name: str) -> np.dtype:
    """The on-disk dtype of a canonical layer name (FORMATS.md section 1)."""
    if name.startswith(("L1C_", "L2A_", "EXTRA_")) or name == "LABEL_fmask":
        return np.dtype("<i2")
    if name.startswith("S1_"):
        return np.dtype("<f4")
    if name.startswith("LABEL_"):
        return np.dtype("i1")
    raise KeyError(name)


_BAND_RE = re.compile(r"(L1C|L2A)_B0*(\d{1,2})(A?)", re.IGNORECASE)


def canonical_layer_name(stem: str) -> str:
    """Map a file stem to the layer's canonical name.

    ``L1C_B04`` and ``L1C_B4`` both become ``L1C_B4``; ``manual_hq`` becomes
    ``LABEL_manual_hq``. Other names are returned unchanged.
    """
    m = _BAND_RE.fullmatch(stem)
    if m:
        return f"{m.group(1).upper()}_B{int(m.group(2))}{m.group(3).upper()}"
    if stem.lower() in ("manual_hq", "label_manual_hq"):
        return LABEL_LAYER
    return stem


def discover_layers(folder: Path) -> dict[str, Path]:
    """All ``.dat`` layers of a split folder, by canonical name."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() != ".dat" or not path.is_file():
            continue
        name = canonical_layer_name(path.stem)
        if name in found:
            raise SourceDataError(
                path, f"layer {name} is also present as {found[name].name}",
                "keep only one spelling of each layer in the folder")
        found[name] = path
    return found


def find_split_folder(manual_dir: Path, split: str) -> Path:
    """The folder of a split under ``manual_dir`` (``val/`` or ``validation/`` for validation)."""
    for name in SPLIT_FOLDERS[split]:
        if (Path(manual_dir) / name).is_dir():
            return Path(manual_dir) / name
    wanted = SPLIT_FOLDERS[split][0]
    raise SourceDataError(
        Path(manual_dir) / wanted, f"split folder for {split!r} not found",
        f"put the CloudSEN12 '{wanted}/' folder with its .dat layers under {manual_dir}")


class CloudSEN12Split:
    """The layers of one split folder that one config needs, memory-mapped.

    Args:
        folder: the split folder (``.../train``).
        config: ``"l1c"``, ``"l2a"`` or ``"s1"``.

    Raises:
        SourceDataError: a layer is missing, its size is not a multiple of one
            512 x 512 image, or two layers disagree on N.
    """

    def __init__(self, folder: os.PathLike | str, config: str = "l1c"):
        self.folder = Path(folder)
        self.config = CONFIGS[config]
        if not self.folder.is_dir():
            raise SourceDataError(self.folder, "split folder does not exist",
                                  "point --manual-dir at the folder holding train/, val/, test/")
        layers = discover_layers(self.folder)
        wanted = list(self.config.layers) + [LABEL_LAYER]
        self.paths: list[Path] = []
        n = None
        first = None
        for name in wanted:
            if name not in layers:
                raise SourceDataError(
                    self.folder / f"{name}.dat", f"layer {name} missing for config {config!r}",
                    "download this layer into the split folder (either spelling, e.g. "
                    "L1C_B4.dat or L1C_B04.dat, is accepted)")
            path = layers[name]
            dtype = layer_dtype(name)
            size = path.stat().st_size
            per_image = PATCH * PATCH * dtype.itemsize
            if size == 0 or size % per_image:
                raise SourceDataError(
                    path, f"size {size} bytes is not a whole number of {PATCH}x{PATCH} "
                    f"{dtype.name} images ({per_image} bytes each)",
                    "the download is truncated or corrupt: fetch this file again")
            count = size // per_image
            if n is None:
                n, first = count, path
            elif count != n:
                raise SourceDataError(
                    path, f"holds {count} images but {first.name} holds {n}",
                    "the layers of one split must agree: fetch the shorter file again")
            self.paths.append(path)
        self.n = int(n)
        self._dtypes = [layer_dtype(name) for name in wanted]
        self._maps: list[mmap.mmap] | None = None

    @property
    def name(self) -> str:
        """The split folder's name (``train``, ``val``, ...), used in example ids."""
        return self.folder.name

    def __len__(self) -> int:
        return self.n

    def _open(self) -> list[mmap.mmap]:
        if self._maps is None:
            maps = []
            for path in self.paths:
                with open(path, "rb") as f:
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                mm.madvise(mmap.MADV_SEQUENTIAL)
                maps.append(mm)
            self._maps = maps
        return self._maps

    def close(self) -> None:
        if self._maps is not None:
            for mm in self._maps:
                mm.close()
            self._maps = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):  # picklable for worker processes: maps are reopened lazily
        state = dict(self.__dict__)
        state["_maps"] = None
        return state

    def memmap(self, layer_index: int) -> np.memmap:
        """The whole layer ``(N, 512, 512)`` as a read-only ``np.memmap`` (random access)."""
        return np.memmap(self.paths[layer_index], dtype=self._dtypes[layer_index], mode="r",
                         shape=(self.n, PATCH, PATCH))

    def read(self, index: int, image_out: np.ndarray | None = None) -> dict:
        """Patch ``index`` as ``{"id", "image", "label"}`` (see module docstring).

        ``image_out``, a ``(512, 512, C)`` array of the config's dtype, is filled and
        returned instead of a new array (lets a writer reuse one buffer).
        """
        if not 0 <= index < self.n:
            raise IndexError(f"patch {index} out of range for {self.n} patches in {self.folder}")
        maps = self._open()
        nbands = len(self.config.layers)
        if image_out is None:
            image_out = np.empty((PATCH, PATCH, nbands), self.config.dtype)
        label = None
        for c, (mm, dtype) in enumerate(zip(maps, self._dtypes)):
            nbytes = PATCH * PATCH * dtype.itemsize
            offset = index * nbytes
            src = np.frombuffer(mm, dtype=dtype, count=PATCH * PATCH, offset=offset)
            src = src.reshape(PATCH, PATCH)
            if c < nbands:
                image_out[..., c] = src
            else:
                raw = src.view(np.uint8)  # a pad byte 255 reads -1 as int8: any value > 3 is "no label"
                label = np.where(raw < len(CLASS_NAMES), raw, np.uint8(NO_LABEL))
                del raw
            del src  # no view may outlive the page release below (or mmap.close)
            # Hand the pages back: the page cache keeps them, our resident set does not.
            mm.madvise(mmap.MADV_DONTNEED, offset, nbytes)
        return {"id": f"{self.name}/{index}", "image": image_out, "label": label}

    def __iter__(self) -> Iterator[dict]:
        return self.iter_patches()

    def iter_patches(self, start: int = 0, stop: int | None = None) -> Iterator[dict]:
        """Patches ``start .. stop-1`` in order, one at a time."""
        stop = self.n if stop is None else min(stop, self.n)
        for i in range(start, stop):
            yield self.read(i)


# --------------------------------------------------------------------------- samples

#: Spelling variants of the layer names seen in the wild.
SPELLINGS = ("publisher", "zero_padded")


def _file_stem(name: str, spelling: str) -> str:
    if spelling == "zero_padded":
        m = _BAND_RE.fullmatch(name)
        if m and len(m.group(2)) == 1:
            return f"{m.group(1)}_B0{m.group(2)}{m.group(3)}"
        if name == LABEL_LAYER:
            return "manual_hq"
    return name


def _smooth_field(rng: np.random.Generator, n: int, coarse: int = 8) -> np.ndarray:
    """(n, 509, 509) smooth random fields in [0, 1): upsampled coarse noise."""
    low = rng.random((n, coarse, coarse))
    rep = -(-509 // coarse)
    field = np.repeat(np.repeat(low, rep, axis=1), rep, axis=2)[:, :509, :509]
    # a light box blur so edges are not perfectly blocky
    field = (field + np.roll(field, 7, axis=1) + np.roll(field, 7, axis=2)) / 3.0
    return field


def _write_layer(path: Path, array: np.ndarray, pad_value) -> None:
    """Write (n, 509, 509) scene values padded to (n, 512, 512) as FORMATS.md describes."""
    n = array.shape[0]
    full = np.full((n, PATCH, PATCH), pad_value, dtype=array.dtype)
    r0, c0, r1, c1 = VALID_BOX
    full[:, r0:r1, c0:c1] = array
    tmp = path.with_name(path.name + ".tmp")
    full.tofile(tmp)
    os.replace(tmp, path)


def write_split_samples(folder: Path, n: int, rng: np.random.Generator, *,
                        spelling: str = "publisher", pad: int = 255) -> None:
    """Write one split folder: L1C, L2A (+AOT, WVP, TCI), S1, EXTRA and LABEL layers."""
    folder.mkdir(parents=True, exist_ok=True)
    cloud = _smooth_field(rng, n)  # cloudiness drives both the reflectance and the labels
    shadow = _smooth_field(rng, n)
    ground = _smooth_field(rng, n, coarse=16)
    labels = np.zeros((n, 509, 509), np.int8)
    labels[cloud > 0.55] = 2
    labels[cloud > 0.7] = 1
    labels[(shadow > 0.75) & (labels == 0)] = 3
    # a no-label block inside the scene (reads as -1, like a 255 byte)
    labels[0, 100:140, 200:260] = -1

    def reflectance(base: float, band: int) -> np.ndarray:
        v = base + 2500 * ground + 6000 * np.clip(cloud - 0.45, 0, None) / 0.55
        v = v - 800 * (labels == 3) + rng.normal(0, 40, v.shape) + 37 * band
        return np.clip(v, 1, 15000).astype(np.int16)

    for prefix, bands in (("L1C", L1C_BANDS), ("L2A", L2A_BANDS)):
        for b, band in enumerate(bands):
            _write_layer(folder / f"{_file_stem(f'{prefix}_{band}', spelling)}.dat",
                         reflectance(400 + 60 * b, b), pad)
    for name in ("L2A_AOT", "L2A_WVP", "L2A_TCI_R", "L2A_TCI_G", "L2A_TCI_B"):
        _write_layer(folder / f"{name}.dat", rng.integers(0, 255, (n, 509, 509), dtype=np.int16), pad)
    vv = (-12 + 6 * ground - 3 * (labels == 3)).astype(np.float32)
    vh = (vv - 7 + rng.normal(0, 0.5, vv.shape)).astype(np.float32)
    angle = np.broadcast_to(np.linspace(30, 45, 509, dtype=np.float32), vv.shape).copy()
    for name, arr in (("S1_VV", vv), ("S1_VH", vh), ("S1_angle", angle)):
        _write_layer(folder / f"{name}.dat", arr, np.float32(pad))
    for name in ("EXTRA_CDI", "EXTRA_Shwdirection", "EXTRA_elevation", "EXTRA_ocurrence",
                 "EXTRA_LC100", "EXTRA_LC10"):
        _write_layer(folder / f"{name}.dat", rng.integers(0, 3000, (n, 509, 509), dtype=np.int16), pad)
    _write_layer(folder / f"{_file_stem(LABEL_LAYER, spelling)}.dat", labels, np.int8(-1 if pad == 255 else 0))
    _write_layer(folder / "LABEL_fmask.dat", np.where(labels == 1, 4, 0).astype(np.int16), pad)
    for name in ("LABEL_s2cloudless", "LABEL_cd_fcnn_rgbi", "LABEL_cd_fcnn_rgbi_swir"):
        _write_layer(folder / f"{name}.dat", (labels == 1).astype(np.int8), np.int8(-1))
    for name in ("LABEL_kappamask_L1C", "LABEL_kappamask_L2A"):
        kappa = np.choose(np.clip(labels, 0, 3), [1, 4, 3, 2]).astype(np.int8)
        _write_layer(folder / f"{name}.dat", kappa, np.int8(-1))


def write_samples(root: os.PathLike | str, seed: int = 0,
                  sizes: Sequence[int] = (4, 2, 2)) -> Path:
    """Write small CloudSEN12 split folders under ``root`` in the publisher's layout.

    ``train/`` uses the publisher's spelling and 255 padding; ``val/`` the zero-padded
    band names, ``manual_hq.dat`` and 0 padding (the other release); ``test/`` the
    publisher's spelling again. ``sizes`` are the patch counts of train, val, test.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    plan = [("train", "publisher", 255), ("val", "zero_padded", 0), ("test", "publisher", 255)]
    for (folder, spelling, pad), n in zip(plan, sizes):
        write_split_samples(root / folder, n, rng, spelling=spelling, pad=pad)
    return root
