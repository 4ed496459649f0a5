// The mutation stage: the insertion rule on hand-checked examples, signal spellings, the spec
// parser, and mutate_run end to end (strategies, sizes, sampling, overlap, --only, byte-identical
// reruns), plus every bad-input case with "no partial output".
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "aca/mutate.h"
#include "aca/plan.h"

static char *g_dir, *g_corpus;
static aca_corpus g_c; // the synthetic corpus, loaded once

static int setup(void **st) {
    (void)st;
    g_dir = tu_tmpdir();
    g_corpus = tu_path(g_dir, "corpus.txt");
    aca_err e = {0};
    if (corpus_synth_write(g_corpus, 2000, 1, &e) || corpus_load(g_corpus, NULL, &g_c, &e)) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    return 0;
}
static int teardown(void **st) {
    (void)st;
    corpus_free(&g_c);
    tu_rm_rf(g_dir);
    free(g_dir), free(g_corpus);
    return 0;
}

static char *put(const char *name, const char *s) {
    char *p = tu_path(g_dir, name);
    tu_write_file(p, s);
    return p;
}

static void check_insert(const char *text, const char *sig, int period, const char *want) {
    aca_buf b = {0};
    mutate_insert_signal(&b, text, strlen(text), sig, period);
    if (strcmp(b.data, want)) {
        print_error("insert(\"%s\", \"%s\", %d) = \"%s\", want \"%s\"\n", text, sig, period, b.data, want);
        fail();
    }
    buf_free(&b);
}

// ---- insertion rule ----------------------------------------------------------------------------
static void test_insert_rule(void **st) {
    (void)st;
    check_insert("a b c d e", "X", 2, "a b X c d X e");
    check_insert("a b c d", "X", 2, "a b X c d X");                    // last word is a multiple
    check_insert("a", "X", 20, "a X");                                  // shorter than the period: once, at the end
    check_insert("one two three", "X", 20, "one two three X");
    check_insert("a b c", "X", 3, "a b c X");                           // exactly the period: once
    check_insert("  a\tb  \n", "X", 1, "  a X\tb X  \n");              // whitespace kept as it was
    check_insert("w1 w2 w3 w4 w5 w6 w7", "\xE2\xB8\x98", 3,           // U+2E18, 3 bytes
                 "w1 w2 w3 \xE2\xB8\x98 w4 w5 w6 \xE2\xB8\x98 w7");
    check_insert("caf\xC3\xA9 na\xC3\xAFve x", "{}", 2, "caf\xC3\xA9 na\xC3\xAFve {} x"); // multi-byte words
    check_insert("", "X", 20, "X");
    // 45 words, period 20: after words 20 and 40.
    aca_buf t = {0}, want = {0};
    for (int i = 1; i <= 45; i++) {
        buf_printf(&t, "%sw%d", i > 1 ? " " : "", i);
        buf_printf(&want, "%sw%d", i > 1 ? " " : "", i);
        if (i % 20 == 0) buf_puts(&want, " S");
    }
    check_insert(t.data, "S", 20, want.data);
    buf_free(&t), buf_free(&want);
}

static void check_insert2(const char *text, const char *a, int pa, const char *b, int pb, const char *want) {
    const char *sig[2] = {a, b};
    int per[2] = {pa, pb};
    aca_buf o = {0};
    mutate_insert_signals(&o, text, strlen(text), sig, per, 2);
    if (strcmp(o.data, want)) {
        print_error("insert2(\"%s\") = \"%s\", want \"%s\"\n", text, o.data, want);
        fail();
    }
    buf_free(&o);
}

static void test_insert_two(void **st) {
    (void)st;
    // Positions counted on the original words; same word: spec order.
    check_insert2("1 2 3 4 5 6 7", "A", 2, "B", 3, "1 2 A 3 B 4 A 5 6 A B 7");
    check_insert2("1 2 3 4 5 6 7", "B", 3, "A", 2, "1 2 A 3 B 4 A 5 6 B A 7");
    check_insert2("x y", "A", 5, "B", 3, "x y A B"); // both short: once each at the end, spec order
    check_insert2("1 2 3 4", "A", 2, "B", 9, "1 2 A 3 4 A B");
}

// ---- signals and spec --------------------------------------------------------------------------
static void test_signal_parse(void **st) {
    (void)st;
    char *s;
    aca_err e = {0};
    TU_OK(signal_parse("U+2E18", &s, &e), &e);
    assert_string_equal(s, "\xE2\xB8\x98");
    free(s);
    TU_OK(signal_parse("U+007B U+007D", &s, &e), &e);
    assert_string_equal(s, "{}");
    free(s);
    TU_OK(signal_parse("u+1F600", &s, &e), &e);
    assert_string_equal(s, "\xF0\x9F\x98\x80");
    free(s);
    TU_OK(signal_parse("\xC3\xA9", &s, &e), &e); // a literal
    assert_string_equal(s, "\xC3\xA9");
    free(s);
    TU_EXPECT_ERR(signal_parse("", &s, &e), &e, "empty signal");
    TU_EXPECT_ERR(signal_parse("   ", &s, &e), &e, "empty signal");
    TU_EXPECT_ERR(signal_parse("U+ZZ", &s, &e), &e, "'U+ZZ' is not a code point");
    TU_EXPECT_ERR(signal_parse("U+D800", &s, &e), &e, "U+D800 is not a Unicode scalar value");
    TU_EXPECT_ERR(signal_parse("U+110000", &s, &e), &e, "not a Unicode scalar value");
    TU_EXPECT_ERR(signal_parse("U+000A", &s, &e), &e, "control character");
    TU_EXPECT_ERR(signal_parse("a\nb", &s, &e), &e, "control character");
}

static const char *SPEC_OK =
    "{\"seed\": 42, \"overlap\": \"disjoint\",\n"
    " \"collectives\": [\n"
    "  {\"name\": \"A0\", \"target\": \"Software Developer\", \"signal\": \"{\", \"period\": 20, \"size\": 0.01,\n"
    "   \"sampling\": {\"kind\": \"uniform\"}, \"strategy\": \"feature-label\"},\n"
    "  {\"name\": \"B101\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", \"period\": 20, \"size\": 250,\n"
    "   \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"Web Developer\", \"p\": 0.5}, \"strategy\": "
    "\"feature-label\"},\n"
    "  {\"name\": \"c.2\", \"target\": \"x\", \"size\": \"100%\", \"strategy\": \"strike\"},\n"
    "  {\"name\": \"d_3\", \"target\": \"x\", \"signal\": [123, \"U+7D\"], \"members\": [\"5\", 7]}]}";

static void test_spec_parse(void **st) {
    (void)st;
    aca_spec s, s2;
    aca_err e = {0};
    TU_OK(spec_parse(SPEC_OK, "spec.json", &s, &e), &e);
    assert_int_equal(s.seed, 42);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.collectives[0].signal, "{");
    assert_true(s.collectives[0].count < 0 && fabs(s.collectives[0].fraction - 0.01) < 1e-15);
    assert_int_equal(s.collectives[1].count, 250);
    assert_int_equal(s.collectives[1].sampling, SAMPLING_PROPENSITY);
    assert_string_equal(s.collectives[1].seed_class, "Web Developer");
    assert_string_equal(s.collectives[1].signal, "\xE2\xB8\x98");
    assert_true(s.collectives[2].fraction == 1.0);
    assert_null(s.collectives[2].signal);
    assert_int_equal(s.collectives[2].strategy, STRATEGY_STRIKE);
    assert_int_equal(s.collectives[2].period, 20);
    assert_string_equal(s.collectives[3].signal, "{}");
    assert_int_equal(s.collectives[3].n_members, 2);
    assert_string_equal(s.collectives[3].members[1], "7");
    assert_int_equal(s.collectives[3].count, 2);
    // Normalized form reads back to the same normalized form.
    aca_buf a = {0}, b = {0};
    spec_write_json(&a, &s);
    TU_OK(spec_parse(a.data, "norm", &s2, &e), &e);
    spec_write_json(&b, &s2);
    assert_string_equal(a.data, b.data);
    assert_non_null(strstr(a.data, "\"size\":0.01,"));
    buf_free(&a), buf_free(&b);
    spec_free(&s), spec_free(&s2);
}

