// Internal interface of the CPU DP-SGD kernels (ghost clipping, reweighting, noise): the bodies of
// the ops in the DP block of include/aca/ops.h.  Like cpu_kernels.h, each kernel exists twice from
// one body (dp_kernels_impl.h): *_f32 is what the ops table runs, *_f64 the same code in double, the
// reference the tests bound the fp32 kernels against.  Norm outputs are double in both.
//
// Threading: OpenMP over examples (one example per task, its GEMMs single-threaded), each example's
// sums in a fixed order, so results are bit-identical whatever the thread count.  Rows past lens[b]
// are skipped (ops.h: they hold padding with zero gradient).
#ifndef ACA_CPU_DP_KERNELS_H
#define ACA_CPU_DP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/ops.h"

#define ACA_CPU_DP_DECLARE(R, S)                                                                        \
    void cpu_ghost_linear_##S(double *sq_w, double *sq_b, const R *dout, const R *in, const int32_t *lens, \
                              int B, int T, int IC, int OC, int gram);                                  \
    void cpu_ghost_layernorm_##S(double *sq, const R *dout, const R *in, const R *mean, const R *rstd,     \
                                 const int32_t *lens, int B, int T, int C);                             \
    void cpu_ghost_embed_##S(double *sq_wte, double *sq_wpe, double *sq_tte, const R *dout,               \
                             const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B,     \
                             int T, int C, int pad_id);                                                 \
    void cpu_scale_rows_##S(R *x, const float *w, int rows, int cols);

ACA_CPU_DP_DECLARE(float, f32)
ACA_CPU_DP_DECLARE(double, f64)

// g[j] += std * z_j, j in [begin, end) (kernels/dp_gauss.h); parallel over pairs, same bits for any
// thread count.
void cpu_dp_noise(float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step);

// The ops-table entries (ops_cpu_dp.c), with the signatures of ops.h.
void cpu_op_ghost_linear(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                         const int32_t *lens, int B, int T, int IC, int OC, int gram);
void cpu_op_ghost_layernorm(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                            const float *rstd, const int32_t *lens, int B, int T, int C);
void cpu_op_ghost_embed(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                        const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C,
                        int pad_id);
void cpu_op_scale_rows(aca_backend *be, void *x, const float *w, int rows, int cols);
void cpu_op_dp_noise(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step);

#endif
