// 3x3 (stride 1, padding 1) and 1x1 (stride 1, no padding) convolutions on Intel AMX bf16 tiles with fp32
// accumulation, for NHWC images whose channel counts are multiples of 32; k is the kernel side (3 or 1).
// Single-threaded functions over ranges of work; the caller spreads the ranges over its workers. Only call
// them after dato_amx_available() returned 1.
#ifndef DATO_AMX_CONV_H
#define DATO_AMX_CONV_H

#ifdef __cplusplus
extern "C" {
#endif

/// Elements (uint16) of the packed weights of a k x k convolution from `cin` to `cout` channels.
long dato_amx_conv_weights_size(long k, long cout, long cin);

/// Packs output channels [block_begin, block_end) x 16 of `w` (fp32, PyTorch's [cout][cin][k][k]) into
/// `packed` (rounded to bf16).
void dato_amx_conv_pack_weights(const float *w, long k, long cout, long cin, long block_begin, long block_end,
                                unsigned short *packed);

/// Elements (uint16) of the zero-padded input copy of `n` images of h x w x c for a k x k kernel.
long dato_amx_conv_input_size(long k, long n, long h, long w, long c);

/// Writes padded rows [row_begin, row_end) of the n * (h + k - 1) rows of the padded copy of `x` (NHWC; floats,
/// rounded to bf16, or bf16 values when `x_bf16` is set). The last range (row_end = n * (h + k - 1)) also zeroes
/// the slack after the last image.
void dato_amx_conv_pad(const void *x, int x_bf16, long k, long n, long h, long w, long c, long row_begin,
                       long row_end, unsigned short *padded);

/// The number of work items of one convolution (each a block of output rows by 32 output channels).
long dato_amx_conv_items(long k, long n, long h, long w, long cin, long cout);

/// Runs work item `item` of the convolution of the padded input by the packed weights: writes (or, with
/// `accumulate`, adds to) its part of `out` (NHWC, n x h x w x cout: floats, or with `out_bf16` bf16 values
/// rounded to nearest even, never accumulated), with `bias` (cout floats, or null). For a 1x1 kernel the padded
/// copy has the input's own layout: a bf16 input whose h * w is a multiple of 16 can be passed as it is.
void dato_amx_conv_run(const unsigned short *padded, long k, long n, long h, long w, long cin,
                       const unsigned short *packed, long cout, const float *bias, void *out, int accumulate,
                       int out_bf16, long item);

#ifdef __cplusplus
}
#endif
#endif
