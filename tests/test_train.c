// Trainer tests on a tiny DistilBERT (1 layer, dim 32) and a small synthetic token dataset whose
// class is carried by which token range a document draws from.
#include "toy_model.h"

#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dirent.h>

#include "aca/model.h"
#include "aca/ops.h"
#include "aca/run.h"
#include "aca/tokcache.h"
#include "aca/train.h"

static const char TINY[] = "{\"model_type\":\"distilbert\",\"vocab_size\":48,\"max_position_embeddings\":32,"
                           "\"dim\":32,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":64,\"activation\":\"gelu\","
                           "\"dropout\":0.1,\"attention_dropout\":0.1,\"seq_classif_dropout\":0.2,"
                           "\"initializer_range\":0.02,\"pad_token_id\":0,\"num_labels\":3}";

enum { N_DOCS = 48, MAX_LEN = 16, CLS = 1, SEP = 2 };

static aca_model *tiny_model(uint64_t seed) { return toy_model(TINY, seed, 8, MAX_LEN); }




static char *tmpdir_make(void) {
    char *t = xstrdup("/tmp/aca_test_train_XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static aca_train_opts quick_opts(void) {
    aca_run_setup s;
    run_setup_default(&s); // the run options table's defaults
    aca_train_opts o = s.train;
    o.epochs = 4;
    o.lr = 2e-3;
    o.seed = 7;
    return o;
}

// ---- pure functions ----------------------------------------------------------------------------
static void test_schedule(void **st) {
    (void)st;
    assert_true(train_lr_at(5e-5, 0, 100) == 5e-5);
    assert_true(fabs(train_lr_at(5e-5, 50, 100) - 2.5e-5) <= 1e-20);
    assert_true(fabs(train_lr_at(5e-5, 99, 100) - 5e-7) <= 1e-20);
    assert_true(train_lr_at(5e-5, 100, 100) == 0.0);
    assert_true(train_lr_at(5e-5, 3, 0) == 0.0);
    assert_int_equal(train_total_steps(17, 8, 3), 9);
    assert_int_equal(train_total_steps(16, 8, 5), 10);
    assert_int_equal(train_total_steps(16, 0, 5), 0);
    assert_true(train_clip_coef(0.5, 1.0) == 1.0);
    assert_true(fabs(train_clip_coef(4.0, 1.0) - 1.0 / (4.0 + 1e-6)) <= 1e-15);
    assert_true(train_clip_coef(1e9, 0.0) == 1.0);
    assert_true(train_step_seed(1, 0) != train_step_seed(1, 1));
    assert_true(train_step_seed(1, 5) != train_step_seed(2, 5));
    assert_true(train_step_seed(3, 5) == train_step_seed(3, 5));
}

static void test_loss_scaler(void **st) {
    (void)st;
    aca_loss_scaler s;
    loss_scaler_init(&s, 1024.0f, 3);
    assert_int_equal(loss_scaler_update(&s, 0), 0);
    assert_int_equal(loss_scaler_update(&s, 0), 0);
    assert_true(s.scale == 1024.0f);
    assert_int_equal(loss_scaler_update(&s, 0), 0); // third good step: grow
    assert_true(s.scale == 2048.0f);
    assert_int_equal(loss_scaler_update(&s, 0), 0);
    assert_int_equal(loss_scaler_update(&s, 1), 1); // overflow: skip, halve, reset the count
    assert_true(s.scale == 1024.0f);
    assert_int_equal(s.good, 0);
    for (int i = 0; i < 40; i++) loss_scaler_update(&s, 1);
    assert_true(s.scale == 1.0f); // floor
}

static int is_perm(const uint32_t *a, size_t n) {
    char *seen = calloc(n, 1);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (a[i] >= n || seen[a[i]]) ok = 0;
        else seen[a[i]] = 1;
    }
    free(seen);
    return ok;
}

