// The grid's figures, through the gnuplot writer (gnuplot.h): in the style of Karan et al. (FAccT
// 2025) Figure 3 (efficacy vs participation, alone dashed, joint solid, the unpoisoned model
// dotted) and Figure 4 (heat maps over the levels of two collectives), and the planner's staircase
// (its bound beside the measured success).  Each figure is OUT/plots/<stem>.{dat,gp}, drawn into
// .png and .svg by gnuplot when it is installed.
#include "grid_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/gnuplot.h"

// The figure's stem: name, with "-v<variant>" when the grid has several variants.
static void stem_of(const aca_grid_spec *g, const char *name, int var, char *out, size_t n) {
    if (grid_n_variants(g) > 1) snprintf(out, n, "%s-v%d", name, var);
    else snprintf(out, n, "%s", name);
}

// Writes the figure and lists its script to run.
static int figure_write(const aca_gnuplot *p, const char *dir, aca_buf *scripts, aca_err *e) {
    if (gnuplot_write(p, dir, e)) return -1;
    buf_printf(scripts, "%s.gp\n", p->stem);
    return 0;
}

// ---- Figure 3 ----------------------------------------------------------------------------------
static double level_x(const aca_grid_spec *g, int i, int l) {
    return g->coll[i].is_count ? g->coll[i].levels[l] : 100 * g->coll[i].levels[l];
}

// Per collective a block: x, alone mean and std, joint mean and std, the unpoisoned efficacy (percent).
// 0 when nothing was measured.
static int fig3_data(const aca_grid_agg *a, int var, aca_gnuplot *p) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, P = g->coll[0].n_levels, b = grid_baseline_group(a, var);
    const unsigned all = (1u << N) - 1;
    int any = 0;
    for (int i = 0; i < N; i++) {
        gnuplot_block(p, "%s: x alone_mean alone_std joint_mean joint_std unpoisoned_eff", g->coll[i].name);
        for (int l = 0; l < P; l++) {
            int lv[GRID_MAX_COLL];
            for (int k = 0; k < N; k++) lv[k] = l;
            int qa = grid_find_group(a, var, 1u << i, lv), qj = N > 1 ? grid_find_group(a, var, all, lv) : -1;
            double am = qa >= 0 && a->groups[qa].n ? a->groups[qa].eff_mean[i] : NAN;
            double jm = qj >= 0 && a->groups[qj].n ? a->groups[qj].eff_mean[i] : NAN;
            any |= isfinite(am) || isfinite(jm);
            gnuplot_row(p, "%g", level_x(g, i, l));
            gnuplot_val(p, 100 * am), gnuplot_val(p, qa >= 0 ? 100 * a->groups[qa].eff_std[i] : NAN);
            gnuplot_val(p, 100 * jm), gnuplot_val(p, qj >= 0 ? 100 * a->groups[qj].eff_std[i] : NAN);
            gnuplot_val(p, b >= 0 && a->groups[b].n ? 100 * a->groups[b].eff_mean[i] : NAN);
            gnuplot_row(p, "\n");
        }
        gnuplot_block_end(p);
    }
    return any;
}

static void fig3_series(const aca_grid_agg *a, int var, aca_gnuplot *p) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, b = grid_baseline_group(a, var);
    char t[200];
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "%s alone", g->coll[i].name);
        gnuplot_series(p, NULL, i, t, "using 1:2:3 with yerrorlines dt 2 lw 2 pt 7 lc %d", i + 1);
        if (N > 1) {
            snprintf(t, sizeof t, "%s joint", g->coll[i].name);
            gnuplot_series(p, NULL, i, t, "using 1:4:5 with yerrorlines dt 1 lw 2 pt 5 lc %d", i + 1);
        }
        if (b >= 0) {
            snprintf(t, sizeof t, "%s unpoisoned", g->coll[i].name);
            gnuplot_series(p, NULL, i, t, "using 1:6 with lines dt 3 lw 1 lc %d", i + 1);
        }
    }
    gnuplot_plot_end(p);
}

