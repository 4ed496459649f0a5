// The CUDA backend's GEMM attention (kernels/attention_gemm.c), run by the cuBLAS test double and
// the host row kernels (kernels/attention_host.c), against the CPU attention op in double precision
// (cpu_attention_*_f64): the same calls, with the same arguments, that cuBLAS gets on the GPU.
//  - fp32 at T = 1, 7, 65, 129, 3 heads (and 4), head sizes 8 to 96, padding masks (and a fully padded sequence),
//    dropout 0 / 0.1 / 1, both batching layouts (a GEMM per sequence when B <= NH, per head
//    otherwise) and several slices of the batch: relative error < 2e-6;
//  - bf16 and fp16 operands (fp32 accumulation, P, Pd, dS rounded): relative error < 1e-2;
//  - the test can fail: the same comparison with one GEMM argument broken (a transpose, a leading
//    dimension, a batch stride, the batch count) must fail;
//  - the dropout mask: element (b,h,i,j) of Pd is zero exactly where the CPU's Philox mask drops;
//  - the double itself against a hand-worked 2x3x2 product (column-major, both transposes, strides);
//  - the scratch forward and backward ask for is att_gemm_scratch_bytes (what the CUDA backend
//    reserves when a model is created).
#include "testutil.h"

#include <stdlib.h>

#include "../kernels/attention_gemm.h"
#include "../kernels/cpu/cpu_kernels.h"
#include "../kernels/cpu/half.h"
#include "aca/philox.h"
#include "aca/util.h"

static aca_rng g_rng;

typedef struct {
    int B, T, NH, HS;
    float p;
    int pad; // 0 none; 1 the last sequence padded to 2/3; 2 also sequence 0 fully padded
    size_t slice; // executor slice budget in bytes (0 = one slice)
} att_case;

typedef struct {
    int B, T, C, NH;
    size_t nqkv, nout, np;
    float *qkv, *dout;     // rounded to the dtype
    int32_t *mask;         // NULL when no padding
    double *ref_out, *ref_dqkv, *ref_probs;
} att_ref;

static double rel_err(const float *got, const double *ref, size_t n, size_t *nonfinite) {
    double num = 0, den = 0;
    *nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) {
            (*nonfinite)++;
            continue;
        }
        double d = got[i] - ref[i];
        num += d * d, den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

// Inputs rounded to dt, the f64 reference on those inputs.
static att_ref ref_make(const att_case *ac, aca_dtype dt) {
    att_ref r = {0};
    r.B = ac->B, r.T = ac->T, r.C = ac->NH * ac->HS, r.NH = ac->NH;
    int B = r.B, T = r.T, C = r.C;
    r.nqkv = (size_t)B * T * 3 * C, r.nout = (size_t)B * T * C, r.np = (size_t)B * r.NH * T * T;
    r.qkv = xmalloc(r.nqkv * 4), r.dout = xmalloc(r.nout * 4);
    for (size_t i = 0; i < r.nqkv; i++) r.qkv[i] = half_round(dt, (float)(rng_normal(&g_rng) * 1.5));
    for (size_t i = 0; i < r.nout; i++) r.dout[i] = half_round(dt, (float)rng_normal(&g_rng));
    r.mask = NULL;
    if (ac->pad) {
        r.mask = xmalloc((size_t)B * T * sizeof(int32_t));
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                r.mask[b * T + t] = !(b == B - 1 && t >= (2 * T + 2) / 3) && !(ac->pad >= 2 && b == 0);
    }
    double *q = xmalloc(r.nqkv * 8), *g = xmalloc(r.nout * 8);
    for (size_t i = 0; i < r.nqkv; i++) q[i] = r.qkv[i];
    for (size_t i = 0; i < r.nout; i++) g[i] = r.dout[i];
    r.ref_out = xmalloc(r.nout * 8), r.ref_dqkv = xmalloc(r.nqkv * 8), r.ref_probs = xmalloc(r.np * 8);
    uint64_t seed = 0xa77e + (uint64_t)T;
    cpu_attention_forward_f64(r.ref_out, r.ref_probs, q, r.mask, B, T, C, r.NH, ac->p, seed);
    cpu_attention_backward_f64(r.ref_dqkv, g, q, r.ref_probs, r.mask, B, T, C, r.NH, ac->p, seed);
    free(q), free(g);
    return r;
}

