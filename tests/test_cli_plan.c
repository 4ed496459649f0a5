// End-to-end tests of `aca plan` and `aca privacy` (build/aca): outputs on a small synthetic corpus and
// every user-caused failure (one message naming the option or spec field, non-zero exit, no plot
// file left behind).
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include "aca/corpus.h"

static char g_dir[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/aca_test_cli_plan.%ld", (long)getpid());
    if (dir_make(g_dir, NULL)) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/corpus.txt", g_dir);
    if (corpus_synth_write(path, 3000, 7, NULL)) return -1;
    write_file("spec.json", "{\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"{\", "
                            "\"size\": 0.05}, {\"name\": \"B\", \"target\": \"Web Developer\", \"signal\": \"U+2E18\", "
                            "\"size\": 300, \"sampling\": {\"kind\": \"class\", \"seed_class\": \"Web Developer\"}}]}");
    write_file("badtarget.json", "{\"collectives\": [{\"name\": \"A\", \"target\": \"Astronaut\", \"signal\": \"{\", \"size\": 10}]}");
    write_file("badsize.json", "{\"collectives\": [{\"name\": \"A\", \"target\": \"Web Developer\", \"signal\": \"{\", \"size\": -3}]}");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dir_remove_recursive(g_dir);
    return 0;
}

// Runs `aca plan spec.json --corpus corpus.txt EXTRA`: it must succeed and print every string of
// `want` (NULL-terminated) and not `absent` (NULL: no check).
static void expect_plan(const char *extra, const char *const *want, const char *absent) {
    char args[1024], out[16384];
    snprintf(args, sizeof args, "plan %s/spec.json --corpus %s/corpus.txt %s", g_dir, g_dir, extra);
    assert_int_equal(tu_run_cli(args, out, sizeof out), 0);
    for (; *want; want++)
        if (!strstr(out, *want)) {
            print_error("aca %s: no '%s' in\n%s\n", args, *want, out);
            fail();
        }
    if (absent && strstr(out, absent)) {
        print_error("aca %s: '%s' printed\n", args, absent);
        fail();
    }
}

static void test_plan_outputs(void **state) {
    (void)state;
    char args[1024], out[16384];
    // N and the test set default to the split aca mutate and aca grid use (3000 docs: 2400/600).
    static const char *const conservative[] = {"platform N = 2400 documents; success measured on 600 test documents",
                                               "bounds: conservative", "feature-label  paper ",
                                               "feature-only   conservative ", "unplant        conservative ",
                                               "erase          aca-own ", "class cells won", NULL};
    expect_plan("", conservative, NULL);
    // The paper's bounds: every formula named "paper", no erasing bound, the best split n_e = 1.
    static const char *const paper[] = {"bounds: paper (the paper's code)", "feature-only   paper ", "unplant        paper ",
                                        "n_e = 1 at n", "no erasing bound in the paper's code", NULL};
    expect_plan("--bound paper", paper, "aca-own");
    static const char *const paper_json[] = {"\"n_test\":0,\"bound\":\"paper\",\"n_est\":5",
                                             "\"unplant\":{\"formula\":\"paper\"", "\"n_e_at_n\":5", "\"erase\":null", NULL};
    expect_plan("--bound paper --json --n-est 5 --n-test 0", paper_json, NULL);
    snprintf(args, sizeof args, "plan %s/spec.json --corpus %s/corpus.txt --json --delta 0.1 --plot %s/p.png", g_dir, g_dir, g_dir);
    assert_int_equal(tu_run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"delta\":0.10000000000000001"));
    assert_non_null(strstr(out, "\"n_min\":"));
    char png[512];
    snprintf(png, sizeof png, "%s/p.png", g_dir);
    assert_true(file_exists(png));
    // Without a corpus: the signal is assumed absent, 10 equal classes, N = 20000.
    snprintf(args, sizeof args, "plan %s/spec.json", g_dir);
    assert_int_equal(tu_run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "platform N = 20000"));
}

