"""Region-of-interest maps from callers: validate, normalize, and bring them near image size.

A map is relative: only the order and ratios of its values matter, so every map becomes
float32 in [0, 1] (min-max).  It may have any size; it is stretched over the image later,
pixel by pixel, inside the native kernels, so it is never stored at full size here unless
the caller passed it that way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

#: Map images whose pixels are numbers of one channel.
MAP_MODES = ("L", "F", "I", "I;16", "I;16L", "I;16B", "1")


def as_map_array(map_: Any, name: str = "semantic_map") -> np.ndarray:
    """A caller's map as a finite 2-D float64 array; clear errors for everything else."""
    if isinstance(map_, Image.Image):
        if map_.mode not in MAP_MODES:
            msg = (
                f"{name} image must be one channel (mode L or F), got mode {map_.mode}; "
                "convert it first, e.g. map.convert('L')"
            )
            raise ValueError(msg)
        map_ = map_.convert("F") if map_.mode not in ("L", "F") else map_
    try:
        arr = np.asarray(map_)
    except Exception as exc:  # numpy raises many kinds for odd objects
        msg = f"{name} must be a 2-D array of numbers or a mode L/F image: {exc}"
        raise TypeError(msg) from exc
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "f":
        arr = arr.astype(np.float64, copy=False)
    elif arr.dtype.kind == "c":
        msg = f"{name} must hold real numbers, got complex values; pass np.abs(map) or map.real"
        raise ValueError(msg)
    else:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            msg = f"{name} must hold numbers, got dtype {arr.dtype}"
            raise ValueError(msg) from exc
    if arr.ndim != 2:
        msg = f"{name} must be 2-D (height, width), got shape {arr.shape}; pass one channel"
        raise ValueError(msg)
    if arr.size == 0:
        msg = f"{name} is empty (shape {arr.shape}); it needs at least one value"
        raise ValueError(msg)
    if not np.isfinite(arr).all():
        msg = f"{name} contains NaN or infinite values; replace them, e.g. np.nan_to_num(map)"
        raise ValueError(msg)
    return arr


def normalize(arr: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Min-max to float32 [0, 1], C-contiguous; a constant map becomes all zeros.

    A new array is computed in float64 (so the maximum is exactly 1); ``in_place``
    instead reuses a C-contiguous float32 array the caller owns and computes in float32
    (a full-size map: 4 bytes a pixel, not 8 + 4).
    """
    lo, hi = float(arr.min()), float(arr.max())
    if not math.isfinite(hi - lo):  # finite values whose range overflows, e.g. -1e308..1e308
        arr, lo, hi, in_place = arr / 2.0, lo / 2.0, hi / 2.0, False
    if not hi > lo:
        return np.zeros(arr.shape, dtype=np.float32)
    if not in_place:
        return np.ascontiguousarray((arr - lo) / (hi - lo), dtype=np.float32)
    arr -= np.float32(lo)
    arr *= np.float32(1.0 / (hi - lo))
    return np.clip(arr, 0.0, 1.0, out=arr)


def fit_to(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Shrink a map that is larger than the image (area average); smaller maps stay small.

    Bilinear sampling of a larger map would alias; a box filter keeps each pixel's
    share of the map.  Maps at or below image size are stretched later by the kernels.
    """
    h, w = arr.shape
    if h <= height and w <= width:
        return arr
    target = (min(w, width), min(h, height))
    if max(-float(arr.min()), float(arr.max())) > float(np.finfo(np.float32).max):
        arr = normalize(arr)  # beyond float32: only relative values matter, so bring them in range
    shrunk = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32)).resize(
        target, Image.Resampling.BOX
    )
    return np.asarray(shrunk, dtype=np.float32)


def prepare_map(map_: Any, width: int, height: int, name: str = "semantic_map") -> np.ndarray:
    """Validated, normalized float32 map no larger than the image."""
    return normalize(fit_to(as_map_array(map_, name), width, height))
