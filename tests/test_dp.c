// Tests of the DP-SGD privacy accountant (src/dp_accountant.c) against Opacus fixtures
// (tests/fixtures/make_dp_fixtures.py) and published values, plus monotonicity and bad values.
#include "testutil.h"

#include "aca/dp.h"
#include "fixtures/dp_reference.inc"

static void check_rel(const char *what, double got, double want, double rtol) {
    if (!isfinite(got) || !(fabs(got - want) <= rtol * fabs(want))) {
        print_error("%s: got %.12g want %.12g (rtol %g)\n", what, got, want, rtol);
        fail();
    }
}

static void test_opacus_epsilon(void **state) {
    (void)state;
    for (size_t i = 0; i < ACA_ARRAY_LEN(DP_REF_EPS); i++) {
        const double *r = DP_REF_EPS[i];
        dp_sgm p = {r[0], r[1], (uint64_t)r[2], r[3]};
        dp_result a, b;
        aca_err e = {0};
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &a, &e), 0);
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_CLASSIC, NULL, 0, &b, &e), 0);
        char what[128];
        snprintf(what, sizeof what, "eps(q=%g sigma=%g steps=%g delta=%g) balle2020", r[0], r[1], r[2], r[3]);
        check_rel(what, a.epsilon, r[4], 1e-6);
        snprintf(what, sizeof what, "eps(q=%g sigma=%g steps=%g delta=%g) classic", r[0], r[1], r[2], r[3]);
        check_rel(what, b.epsilon, r[5], 1e-6);
        assert_true(a.epsilon <= b.epsilon); // the improved conversion is never worse
    }
}

static void test_opacus_rdp_step(void **state) {
    (void)state;
    for (size_t i = 0; i < ACA_ARRAY_LEN(DP_REF_RDP); i++) {
        const double *r = DP_REF_RDP[i];
        double got;
        aca_err e = {0};
        assert_int_equal(dp_rdp_step(r[0], r[1], r[2], &got, &e), 0);
        char what[128];
        snprintf(what, sizeof what, "rdp(q=%g sigma=%g alpha=%g)", r[0], r[1], r[2]);
        check_rel(what, got, r[3], 1e-7);
    }
    // q = 1 is the Gaussian mechanism: alpha / (2 sigma^2) exactly.
    double got;
    assert_int_equal(dp_rdp_step(1.0, 2.0, 3.5, &got, NULL), 0);
    check_rel("rdp(q=1)", got, 3.5 / 8.0, 1e-15);
}

// TF-Privacy tutorials/README.md, "Select Parameters" table: MNIST, 60000 examples, batch 256,
// delta = 1e-5, classic RDP conversion; steps = epochs * 60000 // 256.
static void test_published_tf_privacy(void **state) {
    (void)state;
    const double rows[][3] = {{1.12, 60, 2.92}, {0.6, 30, 9.74}, {1.2, 10, 1.20}};
    for (size_t i = 0; i < ACA_ARRAY_LEN(rows); i++) {
        dp_sgm p = {256.0 / 60000.0, rows[i][0], (uint64_t)rows[i][1] * 60000 / 256, 1e-5};
        dp_result r;
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_CLASSIC, NULL, 0, &r, NULL), 0);
        char what[64];
        snprintf(what, sizeof what, "TF-Privacy table row %zu", i);
        check_rel(what, r.epsilon, rows[i][2], 0.01);
    }
}

static void test_sigma_search(void **state) {
    (void)state;
    for (size_t i = 0; i < ACA_ARRAY_LEN(DP_REF_SIGMA); i++) {
        const double *r = DP_REF_SIGMA[i];
        dp_sgm p = {r[1], 0, (uint64_t)r[2], r[3]};
        double sigma;
        dp_result at;
        aca_err e = {0};
        assert_int_equal(dp_sigma_for_epsilon(&p, r[0], DP_CONVERT_BALLE2020, &sigma, &at, &e), 0);
        check_rel("sigma for target epsilon", sigma, r[4], 1e-5);
        assert_true(at.epsilon <= r[0]);
        // Minimal: slightly less noise breaks the target.
        p.sigma = sigma * (1 - 1e-5);
        dp_result below;
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &below, &e), 0);
        assert_true(below.epsilon > r[0]);
    }
}

static void test_monotone(void **state) {
    (void)state;
    const double qs[] = {0.001, 0.01, 0.1, 1.0}, sigmas[] = {0.6, 0.9, 1.3, 2.0, 4.0};
    const uint64_t steps[] = {1, 10, 1000};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 3; c++) {
                dp_sgm p = {qs[a], sigmas[b], steps[c], 1e-5};
                dp_result r, more_noise, more_steps, more_q;
                assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &r, NULL), 0);
                assert_true(isfinite(r.epsilon) && r.epsilon >= 0);
                dp_sgm p2 = p;
                p2.sigma *= 1.25;
                assert_int_equal(dp_epsilon(&p2, DP_CONVERT_BALLE2020, NULL, 0, &more_noise, NULL), 0);
                assert_true(more_noise.epsilon <= r.epsilon);
                p2 = p, p2.steps *= 2;
                assert_int_equal(dp_epsilon(&p2, DP_CONVERT_BALLE2020, NULL, 0, &more_steps, NULL), 0);
                assert_true(more_steps.epsilon >= r.epsilon);
                if (qs[a] < 1) {
                    p2 = p, p2.q *= 2;
                    assert_int_equal(dp_epsilon(&p2, DP_CONVERT_BALLE2020, NULL, 0, &more_q, NULL), 0);
                    assert_true(more_q.epsilon >= r.epsilon);
                }
            }
}

