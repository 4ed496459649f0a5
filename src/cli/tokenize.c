// aca tokenize: a JSONL file through the tokenizer, into a token cache file (--out) or as JSON
// lines of ids and attention mask (--jsonl); --info checks a cache file and prints its header.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/datadir.h"
#include "aca/jsonw.h"
#include "aca/tokcache.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca tokenize (--vocab FILE | --model DIR) --in FILE.jsonl (--out FILE.tok | --jsonl) [options]\n"
    "       aca tokenize --info FILE.tok\n"
    "\n"
    "Tokenizes a JSONL file of {\"text\": ..., \"label\": ...} lines (label optional) with the WordPiece\n"
    "vocabulary or SentencePiece model given, as [CLS] ... [SEP] truncated on the right to --max-len.\n"
    "--out writes a token cache file (ids, lengths, labels and the class list, checked by a header and\n"
    "checksum; `aca train`/`eval`/`run` keep such files in DATA/tokcache and reuse them).  --jsonl prints\n"
    "{\"ids\":[...],\"mask\":[...]} per document, as Hugging Face's tokenizer(text, truncation=True,\n"
    "max_length=N) gives them (--pad: padded to N, like padding=\"max_length\").  Labels map through the\n"
    "class list of --data DIR's manifest or --classes FILE; without either they are collected in order\n"
    "of first appearance.";

// A token cache file (its magic, include/aca/tokcache.h), which --out may replace.
static int is_tokcache(const char *path) { return out_file_starts_with(path, "ACATOKC\n", 8); }

static int print_info(const char *path) {
    aca_err e = {0};
    tokcache_doc_set s;
    if (tokcache_read(path, &s, &e)) return cli_fail(&e);
    const aca_dataset *d = &s.data;
    int lmin = d->max_len, lmax = 0;
    for (size_t i = 0; i < d->n; i++) {
        int l = dataset_len(d, i);
        lmin = l < lmin ? l : lmin;
        lmax = l > lmax ? l : lmax;
    }
    printf("%s: token cache version %d, valid\n", path, TOKCACHE_VERSION);
    printf("documents      %zu (%s)\n", d->n, d->labels ? "labelled" : "unlabelled");
    printf("tokens         %llu (mean %.1f, min %d, max %d per document)\n", (unsigned long long)d->off[d->n],
           (double)d->off[d->n] / (double)d->n, lmin, lmax);
    printf("max length     %d\n", s.key.max_len);
    printf("vocab size     %d (tokenizer hash %016llx)\n", s.key.vocab_size, (unsigned long long)s.key.tokenizer_hash);
    printf("source         %llu bytes, FNV-1a %016llx\n", (unsigned long long)s.key.source_size,
           (unsigned long long)s.key.source_hash);
    printf("classes        %d", s.n_classes);
    for (int i = 0; i < s.n_classes; i++) printf("%s%s", i ? ", " : ": ", s.classes[i]);
    printf("\n");
    tokcache_doc_set_free(&s);
    return 0;
}

// One line {"ids":[..],"mask":[..],"label":k} a document ("label" when the data has labels).
static void print_jsonl(const tokcache_doc_set *s, int pad, int pad_id) {
    const aca_dataset *d = &s->data;
    aca_buf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        const int n = dataset_len(d, i), T = pad ? d->max_len : n;
        const int32_t *ids = d->ids + d->off[i];
        aca_jsonw w;
        buf_clear(&b);
        jsonw_init(&w, &b);
        jsonw_obj(&w);
        jsonw_key(&w, "ids");
        jsonw_arr(&w);
        for (int t = 0; t < T; t++) jsonw_int(&w, t < n ? ids[t] : pad_id);
        jsonw_end(&w);
        jsonw_key(&w, "mask");
        jsonw_arr(&w);
        for (int t = 0; t < T; t++) jsonw_int(&w, t < n);
        jsonw_end(&w);
        if (d->labels) jsonw_kint(&w, "label", d->labels[i]);
        jsonw_end(&w);
        buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, stdout);
    }
    buf_free(&b);
}

int cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL, *model = NULL, *in = NULL, *out = NULL, *info = NULL, *data = NULL, *classes_path = NULL;
    long max_len = 512, threads = 0;
    int jsonl = 0, pad = 0, cased = 0, replace = 0;
    aca_opt opts[] = {
        {"--vocab", OPT_STR, &vocab, "FILE", "vocab.txt (WordPiece) or a SentencePiece .model", 0, 0},
        {"--model", OPT_STR, &model, "DIR", "checkpoint directory holding vocab.txt or a .model", 0, 0},
        {"--in", OPT_STR, &in, "FILE.jsonl", "documents, one JSON object per line", 0, 0},
        {"--out", OPT_STR, &out, "FILE.tok", "write a token cache file", 0, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "overwrite an existing --out FILE that is not a token cache", 0, 0},
        {"--jsonl", OPT_FLAG, &jsonl, NULL, "print ids and mask per document as JSON lines", 0, 0},
        {"--pad", OPT_FLAG, &pad, NULL, "with --jsonl: pad every document to --max-len", 0, 0},
        {"--max-len", OPT_INT, &max_len, "N", "max tokens per document incl. [CLS]/[SEP] (default 512)", 0, 0},
        {"--cased", OPT_FLAG, &cased, NULL, "do not lower-case (a --vocab FILE is taken as uncased otherwise)", 0, 0},
        {"--data", OPT_STR, &data, "DIR", "class list from DIR/manifest.json (a directory of `aca mutate`)", 0, 0},
        {"--classes", OPT_STR, &classes_path, "FILE", "class list file (one name per line, or a JSON array)", 0, 0},
        {"--threads", OPT_INT, &threads, "N", "tokenizer threads (default: all cores)", 0, 0},
        {"--info", OPT_STR, &info, "FILE.tok", "check a token cache file and print its header", 0, 0},
    };
    aca_err e = {0};
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return 0;
    if (r < 0) {
        cli_fail(&e);
        return 2;
    }
    if (info) {
        if (in || out || jsonl) return fprintf(stderr, "aca: --info takes no other option\n"), 2;
        return print_info(info);
    }
    if (!!vocab + !!model != 1) return fprintf(stderr, "aca: give exactly one of --vocab FILE or --model DIR\n"), 2;
    if (!in) return fprintf(stderr, "aca: --in FILE.jsonl is required\n"), 2;
    if (!!out + jsonl != 1) return fprintf(stderr, "aca: give exactly one of --out FILE.tok or --jsonl\n"), 2;
    if (pad && !jsonl) return fprintf(stderr, "aca: --pad goes with --jsonl\n"), 2;
    if (data && classes_path) return fprintf(stderr, "aca: give --data DIR or --classes FILE, not both\n"), 2;
    if (max_len < 2 || max_len > 1 << 20) return fprintf(stderr, "aca: --max-len must be in [2, 1048576]\n"), 2;
    if (threads < 0 || threads > 4096) return fprintf(stderr, "aca: --threads must be in [0, 4096]\n"), 2;
    if (replace && !out) return fprintf(stderr, "aca: --replace goes with --out FILE.tok\n"), 2;
    const char *inputs[] = {in, vocab, model, data, classes_path};
    aca_out oo = {.path = out, .option = "--out", .kind = "token cache", .mode = OUT_FILE, .replace = replace,
                  .recognise = is_tokcache};
    int rc = out ? cli_check_out(&oo, inputs, (int)ACA_ARRAY_LEN(inputs)) : 0;
    if (rc) return rc;
    char *out_path = out ? out_file_target(out) : NULL;

    aca_tokenizer *tok = NULL;
    aca_datadir dd = {0};
    char **cls = NULL;
    int ncls = 0, own_cls = 0;
    rc = 1;
    tokcache_doc_set s = {0};
    if (data) {
        if (datadir_open(data, &dd, &e)) goto fail;
        cls = dd.classes, ncls = dd.n_classes;
    } else if (classes_path) {
        if (corpus_load_classes(classes_path, &cls, &ncls, &e)) goto fail;
        own_cls = 1;
    }
    if (!(tok = tokenizer_load(vocab ? vocab : model, cased ? 0 : -1, &e))) goto fail;
    double t0 = time_now();
    if (tokcache_tokenize_jsonl(in, tok, (int)max_len, cls, ncls, (int)threads, &s, &e)) goto fail;
    double dt = time_now() - t0;
    if (jsonl) {
        print_jsonl(&s, pad, tokenizer_pad_id(tok));
    } else {
        if (tokcache_write(out_path, &s, &e)) goto fail;
        log_info("%s: %zu documents, %llu tokens (%.2f s, %.1f MB/s of JSONL) -> %s", in, s.data.n,
                 (unsigned long long)s.data.off[s.data.n], dt, (double)s.key.source_size / 1e6 / (dt > 0 ? dt : 1e-9),
                 out);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&e);
done:
    tokcache_doc_set_free(&s);
    if (tok) tokenizer_free(tok);
    if (own_cls) corpus_free_classes(cls, ncls);
    datadir_free(&dd);
    free(out_path);
    return rc;
}
