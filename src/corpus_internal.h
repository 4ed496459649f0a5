// Internal to the corpus module (src/corpus*.c): what its files share beyond include/aca/corpus.h.
#ifndef ACA_CORPUS_INTERNAL_H
#define ACA_CORPUS_INTERNAL_H

#include <stddef.h>

#include "aca/corpus.h"

// Decides the encoding (see corpus.h) and leaves raw holding UTF-8; *skip: the bytes of a UTF-8
// byte order mark to skip.  Errors: a UTF-16/32 file, a BOM with --encoding cp1252, an invalid
// byte in a file read as UTF-8, an undefined cp1252 byte.
int corpus_settle_encoding(const char *path, aca_buf *raw, aca_corpus_encoding want, aca_corpus_encoding *got,
                           size_t *skip, aca_err *e);

#endif
