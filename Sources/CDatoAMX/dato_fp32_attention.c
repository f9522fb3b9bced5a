// fp32 attention on AVX-512 FMA products; see dato_fp32_attention.h.
//
// A block holds QB = 32 query rows, two vectors of 16 lanes. Its queries are transposed once (qt[d][i], scaled
// by scale x log2(e)); then
//   scores: s[j][i] = sum_d K[j][d] qt[d][i], in register tiles of KB = 12 keys x 32 queries (a key's value
//           broadcast times two query vectors), with each lane's running maximum;
//   softmax: s[j][i] = 2^(s[j][i] - max[i]) in place, and the lane-wise sums, CHUNK keys at a time;
//   values: ot[c][i] += sum_j V[j][c] s[j][i] over the same CHUNK keys while they are in L1, in register tiles
//           of up to 12 value columns x 32 queries (a value broadcast times two probability vectors);
// and finally out[i][c] = ot[c][i] / sum[i]. Every product has 24 independent accumulators and no padding of
// the head size. Built without -ffast-math, like the other kernels of this target.
#include "dato_fp32_attention.h"
#include "amx_common.h"
#include "attention_softmax.h"
#include <math.h>
#include <stdlib.h>

enum {
    QB = 32,      // query rows per block (two vectors)
    KB = 12,      // keys per score tile and per block of packed keys
    CB = 12,      // most value columns per value tile
    CHUNK = 128,  // keys per softmax and values step (the step's probabilities: 16 KiB)
};

static long align64(long bytes) { return round_up(bytes, 64); }

long dato_fp32_attention_keys_size(long nk, long dk) { return round_up(nk, KB) * dk; }

void dato_fp32_attention_pack_keys(const float *k, long ld, long nk, long dk, float *packed) {
    for (long j0 = 0; j0 < nk; j0 += KB)
        for (long d = 0; d < dk; d++)
            for (long t = 0; t < KB; t++) *packed++ = j0 + t < nk ? k[(j0 + t) * ld + d] : 0.0f;
}

// Scratch: qt [dk][QB], s [nk][QB], ot [dv][QB].
long dato_fp32_attention_scratch_size(long nk, long dk, long dv) {
    return align64(dk * QB * 4) + align64(round_up(nk, KB) * QB * 4) + align64(dv * QB * 4);
}

#ifdef DATO_HAVE_AMX_BUILD

#define UNROLL _Pragma("clang loop unroll(full)")

// qt[d][i] = c q[i][d] for i < rows, zeros for the other lanes.
AVX512_TARGET static void transpose_queries(const float *q, long ldq, long rows, long dk, float c, float *qt) {
    for (long d = 0; d < dk; d++)
        for (long i = 0; i < QB; i++) qt[d * QB + i] = i < rows ? c * q[i * ldq + d] : 0.0f;
}

// Scores of keys 0 ..< n (packed) into s[j][:], returning each lane's maximum in max[0..1]. With `causal`, key j
// is hidden (-inf) from lanes whose query index (first_row + lane) is below j.
AVX512_TARGET static void scores(const float *qt, long dk, const float *keys, long n, int causal, long first_row,
                                 float *s, __m512 *max) {
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, hidden = m0;
    __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i q0 = _mm512_add_epi32(lane, _mm512_set1_epi32((int)first_row)), q1 = _mm512_add_epi32(q0, _mm512_set1_epi32(16));
    for (long j0 = 0; j0 < n; j0 += KB) {
        const float *kp = keys + j0 * dk;
        __m512 a[KB][2];
        UNROLL for (int t = 0; t < KB; t++) a[t][0] = a[t][1] = _mm512_setzero_ps();
        for (long d = 0; d < dk; d++) {
            __m512 x0 = _mm512_load_ps(qt + d * QB), x1 = _mm512_load_ps(qt + d * QB + 16);
            UNROLL for (int t = 0; t < KB; t++) {
                __m512 key = _mm512_set1_ps(kp[d * KB + t]);
                a[t][0] = _mm512_fmadd_ps(key, x0, a[t][0]);
                a[t][1] = _mm512_fmadd_ps(key, x1, a[t][1]);
            }
        }
        UNROLL for (int t = 0; t < KB; t++) {
            long j = j0 + t;
            if (j >= n) break;
            if (causal) {
                __m512i key = _mm512_set1_epi32((int)j);
                a[t][0] = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(q0, key), a[t][0], hidden);
                a[t][1] = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(q1, key), a[t][1], hidden);
            }
            _mm512_store_ps(s + j * QB, a[t][0]);
            _mm512_store_ps(s + j * QB + 16, a[t][1]);
            m0 = _mm512_max_ps(m0, a[t][0]);
            m1 = _mm512_max_ps(m1, a[t][1]);
        }
    }
    max[0] = m0;
    max[1] = m1;
}

// s[j][:] = 2^(s[j][:] - max) for keys 0 ..< n, adding them to sum[0..1]; hidden scores (-inf) become 0.
AVX512_TARGET static void powers(float *s, long n, int causal, const __m512 *max, __m512 *sum) {
    __m512 s0 = sum[0], s1 = sum[1], hidden = _mm512_set1_ps(-INFINITY);
    for (long j = 0; j < n; j++) {
        __m512 x0 = _mm512_load_ps(s + j * QB), x1 = _mm512_load_ps(s + j * QB + 16);
        __m512 e0 = exp2_ps(_mm512_sub_ps(x0, max[0]), 1), e1 = exp2_ps(_mm512_sub_ps(x1, max[1]), 1);
        if (causal) {
            e0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x0, hidden, _CMP_NEQ_OQ), e0);
            e1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x1, hidden, _CMP_NEQ_OQ), e1);
        }
        _mm512_store_ps(s + j * QB, e0);
        _mm512_store_ps(s + j * QB + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    sum[0] = s0;
    sum[1] = s1;
}

