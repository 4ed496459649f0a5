// Tokenizers: WordPiece ids equal to Hugging Face's Python BertTokenizer on hard strings and
// synthetic resumes (uncased and cased; fixtures from tests/fixtures/make_tok_fixtures.py), the
// places where the Rust tokenizer differs, [CLS]/[SEP]/truncation/padding, the SentencePiece
// backend against Python sentencepiece, and every load/encode failure.
#include "testutil.h"

#include <cjson/cJSON.h>

#include "aca/jsontext.h"
#include "aca/tokenizer.h"

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

static cJSON *load_json(const char *path) {
    aca_buf b = {0};
    aca_err e = {0};
    TU_OK(file_read_all(path, &b, &e), &e);
    cJSON *j = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    assert_non_null(j);
    return j;
}

// Every "cases[i].text" of a fixture, decoded byte-exact (U+0000 kept) by aca's own JSON scanner.
typedef struct {
    char **text;
    size_t *len;
    int n;
} fixture_texts;

static int collect_text(void *ctx, const json_str *v) {
    fixture_texts *f = ctx;
    const char *p = strrchr(v->path, '.');
    if (strncmp(v->path, "cases[", 6) || !p || strcmp(p, ".text")) return 0;
    f->text = xrealloc(f->text, (size_t)(f->n + 1) * sizeof *f->text);
    f->len = xrealloc(f->len, (size_t)(f->n + 1) * sizeof *f->len);
    f->text[f->n] = xmalloc(v->n + 1);
    memcpy(f->text[f->n], v->s, v->n + 1);
    f->len[f->n++] = v->n;
    return 0;
}

static void fixture_texts_read(const char *path, fixture_texts *f) {
    aca_buf b = {0};
    aca_err e = {0};
    json_scan_err se = {0};
    TU_OK(file_read_all(path, &b, &e), &e);
    memset(f, 0, sizeof *f);
    assert_int_equal(json_scan(b.data, b.len, collect_text, f, &se), 0);
    buf_free(&b);
}

static void fixture_texts_free(fixture_texts *f) {
    for (int i = 0; i < f->n; i++) free(f->text[i]);
    free(f->text);
    free(f->len);
}

// Compares tokenizer_tokenize with the fixture's "slow" ids for every case; returns the number of
// cases where the Rust ("fast") ids differ from the Python ones.  The text comes from the JSON
// string (\u0000 escapes and all) and must equal the case's "hex" bytes.
static int check_cases(const aca_tokenizer *t, const cJSON *cases, const fixture_texts *ft, const char *key) {
    int n_fast_diff = 0, bad = 0, i = 0, n_nul = 0;
    assert_int_equal(ft->n, cJSON_GetArraySize(cases));
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *hex = cJSON_GetObjectItem(c, "hex")->valuestring;
        size_t tl = ft->len[i];
        const char *text = ft->text[i++];
        assert_int_equal(strlen(hex), 2 * tl);
        for (size_t k = 0; k < tl; k++) {
            unsigned v;
            sscanf(hex + 2 * k, "%2x", &v);
            assert_int_equal((unsigned char)text[k], v);
        }
        n_nul += memchr(text, 0, tl) != NULL;
        const cJSON *want = cJSON_GetObjectItem(c, key);
        n_fast_diff += cJSON_GetObjectItem(c, "fast") != NULL;
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        aca_err e = {0};
        TU_OK(tokenizer_tokenize(t, text, tl, &ids, &n, &cap, &e), &e);
        int ok = (int)n == cJSON_GetArraySize(want);
        for (size_t i = 0; ok && i < n; i++) ok = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
        if (!ok && bad++ < 5) {
            fprintf(stderr, "mismatch on case %d (hex %.60s): got %zu ids [", i - 1, hex, n);
            for (size_t i = 0; i < n && i < 16; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, " ] want %d ids [", cJSON_GetArraySize(want));
            for (int i = 0; i < cJSON_GetArraySize(want) && i < 16; i++)
                fprintf(stderr, " %d", cJSON_GetArrayItem(want, i)->valueint);
            fprintf(stderr, " ]\n");
        }
        free(ids);
    }
    assert_int_equal(bad, 0);
    assert_true(n_nul >= 10); // the U+0000 cases really hold one after decoding
    return n_fast_diff;
}

