// JSON text with its length (include/aca/jsontext.h): a strict scanner that decodes strings
// byte-exact, and the JSONL document line built on it.
#include "aca/jsontext.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 512 };

typedef struct {
    const char *s;
    size_t n, i;
    json_str_fn fn;
    void *ctx;
    aca_buf path; // the current JSON path
    aca_buf top;  // the current top-level key
    aca_buf str;  // the string being decoded
    json_scan_err *err;
} scanner;

static int fail(scanner *x, size_t at, const char *why) {
    if (x->err) x->err->off = at, x->err->why = why;
    return -1;
}

static void skip_ws(scanner *x) {
    while (x->i < x->n) {
        char c = x->s[x->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        x->i++;
    }
}

static int hex4(const char *p, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

// A \uXXXX escape at x->i (pointing at the 'u'), with its low surrogate when it is a high one.
static int scan_u_escape(scanner *x, uint32_t *cp) {
    size_t at = x->i - 1;
    if (x->n - x->i < 5 || hex4(x->s + x->i + 1, cp)) return fail(x, at, "\\u needs four hex digits");
    x->i += 5;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail(x, at, "a low surrogate escape without a high one before it");
    if (*cp < 0xD800 || *cp > 0xDBFF) return 0;
    uint32_t lo;
    if (x->n - x->i < 6 || x->s[x->i] != '\\' || x->s[x->i + 1] != 'u' || hex4(x->s + x->i + 2, &lo) || lo < 0xDC00 ||
        lo > 0xDFFF)
        return fail(x, at, "a high surrogate escape without its low surrogate");
    x->i += 6;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

// The string at x->i (the opening quote), decoded into out.
static int scan_string(scanner *x, aca_buf *out) {
    size_t open = x->i++;
    for (;;) {
        size_t run = x->i;
        while (x->i < x->n) {
            unsigned char c = (unsigned char)x->s[x->i];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            x->i++;
        }
        buf_append(out, x->s + run, x->i - run);
        if (x->i >= x->n) return fail(x, open, "unterminated string");
        unsigned char c = (unsigned char)x->s[x->i];
        if (c == '"') return x->i++, 0;
        if (c < 0x20)
            return fail(x, x->i, c ? "a raw control character inside a string (escape it: \\t, \\n, \\u0001...)"
                                   : "a raw NUL byte inside a string (write it as \\u0000)");
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = utf8_decode((const unsigned char *)x->s + x->i, x->n - x->i, &cp);
            if (!k) return fail(x, x->i, "invalid UTF-8 inside a string");
            buf_append(out, x->s + x->i, k);
            x->i += k;
            continue;
        }
        if (++x->i >= x->n) return fail(x, x->i - 1, "unterminated escape");
        char esc = x->s[x->i++];
        static const char FROM[] = "\"\\/bfnrt", TO[] = "\"\\/\b\f\n\r\t";
        const char *hit = esc ? strchr(FROM, esc) : NULL;
        if (hit) {
            buf_putc(out, TO[hit - FROM]);
        } else if (esc == 'u') {
            uint32_t cp;
            x->i--;
            if (scan_u_escape(x, &cp)) return -1;
            char u[4];
            buf_append(out, u, utf8_encode(u, cp));
        } else {
            return fail(x, x->i - 2, "an unknown escape in a string");
        }
    }
}

static int scan_digits(scanner *x) {
    size_t at = x->i;
    while (x->i < x->n && x->s[x->i] >= '0' && x->s[x->i] <= '9') x->i++;
    return x->i > at ? 0 : fail(x, at, "a digit expected in a number");
}

static int scan_number(scanner *x) {
    if (x->s[x->i] == '-') x->i++;
    if (x->i < x->n && x->s[x->i] == '0') x->i++;
    else if (scan_digits(x)) return -1;
    if (x->i < x->n && x->s[x->i] == '.' && (x->i++, scan_digits(x))) return -1;
    if (x->i < x->n && (x->s[x->i] == 'e' || x->s[x->i] == 'E')) {
        x->i++;
        if (x->i < x->n && (x->s[x->i] == '+' || x->s[x->i] == '-')) x->i++;
        if (scan_digits(x)) return -1;
    }
    return 0;
}

static int scan_value(scanner *x, int depth);

static int visit_string(scanner *x, int depth) {
    size_t at = x->i;
    buf_clear(&x->str);
    if (scan_string(x, &x->str)) return -1;
    if (!x->fn) return 0;
    json_str v = {x->path.data ? x->path.data : "", x->top.data ? x->top.data : "", depth,
                  x->str.data ? x->str.data : "", x->str.len, at};
    return x->fn(x->ctx, &v);
}

// After a member or an element: ',' (returns 1: another follows) or the closing bracket (0).
static int scan_next(scanner *x, size_t base, char close, const char *why) {
    x->path.len = base, x->path.data[base] = 0;
    skip_ws(x);
    if (x->i < x->n && x->s[x->i] == ',') {
        x->i++;
        skip_ws(x);
        return 1;
    }
    if (x->i < x->n && x->s[x->i] == close) return x->i++, 0;
    return fail(x, x->i, why);
}

// An object member's key into the path (and into top at depth 0), then the ':'.
static int scan_key(scanner *x, size_t base, int depth) {
    if (x->i >= x->n || x->s[x->i] != '"') return fail(x, x->i, "a string key expected");
    size_t at = x->i;
    if (base) buf_putc(&x->path, '.');
    size_t kstart = x->path.len;
    if (scan_string(x, &x->path)) return -1;
    if (memchr(x->path.data + kstart, 0, x->path.len - kstart)) return fail(x, at, "U+0000 in an object key");
    if (depth == 0) buf_clear(&x->top), buf_append(&x->top, x->path.data + kstart, x->path.len - kstart);
    skip_ws(x);
    if (x->i >= x->n || x->s[x->i] != ':') return fail(x, x->i, "':' expected after an object key");
    x->i++;
    skip_ws(x);
    return 0;
}

static int scan_object(scanner *x, int depth) {
    size_t base = x->path.len;
    x->i++;
    skip_ws(x);
    if (x->i < x->n && x->s[x->i] == '}') return x->i++, 0;
    for (;;) {
        int rc = scan_key(x, base, depth);
        if (!rc) rc = scan_value(x, depth + 1);
        if (rc) return rc;
        if ((rc = scan_next(x, base, '}', "',' or '}' expected in an object")) <= 0) return rc;
    }
}

static int scan_array(scanner *x, int depth) {
    size_t base = x->path.len;
    x->i++;
    skip_ws(x);
    if (x->i < x->n && x->s[x->i] == ']') return x->i++, 0;
    for (long k = 0;; k++) {
        buf_printf(&x->path, "[%ld]", k);
        int rc = scan_value(x, depth + 1);
        if (rc) return rc;
        if ((rc = scan_next(x, base, ']', "',' or ']' expected in an array")) <= 0) return rc;
    }
}

static int scan_literal(scanner *x, const char *word) {
    size_t k = strlen(word);
    if (x->n - x->i < k || memcmp(x->s + x->i, word, k)) return fail(x, x->i, "not a JSON value");
    x->i += k;
    return 0;
}

static int scan_value(scanner *x, int depth) {
    if (depth > MAX_DEPTH) return fail(x, x->i, "nested more than 512 levels deep");
    if (x->i >= x->n) return fail(x, x->i, "a value expected");
    char c = x->s[x->i];
    switch (c) {
    case '{': return scan_object(x, depth);
    case '[': return scan_array(x, depth);
    case '"': return visit_string(x, depth);
    case 't': return scan_literal(x, "true");
    case 'f': return scan_literal(x, "false");
    case 'n': return scan_literal(x, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return scan_number(x);
        return fail(x, x->i, c ? "not a JSON value" : "a NUL byte outside a string");
    }
}

int json_scan(const char *s, size_t n, json_str_fn fn, void *ctx, json_scan_err *err) {
    scanner x = {.s = s, .n = n, .fn = fn, .ctx = ctx, .err = err};
    buf_reserve(&x.path, 64);
    skip_ws(&x);
    int rc = scan_value(&x, 0);
    if (!rc) {
        skip_ws(&x);
        if (x.i < n)
            rc = fail(&x, x.i, s[x.i] ? "content after the JSON value"
                                      : "a NUL byte after the JSON value");
    }
    buf_free(&x.path);
    buf_free(&x.top);
    buf_free(&x.str);
    return rc;
}

typedef struct {
    char *path;
    size_t cap;
} nul_find;

static int visit_nul(void *ctx, const json_str *v) {
    nul_find *f = ctx;
    if (!memchr(v->s, 0, v->n)) return 0;
    snprintf(f->path, f->cap, "%s", v->path);
    return 1;
}

int json_find_nul(const char *s, size_t n, char *path, size_t cap, json_scan_err *err) {
    nul_find f = {path, cap};
    return json_scan(s, n, visit_nul, &f, err);
}

int json_doc_check(const char *s, size_t n, const char *file, aca_err *e) {
    char where[256];
    json_scan_err se = {0};
    int r = json_find_nul(s, n, where, sizeof where, &se);
    if (r > 0)
        return aca_errf(e, ACA_ERR_VALUE, "%s: %s: holds U+0000 (NUL), which no field of this file may contain", file,
                        where);
    if (r < 0) {
        size_t line, col;
        json_line_col(s, se.off, &line, &col);
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: invalid JSON at column %zu: %s", file, line, col, se.why);
    }
    return 0;
}

size_t utf8_bom_len(const char *s, size_t n) { return n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0; }

void json_line_col(const char *s, size_t off, size_t *line, size_t *col) {
    size_t l = 1, start = 0;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') l++, start = i + 1;
    *line = l;
    *col = off - start + 1;
}

const char *json_kind(const cJSON *v, char *buf, size_t cap) {
    if (cJSON_IsNumber(v)) { // the shortest spelling that reads back the same
        char num[32];
        for (int p = 1; p <= 17; p++)
            if (snprintf(num, sizeof num, "%.*g", p, v->valuedouble), strtod(num, NULL) == v->valuedouble) break;
        return snprintf(buf, cap, "a number (%s)", num), buf;
    }
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    return "an object";
}

// ---- a JSONL document line ---------------------------------------------------------------------
typedef struct {
    aca_buf *text;
    size_t text_off, text_len;
    int have_text;
    const char *nul_in; // "label" or "id" when one of their strings holds U+0000
} doc_visit;

static int visit_doc(void *ctx, const json_str *v) {
    doc_visit *d = ctx;
    if (v->depth == 1 && !strcmp(v->top, "text") && !d->have_text) {
        d->have_text = 1;
        d->text_off = d->text->len;
        d->text_len = v->n;
        buf_append(d->text, v->s, v->n);
        buf_putc(d->text, 0);
        return 0;
    }
    if (v->depth >= 1 && memchr(v->s, 0, v->n) && (!strcmp(v->top, "label") || !strcmp(v->top, "id"))) {
        d->nul_in = !strcmp(v->top, "label") ? "label" : "id";
        return 1;
    }
    return 0;
}

// A field of obj named key more than once (cJSON would keep the first silently).
static int key_twice(const cJSON *obj, const char *key) {
    int k = 0;
    for (const cJSON *c = obj->child; c; c = c->next) k += !strcmp(c->string, key);
    return k > 1;
}

int jsonl_doc_parse(const char *s, size_t n, aca_buf *text, jsonl_doc *d, aca_err *e) {
    memset(d, 0, sizeof *d);
    size_t mark = text->len;
    doc_visit v = {.text = text};
    json_scan_err se = {0};
    int rc = json_scan(s, n, visit_doc, &v, &se);
    if (rc < 0) return aca_errf(e, ACA_ERR_FORMAT, "column %zu: %s", se.off + 1, se.why);
    const char *bad = NULL;
    if (rc > 0) {
        aca_errf(e, ACA_ERR_FORMAT, "field \"%s\" holds U+0000 (NUL), which a %s cannot contain", v.nul_in,
                 !strcmp(v.nul_in, "id") ? "document id" : "class name");
        goto fail;
    }
    d->root = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsObject(d->root)) {
        aca_errf(e, ACA_ERR_FORMAT, "expected one JSON object {\"text\": ..., \"label\": ...}");
        goto fail;
    }
    static const char *const KEYS[] = {"text", "label", "id"};
    for (int k = 0; k < 3 && !bad; k++)
        if (key_twice(d->root, KEYS[k])) bad = KEYS[k];
    if (bad) {
        aca_errf(e, ACA_ERR_FORMAT, "field \"%s\" given twice", bad);
        goto fail;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d->root, "text"))) {
        aca_errf(e, ACA_ERR_FORMAT, "field \"text\" missing or not a string");
        goto fail;
    }
    d->label = cJSON_GetObjectItemCaseSensitive(d->root, "label");
    d->id = cJSON_GetObjectItemCaseSensitive(d->root, "id");
    d->text_off = v.text_off;
    d->text_len = v.text_len;
    return 0;
fail:
    cJSON_Delete(d->root);
    d->root = NULL;
    text->len = mark;
    if (text->data) text->data[mark] = 0;
    return -1;
}
