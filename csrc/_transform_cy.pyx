# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Colour conversion, downsampling and forward DCT: pixels to coefficients, as libjpeg's
jccolor.c, jcsample.c and jcdctmgr.c (transform half) make them, for
pillow_msroi/_jpeg/coefficients.py.

Every kernel validates its arguments while it holds the GIL and runs its loops without it.
"""

import numpy as np

from libc.math cimport cos, sqrt, M_PI
from libc.stdlib cimport malloc, free
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer

ctypedef unsigned char uint8

cdef extern from "msroi_bits.h":
    const int _ZIGZAG "msroi_zigzag"[64]
    const int _ZIGZAG_POS "msroi_zigzag_pos"[64]

cdef extern from "msroi_color.h":
    void _ycc_row "msroi_ycc_row"(const uint8* px, long stride, long n, uint8* y, uint8* cb,
                                  uint8* cr) noexcept nogil
    void _h2v2_row "msroi_h2v2_row"(const uint8* r0, const uint8* r1, long ow, uint8* o) noexcept nogil
    void _h2v1_row "msroi_h2v1_row"(const uint8* r0, long ow, uint8* o) noexcept nogil

cdef extern from "msroi_arrow.h":
    struct msroi_ArrowArray:
        int64_t length, offset, n_buffers, n_children
        const void** buffers
        msroi_ArrowArray** children
    struct msroi_ArrowSchema:
        const char* format
        int64_t n_children
        msroi_ArrowSchema** children

#: Position in natural (row-major) order of the k-th coefficient in zigzag order, the
#: order in which every block is stored.
ZIGZAG = np.array([_ZIGZAG[k] for k in range(64)], dtype=np.intp)


class _Exported:
    # Hands numpy a pointer into Pillow's memory and keeps the Arrow export that owns it
    # (its capsules release Pillow's reference when they go) alive as the array's base.
    def __init__(self, capsules, Py_ssize_t address, tuple shape):
        self._capsules = capsules
        self.__array_interface__ = {"shape": shape, "typestr": "|u1", "data": (address, True), "version": 3}


def image_pixels(image):
    """The pixels of a Pillow image as a read-only uint8 (height, width, channels) array
    over Pillow's own memory, without a copy: 1 channel for 8-bit single-band modes, 4
    for the modes Pillow keeps in 4 bytes a pixel (RGB as RGBX, YCbCr, CMYK...).  Uses
    Pillow's Arrow export (Pillow >= 11.2); None where that is missing or the image is
    not one block of memory (Pillow allocates large images in blocks of rows), and the
    caller copies instead."""
    export = getattr(image, "__arrow_c_array__", None)
    if export is None:
        return None
    try:
        schema_capsule, array_capsule = export()
    except ValueError:  # "Image rows are not contiguous in memory"
        return None
    cdef msroi_ArrowSchema* schema = <msroi_ArrowSchema*>PyCapsule_GetPointer(schema_capsule, "arrow_schema")
    cdef msroi_ArrowArray* array = <msroi_ArrowArray*>PyCapsule_GetPointer(array_capsule, "arrow_array")
    cdef Py_ssize_t width = image.size[0], height = image.size[1], channels
    cdef msroi_ArrowArray* values = array
    if array.length != width * height:
        return None
    fmt = schema.format
    if fmt == b"C":
        channels = 1
    elif fmt == b"+w:4" and schema.n_children == 1 and schema.children[0].format == b"C" and array.n_children == 1:
        channels = 4
        values = array.children[0]
        if array.offset != 0 or values.length != 4 * array.length:
            return None
    else:
        return None
    if values.n_buffers != 2 or values.buffers[1] == NULL:
        return None
    cdef const uint8* data = <const uint8*>values.buffers[1] + values.offset
    return np.asarray(_Exported((schema_capsule, array_capsule), <Py_ssize_t>data, (height, width, channels)))


def color_planes(const uint8[:, :, ::1] src, Py_ssize_t pad_h, Py_ssize_t pad_w,
                 int n_out, bint to_ycbcr):
    """Component planes of an interleaved uint8 image, edge-replicated to ``pad_h`` x ``pad_w``.

    With ``to_ycbcr`` the first three channels are RGB and become JFIF full-range YCbCr
    exactly as libjpeg's integer converter makes them; otherwise the first ``n_out``
    channels are copied.  Returns uint8 (n_out, pad_h, pad_w).  (The encoder converts
    one MCU row at a time inside ``transform``; this whole-image form is its reference.)
    """
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], c = src.shape[2]
    if h < 1 or w < 1:
        raise ValueError(f"image must be at least 1x1, got {w}x{h}")
    if pad_h < h or pad_w < w:
        raise ValueError(f"padded size {pad_w}x{pad_h} is smaller than the image {w}x{h}")
    if to_ycbcr and (c < 3 or n_out != 3):
        raise ValueError(f"YCbCr conversion needs 3+ input channels and 3 outputs, got {c} -> {n_out}")
    if not 1 <= n_out <= c:
        raise ValueError(f"cannot take {n_out} planes from {c} channels")
    out = np.empty((n_out, pad_h, pad_w), dtype=np.uint8)
    cdef uint8[:, :, ::1] dst = out
    cdef Py_ssize_t i, k
    with nogil:
        for i in range(h):
            _plane_rows(&src[i, 0, 0], c, w, pad_w, n_out, to_ycbcr, &dst[0, i, 0], pad_h * pad_w)
        for k in range(n_out):
            for i in range(h, pad_h):
                memcpy(&dst[k, i, 0], &dst[k, h - 1, 0], pad_w)
    return out


cdef void _plane_rows(const uint8* px, Py_ssize_t nc, Py_ssize_t w, Py_ssize_t pad_w, Py_ssize_t n,
                      bint to_ycbcr, uint8* dst, Py_ssize_t plane_stride) noexcept nogil:
    # One pixel row to one row of each of ``n`` planes (``plane_stride`` bytes apart):
    # libjpeg's YCbCr, or the first ``n`` channels copied; then edge replication to
    # ``pad_w``, as libjpeg pads partial MCUs.
    cdef Py_ssize_t j, k
    cdef uint8* row
    if to_ycbcr:
        _ycc_row(px, nc, w, dst, dst + plane_stride, dst + 2 * plane_stride)
    else:
        for k in range(n):
            row = dst + k * plane_stride
            for j in range(w):
                row[j] = px[j * nc + k]
    for k in range(n):
        row = dst + k * plane_stride
        for j in range(w, pad_w):
            row[j] = row[w - 1]


cdef void _downsample_rows(const uint8* src, Py_ssize_t stride, Py_ssize_t oh, Py_ssize_t ow,
                           int h_factor, int v_factor, uint8* dst, Py_ssize_t dst_stride) noexcept nogil:
    # libjpeg's h2v2 and h2v1 restart their alternating bias on every output row, so
    # any band of whole output rows comes out as it would from the whole plane.
    cdef Py_ssize_t i, j, a, b
    cdef int n = h_factor * v_factor
    cdef int32_t acc
    cdef const uint8* r0
    cdef uint8* o
    for i in range(oh):
        o = dst + i * dst_stride
        r0 = src + i * v_factor * stride
        if h_factor == 2 and v_factor == 2:
            _h2v2_row(r0, r0 + stride, ow, o)
        elif h_factor == 2 and v_factor == 1:
            _h2v1_row(r0, ow, o)
        else:
            for j in range(ow):
                acc = 0
                for a in range(v_factor):
                    for b in range(h_factor):
                        acc += r0[a * stride + j * h_factor + b]
                o[j] = <uint8>((acc + n // 2) // n)


def downsample(const uint8[:, ::1] plane, int h_factor, int v_factor):
    """Box downsampling as libjpeg does it: h2v2 and h2v1 with their alternating rounding
    bias (so neighbouring outputs do not all round the same way), other integer factors
    with round-half-up.  The plane's sides must be multiples of the factors."""
    cdef Py_ssize_t h = plane.shape[0], w = plane.shape[1]
    if h_factor < 1 or v_factor < 1:
        raise ValueError(f"factors must be >= 1, got {h_factor}x{v_factor}")
    if h % v_factor or w % h_factor:
        raise ValueError(f"plane {w}x{h} is not a multiple of the factors {h_factor}x{v_factor}")
    cdef Py_ssize_t oh = h // v_factor, ow = w // h_factor
    out = np.empty((oh, ow), dtype=np.uint8)
    cdef uint8[:, ::1] dst = out
    if oh and ow:
        with nogil:
            _downsample_rows(&plane[0, 0], w, oh, ow, h_factor, v_factor, &dst[0, 0], ow)
    return out


