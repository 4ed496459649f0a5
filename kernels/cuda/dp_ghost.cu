// DP-SGD on the GPU (the DP block of include/aca/ops.h): per-example gradient norms by ghost clipping,
// the row reweighting of the second backward, and the noise.  The CPU twins are
// kernels/cpu/dp_kernels_impl.h; tests/gpu/test_dp_cuda.c compares the two.
//
// Norm outputs (B) are fp64 and ACCUMULATE (+=).  Every reduction is one block per example with a
// fixed block size, each thread summing a fixed strided subset in double and the block combining the
// partial sums in a fixed tree: bit-reproducible run to run, no atomics.  Where several sq arrays
// alias (the model passes one array for all), one kernel adds them in order from one thread.
//
// The Gram matrices (and, in the materialised form, the per-example gradients) come from cuBLAS
// strided-batched GEMMs over all T rows of each example, fp32 output and accumulation: rows past
// lens[b] hold padding with a zero output gradient (ops.h), so in the materialised form they add
// exact zeros, and the Gram reduction reads only the rows below lens[b].
#include <limits.h>
#include <math.h>

#include "aca/dp_gauss.h"
#include "common.cuh"
#include "dp_ghost.cuh"

enum { DP_THREADS = 256 };

// Block-wide sum of one double per thread, in a fixed order; the result is valid in thread 0.
__device__ double dp_block_sum(double v) {
    __shared__ double part[DP_THREADS / 32];
    v = warp_sum_d(v);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < DP_THREADS / 32; w++) s += part[w];
    __syncthreads(); // part may be reused by the caller's next sum
    return s;
}

__device__ __forceinline__ int dp_rows(const int32_t *lens, int b, int T) {
    if (!lens) return T;
    int L = lens[b];
    return L < 0 ? 0 : L > T ? T : L;
}

// The cuBLAS handle of the backend (created on first need, on the backend's stream, as gemm.cu's
// fallback does).
static cublasHandle_t dp_cublas(aca_backend *be) {
    cuda_impl *ci = cuda_of(be);
    if (!ci->cublas) {
        CUBLAS_CHECK(cublasCreate(&ci->cublas));
        CUBLAS_CHECK(cublasSetStream(ci->cublas, ci->stream));
    }
    return ci->cublas;
}

