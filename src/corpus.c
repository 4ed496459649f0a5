// Corpora: loading (resume / JSONL / TSV; cp1252 or UTF-8: corpus_encoding.c) and class lists.
// Writing and splits are corpus_write.c's, statistics corpus_stats.c's.
// The loader is one pass over the file held in memory: resume and TSV lines are cut in place (the
// file buffer becomes the text store), JSONL texts are copied into one growing store.
#include "aca/corpus.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aca/jsontext.h"
#include "corpus_internal.h"

// ---- class names -------------------------------------------------------------------------------
static int fold(unsigned char ch) {
    if (ch == '_') return ' ';
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int class_name_equal_n(const char *a, size_t na, const char *b) {
    size_t i = 0;
    for (; i < na && b[i]; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i])) return 0;
    return i == na && !b[i];
}

int class_name_equal(const char *a, const char *b) { return class_name_equal_n(a, strlen(a), b); }

static char *class_canonical(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) d[i] = s[i] == '_' ? ' ' : s[i];
    d[n] = 0;
    return d;
}

int corpus_class_index(const aca_corpus *c, const char *name) {
    for (int i = 0; i < c->n_classes; i++)
        if (class_name_equal(c->classes[i], name)) return i;
    return -1;
}

void corpus_free_classes(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// ---- option spellings --------------------------------------------------------------------------
static const char *const FORMAT_NAMES[] = {"auto", "resume", "jsonl", "tsv"};
static const char *const ENCODING_NAMES[] = {"auto", "utf8", "cp1252"};

const char *corpus_format_name(aca_corpus_format f) { return FORMAT_NAMES[f]; }
const char *corpus_encoding_name(aca_corpus_encoding enc) { return ENCODING_NAMES[enc]; }

int corpus_parse_format(const char *s, aca_corpus_format *f, aca_err *e) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, FORMAT_NAMES[i])) return *f = (aca_corpus_format)i, 0;
    return aca_errf(e, ACA_ERR_VALUE, "--format: expected resume, jsonl, tsv or auto, got '%s'", s);
}

int corpus_parse_encoding(const char *s, aca_corpus_encoding *enc, aca_err *e) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, ENCODING_NAMES[i])) return *enc = (aca_corpus_encoding)i, 0;
    if (!strcmp(s, "utf-8")) return *enc = CORPUS_ENC_UTF8, 0;
    if (!strcmp(s, "windows-1252")) return *enc = CORPUS_ENC_CP1252, 0;
    return aca_errf(e, ACA_ERR_VALUE, "--encoding: expected cp1252, utf8 or auto, got '%s'", s);
}

int corpus_parse_multilabel(const char *s, aca_multilabel_rule *r, aca_err *e) {
    if (!strcmp(s, "first")) return *r = CORPUS_MULTI_FIRST, 0;
    if (!strcmp(s, "drop")) return *r = CORPUS_MULTI_DROP, 0;
    return aca_errf(e, ACA_ERR_VALUE, "--multilabel: expected first or drop, got '%s'", s);
}

// ---- loading -----------------------------------------------------------------------------------
typedef struct {
    size_t id_off, text_off, len, line;
    int label, n_labels;
} parsed_doc;

typedef struct {
    const char *path;
    const aca_corpus_opts *o;
    char **classes;
    int n_classes, cap_classes, fixed;
    parsed_doc *docs;
    size_t n, cap;
    size_t dropped;
    size_t tsv_rows; // TSV lines read (a header is only the first)
} load_ctx;

static int class_resolve(load_ctx *L, const char *s, size_t n, size_t line, aca_err *e) {
    for (int i = 0; i < L->n_classes; i++)
        if (class_name_equal_n(s, n, L->classes[i])) return i;
    if (L->fixed)
        return aca_errf(e, ACA_ERR_VALUE, "%s:%zu: unknown class '%.*s' (not in the class list)", L->path, line,
                        (int)n, s);
    if (L->n_classes == L->cap_classes) {
        L->cap_classes = L->cap_classes ? 2 * L->cap_classes : 16;
        L->classes = xrealloc(L->classes, (size_t)L->cap_classes * sizeof *L->classes);
    }
    L->classes[L->n_classes] = class_canonical(s, n);
    return L->n_classes++;
}

