# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Huffman entropy coding of quantized blocks: symbol counts, optimal tables (ITU T.81
Annex K.2) and baseline or progressive (spectral selection) scans, as libjpeg's jchuff.c
and jcphuff.c; pillow_msroi/_jpeg/scans.py drives it.

Every kernel validates its arguments while it holds the GIL and runs its loops without it.
"""

import numpy as np

from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t, uint64_t

ctypedef unsigned char uint8

cdef extern from "msroi_bits.h":
    int _ctz64 "msroi_ctz64"(unsigned long long v) noexcept nogil  # v != 0
    int _nbits "msroi_nbits"(int v) noexcept nogil
    uint64_t _mask_nz "msroi_mask_nz"(const int16_t* blk) noexcept nogil


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


cdef void _tree_depths(const int64_t* freq_in, int* codesize) noexcept nogil:
    # Depth of each of 256 symbols (and a reserved symbol 256, so that no real code is all
    # one-bits) in the Huffman tree: repeatedly merge the two rarest trees (T.81 K.2).
    cdef int64_t freq[257]
    cdef int others[257]
    cdef int i, c1, c2
    cdef int64_t v
    for i in range(256):
        freq[i] = freq_in[i]
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


cdef void _optimal_lengths(const int64_t* freq_in, int* length) noexcept nogil:
    # Code length of each of 256 symbols for one table (T.81 Annex K.2, K.3): the tree's
    # depths, codes longer than 16 bits shortened, the reserved code dropped.
    cdef int codesize[257]
    cdef int bits[33]
    cdef int i, j, n
    _tree_depths(freq_in, codesize)
    for i in range(256):
        length[i] = 0
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


cdef struct _Tables:
    # Optimal Huffman codes of one scan, indexed [table][symbol]: DC at t * 512, AC at
    # t * 512 + 256; and the DHT payloads (counts of each length, values) per table.
    uint32_t codes[1024]
    int sizes[1024]
    uint8 huffval[4][256]
    int counts_of[4][16]
    bint used[2]  # table ids the scan uses
    bint classes[2]  # DC, AC: which classes the scan codes


cdef void _build_tables(_Tables* tb, const int64_t* freq) noexcept nogil:
    cdef int lengths[256]
    cdef int t, cls, s
    for s in range(1024):
        tb.codes[s] = 0
        tb.sizes[s] = 0
    for t in range(2):
        if not tb.used[t]:
            continue
        for cls in range(2):
            if not tb.classes[cls]:
                continue
            _optimal_lengths(freq + cls * 512 + t * 256, lengths)
            _codes(lengths, tb.codes + t * 512 + cls * 256, tb.huffval[t * 2 + cls], tb.counts_of[t * 2 + cls])
            for s in range(256):
                tb.sizes[t * 512 + cls * 256 + s] = lengths[s]


cdef int64_t _coded_bits(const _Tables* tb, const int64_t* freq) noexcept nogil:
    # Symbols' code lengths times their counts, plus the magnitude bits (freq[1024]).
    cdef int64_t total = freq[1024]
    cdef int s
    for s in range(512):
        total += freq[s] * tb.sizes[(s >> 8) * 512 + (s & 255)]
        total += freq[512 + s] * tb.sizes[(s >> 8) * 512 + 256 + (s & 255)]
    return total


cdef bytes _write(_Scan* sc, const _Tables* tb):
    cdef _Writer w
    cdef int32_t pred0[4]
    cdef int c
    for c in range(4):
        pred0[c] = 0
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
            _scan_pass(sc, &w, NULL, NULL, NULL, tb.codes, tb.sizes, True, 0, sc.mcu_rows, pred0)
        if w.failed:
            raise MemoryError()
        return w.buf[:w.pos]
    finally:
        free(w.buf)


cdef dict _specs(const _Tables* tb):
    specs = {}
    cdef int t, cls, s
    for t in range(2):
        if tb.used[t]:
            for cls in range(2):
                if not tb.classes[cls]:
                    continue
                cnt = [tb.counts_of[t * 2 + cls][s] for s in range(16)]
                specs[(cls, t)] = (bytes(cnt), bytes([tb.huffval[t * 2 + cls][s] for s in range(sum(cnt))]))
    return specs


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
    if counts is None:
        counts = count_scan(components, sampling, tables, restart_interval, ss, se, blocks)
    cdef const int64_t[::1] freq = counts
    if freq.shape[0] != COUNTS:
        raise ValueError(f"counts must have {COUNTS} entries, got {freq.shape[0]}")
    cdef _Tables tb
    cdef int c
    cdef int64_t total_bits
    tb.used[0] = tb.used[1] = False
    for c in range(sc.n_comp):
        tb.used[sc.dc_tbl[c]] = True
    tb.classes[0] = ss == 0
    tb.classes[1] = se > 0
    with nogil:
        _build_tables(&tb, &freq[0])
    if emit:
        data = _write(&sc, &tb)
    else:
        with nogil:
            total_bits = _coded_bits(&tb, &freq[0])
        data = total_bits
    return data, _specs(&tb)
