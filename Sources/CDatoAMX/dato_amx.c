// Attention on AMX bf16 tiles; see dato_amx.h.
//
// Layouts. A block has QB = 32 query rows (two 16-row tiles). Head sizes are padded with zeros to a multiple
// of 32 for the scores (one tile holds 32 bf16 of the inner dimension) and to a multiple of 16 for the
// output; key counts to a multiple of 32. Tile products want their right-hand side in "VNNI" order, pairs of
// consecutive inner-dimension elements side by side:
//   keys:   tile (key block of 16, dim chunk of 32), row r = dims 2r and 2r+1 of each of the 16 keys;
//   values: tile (key block of 32, column block of 16), row r = keys 2r and 2r+1 of each of the 16 columns.
// Each tile is 16 rows of 64 bytes, stored contiguously.
#include "dato_amx.h"
#include "amx_common.h"
#include "attention_softmax.h"
#include <math.h>
#include <stdlib.h>

enum { QB = 32 };

static long align64(long bytes) { return round_up(bytes, 64); }

long dato_amx_keys_size(long nk, long dk) { return round_up(nk, 32) * round_up(dk, 32); }
long dato_amx_values_size(long nk, long dv) { return round_up(nk, 32) * round_up(dv, 16); }

// Row strides of the score (fp32) and probability (bf16) buffers: one cache line more than the padded key
// count, so that the 16 rows a tile touches do not all fall into the same L1 set (4096 keys would give
// strides of 16 and 8 KiB).
static long score_stride(long nk) { return round_up(nk, 32) + 16; }
static long prob_stride(long nk) { return round_up(nk, 32) + 32; }

long dato_amx_scratch_size(long nk, long dk, long dv) {
    return align64(QB * round_up(dk, 32) * 2) + align64(QB * score_stride(nk) * 4) + align64(QB * prob_stride(nk) * 2)
         + align64(QB * round_up(dv, 16) * 4);
}

// A matrix to pack: fp32 values (rounded while packing) or bf16 ones (copied), element i at f[i] or h[i].
typedef struct { const float *f; const unsigned short *h; } source;

static unsigned short element(source b, long i) { return b.h ? b.h[i] : to_bf16(b.f[i]); }

// One B tile of a bf16 tile product in VNNI order: rows k0, k0 + 1 of B[k][n] = b[k * sk + n * sn] interleaved
// for 16 columns from n0, for 16 row pairs; zeros beyond kdim x ndim. Returns the position after the tile.
static unsigned short *pack_tile(source b, long sk, long sn, long kdim, long ndim, long k0, long n0,
                                 unsigned short *packed) {
    for (long r = 0; r < 16; r++)
        for (long col = 0; col < 16; col++) {
            long k = k0 + 2 * r, n = n0 + col;
            *packed++ = (k < kdim && n < ndim) ? element(b, k * sk + n * sn) : 0;
            *packed++ = (k + 1 < kdim && n < ndim) ? element(b, (k + 1) * sk + n * sn) : 0;
        }
    return packed;
}

// Both packers write their output in order and read the (cache-resident) rows of one key block.
// Keys are B of Q K^T (k = head dimension, n = key): blocks of 16 keys, each a run of 32-wide dimension chunks.
static void pack_keys(source k, long ld, long nk, long dk, unsigned short *packed) {
    long nkp = round_up(nk, 32), chunks = round_up(dk, 32) / 32;
    for (long block = 0; block < nkp / 16; block++)
        for (long chunk = 0; chunk < chunks; chunk++)
            packed = pack_tile(k, 1, ld, dk, nk, chunk * 32, block * 16, packed);
}

// Values are B of P V (k = key, n = value column): blocks of 32 keys, each a run of 16-wide column blocks.
static void pack_values(source v, long ld, long nk, long dv, unsigned short *packed) {
    long nkp = round_up(nk, 32), ncb = round_up(dv, 16) / 16;
    for (long block = 0; block < nkp / 32; block++)
        for (long cb = 0; cb < ncb; cb++)
            packed = pack_tile(v, ld, 1, nk, dv, block * 32, cb * 16, packed);
}

