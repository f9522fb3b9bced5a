// Implementation of the oneDNN shim. Compiles against oneDNN 2.x and 3.x.
#include "dato_dnnl.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

// libgomp entry points (the OpenMP runtime oneDNN is built with on Debian).
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int);

#if DNNL_VERSION_MAJOR >= 3
typedef dnnl_memory_desc_t md_t;          // an owned handle
typedef const_dnnl_memory_desc_t md_ref;  // a borrowed handle
#define MD(x) (x)
static dnnl_status_t md_tag_dt(md_t *md, int nd, const dnnl_dims_t dims, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    return dnnl_memory_desc_create_with_tag(md, nd, dims, dt, tag);
}
static dnnl_status_t md_strides(md_t *md, int nd, const dnnl_dims_t dims, dnnl_data_type_t dt, const dnnl_dims_t st) {
    return dnnl_memory_desc_create_with_strides(md, nd, dims, dt, st);
}
static void md_free(md_t md) { if (md) dnnl_memory_desc_destroy(md); }
#else
typedef dnnl_memory_desc_t md_t;          // a plain struct
typedef const dnnl_memory_desc_t *md_ref;
#define MD(x) (&(x))
static dnnl_status_t md_tag_dt(md_t *md, int nd, const dnnl_dims_t dims, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    return dnnl_memory_desc_init_by_tag(md, nd, dims, dt, tag);
}
static dnnl_status_t md_strides(md_t *md, int nd, const dnnl_dims_t dims, dnnl_data_type_t dt, const dnnl_dims_t st) {
    return dnnl_memory_desc_init_by_strides(md, nd, dims, dt, st);
}
static void md_free(md_t md) { (void)md; }
#endif

static dnnl_status_t md_tag(md_t *md, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    return md_tag_dt(md, nd, dims, dnnl_f32, tag);
}

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
// Each calling thread executes on its own stream (made at its first call), so generations running on several
// threads at once never share one; g_stream is the fallback should a thread's stream fail to be made.
static __thread dnnl_stream_t t_stream;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_status_t g_init_status = dnnl_success;

