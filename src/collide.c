// Collision diagnostics (include/aca/collide.h).
#include "aca/collide.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "aca/jsonw.h"
#include "aca/mutate.h"

// Contexts of five words: the signal goes in once, after the third word (period 3), as the
// mutation stage would put it.  The second puts punctuation right before the insertion point.
enum { CTX_PERIOD = 3, CTX_WORDS = 5 };
static const char *const CONTEXTS[] = {
    "experienced engineer built reliable systems",
    "Managed servers, databases. and networks",
};

// ids of text + the signal inserted minus the common suffix and prefix of the two tokenizations.
static int ids_in_context(const aca_tokenizer *tok, const char *ctx, size_t ctx_len, const char *signal,
                          int32_t **out, int *n_out, aca_err *e) {
    aca_buf m = {0};
    mutate_insert_signal(&m, ctx, ctx_len, signal, CTX_PERIOD);
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, ca = 0, cb = 0;
    int rc = tokenizer_tokenize(tok, ctx, ctx_len, &a, &na, &ca, e) ||
             tokenizer_tokenize(tok, m.data, m.len, &b, &nb, &cb, e);
    if (!rc) {
        // Suffix first, then prefix: a piece equal on both sides of the insertion (SentencePiece's
        // lone word-start mark) then stays with the signal's word, the way the model sees it.
        size_t p = 0, s = 0;
        while (s < na && s < nb && a[na - 1 - s] == b[nb - 1 - s]) s++;
        while (p < na - s && p < nb - s && a[p] == b[p]) p++;
        *n_out = (int)(nb - p - s);
        *out = xmalloc(((size_t)*n_out + 1) * sizeof **out);
        memcpy(*out, b + p, (size_t)*n_out * sizeof **out);
    }
    free(a);
    free(b);
    buf_free(&m);
    return rc ? -1 : 0;
}

// The first CTX_WORDS words of a document (a context taken from the corpus itself).
static size_t first_words(const char *t, size_t n) {
    size_t i = 0;
    for (int w = 0; w < CTX_WORDS; w++) {
        while (i < n && text_is_space((unsigned char)t[i])) i++;
        while (i < n && !text_is_space((unsigned char)t[i])) i++;
    }
    return i;
}

static int signal_ids(const aca_tokenizer *tok, const char *signal, const aca_corpus *c, size_t doc,
                      collide_signal *s, aca_err *e) {
    s->consistent = 1;
    const int n_ctx = (int)ACA_ARRAY_LEN(CONTEXTS) + (c != NULL);
    for (int k = 0; k < n_ctx; k++) {
        const char *ctx = k < (int)ACA_ARRAY_LEN(CONTEXTS) ? CONTEXTS[k] : c->docs[doc].text;
        size_t len = k < (int)ACA_ARRAY_LEN(CONTEXTS) ? strlen(ctx) : first_words(ctx, c->docs[doc].len);
        int32_t *ids;
        int n;
        if (ids_in_context(tok, ctx, len, signal, &ids, &n, e)) return -1;
        if (k == 0) {
            s->ids = ids, s->n_ids = n;
            continue;
        }
        if (n != s->n_ids || memcmp(ids, s->ids, (size_t)n * sizeof *ids)) s->consistent = 0;
        free(ids);
    }
    return 0;
}

