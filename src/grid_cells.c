// A grid's cells (see include/aca/grid.h, "Cells"): per-trial seeds, enumeration in order, ids, the
// derived collectives spec of each cell, and the text that names cells, levels and variants.
#include "grid_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "aca/jsonw.h"

uint64_t grid_trial_seed(uint64_t grid_seed, int trial, int purpose) {
    aca_rng r;
    rng_seed(&r, grid_seed, 0x67726964ULL * 1000003ULL + (uint64_t)trial * 16 + (uint64_t)purpose);
    return rng_u64(&r) >> 32;
}

void grid_num_str(double x, char *out, size_t n) {
    snprintf(out, n, "%g", x);
    for (int digits = 7; strtod(out, NULL) != x && digits <= 17; digits++) snprintf(out, n, "%.*g", digits, x);
}

void grid_level_str(const aca_grid_spec *g, int i, int level_idx, char *out, size_t n) {
    const aca_grid_coll *k = &g->coll[i];
    if (k->is_count) snprintf(out, n, "%ld", (long)k->levels[level_idx]);
    else grid_num_str(k->levels[level_idx], out, n);
}

// An id too long for a file name keeps its first 100 bytes of collectives and levels, then '-' and 16
// hex digits of their SHA-256, then the axes and the trial.
static void id_shorten(aca_buf *id, size_t head_len) {
    if (id->len <= GRID_ID_MAX) return;
    char hex[65];
    sha256_hex(id->data, head_len, hex);
    char *tail = xstrdup(id->data + head_len);
    id->len = 100;
    id->data[100] = 0;
    buf_printf(id, "-%.16s%s", hex, tail);
    free(tail);
}

typedef struct {
    aca_grid_cell *v;
    int n, cap;
} cell_vec;

static void cell_add(const aca_grid_spec *g, cell_vec *cv, aca_grid_cell_kind kind, int trial, int variant,
                     unsigned acting, const int *lv) {
    aca_buf id = {0};
    buf_puts(&id, kind == GRID_CELL_BASELINE ? "none" : kind == GRID_CELL_ALONE ? "alone" : "joint");
    for (int i = 0; i < g->n_coll; i++) {
        if (!(acting >> i & 1)) continue;
        char l[64];
        grid_level_str(g, i, lv[i], l, sizeof l);
        buf_printf(&id, "-%s=%s", g->coll[i].name, l);
    }
    const size_t head_len = id.len;
    int pi, hi, ei;
    char num[40];
    grid_variant_axes(g, variant, &pi, &hi, &ei);
    if (g->n_periods > 1) buf_printf(&id, "-P%d", g->periods[pi]);
    if (g->n_homog > 1) grid_num_str(g->homog[hi], num, sizeof num), buf_printf(&id, "-h%s", num);
    if (g->n_eps > 1) {
        if (g->eps[ei] < 0) buf_puts(&id, "-enone");
        else grid_num_str(g->eps[ei], num, sizeof num), buf_printf(&id, "-e%s", num);
    }
    buf_printf(&id, "-t%d", trial);
    id_shorten(&id, head_len);
    for (int k = 0; k < cv->n; k++)
        if (!strcmp(cv->v[k].id, id.data)) {
            buf_free(&id);
            return;
        }
    if (cv->n == cv->cap) {
        cv->cap = cv->cap ? 2 * cv->cap : 64;
        cv->v = xrealloc(cv->v, (size_t)cv->cap * sizeof *cv->v);
    }
    aca_grid_cell *c = &cv->v[cv->n];
    memset(c, 0, sizeof *c);
    c->id = id.data;
    c->index = cv->n;
    c->kind = kind;
    c->trial = trial;
    c->variant = variant;
    c->acting = acting;
    for (int i = 0; i < g->n_coll; i++) c->level_idx[i] = lv[i];
    cv->n++;
}

