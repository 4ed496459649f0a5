// outdir: output checks, markers and directory outputs swapped in whole (see
// include/aca/outdir.h and README "Guarantees").
#include "aca/outdir.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/atomic_file.h"
#include "aca/fileio.h"
#include "aca/jsonw.h"
#include "aca/mem.h"
#include "aca/sysinfo.h"

#define SWEEP_DEPTH 5 // run/demo/grid outputs: OUT/cells/<id>/<stage>/<file>

// ---- paths -------------------------------------------------------------------------------------
static void path_pop(char *cur) {
    char *s = strrchr(cur, '/');
    if (s == cur) cur[1] = 0;
    else if (s) *s = 0;
}

// The absolute physical path `path` names, or will name once created: the existing prefix resolved
// (symlinks, `..`), the rest taken lexically ('.' dropped, '..' pops a part that does not exist yet,
// as mkdir -p then creates it).  NULL with e filled when a part is a dangling symlink or a file.
static char *path_canonical(const char *path, aca_err *e) {
    char cur[PATH_MAX];
    if (path[0] == '/') strcpy(cur, "/");
    else if (!getcwd(cur, sizeof cur)) return aca_errf(e, ACA_ERR_IO, "%s: cannot resolve: %s", path, strerror(errno)), NULL;
    int exists = 1;
    for (const char *s = path; *s;) {
        while (*s == '/') s++;
        size_t n = strcspn(s, "/");
        if (!n) break;
        if (strlen(cur) + n + 2 > sizeof cur) return aca_errf(e, ACA_ERR_IO, "%s: path too long", path), NULL;
        char part[PATH_MAX];
        memcpy(part, s, n), part[n] = 0;
        s += n;
        if (!strcmp(part, ".")) continue;
        struct stat st;
        if (!strcmp(part, "..")) {
            path_pop(cur);
            exists = lstat(cur, &st) == 0;
            continue;
        }
        if (strcmp(cur, "/")) strcat(cur, "/");
        strcat(cur, part);
        if (!exists) continue;
        if (lstat(cur, &st) != 0) {
            if (errno != ENOENT) return aca_errf(e, ACA_ERR_IO, "%s: cannot resolve %s: %s", path, cur, strerror(errno)), NULL;
            exists = 0;
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            char r[PATH_MAX];
            if (!realpath(cur, r))
                return aca_errf(e, ACA_ERR_IO, "%s: %s is a symbolic link to a missing path", path, cur), NULL;
            strcpy(cur, r);
            if (stat(cur, &st) != 0) return aca_errf(e, ACA_ERR_IO, "%s: cannot resolve %s", path, cur), NULL;
        }
        if (!S_ISDIR(st.st_mode) && s[strspn(s, "/")])
            return aca_errf(e, ACA_ERR_IO, "%s: %s is not a directory", path, cur), NULL;
    }
    return xstrdup(cur);
}

static char *parent_of(const char *canon) {
    char *p = xstrdup(canon);
    path_pop(p);
    return p;
}

int out_file_starts_with(const char *path, const char *head, size_t n) {
    char b[256];
    FILE *f = n <= sizeof b ? fopen(path, "rb") : NULL;
    if (!f) return 0;
    size_t k = fread(b, 1, n, f);
    fclose(f);
    return k == n && !memcmp(b, head, n);
}

char *out_file_target(const char *path) {
    struct stat st;
    char r[PATH_MAX];
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(path, r)) return xstrdup(r);
    return xstrdup(path);
}

char *out_sibling(const char *path, const char *suffix) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *base = path + n;
    while (base > path && base[-1] != '/') base--;
    size_t bl = (size_t)(path + n - base);
    char *p = NULL;
    if ((bl == 1 && base[0] == '.') || (bl == 2 && !strncmp(base, "..", 2))) {
        aca_err e;
        char *c = path_canonical(path, &e);
        if (c) {
            p = xmalloc(strlen(c) + strlen(suffix) + 1);
            strcpy(p, c), strcat(p, suffix);
            free(c);
            return p;
        }
    }
    p = xmalloc(n + strlen(suffix) + 1);
    memcpy(p, path, n);
    strcpy(p + n, suffix);
    return p;
}

// ---- markers -----------------------------------------------------------------------------------
// The marker's kind into kind (1), or 0 when dir holds no readable marker.
static int marker_kind(const char *dir, char *kind, size_t n) {
    char *p = path_join(dir, OUT_MARKER);
    struct stat st;
    int ok = 0;
    if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < 4096) {
        aca_buf b = {0};
        aca_err e;
        if (!file_read_all(p, &b, &e)) {
            cJSON *j = cJSON_Parse(b.data);
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kind");
            if (cJSON_IsString(k)) snprintf(kind, n, "%s", k->valuestring), ok = 1;
            cJSON_Delete(j);
        }
        buf_free(&b);
    }
    free(p);
    return ok;
}

