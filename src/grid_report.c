// The grid's report: OUT/summary.csv and OUT/summary.md (means and sample stds over trials, the
// joint-alone difference and Karan et al.'s CT, the pairwise matrices, leave-one-out harm, per-class
// recall cost), gnuplot figures in the style
// of Karan et al. Figures 3 (efficacy vs participation, alone dashed, joint solid) and 4 (heat maps
// over the levels of two collectives), the reproduction bundle, and the Slurm array script.
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/grid.h"

static const char *kind_name(aca_grid_cell_kind k) {
    return k == GRID_CELL_BASELINE ? "unpoisoned" : k == GRID_CELL_ALONE ? "alone" : "joint";
}

// "A0=0.02 B1=0.02" (separator sep) for the acting collectives of a group.
static void levels_text(const aca_grid_spec *g, unsigned acting, const int *lv, const char *sep, aca_buf *b) {
    int first = 1;
    for (int i = 0; i < g->n_coll; i++) {
        if (!(acting >> i & 1)) continue;
        char l[64];
        grid_level_str(g, i, lv[i], l, sizeof l);
        buf_printf(b, "%s%s=%s", first ? "" : sep, g->coll[i].name, l);
        first = 0;
    }
}

static void variant_text(const aca_grid_spec *g, int variant, aca_buf *b) {
    int pi, hi, ei;
    grid_variant_axes(g, variant, &pi, &hi, &ei);
    int P = g->periods[pi];
    double h = g->homog[hi], eps = g->eps[ei];
    if (P > 0) buf_printf(b, "P%d", P);
    if (h >= 0) buf_printf(b, "%sh%g", b->len ? " " : "", h);
    if (g->n_eps > 1 || eps >= 0) {
        if (eps >= 0) buf_printf(b, "%seps%g", b->len ? " " : "", eps);
        else buf_printf(b, "%sno DP", b->len ? " " : "");
    }
    if (!b->len) buf_puts(b, "-");
}

static void csv_num(aca_buf *b, double x) {
    if (isfinite(x)) buf_printf(b, ",%.6g", x);
    else buf_puts(b, ",");
}

static void md_pct(aca_buf *b, double m, double s, int with_std) {
    if (!isfinite(m)) buf_puts(b, " n/a |");
    else if (with_std && isfinite(s)) buf_printf(b, " %.1f ± %.1f |", 100 * m, 100 * s);
    else buf_printf(b, " %.1f |", 100 * m);
}

static void md_pts(aca_buf *b, double x) {
    if (!isfinite(x)) buf_puts(b, " – |");
    else buf_printf(b, " %+.1f |", 100 * x);
}

static int baseline_group(const aca_grid_agg *a, int variant) {
    for (int q = 0; q < a->n_groups; q++)
        if (a->groups[q].kind == GRID_CELL_BASELINE && a->groups[q].variant == variant) return q;
    return -1;
}

// Line point pt of a variant: 0 the pairwise difference eff_i({i,j}) - eff_i(i alone); 1 that over
// the unpoisoned efficacy of i (Karan's CT, from the means); 2 the leave-one-out harm of j on i.
static double pair_value(const aca_grid_agg *a, int var, int pt, int i, int j, int which) {
    if (which == 2) return grid_loo_harm(a, var, pt, i, j);
    double d = grid_ct_pair(a, var, pt, i, j);
    if (which == 0) return d;
    int b = baseline_group(a, var);
    return b >= 0 && a->groups[b].n ? eval_ct_karan(d, 0, a->groups[b].eff_mean[i]) : NAN;
}

