// The fp32 softmax pieces the bf16 attention kernels share (AMX tiles in dato_amx.c, AVX512-BF16 dot products in
// dato_bf16_attention.c): powers of two on log2-scaled scores, row maxima, and rows of bf16 numerators. The fp32
// attention kernel (dato_fp32_attention.c) uses the powers of two.
#ifndef DATO_ATTENTION_SOFTMAX_H
#define DATO_ATTENTION_SOFTMAX_H

#include "amx_common.h"

#ifdef DATO_HAVE_AMX_BUILD
#include <math.h>

// 2^x for x below 128 (log2-scaled scores minus a running row maximum): x = n + f with n the nearest integer
// (f by vreduceps, one instruction: measured 4-8% faster attention than rounding with vrndscaleps), 2^f by a
// near-minimax polynomial on [-0.5, 0.5], and the exact scaling by 2^n (vscalefps) that also takes very negative
// x to 0. The polynomial has degree 3 (relative error 7.5e-5, under the bf16 rounding the AMX kernel's
// probabilities get next) or, with `precise`, degree 5 (2.4e-7, that of a float).
AVX512_TARGET static inline __m512 exp2_ps(__m512 x, int precise) {
    __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);   // x - round(x), exact
    __m512 n = _mm512_sub_ps(x, f);
    __m512 p;
    if (precise) {
        p = _mm512_set1_ps(1.3276472e-3f);
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6755419e-3f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5507131e-2f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022120e-1f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314694e-1f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000001f));
    } else {
        p = _mm512_set1_ps(0.05517167f);
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24261115f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.69326097f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.99992806f));
    }
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(long remaining) {
    if (remaining <= 0) return 0;
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}

// 2^(c s - m) for 16 scores, the lanes outside `k` zero (`precise` as for exp2_ps).
AVX512_TARGET static inline __m512 numerators(const float *s, __mmask16 k, __m512 c, __m512 m, int precise) {
    return _mm512_maskz_mov_ps(k, exp2_ps(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, s), c, m), precise));
}

AVX512_TARGET static inline float row_max(const float *s, long valid) {
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    long pairs = valid & ~31L, j = 0;
    for (; j < pairs; j += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + j + 16));
    }
    for (; j < valid; j += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(m0, tail_mask(valid - j), s + j));
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

// p[j] = bf16(2^(c (s[j] - max))) for j < valid and 0 up to `width` (a multiple of 32); returns the sum.
BF16_TARGET static inline float exp_row(const float *s, long valid, long width, float scale, float max, unsigned short *p) {
    __m512 c = _mm512_set1_ps(scale), m = _mm512_set1_ps(scale * max), sum0 = _mm512_setzero_ps(), sum1 = sum0;
    long pairs = valid & ~31L, j = 0;
    for (; j < pairs; j += 32) {   // whole pairs of vectors: no masks
        __m512 e0 = exp2_ps(_mm512_fmsub_ps(_mm512_loadu_ps(s + j), c, m), 0);
        __m512 e1 = exp2_ps(_mm512_fmsub_ps(_mm512_loadu_ps(s + j + 16), c, m), 0);
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512((void *)(p + j), (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    for (; j < width; j += 32) {
        __m512 e0 = numerators(s + j, j < pairs ? 0xFFFF : tail_mask(valid - j), c, m, 0);
        __m512 e1 = numerators(s + j + 16, j < pairs ? 0xFFFF : tail_mask(valid - j - 16), c, m, 0);
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512((void *)(p + j), (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

#endif

#endif
