// Winograd F(2x2, 3x3) convolutions (3x3 kernel, stride 1, padding 1) in fp32, for NHWC images of any channel
// counts. Each 4x4 input patch (tiles at stride 2) is transformed to V = B^T d B; the filters were transformed
// once to U = G g G^T (computed in fp64, stored as fp32); 16 matrix products [tiles x cin] x [cin x cout], one per
// transformed position, run on AVX-512 fused multiply-adds (or, with `avx` 0, portable C computing the same sums);
// the output transform A^T M A adds the bias and writes or accumulates 2x2 output pixels. Single-threaded
// functions over ranges of work; the caller spreads the ranges over its workers. Pass `avx` 1 only after
// dato_avx512_available() returned 1.
#ifndef DATO_FP32_WINOGRAD_H
#define DATO_FP32_WINOGRAD_H

#ifdef __cplusplus
extern "C" {
#endif

/// Floats of the transformed, packed weights of a 3x3 convolution from `cin` to `cout` channels.
long dato_wino32_weights_size(long cin, long cout);

/// Output-channel panels (of 32 channels) of a convolution to `cout` channels.
long dato_wino32_panels(long cout);

/// Transforms and packs panels [panel_begin, panel_end) of `w` (PyTorch's [cout][cin][3][3]) into `packed`.
void dato_wino32_pack_weights(const float *w, long cin, long cout, long panel_begin, long panel_end, float *packed);

/// Tiles (of 2x2 output pixels) of n images of h x w pixels, rounded up to a multiple of 8: the rows of the
/// transformed input.
long dato_wino32_tile_rows(long n, long h, long w);

/// Floats of the transformed input of n images of h x w pixels with cin channels.
long dato_wino32_input_size(long n, long h, long w, long cin);

/// Transforms the input patches of tiles [tile_begin, tile_end) (of dato_wino32_tile_rows) of `x` (NHWC) into
/// `v`; rows past the last tile are zeroed.
void dato_wino32_transform_input(const float *x, long n, long h, long w, long cin, long tile_begin, long tile_end,
                                 float *v, int avx);

/// The number of work items of one convolution (each a block of tiles by a group of output panels).
long dato_wino32_items(long n, long h, long w, long cin, long cout);

/// Bytes of scratch (64-byte aligned) one worker needs for dato_wino32_run.
long dato_wino32_scratch_size(long n, long h, long w, long cin, long cout);

/// Runs work item `item`: the products of the transformed input `v` with the packed weights and the output
/// transform, writing (or, with `accumulate`, adding to) its part of `out` (NHWC, n x h x w x cout floats),
/// with `bias` (cout floats, or null).
void dato_wino32_run(const float *v, long n, long h, long w, long cin, const float *packed, long cout,
                     const float *bias, float *out, int accumulate, long item, void *scratch, int avx);

#ifdef __cplusplus
}
#endif
#endif
