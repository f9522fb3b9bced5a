// Winograd F(2x2, 3x3) convolutions in bf16; see dato_bf16_winograd.h.
//
// With d a 4x4 input patch (tile (ty, tx) of an image reads rows 2 ty - 1 ... 2 ty + 2 and the same columns,
// zeros outside the image) and g a 3x3 filter, the 2x2 output pixels are Y = A^T [(G g G^T) . (B^T d B)] A, where
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Summed over input channels, the element-wise product becomes, for each of the 16 transformed positions t, a
// matrix product M_t [tiles x cout] = V_t [tiles x cin] U_t [cin x cout]: 4 multiplies per output pixel and pair
// of channels instead of the direct algorithm's 9.
// Layouts. v[t][tile][cinp] (bf16; cinp = cin rounded up to 32, zeros past cin; `rows` tiles, a multiple of 8,
// zeros past the last tile). The weights come in panels of 32 output channels: packed[t][panel][pair][32][2],
// holding U_t's rows 2 pair and 2 pair + 1 side by side per column (the order vdpbf16ps multiplies in). A register
// tile is 8 tiles x 32 output channels (16 accumulators) over all input-channel pairs. A work item is a block of
// up to 128 tiles (fewer above 1280 input channels, so that one position's rows of the block, 320 KiB, and a
// weight panel stay in L2) by a group of panels: for each panel, the 16 products of the block into an fp32
// scratch [16][block][32] (64 KiB per 32 tiles), then its output transform. Each panel of U_t is read once per
// block; blocks are split into groups of panels until there are 8 work items for the two workers to share.
#include "dato_bf16_winograd.h"
#include "amx_common.h"
#include <stdlib.h>

enum {
    ROWS = 8,          // tiles per register tile
    PANEL = 32,        // output channels per panel
    MAX_BLOCK = 128,   // tiles per work item
    V_BYTES = 327680,  // bytes of one transformed position's rows of a block (with a weight panel, in L2)
    MIN_ITEMS = 8,     // work items wanted for two workers to finish together
};

typedef struct { long th, tw, tiles, rows, cinp, pairs, panels, block, blocks, per_group, groups; } plan;

static long min_l(long a, long b) { return a < b ? a : b; }
static long ceil_div(long a, long b) { return (a + b - 1) / b; }

static plan plan_of(long n, long h, long w, long cin, long cout) {
    plan p;
    p.th = (h + 1) / 2; p.tw = (w + 1) / 2;
    p.tiles = n * p.th * p.tw;
    p.rows = round_up(p.tiles, ROWS);
    p.cinp = round_up(cin, 32);
    p.pairs = p.cinp / 2;
    p.panels = ceil_div(cout, PANEL);
    long most = V_BYTES / (2 * p.cinp) / ROWS * ROWS;
    most = most > MAX_BLOCK ? MAX_BLOCK : most < 4 * ROWS ? 4 * ROWS : most;
    long blocks = ceil_div(p.rows, most);
    p.block = round_up(ceil_div(p.rows, blocks), ROWS);
    p.blocks = ceil_div(p.rows, p.block);
    long groups = p.blocks >= MIN_ITEMS ? 1 : min_l(p.panels, ceil_div(MIN_ITEMS, p.blocks));
    p.per_group = ceil_div(p.panels, groups);
    p.groups = ceil_div(p.panels, p.per_group);
    return p;
}

