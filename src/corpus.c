// Corpora: loading (resume / JSONL / TSV; cp1252 or UTF-8), class lists, writing, splits, statistics.
// The loader is one pass over the file held in memory: resume and TSV lines are cut in place (the
// file buffer becomes the text store), JSONL texts are copied into one growing store.
#include "aca/corpus.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

// ---- encodings ---------------------------------------------------------------------------------
// windows-1252 0x80..0x9F; 0 marks the five undefined bytes.
static const uint16_t CP1252_HIGH[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

// Offset of the first invalid byte, or n when all of s is valid UTF-8.
static size_t utf8_first_invalid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (!k) return i;
        i += k;
    }
    return n;
}

static size_t line_of_offset(const char *s, size_t off) {
    size_t line = 1;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + off - p))); p++) line++;
    return line;
}

// Converts windows-1252 bytes to UTF-8 (two passes: size, then fill).
static int cp1252_to_utf8(const char *path, const aca_buf *in, aca_buf *out, aca_err *e) {
    const unsigned char *p = (const unsigned char *)in->data;
    size_t need = 0, line = 1;
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = p[i];
        if (c == '\n') line++;
        if (c < 0x80) need += 1;
        else if (c < 0xA0) {
            if (!CP1252_HIGH[c - 0x80])
                return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: byte 0x%02X is undefined in windows-1252 (cp1252)", path,
                                line, c);
            need += 3;
        } else need += 2;
    }
    buf_clear(out);
    buf_reserve(out, need);
    char *d = out->data;
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = p[i];
        if (c < 0x80) *d++ = (char)c;
        else d += utf8_encode(d, c < 0xA0 ? CP1252_HIGH[c - 0x80] : c);
    }
    out->len = need;
    out->data[need] = 0;
    return 0;
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

// Labels from a ';'-separated string: counts the non-empty labels; the first one is the doc's.
// Returns 1 when the doc is kept, 0 when dropped (multi-label under DROP), -1 on error.
static int labels_apply(load_ctx *L, const char *s, size_t n, size_t line, parsed_doc *d, aca_err *e) {
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
        if (!text_blank(p, len) && fn(L, p, len, line, s, aux, e)) return -1;
        p = le + 1;
    }
    return 0;
}

