// What aca writes and never deletes (README "Guarantees"), through the binary (build/aca, or
// build/san/aca beside a sanitizer build of this test): an output that is or holds an input is
// refused before any work; an existing directory is replaced only when it is an aca output of the
// same kind (or --replace); files likewise; temporaries are unique, swept once their process is
// gone and removed on SIGINT/SIGTERM, in forked children too; exit statuses by error kind.
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

#include "aca/corpus.h"
#include "aca/datadir.h"
#include "aca/outdir.h"

static char g_aca[PATH_MAX];
static char *g_dir;    // fixture: corpus c/corpus.txt (+ c/notes.txt), spec.json, data dir d/
static char g_out[1 << 16];

#define GRID "{\"name\": \"g\", \"seed\": 1, \"corpus\": {\"synthetic\": 200, \"seed\": 5}, \"split\": {\"train\": 160," \
             " \"test\": 40}, \"model\": {\"config\": \"cfg.json\", \"vocab\": \"vocab.txt\"}, \"train\": {\"epochs\": 1," \
             " \"max_len\": 16}, \"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"{\"}]," \
             " \"levels\": [0.1]}"
#define SPEC "{\"seed\": 1, \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"{\", \"size\": 0.05}]}"
#define CFG "models/configs/distilbert-tiny.json"
#define VOCAB "models/vocab/bert-base-uncased.txt"

// `cd g_dir/SUB && aca ARGS` (stderr merged into g_out unless ARGS redirect it); the exit status
// (128 + n when the shell reports a signal).
static int vaca(const char *sub, const char *fmt, va_list ap) {
    char args[8192], cmd[16384];
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(cmd, sizeof cmd, "cd '%s/%s' && '%s' %s%s", g_dir, sub, g_aca, args, strstr(args, "2>") ? "" : " 2>&1");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(g_out, 1, sizeof g_out - 1, p);
    g_out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int aca(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int aca(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vaca(".", fmt, ap);
    va_end(ap);
    return rc;
}

static int aca_in(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int aca_in(const char *sub, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vaca(sub, fmt, ap);
    va_end(ap);
    return rc;
}

static void expect(int rc, int want, const char *needle) {
    if (rc != want || (needle && !strstr(g_out, needle))) {
        print_error("exit %d (want %d), output:\n%s\nexpected '%s'\n", rc, want, g_out, needle ? needle : "");
        fail();
    }
}

static char *at(const char *rel) { return tu_path(g_dir, rel); }

// g_dir/rel in one of a few static buffers (for a call's argument).
static const char *P(const char *rel) {
    static char ring[4][PATH_MAX];
    static int k;
    char *b = ring[k++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", g_dir, rel);
    return b;
}

static void put(const char *rel, const char *text) {
    char *p = at(rel);
    tu_write_file(p, text);
    free(p);
}

static int exists(const char *rel) {
    char *p = at(rel);
    struct stat st;
    int ok = lstat(p, &st) == 0;
    free(p);
    return ok;
}

static int same(const char *rel, const char *text) {
    char *p = at(rel);
    aca_buf b = {0};
    aca_err e;
    int ok = file_read_all(p, &b, &e) == 0 && !strcmp(b.data, text);
    buf_free(&b);
    free(p);
    return ok;
}

// No aca temporary anywhere under dir (any host, any process; also the old NAME.tmp.PID kind).
static void no_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (strstr(de->d_name, ".aca-tmp.") || strstr(de->d_name, ".tmp."))
            fail_msg("temporary %s/%s left behind", dir, de->d_name);
        char *p = path_join(dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) no_temporaries(p);
        free(p);
    }
    closedir(d);
}

static char g_corpus_text[1 << 20];

static int setup(void **state) {
    (void)state;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return -1;
    exe[k] = 0;
    snprintf(g_aca, sizeof g_aca, "%s/aca", dirname(dirname(exe)));
    if (!file_exists(g_aca) || !file_exists(CFG)) return -1; // run from the repo root after make
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    g_dir = tu_tmpdir();
    aca_err e = {0};
    char *c = at("c"), *corpus = at("c/corpus.txt"), *cfg = at("cfg.json"), *vocab = at("vocab.txt");
    if (dir_make(c, &e) || corpus_synth_write(corpus, 200, 3, &e)) return -1;
    aca_buf b = {0};
    if (file_read_all(corpus, &b, &e) || b.len >= sizeof g_corpus_text) return -1;
    memcpy(g_corpus_text, b.data, b.len + 1);
    buf_free(&b);
    put("c/notes.txt", "the user's notes\n");
    put("spec.json", SPEC);
    char src[PATH_MAX + 64];
    snprintf(src, sizeof src, "%s/" CFG, cwd);
    if (symlink(src, cfg)) return -1;
    snprintf(src, sizeof src, "%s/" VOCAB, cwd);
    if (symlink(src, vocab)) return -1;
    free(c), free(corpus), free(cfg), free(vocab);
    return aca("mutate --corpus c/corpus.txt --spec spec.json --out d --quiet") == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

static void corpus_intact(void) {
    if (!same("c/corpus.txt", g_corpus_text) || !same("c/notes.txt", "the user's notes\n"))
        fail_msg("the corpus directory c/ was changed");
    if (!exists("d/train.jsonl") || !exists("spec.json")) fail_msg("an input was deleted");
}

// ---- 12.1: an output that is or holds an input -------------------------------------------------
static void test_out_is_or_holds_input(void **st) {
    (void)st;
    assert_int_equal(symlink("c", P("lnk")), 0);
    assert_int_equal(link(P("c/corpus.txt"), P("hard.txt")), 0);
    const char *outs[] = {"c", "c/", "./c/../c", ".", "lnk", "lnk/.", "c/corpus.txt", "hard.txt", "spec.json", "d/.."};
    for (size_t i = 0; i < ACA_ARRAY_LEN(outs); i++) {
        int rc = aca("mutate --corpus c/corpus.txt --spec spec.json --out '%s'", outs[i]);
        if (rc != ACA_EXIT_REFUSED || !strstr(g_out, outs[i]) || (!strstr(g_out, "input c/corpus.txt") &&
                                                                  !strstr(g_out, "input spec.json")))
            fail_msg("--out %s: exit %d, output:\n%s", outs[i], rc, g_out);
        corpus_intact();
    }
    // --replace never allows it; the corpus given twice (as the class list too) changes nothing.
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out c --replace"), ACA_EXIT_REFUSED, "holds the input");
    expect(aca("mutate --corpus c/corpus.txt --classes c/corpus.txt --spec spec.json --out c"), ACA_EXIT_REFUSED,
           "holds the input c/corpus.txt");
    corpus_intact();
    // train: --out the data, its parent, the model it starts from (a config here) and the cwd.
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out d --epochs 1"), ACA_EXIT_REFUSED, "is the input d");
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out . --epochs 1"), ACA_EXIT_REFUSED, "holds the input d");
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out d/.. --replace --epochs 1"), ACA_EXIT_REFUSED,
           "holds the input");
    assert_null(strstr(g_out, "training documents")); // refused before any work
    corpus_intact();
    // Other commands' outputs.
    put("in.jsonl", "{\"text\": \"a b\", \"label\": \"x\"}\n");
    expect(aca("tokenize --vocab vocab.txt --in in.jsonl --out in.jsonl"), ACA_EXIT_REFUSED, "is the input in.jsonl");
    assert_true(same("in.jsonl", "{\"text\": \"a b\", \"label\": \"x\"}\n"));
    expect(aca("plan spec.json --plot spec.json --replace"), ACA_EXIT_REFUSED, "is the input spec.json");
    expect(aca("run spec.json --corpus c/corpus.txt --out c --epochs 1"), ACA_EXIT_REFUSED, "holds the input");
    expect(aca("run spec.json --corpus c/corpus.txt --out r --results spec.json"), ACA_EXIT_REFUSED, "is the input spec.json");
    assert_false(exists("r"));
    corpus_intact();
    assert_true(same("spec.json", SPEC));
    // Inside an input, --replace does not apply; the working directory and "" are never outputs.
    char *sub = at("d/sub");
    assert_int_equal(mkdir(sub, 0777), 0);
    put("d/sub/f.txt", "f\n");
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out d/sub --replace --epochs 1"), ACA_EXIT_REFUSED,
           "inside the input d");
    assert_true(same("d/sub/f.txt", "f\n"));
    tu_rm_rf(sub);
    char *w = at("w");
    assert_int_equal(mkdir(w, 0777), 0);
    expect(aca_in("w", "mutate --corpus ../c/corpus.txt --spec ../spec.json --out . --replace"), ACA_EXIT_REFUSED,
           "is the working directory");
    expect(aca_in("w", "mutate --corpus ../c/corpus.txt --spec ../spec.json --out ''"), ACA_EXIT_VALUE, "empty path");
    // A name the sweep would take for a temporary is not an output.
    expect(aca_in("w", "mutate --corpus ../c/corpus.txt --spec ../spec.json --out x.aca-tmp.h.1.0"), ACA_EXIT_VALUE,
           "aca's temporaries");
    assert_int_equal(tu_dir_count(w), 0);
    rmdir(w);
    no_temporaries(g_dir);
    free(sub), free(w);
    unlink(P("lnk")), unlink(P("hard.txt")), unlink(P("in.jsonl"));
}

// An output inside an input directory is allowed: the input stays.
static void test_out_inside_input(void **st) {
    (void)st;
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out c/data --quiet"), 0, NULL);
    assert_true(exists("c/data/train.jsonl") && exists("c/data/" OUT_MARKER));
    corpus_intact();
    char *p = at("c/data");
    tu_rm_rf(p);
    free(p);
}

// ---- 12.1: an existing output that aca did not write -------------------------------------------
static void test_existing_output(void **st) {
    (void)st;
    char *o = at("o");
    assert_int_equal(mkdir(o, 0777), 0);
    put("o/mine.txt", "not aca's\n");
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out o"), ACA_EXIT_REFUSED, "is not an aca mutate output");
    assert_true(same("o/mine.txt", "not aca's\n"));
    // --replace replaces it; then it is aca's and a second run replaces it without asking.
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out o --replace --quiet"), 0, NULL);
    assert_false(exists("o/mine.txt"));
    assert_true(exists("o/train.jsonl") && exists("o/" OUT_MARKER));
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out o --quiet"), 0, NULL);
    // An output of another kind is not replaced without --replace.
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out o --epochs 1"), ACA_EXIT_REFUSED,
           "is an aca mutate output, not an aca model output");
    assert_true(exists("o/train.jsonl"));
    // An existing empty directory is fine; an existing file where a directory goes is refused.
    char *e1 = at("empty");
    assert_int_equal(mkdir(e1, 0777), 0);
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out empty --quiet"), 0, NULL);
    put("afile", "x\n");
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out afile --replace"), ACA_EXIT_REFUSED, "not a directory");
    assert_true(same("afile", "x\n"));
    // run and grid keep their own directories: refused when another's.
    expect(aca("run spec.json --corpus c/corpus.txt --out c/.. --epochs 1"), ACA_EXIT_REFUSED, NULL);
    put("o2.txt", "");
    char *o3 = at("o3");
    assert_int_equal(mkdir(o3, 0777), 0);
    put("o3/keep.txt", "k\n");
    put("g.json", GRID);
    expect(aca("grid g.json --out o3"), ACA_EXIT_REFUSED, "delete it yourself to start over");
    assert_true(same("o3/keep.txt", "k\n"));
    // Files: a corpus is not written over a file aca cannot tell is its own, unless --replace.
    put("user.txt", "user text\n");
    expect(aca("corpus synth --out user.txt --docs 20"), ACA_EXIT_REFUSED, "--replace");
    assert_true(same("user.txt", "user text\n"));
    assert_int_equal(symlink("user.txt", P("ulink")), 0);
    expect(aca("corpus synth --out ulink --docs 20 --replace"), 0, "wrote");
    struct stat sb;
    assert_int_equal(lstat(P("ulink"), &sb), 0);
    assert_true(S_ISLNK(sb.st_mode)); // the link stays, its target is written
    assert_false(same("user.txt", "user text\n"));
    // A Slurm script over the grid file itself is refused.
    expect(aca("grid g.json --out o4 --emit-slurm g.json --replace"), ACA_EXIT_REFUSED, "is the input g.json");
    assert_true(same("g.json", GRID));
    // Its own Slurm script is rewritten; another file is not.
    expect(aca("grid g.json --out o4 --emit-slurm run.sbatch"), 0, "wrote run.sbatch");
    expect(aca("grid g.json --out o4 --emit-slurm run.sbatch"), 0, "wrote run.sbatch");
    assert_true(exists("o4/" OUT_MARKER));
    expect(aca("grid g.json --out o4 --emit-slurm user.txt"), ACA_EXIT_REFUSED, "not a Slurm script that aca wrote");
    no_temporaries(g_dir);
    free(o), free(e1), free(o3);
}

// ---- 12.12: outputs checked before the first step ----------------------------------------------
static void test_train_checks_out_first(void **st) {
    (void)st;
    put("plain", "a file\n");
    double t0 = time_now();
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out plain/model --epochs 1 --max-len 16"),
           ACA_EXIT_IO, "plain is not a directory");
    assert_null(strstr(g_out, "trained"));
    assert_null(strstr(g_out, "training documents"));
    print_message("refused in %.2f s\n", time_now() - t0);
    // OUT.ckpt of the user's is never removed; the temporary model directory exists during training.
    char *ck = at("m.ckpt");
    assert_int_equal(mkdir(ck, 0777), 0);
    put("m.ckpt/keep.txt", "k\n");
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out m --epochs 1 --max-len 16 --quiet"), 0, "wrote m");
    assert_true(same("m.ckpt/keep.txt", "k\n"));
    assert_true(exists("m/model.safetensors") && exists("m/" OUT_MARKER));
    no_temporaries(g_dir);
    free(ck);
}