static int has_id(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void pair_fill(collide_pair *p, const collide_signal *x, const collide_signal *y) {
    p->shared = xmalloc(((size_t)x->n_ids + 1) * sizeof *p->shared);
    p->n_shared = 0;
    for (int i = 0; i < x->n_ids; i++)
        if (has_id(y->ids, y->n_ids, x->ids[i]) && !has_id(p->shared, p->n_shared, x->ids[i]))
            p->shared[p->n_shared++] = x->ids[i];
    qsort(p->shared, (size_t)p->n_shared, sizeof *p->shared, cmp_i32);
    if (x->n_ids > 0 && x->n_ids == y->n_ids && !memcmp(x->ids, y->ids, (size_t)x->n_ids * sizeof *x->ids))
        p->kind = COLLIDE_PAIR_IDENTICAL;
    else p->kind = p->n_shared ? COLLIDE_PAIR_OVERLAP : COLLIDE_PAIR_DISTINCT;
}

// Document counts: docs[id] = documents holding id; per signal, documents holding any of its ids.
static int count_docs(const aca_tokenizer *tok, const collide_opts *o, collide_report *r, long *docs, aca_err *e) {
    const aca_corpus *c = o->corpus;
    const int V = tokenizer_vocab_size(tok), threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    const size_t N = o->doc_idx ? o->n_idx : c->n;
    long bad = -1;
    aca_err bad_err = {0};
#pragma omp parallel num_threads(threads)
    {
        uint32_t *stamp = xcalloc((size_t)V, sizeof *stamp); // doc number + 1 that last held the id
        long *cnt = xcalloc((size_t)V, sizeof *cnt), *sig = xcalloc((size_t)r->n + 1, sizeof *sig);
        int32_t *ids = NULL;
        size_t cap = 0;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < N; i++) {
            const aca_doc *d = &c->docs[o->doc_idx ? o->doc_idx[i] : i];
            size_t n = 0;
            aca_err le = {0};
            if (tokenizer_tokenize(tok, d->text, d->len, &ids, &n, &cap, &le)) {
#pragma omp critical(collide_err)
                if (bad < 0 || (long)d->line < bad) bad = (long)d->line, bad_err = le;
                continue;
            }
            if (o->max_len > 2 && n > (size_t)o->max_len - 2) n = (size_t)o->max_len - 2;
            const uint32_t mark = (uint32_t)i + 1;
            for (size_t k = 0; k < n; k++)
                if (ids[k] >= 0 && ids[k] < V && stamp[ids[k]] != mark) stamp[ids[k]] = mark, cnt[ids[k]]++;
            for (int s = 0; s < r->n; s++) {
                int hit = 0;
                for (int k = 0; k < r->sig[s].n_ids && !hit; k++) hit = stamp[r->sig[s].ids[k]] == mark;
                sig[s] += hit;
            }
        }
#pragma omp critical(collide_sum)
        {
            for (int v = 0; v < V; v++) docs[v] += cnt[v];
            for (int s = 0; s < r->n; s++) r->sig[s].docs += sig[s];
        }
        free(stamp);
        free(cnt);
        free(sig);
        free(ids);
    }
    if (bad >= 0) {
        if (e) *e = bad_err;
        return aca_err_prefix(e, "corpus line %ld", bad);
    }
    r->n_docs = N;
    return 0;
}

// Candidates for --suggest: vocabulary entries that are one character (not a ## continuation,
// not a special token, not whitespace, a control/format character or an ASCII letter or digit)
// and that come out, inserted in context, as exactly their own id.
static int category_rank(uint32_t cp) {
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_SM: return 0; // symbols first: no meaning in text
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: return 1;
    default: return 2;
    }
}

static int cmp_sugg(const void *a, const void *b) {
    const collide_suggestion *x = a, *y = b;
    if (x->docs != y->docs) return x->docs < y->docs ? -1 : 1;
    int rx = category_rank(x->cp), ry = category_rank(y->cp);
    if (rx != ry) return rx - ry;
    return (x->id > y->id) - (x->id < y->id);
}

