// aca run: one experiment of a collectives spec — the unpoisoned model, each collective alone,
// all joint — each condition mutated, tokenized, trained and evaluated.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/collide.h"
#include "aca/corpus.h"
#include "aca/run.h"
#include "aca/session.h"
#include "cli.h"

static void on_cond(const char *cond, int i, int n, void *ctx) {
    cli_progress *p = ctx;
    cli_progress_end(p);
    fprintf(stderr, "aca: condition %d/%d: %s\n", i + 1, n, cond);
    static char label[64];
    snprintf(label, sizeof label, "%s", cond);
    p->label = label;
}

int cli_run_experiment(const aca_run_setup *s, int with_none, const char *out_dir, const char *results, int json,
                       aca_experiment *x) {
    aca_err e = {0};
    cli_progress prog;
    cli_progress_init(&prog, "train");
    aca_run_setup ss = *s;
    if (!ss.train.on_step && aca_log_level > 0) {
        ss.train.on_step = cli_progress_step;
        ss.train.on_step_ctx = &prog;
        if (prog.tty) ss.train.log_every = 1;
    }
    if (dir_make(out_dir, &e)) return cli_fail(&e);
    int rc = run_experiment(&ss, with_none, results, on_cond, &prog, x, &e);
    cli_progress_end(&prog);
    if (rc) return cli_fail(&e);
    aca_buf txt = {0}, js = {0};
    experiment_summary(x, &txt);
    experiment_to_json(x, &js);
    buf_putc(&js, '\n');
    char *p1 = path_join(out_dir, "summary.txt"), *p2 = path_join(out_dir, "summary.json");
    rc = file_write_atomic(p1, txt.data, txt.len, &e) || file_write_atomic(p2, js.data, js.len, &e);
    if (rc) rc = cli_fail(&e);
    else if (json) fputs(js.data, stdout);
    else fputs(txt.data, stdout);
    free(p1);
    free(p2);
    buf_free(&txt);
    buf_free(&js);
    return rc;
}

static const char USAGE[] =
    "usage: aca run SPEC.json [--out DIR] [--corpus FILE] [options]\n"
    "\n"
    "Runs one experiment of a collectives spec: the unpoisoned model (trained on the clean split),\n"
    "each collective alone, and all joint.  Each condition is mutated into OUT/<condition>/data,\n"
    "tokenized, trained and evaluated; one JSON object per condition\n"
    "is appended to OUT/results.jsonl (one locked write per line), and a summary with the difference\n"
    "eff(joint) - eff(alone) in points and Karan et al.'s CT = (eff(joint) - eff(alone)) / eff(unpoisoned)\n"
    "goes to stdout, OUT/summary.txt and OUT/summary.json.\n"
    "Without --corpus a synthetic corpus (--docs N) is written to OUT/corpus.txt; without --model or\n"
    "--config the tiny random-init DistilBERT models/configs/distilbert-tiny.json is used with the\n"
    "uncased BERT vocabulary.  Training options default to the Hugging Face Trainer's; --dp-sigma or\n"
    "--dp-epsilon trains every condition with DP-SGD (see `aca train --help`).";

// A results file to append to: empty, or JSON lines.
static int is_results_file(const char *path) {
    struct stat st;
    return (stat(path, &st) == 0 && st.st_size == 0) || out_file_starts_with(path, "{", 1);
}

// --results inside OUT may only be OUT/results.jsonl: the run writes or replaces the other files
// there (summary.json, a condition's data), and lines appended to them would be lost.
static int results_in_out(const char *out, const char *results) {
    char ro[PATH_MAX], rr[PATH_MAX], *dir = xstrdup(results), *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    int inside = realpath(out, ro) && realpath(slash ? (*dir ? dir : "/") : ".", rr) &&
                 !strncmp(rr, ro, strlen(ro)) && (rr[strlen(ro)] == '/' || rr[strlen(ro)] == 0);
    int ok = !inside || (!strcmp(rr, ro) && !strcmp(slash ? slash + 1 : results, "results.jsonl"));
    free(dir);
    if (!ok)
        fprintf(stderr, "aca: --results %s: inside --out %s, where aca run writes its own files: the lines would be "
                        "lost; leave --results out (OUT/results.jsonl) or give a file outside\n", results, out);
    return ok ? 0 : ACA_EXIT_REFUSED;
}

