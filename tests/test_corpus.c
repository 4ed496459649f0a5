// Corpora: formats and their round trips, cp1252, class names, splits, statistics, the synthetic
// corpus (determinism, properties, learnability), and every bad-input path of the loader.
#include "testutil.h"

#include <math.h>

#include "aca/corpus.h"

static char *g_dir;

static int setup(void **st) {
    (void)st;
    g_dir = tu_tmpdir();
    return 0;
}
static int teardown(void **st) {
    (void)st;
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

// Writes s to DIR/name and returns the path (malloc'd).
static char *put(const char *name, const char *s) {
    char *p = tu_path(g_dir, name);
    tu_write_file(p, s);
    return p;
}

static void load_ok(const char *path, const aca_corpus_opts *o, aca_corpus *c) {
    aca_err e = {0};
    TU_OK(corpus_load(path, o, c, &e), &e);
}

// ---- formats -----------------------------------------------------------------------------------
static void test_resume_basic(void **st) {
    (void)st;
    char *p = put("r.txt", "a1:::Project_manager:::Led  the team\r\n"
                           "\n"
                           "a2:::Project Manager; Web_Developer:::Built sites: with ::: inside\n"
                           "a3:::web developer:::x\n");
    aca_corpus c;
    load_ok(p, NULL, &c);
    assert_int_equal(c.format, CORPUS_FMT_RESUME);
    assert_int_equal(c.encoding, CORPUS_ENC_UTF8);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.n_classes, 2);
    assert_string_equal(c.classes[0], "Project manager"); // first spelling, '_' -> ' '
    assert_string_equal(c.classes[1], "web developer");
    assert_string_equal(c.docs[0].id, "a1");
    assert_string_equal(c.docs[0].text, "Led  the team"); // CR dropped, inner spaces kept
    assert_int_equal(c.docs[0].len, 13);
    assert_int_equal(c.docs[0].label, 0);
    assert_int_equal(c.docs[1].label, 0); // first label of a multi-label line
    assert_int_equal(c.docs[1].n_labels, 2);
    assert_int_equal(c.docs[1].line, 3);
    assert_string_equal(c.docs[1].text, "Built sites: with ::: inside");
    assert_int_equal(c.docs[2].label, 1);
    assert_int_equal(corpus_class_index(&c, "PROJECT_MANAGER"), 0);
    assert_int_equal(corpus_class_index(&c, "Web Developer"), 1);
    assert_int_equal(corpus_class_index(&c, "Web  Developer"), -1);
    corpus_free(&c);

    aca_corpus_opts o = {.multilabel = CORPUS_MULTI_DROP};
    load_ok(p, &o, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.n_dropped, 1);
    assert_string_equal(c.docs[1].id, "a3");
    corpus_free(&c);
    free(p);
}

static void test_class_name_equal(void **st) {
    (void)st;
    assert_true(class_name_equal("Project_manager", "Project Manager"));
    assert_true(class_name_equal("front end developer", "Front_End_Developer"));
    assert_false(class_name_equal("Project Manager", "Project Managers"));
    assert_false(class_name_equal("Project", "Project Manager"));
    assert_false(class_name_equal("", "x"));
}

static void test_jsonl_and_tsv(void **st) {
    (void)st;
    char *p = put("j.jsonl", "{\"id\": \"x1\", \"text\": \"caf\\u00e9 \\\"q\\\"\\tz\", \"label\": \"A_B\"}\n"
                             "{\"text\": \"no id\", \"label\": [\"a b\", \"C\"], \"extra\": 1}\n"
                             "{\"id\": 17, \"text\": \"num id\", \"label\": \"C;A b\"}\n");
    aca_corpus c;
    load_ok(p, NULL, &c);
    assert_int_equal(c.format, CORPUS_FMT_JSONL);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.docs[0].text, "caf\xC3\xA9 \"q\"\tz");
    assert_string_equal(c.docs[1].id, "2"); // line number
    assert_int_equal(c.docs[1].n_labels, 2);
    assert_int_equal(c.docs[1].label, 0);
    assert_string_equal(c.docs[2].id, "17");
    assert_string_equal(c.classes[1], "C");
    assert_int_equal(c.docs[2].label, 1);
    assert_int_equal(c.docs[2].n_labels, 2);
    corpus_free(&c);
    // Dropping multi-label docs registers none of their classes.
    aca_corpus_opts drop = {.multilabel = CORPUS_MULTI_DROP};
    load_ok(p, &drop, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.n_dropped, 2);
    assert_int_equal(c.n_classes, 1);
    assert_string_equal(c.classes[0], "A B");
    corpus_free(&c);
    free(p);

    p = put("t.tsv", "label\ttext\nA_B\tfirst\ttabbed\n\nC\tsecond\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.format, CORPUS_FMT_TSV);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.docs[0].text, "first\ttabbed");
    assert_string_equal(c.docs[0].id, "2");
    assert_string_equal(c.docs[1].id, "4");
    assert_string_equal(c.classes[0], "A B");
    corpus_free(&c);
    free(p);

    // Content sniffing when the extension says nothing.
    p = put("sniff.dat", "{\"text\":\"t\",\"label\":\"L\"}\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.format, CORPUS_FMT_JSONL);
    corpus_free(&c);
    free(p);
}

static void assert_same_docs(const aca_corpus *a, const aca_corpus *b, int same_ids) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->docs[i].len, b->docs[i].len);
        assert_memory_equal(a->docs[i].text, b->docs[i].text, a->docs[i].len);
        assert_string_equal(a->classes[a->docs[i].label], b->classes[b->docs[i].label]);
        if (same_ids) assert_string_equal(a->docs[i].id, b->docs[i].id);
    }
}

