// Aggregation of a grid's results (see include/aca/grid.h): each finished cell's metrics read back
// from its result.json, grouped over trials (mean and sample std), the joint-alone difference and
// Karan et al.'s CT paired by trial, the pairwise differences and leave-one-out harm.
#include "grid_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"

void grid_mean_std(const double *x, int n, double *mean, double *std, int *n_used) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], k++;
    if (n_used) *n_used = k;
    if (!k) {
        *mean = *std = NAN;
        return;
    }
    double m = s / k, ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = k > 1 ? sqrt(ss / (k - 1)) : 0;
}

static int same_levels(const aca_grid_spec *g, unsigned acting, const int *a, const int *b) {
    for (int i = 0; i < g->n_coll; i++)
        if ((acting >> i & 1) && a[i] != b[i]) return 0;
    return 1;
}

int grid_find_group(const aca_grid_agg *a, int variant, unsigned acting, const int *level_idx) {
    for (int k = 0; k < a->n_groups; k++) {
        const aca_grid_group *gr = &a->groups[k];
        if (gr->variant == variant && gr->acting == acting && same_levels(a->g, acting, gr->level_idx, level_idx))
            return k;
    }
    return -1;
}

// The metrics of group gr's cell in trial t, or NULL.
static const aca_grid_metrics *group_trial(const aca_grid_agg *a, const aca_grid_group *gr, int t) {
    for (int k = 0; k < a->n_cells; k++) {
        const aca_grid_cell *c = &a->cells[k];
        if (a->m[k].have && c->trial == t && c->variant == gr->variant && c->acting == gr->acting &&
            same_levels(a->g, gr->acting, c->level_idx, gr->level_idx))
            return &a->m[k];
    }
    return NULL;
}

void grid_aggregate_metrics(aca_grid_agg *a) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, T = g->trials;
    a->groups = xcalloc((size_t)a->n_cells + 1, sizeof *a->groups);
    a->n_groups = 0;
    for (int k = 0; k < a->n_cells; k++) {
        const aca_grid_cell *c = &a->cells[k];
        if (grid_find_group(a, c->variant, c->acting, c->level_idx) >= 0) continue;
        aca_grid_group *gr = &a->groups[a->n_groups++];
        gr->kind = c->kind;
        gr->variant = c->variant;
        gr->acting = c->acting;
        memcpy(gr->level_idx, c->level_idx, sizeof gr->level_idx);
        gr->first_cell = k;
    }
    double *x = xcalloc((size_t)T + 1, sizeof *x), *y = xcalloc((size_t)T + 1, sizeof *y);
    for (int q = 0; q < a->n_groups; q++) {
        aca_grid_group *gr = &a->groups[q];
        for (int t = 0; t < T; t++) {
            const aca_grid_metrics *m = group_trial(a, gr, t);
            x[t] = m ? m->acc : NAN;
        }
        grid_mean_std(x, T, &gr->acc_mean, &gr->acc_std, &gr->n);
        for (int i = 0; i < N; i++) {
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *m = group_trial(a, gr, t);
                x[t] = m ? m->eff[i] : NAN;
                y[t] = m ? m->eff_nt[i] : NAN;
            }
            grid_mean_std(x, T, &gr->eff_mean[i], &gr->eff_std[i], NULL);
            grid_mean_std(y, T, &gr->eff_nt_mean[i], &gr->eff_nt_std[i], NULL);
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *m = group_trial(a, gr, t);
                x[t] = m ? m->agree[i] : NAN;
            }
            grid_mean_std(x, T, &gr->agree_mean[i], &gr->agree_std[i], NULL);
            gr->ct_mean[i] = gr->ct_std[i] = gr->ctk_mean[i] = gr->ctk_std[i] = NAN;
            // A joint group against collective i alone at the same level, paired by trial: the
            // difference, and Karan's CT (the difference over the same trial's unpoisoned efficacy).
            if (gr->kind != GRID_CELL_JOINT || !(gr->acting >> i & 1)) continue;
            int al = grid_find_group(a, gr->variant, 1u << i, gr->level_idx);
            if (al < 0) continue;
            int b = grid_find_group(a, gr->variant, 0, gr->level_idx);
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *mj = group_trial(a, gr, t), *ma = group_trial(a, &a->groups[al], t);
                const aca_grid_metrics *mb = b >= 0 ? group_trial(a, &a->groups[b], t) : NULL;
                x[t] = mj && ma ? eval_delta_joint_alone(mj->eff[i], ma->eff[i]) : NAN;
                y[t] = mj && ma && mb ? eval_ct_karan(mj->eff[i], ma->eff[i], mb->eff[i]) : NAN;
            }
            grid_mean_std(x, T, &gr->ct_mean[i], &gr->ct_std[i], &gr->ct_n[i]);
            grid_mean_std(y, T, &gr->ctk_mean[i], &gr->ctk_std[i], &gr->ctk_n[i]);
        }
        if (a->K > 0) {
            gr->recall_mean = xcalloc((size_t)a->K, sizeof *gr->recall_mean);
            for (int k = 0; k < a->K; k++) {
                for (int t = 0; t < T; t++) {
                    const aca_grid_metrics *m = group_trial(a, gr, t);
                    x[t] = m && m->recall && m->K == a->K ? m->recall[k] : NAN;
                }
                double sd;
                grid_mean_std(x, T, &gr->recall_mean[k], &sd, NULL);
            }
        }
    }
    free(x);
    free(y);
}

