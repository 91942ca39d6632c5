"""The paper's method: quality layers -> streaming blend.

Each selected layer is encoded with libjpeg-turbo (simplejpeg), decoded into one reusable
buffer and its pixels copied where the level map selects it.  Decoded, there is one
layer at a time; compressed, only a few are in flight.  Large images are processed in
horizontal bands (whole MCU rows), so the input copy and the layers stay band-sized and
a 24-megapixel photo needs little more than its output.  Encodes run in a small thread
pool (simplejpeg releases the GIL); decodes and copies run on the calling thread.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image

from . import _native
from .levels import quality_of

#: Pillow's subsampling settings -> simplejpeg's; -1 is libjpeg's default, 4:2:0.
_SUBSAMPLING = {-1: "420", 0: "444", 1: "422", 2: "420"}
#: Pixels per band: images up to this size are blended whole.
BAND_PIXELS = 1 << 22
#: Rows of a band are a multiple of this (an MCU row at 4:2:0), so bands split no block.
BAND_ALIGN = 16
#: Layer encodes allowed ahead of the decoder: bounds the compressed layers held.
AHEAD = 3


@dataclass(frozen=True)
class Layout:
    """How the blend reads and writes one image mode."""

    source_mode: str  # Pillow mode the layers are encoded from
    colorspace: str  # simplejpeg colour space of the source pixels
    channels: int  # channels of the decoded layer and of the output
    decode_space: str  # simplejpeg colour space to decode into
    mode: str  # Pillow mode of the blended output array
    final_mode: str  # Pillow mode handed to the JPEG writer (the caller's, as Pillow saves it)


def layout_of(mode: str) -> Layout:
    if mode in ("1", "L"):
        return Layout("L", "GRAY", 1, "GRAY", "L", "L")
    if mode == "CMYK":
        return Layout("CMYK", "CMYK", 4, "CMYK", "CMYK", "CMYK")
    if mode == "RGBX":
        return Layout("RGBX", "RGBX", 4, "RGBX", "RGBX", "RGBX")
    # RGB decodes to RGBX, which Pillow wraps without a copy.  YCbCr is layered like any
    # RGB photo and converted back, so the final file is written as Pillow writes YCbCr.
    return Layout("RGB", "RGB", 4, "RGBX", "RGBX", "YCbCr" if mode == "YCbCr" else "RGB")


def subsampling_of(layout: Layout, subsampling: int) -> str:
    if layout.colorspace == "GRAY":
        return "Gray"
    if layout.colorspace == "CMYK":
        return "444"
    return _SUBSAMPLING[subsampling]


def bands(height: int, width: int, band_pixels: int = BAND_PIXELS) -> list[tuple[int, int]]:
    """Row ranges [top, bottom) covering the image, each a whole number of MCU rows."""
    rows = max(BAND_ALIGN, (band_pixels // max(width, 1)) // BAND_ALIGN * BAND_ALIGN)
    return [(top, min(top + rows, height)) for top in range(0, height, rows)]


def _band_pixels(im: Image.Image, layout: Layout, top: int, bottom: int) -> np.ndarray:
    band = im if (top, bottom) == (0, im.height) else im.crop((0, top, im.width, bottom))
    if band.mode != layout.source_mode:
        band = band.convert(layout.source_mode)
    arr = np.asarray(band)
    return arr[:, :, None] if arr.ndim == 2 else arr


def blend(
    im: Image.Image, levels: np.ndarray, subsampling: int, pool: Executor, band_pixels: int = BAND_PIXELS
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Blend of the quality layers selected by ``levels``; returns it and the qualities used.

    The output array has ``layout_of(im.mode).mode``'s layout.
    """
    layout = layout_of(im.mode)
    h, w = levels.shape
    out = np.empty((h, w, layout.channels), dtype=np.uint8)
    sub = subsampling_of(layout, subsampling)
    used: set[int] = set()

    def tasks() -> Iterator[tuple[int, int, int, Future[bytes]]]:
        for top, bottom in bands(h, w, band_pixels):
            present = np.flatnonzero(np.bincount(levels[top:bottom].ravel(), minlength=256))
            if len(present) == 0:
                continue
            src = _band_pixels(im, layout, top, bottom)
            for level in present:
                used.add(int(level))
                yield top, bottom, int(level), pool.submit(
                    simplejpeg.encode_jpeg, src, quality=quality_of(int(level)),
                    colorspace=layout.colorspace, colorsubsampling=sub, fastdct=False,
                )

    buffer = np.empty((min(h, bands(h, w, band_pixels)[0][1]), w, layout.channels), dtype=np.uint8)
    pending: deque[tuple[int, int, int, Future[bytes]]] = deque()
    source = tasks()
    for task in source:
        pending.append(task)
        if len(pending) > AHEAD:
            _apply(pending.popleft(), layout, levels, buffer, out)
    while pending:
        _apply(pending.popleft(), layout, levels, buffer, out)
    return out, tuple(quality_of(k) for k in sorted(used))


def _apply(task, layout: Layout, levels: np.ndarray, buffer: np.ndarray, out: np.ndarray) -> None:
    top, bottom, level, future = task
    layer = buffer[: bottom - top]
    simplejpeg.decode_jpeg(
        future.result(), colorspace=layout.decode_space, fastdct=False, fastupsample=False, buffer=layer
    )
    _native.blend_level(layer, levels[top:bottom], level, out[top:bottom])


def to_image(layout: Layout, blended: np.ndarray) -> Image.Image:
    """The blend as a Pillow image in the mode the caller's image is saved in."""
    h, w, _ = blended.shape
    if layout.mode in ("L", "RGBX"):  # Pillow maps these buffers without copying
        im = Image.frombuffer(layout.mode, (w, h), blended, "raw", layout.mode, 0, 1)
    else:
        im = Image.frombuffer(layout.mode, (w, h), blended.tobytes(), "raw", layout.mode, 0, 1)
    if layout.final_mode == "YCbCr":
        im = im.convert("RGB").convert("YCbCr")
    return im


def workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
