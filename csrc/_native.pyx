# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Pixel kernels of pillow-msroi: map sampling, level assignment and the streaming blend.

Every kernel validates its arguments while it holds the GIL and runs its loops without it,
so the layer encoders (simplejpeg, which also releases the GIL) overlap with them.
"""

import numpy as np

from libc.math cimport INFINITY, floor
from libc.stdint cimport uint32_t
from libc.string cimport memcpy

ctypedef unsigned char uint8


cdef inline void _source_coord(Py_ssize_t dst, Py_ssize_t n_in, double scale,
                               Py_ssize_t* lo, Py_ssize_t* hi, double* frac) noexcept nogil:
    # Pixel centres line up (align_corners=False), as in skimage/OpenCV/PyTorch bilinear.
    cdef double src = (dst + 0.5) * scale - 0.5
    if src < 0.0:
        src = 0.0
    if src > n_in - 1:
        src = n_in - 1
    lo[0] = <Py_ssize_t>floor(src)
    hi[0] = lo[0] + 1 if lo[0] + 1 < n_in else lo[0]
    frac[0] = src - lo[0]


cdef int _check_grid(Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t height, Py_ssize_t width) except -1:
    if in_h < 1 or in_w < 1:
        raise ValueError(f"map must have at least one pixel, got shape ({in_h}, {in_w})")
    if height < 1 or width < 1:
        raise ValueError(f"output size must be at least 1x1, got {width}x{height}")
    return 0


def sample_bilinear(const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width,
                    const Py_ssize_t[::1] rows, const Py_ssize_t[::1] cols):
    """Values of ``src`` stretched bilinearly over a ``height`` x ``width`` grid, read only at
    the given output ``rows`` and ``cols``; returns float32 (len(rows), len(cols))."""
    cdef Py_ssize_t in_h = src.shape[0], in_w = src.shape[1]
    _check_grid(in_h, in_w, height, width)
    cdef Py_ssize_t n_r = rows.shape[0], n_c = cols.shape[0], i, j
    for i in range(n_r):
        if rows[i] < 0 or rows[i] >= height:
            raise IndexError(f"row {rows[i]} is outside 0..{height - 1}")
    for j in range(n_c):
        if cols[j] < 0 or cols[j] >= width:
            raise IndexError(f"column {cols[j]} is outside 0..{width - 1}")
    out = np.empty((n_r, n_c), dtype=np.float32)
    cdef float[:, ::1] dst = out
    cdef Py_ssize_t[::1] x0 = np.empty(n_c, dtype=np.intp)
    cdef Py_ssize_t[::1] x1 = np.empty(n_c, dtype=np.intp)
    cdef double[::1] fx = np.empty(n_c, dtype=np.float64)
    cdef double sy = <double>in_h / height, sx = <double>in_w / width
    cdef Py_ssize_t y0, y1
    cdef double wy, top, bottom
    with nogil:
        for j in range(n_c):
            _source_coord(cols[j], in_w, sx, &x0[j], &x1[j], &fx[j])
        for i in range(n_r):
            _source_coord(rows[i], in_h, sy, &y0, &y1, &wy)
            for j in range(n_c):
                top = src[y0, x0[j]] + fx[j] * (src[y0, x1[j]] - src[y0, x0[j]])
                bottom = src[y1, x0[j]] + fx[j] * (src[y1, x1[j]] - src[y1, x0[j]])
                dst[i, j] = <float>(top + wy * (bottom - top))
    return out


def upsample_bilinear(const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width):
    """Stretch a float32 map bilinearly to ``height`` x ``width`` (pixel centres aligned)."""
    return sample_bilinear(src, height, width,
                           np.arange(max(height, 0), dtype=np.intp),
                           np.arange(max(width, 0), dtype=np.intp))


cdef inline Py_ssize_t _count(double v, const double* edges, Py_ssize_t n_edges, bint strict) noexcept nogil:
    # A rule has at most nine edges: a branch-free count beats a bisection here.
    cdef Py_ssize_t k = 0, e
    if strict:
        for e in range(n_edges):
            k += edges[e] < v
    else:
        for e in range(n_edges):
            k += edges[e] <= v
    return k


cdef inline uint8 _level(double v, const double* edges, Py_ssize_t n_edges,
                         const uint8* table, Py_ssize_t n_table,
                         bint strict, double divisor) noexcept nogil:
    cdef Py_ssize_t k, e
    cdef double q
    if divisor > 0.0:
        q = floor(v * 10.0 / divisor)
        if q < 0.0:
            k = 0
        elif q > n_table - 1:
            k = n_table - 1
        else:
            k = <Py_ssize_t>q
        return table[k]
    return table[_count(v, edges, n_edges, strict)]


cdef inline uint8 _threshold_row(const float* vals, uint8* row, Py_ssize_t width,
                                 const double* edges, Py_ssize_t n_edges, const uint8* table,
                                 bint strict, double* lo, double* hi, uint8 cur) noexcept nogil:
    # Neighbours mostly share a level: test the last level's interval [lo, hi) first
    # ((lo, hi] when strict); it carries over from row to row.  Returns the last level.
    cdef Py_ssize_t j, k
    cdef float v
    for j in range(width):
        v = vals[j]
        if (lo[0] < v <= hi[0]) if strict else (lo[0] <= v < hi[0]):
            row[j] = cur
        else:
            k = _count(v, edges, n_edges, strict)
            cur = table[k]
            row[j] = cur
            lo[0] = edges[k - 1] if k > 0 else -INFINITY
            hi[0] = edges[k] if k < n_edges else INFINITY
    return cur


cdef class _Stretch:
    """Rows of ``src`` stretched bilinearly to ``width`` columns, one output row at a time.

    Output rows between the same two source rows share their horizontal terms, ``top``
    and ``diff`` (the lower row's minus the upper's); with a network map (1/16-1/32 of
    the image) they are recomputed once every 16-32 rows.  A row's value at column ``j``
    is ``top[j] + wy * diff[j]``.  Callers validate the grid first (``_check_grid``).
    """

    cdef const float[:, ::1] src
    cdef Py_ssize_t in_h, width, prev0, prev1
    cdef double sy
    cdef Py_ssize_t[::1] x0, x1
    cdef double[::1] fx, top, diff

    def __cinit__(self, const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width):
        cdef Py_ssize_t j, in_w = src.shape[1]
        cdef double sx = <double>in_w / width
        self.src = src
        self.in_h = src.shape[0]
        self.width = width
        self.sy = <double>self.in_h / height
        self.prev0 = self.prev1 = -1
        self.x0 = np.empty(width, dtype=np.intp)
        self.x1 = np.empty(width, dtype=np.intp)
        self.fx = np.empty(width, dtype=np.float64)
        self.top = np.empty(width, dtype=np.float64)
        self.diff = np.empty(width, dtype=np.float64)
        for j in range(width):
            _source_coord(j, in_w, sx, &self.x0[j], &self.x1[j], &self.fx[j])

    cdef bint move_to(self, Py_ssize_t i, double* wy) noexcept nogil:
        """Set ``wy`` for output row ``i``; True when ``top`` and ``diff`` were recomputed."""
        cdef Py_ssize_t y0, y1, j
        cdef double t, b
        _source_coord(i, self.in_h, self.sy, &y0, &y1, wy)
        if y0 == self.prev0 and y1 == self.prev1:
            return False
        for j in range(self.width):
            t = self.src[y0, self.x0[j]] + self.fx[j] * (self.src[y0, self.x1[j]] - self.src[y0, self.x0[j]])
            b = self.src[y1, self.x0[j]] + self.fx[j] * (self.src[y1, self.x1[j]] - self.src[y1, self.x0[j]])
            self.top[j] = t
            self.diff[j] = b - t
        self.prev0, self.prev1 = y0, y1
        return True

    cdef void values(self, double wy, float* out) noexcept nogil:
        # No branches, so the compiler vectorizes it; rounded through float32, like the
        # stretched map itself.
        cdef const double* t = &self.top[0]
        cdef const double* d = &self.diff[0]
        cdef Py_ssize_t j
        for j in range(self.width):
            out[j] = <float>(t[j] + wy * d[j])


def assign_levels(const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width,
                  const double[::1] edges, const uint8[::1] table,
                  bint strict=False, double divisor=0.0):
    """Quality level of every output pixel, straight from the (small) map.

    The map is sampled bilinearly at each pixel and never stored at full size: the level
    is ``table[count]``, where ``count`` is the number of ``edges`` at or below the value
    (strictly below when ``strict``), or, when ``divisor > 0``, ``floor(value*10/divisor)``
    clipped to the table.  Returns uint8 (height, width).
    """
    cdef Py_ssize_t in_h = src.shape[0], in_w = src.shape[1], i, j
    _check_grid(in_h, in_w, height, width)
    cdef Py_ssize_t n_edges = edges.shape[0], n_table = table.shape[0]
    if divisor <= 0.0 and n_table != n_edges + 1:
        raise ValueError(f"table needs {n_edges + 1} entries for {n_edges} edges, got {n_table}")
    if n_table < 1:
        raise ValueError("table must not be empty")
    for i in range(1, n_edges):
        if not edges[i - 1] <= edges[i]:
            raise ValueError("edges must be sorted in ascending order")
    out = np.empty((height, width), dtype=np.uint8)
    cdef uint8[:, ::1] dst = out
    cdef _Stretch rows = _Stretch(src, height, width)
    cdef float[::1] vals = np.empty(width, dtype=np.float32)
    cdef double wy, lo = INFINITY, hi = -INFINITY
    cdef uint8 cur = 0
    cdef uint8* row
    cdef const double* e_ptr = &edges[0] if n_edges > 0 else NULL
    with nogil:
        for i in range(height):
            rows.move_to(i, &wy)
            rows.values(wy, &vals[0])
            row = &dst[i, 0]
            if divisor > 0.0:
                for j in range(width):
                    row[j] = _level(vals[j], e_ptr, n_edges, &table[0], n_table, strict, divisor)
                continue
            # A constant ``strict`` per call site lets the compiler drop the test per pixel.
            if strict:
                cur = _threshold_row(&vals[0], row, width, e_ptr, n_edges, &table[0], True, &lo, &hi, cur)
            else:
                cur = _threshold_row(&vals[0], row, width, e_ptr, n_edges, &table[0], False, &lo, &hi, cur)
    return out


def mean_max(const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width):
    """Exact mean and maximum of ``src`` stretched bilinearly to ``height`` x ``width``,
    streamed without storing the stretched map."""
    cdef Py_ssize_t in_h = src.shape[0], in_w = src.shape[1], i, j
    _check_grid(in_h, in_w, height, width)
    cdef _Stretch rows = _Stretch(src, height, width)
    cdef float[::1] vals = np.empty(width, dtype=np.float32)
    cdef double wy, row_sum, total = 0.0
    cdef float v, vmax = -3.4e38
    with nogil:
        for i in range(height):
            rows.move_to(i, &wy)
            rows.values(wy, &vals[0])
            row_sum = 0.0
            for j in range(width):
                v = vals[j]
                row_sum += v
                if v > vmax:
                    vmax = v
            total += row_sum
    return total / (<double>height * width), <double>vmax


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


cdef extern from *:
    """
    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #endif
    /* Bit j set where p[j] == v, j = 0..15. */
    static inline unsigned int msroi_eq_mask16(const unsigned char* p, unsigned char v) {
    #if defined(__SSE2__) || defined(_M_X64)
        return (unsigned int)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)p), _mm_set1_epi8((char)v)));
    #else
        unsigned int m = 0;
        for (int j = 0; j < 16; j++) m |= (unsigned int)(p[j] == v) << j;
        return m;
    #endif
    }
    #if defined(_MSC_VER)
    #include <intrin.h>
    static inline int msroi_ctz32(unsigned int v) { unsigned long i; _BitScanForward(&i, v); return (int)i; }
    #else
    static inline int msroi_ctz32(unsigned int v) { return __builtin_ctz(v); }
    #endif
    """
    unsigned int _eq_mask16 "msroi_eq_mask16"(const uint8* p, uint8 v) noexcept nogil
    int _ctz32 "msroi_ctz32"(unsigned int v) noexcept nogil  # v != 0


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


include "dct.pxi"
