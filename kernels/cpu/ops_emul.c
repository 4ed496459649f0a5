// The reduced-precision emulation backend: the CUDA backend's rounding on the CPU.
//
// Activations and weight copies are STORED in the compute dtype (bf16 or fp16, 16-bit host memory),
// exactly where the CUDA backend stores one; every op loads them to fp32, computes in fp32 (the CPU
// fp32 kernels), and rounds each compute-dtype output to nearest-even, as the CUDA kernels'
// from_f<T> and cuBLAS's fp32-accumulate GEMMs do.  fp32 tensors (parameter gradients, LayerNorm
// statistics, losses, master weights, AdamW state) stay fp32, as on the GPU.  Attention is the GEMM
// composition of the CUDA backend (kernels/attention_gemm.c) run on the cuBLAS test double, so its
// intermediate roundings (probabilities, dropped probabilities, dS) are the GPU's too.
//
// What is NOT emulated: summation order (GEMM tiling, block reductions), fast-math intrinsics.  So
// results match the GPU to rounding noise, not bit for bit; dropout masks are bit-identical (Philox).
// For tests only (tests/test_model_emul.c, tests/test_dp_ghost.c): slow, one thread per conversion.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "aca/ops.h"
#include "../attention_gemm.h"
#include "cpu_kernels.h"
#include "dp_kernels.h"
#include "half.h"

typedef struct {
    aca_backend *cpu; // the fp32 CPU backend: memory and fp32-only ops
} emul_impl;

static aca_dtype DT(const aca_backend *be) { return be->dtype; }

// n compute-dtype elements as a malloc'd fp32 array; NULL for NULL.
static float *up(const aca_backend *be, const void *p, size_t n) {
    if (!p) return NULL;
    float *x = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = half_load(DT(be), p, i);
    return x;
}
// Rounds n fp32 values into compute-dtype storage.
static void down(const aca_backend *be, void *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) half_store(DT(be), dst, i, src[i]);
}
static float *scratch(size_t n) { return xmalloc((n ? n : 1) * sizeof(float)); }

static void emul_destroy(aca_backend *be) {
    emul_impl *x = be->impl;
    aca_backend_destroy(x->cpu);
    free(x);
    free(be);
}

// ---- memory: host memory, as the CPU backend ----
static aca_backend *cpu_of(aca_backend *be) { return ((emul_impl *)be->impl)->cpu; }
static void *emul_alloc(aca_backend *be, size_t bytes, aca_err *e) { return cpu_of(be)->ops->alloc(cpu_of(be), bytes, e); }
static void emul_free(aca_backend *be, void *p) { free(p); }
static void emul_memset0(aca_backend *be, void *p, size_t bytes) { memset(p, 0, bytes); }
static void emul_copy(aca_backend *be, void *dst, const void *src, size_t bytes) {
    if (dst != src) memmove(dst, src, bytes);
}
static void emul_sync(aca_backend *be) {}
static void emul_from_f32(aca_backend *be, void *dst, const float *src, size_t n) { down(be, dst, src, n); }
static void emul_to_f32(aca_backend *be, float *dst, const void *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = half_load(DT(be), src, i);
}

// ---- embeddings: the sum in fp32 from the rounded tables, rounded once ----
static void emul_embed_forward(aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids, const void *wte,
                               const void *wpe, const void *tte, int B, int T, int C) {
    for (int n = 0; n < B * T; n++)
        for (int c = 0; c < C; c++) {
            float we = half_load(DT(be), wte, (size_t)ids[n] * C + c), pe = half_load(DT(be), wpe, (size_t)(n % T) * C + c);
            float o = tte ? (we + half_load(DT(be), tte, (size_t)(type_ids ? type_ids[n] : 0) * C + c)) + pe : we + pe;
            half_store(DT(be), out, (size_t)n * C + c, o);
        }
}
static void emul_embed_backward(aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                                const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id) {
    float *g = up(be, dout, (size_t)B * T * C);
    cpu_embed_backward_f32(dwte, dwpe, dtte, g, ids, type_ids, B, T, C, pad_id);
    free(g);
}

// ---- linear: fp32 accumulation of rounded operands, bias added before the one rounding ----
static void emul_linear_forward(aca_backend *be, void *out, const void *in, const void *w, const void *bias, int N,
                                int IC, int OC) {
    float *x = up(be, in, (size_t)N * IC), *wf = up(be, w, (size_t)OC * IC), *bf = up(be, bias, OC);
    float *o = scratch((size_t)N * OC);
    cpu_linear_forward_f32(o, x, wf, bf, N, IC, OC);
    down(be, out, o, (size_t)N * OC);
    free(x), free(wf), free(bf), free(o);
}
static void emul_linear_backward(aca_backend *be, void *din, float *dw, float *dbias, const void *dout, const void *in,
                                 const void *w, int N, int IC, int OC, int accum_din) {
    float *g = up(be, dout, (size_t)N * OC), *x = up(be, in, (size_t)N * IC), *wf = up(be, w, (size_t)OC * IC);
    float *d = din ? (accum_din ? up(be, din, (size_t)N * IC) : scratch((size_t)N * IC)) : NULL;
    cpu_linear_backward_f32(d, dw, dbias, g, x, wf, N, IC, OC, accum_din);
    if (din) down(be, din, d, (size_t)N * IC);
    free(g), free(x), free(wf), free(d);
}