// resume -> JSONL -> resume -> TSV: the docs (text, class, id where the format keeps it) survive.
static void test_round_trip(void **st) {
    (void)st;
    aca_buf b = {0};
    corpus_synth_text(&b, 300, 7);
    char *src = tu_path(g_dir, "rt.txt");
    tu_write_bytes(src, b.data, b.len);
    buf_free(&b);
    aca_corpus c0, c1, c2, c3;
    aca_err e = {0};
    load_ok(src, NULL, &c0);
    char *pj = tu_path(g_dir, "rt.jsonl"), *pr = tu_path(g_dir, "rt2.txt"), *pt = tu_path(g_dir, "rt.tsv");
    TU_OK(corpus_write_jsonl(pj, &c0, NULL, 0, &e), &e);
    load_ok(pj, NULL, &c1);
    assert_same_docs(&c0, &c1, 1);
    TU_OK(corpus_write(pr, CORPUS_FMT_RESUME, &c1, NULL, 0, &e), &e);
    load_ok(pr, NULL, &c2);
    assert_same_docs(&c0, &c2, 1);
    TU_OK(corpus_write(pt, CORPUS_FMT_TSV, &c2, NULL, 0, &e), &e);
    load_ok(pt, NULL, &c3);
    assert_same_docs(&c0, &c3, 0);
    // A subset by index.
    uint32_t idx[3] = {5, 0, 299};
    TU_OK(corpus_write_jsonl(pj, &c0, idx, 3, &e), &e);
    corpus_free(&c1);
    load_ok(pj, NULL, &c1);
    assert_int_equal(c1.n, 3);
    assert_string_equal(c1.docs[0].id, c0.docs[5].id);
    assert_string_equal(c1.docs[2].id, c0.docs[299].id);
    corpus_free(&c0), corpus_free(&c1), corpus_free(&c2), corpus_free(&c3);
    free(src), free(pj), free(pr), free(pt);
}

// ---- encodings ---------------------------------------------------------------------------------
static void test_cp1252(void **st) {
    (void)st;
    // é (0xE9), curly quotes (0x93 0x94), euro (0x80), en dash (0x96), bullet (0x95), ü (0xFC)
    const char raw[] = "1:::Dev:::caf\xE9 \x93q\x94 \x80 5 \x96 \x95 M\xFCller\n";
    const char want[] = "caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC 5 \xE2\x80\x93 \xE2\x80\xA2 M\xC3\xBCller";
    char *p = put("cp.txt", raw);
    aca_corpus c;
    load_ok(p, NULL, &c); // auto: not valid UTF-8 -> cp1252
    assert_int_equal(c.encoding, CORPUS_ENC_CP1252);
    assert_string_equal(c.docs[0].text, want);
    corpus_free(&c);
    aca_corpus_opts o = {.encoding = CORPUS_ENC_CP1252};
    load_ok(p, &o, &c);
    assert_string_equal(c.docs[0].text, want);
    corpus_free(&c);
    // Explicit UTF-8: an error naming file, line and byte offset.
    aca_err e;
    o.encoding = CORPUS_ENC_UTF8;
    TU_EXPECT_ERR(corpus_load(p, &o, &c, &e), &e, "cp.txt:1: invalid UTF-8 at byte offset 13");
    free(p);

    // A UTF-8 file stays UTF-8 under auto; read as cp1252 it maps byte by byte ("é" -> "Ã©").
    p = put("u8.txt", "1:::Dev:::caf\xC3\xA9\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.encoding, CORPUS_ENC_UTF8);
    assert_string_equal(c.docs[0].text, "caf\xC3\xA9");
    corpus_free(&c);
    o.encoding = CORPUS_ENC_CP1252;
    load_ok(p, &o, &c);
    assert_string_equal(c.docs[0].text, "caf\xC3\x83\xC2\xA9");
    corpus_free(&c);
    free(p);

    // Undefined cp1252 bytes name the line.
    p = put("und.txt", "1:::Dev:::ok \xE9\n2:::Dev:::bad \x81 byte\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "und.txt:2: byte 0x81 is undefined in windows-1252");
    free(p);
    // Overlong and surrogate sequences are invalid UTF-8.
    p = put("ovl.txt", "1:::Dev:::ok\n2:::Dev:::x \xC0\xAF\n");
    o.encoding = CORPUS_ENC_UTF8;
    TU_EXPECT_ERR(corpus_load(p, &o, &c, &e), &e, "ovl.txt:2: invalid UTF-8 at byte offset 25");
    free(p);
    p = put("sur.txt", "1:::Dev:::\xED\xA0\x80\n");
    TU_EXPECT_ERR(corpus_load(p, &o, &c, &e), &e, "sur.txt:1: invalid UTF-8");
    free(p);
}

// ---- bad input ---------------------------------------------------------------------------------
static void test_bad_input(void **st) {
    (void)st;
    aca_corpus c;
    aca_err e;
    char *p = put("m.txt", "1:::A:::fine\n2:::A no separator\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m.txt:2: malformed line");
    free(p);
    p = put("m2.txt", "1:::A:::fine\n\n3:::A:::   \t\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m2.txt:3: empty text");
    free(p);
    p = put("m3.txt", "1::: ; :::text\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m3.txt:1: malformed line: empty label");
    free(p);
    p = put("m4.jsonl", "{\"text\":\"a\",\"label\":\"A\"}\n{\"text\": 3, \"label\":\"A\"}\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m4.jsonl:2: malformed line: field \"text\" missing or not a string");
    free(p);
    p = put("m5.jsonl", "{\"text\":\"a\",\"label\":\"A\"}\n{\"text\":\"a\" \"label\"}\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m5.jsonl:2: malformed line: column 13: ',' or '}' expected");
    free(p);
    p = put("m6.jsonl", "{\"text\":\"a\"}\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m6.jsonl:1: malformed line: \"label\" missing");
    free(p);
    p = put("m7.tsv", "A\tok\nno tab here\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m7.tsv:2: malformed line: expected label<TAB>text");
    free(p);
    p = put("m8.dat", "plain words only\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m8.dat: cannot tell the format");
    free(p);
    p = put("m9.txt", "\n\n");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "m9.txt: cannot tell the format");
    free(p);
    // Unknown class against a fixed class list.
    p = put("k.txt", "1:::Web_Developer:::a\n2:::Astronaut:::b\n");
    const char *const fixed[] = {"Web Developer", "Java Developer"};
    aca_corpus_opts o = {.classes = fixed, .n_classes = 2};
    TU_EXPECT_ERR(corpus_load(p, &o, &c, &e), &e, "k.txt:2: unknown class 'Astronaut'");
    free(p);
    // Missing and unreadable files.
    p = tu_path(g_dir, "missing.txt");
    TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "missing.txt: cannot open");
    assert_int_equal(e.kind, ACA_ERR_IO);
    free(p);
    TU_EXPECT_ERR(corpus_load(g_dir, NULL, &c, &e), &e, "is a directory");
}

