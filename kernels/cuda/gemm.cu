// Linear layers through cuBLASLt: fp32 accumulation in every precision, the bias add fused as the
// matmul epilogue in the forward pass, the weight gradient written in fp32 straight from bf16/fp16
// inputs (beta = 1: += into the fp32 gradient), TF32 tensor cores in fp32 only when be->tf32.
//
// Row-major (N,IC) tensors are column-major (IC,N) matrices with leading dimension IC, so:
//   out (N,OC)  = in (N,IC) w^T      ->  out' (OC x N)  = w'^T (OC x IC) in' (IC x N)
//   din (N,IC)  = dout (N,OC) w      ->  din' (IC x N)  = w' (IC x OC) dout' (OC x N)
//   dw (OC,IC) += dout^T in          ->  dw' (IC x OC) += in' (IC x N) dout'^T (N x OC)
// (X' is the column-major view of row-major X.)
//
// Descriptors and the heuristic's algorithm are cached per (shape, types, alignments, epilogue), so a
// training step does no heuristic queries after the first one, and a shape always runs the same
// algorithm (bit-reproducible).  The token dimension (N = B*T) of a key is rounded up to a multiple
// of GEMM_TOKEN_ROUND: length-bucketed batches (a new T nearly every batch) share a few entries
// instead of replacing the cache's entries without end.  The algorithm is chosen for the rounded
// shape, the layouts are set to the real one at each call, and cublasLtMatmulAlgoCheck confirms the
// algorithm for it (else cublasGemmEx runs that call).  The bias gradient is a deterministic column sum (layernorm.cu).
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc;
    int abtype, ctype, compute, bias;
    unsigned align_a, align_b, align_c;
} gemm_key;

typedef struct {
    gemm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    int fallback; // cuBLASLt had no algorithm: run cublasGemmEx, bias added by a kernel
    int cur_m, cur_n, cur_k, cur_ok; // the shape the layouts hold now; whether the algorithm runs it
} gemm_entry;

enum { GEMM_CACHE_SIZE = 128, GEMM_TOKEN_ROUND = 64 };
struct cuda_gemm_cache {
    int n, next; // entries used; next slot to replace when full
    gemm_entry e[GEMM_CACHE_SIZE];
};

static void gemm_entry_release(gemm_entry *g) {
    cublasLtMatrixLayoutDestroy(g->la);
    cublasLtMatrixLayoutDestroy(g->lb);
    cublasLtMatrixLayoutDestroy(g->lc);
    cublasLtMatmulDescDestroy(g->desc);
}

void cuda_gemm_cache_free(struct cuda_gemm_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) gemm_entry_release(&c->e[i]);
    free(c);
}

// Largest power of two (<= 256) dividing the address: cuBLASLt algorithms need aligned operands.
static unsigned ptr_align(const void *p) {
    uintptr_t a = (uintptr_t)p;
    unsigned al = 256;
    while (al > 1 && a % al) al /= 2;
    return al;
}

