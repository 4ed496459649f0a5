// aca demo: the whole pipeline on the embedded default — a synthetic resume corpus, two pairs of
// collectives (one pair whose signals collide in the uncased BERT vocabulary, one whose signals do
// not), a tiny random-init DistilBERT on the CPU — and the papers' findings stated with the
// numbers this run measured.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/collide.h"
#include "aca/corpus.h"
#include "aca/jsonw.h"
#include "aca/mutate.h"
#include "aca/run.h"
#include "aca/tokenizer.h"
#include "cli.h"

// The demo's two pairs of collectives: A and B plant U+2E17 (double oblique hyphen) and U+2E18
// (inverted interrobang), both outside the uncased BERT vocabulary: each tokenizes to [UNK], so the
// two collectives plant the same token.  C and D plant '{' and '}', distinct tokens of the
// vocabulary; the synthetic corpus holds each in about 0.08% of its documents by default (the real
// resume corpus's rarity; --char-rate), so they are distinct and rare, but may be seen.
typedef struct {
    const char *name[2], *signal[2];
} demo_pair;
static const demo_pair PAIR_COLLIDE = {{"A", "B"}, {"U+2E17", "U+2E18"}};
static const demo_pair PAIR_DISTINCT = {{"C", "D"}, {"{", "}"}};

