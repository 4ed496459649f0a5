// Tests of one condition / experiment: the locked results append under concurrent writers, the
// result JSON, the experiment summary and CT, and (end to end, tiny) mutate + tokenize + train + eval.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/run.h"
#include "aca/session.h"

static char *mkdir_tmp(void) {
    char *t = xstrdup("/tmp/aca_test_run_XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

// Four processes append 200 lines each of different lengths: every line arrives whole.
static void test_results_append_concurrent(void **st) {
    (void)st;
    char *d = mkdir_tmp();
    char *path = path_join(d, "results.jsonl");
    enum { PROCS = 4, LINES = 200 };
    for (int p = 0; p < PROCS; p++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            aca_err e = {0};
            aca_buf b = {0};
            for (int i = 0; i < LINES; i++) {
                buf_clear(&b);
                buf_printf(&b, "{\"proc\":%d,\"i\":%d,\"pad\":\"", p, i);
                for (int k = 0; k < (i * 37 + p * 101) % 3000; k++) buf_putc(&b, 'a' + (char)(k % 26));
                buf_puts(&b, "\"}");
                if (run_results_append(path, b.data, b.len, &e)) _exit(1);
            }
            buf_free(&b);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        wait(&status);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    aca_buf all = {0};
    aca_err e = {0};
    assert_int_equal(file_read_all(path, &all, &e), 0);
    int count[PROCS] = {0}, lines = 0;
    for (char *s = all.data, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        assert_non_null(nl); // the file ends with a newline
        *nl = 0;
        cJSON *o = cJSON_Parse(s);
        assert_non_null(o);
        int p = cJSON_GetObjectItem(o, "proc")->valueint, i = cJSON_GetObjectItem(o, "i")->valueint;
        assert_int_equal(i, count[p]); // each writer's lines in its order
        count[p]++;
        lines++;
        cJSON_Delete(o);
    }
    assert_int_equal(lines, PROCS * LINES);
    buf_free(&all);
    assert_int_equal(run_results_append("/nonexistent/dir/r.jsonl", "{}", 2, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_IO);
    assert_non_null(strstr(e.msg, "/nonexistent/dir/r.jsonl"));
    dir_remove_recursive(d);
    free(path);
    free(d);
}

// A hand-filled condition result for the JSON and the summary.
static void fake_result(aca_run_result *r, aca_run_act act, const char *only, double acc, const double *eff,
                        const double *base) {
    memset(r, 0, sizeof *r);
    r->act = act;
    r->only = only ? xstrdup(only) : NULL;
    if (act == RUN_ACT_ONE) {
        char b[64];
        snprintf(b, sizeof b, "alone-%s", only);
        r->cond_name = xstrdup(b);
    } else {
        r->cond_name = xstrdup(run_act_name(act));
    }
    r->classes = xcalloc(2, sizeof *r->classes);
    r->classes[0] = xstrdup("Software Developer");
    r->classes[1] = xstrdup("Web \"Developer\""); // needs escaping in JSON
    r->eval.clean.K = 2;
    r->eval.clean.n = 100;
    r->eval.clean.correct = (size_t)(acc * 100);
    r->eval.clean.accuracy = acc;
    r->eval.clean.confusion = xcalloc(4, sizeof(long));
    r->eval.n_coll = 2;
    r->eval.eff = xcalloc(2, sizeof *r->eval.eff);
    const char *names[] = {"A", "B"};
    for (int i = 0; i < 2; i++) {
        r->eval.eff[i].name = xstrdup(names[i]);
        r->eval.eff[i].target = i;
        r->eval.eff[i].efficacy = eff[i];
        r->eval.eff[i].efficacy_nontarget = eff[i] - 0.01;
        r->eval.eff[i].clean_target_rate = base[i];
        r->eval.eff[i].n = 100;
    }
    snprintf(r->device, sizeof r->device, "cpu/fp32");
    r->train.steps = 10;
    r->train.last_epoch_loss = NAN; // must come out as null, not nan
}

static void test_result_json(void **st) {
    (void)st;
    aca_run_setup s;
    run_setup_default(&s);
    s.corpus_path = "c.txt";
    s.spec_path = "s.json";
    s.config_path = "tiny.json";
    aca_run_result r;
    double eff[] = {0.9, 0.2}, base[] = {0.1, 0.05};
    fake_result(&r, RUN_ACT_ONE, "A", 0.8, eff, base);
    aca_buf b = {0};
    run_result_to_json(&s, &r, &b);
    assert_null(strchr(b.data, '\n')); // one line
    cJSON *o = cJSON_Parse(b.data);
    if (!o) print_error("invalid JSON: %s\n", b.data);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "condition")->valuestring, "alone-A");
    assert_string_equal(cJSON_GetObjectItem(o, "git")->valuestring, aca_git_revision());
    const cJSON *cfg = cJSON_GetObjectItem(o, "config");
    assert_int_equal(cJSON_GetObjectItem(cfg, "epochs")->valueint, 5);
    assert_true(cJSON_GetObjectItem(cfg, "lr")->valuedouble == 5e-5);
    assert_non_null(cJSON_GetObjectItem(o, "seeds"));
    assert_non_null(cJSON_GetObjectItem(o, "timings"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "train"), "last_epoch_loss")));
    const cJSON *met = cJSON_GetObjectItem(o, "metrics");
    assert_true(cJSON_GetObjectItem(met, "accuracy")->valuedouble == 0.8);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(met, "classes"), 1)->valuestring, "Web \"Developer\"");
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(met, "collectives"), 0);
    assert_true(cJSON_GetObjectItem(c0, "efficacy")->valuedouble == 0.9);
    assert_true(cJSON_GetObjectItem(c0, "clean_target_rate")->valuedouble == 0.1);
    assert_true(cJSON_GetObjectItem(c0, "baseline")->valuedouble == 0.1); // the old name, kept for readers
    cJSON_Delete(o);
    buf_free(&b);
    run_result_free(&r);
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!v) fail_msg("no field \"%s\"", k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// The experiment's measures from hand-made results; expected values by hand (Karan et al. 2025,
// Sec. 4.2: CT = (g(joint) - g(alone)) / g(unpoisoned), g = efficacy on the collective's probes).
// A condition is its acting set: the empty set is the unpoisoned baseline, one collective acts
// alone, every collective is "joint", and a subset of two or more is named after its members.
static void test_conditions(void **st) {
    (void)st;
    static const struct {
        const char *acting, *name;
        aca_run_act act;
    } cases[] = {{"", "none", RUN_ACT_NONE},
                 {"A", "alone-A", RUN_ACT_ONE},
                 {NULL, "joint", RUN_ACT_ALL},
                 {"A,C", "joint-A,C", RUN_ACT_ALL},
                 {"B1,C,D.x", "joint-B1,C,D.x", RUN_ACT_ALL}};
    for (size_t k = 0; k < ACA_ARRAY_LEN(cases); k++) {
        aca_run_cond c;
        run_cond_init(&c, cases[k].acting);
        assert_string_equal(c.name, cases[k].name);
        assert_int_equal(c.act, cases[k].act);
        if (cases[k].acting) assert_string_equal(c.acting, cases[k].acting);
        else assert_null(c.acting);
        run_cond_free(&c);
    }
}

static void test_experiment_summary(void **st) {
    (void)st;
    aca_experiment x;
    memset(&x, 0, sizeof x);
    x.n_coll = 2;
    x.names = xcalloc(2, sizeof *x.names);
    x.names[0] = xstrdup("A");
    x.names[1] = xstrdup("B");
    x.alone = xcalloc(2, sizeof *x.alone);
    double base[] = {0.1, 0.05}, base_alone[] = {0.2, 0.07};
    double none_e[] = {0.12, 0.06}, a_e[] = {0.95, 0.1}, b_e[] = {0.1, 0.85}, j_e[] = {0.4, 0.5};
    fake_result(&x.none, RUN_ACT_NONE, NULL, 0.80, none_e, base);
    x.has_none = 1;
    fake_result(&x.alone[0], RUN_ACT_ONE, "A", 0.79, a_e, base_alone);
    fake_result(&x.alone[1], RUN_ACT_ONE, "B", 0.80, b_e, base_alone);
    fake_result(&x.joint, RUN_ACT_ALL, NULL, 0.78, j_e, base);
    aca_err e = {0};
    TU_OK(experiment_measure(&x, &e), &e);
    // A: 0.40 - 0.95 = -0.55; / 0.12 = -4.5833...  B: 0.50 - 0.85 = -0.35; / 0.06 = -5.8333...
    assert_true(fabs(x.delta[0] + 0.55) <= 1e-12 && fabs(x.delta[1] + 0.35) <= 1e-12);
    assert_true(fabs(x.ct_karan[0] - (-0.55 / 0.12)) <= 1e-12 && fabs(x.ct_karan[1] - (-0.35 / 0.06)) <= 1e-12);
    assert_true(x.unpoisoned_eff[0] == 0.12 && x.unpoisoned_rate[1] == 0.05);
    aca_buf t = {0}, j = {0};
    experiment_summary(&x, &t);
    assert_non_null(strstr(t.data, "alone-A"));
    assert_non_null(strstr(t.data, "95.0%"));
    assert_non_null(strstr(t.data, "unpoisoned target rate"));
    assert_non_null(strstr(t.data, "CT (Karan, normalised)"));
    assert_null(strstr(t.data, "baseline"));
    // Rows of the second table: name, difference in points, unpoisoned efficacy, Karan's CT.
    assert_non_null(strstr(t.data, "A                            -55.0           12.0%                   -4.58\n"));
    assert_non_null(strstr(t.data, "B                            -35.0            6.0%                   -5.83\n"));
    experiment_to_json(&x, &j);
    cJSON *o = cJSON_Parse(j.data);
    assert_non_null(o);
    const cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "collectives"), 1);
    assert_true(fabs(jnum(c1, "delta_joint_alone") - (-0.35)) <= 1e-6);
    assert_true(fabs(jnum(c1, "ct_karan") - (-0.35 / 0.06)) <= 1e-5);
    assert_true(jnum(c1, "unpoisoned_eff") == 0.06 && jnum(c1, "unpoisoned_target_rate") == 0.05);
    assert_true(jnum(c1, "alone_clean_target_rate") == 0.07);
    // Old names keep their old values: ct = the difference, baseline = the alone model's rate.
    assert_true(fabs(jnum(c1, "ct") - (-0.35)) <= 1e-6 && jnum(c1, "baseline") == 0.07);
    assert_true(fabs(jnum(c1, "ct_rel") - (-0.35 / (0.85 - 0.07))) <= 1e-5);
    assert_true(jnum(c1, "eff_alone") == 0.85);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "clean_accuracy"), "none")->valuedouble == 0.8);
    cJSON_Delete(o);
    buf_clear(&t), buf_clear(&j);
    // Without the unpoisoned condition there is no unpoisoned rate and no Karan CT: n/a and null.
    run_result_free(&x.none);
    x.has_none = 0;
    TU_OK(experiment_measure(&x, &e), &e);
    experiment_summary(&x, &t);
    assert_non_null(strstr(t.data, "A                            -55.0             n/a                     n/a\n"));
    experiment_to_json(&x, &j);
    o = cJSON_Parse(j.data);
    c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "collectives"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(c1, "ct_karan")) && cJSON_IsNull(cJSON_GetObjectItem(c1, "unpoisoned_target_rate")));
    cJSON_Delete(o);
    buf_free(&t);
    buf_free(&j);
    experiment_free(&x);
}

