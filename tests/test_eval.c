// Evaluator tests: metrics on hand-made predictions (accuracy, confusion, efficacy over all probes,
// non-target probes and the clean target rate; joint-alone difference and Karan's CT), argmax predictions of a model whose head is set by hand,
// and the data-dir reader's errors.
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include "aca/datadir.h"
#include "aca/eval.h"
#include "aca/model.h"
#include "aca/ops.h"
#include "aca/tokenizer.h"

static void test_clean_metrics(void **st) {
    (void)st;
    // 3 classes, 8 docs: 5 right.
    int32_t labels[] = {0, 0, 1, 1, 2, 2, 2, 0};
    int32_t pred[] = {0, 1, 1, 1, 2, 0, 2, 2};
    aca_clean_metrics c;
    eval_clean(labels, pred, 8, 3, &c);
    assert_int_equal(c.n, 8);
    assert_int_equal(c.correct, 5);
    assert_true(c.accuracy == 5.0 / 8.0);
    long want[9] = {1, 1, 1, /**/ 0, 2, 0, /**/ 1, 0, 2};
    assert_memory_equal(c.confusion, want, sizeof want);
    clean_metrics_free(&c);
    eval_clean(labels, pred, 0, 3, &c);
    assert_true(isnan(c.accuracy)); // no documents: no accuracy, not 0 or 1
    clean_metrics_free(&c);
}

static void test_efficacy(void **st) {
    (void)st;
    const int target = 2;
    // 6 probes: true labels, 2 of them already of the target class; 4 predicted as the target,
    // of which 2 are non-target probes.
    int32_t pl[] = {0, 1, 2, 2, 0, 1};
    int32_t pp[] = {2, 0, 2, 2, 1, 2};
    // Clean test set: 5 docs, 1 predicted as the target (a non-target doc), 1 target doc missed.
    int32_t tl[] = {0, 1, 2, 0, 1};
    int32_t tp[] = {0, 2, 1, 0, 1};
    aca_efficacy f;
    memset(&f, 0, sizeof f);
    eval_efficacy(pl, pp, 6, tl, tp, 5, target, &f);
    assert_int_equal(f.target, 2);
    assert_int_equal(f.n, 6);
    assert_int_equal(f.hits, 4);
    assert_true(f.efficacy == 4.0 / 6.0);
    assert_int_equal(f.n_nontarget, 4);
    assert_int_equal(f.hits_nontarget, 2);
    assert_true(f.efficacy_nontarget == 0.5);
    assert_true(f.clean_target_rate == 1.0 / 5.0);
    assert_true(f.clean_target_rate_nontarget == 1.0 / 4.0);
    // Only target-class probes: non-target efficacy undefined (NaN), not 0.
    int32_t pl2[] = {2, 2}, pp2[] = {2, 1};
    eval_efficacy(pl2, pp2, 2, tl, tp, 5, target, &f);
    assert_true(f.efficacy == 0.5);
    assert_true(isnan(f.efficacy_nontarget));
    assert_true(isnan(f.agreement)); // 2 probes for 5 test documents: not paired
    // Agreement: probe i is test document i with the signal; here 3 of 5 keep their prediction.
    int32_t tp5[] = {0, 1, 2, 3, 4}, pp5[] = {0, 2, 2, 3, 0}, pl5[] = {0, 1, 2, 3, 4};
    eval_efficacy(pl5, pp5, 5, pl5, tp5, 5, target, &f);
    assert_true(f.agreement == 3.0 / 5.0);
}

