"""``cloudsen12_hq``: CloudSEN12 high-quality patches from the publisher's memmap arrays."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from parsers import cloudsen12_hq as src
from tfds_builders import core
from tfds_builders.cloudsen12_hq import resplit
from tfds_builders.stats import PatchStats


@dataclasses.dataclass
class Cloudsen12HqConfig(tfds.core.BuilderConfig):
    """One product of CloudSEN12: which layers make the image (or, for ``detectors``,
    the masks); ``src.CONFIGS[product]`` lists them."""

    product: str = "l1c"


class Cloudsen12Hq(core.EoBuilder):
    """CloudSEN12 high-quality: 512 x 512 patches, 13/12 S2 bands or 3 S1 layers, manual_hq labels.

    Features: ``id`` (``"<split folder>/<index>"``), ``image`` channels-last
    (int16 reflectance x 1e4 for ``l1c``/``l2a``, float32 for ``s1``), ``label`` uint8
    (0 clear, 1 thick cloud, 2 thin cloud, 3 cloud shadow, 255 no label / padding).
    Config ``detectors`` has ``masks`` instead of ``image``: the published cloud
    detectors' masks, ``{name: (512, 512)}`` bit for bit as the layers hold them
    (``fmask`` int16, the others int8), to score against the label
    (:mod:`tfds_builders.cloudsen12_hq.score`).
    The true scene is ``info.metadata["valid_box"]`` = ``[1, 1, 510, 510]``.
    """

    name = "cloudsen12_hq"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: l1c, l2a and s1 configs from the memmap (.dat) release, "
                 "images bit-exact, labels 0..3 or 255, per-band statistics of train.",
        "1.1.0": "Config detectors: the eight published detectors' masks (Fmask, QA60, "
                 "s2cloudless, Sen2Cor, CD-FCNN RGBI and RGBI-SWIR, KappaMask L1C and L2A) "
                 "bit for bit beside the label, for scoring; label layers are accepted "
                 "without their LABEL_ prefix. Per-patch band statistics of every split in "
                 "patch_stats.npz (re-split trials normalise with their own train part). "
                 "Examples of l1c, l2a and s1 unchanged.",
    }
    BUILDER_CONFIGS = [
        Cloudsen12HqConfig(name="l1c", product="l1c",
                           description="Sentinel-2 L1C top-of-atmosphere, 13 bands (int16, x 1e4)."),
        Cloudsen12HqConfig(name="l2a", product="l2a",
                           description="Sentinel-2 L2A surface reflectance, 12 bands without B10 (int16, x 1e4)."),
        Cloudsen12HqConfig(name="s1", product="s1",
                           description="Sentinel-1 VV, VH (dB) and incidence angle (float32)."),
        Cloudsen12HqConfig(name="detectors", product="detectors",
                           description="The published cloud detectors' masks (Fmask int16, QA60, "
                                       "s2cloudless, Sen2Cor, CD-FCNN x2, KappaMask x2 int8) and "
                                       "the label, to score the detectors against manual_hq."),
    ]
    DEFAULT_CONFIG_NAME = "l1c"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the CloudSEN12 high-quality memmap release (the `.dat` layers; see
https://cloudsen12.github.io and the dataset's Hugging Face / Science Data Bank pages)
and lay it out under manual_dir as:

  manual_dir/train/<LAYER>.dat   manual_dir/val/<LAYER>.dat   manual_dir/test/<LAYER>.dat

A config needs only its own layers plus the labels: l1c needs L1C_B1..L1C_B12, L1C_B8A,
L1C_B10; l2a needs L2A_B1..L2A_B12, L2A_B8A; s1 needs S1_VV, S1_VH, S1_angle; all need
LABEL_manual_hq.dat (or manual_hq.dat); detectors needs LABEL_fmask, LABEL_QA60,
LABEL_s2cloudless, LABEL_sen2cor, LABEL_cd_fcnn_rgbi, LABEL_cd_fcnn_rgbi_swir,
LABEL_kappamask_L1C and LABEL_kappamask_L2A. Band names may be zero-padded
(L1C_B04.dat), label layers may lack their LABEL_ prefix (fmask.dat).
`validation/` is accepted for `val/`. Other layers may stay in the folders.
"""

    @property
    def _layers(self) -> src.ConfigLayers:
        return src.CONFIGS[self.builder_config.product]

    def _info(self) -> tfds.core.DatasetInfo:
        layers = self._layers
        common = dict(class_names=list(src.CLASS_NAMES), no_label=src.NO_LABEL,
                      valid_box=list(src.VALID_BOX), layers=list(layers.layers))
        label = tfds.features.Tensor(shape=(src.PATCH, src.PATCH), dtype=np.uint8, encoding="bytes")
        if layers.masks:
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "id": tfds.features.Text(),
                    "label": label,
                    "masks": tfds.features.FeaturesDict({
                        name: tfds.features.Tensor(shape=(src.PATCH, src.PATCH), encoding="bytes",
                                                   dtype=src.layer_dtype(layer).type)
                        for name, layer in zip(layers.bands, layers.layers)}),
                }),
                homepage="https://cloudsen12.github.io",
                metadata=tfds.core.MetadataDict(
                    masks={name: d.layer for name, d in src.DETECTORS.items()},
                    mask_values={name: d.values for name, d in src.DETECTORS.items()},
                    mask_classes={name: {"cloud": "value > 0" if d.cloud is None else list(d.cloud),
                                         "shadow": None if d.shadow is None else list(d.shadow)}
                                  for name, d in src.DETECTORS.items()},
                    **common),
            )
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "id": tfds.features.Text(),
                "image": tfds.features.Tensor(shape=(src.PATCH, src.PATCH, len(layers.bands)),
                                              dtype=layers.dtype.type, encoding="bytes"),
                "label": label,
            }),
            supervised_keys=("image", "label"),
            homepage="https://cloudsen12.github.io",
            metadata=tfds.core.MetadataDict(
                bands=list(layers.bands),
                scale=layers.scale,
                units="reflectance x 1e4" if layers.dtype.kind == "i" else "dB (VV, VH), degrees (angle)",
                band_stats_note="over the valid box of the train split; NaN and inf excluded; "
                                "std is the population std",
                **common),
        )

    def _split_folders(self, dl_manager) -> dict[str, src.CloudSEN12Split]:
        root = core.manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        return {split: src.CloudSEN12Split(src.find_split_folder(root, split), self.builder_config.product)
                for split in src.SPLIT_FOLDERS}

    def _shard_iterators_per_split(self, dl_manager):
        features = self.info.features
        per_example = core.total_bytes_estimate(features, 1) + (
            core.total_bytes_estimate(features["masks"], 1) if "masks" in features else 0)
        plan = {}
        self._counts = {}
        self._folders = {}
        for split, folder in self._split_folders(dl_manager).items():
            n = len(folder)
            self._counts[split] = n
            self._folders[split] = folder.name
            shards = core.choose_num_shards(per_example * n, n)
            plan[split] = [core.shard_fn(_patches, str(folder.folder), self.builder_config.product, a, b)
                           for a, b in core.split_range(n, shards)]
        return plan

    def _layer_paths(self, root, split: str) -> list:
        """The split folder's layers this config reads: its bands (or masks), then manual_hq."""
        return src.CloudSEN12Split(src.find_split_folder(root, split), self.builder_config.product).paths

    def _source_files(self, root):
        return [p for split in src.SPLIT_FOLDERS for p in self._layer_paths(root, split)]

    def _example_source(self, root, split, key, feature):
        paths = self._layer_paths(root, split)
        layers = paths[-1:] if feature == "label" else paths[:-1]
        return (f"{', '.join(os.fspath(p) for p in layers)} (patch {key.rsplit('/', 1)[-1]})"
                if feature in ("image", "masks", "label") else None)

    def _stats_specs(self):
        if self._layers.masks:
            return {}  # masks are classes: no band statistics
        # PatchStats: band_stats exactly as BandStats gives them, and each patch's own
        return {"band_stats": core.StatsSpec(tuple(self._layers.bands), _valid_box_values, PatchStats)}

    def _split_stats_specs(self, split):
        return self._stats_specs()  # every split: re-split trials pool their patches

    def _keep_stats(self, stats):
        """``band_stats`` of train into ``info.metadata``; every split's per-patch rows
        into ``patch_stats.npz`` (see :mod:`tfds_builders.cloudsen12_hq.resplit`)."""
        per_split = {split: s["band_stats"] for split, s in stats.items() if "band_stats" in s}
        if not per_split:
            return
        self.info.metadata["band_stats"] = per_split[self.STATS_SPLIT].as_dict()
        resplit.write_patch_stats(self.data_dir, per_split, self._folders)


def _valid_box_values(example):
    """The image inside the valid box: padding stays out of the statistics."""
    r0, c0, r1, c1 = src.VALID_BOX
    return example["image"][r0:r1, c0:c1], None


def _patches(folder: str, product: str, start: int, stop: int):
    """The ``(key, example)`` pairs of patches ``start .. stop-1`` of one split folder."""
    with src.CloudSEN12Split(folder, product) as split:
        for example in split.iter_patches(start, stop):
            yield example["id"], example
