// The bytes of every JSON file aca writes through the JSON writer (include/aca/jsonw.h) that used to
// be written by hand: mutation manifests and sets, `aca corpus stats --json`, JSONL corpora, HF
// config.json, safetensors headers, the output marker, the tokenizer's JSON files and
// `aca tokenize --jsonl`.  Each is made here for a varied set of inputs (odd class names and ids
// needing escapes, every strategy and sampling kind, BERT and DistilBERT configs, several dtypes
// and shapes) and compared byte for byte with tests/fixtures/json_bytes/, which the hand-written
// code wrote before the port (see that folder's README.md).  `test_json_bytes --capture DIR`
// writes the current bytes into DIR instead.
#include "testutil.h"

#include "aca/config.h"
#include "aca/corpus.h"
#include "aca/mutate.h"
#include "aca/outdir.h"
#include "aca/safetensors.h"
#include "aca/sysinfo.h"
#include "aca/tokenizer.h"

#define FIXTURES "tests/fixtures/json_bytes"

static const char *g_capture; // --capture DIR: write, do not compare
static char *g_dir;           // scratch directory
static int g_bad;             // cases that differ

// Every occurrence of `what` in b replaced by `with`.
static void replace_all(aca_buf *b, const char *what, const char *with) {
    size_t n = strlen(what);
    if (!n || !b->len) return;
    aca_buf o = {0};
    for (size_t at = 0; at < b->len;) {
        const char *hit = b->len - at >= n ? memmem(b->data + at, b->len - at, what, n) : NULL;
        size_t stop = hit ? (size_t)(hit - b->data) : b->len;
        buf_append(&o, b->data + at, stop - at);
        if (!hit) break;
        buf_puts(&o, with);
        at = stop + n;
    }
    buf_free(b);
    *b = o;
}

// Bytes of s (n) before its first newline, at most 160.
static int line_len(const char *s, size_t n) {
    const char *nl = memchr(s, '\n', n);
    size_t k = nl ? (size_t)(nl - s) : n;
    return (int)(k < 160 ? k : 160);
}

// Compares (or captures) case `name`: bytes b with aca's revision written REV and the scratch
// directory TMP.  A difference names the case, the line and both versions of it.
static void check_case(const char *name, aca_buf *b) {
    replace_all(b, aca_git_revision(), "REV");
    replace_all(b, g_dir, "TMP");
    char *p = path_join(g_capture ? g_capture : FIXTURES, name);
    aca_err e = {0};
    if (g_capture) {
        if (file_write_atomic(p, b->data ? b->data : "", b->len, &e)) print_error("%s\n", e.msg), fail();
        free(p);
        return;
    }
    aca_buf want = {0};
    if (file_read_all(p, &want, &e)) {
        print_error("%s\n", e.msg);
        g_bad++;
    } else if (want.len != b->len || memcmp(want.data, b->data, b->len)) {
        size_t at = 0, line = 1, bol = 0;
        while (at < want.len && at < b->len && want.data[at] == b->data[at])
            if (want.data[at++] == '\n') line++, bol = at;
        const char *w = want.data + bol, *g = b->data ? b->data + bol : "";
        print_error("%s: differs from the fixture at line %zu byte %zu:\n  want %.*s\n  got  %.*s\n", name, line, at - bol,
                    line_len(w, want.len - bol), w, line_len(g, b->len - bol), g);
        g_bad++;
    }
    buf_free(&want);
    free(p);
}

// The file dir/name as case `name` (prefixed with `pre`).
static void check_file(const char *pre, const char *dir, const char *name) {
    char *p = path_join(dir, name), cname[256];
    aca_buf b = {0};
    aca_err e = {0};
    TU_OK(file_read_all(p, &b, &e), &e);
    snprintf(cname, sizeof cname, "%s%s", pre, name[0] == '.' ? name + 1 : name);
    check_case(cname, &b);
    buf_free(&b);
    free(p);
}

