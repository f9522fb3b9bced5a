// Exact nearest-row search under the dot product, refined from approximate (bf16-product) similarities.
// Single-threaded; the caller splits rows across its workers.
#ifndef DATO_NEAREST_H
#define DATO_NEAREST_H

#ifdef __cplusplus
extern "C" {
#endif

/// For each of the `m` rows a_i of `a` (row length k), the index j < n of the row b_j of `b` with the largest
/// fp32 dot product <a_i, b_j> (ties to the lower j) and that product, given `approx[i * lda + j]`, estimates
/// that differ from the fp32 products by at most margin / 2. Only the b_j whose estimate lies within `margin` of
/// the row's largest estimate are computed in fp32. Returns how many products were computed.
long dato_nearest_refine(const float *approx, long lda, const float *a, const float *b, long m, long n, long k,
                         float margin, long *index, float *best);

/// The fp32 dot product used by dato_nearest_refine (the same summation order on every call of a build).
float dato_dot(const float *x, const float *y, long k);

#ifdef __cplusplus
}
#endif
#endif
