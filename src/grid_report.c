// The grid's report: OUT/summary.csv and OUT/summary.md (means and sample stds over trials, the
// joint-alone difference and Karan et al.'s CT, the pairwise matrices, leave-one-out harm, per-class
// recall cost, the planner's bound beside the measured success), the figures (grid_plots.c) and the
// reproduction bundle OUT/bundle/.
#include "grid_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(aca_grid_cell_kind k) {
    return k == GRID_CELL_BASELINE ? "unpoisoned" : k == GRID_CELL_ALONE ? "alone" : "joint";
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

// Line point pt of a variant: 0 the pairwise difference eff_i({i,j}) - eff_i(i alone); 1 that over
// the unpoisoned efficacy of i (Karan's CT, from the means); 2 the leave-one-out harm of j on i.
static double pair_value(const aca_grid_agg *a, int var, int pt, int i, int j, int which) {
    if (which == 2) return grid_loo_harm(a, var, pt, i, j);
    double d = grid_ct_pair(a, var, pt, i, j);
    if (which == 0) return d;
    int b = grid_baseline_group(a, var);
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
                int al = grid_find_group(a, gr->variant, 1u << i, gr->level_idx), b = grid_baseline_group(a, gr->variant);
                aca_buf v = {0}, lv = {0}, ac = {0};
                grid_variant_text(g, gr->variant, &v);
                grid_levels_text(g, gr->acting, gr->level_idx, " ", &lv);
                grid_acting_names(g, gr->acting, "+", &ac);
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
                grid_variant_text(g, var, &v);
                int lvi[GRID_MAX_COLL];
                for (int i = 0; i < N; i++) lvi[i] = pt;
                grid_levels_text(g, all, lvi, " ", &lv);
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

// ---- summary.csv: one row per (group, collective) ----------------------------------------------
static void summary_csv(const aca_grid_agg *a, aca_buf *csv) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll;
    buf_puts(csv, "variant,condition,acting,levels,collective,acts,n_trials,clean_acc_mean,clean_acc_std,eff_mean,"
                  "eff_std,eff_nontarget_mean,eff_nontarget_std,delta_joint_alone_mean,delta_joint_alone_std,"
                  "ct_karan_mean,ct_karan_std\n");
    for (int q = 0; q < a->n_groups; q++) {
        const aca_grid_group *gr = &a->groups[q];
        aca_buf v = {0}, ac = {0}, lv = {0};
        grid_variant_text(g, gr->variant, &v);
        grid_acting_names(g, gr->acting, ";", &ac);
        grid_levels_text(g, gr->acting, gr->level_idx, ";", &lv);
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
}

// ---- summary.md ----------------------------------------------------------------------------------
// The title, what the numbers mean, and the clean accuracy and efficacy of every group.
static void md_efficacy_table(const aca_grid_agg *a, aca_buf *md) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, T = g->trials;
    buf_printf(md, "# Grid `%s`\n\n%d of %d cells finished; %d trial%s; mode %s; %d collective%s:", g->name, a->n_done,
               a->n_cells, T, T == 1 ? "" : "s", g->mode == GRID_MODE_LINE ? "line" : "product", N, N == 1 ? "" : "s");
    for (int i = 0; i < N; i++) buf_printf(md, "%s `%s` -> %s", i ? "," : "", g->coll[i].name, g->coll[i].target);
    buf_puts(md, ".\nEfficacy = share of the collective's probes (test docs with its signal) predicted as its target; "
                 "non-target = over probes whose true class is not the target. Percent, mean ± sample std over "
                 "trials. In unpoisoned and alone rows the other collectives' columns are their probes' efficacy "
                 "while they do not act.\n\n");
    buf_puts(md, "## Clean accuracy and efficacy\n\n| variant | condition | levels | n | clean acc |");
    for (int i = 0; i < N; i++) buf_printf(md, " eff %s | non-target %s |", g->coll[i].name, g->coll[i].name);
    buf_puts(md, "\n|---|---|---|---|---|");
    for (int i = 0; i < N; i++) buf_puts(md, "---|---|");
    buf_putc(md, '\n');
    for (int q = 0; q < a->n_groups; q++) {
        const aca_grid_group *gr = &a->groups[q];
        aca_buf v = {0}, lv = {0};
        grid_variant_text(g, gr->variant, &v);
        grid_levels_text(g, gr->acting, gr->level_idx, " ", &lv);
        buf_printf(md, "| %s | %s | %s | %d |", v.data, kind_name(gr->kind), lv.len ? lv.data : "–", gr->n);
        md_pct(md, gr->acc_mean, gr->acc_std, 1);
        for (int i = 0; i < N; i++) md_pct(md, gr->eff_mean[i], gr->eff_std[i], 1), md_pct(md, gr->eff_nt_mean[i], gr->eff_nt_std[i], 1);
        buf_putc(md, '\n');
        buf_free(&v), buf_free(&lv);
    }
}

