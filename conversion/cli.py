"""``eo-tfds``: synth, build, extract, fuse-hdf5, verify, inspect, demo.

Thin over the library: each command parses its arguments and calls parsers /
tfds_builders. Errors in the user's input or data print one ``error:`` line on stderr
and exit with status 2 (``--debug`` shows the traceback); ``verify`` exits 1 on the
first mismatch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

#: dataset name -> the parser module that reads it and writes its samples
PARSERS = {
    "cloudsen12_hq": "parsers.cloudsen12",
    "s2_cloud_timeseries": "parsers.s2_cloud",
    "cpazmal": "parsers.cpazmal",
    "gedi_agbd": "parsers.gedi",
    "glacier_interp": "parsers.glacier",
}


class UsageError(Exception):
    """A command-line argument that cannot work (exit 2)."""


def _quiet_tensorflow() -> None:
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


def _dataset_name(spec: str) -> str:
    name = spec.split("/")[0].split(":")[0]
    if name not in PARSERS:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(PARSERS)}")
    return name


def _builder(spec: str, data_dir: str, **kwargs):
    _quiet_tensorflow()
    import tensorflow_datasets as tfds

    import tfds_builders  # noqa: F401  (registers the builders)

    _dataset_name(spec)
    try:
        return tfds.builder(spec, data_dir=data_dir, **kwargs)
    except (ValueError, tfds.core.registered.DatasetNotFoundError) as e:
        raise UsageError(f"{spec}: {str(e).splitlines()[0]}") from None


# ------------------------------------------------------------------------ synth

def cmd_synth(args) -> int:
    names = list(PARSERS) if args.dataset == "all" else [_dataset_name(args.dataset)]
    for name in names:
        module = importlib.import_module(PARSERS[name])
        root = Path(args.output) / name
        module.write_samples(root, seed=args.seed)
        print(f"{name}: sample files written to {root}")
    return 0


# ------------------------------------------------------------------------ build

def _remove_stale_incomplete(builder) -> None:
    """A killed build leaves ``incomplete.XXXXXX_<version>`` folders: start clean."""
    import shutil

    parent = Path(builder.data_dir).parent
    if parent.is_dir():
        for stale in parent.glob(f"incomplete.*_{Path(builder.data_dir).name}"):
            shutil.rmtree(stale, ignore_errors=True)


def build(spec: str, manual_dir: str, data_dir: str, file_format: str = "tfrecord",
          overwrite: bool = False, beam_options: list[str] | None = None):
    """Prepare ``spec`` (``name[/config]``) from ``manual_dir`` into ``data_dir``; returns the builder."""
    import tensorflow_datasets as tfds

    if not Path(manual_dir).is_dir():
        from parsers.errors import SourceDataError

        raise SourceDataError(manual_dir, "manual dir does not exist",
                              "pass the folder holding the dataset's source files")
    builder = _builder(spec, data_dir, file_format=file_format)
    _remove_stale_incomplete(builder)
    if overwrite and builder.is_prepared():
        # TFDS's own overwrite mode fails on a builder that loaded the old dataset_info:
        # remove the prepared version and start from a fresh builder
        import shutil

        shutil.rmtree(builder.data_dir)
        builder = _builder(spec, data_dir, file_format=file_format)
    options = {}
    if beam_options is not None:
        try:
            import apache_beam as beam
        except ImportError:
            raise UsageError("--beam needs Apache Beam: pip install 'eo-tfds[beam]'") from None

        options["beam_options"] = beam.options.pipeline_options.PipelineOptions(flags=beam_options)
    config = tfds.download.DownloadConfig(
        manual_dir=manual_dir, download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS, **options)
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


def cmd_build(args) -> int:
    beam_options = None
    if args.beam or args.beam_options:
        beam_options = beam_flags(args.beam_options)
    builder = build(args.dataset, args.manual_dir, args.data_dir, args.file_format,
                    args.overwrite, beam_options)
    runner = [f.split("=", 1)[1] for f in beam_options or [] if f.startswith("--runner=")]
    print(f"{builder.info.full_name} in {builder.data_dir}"
          + (f" (generated by an Apache Beam pipeline, {runner[-1]})" if runner else ""))
    for name, split in builder.info.splits.items():
        print(f"  {name:<12} {split.num_examples:>8} examples  {split.num_shards:>4} shards  "
              f"{split.num_bytes / 2**20:10.1f} MiB")
    return 0


# ---------------------------------------------------------------------- extract

def cmd_extract(args) -> int:
    from parsers import s2_cloud
    from parsers.errors import SourceDataError

    src = Path(args.input)
    if src.is_dir():
        archives = sorted(src.rglob("*.7z"))
        if not archives:
            raise SourceDataError(src, "no .7z archive in this folder", "point --input at an archive or a folder of them")
    elif src.is_file():
        archives = [src]
    else:
        raise SourceDataError(src, "no such file or folder", "point --input at a .7z archive or a folder of them")
    if args.md5 and len(archives) > 1:
        raise UsageError("--md5 goes with a single archive; for a folder, put each .md5 beside its archive")
    for archive in archives:
        md5 = args.md5 if args.md5 else s2_cloud.find_md5(archive)
        out = Path(args.output) if len(archives) == 1 else Path(args.output) / archive.relative_to(src).with_suffix("")
        members = s2_cloud.extract_archive(archive, out, md5=md5, progress=True)
        print(f"{archive.name}: {len(members)} files in {out}")
    return 0


# -------------------------------------------------------------------- fuse-hdf5

def cmd_fuse(args) -> int:
    from parsers import gedi

    out = gedi.fuse_hdf5(args.input, args.output, progress=True)
    print(f"fused into {out}")
    return 0


# ----------------------------------------------------------------------- verify

def cmd_verify(args) -> int:
    from conversion import checks

    builder = _builder(args.dataset, args.data_dir)
    if not builder.is_prepared():
        raise UsageError(f"{args.dataset} is not prepared in {args.data_dir}: run `eo-tfds build` first")
    problem = checks.verify(builder, manual_dir=args.manual_dir, note=lambda text: print(f"note: {text}"))
    if problem:
        print(f"mismatch: {problem}", file=sys.stderr)
        return 1
    total = sum(s.num_examples for s in builder.info.splits.values())
    print(f"ok: {builder.info.full_name}: {total} examples verified"
          + (" against the sources, bit for bit" if args.manual_dir else " (counts and decoding)"))
    return 0


# ---------------------------------------------------------------------- inspect

def cmd_inspect(args) -> int:
    from conversion import checks

    builder = _builder(args.dataset, args.data_dir)
    if not builder.is_prepared():
        raise UsageError(f"{args.dataset} is not prepared in {args.data_dir}: run `eo-tfds build` first")
    print(checks.describe(builder))
    if args.png:
        path = checks.preview(builder, args.png, split=args.split)
        print(f"preview written to {path}")
    return 0


# ------------------------------------------------------------------------- demo

def cmd_demo(args) -> int:
    from conversion import demo

    return demo.run(args.workdir, datasets=args.datasets)


# ------------------------------------------------------------------------- main

def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eo-tfds", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write small sample files in the publishers' layouts")
    s.add_argument("dataset", help="a dataset name or 'all'")
    s.add_argument("--output", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("build", help="convert the source files into TFDS shards")
    s.add_argument("dataset", help="NAME or NAME/CONFIG")
    s.add_argument("--manual-dir", required=True)
    s.add_argument("--data-dir", required=True)
    s.add_argument("--file-format", choices=["tfrecord", "array_record"], default="tfrecord")
    s.add_argument("--overwrite", action="store_true", help="rebuild even if prepared")
    s.add_argument("--beam", action="store_true",
                   help="generate with an Apache Beam pipeline (the beam extra); by default "
                        "the local DirectRunner, one worker process per core")
    s.add_argument("--beam-options", metavar="NAME=VALUE,...",
                   help="Beam pipeline options, comma-separated as tfds build's "
                        "--beam_pipeline_options (implies --beam), e.g. "
                        "runner=DataflowRunner,project=P,region=R,temp_location=gs://B/tmp")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("extract", help="unpack .7z archives (s2_cloud_timeseries)")
    s.add_argument("--input", required=True, help="an archive or a folder of archives")
    s.add_argument("--output", required=True)
    s.add_argument("--md5", help="expected md5: hex digest or an .md5 file")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("fuse-hdf5", help="concatenate GEDI batch files into one")
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True)
    s.set_defaults(func=cmd_fuse)

    s = sub.add_parser("verify", help="re-read every example; with --manual-dir compare with the sources")
    s.add_argument("dataset")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--manual-dir")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("inspect", help="splits, counts, features, band statistics, a preview")
    s.add_argument("dataset")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--png", help="write a preview image here")
    s.add_argument("--split", default=None, help="split of the preview (default: the first)")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("demo", help="the whole story on synthetic data")
    s.add_argument("--workdir", help="keep everything here (default: a temporary folder)")
    s.add_argument("--datasets", nargs="*", help="only these datasets")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()  # before anything imports TensorFlow
    args = make_parser().parse_args(argv)
    from parsers.errors import SourceDataError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was kept, run the command again", file=sys.stderr)
        return 130
    except (SourceDataError, UsageError, FileNotFoundError, ValueError) as e:
        if args.debug:
            raise
        message = " ".join(str(e).split())
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
