"""Coefficients: the image transformed once (colour conversion, downsampling, DCT) into a
scratch block kept between saves, with each block's price of a bit (field.py)."""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
from PIL import Image

from .. import _pool
from .._stretch_cy import block_means
from ._transform_cy import image_pixels, transform
from .field import favours, masking, prices
from .markers import Header


def _pixels(im: Image.Image, header: Header) -> tuple[np.ndarray, bool]:
    """The image as uint8 (H, W, C) and whether its channels go through RGB -> YCbCr.

    Read in place where Pillow can export its memory (``image_pixels``: RGB then comes
    as RGBX, which the transform reads the same), which saves a copy of the image on
    every save; copied otherwise.
    """
    src = im.convert("L") if im.mode == "1" else im
    arr = image_pixels(src)
    if arr is None:
        arr = np.asarray(src)
        if arr.ndim == 2:
            arr = arr[:, :, None]
    # Pillow hands RGB(X) to libjpeg to convert, except with keep_rgb (an Adobe marker
    # with transform 0); YCbCr images are written as they are.
    return arr, im.mode in ("RGB", "RGBX") and header.adobe_transform != 0


class Coefficients:
    """The coefficients of one image, ready to be quantized again and again, and the
    buffer their levels are quantized into."""

    def __init__(self, im: Image.Image, small: np.ndarray, frame: Header, islow: bool | list[bool] = False) -> None:
        """``frame``: a header with the file's components and Adobe transform, of any size;
        ``islow``: libjpeg's integer DCT (a JPEG source's own levels, ``quality="keep"``),
        for every component or, a list, for those marked."""
        pixels, to_ycbcr = _pixels(im, frame)
        self.frame = frame
        # Work is split in as many parts as the shared pool has threads.
        self.parts = _pool.size()
        comps = frame.components
        hmax = max(c.h for c in comps)
        vmax = max(c.v for c in comps)
        w, h = im.size
        mcu_w, mcu_h = 8 * hmax, 8 * vmax
        pad_w, pad_h = _ceil_div(w, mcu_w) * mcu_w, _ceil_div(h, mcu_h) * mcu_h
        factors = [(hmax // c.h, vmax // c.v) for c in comps]
        if any(fh * c.h != hmax or fv * c.v != vmax for (fh, fv), c in zip(factors, comps)):
            msg = f"sampling factors {[(c.h, c.v) for c in comps]} are not integer ratios"
            raise ValueError(msg)
        mcu_rows, mcu_cols = pad_h // mcu_h, pad_w // mcu_w
        shapes = [(mcu_rows * c.v, mcu_cols * c.h, 64) for c in comps]
        # The coefficients (float32) and their levels (int16) in one scratch block; the
        # levels' pages are first touched by the quantizer, after ``pixels`` is gone.
        self.scratch = SCRATCH.take(6 * sum(math.prod(s) for s in shapes))
        self.coefs = _views(self.scratch, shapes, np.float32, 0)
        # Bands of MCU rows transformed side by side (the kernel releases the GIL); the
        # full-size colour planes are never stored.
        # Twice as many bands as threads: the plain reference may hold one thread a while.
        bands = 2 * self.parts
        cuts = sorted({mcu_rows * k // bands for k in range(bands)} | {mcu_rows})
        sampling = [(c.h, c.v) for c in comps]
        run = functools.partial(transform, pixels, to_ycbcr, sampling, self.coefs, islow=islow)
        _pool.run_all(run, cuts[:-1], cuts[1:])
        del pixels  # where it is a copy (a large image), the quantized levels need its room
        self.prices, self.means = _component_prices(self.coefs[0], small, h, w, pad_h, pad_w, factors)
        # Whether the map favours enough blocks for the semantic luma table.
        self.semantic = favours(self.means[0])
        self.tables = [min(c.table, 1) for c in comps]
        self.out = _views(self.scratch, shapes, np.int16, 4 * sum(math.prod(s) for s in shapes))
        # Blocks that cover the image, per component: what a one-component scan codes.
        self.blocks = [
            (_ceil_div(_ceil_div(h * c.v, vmax), 8), _ceil_div(_ceil_div(w * c.h, hmax), 8)) for c in comps
        ]

    def fits(self, header: Header) -> bool:
        """Whether the coefficients were made for the frame of ``header``."""
        f = self.frame
        return (header.components, header.adobe_transform, header.progressive) == (
            f.components, f.adobe_transform, f.progressive
        )

    def release(self) -> None:
        """Hand the scratch block back for the next encode; the arrays must not be used after."""
        SCRATCH.give(self.scratch)


def _component_prices(
    luma: np.ndarray, small: np.ndarray, h: int, w: int, pad_h: int, pad_w: int, factors: list[tuple[int, int]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each component's price of a bit per block (at strength 1) and map mean per block
    (-1: padding): the luma masking field and the map's means over 8x8 pixel blocks,
    computed once; coarser blocks of subsampled components take pixel-weighted map means
    and the field's mean over the luma blocks."""
    fine = block_means(small, h, w, 8, 8, pad_h // 8, pad_w // 8)
    rows_in = np.clip(h - 8 * np.arange(pad_h // 8), 0, 8)
    cols_in = np.clip(w - 8 * np.arange(pad_w // 8), 0, 8)
    counts = np.outer(rows_in, cols_in).astype(np.float64)
    # Components with the same sampling (the two chroma planes) share one array.
    kinds = list(dict.fromkeys(factors))
    fields = masking(luma, [(fv, fh) for fh, fv in kinds])
    means = {f: _coarsen(fine, counts, f[1], f[0]) for f in kinds}
    out = {f: prices(field, means[f]) for f, field in zip(kinds, fields)}
    return [out[f] for f in factors], [means[f] for f in factors]


class _Scratch:
    """One block of memory kept from one encode to the next (at most ``LIMIT`` bytes).

    Fresh multi-megabyte arrays are fresh pages for the kernel to fault in and zero, and
    depending on the heap's history glibc's malloc hands them back to the system after
    each encode: up to a fault per 4 KiB on every encode (``python
    bench/test_dct_quality.py --faults`` counts them).  Encodes in
    several threads at once each take the block if it is free and big enough, else
    allocate their own; the last one done keeps its block.
    """

    LIMIT = 32 << 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block: np.ndarray | None = None

    def take(self, nbytes: int) -> np.ndarray:
        with self._lock:
            block = self._block
            # Not one far larger than needed either: it would stay out of the system's reach.
            if block is not None and nbytes <= block.nbytes <= 2 * nbytes:
                self._block = None
                return block[:nbytes]
        return np.empty(nbytes, dtype=np.uint8)

    def give(self, block: np.ndarray) -> None:
        base = block if block.base is None else block.base
        if base.nbytes <= self.LIMIT:
            with self._lock:
                self._block = base


SCRATCH = _Scratch()


def _views(block: np.ndarray, shapes: list[tuple[int, ...]], dtype: type, offset: int) -> list[np.ndarray]:
    """Arrays of ``shapes`` laid end to end in ``block`` from byte ``offset``."""
    out, size = [], np.dtype(dtype).itemsize
    for shape in shapes:
        n = math.prod(shape) * size
        out.append(block[offset : offset + n].view(dtype).reshape(shape))
        offset += n
    return out


def _coarsen(means: np.ndarray, counts: np.ndarray, fv: int, fh: int) -> np.ndarray:
    """Means over blocks of ``fv`` x ``fh`` fine blocks, weighted by pixels inside the image."""
    if fv == fh == 1:
        return means
    rows, cols = means.shape[0] // fv, means.shape[1] // fh
    total = (np.maximum(means, 0) * counts).reshape(rows, fv, cols, fh).sum(axis=(1, 3))
    n = counts.reshape(rows, fv, cols, fh).sum(axis=(1, 3))
    return np.where(n > 0, total / np.where(n > 0, n, 1.0), -1.0).astype(np.float32)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
