// The CUDA backend: the ops table, device memory, host<->device copies and dtype conversions, the
// stream and the library handles.  The ops themselves live in one file per concern (common.cuh).
//
// Everything runs in order on one stream; download and sync wait for it, upload and the ops do not.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"
#include "dp_ghost.cuh"

// ---- one way to fail ---------------------------------------------------------------------------
static void print_oom_hint(void) {
    size_t free_b = 0, total_b = 0;
    cudaGetLastError();
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
        fprintf(stderr, "aca: the GPU has %.1f MiB free of %.1f MiB\n", free_b / 1048576.0, total_b / 1048576.0);
    fprintf(stderr, "aca: out of GPU memory: lower --batch or --max-len, or use --precision bf16/fp16\n");
}

[[noreturn]] void cuda_fail(const char *call, cudaError_t err, const char *file, int line) {
    fprintf(stderr, "aca: CUDA error %s (%s) in %s at %s:%d\n", cudaGetErrorName(err), cudaGetErrorString(err), call,
            file, line);
    if (err == cudaErrorMemoryAllocation) print_oom_hint();
    exit(err == cudaErrorMemoryAllocation ? ACA_EXIT_MEMORY : ACA_EXIT_DEVICE);
}

[[noreturn]] void cuda_fail_cublas(const char *call, int status, const char *file, int line) {
    fprintf(stderr, "aca: cuBLAS error %d in %s at %s:%d\n", status, call, file, line);
    if (status == CUBLAS_STATUS_ALLOC_FAILED) print_oom_hint();
    exit(status == CUBLAS_STATUS_ALLOC_FAILED ? ACA_EXIT_MEMORY : ACA_EXIT_DEVICE);
}

[[noreturn]] void cuda_fail_cudnn(const char *call, const char *msg, const char *file, int line) {
    fprintf(stderr, "aca: cuDNN error %s in %s at %s:%d\n", msg, call, file, line);
    exit(ACA_EXIT_DEVICE);
}

[[noreturn]] void cuda_fail_msg(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "aca: cuda backend: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s:%d)\n", file, line);
    va_end(ap);
    exit(ACA_EXIT_DEVICE);
}

static int g_sync_each_op; // ACA_CUDA_SYNC=1: set once when a backend is created (debugging switch)

void cuda_debug_sync(const char *what, const char *file, int line) {
    if (!g_sync_each_op) return;
    cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
        fprintf(stderr, "aca: ACA_CUDA_SYNC: the device faulted in %s\n", what);
        cuda_fail(what, err, file, line);
    }
}

void *cuda_malloc_or_die(size_t bytes, const char *what) {
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        fprintf(stderr, "aca: cannot allocate %.1f MiB of GPU memory for %s\n", bytes / 1048576.0, what);
        cuda_fail("cudaMalloc", err, __FILE__, __LINE__);
    }
    return p;
}

void *cuda_scratch(aca_backend *be, size_t bytes) {
    cuda_impl *c = cuda_of(be);
    if (bytes > c->scratch_bytes) {
        CUDA_CHECK(cudaStreamSynchronize(c->stream)); // earlier ops may still read the old buffer
        CUDA_CHECK(cudaFree(c->scratch));
        size_t want = bytes + bytes / 4;
        c->scratch = cuda_malloc_or_die(want, "scratch space of an op");
        c->scratch_bytes = want;
    }
    return c->scratch;
}

static void *cuda_alloc(aca_backend *be, size_t bytes, aca_err *e);

int cuda_scratch_reserve(aca_backend *be, size_t bytes, const char *what, aca_err *e) {
    cuda_impl *c = cuda_of(be);
    if (bytes <= c->scratch_bytes) return 0;
    CUDA_CHECK(cudaStreamSynchronize(c->stream)); // earlier ops may still read the old buffer
    void *p = cuda_alloc(be, bytes, e);
    if (!p) return aca_err_prefix(e, "scratch space for %s", what);
    CUDA_CHECK(cudaFree(c->scratch));
    c->scratch = p;
    c->scratch_bytes = bytes;
    return 0;
}