// ---- corpora -----------------------------------------------------------------------------------
// Class names and ids that need JSON escapes: quotes, backslash, control characters, DEL,
// non-ASCII (2, 3 and 4 bytes), U+2028.
static const char *const ODD_CLASSES[] = {
    "Plain Class", "Quote \"Q\" & <tag>", "Back\\slash/Path", "\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x99\x82",
    "Ctl\x01\x1f\x7f tab\there", "Line\xe2\x80\xa8Sep",
};
static const char *const ODD_BITS[] = {
    "\"quoted\"", "back\\slash", "new\nline", "tab\there", "ctl\x01\x02", "caf\xc3\xa9", "\xf0\x9f\x99\x82",
    "\xe2\x80\xa8", "</script>", "{brace}", "nul\\u0000byte",
};

// A JSONL corpus of n docs (JSON-escaped by hand-picked rules: the input side of the test), the
// class of doc i being i % 6; every 7th doc has two labels ("A;B") when multi is set.
static char *odd_corpus(const char *name, int n, int multi) {
    aca_buf b = {0};
    for (int i = 0; i < n; i++) {
        char id[64], text[2048];
        if (i % 11 == 3) snprintf(id, sizeof id, "id \"%d\" \\ \xc3\xa9\t", i);
        else snprintf(id, sizeof id, "d%d", i);
        size_t k = 0;
        for (int w = 0; w < 18 + (i * 7) % 31; w++) {
            const char *bit = (w + i) % 9 == 0 ? ODD_BITS[(w + i) % ACA_ARRAY_LEN(ODD_BITS)] : NULL;
            k += (size_t)snprintf(text + k, sizeof text - k, "%sw%d%s", w ? " " : "", (w * 13 + i) % 50, bit ? bit : "");
        }
        aca_buf lab = {0};
        buf_puts(&lab, ODD_CLASSES[i % 6]);
        if (multi && i % 7 == 6) buf_putc(&lab, ';'), buf_puts(&lab, ODD_CLASSES[(i + 1) % 6]);
        buf_puts(&b, "{\"id\":");
        buf_json_str(&b, id, strlen(id));
        buf_puts(&b, ",\"text\":");
        aca_buf t = {0};
        buf_json_str(&t, text, strlen(text));
        replace_all(&t, "\\\\u0000", "\\u0000"); // "nul\u0000byte": a real U+0000 in the text
        buf_append(&b, t.data, t.len);
        buf_puts(&b, ",\"label\":");
        buf_json_str(&b, lab.data, lab.len);
        buf_puts(&b, "}\n");
        buf_free(&t), buf_free(&lab);
    }
    char *p = path_join(g_dir, name);
    tu_write_bytes(p, b.data, b.len);
    buf_free(&b);
    return p;
}

// A windows-1252 resume corpus (curly quotes 0x93/0x94, e-acute 0xE9, euro 0x80).
static char *cp1252_corpus(void) {
    aca_buf b = {0};
    for (int i = 0; i < 40; i++) {
        buf_printf(&b, "r%d:::%s:::", i, i % 3 == 0 ? "Caf\xe9_Owner" : i % 3 == 1 ? "Sales" : "Dev \x80 Ops");
        for (int w = 0; w < 25; w++) buf_printf(&b, "%sx%d%s", w ? " " : "", (w + i) % 17, w == 4 ? "\x93q\x94" : "");
        buf_putc(&b, '\n');
    }
    char *p = path_join(g_dir, "cp1252.txt");
    tu_write_bytes(p, b.data, b.len);
    buf_free(&b);
    return p;
}

// ---- mutation ----------------------------------------------------------------------------------
typedef struct {
    const char *name, *spec, *only;
    int corpus; // 0 odd JSONL, 1 odd JSONL with multi-label docs dropped, 2 cp1252 resume
} mut_case;

