// The data-mutation stage: split, membership sampling, strategies, outputs (see aca/mutate.h).
// Order of work: everything that can fail on user input (spec, corpus, classes, split, sampling)
// happens before the first byte is written; outputs go to a temporary beside DIR (outdir.h), swapped
// in at the end.
#include "aca/mutate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/outdir.h"
#include "aca/plan.h"

// RNG streams (with the run's seed): one per collective's membership draw, one per unplant
// collective's choice of estimators.
#define MEMBER_STREAM 0x4D454D00u
#define UNPLANT_STREAM 0x554E504Cu

// ---- insertion ---------------------------------------------------------------------------------
void mutate_insert_signals(aca_buf *out, const char *text, size_t n, const char *const *signals, const int *periods,
                           int k) {
    size_t W = text_count_words(text, n);
    if (W == 0) {
        buf_append(out, text, n);
        for (int j = 0; j < k; j++) {
            if (out->len) buf_putc(out, ' ');
            buf_puts(out, signals[j]);
        }
        return;
    }
    size_t lens[64], *len = k <= 64 ? lens : xmalloc((size_t)k * sizeof *len);
    for (int j = 0; j < k; j++) len[j] = strlen(signals[j]);
    buf_reserve(out, n + 16);
    size_t copied = 0, w = 0, i = 0;
    while (i < n) {
        while (i < n && text_is_space((unsigned char)text[i])) i++;
        if (i == n) break;
        while (i < n && !text_is_space((unsigned char)text[i])) i++;
        w++; // word w ends at byte i
        for (int j = 0; j < k; j++) {
            size_t p = (size_t)periods[j];
            if (W < p ? w != W : w % p != 0) continue;
            buf_append(out, text + copied, i - copied);
            copied = i;
            buf_putc(out, ' ');
            buf_append(out, signals[j], len[j]);
        }
    }
    buf_append(out, text + copied, n - copied);
    if (len != lens) free(len);
}

void mutate_insert_signal(aca_buf *out, const char *text, size_t n, const char *signal, int period) {
    mutate_insert_signals(out, text, n, &signal, &period, 1);
}

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
typedef struct {
    int target;     // class index
    int seed_class; // class index or -1
    uint32_t *members; // sorted corpus indices
    size_t n_members;
    size_t from_seed_class; // propensity: members drawn from the seed class
    int acting;
    // unplant
    uint32_t *estimators; // sorted corpus indices, a subset of members
    size_t n_e;
    int n_e_from_planner; // 1: the planner's optimal split, 0: the spec's n_e
    int yhat;             // estimated label (class index)
    int from_carriers;    // 1: y^ from estimator docs carrying the signal; 0: label frequency fallback
    size_t *carriers;     // (n_classes) estimator docs containing the signal, per label
    // filled while writing train.jsonl
    size_t planted;   // members whose training doc got this collective's signal (0 when idle)
    size_t unchanged; // members whose doc (text and label) this collective left as it was
} coll_state;

typedef struct {
    const aca_mutate_opts *o;
    aca_spec spec;
    aca_corpus c;
    aca_split split;
    uint64_t seed;
    int only; // collective index or -1
    coll_state *cs;
    uint8_t *in_train, *taken; // (c.n,)
    uint8_t *member;           // (c.n, spec.n): doc d is in collective j
} mut_ctx;

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
    for (int i = 0; i < m->spec.n; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        coll_state *s = &m->cs[i];
        s->target = corpus_class_index(&m->c, col->target);
        s->seed_class = -1;
        if (s->target < 0) {
            class_list(&m->c, list, sizeof list);
            return aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].target: class '%s' is not in the corpus %s (classes: %s)",
                            m->spec.source_path, i, col->target, m->o->corpus_path, list);
        }
        if (col->seed_class) {
            s->seed_class = corpus_class_index(&m->c, col->seed_class);
            if (s->seed_class < 0) {
                class_list(&m->c, list, sizeof list);
                return aca_errf(e, ACA_ERR_VALUE,
                                "%s: collectives[%d].sampling.seed_class: class '%s' is not in the corpus %s (classes: %s)",
                                m->spec.source_path, i, col->seed_class, m->o->corpus_path, list);
            }
        }
    }
    return 0;
}

