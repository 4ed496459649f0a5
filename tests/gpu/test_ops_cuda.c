// CUDA backend vs the CPU backend, op by op (needs a GPU; run by `make test-gpu`).
//
// Every op runs on fresh random inputs at several shapes (T = 1, 7, 129, 512, padding masks, tiny
// and real head sizes) in fp32, bf16 and fp16.  The inputs are first rounded to the CUDA backend's
// dtype (upload, download) so that both backends see the same numbers; every CUDA output is
// poisoned with NaN before the op runs; fp32 gradient buffers start from the same random values on
// both sides so that += is checked too.  Comparison: ||got - ref|| / ||ref|| below the tolerance
// (fp32 1e-5, attention 1e-4; bf16/fp16 1e-2) and every element finite; each comparison prints its
// relative error, max |diff| and the worst element.  Also: dropout masks identical to the CPU's,
// and bit-identical results for the same inputs run twice (deterministic mode).  Attention runs the
// GEMM path (the CPU's Philox mask) at every dtype, a batch of 5,462 x 12 heads (past the old grid.y
// limit), and cuDNN's path in bf16/fp16: parity at p = 0 and its own mask's keep rate at p = 0.1.
// The op list: every op maps to the test that compares it (test_of, ops_coverage.h), conversions round
// to nearest even as kernels/cpu/half.h does, the capability query, and the refusal of a table with an
// empty slot.
#include "../ops_coverage.h"

#include <stdlib.h>

#include "../../kernels/cpu/half.h"

#include "aca/ops.h"
#include "aca/util.h"

static aca_backend *g_cpu;
static aca_backend *g_gpu[3]; // indexed by aca_dtype
static aca_rng g_rng;
static int g_small; // ACA_GPU_TEST_SMALL=1: small shapes only (for compute-sanitizer runs)

static const double TOL_F32 = 1e-5, TOL_F32_ATT = 1e-4, TOL_LOW = 1e-2;
static double tol_for(aca_dtype dt, int attention) {
    return dt == ACA_DT_F32 ? (attention ? TOL_F32_ATT : TOL_F32) : TOL_LOW;
}

// ---- host helpers ---------------------------------------------------------------------------------
static float *hrandn(size_t n, double scale) {
    float *x = xmalloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(&g_rng) * scale);
    return x;
}
static float *hcopy(const float *x, size_t n) {
    float *y = xmalloc((n ? n : 1) * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}
static float *hnan(size_t n) {
    float *x = xmalloc((n ? n : 1) * sizeof(float));
    tu_poison_f32(x, n);
    return x;
}

// Norm-aware comparison that no NaN can pass; prints one line per call.
static void cmp(const char *what, const float *got, const float *ref, size_t n, double tol) {
    double num = 0, den = 0, maxabs = 0, maxref = 0;
    size_t worst = 0, nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            if (nonfinite++ == 0) worst = i;
            continue;
        }
        double d = (double)got[i] - ref[i];
        num += d * d, den += (double)ref[i] * ref[i];
        if (fabs(d) > maxabs && !nonfinite) maxabs = fabs(d), worst = i;
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    int bad = nonfinite || !(rel <= tol);
    printf("%s %-58s n=%-8zu rel %.2e  max|diff| %.2e (max|ref| %.2e)  worst [%zu] got %.7g want %.7g%s\n",
           bad ? "FAIL" : "ok  ", what, n, rel, maxabs, maxref, worst, n ? (double)got[worst] : 0.0,
           n ? (double)ref[worst] : 0.0, nonfinite ? "  NON-FINITE" : "");
    if (bad) {
        print_error("%s: rel %.3g > tol %.3g or %zu non-finite elements\n", what, rel, tol, nonfinite);
        fail();
    }
}

// ---- device helpers --------------------------------------------------------------------------------
// A device tensor of the backend's dtype holding x; x is rounded in place to what the device holds.
static void *dput(aca_backend *be, float *x, size_t n) {
    aca_err e = {0};
    void *d = be->ops->alloc(be, (n ? n : 1) * aca_dtype_size(be->dtype), &e);
    assert_non_null(d);
    be->ops->from_f32(be, d, x, n);
    be->ops->to_f32(be, x, d, n);
    return d;
}
// A device fp32 tensor holding x (gradients, master weights, statistics).
static float *dput32(aca_backend *be, const float *x, size_t n) {
    aca_err e = {0};
    float *d = be->ops->alloc(be, (n ? n : 1) * sizeof(float), &e);
    assert_non_null(d);
    be->ops->upload(be, d, x, n * sizeof(float));
    return d;
}
static int32_t *dputi(aca_backend *be, const int32_t *x, size_t n) {
    aca_err e = {0};
    int32_t *d = be->ops->alloc(be, (n ? n : 1) * sizeof(int32_t), &e);
    assert_non_null(d);
    be->ops->upload(be, d, x, n * sizeof(int32_t));
    return d;
}
// A poisoned (NaN) device tensor of the dtype / of fp32.
static void *dnan(aca_backend *be, size_t n) {
    float *h = hnan(n);
    void *d = dput(be, h, n);
    free(h);
    return d;
}
static float *dnan32(aca_backend *be, size_t n) {
    float *h = hnan(n);
    float *d = dput32(be, h, n);
    free(h);
    return d;
}
static float *dget(aca_backend *be, const void *d, size_t n) {
    float *h = xmalloc((n ? n : 1) * sizeof(float));
    be->ops->to_f32(be, h, d, n);
    return h;
}
static float *dget32(aca_backend *be, const float *d, size_t n) {
    float *h = xmalloc((n ? n : 1) * sizeof(float));
    be->ops->download(be, h, d, n * sizeof(float));
    return h;
}
static void dfree(aca_backend *be, void *d) { be->ops->free(be, d); }

