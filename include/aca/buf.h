// buf: a growable byte buffer, always NUL-terminated, that grows through xrealloc (mem.h).
#ifndef ACA_BUF_H
#define ACA_BUF_H

#include <stddef.h>

typedef struct {
    char *data; // always NUL-terminated when non-NULL
    size_t len;
    size_t cap;
} aca_buf;

void buf_reserve(aca_buf *b, size_t extra);
void buf_append(aca_buf *b, const void *p, size_t n);
void buf_puts(aca_buf *b, const char *s);
void buf_putc(aca_buf *b, char c);
void buf_printf(aca_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_clear(aca_buf *b);
void buf_free(aca_buf *b);
// Appends s as a JSON string literal (with quotes and escapes); s must be valid UTF-8.
void buf_json_str(aca_buf *b, const char *s, size_t n);
// Appends s as one POSIX shell word: in single quotes, a ' inside written as '\''.
void buf_sh_quote(aca_buf *b, const char *s);

#endif