static void test_parity(const char *fixture, int lowercase, int min_cases) {
    cJSON *j = load_json(fixture);
    aca_err e = {0};
    aca_tokenizer *t = tokenizer_load(cJSON_GetObjectItem(j, "vocab")->valuestring, lowercase, &e);
    TU_OK(t == NULL, &e);
    const cJSON *cases = cJSON_GetObjectItem(j, "cases");
    assert_true(cJSON_GetArraySize(cases) >= min_cases);
    fixture_texts ft;
    fixture_texts_read(fixture, &ft);
    int diff = check_cases(t, cases, &ft, "slow");
    fixture_texts_free(&ft);
    assert_true(diff >= 1); // the fixture really exercises a Python/Rust difference

    const cJSON *enc = cJSON_GetObjectItem(j, "encode");
    const char *text = cJSON_GetObjectItem(enc, "text")->valuestring;
    int max_len = cJSON_GetObjectItem(enc, "max_len")->valueint, len = -1;
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = -7; // poisoned: every position must be written
    TU_OK(tokenizer_encode(t, text, strlen(text), max_len, ids, &len, &e), &e);
    const cJSON *want = cJSON_GetObjectItem(enc, "ids"), *mask = cJSON_GetObjectItem(enc, "mask");
    for (int i = 0; i < max_len; i++) {
        assert_int_equal(ids[i], cJSON_GetArrayItem(want, i)->valueint);
        assert_int_equal(i < len, cJSON_GetArrayItem(mask, i)->valueint);
    }
    tokenizer_free(t);
    cJSON_Delete(j);
}

static void test_uncased_parity(void **st) {
    (void)st;
    test_parity("tests/fixtures/tok/uncased.json", 1, 146);
}

static void test_cased_parity(void **st) {
    (void)st;
    test_parity("tests/fixtures/tok/cased.json", 0, 86);
}

// The seed paper's collision, spelled out: both signals are [UNK]; '{' and '}' are distinct ids.
static void test_signals(void **st) {
    (void)st;
    aca_err e = {0};
    aca_tokenizer *t = tokenizer_load("models/vocab/bert-base-uncased.txt", -1, &e);
    TU_OK(t == NULL, &e);
    assert_int_equal(tokenizer_vocab_size(t), 30522);
    const char *s[4] = {"a \xe2\xb8\x97 b", "a \xe2\xb8\x98 b", "a { b", "a } b"};
    int mid[4];
    for (int k = 0; k < 4; k++) {
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        TU_OK(tokenizer_tokenize(t, s[k], strlen(s[k]), &ids, &n, &cap, &e), &e);
        assert_int_equal(n, 3);
        mid[k] = ids[1];
        free(ids);
    }
    assert_int_equal(mid[0], tokenizer_unk_id(t));
    assert_int_equal(mid[1], tokenizer_unk_id(t));
    assert_int_not_equal(mid[2], mid[3]);
    assert_string_equal(tokenizer_id_to_token(t, mid[2]), "{");
    assert_int_equal(tokenizer_token_to_id(t, "}"), mid[3]);
    assert_int_equal(tokenizer_token_to_id(t, "no-such-token"), -1);
    assert_null(tokenizer_id_to_token(t, 30522));
    assert_int_equal(tokenizer_pad_id(t), 0);
    assert_int_equal(tokenizer_cls_id(t), 101);
    assert_int_equal(tokenizer_sep_id(t), 102);
    // Truncation keeps [SEP]; max_len 2 is [CLS][SEP] alone.
    int32_t ids[4];
    int len;
    TU_OK(tokenizer_encode(t, "hello world", 11, 2, ids, &len, &e), &e);
    assert_int_equal(len, 2);
    assert_int_equal(ids[0], 101);
    assert_int_equal(ids[1], 102);
    TU_OK(tokenizer_encode(t, "", 0, 4, ids, &len, &e), &e);
    assert_int_equal(len, 2);
    assert_int_equal(ids[2], 0);
    assert_int_equal(ids[3], 0);
    TU_EXPECT_ERR(tokenizer_encode(t, "x", 1, 1, ids, &len, &e), &e, "room for [CLS] and [SEP]");
    // Invalid UTF-8 names the byte offset.
    int32_t *p = NULL;
    size_t n = 0, cap = 0;
    TU_EXPECT_ERR(tokenizer_tokenize(t, "ok \xff x", 6, &p, &n, &cap, &e), &e, "invalid UTF-8 at byte 3");
    TU_EXPECT_ERR(tokenizer_tokenize(t, "[SEP] \xc3", 7, &p, &n, &cap, &e), &e, "invalid UTF-8 at byte 6");
    free(p);
    // Cased and uncased loads of one vocabulary hash differently (the token cache keys on it).
    aca_tokenizer *c = tokenizer_load("models/vocab/bert-base-uncased.txt", 0, &e);
    TU_OK(c == NULL, &e);
    assert_true(tokenizer_hash(c) != tokenizer_hash(t));
    tokenizer_free(c);
    tokenizer_free(t);
}

