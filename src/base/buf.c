// buf: the growable byte buffer (include/aca/buf.h).
#include "aca/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/mem.h"

void buf_reserve(aca_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}
void buf_append(aca_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}
void buf_puts(aca_buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_putc(aca_buf *b, char c) { buf_append(b, &c, 1); }
void buf_printf(aca_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}
void buf_clear(aca_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}
void buf_free(aca_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
void buf_json_str(aca_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    size_t run = 0; // start of the current run of bytes that need no escape
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            buf_puts(b, u);
        }
        }
    }
    buf_append(b, s + run, n - run);
    buf_putc(b, '"');
}

void buf_sh_quote(aca_buf *b, const char *s) {
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') buf_puts(b, "'\\''");
        else buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}
