# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Quantization, as jcdctmgr.c's quantizing half but perceptual: ``block_activity``
measures how much texture each block has (what hides quantization error; the masking
field of pillow_msroi/_dct/field.py), and ``trellis_quantize`` chooses the levels of
every block by a dynamic programme over JPEG's run/size symbols: weighted squared error
in quantization steps plus a per-block price of a bit times the Huffman bits
(pillow_msroi/_dct/quantize.py drives it).  Both take zigzag-order float32 DCT blocks as
``_transform_cy.transform`` makes them, validate while they hold the GIL and run their
loops without it.
"""

import numpy as np

from libc.stdint cimport int16_t, int32_t, uint16_t

cdef extern from "msroi_bits.h":
    const int _ZIGZAG "msroi_zigzag"[64]
    int _nbits "msroi_nbits"(int v) noexcept nogil


def block_activity(const float[:, :, ::1] coef, const float[::1] freq_weight):
    """Per block, the weighted mean square of its AC coefficients:
    ``sum_k freq_weight[k] * coef[k]**2 / sum_k freq_weight[k]`` over k = 1..63 (zigzag
    order; ``freq_weight[0]`` is ignored).  Returns float32 (rows, cols)."""
    cdef Py_ssize_t rows = coef.shape[0], cols = coef.shape[1], i, j, k
    if coef.shape[2] != 64:
        raise ValueError(f"blocks must have 64 coefficients, got {coef.shape[2]}")
    if freq_weight.shape[0] != 64:
        raise ValueError(f"freq_weight needs 64 entries, got {freq_weight.shape[0]}")
    cdef double total = 0.0
    for k in range(1, 64):
        if not freq_weight[k] >= 0:
            raise ValueError("freq_weight entries must be >= 0")
        total += freq_weight[k]
    if not total > 0:
        raise ValueError("freq_weight must have a positive AC entry")
    out = np.empty((rows, cols), dtype=np.float32)
    cdef float[:, ::1] dst = out
    cdef float inv = <float>(1.0 / total), acc, x
    cdef const float* src
    with nogil:
        for i in range(rows):
            for j in range(cols):
                src = &coef[i, j, 0]
                acc = 0
                for k in range(1, 64):
                    x = src[k]
                    acc = acc + freq_weight[k] * x * x
                dst[i, j] = acc * inv
    return out


def trellis_quantize(const float[:, :, ::1] coef, const uint16_t[::1] qtable,
                     const float[:, ::1] price, const float[::1] freq_weight,
                     const float[::1] ac_bits, int keep_low, int16_t[:, :, ::1] out):
    """Levels of zigzag-order DCT blocks with one quantization table, chosen per block
    to minimize ``sum_k freq_weight[k] * (x_k - n_k)**2 + price[block] * bits``.

    ``x_k`` is coefficient k in steps of its table entry (``qtable`` in natural order, as
    libjpeg keeps it), ``bits`` the block's AC code length: the Huffman length of each
    run/size symbol from ``ac_bits`` (indexed ``run << 4 | size``; 0x00 is EOB, 0xF0 ZRL)
    plus the ``size`` magnitude bits.  Each coefficient may take zero, its rounded level
    or the level below; an exact dynamic programme over the position of the previous
    nonzero level prices the zero runs that a choice makes (a greedy pass cannot).
    Coefficients under half a step stay zero (raising them never lowers the cost).  The
    first ``keep_low`` AC coefficients (zigzag 1..keep_low) keep a nonzero level where
    rounding gives one, so that no block loses its coarse shape.  DC is rounded; a
    negative price marks a padding block, of which only the DC is kept.  Price 0 is plain
    rounding.  Returns the number of nonzero AC levels.
    """
    cdef Py_ssize_t nby = coef.shape[0], nbx = coef.shape[1], by, bx, k
    if coef.shape[2] != 64 or out.shape[2] != 64:
        raise ValueError("blocks must have 64 coefficients")
    if out.shape[0] != nby or out.shape[1] != nbx:
        raise ValueError(f"output grid {out.shape[1]}x{out.shape[0]} != coefficient grid {nbx}x{nby}")
    if price.shape[0] != nby or price.shape[1] != nbx:
        raise ValueError(f"price grid {price.shape[1]}x{price.shape[0]} != coefficient grid {nbx}x{nby}")
    if qtable.shape[0] != 64:
        raise ValueError(f"quantization table needs 64 entries, got {qtable.shape[0]}")
    if freq_weight.shape[0] != 64:
        raise ValueError(f"freq_weight needs 64 entries, got {freq_weight.shape[0]}")
    if ac_bits.shape[0] != 256:
        raise ValueError(f"ac_bits needs 256 entries (one per AC symbol), got {ac_bits.shape[0]}")
    if not 0 <= keep_low <= 63:
        raise ValueError(f"keep_low must be 0..63, got {keep_low}")
    cdef float inv[64]
    cdef float q[64]
    cdef float fw[64]
    cdef float bits[256]
    for k in range(64):
        if qtable[k] < 1:
            raise ValueError("quantization table entries must be >= 1")
        if not freq_weight[k] >= 0:
            raise ValueError("freq_weight entries must be >= 0")
        inv[k] = 1.0 / qtable[_ZIGZAG[k]]
        q[k] = qtable[_ZIGZAG[k]]
        fw[k] = freq_weight[k]
    for k in range(256):
        bits[k] = ac_bits[k]
    cdef Py_ssize_t nonzero = 0
    with nogil:
        for by in range(nby):
            for bx in range(nbx):
                nonzero += _trellis_block(&coef[by, bx, 0], inv, q, fw, bits, price[by, bx], keep_low,
                                          &out[by, bx, 0])
    return nonzero


cdef struct _Candidates:
    # The coefficients of a block that may be nonzero: their positions, the rounded level
    # and the one below, and each level's weighted error minus that of zero.
    int m
    int pos[64]
    int32_t cand[64][2]
    float delta[64][2]


cdef int _round_block(const float* src, const float* q, int16_t* dst) noexcept nogil:
    # Price 0: every coefficient rounded half away from zero, by a division, so that an
    # integer DCT's output over 8 (``transform(islow=True)``) gives libjpeg's levels
    # exactly; returns the nonzero AC count.
    cdef int k, n = 0
    cdef float x = src[0] / q[0], ax
    cdef int32_t top = <int32_t>(x + 0.5) if x >= 0 else -<int32_t>(0.5 - x)
    dst[0] = <int16_t>(-1024 if top < -1024 else (1023 if top > 1023 else top))
    for k in range(1, 64):
        x = src[k] / q[k]
        ax = x if x >= 0 else -x
        if ax < 0.5:
            continue
        top = <int32_t>(ax + 0.5)
        if top > 1023:
            top = 1023
        dst[k] = <int16_t>(top if x >= 0 else -top)
        n += 1
    return n


cdef void _candidates(const float* src, const float* inv, const float* fw, _Candidates* c) noexcept nogil:
    cdef int k
    cdef float x, ax, e0
    cdef int32_t top
    c.m = 0
    for k in range(1, 64):
        x = src[k] * inv[k]
        ax = x if x >= 0 else -x
        if ax < 0.5:  # raising a level from zero never lowers the cost
            continue
        top = <int32_t>(ax + 0.5)
        if top > 1023:
            top = 1023
        c.pos[c.m] = k
        e0 = fw[k] * ax * ax
        c.cand[c.m][0] = top
        c.delta[c.m][0] = fw[k] * (ax - top) * (ax - top) - e0
        c.cand[c.m][1] = top - 1
        c.delta[c.m][1] = fw[k] * (ax - top + 1) * (ax - top + 1) - e0
        c.m += 1


cdef int _forward(const _Candidates* c, const float* bits, float inv_lam, int keep_low,
                  float* best, int* choice, int* prev) noexcept nogil:
    # best[i]: cheapest cost, in bits (error / lam + bits), with a nonzero level at pos[i]
    # as the last one so far.  A kept coefficient may not be skipped: no path jumps over
    # it.  The level below the rounded one can only pay where it is a magnitude category
    # shorter (the rounded level is a power of two): elsewhere it costs as many bits for
    # more error, so it is left out of the search.  Returns the last kept candidate (-1).
    cdef int i, j, k, run, s0, s1, b0, b1, row, kept = -1
    cdef bint two
    cdef float cost, base, m0, m1, zrl = bits[0xF0]
    for i in range(c.m):
        k = c.pos[i]
        s0 = _nbits(c.cand[i][0])
        s1 = _nbits(c.cand[i][1])
        two = c.cand[i][1] >= 1 and s1 < s0
        m0 = m1 = 3.4e38
        b0 = b1 = -1
        if kept < 0:  # the start of the block as the predecessor (run from position 1)
            run = k - 1
            base = (run >> 4) * zrl
            m0 = base + bits[((run & 15) << 4) | s0]
            m1 = base + bits[((run & 15) << 4) | s1]
        for j in range(kept if kept > 0 else 0, i):
            run = k - c.pos[j] - 1
            base = best[j] + (run >> 4) * zrl
            row = (run & 15) << 4
            cost = base + bits[row | s0]
            if cost < m0:
                m0 = cost
                b0 = j
            if two:
                cost = base + bits[row | s1]
                if cost < m1:
                    m1 = cost
                    b1 = j
        best[i] = m0 + s0 + c.delta[i][0] * inv_lam
        choice[i] = 0
        prev[i] = b0
        if two:
            cost = m1 + s1 + c.delta[i][1] * inv_lam
            if cost < best[i]:
                best[i] = cost
                choice[i] = 1
                prev[i] = b1
        if k <= keep_low:
            kept = i
    return kept


cdef int _trellis_block(const float* src, const float* inv, const float* q, const float* fw,
                        const float* bits, float lam, int keep_low, int16_t* dst) noexcept nogil:
    cdef _Candidates c
    cdef float best[64]
    cdef int choice[64]
    cdef int prev[64]
    cdef int i, k, bi, kept, n = 0
    cdef int32_t level
    cdef float x = src[0] * inv[0], total, best_total, eob = bits[0]
    level = <int32_t>(x + 0.5) if x >= 0 else -<int32_t>(0.5 - x)
    dst[0] = <int16_t>(-1024 if level < -1024 else (1023 if level > 1023 else level))
    for k in range(1, 64):
        dst[k] = 0
    if lam < 0:
        return 0
    if lam == 0:
        return _round_block(src, q, dst)
    _candidates(src, inv, fw, &c)
    kept = _forward(&c, bits, 1.0 / lam, keep_low, best, choice, prev)
    # The last nonzero level: after it an EOB unless it is coefficient 63; not before
    # the last kept coefficient.
    bi = -1
    best_total = eob if kept < 0 else 3.4e38
    for i in range(kept if kept > 0 else 0, c.m):
        total = best[i] + (eob if c.pos[i] < 63 else 0)
        if total < best_total:
            best_total = total
            bi = i
    while bi >= 0:
        level = c.cand[bi][choice[bi]]
        dst[c.pos[bi]] = <int16_t>(level if src[c.pos[bi]] >= 0 else -level)
        n += 1
        bi = prev[bi]
    return n
