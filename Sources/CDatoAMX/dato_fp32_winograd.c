// Winograd F(2x2, 3x3) convolutions in fp32; see dato_fp32_winograd.h (and dato_bf16_winograd.c for the same
// algorithm in bf16, whose transforms and work split this file follows).
//
// Tile (ty, tx) of an image reads the 4x4 input patch d at rows 2 ty - 1 ... 2 ty + 2 and the same columns (zeros
// outside the image) and gives the 2x2 output pixels Y = A^T [(G g G^T) . (B^T d B)] A, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Summed over input channels, position t of the 16 becomes the product M_t [tiles x cout] = V_t [tiles x cin]
// U_t [cin x cout]: 4 multiplies per output pixel and channel pair instead of the direct algorithm's 9.
// Layouts. v[t][row][cinp] (cinp = cin rounded up to 16, zeros past cin; `rows` tiles, a multiple of 8, zeros
// past the last tile). Weights in panels of 32 output channels: packed[panel][t][cinp][32] (a work item reads its
// panels' weights front to back). A register tile is 8 tiles x 32 output channels (16 accumulators) over all input
// channels. A work item is a block of tiles (as many as keep one position's rows of the block within 320 KiB, at
// most 128) by a group of panels; for each panel the 16 products of the block go to an fp32 scratch
// [16][block][32], then through the output transform. Blocks are split into groups of panels until there are 8
// work items for the two workers to share.
#include "dato_fp32_winograd.h"
#include "amx_common.h"
#include <stdlib.h>

enum {
    ROWS = 8,          // tiles per register tile
    PANEL = 32,        // output channels per panel
    LANES = 16,        // floats per vector; the input channels are padded to a multiple of it
    MAX_BLOCK = 128,   // tiles per work item
    V_BYTES = 327680,  // bytes of one transformed position's rows of a block
    MIN_ITEMS = 8,     // work items wanted for two workers to finish together
};

typedef struct { long th, tw, tiles, rows, cinp, panels, block, blocks, per_group, groups; } plan;

static long min_of(long a, long b) { return a < b ? a : b; }
static long div_up(long a, long b) { return (a + b - 1) / b; }

static plan make_plan(long n, long h, long w, long cin, long cout) {
    plan p;
    p.th = (h + 1) / 2; p.tw = (w + 1) / 2;
    p.tiles = n * p.th * p.tw;
    p.rows = round_up(p.tiles, ROWS);
    p.cinp = round_up(cin, LANES);
    p.panels = div_up(cout, PANEL);
    long most = V_BYTES / (4 * p.cinp) / ROWS * ROWS;
    most = most > MAX_BLOCK ? MAX_BLOCK : most < 4 * ROWS ? 4 * ROWS : most;
    long blocks = div_up(p.rows, most);
    p.block = round_up(div_up(p.rows, blocks), ROWS);
    p.blocks = div_up(p.rows, p.block);
    long groups = p.blocks >= MIN_ITEMS ? 1 : min_of(p.panels, div_up(MIN_ITEMS, p.blocks));
    p.per_group = div_up(p.panels, groups);
    p.groups = div_up(p.panels, p.per_group);
    return p;
}

long dato_wino32_panels(long cout) { return div_up(cout, PANEL); }

long dato_wino32_weights_size(long cin, long cout) { return 16 * dato_wino32_panels(cout) * round_up(cin, LANES) * PANEL; }

long dato_wino32_tile_rows(long n, long h, long w) { return round_up(n * ((h + 1) / 2) * ((w + 1) / 2), ROWS); }

long dato_wino32_input_size(long n, long h, long w, long cin) {
    return 16 * dato_wino32_tile_rows(n, h, w) * round_up(cin, LANES);
}

long dato_wino32_items(long n, long h, long w, long cin, long cout) {
    plan p = make_plan(n, h, w, cin, cout);
    return p.blocks * p.groups;
}

long dato_wino32_scratch_size(long n, long h, long w, long cin, long cout) {
    plan p = make_plan(n, h, w, cin, cout);
    return round_up(16 * p.block * PANEL * 4, 64);
}

