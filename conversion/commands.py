"""What the ``eo-tfds`` commands do, as library functions: resolving a dataset spec to
its builder, writing samples, building, extracting, fusing, verifying, previewing. The
command line (:mod:`conversion.cli`) parses arguments and prints; the demo
(:mod:`conversion.demo`) and the benchmarks call these directly. The list of datasets
comes from the one registry, :data:`tfds_builders.DATASETS`.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path


def dataset_names() -> list[str]:
    """The datasets of eo-tfds, from the registry (:data:`tfds_builders.DATASETS`)."""
    quiet_tensorflow()
    from tfds_builders import DATASETS

    return list(DATASETS)


class UsageError(Exception):
    """A command-line argument that cannot work (exit 2)."""


def quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up chatter, so errors stay one line on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and not os.environ.get("EO_TFDS_TF_LOGS"):
        # the C++ runtime logs (oneDNN notice, absl preamble) at load time, before it
        # reads TF_CPP_MIN_LOG_LEVEL: silence file descriptor 2 for the import only
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
                try:
                    import tensorflow  # noqa: F401
                except ImportError:
                    pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def route_native_logs() -> None:
    """Keep TensorFlow's native log lines off the terminal for the rest of the process.

    Its C++ runtime writes warnings straight to file descriptor 2 (e.g. "Local rendezvous
    is aborting" when a read fails, with absl's "before InitializeLog" preamble), whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says: our one ``error:`` line would come with noise a user
    takes for a second error. File descriptor 2 goes to a discarded temporary file and
    Python's ``sys.stderr`` (our messages, progress bars, ``--debug`` tracebacks) to the
    terminal. Only for the command itself (``eo-tfds``, ``python -m conversion``), not
    with ``--debug`` or ``EO_TFDS_TF_LOGS=1``.
    """
    import tempfile

    sys.stderr.flush()
    terminal = os.dup(2)
    sink = tempfile.TemporaryFile()
    os.dup2(sink.fileno(), 2)
    sink.close()
    sys.stderr = os.fdopen(terminal, "w", buffering=1, errors="backslashreplace")


def dataset_name(spec: str) -> str:
    name = spec.split("/")[0].split(":")[0]
    known = dataset_names()
    if name not in known:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    return name


def resolve_builder(spec: str, data_dir: str, **kwargs):
    quiet_tensorflow()
    import tensorflow_datasets as tfds

    import tfds_builders  # noqa: F401  (registers the builders)

    name = dataset_name(spec)
    check_folder(data_dir, "--data-dir")
    try:
        return tfds.builder(spec, data_dir=data_dir, **kwargs)
    except (ValueError, tfds.core.registered.DatasetNotFoundError) as e:
        configs = [c.name for c in tfds.builder_cls(name).BUILDER_CONFIGS]
        if "/" in spec and not configs:
            raise UsageError(f"{spec}: {name} has no configs; give it as {name}") from None
        config = spec.split("/")[1].split(":")[0] if "/" in spec else None
        if config is not None and config not in configs:
            raise UsageError(f"{spec}: unknown config {config!r} of {name}; "
                             f"valid: {', '.join(configs)}") from None
        raise UsageError(f"{spec}: {' '.join(str(e).split())}") from None


def check_folder(path, option: str) -> None:
    """A path given as a folder that is a file: say so before anything tries to write."""
    if path is not None and os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {os.path.abspath(path)}: is a file, a folder was expected")


def synth(names: list[str], output, seed: int = 0, report=print) -> None:
    """Sample files of each dataset of ``names`` under ``output/<name>`` (the parser
    package's ``write_samples``)."""
    from tfds_builders import DATASETS

    for name in names:
        root = Path(output) / name
        try:
            DATASETS[name].parser.write_samples(root, seed=seed)
        except OSError as e:
            if e.errno is None and "written" in str(e):  # numpy's tofile on a full disk
                raise OSError(errno.ENOSPC, str(e), str(root)) from e
            raise
        report(f"{name}: sample files written to {root}")


def prepared_builder(spec: str, data_dir: str):
    """The builder of ``spec`` prepared in ``data_dir``, or a UsageError saying to build it."""
    builder = resolve_builder(spec, data_dir)
    if not builder.is_prepared():
        raise UsageError(f"{spec} is not prepared in {data_dir}: run `eo-tfds build` first")
    return builder


def build(spec: str, manual_dir: str, data_dir: str, file_format: str = "tfrecord",
          overwrite: bool = False, beam_options: list[str] | None = None):
    """Prepare ``spec`` (``name[/config]``) from ``manual_dir`` into ``data_dir``; returns the builder."""
    import tensorflow_datasets as tfds

    if not Path(manual_dir).is_dir():
        from parsers.errors import SourceDataError

        raise SourceDataError(manual_dir, "manual dir is a file, a folder was expected"
                              if Path(manual_dir).exists() else "manual dir does not exist",
                              "pass the folder holding the dataset's source files")
    # an overwrite may change the format: the prepared dataset's must not be imposed
    builder = resolve_builder(spec, data_dir, **({} if overwrite else {"file_format": file_format}))
    options = {}
    if beam_options is not None:
        try:
            import apache_beam as beam
        except ImportError:
            raise UsageError("--beam needs Apache Beam: pip install 'eo-tfds[beam]'") from None

        options["beam_options"] = beam.options.pipeline_options.PipelineOptions(flags=beam_options)
    config = tfds.download.DownloadConfig(
        manual_dir=manual_dir, **options,
        # an overwrite is built beside the prepared dataset, which stays until the swap
        # (EoBuilder.download_and_prepare, which also holds the build lock)
        download_mode=(tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS if overwrite
                       else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS))
    builder.download_and_prepare(download_config=config, file_format=file_format)
    return builder


def beam_flags(options: str | None = None) -> list[str]:
    """Beam pipeline flags of ``build --beam``: the local DirectRunner with one worker
    process per core, then ``options`` (comma-separated ``name=value``, as ``tfds build
    --beam_pipeline_options``), which win: ``runner=DataflowRunner,project=...``."""
    from tfds_builders.core import cores

    flags = ["--runner=DirectRunner", f"--direct_num_workers={cores()}",
             "--direct_running_mode=multi_processing",
             "--default_sdk_harness_log_level=WARNING"]  # workers log each channel at INFO
    return flags + [f"--{opt.strip().lstrip('-')}" for opt in (options or "").split(",") if opt.strip()]


def extract(input_path, output, md5: str | None = None, report=print) -> None:
    """Unpack a 7z archive, or every archive under a folder (each into its own folder
    under ``output``), checking md5 (given, or the ``.md5`` beside an archive)."""
    from parsers import archives
    from parsers.errors import SourceDataError

    src = Path(input_path)
    if src.is_dir():
        found = sorted(src.rglob("*.7z"))
        if not found:
            raise SourceDataError(src, "no .7z archive in this folder", "point --input at an archive or a folder of them")
    elif src.is_file():
        found = [src]
    else:
        raise SourceDataError(src, "no such file or folder", "point --input at a .7z archive or a folder of them")
    if md5 and len(found) > 1:
        raise UsageError("--md5 goes with a single archive; for a folder, put each .md5 beside its archive")
    for archive in found:
        digest = md5 if md5 else archives.find_md5(archive)
        out = Path(output) if len(found) == 1 else Path(output) / archive.relative_to(src).with_suffix("")
        members = archives.extract_archive(archive, out, md5=digest, progress=True)
        report(f"{archive.name}: {len(members)} files in {out}")
