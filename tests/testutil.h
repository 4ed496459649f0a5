// Helpers shared by the cmocka tests: includes in the order cmocka needs, NaN-proof comparisons
// that name the worst element, and output poisoning.
#ifndef ACA_TESTUTIL_H
#define ACA_TESTUTIL_H

// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <math.h>
#include <stdio.h>
#include <string.h>

// Fills n floats with NaN so an op that skips writing an output is caught.
static inline void tu_poison_f32(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static inline double tu_maxabs_f64(const double *p, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(p[i]) > m ? fabs(p[i]) : m;
    return m;
}

// Fails unless every got[i] is finite and |got - ref| <= atol + rtol |ref| (a NaN fails).
// Prints the worst element (largest violation ratio) and the max abs difference.
static inline void tu_check_close(const char *what, const float *got, const double *ref, size_t n, double rtol,
                                  double atol) {
    size_t worst = 0, nbad = 0;
    double worst_ratio = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), lim = atol + rtol * fabs(ref[i]);
        int bad = !isfinite(got[i]) || !isfinite(ref[i]) || !(d <= lim);
        double ratio = !bad ? 0 : (isfinite(d) && lim > 0 ? d / lim : INFINITY);
        if (isfinite(d) && d > maxdiff) maxdiff = d;
        if (bad && (nbad++ == 0 || ratio > worst_ratio)) worst_ratio = ratio, worst = i;
    }
    if (nbad) {
        print_error("%s: %zu of %zu elements off (rtol %g atol %g); worst [%zu] got %.9g want %.9g; max|diff| %g\n", what,
                    nbad, n, rtol, atol, worst, (double)got[worst], ref[worst], maxdiff);
        fail();
    }
}

// Same for two float arrays that must be bit-identical.
static inline void tu_check_bits(const char *what, const float *a, const float *b, size_t n) {
    if (memcmp(a, b, n * sizeof(float))) {
        size_t i = 0;
        while (i < n && !memcmp(a + i, b + i, sizeof(float))) i++;
        print_error("%s: not bit-identical, first difference at [%zu]: %.9g vs %.9g\n", what, i, (double)a[i],
                    (double)b[i]);
        fail();
    }
}

// ---- files and errors (generic helpers for tests that touch the file system) -------------------
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/util.h"

// A fresh directory under $TMPDIR (or /tmp); remove it with tu_rm_rf.  Returns a malloc'd path.
static inline char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/aca-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        print_error("mkdtemp(%s) failed\n", tmpl);
        fail();
    }
    return xstrdup(tmpl);
}

static inline void tu_rm_rf(const char *path) { dir_remove_recursive(path); }

// dir/name into a malloc'd string.
static inline char *tu_path(const char *dir, const char *name) { return path_join(dir, name); }

static inline void tu_write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        print_error("cannot write test file %s\n", path);
        fail();
    }
}
static inline void tu_write_file(const char *path, const char *s) { tu_write_bytes(path, s, strlen(s)); }

// Whole file, NUL-terminated, malloc'd; *n gets the length (n may be NULL).  Fails the test if unreadable.
static inline char *tu_read_file(const char *path, size_t *n) {
    aca_buf b = {0};
    aca_err e = {0};
    if (file_read_all(path, &b, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    if (n) *n = b.len;
    return b.data;
}

// Entries in a directory other than . and .. (-1 when it cannot be opened).
static inline int tu_dir_count(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d))) k += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return k;
}

// Checks that a library call failed (non-zero return) with an aca_err whose message contains
// `substr`; prints the actual message when it does not.
static inline void tu_expect_err_(int rc, const aca_err *e, const char *substr, const char *expr, const char *file,
                                  int line) {
    if (rc == 0) {
        print_error("%s:%d: %s succeeded, expected an error containing '%s'\n", file, line, expr, substr);
        _fail(file, line);
    }
    if (!strstr(e->msg, substr)) {
        print_error("%s:%d: %s: error '%s' does not contain '%s'\n", file, line, expr, e->msg, substr);
        _fail(file, line);
    }
}
// TU_EXPECT_ERR(corpus_load(p, NULL, &c, &e), &e, "x.txt:3: malformed")
#define TU_EXPECT_ERR(call, errp, substr)                                                                            \
    do {                                                                                                             \
        memset((errp), 0, sizeof *(errp));                                                                           \
        tu_expect_err_((call), (errp), (substr), #call, __FILE__, __LINE__);                                          \
    } while (0)

// Fails the test with the error's message when a library call returns non-zero.
#define TU_OK(call, errp)                                                                                            \
    do {                                                                                                             \
        if ((call) != 0) {                                                                                           \
            print_error("%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (errp)->msg);                          \
            _fail(__FILE__, __LINE__);                                                                               \
        }                                                                                                            \
    } while (0)

// ---- the command line --------------------------------------------------------------------------
#include <sys/wait.h>

#include <libgen.h>
#include <limits.h>
#include <unistd.h>

// The aca of this test program's build: BUILD/aca beside BUILD/tests/test_x (build/aca, or
// build/san/aca for a sanitizer build of the test).  Fails the test when it is missing.
static inline void tu_aca_path(char *out, size_t cap) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(k > 0);
    exe[k] = 0;
    snprintf(out, cap, "%s/aca", dirname(dirname(exe)));
    if (!file_exists(out)) {
        print_error("%s not found (make builds it before the tests)\n", out);
        fail();
    }
}

// Runs `BUILD/aca ARGS` (tu_aca_path) from the repo root (stderr merged into out); returns the exit status.
static inline int tu_run_cli(const char *args, char *out, size_t cap) {
    char aca[PATH_MAX];
    tu_aca_path(aca, sizeof aca);
    size_t m = strlen(args) + strlen(aca) + 32;
    char *cmd = xmalloc(m);
    snprintf(cmd, m, "'%s' %s 2>&1", aca, args);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Fails unless `BUILD/aca ARGS` exits non-zero (want_fail) or zero, with `needle` in its output.
static inline void tu_expect_cli(const char *args, int want_fail, const char *needle) {
    static char out[1 << 16];
    int rc = tu_run_cli(args, out, sizeof out);
    if ((want_fail ? rc == 0 : rc != 0) || !strstr(out, needle)) {
        print_error("aca %s\n  rc %d, output:\n%s\n  expected %s exit and '%s'\n", args, rc, out,
                    want_fail ? "non-zero" : "zero", needle);
        fail();
    }
}

#endif
