// LayerNorm forward/backward (torch.nn.LayerNorm: biased variance, eps inside the square root) and
// the deterministic column reductions shared with the linear layer's bias gradient.
//
// Row statistics: one warp per row, fp32 sums.  Column sums (dw, db, dbias): each block owns a
// chunk of CUDA_COL_CHUNK rows and writes one partial sum per channel; a second kernel adds the
// partials chunk by chunk in order into the fp32 gradient (+=).  No atomics: bit-reproducible.
#include "common.cuh"
#include "launch.h"

// ---- column reductions ---------------------------------------------------------------------------
// partial (nchunk, C): partial[k][c] = sum of src[n][c] over the rows n of chunk k.
// Grid (launch_column_chunks): chunk k on x, channel blocks on y.
template <typename T> static __global__ void colsum_partial_kernel(float *partial, const T *src, int N, int C) {
    int k = blockIdx.x;
    int n0 = k * CUDA_COL_CHUNK, n1 = min(N, n0 + CUDA_COL_CHUNK);
    for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < C; c += gridDim.y * blockDim.x) {
        float s = 0.0f;
        for (int n = n0; n < n1; n++) s += to_f(src[(size_t)n * C + c]);
        partial[(size_t)k * C + c] = s;
    }
}

static __global__ void sum_partials_kernel(float *dst, const float *partial, int nchunk, int C) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int k = 0; k < nchunk; k++) s += partial[(size_t)k * C + c];
        dst[c] += s;
    }
}

void cuda_sum_partials(aca_backend *be, float *dst, const float *partial, int nchunk, int C) {
    sum_partials_kernel<<<cuda_grid((size_t)C, 256), 256, 0, cuda_stream(be)>>>(dst, partial, nchunk, C);
    CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

void cuda_colsum_add(aca_backend *be, float *dbias, const void *dout, int N, int OC) {
    if (N <= 0 || OC <= 0) return;
    int nchunk = (N + CUDA_COL_CHUNK - 1) / CUDA_COL_CHUNK;
    float *partial = (float *)cuda_scratch(be, (size_t)nchunk * OC * sizeof(float));
    launch_grid lg = launch_column_chunks((size_t)N, OC, CUDA_COL_CHUNK, 256);
    dim3 grid((unsigned)lg.x, (unsigned)lg.y);
    CUDA_DISPATCH(be->dtype, T,
                  colsum_partial_kernel<T><<<grid, 256, 0, cuda_stream(be)>>>(partial, (const T *)dout, N, OC));
    CUDA_CHECK_LAUNCH("colsum_partial_kernel");
    cuda_sum_partials(be, dbias, partial, nchunk, OC);
}

// ---- forward ------------------------------------------------------------------------------------------
// One warp per row; two passes over the row for mean and variance (the row stays in L1/L2).
template <typename T>
static __global__ void layernorm_forward_kernel(T *out, float *mean, float *rstd, const T *in, const T *w, const T *b, int N,
                                         int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const T *x = in + (size_t)row * C;
    float s = 0.0f;
    for (int c = lane; c < C; c += 32) s += to_f(x[c]);
    float mu = warp_sum(s) / C;
    float v = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = to_f(x[c]) - mu;
        v += d * d;
    }
    float r = 1.0f / sqrtf(warp_sum(v) / C + eps);
    if (lane == 0) mean[row] = mu, rstd[row] = r;
    T *o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32) o[c] = from_f<T>((to_f(x[c]) - mu) * r * to_f(w[c]) + to_f(b[c]));
}

void cuda_layernorm_forward(aca_backend *be, void *out, float *mean, float *rstd, const void *in, const void *w,
                            const void *b, int N, int C, float eps) {
    if (N <= 0) return;
    CUDA_DISPATCH(be->dtype, T,
                  layernorm_forward_kernel<T><<<(N + 7) / 8, 256, 0, cuda_stream(be)>>>(
                      (T *)out, mean, rstd, (const T *)in, (const T *)w, (const T *)b, N, C, eps));
    CUDA_CHECK_LAUNCH("layernorm_forward_kernel");
}

// ---- backward ---------------------------------------------------------------------------------------
// din = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * w; one warp per row.
template <typename T>
static __global__ void layernorm_backward_din_kernel(T *din, const T *dout, const T *in, const T *w, const float *mean,
                                              const float *rstd, int N, int C, int accum) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const T *x = in + (size_t)row * C, *dy = dout + (size_t)row * C;
    float m = mean[row], r = rstd[row], a = 0.0f, bs = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float xh = (to_f(x[c]) - m) * r, dxh = to_f(dy[c]) * to_f(w[c]);
        a += dxh;
        bs += dxh * xh;
    }
    float ma = warp_sum(a) / C, mb = warp_sum(bs) / C;
    T *dx = din + (size_t)row * C;
    for (int c = lane; c < C; c += 32) {
        float xh = (to_f(x[c]) - m) * r, g = r * (to_f(dy[c]) * to_f(w[c]) - ma - xh * mb);
        dx[c] = from_f<T>(accum ? to_f(dx[c]) + g : g);
    }
}

// Partial sums per chunk of rows: pw[k][c] = sum dout * xhat, pb[k][c] = sum dout.  Chunk k on x.
template <typename T>
static __global__ void layernorm_backward_dwdb_kernel(float *pw, float *pb, const T *dout, const T *in,
                                                      const float *mean, const float *rstd, int N, int C) {
    int k = blockIdx.x;
    int n0 = k * CUDA_COL_CHUNK, n1 = min(N, n0 + CUDA_COL_CHUNK);
    for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < C; c += gridDim.y * blockDim.x) {
        float sw = 0.0f, sb = 0.0f;
        for (int n = n0; n < n1; n++) {
            float dy = to_f(dout[(size_t)n * C + c]);
            sw += dy * ((to_f(in[(size_t)n * C + c]) - mean[n]) * rstd[n]);
            sb += dy;
        }
        pw[(size_t)k * C + c] = sw;
        pb[(size_t)k * C + c] = sb;
    }
}

void cuda_layernorm_backward(aca_backend *be, void *din, float *dw, float *db, const void *dout, const void *in,
                             const void *w, const float *mean, const float *rstd, int N, int C, int accum) {
    if (N <= 0) return;
    cudaStream_t s = cuda_stream(be);
    int nchunk = (N + CUDA_COL_CHUNK - 1) / CUDA_COL_CHUNK;
    float *pw = (float *)cuda_scratch(be, 2 * (size_t)nchunk * C * sizeof(float)), *pb = pw + (size_t)nchunk * C;
    launch_grid lg = launch_column_chunks((size_t)N, C, CUDA_COL_CHUNK, 256);
    dim3 grid((unsigned)lg.x, (unsigned)lg.y);
    CUDA_DISPATCH(be->dtype, T, {
        layernorm_backward_din_kernel<T><<<(N + 7) / 8, 256, 0, s>>>(
            (T *)din, (const T *)dout, (const T *)in, (const T *)w, mean, rstd, N, C, accum);
        CUDA_CHECK_LAUNCH("layernorm_backward_din_kernel");
        layernorm_backward_dwdb_kernel<T><<<grid, 256, 0, s>>>(pw, pb, (const T *)dout, (const T *)in, mean, rstd,
                                                               N, C);
        CUDA_CHECK_LAUNCH("layernorm_backward_dwdb_kernel");
    });
    cuda_sum_partials(be, dw, pw, nchunk, C);
    cuda_sum_partials(be, db, pb, nchunk, C);
}