static void init_engine(void) {
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

static int fail(char *err, size_t n, const char *what, dnnl_status_t st) {
    if (err && n) snprintf(err, n, "oneDNN: %s failed (status %d)", what, (int)st);
    return 1;
}

static dnnl_stream_t this_stream(void) {
    if (!t_stream && dnnl_stream_create(&t_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) t_stream = NULL;
    return t_stream ? t_stream : g_stream;
}

#define CHECK(call, what) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { fail(err, errlen, what, st_); goto bad; } } while (0)

static int ready(char *err, size_t errlen) {
    pthread_once(&g_once, init_engine);
    if (g_init_status != dnnl_success) return fail(err, errlen, "engine creation", g_init_status);
    return 0;
}

struct dato_weights {
    dnnl_memory_t mem;   // library-owned, current layout
    dnnl_memory_t plain; // the plain layout, kept while `mem` holds Winograd weights (which oneDNN cannot reorder)
    int ndims;
    dnnl_dims_t dims;    // logical dims (oihw or {k, n})
    int is_linear;
    // Held for a whole run of any of the layer's ops: the ops' memory objects take each call's data handles,
    // and the first run may reorder the weights, so one layer runs one call at a time (other layers run on).
    pthread_mutex_t lock;
};

static md_ref memory_md(dnnl_memory_t m) {
    md_ref md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

// The plain PyTorch layout of the weights: OIHW for convs, [n, k] row-major seen as {k, n} for linears.
static dnnl_status_t plain_md(const dato_weights *w, dnnl_data_type_t dt, md_t *md) {
    if (w->is_linear) {
        dnnl_dims_t st = {1, w->dims[0]};
        return md_strides(md, 2, w->dims, dt, st);
    }
    return md_tag_dt(md, 4, w->dims, dt, dnnl_oihw);
}

static int reorder_to(dnnl_memory_t src, md_ref to, dnnl_memory_t *out, char *err, size_t errlen);

// A library-owned copy of the caller's fp32 weights: fp32 as given, or converted to bf16 right away (so a
// bf16 model never holds an fp32 copy).
static dato_weights *weights_create(const float *data, int ndims, const dnnl_dims_t dims, int is_linear, int bf16,
                                    char *err, size_t errlen) {
    if (ready(err, errlen)) return NULL;
    dato_weights *w = calloc(1, sizeof(*w));
    md_t md = {0}, bmd = {0};
    dnnl_memory_t user = NULL;
    if (!w) { if (err && errlen) snprintf(err, errlen, "out of memory"); return NULL; }
    w->ndims = ndims; w->is_linear = is_linear;
    pthread_mutex_init(&w->lock, NULL);
    memcpy(w->dims, dims, sizeof(dnnl_dims_t));
    CHECK(plain_md(w, dnnl_f32, &md), "weights descriptor");
    if (bf16) {
        CHECK(dnnl_memory_create(&user, MD(md), g_engine, (void *)data), "weights wrapper");
        CHECK(plain_md(w, dnnl_bf16, &bmd), "bf16 weights descriptor");
        if (reorder_to(user, MD(bmd), &w->mem, err, errlen)) goto bad;
        dnnl_memory_destroy(user);
        md_free(bmd);
    } else {
        CHECK(dnnl_memory_create(&w->mem, MD(md), g_engine, DNNL_MEMORY_ALLOCATE), "weights allocation");
        void *h = NULL;
        CHECK(dnnl_memory_get_data_handle(w->mem, &h), "weights handle");
        memcpy(h, data, dnnl_memory_desc_get_size(MD(md)));
    }
    md_free(md);
    return w;
bad:
    md_free(md);
    md_free(bmd);
    if (user) dnnl_memory_destroy(user);
    if (w->mem) dnnl_memory_destroy(w->mem);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

dato_weights *dato_weights_create_conv(const float *oihw, long oc, long ic, long kh, long kw, int bf16,
                                       char *err, size_t errlen) {
    dnnl_dims_t d = {oc, ic, kh, kw};
    return weights_create(oihw, 4, d, 0, bf16, err, errlen);
}

dato_weights *dato_weights_create_linear(const float *out_in, long out, long in, int bf16, char *err, size_t errlen) {
    dnnl_dims_t d = {in, out};
    return weights_create(out_in, 2, d, 1, bf16, err, errlen);
}

void dato_weights_destroy(dato_weights *w) {
    if (!w) return;
    if (w->mem && w->mem != w->plain) dnnl_memory_destroy(w->mem);
    if (w->plain) dnnl_memory_destroy(w->plain);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

// Reorders src into a new library-owned memory of layout `to`.
static int reorder_to(dnnl_memory_t src, md_ref to, dnnl_memory_t *out, char *err, size_t errlen) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t dst = NULL;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, memory_md(src), g_engine, to, g_engine, NULL), "reorder descriptor");
    CHECK(dnnl_primitive_create(&prim, pd), "reorder primitive");
    CHECK(dnnl_memory_create(&dst, to, g_engine, DNNL_MEMORY_ALLOCATE), "reorder allocation");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    CHECK(dnnl_primitive_execute(prim, this_stream(), 2, args), "reorder");
    CHECK(dnnl_stream_wait(this_stream()), "stream wait");
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    *out = dst;
    return 0;
bad:
    if (dst) dnnl_memory_destroy(dst);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return 1;
}

// Makes sure the weights are in layout `want`, reordering them once if not. Winograd layouts are one-way, so
// the layout they were made from stays alongside them for any later input shape that wants another layout.
static int weights_prepare(dato_weights *w, md_ref want, int winograd, char *err, size_t errlen) {
    if (dnnl_memory_desc_equal(memory_md(w->mem), want)) return 0;
    dnnl_memory_t fresh = NULL;
    if (reorder_to(w->plain ? w->plain : w->mem, want, &fresh, err, errlen)) return 1;
    if (winograd && !w->plain) w->plain = w->mem;
    else if (w->mem != w->plain) dnnl_memory_destroy(w->mem);
    w->mem = fresh;
    return 0;
}

struct dato_op {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, bias;
    int has_bias;
    const char *impl;
    // bf16 ops: the fp32 input is converted into `src` (library-owned bf16) by this reorder first; an input
    // that is bf16 already is read in place through `src_bf16`.
    dnnl_primitive_desc_t cvt_pd;
    dnnl_primitive_t cvt;
    dnnl_memory_t cvt_src, src_bf16;
    // Blocked ops (Winograd convolutions): the caller's NHWC input is reordered into `src` and the blocked
    // result in `dst` is reordered into the caller's NHWC `out` (adding to it when accumulating). `src` and
    // `dst` live in one buffer shared by all blocked ops.
    int blocked;
    dnnl_memory_t in, out, scratch;
    dnnl_primitive_t to_blocked, from_blocked;
    size_t src_bytes, dst_bytes, scratch_bytes;
};

// The shared buffer of blocked ops (their blocked input, output and oneDNN scratchpad); a blocked op holds
// the lock from its first reorder to its last.
static pthread_mutex_t g_blocked_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_blocked_buffer;
static size_t g_blocked_size;

void dato_dnnl_release_buffers(void) {
    pthread_mutex_lock(&g_blocked_lock);
    free(g_blocked_buffer);
    g_blocked_buffer = NULL;
    g_blocked_size = 0;
    pthread_mutex_unlock(&g_blocked_lock);
}

static void *blocked_buffer(size_t size) {
    if (size <= g_blocked_size) return g_blocked_buffer;
    void *fresh = NULL;
    if (posix_memalign(&fresh, 64, size)) return NULL;
    free(g_blocked_buffer);
    g_blocked_buffer = fresh;
    g_blocked_size = size;
    return fresh;
}

// Builds the primitive, its memories (without data) and impl name from a primitive descriptor.
static dato_op *op_finish(dnnl_primitive_desc_t pd, md_ref src_md, md_ref src_f32_md, md_ref dst_md, md_ref bias_md,
                          int has_bias, int bf16, char *err, size_t errlen) {
    dato_op *op = calloc(1, sizeof(*op));
    if (!op) { dnnl_primitive_desc_destroy(pd); if (err && errlen) snprintf(err, errlen, "out of memory"); return NULL; }
    op->pd = pd; op->has_bias = has_bias;
    CHECK(dnnl_primitive_create(&op->prim, pd), "primitive creation");
    if (bf16) {   // a bf16 copy of the input, made by a reorder from the caller's fp32 tensor
        CHECK(dnnl_memory_create(&op->src, src_md, g_engine, DNNL_MEMORY_ALLOCATE), "bf16 src memory");
        CHECK(dnnl_memory_create(&op->src_bf16, src_md, g_engine, DNNL_MEMORY_NONE), "bf16 input memory");
        CHECK(dnnl_memory_create(&op->cvt_src, src_f32_md, g_engine, DNNL_MEMORY_NONE), "src memory");
        CHECK(dnnl_reorder_primitive_desc_create(&op->cvt_pd, src_f32_md, g_engine, src_md, g_engine, NULL), "bf16 conversion descriptor");
        CHECK(dnnl_primitive_create(&op->cvt, op->cvt_pd), "bf16 conversion");
    } else {
        CHECK(dnnl_memory_create(&op->src, src_md, g_engine, DNNL_MEMORY_NONE), "src memory");
    }
    CHECK(dnnl_memory_create(&op->dst, dst_md, g_engine, DNNL_MEMORY_NONE), "dst memory");
    if (has_bias) CHECK(dnnl_memory_create(&op->bias, bias_md, g_engine, DNNL_MEMORY_NONE), "bias memory");
    op->impl = "unknown";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &op->impl);
    return op;
bad:
    dato_op_destroy(op);
    return NULL;
}

static dnnl_primitive_attr_t make_attr(int accumulate, char *err, size_t errlen) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
    if (accumulate) {
        CHECK(dnnl_post_ops_create(&po), "post-ops creation");
#if DNNL_VERSION_MAJOR >= 3
        CHECK(dnnl_post_ops_append_sum(po, 1.0f, 0, dnnl_data_type_undef), "sum post-op");
#else
        CHECK(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
#endif
        CHECK(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
        dnnl_post_ops_destroy(po);
    }
    return attr;
bad:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return NULL;
}

static dnnl_primitive_t reorder_create(md_ref from, md_ref to, int accumulate, char *err, size_t errlen) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_primitive_attr_t attr = make_attr(accumulate, err, errlen);
    if (!attr) return NULL;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, from, g_engine, to, g_engine, attr), "layout reorder descriptor");
    CHECK(dnnl_primitive_create(&prim, pd), "layout reorder");
