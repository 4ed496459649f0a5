// Shared internals of the CUDA backend: checked-call macros, the backend's private state, dtype
// helpers and the declarations of every op (each defined in the .cu file of its concern, collected
// into the ops table by backend.cu).  Not a public header: only kernels/cuda/*.cu include it.
//
// Conventions (include/aca/ops.h): activations and weight copies are in the compute dtype T (float,
// __nv_bfloat16 or __half); every kernel computes in fp32 registers.  Parameter gradients are fp32
// and ACCUMULATE; activation gradients OVERWRITE unless an accum flag says +=.
//
// Determinism: no kernel uses floating-point atomics.  Reductions over rows run over fixed-size
// chunks whose partial sums are added in a fixed order, so every op is bit-reproducible run to run
// on one GPU; cuBLASLt is deterministic for a fixed algorithm, and the algorithm chosen for a shape
// is cached for the life of the backend.
#ifndef ACA_CUDA_COMMON_CUH
#define ACA_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" { // the project's headers are C
#include "aca/ops.h"
}

// ---- checked calls: one way to fail ------------------------------------------------------------
// The ops table's functions return void, so a failing CUDA/cuBLAS call inside an op cannot be
// reported as a status: it prints the call, the file and the line (and, when the device is out of
// memory, what to lower) and exits.  Allocations a user can cause (ops->alloc) return an aca_err.
[[noreturn]] void cuda_fail(const char *call, cudaError_t err, const char *file, int line);
[[noreturn]] void cuda_fail_cublas(const char *call, int status, const char *file, int line);
[[noreturn]] void cuda_fail_cudnn(const char *call, const char *msg, const char *file, int line);
[[noreturn]] void cuda_fail_msg(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess) cuda_fail(#call, err_, __FILE__, __LINE__);                       \
    } while (0)
// ACA_CUDA_SYNC=1 in the environment (read when a backend is created): synchronise after every
// kernel launch and library call, so that a fault is reported by the op that caused it.
void cuda_debug_sync(const char *what, const char *file, int line);
// After every kernel launch: launch-configuration errors surface here (and, with ACA_CUDA_SYNC=1,
// faults inside the kernel).
#define CUDA_CHECK_LAUNCH(kernel)                                                                  \
    do {                                                                                           \
        cudaError_t err_ = cudaGetLastError();                                                     \
        if (err_ != cudaSuccess) cuda_fail("launch of " kernel, err_, __FILE__, __LINE__);         \
        cuda_debug_sync(kernel, __FILE__, __LINE__);                                               \
    } while (0)
#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) cuda_fail_cublas(#call, (int)st_, __FILE__, __LINE__);   \
    } while (0)
#define CUDNN_CHECK(call)                                                                          \
    do {                                                                                           \
        cudnnStatus_t st_ = (call);                                                                \
        if (st_ != CUDNN_STATUS_SUCCESS)                                                           \
            cuda_fail_cudnn(#call, cudnnGetErrorString(st_), __FILE__, __LINE__);                  \
    } while (0)

// ---- backend state -------------------------------------------------------------------------------
struct cuda_gemm_cache; // gemm.cu

typedef struct {
    int device;
    int sm_count;
    int cc_major, cc_minor;
    cudaStream_t stream; // every kernel, copy and GEMM of this backend runs on it, in order
    cublasLtHandle_t lt;
    cublasHandle_t cublas; // created on first need: the fallback for shapes cuBLASLt has no algorithm for
    void *lt_ws; // cuBLASLt workspace
    size_t lt_ws_bytes;
    struct cuda_gemm_cache *gemm; // cached matmul descriptors + algorithms, per shape
    void *scratch;                // grow-only temporary device memory for one op at a time
    size_t scratch_bytes;
    int attention_path;           // ACA_ATT_GEMM or ACA_ATT_CUDNN, resolved by cuda_attention_prepare
    void *sdpa;                   // the cuDNN shim's plans (cudnn_sdpa *), created on first need
    void *att_aux;                // cuDNN attention: seed/offset and sequence lengths on the device
    size_t att_aux_bytes;
} cuda_impl;

static inline cuda_impl *cuda_of(aca_backend *be) { return (cuda_impl *)be->impl; }
static inline cudaStream_t cuda_stream(aca_backend *be) { return cuda_of(be)->stream; }

// Device memory for internal buffers: exits with the OOM message (size asked, what to lower).
void *cuda_malloc_or_die(size_t bytes, const char *what);
// Temporary device memory valid until the next call (grows; a grow synchronizes the stream).
void *cuda_scratch(aca_backend *be, size_t bytes);
// Grows the scratch to at least `bytes` now: 0, or -1 with e naming `what`, the size and what to lower
// (the capability query reserves what the forward and backward will ask, so that they never stop on it).
int cuda_scratch_reserve(aca_backend *be, size_t bytes, const char *what, aca_err *e);

// ---- dtype helpers ---------------------------------------------------------------------------------
__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }

