// The golden test of the experiment layer (tests/golden/README.md): mini versions of the six
// grids/fig3-small presets and of grids/three-collectives.json (tests/golden/grids/) run through
// build/aca grid, and every manifest, spec, result record, results.jsonl, summary.csv, figure data
// file and bundle file they write is compared, normalised by tests/golden/golden, with
// tests/golden/mini.golden (captured by tests/golden/capture.sh from main before the redesign).  A
// second test shows that the comparison fails, naming the cell and the field, when one metric, one
// manifest byte, one seed or one cell changes.
#include "testutil.h"

#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>

#define GOLDEN_FILE "tests/golden/mini.golden"
#define GRID_DIR "tests/golden/grids"

static const char *const k_grids[] = {"braces-diff-chars-same-target", "braces-diff-targets-diff-chars",
                                      "braces-same-char-diff-targets", "u2e17-diff-chars-same-target",
                                      "u2e17-diff-targets-diff-chars", "u2e17-same-char-diff-targets",
                                      "three-collectives"}; // the last: pair cells, for the exception (README)

typedef struct {
    char aca[PATH_MAX], golden[PATH_MAX];
    char *tmp;
} golden_env;

static golden_env g_env; // the programs and the grids' outputs, shared by the tests below

// build/aca and build/tests/golden/golden beside this program (build/tests/test_golden).
static void find_programs(golden_env *env) {
    tu_aca_path(env->aca, sizeof env->aca);
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(k > 0);
    exe[k] = 0;
    snprintf(env->golden, sizeof env->golden, "%s/golden/golden", dirname(exe));
    if (!file_exists(env->golden)) {
        print_error("%s not found (make test builds it)\n", env->golden);
        fail();
    }
}

// Runs argv with its output into out (cap bytes); returns the exit status (-1 on a signal).
static int run_capture(char *const argv[], char *out, size_t cap) {
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1), dup2(fd[1], 2);
        close(fd[0]), close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    for (ssize_t r; (r = read(fd[0], out + n, cap - 1 - n)) > 0 && n + (size_t)r < cap - 1;) n += (size_t)r;
    out[n] = 0;
    char sink[4096];
    while (read(fd[0], sink, sizeof sink) > 0) {}
    close(fd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int compare(const char *label, const char *out_dir, char *msg, size_t cap) {
    char *argv[] = {g_env.golden, "compare", GOLDEN_FILE, (char *)label, (char *)out_dir, NULL};
    return run_capture(argv, msg, cap);
}

static int setup(void **st) {
    (void)st;
    if (!file_exists(GOLDEN_FILE)) {
        fprintf(stderr, "%s not found: run the tests from the repository root\n", GOLDEN_FILE);
        return -1;
    }
    find_programs(&g_env);
    g_env.tmp = tu_tmpdir();
    return 0;
}

static int teardown(void **st) {
    (void)st;
    tu_rm_rf(g_env.tmp);
    free(g_env.tmp);
    return 0;
}

// Each mini grid, run from scratch, matches the golden byte for byte (after normalisation).
static void test_mini_grids_match_golden(void **st) {
    (void)st;
    static char msg[1 << 16];
    int failed = 0;
    for (size_t k = 0; k < ACA_ARRAY_LEN(k_grids); k++) {
        char preset[PATH_MAX], *out = tu_path(g_env.tmp, k_grids[k]);
        snprintf(preset, sizeof preset, "%s/%s.json", GRID_DIR, k_grids[k]);
        char *argv[] = {g_env.aca, "grid", preset, "--out", out, "--quiet", NULL};
        int rc = run_capture(argv, msg, sizeof msg);
        if (rc != 0) {
            print_error("aca grid %s --out %s: exit %d\n%s\n", preset, out, rc, msg);
            fail();
        }
        rc = compare(k_grids[k], out, msg, sizeof msg);
        if (rc != 0) fprintf(stderr, "%s", msg); // print_error would cut it
        failed |= rc != 0;
        free(out);
    }
    if (failed) {
        print_error("the mini grids differ from %s (above: grid, file, field, golden and new value).  A deliberate "
                    "change re-captures it: tests/golden/capture.sh (see tests/golden/README.md)\n", GOLDEN_FILE);
        fail();
    }
}

// Replaces the first occurrence of from in the file by to.
static void file_replace(const char *path, const char *from, const char *to) {
    size_t n;
    char *s = tu_read_file(path, &n), *at = strstr(s, from);
    assert_non_null(at);
    aca_buf b = {0};
    buf_append(&b, s, (size_t)(at - s));
    buf_puts(&b, to);
    buf_puts(&b, at + strlen(from));
    tu_write_bytes(path, b.data, b.len);
    buf_free(&b);
    free(s);
}

// One change to one file of OUT: the comparison fails naming it (needle), and passes once it is undone.
typedef struct {
    const char *file, *from, *to, *needle;
} golden_change;

static void expect_caught(const char *label, const char *out, const golden_change *c) {
    static char msg[1 << 16];
    char *path = tu_path(out, c->file), *saved = tu_read_file(path, NULL);
    file_replace(path, c->from, c->to);
    int rc = compare(label, out, msg, sizeof msg);
    tu_write_file(path, saved);
    if (rc != 1 || !strstr(msg, c->needle)) {
        print_error("%s: '%s' -> '%s': golden compare exit %d (want 1) and '%s' in:\n%s\n", c->file, c->from, c->to, rc,
                    c->needle, msg);
        fail();
    }
    assert_int_equal(compare(label, out, msg, sizeof msg), 0);
    free(path), free(saved);
}

// The comparison is not blind: one metric, an added field, one seed, one manifest byte, a missing cell
// each fail it, named by cell and field.
static void test_changes_are_caught(void **st) {
    (void)st;
    static const golden_change changes[] = {
        {"cells/alone-A0=0.15-t0/result.json", "\"correct\":", "\"correct\":1",
         "cells/alone-A0=0.15-t0/result.json: result.metrics.correct: golden "},
        {"cells/alone-A0=0.15-t0/result.json", "\"train\":{\"steps\"", "\"train\":{\"steps\":0,\"x\"",
         "result.train.x: golden (absent)"},
        {"cells/alone-A0=0.15-t0/result.json", "\"seeds\":{\"data\":", "\"seeds\":{\"data\":1", "result.seeds.data: golden "},
        {"cells/none-t0/manifest.json", "\"n_train\": ", "\"n_train\":  ", "cells/none-t0/manifest.json: L"},
    };
    const char *label = k_grids[1];
    char *out = tu_path(g_env.tmp, label);
    static char msg[1 << 16];
    if (compare(label, out, msg, sizeof msg) != 0) { // the first test left it as run
        print_error("%s differs from the golden already (the first test says how): nothing to perturb\n", label);
        fail();
    }
    for (size_t k = 0; k < ACA_ARRAY_LEN(changes); k++) expect_caught(label, out, &changes[k]);

    char *cell = tu_path(out, "cells/joint-A0=0.05-B1=0.05-t0"), *moved = tu_path(g_env.tmp, "moved-cell");
    assert_int_equal(rename(cell, moved), 0);
    int rc = compare(label, out, msg, sizeof msg);
    assert_int_equal(rename(moved, cell), 0);
    if (rc != 1 || !strstr(msg, "cells/joint-A0=0.05-B1=0.05-t0/result.json: (file): golden present")) {
        print_error("a hidden cell: golden compare exit %d (want 1), output:\n%s\n", rc, msg);
        fail();
    }
    free(cell), free(moved), free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mini_grids_match_golden),
        cmocka_unit_test(test_changes_are_caught),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
