// Winograd F(2x2, 3x3) convolutions in fp32; see dato_fp32_winograd.h, and winograd_2x2.h for the algorithm, the
// transforms and the work split this kernel shares with the bf16 one.
// Layouts: v[t][row][cinp] (cinp = cin rounded up to 16); weights in panels of 32 output channels,
// packed[panel][t][cinp][32] (a work item reads its panels' weights front to back). A register tile is 8 tiles x
// 32 output channels (16 accumulators) over all input channels.
#include "dato_fp32_winograd.h"
#include "winograd_2x2.h"
#include <stdlib.h>

enum { LANES = 16 };  // floats per vector: the input channels are padded to a multiple of it

static wino_plan plan_of(long n, long h, long w, long cin, long cout) {
    return wino_plan_of(n, h, w, cin, cout, LANES, 4);
}

long dato_wino32_panels(long cout) { return wino_div_up(cout, WINO_PANEL); }

long dato_wino32_weights_size(long cin, long cout) {
    return 16 * dato_wino32_panels(cout) * round_up(cin, LANES) * WINO_PANEL;
}

long dato_wino32_tile_rows(long n, long h, long w) { return wino_tile_rows(n, h, w); }

long dato_wino32_input_size(long n, long h, long w, long cin) {
    return 16 * wino_tile_rows(n, h, w) * round_up(cin, LANES);
}

long dato_wino32_items(long n, long h, long w, long cin, long cout) {
    return wino_items(n, h, w, cin, cout, LANES, 4);
}

long dato_wino32_scratch_size(long n, long h, long w, long cin, long cout) {
    return wino_scratch_bytes(n, h, w, cin, cout, LANES, 4);
}

void dato_wino32_pack_weights(const float *w, long cin, long cout, long panel_begin, long panel_end, float *packed) {
    long cinp = round_up(cin, LANES);
    for (long panel = panel_begin; panel < panel_end; panel++)
        for (long ic = 0; ic < cinp; ic++)
            for (long col = 0; col < WINO_PANEL; col++) {
                double u[16];
                wino_padded_filter(w, cin, cout, panel * WINO_PANEL + col, ic, u);
                for (int t = 0; t < 16; t++) packed[((panel * 16 + t) * cinp + ic) * WINO_PANEL + col] = (float)u[t];
            }
}

static float load_fp32(const void *x, long at) { return ((const float *)x)[at]; }
static void store_fp32(void *v, long at, float value) { ((float *)v)[at] = value; }

// m[r][col] = sum over k < cinp of a[r * lda + k] b[k][col], for 8 rows and 32 columns.
static void panel_product_portable(const float *a, long lda, long cinp, const float *b, float *m) {
    for (int r = 0; r < WINO_ROWS; r++)
        for (int col = 0; col < WINO_PANEL; col++) {
            float acc = 0;
            for (long k = 0; k < cinp; k++) acc += a[r * lda + k] * b[k * WINO_PANEL + col];
            m[r * WINO_PANEL + col] = acc;
        }
}

#ifdef DATO_HAVE_AMX_BUILD

// 16 channels from `c` of pixel (y, x) of image `img`; zeros outside the image or past cin.
AVX512_TARGET static inline __m512 load_pixel(const float *x, long img, long y, long xx, long h, long w, long cin,
                                              long c) {
    if (y < 0 || y >= h || xx < 0 || xx >= w) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(wino_lanes(cin - c), x + ((img * h + y) * w + xx) * cin + c);
}

AVX512_TARGET static void transform_tile_avx(const wino_plan *p, const float *x, long h, long w, long cin, long tile,
                                             float *v) {
    long img, y0, x0;
    wino_patch_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c += LANES) {
        __m512 d[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = tile < p->tiles ? load_pixel(x, img, y0 + i, x0 + j, h, w, cin, c) : _mm512_setzero_ps();
        wino_transform_patch16(d);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(v + ((i * 4 + j) * p->rows + tile) * p->cinp + c, d[i][j]);
    }
}

// panel_product_portable on fused multiply-adds: 8 rows x 32 columns in 16 accumulators.
AVX512_TARGET static void panel_product_avx(const float *a, long lda, long cinp, const float *b, float *m) {
    __m512 acc[WINO_ROWS][2];
    for (int r = 0; r < WINO_ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long k = 0; k < cinp; k++) {
        __m512 b0 = _mm512_loadu_ps(b + k * WINO_PANEL), b1 = _mm512_loadu_ps(b + k * WINO_PANEL + 16);
        for (int r = 0; r < WINO_ROWS; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    wino_store_tile(acc, m);
}

#define HAVE_AVX512_PATH 1
#else
#define HAVE_AVX512_PATH 0
#endif

void dato_wino32_transform_input(const float *x, long n, long h, long w, long cin, long tile_begin, long tile_end,
                                 float *v, int avx) {
    wino_plan p = plan_of(n, h, w, cin, WINO_PANEL);
    for (long tile = tile_begin; tile < tile_end; tile++) {
#if HAVE_AVX512_PATH
        if (avx) { transform_tile_avx(&p, x, h, w, cin, tile, v); continue; }
#endif
        wino_transform_tile_portable(&p, x, load_fp32, h, w, cin, tile, v, store_fp32);
    }
}

void dato_wino32_run(const float *v, long n, long h, long w, long cin, const float *packed, long cout,
                     const float *bias, float *out, int accumulate, long item, void *scratch, int avx) {
    wino_plan p = plan_of(n, h, w, cin, cout);
    long r0, r1, first, last;
    wino_item_range(&p, item, &r0, &r1, &first, &last);
    float *m = scratch;
    for (long panel = first; panel < last; panel++) {
        for (long t = 0; t < 16; t++) {
            const float *b = packed + (panel * 16 + t) * p.cinp * WINO_PANEL;
            for (long r = r0; r < r1; r += WINO_ROWS) {
                const float *a = v + (t * p.rows + r) * p.cinp;
                float *mt = m + (t * p.block + (r - r0)) * WINO_PANEL;
#if HAVE_AVX512_PATH
                if (avx) { panel_product_avx(a, p.cinp, p.cinp, b, mt); continue; }
#endif
                panel_product_portable(a, p.cinp, p.cinp, b, mt);
            }
        }
#if HAVE_AVX512_PATH
        if (avx) { wino_store_panel_avx(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate); continue; }
#endif
        wino_store_panel_portable(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate);
    }
}