static long padding_of(const aca_dataset *d, const uint32_t *idx, int B) {
    long pad = 0;
    for (size_t i0 = 0; i0 < d->n; i0 += (size_t)B) {
        int nb = (int)(d->n - i0 < (size_t)B ? d->n - i0 : (size_t)B), T = 0;
        for (int b = 0; b < nb; b++) T = dataset_len(d, idx[i0 + b]) > T ? dataset_len(d, idx[i0 + b]) : T;
        for (int b = 0; b < nb; b++) pad += T - dataset_len(d, idx[i0 + b]);
    }
    return pad;
}

static void test_epoch_order(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 3, N_DOCS, MAX_LEN);
    uint32_t a[N_DOCS], b[N_DOCS], c[N_DOCS], k[N_DOCS];
    train_epoch_order(&d, 9, 0, 4, 0, a);
    train_epoch_order(&d, 9, 0, 4, 0, b);
    train_epoch_order(&d, 9, 1, 4, 0, c);
    assert_true(is_perm(a, N_DOCS) && is_perm(c, N_DOCS));
    assert_memory_equal(a, b, sizeof a);          // deterministic in (seed, epoch)
    assert_memory_not_equal(a, c, sizeof a);      // reshuffled each epoch
    train_epoch_order(&d, 9, 0, 4, 1, k);
    assert_true(is_perm(k, N_DOCS));
    assert_true(padding_of(&d, k, 4) < padding_of(&d, a, 4)); // buckets cut padding
    dataset_free(&d);
}

static void test_fill_batch(void **st) {
    (void)st;
    int32_t ids[] = {1, 5, 2, 1, 6, 7, 8, 2, 1, 2};
    int32_t lens[] = {3, 5, 2}, labels[] = {0, 2, 1};
    aca_dataset d;
    dataset_from_arrays(&d, 3, ids, lens, labels, 8);
    uint32_t idx[] = {2, 0};
    int32_t bi[16], bm[16], bl[2];
    int T = dataset_fill_batch(&d, idx, 2, 0, bi, bm, bl);
    assert_int_equal(T, 3); // the longest of the batch, not max_len
    int32_t want_ids[] = {1, 2, 0, 1, 5, 2}, want_mask[] = {1, 1, 0, 1, 1, 1};
    assert_memory_equal(bi, want_ids, sizeof want_ids);
    assert_memory_equal(bm, want_mask, sizeof want_mask);
    assert_int_equal(bl[0], 1);
    assert_int_equal(bl[1], 0);
    dataset_free(&d);
}

// ---- training ----------------------------------------------------------------------------------
static void test_loss_decreases(void **st) {
    (void)st;
    aca_model *m = tiny_model(1);
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    o.epochs = 30;
    o.lr = 3e-3;
    aca_train_stats s;
    aca_err e = {0};
    int rc = train_run(m, &d, &o, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s.steps, 180);
    assert_int_equal(s.total_steps, 180);
    assert_true(isfinite(s.first_loss) && isfinite(s.last_epoch_loss));
    // ln 3 = 1.10 at the start; the classes are separable by token range.
    assert_true(s.first_loss > 0.9);
    if (!(s.last_epoch_loss < 0.5 * s.first_loss)) {
        print_error("loss %g -> %g did not halve\n", s.first_loss, s.last_epoch_loss);
        fail();
    }
    assert_true(s.tokens > 0 && s.peak_rss > 0);
    dataset_free(&d);
    toy_model_free(m);
}

static void get_params(aca_model *m, float **out, size_t *n) {
    *n = model_num_params(m);
    *out = malloc(*n * sizeof **out);
    model_get_params(m, *out);
}

