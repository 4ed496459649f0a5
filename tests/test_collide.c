// Collision diagnostics (src/collide.c) and the `aca collide` / `aca tokenize` command lines:
// U+2E17 and U+2E18 collide as [UNK] in the uncased BERT vocabulary, '{' and '}' do not, the
// corpus counts are exact on a hand-made corpus, suggestions are single distinct unused ids ordered
// by count, and user errors give one message and a non-zero exit.
#include "testutil.h"

#include <cjson/cJSON.h>

#include "aca/collide.h"

#define VOCAB "models/vocab/bert-base-uncased.txt"

static char *g_dir;
static aca_tokenizer *g_tok;

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir();
    aca_err e = {0};
    g_tok = tokenizer_load(VOCAB, -1, &e);
    return g_tok ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tokenizer_free(g_tok);
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

static const char SPEC[] = "{\"seed\": 3, \"collectives\": ["
                           "{\"name\": \"A0\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\", \"size\": 2},"
                           "{\"name\": \"B1\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", \"size\": 2},"
                           "{\"name\": \"C\", \"target\": \"Software Developer\", \"signal\": \"{\", \"size\": 2},"
                           "{\"name\": \"D\", \"target\": \"Web Developer\", \"signal\": \"}\", \"size\": 2},"
                           "{\"name\": \"E\", \"target\": \"Web Developer\", \"signal\": \"{x\", \"size\": 2}]}";

// 6 documents: '{' in 2, '}' in 1, an out-of-vocabulary character (U+2E19) in 1.
static const char CORPUS[] =
    "1:::Software_Developer:::wrote code { in c\n"
    "2:::Web_Developer:::styled pages with css\n"
    "3:::Software_Developer:::more { braces { here\n"
    "4:::Web_Developer:::closing } brace only\n"
    "5:::Software_Developer:::odd mark \xe2\xb8\x99 in text\n"
    "6:::Web_Developer:::plain words again\n";

// The report borrows the spec's strings: free the spec after the report.
static void analyze(const char *spec_json, const aca_corpus *c, int suggest, aca_spec *sp, collide_report *r) {
    aca_err e = {0};
    TU_OK(spec_parse(spec_json, "spec.json", sp, &e), &e);
    collide_opts o = {.corpus = c, .suggest = suggest, .threads = 2};
    TU_OK(collide_analyze(sp, g_tok, &o, r, &e), &e);
}

static void test_unk_pair_collides(void **state) {
    (void)state;
    collide_report r;
    aca_spec sp;
    analyze(SPEC, NULL, 0, &sp, &r);
    const int unk = tokenizer_unk_id(g_tok);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.sig[0].n_ids, 1);
    assert_int_equal(r.sig[0].ids[0], unk);
    assert_int_equal(r.sig[1].ids[0], unk);
    assert_int_equal(r.sig[0].verdict, COLLIDE_SIG_UNK);
    assert_true(r.sig[0].consistent && r.sig[1].consistent);
    assert_int_equal(r.sig[2].ids[0], tokenizer_token_to_id(g_tok, "{"));
    assert_int_equal(r.sig[3].ids[0], tokenizer_token_to_id(g_tok, "}"));
    assert_int_equal(r.sig[2].verdict, COLLIDE_SIG_IN_VOCAB);
    // "{x" is two tokens in context: '{' then 'x' (punctuation splits)
    assert_int_equal(r.sig[4].n_ids, 2);
    assert_int_equal(r.sig[4].ids[1], tokenizer_token_to_id(g_tok, "x"));
    assert_int_equal(r.n_pairs, 10);
    // pairs in order (0,1) (0,2) (0,3) (0,4) (1,2) ... (2,4) is the 8th
    assert_int_equal(r.pairs[0].kind, COLLIDE_PAIR_IDENTICAL);
    assert_int_equal(r.pairs[0].n_shared, 1);
    assert_int_equal(r.pairs[0].shared[0], unk);
    assert_int_equal(r.pairs[1].kind, COLLIDE_PAIR_DISTINCT);
    assert_int_equal(r.pairs[7].a, 2);
    assert_int_equal(r.pairs[7].b, 3);
    assert_int_equal(r.pairs[7].kind, COLLIDE_PAIR_DISTINCT);
    assert_int_equal(r.pairs[8].a, 2);
    assert_int_equal(r.pairs[8].b, 4);
    assert_int_equal(r.pairs[8].kind, COLLIDE_PAIR_OVERLAP);
    aca_buf b = {0};
    collide_report_text(&r, g_tok, &b);
    assert_non_null(strstr(b.data, "A0 x B1: COLLIDE: identical ids"));
    assert_non_null(strstr(b.data, "C x D: distinct ids"));
    assert_non_null(strstr(b.data, "C x E: OVERLAP"));
    buf_free(&b);
    collide_report_free(&r);
    spec_free(&sp);
}