bad:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return prim;
}

// oneDNN's Winograd only from 16x16 pixels up: below, its F(2x2, 3x3) kernel was 1.4x the direct one at 8x8 and
// slower at 4x4 (SD's 1280-channel layers, Zen 4), beside the plain weights it keeps. Smaller fp32 inputs run on
// swift-dato's own Winograd kernel where the CPU has AVX-512 (FP32KernelChoice asks for this size).
enum { WINOGRAD_MIN_PIXELS = 256 };

long dato_winograd_min_pixels(void) { return WINOGRAD_MIN_PIXELS; }

// A Winograd convolution in oneDNN's blocked layouts with NHWC reorders around it, or NULL (err empty) when
// oneDNN has no Winograd kernel for this shape on this CPU.
static dato_op *winograd_conv_create(const dnnl_dims_t sd, const dnnl_dims_t wd, const dnnl_dims_t dd,
                                     const dnnl_dims_t strides, const dnnl_dims_t padl, const dnnl_dims_t padr,
                                     long oc, int has_bias, int accumulate, char *err, size_t errlen) {
    dnnl_dims_t bd = {oc};
    md_t smd = {0}, wmd = {0}, bmd = {0}, dmd = {0}, user_s = {0}, user_d = {0};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = make_attr(0, err, errlen);
    dato_op *op = NULL;
    if (!attr) return NULL;
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    CHECK(md_tag(&smd, 4, sd, dnnl_format_tag_any), "src descriptor");
    CHECK(md_tag(&wmd, 4, wd, dnnl_format_tag_any), "weights descriptor");
    CHECK(md_tag(&bmd, 1, bd, dnnl_a), "bias descriptor");
    CHECK(md_tag(&dmd, 4, dd, dnnl_format_tag_any), "dst descriptor");
    CHECK(md_tag(&user_s, 4, sd, dnnl_nhwc), "nhwc src descriptor");
    CHECK(md_tag(&user_d, 4, dd, dnnl_nhwc), "nhwc dst descriptor");
#if DNNL_VERSION_MAJOR >= 3
    if (dnnl_convolution_forward_primitive_desc_create(&pd, g_engine, dnnl_forward_inference,
            dnnl_convolution_winograd, smd, wmd, has_bias ? bmd : NULL, dmd, strides, NULL, padl, padr, attr)
        != dnnl_success) { pd = NULL; goto bad; }
#else
    dnnl_convolution_desc_t cd;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_winograd,
            &smd, &wmd, has_bias ? &bmd : NULL, &dmd, strides, padl, padr) != dnnl_success) goto bad;
    if (dnnl_primitive_desc_create(&pd, &cd, attr, g_engine, NULL) != dnnl_success) { pd = NULL; goto bad; }
