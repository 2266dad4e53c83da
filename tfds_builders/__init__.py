"""TFDS builders of the eo-tfds datasets; importing this package registers them all.

    import tensorflow_datasets as tfds, tfds_builders
    ds = tfds.load("cloudsen12_hq/l1c", split="train", data_dir=DATA,
                   download_and_prepare_kwargs={"download_config":
                       tfds.download.DownloadConfig(manual_dir=MANUAL)})

The tf.data pipelines that feed Keras live in :mod:`tfds_builders.pipelines`.
"""

from tfds_builders.cloudsen12_hq import Cloudsen12Hq
from tfds_builders.cpazmal import Cpazmal
from tfds_builders.gedi_agbd import GediAgbd
from tfds_builders.glacier_interp import GlacierInterp
from tfds_builders.s2_cloud_timeseries import S2CloudTimeseries

#: dataset name -> builder class
BUILDERS = {
    "cloudsen12_hq": Cloudsen12Hq,
    "s2_cloud_timeseries": S2CloudTimeseries,
    "gedi_agbd": GediAgbd,
    "glacier_interp": GlacierInterp,
    "cpazmal": Cpazmal,
}

__all__ = ["BUILDERS", "Cloudsen12Hq", "Cpazmal", "GediAgbd", "GlacierInterp", "S2CloudTimeseries"]