// The comparison of a device tensor with a host reference; frees the download.
static void cmp_dev(aca_backend *be, const char *what, const void *d, const float *ref, size_t n, double tol) {
    float *h = dget(be, d, n);
    cmp(what, h, ref, n, tol);
    free(h);
}
static void cmp_dev32(aca_backend *be, const char *what, const float *d, const float *ref, size_t n, double tol) {
    float *h = dget32(be, d, n);
    cmp(what, h, ref, n, tol);
    free(h);
}

#define FOR_DTYPES(dt) for (aca_dtype dt = ACA_DT_F32; dt <= ACA_DT_F16; dt = (aca_dtype)(dt + 1))

static const int T_LIST[] = {1, 7, 129, 512};
// Skips a case whose size is beyond the small set.
#define SKIP_IF_BIG(size) \
    if (g_small && (size) > 200000) continue

// ---- embeddings ------------------------------------------------------------------------------------
static void test_embed(void **state) {
    rng_seed(&g_rng, 1, 0);
    const int V = 50, C = 48, NT = 2, pad = 0;
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        for (size_t ti = 0; ti < ACA_ARRAY_LEN(T_LIST); ti++) {
            for (int with_tte = 0; with_tte <= 1; with_tte++) {
                int B = 2, T = T_LIST[ti], N = B * T, maxT = T + 3;
                SKIP_IF_BIG(T > 129 ? 1 << 30 : 0);
                int32_t *ids = xmalloc(N * sizeof(int32_t)), *tt = xmalloc(N * sizeof(int32_t));
                for (int n = 0; n < N; n++) ids[n] = (int32_t)rng_below(&g_rng, V), tt[n] = (int32_t)rng_below(&g_rng, NT);
                ids[N - 1] = pad;
                float *wte = hrandn((size_t)V * C, 1), *wpe = hrandn((size_t)maxT * C, 1), *tte = hrandn((size_t)NT * C, 1);
                void *d_wte = dput(be, wte, (size_t)V * C), *d_wpe = dput(be, wpe, (size_t)maxT * C);
                void *d_tte = dput(be, tte, (size_t)NT * C);
                int32_t *d_ids = dputi(be, ids, N), *d_tt = dputi(be, tt, N);
                const int32_t *use_tt = with_tte && T != 7 ? tt : NULL; // T = 7: tte with NULL type ids
                const int32_t *d_use_tt = use_tt ? d_tt : NULL;
                float *ref = xmalloc((size_t)N * C * sizeof(float));
                void *d_out = dnan(be, (size_t)N * C);
                g_cpu->ops->embed_forward(g_cpu, ref, ids, use_tt, wte, wpe, with_tte ? tte : NULL, B, T, C);
                be->ops->embed_forward(be, d_out, d_ids, d_use_tt, d_wte, d_wpe, with_tte ? d_tte : NULL, B, T, C);
                char what[128];
                snprintf(what, sizeof what, "embed_forward %s T=%d tte=%d", aca_dtype_name(dt), T, with_tte);
                cmp_dev(be, what, d_out, ref, (size_t)N * C, tol_for(dt, 0));

                float *dout = hrandn((size_t)N * C, 1);
                void *d_dout = dput(be, dout, (size_t)N * C);
                float *gwte = hrandn((size_t)V * C, 1), *gwpe = hrandn((size_t)maxT * C, 1), *gtte = hrandn((size_t)NT * C, 1);
                float *d_gwte = dput32(be, gwte, (size_t)V * C), *d_gwpe = dput32(be, gwpe, (size_t)maxT * C);
                float *d_gtte = dput32(be, gtte, (size_t)NT * C);
                g_cpu->ops->embed_backward(g_cpu, gwte, gwpe, with_tte ? gtte : NULL, dout, ids, use_tt, B, T, C, pad);
                be->ops->embed_backward(be, d_gwte, d_gwpe, with_tte ? d_gtte : NULL, d_dout, d_ids, d_use_tt, B, T, C,
                                        pad);
                snprintf(what, sizeof what, "embed_backward dwte %s T=%d tte=%d", aca_dtype_name(dt), T, with_tte);
                cmp_dev32(be, what, d_gwte, gwte, (size_t)V * C, TOL_F32);
                snprintf(what, sizeof what, "embed_backward dwpe %s T=%d tte=%d", aca_dtype_name(dt), T, with_tte);
                cmp_dev32(be, what, d_gwpe, gwpe, (size_t)maxT * C, TOL_F32);
                if (with_tte) {
                    snprintf(what, sizeof what, "embed_backward dtte %s T=%d", aca_dtype_name(dt), T);
                    cmp_dev32(be, what, d_gtte, gtte, (size_t)NT * C, TOL_F32);
                }
                dfree(be, d_wte), dfree(be, d_wpe), dfree(be, d_tte), dfree(be, d_ids), dfree(be, d_tt);
                dfree(be, d_out), dfree(be, d_dout), dfree(be, d_gwte), dfree(be, d_gwpe), dfree(be, d_gtte);
                free(ids), free(tt), free(wte), free(wpe), free(tte), free(ref), free(dout), free(gwte), free(gwpe);
                free(gtte);
            }
        }
    }
}