cdef inline void _aan_1d(float* d, Py_ssize_t step) noexcept nogil:
    # Arai-Agui-Nakajima 8-point DCT: 5 multiplies instead of 64; the outputs carry a
    # per-frequency scale that forward_dct divides out once, together with the other axis.
    cdef float t0 = d[0] + d[7 * step], t7 = d[0] - d[7 * step]
    cdef float t1 = d[step] + d[6 * step], t6 = d[step] - d[6 * step]
    cdef float t2 = d[2 * step] + d[5 * step], t5 = d[2 * step] - d[5 * step]
    cdef float t3 = d[3 * step] + d[4 * step], t4 = d[3 * step] - d[4 * step]
    cdef float e10 = t0 + t3, e13 = t0 - t3, e11 = t1 + t2, e12 = t1 - t2
    cdef float z1 = (e12 + e13) * <float>0.707106781
    d[0] = e10 + e11
    d[4 * step] = e10 - e11
    d[2 * step] = e13 + z1
    d[6 * step] = e13 - z1
    cdef float o10 = t4 + t5, o11 = t5 + t6, o12 = t6 + t7
    cdef float z5 = (o10 - o12) * <float>0.382683433
    cdef float z2 = <float>0.541196100 * o10 + z5
    cdef float z4 = <float>1.306562965 * o12 + z5
    cdef float z3 = o11 * <float>0.707106781
    cdef float z11 = t7 + z3, z13 = t7 - z3
    d[5 * step] = z13 + z2
    d[3 * step] = z13 - z2
    d[step] = z11 + z4
    d[7 * step] = z11 - z4


