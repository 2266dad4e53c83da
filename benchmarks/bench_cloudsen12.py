"""CloudSEN12 figures of SPEC "Performance": build and read, as ratios measured in one run.

- build: ``cloudsen12_hq/l1c`` preparation against a plain loop writing one
  ``tf.train.Example`` per patch (one bytes feature per layer) with one
  ``tf.io.TFRecordWriter``; each runs in its own child process so its peak resident
  memory (``ru_maxrss``, TensorFlow included) is its own. Bar: >= 1.5x, peak < 1 GiB
  for a split of >= 2 GiB.
- read: the training pipeline (random 256 crop, batch 16, normalised; first epoch, so
  every record's CRC is checked as it is read) in patches/s
  against (a) one bare ``tf.data.TFRecordDataset`` iterating the same shards (bar 1.5x)
  and (b) the plain pipeline a user writes without eo-tfds over the plain records
  (``parse_single_example``, ``decode_raw`` per layer, stack, same crop and batch;
  bar 5x). Also printed: the ratio to numpy copying full patches out of the memmaps, and
  the rate of a later epoch (records already checked: what the check costs).
- training: the same pipeline with ``augment=True`` against one bare
  ``TFRecordDataset`` (bar 0.75x) and a plain ``tfds.load`` + map augmenting per example
  (rot90/flip, ``tf.pow`` gamma, ``tf.random.normal`` noise; bar 5x); the augmentation's
  cost against ``augment=False`` (goal <= 30 %, printed); cold: a copy of the shards in a
  disk folder (``EO_TFDS_COLD_DIR``, default /tmp: tmpfs cannot evict), evicted with
  ``posix_fadvise(DONTNEED)`` before each pass: the first epoch (CRCs: whole records
  read) and a later one (records already verified), bar 1.5x on the later one.

Run: ``python -m benchmarks.bench_cloudsen12`` (``EO_TFDS_BENCH_PATCHES`` sets the
train split's size, default 300 patches = 2.1 GiB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

P = 512
CROP = 256
BATCH = 16


def write_source(root: Path, n_train: int, seed: int = 0) -> None:
    """A large l1c-only split (13 int16 layers + labels) and tiny val/test, on disk."""
    from parsers import cloudsen12_hq as src

    rng = np.random.default_rng(seed)
    for folder, n in (("train", n_train), ("val", 1), ("test", 1)):
        d = root / folder
        d.mkdir(parents=True)
        for layer in src.CONFIGS["l1c"].layers:
            with open(d / f"{layer}.dat", "wb") as f:
                for start in range(0, n, 32):  # bounded memory while writing
                    k = min(32, n - start)
                    f.write(rng.integers(0, 10000, (k, P, P), dtype=np.int16).tobytes())
        with open(d / "LABEL_manual_hq.dat", "wb") as f:
            for start in range(0, n, 32):
                k = min(32, n - start)
                lab = rng.integers(0, 4, (k, P, P), dtype=np.int8)
                lab[:, 0, :] = lab[:, :, 0] = -1
                lab[:, 510:, :] = lab[:, :, 510:] = -1
                f.write(lab.tobytes())


def write_warm_source(root: Path, n_train: int) -> int:
    """:func:`write_source`, then the train split read once, so that every build reads
    it from the same warm page cache; returns the train split's size in bytes."""
    write_source(root, n_train)
    for p in (root / "train").iterdir():
        with open(p, "rb") as f:
            while f.read(64 << 20):
                pass
    return sum(p.stat().st_size for p in (root / "train").iterdir())


# ---------------------------------------------------------------- child programs

def child_build_ours(manual: str, data: str) -> dict:
    import tensorflow_datasets as tfds

    import tfds_builders  # noqa: F401

    os.environ["EO_TFDS_PROGRESS"] = "0"
    builder = tfds.builder("cloudsen12_hq/l1c", data_dir=data)
    t = time.perf_counter()
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    return {"seconds": time.perf_counter() - t}


def child_build_plain(manual: str, out: str) -> dict:
    import tensorflow as tf

    from parsers import cloudsen12_hq as src

    folder = Path(manual) / "train"
    names = list(src.CONFIGS["l1c"].layers) + ["LABEL_manual_hq"]
    n = (folder / "L1C_B1.dat").stat().st_size // (P * P * 2)
    t = time.perf_counter()
    maps = [np.memmap(folder / f"{name}.dat", dtype=src.layer_dtype(name), mode="r", shape=(n, P, P))
            for name in names]
    with tf.io.TFRecordWriter(out) as writer:
        for i in range(n):
            feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[m[i].tobytes()]))
                       for name, m in zip(names, maps)}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return {"seconds": time.perf_counter() - t}


