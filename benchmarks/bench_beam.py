"""Beam generation against the in-process build: ``cloudsen12_hq/l1c``, same run, same files.

Both builds prepare the same synthetic l1c split (``EO_TFDS_BENCH_BEAM_PATCHES``, default
64 patches of 512 x 512 x 13 int16 = 455 MiB, in /dev/shm when it has room) from a warm
page cache, each in a fresh child process:

- in-process: ``download_and_prepare`` as ``eo-tfds build`` runs it (one writer thread
  per core);
- Beam: the same with ``eo-tfds build --beam``'s options (DirectRunner,
  ``direct_running_mode=multi_processing``, 2 worker processes).

Time is the ``download_and_prepare`` call (imports excluded; for Beam it includes
starting the workers, which import TensorFlow). Memory: the in-process child's peak RSS
from ``wait4``. The Beam driver reports its own peak (``RUSAGE_SELF``), the largest
worker's (``RUSAGE_CHILDREN``: the workers are its child processes, reaped when the
pipeline ends), and the peak of the sum over its process tree, sampled every 20 ms.
Each build runs ``EO_TFDS_BENCH_BEAM_RUNS`` times (default 3), alternating, and the
medians are compared (the machine may be shared). The two builds must give the same
files byte for byte (exit 1 otherwise); there is no speed bar.

Run: ``python -m benchmarks.bench_beam``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bench_cloudsen12 import _peak_of, bench_dir, write_warm_source

WORKERS = 2
MODULE = "benchmarks.bench_beam"


def _prepare(manual: str, data: str, beam_options=None) -> float:
    import tensorflow_datasets as tfds

    import tfds_builders  # noqa: F401

    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=data)
    t = time.perf_counter()
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=manual, beam_options=beam_options))
    return time.perf_counter() - t


def child_build_in_process(manual: str, data: str) -> dict:
    return {"seconds": _prepare(manual, data)}


def child_build_beam(manual: str, data: str) -> dict:
    import apache_beam as beam
    import psutil

    from conversion.commands import beam_flags

    options = beam.options.pipeline_options.PipelineOptions(
        flags=beam_flags(f"direct_num_workers={WORKERS}"))
    me = psutil.Process()
    peaks = {"tree": 0, "workers": {}}
    done = threading.Event()

    def sample() -> None:  # the sum over the process tree, and each worker's largest
        while not done.wait(0.02):
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                peaks["workers"][child.pid] = max(peaks["workers"].get(child.pid, 0), rss)
            peaks["tree"] = max(peaks["tree"], total)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    seconds = _prepare(manual, data, options)
    done.set()
    sampler.join()
    return {"seconds": seconds,
            "driver_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "worker_peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
            "tree_peak_sampled": peaks["tree"],
            "worker_peaks_sampled": sorted(peaks["workers"].values(), reverse=True)[:WORKERS]}


def _same_files(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        print("skipped: apache-beam is not installed (pip install 'eo-tfds[beam]')")
        return 0
    n = int(os.environ.get("EO_TFDS_BENCH_BEAM_PATCHES", "64"))
    runs = int(os.environ.get("EO_TFDS_BENCH_BEAM_RUNS", "3"))
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="eo-tfds-bench-beam-", dir=bench_dir(n)))
    local, beamed, same = [], [], True
    try:
        manual = work / "manual"
        split_bytes = write_warm_source(manual, n)
        for _ in range(runs):  # alternating, so that a busy moment of the machine hits both
            local.append(_peak_of("build_in_process", str(manual), str(work / "local"), module=MODULE))
            beamed.append(_peak_of("build_beam", str(manual), str(work / "beam"), module=MODULE))
            same = same and _same_files(work / "local", work / "beam")
            shutil.rmtree(work / "local")
            shutil.rmtree(work / "beam")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mib = lambda b: f"{b / 2**20:.0f} MiB"  # noqa: E731
    secs = lambda rs: sorted(r["seconds"] for r in rs)  # noqa: E731
    t_local, t_beam = statistics.median(secs(local)), statistics.median(secs(beamed))
    peak = lambda key, rs=beamed: max(r[key] for r in rs)  # noqa: E731
    print(f"cloudsen12_hq/l1c Beam benchmark, cores {cores}, train split {n} patches = "
          f"{split_bytes / 2**20:.0f} MiB, files in {work.parent}, {runs} runs of each")
    print(f"in-process build: median {t_local:.1f} s (runs {', '.join(f'{t:.1f}' for t in secs(local))}), "
          f"peak RSS {mib(peak('peak_rss', local))}")
    print(f"Beam DirectRunner, {WORKERS} worker processes: median {t_beam:.1f} s (runs "
          f"{', '.join(f'{t:.1f}' for t in secs(beamed))}); peak RSS driver {mib(peak('driver_peak'))}, "
          f"largest worker {mib(peak('worker_peak'))} (sampled: "
          f"{', '.join(mib(b) for b in beamed[-1]['worker_peaks_sampled'])}), whole process tree "
          f"{mib(peak('tree_peak_sampled'))} (sampled every 20 ms)")
    print(f"ratio Beam / in-process time (medians): {t_beam / t_local:.2f}x; "
          f"identical files: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
