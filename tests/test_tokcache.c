// The token cache and the parallel JSONL tokenizer (tokenizer/tokcache.c): same ids as
// tokenizer_encode, threads change nothing, a round trip through the file is exact, the cache
// directory is reused and rebuilt when the source, tokenizer or max length changes, and every kind
// of damage to a cache file is an error naming what is wrong (a damaged cache in a cache directory
// is rebuilt, not trusted).
#include "testutil.h"

#include <cjson/cJSON.h>

#include "aca/tokcache.h"

#define VOCAB "models/vocab/bert-base-uncased.txt"

static char *g_dir;
static aca_tokenizer *g_tok;

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir();
    aca_err e = {0};
    g_tok = tokenizer_load(VOCAB, -1, &e);
    if (!g_tok) fprintf(stderr, "%s\n", e.msg);
    aca_log_level = 0;
    return g_tok ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tokenizer_free(g_tok);
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

static const char *const CLASSES[] = {"Web Developer", "Software Developer", "Java Developer"};

// n documents of varied length and content (accents, punctuation, CJK, the signals), labels cycling.
static char *write_jsonl(const char *name, int n, int salt) {
    char *p = tu_path(g_dir, name);
    aca_buf b = {0};
    for (int i = 0; i < n; i++) {
        buf_puts(&b, "{\"id\": \"d");
        buf_printf(&b, "%d\", \"text\": \"", i);
        int words = 1 + (i * 37 + salt) % 90;
        for (int w = 0; w < words; w++) {
            static const char *const W[] = {"Developed", "caf\\u00e9", "C++", "{", "}", "\\u2e17", "\\u4e2d\\u6587",
                                            "Kubernetes,", "na\\u00efve", "dB.", "\\u00c9cole", "x"};
            buf_printf(&b, "%s%s", w ? " " : "", W[(size_t)(w * 7 + i + salt) % ACA_ARRAY_LEN(W)]);
        }
        buf_printf(&b, "\", \"label\": \"%s\"}\n", CLASSES[i % 3]);
    }
    tu_write_bytes(p, b.data, b.len);
    buf_free(&b);
    return p;
}

static void expect_same(const aca_dataset *a, const aca_dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->max_len, b->max_len);
    assert_memory_equal(a->off, b->off, (a->n + 1) * sizeof *a->off);
    assert_memory_equal(a->ids, b->ids, a->off[a->n] * sizeof *a->ids);
    assert_int_equal(a->labels != NULL, b->labels != NULL);
    if (a->labels) assert_memory_equal(a->labels, b->labels, a->n * sizeof *a->labels);
}

static void test_matches_encode_and_threads(void **state) {
    (void)state;
    char *p = write_jsonl("a.jsonl", 300, 1);
    aca_err e = {0};
    tokcache_doc_set s1, s2;
    TU_OK(tokcache_tokenize_jsonl(p, g_tok, 24, (char *const *)CLASSES, 3, 1, &s1, &e), &e);
    TU_OK(tokcache_tokenize_jsonl(p, g_tok, 24, (char *const *)CLASSES, 3, 3, &s2, &e), &e);
    expect_same(&s1.data, &s2.data);
    assert_int_equal(s1.data.n, 300);
    // every document equals tokenizer_encode of its text
    aca_buf b = {0};
    TU_OK(file_read_all(p, &b, &e), &e);
    char *line = b.data;
    int32_t row[24];
    for (size_t i = 0; i < s1.data.n; i++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        const char *text = cJSON_GetObjectItem(o, "text")->valuestring;
        int len = 0;
        TU_OK(tokenizer_encode(g_tok, text, strlen(text), 24, row, &len, &e), &e);
        assert_int_equal(len, dataset_len(&s1.data, i));
        assert_memory_equal(row, s1.data.ids + s1.data.off[i], (size_t)len * sizeof *row);
        assert_int_equal(s1.data.labels[i], (int)(i % 3) == 0 ? 0 : (int)(i % 3) == 1 ? 1 : 2);
        cJSON_Delete(o);
        line = nl + 1;
    }
    buf_free(&b);
    tokcache_doc_set_free(&s1);
    tokcache_doc_set_free(&s2);
    free(p);
}