def _peak_of(kind: str, *args: str, module: str = "benchmarks.bench_cloudsen12") -> dict:
    """Run ``<module>.child_<kind>(*args)`` in a fresh interpreter; its result plus its peak
    RSS (wait4: the largest of the child and of the processes it waited for)."""
    code = (f"import json, sys; import {module} as b; "
            f"print('RESULT', json.dumps(b.child_{kind}(*sys.argv[1:])))")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", EO_TFDS_PROGRESS="0")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: exec the interpreter with stdout to the pipe
        os.close(out_r)
        os.dup2(out_w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execve(sys.executable, [sys.executable, "-c", code, *args], env)
    os.close(out_w)
    with os.fdopen(out_r) as f:
        out = f.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"benchmark child {kind} failed (status {status})")
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])
    result["peak_rss"] = usage.ru_maxrss * 1024
    return result


# ------------------------------------------------------------------------ reads

def _rate(ds, per_element) -> float:
    it = iter(ds)
    first = next(it)  # start-up (thread pools, shuffle buffer fill) is not throughput
    n = 0
    t = time.perf_counter()
    for element in it:
        n += per_element(element)
    return n / (time.perf_counter() - t)


def read_figures(data: str, plain_file: str, manual: str) -> dict:
    import tensorflow as tf

    from parsers import cloudsen12_hq as src
    from tfds_builders import pipelines
    from tfds_builders.pipelines import records

    builder = pipelines.load_builder("cloudsen12_hq/l1c", data)
    shards = [os.fspath(p) for p in builder.info.splits["train"].filepaths]
    bare = _rate(tf.data.TFRecordDataset(shards), lambda e: 1)

    def training_pipeline():
        return pipelines.cloudsen12_hq("train", data_dir=data, crop_size=CROP, batch_size=BATCH, seed=0)

    records.forget_verified()
    ours = _rate(training_pipeline(), lambda e: int(e[0].shape[0]))  # first epoch: CRCs checked
    later = _rate(training_pipeline(), lambda e: int(e[0].shape[0]))  # records known good

    names = list(src.CONFIGS["l1c"].layers) + ["LABEL_manual_hq"]
    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in names}

    def plain_parse(record):
        ex = tf.io.parse_single_example(record, spec)
        bands = [tf.reshape(tf.io.decode_raw(ex[name], tf.int16), (P, P)) for name in names[:-1]]
        image = tf.stack(bands, axis=-1)
        label = tf.reshape(tf.io.decode_raw(ex["LABEL_manual_hq"], tf.int8), (P, P))
        r = tf.random.uniform([], 1, 510 - CROP + 1, tf.int32)
        c = tf.random.uniform([], 1, 510 - CROP + 1, tf.int32)
        return tf.cast(image[r:r + CROP, c:c + CROP], tf.float32), label[r:r + CROP, c:c + CROP]

    plain = _rate(tf.data.TFRecordDataset(plain_file).map(plain_parse).batch(BATCH),
                  lambda e: int(e[0].shape[0]))

    split = src.CloudSEN12Split(Path(manual) / "train", "l1c")
    maps = [split.memmap(i) for i in range(len(names))]
    t = time.perf_counter()
    for i in range(len(split)):
        np.stack([m[i] for m in maps[:-1]], axis=-1)
        np.array(maps[-1][i])
    numpy_rate = len(split) / (time.perf_counter() - t)
    out = {"bare_reader": bare, "pipeline": ours, "plain_pipeline": plain, "numpy_memmap": numpy_rate,
           "pipeline_later": later}
    out.update(training_figures(data, shards))
    return out


