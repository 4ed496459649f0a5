// tmp: the registry of live temporaries, their creation, removal and sweep, and the signal
// handlers that remove them (see include/aca/tmp.h and README "Guarantees").
#include "aca/tmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/fileio.h"
#include "aca/log.h"
#include "aca/mem.h"

#define TMP_SLOTS 64

// ---- the registry of live temporaries ----------------------------------------------------------
// A slot is written only inside tmp_hold/tmp_release; the signal handler reads the slots only after
// it took the hold counter from 0 to DYING, so it never sees a slot half-written.
enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };
typedef struct {
    _Atomic int state;
    pid_t owner; // the process that created it (a forked child never removes its parent's)
    char path[PATH_MAX];
} tmp_slot;

static tmp_slot g_slot[TMP_SLOTS];
#define HOLD_DYING (INT_MIN / 2)
static _Atomic int g_hold;              // > 0: critical sections open; < 0: a handler is exiting
static volatile sig_atomic_t g_pending; // a signal that arrived inside a critical section
static pid_t g_main_pid;                // the process that installed the handlers (prints the line)
static char g_what[64];
static int g_tty;
static char g_host[65];

static const char *host_tag(void) {
    if (g_host[0]) return g_host;
    char h[256] = {0};
    if (gethostname(h, sizeof h - 1) != 0 || !h[0]) snprintf(h, sizeof h, "unknown");
    char t[65];
    size_t k = 0;
    for (const char *s = h; *s && k < 64; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        t[k++] = ok ? c : '_';
    }
    t[k] = 0;
    memcpy(g_host, t, k + 1);
    return g_host;
}

void tmp_hold(void) {
    if (atomic_fetch_add(&g_hold, 1) < 0)
        for (;;) pause(); // another thread is removing the temporaries and exiting the process
}

static _Noreturn void die(int signo);

void tmp_release(void) {
    if (atomic_fetch_sub(&g_hold, 1) == 1 && g_pending) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&g_hold, &zero, HOLD_DYING)) die(g_pending);
    }
}

static int slot_add(const char *path) {
    if (strlen(path) >= PATH_MAX) return -1;
    int k = -1;
    tmp_hold();
    for (int i = 0; i < TMP_SLOTS && k < 0; i++) {
        int f = SLOT_FREE;
        if (atomic_compare_exchange_strong(&g_slot[i].state, &f, SLOT_BUSY)) k = i;
    }
    if (k >= 0) {
        g_slot[k].owner = getpid();
        memcpy(g_slot[k].path, path, strlen(path) + 1);
        atomic_store(&g_slot[k].state, SLOT_LIVE);
    }
    tmp_release();
    return k;
}

static void slot_drop(int k) {
    if (k < 0) return;
    tmp_hold();
    atomic_store(&g_slot[k].state, SLOT_FREE);
    tmp_release();
}

// ---- removal (async-signal-safe: openat, getdents64, unlinkat, close) -------------------------
static int rm_at(int dfd, const char *name, int depth) {
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
    if ((errno != EISDIR && errno != EPERM) || depth > 32) return -1;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    for (int pass = 0, any = 1; any && pass < 4; pass++) { // again after removals, as readdir may skip
        any = 0;
        lseek(fd, 0, SEEK_SET);
        union {
            char c[2048];
            struct dirent64 align;
        } buf;
        ssize_t n;
        while ((n = getdents64(fd, buf.c, sizeof buf.c)) > 0)
            for (ssize_t off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf.c + off);
                off += d->d_reclen;
                if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
                any = 1;
                rm_at(fd, d->d_name, depth + 1);
            }
    }
    close(fd);
    return unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int tmp_rm_tree(const char *path) { return rm_at(AT_FDCWD, path, 0); }

// Removes this process's live temporaries; returns how many.
static int remove_own(void) {
    int n = 0;
    pid_t me = getpid();
    for (int i = 0; i < TMP_SLOTS; i++)
        if (atomic_load(&g_slot[i].state) == SLOT_LIVE && g_slot[i].owner == me) {
            if (rm_at(AT_FDCWD, g_slot[i].path, 0) == 0) n++;
            atomic_store(&g_slot[i].state, SLOT_FREE);
        }
    return n;
}