static void expect_fail(const dp_sgm *p, const char *prefix) {
    aca_err e = {0};
    dp_result r;
    assert_int_equal(dp_epsilon(p, DP_CONVERT_BALLE2020, NULL, 0, &r, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_VALUE);
    if (strncmp(e.msg, prefix, strlen(prefix))) {
        print_error("message '%s' does not start with '%s'\n", e.msg, prefix);
        fail();
    }
}

static void test_bad_values(void **state) {
    (void)state;
    const dp_sgm ok = {0.01, 1.0, 100, 1e-5};
    dp_sgm p;
    const double bad_q[] = {0, -0.1, 1.5, NAN};
    for (size_t i = 0; i < 4; i++) p = ok, p.q = bad_q[i], expect_fail(&p, "q = ");
    const double bad_sigma[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) p = ok, p.sigma = bad_sigma[i], expect_fail(&p, "sigma = ");
    p = ok, p.steps = 0, expect_fail(&p, "steps = ");
    const double bad_delta[] = {0, 1, 1.5, -1e-5, NAN};
    for (size_t i = 0; i < 5; i++) p = ok, p.delta = bad_delta[i], expect_fail(&p, "delta = ");

    aca_err e = {0};
    double sigma, rdp;
    const double bad_eps[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(dp_sigma_for_epsilon(&ok, bad_eps[i], DP_CONVERT_BALLE2020, &sigma, NULL, &e), -1);
        assert_true(!strncmp(e.msg, "epsilon = ", 10));
    }
    dp_sgm bq = ok;
    bq.q = 2;
    assert_int_equal(dp_sigma_for_epsilon(&bq, 1.0, DP_CONVERT_BALLE2020, &sigma, NULL, &e), -1);
    assert_true(!strncmp(e.msg, "q = ", 4));
    assert_int_equal(dp_rdp_step(0.1, 1.0, 1.0, &rdp, &e), -1);
    assert_true(!strncmp(e.msg, "orders", 6));
    dp_result r;
    const double one_order[] = {2.0};
    assert_int_equal(dp_epsilon(&ok, DP_CONVERT_BALLE2020, one_order, 0, &r, &e), -1);
    assert_true(!strncmp(e.msg, "orders", 6));
    // A target below what any sigma <= 1e6 reaches is an error, not a hang.
    dp_sgm many = {1.0, 0, 1000000000ULL, 1e-12};
    assert_int_equal(dp_sigma_for_epsilon(&many, 1e-9, DP_CONVERT_BALLE2020, &sigma, NULL, &e), -1);
    assert_true(!strncmp(e.msg, "epsilon = ", 10));
}

// A sigma so small that 2 sigma^2 underflows to 0: the RDP is infinite (the series' first terms were
// 0/0 = NaN and the accountant failed with "RDP ... is NaN").  Just above the underflow the values are
// Google dp-accounting's (RdpAccountant, the default orders): 5.4999999999999993e+20 at sigma = 1e-10,
// 5.5e+300 at 1e-150; at 1e-300 it divides by zero.
static void test_tiny_sigma(void **state) {
    (void)state;
    const double sigmas[] = {1e-300, 1e-200, 1e-160};
    for (size_t i = 0; i < ACA_ARRAY_LEN(sigmas); i++) {
        dp_sgm p = {0.01, sigmas[i], 10, 1e-5};
        dp_result r;
        aca_err e = {0};
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &r, &e), 0);
        assert_true(isinf(r.epsilon) && r.epsilon > 0);
        double rdp;
        assert_int_equal(dp_rdp_step(0.01, sigmas[i], 2.5, &rdp, &e), 0);
        assert_true(isinf(rdp) && rdp > 0);
        assert_int_equal(dp_rdp_step(0.01, sigmas[i], 3.0, &rdp, &e), 0);
        assert_true(isinf(rdp) && rdp > 0);
    }
    const double ref[][2] = {{1e-10, 5.4999999999999993e+20}, {1e-150, 5.5e+300}};
    for (size_t i = 0; i < ACA_ARRAY_LEN(ref); i++) {
        dp_sgm p = {0.01, ref[i][0], 10, 1e-5};
        dp_result r;
        assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &r, NULL), 0);
        check_rel("eps at a tiny sigma", r.epsilon, ref[i][1], 1e-9);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opacus_epsilon), cmocka_unit_test(test_opacus_rdp_step),
        cmocka_unit_test(test_published_tf_privacy), cmocka_unit_test(test_sigma_search),
        cmocka_unit_test(test_monotone), cmocka_unit_test(test_bad_values), cmocka_unit_test(test_tiny_sigma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