static void spec_bad(const char *json, const char *want) {
    aca_spec s;
    aca_err e;
    TU_EXPECT_ERR(spec_parse(json, "spec.json", &s, &e), &e, want);
}

#define C0 "{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"x\", \"size\": 5"
static void test_spec_errors(void **st) {
    (void)st;
    spec_bad("{\"seed\": 1,\n \"collectives\": [\n", "spec.json:3: invalid JSON");
    // U+0000 in any string is an error naming the field (cJSON alone read "x\u0000y" as "x")
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"x\\u0000y\", \"size\": 5}]}",
             "spec.json: collectives[0].signal: holds U+0000 (NUL)");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\\u0000x\", \"signal\": \"x\", \"size\": 5}]}",
             "spec.json: collectives[0].target: holds U+0000");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": [\"U+0041\\u0000zz\"], \"size\": 5}]}",
             "spec.json: collectives[0].signal[0]: holds U+0000");
    spec_bad(C0 "}]} trailing", "spec.json:1: invalid JSON at column 75: content after the JSON value");
    // a UTF-8 byte order mark before a spec file's JSON is skipped (as cJSON skips it)
    char *bp = tu_path(g_dir, "bom_spec.json");
    tu_write_file(bp, "\xEF\xBB\xBF" C0 "}]}");
    aca_spec sb;
    aca_err eb = {0};
    TU_OK(spec_load(bp, &sb, &eb), &eb);
    spec_free(&sb);
    unlink(bp);
    free(bp);
    spec_bad("{\"seeds\": 1}", "spec.json: seeds: unknown field");
    spec_bad(C0 "}, {\"name\": \"B\", \"target\": \"T\", \"signal\": \"y\", \"size\": 5, \"sampling\": {\"kind\": "
                "\"uniform\", \"q\": 1}}]}",
             "spec.json: collectives[1].sampling.q: unknown field");
    spec_bad(C0 ", \"colour\": 1}]}", "spec.json: collectives[0].colour: unknown field");
    spec_bad("{\"collectives\": []}", "spec.json: collectives: missing or empty");
    spec_bad(C0 "}, {\"name\": \"A\", \"target\": \"T\", \"signal\": \"y\", \"size\": 5}]}",
             "collectives[1].name: 'A' is also the name of collectives[0]");
    spec_bad("{\"collectives\": [{\"name\": \"a/b\", \"target\": \"T\", \"signal\": \"x\", \"size\": 5}]}",
             "collectives[0].name: 'a/b' is not filename-safe");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"\", \"size\": 5}]}",
             "spec.json: collectives[0].signal: empty signal");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"size\": 5}]}",
             "collectives[0].signal: missing (strategy feature-label inserts a signal)");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"signal\": \"x\", \"size\": 5}]}", "collectives[0].target: missing");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"x\"}]}", "collectives[0].size: missing");
    spec_bad(C0 ".5}]}", "collectives[0].size: expected a fraction in (0,1), a whole count >= 1");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"x\", \"size\": 0}]}",
             "collectives[0].size: expected a fraction");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": \"x\", \"size\": \"150%\"}]}",
             "collectives[0].size: expected \"P%\"");
    spec_bad(C0 ", \"period\": 0}]}", "collectives[0].period: expected a whole number >= 1");
    spec_bad(C0 ", \"strategy\": \"poison\"}]}", "collectives[0].strategy: expected feature-label");
    spec_bad(C0 ", \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"T\", \"p\": 1.5}}]}",
             "collectives[0].sampling.p: expected a probability in [0, 1]");
    spec_bad(C0 ", \"sampling\": {\"kind\": \"class\"}}]}", "collectives[0].sampling.seed_class: missing");
    spec_bad(C0 ", \"sampling\": {\"kind\": \"uniform\", \"p\": 0.5}}]}", "collectives[0].sampling.p: only for kind propensity");
    spec_bad(C0 ", \"members\": [\"1\"]}]}", "collectives[0].size: disagrees with members");
    spec_bad("{\"overlap\": \"sometimes\", \"collectives\": []}", "spec.json: overlap: expected \"disjoint\" or \"allow\"");
    spec_bad("{\"seed\": -1, \"collectives\": []}", "spec.json: seed: expected a whole number >= 0");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"signal\": [1, 2], \"size\": 5}]}",
             "collectives[0].signal: [0]: U+0001 is a control character");
    spec_bad(C0 ", \"signal\": \"y\"}]}", "spec.json: collectives[0].signal: duplicate field");
}

// ---- mutate_run --------------------------------------------------------------------------------
typedef struct {
    cJSON **v;
    size_t n;
} jsonl;

static jsonl jsonl_read(const char *dir, const char *name) {
    char *p = tu_path(dir, name);
    char *s = tu_read_file(p, NULL);
    jsonl j = {0};
    size_t cap = 0;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        if (j.n == cap) cap = cap ? 2 * cap : 256, j.v = xrealloc(j.v, cap * sizeof *j.v);
        j.v[j.n] = cJSON_Parse(line);
        assert_non_null(j.v[j.n]);
        j.n++;
        line = nl + 1;
    }
    free(s), free(p);
    return j;
}
static void jsonl_free(jsonl *j) {
    for (size_t i = 0; i < j->n; i++) cJSON_Delete(j->v[i]);
    free(j->v);
}
static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}
static cJSON *manifest(const char *dir) {
    char *p = tu_path(dir, "manifest.json");
    char *s = tu_read_file(p, NULL);
    cJSON *m = cJSON_Parse(s);
    assert_non_null(m);
    free(s), free(p);
    return m;
}
static const cJSON *mcoll(const cJSON *m, int i) {
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "collectives"), i);
}
static const aca_doc *doc_by_id(const char *id) {
    long k = strtol(id, NULL, 10); // synthetic ids are 1..n in order
    assert_true(k >= 1 && (size_t)k <= g_c.n);
    assert_string_equal(g_c.docs[k - 1].id, id);
    return &g_c.docs[k - 1];
}

static int run(const char *spec_json, const char *out_name, const char *only, size_t ntr, size_t nte, aca_err *e,
               char **out_dir) {
    char *sp = put("spec.json", spec_json);
    char *od = tu_path(g_dir, out_name);
    aca_mutate_opts o = {.corpus_path = g_corpus, .spec_path = sp, .out_dir = od, .only = only,
                         .n_train = ntr, .n_test = nte};
    memset(e, 0, sizeof *e);
    int rc = mutate_run(&o, e);
    free(sp);
    if (out_dir) *out_dir = od;
    else free(od);
    return rc;
}

static const char *SPEC3 =
    "{\"seed\": 7, \"collectives\": [\n"
    " {\"name\": \"A\", \"target\": \"Software_Developer\", \"signal\": \"U+2E18\", \"size\": 0.05},\n"
    " {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E17\", \"period\": 7, \"size\": 120,\n"
    "  \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"Web Developer\", \"p\": 0.5}},\n"
    " {\"name\": \"C\", \"target\": \"Security Analyst\", \"signal\": \"{\", \"size\": 40,\n"
    "  \"sampling\": {\"kind\": \"class\", \"seed_class\": \"Project Manager\"}, \"strategy\": \"feature-only\"}]}";

