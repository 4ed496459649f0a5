// The planner's bound next to what the grid measured (Gauthier, Bach & Jordan 2025, the
// "staircase"): for each collective at each level of its alone runs, the lower bound on success of
// its strategy (plan.h; the default, conservative bounds, which bound what aca mutate does) for n =
// its size on a platform of N = the training split, success measured on the n_test probes (one per
// test document, so R(n_test) is paid), from the clean corpus' statistics, beside the success
// measured over the trials.  Success is the efficacy for feature-label planting, one minus it for
// adaptive unplanting (the signal's documents are pushed away from the target; the bound uses the
// spec's n_e when it gives one, else the split mutate takes), and the agreement of each probe's
// prediction with its unmodified test document's for erasing; other strategies have no measured
// counterpart and are left out.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/grid.h"
#include "aca/mutate.h"
#include "aca/plan.h"

typedef struct {
    int coll, level;
    long n;
    double bound, meas_mean, meas_std;
    int trials;
} stair_row;

static int plan_kind(aca_strategy s, plan_strategy *out) {
    if (s == STRATEGY_FEATURE_LABEL) return *out = PLAN_FEATURE_LABEL, 1;
    if (s == STRATEGY_UNPLANT) return *out = PLAN_UNPLANT, 1;
    if (s == STRATEGY_ERASE) return *out = PLAN_ERASE, 1;
    return 0;
}

// curves: per collective (in order, one gnuplot index each after the measured ones) "n bound%" lines.
static int write_stair_plot(const aca_grid_spec *g, const char *dir, int var, const stair_row *rows, int nr,
                            const aca_buf *curves, long N, aca_err *e) {
    char stem[64], fn[96];
    if (grid_n_variants(g) > 1) snprintf(stem, sizeof stem, "staircase-v%d", var);
    else snprintf(stem, sizeof stem, "staircase");
    aca_buf dat = {0}, gp = {0}, draw = {0};
    for (int i = 0; i < g->n_coll; i++) {
        buf_printf(&dat, "# %s: n measured_mean measured_std bound\n", g->coll[i].name);
        for (int r = 0; r < nr; r++)
            if (rows[r].coll == i)
                buf_printf(&dat, "%ld %.6g %.6g %.6g\n", rows[r].n, 100 * rows[r].meas_mean,
                           isfinite(rows[r].meas_std) ? 100 * rows[r].meas_std : 0.0, 100 * fmax(rows[r].bound, 0));
        buf_puts(&dat, "\n\n");
    }
    buf_append(&dat, curves->data ? curves->data : "", curves->len);
    snprintf(fn, sizeof fn, "%s.dat", stem);
    char *p = path_join(dir, fn);
    int rc = file_write_atomic(p, dat.data, dat.len, e);
    free(p);
    if (!rc) {
        buf_puts(&draw, "plot ");
        for (int i = 0, rank = 0; i < g->n_coll; i++) {
            int has = 0; // a collective has a bound curve (appended after the measured blocks) iff it has rows
            for (int r = 0; r < nr && !has; r++) has = rows[r].coll == i;
            if (!has) continue;
            buf_printf(&draw,
                       "%s\"%s\" index %d using 1:2:3 with yerrorlines lw 2 pt 7 lc %d title \"%s measured\", \\\n"
                       "  \"%s\" index %d using 1:2 with lines dt 2 lw 2 lc %d title \"%s planner bound (>= 0)\"",
                       rank ? ", \\\n  " : "", fn, i, i + 1, g->coll[i].name, fn, g->n_coll + rank, i + 1, g->coll[i].name);
            rank++;
        }
        buf_putc(&draw, '\n');
        buf_printf(&gp, "# Planner bound (steps, dashed) vs measured success (points) over collective size\n"
                        "set title \"%s\\nplanner lower bound (prob. >= %g) vs measured success\"\n"
                        "set xlabel \"collective size n (members of N = %ld training documents)\"\n"
                        "set ylabel \"success (%%)\"\nset yrange [0:105]\nset xrange [1:%ld]\nset logscale x\n"
                        "set grid\nset key top left\n",
                   g->name, 1 - g->planner_delta, N, N);
        buf_printf(&gp, "set terminal pngcairo size 760,520 noenhanced font \",10\"\nset output \"%s.png\"\n%s", stem, draw.data);
        buf_printf(&gp, "set terminal svg size 760,520 noenhanced font \"sans,10\"\nset output \"%s.svg\"\n%sunset output\n",
                   stem, draw.data);
        snprintf(fn, sizeof fn, "%s.gp", stem);
        p = path_join(dir, fn);
        rc = file_write_atomic(p, gp.data, gp.len, e);
        free(p);
        if (!rc) grid_run_gnuplot(dir, fn);
    }
    buf_free(&dat), buf_free(&gp), buf_free(&draw);
    return rc ? -1 : 0;
}

