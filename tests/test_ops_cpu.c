// CPU backend of the ops table.  For every op:
//  1. the double-precision kernels (cpu_kernels.h, *_f64) against a naive reference written here
//     (forward values, including the attention packing and the dropout index formula);
//  2. every backward against central finite differences of <forward(x), G> in double, at odd
//     shapes (T = 1, 7, 129; C not a multiple of 4; NH > 1; padding masks; dropout p > 0), relative
//     error < 1e-4 (all elements of small tensors, a random sample of large ones);
//  3. the fp32 ops table against the f64 kernels within fp32 tolerance, with outputs poisoned (NaN)
//     beforehand, and the accumulate / overwrite convention of every gradient;
//  4. dropout statistics and mask reproducibility, AdamW (hand-computed step and several steps
//     against a plain reference), sumsq NaN/Inf propagation, bit-reproducibility across runs and
//     thread counts, and the backend dispatcher's errors;
//  5. the op list (include/aca/ops_list.h): every op maps to the test that compares it (test_of,
//     checked by ops_coverage.h before the tests run), a backend with an empty slot is refused at
//     creation (cpu, emul), memory ops round-trip, and the capability query's limits.
#include "ops_coverage.h"

#include <float.h>
#include <omp.h>
#include <stdlib.h>

#include "../kernels/cpu/cpu_kernels.h"
#include "aca/ops.h"
#include "aca/philox.h"
#include "aca/util.h"

#ifdef __SANITIZE_ADDRESS__
// The allocation-failure test asks for an impossible size: ASan must return NULL, not abort.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

static aca_backend *g_be; // the fp32 CPU backend under test
static aca_rng g_rng;     // reseeded by each test

// ---- small helpers ------------------------------------------------------------------------------
static double *dnew(size_t n) { return xcalloc(n ? n : 1, sizeof(double)); }
static float *fnew(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

// Normal values rounded to float, so the fp32 and fp64 kernels see the same inputs.
static double *drandn(size_t n, double scale) {
    double *x = dnew(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(&g_rng) * scale);
    return x;
}
static float *frandn(size_t n, double scale) {
    float *x = fnew(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(&g_rng) * scale);
    return x;
}
static float *tof(const double *x, size_t n) {
    float *y = fnew(n);
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
    return y;
}
static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static double *dadd(const double *a, const double *b, size_t n) { // new array a + b
    double *y = dnew(n);
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return y;
}
static void check_f64(const char *what, const double *got, const double *ref, size_t n, double rtol) {
    float *g = tof(got, n); // only used for the report; compare in double here
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (!isfinite(got[i]) || !(d <= rtol * (fabs(ref[i]) + 1e-3 * tu_maxabs_f64(ref, n) + 1e-300))) {
            print_error("%s: [%zu] got %.17g want %.17g\n", what, i, got[i], ref[i]);
            free(g);
            fail();
        }
    }
    free(g);
}
// fp32 result vs fp64 reference: rtol 1e-4 plus an absolute floor of 1e-5 of the tensor's scale.
static void check_f32(const char *what, const float *got, const double *ref, size_t n) {
    tu_check_close(what, got, ref, n, 1e-4, 1e-5 * tu_maxabs_f64(ref, n) + 1e-30);
}

// ---- finite differences -------------------------------------------------------------------------
typedef double (*loss_fn)(void *ctx);

// Central differences of f with respect to x[i], compared with the analytic gradient an[i], for all
// i < n (or max_n random ones).  skip (may be NULL) marks elements whose analytic gradient is
// defined to differ (the padding row of an embedding).  Relative error is measured against
// max(|fd|, 1e-3 * max|fd|, 1e-6) so exact zeros and tiny entries do not divide by ~0.
static void fd_check(const char *what, double *x, const double *an, size_t n, size_t max_n, loss_fn f, void *ctx,
                     const unsigned char *skip) {
    size_t m = n <= max_n ? n : max_n;
    size_t *idx = xmalloc((m ? m : 1) * sizeof(size_t));
    double *fd = dnew(m);
    for (size_t k = 0; k < m; k++) idx[k] = n <= max_n ? k : (size_t)rng_below(&g_rng, n);
    const double h = 1e-5;
    double scale = 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = idx[k];
        double x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        fd[k] = (lp - lm) / (2 * h);
        if (fabs(fd[k]) > scale) scale = fabs(fd[k]);
    }
    f(ctx); // leave the context's buffers at the base point
    for (size_t k = 0; k < m; k++) {
        size_t i = idx[k];
        if (skip && skip[i]) continue;
        double den = fmax(fabs(fd[k]), fmax(1e-3 * scale, 1e-6)), err = fabs(an[i] - fd[k]) / den;
        if (!isfinite(an[i]) || !(err < 1e-4)) {
            print_error("%s: gradient [%zu] analytic %.12g finite-diff %.12g (rel err %.3g)\n", what, i, an[i], fd[k],
                        err);
            fail();
        }
    }
    free(idx);
    free(fd);
}

// ---- linear -------------------------------------------------------------------------------------
typedef struct {
    int N, IC, OC;
    double *in, *w, *b, *out, *G;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    cpu_linear_forward_f64(c->out, c->in, c->w, c->b, c->N, c->IC, c->OC);
    return dot(c->out, c->G, (size_t)c->N * c->OC);
}

