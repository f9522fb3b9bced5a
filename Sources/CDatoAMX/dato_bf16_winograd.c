// Winograd F(2x2, 3x3) convolutions in bf16; see dato_bf16_winograd.h, and winograd_2x2.h for the algorithm, the
// transforms and the work split this kernel shares with the fp32 one.
// Layouts. v[t][tile][cinp] (bf16; cinp = cin rounded up to 32). The weights come in panels of 32 output channels:
// packed[t][panel][pair][32][2], holding U_t's rows 2 pair and 2 pair + 1 side by side per column (the order
// vdpbf16ps multiplies in). A register tile is 8 tiles x 32 output channels (16 accumulators) over all
// input-channel pairs; each panel of U_t is read once per block of tiles.
#include "dato_bf16_winograd.h"
#include "winograd_2x2.h"
#include <stdlib.h>

enum { ROWS = WINO_ROWS, PANEL = WINO_PANEL };

// Input channels padded to 32 (16 pairs a vector); transformed values of 2 bytes.
static wino_plan plan_of(long n, long h, long w, long cin, long cout) {
    return wino_plan_of(n, h, w, cin, cout, 32, 2);
}

static float from_bf16(unsigned short b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

long dato_wino_panels(long cout) { return wino_div_up(cout, PANEL); }

long dato_wino_weights_size(long cin, long cout) { return 16 * dato_wino_panels(cout) * round_up(cin, 32) * PANEL; }

long dato_wino_tile_rows(long n, long h, long w) { return wino_tile_rows(n, h, w); }

long dato_wino_input_size(long n, long h, long w, long cin) { return 16 * wino_tile_rows(n, h, w) * round_up(cin, 32); }

long dato_wino_items(long n, long h, long w, long cin, long cout) {
    return wino_items(n, h, w, cin, cout, 32, 2);
}

long dato_wino_scratch_size(long n, long h, long w, long cin, long cout) {
    return wino_scratch_bytes(n, h, w, cin, cout, 32, 2);
}

void dato_wino_pack_weights(const float *w, long cin, long cout, long panel_begin, long panel_end,
                            unsigned short *packed) {
    long cinp = round_up(cin, 32), pairs = cinp / 2, panels = dato_wino_panels(cout);
    for (long panel = panel_begin; panel < panel_end; panel++)
        for (long col = 0; col < PANEL; col++)
            for (long ic = 0; ic < cinp; ic++) {
                double u[16];
                wino_padded_filter(w, cin, cout, panel * PANEL + col, ic, u);
                for (int t = 0; t < 16; t++)
                    packed[((t * panels + panel) * pairs + ic / 2) * 64 + col * 2 + ic % 2] = to_bf16((float)u[t]);
            }
}

// The portable path's input pixels are bf16 values (an fp32 input is rounded first, as the direct bf16 kernels
// round it); the patch transform adds them in fp32 and rounds V to bf16.
static float load_bf16(const void *x, long at) { return from_bf16(((const unsigned short *)x)[at]); }
static float load_fp32_as_bf16(const void *x, long at) { return from_bf16(to_bf16(((const float *)x)[at])); }
static void store_bf16(void *v, long at, float value) { ((unsigned short *)v)[at] = to_bf16(value); }

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

#ifdef DATO_HAVE_AMX_BUILD

// 16 channels from `c` of pixel (y, x) of image `img` as floats (rounded to bf16 first, so that an fp32 input gives
// what its bf16 copy gives); zeros outside the image or past cin.
BF16_TARGET static inline __m512 pixel16(const void *x, int x_bf16, long img, long y, long xx, long h, long w,
                                         long cin, long c) {
    if (y < 0 || y >= h || xx < 0 || xx >= w) return _mm512_setzero_ps();
    __mmask16 k = wino_lanes(cin - c);
    long at = ((img * h + y) * w + xx) * cin + c;
    __m256i b = x_bf16 ? _mm256_maskz_loadu_epi16(k, (const unsigned short *)x + at)
                       : (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, (const float *)x + at));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

BF16_TARGET static void transform_tile_avx(const wino_plan *p, const void *x, int x_bf16, long h, long w, long cin,
                                           long tile, unsigned short *v) {
    long img, y0, x0;
    wino_patch_origin(p, tile, &img, &y0, &x0);
    for (long c = 0; c < p->cinp; c += 16) {
        __m512 d[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = tile < p->tiles ? pixel16(x, x_bf16, img, y0 + i, x0 + j, h, w, cin, c) : _mm512_setzero_ps();
        wino_transform_patch16(d);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                _mm256_storeu_si256((__m256i *)(v + ((i * 4 + j) * p->rows + tile) * p->cinp + c),
                                    (__m256i)_mm512_cvtneps_pbh(d[i][j]));
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
    wino_store_tile(acc, m);
}

#define HAVE_AVX_PATH 1
#else
#define HAVE_AVX_PATH 0
#endif

void dato_wino_transform_input(const void *x, int x_bf16, long n, long h, long w, long cin, long tile_begin,
                               long tile_end, unsigned short *v, int avx) {
    wino_plan p = plan_of(n, h, w, cin, PANEL);
    for (long tile = tile_begin; tile < tile_end; tile++) {
#if HAVE_AVX_PATH
        if (avx) { transform_tile_avx(&p, x, x_bf16, h, w, cin, tile, v); continue; }
#endif
        wino_transform_tile_portable(&p, x, x_bf16 ? load_bf16 : load_fp32_as_bf16, h, w, cin, tile, v, store_bf16);
    }
}

void dato_wino_run(const unsigned short *v, long n, long h, long w, long cin, const unsigned short *packed,
                   long cout, const float *bias, float *out, int accumulate, long item, void *scratch, int avx) {
    wino_plan p = plan_of(n, h, w, cin, cout);
    long r0, r1, first, last;
    wino_item_range(&p, item, &r0, &r1, &first, &last);
    long pairs = p.cinp / 2;
    float *m = scratch;
    for (long panel = first; panel < last; panel++) {
        for (long t = 0; t < 16; t++) {
            const unsigned short *b = packed + (t * p.panels + panel) * pairs * 64;
            for (long r = r0; r < r1; r += ROWS) {
                const unsigned short *a = v + (t * p.rows + r) * p.cinp;
                float *mt = m + (t * p.block + (r - r0)) * PANEL;
#if HAVE_AVX_PATH
                if (avx) { tile_product_avx(a, p.cinp, pairs, b, mt); continue; }
#endif
                tile_product_scalar(a, p.cinp, pairs, b, mt);
            }
        }
#if HAVE_AVX_PATH
        if (avx) { wino_store_panel_avx(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate); continue; }
#endif
        wino_store_panel_portable(&p, m, r0, r1, h, w, cout, panel, bias, out, accumulate);
    }
}
