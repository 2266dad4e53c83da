"""``preview_png``: a scene (or tile) of glacier_interp as one PNG, for ``eo-tfds inspect --png``."""

from __future__ import annotations

import os

import numpy as np

from parsers import glacier as src

#: False colour for glaciers: SWIR 1, NIR, red (ice and snow show cyan, rock brown).
FALSE_COLOUR = (4, 3, 2)


def _text(value) -> str:
    value = np.asarray(value).item() if not isinstance(value, (str, bytes)) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _stretch(band: np.ndarray, lo=None, hi=None) -> np.ndarray:
    band = band.astype(np.float32)
    if lo is None or hi is None or hi <= lo:
        finite = band[np.isfinite(band)]
        lo, hi = (np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0))
    span = hi - lo if hi > lo else 1.0
    return np.nan_to_num(np.clip((band - lo) / span, 0, 1))


def preview_png(example, path: str | os.PathLike) -> str:
    """Writes false-colour image, elevation and mask side by side to ``path`` (PNG).

    ``example`` is one decoded example of either config, as numpy arrays or tensors
    (``tfds.as_numpy`` or the parser's dicts): ``scenes`` (uint16 bands, ``dem``,
    ``mask``; stretched with ``norm_min``/``norm_max`` when present) or ``tiles512``
    (7 normalised channels; mask 255 outside the scene is shown grey). Returns the path.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    image = np.asarray(example["image"])
    mask = np.asarray(example["mask"])
    if "dem" in example:
        elevation = np.asarray(example["dem"])[..., 0].astype(np.float32)
    else:
        elevation = image[..., src.NUM_BANDS].astype(np.float32)
    lo = np.asarray(example["norm_min"]) if "norm_min" in example else None
    hi = np.asarray(example["norm_max"]) if "norm_max" in example else None
    if np.issubdtype(image.dtype, np.floating):  # tiles512: already normalised to [0, 1]
        rgb = np.stack([np.clip(image[..., c], 0, 1) for c in FALSE_COLOUR], -1)
    else:
        rgb = np.stack([_stretch(image[..., c], None if lo is None else lo[c],
                                 None if hi is None else hi[c]) for c in FALSE_COLOUR], -1)
    outside = mask == src.IGNORE_LABEL
    rgb[outside] = 0.5
    elevation = np.where(outside, np.nan, elevation)

    title = _text(example.get("id", "")) if hasattr(example, "get") else ""
    sensor = example.get("sensor") if hasattr(example, "get") else None
    if sensor is not None:
        s = _text(sensor)
        title += f" ({src.SENSORS[int(s)] if s.isdigit() else s})"

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), constrained_layout=True)
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("false colour (SWIR1, NIR, red)")
    im = axes[1].imshow(elevation, cmap="terrain", interpolation="nearest")
    axes[1].set_title("elevation (m)" if "dem" in example else "elevation (normalised)")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    shown = np.where(outside, 2, np.clip(mask, 0, 1)).astype(np.uint8)
    cmap = ListedColormap(["#6b4f3a", "#d8f3ff", "#9a9a9a"])
    axes[2].imshow(shown, cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
    axes[2].set_title("mask: glacier light, other brown, outside grey", fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    path = os.fspath(path)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