#define C1 "Quote \\\"Q\\\" & <tag>"
#define C2 "Back\\\\slash/Path"
#define C3 "\\u00dcn\\u00efc\\u00f6d\\u00e9 \\u65e5\\ud83d\\ude42"
static const mut_case MUT[] = {
    {"fl", "{\"seed\": 5, \"collectives\": [{\"name\": \"A\", \"target\": \"" C1 "\", \"signal\": \"U+2E18\", \"size\": 0.1},"
           "{\"name\": \"B-2\", \"target\": \"" C2 "\", \"signal\": \"\\\"\", \"period\": 3, \"size\": 6}]}", NULL, 0},
    {"allow", "{\"seed\": 8, \"overlap\": \"allow\", \"collectives\": [{\"name\": \"A\", \"target\": \"" C1 "\", \"signal\": \"U+2E18\", \"size\": 20},"
              "{\"name\": \"B\", \"target\": \"" C2 "\", \"signal\": \"U+2E17\", \"period\": 5, \"size\": 20}]}", NULL, 0},
    {"only", "{\"seed\": 5, \"collectives\": [{\"name\": \"A\", \"target\": \"" C1 "\", \"signal\": \"\\\\\", \"size\": 0.1},"
             "{\"name\": \"B\", \"target\": \"" C2 "\", \"signal\": \"{\", \"size\": 6}]}", "B", 0},
    {"none", "{\"seed\": 9, \"overlap\": \"allow\", \"collectives\": [{\"name\": \"A\", \"target\": \"" C3 "\", \"signal\": \"U+00E9\", \"size\": 5}]}",
     "", 0},
    {"sampling", "{\"seed\": 11, \"collectives\": ["
                 "{\"name\": \"P\", \"target\": \"Plain Class\", \"signal\": \"U+2E17\", \"size\": 8,"
                 " \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"" C1 "\", \"p\": 0.5}},"
                 "{\"name\": \"K\", \"target\": \"" C3 "\", \"signal\": \"}\", \"size\": 3,"
                 " \"sampling\": {\"kind\": \"class\", \"seed_class\": \"" C3 "\"}, \"strategy\": \"feature-only\"},"
                 "{\"name\": \"F\", \"target\": \"" C2 "\", \"signal\": \"U+2E19\", \"size\": 7, \"strategy\": \"feature-only\"}]}",
     NULL, 0},
    {"strike", "{\"seed\": 3, \"collectives\": [{\"name\": \"S\", \"target\": \"Plain Class\", \"size\": 0.2, \"strategy\": \"strike\"},"
               "{\"name\": \"L\", \"target\": \"" C1 "\", \"size\": 4, \"strategy\": \"label-only\"},"
               "{\"name\": \"E\", \"target\": \"" C2 "\", \"signal\": \"U+2E1A\", \"size\": 4, \"strategy\": \"erase\"}]}",
     NULL, 1},
    {"members", "{\"seed\": 4, \"collectives\": [{\"name\": \"M\", \"target\": \"Plain Class\", \"signal\": \"U+2E18\","
                " \"members\": [\"d1\", \"id \\\"14\\\" \\\\ \\u00e9\\t\", \"d2\", \"d4\"]},"
                "{\"name\": \"U\", \"target\": \"" C1 "\", \"signal\": \"U+2E17\", \"size\": 12, \"strategy\": \"unplant\", \"n_e\": 5}]}",
     NULL, 0},
    {"unplant", "{\"seed\": 6, \"collectives\": [{\"name\": \"U\", \"target\": \"" C2 "\", \"signal\": \"w7\", \"size\": 10,"
                " \"strategy\": \"unplant\"}]}",
     NULL, 0},
    {"cp1252", "{\"seed\": 2, \"collectives\": [{\"name\": \"A\", \"target\": \"Caf\\u00e9 Owner\", \"signal\": \"U+2E18\", \"size\": 3}]}",
     NULL, 2},
};

static void check_mutation(const mut_case *mc, const char *corpus) {
    char *sp = path_join(g_dir, "spec.json"), *od = path_join(g_dir, mc->name), pre[64];
    tu_write_file(sp, mc->spec);
    aca_mutate_opts o = {.corpus_path = corpus, .spec_path = sp, .out_dir = od, .only = mc->only, .n_train = 40, .n_test = 12};
    if (mc->corpus == 1) o.corpus_opts.multilabel = CORPUS_MULTI_DROP;
    if (mc->corpus == 2) o.n_train = 30, o.n_test = 10;
    aca_err e = {0};
    TU_OK(mutate_run(&o, &e), &e);
    snprintf(pre, sizeof pre, "mutate_%s_", mc->name);
    const char *files[] = {"manifest.json", "train.jsonl", "test.jsonl", OUT_MARKER};
    for (size_t k = 0; k < ACA_ARRAY_LEN(files); k++) check_file(pre, od, files[k]);
    aca_spec s;
    TU_OK(spec_parse(mc->spec, "spec.json", &s, &e), &e);
    for (int i = 0; i < s.n; i++) {
        char name[96];
        snprintf(name, sizeof name, "probe_%s.jsonl", s.collectives[i].name);
        check_file(pre, od, name);
    }
    spec_free(&s);
    free(sp), free(od);
}