// Clean-accuracy cost to non-members per class: recall(unpoisoned) - recall(joint of all).
static void md_recall_table(const aca_grid_agg *a, aca_buf *md) {
    const aca_grid_spec *g = a->g;
    const unsigned all = (1u << g->n_coll) - 1;
    if (a->K <= 0 || g->n_coll < 1) return;
    int header = 0;
    for (int q = 0; q < a->n_groups; q++) {
        const aca_grid_group *gr = &a->groups[q];
        int b = grid_baseline_group(a, gr->variant);
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
        grid_variant_text(g, gr->variant, &v);
        grid_levels_text(g, gr->acting, gr->level_idx, " ", &lv);
        buf_printf(md, "| %s | %s |", v.data, lv.data);
        for (int k = 0; k < a->K; k++) md_pts(md, a->groups[b].recall_mean[k] - gr->recall_mean[k]);
        buf_putc(md, '\n');
        buf_free(&v), buf_free(&lv);
    }
}

int grid_write_summary(const aca_grid_agg *a, aca_buf *csv, aca_buf *md) {
    summary_csv(a, csv);
    md_efficacy_table(a, md);
    md_joint_table(a, md);
    md_pair_tables(a, md);
    md_recall_table(a, md);
    return 0;
}

// The planner's section (the aggregate's stairs): its bound beside the measured success.
static void md_planner_table(const aca_grid_spec *g, const grid_stairs *st, aca_buf *md) {
    buf_printf(md, "\n## Planner bound vs measured success (Gauthier, Bach & Jordan 2025)\n\n"
                   "Lower bound on success with probability >= %g (classifier eps = 0; %s bounds, formula per row: "
                   "docs/plan.md), for n members on a platform of N = %ld training documents, success measured on "
                   "the %ld test probes, from the clean corpus' statistics (%zu documents); measured: mean ± std "
                   "over trials of the alone runs. Success = efficacy (feature-label), 1 − efficacy (unplant), or "
                   "agreement with the unmodified document's prediction (erase).\n\n",
               1 - st->pp.delta, plan_bound_kind_name(st->pp.kind), st->N, st->pp.n_test, st->corpus_docs);
    buf_puts(md, "| variant | collective | strategy | formula | level | n | bound | measured | bound <= measured |\n"
                 "|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < st->n_rows; r++) {
        const grid_stair_row *row = &st->rows[r];
        char lt[64], vt[64] = "-";
        grid_level_str(g, row->coll, row->level, lt, sizeof lt);
        if (grid_n_variants(g) > 1) snprintf(vt, sizeof vt, "v%d", row->variant);
        buf_printf(md, "| %s | %s | %s | %s | %s | %ld | ", vt, g->coll[row->coll].name, plan_strategy_name(row->strategy),
                   plan_formula(row->strategy, st->pp.kind), lt, row->n);
        if (isfinite(row->bound)) buf_printf(md, "%.3f", row->bound);
        else buf_puts(md, "n/a");
        if (isfinite(row->meas_mean))
            buf_printf(md, " | %.3f ± %.3f | %s |\n", row->meas_mean, isfinite(row->meas_std) ? row->meas_std : 0.0,
                       !isfinite(row->bound) ? "n/a" : row->bound <= row->meas_mean ? "yes" : "NO");
        else buf_puts(md, " | not run | n/a |\n");
    }
}

// ---- the bundle ----------------------------------------------------------------------------------
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