// ---- memory ----------------------------------------------------------------------------------------
static void *cuda_alloc(aca_backend *be, size_t bytes, aca_err *e) {
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        cudaGetLastError(); // an allocation failure is not sticky: clear it
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        aca_errf(e, err == cudaErrorMemoryAllocation ? ACA_ERR_MEMORY : ACA_ERR_DEVICE,
                 "cuda: cannot allocate %.1f MiB of GPU memory (%s; %.1f MiB free of %.1f MiB): lower --batch or "
                 "--max-len, or use --precision bf16/fp16",
                 bytes / 1048576.0, cudaGetErrorString(err), free_b / 1048576.0, total_b / 1048576.0);
        return NULL;
    }
    return p;
}

static void cuda_free_mem(aca_backend *be, void *p) {
    if (!p) return;
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(be))); // the stream may still use it
    CUDA_CHECK(cudaFree(p));
}

static void cuda_memset0(aca_backend *be, void *p, size_t bytes) {
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream(be)));
}

// From pageable host memory cudaMemcpyAsync returns once the source has been staged, so the caller
// may reuse host_src at once.
static void cuda_upload(aca_backend *be, void *dst, const void *host_src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_stream(be)));
}

static void cuda_download(aca_backend *be, void *host_dst, const void *src, size_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(be)));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(be)));
}

static void cuda_sync(aca_backend *be) { CUDA_CHECK(cudaStreamSynchronize(cuda_stream(be))); }

// ---- conversions -------------------------------------------------------------------------------------
template <typename T> static __global__ void cast_from_f32_kernel(T *dst, const float *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = from_f<T>(src[i]);
}
template <typename T> static __global__ void cast_to_f32_kernel(float *dst, const T *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = to_f(src[i]);
}

void cuda_cast_f32(aca_backend *be, void *dst, const float *src, size_t n) {
    if (n == 0) return;
    if (be->dtype == ACA_DT_F32) {
        if (dst != src) CUDA_CHECK(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyDeviceToDevice, cuda_stream(be)));
        return;
    }
    CUDA_DISPATCH(be->dtype, T,
                  cast_from_f32_kernel<T><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>((T *)dst, src, n));
    CUDA_CHECK_LAUNCH("cast_from_f32_kernel");
}

void cuda_cast_to_f32(aca_backend *be, float *dst, const void *src, size_t n) {
    if (n == 0) return;
    if (be->dtype == ACA_DT_F32) {
        if (dst != src) CUDA_CHECK(cudaMemcpyAsync(dst, src, n * 4, cudaMemcpyDeviceToDevice, cuda_stream(be)));
        return;
    }
    CUDA_DISPATCH(be->dtype, T,
                  cast_to_f32_kernel<T><<<cuda_grid(n, 256), 256, 0, cuda_stream(be)>>>(dst, (const T *)src, n));
    CUDA_CHECK_LAUNCH("cast_to_f32_kernel");
}

// Host fp32 -> device dtype: staged through scratch and converted on the device (round to nearest even).
static void cuda_from_f32(aca_backend *be, void *dst, const float *host_src, size_t n) {
    if (be->dtype == ACA_DT_F32) {
        cuda_upload(be, dst, host_src, n * 4);
        return;
    }
    float *tmp = (float *)cuda_scratch(be, n * 4);
    cuda_upload(be, tmp, host_src, n * 4);
    cuda_cast_f32(be, dst, tmp, n);
}

static void cuda_to_f32(aca_backend *be, float *host_dst, const void *src, size_t n) {
    if (be->dtype == ACA_DT_F32) {
        cuda_download(be, host_dst, src, n * 4);
        return;
    }
    float *tmp = (float *)cuda_scratch(be, n * 4);
    cuda_cast_to_f32(be, tmp, src, n);
    cuda_download(be, host_dst, tmp, n * 4);
}

