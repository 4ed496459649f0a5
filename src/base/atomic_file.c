// atomic_file: files written to a temporary, then renamed into place (include/aca/atomic_file.h).
#include "aca/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/mem.h"
#include "aca/tmp.h"

int atomic_open(aca_atomic *a, const char *path, aca_err *e) {
    memset(a, 0, sizeof *a);
    aca_tmp t;
    int fd = -1;
    if (tmp_create(&t, path, 0, &fd, e)) return -1;
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int err = errno;
        close(fd);
        tmp_remove(&t);
        return aca_errf(e, ACA_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    a->tmp = t.path, a->slot = t.slot;
    a->path = xstrdup(path);
    return 0;
}

int atomic_commit(aca_atomic *a, aca_err *e) {
    int bad = fflush(a->f) != 0 || ferror(a->f);
    if (!bad) fsync(fileno(a->f));
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    aca_tmp t = {a->tmp, a->slot};
    int rc = 0;
    if (bad) {
        tmp_remove(&t);
        rc = aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", a->path);
    } else if (rename(a->tmp, a->path) != 0) {
        int err = errno;
        tmp_remove(&t);
        rc = aca_errf(e, ACA_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(err));
    } else {
        tmp_forget(&t);
    }
    free(a->path);
    a->tmp = a->path = NULL;
    return rc;
}

void atomic_abort(aca_atomic *a) {
    if (a->f) fclose(a->f);
    aca_tmp t = {a->tmp, a->slot};
    if (a->tmp) tmp_remove(&t);
    free(a->path);
    memset(a, 0, sizeof *a);
}

int file_write_atomic(const char *path, const void *data, size_t n, aca_err *e) {
    aca_atomic a;
    if (atomic_open(&a, path, e)) return -1;
    if (n && fwrite(data, 1, n, a.f) != n) {
        atomic_abort(&a);
        return aca_errf(e, ACA_ERR_IO, "%s: write failed", path);
    }
    return atomic_commit(&a, e);
}
