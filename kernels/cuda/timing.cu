// Timing and device facts for the benchmarks (aca_cuda.h).
#include <stdio.h>
#include <stdlib.h>

#include "aca_cuda.h"
#include "common.cuh"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

extern "C" double aca_cuda_time_ms(aca_backend *be, aca_cuda_fn fn, void *ctx, int warmup, int reps) {
    cudaStream_t s = cuda_stream(be);
    for (int i = 0; i < warmup; i++) fn(ctx);
    CUDA_CHECK(cudaStreamSynchronize(s));
    if (reps < 1) reps = 1;
    double *t = (double *)malloc(reps * sizeof(double));
    if (!t) cuda_fail_msg(__FILE__, __LINE__, "out of host memory");
    cudaEvent_t a, b;
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK(cudaEventRecord(a, s));
        fn(ctx);
        CUDA_CHECK(cudaEventRecord(b, s));
        CUDA_CHECK(cudaEventSynchronize(b));
        float ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
        t[i] = ms;
    }
    CUDA_CHECK(cudaEventDestroy(a));
    CUDA_CHECK(cudaEventDestroy(b));
    qsort(t, reps, sizeof(double), cmp_double);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    free(t);
    return med;
}

extern "C" void aca_cuda_describe(char *buf, size_t n) {
    int dev = 0, drv = 0, rt = 0;
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    CUDA_CHECK(cudaDriverGetVersion(&drv));
    CUDA_CHECK(cudaRuntimeGetVersion(&rt));
    snprintf(buf, n, "%s, %d SMs, cc %d.%d, %.0f GiB, driver CUDA %d.%d, runtime %d.%d", p.name, p.multiProcessorCount,
             p.major, p.minor, p.totalGlobalMem / 1073741824.0, drv / 1000, drv % 1000 / 10, rt / 1000,
             rt % 1000 / 10);
}

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
    cudaStream_t s;
} copy_ctx;

static void copy_once(void *ctx) {
    copy_ctx *c = (copy_ctx *)ctx;
    CUDA_CHECK(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, c->s));
}

extern "C" double aca_cuda_copy_gbps(aca_backend *be, size_t bytes) {
    copy_ctx c;
    c.bytes = bytes;
    c.s = cuda_stream(be);
    c.dst = cuda_malloc_or_die(bytes, "the bandwidth probe");
    void *src = cuda_malloc_or_die(bytes, "the bandwidth probe");
    CUDA_CHECK(cudaMemsetAsync(src, 0x5a, bytes, c.s));
    c.src = src;
    double ms = aca_cuda_time_ms(be, copy_once, &c, 3, 10);
    CUDA_CHECK(cudaFree(c.dst));
    CUDA_CHECK(cudaFree(src));
    return 2.0 * bytes / (ms * 1e-3) / 1e9;
}