static void test_fixed_classes(void **st) {
    (void)st;
    char *p = put("f.txt", "1:::java_developer:::a\n2:::Web Developer:::b\n");
    char *cl = put("classes.txt", "Web_Developer\n\nJava Developer\nPython Developer\n");
    char **names;
    int n;
    aca_err e = {0};
    TU_OK(corpus_load_classes(cl, &names, &n, &e), &e);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "Web Developer");
    aca_corpus_opts o = {.classes = (const char *const *)names, .n_classes = n};
    aca_corpus c;
    load_ok(p, &o, &c);
    assert_int_equal(c.n_classes, 3);
    assert_int_equal(c.docs[0].label, 1);
    assert_int_equal(c.docs[1].label, 0);
    assert_string_equal(c.classes[1], "Java Developer");
    corpus_free(&c);
    corpus_free_classes(names, n);
    free(cl);
    cl = put("classes.json", "[\"A\", \"B_c\"]");
    TU_OK(corpus_load_classes(cl, &names, &n, &e), &e);
    assert_int_equal(n, 2);
    assert_string_equal(names[1], "B c");
    corpus_free_classes(names, n);
    free(cl);
    cl = put("dup.txt", "A\nb_c\nB c\n");
    TU_EXPECT_ERR(corpus_load_classes(cl, &names, &n, &e), &e, "dup.txt: class 'B c' listed twice");
    free(cl);
    free(p);
}

// Writes n bytes (which may hold NUL) to DIR/name and returns the path (malloc'd).
static char *put_n(const char *name, const char *s, size_t n) {
    char *p = tu_path(g_dir, name);
    tu_write_bytes(p, s, n);
    return p;
}
#define PUT_BYTES(name, lit) put_n(name, lit, sizeof lit - 1)

// Loads p; the error message must contain want.
static void load_err(const char *p, const aca_corpus_opts *o, const char *want) {
    aca_corpus c;
    aca_err e;
    TU_EXPECT_ERR(corpus_load(p, o, &c, &e), &e, want);
}

static void expect_text(const aca_doc *d, const char *want, size_t n) {
    assert_int_equal(d->len, n);
    assert_memory_equal(d->text, want, n);
}

