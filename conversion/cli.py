"""``eo-tfds``: synth, build, extract, fuse-hdf5, verify, inspect, demo.

Thin over the library: each command parses its arguments and calls parsers /
tfds_builders. Errors in the user's input or data print one ``error:`` line on stderr
and exit with status 2 (``--debug`` shows the traceback); ``verify`` exits 1 on the
first mismatch.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
from pathlib import Path

#: dataset name -> the parser module that reads it and writes its samples
PARSERS = {
    "cloudsen12_hq": "parsers.cloudsen12_hq",
    "s2_cloud_timeseries": "parsers.s2_cloud_timeseries",
    "cpazmal": "parsers.cpazmal",
    "gedi_agbd": "parsers.gedi_agbd",
    "glacier_interp": "parsers.glacier_interp",
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

    name = _dataset_name(spec)
    _check_folder(data_dir, "--data-dir")
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


def _check_folder(path, option: str) -> None:
    """A path given as a folder that is a file: say so before anything tries to write."""
    if path is not None and os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {os.path.abspath(path)}: is a file, a folder was expected")


# ------------------------------------------------------------------------ synth

def cmd_synth(args) -> int:
    names = list(PARSERS) if args.dataset == "all" else [_dataset_name(args.dataset)]
    for name in names:
        module = importlib.import_module(PARSERS[name])
        root = Path(args.output) / name
        try:
            module.write_samples(root, seed=args.seed)
        except OSError as e:
            if e.errno is None and "written" in str(e):  # numpy's tofile on a full disk
                raise OSError(errno.ENOSPC, str(e), str(root)) from e
            raise
        print(f"{name}: sample files written to {root}")
    return 0


# ------------------------------------------------------------------------ build

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
    builder = _builder(spec, data_dir, **({} if overwrite else {"file_format": file_format}))
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
    from parsers import archives as sevenzip
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
        md5 = args.md5 if args.md5 else sevenzip.find_md5(archive)
        out = Path(args.output) if len(archives) == 1 else Path(args.output) / archive.relative_to(src).with_suffix("")
        members = sevenzip.extract_archive(archive, out, md5=md5, progress=True)
        print(f"{archive.name}: {len(members)} files in {out}")
    return 0


# -------------------------------------------------------------------- fuse-hdf5

def cmd_fuse(args) -> int:
    from parsers import gedi_agbd as gedi

    if args.per_split:
        for split, out in gedi.fuse_hdf5_per_split(args.input, args.output, progress=True).items():
            print(f"{split}: fused into {out}")
        return 0
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
        splits = builder.info.splits
        split = args.split or next(iter(splits.keys()))
        if split not in splits:
            raise UsageError(f"{args.dataset} has no split {split!r}; its splits: {', '.join(splits.keys())}")
        size = splits[split].num_examples
        if not 0 <= args.index < size or args.count < 1:
            raise UsageError(f"--index {args.index} --count {args.count}: split {split} holds examples "
                             f"0..{size - 1}; give an index among them and a count >= 1")
        path = checks.preview(builder, args.png, split=split, index=args.index, count=args.count)
        shown = min(args.count, size - args.index)
        print(f"preview of {split} examples {args.index}..{args.index + shown - 1} written to {path}")
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

    s = sub.add_parser("fuse-hdf5", help="concatenate GEDI batch files into one "
                                          "(refuses to mix train* and test* files)")
    s.add_argument("--input", required=True)
    s.add_argument("--output", required=True,
                   help="the fused file; with --per-split a folder for train_fused.h5 and test_fused.h5")
    s.add_argument("--per-split", action="store_true",
                   help="write one fused file per split (train_fused.h5, test_fused.h5 in --output)")
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
    s.add_argument("--index", type=int, default=0, help="first example of the preview (default 0)")
    s.add_argument("--count", type=int, default=4, help="examples in the preview, one row each (default 4)")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("demo", help="the whole story on synthetic data")
    s.add_argument("--workdir", help="keep everything here (default: a temporary folder)")
    s.add_argument("--datasets", nargs="*", help="only these datasets")
    s.set_defaults(func=cmd_demo)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that temporary folders are removed on the way out."""


def _terminate(signum, frame):
    raise Terminated()


def _causes(error: BaseException):
    """``error`` and the exceptions it wraps (TFDS re-raises with context, a writer thread's
    error arrives as the cause or context of another), outermost first."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def classify(error: BaseException) -> tuple[int, str]:
    """(exit status, message) of an exception: 2 for bad input or a failure of the user's
    machine (said in plain words, naming the path), 1 for a bug of eo-tfds."""
    from parsers.errors import SourceDataError, machine_error

    chain = list(_causes(error))
    for e in chain:
        if isinstance(e, SourceDataError):
            return 2, e.message
        if isinstance(e, UsageError):
            return 2, str(e)
    for e in chain:
        found = machine_error(e)
        if found is not None:
            return 2, found.message
    return 1, (f"internal error ({type(error).__name__}: {error}); "
               "please report it with --debug's traceback")


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _quiet_tensorflow()  # before anything imports TensorFlow; Ctrl-C may come here too
        args = make_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt as e:
        what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        print(f"error: {what}; nothing half-written was kept, run the command again", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except Exception as e:
        if debug:
            raise
        status, message = classify(e)
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