// Joint against alone, per joint group and acting collective: the difference and Karan's CT.
static void md_joint_table(const aca_grid_agg *a, aca_buf *md) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll;
    int any_ct = 0;
    for (int q = 0; q < a->n_groups && !any_ct; q++)
        for (int i = 0; i < N; i++) any_ct |= isfinite(a->groups[q].ct_mean[i]);
    if (any_ct) {
        buf_puts(md, "\n## Joint against alone, same levels, paired by trial\n\n"
                     "\u0394 joint\u2212alone = eff_i(joint) \u2212 eff_i(alone), in points. CT (Karan) = "
                     "\u0394 joint\u2212alone / eff_i(unpoisoned), per trial (Karan et al. 2025's constructiveness "
                     "score; n/a where the unpoisoned model's efficacy is 0 or was not run).\n\n"
                     "| variant | acting | levels | collective | eff alone | eff joint | \u0394 joint\u2212alone (points) "
                     "| unpoisoned eff | CT (Karan) | pairs |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (int q = 0; q < a->n_groups; q++) {
            const aca_grid_group *gr = &a->groups[q];
            for (int i = 0; i < N; i++) {
                if (!isfinite(gr->ct_mean[i])) continue;
                int al = grid_find_group(a, gr->variant, 1u << i, gr->level_idx), b = baseline_group(a, gr->variant);
                aca_buf v = {0}, lv = {0}, ac = {0};
                variant_text(g, gr->variant, &v);
                levels_text(g, gr->acting, gr->level_idx, " ", &lv);
                for (int j = 0; j < N; j++)
                    if (gr->acting >> j & 1) buf_printf(&ac, "%s%s", ac.len ? "+" : "", g->coll[j].name);
                buf_printf(md, "| %s | %s | %s | %s |", v.data, ac.data, lv.data, g->coll[i].name);
                md_pct(md, al >= 0 ? a->groups[al].eff_mean[i] : NAN, 0, 0);
                md_pct(md, gr->eff_mean[i], 0, 0);
                if (gr->ct_n[i] > 1) buf_printf(md, " %+.1f ± %.1f |", 100 * gr->ct_mean[i], 100 * gr->ct_std[i]);
                else buf_printf(md, " %+.1f |", 100 * gr->ct_mean[i]);
                md_pct(md, b >= 0 ? a->groups[b].eff_mean[i] : NAN, 0, 0);
                if (!isfinite(gr->ctk_mean[i])) buf_puts(md, " n/a |");
                else if (gr->ctk_n[i] > 1) buf_printf(md, " %+.2f ± %.2f |", gr->ctk_mean[i], gr->ctk_std[i]);
                else buf_printf(md, " %+.2f |", gr->ctk_mean[i]);
                buf_printf(md, " %d |\n", gr->ct_n[i]);
                buf_free(&v), buf_free(&lv), buf_free(&ac);
            }
        }
    }
}

// Pairwise matrices and leave-one-out harm (line mode, per point).
static void md_pair_tables(const aca_grid_agg *a, aca_buf *md) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, n_var = grid_n_variants(g);
    const unsigned all = (1u << N) - 1;
    if (g->mode == GRID_MODE_LINE && N >= 2) {
        const int P = g->coll[0].n_levels;
        static const char *const titles[3] = {
            "Pairwise \u0394(i,j) = eff_i(i and j joint) \u2212 eff_i(i alone), points",
            "Pairwise CT (Karan)(i,j) = \u0394(i,j) / eff_i(unpoisoned), from the means over trials",
            "Leave-one-out harm of j on i = eff_i(all) \u2212 eff_i(all but j), points"};
        for (int var = 0; var < n_var; var++)
            for (int pt = 0; pt < P; pt++) {
                int have[3] = {0, 0, 0};
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < N; j++)
                        for (int w = 0; w < 3; w++)
                            have[w] |= (w < 2 || N > 2) && isfinite(pair_value(a, var, pt, i, j, w)); // N = 2: LOO = alone
                aca_buf v = {0}, lv = {0};
                variant_text(g, var, &v);
                int lvi[GRID_MAX_COLL];
                for (int i = 0; i < N; i++) lvi[i] = pt;
                levels_text(g, all, lvi, " ", &lv);
                for (int w = 0; w < 3; w++) {
                    if (!have[w]) continue;
                    buf_printf(md, "\n## %s (%s; %s)\n\n", titles[w], lv.data, v.data);
                    buf_puts(md, "| i \\ j |");
                    for (int j = 0; j < N; j++) buf_printf(md, " %s |", g->coll[j].name);
                    buf_puts(md, "\n|---|");
                    for (int j = 0; j < N; j++) buf_puts(md, "---|");
                    buf_putc(md, '\n');
                    for (int i = 0; i < N; i++) {
                        buf_printf(md, "| %s |", g->coll[i].name);
                        for (int j = 0; j < N; j++) {
                            double x = pair_value(a, var, pt, i, j, w);
                            if (w != 1) md_pts(md, x);
                            else if (isfinite(x)) buf_printf(md, " %+.2f |", x);
                            else buf_puts(md, " – |");
                        }
                        buf_putc(md, '\n');
                    }
                }
                buf_free(&v), buf_free(&lv);
            }
    }
}

