"""CloudSEN12 high-quality (memmap arrays)."""

from tfds_builders.cloudsen12_hq.cloudsen12_hq_dataset_builder import Cloudsen12Hq, Cloudsen12HqConfig
from tfds_builders.cloudsen12_hq.resplit import resplit_ids

__all__ = ["Cloudsen12Hq", "Cloudsen12HqConfig", "resplit_ids"]
