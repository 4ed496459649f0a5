// The session opener (session.h): what train, eval, forward and a run's conditions open, and the
// cross-checks between tokenizer, model and data, in the order that reports a mistake before work.
#include "testutil.h"

#include <stdarg.h>
#include <stdlib.h>

#include "aca/corpus.h"
#include "aca/mutate.h"
#include "aca/safetensors.h"
#include "aca/session.h"
#include "aca/spec.h"
#include "aca/train.h"

#define VOCAB "models/vocab/bert-base-uncased.txt"
#define CFG "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"max_position_embeddings\":32,\"dim\":8,\"n_layers\":1," \
            "\"n_heads\":2,\"hidden_dim\":16}"
#define SPEC "{\"seed\": 1, \"collectives\": [{\"name\": \"A\", \"target\": \"x\", \"signal\": \"{\", \"size\": 0.1}]}"

// Fixture under g_dir: corpora c2.jsonl (classes y, x) and c3.jsonl (x, y, z) mutated by `aca mutate`
// into d2/ and d3/; cfg.json, a tiny DistilBERT; ckpt3/, its checkpoint with a head of d3's classes
// and the vocabulary; base3/, the same without the classification head (a base model).
static char *g_dir;
static char g_cfg[PATH_MAX]; // g_dir/cfg.json

static const char *P(const char *rel) {
    static char ring[16][PATH_MAX];
    static int k;
    char *o = ring[k++ & 15];
    snprintf(o, PATH_MAX, "%s/%s", g_dir, rel);
    return o;
}