def plain_training_pipeline(data: str, builder):
    """What a user writes without eo-tfds for training: ``tfds.load`` and a map doing the
    same random crop inside the valid box, normalisation and augmentations per example
    (rot90 / flip of image and label, gamma on reflectance, noise of 0.03 band stds)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    meta = builder.info.metadata
    scale = float(meta["scale"])
    mean = tf.constant(meta["band_stats"]["mean"], tf.float32)
    std = tf.constant(meta["band_stats"]["std"], tf.float32)
    r0, c0, r1, c1 = meta["valid_box"]

    def augment(ex):
        r = tf.random.uniform([], r0, r1 - CROP + 1, tf.int32)
        c = tf.random.uniform([], c0, c1 - CROP + 1, tf.int32)
        x = tf.cast(ex["image"][r:r + CROP, c:c + CROP], tf.float32)
        y = tf.cast(ex["label"][r:r + CROP, c:c + CROP], tf.int32)[..., None]
        k = tf.random.uniform([], 0, 4, tf.int32)
        x, y = tf.image.rot90(x, k), tf.image.rot90(y, k)
        flip = tf.random.uniform([]) < 0.5
        x = tf.cond(flip, lambda: tf.image.flip_left_right(x), lambda: x)
        y = tf.cond(flip, lambda: tf.image.flip_left_right(y), lambda: y)
        g = tf.random.uniform([], 0.8, 1.25)
        x = tf.pow(tf.maximum(x * scale, 0.0), g) / scale
        x = (x - mean) / std
        x = x + tf.random.normal(tf.shape(x)) * 0.03
        w = tf.cast(y[..., 0] != 255, tf.float32)
        return x, tf.where(y[..., 0] == 255, 0, y[..., 0]), w

    ds = tfds.load("cloudsen12_hq/l1c", split="train", data_dir=data, shuffle_files=True)
    return ds.map(augment).batch(BATCH)


def evict(paths) -> None:
    """Drop ``paths`` from the page cache (written back first): the next read is cold."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def training_figures(data: str, shards) -> dict:
    """The training path: ``augment=True`` (first epoch: CRCs checked; a later one),
    the plain tfds.load + map pipeline, and cold reads of a copy on disk."""
    import tensorflow as tf

    from tfds_builders import pipelines
    from tfds_builders.pipelines import records

    count = lambda e: int(e[0].shape[0])  # noqa: E731

    def training(where, augment=True):
        return pipelines.cloudsen12_hq("train", data_dir=where, crop_size=CROP, batch_size=BATCH,
                                       seed=0, augment=augment)

    builder = pipelines.load_builder("cloudsen12_hq/l1c", data)
    bare = _rate(tf.data.TFRecordDataset(shards), lambda e: 1)
    records.forget_verified()
    unaug = _rate(training(data, False), count)
    records.forget_verified()
    aug = _rate(training(data), count)
    aug_later = _rate(training(data), count)
    unaug_later = _rate(training(data, False), count)
    plain = _rate(plain_training_pipeline(data, builder), count)
    out = {"train_bare": bare, "train_unaug": unaug, "train_aug": aug, "train_aug_later": aug_later,
           "train_unaug_later": unaug_later, "train_plain": plain}

    # cold: a copy of the prepared dataset in a disk folder (tmpfs cannot evict)
    disk = Path(tempfile.mkdtemp(prefix="eo-tfds-cold-", dir=os.environ.get("EO_TFDS_COLD_DIR", "/tmp")))
    try:
        shutil.copytree(data, disk / "data")
        cold_builder = pipelines.load_builder("cloudsen12_hq/l1c", str(disk / "data"))
        cold_shards = [os.fspath(p) for p in cold_builder.info.splits["train"].filepaths]
        evict(cold_shards)
        out["cold_bare"] = _rate(tf.data.TFRecordDataset(cold_shards), lambda e: 1)
        evict(cold_shards)
        records.forget_verified()
        out["cold_aug"] = _rate(training(str(disk / "data")), count)  # reads whole records: CRCs
        evict(cold_shards)
        out["cold_aug_later"] = _rate(training(str(disk / "data")), count)  # records already verified
        out["cold_fs"] = subprocess.run(["df", "--output=fstype", str(disk)], capture_output=True,
                                        text=True).stdout.split()[-1]
    finally:
        shutil.rmtree(disk, ignore_errors=True)
    return out


def warm_memory(where: Path, nbytes: int) -> None:
    """Write and delete ``nbytes`` in ``where`` so the build that follows writes into
    memory the VM already backs. Guest pages touched for the first time cost the
    hypervisor's fault (measured here: 2 GiB written into new tmpfs pages took 1.7-3.8 s,
    into recently freed ones 0.6 s); without this the side that runs first, or that
    finds fewer freed pages, pays seconds that have nothing to do with its code."""
    chunk = bytes(64 << 20)
    scratch = where / "warm.tmp"
    with open(scratch, "wb") as f:
        for _ in range(0, nbytes, len(chunk)):
            f.write(chunk)
    scratch.unlink()


