// Tensor-core attention: the GEMM composition of kernels/attention_gemm.c run on cuBLAS
// (cublasGemmStridedBatchedEx: compute-dtype operands, fp32 accumulation; TF32 only when the fp32
// backend allows it) and the two row kernels below.  The composition, its arguments and its
// semantics are tested on the CPU against the CPU attention op (tests/test_attention_gemm.c, the
// cuBLAS test double); this file only executes them.
//
// Row kernels: one warp per row of T scores.  Forward: max, sum of exp, then P (saved, dtype) and
// Pd (dtype) in one pass that draws Philox once per block of 4 consecutive elements of the row's
// stream and uses all 4 words (blocks straddling two rows are drawn by both).  Backward: D = sum
// P * dP, then dS = P (dP - D) and Pd.  fp32 arithmetic; masked keys' scores replaced by -FLT_MAX.
#include <float.h>

#include "../attention_gemm.h"
#include "aca/philox.h"
#include "common.cuh"
#include "launch.h"

enum { ROWS_THREADS = 256, ROWS_PER_BLOCK = ROWS_THREADS / 32 };

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ bool row_masked(const att_rows &r, size_t row, int j) {
    return r.mask && r.mask[(row / ((size_t)r.NH * r.T)) * r.T + j] == 0;
}

// Calls f(j, keep_scale) for each element j of the row, lane by lane in blocks of 4 stream
// positions: one Philox draw per block, its 4 words for its 4 elements.
template <typename F> __device__ __forceinline__ void row_blocks(const att_rows &r, size_t row, int lane, F f) {
    uint64_t base = r.idx0 + (uint64_t)row * r.T, g0 = base >> 2, g1 = (base + r.T - 1) >> 2;
    for (uint64_t g = g0 + lane; g <= g1; g += 32) {
        aca_philox4 w = {{0u, 0u, 0u, 0u}};
        if (r.Pd)
            w = aca_philox4x32((uint32_t)g, (uint32_t)(g >> 32), 0u, 0u, (uint32_t)r.seed, (uint32_t)(r.seed >> 32));
#pragma unroll
        for (int k = 0; k < 4; k++) {
            long long j = (long long)(4 * g + k) - (long long)base;
            if (j < 0 || j >= r.T) continue;
            f((int)j, r.Pd ? (w.v[k] >= r.thr ? r.scale : 0.0f) : 1.0f);
        }
    }
}

template <typename T> static __global__ void __launch_bounds__(ROWS_THREADS) att_rows_forward_kernel(att_rows r) {
    size_t row = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= (size_t)r.rows) return;
    const float *s = r.S + row * r.T;
    float mx = -INFINITY;
    for (int j = lane; j < r.T; j += 32) mx = fmaxf(mx, row_masked(r, row, j) ? -FLT_MAX : s[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < r.T; j += 32) sum += expf((row_masked(r, row, j) ? -FLT_MAX : s[j]) - mx);
    float inv = 1.0f / warp_sum(sum);
    T *P = (T *)r.P + row * r.T, *Pd = r.Pd ? (T *)r.Pd + row * r.T : NULL;
    row_blocks(r, row, lane, [&](int j, float ks) {
        float p = expf((row_masked(r, row, j) ? -FLT_MAX : s[j]) - mx) * inv;
        P[j] = from_f<T>(p);
        if (Pd) Pd[j] = from_f<T>(p * ks);
    });
}

template <typename T> static __global__ void __launch_bounds__(ROWS_THREADS) att_rows_backward_kernel(att_rows r) {
    size_t row = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= (size_t)r.rows) return;
    const float *g = r.dPd + row * r.T;
    const T *P = (const T *)r.P + row * r.T;
    float dot = 0.0f;
    row_blocks(r, row, lane, [&](int j, float ks) { dot += to_f(P[j]) * (g[j] * ks); });
    dot = warp_sum(dot);
    T *dS = (T *)r.dS + row * r.T, *Pd = r.Pd ? (T *)r.Pd + row * r.T : NULL;
    row_blocks(r, row, lane, [&](int j, float ks) {
        float pj = to_f(P[j]);
        dS[j] = from_f<T>(row_masked(r, row, j) ? 0.0f : pj * (g[j] * ks - dot));
        if (Pd) Pd[j] = from_f<T>(pj * ks);
    });
}

