// Attention on AVX512-BF16 dot products; see dato_bf16_attention.h.
//
// vdpbf16ps adds, in each of 16 fp32 lanes, the products of one pair of bf16 values of each operand. The packed
// keys (dato_amx.c's layout) give, for each block of 16 keys and each pair of head dimensions (2r, 2r + 1), one
// vector of those 16 keys' pairs: a query row's pair broadcast to all lanes makes 16 scores' partial sums. The
// packed values give, for each pair of keys (2r, 2r + 1) and block of 16 value columns, one vector: a row's pair
// of probabilities broadcast makes 16 output columns' partial sums. So the scores come in register tiles of 8
// query rows x 32 keys and the products with the values in tiles of 8 rows x up to 48 columns (256-bit products
// for a last block of at most 8 columns), both accumulated in fp32. Between them runs the AMX kernel's fp32
// online softmax (attention_softmax.h). Built without -ffast-math, like the AMX kernel, so that the rescaling
// arithmetic runs as written.
#include "dato_bf16_attention.h"
#include "amx_common.h"
#include "attention_softmax.h"
#include <stdlib.h>

enum {
    QB = 32,            // query rows per block
    ROWS = 8,           // query rows per register tile
    KEY_BLOCK = 1024,   // keys per step of the online softmax
};

static long align64(long bytes) { return round_up(bytes, 64); }

// Row strides of the score (fp32) and probability (bf16) buffers: a cache line more than the padded key count,
// so that the rows of a tile do not all fall into one L1 set (as in dato_amx.c).
static long score_stride(long nk) { return round_up(nk, 32) + 16; }
static long prob_stride(long nk) { return round_up(nk, 32) + 32; }

long dato_bf16_attention_scratch_size(long nk, long dk, long dv) {
    return align64(QB * ((dk + 1) / 2) * 4) + align64(QB * score_stride(nk) * 4) + align64(QB * prob_stride(nk) * 2)
         + align64(QB * round_up(dv, 16) * 4);
}

#ifdef DATO_HAVE_AMX_BUILD

int dato_avx512bf16_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx512 = (b >> 16) & (b >> 30) & (b >> 31) & (b >> 17) & 1;   // F, BW, VL, DQ
    if (!avx512 || !__builtin_cpu_supports("avx512f") || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;   // AVX512-BF16
}

// The first n (clamped to 0 ... 32) of 32 lanes.
static inline __mmask32 lanes32(long n) {
    return n <= 0 ? 0 : n >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << n) - 1);
}

// The query block as bf16 pairs: qb[i * pairs + p] holds dimensions 2p (low half) and 2p + 1 of row i, zeros
// past `width` and in rows past `rows` (fp32 rows by the hardware conversion, as the AMX kernel's: round to
// nearest even, denormals to zero).
BF16_TARGET static void query_pairs(const void *q, int q_bf16, long ld, long rows, long width, long pairs,
                                    uint32_t *qb) {
    unsigned short *dst = (unsigned short *)qb;
    long n = 2 * pairs;
    for (long i = 0; i < QB; i++)
        for (long d = 0; d < n; d += 32) {
            __m512i h = _mm512_setzero_si512();
            if (i < rows && q_bf16) {
                h = _mm512_maskz_loadu_epi16(lanes32(width - d), (const unsigned short *)q + i * ld + d);
            } else if (i < rows) {
                const float *row = (const float *)q + i * ld + d;
                __m512 lo = _mm512_maskz_loadu_ps(tail_mask(width - d), row);
                __m512 hi = _mm512_maskz_loadu_ps(tail_mask(width - d - 16), row + 16);
                h = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            }
            _mm512_mask_storeu_epi16(dst + i * n + d, lanes32(n - d), h);
        }
}

