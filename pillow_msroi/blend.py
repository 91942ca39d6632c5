"""The paper's method: quality layers -> streaming blend.

Each selected layer is encoded with libjpeg-turbo (simplejpeg), decoded into one reusable
buffer and its pixels copied where the level map selects it.  Only the compressed layers
are ever held together; decoded, there is one layer at a time.  Encodes run in a small
thread pool (simplejpeg releases the GIL), decodes and copies on the calling thread.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image

from . import _native
from .levels import quality_of

#: simplejpeg colour spaces for the pixel layouts the blend works on, by channel count.
_COLORSPACE = {1: "GRAY", 3: "RGB", 4: "RGBX"}
#: Pillow's subsampling settings -> simplejpeg's; -1 is libjpeg's default, 4:2:0.
_SUBSAMPLING = {-1: "420", 0: "444", 1: "422", 2: "420"}


@dataclass(frozen=True)
class Pixels:
    """An image as the blend sees it: a uint8 (H, W, C) array and how to turn it back."""

    array: np.ndarray
    colorspace: str  # simplejpeg colour space of ``array``
    mode: str  # Pillow mode of the blended result before the final encode
    final_mode: str  # Pillow mode handed to the JPEG writer (the caller's, as Pillow saves it)


def pixels_of(im: Image.Image) -> Pixels:
    """The caller's image as a uint8 array in a layout simplejpeg encodes directly."""
    mode = im.mode
    if mode in ("1", "L"):
        src = im.convert("L") if mode == "1" else im
        return Pixels(np.asarray(src)[:, :, None], "GRAY", "L", "L")
    if mode == "CMYK":
        return Pixels(np.asarray(im), "CMYK", "CMYK", "CMYK")
    if mode == "RGBX":
        return Pixels(np.asarray(im), "RGBX", "RGBX", "RGBX")
    if mode == "YCbCr":
        # Layers are made like any RGB photo; the result goes back to YCbCr so that the
        # final file is written exactly as Pillow writes a YCbCr image.
        return Pixels(np.asarray(im.convert("RGB")), "RGB", "RGBX", "YCbCr")
    return Pixels(np.asarray(im), "RGB", "RGBX", mode)


def subsampling_of(colorspace: str, subsampling: int) -> str:
    if colorspace == "GRAY":
        return "Gray"
    if colorspace == "CMYK":
        return "444"
    return _SUBSAMPLING[subsampling]


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def blend(px: Pixels, levels: np.ndarray, subsampling: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Blend of the quality layers selected by ``levels``; returns it and the qualities used.

    The result has the layout of ``px.mode`` (RGB pictures come back as RGBX so that Pillow
    can wrap the array without copying it).
    """
    src = px.array
    h, w = levels.shape
    out_channels = 4 if px.mode in ("RGBX", "CMYK") else 1
    out = np.empty((h, w, out_channels), dtype=np.uint8)
    decode_space = "RGBX" if out_channels == 4 and px.colorspace != "CMYK" else px.colorspace
    buffer = np.empty((h, w, out_channels), dtype=np.uint8)
    counts = np.bincount(levels.ravel(), minlength=256)
    used = tuple(int(k) for k in np.flatnonzero(counts))
    sub = subsampling_of(px.colorspace, subsampling)

    def encode(level: int) -> bytes:
        return simplejpeg.encode_jpeg(
            src, quality=quality_of(level), colorspace=px.colorspace, colorsubsampling=sub, fastdct=False
        )

    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="msroi-layer") as pool:
        for level, data in zip(used, pool.map(encode, used)):
            simplejpeg.decode_jpeg(
                data, colorspace=decode_space, fastdct=False, fastupsample=False, buffer=buffer
            )
            _native.blend_level(buffer, levels, level, out)
    return out, tuple(quality_of(k) for k in used)


def to_image(px: Pixels, blended: np.ndarray) -> Image.Image:
    """The blend as a Pillow image in the mode the caller's image is saved in."""
    h, w, c = blended.shape
    if px.mode == "L":
        im = Image.frombuffer("L", (w, h), blended, "raw", "L", 0, 1)
    elif px.mode == "CMYK":
        im = Image.frombuffer("CMYK", (w, h), blended, "raw", "CMYK", 0, 1)
    else:
        im = Image.frombuffer("RGBX", (w, h), blended, "raw", "RGBX", 0, 1)
    if px.final_mode == "YCbCr":
        im = im.convert("RGB").convert("YCbCr")
    return im
