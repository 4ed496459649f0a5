// The CPU backend's DP-SGD ops (the DP block of include/aca/ops.h): fp32 wrappers over
// dp_kernels.h, and the noise.
#include "aca/dp_gauss.h"
#include "dp_kernels.h"

void cpu_op_ghost_linear(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                         const int32_t *lens, int B, int T, int IC, int OC, int gram) {
    cpu_ghost_linear_f32(sq_w, sq_b, dout, in, lens, B, T, IC, OC, gram);
}

void cpu_op_ghost_layernorm(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                            const float *rstd, const int32_t *lens, int B, int T, int C) {
    cpu_ghost_layernorm_f32(sq, dout, in, mean, rstd, lens, B, T, C);
}

void cpu_op_ghost_embed(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                        const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C,
                        int pad_id) {
    cpu_ghost_embed_f32(sq_wte, sq_wpe, sq_tte, dout, ids, type_ids, lens, B, T, C, pad_id);
}

void cpu_op_scale_rows(aca_backend *be, void *x, const float *w, int rows, int cols) {
    cpu_scale_rows_f32(x, w, rows, cols);
}

void cpu_dp_noise(float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step) {
    if (!(std > 0) || begin >= end) return;
    size_t p0 = begin / 2, p1 = (end - 1) / 2 + 1; // pairs touching [begin, end)
#pragma omp parallel for schedule(static) if (p1 - p0 >= (1u << 14))
    for (size_t p = p0; p < p1; p++) {
        double x0, x1;
        aca_dp_gauss_pair(key, p, step, std, &x0, &x1);
        if (2 * p >= begin) g[2 * p] += (float)x0;
        if (2 * p + 1 < end) g[2 * p + 1] += (float)x1;
    }
}

void cpu_op_dp_noise(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step) {
    cpu_dp_noise(g, begin, end, std, key, step);
}
