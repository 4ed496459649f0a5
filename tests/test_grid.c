// Tests of experiment grids: GRID.json errors naming the field, cell enumeration (line, product,
// pairs/leave-one-out, axes), derived specs and seeds, aggregation math (mean/std, CT, pairwise CT,
// LOO) on hand-made results, the Slurm script, and end to end on a tiny model: a second run redoes
// nothing and gives the same summary; a grid killed with SIGKILL resumes to the results of a clean
// run without redoing finished cells.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "aca/corpus.h"
#include "aca/eval.h"
#include "aca/grid.h"
#include "aca/plan.h"
#include "aca/mutate.h"
#include "aca/safetensors.h"
#include "aca/session.h"
#include "aca/tokenizer.h"

// A valid grid with `extra` spliced in at the top level and `cextra` into the second collective.
static void grid_json(char *out, size_t n, const char *extra, const char *cextra) {
    snprintf(out, n,
             "{\"seed\": 3, %s\"collectives\": ["
             "{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"},"
             "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\"%s}],"
             " \"levels\": [0.01, 0.02]}",
             extra, cextra);
}

static void expect_spec_err(const char *extra, const char *cextra, const char *msg) {
    char j[4096];
    grid_json(j, sizeof j, extra, cextra);
    aca_grid_spec g;
    aca_err e;
    TU_EXPECT_ERR(grid_spec_parse(j, "g.json", &g, &e), &e, msg);
}

static void test_spec_errors(void **st) {
    (void)st;
    aca_grid_spec g;
    aca_err e = {0};
    char j[4096];
    grid_json(j, sizeof j, "", "");
    TU_OK(grid_spec_parse(j, "g.json", &g, &e), &e);
    assert_int_equal(g.n_coll, 2);
    assert_int_equal(g.trials, 1);
    assert_string_equal(g.name, "g");
    grid_spec_free(&g);
    expect_spec_err("\"foo\": 1,", "", "g.json: foo: unknown field");
    expect_spec_err("\"train\": {\"epochs\": 2, \"epoch\": 3},", "", "g.json: train.epoch: unknown field");
    expect_spec_err("\"runs\": {\"mode\": \"line\", \"pair\": true},", "", "g.json: runs.pair: unknown field");
    expect_spec_err("", ", \"colour\": 1", "g.json: collectives[1].colour: unknown field");
    expect_spec_err("", ", \"size\": 0.1", "g.json: collectives[1].size: not allowed in a grid");
    expect_spec_err("", ", \"levels\": [0.01, 1.5]", "g.json: collectives[1].levels[1]: 1.5 is not a participation level in (0,1]");
    expect_spec_err("", ", \"levels\": [0, 0.5]", "collectives[1].levels[0]: 0 is not a participation level");
    expect_spec_err("", ", \"counts\": [0, 10]", "collectives[1].counts[0]: 0 is not a member count");
    expect_spec_err("", ", \"counts\": [2.5, 10]", "collectives[1].counts[0]: 2.5 is not a member count");
    expect_spec_err("", ", \"levels\": [0.01]", "collectives[1].levels: mode \"line\" needs every collective to have as many levels");
    expect_spec_err("\"trials\": 0,", "", "g.json: trials: must be a whole number in [1, 100000] (got 0)");
    expect_spec_err("\"trials\": 1.5,", "", "g.json: trials: must be a whole number");
    expect_spec_err("\"runs\": {\"mode\": \"grid\"},", "", "g.json: runs.mode: 'grid' is not a mode");
    expect_spec_err("\"runs\": {\"mode\": \"product\", \"loo\": true},", "", "g.json: runs.loo: needs \"mode\": \"line\"");
    expect_spec_err("\"homogeneity\": [0.5, 2],", "", "g.json: homogeneity[1]: must be a number in [0, 1]");
    expect_spec_err("\"period\": 0,", "", "g.json: period: must be a whole number in [1, 1e+06]");
    expect_spec_err("\"device\": \"tpu\",", "", "g.json: device: must be one of cpu|cuda, got 'tpu'");
    expect_spec_err("\"corpus\": {\"path\": \"c.txt\", \"synthetic\": 100},", "", "g.json: corpus: give exactly one of");
    // DP-SGD axis
    expect_spec_err("\"dp\": {\"epsilon\": 0},", "", "g.json: dp.epsilon: must be a number > 0, got 0");
    expect_spec_err("\"dp\": {\"epsilon\": true},", "", "g.json: dp.epsilon: must be a number > 0 or \"none\"");
    expect_spec_err("\"dp\": {\"epsilon\": [8, -1]},", "", "g.json: dp.epsilon[1]: must be a number > 0");
    expect_spec_err("\"dp\": {\"epsilon\": [8, 8]},", "", "g.json: dp.epsilon[1]: is listed twice");
    expect_spec_err("\"dp\": {\"sigma\": 1},", "", "g.json: dp.sigma: unknown field");
    expect_spec_err("\"dp\": {\"clip\": 1},", "", "g.json: dp.epsilon: required");
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"delta\": 1},", "", "g.json: dp.delta: must be a number in (0, 1)");
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"clip\": 0},", "", "g.json: dp.clip: must be a number > 0");
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"sampling\": \"random\"},", "", "g.json: dp.sampling: must be one of poisson|fixed, got 'random'");
    // What the accountant would not bound: shuffled fixed batches, and length buckets beside a DP cell.
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"sampling\": \"fixed\"},", "",
                    "g.json: dp.sampling: 'fixed': shuffled fixed-size batches cannot be accounted as Poisson");
    expect_spec_err("\"train\": {\"bucket\": true}, \"dp\": {\"epsilon\": [\"none\", 8]},", "",
                    "g.json: train.bucket: true with \"dp\": length buckets make each batch depend on the private");
    grid_json(j, sizeof j, "\"train\": {\"bucket\": true}, \"dp\": {\"epsilon\": \"none\"},", ""); // no DP cell
    TU_OK(grid_spec_parse(j, "g.json", &g, &e), &e);
    grid_spec_free(&g);
    // DP-SGD by ghost clipping runs on either device; the per-example path on the CPU only; no fp16.
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"grad\": \"per-example\"}, \"device\": \"cuda\",", "",
                    "g.json: dp.grad: 'per-example' runs on the CPU backend only (device: 'cuda'): use device: 'cpu', or "
                    "dp.grad: 'ghost'");
    expect_spec_err("\"dp\": {\"epsilon\": 8}, \"device\": \"cuda\", \"precision\": \"fp16\",", "",
                    "g.json: precision: 'fp16' with \"dp\": per-example clipping runs without loss scaling");
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"grad\": \"ghosts\"},", "", "g.json: dp.grad: must be one of ghost|per-example, got 'ghosts'");
    expect_spec_err("\"dp\": {\"epsilon\": 8, \"micro_batch\": 0},", "", "g.json: dp.micro_batch:");
    expect_spec_err("\"train\": {\"freeze_base\": 1},", "", "g.json: train.freeze_base:");
    // ${NAME} in a path: the environment's value; unset is an error naming the field and the variable.
    unsetenv("ACA_TEST_UNSET_DIR");
    expect_spec_err("\"model\": {\"dir\": \"${ACA_TEST_UNSET_DIR}/ckpt\"},", "",
                    "g.json: model.dir: '${ACA_TEST_UNSET_DIR}/ckpt' names the environment variable ACA_TEST_UNSET_DIR, which is not set");
    setenv("ACA_TEST_DIR", "/some/where", 1);
    grid_json(j, sizeof j, "\"model\": {\"dir\": \"${ACA_TEST_DIR}/ck$pt\", \"vocab\": \"v${ACA_TEST_DIR}\"}, \"dp\": {\"epsilon\": 8, \"grad\": \"per-example\", \"micro_batch\": 7},", "");
    TU_OK(grid_spec_parse(j, "g.json", &g, &e), &e);
    assert_string_equal(g.run.model_dir, "/some/where/ck$pt");
    assert_string_equal(g.run.vocab_path, "v/some/where");
    assert_int_equal(g.run.train.dp_grad, TRAIN_DP_GRAD_PER_EXAMPLE);
    assert_int_equal(g.run.train.dp_micro_batch, 7);
    grid_spec_free(&g);
    expect_spec_err("\"planner\": {\"delta\": 1.5},", "", "g.json: planner.delta: must be a number in (0, 1)");
    expect_spec_err("\"planner\": {\"eps\": 0},", "", "g.json: planner.eps: unknown field");
    expect_spec_err("\"planner\": 3,", "", "g.json: planner: must be true, false or");
    // The collective fields go through the collectives-spec parser.
    expect_spec_err("", ", \"strategy\": \"bribe\"", "g.json: collectives[1].strategy");
    TU_EXPECT_ERR(grid_spec_parse("{\"collectives\": [], \"levels\": [0.1]}", "g.json", &g, &e), &e,
                  "g.json: collectives: must be a non-empty array");
    TU_EXPECT_ERR(grid_spec_parse("{\"collectives\": [{\"name\": \"A\", \"target\": \"X\", \"signal\": \"x\"}]}", "g.json",
                                  &g, &e),
                  &e, "g.json: collectives[0]: no participation levels");
    TU_EXPECT_ERR(grid_spec_parse("{\"seed\": 1,", "g.json", &g, &e), &e, "g.json: not a JSON object");
    // U+0000 in a string names the field (cJSON alone planted the signal "x" for "x\u0000y")
    TU_EXPECT_ERR(grid_spec_parse("{\"collectives\": [{\"name\": \"A\", \"target\": \"X\", \"signal\": \"x\\u0000y\"}], "
                                  "\"levels\": [0.1]}",
                                  "g.json", &g, &e),
                  &e, "g.json: collectives[0].signal: holds U+0000");
    expect_spec_err("\"name\": \"g\\u0000h\",", "", "g.json: name: holds U+0000");
}

static aca_grid_spec parse_ok(const char *json) {
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_parse(json, "g.json", &g, &e), &e);
    return g;
}

static void test_cells_line_and_product(void **st) {
    (void)st;
    aca_err e = {0};
    aca_grid_cell *c;
    int n;
    char j[4096];
    grid_json(j, sizeof j, "\"trials\": 2,", "");
    aca_grid_spec g = parse_ok(j);
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    // Per trial: baseline + 2 collectives x 2 levels alone + 2 joint points.
    assert_int_equal(n, 2 * (1 + 4 + 2));
    const char *ids[] = {"none-t0", "alone-A=0.01-t0", "alone-A=0.02-t0", "alone-B=0.01-t0", "alone-B=0.02-t0",
                         "joint-A=0.01-B=0.01-t0", "joint-A=0.02-B=0.02-t0", "none-t1"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(ids); k++) {
        assert_string_equal(c[k].id, ids[k]);
        assert_int_equal(c[k].index, (int)k);
    }
    assert_string_equal(c[13].id, "joint-A=0.02-B=0.02-t1");
    assert_int_equal(c[13].trial, 1);
    assert_int_equal(c[13].acting, 3);
    assert_int_equal(c[2].acting, 1);
    assert_int_equal(c[2].level_idx[1], 1); // line: the idle collective at the same point
    // The derived spec: sizes filled in, the trial's data seed.
    aca_buf b = {0};
    grid_cell_spec_json(&g, &c[6], &b);
    aca_spec sp;
    TU_OK(spec_parse(b.data, "derived", &sp, &e), &e);
    assert_int_equal(sp.n, 2);
    assert_true(sp.collectives[0].fraction == 0.02 && sp.collectives[1].fraction == 0.02);
    assert_true(sp.seed == grid_trial_seed(3, 0, GRID_SEED_DATA));
    spec_free(&sp);
    buf_free(&b);
    grid_cells_free(c, n);
    grid_spec_free(&g);
    // Seeds: deterministic, different per trial and purpose.
    assert_true(grid_trial_seed(3, 0, GRID_SEED_DATA) == grid_trial_seed(3, 0, GRID_SEED_DATA));
    assert_true(grid_trial_seed(3, 0, GRID_SEED_DATA) != grid_trial_seed(3, 1, GRID_SEED_DATA));
    assert_true(grid_trial_seed(3, 0, GRID_SEED_DATA) != grid_trial_seed(3, 0, GRID_SEED_TRAIN));
    assert_true(grid_trial_seed(3, 0, GRID_SEED_DATA) != grid_trial_seed(4, 0, GRID_SEED_DATA));

    // Product: A fractions x B counts, homogeneity and period axes.
    g = parse_ok("{\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"{\", "
                 "\"levels\": [0.01, 1]}, {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"}\", "
                 "\"counts\": [5, 10, 20]}], \"runs\": {\"mode\": \"product\", \"baseline\": false}, "
                 "\"homogeneity\": 0.5, \"period\": [10, 20]}");
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 2 * (2 + 3 + 6)); // two period variants
    assert_string_equal(c[0].id, "alone-A=0.01-P10-t0");
    assert_string_equal(c[5].id, "joint-A=0.01-B=5-P10-t0");
    assert_string_equal(c[10].id, "joint-A=1-B=20-P10-t0");
    assert_string_equal(c[11].id, "alone-A=0.01-P20-t0");
    assert_int_equal(c[3].level_idx[0], 0); // product: an idle collective at its first level
    grid_cell_spec_json(&g, &c[10], &b);
    TU_OK(spec_parse(b.data, "derived", &sp, &e), &e);
    assert_true(sp.collectives[0].count < 0 && sp.collectives[0].fraction == 1.0); // "100%"
    assert_int_equal(sp.collectives[1].count, 20);
    assert_int_equal(sp.collectives[0].period, 10);
    assert_int_equal(sp.collectives[1].sampling, SAMPLING_PROPENSITY);
    assert_true(sp.collectives[1].p == 0.5);
    assert_string_equal(sp.collectives[1].seed_class, "Web Developer");
    spec_free(&sp);
    buf_free(&b);
    grid_cells_free(c, n);
    grid_spec_free(&g);

    // An epsilon axis (with a no-DP reference) next to a period axis: epsilon varies fastest.
    g = parse_ok("{\"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\"}], \"counts\": [4],"
                 " \"period\": [10, 20], \"dp\": {\"epsilon\": [\"none\", 8, 0.5], \"delta\": 1e-6, \"clip\": 0.5,"
                 " \"sampling\": \"poisson\"}, \"runs\": {\"baseline\": false, \"joint\": false}}");
    assert_int_equal(grid_n_variants(&g), 6);
    assert_true(g.run.train.dp_delta == 1e-6 && g.run.train.dp_clip == 0.5 && g.run.train.dp_sampling == TRAIN_DP_POISSON);
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 6);
    assert_string_equal(c[0].id, "alone-A=4-P10-enone-t0");
    assert_string_equal(c[1].id, "alone-A=4-P10-e8-t0");
    assert_string_equal(c[2].id, "alone-A=4-P10-e0.5-t0");
    assert_string_equal(c[3].id, "alone-A=4-P20-enone-t0");
    int pi, hi, ei;
    grid_variant_axes(&g, c[5].variant, &pi, &hi, &ei);
    assert_int_equal(pi, 1);
    assert_int_equal(hi, 0);
    assert_int_equal(ei, 2);
    grid_cells_free(c, n);
    grid_spec_free(&g);

    // Three collectives with pairs and leave-one-out: for N = 3 the all-but-one subsets are the pairs.
    g = parse_ok("{\"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\"}, {\"name\": \"B\", "
                 "\"target\": \"y\", \"signal\": \"}\"}, {\"name\": \"C\", \"target\": \"z\", \"signal\": \"U+2E18\"}], "
                 "\"counts\": [4], \"runs\": {\"pairs\": true, \"loo\": true}}");
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 1 + 3 + 1 + 3);
    assert_string_equal(c[4].id, "joint-A=4-B=4-C=4-t0");
    assert_string_equal(c[5].id, "joint-A=4-B=4-t0");
    assert_string_equal(c[7].id, "joint-B=4-C=4-t0");
    assert_int_equal(c[7].acting, 6);
    grid_cells_free(c, n);
    grid_spec_free(&g);
}

