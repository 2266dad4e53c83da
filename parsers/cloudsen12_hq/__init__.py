"""CloudSEN12 high-quality: raw memmap arrays (``cloudsen12_hq``).

On disk, one folder per split (``train/``, ``val/``, ``test/``) holding one headerless
C-order file per layer, ``<LAYER>.dat``, of shape ``(N, 512, 512)``; N is stored nowhere.
The format, its spellings and its padding are described in
``tfds_builders/cloudsen12_hq/README.md``.

- :mod:`.layers`: layer names, spellings and dtypes, the configs' layers, the constants
  (``PATCH``, ``VALID_BOX``, band and class names, the detectors' value classes);
- :mod:`.reader`: :class:`CloudSEN12Split`, the memmap reader, one patch at a time;
- :mod:`.synth`: :func:`write_samples`, small split folders in the publisher's layout.
"""

from parsers.cloudsen12_hq.layers import (
    CLASS_NAMES,
    CONFIGS,
    DETECTORS,
    L1C_BANDS,
    L2A_BANDS,
    LABEL_LAYER,
    NO_LABEL,
    PATCH,
    S1_BANDS,
    SPLIT_FOLDERS,
    VALID_BOX,
    ConfigLayers,
    Detector,
    canonical_layer_name,
    discover_layers,
    find_split_folder,
    layer_dtype,
)
from parsers.cloudsen12_hq.reader import CloudSEN12Split
from parsers.cloudsen12_hq.synth import SPELLINGS, detector_masks, write_samples, write_split_samples

__all__ = [
    "CLASS_NAMES", "CONFIGS", "DETECTORS", "L1C_BANDS", "L2A_BANDS", "LABEL_LAYER", "NO_LABEL", "PATCH", "S1_BANDS",
    "SPLIT_FOLDERS", "VALID_BOX", "ConfigLayers", "Detector", "canonical_layer_name", "discover_layers",
    "find_split_folder", "layer_dtype", "CloudSEN12Split", "SPELLINGS", "detector_masks", "write_samples",
    "write_split_samples",
]
