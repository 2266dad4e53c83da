"""The memmap reader: one split folder of CloudSEN12 layers, one patch at a time.

What :meth:`CloudSEN12Split.read` gives for patch ``i`` of a split folder:

- ``image``: channels-last ``(512, 512, C)``, the source values bit for bit
  (int16 reflectance x 1e4 for ``l1c``/``l2a``, float32 for ``s1``); for ``detectors``
  instead ``masks``: ``{name: (512, 512)}``, each detector's layer bit for bit in its
  own dtype (``fmask`` int16, the others int8), names as in ``DETECTORS``;
- ``label``: uint8 ``(512, 512)``, ``manual_hq`` classes 0..3, anything else 255;
- ``id``: ``"<split folder>/<index>"``.

Layers are opened with ``mmap`` and the pages of a patch are given back to the kernel
once it is read, so a pass over a 1 TB split keeps a small, constant resident set.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from parsers.cloudsen12_hq.layers import CLASS_NAMES, CONFIGS, LABEL_LAYER, NO_LABEL, PATCH, discover_layers, layer_dtype
from parsers.errors import SourceDataError


class CloudSEN12Split:
    """The layers of one split folder that one config needs, memory-mapped.

    Args:
        folder: the split folder (``.../train``).
        config: ``"l1c"``, ``"l2a"``, ``"s1"`` or ``"detectors"``.

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
                    "download this layer into the split folder (any spelling is accepted, "
                    "e.g. L1C_B4.dat or L1C_B04.dat, LABEL_fmask.dat or fmask.dat)")
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
        """Patch ``index`` as ``{"id", "image", "label"}``, or ``{"id", "masks", "label"}``
        for ``detectors`` (see module docstring).

        ``image_out``, a ``(512, 512, C)`` array of the config's dtype, is filled and
        returned instead of a new array (lets a writer reuse one buffer).
        """
        if not 0 <= index < self.n:
            raise IndexError(f"patch {index} out of range for {self.n} patches in {self.folder}")
        maps = self._open()
        nbands = len(self.config.layers)
        masks = {} if self.config.masks else None
        if image_out is None and masks is None:
            image_out = np.empty((PATCH, PATCH, nbands), self.config.dtype)
        label = None
        for c, (mm, dtype) in enumerate(zip(maps, self._dtypes)):
            nbytes = PATCH * PATCH * dtype.itemsize
            offset = index * nbytes
            src = np.frombuffer(mm, dtype=dtype, count=PATCH * PATCH, offset=offset)
            src = src.reshape(PATCH, PATCH)
            if masks is not None and c < nbands:
                masks[self.config.bands[c]] = src.copy()
            elif c < nbands:
                image_out[..., c] = src
            else:
                raw = src.view(np.uint8)  # a pad byte 255 reads -1 as int8: any value > 3 is "no label"
                label = np.where(raw < len(CLASS_NAMES), raw, np.uint8(NO_LABEL))
                del raw
            del src  # no view may outlive the page release below (or mmap.close)
            # Hand the pages back: the page cache keeps them, our resident set does not.
            mm.madvise(mmap.MADV_DONTNEED, offset, nbytes)
        if masks is not None:
            return {"id": f"{self.name}/{index}", "masks": masks, "label": label}
        return {"id": f"{self.name}/{index}", "image": image_out, "label": label}

    def __iter__(self) -> Iterator[dict]:
        return self.iter_patches()

    def iter_patches(self, start: int = 0, stop: int | None = None) -> Iterator[dict]:
        """Patches ``start .. stop-1`` in order, one at a time."""
        stop = self.n if stop is None else min(stop, self.n)
        for i in range(start, stop):
            yield self.read(i)
