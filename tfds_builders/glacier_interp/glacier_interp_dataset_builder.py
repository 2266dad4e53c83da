"""``glacier_interp``: the global glacier interpretation scenes, from the publisher's GeoTIFFs."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from parsers import glacier_interp
from parsers.errors import SourceDataError
from tfds_builders import core

NORMALIZATION = (
    "per scene and channel (the 6 bands, then elevation), the publisher's "
    "calculate_histogram_params: the channel's n values sorted, lo = int(0.05 n), "
    "min = mean(sorted[:lo + 1]); hi = min(n - 1, int(0.95 n)), max = mean(sorted[hi:]); "
    "normalised = clip((x - min) / (max - min + 1e-6), 0, 1) in float32, NaN -> 0")
GLASET_NORMALIZATION = (
    "the publisher's current protocol: fixed bounds per sensor (norm_min / norm_max, "
    "bands then elevation; see glaset_bounds), normalised = clip((x - min) / "
    "(max - min + 1e-6), 0, 1) in float32, NaN -> 0")


class SceneTensor(tfds.features.Tensor):
    """A raw-bytes ``Tensor`` of several unknown dimensions, e.g. ``(None, None, 6)``.

    TFDS 4.9 stores such a tensor as ``<name>/value`` (the raw little-endian bytes, not
    widened, not compressed) next to ``<name>/shape`` (int64), and decodes it to exactly
    the stored ``(H, W, ...)`` array. It behaves exactly like
    ``tfds.features.Tensor(..., encoding="bytes")``; it is a subclass only so that
    :class:`core.ExampleEncoder` hands it to TFDS's own encoder (its single-copy path
    writes one ``<name>`` bytes field, which is only right for at most one unknown
    dimension).
    """

    def __init__(self, *, shape, dtype, doc=None):
        super().__init__(shape=shape, dtype=dtype, encoding=tfds.features.Encoding.BYTES, doc=doc)

    @classmethod
    def from_json_content(cls, value):
        tensor = tfds.features.Tensor.from_json_content(value)
        return cls(shape=tensor.shape, dtype=tensor.np_dtype)


@dataclasses.dataclass
class GlacierInterpConfig(tfds.core.BuilderConfig):
    """Whole scenes (``tile_size=None``) or normalised tiles, under one of two protocols.

    ``protocol``: ``"published"`` (the dataset's paper: scenes 11..13 validation,
    per-scene bounds, a 512 px grid covering every pixel once) or ``"glaset"`` (the
    publisher's repository now: ``ids[::4]`` validation, fixed per-sensor bounds, 256 px
    validation tiles with 40 px overlap, validation only).
    """

    tile_size: int | None = None
    protocol: str = "published"


class GlacierInterp(core.EoBuilder):
    """Global glacier interpretation: Landsat 5/7/8/9 and Sentinel-2 scenes, AW3D30 elevation, glacier masks.

    ``scenes`` (default): one example per scene: ``id`` (``"<sensor>_scene_<NN>"``),
    ``sensor`` ClassLabel (l5 l7 l8 l9 s2), ``image`` uint16 (H, W, 6) raw surface
    reflectance numbers (blue, green, red, NIR, SWIR1, SWIR2; band names per sensor in
    ``info.metadata["bands"]``), ``dem`` int16 (H, W, 1) metres, ``mask`` uint8 (H, W)
    (1 glacier, 0 not), ``norm_min`` / ``norm_max`` float32 (7,) the scene's
    normalisation bounds (``info.metadata["normalization"]``), all bit-exact.

    ``tiles512``: 512 x 512 tiles on a grid from (0, 0), every scene pixel in exactly one
    tile: ``id`` (``"<scene>/r<row>_c<col>"``), ``sensor``, ``row``, ``col`` int32 (the
    tile's top-left pixel), ``image`` float32 (512, 512, 7) normalised (0 outside the
    scene), ``mask`` uint8 (512, 512), 255 outside the scene.

    Splits: ``train`` (scenes 01..10 of each sensor), ``validation`` (11..13).

    ``glaset_scenes``: the features of ``scenes`` under the publisher's current protocol:
    ``validation`` = every 4th of the 65 ids sorted by name (17), ``train`` the other 48,
    ``norm_min`` / ``norm_max`` the fixed bounds of the scene's sensor.
    ``glaset_tiles256``: split ``validation`` only (the same 17 scenes): the features of
    ``tiles512`` at 256 x 256, tiles placed as the publisher's ``img2patch`` places them
    (step 216 from (0, 0), ``(H - 40) // 216`` rows, ``(W - 40) // 216`` columns, all
    inside the scene), normalised with the fixed bounds.
    """

    name = "glacier_interp"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: scenes (bit-exact bands, elevation, mask, per-scene "
                 "normalisation bounds) and tiles512 (normalised 512 x 512 tiles, 255 "
                 "outside the scene); per-band statistics of train.",
        "1.1.0": "Normalisation exactly the publisher's calculate_histogram_params: min "
                 "averages sorted[:int(0.05 n) + 1], max sorted[min(n - 1, int(0.95 n)):] "
                 "(both averaged floor(0.05 n) values before), and x / (max - min + 1e-6); "
                 "norm_min, norm_max and the tiles512 images change. New configs "
                 "glaset_scenes and glaset_tiles256: the publisher's current protocol.",
    }
    BUILDER_CONFIGS = [
        GlacierInterpConfig(name="scenes", tile_size=None,
                            description="One example per scene: raw uint16 bands, int16 "
                                        "elevation, uint8 mask and the scene's "
                                        "normalisation bounds."),
        GlacierInterpConfig(name="tiles512", tile_size=glacier_interp.TILE_SIZE,
                            description="512 x 512 tiles covering each scene exactly once: "
                                        "7 normalised channels (float32), mask with 255 "
                                        "outside the scene."),
        GlacierInterpConfig(name="glaset_scenes", tile_size=None, protocol="glaset",
                            description="The publisher's current protocol, whole scenes: "
                                        "validation = ids[::4] (17), train the other 48; "
                                        "fixed per-sensor normalisation bounds."),
        GlacierInterpConfig(name="glaset_tiles256", tile_size=glacier_interp.GLASET_TILE_SIZE,
                            protocol="glaset",
                            description="The publisher's current validation tiles: 256 x 256 "
                                        "with 40 px overlap (its img2patch, no padding) over "
                                        "the 17 validation scenes, fixed per-sensor bounds."),
    ]
    DEFAULT_CONFIG_NAME = "scenes"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the global glacier interpretation dataset (65 GeoTIFF scenes: Landsat 5, 7, 8,
9 and Sentinel-2 surface reflectance, AW3D30 elevation, glacier truth masks) from its
publisher and lay it out under manual_dir as:

  manual_dir/scene/<id>.tif       6 bands, uint16 (raw surface-reflectance numbers)
  manual_dir/dem/<id>_dem.tif     1 band, int16, AW3D30 elevation on the scene's grid
  manual_dir/truth/<id>.tif       1 band, uint8, 1 glacier / 0 not, on the scene's grid

with <id> = <sensor>_scene_<NN>, sensor one of l5 l7 l8 l9 s2 and NN 01..13 (.tiff is
accepted too). Scenes 11..13 of each sensor make the validation split, 01..10 train
(configs glaset_*: every 4th id sorted by name, 17, is validation).
`eo-tfds synth glacier_interp --output DIR` writes small files in this layout.
"""

    @property
    def _tiled(self) -> bool:
        return self.builder_config.tile_size is not None

    @property
    def _glaset(self) -> bool:
        return self.builder_config.protocol == "glaset"

    def _splits(self) -> tuple[str, ...]:
        return ("validation",) if self._glaset and self._tiled else glacier_interp.SPLITS

    def _split_of(self, scene_id: str) -> str:
        if self._glaset:
            return glacier_interp.glaset_split_of(scene_id)
        return glacier_interp.split_of(scene_id)

    def _info(self) -> tfds.core.DatasetInfo:
        sensor = tfds.features.ClassLabel(names=list(glacier_interp.SENSORS))
        if self._tiled:
            t = self.builder_config.tile_size
            features = {
                "id": tfds.features.Text(),
                "sensor": sensor,
                "row": tfds.features.Scalar(dtype=np.int32),
                "col": tfds.features.Scalar(dtype=np.int32),
                "image": tfds.features.Tensor(shape=(t, t, glacier_interp.NUM_CHANNELS),
                                              dtype=np.float32, encoding="bytes"),
                "mask": tfds.features.Tensor(shape=(t, t), dtype=np.uint8, encoding="bytes"),
            }
        else:
            features = {
                "id": tfds.features.Text(),
                "sensor": sensor,
                "image": SceneTensor(shape=(None, None, glacier_interp.NUM_BANDS), dtype=np.uint16),
                "dem": SceneTensor(shape=(None, None, 1), dtype=np.int16),
                "mask": SceneTensor(shape=(None, None), dtype=np.uint8),
                "norm_min": tfds.features.Tensor(shape=(glacier_interp.NUM_CHANNELS,),
                                                 dtype=np.float32),
                "norm_max": tfds.features.Tensor(shape=(glacier_interp.NUM_CHANNELS,),
                                                 dtype=np.float32),
            }
        metadata = {
            "sensors": list(glacier_interp.SENSORS),
            "bands": {s: list(b) for s, b in glacier_interp.BAND_NAMES.items()},
            "channels": list(glacier_interp.CHANNEL_NAMES),
            "channel_names": {s: list(b) + ["elevation"]
                              for s, b in glacier_interp.BAND_NAMES.items()},
            "units": {
                "image": "raw surface-reflectance numbers as in the files (Landsat "
                         "Collection 2 SR: reflectance = DN * 2.75e-5 - 0.2; Sentinel-2 "
                         "L2A: reflectance = DN / 1e4, minus the 1000 BOA offset on "
                         "processing baseline >= 04.00)",
                "dem": "metres (AW3D30)",
            },
            "class_names": list(glacier_interp.CLASS_NAMES),
            "ignore_label": glacier_interp.IGNORE_LABEL,
            "normalization": {
                "definition": NORMALIZATION,
                "tail_fraction": glacier_interp.TAIL_FRACTION,
                "channels": list(glacier_interp.CHANNEL_NAMES),
            },
            "validation_scene_numbers": list(glacier_interp.VALIDATION_SCENE_NUMBERS),
            "band_stats_note": ("over every scene pixel of the train split; raw values (bands "
                                "then elevation) for scenes, normalised values inside the "
                                "scene for tiles512; std is the population std"),
        }
        if self._tiled:
            metadata["tile_size"] = self.builder_config.tile_size
        metadata["protocol"] = self.builder_config.protocol
        if self._glaset:
            metadata["normalization"] = {
                "definition": GLASET_NORMALIZATION,
                "channels": list(glacier_interp.CHANNEL_NAMES),
                "band_min": dict(glacier_interp.GLASET_BAND_MIN),
                "band_max": dict(glacier_interp.GLASET_BAND_MAX),
                "elevation": list(glacier_interp.GLASET_ELEVATION),
            }
            metadata["validation_scenes"] = sorted(
                s for s in glacier_interp.all_scene_ids()
                if glacier_interp.glaset_split_of(s) == "validation")
            del metadata["validation_scene_numbers"]
            if self._tiled:
                metadata["tile_overlap"] = glacier_interp.GLASET_OVERLAP
                metadata["band_stats_note"] = "none: this config has no train split"
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "mask"),
            metadata=tfds.core.MetadataDict(metadata),
        )

    def _shard_iterators_per_split(self, dl_manager):
        root = core.manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        scenes = glacier_interp.find_scenes(root)  # checks every scene's three files (headers only)
        plan, self._counts = {}, {}
        tile = self.builder_config.tile_size
        kind = ("glaset_" if self._glaset else "") + ("tiles" if tile else "scenes")
        for split in self._splits():
            ids = [s for s, _ in scenes if self._split_of(s) == split]
            if not ids:
                which = ("every 4th id sorted by name" if self._glaset
                         else "NN 11..13" if split == "validation" else "NN 01..10")
                raise SourceDataError(
                    os.path.join(os.fspath(root), "scene"), f"no scene of the {split} split "
                    f"(<sensor>_scene_<NN>, {which})", "put the publisher's scenes there")
            sizes = [glacier_interp.check_scene(root, s) for s in ids]
            if tile:
                origins = (glacier_interp.glaset_tile_origins if self._glaset
                           else glacier_interp.tile_origins)
                counts = [len(origins(h, w)) for h, w in sizes]
                nbytes = sum(counts) * tile * tile * (4 * glacier_interp.NUM_CHANNELS + 1)
            else:
                counts = [1] * len(ids)
                nbytes = sum(h * w * (2 * glacier_interp.NUM_BANDS + 2 + 1) for h, w in sizes)
            self._counts[split] = sum(counts)
            shards = core.choose_num_shards(nbytes, len(ids))
            plan[split] = [core.shard_fn(_examples, os.fspath(root), tuple(ids[a:b]), kind)
                           for a, b in core.split_range(len(ids), shards)]
        return plan

    def _source_files(self, root):
        files = []
        for scene_id, _ in glacier_interp.find_scenes(root):
            paths = glacier_interp.scene_paths(root, scene_id)
            files += [paths.scene, paths.dem, paths.truth]
        return files

    def _example_source(self, root, split, key, feature):
        scene_id = key.split("/", 1)[0]  # tiles512 keys are <scene>/r<row>_c<col>
        paths = glacier_interp.scene_paths(root, scene_id)
        return f"scene {key}: {paths.scene}, {paths.dem}, {paths.truth}"

    def _stats_specs(self):
        values = _tile_values if self._tiled else _scene_values
        return {"band_stats": core.StatsSpec(tuple(glacier_interp.CHANNEL_NAMES), values)}


