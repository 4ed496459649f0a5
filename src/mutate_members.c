// The mutation stage's membership (see include/aca/mutate.h): the split, each collective's target and
// members (listed by id, or sampled uniformly, from a class, or with a propensity), and the unplant
// collectives' estimators and estimated label.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/plan.h"
#include "mutate_internal.h"

// RNG streams (with the run's seed): one per collective's membership draw, one per unplant
// collective's choice of estimators.
#define MEMBER_STREAM 0x4D454D00u
#define UNPLANT_STREAM 0x554E504Cu

// ---- doc ids -----------------------------------------------------------------------------------
typedef struct {
    uint32_t *slot; // doc index + 1, 0 empty
    size_t mask;
} id_index;

static uint32_t *id_find(const id_index *h, const aca_corpus *c, const char *id) {
    size_t i = (size_t)hash_fnv1a64(id, strlen(id), ACA_FNV_SEED) & h->mask;
    while (h->slot[i] && strcmp(c->docs[h->slot[i] - 1].id, id)) i = (i + 1) & h->mask;
    return &h->slot[i];
}

static int id_index_build(id_index *h, const aca_corpus *c, const char *path, aca_err *e) {
    size_t cap = 16;
    while (cap < 2 * c->n) cap *= 2;
    h->slot = xcalloc(cap, sizeof *h->slot);
    h->mask = cap - 1;
    for (size_t i = 0; i < c->n; i++) {
        uint32_t *s = id_find(h, c, c->docs[i].id);
        if (*s)
            return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: duplicate doc id '%s' (also on line %zu)", path, c->docs[i].line,
                            c->docs[i].id, c->docs[*s - 1].line);
        *s = (uint32_t)(i + 1);
    }
    return 0;
}

// ---- membership --------------------------------------------------------------------------------
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

// Takes k docs uniformly without replacement from pool (partial Fisher-Yates), appended to dst.
static void take_uniform(aca_rng *r, uint32_t *pool, size_t n, size_t k, uint32_t *dst) {
    for (size_t j = 0; j < k; j++) {
        size_t t = j + (size_t)rng_below(r, n - j);
        uint32_t x = pool[t];
        pool[t] = pool[j];
        pool[j] = x;
        dst[j] = x;
    }
}

static void class_list(const aca_corpus *c, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < c->n_classes && k + 4 < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%s", i ? ", " : "", c->classes[i]);
}

static int resolve_classes(mut_ctx *m, aca_err *e) {
    char list[512];
    for (int i = 0; i < m->spec->n; i++) {
        const aca_collective *col = &m->spec->collectives[i];
        aca_mut_coll *s = &m->cs[i];
        s->target = corpus_class_index(m->c, col->target);
        s->seed_class = -1;
        if (s->target < 0) {
            class_list(m->c, list, sizeof list);
            return aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].target: class '%s' is not in the corpus %s (classes: %s)",
                            m->spec->source_path, i, col->target, m->o->corpus_path, list);
        }
        if (col->seed_class) {
            s->seed_class = corpus_class_index(m->c, col->seed_class);
            if (s->seed_class < 0) {
                class_list(m->c, list, sizeof list);
                return aca_errf(e, ACA_ERR_VALUE,
                                "%s: collectives[%d].sampling.seed_class: class '%s' is not in the corpus %s (classes: %s)",
                                m->spec->source_path, i, col->seed_class, m->o->corpus_path, list);
            }
        }
    }
    return 0;
}

// Explicit member lists (by doc id), in spec order.
static int members_listed(mut_ctx *m, aca_err *e) {
    const aca_corpus *c = m->c;
    int nc = m->spec->n;
    const char *sp = m->spec->source_path;
    int disjoint = m->spec->overlap == OVERLAP_DISJOINT;
    id_index h = {0};
    int rc = id_index_build(&h, c, m->o->corpus_path, e);
    for (int i = 0; !rc && i < nc; i++) {
        const aca_collective *col = &m->spec->collectives[i];
        if (!col->members) continue;
        aca_mut_coll *s = &m->cs[i];
        s->members = xmalloc(col->n_members * sizeof *s->members);
        for (size_t k = 0; k < col->n_members; k++) {
            uint32_t d = *id_find(&h, c, col->members[k]);
            if (!d) {
                rc = aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].members[%zu]: no doc with id '%s' in %s", sp, i, k,
                              col->members[k], m->o->corpus_path);
                break;
            }
            d--;
            if (!m->in_train[d]) {
                rc = aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].members[%zu]: doc '%s' is in the test split", sp, i,
                              k, col->members[k]);
                break;
            }
            if (m->member[(size_t)d * nc + i]) {
                rc = aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].members[%zu]: doc '%s' is listed twice", sp, i, k,
                              col->members[k]);
                break;
            }
            if (disjoint && m->taken[d]) {
                int owner = 0;
                while (owner < i && !m->member[(size_t)d * nc + owner]) owner++;
                rc = aca_errf(e, ACA_ERR_VALUE,
                              "%s: collectives[%d].members[%zu]: doc '%s' is already in collective '%s' (overlap is "
                              "\"disjoint\"; set \"overlap\": \"allow\" to permit it)",
                              sp, i, k, col->members[k], m->spec->collectives[owner].name);
                break;
            }
            m->taken[d] = 1;
            m->member[(size_t)d * nc + i] = 1;
            s->members[s->n_members++] = d;
        }
    }
    free(h.slot);
    return rc;
}