static void check_resume(int bucket) {
    aca_dataset d;
    toy_dataset(&d, 2, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    o.bucket = bucket;
    aca_train_stats s;
    aca_err e = {0};
    // Straight through.
    aca_model *a = tiny_model(5);
    assert_int_equal(train_run(a, &d, &o, &s, &e), 0);
    // Stop at step 9 of 24 (mid-epoch), then resume in a fresh model (the same initial weights: the
    // fingerprint checks them; everything else comes from the checkpoint).
    char *dir = tmpdir_make();
    aca_model *b = tiny_model(5);
    aca_train_opts ob = o;
    ob.ckpt_dir = dir;
    ob.stop_after = 9;
    assert_int_equal(train_run(b, &d, &ob, &s, &e), 0);
    assert_int_equal(s.steps, 9);
    assert_int_equal(s.stopped_early, 1);
    toy_model_free(b);
    aca_model *c = tiny_model(5);
    ob.stop_after = 0;
    ob.resume = 1;
    int rc = train_run(c, &d, &ob, &s, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s.resumed, 1);
    assert_int_equal(s.steps_this_run, 24 - 9);
    float *pa, *pc;
    size_t n;
    get_params(a, &pa, &n);
    get_params(c, &pc, &n);
    tu_check_bits("params after resume", pc, pa, n);
    // The AdamW moments too.
    float *ma = malloc(n * 4), *va = malloc(n * 4), *mc = malloc(n * 4), *vc = malloc(n * 4);
    model_get_adam_state(a, ma, va);
    model_get_adam_state(c, mc, vc);
    tu_check_bits("adam m after resume", mc, ma, n);
    tu_check_bits("adam v after resume", vc, va, n);
    free(pa), free(pc), free(ma), free(va), free(mc), free(vc);
    toy_model_free(a);
    toy_model_free(c);
    dir_remove_recursive(dir);
    free(dir);
    dataset_free(&d);
}

static void test_resume_bit_identical(void **st) {
    (void)st;
    check_resume(0);
}
static void test_resume_bit_identical_bucketed(void **st) {
    (void)st;
    check_resume(1);
}

// ---- out of memory for the AdamW state ----------------------------------------------------------
// The CPU backend's ops table with an alloc that fails while g_oom is set, installed through the
// backend-creation hook (ops.h, aca_backend_set_ops_hook): a model built on it, then memory "runs out".
static aca_ops g_oom_ops;
static const aca_ops *g_cpu_ops;
static int g_oom;

static void *oom_alloc(aca_backend *be, size_t bytes, aca_err *e) {
    if (!g_oom) return g_cpu_ops->alloc(be, bytes, e);
    aca_errf(e, ACA_ERR_MEMORY, "cpu backend: cannot allocate %zu bytes (injected)", bytes);
    return NULL;
}

static const aca_ops *oom_hook(const aca_ops *ops, void *arg) {
    (void)arg;
    g_cpu_ops = ops, g_oom_ops = *ops, g_oom_ops.alloc = oom_alloc;
    return &g_oom_ops;
}

static aca_model *oom_model(uint64_t seed) {
    aca_err e = {0};
    aca_backend_set_ops_hook(oom_hook, NULL);
    aca_backend *be = aca_backend_cpu_create(&e);
    aca_backend_set_ops_hook(NULL, NULL);
    return toy_model_on(be, TINY, seed, 8, MAX_LEN);
}

// The AdamW state is allocated before the first step (model_prepare_adam): out of memory there is
// an ACA_ERR_MEMORY error naming the bytes, from train_run and from a checkpoint's restore, with the
// model as it was; it used to abort the process at the first optimizer step.
static void test_adam_state_out_of_memory(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    aca_train_stats s;
    aca_err e = {0};
    aca_model *m = oom_model(4);
    const size_t n = model_num_params(m);
    char want[160];
    snprintf(want, sizeof want, "AdamW state of %zu parameters (%zu bytes for each of its two moments): cpu backend: cannot "
                                "allocate %zu bytes", n, n * sizeof(float), n * sizeof(float));
    float *p0, *p1;
    size_t n1;
    get_params(m, &p0, &n1);
    g_oom = 1;
    TU_EXPECT_ERR(model_prepare_adam(m, &e), &e, want);
    assert_int_equal(e.kind, ACA_ERR_MEMORY);
    TU_EXPECT_ERR(train_run(m, &d, &o, &s, &e), &e, want);
    assert_int_equal(e.kind, ACA_ERR_MEMORY);
    assert_int_equal(s.steps, 0);
    get_params(m, &p1, &n1);
    tu_check_bits("params after the failed run", p1, p0, n);
    free(p1);
    // A checkpoint's restore: refused the same way, before its parameters are set.
    char *dir = tmpdir_make();
    aca_model *a = tiny_model(5);
    aca_train_state ts = {3, 3, {1.0f, 2000, 0}};
    assert_int_equal(train_checkpoint_save(a, dir, &ts, 24, o.seed, "run\tx\n", &e), 0);
    aca_train_state got;
    TU_EXPECT_ERR(train_checkpoint_load(m, dir, 24, o.seed, "run\tx\n", &got, &e), &e, want);
    get_params(m, &p1, &n1);
    tu_check_bits("params after the failed restore", p1, p0, n);
    // With memory again, the same model restores and trains.
    g_oom = 0;
    assert_int_equal(train_checkpoint_load(m, dir, 24, o.seed, "run\tx\n", &got, &e), 0);
    assert_int_equal(got.step, 3);
    toy_model_free(m);
    m = oom_model(4);
    TU_OK(train_run(m, &d, &o, &s, &e), &e);
    assert_int_equal(s.steps, 24);
    free(p0), free(p1);
    toy_model_free(m), toy_model_free(a);
    dir_remove_recursive(dir);
    free(dir);
    dataset_free(&d);
}

static void test_nan_loss_injected(void **st) {
    (void)st;
    aca_model *m = tiny_model(1);
    size_t n = model_num_params(m);
    float *p = malloc(n * sizeof *p);
    model_get_params(m, p);
    int np;
    const aca_param_info *pi = model_params(m, &np);
    for (int i = 0; i < np; i++)
        if (strstr(pi[i].name, "classifier.weight")) p[pi[i].offset] = NAN;
    model_set_params(m, p);
    free(p);
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, &d, &o, &s, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_NUMERIC);
    if (!strstr(e.msg, "at step 1 of 24") || !strstr(e.msg, "is NaN")) {
        print_error("message: %s\n", e.msg);
        fail();
    }
    dataset_free(&d);
    toy_model_free(m);
}