// Figure 3: per variant, efficacy vs participation; per collective a dashed alone and a solid joint
// curve (with the trials' std as error bars) and the unpoisoned model's rate as a dotted line.
static int plot_fig3(const aca_grid_agg *a, const char *dir, int var, aca_buf *scripts, aca_err *e) {
    const aca_grid_spec *g = a->g;
    const int P = g->coll[0].n_levels;
    char stem[128], t[400];
    stem_of(g, "fig3", var, stem, sizeof stem);
    aca_gnuplot p;
    gnuplot_init(&p, stem, 760, 520);
    int rc = 0;
    if (fig3_data(a, var, &p)) {
        aca_buf v = {0};
        grid_variant_text(g, var, &v);
        const int axes = strcmp(v.data, "-") != 0;
        gnuplot_comment(&p, "Figure 3 style: efficacy vs participation; dashed = alone, solid = joint, dotted = unpoisoned model");
        snprintf(t, sizeof t, "%s\n(%s%s%d trial%s)", g->name, axes ? v.data : "", axes ? "; " : "", g->trials,
                 g->trials == 1 ? "" : "s");
        gnuplot_text(&p, "title", t);
        gnuplot_text(&p, "xlabel", g->coll[0].is_count ? "collective size (members)" : "participation (% of training set)");
        gnuplot_text(&p, "ylabel", "efficacy (% of probes predicted as target)");
        gnuplot_set(&p, "yrange [0:105]");
        gnuplot_set(&p, "key bottom right");
        gnuplot_set(&p, "grid");
        gnuplot_set(&p, "logscale x");
        gnuplot_tics(&p, "xtics");
        for (int l = 0; l < P; l++) {
            char lab[40];
            snprintf(lab, sizeof lab, "%g", level_x(g, 0, l));
            gnuplot_tic(&p, lab, level_x(g, 0, l));
        }
        gnuplot_tics_end(&p);
        if (P == 1) gnuplot_set(&p, "xrange [%g:%g]", level_x(g, 0, 0) / 2, level_x(g, 0, 0) * 2);
        else gnuplot_set(&p, "offsets graph 0.06, graph 0.06");
        fig3_series(a, var, &p);
        rc = figure_write(&p, dir, scripts, e);
        buf_free(&v);
    }
    gnuplot_free(&p);
    return rc;
}

// ---- Figure 4 ----------------------------------------------------------------------------------
// For two collectives in product mode, one heat map per collective of its joint efficacy, of its
// joint-alone difference and of Karan's CT over (level of collective 1, level of collective 2).
static const char *const FIG4_STEM[3] = {"eff", "delta", "ctk"};
static const char *const FIG4_WHAT[3] = {"efficacy (%)", "eff(joint) - eff(alone), points",
                                         "CT (Karan) = (eff(joint) - eff(alone)) / eff(unpoisoned)"};

static double fig4_value(const aca_grid_group *gr, int i, int what) {
    return what == 0 ? 100 * gr->eff_mean[i] : what == 1 ? 100 * gr->ct_mean[i] : gr->ctk_mean[i];
}

// The grid of values, one "x y z" row per cell, a blank line after each x; *zmax = the largest |z|.
// 0 when no value is finite.
static int fig4_data(const aca_grid_agg *a, int var, int i, int what, aca_gnuplot *p, double *zmax) {
    const aca_grid_spec *g = a->g;
    int any = 0;
    *zmax = 0;
    for (int x = 0; x < g->coll[0].n_levels; x++) {
        for (int y = 0; y < g->coll[1].n_levels; y++) {
            int lv[GRID_MAX_COLL] = {x, y};
            int q = grid_find_group(a, var, 3u, lv);
            double z = q >= 0 && a->groups[q].n ? fig4_value(&a->groups[q], i, what) : NAN;
            any |= isfinite(z);
            if (isfinite(z) && fabs(z) > *zmax) *zmax = fabs(z);
            gnuplot_row(p, "%d %d", x, y);
            gnuplot_val(p, z);
            gnuplot_row(p, "\n");
        }
        gnuplot_row(p, "\n");
    }
    return any;
}