// ---- 12.11: temporaries -----------------------------------------------------------------------
// A child that creates temporaries and dies without cleaning up (as under kill -9).
static pid_t dead_child_with_temporaries(const char *final_dir) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aca_tmp t, f;
        aca_err e;
        int fd;
        if (tmp_create(&t, final_dir, 1, NULL, &e)) _exit(1);
        char *inner = path_join(t.path, "train.jsonl");
        if (tmp_create(&f, inner, 0, &fd, &e) || write(fd, "x", 1) != 1) _exit(1);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return pid;
}

static int count_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) n += strstr(de->d_name, ".aca-tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_sweep(void **st) {
    (void)st;
    char *out = at("sw"), *legacy = at("sw.tmp.12345"), *other = NULL;
    pid_t dead = dead_child_with_temporaries(out);
    assert_int_equal(count_temporaries(g_dir), 1);
    // The same temporary on another host, one of a live process (this test; of another output: one of
    // this output would stop the mutate, test_concurrent_outputs), and a name that only looks like an
    // old aca temporary: all three stay.
    DIR *d = opendir(g_dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".aca-tmp.")) {
            long pid;
            int here;
            assert_true(tmp_name_parse(de->d_name, &pid, &here) && here && pid == dead);
            char name[512];
            snprintf(name, sizeof name, "sw.aca-tmp.otherhost.%ld.0", pid);
            other = at(name);
            assert_int_equal(mkdir(other, 0777), 0);
        }
    closedir(d);
    aca_tmp live;
    aca_err e;
    char *out2 = at("sw2");
    TU_OK(tmp_create(&live, out2, 1, NULL, &e), &e);
    free(out2);
    assert_int_equal(mkdir(legacy, 0777), 0);
    assert_int_equal(count_temporaries(g_dir), 3);
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out sw --quiet"), 0, NULL);
    assert_int_equal(count_temporaries(g_dir), 2); // the dead one is gone
    assert_true(file_exists(other) && file_exists(live.path) && file_exists(legacy));
    tmp_remove(&live);
    rmdir(other), rmdir(legacy);
    tu_rm_rf(out);
    no_temporaries(g_dir);
    free(out), free(legacy), free(other);
}