static int suggest(const aca_tokenizer *tok, const collide_opts *o, const long *docs, collide_report *r, aca_err *e) {
    const int V = tokenizer_vocab_size(tok);
    collide_suggestion *cand = xmalloc((size_t)V * sizeof *cand);
    int nc = 0;
    for (int id = 0; id < V; id++) {
        const char *t = tokenizer_id_to_token(tok, id);
        if (!t || id == r->unk_id || id == tokenizer_pad_id(tok) || id == tokenizer_cls_id(tok) ||
            id == tokenizer_sep_id(tok))
            continue;
        if (!strncmp(t, "\xe2\x96\x81", 3)) t += 3; // SentencePiece word-start mark U+2581
        size_t n = strlen(t);
        uint32_t cp;
        if (n == 0 || utf8_decode((const unsigned char *)t, n, &cp) != n) continue; // not one character
        if (cp < 0x80 && (cp <= ' ' || (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')))
            continue;
        int cat = utf8proc_category((utf8proc_int32_t)cp);
        if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
            cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_MN ||
            cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME)
            continue;
        int used = 0;
        for (int s = 0; s < r->n && !used; s++) used = has_id(r->sig[s].ids, r->sig[s].n_ids, id);
        if (used) continue;
        char ch[8];
        ch[utf8_encode(ch, cp)] = 0;
        int ok = 1;
        for (int k = 0; k < (int)ACA_ARRAY_LEN(CONTEXTS) && ok; k++) {
            int32_t *ids;
            int m;
            if (ids_in_context(tok, CONTEXTS[k], strlen(CONTEXTS[k]), ch, &ids, &m, e)) {
                free(cand);
                return -1;
            }
            ok = m == 1 && ids[0] == id;
            free(ids);
        }
        if (ok) cand[nc++] = (collide_suggestion){cp, id, r->has_corpus ? docs[id] : -1};
    }
    qsort(cand, (size_t)nc, sizeof *cand, cmp_sugg);
    r->n_sugg = nc < o->suggest ? nc : o->suggest;
    r->sugg = xrealloc(cand, ((size_t)r->n_sugg + 1) * sizeof *cand);
    return 0;
}

int collide_analyze(const aca_spec *sp, const aca_tokenizer *tok, const collide_opts *o, collide_report *r,
                    aca_err *e) {
    memset(r, 0, sizeof *r);
    const aca_corpus *c = o->corpus;
    r->n = sp->n;
    r->sig = xcalloc((size_t)sp->n + 1, sizeof *r->sig);
    r->unk_id = tokenizer_unk_id(tok);
    r->has_corpus = c != NULL;
    r->unk_docs = -1;
    const int have_doc = c && (o->doc_idx ? o->n_idx : c->n) > 0;
    const size_t doc0 = have_doc ? (o->doc_idx ? o->doc_idx[0] : 0) : 0;
    for (int i = 0; i < sp->n; i++) {
        const aca_collective *k = &sp->collectives[i];
        collide_signal *s = &r->sig[i];
        s->name = k->name, s->target = k->target, s->signal = k->signal ? k->signal : "";
        s->docs = -1;
        if (signal_ids(tok, s->signal, have_doc ? c : NULL, doc0, s, e)) {
            aca_err_prefix(e, "collective %s: signal", k->name);
            collide_report_free(r);
            return -1;
        }
        s->has_unk = has_id(s->ids, s->n_ids, r->unk_id);
    }
    long *docs = NULL;
    if (c) {
        docs = xcalloc((size_t)tokenizer_vocab_size(tok), sizeof *docs);
        for (int i = 0; i < r->n; i++) r->sig[i].docs = 0;
        if (count_docs(tok, o, r, docs, e)) {
            free(docs);
            collide_report_free(r);
            return -1;
        }
        r->unk_docs = docs[r->unk_id];
        for (int i = 0; i < r->n; i++) {
            collide_signal *s = &r->sig[i];
            s->docs_per_id = xcalloc((size_t)s->n_ids + 1, sizeof *s->docs_per_id);
            for (int k = 0; k < s->n_ids; k++) s->docs_per_id[k] = docs[s->ids[k]];
        }
    }
    for (int i = 0; i < r->n; i++) {
        collide_signal *s = &r->sig[i];
        if (s->n_ids == 0) s->verdict = COLLIDE_SIG_EMPTY;
        else if (s->has_unk) s->verdict = COLLIDE_SIG_UNK;
        else if (!c) s->verdict = COLLIDE_SIG_IN_VOCAB;
        else if (s->docs == 0) s->verdict = COLLIDE_SIG_UNSEEN;
        else s->verdict = (double)s->docs < 0.01 * (double)r->n_docs ? COLLIDE_SIG_RARE : COLLIDE_SIG_COMMON;
    }
    r->n_pairs = r->n * (r->n - 1) / 2;
    r->pairs = xcalloc((size_t)r->n_pairs + 1, sizeof *r->pairs);
    for (int i = 0, p = 0; i < r->n; i++)
        for (int j = i + 1; j < r->n; j++, p++) {
            r->pairs[p].a = i, r->pairs[p].b = j;
            pair_fill(&r->pairs[p], &r->sig[i], &r->sig[j]);
        }
    int rc = o->suggest > 0 ? suggest(tok, o, docs, r, e) : 0;
    free(docs);
    if (rc) collide_report_free(r);
    return rc;
}

void collide_report_free(collide_report *r) {
    for (int i = 0; i < r->n && r->sig; i++) {
        free(r->sig[i].ids);
        free(r->sig[i].docs_per_id);
    }
    free(r->sig);
    for (int i = 0; i < r->n_pairs && r->pairs; i++) free(r->pairs[i].shared);
    free(r->pairs);
    free(r->sugg);
    memset(r, 0, sizeof *r);
}

const char *collide_sig_verdict_name(collide_sig_verdict v) {
    static const char *const N[] = {"unseen", "rare", "common", "unk", "in-vocab", "empty"};
    return (unsigned)v < ACA_ARRAY_LEN(N) ? N[v] : "?";
}

const char *collide_pair_kind_name(collide_pair_kind k) {
    static const char *const N[] = {"distinct", "overlap", "identical"};
    return (unsigned)k < ACA_ARRAY_LEN(N) ? N[k] : "?";
}

// ---- reports -----------------------------------------------------------------------------------
static void put_codepoints(aca_buf *b, const char *s);

// ---- signals the model cannot see --------------------------------------------------------------
// Some context gives the signal no id (tok NULL: every code point has a drop reason).
static int signal_invisible(const aca_tokenizer *tok, const char *signal, aca_err *e) {
    const size_t n = strlen(signal);
    if (!tok) {
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t l = utf8_decode((const unsigned char *)signal + i, n - i, &cp);
            if (!l || !tokenizer_drop_reason(NULL, cp)) return 0;
            i += l;
        }
        return 1;
    }
    for (size_t k = 0; k < ACA_ARRAY_LEN(CONTEXTS); k++) {
        int32_t *ids = NULL;
        int m = 0;
        if (ids_in_context(tok, CONTEXTS[k], strlen(CONTEXTS[k]), signal, &ids, &m, e)) return -1;
        free(ids);
        if (m == 0) return 1;
    }
    return 0;
}

// "U+200B (Cf) is removed by BERT's text cleaning; U+0020 (Zs) is white space, ..."
static void put_drop_reasons(aca_buf *b, const aca_tokenizer *tok, const char *signal) {
    const size_t n = strlen(signal);
    int shown = 0;
    for (size_t i = 0; i < n && shown < 6;) {
        uint32_t cp;
        size_t l = utf8_decode((const unsigned char *)signal + i, n - i, &cp);
        if (!l) break;
        const char *why = tokenizer_drop_reason(tok, cp);
        buf_printf(b, "%sU+%04X (%s) %s%s", shown++ ? "; " : "", (unsigned)cp,
                   utf8proc_category_string((utf8proc_int32_t)cp), why ? "is " : "",
                   why ? why : "is kept alone but not here");
        i += l;
    }
    if (shown == 6) buf_puts(b, "; ...");
}

int collide_check_signals(const aca_spec *sp, const aca_tokenizer *tok, aca_err *e) {
    for (int i = 0; i < sp->n; i++) {
        const aca_collective *c = &sp->collectives[i];
        if (!c->signal) continue;
        int r = signal_invisible(tok, c->signal, e);
        if (r < 0) return aca_err_prefix(e, "%s: collectives[%d].signal", sp->source_path, i);
        if (!r) continue;
        aca_buf m = {0};
        buf_printf(&m, "%s: collectives[%d].signal: the signal of collective %s (", sp->source_path, i, c->name);
        put_codepoints(&m, c->signal);
        buf_printf(&m, ") gives the model no token: ");
        put_drop_reasons(&m, tok, c->signal);
        buf_printf(&m, ". Its documents would reach the model unchanged and its efficacy would measure nothing; "
                       "choose a character the tokenizer keeps (tokenizer: %s)",
                   tok ? tokenizer_source(tok) : "Hugging Face BertTokenizer's defaults, uncased; --vocab checks another");
        aca_errf(e, ACA_ERR_VALUE, "%s", m.data);
        buf_free(&m);
        return -1;
    }
    return 0;
}

int collide_check_spec_file(const char *spec_path, const aca_tokenizer *tok, aca_err *e) {
    aca_spec sp;
    if (spec_load(spec_path, &sp, e)) return -1;
    int rc = collide_check_signals(&sp, tok, e);
    spec_free(&sp);
    return rc;
}

// The code point at byte i of p (a byte that is not UTF-8 stands for itself); returns the next i.
static size_t next_codepoint(const unsigned char *p, size_t n, size_t i, uint32_t *cp) {
    size_t l = utf8_decode(p + i, n - i, cp);
    if (!l) *cp = p[i], l = 1;
    return i + l;
}

// The signal's code points as "U+2E17 U+2E18".
static void put_codepoints(aca_buf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, n = strlen(s); i < n;) {
        uint32_t cp;
        size_t next = next_codepoint(p, n, i, &cp);
        buf_printf(b, "%sU+%04X", i ? " " : "", (unsigned)cp);
        i = next;
    }
}