// Runs BODY with the C++ type T bound to the backend's compute dtype.
#define CUDA_DISPATCH(dt, T, ...)                                                                  \
    switch (dt) {                                                                                  \
    case ACA_DT_F32: {                                                                             \
        typedef float T;                                                                           \
        __VA_ARGS__;                                                                               \
        break;                                                                                     \
    }                                                                                              \
    case ACA_DT_BF16: {                                                                            \
        typedef __nv_bfloat16 T;                                                                   \
        __VA_ARGS__;                                                                               \
        break;                                                                                     \
    }                                                                                              \
    case ACA_DT_F16: {                                                                             \
        typedef __half T;                                                                          \
        __VA_ARGS__;                                                                               \
        break;                                                                                     \
    }                                                                                              \
    }

// Grid size for a grid-stride loop over n items with `threads` per block (capped, never 0).
static inline unsigned cuda_grid(size_t n, int threads) {
    size_t g = (n + threads - 1) / threads;
    if (g > 65535u * 16) g = 65535u * 16;
    return g ? (unsigned)g : 1u;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Deterministic column sums (reduce.cu-style, in layernorm.cu): dst (C) += sum over the rows of
// the (nchunk, C) partial sums, chunk 0 first.
void cuda_sum_partials(aca_backend *be, float *dst, const float *partial, int nchunk, int C);
// Rows per chunk of the column reductions (dbias, LayerNorm dw/db, embedding position grads).
enum { CUDA_COL_CHUNK = 64 };

// ---- the ops (signatures of include/aca/ops.h) -----------------------------------------------------
// embed.cu
void cuda_embed_forward(aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids, const void *wte,
                        const void *wpe, const void *tte, int B, int T, int C);
void cuda_embed_backward(aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                         const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id);
// gemm.cu
void cuda_linear_forward(aca_backend *be, void *out, const void *in, const void *w, const void *bias, int N, int IC,
                         int OC);
void cuda_linear_backward(aca_backend *be, void *din, float *dw, float *dbias, const void *dout, const void *in,
                          const void *w, int N, int IC, int OC, int accum_din);
void cuda_gemm_cache_free(struct cuda_gemm_cache *c);
// layernorm.cu
void cuda_layernorm_forward(aca_backend *be, void *out, float *mean, float *rstd, const void *in, const void *w,
                            const void *b, int N, int C, float eps);
void cuda_layernorm_backward(aca_backend *be, void *din, float *dw, float *db, const void *dout, const void *in,
                             const void *w, const float *mean, const float *rstd, int N, int C, int accum);
// dbias (OC) += column sums of dout (N,OC), deterministic.
void cuda_colsum_add(aca_backend *be, float *dbias, const void *dout, int N, int OC);
// elementwise.cu
void cuda_add(aca_backend *be, void *out, const void *a, const void *b, size_t n);
void cuda_act_forward(aca_backend *be, aca_act act, void *out, const void *in, size_t n);
void cuda_act_backward(aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n);
void cuda_dropout_forward(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed);
void cuda_dropout_backward(aca_backend *be, void *din, const void *dout, size_t n, float p, uint64_t seed);
// attention.cu (the dispatcher), attention_gemm.cu, attention_cudnn.cu
int cuda_attention_prepare(aca_backend *be, const aca_shape *s, aca_err *e);
int cuda_gemm_attention_reserve(aca_backend *be, int B, int T, int NH, float p_drop, aca_err *e);
size_t cuda_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH);
size_t cuda_gemm_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH);
void cuda_gemm_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                                 int T, int C, int NH, float p_drop, uint64_t seed);
void cuda_gemm_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *state,
                                  const int32_t *mask, int B, int T, int C, int NH, float p_drop, uint64_t seed);
#ifdef ACA_HAVE_CUDNN_FE
int cuda_cudnn_attention_prepare(aca_backend *be, int B, int T, int C, int NH, float p, char *why, size_t n);
size_t cuda_cudnn_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH);
void cuda_cudnn_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                                  int T, int C, int NH, float p, uint64_t seed);
void cuda_cudnn_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                                   const void *state, const int32_t *mask, int B, int T, int C, int NH, float p,
                                   uint64_t seed);
void cuda_cudnn_attention_destroy(void *sdpa);
#endif
void cuda_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                            int T, int C, int NH, float p_drop, uint64_t seed);
void cuda_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                             const void *state, const int32_t *mask, int B, int T, int C, int NH, float p_drop,
                             uint64_t seed);
// loss.cu
void cuda_cls_gather(aca_backend *be, void *out, const void *in, int B, int T, int C);
void cuda_cls_scatter(aca_backend *be, void *din, const void *dout, int B, int T, int C);
void cuda_cross_entropy(aca_backend *be, float *losses, void *dlogits, const void *logits, const int32_t *labels,
                        int B, int K, float dscale);
// adamw.cu
double cuda_sumsq(aca_backend *be, const float *x, size_t n);
void cuda_adamw(aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n, size_t n_decay,
                const aca_adamw *h);
void cuda_cast_f32(aca_backend *be, void *dst, const float *src, size_t n);   // device fp32 -> dtype
void cuda_cast_to_f32(aca_backend *be, float *dst, const void *src, size_t n); // device dtype -> fp32

#endif