int outdir_is(const char *dir, const char *kind) {
    char k[64];
    return marker_kind(dir, k, sizeof k) && !strcmp(k, kind);
}

int outdir_mark(const char *dir, const char *kind, aca_err *e) {
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    jsonw_kstr(&w, "kind", kind);
    jsonw_kint(&w, "version", OUT_MARKER_VERSION);
    jsonw_kstr(&w, "aca", aca_git_revision());
    jsonw_end(&w);
    buf_putc(&b, '\n');
    char *p = path_join(dir, OUT_MARKER);
    int rc = file_write_atomic(p, b.data, b.len, e);
    free(p);
    buf_free(&b);
    return rc;
}

// ---- the rules ---------------------------------------------------------------------------------
static const char *opt_name(const aca_out *o) { return o->option ? o->option : "output"; }

// " (/abs/path)" when symlinks or `..` make the canonical path differ from the given one read
// literally (relative to the working directory, '.' dropped).
static const char *resolved_note(const char *given, const char *canon, char *buf, size_t n) {
    char lit[PATH_MAX] = "";
    if (given[0] != '/' && !getcwd(lit, sizeof lit)) return "";
    for (const char *s = given; *s;) {
        while (*s == '/') s++;
        size_t k = strcspn(s, "/");
        if (k && !(k == 1 && s[0] == '.') && strlen(lit) + k + 2 < sizeof lit) strcat(lit, "/"), strncat(lit, s, k);
        s += k;
    }
    if (!strcmp(lit[0] ? lit : "/", canon)) return "";
    snprintf(buf, n, " (%s)", canon);
    return buf;
}

enum { ST_MISSING, ST_EMPTY, ST_OURS, ST_FOREIGN };

// What is at canon now: missing, an empty directory, an aca directory of o->kind, or (replace
// asked) something else; otherwise a refusal.
static int dir_state(const aca_out *o, const char *canon, aca_err *e) {
    char note[PATH_MAX + 4];
    const char *rn = resolved_note(o->path, canon, note, sizeof note);
    struct stat st;
    if (lstat(canon, &st) != 0) {
        if (errno == ENOENT) return ST_MISSING;
        return aca_errf(e, ACA_ERR_IO, "%s %s%s: %s", opt_name(o), o->path, rn, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: exists and is not a directory; aca does not replace it", opt_name(o),
                        o->path, rn);
    if (o->mode == OUT_DIR_ADD) return ST_OURS; // nothing in it is replaced
    DIR *d = opendir(canon);
    if (!d) return aca_errf(e, ACA_ERR_IO, "%s %s%s: cannot read the directory: %s", opt_name(o), o->path, rn, strerror(errno));
    int n = 0; // entries other than aca temporaries (another process may be writing its marker)
    struct dirent *de;
    while (!n && (de = readdir(d))) {
        long pid;
        int here;
        n = strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !tmp_name_parse(de->d_name, &pid, &here);
    }
    closedir(d);
    if (!n) return ST_EMPTY;
    char kind[64];
    int marked = marker_kind(canon, kind, sizeof kind);
    if (marked && !strcmp(kind, o->kind)) return ST_OURS;
    if (o->replace) return ST_FOREIGN;
    const char *fix = o->fix ? o->fix : "choose another path, or pass --replace to replace it";
    if (marked)
        return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: is an aca %s output, not an aca %s output; %s", opt_name(o),
                        o->path, rn, kind, o->kind, fix);
    return aca_errf(e, ACA_ERR_REFUSED,
                    "%s %s%s: exists, is not empty and is not an aca %s output (it has no %s marker); aca never deletes "
                    "what it did not write: %s",
                    opt_name(o), o->path, rn, o->kind, OUT_MARKER, fix);
}

