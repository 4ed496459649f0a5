// Tests of the statistical planner (src/plan.c): both kinds of bounds against values computed outside
// aca (tests/fixtures/make_plan_fixtures.py: the paper's public code restated in Python, and aca's
// conservative variants written independently), hand-computed bounds on small examples, the optimal
// unplanting split against brute force, monotonicity in n and N over a grid, corpus statistics, and
// bad values.  Hand examples pick delta so that log(1/dt) = 8, i.e. R(k) = 2/sqrt(k).
#include "testutil.h"

#include "aca/plan.h"

typedef struct {
    const char *name;
    int n_classes, target;
    size_t labels[10], signal[10];
} plan_fx_stats;

typedef struct {
    int stats, share_seed;
    plan_bound_kind kind;
    plan_strategy strategy;
    double delta, eps;
    long n_test, n, N, n_e_in;
    double bound, margin;
    long n_e_out;
} plan_fx_case;

typedef struct {
    int stats, share_seed;
    plan_bound_kind kind;
    plan_strategy strategy;
    long n_min;
} plan_fx_min;

#include "fixtures/plan_reference.inc"

static void close_to(const char *what, double got, double want) {
    if (!isfinite(got) || !(fabs(got - want) <= 1e-9 + 1e-9 * fabs(want))) {
        print_error("%s: got %.12g want %.12g\n", what, got, want);
        fail();
    }
}

// K = 2, target 0, 1000 documents: labels {l0, l1}, signal carriers {s0, s1}.
static plan_stats stats2(size_t l0, size_t l1, size_t s0, size_t s1) {
    plan_stats st;
    memset(&st, 0, sizeof st);
    st.n_classes = 2, st.target = 0, st.n_docs = l0 + l1;
    st.label_count[0] = l0, st.label_count[1] = l1;
    st.signal_label_count[0] = s0, st.signal_label_count[1] = s1;
    return st;
}

// delta such that dt = delta / (2 + 2|X~| + 2|X~|K) = exp(-8) for K = 2.
static plan_params params_for(int cells) {
    plan_params pp = {(2.0 + 2 * cells + 4.0 * cells) * exp(-8.0), 0.0, 0, PLAN_BOUND_CONSERVATIVE, 0};
    return pp;
}

static plan_stats fx_stats(const plan_fx_stats *f) {
    plan_stats st;
    memset(&st, 0, sizeof st);
    st.n_classes = f->n_classes, st.target = f->target;
    for (int y = 0; y < f->n_classes; y++)
        st.label_count[y] = f->labels[y], st.signal_label_count[y] = f->signal[y], st.n_docs += f->labels[y];
    return st;
}

// Both kinds, every strategy, against the Python reference: bound and margin to 1e-9, the split used.
static void test_reference_fixture(void **state) {
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ACA_ARRAY_LEN(PLAN_FX_CASES); i++) {
        const plan_fx_case *c = &PLAN_FX_CASES[i];
        plan_stats st = fx_stats(&PLAN_FX_STATS[c->stats]);
        double share[PLAN_MAX_CLASSES];
        assert_int_equal(plan_member_shares(&st, c->share_seed, 0.5, share, NULL), 0);
        plan_params pp = {c->delta, c->eps, c->n_test, c->kind, c->n_e_in};
        plan_bound b;
        aca_err e = {0};
        if (plan_eval(c->strategy, &st, c->share_seed < 0 ? NULL : share, &pp, c->n, c->N, &b, &e)) {
            print_error("case %zu: %s\n", i, e.msg);
            fail();
        }
        int ok = isfinite(b.bound) && fabs(b.bound - c->bound) <= 1e-9 + 1e-9 * fabs(c->bound) &&
                 isfinite(b.margin) && fabs(b.margin - c->margin) <= 1e-9 + 1e-9 * fabs(c->margin) &&
                 (c->strategy != PLAN_UNPLANT || b.n_e == c->n_e_out);
        if (!ok && bad++ < 10)
            print_error("case %zu (%s, %s %s, n %ld, N %ld, n_test %ld, n_e %ld): bound %.12g margin %.12g n_e %ld; "
                        "reference %.12g %.12g %ld\n",
                        i, PLAN_FX_STATS[c->stats].name, plan_bound_kind_name(c->kind), plan_strategy_name(c->strategy),
                        c->n, c->N, c->n_test, c->n_e_in, b.bound, b.margin, b.n_e, c->bound, c->margin, c->n_e_out);
    }
    if (bad) fail();
}

