"""Per-band statistics over valid pixels, accumulated in one streaming pass.

Integer bands are summed exactly (Python ints), so the result does not depend on how
the pass was split between workers; float bands ignore NaN and infinities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class BandStats:
    """Running count, sum, sum of squares, min and max per band.

    ``update`` takes an array whose last axis is the band axis (any leading shape),
    and an optional boolean mask of valid pixels (the leading shape).
    """

    def __init__(self, bands: Sequence[str]):
        self.bands = list(bands)
        nb = len(self.bands)
        self.count = [0] * nb
        self.sum = [0] * nb
        self.sumsq = [0] * nb
        self.min = [math.inf] * nb
        self.max = [-math.inf] * nb
        self._buffers: dict[str, np.ndarray] = {}

    def _scratch(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """A reused work array: a fresh large array per call costs page faults (and,
        on a VM, often the host's backing of new pages) that dwarf the arithmetic."""
        size = int(np.prod(shape, dtype=np.int64))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(size, dtype)
        return buf[:size].reshape(shape)

    def __getstate__(self):  # the work arrays stay behind (Beam ships these objects)
        state = dict(self.__dict__)
        state["_buffers"] = {}
        return state

    def update(self, values: np.ndarray, valid: np.ndarray | None = None) -> None:
        if values.shape[-1] != len(self.bands):
            raise ValueError(f"expected {len(self.bands)} bands, got shape {values.shape}")
        is_int = np.issubdtype(values.dtype, np.integer)
        nb = len(self.bands)
        if isinstance(values, np.ndarray) and nb > 1:
            # one copy into band-major order: every band is then contiguous, and the
            # reductions below run at memory speed instead of striding over the bands
            planes = self._scratch("planes", (nb,) + values.shape[:-1], values.dtype)
            np.copyto(planes, np.moveaxis(values, -1, 0))
            planes = planes.reshape(nb, -1)
        else:
            planes = [np.ravel(values[..., b]) for b in range(nb)]
        flat_valid = None if valid is None else np.ravel(valid)
        for b in range(nb):
            x = planes[b]
            if flat_valid is not None:
                x = x[flat_valid]
            if not is_int:
                x = x[np.isfinite(x)]
            if x.size == 0:
                continue
            # float64 sums are exact below 2**53: blocks of 2**20 integers of up to 16
            # bits keep them so, and Python ints keep the totals exact. einsum, not a
            # BLAS dot: OpenBLAS splits a long dot over threads, which stalls whenever
            # another thread holds the other core (the shard writers, a training job).
            s = q = 0 if is_int else 0.0
            for i in range(0, x.size, 1 << 20):
                part = x[i:i + (1 << 20)]
                block = self._scratch("block", part.shape, np.float64)
                np.copyto(block, part)
                if is_int:
                    s += int(block.sum())
                    q += int(np.einsum("i,i", block, block))
                else:
                    s += float(block.sum())
                    q += float(np.einsum("i,i", block, block))
            self.count[b] += int(x.size)
            self.sum[b] += s
            self.sumsq[b] += q
            self.min[b] = min(self.min[b], float(x.min()))
            self.max[b] = max(self.max[b], float(x.max()))

    def merge(self, other: "BandStats") -> "BandStats":
        for b in range(len(self.bands)):
            self.count[b] += other.count[b]
            self.sum[b] += other.sum[b]
            self.sumsq[b] += other.sumsq[b]
            self.min[b] = min(self.min[b], other.min[b])
            self.max[b] = max(self.max[b], other.max[b])
        return self

    def as_dict(self) -> dict:
        """``{"bands", "count", "mean", "std", "min", "max"}``: lists in band order.

        ``std`` is the population standard deviation (ddof 0). A band with no valid
        pixel has count 0 and NaN statistics.
        """
        mean, std = [], []
        for n, s, q in zip(self.count, self.sum, self.sumsq):
            if n == 0:
                mean.append(math.nan)
                std.append(math.nan)
                continue
            if isinstance(s, int) and isinstance(q, int):
                var = (q * n - s * s) / (n * n)  # exact integer numerator
            else:
                var = max(q / n - (s / n) ** 2, 0.0)
            mean.append(s / n)
            std.append(math.sqrt(var))
        return {
            "bands": list(self.bands),
            "count": list(self.count),
            "mean": mean,
            "std": std,
            "min": [m if n else math.nan for m, n in zip(self.min, self.count)],
            "max": [m if n else math.nan for m, n in zip(self.max, self.count)],
        }


class PatchStats(BandStats):
    """:class:`BandStats` that also keeps each update's own statistics: one row per
    update (per example: a patch), in update order, then merge order.

    The totals are exactly a :class:`BandStats`'s over the same updates (each update is
    computed by a :class:`BandStats` and added as ``update`` adds it), so a builder that
    keeps per-patch rows publishes the same ``band_stats``. The rows let any subset of
    the patches be summarised later without reading them again (re-split trials).
    """

    FIELDS = ("count", "sum", "sumsq", "min", "max")

    def __init__(self, bands: Sequence[str]):
        super().__init__(bands)
        #: per update: ``[count, sum, sumsq, min, max]``, each a list in band order
        self.rows: list[list[list]] = []

    def update(self, values: np.ndarray, valid: np.ndarray | None = None) -> None:
        one = BandStats(self.bands)
        one._buffers = self._buffers  # pylint: disable=protected-access  # shared work arrays
        one.update(values, valid)
        self.rows.append([one.count, one.sum, one.sumsq, one.min, one.max])
        BandStats.merge(self, one)

    def merge(self, other: "BandStats") -> "PatchStats":
        super().merge(other)
        self.rows.extend(getattr(other, "rows", []))
        return self

    def arrays(self) -> dict[str, np.ndarray]:
        """The rows as ``{field: (updates, bands) array}``: ``count`` int64, ``sum`` and
        ``sumsq`` int64 when every value is an integer (exact; a value beyond int64 is
        an OverflowError, never a wrapped one), float64 otherwise; ``min``/``max``
        float64 (inf / -inf where a band had no valid value)."""
        nb = len(self.bands)
        out = {}
        for k, field in enumerate(self.FIELDS):
            column = [row[k] for row in self.rows]
            exact = field in ("count", "sum", "sumsq") and all(
                isinstance(v, int) for values in column for v in values)
            out[field] = np.array(column, np.int64 if exact else np.float64).reshape(len(column), nb)
        return out