// The registry in forked processes: a signal removes the process's own temporaries (not its
// parent's) and exits with 128 + the signal; inside tmp_hold the signal waits for tmp_release.
// A test run in the background (`make test &`, nohup) inherits SIGINT ignored, and aca rightly keeps an
// inherited SIG_IGN; the children that must receive the signals start from the default disposition.
static void signals_default(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

static void test_signal_registry(void **st) {
    (void)st;
    char *base = at("sig"), *flag = at("sig-held");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signals_default();
        tmp_signals_install("test");
        aca_tmp a, b;
        aca_err e;
        int fd;
        if (tmp_create(&a, base, 1, NULL, &e) || tmp_create(&b, base, 0, &fd, &e)) _exit(1);
        pid_t g = fork(); // a grandchild with a temporary of its own
        if (g == 0) {
            aca_tmp c;
            if (tmp_create(&c, base, 1, NULL, &e)) _exit(1);
            raise(SIGTERM);
            _exit(2);
        }
        int status;
        waitpid(g, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + SIGTERM) _exit(3);
        char *p = path_join(g_dir, ".");
        int mine = 0;
        DIR *d = opendir(p);
        struct dirent *de;
        while ((de = readdir(d))) mine += strstr(de->d_name, "sig.aca-tmp.") != NULL;
        closedir(d);
        if (mine != 2) _exit(4); // the grandchild removed its own only
        tmp_hold();
        raise(SIGINT);
        FILE *f = fopen(flag, "w"); // still alive inside the critical section
        if (f) fclose(f);
        tmp_release();
        _exit(5);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + SIGINT)
        fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    assert_true(file_exists(flag));
    unlink(flag);
    no_temporaries(g_dir);
    free(base), free(flag);
}