static float from_bf16(unsigned short b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

long dato_wino_panels(long cout) { return ceil_div(cout, PANEL); }

long dato_wino_weights_size(long cin, long cout) { return 16 * dato_wino_panels(cout) * round_up(cin, 32) * PANEL; }

long dato_wino_tile_rows(long n, long h, long w) { return round_up(n * ((h + 1) / 2) * ((w + 1) / 2), ROWS); }

long dato_wino_input_size(long n, long h, long w, long cin) { return 16 * dato_wino_tile_rows(n, h, w) * round_up(cin, 32); }

long dato_wino_items(long n, long h, long w, long cin, long cout) {
    plan p = plan_of(n, h, w, cin, cout);
    return p.blocks * p.groups;
}

long dato_wino_scratch_size(long n, long h, long w, long cin, long cout) {
    plan p = plan_of(n, h, w, cin, cout);
    return round_up(16 * p.block * PANEL * 4, 64);
}

// U = G g G^T for one 3x3 filter g (row-major), in double.
static void filter_transform(const float *g, double u[16]) {
    double t[4][3];
    for (int j = 0; j < 3; j++) {
        double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
        t[0][j] = g0;
        t[1][j] = 0.5 * (g0 + g1 + g2);
        t[2][j] = 0.5 * (g0 - g1 + g2);
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = t[i][0];
        u[i * 4 + 1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
        u[i * 4 + 2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
        u[i * 4 + 3] = t[i][2];
    }
}

void dato_wino_pack_weights(const float *w, long cin, long cout, long panel_begin, long panel_end,
                            unsigned short *packed) {
    long cinp = round_up(cin, 32), pairs = cinp / 2, panels = dato_wino_panels(cout);
    for (long panel = panel_begin; panel < panel_end; panel++)
        for (long col = 0; col < PANEL; col++)
            for (long ic = 0; ic < cinp; ic++) {
                long o = panel * PANEL + col;
                double u[16] = {0};
                if (o < cout && ic < cin) filter_transform(w + (o * cin + ic) * 9, u);
                for (int t = 0; t < 16; t++)
                    packed[((t * panels + panel) * pairs + ic / 2) * 64 + col * 2 + ic % 2] = to_bf16((float)u[t]);
            }
}

// The row and column of tile `tile`'s patch origin (its top-left input pixel, possibly -1) and its image.
static void tile_origin(const plan *p, long tile, long *img, long *y0, long *x0) {
    long per_image = p->th * p->tw, r = tile % per_image;
    *img = tile / per_image;
    *y0 = 2 * (r / p->tw) - 1;
    *x0 = 2 * (r % p->tw) - 1;
}

// V = B^T d B on 16 values (row-major 4x4), in place. The input pixels are bf16 values (an fp32 input is rounded
// first, as the direct bf16 kernels round it); the transform adds them in fp32 and rounds V to bf16.
static void input_transform_scalar(float d[16]) {
    float t[16];
    for (int j = 0; j < 4; j++) {
        t[0 * 4 + j] = d[0 * 4 + j] - d[2 * 4 + j];
        t[1 * 4 + j] = d[1 * 4 + j] + d[2 * 4 + j];
        t[2 * 4 + j] = d[2 * 4 + j] - d[1 * 4 + j];
        t[3 * 4 + j] = d[1 * 4 + j] - d[3 * 4 + j];
    }
    for (int i = 0; i < 4; i++) {
        d[i * 4 + 0] = t[i * 4 + 0] - t[i * 4 + 2];
        d[i * 4 + 1] = t[i * 4 + 1] + t[i * 4 + 2];
        d[i * 4 + 2] = t[i * 4 + 2] - t[i * 4 + 1];
        d[i * 4 + 3] = t[i * 4 + 1] - t[i * 4 + 3];
    }
}

static void transform_tile_scalar(const plan *p, const void *x, int x_bf16, long h, long w, long cin, long tile,
                                  unsigned short *v) {
    long img, y0, x0;
    tile_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c++) {
        float d[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                long y = y0 + i, xx = x0 + j, at = ((img * h + y) * w + xx) * cin + c;
                int inside = tile < p->tiles && c < cin && y >= 0 && y < h && xx >= 0 && xx < w;
                d[i * 4 + j] = !inside ? 0.0f : x_bf16 ? from_bf16(((const unsigned short *)x)[at])
                                                       : from_bf16(to_bf16(((const float *)x)[at]));
            }
        input_transform_scalar(d);
        for (int t = 0; t < 16; t++) v[(t * p->rows + tile) * p->cinp + c] = to_bf16(d[t]);
    }
}

// M[r][col] = sum over pairs of V rows r0 + r (stride cinp) times the panel's columns, for ROWS rows.
static void tile_product_scalar(const unsigned short *a, long lda, long pairs, const unsigned short *b, float *m) {
    for (int r = 0; r < ROWS; r++)
        for (int col = 0; col < PANEL; col++) {
            float acc = 0;
            for (long k = 0; k < pairs; k++) {
                const unsigned short *bk = b + k * 64 + col * 2, *ak = a + r * lda + 2 * k;
                acc += from_bf16(ak[0]) * from_bf16(bk[0]) + from_bf16(ak[1]) * from_bf16(bk[1]);
            }
            m[r * PANEL + col] = acc;
        }
}

// Y = A^T M A for one tile and channel (m: 16 values, stride `ms`), into y[4] (row-major 2x2).
static void output_transform_scalar(const float *m, long ms, float y[4]) {
    float t[2][4];
    for (int j = 0; j < 4; j++) {
        t[0][j] = m[(0 * 4 + j) * ms] + m[(1 * 4 + j) * ms] + m[(2 * 4 + j) * ms];
        t[1][j] = m[(1 * 4 + j) * ms] - m[(2 * 4 + j) * ms] - m[(3 * 4 + j) * ms];
    }
    for (int i = 0; i < 2; i++) {
        y[i * 2 + 0] = t[i][0] + t[i][1] + t[i][2];
        y[i * 2 + 1] = t[i][1] - t[i][2] - t[i][3];
    }
}

// Output transform of tiles [r0, r1) (at rows 0 ... of the scratch `m`, [16][block][32]) for one panel.
static void write_panel_scalar(const plan *p, const float *m, long r0, long r1, long h, long w, long cout,
                               long panel, const float *bias, float *out, int accumulate) {
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        tile_origin(p, tile, &img, &y0, &x0);
        for (long col = 0; col < PANEL && panel * PANEL + col < cout; col++) {
            long c = panel * PANEL + col;
            float y[4];
            output_transform_scalar(m + (tile - r0) * PANEL + col, p->block * PANEL, y);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    long oy = y0 + 1 + i, ox = x0 + 1 + j;
                    if (oy >= h || ox >= w) continue;
                    float *dst = out + ((img * h + oy) * w + ox) * cout + c;
                    float value = y[i * 2 + j] + (bias ? bias[c] : 0.0f);
                    *dst = accumulate ? *dst + value : value;
                }
        }
    }
}

