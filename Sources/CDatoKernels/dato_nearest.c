// Nearest-row refinement; see dato_nearest.h.
#include "dato_nearest.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

// The fp32 dot product of the refinement. A plain loop: clang vectorises it (-ffast-math allows the
// reassociation) into the same summation order on every call of a build.
CLONES static float dot(const float *x, const float *y, long k) {
    float s = 0;
    for (long j = 0; j < k; j++) s += x[j] * y[j];
    return s;
}

// Sixteen running maxima (vectorised) folded at the end.
CLONES static float row_max(const float *x, long n) {
    float part[16];
    for (int l = 0; l < 16; l++) part[l] = -INFINITY;
    long j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++) part[l] = x[j + l] > part[l] ? x[j + l] : part[l];
    for (int l = 0; j < n; j++, l++) part[l] = x[j] > part[l] ? x[j] : part[l];
    float m = part[0];
    for (int l = 1; l < 16; l++) m = part[l] > m ? part[l] : m;
    return m;
}

// Whether any of the 16 values reaches t (a branch-free test the compiler vectorises).
static inline __attribute__((always_inline)) int any_reaches(const float *x, float t) {
    int any = 0;
    for (int l = 0; l < 16; l++) any |= x[l] >= t;
    return any;
}

CLONES long dato_nearest_candidates(const float *approx, long lda, long m, long n, float margin, float *threshold) {
    long count = 0;
    for (long i = 0; i < m; i++) {
        const float *row = approx + i * lda;
        float t = row_max(row, n) - margin;
        long c = 0;
        for (long j = 0; j < n; j++) c += row[j] >= t;
        threshold[i] = t;
        count += c;
    }
    return count;
}

CLONES void dato_nearest_refine(const float *approx, long lda, const float *a, const float *b, long m, long n, long k,
                                const float *threshold, long *index, float *best) {
    for (long i = 0; i < m; i++) {
        const float *row = approx + i * lda, *ai = a + i * k;
        float t = threshold[i], top = -INFINITY;
        long arg = 0;
        for (long j0 = 0; j0 < n; j0 += 16) {
            if (j0 + 16 <= n && !any_reaches(row + j0, t)) continue;
            for (long j = j0; j < j0 + 16 && j < n; j++) {
                if (!(row[j] >= t)) continue;
                float s = dot(ai, b + j * k, k);
                if (s > top) { top = s; arg = j; }
            }
        }
        index[i] = arg;
        best[i] = top;
    }
}

CLONES void dato_first_max_rows(const float *x, long ld, long m, long n, long *index, float *best) {
    for (long i = 0; i < m; i++) {
        const float *row = x + i * ld;
        float top = row[0];
        long arg = 0;
        for (long j = 1; j < n; j++)
            if (row[j] > top) { top = row[j]; arg = j; }
        index[i] = arg;
        best[i] = top;
    }
}
