// fileio: reading whole files, paths and directories.  Writing goes through atomic_file.h (a
// temporary, then rename); directory outputs through outdir.h.
#ifndef ACA_FILEIO_H
#define ACA_FILEIO_H

#include "aca/buf.h"
#include "aca/err.h"

// Reads a whole file; out->data is NUL-terminated.
int file_read_all(const char *path, aca_buf *out, aca_err *e);
int file_exists(const char *path);
// mkdir -p
int dir_make(const char *path, aca_err *e);
// Joins a directory and a file name into a new string.
char *path_join(const char *dir, const char *name);
// Removes path recursively (rm -r: a symbolic link is removed, never followed); 0 ok.  Directory
// outputs are swapped in whole by outdir_begin/outdir_commit (outdir.h).
int dir_remove_recursive(const char *path);

#endif