static void test_classes_collected_and_unlabelled(void **state) {
    (void)state;
    char *p = tu_path(g_dir, "c.jsonl"), *q = tu_path(g_dir, "u.jsonl");
    tu_write_file(p, "{\"text\": \"a b\", \"label\": \"Web_Developer\"}\n\n{\"text\": \"c\", \"label\": \"Java Developer\"}\n"
                     "{\"text\": \"d\", \"label\": \"web developer\"}\n");
    tu_write_file(q, "{\"text\": \"hello world\"}\n{\"text\": \"again\", \"id\": 3}\n");
    aca_err e = {0};
    tokcache_doc_set s;
    TU_OK(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e);
    assert_int_equal(s.n_classes, 2);
    assert_string_equal(s.classes[0], "Web Developer");
    assert_string_equal(s.classes[1], "Java Developer");
    assert_int_equal(s.data.labels[0], 0);
    assert_int_equal(s.data.labels[1], 1);
    assert_int_equal(s.data.labels[2], 0);
    tokcache_doc_set_free(&s);
    TU_OK(tokcache_tokenize_jsonl(q, g_tok, 16, NULL, 0, 0, &s, &e), &e);
    assert_null(s.data.labels);
    assert_int_equal(s.n_classes, 0);
    // an unlabelled set survives the file round trip
    char *f = tu_path(g_dir, "u.tok");
    TU_OK(tokcache_write(f, &s, &e), &e);
    tokcache_doc_set r;
    TU_OK(tokcache_read(f, &r, &e), &e);
    expect_same(&s.data, &r.data);
    tokcache_doc_set_free(&r);
    tokcache_doc_set_free(&s);
    free(p), free(q), free(f);
}

static void test_jsonl_errors(void **state) {
    (void)state;
    char *p = tu_path(g_dir, "bad.jsonl");
    aca_err e;
    tokcache_doc_set s;
    tu_write_file(p, "{\"text\": \"ok\", \"label\": \"Web Developer\"}\n{\"text\": 3, \"label\": \"Web Developer\"}\n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e, "bad.jsonl:2: field \"text\" missing or not a string");
    tu_write_file(p, "{\"text\": \"ok\", \"label\": \"Web Developer\"}\nnot json\n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e, "bad.jsonl:2:");
    tu_write_file(p, "{\"text\": \"ok\", \"label\": \"Astronaut\"}\n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, (char *const *)CLASSES, 3, 0, &s, &e), &e,
                  "bad.jsonl:1: label \"Astronaut\" is not one of the 3 classes");
    tu_write_file(p, "{\"text\": \"ok\", \"label\": \"Web Developer\"}\n{\"text\": \"no label\"}\n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e, "bad.jsonl:2: lacks a \"label\"");
    tu_write_file(p, "{\"text\": \"ok\", \"label\": 4}\n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e, "field \"label\" must be a string");
    tu_write_file(p, "\n  \n");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 0, &s, &e), &e, "bad.jsonl: no documents");
    // invalid UTF-8 inside the JSON string: the tokenizer's error, with file:line (the 9th line, found
    // by a worker thread among many documents)
    aca_buf b = {0};
    for (int i = 0; i < 40; i++)
        buf_puts(&b, i == 8 || i == 30 ? "{\"text\": \"bad \xff\xfe byte\"}\n" : "{\"text\": \"fine words\"}\n");
    tu_write_bytes(p, b.data, b.len);
    buf_free(&b);
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 16, NULL, 0, 2, &s, &e), &e, "bad.jsonl:9:");
    assert_non_null(strstr(e.msg, "UTF-8"));
    char *missing = tu_path(g_dir, "missing.jsonl");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(missing, g_tok, 16, NULL, 0, 0, &s, &e), &e, "missing.jsonl");
    TU_EXPECT_ERR(tokcache_tokenize_jsonl(p, g_tok, 1, NULL, 0, 0, &s, &e), &e, "max length must be >= 2");
    free(p);
    free(missing);
}