int grid_write_summary(const aca_grid_agg *a, aca_buf *csv, aca_buf *md) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll;
    const unsigned all = (1u << N) - 1;
    const int T = g->trials;
    // ---- CSV: one row per (group, collective)
    buf_puts(csv, "variant,condition,acting,levels,collective,acts,n_trials,clean_acc_mean,clean_acc_std,eff_mean,"
                  "eff_std,eff_nontarget_mean,eff_nontarget_std,delta_joint_alone_mean,delta_joint_alone_std,"
                  "ct_karan_mean,ct_karan_std\n");
    for (int q = 0; q < a->n_groups; q++) {
        const aca_grid_group *gr = &a->groups[q];
        aca_buf v = {0}, ac = {0}, lv = {0};
        variant_text(g, gr->variant, &v);
        for (int i = 0; i < N; i++)
            if (gr->acting >> i & 1) buf_printf(&ac, "%s%s", ac.len ? ";" : "", g->coll[i].name);
        levels_text(g, gr->acting, gr->level_idx, ";", &lv);
        for (int i = 0; i < N; i++) {
            buf_printf(csv, "%s,%s,%s,%s,%s,%d,%d", v.data, kind_name(gr->kind), ac.len ? ac.data : "",
                       lv.len ? lv.data : "", g->coll[i].name, (int)(gr->acting >> i & 1), gr->n);
            csv_num(csv, gr->acc_mean), csv_num(csv, gr->acc_std);
            csv_num(csv, gr->eff_mean[i]), csv_num(csv, gr->eff_std[i]);
            csv_num(csv, gr->eff_nt_mean[i]), csv_num(csv, gr->eff_nt_std[i]);
            csv_num(csv, gr->ct_mean[i]), csv_num(csv, gr->ct_std[i]);
            csv_num(csv, gr->ctk_mean[i]), csv_num(csv, gr->ctk_std[i]);
            buf_putc(csv, '\n');
        }
        buf_free(&v), buf_free(&ac), buf_free(&lv);
    }
    // ---- Markdown
    buf_printf(md, "# Grid `%s`\n\n%d of %d cells finished; %d trial%s; mode %s; %d collective%s:", g->name, a->n_done,
               a->n_cells, T, T == 1 ? "" : "s", g->mode == GRID_MODE_LINE ? "line" : "product", N, N == 1 ? "" : "s");
    for (int i = 0; i < N; i++) buf_printf(md, "%s `%s` -> %s", i ? "," : "", g->coll[i].name, g->coll[i].target);
    buf_puts(md, ".\nEfficacy = share of the collective's probes (test docs with its signal) predicted as its target; "
                 "non-target = over probes whose true class is not the target. Percent, mean ± sample std over "
                 "trials. In unpoisoned and alone rows the other collectives' columns are their probes' efficacy "
                 "while they do not act.\n\n");
    // Efficacy table.
    buf_puts(md, "## Clean accuracy and efficacy\n\n| variant | condition | levels | n | clean acc |");
    for (int i = 0; i < N; i++) buf_printf(md, " eff %s | non-target %s |", g->coll[i].name, g->coll[i].name);
    buf_puts(md, "\n|---|---|---|---|---|");
    for (int i = 0; i < N; i++) buf_puts(md, "---|---|");
    buf_putc(md, '\n');
    for (int q = 0; q < a->n_groups; q++) {
        const aca_grid_group *gr = &a->groups[q];
        aca_buf v = {0}, lv = {0};
        variant_text(g, gr->variant, &v);
        levels_text(g, gr->acting, gr->level_idx, " ", &lv);
        buf_printf(md, "| %s | %s | %s | %d |", v.data, kind_name(gr->kind), lv.len ? lv.data : "–", gr->n);
        md_pct(md, gr->acc_mean, gr->acc_std, 1);
        for (int i = 0; i < N; i++) md_pct(md, gr->eff_mean[i], gr->eff_std[i], 1), md_pct(md, gr->eff_nt_mean[i], gr->eff_nt_std[i], 1);
        buf_putc(md, '\n');
        buf_free(&v), buf_free(&lv);
    }
    md_joint_table(a, md);
    md_pair_tables(a, md);
    // Clean-accuracy cost to non-members per class: recall(unpoisoned) - recall(joint of all).
    if (a->K > 0 && N >= 1) {
        int header = 0;
        for (int q = 0; q < a->n_groups; q++) {
            const aca_grid_group *gr = &a->groups[q];
            int b = baseline_group(a, gr->variant);
            if (gr->acting != all || gr->kind == GRID_CELL_BASELINE || b < 0 || !gr->recall_mean ||
                !a->groups[b].recall_mean || !gr->n || !a->groups[b].n)
                continue;
            if (!header) {
                buf_puts(md, "\n## Clean-accuracy cost per class: recall(unpoisoned) − recall(all joint), points "
                             "(test documents are never members)\n\n| variant | levels |");
                for (int k = 0; k < a->K; k++) buf_printf(md, " %s |", a->classes[k]);
                buf_puts(md, "\n|---|---|");
                for (int k = 0; k < a->K; k++) buf_puts(md, "---|");
                buf_putc(md, '\n');
                header = 1;
            }
            aca_buf v = {0}, lv = {0};
            variant_text(g, gr->variant, &v);
            levels_text(g, gr->acting, gr->level_idx, " ", &lv);
            buf_printf(md, "| %s | %s |", v.data, lv.data);
            for (int k = 0; k < a->K; k++) md_pts(md, a->groups[b].recall_mean[k] - gr->recall_mean[k]);
            buf_putc(md, '\n');
            buf_free(&v), buf_free(&lv);
        }
    }
    return 0;
}