static void linear_case(int N, int IC, int OC, size_t max_fd) {
    char nm[96];
    size_t nin = (size_t)N * IC, nw = (size_t)OC * IC, nout = (size_t)N * OC;
    lin_ctx c = {N, IC, OC, drandn(nin, 1), drandn(nw, 0.5), drandn(OC, 1), dnew(nout), drandn(nout, 1)};
    lin_loss(&c);
    double *naive = dnew(nout);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = c.b[o];
            for (int i = 0; i < IC; i++) s += c.in[(size_t)n * IC + i] * c.w[(size_t)o * IC + i];
            naive[(size_t)n * OC + o] = s;
        }
    snprintf(nm, sizeof nm, "linear fwd f64 N%d IC%d OC%d", N, IC, OC);
    check_f64(nm, c.out, naive, nout, 1e-12);
    free(naive);
    double *din = dnew(nin), *dw = dnew(nw), *db = dnew(OC);
    cpu_linear_backward_f64(din, dw, db, c.G, c.in, c.w, N, IC, OC, 0);
    snprintf(nm, sizeof nm, "linear din N%d IC%d OC%d", N, IC, OC);
    fd_check(nm, c.in, din, nin, max_fd, lin_loss, &c, NULL);
    snprintf(nm, sizeof nm, "linear dw N%d IC%d OC%d", N, IC, OC);
    fd_check(nm, c.w, dw, nw, max_fd, lin_loss, &c, NULL);
    snprintf(nm, sizeof nm, "linear dbias N%d IC%d OC%d", N, IC, OC);
    fd_check(nm, c.b, db, OC, max_fd, lin_loss, &c, NULL);

    // fp32 table vs f64; poisoned outputs; conventions.
    const aca_ops *o = g_be->ops;
    float *fin = tof(c.in, nin), *fw = tof(c.w, nw), *fb = tof(c.b, OC), *fG = tof(c.G, nout);
    float *fout = fnew(nout), *fdin = fnew(nin);
    tu_poison_f32(fout, nout);
    o->linear_forward(g_be, fout, fin, fw, fb, N, IC, OC);
    check_f32("linear fwd fp32", fout, c.out, nout);
    double *nobias = dnew(nout);
    cpu_linear_forward_f64(nobias, c.in, c.w, NULL, N, IC, OC);
    tu_poison_f32(fout, nout);
    o->linear_forward(g_be, fout, fin, fw, NULL, N, IC, OC);
    check_f32("linear fwd fp32, no bias", fout, nobias, nout);

    double *dw0 = drandn(nw, 1), *db0 = drandn(OC, 1), *din0 = drandn(nin, 1);
    float *fdw = tof(dw0, nw), *fdb = tof(db0, OC);
    tu_poison_f32(fdin, nin);
    o->linear_backward(g_be, fdin, fdw, fdb, fG, fin, fw, N, IC, OC, 0);
    double *rdw = dadd(dw0, dw, nw), *rdb = dadd(db0, db, OC), *rdin = dadd(din0, din, nin);
    check_f32("linear din fp32 (overwrite)", fdin, din, nin);
    check_f32("linear dw fp32 (accumulate)", fdw, rdw, nw);
    check_f32("linear dbias fp32 (accumulate)", fdb, rdb, OC);
    float *facc = tof(din0, nin), *scratch = fnew(nw);
    o->linear_backward(g_be, facc, scratch, NULL, fG, fin, fw, N, IC, OC, 1);
    check_f32("linear din fp32 (accum_din)", facc, rdin, nin);
    float *fdw2 = fnew(nw);
    o->linear_backward(g_be, NULL, fdw2, NULL, fG, fin, fw, N, IC, OC, 0); // din skipped
    check_f32("linear dw fp32 (din == NULL)", fdw2, dw, nw);

    free(c.in), free(c.w), free(c.b), free(c.out), free(c.G), free(din), free(dw), free(db), free(nobias);
    free(fin), free(fw), free(fb), free(fG), free(fout), free(fdin), free(dw0), free(db0), free(din0), free(fdw);
    free(fdb), free(rdw), free(rdb), free(rdin), free(facc), free(scratch), free(fdw2);
}

static void test_linear(void **state) {
    rng_seed(&g_rng, 1, 0);
    linear_case(7, 13, 5, 1000);
    linear_case(1, 3, 1, 1000);
    linear_case(300, 6, 131, 150); // several row blocks (256) and output-channel blocks (128)
}

// ---- layer norm ---------------------------------------------------------------------------------
typedef struct {
    int N, C;
    double eps;
    double *in, *w, *b, *out, *mean, *rstd, *G;
} ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    cpu_layernorm_forward_f64(c->out, c->mean, c->rstd, c->in, c->w, c->b, c->N, c->C, c->eps);
    return dot(c->out, c->G, (size_t)c->N * c->C);
}

static void layernorm_case(int N, int C, double eps) {
    char nm[96];
    size_t n = (size_t)N * C;
    ln_ctx c = {N, C, eps, drandn(n, 2), drandn(C, 1), drandn(C, 1), dnew(n), dnew(N), dnew(N), drandn(n, 1)};
    for (size_t i = 0; i < n; i++) c.in[i] += 0.5; // a non-zero mean
    ln_loss(&c);
    for (int r = 0; r < N; r++) { // naive forward: biased variance, eps inside the sqrt
        const double *x = c.in + (size_t)r * C;
        double mu = 0, var = 0;
        for (int k = 0; k < C; k++) mu += x[k] / C;
        for (int k = 0; k < C; k++) var += (x[k] - mu) * (x[k] - mu) / C;
        double rs = 1 / sqrt(var + eps), want[1];
        check_f64("layernorm mean f64", &c.mean[r], &mu, 1, 1e-12);
        check_f64("layernorm rstd f64", &c.rstd[r], &rs, 1, 1e-12);
        for (int k = 0; k < C; k++) {
            want[0] = (x[k] - mu) * rs * c.w[k] + c.b[k];
            check_f64("layernorm fwd f64", &c.out[(size_t)r * C + k], want, 1, 1e-10);
        }
    }
    double *din = dnew(n), *dw = dnew(C), *db = dnew(C);
    cpu_layernorm_backward_f64(din, dw, db, c.G, c.in, c.w, c.mean, c.rstd, N, C, 0);
    snprintf(nm, sizeof nm, "layernorm din N%d C%d", N, C);
    fd_check(nm, c.in, din, n, 2000, ln_loss, &c, NULL);
    snprintf(nm, sizeof nm, "layernorm dw N%d C%d", N, C);
    fd_check(nm, c.w, dw, C, 2000, ln_loss, &c, NULL);
    snprintf(nm, sizeof nm, "layernorm db N%d C%d", N, C);
    fd_check(nm, c.b, db, C, 2000, ln_loss, &c, NULL);

    const aca_ops *o = g_be->ops;
    float *fin = tof(c.in, n), *fw = tof(c.w, C), *fb = tof(c.b, C), *fG = tof(c.G, n);
    float *fout = fnew(n), *fmean = fnew(N), *frstd = fnew(N), *fdin = fnew(n);
    tu_poison_f32(fout, n), tu_poison_f32(fmean, N), tu_poison_f32(frstd, N);
    o->layernorm_forward(g_be, fout, fmean, frstd, fin, fw, fb, N, C, (float)eps);
    check_f32("layernorm fwd fp32", fout, c.out, n);
    check_f32("layernorm mean fp32", fmean, c.mean, N);
    check_f32("layernorm rstd fp32", frstd, c.rstd, N);
    double *dw0 = drandn(C, 1), *db0 = drandn(C, 1), *din0 = drandn(n, 1);
    float *fdw = tof(dw0, C), *fdb = tof(db0, C);
    tu_poison_f32(fdin, n);
    o->layernorm_backward(g_be, fdin, fdw, fdb, fG, fin, fw, fmean, frstd, N, C, 0);
    double *rdw = dadd(dw0, dw, C), *rdb = dadd(db0, db, C), *rdin = dadd(din0, din, n);
    check_f32("layernorm din fp32 (overwrite)", fdin, din, n);
    check_f32("layernorm dw fp32 (accumulate)", fdw, rdw, C);
    check_f32("layernorm db fp32 (accumulate)", fdb, rdb, C);
    free(fdin);
    fdin = tof(din0, n);
    o->layernorm_backward(g_be, fdin, fdw, fdb, fG, fin, fw, fmean, frstd, N, C, 1);
    check_f32("layernorm din fp32 (accum)", fdin, rdin, n);

    free(c.in), free(c.w), free(c.b), free(c.out), free(c.mean), free(c.rstd), free(c.G), free(din), free(dw);
    free(db), free(fin), free(fw), free(fb), free(fG), free(fout), free(fmean), free(frstd), free(fdin), free(dw0);
    free(db0), free(din0), free(fdw), free(fdb), free(rdw), free(rdb), free(rdin);
}