// ---- U+0000: a text keeps it whole (the tokenizer drops it as Hugging Face does); ids and labels
// cannot hold one; JSON raw control bytes are errors naming line and column.
static void test_nul_in_text(void **st) {
    (void)st;
    aca_corpus c;
    char *p = PUT_BYTES("nul.txt", "1:::A:::before\0after words\n2:::B:::x\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 2);
    expect_text(&c.docs[0], "before\0after words", 18);
    corpus_free(&c);
    free(p);
    p = PUT_BYTES("nul.tsv", "A\tbefore\0after\nB\tx\n");
    load_ok(p, NULL, &c);
    expect_text(&c.docs[0], "before\0after", 12);
    corpus_free(&c);
    free(p);
    // JSON \u0000: the text goes on after it (cJSON alone cut it to "before")
    p = put("nul.jsonl", "{\"text\": \"before\\u0000after {\", \"label\": \"A\"}\n{\"text\": \"\\u0000x\", \"label\": \"B\"}\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 2);
    expect_text(&c.docs[0], "before\0after {", 14);
    expect_text(&c.docs[1], "\0x", 2);
    // and what aca writes reads back the same (buf_json_str escapes U+0000)
    char *q = tu_path(g_dir, "nul_rt.jsonl");
    aca_err e = {0};
    TU_OK(corpus_write_jsonl(q, &c, NULL, 0, &e), &e);
    aca_corpus c2;
    load_ok(q, NULL, &c2);
    assert_same_docs(&c, &c2, 1);
    corpus_free(&c2);
    corpus_free(&c);
    free(q);
    free(p);
    // a raw NUL inside a JSON string, or alone on a line between documents
    p = PUT_BYTES("raw.jsonl", "{\"text\": \"a\0b\", \"label\": \"A\"}\n");
    load_err(p, NULL, "raw.jsonl:1: malformed line: column 12: a raw NUL byte inside a string");
    free(p);
    p = PUT_BYTES("between.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\n\0\n{\"text\": \"b\", \"label\": \"A\"}\n");
    load_err(p, NULL, "between.jsonl:2: malformed line: column 1: a NUL byte outside a string");
    free(p);
    p = PUT_BYTES("lead.jsonl", "\0{\"text\": \"a\", \"label\": \"A\"}\n");
    load_err(p, NULL, "lead.jsonl:1: malformed line: column 1");
    free(p);
    // ids and labels: an error naming the line
    p = PUT_BYTES("id.txt", "1\0x:::A:::text\n");
    load_err(p, NULL, "id.txt:1: a NUL byte (U+0000) in the document id");
    free(p);
    p = PUT_BYTES("lab.txt", "1:::A\0B:::text\n");
    load_err(p, NULL, "lab.txt:1: a NUL byte (U+0000) in the label");
    free(p);
    p = PUT_BYTES("lab.tsv", "A\0B\ttext\n");
    load_err(p, NULL, "lab.tsv:1: a NUL byte (U+0000) in the label");
    free(p);
    p = put("lab.jsonl", "{\"text\": \"t\", \"label\": \"Web\\u0000Developer\"}\n");
    load_err(p, NULL, "lab.jsonl:1: malformed line: field \"label\" holds U+0000");
    free(p);
    p = put("laba.jsonl", "{\"text\": \"t\", \"label\": [\"A\", \"B\\u0000\"]}\n");
    load_err(p, NULL, "laba.jsonl:1: malformed line: field \"label\" holds U+0000");
    free(p);
    p = put("idj.jsonl", "{\"id\": \"7\\u0000x\", \"text\": \"t\", \"label\": \"A\"}\n");
    load_err(p, NULL, "idj.jsonl:1: malformed line: field \"id\" holds U+0000");
    free(p);
    p = put("key.jsonl", "{\"text\\u0000\": \"t\", \"text\": \"u\", \"label\": \"A\"}\n");
    load_err(p, NULL, "key.jsonl:1: malformed line: column 2: U+0000 in an object key");
    free(p);
    // a text of nothing but NULs and controls is empty
    p = put("empty.jsonl", "{\"text\": \"\\u0000 \\t\\u0001\", \"label\": \"A\"}\n");
    load_err(p, NULL, "empty.jsonl:1: empty text");
    free(p);
    p = PUT_BYTES("empty.txt", "1:::A:::\0\0 \x7f\n");
    load_err(p, NULL, "empty.txt:1: empty text");
    free(p);
    // a TSV header compares by length: "text\0junk" is not "text"
    p = PUT_BYTES("hdr.tsv", "label\ttext\0junk\nA\tx\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 2);
    corpus_free(&c);
    free(p);
}

// ---- JSONL: one object per line, nothing after it; clear messages for wrong types --------------
static void test_jsonl_strict(void **st) {
    (void)st;
    char *p = put("two.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\n{\"text\": \"b\", \"label\": \"A\"} {\"text\": \"c\", \"label\": \"B\"}\n");
    load_err(p, NULL, "two.jsonl:2: malformed line: column 29: content after the JSON value");
    free(p);
    p = put("junk.jsonl", "{\"text\": \"a\", \"label\": \"A\"}garbage\n");
    load_err(p, NULL, "junk.jsonl:1: malformed line: column 28: content after the JSON value");
    free(p);
    p = put("comma.jsonl", "{\"text\": \"a\", \"label\": \"A\"},\n");
    load_err(p, NULL, "comma.jsonl:1: malformed line: column 28");
    free(p);
    p = put("dup.jsonl", "{\"text\": \"a\", \"label\": \"A\", \"text\": \"b\"}\n");
    load_err(p, NULL, "dup.jsonl:1: malformed line: field \"text\" given twice");
    free(p);
    p = put("num.jsonl", "{\"text\": \"a\", \"label\": 7}\n");
    load_err(p, NULL, "num.jsonl:1: malformed line: \"label\" is a number (7); a label is a class name");
    free(p);
    p = put("numa.jsonl", "{\"text\": \"a\", \"label\": [\"A\", 2]}\n");
    load_err(p, NULL, "numa.jsonl:1: malformed line: \"label\"[1] is a number (2), not a class name");
    free(p);
    p = put("nul.jsonl", "{\"text\": \"a\", \"label\": null}\n");
    load_err(p, NULL, "nul.jsonl:1: malformed line: \"label\" is null");
    free(p);
    p = put("idf.jsonl", "{\"id\": 1.5, \"text\": \"a\", \"label\": \"A\"}\n");
    load_err(p, NULL, "idf.jsonl:1: malformed line: \"id\" is a number (1.5)");
    free(p);
    p = put("ctl.jsonl", "{\"text\": \"a\tb\", \"label\": \"A\"}\n");
    load_err(p, NULL, "ctl.jsonl:1: malformed line: column 12: a raw control character inside a string");
    free(p);
    p = put("sur.jsonl", "{\"text\": \"\\ud800x\", \"label\": \"A\"}\n");
    load_err(p, NULL, "sur.jsonl:1: malformed line: column 11: a high surrogate escape without its low surrogate");
    free(p);
    // trailing whitespace, CRLF and a last line without a newline are fine; surrogate pairs decode
    aca_corpus c;
    p = put("ok.jsonl", "{\"text\": \"a \\ud83d\\ude00\", \"label\": \"A\"}  \r\n{\"text\": \"b\", \"label\": \"B\"}");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 2);
    expect_text(&c.docs[0], "a \xF0\x9F\x98\x80", 6);
    expect_text(&c.docs[1], "b", 1);
    corpus_free(&c);
    free(p);
}

// ---- encodings: a BOM means UTF-8; an invalid byte in UTF-8 text is an error ------------------
static void test_bom_and_stray_bytes(void **st) {
    (void)st;
    aca_corpus c;
    aca_corpus_opts cp = {.encoding = CORPUS_ENC_CP1252}, u8 = {.encoding = CORPUS_ENC_UTF8};
    // BOM + one stray byte: an error naming line and offset (was: the whole file read as cp1252,
    // id "1" became "ï»¿1")
    char *p = PUT_BYTES("bom.txt", "\xEF\xBB\xBF" "1:::Dev:::caf\xC3\xA9\n2:::Dev:::stray \xE9 byte\n");
    load_err(p, NULL, "bom.txt:2: invalid UTF-8 at byte offset 35 (byte 0xE9) (the file starts with a UTF-8 byte order mark");
    load_err(p, &u8, "bom.txt:2: invalid UTF-8 at byte offset 35");
    load_err(p, &cp, "bom.txt: starts with a UTF-8 byte order mark, but --encoding cp1252 was given");
    free(p);
    // BOM stripped in every format
    p = PUT_BYTES("bom2.txt", "\xEF\xBB\xBF" "1:::Dev:::caf\xC3\xA9\n");
    load_ok(p, NULL, &c);
    assert_string_equal(c.docs[0].id, "1");
    assert_int_equal(c.encoding, CORPUS_ENC_UTF8);
    corpus_free(&c);
    free(p);
    p = PUT_BYTES("bom.tsv", "\xEF\xBB\xBF" "label\ttext\nA\tx\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 1); // the header is still a header
    assert_int_equal(c.n_classes, 1);
    assert_string_equal(c.classes[0], "A");
    corpus_free(&c);
    free(p);
    p = PUT_BYTES("bom.jsonl", "\xEF\xBB\xBF{\"text\": \"x\", \"label\": \"A\"}\n");
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 1);
    corpus_free(&c);
    free(p);
    // no BOM, UTF-8 characters and a stray byte: auto refuses to guess cp1252
    p = PUT_BYTES("stray.txt", "1:::Dev:::na\xC3\xAFve caf\xC3\xA9\n2:::Dev:::stray \xE9 byte\n");
    load_err(p, NULL, "stray.txt:2: invalid UTF-8 at byte offset 39 (byte 0xE9) in a file that otherwise reads as UTF-8");
    load_ok(p, &cp, &c); // the user's word goes
    assert_int_equal(c.encoding, CORPUS_ENC_CP1252);
    corpus_free(&c);
    free(p);
    // UTF-16: refused, not read as cp1252 "ÿþ"
    p = PUT_BYTES("u16.txt", "\xFF\xFE" "1\0:\0:\0:\0A\0:\0:\0:\0x\0\n\0");
    load_err(p, NULL, "u16.txt: starts with a UTF-16 byte order mark");
    load_err(p, &cp, "u16.txt: starts with a UTF-16 byte order mark");
    free(p);
    // UTF-16 without a BOM is valid UTF-8 full of NULs: a malformed line, not silent text
    p = PUT_BYTES("u16n.txt", "1\0:\0:\0:\0A\0:\0:\0:\0x\0\n\0");
    load_err(p, NULL, "u16n.txt: cannot tell the format");
    aca_corpus_opts res = {.format = CORPUS_FMT_RESUME};
    load_err(p, &res, "u16n.txt:1: malformed line");
    free(p);
}

// ---- a huge line (4 MB) and a last line without LF arrive whole, in every format ---------------
static void test_huge_line(void **st) {
    (void)st;
    const size_t W = 800000; // words of "word " (5 bytes each)
    static const char *const names[] = {"huge.txt", "huge.tsv", "huge.jsonl"};
    static const char *const firsts[] = {"2:::B:::short\n", "B\tshort\n", "{\"text\": \"short\", \"label\": \"B\"}\n"};
    static const char *const heads[] = {"1:::A:::", "A\t", "{\"label\": \"A\", \"text\": \""};
    for (int k = 0; k < 3; k++) {
        aca_buf b = {0};
        buf_puts(&b, firsts[k]);
        buf_puts(&b, heads[k]);
        for (size_t i = 0; i < W; i++) buf_puts(&b, i + 1 < W ? "word " : "last");
        if (k == 2) buf_puts(&b, "\"}");
        char *p = put_n(names[k], b.data, b.len); // no LF at the end
        aca_corpus c;
        load_ok(p, NULL, &c);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.docs[1].len, 5 * W - 1);
        assert_memory_equal(c.docs[1].text + 5 * W - 10, "word last", 9);
        assert_int_equal(text_count_words(c.docs[1].text, c.docs[1].len), W);
        corpus_free(&c);
        buf_free(&b);
        free(p);
    }
}

// ---- concatenated files: a BOM or a TSV header in the middle would become an id or a class ----
static void test_concatenated(void **st) {
    (void)st;
    char *p = PUT_BYTES("cat.tsv", "\xEF\xBB\xBFlabel\ttext\nA\tx\n\xEF\xBB\xBFlabel\ttext\nB\ty\n");
    load_err(p, NULL, "cat.tsv:3: a byte order mark (U+FEFF) starts the line: concatenated files?");
    free(p);
    p = put("cat2.tsv", "label\ttext\nA\tx\nlabel\ttext\nB\ty\n");
    load_err(p, NULL, "cat2.tsv:3: a second header line label<TAB>text");
    free(p);
    p = PUT_BYTES("cat.txt", "1:::A:::x\n\xEF\xBB\xBF" "2:::B:::y\n");
    load_err(p, NULL, "cat.txt:2: a byte order mark (U+FEFF) starts the line");
    free(p);
    // U+FEFF inside a text is a character like any other (BERT's cleaning drops it)
    aca_corpus c;
    p = PUT_BYTES("feff.txt", "1:::A:::x \xEF\xBB\xBFy\n");
    load_ok(p, NULL, &c);
    expect_text(&c.docs[0], "x \xEF\xBB\xBFy", 6);
    corpus_free(&c);
    free(p);
}

// ---- CR: kept inside a text, refused where it joins two records ------------------------------
static void test_cr_in_lines(void **st) {
    (void)st;
    aca_corpus c;
    char *p = put("cr.txt", "1:::A:::x\r2:::B:::y\n");
    load_err(p, NULL, "cr.txt:1: column 10: a carriage return (CR) followed by another record");
    free(p);
    p = put("cr.tsv", "A\tx\rB\ty\n");
    load_err(p, NULL, "cr.tsv:1: column 4: a carriage return (CR) followed by another record");
    free(p);
    p = put("cr2.txt", "1:::A:::x\ry z\r\n");
    load_ok(p, NULL, &c);
    expect_text(&c.docs[0], "x\ry z", 5);
    corpus_free(&c);
    free(p);
}

// ---- class lists: BOM, NUL, strict JSON --------------------------------------------------------
static void test_class_list_input(void **st) {
    (void)st;
    char **names;
    int n;
    aca_err e = {0};
    char *p = PUT_BYTES("cl_bom.txt", "\xEF\xBB\xBFWeb_Developer\r\nJava Developer\n");
    TU_OK(corpus_load_classes(p, &names, &n, &e), &e);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "Web Developer");
    corpus_free_classes(names, n);
    free(p);
    p = PUT_BYTES("cl_bom.json", "\xEF\xBB\xBF[\"A\", \"B\"]");
    TU_OK(corpus_load_classes(p, &names, &n, &e), &e);
    assert_int_equal(n, 2);
    corpus_free_classes(names, n);
    free(p);
    p = PUT_BYTES("cl_nul.txt", "A\nB\0C\n");
    TU_EXPECT_ERR(corpus_load_classes(p, &names, &n, &e), &e, "cl_nul.txt:2: a NUL byte (U+0000) in a class name");
    free(p);
    p = put("cl_nul.json", "[\"A\", \"B\\u0000C\"]");
    TU_EXPECT_ERR(corpus_load_classes(p, &names, &n, &e), &e, "cl_nul.json: [1]: a NUL byte (U+0000) in a class name");
    free(p);
    p = put("cl_tail.json", "[\"A\", \"B\"] [\"C\"]");
    TU_EXPECT_ERR(corpus_load_classes(p, &names, &n, &e), &e, "cl_tail.json:1: column 12: content after the JSON value");
    free(p);
}