def _tile_values(example):
    return example["image"], example["mask"] != glacier_interp.IGNORE_LABEL


def _scene_values(example):
    return _Channels(example["image"], example["dem"]), None


class _Channels:
    """The 6 bands then elevation as one (H, W, 7) integer array, without copying them."""

    def __init__(self, image: np.ndarray, dem: np.ndarray):
        self.image, self.dem = image, dem
        self.shape = image.shape[:-1] + (image.shape[-1] + 1,)
        self.dtype = np.dtype(np.int32)

    def __getitem__(self, index):
        if not (isinstance(index, tuple) and len(index) == 2 and index[0] is Ellipsis):
            raise IndexError("only [..., band] is supported")
        b = index[1]
        return self.image[..., b] if b < self.image.shape[-1] else self.dem[..., 0]


def _examples(root: str, scene_ids: tuple[str, ...], kind: str):
    """The ``(key, example)`` pairs of some scenes, in order: ``kind`` ``scenes``,
    ``tiles`` (tiles512), ``glaset_scenes`` or ``glaset_tiles`` (glaset_tiles256)."""
    for scene_id in scene_ids:
        if kind == "tiles":
            yield from glacier_interp.iter_tile_examples(root, scene_id)
        elif kind == "glaset_tiles":
            yield from glacier_interp.iter_glaset_tile_examples(root, scene_id)
        else:
            yield from glacier_interp.iter_scene_examples(
                root, scene_id, bounds="glaset" if kind == "glaset_scenes" else "scene")