// SIGTERM / SIGINT during `aca train`: one line, exit 128 + n, no temporaries, inputs intact.
static void interrupt_train(int sig) {
    char *errp = at("train.err");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signals_default();
        if (chdir(g_dir) || !freopen(errp, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execl(g_aca, g_aca, "train", "--config", "cfg.json", "--vocab", "vocab.txt", "--data", "d", "--out", "ms",
              "--epochs", "1000", "--max-len", "16", "--save-every", "1", "--log-every", "1", (char *)NULL);
        _exit(127);
    }
    // Wait for a training step (the model's temporary exists by then).
    int started = 0;
    for (int i = 0; i < 120000 && !started; i++) {
        aca_buf b = {0};
        aca_err e;
        if (!file_read_all(errp, &b, &e) && strstr(b.data, " step ")) started = 1;
        buf_free(&b);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) fail_msg("train ended before it was interrupted");
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(started);
    int live = count_temporaries(g_dir); // the model's temporary, reserved before training
    kill(pid, sig);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    aca_buf b = {0};
    aca_err e;
    TU_OK(file_read_all(errp, &b, &e), &e);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + sig || !strstr(b.data, "train interrupted by SIG"))
        fail_msg("after signal %d: %s %d, stderr tail:\n%s", sig, WIFEXITED(status) ? "exit" : "killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), b.len > 600 ? b.data + b.len - 600 : b.data);
    buf_free(&b);
    assert_true(live >= 1);
    no_temporaries(g_dir);
    corpus_intact();
    assert_false(exists("ms"));
    char *ck = at("ms.ckpt");
    tu_rm_rf(ck);
    unlink(errp);
    free(errp), free(ck);
}

static void test_signal_train(void **st) {
    (void)st;
    interrupt_train(SIGTERM);
    interrupt_train(SIGINT);
}

// A directory output that changed while aca worked is not replaced; the new output is kept.
static void test_commit_race(void **st) {
    (void)st;
    char *out = at("race");
    aca_outdir od;
    aca_err e = {0};
    TU_OK(outdir_begin(&od, out, "mutate", 0, &e), &e);
    char *f = path_join(od.tmp, "new.txt");
    tu_write_file(f, "new\n");
    free(f);
    assert_int_equal(mkdir(out, 0777), 0);
    put("race/user.txt", "user\n");
    TU_EXPECT_ERR(outdir_commit(&od, &e), &e, "changed while aca worked");
    assert_int_equal(e.kind, ACA_ERR_REFUSED);
    assert_true(same("race/user.txt", "user\n"));
    char kept[PATH_MAX];
    snprintf(kept, sizeof kept, "%s/race.aca-kept.%ld/new.txt", g_dir, (long)getpid());
    assert_true(file_exists(kept));
    // Over its own earlier output (RENAME_EXCHANGE, or old-aside-then-new): only the new files remain.
    tu_rm_rf(out);
    TU_OK(outdir_begin(&od, out, "mutate", 0, &e), &e);
    TU_OK(outdir_commit(&od, &e), &e);
    put("race/old.txt", "old\n");
    TU_OK(outdir_begin(&od, out, "mutate", 0, &e), &e);
    f = path_join(od.tmp, "new.txt");
    tu_write_file(f, "new\n");
    free(f);
    TU_OK(outdir_commit(&od, &e), &e);
    assert_true(same("race/new.txt", "new\n"));
    assert_false(exists("race/old.txt"));
    no_temporaries(g_dir);
    tu_rm_rf(out);
    *strrchr(kept, '/') = 0;
    tu_rm_rf(kept);
    free(out);
}

// ---- 12.13: exit statuses, plan --plot, a one-class corpus -------------------------------------
static void test_exit_codes(void **st) {
    (void)st;
    expect(aca("mutate --bogus"), ACA_EXIT_USAGE, "unknown option");
    expect(aca("mutate --corpus nope.txt --spec spec.json --out x1"), ACA_EXIT_IO, "nope.txt");
    put("bad.txt", "1:::Web_Developer:::ok\n2:::Web_Developer no separator\n");
    expect(aca("mutate --corpus bad.txt --spec spec.json --out x1"), ACA_EXIT_FORMAT, "bad.txt:2");
    put("astro.json", "{\"collectives\": [{\"name\": \"A\", \"target\": \"Astronaut\", \"signal\": \"x\", \"size\": 1}]}");
    expect(aca("mutate --corpus c/corpus.txt --spec astro.json --out x1"), ACA_EXIT_VALUE, "Astronaut");
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out c"), ACA_EXIT_REFUSED, NULL);
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out x2 --epochs 1 --max-len 16 --lr 1e30 --quiet"),
           ACA_EXIT_NUMERIC, "NaN");
    int rc = aca("train --config cfg.json --vocab vocab.txt --data d --out x2 --epochs 1 --device cuda");
    if (strstr(g_out, "no CUDA backend")) expect(rc, ACA_EXIT_VALUE, "no CUDA backend"); // a CPU-only build
    else if (strstr(g_out, "no CUDA GPU")) expect(rc, ACA_EXIT_DEVICE, "no CUDA GPU");
    else print_message("a CUDA GPU is visible: the DEVICE status is not provoked here\n");
    assert_false(exists("x1") || exists("x2"));
    no_temporaries(g_dir);
}

