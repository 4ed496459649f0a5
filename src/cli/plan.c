// aca plan: the statistical planner (include/aca/plan.h) for every collective of a spec — the lower
// bound on success at the spec's size, the smallest size that guarantees success >= --success with
// probability >= 1 - delta, for each strategy; optionally a plot of bound vs n (gnuplot).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/mutate.h"
#include "aca/plan.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca plan SPEC.json [--corpus FILE] [--delta D] [--n-max N] [--json] [--plot FILE.png]\n"
    "\n"
    "For each collective of SPEC, lower-bounds its success (Gauthier, Bach & Jordan 2025) for four\n"
    "strategies: feature-label planting, feature-only planting, adaptive unplanting (with the optimal\n"
    "estimation split n_e) and erasing; prints the bound at the spec's size and the smallest size n\n"
    "whose bound reaches --success, each holding with probability >= 1 - delta.  Clean statistics\n"
    "(documents containing the signal string, per label) come from --corpus; without it the signal is\n"
    "assumed absent from clean data and the 10 resume classes equally frequent.";

typedef struct {
    const char *name, *target_name, *signal;
    int has_signal;
    plan_stats st;
    double share[PLAN_MAX_CLASSES];
    int uniform;
    long n; // the spec's size resolved against N (0: not given)
    plan_bound at_n[PLAN_N_STRATEGIES], at_min[PLAN_N_STRATEGIES];
    long n_min[PLAN_N_STRATEGIES];
    int ok_n; // at_n valid (1 <= n < N)
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
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.png", path, (long)getpid());
    int shown = 0;
    for (int i = 0; i < nc; i++) shown += cp[i].has_signal;
    if (!shown) return aca_errf(e, ACA_ERR_VALUE, "option --plot: no collective has a signal to plot");
    FILE *g = popen("gnuplot", "w");
    if (!g) return aca_errf(e, ACA_ERR_IO, "option --plot: cannot run gnuplot");
    fprintf(g, "set terminal pngcairo size 1000,%d font ',10'\nset output '%s'\n", 360 * shown, tmp);
    fprintf(g, "set multiplot layout %d,1\nset key bottom right\nset grid\nset yrange [-0.1:1.05]\n", shown);
    fprintf(g, "set xlabel 'collective size n (platform N = %ld, delta = %g)'\nset ylabel 'lower bound on success'\n", N,
            pp->delta);
    for (int i = 0; i < nc; i++) {
        if (!cp[i].has_signal) continue;
        fprintf(g, "set title \"%s: target %s\" noenhanced\n", cp[i].name, cp[i].target_name);
        fprintf(g, "plot %g dt 2 lc rgb 'gray' title 'success %g'", s_min, s_min);
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) fprintf(g, ", '-' with steps lw 2 title '%s'", plan_strategy_name(s));
        fprintf(g, "\n");
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
            long lo = s == PLAN_UNPLANT ? 2 : 1;
            for (int k = 0; k <= 300; k++) {
                long n = lo + (long)llround((double)(n_max - lo) * k / 300.0);
                plan_bound b;
                if (n >= N || n < lo) continue;
                if (plan_eval((plan_strategy)s, &cp[i].st, cp[i].uniform ? NULL : cp[i].share, pp, n, N, &b, e)) {
                    pclose(g);
                    unlink(tmp);
                    return -1;
                }
                fprintf(g, "%ld %.6f\n", n, b.bound);
            }
            fprintf(g, "e\n");
        }
    }
    fprintf(g, "unset multiplot\nset output\n");
    int st = pclose(g);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !file_exists(tmp)) {
        unlink(tmp);
        return aca_errf(e, ACA_ERR_IO, "option --plot: gnuplot failed writing %s (is gnuplot with the pngcairo terminal installed?)", path);
    }
    if (rename(tmp, path)) {
        unlink(tmp);
        return aca_errf(e, ACA_ERR_IO, "option --plot: cannot rename %s to %s", tmp, path);
    }
    return 0;
}

static void fmt_bound(aca_buf *b, const plan_bound *r) { buf_printf(b, "%8.3f", r->bound); }

