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
