// aca plan: the statistical planner (include/aca/plan.h) for every collective of a spec — the lower
// bound on success at the spec's size, the smallest size that guarantees success >= --success with
// probability >= 1 - delta, for each strategy; optionally a plot of bound vs n (gnuplot).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/mutate.h"
#include "aca/plan.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca plan SPEC.json [--corpus FILE] [--bound conservative|paper] [--delta D] [--n-max N] [--json]\n"
    "       [--plot FILE.png]\n"
    "\n"
    "For each collective of SPEC, lower-bounds its success (Gauthier, Bach & Jordan 2025) for four\n"
    "strategies: feature-label planting, feature-only planting, adaptive unplanting (n_e estimators;\n"
    "by default the split that maximises the bound) and erasing; prints the bound at the spec's size and\n"
    "the smallest size n whose bound reaches --success, each holding with probability >= 1 - delta.\n"
    "--bound conservative (default): bounds for what aca mutate does (feature-label is the paper's;\n"
    "feature-only and unplanting are stricter variants; erasing is aca's own); --bound paper: the\n"
    "paper's public code formula for formula (no erasing bound).  docs/plan.md lists the differences.\n"
    "Clean statistics (documents containing the signal string, per label) come from --corpus; without\n"
    "it the signal is assumed absent from clean data and the 10 resume classes equally frequent.\n"
    "N and the test-set size default to the split aca mutate and aca grid use on that corpus.";

typedef struct {
    const char *name, *target_name, *signal;
    int has_signal;
    plan_stats st;
    double share[PLAN_MAX_CLASSES];
    int uniform;
    long n; // the spec's size resolved against N (0: not given)
    plan_bound at_n[PLAN_N_STRATEGIES], at_min[PLAN_N_STRATEGIES];
    long n_min[PLAN_N_STRATEGIES];
    int ok_n[PLAN_N_STRATEGIES]; // at_n valid (plan_n_floor <= n < N)
} coll_plan;

static void print_signal_cps(aca_buf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    int first = 1;
    while (*p) {
        uint32_t cp = *p;
        int len = 1;
        if (cp >= 0xF0) cp &= 0x07, len = 4;
        else if (cp >= 0xE0) cp &= 0x0F, len = 3;
        else if (cp >= 0xC0) cp &= 0x1F, len = 2;
        for (int k = 1; k < len && p[k]; k++) cp = (cp << 6) | (p[k] & 0x3F);
        buf_printf(b, "%sU+%04X", first ? "" : " ", (unsigned)cp);
        first = 0;
        for (int k = 0; k < len && *p; k++) p++;
    }
}