static cudaDataType_t cuda_type_of(aca_dtype dt) {
    return dt == ACA_DT_F32 ? CUDA_R_32F : dt == ACA_DT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

static gemm_entry *gemm_lookup(aca_backend *be, const gemm_key *key) {
    cuda_impl *ci = cuda_of(be);
    if (!ci->gemm) {
        ci->gemm = (struct cuda_gemm_cache *)calloc(1, sizeof *ci->gemm);
        if (!ci->gemm) cuda_fail_msg(__FILE__, __LINE__, "out of host memory");
    }
    struct cuda_gemm_cache *c = ci->gemm;
    for (int i = 0; i < c->n; i++)
        if (!memcmp(&c->e[i].key, key, sizeof *key)) return &c->e[i];

    gemm_entry *g;
    if (c->n < GEMM_CACHE_SIZE) {
        g = &c->e[c->n++];
    } else {
        g = &c->e[c->next];
        c->next = (c->next + 1) % GEMM_CACHE_SIZE;
        gemm_entry_release(g);
    }
    memset(g, 0, sizeof *g);
    g->key = *key;
    cublasOperation_t ta = key->ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&g->desc, (cublasComputeType_t)key->compute, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    if (key->bias) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        cudaDataType_t bt = (cudaDataType_t)key->ctype;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
    }
    int arows = key->ta ? key->k : key->m, acols = key->ta ? key->m : key->k;
    int brows = key->tb ? key->n : key->k, bcols = key->tb ? key->k : key->n;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->la, (cudaDataType_t)key->abtype, arows, acols, key->lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->lb, (cudaDataType_t)key->abtype, brows, bcols, key->ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->lc, (cudaDataType_t)key->ctype, key->m, key->n, key->ldc));

    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = ci->lt_ws_bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    uint32_t al[3] = {key->align_a, key->align_b, key->align_c};
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], 4));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], 4));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], 4));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[2], 4));
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ci->lt, g->desc, g->la, g->lb, g->lc, g->lc, pref, 1, &res, &nres));
    cublasLtMatmulPreferenceDestroy(pref);
    if (nres == 0)
        g->fallback = 1;
    else
        g->algo = res.algo;
    g->cur_m = key->m, g->cur_n = key->n, g->cur_k = key->k, g->cur_ok = 1;
    return g;
}

static int round_up(int x, int r) { return (x + r - 1) / r * r; }

// Sets the cached layouts to the real shape; 1 when the cached algorithm runs it.
static int gemm_fit(aca_backend *be, gemm_entry *g, int m, int n, int k) {
    if (g->cur_m == m && g->cur_n == n && g->cur_k == k) return g->cur_ok;
    const gemm_key *key = &g->key;
    uint64_t ar = key->ta ? k : m, ac = key->ta ? m : k, br = key->tb ? n : k, bc = key->tb ? k : n;
    uint64_t cr = m, cc = n;
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->la, CUBLASLT_MATRIX_LAYOUT_ROWS, &ar, sizeof ar));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->la, CUBLASLT_MATRIX_LAYOUT_COLS, &ac, sizeof ac));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->lb, CUBLASLT_MATRIX_LAYOUT_ROWS, &br, sizeof br));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->lb, CUBLASLT_MATRIX_LAYOUT_COLS, &bc, sizeof bc));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->lc, CUBLASLT_MATRIX_LAYOUT_ROWS, &cr, sizeof cr));
    CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(g->lc, CUBLASLT_MATRIX_LAYOUT_COLS, &cc, sizeof cc));
    cublasLtMatmulHeuristicResult_t res;
    g->cur_m = m, g->cur_n = n, g->cur_k = k;
    g->cur_ok = cublasLtMatmulAlgoCheck(cuda_of(be)->lt, g->desc, g->la, g->lb, g->lc, g->lc, &g->algo, &res) ==
                CUBLAS_STATUS_SUCCESS;
    return g->cur_ok;
}