static int sample_members(mut_ctx *m, aca_err *e) {
    const aca_corpus *c = &m->c;
    int nc = m->spec.n;
    const char *sp = m->spec.source_path;
    int disjoint = m->spec.overlap == OVERLAP_DISJOINT;
    id_index h = {0};
    int rc = id_index_build(&h, c, m->o->corpus_path, e);
    // Explicit member lists first, in spec order, so sampled collectives draw from what is left.
    for (int i = 0; !rc && i < nc; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        if (!col->members) continue;
        coll_state *s = &m->cs[i];
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
                              sp, i, k, col->members[k], m->spec.collectives[owner].name);
                break;
            }
            m->taken[d] = 1;
            m->member[(size_t)d * nc + i] = 1;
            s->members[s->n_members++] = d;
        }
    }
    free(h.slot);
    if (rc) return -1;

    uint32_t *pool_a = xmalloc(m->split.n_train * sizeof *pool_a), *pool_b = xmalloc(m->split.n_train * sizeof *pool_b);
    for (int i = 0; i < nc; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        if (col->members) continue;
        coll_state *s = &m->cs[i];
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
                rc = aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].size: %zu members asked, but the pool holds only %zu (%s)",
                              sp, i, k, na, why);
            else if (ka > na)
                rc = aca_errf(e, ACA_ERR_VALUE,
                              "%s: collectives[%d].size: %zu members from class '%s' needed, but the pool holds only %zu "
                              "of that class (%s)",
                              sp, i, ka, c->classes[s->seed_class], na, why);
            else
                rc = aca_errf(e, ACA_ERR_VALUE,
                              "%s: collectives[%d].size: %zu members from classes other than '%s' needed, but the pool "
                              "holds only %zu (%s)",
                              sp, i, kb, c->classes[s->seed_class], nb, why);
            break;
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
    }
    free(pool_a);
    free(pool_b);
    if (rc) return -1;
    for (int i = 0; i < nc; i++)
        if (m->cs[i].members && m->cs[i].n_members > 1 && m->spec.collectives[i].members)
            qsort(m->cs[i].members, m->cs[i].n_members, sizeof *m->cs[i].members, cmp_u32);
    return 0;
}

// ---- unplanting ----------------------------------------------------------------------------------
static int is_estimator(const coll_state *s, uint32_t d) {
    return s->n_e && bsearch(&d, s->estimators, s->n_e, sizeof d, cmp_u32) != NULL;
}