// ---- the synthetic corpus in every format: `aca corpus synth --out x.jsonl` wrote resume lines ---
static void test_synth_formats(void **st) {
    (void)st;
    aca_err e = {0};
    aca_corpus c0, c;
    char *p0 = tu_path(g_dir, "s.txt");
    TU_OK(corpus_synth_save(p0, CORPUS_FMT_AUTO, 300, 11, NULL, &e), &e);
    load_ok(p0, NULL, &c0);
    assert_int_equal(c0.format, CORPUS_FMT_RESUME);
    static const char *const names[] = {"s.jsonl", "s.JSON", "s.tsv", "s.dat"};
    static const aca_corpus_format want[] = {CORPUS_FMT_JSONL, CORPUS_FMT_JSONL, CORPUS_FMT_TSV, CORPUS_FMT_JSONL};
    for (int k = 0; k < 4; k++) {
        char *p = tu_path(g_dir, names[k]);
        TU_OK(corpus_synth_save(p, k == 3 ? CORPUS_FMT_JSONL : CORPUS_FMT_AUTO, 300, 11, NULL, &e), &e);
        aca_corpus_opts o = {.format = k == 3 ? CORPUS_FMT_JSONL : CORPUS_FMT_AUTO};
        load_ok(p, &o, &c);
        assert_int_equal(c.format, want[k]);
        assert_same_docs(&c0, &c, want[k] == CORPUS_FMT_JSONL);
        size_t multi = 0;
        for (size_t i = 0; i < c.n; i++) {
            assert_int_equal(c.docs[i].n_labels, c0.docs[i].n_labels);
            multi += c.docs[i].n_labels > 1;
        }
        assert_true(multi >= 1); // the multi-label lines survive the conversion
        corpus_free(&c);
        free(p);
    }
    // the resume format is corpus_synth_write's bytes
    aca_buf a = {0}, b = {0};
    char *p1 = tu_path(g_dir, "s1.txt");
    TU_OK(corpus_synth_write(p1, 300, 11, &e), &e);
    TU_OK(file_read_all(p0, &a, &e), &e);
    TU_OK(file_read_all(p1, &b, &e), &e);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    buf_free(&a), buf_free(&b);
    corpus_free(&c0);
    free(p0), free(p1);
}