static void test_layernorm(void **state) {
    rng_seed(&g_rng, 2, 0);
    layernorm_case(7, 13, 1e-12); // DistilBERT's eps
    layernorm_case(5, 67, 1e-5);  // more than one channel block (64)
    layernorm_case(1, 3, 1e-12);
}

// ---- attention ----------------------------------------------------------------------------------
typedef struct {
    int B, T, C, NH;
    float p;
    uint64_t seed;
    double *qkv, *out, *probs, *G;
    int32_t *mask;
} att_ctx;

static double att_loss(void *p) {
    att_ctx *c = p;
    cpu_attention_forward_f64(c->out, c->probs, c->qkv, c->mask, c->B, c->T, c->C, c->NH, c->p, c->seed);
    return dot(c->out, c->G, (size_t)c->B * c->T * c->C);
}

// Naive attention written from the contract: packing [q|k|v] per token, head h at columns h*HS,
// masked keys at -DBL_MAX, dropout index ((b*NH+h)*T+i)*T+j.
static void att_naive(const att_ctx *c, double *out, double *probs) {
    int B = c->B, T = c->T, C = c->C, NH = c->NH, HS = C / NH;
    uint32_t thr = aca_dropout_threshold(c->p);
    double *s = dnew(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *q = c->qkv + ((size_t)b * T + i) * 3 * C + h * HS;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    const double *k = c->qkv + ((size_t)b * T + j) * 3 * C + C + h * HS;
                    s[j] = 0;
                    for (int d = 0; d < HS; d++) s[j] += q[d] * k[d];
                    s[j] /= sqrt((double)HS);
                    if (!c->mask[b * T + j]) s[j] = -DBL_MAX;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++) sum += exp(s[j] - mx);
                for (int d = 0; d < HS; d++) out[((size_t)b * T + i) * C + h * HS + d] = 0;
                for (int j = 0; j < T; j++) {
                    double pr = exp(s[j] - mx) / sum;
                    probs[(((size_t)b * NH + h) * T + i) * T + j] = pr;
                    uint64_t di = (((uint64_t)b * NH + h) * T + i) * T + j;
                    double pd = c->p > 0 ? (aca_dropout_keep(c->seed, di, thr) ? pr / (1.0 - c->p) : 0) : pr;
                    const double *v = c->qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * HS;
                    for (int d = 0; d < HS; d++) out[((size_t)b * T + i) * C + h * HS + d] += pd * v[d];
                }
            }
    free(s);
}

// mask: npad[b] trailing padding positions of sequence b.
static void attention_case(int B, int T, int C, int NH, float p, const int *npad, size_t max_fd) {
    char nm[128];
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, np = (size_t)B * NH * T * T;
    att_ctx c = {B, T, C, NH, p, 0x5eed + (uint64_t)T, drandn(nqkv, 1), dnew(nout), dnew(np), drandn(nout, 1),
                 xmalloc((size_t)B * T * sizeof(int32_t))};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) c.mask[b * T + t] = t < T - npad[b];
    att_loss(&c);
    double *rout = dnew(nout), *rprobs = dnew(np);
    att_naive(&c, rout, rprobs);
    snprintf(nm, sizeof nm, "attention fwd f64 B%d T%d C%d NH%d p%g", B, T, C, NH, p);
    check_f64(nm, c.out, rout, nout, 1e-11);
    check_f64(nm, c.probs, rprobs, np, 1e-11);

    double *dqkv = dnew(nqkv);
    cpu_attention_backward_f64(dqkv, c.G, c.qkv, c.probs, c.mask, B, T, C, NH, p, c.seed);
    snprintf(nm, sizeof nm, "attention dqkv B%d T%d C%d NH%d p%g", B, T, C, NH, p);
    fd_check(nm, c.qkv, dqkv, nqkv, max_fd, att_loss, &c, NULL);

    const aca_ops *o = g_be->ops;
    float *fqkv = tof(c.qkv, nqkv), *fG = tof(c.G, nout), *fout = fnew(nout), *fdq = fnew(nqkv);
    assert_int_equal(o->attention_state_bytes(g_be, B, T, C, NH), np * sizeof(float));
    float *fst = fnew(np);
    tu_poison_f32(fout, nout), tu_poison_f32(fst, np), tu_poison_f32(fdq, nqkv);
    o->attention_forward(g_be, fout, fst, fqkv, c.mask, B, T, C, NH, p, c.seed);
    snprintf(nm, sizeof nm, "attention fwd fp32 T%d p%g", T, p);
    check_f32(nm, fout, c.out, nout);
    check_f32("attention probs fp32", fst, c.probs, np);
    o->attention_backward(g_be, fdq, fG, fqkv, fout, fst, c.mask, B, T, C, NH, p, c.seed);
    snprintf(nm, sizeof nm, "attention dqkv fp32 (overwrite) T%d p%g", T, p);
    check_f32(nm, fdq, dqkv, nqkv);

    free(c.qkv), free(c.out), free(c.probs), free(c.G), free(c.mask), free(rout), free(rprobs), free(dqkv);
    free(fqkv), free(fG), free(fout), free(fdq), free(fst);
}

static void test_attention(void **state) {
    rng_seed(&g_rng, 3, 0);
    const int pad7[2] = {0, 3}, pad1[1] = {0}, pad129[2] = {30, 0};
    attention_case(2, 7, 15, 3, 0.0f, pad7, 1000);
    attention_case(2, 7, 15, 3, 0.25f, pad7, 1000);
    attention_case(1, 1, 6, 2, 0.1f, pad1, 1000);
    attention_case(2, 129, 10, 2, 0.1f, pad129, 300);
}

// A sequence with no real token: its rows become uniform (as with HF's finfo.min mask), not NaN.
static void test_attention_fully_masked(void **state) {
    rng_seed(&g_rng, 4, 0);
    const int pad[2] = {1, 4};
    attention_case(2, 4, 4, 2, 0.0f, pad, 1000);
    int B = 2, T = 4, C = 4, NH = 2;
    double *dqkv = drandn((size_t)B * T * 3 * C, 1);
    float *qkv = tof(dqkv, (size_t)B * T * 3 * C);
    float *out = fnew((size_t)B * T * C), *st = fnew((size_t)B * NH * T * T);
    int32_t mask[8] = {1, 1, 1, 0, 0, 0, 0, 0};
    g_be->ops->attention_forward(g_be, out, st, qkv, mask, B, T, C, NH, 0.0f, 1);
    for (size_t i = (size_t)NH * T * T; i < (size_t)B * NH * T * T; i++) assert_float_equal(st[i], 0.25f, 1e-7f);
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < T; i++) assert_true(st[(h * T + i) * T + 3] == 0.0f); // masked key of sequence 0
    free(dqkv), free(qkv), free(out), free(st);
}

