// Internal interface of the CPU kernels (not part of the public API; used by ops_cpu.c and the
// tests).  Every kernel exists twice, compiled from one body (cpu_kernels_impl.h): *_f32 is what
// the ops table runs; *_f64 is the same code in double precision, the reference the tests use for
// finite-difference gradient checks and to bound the fp32 kernels' rounding error.
//
// Semantics, shapes and gradient conventions are exactly those of include/aca/ops.h (parameter
// gradients accumulate, activation gradients overwrite unless `accum`).  In the _f64 versions every
// tensor, including mean/rstd, attention probabilities, losses and parameter gradients, is double.
//
// Threading and determinism: OpenMP owns all parallelism.  aca_backend_cpu_create sets OpenBLAS to
// one thread (process-wide), and GEMMs are issued from inside OpenMP loops on blocks of FIXED size
// (rows of the output, or (b,h) pairs), never split along the reduction dimension.  Reductions over
// rows (bias/LayerNorm/embedding gradients, sumsq) run over fixed channel blocks or fixed chunks in
// a fixed order.  So results are bit-identical run to run AND independent of the thread count.
#ifndef ACA_CPU_KERNELS_H
#define ACA_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/ops.h"

// Beyond ops.h:
// - embed: type_ids may be NULL when tte/dtte is given (every token has type 0, as HF's default).
// - cpu_dropout covers n consecutive elements of a site at stream positions idx0 .. idx0+n-1:
//   out[i] = keep(seed, idx0+i) ? in[i] / (1-p) : 0; p <= 0 copies, p >= 1 zeroes; in place allowed.
//   Forward and backward are the same map.
// - probs (attention state): B*NH*T*T elements, softmax output before dropout, in the kernel's type.
// - cross_entropy with 0 <= label < K required, label < 0 ignored; a label >= K yields a NaN loss
//   (the caller validates labels; NaN makes a slip loud instead of reading out of bounds).
#define ACA_CPU_DECLARE(R, S)                                                                          \
    void cpu_embed_forward_##S(R *out, const int32_t *ids, const int32_t *type_ids, const R *wte,     \
                               const R *wpe, const R *tte, int B, int T, int C);                      \
    void cpu_embed_backward_##S(R *dwte, R *dwpe, R *dtte, const R *dout, const int32_t *ids,         \
                                const int32_t *type_ids, int B, int T, int C, int pad_id);            \
    void cpu_linear_forward_##S(R *out, const R *in, const R *w, const R *bias, int N, int IC, int OC); \
    void cpu_linear_backward_##S(R *din, R *dw, R *dbias, const R *dout, const R *in, const R *w,     \
                                 int N, int IC, int OC, int accum_din);                               \
    void cpu_layernorm_forward_##S(R *out, R *mean, R *rstd, const R *in, const R *w, const R *b,     \
                                   int N, int C, double eps);                                         \
    void cpu_layernorm_backward_##S(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,     \
                                    const R *mean, const R *rstd, int N, int C, int accum);           \
    void cpu_add_##S(R *out, const R *a, const R *b, size_t n);                                       \
    void cpu_act_forward_##S(aca_act act, R *out, const R *in, size_t n);                             \
    void cpu_act_backward_##S(aca_act act, R *din, const R *dout, const R *in, size_t n);             \
    void cpu_dropout_##S(R *out, const R *in, size_t n, float p, uint64_t seed, uint64_t idx0);       \
    void cpu_attention_forward_##S(R *out, R *probs, const R *qkv, const int32_t *mask, int B, int T, \
                                   int C, int NH, float p, uint64_t seed);                            \
    void cpu_attention_backward_##S(R *dqkv, const R *dout, const R *qkv, const R *probs,             \
                                    const int32_t *mask, int B, int T, int C, int NH, float p,        \
                                    uint64_t seed);                                                   \
    void cpu_cls_gather_##S(R *out, const R *in, int B, int T, int C);                                \
    void cpu_cls_scatter_##S(R *din, const R *dout, int B, int T, int C);                             \
    void cpu_cross_entropy_##S(R *losses, R *dlogits, const R *logits, const int32_t *labels, int B,  \
                               int K, double dscale);                                                 \
    double cpu_sumsq_##S(const R *x, size_t n);                                                       \
    void cpu_adamw_##S(R *p, const R *g, R *m, R *v, R *pc, size_t n, size_t n_decay, const aca_adamw *h);

ACA_CPU_DECLARE(float, f32)
ACA_CPU_DECLARE(double, f64)

#endif