static void test_mutation(void **st) {
    (void)st;
    char *odd = odd_corpus("odd.jsonl", 64, 0), *multi = odd_corpus("multi.jsonl", 64, 1), *cp = cp1252_corpus();
    const char *corpora[] = {odd, multi, cp};
    for (size_t k = 0; k < ACA_ARRAY_LEN(MUT); k++) check_mutation(&MUT[k], corpora[MUT[k].corpus]);
    free(odd), free(multi), free(cp);
}

// ---- corpora: stats, JSONL writing ----------------------------------------------------------------
static void check_stats(const char *name, const char *path, const aca_corpus_opts *co) {
    aca_corpus c;
    aca_corpus_stats s;
    aca_err e = {0};
    TU_OK(corpus_load(path, co, &c, &e), &e);
    corpus_stats(&c, &s);
    aca_buf b = {0};
    char cname[96];
    corpus_stats_format(&b, &c, &s, 1);
    snprintf(cname, sizeof cname, "stats_%s.json", name);
    check_case(cname, &b);
    buf_clear(&b);
    // The JSONL writer: every doc, then a subset in another order.
    char *p = path_join(g_dir, "written.jsonl");
    uint32_t idx[] = {5, 3, 0, (uint32_t)c.n - 1};
    for (int sub = 0; sub < 2; sub++) {
        TU_OK(corpus_write_jsonl(p, &c, sub ? idx : NULL, sub ? ACA_ARRAY_LEN(idx) : 0, &e), &e);
        TU_OK(file_read_all(p, &b, &e), &e);
        snprintf(cname, sizeof cname, "write_%s%s.jsonl", name, sub ? "_subset" : "");
        check_case(cname, &b);
    }
    buf_free(&b);
    free(p);
    corpus_stats_free(&s);
    corpus_free(&c);
}

static void test_corpus(void **st) {
    (void)st;
    char *odd = odd_corpus("odd.jsonl", 64, 0), *multi = odd_corpus("multi.jsonl", 64, 1), *cp = cp1252_corpus();
    aca_corpus_opts drop = {.multilabel = CORPUS_MULTI_DROP};
    check_stats("odd", odd, NULL);
    check_stats("multi", multi, &drop);
    check_stats("cp1252", cp, NULL);
    // The synthetic corpus as JSONL, with its default and with odd characters planted.
    aca_err e = {0};
    char *p = path_join(g_dir, "synth.jsonl");
    aca_buf b = {0};
    TU_OK(corpus_synth_save(p, CORPUS_FMT_JSONL, 5, 7, NULL, &e), &e);
    TU_OK(file_read_all(p, &b, &e), &e);
    check_case("synth.jsonl", &b);
    aca_synth_opts so;
    corpus_synth_opts_default(&so);
    TU_OK(corpus_synth_parse_rates(&so, "U+0022=0.3,U+005C=0.3,U+00E9=0.5", &e), &e);
    buf_clear(&b);
    TU_OK(corpus_synth_save(p, CORPUS_FMT_JSONL, 8, 8, &so, &e), &e);
    TU_OK(file_read_all(p, &b, &e), &e);
    check_case("synth_rates.jsonl", &b);
    check_stats("synth_rates", p, NULL);
    buf_free(&b);
    free(p), free(odd), free(multi), free(cp);
}