static void test_ct(void **st) {
    (void)st;
    assert_true(fabs(eval_delta_joint_alone(0.4, 0.9) - (-0.5)) <= 1e-15);
    assert_true(fabs(eval_delta_joint_alone(0.95, 0.9) - 0.05) <= 1e-15);
    // Karan et al. 2025, Sec. 4.2: CT(c_i, c_j) = g(theta_ij)/g(theta') - g(theta_i)/g(theta'), by hand:
    //   g(theta_ij) = 0.39, g(theta_i) = 0.99, g(theta') = 0.15: 2.6 - 6.6 = -4.0;
    //   0.978 / 0.15 - 0.945 / 0.15 = 6.52 - 6.3 = +0.22;  0.5 / 0.5 - 0.25 / 0.5 = 0.5.
    assert_true(fabs(eval_ct_karan(0.39, 0.99, 0.15) - (-4.0)) <= 1e-12);
    assert_true(fabs(eval_ct_karan(0.978, 0.945, 0.15) - 0.22) <= 1e-12);
    assert_true(fabs(eval_ct_karan(0.5, 0.25, 0.5) - 0.5) <= 1e-12);
    // The same difference weighs more against a rarer unpoisoned rate.
    assert_true(fabs(eval_ct_karan(0.5, 0.6, 0.01) - (-10.0)) <= 1e-12);
    // Undefined, not infinite or 0: the unpoisoned model never predicts the target, or is missing.
    assert_true(isnan(eval_ct_karan(0.5, 0.4, 0.0)));
    assert_true(isnan(eval_ct_karan(0.5, 0.4, NAN)));
    assert_true(isnan(eval_ct_karan(NAN, 0.4, 0.2)));
    // aca's own lift-relative measure (JSON "ct_rel"): lift alone 0.9 - 0.1 = 0.8; joint lost 0.4 of it.
    assert_true(fabs(eval_delta_over_lift(0.5, 0.9, 0.1) - (-0.5)) <= 1e-12);
    assert_true(isnan(eval_delta_over_lift(0.5, 0.1, 0.2))); // no lift alone: undefined
}