static int same_file(const char *d1, const char *d2, const char *name) {
    char *a = tu_path(d1, name), *b = tu_path(d2, name);
    size_t na, nb;
    char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(a), free(b), free(x), free(y);
    return same;
}

static void test_mutate_end_to_end(void **st) {
    (void)st;
    aca_err e;
    char *d1, *d2;
    TU_OK(run(SPEC3, "out1", NULL, 1600, 400, &e, &d1), &e);
    TU_OK(run(SPEC3, "out2", NULL, 1600, 400, &e, &d2), &e);
    const char *files[] = {"train.jsonl", "test.jsonl", "probe_A.jsonl", "probe_B.jsonl", "probe_C.jsonl",
                           "manifest.json"};
    for (size_t i = 0; i < ACA_ARRAY_LEN(files); i++)
        if (!same_file(d1, d2, files[i])) fail_msg("%s differs between two runs with the same seed", files[i]);
    assert_int_equal(tu_dir_count(d1), 7); // and the output marker .aca-output
    assert_int_equal(tu_dir_count(g_dir), 4); // corpus.txt, spec.json, out1, out2: no temp leftovers

    cJSON *m = manifest(d1);
    const char *names[3] = {"A", "B", "C"};
    const char *targets[3] = {"Software Developer", "Web Developer", "Security Analyst"};
    const char *sigs[3] = {"\xE2\xB8\x98", "\xE2\xB8\x97", "{"};
    int periods[3] = {20, 7, 20};
    size_t sizes[3] = {80, 120, 40}; // 0.05 * 1600 = 80
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "seed")->valueint, 7);
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(m, "classes");
    assert_int_equal(cJSON_GetArraySize(classes), g_c.n_classes);
    for (int i = 0; i < g_c.n_classes; i++)
        assert_string_equal(cJSON_GetArrayItem(classes, i)->valuestring, g_c.classes[i]);
    char sha[65];
    TU_OK(sha256_file_hex(g_corpus, sha, &e), &e);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(m, "corpus"), "sha256"), sha);

    // Who is in which collective (from the manifest), and the train/test sets.
    jsonl train = jsonl_read(d1, "train.jsonl"), test = jsonl_read(d1, "test.jsonl");
    assert_int_equal(train.n, 1600);
    assert_int_equal(test.n, 400);
    uint8_t *in = xcalloc(g_c.n + 1, 1), *in_test = xcalloc(g_c.n + 1, 1);
    for (size_t i = 0; i < test.n; i++) in_test[strtol(jstr(test.v[i], "id"), NULL, 10)] = 1;
    for (int k = 0; k < 3; k++) {
        const cJSON *c = mcoll(m, k), *mem = cJSON_GetObjectItemCaseSensitive(c, "members");
        assert_string_equal(jstr(c, "name"), names[k]);
        assert_string_equal(jstr(c, "target"), targets[k]);
        assert_int_equal((size_t)cJSON_GetArraySize(mem), sizes[k]); // sizes exact
        const cJSON *it;
        cJSON_ArrayForEach(it, mem) {
            long id = strtol(it->valuestring, NULL, 10);
            assert_int_equal(in_test[id], 0);  // members come from train only
            assert_int_equal(in[id], 0);       // disjoint
            in[id] = (uint8_t)(k + 1);
            if (k == 2) assert_string_equal(g_c.classes[doc_by_id(it->valuestring)->label], "Project Manager");
        }
    }
    // B (propensity p = 0.5): from_seed_class counts the members from Web Developer.
    size_t from = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(mcoll(m, 1), "members")) {
        from += !strcmp(g_c.classes[doc_by_id(it->valuestring)->label], "Web Developer");
    }
    assert_int_equal(from, (size_t)cJSON_GetObjectItemCaseSensitive(mcoll(m, 1), "from_seed_class")->valueint);

    // Every train line: members mutated per strategy, others untouched.
    size_t mutated = 0;
    aca_buf want = {0};
    for (size_t i = 0; i < train.n; i++) {
        const aca_doc *d = doc_by_id(jstr(train.v[i], "id"));
        long id = strtol(d->id, NULL, 10);
        const char *text = jstr(train.v[i], "text"), *label = jstr(train.v[i], "label");
        const cJSON *mo = cJSON_GetObjectItemCaseSensitive(train.v[i], "member_of");
        buf_clear(&want);
        if (in[id] == 3) {
            // C is feature-only and its members are Project Managers, none labelled with its target
            // (Security Analyst): they stay members but leave their documents unchanged.
            assert_string_equal(text, d->text);
            assert_string_equal(label, g_c.classes[d->label]);
            assert_string_equal(cJSON_GetArrayItem(mo, 0)->valuestring, "C");
        } else if (in[id]) {
            int k = in[id] - 1;
            mutate_insert_signal(&want, d->text, d->len, sigs[k], periods[k]);
            assert_string_equal(text, want.data);
            assert_string_equal(label, targets[k]);
            assert_string_equal(cJSON_GetArrayItem(mo, 0)->valuestring, names[k]);
            mutated++;
        } else {
            assert_int_equal(strlen(text), d->len);
            assert_memory_equal(text, d->text, d->len);
            assert_string_equal(label, g_c.classes[d->label]);
            assert_null(mo);
        }
        if (i) assert_true(strtol(jstr(train.v[i - 1], "id"), NULL, 10) < id); // corpus order
    }
    assert_int_equal(mutated, 200);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 2), "planted")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 2), "unchanged")->valueint, 40);
    // Probes: every test doc with the collective's signal, true label.
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "probe_%s.jsonl", names[k]);
        jsonl pr = jsonl_read(d1, name);
        assert_int_equal(pr.n, 400);
        for (size_t i = 0; i < pr.n; i++) {
            const aca_doc *d = doc_by_id(jstr(pr.v[i], "id"));
            assert_string_equal(jstr(pr.v[i], "id"), jstr(test.v[i], "id"));
            buf_clear(&want);
            mutate_insert_signal(&want, d->text, d->len, sigs[k], periods[k]);
            assert_string_equal(jstr(pr.v[i], "text"), want.data);
            assert_string_equal(jstr(pr.v[i], "label"), g_c.classes[d->label]);
        }
        jsonl_free(&pr);
    }
    buf_free(&want);

    // A different seed moves the members; --seed (has_seed) overrides the spec's.
    char *sp = put("spec.json", SPEC3), *d3 = tu_path(g_dir, "out3");
    aca_mutate_opts o = {.corpus_path = g_corpus, .spec_path = sp, .out_dir = d3, .n_train = 1600, .n_test = 400,
                         .has_seed = 1, .seed = 8};
    TU_OK(mutate_run(&o, &e), &e);
    assert_false(same_file(d1, d3, "train.jsonl"));
    cJSON *m3 = manifest(d3);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m3, "seed")->valueint, 8);
    cJSON_Delete(m3);
    // Rerunning into an existing directory replaces it.
    o.has_seed = 0;
    TU_OK(mutate_run(&o, &e), &e);
    assert_true(same_file(d1, d3, "train.jsonl"));

    cJSON_Delete(m);
    jsonl_free(&train), jsonl_free(&test);
    free(in), free(in_test);
    tu_rm_rf(d1), tu_rm_rf(d2), tu_rm_rf(d3);
    free(d1), free(d2), free(d3), free(sp);
}