// The smallest sufficient sizes of the README's two collectives (the reference scans every n).
static void test_reference_min_n(void **state) {
    (void)state;
    for (size_t i = 0; i < ACA_ARRAY_LEN(PLAN_FX_MIN); i++) {
        const plan_fx_min *c = &PLAN_FX_MIN[i];
        plan_stats st = fx_stats(&PLAN_FX_STATS[c->stats]);
        double share[PLAN_MAX_CLASSES];
        assert_int_equal(plan_member_shares(&st, c->share_seed, 0.5, share, NULL), 0);
        plan_params pp;
        plan_params_default(&pp);
        pp.kind = c->kind;
        long n_min;
        assert_int_equal(plan_min_n(c->strategy, &st, c->share_seed < 0 ? NULL : share, &pp, 20000, 0.5, 19999, &n_min, NULL, NULL), 0);
        if (n_min != c->n_min) {
            print_error("%s %s %s: smallest n %ld, reference %ld\n", PLAN_FX_STATS[c->stats].name,
                        plan_bound_kind_name(c->kind), plan_strategy_name(c->strategy), n_min, c->n_min);
            fail();
        }
    }
}

// Names, parsing, and which (strategy, kind) pairs have a bound.
static void test_kinds(void **state) {
    (void)state;
    assert_int_equal(plan_bound_kind_parse("paper"), PLAN_BOUND_PAPER);
    assert_int_equal(plan_bound_kind_parse("conservative"), PLAN_BOUND_CONSERVATIVE);
    assert_int_equal(plan_bound_kind_parse("Paper"), -1);
    assert_string_equal(plan_formula(PLAN_FEATURE_LABEL, PLAN_BOUND_CONSERVATIVE), "paper");
    assert_string_equal(plan_formula(PLAN_FEATURE_ONLY, PLAN_BOUND_CONSERVATIVE), "conservative");
    assert_string_equal(plan_formula(PLAN_UNPLANT, PLAN_BOUND_PAPER), "paper");
    assert_string_equal(plan_formula(PLAN_ERASE, PLAN_BOUND_CONSERVATIVE), "aca-own");
    assert_null(plan_formula(PLAN_ERASE, PLAN_BOUND_PAPER));
    plan_params pp;
    plan_params_default(&pp);
    assert_true(pp.delta == 0.05 && pp.eps_subopt == 0 && pp.n_test == 0 && pp.kind == PLAN_BOUND_CONSERVATIVE && pp.n_e == 0);
    assert_int_equal(plan_n_floor(PLAN_UNPLANT, &pp), 2);
    assert_int_equal(plan_n_floor(PLAN_ERASE, &pp), 1);
    pp.n_e = 7;
    assert_int_equal(plan_n_floor(PLAN_UNPLANT, &pp), 8);
    long N, nt;
    plan_default_sizes(0, &N, &nt);
    assert_true(N == 20000 && nt == 5000);
    plan_default_sizes(29783, &N, &nt);
    assert_true(N == 20000 && nt == 5000);
    plan_default_sizes(1000, &N, &nt);
    assert_true(N == 800 && nt == 200);
}

static void test_hoeffding_radius(void **state) {
    (void)state;
    close_to("R(0.05, 100)", plan_radius(0.05, 100), sqrt(log(20.0) / 200.0));
    assert_true(isinf(plan_radius(0.05, 0)));
}

