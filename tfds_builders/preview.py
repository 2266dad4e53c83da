"""What every dataset's preview shares: stretched composites, class colours, the PNG.

A dataset's ``tfds_builders/<dataset>/preview.py`` has ``preview_rows(example, info)``:
one decoded example (numpy, as ``tfds.as_numpy`` or ``tfds.data_source`` give it) to a
list of :class:`Row` of :class:`Panel`, each panel an exact uint8 RGB array. ``write_png``
draws the rows of several examples one under another (nearest-neighbour, so a class
colour stays that colour), with one legend of every class colour shown.

The PNG carries, in its text chunk ``eo-tfds:panels``, a JSON list of the drawn panels
(row title, panel title, pixel box ``[left, top, right, bottom]``) and the legend, so a
program can find a panel in the picture.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from parsers.atomic import atomic_path

#: The colour of "no label" (label 255) and of no-data pixels in every preview.
NO_LABEL_RGB = (128, 128, 128)
NO_LABEL_NAME = "no label"
#: The drawn width of one panel (inches) and the PNG's resolution.
PANEL_INCHES = 2.6
DPI = 100


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as an ``(r, g, b)`` tuple of 0..255."""
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


@dataclasses.dataclass
class Panel:
    """One picture: ``image`` uint8 (H, W, 3) as drawn, and the classes it shows."""

    title: str
    image: np.ndarray
    legend: tuple[tuple[str, tuple[int, int, int]], ...] = ()


@dataclasses.dataclass
class Row:
    """The panels of one example (or one part of it, e.g. a time strip), left to right."""

    title: str
    panels: list[Panel]


@dataclasses.dataclass(frozen=True)
class Classes:
    """Class values, their names and colours; ``no_label`` is drawn grey as its own entry."""

    values: tuple[int, ...]
    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]
    no_label: int | None = 255
    no_label_name: str = NO_LABEL_NAME

    @classmethod
    def of(cls, names: Sequence[str], hex_colours: Sequence[str], values: Sequence[int] | None = None,
           **kwargs) -> "Classes":
        values = tuple(range(len(names))) if values is None else tuple(int(v) for v in values)
        return cls(values, tuple(names), tuple(rgb(c) for c in hex_colours[:len(names)]), **kwargs)

    @property
    def legend(self) -> tuple[tuple[str, tuple[int, int, int]], ...]:
        entries = tuple(zip(self.names, self.colours))
        if self.no_label is not None:
            entries += ((self.no_label_name, NO_LABEL_RGB),)
        return entries

    def colour_of(self, value) -> tuple[int, int, int]:
        """The colour a label value is drawn in (black for a value that is no class)."""
        value = int(value)
        if value in self.values:
            return self.colours[self.values.index(value)]
        return NO_LABEL_RGB if value == self.no_label else (0, 0, 0)

    def paint(self, label: np.ndarray) -> np.ndarray:
        """uint8 (..., 3): each label value in its class colour."""
        label = np.asarray(label).astype(np.int64)  # int8 masks with negative fills too
        out = np.zeros(label.shape + (3,), np.uint8)
        for value in np.unique(label):
            out[label == value] = self.colour_of(value)
        return out

    def panel(self, title: str, label: np.ndarray) -> Panel:
        return Panel(title, self.paint(label), self.legend)


def stretch(image: np.ndarray, invalid: np.ndarray | None = None) -> np.ndarray:
    """2-98 percentile stretch per channel of (..., C) to uint8, over the finite, valid values.

    Every leading axis shares the stretch (a time strip keeps its steps comparable);
    non-finite and ``invalid`` pixels are drawn grey.
    """
    image = np.asarray(image, np.float32)
    bad = ~np.isfinite(image).all(-1)
    if invalid is not None:
        bad |= np.broadcast_to(invalid, bad.shape)
    out = np.empty(image.shape, np.uint8)
    for c in range(image.shape[-1]):
        channel = image[..., c]
        good = channel[~bad]
        lo, hi = np.percentile(good, (2, 98)) if good.size else (0.0, 1.0)
        scaled = (channel - lo) / (hi - lo if hi > lo else 1.0)
        out[..., c] = np.round(np.clip(np.nan_to_num(scaled), 0, 1) * 255)
    out[bad] = NO_LABEL_RGB if image.shape[-1] == 3 else 128
    return out


def composite(image: np.ndarray, bands: Sequence[str], wanted: Sequence[str],
              invalid: np.ndarray | None = None) -> np.ndarray:
    """uint8 (..., 3): the ``wanted`` bands (by name, from ``bands``) of (..., C), stretched."""
    bands = list(bands)
    return stretch(np.asarray(image)[..., [bands.index(b) for b in wanted]], invalid)


