"""TFDS builders of the eo-tfds datasets; importing this package registers them all.

    import tensorflow_datasets as tfds, tfds_builders
    ds = tfds.load("cloudsen12_hq/l1c", split="train", data_dir=DATA,
                   download_and_prepare_kwargs={"download_config":
                       tfds.download.DownloadConfig(manual_dir=MANUAL)})

The tf.data pipelines that feed Keras live in :mod:`tfds_builders.pipelines`.
"""

from tfds_builders.cloudsen12_hq import Cloudsen12Hq

#: dataset name -> builder class, in the order of the SPEC
BUILDERS = {
    "cloudsen12_hq": Cloudsen12Hq,
}

__all__ = ["BUILDERS", "Cloudsen12Hq"]
