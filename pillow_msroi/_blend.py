"""``method="blend"``, the paper's method: level map -> quality layers -> streaming blend ->
budgeted final encode.

Each selected layer is encoded with libjpeg-turbo (simplejpeg), decoded into a reusable
buffer and its pixels copied where the level map selects it.  Decoded, there is one layer
per worker thread at a time; only a few layer jobs are in flight.  A layer is coded only over the
MCUs around its level's pixels, plus one MCU of context, which makes every pixel equal to
coding the layer whole; large images go in horizontal bands of whole MCU rows, so the
input copy and the layers stay band-sized and a 24-megapixel photo needs little more
than its output.  Each layer job (encode, decode, copy) runs in the worker pool both
methods share (_pool.py): simplejpeg and the copy kernel release the GIL, and the levels
select disjoint pixels, so jobs write to the output concurrently without overlapping.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import simplejpeg
from PIL import Image

from . import _budget, _levels, _pool, _writer
from ._blend_cy import blend_level, level_boxes
from ._encoded import Encoded
from ._levels import quality_of
from ._options import SemanticOptions

__all__ = ["encode"]

#: Pillow's subsampling settings -> simplejpeg's; -1 is libjpeg's default, 4:2:0.
_SUBSAMPLING = {-1: "420", 0: "444", 1: "422", 2: "420"}
#: Pixels per band: images up to this size are blended whole.
BAND_PIXELS = 1 << 22
#: Rows of a band are a multiple of this (an MCU row at 4:2:0), so bands split no block.
BAND_ALIGN = 16
#: Layer jobs queued beyond the running ones: bounds the band copies and buffers held.
AHEAD = 3
#: First quality the budget search tries for a ``quality="keep"`` budget.
DEFAULT_KEEP_GUESS = 75


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
    im: Image.Image, levels: np.ndarray, subsampling: int, band_pixels: int = BAND_PIXELS
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
    rows = min(max(b - t for t, b in spans) + 2 * BAND_ALIGN, h)
    used: set[int] = set()
    # One decode buffer per worker thread, made on its first job and dropped with this call.
    local = threading.local()

    def job(band: tuple[int, int], box: tuple[int, int, int, int], level: int, src: np.ndarray) -> None:
        data = simplejpeg.encode_jpeg(
            np.ascontiguousarray(src), quality=quality_of(level), colorspace=layout.colorspace,
            colorsubsampling=sub, fastdct=False,
        )
        buffer = getattr(local, "buffer", None)
        if buffer is None:
            buffer = local.buffer = np.empty(rows * w * layout.channels, dtype=np.uint8)
        _apply(data, band, box, level, layout, levels, buffer, out)

    pending: deque[Future[None]] = deque()
    workers = _pool.shared()
    try:
        for top, bottom in spans:
            boxes = level_boxes(levels[top:bottom])
            present = np.flatnonzero(boxes[:, 4])
            s0, s1 = max(0, top - BAND_ALIGN), min(h, bottom + BAND_ALIGN)
            src = _band_pixels(im, layout, s0, s1)
            for level in (int(k) for k in present):
                used.add(level)
                box = _box(boxes, level, top, (h, w))
                part = src[box[0] - s0 : box[1] - s0, box[2] : box[3]]
                pending.append(workers.submit(job, (top, bottom), box, level, part))
                if len(pending) > AHEAD:
                    pending.popleft().result()
    finally:
        _pool.gather(pending)  # on an error, no job of this call is left writing into ``out``
    return out, tuple(quality_of(k) for k in sorted(used))


def _apply(
    data: bytes, band: tuple[int, int], box: tuple[int, int, int, int], level: int,
    layout: Layout, levels: np.ndarray, buffer: np.ndarray, out: np.ndarray,
) -> None:
    (top, bottom), (r0, r1, c0, c1) = band, box
    layer = buffer[: (r1 - r0) * (c1 - c0) * layout.channels].reshape(r1 - r0, c1 - c0, layout.channels)
    simplejpeg.decode_jpeg(data, colorspace=layout.decode_space, fastdct=False, fastupsample=False, buffer=layer)
    # Only the band's own rows: the context rows above and below belong to other bands.
    t, b = max(r0, top), min(r1, bottom)
    blend_level(layer[t - r0 : b - r0], levels[t:b, c0:c1], level, out[t:b, c0:c1])


def to_image(layout: Layout, blended: np.ndarray) -> Image.Image:
    """The blend as a Pillow image in the mode the caller's image is saved in."""
    h, w, _ = blended.shape
    # Every layout's mode (L, RGBX, CMYK) is one Pillow maps without copying the buffer.
    im = Image.frombuffer(layout.mode, (w, h), blended, "raw", layout.mode, 0, 1)
    if layout.final_mode == "YCbCr":
        im = im.convert("RGB").convert("YCbCr")
    return im



def encode(
    im: Image.Image, small: np.ndarray, options: SemanticOptions, jpeg: dict[str, Any], source: Any = None
) -> Encoded:
    """The blend of ``im`` by ``small`` (normalized float32 map) under ``options.rule``,
    re-encoded by Pillow with the caller's options ``jpeg`` (subsampling resolved) at the
    highest quality whose file fits the plain JPEG's budget.  A JPEG ``source``'s tables
    are not used: the blend's layers are libjpeg qualities."""
    h, w = im.height, im.width
    level_map = _levels.assign(small, h, w, options.rule)
    subsampling = jpeg.get("subsampling", -1)
    # The plain reference encodes while the layers are being made.
    reference, (blended, layers) = _budget.plain_reference(
        im, jpeg, options.quality, options.slack, lambda: blend(im, level_map, subsampling)
    )
    final = to_image(layout_of(im.mode), blended)
    final.info = dict(im.info)
    # The blend is re-encoded at libjpeg qualities; with "keep" only the budget is the source's.
    final_jpeg = {k: v for k, v in jpeg.items() if k != "qtables"}
    guess = DEFAULT_KEEP_GUESS if options.quality == "keep" else options.quality
    fit = _budget.highest_quality_within(
        lambda q: _writer.write(final, {**final_jpeg, "quality": q}), reference.limit, guess=guess
    )
    return Encoded(
        data=fit.data if fit.data is not None else reference.data,
        quality=fit.quality,
        budget=reference.limit,
        plain_bytes=len(reference.data),
        level_map=level_map,
        layers=layers,
        encodes=fit.encodes,
        rule=options.rule,
        method="blend",
    )