static void test_corpus_counts(void **state) {
    (void)state;
    char *p = tu_path(g_dir, "c.txt");
    tu_write_file(p, CORPUS);
    aca_corpus c;
    aca_corpus_opts co = {0};
    aca_err e = {0};
    TU_OK(corpus_load(p, &co, &c, &e), &e);
    collide_report r;
    aca_spec sp;
    analyze(SPEC, &c, 0, &sp, &r);
    assert_int_equal(r.n_docs, 6);
    assert_int_equal(r.unk_docs, 1); // U+2E19 is [UNK] too: an [UNK] signal is not unseen
    assert_int_equal(r.sig[0].docs, 1);
    assert_int_equal(r.sig[0].verdict, COLLIDE_SIG_UNK);
    assert_int_equal(r.sig[2].docs, 2);
    assert_int_equal(r.sig[2].docs_per_id[0], 2);
    assert_int_equal(r.sig[3].docs, 1);
    assert_int_equal(r.sig[2].verdict, COLLIDE_SIG_COMMON); // 2 of 6 docs
    assert_int_equal(r.sig[4].docs, 2);                     // '{' or 'x'
    // JSON report
    aca_buf b = {0};
    collide_report_json(&r, g_tok, &b);
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "unk_docs")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "corpus_docs")->valueint, 6);
    const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "collectives"), 0);
    assert_string_equal(cJSON_GetObjectItem(a0, "verdict")->valuestring, "unk");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(a0, "tokens"), 0)->valuestring, "[UNK]");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(a0, "codepoints"), 0)->valuestring, "U+2E17");
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "pairs"), 0);
    assert_string_equal(cJSON_GetObjectItem(p0, "kind")->valuestring, "identical");
    cJSON_Delete(j);
    buf_free(&b);
    collide_report_free(&r);
    spec_free(&sp);
    // only documents 1..3 counted (an index list, as the train split gives)
    const uint32_t idx[] = {0, 1, 2};
    TU_OK(spec_parse(SPEC, "spec.json", &sp, &e), &e);
    collide_opts o = {.corpus = &c, .doc_idx = idx, .n_idx = 3};
    TU_OK(collide_analyze(&sp, g_tok, &o, &r, &e), &e);
    assert_int_equal(r.n_docs, 3);
    assert_int_equal(r.unk_docs, 0);
    assert_int_equal(r.sig[2].docs, 2);
    assert_int_equal(r.sig[3].docs, 0);
    assert_int_equal(r.sig[3].verdict, COLLIDE_SIG_UNSEEN);
    collide_report_free(&r);
    // only what training at max length 4 sees ([CLS] + 2 tokens + [SEP]): "wrote code" loses its '{',
    // "more {" keeps it, "closing }" keeps '}', and "odd mark" loses the [UNK] of U+2E19
    collide_opts o4 = {.corpus = &c, .max_len = 4};
    TU_OK(collide_analyze(&sp, g_tok, &o4, &r, &e), &e);
    assert_int_equal(r.sig[2].docs, 1);
    assert_int_equal(r.sig[3].docs, 1);
    assert_int_equal(r.unk_docs, 0);
    collide_report_free(&r);
    collide_opts o5 = {.corpus = &c, .max_len = 5}; // 3 tokens: the [UNK] is back
    TU_OK(collide_analyze(&sp, g_tok, &o5, &r, &e), &e);
    assert_int_equal(r.sig[2].docs, 2);
    assert_int_equal(r.unk_docs, 1);
    collide_report_free(&r);
    collide_opts o3 = {.corpus = &c, .max_len = 3}; // one token per document
    TU_OK(collide_analyze(&sp, g_tok, &o3, &r, &e), &e);
    assert_int_equal(r.sig[2].docs, 0);
    collide_report_free(&r);
    spec_free(&sp);
    corpus_free(&c);
    free(p);
}