// ---- embeddings ---------------------------------------------------------------------------------
typedef struct {
    int B, T, C;
    int32_t *ids, *types;
    double *wte, *wpe, *tte, *out, *G;
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    cpu_embed_forward_f64(c->out, c->ids, c->types, c->wte, c->wpe, c->tte, c->B, c->T, c->C);
    return dot(c->out, c->G, (size_t)c->B * c->T * c->C);
}

static void embed_case(int with_types) {
    enum { B = 2, T = 7, C = 5, V = 11, MAXT = 9, NT = 2, PAD = 0 };
    size_t N = B * T, nout = N * C;
    int32_t ids[B * T] = {3, 5, 5, 10, 0, 0, 0, 1, 2, 3, 5, 7, 9, 0}, types[B * T] = {0};
    for (int t = 4; t < T; t++) types[t] = 1, types[T + t] = 1;
    emb_ctx c = {B, T, C, ids, types, drandn(V * C, 1), drandn(MAXT * C, 1), with_types ? drandn(NT * C, 1) : NULL,
                 dnew(nout), drandn(nout, 1)};
    emb_loss(&c);
    for (size_t n = 0; n < N; n++)
        for (int k = 0; k < C; k++) {
            double want = c.wte[ids[n] * C + k] + (with_types ? c.tte[types[n] * C + k] : 0) + c.wpe[(n % T) * C + k];
            check_f64("embed fwd f64", &c.out[n * C + k], &want, 1, 1e-15);
        }
    double *dwte = dnew(V * C), *dwpe = dnew(MAXT * C), *dtte = with_types ? dnew(NT * C) : NULL;
    cpu_embed_backward_f64(dwte, dwpe, dtte, c.G, ids, types, B, T, C, PAD);
    unsigned char skip[V * C] = {0};
    for (int k = 0; k < C; k++) skip[PAD * C + k] = 1, assert_true(dwte[PAD * C + k] == 0.0);
    fd_check("embed dwte", c.wte, dwte, V * C, 1000, emb_loss, &c, skip);
    fd_check("embed dwpe", c.wpe, dwpe, MAXT * C, 1000, emb_loss, &c, NULL);
    if (with_types) fd_check("embed dtte", c.tte, dtte, NT * C, 1000, emb_loss, &c, NULL);

    const aca_ops *o = g_be->ops;
    float *fwte = tof(c.wte, V * C), *fwpe = tof(c.wpe, MAXT * C), *ftte = with_types ? tof(c.tte, NT * C) : NULL;
    float *fout = fnew(nout), *fG = tof(c.G, nout);
    tu_poison_f32(fout, nout);
    o->embed_forward(g_be, fout, ids, types, fwte, fwpe, ftte, B, T, C);
    check_f32("embed fwd fp32", fout, c.out, nout);
    double *g0 = drandn(V * C, 1), *p0 = drandn(MAXT * C, 1), *t0 = drandn(NT * C, 1);
    float *fdwte = tof(g0, V * C), *fdwpe = tof(p0, MAXT * C), *fdtte = with_types ? tof(t0, NT * C) : NULL;
    o->embed_backward(g_be, fdwte, fdwpe, fdtte, fG, ids, types, B, T, C, PAD);
    double *r1 = dadd(g0, dwte, V * C), *r2 = dadd(p0, dwpe, MAXT * C);
    check_f32("embed dwte fp32 (accumulate; pad row untouched)", fdwte, r1, V * C);
    check_f32("embed dwpe fp32 (accumulate)", fdwpe, r2, MAXT * C);
    for (int k = 0; k < C; k++) assert_true(fdwte[PAD * C + k] == (float)g0[PAD * C + k]);
    if (with_types) {
        double *r3 = dadd(t0, dtte, NT * C);
        check_f32("embed dtte fp32 (accumulate)", fdtte, r3, NT * C);
        free(r3);
    }
    // pad_id < 0: every row, including id 0, gets its gradient.
    double *all = dnew(V * C), *allp = dnew(MAXT * C);
    cpu_embed_backward_f64(all, allp, NULL, c.G, ids, types, B, T, C, -1);
    fd_check("embed dwte pad_id -1", c.wte, all, V * C, 1000, emb_loss, &c, NULL);

    free(c.wte), free(c.wpe), free(c.tte), free(c.out), free(c.G), free(dwte), free(dwpe), free(dtte), free(fwte);
    free(fwpe), free(ftte), free(fout), free(fG), free(g0), free(p0), free(t0), free(fdwte), free(fdwpe), free(fdtte);
    free(r1), free(r2), free(all), free(allp);
}

static void test_embed(void **state) {
    rng_seed(&g_rng, 5, 0);
    embed_case(0);
    embed_case(1);
    // type_ids == NULL with a type table means every token has type 0.
    enum { B = 1, T = 3, C = 5 };
    int32_t ids[T] = {1, 2, 3}, zeros[T] = {0};
    float *wte = frandn(4 * C, 1), *wpe = frandn(T * C, 1), *tte = frandn(2 * C, 1);
    float a[T * C], b[T * C], ga[2 * C] = {0}, gb[2 * C] = {0}, pa[T * C] = {0}, pb[T * C] = {0};
    float *ea = fnew(4 * C), *eb = fnew(4 * C);
    g_be->ops->embed_forward(g_be, a, ids, NULL, wte, wpe, tte, B, T, C);
    g_be->ops->embed_forward(g_be, b, ids, zeros, wte, wpe, tte, B, T, C);
    assert_memory_equal(a, b, sizeof a);
    g_be->ops->embed_backward(g_be, ea, pa, ga, a, ids, NULL, B, T, C, 0);
    g_be->ops->embed_backward(g_be, eb, pb, gb, a, ids, zeros, B, T, C, 0);
    assert_memory_equal(ga, gb, sizeof ga);
    free(wte), free(wpe), free(tte), free(ea), free(eb);
}

// ---- activations --------------------------------------------------------------------------------
typedef struct {
    aca_act act;
    size_t n;
    double *in, *out, *G;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    cpu_act_forward_f64(c->act, c->out, c->in, c->n);
    return dot(c->out, c->G, c->n);
}

