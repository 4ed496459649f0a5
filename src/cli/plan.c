// aca plan: the statistical planner (include/aca/plan.h) for every collective of a spec — the lower
// bound on success at the spec's size, the smallest size that guarantees success >= --success with
// probability >= 1 - delta, for each strategy; optionally a plot of bound vs n (gnuplot).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/gnuplot.h"
#include "aca/jsonw.h"
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

// One collective's panel: the required success, and each strategy's bound at 301 sizes up to n_max.
static int plot_panel(aca_gnuplot *p, const plan_spec_result *r, const plan_coll *c, aca_err *e) {
    char t[512];
    snprintf(t, sizeof t, "%s: target %s", c->name, c->target);
    gnuplot_draw_text(p, "title", t);
    char level[40];
    snprintf(level, sizeof level, "%g", r->s_min);
    snprintf(t, sizeof t, "success %g", r->s_min);
    gnuplot_series(p, level, -1, t, "dt 2 lc rgb \"gray\"");
    for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
        if (!plan_formula(s, r->pp.kind)) continue;
        int k = gnuplot_block(p, NULL);
        const long lo = plan_n_floor(s, &r->pp);
        for (int j = 0; j <= 300; j++) {
            long n = lo + (long)llround((double)(r->n_max - lo) * j / 300.0);
            plan_bound b;
            int ok;
            if (plan_coll_at(c, (plan_strategy)s, &r->pp, n, r->N, &b, &ok, e)) return -1;
            if (ok) gnuplot_row(p, "%ld %.6f\n", n, b.bound);
        }
        gnuplot_block_end(p);
        snprintf(t, sizeof t, "%s (%s)", plan_strategy_name(s), plan_formula(s, r->pp.kind));
        gnuplot_series(p, NULL, k, t, "with steps lw 2");
    }
    gnuplot_plot_end(p);
    return 0;
}

// Bound vs n for every collective and strategy: one panel per collective with a signal, through
// gnuplot into one PNG (written to a temporary name and renamed).
static int write_plot(const char *path, const plan_spec_result *r, aca_err *e) {
    if (strchr(path, '\'') || strchr(path, '\n'))
        return aca_errf(e, ACA_ERR_VALUE, "option --plot: '%s': the file name may not contain quotes or newlines", path);
    int shown = 0, rc = 0;
    for (int i = 0; i < r->spec.n; i++) shown += r->coll[i].has_signal;
    if (!shown) return aca_errf(e, ACA_ERR_VALUE, "option --plot: no collective has a signal to plot");
    aca_gnuplot p;
    gnuplot_init(&p, "plan", 1000, 360 * shown);
    p.inline_data = 1;
    gnuplot_set(&p, "key bottom right");
    gnuplot_set(&p, "grid");
    gnuplot_set(&p, "yrange [-0.1:1.05]");
    char t[512], on[64] = "the population";
    if (r->pp.n_test) snprintf(on, sizeof on, "%ld test documents", r->pp.n_test);
    snprintf(t, sizeof t, "collective size n (platform N = %ld, delta = %g, success on %s, %s bounds)", r->N, r->pp.delta,
             on, plan_bound_kind_name(r->pp.kind));
    gnuplot_text(&p, "xlabel", t);
    gnuplot_text(&p, "ylabel", "lower bound on success");
    gnuplot_draw(&p, "set multiplot layout %d,1", shown);
    for (int i = 0; i < r->spec.n && !rc; i++)
        if (r->coll[i].has_signal) rc = plot_panel(&p, r, &r->coll[i], e);
    gnuplot_draw(&p, "unset multiplot");
    if (!rc && gnuplot_render_png(&p, path, e)) rc = aca_err_prefix(e, "option --plot");
    gnuplot_free(&p);
    return rc;
}