static void trim(const char **s, size_t *n) {
    while (*n && text_is_space((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && text_is_space((unsigned char)(*s)[*n - 1])) (*n)--;
}

// A NUL byte in an id or a label: a C string would end there (only texts may hold one).
static int nul_check(load_ctx *L, const char *s, size_t n, size_t line, const char *what, aca_err *e) {
    if (!memchr(s, 0, n)) return 0;
    return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: a NUL byte (U+0000) in the %s (only a text may hold one)", L->path, line,
                    what);
}

// Labels from a ';'-separated string: counts the non-empty labels; the first one is the doc's.
// Returns 1 when the doc is kept, 0 when dropped (multi-label under DROP), -1 on error.
static int labels_apply(load_ctx *L, const char *s, size_t n, size_t line, parsed_doc *d, aca_err *e) {
    if (nul_check(L, s, n, line, "label", e)) return -1;
    const char *first = NULL;
    size_t first_n = 0;
    int count = 0;
    const char *end = s + n;
    while (s <= end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        if (!semi) semi = end;
        const char *t = s;
        size_t tn = (size_t)(semi - s);
        trim(&t, &tn);
        if (tn) {
            if (!count) first = t, first_n = tn;
            count++;
        }
        s = semi + 1;
    }
    if (!count) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: empty label", L->path, line);
    d->n_labels = count;
    if (count > 1 && L->o->multilabel == CORPUS_MULTI_DROP) return L->dropped++, 0;
    int k = class_resolve(L, first, first_n, line, e);
    if (k < 0) return -1;
    d->label = k;
    return 1;
}

static parsed_doc *doc_push(load_ctx *L) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 1024;
        L->docs = xrealloc(L->docs, L->cap * sizeof *L->docs);
    }
    parsed_doc *d = &L->docs[L->n];
    memset(d, 0, sizeof *d);
    return d;
}

static int text_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!text_is_space((unsigned char)s[i])) return 0;
    return 1;
}

static void id_number(aca_buf *ids, size_t *off, size_t line) {
    *off = ids->len;
    buf_printf(ids, "%zu", line);
    buf_putc(ids, 0);
}

// Cuts lines in place: each line becomes NUL-terminated (a trailing CR is dropped).
// Calls fn for every non-blank line.
typedef int (*line_fn)(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *aux, aca_err *e);

static int for_each_line(load_ctx *L, char *s, size_t n, line_fn fn, aca_buf *aux, aca_err *e) {
    size_t line = 0;
    char *p = s, *end = s + n;
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        *le = 0;
        size_t len = (size_t)(le - p);
        if (len && p[len - 1] == '\r') p[--len] = 0;
        if (utf8_bom_len(p, len)) // the file's own BOM is skipped before the first line
            return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: a byte order mark (U+FEFF) starts the line: concatenated files?",
                            L->path, line);
        if (!text_blank(p, len) && fn(L, p, len, line, s, aux, e)) return -1;
        p = le + 1;
    }
    return 0;
}

// A text is empty when it holds nothing but spaces and C0 control characters (U+0000-U+001F, which
// include TAB, LF, CR; and U+007F): what BERT's cleaning keeps of it is blank.
static int text_empty(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch > 0x20 && ch != 0x7F) return 0;
    }
    return 1;
}

// A CR not followed by LF stays in a text (BERT reads it as a space), unless what follows it on the
// line holds the format's field separator: then the line is several records joined by CR line
// endings, which would silently become one document.
static int cr_check(load_ctx *L, const char *s, size_t n, size_t line, const char *sep, size_t sep_n, aca_err *e) {
    const char *cr = memchr(s, '\r', n); // when any CR has a separator after it, the first one does
    if (!cr || !memmem(cr + 1, (size_t)(s + n - cr - 1), sep, sep_n)) return 0;
    return aca_errf(e, ACA_ERR_FORMAT,
                    "%s:%zu: column %zu: a carriage return (CR) followed by another record on the same line (CR line "
                    "endings? use LF or CRLF)",
                    L->path, line, (size_t)(cr - s) + 1);
}

