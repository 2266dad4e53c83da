"""CPAZMAL: PAZ and TerraSAR-X/TanDEM-X SAR time series over the Mont-Blanc massif, in HDF5.

The source format, both releases (``PAZTSX_CRYO_ML.hdf5``; the later PAZ-only
``CPAZMaL.hdf5`` / ``PAZ_CRYO_ML.hdf5``), is written out in
``tfds_builders/cpazmal/README.md``. This package reads it with numpy and h5py only (no
TensorFlow), one concern a module:

- :mod:`~parsers.cpazmal.constants`: the format's values (file names, classes, no-data
  -999, mask values, scales, satellites).
- :mod:`~parsers.cpazmal.reader`: :func:`find_source_file`, :class:`CpazmalFile` (alias
  ``MLDatasetLoader``) and :func:`load_data`, as the publisher's loader names them.
- :mod:`~parsers.cpazmal.windows`: :func:`extract_windows` (the publisher's windows,
  fast) and :func:`extract_windows_reference` (the plain loop it is tested against).
- :mod:`~parsers.cpazmal.scenarios`: :class:`ScenarioParams`, the scenarios' defaults and
  splits, their examples (``iter_scenario_examples``) and numpy arrays
  (``load_scenario``, ``scenario_1_...`` to ``scenario_4_...``).
- :mod:`~parsers.cpazmal.synth`: :func:`write_samples`, small faithful sample files.

Every public name is re-exported here: ``from parsers import cpazmal; cpazmal.load_data``.
"""

from __future__ import annotations

from parsers.cpazmal.constants import (
    LEARNING_CLASSES,
    MASK_NODATA,
    MASK_VALUES,
    NODATA_VALUE,
    PAZ_FIRST_DATE,
    SCALE_TYPES,
    SOURCE_FILENAMES,
    SOURCE_SATELLITE,
    STUDY_CLASS,
    TARGET_SATELLITE,
)
from parsers.cpazmal.reader import (
    CpazmalFile,
    MissingSelectionError,
    MLDatasetLoader,
    find_source_file,
    load_data,
)
from parsers.cpazmal.scenarios import (
    PARAM_NAMES,
    SCENARIO_DEFAULTS,
    SCENARIO_SPLITS,
    SCENARIOS,
    CpazmalSkipWarning,
    ScenarioParams,
    check_selection,
    iter_group_examples,
    iter_scenario_examples,
    list_work_units,
    load_scenario,
    params_from,
    resolve_params,
    scenario_1_temporal_stacking_classification,
    scenario_2_temporal_prediction_lstm,
    scenario_3_domain_adaptation_pol,
    scenario_4_domain_adaptation_geometry,
    scenario_4_domain_adaptation_satellite,
)
from parsers.cpazmal.synth import write_later_release_samples, write_samples
from parsers.cpazmal.windows import extract_windows, extract_windows_reference

__all__ = [
    "SOURCE_FILENAMES",
    "LEARNING_CLASSES",
    "STUDY_CLASS",
    "NODATA_VALUE",
    "MASK_NODATA",
    "MASK_VALUES",
    "SCALE_TYPES",
    "SCENARIOS",
    "SCENARIO_SPLITS",
    "SCENARIO_DEFAULTS",
    "SOURCE_SATELLITE",
    "TARGET_SATELLITE",
    "PAZ_FIRST_DATE",
    "ScenarioParams",
    "MissingSelectionError",
    "CpazmalSkipWarning",
    "CpazmalFile",
    "MLDatasetLoader",
    "find_source_file",
    "check_selection",
    "load_data",
    "extract_windows",
    "extract_windows_reference",
    "resolve_params",
    "params_from",
    "list_work_units",
    "iter_group_examples",
    "iter_scenario_examples",
    "load_scenario",
    "scenario_1_temporal_stacking_classification",
    "scenario_2_temporal_prediction_lstm",
    "scenario_3_domain_adaptation_pol",
    "scenario_4_domain_adaptation_satellite",
    "scenario_4_domain_adaptation_geometry",
    "write_samples",
    "write_later_release_samples",
    "PARAM_NAMES",
]