// Bound vs n for every collective and strategy, through gnuplot, written to a temp name and renamed.
static int write_plot(const char *path, const coll_plan *cp, int nc, const plan_params *pp, long N, long n_max,
                      double s_min, aca_err *e) {
    if (strchr(path, '\'') || strchr(path, '\n'))
        return aca_errf(e, ACA_ERR_VALUE, "option --plot: '%s': the file name may not contain quotes or newlines", path);
    int shown = 0;
    for (int i = 0; i < nc; i++) shown += cp[i].has_signal;
    if (!shown) return aca_errf(e, ACA_ERR_VALUE, "option --plot: no collective has a signal to plot");
    aca_tmp t;
    int fd;
    if (tmp_create(&t, path, 0, &fd, e)) return aca_err_prefix(e, "option --plot");
    close(fd);
    const char *tmp = t.path;
    // gnuplot writes to its stdout when it cannot open the output: never onto ours.
    FILE *g = popen("gnuplot >/dev/null", "w");
    if (!g) return tmp_remove(&t), aca_errf(e, ACA_ERR_IO, "option --plot: cannot run gnuplot");
    fprintf(g, "set terminal pngcairo size 1000,%d font ',10'\nset output '%s'\n", 360 * shown, tmp);
    fprintf(g, "set multiplot layout %d,1\nset key bottom right\nset grid\nset yrange [-0.1:1.05]\n", shown);
    char on[64] = "the population";
    if (pp->n_test) snprintf(on, sizeof on, "%ld test documents", pp->n_test);
    fprintf(g, "set xlabel 'collective size n (platform N = %ld, delta = %g, success on %s, %s bounds)'\n"
               "set ylabel 'lower bound on success'\n",
            N, pp->delta, on, plan_bound_kind_name(pp->kind));
    for (int i = 0; i < nc; i++) {
        if (!cp[i].has_signal) continue;
        fprintf(g, "set title \"%s: target %s\" noenhanced\n", cp[i].name, cp[i].target_name);
        fprintf(g, "plot %g dt 2 lc rgb 'gray' title 'success %g'", s_min, s_min);
        for (int s = 0; s < PLAN_N_STRATEGIES; s++)
            if (plan_formula(s, pp->kind))
                fprintf(g, ", '-' with steps lw 2 title '%s (%s)'", plan_strategy_name(s), plan_formula(s, pp->kind));
        fprintf(g, "\n");
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
            if (!plan_formula(s, pp->kind)) continue;
            long lo = plan_n_floor(s, pp);
            for (int k = 0; k <= 300; k++) {
                long n = lo + (long)llround((double)(n_max - lo) * k / 300.0);
                plan_bound b;
                if (n >= N || n < lo) continue;
                if (plan_eval((plan_strategy)s, &cp[i].st, cp[i].uniform ? NULL : cp[i].share, pp, n, N, &b, e)) {
                    pclose(g);
                    tmp_remove(&t);
                    return -1;
                }
                fprintf(g, "%ld %.6f\n", n, b.bound);
            }
            fprintf(g, "e\n");
        }
    }
    fprintf(g, "unset multiplot\nset output\n");
    int st = pclose(g);
    struct stat sb;
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || stat(tmp, &sb) != 0 || sb.st_size == 0) {
        tmp_remove(&t);
        return aca_errf(e, ACA_ERR_IO, "option --plot: gnuplot failed writing %s (is gnuplot with the pngcairo terminal installed?)", path);
    }
    if (rename(tmp, path)) {
        aca_errf(e, ACA_ERR_IO, "option --plot: cannot rename %s to %s: %s", tmp, path, strerror(errno));
        return tmp_remove(&t), -1;
    }
    tmp_forget(&t);
    return 0;
}

// One JSON object: the settings, then per collective its statistics and, per strategy, the bound at
// the spec's size and the smallest sufficient size (null: no bound of that kind).
static void print_json(aca_buf *out, const char *spec_path, const char *corpus_path, const coll_plan *cp, int nc,
                       const plan_params *pp, long N, double s_min, long n_max) {
    buf_printf(out, "{\"spec\":");
    buf_json_str(out, spec_path, strlen(spec_path));
    buf_printf(out, ",\"corpus\":");
    if (corpus_path) buf_json_str(out, corpus_path, strlen(corpus_path));
    else buf_puts(out, "null");
    buf_printf(out, ",\"N\":%ld,\"delta\":%.17g,\"eps_subopt\":%.17g,\"n_test\":%ld,\"bound\":\"%s\",\"n_est\":", N,
               pp->delta, pp->eps_subopt, pp->n_test, plan_bound_kind_name(pp->kind));
    if (pp->n_e > 0) buf_printf(out, "%ld", pp->n_e);
    else buf_puts(out, "null");
    buf_printf(out, ",\"success\":%.17g,\"n_max\":%ld,\"collectives\":[", s_min, n_max);
    for (int i = 0; i < nc; i++) {
        const coll_plan *p = &cp[i];
        const plan_stats *st = &p->st;
        buf_printf(out, "%s{\"name\":", i ? "," : "");
        buf_json_str(out, p->name, strlen(p->name));
        buf_printf(out, ",\"target\":");
        buf_json_str(out, p->target_name, strlen(p->target_name));
        buf_printf(out, ",\"signal\":");
        if (p->has_signal) buf_json_str(out, p->signal, strlen(p->signal));
        else buf_puts(out, "null");
        size_t carriers = 0;
        for (int y = 0; y < st->n_classes; y++) carriers += st->signal_label_count[y];
        buf_printf(out, ",\"n\":%ld,\"stats\":{\"docs\":%zu,\"signal_docs\":%zu,\"signal_docs_target\":%zu,\"label_docs\":[",
                   p->n, st->n_docs, carriers, st->signal_label_count[st->target]);
        for (int y = 0; y < st->n_classes; y++) buf_printf(out, "%s%zu", y ? "," : "", st->label_count[y]);
        buf_printf(out, "],\"signal_label_docs\":[");
        for (int y = 0; y < st->n_classes; y++) buf_printf(out, "%s%zu", y ? "," : "", st->signal_label_count[y]);
        buf_printf(out, "]},\"strategies\":");
        if (!p->has_signal) {
            buf_puts(out, "null}");
            continue;
        }
        buf_putc(out, '{');
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
            buf_printf(out, "%s\"%s\":", s ? "," : "", plan_strategy_name(s));
            if (!plan_formula(s, pp->kind)) {
                buf_puts(out, "null");
                continue;
            }
            buf_printf(out, "{\"formula\":\"%s\",", plan_formula(s, pp->kind));
            if (p->ok_n[s])
                buf_printf(out, "\"bound_at_n\":%.9g,\"margin_at_n\":%.9g,\"n_e_at_n\":%ld,", p->at_n[s].bound,
                           p->at_n[s].margin, p->at_n[s].n_e);
            buf_printf(out, "\"n_min\":%ld", p->n_min[s]);
            if (p->n_min[s] > 0)
                buf_printf(out, ",\"bound_at_n_min\":%.9g,\"n_e_at_n_min\":%ld", p->at_min[s].bound, p->at_min[s].n_e);
            if (p->at_min[s].label >= 0) buf_printf(out, ",\"label\":%d", p->at_min[s].label);
            buf_printf(out, ",\"dt\":%.9g}", p->at_min[s].dt);
        }
        buf_puts(out, "}}");
    }
    buf_puts(out, "]}\n");
}