void dato_amx_pack_keys(const float *k, long ld, long nk, long dk, unsigned short *packed) {
    pack_keys((source){k, NULL}, ld, nk, dk, packed);
}

void dato_amx_pack_values(const float *v, long ld, long nk, long dv, unsigned short *packed) {
    pack_values((source){v, NULL}, ld, nk, dv, packed);
}

void dato_amx_pack_keys_bf16(const unsigned short *k, long ld, long nk, long dk, unsigned short *packed) {
    pack_keys((source){NULL, k}, ld, nk, dk, packed);
}

void dato_amx_pack_values_bf16(const unsigned short *v, long ld, long nk, long dv, unsigned short *packed) {
    pack_values((source){NULL, v}, ld, nk, dv, packed);
}

#ifdef DATO_HAVE_AMX_BUILD

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx512 = (b >> 16) & (b >> 30) & (b >> 31) & (b >> 17) & 1;   // F, BW, VL, DQ
    int amx = (d >> 22) & (d >> 24) & 1;                                // AMX-BF16, AMX-TILE
    if (!avx512 || !amx || !__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return 0;   // AVX512-BF16
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int dato_amx_available(void) {
    static int state = -1;   // benign race: every thread computes the same answer
    if (state < 0) state = amx_probe();
    return state;
}

int dato_avx512_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return __builtin_cpu_supports("avx512f") && ((b >> 16) & (b >> 30) & (b >> 31) & (b >> 17) & 1);
}

// The 32-row left operand of a tile product: row i of dst (stride dp, a multiple of 32) = bf16(scale * row i of
// src) for i < rows and its first `width` values, zeros elsewhere (the hardware conversion: round to nearest
// even, denormals to zero).
AMX_TARGET static void rows_to_bf16(const float *src, long ld, long rows, long width, float scale, long dp,
                                    unsigned short *dst) {
    __m512 s = _mm512_set1_ps(scale);
    for (long i = 0; i < QB; i++)
        for (long d = 0; d < dp; d += 32) {
            __m512 lo = _mm512_setzero_ps(), hi = lo;
            if (i < rows) {
                lo = _mm512_mul_ps(s, _mm512_maskz_loadu_ps(tail_mask(width - d), src + i * ld + d));
                hi = _mm512_mul_ps(s, _mm512_maskz_loadu_ps(tail_mask(width - d - 16), src + i * ld + d + 16));
            }
            _mm512_storeu_si512((void *)(dst + i * dp + d), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
}

// rows_to_bf16 for bf16 rows (a copy, no scaling).
AVX512_TARGET static void bf16_rows(const unsigned short *src, long ld, long rows, long width, long dp,
                                    unsigned short *dst) {
    for (long i = 0; i < QB; i++)
        for (long d = 0; d < dp; d += 32) {
            __mmask32 k = i >= rows || d >= width ? 0 : width - d >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (width - d)) - 1);
            _mm512_storeu_si512((void *)(dst + i * dp + d), _mm512_maskz_loadu_epi16(k, src + i * ld + d));
        }
}

// Accumulators 0-3 (rows 0-15 / 16-31 x keys 0-15 / 16-31) to 32 rows x 32 scores at s (row stride ls).
AMX_TARGET static inline void store_scores(float *s, long ls) {
    _tile_stored(0, s, ls * 4);
    _tile_stored(1, s + 16, ls * 4);
    _tile_stored(2, s + 16 * ls, ls * 4);
    _tile_stored(3, s + 16 * ls + 16, ls * 4);
}