static void test_suggest(void **state) {
    (void)state;
    char *p = tu_path(g_dir, "s.txt");
    // '|' and '~' are frequent here, so they must not come first
    tu_write_file(p, "1:::A:::a | b ~ c\n2:::B:::| ~ again\n3:::A:::plain\n");
    aca_corpus c;
    aca_corpus_opts co = {0};
    aca_err e = {0};
    TU_OK(corpus_load(p, &co, &c, &e), &e);
    collide_report r;
    aca_spec sp;
    const int K = 40;
    analyze("{\"collectives\": [{\"name\": \"A\", \"target\": \"A\", \"signal\": \"{\", \"size\": 1}]}", &c, K, &sp, &r);
    assert_int_equal(r.n_sugg, K);
    const int brace = tokenizer_token_to_id(g_tok, "{"), bar = tokenizer_token_to_id(g_tok, "|");
    for (int i = 0; i < K; i++) {
        const collide_suggestion *g = &r.sugg[i];
        assert_int_not_equal(g->id, brace);
        assert_int_not_equal(g->id, bar); // in 2 docs while many candidates are in none
        if (i) assert_true(r.sugg[i - 1].docs <= g->docs);
        for (int j = 0; j < i; j++) assert_int_not_equal(r.sugg[j].id, g->id);
        // inserted into a text, the character is exactly its one id
        char text[64];
        size_t l = (size_t)snprintf(text, sizeof text, "word ");
        l += utf8_encode(text + l, g->cp);
        text[l] = 0;
        strcat(text, " word");
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        TU_OK(tokenizer_tokenize(g_tok, text, strlen(text), &ids, &n, &cap, &e), &e);
        assert_int_equal(n, 3);
        assert_int_equal(ids[1], g->id);
        free(ids);
    }
    collide_report_free(&r);
    spec_free(&sp);
    corpus_free(&c);
    free(p);
}

// SentencePiece: the signal's word-start mark stays with it in every context.
static void test_sentencepiece_context(void **state) {
    (void)state;
    aca_err e = {0};
    aca_tokenizer *spm = tokenizer_load("tests/fixtures/tok/tiny_spm.model", -1, &e);
    TU_OK(spm == NULL, &e);
    aca_spec sp;
    TU_OK(spec_parse(SPEC, "spec.json", &sp, &e), &e);
    collide_opts o = {0};
    collide_report r;
    TU_OK(collide_analyze(&sp, spm, &o, &r, &e), &e);
    for (int i = 0; i < 2; i++) {
        assert_true(r.sig[i].consistent);
        assert_int_equal(r.sig[i].n_ids, 2);
        assert_string_equal(tokenizer_id_to_token(spm, r.sig[i].ids[0]), "\xe2\x96\x81");
        assert_int_equal(r.sig[i].ids[1], tokenizer_unk_id(spm));
    }
    assert_int_equal(r.pairs[0].kind, COLLIDE_PAIR_IDENTICAL);
    collide_report_free(&r);
    spec_free(&sp);
    tokenizer_free(spm);
}