static void test_nan_loss_diverging_lr(void **st) {
    (void)st;
    aca_model *m = tiny_model(1);
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    o.lr = 1e30; // AdamW moves every weight by ~lr: the next forward overflows
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, &d, &o, &s, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_NUMERIC);
    // Step 1's update blows the weights up; step 2's loss or gradient is no longer finite.
    if (!strstr(e.msg, "at step 2 of 24") || !strstr(e.msg, "smaller --lr") || !strstr(e.msg, " is ")) {
        print_error("message: %s\n", e.msg);
        fail();
    }
    dataset_free(&d);
    toy_model_free(m);
}

static void expect_err(aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_err_kind kind,
                       const char *needle) {
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, d, o, &s, &e), -1);
    if (e.kind != kind || !strstr(e.msg, needle)) {
        print_error("want kind %d containing '%s', got kind %d: %s\n", kind, needle, e.kind, e.msg);
        fail();
    }
}

static void test_bad_options_and_data(void **st) {
    (void)st;
    aca_model *m = tiny_model(1);
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    aca_train_opts o = quick_opts();
    o.epochs = 0;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "epochs must be >= 1");
    o = quick_opts();
    o.batch = 0;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "batch must be >= 1");
    o = quick_opts();
    o.save_every = 5;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "checkpoint directory");
    o = quick_opts();
    o.lr = NAN;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "lr");
    // A label beyond the head's 3 classes.
    int32_t ids[] = {1, 9, 2, 1, 9, 2}, lens[] = {3, 3}, labels[] = {0, 3};
    aca_dataset bad;
    dataset_from_arrays(&bad, 2, ids, lens, labels, MAX_LEN);
    o = quick_opts();
    expect_err(m, &bad, &o, ACA_ERR_VALUE, "head has 3 classes");
    dataset_free(&bad);
    // A max length beyond max_position_embeddings (32).
    int32_t lens2[] = {3, 3}, labels2[] = {0, 1};
    dataset_from_arrays(&bad, 2, ids, lens2, labels2, 64);
    expect_err(m, &bad, &o, ACA_ERR_VALUE, "max_position_embeddings");
    dataset_free(&bad);
    dataset_free(&d);
    toy_model_free(m);
}