// ---- the table ---------------------------------------------------------------------------------------
static void cuda_destroy(aca_backend *be) {
    if (!be) return;
    cuda_impl *c = cuda_of(be);
    if (c) {
        cudaStreamSynchronize(c->stream);
        cuda_gemm_cache_free(c->gemm);
#ifdef ACA_HAVE_CUDNN_FE
        cuda_cudnn_attention_destroy(c->sdpa);
#endif
        cudaFree(c->att_aux);
        if (c->lt) cublasLtDestroy(c->lt);
        if (c->cublas) cublasDestroy(c->cublas);
        cudaFree(c->lt_ws);
        cudaFree(c->scratch);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

static const aca_ops CUDA_OPS = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free_mem,
    .memset0 = cuda_memset0,
    .upload = cuda_upload,
    .download = cuda_download,
    .sync = cuda_sync,
    .from_f32 = cuda_from_f32,
    .to_f32 = cuda_to_f32,
    .cast_params = cuda_cast_f32,
    .prepare = cuda_attention_prepare, // attention is the one op whose support depends on the shape
    .attention_state_bytes = cuda_attention_state_bytes,
    .embed_forward = cuda_embed_forward,
    .embed_backward = cuda_embed_backward,
    .linear_forward = cuda_linear_forward,
    .linear_backward = cuda_linear_backward,
    .layernorm_forward = cuda_layernorm_forward,
    .layernorm_backward = cuda_layernorm_backward,
    .add = cuda_add,
    .act_forward = cuda_act_forward,
    .act_backward = cuda_act_backward,
    .dropout_forward = cuda_dropout_forward,
    .dropout_backward = cuda_dropout_backward,
    .attention_forward = cuda_attention_forward,
    .attention_backward = cuda_attention_backward,
    .cls_gather = cuda_cls_gather,
    .cls_scatter = cuda_cls_scatter,
    .cross_entropy = cuda_cross_entropy,
    .sumsq = cuda_sumsq,
    .adamw = cuda_adamw,
    // DP-SGD (dp_ghost.cu)
    .ghost_linear = cuda_ghost_linear,
    .ghost_layernorm = cuda_ghost_layernorm,
    .ghost_embed = cuda_ghost_embed,
    .scale_rows = cuda_scale_rows,
    .dp_noise = cuda_dp_noise,
};

extern "C" aca_backend *aca_backend_cuda_create(aca_dtype dtype, aca_err *e) {
    int ndev = 0;
    cudaError_t err = cudaGetDeviceCount(&ndev);
    if (err != cudaSuccess || ndev == 0) {
        cudaGetLastError();
        aca_errf(e, ACA_ERR_DEVICE, "--device cuda: no CUDA GPU is visible (%s)",
                 err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
        return NULL;
    }
    int dev = 0, major = 0, minor = 0, sms = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    if (dtype == ACA_DT_BF16 && major < 8) {
        aca_errf(e, ACA_ERR_VALUE, "--precision bf16: needs a GPU of compute capability 8.0 or newer (this one is %d.%d); "
                 "use --precision fp16 or fp32", major, minor);
        return NULL;
    }
    cuda_impl *c = (cuda_impl *)calloc(1, sizeof *c);
    aca_backend *be = (aca_backend *)calloc(1, sizeof *be);
    if (!c || !be) {
        free(c);
        free(be);
        aca_errf(e, ACA_ERR_MEMORY, "cuda backend: out of host memory");
        return NULL;
    }
    be->ops = &CUDA_OPS;
    be->dtype = dtype;
    be->deterministic = 1; // see common.cuh: no order-dependent atomics anywhere
    be->tf32 = 0;
    be->attention = ACA_ATT_AUTO;
    be->impl = c;
    c->device = dev;
    c->sm_count = sms;
    c->cc_major = major, c->cc_minor = minor;
    c->attention_path = ACA_ATT_GEMM;
    const char *sync = getenv("ACA_CUDA_SYNC");
    g_sync_each_op = sync && !strcmp(sync, "1");
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasLtCreate(&c->lt));
    c->lt_ws_bytes = (size_t)32 << 20;
    c->lt_ws = cuda_malloc_or_die(c->lt_ws_bytes, "the cuBLASLt workspace");
    return aca_backend_checked(be, e);
}