// ---- signals -----------------------------------------------------------------------------------
static void put(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

static void put_num(long v) {
    char d[24];
    int k = (int)sizeof d;
    d[--k] = 0;
    do d[--k] = (char)('0' + v % 10), v /= 10;
    while (v && k > 0);
    put(d + k);
}

static _Noreturn void die(int signo) {
    int n = remove_own();
    if (getpid() == g_main_pid) {
        const char *name = signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : signo == SIGHUP ? "SIGHUP" : "a signal";
        put(g_tty ? "\naca: " : "aca: ");
        put(g_what);
        put(" interrupted by ");
        put(name);
        if (n) {
            put("; removed ");
            put_num(n);
            put(n == 1 ? " temporary" : " temporaries");
        }
        put("; exit ");
        put_num(128 + signo);
        put("\n");
    }
    _exit(128 + signo);
}

static void on_signal(int signo) {
    if (!g_pending) g_pending = signo;
    int zero = 0;
    if (atomic_compare_exchange_strong(&g_hold, &zero, HOLD_DYING)) die(g_pending);
    // else: inside a critical section (the last tmp_release exits) or another thread is exiting
}

static void on_exit_hook(void) {
    int zero = 0;
    if (!atomic_compare_exchange_strong(&g_hold, &zero, HOLD_DYING)) return;
    remove_own();
    atomic_store(&g_hold, 0); // later exit handlers may still write (and hold) normally
}

static void on_fork_child(void) {
    atomic_store(&g_hold, 0); // only the forking thread lives on, outside any critical section
    g_pending = 0;
}

void tmp_signals_install(const char *what) {
    snprintf(g_what, sizeof g_what, "%s", what ? what : "aca");
    g_main_pid = getpid();
    g_tty = isatty(2);
    host_tag();
    static int once;
    if (!once++) {
        atexit(on_exit_hook);
        pthread_atfork(NULL, NULL, on_fork_child);
    }
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < ACA_ARRAY_LEN(sigs); i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue; // nohup, `cmd &`
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < ACA_ARRAY_LEN(sigs); k++) sigaddset(&sa.sa_mask, sigs[k]);
        sigaction(sigs[i], &sa, NULL);
    }
}

// ---- temporaries -------------------------------------------------------------------------------
// final_path + ".aca-tmp.<host>.<pid>.<n>", the final name cut so the name fits NAME_MAX.
static char *tmp_name(const char *final_path, unsigned n) {
    char suffix[128];
    snprintf(suffix, sizeof suffix, TMP_TAG "%s.%ld.%u", host_tag(), (long)getpid(), n);
    const char *slash = strrchr(final_path, '/');
    size_t base = strlen(slash ? slash + 1 : final_path), dir = strlen(final_path) - base;
    size_t keep = base + strlen(suffix) > NAME_MAX ? NAME_MAX - strlen(suffix) : base;
    char *p = xmalloc(dir + keep + strlen(suffix) + 1);
    memcpy(p, final_path, dir + keep);
    strcpy(p + dir + keep, suffix);
    return p;
}

int tmp_create(aca_tmp *t, const char *final_path, int is_dir, int *fd, aca_err *e) {
    static _Atomic unsigned seq;
    t->path = NULL, t->slot = -1;
    for (int tries = 0; tries < 1000; tries++) {
        char *p = tmp_name(final_path, atomic_fetch_add(&seq, 1));
        tmp_hold(); // a signal between creating and registering would leave it behind
        int rc = is_dir ? mkdir(p, 0777) : (*fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
        int err = errno;
        if (rc >= 0) t->slot = slot_add(p);
        tmp_release();
        if (rc >= 0) {
            t->path = p;
            return 0;
        }
        free(p);
        if (err != EEXIST)
            return aca_errf(e, ACA_ERR_IO, "%s: cannot create a temporary %s beside it: %s", final_path,
                            is_dir ? "directory" : "file", strerror(err));
    }
    return aca_errf(e, ACA_ERR_IO, "%s: cannot find a free temporary name beside it", final_path);
}

void tmp_forget(aca_tmp *t) {
    slot_drop(t->slot);
    free(t->path);
    t->path = NULL, t->slot = -1;
}

void tmp_remove(aca_tmp *t) {
    if (t->path) tmp_rm_tree(t->path);
    tmp_forget(t);
}

static int all_digits(const char *s, size_t n) {
    if (n < 1 || n > 10) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

int tmp_name_parse(const char *name, long *pid, int *this_host) {
    const char *tag = NULL;
    for (const char *s = strstr(name, TMP_TAG); s; s = strstr(s + 1, TMP_TAG)) tag = s;
    if (!tag || tag == name) return 0;
    const char *h = tag + strlen(TMP_TAG), *d1 = strchr(h, '.');
    if (!d1 || d1 == h) return 0;
    for (const char *c = h; c < d1; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return 0;
    const char *d2 = strchr(d1 + 1, '.');
    if (!d2 || !all_digits(d1 + 1, (size_t)(d2 - d1 - 1)) || !all_digits(d2 + 1, strlen(d2 + 1))) return 0;
    *pid = strtol(d1 + 1, NULL, 10);
    *this_host = (size_t)(d1 - h) == strlen(host_tag()) && !strncmp(h, host_tag(), (size_t)(d1 - h));
    return *pid > 0 && *pid <= INT_MAX;
}

static int pid_alive(long pid) { return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM; }

int tmp_sweep(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        long pid;
        int here;
        char *p = path_join(dir, de->d_name);
        struct stat st;
        if (tmp_name_parse(de->d_name, &pid, &here)) {
            if (here && !pid_alive(pid) && tmp_rm_tree(p) == 0) n++;
        } else if (depth > 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            n += tmp_sweep(p, depth - 1);
        }
        free(p);
    }
    closedir(d);
    if (n) log_verbose("%s: removed %d temporaries left by processes that are gone", dir, n);
    return n;
}