static void test_activations(void **state) {
    rng_seed(&g_rng, 6, 0);
    // Known values of exact-erf GELU and its derivative Phi(x) + x phi(x).
    double x[3] = {1.0, -1.0, 2.0}, y[3], g[3], one[3] = {1, 1, 1};
    const double gelu[3] = {0.8413447460685429, -0.15865525393145707, 1.9544997361036416};
    const double dgelu[3] = {1.0833154705876864, -0.08331547058768629, 1.085231801078197};
    cpu_act_forward_f64(ACA_ACT_GELU, y, x, 3);
    cpu_act_backward_f64(ACA_ACT_GELU, g, one, x, 3);
    check_f64("gelu values", y, gelu, 3, 1e-14);
    check_f64("gelu derivative values", g, dgelu, 3, 1e-14);

    const aca_act acts[3] = {ACA_ACT_GELU, ACA_ACT_RELU, ACA_ACT_TANH};
    const char *names[3] = {"gelu", "relu", "tanh"};
    for (int a = 0; a < 3; a++) {
        size_t n = 37;
        act_ctx c = {acts[a], n, drandn(n, 2), dnew(n), drandn(n, 1)};
        for (size_t i = 0; i < n; i++)
            if (fabs(c.in[i]) < 1e-2) c.in[i] = 0.5; // keep ReLU's kink away from the FD step
        act_loss(&c);
        double *din = dnew(n);
        cpu_act_backward_f64(acts[a], din, c.G, c.in, n);
        fd_check(names[a], c.in, din, n, 1000, act_loss, &c, NULL);
        float *fin = tof(c.in, n), *fout = fnew(n), *fg = tof(c.G, n);
        tu_poison_f32(fout, n);
        g_be->ops->act_forward(g_be, acts[a], fout, fin, n);
        check_f32(names[a], fout, c.out, n);
        g_be->ops->act_backward(g_be, acts[a], fg, fg, fin, n); // din aliases dout
        check_f32(names[a], fg, din, n);
        free(c.in), free(c.out), free(c.G), free(din), free(fin), free(fout), free(fg);
    }
    // add: out may alias a.
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {0.5f, -2, 1, 0, 8};
    g_be->ops->add(g_be, a, a, b, 5);
    const float want[5] = {1.5f, 0, 4, 4, 13};
    assert_memory_equal(a, want, sizeof want);
}

// ---- dropout ------------------------------------------------------------------------------------
typedef struct {
    size_t n;
    float p;
    uint64_t seed;
    double *in, *out, *G;
} drop_ctx;

static double drop_loss(void *p) {
    drop_ctx *c = p;
    cpu_dropout_f64(c->out, c->in, c->n, c->p, c->seed, 0);
    return dot(c->out, c->G, c->n);
}

static void test_dropout(void **state) {
    rng_seed(&g_rng, 7, 0);
    size_t n = 101;
    drop_ctx c = {n, 0.3f, 99, drandn(n, 1), dnew(n), drandn(n, 1)};
    drop_loss(&c);
    double *din = dnew(n);
    cpu_dropout_f64(din, c.G, n, c.p, c.seed, 0); // backward is the same map
    fd_check("dropout", c.in, din, n, 1000, drop_loss, &c, NULL);
    float *fin = tof(c.in, n), *fout = fnew(n), *fG = tof(c.G, n);
    tu_poison_f32(fout, n);
    g_be->ops->dropout_forward(g_be, fout, fin, n, c.p, c.seed);
    check_f32("dropout fwd fp32", fout, c.out, n);
    g_be->ops->dropout_backward(g_be, fG, fG, n, c.p, c.seed); // in place
    check_f32("dropout bwd fp32 (in place)", fG, din, n);

    // The mask is exactly aca_dropout_keep(seed, i) at every i, across the op's internal chunks;
    // the keep rate is 1-p within 5 standard deviations; kept values are scaled by exactly 1/(1-p).
    size_t big = (1u << 20) + 3;
    float p = 0.1f, *ones = fnew(big), *o1 = fnew(big), *o2 = fnew(big);
    for (size_t i = 0; i < big; i++) ones[i] = 1;
    uint32_t thr = aca_dropout_threshold(p);
    float scale = (float)(1.0 / (1.0 - p));
    g_be->ops->dropout_forward(g_be, o1, ones, big, p, 1234);
    size_t kept = 0;
    for (size_t i = 0; i < big; i++) {
        int k = aca_dropout_keep(1234, i, thr);
        kept += k;
        if (o1[i] != (k ? scale : 0.0f)) {
            print_error("dropout mask differs from aca_dropout_keep at %zu\n", i);
            fail();
        }
    }
    double rate = (double)kept / big, sd = sqrt(p * (1.0 - p) / big);
    assert_true(fabs(rate - (1 - p)) < 5 * sd);
    g_be->ops->dropout_forward(g_be, o2, ones, big, p, 1234);
    assert_memory_equal(o1, o2, big * sizeof(float));
    g_be->ops->dropout_forward(g_be, o2, ones, big, p, 1235);
    assert_true(memcmp(o1, o2, big * sizeof(float)) != 0);
    // An offset stream: positions idx0 + i.
    double dn[10], dz[10];
    for (int i = 0; i < 10; i++) dz[i] = 1;
    cpu_dropout_f64(dn, dz, 10, 0.5f, 77, 5);
    for (int i = 0; i < 10; i++) assert_true((dn[i] != 0) == aca_dropout_keep(77, 5 + (uint64_t)i, aca_dropout_threshold(0.5f)));
    // p = 0 is the identity, p = 1 zeroes.
    g_be->ops->dropout_forward(g_be, o2, ones, 1000, 0.0f, 1);
    assert_memory_equal(o2, ones, 1000 * sizeof(float));
    g_be->ops->dropout_forward(g_be, o2, ones, 1000, 1.0f, 1);
    for (int i = 0; i < 1000; i++) assert_true(o2[i] == 0.0f);

    free(c.in), free(c.out), free(c.G), free(din), free(fin), free(fout), free(fG), free(ones), free(o1), free(o2);
}

// ---- classification head ------------------------------------------------------------------------
typedef struct {
    int B, T, C;
    double *in, *out, *G;
} cls_ctx;

static double cls_loss(void *p) {
    cls_ctx *c = p;
    cpu_cls_gather_f64(c->out, c->in, c->B, c->T, c->C);
    return dot(c->out, c->G, (size_t)c->B * c->C);
}

static void test_cls(void **state) {
    rng_seed(&g_rng, 8, 0);
    int B = 3, T = 4, C = 5;
    size_t nin = (size_t)B * T * C;
    cls_ctx c = {B, T, C, drandn(nin, 1), dnew((size_t)B * C), drandn((size_t)B * C, 1)};
    cls_loss(&c);
    for (int b = 0; b < B; b++) check_f64("cls gather f64", c.out + b * C, c.in + (size_t)b * T * C, C, 0);
    double *din = dnew(nin);
    cpu_cls_scatter_f64(din, c.G, B, T, C);
    fd_check("cls scatter", c.in, din, nin, 1000, cls_loss, &c, NULL);
    float *fin = tof(c.in, nin), *fout = fnew((size_t)B * C), *fG = tof(c.G, (size_t)B * C), *fdin = fnew(nin);
    tu_poison_f32(fout, (size_t)B * C), tu_poison_f32(fdin, nin);
    g_be->ops->cls_gather(g_be, fout, fin, B, T, C);
    check_f32("cls gather fp32", fout, c.out, (size_t)B * C);
    g_be->ops->cls_scatter(g_be, fdin, fG, B, T, C);
    check_f32("cls scatter fp32 (overwrite, zeros elsewhere)", fdin, din, nin);
    free(c.in), free(c.out), free(c.G), free(din), free(fin), free(fout), free(fG), free(fdin);
}

