"""CloudSEN12 layers: their names, spellings, dtypes, and which ones each config reads.

The one home of the dataset's constants (patch size, valid box, band and class names);
the builder puts them into ``info.metadata``, the pipeline reads them from there. The
source format is described in ``tfds_builders/cloudsen12_hq/README.md``.
"""

from __future__ import annotations

import re
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
class Detector:
    """A published cloud detector's mask layer and which of its values mean what
    (the classes the CloudSEN12 paper scores it with)."""

    layer: str
    #: values meaning cloud; None: any value > 0 (binary masks, QA60)
    cloud: tuple[int, ...] | None
    #: values meaning cloud shadow; None: the detector has no shadow class
    shadow: tuple[int, ...] | None
    #: what the stored values mean, for ``info.metadata``
    values: str


#: Config ``detectors``: mask name (the feature key under ``masks``) -> detector.
DETECTORS = {
    "fmask": Detector("LABEL_fmask", (4,), (2,), "0, 1, 3 clear; 2 cloud shadow; 4 cloud"),
    "qa60": Detector("LABEL_QA60", None, None,
                     "0 clear, 1 opaque cloud (QA60 1024), 2 cirrus (QA60 2048)"),
    "s2cloudless": Detector("LABEL_s2cloudless", None, None, "0 clear, 1 cloud"),
    "sen2cor": Detector("LABEL_sen2cor", (8, 9, 10), (3,),
                        "Sen2Cor SCL: 2, 4, 5, 6, 11 clear; 3 cloud shadow; 8, 9 cloud "
                        "(medium, high probability); 10 thin cirrus"),
    "cd_fcnn_rgbi": Detector("LABEL_cd_fcnn_rgbi", None, None, "0 clear, 1 cloud"),
    "cd_fcnn_rgbi_swir": Detector("LABEL_cd_fcnn_rgbi_swir", None, None, "0 clear, 1 cloud"),
    "kappamask_l1c": Detector("LABEL_kappamask_L1C", (3, 4), (2,),
                              "1 clear, 2 cloud shadow, 3 semi-transparent cloud, 4 cloud"),
    "kappamask_l2a": Detector("LABEL_kappamask_L2A", (3, 4), (2,),
                              "1 clear, 2 cloud shadow, 3 semi-transparent cloud, 4 cloud"),
}


@dataclass(frozen=True)
class ConfigLayers:
    """The layers one builder config reads, in order: the image's channels (``bands``
    names them), or, with ``dtype`` None, masks kept apart (``bands`` are their keys),
    each in its layer's own dtype."""

    layers: tuple[str, ...]
    bands: tuple[str, ...]
    dtype: np.dtype | None
    scale: float | None  # physical value = stored value * scale

    @property
    def masks(self) -> bool:
        """True for a config of masks (``detectors``), False for an image config."""
        return self.dtype is None


CONFIGS = {
    "l1c": ConfigLayers(tuple(f"L1C_{b}" for b in L1C_BANDS), tuple(L1C_BANDS), np.dtype("<i2"), 1e-4),
    "l2a": ConfigLayers(tuple(f"L2A_{b}" for b in L2A_BANDS), tuple(L2A_BANDS), np.dtype("<i2"), 1e-4),
    "s1": ConfigLayers(tuple(f"S1_{b}" for b in S1_BANDS), tuple(S1_BANDS), np.dtype("<f4"), 1.0),
    "detectors": ConfigLayers(tuple(d.layer for d in DETECTORS.values()), tuple(DETECTORS), None, None),
}


def layer_dtype(name: str) -> np.dtype:
    """The on-disk dtype of a canonical layer name (``LABEL_fmask`` int16, other
    ``LABEL_*`` one byte, ``S1_*`` float32, the rest int16)."""
    if name.startswith(("L1C_", "L2A_", "EXTRA_")) or name == "LABEL_fmask":
        return np.dtype("<i2")
    if name.startswith("S1_"):
        return np.dtype("<f4")
    if name.startswith("LABEL_"):
        return np.dtype("i1")
    raise KeyError(name)


BAND_RE = re.compile(r"(L1C|L2A)_B0*(\d{1,2})(A?)", re.IGNORECASE)


#: the label layers by their lower-case name without ``LABEL_``: ``"qa60"`` -> ``"LABEL_QA60"``
_LABEL_LAYERS = {name[len("LABEL_"):].lower(): name
                 for name in (LABEL_LAYER, *(d.layer for d in DETECTORS.values()))}


def canonical_layer_name(stem: str) -> str:
    """Map a file stem to the layer's canonical name.

    ``L1C_B04`` and ``L1C_B4`` both become ``L1C_B4``; a label layer may lack its
    ``LABEL_`` prefix and take any letter case: ``manual_hq`` becomes
    ``LABEL_manual_hq``, ``fmask`` ``LABEL_fmask``, ``qa60`` ``LABEL_QA60``. Other
    names are returned unchanged.
    """
    m = BAND_RE.fullmatch(stem)
    if m:
        return f"{m.group(1).upper()}_B{int(m.group(2))}{m.group(3).upper()}"
    lower = stem.lower()
    name = _LABEL_LAYERS.get(lower[len("label_"):] if lower.startswith("label_") else lower)
    return name if name is not None else stem


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