// Rows i < rows of the result: o's row (stride dvp) times 1 / sum[i], as floats or bf16 values rounded to nearest
// even exactly as to_bf16 does (for finite values; no flushing of denormals).
BF16_TARGET static void write_rows(const float *o, long dvp, const float *sum, long rows, long dv, void *out, long ldo,
                                   int out_bf16) {
    for (long i = 0; i < rows; i++) {
        __m512 inv = _mm512_set1_ps(1.0f / sum[i]);
        for (long c = 0; c < dv; c += 16) {
            __mmask16 k = tail_mask(dv - c);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, o + i * dvp + c), inv);
            if (!out_bf16) {
                _mm512_mask_storeu_ps((float *)out + i * ldo + c, k, v);
                continue;
            }
            __m512i bits = _mm512_castps_si512(v), one = _mm512_set1_epi32(1);
            __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
            bits = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), odd));
            _mm256_mask_storeu_epi16((unsigned short *)out + i * ldo + c, k,
                                     _mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16)));
        }
    }
}

// A row's broadcast pair of bf16 values as a dot-product operand.
BF16_TARGET static inline __m512bh pair(const void *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    return (__m512bh)_mm512_set1_epi32((int)bits);
}

BF16_TARGET static inline __m512bh vector_at(const unsigned short *p) { return (__m512bh)_mm512_loadu_si512(p); }

// Scores of rows r0 ..< r0 + ROWS (bf16 pairs in qb) against the 32 keys from `key` (a multiple of 32; packed
// blocks of 16 keys `block` elements apart), stored to s (row stride ls) from column `column`.
BF16_TARGET static inline void score_tile(const uint32_t *qb, long pairs, long r0, const unsigned short *keys,
                                          long block, long key, float *s, long ls, long column) {
    __m512 acc[ROWS][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const unsigned short *ka = keys + (key / 16) * block, *kb = ka + block;
    const uint32_t *qr = qb + r0 * pairs;
    for (long p = 0; p < pairs; p++) {
        __m512bh k0 = vector_at(ka + p * 32), k1 = vector_at(kb + p * 32);
        for (int r = 0; r < ROWS; r++) {
            __m512bh qv = pair(qr + r * pairs + p);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], qv, k0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], qv, k1);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm512_storeu_ps(s + (r0 + r) * ls + column, acc[r][0]);
        _mm512_storeu_ps(s + (r0 + r) * ls + column + 16, acc[r][1]);
    }
}

// Scores of the block's QB query rows against keys k0 ..< k1 (multiples of 32), stored to s (row stride ls) from
// column 0; `dp` is the packed keys' padded head size. Each 32 keys serve all row tiles while they are in L1.
BF16_TARGET static void scores(const uint32_t *qb, long pairs, const unsigned short *keys, long dp, long k0, long k1,
                               float *s, long ls) {
    for (long key = k0; key < k1; key += 32)
        for (long r0 = 0; r0 < QB; r0 += ROWS) score_tile(qb, pairs, r0, keys, dp * 16, key, s, ls, key - k0);
}

// o[r0 ..< r0 + ROWS][16 cb ..< 16 (cb + C)] (row stride dvp) += P V over keys k0 ..< k1 (multiples of 32), with
// P's column 0 (bf16, row stride lp) at key k0 and values packed in `ncb` blocks of 16 columns. C is 1, 2 or 3;
// with `half`, the last of the C blocks has only its first 8 columns computed, by 256-bit products (the head
// size 40 of Stable Diffusion's first level is 2.5 blocks).
static inline __attribute__((always_inline)) BF16_TARGET void
value_tile(int C, int half, const unsigned short *p, long lp, long r0, const unsigned short *values, long ncb, long cb,
           long k0, long k1, float *o, long dvp) {
    int full = C - half;
    __m512 acc[ROWS][3];
    __m256 last[ROWS];
    for (int r = 0; r < ROWS; r++) {
        float *row = o + (r0 + r) * dvp + cb * 16;
        for (int c = 0; c < full; c++) acc[r][c] = _mm512_loadu_ps(row + c * 16);
        if (half) last[r] = _mm256_loadu_ps(row + full * 16);
    }
    for (long key = k0; key < k1; key += 32) {
        const unsigned short *vb = values + ((key / 32) * ncb + cb) * 512;
        const unsigned short *pk = p + r0 * lp + (key - k0);
        for (long pr = 0; pr < 16; pr++) {   // the pairs of keys (2 pr, 2 pr + 1) of this block
            __m512bh v[3];
            __m256bh vh = (__m256bh)_mm256_setzero_si256();
            for (int c = 0; c < full; c++) v[c] = vector_at(vb + c * 512 + pr * 32);
            if (half) vh = (__m256bh)_mm256_loadu_si256((const __m256i *)(vb + full * 512 + pr * 32));
            for (int r = 0; r < ROWS; r++) {
                __m512bh pv = pair(pk + r * lp + 2 * pr);
                for (int c = 0; c < full; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pv, v[c]);
                if (half) last[r] = _mm256_dpbf16_ps(last[r], (__m256bh)_mm512_castsi512_si256((__m512i)pv), vh);
            }
        }
    }
    for (int r = 0; r < ROWS; r++) {
        float *row = o + (r0 + r) * dvp + cb * 16;
        for (int c = 0; c < full; c++) _mm512_storeu_ps(row + c * 16, acc[r][c]);
        if (half) _mm256_storeu_ps(row + full * 16, last[r]);
    }
}

