// Exact nearest-row search under the dot product, refined from approximate (bf16-product) similarities.
// Single-threaded; the caller splits rows across its workers.
#ifndef DATO_NEAREST_H
#define DATO_NEAREST_H

#ifdef __cplusplus
extern "C" {
#endif

/// For each of the `m` rows of `approx` (stride lda, n values): threshold[i] = its largest value - margin.
/// Returns how many values reach their row's threshold (the candidates).
long dato_nearest_candidates(const float *approx, long lda, long m, long n, float margin, float *threshold);

/// For each of the `m` rows a_i of `a` (row length k), the index j < n of the row b_j of `b` with the largest
/// fp32 dot product <a_i, b_j> (ties to the lower j) and that product, given estimates approx[i * lda + j] that
/// differ from the fp32 products by at most margin / 2 and the thresholds of dato_nearest_candidates: only the
/// candidates are computed in fp32.
void dato_nearest_refine(const float *approx, long lda, const float *a, const float *b, long m, long n, long k,
                         const float *threshold, long *index, float *best);

/// For each of the `m` rows of x (stride ld, n >= 1 values), the index of its first largest value and that value.
void dato_first_max_rows(const float *x, long ld, long m, long n, long *index, float *best);

#ifdef __cplusplus
}
#endif
#endif
