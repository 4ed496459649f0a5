// The CPU backend: fp32 ops table over the kernels of cpu_kernels.h (OpenBLAS sgemm + OpenMP).
// "Device" memory is host memory (64-byte aligned); upload/download are copies.
//
// Gradient conventions are those of ops.h: parameter gradients ACCUMULATE (+=), activation
// gradients OVERWRITE unless the op's accum flag is set.
//
// Threads: OpenMP owns every core; OpenBLAS is set to a single thread here (process-wide: this
// program has no other BLAS user) and sgemm is called from inside OpenMP loops on fixed-size blocks.
// Two thread pools would oversubscribe the cores (and OpenBLAS threads busy-wait after each call);
// fixed blocks make every result independent of the thread count, so runs are bit-reproducible.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "aca/ops.h"
#include "cpu_kernels.h"
#include "dp_kernels.h"

static void cpu_destroy(aca_backend *be) { free(be); }

// ---- memory ----
static void *cpu_alloc(aca_backend *be, size_t bytes, aca_err *e) {
    size_t n = (bytes + 63) / 64 * 64;
    if (n < bytes) n = bytes; // overflow: let aligned_alloc fail
    void *p = aligned_alloc(64, n ? n : 64);
    if (!p) aca_errf(e, ACA_ERR_MEMORY, "cpu backend: cannot allocate %zu bytes", bytes);
    return p;
}
static void cpu_free(aca_backend *be, void *p) { free(p); }
static void cpu_memset0(aca_backend *be, void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy(aca_backend *be, void *dst, const void *src, size_t bytes) {
    if (dst != src) memmove(dst, src, bytes);
}
static void cpu_sync(aca_backend *be) {}
static void cpu_from_f32(aca_backend *be, void *dst, const float *src, size_t n) { cpu_copy(be, dst, src, n * 4); }
static void cpu_to_f32(aca_backend *be, float *dst, const void *src, size_t n) { cpu_copy(be, dst, src, n * 4); }
static void cpu_cast_params(aca_backend *be, void *dst, const float *src, size_t n) { cpu_copy(be, dst, src, n * 4); }

// ---- embeddings ----
static void cpu_embed_forward(aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids,
                              const void *wte, const void *wpe, const void *tte, int B, int T, int C) {
    cpu_embed_forward_f32(out, ids, type_ids, wte, wpe, tte, B, T, C);
}
static void cpu_embed_backward(aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                               const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id) {
    cpu_embed_backward_f32(dwte, dwpe, dtte, dout, ids, type_ids, B, T, C, pad_id);
}

// ---- linear ----
static void cpu_linear_forward(aca_backend *be, void *out, const void *in, const void *w, const void *bias, int N,
                               int IC, int OC) {
    cpu_linear_forward_f32(out, in, w, bias, N, IC, OC);
}
static void cpu_linear_backward(aca_backend *be, void *din, float *dw, float *dbias, const void *dout,
                                const void *in, const void *w, int N, int IC, int OC, int accum_din) {
    cpu_linear_backward_f32(din, dw, dbias, dout, in, w, N, IC, OC, accum_din);
}

// ---- layer norm ----
static void cpu_layernorm_forward(aca_backend *be, void *out, float *mean, float *rstd, const void *in,
                                  const void *w, const void *b, int N, int C, float eps) {
    cpu_layernorm_forward_f32(out, mean, rstd, in, w, b, N, C, eps);
}
static void cpu_layernorm_backward(aca_backend *be, void *din, float *dw, float *db, const void *dout,
                                   const void *in, const void *w, const float *mean, const float *rstd, int N,
                                   int C, int accum) {
    cpu_layernorm_backward_f32(din, dw, db, dout, in, w, mean, rstd, N, C, accum);
}

// ---- elementwise ----
static void cpu_add(aca_backend *be, void *out, const void *a, const void *b, size_t n) { cpu_add_f32(out, a, b, n); }
static void cpu_act_forward(aca_backend *be, aca_act act, void *out, const void *in, size_t n) {
    cpu_act_forward_f32(act, out, in, n);
}
static void cpu_act_backward(aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n) {
    cpu_act_backward_f32(act, din, dout, in, n);
}
static void cpu_dropout_forward(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed) {
    cpu_dropout_f32(out, in, n, p, seed, 0);
}
static void cpu_dropout_backward(aca_backend *be, void *din, const void *dout, size_t n, float p, uint64_t seed) {
    cpu_dropout_f32(din, dout, n, p, seed, 0);
}

// ---- capabilities ----
// The CPU kernels run every shape within aca_backend_prepare's limits: they index with size_t and
// call BLAS on one (T,T) or (rows,C) block at a time.
static int cpu_prepare(aca_backend *be, const aca_shape *s, aca_err *e) { return 0; }

// ---- attention ----
// The state is the softmax output before dropout, fp32 (B,NH,T,T).
static size_t cpu_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH) {
    return (size_t)B * NH * T * T * sizeof(float);
}
static void cpu_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask,
                                  int B, int T, int C, int NH, float p_drop, uint64_t seed) {
    cpu_attention_forward_f32(out, state, qkv, mask, B, T, C, NH, p_drop, seed);
}
static void cpu_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                                   const void *state, const int32_t *mask, int B, int T, int C, int NH,
                                   float p_drop, uint64_t seed) {
    cpu_attention_backward_f32(dqkv, dout, qkv, state, mask, B, T, C, NH, p_drop, seed);
}

