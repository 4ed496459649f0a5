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

int cmd_run(int argc, char **argv) {
    const char *out = "out/run", *corpus = NULL, *model = NULL, *config = NULL, *vocab = NULL, *results = NULL;
    const char *char_rates = NULL;
    const char *device = "cpu", *precision = "fp32", *attention = "auto";
    long epochs = 5, batch = 8, max_len = 512, docs = 2000, n_train = 0, n_test = 0;
    double lr = 5e-5, wd = 0.0, clip = 1.0, dp_clip = 1.0, dp_sigma = NAN, dp_eps = NAN, dp_delta = 1e-5;
    const char *dp_sampling = "poisson";
    int dp_freeze = 0;
    uint64_t seed = 42, data_seed = 0, init_seed = 0;
    int bucket = 0, no_baseline = 0, keep = 0, json = 0, quiet = 0, replace = 0;
    aca_opt opts[] = {
        {"--out", OPT_STR, &out, "DIR", "output directory (default out/run)", 0, 0},
        {"--corpus", OPT_STR, &corpus, "FILE", "corpus (resume format, JSONL or TSV); default: synthetic", 0, 0},
        {"--docs", OPT_INT, &docs, "N", "documents of the synthetic corpus (default 2000)", 0, 0},
        {"--train-size", OPT_INT, &n_train, "N", "training documents of the split (default: mutate's)", 0, 0},
        {"--test-size", OPT_INT, &n_test, "N", "test documents of the split", 0, 0},
        {"--data-seed", OPT_U64, &data_seed, "S", "override the spec's seed (split, membership)", 0, 0},
        {"--model", OPT_STR, &model, "DIR", "Hugging Face checkpoint to fine-tune", 0, 0},
        {"--config", OPT_STR, &config, "FILE", "config.json for random init (default: distilbert-tiny)", 0, 0},
        {"--vocab", OPT_STR, &vocab, "FILE", "vocabulary (default: the model's, or the uncased BERT vocab)", 0, 0},
        {"--device", OPT_STR, &device, "cpu|cuda", "backend (default cpu)", 0, 0},
        {"--precision", OPT_STR, &precision, "fp32|bf16|fp16", "compute precision (default fp32)", 0, 0},
        {"--epochs", OPT_INT, &epochs, "N", "epochs (default 5)", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "batch size (default 8)", 0, 0},
        {"--lr", OPT_DOUBLE, &lr, "X", "peak learning rate (default 5e-5)", 0, 0},
        {"--weight-decay", OPT_DOUBLE, &wd, "X", "AdamW weight decay (default 0)", 0, 0},
        {"--max-grad-norm", OPT_DOUBLE, &clip, "X", "gradient clipping norm (default 1)", 0, 0},
        {"--max-len", OPT_INT, &max_len, "N", "max tokens per document (default 512)", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "training seed (default 42)", 0, 0},
        {"--init-seed", OPT_U64, &init_seed, "S", "random init / head seed (default: --seed)", 0, 0},
        {"--bucket", OPT_FLAG, &bucket, NULL, "length-bucketed batches", 0, 0},
        {"--no-baseline", OPT_FLAG, &no_baseline, NULL, "skip the unpoisoned condition (then no unpoisoned rate and no CT (Karan))", 0, 0},
        {"--keep-models", OPT_FLAG, &keep, NULL, "write each condition's model to OUT/<condition>/model", 0, 0},
        {"--results", OPT_STR, &results, "FILE", "results JSONL to append to (default OUT/results.jsonl)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the summary as JSON", 0, 0},
        {"--dp-clip", OPT_DOUBLE, &dp_clip, "C", "DP-SGD: per-example L2 clipping norm (default 1)", 0, 0},
        {"--dp-sigma", OPT_DOUBLE, &dp_sigma, "X", "DP-SGD: noise multiplier (noise std / C); turns DP-SGD on", 0, 0},
        {"--dp-epsilon", OPT_DOUBLE, &dp_eps, "E", "DP-SGD: target epsilon, sigma chosen by the accountant; turns DP-SGD on", 0, 0},
        {"--dp-delta", OPT_DOUBLE, &dp_delta, "D", "DP-SGD: delta of the reported epsilon (default 1e-5)", 0, 0},
        {"--dp-sampling", OPT_STR, &dp_sampling, "poisson|fixed", "DP-SGD: batch sampling (default poisson; fixed only with --dp-sigma 0)", 0, 0},
        {"--dp-freeze-embeddings", OPT_FLAG, &dp_freeze, NULL,
         "DP-SGD: do not train the embedding tables (no clip budget or noise spent on them)", 0, 0},
        {"--quiet", OPT_FLAG, &quiet, NULL, "no progress output", 0, 0},
        {"--char-rate", OPT_STR, &char_rates, "C=R,...", CLI_CHAR_RATE_HELP, 0, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "delete an existing --out DIR that is not an aca run output first", 0, 0},
        {"--attention", OPT_STR, &attention, "auto|gemm|cudnn", "CUDA attention path (default auto: cuDNN where it runs)", 0, 0},
    };
    aca_err e = {0};
    const char *pos[1];
    int npos = 0;
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, pos, 1, &npos, USAGE, &e);
    if (r == 1) return 0;
    aca_attention att_path;
    if (r < 0 || aca_attention_parse(attention, &att_path, &e)) {
        cli_fail(&e);
        return 2;
    }
    if (npos != 1) return fprintf(stderr, "aca: run needs one SPEC.json (see --help)\n"), 2;
    if (epochs < 1 || epochs > 100000) return fprintf(stderr, "aca: --epochs must be in [1, 100000]\n"), 2;
    if (batch < 1 || batch > 65536) return fprintf(stderr, "aca: --batch must be in [1, 65536]\n"), 2;
    if (max_len < 2 || max_len > 1 << 20) return fprintf(stderr, "aca: --max-len must be in [2, 1048576], got %ld\n", max_len), 2;
    if (docs < 10) return fprintf(stderr, "aca: --docs must be >= 10\n"), 2;
    if (n_train < 0 || n_test < 0 || (!n_train != !n_test))
        return fprintf(stderr, "aca: give both --train-size and --test-size (positive)\n"), 2;
    if (model && config) return fprintf(stderr, "aca: give at most one of --model DIR or --config FILE\n"), 2;
    aca_synth_opts so;
    if (cli_synth_opts(char_rates, &so)) return 2;
    if (corpus && char_rates) return fprintf(stderr, "aca: --char-rate shapes the synthetic corpus: not with --corpus\n"), 2;
    if (!file_exists(pos[0])) return fprintf(stderr, "aca: %s: no such spec file\n", pos[0]), ACA_EXIT_IO;
    struct stat cst;
    if (corpus && stat(corpus, &cst) == 0 && !S_ISREG(cst.st_mode)) // the manifests would name bytes nobody can read again
        return fprintf(stderr, "aca: --corpus %s: not a regular file: every condition's manifest names the corpus by "
                               "this path and its sha256, which a pipe cannot give again; save it to a file\n",
                       corpus), ACA_EXIT_IO;
    if (quiet) aca_log_level = 0;

    aca_run_setup s;
    run_setup_default(&s);
    s.spec_path = pos[0];
    s.model_dir = model;
    s.config_path = config;
    s.vocab_path = vocab;
    s.device = device;
    s.precision = precision;
    s.attention = attention;
    s.max_len = (int)max_len;
    s.n_train = (size_t)n_train;
    s.n_test = (size_t)n_test;
    s.has_data_seed = opts[5].seen;
    s.data_seed = data_seed;
    s.init_seed = opts[18].seen ? init_seed : seed;
    s.work_dir = out;
    s.keep_model = keep;
    s.train.epochs = (int)epochs;
    s.train.batch = (int)batch;
    s.train.lr = lr;
    s.train.weight_decay = wd;
    s.train.max_grad_norm = clip;
    s.train.seed = seed;
    s.train.bucket = bucket;
    if (cli_dp_opts(&s.train, opts, (int)ACA_ARRAY_LEN(opts), dp_clip, dp_sigma, dp_eps, dp_delta, dp_sampling)) return 2;
    if (dp_freeze && !(&s.train)->dp) return fprintf(stderr, "aca: --dp-freeze-embeddings needs --dp-sigma X or --dp-epsilon E\n"), 2;
    (&s.train)->dp_freeze_embeddings = dp_freeze;
    if (s.train.dp && !strcmp(precision, "fp16"))
        return fprintf(stderr, "aca: --precision fp16 with DP-SGD: per-example clipping runs without loss scaling; use fp32 or bf16\n"), 2;
    char cfg_buf[4096], vocab_buf[4096];
    int rc = cli_default_model(&s, cfg_buf, vocab_buf, sizeof cfg_buf);
    if (rc) return rc;
    s.corpus_path = corpus; // NULL: synthesized into OUT below
    // The spec's signals and the model, checked with the tokenizer before OUT is made.
    aca_tokenizer *tok = tokenizer_for_model(s.vocab_path, s.model_dir, &e);
    rc = !tok || collide_check_spec_file(s.spec_path, tok, &e) || run_check_model(&s, tok, &e);
    if (tok) tokenizer_free(tok);
    if (rc) return cli_fail(&e);
    if ((rc = run_outputs_open(out, results, replace, &s))) return rc;
    char *corpus_path = NULL;
    if (corpus) {
        corpus_path = xstrdup(corpus);
    } else {
        corpus_path = path_join(out, "corpus.txt");
        if (corpus_synth_write_opts(corpus_path, (size_t)docs, seed, &so, &e)) {
            free(corpus_path);
            return cli_fail(&e);
        }
        fprintf(stderr, "aca: synthetic corpus of %ld documents: %s\n", docs, corpus_path);
    }
    s.corpus_path = corpus_path;
    char *res = results ? xstrdup(results) : path_join(out, "results.jsonl");
    aca_experiment x;
    rc = cli_run_experiment(&s, !no_baseline, out, res, json, &x);
    if (!rc && !json) printf("results: %s (one JSON object per condition); summary: %s/summary.json\n", res, out);
    experiment_free(&x);
    free(res);
    free(corpus_path);
    return rc;
}