// OUT (and --results) checked against the inputs before any work, then OUT made and marked.
static int run_outputs_open(const char *out, const char *results, int replace, const aca_run_setup *s) {
    const char *inputs[] = {s->spec_path, s->corpus_path, s->model_dir, s->config_path, s->vocab_path};
    const int n = (int)ACA_ARRAY_LEN(inputs);
    aca_out od = {.path = out, .option = "--out", .kind = "run", .mode = OUT_DIR_INTO, .replace = replace};
    aca_out ro = {.path = results, .option = "--results", .kind = "results JSONL", .mode = OUT_FILE, .append = 1,
                  .recognise = is_results_file};
    int rc = cli_check_out(&od, inputs, n);
    if (!rc && results) rc = cli_check_out(&ro, inputs, n);
    if (!rc && results) rc = results_in_out(out, results);
    aca_err e = {0};
    if (!rc && outdir_open_into_locked(out, "run", replace, &e)) rc = cli_fail(&e);
    return rc;
}

// Fills the model/vocab defaults shared by run and demo; 0 ok, else an exit status.
int cli_default_model(aca_run_setup *s, char *cfg_buf, char *vocab_buf, size_t n) {
    if (!s->model_dir && !s->config_path) {
        s->config_path = cli_find_resource("models/configs/distilbert-tiny.json", cfg_buf, n);
        if (!s->config_path) {
            fprintf(stderr, "aca: models/configs/distilbert-tiny.json not found (run from the repository, or give "
                            "--config FILE / --model DIR)\n");
            return ACA_EXIT_IO;
        }
    }
    if (!s->model_dir && !s->vocab_path) {
        s->vocab_path = cli_find_resource("models/vocab/bert-base-uncased.txt", vocab_buf, n);
        if (!s->vocab_path) {
            fprintf(stderr, "aca: models/vocab/bert-base-uncased.txt not found (give --vocab FILE)\n");
            return ACA_EXIT_IO;
        }
    }
    return 0;
}

int cli_synth_opts(const char *rates, aca_synth_opts *o) {
    aca_err e = {0};
    corpus_synth_opts_default(o);
    if (!rates || !corpus_synth_parse_rates(o, rates, &e)) return 0;
    aca_err_prefix(&e, "--char-rate");
    cli_fail(&e);
    return 2;
}

// What run is asked: its own options and the run options (run.h).
typedef struct {
    const char *out, *results, *char_rates;
    long docs;
    int no_baseline, json, quiet, replace;
    aca_synth_opts so;
    aca_run_setup s;
} run_args;

// The checks of run's options that need no file read; 0 or the exit status (printed).
static int run_check_args(run_args *a) {
    const aca_run_setup *s = &a->s;
    if (a->docs < 10) return fprintf(stderr, "aca: --docs must be >= 10\n"), 2;
    if (!s->n_train != !s->n_test) return fprintf(stderr, "aca: give both --train-size and --test-size (positive)\n"), 2;
    if (s->model_dir && s->config_path) return fprintf(stderr, "aca: give at most one of --model DIR or --config FILE\n"), 2;
    if (cli_synth_opts(a->char_rates, &a->so)) return 2;
    if (s->corpus_path && a->char_rates)
        return fprintf(stderr, "aca: --char-rate shapes the synthetic corpus: not with --corpus\n"), 2;
    if (!file_exists(s->spec_path)) return fprintf(stderr, "aca: %s: no such spec file\n", s->spec_path), ACA_EXIT_IO;
    struct stat cst;
    if (s->corpus_path && stat(s->corpus_path, &cst) == 0 && !S_ISREG(cst.st_mode)) // the manifests would name bytes nobody can read again
        return fprintf(stderr, "aca: --corpus %s: not a regular file: every condition's manifest names the corpus by "
                               "this path and its sha256, which a pipe cannot give again; save it to a file\n",
                       s->corpus_path), ACA_EXIT_IO;
    return 0;
}