// Scores of the block's query rows (bf16 in `qb`, row stride dp) against keys k0 ..< k1 (multiples of 32),
// stored to s (row stride ls) from column 0. Head sizes up to 64 keep the queries in tiles: one or two inner
// chunks of 32 rows x 32 keys per step (4, 5 queries; 0-3 accumulators), or two chunks of 32 rows x 16 keys
// (4-7 queries; 0, 1 accumulators; 2, 3 keys). Larger heads load all operands per step: 32 rows x 32 keys
// (accumulators 0, 1 rows 0-15; 2, 3 rows 16-31).
AMX_TARGET static void scores(const unsigned short *qb, long dp, const unsigned short *keys, long k0, long k1,
                              float *s, long ls) {
    long chunks = dp / 32;
    if (chunks == 1) {
        _tile_loadd(4, qb, dp * 2);
        _tile_loadd(5, qb + 16 * dp, dp * 2);
        for (long key = k0; key < k1; key += 32) {
            const unsigned short *ka = keys + (key / 16) * 512;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            _tile_loadd(6, ka, 64);
            _tile_loadd(7, ka + 512, 64);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
            store_scores(s + (key - k0), ls);
        }
        return;
    }
    if (chunks == 2) {
        _tile_loadd(4, qb, dp * 2);
        _tile_loadd(5, qb + 32, dp * 2);
        _tile_loadd(6, qb + 16 * dp, dp * 2);
        _tile_loadd(7, qb + 16 * dp + 32, dp * 2);
        for (long key = k0; key < k1; key += 16) {
            const unsigned short *ka = keys + (key / 16) * 1024;
            // Prefetching the next keys here and the next P rows and V tiles in add_values made the 4096-token
            // level-0 attention 5-8% faster (calls taking turns); prefetching the softmax's rows gained nothing.
            prefetch_rows(ka + 1024, 64, 32);   // the next 16 keys
            _tile_zero(0); _tile_zero(1);
            _tile_loadd(2, ka, 64);
            _tile_loadd(3, ka + 512, 64);
            _tile_dpbf16ps(0, 4, 2); _tile_dpbf16ps(1, 6, 2);
            _tile_dpbf16ps(0, 5, 3); _tile_dpbf16ps(1, 7, 3);
            _tile_stored(0, s + (key - k0), ls * 4);
            _tile_stored(1, s + 16 * ls + (key - k0), ls * 4);
        }
        return;
    }
    for (long key = k0; key < k1; key += 32) {
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
        const unsigned short *ka = keys + (key / 16) * chunks * 512, *kb = ka + chunks * 512;
        for (long c = 0; c < chunks; c++) {
            _tile_loadd(4, qb + c * 32, dp * 2);
            _tile_loadd(5, qb + 16 * dp + c * 32, dp * 2);
            _tile_loadd(6, ka + c * 512, 64);
            _tile_loadd(7, kb + c * 512, 64);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
        }
        store_scores(s + (key - k0), ls);
    }
}