// The notes column of one strategy's row.
static void print_notes(aca_buf *out, const coll_plan *p, int s, const aca_corpus *corpus) {
    const plan_stats *st = &p->st;
    if (s == PLAN_UNPLANT) {
        int lab = p->at_min[s].label;
        if (lab >= 0 && st->signal_label_count[lab] == 0) buf_puts(out, "   push any other label (no clean carriers)");
        else buf_printf(out, "   push %s", lab >= 0 && corpus ? corpus->classes[lab] : "?");
        if (p->ok_n[s]) buf_printf(out, "; n_e = %ld at n", p->at_n[s].n_e);
        if (p->n_min[s] > 0) buf_printf(out, "; n_e = %ld at smallest n", p->at_min[s].n_e);
    }
    if (s == PLAN_ERASE && p->ok_n[s]) buf_printf(out, "   %d of %d class cells won at n", p->at_n[s].cells_won, st->n_classes);
}

static void print_text(aca_buf *out, const coll_plan *cp, int nc, const aca_corpus *corpus, const plan_params *pp, long N,
                       double s_min, long n_max) {
    char on[64] = "the population";
    if (pp->n_test) snprintf(on, sizeof on, "%ld test documents", pp->n_test);
    buf_printf(out, "platform N = %ld documents; success measured on %s; delta = %g; classifier eps = %g; bounds: %s%s; "
                    "smallest n: bound >= %g, searched up to %ld\n",
               N, on, pp->delta, pp->eps_subopt, plan_bound_kind_name(pp->kind),
               pp->kind == PLAN_BOUND_PAPER ? " (the paper's code)" : " (aca's; --bound paper: the paper's code)", s_min, n_max);
    if (!corpus) buf_puts(out, "no --corpus: signal assumed absent from clean data, 10 equally frequent classes\n");
    for (int i = 0; i < nc; i++) {
        const coll_plan *p = &cp[i];
        const plan_stats *st = &p->st;
        buf_printf(out, "\n%s: target %s, signal ", p->name, p->target_name);
        if (!p->has_signal) {
            buf_puts(out, "none: nothing to plan\n");
            continue;
        }
        print_signal_cps(out, p->signal);
        if (p->n > 0) buf_printf(out, ", size n = %ld (%.2f%% of N)\n", p->n, 100.0 * p->n / N);
        else buf_puts(out, ", size not given\n");
        if (corpus) {
            size_t carriers = 0, top = 0;
            int yt = -1;
            for (int y = 0; y < st->n_classes; y++) {
                carriers += st->signal_label_count[y];
                if (y != st->target && (yt < 0 || st->signal_label_count[y] > top)) top = st->signal_label_count[y], yt = y;
            }
            buf_printf(out, "  clean docs carrying the signal: %zu of %zu; with the target label %zu; top other label %s: %zu\n",
                       carriers, st->n_docs, st->signal_label_count[st->target], corpus->classes[yt], top);
        }
        buf_printf(out, "  %-14s %-13s %8s %10s %8s   %s\n", "strategy", "formula", "bound@n", "smallest n", "n/N", "notes");
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
            const char *f = plan_formula(s, pp->kind);
            buf_printf(out, "  %-14s %-13s ", plan_strategy_name(s), f ? f : "-");
            if (!f) {
                buf_printf(out, "%8s %10s %8s   no erasing bound in the paper's code (--bound conservative: aca's own)\n", "-",
                           "-", "");
                continue;
            }
            if (p->ok_n[s]) buf_printf(out, "%8.3f", p->at_n[s].bound);
            else buf_printf(out, "%8s", "-");
            if (p->n_min[s] > 0) buf_printf(out, " %10ld %7.2f%%", p->n_min[s], 100.0 * p->n_min[s] / N);
            else buf_printf(out, " %10s %8s", "> n-max", "");
            print_notes(out, p, s, corpus);
            buf_putc(out, '\n');
        }
    }
}

