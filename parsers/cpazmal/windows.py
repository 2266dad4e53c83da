"""CPAZMAL windows: the publisher's window extraction (numpy only).

:func:`extract_windows` gives exactly the windows, masks and positions of the publisher's
``extract_windows`` (its start-offset optimisation included) without a loop over
windows; :func:`extract_windows_reference` is that algorithm as a plain per-window loop,
the definition the fast one is tested and benchmarked against.

The rule (``tfds_builders/cpazmal/README.md``, "Windows"): a pixel is bad when its mask
exceeds ``max_mask_value`` at any date (-127, no data, never counts as bad), valid when
it is neither NaN nor no-data at every date and channel; a window is kept when bad% <=
``max_mask_percentage`` and valid% >= ``min_valid_percentage``; windows are swept
row-major from the start offset.
"""

from __future__ import annotations

import numpy as np

from parsers.cpazmal.constants import MASK_NODATA, NODATA_VALUE

__all__ = ["extract_windows", "extract_windows_reference"]


def _window_args(window_size, stride) -> tuple[int, int]:
    ws = int(window_size)
    if ws < 1 or ws != window_size:
        raise ValueError(f"window_size must be a positive integer, got {window_size!r}")
    st = ws if stride is None else int(stride)
    if st < 1 or (stride is not None and st != stride):
        raise ValueError(f"stride must be a positive integer or None, got {stride!r}")
    return ws, st



def _window_inputs(image, mask, window_size, stride):
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim < 2 or mask.ndim < 2:
        raise ValueError(f"image and mask need (H, W, ...) shapes, got {image.shape} and {mask.shape}")
    if image.shape[:2] != mask.shape[:2]:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in H, W")
    ws, st = _window_args(window_size, stride)
    return image, mask, ws, st


def _empty_windows(image, mask, ws):
    return (np.zeros((0, ws, ws) + image.shape[2:], np.float32),
            np.zeros((0, ws, ws) + mask.shape[2:], np.int8),
            np.zeros((0, 2), np.int32))


def _gather(image, mask, ws, ys, xs):
    n = len(ys)
    windows = np.empty((n, ws, ws) + image.shape[2:], np.float32)
    masks = np.empty((n, ws, ws) + mask.shape[2:], np.int8)
    for i, (y, x) in enumerate(zip(ys, xs)):
        windows[i] = image[y:y + ws, x:x + ws]
        masks[i] = mask[y:y + ws, x:x + ws]
    positions = np.stack([np.asarray(ys, np.int32), np.asarray(xs, np.int32)], axis=-1) \
        if n else np.zeros((0, 2), np.int32)
    return windows, masks, positions.reshape(n, 2)


def extract_windows_reference(image, mask, window_size: int, stride: int | None = None,
                              max_mask_value: int = 3, max_mask_percentage: float = 100.0,
                              min_valid_percentage: float = 50.0,
                              skip_optim_offset: bool = False, *, nodata: float = NODATA_VALUE):
    """The publisher's algorithm as a plain loop over windows (the rule above): the
    definition :func:`extract_windows` is tested and benchmarked against. Same
    arguments and result."""
    image, mask, ws, stride = _window_inputs(image, mask, window_size, stride)
    h, w = image.shape[:2]

    def kept(y, x) -> bool:
        window_mask = mask[y:y + ws, x:x + ws]
        bad = (window_mask > max_mask_value) & (window_mask != MASK_NODATA)
        if bad.ndim == 3:
            bad = np.any(bad, axis=-1)  # bad at any date
        bad_percentage = (np.sum(bad) / (ws * ws)) * 100.0
        window = image[y:y + ws, x:x + ws]
        invalid = np.isnan(window) | (window == nodata)
        valid = ~np.any(invalid.reshape(ws, ws, -1), axis=-1)  # valid at every date/channel
        valid_percentage = (np.sum(valid) / (ws * ws)) * 100.0
        return bool(bad_percentage <= max_mask_percentage
                    and valid_percentage >= min_valid_percentage)

    start_y, start_x = 0, 0
    if not skip_optim_offset:
        best_count = -1
        max_offset = min(stride, ws)
        for sy in range(max_offset):
            for sx in range(max_offset):
                if sy + ws > h or sx + ws > w:
                    continue
                count = 0
                for y in range(sy, h - ws + 1, stride):
                    for x in range(sx, w - ws + 1, stride):
                        count += kept(y, x)
                if count > best_count:  # strict: the first offset with the most wins
                    best_count, start_y, start_x = count, sy, sx
    ys, xs = [], []
    for y in range(start_y, h - ws + 1, stride):
        for x in range(start_x, w - ws + 1, stride):
            if kept(y, x):
                ys.append(y)
                xs.append(x)
    if not ys:
        return _empty_windows(image, mask, ws)
    return _gather(image, mask, ws, ys, xs)


