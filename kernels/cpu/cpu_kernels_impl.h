// Body of the CPU kernels, compiled once per element type (see cpu_kernels.h for the contract).
// The including file defines:
//   R          float | double          element type of every tensor
//   SFX(name)  name##_f32 | name##_f64 exported names
//   GEMM       cblas_sgemm | cblas_dgemm
//   R_EXP, R_ERF, R_TANH, R_SQRT       math functions of type R
//   R_LOWEST   the most negative finite R (masked attention scores, as torch.finfo(dtype).min)
// Sums that feed a single output (row statistics, column sums, softmax denominators, sumsq) are
// accumulated in double for both types; elementwise arithmetic is done in R, like torch.
//
// Gradient conventions (ops.h): parameter gradients (dw, dbias, dwte, ...) ACCUMULATE; activation
// gradients (din, dqkv, dlogits) OVERWRITE unless an `accum` flag says +=.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/philox.h"
#include "aca/util.h"
#include "cpu_kernels.h"

// Fixed work-block sizes: results never depend on how blocks are spread over threads.
enum {
    ROWS_PER_GEMM = 256,   // linear forward / input gradient: rows of the output per GEMM call
    COLS_PER_GEMM = 128,   // linear weight gradient: output channels per GEMM call
    CHANNEL_BLOCK = 64,    // column reductions: channels owned by one task
    SUM_CHUNK = 1 << 16,   // sumsq: elements per partial sum
    PAR_MIN = 1 << 14,     // elementwise loops below this many elements run on one thread
};

static inline int imin(int a, int b) { return a < b ? a : b; }

// ---- column sums --------------------------------------------------------------------------------
// dst (C) += sum over rows of src (N,C).  Each task owns CHANNEL_BLOCK channels and walks the rows in
// order, so the summation order is fixed.
static void colsum_add(R *dst, const R *src, int N, int C) {
    int nb = (C + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
#pragma omp parallel for schedule(static) if (nb > 1 && (size_t)N * C >= PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * CHANNEL_BLOCK, cn = imin(CHANNEL_BLOCK, C - c0);
        double acc[CHANNEL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const R *s = src + (size_t)n * C + c0;
            for (int c = 0; c < cn; c++) acc[c] += s[c];
        }
        for (int c = 0; c < cn; c++) dst[c0 + c] += (R)acc[c];
    }
}

// ---- embeddings ---------------------------------------------------------------------------------
void SFX(cpu_embed_forward)(R *out, const int32_t *ids, const int32_t *type_ids, const R *wte, const R *wpe,
                            const R *tte, int B, int T, int C) {
    int N = B * T;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        R *o = out + (size_t)n * C;
        const R *we = wte + (size_t)ids[n] * C, *pe = wpe + (size_t)(n % T) * C;
        if (tte) { // BERT order: (word + token type) + position
            const R *te = tte + (size_t)(type_ids ? type_ids[n] : 0) * C;
            for (int c = 0; c < C; c++) o[c] = (we[c] + te[c]) + pe[c];
        } else {
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
        }
    }
}

// Scatter-add by channel blocks: rows are visited in order 0..N-1 for every channel, so repeated
// ids accumulate in a fixed order without atomics.
void SFX(cpu_embed_backward)(R *dwte, R *dwpe, R *dtte, const R *dout, const int32_t *ids, const int32_t *type_ids,
                             int B, int T, int C, int pad_id) {
    int N = B * T, nb = (C + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
#pragma omp parallel for schedule(static) if (nb > 1 && (size_t)N * C >= PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * CHANNEL_BLOCK, cn = imin(CHANNEL_BLOCK, C - c0);
        for (int n = 0; n < N; n++) {
            const R *g = dout + (size_t)n * C + c0;
            R *pe = dwpe + (size_t)(n % T) * C + c0;
            for (int c = 0; c < cn; c++) pe[c] += g[c];
            if (ids[n] != pad_id) {
                R *we = dwte + (size_t)ids[n] * C + c0;
                for (int c = 0; c < cn; c++) we[c] += g[c];
            }
            if (dtte) {
                R *te = dtte + (size_t)(type_ids ? type_ids[n] : 0) * C + c0;
                for (int c = 0; c < cn; c++) te[c] += g[c];
            }
        }
    }
}