// Statistics, bounds at the spec's size and smallest sizes for collective i of spec.
static int plan_one(const aca_spec *spec, int i, const char *spec_path, const aca_corpus *corpus, const char *corpus_path,
                    const plan_params *pp, long N, double s_min, long n_max, coll_plan *p, aca_err *e) {
    const aca_collective *c = &spec->collectives[i];
    p->name = c->name, p->target_name = c->target, p->signal = c->signal;
    p->has_signal = c->signal && c->signal[0];
    char where[1024];
    snprintf(where, sizeof where, "%s: collectives[%d]", spec_path, i);
    if (plan_collective_inputs(corpus, corpus_path, c, where, &p->st, p->share, &p->uniform, e)) return -1;
    p->n = c->count >= 0 ? c->count : (long)llround(c->fraction * (double)N);
    if (c->count < 0 && c->fraction > 0 && p->n < 1) p->n = 1;
    if (!p->has_signal) return 0;
    const double *sh = p->uniform ? NULL : p->share;
    for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
        if (!plan_formula(s, pp->kind)) continue;
        p->ok_n[s] = p->n >= plan_n_floor(s, pp) && p->n < N;
        if (p->ok_n[s] && plan_eval((plan_strategy)s, &p->st, sh, pp, p->n, N, &p->at_n[s], e)) return -1;
        if (plan_min_n((plan_strategy)s, &p->st, sh, pp, N, s_min, n_max, &p->n_min[s], &p->at_min[s], e)) return -1;
    }
    return 0;
}