// U = G g G^T for one 3x3 filter g (row-major), in fp64.
static void transform_filter(const float *g, double u[16]) {
    double gg[4][3];
    for (int j = 0; j < 3; j++) {
        double top = g[j], mid = g[3 + j], bottom = g[6 + j];
        gg[0][j] = top;
        gg[1][j] = 0.5 * (top + mid + bottom);
        gg[2][j] = 0.5 * (top - mid + bottom);
        gg[3][j] = bottom;
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = gg[i][0];
        u[i * 4 + 1] = 0.5 * (gg[i][0] + gg[i][1] + gg[i][2]);
        u[i * 4 + 2] = 0.5 * (gg[i][0] - gg[i][1] + gg[i][2]);
        u[i * 4 + 3] = gg[i][2];
    }
}

void dato_wino32_pack_weights(const float *w, long cin, long cout, long panel_begin, long panel_end, float *packed) {
    long cinp = round_up(cin, LANES);
    for (long panel = panel_begin; panel < panel_end; panel++)
        for (long ic = 0; ic < cinp; ic++)
            for (long col = 0; col < PANEL; col++) {
                long o = panel * PANEL + col;
                double u[16] = {0};
                if (o < cout && ic < cin) transform_filter(w + (o * cin + ic) * 9, u);
                for (int t = 0; t < 16; t++) packed[((panel * 16 + t) * cinp + ic) * PANEL + col] = (float)u[t];
            }
}

// The image of tile `tile` and the row and column of its patch's top-left input pixel (possibly -1).
static void patch_origin(const plan *p, long tile, long *img, long *y0, long *x0) {
    long per_image = p->th * p->tw, r = tile % per_image;
    *img = tile / per_image;
    *y0 = 2 * (r / p->tw) - 1;
    *x0 = 2 * (r % p->tw) - 1;
}

// V = B^T d B on a row-major 4x4 patch, in place.
static void transform_patch(float d[16]) {
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

static void transform_tile_portable(const plan *p, const float *x, long h, long w, long cin, long tile, float *v) {
    long img, y0, x0;
    patch_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c++) {
        float d[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                long y = y0 + i, xx = x0 + j;
                int inside = tile < p->tiles && c < cin && y >= 0 && y < h && xx >= 0 && xx < w;
                d[i * 4 + j] = inside ? x[((img * h + y) * w + xx) * cin + c] : 0.0f;
            }
        transform_patch(d);
        for (int t = 0; t < 16; t++) v[(t * p->rows + tile) * p->cinp + c] = d[t];
    }
}

// m[r][col] = sum over k < cinp of a[r * lda + k] b[k][col], for ROWS rows and PANEL columns.
static void panel_product_portable(const float *a, long lda, long cinp, const float *b, float *m) {
    for (int r = 0; r < ROWS; r++)
        for (int col = 0; col < PANEL; col++) {
            float acc = 0;
            for (long k = 0; k < cinp; k++) acc += a[r * lda + k] * b[k * PANEL + col];
            m[r * PANEL + col] = acc;
        }
}