static void put_tokens(aca_buf *b, const aca_tokenizer *tok, const int32_t *ids, int n) {
    if (!n) buf_puts(b, "(none)");
    for (int k = 0; k < n; k++) {
        const char *t = tokenizer_id_to_token(tok, ids[k]);
        buf_printf(b, "%s%s(%d)", k ? " " : "", t ? t : "?", ids[k]);
    }
}

static const char *verdict_text(const collide_report *r, const collide_signal *s, char *buf, size_t n) {
    switch (s->verdict) {
    case COLLIDE_SIG_EMPTY: return "NO TOKENS: the tokenizer drops this signal; it plants nothing";
    case COLLIDE_SIG_UNK:
        if (r->has_corpus)
            snprintf(buf, n, "[UNK]: shared with every out-of-vocabulary character; [UNK] is in %ld of %zu clean docs",
                     r->unk_docs, r->n_docs);
        else snprintf(buf, n, "[UNK]: shared with every out-of-vocabulary character (give --corpus to count it)");
        return buf;
    case COLLIDE_SIG_IN_VOCAB: return "in the vocabulary (give --corpus to count it in clean documents)";
    case COLLIDE_SIG_UNSEEN: snprintf(buf, n, "unique: in none of %zu clean docs", r->n_docs); return buf;
    case COLLIDE_SIG_RARE:
    case COLLIDE_SIG_COMMON:
        snprintf(buf, n, "%s: in %ld of %zu clean docs (%.2f%%)", s->verdict == COLLIDE_SIG_RARE ? "rare" : "COMMON",
                 s->docs, r->n_docs, 100.0 * (double)s->docs / (double)(r->n_docs ? r->n_docs : 1));
        return buf;
    }
    return "?";
}