static void test_plan_plot_missing_dir(void **st) {
    (void)st;
    // stdout alone: no PNG bytes, ever.
    int rc = aca("plan spec.json --plot nodir/p.png 2>/dev/null");
    assert_true(rc != 0);
    assert_int_equal(g_out[0] == 0 ? 0 : (int)strlen(g_out), 0);
    expect(aca("plan spec.json --plot nodir/p.png"), ACA_EXIT_IO, "nodir");
    assert_false(exists("nodir"));
}

static void test_one_class_corpus(void **st) {
    (void)st;
    put("one.txt", "1:::Web_Developer:::a b c\n2:::Web_Developer:::d e f\n3:::Web_Developer:::g h\n"
                   "4:::Web_Developer:::i j\n5:::Web_Developer:::k l\n");
    put("web.json", "{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"x\", \"size\": 1}]}");
    expect(aca("mutate --corpus one.txt --spec web.json --out x3"), ACA_EXIT_VALUE,
           "one.txt: all 5 documents have the class 'Web Developer'");
    assert_false(exists("x3"));
}

// OpenMP threads sleep at barriers unless the user chose a wait policy (src/cli/main.c): the
// policy reaches the runtime, which reads it before main, through a re-exec.
static void test_omp_wait_policy(void **st) {
    (void)st;
    const char *was = getenv("OMP_WAIT_POLICY");
    char *saved = was ? strdup(was) : NULL;
    unsetenv("OMP_WAIT_POLICY");
    assert_int_equal(aca("version"), 0);
    assert_non_null(strstr(g_out, "wait policy PASSIVE"));
    setenv("OMP_WAIT_POLICY", "ACTIVE", 1);
    assert_int_equal(aca("version"), 0);
    assert_non_null(strstr(g_out, "wait policy ACTIVE")); // the user's choice stands
    if (saved) setenv("OMP_WAIT_POLICY", saved, 1), free(saved);
    else unsetenv("OMP_WAIT_POLICY");
}

