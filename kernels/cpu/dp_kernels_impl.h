// Body of the CPU DP-SGD kernels, compiled once per element type (see dp_kernels.h).  The including
// file defines R (float | double), SFX(name), GEMM (cblas_sgemm | cblas_dgemm) and SYRK
// (cblas_ssyrk | cblas_dsyrk).  Every sum that feeds a norm is taken in double.
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/util.h"
#include "dp_kernels.h"

// Rows of example b that are not padding.
static inline int SFX(dp_rows)(const int32_t *lens, int b, int T) {
    if (!lens) return T;
    int L = lens[b];
    return L < 0 ? 0 : L > T ? T : L;
}

// ---- linear -------------------------------------------------------------------------------------
// sum_{t,s} (a_t . a_s)(g_t . g_s) over the upper triangles of the two (L,L) Gram matrices.
static double SFX(gram_sq)(const R *A, const R *G, int L, int IC, int OC, R *ga, R *gg) {
    SYRK(CblasRowMajor, CblasUpper, CblasNoTrans, L, IC, 1, A, IC, 0, ga, L);
    SYRK(CblasRowMajor, CblasUpper, CblasNoTrans, L, OC, 1, G, OC, 0, gg, L);
    double diag = 0, off = 0;
    for (int t = 0; t < L; t++) {
        const R *x = ga + (size_t)t * L, *y = gg + (size_t)t * L;
        diag += (double)x[t] * y[t];
        for (int s = t + 1; s < L; s++) off += (double)x[s] * y[s];
    }
    return diag + 2 * off;
}

// ||G^T A||_F^2 with G^T A (OC,IC) formed in m.
static double SFX(materialised_sq)(const R *A, const R *G, int L, int IC, int OC, R *m) {
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, L, 1, G, OC, A, IC, 0, m, IC);
    double s = 0;
    for (size_t i = 0; i < (size_t)OC * IC; i++) s += (double)m[i] * m[i];
    return s;
}

// ||sum_t g_t||^2 over L rows of width C; acc (C) scratch.
static double SFX(rowsum_sq)(const R *G, int L, int C, double *acc) {
    memset(acc, 0, (size_t)C * sizeof *acc);
    for (int t = 0; t < L; t++)
        for (int c = 0; c < C; c++) acc[c] += G[(size_t)t * C + c];
    double s = 0;
    for (int c = 0; c < C; c++) s += acc[c] * acc[c];
    return s;
}

void SFX(cpu_ghost_linear)(double *sq_w, double *sq_b, const R *dout, const R *in, const int32_t *lens, int B, int T,
                           int IC, int OC, int gram) {
    size_t scratch = gram ? 2 * (size_t)T * T : (size_t)OC * IC;
#pragma omp parallel if (B > 1)
    {
        R *w = xmalloc((scratch ? scratch : 1) * sizeof(R));
        double *acc = sq_b ? xmalloc((size_t)OC * sizeof *acc) : NULL;
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            int L = SFX(dp_rows)(lens, b, T);
            if (L == 0) continue;
            const R *A = in + (size_t)b * T * IC, *G = dout + (size_t)b * T * OC;
            if (sq_w)
                sq_w[b] += gram ? SFX(gram_sq)(A, G, L, IC, OC, w, w + (size_t)L * L) : SFX(materialised_sq)(A, G, L, IC, OC, w);
            if (sq_b) sq_b[b] += SFX(rowsum_sq)(G, L, OC, acc);
        }
        free(w);
        free(acc);
    }
}

// ---- layer norm ---------------------------------------------------------------------------------
void SFX(cpu_ghost_layernorm)(double *sq, const R *dout, const R *in, const R *mean, const R *rstd, const int32_t *lens,
                              int B, int T, int C) {
#pragma omp parallel if (B > 1)
    {
        double *dw = xmalloc(2 * (size_t)C * sizeof *dw), *db = dw + C;
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            int L = SFX(dp_rows)(lens, b, T);
            memset(dw, 0, 2 * (size_t)C * sizeof *dw);
            for (int t = 0; t < L; t++) {
                size_t n = (size_t)b * T + t;
                const R *x = in + n * C, *dy = dout + n * C;
                R m = mean[n], r = rstd[n];
                for (int c = 0; c < C; c++) {
                    dw[c] += (double)dy[c] * ((x[c] - m) * r); // as layernorm_backward's dw
                    db[c] += dy[c];
                }
            }
            double s = 0;
            for (int c = 0; c < C; c++) s += dw[c] * dw[c] + db[c] * db[c];
            sq[b] += s;
        }
        free(dw);
    }
}

// ---- embeddings ---------------------------------------------------------------------------------
// sum over the distinct keys k of the L rows (rows with key == skip left out) of ||sum_{t: key_t = k}
// g_t||^2; a group is summed when its first row is met, in row order.  key NULL: every key 0.
static double SFX(grouped_sq)(const R *G, const int32_t *key, int L, int C, int skip, double *acc) {
    double s = 0;
    for (int t = 0; t < L; t++) {
        int k = key ? key[t] : 0, seen = k == skip;
        for (int u = 0; u < t && !seen; u++) seen = (key ? key[u] : 0) == k;
        if (seen) continue;
        memset(acc, 0, (size_t)C * sizeof *acc);
        for (int u = t; u < L; u++)
            if ((key ? key[u] : 0) == k)
                for (int c = 0; c < C; c++) acc[c] += G[(size_t)u * C + c];
        for (int c = 0; c < C; c++) s += acc[c] * acc[c];
    }
    return s;
}

void SFX(cpu_ghost_embed)(double *sq_wte, double *sq_wpe, double *sq_tte, const R *dout, const int32_t *ids,
                          const int32_t *type_ids, const int32_t *lens, int B, int T, int C, int pad_id) {
#pragma omp parallel if (B > 1)
    {
        double *acc = xmalloc((size_t)C * sizeof *acc);
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            int L = SFX(dp_rows)(lens, b, T);
            const R *G = dout + (size_t)b * T * C;
            if (sq_wte) sq_wte[b] += SFX(grouped_sq)(G, ids + (size_t)b * T, L, C, pad_id < 0 ? INT32_MIN : pad_id, acc);
            if (sq_tte) sq_tte[b] += SFX(grouped_sq)(G, type_ids ? type_ids + (size_t)b * T : NULL, L, C, INT32_MIN, acc);
            if (sq_wpe) {
                double s = 0;
                for (size_t i = 0; i < (size_t)L * C; i++) s += (double)G[i] * G[i];
                sq_wpe[b] += s;
            }
        }
        free(acc);
    }
}

// ---- reweighting --------------------------------------------------------------------------------
void SFX(cpu_scale_rows)(R *x, const float *w, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        R s = (R)w[r];
        for (int c = 0; c < cols; c++) x[(size_t)r * cols + c] *= s;
    }
}