// ---- linear ------------------------------------------------------------------------------------------
static void test_linear(void **state) {
    rng_seed(&g_rng, 2, 0);
    static const int SH[][3] = {{1, 48, 36}, {7, 64, 96}, {258, 768, 768}, {512, 96, 2}, {129, 36, 150}};
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        for (size_t si = 0; si < ACA_ARRAY_LEN(SH); si++) {
            for (int variant = 0; variant < 2; variant++) { // 0: bias, overwrite din; 1: no bias, accumulate din
                int N = SH[si][0], IC = SH[si][1], OC = SH[si][2];
                SKIP_IF_BIG((size_t)N * IC);
                size_t nin = (size_t)N * IC, nw = (size_t)OC * IC, nout = (size_t)N * OC;
                float *in = hrandn(nin, 1), *w = hrandn(nw, 1.0 / sqrt(IC)), *bias = hrandn(OC, 1);
                void *d_in = dput(be, in, nin), *d_w = dput(be, w, nw), *d_bias = dput(be, bias, OC);
                float *ref = xmalloc(nout * sizeof(float));
                void *d_out = dnan(be, nout);
                g_cpu->ops->linear_forward(g_cpu, ref, in, w, variant ? NULL : bias, N, IC, OC);
                be->ops->linear_forward(be, d_out, d_in, d_w, variant ? NULL : d_bias, N, IC, OC);
                char what[128];
                snprintf(what, sizeof what, "linear_forward %s N=%d IC=%d OC=%d bias=%d", aca_dtype_name(dt), N, IC, OC,
                         !variant);
                cmp_dev(be, what, d_out, ref, nout, tol_for(dt, 0));

                float *dout = hrandn(nout, 1), *din = hrandn(nin, 1), *dw = hrandn(nw, 1), *db = hrandn(OC, 1);
                void *d_dout = dput(be, dout, nout);
                void *d_din = variant ? dput(be, din, nin) : dnan(be, nin);
                float *d_dw = dput32(be, dw, nw), *d_db = dput32(be, db, OC);
                g_cpu->ops->linear_backward(g_cpu, din, dw, variant ? NULL : db, dout, in, w, N, IC, OC, variant);
                be->ops->linear_backward(be, d_din, d_dw, variant ? NULL : d_db, d_dout, d_in, d_w, N, IC, OC, variant);
                snprintf(what, sizeof what, "linear_backward din %s N=%d IC=%d OC=%d accum=%d", aca_dtype_name(dt), N,
                         IC, OC, variant);
                cmp_dev(be, what, d_din, din, nin, tol_for(dt, 0));
                snprintf(what, sizeof what, "linear_backward dw %s N=%d IC=%d OC=%d", aca_dtype_name(dt), N, IC, OC);
                cmp_dev32(be, what, d_dw, dw, nw, tol_for(dt, 0));
                if (!variant) {
                    snprintf(what, sizeof what, "linear_backward dbias %s N=%d OC=%d", aca_dtype_name(dt), N, OC);
                    cmp_dev32(be, what, d_db, db, OC, TOL_F32);
                }
                dfree(be, d_in), dfree(be, d_w), dfree(be, d_bias), dfree(be, d_out), dfree(be, d_dout);
                dfree(be, d_din), dfree(be, d_dw), dfree(be, d_db);
                free(in), free(w), free(bias), free(ref), free(dout), free(din), free(dw), free(db);
            }
        }
    }
}

// ---- layer norm ---------------------------------------------------------------------------------------
static void test_layernorm(void **state) {
    rng_seed(&g_rng, 3, 0);
    static const int SH[][2] = {{1, 48}, {7, 768}, {129, 36}, {1024, 768}};
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        for (size_t si = 0; si < ACA_ARRAY_LEN(SH); si++) {
            for (int accum = 0; accum <= 1; accum++) {
                int N = SH[si][0], C = SH[si][1];
                SKIP_IF_BIG((size_t)N * C);
                size_t n = (size_t)N * C;
                float *in = hrandn(n, 2), *w = hrandn(C, 1), *b = hrandn(C, 1);
                for (size_t i = 0; i < n; i++) in[i] += 0.5f; // a non-zero mean
                void *d_in = dput(be, in, n), *d_w = dput(be, w, C), *d_b = dput(be, b, C);
                float *ref = xmalloc(n * sizeof(float)), *mean = xmalloc(N * sizeof(float)), *rstd = xmalloc(N * sizeof(float));
                void *d_out = dnan(be, n);
                float *d_mean = dnan32(be, N), *d_rstd = dnan32(be, N);
                g_cpu->ops->layernorm_forward(g_cpu, ref, mean, rstd, in, w, b, N, C, 1e-12f);
                be->ops->layernorm_forward(be, d_out, d_mean, d_rstd, d_in, d_w, d_b, N, C, 1e-12f);
                char what[128];
                snprintf(what, sizeof what, "layernorm_forward out %s N=%d C=%d", aca_dtype_name(dt), N, C);
                cmp_dev(be, what, d_out, ref, n, tol_for(dt, 0));
                snprintf(what, sizeof what, "layernorm_forward mean %s N=%d C=%d", aca_dtype_name(dt), N, C);
                cmp_dev32(be, what, d_mean, mean, N, TOL_F32);
                snprintf(what, sizeof what, "layernorm_forward rstd %s N=%d C=%d", aca_dtype_name(dt), N, C);
                cmp_dev32(be, what, d_rstd, rstd, N, TOL_F32);

                // Backward from the CPU's statistics on both sides (the forward check covers the GPU's).
                float *dout = hrandn(n, 1), *din = hrandn(n, 1), *dw = hrandn(C, 1), *db = hrandn(C, 1);
                void *d_dout = dput(be, dout, n), *d_din = accum ? dput(be, din, n) : dnan(be, n);
                float *d_dw = dput32(be, dw, C), *d_db = dput32(be, db, C);
                be->ops->upload(be, d_mean, mean, N * sizeof(float));
                be->ops->upload(be, d_rstd, rstd, N * sizeof(float));
                g_cpu->ops->layernorm_backward(g_cpu, din, dw, db, dout, in, w, mean, rstd, N, C, accum);
                be->ops->layernorm_backward(be, d_din, d_dw, d_db, d_dout, d_in, d_w, d_mean, d_rstd, N, C, accum);
                snprintf(what, sizeof what, "layernorm_backward din %s N=%d C=%d accum=%d", aca_dtype_name(dt), N, C,
                         accum);
                cmp_dev(be, what, d_din, din, n, tol_for(dt, 0));
                snprintf(what, sizeof what, "layernorm_backward dw %s N=%d C=%d", aca_dtype_name(dt), N, C);
                cmp_dev32(be, what, d_dw, dw, C, TOL_F32);
                snprintf(what, sizeof what, "layernorm_backward db %s N=%d C=%d", aca_dtype_name(dt), N, C);
                cmp_dev32(be, what, d_db, db, C, TOL_F32);
                dfree(be, d_in), dfree(be, d_w), dfree(be, d_b), dfree(be, d_out), dfree(be, d_mean), dfree(be, d_rstd);
                dfree(be, d_dout), dfree(be, d_din), dfree(be, d_dw), dfree(be, d_db);
                free(in), free(w), free(b), free(ref), free(mean), free(rstd), free(dout), free(din), free(dw), free(db);
            }
        }
    }
}