static void ref_free(att_ref *r) {
    free(r->qkv), free(r->dout), free(r->mask), free(r->ref_out), free(r->ref_dqkv), free(r->ref_probs);
}

// A typed copy of n floats (already representable in dt).
static void *typed(aca_dtype dt, const float *x, size_t n) {
    void *y = xmalloc((n ? n : 1) * aca_dtype_size(dt));
    for (size_t i = 0; i < n; i++) half_store(dt, y, i, x[i]);
    return y;
}
static float *floats(aca_dtype dt, const void *x, size_t n) {
    float *y = xmalloc((n ? n : 1) * 4);
    for (size_t i = 0; i < n; i++) y[i] = half_load(dt, x, i);
    return y;
}

typedef struct {
    double out, dqkv, probs;
    size_t nonfinite;
    long gemm_calls;
    size_t mask_mismatch;
} att_result;

// Runs the composition with executor x on r's inputs; errors against the reference.
static att_result run_gemm_attention(att_exec *x, const att_ref *r, float p) {
    aca_dtype dt = x->dt;
    uint64_t seed = 0xa77e + (uint64_t)r->T;
    void *qkv = typed(dt, r->qkv, r->nqkv), *dout = typed(dt, r->dout, r->nout);
    void *out = xmalloc(r->nout * aca_dtype_size(dt)), *dqkv = xmalloc(r->nqkv * aca_dtype_size(dt));
    void *P = xmalloc(att_gemm_state_bytes(dt, r->B, r->T, r->NH));
    memset(out, 0xff, r->nout * aca_dtype_size(dt)); // NaN in every dtype: unwritten outputs show
    memset(dqkv, 0xff, r->nqkv * aca_dtype_size(dt));
    att_gemm_forward(x, out, P, qkv, r->mask, r->B, r->T, r->C, r->NH, p, seed);
    att_gemm_backward(x, dqkv, dout, qkv, P, r->mask, r->B, r->T, r->C, r->NH, p, seed);
    float *fo = floats(dt, out, r->nout), *fd = floats(dt, dqkv, r->nqkv), *fp = floats(dt, P, r->np);
    att_result res = {0};
    size_t nf1, nf2, nf3;
    res.out = rel_err(fo, r->ref_out, r->nout, &nf1);
    res.dqkv = rel_err(fd, r->ref_dqkv, r->nqkv, &nf2);
    res.probs = rel_err(fp, r->ref_probs, r->np, &nf3);
    res.nonfinite = nf1 + nf2 + nf3;
    free(qkv), free(dout), free(out), free(dqkv), free(P), free(fo), free(fd), free(fp);
    return res;
}

static void check_case(const att_case *ac, aca_dtype dt, double tol) {
    att_ref r = ref_make(ac, dt);
    att_exec x = att_exec_host(dt, ac->slice);
    att_result res = run_gemm_attention(&x, &r, ac->p);
    int slices = (ac->B + att_gemm_slice(&x, ac->B, ac->T, ac->NH, 0, ac->p) - 1) / att_gemm_slice(&x, ac->B, ac->T, ac->NH, 0, ac->p);
    // The scratch the CUDA backend reserves at model creation is what forward and backward asked for.
    size_t peak = att_exec_host_scratch_peak(&x), reserved = att_gemm_scratch_bytes(&x, ac->B, ac->T, ac->NH, ac->p);
    int bad = res.nonfinite || !(res.out <= tol && res.dqkv <= tol && res.probs <= tol) || peak != reserved;
    printf("%s gemm attention %s B=%d T=%d NH=%d HS=%d p=%g pad=%d slices=%d gemm calls %ld: rel out %.2e dqkv %.2e "
           "probs %.2e%s; scratch asked %zu, reserved %zu\n",
           bad ? "FAIL" : "ok  ", aca_dtype_name(dt), ac->B, ac->T, ac->NH, ac->HS, (double)ac->p, ac->pad, slices,
           att_exec_host_gemm_calls(&x), res.out, res.dqkv, res.probs, res.nonfinite ? " NON-FINITE" : "", peak, reserved);
    att_exec_host_free(&x);
    ref_free(&r);
    if (bad) fail_msg("gemm attention off the CPU op beyond %g, or scratch asked %zu != reserved %zu", tol, peak, reserved);
}

