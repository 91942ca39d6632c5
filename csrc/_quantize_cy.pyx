# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Quantization of DCT blocks with one table, by rate-distortion choices per block, as
jcdctmgr.c's quantization half; pillow_msroi/_jpeg/coefficients.py drives it.

Validation runs while the GIL is held, the loops without it.
"""

from libc.stdint cimport int16_t, uint16_t, int32_t, uint64_t
from libc.string cimport memset

cdef extern from "msroi_bits.h":
    const int _ZIGZAG "msroi_zigzag"[64]
    int _ctz64 "msroi_ctz64"(unsigned long long v) noexcept nogil  # v != 0
    int _nbits "msroi_nbits"(int v) noexcept nogil
    uint64_t _mask_ge "msroi_mask_ge"(const float* src, const float* th) noexcept nogil


cdef struct _Prices:
    float inv[64]  # 1 / step, zigzag order
    float q2[64]  # step ** 2
    float half_q[64]  # |coefficient| from which a level rounds away from zero
    float bits[256]  # Huffman code length of each AC symbol


cdef int _check(object coef, object qtable, object weight, object out, double base, double scale,
                object ac_bits) except -1:
    if coef.shape[2] != 64 or out.shape[2] != 64:
        raise ValueError("blocks must have 64 coefficients")
    if out.shape[0] != coef.shape[0] or out.shape[1] != coef.shape[1]:
        raise ValueError(f"output grid {out.shape[1]}x{out.shape[0]} != coefficient grid {coef.shape[1]}x{coef.shape[0]}")
    if weight.shape[0] != coef.shape[0] or weight.shape[1] != coef.shape[1]:
        raise ValueError(f"weight grid {weight.shape[1]}x{weight.shape[0]} != {coef.shape[1]}x{coef.shape[0]}")
    if not (base >= 0 and scale >= 0):
        raise ValueError(f"base and scale must be >= 0, got {base}, {scale}")
    if qtable.shape[0] != 64:
        raise ValueError(f"quantization table needs 64 entries, got {qtable.shape[0]}")
    if ac_bits.shape[0] != 256:
        raise ValueError(f"ac_bits needs 256 entries (one per AC symbol), got {ac_bits.shape[0]}")
    return 0


cdef inline Py_ssize_t _quantize_block(const float* src, int16_t* dst, float lb, const _Prices* p) noexcept nogil:
    # One block at price ``lb`` per bit (negative: a padding block, DC only); returns its
    # nonzero AC levels.
    cdef float x = src[0] * p.inv[0], ax, d, cost, best_cost, zrl = p.bits[0xF0]
    cdef int32_t level = <int32_t>(x + 0.5) if x >= 0 else -<int32_t>(0.5 - x)
    cdef int32_t n, best, top
    cdef int size, c, run, last = 0
    cdef Py_ssize_t k, nonzero = 0
    dst[0] = <int16_t>(-1024 if level < -1024 else (1023 if level > 1023 else level))
    # Most coefficients round to zero: find the others with a branch-free sweep, then
    # visit only those (runs are the gaps between them).
    memset(dst + 1, 0, 63 * sizeof(int16_t))
    if lb < 0:
        return 0
    cdef uint64_t mask = _mask_ge(src, p.half_q) & ~(<uint64_t>1)
    while mask:
        k = _ctz64(mask)
        mask &= mask - 1
        x = src[k] * p.inv[k]
        ax = x if x >= 0 else -x
        top = <int32_t>(ax + 0.5)
        if top > 1023:
            top = 1023
        best = top
        if lb > 0:
            run = <int>k - last - 1
            best = 0
            best_cost = ax * ax * p.q2[k]
            size = _nbits(top)
            # Zero, the rounded level, and the top of the category below: going further
            # down never pays in practice and costs time.
            for c in range(size - 1 if size > 1 else 1, size + 1):
                n = top if c == size else (1 << c) - 1
                d = (ax - n) * (ax - n) * p.q2[k]
                cost = d + lb * (p.bits[((run & 15) << 4) | c] + c + (run >> 4) * zrl)
                if cost < best_cost:
                    best_cost = cost
                    best = n
        if best:
            dst[k] = <int16_t>(best if x >= 0 else -best)
            last = <int>k
            nonzero += 1
    return nonzero


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
    _check(coef, qtable, weight, out, base, scale, ac_bits)
    cdef Py_ssize_t nby = coef.shape[0], nbx = coef.shape[1], by, bx, k, nonzero = 0
    cdef _Prices p
    for k in range(64):
        if qtable[k] < 1:
            raise ValueError("quantization table entries must be >= 1")
    for k in range(64):
        p.inv[k] = 1.0 / qtable[_ZIGZAG[k]]
        p.half_q[k] = 0.5 * qtable[_ZIGZAG[k]]
        p.q2[k] = <float>qtable[_ZIGZAG[k]] * qtable[_ZIGZAG[k]]
    for k in range(256):
        p.bits[k] = ac_bits[k]
    cdef float lb
    with nogil:
        for by in range(nby):
            for bx in range(nbx):
                lb = weight[by, bx]
                lb = -1 if lb < 0 else <float>(base + scale * lb)
                nonzero += _quantize_block(&coef[by, bx, 0], &out[by, bx, 0], lb, &p)
    return nonzero