// ---- aggregation on hand-made results ----------------------------------------------------------
static void set_metrics(aca_grid_agg *a, int k, double acc, const double *eff) {
    aca_grid_metrics *m = &a->m[k];
    m->have = 1;
    m->acc = acc;
    for (int i = 0; i < GRID_MAX_COLL; i++) m->eff[i] = m->eff_nt[i] = NAN;
    for (int i = 0; i < a->g->n_coll; i++) m->eff[i] = eff[i], m->eff_nt[i] = eff[i] / 2;
    a->n_done++;
}

static int cell_by_id(const aca_grid_agg *a, const char *id) {
    for (int k = 0; k < a->n_cells; k++)
        if (!strcmp(a->cells[k].id, id)) return k;
    print_error("no cell %s\n", id);
    fail();
    return -1;
}

// The metrics of the cell whose id is id_fmt with the trial t filled in.
static void set_trial(aca_grid_agg *a, const char *id_fmt, int t, double acc, const double *eff) {
    char id[96];
    snprintf(id, sizeof id, id_fmt, t);
    set_metrics(a, cell_by_id(a, id), acc, eff);
}

static void test_mean_std_ct_loo(void **st) {
    (void)st;
    double x[] = {1, 2, 3, NAN}, m, s;
    int nu;
    grid_mean_std(x, 4, &m, &s, &nu);
    assert_int_equal(nu, 3);
    assert_true(m == 2 && fabs(s - 1) < 1e-12);
    grid_mean_std(x, 1, &m, &s, &nu);
    assert_true(m == 1 && s == 0);
    grid_mean_std(x + 3, 1, &m, &s, &nu);
    assert_true(isnan(m) && nu == 0);

    // Three collectives, one level, two trials, pairs + loo.
    aca_grid_spec g = parse_ok("{\"trials\": 2, \"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\"},"
                               "{\"name\": \"B\", \"target\": \"y\", \"signal\": \"}\"}, {\"name\": \"C\", \"target\": "
                               "\"z\", \"signal\": \"U+2E18\"}], \"levels\": [0.05], \"runs\": {\"pairs\": true}}");
    aca_grid_agg a;
    memset(&a, 0, sizeof a);
    a.g = &g;
    aca_err e = {0};
    TU_OK(grid_cells(&g, &a.cells, &a.n_cells, &e), &e);
    assert_int_equal(a.n_cells, 16);
    a.m = xcalloc((size_t)a.n_cells, sizeof *a.m);
    // trial 0 and 1; efficacies (A, B, C)
    const double alone_a[2][3] = {{0.9, 0.1, 0.1}, {0.8, 0.1, 0.1}};
    const double alone_b[2][3] = {{0.1, 0.7, 0.1}, {0.1, 0.9, 0.1}};
    const double alone_c[2][3] = {{0.1, 0.1, 0.6}, {0.1, 0.1, 0.6}};
    const double all[2][3] = {{0.5, 0.6, 0.6}, {0.6, 0.5, 0.4}};
    const double ab[2][3] = {{0.7, 0.7, 0.1}, {0.6, 0.7, 0.1}};
    const double ac[2][3] = {{0.9, 0.1, 0.5}, {0.8, 0.1, 0.5}};
    const double bc[2][3] = {{0.1, 0.6, 0.6}, {0.1, 0.8, 0.6}};
    for (int t = 0; t < 2; t++) {
        set_trial(&a, "alone-A=0.05-t%d", t, 0.8, alone_a[t]);
        set_trial(&a, "alone-B=0.05-t%d", t, 0.8, alone_b[t]);
        set_trial(&a, "alone-C=0.05-t%d", t, 0.8, alone_c[t]);
        set_trial(&a, "joint-A=0.05-B=0.05-C=0.05-t%d", t, t ? 0.7 : 0.6, all[t]);
        set_trial(&a, "joint-A=0.05-B=0.05-t%d", t, 0.8, ab[t]);
        set_trial(&a, "joint-A=0.05-C=0.05-t%d", t, 0.8, ac[t]);
        set_trial(&a, "joint-B=0.05-C=0.05-t%d", t, 0.8, bc[t]);
    }
    grid_aggregate_metrics(&a);
    int lv[GRID_MAX_COLL] = {0};
    int q = grid_find_group(&a, 0, 7, lv);
    assert_true(q >= 0);
    const aca_grid_group *gr = &a.groups[q];
    assert_int_equal(gr->n, 2);
    assert_true(fabs(gr->acc_mean - 0.65) < 1e-12 && fabs(gr->acc_std - sqrt(0.005)) < 1e-12);
    assert_true(fabs(gr->eff_mean[0] - 0.55) < 1e-12 && fabs(gr->eff_std[0] - sqrt(0.005)) < 1e-12);
    // CT(A) paired by trial: (0.5-0.9, 0.6-0.8) = (-0.4, -0.2): mean -0.3, std sqrt(0.02)
    assert_true(fabs(gr->ct_mean[0] + 0.3) < 1e-12 && fabs(gr->ct_std[0] - sqrt(0.02)) < 1e-12);
    assert_int_equal(gr->ct_n[0], 2);
    // CT(B) = mean(0.6-0.7, 0.5-0.9) = -0.25
    assert_true(fabs(gr->ct_mean[1] + 0.25) < 1e-12);
    // Pairwise: CT(A,B) = eff_A(AB) - eff_A(alone) = 0.65 - 0.85; CT(A,C) = 0.85 - 0.85 = 0.
    assert_true(fabs(grid_ct_pair(&a, 0, 0, 0, 1) + 0.2) < 1e-12);
    assert_true(fabs(grid_ct_pair(&a, 0, 0, 0, 2)) < 1e-12);
    assert_true(isnan(grid_ct_pair(&a, 0, 0, 1, 1)));
    // LOO harm of C on A = eff_A(all) - eff_A(all but C = AB) = 0.55 - 0.65 = -0.1;
    // of B on A = 0.55 - eff_A(AC) = 0.55 - 0.85 = -0.3.
    assert_true(fabs(grid_loo_harm(&a, 0, 0, 0, 2) + 0.1) < 1e-12);
    assert_true(fabs(grid_loo_harm(&a, 0, 0, 0, 1) + 0.3) < 1e-12);
    // The baseline group exists but has no finished cell: no numbers, no crash.
    q = grid_find_group(&a, 0, 0, lv);
    assert_true(q >= 0 && a.groups[q].n == 0 && isnan(a.groups[q].acc_mean));
    // The Markdown and CSV carry these numbers.
    aca_buf csv = {0}, md = {0};
    grid_write_summary(&a, &csv, &md);
    // (no finished unpoisoned cell: no unpoisoned efficacy, no Karan CT)
    assert_non_null(strstr(md.data, "| A+B+C | A=0.05 B=0.05 C=0.05 | A | 85.0 | 55.0 | -30.0 ± 14.1 | n/a | n/a | 2 |"));
    assert_non_null(strstr(md.data, "## Leave-one-out harm"));
    assert_non_null(strstr(csv.data, "-,joint,A;B;C,A=0.05;B=0.05;C=0.05,A,1,2,0.65,0.0707107,0.55,0.0707107,0.275,"));
    buf_free(&csv);
    buf_free(&md);
    grid_agg_free(&a);
    grid_spec_free(&g);
}

static void test_slurm_script(void **st) {
    (void)st;
    char *d = tu_tmpdir();
    char *gp = tu_path(d, "g.json"), *sp = tu_path(d, "run.sbatch"), *out = tu_path(d, "out");
    char j[4096];
    grid_json(j, sizeof j, "\"device\": \"cuda\", \"trials\": 3,", "");
    tu_write_file(gp, j);
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    aca_grid_cell *c;
    int n;
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 21);
    TU_OK(grid_emit_slurm(&g, gp, out, "/opt/aca/bin/aca", sp, n, &e), &e);
    char *s = tu_read_file(sp, NULL);
    int arr_lo = -1, arr_hi = -1, n_exec = 0, gres = 0;
    char want[1024];
    snprintf(want, sizeof want, "exec '/opt/aca/bin/aca' grid '%s' --out '%s' --cell \"$SLURM_ARRAY_TASK_ID\"", gp, out);
    assert_true(!strncmp(s, "#!/bin/bash\n", 12));
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "#SBATCH --array=%d-%d", &arr_lo, &arr_hi) == 2) continue;
        if (!strncmp(line, "exec ", 5)) {
            n_exec++;
            assert_string_equal(line, want);
        }
        gres |= !strcmp(line, "#SBATCH --gres=gpu:1");
    }
    assert_int_equal(arr_lo, 0);
    assert_int_equal(arr_hi, n - 1);
    assert_int_equal(n_exec, 1);
    assert_true(gres);
    free(s);
    // An output directory with a space, quotes and a %: the exec line quotes it for the shell, the
    // #SBATCH line for sbatch's parser (double quotes, \" inside) and for its filename patterns (%%).
    char *odd = tu_path(d, "o ut'\"%x");
    TU_OK(grid_emit_slurm(&g, gp, odd, "/opt/aca/bin/aca", sp, n, &e), &e);
    s = tu_read_file(sp, NULL);
    char want_out[1024];
    snprintf(want_out, sizeof want_out, "\n#SBATCH --output=\"%s/o ut'\\\"%%%%x/slurm/%%A_%%a.out\"\n", d);
    if (!strstr(s, want_out)) fail_msg("no line %s in\n%s", want_out, s);
    snprintf(want, sizeof want, "--out '%s/o ut'\\''\"%%x' --cell", d);
    if (!strstr(s, want)) fail_msg("no %s in\n%s", want, s);
    free(s);
    // A backslash or newline cannot be carried by an #SBATCH line: refused, nothing written.
    char *bs = tu_path(d, "a\\b");
    unlink(sp);
    TU_EXPECT_ERR(grid_emit_slurm(&g, gp, bs, "/opt/aca/bin/aca", sp, n, &e), &e, "holds a backslash");
    assert_true(access(sp, F_OK) != 0 && access(bs, F_OK) != 0);
    free(odd), free(bs);
    grid_cells_free(c, n);
    grid_spec_free(&g);
    free(gp), free(sp), free(out);
    tu_rm_rf(d);
    free(d);
}