void collide_report_text(const collide_report *r, const aca_tokenizer *tok, aca_buf *out) {
    char vb[256];
    buf_puts(out, "signals (ids in context, as the mutation stage inserts them):\n");
    for (int i = 0; i < r->n; i++) {
        const collide_signal *s = &r->sig[i];
        buf_printf(out, "  %-12s -> %-22s signal ", s->name, s->target);
        put_codepoints(out, s->signal);
        buf_puts(out, "\n      tokens ");
        put_tokens(out, tok, s->ids, s->n_ids);
        if (s->docs_per_id) {
            buf_puts(out, "; clean docs per id:");
            for (int k = 0; k < s->n_ids; k++) buf_printf(out, " %ld", s->docs_per_id[k]);
        }
        if (!s->consistent) buf_puts(out, "\n      WARNING: the ids depend on the surrounding text");
        buf_printf(out, "\n      verdict: %s\n", verdict_text(r, s, vb, sizeof vb));
    }
    if (r->n_pairs) buf_puts(out, "pairs:\n");
    for (int p = 0; p < r->n_pairs; p++) {
        const collide_pair *q = &r->pairs[p];
        buf_printf(out, "  %s x %s: ", r->sig[q->a].name, r->sig[q->b].name);
        if (q->kind == COLLIDE_PAIR_DISTINCT) {
            buf_puts(out, "distinct ids\n");
            continue;
        }
        buf_puts(out, q->kind == COLLIDE_PAIR_IDENTICAL
                          ? "COLLIDE: identical ids, the model cannot tell the two signals apart ("
                          : "OVERLAP: they share ids (");
        put_tokens(out, tok, q->shared, q->n_shared);
        buf_puts(out, ")\n");
    }
    if (r->n_sugg) {
        buf_printf(out, "suggested signals (one id each, not used above, %s):\n",
                   r->has_corpus ? "fewest clean docs first" : "no corpus given: symbols first");
        for (int i = 0; i < r->n_sugg; i++) {
            const collide_suggestion *g = &r->sugg[i];
            char ch[8];
            ch[utf8_encode(ch, g->cp)] = 0;
            buf_printf(out, "  U+%04X %s  id %-6d %s", (unsigned)g->cp, ch, g->id,
                       utf8proc_category_string((utf8proc_int32_t)g->cp));
            if (g->docs >= 0) buf_printf(out, "  in %ld of %zu clean docs", g->docs, r->n_docs);
            buf_putc(out, '\n');
        }
    }
}