// ot[c][:] (+)= sum_j v[j][c] p[j][:] for the C columns at v (row stride ldv) over keys 0 ..< n; `first` starts
// the sums at zero instead of ot.
static inline __attribute__((always_inline)) AVX512_TARGET void
value_tile(const int C, const float *p, const float *v, long ldv, long n, int first, float *ot) {
    __m512 a[CB][2];
    UNROLL for (int c = 0; c < CB; c++) {
        if (c >= C) break;
        a[c][0] = first ? _mm512_setzero_ps() : _mm512_load_ps(ot + c * QB);
        a[c][1] = first ? _mm512_setzero_ps() : _mm512_load_ps(ot + c * QB + 16);
    }
    for (long j = 0; j < n; j++) {
        __m512 p0 = _mm512_load_ps(p + j * QB), p1 = _mm512_load_ps(p + j * QB + 16);
        UNROLL for (int c = 0; c < CB; c++) {
            if (c >= C) break;
            __m512 x = _mm512_set1_ps(v[j * ldv + c]);
            a[c][0] = _mm512_fmadd_ps(x, p0, a[c][0]);
            a[c][1] = _mm512_fmadd_ps(x, p1, a[c][1]);
        }
    }
    UNROLL for (int c = 0; c < CB; c++) {
        if (c >= C) break;
        _mm512_store_ps(ot + c * QB, a[c][0]);
        _mm512_store_ps(ot + c * QB + 16, a[c][1]);
    }
}

// value_tile for a column count C of 1 ... CB known only at run time (one specialised copy per count).
AVX512_TARGET static void value_tile_of(int C, const float *p, const float *v, long ldv, long n, int first, float *ot) {
    switch (C) {
    case 1: value_tile(1, p, v, ldv, n, first, ot); break;
    case 2: value_tile(2, p, v, ldv, n, first, ot); break;
    case 3: value_tile(3, p, v, ldv, n, first, ot); break;
    case 4: value_tile(4, p, v, ldv, n, first, ot); break;
    case 5: value_tile(5, p, v, ldv, n, first, ot); break;
    case 6: value_tile(6, p, v, ldv, n, first, ot); break;
    case 7: value_tile(7, p, v, ldv, n, first, ot); break;
    case 8: value_tile(8, p, v, ldv, n, first, ot); break;
    case 9: value_tile(9, p, v, ldv, n, first, ot); break;
    case 10: value_tile(10, p, v, ldv, n, first, ot); break;
    case 11: value_tile(11, p, v, ldv, n, first, ot); break;
    default: value_tile(12, p, v, ldv, n, first, ot); break;
    }
}

// Columns per value tile for a head of dv columns: the widest of 12, 10 and 8 that divides dv (no narrow last
// tile), else 12.
static int tile_columns(long dv) { return dv % 12 == 0 ? 12 : dv % 10 == 0 ? 10 : dv % 8 == 0 ? 8 : 12; }

AVX512_TARGET void dato_fp32_attention_block(const float *q, long ldq, long rows, long first_row, int causal,
                                             const float *keys, const float *values, long ldv, long nk, long dk,
                                             long dv, float scale, float *out, long ldo, float *prob_mean,
                                             float prob_weight, void *scratch) {
    float *qt = scratch;
    float *s = (float *)((char *)qt + align64(dk * QB * 4));
    float *ot = (float *)((char *)s + align64(round_up(nk, KB) * QB * 4));
    // Keys past the block's last query are hidden from all of its rows under a causal mask.
    long n = causal && first_row + rows < nk ? first_row + rows : nk;
    transpose_queries(q, ldq, rows, dk, scale * 1.44269504088896341f, qt);
    __m512 max[2], sum[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    scores(qt, dk, keys, n, causal, first_row, s, max);
    int columns = tile_columns(dv);
    for (long j0 = 0; j0 < n; j0 += CHUNK) {
        long m = n - j0 < CHUNK ? n - j0 : CHUNK;
        powers(s + j0 * QB, m, causal, max, sum);
        for (long c = 0; c < dv; c += columns) {
            int C = dv - c < columns ? (int)(dv - c) : columns;
            value_tile_of(C, s + j0 * QB, values + j0 * ldv + c, ldv, m, j0 == 0, ot + c * QB);
        }
    }
    float inv[QB];
    _mm512_storeu_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), sum[0]));
    _mm512_storeu_ps(inv + 16, _mm512_div_ps(_mm512_set1_ps(1.0f), sum[1]));
    for (long i = 0; i < rows; i++)
        for (long c = 0; c < dv; c++) out[i * ldo + c] = ot[c * QB + i] * inv[i];
    if (prob_mean) {
        for (long i = 0; i < rows; i++) {
            float w = prob_weight * inv[i];
            for (long j = 0; j < n; j++) prob_mean[i * nk + j] += s[j * QB + i] * w;
        }
    }
}

#else

void dato_fp32_attention_block(const float *q, long ldq, long rows, long first_row, int causal, const float *keys,
                               const float *values, long ldv, long nk, long dk, long dv, float scale, float *out,
                               long ldo, float *prob_mean, float prob_weight, void *scratch) {
    abort();   // never called: dato_avx512_available() is 0
}

#endif