// ---- elementwise ---------------------------------------------------------------------------------------
static void test_elementwise(void **state) {
    rng_seed(&g_rng, 4, 0);
    static const size_t NS[] = {1, 7, 1031, 300000};
    static const float PS[] = {0.0f, 0.1f, 0.5f, 1.0f};
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        for (size_t ni = 0; ni < ACA_ARRAY_LEN(NS); ni++) {
            size_t n = NS[ni];
            SKIP_IF_BIG(n);
            char what[128];
            float *a = hrandn(n, 2), *b = hrandn(n, 2), *ref = xmalloc(n * sizeof(float));
            void *d_a = dput(be, a, n), *d_b = dput(be, b, n), *d_out = dnan(be, n);
            g_cpu->ops->add(g_cpu, ref, a, b, n);
            be->ops->add(be, d_out, d_a, d_b, n);
            snprintf(what, sizeof what, "add %s n=%zu", aca_dtype_name(dt), n);
            cmp_dev(be, what, d_out, ref, n, tol_for(dt, 0));
            for (int act = ACA_ACT_GELU; act <= ACA_ACT_TANH; act++) {
                dfree(be, d_out);
                d_out = dnan(be, n);
                g_cpu->ops->act_forward(g_cpu, (aca_act)act, ref, a, n);
                be->ops->act_forward(be, (aca_act)act, d_out, d_a, n);
                snprintf(what, sizeof what, "act_forward %d %s n=%zu", act, aca_dtype_name(dt), n);
                cmp_dev(be, what, d_out, ref, n, tol_for(dt, 0));
                // backward in place (din aliases dout), as ops.h allows
                float *g = hcopy(b, n);
                void *d_g = dput(be, g, n);
                g_cpu->ops->act_backward(g_cpu, (aca_act)act, g, g, a, n);
                be->ops->act_backward(be, (aca_act)act, d_g, d_g, d_a, n);
                snprintf(what, sizeof what, "act_backward %d %s n=%zu (in place)", act, aca_dtype_name(dt), n);
                cmp_dev(be, what, d_g, g, n, tol_for(dt, 0));
                dfree(be, d_g);
                free(g);
            }
            for (size_t pi = 0; pi < ACA_ARRAY_LEN(PS); pi++) {
                float p = PS[pi];
                uint64_t seed = 0x1234567890abcdefULL + pi;
                dfree(be, d_out);
                d_out = dnan(be, n);
                g_cpu->ops->dropout_forward(g_cpu, ref, a, n, p, seed);
                be->ops->dropout_forward(be, d_out, d_a, n, p, seed);
                float *got = dget(be, d_out, n);
                size_t mism = 0;
                for (size_t i = 0; i < n; i++) mism += (got[i] == 0) != (ref[i] == 0);
                snprintf(what, sizeof what, "dropout_forward %s n=%zu p=%g (mask mismatches %zu)", aca_dtype_name(dt), n,
                         (double)p, mism);
                cmp(what, got, ref, n, tol_for(dt, 0));
                assert_int_equal(mism, 0);
                free(got);
                float *g = hcopy(b, n);
                void *d_g = dput(be, g, n);
                g_cpu->ops->dropout_backward(g_cpu, g, g, n, p, seed);
                be->ops->dropout_backward(be, d_g, d_g, n, p, seed);
                snprintf(what, sizeof what, "dropout_backward %s n=%zu p=%g (in place)", aca_dtype_name(dt), n, (double)p);
                cmp_dev(be, what, d_g, g, n, tol_for(dt, 0));
                dfree(be, d_g);
                free(g);
            }
            dfree(be, d_a), dfree(be, d_b), dfree(be, d_out);
            free(a), free(b), free(ref);
        }
    }
}

// ---- attention -------------------------------------------------------------------------------------------
typedef struct {
    int B, T, NH, HS;
    float p;
    int pad; // 0: no mask; 1: batch 1 padded to 2/3 of T; 2: also a fully padded row of keys (b = 0)
} att_case;