// D (m x n, column-major, ldc) = op(A) op(B) (+ bias per row of D) + beta D.  tok: which of n (1)
// or k (2) counts tokens (its cache key is rounded up), 0 none.  Returns 1 when the bias was added
// (the epilogue), 0 when the caller must add it.
static int gemm_run(aca_backend *be, int tok, int ta, int tb, int m, int n, int k, const void *A, int lda,
                    const void *B, int ldb, cudaDataType_t abtype, void *D, int ldc, cudaDataType_t ctype, float beta,
                    const void *bias) {
    if (m <= 0 || n <= 0) return 1;
    cuda_impl *ci = cuda_of(be);
    if (k <= 0) { // no reduction: D = beta D (+ bias) — never hit by the models; keep it simple and loud
        cuda_fail_msg(__FILE__, __LINE__, "matmul with an empty reduction (k = %d)", k);
    }
    gemm_key key;
    memset(&key, 0, sizeof key); // padding bytes take part in memcmp
    key.ta = ta, key.tb = tb, key.m = m, key.n = n, key.k = k, key.lda = lda, key.ldb = ldb, key.ldc = ldc;
    if (tok == 1) key.n = round_up(n, GEMM_TOKEN_ROUND);
    if (tok == 2) key.k = round_up(k, GEMM_TOKEN_ROUND);
    key.abtype = abtype, key.ctype = ctype, key.bias = bias != NULL;
    key.compute = (be->dtype == ACA_DT_F32 && be->tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    key.align_a = ptr_align(A), key.align_b = ptr_align(B), key.align_c = ptr_align(D);
    gemm_entry *g = gemm_lookup(be, &key);
    float alpha = 1.0f;
    if (g->fallback || !gemm_fit(be, g, m, n, k)) {
        if (!ci->cublas) {
            CUBLAS_CHECK(cublasCreate(&ci->cublas));
            CUBLAS_CHECK(cublasSetStream(ci->cublas, ci->stream));
        }
        CUBLAS_CHECK(cublasGemmEx(ci->cublas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                                  &alpha, A, abtype, lda, B, abtype, ldb, &beta, D, ctype, ldc,
                                  (cublasComputeType_t)key.compute, CUBLAS_GEMM_DEFAULT));
        cuda_debug_sync("cublasGemmEx", __FILE__, __LINE__);
        return bias == NULL;
    }
    if (bias)
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    CUBLAS_CHECK(cublasLtMatmul(ci->lt, g->desc, &alpha, A, g->la, B, g->lb, &beta, D, g->lc, D, g->lc, &g->algo,
                                ci->lt_ws, ci->lt_ws_bytes, ci->stream));
    cuda_debug_sync("cublasLtMatmul", __FILE__, __LINE__);
    return 1;
}

// out (N,OC) += bias (OC), for a bias the epilogue cannot read (under 16-byte alignment, or the
// cublasGemmEx fallback).
template <typename T> static __global__ void bias_add_kernel(T *out, const T *bias, size_t N, int OC) {
    size_t total = N * OC;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        out[i] = from_f<T>(to_f(out[i]) + to_f(bias[i % OC]));
}

// out (N,OC) = in (N,IC) @ w (OC,IC)^T + bias (OC)
void cuda_linear_forward(aca_backend *be, void *out, const void *in, const void *w, const void *bias, int N, int IC,
                         int OC) {
    cudaDataType_t t = cuda_type_of(be->dtype);
    int fused = bias && ptr_align(bias) >= 16;
    int added = gemm_run(be, 1, 1, 0, OC, N, IC, w, IC, in, IC, t, out, OC, t, 0.0f, fused ? bias : NULL);
    if (bias && !(fused && added) && N > 0) {
        size_t total = (size_t)N * OC;
        CUDA_DISPATCH(be->dtype, DT,
                      bias_add_kernel<DT><<<cuda_grid(total, 256), 256, 0, cuda_stream(be)>>>((DT *)out,
                                                                                              (const DT *)bias, N, OC));
        CUDA_CHECK_LAUNCH("bias_add_kernel");
    }
}

// din (N,IC) = dout @ w (or += when accum_din); dw (OC,IC) += dout^T @ in (fp32); dbias (OC) += colsum(dout)
void cuda_linear_backward(aca_backend *be, void *din, float *dw, float *dbias, const void *dout, const void *in,
                          const void *w, int N, int IC, int OC, int accum_din) {
    if (N <= 0) return;
    cudaDataType_t t = cuda_type_of(be->dtype);
    if (din) gemm_run(be, 1, 0, 0, IC, N, OC, w, IC, dout, OC, t, din, IC, t, accum_din ? 1.0f : 0.0f, NULL);
    gemm_run(be, 2, 0, 1, IC, OC, N, in, IC, dout, OC, t, dw, IC, CUDA_R_32F, 1.0f, NULL);
    if (dbias) cuda_colsum_add(be, dbias, dout, N, OC);
}
