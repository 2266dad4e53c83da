"""The layout of SPEC "Layout": one dataset, one name, one folder on each side, one
registry that the command line, the demo, the docs table and the tests derive from, and
no import going back up the layers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _datasets():
    from tfds_builders import DATASETS

    return DATASETS


NAMES = ["cloudsen12_hq", "s2_cloud_timeseries", "gedi_agbd", "glacier_interp", "cpazmal"]


def test_registry_lists_the_five_datasets_under_their_one_name():
    datasets = _datasets()
    assert sorted(datasets) == sorted(NAMES)
    for name, entry in datasets.items():
        assert entry.builder.name == name
        assert entry.parser.__name__ == f"parsers.{name}"
        assert (ROOT / "parsers" / name / "__init__.py").is_file()
        assert entry.pipeline.__name__ == name
        assert entry.pipeline.__module__ == f"tfds_builders.{name}.pipeline"
        folder = ROOT / "tfds_builders" / name
        for f in ("README.md", "CITATIONS.bib", "TAGS.txt", "pipeline.py", f"{name}_dataset_builder.py"):
            assert (folder / f).is_file(), folder / f
        assert callable(getattr(entry.parser, "write_samples", None)), name


def test_pipelines_package_re_exports_every_dataset_pipeline():
    from tfds_builders import pipelines

    for name, entry in _datasets().items():
        assert getattr(pipelines, name) is entry.pipeline
    with pytest.raises(AttributeError):
        pipelines.no_such_dataset  # noqa: B018


def test_demo_and_command_line_take_the_registry():
    from conversion import commands, demo

    assert sorted(demo.RECIPES) == sorted(_datasets())
    assert commands.dataset_names() == list(_datasets())


def test_readme_dataset_table_matches_the_registry():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| dataset | source | splits | configs |"):]
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    named = {}
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        named[cells[0].strip("`")] = set(re.findall(r"`([a-z0-9_]+)`", cells[3]))
        if len(named) == len(NAMES):
            break
    assert sorted(named) == sorted(_datasets())
    for name, entry in _datasets().items():
        configs = set(entry.configs)
        if configs:
            # the table names every config (cpazmal writes scenario1 .. scenario4 as a range)
            listed = named[name]
            missing = {c for c in configs - listed
                       if not (name == "cpazmal" and re.fullmatch(r"scenario[1-4]", c))}
            assert not missing, (name, missing)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_no_import_goes_back_up_the_layers():
    """parsers import nothing of tfds_builders or conversion; builder modules nothing of
    the pipelines; the library nothing of the command line; commands (below cli and
    demo) neither of them; the benchmarks not the command line."""
    for path in (ROOT / "parsers").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("tfds_builders", "conversion", "tensorflow")}
        assert not bad, (path, bad)
    for path in (ROOT / "tfds_builders").rglob("*_dataset_builder.py"):
        bad = {m for m in _imports(path) if m.startswith("tfds_builders.pipelines")}
        assert not bad, (path, bad)
    for path in (ROOT / "tfds_builders").rglob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] == "conversion"}
        assert not bad, (path, bad)
    for name in ("commands.py", "checks.py"):
        bad = {m for m in _imports(ROOT / "conversion" / name) if m in ("conversion.cli", "conversion.demo")}
        assert not bad, (name, bad)
    bad = {m for m in _imports(ROOT / "conversion" / "demo.py") if m == "conversion.cli"}
    assert not bad
    for path in (ROOT / "benchmarks").glob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("conversion.cli")}
        assert not bad, (path, bad)
    # the Beam writer uses the shard writer, not the builder base (no core <-> beam circle)
    assert "tfds_builders.core" not in _imports(ROOT / "tfds_builders" / "beam_writer.py")


@pytest.mark.parametrize("name", NAMES)
def test_parser_package_imports_without_tensorflow(name):
    """The numpy side stays free of TensorFlow: every module of a parser package imported
    in a fresh process leaves ``tensorflow`` out of ``sys.modules``."""
    modules = [f"parsers.{name}"] + [f"parsers.{name}.{p.stem}" for p in (ROOT / "parsers" / name).glob("*.py")
                                     if p.stem != "__init__"]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", (name, out.stdout, out.stderr[-2000:])