static void run_attention_case(aca_backend *be, const att_case *ac) {
    int B = ac->B, T = ac->T, NH = ac->NH, C = NH * ac->HS, N = B * T;
    size_t nqkv = (size_t)N * 3 * C, nout = (size_t)N * C;
    uint64_t seed = 777 + T;
    float *qkv = hrandn(nqkv, 1.5);
    int32_t *mask = xmalloc(N * sizeof(int32_t));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int keep = 1;
            if (ac->pad >= 1 && b == B - 1) keep = t < (2 * T + 2) / 3;
            if (ac->pad >= 2 && b == 0) keep = 0;
            mask[b * T + t] = keep;
        }
    void *d_qkv = dput(be, qkv, nqkv);
    int32_t *d_mask = ac->pad ? dputi(be, mask, N) : NULL;
    const int32_t *hmask = ac->pad ? mask : NULL;
    float *ref = xmalloc(nout * sizeof(float));
    float *st = xmalloc(g_cpu->ops->attention_state_bytes(g_cpu, B, T, C, NH));
    void *d_out = dnan(be, nout);
    size_t sb = be->ops->attention_state_bytes(be, B, T, C, NH);
    aca_err e = {0};
    void *d_st = be->ops->alloc(be, sb, &e);
    assert_non_null(d_st);
    g_cpu->ops->attention_forward(g_cpu, ref, st, qkv, hmask, B, T, C, NH, ac->p, seed);
    be->ops->attention_forward(be, d_out, d_st, d_qkv, d_mask, B, T, C, NH, ac->p, seed);
    char what[160];
    snprintf(what, sizeof what, "attention_forward %s B=%d T=%d NH=%d HS=%d p=%g pad=%d", aca_dtype_name(be->dtype), B,
             T, NH, ac->HS, (double)ac->p, ac->pad);
    cmp_dev(be, what, d_out, ref, nout, tol_for(be->dtype, 1));

    // Backward: the CUDA side gets the CPU's forward output (rounded), so both see the same O.
    float *dout = hrandn(nout, 1), *dqkv = xmalloc(nqkv * sizeof(float));
    void *d_dout = dput(be, dout, nout), *d_ref_out = dput(be, ref, nout), *d_dqkv = dnan(be, nqkv);
    g_cpu->ops->attention_backward(g_cpu, dqkv, dout, qkv, ref, st, hmask, B, T, C, NH, ac->p, seed);
    be->ops->attention_backward(be, d_dqkv, d_dout, d_qkv, d_ref_out, d_st, d_mask, B, T, C, NH, ac->p, seed);
    snprintf(what, sizeof what, "attention_backward %s B=%d T=%d NH=%d HS=%d p=%g pad=%d", aca_dtype_name(be->dtype),
             B, T, NH, ac->HS, (double)ac->p, ac->pad);
    cmp_dev(be, what, d_dqkv, dqkv, nqkv, tol_for(be->dtype, 1));

    dfree(be, d_qkv), dfree(be, d_mask), dfree(be, d_out), dfree(be, d_st), dfree(be, d_dout), dfree(be, d_ref_out);
    dfree(be, d_dqkv);
    free(qkv), free(mask), free(ref), free(st), free(dout), free(dqkv);
}

// cuDNN's path (bf16/fp16): parity with the CPU at p = 0, then its own dropout mask's keep rate.
static aca_backend *cudnn_backend(aca_dtype dt, const att_case *ac) {
    aca_err e = {0};
    aca_backend *be = aca_backend_cuda_create(dt, &e);
    assert_non_null(be);
    aca_shape sh = {ac->B, ac->T, ac->NH * ac->HS, ac->NH, 4 * ac->NH * ac->HS, 2, 100, ac->p};
    if (aca_backend_set_attention(be, "cudnn", &e) || aca_backend_prepare(be, &sh, &e)) {
        printf("skipped: cuDNN attention %s B=%d T=%d HS=%d: %s\n", aca_dtype_name(dt), ac->B, ac->T, ac->HS, e.msg);
        aca_backend_destroy(be);
        return NULL;
    }
    return be;
}

static void test_attention_cudnn(void **state) {
    rng_seed(&g_rng, 9, 0);
    static const att_case CASES[] = {{2, 1, 2, 64, 0.0f, 0}, {2, 7, 3, 16, 0.0f, 1}, {2, 129, 2, 64, 0.0f, 1},
                                     {2, 512, 2, 64, 0.0f, 1}, {3, 65, 4, 32, 0.0f, 1}};
    int ran = 0;
    for (aca_dtype dt = ACA_DT_BF16; dt <= ACA_DT_F16; dt = (aca_dtype)(dt + 1))
        for (size_t ci = 0; ci < ACA_ARRAY_LEN(CASES); ci++) {
            SKIP_IF_BIG(CASES[ci].T > 129 ? 1 << 30 : 0);
            aca_backend *be = cudnn_backend(dt, &CASES[ci]);
            if (!be) continue;
            run_attention_case(be, &CASES[ci]);
            aca_backend_destroy(be);
            ran++;
        }
    // Keep rate: q = k = 0 (uniform P = 1/T), v_j = e_j, T = HS: out[i][j] = keep_ij / ((1-p) T).
    int B = 2, NH = 2, T = 64, HS = 64, C = NH * HS, N = B * T;
    float p = 0.1f;
    att_case ac = {B, T, NH, HS, p, 0};
    aca_backend *be = cudnn_backend(ACA_DT_BF16, &ac);
    if (!be) return;
    float *qkv = xcalloc((size_t)N * 3 * C, sizeof(float));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) qkv[((size_t)b * T + t) * 3 * C + 2 * C + h * HS + t] = 1.0f;
    int32_t *ones = xmalloc(N * sizeof(int32_t));
    for (int i = 0; i < N; i++) ones[i] = 1;
    void *d_qkv = dput(be, qkv, (size_t)N * 3 * C), *d_out = dnan(be, (size_t)N * C);
    int32_t *d_mask = dputi(be, ones, N);
    aca_err e = {0};
    void *d_st = be->ops->alloc(be, be->ops->attention_state_bytes(be, B, T, C, NH), &e);
    be->ops->attention_forward(be, d_out, d_st, d_qkv, d_mask, B, T, C, NH, p, 1234);
    float *out = dget(be, d_out, (size_t)N * C);
    size_t kept = 0, off = 0, n = (size_t)N * C;
    float want = 1.0f / ((1.0f - p) * T);
    for (size_t i = 0; i < n; i++) {
        kept += out[i] != 0;
        off += out[i] != 0 && !(fabsf(out[i] - want) <= 1e-2f * want);
    }
    double rate = (double)kept / n;
    printf("%s cuDNN dropout p=%g: keep rate %.4f of %zu (want %.2f +- 0.01), %zu kept values off 1/((1-p)T)\n",
           fabs(rate - (1 - p)) <= 0.01 && !off ? "ok  " : "FAIL", (double)p, rate, n, 1 - p, off);
    assert_true(fabs(rate - (1 - p)) <= 0.01);
    assert_int_equal(off, 0);
    free(qkv), free(ones), free(out);
    dfree(be, d_qkv), dfree(be, d_out), dfree(be, d_mask), dfree(be, d_st);
    aca_backend_destroy(be);
    printf("ok   cuDNN attention: %d parity cases run\n", ran);
}