# 1 / (8 * aan[u] * aan[v]): the AAN outputs' scale, divided out once per coefficient.
cdef float _DESCALE[64]
for _v in range(8):
    for _u in range(8):
        _DESCALE[_v * 8 + _u] = <float>(1.0 / (8.0 * (1.0 if _u == 0 else cos(_u * M_PI / 16.0) * sqrt(2.0))
                                               * (1.0 if _v == 0 else cos(_v * M_PI / 16.0) * sqrt(2.0))))


cdef inline void _dct_block(const uint8* src, Py_ssize_t stride, float* out) noexcept nogil:
    # One 8x8 block of samples ``stride`` bytes apart -> 64 coefficients in zigzag order.
    cdef float blk[64]
    cdef Py_ssize_t x, y
    for y in range(8):
        for x in range(8):
            blk[y * 8 + x] = src[y * stride + x] - <float>128.0
    for y in range(8):
        _aan_1d(&blk[y * 8], 1)
    for x in range(8):
        _aan_1d(&blk[x], 8)
    for y in range(64):
        out[_ZIGZAG_POS[y]] = blk[y] * _DESCALE[y]


# libjpeg's accurate integer DCT (jfdctint.c, Loeffler-Ligtenberg-Moschytz with 13-bit
# constants and 2 extra bits between the passes), used where levels must equal libjpeg's.
DEF _CONST_BITS = 13
DEF _PASS1_BITS = 2
DEF _F0298 = 2446
DEF _F0390 = 3196
DEF _F0541 = 4433
DEF _F0765 = 6270
DEF _F0899 = 7373
DEF _F1175 = 9633
DEF _F1501 = 12299
DEF _F1847 = 15137
DEF _F1961 = 16069
DEF _F2053 = 16819
DEF _F2562 = 20995
DEF _F3072 = 25172