// ---- plots -------------------------------------------------------------------------------------
static void gp_str(aca_buf *b, const char *s) {
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '\n') {
            buf_puts(b, "\\n");
            continue;
        }
        if (*s == '"' || *s == '\\') buf_putc(b, '\\');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void dat_num(aca_buf *b, double x) {
    if (isfinite(x)) buf_printf(b, " %.6g", x);
    else buf_puts(b, " NaN");
}

// Terminal switch and output for both formats: the script draws once per format.
static void gp_outputs(aca_buf *gp, const char *stem, const char *draw, int w, int h) {
    buf_printf(gp, "set terminal pngcairo size %d,%d noenhanced font \",10\"\nset output \"%s.png\"\n%s", w, h, stem, draw);
    buf_printf(gp, "set terminal svg size %d,%d noenhanced font \"sans,10\"\nset output \"%s.svg\"\n%sunset output\n", w, h,
               stem, draw);
}

static double level_x(const aca_grid_spec *g, int i, int l) {
    return g->coll[i].is_count ? g->coll[i].levels[l] : 100 * g->coll[i].levels[l];
}

// Figure 3: per variant, efficacy vs participation; per collective a dashed alone and a solid joint
// curve (with the trials' std as error bars) and the unpoisoned model's rate as a dotted line.
static int plot_fig3(const aca_grid_agg *a, const char *dir, int var, aca_buf *scripts, aca_err *e) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, P = g->coll[0].n_levels;
    const unsigned all = (1u << N) - 1;
    aca_buf dat = {0}, v = {0}, draw = {0}, gp = {0};
    variant_text(g, var, &v);
    char stem[128];
    if (grid_n_variants(g) > 1) snprintf(stem, sizeof stem, "fig3-v%d", var);
    else snprintf(stem, sizeof stem, "fig3");
    int b = baseline_group(a, var);
    int any = 0;
    for (int i = 0; i < N; i++) {
        buf_printf(&dat, "# %s: x alone_mean alone_std joint_mean joint_std unpoisoned_eff\n", g->coll[i].name);
        for (int l = 0; l < P; l++) {
            int lv[GRID_MAX_COLL];
            for (int k = 0; k < N; k++) lv[k] = l;
            int qa = grid_find_group(a, var, 1u << i, lv), qj = N > 1 ? grid_find_group(a, var, all, lv) : -1;
            double am = qa >= 0 && a->groups[qa].n ? a->groups[qa].eff_mean[i] : NAN;
            double jm = qj >= 0 && a->groups[qj].n ? a->groups[qj].eff_mean[i] : NAN;
            any |= isfinite(am) || isfinite(jm);
            buf_printf(&dat, "%g", level_x(g, i, l));
            dat_num(&dat, 100 * am), dat_num(&dat, qa >= 0 ? 100 * a->groups[qa].eff_std[i] : NAN);
            dat_num(&dat, 100 * jm), dat_num(&dat, qj >= 0 ? 100 * a->groups[qj].eff_std[i] : NAN);
            dat_num(&dat, b >= 0 && a->groups[b].n ? 100 * a->groups[b].eff_mean[i] : NAN);
            buf_putc(&dat, '\n');
        }
        buf_puts(&dat, "\n\n");
    }
    int rc = 0;
    if (!any) goto done;
    char fn[160];
    snprintf(fn, sizeof fn, "%s.dat", stem);
    char *p = path_join(dir, fn);
    rc = file_write_atomic(p, dat.data, dat.len, e);
    free(p);
    if (rc) goto done;
    buf_puts(&draw, "plot ");
    for (int i = 0; i < N; i++) {
        char t[200];
        snprintf(t, sizeof t, "%s alone", g->coll[i].name);
        buf_printf(&draw, "%s\"%s\" index %d using 1:2:3 with yerrorlines dt 2 lw 2 pt 7 lc %d title ", i ? ", \\\n  " : "",
                   fn, i, i + 1);
        gp_str(&draw, t);
        if (N > 1) {
            snprintf(t, sizeof t, "%s joint", g->coll[i].name);
            buf_printf(&draw, ", \\\n  \"%s\" index %d using 1:4:5 with yerrorlines dt 1 lw 2 pt 5 lc %d title ", fn, i,
                       i + 1);
            gp_str(&draw, t);
        }
        if (b >= 0) {
            snprintf(t, sizeof t, "%s unpoisoned", g->coll[i].name);
            buf_printf(&draw, ", \\\n  \"%s\" index %d using 1:6 with lines dt 3 lw 1 lc %d title ", fn, i, i + 1);
            gp_str(&draw, t);
        }
    }
    buf_putc(&draw, '\n');
    buf_puts(&gp, "# Figure 3 style: efficacy vs participation; dashed = alone, solid = joint, dotted = unpoisoned model\n");
    buf_puts(&gp, "set title ");
    {
        char t[400];
        snprintf(t, sizeof t, "%s\n(%s%s%d trial%s)", g->name, strcmp(v.data, "-") ? v.data : "",
                 strcmp(v.data, "-") ? "; " : "", g->trials, g->trials == 1 ? "" : "s");
        gp_str(&gp, t);
    }
    buf_printf(&gp, "\nset xlabel \"%s\"\nset ylabel \"efficacy (%% of probes predicted as target)\"\n",
               g->coll[0].is_count ? "collective size (members)" : "participation (% of training set)");
    buf_puts(&gp, "set yrange [0:105]\nset key bottom right\nset grid\nset logscale x\n");
    buf_puts(&gp, "set xtics (");
    for (int l = 0; l < P; l++) buf_printf(&gp, "%s\"%g\" %g", l ? ", " : "", level_x(g, 0, l), level_x(g, 0, l));
    buf_puts(&gp, ")\n");
    if (P == 1) buf_printf(&gp, "set xrange [%g:%g]\n", level_x(g, 0, 0) / 2, level_x(g, 0, 0) * 2);
    else buf_puts(&gp, "set offsets graph 0.06, graph 0.06\n");
    gp_outputs(&gp, stem, draw.data, 760, 520);
    snprintf(fn, sizeof fn, "%s.gp", stem);
    p = path_join(dir, fn);
    rc = file_write_atomic(p, gp.data, gp.len, e);
    free(p);
    if (!rc) buf_printf(scripts, "%s\n", fn);