// Batches beyond the old grid.y limit (B x NH > 65,535 exited): B = 5,462 sequences, 12 heads.
static void test_attention_big_batch(void **state) {
    rng_seed(&g_rng, 10, 0);
    att_case ac = {5462, 4, 12, 8, 0.1f, 1};
    run_attention_case(g_gpu[ACA_DT_BF16], &ac);
}

static void test_attention(void **state) {
    rng_seed(&g_rng, 5, 0);
    static const att_case CASES[] = {
        {2, 1, 2, 64, 0.0f, 0},   {2, 7, 3, 4, 0.1f, 1},     {2, 129, 2, 64, 0.1f, 1}, {1, 512, 2, 64, 0.0f, 0},
        {2, 512, 1, 64, 0.1f, 1}, {2, 129, 2, 32, 0.0f, 2}, {3, 65, 4, 12, 0.2f, 2}, {2, 33, 2, 64, 1.0f, 1},
    };
    FOR_DTYPES(dt) {
        for (size_t ci = 0; ci < ACA_ARRAY_LEN(CASES); ci++) {
            SKIP_IF_BIG(CASES[ci].T > 129 ? 1 << 30 : 0);
            run_attention_case(g_gpu[dt], &CASES[ci]);
        }
    }
}

// ---- classification head -------------------------------------------------------------------------------
static void test_head(void **state) {
    rng_seed(&g_rng, 6, 0);
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        int B = 5, T = 7, C = 48, K = 10;
        char what[128];
        float *in = hrandn((size_t)B * T * C, 1), *ref = xmalloc((size_t)B * T * C * sizeof(float));
        void *d_in = dput(be, in, (size_t)B * T * C), *d_out = dnan(be, (size_t)B * C);
        g_cpu->ops->cls_gather(g_cpu, ref, in, B, T, C);
        be->ops->cls_gather(be, d_out, d_in, B, T, C);
        snprintf(what, sizeof what, "cls_gather %s", aca_dtype_name(dt));
        cmp_dev(be, what, d_out, ref, (size_t)B * C, 0);
        void *d_din = dnan(be, (size_t)B * T * C);
        g_cpu->ops->cls_scatter(g_cpu, ref, in, B, T, C); // dout = the first B*C values of in
        be->ops->cls_scatter(be, d_din, d_in, B, T, C);
        snprintf(what, sizeof what, "cls_scatter %s", aca_dtype_name(dt));
        cmp_dev(be, what, d_din, ref, (size_t)B * T * C, 0);

        float *logits = hrandn((size_t)B * K, 3), *loss = xmalloc(B * sizeof(float)), *dl = xmalloc((size_t)B * K * 4);
        int32_t labels[5] = {3, 0, -1, 9, 4};
        void *d_logits = dput(be, logits, (size_t)B * K), *d_dl = dnan(be, (size_t)B * K);
        float *d_loss = dnan32(be, B);
        int32_t *d_labels = dputi(be, labels, B);
        g_cpu->ops->cross_entropy(g_cpu, loss, dl, logits, labels, B, K, 0.25f);
        be->ops->cross_entropy(be, d_loss, d_dl, d_logits, d_labels, B, K, 0.25f);
        snprintf(what, sizeof what, "cross_entropy loss %s", aca_dtype_name(dt));
        cmp_dev32(be, what, d_loss, loss, B, TOL_F32);
        snprintf(what, sizeof what, "cross_entropy dlogits %s", aca_dtype_name(dt));
        cmp_dev(be, what, d_dl, dl, (size_t)B * K, tol_for(dt, 0));
        dfree(be, d_in), dfree(be, d_out), dfree(be, d_din), dfree(be, d_logits), dfree(be, d_dl), dfree(be, d_loss);
        dfree(be, d_labels);
        free(in), free(ref), free(logits), free(loss), free(dl);
    }
}

// ---- optimizer --------------------------------------------------------------------------------------------
static void test_optimizer(void **state) {
    rng_seed(&g_rng, 7, 0);
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        size_t n = g_small ? 100003 : 1000003, nd = n * 3 / 5;
        float *g = hrandn(n, 1);
        float *d_g = dput32(be, g, n);
        double s_cpu = g_cpu->ops->sumsq(g_cpu, g, n), s_gpu = be->ops->sumsq(be, d_g, n);
        printf("ok   sumsq %s n=%zu gpu %.17g cpu %.17g\n", aca_dtype_name(dt), n, s_gpu, s_cpu);
        assert_true(fabs(s_gpu - s_cpu) <= 1e-12 * s_cpu);
        float nanv = NAN;
        be->ops->upload(be, d_g + 12345, &nanv, sizeof nanv);
        assert_true(isnan(be->ops->sumsq(be, d_g, n)));
        be->ops->upload(be, d_g + 12345, &g[12345], sizeof(float));

        float *p = hrandn(n, 0.1), *m = hrandn(n, 0.01), *v = hrandn(n, 0.001);
        for (size_t i = 0; i < n; i++) v[i] = v[i] * v[i];
        float *d_p = dput32(be, p, n), *d_m = dput32(be, m, n), *d_v = dput32(be, v, n);
        void *d_pc = dnan(be, n);
        aca_adamw h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                       .grad_scale = 0.5f, .t = 3};
        float *pc = xmalloc(n * sizeof(float));
        g_cpu->ops->adamw(g_cpu, p, g, m, v, pc, n, nd, &h);
        be->ops->adamw(be, d_p, d_g, d_m, d_v, d_pc, n, nd, &h);
        char what[96];
        snprintf(what, sizeof what, "adamw p %s", aca_dtype_name(dt));
        cmp_dev32(be, what, d_p, p, n, TOL_F32);
        snprintf(what, sizeof what, "adamw m %s", aca_dtype_name(dt));
        cmp_dev32(be, what, d_m, m, n, TOL_F32);
        snprintf(what, sizeof what, "adamw v %s", aca_dtype_name(dt));
        cmp_dev32(be, what, d_v, v, n, TOL_F32);
        snprintf(what, sizeof what, "adamw compute copy %s", aca_dtype_name(dt));
        cmp_dev(be, what, d_pc, pc, n, tol_for(dt, 0));
        dfree(be, d_g), dfree(be, d_p), dfree(be, d_m), dfree(be, d_v), dfree(be, d_pc);
        free(g), free(p), free(m), free(v), free(pc);
    }
}

