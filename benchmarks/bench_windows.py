"""windows: ``parsers.cpazmal.extract_windows`` against the straightforward per-window loop.

SPEC (Performance): with offset optimisation on a (1024, 1024, 40, 2) cube, the fast
version is >= 20x faster than the plain loop, with identical output. Both run in this
process on the same deterministic cube (float32 intensities with NaN and -999 regions;
an int8 mask with layover/shadow regions and -127 where there is no data), window 32,
stride 32, the scenario thresholds (max_mask_value 1, 10 %, 50 %). The loop is timed
once (about a minute and a half on one core), the fast version as the best of three.

Prints ``windows: fast X s, loop Y s, ratio R (bar 20x), cores N``; exit status 1 when
R < 20 or the outputs differ.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from parsers.cpazmal import MASK_NODATA, NODATA_VALUE, extract_windows, extract_windows_reference

BAR = 20.0
SHAPE = (1024, 1024, 40, 2)
PARAMS = dict(window_size=32, stride=32, max_mask_value=1, max_mask_percentage=10.0,
              min_valid_percentage=50.0, skip_optim_offset=False)


def make_cube(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic (1024, 1024, 40, 2) float32 cube and its (1024, 1024, 40) int8 mask."""
    rng = np.random.default_rng(seed)
    h, w, t, c = SHAPE
    cube = rng.gamma(2.0, 0.05, size=SHAPE).astype(np.float32)
    mask = np.zeros((h, w, t), np.int8)
    # no data: a swath edge on every date, blocks on some dates, scattered NaN
    cube[:, :90] = NODATA_VALUE  # swath edges: they make a non-zero start offset best
    cube[:, -20:] = NODATA_VALUE
    cube[:40] = NODATA_VALUE
    cube[-10:] = NODATA_VALUE
    for k in range(0, t, 7):
        y, x = rng.integers(0, h - 200, 2)
        cube[y:y + 150, x:x + 180, k, :] = NODATA_VALUE
    nan_rows = rng.integers(0, h, 300)
    nan_cols = rng.integers(0, w, 300)
    cube[nan_rows, nan_cols, rng.integers(0, t, 300), 0] = np.nan
    # layover (1) and shadow (2) slopes, both (3) where they meet, scattered speckle
    for _ in range(25):
        y, x = rng.integers(0, h - 120, 2)
        dy, dx = rng.integers(20, 120, 2)
        mask[y:y + dy, x:x + dx, :] = rng.integers(1, 4)
    speckle = rng.random((h, w)) < 0.01
    mask[speckle, rng.integers(0, t)] = 2
    mask[(cube[..., 0] == NODATA_VALUE)] = MASK_NODATA
    return cube, mask


def main() -> int:
    cores = os.cpu_count() or 1
    cube, mask = make_cube()

    best = float("inf")
    fast = None
    for _ in range(3):
        t0 = time.perf_counter()
        fast = extract_windows(cube, mask, **PARAMS)
        best = min(best, time.perf_counter() - t0)

    t0 = time.perf_counter()
    loop = extract_windows_reference(cube, mask, **PARAMS)
    loop_time = time.perf_counter() - t0

    identical = all(a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                    for a, b in zip(fast, loop))
    ratio = loop_time / best
    offset = tuple(int(v) % PARAMS["stride"] for v in fast[2][0]) if len(fast[2]) else None
    print(f"windows: fast {best:.3f} s, loop {loop_time:.1f} s, ratio {ratio:.0f} (bar {BAR:.0f}x), "
          f"cores {cores}; {len(fast[2])} windows kept, offset {offset}, "
          f"output {'identical' if identical else 'DIFFERENT'}")
    if not identical:
        print("windows: FAIL: the fast and the loop outputs differ", file=sys.stderr)
        return 1
    if ratio < BAR:
        print(f"windows: FAIL: ratio {ratio:.1f} below the bar {BAR:.0f}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