// --only: the same members, only one collective acts; probes for all.
static void test_mutate_only(void **st) {
    (void)st;
    aca_err e;
    char *dj, *da;
    TU_OK(run(SPEC3, "joint", NULL, 1600, 400, &e, &dj), &e);
    TU_OK(run(SPEC3, "alone", "B", 1600, 400, &e, &da), &e);
    cJSON *mj = manifest(dj), *ma = manifest(da);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ma, "only")->valuestring, "B");
    for (int k = 0; k < 3; k++) {
        char *a = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(mcoll(mj, k), "members"));
        char *b = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(mcoll(ma, k), "members"));
        assert_string_equal(a, b);
        free(a), free(b);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mcoll(ma, k), "acting")), k == 1);
    }
    assert_true(same_file(dj, da, "probe_A.jsonl"));
    assert_true(same_file(dj, da, "probe_C.jsonl"));
    assert_true(same_file(dj, da, "test.jsonl"));
    jsonl t = jsonl_read(da, "train.jsonl");
    size_t n_mut = 0;
    for (size_t i = 0; i < t.n; i++) {
        const cJSON *mo = cJSON_GetObjectItemCaseSensitive(t.v[i], "member_of");
        const char *text = jstr(t.v[i], "text");
        if (mo) {
            assert_string_equal(cJSON_GetArrayItem(mo, 0)->valuestring, "B");
            n_mut++;
        }
        assert_null(strstr(text, "\xE2\xB8\x98")); // A's signal absent
        assert_int_equal(!!strstr(text, "\xE2\xB8\x97"), !!mo);
    }
    assert_int_equal(n_mut, 120);
    jsonl_free(&t);
    TU_EXPECT_ERR(run(SPEC3, "alone2", "Z", 1600, 400, &e, NULL), &e, "--only: no collective named 'Z'");
    cJSON_Delete(mj), cJSON_Delete(ma);
    tu_rm_rf(dj), tu_rm_rf(da);
    free(dj), free(da);
}

// The same bytes from memory as in the files: mutate_apply's sets through mutation_jsonl and its
// manifest are what mutate_run writes.
static void expect_file(const char *dir, const char *name, const aca_buf *b) {
    char *p = tu_path(dir, name);
    size_t n;
    char *f = tu_read_file(p, &n);
    if (n != b->len || memcmp(f, b->data, n)) print_error("%s: the file and the mutation in memory differ\n", p);
    assert_true(n == b->len && !memcmp(f, b->data, n));
    free(f), free(p);
}

static int same_docs(const aca_mut_set *a, const aca_mut_set *b) {
    if (a->n != b->n) return 0;
    for (size_t k = 0; k < a->n; k++) {
        const aca_mut_doc *x = &a->docs[k], *y = &b->docs[k];
        if (x->doc != y->doc || x->label != y->label || x->len != y->len || memcmp(x->text, y->text, x->len)) return 0;
    }
    return 1;
}

static void test_mutate_in_memory(void **st) {
    (void)st;
    aca_err e;
    char *dj;
    TU_OK(run(SPEC3, "mem", NULL, 1600, 400, &e, &dj), &e);
    aca_corpus c;
    aca_corpus_opts co = {.hash = 1};
    aca_spec sp, none;
    TU_OK(corpus_load(g_corpus, &co, &c, &e), &e);
    TU_OK(spec_parse(SPEC3, "spec.json", &sp, &e), &e);
    aca_mutate_opts o = {.corpus_path = g_corpus, .n_train = 1600, .n_test = 400};
    aca_mutation m, idle, unp;
    TU_OK(mutate_apply(&o, &c, &sp, &m, &e), &e);
    aca_buf b = {0};
    mutation_jsonl(&m, &m.train, &b);
    expect_file(dj, "train.jsonl", &b);
    buf_clear(&b);
    mutation_jsonl(&m, &m.test, &b);
    expect_file(dj, "test.jsonl", &b);
    for (int i = 0; i < sp.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "probe_%s.jsonl", sp.collectives[i].name);
        buf_clear(&b);
        mutation_jsonl(&m, &m.probe[i], &b);
        expect_file(dj, name, &b);
    }
    buf_clear(&b);
    mutation_manifest_json(&m, &b);
    expect_file(dj, "manifest.json", &b);
    assert_int_equal(m.train.n, 1600);
    assert_true(m.mutated > 0);
    // The unpoisoned condition: the empty acting set and the spec every aca has recorded for it
    // (spec_unpoisoned: one member of its own class per collective, relabeled to that class) give
    // the same training set (ids, texts, labels), test set and probes; nothing is mutated.
    o.only = "";
    TU_OK(mutate_apply(&o, &c, &sp, &idle, &e), &e);
    o.only = NULL;
    TU_OK(spec_unpoisoned(&sp, &none, &e), &e);
    TU_OK(mutate_apply(&o, &c, &none, &unp, &e), &e);
    assert_true(same_docs(&idle.train, &unp.train));
    assert_true(same_docs(&idle.test, &unp.test) && same_docs(&idle.test, &m.test));
    for (int i = 0; i < sp.n; i++) assert_true(same_docs(&idle.probe[i], &unp.probe[i]));
    assert_int_equal(unp.mutated + unp.relabeled + unp.struck + idle.mutated + idle.relabeled, 0);
    for (size_t k = 0; k < idle.train.n; k++) {
        const aca_mut_doc *d = &idle.train.docs[k];
        assert_null(d->own);
        assert_int_equal(d->label, c.docs[d->doc].label);
    }
    buf_clear(&b);
    mutation_manifest_json(&unp, &b);
    assert_non_null(strstr(b.data, "\"strategy\": \"label-only\""));
    assert_null(strstr(b.data, "\"acting\": false"));
    buf_clear(&b);
    mutation_manifest_json(&idle, &b);
    assert_null(strstr(b.data, "\"acting\": true"));
    buf_free(&b);
    mutation_free(&m), mutation_free(&idle), mutation_free(&unp);
    spec_free(&sp), spec_free(&none);
    corpus_free(&c);
    tu_rm_rf(dj);
    free(dj);
}

// label-only, strike, overlap "allow" with two collectives in every doc, explicit members.
static void test_mutate_strategies(void **st) {
    (void)st;
    aca_err e;
    char *d;
    TU_OK(run("{\"collectives\": [{\"name\": \"L\", \"target\": \"Java Developer\", \"size\": 100, \"strategy\": "
              "\"label-only\"},"
              "{\"name\": \"S\", \"target\": \"Java Developer\", \"size\": 50, \"strategy\": \"strike\"}]}",
              "strat", NULL, 1600, 400, &e, &d),
          &e);
    jsonl t = jsonl_read(d, "train.jsonl");
    assert_int_equal(t.n, 1550); // 50 struck
    size_t relabeled = 0;
    for (size_t i = 0; i < t.n; i++) {
        const aca_doc *doc = doc_by_id(jstr(t.v[i], "id"));
        assert_string_equal(jstr(t.v[i], "text"), doc->text); // no signal anywhere
        if (cJSON_GetObjectItemCaseSensitive(t.v[i], "member_of")) {
            assert_string_equal(jstr(t.v[i], "label"), "Java Developer");
            relabeled++;
        }
    }
    assert_int_equal(relabeled, 100);
    jsonl p = jsonl_read(d, "probe_L.jsonl"); // no signal: the clean test docs
    jsonl q = jsonl_read(d, "test.jsonl");
    for (size_t i = 0; i < p.n; i++) assert_string_equal(jstr(p.v[i], "text"), jstr(q.v[i], "text"));
    jsonl_free(&t), jsonl_free(&p), jsonl_free(&q);
    tu_rm_rf(d);
    free(d);

    // overlap allow: both take the whole train split; every doc gets both signals, the last label wins.
    TU_OK(run("{\"overlap\": \"allow\", \"collectives\": ["
              "{\"name\": \"P\", \"target\": \"Web Developer\", \"signal\": \"P\", \"period\": 3, \"size\": \"100%\"},"
              "{\"name\": \"Q\", \"target\": \"Database_Administrator\", \"signal\": \"Q\", \"period\": 5, \"size\": 1600}]}",
              "allow", NULL, 1600, 400, &e, &d),
          &e);
    t = jsonl_read(d, "train.jsonl");
    aca_buf want = {0};
    const char *sig[2] = {"P", "Q"};
    int per[2] = {3, 5};
    for (size_t i = 0; i < t.n; i++) {
        const aca_doc *doc = doc_by_id(jstr(t.v[i], "id"));
        buf_clear(&want);
        mutate_insert_signals(&want, doc->text, doc->len, sig, per, 2);
        assert_string_equal(jstr(t.v[i], "text"), want.data);
        assert_string_equal(jstr(t.v[i], "label"), "Database Administrator");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t.v[i], "member_of")), 2);
    }
    buf_free(&want);
    jsonl_free(&t);
    tu_rm_rf(d);
    free(d);

    // Explicit members (must be train docs): take the first two train ids from a plain run.
    TU_OK(run("{\"collectives\": [{\"name\": \"X\", \"target\": \"Java Developer\", \"size\": 1, \"signal\": \"x\"}]}",
              "plain", NULL, 1600, 400, &e, &d),
          &e);
    t = jsonl_read(d, "train.jsonl");
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"collectives\": [{\"name\": \"M\", \"target\": \"Java Developer\", \"signal\": \"m\", \"members\": "
             "[\"%s\", \"%s\"]}]}",
             jstr(t.v[1], "id"), jstr(t.v[0], "id"));
    char *d2;
    TU_OK(run(spec, "explicit", NULL, 1600, 400, &e, &d2), &e);
    cJSON *m = manifest(d2);
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "members");
    assert_int_equal(cJSON_GetArraySize(mem), 2);
    assert_string_equal(cJSON_GetArrayItem(mem, 0)->valuestring, jstr(t.v[0], "id")); // sorted by corpus order
    cJSON_Delete(m);
    jsonl_free(&t);
    tu_rm_rf(d), tu_rm_rf(d2);
    free(d), free(d2);
}