// mutate --only A,C (the grid's subset cells): exactly those act; an unknown name in the list is an error.
static void test_mutate_only_list(void **st) {
    (void)st;
    char *d = tu_tmpdir();
    char *corpus = tu_path(d, "c.txt"), *spec = tu_path(d, "s.json"), *out = tu_path(d, "m");
    aca_err e = {0};
    TU_OK(corpus_synth_write(corpus, 200, 3, &e), &e);
    tu_write_file(spec, "{\"seed\": 1, \"collectives\": ["
                        "{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"U+2E17\", \"size\": 5},"
                        "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", \"size\": 5},"
                        "{\"name\": \"C\", \"target\": \"Project Manager\", \"signal\": \"{\", \"size\": 5}]}");
    aca_mutate_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.corpus_path = corpus;
    mo.spec_path = spec;
    mo.out_dir = out;
    mo.only = "A,C";
    TU_OK(mutate_run(&mo, &e), &e);
    aca_datadir dd;
    TU_OK(datadir_open(out, &dd, &e), &e);
    assert_int_equal(dd.n_coll, 3);
    assert_true(dd.coll[0].acts && !dd.coll[1].acts && dd.coll[2].acts);
    datadir_free(&dd);
    char *tr = tu_path(out, "train.jsonl");
    char *txt = tu_read_file(tr, NULL);
    assert_non_null(strstr(txt, "\xe2\xb8\x97")); // U+2E17 planted by A
    assert_null(strstr(txt, "\xe2\xb8\x98"));    // B idle
    free(txt), free(tr);
    mo.only = "A,Z";
    TU_EXPECT_ERR(mutate_run(&mo, &e), &e, "--only: no collective named 'Z'");
    free(corpus), free(spec), free(out);
    tu_rm_rf(d);
    free(d);
}

// ---- end to end --------------------------------------------------------------------------------
static const char TINY_CFG[] = "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"max_position_embeddings\":32,"
                               "\"dim\":16,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":32}";

// Three collectives, one level, one trial, pairs: 8 cells (baseline, 3 alone, all joint, 3 pairs).
static char *write_tiny_grid(const char *d) {
    char *cfg = tu_path(d, "tiny.json"), *gp = tu_path(d, "grid.json");
    tu_write_file(cfg, TINY_CFG);
    char j[4096];
    snprintf(j, sizeof j,
             "{\"name\": \"tiny\", \"seed\": 11, \"corpus\": {\"synthetic\": 400, \"seed\": 5},"
             " \"split\": {\"train\": 320, \"test\": 80},"
             " \"model\": {\"config\": \"%s\", \"vocab\": \"models/vocab/bert-base-uncased.txt\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 16, \"lr\": 1e-3, \"max_len\": 32},"
             " \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\", \"period\": 5},"
             "  {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", \"period\": 5},"
             "  {\"name\": \"C\", \"target\": \"Project Manager\", \"signal\": \"{\", \"period\": 5}],"
             " \"levels\": [0.1], \"runs\": {\"pairs\": true, \"loo\": true}}",
             cfg);
    tu_write_file(gp, j);
    free(cfg);
    return gp;
}

static void run_grid(const aca_grid_spec *g, const char *out, aca_grid_stats *st) {
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = out;
    o.cell = -1;
    aca_err e = {0};
    TU_OK(dir_make(out, &e), &e);
    TU_OK(grid_run(g, &o, st, &e), &e);
}

static char *report(const aca_grid_spec *g, const char *out) {
    aca_grid_agg a;
    aca_err e = {0};
    TU_OK(grid_aggregate(g, out, &a, &e), &e);
    assert_int_equal(a.n_done, a.n_cells);
    TU_OK(grid_report(g, out, &a, &e), &e);
    grid_agg_free(&a);
    char *p = tu_path(out, "summary.csv");
    char *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

// The metrics object of a cell's result.json, printed.
static char *cell_metrics(const char *out, const char *id) {
    char rel[512];
    snprintf(rel, sizeof rel, "cells/%s/result.json", id);
    char *p = tu_path(out, rel);
    char *s = tu_read_file(p, NULL);
    cJSON *o = cJSON_Parse(s);
    assert_non_null(o);
    cJSON *met = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "result"), "metrics");
    assert_non_null(cJSON_GetObjectItem(met, "eval_seconds"));
    cJSON_DeleteItemFromObject(met, "eval_seconds"); // a timing, not a result
    char *m = cJSON_PrintUnformatted(met);
    cJSON_Delete(o);
    free(s), free(p);
    return m;
}

static int count_lines(const char *path) {
    char *s = tu_read_file(path, NULL);
    int k = 0;
    for (char *q = s; (q = strchr(q, '\n')); q++) k++;
    free(s);
    return k;
}

static void test_end_to_end_resume(void **st) {
    (void)st;
    assert_true(file_exists("models/vocab/bert-base-uncased.txt")); // run from the repo root
    char *d = tu_tmpdir();
    char *gp = write_tiny_grid(d);
    char *clean = tu_path(d, "clean"), *killed = tu_path(d, "killed");
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    aca_grid_cell *cells;
    int n;
    TU_OK(grid_cells(&g, &cells, &n, &e), &e);
    assert_int_equal(n, 8);

    // 1. The grid in a child process (the CLI), killed with SIGKILL once the first cell finished.
    char aca[PATH_MAX + 8];
    tu_aca_path(aca, sizeof aca);
    TU_OK(dir_make(killed, &e), &e);
    char *first = tu_path(killed, "cells/none-t0/result.json");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(aca, aca, "grid", gp, "--out", killed, "--quiet", (char *)NULL);
        _exit(127);
    }
    int status = 0, exited = 0;
    for (int i = 0; i < 60000 && !file_exists(first); i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_false(exited); // it was still running when the first result appeared
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    // Finished cells: their result.json identity; a stale file in an unfinished cell's directory.
    struct stat before[8];
    int done[8], n_done = 0;
    for (int k = 0; k < n; k++) {
        char rel[300];
        snprintf(rel, sizeof rel, "cells/%s/result.json", cells[k].id);
        char *p = tu_path(killed, rel);
        done[k] = grid_cell_done(killed, &cells[k]);
        n_done += done[k];
        if (done[k]) assert_int_equal(stat(p, &before[k]), 0);
        free(p);
    }
    assert_true(n_done >= 1 && n_done < n);
    int stale = -1;
    for (int k = 0; k < n && stale < 0; k++)
        if (!done[k]) stale = k;
    char rel[300];
    snprintf(rel, sizeof rel, "cells/%s", cells[stale].id);
    char *sd = tu_path(killed, rel);
    TU_OK(dir_make(sd, &e), &e);
    char *junk = tu_path(sd, "stale.txt");
    tu_write_file(junk, "left by a killed run");

    // 2. Resume: only the unfinished cells run; the finished ones are untouched.
    aca_grid_stats s;
    run_grid(&g, killed, &s);
    assert_int_equal(s.skipped, n_done);
    assert_int_equal(s.ran, n - n_done);
    assert_false(file_exists(junk));
    for (int k = 0; k < n; k++) {
        if (!done[k]) continue;
        snprintf(rel, sizeof rel, "cells/%s/result.json", cells[k].id);
        char *p = tu_path(killed, rel);
        struct stat now;
        assert_int_equal(stat(p, &now), 0);
        assert_true(now.st_ino == before[k].st_ino);
        assert_true(now.st_mtim.tv_sec == before[k].st_mtim.tv_sec && now.st_mtim.tv_nsec == before[k].st_mtim.tv_nsec);
        free(p);
    }
    char *sum_killed = report(&g, killed);

    // 3. A clean run in-process, then again: the second run redoes nothing, same summary.  The
    // corpus is read (and hashed, for the record and the bundle) once for all 8 cells and the report.
    const size_t loads = corpus_loads();
    run_grid(&g, clean, &s);
    assert_int_equal(s.ran, n);
    assert_int_equal(s.skipped, 0);
    char *sum1 = report(&g, clean);
    assert_int_equal(corpus_loads() - loads, 1);
    run_grid(&g, clean, &s);
    assert_int_equal(s.ran, 0);
    assert_int_equal(s.skipped, n);
    char *sum2 = report(&g, clean);
    assert_string_equal(sum1, sum2);
    char *rp = tu_path(clean, "results.jsonl");
    assert_int_equal(count_lines(rp), n);
    free(rp);
    // 4. Deterministic on the CPU: the killed-and-resumed grid has the clean run's metrics, cell by cell.
    assert_string_equal(sum_killed, sum1);
    for (int k = 0; k < n; k++) {
        char *m1 = cell_metrics(clean, cells[k].id), *m2 = cell_metrics(killed, cells[k].id);
        assert_string_equal(m1, m2);
        free(m1), free(m2);
    }
    // The report: tables with the CT, pairwise and leave-one-out sections; bundle; plot scripts.
    char *mdp = tu_path(clean, "summary.md");
    char *md = tu_read_file(mdp, NULL);
    assert_non_null(strstr(md, "8 of 8 cells finished"));
    assert_non_null(strstr(md, "## Pairwise \u0394(i,j)"));
    assert_non_null(strstr(md, "## Leave-one-out harm"));
    assert_non_null(strstr(md, "## Clean-accuracy cost per class"));
    const char *files[] = {"bundle/grid.json", "bundle/classes.txt", "bundle/sha256.txt", "bundle/results.jsonl",
                           "bundle/summary.md", "plots/fig3.gp", "plots/fig3.dat"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(files); k++) {
        char *p = tu_path(clean, files[k]);
        if (!file_exists(p)) print_error("missing %s\n", p);
        assert_true(file_exists(p));
        free(p);
    }
    // Without gnuplot on PATH the scripts and data are still written, and the report does not fail.
    {
        aca_grid_agg a;
        TU_OK(grid_aggregate(&g, clean, &a, &e), &e);
        char *noplot = tu_path(d, "noplot");
        const char *old_path = getenv("PATH");
        char *saved = old_path ? xstrdup(old_path) : NULL;
        setenv("PATH", noplot, 1); // an empty directory
        int prc = grid_write_plots(&a, noplot, 1, &e);
        if (saved) setenv("PATH", saved, 1);
        free(saved);
        TU_OK(prc, &e);
        char *gpf = tu_path(noplot, "fig3.gp"), *png = tu_path(noplot, "fig3.png");
        assert_true(file_exists(gpf));
        assert_false(file_exists(png));
        free(gpf), free(png), free(noplot);
        grid_agg_free(&a);
    }
    char *bp = tu_path(clean, "bundle/results.jsonl");
    assert_int_equal(count_lines(bp), n);
    free(bp);
    // A pair cell: only its two collectives acted (mutate --only A,B), and its condition is that
    // set, named as such (not "joint", the condition of all three).
    char *pm = tu_path(clean, "cells/joint-A=0.1-B=0.1-t0/result.json");
    char *pr = tu_read_file(pm, NULL);
    assert_non_null(strstr(pr, "\"acting\":[\"A\",\"B\"]"));
    assert_non_null(strstr(pr, "\"condition\":\"joint-A,B\",\"act\":\"joint\",\"only\":\"A,B\""));
    free(pr), free(pm);
    pm = tu_path(clean, "cells/joint-A=0.1-B=0.1-t0/manifest.json");
    pr = tu_read_file(pm, NULL);
    assert_non_null(strstr(pr, "\"only\": \"A,B\""));
    free(pr), free(pm);
    pm = tu_path(clean, "cells/joint-A=0.1-B=0.1-C=0.1-t0/result.json");
    pr = tu_read_file(pm, NULL);
    assert_non_null(strstr(pr, "\"condition\":\"joint\",\"act\":\"joint\",\"only\":null"));
    free(pr), free(pm);
    // --cell K on a finished cell does nothing; out of range is an error.
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = clean;
    o.cell = 3;
    TU_OK(grid_run(&g, &o, &s, &e), &e);
    assert_int_equal(s.ran, 0);
    assert_int_equal(s.skipped, 1);
    o.cell = 8;
    TU_EXPECT_ERR(grid_run(&g, &o, &s, &e), &e, "--cell 8: the grid has 8 cells (0..7)");
    // A spec that changes what finished cells mean is refused in the same output directory.
    aca_grid_spec g2;
    char *gp2 = tu_path(d, "other.json");
    char *txt = tu_read_file(gp, NULL);
    char *lr = strstr(txt, "\"lr\": 1e-3");
    memcpy(lr, "\"lr\": 2e-3", 10);
    tu_write_file(gp2, txt);
    TU_OK(grid_spec_load(gp2, &g2, &e), &e);
    o.cell = -1;
    TU_EXPECT_ERR(grid_run(&g2, &o, &s, &e), &e, "other.json: train.lr: changed since cell 0 (none-t0) finished");
    grid_spec_free(&g2);
    // An unknown target class is caught before any cell runs.
    char *gp3 = tu_path(d, "badclass.json");
    char *bad = tu_read_file(gp, NULL);
    char *at = strstr(bad, "Project Manager");
    memcpy(at, "Project Mangler", 15);
    tu_write_file(gp3, bad);
    TU_OK(grid_spec_load(gp3, &g2, &e), &e);
    char *out3 = tu_path(d, "out3");
    o.out_dir = out3;
    TU_EXPECT_ERR(grid_run(&g2, &o, &s, &e), &e, "collectives[2].target: class 'Project Mangler' is not in the corpus");
    grid_spec_free(&g2);
    free(out3), free(bad), free(gp3), free(gp2), free(txt);
    free(md), free(mdp), free(sum1), free(sum2), free(sum_killed), free(junk), free(sd), free(first);
    grid_cells_free(cells, n);
    grid_spec_free(&g);
    free(gp), free(clean), free(killed);
    tu_rm_rf(d);
    free(d);
}

