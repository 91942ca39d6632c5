# Included at the end of _native.pyx: kernels of the DCT-domain method (pillow_msroi/dct.py).
#
# The image goes through the same steps as in libjpeg (colour conversion, chroma
# downsampling, forward DCT); the coefficients are quantized with one table for the whole
# image by rate-distortion choices whose price of a bit grows where the map does not
# favour a block, and baseline or progressive scans with optimal Huffman tables (ITU T.81
# Annex K.2) are written from them.  Every kernel validates while it holds the GIL and
# runs its loops without it.

# fabsf: for the portable (non-SSE2) path of the C helpers below, which need math.h.
from libc.math cimport cos, sqrt, fabsf, M_PI
from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport int16_t, uint16_t, int32_t, int64_t, uint64_t
from libc.string cimport memset
from cpython.pycapsule cimport PyCapsule_GetPointer

# Position in natural (row-major) order of the k-th coefficient in zigzag order.
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
], dtype=np.intp)
cdef int _ZIGZAG[64]
cdef int _ZIGZAG_POS[64]  # zigzag position of each natural index
for _k in range(64):
    _ZIGZAG[_k] = ZIGZAG[_k]
    _ZIGZAG_POS[ZIGZAG[_k]] = _k

cdef extern from *:
    """
    #if defined(_MSC_VER)
    #include <intrin.h>
    static inline int msroi_ctz64(unsigned long long v) {
        unsigned long i; _BitScanForward64(&i, v); return (int)i;
    }
    static inline int msroi_clz32(unsigned int v) {
        unsigned long i; _BitScanReverse(&i, v); return 31 - (int)i;
    }
    #else
    static inline int msroi_ctz64(unsigned long long v) { return __builtin_ctzll(v); }
    static inline int msroi_clz32(unsigned int v) { return __builtin_clz(v); }
    #endif
    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define MSROI_SSE2 1
    #endif
    #define MSROI_FIX(x) ((int)((x) * 65536.0 + 0.5))
    /* libjpeg's integer RGB -> YCbCr (jccolor.c) of n pixels S bytes apart.  A macro, so
       that the usual strides 3 and 4 are constants the compiler can vectorize. */
    #define MSROI_YCC_LOOP(S) \
        for (long j = 0; j < n; j++) { \
            int r = px[j * (S)], g = px[j * (S) + 1], b = px[j * (S) + 2]; \
            y[j] = (unsigned char)((MSROI_FIX(0.29900) * r + MSROI_FIX(0.58700) * g \
                                    + MSROI_FIX(0.11400) * b + (1 << 15)) >> 16); \
            cb[j] = (unsigned char)((-MSROI_FIX(0.16874) * r - MSROI_FIX(0.33126) * g \
                                     + MSROI_FIX(0.5) * b + (128 << 16) + (1 << 15) - 1) >> 16); \
            cr[j] = (unsigned char)((MSROI_FIX(0.5) * r - MSROI_FIX(0.41869) * g \
                                     - MSROI_FIX(0.08131) * b + (128 << 16) + (1 << 15) - 1) >> 16); \
        }
    /* On x86-64 with GCC and glibc, the loops below also get an AVX2 build, picked at load
       time where the CPU has AVX2 (bench/RESULTS.md has the timings). */
    #if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__GLIBC__)
    #define MSROI_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define MSROI_CLONES
    #endif
    /* One row of pixels ``stride`` bytes apart to Y, Cb and Cr. */
    MSROI_CLONES
    static void msroi_ycc_row(const unsigned char* restrict px, long stride, long n,
                              unsigned char* restrict y, unsigned char* restrict cb,
                              unsigned char* restrict cr) {
        if (stride == 3) {
            MSROI_YCC_LOOP(3)
        } else if (stride == 4) {
            MSROI_YCC_LOOP(4)
        } else {
            MSROI_YCC_LOOP(stride)
        }
    }
    /* libjpeg's h2v2 and h2v1 downsampling of one output row: the rounding bias
       alternates 1, 2 (h2v2) or 0, 1 (h2v1) along the row, restarting on every row. */
    MSROI_CLONES
    static void msroi_h2v2_row(const unsigned char* restrict r0, const unsigned char* restrict r1,
                               long ow, unsigned char* restrict o) {
        for (long j = 0; j < ow; j++)
            o[j] = (unsigned char)((r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1] + 1 + (j & 1)) >> 2);
    }
    MSROI_CLONES
    static void msroi_h2v1_row(const unsigned char* restrict r0, long ow, unsigned char* restrict o) {
        for (long j = 0; j < ow; j++)
            o[j] = (unsigned char)((r0[2 * j] + r0[2 * j + 1] + (j & 1)) >> 1);
    }
    /* Bit k set where |src[k]| >= th[k], k = 0..63. */
    static inline unsigned long long msroi_mask_ge(const float* src, const float* th) {
        unsigned long long m = 0;
    #ifdef MSROI_SSE2
        const __m128 sign = _mm_set1_ps(-0.0f);
        for (int k = 0; k < 64; k += 4) {
            __m128 a = _mm_andnot_ps(sign, _mm_loadu_ps(src + k));
            m |= (unsigned long long)_mm_movemask_ps(_mm_cmpge_ps(a, _mm_loadu_ps(th + k))) << k;
        }
    #else
        for (int k = 0; k < 64; k++) m |= (unsigned long long)(fabsf(src[k]) >= th[k]) << k;
    #endif
        return m;
    }
    /* Bit k set where blk[k] != 0, k = 0..63. */
    static inline unsigned long long msroi_mask_nz(const short* blk) {
        unsigned long long m = 0;
    #ifdef MSROI_SSE2
        const __m128i zero = _mm_setzero_si128();
        for (int k = 0; k < 64; k += 16) {
            __m128i a = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i*)(blk + k)), zero);
            __m128i b = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i*)(blk + k + 8)), zero);
            unsigned int eq = (unsigned int)_mm_movemask_epi8(_mm_packs_epi16(a, b));
            m |= (unsigned long long)(~eq & 0xFFFFu) << k;
        }
    #else
        for (int k = 0; k < 64; k++) m |= (unsigned long long)(blk[k] != 0) << k;
    #endif
        return m;
    }
    """
    int _ctz64 "msroi_ctz64"(unsigned long long v) noexcept nogil  # v != 0
    int _clz32 "msroi_clz32"(unsigned int v) noexcept nogil  # v != 0
    uint64_t _mask_ge "msroi_mask_ge"(const float* src, const float* th) noexcept nogil
    uint64_t _mask_nz "msroi_mask_nz"(const int16_t* blk) noexcept nogil
    void _ycc_row "msroi_ycc_row"(const uint8* px, long stride, long n, uint8* y, uint8* cb,
                                  uint8* cr) noexcept nogil
    void _h2v2_row "msroi_h2v2_row"(const uint8* r0, const uint8* r1, long ow, uint8* o) noexcept nogil
    void _h2v1_row "msroi_h2v1_row"(const uint8* r0, long ow, uint8* o) noexcept nogil

