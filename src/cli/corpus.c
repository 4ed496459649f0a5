// aca corpus synth | stats
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "cli.h"

static int corpus_synth_cmd(int argc, char **argv) {
    const char *out = NULL, *rates = NULL, *fmt = "auto";
    long docs = 2000;
    uint64_t seed = 1;
    int replace = 0;
    aca_opt opts[] = {
        {"--out", OPT_STR, &out, "FILE", "write the corpus here", 1, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "overwrite an existing --out FILE", 0, 0},
        {"--docs", OPT_INT, &docs, "N", "number of documents (default 2000)", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "random seed (default 1); same seed, same bytes", 0, 0},
        {"--format", OPT_STR, &fmt, "F",
         "resume | jsonl | tsv | auto (default: by FILE's extension, .jsonl/.json JSONL, .tsv TSV, else resume)", 0, 0},
        {"--char-rate", OPT_STR, &rates, "C=R,...", CLI_CHAR_RATE_HELP, 0, 0},
    };
    aca_err e = {0};
    int rc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL,
                       "usage: aca corpus synth --out FILE [--docs N] [--seed S] [--format F] [--char-rate C=R,...]\n\n"
                       "Writes a deterministic synthetic resume corpus with the 10 occupation classes of the resume corpus,\n"
                       "as resume lines id:::Label:::text, JSONL {\"id\",\"text\",\"label\"} or TSV label<TAB>text.",
                       &e);
    if (rc) return rc > 0 ? 0 : (cli_fail(&e), 2);
    aca_corpus_format kind;
    if (corpus_parse_format(fmt, &kind, &e)) return cli_fail(&e), 2;
    if (docs < 1 || docs > 10000000) {
        aca_errf(&e, ACA_ERR_VALUE, "--docs: expected 1 to 10000000, got %ld", docs);
        return cli_fail(&e), 2;
    }
    aca_synth_opts so;
    if (cli_synth_opts(rates, &so)) return 2;
    aca_out oo = {.path = out, .option = "--out", .kind = "corpus", .mode = OUT_FILE, .replace = replace};
    if ((rc = cli_check_out(&oo, NULL, 0))) return rc;
    double t0 = time_now();
    if (kind == CORPUS_FMT_AUTO) kind = corpus_format_of_path(out); // the name given decides
    if (kind == CORPUS_FMT_AUTO) kind = CORPUS_FMT_RESUME;
    char *target = out_file_target(out); // a symlink stays, its target is written
    rc = corpus_synth_save(target, kind, (size_t)docs, seed, &so, &e);
    free(target);
    if (rc) return cli_fail(&e);
    FILE *f = fopen(out, "rb");
    long bytes = 0;
    if (f) fseek(f, 0, SEEK_END), bytes = ftell(f), fclose(f);
    printf("wrote %s: %ld docs, %s, %.1f MB, seed %llu (%.2f s)\n", out, docs, corpus_format_name(kind), (double)bytes / 1e6,
           (unsigned long long)seed, time_now() - t0);
    return 0;
}

static int corpus_stats_cmd(int argc, char **argv) {
    const char *fmt = "auto", *enc = "auto", *multi = "first", *classes = NULL;
    int json = 0;
    aca_opt opts[] = {
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
        {"--format", OPT_STR, &fmt, "F", "resume | jsonl | tsv | auto (default: by extension, then content)", 0, 0},
        {"--encoding", OPT_STR, &enc, "E", "cp1252 | utf8 | auto (default: UTF-8 if valid, else cp1252)", 0, 0},
        {"--multilabel", OPT_STR, &multi, "R", "first (default: keep the first label) | drop", 0, 0},
        {"--classes", OPT_STR, &classes, "FILE", "fixed class list (one per line or a JSON array)", 0, 0},
    };
    const char *pos[1];
    int npos = 0;
    aca_err e = {0};
    int rc = opt_parse(opts, 5, argc, argv, 1, pos, 1, &npos,
                       "usage: aca corpus stats FILE [--json] [--format F] [--encoding E] [--multilabel R] [--classes FILE]\n\n"
                       "Docs, classes and counts, words per doc, and for every character other than ASCII letters,\n"
                       "digits and whitespace the number of docs containing it (to pick an unused signal).",
                       &e);
    if (rc) return rc > 0 ? 0 : (cli_fail(&e), 2);
    if (npos != 1) {
        aca_errf(&e, ACA_ERR_VALUE, "expected one corpus FILE (see --help)");
        return cli_fail(&e), 2;
    }
    aca_corpus_opts co = {0};
    char **names = NULL;
    int nnames = 0;
    if (corpus_parse_format(fmt, &co.format, &e) || corpus_parse_encoding(enc, &co.encoding, &e) ||
        corpus_parse_multilabel(multi, &co.multilabel, &e))
        return cli_fail(&e), 2;
    if (classes) {
        if (corpus_load_classes(classes, &names, &nnames, &e)) return cli_fail(&e);
        co.classes = (const char *const *)names, co.n_classes = nnames;
    }
    aca_corpus c;
    rc = corpus_load(pos[0], &co, &c, &e);
    corpus_free_classes(names, nnames);
    if (rc) return cli_fail(&e);
    aca_corpus_stats st;
    corpus_stats(&c, &st);
    aca_buf b = {0};
    corpus_stats_format(&b, &c, &st, json);
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    corpus_stats_free(&st);
    corpus_free(&c);
    return 0;
}

int cmd_corpus(int argc, char **argv) {
    const char *usage = "usage: aca corpus synth --out FILE [--docs N] [--seed S] [--format F]\n"
                        "       aca corpus stats FILE [--json] [--format F] [--encoding E]\n";
    if (argc >= 2 && !strcmp(argv[1], "synth")) return corpus_synth_cmd(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "stats")) return corpus_stats_cmd(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return fputs(usage, stdout), 0;
    fprintf(stderr, "aca: corpus: expected a subcommand, synth or stats\n%s", usage);
    return 2;
}