// Y = A^T M A for one tile and channel (m: the 16 values `ms` apart) into y (row-major 2x2).
static void untransform(const float *m, long ms, float y[4]) {
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

// The output transform of tiles [r0, r1) (rows 0 ... of the scratch m, [16][block][32]) for one panel.
static void store_panel_portable(const plan *p, const float *m, long r0, long r1, long h, long w, long cout,
                                 long panel, const float *bias, float *out, int accumulate) {
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        patch_origin(p, tile, &img, &y0, &x0);
        for (long col = 0; col < PANEL && panel * PANEL + col < cout; col++) {
            long c = panel * PANEL + col;
            float y[4];
            untransform(m + (tile - r0) * PANEL + col, p->block * PANEL, y);
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

static inline __mmask16 first_lanes(long n) {
    return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

// 16 channels from `c` of pixel (y, x) of image `img`; zeros outside the image or past cin.
AVX512_TARGET static inline __m512 load_pixel(const float *x, long img, long y, long xx, long h, long w, long cin,
                                              long c) {
    if (y < 0 || y >= h || xx < 0 || xx >= w) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(first_lanes(cin - c), x + ((img * h + y) * w + xx) * cin + c);
}

AVX512_TARGET static void transform_tile_avx(const plan *p, const float *x, long h, long w, long cin, long tile,
                                             float *v) {
    long img, y0, x0;
    patch_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c += LANES) {
        __m512 d[4][4], t[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = tile < p->tiles ? load_pixel(x, img, y0 + i, x0 + j, h, w, cin, c) : _mm512_setzero_ps();
        for (int j = 0; j < 4; j++) {
            t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
            t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
            t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
            t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
        }
        for (int i = 0; i < 4; i++) {
            __m512 r[4] = {_mm512_sub_ps(t[i][0], t[i][2]), _mm512_add_ps(t[i][1], t[i][2]),
                           _mm512_sub_ps(t[i][2], t[i][1]), _mm512_sub_ps(t[i][1], t[i][3])};
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(v + ((i * 4 + j) * p->rows + tile) * p->cinp + c, r[j]);
        }
    }
}

// panel_product_portable on fused multiply-adds: 8 rows x 32 columns in 16 accumulators.
AVX512_TARGET static void panel_product_avx(const float *a, long lda, long cinp, const float *b, float *m) {
    __m512 acc[ROWS][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long k = 0; k < cinp; k++) {
        __m512 b0 = _mm512_loadu_ps(b + k * PANEL), b1 = _mm512_loadu_ps(b + k * PANEL + 16);
        for (int r = 0; r < ROWS; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm512_storeu_ps(m + r * PANEL, acc[r][0]);
        _mm512_storeu_ps(m + r * PANEL + 16, acc[r][1]);
    }
}

AVX512_TARGET static void store_panel_avx(const plan *p, const float *m, long r0, long r1, long h, long w, long cout,
                                          long panel, const float *bias, float *out, int accumulate) {
    long ms = p->block * PANEL;
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        patch_origin(p, tile, &img, &y0, &x0);
        for (long half = 0; half < 2; half++) {
            long c = panel * PANEL + half * 16;
            __mmask16 k = first_lanes(cout - c);
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

#define HAVE_AVX512_PATH 1
#else
#define HAVE_AVX512_PATH 0
#endif

void dato_wino32_transform_input(const float *x, long n, long h, long w, long cin, long tile_begin, long tile_end,
                                 float *v, int avx) {
    plan p = make_plan(n, h, w, cin, PANEL);
    for (long tile = tile_begin; tile < tile_end; tile++) {
#if HAVE_AVX512_PATH
        if (avx) { transform_tile_avx(&p, x, h, w, cin, tile, v); continue; }
#endif
        transform_tile_portable(&p, x, h, w, cin, tile, v);
    }
}

void dato_wino32_run(const float *v, long n, long h, long w, long cin, const float *packed, long cout,
                     const float *bias, float *out, int accumulate, long item, void *scratch, int avx) {
    plan p = make_plan(n, h, w, cin, cout);
    long block = item / p.groups, group = item % p.groups;
    long r0 = block * p.block, r1 = min_of(r0 + p.block, p.rows);
    long first = group * p.per_group, last = min_of(first + p.per_group, p.panels);
    float *m = scratch;
    for (long panel = first; panel < last; panel++) {
        for (long t = 0; t < 16; t++) {
            const float *b = packed + (panel * 16 + t) * p.cinp * PANEL;
            for (long r = r0; r < r1; r += ROWS) {
                const float *a = v + (t * p.rows + r) * p.cinp;
                float *mt = m + (t * p.block + (r - r0)) * PANEL;
#if HAVE_AVX512_PATH
                if (avx) { panel_product_avx(a, p.cinp, p.cinp, b, mt); continue; }
#endif
                panel_product_portable(a, p.cinp, p.cinp, b, mt);
            }
        }
#if HAVE_AVX512_PATH
        if (avx) { store_panel_avx(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate); continue; }
#endif
        store_panel_portable(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate);
    }
}
