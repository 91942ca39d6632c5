"""Pillow's own JPEG writer, called on a private view of an image.

Budget and final file must come from the same encoder with the same options, and every
caller option (EXIF, ICC, dpi, comment, restart markers, progressive, ...) is handled
exactly as Pillow handles it, so both go through ``JpegImagePlugin._save`` itself.  It is
called on a fresh ``Image`` that shares the caller's pixels: the caller's object (its
``encoderinfo`` included) is never touched, no save hook runs again, and nothing the
caller saved before leaks in.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

JPEG_MODES = frozenset(JpegImagePlugin.RAWMODE)


def check_mode(im: Image.Image) -> None:
    """Raise the error Pillow raises for modes JPEG cannot hold."""
    if im.mode not in JPEG_MODES:
        msg = f"cannot write mode {im.mode} as JPEG"
        raise OSError(msg)


def view(im: Image.Image) -> Image.Image:
    """A new ``Image`` over the same pixels and ``info`` (no pixel copy)."""
    im.load()
    return im._new(im.im)


def write(im: Image.Image, options: dict[str, Any]) -> bytes:
    """JPEG bytes of ``im`` (already a private view) with exactly ``options``."""
    im.encoderinfo = dict(options)
    im.encoderconfig = ()
    fp = io.BytesIO()
    JpegImagePlugin._save(im, fp, "")
    return fp.getvalue()


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