// ---- determinism ---------------------------------------------------------------------------------------------
// The backward ops with reductions, twice on the same inputs: bit-identical outputs.
static void test_deterministic(void **state) {
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        float *res[2][4];
        int B = 4, T = 129, NH = 2, HS = 64, C = NH * HS, N = B * T, V = 20;
        size_t nqkv = (size_t)N * 3 * C, nout = (size_t)N * C;
        for (int run = 0; run < 2; run++) {
            rng_seed(&g_rng, 8, 0);
            float *qkv = hrandn(nqkv, 1), *dout = hrandn(nout, 1), *in = hrandn(nout, 1), *w = hrandn(C, 1);
            int32_t *ids = xmalloc(N * sizeof(int32_t)), *mask = xmalloc(N * sizeof(int32_t));
            for (int i = 0; i < N; i++) ids[i] = (int32_t)rng_below(&g_rng, V), mask[i] = (i % T) < T - 5 * (i / T);
            void *d_qkv = dput(be, qkv, nqkv), *d_dout = dput(be, dout, nout), *d_in = dput(be, in, nout);
            void *d_w = dput(be, w, C), *d_out = dnan(be, nout), *d_dqkv = dnan(be, nqkv), *d_din = dnan(be, nout);
            int32_t *d_ids = dputi(be, ids, N), *d_mask = dputi(be, mask, N);
            aca_err e = {0};
            void *d_st = be->ops->alloc(be, be->ops->attention_state_bytes(be, B, T, C, NH), &e);
            float *d_dwte = dnan32(be, (size_t)V * C), *d_dwpe = dnan32(be, (size_t)T * C);
            float *d_mean = dnan32(be, N), *d_rstd = dnan32(be, N), *d_dw = dnan32(be, C), *d_db = dnan32(be, C);
            be->ops->memset0(be, d_dwte, (size_t)V * C * 4), be->ops->memset0(be, d_dwpe, (size_t)T * C * 4);
            be->ops->memset0(be, d_dw, C * 4), be->ops->memset0(be, d_db, C * 4);
            be->ops->attention_forward(be, d_out, d_st, d_qkv, d_mask, B, T, C, NH, 0.1f, 99);
            be->ops->attention_backward(be, d_dqkv, d_dout, d_qkv, d_out, d_st, d_mask, B, T, C, NH, 0.1f, 99);
            be->ops->embed_backward(be, d_dwte, d_dwpe, NULL, d_dout, d_ids, NULL, B, T, C, 0);
            be->ops->layernorm_forward(be, d_din, d_mean, d_rstd, d_in, d_w, d_w, N, C, 1e-5f);
            be->ops->layernorm_backward(be, d_din, d_dw, d_db, d_dout, d_in, d_w, d_mean, d_rstd, N, C, 0);
            res[run][0] = dget(be, d_dqkv, nqkv);
            res[run][1] = dget32(be, d_dwte, (size_t)V * C);
            res[run][2] = dget32(be, d_dwpe, (size_t)T * C);
            res[run][3] = dget32(be, d_dw, C);
            dfree(be, d_qkv), dfree(be, d_dout), dfree(be, d_in), dfree(be, d_w), dfree(be, d_out), dfree(be, d_dqkv);
            dfree(be, d_din), dfree(be, d_ids), dfree(be, d_mask), dfree(be, d_st), dfree(be, d_dwte), dfree(be, d_dwpe);
            dfree(be, d_mean), dfree(be, d_rstd), dfree(be, d_dw), dfree(be, d_db);
            free(qkv), free(dout), free(in), free(w), free(ids), free(mask);
        }
        tu_check_bits("deterministic attention dqkv", res[0][0], res[1][0], nqkv);
        tu_check_bits("deterministic embed dwte", res[0][1], res[1][1], (size_t)V * C);
        tu_check_bits("deterministic embed dwpe", res[0][2], res[1][2], (size_t)T * C);
        tu_check_bits("deterministic layernorm dw", res[0][3], res[1][3], C);
        printf("ok   deterministic %s: attention, embedding and layernorm backward bit-identical over two runs\n",
               aca_dtype_name(dt));
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 4; k++) free(res[r][k]);
    }
}