#ifdef DATO_HAVE_AMX_BUILD

static inline __mmask16 lanes16(long n) {
    return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

// 16 channels from `c` of pixel (y, x) of image `img` as floats (rounded to bf16 first, so that an fp32 input gives
// what its bf16 copy gives); zeros outside the image or past cin.
BF16_TARGET static inline __m512 pixel16(const void *x, int x_bf16, long img, long y, long xx, long h, long w,
                                         long cin, long c) {
    if (y < 0 || y >= h || xx < 0 || xx >= w) return _mm512_setzero_ps();
    __mmask16 k = lanes16(cin - c);
    long at = ((img * h + y) * w + xx) * cin + c;
    __m256i b = x_bf16 ? _mm256_maskz_loadu_epi16(k, (const unsigned short *)x + at)
                       : (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, (const float *)x + at));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

BF16_TARGET static void transform_tile_avx(const plan *p, const void *x, int x_bf16, long h, long w, long cin,
                                           long tile, unsigned short *v) {
    long img, y0, x0;
    tile_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c += 16) {
        __m512 d[4][4], t[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = tile < p->tiles ? pixel16(x, x_bf16, img, y0 + i, x0 + j, h, w, cin, c) : _mm512_setzero_ps();
        for (int j = 0; j < 4; j++) {
            t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
            t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
            t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
            t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
        }
        for (int i = 0; i < 4; i++) {
            __m512 r[4] = {_mm512_sub_ps(t[i][0], t[i][2]), _mm512_add_ps(t[i][1], t[i][2]),
                           _mm512_sub_ps(t[i][2], t[i][1]), _mm512_sub_ps(t[i][1], t[i][3])};
            for (int j = 0; j < 4; j++)
                _mm256_storeu_si256((__m256i *)(v + ((i * 4 + j) * p->rows + tile) * p->cinp + c),
                                    (__m256i)_mm512_cvtneps_pbh(r[j]));
        }
    }
}

// A row's broadcast pair of bf16 values as a dot-product operand.
BF16_TARGET static inline __m512bh pair_of(const unsigned short *a) {
    uint32_t bits;
    memcpy(&bits, a, 4);
    return (__m512bh)_mm512_set1_epi32((int)bits);
}

// tile_product_scalar on vdpbf16ps: 8 rows x 32 columns in 16 accumulators.
BF16_TARGET static void tile_product_avx(const unsigned short *a, long lda, long pairs, const unsigned short *b,
                                         float *m) {
    __m512 acc[ROWS][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long k = 0; k < pairs; k++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + k * 64), b1 = (__m512bh)_mm512_loadu_si512(b + k * 64 + 32);
        for (int r = 0; r < ROWS; r++) {
            __m512bh av = pair_of(a + r * lda + 2 * k);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm512_storeu_ps(m + r * PANEL, acc[r][0]);
        _mm512_storeu_ps(m + r * PANEL + 16, acc[r][1]);
    }
}

BF16_TARGET static void write_panel_avx(const plan *p, const float *m, long r0, long r1, long h, long w, long cout,
                                        long panel, const float *bias, float *out, int accumulate) {
    long ms = p->block * PANEL;
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        tile_origin(p, tile, &img, &y0, &x0);
        for (long half = 0; half < 2; half++) {
            long c = panel * PANEL + half * 16;
            __mmask16 k = lanes16(cout - c);
            if (!k) break;
            const float *mt = m + (tile - r0) * PANEL + half * 16;
            __m512 t[2][4];
            for (int j = 0; j < 4; j++) {
                __m512 m0 = _mm512_loadu_ps(mt + (0 * 4 + j) * ms), m1 = _mm512_loadu_ps(mt + (1 * 4 + j) * ms);
                __m512 m2 = _mm512_loadu_ps(mt + (2 * 4 + j) * ms), m3 = _mm512_loadu_ps(mt + (3 * 4 + j) * ms);
                t[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                t[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            __m512 b = bias ? _mm512_maskz_loadu_ps(k, bias + c) : _mm512_setzero_ps();
            for (int i = 0; i < 2; i++) {
                long oy = y0 + 1 + i;
                if (oy >= h) break;
                __m512 y[2] = {_mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2]),
                               _mm512_sub_ps(_mm512_sub_ps(t[i][1], t[i][2]), t[i][3])};
                for (int j = 0; j < 2; j++) {
                    long ox = x0 + 1 + j;
                    if (ox >= w) break;
                    float *dst = out + ((img * h + oy) * w + ox) * cout + c;
                    __m512 value = _mm512_add_ps(y[j], b);
                    if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(k, dst));
                    _mm512_mask_storeu_ps(dst, k, value);
                }
            }
        }
    }
}