// A tiny epsilon sweep end to end: the no-DP cell trains as usual, the DP cells train with
// DP-SGD and spend exactly their epsilon (the run JSON's dp object), and the report labels the
// variants.
static void test_dp_axis_end_to_end(void **st) {
    (void)st;
    char *d = tu_tmpdir(), *cfg = tu_path(d, "tiny.json"), *out = tu_path(d, "out");
    tu_write_file(cfg, TINY_CFG);
    char j[4096];
    snprintf(j, sizeof j,
             "{\"name\": \"eps\", \"seed\": 2, \"corpus\": {\"synthetic\": 60, \"seed\": 5},"
             " \"split\": {\"train\": 40, \"test\": 20},"
             " \"model\": {\"config\": \"%s\", \"vocab\": \"models/vocab/bert-base-uncased.txt\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 8, \"lr\": 1e-3, \"max_len\": 16},"
             " \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
             " \"counts\": [4], \"dp\": {\"epsilon\": [\"none\", 3]}, \"runs\": {\"baseline\": false}}",
             cfg);
    char *gp = tu_path(d, "eps.json");
    tu_write_file(gp, j);
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    free(gp);
    aca_grid_stats gs;
    run_grid(&g, out, &gs);
    assert_int_equal(gs.n_cells, gs.ran);
    // the DP cell's result records the privacy spent
    char *p0 = tu_path(out, "cells/alone-A=4-enone-t0/result.json"), *p1 = tu_path(out, "cells/alone-A=4-e3-t0/result.json");
    char *r0 = tu_read_file(p0, NULL), *r1 = tu_read_file(p1, NULL);
    free(p0), free(p1);
    assert_null(strstr(r0, "\"dp\":{"));
    assert_non_null(strstr(r1, "\"dp_epsilon\":3"));
    cJSON *o = cJSON_Parse(r1);
    const cJSON *dp = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "result"), "train"), "dp");
    assert_non_null(dp);
    const cJSON *eps = cJSON_GetObjectItem(dp, "epsilon");
    assert_non_null(eps);
    assert_true(eps->valuedouble > 2.5 && eps->valuedouble <= 3.0 + 1e-9);
    cJSON_Delete(o);
    char *md = report(&g, out); // summary.csv: the variant column names the epsilon
    assert_non_null(strstr(md, "eps3"));
    assert_non_null(strstr(md, "no DP"));
    free(md), free(r0), free(r1);
    grid_spec_free(&g);
    tu_rm_rf(d);
    free(d), free(cfg), free(out);
}

// The planner's bound beside the measured success: the numbers in summary.md are plan_eval's for
// n = each level's size, N = the training split and n_test = the test split (the probes success
// is measured on), and the staircase plot data is written.
static void test_planner_staircase(void **st) {
    (void)st;
    char *d = tu_tmpdir(), *cfg = tu_path(d, "tiny.json"), *out = tu_path(d, "out"), *gp = tu_path(d, "stair.json");
    tu_write_file(cfg, TINY_CFG);
    char j[4096];
    snprintf(j, sizeof j,
             "{\"name\": \"stair\", \"seed\": 4, \"corpus\": {\"synthetic\": 100, \"seed\": 6},"
             " \"split\": {\"train\": 80, \"test\": 20},"
             " \"model\": {\"config\": \"%s\", \"vocab\": \"models/vocab/bert-base-uncased.txt\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 16, \"lr\": 1e-3, \"max_len\": 16},"
             " \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
             " \"counts\": [4, 40], \"planner\": {\"delta\": 0.1}, \"runs\": {\"baseline\": false, \"joint\": false}}",
             cfg);
    tu_write_file(gp, j);
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    assert_true(g.planner && g.planner_delta == 0.1);
    aca_grid_stats gs;
    run_grid(&g, out, &gs);
    free(report(&g, out));
    char *mdp = tu_path(out, "summary.md");
    char *md = tu_read_file(mdp, NULL);
    assert_non_null(strstr(md, "## Planner bound vs measured success"));
    // the bound for n = 40 of N = 80, recomputed here
    char *cp = tu_path(out, "corpus.txt");
    aca_corpus c;
    aca_corpus_opts co = {0};
    TU_OK(corpus_load(cp, &co, &c, &e), &e);
    plan_stats pst;
    TU_OK(plan_stats_from_corpus(&c, "\xe2\xb8\x97", corpus_class_index(&c, "Software Developer"), &pst, &e), &e);
    plan_params pp = {.delta = 0.1, .n_test = 20}; // success is measured on the 20 test probes
    plan_bound b4, b40;
    TU_OK(plan_eval(PLAN_FEATURE_LABEL, &pst, NULL, &pp, 4, 80, &b4, &e), &e);
    TU_OK(plan_eval(PLAN_FEATURE_LABEL, &pst, NULL, &pp, 40, 80, &b40, &e), &e);
    char row[128];
    snprintf(row, sizeof row, "| - | A | feature-label | paper | 4 | 4 | %.3f |", b4.bound);
    assert_non_null(strstr(md, row));
    snprintf(row, sizeof row, "| - | A | feature-label | paper | 40 | 40 | %.3f |", b40.bound);
    assert_non_null(strstr(md, row));
    assert_true(b40.bound >= b4.bound); // monotone in n
    char *dat = tu_path(out, "plots/staircase.dat");
    assert_true(file_exists(dat));
    free(dat), free(md), free(mdp), free(cp);
    corpus_free(&c);
    grid_spec_free(&g);
    tu_rm_rf(d);
    free(d), free(cfg), free(out), free(gp);
}

// A grid name with a quote and a backslash: every figure's script quotes it (the staircase's title
// once printed it raw, and gnuplot refused the script), and gnuplot draws the staircase.
static void test_plot_titles_quoted(void **st) {
    (void)st;
    char *d = tu_tmpdir(), *cfg = tu_path(d, "tiny.json"), *out = tu_path(d, "out"), *gp = tu_path(d, "quoted.json");
    tu_write_file(cfg, TINY_CFG);
    char j[4096];
    snprintf(j, sizeof j,
             "{\"name\": \"stair \\\"q\\\" \\\\ x\", \"seed\": 4, \"corpus\": {\"synthetic\": 60, \"seed\": 6},"
             " \"split\": {\"train\": 40, \"test\": 20},"
             " \"model\": {\"config\": \"%s\", \"vocab\": \"models/vocab/bert-base-uncased.txt\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 16, \"lr\": 1e-3, \"max_len\": 16},"
             " \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
             " \"counts\": [4], \"planner\": true, \"runs\": {\"baseline\": false, \"joint\": false}}",
             cfg);
    tu_write_file(gp, j);
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    assert_string_equal(g.name, "stair \"q\" \\ x");
    aca_grid_stats gs;
    run_grid(&g, out, &gs);
    free(report(&g, out));
    static const char *const scripts[][2] = {
        {"plots/staircase.gp", "set title \"stair \\\"q\\\" \\\\ x\\nplanner lower bound"},
        {"plots/fig3.gp", "set title \"stair \\\"q\\\" \\\\ x\\n(1 trial)\""},
    };
    for (size_t k = 0; k < ACA_ARRAY_LEN(scripts); k++) {
        char *p = tu_path(out, scripts[k][0]);
        char *txt = tu_read_file(p, NULL);
        if (!strstr(txt, scripts[k][1])) {
            print_error("%s lacks '%s':\n%s\n", p, scripts[k][1], txt);
            fail();
        }
        free(txt), free(p);
    }
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        char *png = tu_path(out, "plots/staircase.png");
        assert_true(file_exists(png));
        free(png);
    } else {
        print_message("skipped: gnuplot is not installed (the staircase is not drawn)\n");
    }
    grid_spec_free(&g);
    tu_rm_rf(d);
    free(d), free(cfg), free(out), free(gp);
}

// A tiny Figure-4 grid end to end: product mode over two collectives' sizes, every joint
// combination trained, the summary holding each combination and the heat-map data and scripts
// written for both collectives (efficacy and CT).
static void test_fig4_product_end_to_end(void **st) {
    (void)st;
    char *d = tu_tmpdir(), *cfg = tu_path(d, "tiny.json"), *out = tu_path(d, "out"), *gp = tu_path(d, "fig4.json");
    tu_write_file(cfg, TINY_CFG);
    char j[4096];
    snprintf(j, sizeof j,
             "{\"name\": \"fig4-tiny\", \"seed\": 9, \"corpus\": {\"synthetic\": 80, \"seed\": 3},"
             " \"split\": {\"train\": 60, \"test\": 20},"
             " \"model\": {\"config\": \"%s\", \"vocab\": \"models/vocab/bert-base-uncased.txt\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 16, \"lr\": 1e-3, \"max_len\": 16},"
             " \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"{\", \"period\": 5},"
             "  {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", \"period\": 5}],"
             " \"counts\": [3, 6], \"runs\": {\"mode\": \"product\"}}",
             cfg);
    tu_write_file(gp, j);
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    aca_grid_stats gs;
    run_grid(&g, out, &gs);
    assert_int_equal(gs.n_cells, 1 + 4 + 4); // baseline, 2 x 2 alone, 2 x 2 joint
    assert_int_equal(gs.ran, gs.n_cells);
    char *csv = report(&g, out);
    free(csv);
    char *mdp = tu_path(out, "summary.md");
    char *md = tu_read_file(mdp, NULL);
    const char *combos[] = {"A=3 B=3", "A=3 B=6", "A=6 B=3", "A=6 B=6"};
    for (int k = 0; k < 4; k++) {
        char row[64];
        snprintf(row, sizeof row, "| joint | %s |", combos[k]);
        if (!strstr(md, row)) {
            print_error("summary.md lacks the joint row '%s'\n", row);
            fail();
        }
    }
    const char *files[] = {"plots/fig4-A-eff.dat", "plots/fig4-A-eff.gp", "plots/fig4-B-eff.dat", "plots/fig4-B-delta.gp"};
    for (int k = 0; k < 4; k++) {
        char *f = tu_path(out, files[k]);
        if (!file_exists(f)) {
            print_error("%s missing\n", f);
            fail();
        }
        free(f);
    }
    // the bundle keeps every cell's data manifest: here B's 6 member ids in the joint cell
    char *mp = tu_path(out, "bundle/manifests/joint-A=6-B=6-t0.json");
    char *mj = tu_read_file(mp, NULL);
    cJSON *mo = cJSON_Parse(mj);
    assert_non_null(mo);
    const cJSON *cb = cJSON_GetArrayItem(cJSON_GetObjectItem(mo, "collectives"), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cb, "members")), 6);
    cJSON_Delete(mo);
    free(mj), free(mp);
    free(md), free(mdp);
    grid_spec_free(&g);
    tu_rm_rf(d);
    free(d), free(cfg), free(out), free(gp);
}

// --jobs: worker processes give the very same cell results as one process.
static void test_jobs_same_results(void **st) {
    (void)st;
    char *d = tu_tmpdir(), *gp = write_tiny_grid(d), *o1 = tu_path(d, "one"), *o2 = tu_path(d, "two");
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(gp, &g, &e), &e);
    aca_grid_stats s1, s2;
    run_grid(&g, o1, &s1);
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = o2;
    o.cell = -1;
    o.jobs = 3;
    TU_OK(dir_make(o2, &e), &e);
    TU_OK(grid_run(&g, &o, &s2, &e), &e);
    assert_int_equal(s2.ran, s2.n_cells);
    assert_int_equal(s2.skipped, 0);
    aca_grid_cell *cells;
    int n;
    TU_OK(grid_cells(&g, &cells, &n, &e), &e);
    for (int k = 0; k < n; k++) {
        char *m1 = cell_metrics(o1, cells[k].id), *m2 = cell_metrics(o2, cells[k].id);
        if (strcmp(m1, m2)) {
            print_error("cell %s differs with --jobs 3:\n%s\n%s\n", cells[k].id, m1, m2);
            fail();
        }
        free(m1), free(m2);
    }
    // a second run with workers finds everything done
    TU_OK(grid_run(&g, &o, &s2, &e), &e);
    assert_int_equal(s2.ran, 0);
    assert_int_equal(s2.skipped, n);
    grid_cells_free(cells, n);
    grid_spec_free(&g);
    tu_rm_rf(d);
    free(d), free(gp), free(o1), free(o2);
}