// Tics at 0..n-1 labelled with collective c's levels, and the axis label.
static void fig4_axis(const aca_grid_spec *g, int c, const char *axis, aca_gnuplot *p) {
    gnuplot_tics(p, axis);
    for (int l = 0; l < g->coll[c].n_levels; l++) {
        char lab[64];
        grid_level_str(g, c, l, lab, sizeof lab);
        gnuplot_tic(p, lab, l);
    }
    gnuplot_tics_end(p);
}

static void fig4_script(const aca_grid_spec *g, int i, int what, double zmax, aca_gnuplot *p) {
    char t[300];
    snprintf(t, sizeof t, "Figure 4 style: %s of %s, joint, over the two collectives' levels", FIG4_WHAT[what],
             g->coll[i].name);
    gnuplot_comment(p, t);
    snprintf(t, sizeof t, "%s\n%s %s, joint", g->name, g->coll[i].name, FIG4_WHAT[what]);
    gnuplot_text(p, "title", t);
    fig4_axis(g, 0, "xtics", p);
    fig4_axis(g, 1, "ytics", p);
    snprintf(t, sizeof t, "%s %s", g->coll[0].name, g->coll[0].is_count ? "members" : "participation");
    gnuplot_text(p, "xlabel", t);
    snprintf(t, sizeof t, "%s %s", g->coll[1].name, g->coll[1].is_count ? "members" : "participation");
    gnuplot_text(p, "ylabel", t);
    gnuplot_set(p, "xrange [-0.5:%g]", g->coll[0].n_levels - 0.5);
    gnuplot_set(p, "yrange [-0.5:%g]", g->coll[1].n_levels - 0.5);
    // Differences: a diverging palette symmetric around 0 (points: +-100; Karan's CT is unbounded,
    // so its range is the largest |value|).
    double lim = what == 1 ? 100 : zmax > 0 ? zmax : 1;
    if (what) {
        gnuplot_set(p, "cbrange [%g:%g]", -lim, lim);
        gnuplot_set(p, "palette defined (-1 \"#b2182b\", 0 \"white\", 1 \"#2166ac\")");
    } else {
        gnuplot_set(p, "cbrange [0:100]");
        gnuplot_set(p, "palette defined (0 \"white\", 100 \"#1b7837\")");
    }
    gnuplot_series(p, NULL, -1, NULL, "using 1:2:3 with image");
    gnuplot_series(p, NULL, -1, NULL, "using 1:2:(sprintf(\"%s\", $3)) with labels", what == 2 ? "%.2f" : "%.0f");
    gnuplot_plot_end(p);
}

static int plot_fig4(const aca_grid_agg *a, const char *dir, int var, aca_buf *scripts, aca_err *e) {
    const aca_grid_spec *g = a->g;
    if (g->n_coll != 2 || g->mode != GRID_MODE_PRODUCT) return 0;
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        for (int what = 0; what < 3 && !rc; what++) {
            char name[200], stem[220];
            snprintf(name, sizeof name, "fig4-%s-%s", g->coll[i].name, FIG4_STEM[what]);
            stem_of(g, name, var, stem, sizeof stem);
            aca_gnuplot p;
            gnuplot_init(&p, stem, 560, 480);
            double zmax;
            if (fig4_data(a, var, i, what, &p, &zmax)) {
                fig4_script(g, i, what, zmax, &p);
                rc = figure_write(&p, dir, scripts, e);
            }
            gnuplot_free(&p);
        }
    return rc;
}

// ---- the planner's staircase -------------------------------------------------------------------
// Blocks 0..N-1: each collective's measured rows (n, mean, std, bound; percent); then one block per
// curve (n, bound).  Returns the number of rows of the variant.
static int stair_data(const aca_grid_spec *g, const grid_stairs *st, int var, aca_gnuplot *p) {
    int nr = 0;
    for (int i = 0; i < g->n_coll; i++) {
        gnuplot_block(p, "%s: n measured_mean measured_std bound", g->coll[i].name);
        for (int r = 0; r < st->n_rows; r++) {
            const grid_stair_row *row = &st->rows[r];
            if (row->variant != var || row->coll != i) continue;
            gnuplot_row(p, "%ld %.6g %.6g %.6g\n", row->n, 100 * row->meas_mean,
                        isfinite(row->meas_std) ? 100 * row->meas_std : 0.0, 100 * fmax(row->bound, 0));
            nr++;
        }
        gnuplot_block_end(p);
    }
    for (int k = 0; k < st->n_curves; k++) {
        const grid_stair_curve *cv = &st->curves[k];
        if (cv->variant != var) continue;
        gnuplot_block(p, "%s: n bound%%", g->coll[cv->coll].name);
        for (int j = 0; j < cv->len; j++) gnuplot_row(p, "%ld %.6g\n", cv->n[j], 100 * fmax(cv->bound[j], 0));
        gnuplot_block_end(p);
    }
    return nr;
}