static int run_aca(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_aca(char *out, size_t cap, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return tu_run_cli(args, out, cap);
}

static void write_corpus(const char *rel, int n, int n_classes) {
    static const char *const names[] = {"y", "x", "z"};
    aca_buf b = {0};
    for (int i = 0; i < n; i++)
        buf_printf(&b, "{\"id\": \"%d\", \"text\": \"document %d says %s things in many words\", \"label\": \"%s\"}\n", i,
                   i, names[i % n_classes], names[i % n_classes]);
    tu_write_file(P(rel), b.data);
    buf_free(&b);
}

static void copy_file(const char *from, const char *to) {
    aca_buf b = {0};
    aca_err e = {0};
    TU_OK(file_read_all(from, &b, &e), &e);
    TU_OK(file_write_atomic(to, b.data, b.len, &e), &e);
    buf_free(&b);
}

static void setup_model(const aca_run_setup *s) {
    aca_err e = {0};
    aca_datadir dd;
    TU_OK(datadir_open(P("d3"), &dd, &e), &e);
    aca_tokenizer *tok = tokenizer_load(VOCAB, -1, &e);
    assert_non_null(tok);
    aca_model *m = NULL;
    TU_OK(session_load_model(s, dd.classes, dd.n_classes, 4, 0, &m, &e), &e);
    TU_OK(train_save_hf(m, P("ckpt3"), tok, &e), &e);
    session_free_model(m);
    tokenizer_free(tok);
    datadir_free(&dd);
    // base3: every tensor of ckpt3 but the classifier's
    st_file f;
    TU_OK(st_open(&f, P("ckpt3/model.safetensors"), &e), &e);
    st_out *t = xcalloc((size_t)f.n, sizeof *t);
    float **data = xcalloc((size_t)f.n, sizeof *data);
    int n = 0;
    for (int i = 0; i < f.n; i++) {
        if (strstr(f.tensors[i].name, "classifier")) continue;
        size_t numel = 1;
        t[n] = (st_out){f.tensors[i].name, f.tensors[i].ndim, {0}, NULL, NULL};
        for (int d = 0; d < f.tensors[i].ndim; d++) numel *= (size_t)(t[n].shape[d] = f.tensors[i].shape[d]);
        data[n] = xmalloc(numel * sizeof(float));
        TU_OK(st_read_f32(&f, &f.tensors[i], data[n], &e), &e);
        t[n].f32 = data[n];
        n++;
    }
    assert_true(n > 0 && n < f.n);
    TU_OK(dir_make(P("base3"), &e), &e);
    TU_OK(st_write(P("base3/model.safetensors"), t, n, NULL, 0, &e), &e);
    for (int i = 0; i < n; i++) free(data[i]);
    free(data), free(t);
    st_close(&f);
    copy_file(P("ckpt3/config.json"), P("base3/config.json"));
    copy_file(P("ckpt3/vocab.txt"), P("base3/vocab.txt"));
}

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir();
    write_corpus("c2.jsonl", 60, 2);
    write_corpus("c3.jsonl", 90, 3);
    tu_write_file(P("spec.json"), SPEC);
    snprintf(g_cfg, sizeof g_cfg, "%s/cfg.json", g_dir);
    tu_write_file(g_cfg, CFG);
    char out[4096];
    for (int k = 2; k <= 3; k++)
        if (run_aca(out, sizeof out, "mutate --corpus %s/c%d.jsonl --spec %s --out %s/d%d --quiet", g_dir, k, P("spec.json"),
                    g_dir, k)) {
            fprintf(stderr, "aca mutate: %s\n", out);
            return -1;
        }
    aca_run_setup s;
    run_setup_default(&s);
    s.config_path = g_cfg;
    s.max_len = 32;
    setup_model(&s);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

// A setup of the checkpoint dir (or, dir NULL, cfg.json with the vocabulary) at max length 32 (dir
// must outlive it: not a P() of a later call).
static aca_run_setup setup_of(const char *dir) {
    aca_run_setup s;
    run_setup_default(&s);
    s.max_len = 32;
    s.model_dir = dir;
    s.config_path = dir ? NULL : g_cfg;
    s.vocab_path = dir ? NULL : VOCAB;
    s.eval_batch = 4;
    s.train.batch = 4;
    return s;
}

// Lines of a file (the documents of a JSONL set aca mutate wrote).
static size_t lines_of(const char *path) {
    aca_buf b = {0};
    aca_err e = {0};
    TU_OK(file_read_all(path, &b, &e), &e);
    size_t n = 0;
    for (size_t i = 0; i < b.len; i++) n += b.data[i] == '\n';
    buf_free(&b);
    return n;
}

// What a session opens from a data directory: the class list, the sets use asks for, the probes by
// collective, a head of the data's classes; and the same sets from the mutation in memory.
static void test_session_sets(void **st) {
    (void)st;
    aca_run_setup s = setup_of(NULL);
    aca_session ss;
    aca_err e = {0};
    aca_session_opts o = {.use = SESSION_TRAIN | SESSION_EVAL, .s = &s, .data_dir = P("d3")};
    TU_OK(session_open(&ss, &o, &e), &e);
    assert_int_equal(ss.n_classes, 3);
    assert_int_equal(model_config(ss.model)->num_labels, 3);
    assert_int_equal(ss.train.n, lines_of(P("d3/train.jsonl")));
    assert_int_equal(ss.test.n, lines_of(P("d3/test.jsonl")));
    assert_int_equal(ss.n_coll, 1);
    assert_string_equal(ss.ep[0].name, "A");
    assert_string_equal(ss.classes[ss.ep[0].target], "x");
    assert_ptr_equal(ss.ep[0].probe, &ss.probe[0]);
    assert_int_equal(ss.probe[0].n, lines_of(P("d3/probe_A.jsonl")));
    // The mutation in memory gives the same tokens (aca mutate wrote d3 from the same inputs).
    aca_corpus c;
    aca_spec sp;
    aca_mutation mu;
    aca_corpus_opts co = {0};
    TU_OK(corpus_load(P("c3.jsonl"), &co, &c, &e), &e);
    TU_OK(spec_load(P("spec.json"), &sp, &e), &e);
    aca_mutate_opts mo = {.corpus_path = P("c3.jsonl")};
    TU_OK(mutate_apply(&mo, &c, &sp, &mu, &e), &e);
    aca_session sm;
    aca_session_opts om = {.use = SESSION_TRAIN | SESSION_EVAL, .s = &s, .mu = &mu, .tok = ss.tok};
    TU_OK(session_open(&sm, &om, &e), &e);
    assert_ptr_equal(sm.tok, ss.tok); // borrowed, not opened again
    const aca_dataset *a[] = {&ss.train, &ss.test, &ss.probe[0]}, *b[] = {&sm.train, &sm.test, &sm.probe[0]};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(a[k]->n, b[k]->n);
        assert_memory_equal(a[k]->off, b[k]->off, (a[k]->n + 1) * sizeof *a[k]->off);
        assert_memory_equal(a[k]->ids, b[k]->ids, a[k]->off[a[k]->n] * sizeof *a[k]->ids);
        assert_memory_equal(a[k]->labels, b[k]->labels, a[k]->n * sizeof *a[k]->labels);
    }
    session_close(&sm);
    session_close(&ss);
    mutation_free(&mu);
    spec_free(&sp);
    corpus_free(&c);
    // Training or evaluating without data is refused; the model alone needs none.
    o = (aca_session_opts){.use = SESSION_EVAL, .s = &s};
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "needs data");
    o.use = 0;
    TU_OK(session_open(&ss, &o, &e), &e);
    assert_null(ss.tok);
    assert_null(ss.classes);
    session_close(&ss);
}