static int line_resume(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *aux, aca_err *e) {
    char *a = memmem(s, n, ":::", 3);
    char *b = a ? memmem(a + 3, (size_t)(s + n - a - 3), ":::", 3) : NULL;
    if (!b)
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: expected id:::label:::text", L->path, line);
    if (nul_check(L, s, (size_t)(a - s), line, "document id", e) || cr_check(L, s, n, line, ":::", 3, e)) return -1;
    parsed_doc *d = doc_push(L);
    *a = 0;
    *b = 0;
    d->line = line;
    d->id_off = (size_t)(s - base);
    d->text_off = (size_t)(b + 3 - base);
    d->len = (size_t)(s + n - (b + 3));
    if (text_empty(b + 3, d->len)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
    int k = labels_apply(L, a + 3, (size_t)(b - a - 3), line, d, e);
    if (k < 0) return -1;
    L->n += (size_t)k;
    return 0;
}

static int tsv_header(const char *s, size_t n, const char *tab) {
    size_t rest = (size_t)(s + n - tab - 1);
    return tab - s == 5 && !strncasecmp(s, "label", 5) && rest == 4 && !strncasecmp(tab + 1, "text", 4);
}

static int line_tsv(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *ids, aca_err *e) {
    char *tab = memchr(s, '\t', n);
    if (!tab) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: expected label<TAB>text", L->path, line);
    if (tsv_header(s, n, tab)) {
        if (!L->tsv_rows) return 0;
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: a second header line label<TAB>text: concatenated files?", L->path,
                        line);
    }
    L->tsv_rows++;
    if (cr_check(L, s, n, line, "\t", 1, e)) return -1;
    parsed_doc *d = doc_push(L);
    *tab = 0;
    d->line = line;
    id_number(ids, &d->id_off, line);
    d->text_off = (size_t)(tab + 1 - base);
    d->len = (size_t)(s + n - tab - 1);
    if (text_empty(tab + 1, d->len)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
    int k = labels_apply(L, s, (size_t)(tab - s), line, d, e);
    if (k < 0) return -1;
    L->n += (size_t)k;
    return 0;
}

typedef struct {
    aca_buf ids, texts;
} jsonl_aux;

// The labels of a JSONL line: a string ("A;B" splits as in every format) or an array of strings
// (one label each; the first is the doc's).  Returns as labels_apply.
static int jsonl_labels(load_ctx *L, const cJSON *lab, size_t line, parsed_doc *d, aca_err *e) {
    char kind[64];
    if (cJSON_IsString(lab)) return labels_apply(L, lab->valuestring, strlen(lab->valuestring), line, d, e);
    if (!lab || (cJSON_IsArray(lab) && !cJSON_GetArraySize(lab)))
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"label\" missing (string or array of strings)",
                        L->path, line);
    if (!cJSON_IsArray(lab))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s:%zu: malformed line: \"label\" is %s; a label is a class name (a string, e.g. \"7\") or an "
                        "array of them",
                        L->path, line, json_kind(lab, kind, sizeof kind));
    const cJSON *it;
    int cnt = 0;
    cJSON_ArrayForEach(it, lab) {
        if (!cJSON_IsString(it))
            return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"label\"[%d] is %s, not a class name (a string)",
                            L->path, line, cnt, json_kind(it, kind, sizeof kind));
        cnt++;
    }
    if (cnt > 1 && L->o->multilabel == CORPUS_MULTI_DROP) return L->dropped++, 0;
    const char *f = lab->child->valuestring;
    int k = labels_apply(L, f, strlen(f), line, d, e);
    if (k > 0) d->n_labels = cnt;
    return k;
}

static int jsonl_id(load_ctx *L, const cJSON *id, size_t line, aca_buf *ids, size_t *off, aca_err *e) {
    char kind[64];
    *off = ids->len;
    if (cJSON_IsString(id)) {
        buf_append(ids, id->valuestring, strlen(id->valuestring) + 1);
    } else if (cJSON_IsNumber(id) && fabs(id->valuedouble) < 9e15 && id->valuedouble == floor(id->valuedouble)) {
        buf_printf(ids, "%lld", (long long)id->valuedouble);
        buf_putc(ids, 0);
    } else if (id) {
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"id\" is %s; it must be a string or a whole number",
                        L->path, line, json_kind(id, kind, sizeof kind));
    } else {
        id_number(ids, off, line);
    }
    return 0;
}

static int line_jsonl(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *auxp, aca_err *e) {
    jsonl_aux *aux = (jsonl_aux *)auxp;
    size_t mark = aux->texts.len;
    jsonl_doc j;
    if (jsonl_doc_parse(s, n, &aux->texts, &j, e)) return aca_err_prefix(e, "%s:%zu: malformed line", L->path, line);
    parsed_doc *d = doc_push(L);
    d->line = line;
    d->text_off = j.text_off;
    d->len = j.text_len;
    int k = -1;
    if (text_empty(aux->texts.data + j.text_off, j.text_len)) aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
    else k = jsonl_labels(L, j.label, line, d, e);
    if (k > 0 && jsonl_id(L, j.id, line, &aux->ids, &d->id_off, e)) k = -1;
    cJSON_Delete(j.root);
    if (k <= 0) aux->texts.len = mark, aux->texts.data[mark] = 0; // error, or a dropped doc
    if (k < 0) return -1;
    L->n += (size_t)k;
    return 0;
}