// Planner bound (steps, dashed) vs measured success (points) over collective size, per variant.
static int plot_staircase(const aca_grid_spec *g, const grid_stairs *st, int var, const char *dir, aca_buf *scripts,
                          aca_err *e) {
    char stem[64], t[400];
    stem_of(g, "staircase", var, stem, sizeof stem);
    aca_gnuplot p;
    gnuplot_init(&p, stem, 760, 520);
    int rc = 0;
    if (stair_data(g, st, var, &p)) {
        gnuplot_comment(&p, "Planner bound (steps, dashed) vs measured success (points) over collective size");
        snprintf(t, sizeof t, "%s\nplanner lower bound (prob. >= %g) vs measured success", g->name, 1 - st->pp.delta);
        gnuplot_text(&p, "title", t);
        snprintf(t, sizeof t, "collective size n (members of N = %ld training documents)", st->N);
        gnuplot_text(&p, "xlabel", t);
        gnuplot_text(&p, "ylabel", "success (%)");
        gnuplot_set(&p, "yrange [0:105]");
        gnuplot_set(&p, "xrange [1:%ld]", st->N);
        gnuplot_set(&p, "logscale x");
        gnuplot_set(&p, "grid");
        gnuplot_set(&p, "key top left");
        for (int k = 0, rank = 0; k < st->n_curves; k++) {
            const grid_stair_curve *cv = &st->curves[k];
            if (cv->variant != var) continue;
            const int i = cv->coll;
            snprintf(t, sizeof t, "%s measured", g->coll[i].name);
            gnuplot_series(&p, NULL, i, t, "using 1:2:3 with yerrorlines lw 2 pt 7 lc %d", i + 1);
            snprintf(t, sizeof t, "%s planner bound (>= 0)", g->coll[i].name);
            gnuplot_series(&p, NULL, g->n_coll + rank++, t, "using 1:2 with lines dt 2 lw 2 lc %d", i + 1);
        }
        gnuplot_plot_end(&p);
        rc = figure_write(&p, dir, scripts, e);
    }
    gnuplot_free(&p);
    return rc;
}

// ---- all figures -------------------------------------------------------------------------------
// Runs gnuplot on each listed script (one name a line), or says once that it is missing.
static void run_scripts(const char *dir, aca_buf *scripts) {
    if (!gnuplot_available()) {
        log_warn("gnuplot not found: the plot scripts are in %s (install gnuplot, then run `gnuplot FILE.gp` there)", dir);
        return;
    }
    for (char *s = scripts->data, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        *nl = 0;
        gnuplot_run(dir, s);
    }
}

int grid_plots_write(const aca_grid_agg *a, const grid_stairs *st, const char *dir, int run_gnuplot, aca_err *e) {
    const aca_grid_spec *g = a->g;
    if (dir_make(dir, e)) return -1;
    aca_buf scripts = {0};
    int rc = 0;
    for (int var = 0; var < grid_n_variants(g) && !rc; var++) {
        if (g->mode == GRID_MODE_LINE && g->alone) rc = plot_fig3(a, dir, var, &scripts, e);
        if (!rc) rc = plot_fig4(a, dir, var, &scripts, e);
        if (!rc && st) rc = plot_staircase(g, st, var, dir, &scripts, e);
    }
    if (!rc && run_gnuplot && scripts.len) run_scripts(dir, &scripts);
    buf_free(&scripts);
    return rc;
}

int grid_write_plots(const aca_grid_agg *a, const char *dir, int run_gnuplot, aca_err *e) {
    return grid_plots_write(a, NULL, dir, run_gnuplot, e);
}