static int line_resume(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *aux, aca_err *e) {
    char *a = memmem(s, n, ":::", 3);
    char *b = a ? memmem(a + 3, (size_t)(s + n - a - 3), ":::", 3) : NULL;
    if (!b)
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: expected id:::label:::text", L->path, line);
    parsed_doc *d = doc_push(L);
    *a = 0;
    *b = 0;
    d->line = line;
    d->id_off = (size_t)(s - base);
    d->text_off = (size_t)(b + 3 - base);
    d->len = (size_t)(s + n - (b + 3));
    if (text_blank(b + 3, d->len)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
    int k = labels_apply(L, a + 3, (size_t)(b - a - 3), line, d, e);
    if (k < 0) return -1;
    L->n += (size_t)k;
    return 0;
}

static int line_tsv(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *ids, aca_err *e) {
    char *tab = memchr(s, '\t', n);
    if (!tab) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: expected label<TAB>text", L->path, line);
    if (L->n == 0 && !L->dropped && tab - s == 5 && !strncasecmp(s, "label", 5) && !strcasecmp(tab + 1, "text"))
        return 0; // header
    parsed_doc *d = doc_push(L);
    *tab = 0;
    d->line = line;
    id_number(ids, &d->id_off, line);
    d->text_off = (size_t)(tab + 1 - base);
    d->len = (size_t)(s + n - tab - 1);
    if (text_blank(tab + 1, d->len)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
    int k = labels_apply(L, s, (size_t)(tab - s), line, d, e);
    if (k < 0) return -1;
    L->n += (size_t)k;
    return 0;
}

typedef struct {
    aca_buf ids, texts;
} jsonl_aux;

static int line_jsonl(load_ctx *L, char *s, size_t n, size_t line, char *base, aca_buf *auxp, aca_err *e) {
    jsonl_aux *aux = (jsonl_aux *)auxp;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, NULL, 0);
    int rc = -1;
    if (!j || !cJSON_IsObject(j)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: expected one JSON object", L->path, line);
        goto done;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (!cJSON_IsString(t)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"text\" missing or not a string", L->path, line);
        goto done;
    }
    parsed_doc *d = doc_push(L);
    d->line = line;
    size_t tl = strlen(t->valuestring);
    if (text_blank(t->valuestring, tl)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: empty text", L->path, line);
        goto done;
    }
    int k;
    if (cJSON_IsString(lab)) {
        k = labels_apply(L, lab->valuestring, strlen(lab->valuestring), line, d, e);
    } else if (cJSON_IsArray(lab) && cJSON_GetArraySize(lab) > 0) {
        // An array: each element one label (no ';' splitting); the first is the doc's.
        const cJSON *it;
        int cnt = 0;
        cJSON_ArrayForEach(it, lab) {
            if (!cJSON_IsString(it)) {
                aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"label\" array holds a non-string", L->path, line);
                goto done;
            }
            cnt++;
        }
        const char *f = cJSON_GetArrayItem(lab, 0)->valuestring;
        if (cnt > 1 && L->o->multilabel == CORPUS_MULTI_DROP) k = 0, L->dropped++;
        else k = labels_apply(L, f, strlen(f), line, d, e);
        if (k > 0) d->n_labels = cnt;
    } else {
        aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"label\" missing (string or array of strings)", L->path,
                 line);
        goto done;
    }
    if (k < 0) goto done;
    if (k > 0) {
        if (cJSON_IsString(id)) {
            d->id_off = aux->ids.len;
            buf_append(&aux->ids, id->valuestring, strlen(id->valuestring) + 1);
        } else if (cJSON_IsNumber(id) && id->valuedouble == (double)(long long)id->valuedouble) {
            d->id_off = aux->ids.len;
            buf_printf(&aux->ids, "%lld", (long long)id->valuedouble);
            buf_putc(&aux->ids, 0);
        } else if (id) {
            aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: malformed line: \"id\" must be a string or a whole number", L->path,
                     line);
            goto done;
        } else {
            id_number(&aux->ids, &d->id_off, line);
        }
        d->text_off = aux->texts.len;
        d->len = tl;
        buf_append(&aux->texts, t->valuestring, tl + 1);
        L->n++;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

static aca_corpus_format format_detect(const char *path, const char *s, size_t n) {
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".json"))) return CORPUS_FMT_JSONL;
    if (dot && !strcasecmp(dot, ".tsv")) return CORPUS_FMT_TSV;
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

