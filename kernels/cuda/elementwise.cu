// Elementwise ops: add, activations (exact-erf GELU, ReLU, tanh) forward and backward, dropout.
// All overwrite their output; in-place use is allowed exactly where ops.h allows it (each thread
// reads its element before writing it).
//
// Dropout uses the Philox stream of include/aca/philox.h: element i is kept iff
// aca_dropout_keep(seed, i, threshold), so masks are bit-identical to the CPU backend.  One thread
// handles one Philox block (4 consecutive elements) and draws it once.
#include "aca/philox.h"
#include "common.cuh"

template <typename T> static __global__ void add_kernel(T *out, const T *a, const T *b, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = from_f<T>(to_f(a[i]) + to_f(b[i]));
}

void cuda_add(aca_backend *be, void *out, const void *a, const void *b, size_t n) {
    if (n == 0) return;
    CUDA_DISPATCH(be->dtype, T,
                  add_kernel<T><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>((T *)out, (const T *)a,
                                                                                  (const T *)b, n));
    CUDA_CHECK_LAUNCH("add_kernel");
}

// GELU: 0.5 x (1 + erf(x/sqrt 2)); derivative Phi(x) + x phi(x).
template <typename T> static __global__ void act_forward_kernel(int act, T *out, const T *in, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = to_f(in[i]), y;
        if (act == ACA_ACT_GELU)
            y = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        else if (act == ACA_ACT_RELU)
            y = x > 0.0f ? x : 0.0f;
        else
            y = tanhf(x);
        out[i] = from_f<T>(y);
    }
}

template <typename T> static __global__ void act_backward_kernel(int act, T *din, const T *dout, const T *in, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = to_f(in[i]), g = to_f(dout[i]), d;
        if (act == ACA_ACT_GELU) {
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
            d = g * (cdf + x * pdf);
        } else if (act == ACA_ACT_RELU) {
            d = x > 0.0f ? g : 0.0f;
        } else {
            float y = tanhf(x);
            d = g * (1.0f - y * y);
        }
        din[i] = from_f<T>(d);
    }
}

void cuda_act_forward(aca_backend *be, aca_act act, void *out, const void *in, size_t n) {
    if (n == 0) return;
    CUDA_DISPATCH(be->dtype, T,
                  act_forward_kernel<T><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>((int)act, (T *)out,
                                                                                          (const T *)in, n));
    CUDA_CHECK_LAUNCH("act_forward_kernel");
}

void cuda_act_backward(aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n) {
    if (n == 0) return;
    CUDA_DISPATCH(be->dtype, T,
                  act_backward_kernel<T><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>(
                      (int)act, (T *)din, (const T *)dout, (const T *)in, n));
    CUDA_CHECK_LAUNCH("act_backward_kernel");
}

// out[i] = keep(seed, i) ? in[i] * scale : 0 for the Philox block g = elements 4g .. 4g+3.
template <typename T>
static __global__ void dropout_kernel(T *out, const T *in, size_t n, uint32_t thr, float scale, uint64_t seed) {
    size_t nblk = (n + 3) / 4;
    for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < nblk; g += (size_t)gridDim.x * blockDim.x) {
        aca_philox4 r = aca_philox4x32((uint32_t)g, (uint32_t)(g >> 32), 0u, 0u, (uint32_t)seed, (uint32_t)(seed >> 32));
#pragma unroll
        for (int lane = 0; lane < 4; lane++) {
            size_t i = 4 * g + lane;
            if (i < n) out[i] = from_f<T>(r.v[lane] >= thr ? to_f(in[i]) * scale : 0.0f);
        }
    }
}

static void dropout_apply(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed) {
    size_t es = aca_dtype_size(be->dtype);
    if (n == 0) return;
    if (!(p > 0)) { // identity
        if (out != in) CUDA_CHECK(cudaMemcpyAsync(out, in, n * es, cudaMemcpyDeviceToDevice, cuda_stream(be)));
        return;
    }
    if (p >= 1) {
        CUDA_CHECK(cudaMemsetAsync(out, 0, n * es, cuda_stream(be)));
        return;
    }
    uint32_t thr = aca_dropout_threshold(p);
    float scale = (float)(1.0 / (1.0 - (double)p));
    CUDA_DISPATCH(be->dtype, T,
                  dropout_kernel<T><<<cuda_grid((n + 3) / 4, 256), 256, 0, cuda_stream(be)>>>(
                      (T *)out, (const T *)in, n, thr, scale, seed));
    CUDA_CHECK_LAUNCH("dropout_kernel");
}

void cuda_dropout_forward(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed) {
    dropout_apply(be, out, in, n, p, seed);
}

// The same mask and scale as the forward pass: din = keep ? dout / (1-p) : 0.
void cuda_dropout_backward(aca_backend *be, void *din, const void *dout, size_t n, float p, uint64_t seed) {
    dropout_apply(be, din, dout, n, p, seed);
}
