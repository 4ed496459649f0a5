// DP-SGD in the trainer (include/aca/train.h): per-example clipping, the noise, Poisson sampling,
// the reduction to the plain per-example path, and the epsilon reported against the accountant.
// Tiny DistilBERT (1 layer, dim 32, ~13.6k parameters) on a synthetic token dataset.
#include "toy_model.h"

#include <stdlib.h>
#include <unistd.h>

#include "aca/dp.h"
#include "aca/model.h"
#include "aca/ops.h"
#include "aca/run.h"
#include "aca/train.h"

// dropout_on: the HF dropout rates; else all 0 (for comparing with the batched backward).
static const char TINY_FMT[] = "{\"model_type\":\"distilbert\",\"vocab_size\":48,\"max_position_embeddings\":32,"
                               "\"dim\":32,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":64,\"activation\":\"gelu\","
                               "\"dropout\":%s,\"attention_dropout\":%s,\"seq_classif_dropout\":%s,"
                               "\"initializer_range\":0.02,\"pad_token_id\":0,\"num_labels\":3}";

enum { N_DOCS = 48, MAX_LEN = 16, CLS = 1, SEP = 2 };

static aca_model *tiny_model(uint64_t seed, int dropout_on) {
    char js[1024];
    snprintf(js, sizeof js, TINY_FMT, dropout_on ? "0.1" : "0", dropout_on ? "0.1" : "0", dropout_on ? "0.2" : "0");
    return toy_model(js, seed, 8, MAX_LEN);
}




static aca_train_opts dp_opts(void) {
    aca_run_setup s;
    run_setup_default(&s); // the run options table's defaults
    aca_train_opts o = s.train;
    o.epochs = 2;
    o.lr = 2e-3;
    o.seed = 11;
    o.dp = 1;
    o.dp_clip = 1.0;
    o.dp_sigma = 1.0;
    return o;
}