def _pixel_bad(mask: np.ndarray, max_mask_value) -> np.ndarray:
    """(H, W) bool: mask > max_mask_value at any date, -127 never bad."""
    h, w = mask.shape[:2]
    bad = (mask > max_mask_value) & (mask != MASK_NODATA)
    return bad.reshape(h, w, -1).any(axis=-1)


def _pixel_valid(image: np.ndarray, nodata: float, rows: int = 64) -> np.ndarray:
    """(H, W) bool: neither NaN nor no-data at every date and channel. By row blocks,
    so the temporary boolean cube stays small."""
    h, w = image.shape[:2]
    valid = np.empty((h, w), bool)
    for y0 in range(0, h, rows):
        block = image[y0:y0 + rows]
        invalid = np.isnan(block)
        invalid |= block == nodata
        valid[y0:y0 + rows] = ~invalid.reshape(block.shape[0], w, -1).any(axis=-1)
    return valid


def _window_sums(indicator: np.ndarray, ws: int) -> np.ndarray:
    """Sum of ``indicator`` over every ws x ws window, by top-left corner:
    (H - ws + 1, W - ws + 1) int64, from one summed-area table."""
    h, w = indicator.shape
    table = np.zeros((h + 1, w + 1), np.int64)
    np.cumsum(indicator, axis=0, dtype=np.int64, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    ny, nx = h - ws + 1, w - ws + 1
    return (table[ws:, ws:] - table[:ny, ws:] - table[ws:, :nx] + table[:ny, :nx])


def extract_windows(image, mask, window_size: int, stride: int | None = None,
                    max_mask_value: int = 3, max_mask_percentage: float = 100.0,
                    min_valid_percentage: float = 50.0, skip_optim_offset: bool = False,
                    *, nodata: float = NODATA_VALUE):
    """The publisher's window extraction, exactly, without a loop over windows.

    Args:
        image: (H, W), (H, W, T), (H, W, C) or (H, W, T, C), e.g. ``load_data`` images.
        mask: (H, W) or (H, W, T) int8 (0..3, -127 no data).
        window_size: square side. stride: step (``None`` = window_size).
        max_mask_value: a pixel is bad if its mask exceeds this at any date (-127 never).
        max_mask_percentage: keep a window when bad% <= this.
        min_valid_percentage: ... and valid% >= this, a valid pixel being neither NaN
            nor ``nodata`` at every date and channel.
        skip_optim_offset: ``False``: try every start offset (sy, sx) in
            [0, min(stride, window_size))^2 that fits and use the first (smallest sy, then
            sx) with the most kept windows; ``True``: start at (0, 0).
        nodata: the no-data value (the file's, -999.0).

    Returns ``(windows, masks, positions)``, windows swept row-major: windows float32
    (N, ws, ws, *image.shape[2:]), masks int8 (N, ws, ws, *mask.shape[2:]), positions
    int32 (N, 2) top-left (y, x). N may be 0 (empty arrays, never None).

    How: per-pixel bad/valid images, one summed-area table each, so every window's
    counts come in O(1); the kept-window map is then summed per start offset by
    folding it with the stride (all offsets at once).
    """
    image, mask, ws, stride = _window_inputs(image, mask, window_size, stride)
    h, w = image.shape[:2]
    ny, nx = h - ws + 1, w - ws + 1
    if ny <= 0 or nx <= 0:
        return _empty_windows(image, mask, ws)
    area = ws * ws
    bad = _window_sums(_pixel_bad(mask, max_mask_value), ws)
    valid = _window_sums(_pixel_valid(image, nodata), ws)
    # The same float expressions as the loop, so the comparisons agree to the bit.
    keep = ((bad / area) * 100.0 <= max_mask_percentage) & \
           ((valid / area) * 100.0 >= min_valid_percentage)
    start_y, start_x = 0, 0
    if not skip_optim_offset:
        max_offset = min(stride, ws)  # <= stride: every offset is one residue class
        py, px = -(-ny // stride) * stride, -(-nx // stride) * stride
        folded = np.zeros((py, px), np.int64)
        folded[:ny, :nx] = keep
        counts = folded.reshape(py // stride, stride, px // stride, stride).sum(axis=(0, 2))
        counts = counts[:max_offset, :max_offset]
        # Offsets that do not fit count 0; if every count is 0 the loop keeps (0, 0) too.
        start_y, start_x = (int(v) for v in np.unravel_index(np.argmax(counts), counts.shape))
    sel = keep[start_y::stride, start_x::stride]
    iy, ix = np.nonzero(sel)  # row-major, as the sweep
    if iy.size == 0:
        return _empty_windows(image, mask, ws)
    return _gather(image, mask, ws, start_y + iy * stride, start_x + ix * stride)


def _bad_percentage(window_mask: np.ndarray, max_mask_value, ws: int) -> float:
    """Bad pixels of one window, in percent (the scenarios' check of a second image)."""
    bad = (window_mask > max_mask_value) & (window_mask != MASK_NODATA)
    if bad.ndim == 3:
        bad = np.any(bad, axis=-1)
    return (np.sum(bad) / (ws * ws)) * 100.0