static void test_feature_label_hand(void **state) {
    (void)state;
    plan_stats st = stats2(600, 400, 10, 50); // p* = 0.01, c = 0.05
    plan_params pp = params_for(1);
    plan_bound b;
    aca_err e = {0};
    // n = 400, N = 2000: m = 0.2 (1 - 0.2) - 0.8 (0.04 + 0.2 + 0.1) = -0.112; bound = 0 - R(400) = -0.1.
    assert_int_equal(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 400, 2000, &b, &e), 0);
    close_to("dt", b.dt, exp(-8.0));
    close_to("FL margin n=400", b.margin, -0.112);
    close_to("FL bound n=400", b.bound, -0.1);
    assert_int_equal(b.label, 0);
    // n = 1600: m = 0.8 (1 - 0.1) - 0.2 (0.04 + 0.1 + 0.2) = 0.652; bound = 1 - 0.05.
    assert_int_equal(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 1600, 2000, &b, &e), 0);
    close_to("FL margin n=1600", b.margin, 0.652);
    close_to("FL bound n=1600", b.bound, 0.95);
    // Measured on 100 test documents: minus R(100) = 0.2.
    pp.n_test = 100;
    assert_int_equal(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 1600, 2000, &b, &e), 0);
    close_to("FL bound n=1600 n_test=100", b.bound, 0.75);
    // An eps-suboptimal classifier (eps = 0.2: threshold 0.25) still loses nothing here: 0.652 - 0.25.
    pp.n_test = 0, pp.eps_subopt = 0.2;
    assert_int_equal(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 1600, 2000, &b, &e), 0);
    close_to("FL margin eps=0.2", b.margin, 0.402);
}

static void test_feature_only_hand(void **state) {
    (void)state;
    plan_stats st = stats2(600, 400, 10, 50);
    plan_params pp = params_for(1);
    plan_bound b;
    // s* = 0.6; k = 0.4 * 50/400 = 0.05.  n = 1600, N = 2000:
    // m = 0.8 (0.6 - 0.05 - 0.1) - 0.2 (0.04 + 0.3) = 0.292.
    assert_int_equal(plan_eval(PLAN_FEATURE_ONLY, &st, NULL, &pp, 1600, 2000, &b, NULL), 0);
    close_to("FO margin", b.margin, 0.292);
    close_to("FO bound", b.bound, 0.95);
    // n = 400: m = 0.2 (0.6 - 0.05 - 0.2) - 0.8 (0.04 + 0.3) = -0.202.
    assert_int_equal(plan_eval(PLAN_FEATURE_ONLY, &st, NULL, &pp, 400, 2000, &b, NULL), 0);
    close_to("FO margin n=400", b.margin, -0.202);
    // A collective drawn only from the target class: s* = 1, k = 0.
    double share[2];
    assert_int_equal(plan_member_shares(&st, 0, 1.0, share, NULL), 0);
    close_to("share seed", share[0], 1.0);
    close_to("share other", share[1], 0.0);
    assert_int_equal(plan_eval(PLAN_FEATURE_ONLY, &st, share, &pp, 400, 2000, &b, NULL), 0);
    close_to("FO margin class-sampled", b.margin, 0.2 * (1 - 0.2) - 0.8 * 0.34);
}

static void test_unplant_hand(void **state) {
    (void)state;
    plan_stats st = stats2(600, 400, 50, 10); // the signal already points to the target: p* = 0.05, c = 0.01
    plan_params pp = params_for(1);
    plan_bound b;
    // n = 2, N = 5: only n_e = 1, n_p = 1; R(1) = 2, R(4) = 1:
    // m = 0.2 (1 - 4) - 0.8 (0.04 + 2 + 2 + 2) = -5.432; bound = -R(2).
    assert_int_equal(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, 2, 5, &b, NULL), 0);
    assert_int_equal(b.n_e, 1);
    assert_int_equal(b.label, 1);
    close_to("U margin n=2", b.margin, -5.432);
    close_to("U bound n=2", b.bound, -2 / sqrt(2.0));
    // n = 3, N = 6: n_e = 1 gives (2/6)(1 - 2R(2)) - (4/6)(0.04 + R(2) + R(1) + 2R(4)) = -4.24562...,
    // n_e = 2 gives (1/6)(1 - 2R(1)) - (5/6)(0.04 + R(1) + R(2) + 2R(5)) = -4.86922...: the split is 1.
    assert_int_equal(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, 3, 6, &b, NULL), 0);
    assert_int_equal(b.n_e, 1);
    double r2 = 2 / sqrt(2.0);
    close_to("U margin n=3", b.margin, (2.0 / 6) * (1 - 2 * r2) - (4.0 / 6) * (0.04 + r2 + 2 + 2));
    // n = 1700, N = 2000: n_e = 100 alone gives 0.8 (1 - 0.1) - 0.2 (0.04 + 0.05 + 0.2 + 0.2) = 0.622;
    // the optimal split does at least as well; bound = 1 - R(1700).
    assert_int_equal(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, 1700, 2000, &b, NULL), 0);
    assert_true(b.margin >= 0.622 - 1e-12);
    close_to("U bound n=1700", b.bound, 1 - 2 / sqrt(1700.0));
}