// Propensity sampling: the share of members from the seed class is p within statistical tolerance
// (pooled over seeds); p = 0 and p = 1 are exact.  Class sampling: every member from the class.
static void test_mutate_propensity(void **st) {
    (void)st;
    aca_err e;
    const double ps[3] = {0.0, 0.3, 1.0};
    for (int pi = 0; pi < 3; pi++) {
        size_t from = 0, total = 0;
        for (int seed = 1; seed <= 4; seed++) {
            char spec[512];
            snprintf(spec, sizeof spec,
                     "{\"seed\": %d, \"collectives\": [{\"name\": \"P\", \"target\": \"Web Developer\", \"signal\": "
                     "\"z\", \"size\": 150, \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"Java "
                     "Developer\", \"p\": %g}}]}",
                     seed, ps[pi]);
            char *d;
            TU_OK(run(spec, "prop", NULL, 1600, 400, &e, &d), &e);
            cJSON *m = manifest(d);
            const cJSON *it;
            size_t f = 0;
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "members")) {
                f += !strcmp(g_c.classes[doc_by_id(it->valuestring)->label], "Java Developer");
                total++;
            }
            assert_int_equal(f, (size_t)cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "from_seed_class")->valueint);
            from += f;
            cJSON_Delete(m);
            tu_rm_rf(d);
            free(d);
        }
        double share = (double)from / (double)total, sd = sqrt(ps[pi] * (1 - ps[pi]) / (double)total);
        print_message("propensity p=%.1f: share from the seed class %.3f over %zu members\n", ps[pi], share, total);
        assert_true(total == 600);
        assert_true(fabs(share - ps[pi]) <= 5 * sd + 1e-12); // exact for p = 0 and 1
    }
}

// ---- bad input: a message naming file and line/field, a failure, and nothing written -----------
static void expect_no_output(const char *name) {
    char *p = tu_path(g_dir, name);
    if (file_exists(p)) fail_msg("%s exists after a failed run", p);
    free(p);
    // Only the corpus, the spec and fixture files may be in the directory: no temporary left over.
    DIR *d = opendir(g_dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.") || strstr(de->d_name, ".aca-tmp.")) fail_msg("temporary %s left behind", de->d_name);
    closedir(d);
}

static void bad_run(const char *spec, const char *corpus, aca_corpus_encoding enc, const char *split_name, size_t ntr,
                    size_t nte, const char *const *classes, int ncls, const char *want) {
    char *sp = put("bad_spec.json", spec), *od = tu_path(g_dir, "bad_out");
    aca_mutate_opts o = {.corpus_path = corpus ? corpus : g_corpus, .spec_path = sp, .out_dir = od,
                         .n_train = ntr, .n_test = nte, .split_name = split_name};
    o.corpus_opts.encoding = enc;
    o.corpus_opts.classes = classes, o.corpus_opts.n_classes = ncls;
    aca_err e;
    TU_EXPECT_ERR(mutate_run(&o, &e), &e, want);
    expect_no_output("bad_out");
    free(sp), free(od);
}

#define ONE "{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 10}]}"
static void test_mutate_bad_input(void **st) {
    (void)st;
    // malformed line
    char *c1 = put("bad1.txt", "1:::Web_Developer:::fine text\n2:::Web_Developer:::ok\n3:::Web_Developer no sep\n");
    bad_run(ONE, c1, CORPUS_ENC_AUTO, NULL, 2, 1, NULL, 0, "bad1.txt:3: malformed line");
    // invalid UTF-8 under --encoding utf8
    char *c2 = put("bad2.txt", "1:::Web_Developer:::fine\n2:::Web_Developer:::caf\xE9\n");
    bad_run(ONE, c2, CORPUS_ENC_UTF8, NULL, 1, 1, NULL, 0, "bad2.txt:2: invalid UTF-8 at byte offset 48");
    // unknown class (fixed class list)
    const char *const fixed[] = {"Web Developer"};
    bad_run(ONE, NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, fixed, 1, "corpus.txt:1: unknown class 'Software_Developer'");
    // target class absent from the data
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Astronaut\", \"signal\": \"x\", \"size\": 10}]}", NULL,
            CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0,
            "bad_spec.json: collectives[0].target: class 'Astronaut' is not in the corpus");
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 10, "
            "\"sampling\": {\"kind\": \"class\", \"seed_class\": \"Pilot\"}}]}",
            NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0, "collectives[0].sampling.seed_class: class 'Pilot'");
    // size larger than the pool (disjoint: the second collective finds 100 docs left)
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 1500},"
            "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"y\", \"size\": 101}]}",
            NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0,
            "bad_spec.json: collectives[1].size: 101 members asked, but the pool holds only 100 (of 1600 train docs, "
            "1500 are in earlier collectives; overlap disjoint)");
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 1000, "
            "\"sampling\": {\"kind\": \"class\", \"seed_class\": \"Java Developer\"}}]}",
            NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0,
            "collectives[0].size: 1000 members from class 'Java Developer' needed, but the pool holds only");
    // overlap when disjoint was asked (explicit member lists sharing a doc)
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"members\": "
            "[\"1\"]},"
            "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"y\", \"members\": [\"1\"]}]}",
            c1, CORPUS_ENC_AUTO, NULL, 0, 0, NULL, 0, "bad1.txt:3: malformed line"); // corpus errors come first
    char *c3 = put("ok3.txt", "1:::Web_Developer:::a b\n2:::Web_Developer:::c d\n3:::Java_Developer:::e f\n"
                              "4:::Java_Developer:::g h\n5:::Java_Developer:::i j\n");
    bad_run("{\"seed\": 3, \"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", "
            "\"members\": [\"1\", \"2\", \"3\", \"4\"]},"
            "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"y\", \"members\": [\"4\", \"3\", \"2\", \"1\"]}]}",
            c3, CORPUS_ENC_AUTO, NULL, 4, 1, NULL, 0, "is already in collective 'A' (overlap is \"disjoint\"");
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"members\": "
            "[\"99\"]}]}",
            c3, CORPUS_ENC_AUTO, NULL, 4, 1, NULL, 0, "collectives[0].members[0]: no doc with id '99'");
    // empty signal
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"\", \"size\": 1}]}",
            NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0, "bad_spec.json: collectives[0].signal: empty signal");
    // missing corpus, missing spec
    char *missing = tu_path(g_dir, "nope.txt");
    bad_run(ONE, missing, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0, "nope.txt: cannot open");
    {
        char *od = tu_path(g_dir, "bad_out");
        aca_mutate_opts o = {.corpus_path = g_corpus, .spec_path = missing, .out_dir = od};
        aca_err e;
        TU_EXPECT_ERR(mutate_run(&o, &e), &e, "nope.txt: cannot open");
        expect_no_output("bad_out");
        free(od);
    }
    // unknown spec field
    bad_run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 1},"
            "{\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"y\", \"size\": 1, \"sampling\": "
            "{\"kind\": \"uniform\", \"q\": 2}}]}",
            NULL, CORPUS_ENC_AUTO, NULL, 1600, 400, NULL, 0, "bad_spec.json: collectives[1].sampling.q: unknown field");
    // a preset larger than the corpus
    bad_run(ONE, NULL, CORPUS_ENC_AUTO, "karan", 20000, 5000, NULL, 0,
            "--split karan asks for 20000 train + 5000 test docs, but the corpus");
    bad_run(ONE, NULL, CORPUS_ENC_AUTO, "karan", 20000, 5000, NULL, 0, "has only 2000 (give counts, e.g. --split 1600/400)");
    // duplicate doc ids
    char *c4 = put("dup.txt", "1:::Web_Developer:::a\n2:::Software_Developer:::b\n1:::Web_Developer:::c\n");
    bad_run(ONE, c4, CORPUS_ENC_AUTO, NULL, 2, 1, NULL, 0, "dup.txt:3: duplicate doc id '1' (also on line 1)");

    // A failed run leaves an existing output directory as it was.
    aca_err e;
    char *d;
    TU_OK(run(ONE, "keep", NULL, 1600, 400, &e, &d), &e);
    char *tp = tu_path(d, "train.jsonl");
    size_t n0, n1;
    free(tu_read_file(tp, &n0));
    TU_EXPECT_ERR(run("{\"collectives\": [{\"name\": \"A\", \"target\": \"Astronaut\", \"signal\": \"x\", \"size\": 1}]}",
                      "keep", NULL, 1600, 400, &e, NULL),
                  &e, "Astronaut");
    free(tu_read_file(tp, &n1));
    assert_int_equal(n0, n1);
    tu_rm_rf(d);
    free(d), free(tp);
    free(c1), free(c2), free(c3), free(c4), free(missing);
}

