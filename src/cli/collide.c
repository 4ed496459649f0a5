// aca collide: each collective's signal in the tokenizer (ids in context), collisions between
// collectives, how often the ids already occur in clean training documents, and --suggest K
// characters with distinct ids that are absent from (or rarest in) the clean corpus.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/collide.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca collide (--vocab FILE | --model DIR) --spec SPEC.json [--corpus FILE] [--suggest K] [--json]\n"
    "\n"
    "For each collective of the spec: its signal's token ids in context (inserted between words as\n"
    "`aca mutate` does), whether it maps to [UNK], and with --corpus in how many clean training documents\n"
    "(the train split `aca mutate` would use: --split, spec seed or --seed) each id already occurs; for\n"
    "each pair of collectives whether their ids are identical (COLLIDE), overlap or are distinct.\n"
    "--suggest K lists K characters that each tokenize to one id of their own, fewest clean documents\n"
    "first, so collectives can pick signals that do not collide.";

int cmd_collide(int argc, char **argv) {
    const char *vocab = NULL, *model = NULL, *spec_path = NULL, *corpus_path = NULL, *split = NULL;
    const char *fmt = "auto", *enc = "auto", *multi = "first";
    uint64_t seed = 0;
    long suggest = 0, threads = 0, max_len = 0;
    int json = 0, cased = 0, all_docs = 0;
    aca_opt opts[] = {
        {"--vocab", OPT_STR, &vocab, "FILE", "vocab.txt (WordPiece) or a SentencePiece .model", 0, 0},
        {"--model", OPT_STR, &model, "DIR", "checkpoint directory holding vocab.txt or a .model", 0, 0},
        {"--spec", OPT_STR, &spec_path, "SPEC.json", "the collectives spec", 1, 0},
        {"--corpus", OPT_STR, &corpus_path, "FILE", "clean corpus: count the signals' ids in its training documents",
         0, 0},
        {"--split", OPT_STR, &split, "SPLIT", "karan | hardt | N_TRAIN/N_TEST (default: as `aca mutate`)", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "split seed (default: the spec's seed, as `aca mutate`)", 0, 0},
        {"--all-docs", OPT_FLAG, &all_docs, NULL, "count in every corpus document, not only the train split", 0, 0},
        {"--format", OPT_STR, &fmt, "F", "corpus format: resume | jsonl | tsv | auto", 0, 0},
        {"--encoding", OPT_STR, &enc, "E", "corpus encoding: cp1252 | utf8 | auto", 0, 0},
        {"--multilabel", OPT_STR, &multi, "R", "first | drop", 0, 0},
        {"--suggest", OPT_INT, &suggest, "K", "suggest K characters with a distinct, rare id", 0, 0},
        {"--max-len", OPT_INT, &max_len, "N", "count only in the first N tokens of each document, as training at "
                                               "max length N sees them (default: whole documents)", 0, 0},
        {"--cased", OPT_FLAG, &cased, NULL, "do not lower-case (a --vocab FILE is taken as uncased otherwise)", 0, 0},
        {"--threads", OPT_INT, &threads, "N", "threads for counting (default: all cores)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
    };
    aca_err e = {0};
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return 0;
    if (r < 0) {
        cli_fail(&e);
        return 2;
    }
    if (!!vocab + !!model != 1) return fprintf(stderr, "aca: give exactly one of --vocab FILE or --model DIR\n"), 2;
    if (suggest < 0 || suggest > 100000) return fprintf(stderr, "aca: --suggest must be in [0, 100000]\n"), 2;
    if (threads < 0 || threads > 4096) return fprintf(stderr, "aca: --threads must be in [0, 4096]\n"), 2;
    if (max_len != 0 && (max_len < 3 || max_len > 1 << 20))
        return fprintf(stderr, "aca: --max-len must be in [3, 1048576]\n"), 2;
    if (max_len && !corpus_path) return fprintf(stderr, "aca: --max-len goes with --corpus\n"), 2;
    int has_seed = 0;
    for (int i = 0; i < (int)ACA_ARRAY_LEN(opts); i++)
        if (!strcmp(opts[i].name, "--seed") && opts[i].seen) has_seed = 1;
    if (!corpus_path && (split || has_seed || all_docs))
        return fprintf(stderr, "aca: --split, --seed and --all-docs go with --corpus\n"), 2;
    if (split && all_docs) return fprintf(stderr, "aca: give --split or --all-docs, not both\n"), 2;

    aca_spec sp = {0};
    aca_corpus c = {0};
    aca_split s = {0};
    aca_tokenizer *tok = NULL;
    collide_report rep = {0};
    int have_spec = 0, have_corpus = 0, rc = 1;
    if (spec_load(spec_path, &sp, &e)) goto fail;
    have_spec = 1;
    if (!(tok = tokenizer_load(vocab ? vocab : model, cased ? 0 : -1, &e)) || collide_check_signals(&sp, tok, &e)) goto fail;
    collide_opts o = {.suggest = (int)suggest, .threads = (int)threads, .max_len = (int)max_len};
    if (corpus_path) {
        aca_corpus_opts co = {0};
        if (corpus_parse_format(fmt, &co.format, &e) || corpus_parse_encoding(enc, &co.encoding, &e) ||
            corpus_parse_multilabel(multi, &co.multilabel, &e))
            goto fail;
        if (corpus_load(corpus_path, &co, &c, &e)) goto fail;
        have_corpus = 1;
        o.corpus = &c;
        if (!all_docs) {
            size_t ntr = 0, nte = 0;
            if (split) {
                if (corpus_split_preset(split, &ntr, &nte, &e)) goto fail;
            } else {
                corpus_split_default(c.n, &ntr, &nte);
            }
            if (corpus_split(&c, ntr, nte, has_seed ? seed : sp.seed, &s, &e)) {
                aca_err_prefix(&e, "%s", corpus_path);
                goto fail;
            }
            o.doc_idx = s.train, o.n_idx = s.n_train;
        }
    }
    if (collide_analyze(&sp, tok, &o, &rep, &e)) goto fail;
    aca_buf b = {0};
    if (json) collide_report_json(&rep, tok, &b);
    else collide_report_text(&rep, tok, &b);
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&e);
done:
    collide_report_free(&rep);
    if (s.train || s.test) split_free(&s);
    if (have_corpus) corpus_free(&c);
    if (tok) tokenizer_free(tok);
    if (have_spec) spec_free(&sp);
    return rc;
}