// A valid cache file's bytes (classes, labels) in *n.
static uint8_t *valid_file(size_t *n) {
    char *p = write_jsonl("v.jsonl", 20, 5), *f = tu_path(g_dir, "v.tok");
    aca_err e = {0};
    tokcache_doc_set s;
    TU_OK(tokcache_tokenize_jsonl(p, g_tok, 32, (char *const *)CLASSES, 3, 0, &s, &e), &e);
    TU_OK(tokcache_write(f, &s, &e), &e);
    tokcache_doc_set_free(&s);
    uint8_t *d = (uint8_t *)tu_read_file(f, n);
    free(p), free(f);
    return d;
}

static void reseal(uint8_t *d, size_t n) { // recompute the checksum after an edit
    uint64_t h = hash_fnv1a64(d, 120, ACA_FNV_SEED);
    h = hash_fnv1a64(d + TOKCACHE_HEADER_BYTES, n - TOKCACHE_HEADER_BYTES, h);
    memcpy(d + 120, &h, 8);
}

static void expect_parse_err(const uint8_t *d, size_t n, const char *needle) {
    tokcache_doc_set s;
    aca_err e;
    uint8_t *copy = xmalloc(n ? n : 1); // exactly n bytes, so ASan sees any overread
    memcpy(copy, d, n);
    TU_EXPECT_ERR(tokcache_parse(copy, n, "x.tok", &s, &e), &e, needle);
    free(copy);
}

static void test_file_damage(void **state) {
    (void)state;
    size_t n;
    uint8_t *d = valid_file(&n);
    tokcache_doc_set s;
    aca_err e = {0};
    TU_OK(tokcache_parse(d, n, "x.tok", &s, &e), &e);
    tokcache_doc_set_free(&s);
    // every truncation is an error
    for (size_t k = 0; k < n; k += (k < 200 ? 1 : 37)) expect_parse_err(d, k, "x.tok:");
    expect_parse_err(d, 100, "shorter than its 128-byte header");
    expect_parse_err(d, n - 1, "truncated or extended");
    uint8_t *c = xmalloc(n + 8);
    // every single flipped byte is caught (by the checksum, or first by a field check)
    for (size_t k = 0; k < n; k += 3) {
        memcpy(c, d, n);
        c[k] ^= 0x41;
        expect_parse_err(c, n, "x.tok:");
    }
    memcpy(c, d, n);
    c[TOKCACHE_HEADER_BYTES + 40] ^= 1;
    expect_parse_err(c, n, "checksum mismatch");
    memcpy(c, d, n);
    c[0] = 'X';
    expect_parse_err(c, n, "bad magic");
    memcpy(c, d, n);
    c[8] = 9;
    expect_parse_err(c, n, "version 9; this build reads version 2");
    // resealed edits: each reaches its own check
    uint64_t n_docs;
    memcpy(&n_docs, d + 56, 8);
    memcpy(c, d, n);
    int32_t big = 40000; // first id beyond the vocabulary
    memcpy(c + TOKCACHE_HEADER_BYTES + (n_docs + 1) * 8, &big, 4);
    reseal(c, n);
    expect_parse_err(c, n, "outside the vocabulary");
    memcpy(c, d, n);
    uint64_t off1 = 1; // document 0 of one token
    memcpy(c + TOKCACHE_HEADER_BYTES + 8, &off1, 8);
    reseal(c, n);
    expect_parse_err(c, n, "document 0 has 1 tokens");
    memcpy(c, d, n);
    uint64_t off_labels;
    memcpy(&off_labels, d + 96, 8);
    int32_t lab = 3;
    memcpy(c + off_labels + 4 * 5, &lab, 4);
    reseal(c, n);
    expect_parse_err(c, n, "document 5 has label 3 (there are 3 classes)");
    memcpy(c, d, n);
    uint64_t more = n_docs + 1;
    memcpy(c + 56, &more, 8);
    reseal(c, n);
    expect_parse_err(c, n, "array offsets do not match");
    memcpy(c, d, n);
    c[n - 1] = 'x'; // the last class name loses its NUL
    reseal(c, n);
    expect_parse_err(c, n, "unterminated name");
    free(c);
    free(d);
    // a file that is not there, and an empty one
    char *f = tu_path(g_dir, "none.tok");
    TU_EXPECT_ERR(tokcache_read(f, &s, &e), &e, "none.tok");
    tu_write_file(f, "");
    TU_EXPECT_ERR(tokcache_read(f, &s, &e), &e, "none.tok: not an aca token cache");
    free(f);
}