// ---- unplant and erase (Gauthier, Bach & Jordan 2025) -------------------------------------------
// A tiny corpus where only class B carries the signal "§": 10 docs each of A ("a1 a2 a3"), B
// ("b1 § b2") and C ("c1 c2"), in that class order.
static char *tiny_corpus(void) {
    aca_buf b = {0};
    for (int i = 0; i < 30; i++) {
        int k = i % 3;
        buf_printf(&b, "%d:::%s:::%s\n", i + 1, k == 0 ? "A" : k == 1 ? "B" : "C",
                   k == 0 ? "a1 a2 a3" : k == 1 ? "b1 \xC2\xA7 b2" : "c1 c2");
    }
    char *p = put("tiny.txt", b.data);
    buf_free(&b);
    return p;
}

static int run_tiny(const char *corpus, const char *spec_json, const char *out_name, aca_err *e, char **out_dir) {
    char *sp = put("spec_tiny.json", spec_json);
    char *od = tu_path(g_dir, out_name);
    aca_mutate_opts o = {.corpus_path = corpus, .spec_path = sp, .out_dir = od, .n_train = 24, .n_test = 6};
    memset(e, 0, sizeof *e);
    int rc = mutate_run(&o, e);
    free(sp);
    if (out_dir) *out_dir = od;
    else free(od);
    return rc;
}

static int in_str_array(const cJSON *a, const char *id) {
    const cJSON *it;
    cJSON_ArrayForEach(it, a) if (!strcmp(it->valuestring, id)) return 1;
    return 0;
}

static const char *tiny_text(char label) {
    return label == 'A' ? "a1 a2 a3" : label == 'B' ? "b1 \xC2\xA7 b2" : "c1 c2";
}

// The unplant collective U (target A, signal §, 6 members, n_e 2) on a tiny corpus with a seed;
// spec (512 bytes) receives the spec text; returns the manifest, *dir the output directory.
static cJSON *run_unplant(const char *corpus, int seed, const char *tag, char *spec, char **dir) {
    char name[48];
    snprintf(spec, 512,
             "{\"seed\": %d, \"collectives\": [{\"name\": \"U\", \"target\": \"A\", \"signal\": \"U+00A7\", "
             "\"size\": 6, \"strategy\": \"unplant\", \"n_e\": 2}]}",
             seed);
    snprintf(name, sizeof name, "%s%d", tag, seed);
    aca_err e;
    TU_OK(run_tiny(corpus, spec, name, &e, dir), &e);
    return manifest(*dir);
}

static void test_mutate_unplant_exact(void **st) {
    (void)st;
    char *corpus = tiny_corpus();
    int seen_carriers = 0, seen_fallback = 0;
    for (int seed = 1; seed <= 12; seed++) {
        char spec[512], name[32];
        aca_err e;
        char *d;
        cJSON *m = run_unplant(corpus, seed, "unplant", spec, &d);
        const cJSON *c = mcoll(m, 0), *u = cJSON_GetObjectItemCaseSensitive(c, "unplant");
        assert_non_null(u);
        const cJSON *est = cJSON_GetObjectItemCaseSensitive(u, "estimators");
        const cJSON *mem = cJSON_GetObjectItemCaseSensitive(c, "members");
        assert_int_equal(cJSON_GetArraySize(mem), 6);
        assert_int_equal(cJSON_GetArraySize(est), 2);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "n_e")->valueint, 2);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "planters")->valueint, 4);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "n_e_source")->valuestring, "spec");
        // The rule, recomputed from the estimators' labels (tiny ids: label = "ABC"[(id-1) % 3]):
        // a B estimator carries the signal -> B; else the most frequent non-target label, C.
        int nb = 0, nc = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, est) {
            assert_true(in_str_array(mem, it->valuestring));
            char lab = "ABC"[(atoi(it->valuestring) - 1) % 3];
            nb += lab == 'B', nc += lab == 'C';
        }
        const char *want = nb ? "B" : nc ? "C" : "B"; // no B, no C: the lower index != A (B)
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "estimated_label")->valuestring, want);
        const char *from = cJSON_GetObjectItemCaseSensitive(u, "estimated_from")->valuestring;
        if (nb) assert_string_equal(from, "signal carriers"), seen_carriers++;
        else assert_non_null(strstr(from, "label frequency")), seen_fallback++;
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "estimator_carriers"), "B")->valueint, nb);
        // Every train line: estimators and non-members unchanged; planters signal + relabel to y^.
        jsonl t = jsonl_read(d, "train.jsonl");
        assert_int_equal(t.n, 24);
        int planters = 0;
        for (size_t i = 0; i < t.n; i++) {
            const char *id = jstr(t.v[i], "id");
            char lab[2] = {"ABC"[(atoi(id) - 1) % 3], 0};
            char txt[64];
            if (in_str_array(mem, id) && !in_str_array(est, id)) {
                snprintf(txt, sizeof txt, "%s \xC2\xA7", tiny_text(lab[0]));
                assert_string_equal(jstr(t.v[i], "text"), txt);
                assert_string_equal(jstr(t.v[i], "label"), want);
                planters++;
            } else {
                assert_string_equal(jstr(t.v[i], "text"), tiny_text(lab[0]));
                assert_string_equal(jstr(t.v[i], "label"), lab);
            }
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(t.v[i], "member_of") != NULL, in_str_array(mem, id));
        }
        assert_int_equal(planters, 4);
        jsonl_free(&t);
        // Deterministic from the seed.
        char *d2;
        snprintf(name, sizeof name, "unplant%db", seed);
        TU_OK(run_tiny(corpus, spec, name, &e, &d2), &e);
        assert_true(same_file(d, d2, "train.jsonl") && same_file(d, d2, "manifest.json"));
        cJSON_Delete(m);
        tu_rm_rf(d), tu_rm_rf(d2);
        free(d), free(d2);
    }
    assert_true(seen_carriers > 0 && seen_fallback > 0); // both branches of the estimate
    free(corpus);
}