cdef inline int64_t _descale(int64_t x, int n) noexcept nogil:
    return (x + (<int64_t>1 << (n - 1))) >> n


cdef inline void _islow_1d(int64_t* d, Py_ssize_t step, int even_shift, int odd_shift, bint first) noexcept nogil:
    # One row (first pass) or column (second pass) of the integer DCT, in place.
    cdef int64_t t0 = d[0] + d[7 * step], t7 = d[0] - d[7 * step]
    cdef int64_t t1 = d[step] + d[6 * step], t6 = d[step] - d[6 * step]
    cdef int64_t t2 = d[2 * step] + d[5 * step], t5 = d[2 * step] - d[5 * step]
    cdef int64_t t3 = d[3 * step] + d[4 * step], t4 = d[3 * step] - d[4 * step]
    cdef int64_t t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2
    if first:
        d[0] = (t10 + t11) << _PASS1_BITS
        d[4 * step] = (t10 - t11) << _PASS1_BITS
    else:
        d[0] = _descale(t10 + t11, _PASS1_BITS)
        d[4 * step] = _descale(t10 - t11, _PASS1_BITS)
    cdef int64_t z1 = (t12 + t13) * _F0541
    d[2 * step] = _descale(z1 + t13 * _F0765, even_shift)
    d[6 * step] = _descale(z1 - t12 * _F1847, even_shift)
    z1 = t4 + t7
    cdef int64_t z2 = t5 + t6, z3 = t4 + t6, z4 = t5 + t7
    cdef int64_t z5 = (z3 + z4) * _F1175
    t4 = t4 * _F0298
    t5 = t5 * _F2053
    t6 = t6 * _F3072
    t7 = t7 * _F1501
    z1 = -z1 * _F0899
    z2 = -z2 * _F2562
    z3 = -z3 * _F1961 + z5
    z4 = -z4 * _F0390 + z5
    d[7 * step] = _descale(t4 + z1 + z3, odd_shift)
    d[5 * step] = _descale(t5 + z2 + z4, odd_shift)
    d[3 * step] = _descale(t6 + z2 + z3, odd_shift)
    d[step] = _descale(t7 + z1 + z4, odd_shift)


cdef inline void _dct_block_islow(const uint8* src, Py_ssize_t stride, float* out) noexcept nogil:
    # libjpeg's integer DCT of one block; its outputs are 8x the orthonormal coefficients,
    # so out = v / 8 exactly (zigzag order) and ``v / 8 / q`` rounds as libjpeg's
    # ``(v + 4q) / 8q`` does.
    cdef int64_t blk[64]
    cdef Py_ssize_t x, y
    for y in range(8):
        for x in range(8):
            blk[y * 8 + x] = <int64_t>src[y * stride + x] - 128
    for y in range(8):
        _islow_1d(&blk[y * 8], 1, _CONST_BITS - _PASS1_BITS, _CONST_BITS - _PASS1_BITS, True)
    for x in range(8):
        _islow_1d(&blk[x], 8, _CONST_BITS + _PASS1_BITS, _CONST_BITS + _PASS1_BITS, False)
    for y in range(64):
        out[_ZIGZAG_POS[y]] = <float>blk[y] * <float>0.125


