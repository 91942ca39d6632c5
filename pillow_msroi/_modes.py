"""Image modes JPEG cannot hold directly: wide integer and float images brought to 8 bits."""

from __future__ import annotations

import numpy as np
from PIL import Image


def is_wide(mode: str) -> bool:
    """Integer and float modes wider than 8 bits, which JPEG cannot hold."""
    return mode in ("I", "F") or mode.startswith("I;16")


def wide_to_l(image: Image.Image) -> Image.Image:
    """A wide (``is_wide``) image as 8-bit L, rescaled rather than clipped as Pillow's
    ``convert("L")`` does: 16-bit by 1/257, I and F by their own min..max."""
    arr = np.asarray(image, dtype=np.float32)
    if image.mode.startswith("I;16"):
        arr = arr / 257.0
    else:
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