// ---- linear -------------------------------------------------------------------------------------
void SFX(cpu_linear_forward)(R *out, const R *in, const R *w, const R *bias, int N, int IC, int OC) {
    int nb = (N + ROWS_PER_GEMM - 1) / ROWS_PER_GEMM;
#pragma omp parallel for schedule(static) if (nb > 1)
    for (int blk = 0; blk < nb; blk++) {
        int n0 = blk * ROWS_PER_GEMM, m = imin(ROWS_PER_GEMM, N - n0);
        R *o = out + (size_t)n0 * OC;
        R beta = 0; // beta 0: the GEMM never reads o, so stale contents (even NaN) do not leak
        if (bias) {
            for (int i = 0; i < m; i++) memcpy(o + (size_t)i * OC, bias, (size_t)OC * sizeof(R));
            beta = 1;
        }
        if (IC > 0)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, m, OC, IC, 1, in + (size_t)n0 * IC, IC, w, IC, beta, o, OC);
        else if (!bias)
            memset(o, 0, (size_t)m * OC * sizeof(R));
    }
}

void SFX(cpu_linear_backward)(R *din, R *dw, R *dbias, const R *dout, const R *in, const R *w, int N, int IC, int OC,
                              int accum_din) {
    if (N <= 0) return; // nothing to add; din has no rows
    if (din) {          // din (N,IC) = dout (N,OC) @ w (OC,IC), by row blocks
        int nb = (N + ROWS_PER_GEMM - 1) / ROWS_PER_GEMM;
#pragma omp parallel for schedule(static) if (nb > 1)
        for (int blk = 0; blk < nb; blk++) {
            int n0 = blk * ROWS_PER_GEMM, m = imin(ROWS_PER_GEMM, N - n0);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, IC, OC, 1, dout + (size_t)n0 * OC, OC, w, IC,
                 accum_din ? 1 : 0, din + (size_t)n0 * IC, IC);
        }
    }
    // dw (OC,IC) += dout^T @ in, by blocks of output channels (rows of dw): the reduction over N
    // stays inside one GEMM call.
    int ob = (OC + COLS_PER_GEMM - 1) / COLS_PER_GEMM;
#pragma omp parallel for schedule(static) if (ob > 1)
    for (int blk = 0; blk < ob; blk++) {
        int o0 = blk * COLS_PER_GEMM, mo = imin(COLS_PER_GEMM, OC - o0);
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, mo, IC, N, 1, dout + o0, OC, in, IC, 1, dw + (size_t)o0 * IC,
             IC);
    }
    if (dbias) colsum_add(dbias, dout, N, OC);
}

// ---- layer norm ---------------------------------------------------------------------------------
// Biased variance, eps inside the square root (torch.nn.LayerNorm).
void SFX(cpu_layernorm_forward)(R *out, R *mean, R *rstd, const R *in, const R *w, const R *b, int N, int C,
                                double eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const R *x = in + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += x[c];
        double mu = s / C, var = 0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - mu;
            var += d * d;
        }
        var /= C;
        R m = (R)mu, r = (R)(1.0 / sqrt(var + eps));
        mean[n] = m, rstd[n] = r;
        R *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * r * w[c] + b[c];
    }
}

// din = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * w;
// dw += sum_n dout * xhat; db += sum_n dout.
void SFX(cpu_layernorm_backward)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w, const R *mean,
                                 const R *rstd, int N, int C, int accum) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        const R *x = in + (size_t)n * C, *dy = dout + (size_t)n * C;
        R m = mean[n], r = rstd[n];
        double a = 0, bsum = 0;
        for (int c = 0; c < C; c++) {
            R xh = (x[c] - m) * r, dxh = dy[c] * w[c];
            a += dxh;
            bsum += (double)dxh * xh;
        }
        R ma = (R)(a / C), mb = (R)(bsum / C);
        R *dx = din + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            R xh = (x[c] - m) * r, g = r * (dy[c] * w[c] - ma - xh * mb);
            dx[c] = accum ? dx[c] + g : g;
        }
    }
    int nb = (C + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
#pragma omp parallel for schedule(static) if (nb > 1 && (size_t)N * C >= PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * CHANNEL_BLOCK, cn = imin(CHANNEL_BLOCK, C - c0);
        double aw[CHANNEL_BLOCK] = {0}, ab[CHANNEL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const R *x = in + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
            R m = mean[n], r = rstd[n];
            for (int c = 0; c < cn; c++) {
                aw[c] += (double)dy[c] * ((x[c] - m) * r);
                ab[c] += dy[c];
            }
        }
        for (int c = 0; c < cn; c++) dw[c0 + c] += (R)aw[c], db[c0 + c] += (R)ab[c];
    }
}