static const att_case CASES[] = {
    {2, 1, 3, 16, 0.0f, 0, 0},     {2, 7, 3, 16, 0.1f, 1, 0},     {4, 7, 3, 8, 0.1f, 2, 0},
    {2, 65, 3, 16, 0.1f, 1, 0},    {5, 65, 3, 8, 0.0f, 1, 0},     {2, 129, 3, 16, 0.1f, 1, 0},
    {4, 129, 3, 12, 0.2f, 2, 1 << 19}, {3, 33, 4, 8, 1.0f, 1, 0}, {7, 17, 3, 8, 0.1f, 1, 20000},
    {2, 9, 2, 96, 0.1f, 1, 0}, // head size > 64 (the old CUDA kernels' limit)
};

static void test_fp32(void **state) {
    rng_seed(&g_rng, 1, 0);
    for (size_t i = 0; i < ACA_ARRAY_LEN(CASES); i++) check_case(&CASES[i], ACA_DT_F32, 2e-6);
}

static void test_bf16_fp16(void **state) {
    rng_seed(&g_rng, 2, 0);
    for (size_t i = 0; i < ACA_ARRAY_LEN(CASES); i++)
        if (CASES[i].T <= 65) {
            check_case(&CASES[i], ACA_DT_BF16, 1e-2);
            check_case(&CASES[i], ACA_DT_F16, 1e-2);
        }
}

// ---- the test can fail: one broken argument ----
// Each break stays inside the operands' memory (a real cuBLAS would read garbage, or fault), so the
// comparison is what catches it.
static void break_one(att_gemm *g, long call, void *arg) {
    const void *a = g->A;
    switch (*(int *)arg) {
    case 0: if (call == 0) g->A = g->B, g->B = a; break;                       // S^T instead of S (q, k swapped)
    case 1: if (call == 0) g->lda -= 1; break;                                 // a leading dimension one short
    case 2: if (call == 0) g->strideA += 1; break;                             // a batch stride one element off
    case 3: if (g->c_type == ACA_DT_F32 && g->transa) g->batch -= 1; break;    // one head left out
    case 4: if (!g->transa && !g->transb && g->alpha != 1.0f) g->transb = 1; break; // dq from dS^T
    }
}

static void test_broken_arguments_fail(void **state) {
    rng_seed(&g_rng, 3, 0);
    att_case ac = {2, 7, 3, 16, 0.1f, 1, 0};
    att_ref r = ref_make(&ac, ACA_DT_F32);
    static const char *const WHAT[] = {"QK^T as KQ^T", "lda - 1", "strideA + 1", "batch - 1", "transb of dQ"};
    for (int w = 0; w < 5; w++) {
        att_exec x = att_exec_host(ACA_DT_F32, 0);
        att_exec_host_set_hook(&x, break_one, &w);
        att_result res = run_gemm_attention(&x, &r, ac.p);
        double worst = fmax(res.out, fmax(res.dqkv, res.probs));
        int caught = worst > 1e-2 || res.nonfinite;
        printf("%s broken %-16s: rel out %.2e dqkv %.2e probs %.2e%s (must be far off)\n", caught ? "ok  " : "FAIL",
               WHAT[w], res.out, res.dqkv, res.probs, res.nonfinite ? " NON-FINITE" : "");
        assert_true(caught);
        att_exec_host_free(&x);
    }
    ref_free(&r);
}