// Sampled collective i's members, drawn from the train docs still available (pool_a, pool_b:
// scratch of n_train each).
static int members_drawn(mut_ctx *m, int i, uint32_t *pool_a, uint32_t *pool_b, aca_err *e) {
    const aca_corpus *c = m->c;
    int nc = m->spec->n;
    const char *sp = m->spec->source_path;
    int disjoint = m->spec->overlap == OVERLAP_DISJOINT;
    const aca_collective *col = &m->spec->collectives[i];
    aca_mut_coll *s = &m->cs[i];
    size_t k = col->count >= 0 ? (size_t)col->count : (size_t)llround(col->fraction * (double)m->split.n_train);
    if (k == 0) k = 1;
    aca_rng r;
    rng_seed(&r, m->seed, MEMBER_STREAM + (uint64_t)i);
    // pool_a: available docs of the seed class (class/propensity) or all available (uniform);
    // pool_b: available docs of the other classes (propensity).
    size_t na = 0, nb = 0, taken = 0;
    for (size_t t = 0; t < m->split.n_train; t++) {
        uint32_t d = m->split.train[t];
        if (disjoint && m->taken[d]) {
            taken++;
            continue;
        }
        if (col->sampling == SAMPLING_UNIFORM || c->docs[d].label == s->seed_class) pool_a[na++] = d;
        else pool_b[nb++] = d;
    }
    char why[200];
    snprintf(why, sizeof why, "of %zu train docs, %zu are in earlier collectives; overlap %s", m->split.n_train,
             taken, disjoint ? "disjoint" : "allow");
    size_t ka = k, kb = 0;
    if (col->sampling == SAMPLING_PROPENSITY) {
        ka = 0;
        for (size_t j = 0; j < k; j++) ka += rng_uniform(&r) < col->p;
        kb = k - ka;
    }
    if (ka > na || kb > nb) {
        if (col->sampling == SAMPLING_UNIFORM)
            return aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].size: %zu members asked, but the pool holds only %zu (%s)",
                            sp, i, k, na, why);
        if (ka > na)
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: collectives[%d].size: %zu members from class '%s' needed, but the pool holds only %zu "
                            "of that class (%s)",
                            sp, i, ka, c->classes[s->seed_class], na, why);
        return aca_errf(e, ACA_ERR_VALUE,
                        "%s: collectives[%d].size: %zu members from classes other than '%s' needed, but the pool "
                        "holds only %zu (%s)",
                        sp, i, kb, c->classes[s->seed_class], nb, why);
    }
    s->members = xmalloc((k ? k : 1) * sizeof *s->members);
    take_uniform(&r, pool_a, na, ka, s->members);
    take_uniform(&r, pool_b, nb, kb, s->members + ka);
    s->n_members = k;
    s->from_seed_class = col->sampling == SAMPLING_UNIFORM ? 0 : ka;
    qsort(s->members, k, sizeof *s->members, cmp_u32);
    for (size_t j = 0; j < k; j++) {
        m->taken[s->members[j]] = 1;
        m->member[(size_t)s->members[j] * nc + i] = 1;
    }
    return 0;
}

// Explicit member lists first, in spec order, so sampled collectives draw from what is left.
static int sample_members(mut_ctx *m, aca_err *e) {
    if (members_listed(m, e)) return -1;
    uint32_t *pool_a = xmalloc(m->split.n_train * sizeof *pool_a), *pool_b = xmalloc(m->split.n_train * sizeof *pool_b);
    int rc = 0;
    for (int i = 0; !rc && i < m->spec->n; i++)
        if (!m->spec->collectives[i].members) rc = members_drawn(m, i, pool_a, pool_b, e);
    free(pool_a);
    free(pool_b);
    if (rc) return -1;
    for (int i = 0; i < m->spec->n; i++)
        if (m->cs[i].members && m->cs[i].n_members > 1 && m->spec->collectives[i].members)
            qsort(m->cs[i].members, m->cs[i].n_members, sizeof *m->cs[i].members, cmp_u32);
    return 0;
}