static cudaDataType_t dp_type(aca_dtype dt) {
    return dt == ACA_DT_F32 ? CUDA_R_32F : dt == ACA_DT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

// ---- linear -------------------------------------------------------------------------------------
// Row-major X (T,W) of example b is the column-major (W x T) matrix X' with leading dimension W.
// gram (nb, T, T) fp32 = X_b X_b^T = X'^T X' for the nb examples starting at x.
static void dp_gram(aca_backend *be, float *gram, const void *x, int nb, int T, int W) {
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = dp_type(be->dtype);
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(dp_cublas(be), CUBLAS_OP_T, CUBLAS_OP_N, T, T, W, &one, x, t, W,
                                            (long long)T * W, x, t, W, (long long)T * W, &zero, gram, CUDA_R_32F, T,
                                            (long long)T * T, nb, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// sq[b] += sum_{t,s < L_b} ga[b][t][s] * gg[b][t][s]
__global__ void dp_gram_reduce_kernel(double *sq, const float *ga, const float *gg, const int32_t *lens, int T) {
    int b = blockIdx.x, L = dp_rows(lens, b, T);
    const float *x = ga + (size_t)b * T * T, *y = gg + (size_t)b * T * T;
    double s = 0.0;
    for (int i = threadIdx.x; i < L * L; i += DP_THREADS) {
        int t = i / L, u = i % L;
        s += (double)x[(size_t)t * T + u] * (double)y[(size_t)t * T + u];
    }
    s = dp_block_sum(s);
    if (threadIdx.x == 0) sq[b] += s;
}

// m (nb, OC, IC) fp32: m_b = G_b^T A_b, i.e. column-major (IC x OC) = A' G'^T.
static void dp_materialise(aca_backend *be, float *m, const void *dout, const void *in, int nb, int T, int IC, int OC) {
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = dp_type(be->dtype);
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(dp_cublas(be), CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, T, &one, in, t, IC,
                                            (long long)T * IC, dout, t, OC, (long long)T * OC, &zero, m, CUDA_R_32F, IC,
                                            (long long)IC * OC, nb, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// sq[b] += sum of squares of m_b (n floats each), for the nb examples starting at sq.
__global__ void dp_sumsq_rows_kernel(double *sq, const float *m, size_t n) {
    int b = blockIdx.x;
    const float *x = m + (size_t)b * n;
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += DP_THREADS) s += (double)x[i] * (double)x[i];
    s = dp_block_sum(s);
    if (threadIdx.x == 0) sq[b] += s;
}

// sq[b] += ||sum_{t < L_b} g_t||^2, g rows of width C.
template <typename T> __global__ void dp_rowsum_sq_kernel(double *sq, const T *g, const int32_t *lens, int Tn, int C) {
    int b = blockIdx.x, L = dp_rows(lens, b, Tn);
    const T *x = g + (size_t)b * Tn * C;
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += DP_THREADS) {
        double a = 0.0;
        for (int t = 0; t < L; t++) a += (double)to_f(x[(size_t)t * C + c]);
        s += a * a;
    }
    s = dp_block_sum(s);
    if (threadIdx.x == 0) sq[b] += s;
}

// Examples per batched GEMM of the materialised form: its (nb, OC, IC) fp32 scratch stays under
// 256 MiB (at least one example).
static int dp_chunk(int IC, int OC) {
    size_t per = (size_t)IC * OC * sizeof(float), cap = (size_t)256 << 20;
    return per >= cap ? 1 : (int)(cap / per);
}

void cuda_ghost_linear(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                       const int32_t *lens, int B, int T, int IC, int OC, int gram) {
    if (B <= 0 || T <= 0) return;
    cudaStream_t s = cuda_stream(be);
    size_t es = aca_dtype_size(be->dtype);
    if (sq_w && gram) {
        float *ga = (float *)cuda_scratch(be, 2 * (size_t)B * T * T * sizeof(float)), *gg = ga + (size_t)B * T * T;
        dp_gram(be, ga, in, B, T, IC);
        dp_gram(be, gg, dout, B, T, OC);
        dp_gram_reduce_kernel<<<B, DP_THREADS, 0, s>>>(sq_w, ga, gg, lens, T);
        CUDA_CHECK_LAUNCH("dp_gram_reduce_kernel");
    } else if (sq_w) {
        int chunk = dp_chunk(IC, OC);
        float *m = (float *)cuda_scratch(be, (size_t)(chunk < B ? chunk : B) * IC * OC * sizeof(float));
        for (int b0 = 0; b0 < B; b0 += chunk) {
            int nb = B - b0 < chunk ? B - b0 : chunk;
            dp_materialise(be, m, (const char *)dout + (size_t)b0 * T * OC * es, (const char *)in + (size_t)b0 * T * IC * es, nb,
                           T, IC, OC);
            dp_sumsq_rows_kernel<<<nb, DP_THREADS, 0, s>>>(sq_w + b0, m, (size_t)IC * OC);
            CUDA_CHECK_LAUNCH("dp_sumsq_rows_kernel");
        }
    }
    if (sq_b) {
        CUDA_DISPATCH(be->dtype, DT, dp_rowsum_sq_kernel<DT><<<B, DP_THREADS, 0, s>>>(sq_b, (const DT *)dout, lens, T, OC));
        CUDA_CHECK_LAUNCH("dp_rowsum_sq_kernel");
    }
}

// ---- layer norm ---------------------------------------------------------------------------------
// sq[b] += sum_c (sum_t dy xhat)^2 + (sum_t dy)^2, xhat = (x - mean) rstd in fp32 as the backward.
template <typename T>
__global__ void dp_layernorm_kernel(double *sq, const T *dout, const T *in, const float *mean, const float *rstd,
                                    const int32_t *lens, int Tn, int C) {
    int b = blockIdx.x, L = dp_rows(lens, b, Tn);
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += DP_THREADS) {
        double dw = 0.0, db = 0.0;
        for (int t = 0; t < L; t++) {
            size_t r = (size_t)b * Tn + t, i = r * C + c;
            float dy = to_f(dout[i]), xh = (to_f(in[i]) - mean[r]) * rstd[r];
            dw += (double)dy * (double)xh;
            db += (double)dy;
        }
        s += dw * dw + db * db;
    }
    s = dp_block_sum(s);
    if (threadIdx.x == 0) sq[b] += s;
}

void cuda_ghost_layernorm(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                          const float *rstd, const int32_t *lens, int B, int T, int C) {
    if (B <= 0 || T <= 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  dp_layernorm_kernel<DT><<<B, DP_THREADS, 0, cuda_stream(be)>>>(sq, (const DT *)dout, (const DT *)in,
                                                                               mean, rstd, lens, T, C));
    CUDA_CHECK_LAUNCH("dp_layernorm_kernel");
}

// ---- embeddings ---------------------------------------------------------------------------------
// This thread's share of sum over the distinct keys (key == skip left out) of ||sum_{t: key_t = k}
// g_t||^2 over its channels; a group is summed when its first row is met.  key NULL: every key 0.
template <typename T>
__device__ double dp_grouped_sq(const T *g, const int32_t *key, int L, int C, int skip) {
    double s = 0.0;
    for (int t = 0; t < L; t++) {
        int k = key ? key[t] : 0, seen = k == skip;
        for (int u = 0; u < t && !seen; u++) seen = (key ? key[u] : 0) == k;
        if (seen) continue;
        for (int c = threadIdx.x; c < C; c += DP_THREADS) {
            double a = 0.0;
            for (int u = t; u < L; u++)
                if ((key ? key[u] : 0) == k) a += (double)to_f(g[(size_t)u * C + c]);
            s += a * a;
        }
    }
    return s;
}

template <typename T>
__global__ void dp_embed_kernel(double *sq_wte, double *sq_wpe, double *sq_tte, const T *dout, const int32_t *ids,
                                const int32_t *type_ids, const int32_t *lens, int Tn, int C, int pad_id) {
    int b = blockIdx.x, L = dp_rows(lens, b, Tn);
    const T *g = dout + (size_t)b * Tn * C;
    double w = 0.0, p = 0.0, y = 0.0;
    if (sq_wte) w = dp_block_sum(dp_grouped_sq(g, ids + (size_t)b * Tn, L, C, pad_id < 0 ? INT_MIN : pad_id));
    if (sq_tte) y = dp_block_sum(dp_grouped_sq(g, type_ids ? type_ids + (size_t)b * Tn : NULL, L, C, INT_MIN));
    if (sq_wpe) {
        double s = 0.0;
        for (size_t i = threadIdx.x; i < (size_t)L * C; i += DP_THREADS) {
            double v = (double)to_f(g[i]);
            s += v * v;
        }
        p = dp_block_sum(s);
    }
    if (threadIdx.x == 0) { // the arrays may alias: one thread, one order
        if (sq_wte) sq_wte[b] += w;
        if (sq_wpe) sq_wpe[b] += p;
        if (sq_tte) sq_tte[b] += y;
    }
}

void cuda_ghost_embed(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                      const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C, int pad_id) {
    if (B <= 0 || T <= 0 || !(sq_wte || sq_wpe || sq_tte)) return;
    CUDA_DISPATCH(be->dtype, DT,
                  dp_embed_kernel<DT><<<B, DP_THREADS, 0, cuda_stream(be)>>>(sq_wte, sq_wpe, sq_tte, (const DT *)dout, ids,
                                                                           type_ids, lens, T, C, pad_id));
    CUDA_CHECK_LAUNCH("dp_embed_kernel");
}

// ---- reweighting and noise ----------------------------------------------------------------------
template <typename T> __global__ void dp_scale_rows_kernel(T *x, const float *w, size_t n, int cols) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = from_f<T>(to_f(x[i]) * w[i / cols]);
}

void cuda_scale_rows(aca_backend *be, void *x, const float *w, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    if (n == 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  dp_scale_rows_kernel<DT><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>((DT *)x, w, n, cols));
    CUDA_CHECK_LAUNCH("dp_scale_rows_kernel");
}

// One thread per Box-Muller pair p in [p0, p1) (aca/dp_gauss.h), writing its coordinates in [begin, end).
__global__ void dp_noise_kernel(float *g, size_t begin, size_t end, size_t p0, size_t p1, double std, uint64_t key,
                                uint64_t step) {
    for (size_t p = p0 + blockIdx.x * (size_t)blockDim.x + threadIdx.x; p < p1; p += (size_t)gridDim.x * blockDim.x) {
        double x0, x1;
        aca_dp_gauss_pair(key, p, step, std, &x0, &x1);
        if (2 * p >= begin) g[2 * p] += (float)x0;
        if (2 * p + 1 < end) g[2 * p + 1] += (float)x1;
    }
}

void cuda_dp_noise(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step) {
    if (!(std > 0) || begin >= end) return;
    size_t p0 = begin / 2, p1 = (end - 1) / 2 + 1;
    dp_noise_kernel<<<cuda_grid(p1 - p0, 256), 256, 0, cuda_stream(be)>>>(g, begin, end, p0, p1, std, key, step);
    CUDA_CHECK_LAUNCH("dp_noise_kernel");
}
