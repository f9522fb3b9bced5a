// Attention with AVX512-BF16 dot products (vdpbf16ps) for CPUs that have them but no AMX: Q K^T and P V in bf16
// with fp32 accumulation, an fp32 online softmax between them, one block of up to 32 query rows at a time. The
// keys and values are packed once per head by dato_amx_pack_keys / dato_amx_pack_values (or their bf16
// variants): the AMX tile layout is also the one these dot products want. All functions are single-threaded;
// the caller runs blocks on its workers. Only call dato_bf16_attention_block after dato_avx512bf16_available()
// returned 1.
#ifndef DATO_BF16_ATTENTION_H
#define DATO_BF16_ATTENTION_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU has AVX-512 F, BW, VL, DQ and BF16 (a CPU capability only: whether to use it is the
/// caller's setting).
int dato_avx512bf16_available(void);

/// Bytes of scratch one worker needs for dato_bf16_attention_block.
long dato_bf16_attention_scratch_size(long nk, long dk, long dv);

/// dato_amx_attention_block's contract on AVX512-BF16 dot products: out[i, :] = softmax(scale q[i, :] K^T) V for
/// the `rows` (<= 32) query rows at `q` (stride `ldq`; floats, or bf16 values when `q_bf16` is set) with keys and
/// values packed as for dato_amx_attention_block. With `causal`, query row i (absolute index first_row + i) sees
/// keys 0 ... first_row + i only. When `prob_mean` is not null, prob_weight * the probabilities are added to its
/// rows (stride nk). `out` holds floats, or bf16 values (rounded to nearest even) when `out_bf16` is set.
/// `scratch` holds dato_bf16_attention_scratch_size bytes, 64-byte aligned.
void dato_bf16_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                               const unsigned short *keys, const unsigned short *values, long nk, long dk, long dv,
                               float scale, void *out, long ldo, int out_bf16, float *prob_mean, float prob_weight,
                               void *scratch);

#ifdef __cplusplus
}
#endif
#endif
