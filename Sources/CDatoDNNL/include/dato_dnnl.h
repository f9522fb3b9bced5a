// A small C shim over oneDNN's C API (2.x and 3.x), used by DatoCore.
// Tensors passed in and out are fp32 unless noted; activations are NHWC (convolution) or row-major [M, K] (matmul).
// An op created with bf16 = 1 converts its input and weights to bf16 and accumulates in fp32 (AMX or
// AVX-512 BF16 kernels where the CPU has them); its output stays fp32 unless a matmul asks for bf16.
#ifndef DATO_DNNL_H
#define DATO_DNNL_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Learned weights kept in whatever layout oneDNN's kernels prefer (reordered once, lazily).
typedef struct dato_weights dato_weights;
/// A convolution or matmul primitive for one input shape.
typedef struct dato_op dato_op;

/// Conv weights from PyTorch's OIHW layout (copied; converted to bf16 when bf16 != 0).
dato_weights *dato_weights_create_conv(const float *oihw, long oc, long ic, long kh, long kw, int bf16,
                                       char *err, size_t errlen);
/// Linear weights from PyTorch's [out, in] layout (copied; converted to bf16 when bf16 != 0).
dato_weights *dato_weights_create_linear(const float *out_in, long out, long in, int bf16,
                                         char *err, size_t errlen);
void dato_weights_destroy(dato_weights *w);

/// NHWC convolution [n, ih, iw, ic] -> [n, oh, ow, oc]. With accumulate = 1 the result is added to dst.
/// With winograd = 1 an fp32 3x3 stride-1 convolution with at least 16 input and output channels and
/// dato_winograd_min_pixels() pixels uses oneDNN's Winograd kernel when it has one for the shape (fewer multiplications, fp32 throughout,
/// rounding differs slightly from the direct algorithm); the op then reorders its NHWC input and output to
/// and from oneDNN's blocked layout. Otherwise direct.
/// The fewest input pixels (height x width) at which dato_conv_create uses oneDNN's fp32 Winograd kernels (256).
long dato_winograd_min_pixels(void);
dato_op *dato_conv_create(long n, long ic, long ih, long iw, long oc, long kh, long kw,
                          long sh, long sw, long pt, long pl, long pb, long pr,
                          int has_bias, int accumulate, int bf16, int winograd, char *err, size_t errlen);
/// Row-major matmul [m, k] x W^T -> [m, n], W given as PyTorch [n, k]. accumulate as above. With bf16 and
/// bf16_out both set the result is written in bf16 (rounded to nearest even) instead of fp32.
dato_op *dato_matmul_create(long m, long k, long n, int has_bias, int accumulate, int bf16, int bf16_out,
                            char *err, size_t errlen);
/// Runs the op. bias may be NULL when the op was created without bias. dst is fp32, or bf16 for a matmul
/// created with bf16_out. Returns 0 on success.
int dato_op_exec(dato_op *op, dato_weights *w, const float *src, const float *bias, void *dst,
                 char *err, size_t errlen);
/// Runs a bf16 op on an input that is bf16 already (same layout as the fp32 input, 2 bytes an element), skipping
/// the conversion. Fails for an op created with bf16 = 0.
int dato_op_exec_bf16(dato_op *op, dato_weights *w, const void *src, const float *bias, void *dst,
                      char *err, size_t errlen);
void dato_op_destroy(dato_op *op);
/// Frees the layout buffer that Winograd convolutions share (it is made again, as large as needed, on next use).
void dato_dnnl_release_buffers(void);
/// oneDNN's implementation name for the op (e.g. "brgconv:avx512_core").
const char *dato_op_impl(const dato_op *op);

/// A bf16 matrix product for use inside a worker of dato_parallel: C[m, n] (fp32, dense) = A[m, k] x B[k, n],
/// A and B dense row-major bf16. Runs on the calling thread; safe to run concurrently from several threads,
/// each with its own scratch buffer of dato_bgemm_scratch_size bytes.
typedef struct dato_bgemm dato_bgemm;
dato_bgemm *dato_bgemm_create(long m, long n, long k, char *err, size_t errlen);
size_t dato_bgemm_scratch_size(const dato_bgemm *g);
int dato_bgemm_exec(dato_bgemm *g, const void *a, const void *b, float *c, void *scratch);
void dato_bgemm_destroy(dato_bgemm *g);

/// Work function for dato_parallel: called once on each worker thread.
typedef void (*dato_task_fn)(void *ctx, long worker, long nworkers);
/// Runs fn on every thread of the OpenMP pool that oneDNN uses (one pool for all compute).
void dato_parallel(dato_task_fn fn, void *ctx);
/// Returns *counter and adds 1 to it, atomically: workers of dato_parallel taking items from a shared count.
long dato_next_item(long *counter);
/// Number of threads dato_parallel runs on.
long dato_max_threads(void);
/// Sets the number of compute threads (oneDNN and Swift kernels).
void dato_set_threads(long n);

#ifdef __cplusplus
}
#endif
#endif