// The pair's spec (targets Software Developer and Web Developer, one signal every 20 words,
// feature-label, disjoint uniform members of `size` of the training set each) written to path.
static int write_spec(const char *path, const demo_pair *p, uint64_t seed, double size, aca_err *e) {
    static const char *const target[2] = {"Software Developer", "Web Developer"};
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_kuint(&w, "seed", seed);
    jsonw_kstr(&w, "overlap", "disjoint");
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    jsonw_lines(&w, 2);
    for (int i = 0; i < 2; i++) {
        jsonw_obj(&w);
        jsonw_kstr(&w, "name", p->name[i]);
        jsonw_kstr(&w, "target", target[i]);
        jsonw_kstr(&w, "signal", p->signal[i]);
        jsonw_kint(&w, "period", 20);
        jsonw_key(&w, "size"), jsonw_num_exact(&w, size);
        jsonw_key(&w, "sampling");
        jsonw_obj(&w);
        jsonw_kstr(&w, "kind", "uniform");
        jsonw_end(&w);
        jsonw_kstr(&w, "strategy", "feature-label");
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
    buf_putc(&b, '\n');
    int rc = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return rc;
}

static const aca_efficacy *eff_of(const aca_run_result *r, const char *name) {
    for (int i = 0; i < r->eval.n_coll; i++)
        if (!strcmp(r->eval.eff[i].name, name)) return &r->eval.eff[i];
    return NULL;
}

// Karan's CT as "+0.12", or "n/a" where it is undefined (no unpoisoned efficacy to divide by).
static const char *ct_text(double ck, char *buf, size_t n) {
    if (isfinite(ck)) snprintf(buf, n, "%+.2f", ck);
    else snprintf(buf, n, "n/a");
    return buf;
}

static void print_findings(const aca_experiment *col, const aca_experiment *dis, double size, size_t n_train) {
    const double acc0 = col->none.eval.clean.accuracy;
    printf("\nFindings of this run (thresholds from the papers' claims; every number measured above):\n");
    // 1. A unique unseen signal at a few percent participation: efficacy > 80% over the probes whose
    //    true class is not the target, while the unpoisoned model sends at most half of the same
    //    probes to the target (so a model that predicts the target for everything does not pass), and
    //    clean accuracy within 2 points of the unpoisoned model.  Alone, A's and B's [UNK] is unique to
    //    them and absent from the clean corpus (collision report).
    for (int i = 0; i < col->n_coll; i++) {
        const aca_efficacy *f = eff_of(&col->alone[i], col->names[i]), *f0 = eff_of(&col->none, col->names[i]);
        double acc = col->alone[i].eval.clean.accuracy;
        int ok = f && f0 && f->efficacy_nontarget > 0.8 && f0->efficacy <= 0.5 &&
                 fabs(acc - acc0) <= 0.02 + 1e-9; // accuracies are k/n_test
        printf("  [%s] unique unseen signal: %s alone (%.1f%% of %zu training docs) reaches %.1f%% efficacy "
               "(non-target probes %.1f%%; the unpoisoned model: %.1f%% of the same probes, %.1f%% of test docs); clean accuracy %.1f%% vs %.1f%% unpoisoned (%+.1f points)\n",
               ok ? "shows" : "DOES NOT SHOW", col->names[i], 100 * size, n_train, f ? 100 * f->efficacy : NAN,
               f ? 100 * f->efficacy_nontarget : NAN, f0 ? 100 * f0->efficacy : NAN, f0 ? 100 * f0->clean_target_rate : NAN,
               100 * acc, 100 * acc0, 100 * (acc - acc0));
    }
    // 2. Colliding signals interfere: joint efficacy clearly (>= 10 points) below alone.
    for (int i = 0; i < col->n_coll; i++) {
        const aca_efficacy *a = eff_of(&col->alone[i], col->names[i]), *j = eff_of(&col->joint, col->names[i]);
        int ok = a && j && col->delta[i] <= -0.10;
        char ct[32];
        printf("  [%s] colliding signals (both [UNK]) interfere: %s alone %.1f%% -> joint %.1f%% (joint\u2212alone "
               "%+.1f points; CT (Karan) %s)\n",
               ok ? "shows" : "DOES NOT SHOW", col->names[i], a ? 100 * a->efficacy : NAN, j ? 100 * j->efficacy : NAN,
               100 * col->delta[i], ct_text(col->ct_karan[i], ct, sizeof ct));
    }
    for (int i = 0; i < dis->n_coll; i++) {
        const aca_efficacy *a = eff_of(&dis->alone[i], dis->names[i]), *j = eff_of(&dis->joint, dis->names[i]);
        char ct[32];
        printf("  [contrast] distinct signals: %s alone %.1f%% -> joint %.1f%% (joint\u2212alone %+.1f points; CT "
               "(Karan) %s); clean accuracy alone %.1f%%\n",
               dis->names[i], a ? 100 * a->efficacy : NAN, j ? 100 * j->efficacy : NAN, 100 * dis->delta[i],
               ct_text(dis->ct_karan[i], ct, sizeof ct), 100 * dis->alone[i].eval.clean.accuracy);
    }
}

// The collision report (aca collide) of a spec, counted in every clean corpus document.
static int print_collisions(const char *spec_path, const char *vocab, const aca_corpus *c, aca_err *e) {
    aca_spec sp;
    if (spec_load(spec_path, &sp, e)) return -1;
    aca_tokenizer *tok = tokenizer_load(vocab, -1, e);
    collide_report r;
    collide_opts o = {.corpus = c};
    int rc = !tok || collide_analyze(&sp, tok, &o, &r, e) ? -1 : 0;
    if (!rc) {
        aca_buf b = {0};
        collide_report_text(&r, tok, &b);
        fwrite(b.data, 1, b.len, stdout);
        buf_free(&b);
        collide_report_free(&r);
    }
    if (tok) tokenizer_free(tok);
    spec_free(&sp);
    return rc;
}

static const char USAGE[] =
    "usage: aca demo [--out DIR] [options]\n"
    "\n"
    "The main job on the embedded default, on the CPU in a few minutes: a synthetic resume corpus\n"
    "(--docs, split --train-size/--test-size), a tiny random-init DistilBERT\n"
    "(models/configs/distilbert-tiny.json) with the uncased BERT vocabulary, and two experiments:\n"
    "collectives A (U+2E17 -> Software Developer) and B (U+2E18 -> Web Developer), whose signals both\n"
    "tokenize to [UNK] (absent from the clean corpus), and C ('{' -> Software Developer) and D ('}' ->\n"
    "Web Developer), whose signals are distinct tokens.  Each experiment trains unpoisoned, each\n"
    "collective alone, and each pair joint; the run prints the collision report, clean accuracy, each\n"
    "collective's efficacy alone and joint, joint-alone and Karan et al.'s CT, and whether the papers'\n"
    "findings show.  Everything goes under --out (default out/demo); each training appends a line to\n"
    "OUT/results.jsonl.";

// The demo's settings, shown in its --help as the defaults.
static void demo_defaults(aca_run_setup *s) {
    run_setup_default(s);
    s->n_train = 1600, s->n_test = 400;
    s->train.epochs = 4, s->train.batch = 16, s->train.lr = 1e-3; // a small model from scratch
    s->max_len = 128;
    s->train.bucket = 1;
    s->eval_batch = 64;
}

// What demo is asked: its own options and the run options (run_opts.h).
typedef struct {
    const char *out, *char_rates;
    long docs;
    double size;
    uint64_t seed;
    int quiet, replace;
    aca_synth_opts so;
    aca_run_setup s;
} demo_args;

// The command line into a: 0, -1 after --help, else the exit status (printed).
static int demo_parse(int argc, char **argv, demo_args *a) {
    memset(a, 0, sizeof *a);
    a->out = "out/demo", a->docs = 2000, a->size = 0.03, a->seed = 42;
    demo_defaults(&a->s);
    const aca_opt own[] = {
        {"--out", OPT_STR, &a->out, "DIR", "output directory (default out/demo)", 0, 0},
        {"--replace", OPT_FLAG, &a->replace, NULL, "delete an existing --out DIR that is not an aca demo output first", 0, 0},
        {"--docs", OPT_INT, &a->docs, "N", "synthetic corpus size (default 2000)", 0, 0},
        {"--size", OPT_DOUBLE, &a->size, "F", "each collective's share of the training set (default 0.03)", 0, 0},
        {"--seed", OPT_U64, &a->seed, "S", "seed of corpus, split, membership, init and training (default 42)", 0, 0},
        {"--quiet", OPT_FLAG, &a->quiet, NULL, "no progress output", 0, 0},
        {"--char-rate", OPT_STR, &a->char_rates, "C=R,...", CLI_CHAR_RATE_HELP, 0, 0},
    };
    cli_run_opts ro;
    aca_opt opts[CLI_MAX_OPTS];
    int n = cli_run_opts_build(&ro, RUN_OPT_CMD_DEMO, &a->s, own, (int)ACA_ARRAY_LEN(own), opts);
    aca_err e = {0};
    int r = opt_parse(opts, n, argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return -1;
    if (r < 0) return cli_fail(&e), 2;
    if ((r = cli_run_opts_apply(&ro, &a->s))) return r;
    const aca_run_setup *s = &a->s;
    if (a->docs < 10 || s->n_train < 1 || s->n_test < 1 || s->n_train + s->n_test > (size_t)a->docs)
        return fprintf(stderr, "aca: need --train-size + --test-size <= --docs (and all >= 1)\n"), 2;
    if (!(a->size > 0 && a->size < 0.5)) return fprintf(stderr, "aca: --size must lie in (0, 0.5)\n"), 2;
    if (cli_synth_opts(a->char_rates, &a->so)) return 2;
    a->s.init_seed = a->s.train.seed = a->seed;
    return 0;
}

// The two experiments in OUT (made and locked): the corpus, the specs, the collision report, the
// runs and the findings.  The exit status.
static int demo_run(demo_args *a, double t0) {
    aca_run_setup *s = &a->s;
    const char *out = a->out;
    char *corpus = path_join(out, "corpus.txt"), *spec1 = path_join(out, "spec_collide.json"),
         *spec2 = path_join(out, "spec_distinct.json"), *dir1 = path_join(out, "collide"),
         *dir2 = path_join(out, "distinct"), *results = path_join(out, "results.jsonl"),
         *cache = path_join(out, "tokcache");
    aca_experiment x1, x2;
    aca_corpus clean;
    memset(&clean, 0, sizeof clean);
    memset(&x1, 0, sizeof x1);
    memset(&x2, 0, sizeof x2);
    aca_err e = {0};
    int rc = 1;
    if (corpus_synth_write_opts(corpus, (size_t)a->docs, a->seed, &a->so, &e) ||
        write_spec(spec1, &PAIR_COLLIDE, a->seed, a->size, &e) || write_spec(spec2, &PAIR_DISTINCT, a->seed, a->size, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    // A fresh results file for this demo run.
    unlink(results);
    printf("aca demo: %ld synthetic resumes (%ld train / %ld test), tiny DistilBERT (%s), max length %ld, %ld "
           "epochs, batch %ld, lr %g, seed %llu, each collective %.1f%% of the training set\n\n",
           a->docs, (long)s->n_train, (long)s->n_test, s->config_path, (long)s->max_len, (long)s->train.epochs,
           (long)s->train.batch, s->train.lr, (unsigned long long)a->seed, 100 * a->size);
    printf("Collision report (vocabulary %s):\n", s->vocab_path);
    aca_corpus_opts co = {0};
    if (corpus_load(corpus, &co, &clean, &e) || print_collisions(spec1, s->vocab_path, &clean, &e) ||
        print_collisions(spec2, s->vocab_path, &clean, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    fflush(stdout);
    s->corpus_path = corpus;
    s->cache_dir = cache;
    s->spec_path = spec1;
    s->work_dir = dir1;
    printf("\n== Experiment 1: colliding signals (A: U+2E17, B: U+2E18) -> %s\n", dir1);
    fflush(stdout);
    if ((rc = cli_run_experiment(s, 1, dir1, results, 0, &x1))) goto done;
    s->spec_path = spec2;
    s->work_dir = dir2;
    // Its own unpoisoned condition (the same clean training set and seed as experiment 1's, so the same
    // model) evaluates C's and D's probes: Karan's CT divides by that efficacy.
    printf("\n== Experiment 2: distinct signals (C: '{', D: '}') -> %s\n", dir2);
    fflush(stdout);
    if ((rc = cli_run_experiment(s, 1, dir2, results, 0, &x2))) goto done;
    print_findings(&x1, &x2, a->size, s->n_train);
    printf("\nResults: %s (one JSON object per training), summaries: %s/summary.{txt,json} and %s/summary.{txt,json}\n"
           "Total time %.0f s; peak host RSS %.0f MiB\n",
           results, dir1, dir2, time_now() - t0, (double)mem_peak_rss() / (1024.0 * 1024.0));
    rc = 0;
done:
    corpus_free(&clean);
    experiment_free(&x1);
    experiment_free(&x2);
    free(corpus), free(spec1), free(spec2), free(dir1), free(dir2), free(results), free(cache);
    return rc;
}

int cmd_demo(int argc, char **argv) {
    demo_args a;
    int rc = demo_parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (a.quiet) aca_log_level = 0;
    const double t0 = time_now();
    char cfg_buf[4096], vocab_buf[4096];
    if ((rc = cli_default_model(&a.s, cfg_buf, vocab_buf, sizeof cfg_buf))) return rc;
    const char *inputs[] = {a.s.config_path, a.s.vocab_path};
    aca_out od = {.path = a.out, .option = "--out", .kind = "demo", .mode = OUT_DIR_INTO, .replace = a.replace};
    if ((rc = cli_check_out(&od, inputs, (int)ACA_ARRAY_LEN(inputs)))) return rc;
    aca_err e = {0};
    if (outdir_open_into_locked(a.out, "demo", a.replace, &e)) return cli_fail(&e);
    return demo_run(&a, t0);
}
