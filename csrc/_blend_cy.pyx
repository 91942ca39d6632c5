# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The paper's streaming blend: where each quality level lies, and copying a decoded layer's
pixels into the output where the level map selects it (pillow_msroi/_blend.py drives it).

Every kernel validates its arguments while it holds the GIL and runs its loops without it,
so the layer encoders (simplejpeg, which also releases the GIL) overlap with them.
"""

import numpy as np

from libc.string cimport memcpy

ctypedef unsigned char uint8

cdef extern from "msroi_bits.h":
    unsigned int _eq_mask16 "msroi_eq_mask16"(const uint8* p, uint8 v) noexcept nogil
    int _ctz32 "msroi_ctz32"(unsigned int v) noexcept nogil  # v != 0


def level_boxes(const uint8[:, ::1] levels):
    """Bounding box and pixel count of every level value.

    Returns int64 (256, 5): row_start, row_stop, col_start, col_stop, count; a value
    that does not occur has count 0 (and an empty box).
    """
    cdef Py_ssize_t h = levels.shape[0], w = levels.shape[1], i, j
    boxes = np.zeros((256, 5), dtype=np.int64)
    cdef long long[:, ::1] b = boxes
    cdef uint8 v
    for i in range(256):
        b[i, 0] = h
        b[i, 2] = w
    with nogil:
        for i in range(h):
            for j in range(w):
                v = levels[i, j]
                if b[v, 4] == 0:  # rows are scanned in order: the first hit is the top row
                    b[v, 0] = i
                b[v, 1] = i + 1
                if j < b[v, 2]:
                    b[v, 2] = j
                if j + 1 > b[v, 3]:
                    b[v, 3] = j + 1
                b[v, 4] += 1
    return boxes


cdef inline void _copy_px(uint8* dst, const uint8* src, Py_ssize_t c) noexcept nogil:
    # Fixed-size copies for the usual channel counts; a variable memcpy is a libc call.
    cdef Py_ssize_t k
    if c == 4:
        memcpy(dst, src, 4)
    elif c == 3:
        dst[0] = src[0]
        dst[1] = src[1]
        dst[2] = src[2]
    elif c == 1:
        dst[0] = src[0]
    else:
        for k in range(c):
            dst[k] = src[k]


def blend_level(const uint8[:, :, :] layer, const uint8[:, :] levels, int level,
                uint8[:, :, :] out):
    """Copy into ``out`` every pixel of ``layer`` whose entry in ``levels`` equals ``level``.

    The arrays may be windows of larger ones (any row stride) as long as the pixels of a
    row are adjacent.  ``layer`` may carry more channels than ``out`` (a decoder's RGBX
    into RGB): the first ``out.shape[2]`` channels are copied.  Returns the number of
    pixels copied.
    """
    cdef Py_ssize_t h = out.shape[0], w = out.shape[1], c = out.shape[2]
    cdef Py_ssize_t lc = layer.shape[2]
    if layer.shape[0] != h or layer.shape[1] != w:
        raise ValueError(f"layer is {layer.shape[1]}x{layer.shape[0]}, output is {w}x{h}")
    if levels.shape[0] != h or levels.shape[1] != w:
        raise ValueError(f"levels are {levels.shape[1]}x{levels.shape[0]}, output is {w}x{h}")
    if lc < c:
        raise ValueError(f"layer has {lc} channels, output needs {c}")
    if (layer.strides[2] != 1 or layer.strides[1] != lc or out.strides[2] != 1 or out.strides[1] != c
            or levels.strides[1] != 1):
        raise ValueError("the pixels of each row must be adjacent (rows of a C-contiguous array)")
    if level < 0 or level > 255:
        raise ValueError(f"level must be in 0..255, got {level}")
    if h == 0 or w == 0:
        return 0
    cdef uint8 lv = <uint8>level
    cdef unsigned int mask
    cdef Py_ssize_t i, j, k, copied = 0
    cdef const uint8* row
    cdef const uint8* src
    cdef uint8* dst
    with nogil:
        for i in range(h):
            row = &levels[i, 0]
            src = &layer[i, 0, 0]
            dst = &out[i, 0, 0]
            j = 0
            # Sixteen levels compared at once: smooth maps give long runs of one level,
            # which are skipped or copied whole.
            while j + 16 <= w:
                mask = _eq_mask16(row + j, lv)
                if mask == 0xFFFF and c == lc:
                    # Constant sizes for the usual layouts, so the copy is inlined.
                    if c == 3:
                        memcpy(dst + j * 3, src + j * 3, 48)
                    elif c == 4:
                        memcpy(dst + j * 4, src + j * 4, 64)
                    else:
                        memcpy(dst + j * c, src + j * c, 16 * c)
                    copied += 16
                else:
                    while mask:
                        k = j + _ctz32(mask)
                        mask &= mask - 1
                        _copy_px(dst + k * c, src + k * lc, c)
                        copied += 1
                j += 16
            while j < w:
                if row[j] == lv:
                    _copy_px(dst + j * c, src + j * lc, c)
                    copied += 1
                j += 1
    return copied