int grid_cells(const aca_grid_spec *g, aca_grid_cell **cells, int *n, aca_err *e) {
    cell_vec cv = {0};
    const int N = g->n_coll, n_var = grid_n_variants(g);
    const unsigned all = N >= 32 ? ~0u : (1u << N) - 1;
    const int n_points = g->coll[0].n_levels; // line mode
    int lv[GRID_MAX_COLL];
    for (int t = 0; t < g->trials; t++)
        for (int var = 0; var < n_var; var++) {
            memset(lv, 0, sizeof lv);
            if (g->baseline) cell_add(g, &cv, GRID_CELL_BASELINE, t, var, 0, lv);
            if (g->alone)
                for (int i = 0; i < N; i++)
                    for (int l = 0; l < g->coll[i].n_levels; l++) {
                        for (int j = 0; j < N; j++) lv[j] = g->mode == GRID_MODE_LINE ? l : 0;
                        lv[i] = l;
                        cell_add(g, &cv, GRID_CELL_ALONE, t, var, 1u << i, lv);
                    }
            if (g->joint && g->mode == GRID_MODE_LINE) {
                for (int l = 0; l < n_points; l++) {
                    for (int j = 0; j < N; j++) lv[j] = l;
                    cell_add(g, &cv, N == 1 ? GRID_CELL_ALONE : GRID_CELL_JOINT, t, var, all, lv);
                }
            } else if (g->joint) {
                memset(lv, 0, sizeof lv);
                for (;;) {
                    cell_add(g, &cv, N == 1 ? GRID_CELL_ALONE : GRID_CELL_JOINT, t, var, all, lv);
                    int j = N - 1;
                    while (j >= 0 && ++lv[j] == g->coll[j].n_levels) lv[j--] = 0;
                    if (j < 0) break;
                }
            }
            if (g->pairs && N > 2)
                for (int l = 0; l < n_points; l++)
                    for (int i = 0; i < N; i++)
                        for (int j = i + 1; j < N; j++) {
                            for (int k = 0; k < N; k++) lv[k] = l;
                            cell_add(g, &cv, GRID_CELL_JOINT, t, var, 1u << i | 1u << j, lv);
                        }
            if (g->loo && N > 2)
                for (int l = 0; l < n_points; l++)
                    for (int j = 0; j < N; j++) {
                        for (int k = 0; k < N; k++) lv[k] = l;
                        cell_add(g, &cv, GRID_CELL_JOINT, t, var, all & ~(1u << j), lv);
                    }
        }
    if (cv.n == 0) {
        free(cv.v);
        return aca_errf(e, ACA_ERR_VALUE, "%s: the grid has no cells", g->path);
    }
    *cells = cv.v;
    *n = cv.n;
    return 0;
}

void grid_cells_free(aca_grid_cell *cells, int n) {
    for (int k = 0; cells && k < n; k++) free(cells[k].id);
    free(cells);
}

void grid_cell_spec_json(const aca_grid_spec *g, const aca_grid_cell *c, aca_buf *out) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "seed", (double)grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA));
    cJSON_AddStringToObject(root, "overlap", g->overlap ? g->overlap : "disjoint");
    cJSON *arr = cJSON_AddArrayToObject(root, "collectives");
    int pi = 0, hi = 0, ei = 0;
    if (g->periods && g->homog && g->eps) grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    const int period = g->periods ? g->periods[pi] : 0;
    const double p = g->homog ? g->homog[hi] : -1;
    for (int i = 0; i < g->n_coll; i++) {
        const aca_grid_coll *k = &g->coll[i];
        cJSON *o = cJSON_Parse(k->json);
        double lvl = k->levels[c->level_idx[i]];
        if (k->is_count) cJSON_AddNumberToObject(o, "size", lvl);
        else if (lvl >= 1) cJSON_AddStringToObject(o, "size", "100%");
        else cJSON_AddNumberToObject(o, "size", lvl);
        if (!k->has_period && period > 0) cJSON_AddNumberToObject(o, "period", period);
        if (!k->has_sampling && p >= 0) {
            cJSON *s = cJSON_AddObjectToObject(o, "sampling");
            cJSON_AddStringToObject(s, "kind", "propensity");
            cJSON_AddStringToObject(s, "seed_class", k->target);
            cJSON_AddNumberToObject(s, "p", p);
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(root);
    buf_puts(out, txt);
    buf_putc(out, '\n');
    cJSON_free(txt);
    cJSON_Delete(root);
}

const char *grid_kind_json(aca_grid_cell_kind k) {
    static const char *const kinds[] = {"baseline", "alone", "joint"};
    return kinds[k];
}

void grid_levels_text(const aca_grid_spec *g, unsigned acting, const int *lv, const char *sep, aca_buf *b) {
    int first = 1;
    for (int i = 0; i < g->n_coll; i++) {
        if (!(acting >> i & 1)) continue;
        char l[64];
        grid_level_str(g, i, lv[i], l, sizeof l);
        buf_printf(b, "%s%s=%s", first ? "" : sep, g->coll[i].name, l);
        first = 0;
    }
}

void grid_variant_text(const aca_grid_spec *g, int variant, aca_buf *b) {
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

void grid_acting_names(const aca_grid_spec *g, unsigned acting, const char *sep, aca_buf *b) {
    for (int i = 0; i < g->n_coll; i++)
        if (acting >> i & 1) buf_printf(b, "%s%s", b->len ? sep : "", g->coll[i].name);
}

void grid_acting_json(const aca_grid_spec *g, unsigned acting, aca_jsonw *w) {
    jsonw_arr(w);
    for (int i = 0; i < g->n_coll; i++)
        if (acting >> i & 1) jsonw_str(w, g->coll[i].name);
    jsonw_end(w);
}