static void ids_json(const int32_t *ids, int n, aca_jsonw *w) {
    jsonw_arr(w);
    for (int k = 0; k < n; k++) jsonw_int(w, ids[k]);
    jsonw_end(w);
}

static void signal_json(const collide_signal *s, const aca_tokenizer *tok, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kstr(w, "name", s->name);
    jsonw_kstr(w, "target", s->target);
    jsonw_kstr(w, "signal", s->signal);
    jsonw_key(w, "codepoints");
    jsonw_arr(w);
    const unsigned char *p = (const unsigned char *)s->signal;
    for (size_t i = 0, n = strlen(s->signal); i < n;) {
        uint32_t cp;
        char u[16];
        i = next_codepoint(p, n, i, &cp);
        snprintf(u, sizeof u, "U+%04X", (unsigned)cp);
        jsonw_str(w, u);
    }
    jsonw_end(w);
    jsonw_key(w, "ids");
    ids_json(s->ids, s->n_ids, w);
    jsonw_key(w, "tokens");
    jsonw_arr(w);
    for (int k = 0; k < s->n_ids; k++) {
        const char *t = tokenizer_id_to_token(tok, s->ids[k]);
        jsonw_str(w, t ? t : "");
    }
    jsonw_end(w);
    jsonw_kbool(w, "unk", s->has_unk);
    jsonw_kbool(w, "context_consistent", s->consistent);
    jsonw_key(w, "docs");
    if (s->docs_per_id) jsonw_int(w, s->docs);
    else jsonw_null(w);
    jsonw_key(w, "docs_per_id");
    if (s->docs_per_id) {
        jsonw_arr(w);
        for (int k = 0; k < s->n_ids; k++) jsonw_int(w, s->docs_per_id[k]);
        jsonw_end(w);
    } else {
        jsonw_null(w);
    }
    jsonw_kstr(w, "verdict", collide_sig_verdict_name(s->verdict));
    jsonw_end(w);
}

static void suggestion_json(const collide_suggestion *g, aca_jsonw *w) {
    char ch[8], u[16];
    size_t l = utf8_encode(ch, g->cp);
    snprintf(u, sizeof u, "U+%04X", (unsigned)g->cp);
    jsonw_obj(w);
    jsonw_key(w, "char"), jsonw_strn(w, ch, l);
    jsonw_kstr(w, "codepoint", u);
    jsonw_kint(w, "id", g->id);
    jsonw_kstr(w, "category", utf8proc_category_string((utf8proc_int32_t)g->cp));
    jsonw_key(w, "docs");
    if (g->docs >= 0) jsonw_int(w, g->docs);
    else jsonw_null(w);
    jsonw_end(w);
}

void collide_report_json(const collide_report *r, const aca_tokenizer *tok, aca_buf *out) {
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_kint(&w, "unk_id", r->unk_id);
    jsonw_key(&w, "corpus_docs");
    if (r->has_corpus) jsonw_uint(&w, r->n_docs);
    else jsonw_null(&w);
    jsonw_key(&w, "unk_docs");
    if (r->has_corpus) jsonw_int(&w, r->unk_docs);
    else jsonw_null(&w);
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    for (int i = 0; i < r->n; i++) signal_json(&r->sig[i], tok, &w);
    jsonw_end(&w);
    jsonw_key(&w, "pairs");
    jsonw_arr(&w);
    for (int p = 0; p < r->n_pairs; p++) {
        const collide_pair *q = &r->pairs[p];
        jsonw_obj(&w);
        jsonw_kstr(&w, "a", r->sig[q->a].name);
        jsonw_kstr(&w, "b", r->sig[q->b].name);
        jsonw_kstr(&w, "kind", collide_pair_kind_name(q->kind));
        jsonw_key(&w, "shared_ids");
        ids_json(q->shared, q->n_shared, &w);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_key(&w, "suggestions");
    jsonw_arr(&w);
    for (int i = 0; i < r->n_sugg; i++) suggestion_json(&r->sugg[i], &w);
    jsonw_end(&w);
    jsonw_end(&w);
    buf_putc(out, '\n');
}