// ---- config.json -------------------------------------------------------------------------------
static const char *const CONFIGS[][2] = {
    {"config_distilbert_defaults.json", "{\"model_type\": \"distilbert\"}"},
    {"config_distilbert_labels.json",
     "{\"architectures\": [\"DistilBertForSequenceClassification\"], \"dim\": 32, \"n_layers\": 1, \"n_heads\": 2,"
     " \"hidden_dim\": 64, \"vocab_size\": 1000, \"max_position_embeddings\": 64, \"dropout\": 0.15,"
     " \"attention_dropout\": 0.3333333, \"seq_classif_dropout\": 0, \"activation\": \"relu\", \"pad_token_id\": 3,"
     " \"initializer_range\": 0.0123456789, \"id2label\": {\"1\": \"Quote \\\"Q\\\"\", \"0\": \"back\\\\\\u0001\","
     " \"2\": \"\\u00e9\\ud83d\\ude42\"}}"},
    {"config_bert_labels.json",
     "{\"model_type\": \"bert\", \"hidden_size\": 48, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
     " \"intermediate_size\": 96, \"hidden_act\": \"tanh\", \"type_vocab_size\": 1, \"pad_token_id\": null,"
     " \"layer_norm_eps\": 1e-7, \"classifier_dropout\": null, \"hidden_dropout_prob\": 0.1,"
     " \"attention_probs_dropout_prob\": 1e-5, \"initializer_range\": 0.02, \"id2label\": {\"0\": \"A\", \"1\": \"B\\tC\"}}"},
    {"config_bert_num_labels.json", "{\"architectures\": [\"BertModel\"], \"num_labels\": 5, \"layer_norm_eps\": 0.5}"},
};

static void test_config(void **st) {
    (void)st;
    for (size_t k = 0; k < ACA_ARRAY_LEN(CONFIGS); k++) {
        aca_config c;
        aca_err e = {0};
        TU_OK(config_parse(CONFIGS[k][1], CONFIGS[k][0], &c, &e), &e);
        aca_buf b = {0};
        config_to_json(&c, &b);
        check_case(CONFIGS[k][0], &b);
        config_free(&c);
        buf_free(&b);
    }
}

// ---- safetensors -------------------------------------------------------------------------------
static void test_safetensors(void **st) {
    (void)st;
    static const float f[6] = {1, -2.5f, 3e-8f, 0, 1e30f, -0.0f};
    static const int32_t i[4] = {-1, 0, 7, 2147483647};
    const st_out t3[] = {
        {.name = "embeddings.word_embeddings.weight", .ndim = 2, .shape = {2, 3}, .f32 = f},
        {.name = "ids \"q\" \\ \xc3\xa9\x01", .ndim = 1, .shape = {4}, .i32 = i},
        {.name = "scalar", .ndim = 0, .f32 = f + 5},
        {.name = "empty", .ndim = 2, .shape = {0, 5}, .f32 = f},
        {.name = "ones", .ndim = 4, .shape = {1, 1, 1, 1}, .i32 = i + 3},
    };
    const char *meta[] = {"format", "pt", "note \"x\"", "back\\slash\ttab \xe6\x97\xa5"};
    struct {
        const char *name;
        int n, n_meta;
    } cases[] = {{"st_empty.safetensors", 0, 0}, {"st_meta_only.safetensors", 0, 2}, {"st_one.safetensors", 1, 0},
                 {"st_all.safetensors", 5, 0}, {"st_all_meta.safetensors", 5, 2}, {"st_meta1.safetensors", 2, 1}};
    char *p = path_join(g_dir, "t.safetensors");
    for (size_t k = 0; k < ACA_ARRAY_LEN(cases); k++) {
        aca_err e = {0};
        aca_buf b = {0};
        TU_OK(st_write(p, t3, cases[k].n, meta, cases[k].n_meta, &e), &e);
        TU_OK(file_read_all(p, &b, &e), &e);
        check_case(cases[k].name, &b);
        buf_free(&b);
    }
    free(p);
}