// ---- splits ------------------------------------------------------------------------------------
static void test_split(void **st) {
    (void)st;
    aca_corpus c = {0};
    c.n = 1000;
    aca_split a, b, d;
    aca_err e = {0};
    TU_OK(corpus_split(&c, 700, 200, 5, &a, &e), &e);
    TU_OK(corpus_split(&c, 700, 200, 5, &b, &e), &e);
    TU_OK(corpus_split(&c, 700, 200, 6, &d, &e), &e);
    assert_memory_equal(a.train, b.train, 700 * sizeof(uint32_t));
    assert_memory_equal(a.test, b.test, 200 * sizeof(uint32_t));
    assert_true(memcmp(a.train, d.train, 700 * sizeof(uint32_t)) != 0);
    uint8_t seen[1000] = {0};
    for (size_t i = 0; i < 700; i++) {
        assert_true(a.train[i] < 1000);
        if (i) assert_true(a.train[i - 1] < a.train[i]); // sorted, hence no repeats
        seen[a.train[i]]++;
    }
    for (size_t i = 0; i < 200; i++) {
        if (i) assert_true(a.test[i - 1] < a.test[i]);
        assert_int_equal(seen[a.test[i]], 0); // disjoint from train
    }
    split_free(&a), split_free(&b), split_free(&d);

    size_t ntr, nte;
    TU_OK(corpus_split_preset("hardt", &ntr, &nte, &e), &e);
    assert_int_equal(ntr, 25000), assert_int_equal(nte, 4783);
    TU_OK(corpus_split_preset("karan", &ntr, &nte, &e), &e);
    assert_int_equal(ntr, 20000), assert_int_equal(nte, 5000);
    TU_OK(corpus_split_preset("1600/400", &ntr, &nte, &e), &e);
    assert_int_equal(ntr, 1600), assert_int_equal(nte, 400);
    TU_EXPECT_ERR(corpus_split_preset("1600/", &ntr, &nte, &e), &e, "--split: expected karan");
    TU_EXPECT_ERR(corpus_split_preset("big", &ntr, &nte, &e), &e, "got 'big'");
    TU_EXPECT_ERR(corpus_split(&c, 20000, 5000, 1, &a, &e), &e,
                  "the corpus has 1000 docs, but the split asks for 20000 train + 5000 test");
    TU_EXPECT_ERR(corpus_split(&c, 900, 101, 1, &a, &e), &e, "asks for 900 train + 101 test");
}

// ---- statistics --------------------------------------------------------------------------------
static void test_stats(void **st) {
    (void)st;
    char *p = put("s.txt", "1:::A:::one two three {x}\n"        // 4 words
                           "2:::B;A:::caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9\n" // 2 words, é in 1 doc (twice)
                           "3:::A:::a b c d e f g h i j\n"       // 10 words
                           "4:::B:::\xC3\xA9t\xC3\xA9 x\n");     // 2 words
    aca_corpus c;
    load_ok(p, NULL, &c);
    aca_corpus_stats s;
    corpus_stats(&c, &s);
    assert_int_equal(s.n_docs, 4);
    assert_int_equal(s.n_multilabel, 1);
    assert_int_equal(s.class_docs[0], 2);
    assert_int_equal(s.class_docs[1], 2);
    assert_int_equal(s.words_min, 2);
    assert_int_equal(s.words_median, 2); // sorted 2 2 4 10: element (n-1)/2
    assert_int_equal(s.words_p90, 4);    // element floor(0.9 (n-1)) = 2
    assert_int_equal(s.words_max, 10);
    assert_int_equal(s.words_total, 18);
    assert_int_equal(s.n_chars, 3); // { } é
    assert_int_equal(s.chars[0].cp, '{'), assert_int_equal(s.chars[0].docs, 1);
    assert_int_equal(s.chars[1].cp, '}');
    assert_int_equal(s.chars[2].cp, 0xE9), assert_int_equal(s.chars[2].docs, 2);
    aca_buf b = {0};
    corpus_stats_format(&b, &c, &s, 1);
    assert_non_null(strstr(b.data, "\"cp\":\"U+00E9\",\"char\":\"\xC3\xA9\",\"docs\":2"));
    assert_non_null(strstr(b.data, "\"words\":{\"min\":2,\"median\":2,\"p90\":4,\"max\":10,\"total\":18}"));
    buf_clear(&b);
    corpus_stats_format(&b, &c, &s, 0);
    assert_non_null(strstr(b.data, "U+00E9 \xC3\xA9"));
    buf_free(&b);
    corpus_stats_free(&s);
    corpus_free(&c);
    free(p);
    assert_int_equal(text_count_words("  a\tb\r\n c  ", 11), 3);
    assert_int_equal(text_count_words("", 0), 0);
}

