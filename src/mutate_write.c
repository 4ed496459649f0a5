// The mutation stage's outputs (see include/aca/mutate.h): train.jsonl with each member's document as
// its collectives' strategies make it, the clean test set, one probe set per collective, the manifest
// and the summary.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutate_internal.h"

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
    corpus_json_fields(b, id, t, n, label);
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
        if (!mutate_is_estimator(s, d)) a.plant = 1, a.label = s->yhat; // estimators keep their doc
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

// The ids of corpus documents idx (n) as a JSON array.
static void put_ids(aca_buf *b, const aca_corpus *c, const uint32_t *idx, size_t n) {
    buf_putc(b, '[');
    for (size_t k = 0; k < n; k++) {
        if (k) buf_putc(b, ',');
        buf_json_str(b, c->docs[idx[k]].id, strlen(c->docs[idx[k]].id));
    }
    buf_putc(b, ']');
}

// Collective i's object in the manifest's "collectives" array.
static void manifest_collective(aca_buf *b, const mut_ctx *m, int i) {
    const aca_corpus *c = &m->c;
    const aca_collective *col = &m->spec.collectives[i];
    const coll_state *s = &m->cs[i];
    buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
    buf_json_str(b, col->name, strlen(col->name));
    buf_puts(b, ", \"target\": ");
    buf_json_str(b, c->classes[s->target], strlen(c->classes[s->target]));
    buf_printf(b, ", \"target_index\": %d, \"signal\": ", s->target);
    if (col->signal) buf_json_str(b, col->signal, strlen(col->signal));
    else buf_puts(b, "null");
    buf_printf(b, ", \"period\": %d, \"strategy\": \"%s\", \"acting\": %s, \"probe_file\": \"probe_%s.jsonl\", ",
               col->period, strategy_name(col->strategy), s->acting ? "true" : "false", col->name);
    if (s->seed_class >= 0) {
        buf_puts(b, "\"seed_class\": ");
        buf_json_str(b, c->classes[s->seed_class], strlen(c->classes[s->seed_class]));
        buf_printf(b, ", \"from_seed_class\": %zu, ", s->from_seed_class);
    }
    size_t *by = xcalloc((size_t)c->n_classes, sizeof *by);
    for (size_t k = 0; k < s->n_members; k++) by[c->docs[s->members[k]].label]++;
    buf_printf(b, "\"size\": %zu, \"planted\": %zu, \"unchanged\": %zu, \"members_by_class\": ", s->n_members,
               s->planted, s->unchanged);
    put_counts(b, m, by);
    free(by);
    buf_puts(b, ", \"members\": ");
    put_ids(b, c, s->members, s->n_members);
    if (col->strategy == STRATEGY_UNPLANT) {
        buf_printf(b, ", \"unplant\": {\"n_e\": %zu, \"n_e_source\": \"%s\", \"planters\": %zu, \"estimated_label\": ",
                   s->n_e, s->n_e_from_planner ? "planner" : "spec", s->n_members - s->n_e);
        buf_json_str(b, c->classes[s->yhat], strlen(c->classes[s->yhat]));
        buf_printf(b, ", \"estimated_label_index\": %d, \"estimated_from\": \"%s\", \"estimator_carriers\": ", s->yhat,
                   s->from_carriers ? "signal carriers" : "label frequency (no estimator doc carries the signal)");
        put_counts(b, m, s->carriers);
        buf_puts(b, ", \"estimators\": ");
        put_ids(b, c, s->estimators, s->n_e);
        buf_putc(b, '}');
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
    for (int i = 0; i < m->spec.n; i++) manifest_collective(&b, m, i);
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

int mutate_write_all(mut_ctx *m, const char *dir, aca_err *e) {
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