static double group_eff(const aca_grid_agg *a, int variant, unsigned acting, int point, int i) {
    int lv[GRID_MAX_COLL];
    for (int k = 0; k < GRID_MAX_COLL; k++) lv[k] = point;
    int q = grid_find_group(a, variant, acting, lv);
    return q < 0 ? NAN : a->groups[q].eff_mean[i];
}

double grid_loo_harm(const aca_grid_agg *a, int variant, int point, int i, int j) {
    const unsigned all = (1u << a->g->n_coll) - 1;
    if (i == j) return NAN;
    return group_eff(a, variant, all, point, i) - group_eff(a, variant, all & ~(1u << j), point, i);
}

double grid_ct_pair(const aca_grid_agg *a, int variant, int point, int i, int j) {
    if (i == j) return NAN;
    return group_eff(a, variant, 1u << i | 1u << j, point, i) - group_eff(a, variant, 1u << i, point, i);
}

static double num_or_nan(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Fills m from a result.json root.
static void metrics_from_json(const aca_grid_spec *g, const cJSON *root, aca_grid_metrics *m) {
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "result"), "metrics");
    m->have = 1;
    m->acc = num_or_nan(met, "accuracy");
    for (int i = 0; i < GRID_MAX_COLL; i++) m->eff[i] = m->eff_nt[i] = m->baseline[i] = m->agree[i] = NAN;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(met, "collectives"), *c;
    cJSON_ArrayForEach(c, cs) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        for (int i = 0; cJSON_IsString(nm) && i < g->n_coll; i++)
            if (!strcmp(nm->valuestring, g->coll[i].name)) {
                m->eff[i] = num_or_nan(c, "efficacy");
                m->eff_nt[i] = num_or_nan(c, "efficacy_nontarget");
                m->baseline[i] = num_or_nan(c, "baseline");
                m->agree[i] = num_or_nan(c, "agreement");
            }
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(met, "classes");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(met, "confusion");
    int K = cJSON_IsArray(cls) ? cJSON_GetArraySize(cls) : 0;
    if (K > 0 && cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == K) {
        m->K = K;
        m->classes = xcalloc((size_t)K, sizeof *m->classes);
        m->recall = xcalloc((size_t)K, sizeof *m->recall);
        for (int k = 0; k < K; k++) {
            const cJSON *nm = cJSON_GetArrayItem(cls, k), *row = cJSON_GetArrayItem(conf, k);
            m->classes[k] = xstrdup(cJSON_IsString(nm) ? nm->valuestring : "?");
            double tot = 0, hit = 0;
            for (int j = 0; cJSON_IsArray(row) && j < cJSON_GetArraySize(row); j++) {
                double v = cJSON_GetArrayItem(row, j)->valuedouble;
                tot += v;
                if (j == k) hit = v;
            }
            m->recall[k] = tot > 0 ? hit / tot : NAN;
        }
    }
}