static int file_state(const aca_out *o, const char *canon, aca_err *e) {
    char note[PATH_MAX + 4];
    const char *rn = resolved_note(o->path, canon, note, sizeof note);
    struct stat st;
    if (lstat(canon, &st) != 0) {
        if (errno != ENOENT) return aca_errf(e, ACA_ERR_IO, "%s %s%s: %s", opt_name(o), o->path, rn, strerror(errno));
        char *parent = parent_of(canon);
        int ok = stat(parent, &st) == 0 && S_ISDIR(st.st_mode);
        int rc = ok ? ST_MISSING
                    : aca_errf(e, ACA_ERR_IO, "%s %s: cannot write it: the directory %s does not exist", opt_name(o),
                               o->path, parent);
        free(parent);
        return rc;
    }
    if (S_ISDIR(st.st_mode))
        return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: is a directory, expected a file", opt_name(o), o->path, rn);
    if (!S_ISREG(st.st_mode))
        return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: exists and is not a regular file; aca does not replace it",
                        opt_name(o), o->path, rn);
    if (o->recognise && o->recognise(canon)) return ST_OURS;
    if (o->replace && !o->append) return ST_FOREIGN;
    if (o->append)
        return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: exists and is not a %s file; aca appends only to its own",
                        opt_name(o), o->path, rn, o->kind);
    const char *fix = o->fix ? o->fix : "choose another path, or pass --replace to overwrite it";
    if (o->recognise)
        return aca_errf(e, ACA_ERR_REFUSED,
                        "%s %s%s: exists and is not a %s that aca wrote; aca never overwrites what it did not write: %s",
                        opt_name(o), o->path, rn, o->kind, fix);
    return aca_errf(e, ACA_ERR_REFUSED,
                    "%s %s%s: exists (aca cannot tell a %s it wrote from another file, and never overwrites what it did "
                    "not write): %s",
                    opt_name(o), o->path, rn, o->kind, fix);
}

// Refuses an output that is, or holds, one of the inputs (device and inode along each input's
// resolved ancestors); label names them ("the input %s"), why says what aca never does.
static int check_inputs(const aca_out *o, const char *canon, const char *const *inputs, int n, const char *label,
                        const char *why, aca_err *e) {
    struct stat so, st;
    if (stat(canon, &so) != 0) return 0; // not there yet: it holds nothing
    char note[PATH_MAX + 4], what[PATH_MAX + 64];
    const char *rn = resolved_note(o->path, canon, note, sizeof note);
    for (int i = 0; i < n; i++) {
        char r[PATH_MAX];
        if (!inputs[i] || !realpath(inputs[i], r)) continue;
        for (int self = 1;; self = 0) {
            if (stat(r, &st) == 0 && st.st_dev == so.st_dev && st.st_ino == so.st_ino) {
                snprintf(what, sizeof what, label, inputs[i]);
                return aca_errf(e, ACA_ERR_REFUSED, "%s %s%s: %s %s; %s", opt_name(o), o->path, rn,
                                self ? "is" : "holds", what, why);
            }
            if (!strcmp(r, "/")) break;
            path_pop(r);
        }
    }
    return 0;
}

// The input directory that canon lies inside (its index), or -1.
static int inside_input(const char *canon, const char *const *inputs, int n) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", canon);
    while (strcmp(p, "/")) {
        path_pop(p);
        struct stat sp, si;
        if (stat(p, &sp) != 0) continue;
        for (int i = 0; i < n; i++)
            if (inputs[i] && stat(inputs[i], &si) == 0 && S_ISDIR(si.st_mode) && si.st_dev == sp.st_dev &&
                si.st_ino == sp.st_ino)
                return i;
    }
    return -1;
}

int out_check(const aca_out *o, const char *const *inputs, int n_inputs, aca_err *e) {
    if (!o->path || !o->path[0]) return aca_errf(e, ACA_ERR_VALUE, "%s: empty path", opt_name(o));
    char *canon = path_canonical(o->path, e);
    if (!canon) return aca_err_prefix(e, "%s", opt_name(o));
    long pid;
    int here;
    if (tmp_name_parse(strrchr(canon, '/') + 1, &pid, &here)) {
        free(canon);
        return aca_errf(e, ACA_ERR_VALUE, "%s %s: names of the form NAME" TMP_TAG "HOST.PID.N are aca's temporaries",
                        opt_name(o), o->path);
    }
    int rc = check_inputs(o, canon, inputs, n_inputs, "the input %s", "aca never writes over its inputs", e);
    // A directory that aca would remove may not be, or hold, the working directory either.
    const char *const cwd[] = {"."};
    if (!rc && (o->mode == OUT_DIR_REPLACE || (o->mode == OUT_DIR_INTO && o->replace)))
        rc = check_inputs(o, canon, cwd, 1, "the working directory", "aca never removes the directory it runs in", e);
    if (!rc && o->mode != OUT_FILE && !strcmp(canon, "/"))
        rc = aca_errf(e, ACA_ERR_REFUSED, "%s %s: is the root directory", opt_name(o), o->path);
    if (!rc) rc = o->mode == OUT_FILE ? file_state(o, canon, e) : dir_state(o, canon, e);
    int in = rc == ST_FOREIGN ? inside_input(canon, inputs, n_inputs) : -1;
    if (in >= 0)
        rc = aca_errf(e, ACA_ERR_REFUSED,
                      "%s %s: exists inside the input %s and is not an aca %s output; --replace does not apply inside "
                      "an input",
                      opt_name(o), o->path, inputs[in], o->kind);
    if (rc >= 0) {
        if (o->mode == OUT_DIR_INTO) tmp_sweep(canon, SWEEP_DEPTH);
        if (o->mode == OUT_DIR_ADD) tmp_sweep(canon, 0);
        char *parent = parent_of(canon);
        tmp_sweep(parent, 0);
        free(parent);
    }
    free(canon);
    return rc < 0 ? -1 : 0;
}