// ---- errors ---------------------------------------------------------------------------------------------------
static void test_alloc_failure(void **state) {
    aca_err e = {0};
    aca_backend *be = g_gpu[ACA_DT_F32];
    void *p = be->ops->alloc(be, (size_t)1 << 50, &e); // 1 PiB
    assert_null(p);
    printf("ok   alloc of 1 PiB fails with: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "--batch"));
    void *q = be->ops->alloc(be, 1024, &e); // the failure left nothing sticky behind
    assert_non_null(q);
    be->ops->free(be, q);
}

// ---- memory, conversions, capabilities, the op list ------------------------------------------------------
static void test_memory(void **state) {
    rng_seed(&g_rng, 11, 0);
    FOR_DTYPES(dt) {
        aca_backend *be = g_gpu[dt];
        size_t n = 1031;
        float *x = hrandn(n, 3), *back = hnan(n), *want = xmalloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) want[i] = dt == ACA_DT_F32 ? x[i] : half_round(dt, x[i]);
        float *d32 = dput32(be, x, n); // upload
        be->ops->sync(be);
        be->ops->download(be, back, d32, n * sizeof(float));
        tu_check_bits("upload/download", back, x, n);
        aca_err e = {0};
        void *d = be->ops->alloc(be, n * aca_dtype_size(dt), &e);
        assert_non_null(d);
        be->ops->from_f32(be, d, x, n);
        be->ops->to_f32(be, back, d, n);
        tu_check_bits("from_f32/to_f32 (round to nearest even)", back, want, n);
        be->ops->memset0(be, d, n * aca_dtype_size(dt));
        be->ops->cast_params(be, d, d32, n);
        be->ops->to_f32(be, back, d, n);
        tu_check_bits("cast_params (round to nearest even)", back, want, n);
        be->ops->memset0(be, d32, n * sizeof(float));
        be->ops->download(be, back, d32, n * sizeof(float));
        for (size_t i = 0; i < n; i++) assert_true(back[i] == 0.0f);
        printf("ok   memory and conversions %s: copies exact, conversions rounded as half.h\n", aca_dtype_name(dt));
        dfree(be, d), dfree(be, d32);
        free(x), free(back), free(want);
    }
}

static void test_prepare(void **state) {
    aca_err e = {0};
    aca_shape base = {8, 512, 768, 12, 3072, 2, 30522, 0.1f}, rows = {4096, 1 << 20, 16, 2, 64, 2, 100, 0};
    FOR_DTYPES(dt) {
        assert_int_equal(aca_backend_prepare(g_gpu[dt], &base, &e), 0);
        assert_string_equal(aca_backend_attention_name(g_gpu[dt]), "gemm");
        assert_int_equal(aca_backend_prepare(g_gpu[dt], &rows, &e), -1);
        assert_non_null(strstr(e.msg, "rows"));
    }
    printf("ok   capability query: distilbert-base at 8 x 512 runs (gemm); %s\n", e.msg);
}

static aca_backend *cuda_bf16(aca_err *e) { return aca_backend_cuda_create(ACA_DT_BF16, e); }

static void test_empty_slot_refused(void **state) { ops_check_refusals("cuda", cuda_bf16); }

// The test comparing each op (include/aca/ops_list.h); NULL for the DP ops (tests/gpu/test_dp_cuda.c).
// No default: an op outside the DP group added to the list without a case here does not compile.
static CMUnitTestFunction test_of(aca_op op) {
    switch (op) {
    case ACA_OP_destroy: return test_empty_slot_refused;
    case ACA_OP_alloc: case ACA_OP_free: return test_alloc_failure;
    case ACA_OP_memset0: case ACA_OP_upload: case ACA_OP_download: case ACA_OP_sync: case ACA_OP_from_f32:
    case ACA_OP_to_f32: case ACA_OP_cast_params: return test_memory;
    case ACA_OP_prepare: return test_prepare;
    case ACA_OP_attention_state_bytes: case ACA_OP_attention_forward: case ACA_OP_attention_backward:
        return test_attention;
    case ACA_OP_embed_forward: case ACA_OP_embed_backward: return test_embed;
    case ACA_OP_linear_forward: case ACA_OP_linear_backward: return test_linear;
    case ACA_OP_layernorm_forward: case ACA_OP_layernorm_backward: return test_layernorm;
    case ACA_OP_add: case ACA_OP_act_forward: case ACA_OP_act_backward: case ACA_OP_dropout_forward:
    case ACA_OP_dropout_backward: return test_elementwise;
    case ACA_OP_cls_gather: case ACA_OP_cls_scatter: case ACA_OP_cross_entropy: return test_head;
    case ACA_OP_sumsq: case ACA_OP_adamw: return test_optimizer;
#define ACA_OP(group, ret, op, params) OPS_CASE_IF_DP_##group(op)
#include "aca/ops_list.h"
#undef ACA_OP
        return NULL;
    }
    return NULL;
}

static int setup(void **state) {
    aca_err e = {0};
    g_cpu = aca_backend_cpu_create(&e);
    if (!g_cpu) return -1;
    FOR_DTYPES(dt) {
        g_gpu[dt] = aca_backend_cuda_create(dt, &e);
        if (!g_gpu[dt] || aca_backend_set_attention(g_gpu[dt], "gemm", &e)) {
            fprintf(stderr, "cannot create the cuda backend (%s): %s\n", aca_dtype_name(dt), e.msg);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state) {
    aca_backend_destroy(g_cpu);
    FOR_DTYPES(dt) aca_backend_destroy(g_gpu[dt]);
    return 0;
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL; // run one test by name (compute-sanitizer runs)
    const char *small = getenv("ACA_GPU_TEST_SMALL");
    g_small = small && !strcmp(small, "1");
    const struct CMUnitTest all[] = {
        cmocka_unit_test(test_embed),        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_layernorm),    cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_attention),    cmocka_unit_test(test_attention_cudnn),
        cmocka_unit_test(test_attention_big_batch), cmocka_unit_test(test_head),
        cmocka_unit_test(test_optimizer),    cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_alloc_failure), cmocka_unit_test(test_memory),
        cmocka_unit_test(test_prepare),       cmocka_unit_test(test_empty_slot_refused),
    };
    unsigned groups = OPS_GROUP(ACA_OP_GROUP_MEM) | OPS_GROUP(ACA_OP_GROUP_QUERY) | OPS_GROUP(ACA_OP_GROUP_CORE);
    if (ops_coverage_check("tests/gpu/test_ops_cuda.c", test_of, groups, all, ACA_ARRAY_LEN(all))) return 1;
    if (only) cmocka_set_test_filter(only);
    return cmocka_run_group_tests(all, setup, teardown);
}