// A checkpoint directory: vocab.txt + tokenizer_config.json decides casing.
static void test_directory(void **st) {
    (void)st;
    aca_err e = {0};
    char *d = tu_path(g_dir, "ckpt");
    TU_OK(dir_make(d, &e), &e);
    char *v = tu_path(d, "vocab.txt"), *cfg = tu_path(d, "tokenizer_config.json");
    tu_write_file(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nHello\n##s\n");
    tu_write_file(cfg, "{\"do_lower_case\": false}");
    aca_tokenizer *t = tokenizer_load(d, -1, &e);
    TU_OK(t == NULL, &e);
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    TU_OK(tokenizer_tokenize(t, "Hellos hello", 12, &ids, &n, &cap, &e), &e);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 6);
    assert_int_equal(ids[1], 7);
    assert_int_equal(ids[2], 5);
    tokenizer_free(t);
    tu_write_file(cfg, "{\"do_lower_case\": true}");
    t = tokenizer_load(d, -1, &e);
    TU_OK(t == NULL, &e);
    n = 0;
    TU_OK(tokenizer_tokenize(t, "Hellos", 6, &ids, &n, &cap, &e), &e);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 5);
    free(ids);
    tokenizer_free(t);

    tu_write_file(cfg, "{\"do_lower_case\": ");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "tokenizer_config.json: not valid JSON");
    tu_write_file(cfg, "{\"do_lower_case\": \"yes\"}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "field do_lower_case: not a boolean");
    tu_write_file(v, "[PAD]\n[UNK]\n[SEP]\nhello\n");
    tu_write_file(cfg, "{}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "no [CLS] token");
    // each required special token missing in turn ([MASK] is optional for classification)
    static const char *const need[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    for (int k = 0; k < 4; k++) {
        aca_buf vb = {0};
        for (int j = 0; j < 4; j++)
            if (j != k) buf_printf(&vb, "%s\n", need[j]);
        buf_puts(&vb, "hello\n");
        tu_write_file(v, vb.data);
        char want[32];
        snprintf(want, sizeof want, "no %s token", need[k]);
        TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, want);
        buf_free(&vb);
    }
    tu_write_file(v, "");
    TU_EXPECT_ERR(tokenizer_load(v, -1, &e) == NULL, &e, "empty vocabulary");
    // a NUL inside a vocab.txt line: an error naming the line, not a token cut short
    tu_write_bytes(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhel\0lo\n", 31);
    TU_EXPECT_ERR(tokenizer_load(v, -1, &e) == NULL, &e, "vocab.txt:5: NUL byte in token");
    remove(v);
    remove(cfg);
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "no vocab.txt or SentencePiece *.model");
    char *missing = tu_path(g_dir, "nope.txt");
    TU_EXPECT_ERR(tokenizer_load(missing, -1, &e) == NULL, &e, "no such tokenizer file");
    char *junk = tu_path(g_dir, "junk.model");
    tu_write_file(junk, "this is not a protobuf");
    TU_EXPECT_ERR(tokenizer_load(junk, -1, &e) == NULL, &e, "junk.model: not a SentencePiece model");
    free(junk);
    free(missing);
    free(v);
    free(cfg);
    free(d);
}

static void test_sentencepiece(void **st) {
    (void)st;
    cJSON *j = load_json("tests/fixtures/tok/spm.json");
    aca_err e = {0};
    // Through a checkpoint directory holding only the .model file.
    char *d = tu_path(g_dir, "spm");
    TU_OK(dir_make(d, &e), &e);
    char *m = tu_path(d, "spiece.model");
    aca_buf b = {0};
    TU_OK(file_read_all(cJSON_GetObjectItem(j, "model")->valuestring, &b, &e), &e);
    tu_write_bytes(m, b.data, b.len);
    buf_free(&b);
    aca_tokenizer *t = tokenizer_load(d, -1, &e);
    TU_OK(t == NULL, &e);
    assert_int_equal(tokenizer_vocab_size(t), cJSON_GetObjectItem(j, "size")->valueint);
    assert_int_equal(tokenizer_cls_id(t), cJSON_GetObjectItem(j, "cls")->valueint);
    assert_int_equal(tokenizer_sep_id(t), cJSON_GetObjectItem(j, "sep")->valueint);
    assert_int_equal(tokenizer_pad_id(t), cJSON_GetObjectItem(j, "pad")->valueint);
    const cJSON *c;
    fixture_texts ft;
    fixture_texts_read("tests/fixtures/tok/spm.json", &ft);
    assert_int_equal(ft.n, cJSON_GetArraySize(cJSON_GetObjectItem(j, "cases")));
    int i = 0, n_nul = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *text = ft.text[i];
        size_t tl = ft.len[i++];
        n_nul += memchr(text, 0, tl) != NULL;
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        TU_OK(tokenizer_tokenize(t, text, tl, &ids, &n, &cap, &e), &e);
        assert_int_equal(n, cJSON_GetArraySize(want));
        for (size_t k = 0; k < n; k++) assert_int_equal(ids[k], cJSON_GetArrayItem(want, (int)k)->valueint);
        free(ids);
    }
    assert_int_equal(n_nul, 2);
    fixture_texts_free(&ft);
    int32_t ids[8];
    int len;
    TU_OK(tokenizer_encode(t, "Software Developer with Java and many more words", 48, 6, ids, &len, &e), &e);
    assert_int_equal(len, 6);
    assert_int_equal(ids[0], tokenizer_cls_id(t));
    assert_int_equal(ids[5], tokenizer_sep_id(t));
    assert_string_equal(tokenizer_id_to_token(t, tokenizer_cls_id(t)), "[CLS]");
    assert_int_equal(tokenizer_token_to_id(t, "[SEP]"), tokenizer_sep_id(t));
    assert_int_equal(tokenizer_token_to_id(t, "no-such-piece"), -1);
    tokenizer_free(t);
    // Two .model files: ambiguous.
    char *m2 = tu_path(d, "other.model");
    tu_write_file(m2, "x");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "several SentencePiece *.model files");
    free(m2);
    free(m);
    free(d);
    cJSON_Delete(j);
}