// A tiny model whose head is zero except the classifier bias: every document is predicted as the
// class with the largest bias (ties: the first, as torch.argmax).
static void test_predict_argmax(void **st) {
    (void)st;
    static const char CFG[] = "{\"model_type\":\"distilbert\",\"vocab_size\":20,\"max_position_embeddings\":16,"
                              "\"dim\":8,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":16,\"num_labels\":4}";
    aca_err e = {0};
    aca_config c;
    assert_int_equal(config_parse(CFG, "CFG", &c, &e), 0);
    aca_backend *be = aca_backend_cpu_create(&e);
    aca_model *m = model_create(&c, be, 4, 16, &e);
    assert_non_null(m);
    model_init_random(m, 1);
    size_t n = model_num_params(m);
    float *p = malloc(n * sizeof *p);
    model_get_params(m, p);
    const aca_param_info *w = model_param_find(m, "classifier.weight"), *b = model_param_find(m, "classifier.bias");
    assert_non_null(w);
    assert_non_null(b);
    memset(p + w->offset, 0, w->numel * sizeof *p);
    float bias[4] = {0.1f, 0.7f, 0.7f, -1.0f};
    memcpy(p + b->offset, bias, sizeof bias);
    model_set_params(m, p);
    int32_t ids[] = {1, 5, 2, 1, 6, 7, 2, 1, 2, 1, 9, 9, 9, 2, 1, 3, 2};
    int32_t lens[] = {3, 4, 2, 5, 3};
    aca_dataset d;
    dataset_from_arrays(&d, 5, ids, lens, NULL, 8);
    int32_t pred[5] = {-1, -1, -1, -1, -1};
    assert_int_equal(eval_predict(m, &d, 2, pred, &e), 0); // batch 2: a partial last batch
    for (int i = 0; i < 5; i++) assert_int_equal(pred[i], 1);
    // The bias alone decides: class 3 now.
    bias[3] = 2.0f;
    memcpy(p + b->offset, bias, sizeof bias);
    model_set_params(m, p);
    assert_int_equal(eval_predict(m, &d, 4, pred, &e), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(pred[i], 3);
    // NaN logits are an error, not class 0.
    p[b->offset] = NAN;
    model_set_params(m, p);
    assert_int_equal(eval_predict(m, &d, 4, pred, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_NUMERIC);
    assert_int_equal(eval_predict(m, &d, 0, pred, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_VALUE);
    dataset_free(&d);
    free(p);
    model_free(m);
    aca_backend_destroy(be);
    config_free(&c);
}

// ---- the data dir ------------------------------------------------------------------------------
static char *mkdir_tmp(void) {
    char *t = xstrdup("/tmp/aca_test_eval_XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static void put(const char *dir, const char *name, const char *text) {
    aca_err e = {0};
    char *p = path_join(dir, name);
    assert_int_equal(file_write_atomic(p, text, strlen(text), &e), 0);
    free(p);
}

static const char MANIFEST[] =
    "{\"seed\": 42, \"classes\": [\"Java Developer\", \"Web Developer\", \"Software Developer\"],"
    " \"collectives\": [{\"name\": \"A\", \"target\": \"software_developer\"}, {\"name\": \"B\", \"target\": \"Web Developer\"}]}";

static void full_dir(const char *d) {
    put(d, "manifest.json", MANIFEST);
    put(d, "train.jsonl", "{\"text\":\"a b\",\"label\":\"Web Developer\"}\n");
    put(d, "test.jsonl", "{\"text\":\"a b\",\"label\":\"Web Developer\"}\n");
    put(d, "probe_A.jsonl", "{\"text\":\"a b\",\"label\":\"Web Developer\"}\n");
    put(d, "probe_B.jsonl", "{\"text\":\"a b\",\"label\":\"Web Developer\"}\n");
}

static void expect_open_err(const char *dir, aca_err_kind kind, const char *needle) {
    aca_datadir dd;
    aca_err e = {0};
    assert_int_equal(datadir_open(dir, &dd, &e), -1);
    if (e.kind != kind || !strstr(e.msg, needle)) {
        print_error("want kind %d containing '%s', got kind %d: %s\n", kind, needle, e.kind, e.msg);
        fail();
    }
}

static void test_datadir(void **st) {
    (void)st;
    char *d = mkdir_tmp();
    full_dir(d);
    aca_datadir dd;
    aca_err e = {0};
    int rc = datadir_open(d, &dd, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(dd.n_classes, 3);
    assert_int_equal(dd.n_coll, 2);
    assert_string_equal(dd.coll[0].name, "A");
    assert_int_equal(dd.coll[0].target_id, 2); // matched case-insensitively, '_' as ' '
    assert_string_equal(dd.coll[0].target, "Software Developer");
    assert_int_equal(dd.coll[1].target_id, 1);
    assert_int_equal(dd.seed, 42);
    assert_non_null(strstr(dd.coll[1].probe_path, "probe_B.jsonl"));
    datadir_free(&dd);

    char *p = path_join(d, "probe_B.jsonl");
    unlink(p);
    expect_open_err(d, ACA_ERR_IO, "probe_B.jsonl: missing");
    free(p);
    full_dir(d);
    p = path_join(d, "test.jsonl");
    unlink(p);
    expect_open_err(d, ACA_ERR_IO, "test.jsonl: missing");
    free(p);
    full_dir(d);
    put(d, "manifest.json", "{\"classes\": [\"x\"]}");
    expect_open_err(d, ACA_ERR_FORMAT, "\"classes\"");
    put(d, "manifest.json", "{\"classes\": [\"x\", \"y\"], \"collectives\": [{\"name\": \"A\", \"target\": \"z\"}]}");
    expect_open_err(d, ACA_ERR_FORMAT, "target \"z\" is not in \"classes\"");
    put(d, "manifest.json", "not json");
    expect_open_err(d, ACA_ERR_FORMAT, "manifest.json:1: invalid JSON at column 1");
    put(d, "manifest.json", "[1, 2]");
    expect_open_err(d, ACA_ERR_FORMAT, "manifest.json: not a JSON object");
    put(d, "manifest.json", "{\"classes\": [\"x\", \"y\"]} {}");
    expect_open_err(d, ACA_ERR_FORMAT, "manifest.json:1: invalid JSON at column 25: content after the JSON value");
    p = path_join(d, "manifest.json");
    unlink(p);
    expect_open_err(d, ACA_ERR_IO, "manifest.json: missing");
    free(p);
    expect_open_err("/nonexistent/aca/dir", ACA_ERR_IO, "missing");
    dir_remove_recursive(d);
    free(d);
}

// ---- the data dir's JSONL reader: texts by length, strict lines --------------------------------
static const char *const DD_CLASSES[] = {"A", "B"};

static void put_bytes(const char *dir, const char *name, const char *s, size_t n) {
    aca_err e = {0};
    char *p = path_join(dir, name);
    assert_int_equal(file_write_atomic(p, s, n, &e), 0);
    free(p);
}
#define PUT_BYTES(dir, name, lit) put_bytes(dir, name, lit, sizeof lit - 1)

static int dd_load(const char *dir, const char *name, const aca_tokenizer *t, aca_dataset *d, aca_err *e) {
    char *p = path_join(dir, name);
    int rc = data_load_jsonl(p, (char *const *)DD_CLASSES, 2, t, 32, NULL, d, e);
    free(p);
    return rc;
}

static void dd_err(const char *dir, const char *name, const aca_tokenizer *t, const char *want) {
    aca_dataset d;
    aca_err e;
    TU_EXPECT_ERR(dd_load(dir, name, t, &d, &e), &e, want);
}

// Document i of d holds exactly the tokens of `text` (with [CLS] ... [SEP]).
static void expect_ids(const aca_dataset *d, size_t i, const aca_tokenizer *t, const char *text) {
    int32_t want[32];
    int n;
    aca_err e = {0};
    TU_OK(tokenizer_encode(t, text, strlen(text), 32, want, &n, &e), &e);
    assert_int_equal(dataset_len(d, i), n);
    assert_memory_equal(d->ids + d->off[i], want, (size_t)n * sizeof *want);
}

static void test_datadir_jsonl(void **st) {
    (void)st;
    aca_err e = {0};
    aca_tokenizer *t = tokenizer_load("models/vocab/bert-base-uncased.txt", -1, &e);
    TU_OK(t == NULL, &e);
    char *d = mkdir_tmp();
    aca_dataset ds;
    // \u0000 in a text: the words after it are still there (the reader cut the text at the NUL)
    put(d, "nul.jsonl", "{\"text\": \"java\\u0000 developer [SEP] web\", \"label\": \"B\"}\n"
                        "{\"text\": \"\\u0000python\", \"label\": \"A\"}\n");
    TU_OK(dd_load(d, "nul.jsonl", t, &ds, &e), &e);
    assert_int_equal(ds.n, 2);
    expect_ids(&ds, 0, t, "java developer [SEP] web");
    expect_ids(&ds, 1, t, "python");
    assert_int_equal(ds.labels[0], 1);
    dataset_free(&ds);
    // a raw NUL between lines: an error, not the end of the file (60 documents became 30)
    PUT_BYTES(d, "rawnul.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\n\0\n{\"text\": \"b\", \"label\": \"B\"}\n");
    dd_err(d, "rawnul.jsonl", t, "rawnul.jsonl:2: column 1: a NUL byte outside a string");
    PUT_BYTES(d, "rawnul2.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\0\n{\"text\": \"b\", \"label\": \"B\"}\n");
    dd_err(d, "rawnul2.jsonl", t, "rawnul2.jsonl:1: column 28: a NUL byte after the JSON value");
    // trailing content and a second object on a line
    put(d, "two.jsonl", "{\"text\": \"a\", \"label\": \"A\"} {\"text\": \"b\", \"label\": \"B\"}\n");
    dd_err(d, "two.jsonl", t, "two.jsonl:1: column 29: content after the JSON value");
    put(d, "junk.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\n{\"text\": \"b\", \"label\": \"B\"}}\n");
    dd_err(d, "junk.jsonl", t, "junk.jsonl:2: column 28: content after the JSON value");
    // labels: a number says so; U+0000 in a label is an error
    put(d, "num.jsonl", "{\"text\": \"a\", \"label\": 7}\n");
    dd_err(d, "num.jsonl", t, "num.jsonl:1: field \"label\" must be a string (a class name), not a number (7)");
    put(d, "nullab.jsonl", "{\"text\": \"a\", \"label\": \"A\\u0000B\"}\n");
    dd_err(d, "nullab.jsonl", t, "nullab.jsonl:1: field \"label\" holds U+0000");
    // a BOM, CRLF endings and a last line without a newline are fine
    PUT_BYTES(d, "bom.jsonl", "\xEF\xBB\xBF{\"text\": \"a\", \"label\": \"A\"}\r\n\r\n{\"text\": \"b\", \"label\": \"B\"}");
    TU_OK(dd_load(d, "bom.jsonl", t, &ds, &e), &e);
    assert_int_equal(ds.n, 2);
    dataset_free(&ds);
    // a manifest string holding U+0000 names the field
    full_dir(d);
    put(d, "manifest.json", "{\"classes\": [\"x\\u0000y\", \"y\"]}");
    expect_open_err(d, ACA_ERR_VALUE, "manifest.json: classes[0]: holds U+0000");
    dir_remove_recursive(d);
    free(d);
    tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_metrics), cmocka_unit_test(test_efficacy), cmocka_unit_test(test_ct),
        cmocka_unit_test(test_predict_argmax), cmocka_unit_test(test_datadir),
        cmocka_unit_test(test_datadir_jsonl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