// o (32 rows x ncb * 16 columns, row stride dvp) += P V over keys k0 ..< k1, with P's column 0 at key k0
// (row stride lp): 32 rows x 32 columns per pass (the last pass may have 16 columns).
AMX_TARGET static void add_values(const unsigned short *p, long lp, const unsigned short *values, long ncb,
                                  long k0, long k1, float *o, long dvp) {
    for (long cb = 0; cb < ncb; cb += 2) {
        int two = cb + 1 < ncb;
        float *oc = o + cb * 16;
        _tile_loadd(0, oc, dvp * 4);
        _tile_loadd(2, oc + 16 * dvp, dvp * 4);
        if (two) { _tile_loadd(1, oc + 16, dvp * 4); _tile_loadd(3, oc + 16 * dvp + 16, dvp * 4); }
        for (long key = k0; key < k1; key += 32) {
            const unsigned short *vb = values + ((key / 32) * ncb + cb) * 512;
            prefetch_rows(p + (key - k0) + 32, lp * 2, 32);   // the next step's P rows and V tiles
            prefetch_rows(vb + ncb * 512, 64, two ? 32 : 16);
            _tile_loadd(4, p + (key - k0), lp * 2);
            _tile_loadd(5, p + 16 * lp + (key - k0), lp * 2);
            _tile_loadd(6, vb, 64);
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(2, 5, 6);
            if (two) {
                _tile_loadd(7, vb + 512, 64);
                _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, oc, dvp * 4);
        _tile_stored(2, oc + 16 * dvp, dvp * 4);
        if (two) { _tile_stored(1, oc + 16, dvp * 4); _tile_stored(3, oc + 16 * dvp + 16, dvp * 4); }
    }
}

AMX_TARGET void dato_amx_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                                         const unsigned short *keys, const unsigned short *values, long nk, long dk,
                                         long dv, float scale, void *out, long ldo, int out_bf16,
                                         float *prob_mean, float prob_weight, void *scratch) {
    long dp = round_up(dk, 32), nkp = round_up(nk, 32), ncb = round_up(dv, 16) / 16;
    long dvp = ncb * 16, ls = score_stride(nk), lp = prob_stride(nk);
    float to_log2 = scale * 1.44269504f;   // scores to log2 units: softmax by powers of two
    char *base = scratch;
    unsigned short *qb = (unsigned short *)base;  base += align64(QB * dp * 2);
    float *s = (float *)base;                     base += align64(QB * ls * 4);
    unsigned short *p = (unsigned short *)base;   base += align64(QB * lp * 2);
    float *o = (float *)base;
    float max[QB], sum[QB];
    long valid[QB];
    if (q_bf16) bf16_rows(q, ldq, rows, dk, dp, qb);
    else rows_to_bf16(q, ldq, rows, dk, 1.0f, dp, qb);
    for (long i = 0; i < QB; i++) {
        valid[i] = i >= rows ? 0 : (causal && first_row + i + 1 < nk ? first_row + i + 1 : nk);
        max[i] = -INFINITY;
        sum[i] = 0;
    }
    memset(o, 0, QB * dvp * sizeof(float));
    load_tile_config();
    if (prob_mean) {
        // The probability map needs each row's final maximum and sum: all scores at once, then one softmax.
        scores(qb, dp, keys, 0, nkp, s, ls);
        for (long i = 0; i < QB; i++) {
            if (valid[i] == 0) { memset(p + i * lp, 0, nkp * 2); continue; }
            max[i] = row_max(s + i * ls, valid[i]);
            sum[i] = exp_row(s + i * ls, valid[i], nkp, to_log2, max[i], p + i * lp);
            __m512 w = _mm512_set1_ps(prob_weight / sum[i]), m = _mm512_set1_ps(to_log2 * max[i]), cv = _mm512_set1_ps(to_log2);
            float *mean = prob_mean + i * nk;
            for (long j = 0; j < valid[i]; j += 16) {
                __mmask16 k = tail_mask(valid[i] - j);
                __m512 e = numerators(s + i * ls + j, k, cv, m, 0);
                _mm512_mask_storeu_ps(mean + j, k, _mm512_fmadd_ps(e, w, _mm512_maskz_loadu_ps(k, mean + j)));
            }
        }
        add_values(p, lp, values, ncb, 0, nkp, o, dvp);
    } else {
        // Online softmax over blocks of 1024 keys (scores and probabilities stay in L2; measured faster than
        // 256- or 4096-key blocks). A row's first block sets its running maximum; later blocks reuse it without
        // a maximum pass (2^(s - max) above 1 is fine in fp32 and bf16) unless their powers add up to more than
        // 2^32, when the block's maximum rescales the row's running sum and output and the block is redone.
        long kb = nkp < 1024 ? nkp : 1024, lsb = kb + 16, lpb = kb + 32;   // strides as in score_stride
        for (long k0 = 0; k0 < nkp; k0 += kb) {
            long k1 = k0 + kb < nkp ? k0 + kb : nkp;
            scores(qb, dp, keys, k0, k1, s, lsb);
            for (long i = 0; i < QB; i++) {
                long n = valid[i] - k0;
                unsigned short *pi = p + i * lpb;
                if (n <= 0) { memset(pi, 0, (k1 - k0) * 2); continue; }
                if (n > k1 - k0) n = k1 - k0;
                float bs = max[i] == -INFINITY ? INFINITY : exp_row(s + i * lsb, n, k1 - k0, to_log2, max[i], pi);
                if (bs > 0x1p32f) {
                    float bm = row_max(s + i * lsb, n);
                    if (bm > max[i]) {
                        float alpha = max[i] == -INFINITY ? 0.0f : exp2f(to_log2 * (max[i] - bm));
                        sum[i] *= alpha;
                        for (long c = 0; c < dvp; c++) o[i * dvp + c] *= alpha;
                        max[i] = bm;
                    }
                    bs = exp_row(s + i * lsb, n, k1 - k0, to_log2, max[i], pi);
                }
                sum[i] += bs;
            }
            add_values(p, lpb, values, ncb, k0, k1, o, dvp);
        }
    }
    _tile_release();
    for (long i = 0; i < rows; i++) {
        float inv = 1.0f / sum[i];
        if (out_bf16) {
            unsigned short *row = (unsigned short *)out + i * ldo;
            for (long c = 0; c < dv; c++) row[c] = to_bf16(o[i * dvp + c] * inv);
        } else {
            float *row = (float *)out + i * ldo;
            for (long c = 0; c < dv; c++) row[c] = o[i * dvp + c] * inv;
        }
    }
}