aca_corpus_format corpus_format_of_path(const char *path) {
    const char *dot = strrchr(path, '.');
    if (dot && strchr(dot, '/')) dot = NULL; // a dot in a directory name
    if (dot && (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".json"))) return CORPUS_FMT_JSONL;
    if (dot && !strcasecmp(dot, ".tsv")) return CORPUS_FMT_TSV;
    return CORPUS_FMT_AUTO;
}

static aca_corpus_format format_detect(const char *path, const char *s, size_t n) {
    aca_corpus_format by_name = corpus_format_of_path(path);
    if (by_name != CORPUS_FMT_AUTO) return by_name;
    const char *p = s, *end = s + n;
    while (p < end && text_is_space((unsigned char)*p)) p++;
    if (p == end) return CORPUS_FMT_AUTO;
    if (*p == '{') return CORPUS_FMT_JSONL;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (memmem(p, ln, ":::", 3)) return CORPUS_FMT_RESUME;
    if (memchr(p, '\t', ln)) return CORPUS_FMT_TSV;
    return CORPUS_FMT_AUTO;
}

// Settles the loaded documents' storage in c (the file buffer raw holds resume and TSV texts in
// place; JSONL texts and ids are in aux), then turns their offsets into pointers.
static void corpus_take(aca_corpus *c, load_ctx *L, aca_buf *raw, jsonl_aux *aux, aca_corpus_format fmt, char *body) {
    char *text_base, *id_base;
    if (fmt == CORPUS_FMT_JSONL) {
        buf_free(raw);
        c->text_store = aux->texts.data;
        c->id_store = aux->ids.data;
        text_base = c->text_store, id_base = c->id_store;
    } else {
        c->text_store = raw->data;
        c->id_store = aux->ids.data; // TSV ids (NULL for resume)
        text_base = body;
        id_base = fmt == CORPUS_FMT_TSV ? c->id_store : body;
    }
    c->docs = xmalloc(L->n * sizeof *c->docs);
    for (size_t i = 0; i < L->n; i++) {
        const parsed_doc *p = &L->docs[i];
        c->docs[i] = (aca_doc){.id = id_base + p->id_off,
                               .text = text_base + p->text_off,
                               .len = p->len,
                               .label = p->label,
                               .n_labels = p->n_labels,
                               .line = p->line};
    }
    free(L->docs);
    c->n = L->n;
    c->classes = L->classes;
    c->n_classes = L->n_classes;
    c->n_dropped = L->dropped;
}

static size_t n_loads; // corpus_load calls in this process (corpus_loads)

size_t corpus_loads(void) { return __atomic_load_n(&n_loads, __ATOMIC_RELAXED); }

int corpus_load(const char *path, const aca_corpus_opts *opts, aca_corpus *c, aca_err *e) {
    __atomic_fetch_add(&n_loads, 1, __ATOMIC_RELAXED);
    static const aca_corpus_opts defaults = {0};
    if (!opts) opts = &defaults;
    memset(c, 0, sizeof *c);
    aca_buf raw = {0};
    if (file_read_all(path, &raw, e)) return -1;
    if (opts->hash) sha256_hex(raw.data, raw.len, c->sha256);
    size_t skip;
    aca_corpus_encoding enc;
    if (corpus_settle_encoding(path, &raw, opts->encoding, &enc, &skip, e)) {
        buf_free(&raw);
        return -1;
    }

    aca_corpus_format fmt = opts->format;
    if (fmt == CORPUS_FMT_AUTO) fmt = format_detect(path, raw.data + skip, raw.len - skip);
    if (fmt == CORPUS_FMT_AUTO) {
        aca_errf(e, ACA_ERR_FORMAT,
                 "%s: cannot tell the format (empty, or the first line is neither JSON, id:::label:::text nor "
                 "label<TAB>text); use --format",
                 path);
        buf_free(&raw);
        return -1;
    }

    load_ctx L = {.path = path, .o = opts};
    if (opts->classes) {
        L.fixed = 1;
        for (int i = 0; i < opts->n_classes; i++) {
            // reuse class_resolve's growth path by pretending the list is data
            L.fixed = 0;
            class_resolve(&L, opts->classes[i], strlen(opts->classes[i]), 0, NULL);
            L.fixed = 1;
        }
    }
    jsonl_aux aux = {0};
    int rc;
    char *body = raw.data + skip;
    if (fmt == CORPUS_FMT_RESUME) rc = for_each_line(&L, body, raw.len - skip, line_resume, NULL, e);
    else if (fmt == CORPUS_FMT_TSV) rc = for_each_line(&L, body, raw.len - skip, line_tsv, &aux.ids, e);
    else rc = for_each_line(&L, body, raw.len - skip, line_jsonl, (aca_buf *)&aux, e);
    if (!rc && L.n == 0) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: no documents", path);
    if (rc) {
        buf_free(&raw);
        buf_free(&aux.ids);
        buf_free(&aux.texts);
        free(L.docs);
        corpus_free_classes(L.classes, L.n_classes);
        return -1;
    }

    corpus_take(c, &L, &raw, &aux, fmt, body);
    c->format = fmt;
    c->encoding = enc;
    return 0;
}