#endif
    md_ref src_blk = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    md_ref dst_blk = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    op = op_finish(pd, src_blk, src_blk, dst_blk, MD(bmd), has_bias, 0, err, errlen);
    pd = NULL;
    if (!op) goto bad;
    op->blocked = 1;
    op->src_bytes = (dnnl_memory_desc_get_size(src_blk) + 63) / 64 * 64;
    op->dst_bytes = (dnnl_memory_desc_get_size(dst_blk) + 63) / 64 * 64;
    md_ref scratch = dnnl_primitive_desc_query_md(op->pd, dnnl_query_scratchpad_md, 0);
    op->scratch_bytes = dnnl_memory_desc_get_size(scratch);
    if (op->scratch_bytes) CHECK(dnnl_memory_create(&op->scratch, scratch, g_engine, DNNL_MEMORY_NONE), "scratchpad memory");
    CHECK(dnnl_memory_create(&op->in, MD(user_s), g_engine, DNNL_MEMORY_NONE), "nhwc src memory");
    CHECK(dnnl_memory_create(&op->out, MD(user_d), g_engine, DNNL_MEMORY_NONE), "nhwc dst memory");
    if (!(op->to_blocked = reorder_create(MD(user_s), src_blk, 0, err, errlen))) goto bad;
    if (!(op->from_blocked = reorder_create(dst_blk, MD(user_d), accumulate, err, errlen))) goto bad;
    dnnl_primitive_attr_destroy(attr);
    md_free(smd); md_free(wmd); md_free(bmd); md_free(dmd); md_free(user_s); md_free(user_d);
    return op;
bad:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dato_op_destroy(op);
    dnnl_primitive_attr_destroy(attr);
    md_free(smd); md_free(wmd); md_free(bmd); md_free(dmd); md_free(user_s); md_free(user_d);
    return NULL;
}