// ---- checkpoint directories as Hugging Face reads them (tests/fixtures/make_cased_fixtures.py) ----
// [CLS] ids [SEP] of text at the fixture's max length equal `want` (a JSON array).
static void expect_encode(const aca_tokenizer *t, const char *text, int max_len, const cJSON *want, const char *what) {
    int32_t ids[64];
    int len = 0;
    aca_err e = {0};
    TU_OK(tokenizer_encode(t, text, strlen(text), max_len, ids, &len, &e), &e);
    int ok = len == cJSON_GetArraySize(want);
    for (int i = 0; ok && i < len; i++) ok = ids[i] == cJSON_GetArrayItem(want, i)->valueint;
    if (!ok) {
        print_error("%s: \"%s\": got %d ids, want %d (first: %d vs %d)\n", what, text, len, cJSON_GetArraySize(want), ids[1],
                    cJSON_GetArraySize(want) > 1 ? cJSON_GetArrayItem(want, 1)->valueint : -1);
        fail();
    }
}

// A cased checkpoint: aca's ids for the directory are AutoTokenizer's; the same vocab.txt read as a
// plain file is uncased (BertTokenizer's default), as aca train/eval/run used to read every
// --model DIR; the two hash differently (the token cache key); transformers 5's save_pretrained
// copy (tokenizer.json, no vocab.txt) reads the same.
static void test_cased_checkpoint_dir(void **st) {
    (void)st;
    cJSON *j = load_json("tests/fixtures/cased_expected.json");
    int max_len = cJSON_GetObjectItem(j, "max_len")->valueint;
    aca_err e = {0};
    aca_tokenizer *dir = tokenizer_load("tests/fixtures/cased_ckpt", -1, &e);
    TU_OK(dir == NULL, &e);
    aca_tokenizer *file = tokenizer_load("tests/fixtures/cased_ckpt/vocab.txt", -1, &e);
    TU_OK(file == NULL, &e);
    aca_tokenizer *v5 = tokenizer_load("tests/fixtures/cased_ckpt_v5tok", -1, &e);
    TU_OK(v5 == NULL, &e);
    aca_tokenizer *via = tokenizer_for_model(NULL, "tests/fixtures/cased_ckpt", &e);
    TU_OK(via == NULL, &e);
    int differ = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        expect_encode(dir, text, max_len, cJSON_GetObjectItem(c, "ids"), "cased directory");
        expect_encode(via, text, max_len, cJSON_GetObjectItem(c, "ids"), "tokenizer_for_model");
        expect_encode(v5, text, max_len, cJSON_GetObjectItem(c, "ids"), "tokenizer.json directory");
        expect_encode(file, text, max_len, cJSON_GetObjectItem(c, "uncased_ids"), "vocab.txt as a file");
        differ += !cJSON_Compare(cJSON_GetObjectItem(c, "ids"), cJSON_GetObjectItem(c, "uncased_ids"), 1);
    }
    assert_true(differ >= 5);
    assert_true(tokenizer_hash(dir) != tokenizer_hash(file));
    assert_true(tokenizer_hash(dir) == tokenizer_hash(via));
    assert_string_equal(tokenizer_source(dir), "tests/fixtures/cased_ckpt");
    TU_EXPECT_ERR(tokenizer_for_model(NULL, NULL, &e) == NULL, &e, "needs --vocab");
    tokenizer_free(dir), tokenizer_free(file), tokenizer_free(v5), tokenizer_free(via);
    cJSON_Delete(j);
}