// A checkpoint's head must match the data's classes; a config builds a fresh head of any size.
static void test_load_model_head_mismatch(void **st) {
    (void)st;
    static const char CFG[] = "{\"model_type\":\"distilbert\",\"vocab_size\":20,\"max_position_embeddings\":16,"
                              "\"dim\":8,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":16}";
    char *d = mkdir_tmp();
    char *cfg = path_join(d, "tiny.json"), *ckpt = path_join(d, "ckpt");
    aca_err e = {0};
    assert_int_equal(file_write_atomic(cfg, CFG, strlen(CFG), &e), 0);
    char *three[] = {"a", "b", "c"}, *four[] = {"a", "b", "c", "d"};
    aca_run_setup s;
    run_setup_default(&s);
    s.max_len = 16;
    s.config_path = cfg;
    aca_model *m = NULL;
    int rc = session_load_model(&s, three, 3, 4, 0, &m, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(train_save_hf(m, ckpt, NULL, &e), 0);
    session_free_model(m);
    // From the checkpoint: 3 classes fine, 4 refused naming both counts.
    s.config_path = NULL;
    s.model_dir = ckpt;
    assert_int_equal(session_load_model(&s, three, 3, 4, 0, &m, &e), 0);
    session_free_model(m);
    m = NULL;
    assert_int_equal(session_load_model(&s, four, 4, 4, 0, &m, &e), -1);
    assert_null(m);
    if (!strstr(e.msg, "3-class head but the data has 4 classes")) {
        print_error("message: %s\n", e.msg);
        fail();
    }
    // Neither or both of model dir and config; max length beyond the positions.
    s.config_path = cfg;
    assert_int_equal(session_load_model(&s, three, 3, 4, 0, &m, &e), -1);
    assert_non_null(strstr(e.msg, "exactly one of"));
    s.model_dir = NULL;
    s.max_len = 17;
    assert_int_equal(session_load_model(&s, three, 3, 4, 0, &m, &e), -1);
    assert_non_null(strstr(e.msg, "max_position_embeddings 16"));
    s.max_len = 16;
    s.device = "tpu";
    assert_int_equal(session_load_model(&s, three, 3, 4, 0, &m, &e), -1);
    free(cfg);
    free(ckpt);
    dir_remove_recursive(d);
    free(d);
}