void corpus_free(aca_corpus *c) {
    if (!c) return;
    free(c->docs);
    corpus_free_classes(c->classes, c->n_classes);
    free(c->text_store);
    free(c->id_store);
    memset(c, 0, sizeof *c);
}

static void names_push(char ***v, int *k, int *cap, const char *s, size_t n) {
    if (*k == *cap) *cap = *cap ? 2 * *cap : 16, *v = xrealloc(*v, (size_t)*cap * sizeof **v);
    (*v)[(*k)++] = class_canonical(s, n);
}

// A JSON array of class names (strict JSON; a name holding U+0000 is an error naming its index).
static int classes_from_json(const char *path, const char *s, size_t n, char ***v, int *k, int *cap, aca_err *e) {
    char where[64];
    json_scan_err se = {0};
    int r = json_find_nul(s, n, where, sizeof where, &se);
    if (r < 0) {
        size_t line, col;
        json_line_col(s, se.off, &line, &col);
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: column %zu: %s", path, line, col, se.why);
    }
    if (r > 0) return aca_errf(e, ACA_ERR_FORMAT, "%s: %s: a NUL byte (U+0000) in a class name", path, where);
    cJSON *j = cJSON_ParseWithLength(s, n);
    int rc = 0, i = 0;
    if (!cJSON_IsArray(j)) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: expected a JSON array of class names", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, (rc ? NULL : j)) {
        if (!cJSON_IsString(it) || !it->valuestring[0]) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: [%d]: expected a non-empty string", path, i);
            break;
        }
        names_push(v, k, cap, it->valuestring, strlen(it->valuestring));
        i++;
    }
    cJSON_Delete(j);
    return rc;
}

// One class name per line (blank lines skipped, names trimmed).
static int classes_from_lines(const char *path, const char *s, size_t n, char ***v, int *k, int *cap, aca_err *e) {
    size_t line = 0;
    for (const char *p = s; p < s + n;) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(s + n - p));
        const char *t = p;
        size_t tn = (size_t)((nl ? nl : s + n) - p);
        if (memchr(t, 0, tn)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: a NUL byte (U+0000) in a class name", path, line);
        trim(&t, &tn);
        if (tn) names_push(v, k, cap, t, tn);
        p = nl ? nl + 1 : s + n;
    }
    return 0;
}

int corpus_load_classes(const char *path, char ***names, int *n, aca_err *e) {
    aca_buf b = {0};
    size_t skip = 0;
    aca_corpus_encoding enc;
    if (file_read_all(path, &b, e) || corpus_settle_encoding(path, &b, CORPUS_ENC_AUTO, &enc, &skip, e))
        return buf_free(&b), -1;
    char **v = NULL;
    int k = 0, cap = 0, rc;
    const char *p = b.data + skip, *end = b.data + b.len;
    while (p < end && text_is_space((unsigned char)*p)) p++;
    if (p < end && *p == '[') rc = classes_from_json(path, b.data + skip, b.len - skip, &v, &k, &cap, e);
    else rc = classes_from_lines(path, b.data + skip, b.len - skip, &v, &k, &cap, e);
    buf_free(&b);
    for (int i = 0; !rc && i < k; i++)
        for (int j = 0; j < i; j++)
            if (class_name_equal(v[i], v[j])) {
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: class '%s' listed twice", path, v[i]);
                break;
            }
    if (!rc && k == 0) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: no class names", path);
    if (rc) {
        corpus_free_classes(v, k);
        return -1;
    }
    *names = v;
    *n = k;
    return 0;
}