// ---- hostile cases beyond issue 12 -------------------------------------------------------------
// A repository file linked into g_dir under name (aca runs there).
static void link_repo_file(const char *rel, const char *name) {
    char cwd[PATH_MAX], src[PATH_MAX + 64];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(src, sizeof src, "%s/%s", cwd, rel);
    unlink(P(name));
    assert_int_equal(symlink(src, P(name)), 0);
}

static void put_signal_spec(const char *name, const char *signal) {
    char j[512];
    snprintf(j, sizeof j, "{\"seed\": 1, \"collectives\": [{\"name\": \"Z\", \"target\": \"Software Developer\", "
                          "\"signal\": \"%s\", \"size\": 5}]}", signal);
    put(name, j);
}

// A signal the tokenizer keeps nothing of is refused by every command that takes a spec, before any
// output, naming the spec, the field, the collective and each character's fate; the rule is the
// tokenizer's own (SentencePiece keeps U+00AD, a cased WordPiece a lone accent).
static void test_invisible_signal(void **st) {
    (void)st;
    link_repo_file("tests/fixtures/tok/tiny_spm.model", "spm.model");
    link_repo_file("tests/fixtures/cased_ckpt", "cased"); // its tokenizer_config.json: do_lower_case false
    put_signal_spec("zw.json", "\\u200b");
    const char *msg = "zw.json: collectives[0].signal: the signal of collective Z (U+200B) gives the model no token: "
                      "U+200B (Cf) is removed by BERT's text cleaning";
    expect(aca("mutate --corpus c/corpus.txt --spec zw.json --out z1"), ACA_EXIT_VALUE, msg);
    expect(aca("collide --vocab vocab.txt --spec zw.json"), ACA_EXIT_VALUE, msg);
    expect(aca("run zw.json --corpus c/corpus.txt --out z2 --epochs 1 --max-len 16"), ACA_EXIT_VALUE, msg);
    expect(aca("mutate --corpus c/corpus.txt --spec zw.json --out z1 --vocab spm.model"), ACA_EXIT_VALUE,
           "U+200B (Cf) is removed, or made white space, by the SentencePiece model's normalization");
    assert_false(exists("z1") || exists("z2"));
    put_signal_spec("shy.json", "U+00AD U+3000");
    expect(aca("mutate --corpus c/corpus.txt --spec shy.json --out z1"), ACA_EXIT_VALUE,
           "U+00AD (Cf) is removed by BERT's text cleaning; U+3000 (Zs) is white space");
    expect(aca("mutate --corpus c/corpus.txt --spec shy.json --out z1 --vocab spm.model --quiet"), 0, NULL);
    put_signal_spec("acc.json", "U+0301");
    expect(aca("mutate --corpus c/corpus.txt --spec acc.json --out z3 --vocab vocab.txt"), ACA_EXIT_VALUE,
           "U+0301 (Mn) is a combining accent, which the tokenizer strips");
    expect(aca("mutate --corpus c/corpus.txt --spec acc.json --out z3 --vocab cased --quiet"), 0, NULL);
    assert_false(exists("z2"));
    tu_rm_rf(P("z1")), tu_rm_rf(P("z3")), unlink(P("cased")), unlink(P("spm.model"));
    no_temporaries(g_dir);
}

// Options: one given twice (the last would win silently), --max-len out of range says the range.
static void test_option_values(void **st) {
    (void)st;
    expect(aca("mutate --corpus c/corpus.txt --corpus c/notes.txt --spec spec.json --out x4"), ACA_EXIT_USAGE,
           "option --corpus given twice");
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out x4 --max-len 100000000"), ACA_EXIT_USAGE,
           "--max-len: must be a whole number in [2, 1048576], got 100000000");
    assert_false(exists("x4"));
}