static void test_checkpoint_mismatch_and_corruption(void **st) {
    (void)st;
    aca_dataset d;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    char *dir = tmpdir_make();
    aca_model *m = tiny_model(1);
    aca_train_opts o = quick_opts();
    o.ckpt_dir = dir;
    o.stop_after = 3;
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    // Resume with another seed or another number of epochs: refused, naming the difference.
    o.stop_after = 0;
    o.resume = 1;
    o.seed = 8;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "--seed is 7 in the checkpoint but 8 now");
    o.seed = 7;
    o.epochs = 5;
    expect_err(m, &d, &o, ACA_ERR_VALUE, "--epochs is 4 in the checkpoint but 5 now");
    o.epochs = 4;
    // Flip one byte in the parameters: checksum mismatch.
    char *path = path_join(dir, "trainer.ckpt");
    aca_buf b = {0};
    assert_int_equal(file_read_all(path, &b, &e), 0);
    b.data[200] ^= 0x40;
    assert_int_equal(file_write_atomic(path, b.data, b.len, &e), 0);
    expect_err(m, &d, &o, ACA_ERR_FORMAT, "checksum");
    // Truncated.
    assert_int_equal(file_write_atomic(path, b.data, b.len / 2, &e), 0);
    expect_err(m, &d, &o, ACA_ERR_FORMAT, "truncated");
    assert_int_equal(file_write_atomic(path, "garbage", 7, &e), 0);
    expect_err(m, &d, &o, ACA_ERR_FORMAT, "not an aca trainer checkpoint");
    buf_free(&b);
    free(path);
    toy_model_free(m);
    dir_remove_recursive(dir);
    free(dir);
    dataset_free(&d);
}

