// The host executor of the GEMM attention (attention_gemm.h): a cuBLAS test double that runs each
// cublasGemmStridedBatchedEx argument list literally (column-major, op, m, n, k, lda/ldb/ldc,
// strides, batch count; operands stored in their dtype, fp32 accumulation, one rounding of C), and
// host twins of the CUDA row kernels (same formulas, same Philox words, same roundings; sums in
// double where the GPU sums in fp32).  Used by the emulation backend and tests/test_attention_gemm.c.
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "aca/philox.h"
#include "attention_gemm.h"
#include "cpu/half.h"

// cuBLAS's own argument checks (CUBLAS_STATUS_INVALID_VALUE): a composition that breaks one would
// fail on the GPU, so it fails here, naming the argument.
static void gemm_check(const att_gemm *g) {
    const char *bad = NULL;
    int arows = g->transa ? g->k : g->m, brows = g->transb ? g->n : g->k;
    if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 0)
        bad = "m, n, k or batchCount < 0";
    else if (g->lda < (arows > 1 ? arows : 1))
        bad = "lda < rows of A";
    else if (g->ldb < (brows > 1 ? brows : 1))
        bad = "ldb < rows of B";
    else if (g->ldc < (g->m > 1 ? g->m : 1))
        bad = "ldc < m";
    if (bad) {
        fprintf(stderr, "aca: cuBLAS double: invalid GEMM (%s): trans %d%d m %d n %d k %d lda %d ldb %d ldc %d\n", bad,
                g->transa, g->transb, g->m, g->n, g->k, g->lda, g->ldb, g->ldc);
        abort();
    }
}

void att_gemm_host(const att_gemm *g) {
    gemm_check(g);
    size_t ea = aca_dtype_size(g->ab_type), ec = aca_dtype_size(g->c_type);
    for (int bi = 0; bi < g->batch; bi++) {
        const char *A = (const char *)g->A + (long long)bi * g->strideA * (long long)ea;
        const char *B = (const char *)g->B + (long long)bi * g->strideB * (long long)ea;
        char *Cm = (char *)g->C + (long long)bi * g->strideC * (long long)ec;
        for (int j = 0; j < g->n; j++)
            for (int i = 0; i < g->m; i++) {
                double acc = 0;
                for (int l = 0; l < g->k; l++) {
                    size_t ia = g->transa ? (size_t)l + (size_t)i * g->lda : (size_t)i + (size_t)l * g->lda;
                    size_t ib = g->transb ? (size_t)j + (size_t)l * g->ldb : (size_t)l + (size_t)j * g->ldb;
                    acc += (double)half_load(g->ab_type, A, ia) * half_load(g->ab_type, B, ib);
                }
                size_t ic = (size_t)i + (size_t)j * g->ldc;
                float c = (float)(g->alpha * (float)acc);
                if (g->beta != 0.0f) c += g->beta * half_load(g->c_type, Cm, ic);
                half_store(g->c_type, Cm, ic, c);
            }
    }
}

// Keep factor of element j of slice row `row` (0 = dropped, scale = kept).
static float keep_scale(const att_rows *r, size_t row, int j) {
    if (!r->Pd) return 1.0f;
    uint64_t idx = r->idx0 + (uint64_t)row * r->T + (uint64_t)j;
    return aca_dropout_keep(r->seed, idx, r->thr) ? r->scale : 0.0f;
}

static int masked(const att_rows *r, size_t row, int j) {
    if (!r->mask) return 0;
    size_t b = row / ((size_t)r->NH * r->T);
    return r->mask[b * r->T + j] == 0;
}

void att_rows_forward_host(const att_rows *r) {
    int T = r->T;
    float *e = malloc((size_t)T * sizeof(float));
    for (size_t row = 0; row < (size_t)r->rows; row++) {
        const float *s = r->S + row * T;
        float mx = -INFINITY;
        for (int j = 0; j < T; j++) {
            e[j] = masked(r, row, j) ? -FLT_MAX : s[j];
            mx = e[j] > mx ? e[j] : mx;
        }
        double sum = 0;
        for (int j = 0; j < T; j++) e[j] = expf(e[j] - mx), sum += e[j];
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < T; j++) {
            float pj = e[j] * inv;
            half_store(r->dt, r->P, row * T + j, pj);
            if (r->Pd) half_store(r->dt, r->Pd, row * T + j, pj * keep_scale(r, row, j));
        }
    }
    free(e);
}

void att_rows_backward_host(const att_rows *r) {
    int T = r->T;
    for (size_t row = 0; row < (size_t)r->rows; row++) {
        const float *g = r->dPd + row * T;
        double dot = 0;
        for (int j = 0; j < T; j++) dot += (double)half_load(r->dt, r->P, row * T + j) * (g[j] * keep_scale(r, row, j));
        float d = (float)dot;
        for (int j = 0; j < T; j++) {
            float pj = half_load(r->dt, r->P, row * T + j), ks = keep_scale(r, row, j);
            half_store(r->dt, r->dS, row * T + j, masked(r, row, j) ? 0.0f : pj * (g[j] * ks - d));
            if (r->Pd) half_store(r->dt, r->Pd, row * T + j, pj * ks);
        }
    }
}

typedef struct {
    void *buf;
    size_t bytes;
    long gemm_calls;
    void (*hook)(att_gemm *g, long call, void *arg);
    void *hook_arg;
} host_ctx;

static void host_gemm(const att_exec *x, const att_gemm *g) {
    host_ctx *c = x->ctx;
    att_gemm h = *g;
    if (c->hook) c->hook(&h, c->gemm_calls, c->hook_arg);
    c->gemm_calls++;
    att_gemm_host(&h);
}
static void host_rows_forward(const att_exec *x, const att_rows *r) { att_rows_forward_host(r); }
static void host_rows_backward(const att_exec *x, const att_rows *r) { att_rows_backward_host(r); }

// Poisoned with NaN each time: a step that reads scratch nothing wrote shows up in the results.
static void *host_scratch(const att_exec *x, size_t bytes) {
    host_ctx *c = x->ctx;
    if (bytes > c->bytes) {
        free(c->buf);
        c->buf = xmalloc(bytes);
        c->bytes = bytes;
    }
    for (size_t i = 0; i < bytes / 4; i++) ((uint32_t *)c->buf)[i] = 0x7fc07fc0u; // NaN as fp32, bf16 and fp16
    return c->buf;
}

att_exec att_exec_host(aca_dtype dt, size_t slice_bytes) {
    att_exec x = {host_gemm, host_rows_forward, host_rows_backward, host_scratch, dt, slice_bytes, NULL};
    x.ctx = xcalloc(1, sizeof(host_ctx));
    return x;
}

void att_exec_host_free(att_exec *x) {
    host_ctx *c = x->ctx;
    if (c) free(c->buf);
    free(c);
    x->ctx = NULL;
}

long att_exec_host_gemm_calls(const att_exec *x) { return ((const host_ctx *)x->ctx)->gemm_calls; }
size_t att_exec_host_scratch_peak(const att_exec *x) { return ((const host_ctx *)x->ctx)->bytes; }

void att_exec_host_set_hook(att_exec *x, void (*hook)(att_gemm *g, long call, void *arg), void *arg) {
    host_ctx *c = x->ctx;
    c->hook = hook, c->hook_arg = arg;
}
