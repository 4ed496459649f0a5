// The data-mutation stage: split, membership sampling, strategies, outputs (see aca/mutate.h).
// Order of work: everything that can fail on user input (spec, corpus, classes, split, sampling)
// happens in memory (mutate_apply) before the first byte is written; the files go to a temporary
// beside DIR (outdir.h), swapped in at the end.  The membership is mutate_members.c's, the sets
// mutate_sets.c's, the files mutate_write.c's.
#include "aca/mutate.h"

#include <stdlib.h>
#include <string.h>

#include "aca/outdir.h"
#include "mutate_internal.h"

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

static void colls_free(aca_mut_coll *cs, int n) {
    for (int i = 0; cs && i < n; i++) free(cs[i].members), free(cs[i].estimators), free(cs[i].carriers);
    free(cs);
}

static void plan_free(mut_ctx *m) {
    colls_free(m->cs, m->spec->n);
    free(m->in_train), free(m->taken), free(m->member);
    split_free(&m->split);
}

// The working state of a mutation of spec over c, with the seed and the acting collectives of o.
static int ctx_init(mut_ctx *m, const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_err *e) {
    *m = (mut_ctx){.o = o, .spec = spec, .c = c, .seed = o->has_seed ? o->seed : spec->seed, .only = -1};
    m->cs = xcalloc((size_t)spec->n + 1, sizeof *m->cs);
    for (int i = 0; i < spec->n; i++) m->cs[i].acting = !o->only;
    // --only NAME or NAME,NAME,...: those act (names cannot hold ','); "" : none.
    for (const char *p = o->only; p && *p;) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < spec->n; i++)
            if (strlen(spec->collectives[i].name) == n && !strncmp(spec->collectives[i].name, p, n)) found = i;
        if (found < 0)
            return aca_errf(e, ACA_ERR_VALUE, "--only: no collective named '%.*s' in %s", (int)n, p,
                            o->spec_path ? o->spec_path : spec->source_path);
        m->cs[found].acting = 1;
        m->only = found;
        p = q ? q + 1 : p + n;
    }
    return 0;
}

int mutate_check(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_err *e) {
    mut_ctx m;
    aca_mutate_opts oo = *o;
    oo.only = NULL;
    int rc = ctx_init(&m, &oo, c, spec, e) || check_two_classes(c, o->corpus_path, e) || mutate_plan_members(&m, e);
    plan_free(&m);
    return rc ? -1 : 0;
}

int mutate_apply(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_mutation *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    mut_ctx m;
    if (ctx_init(&m, o, c, spec, e) || check_two_classes(c, o->corpus_path, e) || mutate_plan_members(&m, e)) {
        plan_free(&m);
        return -1;
    }
    r->corpus = c;
    r->spec = spec;
    r->corpus_path = xstrdup(o->corpus_path);
    r->only = m.only >= 0 ? xstrdup(o->only) : NULL;
    r->seed = m.seed;
    mutate_build_sets(&m, r);
    // The plan's results move into r.
    r->split = m.split, m.split = (aca_split){0};
    r->coll = m.cs, m.cs = NULL;
    r->member = m.member, m.member = NULL;
    plan_free(&m);
    return 0;
}

static void set_free(aca_mut_set *s) {
    for (size_t k = 0; s->docs && k < s->n; k++) free(s->docs[k].own);
    free(s->docs);
    memset(s, 0, sizeof *s);
}

void mutation_free(aca_mutation *r) {
    if (!r->spec) return;
    set_free(&r->train);
    set_free(&r->test);
    for (int i = 0; r->probe && i < r->spec->n; i++) set_free(&r->probe[i]);
    free(r->probe);
    colls_free(r->coll, r->spec->n);
    free(r->member);
    free(r->train_before), free(r->train_after), free(r->test_counts);
    split_free(&r->split);
    free(r->corpus_path), free(r->only);
    memset(r, 0, sizeof *r);
}

int mutate_run(const aca_mutate_opts *o, aca_err *e) {
    // The output's temporary first: an output aca may not replace, or cannot write, fails before
    // any work.
    aca_outdir od;
    aca_spec spec = {0};
    aca_corpus c = {0};
    aca_mutation r = {0};
    aca_corpus_opts co = o->corpus_opts;
    co.hash = 1;
    int rc = outdir_begin(&od, o->out_dir, "mutate", o->replace, e);
    if (!rc) rc = spec_load(o->spec_path, &spec, e) || corpus_load(o->corpus_path, &co, &c, e) ||
                  mutate_apply(o, &c, &spec, &r, e) || mutation_write(&r, od.tmp, e) ? -1 : 0;
    if (!rc && o->summary) mutation_summary(&r, o->out_dir, o->summary);
    if (!rc) rc = outdir_commit(&od, e);
    else outdir_abort(&od);
    mutation_free(&r);
    corpus_free(&c);
    spec_free(&spec);
    return rc;
}
