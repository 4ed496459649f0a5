// The GEMM composition of attention (attention_gemm.h), shared by the CUDA backend and the CPU
// emulation.  No arithmetic here: only the calls and their arguments.
//
// Column-major views: a row-major tensor X with rows of `ld` elements is, to cuBLAS, the column-major
// matrix X' = X^T with leading dimension ld.  Per (b,h), with q, k, v rows strided by 3C and
// dO, out rows strided by C, each (T x HS) row-major, so q', k', v', dO' are HS x T:
//   S   (T,T)  = alpha q k^T     S'   = alpha k'^T q'      T,N  m=T  n=T  k=HS
//   out (T,HS) = Pd v            out' = v' Pd'             N,N  m=HS n=T  k=T
//   dPd (T,T)  = dO v^T          dPd' = v'^T dO'           T,N  m=T  n=T  k=HS
//   dv  (T,HS) = Pd^T dO         dv'  = dO' Pd'^T          N,T  m=HS n=T  k=T
//   dq  (T,HS) = alpha dS k      dq'  = alpha k' dS'       N,N  m=HS n=T  k=T
//   dk  (T,HS) = alpha dS^T q    dk'  = alpha q' dS'^T     N,T  m=HS n=T  k=T
#include <math.h>

#include "attention_gemm.h"
#include "aca/philox.h"

size_t att_gemm_state_bytes(aca_dtype dt, int B, int T, int NH) {
    return (size_t)B * NH * T * T * aca_dtype_size(dt);
}

// Scratch bytes one sequence needs: S or dPd (fp32), plus Pd and dS (dt) where used.
static size_t per_sequence_bytes(aca_dtype dt, int T, int NH, int backward, float p) {
    size_t tt = (size_t)NH * T * T, es = aca_dtype_size(dt);
    return tt * 4 + (p > 0 ? tt * es : 0) + (backward ? tt * es : 0);
}

int att_gemm_slice(const att_exec *x, int B, int T, int NH, int backward, float p) {
    size_t per = per_sequence_bytes(x->dt, T, NH, backward, p);
    size_t nb = x->slice_bytes ? x->slice_bytes / per : (size_t)B;
    return nb < 1 ? 1 : nb > (size_t)B ? B : (int)nb;
}

size_t att_gemm_scratch_bytes(const att_exec *x, int B, int T, int NH, float p) {
    size_t most = 0;
    for (int backward = 0; backward < 2; backward++) {
        size_t need = (size_t)att_gemm_slice(x, B, T, NH, backward, p) * per_sequence_bytes(x->dt, T, NH, backward, p);
        most = need > most ? need : most;
    }
    return most;
}

// An operand of the per-(b,h) GEMMs: element (b,h) starts at base + b*sb + h*sh elements.
typedef struct {
    const void *base;
    long long sb, sh;
    aca_dtype dt;
} operand;

static const void *at(operand o, long long off) { return (const char *)o.base + off * (long long)aca_dtype_size(o.dt); }

// Runs the GEMM g (its shape, leading dimensions, alpha, beta and types set) for every (b,h) of nb
// sequences: one call per sequence batching the heads when nb <= NH, else one call per head batching
// the sequences.  Fewer, larger calls either way: max(nb, NH) problems in min(nb, NH) calls.
static void run_per_head(const att_exec *x, att_gemm g, operand A, operand B, operand C, int nb, int NH) {
    int by_seq = nb <= NH;
    int calls = by_seq ? nb : NH;
    g.batch = by_seq ? NH : nb;
    g.strideA = by_seq ? A.sh : A.sb;
    g.strideB = by_seq ? B.sh : B.sb;
    g.strideC = by_seq ? C.sh : C.sb;
    for (int c = 0; c < calls; c++) {
        long long oa = by_seq ? c * A.sb : c * A.sh, ob = by_seq ? c * B.sb : c * B.sh, oc = by_seq ? c * C.sb : c * C.sh;
        g.A = at(A, oa), g.B = at(B, ob), g.C = (void *)at(C, oc);
        x->gemm(x, &g);
    }
}

static att_gemm gemm_shape(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc, float alpha, aca_dtype ab,
                           aca_dtype c) {
    att_gemm g = {0};
    g.transa = ta, g.transb = tb, g.m = m, g.n = n, g.k = k, g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    g.alpha = alpha, g.beta = 0.0f, g.ab_type = ab, g.c_type = c;
    return g;
}

// The dropout parameters of the row kernels (ops.h: p <= 0 none, p >= 1 everything dropped).
static void rows_dropout(att_rows *r, float p, uint64_t seed) {
    r->seed = seed;
    r->thr = 0, r->scale = 1.0f;
    if (p >= 1)
        r->scale = 0.0f;
    else if (p > 0)
        r->thr = aca_dropout_threshold(p), r->scale = (float)(1.0 / (1.0 - (double)p));
}