// The split search equals a brute-force argmax, including beyond the full-scan range.
static void test_unplant_split_bruteforce(void **state) {
    (void)state;
    plan_stats st = stats2(700, 300, 60, 5);
    plan_params pp = {0.05, 0.0, 0, PLAN_BOUND_CONSERVATIVE, 0};
    const long cases[][2] = {{50, 100}, {900, 1000}, {5000, 20000}, {30000, 40000}, {60000, 1000000}};
    for (size_t i = 0; i < ACA_ARRAY_LEN(cases); i++) {
        long n = cases[i][0], N = cases[i][1];
        plan_bound b;
        assert_int_equal(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, n, N, &b, NULL), 0);
        double dt = pp.delta / 8, pstar = 0.06, c = 0.005, best = -INFINITY;
        for (long ne = 1; ne < n; ne++) {
            double np = (double)(n - ne);
            double m = np / N * (1 - 2 * plan_radius(dt, np)) -
                       (N - np) / N * (pstar - c + plan_radius(dt, np) + plan_radius(dt, (double)ne) + 2 * plan_radius(dt, N - np));
            if (m > best) best = m;
        }
        if (!(fabs(b.margin - best) <= 1e-9 * fabs(best) + 1e-12)) {
            print_error("n=%ld N=%ld: split search margin %.12g (n_e=%ld), brute force %.12g\n", n, N, b.margin, b.n_e, best);
            fail();
        }
    }
}

static void test_erase_hand(void **state) {
    (void)state;
    plan_stats st = stats2(800, 200, 10, 20); // pi = (0.8, 0.2), a = (0.01, 0.02)
    plan_params pp = params_for(2);
    plan_bound b;
    // n = 400, N = 500: R(400) = 0.1, R(100) = 0.2.
    // m0 = 0.8 (0.8 - 0.2) - 0.2 (-0.01 + 0.6) = 0.362 > 0; m1 = 0.8 (0.2 - 0.2) - 0.2 (-0.02 + 0.6) < 0.
    assert_int_equal(plan_eval(PLAN_ERASE, &st, NULL, &pp, 400, 500, &b, NULL), 0);
    close_to("dt erase", b.dt, exp(-8.0));
    close_to("E margin (largest cell)", b.margin, 0.362);
    assert_int_equal(b.cells_won, 1);
    close_to("E bound (one step of the staircase)", b.bound, 0.8 - 0.1);
    // n = 1600, N = 2000: both cells won; bound = 1 - R(1600).
    st = stats2(600, 400, 10, 50);
    assert_int_equal(plan_eval(PLAN_ERASE, &st, NULL, &pp, 1600, 2000, &b, NULL), 0);
    assert_int_equal(b.cells_won, 2);
    close_to("E bound n=1600", b.bound, 0.95);
}

static const plan_strategy ALL[] = {PLAN_FEATURE_LABEL, PLAN_FEATURE_ONLY, PLAN_UNPLANT, PLAN_ERASE};

static plan_stats stats_k(int K, const size_t *labels, const size_t *sig, int target) {
    plan_stats st;
    memset(&st, 0, sizeof st);
    st.n_classes = K, st.target = target;
    for (int y = 0; y < K; y++) st.label_count[y] = labels[y], st.signal_label_count[y] = sig[y], st.n_docs += labels[y];
    return st;
}