static double l2(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

// ---- options -----------------------------------------------------------------------------------
static void expect_opt_error(const aca_train_opts *o, const char *flag) {
    aca_err e = {0};
    assert_int_equal(train_dp_check_opts(o, &e), -1);
    if (!strstr(e.msg, flag)) {
        print_error("error '%s' does not name %s\n", e.msg, flag);
        fail();
    }
}

static void test_bad_options(void **st) {
    (void)st;
    aca_train_opts o = dp_opts();
    aca_err e = {0};
    assert_int_equal(train_dp_check_opts(&o, &e), 0);
    o.dp_clip = 0, expect_opt_error(&o, "--dp-clip");
    o.dp_clip = -1, expect_opt_error(&o, "--dp-clip");
    o.dp_clip = NAN, expect_opt_error(&o, "--dp-clip");
    o = dp_opts(), o.dp_sigma = -0.5, expect_opt_error(&o, "--dp-sigma");
    o = dp_opts(), o.dp_sigma = NAN, o.dp_epsilon = 0, expect_opt_error(&o, "--dp-epsilon");
    o = dp_opts(), o.dp_sigma = NAN, o.dp_epsilon = -2, expect_opt_error(&o, "--dp-epsilon");
    o = dp_opts(), o.dp_sigma = NAN, o.dp_epsilon = NAN, expect_opt_error(&o, "--dp-sigma");
    o = dp_opts(), o.dp_epsilon = 1, expect_opt_error(&o, "--dp-epsilon"); // both given
    o = dp_opts(), o.dp_delta = 0, expect_opt_error(&o, "--dp-delta");
    o = dp_opts(), o.dp_delta = 1, expect_opt_error(&o, "--dp-delta");
    o = dp_opts(), o.dp_delta = 1.5, expect_opt_error(&o, "--dp-delta");
    o = dp_opts(), o.dp_sampling = 7, expect_opt_error(&o, "--dp-sampling");
    // Not bounded by the Poisson accountant: shuffled fixed batches with noise, and length buckets.
    o = dp_opts(), o.dp_sampling = TRAIN_DP_FIXED, expect_opt_error(&o, "--dp-sampling fixed: shuffled fixed-size batches");
    o.dp_sigma = NAN, o.dp_epsilon = 8, expect_opt_error(&o, "--dp-sampling fixed");
    o = dp_opts(), o.dp_sampling = TRAIN_DP_FIXED, o.dp_sigma = 0; // no noise: no privacy claimed, allowed
    assert_int_equal(train_dp_check_opts(&o, &e), 0);
    o = dp_opts(), o.bucket = 1, expect_opt_error(&o, "--bucket with DP-SGD: length buckets");
    o = dp_opts(), o.dp_grad = 7, expect_opt_error(&o, "--dp-grad");
    o = dp_opts(), o.dp_micro_batch = 0, expect_opt_error(&o, "--dp-micro-batch = 0");
    tu_expect_cli("train --config none.json --data none --out none --dp-sigma 1 --dp-grad fast", 1,
                  "--dp-grad: must be one of ghost|per-example, got 'fast'");
    tu_expect_cli("train --config none.json --data none --out none --dp-sigma 1 --dp-micro-batch 0", 1,
                  "--dp-micro-batch: must be a whole number in [1, 65536], got 0");
    tu_expect_cli("train --config none.json --data none --out none --dp-grad ghost", 1,
                  "--dp-grad needs --dp-sigma X or --dp-epsilon E");
    tu_expect_cli("train --config none.json --data none --out none --dp-sigma 1 --dp-grad per-example --device cuda", 1,
                  "--dp-grad per-example runs on the CPU backend only (--device cuda): use --device cpu, or --dp-grad ghost");
    tu_expect_cli("train --config none.json --data none --out none --dp-epsilon 3 --device cuda --precision fp16", 1,
                  "--precision fp16 with DP-SGD");
    assert_int_equal(train_dp_grad_parse("ghost"), TRAIN_DP_GRAD_GHOST);
    assert_int_equal(train_dp_grad_parse("per-example"), TRAIN_DP_GRAD_PER_EXAMPLE);
    assert_int_equal(train_dp_grad_parse("perexample"), -1);
    o.dp = 0;
    assert_int_equal(train_dp_check_opts(&o, &e), 0); // buckets without DP are fine
    // The command line refuses them the same way, before reading any file (train and run).
    tu_expect_cli("train --config none.json --data none --out none --dp-sigma 1 --dp-sampling fixed", 1,
                  "--dp-sampling fixed: shuffled fixed-size batches cannot be accounted as Poisson sampling");
    tu_expect_cli("train --config none.json --data none --out none --dp-epsilon 8 --bucket", 1, "--bucket with DP-SGD");
    char *dir = tu_tmpdir(), *spec = tu_path(dir, "spec.json"), args[1024];
    tu_write_file(spec, "{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"{\", \"size\": 5}]}");
    snprintf(args, sizeof args, "run %s --dp-epsilon 8 --dp-sampling fixed", spec);
    tu_expect_cli(args, 1, "--dp-sampling fixed: shuffled");
    snprintf(args, sizeof args, "run %s --dp-sigma 1 --bucket", spec);
    tu_expect_cli(args, 1, "--bucket with DP-SGD");
    tu_rm_rf(dir);
    free(dir), free(spec);
    assert_int_equal(train_dp_sampling_parse("poisson"), TRAIN_DP_POISSON);
    assert_int_equal(train_dp_sampling_parse("fixed"), TRAIN_DP_FIXED);
    assert_int_equal(train_dp_sampling_parse("uniform"), -1);
    // train_run refuses them too (before touching the model).
    aca_model *m = tiny_model(1, 1);
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_stats s;
    o = dp_opts(), o.dp_delta = 2;
    assert_int_equal(train_run(m, &d, &o, &s, &e), -1);
    assert_non_null(strstr(e.msg, "--dp-delta"));
    dataset_free(&d);
    toy_model_free(m);
}

// ---- (a) per-example clipping bounds every example's contribution --------------------------------
static void test_clipping_bounds_each_example(void **st) {
    (void)st;
    aca_model *m = tiny_model(3, 1);
    aca_dataset d;
    toy_dataset(&d, 3, N_DOCS, MAX_LEN);
    size_t n = model_num_params(m);
    float *sum = malloc(n * sizeof *sum), *g = malloc(n * sizeof *g), *ref = malloc(n * sizeof *ref);
    aca_err e = {0};
    aca_rng r;
    rng_seed(&r, 99, 1);
    int clipped_total = 0, unclipped_total = 0;
    for (int trial = 0; trial < 4; trial++) {
        int nb = 3 + (int)rng_below(&r, 6);
        uint32_t idx[8];
        for (int k = 0; k < nb; k++) idx[k] = (uint32_t)rng_below(&r, N_DOCS);
        // The norms first (no clipping), then a C between the smallest and the largest.
        double norms[8], norms2[8];
        aca_dp_step p = {INFINITY, 0.0, 5, (long)trial, NULL, 0, 0};
        aca_dp_step_info info;
        assert_int_equal(train_dp_grad(m, &d, idx, nb, &p, sum, norms, &info, &e), 0);
        double lo = INFINITY, hi = 0;
        for (int k = 0; k < nb; k++) lo = fmin(lo, norms[k]), hi = fmax(hi, norms[k]);
        assert_true(lo > 0 && hi > lo);
        p.clip = 0.5 * (lo + hi);
        assert_int_equal(train_dp_grad(m, &d, idx, nb, &p, sum, norms2, &info, &e), 0);
        // Recompute every example's gradient here, clip it, and check the bound and the sum.
        memset(ref, 0, n * sizeof *ref);
        int clipped = 0;
        for (int k = 0; k < nb; k++) {
            int32_t ids[MAX_LEN], mask[MAX_LEN], label;
            int T = dataset_fill_batch(&d, idx + k, 1, 0, ids, mask, &label);
            aca_batch b = {ids, mask, NULL, &label, 1, T};
            float loss;
            assert_int_equal(model_forward(m, &b, 1, train_example_seed(5, trial, k), NULL, &loss, &e), 0);
            model_zero_grad(m);
            model_backward(m, 1.0f);
            model_get_grads(m, g);
            double nk = l2(g, n);
            assert_true(nk == norms[k] && nk == norms2[k]); // deterministic per (seed, step, k)
            float c = (float)fmin(1.0, p.clip / (nk + 1e-6));
            for (size_t j = 0; j < n; j++) g[j] *= c;
            double nc = l2(g, n);
            if (!(nc <= p.clip * (1 + 1e-6))) {
                print_error("example %d: clipped norm %.9g > C = %.9g\n", k, nc, p.clip);
                fail();
            }
            clipped += nk > p.clip;
            for (size_t j = 0; j < n; j++) ref[j] += g[j];
        }
        assert_int_equal(info.clipped, clipped);
        clipped_total += clipped, unclipped_total += nb - clipped;
        tu_check_bits("sum of clipped per-example gradients", sum, ref, n);
        // So the summed update is bounded by nb * C.
        assert_true(l2(sum, n) <= nb * p.clip * (1 + 1e-6));
    }
    assert_true(clipped_total > 0 && unclipped_total > 0); // both branches were exercised
    free(sum), free(g), free(ref);
    dataset_free(&d);
    toy_model_free(m);
}

// The per-example sum without clipping, over B, is the batched mean gradient (dropout off: the
// masks of a B=1 pass differ from the batched pass's by construction); float order differs, so
// within a tolerance.
static void test_per_example_sum_is_batched_gradient(void **st) {
    (void)st;
    aca_model *m = tiny_model(4, 0);
    aca_dataset d;
    toy_dataset(&d, 4, N_DOCS, MAX_LEN);
    size_t n = model_num_params(m);
    float *sum = malloc(n * sizeof *sum), *g = malloc(n * sizeof *g);
    double *ref = malloc(n * sizeof *ref);
    uint32_t idx[6] = {0, 7, 13, 21, 30, 47};
    aca_dp_step p = {INFINITY, 0.0, 1, 0, NULL, 0, 0};
    aca_dp_step_info info;
    aca_err e = {0};
    assert_int_equal(train_dp_grad(m, &d, idx, 6, &p, sum, NULL, &info, &e), 0);
    for (size_t j = 0; j < n; j++) sum[j] /= 6.0f;
    int32_t ids[6 * MAX_LEN], mask[6 * MAX_LEN], labels[6];
    int T = dataset_fill_batch(&d, idx, 6, 0, ids, mask, labels);
    aca_batch b = {ids, mask, NULL, labels, 6, T};
    float loss;
    assert_int_equal(model_forward(m, &b, 1, 123, NULL, &loss, &e), 0);
    model_zero_grad(m);
    model_backward(m, 1.0f);
    model_get_grads(m, g);
    for (size_t j = 0; j < n; j++) ref[j] = g[j];
    tu_check_close("per-example mean vs batched gradient", sum, ref, n, 1e-3, 1e-6);
    assert_true(fabs(info.loss_sum / 6 - loss) < 1e-5);
    free(sum), free(g), free(ref);
    dataset_free(&d);
    toy_model_free(m);
}

// ---- (b) sigma = 0, C = inf: DP-SGD equals the plain per-example path bit for bit ---------------
static void get_params(aca_model *m, float **out) {
    *out = malloc(model_num_params(m) * sizeof **out);
    model_get_params(m, *out);
}

static void test_dp_reduces_to_plain(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 5, N_DOCS, MAX_LEN);
    aca_err e = {0};
    aca_train_stats s;
    // Plain training, gradient of each batch accumulated from B=1 micro-batches, no global clip.
    aca_run_setup rs;
    run_setup_default(&rs);
    aca_train_opts plain = rs.train;
    plain.epochs = 2, plain.lr = 2e-3, plain.seed = 11, plain.max_grad_norm = 0, plain.per_example_grads = 1;
    aca_model *a = tiny_model(6, 1);
    assert_int_equal(train_run(a, &d, &plain, &s, &e), 0);
    assert_int_equal(s.steps, 12);
    // DP-SGD with C = inf, sigma = 0, fixed sampling (the same shuffled batches).
    aca_train_opts dp = dp_opts();
    dp.dp_clip = INFINITY, dp.dp_sigma = 0, dp.dp_sampling = TRAIN_DP_FIXED, dp.dp_grad = TRAIN_DP_GRAD_PER_EXAMPLE;
    aca_model *b = tiny_model(6, 1);
    int rc = train_run(b, &d, &dp, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_true(isinf(s.dp_epsilon)); // no noise: no privacy
    assert_true(s.dp_clipped_frac == 0);
    float *pa, *pb;
    get_params(a, &pa), get_params(b, &pb);
    tu_check_bits("DP(C=inf, sigma=0, fixed) vs plain per-example", pb, pa, model_num_params(a));
    // Non-vacuous: a finite C, or noise, changes the result.
    dp.dp_clip = 0.05;
    aca_model *c = tiny_model(6, 1);
    assert_int_equal(train_run(c, &d, &dp, &s, &e), 0);
    assert_true(s.dp_clipped_frac > 0);
    float *pc;
    get_params(c, &pc);
    assert_true(memcmp(pc, pa, model_num_params(a) * sizeof *pa) != 0);
    free(pa), free(pb), free(pc);
    toy_model_free(a), toy_model_free(b), toy_model_free(c);
    dataset_free(&d);
}

// ---- (c) the noise has the right scale ----------------------------------------------------------
static void test_noise_scale(void **st) {
    (void)st;
    enum { N = 200001 };
    float *z = calloc(N, sizeof *z), *z2 = calloc(N, sizeof *z2);
    const double std = 1.7;
    train_dp_add_noise(z, N, std, 42, 3);
    train_dp_add_noise(z2, N, std, 42, 3);
    tu_check_bits("noise is a function of (seed, step)", z, z2, N);
    memset(z2, 0, N * sizeof *z2);
    train_dp_add_noise(z2, N, std, 42, 4);
    assert_true(memcmp(z, z2, N * sizeof *z) != 0);
    double s1 = 0, s2 = 0;
    long within = 0;
    for (size_t i = 0; i < N; i++) s1 += z[i], s2 += (double)z[i] * z[i], within += fabs(z[i]) <= std;
    double mean = s1 / N, sd = sqrt(s2 / N - mean * mean);
    if (!(fabs(sd / std - 1) < 0.01 && fabs(mean) < 0.01 * std && fabs((double)within / N - 0.682689) < 0.005)) {
        print_error("noise: mean %g sd %g (want %g), P(|z|<=sd) %g\n", mean, sd, std, (double)within / N);
        fail();
    }
    // Through a step: the noised sum minus the clean sum, over the divisor, has std sigma*C/B.
    aca_model *m = tiny_model(7, 1);
    aca_dataset d;
    toy_dataset(&d, 7, N_DOCS, MAX_LEN);
    size_t n = model_num_params(m);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint32_t idx[8] = {1, 2, 3, 5, 8, 13, 21, 34};
    aca_dp_step p = {0.5, 0.0, 9, 17, NULL, 0, 0};
    aca_dp_step_info info;
    aca_err e = {0};
    assert_int_equal(train_dp_grad(m, &d, idx, 8, &p, a, NULL, &info, &e), 0);
    p.sigma = 1.3;
    assert_int_equal(train_dp_grad(m, &d, idx, 8, &p, b, NULL, &info, &e), 0);
    aca_train_opts o = dp_opts();
    o.batch = 8, o.dp_sampling = TRAIN_DP_POISSON;
    double div = train_dp_divisor(&o, d.n, 5); // Poisson: the expected batch, whatever was drawn
    assert_true(div == 8.0);
    s1 = s2 = 0;
    for (size_t j = 0; j < n; j++) {
        double x = ((double)b[j] - a[j]) / div;
        s1 += x, s2 += x * x;
    }
    mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    double want = 1.3 * 0.5 / 8;
    if (!(fabs(sd / want - 1) < 0.03)) {
        print_error("step noise: sd %g, want sigma*C/B = %g (%zu coordinates)\n", sd, want, n);
        fail();
    }
    o.dp_sampling = TRAIN_DP_FIXED;
    assert_true(train_dp_divisor(&o, d.n, 5) == 5.0); // fixed: the batch's size (a last partial batch)
    free(a), free(b), free(z), free(z2);
    dataset_free(&d);
    toy_model_free(m);
}

static void test_poisson_sampling(void **st) {
    (void)st;
    enum { N = 4000 };
    uint32_t *idx = malloc(N * sizeof *idx), *idx2 = malloc(N * sizeof *idx2);
    double tot = 0, tot2 = 0;
    long hits0 = 0;
    for (long s = 0; s < 200; s++) {
        size_t k = train_dp_poisson_batch(N, 0.05, 8, s, idx);
        size_t k2 = train_dp_poisson_batch(N, 0.05, 8, s, idx2);
        assert_int_equal(k, k2);
        assert_memory_equal(idx, idx2, k * sizeof *idx);
        for (size_t i = 1; i < k; i++) assert_true(idx[i] > idx[i - 1]);
        tot += (double)k, tot2 += (double)k * k;
        hits0 += k && idx[0] == 0;
    }
    double mean = tot / 200, var = tot2 / 200 - mean * mean;
    // Binomial(4000, 0.05): mean 200, variance 190; the mean of 200 steps is within ~1 of 200.
    if (!(fabs(mean - 200) < 4 && var > 120 && var < 280)) {
        print_error("Poisson batches: mean %g (want 200), variance %g (want 190)\n", mean, var);
        fail();
    }
    assert_true(hits0 > 0 && hits0 < 40); // example 0 is in ~5% of the steps
    assert_int_equal(train_dp_poisson_batch(N, 1.0, 8, 0, idx), N);
    assert_int_equal(train_dp_poisson_batch(N, 0.0, 8, 0, idx), 0);
    free(idx), free(idx2);
}

// ---- (d) the epsilon reported is the accountant's -----------------------------------------------
static void test_epsilon_reported(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 8, N_DOCS, MAX_LEN);
    aca_err e = {0};
    aca_train_stats s;
    aca_train_opts o = dp_opts();
    o.dp_sigma = 1.1, o.dp_delta = 1e-3, o.epochs = 3;
    aca_model *m = tiny_model(8, 1);
    int rc = train_run(m, &d, &o, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s.steps, 18);
    dp_sgm p = {8.0 / 48.0, 1.1, 18, 1e-3};
    dp_result r;
    assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &r, &e), 0);
    assert_true(s.dp_epsilon == r.epsilon && s.dp_order == r.best_order);
    assert_true(s.dp_q == 8.0 / 48.0 && s.dp_sigma == 1.1);
    assert_true(isfinite(s.first_loss) && isfinite(s.last_epoch_loss));
    // Poisson batches vary: about 8 of 48 examples per step.
    assert_true(s.dp_examples > 18 * 8 / 2 && s.dp_examples < 18 * 8 * 2);
    toy_model_free(m);
    // A target epsilon: sigma is the accountant's for it, and the spent epsilon reaches it.
    o.dp_sigma = NAN, o.dp_epsilon = 3.0;
    m = tiny_model(8, 1);
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    double sigma;
    dp_result at;
    p.sigma = 0;
    assert_int_equal(dp_sigma_for_epsilon(&p, 3.0, DP_CONVERT_BALLE2020, &sigma, &at, &e), 0);
    assert_true(s.dp_sigma == sigma);
    assert_true(s.dp_epsilon <= 3.0 && s.dp_epsilon > 3.0 * 0.999);
    toy_model_free(m);
    // Stopped early: epsilon of the steps done.
    char tmpl[] = "/tmp/aca_test_dp_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    o.dp_epsilon = NAN, o.dp_sigma = 1.1, o.ckpt_dir = dir, o.stop_after = 5;
    m = tiny_model(8, 1);
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    p.sigma = 1.1, p.steps = 5;
    assert_int_equal(dp_epsilon(&p, DP_CONVERT_BALLE2020, NULL, 0, &r, &e), 0);
    assert_true(s.dp_epsilon == r.epsilon);
    toy_model_free(m);
    dir_remove_recursive(dir);
    dataset_free(&d);
}