def forward_dct(const uint8[:, ::1] plane, bint islow=False):
    """Orthonormal 8x8 DCT-II of every block of ``plane - 128`` (JPEG's FDCT scaling).

    Arai-Agui-Nakajima's factorization in float32, more exact than libjpeg's integer
    DCT (within 2e-3 of the float64 transform for 8-bit input; tested); with ``islow``,
    libjpeg's integer DCT itself, whose levels a JPEG source's own tables give back
    exactly (each output is an integer over 8).  Returns float32
    (rows // 8, cols // 8, 64) in zigzag order, the order in which the quantizer and the
    entropy coder walk a block.
    """
    cdef Py_ssize_t h = plane.shape[0], w = plane.shape[1]
    if h % 8 or w % 8 or h == 0 or w == 0:
        raise ValueError(f"plane must be a non-empty multiple of 8 on each side, got {w}x{h}")
    cdef Py_ssize_t nby = h // 8, nbx = w // 8, by, bx
    out = np.empty((nby, nbx, 64), dtype=np.float32)
    cdef float[:, :, ::1] dst = out
    with nogil:
        for by in range(nby):
            for bx in range(nbx):
                if islow:
                    _dct_block_islow(&plane[by * 8, bx * 8], w, &dst[by, bx, 0])
                else:
                    _dct_block(&plane[by * 8, bx * 8], w, &dst[by, bx, 0])
    return out


cdef struct _Layout:
    # The components of a frame: sampling factors, downsampling factors and the MCU size.
    int n
    int hs[4]
    int vs[4]
    int fh[4]
    int fv[4]
    Py_ssize_t mcu_w, mcu_h


cdef int _layout(_Layout* lay, list sampling, Py_ssize_t nc, bint to_ycbcr, Py_ssize_t n_outs) except -1:
    cdef int c, hmax = 1, vmax = 1
    cdef Py_ssize_t n = len(sampling)
    if n < 1 or n > 4 or n_outs != n:
        raise ValueError(f"need 1 to 4 components with one output each, got {n} and {n_outs}")
    if to_ycbcr and (nc < 3 or n != 3):
        raise ValueError(f"YCbCr conversion needs 3+ input channels and 3 components, got {nc} -> {n}")
    if n > nc:
        raise ValueError(f"cannot take {n} components from {nc} channels")
    lay.n = <int>n
    for c in range(n):
        lay.hs[c], lay.vs[c] = sampling[c]
        if not (1 <= lay.hs[c] <= 4 and 1 <= lay.vs[c] <= 4):
            raise ValueError(f"sampling factors must be 1..4, got {sampling[c]}")
        hmax, vmax = max(hmax, lay.hs[c]), max(vmax, lay.vs[c])
    for c in range(n):
        lay.fh[c], lay.fv[c] = hmax // lay.hs[c], vmax // lay.vs[c]
        if lay.fh[c] * lay.hs[c] != hmax or lay.fv[c] * lay.vs[c] != vmax:
            raise ValueError(f"sampling factors {sampling} are not integer ratios")
    lay.mcu_w, lay.mcu_h = 8 * hmax, 8 * vmax
    return 0