// The clean statistics of a collective.
static void stats_json(const plan_stats *st, aca_jsonw *w) {
    size_t carriers = 0;
    for (int y = 0; y < st->n_classes; y++) carriers += st->signal_label_count[y];
    jsonw_obj(w);
    jsonw_kuint(w, "docs", st->n_docs);
    jsonw_kuint(w, "signal_docs", carriers);
    jsonw_kuint(w, "signal_docs_target", st->signal_label_count[st->target]);
    jsonw_key(w, "label_docs");
    jsonw_arr(w);
    for (int y = 0; y < st->n_classes; y++) jsonw_uint(w, st->label_count[y]);
    jsonw_end(w);
    jsonw_key(w, "signal_label_docs");
    jsonw_arr(w);
    for (int y = 0; y < st->n_classes; y++) jsonw_uint(w, st->signal_label_count[y]);
    jsonw_end(w);
    jsonw_end(w);
}

// Per strategy: the bound at the spec's size and the smallest sufficient size (null: no bound of that kind).
static void strategies_json(const plan_coll *p, plan_bound_kind kind, aca_jsonw *w) {
    jsonw_obj(w);
    for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
        jsonw_key(w, plan_strategy_name(s));
        if (!plan_formula(s, kind)) {
            jsonw_null(w);
            continue;
        }
        jsonw_obj(w);
        jsonw_kstr(w, "formula", plan_formula(s, kind));
        if (p->ok_n[s]) {
            jsonw_knum(w, "bound_at_n", p->at_n[s].bound);
            jsonw_knum(w, "margin_at_n", p->at_n[s].margin);
            jsonw_kint(w, "n_e_at_n", p->at_n[s].n_e);
        }
        jsonw_kint(w, "n_min", p->n_min[s]);
        if (p->n_min[s] > 0) {
            jsonw_knum(w, "bound_at_n_min", p->at_min[s].bound);
            jsonw_kint(w, "n_e_at_n_min", p->at_min[s].n_e);
        }
        if (p->at_min[s].label >= 0) jsonw_kint(w, "label", p->at_min[s].label);
        jsonw_knum(w, "dt", p->at_min[s].dt);
        jsonw_end(w);
    }
    jsonw_end(w);
}