// ---- layer norm ----
static void emul_layernorm_forward(aca_backend *be, void *out, float *mean, float *rstd, const void *in, const void *w,
                                   const void *b, int N, int C, float eps) {
    float *x = up(be, in, (size_t)N * C), *wf = up(be, w, C), *bf = up(be, b, C), *o = scratch((size_t)N * C);
    cpu_layernorm_forward_f32(o, mean, rstd, x, wf, bf, N, C, eps);
    down(be, out, o, (size_t)N * C);
    free(x), free(wf), free(bf), free(o);
}
static void emul_layernorm_backward(aca_backend *be, void *din, float *dw, float *db, const void *dout, const void *in,
                                    const void *w, const float *mean, const float *rstd, int N, int C, int accum) {
    size_t n = (size_t)N * C;
    float *g = up(be, dout, n), *x = up(be, in, n), *wf = up(be, w, C);
    float *d = accum ? up(be, din, n) : scratch(n);
    cpu_layernorm_backward_f32(d, dw, db, g, x, wf, mean, rstd, N, C, accum);
    down(be, din, d, n);
    free(g), free(x), free(wf), free(d);
}

// ---- elementwise ----
static void emul_add(aca_backend *be, void *out, const void *a, const void *b, size_t n) {
    for (size_t i = 0; i < n; i++) half_store(DT(be), out, i, half_load(DT(be), a, i) + half_load(DT(be), b, i));
}
static void emul_act_forward(aca_backend *be, aca_act act, void *out, const void *in, size_t n) {
    float *x = up(be, in, n);
    cpu_act_forward_f32(act, x, x, n);
    down(be, out, x, n);
    free(x);
}
static void emul_act_backward(aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n) {
    float *g = up(be, dout, n), *x = up(be, in, n);
    cpu_act_backward_f32(act, g, g, x, n);
    down(be, din, g, n);
    free(g), free(x);
}
static void emul_dropout(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed) {
    float *x = up(be, in, n);
    cpu_dropout_f32(x, x, n, p, seed, 0);
    down(be, out, x, n);
    free(x);
}

// ---- capabilities: the host GEMM attention runs the whole batch as one slice of B*NH*T score rows ----
static int emul_prepare(aca_backend *be, const aca_shape *s, aca_err *e) {
    long long rows = (long long)s->B * s->NH * s->T;
    if (rows > INT_MAX)
        return aca_errf(e, ACA_ERR_VALUE, "the emul backend's attention runs batch x heads x tokens = %d x %d x %d = %lld "
                        "score rows in one slice: at most %d", s->B, s->NH, s->T, rows, INT_MAX);
    return 0;
}

// ---- attention: the CUDA backend's GEMM composition on the cuBLAS test double ----
static size_t emul_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH) {
    return att_gemm_state_bytes(DT(be), B, T, NH);
}
static void emul_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                                   int T, int C, int NH, float p_drop, uint64_t seed) {
    att_exec x = att_exec_host(DT(be), 0);
    att_gemm_forward(&x, out, state, qkv, mask, B, T, C, NH, p_drop, seed);
    att_exec_host_free(&x);
}
static void emul_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                                    const void *state, const int32_t *mask, int B, int T, int C, int NH, float p_drop,
                                    uint64_t seed) {
    att_exec x = att_exec_host(DT(be), 0);
    att_gemm_backward(&x, dqkv, dout, qkv, state, mask, B, T, C, NH, p_drop, seed);
    att_exec_host_free(&x);
}

// ---- classification head ----
static void emul_cls_gather(aca_backend *be, void *out, const void *in, int B, int T, int C) {
    size_t es = aca_dtype_size(DT(be));
    for (int b = 0; b < B; b++) memcpy((char *)out + (size_t)b * C * es, (const char *)in + (size_t)b * T * C * es, C * es);
}
static void emul_cls_scatter(aca_backend *be, void *din, const void *dout, int B, int T, int C) {
    size_t es = aca_dtype_size(DT(be));
    memset(din, 0, (size_t)B * T * C * es);
    for (int b = 0; b < B; b++) memcpy((char *)din + (size_t)b * T * C * es, (const char *)dout + (size_t)b * C * es, C * es);
}
static void emul_cross_entropy(aca_backend *be, float *losses, void *dlogits, const void *logits, const int32_t *labels,
                               int B, int K, float dscale) {
    float *x = up(be, logits, (size_t)B * K), *g = dlogits ? scratch((size_t)B * K) : NULL;
    cpu_cross_entropy_f32(losses, g, x, labels, B, K, dscale);
    if (g) down(be, dlogits, g, (size_t)B * K);
    free(x), free(g);
}