// Frozen embedding tables: bit-identical after DP training with noise, while the rest trains; and
// a per-example norm that leaves them out (so clipping matches the unfrozen part alone).
static void test_freeze_embeddings(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 9, N_DOCS, MAX_LEN);
    aca_err e = {0};
    aca_train_stats s;
    aca_train_opts o = dp_opts();
    o.dp_sigma = 1.0, o.epochs = 2, o.dp_freeze_embeddings = 1;
    aca_model *m = tiny_model(9, 1);
    const size_t n = model_num_params(m);
    float *before = xmalloc(n * sizeof *before), *after = xmalloc(n * sizeof *after);
    model_get_params(m, before);
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    model_get_params(m, after);
    int np = 0, frozen = 0;
    const aca_param_info *pi = model_params(m, &np);
    for (int k = 0; k < np; k++) {
        int same = !memcmp(before + pi[k].offset, after + pi[k].offset, pi[k].numel * sizeof(float));
        int is_table = !strncmp(pi[k].name, "embeddings.", 11) && strstr(pi[k].name, "_embeddings.weight");
        if (is_table) frozen++;
        if (is_table != same) {
            print_error("%s: %s after DP training with frozen embeddings\n", pi[k].name, same ? "unchanged" : "changed");
            fail();
        }
    }
    assert_true(frozen >= 2); // word and position embeddings
    // the per-example norms train_dp_grad reports leave the frozen ranges out
    size_t fr[8];
    int nf = train_dp_frozen_ranges(m, fr, 4);
    assert_int_equal(nf, frozen);
    uint32_t idx[3] = {0, 1, 2};
    double norms_all[3], norms_fr[3];
    float *out = xmalloc(n * sizeof *out);
    aca_dp_step_info info;
    aca_dp_step p_all = {INFINITY, 0, 5, 0, NULL, 0, 0}, p_fr = {INFINITY, 0, 5, 0, fr, nf, 0};
    assert_int_equal(train_dp_grad(m, &d, idx, 3, &p_all, out, norms_all, &info, &e), 0);
    assert_int_equal(train_dp_grad(m, &d, idx, 3, &p_fr, out, norms_fr, &info, &e), 0);
    for (int k = 0; k < 3; k++) assert_true(norms_fr[k] < norms_all[k] && norms_fr[k] > 0);
    for (int f = 0; f < nf; f++)
        for (size_t j = fr[2 * f]; j < fr[2 * f + 1]; j++) assert_true(out[j] == 0.0f);
    free(out), free(before), free(after);
    toy_model_free(m);
    dataset_free(&d);
}