int cmd_plan(int argc, char **argv) {
    const char *corpus_path = NULL, *plot = NULL, *bound = "conservative";
    double delta = 0.05, eps = 0.0, s_min = 0.5;
    long n_max = 0, n_train = 0, n_test = 0, n_est = 0;
    int json = 0, replace = 0;
    aca_opt opts[] = {
        {"--corpus", OPT_STR, &corpus_path, "FILE", "clean corpus the statistics come from (resume, JSONL or TSV)", 0, 0},
        {"--delta", OPT_DOUBLE, &delta, "D", "failure probability of the guarantee, in (0,1) (default 0.05)", 0, 0},
        {"--n-train", OPT_INT, &n_train, "N", "platform size N: documents the platform trains on (default: the corpus' train split, 20000 without one)", 0, 0},
        {"--n-max", OPT_INT, &n_max, "N", "largest collective size searched and plotted (default N-1)", 0, 0},
        {"--n-test", OPT_INT, &n_test, "N", "test documents success is measured on; 0: the population (default: the corpus' test split, 5000 without one)", 0, 0},
        {"--eps-subopt", OPT_DOUBLE, &eps, "E", "suboptimality of the platform's classifier, in [0,1) (default 0)", 0, 0},
        {"--success", OPT_DOUBLE, &s_min, "S", "success the smallest n must guarantee, in (0,1] (default 0.5)", 0, 0},
        {"--bound", OPT_STR, &bound, "conservative|paper", "which bounds (default conservative; see docs/plan.md)", 0, 0},
        {"--n-est", OPT_INT, &n_est, "K", "unplanting: K estimators (default: the split maximising the bound)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
        {"--plot", OPT_STR, &plot, "FILE.png", "plot the bound vs n for every collective and strategy", 0, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "overwrite an existing --plot FILE", 0, 0},
    };
    const char *pos[2];
    int npos = 0;
    aca_err e = {0};
    int rc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, pos, 2, &npos, USAGE, &e);
    if (rc == 1) return 0;
    if (rc < 0) return fprintf(stderr, "aca: plan: %s\n", e.msg), 2;
    if (npos != 1) return fprintf(stderr, "aca: plan: expected one SPEC.json argument (see --help)\n"), 2;
    if (!(delta > 0 && delta < 1)) return fprintf(stderr, "aca: plan: option --delta: %g is not in (0, 1)\n", delta), 2;
    if (!(eps >= 0 && eps < 1)) return fprintf(stderr, "aca: plan: option --eps-subopt: %g is not in [0, 1)\n", eps), 2;
    if (!(s_min > 0 && s_min <= 1)) return fprintf(stderr, "aca: plan: option --success: %g is not in (0, 1]\n", s_min), 2;
    if (n_test < 0) return fprintf(stderr, "aca: plan: option --n-test: %ld is negative\n", n_test), 2;
    if (opts[2].seen && n_train < 2) return fprintf(stderr, "aca: plan: option --n-train: %ld must be >= 2\n", n_train), 2;
    if (opts[3].seen && n_max < 1) return fprintf(stderr, "aca: plan: option --n-max: %ld must be >= 1\n", n_max), 2;
    int kind = plan_bound_kind_parse(bound);
    if (kind < 0) return fprintf(stderr, "aca: plan: option --bound: '%s' is not conservative or paper\n", bound), 2;
    if (opts[8].seen && n_est < 1) return fprintf(stderr, "aca: plan: option --n-est: %ld must be >= 1\n", n_est), 2;
    if (replace && !plot) return fprintf(stderr, "aca: plan: option --replace goes with --plot\n"), 2;
    const char *inputs[] = {pos[0], corpus_path};
    aca_out po = {.path = plot, .option = "--plot", .kind = "plot", .mode = OUT_FILE, .replace = replace};
    if (plot && (rc = cli_check_out(&po, inputs, (int)ACA_ARRAY_LEN(inputs)))) return rc;
    char *plot_path = plot ? out_file_target(plot) : NULL;

    aca_spec spec = {0};
    aca_corpus corpus = {0};
    coll_plan *cp = NULL;
    aca_buf out = {0};
    int status = 1;
    if (spec_load(pos[0], &spec, &e)) goto fail;
    if (corpus_path) {
        aca_corpus_opts co = {0};
        if (corpus_load(corpus_path, &co, &corpus, &e)) goto fail;
    }
    long N, n_test_split;
    plan_default_sizes(corpus_path ? corpus.n : 0, &N, &n_test_split);
    if (opts[2].seen) N = n_train;
    if (!opts[4].seen) n_test = n_test_split;
    if (N < 2) {
        aca_errf(&e, ACA_ERR_VALUE, "%s: too few documents (%zu) for a platform; give --n-train", corpus_path, corpus.n);
        goto fail;
    }
    if (!opts[3].seen || n_max >= N) n_max = N - 1;
    plan_params pp;
    plan_params_default(&pp);
    pp.delta = delta, pp.eps_subopt = eps, pp.n_test = n_test, pp.kind = (plan_bound_kind)kind, pp.n_e = n_est;
    if (n_max < plan_n_floor(PLAN_UNPLANT, &pp)) {
        aca_errf(&e, ACA_ERR_VALUE, "option --n-max: %ld leaves no room for unplanting (needs >= %ld%s)", n_max,
                 plan_n_floor(PLAN_UNPLANT, &pp), n_est ? ", --n-est + 1" : "");
        goto fail;
    }
    cp = xcalloc((size_t)spec.n, sizeof *cp);
    for (int i = 0; i < spec.n; i++)
        if (plan_one(&spec, i, pos[0], corpus_path ? &corpus : NULL, corpus_path, &pp, N, s_min, n_max, &cp[i], &e))
            goto fail;
    if (json) print_json(&out, pos[0], corpus_path, cp, spec.n, &pp, N, s_min, n_max);
    else print_text(&out, cp, spec.n, corpus_path ? &corpus : NULL, &pp, N, s_min, n_max);
    if (plot && write_plot(plot_path, cp, spec.n, &pp, N, n_max, s_min, &e)) goto fail;
    fwrite(out.data, 1, out.len, stdout);
    status = 0;
fail:
    if (status) fprintf(stderr, "aca: plan: %s\n", e.msg), status = aca_exit_status(e.kind);
    free(plot_path);
    buf_free(&out);
    free(cp);
    if (corpus_path) corpus_free(&corpus);
    spec_free(&spec);
    return status;
}
