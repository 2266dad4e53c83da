"""TFDS builders of the eo-tfds datasets; importing this package registers them all.

    import tensorflow_datasets as tfds, tfds_builders
    ds = tfds.load("cloudsen12_hq/l1c", split="train", data_dir=DATA,
                   download_and_prepare_kwargs={"download_config":
                       tfds.download.DownloadConfig(manual_dir=MANUAL)})

The tf.data pipelines that feed Keras live in :mod:`tfds_builders.pipelines`.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from tfds_builders.cloudsen12_hq import Cloudsen12Hq
from tfds_builders.cpazmal import Cpazmal
from tfds_builders.gedi_agbd import GediAgbd
from tfds_builders.glacier_interp import GlacierInterp
from tfds_builders.s2_cloud_timeseries import S2CloudTimeseries

@dataclass(frozen=True)
class Dataset:
    """One dataset of eo-tfds: its name, which is also the name of its builder, of its
    parser package ``parsers.<name>``, of its builder package ``tfds_builders.<name>``
    and of its pipeline function ``tfds_builders.<name>.pipeline.<name>``
    (re-exported as ``tfds_builders.pipelines.<name>``)."""

    name: str
    builder: type

    @property
    def parser(self) -> ModuleType:
        """The format reader and sample writer, ``parsers.<name>`` (no TensorFlow)."""
        return importlib.import_module(f"parsers.{self.name}")

    @property
    def pipeline(self) -> Callable:
        """The tf.data pipeline function, ``tfds_builders.<name>.pipeline.<name>``."""
        return getattr(importlib.import_module(f"tfds_builders.{self.name}.pipeline"), self.name)

    @property
    def configs(self) -> list[str]:
        return [c.name for c in (self.builder.BUILDER_CONFIGS or [])]


#: The one registry: dataset name -> :class:`Dataset`. The command line, the demo, the
#: docs table and the tests take the list of datasets from here.
DATASETS: dict[str, Dataset] = {
    d.name: d for d in (
        Dataset("cloudsen12_hq", Cloudsen12Hq),
        Dataset("s2_cloud_timeseries", S2CloudTimeseries),
        Dataset("gedi_agbd", GediAgbd),
        Dataset("glacier_interp", GlacierInterp),
        Dataset("cpazmal", Cpazmal),
    )
}

#: dataset name -> builder class (derived from :data:`DATASETS`)
BUILDERS = {name: d.builder for name, d in DATASETS.items()}

__all__ = ["BUILDERS", "DATASETS", "Dataset", "Cloudsen12Hq", "Cpazmal", "GediAgbd", "GlacierInterp",
           "S2CloudTimeseries"]