// Resume in DP mode is bit-identical (the sample and the noise depend only on (seed, step)).
static void test_dp_resume_bit_identical(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 9, N_DOCS, MAX_LEN);
    aca_err e = {0};
    aca_train_stats s;
    aca_train_opts o = dp_opts();
    aca_model *a = tiny_model(9, 1);
    assert_int_equal(train_run(a, &d, &o, &s, &e), 0);
    char tmpl[] = "/tmp/aca_test_dp_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    aca_train_opts ob = o;
    ob.ckpt_dir = dir, ob.stop_after = 7;
    aca_model *b = tiny_model(9, 1);
    assert_int_equal(train_run(b, &d, &ob, &s, &e), 0);
    toy_model_free(b);
    ob.stop_after = 0, ob.resume = 1;
    aca_model *c = tiny_model(9, 1); // the same initial weights: a resume checks them (train_fingerprint)
    assert_int_equal(train_run(c, &d, &ob, &s, &e), 0);
    assert_int_equal(s.resumed, 1);
    float *pa, *pc;
    get_params(a, &pa), get_params(c, &pc);
    tu_check_bits("DP params after resume", pc, pa, model_num_params(a));
    free(pa), free(pc);
    toy_model_free(a), toy_model_free(c);
    dir_remove_recursive(dir);
    dataset_free(&d);
}