// cased_vocab.txt with every "\n" as "\r\n": "no [PAD] token" before; now the ids of transformers'
// BertTokenizer and of the Python BertTokenizerLegacy on that same file.
static void test_crlf_vocab(void **st) {
    (void)st;
    cJSON *j = load_json("tests/fixtures/cased_expected.json");
    int max_len = cJSON_GetObjectItem(j, "max_len")->valueint;
    char *d = tu_path(g_dir, "crlf");
    aca_err e = {0};
    TU_OK(dir_make(d, &e), &e);
    size_t n;
    char *lf = tu_read_file("tests/fixtures/tok/cased_vocab.txt", &n);
    aca_buf crlf = {0};
    for (size_t i = 0; i < n; i++) lf[i] == '\n' ? buf_puts(&crlf, "\r\n") : buf_putc(&crlf, lf[i]);
    char *v = tu_path(d, "vocab.txt"), *cfg = tu_path(d, "tokenizer_config.json");
    tu_write_bytes(v, crlf.data, crlf.len);
    tu_write_file(cfg, "{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": false}");
    aca_tokenizer *t = tokenizer_load(d, -1, &e);
    TU_OK(t == NULL, &e);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        expect_encode(t, text, max_len, cJSON_GetObjectItem(c, "crlf_ids"), "CRLF vocab (BertTokenizer)");
        expect_encode(t, text, max_len, cJSON_GetObjectItem(c, "crlf_legacy_ids"), "CRLF vocab (BertTokenizerLegacy)");
    }
    assert_int_equal(tokenizer_vocab_size(t), 500);
    assert_int_equal(tokenizer_pad_id(t), 0);
    tokenizer_free(t);
    buf_free(&crlf);
    free(lf), free(v), free(cfg), free(d);
    cJSON_Delete(j);
}