// ---- Pd's zeros are the CPU's Philox mask ----
static void test_dropout_mask(void **state) {
    int B = 2, T = 13, NH = 3, HS = 4, C = NH * HS;
    float p = 0.3f;
    uint64_t seed = 0xfeed;
    rng_seed(&g_rng, 4, 0);
    size_t nqkv = (size_t)B * T * 3 * C, n = (size_t)B * NH * T * T;
    float *qkv = xmalloc(nqkv * 4);
    for (size_t i = 0; i < nqkv; i++) qkv[i] = (float)rng_normal(&g_rng);
    float *S = xmalloc(n * 4), *P = xmalloc(n * 4), *Pd = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) S[i] = (float)rng_normal(&g_rng);
    att_rows r = {0};
    r.S = S, r.P = P, r.Pd = Pd, r.rows = B * NH * T, r.T = T, r.NH = NH, r.idx0 = 0, r.seed = seed;
    r.thr = aca_dropout_threshold(p), r.scale = 1.0f / (1.0f - p), r.dt = ACA_DT_F32;
    att_rows_forward_host(&r);
    size_t mism = 0, dropped = 0;
    uint32_t thr = aca_dropout_threshold(p);
    for (size_t i = 0; i < n; i++) {
        int keep = aca_dropout_keep(seed, i, thr);
        mism += (Pd[i] != 0) != keep;
        dropped += !keep;
    }
    printf("ok   dropout mask of the row kernel: %zu of %zu dropped, %zu mismatches with the Philox mask\n", dropped,
           n, mism);
    assert_int_equal(mism, 0);
    assert_true(dropped > n / 5 && dropped < n * 2 / 5);
    free(qkv), free(S), free(P), free(Pd);
}

// ---- the double alone, by hand ----
static void test_double_by_hand(void **state) {
    // A = [1 2 3; 4 5 6] (2x3) column-major with lda 3 (one padding row): {1,4,x, 2,5,x, 3,6,x}
    float A[9] = {1, 4, 99, 2, 5, 99, 3, 6, 99};
    // B = [1 0; 0 1; 1 1] (3x2) column-major, ldb 3: {1,0,1, 0,1,1}
    float Bm[6] = {1, 0, 1, 0, 1, 1};
    float Cm[4] = {NAN, NAN, NAN, NAN};
    att_gemm g = {0, 0, 2, 2, 3, 1.0f, 0.0f, A, 3, 0, Bm, 3, 0, Cm, 2, 0, 1, ACA_DT_F32, ACA_DT_F32};
    att_gemm_host(&g);
    // A B = [1+3 2+3; 4+6 5+6] = [4 5; 10 11], column-major {4,10,5,11}
    float want[4] = {4, 10, 5, 11};
    assert_memory_equal(Cm, want, sizeof want);
    // op(A) = A^T with A stored as 3x2 (lda 3): the same product through transa.
    float At[6] = {1, 2, 3, 4, 5, 6}; // A^T (3x2) column-major: columns (1,2,3), (4,5,6)
    att_gemm h = {1, 0, 2, 2, 3, 2.0f, 0.0f, At, 3, 0, Bm, 3, 0, Cm, 2, 0, 1, ACA_DT_F32, ACA_DT_F32};
    att_gemm_host(&h);
    float want2[4] = {8, 20, 10, 22};
    assert_memory_equal(Cm, want2, sizeof want2);
    // batch 2 with strides: the second product uses B + 3 (the column (0,1,1)) as a 3x1 B.
    float C2[2] = {NAN, NAN};
    att_gemm k = {0, 0, 2, 1, 3, 1.0f, 0.0f, A, 3, 0, Bm, 3, 3, C2, 2, 0, 1, ACA_DT_F32, ACA_DT_F32};
    k.batch = 1, k.B = Bm + 3;
    att_gemm_host(&k);
    float want3[2] = {5, 11};
    assert_memory_equal(C2, want3, sizeof want3);
    printf("ok   cuBLAS double: column-major products, transa, alpha and offsets by hand\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_by_hand),          cmocka_unit_test(test_fp32),
        cmocka_unit_test(test_bf16_fp16),               cmocka_unit_test(test_broken_arguments_fail),
        cmocka_unit_test(test_dropout_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
