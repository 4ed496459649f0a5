// cuDNN fused attention (flash SDPA forward and backward, dropout, key padding), behind a C
// interface: the one C++ shim over the header-only cuDNN frontend (kernels/cuda/cudnn_sdpa.cc).
// Built only when cuDNN and the frontend headers are found (ACA_HAVE_CUDNN_FE).
//
// Layouts are the ops table's, read through strides (no copies): q, k, v inside the packed qkv
// (B,T,3C), out and dout (B,T,C), dq, dk, dv inside dqkv (B,T,3C).  Key padding comes as per-sequence
// lengths (the real keys are the first seq_kv[b] positions: aca's batches are right-padded); every
// query row is computed (seq_q[b] = T), as the CPU backend does.  Stats (B,NH,T) fp32 is the
// softmax's log-sum-exp the backward needs: the saved state.  cuDNN draws its own dropout mask
// (Philox with a seed and an offset), so with dropout on it cannot match the CPU's mask.
#ifndef ACA_CUDNN_SDPA_H
#define ACA_CUDNN_SDPA_H

#include <stddef.h>
#include <stdint.h>

#include "aca/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int B, T, NH, HS;
    aca_dtype dt; // bf16 or fp16
    int dropout;  // 1: the graph takes a dropout probability p (> 0) and seed/offset tensors
    float p;
    int padding; // 1: key padding through seq_len tensors
} cudnn_sdpa_shape;

// Builds the forward and backward graphs for `shape` for the target sm (e.g. 80, 90) and runs
// cudnn_frontend's validation of them (its support-surface checks: dtypes, head size, strides,
// padding, dropout, the target architecture) without a GPU.  Returns 0, or -1 with the reason in msg.
int cudnn_sdpa_validate(const cudnn_sdpa_shape *shape, int sm, char *msg, size_t msg_len);

// Runtime (needs a GPU): a cache of built execution plans, per shape, on one stream.
typedef struct cudnn_sdpa cudnn_sdpa;
cudnn_sdpa *cudnn_sdpa_create(void *cuda_stream, char *msg, size_t msg_len);
void cudnn_sdpa_destroy(cudnn_sdpa *s);
// Builds (once) the plans for shape; 0, or -1 with the reason (the shape is not supported).
int cudnn_sdpa_prepare(cudnn_sdpa *s, const cudnn_sdpa_shape *shape, char *msg, size_t msg_len);
// seq_q, seq_kv: device int32 (B); seed_offset: device int64 [2] (seed, offset); workspace from
// cudnn_sdpa_workspace (device memory of at least that many bytes).  0, or -1 with msg.
size_t cudnn_sdpa_workspace(cudnn_sdpa *s, const cudnn_sdpa_shape *shape);
int cudnn_sdpa_forward(cudnn_sdpa *s, const cudnn_sdpa_shape *shape, void *out, float *stats, const void *qkv,
                       const int32_t *seq_q, const int32_t *seq_kv, const int64_t *seed_offset, void *workspace,
                       char *msg, size_t msg_len);
int cudnn_sdpa_backward(cudnn_sdpa *s, const cudnn_sdpa_shape *shape, void *dqkv, const void *dout, const void *qkv,
                        const void *out, const float *stats, const int32_t *seq_q, const int32_t *seq_kv,
                        const int64_t *seed_offset, void *workspace, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