// ---- optimizer: fp32, the compute copy rounded ----
static double emul_sumsq(aca_backend *be, const float *x, size_t n) { return cpu_sumsq_f32(x, n); }
static void emul_cast_params(aca_backend *be, void *dst, const float *src, size_t n) { down(be, dst, src, n); }
static void emul_adamw(aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n,
                       size_t n_decay, const aca_adamw *h) {
    cpu_adamw_f32(p, g, m, v, NULL, n, n_decay, h);
    if (pc) down(be, pc, p, n);
}

// ---- DP-SGD: the norms from the rounded activations in fp32 (fp64 sums), as the CUDA kernels ----
static void emul_ghost_linear(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                              const int32_t *lens, int B, int T, int IC, int OC, int gram) {
    float *g = up(be, dout, (size_t)B * T * OC), *x = up(be, in, (size_t)B * T * IC);
    cpu_ghost_linear_f32(sq_w, sq_b, g, x, lens, B, T, IC, OC, gram);
    free(g), free(x);
}
static void emul_ghost_layernorm(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                                 const float *rstd, const int32_t *lens, int B, int T, int C) {
    float *g = up(be, dout, (size_t)B * T * C), *x = up(be, in, (size_t)B * T * C);
    cpu_ghost_layernorm_f32(sq, g, x, mean, rstd, lens, B, T, C);
    free(g), free(x);
}
static void emul_ghost_embed(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                             const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C,
                             int pad_id) {
    float *g = up(be, dout, (size_t)B * T * C);
    cpu_ghost_embed_f32(sq_wte, sq_wpe, sq_tte, g, ids, type_ids, lens, B, T, C, pad_id);
    free(g);
}
static void emul_scale_rows(aca_backend *be, void *x, const float *w, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    float *f = up(be, x, n);
    cpu_scale_rows_f32(f, w, rows, cols);
    down(be, x, f, n);
    free(f);
}
static void emul_dp_noise(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step) {
    cpu_dp_noise(g, begin, end, std, key, step); // fp32 gradients, as on the GPU
}

static const aca_ops EMUL_OPS = {
    .name = "emul",
    .destroy = emul_destroy,
    .alloc = emul_alloc,
    .free = emul_free,
    .memset0 = emul_memset0,
    .upload = emul_copy,
    .download = emul_copy,
    .sync = emul_sync,
    .from_f32 = emul_from_f32,
    .to_f32 = emul_to_f32,
    .cast_params = emul_cast_params,
    .prepare = emul_prepare,
    .attention_state_bytes = emul_attention_state_bytes,
    .embed_forward = emul_embed_forward,
    .embed_backward = emul_embed_backward,
    .linear_forward = emul_linear_forward,
    .linear_backward = emul_linear_backward,
    .layernorm_forward = emul_layernorm_forward,
    .layernorm_backward = emul_layernorm_backward,
    .add = emul_add,
    .act_forward = emul_act_forward,
    .act_backward = emul_act_backward,
    .dropout_forward = emul_dropout,
    .dropout_backward = emul_dropout,
    .attention_forward = emul_attention_forward,
    .attention_backward = emul_attention_backward,
    .cls_gather = emul_cls_gather,
    .cls_scatter = emul_cls_scatter,
    .cross_entropy = emul_cross_entropy,
    .sumsq = emul_sumsq,
    .adamw = emul_adamw,
    .ghost_linear = emul_ghost_linear,
    .ghost_layernorm = emul_ghost_layernorm,
    .ghost_embed = emul_ghost_embed,
    .scale_rows = emul_scale_rows,
    .dp_noise = emul_dp_noise,
};

aca_backend *aca_backend_emul_create(aca_dtype dtype, aca_err *e) {
    aca_backend *cpu = aca_backend_cpu_create(e);
    if (!cpu) return NULL;
    emul_impl *x = xcalloc(1, sizeof *x);
    x->cpu = cpu;
    aca_backend *be = xcalloc(1, sizeof *be);
    be->ops = &EMUL_OPS;
    be->dtype = dtype;
    be->deterministic = 1;
    be->attention_used = "gemm"; // the CUDA backend's GEMM composition, on the cuBLAS double
    be->impl = x;
    return aca_backend_checked(be, e);
}