cdef void _mcu_row(const uint8[:, :, ::1] src, bint to_ycbcr, const _Layout* lay, Py_ssize_t m,
                   Py_ssize_t pad_w, uint8* planes, uint8* small, float** dst,
                   const Py_ssize_t* dst_row, int islow) noexcept nogil:
    # MCU row ``m``: colour planes of its pixel rows, each component downsampled, then
    # the DCT of its blocks into the component's output rows.
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2], mcu_h = lay.mcu_h
    cdef Py_ssize_t r, i, by, bx, oh, ow, stride, real
    cdef int c
    cdef const uint8* plane
    for r in range(mcu_h):
        # Rows below the image repeat its last row, as libjpeg pads partial MCUs.
        i = min(m * mcu_h + r, h - 1)
        _plane_rows(&src[i, 0, 0], nc, w, pad_w, lay.n, to_ycbcr, planes + r * pad_w, mcu_h * pad_w)
    for c in range(lay.n):
        plane = planes + c * mcu_h * pad_w
        stride = pad_w
        if lay.fh[c] != 1 or lay.fv[c] != 1:
            oh, ow = mcu_h // lay.fv[c], pad_w // lay.fh[c]
            _downsample_rows(plane, pad_w, oh, ow, lay.fh[c], lay.fv[c], small, ow)
            # Below the image libjpeg repeats the last downsampled row (jcprepct.c), not
            # the last pixel row: the image's rows are padded only to a whole row group.
            real = ((h + mcu_h // 8 - 1) // (mcu_h // 8)) * lay.vs[c] - m * oh
            for r in range(max(real, 1), oh):
                memcpy(small + r * ow, small + (real - 1) * ow, ow)
            plane, stride = small, ow
        for by in range(lay.vs[c]):
            for bx in range(stride // 8):
                if (islow >> c) & 1:
                    _dct_block_islow(plane + by * 8 * stride + bx * 8, stride,
                                     dst[c] + (m * lay.vs[c] + by) * dst_row[c] + bx * 64)
                else:
                    _dct_block(plane + by * 8 * stride + bx * 8, stride,
                               dst[c] + (m * lay.vs[c] + by) * dst_row[c] + bx * 64)


def transform(const uint8[:, :, ::1] src, bint to_ycbcr, list sampling, list outs,
              Py_ssize_t mcu_row0, Py_ssize_t mcu_row1, islow=False):
    """DCT coefficients of MCU rows ``mcu_row0:mcu_row1`` of every component, straight
    from the pixels: ``color_planes`` (edge-replicated to whole MCUs), ``downsample`` by
    each component's factor, then ``forward_dct``, one MCU row at a time, so the
    full-size planes are never stored.  ``sampling`` holds each component's (h, v)
    sampling factors as in a JPEG frame header; ``outs[c]`` is the float32
    (mcu_rows * v, mcu_cols * h, 64) array of component ``c``, of which this call writes
    its rows (threads can take disjoint MCU rows of one image).  ``islow``: libjpeg's
    integer DCT instead of the float one (``forward_dct``), for every component (a bool)
    or for those whose entry is true (a sequence, one per component).
    """
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], c, m
    if h < 1 or w < 1:
        raise ValueError(f"image must be at least 1x1, got {w}x{h}")
    cdef _Layout lay
    _layout(&lay, sampling, src.shape[2], to_ycbcr, len(outs))
    cdef int islow_mask = 0  # bit c: component c takes the integer DCT
    if isinstance(islow, (bool, int)):
        islow_mask = (1 << lay.n) - 1 if islow else 0
    else:
        if len(islow) != lay.n:
            raise ValueError(f"islow has {len(islow)} entries for {lay.n} components")
        for c in range(lay.n):
            if islow[c]:
                islow_mask |= 1 << c
    cdef Py_ssize_t mcu_cols = (w + lay.mcu_w - 1) // lay.mcu_w, mcu_rows = (h + lay.mcu_h - 1) // lay.mcu_h
    cdef Py_ssize_t pad_w = mcu_cols * lay.mcu_w
    if not 0 <= mcu_row0 <= mcu_row1 <= mcu_rows:
        raise ValueError(f"MCU rows {mcu_row0}:{mcu_row1} outside 0:{mcu_rows}")
    cdef float* dst[4]
    cdef Py_ssize_t dst_row[4]  # floats per block row of each output
    cdef float[:, :, ::1] view
    held = []  # the outputs' buffers stay exported (unresizable) while the loop writes
    for c in range(lay.n):
        view = outs[c]
        held.append(view)
        if view.shape[0] != mcu_rows * lay.vs[c] or view.shape[1] != mcu_cols * lay.hs[c] or view.shape[2] != 64:
            raise ValueError(
                f"output {c} has shape {np.shape(outs[c])}, needs {(mcu_rows * lay.vs[c], mcu_cols * lay.hs[c], 64)}"
            )
        dst[c] = &view[0, 0, 0]
        dst_row[c] = view.shape[1] * 64
    # One MCU row of full-size planes, and room for one component downsampled.
    cdef uint8* planes = <uint8*>malloc(lay.n * lay.mcu_h * pad_w)
    cdef uint8* small = <uint8*>malloc(lay.mcu_h * pad_w)
    if planes == NULL or small == NULL:
        free(planes)
        free(small)
        raise MemoryError()
    with nogil:
        for m in range(mcu_row0, mcu_row1):
            _mcu_row(src, to_ycbcr, &lay, m, pad_w, planes, small, dst, dst_row, islow_mask)
    free(planes)
    free(small)
