// Planning collectives and specs: the planner (plan.c) applied to a spec's collectives, shared by
// `aca plan` and the grid's planner report (see include/aca/plan.h).
#include "aca/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

long plan_size(const aca_collective *k, long N) {
    if (k->count >= 0) return k->count;
    long n = (long)llround(k->fraction * (double)N);
    return k->fraction > 0 && n < 1 ? 1 : n;
}

int plan_coll_at(const plan_coll *p, plan_strategy s, const plan_params *pp, long n, long N, plan_bound *b, int *ok,
                 aca_err *e) {
    *ok = n >= plan_n_floor(s, pp) && n < N;
    if (!*ok) return 0;
    return plan_eval(s, &p->st, p->uniform ? NULL : p->share, pp, n, N, b, e);
}

int plan_collective(const aca_corpus *c, const char *corpus_name, const aca_collective *k, const char *where,
                    const plan_query *q, long n, plan_coll *out, aca_err *e) {
    memset(out, 0, sizeof *out);
    out->name = k->name, out->target = k->target, out->signal = k->signal;
    out->has_signal = k->signal && k->signal[0];
    out->n = n;
    if (plan_collective_inputs(c, corpus_name, k, where, &out->st, out->share, &out->uniform, e)) return -1;
    if (!out->has_signal) return 0;
    for (int s = 0; s < PLAN_N_STRATEGIES; s++) {
        if (!(q->strategies >> s & 1) || !plan_formula(s, q->pp.kind)) continue;
        if (plan_coll_at(out, s, &q->pp, n, q->N, &out->at_n[s], &out->ok_n[s], e)) return -1;
        if (q->s_min > 0 && plan_min_n(s, &out->st, out->uniform ? NULL : out->share, &q->pp, q->N, q->s_min, q->n_max,
                                       &out->n_min[s], &out->at_min[s], e))
            return -1;
    }
    return 0;
}

// N, n_test and n_max from the options and the corpus (plan_default_sizes).
static int resolve_sizes(const plan_spec_opts *o, plan_spec_result *r, aca_err *e) {
    long N, n_test;
    plan_default_sizes(r->have_corpus ? r->corpus.n : 0, &N, &n_test);
    r->pp = o->pp;
    r->N = o->N > 0 ? o->N : N;
    if (o->pp.n_test < 0) r->pp.n_test = n_test;
    if (r->N < 2)
        return aca_errf(e, ACA_ERR_VALUE, "%s: too few documents (%zu) for a platform; give --n-train", o->corpus_path,
                        r->corpus.n);
    if (o->n_max >= r->N) // a collective is part of the platform's N documents
        return aca_errf(e, ACA_ERR_VALUE, "option --n-max: %ld is not below the platform size N = %ld (at most %ld)",
                        o->n_max, r->N, r->N - 1);
    r->n_max = o->n_max > 0 ? o->n_max : r->N - 1;
    r->s_min = o->s_min;
    if (r->n_max < plan_n_floor(PLAN_UNPLANT, &r->pp))
        return aca_errf(e, ACA_ERR_VALUE, "option --n-max: %ld%s leaves no room for unplanting (needs >= %ld%s)", r->n_max,
                        o->n_max > 0 ? "" : " (the default, N - 1)", plan_n_floor(PLAN_UNPLANT, &r->pp),
                        r->pp.n_e ? ", --n-est + 1" : "");
    return 0;
}

int plan_spec(const plan_spec_opts *o, plan_spec_result *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    if (spec_load(o->spec_path, &r->spec, e)) return -1;
    if (o->corpus_path) {
        aca_corpus_opts co = {0};
        if (corpus_load(o->corpus_path, &co, &r->corpus, e)) return plan_spec_free(r), -1;
        r->have_corpus = 1;
    }
    if (resolve_sizes(o, r, e)) return plan_spec_free(r), -1;
    plan_query q = {r->pp, r->N, ~0u, r->s_min, r->n_max};
    r->coll = xcalloc((size_t)r->spec.n, sizeof *r->coll);
    for (int i = 0; i < r->spec.n; i++) {
        const aca_collective *k = &r->spec.collectives[i];
        char where[1024];
        snprintf(where, sizeof where, "%s: collectives[%d]", o->spec_path, i);
        if (plan_collective(r->have_corpus ? &r->corpus : NULL, o->corpus_path, k, where, &q, plan_size(k, r->N),
                            &r->coll[i], e))
            return plan_spec_free(r), -1;
    }
    return 0;
}

void plan_spec_free(plan_spec_result *r) {
    free(r->coll);
    if (r->have_corpus) corpus_free(&r->corpus);
    spec_free(&r->spec);
    memset(r, 0, sizeof *r);
}