// o (QB rows x ncb * 16 columns, row stride dvp; dv of them used) += P V over keys k0 ..< k1, with P's column 0 at
// key k0 (row stride lp): tiles of ROWS rows x 48 columns (the last ones narrower).
BF16_TARGET static void add_values(const unsigned short *p, long lp, const unsigned short *values, long ncb, long dv,
                                   long k0, long k1, float *o, long dvp) {
    for (long cb = 0; cb < ncb; cb += 3) {
        int blocks = ncb - cb < 3 ? (int)(ncb - cb) : 3;
        int half = cb + blocks == ncb && dv - (ncb - 1) * 16 <= 8;
        for (long r0 = 0; r0 < QB; r0 += ROWS) {
            switch (blocks * 2 + half) {
            case 2: value_tile(1, 0, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            case 3: value_tile(1, 1, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            case 4: value_tile(2, 0, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            case 5: value_tile(2, 1, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            case 6: value_tile(3, 0, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            default: value_tile(3, 1, p, lp, r0, values, ncb, cb, k0, k1, o, dvp); break;
            }
        }
    }
}

// The buffers of one block in the caller's scratch.
typedef struct {
    uint32_t *qb;        // QB x pairs query pairs
    float *s;            // scores
    unsigned short *p;   // bf16 probabilities (numerators)
    float *o;            // QB x dvp unnormalised outputs
} buffers;

static buffers carve(void *scratch, long nk, long pairs, long dvp) {
    char *base = scratch;
    buffers b;
    b.qb = (uint32_t *)base;       base += align64(QB * pairs * 4);
    b.s = (float *)base;           base += align64(QB * score_stride(nk) * 4);
    b.p = (unsigned short *)base;  base += align64(QB * prob_stride(nk) * 2);
    b.o = (float *)base;
    return b;
}

// All scores at once and one softmax per row, adding prob_weight * the probabilities to prob_mean's rows (the map
// needs each row's final maximum and sum).
BF16_TARGET static void block_with_map(buffers b, long pairs, const unsigned short *keys, const unsigned short *values,
                                       long nk, long dp, long ncb, long dv, long dvp, const long *valid, float to_log2,
                                       float *max, float *sum, float *prob_mean, float prob_weight) {
    long nkp = round_up(nk, 32), ls = score_stride(nk), lp = prob_stride(nk);
    scores(b.qb, pairs, keys, dp, 0, nkp, b.s, ls);
    for (long i = 0; i < QB; i++) {
        if (valid[i] == 0) { memset(b.p + i * lp, 0, nkp * 2); continue; }
        const float *si = b.s + i * ls;
        max[i] = row_max(si, valid[i]);
        sum[i] = exp_row(si, valid[i], nkp, to_log2, max[i], b.p + i * lp);
        __m512 w = _mm512_set1_ps(prob_weight / sum[i]), m = _mm512_set1_ps(to_log2 * max[i]);
        __m512 cv = _mm512_set1_ps(to_log2);
        float *mean = prob_mean + i * nk;
        for (long j = 0; j < valid[i]; j += 16) {
            __mmask16 k = tail_mask(valid[i] - j);
            __m512 e = numerators(si + j, k, cv, m, 0);
            _mm512_mask_storeu_ps(mean + j, k, _mm512_fmadd_ps(e, w, _mm512_maskz_loadu_ps(k, mean + j)));
        }
    }
    add_values(b.p, lp, values, ncb, dv, 0, nkp, b.o, dvp);
}

// The online softmax over blocks of KEY_BLOCK keys, as in dato_amx.c: a row's first block sets its running
// maximum; later blocks reuse it without a maximum pass unless their powers add up to more than 2^32, when the
// block's maximum rescales the row's running sum and output and the block is redone.
BF16_TARGET static void block_online(buffers b, long pairs, const unsigned short *keys, const unsigned short *values,
                                     long nk, long dp, long ncb, long dv, long dvp, const long *valid, float to_log2,
                                     float *max, float *sum) {
    long nkp = round_up(nk, 32);
    long kb = nkp < KEY_BLOCK ? nkp : KEY_BLOCK, lsb = kb + 16, lpb = kb + 32;
    for (long k0 = 0; k0 < nkp; k0 += kb) {
        long k1 = k0 + kb < nkp ? k0 + kb : nkp;
        scores(b.qb, pairs, keys, dp, k0, k1, b.s, lsb);
        for (long i = 0; i < QB; i++) {
            long n = valid[i] - k0;
            unsigned short *pi = b.p + i * lpb;
            const float *si = b.s + i * lsb;
            if (n <= 0) { memset(pi, 0, (k1 - k0) * 2); continue; }
            if (n > k1 - k0) n = k1 - k0;
            float bs = max[i] == -INFINITY ? INFINITY : exp_row(si, n, k1 - k0, to_log2, max[i], pi);
            if (bs > 0x1p32f) {
                float bm = row_max(si, n);
                if (bm > max[i]) {
                    float alpha = max[i] == -INFINITY ? 0.0f : exp2f(to_log2 * (max[i] - bm));
                    sum[i] *= alpha;
                    for (long c = 0; c < dvp; c++) b.o[i * dvp + c] *= alpha;
                    max[i] = bm;
                }
                bs = exp_row(si, n, k1 - k0, to_log2, max[i], pi);
            }
            sum[i] += bs;
        }
        add_values(b.p, lpb, values, ncb, dv, k0, k1, b.o, dvp);
    }
}

BF16_TARGET void dato_bf16_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                                           const unsigned short *keys, const unsigned short *values, long nk, long dk,
                                           long dv, float scale, void *out, long ldo, int out_bf16,
                                           float *prob_mean, float prob_weight, void *scratch) {
    long pairs = (dk + 1) / 2, dp = round_up(dk, 32), ncb = round_up(dv, 16) / 16, dvp = ncb * 16;
    float to_log2 = scale * 1.44269504f;   // scores to log2 units: softmax by powers of two
    buffers b = carve(scratch, nk, pairs, dvp);
    float max[QB], sum[QB];
    long valid[QB];
    query_pairs(q, q_bf16, ldq, rows, dk, pairs, b.qb);
    for (long i = 0; i < QB; i++) {
        valid[i] = i >= rows ? 0 : (causal && first_row + i + 1 < nk ? first_row + i + 1 : nk);
        max[i] = -INFINITY;
        sum[i] = 0;
    }
    memset(b.o, 0, QB * dvp * sizeof(float));
    if (prob_mean)
        block_with_map(b, pairs, keys, values, nk, dp, ncb, dv, dvp, valid, to_log2, max, sum, prob_mean, prob_weight);
    else
        block_online(b, pairs, keys, values, nk, dp, ncb, dv, dvp, valid, to_log2, max, sum);
    write_rows(b.o, dvp, sum, rows, dv, out, ldo, out_bf16);
}

#else

int dato_avx512bf16_available(void) { return 0; }

void dato_bf16_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                               const unsigned short *keys, const unsigned short *values, long nk, long dk, long dv,
                               float scale, void *out, long ldo, int out_bf16, float *prob_mean, float prob_weight,
                               void *scratch) {
    abort();   // never called: dato_avx512bf16_available() is 0
}

#endif