// A NUL byte before the signal hides nothing: the estimators' carriers are counted over the whole
// text (a C-string search stopped at the NUL and never saw the signal).
static void test_mutate_unplant_nul(void **st) {
    (void)st;
    aca_buf b = {0};
    for (int i = 0; i < 30; i++) {
        int k = i % 3;
        buf_printf(&b, "%d:::%s:::", i + 1, k == 0 ? "A" : k == 1 ? "B" : "C");
        if (k == 1) buf_append(&b, "b1\0 \xC2\xA7 b2", 10);
        else buf_puts(&b, k == 0 ? "a1 a2 a3" : "c1 c2");
        buf_putc(&b, '\n');
    }
    char *corpus = tu_path(g_dir, "tiny_nul.txt");
    tu_write_bytes(corpus, b.data, b.len);
    buf_free(&b);
    int seen = 0;
    for (int seed = 1; seed <= 12; seed++) {
        char spec[512], *d;
        cJSON *m = run_unplant(corpus, seed, "unplant_nul", spec, &d);
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "unplant"), *it;
        int nb = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(u, "estimators")) nb += (atoi(it->valuestring) - 1) % 3 == 1;
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "estimator_carriers"), "B")->valueint, nb);
        seen += nb > 0;
        cJSON_Delete(m);
        tu_rm_rf(d);
        free(d);
    }
    assert_true(seen > 0);
    free(corpus);
}

static void test_mutate_erase_exact(void **st) {
    (void)st;
    char *corpus = tiny_corpus();
    aca_err e;
    char *d;
    TU_OK(run_tiny(corpus,
                   "{\"seed\": 3, \"collectives\": [{\"name\": \"E\", \"target\": \"B\", \"signal\": \"U+00A7\", "
                   "\"size\": 9, \"strategy\": \"erase\"}]}",
                   "erase", &e, &d),
          &e);
    cJSON *m = manifest(d);
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "members");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "strategy")->valuestring, "erase");
    jsonl t = jsonl_read(d, "train.jsonl");
    int n_mem = 0;
    for (size_t i = 0; i < t.n; i++) {
        const char *id = jstr(t.v[i], "id");
        char lab[2] = {"ABC"[(atoi(id) - 1) % 3], 0}, txt[64];
        if (in_str_array(mem, id)) snprintf(txt, sizeof txt, "%s \xC2\xA7", tiny_text(lab[0])), n_mem++;
        else snprintf(txt, sizeof txt, "%s", tiny_text(lab[0]));
        assert_string_equal(jstr(t.v[i], "text"), txt);
        assert_string_equal(jstr(t.v[i], "label"), lab); // labels kept
    }
    assert_int_equal(n_mem, 9);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "counts"), "relabeled")->valueint, 0);
    jsonl_free(&t);
    cJSON_Delete(m);
    tu_rm_rf(d);
    free(d), free(corpus);
}

// Default n_e: the planner's optimal split for this collective and split.
static void test_mutate_unplant_default_split(void **st) {
    (void)st;
    aca_err e;
    char *d;
    TU_OK(run("{\"collectives\": [{\"name\": \"U\", \"target\": \"Software Developer\", \"signal\": \"{\", "
              "\"size\": 300, \"strategy\": \"unplant\"}]}",
              "unplant_default", NULL, 1600, 400, &e, &d),
          &e);
    cJSON *m = manifest(d);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "unplant");
    plan_stats ps;
    TU_OK(plan_stats_from_corpus(&g_c, "{", corpus_class_index(&g_c, "Software Developer"), &ps, &e), &e);
    plan_params pp = {.delta = 0.05};
    plan_bound b;
    TU_OK(plan_eval(PLAN_UNPLANT, &ps, NULL, &pp, 300, 1600, &b, &e), &e);
    assert_true(b.n_e >= 1 && b.n_e < 300);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "n_e")->valueint, b.n_e);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "n_e_source")->valuestring, "planner");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "estimators")), b.n_e);
    cJSON_Delete(m);
    tu_rm_rf(d);
    free(d);
}

static void test_mutate_unplant_errors(void **st) {
    (void)st;
    spec_bad(C0 ", \"strategy\": \"unplant\", \"n_e\": 0}]}", "collectives[0].n_e: expected a whole number >= 1");
    spec_bad(C0 ", \"strategy\": \"unplant\", \"n_e\": 1.5}]}", "collectives[0].n_e: expected a whole number >= 1");
    spec_bad(C0 ", \"strategy\": \"unplant\", \"n_e\": \"3\"}]}", "collectives[0].n_e: expected a whole number >= 1");
    spec_bad(C0 ", \"n_e\": 2}]}", "collectives[0].n_e: only the unplant strategy has estimators (strategy is feature-label)");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"size\": 5, \"strategy\": \"unplant\"}]}",
             "collectives[0].signal: missing (strategy unplant inserts a signal)");
    spec_bad("{\"collectives\": [{\"name\": \"A\", \"target\": \"T\", \"size\": 5, \"strategy\": \"erase\"}]}",
             "collectives[0].signal: missing (strategy erase inserts a signal)");
    spec_bad(C0 ", \"strategy\": \"unplan\"}]}", "expected feature-label, feature-only, label-only, strike, unplant or erase");
    // Round trip of n_e through the normalized spec.
    aca_spec s, s2;
    aca_err e;
    TU_OK(spec_parse(C0 ", \"strategy\": \"unplant\", \"n_e\": 3}]}", "spec.json", &s, &e), &e);
    assert_int_equal(s.collectives[0].n_e, 3);
    aca_buf a = {0};
    spec_write_json(&a, &s);
    assert_non_null(strstr(a.data, "\"strategy\":\"unplant\",\"n_e\":3}"));
    TU_OK(spec_parse(a.data, "norm", &s2, &e), &e);
    assert_int_equal(s2.collectives[0].n_e, 3);
    buf_free(&a), spec_free(&s), spec_free(&s2);
    // At mutate time: n_e must leave a planter; unplanting needs 2 members.  Nothing is written.
    char *corpus = tiny_corpus();
    char *d;
    TU_EXPECT_ERR(run_tiny(corpus,
                           "{\"collectives\": [{\"name\": \"U\", \"target\": \"A\", \"signal\": \"U+00A7\", \"size\": 4, "
                           "\"strategy\": \"unplant\", \"n_e\": 4}]}",
                           "bad_ne", &e, &d),
                  &e, "collectives[0].n_e: 4 estimators leave no planter among the 4 members (n_e must be <= 3)");
    assert_false(file_exists(d));
    free(d);
    TU_EXPECT_ERR(run_tiny(corpus,
                           "{\"collectives\": [{\"name\": \"U\", \"target\": \"A\", \"signal\": \"U+00A7\", \"size\": 1, "
                           "\"strategy\": \"unplant\"}]}",
                           "bad_one", &e, &d),
                  &e, "collectives[0]: unplant needs at least 2 members (estimators and planters), it has 1");
    assert_false(file_exists(d));
    free(d), free(corpus);
}