// Property: for a uniform collective the bound is non-decreasing in n, and at fixed n/N in N, for
// both kinds.
static void test_monotone_grid(void **state) {
    (void)state;
    const size_t L1[] = {600, 400}, S1[] = {10, 50}, S2[] = {50, 10}, S3[] = {0, 0};
    const size_t L4[] = {100, 250, 50, 600}, S4[] = {3, 40, 0, 12};
    plan_stats sts[] = {stats_k(2, L1, S1, 0), stats_k(2, L1, S2, 0), stats_k(2, L1, S3, 1), stats_k(4, L4, S4, 2)};
    const double deltas[] = {0.01, 0.2}, epss[] = {0, 0.1};
    const long Ns[] = {300, 4000};
    for (size_t si = 0; si < ACA_ARRAY_LEN(sts); si++)
        for (size_t di = 0; di < 2; di++)
            for (size_t ei = 0; ei < 2; ei++)
                for (size_t k = 0; k < 2 * ACA_ARRAY_LEN(ALL); k++) {
                    const plan_strategy str = ALL[k % ACA_ARRAY_LEN(ALL)];
                    plan_params pp = {deltas[di], epss[ei], 0, k / ACA_ARRAY_LEN(ALL), 0};
                    if (!plan_formula(str, pp.kind)) continue;
                    for (size_t ni = 0; ni < 2; ni++) {
                        long N = Ns[ni], step = N / 150;
                        double prev = -INFINITY;
                        for (long n = 2; n < N; n += step) {
                            plan_bound b;
                            assert_int_equal(plan_eval(str, &sts[si], NULL, &pp, n, N, &b, NULL), 0);
                            if (!(b.bound >= prev - 1e-12)) {
                                print_error("%s (%s) stats %zu delta %g eps %g N %ld: bound falls at n = %ld (%.9g < %.9g)\n",
                                            plan_strategy_name(str), plan_bound_kind_name(pp.kind), si, deltas[di], epss[ei],
                                            N, n, b.bound, prev);
                                fail();
                            }
                            prev = b.bound;
                        }
                    }
                    const double alphas[] = {0.05, 0.25, 0.6};
                    for (size_t ai = 0; ai < 3; ai++) {
                        double prev = -INFINITY;
                        for (long N = 200; N <= 204800; N *= 2) {
                            long n = (long)llround(alphas[ai] * N);
                            plan_bound b;
                            assert_int_equal(plan_eval(str, &sts[si], NULL, &pp, n, N, &b, NULL), 0);
                            if (!(b.bound >= prev - 1e-12) || !(b.margin >= -1e300)) {
                                print_error("%s (%s) stats %zu: bound falls with N at n/N = %g, N = %ld (%.9g < %.9g)\n",
                                            plan_strategy_name(str), plan_bound_kind_name(pp.kind), si, alphas[ai], N,
                                            b.bound, prev);
                                fail();
                            }
                            prev = b.bound;
                        }
                    }
                }
}

static void test_min_n(void **state) {
    (void)state;
    plan_stats st = stats2(600, 400, 10, 50);
    plan_params pp = {0.05, 0, 0, PLAN_BOUND_CONSERVATIVE, 0};
    for (size_t k = 0; k < ACA_ARRAY_LEN(ALL); k++) {
        long n_min;
        plan_bound at, before;
        assert_int_equal(plan_min_n(ALL[k], &st, NULL, &pp, 20000, 0.5, 19999, &n_min, &at, NULL), 0);
        assert_true(n_min > 1 && n_min < 20000);
        assert_true(at.bound >= 0.5);
        assert_int_equal(plan_eval(ALL[k], &st, NULL, &pp, n_min - 1, 20000, &before, NULL), 0);
        assert_true(before.bound < 0.5);
    }
    // Not reachable below n_max: -1, not an error.
    long n_min;
    assert_int_equal(plan_min_n(PLAN_FEATURE_LABEL, &st, NULL, &pp, 20000, 0.5, 10, &n_min, NULL, NULL), 0);
    assert_int_equal(n_min, -1);
}