// ---- unplanting ----------------------------------------------------------------------------------
int mutate_is_estimator(const aca_mut_coll *s, uint32_t d) {
    return s->n_e && bsearch(&d, s->estimators, s->n_e, sizeof d, cmp_u32) != NULL;
}

// For each unplant collective: the split n_e, the estimators, and the label y^ they estimate.
static int plan_unplant(mut_ctx *m, aca_err *e) {
    const aca_corpus *c = m->c;
    const char *sp = m->spec->source_path;
    for (int i = 0; i < m->spec->n; i++) {
        const aca_collective *col = &m->spec->collectives[i];
        aca_mut_coll *s = &m->cs[i];
        if (col->strategy != STRATEGY_UNPLANT) continue;
        size_t n = s->n_members;
        if (n < 2)
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: collectives[%d]: unplant needs at least 2 members (estimators and planters), it has %zu",
                            sp, i, n);
        if (col->n_e >= 0) {
            if ((size_t)col->n_e >= n)
                return aca_errf(e, ACA_ERR_VALUE,
                                "%s: collectives[%d].n_e: %ld estimators leave no planter among the %zu members (n_e must "
                                "be <= %zu)",
                                sp, i, col->n_e, n, n - 1);
            s->n_e = (size_t)col->n_e;
        } else {
            // The planner's optimal split for this collective on this split (as `aca plan` computes it).
            plan_stats st;
            plan_params pp = {.delta = 0.05}; // eps 0, population, conservative bound, best split
            plan_bound b;
            if (plan_stats_from_corpus(c, col->signal, s->target, &st, e) ||
                plan_eval(PLAN_UNPLANT, &st, NULL, &pp, (long)n, (long)m->split.n_train, &b, e))
                return aca_err_prefix(e, "%s: collectives[%d]: the default n_e (planner's split; give \"n_e\")", sp, i);
            s->n_e = (size_t)b.n_e;
            s->n_e_from_planner = 1;
        }
        // Estimators: n_e of the members, uniformly.
        aca_rng r;
        rng_seed(&r, m->seed, UNPLANT_STREAM + (uint64_t)i);
        uint32_t *pool = xmalloc(n * sizeof *pool);
        memcpy(pool, s->members, n * sizeof *pool);
        s->estimators = xmalloc(s->n_e * sizeof *s->estimators);
        take_uniform(&r, pool, n, s->n_e, s->estimators);
        free(pool);
        qsort(s->estimators, s->n_e, sizeof *s->estimators, cmp_u32);
        // y^ from the estimators' own (clean) documents.
        int K = c->n_classes;
        s->carriers = xcalloc((size_t)K, sizeof *s->carriers);
        size_t *docs = xcalloc((size_t)K, sizeof *docs);
        for (size_t k = 0; k < s->n_e; k++) {
            const aca_doc *doc = &c->docs[s->estimators[k]];
            docs[doc->label]++;
            if (memmem(doc->text, doc->len, col->signal, strlen(col->signal))) s->carriers[doc->label]++;
        }
        s->yhat = -1;
        for (int y = 0; y < K; y++) {
            if (y == s->target) continue;
            s->from_carriers |= s->carriers[y] > 0;
            if (s->yhat < 0 || s->carriers[y] > s->carriers[s->yhat] ||
                (s->carriers[y] == s->carriers[s->yhat] && docs[y] > docs[s->yhat]))
                s->yhat = y;
        }
        free(docs);
    }
    return 0;
}

// ---- the plan ----------------------------------------------------------------------------------
int mutate_plan_members(mut_ctx *m, aca_err *e) {
    const aca_mutate_opts *o = m->o;
    size_t ntr = o->n_train, nte = o->n_test;
    if (ntr == 0 && nte == 0) corpus_split_default(m->c->n, &ntr, &nte);
    if (ntr > m->c->n || nte > m->c->n - ntr) {
        size_t t = m->c->n / 5 ? m->c->n / 5 : 1;
        return aca_errf(e, ACA_ERR_VALUE,
                        "--split %s asks for %zu train + %zu test docs, but the corpus %s has only %zu (give counts, "
                        "e.g. --split %zu/%zu)",
                        o->split_name ? o->split_name : "(default)", ntr, nte, o->corpus_path, m->c->n, m->c->n - t, t);
    }
    if (corpus_split(m->c, ntr, nte, m->seed, &m->split, e)) return aca_err_prefix(e, "%s", o->corpus_path);
    if (resolve_classes(m, e)) return -1;
    m->in_train = xcalloc(m->c->n, 1);
    m->taken = xcalloc(m->c->n, 1);
    m->member = xcalloc(m->c->n * (size_t)m->spec->n, 1);
    for (size_t t = 0; t < m->split.n_train; t++) m->in_train[m->split.train[t]] = 1;
    if (sample_members(m, e)) return -1;
    return plan_unplant(m, e);
}