dato_op *dato_conv_create(long n, long ic, long ih, long iw, long oc, long kh, long kw,
                          long sh, long sw, long pt, long pl, long pb, long pr,
                          int has_bias, int accumulate, int bf16, int winograd, char *err, size_t errlen) {
    if (ready(err, errlen)) return NULL;
    dnnl_data_type_t cdt = bf16 ? dnnl_bf16 : dnnl_f32;
    long oh = (ih + pt + pb - kh) / sh + 1, ow = (iw + pl + pr - kw) / sw + 1;
    dnnl_dims_t sd = {n, ic, ih, iw}, wd = {oc, ic, kh, kw}, bd = {oc}, dd = {n, oc, oh, ow};
    dnnl_dims_t strides = {sh, sw}, padl = {pt, pl}, padr = {pb, pr};
    if (winograd && !bf16 && kh == 3 && kw == 3 && sh == 1 && sw == 1 && ic >= 16 && oc >= 16
        && ih * iw >= WINOGRAD_MIN_PIXELS) {
        if (err && errlen) err[0] = 0;
        dato_op *op = winograd_conv_create(sd, wd, dd, strides, padl, padr, oc, has_bias, accumulate, err, errlen);
        if (op || (err && errlen && err[0])) return op;
    }
    md_t smd = {0}, s32 = {0}, wmd = {0}, bmd = {0}, dmd = {0};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = make_attr(accumulate, err, errlen);
    dato_op *op = NULL;
    if (!attr) return NULL;
    CHECK(md_tag_dt(&smd, 4, sd, cdt, dnnl_nhwc), "src descriptor");
    CHECK(md_tag(&s32, 4, sd, dnnl_nhwc), "fp32 src descriptor");
    CHECK(md_tag_dt(&wmd, 4, wd, cdt, dnnl_format_tag_any), "weights descriptor");
    CHECK(md_tag(&bmd, 1, bd, dnnl_a), "bias descriptor");
    CHECK(md_tag(&dmd, 4, dd, dnnl_nhwc), "dst descriptor");
#if DNNL_VERSION_MAJOR >= 3
    CHECK(dnnl_convolution_forward_primitive_desc_create(&pd, g_engine, dnnl_forward_inference,
            dnnl_convolution_direct, smd, wmd, has_bias ? bmd : NULL, dmd, strides, NULL, padl, padr, attr),
          "convolution descriptor");
#else
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
            &smd, &wmd, has_bias ? &bmd : NULL, &dmd, strides, padl, padr), "convolution descriptor");
    CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, g_engine, NULL), "convolution primitive descriptor");
#endif
    op = op_finish(pd, MD(smd), MD(s32), MD(dmd), MD(bmd), has_bias, bf16, err, errlen);
    pd = NULL;
bad:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    md_free(smd); md_free(s32); md_free(wmd); md_free(bmd); md_free(dmd);
    return op;
}

dato_op *dato_matmul_create(long m, long k, long n, int has_bias, int accumulate, int bf16, int bf16_out,
                            char *err, size_t errlen) {
    if (ready(err, errlen)) return NULL;
    dnnl_data_type_t cdt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, bd = {1, n}, dd = {m, n};
    md_t smd = {0}, s32 = {0}, wmd = {0}, bmd = {0}, dmd = {0};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = make_attr(accumulate, err, errlen);
    dato_op *op = NULL;
    if (!attr) return NULL;
    CHECK(md_tag_dt(&smd, 2, sd, cdt, dnnl_ab), "src descriptor");
    CHECK(md_tag(&s32, 2, sd, dnnl_ab), "fp32 src descriptor");
    CHECK(md_tag_dt(&wmd, 2, wd, cdt, dnnl_format_tag_any), "weights descriptor");
    CHECK(md_tag(&bmd, 2, bd, dnnl_ab), "bias descriptor");
    CHECK(md_tag_dt(&dmd, 2, dd, bf16 && bf16_out ? dnnl_bf16 : dnnl_f32, dnnl_ab), "dst descriptor");
#if DNNL_VERSION_MAJOR >= 3
    CHECK(dnnl_matmul_primitive_desc_create(&pd, g_engine, smd, wmd, has_bias ? bmd : NULL, dmd, attr),
          "matmul descriptor");
#else
    dnnl_matmul_desc_t mdsc;
    CHECK(dnnl_matmul_desc_init(&mdsc, &smd, &wmd, has_bias ? &bmd : NULL, &dmd), "matmul descriptor");
    CHECK(dnnl_primitive_desc_create(&pd, &mdsc, attr, g_engine, NULL), "matmul primitive descriptor");
#endif
    op = op_finish(pd, MD(smd), MD(s32), MD(dmd), MD(bmd), has_bias, bf16, err, errlen);
    pd = NULL;
bad:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    md_free(smd); md_free(s32); md_free(wmd); md_free(bmd); md_free(dmd);
    return op;
}

