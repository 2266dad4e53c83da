"""``cpazmal``: the four CPAZMAL machine-learning scenarios from the publisher's HDF5 file."""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from parsers import cpazmal as src
from tfds_builders import core


@dataclasses.dataclass(eq=False)
class CpazmalConfig(tfds.core.BuilderConfig):
    """One scenario with all its parameters, as fields named as the publisher's arguments
    (SPEC: every parameter is a field of this dataclass, as in TFDS's own configs).

    Field defaults are those of ``scenario1``; start from one of :data:`CONFIGS`
    (``dataclasses.replace(SCENARIO1, name="s1_w16", window_size=16)``) or use
    :meth:`for_scenario` so that the other fields take that scenario's defaults. Each
    field means what the same field of :class:`parsers.cpazmal.ScenarioParams` means
    (the parser's scenario functions take them as :attr:`params`; a test keeps the names
    and defaults of the two equal).
    """

    scenario: str = "scenario1"
    window_size: int = 32
    stride: int | None = None
    orbit: str | None = "ASC"
    polarisation: str | tuple[str, ...] | None = ("HH", "HV")
    start_date: str | None = "20200101"
    end_date: str | None = "20201231"
    train_start: str | None = None
    train_end: str | None = None
    predict_start: str | None = None
    predict_end: str | None = None
    target_date: str | None = None
    source_date: str | None = None
    scale_type: str = "amplitude"
    max_mask_value: int = 1
    max_mask_percentage: float = 10.0
    min_valid_percentage: float = 50.0
    skip_optim_offset: bool = True
    # scenario4_geometry (the later release's scenario 4), the publisher's spelling
    source_orbit: str | None = None
    target_orbit: str | None = None
    source_polarization: str | None = None
    target_polarization: str | None = None

    @classmethod
    def for_scenario(cls, scenario: str, name: str | None = None, description: str | None = None,
                     **overrides) -> "CpazmalConfig":
        """A config with the publisher's defaults of ``scenario`` and ``overrides`` applied."""
        params = src.ScenarioParams.for_scenario(scenario, **overrides).as_kwargs()
        return cls(name=name or scenario, description=description, **params)

    @property
    def params(self) -> src.ScenarioParams:
        """The scenario parameters, as the parser's scenario functions take them."""
        return src.ScenarioParams(**src.params_from(self))

    @property
    def pols(self) -> tuple[str, ...]:
        """The polarisations of the image channels (scenario 3: source then target)."""
        if self.scenario == "scenario4_geometry":
            return (self.source_polarization,)
        pol = self.polarisation
        return (pol,) if isinstance(pol, str) else tuple(pol)


_DESCRIPTIONS = {
    "scenario1": "Temporal stacking classification: ASC, HH+HV, 2020, amplitude, 32 x 32 windows "
                 "(ws, ws, T, 2) with their class.",
    "scenario2": "Temporal prediction: DSC, HH, amplitude; windows over 20200101-20201031 (train) "
                 "and the same windows over 20201101-20201231 (predict).",
    "scenario3": "Domain adaptation HH -> HV: DSC, 20200804, intensity; HH source and HV target windows.",
    "scenario4": "Cross-sensor adaptation: DSC, HH+HV, intensity; PAZ on 20200804 (split source) and "
                 "TerraSAR-X on 20080805 (split target).",
    "scenario4_geometry": "The later (PAZ-only) release's scenario 4, cross-geometry adaptation: "
                          "HH, intensity; DSC on 20210127 (split source) and ASC on 20210214 "
                          "(split target).",
}

SCENARIO1, SCENARIO2, SCENARIO3, SCENARIO4, SCENARIO4_GEOMETRY = (
    CpazmalConfig.for_scenario(s, description=_DESCRIPTIONS[s]) for s in src.SCENARIOS)
#: config name -> the scenario configs (the publisher's README defaults)
CONFIGS = {c.name: c for c in (SCENARIO1, SCENARIO2, SCENARIO3, SCENARIO4, SCENARIO4_GEOMETRY)}


def _float(shape):
    return tfds.features.Tensor(shape=shape, dtype=np.float32, encoding="bytes")


def _int8(shape):
    return tfds.features.Tensor(shape=shape, dtype=np.int8, encoding="bytes")


def _strings():
    return tfds.features.Tensor(shape=(None,), dtype=tf.string)