// ---- elementwise --------------------------------------------------------------------------------
void SFX(cpu_add)(R *out, const R *a, const R *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// GELU is the exact form 0.5 x (1 + erf(x / sqrt 2)); its derivative is Phi(x) + x phi(x).
void SFX(cpu_act_forward)(aca_act act, R *out, const R *in, size_t n) {
    const R half = (R)0.5, rsqrt2 = (R)M_SQRT1_2;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        R x = in[i];
        switch (act) {
        case ACA_ACT_GELU: out[i] = half * x * (1 + R_ERF(x * rsqrt2)); break;
        case ACA_ACT_RELU: out[i] = x > 0 ? x : 0; break;
        case ACA_ACT_TANH: out[i] = R_TANH(x); break;
        }
    }
}

void SFX(cpu_act_backward)(aca_act act, R *din, const R *dout, const R *in, size_t n) {
    const R half = (R)0.5, rsqrt2 = (R)M_SQRT1_2, rsqrt2pi = (R)(M_2_SQRTPI * M_SQRT1_2 * 0.5);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        R x = in[i], g = dout[i];
        switch (act) {
        case ACA_ACT_GELU: {
            R cdf = half * (1 + R_ERF(x * rsqrt2)), pdf = rsqrt2pi * R_EXP(x * x * (R)-0.5);
            din[i] = g * (cdf + x * pdf);
            break;
        }
        case ACA_ACT_RELU: din[i] = x > 0 ? g : 0; break;
        case ACA_ACT_TANH: {
            R y = R_TANH(x);
            din[i] = g * (1 - y * y);
            break;
        }
        }
    }
}

// ---- dropout ------------------------------------------------------------------------------------
// Applies the mask of stream positions idx0 .. idx0+n-1 one Philox block (4 positions) at a time;
// bit-identical to aca_dropout_keep(seed, idx0 + i, thr) for each i.
static void dropout_span(R *out, const R *in, size_t n, uint32_t thr, R scale, uint64_t seed, uint64_t idx0) {
    size_t i = 0;
    while (i < n) {
        uint64_t idx = idx0 + i, q = idx >> 2;
        aca_philox4 r = aca_philox4x32((uint32_t)q, (uint32_t)(q >> 32), 0u, 0u, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (unsigned lane = (unsigned)(idx & 3); lane < 4 && i < n; lane++, i++)
            out[i] = r.v[lane] >= thr ? in[i] * scale : 0;
    }
}

void SFX(cpu_dropout)(R *out, const R *in, size_t n, float p, uint64_t seed, uint64_t idx0) {
    if (!(p > 0)) {
        if (out != in) memmove(out, in, n * sizeof(R));
        return;
    }
    if (p >= 1) {
        memset(out, 0, n * sizeof(R));
        return;
    }
    uint32_t thr = aca_dropout_threshold(p);
    R scale = (R)(1.0 / (1.0 - (double)p));
    size_t nchunk = (n + SUM_CHUNK - 1) / SUM_CHUNK; // SUM_CHUNK is a multiple of 4: chunks align to blocks
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (size_t k = 0; k < nchunk; k++) {
        size_t i0 = k * SUM_CHUNK, m = n - i0 < SUM_CHUNK ? n - i0 : SUM_CHUNK;
        dropout_span(out + i0, in + i0, m, thr, scale, seed, idx0 + i0);
    }
}

// ---- attention ----------------------------------------------------------------------------------
// One (b,h) pair per task.  Per pair, with HS = C/NH, alpha = 1/sqrt(HS), rows of qkv strided by 3C:
//   P  = softmax(alpha q k^T, masked keys set to R_LOWEST)   (T,T), saved in probs
//   Pd = dropout(P) at stream positions ((b*NH+h)*T + i)*T + j
//   out_h = Pd v                                             (T,HS) into out (B,T,C) at column h*HS
// Masked scores are replaced (masked_fill), not offset: a fully masked row (no real key) becomes
// uniform, as in Hugging Face, instead of NaN, and no gradient reaches q or k through masked keys.
static void softmax_row_masked(R *s, const int32_t *mask, int T) {
    if (mask)
        for (int j = 0; j < T; j++)
            if (!mask[j]) s[j] = R_LOWEST;
    R mx = s[0];
    for (int j = 1; j < T; j++) mx = s[j] > mx ? s[j] : mx;
    double sum = 0;
    for (int j = 0; j < T; j++) {
        s[j] = R_EXP(s[j] - mx);
        sum += s[j];
    }
    R inv = (R)(1.0 / sum);
    for (int j = 0; j < T; j++) s[j] *= inv;
}

static void attention_drop_params(float p, uint32_t *thr, R *scale) {
    *thr = aca_dropout_threshold(p);
    *scale = (R)(1.0 / (1.0 - (double)p));
}

void SFX(cpu_attention_forward)(R *out, R *probs, const R *qkv, const int32_t *mask, int B, int T, int C, int NH,
                                float p, uint64_t seed) {
    int HS = C / NH, BH = B * NH, C3 = 3 * C;
    size_t TT = (size_t)T * T;
    R alpha = (R)(1.0 / sqrt((double)HS));
    int drop = p > 0, zero = p >= 1;
    uint32_t thr = 0;
    R scale = 1;
    if (drop && !zero) attention_drop_params(p, &thr, &scale);
#pragma omp parallel if (BH > 1)
    {
        R *pd = drop ? xmalloc(TT * sizeof(R)) : NULL; // per-thread (T,T) scratch for the dropped probabilities
#pragma omp for schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            int b = bh / NH, h = bh % NH;
            const R *q = qkv + (size_t)b * T * C3 + (size_t)h * HS, *k = q + C, *v = q + 2 * C;
            const int32_t *mk = mask ? mask + (size_t)b * T : NULL;
            R *P = probs + (size_t)bh * TT;
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, alpha, q, C3, k, C3, 0, P, T);
            for (int i = 0; i < T; i++) softmax_row_masked(P + (size_t)i * T, mk, T);
            const R *A = P;
            if (drop) {
                if (zero)
                    memset(pd, 0, TT * sizeof(R));
                else
                    dropout_span(pd, P, TT, thr, scale, seed, (uint64_t)bh * TT);
                A = pd;
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1, A, T, v, C3, 0,
                 out + (size_t)b * T * C + (size_t)h * HS, C);
        }
        free(pd);
    }
}