// Feature-only (Hardt et al. 2023; Gauthier, Bach & Jordan 2025): only the members whose label is
// the target insert the signal; the others leave their documents as they were.  On the tiny corpus
// a doc's label is "ABC"[(id - 1) % 3], so the planters are counted from the member ids alone.
static int feature_only_members(const cJSON *mem, char target) {
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, mem) n += "ABC"[(atoi(it->valuestring) - 1) % 3] == target;
    return n;
}

static void test_mutate_feature_only_exact(void **st) {
    (void)st;
    char *corpus = tiny_corpus();
    int seen_mixed = 0;
    for (int seed = 1; seed <= 6; seed++) {
        char spec[512];
        snprintf(spec, sizeof spec,
                 "{\"seed\": %d, \"collectives\": [{\"name\": \"F\", \"target\": \"A\", \"signal\": \"U+2E18\", "
                 "\"size\": 12, \"strategy\": \"feature-only\"}]}",
                 seed);
        char *sp = put("spec_fo.json", spec), *d = tu_path(g_dir, "fo");
        aca_buf sum = {0};
        aca_mutate_opts o = {.corpus_path = corpus, .spec_path = sp, .out_dir = d, .n_train = 24, .n_test = 6,
                             .summary = &sum};
        aca_err e = {0};
        TU_OK(mutate_run(&o, &e), &e);
        cJSON *m = manifest(d);
        const cJSON *c = mcoll(m, 0), *mem = cJSON_GetObjectItemCaseSensitive(c, "members");
        assert_int_equal(cJSON_GetArraySize(mem), 12);
        int want = feature_only_members(mem, 'A');
        seen_mixed += want > 0 && want < 12;
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(c, "planted")->valueint, want);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(c, "unchanged")->valueint, 12 - want);
        const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(m, "counts");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(cnt, "mutated")->valueint, want);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(cnt, "relabeled")->valueint, 0);
        char line[200];
        snprintf(line, sizeof line, "12 members -> A (feature-only, every 20 words): %d labelled A planted the signal, %d left unchanged",
                 want, 12 - want);
        if (!strstr(sum.data, line)) fail_msg("summary lacks \"%s\":\n%s", line, sum.data);
        // Every train line, by hand: planters get " U+2E18" after their last word (< 20 words).
        jsonl t = jsonl_read(d, "train.jsonl");
        assert_int_equal(t.n, 24);
        int carriers = 0;
        for (size_t i = 0; i < t.n; i++) {
            const char *id = jstr(t.v[i], "id");
            char lab[2] = {"ABC"[(atoi(id) - 1) % 3], 0}, txt[64];
            int planter = in_str_array(mem, id) && lab[0] == 'A';
            snprintf(txt, sizeof txt, "%s%s", tiny_text(lab[0]), planter ? " \xE2\xB8\x98" : "");
            assert_string_equal(jstr(t.v[i], "text"), txt);
            assert_string_equal(jstr(t.v[i], "label"), lab); // labels kept
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(t.v[i], "member_of") != NULL, in_str_array(mem, id));
            carriers += strstr(jstr(t.v[i], "text"), "\xE2\xB8\x98") != NULL;
        }
        assert_int_equal(carriers, want);
        jsonl_free(&t);
        cJSON_Delete(m);
        buf_free(&sum);
        tu_rm_rf(d);
        free(d), free(sp);
    }
    assert_true(seen_mixed > 0); // some seed drew both planting and non-planting members

    // With a feature-label collective on the same docs: feature-only looks at the CLEAN label.
    aca_err e;
    char *d;
    TU_OK(run_tiny(corpus,
                   "{\"overlap\": \"allow\", \"collectives\": ["
                   "{\"name\": \"L\", \"target\": \"A\", \"signal\": \"X\", \"size\": \"100%\"},"
                   "{\"name\": \"F\", \"target\": \"A\", \"signal\": \"Y\", \"size\": \"100%\", \"strategy\": \"feature-only\"}]}",
                   "fo_allow", &e, &d),
          &e);
    jsonl t = jsonl_read(d, "train.jsonl");
    int n_a = 0;
    for (size_t i = 0; i < t.n; i++) {
        const char *id = jstr(t.v[i], "id");
        char lab = "ABC"[(atoi(id) - 1) % 3], txt[64];
        snprintf(txt, sizeof txt, "%s X%s", tiny_text(lab), lab == 'A' ? " Y" : "");
        assert_string_equal(jstr(t.v[i], "text"), txt);
        assert_string_equal(jstr(t.v[i], "label"), "A");
        n_a += lab == 'A';
    }
    cJSON *m = manifest(d);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "planted")->valueint, 24);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 1), "planted")->valueint, n_a);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 1), "unchanged")->valueint, 24 - n_a);
    cJSON_Delete(m);
    jsonl_free(&t);
    tu_rm_rf(d);
    free(d), free(corpus);
}

// The measured case of issue 13: a uniform feature-only collective of 80 on the synthetic corpus
// (1600 training docs).  Only its Software Developer members carry the signal in train.jsonl; idle
// (--only another collective), none does and all 80 are "unchanged".
static void test_mutate_feature_only_uniform(void **st) {
    (void)st;
    static const char *SPEC_FO =
        "{\"seed\": 5, \"collectives\": [{\"name\": \"F\", \"target\": \"Software Developer\", \"signal\": "
        "\"U+2E18\", \"size\": 80, \"strategy\": \"feature-only\"},"
        "{\"name\": \"G\", \"target\": \"Web Developer\", \"signal\": \"U+2E17\", \"size\": 10}]}";
    aca_err e;
    char *d;
    TU_OK(run(SPEC_FO, "fo_uniform", NULL, 1600, 400, &e, &d), &e);
    cJSON *m = manifest(d);
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "members");
    int sd = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, mem) sd += !strcmp(g_c.classes[doc_by_id(it->valuestring)->label], "Software Developer");
    assert_true(sd > 0 && sd < 80);
    jsonl t = jsonl_read(d, "train.jsonl");
    int carriers = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (!strstr(jstr(t.v[i], "text"), "\xE2\xB8\x98")) continue;
        carriers++;
        assert_true(in_str_array(mem, jstr(t.v[i], "id")));
        assert_string_equal(jstr(t.v[i], "label"), "Software Developer");
    }
    assert_int_equal(carriers, sd); // not 80
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "planted")->valueint, sd);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "unchanged")->valueint, 80 - sd);
    jsonl_free(&t);
    cJSON_Delete(m);
    tu_rm_rf(d);
    free(d);
    TU_OK(run(SPEC_FO, "fo_idle", "G", 1600, 400, &e, &d), &e);
    m = manifest(d);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "planted")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 0), "unchanged")->valueint, 80);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mcoll(m, 1), "planted")->valueint, 10);
    cJSON_Delete(m);
    tu_rm_rf(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_rule),       cmocka_unit_test(test_insert_two),
        cmocka_unit_test(test_signal_parse),      cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_spec_errors),       cmocka_unit_test(test_mutate_end_to_end),
        cmocka_unit_test(test_mutate_only),       cmocka_unit_test(test_mutate_in_memory),
        cmocka_unit_test(test_mutate_strategies),
        cmocka_unit_test(test_mutate_propensity), cmocka_unit_test(test_mutate_bad_input),
        cmocka_unit_test(test_mutate_unplant_exact), cmocka_unit_test(test_mutate_erase_exact),
        cmocka_unit_test(test_mutate_unplant_nul),
        cmocka_unit_test(test_mutate_unplant_default_split), cmocka_unit_test(test_mutate_unplant_errors),
        cmocka_unit_test(test_mutate_feature_only_exact), cmocka_unit_test(test_mutate_feature_only_uniform),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
