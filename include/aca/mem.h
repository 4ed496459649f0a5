// mem: host allocation that aborts (out of host memory is not a user-recoverable condition here:
// the process prints one line and exits with ACA_EXIT_MEMORY), and the length of a static array.
#ifndef ACA_MEM_H
#define ACA_MEM_H

#include <stddef.h>

#define ACA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