// What aca run and train refuse before any work: a pipe as run's corpus (named by path in every manifest),
// --results among the files OUT gets, a config that does not load (before the data is tokenized).
static void test_refused_before_work(void **st) {
    (void)st;
    assert_int_equal(mkfifo(P("fifo"), 0666), 0);
    expect(aca("run spec.json --corpus fifo --out rf --epochs 1"), ACA_EXIT_IO, "--corpus fifo: not a regular file");
    aca_err e = {0};
    TU_OK(outdir_open_into(P("r"), "run", 0, &e), &e);
    expect(aca("run spec.json --corpus c/corpus.txt --out r --results r/summary.json --epochs 1"), ACA_EXIT_REFUSED,
           "--results r/summary.json: inside --out r");
    assert_false(exists("rf") || exists("r/summary.json") || exists("r/corpus.txt"));
    put("zero.json", "{\"model_type\":\"distilbert\",\"dim\":0}");
    expect(aca("train --config zero.json --vocab vocab.txt --data d --out x5 --epochs 1 --max-len 16"), ACA_EXIT_VALUE,
           "zero.json: field 'dim'");
    assert_null(strstr(g_out, "training documents"));
    expect(aca("run spec.json --corpus c/corpus.txt --config zero.json --vocab vocab.txt --out rz --epochs 1"),
           ACA_EXIT_VALUE, "zero.json: field 'dim'");
    expect(aca("run spec.json --corpus c/corpus.txt --config cfg.json --vocab vocab.txt --max-len 600 --out rz"),
           ACA_EXIT_VALUE, "--max-len 600 exceeds");
    assert_false(exists("rz") || exists("x5"));
    char cwd[PATH_MAX], args[PATH_MAX + 256];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(args, sizeof args, "train --model '%s/tests/fixtures/cased_ckpt' --vocab vocab.txt --data d --out x6", cwd);
    expect(aca("%s", args), ACA_EXIT_VALUE, "vocab.txt: tokenizes otherwise than the checkpoint's own tokenizer");
    assert_false(exists("x6"));
    put("b.json", "{\"input_ids\": [[101, 7, 102]], \"attention_mask\": [[0, 0, 0]]}");
    snprintf(args, sizeof args, "forward --model '%s/tests/fixtures/cased_ckpt' --batch b.json", cwd);
    expect(aca("%s", args), ACA_EXIT_VALUE, "row 0: the attention mask has no 1");
    unlink(P("fifo")), unlink(P("zero.json")), unlink(P("b.json"));
    tu_rm_rf(P("r"));
}

// aca eval never prints "nan": an agreement over a probe set that lost a line is "n/a" (JSON null).
static void test_eval_no_nan(void **st) {
    (void)st;
    expect(aca("train --config cfg.json --vocab vocab.txt --data d --out mq --epochs 1 --max-len 16 --quiet"), 0, "wrote mq");
    expect(aca("mutate --corpus c/corpus.txt --spec spec.json --out dq --quiet"), 0, NULL);
    size_t n;
    char *probe = at("dq/probe_A.jsonl"), *text = tu_read_file(probe, &n);
    assert_true(n > 2);
    char *last = text + n - 2;
    while (last > text && *last != '\n') last--;
    tu_write_bytes(probe, text, (size_t)(last - text) + 1); // one document fewer than test.jsonl
    expect(aca("eval --model mq --data dq --max-len 16"), 0, "n/a");
    assert_null(strstr(g_out, "nan"));
    expect(aca("eval --model mq --data dq --max-len 16 --json"), 0, "\"agreement\":null");
    free(probe), free(text);
    tu_rm_rf(P("mq")), tu_rm_rf(P("dq"));
}

// A checkpoint whose tokenizer is a SentencePiece model alone (no vocab.txt): train --model, eval
// and forward find it in the directory as tokenize --model does (issue 15: train --model failed).
static void test_spm_only_checkpoint(void **st) {
    (void)st;
    link_repo_file("tests/fixtures/tok/tiny_spm.model", "spm.model");
    expect(aca("train --config cfg.json --vocab spm.model --data d --out s1 --epochs 1 --max-len 16 --quiet"), 0, "wrote s1");
    assert_true(exists("s1/spm.model") && !exists("s1/vocab.txt"));
    expect(aca("train --model s1 --data d --out s2 --epochs 1 --max-len 16 --quiet"), 0, "wrote s2");
    assert_true(exists("s2/spm.model") && !exists("s2/vocab.txt"));
    expect(aca("eval --model s2 --data d --max-len 16"), 0, "clean accuracy: ");
    expect(aca("tokenize --model s2 --in d/test.jsonl --jsonl --max-len 16"), 0, "{\"ids\":[4,"); // [CLS] = 4 in the .model
    // Another tokenizer beside it is refused: its ids would index the wrong embedding rows.
    expect(aca("train --model s2 --vocab vocab.txt --data d --out s3 --epochs 1 --max-len 16 --quiet"), ACA_EXIT_VALUE,
           "tokenizes otherwise than the checkpoint's own tokenizer");
    assert_false(exists("s3"));
    tu_rm_rf(P("s1")), tu_rm_rf(P("s2")), unlink(P("spm.model"));
}