// The measured success of a planner row's alone runs: efficacy (feature-label), 1 - efficacy
// (unplant) or agreement (erase); mean, std and trials.
static void stair_measured(const aca_grid_agg *a, grid_stair_row *row) {
    const int i = row->coll;
    const plan_strategy ps = row->strategy;
    int lvi[GRID_MAX_COLL];
    for (int q = 0; q < a->g->n_coll; q++) lvi[q] = row->level;
    int grp = grid_find_group(a, row->variant, 1u << i, lvi);
    const aca_grid_group *gg = grp >= 0 && a->groups[grp].n ? &a->groups[grp] : NULL;
    double m = gg ? gg->eff_mean[i] : NAN;
    row->meas_mean = ps == PLAN_UNPLANT ? 1 - m : ps == PLAN_ERASE ? (gg ? gg->agree_mean[i] : NAN) : m;
    row->meas_std = !gg ? NAN : ps == PLAN_ERASE ? gg->agree_std[i] : gg->eff_std[i];
    row->trials = grp >= 0 ? a->groups[grp].n : 0;
}

// The planner's rows (grid_planner.c) from the grid's corpus (as grid_inputs loaded it: a synthetic
// one is OUT/corpus.txt), beside the measured success.
static int planner_rows(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e) {
    const aca_grid_inputs *in;
    if (grid_inputs(g, out_dir, &in, e)) return -1;
    const aca_grid_input *corpus = grid_input_of(in, "corpus");
    if (!in->corpus_ok) {
        if (e) *e = in->corpus_err;
        return aca_err_prefix(e, "%s: %s", g->path, corpus->field);
    }
    a->stairs = xcalloc(1, sizeof *a->stairs);
    int rc = grid_planner_rows(g, &in->corpus, corpus->path, a->stairs, e);
    for (int r = 0; !rc && r < a->stairs->n_rows; r++) stair_measured(a, &a->stairs->rows[r]);
    return rc;
}

int grid_aggregate(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e) {
    memset(a, 0, sizeof *a);
    a->g = g;
    if (grid_cells(g, &a->cells, &a->n_cells, e)) return -1;
    // Nothing is reported from cells of other inputs or settings than the spec's.
    if (grid_out_check(g, out_dir, a->cells, a->n_cells, 0, a->n_cells, GRID_OUT_REPORT, e)) {
        grid_agg_free(a);
        return -1;
    }
    a->m = xcalloc((size_t)a->n_cells, sizeof *a->m);
    for (int k = 0; k < a->n_cells; k++) {
        a->m[k].cell = k;
        cJSON *root = grid_cell_result(out_dir, &a->cells[k], NULL);
        if (!root) continue;
        metrics_from_json(g, root, &a->m[k]);
        cJSON_Delete(root);
        a->n_done++;
        if (!a->classes && a->m[k].K > 0) {
            a->K = a->m[k].K;
            a->classes = xcalloc((size_t)a->K, sizeof *a->classes);
            for (int j = 0; j < a->K; j++) a->classes[j] = xstrdup(a->m[k].classes[j]);
        }
    }
    grid_aggregate_metrics(a);
    if (g->planner && planner_rows(g, out_dir, a, e)) {
        grid_agg_free(a);
        return -1;
    }
    return 0;
}

void grid_agg_free(aca_grid_agg *a) {
    for (int k = 0; a->m && k < a->n_cells; k++) {
        for (int j = 0; j < a->m[k].K; j++) free(a->m[k].classes[j]);
        free(a->m[k].classes);
        free(a->m[k].recall);
    }
    free(a->m);
    for (int q = 0; a->groups && q < a->n_groups; q++) free(a->groups[q].recall_mean);
    free(a->groups);
    for (int j = 0; j < a->K; j++) free(a->classes[j]);
    free(a->classes);
    grid_cells_free(a->cells, a->n_cells);
    if (a->stairs) grid_stairs_free(a->stairs);
    free(a->stairs);
    memset(a, 0, sizeof *a);
}

int grid_baseline_group(const aca_grid_agg *a, int variant) {
    for (int q = 0; q < a->n_groups; q++)
        if (a->groups[q].kind == GRID_CELL_BASELINE && a->groups[q].variant == variant) return q;
    return -1;
}