// A vocabulary line that Hugging Face's two readers would read differently, or not at all: the
// error names the file, the line and what is wrong with it.
static void test_vocab_line_errors(void **st) {
    (void)st;
    static const struct {
        const char *text;
        size_t len;
        const char *want;
    } cases[] = {
        {"[PAD]\n[UNK]\nab\rcd\n[CLS]\n[SEP]\n", 0, "bad.txt:3: a carriage return inside the line"},
        {"[PAD]\r\n[UNK]\r\r\n[CLS]\n[SEP]\n", 0, "bad.txt:2: a carriage return inside the line"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello \n", 0, "bad.txt:5: the token ends with white space (U+0020)"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\xe3\x80\x80\n", 0, "bad.txt:5: the token ends with white space (U+3000)"},
        {"\xef\xbb\xbf[PAD]\n[UNK]\n[CLS]\n[SEP]\n", 0, "bad.txt:1: starts with a UTF-8 byte-order mark"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP]\nab\xff\n", 0, "bad.txt:5: invalid UTF-8 at byte 3 of the line"},
        {"[PAD]\n[UNK]\na\0b\n[CLS]\n[SEP]\n", 24, "bad.txt:3: NUL byte in token"},
        {"[PAD]\n[UNK]\n[CLS]\n[SEP] \n", 0, "bad.txt:4: the token ends with white space"},
        {"[PAD]\n[unk]\n[CLS]\n[SEP]\n", 0, "no [UNK] token in the vocabulary: none of its 4 lines is exactly [UNK]"},
    };
    char *p = tu_path(g_dir, "bad.txt");
    aca_err e = {0};
    for (size_t i = 0; i < ACA_ARRAY_LEN(cases); i++) {
        tu_write_bytes(p, cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
        TU_EXPECT_ERR(tokenizer_load(p, -1, &e) == NULL, &e, cases[i].want);
    }
    // Accepted as both readers do: CRLF, a final line without a line end, a final lone "\r", an
    // empty line (an empty token), a duplicate (the later id wins).
    tu_write_file(p, "[PAD]\r\n[UNK]\n\n[CLS]\r\n[SEP]\r\nx\r\nx\r");
    aca_tokenizer *t = tokenizer_load(p, -1, &e);
    TU_OK(t == NULL, &e);
    assert_int_equal(tokenizer_vocab_size(t), 7);
    assert_int_equal(tokenizer_cls_id(t), 3);
    assert_int_equal(tokenizer_token_to_id(t, "x"), 6);
    tokenizer_free(t);
    free(p);
}

// What tokenizer_config.json, special_tokens_map.json and tokenizer.json may say: settings aca
// follows are honoured; anything that would make Hugging Face tokenize otherwise is an error naming
// the file and the field.
static void test_tokenizer_config_fields(void **st) {
    (void)st;
    char *d = tu_path(g_dir, "cfgdir");
    aca_err e = {0};
    TU_OK(dir_make(d, &e), &e);
    char *v = tu_path(d, "vocab.txt"), *cfg = tu_path(d, "tokenizer_config.json"), *sm = tu_path(d, "special_tokens_map.json");
    char *tj = tu_path(d, "tokenizer.json");
    tu_write_file(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nHello\n");
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"pad_token\": \"<pad>\"}", "tokenizer_config.json: field pad_token is \"<pad>\""},
        {"{\"unk_token\": {\"content\": \"<unk>\", \"special\": true}}", "field unk_token is \"<unk>\""},
        {"{\"cls_token\": 3}", "field cls_token: expected a string"},
        {"{\"never_split\": [\"hello\"]}", "field never_split: tokens kept whole"},
        {"{\"additional_special_tokens\": [\"<x>\"]}", "field additional_special_tokens"},
        {"{\"tokenize_chinese_chars\": false}", "field tokenize_chinese_chars is false"},
        {"{\"do_basic_tokenize\": false}", "field do_basic_tokenize is false"},
        {"{\"strip_accents\": \"no\"}", "field strip_accents: not a boolean"},
        {"{\"tokenizer_class\": \"RobertaTokenizer\"}", "field tokenizer_class is \"RobertaTokenizer\""},
        {"{\"added_tokens_decoder\": {\"5\": {\"content\": \"[PAD]\"}}}", "id 5 is \"[PAD]\" but the vocabulary's token 5 (vocab.txt line 6) is \"hello\""},
        {"{\"added_tokens_decoder\": {\"9\": {\"content\": \"<new>\"}}}", "field added_tokens_decoder: entry \"9\" is not a token of the vocabulary"},
        {"{\"added_tokens_decoder\": {\"6\": {\"content\": \"Hello\"}}}", "(only the BERT special tokens may be listed)"},
        {"[1, 2]", "tokenizer_config.json: not a JSON object"},
    };
    for (size_t i = 0; i < ACA_ARRAY_LEN(bad); i++) {
        tu_write_file(cfg, bad[i].json);
        TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, bad[i].want);
    }
    // A config as Hugging Face writes it (all-MiniLM-L6-v2's fields, cased here) is honoured.
    tu_write_file(cfg, "{\"do_lower_case\": false, \"unk_token\": \"[UNK]\", \"sep_token\": \"[SEP]\", \"pad_token\": \"[PAD]\","
                       " \"cls_token\": \"[CLS]\", \"mask_token\": \"[MASK]\", \"tokenize_chinese_chars\": true, \"strip_accents\": null,"
                       " \"do_basic_tokenize\": true, \"never_split\": null, \"tokenizer_class\": \"BertTokenizer\","
                       " \"model_max_length\": 1000000000000000019884624838656, \"added_tokens_decoder\": {\"0\": {\"content\":"
                       " \"[PAD]\", \"special\": true}, \"4\": {\"content\": \"[MASK]\"}}}");
    aca_tokenizer *t = tokenizer_load(d, -1, &e);
    TU_OK(t == NULL, &e);
    assert_int_equal(tokenizer_token_to_id(t, "Hello"), 6);
    int32_t ids[4];
    int len;
    TU_OK(tokenizer_encode(t, "Hello", 5, 4, ids, &len, &e), &e);
    assert_int_equal(ids[1], 6);
    tokenizer_free(t);
    // special_tokens_map.json is checked the same way.
    tu_write_file(sm, "{\"sep_token\": \"</s>\"}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "special_tokens_map.json: field sep_token is \"</s>\"");
    remove(sm);
    // tokenizer.json beside vocab.txt must hold the same vocabulary (Hugging Face uses tokenizer.json).
    tu_write_file(tj, "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\","
                      " \"max_input_chars_per_word\": 100, \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3,"
                      " \"[MASK]\": 4, \"Hello\": 5, \"hello\": 6}}}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "disagree at id 5 (\"Hello\" vs \"hello\")");
    tu_write_file(tj, "{\"model\": {\"type\": \"WordPiece\", \"continuing_subword_prefix\": \"@@\", \"vocab\": {\"[PAD]\": 0}}}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "tokenizer.json: field model.continuing_subword_prefix");
    tu_write_file(tj, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 0}}}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "token \"[UNK]\" has a bad or repeated id");
    tu_write_file(tj, "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "tokenizer.json: field model.type is \"BPE\"");
    // Without vocab.txt: a non-WordPiece tokenizer.json and no .model.
    remove(v);
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "field model.type is \"BPE\": only a WordPiece tokenizer.json");
    tu_write_file(tj, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3}},"
                      " \"added_tokens\": [{\"id\": 1, \"content\": \"[UNK]\"}, {\"id\": 7, \"content\": \"<extra>\"}]}");
    TU_EXPECT_ERR(tokenizer_load(d, -1, &e) == NULL, &e, "tokenizer.json: field added_tokens: entry \"7\" is not a token");
    remove(tj);
    remove(cfg);
    free(v), free(cfg), free(sm), free(tj), free(d);
}