// End to end on a tiny scale: synthetic corpus (240 docs), one collective, a 1-layer dim-16
// DistilBERT for 2 epochs at max length 32: the unpoisoned, alone and joint conditions all run,
// land in the results file, and the unpoisoned training set carries no signal.
static void test_experiment_end_to_end(void **st) {
    (void)st;
    const char *vocab = "models/vocab/bert-base-uncased.txt";
    assert_true(file_exists(vocab)); // committed with the tokenizer (run tests from the repo root)
    static const char CFG[] = "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"max_position_embeddings\":32,"
                              "\"dim\":16,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":32}";
    static const char SPEC[] = "{\"seed\": 3, \"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\","
                               " \"signal\": \"U+2E18\", \"period\": 5, \"size\": 0.1}]}";
    char *d = mkdir_tmp();
    char *cfg = path_join(d, "tiny.json"), *spec = path_join(d, "spec.json"), *corpus = path_join(d, "corpus.txt"),
         *work = path_join(d, "work"), *results = path_join(d, "results.jsonl");
    aca_err e = {0};
    assert_int_equal(file_write_atomic(cfg, CFG, strlen(CFG), &e), 0);
    assert_int_equal(file_write_atomic(spec, SPEC, strlen(SPEC), &e), 0);
    assert_int_equal(corpus_synth_write(corpus, 240, 5, &e), 0);
    aca_run_setup s;
    run_setup_default(&s);
    s.corpus_path = corpus;
    s.spec_path = spec;
    s.n_train = 200;
    s.n_test = 40;
    s.config_path = cfg;
    s.vocab_path = vocab;
    s.max_len = 32;
    s.train.epochs = 2;
    s.train.batch = 16;
    s.train.lr = 1e-3;
    s.work_dir = work;
    aca_experiment x;
    int rc = run_experiment(&s, 1, results, NULL, NULL, &x, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(x.n_coll, 1);
    assert_true(x.has_none);
    assert_int_equal(x.none.train.steps, 26); // 2 epochs of ceil(200/16)
    const aca_efficacy *a = &x.alone[0].eval.eff[0], *j = &x.joint.eval.eff[0];
    assert_string_equal(a->name, "A");
    assert_int_equal(a->n, 40);
    assert_true(isfinite(x.alone[0].eval.clean.accuracy) && isfinite(a->efficacy));
    assert_true(x.delta[0] == j->efficacy - a->efficacy);
    // Karan's CT divides by the unpoisoned model's efficacy on the same probes.
    const aca_efficacy *u = &x.none.eval.eff[0];
    assert_true(x.unpoisoned_eff[0] == u->efficacy);
    if (u->efficacy > 0) assert_true(x.ct_karan[0] == (j->efficacy - a->efficacy) / u->efficacy);
    else assert_true(isnan(x.ct_karan[0]));
    // One collective: alone and joint are the same training, bit for bit.
    assert_true(a->efficacy == j->efficacy);
    assert_true(x.alone[0].eval.clean.accuracy == x.joint.eval.clean.accuracy);
    // The unpoisoned training set has no signal; the alone one has 20 members with it.
    aca_buf b = {0};
    char *p = path_join(work, "none/data/train.jsonl");
    assert_int_equal(file_read_all(p, &b, &e), 0);
    assert_null(strstr(b.data, "\xe2\xb8\x98"));
    free(p);
    p = path_join(work, "alone-A/data/train.jsonl");
    assert_int_equal(file_read_all(p, &b, &e), 0);
    assert_non_null(strstr(b.data, "\xe2\xb8\x98"));
    free(p);
    assert_int_equal(file_read_all(results, &b, &e), 0);
    int lines = 0;
    for (char *q = b.data; (q = strchr(q, '\n')); q++) lines++;
    assert_int_equal(lines, 3);
    buf_free(&b);
    experiment_free(&x);
    // A condition naming a collective the spec lacks.
    aca_run_result r;
    aca_run_ctx cx;
    aca_run_cond c;
    assert_int_equal(run_ctx_open(&cx, &s, &e), 0);
    run_cond_init(&c, "Z");
    assert_int_equal(run_condition(&s, &cx, &c, &r, &e), -1);
    assert_non_null(strstr(e.msg, "'Z'"));
    run_result_free(&r);
    run_cond_free(&c);
    run_ctx_close(&cx);
    free(cfg), free(spec), free(corpus), free(work), free(results);
    dir_remove_recursive(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results_append_concurrent),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_experiment_summary),
        cmocka_unit_test(test_load_model_head_mismatch),
        cmocka_unit_test(test_experiment_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
