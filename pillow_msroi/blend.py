"""The paper's method: quality layers -> streaming blend.

Each selected layer is encoded with libjpeg-turbo (simplejpeg), decoded into one reusable
buffer and its pixels copied where the level map selects it.  Decoded, there is one
layer at a time; compressed, only a few are in flight.  A layer is coded only over the
MCUs around its level's pixels, plus one MCU of context, which makes every pixel equal to
coding the layer whole; large images go in horizontal bands of whole MCU rows, so the
input copy and the layers stay band-sized and a 24-megapixel photo needs little more
than its output.  Encodes run in a small thread pool (simplejpeg releases the GIL);
decodes and copies run on the calling thread.
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

#: One layer job: its band's rows, the box it codes (rows, columns), its level, its encode.
Task = tuple[tuple[int, int], tuple[int, int, int, int], int, "Future[bytes]"]


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


def _box(boxes: np.ndarray, level: int, top: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Rows and columns to encode for one level of a band: the level's bounding box in
    whole MCUs, widened by one MCU of context (clipped to the image).

    JPEG codes every 8x8 block on its own; only chroma upsampling in the decoder reads
    the neighbouring chroma samples.  With a full MCU of context on every side that is
    not the image edge, the decoded pixels inside the box are exactly those of a layer
    encoded and decoded whole.
    """
    h, w = shape
    r0, r1, c0, c1, _ = (int(v) for v in boxes[level])
    a = BAND_ALIGN
    return (
        max(0, (top + r0) // a * a - a),
        min(h, -(-(top + r1) // a) * a + a),
        max(0, c0 // a * a - a),
        min(w, -(-c1 // a) * a + a),
    )


def blend(
    im: Image.Image, levels: np.ndarray, subsampling: int, pool: Executor, band_pixels: int = BAND_PIXELS
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Blend of the quality layers selected by ``levels``; returns it and the qualities used.

    Every pixel equals the same pixel of its level's layer encoded and decoded whole; a
    layer is only coded over the MCUs around its level's pixels.  The output array has
    ``layout_of(im.mode).mode``'s layout.
    """
    layout = layout_of(im.mode)
    h, w = levels.shape
    out = np.empty((h, w, layout.channels), dtype=np.uint8)
    sub = subsampling_of(layout, subsampling)
    spans = bands(h, w, band_pixels)
    rows = max(b - t for t, b in spans) + 2 * BAND_ALIGN
    buffer = np.empty(min(rows, h) * w * layout.channels, dtype=np.uint8)
    used: set[int] = set()

    def encode(src: np.ndarray, level: int) -> bytes:
        return simplejpeg.encode_jpeg(
            np.ascontiguousarray(src), quality=quality_of(level), colorspace=layout.colorspace,
            colorsubsampling=sub, fastdct=False,
        )

    def tasks() -> Iterator[Task]:
        for top, bottom in spans:
            boxes = _native.level_boxes(levels[top:bottom])
            present = np.flatnonzero(boxes[:, 4])
            s0, s1 = max(0, top - BAND_ALIGN), min(h, bottom + BAND_ALIGN)
            src = _band_pixels(im, layout, s0, s1)
            for level in (int(k) for k in present):
                used.add(level)
                box = _box(boxes, level, top, (h, w))
                part = src[box[0] - s0 : box[1] - s0, box[2] : box[3]]
                yield (top, bottom), box, level, pool.submit(encode, part, level)

    pending: deque[Task] = deque()
    for task in tasks():
        pending.append(task)
        if len(pending) > AHEAD:
            _apply(pending.popleft(), layout, levels, buffer, out)
    while pending:
        _apply(pending.popleft(), layout, levels, buffer, out)
    return out, tuple(quality_of(k) for k in sorted(used))


def _apply(task: Task, layout: Layout, levels: np.ndarray, buffer: np.ndarray, out: np.ndarray) -> None:
    (top, bottom), (r0, r1, c0, c1), level, future = task
    layer = buffer[: (r1 - r0) * (c1 - c0) * layout.channels].reshape(r1 - r0, c1 - c0, layout.channels)
    simplejpeg.decode_jpeg(
        future.result(), colorspace=layout.decode_space, fastdct=False, fastupsample=False, buffer=layer
    )
    # Only the band's own rows: the context rows above and below belong to other bands.
    t, b = max(r0, top), min(r1, bottom)
    _native.blend_level(layer[t - r0 : b - r0], levels[t:b, c0:c1], level, out[t:b, c0:c1])


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
