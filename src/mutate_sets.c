// The mutation stage's output sets (see include/aca/mutate.h): each training document as the acting
// collectives' strategies make it, the clean test set and one probe set per collective, in memory,
// with the counts the manifest reports.  The files are mutate_write.c's.
#include <stdlib.h>
#include <string.h>

#include "mutate_internal.h"

// What collective j's strategy does to its member doc d: insert its signal or not, the label it sets
// (-1: keeps the label), withhold the doc or not.  Feature-only and label-only look at the doc's
// clean label.
typedef struct {
    int plant, label, strike;
} member_action;

static member_action member_act(const mut_ctx *m, int j, uint32_t d) {
    const aca_mut_coll *s = &m->cs[j];
    member_action a = {0, -1, 0};
    switch (m->spec->collectives[j].strategy) {
    case STRATEGY_FEATURE_LABEL: a.plant = 1, a.label = s->target; break;
    case STRATEGY_FEATURE_ONLY: a.plant = m->c->docs[d].label == s->target; break; // only target-labelled members
    case STRATEGY_LABEL_ONLY: a.label = s->target; break;
    case STRATEGY_STRIKE: a.strike = 1; break;
    case STRATEGY_UNPLANT:
        if (!mutate_is_estimator(s, d)) a.plant = 1, a.label = s->yhat; // estimators keep their doc
        break;
    case STRATEGY_ERASE: a.plant = 1; break;
    }
    return a;
}

static int action_changes(member_action a, int label) {
    return a.plant || a.strike || (a.label >= 0 && a.label != label);
}

// Document d with its own label, and text t (n bytes) copied in when it is not the corpus's.
static aca_mut_doc out_doc(const aca_corpus *c, uint32_t d, int label, const aca_buf *t) {
    aca_mut_doc o = {d, c->docs[d].text, c->docs[d].len, label, NULL};
    if (t) {
        o.own = xmalloc(t->len + 1);
        memcpy(o.own, t->data, t->len);
        o.own[t->len] = 0;
        o.text = o.own, o.len = t->len;
    }
    return o;
}

// Training document d (a slot of r->train) under the acting collectives it belongs to; 0 when struck.
static int train_doc(mut_ctx *m, aca_mutation *r, uint32_t d, aca_buf *text, const char **sigs, int *periods,
                     uint8_t *planting) {
    const int nc = m->spec->n;
    const aca_doc *doc = &m->c->docs[d];
    const uint8_t *mem = &m->member[(size_t)d * nc];
    r->train_before[doc->label]++;
    int label = doc->label, strike = 0, ns = 0, touched = 0;
    for (int j = 0; j < nc; j++) {
        planting[j] = 0;
        if (!mem[j]) continue;
        if (!m->cs[j].acting) {
            m->cs[j].unchanged++;
            continue;
        }
        const aca_collective *col = &m->spec->collectives[j];
        member_action a = member_act(m, j, d);
        int changes = action_changes(a, doc->label);
        touched |= changes;
        m->cs[j].unchanged += !changes;
        strike |= a.strike;
        if (a.plant) sigs[ns] = col->signal, periods[ns++] = col->period, planting[j] = 1;
        if (a.label >= 0) label = a.label; // the last relabeling collective in spec order wins
    }
    if (strike) {
        r->struck++;
        return 0;
    }
    for (int j = 0; j < nc; j++) m->cs[j].planted += planting[j];
    if (ns) {
        buf_clear(text);
        mutate_insert_signals(text, doc->text, doc->len, sigs, periods, ns);
    }
    r->mutated += touched;
    r->relabeled += label != doc->label;
    r->train_after[label]++;
    r->train.docs[r->train.n++] = out_doc(m->c, d, label, ns ? text : NULL);
    return 1;
}

// The test documents, clean (signal NULL) or with a collective's signal inserted (a probe set).
static void test_set(const mut_ctx *m, const char *signal, int period, aca_mut_set *s) {
    aca_buf text = {0};
    s->docs = xcalloc(m->split.n_test + 1, sizeof *s->docs);
    for (size_t t = 0; t < m->split.n_test; t++) {
        uint32_t d = m->split.test[t];
        if (signal) {
            buf_clear(&text);
            mutate_insert_signal(&text, m->c->docs[d].text, m->c->docs[d].len, signal, period);
        }
        s->docs[s->n++] = out_doc(m->c, d, m->c->docs[d].label, signal ? &text : NULL);
    }
    buf_free(&text);
}

void mutate_build_sets(mut_ctx *m, aca_mutation *r) {
    const int nc = m->spec->n;
    const size_t K = (size_t)m->c->n_classes;
    r->train_before = xcalloc(K, sizeof(size_t));
    r->train_after = xcalloc(K, sizeof(size_t));
    r->test_counts = xcalloc(K, sizeof(size_t));
    r->train.train = 1;
    r->train.docs = xcalloc(m->split.n_train + 1, sizeof *r->train.docs);
    aca_buf text = {0};
    const char **sigs = xmalloc((size_t)nc * sizeof *sigs);
    int *periods = xmalloc((size_t)nc * sizeof *periods);
    uint8_t *planting = xmalloc((size_t)nc);
    for (size_t t = 0; t < m->split.n_train; t++) train_doc(m, r, m->split.train[t], &text, sigs, periods, planting);
    free(sigs), free(periods), free(planting);
    buf_free(&text);
    test_set(m, NULL, 0, &r->test);
    for (size_t t = 0; t < r->test.n; t++) r->test_counts[r->test.docs[t].label]++;
    r->probe = xcalloc((size_t)nc + 1, sizeof *r->probe);
    for (int i = 0; i < nc; i++) test_set(m, m->spec->collectives[i].signal, m->spec->collectives[i].period, &r->probe[i]);
}