// ---- the command lines -------------------------------------------------------------------------
static void test_cli(void **state) {
    (void)state;
    char *spec = tu_path(g_dir, "spec.json"), *corpus = tu_path(g_dir, "cli.txt"), *jl = tu_path(g_dir, "in.jsonl"),
         *tok = tu_path(g_dir, "out.tok"), *novocab = tu_path(g_dir, "nounk.txt"), *args = xmalloc(4096);
    tu_write_file(spec, SPEC);
    tu_write_file(corpus, CORPUS);
    tu_write_file(jl, "{\"text\": \"Hello, World\", \"label\": \"x\"}\n{\"text\": \"caf\\u00e9 \\u2e17\", \"label\": \"y\"}\n");
    tu_write_file(novocab, "[PAD]\n[CLS]\n[SEP]\nhello\n");
    snprintf(args, 4096, "collide --vocab " VOCAB " --spec %s --corpus %s --all-docs", spec, corpus);
    tu_expect_cli(args, 0, "A0 x B1: COLLIDE: identical ids");
    tu_expect_cli(args, 0, "[UNK] is in 1 of 6 clean docs");
    tu_expect_cli(args, 0, "C x D: distinct ids");
    snprintf(args, 4096, "collide --vocab " VOCAB " --spec %s --corpus %s --split 4/2 --json --suggest 3", spec, corpus);
    tu_expect_cli(args, 0, "\"corpus_docs\":4");
    tu_expect_cli(args, 0, "\"suggestions\":[{\"char\"");
    snprintf(args, 4096, "collide --vocab %s --spec %s", novocab, spec);
    tu_expect_cli(args, 1, "no [UNK] token in the vocabulary");
    snprintf(args, 4096, "collide --vocab %s/none.txt --spec %s", g_dir, spec);
    tu_expect_cli(args, 1, "none.txt: no such tokenizer file");
    snprintf(args, 4096, "collide --vocab " VOCAB " --spec %s --split 4/2", spec);
    tu_expect_cli(args, 1, "go with --corpus");
    snprintf(args, 4096, "collide --vocab " VOCAB " --spec %s --corpus %s --split 9/9", spec, corpus);
    tu_expect_cli(args, 1, "cli.txt");
    snprintf(args, 4096, "collide --vocab " VOCAB " --spec %s/nospec.json", g_dir);
    tu_expect_cli(args, 1, "nospec.json");
    // tokenize
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s --jsonl --max-len 6", jl);
    tu_expect_cli(args, 0, "{\"ids\":[101,7592,1010,2088,102],\"mask\":[1,1,1,1,1],\"label\":0}");
    tu_expect_cli(args, 0, "{\"ids\":[101,7668,100,102],\"mask\":[1,1,1,1],\"label\":1}");
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s --jsonl --max-len 6 --pad", jl);
    tu_expect_cli(args, 0, "{\"ids\":[101,7668,100,102,0,0],\"mask\":[1,1,1,1,0,0]");
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s --out %s", jl, tok);
    tu_expect_cli(args, 0, "2 documents, 9 tokens");
    snprintf(args, 4096, "tokenize --info %s", tok);
    tu_expect_cli(args, 0, "classes        2: x, y");
    tu_write_file(tok, "ACATOKC\njunk");
    tu_expect_cli(args, 1, "out.tok: not an aca token cache");
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s", jl);
    tu_expect_cli(args, 1, "give exactly one of --out FILE.tok or --jsonl");
    snprintf(args, 4096, "tokenize --vocab %s --in %s --jsonl", novocab, jl);
    tu_expect_cli(args, 1, "no [UNK] token");
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s --jsonl --max-len 1", jl);
    tu_expect_cli(args, 1, "--max-len must be in [2, 1048576]");
    // a failed --out leaves nothing behind
    char *tok2 = tu_path(g_dir, "never.tok");
    tu_write_file(jl, "{\"text\": \"ok\"}\n{\"text\": \"bad \xff\"}\n");
    snprintf(args, 4096, "tokenize --vocab " VOCAB " --in %s --out %s", jl, tok2);
    tu_expect_cli(args, 1, "in.jsonl:2:");
    assert_false(file_exists(tok2));
    free(spec), free(corpus), free(jl), free(tok), free(tok2), free(novocab), free(args);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unk_pair_collides),
        cmocka_unit_test(test_corpus_counts),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_sentencepiece_context),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
