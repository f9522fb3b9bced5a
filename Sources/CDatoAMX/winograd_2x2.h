// What swift-dato's two Winograd F(2x2, 3x3) kernels (dato_bf16_winograd.c, dato_fp32_winograd.c) share: the plan
// of a convolution's work, the filter, patch and output transforms, and the output stage.
//
// Tile (ty, tx) of an image reads the 4x4 input patch d at rows 2 ty - 1 ... 2 ty + 2 and the same columns (zeros
// outside the image) and gives the 2x2 output pixels Y = A^T [(G g G^T) . (B^T d B)] A, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Summed over input channels, position t of the 16 becomes the product M_t [tiles x cout] = V_t [tiles x cin]
// U_t [cin x cout]: 4 multiplies per output pixel and channel pair instead of the direct algorithm's 9. The
// transformed input is v[t][row][cinp] (`rows` tiles, a multiple of 8, zeros past the last tile; cinp = cin
// padded with zeros). A work item is a block of tiles (as many as keep one position's rows of the block within
// 320 KiB, at most 128) by a group of 32-channel output panels; for each panel the 16 products of the block go to
// an fp32 scratch [16][block][32], then through the output transform. Blocks are split into groups of panels
// until there are 8 work items for the two workers to share.
#ifndef DATO_WINOGRAD_2X2_H
#define DATO_WINOGRAD_2X2_H

#include "amx_common.h"

enum {
    WINO_ROWS = 8,           // tiles per register tile
    WINO_PANEL = 32,         // output channels per panel
    WINO_MAX_BLOCK = 128,    // tiles per work item
    WINO_V_BYTES = 327680,   // bytes of one transformed position's rows of a block (with a weight panel, in L2)
    WINO_MIN_ITEMS = 8,      // work items wanted for two workers to finish together
};

typedef struct { long th, tw, tiles, rows, cinp, panels, block, blocks, per_group, groups; } wino_plan;

static inline long wino_min(long a, long b) { return a < b ? a : b; }
static inline long wino_div_up(long a, long b) { return (a + b - 1) / b; }

// The work of one convolution whose input channels are padded to a multiple of `cin_multiple` and whose
// transformed input values take `value_bytes` each.
static inline wino_plan wino_plan_of(long n, long h, long w, long cin, long cout, long cin_multiple, long value_bytes) {
    wino_plan p;
    p.th = (h + 1) / 2; p.tw = (w + 1) / 2;
    p.tiles = n * p.th * p.tw;
    p.rows = round_up(p.tiles, WINO_ROWS);
    p.cinp = round_up(cin, cin_multiple);
    p.panels = wino_div_up(cout, WINO_PANEL);
    long most = WINO_V_BYTES / (value_bytes * p.cinp) / WINO_ROWS * WINO_ROWS;
    most = most > WINO_MAX_BLOCK ? WINO_MAX_BLOCK : most < 4 * WINO_ROWS ? 4 * WINO_ROWS : most;
    long blocks = wino_div_up(p.rows, most);
    p.block = round_up(wino_div_up(p.rows, blocks), WINO_ROWS);
    p.blocks = wino_div_up(p.rows, p.block);
    long groups = p.blocks >= WINO_MIN_ITEMS ? 1 : wino_min(p.panels, wino_div_up(WINO_MIN_ITEMS, p.blocks));
    p.per_group = wino_div_up(p.panels, groups);
    p.groups = wino_div_up(p.panels, p.per_group);
    return p;
}

// Tiles (of 2x2 output pixels) of n images of h x w pixels, rounded up to a register tile's rows.
static inline long wino_tile_rows(long n, long h, long w) {
    return round_up(n * ((h + 1) / 2) * ((w + 1) / 2), WINO_ROWS);
}

// The work items of a convolution planned as wino_plan_of plans it.
static inline long wino_items(long n, long h, long w, long cin, long cout, long cin_multiple, long value_bytes) {
    wino_plan p = wino_plan_of(n, h, w, cin, cout, cin_multiple, value_bytes);
    return p.blocks * p.groups;
}

// Bytes of scratch one worker needs for such a convolution: the fp32 products [16][block][32] of a panel, 64-byte
// aligned.
static inline long wino_scratch_bytes(long n, long h, long w, long cin, long cout, long cin_multiple,
                                      long value_bytes) {
    wino_plan p = wino_plan_of(n, h, w, cin, cout, cin_multiple, value_bytes);
    return round_up(16 * p.block * WINO_PANEL * 4, 64);
}

// Work item `item` of plan p: tiles [*r0, *r1) by output panels [*first, *last).
static inline void wino_item_range(const wino_plan *p, long item, long *r0, long *r1, long *first, long *last) {
    long block = item / p->groups, group = item % p->groups;
    *r0 = block * p->block;
    *r1 = wino_min(*r0 + p->block, p->rows);
    *first = group * p->per_group;
    *last = wino_min(*first + p->per_group, p->panels);
}