// Runs the op's primitive on its src and dst memories (their data handles already set).
static int run_primitive(dato_op *op, dnnl_memory_t src, dato_weights *w, const float *bias, char *err, size_t errlen) {
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w->mem}, {DNNL_ARG_DST, op->dst}};
    int nargs = 3;
    if (op->scratch) { args[nargs].arg = DNNL_ARG_SCRATCHPAD; args[nargs].memory = op->scratch; nargs++; }
    if (op->has_bias) {
        CHECK(dnnl_memory_set_data_handle(op->bias, (void *)bias), "bias handle");
        args[nargs].arg = DNNL_ARG_BIAS; args[nargs].memory = op->bias; nargs++;
    }
    CHECK(dnnl_primitive_execute(op->prim, this_stream(), nargs, args), "execute");
    return 0;
bad:
    return 1;
}

static int blocked_exec(dato_op *op, dato_weights *w, const float *src, const float *bias, float *dst,
                        char *err, size_t errlen) {
    pthread_mutex_lock(&g_blocked_lock);
    char *buffer = blocked_buffer(op->src_bytes + op->dst_bytes + op->scratch_bytes);
    if (!buffer) { snprintf(err, errlen, "out of memory for a blocked convolution"); goto bad; }
    CHECK(dnnl_memory_set_data_handle(op->in, (void *)src), "src handle");
    CHECK(dnnl_memory_set_data_handle(op->src, buffer), "blocked src handle");
    CHECK(dnnl_memory_set_data_handle(op->dst, buffer + op->src_bytes), "blocked dst handle");
    CHECK(dnnl_memory_set_data_handle(op->out, dst), "dst handle");
    if (op->scratch)
        CHECK(dnnl_memory_set_data_handle(op->scratch, buffer + op->src_bytes + op->dst_bytes), "scratchpad handle");
    dnnl_exec_arg_t to[2] = {{DNNL_ARG_FROM, op->in}, {DNNL_ARG_TO, op->src}};
    CHECK(dnnl_primitive_execute(op->to_blocked, this_stream(), 2, to), "src reorder");
    if (run_primitive(op, op->src, w, bias, err, errlen)) goto bad;
    dnnl_exec_arg_t from[2] = {{DNNL_ARG_FROM, op->dst}, {DNNL_ARG_TO, op->out}};
    CHECK(dnnl_primitive_execute(op->from_blocked, this_stream(), 2, from), "dst reorder");
    CHECK(dnnl_stream_wait(this_stream()), "stream wait");
    pthread_mutex_unlock(&g_blocked_lock);
    return 0;
bad:
    pthread_mutex_unlock(&g_blocked_lock);
    return 1;
}

static int op_exec(dato_op *op, dato_weights *w, const float *src, const float *bias, void *dst,
                   char *err, size_t errlen) {
    if (weights_prepare(w, dnnl_primitive_desc_query_md(op->pd, dnnl_query_weights_md, 0), op->blocked, err, errlen))
        return 1;
    if (op->blocked) return blocked_exec(op, w, src, bias, dst, err, errlen);
    if (op->cvt) {
        CHECK(dnnl_memory_set_data_handle(op->cvt_src, (void *)src), "src handle");
        dnnl_exec_arg_t cargs[2] = {{DNNL_ARG_FROM, op->cvt_src}, {DNNL_ARG_TO, op->src}};
        CHECK(dnnl_primitive_execute(op->cvt, this_stream(), 2, cargs), "bf16 conversion");
    } else {
        CHECK(dnnl_memory_set_data_handle(op->src, (void *)src), "src handle");
    }
    CHECK(dnnl_memory_set_data_handle(op->dst, dst), "dst handle");
    if (run_primitive(op, op->src, w, bias, err, errlen)) goto bad;
    CHECK(dnnl_stream_wait(this_stream()), "stream wait");
    return 0;
bad:
    return 1;
}

