// The cuDNN attention path (attention.cu chooses it): key-padding lengths from the mask, the
// dropout seed on the device, then the shim's fused forward / backward (cudnn_sdpa.h).  The model
// always passes a mask, so every graph has key padding; dropout only when p > 0 (eval runs p = 0:
// a second graph, built on first use).
#ifdef ACA_HAVE_CUDNN_FE
#include <stdio.h>

#include "common.cuh"
#include "cudnn_sdpa.h"

// seq_q[b] = T (every query row is computed, as on the CPU); seq_kv[b] = the number of leading real
// keys of row b (aca's batches are right-padded; a row with a key after a padding position would
// differ from the CPU op, which masks each key by itself).
static __global__ void seq_lengths_kernel(int32_t *seq_q, int32_t *seq_kv, const int32_t *mask, int B, int T) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    int n = 0;
    if (mask)
        while (n < T && mask[(size_t)b * T + n]) n++;
    else
        n = T;
    seq_q[b] = T, seq_kv[b] = n;
}

static cudnn_sdpa_shape shape_of(aca_backend *be, int B, int T, int C, int NH, float p) {
    cudnn_sdpa_shape s;
    s.B = B, s.T = T, s.NH = NH, s.HS = C / NH, s.dt = be->dtype;
    s.dropout = p > 0, s.p = p > 0 ? p : 0.0f, s.padding = 1;
    return s;
}

static cudnn_sdpa *sdpa_of(aca_backend *be, char *why, size_t n) {
    cuda_impl *c = cuda_of(be);
    if (!c->sdpa) c->sdpa = cudnn_sdpa_create(c->stream, why, n);
    return (cudnn_sdpa *)c->sdpa;
}

void cuda_cudnn_attention_destroy(void *sdpa) { cudnn_sdpa_destroy((cudnn_sdpa *)sdpa); }

int cuda_cudnn_attention_prepare(aca_backend *be, int B, int T, int C, int NH, float p, char *why, size_t n) {
    cuda_impl *c = cuda_of(be);
    if (be->dtype == ACA_DT_F32) {
        snprintf(why, n, "fp32 (cuDNN's flash attention takes bf16 or fp16)");
        return -1;
    }
    if (c->cc_major < 8) {
        snprintf(why, n, "compute capability %d.%d (cuDNN's flash attention needs 8.0 or newer)", c->cc_major,
                 c->cc_minor);
        return -1;
    }
    cudnn_sdpa *s = sdpa_of(be, why, n);
    if (!s) return -1;
    cudnn_sdpa_shape sh = shape_of(be, B, T, C, NH, p);
    return cudnn_sdpa_prepare(s, &sh, why, n);
}

size_t cuda_cudnn_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH) {
    return (size_t)B * NH * T * sizeof(float);
}

// Device lengths and the seed: [seed, offset] int64, then seq_q (B), seq_kv (B) int32.
static int64_t *aux_args(aca_backend *be, const int32_t *mask, int B, int T, uint64_t seed) {
    cuda_impl *c = cuda_of(be);
    size_t bytes = 16 + 8 * (size_t)B;
    if (bytes > c->att_aux_bytes) {
        CUDA_CHECK(cudaStreamSynchronize(c->stream));
        CUDA_CHECK(cudaFree(c->att_aux));
        c->att_aux = cuda_malloc_or_die(bytes, "cuDNN attention arguments");
        c->att_aux_bytes = bytes;
    }
    int64_t *so = (int64_t *)c->att_aux, host[2] = {(int64_t)seed, 0};
    CUDA_CHECK(cudaMemcpyAsync(so, host, sizeof host, cudaMemcpyHostToDevice, c->stream));
    int32_t *seq = (int32_t *)(so + 2);
    seq_lengths_kernel<<<(B + 127) / 128, 128, 0, c->stream>>>(seq, seq + B, mask, B, T);
    CUDA_CHECK_LAUNCH("seq_lengths_kernel");
    return so;
}

static void *workspace_for(aca_backend *be, cudnn_sdpa_shape *sh) {
    char why[512] = "";
    cudnn_sdpa *s = sdpa_of(be, why, sizeof why);
    if (!s || cudnn_sdpa_prepare(s, sh, why, sizeof why))
        cuda_fail_msg(__FILE__, __LINE__, "%s (batch %d x %d: use --attention gemm)", why, sh->B, sh->T);
    return cuda_scratch(be, cudnn_sdpa_workspace(s, sh) + 256);
}

void cuda_cudnn_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                                  int T, int C, int NH, float p, uint64_t seed) {
    cudnn_sdpa_shape sh = shape_of(be, B, T, C, NH, p);
    void *ws = workspace_for(be, &sh);
    int64_t *so = aux_args(be, mask, B, T, seed);
    int32_t *seq = (int32_t *)(so + 2);
    char why[512] = "";
    if (cudnn_sdpa_forward((cudnn_sdpa *)cuda_of(be)->sdpa, &sh, out, (float *)state, qkv, seq, seq + B, so, ws, why,
                           sizeof why))
        cuda_fail_msg(__FILE__, __LINE__, "%s", why);
    cuda_debug_sync("cudnn attention forward", __FILE__, __LINE__);
}

void cuda_cudnn_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                                   const void *state, const int32_t *mask, int B, int T, int C, int NH, float p,
                                   uint64_t seed) {
    cudnn_sdpa_shape sh = shape_of(be, B, T, C, NH, p);
    void *ws = workspace_for(be, &sh);
    int64_t *so = aux_args(be, mask, B, T, seed);
    int32_t *seq = (int32_t *)(so + 2);
    char why[512] = "";
    if (cudnn_sdpa_backward((cudnn_sdpa *)cuda_of(be)->sdpa, &sh, dqkv, dout, qkv, out, (const float *)state, seq,
                            seq + B, so, ws, why, sizeof why))
        cuda_fail_msg(__FILE__, __LINE__, "%s", why);
    cuda_debug_sync("cudnn attention backward", __FILE__, __LINE__);
}
#endif
