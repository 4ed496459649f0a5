// The mutation stage's sink (see include/aca/mutate.h): a mutation's sets as JSONL, its manifest,
// the summary `aca mutate` prints, and the files of a data directory.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/outdir.h"
#include "mutate_internal.h"

void mutation_jsonl(const aca_mutation *m, const aca_mut_set *s, aca_buf *out) {
    const aca_corpus *c = m->corpus;
    const int nc = m->spec->n;
    for (size_t k = 0; k < s->n; k++) {
        const aca_mut_doc *d = &s->docs[k];
        corpus_json_fields(out, c->docs[d->doc].id, d->text, d->len, c->classes[d->label]);
        int first = 1;
        for (int j = 0; s->train && j < nc; j++) { // the acting collectives this training doc is a member of
            if (!m->member[(size_t)d->doc * nc + j] || !m->coll[j].acting) continue;
            buf_puts(out, first ? ",\"member_of\":[" : ",");
            buf_json_str(out, m->spec->collectives[j].name, strlen(m->spec->collectives[j].name));
            first = 0;
        }
        if (!first) buf_putc(out, ']');
        buf_puts(out, "}\n");
    }
}

static void put_counts(aca_buf *b, const aca_mutation *m, const size_t *v) {
    buf_putc(b, '{');
    for (int i = 0; i < m->corpus->n_classes; i++) {
        if (i) buf_putc(b, ',');
        buf_json_str(b, m->corpus->classes[i], strlen(m->corpus->classes[i]));
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
static void manifest_collective(aca_buf *b, const aca_mutation *m, int i) {
    const aca_corpus *c = m->corpus;
    const aca_collective *col = &m->spec->collectives[i];
    const aca_mut_coll *s = &m->coll[i];
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

void mutation_manifest_json(const aca_mutation *m, aca_buf *b) {
    const aca_corpus *c = m->corpus;
    buf_printf(b, "{\n  \"aca_version\": \"%s\",\n  \"seed\": %llu,\n  \"only\": ", aca_git_revision(),
               (unsigned long long)m->seed);
    if (m->only) buf_json_str(b, m->only, strlen(m->only));
    else buf_puts(b, "null");
    buf_puts(b, ",\n  \"corpus\": {\"path\": ");
    buf_json_str(b, m->corpus_path, strlen(m->corpus_path));
    buf_printf(b, ", \"sha256\": \"%s\", \"format\": \"%s\", \"encoding\": \"%s\", \"docs\": %zu, \"dropped_multilabel\": %zu},\n",
               c->sha256, corpus_format_name(c->format), corpus_encoding_name(c->encoding), c->n, c->n_dropped);
    buf_puts(b, "  \"classes\": [");
    for (int i = 0; i < c->n_classes; i++) {
        if (i) buf_puts(b, ", ");
        buf_json_str(b, c->classes[i], strlen(c->classes[i]));
    }
    buf_printf(b, "],\n  \"split\": {\"n_train\": %zu, \"n_test\": %zu, \"unused\": %zu},\n", m->split.n_train,
               m->split.n_test, c->n - m->split.n_train - m->split.n_test);
    buf_puts(b, "  \"spec\": ");
    spec_write_json(b, m->spec);
    buf_puts(b, ",\n  \"collectives\": [");
    for (int i = 0; i < m->spec->n; i++) manifest_collective(b, m, i);
    buf_printf(b, "\n  ],\n  \"counts\": {\"train_docs\": %zu, \"struck\": %zu, \"mutated\": %zu, \"relabeled\": %zu,",
               m->train.n, m->struck, m->mutated, m->relabeled);
    buf_puts(b, "\n    \"train_before\": ");
    put_counts(b, m, m->train_before);
    buf_puts(b, ",\n    \"train_after\": ");
    put_counts(b, m, m->train_after);
    buf_puts(b, ",\n    \"test\": ");
    put_counts(b, m, m->test_counts);
    buf_puts(b, "},\n  \"files\": [\"train.jsonl\", \"test.jsonl\"");
    for (int i = 0; i < m->spec->n; i++) buf_printf(b, ", \"probe_%s.jsonl\"", m->spec->collectives[i].name);
    buf_puts(b, ", \"manifest.json\"]\n}\n");
}

void mutation_summary(const aca_mutation *m, const char *out_dir, aca_buf *out) {
    const aca_corpus *c = m->corpus;
    buf_printf(out, "corpus   %s: %zu docs, %d classes (%s, %s)\n", m->corpus_path, c->n, c->n_classes,
               corpus_format_name(c->format), corpus_encoding_name(c->encoding));
    buf_printf(out, "split    %zu train / %zu test (seed %llu)\n", m->split.n_train, m->split.n_test,
               (unsigned long long)m->seed);
    for (int i = 0; i < m->spec->n; i++) {
        const aca_collective *col = &m->spec->collectives[i];
        const aca_mut_coll *s = &m->coll[i];
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
    buf_printf(out, "train    %zu docs written (%zu mutated, %zu relabeled, %zu struck)\n", m->train.n, m->mutated,
               m->relabeled, m->struck);
    buf_printf(out, "wrote    %s/{train.jsonl, test.jsonl, probe_*.jsonl (%d), manifest.json}\n", out_dir,
               m->spec->n);
}


// path written with bytes b (fsync'ed): a file of the data directory being assembled.
static int write_file(const char *dir, const char *name, const aca_buf *b, aca_err *e) {
    char *path = path_join(dir, name);
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f) {
        rc = aca_errf(e, ACA_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    } else {
        int bad = (b->len && fwrite(b->data, 1, b->len, f) != b->len) || fflush(f) != 0;
        if (!bad) bad = fsync(fileno(f)) != 0 && errno != EINVAL;
        bad |= fclose(f) != 0;
        if (bad) rc = aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", path);
    }
    free(path);
    return rc;
}

// One set's file (its JSONL bytes).
static int write_set(const aca_mutation *m, const aca_mut_set *s, const char *dir, const char *name, aca_err *e) {
    aca_buf b = {0};
    mutation_jsonl(m, s, &b);
    int rc = write_file(dir, name, &b, e);
    buf_free(&b);
    return rc;
}

int mutation_write(const aca_mutation *m, const char *dir, aca_err *e) {
    int rc = write_set(m, &m->train, dir, "train.jsonl", e) || write_set(m, &m->test, dir, "test.jsonl", e);
    for (int i = 0; !rc && i < m->spec->n; i++) {
        char name[96];
        snprintf(name, sizeof name, "probe_%s.jsonl", m->spec->collectives[i].name);
        rc = write_set(m, &m->probe[i], dir, name, e);
    }
    if (!rc) {
        aca_buf b = {0};
        mutation_manifest_json(m, &b);
        rc = write_file(dir, "manifest.json", &b, e);
        buf_free(&b);
    }
    return rc ? -1 : 0;
}

int mutation_save(const aca_mutation *m, const char *out_dir, int replace, aca_err *e) {
    aca_outdir od;
    if (outdir_begin(&od, out_dir, "mutate", replace, e)) return -1;
    if (mutation_write(m, od.tmp, e)) {
        outdir_abort(&od);
        return -1;
    }
    return outdir_commit(&od, e);
}