// ---- ghost clipping (the default path) against an fp64 oracle and the per-example path ---------
// Odd shapes: BERT (with token types) C = 33, H = 37 and DistilBERT C = 15, H = 19, 2 layers, 5
// classes; a 23-token vocabulary so that ids repeat within a document; documents of 1 to 13 tokens,
// one holding the padding id 0 as a real token; batches with T = 1, T = 7 and padded T = 13.  At
// T = 13 Bu et al.'s rule takes the materialised form for DistilBERT's 15x15 and FFN layers and the
// Gram form for its qkv and for BERT's: ACA_GHOST_AUTO mixes both.
static aca_model *odd_model(int bert, int dropout_on, uint64_t seed) {
    const char *p = dropout_on ? "0.1" : "0";
    char js[1024];
    if (bert)
        snprintf(js, sizeof js, "{\"model_type\":\"bert\",\"vocab_size\":23,\"max_position_embeddings\":16,\"type_vocab_size\":2,"
                 "\"hidden_size\":33,\"num_hidden_layers\":2,\"num_attention_heads\":3,\"intermediate_size\":37,"
                 "\"hidden_act\":\"gelu\",\"hidden_dropout_prob\":%s,\"attention_probs_dropout_prob\":%s,"
                 "\"initializer_range\":0.3,\"pad_token_id\":0,\"num_labels\":5,\"layer_norm_eps\":1e-12}", p, p);
    else
        snprintf(js, sizeof js, "{\"model_type\":\"distilbert\",\"vocab_size\":23,\"max_position_embeddings\":16,\"dim\":15,"
                 "\"n_layers\":2,\"n_heads\":3,\"hidden_dim\":19,\"activation\":\"gelu\",\"dropout\":%s,"
                 "\"attention_dropout\":%s,\"seq_classif_dropout\":%s,\"initializer_range\":0.3,\"pad_token_id\":0,"
                 "\"num_labels\":5}", p, p, dropout_on ? "0.2" : "0");
    return toy_model(js, seed, 8, 16);
}

enum { ODD_DOCS = 24 };
static const int ODD_LENS[8] = {1, 7, 2, 13, 5, 7, 3, 11};

static void odd_dataset(aca_dataset *d, uint64_t seed) {
    aca_rng r;
    rng_seed(&r, seed, 3);
    int32_t ids[ODD_DOCS * 16], lens[ODD_DOCS], labels[ODD_DOCS];
    size_t k = 0;
    for (int i = 0; i < ODD_DOCS; i++) {
        lens[i] = ODD_LENS[i % 8], labels[i] = i % 5;
        for (int t = 0; t < lens[i]; t++)
            ids[k++] = t == 0 ? 1 : t == lens[i] - 1 ? 2 : (i == 3 && t == 4) ? 0 : 3 + (int32_t)rng_below(&r, 20);
    }
    dataset_from_arrays(d, ODD_DOCS, ids, lens, labels, 16);
}

static const uint32_t ODD_BATCHES[3][8] = {{0, 8, 16}, {1, 2, 4, 5, 6, 9, 14, 22}, {3, 0, 9, 10, 12, 15, 7, 21}};
static const int ODD_NB[3] = {3, 8, 8}; // T = 1, T = 7 (padded), T = 13 (padded)

