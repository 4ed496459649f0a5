// Writing corpora (resume, TSV, JSONL; the synthetic corpus in each format) and train/test splits
// (see include/aca/corpus.h).
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"

// ---- writing -----------------------------------------------------------------------------------
void corpus_json_fields(aca_jsonw *w, const char *id, const char *t, size_t n, const char *label) {
    jsonw_kstr(w, "id", id);
    jsonw_key(w, "text");
    jsonw_strn(w, t, n);
    jsonw_kstr(w, "label", label);
}

void corpus_json_line(aca_buf *b, const char *id, const char *t, size_t n, const char *label) {
    aca_jsonw w;
    jsonw_init(&w, b);
    jsonw_obj(&w);
    corpus_json_fields(&w, id, t, n, label);
    jsonw_end(&w);
    buf_putc(b, '\n');
}

int corpus_write(const char *path, aca_corpus_format fmt, const aca_corpus *c, const uint32_t *idx, size_t n,
                 aca_err *e) {
    if (!idx) n = c->n;
    aca_atomic a;
    if (atomic_open(&a, path, e)) return -1;
    aca_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const aca_doc *d = &c->docs[idx ? idx[i] : i];
        const char *label = c->classes[d->label];
        if (fmt != CORPUS_FMT_JSONL && (memchr(d->text, '\n', d->len) || memchr(d->text, '\r', d->len))) {
            atomic_abort(&a);
            buf_free(&b);
            return aca_errf(e, ACA_ERR_VALUE, "%s: doc '%s' has a line break in its text: cannot write it as %s", path,
                            d->id, corpus_format_name(fmt));
        }
        if (fmt == CORPUS_FMT_RESUME) {
            buf_puts(&b, d->id);
            buf_puts(&b, ":::");
            for (const char *p = label; *p; p++) buf_putc(&b, *p == ' ' ? '_' : *p);
            buf_puts(&b, ":::");
            buf_append(&b, d->text, d->len);
            buf_putc(&b, '\n');
        } else if (fmt == CORPUS_FMT_TSV) {
            buf_puts(&b, label);
            buf_putc(&b, '\t');
            buf_append(&b, d->text, d->len);
            buf_putc(&b, '\n');
        } else {
            corpus_json_line(&b, d->id, d->text, d->len, label);
        }
        if (b.len > (1u << 20) || i + 1 == n) {
            fwrite(b.data, 1, b.len, a.f);
            buf_clear(&b);
        }
    }
    buf_free(&b);
    return atomic_commit(&a, e);
}

// The synthetic corpus's resume lines (id:::labels:::text, no ':::' inside a text) as JSONL or TSV,
// labels spelled as on the line ("A;B" for a multi-label doc).
static void synth_convert(aca_buf *src, aca_corpus_format fmt, aca_buf *out) {
    for (char *p = src->data, *end = src->data + src->len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        char *a = memmem(p, (size_t)(le - p), ":::", 3), *b = memmem(a + 3, (size_t)(le - a - 3), ":::", 3);
        *a = 0, *b = 0;
        if (fmt == CORPUS_FMT_JSONL) {
            corpus_json_line(out, p, b + 3, (size_t)(le - b - 3), a + 3);
        } else {
            buf_puts(out, a + 3);
            buf_putc(out, '\t');
            buf_append(out, b + 3, (size_t)(le - b - 3));
            buf_putc(out, '\n');
        }
        p = le + 1;
    }
}

int corpus_synth_save(const char *path, aca_corpus_format fmt, size_t n_docs, uint64_t seed, const aca_synth_opts *o,
                      aca_err *e) {
    if (n_docs == 0) return aca_errf(e, ACA_ERR_VALUE, "--docs: must be at least 1");
    if (fmt == CORPUS_FMT_AUTO) fmt = corpus_format_of_path(path);
    aca_buf b = {0}, conv = {0};
    aca_synth_opts def;
    if (!o) corpus_synth_opts_default(&def), o = &def;
    corpus_synth_text_opts(&b, n_docs, seed, o);
    if (fmt == CORPUS_FMT_JSONL || fmt == CORPUS_FMT_TSV) {
        synth_convert(&b, fmt, &conv);
        buf_free(&b);
        b = conv;
    }
    int rc = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return rc;
}

int corpus_write_jsonl(const char *path, const aca_corpus *c, const uint32_t *idx, size_t n, aca_err *e) {
    return corpus_write(path, CORPUS_FMT_JSONL, c, idx, n, e);
}

// ---- splits ------------------------------------------------------------------------------------
#define SPLIT_STREAM 0x5350u // "SP"

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int corpus_split(const aca_corpus *c, size_t n_train, size_t n_test, uint64_t seed, aca_split *s, aca_err *e) {
    memset(s, 0, sizeof *s);
    if (n_train == 0 || n_test == 0)
        return aca_errf(e, ACA_ERR_VALUE, "split: train and test must each hold at least one doc (asked %zu/%zu)",
                        n_train, n_test);
    if (n_train > c->n || n_test > c->n - n_train)
        return aca_errf(e, ACA_ERR_VALUE, "split: the corpus has %zu docs, but the split asks for %zu train + %zu test",
                        c->n, n_train, n_test);
    uint32_t *perm = xmalloc(c->n * sizeof *perm);
    for (size_t i = 0; i < c->n; i++) perm[i] = (uint32_t)i;
    aca_rng r;
    rng_seed(&r, seed, SPLIT_STREAM);
    rng_shuffle_u32(&r, perm, c->n);
    s->train = xmalloc(n_train * sizeof *s->train);
    s->test = xmalloc(n_test * sizeof *s->test);
    memcpy(s->train, perm, n_train * sizeof *perm);
    memcpy(s->test, perm + n_train, n_test * sizeof *perm);
    free(perm);
    qsort(s->train, n_train, sizeof *s->train, cmp_u32);
    qsort(s->test, n_test, sizeof *s->test, cmp_u32);
    s->n_train = n_train;
    s->n_test = n_test;
    return 0;
}

void corpus_split_default(size_t n, size_t *n_train, size_t *n_test) {
    if (n >= 25000) *n_train = 20000, *n_test = 5000;
    else *n_test = n / 5 ? n / 5 : 1, *n_train = n > *n_test ? n - *n_test : 0;
}

int corpus_split_preset(const char *name, size_t *n_train, size_t *n_test, aca_err *e) {
    if (!strcmp(name, "hardt")) return *n_train = 25000, *n_test = 4783, 0;
    if (!strcmp(name, "karan")) return *n_train = 20000, *n_test = 5000, 0;
    const char *slash = strchr(name, '/');
    if (slash) {
        char *end;
        unsigned long long a = strtoull(name, &end, 10), b;
        if (end == slash && name[0] >= '0' && name[0] <= '9') {
            const char *q = slash + 1;
            b = strtoull(q, &end, 10);
            if (!*end && q[0] >= '0' && q[0] <= '9' && a > 0 && b > 0) return *n_train = a, *n_test = b, 0;
        }
    }
    return aca_errf(e, ACA_ERR_VALUE, "--split: expected karan (20000/5000), hardt (25000/4783) or N_TRAIN/N_TEST, got '%s'",
                    name);
}

void split_free(aca_split *s) {
    free(s->train);
    free(s->test);
    memset(s, 0, sizeof *s);
}
