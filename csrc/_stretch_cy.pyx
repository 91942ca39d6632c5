# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Map stretching: a small float32 map read bilinearly at image resolution, never stored
at full size (both methods; pillow_msroi/_maps.py and _levels.py drive it).

Every kernel validates its arguments while it holds the GIL and runs its loops without it.
"""

import numpy as np

from libc.math cimport INFINITY, floor

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


def block_means(const float[:, ::1] src, Py_ssize_t height, Py_ssize_t width,
                Py_ssize_t block_h, Py_ssize_t block_w, Py_ssize_t n_rows, Py_ssize_t n_cols):
    """Mean of ``src`` stretched bilinearly to ``height`` x ``width`` over each block of
    ``block_h`` x ``block_w`` image pixels, for an ``n_rows`` x ``n_cols`` grid of blocks.

    Blocks that overlap the image only in part average their pixels inside it; blocks
    wholly outside (MCU padding) get -1.  The stretched map is never stored.
    """
    cdef Py_ssize_t in_h = src.shape[0], in_w = src.shape[1], i, j, bi, bj
    _check_grid(in_h, in_w, height, width)
    if block_h < 1 or block_w < 1 or n_rows < 0 or n_cols < 0:
        raise ValueError(f"bad block grid {n_cols}x{n_rows} of {block_w}x{block_h}")
    sums = np.zeros((n_rows, n_cols), dtype=np.float64)
    cdef double[:, ::1] acc = sums
    cdef Py_ssize_t last_col = min(width, n_cols * block_w)
    cdef _Stretch rows = _Stretch(src, height, width)
    # Per block column, the sums of the two source rows' horizontal interpolations: a
    # stretched row is linear in its vertical weight, so so is its sum over a block.
    cdef double[::1] top_sum = np.zeros(max(n_cols, 1), dtype=np.float64)
    cdef double[::1] step_sum = np.zeros(max(n_cols, 1), dtype=np.float64)
    cdef double wy
    cdef double* row
    with nogil:
        for i in range(min(height, n_rows * block_h)):
            bi = i // block_h
            if rows.move_to(i, &wy):
                for bj in range(n_cols):
                    top_sum[bj] = 0.0
                    step_sum[bj] = 0.0
                for j in range(last_col):
                    bj = j // block_w
                    top_sum[bj] += rows.top[j]
                    step_sum[bj] += rows.diff[j]
            row = &acc[bi, 0]
            for bj in range(n_cols):
                row[bj] += top_sum[bj] + wy * step_sum[bj]
    # Pixels of each block inside the image: a product of per-axis counts.
    rows_in = np.clip(height - np.arange(n_rows) * block_h, 0, block_h)
    cols_in = np.clip(width - np.arange(n_cols) * block_w, 0, block_w)
    counts = np.outer(rows_in, cols_in).astype(np.float64)
    inside = counts > 0
    return np.where(inside, sums / np.where(inside, counts, 1.0), -1.0).astype(np.float32)