// ---- directory outputs -------------------------------------------------------------------------
// Moves dir aside under a temporary name and removes it.
static int remove_aside(const char *dir, const char *given, aca_err *e) {
    aca_tmp old;
    if (tmp_create(&old, dir, 1, NULL, e)) return -1;
    tmp_hold();
    int rc = rename(dir, old.path); // over the empty directory just made
    int err = errno;
    tmp_release();
    if (rc) {
        tmp_remove(&old);
        return aca_errf(e, ACA_ERR_IO, "%s: cannot move the old directory aside: %s", given, strerror(err));
    }
    tmp_remove(&old);
    return 0;
}

// dir's device and inode ({-1, -1} when absent).
static void dir_identity(const char *dir, int64_t id[2]) {
    struct stat st;
    int ok = lstat(dir, &st) == 0;
    id[0] = ok ? (int64_t)st.st_dev : -1, id[1] = ok ? (int64_t)st.st_ino : -1;
}

int outdir_begin(aca_outdir *d, const char *dir, const char *kind, int replace, aca_err *e) {
    memset(d, 0, sizeof *d);
    d->slot = -1;
    aca_out o = {.path = dir, .option = "output directory", .kind = kind, .mode = OUT_DIR_REPLACE, .replace = replace};
    char *canon = path_canonical(dir, e);
    if (!canon) return -1;
    char *parent = parent_of(canon);
    int rc = !strcmp(canon, "/") ? aca_errf(e, ACA_ERR_REFUSED, "%s: is the root directory", dir) : 0;
    if (!rc) rc = dir_state(&o, canon, e) < 0 ? -1 : 0;
    if (!rc) rc = dir_make(parent, e);
    aca_tmp t = {0};
    long other = 0;
    char their[NAME_MAX + 1];
    if (!rc) {
        tmp_sweep(parent, 0);
        if ((other = tmp_live_writer(canon, their, sizeof their)))
            rc = aca_errf(e, ACA_ERR_REFUSED,
                          "%s: another aca (process %ld) is writing this output now (its temporary %s is beside it): "
                          "wait for it to finish, or choose another path; if process %ld is no aca, remove %s",
                          dir, other, their, other, their);
    }
    if (!rc) dir_identity(canon, d->was), rc = tmp_create(&t, canon, 1, NULL, e);
    free(parent);
    if (rc) return free(canon), -1;
    d->given = xstrdup(dir), d->dir = canon, d->tmp = t.path, d->slot = t.slot, d->replace = replace;
    snprintf(d->kind, sizeof d->kind, "%s", kind);
    return 0;
}

static void outdir_release(aca_outdir *d) {
    free(d->given), free(d->dir), free(d->tmp);
    memset(d, 0, sizeof *d);
    d->slot = -1;
}

void outdir_abort(aca_outdir *d) {
    if (d->tmp) {
        aca_tmp t = {d->tmp, d->slot};
        tmp_remove(&t);
        d->tmp = NULL;
    }
    outdir_release(d);
}

// dir changed into something aca may not replace while the output was built: keep the new output
// under a name the sweep leaves alone.
static int keep_new(aca_outdir *d, aca_err *e) {
    char *kept = NULL;
    int ok = 0;
    for (int k = 0; k < 100 && !ok; k++) {
        free(kept);
        kept = xmalloc(strlen(d->dir) + 64);
        sprintf(kept, k ? "%s.aca-kept.%ld.%d" : "%s.aca-kept.%ld", d->dir, (long)getpid(), k);
        ok = renameat2(AT_FDCWD, d->tmp, AT_FDCWD, kept, RENAME_NOREPLACE) == 0;
    }
    aca_tmp t = {d->tmp, d->slot};
    if (ok) tmp_forget(&t);
    else tmp_remove(&t);
    d->tmp = NULL;
    if (ok) aca_err_prefix(e, "%s changed while aca worked (the new output is kept in %s)", d->given, kept);
    free(kept);
    return -1;
}