// The oracle: each example's gradient under the last forward (its own loss alone: weights e_b in a
// batched backward, so the same activations and dropout masks), frozen ranges zeroed, as floats in
// G (B x numel), and their squared norms in double.
static void oracle_grads(aca_model *m, int B, const size_t *fr, int nf, float *G, double *sq) {
    size_t n = model_num_params(m);
    float *w = xmalloc((size_t)B * sizeof *w);
    aca_err e = {0};
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < B; k++) w[k] = k == b;
        model_zero_grad(m);
        assert_int_equal(model_backward_weighted(m, w, &e), 0);
        float *g = G + (size_t)b * n;
        model_get_grads(m, g);
        for (int f = 0; f < nf; f++) memset(g + fr[2 * f], 0, (fr[2 * f + 1] - fr[2 * f]) * sizeof *g);
        sq[b] = 0;
        for (size_t j = 0; j < n; j++) sq[b] += (double)g[j] * g[j];
    }
    free(w);
}

// Squared norms agree to rtol (no NaN passes).
static void check_sq(const char *what, const double *got, const double *ref, int B, double rtol) {
    for (int b = 0; b < B; b++)
        if (!(isfinite(got[b]) && ref[b] > 0 && fabs(got[b] - ref[b]) <= rtol * ref[b])) {
            print_error("%s: example %d: squared norm %.12g, want %.12g (rel %.3g > %.3g)\n", what, b, got[b], ref[b],
                        fabs(got[b] - ref[b]) / ref[b], rtol);
            fail();
        }
}

// A clipped sum against the fp64 oracle ref = sum_b c_b g_b: the norm of the difference within
// RTOL_SUM_NORM of ||ref||, and every element within RTOL_SUM_ELEM (sum_b |c_b g_b[j]| + max_j of that
// / 1000) (an element's mass does not bound the cancellation inside one example's backward, so the
// elementwise check is the looser one).  No NaN passes.
static const double RTOL_SUM_NORM = 4e-6, RTOL_SUM_ELEM = 1e-4;

static void check_sum(const char *what, const float *got, const double *ref, const double *mass, size_t n) {
    double mmax = 0, worst = 0, nd = 0, nr = 0;
    for (size_t j = 0; j < n; j++) mmax = fmax(mmax, mass[j]);
    size_t wj = 0, bad = 0;
    for (size_t j = 0; j < n; j++) {
        double lim = RTOL_SUM_ELEM * (mass[j] + 1e-3 * mmax), d = fabs((double)got[j] - ref[j]);
        nd += d * d, nr += ref[j] * ref[j];
        if (!isfinite(got[j]) || !(d <= lim)) bad++;
        if (!isfinite(got[j]) || d / lim > worst) worst = isfinite(got[j]) ? d / lim : INFINITY, wj = j;
    }
    if (bad || !(sqrt(nd) <= RTOL_SUM_NORM * sqrt(nr))) {
        print_error("%s: |diff| / |ref| = %.3g (bound %.3g); %zu of %zu elements off, worst [%zu] got %.9g want %.9g (mass %.3g, "
                    "%.3g x its bound)\n", what, sqrt(nd / nr), RTOL_SUM_NORM, bad, n, wj, (double)got[wj], ref[wj], mass[wj], worst);
        fail();
    }
}

// Ghost norms equal the oracle's (the Gram form, the materialised form, Bu et al.'s choice), with
// dropout on and off, frozen embeddings on and off, at T = 1, 7 and padded 13; and, with dropout off,
// the norms of the per-example path (B = 1 passes: another forward shape, so only to rounding).
static const double RTOL_NORM = 1e-6, RTOL_NORM_PE = 2e-5;

static void ghost_norms_case(int bert, int dropout_on, int frozen_on) {
    aca_model *m = odd_model(bert, dropout_on, 21);
    aca_dataset d;
    odd_dataset(&d, 21);
    size_t n = model_num_params(m), fr[8];
    int nf = frozen_on ? train_dp_frozen_ranges(m, fr, 4) : 0;
    unsigned skip = frozen_on ? ACA_GHOST_SKIP_WTE | ACA_GHOST_SKIP_WPE | ACA_GHOST_SKIP_TTE : 0;
    float *G = xmalloc(8 * n * sizeof *G), *out = xmalloc(n * sizeof *out);
    aca_err e = {0};
    for (int bi = 0; bi < 3; bi++) {
        int nb = ODD_NB[bi];
        int32_t ids[8 * 16], mask[8 * 16], labels[8];
        int T = dataset_fill_batch(&d, ODD_BATCHES[bi], nb, 0, ids, mask, labels);
        aca_batch b = {ids, mask, NULL, labels, nb, T};
        float loss;
        double sq[8], ref[8];
        char what[160];
        for (int form = ACA_GHOST_AUTO; form <= ACA_GHOST_MATERIALISE; form++) {
            assert_int_equal(model_forward(m, &b, 1, 1234 + bi, NULL, &loss, &e), 0);
            aca_ghost_opts go = {(aca_ghost_form)form, skip};
            assert_int_equal(model_ghost_norms(m, &go, sq, &e), 0);
            oracle_grads(m, nb, fr, nf, G, ref);
            snprintf(what, sizeof what, "%s dropout %s frozen %s T=%d form %d: ghost vs oracle", bert ? "bert" : "distilbert",
                     dropout_on ? "on" : "off", frozen_on ? "on" : "off", T, form);
            check_sq(what, sq, ref, nb, RTOL_NORM);
        }
        if (dropout_on) continue;
        double pe[8];
        aca_dp_step p = {INFINITY, 0, 5, 0, fr, nf, 0};
        aca_dp_step_info info;
        assert_int_equal(train_dp_grad(m, &d, ODD_BATCHES[bi], nb, &p, out, pe, &info, &e), 0);
        for (int k = 0; k < nb; k++) pe[k] *= pe[k];
        snprintf(what, sizeof what, "%s frozen %s T=%d: ghost vs per-example path", bert ? "bert" : "distilbert", frozen_on ? "on" : "off", T);
        check_sq(what, sq, pe, nb, RTOL_NORM_PE);
    }
    free(G), free(out);
    dataset_free(&d);
    toy_model_free(m);
}