// Per (b,h):  dPd = dout_h v^T;  dv = Pd^T dout_h;  dP = dropout(dPd) (same mask);
//             dS = P * (dP - rowsum(P * dP)), 0 for masked keys;  dq = alpha dS k;  dk = alpha dS^T q.
void SFX(cpu_attention_backward)(R *dqkv, const R *dout, const R *qkv, const R *probs, const int32_t *mask, int B,
                                 int T, int C, int NH, float p, uint64_t seed) {
    int HS = C / NH, BH = B * NH, C3 = 3 * C;
    size_t TT = (size_t)T * T;
    R alpha = (R)(1.0 / sqrt((double)HS));
    int drop = p > 0, zero = p >= 1;
    uint32_t thr = 0;
    R scale = 1;
    if (drop && !zero) attention_drop_params(p, &thr, &scale);
#pragma omp parallel if (BH > 1)
    {
        R *ds = xmalloc(TT * sizeof(R));               // dPd, then dP, then dS
        R *pd = drop ? xmalloc(TT * sizeof(R)) : NULL; // dropped probabilities
#pragma omp for schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            int b = bh / NH, h = bh % NH;
            size_t qoff = (size_t)b * T * C3 + (size_t)h * HS;
            const R *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
            R *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
            const R *dy = dout + (size_t)b * T * C + (size_t)h * HS;
            const int32_t *mk = mask ? mask + (size_t)b * T : NULL;
            const R *P = probs + (size_t)bh * TT, *A = P;
            if (drop) {
                if (zero)
                    memset(pd, 0, TT * sizeof(R));
                else
                    dropout_span(pd, P, TT, thr, scale, seed, (uint64_t)bh * TT);
                A = pd;
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1, dy, C, v, C3, 0, ds, T);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1, A, T, dy, C, 0, dv, C3);
            if (drop) {
                if (zero)
                    memset(ds, 0, TT * sizeof(R));
                else
                    dropout_span(ds, ds, TT, thr, scale, seed, (uint64_t)bh * TT);
            }
            for (int i = 0; i < T; i++) {
                R *g = ds + (size_t)i * T;
                const R *pr = P + (size_t)i * T;
                double dot = 0;
                for (int j = 0; j < T; j++) dot += (double)pr[j] * g[j];
                R d = (R)dot;
                for (int j = 0; j < T; j++) g[j] = (mk && !mk[j]) ? 0 : pr[j] * (g[j] - d);
            }
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, alpha, ds, T, k, C3, 0, dq, C3);
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, alpha, ds, T, q, C3, 0, dk, C3);
        }
        free(ds);
        free(pd);
    }
}