done:
    buf_free(&dat), buf_free(&v), buf_free(&draw), buf_free(&gp);
    return rc;
}

// Figure 4: for two collectives in product mode, one heat map per collective of its joint efficacy,
// of its joint-alone difference and of Karan's CT over (level of collective 1, level of collective 2).
static const char *const FIG4_STEM[3] = {"eff", "delta", "ctk"};
static const char *const FIG4_WHAT[3] = {"efficacy (%)", "eff(joint) - eff(alone), points",
                                         "CT (Karan) = (eff(joint) - eff(alone)) / eff(unpoisoned)"};

static double fig4_value(const aca_grid_group *gr, int i, int what) {
    return what == 0 ? 100 * gr->eff_mean[i] : what == 1 ? 100 * gr->ct_mean[i] : gr->ctk_mean[i];
}

static int plot_fig4(const aca_grid_agg *a, const char *dir, int var, aca_buf *scripts, aca_err *e) {
    const aca_grid_spec *g = a->g;
    if (g->n_coll != 2 || g->mode != GRID_MODE_PRODUCT) return 0;
    const int n0 = g->coll[0].n_levels, n1 = g->coll[1].n_levels;
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        for (int what = 0; what < 3 && !rc; what++) {
            aca_buf dat = {0}, gp = {0}, draw = {0}, tics = {0};
            char stem[200], fn[240];
            snprintf(stem, sizeof stem, "fig4-%s-%s", g->coll[i].name, FIG4_STEM[what]);
            if (grid_n_variants(g) > 1) snprintf(stem + strlen(stem), sizeof stem - strlen(stem), "-v%d", var);
            int any = 0;
            double zmax = 0;
            for (int x = 0; x < n0; x++) {
                for (int y = 0; y < n1; y++) {
                    int lv[GRID_MAX_COLL] = {x, y};
                    int q = grid_find_group(a, var, 3u, lv);
                    double z = NAN;
                    if (q >= 0 && a->groups[q].n) z = fig4_value(&a->groups[q], i, what);
                    any |= isfinite(z);
                    if (isfinite(z) && fabs(z) > zmax) zmax = fabs(z);
                    buf_printf(&dat, "%d %d", x, y);
                    dat_num(&dat, z);
                    buf_putc(&dat, '\n');
                }
                buf_putc(&dat, '\n');
            }
            if (any) {
                snprintf(fn, sizeof fn, "%s.dat", stem);
                char *p = path_join(dir, fn);
                rc = file_write_atomic(p, dat.data, dat.len, e);
                free(p);
            }
            if (any && !rc) {
                buf_printf(&gp, "# Figure 4 style: %s of %s, joint, over the two collectives' levels\n", FIG4_WHAT[what],
                           g->coll[i].name);
                char t[300];
                snprintf(t, sizeof t, "%s\n%s %s, joint", g->name, g->coll[i].name, FIG4_WHAT[what]);
                buf_puts(&gp, "set title ");
                gp_str(&gp, t);
                buf_puts(&gp, "\nset xtics (");
                for (int x = 0; x < n0; x++) {
                    char l[64];
                    grid_level_str(g, 0, x, l, sizeof l);
                    buf_printf(&gp, "%s\"%s\" %d", x ? ", " : "", l, x);
                }
                buf_puts(&gp, ")\nset ytics (");
                for (int y = 0; y < n1; y++) {
                    char l[64];
                    grid_level_str(g, 1, y, l, sizeof l);
                    buf_printf(&gp, "%s\"%s\" %d", y ? ", " : "", l, y);
                }
                buf_puts(&gp, ")\nset xlabel ");
                snprintf(t, sizeof t, "%s %s", g->coll[0].name, g->coll[0].is_count ? "members" : "participation");
                gp_str(&gp, t);
                buf_puts(&gp, "\nset ylabel ");
                snprintf(t, sizeof t, "%s %s", g->coll[1].name, g->coll[1].is_count ? "members" : "participation");
                gp_str(&gp, t);
                buf_printf(&gp, "\nset xrange [-0.5:%g]\nset yrange [-0.5:%g]\n", n0 - 0.5, n1 - 0.5);
                // Differences: a diverging palette symmetric around 0 (points: +-100; Karan's CT is
                // unbounded, so its range is the largest |value|).
                double lim = what == 1 ? 100 : zmax > 0 ? zmax : 1;
                if (what) buf_printf(&gp, "set cbrange [%g:%g]\nset palette defined (-1 \"#b2182b\", 0 \"white\", 1 \"#2166ac\")\n", -lim, lim);
                else buf_puts(&gp, "set cbrange [0:100]\nset palette defined (0 \"white\", 100 \"#1b7837\")\n");
                buf_printf(&draw, "plot \"%s\" using 1:2:3 with image notitle, \"%s\" using 1:2:(sprintf(\"%s\", $3)) "
                                  "with labels notitle\n",
                           fn, fn, what == 2 ? "%.2f" : "%.0f");
                gp_outputs(&gp, stem, draw.data, 560, 480);
                snprintf(fn, sizeof fn, "%s.gp", stem);
                char *p = path_join(dir, fn);
                rc = file_write_atomic(p, gp.data, gp.len, e);
                free(p);
                if (!rc) buf_printf(scripts, "%s\n", fn);
            }
            buf_free(&dat), buf_free(&gp), buf_free(&draw), buf_free(&tics);
        }
    return rc;
}

