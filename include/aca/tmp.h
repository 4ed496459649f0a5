// tmp: aca's temporaries and the signals that remove them (README "Guarantees").
//
// Temporaries are named <final name>.aca-tmp.<host>.<pid>.<n> beside their final path, created
// exclusively (O_EXCL / mkdir: never an existing path), registered while they live, and removed on
// failure, on SIGINT, SIGTERM or SIGHUP (tmp_signals_install), at exit, and by a later command's
// sweep (tmp_sweep) once their process is gone: same host, process id not alive.  Files written
// whole (atomic_file.h) and directory outputs (outdir.h) are built under them.
#ifndef ACA_TMP_H
#define ACA_TMP_H

#include "aca/err.h"

// ---- temporaries -------------------------------------------------------------------------------
#define TMP_TAG ".aca-tmp." // the part of a temporary's name that marks it

typedef struct {
    char *path; // malloc'd; NULL when none
    int slot;   // registry slot, -1 when the registry was full (then only the sweep removes it)
} aca_tmp;

// Creates a new temporary beside final_path: a file opened for writing (*fd) or an empty
// directory (is_dir; fd may be NULL).  Never reuses an existing path.
int tmp_create(aca_tmp *t, const char *final_path, int is_dir, int *fd, aca_err *e);
// The temporary was renamed into place (or handed on): forget it.
void tmp_forget(aca_tmp *t);
// Removes the temporary (recursively for a directory) and forgets it.
void tmp_remove(aca_tmp *t);
// 1 when name (a file name, no '/') is an aca temporary: <x>.aca-tmp.<host>.<pid>.<n>; fills the
// process id and whether host is this host.
int tmp_name_parse(const char *name, long *pid, int *this_host);
// Removes, in dir and (depth > 0) its subdirectories down to depth levels, every aca temporary of
// this host whose process is gone.  Never follows symlinks.  Returns how many it removed.
int tmp_sweep(const char *dir, int depth);
// Removes path recursively without following symlinks (async-signal-safe); 0 ok.
int tmp_rm_tree(const char *path);

// ---- signals -----------------------------------------------------------------------------------
// Installs the handlers of SIGINT, SIGTERM and SIGHUP (not where the signal is ignored, e.g.
// under nohup) and an exit hook: the live temporaries of this process are removed, the process
// that installed them prints "aca: <what> interrupted by SIG...; ..." and every process (forked
// children too, silently) exits with 128 + the signal number.
void tmp_signals_install(const char *what);
// A critical section: a signal arriving inside it takes effect at its end (nestable, any thread).
void tmp_hold(void);
void tmp_release(void);

#endif