// ---- the executor -----------------------------------------------------------------------------------
static cudaDataType_t blas_type(aca_dtype dt) {
    return dt == ACA_DT_F32 ? CUDA_R_32F : dt == ACA_DT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

static cublasHandle_t blas_handle(aca_backend *be) {
    cuda_impl *c = cuda_of(be);
    if (!c->cublas) {
        CUBLAS_CHECK(cublasCreate(&c->cublas));
        CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream));
        CUBLAS_CHECK(cublasSetWorkspace(c->cublas, c->lt_ws, c->lt_ws_bytes)); // one fixed workspace: reproducible
    }
    return c->cublas;
}

static void exec_gemm(const att_exec *x, const att_gemm *g) {
    aca_backend *be = (aca_backend *)x->ctx;
    cublasComputeType_t ct = (be->dtype == ACA_DT_F32 && be->tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(blas_handle(be), g->transa ? CUBLAS_OP_T : CUBLAS_OP_N,
                                            g->transb ? CUBLAS_OP_T : CUBLAS_OP_N, g->m, g->n, g->k, &g->alpha, g->A,
                                            blas_type(g->ab_type), g->lda, g->strideA, g->B, blas_type(g->ab_type),
                                            g->ldb, g->strideB, &g->beta, g->C, blas_type(g->c_type), g->ldc,
                                            g->strideC, g->batch, ct, CUBLAS_GEMM_DEFAULT));
    cuda_debug_sync("cublasGemmStridedBatchedEx (attention)", __FILE__, __LINE__);
}

static void exec_rows_forward(const att_exec *x, const att_rows *r) {
    aca_backend *be = (aca_backend *)x->ctx;
    unsigned blocks = (unsigned)launch_rows((size_t)r->rows, ROWS_PER_BLOCK).x;
    CUDA_DISPATCH(be->dtype, DT, att_rows_forward_kernel<DT><<<blocks, ROWS_THREADS, 0, cuda_stream(be)>>>(*r));
    CUDA_CHECK_LAUNCH("att_rows_forward_kernel");
}

static void exec_rows_backward(const att_exec *x, const att_rows *r) {
    aca_backend *be = (aca_backend *)x->ctx;
    unsigned blocks = (unsigned)launch_rows((size_t)r->rows, ROWS_PER_BLOCK).x;
    CUDA_DISPATCH(be->dtype, DT, att_rows_backward_kernel<DT><<<blocks, ROWS_THREADS, 0, cuda_stream(be)>>>(*r));
    CUDA_CHECK_LAUNCH("att_rows_backward_kernel");
}

static void *exec_scratch(const att_exec *x, size_t bytes) { return cuda_scratch((aca_backend *)x->ctx, bytes); }

static att_exec cuda_att_exec(aca_backend *be) {
    att_exec x = {exec_gemm, exec_rows_forward, exec_rows_backward, exec_scratch, be->dtype, ATT_GEMM_GPU_SLICE_BYTES, be};
    return x;
}

size_t cuda_gemm_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH) {
    return att_gemm_state_bytes(be->dtype, B, T, NH);
}

int cuda_gemm_attention_reserve(aca_backend *be, int B, int T, int NH, float p_drop, aca_err *e) {
    att_exec x = cuda_att_exec(be);
    return cuda_scratch_reserve(be, att_gemm_scratch_bytes(&x, B, T, NH, p_drop), "the attention's scores", e);
}

void cuda_gemm_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                                 int T, int C, int NH, float p_drop, uint64_t seed) {
    att_exec x = cuda_att_exec(be);
    att_gemm_forward(&x, out, state, qkv, mask, B, T, C, NH, p_drop, seed);
}

void cuda_gemm_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *state,
                                  const int32_t *mask, int B, int T, int C, int NH, float p_drop, uint64_t seed) {
    att_exec x = cuda_att_exec(be);
    att_gemm_backward(&x, dqkv, dout, qkv, state, mask, B, T, C, NH, p_drop, seed);
}