// U = G g G^T for one 3x3 filter g (row-major), in fp64.
static inline void wino_filter_transform(const float *g, double u[16]) {
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

// U for output channel o and input channel ic of `w` ([cout][cin][3][3]); zeros for the padding channels past
// cout or cin.
static inline void wino_padded_filter(const float *w, long cin, long cout, long o, long ic, double u[16]) {
    if (o < cout && ic < cin) { wino_filter_transform(w + (o * cin + ic) * 9, u); return; }
    for (int t = 0; t < 16; t++) u[t] = 0;
}

// The image of tile `tile` and the row and column of its patch's top-left input pixel (possibly -1).
static inline void wino_patch_origin(const wino_plan *p, long tile, long *img, long *y0, long *x0) {
    long per_image = p->th * p->tw, r = tile % per_image;
    *img = tile / per_image;
    *y0 = 2 * (r / p->tw) - 1;
    *x0 = 2 * (r % p->tw) - 1;
}

// V = B^T d B on a row-major 4x4 patch, in place.
static inline void wino_transform_patch(float d[16]) {
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

// The portable input transform of one tile: for each channel (up to cinp), the 4x4 patch read through
// `load(x, index)` (index into the NHWC image; zeros outside the image, past cin and for rows past the last tile),
// transformed, and its 16 values handed to `store(v, index, value)` at v[t][tile][c].
static inline void wino_transform_tile_portable(const wino_plan *p, const void *x, float (*load)(const void *, long),
                                                long h, long w, long cin, long tile, void *v,
                                                void (*store)(void *, long, float)) {
    long img, y0, x0;
    wino_patch_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c++) {
        float d[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                long y = y0 + i, xx = x0 + j;
                int inside = tile < p->tiles && c < cin && y >= 0 && y < h && xx >= 0 && xx < w;
                d[i * 4 + j] = inside ? load(x, ((img * h + y) * w + xx) * cin + c) : 0.0f;
            }
        wino_transform_patch(d);
        for (int t = 0; t < 16; t++) store(v, (t * p->rows + tile) * p->cinp + c, d[t]);
    }
}

// Y = A^T M A for one tile and channel (m: the 16 values `ms` apart) into y (row-major 2x2).
static inline void wino_untransform(const float *m, long ms, float y[4]) {
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

// The output transform of tiles [r0, r1) (rows 0 ... of the scratch m, [16][block][32]) for one panel, adding the
// bias and writing (or, with `accumulate`, adding to) `out`.
static inline void wino_store_panel_portable(const wino_plan *p, const float *m, long r0, long r1, long h, long w,
                                             long cout, long panel, const float *bias, float *out, int accumulate) {
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        wino_patch_origin(p, tile, &img, &y0, &x0);
        for (long col = 0; col < WINO_PANEL && panel * WINO_PANEL + col < cout; col++) {
            long c = panel * WINO_PANEL + col;
            float y[4];
            wino_untransform(m + (tile - r0) * WINO_PANEL + col, p->block * WINO_PANEL, y);
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

static inline __mmask16 wino_lanes(long n) {
    return n <= 0 ? 0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

// A register tile's 8 rows x 32 columns of products into the scratch rows at m.
AVX512_TARGET static inline void wino_store_tile(__m512 acc[WINO_ROWS][2], float *m) {
    for (int r = 0; r < WINO_ROWS; r++) {
        _mm512_storeu_ps(m + r * WINO_PANEL, acc[r][0]);
        _mm512_storeu_ps(m + r * WINO_PANEL + 16, acc[r][1]);
    }
}

// wino_transform_patch on 16 channels at once, in place.
AVX512_TARGET static inline void wino_transform_patch16(__m512 d[4][4]) {
    __m512 t[4][4];
    for (int j = 0; j < 4; j++) {
        t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {
        d[i][0] = _mm512_sub_ps(t[i][0], t[i][2]);
        d[i][1] = _mm512_add_ps(t[i][1], t[i][2]);
        d[i][2] = _mm512_sub_ps(t[i][2], t[i][1]);
        d[i][3] = _mm512_sub_ps(t[i][1], t[i][3]);
    }
}

// wino_store_panel_portable on 16 channels at once.
AVX512_TARGET static inline void wino_store_panel_avx(const wino_plan *p, const float *m, long r0, long r1, long h,
                                                      long w, long cout, long panel, const float *bias, float *out,
                                                      int accumulate) {
    long ms = p->block * WINO_PANEL;
    for (long tile = r0; tile < r1 && tile < p->tiles; tile++) {
        long img, y0, x0;
        wino_patch_origin(p, tile, &img, &y0, &x0);
        for (long half = 0; half < 2; half++) {
            long c = panel * WINO_PANEL + half * 16;
            __mmask16 k = wino_lanes(cout - c);
            if (!k) break;
            const float *mt = m + (tile - r0) * WINO_PANEL + half * 16;
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

#endif
#endif