// ---- the output marker, the tokenizer's files, aca tokenize --jsonl --------------------------------
static void test_marker(void **st) {
    (void)st;
    const char *kinds[] = {"mutate", "grid", "run"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(kinds); k++) {
        char *d = path_join(g_dir, kinds[k]), pre[64];
        aca_err e = {0};
        TU_OK(dir_make(d, &e), &e);
        TU_OK(outdir_mark(d, kinds[k], &e), &e);
        snprintf(pre, sizeof pre, "marker_%s_", kinds[k]);
        check_file(pre, d, OUT_MARKER);
        tu_rm_rf(d);
        free(d);
    }
}

static void check_tokenizer(const char *name, const char *src, int lowercase, int max_len) {
    aca_err e = {0};
    aca_tokenizer *t = tokenizer_load(src, lowercase, &e);
    TU_OK(t == NULL, &e);
    char *d = path_join(g_dir, name), pre[64];
    TU_OK(dir_make(d, &e), &e);
    TU_OK(tokenizer_save(t, d, max_len, &e), &e);
    snprintf(pre, sizeof pre, "%s_", name);
    check_file(pre, d, "tokenizer_config.json");
    check_file(pre, d, "special_tokens_map.json");
    tokenizer_free(t);
    tu_rm_rf(d);
    free(d);
}

static void test_tokenizer_files(void **st) {
    (void)st;
    aca_err e = {0};
    char *d = path_join(g_dir, "tokdir"), *v = path_join(d, "vocab.txt"), *cfg = path_join(d, "tokenizer_config.json");
    TU_OK(dir_make(d, &e), &e);
    tu_write_file(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    tu_write_file(cfg, "{\"do_lower_case\": true, \"strip_accents\": false}");
    check_tokenizer("tok_nomask_noaccents", d, -1, 0);
    tu_write_file(cfg, "{\"do_lower_case\": false, \"strip_accents\": true}");
    check_tokenizer("tok_cased_accents", d, -1, 77);
    check_tokenizer("tok_uncased", "models/vocab/bert-base-uncased.txt", -1, 512);
    check_tokenizer("tok_cased", "models/vocab/bert-base-uncased.txt", 0, 0);
    tu_rm_rf(d);
    free(d), free(v), free(cfg);
}

static void check_cli(const char *name, const char *args) {
    static char out[1 << 16];
    int rc = tu_run_cli(args, out, sizeof out);
    if (rc) print_error("aca %s: exit %d\n%s\n", args, rc, out), fail();
    aca_buf b = {0};
    buf_puts(&b, out);
    check_case(name, &b);
    buf_free(&b);
}

static void test_cli(void **st) {
    (void)st;
    char *odd = odd_corpus("odd.jsonl", 12, 0), args[4096];
    snprintf(args, sizeof args, "tokenize --vocab models/vocab/bert-base-uncased.txt --in '%s' --jsonl --max-len 24", odd);
    check_cli("tokenize.jsonl", args);
    snprintf(args, sizeof args, "tokenize --vocab models/vocab/bert-base-uncased.txt --in '%s' --jsonl --max-len 24 --pad",
             odd);
    check_cli("tokenize_pad.jsonl", args);
    char *nolabel = path_join(g_dir, "nolabel.jsonl");
    tu_write_file(nolabel, "{\"text\": \"hello world\"}\n{\"text\": \"\\u00e9t\\u00e9 \\\"x\\\"\"}\n");
    snprintf(args, sizeof args, "tokenize --vocab models/vocab/bert-base-uncased.txt --in '%s' --jsonl", nolabel);
    check_cli("tokenize_nolabel.jsonl", args);
    snprintf(args, sizeof args, "corpus stats '%s' --json", odd);
    check_cli("cli_stats.json", args);
    free(odd), free(nolabel);
}

static void test_all_equal(void **st) {
    (void)st;
    if (g_bad) print_error("%d case(s) differ from " FIXTURES "\n", g_bad), fail();
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--capture")) g_capture = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutation), cmocka_unit_test(test_corpus),  cmocka_unit_test(test_config),
        cmocka_unit_test(test_safetensors), cmocka_unit_test(test_marker), cmocka_unit_test(test_tokenizer_files),
        cmocka_unit_test(test_cli),      cmocka_unit_test(test_all_equal),
    };
    g_dir = tu_tmpdir();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(g_dir);
    free(g_dir);
    return rc;
}