def scenario_features(config: CpazmalConfig) -> tfds.features.FeaturesDict:
    """The features of a config's scenario (see :class:`Cpazmal`)."""
    ws = int(config.window_size)
    common = {
        "label": tfds.features.ClassLabel(names=src.LEARNING_CLASSES),
        "group": tfds.features.Text(),
        "position": tfds.features.Tensor(shape=(2,), dtype=np.int32),
    }
    scenario = config.scenario
    if scenario == "scenario1":
        feats = {"image": _float((ws, ws, None, 2)), "mask": _int8((ws, ws, None)),
                 "timestamps": _strings(), "satellites": _strings()}
    elif scenario == "scenario2":
        feats = {"image_train": _float((ws, ws, None)), "image_predict": _float((ws, ws, None)),
                 "mask_train": _int8((ws, ws, None)), "mask_predict": _int8((ws, ws, None)),
                 "timestamps_train": _strings(), "timestamps_predict": _strings()}
    elif scenario == "scenario3":
        feats = {"source": _float((ws, ws)), "target": _float((ws, ws)),
                 "mask_source": _int8((ws, ws)), "mask_target": _int8((ws, ws)),
                 "satellite": tfds.features.Text()}
    elif scenario in ("scenario4", "scenario4_geometry"):
        channels = 2 if scenario == "scenario4" else 1
        feats = {"image": _float((ws, ws, channels)), "mask": _int8((ws, ws)),
                 "satellite": tfds.features.Text(), "date": tfds.features.Text()}
    else:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {src.SCENARIOS}")
    return tfds.features.FeaturesDict({**feats, **common})


def _json_params(config: CpazmalConfig) -> dict:
    out = {}
    for k, v in config.params.as_kwargs().items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


class Cpazmal(core.EoBuilder):
    """CPAZMAL: X-band SAR windows of the Mont-Blanc massif for four ML scenarios.

    Configs ``scenario1`` .. ``scenario4`` and ``scenario4_geometry`` (see :data:`CONFIGS`); any
    :class:`CpazmalConfig` builds too. Features (ws = ``window_size``):

    - scenario1 (split ``train``): ``image`` float32 (ws, ws, T, 2) [HH, HV], ``mask`` int8
      (ws, ws, T), ``timestamps`` and ``satellites`` string (T,).
    - scenario2 (``train``): ``image_train``/``image_predict`` float32 (ws, ws, T1/T2),
      ``mask_train``/``mask_predict`` int8, ``timestamps_train``/``timestamps_predict``.
    - scenario3 (``train``): ``source`` (HH) and ``target`` (HV) float32 (ws, ws),
      ``mask_source``, ``mask_target`` int8 (ws, ws), ``satellite``.
    - scenario4 (``source``: PAZ on ``source_date``, ``target``: TerraSAR-X on
      ``target_date``): ``image`` float32 (ws, ws, 2), ``mask`` int8 (ws, ws),
      ``satellite``, ``date``.
    - scenario4_geometry (the later release; ``source``: DSC on 20210127, ``target``: ASC
      on 20210214, HH): the features of scenario4 with ``image`` float32 (ws, ws, 1).

    Every example also has ``label`` (ClassLabel of the learning classes), ``group``
    (e.g. ``"ABL001"``, for group-wise splits) and ``position`` int32 (y, x) of the
    window's top-left pixel. Values are those of the publisher's ``load_data(...,
    normalize=False)`` in ``scale_type``: no-data stays -999 in ``intensity`` and is NaN
    in ``amplitude``/``log10``. Masks: 0 none, 1 layover, 2 shadow, 3 both, -127 no data.
    """

    name = "cpazmal"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: the four scenarios from PAZTSX_CRYO_ML.hdf5 or CPAZMaL.hdf5, "
                 "every parameter a config field, values bit-exact with the parser, "
                 "per-band statistics of the first split.",
        "1.1.0": "The later release under PAZ_CRYO_ML.hdf5 too (or any single .hdf5; two "
                 "candidates are an error); config scenario4_geometry (its scenario 4); a "
                 "split whose date, orbit or polarisation is not in the file is an error "
                 "instead of 0 examples. Values of the other configs unchanged.",
    }
    BUILDER_CONFIGS = list(CONFIGS.values())
    DEFAULT_CONFIG_NAME = "scenario1"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Download the CPAZMAL HDF5 file from the publisher's dataset page: `PAZTSX_CRYO_ML.hdf5`