// The command line into a: 0, -1 after --help, else the exit status (printed).
static int run_parse(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    run_setup_default(&a->s);
    a->out = "out/run", a->docs = 2000;
    const aca_opt own[] = {
        {"--out", OPT_STR, &a->out, "DIR", "output directory (default out/run)", 0, 0},
        {"--corpus", OPT_STR, &a->s.corpus_path, "FILE", "corpus (resume format, JSONL or TSV); default: synthetic", 0, 0},
        {"--docs", OPT_INT, &a->docs, "N", "documents of the synthetic corpus (default 2000)", 0, 0},
        {"--char-rate", OPT_STR, &a->char_rates, "C=R,...", CLI_CHAR_RATE_HELP, 0, 0},
        {"--no-baseline", OPT_FLAG, &a->no_baseline, NULL, "skip the unpoisoned condition (then no unpoisoned rate and no CT (Karan))", 0, 0},
        {"--keep-models", OPT_FLAG, &a->s.keep_model, NULL, "write each condition's model to OUT/<condition>/model", 0, 0},
        {"--results", OPT_STR, &a->results, "FILE", "results JSONL to append to (default OUT/results.jsonl)", 0, 0},
        {"--json", OPT_FLAG, &a->json, NULL, "print the summary as JSON", 0, 0},
        {"--quiet", OPT_FLAG, &a->quiet, NULL, "no progress output", 0, 0},
        {"--replace", OPT_FLAG, &a->replace, NULL, "delete an existing --out DIR that is not an aca run output first", 0, 0},
    };
    cli_run_opts ro;
    aca_opt opts[CLI_MAX_OPTS];
    int n = cli_run_opts_build(&ro, RUN_OPT_CMD_RUN, &a->s, own, (int)ACA_ARRAY_LEN(own), opts), npos = 0;
    const char *pos[1];
    aca_err e = {0};
    int r = opt_parse(opts, n, argc, argv, 1, pos, 1, &npos, USAGE, &e);
    if (r == 1) return -1;
    if (r < 0) return cli_fail(&e), 2;
    if ((r = cli_run_opts_apply(&ro, &a->s))) return r;
    if (npos != 1) return fprintf(stderr, "aca: run needs one SPEC.json (see --help)\n"), 2;
    a->s.spec_path = pos[0];
    a->s.has_data_seed = cli_run_opts_seen(&ro, "data_seed");
    a->s.work_dir = a->out;
    return run_check_args(a);
}

// The corpus of the run into *path: --corpus, or a synthetic one written to OUT/corpus.txt.  0, else
// the exit status (printed).
static int run_corpus(const run_args *a, char **path) {
    aca_err e = {0};
    if (a->s.corpus_path) return *path = xstrdup(a->s.corpus_path), 0;
    *path = path_join(a->out, "corpus.txt");
    if (corpus_synth_write_opts(*path, (size_t)a->docs, a->s.train.seed, &a->so, &e)) return cli_fail(&e);
    fprintf(stderr, "aca: synthetic corpus of %ld documents: %s\n", a->docs, *path);
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_args a;
    int rc = run_parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (a.quiet) aca_log_level = 0;
    char cfg_buf[4096], vocab_buf[4096];
    if ((rc = cli_default_model(&a.s, cfg_buf, vocab_buf, sizeof cfg_buf))) return rc;
    // The spec's signals and the model, checked with the tokenizer before OUT is made.
    aca_err e = {0};
    aca_tokenizer *tok = tokenizer_for_model(a.s.vocab_path, a.s.model_dir, &e);
    rc = !tok || collide_check_spec_file(a.s.spec_path, tok, &e) || session_check_model(&a.s, tok, &e);
    if (tok) tokenizer_free(tok);
    if (rc) return cli_fail(&e);
    if ((rc = run_outputs_open(a.out, a.results, a.replace, &a.s))) return rc;
    char *corpus_path = NULL, *res = a.results ? xstrdup(a.results) : path_join(a.out, "results.jsonl");
    aca_experiment x;
    memset(&x, 0, sizeof x);
    if (!(rc = run_corpus(&a, &corpus_path))) {
        a.s.corpus_path = corpus_path;
        rc = cli_run_experiment(&a.s, !a.no_baseline, a.out, res, a.json, &x);
    }
    if (!rc && !a.json) printf("results: %s (one JSON object per condition); summary: %s/summary.json\n", res, a.out);
    experiment_free(&x);
    free(res);
    free(corpus_path);
    return rc;
}
