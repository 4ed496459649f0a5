// The planner's bound next to what the grid measured (Gauthier, Bach & Jordan 2025, the
// "staircase"): for each collective at each level of its alone runs, the lower bound on success of
// its strategy (plan.h; the default, conservative bounds, which bound what aca mutate does) for n =
// its size on a platform of N = the training split, success measured on the n_test probes (one per
// test document, so R(n_test) is paid), from the clean corpus' statistics, beside the success
// measured over the trials.  Success is the efficacy for feature-label planting, one minus it for
// adaptive unplanting (the signal's documents are pushed away from the target; the bound uses the
// spec's n_e when it gives one, else the split mutate takes), and the agreement of each probe's
// prediction with its unmodified test document's for erasing; other strategies have no measured
// counterpart and are left out.  Bounds only, no I/O: the aggregate adds the measured success and
// holds the rows (grid_aggregate.c), the report renders them (summary.md, plots/staircase.*).
#include "grid_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int plan_kind(aca_strategy s, plan_strategy *out) {
    if (s == STRATEGY_FEATURE_LABEL) return *out = PLAN_FEATURE_LABEL, 1;
    if (s == STRATEGY_UNPLANT) return *out = PLAN_UNPLANT, 1;
    if (s == STRATEGY_ERASE) return *out = PLAN_ERASE, 1;
    return 0;
}

// The bound at every n from plan_n_floor to N - 1 (every size up to 200, then steps of n/200): a
// staircase that jumps where a cell's margin turns positive.
static int stair_curve(const plan_coll *pc, plan_strategy ps, const plan_params *pp, long N, grid_stair_curve *cv,
                       aca_err *e) {
    int cap = 64;
    cv->n = xcalloc((size_t)cap, sizeof *cv->n);
    cv->bound = xcalloc((size_t)cap, sizeof *cv->bound);
    for (long n = plan_n_floor(ps, pp); n < N; n += n < 200 ? 1 : n / 200) {
        plan_bound b;
        int ok;
        if (plan_coll_at(pc, ps, pp, n, N, &b, &ok, e)) return -1;
        if (cv->len == cap) {
            cap *= 2;
            cv->n = xrealloc(cv->n, (size_t)cap * sizeof *cv->n);
            cv->bound = xrealloc(cv->bound, (size_t)cap * sizeof *cv->bound);
        }
        cv->n[cv->len] = n, cv->bound[cv->len] = b.bound;
        cv->len++;
    }
    return 0;
}

// Collective i of variant var (k: as the variant's cells train it): its curve and a row per level.
static int stair_collective(const aca_grid_spec *g, const aca_corpus *c, const char *corpus_name, int var, int i,
                            const aca_collective *k, grid_stairs *st, aca_err *e) {
    plan_strategy ps;
    if (!plan_kind(k->strategy, &ps) || !k->signal || !*k->signal) return 0;
    char where[64];
    snprintf(where, sizeof where, "collectives[%d]", i);
    plan_query q = {st->pp, st->N, 1u << ps, 0, 0};
    q.pp.n_e = ps == PLAN_UNPLANT && k->n_e > 0 ? k->n_e : 0; // the split mutate uses
    plan_coll pc;
    if (plan_collective(c, corpus_name, k, where, &q, 0, &pc, e)) return aca_err_prefix(e, "%s", g->path);
    grid_stair_curve *cv = &st->curves[st->n_curves++];
    cv->variant = var, cv->coll = i;
    if (stair_curve(&pc, ps, &q.pp, st->N, cv, e)) return -1;
    for (int l = 0; l < g->coll[i].n_levels; l++) {
        double lv = g->coll[i].levels[l];
        grid_stair_row *row = &st->rows[st->n_rows++];
        row->variant = var, row->coll = i, row->level = l, row->strategy = ps, row->bound = NAN;
        row->n = g->coll[i].is_count ? (long)lv : (long)llround(lv * (double)st->N);
        if (row->n < 1) row->n = 1;
        plan_bound b;
        int ok;
        if (plan_coll_at(&pc, ps, &q.pp, row->n, st->N, &b, &ok, e)) return -1;
        if (ok) row->bound = b.bound;
        row->meas_mean = row->meas_std = NAN; // the aggregate's (grid_aggregate.c)
    }
    return 0;
}

int grid_planner_rows(const aca_grid_spec *g, const aca_corpus *c, const char *corpus_name, grid_stairs *st, aca_err *e) {
    memset(st, 0, sizeof *st);
    long N = (long)g->run.n_train, n_test = (long)g->run.n_test;
    if (N == 0 && n_test == 0) plan_default_sizes(c->n, &N, &n_test);
    plan_params_default(&st->pp);
    st->pp.delta = g->planner_delta, st->pp.n_test = n_test;
    st->N = N;
    st->corpus_docs = c->n;
    const int n_var = grid_n_variants(g);
    size_t max_rows = 1;
    for (int i = 0; i < g->n_coll; i++) max_rows += (size_t)g->coll[i].n_levels;
    st->rows = xcalloc(max_rows * (size_t)n_var, sizeof *st->rows);
    st->curves = xcalloc((size_t)g->n_coll * (size_t)n_var, sizeof *st->curves);
    for (int var = 0; var < n_var; var++) {
        // the collectives as this variant trains them (sampling, period; sizes of the first level)
        aca_grid_cell c0;
        memset(&c0, 0, sizeof c0);
        c0.variant = var;
        aca_buf sb = {0};
        grid_cell_spec_json(g, &c0, &sb);
        aca_spec sp;
        int r = spec_parse(sb.data, g->path, &sp, e);
        buf_free(&sb);
        if (r) return grid_stairs_free(st), -1;
        for (int i = 0; i < g->n_coll && !r; i++) r = stair_collective(g, c, corpus_name, var, i, &sp.collectives[i], st, e);
        spec_free(&sp);
        if (r) return grid_stairs_free(st), -1;
    }
    return 0;
}

void grid_stairs_free(grid_stairs *s) {
    for (int k = 0; k < s->n_curves; k++) free(s->curves[k].n), free(s->curves[k].bound);
    free(s->curves);
    free(s->rows);
    memset(s, 0, sizeof *s);
}