static void test_save_hf_roundtrip(void **st) {
    (void)st;
    char *dir = tmpdir_make();
    char *vocab = path_join(dir, "myvocab.txt");
    aca_err e = {0};
    const char *crlf = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nAb\r\nab\r\n";
    assert_int_equal(file_write_atomic(vocab, crlf, strlen(crlf), &e), 0);
    aca_tokenizer *tok = tokenizer_load(vocab, 0, &e); // cased
    assert_non_null(tok);
    aca_model *m = tiny_model(3);
    const char *names[] = {"Alpha", "Beta", "Gamma"};
    config_set_labels((aca_config *)model_config(m), 3, names);
    char *out = path_join(dir, "out/model");
    int rc = train_save_hf(m, out, tok, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    char *f1 = path_join(out, "config.json"), *f2 = path_join(out, "model.safetensors"), *f3 = path_join(out, "vocab.txt");
    assert_true(file_exists(f1) && file_exists(f2) && file_exists(f3));
    // The tokenizer files say what the run used: the directory reloads cased, with LF line ends.
    aca_buf tc = {0};
    char *f4 = path_join(out, "tokenizer_config.json"), *f5 = path_join(out, "special_tokens_map.json");
    assert_int_equal(file_read_all(f4, &tc, &e), 0);
    assert_non_null(strstr(tc.data, "\"do_lower_case\": false"));
    assert_non_null(strstr(tc.data, "\"model_max_length\": 32"));
    assert_true(file_exists(f5));
    buf_clear(&tc);
    assert_int_equal(file_read_all(f3, &tc, &e), 0);
    assert_string_equal(tc.data, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nAb\nab\n");
    aca_tokenizer *back = tokenizer_load(out, -1, &e);
    assert_non_null(back);
    assert_int_equal(tokenizer_token_to_id(back, "Ab"), 4);
    int32_t ids[4];
    int len;
    assert_int_equal(tokenizer_encode(back, "Ab", 2, 4, ids, &len, &e), 0);
    assert_int_equal(ids[1], 4); // cased: "Ab" stays "Ab"
    tokenizer_free(back);
    tokenizer_free(tok);
    buf_free(&tc);
    free(f4), free(f5);
    aca_buf cj = {0};
    assert_int_equal(file_read_all(f1, &cj, &e), 0);
    assert_non_null(strstr(cj.data, "Gamma"));
    aca_model *m2 = tiny_model(4);
    assert_int_equal(model_load(m2, out, 0, &e), 0);
    float *p1, *p2;
    size_t n;
    get_params(m, &p1, &n);
    get_params(m2, &p2, &n);
    tu_check_bits("saved and reloaded params", p2, p1, n);
    // Saving again over an existing directory replaces it.
    assert_int_equal(train_save_hf(m2, out, NULL, &e), 0);
    assert_true(file_exists(f2));
    free(p1), free(p2);
    buf_free(&cj);
    free(f1), free(f2), free(f3);
    toy_model_free(m);
    toy_model_free(m2);
    free(out);
    free(vocab);
    dir_remove_recursive(dir);
    free(dir);
}

// ---- resume checks the whole run (its fingerprint) -------------------------------------------
static void expect_resume_refused(const char *cfg, uint64_t init, const aca_dataset *d, const aca_train_opts *o,
                                  const char *want) {
    aca_model *m = toy_model(cfg, init, 8, MAX_LEN);
    expect_err(m, d, o, ACA_ERR_VALUE, want);
    toy_model_free(m);
}

// Stop a run, then --resume it with one thing changed: each is refused naming the field and both
// values (a checkpoint used to be accepted when its parameter count, total steps and seed matched:
// another dataset of the same size, lr, max length, bucketing or head count resumed silently).
static void test_resume_refuses_another_run(void **st) {
    (void)st;
    aca_dataset d, d2;
    toy_dataset(&d, 1, N_DOCS, MAX_LEN);
    toy_dataset(&d2, 2, N_DOCS, MAX_LEN); // same size: the same total steps
    char *dir = tmpdir_make();
    aca_train_opts o = quick_opts();
    o.ckpt_dir = dir;
    o.stop_after = 3;
    o.fingerprint_extra = "tokenizer\tabc\n";
    aca_model *m = tiny_model(5);
    aca_train_stats s;
    aca_err e = {0};
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    toy_model_free(m);
    o.stop_after = 0;
    o.resume = 1;
    aca_train_opts x = o;
    x.lr = 1e-3;
    expect_resume_refused(TINY, 5, &d, &x, "--lr is 0.002 in the checkpoint but 0.001 now");
    x = o, x.bucket = 1;
    expect_resume_refused(TINY, 5, &d, &x, "--bucket is off in the checkpoint but on now");
    x = o, x.weight_decay = 0.01;
    expect_resume_refused(TINY, 5, &d, &x, "--weight-decay is 0 in the checkpoint but 0.01 now");
    x = o, x.max_grad_norm = 0.5;
    expect_resume_refused(TINY, 5, &d, &x, "--max-grad-norm is 1 in the checkpoint but 0.5 now");
    x = o, x.batch = 16;
    expect_resume_refused(TINY, 5, &d, &x, "--batch is 8 in the checkpoint but 16 now");
    x = o, x.per_example_grads = 1;
    expect_resume_refused(TINY, 5, &d, &x, "per-example gradients is off in the checkpoint but on now");
    x = o, x.dp = 1, x.dp_sigma = 0.5;
    expect_resume_refused(TINY, 5, &d, &x, "DP-SGD is off in the checkpoint but on now");
    expect_resume_refused(TINY, 5, &d2, &o, "training data is 48 documents, ");
    aca_dataset longer = d; // the same documents read at another --max-len (not owned: not freed)
    longer.max_len = 20;
    expect_resume_refused(TINY, 5, &longer, &o, "--max-len is 16 in the checkpoint but 20 now");
    char cfg4[sizeof TINY + 8];
    snprintf(cfg4, sizeof cfg4, "%s", TINY);
    memcpy(strstr(cfg4, "\"n_heads\":2"), "\"n_heads\":4", 11);
    expect_resume_refused(cfg4, 5, &d, &o, "config.json n_heads is 2 in the checkpoint but 4 now");
    expect_resume_refused(TINY, 6, &d, &o, "initial weights (--model checkpoint, or --config with --init-seed) is ");
    m = tiny_model(5);
    const char *names[] = {"x", "y", "z"};
    config_set_labels((aca_config *)model_config(m), 3, names);
    expect_err(m, &d, &o, ACA_ERR_VALUE, "config.json id2label is {\"0\": \"LABEL_0\"");
    toy_model_free(m);
    x = o, x.fingerprint_extra = "tokenizer\txyz\n";
    expect_resume_refused(TINY, 5, &d, &x, "tokenizer is abc in the checkpoint but xyz now");
    x = o, x.fingerprint_extra = NULL;
    expect_resume_refused(TINY, 5, &d, &x, "tokenizer is abc in the checkpoint but absent now");
    x = o, x.lr = 1e-3, x.bucket = 1, x.seed = 9;
    expect_resume_refused(TINY, 5, &d, &x, "--lr is 0.002 in the checkpoint but 0.001 now; also different: --seed, --bucket");
    // The same run resumes.
    m = tiny_model(5);
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    assert_int_equal(s.resumed, 1);
    toy_model_free(m);
    // A checkpoint of the format before fingerprints: refused, saying why.
    o.stop_after = 3, o.resume = 0;
    m = tiny_model(5);
    assert_int_equal(train_run(m, &d, &o, &s, &e), 0);
    char *path = path_join(dir, "trainer.ckpt");
    aca_buf b = {0};
    assert_int_equal(file_read_all(path, &b, &e), 0);
    memcpy(b.data, "ACACKPT1", 8);
    assert_int_equal(file_write_atomic(path, b.data, b.len, &e), 0);
    o.stop_after = 0, o.resume = 1;
    expect_err(m, &d, &o, ACA_ERR_FORMAT, "written by an older aca, without the fingerprint of its run");
    toy_model_free(m);
    buf_free(&b);
    free(path);
    dir_remove_recursive(dir);
    free(dir);
    dataset_free(&d), dataset_free(&d2);
}

// ---- a cased checkpoint end to end (tests/fixtures/make_cased_fixtures.py) --------------------
static void write_text(const char *dir, const char *name, const char *text) {
    char *p = path_join(dir, name);
    aca_err e = {0};
    assert_int_equal(file_write_atomic(p, text, strlen(text), &e), 0);
    free(p);
}

// `aca train/eval/run --model DIR` read DIR/vocab.txt as a plain (uncased) file: a cased checkpoint
// was fed other ids than Hugging Face feeds it, its token cache was the uncased one's, and the
// output directory had no tokenizer_config.json.  One condition (train, eval) on the cased
// fixture checkpoint, whose head lists Alpha, Beta, Gamma while the data lists Gamma, Alpha, Beta.
static void test_cased_checkpoint_end_to_end(void **st) {
    (void)st;
    aca_err e = {0};
    aca_buf jb = {0};
    assert_int_equal(file_read_all("tests/fixtures/cased_expected.json", &jb, &e), 0);
    cJSON *j = cJSON_Parse(jb.data);
    const cJSON *cases = cJSON_GetObjectItem(j, "cases"), *c;
    char *work = tmpdir_make(), *data = path_join(work, "data");
    assert_int_equal(dir_make(data, &e), 0);
    static const char *const classes[] = {"Gamma", "Alpha", "Beta"};
    write_text(data, "manifest.json", "{\"classes\": [\"Gamma\", \"Alpha\", \"Beta\"], \"seed\": 1}");
    aca_buf tr = {0}, te = {0};
    int i = 0;
    cJSON_ArrayForEach(c, cases) {
        const char *t = cJSON_GetObjectItem(c, "text")->valuestring;
        for (int r = 0; r < 3; r++) {
            buf_puts(&tr, "{\"text\": ");
            buf_json_str(&tr, t, strlen(t));
            buf_printf(&tr, ", \"label\": \"%s\"}\n", classes[(i + r) % 3]);
        }
        buf_puts(&te, "{\"text\": ");
        buf_json_str(&te, t, strlen(t));
        buf_printf(&te, ", \"label\": \"%s\"}\n", classes[i++ % 3]);
    }
    write_text(data, "train.jsonl", tr.data);
    write_text(data, "test.jsonl", te.data);
    aca_run_setup s;
    run_setup_default(&s);
    s.data_dir = data;
    s.model_dir = "tests/fixtures/cased_ckpt";
    s.max_len = cJSON_GetObjectItem(j, "max_len")->valueint;
    s.work_dir = work;
    s.keep_model = 1;
    s.train.epochs = 1;
    s.train.batch = 4;
    s.eval_batch = 4;
    aca_run_result r;
    aca_run_ctx cx;
    aca_run_cond cond;
    assert_int_equal(run_ctx_open(&cx, &s, &e), 0);
    run_cond_init(&cond, NULL);
    int rc = run_condition(&s, &cx, &cond, &r, &e);
    run_cond_free(&cond);
    run_ctx_close(&cx);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(r.eval.clean.n, 9);
    // The output directory: the data's class order, and a tokenizer that reads back cased, with
    // Hugging Face's ids.
    char *cfgp = path_join(r.model_out, "config.json"), *tcp = path_join(r.model_out, "tokenizer_config.json");
    aca_config cfg;
    assert_int_equal(config_load(cfgp, &cfg, &e), 0);
    for (int k = 0; k < 3; k++) assert_string_equal(cfg.labels[k], classes[k]);
    config_free(&cfg);
    aca_buf tc = {0};
    assert_int_equal(file_read_all(tcp, &tc, &e), 0);
    assert_non_null(strstr(tc.data, "\"do_lower_case\": false"));
    aca_tokenizer *out = tokenizer_load(r.model_out, -1, &e), *ck = tokenizer_load(s.model_dir, -1, &e);
    aca_tokenizer *plain = tokenizer_load("tests/fixtures/cased_ckpt/vocab.txt", -1, &e);
    assert_non_null(out), assert_non_null(ck), assert_non_null(plain);
    cJSON_ArrayForEach(c, cases) {
        const char *t = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        int32_t ids[64];
        int len;
        assert_int_equal(tokenizer_encode(out, t, strlen(t), s.max_len, ids, &len, &e), 0);
        assert_int_equal(len, cJSON_GetArraySize(want));
        for (int k = 0; k < len; k++) assert_int_equal(ids[k], cJSON_GetArrayItem(want, k)->valueint);
    }
    // The token cache the run wrote is keyed on the cased tokenizer, not the uncased reading.
    char *cache = path_join(work, "tokcache");
    DIR *dd = opendir(cache);
    assert_non_null(dd);
    struct dirent *de;
    int n_tok = 0;
    while ((de = readdir(dd))) {
        if (!strstr(de->d_name, ".tok")) continue;
        char *p = path_join(cache, de->d_name);
        tokcache_doc_set ds = {0};
        assert_int_equal(tokcache_read(p, &ds, &e), 0);
        assert_true(ds.key.tokenizer_hash == tokenizer_hash(ck));
        assert_true(ds.key.tokenizer_hash != tokenizer_hash(plain));
        tokcache_doc_set_free(&ds);
        free(p);
        n_tok++;
    }
    closedir(dd);
    assert_int_equal(n_tok, 2); // train.jsonl and test.jsonl
    tokenizer_free(out), tokenizer_free(ck), tokenizer_free(plain);
    run_result_free(&r);
    buf_free(&tc), buf_free(&tr), buf_free(&te), buf_free(&jb);
    free(cfgp), free(tcp), free(cache), free(data);
    cJSON_Delete(j);
    dir_remove_recursive(work);
    free(work);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_loss_scaler),
        cmocka_unit_test(test_epoch_order),
        cmocka_unit_test(test_fill_batch),
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_resume_bit_identical_bucketed),
        cmocka_unit_test(test_adam_state_out_of_memory),
        cmocka_unit_test(test_nan_loss_injected),
        cmocka_unit_test(test_nan_loss_diverging_lr),
        cmocka_unit_test(test_bad_options_and_data),
        cmocka_unit_test(test_checkpoint_mismatch_and_corruption),
        cmocka_unit_test(test_save_hf_roundtrip),
        cmocka_unit_test(test_resume_refuses_another_run),
        cmocka_unit_test(test_cased_checkpoint_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
