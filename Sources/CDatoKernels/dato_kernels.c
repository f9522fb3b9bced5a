// Vectorisable fp32 kernels; see dato_kernels.h.
#include "dato_kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

static inline __attribute__((always_inline)) float bits_to_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }

// e^x: Cephes-style reduction x = n ln2 + r and a degree-6 polynomial (relative error < 2e-7).
static inline __attribute__((always_inline)) float fast_exp(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = nearbyintf(x * 1.44269504f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    return p * bits_to_float(((int32_t)n + 127) << 23);
}

// erf(x): Abramowitz-Stegun 7.1.26 (absolute error < 1.5e-7).
static inline float fast_erf(float x) {
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float y = 1.061405429f;
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    float e = 1.0f - y * t * fast_exp(-a * a);
    return x < 0 ? -e : e;
}

static inline float gelu1(float g) { return 0.5f * g * (1.0f + fast_erf(g * 0.70710678118654752f)); }

static inline __attribute__((always_inline)) float from_bf16(unsigned short h) {
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

// fp32 -> bf16, rounding to nearest with ties to even (NaN payloads may change; inputs here are finite).
static inline __attribute__((always_inline)) unsigned short to_bf16(float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (unsigned short)(bits >> 16);
}

CLONES void dato_softmax_rows(float *p, long rows, long n, long ld, long causal_start) {
    for (long i = 0; i < rows; i++) {
        float *row = p + i * ld;
        long valid = causal_start >= 0 ? causal_start + i + 1 : n;
        if (valid > n) valid = n;
        float m = -INFINITY;
        for (long j = 0; j < valid; j++) m = fmaxf(m, row[j]);
        float s = 0.0f;
        for (long j = 0; j < valid; j++) { float e = fast_exp(row[j] - m); row[j] = e; s += e; }
        float inv = 1.0f / s;
        for (long j = 0; j < valid; j++) row[j] *= inv;
        for (long j = valid; j < n; j++) row[j] = 0.0f;
    }
}

CLONES void dato_silu(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = x[i] / (1.0f + fast_exp(-x[i]));
}

CLONES void dato_quick_gelu(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = x[i] / (1.0f + fast_exp(-1.702f * x[i]));
}

CLONES void dato_gelu(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = gelu1(x[i]);
}

CLONES void dato_geglu(const float *in, float *out, long rows, long f) {
    for (long r = 0; r < rows; r++) {
        const float *v = in + r * 2 * f, *g = v + f;
        float *o = out + r * f;
        for (long j = 0; j < f; j++) o[j] = v[j] * gelu1(g[j]);
    }
}

CLONES void dato_geglu_bf16(const unsigned short *in, unsigned short *out, long rows, long f) {
    for (long r = 0; r < rows; r++) {
        const unsigned short *v = in + r * 2 * f, *g = v + f;
        unsigned short *o = out + r * f;
        for (long j = 0; j < f; j++) o[j] = to_bf16(from_bf16(v[j]) * gelu1(from_bf16(g[j])));
    }
}

CLONES void dato_affine_rows_bf16(const float *in, unsigned short *out, long rows, long c, const float *scale,
                                  const float *shift, int silu) {
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * c;
        unsigned short *o = out + r * c;
        if (silu) {
            for (long j = 0; j < c; j++) { float y = x[j] * scale[j] + shift[j]; o[j] = to_bf16(y / (1.0f + fast_exp(-y))); }
        } else {
            for (long j = 0; j < c; j++) o[j] = to_bf16(x[j] * scale[j] + shift[j]);
        }
    }
}

CLONES void dato_affine_rows(const float *in, float *out, long rows, long c, const float *scale, const float *shift, int silu) {
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * c;
        float *o = out + r * c;
        if (silu) {
            for (long j = 0; j < c; j++) { float y = x[j] * scale[j] + shift[j]; o[j] = y / (1.0f + fast_exp(-y)); }
        } else {
            for (long j = 0; j < c; j++) o[j] = x[j] * scale[j] + shift[j];
        }
    }
}

CLONES void dato_to_bf16(const float *src, long n, float scale, unsigned short *dst) {
    for (long i = 0; i < n; i++) {
        dst[i] = to_bf16(src[i] * scale);
    }
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void dato_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
