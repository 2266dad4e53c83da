"""Shared fixtures: every dataset built once per test session through the command line,
in both file formats, for the tests that walk every path (tests/test_split_matrix.py,
tests/test_cli_matrix.py)."""

from __future__ import annotations

import contextlib
import io
import os

import pytest

#: the builds of the matrices: spec -> sample folder name
MATRIX_SPECS = {
    "cloudsen12_hq/l1c": "cloudsen12_hq",
    "cloudsen12_hq/detectors": "cloudsen12_hq",
    "gedi_agbd": "gedi_agbd",
    "s2_cloud_timeseries": "s2_cloud_timeseries",
    "s2_cloud_timeseries/joined": "s2_cloud_timeseries",
    "glacier_interp/scenes": "glacier_interp",
    "cpazmal/scenario1": "cpazmal",
    "cpazmal/scenario4": "cpazmal",
}
FORMATS = ("tfrecord", "array_record")
#: test files that share the session's matrix builds run on one xdist worker
MATRIX_FILES = ("test_split_matrix.py", "test_cli_matrix.py", "test_resumable.py", "test_pad_to_multiple.py",
                "test_demo.py")


def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n N --dist loadgroup`` (make test): one group per test file, so a
    module's fixtures (its builds) are made once, on one worker; the two matrix files
    share a group, so the session's matrix builds are made once too."""
    for item in items:
        name = item.path.name
        item.add_marker(pytest.mark.xdist_group("matrix" if name in MATRIX_FILES else name))


def cli(*argv) -> tuple[int, str, str]:
    """``eo-tfds ARGV`` in this process: (exit code, stdout, stderr)."""
    from conversion import cli as command_line

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = command_line.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def matrix_builds(tmp_path_factory):
    """``root`` with ``manual/<dataset>`` (eo-tfds synth) and ``<format>/`` data dirs
    (eo-tfds build of every spec); ``root.results[(spec, format)]`` = build's (code, out, err)."""
    os.environ["EO_TFDS_PROGRESS"] = "0"
    root = tmp_path_factory.mktemp("matrix")
    results = {}
    for name in sorted(set(MATRIX_SPECS.values())):
        code, _, err = cli("synth", name, "--output", root / "manual", "--seed", 3)
        assert code == 0, err
    for spec, name in MATRIX_SPECS.items():
        for fmt in FORMATS:
            results[(spec, fmt)] = cli("build", spec, "--manual-dir", root / "manual" / name,
                                       "--data-dir", root / fmt, "--file-format", fmt)
    return root, results