// Every case: DistilBERT and BERT, dropout off and on, frozen embeddings off and on.
static void for_each_odd_case(void (*fn)(int bert, int dropout_on, int frozen_on)) {
    for (int bert = 0; bert < 2; bert++)
        for (int drop = 0; drop < 2; drop++)
            for (int fz = 0; fz < 2; fz++) fn(bert, drop, fz);
}

static void test_ghost_norms(void **st) {
    (void)st;
    for_each_odd_case(ghost_norms_case);
}

// The clipped sum at sigma = 0 (C between the smallest and the largest norm: examples under and
// over the clip) equals the fp64 oracle sum_b c_b g_b, and with dropout off so does the per-example
// path's sum; frozen ranges are zero.  With noise, the ghost step adds exactly train_dp_add_noise's
// numbers to the trained coordinates.

static void ghost_update_case(int bert, int dropout_on, int frozen_on) {
    aca_model *m = odd_model(bert, dropout_on, 22);
    aca_dataset d;
    odd_dataset(&d, 22);
    size_t n = model_num_params(m), fr[8];
    int nf = frozen_on ? train_dp_frozen_ranges(m, fr, 4) : 0;
    float *G = xmalloc(8 * n * sizeof *G), *got = xmalloc(n * sizeof *got), *pe = xmalloc(n * sizeof *pe);
    float *noisy = xmalloc(n * sizeof *noisy);
    double *ref = xmalloc(n * sizeof *ref), *mass = xmalloc(n * sizeof *mass);
    aca_err e = {0};
    char what[160];
    for (int bi = 1; bi < 3; bi++) {
        int nb = ODD_NB[bi];
        int32_t ids[8 * 16], mask[8 * 16], labels[8];
        int T = dataset_fill_batch(&d, ODD_BATCHES[bi], nb, 0, ids, mask, labels);
        aca_batch b = {ids, mask, NULL, labels, nb, T};
        float loss;
        double sq[8], norms[8];
        const uint64_t seed = 31;
        const long step = 4 + bi;
        // The oracle under the ghost step's forward (one chunk: dropout seed of example 0).
        assert_int_equal(model_forward(m, &b, 1, train_example_seed(seed, step, 0), NULL, &loss, &e), 0);
        oracle_grads(m, nb, fr, nf, G, sq);
        double lo = INFINITY, hi = 0;
        for (int k = 0; k < nb; k++) lo = fmin(lo, sqrt(sq[k])), hi = fmax(hi, sqrt(sq[k]));
        aca_dp_step p = {0.5 * (lo + hi), 0, seed, step, fr, nf, 0};
        memset(ref, 0, n * sizeof *ref), memset(mass, 0, n * sizeof *mass);
        for (int k = 0; k < nb; k++) {
            double c = train_clip_coef(sqrt(sq[k]), p.clip);
            for (size_t j = 0; j < n; j++) ref[j] += c * G[(size_t)k * n + j], mass[j] += fabs(c * G[(size_t)k * n + j]);
        }
        aca_dp_step_info info;
        assert_int_equal(train_dp_grad_ghost(m, &d, ODD_BATCHES[bi], nb, &p, ACA_GHOST_AUTO, norms, &info, &e), 0);
        assert_true(info.clipped > 0 && info.clipped < nb); // examples under and over the clip
        model_get_grads(m, got);
        snprintf(what, sizeof what, "%s dropout %s frozen %s T=%d: ghost clipped sum vs fp64 oracle", bert ? "bert" : "distilbert",
                 dropout_on ? "on" : "off", frozen_on ? "on" : "off", T);
        check_sum(what, got, ref, mass, n);
        for (int f = 0; f < nf; f++)
            for (size_t j = fr[2 * f]; j < fr[2 * f + 1]; j++) assert_true(got[j] == 0.0f);
        // Noise: exactly the host draws added to this sum, outside the frozen ranges.
        p.sigma = 1.7;
        assert_int_equal(train_dp_grad_ghost(m, &d, ODD_BATCHES[bi], nb, &p, ACA_GHOST_AUTO, norms, &info, &e), 0);
        model_get_grads(m, noisy);
        train_dp_add_noise(got, n, p.sigma * p.clip, seed, step);
        for (int f = 0; f < nf; f++) memset(got + fr[2 * f], 0, (fr[2 * f + 1] - fr[2 * f]) * sizeof *got);
        tu_check_bits("ghost step with noise vs its sum plus train_dp_add_noise", noisy, got, n);
        if (dropout_on) continue;
        p.sigma = 0;
        assert_int_equal(train_dp_grad(m, &d, ODD_BATCHES[bi], nb, &p, pe, NULL, &info, &e), 0);
        snprintf(what, sizeof what, "%s frozen %s T=%d: per-example path clipped sum vs fp64 oracle", bert ? "bert" : "distilbert",
                 frozen_on ? "on" : "off", T);
        check_sum(what, pe, ref, mass, n);
    }
    free(G), free(got), free(pe), free(noisy), free(ref), free(mass);
    dataset_free(&d);
    toy_model_free(m);
}

static void test_ghost_update(void **st) {
    (void)st;
    for_each_odd_case(ghost_update_case);
}