(PAZ, TerraSAR-X and TanDEM-X) or the later PAZ-only release (`CPAZMaL.hdf5` as its
script names it, `PAZ_CRYO_ML.hdf5` as its README does), and put it directly under
manual_dir, alone:

  manual_dir/PAZTSX_CRYO_ML.hdf5      (or manual_dir/CPAZMaL.hdf5, PAZ_CRYO_ML.hdf5)

Any single .hdf5 file is read, whatever its name; two .hdf5 files in manual_dir are an
error (keep one release per folder). Scenario 4's target split needs the TerraSAR-X
acquisitions of PAZTSX_CRYO_ML.hdf5; scenario4_geometry needs the later release's 2021
dates.
"""

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        src.resolve_params(**config.params.as_kwargs())  # a bad variant fails here, naming the field
        return self.dataset_info_from_configs(
            features=scenario_features(config),
            supervised_keys=None,
            metadata=tfds.core.MetadataDict(
                class_names=list(src.LEARNING_CLASSES),
                params=_json_params(config),
                scenario=config.scenario,
                scale_type=config.scale_type,
                nodata_value=src.NODATA_VALUE,
                nodata_note=("no-data pixels are -999 in 'intensity' and NaN in 'amplitude' "
                             "and 'log10' (where non-positive values are NaN too)"),
                mask_values={str(k): v for k, v in src.MASK_VALUES.items()},
                polarisations=list(config.pols),
                splits=list(src.SCENARIO_SPLITS[config.scenario]),
                band_stats_note=f"over the valid (finite, not -999) pixels of the "
                                f"'{self.STATS_SPLIT}' split; std is the population std",
            ),
        )

    # ------------------------------------------------------------------ splits

    @property
    def STATS_SPLIT(self):  # noqa: N802 (the base class's attribute name)
        return src.SCENARIO_SPLITS[self.builder_config.scenario][0]

    def _shard_iterators_per_split(self, dl_manager):
        root = core.manual_dir(dl_manager, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        path = src.find_source_file(os.fspath(root))
        params = self.builder_config.params.as_kwargs()
        plan = {}
        src.check_selection(path, **params)  # an absent date/orbit/pol: an error, not 0 examples
        for split in src.SCENARIO_SPLITS[self.builder_config.scenario]:
            groups = src.list_work_units(path, split, **params)
            # shards of consecutive groups; the file size (compressed) stands in for the output
            shards = core.choose_num_shards(os.path.getsize(path), len(groups))
            plan[split] = [core.shard_fn(_group_examples, str(path), tuple(groups[a:b]), split, params)
                           for a, b in core.split_range(len(groups), shards)]
        return plan

    def _source_metadata(self, root):
        path = src.find_source_file(os.fspath(root))
        # the learning groups (the same for every split), for group-wise train/test splits
        groups = src.list_work_units(path, **self.builder_config.params.as_kwargs())
        return {"groups": list(groups), "source_file": path.name}

    def _source_files(self, root):
        return [src.find_source_file(os.fspath(root))]

    def _example_source(self, root, split, key, feature):
        return f"{src.find_source_file(os.fspath(root))}, example {key}"

    def _stats_specs(self):
        pols = self.builder_config.pols
        bands = tuple(pols) if self.builder_config.scenario != "scenario3" \
            else (f"source_{pols[0]}", f"target_{pols[1]}")
        return {"band_stats": core.StatsSpec(
            bands, functools.partial(_scenario_values, self.builder_config.scenario))}


def _scenario_values(scenario, example):
    if scenario in ("scenario1", "scenario4", "scenario4_geometry"):
        values = example["image"]
    elif scenario == "scenario2":
        values = example["image_train"][..., None]
    else:
        values = np.stack([example["source"], example["target"]], axis=-1)
    # no-data (-999 in intensity) out per band; NaN is left out by BandStats
    return np.where(values == src.NODATA_VALUE, np.float32(np.nan), values), None


def _group_examples(path: str, groups: tuple[str, ...], split: str, params: dict):
    """The ``(key, example)`` pairs of consecutive groups of one scenario split."""
    for group in groups:
        yield from src.iter_group_examples(path, group, split, **params)
