"""Small CloudSEN12 split folders in the publisher's layout, for tests and the demo.

:func:`write_samples` writes every layer the release has (L1C, L2A with AOT, WVP and TCI,
S1, EXTRA, LABEL), padded around the valid box as the release is, in both spellings of
the layer names and with both pad values seen in the wild. Each file is written through
:func:`parsers.atomic.atomic_path`: a killed writer leaves no partial layer behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parsers.atomic import atomic_path
from parsers.cloudsen12_hq.layers import BAND_RE, L1C_BANDS, L2A_BANDS, LABEL_LAYER, PATCH, VALID_BOX

#: Spelling variants of the layer names seen in the wild.
SPELLINGS = ("publisher", "zero_padded")


def _file_stem(name: str, spelling: str) -> str:
    if spelling == "zero_padded":
        m = BAND_RE.fullmatch(name)
        if m and len(m.group(2)) == 1:
            return f"{m.group(1)}_B0{m.group(2)}{m.group(3)}"
        if name.startswith("LABEL_"):  # manual_hq.dat, fmask.dat, QA60.dat, ...
            return name[len("LABEL_"):]
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
    """Write (n, 509, 509) scene values padded to (n, 512, 512) around the valid box."""
    n = array.shape[0]
    full = np.full((n, PATCH, PATCH), pad_value, dtype=array.dtype)
    r0, c0, r1, c1 = VALID_BOX
    full[:, r0:r1, c0:c1] = array
    with atomic_path(path) as tmp:
        full.tofile(tmp)


def write_split_samples(folder: Path, n: int, rng: np.random.Generator, *,
                        spelling: str = "publisher", pad: int = 255) -> None:
    """Write one split folder: L1C, L2A (+AOT, WVP, TCI), S1, EXTRA and LABEL layers."""
    folder.mkdir(parents=True, exist_ok=True)
    cloud = _smooth_field(rng, n)  # cloudiness drives both the reflectance and the labels
    shadow = _smooth_field(rng, n)
    ground = _smooth_field(rng, n, coarse=16)
    if n > 1:  # the last patch is cloud-free (it may have shadows): cloud cover 0
        cloud[-1] *= 0.5
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
    for name, mask in detector_masks(labels, cloud, shadow, ground).items():
        _write_layer(folder / f"{_file_stem(name, spelling)}.dat", mask,
                     mask.dtype.type(pad) if mask.dtype == np.int16 else np.int8(-1))


def detector_masks(labels: np.ndarray, cloud: np.ndarray, shadow: np.ndarray,
                   ground: np.ndarray) -> dict[str, np.ndarray]:
    """The published detectors' masks of (n, 509, 509) scenes, by layer name, each in its
    layer's dtype and value coding, made from the ``manual_hq`` labels and the fields
    that drew them so that their scores are known by design:

    - ``LABEL_kappamask_L1C``: the labels recoded (clear 1, thick 4, thin 3, shadow 2):
      every score 1;
    - ``LABEL_kappamask_L2A``: the same, but thin clouds read clear;
    - ``LABEL_s2cloudless``: 1 on thick clouds only (cloud UA 1);
    - ``LABEL_cd_fcnn_rgbi``: 1 on thick and thin clouds (cloud PA and UA 1);
    - ``LABEL_cd_fcnn_rgbi_swir``: 1 where the cloud field exceeds 0.5, a margin around
      every labelled cloud (cloud PA 1, UA below 1);
    - ``LABEL_QA60``: 1 (opaque) on thick clouds, 2 (cirrus) on thin clouds whose field
      exceeds 0.6 (cloud UA 1);
    - ``LABEL_sen2cor``: SCL 9 and 8 on thick clouds, 10 on thin, 3 on shadows and on
      clear pixels next to them (shadow UA below 1), else 4, 5, 6 or 11 by the ground;
    - ``LABEL_fmask`` (int16): 4 on thick clouds and thin ones whose field exceeds 0.6,
      2 on shadows whose field exceeds 0.8, else 0, 1 (water) or 3 (snow) by the ground.

    Pixels without a label (-1) read as clear (0) for the detectors.
    """
    label = np.clip(labels, 0, 3)
    thick, thin, shade = label == 1, label == 2, label == 3
    kappa_l1c = np.choose(label, [1, 4, 3, 2]).astype(np.int8)
    kappa_l2a = np.choose(label, [1, 4, 1, 2]).astype(np.int8)
    clear_scl = np.select([ground < 0.15, ground < 0.5, ground < 0.9], [6, 4, 5], 11)
    sen2cor = np.select([thick & (cloud > 0.85), thick, thin, shade | ((label == 0) & (shadow > 0.7))],
                        [9, 8, 10, 3], clear_scl).astype(np.int8)
    fmask = np.select([thick | (thin & (cloud > 0.6)), shade & (shadow > 0.8), ground < 0.15, ground > 0.9],
                      [4, 2, 1, 3], 0).astype(np.int16)
    qa60 = np.select([thick, thin & (cloud > 0.6)], [1, 2], 0).astype(np.int8)
    return {
        "LABEL_fmask": fmask,
        "LABEL_QA60": qa60,
        "LABEL_s2cloudless": thick.astype(np.int8),
        "LABEL_sen2cor": sen2cor,
        "LABEL_cd_fcnn_rgbi": (thick | thin).astype(np.int8),
        "LABEL_cd_fcnn_rgbi_swir": (cloud > 0.5).astype(np.int8),
        "LABEL_kappamask_L1C": kappa_l1c,
        "LABEL_kappamask_L2A": kappa_l2a,
    }


def write_samples(root: os.PathLike | str, seed: int = 0,
                  sizes: Sequence[int] = (4, 2, 2)) -> Path:
    """Write small CloudSEN12 split folders under ``root`` in the publisher's layout.

    ``train/`` uses the publisher's spelling and 255 padding; ``val/`` the zero-padded
    band names, the label layers without ``LABEL_`` (``manual_hq.dat``, ``fmask.dat``)
    and 0 padding (the other release); ``test/`` the publisher's spelling again.
    ``sizes`` are the patch counts of train, val, test. The last patch of a split of two
    or more has no cloud (cloud cover 0); the first has a block without label.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    plan = [("train", "publisher", 255), ("val", "zero_padded", 0), ("test", "publisher", 255)]
    for (folder, spelling, pad), n in zip(plan, sizes):
        write_split_samples(root / folder, n, rng, spelling=spelling, pad=pad)
    return root