// One JSON object: the settings, then per collective its statistics and strategies.
static void print_json(aca_buf *out, const plan_spec_opts *o, const plan_spec_result *r) {
    aca_jsonw w;
    jsonw_init(&w, out);
    w.digits = 9;
    jsonw_obj(&w);
    jsonw_kstr(&w, "spec", o->spec_path);
    jsonw_kstr(&w, "corpus", o->corpus_path);
    jsonw_kint(&w, "N", r->N);
    jsonw_key(&w, "delta"), jsonw_num_prec(&w, r->pp.delta, 17);
    jsonw_key(&w, "eps_subopt"), jsonw_num_prec(&w, r->pp.eps_subopt, 17);
    jsonw_kint(&w, "n_test", r->pp.n_test);
    jsonw_kstr(&w, "bound", plan_bound_kind_name(r->pp.kind));
    jsonw_key(&w, "n_est");
    if (r->pp.n_e > 0) jsonw_int(&w, r->pp.n_e);
    else jsonw_null(&w);
    jsonw_key(&w, "success"), jsonw_num_prec(&w, r->s_min, 17);
    jsonw_kint(&w, "n_max", r->n_max);
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    for (int i = 0; i < r->spec.n; i++) {
        const plan_coll *p = &r->coll[i];
        jsonw_obj(&w);
        jsonw_kstr(&w, "name", p->name);
        jsonw_kstr(&w, "target", p->target);
        jsonw_kstr(&w, "signal", p->has_signal ? p->signal : NULL);
        jsonw_kint(&w, "n", p->n);
        jsonw_key(&w, "stats");
        stats_json(&p->st, &w);
        jsonw_key(&w, "strategies");
        if (p->has_signal) strategies_json(p, r->pp.kind, &w);
        else jsonw_null(&w);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
    buf_putc(out, '\n');
}

// The notes column of one strategy's row.
static void print_notes(aca_buf *out, const plan_coll *p, int s, const aca_corpus *corpus) {
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

// One collective: its signal, size, clean statistics and a row per strategy.
static void print_coll_text(aca_buf *out, const plan_coll *p, const plan_spec_result *r) {
    const plan_stats *st = &p->st;
    const aca_corpus *corpus = r->have_corpus ? &r->corpus : NULL;
    buf_printf(out, "\n%s: target %s, signal ", p->name, p->target);
    if (!p->has_signal) {
        buf_puts(out, "none: nothing to plan\n");
        return;
    }
    print_signal_cps(out, p->signal);
    if (p->n > 0) buf_printf(out, ", size n = %ld (%.2f%% of N)\n", p->n, 100.0 * p->n / r->N);
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
        const char *f = plan_formula(s, r->pp.kind);
        buf_printf(out, "  %-14s %-13s ", plan_strategy_name(s), f ? f : "-");
        if (!f) {
            buf_printf(out, "%8s %10s %8s   no erasing bound in the paper's code (--bound conservative: aca's own)\n", "-",
                       "-", "");
            continue;
        }
        if (p->ok_n[s]) buf_printf(out, "%8.3f", p->at_n[s].bound);
        else buf_printf(out, "%8s", "-");
        if (p->n_min[s] > 0) buf_printf(out, " %10ld %7.2f%%", p->n_min[s], 100.0 * p->n_min[s] / r->N);
        else buf_printf(out, " %10s %8s", "> n-max", "");
        print_notes(out, p, s, corpus);
        buf_putc(out, '\n');
    }
}

static void print_text(aca_buf *out, const plan_spec_result *r) {
    const plan_params *pp = &r->pp;
    char on[64] = "the population";
    if (pp->n_test) snprintf(on, sizeof on, "%ld test documents", pp->n_test);
    buf_printf(out, "platform N = %ld documents; success measured on %s; delta = %g; classifier eps = %g; bounds: %s%s; "
                    "smallest n: bound >= %g, searched up to %ld\n",
               r->N, on, pp->delta, pp->eps_subopt, plan_bound_kind_name(pp->kind),
               pp->kind == PLAN_BOUND_PAPER ? " (the paper's code)" : " (aca's; --bound paper: the paper's code)", r->s_min,
               r->n_max);
    if (!r->have_corpus) buf_puts(out, "no --corpus: signal assumed absent from clean data, 10 equally frequent classes\n");
    for (int i = 0; i < r->spec.n; i++) print_coll_text(out, &r->coll[i], r);
}

// The option values cmd_plan checks itself (exit 2 naming the option); the rest the library checks.
static int check_options(const aca_opt *opts, int n, const plan_spec_opts *o, const char *bound, int replace,
                         const char *plot) {
    const plan_params *pp = &o->pp;
    if (!(pp->delta > 0 && pp->delta < 1)) return fprintf(stderr, "aca: plan: option --delta: %g is not in (0, 1)\n", pp->delta), 2;
    if (!(pp->eps_subopt >= 0 && pp->eps_subopt < 1))
        return fprintf(stderr, "aca: plan: option --eps-subopt: %g is not in [0, 1)\n", pp->eps_subopt), 2;
    if (!(o->s_min > 0 && o->s_min <= 1)) return fprintf(stderr, "aca: plan: option --success: %g is not in (0, 1]\n", o->s_min), 2;
    if (cli_opt_seen(opts, n, "--n-test") && pp->n_test < 0)
        return fprintf(stderr, "aca: plan: option --n-test: %ld is negative\n", pp->n_test), 2;
    if (cli_opt_seen(opts, n, "--n-train") && o->N < 2)
        return fprintf(stderr, "aca: plan: option --n-train: %ld must be >= 2\n", o->N), 2;
    if (cli_opt_seen(opts, n, "--n-max") && o->n_max < 1)
        return fprintf(stderr, "aca: plan: option --n-max: %ld must be >= 1\n", o->n_max), 2;
    if (plan_bound_kind_parse(bound) < 0)
        return fprintf(stderr, "aca: plan: option --bound: '%s' is not conservative or paper\n", bound), 2;
    if (cli_opt_seen(opts, n, "--n-est") && pp->n_e < 1)
        return fprintf(stderr, "aca: plan: option --n-est: %ld must be >= 1\n", pp->n_e), 2;
    if (replace && !plot) return fprintf(stderr, "aca: plan: option --replace goes with --plot\n"), 2;
    return 0;
}

int cmd_plan(int argc, char **argv) {
    const char *plot = NULL, *bound = "conservative";
    int json = 0, replace = 0;
    plan_spec_opts o = {.s_min = 0.5};
    plan_params_default(&o.pp);
    o.pp.n_test = -1; // the corpus' test split
    aca_opt opts[] = {
        {"--corpus", OPT_STR, &o.corpus_path, "FILE", "clean corpus the statistics come from (resume, JSONL or TSV)", 0, 0},
        {"--delta", OPT_DOUBLE, &o.pp.delta, "D", "failure probability of the guarantee, in (0,1) (default 0.05)", 0, 0},
        {"--n-train", OPT_INT, &o.N, "N", "platform size N: documents the platform trains on (default: the corpus' train split, 20000 without one)", 0, 0},
        {"--n-max", OPT_INT, &o.n_max, "N", "largest collective size searched and plotted (default N-1)", 0, 0},
        {"--n-test", OPT_INT, &o.pp.n_test, "N", "test documents success is measured on; 0: the population (default: the corpus' test split, 5000 without one)", 0, 0},
        {"--eps-subopt", OPT_DOUBLE, &o.pp.eps_subopt, "E", "suboptimality of the platform's classifier, in [0,1) (default 0)", 0, 0},
        {"--success", OPT_DOUBLE, &o.s_min, "S", "success the smallest n must guarantee, in (0,1] (default 0.5)", 0, 0},
        {"--bound", OPT_STR, &bound, "conservative|paper", "which bounds (default conservative; see docs/plan.md)", 0, 0},
        {"--n-est", OPT_INT, &o.pp.n_e, "K", "unplanting: K estimators (default: the split maximising the bound)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
        {"--plot", OPT_STR, &plot, "FILE.png", "plot the bound vs n for every collective and strategy", 0, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "overwrite an existing --plot FILE", 0, 0},
    };
    const int n_opts = (int)ACA_ARRAY_LEN(opts);
    const char *pos[2];
    int npos = 0, rc;
    aca_err e = {0};
    if ((rc = opt_parse(opts, n_opts, argc, argv, 1, pos, 2, &npos, USAGE, &e)) == 1) return 0;
    if (rc < 0) return fprintf(stderr, "aca: plan: %s\n", e.msg), 2;
    if (npos != 1) return fprintf(stderr, "aca: plan: expected one SPEC.json argument (see --help)\n"), 2;
    if ((rc = check_options(opts, n_opts, &o, bound, replace, plot))) return rc;
    o.spec_path = pos[0];
    o.pp.kind = (plan_bound_kind)plan_bound_kind_parse(bound);
    const char *inputs[] = {o.spec_path, o.corpus_path};
    aca_out po = {.path = plot, .option = "--plot", .kind = "plot", .mode = OUT_FILE, .replace = replace};
    if (plot && (rc = cli_check_out(&po, inputs, (int)ACA_ARRAY_LEN(inputs)))) return rc;
    char *plot_path = plot ? out_file_target(plot) : NULL;
    plan_spec_result r;
    aca_buf out = {0};
    rc = plan_spec(&o, &r, &e);
    if (!rc) {
        if (json) print_json(&out, &o, &r);
        else print_text(&out, &r);
        rc = plot ? write_plot(plot_path, &r, &e) : 0;
        if (!rc) fwrite(out.data, 1, out.len, stdout);
        plan_spec_free(&r);
    }
    free(plot_path);
    buf_free(&out);
    if (rc) fprintf(stderr, "aca: plan: %s\n", e.msg);
    return rc ? aca_exit_status(e.kind) : 0;
}