// An --dp-epsilon no noise reaches is refused from the document count, before the tokenizer is
// opened (here a missing vocabulary, which would otherwise be the error) or anything tokenized.
static void test_dp_epsilon_before_tokenizing(void **st) {
    (void)st;
    expect(aca("train --config cfg.json --vocab /nonexistent/vocab.txt --data d --out dp1 --epochs 1 --dp-epsilon 1e-9"),
           ACA_EXIT_VALUE, "--dp-epsilon 1e-09 (q = ");
    assert_non_null(strstr(g_out, "not reachable"));
    assert_false(exists("dp1"));
    // The count it uses is the loader's: blank lines are not documents.
    char *p = at("blank.jsonl");
    tu_write_file(p, "{\"text\": \"a\", \"label\": \"x\"}\n\n \r\n{\"text\": \"b\", \"label\": \"x\"}");
    size_t n = 0;
    aca_err e = {0};
    TU_OK(data_count_docs(p, &n, &e), &e);
    assert_int_equal(n, 2);
    unlink(p), free(p);
}

// Two aca processes with one output directory: the second to begin is refused while the first is
// alive; one that began alongside finds the directory written meanwhile and keeps its own aside.
static void test_concurrent_outputs(void **st) {
    (void)st;
    int up[2], down[2]; // child -> parent: began; parent -> child: EOF ends it (also when the test dies)
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(down[1]);
        aca_outdir od;
        aca_err e;
        char ok = outdir_begin(&od, P("cc"), "model", 0, &e) == 0 && outdir_open_into_locked(P("ru"), "run", 0, &e) == 0
                      ? 'y'
                      : 'n';
        if (write(up[1], &ok, 1) != 1) _exit(1);
        while (read(down[0], &ok, 1) > 0) {}
        _exit(0);
    }
    close(down[0]), close(up[1]);
    char ok = 0;
    assert_int_equal(read(up[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    aca_outdir od;
    aca_err e = {0};
    char want[64];
    snprintf(want, sizeof want, "another aca (process %ld) is writing this output now", (long)pid);
    int refused = outdir_begin(&od, P("cc"), "model", 0, &e);
    if (!refused) outdir_abort(&od);
    // A run's OUT (written into, not swapped): locked; --replace does not move it from under the holder.
    aca_err e2 = {0}, e3 = {0};
    int locked = outdir_open_into_locked(P("ru"), "run", 0, &e2) && e2.kind == ACA_ERR_REFUSED &&
                 outdir_open_into_locked(P("ru"), "run", 1, &e3) && e3.kind == ACA_ERR_REFUSED && exists("ru/" OUT_MARKER);
    kill(pid, SIGKILL); // as kill -9: its temporary stays
    waitpid(pid, NULL, 0);
    close(up[0]), close(down[1]);
    if (!refused || !strstr(e.msg, want) || e.kind != ACA_ERR_REFUSED) fail_msg("while another writes cc: '%s'", e.msg);
    if (!locked || !strstr(e3.msg, "another aca is writing into it now")) fail_msg("while another writes into ru: '%s'", e3.msg);
    TU_OK(outdir_open_into_locked(P("ru"), "run", 1, &e), &e); // the holder is gone
    TU_OK(outdir_begin(&od, P("cc"), "model", 0, &e), &e); // its temporary is swept: the process is gone
    char *f = path_join(od.tmp, "mine.txt");
    tu_write_file(f, "mine\n");
    free(f);
    assert_int_equal(mkdir(P("cc"), 0777), 0); // another aca's model, finished first
    TU_OK(outdir_mark(P("cc"), "model", &e), &e);
    put("cc/theirs.txt", "theirs\n");
    TU_EXPECT_ERR(outdir_commit(&od, &e), &e, "another process wrote it meanwhile");
    assert_true(same("cc/theirs.txt", "theirs\n"));
    char kept[PATH_MAX];
    snprintf(kept, sizeof kept, "%s/cc.aca-kept.%ld/mine.txt", g_dir, (long)getpid());
    assert_true(file_exists(kept));
    *strrchr(kept, '/') = 0;
    tu_rm_rf(kept), tu_rm_rf(P("cc")), tu_rm_rf(P("ru"));
    no_temporaries(g_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_is_or_holds_input), cmocka_unit_test(test_out_inside_input),
        cmocka_unit_test(test_existing_output),       cmocka_unit_test(test_train_checks_out_first),
        cmocka_unit_test(test_sweep),                 cmocka_unit_test(test_signal_registry),
        cmocka_unit_test(test_signal_train),          cmocka_unit_test(test_commit_race),
        cmocka_unit_test(test_exit_codes),            cmocka_unit_test(test_plan_plot_missing_dir),
        cmocka_unit_test(test_one_class_corpus),      cmocka_unit_test(test_omp_wait_policy),
        cmocka_unit_test(test_invisible_signal),      cmocka_unit_test(test_option_values),
        cmocka_unit_test(test_refused_before_work),   cmocka_unit_test(test_concurrent_outputs),
        cmocka_unit_test(test_eval_no_nan),           cmocka_unit_test(test_spm_only_checkpoint),
        cmocka_unit_test(test_dp_epsilon_before_tokenizing),
    };
    if (getenv("ACA_TEST_FILTER")) cmocka_set_test_filter(getenv("ACA_TEST_FILTER")); // e.g. "test_sweep"
    return cmocka_run_group_tests(tests, setup, teardown);
}