static void test_stats_from_corpus(void **state) {
    (void)state;
    char *classes[] = {"a", "b", "c"};
    // texts go by their length: the signal after a U+0000 counts (a C-string search missed it)
    aca_doc docs[] = {
        {.text = "x { y", .len = 5, .label = 0}, {.text = "plain", .len = 5, .label = 0},
        {.text = "{{", .len = 2, .label = 1},    {.text = "no", .len = 2, .label = 2},
        {.text = "z{", .len = 2, .label = 2},    {.text = "n\0{", .len = 3, .label = 1},
    };
    aca_corpus c = {.docs = docs, .n = 6, .classes = classes, .n_classes = 3};
    plan_stats st;
    aca_err e = {0};
    assert_int_equal(plan_stats_from_corpus(&c, "{", 2, &st, &e), 0);
    assert_int_equal(st.n_docs, 6);
    assert_int_equal(st.label_count[0], 2);
    assert_int_equal(st.label_count[2], 2);
    assert_int_equal(st.signal_label_count[0], 1);
    assert_int_equal(st.signal_label_count[1], 2);
    assert_int_equal(st.signal_label_count[2], 1);
    assert_int_equal(plan_stats_from_corpus(&c, "", 0, &st, &e), -1);
    assert_true(strstr(e.msg, "signal") != NULL);
    assert_int_equal(plan_stats_from_corpus(&c, "{", 3, &st, &e), -1);
    assert_true(strstr(e.msg, "target") != NULL);
}

static void expect_err(int rc, const aca_err *e, const char *prefix) {
    assert_int_equal(rc, -1);
    assert_int_equal(e->kind, ACA_ERR_VALUE);
    if (strncmp(e->msg, prefix, strlen(prefix))) {
        print_error("message '%s' does not start with '%s'\n", e->msg, prefix);
        fail();
    }
}

static void test_bad_values(void **state) {
    (void)state;
    plan_stats st = stats2(600, 400, 10, 50);
    const plan_params ok = {0.05, 0, 0, PLAN_BOUND_CONSERVATIVE, 0};
    plan_params pp;
    plan_bound b;
    aca_err e = {0};
    const double bad_delta[] = {0, 1, -0.1, 1.5, NAN};
    for (size_t i = 0; i < 5; i++) {
        pp = ok, pp.delta = bad_delta[i];
        expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 10, 100, &b, &e), &e, "delta = ");
    }
    pp = ok, pp.eps_subopt = 1;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 10, 100, &b, &e), &e, "eps_subopt = ");
    pp = ok, pp.eps_subopt = -0.1;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 10, 100, &b, &e), &e, "eps_subopt = ");
    pp = ok, pp.n_test = -1;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 10, 100, &b, &e), &e, "n_test = ");
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &ok, 0, 100, &b, &e), &e, "n = ");
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &ok, -5, 100, &b, &e), &e, "n = ");
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &ok, 100, 100, &b, &e), &e, "n = ");
    expect_err(plan_eval(PLAN_ERASE, &st, NULL, &ok, 1, 1, &b, &e), &e, "N = ");
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &ok, 1, -3, &b, &e), &e, "N = ");
    expect_err(plan_eval(PLAN_UNPLANT, &st, NULL, &ok, 1, 100, &b, &e), &e, "n = ");
    long n_min;
    expect_err(plan_min_n(PLAN_FEATURE_LABEL, &st, NULL, &ok, 100, 0, 99, &n_min, NULL, &e), &e, "success = ");
    expect_err(plan_min_n(PLAN_FEATURE_LABEL, &st, NULL, &ok, 100, 1.5, 99, &n_min, NULL, &e), &e, "success = ");
    expect_err(plan_min_n(PLAN_UNPLANT, &st, NULL, &ok, 100, 0.5, 1, &n_min, NULL, &e), &e, "n_max = ");
    plan_stats bad = st;
    bad.target = 2;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &bad, NULL, &ok, 10, 100, &b, &e), &e, "stats: target");
    bad = st, bad.signal_label_count[1] = 401;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &bad, NULL, &ok, 10, 100, &b, &e), &e, "stats: label 1");
    bad = st, bad.n_docs = 999;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &bad, NULL, &ok, 10, 100, &b, &e), &e, "stats: label counts");
    double share[2];
    expect_err(plan_member_shares(&st, 0, 1.5, share, &e), &e, "p = ");
    pp = ok, pp.n_e = 10;
    expect_err(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, 10, 100, &b, &e), &e, "n_e = 10: leaves no planter");
    expect_err(plan_min_n(PLAN_UNPLANT, &st, NULL, &pp, 100, 0.5, 10, &n_min, NULL, &e), &e, "n_max = ");
    pp = ok, pp.n_e = -1;
    expect_err(plan_eval(PLAN_UNPLANT, &st, NULL, &pp, 10, 100, &b, &e), &e, "n_e = ");
    pp = ok, pp.kind = PLAN_N_BOUNDS;
    expect_err(plan_eval(PLAN_FEATURE_LABEL, &st, NULL, &pp, 10, 100, &b, &e), &e, "kind = ");
    pp = ok, pp.kind = PLAN_BOUND_PAPER;
    expect_err(plan_eval(PLAN_ERASE, &st, NULL, &pp, 10, 100, &b, &e), &e, "kind = paper: the paper's code has no erase bound");
}

