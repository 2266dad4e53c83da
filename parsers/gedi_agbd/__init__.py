"""GEDI biomass with Sentinel-2, CopDEM and WorldCover, as HDF5 files (``gedi_agbd``).

The source format is described in tfds_builders/gedi_agbd/README.md ("Source format").
This package holds, one concern a module:

- :mod:`.reader`: the format (dataset names, dtypes, shapes, the constants of the
  windows) and its reader: files -> splits, layout checks, ``(key, example)`` pairs
  streamed ``READ_AHEAD`` rows at a time (see its docstring for the example dict);
- :mod:`.synth`: :func:`write_samples`, small batch files exactly as the publisher's
  code writes them;
- :mod:`.fuse`: :func:`fuse_hdf5` / :func:`fuse_hdf5_per_split`, the publisher's
  fusing step done safely (``eo-tfds fuse-hdf5``).

Everything public is re-exported here: ``from parsers import gedi_agbd;
gedi_agbd.iter_file(...)``.
"""

from parsers.gedi_agbd.fuse import fuse_hdf5, fuse_hdf5_per_split
from parsers.gedi_agbd.reader import (
    COPDEM_BANDS,
    DATASET_NAMES,
    FEATURES,
    FOOTPRINT,
    GROUP,
    NO_DATA,
    PATCH,
    READ_AHEAD,
    SCALE,
    SCL_CLASS_NAMES,
    SCL_NO_DATA,
    SENTINEL2_BANDS,
    SPLIT_FOLDERS,
    WORLDCOVER_CLASS_NAMES,
    WORLDCOVER_CLASSES,
    WorkItem,
    check_unique_shots,
    find_files,
    find_shot,
    inspect_file,
    iter_examples,
    iter_file,
    iter_work_item,
    num_examples,
    split_files,
    split_of,
    work_items,
)
from parsers.gedi_agbd.synth import PUBLISHER_NAMES, SAMPLE_FILES, SAMPLE_LAYOUTS, write_samples

__all__ = [
    "SENTINEL2_BANDS",
    "SCL_CLASS_NAMES",
    "SCL_NO_DATA",
    "WORLDCOVER_CLASSES",
    "WORLDCOVER_CLASS_NAMES",
    "COPDEM_BANDS",
    "PATCH",
    "FOOTPRINT",
    "NO_DATA",
    "SCALE",
    "DATASET_NAMES",
    "FEATURES",
    "GROUP",
    "READ_AHEAD",
    "SPLIT_FOLDERS",
    "WorkItem",
    "find_files",
    "split_of",
    "split_files",
    "inspect_file",
    "num_examples",
    "work_items",
    "iter_work_item",
    "iter_file",
    "iter_examples",
    "find_shot",
    "check_unique_shots",
    "write_samples",
    "SAMPLE_FILES",
    "PUBLISHER_NAMES",
    "SAMPLE_LAYOUTS",
    "fuse_hdf5",
    "fuse_hdf5_per_split",
]
