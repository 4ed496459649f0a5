// Optimizer: global sum of squares (for the gradient norm and clipping) and one fused AdamW pass
// over the whole fp32 parameter buffer that also refreshes the compute-dtype weight copy.
#include <math.h>

#include "common.cuh"

// A fixed grid (independent of the device) and a fixed tree order: the same bits every run.
enum { SUMSQ_BLOCKS = 512, SUMSQ_THREADS = 256 };

static __global__ void sumsq_partial_kernel(double *part, const float *x, size_t n) {
    __shared__ double warp_part[SUMSQ_THREADS / 32];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double v = x[i];
        s += v * v;
    }
    s = warp_sum_d(s);
    if (threadIdx.x % 32 == 0) warp_part[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int w = 0; w < SUMSQ_THREADS / 32; w++) t += warp_part[w];
        part[blockIdx.x] = t;
    }
}

static __global__ void sumsq_final_kernel(double *out, const double *part, int nblocks) {
    double t = 0.0;
    for (int k = 0; k < nblocks; k++) t += part[k];
    *out = t;
}

double cuda_sumsq(aca_backend *be, const float *x, size_t n) {
    if (n == 0) return 0.0;
    cudaStream_t s = cuda_stream(be);
    double *part = (double *)cuda_scratch(be, (SUMSQ_BLOCKS + 1) * sizeof(double));
    sumsq_partial_kernel<<<SUMSQ_BLOCKS, SUMSQ_THREADS, 0, s>>>(part, x, n);
    CUDA_CHECK_LAUNCH("sumsq_partial_kernel");
    sumsq_final_kernel<<<1, 1, 0, s>>>(part + SUMSQ_BLOCKS, part, SUMSQ_BLOCKS);
    CUDA_CHECK_LAUNCH("sumsq_final_kernel");
    double out = 0.0;
    CUDA_CHECK(cudaMemcpyAsync(&out, part + SUMSQ_BLOCKS, sizeof out, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return out;
}

// torch.optim.AdamW per element (ops.h); the step's scalars come from the host in double, as the
// CPU backend computes them, and the per-element arithmetic is fp32.
typedef struct {
    float step, bc2_sqrt, decay, b1, b2, nb1, nb2, eps, gs;
} adamw_scalars;

template <typename T>
static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, T *pc, size_t n, size_t n_decay,
                             adamw_scalars k) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i] * k.gs, pi = p[i];
        if (i < n_decay) pi *= k.decay;
        float mi = k.b1 * m[i] + k.nb1 * gi, vi = k.b2 * v[i] + k.nb2 * gi * gi;
        pi -= k.step * mi / (sqrtf(vi) / k.bc2_sqrt + k.eps);
        m[i] = mi, v[i] = vi, p[i] = pi;
        if (pc) pc[i] = from_f<T>(pi);
    }
}

void cuda_adamw(aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n, size_t n_decay,
                const aca_adamw *h) {
    if (n == 0) return;
    double bc1 = 1.0 - pow(h->beta1, h->t), bc2 = 1.0 - pow(h->beta2, h->t);
    adamw_scalars k;
    k.step = (float)(h->lr / bc1);
    k.bc2_sqrt = (float)sqrt(bc2);
    k.decay = (float)(1.0 - (double)h->lr * h->weight_decay);
    k.b1 = h->beta1, k.b2 = h->beta2;
    k.nb1 = (float)(1.0 - h->beta1), k.nb2 = (float)(1.0 - h->beta2);
    k.eps = h->eps, k.gs = h->grad_scale;
    CUDA_DISPATCH(be->dtype, DT,
                  adamw_kernel<DT><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>(p, g, m, v, (DT *)pc, n, n_decay,
                                                                                    k));
    CUDA_CHECK_LAUNCH("adamw_kernel");
}