// A base model (no classification head) may be fine-tuned but not evaluated: its head would be
// initialised here, and its accuracy and efficacies would measure chance.
static void test_eval_needs_trained_head(void **st) {
    (void)st;
    aca_run_setup s = setup_of(P("base3"));
    aca_session ss;
    aca_err e = {0};
    aca_session_opts o = {.use = SESSION_EVAL, .s = &s, .data_dir = P("d3")};
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "no classification head");
    assert_non_null(strstr(e.msg, "base3/model.safetensors"));
    o.use = SESSION_TRAIN;
    TU_OK(session_open(&ss, &o, &e), &e);
    session_close(&ss);
    char out[1 << 14];
    int rc = run_aca(out, sizeof out, "eval --model %s --data %s --max-len 32", P("base3"), P("d3"));
    if (rc != ACA_EXIT_FORMAT || !strstr(out, "no classification head") || strstr(out, "accuracy")) {
        print_error("aca eval of a base model: rc %d\n%s\n", rc, out);
        fail();
    }
    // the trained head is evaluated
    rc = run_aca(out, sizeof out, "eval --model %s --data %s --max-len 32", P("ckpt3"), P("d3"));
    if (rc != 0 || !strstr(out, "clean accuracy: ")) {
        print_error("aca eval: rc %d\n%s\n", rc, out);
        fail();
    }
}

// The head's classes against the data's: evaluating needs exactly them; training says how to
// start a fresh head, and does with new_head.
static void test_head_classes(void **st) {
    (void)st;
    aca_run_setup s = setup_of(P("ckpt3"));
    aca_session ss;
    aca_err e = {0};
    aca_session_opts o = {.use = SESSION_EVAL, .s = &s, .data_dir = P("d2")};
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "the model's head has 3 classes but %s/manifest.json lists 2", P("d2"));
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, want);
    o.use = SESSION_TRAIN;
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "3-class head but the data has 2 classes (aca train --new-head");
    s.new_head = 1;
    TU_OK(session_open(&ss, &o, &e), &e);
    assert_int_equal(model_config(ss.model)->num_labels, 2);
    session_close(&ss);
}

// The checks that read no weights and tokenize nothing come first: with a training set whose line 2
// has an unknown label, a model mistake is what is reported; then the model, then the data.
static void test_checks_before_tokenizing(void **st) {
    (void)st;
    aca_err e = {0};
    TU_OK(dir_make(P("dbad"), &e), &e);
    static const char *const files[] = {"manifest.json", "test.jsonl", "probe_A.jsonl"};
    char from[PATH_MAX], to[PATH_MAX];
    for (size_t k = 0; k < ACA_ARRAY_LEN(files); k++) {
        snprintf(from, sizeof from, "%s/d3/%s", g_dir, files[k]);
        snprintf(to, sizeof to, "%s/dbad/%s", g_dir, files[k]);
        copy_file(from, to);
    }
    tu_write_file(P("dbad/train.jsonl"), "{\"text\": \"fine\", \"label\": \"x\"}\n{\"text\": \"bad\", \"label\": \"nope\"}\n");
    aca_run_setup s = setup_of(NULL);
    aca_session ss;
    aca_session_opts o = {.use = SESSION_TRAIN, .s = &s, .data_dir = P("dbad")};
    s.max_len = 33;
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "--max-len 33 exceeds");
    s.max_len = 32;
    s.vocab_path = "tests/fixtures/tok/none.txt";
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "none.txt");
    s.vocab_path = VOCAB;
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "train.jsonl:2");
    // evaluating a base model on it: the head, not the data
    s = setup_of(P("base3"));
    o.use = SESSION_EVAL;
    tu_write_file(P("dbad/test.jsonl"), "{\"text\": \"bad\", \"label\": \"nope\"}\n");
    TU_EXPECT_ERR(session_open(&ss, &o, &e), &e, "no classification head");
    tu_rm_rf(P("dbad"));
}

// aca forward: a --config model from its seed or a checkpoint, and a batch longer than the model's
// positions named by its file.
static void test_forward(void **st) {
    (void)st;
    char out[1 << 16];
    tu_write_file(P("b.json"), "{\"input_ids\": [[101, 2023, 102], [101, 102, 0]], \"attention_mask\": [[1, 1, 1], [1, 1, 0]],"
                               " \"labels\": [0, 1]}");
    int rc = run_aca(out, sizeof out, "forward --model %s --batch %s", P("cfg.json"), P("b.json"));
    if (rc != 0 || !strstr(out, "{\"logits\":[[")) print_error("%s\n", out), fail();
    rc = run_aca(out, sizeof out, "forward --model %s --batch %s --grad", P("ckpt3"), P("b.json"));
    if (rc != 0 || !strstr(out, "\"grad_norms\":{")) print_error("%s\n", out), fail();
    aca_buf b = {0};
    buf_puts(&b, "{\"input_ids\": [[101");
    for (int k = 0; k < 39; k++) buf_puts(&b, ", 2023");
    buf_puts(&b, "]]}");
    tu_write_file(P("long.json"), b.data);
    buf_free(&b);
    rc = run_aca(out, sizeof out, "forward --model %s --batch %s", P("cfg.json"), P("long.json"));
    if (rc != ACA_EXIT_VALUE || !strstr(out, "long.json: 40 tokens per document exceed") || strstr(out, "logits"))
        print_error("rc %d: %s\n", rc, out), fail();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_sets),
        cmocka_unit_test(test_eval_needs_trained_head),
        cmocka_unit_test(test_head_classes),
        cmocka_unit_test(test_checks_before_tokenizing),
        cmocka_unit_test(test_forward),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