int cmd_plan(int argc, char **argv) {
    const char *corpus_path = NULL, *plot = NULL;
    double delta = 0.05, eps = 0.0, s_min = 0.5;
    long n_max = 0, n_train = 0, n_test = 0;
    int json = 0;
    aca_opt opts[] = {
        {"--corpus", OPT_STR, &corpus_path, "FILE", "clean corpus the statistics come from (resume, JSONL or TSV)", 0, 0},
        {"--delta", OPT_DOUBLE, &delta, "D", "failure probability of the guarantee, in (0,1) (default 0.05)", 0, 0},
        {"--n-train", OPT_INT, &n_train, "N", "platform size N: documents the platform trains on (default: 20000, or 80% of a smaller corpus)", 0, 0},
        {"--n-max", OPT_INT, &n_max, "N", "largest collective size searched and plotted (default N-1)", 0, 0},
        {"--n-test", OPT_INT, &n_test, "N", "test documents success is measured on (default 0: the population)", 0, 0},
        {"--eps-subopt", OPT_DOUBLE, &eps, "E", "suboptimality of the platform's classifier, in [0,1) (default 0)", 0, 0},
        {"--success", OPT_DOUBLE, &s_min, "S", "success the smallest n must guarantee, in (0,1] (default 0.5)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
        {"--plot", OPT_STR, &plot, "FILE.png", "plot the bound vs n for every collective and strategy", 0, 0},
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

    aca_spec spec = {0};
    aca_corpus corpus = {0};
    coll_plan *cp = NULL;
    aca_buf out = {0};
    int status = 1;
    if (spec_load(pos[0], &spec, &e)) goto fail;
    if (corpus_path) {
        aca_corpus_opts co = {0};
        if (corpus_load(corpus_path, &co, &corpus, &e)) goto fail;
        if (corpus.n_classes < 2 || corpus.n_classes > PLAN_MAX_CLASSES) {
            aca_errf(&e, ACA_ERR_VALUE, "%s: %d classes; the planner needs 2..%d", corpus_path, corpus.n_classes,
                     PLAN_MAX_CLASSES);
            goto fail;
        }
    }
    long N = n_train;
    if (!opts[2].seen) N = !corpus_path || corpus.n >= 25000 ? 20000 : (long)(corpus.n * 8 / 10);
    if (N < 2) {
        aca_errf(&e, ACA_ERR_VALUE, "%s: too few documents (%zu) for a platform; give --n-train", corpus_path, corpus.n);
        goto fail;
    }
    if (!opts[3].seen || n_max >= N) n_max = N - 1;
    if (n_max < 2) {
        aca_errf(&e, ACA_ERR_VALUE, "option --n-max: %ld leaves no room for unplanting (needs >= 2)", n_max);
        goto fail;
    }
    plan_params pp = {delta, eps, n_test};
    cp = xcalloc((size_t)spec.n, sizeof *cp);
    for (int i = 0; i < spec.n; i++) {
        const aca_collective *c = &spec.collectives[i];
        coll_plan *p = &cp[i];
        p->name = c->name, p->target_name = c->target, p->signal = c->signal;
        p->has_signal = c->signal && c->signal[0];
        int target = -1, seed = -1;
        if (corpus_path) {
            target = corpus_class_index(&corpus, c->target);
            if (c->seed_class) seed = corpus_class_index(&corpus, c->seed_class);
        } else {
            for (int k = 0; k < 10; k++) {
                if (class_name_equal(ACA_RESUME_CLASSES[k], c->target)) target = k;
                if (c->seed_class && class_name_equal(ACA_RESUME_CLASSES[k], c->seed_class)) seed = k;
            }
        }
        const char *where = corpus_path ? corpus_path : "the resume classes";
        if (target < 0) {
            aca_errf(&e, ACA_ERR_VALUE, "%s: collectives[%d].target: class '%s' is not in %s", pos[0], i, c->target, where);
            goto fail;
        }
        if (c->sampling != SAMPLING_UNIFORM && seed < 0) {
            aca_errf(&e, ACA_ERR_VALUE, "%s: collectives[%d].sampling.seed_class: class '%s' is not in %s", pos[0], i,
                     c->seed_class ? c->seed_class : "", where);
            goto fail;
        }
        if (corpus_path) {
            if (p->has_signal && plan_stats_from_corpus(&corpus, c->signal, target, &p->st, &e)) goto fail;
            if (!p->has_signal) { // statistics without a signal: label counts only
                memset(&p->st, 0, sizeof p->st);
                p->st.n_classes = corpus.n_classes, p->st.target = target, p->st.n_docs = corpus.n;
                for (size_t d = 0; d < corpus.n; d++) p->st.label_count[corpus.docs[d].label]++;
            }
        } else {
            memset(&p->st, 0, sizeof p->st);
            p->st.n_classes = 10, p->st.target = target, p->st.n_docs = 10000;
            for (int k = 0; k < 10; k++) p->st.label_count[k] = 1000;
        }
        p->uniform = c->sampling == SAMPLING_UNIFORM;
        if (plan_member_shares(&p->st, p->uniform ? -1 : seed, c->sampling == SAMPLING_CLASS ? 1.0 : c->p, p->share, &e)) {
            aca_err_prefix(&e, "%s: collectives[%d].sampling", pos[0], i);
            goto fail;
        }
        p->n = c->count >= 0 ? c->count : (long)llround(c->fraction * (double)N);
        if (c->count < 0 && c->fraction > 0 && p->n < 1) p->n = 1;
        if (!p->has_signal) continue;
        p->ok_n = p->n >= 2 && p->n < N;
        for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
            const double *sh = p->uniform ? NULL : p->share;
            if (p->ok_n && plan_eval((plan_strategy)s, &p->st, sh, &pp, p->n, N, &p->at_n[s], &e)) goto fail;
            if (plan_min_n((plan_strategy)s, &p->st, sh, &pp, N, s_min, n_max, &p->n_min[s], &p->at_min[s], &e)) goto fail;
        }
    }

    if (json) {
        buf_printf(&out, "{\"spec\":");
        buf_json_str(&out, pos[0], strlen(pos[0]));
        buf_printf(&out, ",\"corpus\":");
        if (corpus_path) buf_json_str(&out, corpus_path, strlen(corpus_path));
        else buf_puts(&out, "null");
        buf_printf(&out, ",\"N\":%ld,\"delta\":%.17g,\"eps_subopt\":%.17g,\"n_test\":%ld,\"success\":%.17g,\"n_max\":%ld,\"collectives\":[",
                   N, delta, eps, n_test, s_min, n_max);
        for (int i = 0; i < spec.n; i++) {
            const coll_plan *p = &cp[i];
            const plan_stats *st = &p->st;
            buf_printf(&out, "%s{\"name\":", i ? "," : "");
            buf_json_str(&out, p->name, strlen(p->name));
            buf_printf(&out, ",\"target\":");
            buf_json_str(&out, p->target_name, strlen(p->target_name));
            buf_printf(&out, ",\"signal\":");
            if (p->has_signal) buf_json_str(&out, p->signal, strlen(p->signal));
            else buf_puts(&out, "null");
            size_t carriers = 0;
            for (int y = 0; y < st->n_classes; y++) carriers += st->signal_label_count[y];
            buf_printf(&out, ",\"n\":%ld,\"stats\":{\"docs\":%zu,\"signal_docs\":%zu,\"signal_docs_target\":%zu,\"label_docs\":[",
                       p->n, st->n_docs, carriers, st->signal_label_count[st->target]);
            for (int y = 0; y < st->n_classes; y++) buf_printf(&out, "%s%zu", y ? "," : "", st->label_count[y]);
            buf_printf(&out, "],\"signal_label_docs\":[");
            for (int y = 0; y < st->n_classes; y++) buf_printf(&out, "%s%zu", y ? "," : "", st->signal_label_count[y]);
            buf_printf(&out, "]},\"strategies\":");
            if (!p->has_signal) {
                buf_puts(&out, "null}");
                continue;
            }
            buf_putc(&out, '{');
            for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
                buf_printf(&out, "%s\"%s\":{", s ? "," : "", plan_strategy_name(s));
                if (p->ok_n)
                    buf_printf(&out, "\"bound_at_n\":%.9g,\"margin_at_n\":%.9g,\"n_e_at_n\":%ld,", p->at_n[s].bound,
                               p->at_n[s].margin, p->at_n[s].n_e);
                buf_printf(&out, "\"n_min\":%ld", p->n_min[s]);
                if (p->n_min[s] > 0)
                    buf_printf(&out, ",\"bound_at_n_min\":%.9g,\"n_e_at_n_min\":%ld", p->at_min[s].bound, p->at_min[s].n_e);
                if (p->at_min[s].label >= 0) buf_printf(&out, ",\"label\":%d", p->at_min[s].label);
                buf_printf(&out, ",\"dt\":%.9g}", p->at_min[s].dt);
            }
            buf_puts(&out, "}}");
        }
        buf_puts(&out, "]}\n");
    } else {
        buf_printf(&out, "platform N = %ld documents; delta = %g; classifier eps = %g; success measured on %s; "
                         "smallest n: bound >= %g, searched up to %ld\n",
                   N, delta, eps, n_test ? "the test set" : "the population", s_min, n_max);
        if (!corpus_path) buf_puts(&out, "no --corpus: signal assumed absent from clean data, 10 equally frequent classes\n");
        for (int i = 0; i < spec.n; i++) {
            const coll_plan *p = &cp[i];
            const plan_stats *st = &p->st;
            buf_printf(&out, "\n%s: target %s, signal ", p->name, p->target_name);
            if (!p->has_signal) {
                buf_puts(&out, "none: nothing to plan\n");
                continue;
            }
            print_signal_cps(&out, p->signal);
            if (p->n > 0) buf_printf(&out, ", size n = %ld (%.2f%% of N)\n", p->n, 100.0 * p->n / N);
            else buf_puts(&out, ", size not given\n");
            if (corpus_path) {
                size_t carriers = 0, top = 0;
                int yt = -1;
                for (int y = 0; y < st->n_classes; y++) {
                    carriers += st->signal_label_count[y];
                    if (y != st->target && (yt < 0 || st->signal_label_count[y] > top)) top = st->signal_label_count[y], yt = y;
                }
                buf_printf(&out, "  clean docs carrying the signal: %zu of %zu; with the target label %zu; top other label %s: %zu\n",
                           carriers, st->n_docs, st->signal_label_count[st->target], corpus.classes[yt], top);
            }
            buf_printf(&out, "  %-14s %10s %10s %8s   %s\n", "strategy", "bound@n", "smallest n", "n/N", "notes");
            for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
                buf_printf(&out, "  %-14s ", plan_strategy_name(s));
                if (p->ok_n) buf_puts(&out, "  "), fmt_bound(&out, &p->at_n[s]);
                else buf_printf(&out, "%10s", "-");
                if (p->n_min[s] > 0) buf_printf(&out, " %10ld %7.2f%%", p->n_min[s], 100.0 * p->n_min[s] / N);
                else buf_printf(&out, " %10s %8s", "> n-max", "");
                if (s == PLAN_UNPLANT) {
                    int lab = p->at_min[s].label;
                    if (lab >= 0 && st->signal_label_count[lab] == 0) buf_puts(&out, "   push any other label (no clean carriers)");
                    else buf_printf(&out, "   push %s", lab >= 0 && corpus_path ? corpus.classes[lab] : "?");
                    if (p->ok_n) buf_printf(&out, "; n_e = %ld at n", p->at_n[s].n_e);
                    if (p->n_min[s] > 0) buf_printf(&out, "; n_e = %ld at smallest n", p->at_min[s].n_e);
                }
                if (s == PLAN_ERASE && p->ok_n) buf_printf(&out, "   %d of %d class cells won at n", p->at_n[s].cells_won, st->n_classes);
                buf_putc(&out, '\n');
            }
        }
    }
    if (plot && write_plot(plot, cp, spec.n, &pp, N, n_max, s_min, &e)) goto fail;
    fwrite(out.data, 1, out.len, stdout);
    status = 0;
fail:
    if (status) fprintf(stderr, "aca: plan: %s\n", e.msg);
    buf_free(&out);
    free(cp);
    if (corpus_path) corpus_free(&corpus);
    spec_free(&spec);
    return status;
}
