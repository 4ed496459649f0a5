// aca mutate: apply a collectives spec to a corpus.
#include <stdio.h>
#include <string.h>

#include "aca/collide.h"
#include "aca/mutate.h"
#include "cli.h"

int cmd_mutate(int argc, char **argv) {
    const char *corpus = NULL, *spec = NULL, *out = NULL, *split = NULL, *only = NULL;
    const char *fmt = "auto", *enc = "auto", *multi = "first", *classes = NULL, *vocab = NULL;
    uint64_t seed = 0;
    int quiet = 0, replace = 0;
    aca_opt opts[] = {
        {"--corpus", OPT_STR, &corpus, "FILE", "the corpus (resume, JSONL or TSV)", 1, 0},
        {"--spec", OPT_STR, &spec, "SPEC.json", "the collectives spec", 1, 0},
        {"--out", OPT_STR, &out, "DIR", "output directory (built aside and swapped in whole)", 1, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "replace an existing --out DIR that is not an aca mutate output", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "override the spec's seed", 0, 0},
        {"--split", OPT_STR, &split, "SPLIT", "karan (20000/5000) | hardt (25000/4783) | N_TRAIN/N_TEST "
                                               "(default: karan from 25000 docs, else 80/20)", 0, 0},
        {"--only", OPT_STR, &only, "NAME", "only this collective acts (the 'alone' condition); NAME,NAME,...: only those", 0, 0},
        {"--format", OPT_STR, &fmt, "F", "resume | jsonl | tsv | auto", 0, 0},
        {"--encoding", OPT_STR, &enc, "E", "cp1252 | utf8 | auto", 0, 0},
        {"--multilabel", OPT_STR, &multi, "R", "first | drop", 0, 0},
        {"--classes", OPT_STR, &classes, "FILE", "fixed class list (labels outside it are an error)", 0, 0},
        {"--vocab", OPT_STR, &vocab, "FILE|DIR", "the tokenizer the signals must give tokens with (default: BERT's, uncased)", 0, 0},
        {"--quiet", OPT_FLAG, &quiet, NULL, "print nothing on success", 0, 0},
    };
    aca_err e = {0};
    int rc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL,
                       "usage: aca mutate --corpus FILE --spec SPEC.json --out DIR [--seed S] [--split SPLIT] [--only NAME]\n\n"
                       "Writes DIR/train.jsonl (poisoned), DIR/test.jsonl (clean), DIR/probe_<name>.jsonl per collective\n"
                       "(test docs with its signal) and DIR/manifest.json.  Same inputs and seed: same bytes.",
                       &e);
    if (rc) return rc > 0 ? 0 : (cli_fail(&e), 2);
    aca_mutate_opts o = {.corpus_path = corpus, .spec_path = spec, .out_dir = out, .only = only, .replace = replace};
    if (corpus_parse_format(fmt, &o.corpus_opts.format, &e) || corpus_parse_encoding(enc, &o.corpus_opts.encoding, &e) ||
        corpus_parse_multilabel(multi, &o.corpus_opts.multilabel, &e))
        return cli_fail(&e), 2;
    if (split) {
        if (corpus_split_preset(split, &o.n_train, &o.n_test, &e)) return cli_fail(&e), 2;
        o.split_name = split;
    }
    for (int i = 0; i < (int)ACA_ARRAY_LEN(opts); i++)
        if (!strcmp(opts[i].name, "--seed") && opts[i].seen) o.has_seed = 1, o.seed = seed;
    const char *inputs[] = {corpus, spec, classes, vocab};
    aca_out od = {.path = out, .option = "--out", .kind = "mutate", .mode = OUT_DIR_REPLACE, .replace = replace};
    if ((rc = cli_check_out(&od, inputs, (int)ACA_ARRAY_LEN(inputs)))) return rc;
    aca_tokenizer *tok = vocab ? tokenizer_load(vocab, -1, &e) : NULL;
    rc = (vocab && !tok) || collide_check_spec_file(spec, tok, &e);
    if (tok) tokenizer_free(tok);
    if (rc) return cli_fail(&e);
    char **names = NULL;
    int nnames = 0;
    if (classes) {
        if (corpus_load_classes(classes, &names, &nnames, &e)) return cli_fail(&e);
        o.corpus_opts.classes = (const char *const *)names, o.corpus_opts.n_classes = nnames;
    }
    aca_buf summary = {0};
    o.summary = &summary;
    double t0 = time_now();
    rc = mutate_run(&o, &e);
    corpus_free_classes(names, nnames);
    if (rc) return buf_free(&summary), cli_fail(&e);
    if (!quiet) {
        fwrite(summary.data, 1, summary.len, stdout);
        printf("time     %.2f s\n", time_now() - t0);
    }
    buf_free(&summary);
    return 0;
}