cdef extern from *:
    """
    /* The Arrow C data interface (arrow.apache.org/docs/format/CDataInterface.html),
       a stable ABI through which Pillow >= 11.2 exports an image's memory. */
    struct msroi_ArrowArray {
        int64_t length, null_count, offset, n_buffers, n_children;
        const void** buffers;
        struct msroi_ArrowArray** children;
        struct msroi_ArrowArray* dictionary;
        void (*release)(struct msroi_ArrowArray*);
        void* private_data;
    };
    struct msroi_ArrowSchema {
        const char* format;
        const char* name;
        const char* metadata;
        int64_t flags, n_children;
        struct msroi_ArrowSchema** children;
        struct msroi_ArrowSchema* dictionary;
        void (*release)(struct msroi_ArrowSchema*);
        void* private_data;
    };
    """
    struct msroi_ArrowArray:
        int64_t length, offset, n_buffers, n_children
        const void** buffers
        msroi_ArrowArray** children
    struct msroi_ArrowSchema:
        const char* format
        int64_t n_children
        msroi_ArrowSchema** children


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


def forward_dct(const uint8[:, ::1] plane):
    """Orthonormal 8x8 DCT-II of every block of ``plane - 128`` (JPEG's FDCT scaling).

    Arai-Agui-Nakajima's factorization in float32, more exact than libjpeg's integer
    DCT (within 2e-3 of the float64 transform for 8-bit input; tested).  Returns float32
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
                _dct_block(&plane[by * 8, bx * 8], w, &dst[by, bx, 0])
    return out


def transform(const uint8[:, :, ::1] src, bint to_ycbcr, list sampling, list outs,
              Py_ssize_t mcu_row0, Py_ssize_t mcu_row1):
    """DCT coefficients of MCU rows ``mcu_row0:mcu_row1`` of every component, straight
    from the pixels: ``color_planes`` (edge-replicated to whole MCUs), ``downsample`` by
    each component's factor, then ``forward_dct``, one MCU row at a time, so the
    full-size planes are never stored.  ``sampling`` holds each component's (h, v)
    sampling factors as in a JPEG frame header; ``outs[c]`` is the float32
    (mcu_rows * v, mcu_cols * h, 64) array of component ``c``, of which this call writes
    its rows (threads can take disjoint MCU rows of one image).
    """
    cdef Py_ssize_t h = src.shape[0], w = src.shape[1], nc = src.shape[2]
    cdef Py_ssize_t n = len(sampling), c, k
    if h < 1 or w < 1:
        raise ValueError(f"image must be at least 1x1, got {w}x{h}")
    if n < 1 or n > 4 or len(outs) != n:
        raise ValueError(f"need 1 to 4 components with one output each, got {n} and {len(outs)}")
    if to_ycbcr and (nc < 3 or n != 3):
        raise ValueError(f"YCbCr conversion needs 3+ input channels and 3 components, got {nc} -> {n}")
    if n > nc:
        raise ValueError(f"cannot take {n} components from {nc} channels")
    cdef int hs[4]
    cdef int vs[4]
    cdef int fh[4]
    cdef int fv[4]
    cdef int hmax = 1, vmax = 1
    for c in range(n):
        hs[c], vs[c] = sampling[c]
        if not (1 <= hs[c] <= 4 and 1 <= vs[c] <= 4):
            raise ValueError(f"sampling factors must be 1..4, got {sampling[c]}")
        hmax, vmax = max(hmax, hs[c]), max(vmax, vs[c])
    for c in range(n):
        fh[c], fv[c] = hmax // hs[c], vmax // vs[c]
        if fh[c] * hs[c] != hmax or fv[c] * vs[c] != vmax:
            raise ValueError(f"sampling factors {sampling} are not integer ratios")
    cdef Py_ssize_t mcu_w = 8 * hmax, mcu_h = 8 * vmax
    cdef Py_ssize_t mcu_cols = (w + mcu_w - 1) // mcu_w, mcu_rows = (h + mcu_h - 1) // mcu_h
    cdef Py_ssize_t pad_w = mcu_cols * mcu_w
    if not 0 <= mcu_row0 <= mcu_row1 <= mcu_rows:
        raise ValueError(f"MCU rows {mcu_row0}:{mcu_row1} outside 0:{mcu_rows}")
    cdef float* dst[4]
    cdef Py_ssize_t dst_row[4]  # floats per block row of each output
    cdef float[:, :, ::1] view
    held = []  # the outputs' buffers stay exported (unresizable) while the loop writes
    for c in range(n):
        view = outs[c]
        held.append(view)
        if view.shape[0] != mcu_rows * vs[c] or view.shape[1] != mcu_cols * hs[c] or view.shape[2] != 64:
            raise ValueError(
                f"output {c} has shape {np.shape(outs[c])}, needs {(mcu_rows * vs[c], mcu_cols * hs[c], 64)}"
            )
        dst[c] = &view[0, 0, 0]
        dst_row[c] = view.shape[1] * 64
    # One MCU row of full-size planes, and room for one component downsampled.
    cdef uint8* planes = <uint8*>malloc(n * mcu_h * pad_w)
    cdef uint8* small = <uint8*>malloc(mcu_h * pad_w)
    if planes == NULL or small == NULL:
        free(planes)
        free(small)
        raise MemoryError()
    cdef Py_ssize_t m, r, i, by, bx, oh, ow, stride
    cdef const uint8* plane
    with nogil:
        for m in range(mcu_row0, mcu_row1):
            for r in range(mcu_h):
                # Rows below the image repeat its last row, as libjpeg pads partial MCUs.
                i = min(m * mcu_h + r, h - 1)
                _plane_rows(&src[i, 0, 0], nc, w, pad_w, n, to_ycbcr, planes + r * pad_w, mcu_h * pad_w)
            for c in range(n):
                plane = planes + c * mcu_h * pad_w
                stride = pad_w
                if fh[c] != 1 or fv[c] != 1:
                    oh, ow = mcu_h // fv[c], pad_w // fh[c]
                    _downsample_rows(plane, pad_w, oh, ow, fh[c], fv[c], small, ow)
                    plane, stride = small, ow
                for by in range(vs[c]):
                    for bx in range(stride // 8):
                        _dct_block(plane + by * 8 * stride + bx * 8, stride,
                                   dst[c] + (m * vs[c] + by) * dst_row[c] + bx * 64)
    free(planes)
    free(small)


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


# ---------------------------------------------------------------- Huffman entropy coding


cdef inline int _nbits(int32_t v) noexcept nogil:
    # Magnitude category of a coefficient (T.81 F.1.2.1): bit length of |v|.
    if v < 0:
        v = -v
    return 0 if v == 0 else 32 - _clz32(<unsigned int>v)


cdef struct _Scan:
    int n_comp
    const int16_t* data[4]
    Py_ssize_t stride[4]  # blocks per row of each component's grid
    int h[4]
    int v[4]
    int dc_tbl[4]
    int ac_tbl[4]
    Py_ssize_t mcu_rows
    Py_ssize_t mcu_cols
    Py_ssize_t restart
    int ss  # spectral band: 0..63 baseline, 0..0 progressive DC, ss >= 1 one AC band
    int se


cdef struct _Writer:
    uint8* buf
    Py_ssize_t pos
    Py_ssize_t cap
    uint64_t acc
    int nbits
    bint failed


cdef inline void _reserve(_Writer* w, Py_ssize_t extra) noexcept nogil:
    cdef Py_ssize_t cap
    cdef uint8* grown
    if w.pos + extra <= w.cap or w.failed:
        return
    cap = 2 * w.cap + extra
    grown = <uint8*>realloc(w.buf, cap)
    if grown == NULL:
        w.failed = True
        return
    w.buf = grown
    w.cap = cap


cdef inline void _put_bits(_Writer* w, uint32_t code, int size) noexcept nogil:
    # Callers reserve room first; every 0xFF data byte is followed by a stuffed 0x00.
    cdef uint8 byte
    w.acc = (w.acc << size) | (code & ((<uint64_t>1 << size) - 1))
    w.nbits += size
    while w.nbits >= 8:
        w.nbits -= 8
        byte = <uint8>((w.acc >> w.nbits) & 0xFF)
        w.buf[w.pos] = byte
        w.pos += 1
        if byte == 0xFF:
            w.buf[w.pos] = 0
            w.pos += 1


cdef inline void _flush_bits(_Writer* w) noexcept nogil:
    # Pad the last byte with one-bits (T.81 F.1.2.3).
    if w.nbits > 0:
        _put_bits(w, 0x7F, 8 - w.nbits)
    w.acc = 0


cdef inline uint64_t _band_mask(const int16_t* blk, int ss, int se) noexcept nogil:
    # Bit k set when coefficient k of the band ss..se (ss >= 1) is nonzero: walking set
    # bits skips the zeros without a branch per coefficient.
    return _mask_nz(blk) & (~(<uint64_t>0) >> (63 - se)) & ~((<uint64_t>1 << ss) - 1)


cdef inline void _count_dc(const int16_t* blk, int32_t* pred, int64_t* dc_freq,
                           int64_t* extra) noexcept nogil:
    cdef int n = _nbits(blk[0] - pred[0])
    pred[0] = blk[0]
    dc_freq[n] += 1
    extra[0] += n


cdef void _count_ac(const int16_t* blk, int ss, int se, int64_t* ac_freq, int64_t* extra) noexcept nogil:
    # Symbol frequencies, and in ``extra`` the magnitude bits that follow the symbols.
    cdef int k, run, n, last = ss - 1
    cdef uint64_t m = _band_mask(blk, ss, se)
    while m:
        k = _ctz64(m)
        m &= m - 1
        run = k - last - 1
        while run > 15:
            ac_freq[0xF0] += 1
            run -= 16
        n = _nbits(blk[k])
        ac_freq[(run << 4) | n] += 1
        extra[0] += n
        last = k
    if last < se:
        ac_freq[0] += 1  # EOB (EOBRUN of 1 in a progressive band)


cdef inline void _encode_dc(_Writer* w, const int16_t* blk, int32_t* pred,
                            const uint32_t* code, const int* size) noexcept nogil:
    cdef int32_t diff = blk[0] - pred[0]
    cdef int n = _nbits(diff)
    pred[0] = blk[0]
    _put_bits(w, code[n], size[n])
    if n:
        _put_bits(w, <uint32_t>(diff if diff >= 0 else diff - 1), n)


cdef void _encode_ac(_Writer* w, const int16_t* blk, int ss, int se,
                     const uint32_t* code, const int* size) noexcept nogil:
    cdef int32_t v
    cdef int k, run, n, sym, last = ss - 1
    cdef uint64_t m = _band_mask(blk, ss, se)
    while m:
        k = _ctz64(m)
        m &= m - 1
        run = k - last - 1
        while run > 15:
            _put_bits(w, code[0xF0], size[0xF0])
            run -= 16
        v = blk[k]
        n = _nbits(v)
        sym = (run << 4) | n
        _put_bits(w, code[sym], size[sym])
        _put_bits(w, <uint32_t>(v if v >= 0 else v - 1), n)
        last = k
    if last < se:
        _put_bits(w, code[0], size[0])


cdef void _optimal_lengths(const int64_t* freq_in, int* length) noexcept nogil:
    # Code length of each of 256 symbols for one table (T.81 Annex K.2, K.3): repeatedly
    # merge the two rarest trees, with a reserved symbol 256 so that no real code is all
    # one-bits; then shorten codes longer than 16 bits and drop the reserved code.
    cdef int64_t freq[257]
    cdef int codesize[257]
    cdef int others[257]
    cdef int bits[33]
    cdef int i, j, c1, c2, n
    cdef int64_t v
    for i in range(256):
        freq[i] = freq_in[i]
        length[i] = 0
    freq[256] = 1
    for i in range(257):
        codesize[i] = 0
        others[i] = -1
    while True:
        # c1: rarest; ties go to the larger symbol, as in the standard's procedure.
        c1 = -1
        v = 0
        for i in range(257):
            if freq[i] > 0 and (c1 < 0 or freq[i] <= v):
                v = freq[i]
                c1 = i
        c2 = -1
        v = 0
        for i in range(257):
            if freq[i] > 0 and i != c1 and (c2 < 0 or freq[i] <= v):
                v = freq[i]
                c2 = i
        if c2 < 0:
            break
        freq[c1] += freq[c2]
        freq[c2] = 0
        codesize[c1] += 1
        while others[c1] >= 0:
            c1 = others[c1]
            codesize[c1] += 1
        others[c1] = c2
        codesize[c2] += 1
        while others[c2] >= 0:
            c2 = others[c2]
            codesize[c2] += 1
    for i in range(33):
        bits[i] = 0
    for i in range(257):
        if codesize[i]:
            bits[codesize[i]] += 1
    # K.3: move pairs of over-long codes up into a shorter prefix.
    i = 32
    while i > 16:
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
        i -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1  # the reserved symbol's code, the longest
    # Give the lengths back to symbols: shortest codes to the symbols the tree made
    # shallowest, ties by symbol value (what the standard's sort produces).
    n = 1
    for j in range(1, 33):
        for i in range(256):
            if codesize[i] == j:
                while n <= 16 and bits[n] == 0:
                    n += 1
                length[i] = n
                bits[n] -= 1


cdef void _codes(const int* length, uint32_t* code, uint8* huffval, int* counts) noexcept nogil:
    # Canonical codes (T.81 Annex C) from lengths; also the DHT payload (counts, values).
    cdef int l, s, k = 0
    cdef uint32_t c = 0
    for l in range(1, 17):
        counts[l - 1] = 0
        for s in range(256):
            if length[s] == l:
                code[s] = c
                c += 1
                huffval[k] = <uint8>s
                k += 1
                counts[l - 1] += 1
        c <<= 1


cdef void _scan_pass(_Scan* sc, _Writer* w, int64_t* dc_freq, int64_t* ac_freq, int64_t* extra,
                     const uint32_t* codes, const int* sizes, bint emit,
                     Py_ssize_t row0, Py_ssize_t row1, const int32_t* pred0) noexcept nogil:
    # One walk over MCU rows row0:row1 in scan order: count symbols (emit=False) or write
    # them (whole scans only).  Tables are indexed [table][symbol]: dc at t * 512, ac at
    # t * 512 + 256.  A band scan (ss >= 1) has one component with h = v = 1: its MCUs are
    # single blocks.  ``pred0``: the DC predictors in force before row0.
    cdef int32_t pred[4]
    cdef Py_ssize_t mr, mc, n_mcu = row0 * sc.mcu_cols, total = sc.mcu_rows * sc.mcu_cols
    cdef int c, a, b, marker = 0, t_dc, t_ac
    cdef const int16_t* blk
    for c in range(4):
        pred[c] = pred0[c]
    for mr in range(row0, row1):
        for mc in range(sc.mcu_cols):
            if emit:
                # An MCU has at most 10 blocks of at most ~210 coded bytes each, doubled
                # if every byte were 0xFF and stuffed; plus a restart marker.
                _reserve(w, 10 * 420 + 16)
                if w.failed:
                    return
            for c in range(sc.n_comp):
                t_dc = sc.dc_tbl[c]
                t_ac = sc.ac_tbl[c]
                for a in range(sc.v[c]):
                    for b in range(sc.h[c]):
                        blk = sc.data[c] + ((mr * sc.v[c] + a) * sc.stride[c] + mc * sc.h[c] + b) * 64
                        if emit:
                            if sc.ss == 0:
                                _encode_dc(w, blk, &pred[c], codes + t_dc * 512, sizes + t_dc * 512)
                            if sc.se > 0:
                                _encode_ac(w, blk, max(sc.ss, 1), sc.se,
                                           codes + t_ac * 512 + 256, sizes + t_ac * 512 + 256)
                        else:
                            if sc.ss == 0:
                                _count_dc(blk, &pred[c], dc_freq + t_dc * 256, extra)
                            if sc.se > 0:
                                _count_ac(blk, max(sc.ss, 1), sc.se, ac_freq + t_ac * 256, extra)
            n_mcu += 1
            if sc.restart > 0 and n_mcu % sc.restart == 0 and n_mcu < total:
                for c in range(4):
                    pred[c] = 0
                if emit:
                    _flush_bits(w)
                    w.buf[w.pos] = 0xFF
                    w.buf[w.pos + 1] = <uint8>(0xD0 + marker)
                    w.pos += 2
                    marker = (marker + 1) & 7
    if emit:
        _flush_bits(w)


cdef list _setup_scan(_Scan* sc, list components, list sampling, list tables,
                      Py_ssize_t restart_interval, int ss, int se, tuple blocks):
    # Validates a scan's arguments into ``sc``; returns the buffers it points into, which
    # the caller keeps while the scan runs.
    cdef int n = len(components), c
    if not 1 <= n <= 4 or len(sampling) != n or len(tables) != n:
        raise ValueError("need 1..4 components with one sampling pair and table id each")
    if restart_interval < 0 or restart_interval > 65535:
        raise ValueError(f"restart interval must be in 0..65535, got {restart_interval}")
    if not (0 <= ss <= se <= 63) or (ss == 0 and se not in (0, 63)):
        raise ValueError(f"band must be 0..63, 0..0 or within 1..63, got {ss}..{se}")
    if ss > 0 and (n != 1 or blocks is None):
        raise ValueError("an AC band scan takes one component and its block counts")
    sc.ss = ss
    sc.se = se
    sc.n_comp = n
    sc.restart = restart_interval
    sc.mcu_cols = sc.mcu_rows = 0
    cdef int16_t[:, :, ::1] view
    keep = []
    for c in range(n):
        view = components[c]
        keep.append(view)
        if view.shape[2] != 64:
            raise ValueError("blocks must have 64 coefficients")
        sc.h[c], sc.v[c] = sampling[c]
        if not 1 <= sc.h[c] <= 4 or not 1 <= sc.v[c] <= 4:
            raise ValueError(f"sampling factors must be 1..4, got {sampling[c]}")
        if tables[c] not in (0, 1):
            raise ValueError(f"table ids must be 0 or 1, got {tables[c]}")
        sc.dc_tbl[c] = tables[c]
        sc.ac_tbl[c] = tables[c]
        sc.stride[c] = view.shape[1]
        sc.data[c] = &view[0, 0, 0]
        if view.shape[1] % sc.h[c] or view.shape[0] % sc.v[c]:
            raise ValueError(f"component {c} grid is not a whole number of MCUs")
        cols, rows = view.shape[1] // sc.h[c], view.shape[0] // sc.v[c]
        if c == 0:
            sc.mcu_cols, sc.mcu_rows = cols, rows
        elif (cols, rows) != (sc.mcu_cols, sc.mcu_rows):
            raise ValueError("components disagree on the MCU grid")
    if ss > 0:
        rows, cols = blocks
        if not (1 <= rows <= view.shape[0] and 1 <= cols <= view.shape[1]):
            raise ValueError(f"blocks {blocks} do not fit the grid ({view.shape[0]}, {view.shape[1]})")
        sc.h[0] = sc.v[0] = 1
        sc.mcu_rows, sc.mcu_cols = rows, cols
    return keep


#: Length of a ``count_scan`` result: DC then AC frequencies, [table][symbol], then the
#: magnitude bits that follow the symbols.
COUNTS = 1025


def count_scan(list components, list sampling, list tables, Py_ssize_t restart_interval,
               int ss=0, int se=63, tuple blocks=None, Py_ssize_t row0=0, row1=None):
    """Symbol frequencies of MCU rows ``row0:row1`` of a scan (arguments as for
    ``encode_scan``), the DC predictors starting as the whole scan leaves them there, so
    the counts of disjoint row ranges add up to those of the whole scan (threads can count
    parts side by side).  Returns int64 (COUNTS,): DC frequencies [table][symbol], AC
    frequencies likewise, then the number of magnitude bits."""
    cdef _Scan sc
    keep = _setup_scan(&sc, components, sampling, tables, restart_interval, ss, se, blocks)
    cdef Py_ssize_t r1 = sc.mcu_rows if row1 is None else row1
    if not 0 <= row0 <= r1 <= sc.mcu_rows:
        raise ValueError(f"MCU rows {row0}:{r1} outside 0:{sc.mcu_rows}")
    cdef int32_t pred[4]
    cdef Py_ssize_t n0 = row0 * sc.mcu_cols, mr, mc
    cdef int c
    for c in range(4):
        pred[c] = 0
    if ss == 0 and n0 > 0 and not (sc.restart > 0 and n0 % sc.restart == 0):
        # The last block of each component in the MCU before row0 (a restart resets to 0).
        mr, mc = divmod(n0 - 1, sc.mcu_cols)
        for c in range(sc.n_comp):
            pred[c] = sc.data[c][((mr * sc.v[c] + sc.v[c] - 1) * sc.stride[c] + mc * sc.h[c] + sc.h[c] - 1) * 64]
    out = np.zeros(COUNTS, dtype=np.int64)
    cdef int64_t[::1] freq = out
    with nogil:
        _scan_pass(&sc, NULL, &freq[0], &freq[512], &freq[1024], NULL, NULL, False, row0, r1, pred)
    return out


def encode_scan(list components, list sampling, list tables, Py_ssize_t restart_interval,
                bint emit=True, int ss=0, int se=63, tuple blocks=None, counts=None):
    """Entropy-code one scan with optimal Huffman tables.

    By default the scan is baseline: interleaved, all 64 coefficients.  For progressive
    JPEG (first passes only, no successive approximation): ``se=0`` codes the DC of all
    components, interleaved; ``ss >= 1`` codes the band ``ss..se`` of the one component
    given, block by block over its ``blocks`` = (rows, cols), the blocks that cover the
    image (a non-interleaved scan ignores MCU padding; T.81 A.2.2).

    ``components``: int16 (rows, cols, 64) zigzag-order blocks per component, each grid a
    whole number of MCUs; ``sampling``: (h, v) per component; ``tables``: Huffman table id
    (0 or 1) per component, for DC and AC alike; ``restart_interval``: MCUs between restart
    markers (0: none); ``counts``: the scan's ``count_scan`` result if already known (else
    it is counted here).  Returns (entropy-coded bytes, {(class, id): (counts, values)})
    where class 0 is DC and 1 is AC, ready for DHT segments.  With ``emit`` false nothing
    is written and the first item is instead the exact number of bits of the scan before
    byte stuffing and restart markers (a quarter of the work: the symbols are counted once).
    """
    cdef _Scan sc
    keep = _setup_scan(&sc, components, sampling, tables, restart_interval, ss, se, blocks)
    cdef int n = sc.n_comp, c
    cdef const int64_t[::1] freq
    cdef int32_t pred0[4]
    for c in range(4):
        pred0[c] = 0
    if counts is None:
        counts = count_scan(components, sampling, tables, restart_interval, ss, se, blocks)
    freq = counts
    if freq.shape[0] != COUNTS:
        raise ValueError(f"counts must have {COUNTS} entries, got {freq.shape[0]}")
    cdef const int64_t* dc_freq = &freq[0]
    cdef const int64_t* ac_freq = &freq[512]
    cdef int64_t total_bits = 0
    cdef int lengths[256]
    cdef uint32_t codes[1024]
    cdef int sizes[1024]
    cdef uint8 huffval[4][256]
    cdef int counts_of[4][16]
    cdef bint used[2]
    cdef int t, cls, s
    cdef _Writer w
    for s in range(1024):
        codes[s] = 0
        sizes[s] = 0
    used[0] = used[1] = False
    for c in range(n):
        used[sc.dc_tbl[c]] = True
    cdef bint classes[2]
    classes[0] = ss == 0
    classes[1] = se > 0
    w.buf = NULL
    if emit:
        w.buf = <uint8*>malloc(65536)
        if w.buf == NULL:
            raise MemoryError()
    w.cap = 65536
    w.pos = 0
    w.acc = 0
    w.nbits = 0
    w.failed = False
    try:
        with nogil:
            for t in range(2):
                if not used[t]:
                    continue
                for cls in range(2):
                    if not classes[cls]:
                        continue
                    _optimal_lengths(&dc_freq[t * 256] if cls == 0 else &ac_freq[t * 256], lengths)
                    _codes(lengths, codes + t * 512 + cls * 256, huffval[t * 2 + cls], counts_of[t * 2 + cls])
                    for s in range(256):
                        sizes[t * 512 + cls * 256 + s] = lengths[s]
            if emit:
                _scan_pass(&sc, &w, NULL, NULL, NULL, codes, sizes, True, 0, sc.mcu_rows, pred0)
            else:
                total_bits = freq[1024]
                for s in range(512):
                    total_bits += dc_freq[s] * sizes[(s >> 8) * 512 + (s & 255)]
                    total_bits += ac_freq[s] * sizes[(s >> 8) * 512 + 256 + (s & 255)]
        if w.failed:
            raise MemoryError()
        data = w.buf[:w.pos] if emit else total_bits
    finally:
        free(w.buf)
    specs = {}
    for t in range(2):
        if used[t]:
            for cls in range(2):
                if not classes[cls]:
                    continue
                cnt = [counts_of[t * 2 + cls][s] for s in range(16)]
                specs[(cls, t)] = (bytes(cnt), bytes([huffval[t * 2 + cls][s] for s in range(sum(cnt))]))
    return data, specs


def quantize_rd(const float[:, :, ::1] coef, const uint16_t[::1] qtable,
                const float[:, ::1] weight, double base, double scale,
                const float[::1] ac_bits, int16_t[:, :, ::1] out):
    """Rate-distortion quantization of zigzag-order DCT blocks with one table.

    Each AC coefficient takes the level ``n`` that minimizes
    ``(q * (x - n))**2 + lam * bits(n)``, ``x`` being the coefficient in steps of its
    table entry ``q``: squared error in pixel units (what PSNR counts) plus the block's
    price of a bit, ``lam = base + scale * weight[block]``, times the bits the level
    costs, i.e. its Huffman symbol for the current zero run (``ac_bits[run << 4 | size]``,
    plus one ZRL symbol per 16 zeros) and its ``size`` magnitude bits.  Levels of one
    magnitude category cost the same, so the candidates are zero, the rounded level and
    the largest level of the category below.  The choice is greedy along the block (a zero
    lengthens the next symbol's run, which it does not price).  ``lam`` 0 is plain
    rounding; a negative ``weight`` marks a padding block outside the image, of which only
    the DC is kept.  DC is always rounded.  ``qtable`` is in natural order, as libjpeg
    keeps it.  Returns the number of nonzero AC levels.
    """
    cdef Py_ssize_t nby = coef.shape[0], nbx = coef.shape[1], by, bx, k
    if coef.shape[2] != 64 or out.shape[2] != 64:
        raise ValueError("blocks must have 64 coefficients")
    if out.shape[0] != nby or out.shape[1] != nbx:
        raise ValueError(f"output grid {out.shape[1]}x{out.shape[0]} != coefficient grid {nbx}x{nby}")
    if weight.shape[0] != nby or weight.shape[1] != nbx:
        raise ValueError(f"weight grid {weight.shape[1]}x{weight.shape[0]} != {nbx}x{nby}")
    if not (base >= 0 and scale >= 0):
        raise ValueError(f"base and scale must be >= 0, got {base}, {scale}")
    if qtable.shape[0] != 64:
        raise ValueError(f"quantization table needs 64 entries, got {qtable.shape[0]}")
    if ac_bits.shape[0] != 256:
        raise ValueError(f"ac_bits needs 256 entries (one per AC symbol), got {ac_bits.shape[0]}")
    for k in range(64):
        if qtable[k] < 1:
            raise ValueError("quantization table entries must be >= 1")
    cdef float inv[64]
    cdef float q2[64]
    cdef float half_q[64]  # |coefficient| from which a level rounds away from zero
    cdef float bits[256]
    for k in range(64):
        inv[k] = 1.0 / qtable[_ZIGZAG[k]]
        half_q[k] = 0.5 * qtable[_ZIGZAG[k]]
        q2[k] = <float>qtable[_ZIGZAG[k]] * qtable[_ZIGZAG[k]]
    for k in range(256):
        bits[k] = ac_bits[k]
    cdef float x, ax, lb, d, cost, best_cost, zrl = bits[0xF0]
    cdef int32_t level, n, best, top
    cdef int size, c, run, last
    cdef uint64_t mask
    cdef Py_ssize_t nonzero = 0
    cdef const float* src
    cdef int16_t* dst
    with nogil:
        for by in range(nby):
            for bx in range(nbx):
                lb = weight[by, bx]
                lb = -1 if lb < 0 else <float>(base + scale * lb)
                src = &coef[by, bx, 0]
                dst = &out[by, bx, 0]
                x = src[0] * inv[0]
                level = <int32_t>(x + 0.5) if x >= 0 else -<int32_t>(0.5 - x)
                dst[0] = <int16_t>(-1024 if level < -1024 else (1023 if level > 1023 else level))
                # Most coefficients round to zero: find the others with a branch-free
                # sweep, then visit only those (runs are the gaps between them).
                memset(dst + 1, 0, 63 * sizeof(int16_t))
                mask = _mask_ge(src, half_q) & ~(<uint64_t>1)
                if lb < 0:
                    continue
                last = 0
                while mask:
                    k = _ctz64(mask)
                    mask &= mask - 1
                    x = src[k] * inv[k]
                    ax = x if x >= 0 else -x
                    top = <int32_t>(ax + 0.5)
                    if top > 1023:
                        top = 1023
                    best = top
                    if lb > 0:
                        run = <int>k - last - 1
                        best = 0
                        best_cost = ax * ax * q2[k]
                        size = _nbits(top)
                        # Zero, the rounded level, and the top of the category below:
                        # going further down never pays in practice and costs time.
                        for c in range(size - 1 if size > 1 else 1, size + 1):
                            n = top if c == size else (1 << c) - 1
                            d = (ax - n) * (ax - n) * q2[k]
                            cost = d + lb * (bits[((run & 15) << 4) | c] + c + (run >> 4) * zrl)
                            if cost < best_cost:
                                best_cost = cost
                                best = n
                    if best:
                        dst[k] = <int16_t>(best if x >= 0 else -best)
                        last = <int>k
                        nonzero += 1
    return nonzero