// ---- classification head ------------------------------------------------------------------------
void SFX(cpu_cls_gather)(R *out, const R *in, int B, int T, int C) {
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * C, in + (size_t)b * T * C, (size_t)C * sizeof(R));
}

void SFX(cpu_cls_scatter)(R *din, const R *dout, int B, int T, int C) {
    memset(din, 0, (size_t)B * T * C * sizeof(R));
    for (int b = 0; b < B; b++) memcpy(din + (size_t)b * T * C, dout + (size_t)b * C, (size_t)C * sizeof(R));
}

// losses[b] = logsumexp(logits[b]) - logits[b][label]; dlogits = (softmax - onehot) * dscale.
void SFX(cpu_cross_entropy)(R *losses, R *dlogits, const R *logits, const int32_t *labels, int B, int K,
                            double dscale) {
    for (int b = 0; b < B; b++) {
        const R *x = logits + (size_t)b * K;
        R *g = dlogits ? dlogits + (size_t)b * K : NULL;
        int y = labels[b];
        if (y < 0 || y >= K) { // ignored label: zero; invalid label: NaN (see cpu_kernels.h)
            losses[b] = y < 0 ? 0 : (R)NAN;
            if (g)
                for (int j = 0; j < K; j++) g[j] = y < 0 ? 0 : (R)NAN;
            continue;
        }
        R mx = x[0];
        for (int j = 1; j < K; j++) mx = x[j] > mx ? x[j] : mx;
        double sum = 0;
        for (int j = 0; j < K; j++) sum += exp((double)x[j] - mx);
        double lse = mx + log(sum);
        losses[b] = (R)(lse - x[y]);
        if (g)
            for (int j = 0; j < K; j++)
                g[j] = (R)((exp((double)x[j] - lse) - (j == y)) * dscale);
    }
}

// ---- optimizer ----------------------------------------------------------------------------------
// Fixed chunks summed in order: the same bits for any thread count.  NaN/Inf propagate.
double SFX(cpu_sumsq)(const R *x, size_t n) {
    size_t nchunk = (n + SUM_CHUNK - 1) / SUM_CHUNK;
    if (nchunk == 0) return 0;
    double *part = xmalloc(nchunk * sizeof(double));
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (size_t k = 0; k < nchunk; k++) {
        size_t i0 = k * SUM_CHUNK, i1 = n - i0 < SUM_CHUNK ? n : i0 + SUM_CHUNK;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)x[i] * x[i];
        part[k] = s;
    }
    double s = 0;
    for (size_t k = 0; k < nchunk; k++) s += part[k];
    free(part);
    return s;
}

// torch.optim.AdamW (single-tensor form): scalars in double, per-element arithmetic in R.
void SFX(cpu_adamw)(R *p, const R *g, R *m, R *v, R *pc, size_t n, size_t n_decay, const aca_adamw *h) {
    double bc1 = 1.0 - pow(h->beta1, h->t), bc2 = 1.0 - pow(h->beta2, h->t);
    const R step = (R)(h->lr / bc1), bc2_sqrt = (R)sqrt(bc2), decay = (R)(1.0 - (double)h->lr * h->weight_decay);
    const R b1 = (R)h->beta1, b2 = (R)h->beta2, nb1 = (R)(1.0 - h->beta1), nb2 = (R)(1.0 - h->beta2);
    const R eps = (R)h->eps, gs = (R)h->grad_scale;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        R gi = g[i] * gs, pi = p[i];
        if (i < n_decay) pi *= decay;
        R mi = b1 * m[i] + nb1 * gi, vi = b2 * v[i] + nb2 * gi * gi;
        pi -= step * mi / (R_SQRT(vi) / bc2_sqrt + eps);
        m[i] = mi, v[i] = vi, p[i] = pi;
        if (pc) pc[i] = pi;
    }
}