def gray(band: np.ndarray, invalid: np.ndarray | None = None) -> np.ndarray:
    """uint8 (..., 3): one band stretched to grey levels (no data grey too, as SAR shows it)."""
    return np.repeat(stretch(np.asarray(band)[..., None], invalid), 3, axis=-1)


def colour_scale(values: np.ndarray, cmap: str = "viridis", invalid: np.ndarray | None = None,
                 vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """uint8 (..., 3): a continuous quantity (elevation, biomass) in a matplotlib colour map."""
    from matplotlib import colormaps

    values = np.asarray(values, np.float32)
    bad = ~np.isfinite(values) if invalid is None else (~np.isfinite(values) | invalid)
    good = values[~bad]
    lo = vmin if vmin is not None else (float(good.min()) if good.size else 0.0)
    hi = vmax if vmax is not None else (float(good.max()) if good.size else 1.0)
    scaled = np.clip(np.nan_to_num((values - lo) / (hi - lo if hi > lo else 1.0)), 0, 1)
    out = (colormaps[cmap](scaled)[..., :3] * 255).round().astype(np.uint8)
    out[bad] = NO_LABEL_RGB
    return out


def text(value) -> str:
    """A decoded string feature (bytes, str or 0-d array) as str."""
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def steps(length: int, most: int) -> list[int]:
    """At most ``most`` time indices of a series of ``length``, evenly spread, first and last kept."""
    if length <= most:
        return list(range(length))
    return sorted({int(round(i)) for i in np.linspace(0, length - 1, most)})


def write_png(rows: list[Row], path: os.PathLike | str, title: str = "") -> Path:
    """Draws ``rows`` one under another into the PNG ``path``; returns the path.

    Panels are drawn pixel for pixel (nearest neighbour), titled, without axes; one
    legend below lists every class colour the panels use. The file appears complete or
    not at all (written beside it, then renamed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import image
    from matplotlib.patches import Patch

    path = Path(path)
    ncols = max(len(r.panels) for r in rows)
    legend: dict[str, tuple[int, int, int]] = {}
    for row in rows:
        for panel in row.panels:
            for name, colour in panel.legend:
                legend.setdefault(name, colour)
    fig = plt.figure(figsize=(PANEL_INCHES * ncols, PANEL_INCHES * len(rows) + 0.4 + 0.3 * bool(legend)),
                     dpi=DPI, layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(rows), 1))
    drawn = []
    for sub, row in zip(subfigs, rows):
        sub.suptitle(row.title, fontsize=9)
        axes = np.atleast_1d(sub.subplots(1, ncols))
        for ax in axes[len(row.panels):]:
            ax.axis("off")
        for ax, panel in zip(axes, row.panels):
            ax.imshow(panel.image, interpolation="nearest")
            ax.set_title(panel.title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            drawn.append((row.title, panel.title, ax))
    if legend:
        handles = [Patch(facecolor=np.array(c) / 255, edgecolor="black", label=n) for n, c in legend.items()]
        fig.legend(handles=handles, loc="outside lower center", fontsize=8,
                   ncol=max(1, min(len(handles), int(PANEL_INCHES * ncols / 1.7))))  # ~1.7 in an entry
    if title:
        fig.suptitle(title, fontsize=10)
    fig.canvas.draw()  # once: the boxes below are those of the pixels saved
    height = fig.bbox.height
    boxes = [{"row": r, "panel": p, "box": [round(b.x0), round(height - b.y1), round(b.x1), round(height - b.y0)]}
             for r, p, b in ((r, p, ax.get_window_extent()) for r, p, ax in drawn)]
    meta = json.dumps({"panels": boxes, "legend": list(legend)})
    try:
        with atomic_path(path) as tmp:
            image.imsave(tmp, np.asarray(fig.canvas.buffer_rgba()), format="png",
                         metadata={"eo-tfds:panels": meta})
    finally:
        plt.close(fig)
    return path


def preview_rows(example, info) -> list[Row]:
    """The rows of one example, drawn by its dataset's ``tfds_builders.<name>.preview``."""
    import importlib

    return importlib.import_module(f"tfds_builders.{info.name}.preview").preview_rows(example, info)


def preview_png(examples, info, path: os.PathLike | str) -> Path:
    """Writes the preview of ``examples`` (decoded, of the dataset ``info`` describes) to the PNG ``path``."""
    rows = [row for example in examples for row in preview_rows(example, info)]
    return write_png(rows, path, title=info.full_name)