int corpus_load(const char *path, const aca_corpus_opts *opts, aca_corpus *c, aca_err *e) {
    static const aca_corpus_opts defaults = {0};
    if (!opts) opts = &defaults;
    memset(c, 0, sizeof *c);
    aca_buf raw = {0}, conv = {0};
    if (file_read_all(path, &raw, e)) return -1;
    if (opts->hash) sha256_hex(raw.data, raw.len, c->sha256);

    // Encoding: decide, validate/convert; `raw` ends up holding UTF-8.
    size_t skip = raw.len >= 3 && !memcmp(raw.data, "\xEF\xBB\xBF", 3) ? 3 : 0;
    aca_corpus_encoding enc = opts->encoding;
    size_t bad = utf8_first_invalid(raw.data, raw.len);
    if (enc == CORPUS_ENC_AUTO) enc = bad == raw.len ? CORPUS_ENC_UTF8 : CORPUS_ENC_CP1252;
    if (enc == CORPUS_ENC_UTF8 && bad != raw.len) {
        aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte offset %zu (byte 0x%02X); try --encoding cp1252",
                 path, line_of_offset(raw.data, bad), bad, (unsigned char)raw.data[bad]);
        buf_free(&raw);
        return -1;
    }
    if (enc == CORPUS_ENC_CP1252) { // every byte maps, even in a file that also happens to be valid UTF-8
        if (cp1252_to_utf8(path, &raw, &conv, e)) {
            buf_free(&raw);
            return -1;
        }
        buf_free(&raw);
        raw = conv;
        skip = 0;
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

    // Settle storage, then turn offsets into pointers.
    char *text_base, *id_base;
    if (fmt == CORPUS_FMT_JSONL) {
        buf_free(&raw);
        c->text_store = aux.texts.data;
        c->id_store = aux.ids.data;
        text_base = c->text_store, id_base = c->id_store;
    } else {
        c->text_store = raw.data;
        c->id_store = aux.ids.data; // TSV ids (NULL for resume)
        text_base = body;
        id_base = fmt == CORPUS_FMT_TSV ? c->id_store : body;
    }
    c->docs = xmalloc(L.n * sizeof *c->docs);
    for (size_t i = 0; i < L.n; i++) {
        const parsed_doc *p = &L.docs[i];
        c->docs[i] = (aca_doc){.id = id_base + p->id_off,
                               .text = text_base + p->text_off,
                               .len = p->len,
                               .label = p->label,
                               .n_labels = p->n_labels,
                               .line = p->line};
    }
    free(L.docs);
    c->n = L.n;
    c->classes = L.classes;
    c->n_classes = L.n_classes;
    c->n_dropped = L.dropped;
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

int corpus_load_classes(const char *path, char ***names, int *n, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    char **v = NULL;
    int k = 0, cap = 0, rc = 0;
    const char *p = b.data;
    while (p < b.data + b.len && text_is_space((unsigned char)*p)) p++;
    if (*p == '[') {
        cJSON *j = cJSON_Parse(b.data);
        if (!j || !cJSON_IsArray(j)) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: expected a JSON array of class names", path);
        } else {
            const cJSON *it;
            int i = 0;
            cJSON_ArrayForEach(it, j) {
                if (!cJSON_IsString(it) || !it->valuestring[0]) {
                    rc = aca_errf(e, ACA_ERR_FORMAT, "%s: [%d]: expected a non-empty string", path, i);
                    break;
                }
                if (k == cap) cap = cap ? 2 * cap : 16, v = xrealloc(v, (size_t)cap * sizeof *v);
                v[k++] = class_canonical(it->valuestring, strlen(it->valuestring));
                i++;
            }
        }
        cJSON_Delete(j);
    } else {
        size_t line = 0;
        for (char *s = b.data; s < b.data + b.len;) {
            line++;
            char *nl = memchr(s, '\n', (size_t)(b.data + b.len - s));
            const char *t = s;
            size_t tn = (size_t)((nl ? nl : b.data + b.len) - s);
            trim(&t, &tn);
            if (tn) {
                if (k == cap) cap = cap ? 2 * cap : 16, v = xrealloc(v, (size_t)cap * sizeof *v);
                v[k++] = class_canonical(t, tn);
            }
            s = nl ? nl + 1 : b.data + b.len;
        }
        (void)line;
    }
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

// ---- writing -----------------------------------------------------------------------------------
void corpus_json_line(aca_buf *b, const char *id, const char *t, size_t n, const char *label) {
    buf_puts(b, "{\"id\":");
    buf_json_str(b, id, strlen(id));
    buf_puts(b, ",\"text\":");
    buf_json_str(b, t, n);
    buf_puts(b, ",\"label\":");
    buf_json_str(b, label, strlen(label));
    buf_puts(b, "}\n");
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

// ---- statistics --------------------------------------------------------------------------------
size_t text_count_words(const char *s, size_t n) {
    size_t w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = text_is_space((unsigned char)s[i]);
        w += !sp && !in;
        in = !sp;
    }
    return w;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int is_plain_ascii(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           text_is_space((unsigned char)cp);
}

void corpus_stats(const aca_corpus *c, aca_corpus_stats *st) {
    memset(st, 0, sizeof *st);
    st->n_docs = c->n;
    st->class_docs = xcalloc((size_t)(c->n_classes ? c->n_classes : 1), sizeof *st->class_docs);
    size_t *words = xmalloc((c->n ? c->n : 1) * sizeof *words);
    enum { NCP = 0x110000 };
    uint32_t *last = xcalloc(NCP, sizeof *last), *count = xcalloc(NCP, sizeof *count);
    for (size_t i = 0; i < c->n; i++) {
        const aca_doc *d = &c->docs[i];
        st->class_docs[d->label]++;
        st->n_multilabel += d->n_labels > 1;
        words[i] = text_count_words(d->text, d->len);
        st->words_total += words[i];
        const unsigned char *p = (const unsigned char *)d->text;
        for (size_t k = 0; k < d->len;) {
            uint32_t cp;
            size_t m = utf8_decode(p + k, d->len - k, &cp);
            if (!m) m = 1, cp = 0xFFFD; // cannot happen: loaded text is valid UTF-8
            k += m;
            if (is_plain_ascii(cp) || last[cp] == i + 1) continue;
            last[cp] = (uint32_t)(i + 1);
            count[cp]++;
        }
    }
    if (c->n) {
        qsort(words, c->n, sizeof *words, cmp_size);
        st->words_min = words[0];
        st->words_max = words[c->n - 1];
        st->words_median = words[(c->n - 1) / 2];
        st->words_p90 = words[(size_t)((double)(c->n - 1) * 0.9)];
    }
    for (uint32_t cp = 0; cp < NCP; cp++) st->n_chars += count[cp] != 0;
    st->chars = xmalloc((st->n_chars ? st->n_chars : 1) * sizeof *st->chars);
    size_t k = 0;
    for (uint32_t cp = 0; cp < NCP; cp++)
        if (count[cp]) st->chars[k++] = (aca_char_count){cp, count[cp]};
    free(words);
    free(last);
    free(count);
}

void corpus_stats_free(aca_corpus_stats *st) {
    free(st->class_docs);
    free(st->chars);
    memset(st, 0, sizeof *st);
}

static int cp_printable(uint32_t cp) { return cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0); }

void corpus_stats_format(aca_buf *out, const aca_corpus *c, const aca_corpus_stats *st, int json) {
    char u8[5];
    if (json) {
        buf_printf(out, "{\"docs\":%zu,\"multilabel_docs\":%zu,\"dropped_docs\":%zu,\"format\":\"%s\",\"encoding\":\"%s\",",
                   st->n_docs, st->n_multilabel, c->n_dropped, corpus_format_name(c->format),
                   corpus_encoding_name(c->encoding));
        buf_puts(out, "\"classes\":[");
        for (int i = 0; i < c->n_classes; i++) {
            buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
            buf_json_str(out, c->classes[i], strlen(c->classes[i]));
            buf_printf(out, ",\"docs\":%zu}", st->class_docs[i]);
        }
        buf_printf(out, "],\"words\":{\"min\":%zu,\"median\":%zu,\"p90\":%zu,\"max\":%zu,\"total\":%zu},",
                   st->words_min, st->words_median, st->words_p90, st->words_max, st->words_total);
        buf_puts(out, "\"chars\":[");
        for (size_t i = 0; i < st->n_chars; i++) {
            uint32_t cp = st->chars[i].cp;
            buf_printf(out, "%s{\"cp\":\"U+%04X\",\"char\":", i ? "," : "", (unsigned)cp);
            size_t m = utf8_encode(u8, cp);
            buf_json_str(out, u8, m);
            buf_printf(out, ",\"docs\":%zu}", st->chars[i].docs);
        }
        buf_puts(out, "]}\n");
        return;
    }
    buf_printf(out, "docs       %zu (format %s, encoding %s; multi-label %zu, dropped %zu)\n", st->n_docs,
               corpus_format_name(c->format), corpus_encoding_name(c->encoding), st->n_multilabel, c->n_dropped);
    buf_printf(out, "classes    %d\n", c->n_classes);
    for (int i = 0; i < c->n_classes; i++)
        buf_printf(out, "  %-26s %7zu  %5.1f%%\n", c->classes[i], st->class_docs[i],
                   st->n_docs ? 100.0 * (double)st->class_docs[i] / (double)st->n_docs : 0.0);
    buf_printf(out, "words/doc  min %zu, median %zu, p90 %zu, max %zu (total %zu)\n", st->words_min, st->words_median,
               st->words_p90, st->words_max, st->words_total);
    buf_printf(out, "characters other than ASCII letters, digits and whitespace (docs containing each):\n");
    for (size_t i = 0; i < st->n_chars; i++) {
        uint32_t cp = st->chars[i].cp;
        size_t m = cp_printable(cp) ? utf8_encode(u8, cp) : 0;
        u8[m] = 0;
        buf_printf(out, "  U+%04X %s%s %7zu\n", (unsigned)cp, m ? u8 : "?", cp < 0x80 ? " (ascii)" : "        ",
                   st->chars[i].docs);
    }
}