def bench_dir(n: int) -> str | None:
    """Where to put the ~3 x 2 GiB of files: ``EO_TFDS_BENCH_DIR``, else /dev/shm when it
    has room (both sides then measure the code, not the disk's write-back), else /tmp."""
    if os.environ.get("EO_TFDS_BENCH_DIR"):
        return os.environ["EO_TFDS_BENCH_DIR"]
    need = 3.5 * n * 7.1e6
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > need:
        return "/dev/shm"
    return None


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    n = int(os.environ.get("EO_TFDS_BENCH_PATCHES", "310"))
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="eo-tfds-bench-", dir=bench_dir(n)))
    try:
        manual, data, plain = work / "manual", work / "data", work / "plain.tfrecord"
        split_bytes = write_warm_source(manual, n)
        warm_memory(work, int(split_bytes * 1.1))
        plain_build = _peak_of("build_plain", str(manual), str(plain))
        warm_memory(work, int(split_bytes * 1.1))
        ours_build = _peak_of("build_ours", str(manual), str(data))
        reads = read_figures(str(data), str(plain), str(manual))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gib = 2**30
    build_ratio = plain_build["seconds"] / ours_build["seconds"]
    r_bare = reads["pipeline"] / reads["bare_reader"]
    r_plain = reads["pipeline"] / reads["plain_pipeline"]
    r_numpy = reads["pipeline"] / reads["numpy_memmap"]
    mib_s = lambda sec: split_bytes / sec / 2**20  # noqa: E731
    print(f"cloudsen12_hq/l1c benchmark, cores {cores}, train split {n} patches = {split_bytes / gib:.2f} GiB, "
          f"files in {work.parent}")
    print(f"build: eo-tfds {ours_build['seconds']:.1f} s ({mib_s(ours_build['seconds']):.0f} MiB/s, "
          f"peak RSS {ours_build['peak_rss'] / 2**20:.0f} MiB); plain writer loop "
          f"{plain_build['seconds']:.1f} s ({mib_s(plain_build['seconds']):.0f} MiB/s, peak RSS "
          f"{plain_build['peak_rss'] / 2**20:.0f} MiB); ratio {build_ratio:.2f}x (bar 1.5x), "
          f"peak {'<' if ours_build['peak_rss'] < gib else '>='} 1 GiB")
    print(f"read: pipeline {reads['pipeline']:.0f} patches/s; one bare TFRecordDataset "
          f"{reads['bare_reader']:.0f} records/s -> {r_bare:.2f}x (bar 1.5x); plain per-layer "
          f"pipeline {reads['plain_pipeline']:.0f} patches/s -> {r_plain:.2f}x (bar 5x); numpy "
          f"copying full patches from the memmaps {reads['numpy_memmap']:.0f} patches/s -> {r_numpy:.2f}x")
    print(f"read check: each record's data CRC32C checked the first time the process reads it "
          f"(the figures above); later epochs {reads['pipeline_later']:.0f} patches/s -> the check "
          f"costs {100 * (1 - reads['pipeline'] / reads['pipeline_later']):.0f} % of the first epoch's rate")
    t_bare = reads["train_aug"] / reads["train_bare"]
    t_plain = reads["train_aug"] / reads["train_plain"]
    cost = 1 - reads["train_aug"] / reads["train_unaug"]
    cost_later = 1 - reads["train_aug_later"] / reads["train_unaug_later"]
    cold = reads["cold_aug"] / reads["cold_bare"]
    cold_later = reads["cold_aug_later"] / reads["cold_bare"]
    print(f"training (augment=True, cores {cores}): {reads['train_aug']:.0f} patches/s (first epoch, CRCs "
          f"checked); one bare TFRecordDataset {reads['train_bare']:.0f} records/s -> {t_bare:.2f}x "
          f"(bar 0.75x); plain tfds.load + map augmenting per example {reads['train_plain']:.0f} "
          f"patches/s -> {t_plain:.2f}x (bar 5x)")
    print(f"augmentation cost (cores {cores}): un-augmented {reads['train_unaug']:.0f} patches/s -> costs "
          f"{100 * cost:.0f} % (goal <= 30 %); later epochs {reads['train_aug_later']:.0f} vs "
          f"{reads['train_unaug_later']:.0f} patches/s -> {100 * cost_later:.0f} %")
    print(f"cold (cores {cores}, shards on {reads['cold_fs']}, evicted with posix_fadvise before each pass): "
          f"bare TFRecordDataset {reads['cold_bare']:.0f} records/s; augment=True first epoch (whole "
          f"records read for their CRCs) {reads['cold_aug']:.0f} patches/s -> {cold:.2f}x; a later epoch "
          f"(records already verified, crops' rows only) {reads['cold_aug_later']:.0f} patches/s -> "
          f"{cold_later:.2f}x (bar 1.5x)")
    failures = []
    if t_bare < 0.75:
        failures.append("training vs bare reader")
    if t_plain < 5:
        failures.append("training vs plain tfds.load + map")
    if cold_later < 1.5:
        failures.append("cold training vs bare reader")
    if build_ratio < 1.5:
        failures.append("build ratio")
    if split_bytes >= 2 * gib and ours_build["peak_rss"] >= gib:
        failures.append("build peak memory")
    if r_bare < 1.5:
        failures.append("read vs bare reader")
    if r_plain < 5:
        failures.append("read vs plain pipeline")
    if failures:
        print("BELOW BAR: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