// The one place `aca plan` and the grid planner get a collective's inputs.
static void test_collective_inputs(void **state) {
    (void)state;
    char *classes[] = {"Software Developer", "Web Developer", "Java Developer"};
    aca_doc docs[] = {{.text = "a { b", .len = 5, .label = 0}, {.text = "c", .len = 1, .label = 1}, {.text = "{", .len = 1, .label = 2}, {.text = "d", .len = 1, .label = 2}};
    aca_corpus c = {.docs = docs, .n = 4, .classes = classes, .n_classes = 3};
    aca_collective k = {0};
    k.name = "A", k.target = "web developer", k.signal = "{", k.sampling = SAMPLING_UNIFORM;
    plan_stats st;
    double share[PLAN_MAX_CLASSES];
    int uniform = -1;
    aca_err e = {0};
    assert_int_equal(plan_collective_inputs(&c, "c.txt", &k, "s.json: collectives[0]", &st, share, &uniform, &e), 0);
    assert_true(uniform == 1 && st.target == 1 && st.n_docs == 4);
    assert_true(st.signal_label_count[0] == 1 && st.signal_label_count[2] == 1 && st.label_count[2] == 2);
    close_to("uniform share", share[2], 0.5);
    k.sampling = SAMPLING_PROPENSITY, k.seed_class = "Java_Developer", k.p = 0.5;
    assert_int_equal(plan_collective_inputs(&c, "c.txt", &k, "s.json: collectives[0]", &st, share, &uniform, &e), 0);
    assert_true(uniform == 0);
    close_to("seed share", share[2], 0.5);
    close_to("other share", share[0], 0.25);
    k.signal = NULL; // no signal: label counts only
    assert_int_equal(plan_collective_inputs(&c, "c.txt", &k, "s.json: collectives[0]", &st, share, &uniform, &e), 0);
    assert_true(st.n_docs == 4 && st.label_count[2] == 2 && st.signal_label_count[0] == 0);
    k.seed_class = "Astronaut";
    expect_err(plan_collective_inputs(&c, "c.txt", &k, "s.json: collectives[0]", &st, share, &uniform, &e), &e,
               "s.json: collectives[0].sampling.seed_class: class 'Astronaut' is not in c.txt");
    k.target = "Astronaut";
    expect_err(plan_collective_inputs(&c, "c.txt", &k, "s.json: collectives[0]", &st, share, &uniform, &e), &e,
               "s.json: collectives[0].target: class 'Astronaut' is not in c.txt");
    // No corpus: the 10 resume classes, equally frequent, the signal absent.
    k.target = "Web_Developer", k.signal = "{", k.sampling = SAMPLING_UNIFORM, k.seed_class = NULL;
    assert_int_equal(plan_collective_inputs(NULL, NULL, &k, "w", &st, share, &uniform, &e), 0);
    assert_true(st.n_classes == 10 && st.n_docs == 10000 && st.label_count[st.target] == 1000);
    expect_err((k.target = "Java", plan_collective_inputs(NULL, NULL, &k, "w", &st, share, &uniform, &e)), &e,
               "w.target: class 'Java' is not in the resume classes");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_fixture),     cmocka_unit_test(test_reference_min_n),
        cmocka_unit_test(test_kinds),                 cmocka_unit_test(test_collective_inputs),
        cmocka_unit_test(test_hoeffding_radius),      cmocka_unit_test(test_feature_label_hand),
        cmocka_unit_test(test_feature_only_hand),     cmocka_unit_test(test_unplant_hand),
        cmocka_unit_test(test_unplant_split_bruteforce), cmocka_unit_test(test_erase_hand),
        cmocka_unit_test(test_monotone_grid),         cmocka_unit_test(test_min_n),
        cmocka_unit_test(test_stats_from_corpus),     cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