long dato_amx_similarity_scratch_size(long k) { return align64(QB * round_up(k, 32) * 2); }

AMX_TARGET void dato_amx_similarities(const float *a, long lda, long rows, const unsigned short *packed, long n,
                                      long k, float *out, long ldo, void *scratch) {
    long dp = round_up(k, 32);
    unsigned short *ab = scratch;
    rows_to_bf16(a, lda, rows, k, 1.0f, dp, ab);
    load_tile_config();
    scores(ab, dp, packed, 0, round_up(n, 32), out, ldo);
    _tile_release();
}

AVX512_TARGET void dato_exp2_rows(float *p, long rows, long n, long ld, long causal_start, float *inv) {
    for (long i = 0; i < rows; i++) {
        float *row = p + i * ld;
        long valid = causal_start >= 0 && causal_start + i + 1 < n ? causal_start + i + 1 : n;
        __m512 m = _mm512_set1_ps(row_max(row, valid)), sum = _mm512_setzero_ps();
        for (long j = 0; j < n; j += 16) {
            __m512 e = numerators(row + j, tail_mask(valid - j), _mm512_set1_ps(1.0f), m, 1);
            sum = _mm512_add_ps(sum, e);
            _mm512_mask_storeu_ps(row + j, tail_mask(n - j), e);
        }
        inv[i] = 1.0f / _mm512_reduce_add_ps(sum);
    }
}

#else

int dato_amx_available(void) { return 0; }
long dato_amx_similarity_scratch_size(long k) { return 0; }
void dato_amx_similarities(const float *a, long lda, long rows, const unsigned short *packed, long n, long k,
                           float *out, long ldo, void *scratch) {
    abort();   // never called: dato_amx_available() is 0
}
int dato_avx512_available(void) { return 0; }

void dato_exp2_rows(float *p, long rows, long n, long ld, long causal_start, float *inv) {
    abort();   // never called: dato_avx512_available() is 0
}

void dato_amx_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                              const unsigned short *keys, const unsigned short *values, long nk, long dk, long dv,
                              float scale, void *out, long ldo, int out_bf16, float *prob_mean, float prob_weight,
                              void *scratch) {
    abort();   // never called: dato_amx_available() is 0
}

#endif