static int op_exec_bf16(dato_op *op, dato_weights *w, const void *src, const float *bias, void *dst,
                        char *err, size_t errlen) {
    if (!op->src_bf16) {
        if (err && errlen) snprintf(err, errlen, "a bf16 input given to an fp32 layer");
        return 1;
    }
    if (weights_prepare(w, dnnl_primitive_desc_query_md(op->pd, dnnl_query_weights_md, 0), 0, err, errlen)) return 1;
    CHECK(dnnl_memory_set_data_handle(op->src_bf16, (void *)src), "bf16 input handle");
    CHECK(dnnl_memory_set_data_handle(op->dst, dst), "dst handle");
    if (run_primitive(op, op->src_bf16, w, bias, err, errlen)) goto bad;
    CHECK(dnnl_stream_wait(this_stream()), "stream wait");
    return 0;
bad:
    return 1;
}

int dato_op_exec(dato_op *op, dato_weights *w, const float *src, const float *bias, void *dst,
                 char *err, size_t errlen) {
    pthread_mutex_lock(&w->lock);
    int rc = op_exec(op, w, src, bias, dst, err, errlen);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int dato_op_exec_bf16(dato_op *op, dato_weights *w, const void *src, const float *bias, void *dst,
                      char *err, size_t errlen) {
    pthread_mutex_lock(&w->lock);
    int rc = op_exec_bf16(op, w, src, bias, dst, err, errlen);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void dato_op_destroy(dato_op *op) {
    if (!op) return;
    if (op->prim) dnnl_primitive_destroy(op->prim);
    if (op->pd) dnnl_primitive_desc_destroy(op->pd);
    if (op->src) dnnl_memory_destroy(op->src);
    if (op->dst) dnnl_memory_destroy(op->dst);
    if (op->bias) dnnl_memory_destroy(op->bias);
    if (op->cvt) dnnl_primitive_destroy(op->cvt);
    if (op->cvt_pd) dnnl_primitive_desc_destroy(op->cvt_pd);
    if (op->cvt_src) dnnl_memory_destroy(op->cvt_src);
    if (op->src_bf16) dnnl_memory_destroy(op->src_bf16);
    if (op->in) dnnl_memory_destroy(op->in);
    if (op->scratch) dnnl_memory_destroy(op->scratch);
    if (op->out) dnnl_memory_destroy(op->out);
    if (op->to_blocked) dnnl_primitive_destroy(op->to_blocked);
    if (op->from_blocked) dnnl_primitive_destroy(op->from_blocked);
    free(op);
}

const char *dato_op_impl(const dato_op *op) { return op->impl; }

struct dato_bgemm {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    size_t scratch;
};

dato_bgemm *dato_bgemm_create(long m, long n, long k, char *err, size_t errlen) {
    if (ready(err, errlen)) return NULL;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    md_t amd = {0}, bmd = {0}, cmd = {0};
    dnnl_primitive_attr_t attr = NULL;
    dato_bgemm *g = calloc(1, sizeof(*g));
    if (!g) { if (err && errlen) snprintf(err, errlen, "out of memory"); return NULL; }
    CHECK(md_tag_dt(&amd, 2, ad, dnnl_bf16, dnnl_ab), "bf16 gemm A descriptor");
    CHECK(md_tag_dt(&bmd, 2, bd, dnnl_bf16, dnnl_ab), "bf16 gemm B descriptor");
    CHECK(md_tag(&cmd, 2, cd, dnnl_ab), "bf16 gemm C descriptor");
    CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
    // User scratchpad: each calling thread brings its own, so concurrent runs are safe.
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
#if DNNL_VERSION_MAJOR >= 3
    CHECK(dnnl_matmul_primitive_desc_create(&g->pd, g_engine, amd, bmd, NULL, cmd, attr), "bf16 gemm descriptor");
#else
    dnnl_matmul_desc_t mdsc;
    CHECK(dnnl_matmul_desc_init(&mdsc, &amd, &bmd, NULL, &cmd), "bf16 gemm descriptor");
    CHECK(dnnl_primitive_desc_create(&g->pd, &mdsc, attr, g_engine, NULL), "bf16 gemm primitive descriptor");
#endif
    CHECK(dnnl_primitive_create(&g->prim, g->pd), "bf16 gemm primitive");
    g->scratch = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(g->pd, dnnl_query_scratchpad_md, 0));
    dnnl_primitive_attr_destroy(attr);
    md_free(amd); md_free(bmd); md_free(cmd);
    return g;
bad:
    if (attr) dnnl_primitive_attr_destroy(attr);
    md_free(amd); md_free(bmd); md_free(cmd);
    dato_bgemm_destroy(g);
    return NULL;
}

size_t dato_bgemm_scratch_size(const dato_bgemm *g) { return g->scratch; }

// Per-thread memory objects of recently run products (only their data handles change between runs).
enum { BGEMM_SLOTS = 8 };
struct bgemm_slot { const dato_bgemm *g; dnnl_memory_t a, b, c, s; };
static __thread struct bgemm_slot t_slots[BGEMM_SLOTS];
static __thread int t_next_slot;

static void slot_clear(struct bgemm_slot *sl) {
    if (sl->a) dnnl_memory_destroy(sl->a);
    if (sl->b) dnnl_memory_destroy(sl->b);
    if (sl->c) dnnl_memory_destroy(sl->c);
    if (sl->s) dnnl_memory_destroy(sl->s);
    memset(sl, 0, sizeof(*sl));
}

static struct bgemm_slot *slot_for(const dato_bgemm *g) {
    char *err = NULL; size_t errlen = 0;
    for (int i = 0; i < BGEMM_SLOTS; i++) if (t_slots[i].g == g) return &t_slots[i];
    struct bgemm_slot *sl = &t_slots[t_next_slot];
    t_next_slot = (t_next_slot + 1) % BGEMM_SLOTS;
    slot_clear(sl);
    CHECK(dnnl_memory_create(&sl->a, dnnl_primitive_desc_query_md(g->pd, dnnl_query_src_md, 0), g_engine, DNNL_MEMORY_NONE), "A");
    CHECK(dnnl_memory_create(&sl->b, dnnl_primitive_desc_query_md(g->pd, dnnl_query_weights_md, 0), g_engine, DNNL_MEMORY_NONE), "B");
    CHECK(dnnl_memory_create(&sl->c, dnnl_primitive_desc_query_md(g->pd, dnnl_query_dst_md, 0), g_engine, DNNL_MEMORY_NONE), "C");
    if (g->scratch)
        CHECK(dnnl_memory_create(&sl->s, dnnl_primitive_desc_query_md(g->pd, dnnl_query_scratchpad_md, 0), g_engine, DNNL_MEMORY_NONE), "scratchpad");
    sl->g = g;
    return sl;
bad:
    slot_clear(sl);
    return NULL;
}

int dato_bgemm_exec(dato_bgemm *g, const void *a, const void *b, float *c, void *scratch) {
    char *err = NULL; size_t errlen = 0;
    if (!t_stream && dnnl_stream_create(&t_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) return 1;
    struct bgemm_slot *sl = slot_for(g);
    if (!sl) return 1;
    CHECK(dnnl_memory_set_data_handle(sl->a, (void *)a), "A handle");
    CHECK(dnnl_memory_set_data_handle(sl->b, (void *)b), "B handle");
    CHECK(dnnl_memory_set_data_handle(sl->c, c), "C handle");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, sl->a}, {DNNL_ARG_WEIGHTS, sl->b}, {DNNL_ARG_DST, sl->c}};
    int nargs = 3;
    if (sl->s) {
        CHECK(dnnl_memory_set_data_handle(sl->s, scratch), "scratchpad handle");
        args[nargs].arg = DNNL_ARG_SCRATCHPAD; args[nargs].memory = sl->s; nargs++;
    }
    CHECK(dnnl_primitive_execute(g->prim, t_stream, nargs, args), "bf16 gemm");
    CHECK(dnnl_stream_wait(t_stream), "stream wait");
    return 0;
bad:
    return 1;
}

void dato_bgemm_destroy(dato_bgemm *g) {
    if (!g) return;
    if (g->prim) dnnl_primitive_destroy(g->prim);
    if (g->pd) dnnl_primitive_desc_destroy(g->pd);
    free(g);
}

struct task { dato_task_fn fn; void *ctx; };

static void run_task(void *p) {
    struct task *t = p;
    t->fn(t->ctx, omp_get_thread_num(), omp_get_num_threads());
}

void dato_parallel(dato_task_fn fn, void *ctx) {
    struct task t = {fn, ctx};
    GOMP_parallel(run_task, &t, 0, 0);
}

long dato_next_item(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

long dato_max_threads(void) { return omp_get_max_threads(); }
void dato_set_threads(long n) { if (n > 0) omp_set_num_threads((int)n); }
