/* Bit and SIMD helpers shared by the kernels: bit scans, the zigzag order, magnitude
   categories and 16/64-lane comparisons (SSE2 where the compiler targets it). */
#ifndef MSROI_BITS_H
#define MSROI_BITS_H

#include <math.h>

#if defined(_MSC_VER)
#include <intrin.h>
static inline int msroi_ctz64(unsigned long long v) {
    unsigned long i; _BitScanForward64(&i, v); return (int)i;
}
static inline int msroi_ctz32(unsigned int v) {
    unsigned long i; _BitScanForward(&i, v); return (int)i;
}
static inline int msroi_clz32(unsigned int v) {
    unsigned long i; _BitScanReverse(&i, v); return 31 - (int)i;
}
#else
static inline int msroi_ctz64(unsigned long long v) { return __builtin_ctzll(v); }
static inline int msroi_ctz32(unsigned int v) { return __builtin_ctz(v); }
static inline int msroi_clz32(unsigned int v) { return __builtin_clz(v); }
#endif
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define MSROI_SSE2 1
#endif

/* Position in natural (row-major) order of the k-th coefficient in zigzag order, and
   the zigzag position of each natural index (ITU T.81 figure A.6). */
static const int msroi_zigzag[64] = {
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};
static const int msroi_zigzag_pos[64] = {
    0, 1, 5, 6, 14, 15, 27, 28, 2, 4, 7, 13, 16, 26, 29, 42,
    3, 8, 12, 17, 25, 30, 41, 43, 9, 11, 18, 24, 31, 40, 44, 53,
    10, 19, 23, 32, 39, 45, 52, 54, 20, 22, 33, 38, 46, 51, 55, 60,
    21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
};

/* Magnitude category of a coefficient (T.81 F.1.2.1): the bit length of |v|. */
static inline int msroi_nbits(int v) {
    unsigned int a = (unsigned int)(v < 0 ? -v : v);
    return a == 0 ? 0 : 32 - msroi_clz32(a);
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

/* Bit j set where p[j] == v, j = 0..15. */
static inline unsigned int msroi_eq_mask16(const unsigned char* p, unsigned char v) {
#ifdef MSROI_SSE2
    return (unsigned int)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)p), _mm_set1_epi8((char)v)));
#else
    unsigned int m = 0;
    for (int j = 0; j < 16; j++) m |= (unsigned int)(p[j] == v) << j;
    return m;
#endif
}

#endif