int grid_planner_report(const aca_grid_spec *g, const char *out_dir, const aca_grid_agg *a, aca_buf *md, aca_err *e) {
    if (!g->planner) return 0;
    char *corpus_path = g->corpus_path ? xstrdup(g->corpus_path) : path_join(out_dir, "corpus.txt");
    char *plots = path_join(out_dir, "plots");
    aca_corpus c;
    aca_corpus_opts co = {0};
    memset(&c, 0, sizeof c);
    stair_row *rows = NULL;
    int rc = -1, have_c = 0;
    if (g->encoding && corpus_parse_encoding(g->encoding, &co.encoding, e)) goto done;
    if (corpus_load(corpus_path, &co, &c, e)) goto done;
    have_c = 1;
    long N = (long)g->n_train, n_test = (long)g->n_test;
    if (N == 0 && n_test == 0) plan_default_sizes(c.n, &N, &n_test);
    plan_params pp;
    plan_params_default(&pp);
    pp.delta = g->planner_delta, pp.n_test = n_test;
    buf_printf(md, "\n## Planner bound vs measured success (Gauthier, Bach & Jordan 2025)\n\n"
                   "Lower bound on success with probability >= %g (classifier eps = 0; %s bounds, formula per row: "
                   "docs/plan.md), for n members on a platform of N = %ld training documents, success measured on "
                   "the %ld test probes, from the clean corpus' statistics (%zu documents); measured: mean ± std "
                   "over trials of the alone runs. Success = efficacy (feature-label), 1 − efficacy (unplant), or "
                   "agreement with the unmodified document's prediction (erase).\n\n",
                   1 - g->planner_delta, plan_bound_kind_name(pp.kind), N, n_test, c.n);
    buf_puts(md, "| variant | collective | strategy | formula | level | n | bound | measured | bound <= measured |\n"
                 "|---|---|---|---|---|---|---|---|---|\n");
    size_t max_rows = 1;
    for (int i = 0; i < g->n_coll; i++) max_rows += (size_t)g->coll[i].n_levels;
    rows = xcalloc(max_rows, sizeof *rows);
    for (int var = 0; var < grid_n_variants(g); var++) {
        // the collectives as this variant trains them (sampling, period; sizes of the first level)
        aca_grid_cell c0;
        memset(&c0, 0, sizeof c0);
        c0.variant = var;
        aca_buf sb = {0};
        grid_cell_spec_json(g, &c0, &sb);
        aca_spec sp;
        int r = spec_parse(sb.data, g->path, &sp, e);
        buf_free(&sb);
        if (r) goto done;
        int nr = 0;
        aca_buf curves = {0};
        for (int i = 0; i < g->n_coll && !r; i++) {
            const aca_collective *k = &sp.collectives[i];
            plan_strategy ps;
            if (!plan_kind(k->strategy, &ps) || !k->signal || !*k->signal) continue;
            char where[64];
            snprintf(where, sizeof where, "collectives[%d]", i);
            plan_stats st;
            double share[PLAN_MAX_CLASSES];
            int uniform;
            if (plan_collective_inputs(&c, corpus_path, k, where, &st, share, &uniform, e)) {
                r = aca_err_prefix(e, "%s", g->path);
                break;
            }
            pp.n_e = ps == PLAN_UNPLANT && k->n_e > 0 ? k->n_e : 0; // the split mutate uses
            // the bound at every n (a staircase: it jumps where a cell's margin turns positive)
            buf_printf(&curves, "# %s: n bound%%\n", g->coll[i].name);
            for (long n = plan_n_floor(ps, &pp); n < N && !r; n += n < 200 ? 1 : n / 200) {
                plan_bound b;
                if (plan_eval(ps, &st, uniform ? NULL : share, &pp, n, N, &b, e)) r = -1;
                else buf_printf(&curves, "%ld %.6g\n", n, 100 * fmax(b.bound, 0));
            }
            buf_puts(&curves, "\n\n");
            if (r) break;
            for (int l = 0; l < g->coll[i].n_levels; l++) {
                double lv = g->coll[i].levels[l];
                long n = g->coll[i].is_count ? (long)lv : (long)llround(lv * (double)N);
                if (n < 1) n = 1;
                stair_row *row = &rows[nr];
                row->coll = i, row->level = l, row->n = n, row->bound = NAN;
                plan_bound b;
                if (n >= plan_n_floor(ps, &pp) && n < N) {
                    if (plan_eval(ps, &st, uniform ? NULL : share, &pp, n, N, &b, e)) {
                        r = -1;
                        break;
                    }
                    row->bound = b.bound;
                }
                int lvi[GRID_MAX_COLL];
                for (int q = 0; q < g->n_coll; q++) lvi[q] = l;
                int grp = grid_find_group(a, var, 1u << i, lvi);
                const aca_grid_group *gg = grp >= 0 && a->groups[grp].n ? &a->groups[grp] : NULL;
                double m = gg ? gg->eff_mean[i] : NAN;
                row->meas_mean = ps == PLAN_UNPLANT ? 1 - m : ps == PLAN_ERASE ? (gg ? gg->agree_mean[i] : NAN) : m;
                row->meas_std = !gg ? NAN : ps == PLAN_ERASE ? gg->agree_std[i] : gg->eff_std[i];
                row->trials = grp >= 0 ? a->groups[grp].n : 0;
                char lt[64], vt[64] = "-";
                grid_level_str(g, i, l, lt, sizeof lt);
                if (grid_n_variants(g) > 1) snprintf(vt, sizeof vt, "v%d", var);
                buf_printf(md, "| %s | %s | %s | %s | %s | %ld | ", vt, g->coll[i].name, plan_strategy_name(ps),
                           plan_formula(ps, pp.kind), lt, n);
                if (isfinite(row->bound)) buf_printf(md, "%.3f", row->bound);
                else buf_puts(md, "n/a");
                if (isfinite(row->meas_mean))
                    buf_printf(md, " | %.3f ± %.3f | %s |\n", row->meas_mean, isfinite(row->meas_std) ? row->meas_std : 0.0,
                               !isfinite(row->bound) ? "n/a" : row->bound <= row->meas_mean ? "yes" : "NO");
                else buf_puts(md, " | not run | n/a |\n");
                nr++;
            }
        }
        spec_free(&sp);
        if (!r && nr && (dir_make(plots, e) || write_stair_plot(g, plots, var, rows, nr, &curves, N, e))) r = -1;
        buf_free(&curves);
        if (r) goto done;
    }
    rc = 0;
done:
    free(rows);
    if (have_c) corpus_free(&c);
    free(corpus_path);
    free(plots);
    return rc;
}
