// 3x3 and 1x1 convolutions on AMX tiles; see dato_amx_conv.h.
//
// Layouts. The input is copied into a zero-padded bf16 image [n][h + k - 1][w + k - 1][c] (plus slack) for a
// k x k kernel. Output pixel (y, x) is computed at padded position r = y wp + x of its image (wp = w + k - 1):
// tap (dy, dx) of its window is padded position r + dy wp + dx. So 16 consecutive positions, one A tile, read
// 16 consecutive input positions for every tap: one tile load with the row stride c, no im2col copy. For 3x3,
// positions with x >= w (two per image row) are computed and dropped: 2 / (w + 2) more work (20% at 8x8, 11%
// at 16x16, 3% at 64x64).
// The inner dimension runs over (tap, input channel); weights are packed per block of 16 output channels as
// a run of B tiles along k, each 16 rows of k-pairs side by side (VNNI order) for the 16 channels.
// Work: two A tiles (32 positions) by two B tiles (32 output channels) in four accumulator tiles; an item is
// a run of such row pairs (sized so their inputs stay in L2) for one block of 32 output channels.
#include "dato_amx_conv.h"
#include "amx_common.h"
#include "dato_kernels.h"
#include <stdlib.h>

long dato_amx_conv_weights_size(long k, long cout, long cin) { return cout * cin * k * k; }

long dato_amx_conv_input_size(long k, long n, long h, long w, long c) {
    return (n * (h + k - 1) * (w + k - 1) + 17) * c;
}

// Row pairs per work item: about 768 KiB of input rows.
static long pairs_per_item(long cin) { long r = 12288 / cin; return r < 1 ? 1 : r; }

typedef struct { long wp, valid, tiles_per_image, tiles, pairs; } geometry;

static geometry geometry_of(long k, long n, long h, long w) {
    geometry g;
    g.wp = w + k - 1;
    g.valid = h * g.wp;
    g.tiles_per_image = (g.valid + 15) / 16;
    g.tiles = n * g.tiles_per_image;
    g.pairs = (g.tiles + 1) / 2;
    return g;
}

long dato_amx_conv_items(long k, long n, long h, long w, long cin, long cout) {
    geometry g = geometry_of(k, n, h, w);
    return (g.pairs + pairs_per_item(cin) - 1) / pairs_per_item(cin) * (cout / 32);
}

void dato_amx_conv_pack_weights(const float *w, long k, long cout, long cin, long block_begin, long block_end,
                                unsigned short *packed) {
    long taps = k * k, steps = taps * cin / 32;
    for (long block = block_begin; block < block_end; block++) {
        unsigned short *dst = packed + block * steps * 512;
        for (long col = 0; col < 16; col++) {
            const float *src = w + (block * 16 + col) * cin * taps;
            for (long ic = 0; ic < cin; ic++)
                for (long tap = 0; tap < taps; tap++) {
                    long i = tap * cin + ic;   // position along the inner dimension
                    dst[((i / 32 * 16 + i % 32 / 2) * 16 + col) * 2 + i % 2] = to_bf16(src[ic * taps + tap]);
                }
        }
    }
}

void dato_amx_conv_pad(const void *x, int x_bf16, long k, long n, long h, long w, long c, long row_begin,
                       long row_end, unsigned short *padded) {
    long pad = (k - 1) / 2, hp = h + k - 1, wp = w + k - 1;
    for (long row = row_begin; row < row_end; row++) {
        long b = row / hp, y = row % hp - pad;
        unsigned short *dst = padded + row * wp * c;
        if (y < 0 || y >= h) { memset(dst, 0, wp * c * 2); continue; }
        memset(dst, 0, pad * c * 2);
        memset(dst + (pad + w) * c, 0, pad * c * 2);
        long count = w * c, first = ((b * h + y) * w) * c;
        if (x_bf16) {
            memcpy(dst + pad * c, (const unsigned short *)x + first, count * 2);
        } else {
            dato_to_bf16((const float *)x + first, count, 1.0f, dst + pad * c);
        }
    }
    if (row_end == n * hp) memset(padded + row_end * wp * c, 0, 17 * c * 2);
}

#ifdef DATO_HAVE_AMX_BUILD