// Number of *.tok files in the cache dir.
static int count_tok(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        k += l > 4 && !strcmp(de->d_name + l - 4, ".tok");
    }
    closedir(d);
    return k;
}

static void test_cache_dir(void **state) {
    (void)state;
    char *p = write_jsonl("train.jsonl", 50, 9), *cache = tu_path(g_dir, "tokcache");
    aca_err e = {0};
    tokcache_doc_set ref, s;
    int hit = -1;
    TU_OK(tokcache_tokenize_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, 0, &ref, &e), &e);
    TU_OK(tokcache_load_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 0);
    assert_int_equal(count_tok(cache), 1);
    expect_same(&ref.data, &s.data);
    tokcache_doc_set_free(&s);
    TU_OK(tokcache_load_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 1);
    expect_same(&ref.data, &s.data);
    tokcache_doc_set_free(&s);
    // another max length: a new cache file, and the right ids
    TU_OK(tokcache_load_jsonl(p, g_tok, 10, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 0);
    assert_int_equal(count_tok(cache), 2);
    for (size_t i = 0; i < s.data.n; i++) assert_true(dataset_len(&s.data, i) <= 10);
    tokcache_doc_set_free(&s);
    // another tokenizer (cased): rebuilt
    aca_tokenizer *cased = tokenizer_load(VOCAB, 0, &e);
    assert_non_null(cased);
    TU_OK(tokcache_load_jsonl(p, cased, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 0);
    tokcache_doc_set_free(&s);
    tokenizer_free(cased);
    // the source changes: rebuilt, with the new content
    free(write_jsonl("train.jsonl", 51, 9));
    TU_OK(tokcache_load_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 0);
    assert_int_equal(s.data.n, 51);
    tokcache_doc_set_free(&s);
    // a damaged cache file is rebuilt (and repaired), never trusted
    DIR *d = opendir(cache);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) < 5) continue;
        char *f = tu_path(cache, de->d_name);
        size_t n;
        char *bytes = tu_read_file(f, &n);
        bytes[n / 2] ^= 0x10;
        tu_write_bytes(f, bytes, n);
        free(bytes);
        free(f);
    }
    closedir(d);
    TU_OK(tokcache_load_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 0);
    assert_int_equal(s.data.n, 51);
    tokcache_doc_set_free(&s);
    TU_OK(tokcache_load_jsonl(p, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 1);
    tokcache_doc_set_free(&s);
    // the same content under another path shares the cache file (one tokenization per grid)
    char *p2 = tu_path(g_dir, "copy");
    TU_OK(dir_make(p2, &e), &e);
    char *p3 = tu_path(p2, "train.jsonl");
    size_t n;
    char *bytes = tu_read_file(p, &n);
    tu_write_bytes(p3, bytes, n);
    free(bytes);
    TU_OK(tokcache_load_jsonl(p3, g_tok, 20, (char *const *)CLASSES, 3, cache, &s, &hit, &e), &e);
    assert_int_equal(hit, 1);
    tokcache_doc_set_free(&s);
    tokcache_doc_set_free(&ref);
    free(p), free(p2), free(p3), free(cache);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_encode_and_threads),
        cmocka_unit_test(test_classes_collected_and_unlabelled),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_file_damage),
        cmocka_unit_test(test_cache_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
