// jsonw: the JSON writer (see include/aca/jsonw.h).
#include "aca/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void jsonw_init(aca_jsonw *w, aca_buf *b) {
    memset(w, 0, sizeof *w);
    w->b = b;
    w->digits = 6;
}

void jsonw_spaced(aca_jsonw *w) { w->spaced = 1; }
void jsonw_compact(aca_jsonw *w) { w->spaced = 0; }

void jsonw_newline(aca_jsonw *w, int indent) { w->newline = indent + 1; }

void jsonw_lines(aca_jsonw *w, int indent) {
    if (w->depth == 0 || indent < 0 || indent > 127) abort(); // a bug in the caller
    w->lines[w->depth - 1] = (signed char)indent;
}

// A line break and `indent` spaces.
static void new_line(aca_jsonw *w, int indent) {
    buf_putc(w->b, '\n');
    for (int k = 0; k < indent; k++) buf_putc(w->b, ' ');
}

// Before a key, or a value that does not follow its key: the comma and the layout.
static void item(aca_jsonw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    int indent = w->newline ? w->newline - 1 : w->depth > 0 ? w->lines[w->depth - 1] : -1;
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1]) buf_puts(w->b, w->spaced && indent < 0 ? ", " : ",");
        w->has_items[w->depth - 1] = 1;
    }
    if (indent >= 0) new_line(w, indent);
    w->newline = 0;
}

static void open_container(aca_jsonw *w, char c, char close) {
    item(w);
    if (w->depth == JSONW_MAX_DEPTH) abort(); // a bug in the caller, not a user's input
    buf_putc(w->b, c);
    w->close[w->depth] = close;
    w->has_items[w->depth] = 0;
    w->lines[w->depth] = -1;
    w->depth++;
}

void jsonw_obj(aca_jsonw *w) { open_container(w, '{', '}'); }
void jsonw_arr(aca_jsonw *w) { open_container(w, '[', ']'); }

void jsonw_end(aca_jsonw *w) {
    if (w->depth == 0) abort();
    w->depth--;
    int lines = w->lines[w->depth], indent = w->newline ? w->newline - 1 : lines < 0 ? -1 : lines < 2 ? 0 : lines - 2;
    if (indent >= 0) new_line(w, indent);
    w->newline = 0;
    buf_putc(w->b, w->close[w->depth]);
}

void jsonw_key(aca_jsonw *w, const char *k) {
    item(w);
    buf_json_str(w->b, k, strlen(k));
    buf_puts(w->b, w->spaced ? ": " : ":");
    w->after_key = 1;
}

void jsonw_strn(aca_jsonw *w, const char *s, size_t n) {
    item(w);
    buf_json_str(w->b, s, n);
}

void jsonw_str(aca_jsonw *w, const char *s) {
    if (!s) jsonw_null(w);
    else jsonw_strn(w, s, strlen(s));
}

void jsonw_num_prec(aca_jsonw *w, double x, int digits) {
    item(w);
    if (isfinite(x)) buf_printf(w->b, "%.*g", digits, x);
    else buf_puts(w->b, "null");
}

void jsonw_num(aca_jsonw *w, double x) { jsonw_num_prec(w, x, w->digits); }

void jsonw_num_exact(aca_jsonw *w, double x) {
    if (!isfinite(x)) {
        jsonw_null(w);
        return;
    }
    char s[40];
    snprintf(s, sizeof s, "%.15g", x);
    if (strtod(s, NULL) != x) snprintf(s, sizeof s, "%.17g", x);
    jsonw_raw(w, s);
}

void jsonw_num_float(aca_jsonw *w, float x) {
    if (!isfinite(x)) {
        jsonw_null(w);
        return;
    }
    char s[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, (double)x);
        if (strtof(s, NULL) == x) break; // %.9g always reads back
    }
    jsonw_raw(w, s);
}

void jsonw_int(aca_jsonw *w, long long v) {
    item(w);
    buf_printf(w->b, "%lld", v);
}

void jsonw_uint(aca_jsonw *w, unsigned long long v) {
    item(w);
    buf_printf(w->b, "%llu", v);
}

void jsonw_bool(aca_jsonw *w, int v) { jsonw_raw(w, v ? "true" : "false"); }
void jsonw_null(aca_jsonw *w) { jsonw_raw(w, "null"); }

void jsonw_raw(aca_jsonw *w, const char *json) {
    item(w);
    buf_puts(w->b, json);
}

void jsonw_kstr(aca_jsonw *w, const char *k, const char *s) { jsonw_key(w, k), jsonw_str(w, s); }
void jsonw_knum(aca_jsonw *w, const char *k, double x) { jsonw_key(w, k), jsonw_num(w, x); }
void jsonw_kint(aca_jsonw *w, const char *k, long long v) { jsonw_key(w, k), jsonw_int(w, v); }
void jsonw_kuint(aca_jsonw *w, const char *k, unsigned long long v) { jsonw_key(w, k), jsonw_uint(w, v); }
void jsonw_kbool(aca_jsonw *w, const char *k, int v) { jsonw_key(w, k), jsonw_bool(w, v); }