// ---- classification head ----
static void cpu_cls_gather(aca_backend *be, void *out, const void *in, int B, int T, int C) {
    cpu_cls_gather_f32(out, in, B, T, C);
}
static void cpu_cls_scatter(aca_backend *be, void *din, const void *dout, int B, int T, int C) {
    cpu_cls_scatter_f32(din, dout, B, T, C);
}
static void cpu_cross_entropy(aca_backend *be, float *losses, void *dlogits, const void *logits,
                              const int32_t *labels, int B, int K, float dscale) {
    cpu_cross_entropy_f32(losses, dlogits, logits, labels, B, K, dscale);
}

// ---- optimizer ----
static double cpu_sumsq(aca_backend *be, const float *x, size_t n) { return cpu_sumsq_f32(x, n); }
static void cpu_adamw(aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n,
                      size_t n_decay, const aca_adamw *h) {
    cpu_adamw_f32(p, g, m, v, pc, n, n_decay, h);
}

static const aca_ops CPU_OPS = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memset0 = cpu_memset0,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .from_f32 = cpu_from_f32,
    .to_f32 = cpu_to_f32,
    .cast_params = cpu_cast_params,
    .prepare = cpu_prepare,
    .attention_state_bytes = cpu_attention_state_bytes,
    .embed_forward = cpu_embed_forward,
    .embed_backward = cpu_embed_backward,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .add = cpu_add,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .dropout_forward = cpu_dropout_forward,
    .dropout_backward = cpu_dropout_backward,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .cls_gather = cpu_cls_gather,
    .cls_scatter = cpu_cls_scatter,
    .cross_entropy = cpu_cross_entropy,
    .sumsq = cpu_sumsq,
    .adamw = cpu_adamw,
    // DP-SGD (ops_cpu_dp.c)
    .ghost_linear = cpu_op_ghost_linear,
    .ghost_layernorm = cpu_op_ghost_layernorm,
    .ghost_embed = cpu_op_ghost_embed,
    .scale_rows = cpu_op_scale_rows,
    .dp_noise = cpu_op_dp_noise,
};

aca_backend *aca_backend_cpu_create(aca_err *e) {
    openblas_set_num_threads(1); // see the top of this file
    aca_backend *be = xcalloc(1, sizeof *be);
    be->ops = &CPU_OPS;
    be->dtype = ACA_DT_F32;
    be->deterministic = 1;
    be->tf32 = 0;
    be->attention_used = "cpu";
    be->impl = NULL;
    return aca_backend_checked(be, e);
}