// Writes the valid rows of one 16-position tile's results (acc: 16 rows of 32 floats) to output channels
// channel ..< channel + 32: floats (added to the contents with `accumulate`), or with `out_bf16` bf16 values
// rounded to nearest even.
AMX_TARGET static void write_tile(const float *acc, long image, long r0, geometry g, long h, long w, long cout,
                                  long channel, const float *bias, void *out, int accumulate, int out_bf16) {
    __m512 b0 = bias ? _mm512_loadu_ps(bias + channel) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_loadu_ps(bias + channel + 16) : _mm512_setzero_ps();
    for (long i = 0; i < 16 && r0 + i < g.valid; i++) {
        long y = (r0 + i) / g.wp, x = (r0 + i) % g.wp;
        if (x >= w) continue;
        long at = ((image * h + y) * w + x) * cout + channel;
        __m512 v0 = _mm512_add_ps(_mm512_loadu_ps(acc + i * 32), b0);
        __m512 v1 = _mm512_add_ps(_mm512_loadu_ps(acc + i * 32 + 16), b1);
        if (out_bf16) {
            _mm512_storeu_si512((unsigned short *)out + at, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
            continue;
        }
        float *o = (float *)out + at;
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_loadu_ps(o));
            v1 = _mm512_add_ps(v1, _mm512_loadu_ps(o + 16));
        }
        _mm512_storeu_ps(o, v0);
        _mm512_storeu_ps(o + 16, v1);
    }
}

// Asks for the next step's tiles in L1 (single-kernel harness, runs taking turns: 3-19% faster than without
// prefetching at 8x8 to 64x64; one step ahead 1-6% faster than two, four steps ahead slower). At the end of a
// tap the A addresses run past the channels: a wasted prefetch, which never faults.
static inline void prefetch_step(const unsigned short *a0, const unsigned short *a1, long stride,
                                 const unsigned short *b0, const unsigned short *b1) {
    prefetch_rows(a0, stride, 16);
    prefetch_rows(a1, stride, 16);
    prefetch_rows(b0, 64, 16);
    prefetch_rows(b1, 64, 16);
}

// Tiles: 0-3 accumulators (row tile i, channel tile j at 2i + j), 4-5 the two A tiles, 6-7 the two B tiles.
AMX_TARGET void dato_amx_conv_run(const unsigned short *padded, long k, long n, long h, long w, long cin,
                                  const unsigned short *packed, long cout, const float *bias, void *out,
                                  int accumulate, int out_bf16, long item) {
    geometry g = geometry_of(k, n, h, w);
    long per_item = pairs_per_item(cin), channel_pairs = cout / 32;
    long first = item / channel_pairs * per_item, cp = item % channel_pairs;
    long last = first + per_item < g.pairs ? first + per_item : g.pairs;
    long taps = k * k, steps = taps * cin / 32, image_size = (h + k - 1) * g.wp, stride = cin * 2;
    const unsigned short *w0 = packed + 2 * cp * steps * 512, *w1 = w0 + steps * 512;
    float acc[2][16 * 32] __attribute__((aligned(64)));
    load_tile_config();
    for (long pair = first; pair < last; pair++) {
        long t[2] = {2 * pair, 2 * pair + 1 < g.tiles ? 2 * pair + 1 : 2 * pair};
        const unsigned short *a[2];
        for (int q = 0; q < 2; q++)
            a[q] = padded + (t[q] / g.tiles_per_image * image_size + t[q] % g.tiles_per_image * 16) * cin;
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
        const unsigned short *b0 = w0, *b1 = w1;
        for (long tap = 0; tap < taps; tap++) {
            const unsigned short *a0 = a[0] + (tap / k * g.wp + tap % k) * cin, *a1 = a[1] + (a0 - a[0]);
            for (long c = 0; c < cin; c += 32, b0 += 512, b1 += 512) {
                prefetch_step(a0 + c + 32, a1 + c + 32, stride, b0 + 512, b1 + 512);
                _tile_loadd(4, a0 + c, stride);
                _tile_loadd(6, b0, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_loadd(5, a1 + c, stride);
                _tile_dpbf16ps(2, 5, 6);
                _tile_loadd(7, b1, 64);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, acc[0], 128); _tile_stored(1, acc[0] + 16, 128);
        _tile_stored(2, acc[1], 128); _tile_stored(3, acc[1] + 16, 128);
        for (int q = 0; q < (t[1] != t[0] ? 2 : 1); q++)
            write_tile(acc[q], t[q] / g.tiles_per_image, t[q] % g.tiles_per_image * 16, g, h, w, cout, cp * 32,
                       bias, out, accumulate, out_bf16);
    }
    _tile_release();
}

#else

void dato_amx_conv_run(const unsigned short *padded, long k, long n, long h, long w, long cin,
                       const unsigned short *packed, long cout, const float *bias, void *out, int accumulate,
                       int out_bf16, long item) {
    abort();   // never called: dato_amx_available() is 0
}

#endif