// bundle/manifests/<cell>.json: each finished cell's data manifest (split, seed, member ids).
static int bundle_manifests(const char *out_dir, const char *bd, const aca_grid_agg *a, aca_err *e) {
    char *mdir = path_join(bd, "manifests");
    int rc = dir_make(mdir, e);
    for (int k = 0; k < a->n_cells && !rc; k++) {
        if (!a->m[k].have) continue;
        char *from = grid_cell_path(out_dir, &a->cells[k], "manifest.json"), name[300];
        snprintf(name, sizeof name, "%s.json", a->cells[k].id);
        char *to = path_join(mdir, name);
        rc = file_exists(from) ? copy_file(from, to, e) : 0; // cells of an older aca have none
        free(from), free(to);
    }
    free(mdir);
    return rc;
}

// bundle/plots/: the figures' data, scripts and images.
static int bundle_plots(const char *out_dir, const char *bd, aca_err *e) {
    char *plots = path_join(out_dir, "plots"), *bplots = path_join(bd, "plots");
    DIR *d = opendir(plots);
    struct dirent *de;
    int rc = 0;
    while (!rc && d && (de = readdir(d))) {
        const char *n = de->d_name, *dot = strrchr(n, '.');
        if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg") && strcmp(dot, ".gp") && strcmp(dot, ".dat"))) continue;
        char *from = path_join(plots, n), *to = path_join(bplots, n);
        rc = copy_file(from, to, e);
        free(from), free(to);
    }
    if (d) closedir(d);
    free(plots), free(bplots);
    return rc;
}

static int write_bundle(const aca_grid_spec *g, const char *out_dir, const aca_grid_agg *a, const aca_buf *csv,
                        const aca_buf *md, aca_err *e) {
    char *bd = path_join(out_dir, "bundle"), *bplots = path_join(bd, "plots"), *spec = path_join(bd, "grid.json");
    aca_buf classes = {0}, hashes = {0}, results = {0}, readme = {0};
    for (int k = 0; k < a->K; k++) buf_printf(&classes, "%s\n", a->classes[k]);
    hash_lines(g, out_dir, &hashes);
    grid_results_collect(out_dir, a->cells, a->n_cells, &results); // in cell order
    buf_printf(&readme, "aca grid bundle of '%s' (aca %s)\n\nReproduce: aca grid grid.json --out DIR (with the corpus and "
                        "model whose sha256 sums are in sha256.txt at the paths named there).\n%d of %d cells finished; "
                        "results.jsonl holds their results in cell order; manifests/<cell>.json their data "
                        "manifests (split, seed, member ids).\n",
               g->name, aca_git_revision(), a->n_done, a->n_cells);
    int rc = dir_make(bplots, e) || copy_file(g->path, spec, e) || write_str(bd, "classes.txt", &classes, e) ||
                     write_str(bd, "sha256.txt", &hashes, e) || write_str(bd, "results.jsonl", &results, e) ||
                     write_str(bd, "summary.csv", csv, e) || write_str(bd, "summary.md", md, e) ||
                     bundle_manifests(out_dir, bd, a, e) || write_str(bd, "README.txt", &readme, e) ||
                     bundle_plots(out_dir, bd, e)
                 ? -1
                 : 0;
    buf_free(&classes), buf_free(&hashes), buf_free(&results), buf_free(&readme);
    free(bd), free(bplots), free(spec);
    return rc;
}

// ---- the report ----------------------------------------------------------------------------------
int grid_report(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e) {
    if (grid_out_is_grid(out_dir, e) || grid_results_rebuild(out_dir, a->cells, a->n_cells, e)) return -1;
    aca_buf csv = {0}, md = {0};
    char *plots = path_join(out_dir, "plots");
    int rc = grid_write_summary(a, &csv, &md);
    if (a->stairs) md_planner_table(g, a->stairs, &md);
    if (!rc) rc = write_str(out_dir, "summary.csv", &csv, e) || write_str(out_dir, "summary.md", &md, e);
    if (!rc) rc = grid_plots_write(a, a->stairs, plots, 1, e);
    if (!rc) rc = write_bundle(g, out_dir, a, &csv, &md, e);
    buf_free(&csv), buf_free(&md);
    free(plots);
    return rc ? -1 : 0;
}