#define HAVE_AVX_PATH 1
#else
#define HAVE_AVX_PATH 0
#endif

void dato_wino_transform_input(const void *x, int x_bf16, long n, long h, long w, long cin, long tile_begin,
                               long tile_end, unsigned short *v, int avx) {
    plan p = plan_of(n, h, w, cin, PANEL);
    for (long tile = tile_begin; tile < tile_end; tile++) {
#if HAVE_AVX_PATH
        if (avx) { transform_tile_avx(&p, x, x_bf16, h, w, cin, tile, v); continue; }
#endif
        transform_tile_scalar(&p, x, x_bf16, h, w, cin, tile, v);
    }
}

void dato_wino_run(const unsigned short *v, long n, long h, long w, long cin, const unsigned short *packed,
                   long cout, const float *bias, float *out, int accumulate, long item, void *scratch, int avx) {
    plan p = plan_of(n, h, w, cin, cout);
    long block = item / p.groups, group = item % p.groups;
    long r0 = block * p.block, r1 = min_l(r0 + p.block, p.rows);
    long first = group * p.per_group, last = min_l(first + p.per_group, p.panels);
    float *m = scratch;
    for (long panel = first; panel < last; panel++) {
        for (long t = 0; t < 16; t++) {
            const unsigned short *b = packed + (t * p.panels + panel) * p.pairs * 64;
            for (long r = r0; r < r1; r += ROWS) {
                const unsigned short *a = v + (t * p.rows + r) * p.cinp;
                float *mt = m + (t * p.block + (r - r0)) * PANEL;
#if HAVE_AVX_PATH
                if (avx) { tile_product_avx(a, p.cinp, p.pairs, b, mt); continue; }
#endif
                tile_product_scalar(a, p.cinp, p.pairs, b, mt);
            }
        }
#if HAVE_AVX_PATH
        if (avx) { write_panel_avx(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate); continue; }
#endif
        write_panel_scalar(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate);
    }
}
