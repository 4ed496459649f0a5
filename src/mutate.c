// The data-mutation stage: split, membership sampling, strategies, outputs (see aca/mutate.h).
// Order of work: everything that can fail on user input (spec, corpus, classes, split, sampling)
// happens before the first byte is written; outputs go to a temporary beside DIR (outdir.h), swapped
// in at the end.  The membership is mutate_members.c's, the outputs mutate_write.c's.
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
    return mutate_plan_members(m, e);
}

int mutate_check(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_err *e) {
    mut_ctx m = {.o = o, .c = *c, .spec = *spec}; // borrowed: only the plan is freed
    m.seed = o->has_seed ? o->seed : spec->seed;
    m.only = -1;
    m.cs = xcalloc((size_t)spec->n, sizeof *m.cs);
    int rc = check_two_classes(c, o->corpus_path, e);
    if (!rc) rc = mutate_plan_members(&m, e);
    plan_free(&m);
    return rc;
}

int mutate_run(const aca_mutate_opts *o, aca_err *e) {
    mut_ctx m = {.o = o};
    // The output's temporary first: an output aca may not replace, or cannot write, fails before
    // any work.
    aca_outdir od;
    int rc = outdir_begin(&od, o->out_dir, "mutate", o->replace, e);
    if (!rc) rc = prepare(&m, e);
    if (!rc) rc = mutate_write_all(&m, od.tmp, e);
    if (!rc) rc = outdir_commit(&od, e);
    else outdir_abort(&od);
    plan_free(&m);
    corpus_free(&m.c);
    spec_free(&m.spec);
    return rc;
}