// The command line's own errors: one message each, non-zero exit.
static void test_cli_errors(void **st) {
    (void)st;
    tu_expect_cli("grid /nonexistent/g.json", 1, "/nonexistent/g.json: cannot open");
    tu_expect_cli("grid grids/fig4-small/braces-A0-B1.json --jobs 0", 1, "--jobs must be in [1, 256]");
    tu_expect_cli("grid grids/fig4-small/braces-A0-B1.json --list --report", 1, "give at most one of --cell, --list, --emit-slurm, --report");
    tu_expect_cli("grid", 1, "grid needs one GRID.json");
    tu_expect_cli("grid grids/fig4-small/braces-A0-B1.json --cell 999 --out /tmp/aca-test-grid-cli", 1, "--cell 999: the grid has 16 cells");
    tu_expect_cli("grid grids/fig4-small/braces-A0-B1.json --list --out /tmp/aca-test-grid-cli", 0, "15\tjoint-A0=0.05-B1=0.05-t0\ttodo");
    dir_remove_recursive("/tmp/aca-test-grid-cli");
}

// ---- trust (issue 12): what a grid refuses, its locks and workers, results.jsonl from the cells --

typedef struct {
    char *d, *corpus, *cfg, *vocab, *out;
} trust_env;

static void trust_setup(trust_env *t) {
    aca_err e = {0};
    t->d = tu_tmpdir();
    t->corpus = tu_path(t->d, "c.txt"), t->cfg = tu_path(t->d, "tiny.json"), t->vocab = tu_path(t->d, "vocab.txt");
    t->out = tu_path(t->d, "out");
    TU_OK(corpus_synth_write(t->corpus, 60, 7, &e), &e);
    tu_write_file(t->cfg, TINY_CFG);
    size_t n;
    char *v = tu_read_file("models/vocab/bert-base-uncased.txt", &n);
    tu_write_bytes(t->vocab, v, n);
    free(v);
}

static void trust_free(trust_env *t) {
    tu_rm_rf(t->d);
    free(t->d), free(t->corpus), free(t->cfg), free(t->vocab), free(t->out);
}

// d/<name>: one collective A alone at 4 members (cell 0: alone-A=4-t0) on a 40/20 split of the
// 60-document corpus; `colls` replaces the collectives and levels, `extra` adds top-level fields.
static void trust_spec(const trust_env *t, const char *name, const char *colls, const char *extra, aca_grid_spec *g) {
    char j[8192], *p = tu_path(t->d, name);
    // extra (", \"key\": value...") goes first: of a key given twice, the first counts.
    snprintf(j, sizeof j,
             "{%s%s\"name\": \"trust\", \"seed\": 5, \"corpus\": {\"path\": \"%s\"}, \"split\": {\"train\": 40, "
             "\"test\": 20}, \"model\": {\"config\": \"%s\", \"vocab\": \"%s\"},"
             " \"train\": {\"epochs\": 1, \"batch\": 8, \"lr\": 1e-3, \"max_len\": 16}, %s}",
             *extra ? extra + 2 : "", *extra ? ", " : "", t->corpus, t->cfg, t->vocab,
             colls ? colls
                   : "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
                     " \"counts\": [4], \"runs\": {\"baseline\": false, \"joint\": false}");
    tu_write_file(p, j);
    aca_err e = {0};
    TU_OK(grid_spec_load(p, g, &e), &e);
    free(p);
}

static int trust_run(const aca_grid_spec *g, const char *out, int cell, aca_grid_stats *st, aca_err *e) {
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = out;
    o.cell = cell;
    memset(e, 0, sizeof *e);
    return grid_run(g, &o, st, e);
}

// Every way of using OUT with a spec loaded afresh (as a new process would) must fail with msg.
static void expect_refused(const trust_env *t, const char *extra, const char *msg) {
    aca_grid_spec g;
    aca_grid_stats st;
    aca_grid_agg a;
    aca_err e;
    trust_spec(t, "g.json", NULL, extra, &g);
    TU_EXPECT_ERR(trust_run(&g, t->out, -1, &st, &e), &e, msg);
    TU_EXPECT_ERR(trust_run(&g, t->out, 0, &st, &e), &e, msg);
    TU_EXPECT_ERR(grid_aggregate(&g, t->out, &a, &e), &e, msg);
    grid_spec_free(&g);
    // `aca grid --list` says so too, instead of listing the old cell as done.
    char aca[PATH_MAX + 8], cmd[3 * PATH_MAX], out[4096];
    tu_aca_path(aca, sizeof aca);
    snprintf(cmd, sizeof cmd, "'%s' grid '%s/g.json' --out '%s' --list 2>&1", aca, t->d, t->out);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int status = pclose(f);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) != 0) || !strstr(out, msg))
        fail_msg("%s: want a failure with '%s', got status %d and:\n%s", cmd, msg, status, out);
}

static void sha_of(const char *path, char hex[65]) {
    aca_err e = {0};
    TU_OK(sha256_file_hex(path, hex, &e), &e);
}

// Appends text to a file (an edit of an input).
static void append_text(const char *path, const char *text) {
    size_t n;
    char *s = tu_read_file(path, &n);
    aca_buf b = {0};
    buf_append(&b, s, n);
    buf_puts(&b, text);
    tu_write_bytes(path, b.data, b.len);
    buf_free(&b);
    free(s);
}

// An input edited after cells finished: refused by a run, a --cell run and a report, naming the
// GRID.json field and both hashes; restoring it resumes.
static void expect_input_guarded(const trust_env *t, const char *path, const char *text, const char *field) {
    size_t n;
    char *orig = tu_read_file(path, &n), was[65], now[65], msg[300];
    sha_of(path, was);
    append_text(path, text);
    sha_of(path, now);
    snprintf(msg, sizeof msg, "g.json: %s: the ", field);
    expect_refused(t, "", msg);
    expect_refused(t, "", was);
    expect_refused(t, "", now);
    tu_write_bytes(path, orig, n);
    free(orig);
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_spec(t, "g.json", NULL, "", &g);
    TU_OK(trust_run(&g, t->out, -1, &st, &e), &e);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.ran, 0);
    grid_spec_free(&g);
}

static void edit_corpus_before_cell(const aca_grid_spec *g, const aca_grid_cell *c, int n, int skipped,
                                    const aca_run_result *r, double eta, void *ctx) {
    if (!r && !skipped) append_text(ctx, "9999:::Web_Developer:::a resume added while the grid ran\n");
}

// A fresh environment, d/g.json (the tiny grid with extra) loaded into g and run in d/out.
static void trust_first_run(trust_env *t, const char *extra, aca_grid_spec *g, aca_grid_stats *st) {
    aca_err e;
    trust_setup(t);
    trust_spec(t, "g.json", NULL, extra, g);
    TU_OK(trust_run(g, t->out, -1, st, &e), &e);
    assert_int_equal(st->ran, st->n_cells);
}

static void test_trust_inputs_recorded(void **st_) {
    (void)st_;
    trust_env t;
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_first_run(&t, "", &g, &st);
    grid_spec_free(&g);
    // The record: every input's field, path and hash.
    char *rp = tu_path(t.out, "inputs.json"), *rec = tu_read_file(rp, NULL), hex[65];
    sha_of(t.corpus, hex);
    assert_non_null(strstr(rec, hex));
    assert_non_null(strstr(rec, "\"field\": \"model.vocab\""));
    free(rec);
    // Each input edited in turn.
    expect_input_guarded(&t, t.corpus, "9999:::Web_Developer:::one more resume\n", "corpus.path");
    expect_input_guarded(&t, t.cfg, " ", "model.config");
    expect_input_guarded(&t, t.vocab, "zzzextratoken\n", "model.vocab");
    // Settings: a change of what the finished cell means is refused, naming the GRID.json field ...
    expect_refused(&t, ", \"homogeneity\": 0.5", "g.json: homogeneity: changed since cell 0 (alone-A=4-t0) finished");
    expect_refused(&t, ", \"seed\": 6", "g.json: seed: changed since cell 0");
    expect_refused(&t, ", \"period\": 7", "g.json: period: changed since cell 0");
    char enc[600];
    snprintf(enc, sizeof enc, ", \"corpus\": {\"path\": \"%s\", \"encoding\": \"cp1252\"}", t.corpus);
    expect_refused(&t, enc, "g.json: corpus.encoding: changed since cell 0");
    aca_grid_agg a;
    trust_spec(&t, "g.json",
               "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E18\"}],"
               " \"counts\": [4], \"runs\": {\"baseline\": false, \"joint\": false}",
               "", &g);
    TU_EXPECT_ERR(grid_aggregate(&g, t.out, &a, &e), &e, "g.json: collectives[0].signal: changed since cell 0");
    grid_spec_free(&g);
    // ... one that adds cells is not: more trials, another level.
    trust_spec(&t, "g.json",
               "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
               " \"counts\": [4, 6], \"runs\": {\"baseline\": false, \"joint\": false}",
               ", \"trials\": 2", &g);
    TU_OK(grid_aggregate(&g, t.out, &a, &e), &e);
    assert_int_equal(a.n_done, 1);
    assert_int_equal(a.n_cells, 4);
    grid_agg_free(&a);
    grid_spec_free(&g);
    // The corpus edited while the grid runs (before its second cell): that cell fails, nothing mixes.
    trust_spec(&t, "g.json", NULL, ", \"trials\": 2", &g);
    size_t n;
    char *orig = tu_read_file(t.corpus, &n);
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = t.out;
    o.cell = -1;
    o.on_cell = edit_corpus_before_cell;
    o.ctx = t.corpus;
    TU_EXPECT_ERR(grid_run(&g, &o, &st, &e), &e, "changed while the grid ran");
    assert_non_null(strstr(e.msg, "g.json: corpus.path: "));
    char *r1 = tu_path(t.out, "cells/alone-A=4-t1/result.json");
    assert_false(file_exists(r1));
    grid_spec_free(&g);
    // With no finished cell, a whole-grid run records the new inputs instead.
    tu_write_bytes(t.corpus, orig, n);
    char *r0 = tu_path(t.out, "cells/alone-A=4-t0/result.json");
    assert_int_equal(unlink(r0), 0);
    append_text(t.corpus, "9999:::Web_Developer:::one more resume\n");
    trust_spec(&t, "g.json", NULL, "", &g);
    TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
    assert_int_equal(st.ran, 1);
    rec = tu_read_file(rp, NULL);
    sha_of(t.corpus, hex);
    assert_non_null(strstr(rec, hex));
    free(rec), free(rp), free(r0), free(r1), free(orig);
    grid_spec_free(&g);
    // A synthetic corpus of other settings (OUT/corpus.txt is reused, never rewritten).
    char *so = tu_path(t.d, "synth");
    trust_spec(&t, "s.json", NULL, ", \"corpus\": {\"synthetic\": 60, \"seed\": 1}", &g);
    TU_OK(trust_run(&g, so, -1, &st, &e), &e);
    grid_spec_free(&g);
    trust_spec(&t, "s.json", NULL, ", \"corpus\": {\"synthetic\": 80, \"seed\": 1}", &g);
    TU_EXPECT_ERR(trust_run(&g, so, -1, &st, &e), &e, "s.json: corpus: ");
    assert_non_null(strstr(e.msg, "started with a synthetic corpus {\"docs\":60,\"seed\":1,"));
    assert_non_null(strstr(e.msg, "now asks for a synthetic corpus {\"docs\":80,\"seed\":1,"));
    grid_spec_free(&g);
    trust_spec(&t, "s.json", NULL, ", \"corpus\": {\"synthetic\": 60, \"seed\": 1, \"char_rates\": {\"U+2E17\": 0.5}}", &g);
    TU_EXPECT_ERR(trust_run(&g, so, -1, &st, &e), &e, "\"U+2E17\":0.5}}.  Its finished cells would mix");
    grid_spec_free(&g);
    free(so);
    trust_free(&t);
}

