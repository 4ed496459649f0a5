// The mutation stage's sink (see include/aca/mutate.h): a mutation's sets as JSONL, its manifest,
// the summary `aca mutate` prints, and the files of a data directory.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/jsonw.h"
#include "aca/outdir.h"
#include "mutate_internal.h"

// "probe_<name>.jsonl", collective i's probe file.
static void probe_file(char *out, size_t n, const aca_mutation *m, int i) {
    snprintf(out, n, "probe_%s.jsonl", m->spec->collectives[i].name);
}

void mutation_jsonl(const aca_mutation *m, const aca_mut_set *s, aca_buf *out) {
    const aca_corpus *c = m->corpus;
    const int nc = m->spec->n;
    for (size_t k = 0; k < s->n; k++) {
        const aca_mut_doc *d = &s->docs[k];
        aca_jsonw w;
        jsonw_init(&w, out);
        jsonw_obj(&w);
        corpus_json_fields(&w, c->docs[d->doc].id, d->text, d->len, c->classes[d->label]);
        int first = 1;
        for (int j = 0; s->train && j < nc; j++) { // the acting collectives this training doc is a member of
            if (!m->member[(size_t)d->doc * nc + j] || !m->coll[j].acting) continue;
            if (first) jsonw_key(&w, "member_of"), jsonw_arr(&w);
            jsonw_str(&w, m->spec->collectives[j].name);
            first = 0;
        }
        if (!first) jsonw_end(&w);
        jsonw_end(&w);
        buf_putc(out, '\n');
    }
}

// {"class":count,...} over the corpus's classes, compact inside the spaced manifest.
static void put_counts(aca_jsonw *w, const aca_mutation *m, const size_t *v) {
    jsonw_compact(w);
    jsonw_obj(w);
    for (int i = 0; i < m->corpus->n_classes; i++) jsonw_kuint(w, m->corpus->classes[i], v[i]);
    jsonw_end(w);
    jsonw_spaced(w);
}

// The ids of corpus documents idx (n) as a compact JSON array.
static void put_ids(aca_jsonw *w, const aca_corpus *c, const uint32_t *idx, size_t n) {
    jsonw_compact(w);
    jsonw_arr(w);
    for (size_t k = 0; k < n; k++) jsonw_str(w, c->docs[idx[k]].id);
    jsonw_end(w);
    jsonw_spaced(w);
}

// The "unplant" object of an unplant collective: its estimators and what they chose.
static void manifest_unplant(aca_jsonw *w, const aca_mutation *m, const aca_mut_coll *s) {
    const aca_corpus *c = m->corpus;
    jsonw_key(w, "unplant");
    jsonw_obj(w);
    jsonw_kuint(w, "n_e", s->n_e);
    jsonw_kstr(w, "n_e_source", s->n_e_from_planner ? "planner" : "spec");
    jsonw_kuint(w, "planters", s->n_members - s->n_e);
    jsonw_kstr(w, "estimated_label", c->classes[s->yhat]);
    jsonw_kint(w, "estimated_label_index", s->yhat);
    jsonw_kstr(w, "estimated_from", s->from_carriers ? "signal carriers" : "label frequency (no estimator doc carries the signal)");
    jsonw_key(w, "estimator_carriers");
    put_counts(w, m, s->carriers);
    jsonw_key(w, "estimators");
    put_ids(w, c, s->estimators, s->n_e);
    jsonw_end(w);
}