// ---- the synthetic corpus ----------------------------------------------------------------------
static void test_synth_deterministic(void **st) {
    (void)st;
    aca_buf a = {0}, b = {0}, c = {0};
    corpus_synth_text(&a, 200, 3);
    corpus_synth_text(&b, 200, 3);
    corpus_synth_text(&c, 200, 4);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len));
    // A doc does not depend on how many docs are generated: 100 docs are a prefix of 200.
    aca_buf d = {0};
    corpus_synth_text(&d, 100, 3);
    assert_memory_equal(a.data, d.data, d.len);
    // Written through the file API: the same bytes.
    char *p = tu_path(g_dir, "syn.txt");
    aca_err e = {0};
    TU_OK(corpus_synth_write(p, 200, 3, &e), &e);
    size_t n;
    char *f = tu_read_file(p, &n);
    assert_int_equal(n, a.len);
    assert_memory_equal(f, a.data, n);
    free(f), free(p);
    buf_free(&a), buf_free(&b), buf_free(&c), buf_free(&d);
}

static size_t char_docs(const aca_corpus_stats *s, uint32_t cp) {
    for (size_t i = 0; i < s->n_chars; i++)
        if (s->chars[i].cp == cp) return s->chars[i].docs;
    return 0;
}

static void test_synth_properties(void **st) {
    (void)st;
    char *p = tu_path(g_dir, "syn2000.txt");
    aca_err e = {0};
    TU_OK(corpus_synth_write(p, 2000, 1, &e), &e);
    aca_corpus c;
    load_ok(p, NULL, &c);
    assert_int_equal(c.n, 2000);
    assert_int_equal(c.n_classes, 10);
    for (int i = 0; i < 10; i++) {
        int k = corpus_class_index(&c, ACA_RESUME_CLASSES[i]);
        assert_true(k >= 0);
        assert_string_equal(c.classes[k], ACA_RESUME_CLASSES[i]); // canonical spelling
    }
    aca_corpus_stats s;
    corpus_stats(&c, &s);
    for (int i = 0; i < 10; i++) assert_true(s.class_docs[i] >= 80); // every class well represented
    assert_true(s.n_multilabel >= 5 && s.n_multilabel <= 50);
    assert_true(s.words_min >= 50);
    assert_true(s.words_max <= 1500 && s.words_max >= 1000);
    assert_true(s.words_median >= 250 && s.words_median <= 600);
    size_t lb = char_docs(&s, '{'), rb = char_docs(&s, '}');
    assert_true(lb <= 10 && rb <= 10); // rare by default (SYNTH_BRACE_RATE; test_synth_char_rates)
    assert_true(char_docs(&s, 0xE9) > 0 && char_docs(&s, 0xFC) > 0);
    assert_true(char_docs(&s, 0x2022) > 0 && char_docs(&s, 0x2013) > 0);
    assert_int_equal(char_docs(&s, 0x2E17), 0);
    assert_int_equal(char_docs(&s, 0x2E18), 0);
    corpus_stats_free(&s);
    corpus_free(&c);
    free(p);
}

// Learnable but not trivial: multinomial naive Bayes on the first 100 words of each doc
// (what a 128-token model sees), trained on 1600 docs, tested on 400.
static void test_synth_learnable(void **st) {
    (void)st;
    aca_buf b = {0};
    corpus_synth_text(&b, 2000, 11);
    char *p = tu_path(g_dir, "nb.txt");
    tu_write_bytes(p, b.data, b.len);
    buf_free(&b);
    aca_corpus c;
    load_ok(p, NULL, &c);
    enum { NB = 1 << 16 };
    double *cnt = xcalloc((size_t)NB * 10, sizeof *cnt), tot[10] = {0}, prior[10] = {0};
    size_t correct = 0, n_test = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = pass ? 1600 : 0; i < (pass ? c.n : 1600); i++) {
            const aca_doc *d = &c.docs[i];
            double score[10];
            for (int k = 0; k < 10; k++) score[k] = log(prior[k] + 1);
            size_t w = 0, j = 0;
            while (j < d->len && w < 100) {
                while (j < d->len && text_is_space((unsigned char)d->text[j])) j++;
                size_t s0 = j;
                while (j < d->len && !text_is_space((unsigned char)d->text[j])) j++;
                if (j == s0) break;
                size_t h = (size_t)(hash_fnv1a64(d->text + s0, j - s0, ACA_FNV_SEED) & (NB - 1));
                w++;
                if (!pass) cnt[h * 10 + (size_t)d->label] += 1, tot[d->label] += 1;
                else
                    for (int k = 0; k < 10; k++) score[k] += log((cnt[h * 10 + (size_t)k] + 0.1) / (tot[k] + 0.1 * NB));
            }
            if (!pass) prior[d->label] += 1;
            else {
                int best = 0;
                for (int k = 1; k < 10; k++) best = score[k] > score[best] ? k : best;
                correct += best == d->label;
                n_test++;
            }
        }
    }
    double acc = (double)correct / (double)n_test;
    print_message("naive Bayes accuracy on the synthetic corpus (first 100 words): %.3f\n", acc);
    assert_true(acc > 0.5);  // chance is ~0.15 (the largest class)
    assert_true(acc < 0.98); // not trivially separable
    free(cnt);
    corpus_free(&c);
    free(p);
}

