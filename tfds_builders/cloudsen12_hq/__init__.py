"""CloudSEN12 high-quality (memmap arrays): the builder, and the scoring of the published
cloud detectors (``score(data_dir, split="test", predictions=None)``, module
:mod:`tfds_builders.cloudsen12_hq.score`)."""

from tfds_builders.cloudsen12_hq.cloudsen12_hq_dataset_builder import Cloudsen12Hq, Cloudsen12HqConfig
from tfds_builders.cloudsen12_hq.resplit import resplit_ids
from tfds_builders.cloudsen12_hq.score import score

__all__ = ["Cloudsen12Hq", "Cloudsen12HqConfig", "resplit_ids", "score"]