// tokenizer_save writes what reads back as the same tokenizer: WordPiece settings and vocabulary;
// a SentencePiece directory's .model and its tokenizer files, copied.
static void test_tokenizer_save_roundtrip(void **st) {
    (void)st;
    cJSON *j = load_json("tests/fixtures/cased_expected.json");
    int max_len = cJSON_GetObjectItem(j, "max_len")->valueint;
    aca_err e = {0};
    char *out = tu_path(g_dir, "saved"), *out2 = tu_path(g_dir, "saved_spm");
    TU_OK(dir_make(out, &e), &e);
    TU_OK(dir_make(out2, &e), &e);
    aca_tokenizer *t = tokenizer_load("tests/fixtures/cased_ckpt_v5tok", -1, &e);
    TU_OK(t == NULL, &e);
    TU_OK(tokenizer_save(t, out, 64, &e), &e);
    aca_tokenizer *back = tokenizer_load(out, -1, &e);
    TU_OK(back == NULL, &e);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
        expect_encode(back, cJSON_GetObjectItem(c, "text")->valuestring, max_len, cJSON_GetObjectItem(c, "ids"), "saved tokenizer");
    char *cfg = tu_path(out, "tokenizer_config.json");
    char *txt = tu_read_file(cfg, NULL);
    assert_non_null(strstr(txt, "\"do_lower_case\": false"));
    assert_non_null(strstr(txt, "\"tokenizer_class\": \"BertTokenizer\""));
    free(txt);
    tokenizer_free(back);
    tokenizer_free(t);
    // SentencePiece: the .model under its name, the source directory's tokenizer_config.json copied.
    char *sd = tu_path(g_dir, "spm_src");
    TU_OK(dir_make(sd, &e), &e);
    size_t n;
    char *model = tu_read_file("tests/fixtures/tok/tiny_spm.model", &n);
    char *mp = tu_path(sd, "spiece.model"), *sc = tu_path(sd, "tokenizer_config.json");
    tu_write_bytes(mp, model, n);
    tu_write_file(sc, "{\"tokenizer_class\": \"AlbertTokenizer\"}");
    t = tokenizer_load(sd, -1, &e);
    TU_OK(t == NULL, &e);
    TU_OK(tokenizer_save(t, out2, 0, &e), &e);
    char *m2 = tu_path(out2, "spiece.model"), *c2 = tu_path(out2, "tokenizer_config.json");
    size_t n2;
    char *model2 = tu_read_file(m2, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(model2, model, n);
    char *c2t = tu_read_file(c2, NULL);
    assert_string_equal(c2t, "{\"tokenizer_class\": \"AlbertTokenizer\"}");
    tokenizer_free(t);
    free(model), free(model2), free(c2t), free(mp), free(sc), free(m2), free(c2), free(sd), free(cfg), free(out), free(out2);
    cJSON_Delete(j);
}

// ---- which characters leave no trace (tokenizer_drop_reason) -----------------------------------
static int in_ranges(const cJSON *ranges, uint32_t cp) {
    const cJSON *r;
    cJSON_ArrayForEach(r, ranges) {
        if (cp >= (uint32_t)cJSON_GetArrayItem(r, 0)->valuedouble && cp <= (uint32_t)cJSON_GetArrayItem(r, 1)->valuedouble)
            return 1;
    }
    return 0;
}

// "a X b" tokenizes as "a b" does.
static int drops(const aca_tokenizer *t, uint32_t cp) {
    char s[16] = "a ";
    size_t k = 2 + utf8_encode(s + 2, cp);
    memcpy(s + k, " b", 2);
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, ca = 0, cb = 0;
    aca_err e = {0};
    TU_OK(tokenizer_tokenize(t, "a b", 3, &a, &na, &ca, &e), &e);
    TU_OK(tokenizer_tokenize(t, s, k + 2, &b, &nb, &cb, &e), &e);
    int same = na == nb && !memcmp(a, b, na * sizeof *a);
    free(a), free(b);
    return same;
}

// One tokenizer over every code point of the fixture's ranges: the reason given is exactly "the
// tokenization drops it" (aca's own) and Hugging Face's verdict (where Python's Unicode knows the
// character: utf8proc's may be newer).  t NULL: BertTokenizer's defaults, compared with uncased.
static void check_drop_reasons(const cJSON *fx, const aca_tokenizer *t, const aca_tokenizer *ref, const char *key) {
    const cJSON *ranges = cJSON_GetObjectItem(fx, "ranges"), *hf = cJSON_GetObjectItem(fx, key);
    const cJSON *unassigned = cJSON_GetObjectItem(fx, "python_unassigned"), *r;
    long n = 0, n_dropped = 0;
    cJSON_ArrayForEach(r, ranges) {
        for (uint32_t cp = (uint32_t)cJSON_GetArrayItem(r, 0)->valuedouble; cp <= (uint32_t)cJSON_GetArrayItem(r, 1)->valuedouble; cp++) {
            const int says = tokenizer_drop_reason(t, cp) != NULL, own = drops(ref, cp);
            if (says != own) fail_msg("%s: U+%04X: drop reason %s, aca's tokenization %s it", key, cp, says ? "given" : "none", own ? "drops" : "keeps");
            if (!in_ranges(unassigned, cp) && says != in_ranges(hf, cp))
                fail_msg("%s: U+%04X: drop reason %s, Hugging Face %s it", key, cp, says ? "given" : "none", says ? "keeps" : "drops");
            n++, n_dropped += says;
        }
    }
    assert_true(n > 65000);
    assert_true(n_dropped > 300); // controls, formats, private use, white space (and accents uncased)
}

static void test_drop_reason_hf(void **st) {
    (void)st;
    aca_err e = {0};
    cJSON *fx = load_json("tests/fixtures/tok/dropped.json");
    aca_tokenizer *u = tokenizer_load("models/vocab/bert-base-uncased.txt", -1, &e);
    aca_tokenizer *c = tokenizer_load("tests/fixtures/tok/cased_vocab.txt", 0, &e);
    assert_non_null(u);
    assert_non_null(c);
    check_drop_reasons(fx, NULL, u, "uncased_dropped");
    check_drop_reasons(fx, u, u, "uncased_dropped");
    check_drop_reasons(fx, c, c, "cased_dropped");
    assert_string_equal(tokenizer_drop_reason(NULL, 0x200B), "removed by BERT's text cleaning");
    assert_null(tokenizer_drop_reason(c, 0x0301)); // a cased tokenizer keeps a lone accent
    assert_non_null(tokenizer_drop_reason(u, 0x0301));
    // SentencePiece: decided by the model (this one keeps U+00AD and U+E000, which BERT drops).
    aca_tokenizer *sp = tokenizer_load("tests/fixtures/tok/tiny_spm.model", -1, &e);
    assert_non_null(sp);
    const uint32_t gone[] = {0x200B, 0x2028, 0xFFFD, 0x3000, ' '}, kept[] = {0xAD, 0xE000, 'x', '{', 0x2E18};
    for (size_t k = 0; k < ACA_ARRAY_LEN(gone); k++) assert_non_null(tokenizer_drop_reason(sp, gone[k]));
    for (size_t k = 0; k < ACA_ARRAY_LEN(kept); k++) assert_null(tokenizer_drop_reason(sp, kept[k]));
    tokenizer_free(sp), tokenizer_free(u), tokenizer_free(c);
    cJSON_Delete(fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncased_parity), cmocka_unit_test(test_cased_parity),
        cmocka_unit_test(test_signals),        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_sentencepiece),
        cmocka_unit_test(test_cased_checkpoint_dir), cmocka_unit_test(test_crlf_vocab),
        cmocka_unit_test(test_vocab_line_errors),    cmocka_unit_test(test_tokenizer_config_fields),
        cmocka_unit_test(test_tokenizer_save_roundtrip), cmocka_unit_test(test_drop_reason_hf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