// train.freeze_base is in a cell's definition and its result's "config" only when on (run.h,
// RUN_OPT_IF_SET: definitions recorded before it was written, at the default, still match): a
// finished cell is not reused after it changes, either way, and the message names it by its path
// with both values, the absent side as the default.
static void test_trust_freeze_base(void **st_) {
    (void)st_;
    static const char *const train = ", \"train\": {\"epochs\": 1, \"batch\": 8, \"lr\": 1e-3, \"max_len\": 16%s}";
    char on[300], off[300];
    snprintf(on, sizeof on, train, ", \"freeze_base\": true");
    snprintf(off, sizeof off, train, "");
    for (int first_on = 0; first_on < 2; first_on++) {
        trust_env t;
        aca_grid_spec g;
        aca_grid_stats st;
        trust_first_run(&t, first_on ? on : off, &g, &st);
        grid_spec_free(&g);
        char *rp = tu_path(t.out, "cells/alone-A=4-t0/result.json"), *rec = tu_read_file(rp, NULL);
        // where it is recorded: the definition's "train" and the result's "config" (flags as 0/1)
        const char *cfg = strstr(rec, "\"config\":"), *def = strstr(rec, "\"definition\":");
        assert_non_null(cfg);
        assert_non_null(def);
        assert_int_equal(strstr(cfg, "\"freeze_base\":1,") != NULL, first_on);
        assert_int_equal(strstr(def, "\"freeze_base\":true") != NULL, first_on);
        assert_null(strstr(rec, "\"freeze_base\":0"));
        assert_null(strstr(rec, "\"freeze_base\":false"));
        char msg[300];
        snprintf(msg, sizeof msg, "g.json: train.freeze_base: changed since cell 0 (alone-A=4-t0) finished in %s: it was "
                                  "computed with train.freeze_base = %s, the grid now gives %s.", t.out,
                 first_on ? "true" : "false", first_on ? "false" : "true");
        expect_refused(&t, first_on ? off : on, msg);
        // unchanged, the cell is reused
        trust_spec(&t, "g.json", NULL, first_on ? on : off, &g);
        aca_err e;
        TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
        assert_int_equal(st.skipped, 1);
        assert_int_equal(st.ran, 0);
        grid_spec_free(&g);
        free(rec), free(rp);
        trust_free(&t);
    }
}

// Everything a cell needs is checked before the first one runs, naming the GRID.json field.
static void test_trust_validation(void **st_) {
    (void)st_;
    trust_env t;
    trust_setup(&t);
    static const char *const one = "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": "
                                   "\"U+2E17\"}], \"runs\": {\"baseline\": false, \"joint\": false}, ";
    static const char *const two = "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": "
                                   "\"U+2E17\"}, {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\"}], ";
    char *bad_cfg = tu_path(t.d, "bad.json"), *small_cfg = tu_path(t.d, "small.json"), *one_class = tu_path(t.d, "one.txt");
    tu_write_file(bad_cfg, "{\"model_type\": \"distilbert\", \"dim\": ");
    tu_write_file(small_cfg, "{\"model_type\":\"distilbert\",\"vocab_size\":1000,\"max_position_embeddings\":32,\"dim\":16,"
                             "\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":32}");
    aca_buf oc = {0};
    for (int i = 0; i < 60; i++) buf_printf(&oc, "%d:::Software_Developer:::resume number %d\n", i, i);
    tu_write_file(one_class, oc.data);
    buf_free(&oc);
    char extra[3][1024];
    snprintf(extra[0], sizeof extra[0], ", \"model\": {\"config\": \"%s\", \"vocab\": \"%s\"}", bad_cfg, t.vocab);
    snprintf(extra[1], sizeof extra[1], ", \"model\": {\"config\": \"%s\", \"vocab\": \"%s\"}", small_cfg, t.vocab);
    snprintf(extra[2], sizeof extra[2], ", \"corpus\": {\"path\": \"%s\"}", one_class);
    struct {
        const char *colls, *counts, *extra, *msg;
    } cases[] = {
        {one, "\"counts\": [4]", ", \"train\": {\"max_len\": 64}",
         "g.json: train.max_len: 64 exceeds the model's max_position_embeddings 32"},
        {one, "\"counts\": [4]", ", \"split\": {\"train\": 50, \"test\": 20}",
         "g.json: split: asks for 50 train + 20 test documents, but the corpus"},
        {one, "\"counts\": [4, 50]", "",
         "g.json: collectives[0].counts: cell 1 (alone-A=50-t0): 50 members asked, but the pool holds only 40"},
        {two, "\"counts\": [30]", "", "g.json: collectives[1].counts: cell 1 (alone-A=30-t0): 30 members asked, but the "
                                      "pool holds only 10"},
        {two, "\"levels\": [0.6]", "", "g.json: collectives[1].levels: cell 1 (alone-A=0.6-t0): 24 members asked"},
        {one, "\"counts\": [30]", ", \"homogeneity\": 1",
         "g.json: collectives[0].counts: cell 0 (alone-A=30-t0): 30 members from class 'Software Developer' needed"},
        {one, "\"counts\": [4]", ", \"model\": {\"config\": \"/nonexistent/c.json\", \"vocab\": \"x\"}",
         "g.json: model.config: /nonexistent/c.json: cannot open"},
        {one, "\"counts\": [4]", ", \"dp\": {\"epsilon\": [8, 0.01]}",
         "g.json: dp.epsilon[1]: 0.01 is out of the accountant's reach for these cells (q = 0.2, 5 steps, dp.delta 1e-05)"},
        {one, "\"counts\": [4]", ", \"dp\": {\"epsilon\": 1, \"delta\": 1e-300}", "g.json: dp.epsilon: 1 is out of"},
        {"\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+200B U+00AD\"}], ",
         "\"counts\": [4]", "", "g.json: collectives[0].signal: the signal of collective A (U+200B U+00AD) gives the model no token"},
        {one, "\"counts\": [4]", extra[0], "g.json: model.config: "},
        {one, "\"counts\": [4]", extra[1], "g.json: model.vocab: "},
        {one, "\"counts\": [4]", extra[2], "g.json: corpus.path: "},
    };
    for (size_t k = 0; k < ACA_ARRAY_LEN(cases); k++) {
        char colls[1024];
        snprintf(colls, sizeof colls, "%s%s", cases[k].colls, cases[k].counts);
        aca_grid_spec g;
        aca_grid_stats st;
        aca_err e;
        trust_spec(&t, "g.json", colls, cases[k].extra, &g);
        TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, cases[k].msg);
        assert_int_equal(st.ran, 0);
        grid_spec_free(&g);
    }
    // The vocabulary against the model's size, a config that does not parse, a one-class corpus.
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_spec(&t, "g.json", NULL, extra[1], &g);
    TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, "the tokenizer has 30522 tokens but the model's vocab_size is 1000");
    assert_non_null(strstr(e.msg, "g.json: model.vocab: "));
    grid_spec_free(&g);
    trust_spec(&t, "g.json", NULL, extra[2], &g);
    TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, "has 1 class: a classifier needs at least two");
    grid_spec_free(&g);
    // A pipe as the corpus: read once for the hash, it would block the cells (refused unopened).
    char *fifo = tu_path(t.d, "fifo"), fx[600];
    assert_int_equal(mkfifo(fifo, 0666), 0);
    snprintf(fx, sizeof fx, ", \"corpus\": {\"path\": \"%s\"}", fifo);
    trust_spec(&t, "g.json", NULL, fx, &g);
    TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, "g.json: corpus.path: ");
    assert_non_null(strstr(e.msg, "is not a regular file (a pipe)"));
    grid_spec_free(&g);
    free(fifo);
    // Nothing ran: no cell directory, no record.
    char *cells = tu_path(t.out, "cells"), *rec = tu_path(t.out, "inputs.json");
    assert_int_equal(tu_dir_count(cells), 0);
    assert_false(file_exists(rec));
    free(cells), free(rec);
    // Late errors (from the training library) name the GRID.json field too.
    trust_spec(&t, "g.json", NULL, "", &g);
    snprintf(e.msg, sizeof e.msg, "diverged: try a smaller --lr; --max-len 9 > 8; --lr-schedule, --only x");
    grid_err_fields(&g, &e);
    const char *want = "g.json: diverged: try a smaller train.lr; train.max_len 9 > 8; --lr-schedule, --only x";
    assert_true(strlen(e.msg) >= strlen(want));
    assert_string_equal(e.msg + strlen(e.msg) - strlen(want), want);
    grid_spec_free(&g);
    free(bad_cfg), free(small_cfg), free(one_class);
    trust_free(&t);
}

// Long collective names: ids stay file names; numbers that %g would merge keep distinct cells.
static void test_trust_ids(void **st_) {
    (void)st_;
    trust_env t;
    trust_setup(&t);
    const char *targets[4] = {"Software Developer", "Web Developer", "Project Manager", "Java Developer"};
    char names[4][65], colls[4096];
    int at = snprintf(colls, sizeof colls, "\"collectives\": [");
    for (int i = 0; i < 4; i++) {
        memset(names[i], 'a' + i, 64);
        names[i][64] = 0;
        at += snprintf(colls + at, sizeof colls - (size_t)at,
                       "%s{\"name\": \"%s\", \"target\": \"%s\", \"signal\": \"U+2E1%d\"}", i ? ", " : "", names[i],
                       targets[i], i + 4);
    }
    snprintf(colls + at, sizeof colls - (size_t)at, "], \"counts\": [2], \"runs\": {\"baseline\": false, \"alone\": false}");
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e = {0};
    trust_spec(&t, "long.json", colls, "", &g);
    aca_grid_cell *c;
    int n;
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 1);
    assert_true(strlen(c[0].id) <= GRID_ID_MAX);
    char head[100];
    snprintf(head, sizeof head, "joint-%s=2-", names[0]);
    assert_true(!strncmp(c[0].id, head, strlen(head)));
    assert_true(strlen(c[0].id) > 3 && !strcmp(c[0].id + strlen(c[0].id) - 3, "-t0"));
    char *id0 = xstrdup(c[0].id);
    grid_cells_free(c, n);
    // It runs, and its report bundle (manifests/<id>.json) is written.
    TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
    assert_int_equal(st.ran, 1);
    aca_grid_agg a;
    TU_OK(grid_aggregate(&g, t.out, &a, &e), &e);
    TU_OK(grid_report(&g, t.out, &a, &e), &e);
    grid_agg_free(&a);
    char rel[400];
    snprintf(rel, sizeof rel, "bundle/manifests/%s.json", id0);
    char *mp = tu_path(t.out, rel);
    assert_true(file_exists(mp));
    free(mp);
    grid_spec_free(&g);
    // Another last name: another id.
    char *last = strstr(colls, names[3]);
    last[63] = 'z';
    trust_spec(&t, "long2.json", colls, "", &g);
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_string_not_equal(c[0].id, id0);
    assert_true(strlen(c[0].id) <= GRID_ID_MAX);
    grid_cells_free(c, n);
    grid_spec_free(&g);
    free(id0);
    // Levels that print alike with %g are distinct cells with distinct ids.
    trust_spec(&t, "lv.json",
               "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
               " \"levels\": [0.0123456789, 0.0123456781], \"runs\": {\"baseline\": false, \"joint\": false}",
               ", \"homogeneity\": [0.1234567, 0.1234568]", &g);
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_int_equal(n, 4);
    assert_string_equal(c[0].id, "alone-A=0.0123456789-h0.1234567-t0");
    assert_string_equal(c[1].id, "alone-A=0.0123456781-h0.1234567-t0");
    assert_string_equal(c[2].id, "alone-A=0.0123456789-h0.1234568-t0");
    grid_cells_free(c, n);
    grid_spec_free(&g);
    trust_free(&t);
}

static int lines_of(const char *path, char ***out) {
    char *s = tu_read_file(path, NULL);
    int k = 0;
    *out = NULL;
    for (char *p = s, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *out = xrealloc(*out, (size_t)(k + 1) * sizeof **out);
        (*out)[k++] = strndup(p, (size_t)(nl - p));
    }
    free(s);
    return k;
}

static void free_lines(char **l, int n) {
    for (int k = 0; k < n; k++) free(l[k]);
    free(l);
}

// results.jsonl is derived from the cells: a lost, torn or repeated line is repaired on resume and
// on report, in cell order.
static void test_trust_results_derived(void **st_) {
    (void)st_;
    trust_env t;
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_first_run(&t, ", \"trials\": 2", &g, &st);
    char *rp = tu_path(t.out, "results.jsonl"), **l;
    assert_int_equal(lines_of(rp, &l), 2);
    assert_non_null(strstr(l[0], "\"cell\":\"alone-A=4-t0\""));
    assert_non_null(strstr(l[1], "\"cell\":\"alone-A=4-t1\""));
    char *full = tu_read_file(rp, NULL);
    // A kill between a cell's result.json and its line: the line is back after a resume.
    tu_write_file(rp, l[0]);
    append_text(rp, "\n");
    TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
    assert_int_equal(st.ran, 0);
    char *now = tu_read_file(rp, NULL);
    assert_string_equal(now, full);
    free(now);
    // A torn last line, lines out of order and repeated: repaired by a report.
    aca_buf b = {0};
    buf_printf(&b, "%s\n%s\n%s\n%.40s", l[1], l[0], l[1], l[0]);
    tu_write_file(rp, b.data);
    aca_grid_agg a;
    TU_OK(grid_aggregate(&g, t.out, &a, &e), &e);
    TU_OK(grid_report(&g, t.out, &a, &e), &e);
    grid_agg_free(&a);
    now = tu_read_file(rp, NULL);
    assert_string_equal(now, full);
    free(now);
    // Adding a line: a torn tail is cut first; a cell's line is never added twice.
    aca_grid_cell *c;
    int n;
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    buf_clear(&b);
    buf_printf(&b, "%s\n{\"grid\":{\"cell\":\"alone-A", l[0]);
    tu_write_file(rp, b.data);
    TU_OK(grid_results_add(t.out, &c[1], l[1], strlen(l[1]), &e), &e);
    TU_OK(grid_results_add(t.out, &c[0], l[0], strlen(l[0]), &e), &e);
    now = tu_read_file(rp, NULL);
    assert_string_equal(now, full);
    free(now);
    // The line of a cell whose id is a longer one (trial 1 of 10 vs 10) is not this cell's line.
    buf_clear(&b);
    buf_printf(&b, "{\"grid\":{\"cell\":\"%s0\",\"index\":9}}\n", c[0].id);
    tu_write_file(rp, b.data);
    TU_OK(grid_results_add(t.out, &c[0], l[0], strlen(l[0]), &e), &e);
    buf_printf(&b, "%s\n", l[0]);
    now = tu_read_file(rp, NULL);
    assert_string_equal(now, b.data);
    free(now);
    grid_cells_free(c, n);
    buf_free(&b);
    free(full);
    free_lines(l, 2);
    free(rp);
    grid_spec_free(&g);
    trust_free(&t);
}

