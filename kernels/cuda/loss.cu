// Classification head: [CLS] gather/scatter and cross-entropy.
// cls_scatter and cross_entropy's dlogits OVERWRITE.  losses are fp32 (B).
#include "common.cuh"

// out (B,C) = in (B,T,C)[b, 0, :]
template <typename T> static __global__ void cls_gather_kernel(T *out, const T *in, int B, int T_, int C) {
    size_t total = (size_t)B * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / C, c = i % C;
        out[i] = in[b * T_ * C + c];
    }
}

// din (B,T,C) = 0 except din[b,0,:] = dout (B,C)[b,:]
template <typename T> static __global__ void cls_scatter_kernel(T *din, const T *dout, int B, int T_, int C) {
    size_t total = (size_t)B * T_ * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / ((size_t)T_ * C), r = i % ((size_t)T_ * C);
        din[i] = r < (size_t)C ? dout[b * C + r] : from_f<T>(0.0f);
    }
}

void cuda_cls_gather(aca_backend *be, void *out, const void *in, int B, int T, int C) {
    if ((size_t)B * C == 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  cls_gather_kernel<DT><<<cuda_grid((size_t)B * C, 256), 256, 0, cuda_stream(be)>>>(
                      (DT *)out, (const DT *)in, B, T, C));
    CUDA_CHECK_LAUNCH("cls_gather_kernel");
}

void cuda_cls_scatter(aca_backend *be, void *din, const void *dout, int B, int T, int C) {
    size_t total = (size_t)B * T * C;
    if (total == 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  cls_scatter_kernel<DT><<<cuda_grid(total, 256), 256, 0, cuda_stream(be)>>>(
                      (DT *)din, (const DT *)dout, B, T, C));
    CUDA_CHECK_LAUNCH("cls_scatter_kernel");
}

// One thread per example (K is the number of classes, small); sums in double as the CPU backend.
// losses[b] = logsumexp(logits[b]) - logits[b][label]; dlogits = (softmax - onehot) * dscale.
// label < 0: loss 0, zero gradient; label >= K (the caller validates): NaN, loud instead of out of bounds.
template <typename T>
static __global__ void cross_entropy_kernel(float *losses, T *dlogits, const T *logits, const int32_t *labels, int B, int K,
                                     float dscale) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const T *x = logits + (size_t)b * K;
    T *g = dlogits ? dlogits + (size_t)b * K : NULL;
    int y = labels[b];
    if (y < 0 || y >= K) {
        float fill = y < 0 ? 0.0f : __int_as_float(0x7fc00000);
        losses[b] = fill;
        if (g)
            for (int j = 0; j < K; j++) g[j] = from_f<T>(fill);
        return;
    }
    float mx = to_f(x[0]);
    for (int j = 1; j < K; j++) mx = fmaxf(mx, to_f(x[j]));
    double sum = 0.0;
    for (int j = 0; j < K; j++) sum += exp((double)to_f(x[j]) - mx);
    double lse = mx + log(sum);
    losses[b] = (float)(lse - to_f(x[y]));
    if (g)
        for (int j = 0; j < K; j++) g[j] = from_f<T>((float)((exp((double)to_f(x[j]) - lse) - (j == y)) * dscale));
}

void cuda_cross_entropy(aca_backend *be, float *losses, void *dlogits, const void *logits, const int32_t *labels,
                        int B, int K, float dscale) {
    if (B <= 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  cross_entropy_kernel<DT><<<(B + 127) / 128, 128, 0, cuda_stream(be)>>>(
                      losses, (DT *)dlogits, (const DT *)logits, labels, B, K, dscale));
    CUDA_CHECK_LAUNCH("cross_entropy_kernel");
}
