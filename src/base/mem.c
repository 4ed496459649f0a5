// mem: allocation that aborts on failure (include/aca/mem.h).
#include "aca/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/err.h"

static _Noreturn void oom(size_t n) {
    fprintf(stderr, "aca: out of host memory (asked for %zu bytes)\n", n);
    exit(ACA_EXIT_MEMORY);
}
void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}
void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}