// Collective i's object in the manifest's "collectives" array.
static void manifest_collective(aca_jsonw *w, const aca_mutation *m, int i) {
    const aca_corpus *c = m->corpus;
    const aca_collective *col = &m->spec->collectives[i];
    const aca_mut_coll *s = &m->coll[i];
    char probe[96];
    probe_file(probe, sizeof probe, m, i);
    jsonw_obj(w);
    jsonw_kstr(w, "name", col->name);
    jsonw_kstr(w, "target", c->classes[s->target]);
    jsonw_kint(w, "target_index", s->target);
    jsonw_kstr(w, "signal", col->signal); // NULL: null
    jsonw_kint(w, "period", col->period);
    jsonw_kstr(w, "strategy", strategy_name(col->strategy));
    jsonw_kbool(w, "acting", s->acting);
    jsonw_kstr(w, "probe_file", probe);
    if (s->seed_class >= 0) {
        jsonw_kstr(w, "seed_class", c->classes[s->seed_class]);
        jsonw_kuint(w, "from_seed_class", s->from_seed_class);
    }
    size_t *by = xcalloc((size_t)c->n_classes, sizeof *by);
    for (size_t k = 0; k < s->n_members; k++) by[c->docs[s->members[k]].label]++;
    jsonw_kuint(w, "size", s->n_members);
    jsonw_kuint(w, "planted", s->planted);
    jsonw_kuint(w, "unchanged", s->unchanged);
    jsonw_key(w, "members_by_class");
    put_counts(w, m, by);
    free(by);
    jsonw_key(w, "members");
    put_ids(w, c, s->members, s->n_members);
    if (col->strategy == STRATEGY_UNPLANT) manifest_unplant(w, m, s);
    jsonw_end(w);
}

// The corpus, its classes and the split, as the manifest records them.
static void manifest_corpus(aca_jsonw *w, const aca_mutation *m) {
    const aca_corpus *c = m->corpus;
    jsonw_key(w, "corpus");
    jsonw_obj(w);
    jsonw_kstr(w, "path", m->corpus_path);
    jsonw_kstr(w, "sha256", c->sha256);
    jsonw_kstr(w, "format", corpus_format_name(c->format));
    jsonw_kstr(w, "encoding", corpus_encoding_name(c->encoding));
    jsonw_kuint(w, "docs", c->n);
    jsonw_kuint(w, "dropped_multilabel", c->n_dropped);
    jsonw_end(w);
    jsonw_key(w, "classes");
    jsonw_arr(w);
    for (int i = 0; i < c->n_classes; i++) jsonw_str(w, c->classes[i]);
    jsonw_end(w);
    jsonw_key(w, "split");
    jsonw_obj(w);
    jsonw_kuint(w, "n_train", m->split.n_train);
    jsonw_kuint(w, "n_test", m->split.n_test);
    jsonw_kuint(w, "unused", c->n - m->split.n_train - m->split.n_test);
    jsonw_end(w);
}

// "counts": the documents written and changed, then the classes of train (before and after) and test.
static void manifest_counts(aca_jsonw *w, const aca_mutation *m) {
    jsonw_key(w, "counts");
    jsonw_obj(w);
    jsonw_kuint(w, "train_docs", m->train.n);
    jsonw_kuint(w, "struck", m->struck);
    jsonw_kuint(w, "mutated", m->mutated);
    jsonw_kuint(w, "relabeled", m->relabeled);
    const char *const names[] = {"train_before", "train_after", "test"};
    const size_t *const v[] = {m->train_before, m->train_after, m->test_counts};
    for (int k = 0; k < 3; k++) {
        jsonw_newline(w, 4);
        jsonw_key(w, names[k]);
        put_counts(w, m, v[k]);
    }
    jsonw_end(w);
}

void mutation_manifest_json(const aca_mutation *m, aca_buf *b) {
    aca_jsonw w;
    char probe[96];
    jsonw_init(&w, b);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_lines(&w, 2);
    jsonw_kstr(&w, "aca_version", aca_git_revision());
    jsonw_kuint(&w, "seed", m->seed);
    jsonw_kstr(&w, "only", m->only); // NULL: null
    manifest_corpus(&w, m);
    aca_buf spec = {0};
    spec_write_json(&spec, m->spec);
    jsonw_key(&w, "spec"), jsonw_raw(&w, spec.data);
    buf_free(&spec);
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    jsonw_lines(&w, 4);
    for (int i = 0; i < m->spec->n; i++) manifest_collective(&w, m, i);
    jsonw_end(&w);
    manifest_counts(&w, m);
    jsonw_key(&w, "files");
    jsonw_arr(&w);
    jsonw_str(&w, "train.jsonl"), jsonw_str(&w, "test.jsonl");
    for (int i = 0; i < m->spec->n; i++) probe_file(probe, sizeof probe, m, i), jsonw_str(&w, probe);
    jsonw_str(&w, "manifest.json");
    jsonw_end(&w);
    jsonw_end(&w);
    buf_putc(b, '\n');
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
        probe_file(name, sizeof name, m, i);
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