static int have_gnuplot(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

void grid_run_gnuplot(const char *dir, const char *script) {
    if (!have_gnuplot()) return; // grid_write_plots says so once
    aca_buf cmd = {0};
    buf_puts(&cmd, "cd '");
    for (const char *c = dir; *c; c++) buf_puts(&cmd, *c == '\'' ? "'\\''" : (char[]){*c, 0});
    buf_printf(&cmd, "' && gnuplot '%s' 2>&1", script);
    int r = system(cmd.data);
    if (r != 0) log_warn("gnuplot %s/%s failed (exit %d); the script and data stay there", dir, script, r);
    buf_free(&cmd);
}

int grid_write_plots(const aca_grid_agg *a, const char *dir, int run_gnuplot, aca_err *e) {
    const aca_grid_spec *g = a->g;
    if (dir_make(dir, e)) return -1;
    aca_buf scripts = {0};
    int rc = 0;
    for (int var = 0; var < grid_n_variants(g) && !rc; var++) {
        if (g->mode == GRID_MODE_LINE && g->alone) rc = plot_fig3(a, dir, var, &scripts, e);
        if (!rc) rc = plot_fig4(a, dir, var, &scripts, e);
    }
    if (!rc && run_gnuplot && scripts.len) {
        if (!have_gnuplot()) {
            log_warn("gnuplot not found: the plot scripts are in %s (install gnuplot, then run `gnuplot FILE.gp` there)",
                     dir);
        } else {
            for (char *s = scripts.data, *nl; *s; s = nl + 1) {
                nl = strchr(s, '\n');
                *nl = 0;
                grid_run_gnuplot(dir, s);
            }
        }
    }
    buf_free(&scripts);
    return rc;
}

// ---- bundle and report -------------------------------------------------------------------------
static int copy_file(const char *from, const char *to, aca_err *e) {
    aca_buf b = {0};
    int rc = file_read_all(from, &b, e) || file_write_atomic(to, b.data ? b.data : "", b.len, e);
    buf_free(&b);
    return rc ? -1 : 0;
}

static int write_str(const char *dir, const char *name, const aca_buf *b, aca_err *e) {
    char *p = path_join(dir, name);
    int rc = file_write_atomic(p, b->data ? b->data : "", b->len, e);
    free(p);
    return rc;
}

// sha256.txt: the inputs' hashes as recorded when the grid's cells were checked against them.
static void hash_lines(const aca_grid_spec *g, const char *out_dir, aca_buf *b) {
    const aca_grid_inputs *in;
    aca_err e = {0};
    if (grid_inputs(g, out_dir, &in, &e)) {
        buf_printf(b, "-  (the inputs could not be hashed: %s)\n", e.msg);
        return;
    }
    for (int k = 0; k < in->n; k++)
        buf_printf(b, "%s  %s  (%s; GRID.json %s)\n", in->v[k].sha256, in->v[k].path, in->v[k].role, in->v[k].field);
}

static int write_bundle(const aca_grid_spec *g, const char *out_dir, const aca_grid_agg *a, const aca_buf *csv,
                        const aca_buf *md, aca_err *e) {
    char *bd = path_join(out_dir, "bundle"), *bplots = path_join(bd, "plots"), *plots = path_join(out_dir, "plots");
    aca_buf b = {0};
    int rc = -1;
    if (dir_make(bplots, e)) goto done;
    char *p = path_join(bd, "grid.json");
    int r = copy_file(g->path, p, e);
    free(p);
    if (r) goto done;
    for (int k = 0; k < a->K; k++) buf_printf(&b, "%s\n", a->classes[k]);
    if (write_str(bd, "classes.txt", &b, e)) goto done;
    buf_clear(&b);
    hash_lines(g, out_dir, &b);
    if (write_str(bd, "sha256.txt", &b, e)) goto done;
    buf_clear(&b);
    grid_results_collect(out_dir, a->cells, a->n_cells, &b); // in cell order
    if (write_str(bd, "results.jsonl", &b, e) || write_str(bd, "summary.csv", csv, e) || write_str(bd, "summary.md", md, e))
        goto done;
    // Each finished cell's data manifest (split, seed, member ids of every collective).
    {
        char *mdir = path_join(bd, "manifests");
        if (dir_make(mdir, e)) {
            free(mdir);
            goto done;
        }
        for (int k = 0; k < a->n_cells; k++) {
            if (!a->m[k].have) continue;
            char *cells = path_join(out_dir, "cells"), *cd = path_join(cells, a->cells[k].id);
            char *from = path_join(cd, "manifest.json"), name[300];
            snprintf(name, sizeof name, "%s.json", a->cells[k].id);
            char *to = path_join(mdir, name);
            int cr = file_exists(from) ? copy_file(from, to, e) : 0; // cells of an older aca have none
            free(cells), free(cd), free(from), free(to);
            if (cr) {
                free(mdir);
                goto done;
            }
        }
        free(mdir);
    }
    buf_clear(&b);
    buf_printf(&b, "aca grid bundle of '%s' (aca %s)\n\nReproduce: aca grid grid.json --out DIR (with the corpus and model "
                   "whose sha256 sums are in sha256.txt at the paths named there).\n%d of %d cells finished; "
                   "results.jsonl holds their results in cell order; manifests/<cell>.json their data "
                   "manifests (split, seed, member ids).\n",
               g->name, aca_git_revision(), a->n_done, a->n_cells);
    if (write_str(bd, "README.txt", &b, e)) goto done;
    DIR *d = opendir(plots);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *n = de->d_name, *dot = strrchr(n, '.');
        if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg") && strcmp(dot, ".gp") && strcmp(dot, ".dat"))) continue;
        char *from = path_join(plots, n), *to = path_join(bplots, n);
        r = copy_file(from, to, e);
        free(from), free(to);
        if (r) {
            closedir(d);
            goto done;
        }
    }
    if (d) closedir(d);
    rc = 0;
done:
    buf_free(&b);
    free(bd), free(bplots), free(plots);
    return rc;
}

