/* Colour conversion and downsampling of pixel rows, as libjpeg's jccolor.c and
   jcsample.c compute them (integer arithmetic, the same rounding). */
#ifndef MSROI_COLOR_H
#define MSROI_COLOR_H

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

#endif
