// Vectorised fp32 kernels for the transcendental-heavy element-wise work (softmax, SiLU, GELU).
// Written in C because clang reliably vectorises these loops (and clones them for AVX-512 and AVX2),
// which Swift's generic SIMD types did not (measured 10-50x slower). All functions are single-threaded;
// DatoCore splits the work across threads.
#ifndef DATO_KERNELS_H
#define DATO_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// In-place softmax of each of `rows` rows of length `n` (row stride `ld`). When `causal_start` >= 0,
/// row i keeps only its first causal_start + i + 1 entries (the rest become 0), as a causal mask does.
void dato_softmax_rows(float *p, long rows, long n, long ld, long causal_start);

/// dst[i] = bf16(scale * src[i]), rounded to nearest even (finite inputs).
void dato_to_bf16(const float *src, long n, float scale, unsigned short *dst);

/// x = x * sigmoid(x), in place.
void dato_silu(float *x, long n);
/// x = x * sigmoid(1.702 x), in place (CLIP's quick GELU).
void dato_quick_gelu(float *x, long n);
/// x = GELU(x) in the exact erf form, in place.
void dato_gelu(float *x, long n);
/// GEGLU: out[r, j] = in[r, j] * GELU(in[r, f + j]) for rows of 2f inputs and f outputs.
void dato_geglu(const float *in, float *out, long rows, long f);
/// out[r, c] = in[r, c] * scale[c] + shift[c], then SiLU when `silu` is non-zero.
void dato_affine_rows(const float *in, float *out, long rows, long c, const float *scale, const float *shift, int silu);
/// dato_geglu on bf16 inputs, with the results rounded to bf16 (to nearest, ties to even).
void dato_geglu_bf16(const unsigned short *in, unsigned short *out, long rows, long f);
/// dato_affine_rows with the results rounded to bf16.
void dato_affine_rows_bf16(const float *in, unsigned short *out, long rows, long c, const float *scale,
                           const float *shift, int silu);

/// Hands the allocator's free pages back to the system (glibc's malloc_trim; nothing elsewhere).
void dato_release_free_memory(void);

#ifdef __cplusplus
}
#endif
#endif