int grid_report(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e) {
    if (grid_out_is_grid(out_dir, e) || grid_results_rebuild(out_dir, a->cells, a->n_cells, e)) return -1;
    aca_buf csv = {0}, md = {0};
    char *plots = path_join(out_dir, "plots");
    int rc = grid_write_summary(a, &csv, &md);
    if (!rc) rc = grid_planner_report(g, out_dir, a, &md, e);
    if (!rc) rc = write_str(out_dir, "summary.csv", &csv, e) || write_str(out_dir, "summary.md", &md, e);
    if (!rc) rc = grid_write_plots(a, plots, 1, e);
    if (!rc) rc = write_bundle(g, out_dir, a, &csv, &md, e);
    buf_free(&csv), buf_free(&md);
    free(plots);
    return rc ? -1 : 0;
}

// ---- Slurm -------------------------------------------------------------------------------------
static void sh_quote(aca_buf *b, const char *s) {
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') buf_puts(b, "'\\''");
        else buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

// An absolute path (realpath when it exists, else cwd/path).
static char *abs_path(const char *p) {
    char buf[PATH_MAX];
    if (realpath(p, buf)) return xstrdup(buf);
    if (p[0] == '/') return xstrdup(p);
    if (!getcwd(buf, sizeof buf)) return xstrdup(p);
    return path_join(buf, p);
}

int grid_emit_slurm(const aca_grid_spec *g, const char *grid_path, const char *out_dir, const char *exe,
                    const char *path, int n_cells, aca_err *e) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return aca_errf(e, ACA_ERR_IO, "cannot read the working directory");
    char *aexe = abs_path(exe), *agrid = abs_path(grid_path), *aout = abs_path(out_dir);
    char *logs = path_join(aout, "slurm");
    aca_buf b = {0};
    int rc = dir_make(logs, e);
    if (!rc) {
        buf_printf(&b, "#!/bin/bash\n# aca grid '%s': %d cells, one per array task.  A finished cell is skipped, so this\n"
                       "# script can simply be resubmitted after failures.  When every task is done:\n#   ",
                   g->name, n_cells);
        sh_quote(&b, aexe);
        buf_puts(&b, " grid ");
        sh_quote(&b, agrid);
        buf_puts(&b, " --out ");
        sh_quote(&b, aout);
        buf_puts(&b, " --report\n#SBATCH --job-name=aca-grid\n");
        buf_printf(&b, "#SBATCH --array=0-%d\n#SBATCH --output=%s/%%A_%%a.out\n", n_cells - 1, logs);
        if (!strcmp(g->device, "cuda")) buf_puts(&b, "#SBATCH --gres=gpu:1\n");
        buf_puts(&b, "set -euo pipefail\ncd ");
        sh_quote(&b, cwd);
        buf_puts(&b, "\nexec ");
        sh_quote(&b, aexe);
        buf_puts(&b, " grid ");
        sh_quote(&b, agrid);
        buf_puts(&b, " --out ");
        sh_quote(&b, aout);
        buf_puts(&b, " --cell \"$SLURM_ARRAY_TASK_ID\"\n");
        rc = file_write_atomic(path, b.data, b.len, e);
    }
    buf_free(&b);
    free(aexe), free(agrid), free(aout), free(logs);
    return rc;
}
