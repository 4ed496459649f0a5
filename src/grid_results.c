// A grid's output directory, shared by concurrent runs: the locks on it (who may write what) and
// OUT/results.jsonl, derived from the cells' result.json files.  See include/aca/grid.h.
#include "aca/grid.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "aca/jsonw.h"

// ---- locks -------------------------------------------------------------------------------------
// "process 123 (aca grid g.json --out o)" for every other process holding a flock on fd's file.
static void lock_holders(int fd, aca_buf *out) {
    struct stat st;
    FILE *f = fopen("/proc/locks", "r");
    if (fstat(fd, &st) != 0 || !f) {
        if (f) fclose(f);
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char kind[32];
        int pid;
        unsigned maj, min;
        unsigned long ino;
        if (sscanf(line, "%*d: %31s %*s %*s %d %x:%x:%lu", kind, &pid, &maj, &min, &ino) != 5 || strcmp(kind, "FLOCK") ||
            maj != major(st.st_dev) || min != minor(st.st_dev) || ino != st.st_ino || pid == getpid())
            continue;
        char cp[64], cmd[160] = "";
        snprintf(cp, sizeof cp, "/proc/%d/cmdline", pid);
        FILE *c = fopen(cp, "r");
        size_t n = c ? fread(cmd, 1, sizeof cmd - 1, c) : 0;
        if (c) fclose(c);
        for (size_t i = 0; i + 1 < n; i++)
            if (!cmd[i]) cmd[i] = ' ';
        cmd[n] = 0;
        buf_printf(out, "%sprocess %d%s%s%s", out->len ? ", " : "", pid, *cmd ? " (" : "", cmd, *cmd ? ")" : "");
    }
    fclose(f);
}

int grid_lock(const char *out_dir, const char *name, int exclusive, int wait, const char *busy, int *fd, aca_err *e) {
    char *dir = path_join(out_dir, "locks");
    char *p = path_join(dir, name);
    int rc = dir_make(dir, e);
    *fd = -1;
    if (!rc && (*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
        rc = aca_errf(e, ACA_ERR_IO, "%s: cannot open the lock file: %s", p, strerror(errno));
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
    while (!rc && flock(*fd, op) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) {
            aca_buf who = {0};
            lock_holders(*fd, &who);
            rc = aca_errf(e, ACA_ERR_VALUE, "%s: %s: %s.  Wait for it to finish, or stop it, then run again", out_dir, busy,
                          who.len ? who.data : "another process holds the lock");
            buf_free(&who);
        } else {
            rc = aca_errf(e, ACA_ERR_IO, "%s: cannot lock: %s", p, strerror(errno));
        }
    }
    if (rc && *fd >= 0) close(*fd), *fd = -1;
    free(dir), free(p);
    return rc;
}

void grid_unlock(int fd) {
    if (fd >= 0) close(fd); // closing the last descriptor of the file releases the flock
}

// ---- results.jsonl -----------------------------------------------------------------------------
// Each finished cell's result.json as one line, in cell order.
int grid_results_collect(const char *out_dir, const aca_grid_cell *cells, int n, aca_buf *out) {
    int done = 0;
    for (int k = 0; k < n; k++) {
        aca_buf t = {0};
        cJSON *root = grid_cell_result(out_dir, &cells[k], &t);
        if (!root) continue;
        if (memchr(t.data, '\n', t.len)) { // written by hand or another tool: one line it is
            char *s = cJSON_PrintUnformatted(root);
            buf_printf(out, "%s\n", s);
            cJSON_free(s);
        } else {
            buf_printf(out, "%s\n", t.data);
        }
        done++;
        cJSON_Delete(root);
        buf_free(&t);
    }
    return done;
}

int grid_results_rebuild(const char *out_dir, const aca_grid_cell *cells, int n, aca_err *e) {
    int fd;
    if (grid_lock(out_dir, "results", 1, 1, "", &fd, e)) return -1;
    aca_buf b = {0};
    grid_results_collect(out_dir, cells, n, &b);
    char *p = path_join(out_dir, "results.jsonl");
    int rc = file_write_atomic(p, b.data ? b.data : "", b.len, e);
    free(p);
    buf_free(&b);
    grid_unlock(fd);
    return rc;
}

// 1 when some line of b starts with prefix.
static int has_line(const aca_buf *b, const aca_buf *prefix) {
    for (size_t at = 0; at < b->len;) {
        if (b->len - at >= prefix->len && !memcmp(b->data + at, prefix->data, prefix->len)) return 1;
        const char *nl = memchr(b->data + at, '\n', b->len - at);
        if (!nl) break;
        at = (size_t)(nl - b->data) + 1;
    }
    return 0;
}

// Appends line + '\n' under fd (results.jsonl, read into cur): a torn last line (a kill or a full disk
// during an earlier append) is cut first; a short write is undone.
static int append_line(int fd, const char *path, aca_buf *cur, const char *line, size_t n, aca_err *e) {
    size_t keep = cur->len;
    while (keep && cur->data[keep - 1] != '\n') keep--;
    if (keep != cur->len && ftruncate(fd, (off_t)keep) != 0)
        return aca_errf(e, ACA_ERR_IO, "%s: cannot cut a torn last line: %s", path, strerror(errno));
    char *s = xmalloc(n + 1);
    memcpy(s, line, n);
    s[n] = '\n';
    ssize_t w = pwrite(fd, s, n + 1, (off_t)keep);
    int err = errno, rc = 0;
    free(s);
    if (w != (ssize_t)(n + 1)) {
        if (ftruncate(fd, (off_t)keep) != 0) { /* the next rebuild repairs it */ }
        rc = aca_errf(e, ACA_ERR_IO, "%s: append failed: %s", path, w < 0 ? strerror(err) : "short write (disk full?)");
    } else if (fsync(fd) != 0) {
        rc = aca_errf(e, ACA_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    }
    return rc;
}

int grid_results_add(const char *out_dir, const aca_grid_cell *c, const char *line, size_t n, aca_err *e) {
    int lfd;
    if (grid_lock(out_dir, "results", 1, 1, "", &lfd, e)) return -1;
    char *p = path_join(out_dir, "results.jsonl");
    aca_buf cur = {0}, prefix = {0};
    int rc = 0, fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) rc = aca_errf(e, ACA_ERR_IO, "%s: cannot open for appending: %s", p, strerror(errno));
    if (!rc && file_read_all(p, &cur, e)) rc = -1;
    // A line of cell ID starts {"grid":{"cell":"ID" (the closing quote: no longer id matches).
    aca_jsonw w;
    jsonw_init(&w, &prefix);
    jsonw_obj(&w), jsonw_key(&w, "grid"), jsonw_obj(&w), jsonw_kstr(&w, "cell", c->id);
    if (!rc && !has_line(&cur, &prefix)) rc = append_line(fd, p, &cur, line, n, e);
    if (rc) { // the cell's result.json is written: the next run or report puts its line back
        static const char more[] = " (its result.json is kept; the next run or report rebuilds results.jsonl)";
        size_t at = strlen(e->msg);
        if (at + sizeof more <= sizeof e->msg) memcpy(e->msg + at, more, sizeof more);
    }
    if (fd >= 0) close(fd);
    buf_free(&cur), buf_free(&prefix);
    free(p);
    grid_unlock(lfd);
    return rc;
}