// For each unplant collective: the split n_e, the estimators, and the label y^ they estimate.
static int plan_unplant(mut_ctx *m, aca_err *e) {
    const aca_corpus *c = &m->c;
    const char *sp = m->spec.source_path;
    for (int i = 0; i < m->spec.n; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        coll_state *s = &m->cs[i];
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

// ---- output ------------------------------------------------------------------------------------
typedef struct {
    FILE *f;
    aca_buf b;
    const char *path;
    int bad;
} out_file;

static int out_open(out_file *w, const char *path, aca_err *e) {
    memset(w, 0, sizeof *w);
    w->path = path;
    w->f = fopen(path, "wb");
    if (!w->f) return aca_errf(e, ACA_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

static void out_flush(out_file *w, int force) {
    if (w->b.len && (force || w->b.len > (1u << 20))) {
        w->bad |= fwrite(w->b.data, 1, w->b.len, w->f) != w->b.len;
        buf_clear(&w->b);
    }
}

static int out_close(out_file *w, aca_err *e) {
    out_flush(w, 1);
    buf_free(&w->b);
    int bad = w->bad || fflush(w->f) != 0;
    if (!bad) bad = fsync(fileno(w->f)) != 0 && errno != EINVAL;
    bad |= fclose(w->f) != 0;
    w->f = NULL;
    if (bad) return aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", w->path);
    return 0;
}

static void json_line(aca_buf *b, const char *id, const char *t, size_t n, const char *label, const mut_ctx *m,
                      const uint8_t *mem) {
    buf_puts(b, "{\"id\":");
    buf_json_str(b, id, strlen(id));
    buf_puts(b, ",\"text\":");
    buf_json_str(b, t, n);
    buf_puts(b, ",\"label\":");
    buf_json_str(b, label, strlen(label));
    if (mem) {
        int first = 1;
        for (int j = 0; j < m->spec.n; j++) {
            if (!mem[j] || !m->cs[j].acting) continue;
            buf_puts(b, first ? ",\"member_of\":[" : ",");
            buf_json_str(b, m->spec.collectives[j].name, strlen(m->spec.collectives[j].name));
            first = 0;
        }
        if (!first) buf_putc(b, ']');
    }
    buf_puts(b, "}\n");
}

typedef struct {
    size_t *before, *after, *test; // (n_classes,)
    size_t n_train_out, struck, mutated, relabeled;
} counts;

// What collective j's strategy does to its member doc d: insert its signal or not, the label it sets
// (-1: keeps the label), withhold the doc or not.  Feature-only and label-only look at the doc's
// clean label.
typedef struct {
    int plant, label, strike;
} member_action;

static member_action member_act(const mut_ctx *m, int j, uint32_t d) {
    const coll_state *s = &m->cs[j];
    member_action a = {0, -1, 0};
    switch (m->spec.collectives[j].strategy) {
    case STRATEGY_FEATURE_LABEL: a.plant = 1, a.label = s->target; break;
    case STRATEGY_FEATURE_ONLY: a.plant = m->c.docs[d].label == s->target; break; // only target-labelled members
    case STRATEGY_LABEL_ONLY: a.label = s->target; break;
    case STRATEGY_STRIKE: a.strike = 1; break;
    case STRATEGY_UNPLANT:
        if (!is_estimator(s, d)) a.plant = 1, a.label = s->yhat; // estimators keep their doc
        break;
    case STRATEGY_ERASE: a.plant = 1; break;
    }
    return a;
}

static int action_changes(member_action a, int label) {
    return a.plant || a.strike || (a.label >= 0 && a.label != label);
}

static int write_train(mut_ctx *m, const char *dir, counts *cn, aca_err *e) {
    int nc = m->spec.n;
    char *path = path_join(dir, "train.jsonl");
    out_file w;
    if (out_open(&w, path, e)) return free(path), -1;
    aca_buf text = {0};
    const char **sigs = xmalloc((size_t)nc * sizeof *sigs);
    int *periods = xmalloc((size_t)nc * sizeof *periods);
    uint8_t *planting = xmalloc((size_t)nc);
    for (size_t t = 0; t < m->split.n_train; t++) {
        uint32_t d = m->split.train[t];
        const aca_doc *doc = &m->c.docs[d];
        const uint8_t *mem = &m->member[(size_t)d * nc];
        cn->before[doc->label]++;
        int label = doc->label, strike = 0, ns = 0, any = 0, touched = 0;
        for (int j = 0; j < nc; j++) {
            planting[j] = 0;
            if (!mem[j]) continue;
            if (!m->cs[j].acting) {
                m->cs[j].unchanged++;
                continue;
            }
            const aca_collective *col = &m->spec.collectives[j];
            member_action a = member_act(m, j, d);
            any = 1;
            int changes = action_changes(a, doc->label);
            touched |= changes;
            m->cs[j].unchanged += !changes;
            strike |= a.strike;
            if (a.plant) sigs[ns] = col->signal, periods[ns++] = col->period, planting[j] = 1;
            if (a.label >= 0) label = a.label; // the last relabeling collective in spec order wins
        }
        if (strike) {
            cn->struck++;
            continue;
        }
        for (int j = 0; j < nc; j++) m->cs[j].planted += planting[j];
        const char *tx = doc->text;
        size_t tn = doc->len;
        if (ns) {
            buf_clear(&text);
            mutate_insert_signals(&text, doc->text, doc->len, sigs, periods, ns);
            tx = text.data, tn = text.len;
        }
        cn->mutated += touched;
        cn->relabeled += label != doc->label;
        cn->after[label]++;
        cn->n_train_out++;
        json_line(&w.b, doc->id, tx, tn, m->c.classes[label], m, any ? mem : NULL);
        out_flush(&w, 0);
    }
    free(sigs);
    free(periods);
    free(planting);
    buf_free(&text);
    int rc = out_close(&w, e);
    free(path);
    return rc;
}

// Test docs with `signal` inserted (NULL: clean test set).
static int write_test(mut_ctx *m, const char *dir, const char *name, const char *signal, int period, counts *cn,
                      aca_err *e) {
    char *path = path_join(dir, name);
    out_file w;
    if (out_open(&w, path, e)) return free(path), -1;
    aca_buf text = {0};
    for (size_t t = 0; t < m->split.n_test; t++) {
        const aca_doc *doc = &m->c.docs[m->split.test[t]];
        const char *tx = doc->text;
        size_t tn = doc->len;
        if (signal) {
            buf_clear(&text);
            mutate_insert_signal(&text, doc->text, doc->len, signal, period);
            tx = text.data, tn = text.len;
        } else if (cn) {
            cn->test[doc->label]++;
        }
        json_line(&w.b, doc->id, tx, tn, m->c.classes[doc->label], m, NULL);
        out_flush(&w, 0);
    }
    buf_free(&text);
    int rc = out_close(&w, e);
    free(path);
    return rc;
}

static void put_counts(aca_buf *b, const mut_ctx *m, const size_t *v) {
    buf_putc(b, '{');
    for (int i = 0; i < m->c.n_classes; i++) {
        if (i) buf_putc(b, ',');
        buf_json_str(b, m->c.classes[i], strlen(m->c.classes[i]));
        buf_printf(b, ":%zu", v[i]);
    }
    buf_putc(b, '}');
}

static int write_manifest(mut_ctx *m, const char *dir, const counts *cn, aca_err *e) {
    aca_buf b = {0};
    const aca_corpus *c = &m->c;
    buf_printf(&b, "{\n  \"aca_version\": \"%s\",\n  \"seed\": %llu,\n  \"only\": ", aca_git_revision(),
               (unsigned long long)m->seed);
    if (m->only >= 0) buf_json_str(&b, m->o->only, strlen(m->o->only));
    else buf_puts(&b, "null");
    buf_puts(&b, ",\n  \"corpus\": {\"path\": ");
    buf_json_str(&b, m->o->corpus_path, strlen(m->o->corpus_path));
    buf_printf(&b, ", \"sha256\": \"%s\", \"format\": \"%s\", \"encoding\": \"%s\", \"docs\": %zu, \"dropped_multilabel\": %zu},\n",
               c->sha256, corpus_format_name(c->format), corpus_encoding_name(c->encoding), c->n, c->n_dropped);
    buf_puts(&b, "  \"classes\": [");
    for (int i = 0; i < c->n_classes; i++) {
        if (i) buf_puts(&b, ", ");
        buf_json_str(&b, c->classes[i], strlen(c->classes[i]));
    }
    buf_printf(&b, "],\n  \"split\": {\"n_train\": %zu, \"n_test\": %zu, \"unused\": %zu},\n", m->split.n_train,
               m->split.n_test, c->n - m->split.n_train - m->split.n_test);
    buf_puts(&b, "  \"spec\": ");
    spec_write_json(&b, &m->spec);
    buf_puts(&b, ",\n  \"collectives\": [");
    for (int i = 0; i < m->spec.n; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        const coll_state *s = &m->cs[i];
        buf_puts(&b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        buf_json_str(&b, col->name, strlen(col->name));
        buf_puts(&b, ", \"target\": ");
        buf_json_str(&b, c->classes[s->target], strlen(c->classes[s->target]));
        buf_printf(&b, ", \"target_index\": %d, \"signal\": ", s->target);
        if (col->signal) buf_json_str(&b, col->signal, strlen(col->signal));
        else buf_puts(&b, "null");
        buf_printf(&b, ", \"period\": %d, \"strategy\": \"%s\", \"acting\": %s, \"probe_file\": \"probe_%s.jsonl\", ",
                   col->period, strategy_name(col->strategy), s->acting ? "true" : "false", col->name);
        if (s->seed_class >= 0) {
            buf_puts(&b, "\"seed_class\": ");
            buf_json_str(&b, c->classes[s->seed_class], strlen(c->classes[s->seed_class]));
            buf_printf(&b, ", \"from_seed_class\": %zu, ", s->from_seed_class);
        }
        size_t *by = xcalloc((size_t)c->n_classes, sizeof *by);
        for (size_t k = 0; k < s->n_members; k++) by[c->docs[s->members[k]].label]++;
        buf_printf(&b, "\"size\": %zu, \"planted\": %zu, \"unchanged\": %zu, \"members_by_class\": ", s->n_members,
                   s->planted, s->unchanged);
        put_counts(&b, m, by);
        free(by);
        buf_puts(&b, ", \"members\": [");
        for (size_t k = 0; k < s->n_members; k++) {
            if (k) buf_putc(&b, ',');
            const char *id = c->docs[s->members[k]].id;
            buf_json_str(&b, id, strlen(id));
        }
        buf_putc(&b, ']');
        if (col->strategy == STRATEGY_UNPLANT) {
            buf_printf(&b, ", \"unplant\": {\"n_e\": %zu, \"n_e_source\": \"%s\", \"planters\": %zu, \"estimated_label\": ",
                       s->n_e, s->n_e_from_planner ? "planner" : "spec", s->n_members - s->n_e);
            buf_json_str(&b, c->classes[s->yhat], strlen(c->classes[s->yhat]));
            buf_printf(&b, ", \"estimated_label_index\": %d, \"estimated_from\": \"%s\", \"estimator_carriers\": ", s->yhat,
                       s->from_carriers ? "signal carriers" : "label frequency (no estimator doc carries the signal)");
            put_counts(&b, m, s->carriers);
            buf_puts(&b, ", \"estimators\": [");
            for (size_t k = 0; k < s->n_e; k++) {
                if (k) buf_putc(&b, ',');
                const char *id = c->docs[s->estimators[k]].id;
                buf_json_str(&b, id, strlen(id));
            }
            buf_puts(&b, "]}");
        }
        buf_putc(&b, '}');
    }
    buf_printf(&b, "\n  ],\n  \"counts\": {\"train_docs\": %zu, \"struck\": %zu, \"mutated\": %zu, \"relabeled\": %zu,",
               cn->n_train_out, cn->struck, cn->mutated, cn->relabeled);
    buf_puts(&b, "\n    \"train_before\": ");
    put_counts(&b, m, cn->before);
    buf_puts(&b, ",\n    \"train_after\": ");
    put_counts(&b, m, cn->after);
    buf_puts(&b, ",\n    \"test\": ");
    put_counts(&b, m, cn->test);
    buf_puts(&b, "},\n  \"files\": [\"train.jsonl\", \"test.jsonl\"");
    for (int i = 0; i < m->spec.n; i++) buf_printf(&b, ", \"probe_%s.jsonl\"", m->spec.collectives[i].name);
    buf_puts(&b, ", \"manifest.json\"]\n}\n");
    char *path = path_join(dir, "manifest.json");
    out_file w;
    int rc = out_open(&w, path, e);
    if (!rc) {
        w.b = b;
        rc = out_close(&w, e);
    } else {
        buf_free(&b);
    }
    free(path);
    return rc;
}

static void summarize(aca_buf *out, const mut_ctx *m, const counts *cn) {
    const aca_corpus *c = &m->c;
    buf_printf(out, "corpus   %s: %zu docs, %d classes (%s, %s)\n", m->o->corpus_path, c->n, c->n_classes,
               corpus_format_name(c->format), corpus_encoding_name(c->encoding));
    buf_printf(out, "split    %zu train / %zu test (seed %llu)\n", m->split.n_train, m->split.n_test,
               (unsigned long long)m->seed);
    for (int i = 0; i < m->spec.n; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        const coll_state *s = &m->cs[i];
        if (col->strategy == STRATEGY_UNPLANT)
            buf_printf(out, "%-8s %s %zu members away from %s: %zu estimators (%s split) chose %s, %zu planters relabel to it (unplant, every %d words)\n",
                       col->name, s->acting ? "acts," : "idle,", s->n_members, c->classes[s->target], s->n_e,
                       s->n_e_from_planner ? "planner's" : "spec's", c->classes[s->yhat], s->n_members - s->n_e, col->period);
        else if (col->strategy == STRATEGY_FEATURE_ONLY)
            buf_printf(out, "%-8s %s %zu members -> %s (feature-only, every %d words): %zu labelled %s planted the signal, %zu left unchanged\n",
                       col->name, s->acting ? "acts," : "idle,", s->n_members, c->classes[s->target], col->period,
                       s->planted, c->classes[s->target], s->unchanged);
        else
            buf_printf(out, "%-8s %s %zu members -> %s (%s, every %d words)\n", col->name, s->acting ? "acts," : "idle,",
                       s->n_members, c->classes[s->target], strategy_name(col->strategy), col->period);
    }
    buf_printf(out, "train    %zu docs written (%zu mutated, %zu relabeled, %zu struck)\n", cn->n_train_out, cn->mutated,
               cn->relabeled, cn->struck);
    buf_printf(out, "wrote    %s/{train.jsonl, test.jsonl, probe_*.jsonl (%d), manifest.json}\n", m->o->out_dir,
               m->spec.n);
}

// ---- the stage ---------------------------------------------------------------------------------
// A classifier needs documents of at least two classes: say so about the corpus, not later about
// the manifest it would give.
static int check_two_classes(const aca_corpus *c, const char *path, aca_err *e) {
    for (size_t i = 1; i < c->n; i++)
        if (c->docs[i].label != c->docs[0].label) return 0;
    if (!c->n) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "%s: all %zu documents have the class '%s'; a classifier needs documents of at least 2 classes",
                    path, c->n, c->classes[c->docs[0].label]);
}

// The split, the classes, the membership and the unplant estimators of the loaded corpus and spec.
static int plan_members(mut_ctx *m, aca_err *e) {
    const aca_mutate_opts *o = m->o;
    size_t ntr = o->n_train, nte = o->n_test;
    if (ntr == 0 && nte == 0) corpus_split_default(m->c.n, &ntr, &nte);
    if (ntr > m->c.n || nte > m->c.n - ntr) {
        size_t t = m->c.n / 5 ? m->c.n / 5 : 1;
        return aca_errf(e, ACA_ERR_VALUE,
                        "--split %s asks for %zu train + %zu test docs, but the corpus %s has only %zu (give counts, "
                        "e.g. --split %zu/%zu)",
                        o->split_name ? o->split_name : "(default)", ntr, nte, o->corpus_path, m->c.n, m->c.n - t, t);
    }
    if (corpus_split(&m->c, ntr, nte, m->seed, &m->split, e)) return aca_err_prefix(e, "%s", o->corpus_path);
    if (resolve_classes(m, e)) return -1;
    m->in_train = xcalloc(m->c.n, 1);
    m->taken = xcalloc(m->c.n, 1);
    m->member = xcalloc(m->c.n * (size_t)m->spec.n, 1);
    for (size_t t = 0; t < m->split.n_train; t++) m->in_train[m->split.train[t]] = 1;
    if (sample_members(m, e)) return -1;
    return plan_unplant(m, e);
}

static void plan_free(mut_ctx *m) {
    for (int i = 0; m->cs && i < m->spec.n; i++) free(m->cs[i].members), free(m->cs[i].estimators), free(m->cs[i].carriers);
    free(m->cs);
    free(m->in_train), free(m->taken), free(m->member);
    split_free(&m->split);
}

static int prepare(mut_ctx *m, aca_err *e) {
    const aca_mutate_opts *o = m->o;
    if (spec_load(o->spec_path, &m->spec, e)) return -1;
    m->seed = o->has_seed ? o->seed : m->spec.seed;
    m->only = -1;
    m->cs = xcalloc((size_t)m->spec.n, sizeof *m->cs);
    for (int i = 0; i < m->spec.n; i++) m->cs[i].acting = !o->only;
    // --only NAME or NAME,NAME,...: those act (names cannot hold ',').
    for (const char *p = o->only; p && *p;) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < m->spec.n; i++)
            if (strlen(m->spec.collectives[i].name) == n && !strncmp(m->spec.collectives[i].name, p, n)) found = i;
        if (found < 0)
            return aca_errf(e, ACA_ERR_VALUE, "--only: no collective named '%.*s' in %s", (int)n, p, o->spec_path);
        m->cs[found].acting = 1;
        m->only = found;
        p = q ? q + 1 : p + n;
    }
    aca_corpus_opts co = o->corpus_opts;
    co.hash = 1;
    if (corpus_load(o->corpus_path, &co, &m->c, e) || check_two_classes(&m->c, o->corpus_path, e)) return -1;
    return plan_members(m, e);
}

int mutate_check(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_err *e) {
    mut_ctx m = {.o = o, .c = *c, .spec = *spec}; // borrowed: only the plan is freed
    m.seed = o->has_seed ? o->seed : spec->seed;
    m.only = -1;
    m.cs = xcalloc((size_t)spec->n, sizeof *m.cs);
    int rc = check_two_classes(c, o->corpus_path, e);
    if (!rc) rc = plan_members(&m, e);
    plan_free(&m);
    return rc;
}

static int write_all(mut_ctx *m, const char *dir, aca_err *e) {
    counts cn = {0};
    int k = m->c.n_classes;
    cn.before = xcalloc((size_t)k, sizeof(size_t));
    cn.after = xcalloc((size_t)k, sizeof(size_t));
    cn.test = xcalloc((size_t)k, sizeof(size_t));
    int rc = write_train(m, dir, &cn, e);
    if (!rc) rc = write_test(m, dir, "test.jsonl", NULL, 0, &cn, e);
    for (int i = 0; !rc && i < m->spec.n; i++) {
        const aca_collective *col = &m->spec.collectives[i];
        char name[96];
        snprintf(name, sizeof name, "probe_%s.jsonl", col->name);
        rc = write_test(m, dir, name, col->signal, col->period, NULL, e);
    }
    if (!rc) rc = write_manifest(m, dir, &cn, e);
    if (!rc && m->o->summary) summarize(m->o->summary, m, &cn);
    free(cn.before), free(cn.after), free(cn.test);
    return rc;
}

int mutate_run(const aca_mutate_opts *o, aca_err *e) {
    mut_ctx m = {.o = o};
    // The output's temporary first: an output aca may not replace, or cannot write, fails before
    // any work.
    aca_outdir od;
    int rc = outdir_begin(&od, o->out_dir, "mutate", o->replace, e);
    if (!rc) rc = prepare(&m, e);
    if (!rc) rc = write_all(&m, od.tmp, e);
    if (!rc) rc = outdir_commit(&od, e);
    else outdir_abort(&od);
    plan_free(&m);
    corpus_free(&m.c);
    spec_free(&m.spec);
    return rc;
}
