"""The values of the CPAZMAL format, in one place: file names, classes, no-data and mask
values, scales, satellites (the format itself: ``tfds_builders/cpazmal/README.md``)."""

from __future__ import annotations

SOURCE_FILENAMES = ("PAZTSX_CRYO_ML.hdf5", "CPAZMaL.hdf5", "PAZ_CRYO_ML.hdf5")
# Canonical label list (the ClassLabel names); LAC comes with the later release.
LEARNING_CLASSES = ["ABL", "ACC", "FOR", "HAG", "ICA", "LAC", "PLA", "ROC"]
STUDY_CLASS = "STUDY"
NODATA_VALUE = -999.0
MASK_NODATA = -127
MASK_VALUES = {0: "none", 1: "layover", 2: "shadow", 3: "layover and shadow",
               MASK_NODATA: "no data"}
SCALE_TYPES = ("intensity", "amplitude", "log10")
SOURCE_SATELLITE = "PAZ"  # scenario 4, split "source"
TARGET_SATELLITE = "TerraSAR-X"  # scenario 4, split "target"
# PAZ was launched on 2018-02-22: in a file without satellite data (the PAZ-only
# release) later dates are PAZ, earlier ones cannot be and are reported "Unknown".
PAZ_FIRST_DATE = "20180222"