// ---- cross-entropy ------------------------------------------------------------------------------
typedef struct {
    int B, K;
    double dscale;
    double *logits, *losses;
    const int32_t *labels;
} ce_ctx;

static double ce_loss(void *p) {
    ce_ctx *c = p;
    cpu_cross_entropy_f64(c->losses, NULL, c->logits, c->labels, c->B, c->K, c->dscale);
    double s = 0;
    for (int b = 0; b < c->B; b++) s += c->losses[b];
    return s * c->dscale;
}

static void test_cross_entropy(void **state) {
    rng_seed(&g_rng, 9, 0);
    enum { B = 5, K = 3 };
    const int32_t labels[B] = {0, 2, -1, 1, 2};
    ce_ctx c = {B, K, 0.25, drandn(B * K, 3), dnew(B), labels};
    ce_loss(&c);
    for (int b = 0; b < B; b++) {
        double lse = 0, *x = c.logits + b * K;
        for (int k = 0; k < K; k++) lse += exp(x[k]);
        double want = labels[b] < 0 ? 0 : log(lse) - x[labels[b]];
        check_f64("cross-entropy loss f64", &c.losses[b], &want, 1, 1e-13);
    }
    double *dl = dnew(B * K);
    cpu_cross_entropy_f64(c.losses, dl, c.logits, labels, B, K, c.dscale);
    for (int k = 0; k < K; k++) assert_true(dl[2 * K + k] == 0.0); // ignored row
    fd_check("cross-entropy dlogits", c.logits, dl, B * K, 1000, ce_loss, &c, NULL);

    float *fx = tof(c.logits, B * K), fl[B], fdl[B * K];
    tu_poison_f32(fl, B), tu_poison_f32(fdl, B * K);
    g_be->ops->cross_entropy(g_be, fl, fdl, fx, labels, B, K, 0.25f);
    check_f32("cross-entropy loss fp32", fl, c.losses, B);
    check_f32("cross-entropy dlogits fp32 (overwrite)", fdl, dl, B * K);
    tu_poison_f32(fl, B);
    g_be->ops->cross_entropy(g_be, fl, NULL, fx, labels, B, K, 0.25f); // no gradient wanted
    check_f32("cross-entropy loss fp32, dlogits NULL", fl, c.losses, B);
    const int32_t bad[1] = {K};
    g_be->ops->cross_entropy(g_be, fl, fdl, fx, bad, 1, K, 1.0f);
    assert_true(isnan(fl[0])); // a label beyond the head is loud, never an out-of-bounds read
    free(c.logits), free(c.losses), free(dl), free(fx);
}

// ---- sumsq, AdamW -------------------------------------------------------------------------------
static void test_sumsq(void **state) {
    rng_seed(&g_rng, 10, 0);
    size_t n = 200003; // several fixed chunks plus a tail
    double *x = drandn(n, 1), want = dot(x, x, n);
    float *fx = tof(x, n);
    double got = g_be->ops->sumsq(g_be, fx, n);
    check_f64("sumsq", &got, &want, 1, 1e-12);
    assert_true(g_be->ops->sumsq(g_be, fx, 0) == 0.0);
    fx[150000] = NAN;
    assert_true(isnan(g_be->ops->sumsq(g_be, fx, n)));
    fx[150000] = INFINITY;
    assert_true(isinf(g_be->ops->sumsq(g_be, fx, n)));
    fx[150000] = 1;
    fx[7] = -INFINITY;
    assert_true(isinf(g_be->ops->sumsq(g_be, fx, n)));
    free(x), free(fx);
}

static void test_adamw_one_step(void **state) {
    // By hand, t = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.01, grad 0.5 * scale 2:
    //   g = 1;  m = 1-b1;  v = 1-b2;  m/(1-b1) = 1;  sqrt(v/(1-b2)) = 1   (b1, b2 as rounded to float)
    //   decayed: p = 1 * (1 - 0.001) - 0.1 * 1/(1 + 1e-8) = 0.899000001
    //   not decayed: p = 1 - 0.1/(1 + 1e-8) = 0.900000001
    aca_adamw h = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f, .grad_scale = 2.0f, .t = 1};
    float p[2] = {1, 1}, g[2] = {0.5f, 0.5f}, m[2] = {0, 0}, v[2] = {0, 0}, pc[2];
    tu_poison_f32(pc, 2);
    g_be->ops->adamw(g_be, p, g, m, v, pc, 2, 1, &h);
    const double want_p[2] = {0.899000001, 0.900000001}, want_m[2] = {1 - (double)0.9f, 1 - (double)0.9f},
                 want_v[2] = {1 - (double)0.999f, 1 - (double)0.999f};
    tu_check_close("adamw p", p, want_p, 2, 1e-6, 0);
    tu_check_close("adamw m", m, want_m, 2, 1e-6, 0);
    tu_check_close("adamw v", v, want_v, 2, 1e-5, 0);
    assert_memory_equal(pc, p, sizeof p);
}

static void test_adamw_steps(void **state) {
    rng_seed(&g_rng, 11, 0);
    size_t n = 1001, nd = 600;
    double *p = drandn(n, 1), *m = dnew(n), *v = dnew(n);
    float *fp = tof(p, n), *fm = fnew(n), *fv = fnew(n), *fpc = fnew(n);
    double *dp = dnew(n), *dm = dnew(n), *dv = dnew(n);
    memcpy(dp, p, n * sizeof(double));
    aca_adamw h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-6f, .weight_decay = 0.1f, .grad_scale = 0.5f};
    for (int t = 1; t <= 5; t++) {
        h.t = t;
        double *g = drandn(n, 1);
        float *fg = tof(g, n);
        for (size_t i = 0; i < n; i++) { // straightforward reference, all double
            double gi = g[i] * h.grad_scale;
            if (i < nd) p[i] -= (double)h.lr * h.weight_decay * p[i];
            m[i] = h.beta1 * m[i] + (1 - (double)h.beta1) * gi;
            v[i] = h.beta2 * v[i] + (1 - (double)h.beta2) * gi * gi;
            double mh = m[i] / (1 - pow(h.beta1, t)), vh = v[i] / (1 - pow(h.beta2, t));
            p[i] -= h.lr * mh / (sqrt(vh) + h.eps);
        }
        tu_poison_f32(fpc, n);
        g_be->ops->adamw(g_be, fp, fg, fm, fv, fpc, n, nd, &h);
        cpu_adamw_f64(dp, g, dm, dv, NULL, n, nd, &h);
        assert_memory_equal(fpc, fp, n * sizeof(float));
        free(g), free(fg);
    }
    check_f64("adamw f64 kernel vs reference (p)", dp, p, n, 1e-10);
    check_f64("adamw f64 kernel vs reference (v)", dv, v, n, 1e-10);
    tu_check_close("adamw fp32 vs reference (p)", fp, p, n, 1e-6, 1e-7);
    tu_check_close("adamw fp32 vs reference (m)", fm, m, n, 1e-5, 1e-8);
    free(p), free(m), free(v), free(fp), free(fm), free(fv), free(fpc), free(dp), free(dm), free(dv);
}

// ---- determinism: same bits run to run and for 1 or 3 threads -----------------------------------
typedef struct {
    float *lin_out, *lin_din, *lin_dw, *lin_db, *att_out, *att_dqkv, *ln_din, *ln_dw, *emb_dwte;
    double ss;
} det_out;

static void det_run(det_out *r, int threads) {
    omp_set_num_threads(threads);
    rng_seed(&g_rng, 12, 0);
    const aca_ops *o = g_be->ops;
    int N = 600, IC = 40, OC = 300, B = 2, T = 65, C = 24, NH = 3, V = 50;
    float *in = frandn((size_t)N * IC, 1), *w = frandn((size_t)OC * IC, 1);
    float *b = frandn(OC, 1), *dout = frandn((size_t)N * OC, 1);
    r->lin_out = fnew((size_t)N * OC), r->lin_din = fnew((size_t)N * IC), r->lin_dw = fnew((size_t)OC * IC);
    r->lin_db = fnew(OC);
    o->linear_forward(g_be, r->lin_out, in, w, b, N, IC, OC);
    o->linear_backward(g_be, r->lin_din, r->lin_dw, r->lin_db, dout, in, w, N, IC, OC, 0);
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
    float *qkv = frandn(nqkv, 1), *g = frandn(nout, 1), *st = fnew((size_t)B * NH * T * T);
    int32_t mask[2 * 65];
    for (int i = 0; i < B * T; i++) mask[i] = i < 100;
    r->att_out = fnew(nout), r->att_dqkv = fnew(nqkv);
    o->attention_forward(g_be, r->att_out, st, qkv, mask, B, T, C, NH, 0.1f, 5);
    o->attention_backward(g_be, r->att_dqkv, g, qkv, r->att_out, st, mask, B, T, C, NH, 0.1f, 5);
    int LN = 300, LC = 200;
    float *x = frandn((size_t)LN * LC, 1), *lw = frandn(LC, 1);
    float *lb = fnew(LC), *ly = fnew((size_t)LN * LC), *mean = fnew(LN), *rstd = fnew(LN), *db = fnew(LC);
    r->ln_din = fnew((size_t)LN * LC), r->ln_dw = fnew(LC);
    o->layernorm_forward(g_be, ly, mean, rstd, x, lw, lb, LN, LC, 1e-12f);
    o->layernorm_backward(g_be, r->ln_din, r->ln_dw, db, x, x, lw, mean, rstd, LN, LC, 0);
    int32_t *ids = xmalloc((size_t)LN * sizeof(int32_t));
    for (int i = 0; i < LN; i++) ids[i] = (int32_t)rng_below(&g_rng, V);
    float *dwpe = fnew((size_t)LN * LC);
    r->emb_dwte = fnew((size_t)V * LC);
    o->embed_backward(g_be, r->emb_dwte, dwpe, NULL, x, ids, NULL, 1, LN, LC, 0);
    r->ss = o->sumsq(g_be, x, (size_t)LN * LC);
    free(in), free(w), free(b), free(dout), free(qkv), free(g), free(st), free(x), free(lw), free(lb), free(ly);
    free(mean), free(rstd), free(db), free(ids), free(dwpe);
}

static void det_free(det_out *r) {
    free(r->lin_out), free(r->lin_din), free(r->lin_dw), free(r->lin_db), free(r->att_out), free(r->att_dqkv);
    free(r->ln_din), free(r->ln_dw), free(r->emb_dwte);
}

static void test_determinism(void **state) {
    int saved = omp_get_max_threads();
    det_out a, b, c;
    det_run(&a, saved);
    det_run(&b, saved);
    det_run(&c, saved == 1 ? 3 : 1);
    omp_set_num_threads(saved);
    det_out *other[2] = {&b, &c};
    for (int k = 0; k < 2; k++) {
        det_out *r = other[k];
        tu_check_bits("linear out", a.lin_out, r->lin_out, 600 * 300);
        tu_check_bits("linear din", a.lin_din, r->lin_din, 600 * 40);
        tu_check_bits("linear dw", a.lin_dw, r->lin_dw, 300 * 40);
        tu_check_bits("linear dbias", a.lin_db, r->lin_db, 300);
        tu_check_bits("attention out", a.att_out, r->att_out, 2 * 65 * 24);
        tu_check_bits("attention dqkv", a.att_dqkv, r->att_dqkv, 2 * 65 * 72);
        tu_check_bits("layernorm din", a.ln_din, r->ln_din, 300 * 200);
        tu_check_bits("layernorm dw", a.ln_dw, r->ln_dw, 200);
        tu_check_bits("embed dwte", a.emb_dwte, r->emb_dwte, 50 * 200);
        assert_memory_equal(&a.ss, &r->ss, sizeof(double));
    }
    det_free(&a), det_free(&b), det_free(&c);
}

// ---- backend creation ---------------------------------------------------------------------------
static void test_backend_create(void **state) {
    aca_err e = {0};
    aca_backend *be = aca_backend_create("cpu", "fp32", &e);
    assert_non_null(be);
    assert_string_equal(be->ops->name, "cpu");
    assert_int_equal(be->dtype, ACA_DT_F32);
    assert_int_equal(be->deterministic, 1);
    aca_backend_destroy(be);
    assert_null(aca_backend_create("cpu", "bf16", &e));
    assert_int_equal(e.kind, ACA_ERR_VALUE);
    assert_non_null(strstr(e.msg, "fp32 only"));
    assert_null(aca_backend_create("cpu", "fp8", &e));
    assert_non_null(strstr(e.msg, "unknown precision 'fp8'"));
    assert_null(aca_backend_create("tpu", "fp32", &e));
    assert_non_null(strstr(e.msg, "unknown device 'tpu'"));
#ifndef ACA_HAVE_CUDA
    assert_null(aca_backend_create("cuda", "fp32", &e));
    assert_non_null(strstr(e.msg, "no CUDA backend"));
#endif
    assert_string_equal(aca_dtype_name(ACA_DT_BF16), "bf16");
    assert_int_equal(aca_dtype_size(ACA_DT_F32), 4);
    assert_int_equal(aca_dtype_size(ACA_DT_F16), 2);
    // Allocation failure names the size instead of crashing.
    assert_null(g_be->ops->alloc(g_be, SIZE_MAX / 2, &e));
    assert_int_equal(e.kind, ACA_ERR_MEMORY);
    assert_non_null(strstr(e.msg, "cannot allocate"));
    void *p = g_be->ops->alloc(g_be, 100, &e);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    g_be->ops->free(g_be, p);
}

// ---- memory and conversions (the MEM group) ------------------------------------------------------
static void test_memory(void **state) {
    aca_err e = {0};
    const aca_ops *o = g_be->ops;
    enum { N = 37 };
    float host[N], back[N], zero[N] = {0};
    for (int i = 0; i < N; i++) host[i] = (float)i - 17.25f;
    float *d = o->alloc(g_be, N * sizeof(float), &e), *d2 = o->alloc(g_be, N * sizeof(float), &e);
    assert_non_null(d), assert_non_null(d2);
    o->upload(g_be, d, host, sizeof host);
    o->sync(g_be);
    tu_poison_f32(back, N);
    o->download(g_be, back, d, sizeof back);
    assert_memory_equal(back, host, sizeof host);
    o->from_f32(g_be, d2, host, N); // fp32 compute dtype: exact copies
    tu_poison_f32(back, N);
    o->to_f32(g_be, back, d2, N);
    assert_memory_equal(back, host, sizeof host);
    o->memset0(g_be, d2, sizeof host);
    o->cast_params(g_be, d2, d, N);
    o->download(g_be, back, d2, sizeof back);
    assert_memory_equal(back, host, sizeof host);
    o->memset0(g_be, d, sizeof host);
    o->download(g_be, back, d, sizeof back);
    assert_memory_equal(back, zero, sizeof zero);
    o->free(g_be, d), o->free(g_be, d2);
}

// ---- the capability query (aca_backend_prepare: the ops' limits, then ops->prepare) ----------------
static aca_backend *emul_bf16(aca_err *e) { return aca_backend_emul_create(ACA_DT_BF16, e); }

static void expect_refused(aca_backend *be, aca_shape s, const char *needle) {
    aca_err e = {0};
    if (aca_backend_prepare(be, &s, &e) != -1 || !strstr(e.msg, needle)) {
        print_error("%s backend, batch %d x %d, %d heads: '%s' (wanted -1 naming '%s')\n", be->ops->name, s.B, s.T, s.NH,
                    e.msg, needle);
        fail();
    }
    printf("ok   %s backend refuses batch %d x %d, %d heads: %s\n", be->ops->name, s.B, s.T, s.NH, e.msg);
}

static void test_prepare(void **state) {
    aca_err e = {0};
    aca_backend *emul = emul_bf16(&e);
    assert_non_null(emul);
    aca_shape base = {8, 512, 768, 12, 3072, 2, 30522, 0.1f};
    assert_int_equal(aca_backend_prepare(g_be, &base, &e), 0);
    assert_int_equal(aca_backend_prepare(emul, &base, &e), 0);
    assert_string_equal(aca_backend_attention_name(g_be), "cpu");
    aca_shape rows = {4096, 1 << 20, 16, 2, 64, 2, 100, 0};    // B*T = 2^32 rows
    aca_shape heads = {1 << 22, 1, 1024, 1024, 64, 2, 100, 0}; // B*NH = 2^32
    aca_shape score_rows = {2048, 65536, 16, 16, 64, 2, 100, 0}; // B*T = 2^27, B*NH*T = 2^31
    aca_shape space = {2047, 1 << 20, 1024, 1024, 64, 2, 100, 0}; // B*NH*T*T doubles: 2^64 bytes
    expect_refused(g_be, rows, "2147483647 rows");
    expect_refused(g_be, heads, "heads");
    expect_refused(g_be, space, "exceeds the address space");
    expect_refused(emul, rows, "2147483647 rows");
    expect_refused(emul, score_rows, "score rows");
    assert_int_equal(aca_backend_prepare(g_be, &score_rows, &e), 0); // the CPU kernels run it (no slice of rows)
    aca_backend_destroy(emul);
}

// ---- an empty slot is refused at creation --------------------------------------------------------
static void test_empty_slot_refused(void **state) {
    ops_check_refusals("cpu", aca_backend_cpu_create);
    ops_check_refusals("emul", emul_bf16);
}

// The test comparing each op (include/aca/ops_list.h); NULL for the DP ops (tests/test_dp_ghost.c).
// No default: an op outside the DP group added to the list without a case here does not compile.
static CMUnitTestFunction test_of(aca_op op) {
    switch (op) {
    case ACA_OP_destroy: return test_backend_create;
    case ACA_OP_alloc: case ACA_OP_free: case ACA_OP_memset0: case ACA_OP_upload: case ACA_OP_download:
    case ACA_OP_sync: case ACA_OP_from_f32: case ACA_OP_to_f32: case ACA_OP_cast_params: return test_memory;
    case ACA_OP_prepare: return test_prepare;
    case ACA_OP_attention_state_bytes: return test_attention;
    case ACA_OP_embed_forward: case ACA_OP_embed_backward: return test_embed;
    case ACA_OP_linear_forward: case ACA_OP_linear_backward: return test_linear;
    case ACA_OP_layernorm_forward: case ACA_OP_layernorm_backward: return test_layernorm;
    case ACA_OP_add: case ACA_OP_act_forward: case ACA_OP_act_backward: return test_activations;
    case ACA_OP_dropout_forward: case ACA_OP_dropout_backward: return test_dropout;
    case ACA_OP_attention_forward: case ACA_OP_attention_backward: return test_attention;
    case ACA_OP_cls_gather: case ACA_OP_cls_scatter: return test_cls;
    case ACA_OP_cross_entropy: return test_cross_entropy;
    case ACA_OP_sumsq: return test_sumsq;
    case ACA_OP_adamw: return test_adamw_steps;
#define ACA_OP(group, ret, op, params) OPS_CASE_IF_DP_##group(op)
#include "aca/ops_list.h"
#undef ACA_OP
        return NULL;
    }
    return NULL;
}

static int group_setup(void **state) {
    aca_err e = {0};
    g_be = aca_backend_cpu_create(&e);
    return g_be ? 0 : -1;
}
static int group_teardown(void **state) {
    aca_backend_destroy(g_be);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),         cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention),      cmocka_unit_test(test_attention_fully_masked),
        cmocka_unit_test(test_embed),          cmocka_unit_test(test_activations),
        cmocka_unit_test(test_dropout),        cmocka_unit_test(test_cls),
        cmocka_unit_test(test_cross_entropy),  cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_adamw_one_step), cmocka_unit_test(test_adamw_steps),
        cmocka_unit_test(test_determinism),    cmocka_unit_test(test_backend_create),
        cmocka_unit_test(test_memory),         cmocka_unit_test(test_prepare),
        cmocka_unit_test(test_empty_slot_refused),
    };
    unsigned groups = OPS_GROUP(ACA_OP_GROUP_MEM) | OPS_GROUP(ACA_OP_GROUP_QUERY) | OPS_GROUP(ACA_OP_GROUP_CORE);
    if (ops_coverage_check("tests/test_ops_cpu.c", test_of, groups, tests, ACA_ARRAY_LEN(tests))) return 1;
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
