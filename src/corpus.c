// Corpora: loading (resume / JSONL / TSV; cp1252 or UTF-8), class lists, writing, splits, statistics.
// The loader is one pass over the file held in memory: resume and TSV lines are cut in place (the
// file buffer becomes the text store), JSONL texts are copied into one growing store.
#include "aca/corpus.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aca/jsontext.h"

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

// Valid multi-byte UTF-8 sequences and invalid bytes (each resynchronized on the next byte) in s.
static void utf8_census(const char *s, size_t n, size_t *multi, size_t *invalid) {
    *multi = *invalid = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k > 1) *multi += 1;
        if (!k) *invalid += 1, k = 1;
        i += k;
    }
}

static int utf8_error(const char *path, const aca_buf *raw, size_t bad, const char *why, aca_err *e) {
    return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte offset %zu (byte 0x%02X)%s", path,
                    line_of_offset(raw->data, bad), bad, (unsigned char)raw->data[bad], why);
}

// Decides the encoding (see corpus.h) and leaves raw holding UTF-8; *skip: the bytes of a UTF-8
// byte order mark to skip.  Errors: a UTF-16/32 file, a BOM with --encoding cp1252, an invalid
// byte in a file read as UTF-8, an undefined cp1252 byte.
static int text_settle_encoding(const char *path, aca_buf *raw, aca_corpus_encoding want, aca_corpus_encoding *got,
                                size_t *skip, aca_err *e) {
    const unsigned char *u = (const unsigned char *)raw->data;
    *skip = 0;
    if (raw->len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: starts with a UTF-16 byte order mark; aca reads UTF-8 or windows-1252 (convert it, e.g. "
                        "iconv -f UTF-16 -t UTF-8)",
                        path);
    if (raw->len >= 4 && !memcmp(u, "\0\0\xFE\xFF", 4))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: starts with a UTF-32 byte order mark; aca reads UTF-8 or windows-1252",
                        path);
    int bom = utf8_bom_len(raw->data, raw->len) > 0;
    if (bom && want == CORPUS_ENC_CP1252)
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: starts with a UTF-8 byte order mark, but --encoding cp1252 was given (a BOM means UTF-8: "
                        "use --encoding utf8 or auto)",
                        path);
    size_t bad = utf8_first_invalid(raw->data, raw->len);
    if (bom) want = CORPUS_ENC_UTF8, *skip = 3;
    if (want == CORPUS_ENC_AUTO && bad != raw->len) {
        size_t multi, invalid;
        utf8_census(raw->data, raw->len, &multi, &invalid);
        if (multi >= invalid) {
            char why[200];
            snprintf(why, sizeof why,
                     " in a file that otherwise reads as UTF-8 (%zu multi-byte characters, %zu invalid byte(s)); fix it, "
                     "or pass --encoding cp1252 if it really is windows-1252",
                     multi, invalid);
            return utf8_error(path, raw, bad, why, e);
        }
    }
    *got = want != CORPUS_ENC_AUTO ? want : bad == raw->len ? CORPUS_ENC_UTF8 : CORPUS_ENC_CP1252;
    if (*got == CORPUS_ENC_UTF8 && bad != raw->len)
        return utf8_error(path, raw, bad,
                          bom ? " (the file starts with a UTF-8 byte order mark, so it is read as UTF-8)"
                              : "; try --encoding cp1252",
                          e);
    if (*got != CORPUS_ENC_CP1252) return 0;
    aca_buf conv = {0}; // every byte maps, even in a file that also happens to be valid UTF-8
    if (cp1252_to_utf8(path, raw, &conv, e)) return buf_free(&conv), -1;
    buf_free(raw);
    *raw = conv;
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

int corpus_load(const char *path, const aca_corpus_opts *opts, aca_corpus *c, aca_err *e) {
    static const aca_corpus_opts defaults = {0};
    if (!opts) opts = &defaults;
    memset(c, 0, sizeof *c);
    aca_buf raw = {0};
    if (file_read_all(path, &raw, e)) return -1;
    if (opts->hash) sha256_hex(raw.data, raw.len, c->sha256);
    size_t skip;
    aca_corpus_encoding enc;
    if (text_settle_encoding(path, &raw, opts->encoding, &enc, &skip, e)) {
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
    if (file_read_all(path, &b, e) || text_settle_encoding(path, &b, CORPUS_ENC_AUTO, &enc, &skip, e))
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
