// fp32 attention on AVX-512 FMA products for one block of up to 32 query rows at a time, the query rows across the
// 16 lanes of the vectors: the scores of the block are computed transposed (one row per key, one lane per query),
// so the softmax's maxima and sums are lane-wise and the head size may be anything (Stable Diffusion's 40 is 2.5
// vectors, a poor fit for products vectorised along the head). All functions are single-threaded; the caller
// runs blocks on its workers. Only call dato_fp32_attention_block after dato_avx512_available() returned 1.
#ifndef DATO_FP32_ATTENTION_H
#define DATO_FP32_ATTENTION_H

#ifdef __cplusplus
extern "C" {
#endif

/// Floats of the packed keys of one head: `nk` keys of size `dk`.
long dato_fp32_attention_keys_size(long nk, long dk);

/// Packs `nk` key rows (row stride `ld`, `dk` floats each) for dato_fp32_attention_block: blocks of 12 keys, for
/// each head dimension the 12 keys' values side by side (zeros past the last key).
void dato_fp32_attention_pack_keys(const float *k, long ld, long nk, long dk, float *packed);

/// Bytes of scratch one worker needs for dato_fp32_attention_block.
long dato_fp32_attention_scratch_size(long nk, long dk, long dv);

/// out[i, :] = softmax(scale q[i, :] K^T) V for the `rows` (<= 32) query rows at `q` (stride `ldq`), with the
/// keys of one head packed by dato_fp32_attention_pack_keys and its values as `nk` rows of `dv` floats (stride
/// `ldv`). With `causal`, query row i (absolute index first_row + i) sees keys 0 ... first_row + i only. When
/// `prob_mean` is not null, prob_weight * the probabilities are added to its rows (stride nk). The softmax is
/// computed in fp32 to a float's accuracy (powers of two, relative error 2.4e-7). `scratch` holds
/// dato_fp32_attention_scratch_size bytes, 64-byte aligned.
void dato_fp32_attention_block(const float *q, long ldq, long rows, long first_row, int causal, const float *keys,
                               const float *values, long ldv, long nk, long dk, long dv, float scale, float *out,
                               long ldo, float *prob_mean, float prob_weight, void *scratch);

#ifdef __cplusplus
}
#endif
#endif