// ---- character rates of the synthetic corpus ---------------------------------------------------
// Documents (lines) whose text, after "id:::Label:::", holds chr; counted on the bytes.
static size_t lines_holding(const aca_buf *b, const char *chr) {
    size_t k = 0;
    for (const char *p = b->data, *end = b->data + b->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        // bounded to the line: strstr would scan the rest of the buffer (quadratic under ASan)
        const char *t = memmem(p, (size_t)(nl - p), ":::", 3);
        t = t ? memmem(t + 3, (size_t)(nl - t - 3), ":::", 3) : NULL;
        assert_non_null(t);
        k += memmem(t + 3, (size_t)(nl - t - 3), chr, strlen(chr)) != NULL;
        p = nl + 1;
    }
    return k;
}

// k documents of n hold a character of rate r: Binomial(n, r), so k lies within 5 standard
// deviations of n r (rates 0 and 1 exactly).
static void expect_rate(size_t k, size_t n, double r, const char *what) {
    double sd = sqrt((double)n * r * (1 - r));
    int ok = r == 0 ? k == 0 : r == 1 ? k == n : fabs((double)k - (double)n * r) <= 5 * sd + 1;
    if (!ok) {
        print_error("%s: %zu of %zu documents hold it, expected %.1f +- %.1f (rate %g)\n", what, k, n, n * r, 5 * sd + 1, r);
        fail();
    }
}

static void test_synth_char_rates(void **st) {
    (void)st;
    // Default: '{' and '}' as rare as in the real resume corpus (Karan et al.: fewer than 30 in
    // 25,000), not the ~2% the code snippets alone would give.
    aca_buf b = {0};
    corpus_synth_text(&b, 20000, 5);
    size_t lb = lines_holding(&b, "{"), rb = lines_holding(&b, "}");
    expect_rate(lb, 20000, SYNTH_BRACE_RATE, "default '{'");
    expect_rate(rb, 20000, SYNTH_BRACE_RATE, "default '}'");
    assert_true(SYNTH_BRACE_RATE <= 30.0 / 25000);
    // Other rates; U+2E17 (never written otherwise) gets inserted, '|' into every document.
    aca_synth_opts o;
    corpus_synth_opts_default(&o);
    aca_err e = {0};
    TU_OK(corpus_synth_parse_rates(&o, "{=0.05,}=0,U+2E17=0.01,|=1", &e), &e);
    aca_buf c = {0};
    corpus_synth_text_opts(&c, 4000, 5, &o);
    expect_rate(lines_holding(&c, "{"), 4000, 0.05, "'{' at 0.05");
    expect_rate(lines_holding(&c, "}"), 4000, 0, "'}' at 0");
    expect_rate(lines_holding(&c, "\xE2\xB8\x97"), 4000, 0.01, "U+2E17 at 0.01");
    expect_rate(lines_holding(&c, "|"), 4000, 1, "'|' at 1");
    // Deterministic by seed, and a doc depends only on its own draws: 1000 docs are a prefix of 4000.
    aca_buf d = {0}, f = {0};
    corpus_synth_text_opts(&d, 1000, 5, &o);
    assert_true(d.len < c.len && !memcmp(c.data, d.data, d.len));
    corpus_synth_text_opts(&f, 1000, 6, &o);
    assert_true(f.len != d.len || memcmp(f.data, d.data, d.len));
    // A rate of 0 for a character the corpus never holds changes no byte.
    buf_clear(&d), buf_clear(&f);
    corpus_synth_text(&d, 500, 5);
    corpus_synth_opts_default(&o);
    TU_OK(corpus_synth_set_rate(&o, "U+2E18", 6, 0, &e), &e);
    corpus_synth_text_opts(&f, 500, 5, &o);
    assert_true(f.len == d.len && !memcmp(f.data, d.data, d.len));
    // The corpus with inserted characters loads as 4000 documents.
    char *p = tu_path(g_dir, "rates.txt");
    tu_write_bytes(p, c.data, c.len);
    aca_corpus cc;
    load_ok(p, NULL, &cc);
    assert_int_equal(cc.n, 4000);
    corpus_free(&cc);
    free(p);
    buf_free(&b), buf_free(&c), buf_free(&d), buf_free(&f);
    // Bad spellings name what is wrong.
    corpus_synth_opts_default(&o);
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "{", &e), &e, "expected CHAR=RATE");
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "{=x", &e), &e, "expected a number after '{='");
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "{=1.5", &e), &e, "U+007B: the rate must be a share of documents in [0, 1], got 1.5");
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "a=0.1", &e), &e, "U+0061: only characters other than ASCII letters");
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "U+000A=0.1", &e), &e, "U+000A: only characters other than");
    TU_EXPECT_ERR(corpus_synth_parse_rates(&o, "U+D800=0.1", &e), &e, "'U+D800' is not one character");
    TU_EXPECT_ERR(corpus_synth_set_rate(&o, "\xE2\xB8", 2, 0.1, &e), &e, "is not one character");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_basic),      cmocka_unit_test(test_class_name_equal),
        cmocka_unit_test(test_jsonl_and_tsv),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_cp1252),            cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_nul_in_text),       cmocka_unit_test(test_jsonl_strict),
        cmocka_unit_test(test_bom_and_stray_bytes), cmocka_unit_test(test_cr_in_lines),
        cmocka_unit_test(test_class_list_input),  cmocka_unit_test(test_synth_formats),
        cmocka_unit_test(test_concatenated),      cmocka_unit_test(test_huge_line),
        cmocka_unit_test(test_fixed_classes),     cmocka_unit_test(test_split),
        cmocka_unit_test(test_stats),             cmocka_unit_test(test_synth_deterministic),
        cmocka_unit_test(test_synth_properties),  cmocka_unit_test(test_synth_learnable),
        cmocka_unit_test(test_synth_char_rates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
