// The CUDA backend's DP-SGD ops (dp_ghost.cu), with the signatures of the DP block of
// include/aca/ops.h; collected into the ops table by backend.cu.
#ifndef ACA_CUDA_DP_GHOST_CUH
#define ACA_CUDA_DP_GHOST_CUH

#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "aca/ops.h"
}

void cuda_ghost_linear(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                       const int32_t *lens, int B, int T, int IC, int OC, int gram);
void cuda_ghost_layernorm(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                          const float *rstd, const int32_t *lens, int B, int T, int C);
void cuda_ghost_embed(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                      const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C, int pad_id);
void cuda_scale_rows(aca_backend *be, void *x, const float *w, int rows, int cols);
void cuda_dp_noise(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step);

#endif
