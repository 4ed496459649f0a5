// atomic_file: files written whole or not at all.  The data goes to a temporary beside the final
// path, created exclusively and registered for removal on a signal (tmp.h), then fsync + rename.
#ifndef ACA_ATOMIC_FILE_H
#define ACA_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "aca/err.h"

// Atomic writer: write through f, then commit (fsync+rename) or abort (unlink the temp).
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
    int slot; // its registry slot (tmp.c)
} aca_atomic;
int atomic_open(aca_atomic *a, const char *path, aca_err *e);
int atomic_commit(aca_atomic *a, aca_err *e);
void atomic_abort(aca_atomic *a);

// Writes data to path atomically.
int file_write_atomic(const char *path, const void *data, size_t n, aca_err *e);

#endif