// A process that holds OUT/locks/<name> (shared or exclusive) and OUT/locks/<name2> (exclusive)
// until *release is closed.
static pid_t hold_lock(const char *out, const char *name, int exclusive, const char *name2, int *release) {
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        close(ready[0]), close(go[1]);
        int fd, fd2;
        aca_err e = {0};
        if (grid_lock(out, name, exclusive, 1, "", &fd, &e) || (name2 && grid_lock(out, name2, 1, 1, "", &fd2, &e)))
            _exit(2);
        char c = 'x';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0) _exit(3);
        _exit(0);
    }
    close(ready[1]), close(go[0]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    *release = go[1];
    return p;
}

static void release_lock(pid_t p, int release) {
    int status;
    close(release);
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// A random-init checkpoint of the tiny model with a head for `classes` (written as HF does).
static void write_checkpoint(const trust_env *t, const char *dir, char *const *classes, int n) {
    aca_run_setup s;
    run_setup_default(&s);
    s.config_path = t->cfg;
    s.max_len = 16;
    aca_model *m;
    aca_err e = {0};
    TU_OK(session_load_model(&s, classes, n, 8, 0, &m, &e), &e);
    aca_tokenizer *tok = tokenizer_load(t->vocab, -1, &e);
    assert_non_null(tok);
    TU_OK(train_save_hf(m, dir, tok, &e), &e);
    tokenizer_free(tok);
    session_free_model(m);
}

// Overwrites 4 bytes of the first float32 tensor of a safetensors file.
static void poke_weights(const char *path, uint32_t bits) {
    st_file f = {0};
    aca_err e = {0};
    TU_OK(st_open(&f, path, &e), &e);
    size_t at = 0;
    for (int k = 0; k < f.n && !at; k++)
        if (f.tensors[k].dtype == ST_F32) at = (size_t)(f.data - (const uint8_t *)f.file.data) + f.tensors[k].begin;
    assert_true(at > 0);
    size_t n;
    char *b = tu_read_file(path, &n);
    memcpy(b + at, &bits, 4);
    tu_write_bytes(path, b, n);
    free(b);
    st_close(&f);
}

// A checkpoint grid: its weights are an input (hashed, edits refused); damaged or mismatched
// weights are caught before the first cell.
static void test_trust_checkpoint(void **st_) {
    (void)st_;
    trust_env t;
    trust_setup(&t);
    aca_corpus c;
    aca_corpus_opts co = {0};
    aca_err e = {0};
    TU_OK(corpus_load(t.corpus, &co, &c, &e), &e);
    char *ck = tu_path(t.d, "ckpt"), *w = tu_path(ck, "model.safetensors"), extra[600];
    write_checkpoint(&t, ck, c.classes, c.n_classes);
    snprintf(extra, sizeof extra, ", \"model\": {\"dir\": \"%s\"}", ck);
    aca_grid_spec g;
    aca_grid_stats st;
    trust_spec(&t, "g.json", NULL, extra, &g);
    TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
    assert_int_equal(st.ran, 1);
    grid_spec_free(&g);
    // One weight changed: the checkpoint is another model.
    size_t n;
    char *orig = tu_read_file(w, &n), was[65], now[65];
    sha_of(w, was);
    poke_weights(w, 0x3c23d70a); // 0.01f
    sha_of(w, now);
    expect_refused(&t, extra, "g.json: model.dir: the checkpoint weights changed since this grid started in");
    expect_refused(&t, extra, was);
    expect_refused(&t, extra, now);
    tu_write_bytes(w, orig, n);
    // The tokenizer is the checkpoint directory's: each of its files is an input too.
    char *tc = tu_path(ck, "tokenizer_config.json");
    size_t tn;
    char *tco = tu_read_file(tc, &tn);
    append_text(tc, " ");
    expect_refused(&t, extra, "g.json: model.dir: the tokenizer tokenizer_config.json changed since this grid started");
    tu_write_bytes(tc, tco, tn);
    free(tc), free(tco);
    // A NaN weight, caught before a fresh grid's first cell.
    poke_weights(w, 0x7fc00000);
    char *o2 = tu_path(t.d, "out2");
    trust_spec(&t, "g.json", NULL, extra, &g);
    TU_EXPECT_ERR(trust_run(&g, o2, -1, &st, &e), &e, "holds NaN at element 0: the checkpoint is damaged");
    assert_non_null(strstr(e.msg, "g.json: model.dir: "));
    grid_spec_free(&g);
    tu_write_bytes(w, orig, n);
    free(orig);
    // Tensors of another shape than the config's (its FFN width edited): refused before the first cell.
    char *cj = tu_path(ck, "config.json");
    size_t cn;
    char *cfg_text = tu_read_file(cj, &cn), *hd = strstr(cfg_text, "\"hidden_dim\": 32");
    assert_non_null(hd);
    memcpy(hd, "\"hidden_dim\": 24", 16);
    tu_write_bytes(cj, cfg_text, cn);
    trust_spec(&t, "g.json", NULL, extra, &g);
    TU_EXPECT_ERR(trust_run(&g, o2, -1, &st, &e), &e, "ffn.lin1.weight' has shape [32, 16], the config needs [24, 16]");
    assert_non_null(strstr(e.msg, "g.json: model.dir: "));
    assert_int_equal(st.ran, 0);
    char *o2cells = tu_path(o2, "cells");
    assert_int_equal(tu_dir_count(o2cells), 0);
    free(o2cells);
    grid_spec_free(&g);
    memcpy(hd, "\"hidden_dim\": 32", 16);
    tu_write_bytes(cj, cfg_text, cn);
    free(cj), free(cfg_text);
    // A head of 3 classes for a 10-class corpus.
    char *ck3 = tu_path(t.d, "ckpt3"), *three[3] = {"x", "y", "z"};
    write_checkpoint(&t, ck3, three, 3);
    snprintf(extra, sizeof extra, ", \"model\": {\"dir\": \"%s\"}", ck3);
    trust_spec(&t, "g.json", NULL, extra, &g);
    TU_EXPECT_ERR(trust_run(&g, o2, -1, &st, &e), &e, "g.json: model.dir: the checkpoint's classification head has 3 classes, but the corpus has 10");
    grid_spec_free(&g);
    // The head's classes in another order.
    char *ckr = tu_path(t.d, "ckptr");
    char *rev[64];
    for (int k = 0; k < c.n_classes; k++) rev[k] = c.classes[c.n_classes - 1 - k];
    write_checkpoint(&t, ckr, rev, c.n_classes);
    snprintf(extra, sizeof extra, ", \"model\": {\"dir\": \"%s\"}", ckr);
    trust_spec(&t, "g.json", NULL, extra, &g);
    TU_EXPECT_ERR(trust_run(&g, o2, -1, &st, &e), &e, "its head was trained on another class order");
    grid_spec_free(&g);
    corpus_free(&c);
    free(ck), free(w), free(o2), free(ck3), free(ckr);
    trust_free(&t);
}

static void edit_config_while_training(const aca_train_progress *p, void *ctx) {
    char **cfg = ctx;
    if (*cfg) append_text(*cfg, " ");
    *cfg = NULL; // once
}

// The model config edited while a cell trains: that cell is not recorded (its model may mix both
// files), and the message names the GRID.json field and the file.
static void test_trust_model_edited_while_running(void **st_) {
    (void)st_;
    trust_env t;
    trust_setup(&t);
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e = {0};
    trust_spec(&t, "g.json", NULL, "", &g);
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = t.out;
    o.cell = -1;
    char *cfg = t.cfg;
    o.on_step = edit_config_while_training;
    o.on_step_ctx = &cfg;
    TU_EXPECT_ERR(grid_run(&g, &o, &st, &e), &e, "model.config: the model config");
    assert_non_null(strstr(e.msg, "changed while the grid ran"));
    assert_non_null(strstr(e.msg, t.cfg));
    assert_null(cfg);
    char *r0 = tu_path(t.out, "cells/alone-A=4-t0/result.json");
    assert_false(file_exists(r0));
    free(r0);
    grid_spec_free(&g);
    trust_free(&t);
}

// One grid, one writer: a second whole-grid run is refused naming the holder; --cell runs of
// different cells share the directory (Slurm), of the same cell do not.
static void test_trust_locks(void **st_) {
    (void)st_;
    trust_env t;
    trust_setup(&t);
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_spec(&t, "g.json", NULL, ", \"trials\": 2", &g);
    char *cells = tu_path(t.out, "cells"); // a grid's directory (a grid makes it before it locks)
    TU_OK(dir_make(cells, &e), &e);
    free(cells);
    char holder[64];
    int rel;
    pid_t p = hold_lock(t.out, "grid", 1, NULL, &rel);
    snprintf(holder, sizeof holder, "process %d", (int)p);
    TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, "another aca grid runs there");
    assert_non_null(strstr(e.msg, holder));
    TU_EXPECT_ERR(trust_run(&g, t.out, 0, &st, &e), &e, "another aca grid runs the whole grid there");
    assert_non_null(strstr(e.msg, holder));
    release_lock(p, rel);
    // A --cell run of cell 0 in progress elsewhere.
    p = hold_lock(t.out, "grid", 0, "cell-alone-A=4-t0", &rel);
    snprintf(holder, sizeof holder, "process %d", (int)p);
    TU_EXPECT_ERR(trust_run(&g, t.out, -1, &st, &e), &e, "another aca grid runs there");
    assert_non_null(strstr(e.msg, holder));
    TU_EXPECT_ERR(trust_run(&g, t.out, 0, &st, &e), &e, "another aca grid runs cell 0 (alone-A=4-t0) there");
    TU_OK(trust_run(&g, t.out, 1, &st, &e), &e); // another cell runs beside it
    assert_int_equal(st.ran, 1);
    release_lock(p, rel);
    TU_OK(trust_run(&g, t.out, 0, &st, &e), &e);
    char *rp = tu_path(t.out, "results.jsonl"), **l;
    assert_int_equal(lines_of(rp, &l), 2);
    free_lines(l, 2);
    free(rp);
    grid_spec_free(&g);
    // Two Slurm tasks at once (the command line, one cell each) on a fresh directory.
    char aca[PATH_MAX + 8], *gp = tu_path(t.d, "g.json"), *o2 = tu_path(t.d, "slurm");
    tu_aca_path(aca, sizeof aca);
    pid_t kid[2];
    for (int k = 0; k < 2; k++) {
        kid[k] = fork();
        assert_true(kid[k] >= 0);
        if (kid[k] == 0) {
            char cell[8];
            snprintf(cell, sizeof cell, "%d", k);
            execl(aca, aca, "grid", gp, "--out", o2, "--cell", cell, "--quiet", (char *)NULL);
            _exit(127);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(kid[k], &status, 0), kid[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    rp = tu_path(o2, "results.jsonl");
    assert_int_equal(lines_of(rp, &l), 2);
    assert_true(strcmp(l[0], l[1]) != 0);
    free_lines(l, 2);
    free(rp), free(gp), free(o2);
    // A directory that is not a grid's is never written into.
    char *foreign = tu_path(t.d, "foreign"), *notes = tu_path(foreign, "notes.txt"), *fc = tu_path(foreign, "cells");
    TU_OK(dir_make(foreign, &e), &e);
    tu_write_file(notes, "mine");
    trust_spec(&t, "g.json", NULL, "", &g);
    TU_EXPECT_ERR(trust_run(&g, foreign, -1, &st, &e), &e, "is not empty and holds no aca grid");
    assert_int_equal(tu_dir_count(foreign), 1);
    grid_spec_free(&g);
    free(foreign), free(notes), free(fc);
    trust_free(&t);
}

// Processes whose parent is pid (from /proc).
static int count_children(pid_t pid) {
    DIR *d = opendir("/proc");
    struct dirent *de;
    int k = 0;
    while (d && (de = readdir(d))) {
        char p[300], s[512];
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        snprintf(p, sizeof p, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(p, "r");
        size_t n = f ? fread(s, 1, sizeof s - 1, f) : 0;
        if (f) fclose(f);
        s[n] = 0;
        const char *rp = strrchr(s, ')');
        int ppid;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid && state != 'Z') k++;
    }
    if (d) closedir(d);
    return k;
}

// `aca grid --jobs 2` in a child; returns once both workers are running.
static pid_t start_jobs(const char *aca, const char *gp, const char *out) {
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        execl(aca, aca, "grid", gp, "--out", out, "--jobs", "2", "--quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600000 && count_children(p) < 2; i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(count_children(p), 2);
    return p;
}

// --jobs workers die with their grid: SIGKILL of the grid kills them; SIGTERM stops them and the
// grid waits for them; an immediate resume then finishes the grid.
static void test_trust_workers(void **st_) {
    (void)st_;
    aca_grid_spec g;
    aca_grid_stats st;
    aca_err e;
    trust_env t;
    trust_setup(&t);
    trust_spec(&t, "g.json",
               "\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}],"
               " \"counts\": [4, 8], \"runs\": {\"baseline\": true, \"joint\": false}",
               ", \"trials\": 2", &g);
    char aca[PATH_MAX + 8], *gp = tu_path(t.d, "g.json");
    tu_aca_path(aca, sizeof aca);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); // orphaned workers become this test's children
    pid_t p = start_jobs(aca, gp, t.out);
    int status, orphans = 0;
    kill(p, SIGKILL);
    assert_int_equal(waitpid(p, &status, 0), p);
    pid_t w;
    while ((w = waitpid(-1, &status, 0)) > 0) {
        orphans++;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            print_error("worker %d outlived its killed grid (status 0x%x)\n", (int)w, status);
            fail();
        }
    }
    assert_int_equal(orphans, 2);
    // SIGTERM: the grid stops its workers and waits for them before it ends.
    p = start_jobs(aca, gp, t.out);
    kill(p, SIGTERM);
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_true((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) || (WIFEXITED(status) && WEXITSTATUS(status) == 143));
    w = waitpid(-1, &status, WNOHANG);
    int left = w != -1;
    while (waitpid(-1, &status, 0) > 0) {
    }
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    if (left) {
        print_error("workers outlived their grid stopped with SIGTERM\n");
        fail();
    }
    // Resumed at once: no worker of the old runs is in the way.
    TU_OK(trust_run(&g, t.out, -1, &st, &e), &e);
    assert_int_equal(st.ran + st.skipped, 6);
    char *rp = tu_path(t.out, "results.jsonl"), **l;
    assert_int_equal(lines_of(rp, &l), 6);
    free_lines(l, 6);
    free(rp), free(gp);
    grid_spec_free(&g);
    trust_free(&t);
}

// ---- Karan et al.'s CT in the aggregation, the presets, the synthetic corpus's character rates ----
// Two collectives, one level, two trials, with the unpoisoned cells: Karan's CT per trial, by hand.
static void test_ct_karan_aggregate(void **st) {
    (void)st;
    aca_grid_spec g = parse_ok("{\"trials\": 2, \"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\"},"
                               "{\"name\": \"B\", \"target\": \"y\", \"signal\": \"}\"}], \"levels\": [0.05]}");
    aca_grid_agg a;
    memset(&a, 0, sizeof a);
    a.g = &g;
    aca_err e = {0};
    TU_OK(grid_cells(&g, &a.cells, &a.n_cells, &e), &e);
    a.m = xcalloc((size_t)a.n_cells, sizeof *a.m);
    // efficacies (A, B) per trial
    const double none[2][2] = {{0.2, 0.1}, {0.1, 0.0}};
    const double al_a[2][2] = {{0.9, 0.1}, {0.8, 0.1}}, al_b[2][2] = {{0.2, 0.6}, {0.1, 0.7}};
    const double joint[2][2] = {{0.5, 0.9}, {0.6, 0.8}};
    for (int t = 0; t < 2; t++) {
        set_trial(&a, "none-t%d", t, 0.8, none[t]);
        set_trial(&a, "alone-A=0.05-t%d", t, 0.8, al_a[t]);
        set_trial(&a, "alone-B=0.05-t%d", t, 0.8, al_b[t]);
        set_trial(&a, "joint-A=0.05-B=0.05-t%d", t, 0.8, joint[t]);
    }
    grid_aggregate_metrics(&a);
    int lv[GRID_MAX_COLL] = {0};
    const aca_grid_group *gr = &a.groups[grid_find_group(&a, 0, 3, lv)];
    // A: differences (0.5-0.9, 0.6-0.8) = (-0.4, -0.2); over the unpoisoned (0.2, 0.1): (-2, -2).
    assert_true(fabs(gr->ct_mean[0] + 0.3) < 1e-12);
    assert_true(fabs(gr->ctk_mean[0] + 2.0) < 1e-12 && fabs(gr->ctk_std[0]) < 1e-12 && gr->ctk_n[0] == 2);
    // B: differences (0.3, 0.1); trial 1's unpoisoned efficacy is 0, so only trial 0: 0.3 / 0.1 = 3.
    assert_true(fabs(gr->ct_mean[1] - 0.2) < 1e-12);
    assert_true(fabs(gr->ctk_mean[1] - 3.0) < 1e-12 && gr->ctk_n[1] == 1);
    aca_buf csv = {0}, md = {0};
    grid_write_summary(&a, &csv, &md);
    // unpoisoned efficacy of A: mean(0.2, 0.1) = 15%
    assert_non_null(strstr(md.data, "| - | A+B | A=0.05 B=0.05 | A | 85.0 | 55.0 | -30.0 ± 14.1 | 15.0 | -2.00 ± 0.00 | 2 |"));
    assert_non_null(strstr(md.data, "| - | A+B | A=0.05 B=0.05 | B | 65.0 | 85.0 | +20.0 ± 14.1 | 5.0 | +3.00 | 2 |"));
    assert_non_null(strstr(md.data, "\u0394 joint\u2212alone (points) | unpoisoned eff | CT (Karan) |"));
    assert_null(strstr(md.data, "baseline"));
    assert_non_null(strstr(md.data, "| - | unpoisoned | – | 2 |"));
    // Pairwise, from the means: A with B = 0.55 - 0.85 = -30 points; / 0.15 = -2.00.
    assert_non_null(strstr(md.data, "## Pairwise CT (Karan)(i,j)"));
    assert_non_null(strstr(md.data, "| A | – | -2.00 |"));
    assert_non_null(strstr(csv.data, "delta_joint_alone_mean,delta_joint_alone_std,ct_karan_mean,ct_karan_std\n"));
    assert_non_null(strstr(csv.data, "-,joint,A;B,A=0.05;B=0.05,A,1,2,0.8,0,0.55,0.0707107,0.275,0.0353553,-0.3,0.141421,-2,"));
    assert_non_null(strstr(csv.data, "-,joint,A;B,A=0.05;B=0.05,B,1,2,0.8,0,0.85,0.0707107,0.425,0.0353553,0.2,0.141421,3,0\n"));
    assert_non_null(strstr(csv.data, "-,unpoisoned,,,A,0,2,"));
    buf_free(&csv);
    buf_free(&md);
    grid_agg_free(&a);
    grid_spec_free(&g);
}

static void preset_check(const char *path, int *n_presets) {
    aca_grid_spec g;
    aca_err e = {0};
    TU_OK(grid_spec_load(path, &g, &e), &e);
    aca_grid_cell *c;
    int n;
    TU_OK(grid_cells(&g, &c, &n, &e), &e);
    assert_true(n > 0);
    // Karan et al. ran each Figure-3 condition 10 times (Appendix B).
    if (strstr(path, "grids/fig3-full/")) assert_int_equal(g.trials, 10);
    // Figure 4: the paper's two panels, its collectives' names (Table 1): A0 '{' x B1 '}' and
    // A100 U+2E17 x B101 U+2E18, targets Software Developer and Web Developer.
    if (strstr(path, "grids/fig4-")) {
        int braces = strstr(path, "/braces-A0-B1.json") != NULL;
        assert_true(braces || strstr(path, "/u2e17-A100-B101.json"));
        assert_int_equal(g.n_coll, 2);
        assert_true(g.mode == GRID_MODE_PRODUCT);
        assert_string_equal(g.coll[0].name, braces ? "A0" : "A100");
        assert_string_equal(g.coll[1].name, braces ? "B1" : "B101");
        assert_string_equal(g.coll[0].target, "Software Developer");
        assert_string_equal(g.coll[1].target, "Web Developer");
        assert_non_null(strstr(g.coll[0].json, braces ? "\"signal\":\"{\"" : "\"signal\":\"U+2E17\""));
        assert_non_null(strstr(g.coll[1].json, braces ? "\"signal\":\"}\"" : "\"signal\":\"U+2E18\""));
        if (strstr(path, "grids/fig4-full/")) assert_int_equal(g.trials, 5); // Fig. 4's caption
    }
    grid_cells_free(c, n);
    grid_spec_free(&g);
    (*n_presets)++;
}

// Every preset under grids/ (and one folder down) parses and enumerates its cells.
static void test_presets_parse(void **st) {
    (void)st;
    int n = 0, fig4 = 0;
    // Presets name the MiniLM checkpoint as ${ACA_MINILM_DIR} (grids/dp); parsing does not open it.
    if (!getenv("ACA_MINILM_DIR")) setenv("ACA_MINILM_DIR", "/not/opened/by/the/parser", 1);
    DIR *d = opendir("grids");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = path_join("grids", de->d_name);
        size_t len = strlen(p);
        if (len > 5 && !strcmp(p + len - 5, ".json")) {
            preset_check(p, &n);
        } else {
            DIR *sd = opendir(p);
            struct dirent *se;
            while (sd && (se = readdir(sd))) {
                size_t l = strlen(se->d_name);
                if (l <= 5 || strcmp(se->d_name + l - 5, ".json")) continue;
                char *q = path_join(p, se->d_name);
                preset_check(q, &n);
                fig4 += !strncmp(q, "grids/fig4-", 11);
                free(q);
            }
            if (sd) closedir(sd);
        }
        free(p);
    }
    closedir(d);
    assert_int_equal(fig4, 6); // small, medium, full x the two panels
    assert_true(n >= 24);
}

// "char_rates" of a synthetic corpus in a grid: on top of the defaults; errors name the field.
static void test_grid_char_rates(void **st) {
    (void)st;
    aca_grid_spec g = parse_ok("{\"corpus\": {\"synthetic\": 100, \"char_rates\": {\"{\": 0.05, \"U+2E17\": 0.01}},"
                               " \"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\"}], \"levels\": [0.1]}");
    assert_int_equal(g.synth_opts.n, 3); // '{' overridden, '}' at its default, U+2E17 added
    assert_true(g.synth_opts.cp[0] == '{' && g.synth_opts.rate[0] == 0.05);
    assert_true(g.synth_opts.cp[1] == '}' && g.synth_opts.rate[1] == SYNTH_BRACE_RATE);
    assert_true(g.synth_opts.cp[2] == 0x2E17 && g.synth_opts.rate[2] == 0.01);
    grid_spec_free(&g);
    expect_spec_err("\"corpus\": {\"synthetic\": 100, \"char_rates\": {\"{\": 2}},", "",
                    "g.json: corpus.char_rates.{: U+007B: the rate must be a share of documents in [0, 1], got 2");
    expect_spec_err("\"corpus\": {\"synthetic\": 100, \"char_rates\": {\"ab\": 0.1}},", "",
                    "g.json: corpus.char_rates.ab: 'ab' is not one character");
    expect_spec_err("\"corpus\": {\"synthetic\": 100, \"char_rates\": [1]},", "",
                    "g.json: corpus.char_rates: must be an object");
    expect_spec_err("\"corpus\": {\"path\": \"c.txt\", \"char_rates\": {\"{\": 0.1}},", "",
                    "g.json: corpus.char_rates: shapes a synthetic corpus only");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_cells_line_and_product),
        cmocka_unit_test(test_mean_std_ct_loo),
        cmocka_unit_test(test_slurm_script),
        cmocka_unit_test(test_mutate_only_list),
        cmocka_unit_test(test_end_to_end_resume),
        cmocka_unit_test(test_dp_axis_end_to_end),
        cmocka_unit_test(test_planner_staircase),
        cmocka_unit_test(test_plot_titles_quoted),
        cmocka_unit_test(test_fig4_product_end_to_end),
        cmocka_unit_test(test_jobs_same_results),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_ct_karan_aggregate),
        cmocka_unit_test(test_presets_parse),
        cmocka_unit_test(test_grid_char_rates),
        cmocka_unit_test(test_trust_inputs_recorded),
        cmocka_unit_test(test_trust_freeze_base),
        cmocka_unit_test(test_trust_validation),
        cmocka_unit_test(test_trust_ids),
        cmocka_unit_test(test_trust_results_derived),
        cmocka_unit_test(test_trust_checkpoint),
        cmocka_unit_test(test_trust_locks),
        cmocka_unit_test(test_trust_workers),
        cmocka_unit_test(test_trust_model_edited_while_running),
    };
    if (getenv("ACA_TEST_FILTER")) cmocka_set_test_filter(getenv("ACA_TEST_FILTER")); // e.g. "test_trust_*"
    return cmocka_run_group_tests(tests, NULL, NULL);
}