static void test_plan_errors(void **state) {
    (void)state;
    char a[1024];
    const char *bad_opts[][2] = {
        {"--delta 0", "option --delta"},    {"--delta 1", "option --delta"},     {"--delta -0.5", "option --delta"},
        {"--delta x", "--delta"},           {"--n-test -1", "option --n-test"},  {"--success 0", "option --success"},
        {"--eps-subopt 1", "option --eps-subopt"}, {"--n-train 1", "option --n-train"}, {"--n-max 0", "option --n-max"},
        {"--n-max 1", "option --n-max"},    {"--bogus", "unknown option"},  {"--bound Paper", "option --bound"},
        {"--n-est 0", "option --n-est"},    {"--n-est 10 --n-max 10", "option --n-max"},
        // larger than the platform: was clipped to N - 1 silently
        {"--n-train 5 --n-max 10", "option --n-max: 10 is not below the platform size N = 5"},
        {"--n-train 5 --n-max 5", "option --n-max: 5 is not below the platform size N = 5"},
    };
    for (size_t i = 0; i < ACA_ARRAY_LEN(bad_opts); i++) {
        snprintf(a, sizeof a, "plan %s/spec.json --corpus %s/corpus.txt %s", g_dir, g_dir, bad_opts[i][0]);
        tu_expect_cli(a, 1, bad_opts[i][1]);
    }
    snprintf(a, sizeof a, "plan %s/badtarget.json --corpus %s/corpus.txt", g_dir, g_dir);
    tu_expect_cli(a, 1, "collectives[0].target: class 'Astronaut'");
    snprintf(a, sizeof a, "plan %s/badsize.json", g_dir);
    tu_expect_cli(a, 1, "size");
    snprintf(a, sizeof a, "plan %s/missing.json", g_dir);
    tu_expect_cli(a, 1, "missing.json");
    snprintf(a, sizeof a, "plan %s/spec.json --corpus %s/nope.txt", g_dir, g_dir);
    tu_expect_cli(a, 1, "nope.txt");
    tu_expect_cli("plan", 1, "SPEC");
    snprintf(a, sizeof a, "plan %s/spec.json --plot \"%s/it's.png\"", g_dir, g_dir);
    tu_expect_cli(a, 1, "option --plot");
    char png[512];
    snprintf(png, sizeof png, "%s/it's.png", g_dir);
    assert_false(file_exists(png));
}

static void test_privacy(void **state) {
    (void)state;
    tu_expect_cli("privacy --q 0.0042666666666666669 --sigma 1.12 --steps 14062 --delta 1e-5 --classic", 0, "epsilon = 2.922");
    tu_expect_cli("privacy --q 0.0042666666666666669 --epsilon 3 --steps 14062 --delta 1e-5", 0, "sigma = 1.014");
    tu_expect_cli("privacy --q 1.5 --sigma 1 --steps 10 --delta 1e-5", 1, "option --q");
    tu_expect_cli("privacy --q 0 --sigma 1 --steps 10 --delta 1e-5", 1, "option --q");
    tu_expect_cli("privacy --q 0.1 --sigma 0 --steps 10 --delta 1e-5", 1, "option --sigma");
    tu_expect_cli("privacy --q 0.1 --sigma 1 --steps 0 --delta 1e-5", 1, "option --steps");
    tu_expect_cli("privacy --q 0.1 --sigma 1 --steps 10 --delta 0", 1, "option --delta");
    tu_expect_cli("privacy --q 0.1 --sigma 1 --steps 10 --delta 1", 1, "option --delta");
    tu_expect_cli("privacy --q 0.1 --epsilon 0 --steps 10 --delta 1e-5", 1, "option --epsilon");
    tu_expect_cli("privacy --q 0.1 --epsilon -2 --steps 10 --delta 1e-5", 1, "option --epsilon");
    tu_expect_cli("privacy --q 0.1 --steps 10 --delta 1e-5", 1, "exactly one of --sigma");
    tu_expect_cli("privacy --sigma 1 --steps 10 --delta 1e-5", 1, "--q");
    // No finite bound: "inf" in the text, null in the JSON (exited 8, "RDP ... is NaN", before).
    tu_expect_cli("privacy --q 0.01 --sigma 1e-300 --steps 10 --delta 1e-5", 0, "epsilon = inf at delta");
    tu_expect_cli("privacy --q 0.01 --sigma 1e-300 --steps 10 --delta 1e-5 --json", 0, "\"epsilon\":null,\"order\":null");
    tu_expect_cli("privacy --q 0.01 --sigma 1e-10 --steps 10 --delta 1e-5", 0, "epsilon = 5.5e+20 at");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_outputs),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_privacy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