// ---- frozen parameters ----------------------------------------------------------------------------
// What a run leaves untrained stays bit-identical, weight decay included (AdamW runs on the trained
// ranges alone; before, weight decay shrank the "frozen" embedding tables), and the rest trains:
// the embedding tables under DP-SGD with dp_freeze_embeddings; the base model with freeze_base, with
// and without DP.
static void frozen_case(int bert, int dp, int freeze_embeddings, int freeze_base) {
    aca_model *m = odd_model(bert, 1, 41);
    aca_dataset d;
    odd_dataset(&d, 41);
    aca_train_opts o = dp_opts();
    o.dp = dp, o.dp_sigma = dp ? 0.5 : NAN, o.dp_freeze_embeddings = freeze_embeddings, o.freeze_base = freeze_base;
    o.weight_decay = 0.1, o.lr = 1e-2, o.epochs = 2;
    size_t n = model_num_params(m), fr[8];
    int nf = train_frozen_ranges(m, &o, fr, 4);
    assert_true(nf >= 1);
    float *before = xmalloc(n * sizeof *before), *after = xmalloc(n * sizeof *after);
    model_get_params(m, before);
    aca_train_stats s;
    aca_err e = {0};
    int rc = train_run(m, &d, &o, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    model_get_params(m, after);
    int np = 0;
    const aca_param_info *pi = model_params(m, &np);
    for (int k = 0; k < np; k++) {
        int frozen = 0;
        for (int f = 0; f < nf; f++) frozen |= fr[2 * f] <= pi[k].offset && pi[k].offset + pi[k].numel <= fr[2 * f + 1];
        int table = !strncmp(pi[k].name, "embeddings.", 11) && strstr(pi[k].name, "_embeddings.weight");
        assert_int_equal(frozen, freeze_base ? pi[k].base : table); // the ranges are what the options name
        int same = !memcmp(before + pi[k].offset, after + pi[k].offset, pi[k].numel * sizeof(float));
        if (frozen != same) {
            print_error("%s %s%s%s: %s is %s after training\n", bert ? "bert" : "distilbert", dp ? "DP" : "plain",
                        freeze_embeddings ? ", frozen embeddings" : "", freeze_base ? ", frozen base" : "", pi[k].name,
                        same ? "unchanged" : "changed");
            fail();
        }
    }
    free(before), free(after);
    dataset_free(&d);
    toy_model_free(m);
}

static void test_frozen_stay_frozen(void **st) {
    (void)st;
    for (int bert = 0; bert < 2; bert++) {
        frozen_case(bert, 1, 1, 0);
        frozen_case(bert, 0, 0, 1);
        frozen_case(bert, 1, 0, 1);
    }
}

// With only the parameters outside the base model trained (model_set_top_only), the ghost norms are
// theirs, equal to the oracle's with every base parameter zeroed.
static void test_ghost_norms_top_only(void **st) {
    (void)st;
    for (int bert = 0; bert < 2; bert++) {
        aca_model *m = odd_model(bert, 1, 43);
        aca_dataset d;
        odd_dataset(&d, 43);
        aca_train_opts o = dp_opts();
        o.freeze_base = 1;
        size_t n = model_num_params(m), fr[8];
        int nf = train_frozen_ranges(m, &o, fr, 4);
        float *G = xmalloc(8 * n * sizeof *G);
        int32_t ids[8 * 16], mask[8 * 16], labels[8];
        int T = dataset_fill_batch(&d, ODD_BATCHES[2], 8, 0, ids, mask, labels);
        aca_batch b = {ids, mask, NULL, labels, 8, T};
        float loss;
        double sq[8], ref[8];
        aca_err e = {0};
        model_set_top_only(m, 1);
        assert_int_equal(model_forward(m, &b, 1, 99, NULL, &loss, &e), 0);
        aca_ghost_opts go = {ACA_GHOST_AUTO, 0};
        assert_int_equal(model_ghost_norms(m, &go, sq, &e), 0);
        oracle_grads(m, 8, fr, nf, G, ref);
        check_sq(bert ? "bert top only: ghost vs oracle" : "distilbert top only: ghost vs oracle", sq, ref, 8, RTOL_NORM);
        // and the base model got no gradient at all (the backward stopped above it)
        for (int f = 0; f < nf; f++)
            for (size_t j = fr[2 * f]; j < fr[2 * f + 1]; j++) assert_true(G[j] == 0.0f);
        free(G);
        dataset_free(&d);
        toy_model_free(m);
    }
}

// A DP checkpoint resumes only the same run: --dp-grad, --dp-micro-batch and --freeze-base are in
// its fingerprint (ghost clipping's passes decide its dropout seeds, so its bits).
static void test_dp_resume_fingerprint(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 9, N_DOCS, MAX_LEN);
    char *dir = tu_tmpdir();
    aca_train_opts o = dp_opts();
    o.ckpt_dir = dir, o.stop_after = 3;
    aca_model *m = tiny_model(9, 1);
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    toy_model_free(m);
    o.stop_after = 0, o.resume = 1;
    struct {
        aca_train_opts o;
        const char *msg;
    } cases[3] = {{o, "--dp-grad is ghost in the checkpoint but per-example now"},
                  {o, "--dp-micro-batch is 32 in the checkpoint but 3 now"},
                  {o, "--freeze-base is absent in the checkpoint but on now"}};
    cases[0].o.dp_grad = TRAIN_DP_GRAD_PER_EXAMPLE, cases[1].o.dp_micro_batch = 3, cases[2].o.freeze_base = 1;
    for (int k = 0; k < 3; k++) {
        m = tiny_model(9, 1);
        TU_EXPECT_ERR(train_run(m, &d, &cases[k].o, &s, &e), &e, cases[k].msg);
        toy_model_free(m);
    }
    m = tiny_model(9, 1); // the same run resumes
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    assert_int_equal(s.resumed, 1);
    toy_model_free(m);
    tu_rm_rf(dir);
    free(dir);
    dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_clipping_bounds_each_example),
        cmocka_unit_test(test_per_example_sum_is_batched_gradient),
        cmocka_unit_test(test_dp_reduces_to_plain),
        cmocka_unit_test(test_noise_scale),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_epsilon_reported),
        cmocka_unit_test(test_dp_resume_bit_identical),
        cmocka_unit_test(test_freeze_embeddings),
        cmocka_unit_test(test_ghost_norms),
        cmocka_unit_test(test_ghost_update),
        cmocka_unit_test(test_frozen_stay_frozen),
        cmocka_unit_test(test_ghost_norms_top_only),
        cmocka_unit_test(test_dp_resume_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
