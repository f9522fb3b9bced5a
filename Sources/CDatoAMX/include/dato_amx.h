// Attention on Intel AMX bf16 tiles: Q K^T and P V as tile products with fp32 accumulation, the softmax in
// fp32 between them, one block of up to 32 query rows at a time; and an AVX-512 softmax for the fp32
// attention. All functions are single-threaded; the caller runs blocks on its workers. Only call the AMX
// functions after dato_amx_available() returned 1, and dato_exp2_rows after dato_avx512_available() did.
#ifndef DATO_AMX_H
#define DATO_AMX_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU has AMX-TILE, AMX-BF16 and AVX512-BF16 and the kernel let this process use the tile
/// registers (asked once); 0 otherwise. A CPU capability only: whether to use it is the caller's setting.
int dato_amx_available(void);

/// 1 when this CPU has AVX-512 F, BW, VL and DQ (a CPU capability only, like dato_amx_available).
int dato_avx512_available(void);

/// Softmax numerators in place for `rows` rows of log2-scaled scores (length n, stride ld): each row's first
/// `valid` entries x become 2^(x - max), the rest 0, and inv[i] = 1 / their sum (valid = n, or with
/// causal_start >= 0, causal_start + i + 1). Accurate to fp32 (relative error 2.4e-7).
void dato_exp2_rows(float *p, long rows, long n, long ld, long causal_start, float *inv);

/// Elements (uint16) of the packed keys of one head: `nk` keys of size `dk`.
long dato_amx_keys_size(long nk, long dk);
/// Elements (uint16) of the packed values of one head: `nk` values of size `dv`.
long dato_amx_values_size(long nk, long dv);
/// Bytes of scratch one worker needs for dato_amx_attention_block.
long dato_amx_scratch_size(long nk, long dk, long dv);

/// Packs `nk` key rows (row stride `ld`, `dk` floats each) as bf16 tiles for the score product.
void dato_amx_pack_keys(const float *k, long ld, long nk, long dk, unsigned short *packed);
/// Packs `nk` value rows (row stride `ld`, `dv` floats each) as bf16 tiles for the value product.
void dato_amx_pack_values(const float *v, long ld, long nk, long dv, unsigned short *packed);
/// The two packers for rows of bf16 values (copied as they are).
void dato_amx_pack_keys_bf16(const unsigned short *k, long ld, long nk, long dk, unsigned short *packed);
void dato_amx_pack_values_bf16(const unsigned short *v, long ld, long nk, long dv, unsigned short *packed);

/// out[i, :] = softmax(scale q[i, :] K^T) V for the `rows` (<= 32) query rows at `q` (stride `ldq`; floats, or
/// bf16 values when `q_bf16` is set), with packed keys and values of one head. With `causal`, query row i
/// (absolute index first_row + i) sees keys 0 ... first_row + i only. When `prob_mean` is not null, prob_weight * the probabilities are added to its
/// rows (stride nk). `out` holds floats, or bf16 values (rounded to nearest even) when `out_bf16` is set.
/// `scratch` holds dato_amx_scratch_size bytes, 64-byte aligned.
void dato_amx_attention_block(const void *q, int q_bf16, long ldq, long rows, long first_row, int causal,
                              const unsigned short *keys, const unsigned short *values, long nk, long dk, long dv,
                              float scale, void *out, long ldo, int out_bf16, float *prob_mean, float prob_weight,
                              void *scratch);

/// Bytes of scratch (64-byte aligned) dato_amx_similarities needs for rows of width k.
long dato_amx_similarity_scratch_size(long k);

/// out[i, j] = <bf16(a_i), bf16(b_j)> (fp32 accumulation) for the `rows` (<= 32) rows a_i at `a` (stride lda)
/// against `n` rows b_j of width k packed by dato_amx_pack_keys (as keys of size k). Writes 32 rows of
/// round_up(n, 32) columns (row stride ldo); rows past `rows` and columns past n hold zeros.
void dato_amx_similarities(const float *a, long lda, long rows, const unsigned short *packed, long n, long k,
                           float *out, long ldo, void *scratch);

#ifdef __cplusplus
}
#endif
#endif