void att_gemm_forward(const att_exec *x, void *out, void *P, const void *qkv, const int32_t *mask, int B, int T, int C,
                      int NH, float p, uint64_t seed) {
    if (B <= 0 || T <= 0) return;
    aca_dtype dt = x->dt;
    int HS = C / NH, C3 = 3 * C, drop = p > 0;
    long long TT = (long long)T * T, sq = (long long)T * C3;
    float alpha = (float)(1.0 / sqrt((double)HS));
    int nbmax = att_gemm_slice(x, B, T, NH, 0, p);
    for (int b0 = 0; b0 < B; b0 += nbmax) {
        int nb = B - b0 < nbmax ? B - b0 : nbmax;
        size_t n = (size_t)nb * NH * TT;
        float *S = x->scratch(x, n * 4 + (drop ? n * aca_dtype_size(dt) : 0));
        void *Pd = drop ? (void *)(S + n) : NULL;
        void *Ps = (char *)P + (size_t)b0 * NH * TT * aca_dtype_size(dt);
        const char *qkv0 = (const char *)qkv + (size_t)b0 * sq * aca_dtype_size(dt);
        operand q = {qkv0, sq, HS, dt}, k = {qkv0 + (size_t)C * aca_dtype_size(dt), sq, HS, dt};
        operand v = {qkv0 + (size_t)2 * C * aca_dtype_size(dt), sq, HS, dt};
        operand s = {S, NH * TT, TT, ACA_DT_F32};
        run_per_head(x, gemm_shape(1, 0, T, T, HS, C3, C3, T, alpha, dt, ACA_DT_F32), k, q, s, nb, NH);

        att_rows r = {0};
        r.S = S, r.P = Ps, r.Pd = Pd, r.mask = mask ? mask + (size_t)b0 * T : NULL;
        r.rows = nb * NH * T, r.T = T, r.NH = NH, r.idx0 = (uint64_t)b0 * NH * TT, r.dt = dt;
        rows_dropout(&r, p, seed);
        x->rows_forward(x, &r);

        operand pd = {drop ? Pd : Ps, NH * TT, TT, dt};
        operand o = {(char *)out + (size_t)b0 * T * C * aca_dtype_size(dt), (long long)T * C, HS, dt};
        run_per_head(x, gemm_shape(0, 0, HS, T, T, C3, T, C, 1.0f, dt, dt), v, pd, o, nb, NH);
    }
}

void att_gemm_backward(const att_exec *x, void *dqkv, const void *dout, const void *qkv, const void *P,
                       const int32_t *mask, int B, int T, int C, int NH, float p, uint64_t seed) {
    if (B <= 0 || T <= 0) return;
    aca_dtype dt = x->dt;
    size_t es = aca_dtype_size(dt);
    int HS = C / NH, C3 = 3 * C, drop = p > 0;
    long long TT = (long long)T * T, sq = (long long)T * C3, so = (long long)T * C;
    float alpha = (float)(1.0 / sqrt((double)HS));
    int nbmax = att_gemm_slice(x, B, T, NH, 1, p);
    for (int b0 = 0; b0 < B; b0 += nbmax) {
        int nb = B - b0 < nbmax ? B - b0 : nbmax;
        size_t n = (size_t)nb * NH * TT;
        float *dPd = x->scratch(x, n * 4 + n * es + (drop ? n * es : 0));
        void *dS = dPd + n, *Pd = drop ? (char *)dS + n * es : NULL;
        const void *Ps = (const char *)P + (size_t)b0 * NH * TT * es;
        const char *qkv0 = (const char *)qkv + (size_t)b0 * sq * es, *dq0 = (const char *)dqkv + (size_t)b0 * sq * es;
        operand q = {qkv0, sq, HS, dt}, k = {qkv0 + C * es, sq, HS, dt}, v = {qkv0 + 2 * C * es, sq, HS, dt};
        operand dq = {dq0, sq, HS, dt}, dk = {dq0 + C * es, sq, HS, dt}, dv = {dq0 + 2 * C * es, sq, HS, dt};
        operand dO = {(const char *)dout + (size_t)b0 * so * es, so, HS, dt};
        operand dpd = {dPd, NH * TT, TT, ACA_DT_F32}, ds = {dS, NH * TT, TT, dt};
        operand pd = {drop ? Pd : Ps, NH * TT, TT, dt};
        run_per_head(x, gemm_shape(1, 0, T, T, HS, C3, C, T, 1.0f, dt, ACA_DT_F32), v, dO, dpd, nb, NH);

        att_rows r = {0};
        r.dPd = dPd, r.P = (void *)Ps, r.Pd = Pd, r.dS = dS, r.mask = mask ? mask + (size_t)b0 * T : NULL;
        r.rows = nb * NH * T, r.T = T, r.NH = NH, r.idx0 = (uint64_t)b0 * NH * TT, r.dt = dt;
        rows_dropout(&r, p, seed);
        x->rows_backward(x, &r);

        run_per_head(x, gemm_shape(0, 1, HS, T, T, C, T, C3, 1.0f, dt, dt), dO, pd, dv, nb, NH);
        run_per_head(x, gemm_shape(0, 0, HS, T, T, C3, T, C3, alpha, dt, dt), k, ds, dq, nb, NH);
        run_per_head(x, gemm_shape(0, 1, HS, T, T, C3, T, C3, alpha, dt, dt), q, ds, dk, nb, NH);
    }
}
