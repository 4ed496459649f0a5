// Attention composed from strided-batched GEMMs and two row kernels: the CUDA backend's tensor-core
// attention (kernels/cuda/attention_gemm.cu runs it on cuBLAS) and, unchanged, the CPU's emulation
// of it (kernels/attention_host.c runs the same calls on a cuBLAS test double), so `make test`
// checks the exact GEMM arguments (op, m, n, k, leading dimensions, strides, batch count) the GPU
// gets against the CPU attention op.
//
// Semantics are ops.h's attention (and the CPU kernel's): S = alpha q k^T (alpha = 1/sqrt(HS)),
// masked keys REPLACED by -FLT_MAX, P = softmax(S), Pd = dropout(P) with the Philox mask of
// element ((b*NH+h)*T+i)*T+j, out = Pd v.  Backward: dPd = dO v^T, dP = dropout(dPd),
// D_i = sum_j P_ij dP_ij, dS = P (dP - D) (0 at masked keys), dv = Pd^T dO, dq = alpha dS k,
// dk = alpha dS^T q.
//
// Storage (the compute dtype dt: fp32, bf16 or fp16; GEMMs take dt operands and accumulate in fp32):
//   S, dPd   fp32 scratch (nb, NH, T, T) per slice of nb sequences
//   P        dt (B, NH, T, T): the saved state, att_gemm_state_bytes
//   Pd, dS   dt scratch (nb, NH, T, T)
// The batch runs in slices of nb sequences so the scratch stays under att_exec.slice_bytes; inside a
// slice, a GEMM per sequence batches the heads (nb <= NH) or a GEMM per head batches the sequences.
// Row-major (rows, cols) tensors are column-major (cols x rows) matrices to cuBLAS (see the .c file).
#ifndef ACA_ATTENTION_GEMM_H
#define ACA_ATTENTION_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "aca/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// One cublasGemmStridedBatchedEx call, its arguments exactly: for i < batch,
//   C_i = alpha op(A_i) op(B_i) + beta C_i,  X_i = X + i*strideX elements,
// column-major, op(A) m x k, op(B) k x n, C m x n; trans: 0 = N, 1 = T.  beta == 0: C is not read.
typedef struct {
    int transa, transb;
    int m, n, k;
    float alpha, beta;
    const void *A;
    int lda;
    long long strideA;
    const void *B;
    int ldb;
    long long strideB;
    void *C;
    int ldc;
    long long strideC;
    int batch;
    aca_dtype ab_type, c_type; // A and B in ab_type; C in c_type; fp32 accumulation
} att_gemm;

// One row kernel launch over `rows` rows of T scores of a slice (row r = (bh_local*T + i)).
//   forward:  S (fp32) -> P (dt, saved), Pd (dt; NULL when there is no dropout)
//   backward: P (dt), dPd (fp32) -> dS (dt), Pd (dt; NULL when there is no dropout)
typedef struct {
    const float *S;       // forward: (rows, T) scaled scores
    const float *dPd;     // backward: (rows, T)
    void *P;              // (rows, T) dt: written forward, read backward
    void *Pd;             // (rows, T) dt or NULL
    void *dS;             // backward: (rows, T) dt
    const int32_t *mask;  // (nb, T) the slice's rows of the key mask (1 real), or NULL
    int rows, T, NH;      // rows = nb*NH*T
    uint64_t idx0;        // Philox stream position of the slice's element (0, 0)
    uint64_t seed;
    uint32_t thr;         // keep iff philox >= thr
    float scale;          // kept values times scale (1/(1-p); 0 when p >= 1)
    aca_dtype dt;
} att_rows;

// The CUDA executor's scratch budget per slice (attention_gemm.cu).
#define ATT_GEMM_GPU_SLICE_BYTES ((size_t)1 << 30)

typedef struct att_exec att_exec;
struct att_exec {
    void (*gemm)(const att_exec *x, const att_gemm *g);
    void (*rows_forward)(const att_exec *x, const att_rows *r);
    void (*rows_backward)(const att_exec *x, const att_rows *r);
    void *(*scratch)(const att_exec *x, size_t bytes); // valid until the next scratch call
    aca_dtype dt;
    size_t slice_bytes; // scratch budget of one slice (at least one sequence always runs)
    void *ctx;
};

// Bytes of the saved state (P in dt).
size_t att_gemm_state_bytes(aca_dtype dt, int B, int T, int NH);
// Sequences per slice for this budget (>= 1, <= B), and the scratch bytes per sequence.
int att_gemm_slice(const att_exec *x, int B, int T, int NH, int backward, float p);
// The most scratch one call of forward or backward asks x for at batch B (the CUDA backend reserves
// it when the model is created, so that no forward stops on it).
size_t att_gemm_scratch_bytes(const att_exec *x, int B, int T, int NH, float p);

// out (B,T,C) dt, P (B,NH,T,T) dt (state), qkv (B,T,3C) dt, mask (B,T) or NULL.
void att_gemm_forward(const att_exec *x, void *out, void *P, const void *qkv, const int32_t *mask, int B, int T, int C,
                      int NH, float p, uint64_t seed);
// dqkv (B,T,3C) dt OVERWRITTEN; dout (B,T,C) dt; P the forward's state.
void att_gemm_backward(const att_exec *x, void *dqkv, const void *dout, const void *qkv, const void *P,
                       const int32_t *mask, int B, int T, int C, int NH, float p, uint64_t seed);

// ---- the host executor (kernels/attention_host.c): the cuBLAS test double and the row kernels ----
// Executes one att_gemm with cuBLAS's column-major semantics and argument checks (an argument
// cuBLAS would reject aborts with the argument named).  fp32 accumulation, one rounding to c_type.
void att_gemm_host(const att_gemm *g);
void att_rows_forward_host(const att_rows *r);
void att_rows_backward_host(const att_rows *r);
// An executor on host memory; slice_bytes 0 = no limit.  Counts the calls it ran (tests).
att_exec att_exec_host(aca_dtype dt, size_t slice_bytes);
void att_exec_host_free(att_exec *x);
long att_exec_host_gemm_calls(const att_exec *x);
// The largest scratch the executor was asked for.
size_t att_exec_host_scratch_peak(const att_exec *x);
// Tests: hook(g, call index, arg) may change each GEMM's arguments before the double runs it.
void att_exec_host_set_hook(att_exec *x, void (*hook)(att_gemm *g, long call, void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif
