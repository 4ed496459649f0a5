// The DP-SGD ops of the CPU backend (the DP block of include/aca/ops.h): per-example gradient norms by
// ghost clipping, the row reweighting and the noise.
//
//  1. The fp64 kernels (dp_kernels.h *_f64) against a naive reference written here, which forms every
//     example's gradient explicitly in double: to 1e-12 relative.
//  2. The fp32 ops table against the same reference within a rigorous fp32 forward-error bound
//     computed here from the inputs (gamma_n = n u / (1 - n u), u = 2^-24): the Gram form's error is at
//     most (gamma_IC + gamma_OC + gamma_IC gamma_OC) (sum_t |a_t| |g_t|)^2, the materialised form's at
//     most sum_ij (2 |M_ij| + e_ij) e_ij with e_ij = gamma_T sum_t |g_ti a_tj|.  No NaN passes.
//  Odd shapes (T = 1, 7, 17, 64; IC, OC odd), padded examples (lens < T, one empty), padding rows whose
//  input is garbage, outputs that accumulate onto a nonzero start, both forms at every shape, and
//  Bu et al.'s rule against its literal statement.
//  3. The emulation backend's DP ops (bf16, fp16): exactly the fp32 CPU ops on the inputs rounded to
//     the dtype, and scale_rows' output rounded once.
//  Every DP op of the op list maps to its test (test_of, ops_coverage.h).
#include "ops_coverage.h"

#include <stdlib.h>

#include "../kernels/cpu/dp_kernels.h"
#include "../kernels/cpu/half.h"
#include "aca/dp_gauss.h"
#include "aca/ops.h"
#include "aca/train.h"

static aca_rng g_rng;
static const double U32 = 1.0 / 16777216.0; // fp32 unit roundoff 2^-24

static double gamma_n(int n) { return n * U32 / (1 - n * U32); }

static float *randn(size_t n) {
    float *x = xmalloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&g_rng);
    return x;
}
static double *to_f64(const float *x, size_t n) {
    double *y = xmalloc((n ? n : 1) * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

// Fails unless got is finite and |got - ref| <= tol (NaN fails).
static void expect_within(const char *what, int b, double got, double ref, double tol) {
    if (!(isfinite(got) && fabs(got - ref) <= tol)) {
        print_error("%s, example %d: got %.17g, want %.17g (|diff| %.3g > bound %.3g)\n", what, b, got, ref, fabs(got - ref), tol);
        fail();
    }
}

// Example lengths: T for the first, then a mix of full, partial, one row and (when T > 1) empty.
static int32_t *make_lens(int B, int T) {
    int32_t *lens = xmalloc((size_t)B * sizeof *lens);
    for (int b = 0; b < B; b++) lens[b] = b == 0 ? T : b == 1 ? 1 : b == 2 ? (T > 1 ? 0 : 1) : 1 + (int)rng_below(&g_rng, (uint64_t)T);
    return lens;
}

// Zeroes the output gradient of padding rows (ops.h: the model guarantees it); their inputs stay garbage.
static void zero_padding(float *G, const int32_t *lens, int B, int T, int W) {
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++) memset(G + ((size_t)b * T + t) * W, 0, (size_t)W * sizeof *G);
}

// ---- linear -------------------------------------------------------------------------------------
typedef struct {
    double sq_w, sq_b;    // the squared norms of example b's weight and bias gradients
    double bound_gram;    // fp32 error bound of the Gram form
    double bound_mat;     // fp32 error bound of the materialised form
    double bound_bias;    // fp32 bound of the bias norm (double sums of floats: only their rounding)
} linear_ref;

static linear_ref naive_linear(const float *A, const float *G, int L, int IC, int OC) {
    linear_ref r = {0};
    double mass = 0; // sum_t |a_t| |g_t|
    for (int t = 0; t < L; t++) {
        double na = 0, ng = 0;
        for (int i = 0; i < IC; i++) na += (double)A[(size_t)t * IC + i] * A[(size_t)t * IC + i];
        for (int o = 0; o < OC; o++) ng += (double)G[(size_t)t * OC + o] * G[(size_t)t * OC + o];
        mass += sqrt(na * ng);
    }
    for (int o = 0; o < OC; o++) {
        double bs = 0;
        for (int t = 0; t < L; t++) bs += G[(size_t)t * OC + o];
        r.sq_b += bs * bs;
        for (int i = 0; i < IC; i++) {
            double m = 0, am = 0;
            for (int t = 0; t < L; t++) {
                double p = (double)G[(size_t)t * OC + o] * A[(size_t)t * IC + i];
                m += p, am += fabs(p);
            }
            double eij = gamma_n(L) * am;
            r.sq_w += m * m;
            r.bound_mat += (2 * fabs(m) + eij) * eij;
        }
    }
    double gi = gamma_n(IC), go = gamma_n(OC);
    r.bound_gram = (gi + go + gi * go) * mass * mass;
    r.bound_bias = 1e-12 * r.sq_b;
    r.bound_mat += 1e-12 * r.sq_w, r.bound_gram += 1e-12 * r.sq_w; // the double sums themselves
    return r;
}

static void check_linear_shape(aca_backend *be, int B, int T, int IC, int OC) {
    size_t na = (size_t)B * T * IC, ng = (size_t)B * T * OC;
    float *A = randn(na), *G = randn(ng);
    int32_t *lens = make_lens(B, T);
    zero_padding(G, lens, B, T, OC);
    double *A64 = to_f64(A, na), *G64 = to_f64(G, ng);
    linear_ref *ref = xmalloc((size_t)B * sizeof *ref);
    for (int b = 0; b < B; b++) ref[b] = naive_linear(A + (size_t)b * T * IC, G + (size_t)b * T * OC, lens[b], IC, OC);
    double *sw = xmalloc((size_t)B * sizeof *sw), *sb = xmalloc((size_t)B * sizeof *sb);
    char nm[160];
    for (int gram = 0; gram < 2; gram++) {
        // fp64 kernels against the naive reference.
        for (int b = 0; b < B; b++) sw[b] = 0.25, sb[b] = -0.5; // += onto a nonzero start
        cpu_ghost_linear_f64(sw, sb, G64, A64, lens, B, T, IC, OC, gram);
        snprintf(nm, sizeof nm, "ghost linear f64 %s B%d T%d IC%d OC%d", gram ? "gram" : "materialised", B, T, IC, OC);
        for (int b = 0; b < B; b++) {
            expect_within(nm, b, sw[b] - 0.25, ref[b].sq_w, 1e-12 * ref[b].sq_w + 1e-300);
            expect_within(nm, b, sb[b] + 0.5, ref[b].sq_b, 1e-12 * ref[b].sq_b + 1e-300);
        }
        // The fp32 ops table within the fp32 bound; bias through NULL when not asked.
        for (int b = 0; b < B; b++) sw[b] = 0.25, sb[b] = -0.5;
        be->ops->ghost_linear(be, sw, sb, G, A, lens, B, T, IC, OC, gram);
        snprintf(nm, sizeof nm, "ghost linear f32 %s B%d T%d IC%d OC%d", gram ? "gram" : "materialised", B, T, IC, OC);
        for (int b = 0; b < B; b++) {
            expect_within(nm, b, sw[b] - 0.25, ref[b].sq_w, gram ? ref[b].bound_gram : ref[b].bound_mat);
            expect_within(nm, b, sb[b] + 0.5, ref[b].sq_b, ref[b].bound_bias + 1e-300);
            if (lens[b] == 0) assert_true(sw[b] == 0.25 && sb[b] == -0.5); // an empty example adds nothing
        }
        be->ops->ghost_linear(be, sw, NULL, G, A, lens, B, T, IC, OC, gram);
        for (int b = 0; b < B; b++) assert_true(sb[b] + 0.5 == ref[b].sq_b || fabs(sb[b] + 0.5 - ref[b].sq_b) <= ref[b].bound_bias);
    }
    // lens NULL: every example has T rows (the head's layers, T = 1).
    if (T == 1) {
        for (int b = 0; b < B; b++) sw[b] = 0;
        float *G1 = randn(ng);
        be->ops->ghost_linear(be, sw, NULL, G1, A, NULL, B, 1, IC, OC, 1);
        for (int b = 0; b < B; b++) {
            linear_ref r = naive_linear(A + (size_t)b * IC, G1 + (size_t)b * OC, 1, IC, OC);
            expect_within("ghost linear f32 lens NULL", b, sw[b], r.sq_w, r.bound_gram);
        }
        free(G1);
    }
    free(A), free(G), free(A64), free(G64), free(lens), free(ref), free(sw), free(sb);
}

static void test_ghost_linear(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *be = aca_backend_cpu_create(&e);
    const int shapes[][4] = {{1, 1, 5, 3}, {5, 1, 31, 7}, {4, 7, 13, 9}, {6, 17, 33, 37}, {3, 64, 8, 8}, {2, 7, 1, 1}};
    for (size_t i = 0; i < ACA_ARRAY_LEN(shapes); i++) check_linear_shape(be, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
    aca_backend_destroy(be);
}

// Bu et al. (NeurIPS 2022, Sec. 4; fastDP's mixed_ghost_norm): the Gram form iff 2 T^2 <= IC * OC.
static void test_mixed_rule(void **st) {
    (void)st;
    assert_int_equal(aca_ghost_gram(128, 384, 1152), 1); // MiniLM's qkv at T = 128
    assert_int_equal(aca_ghost_gram(512, 384, 1152), 0); // ... at T = 512
    assert_int_equal(aca_ghost_gram(1, 384, 12), 1);     // the head (one row per example)
    assert_int_equal(aca_ghost_gram(6, 8, 9), 1);        // 72 <= 72: equality takes the Gram form
    assert_int_equal(aca_ghost_gram(7, 8, 12), 0);       // 98 > 96
    assert_int_equal(aca_ghost_gram(46340, 65536, 65536), 1); // 2 T^2 = 4294791200 <= 2^32
    assert_int_equal(aca_ghost_gram(46341, 65536, 65536), 0); // T^2 overflows an int: computed in double
}

// ---- layer norm ---------------------------------------------------------------------------------
static void test_ghost_layernorm(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *be = aca_backend_cpu_create(&e);
    const int shapes[][3] = {{1, 1, 5}, {4, 7, 33}, {3, 17, 64}};
    for (size_t k = 0; k < ACA_ARRAY_LEN(shapes); k++) {
        int B = shapes[k][0], T = shapes[k][1], C = shapes[k][2];
        size_t n = (size_t)B * T * C, N = (size_t)B * T;
        float *x = randn(n), *dy = randn(n), *mean = randn(N), *rstd = xmalloc(N * sizeof *rstd);
        for (size_t r = 0; r < N; r++) rstd[r] = 0.5f + (float)rng_uniform(&g_rng);
        int32_t *lens = make_lens(B, T);
        zero_padding(dy, lens, B, T, C);
        double *x64 = to_f64(x, n), *dy64 = to_f64(dy, n), *m64 = to_f64(mean, N), *r64 = to_f64(rstd, N);
        double sq32[8], sq64[8];
        for (int b = 0; b < B; b++) sq32[b] = sq64[b] = 1.0;
        be->ops->ghost_layernorm(be, sq32, dy, x, mean, rstd, lens, B, T, C);
        cpu_ghost_layernorm_f64(sq64, dy64, x64, m64, r64, lens, B, T, C);
        for (int b = 0; b < B; b++) {
            // naive: xhat in double from the same inputs; the fp32 kernel rounds xhat = (x - m) r twice.
            double ref = 0, bound = 0;
            for (int c = 0; c < C; c++) {
                double dw = 0, db = 0, mass = 0;
                for (int t = 0; t < lens[b]; t++) {
                    size_t i = ((size_t)b * T + t) * C + c, r = (size_t)b * T + t;
                    double xh = ((double)x[i] - mean[r]) * rstd[r];
                    dw += dy[i] * xh, db += dy[i], mass += fabs(dy[i] * xh);
                }
                double ec = (2 * U32 + U32 * U32) * mass;
                ref += dw * dw + db * db, bound += (2 * fabs(dw) + ec) * ec;
            }
            expect_within("ghost layernorm f64", b, sq64[b] - 1.0, ref, 1e-12 * ref + 1e-300);
            expect_within("ghost layernorm f32", b, sq32[b] - 1.0, ref, bound + 1e-12 * ref + 1e-300);
        }
        free(x), free(dy), free(mean), free(rstd), free(lens), free(x64), free(dy64), free(m64), free(r64);
    }
    aca_backend_destroy(be);
}

// ---- embeddings ---------------------------------------------------------------------------------
// Naive: the example's dense table gradients (as embed_backward builds them), then their norms.
static void naive_embed(const float *G, const int32_t *ids, const int32_t *types, int L, int C, int V, int NT, int pad,
                        double *wte, double *wpe, double *tte) {
    double *tw = xcalloc((size_t)V * C, sizeof *tw), *tt = xcalloc((size_t)NT * C, sizeof *tt);
    *wpe = 0;
    for (int t = 0; t < L; t++)
        for (int c = 0; c < C; c++) {
            double g = G[(size_t)t * C + c];
            if (ids[t] != pad) tw[(size_t)ids[t] * C + c] += g;
            tt[(size_t)(types ? types[t] : 0) * C + c] += g;
            *wpe += g * g;
        }
    *wte = *tte = 0;
    for (size_t i = 0; i < (size_t)V * C; i++) *wte += tw[i] * tw[i];
    for (size_t i = 0; i < (size_t)NT * C; i++) *tte += tt[i] * tt[i];
    free(tw), free(tt);
}

static void test_ghost_embed(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *be = aca_backend_cpu_create(&e);
    enum { V = 6, NT = 2 }; // a small vocabulary: ids repeat within an example
    const int shapes[][3] = {{1, 1, 5}, {5, 7, 33}, {3, 17, 8}};
    for (size_t k = 0; k < ACA_ARRAY_LEN(shapes); k++) {
        int B = shapes[k][0], T = shapes[k][1], C = shapes[k][2];
        size_t n = (size_t)B * T * C, N = (size_t)B * T;
        float *G = randn(n);
        int32_t *ids = xmalloc(N * sizeof *ids), *types = xmalloc(N * sizeof *types), *lens = make_lens(B, T);
        for (size_t i = 0; i < N; i++) ids[i] = (int32_t)rng_below(&g_rng, V), types[i] = (int32_t)rng_below(&g_rng, NT);
        zero_padding(G, lens, B, T, C);
        for (int with_types = 0; with_types < 2; with_types++) {
            double w32[8], p32[8], t32[8], w64[8], p64[8], t64[8];
            for (int b = 0; b < B; b++) w32[b] = p32[b] = t32[b] = w64[b] = p64[b] = t64[b] = 2.0;
            const int32_t *ty = with_types ? types : NULL;
            be->ops->ghost_embed(be, w32, p32, t32, G, ids, ty, lens, B, T, C, 0); // id 0 is the padding id
            double *G64 = to_f64(G, n);
            cpu_ghost_embed_f64(w64, p64, t64, G64, ids, ty, lens, B, T, C, 0);
            free(G64);
            for (int b = 0; b < B; b++) {
                double rw, rp, rt;
                size_t o = (size_t)b * T;
                naive_embed(G + o * C, ids + o, ty ? ty + o : NULL, lens[b], C, V, NT, 0, &rw, &rp, &rt);
                expect_within("ghost embed wte f32", b, w32[b] - 2, rw, 1e-12 * rw + 1e-300);
                expect_within("ghost embed wpe f32", b, p32[b] - 2, rp, 1e-12 * rp + 1e-300);
                expect_within("ghost embed tte f32", b, t32[b] - 2, rt, 1e-12 * rt + 1e-300);
                expect_within("ghost embed wte f64", b, w64[b] - 2, rw, 1e-12 * rw + 1e-300);
                expect_within("ghost embed wpe f64", b, p64[b] - 2, rp, 1e-12 * rp + 1e-300);
                expect_within("ghost embed tte f64", b, t64[b] - 2, rt, 1e-12 * rt + 1e-300);
            }
            // Tables left out (NULL) are not written; pad_id < 0 counts every id.
            for (int b = 0; b < B; b++) w32[b] = 2.0;
            be->ops->ghost_embed(be, NULL, NULL, w32, G, ids, ty, lens, B, T, C, -1);
            for (int b = 0; b < B; b++) {
                double rw, rp, rt;
                size_t o = (size_t)b * T;
                naive_embed(G + o * C, ids + o, ty ? ty + o : NULL, lens[b], C, V, NT, -1, &rw, &rp, &rt);
                expect_within("ghost embed tte alone", b, w32[b] - 2, rt, 1e-12 * rt + 1e-300);
                double wall[1] = {0}; // this example alone, every id counted
                be->ops->ghost_embed(be, wall, NULL, NULL, G + o * C, ids + o, NULL, lens + b, 1, T, C, -1);
                expect_within("ghost embed wte, no padding id", b, wall[0], rw, 1e-12 * rw + 1e-300);
            }
        }
        free(G), free(ids), free(types), free(lens);
    }
    aca_backend_destroy(be);
}

// ---- reweighting and noise ----------------------------------------------------------------------
static void test_scale_rows(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *be = aca_backend_cpu_create(&e);
    enum { R = 5, K = 7 };
    float *x = randn(R * K), *x0 = xmalloc(R * K * sizeof *x0), w[R] = {0.5f, 0.0f, 1.0f, 3.25f, 1e-3f};
    memcpy(x0, x, R * K * sizeof *x);
    be->ops->scale_rows(be, x, w, R, K);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++) assert_true(x[r * K + k] == x0[r * K + k] * w[r]);
    free(x), free(x0);
    aca_backend_destroy(be);
}

// The op adds, on any range, exactly the numbers train_dp_add_noise adds there (the same draws).
static void test_noise_op(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *be = aca_backend_cpu_create(&e);
    enum { N = 40001 };
    float *full = randn(N), *part = xmalloc(N * sizeof *part), *base = xmalloc(N * sizeof *base);
    memcpy(part, full, N * sizeof *part);
    memcpy(base, full, N * sizeof *base);
    const uint64_t seed = 77;
    const long step = 9;
    train_dp_add_noise(full, N, 0.7, seed, step);
    // The key train.c derives for the noise stream (dp_key(seed, "dpnois")).
    uint64_t x = seed ^ 0x64706e6f6973ULL, key = hash_fnv1a64(&x, sizeof x, ACA_FNV_SEED);
    const size_t cuts[][2] = {{0, 3}, {3, 1001}, {1001, 1002}, {20000, N}}; // odd boundaries split a pair
    for (size_t c = 0; c < ACA_ARRAY_LEN(cuts); c++) be->ops->dp_noise(be, part, cuts[c][0], cuts[c][1], 0.7, key, (uint64_t)step);
    for (size_t i = 0; i < N; i++) {
        int in = i < 1002 || i >= 20000;
        if (in ? part[i] != full[i] : part[i] != base[i]) {
            print_error("noise op: element %zu is %.9g, want %.9g (%s)\n", i, (double)part[i], in ? (double)full[i] : (double)base[i],
                        in ? "in a range" : "outside every range");
            fail();
        }
    }
    be->ops->dp_noise(be, part, 5, 5, 0.7, key, 1); // an empty range
    be->ops->dp_noise(be, part, 0, N, 0.0, key, 1); // std 0
    for (size_t i = 1002; i < 20000; i++) assert_true(part[i] == base[i]);
    free(full), free(part), free(base);
    aca_backend_destroy(be);
}

// ---- the emulation backend: the CPU's fp32 ops on compute-dtype storage -------------------------
// x (n floats) rounded to dt in place, and the dt storage of it.
static void *round_to(aca_dtype dt, float *x, size_t n) {
    void *h = xmalloc((n ? n : 1) * 2);
    for (size_t i = 0; i < n; i++) half_store(dt, h, i, x[i]), x[i] = half_load(dt, h, i);
    return h;
}

static void expect_same(const char *what, aca_dtype dt, const double *got, const double *want, int B) {
    for (int b = 0; b < B; b++)
        if (!(got[b] == want[b])) {
            print_error("emul %s %s, example %d: %.17g, the CPU op on the rounded inputs %.17g\n", aca_dtype_name(dt), what, b,
                        got[b], want[b]);
            fail();
        }
}

static void emul_dp_case(aca_backend *cpu, aca_dtype dt) {
    aca_err e = {0};
    aca_backend *em = aca_backend_emul_create(dt, &e);
    assert_non_null(em);
    enum { B = 4, T = 7, IC = 9, OC = 5, V = 11 };
    float *A = randn(B * T * IC), *G = randn(B * T * OC), *mean = randn(B * T), *rstd = randn(B * T);
    int32_t *lens = make_lens(B, T), ids[B * T], types[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)rng_below(&g_rng, V), types[i] = i % 2, rstd[i] = 1 + fabsf(rstd[i]);
    zero_padding(G, lens, B, T, OC);
    void *Ah = round_to(dt, A, B * T * IC), *Gh = round_to(dt, G, B * T * OC);
    double got[3][B] = {{0}}, want[3][B] = {{0}};
    for (int gram = 0; gram < 2; gram++) {
        em->ops->ghost_linear(em, got[0], got[1], Gh, Ah, lens, B, T, IC, OC, gram);
        cpu->ops->ghost_linear(cpu, want[0], want[1], G, A, lens, B, T, IC, OC, gram);
    }
    expect_same("ghost_linear", dt, got[0], want[0], B), expect_same("ghost_linear bias", dt, got[1], want[1], B);
    // LayerNorm and embeddings over rows of width IC (the input's rows stand in for dout).
    em->ops->ghost_layernorm(em, got[2], Ah, Ah, mean, rstd, lens, B, T, IC);
    cpu->ops->ghost_layernorm(cpu, want[2], A, A, mean, rstd, lens, B, T, IC);
    expect_same("ghost_layernorm", dt, got[2], want[2], B);
    memset(got, 0, sizeof got), memset(want, 0, sizeof want);
    em->ops->ghost_embed(em, got[0], got[1], got[2], Ah, ids, types, lens, B, T, IC, 3);
    cpu->ops->ghost_embed(cpu, want[0], want[1], want[2], A, ids, types, lens, B, T, IC, 3);
    for (int k = 0; k < 3; k++) expect_same("ghost_embed", dt, got[k], want[k], B);
    // scale_rows: rows of the dtype times fp32 weights, rounded once.
    float w[B * T];
    for (int r = 0; r < B * T; r++) w[r] = 0.5f + 0.25f * (float)r;
    em->ops->scale_rows(em, Gh, w, B * T, OC);
    for (size_t i = 0; i < (size_t)B * T * OC; i++) {
        float want_i = half_round(dt, G[i] * w[i / OC]);
        if (!(half_load(dt, Gh, i) == want_i)) {
            print_error("emul %s scale_rows [%zu]: %.9g, want %.9g\n", aca_dtype_name(dt), i, (double)half_load(dt, Gh, i),
                        (double)want_i);
            fail();
        }
    }
    // dp_noise: fp32 gradients, the CPU's draws.
    float g1[301] = {0}, g2[301] = {0};
    em->ops->dp_noise(em, g1, 3, 300, 0.5, 99, 4);
    cpu->ops->dp_noise(cpu, g2, 3, 300, 0.5, 99, 4);
    assert_memory_equal(g1, g2, sizeof g1);
    printf("ok   emul %s: ghost_linear (both forms), ghost_layernorm, ghost_embed, scale_rows and dp_noise are the "
           "CPU's fp32 ops on the rounded inputs\n", aca_dtype_name(dt));
    free(A), free(G), free(mean), free(rstd), free(lens), free(Ah), free(Gh);
    aca_backend_destroy(em);
}

static void test_emul_dp_ops(void **st) {
    (void)st;
    aca_err e = {0};
    aca_backend *cpu = aca_backend_cpu_create(&e);
    emul_dp_case(cpu, ACA_DT_BF16);
    emul_dp_case(cpu, ACA_DT_F16);
    aca_backend_destroy(cpu);
}

// The test comparing each DP op (include/aca/ops_list.h); NULL for the rest (tests/test_ops_cpu.c).
// No default: a DP op added to the list without a case here does not compile.
static CMUnitTestFunction test_of(aca_op op) {
    switch (op) {
    case ACA_OP_ghost_linear: return test_ghost_linear;
    case ACA_OP_ghost_layernorm: return test_ghost_layernorm;
    case ACA_OP_ghost_embed: return test_ghost_embed;
    case ACA_OP_scale_rows: return test_scale_rows;
    case ACA_OP_dp_noise: return test_noise_op;
#define ACA_OP(group, ret, op, params) OPS_CASE_UNLESS_DP_##group(op)
#include "aca/ops_list.h"
#undef ACA_OP
        return NULL;
    }
    return NULL;
}

int main(void) {
    rng_seed(&g_rng, 2026, 12);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ghost_linear),  cmocka_unit_test(test_mixed_rule), cmocka_unit_test(test_ghost_layernorm),
        cmocka_unit_test(test_ghost_embed),   cmocka_unit_test(test_scale_rows), cmocka_unit_test(test_noise_op),
        cmocka_unit_test(test_emul_dp_ops),
    };
    if (ops_coverage_check("tests/test_dp_ghost.c", test_of, OPS_GROUP(ACA_OP_GROUP_DP), tests, ACA_ARRAY_LEN(tests))) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