int outdir_commit(aca_outdir *d, aca_err *e) {
    if (outdir_mark(d->tmp, d->kind, e)) return outdir_abort(d), -1;
    aca_out o = {.path = d->given, .option = "output directory", .kind = d->kind, .mode = OUT_DIR_REPLACE,
                 .replace = d->replace};
    tmp_hold();
    int64_t now[2];
    dir_identity(d->dir, now);
    int st = now[0] != d->was[0] || now[1] != d->was[1]
                 ? aca_errf(e, ACA_ERR_REFUSED, "another process wrote it meanwhile (an aca with the same output?), "
                            "and the last to finish would replace the other's output unseen")
                 : dir_state(&o, d->dir, e),
        rc = 0;
    if (st < 0) {
        tmp_release();
        rc = keep_new(d, e);
        outdir_release(d);
        return rc;
    }
    aca_tmp t = {d->tmp, d->slot};
    if (rename(d->tmp, d->dir) == 0) { // dir was missing or empty
        tmp_forget(&t);
    } else if (errno != ENOTEMPTY && errno != EEXIST) {
        rc = aca_errf(e, ACA_ERR_IO, "%s: cannot rename into place: %s", d->given, strerror(errno));
    } else if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->dir, RENAME_EXCHANGE) == 0) {
        tmp_release(); // the old directory is now at t.path, still registered: remove it
        tmp_remove(&t);
        tmp_hold();
    } else { // a file system without RENAME_EXCHANGE: old aside, new in
        aca_tmp old;
        rc = tmp_create(&old, d->dir, 1, NULL, e);
        if (!rc && rename(d->dir, old.path) != 0)
            rc = aca_errf(e, ACA_ERR_IO, "%s: cannot move the old directory aside: %s", d->given, strerror(errno));
        else if (!rc && rename(d->tmp, d->dir) != 0) {
            rc = aca_errf(e, ACA_ERR_IO, "%s: cannot rename into place: %s", d->given, strerror(errno));
            rename(old.path, d->dir);
        }
        if (!rc) tmp_forget(&t);
        if (old.path) tmp_remove(&old);
    }
    tmp_release();
    if (rc) return outdir_abort(d), -1;
    d->tmp = NULL;
    outdir_release(d);
    return 0;
}

// An exclusive lock on the directory canon, held through a descriptor left open until the process
// ends (forked children share it); ACA_ERR_REFUSED when another process holds it.
static int lock_dir(const char *canon, const char *given, aca_err *e) {
    int fd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return aca_errf(e, ACA_ERR_IO, "%s: cannot open it to lock it: %s", given, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK)
        return aca_errf(e, ACA_ERR_REFUSED, "%s: another aca is writing into it now (it holds the directory's lock): wait "
                        "for it to finish, or choose another --out", given);
    return aca_errf(e, ACA_ERR_IO, "%s: cannot lock it: %s", given, strerror(err));
}

static int open_into(const char *dir, const char *kind, int replace, int lock, aca_err *e) {
    aca_out o = {.path = dir, .option = "--out", .kind = kind, .mode = OUT_DIR_INTO, .replace = replace};
    char *canon = path_canonical(dir, e);
    if (!canon) return -1;
    int st = dir_state(&o, canon, e), rc = st < 0 ? -1 : 0;
    const int existed = st == ST_OURS || st == ST_FOREIGN;
    if (!rc && lock && existed) rc = lock_dir(canon, dir, e); // before --replace moves it aside
    if (!rc && replace && existed) rc = remove_aside(canon, dir, e);
    if (!rc) rc = dir_make(canon, e);
    if (!rc && lock && (replace || !existed)) rc = lock_dir(canon, dir, e);
    if (!rc && !outdir_is(canon, kind)) rc = outdir_mark(canon, kind, e);
    if (!rc) tmp_sweep(canon, SWEEP_DEPTH);
    free(canon);
    return rc;
}

int outdir_open_into(const char *dir, const char *kind, int replace, aca_err *e) {
    return open_into(dir, kind, replace, 0, e);
}

int outdir_open_into_locked(const char *dir, const char *kind, int replace, aca_err *e) {
    return open_into(dir, kind, replace, 1, e);
}
