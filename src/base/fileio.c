// fileio: whole-file reads, paths and directories (include/aca/fileio.h).
#include "aca/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/mem.h"

int file_read_all(const char *path, aca_buf *out, aca_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return aca_errf(e, ACA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    buf_clear(out);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aca_errf(e, ACA_ERR_IO, "%s: is a directory, expected a file", path);
    }
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) buf_reserve(out, (size_t)st.st_size);
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return aca_errf(e, ACA_ERR_IO, "%s: read error", path);
    if (!out->data) buf_reserve(out, 0), out->data[0] = 0;
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int dir_make(const char *path, aca_err *e) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            free(p);
            return aca_errf(e, ACA_ERR_IO, "%s: cannot create directory: %s", path, strerror(err));
        }
        *s = '/';
    }
    int rc = mkdir(p, 0777);
    int err = errno;
    free(p);
    if (rc != 0 && err != EEXIST)
        return aca_errf(e, ACA_ERR_IO, "%s: cannot create directory: %s", path, strerror(err));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return aca_errf(e, ACA_ERR_IO, "%s: exists and is not a directory", path);
    return 0;
}

int dir_remove_recursive(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = path_join(path, de->d_name);
        rc |= dir_remove_recursive(p);
        free(p);
    }
    closedir(d);
    return rc | rmdir(path);
}
