// --attention auto|gemm|cudnn: the backend setting and its errors, the path a CPU model reports,
// GRID.json's "attention" field, the results JSON's record of the path that ran, and the CLIs'
// check of the name before any work (run from the repository root, as `make test` does).
#include "testutil.h"

#include <sys/wait.h>

#include "aca/grid.h"
#include "aca/model.h"
#include "aca/ops.h"
#include "aca/run.h"

static void test_backend_setting(void **state) {
    aca_err e = {0};
    aca_backend *cpu = aca_backend_cpu_create(&e);
    assert_non_null(cpu);
    TU_OK(aca_backend_set_attention(cpu, NULL, &e), &e);
    TU_OK(aca_backend_set_attention(cpu, "auto", &e), &e);
    TU_EXPECT_ERR(aca_backend_set_attention(cpu, "flash", &e), &e, "--attention: unknown path 'flash'");
    TU_EXPECT_ERR(aca_backend_set_attention(cpu, "gemm", &e), &e, "use --device cuda");
    TU_EXPECT_ERR(aca_backend_set_attention(cpu, "cudnn", &e), &e, "--attention cudnn");
    assert_string_equal(aca_backend_attention_name(cpu), "cpu");
    aca_backend_destroy(cpu);
    aca_backend *emul = aca_backend_emul_create(ACA_DT_BF16, &e);
    assert_string_equal(aca_backend_attention_name(emul), "gemm"); // the CUDA backend's GEMM composition
    aca_backend_destroy(emul);
}

static const char *GRID = "{\"seed\": 3, %s\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\","
                          " \"signal\": \"U+2E17\"}], \"levels\": [0.01]}";

static void test_grid_field(void **state) {
    char j[1024];
    aca_grid_spec g;
    aca_err e = {0};
    snprintf(j, sizeof j, GRID, "\"device\": \"cuda\", \"attention\": \"cudnn\", ");
    TU_OK(grid_spec_parse(j, "g.json", &g, &e), &e);
    assert_string_equal(g.run.attention, "cudnn");
    grid_spec_free(&g);
    snprintf(j, sizeof j, GRID, "");
    TU_OK(grid_spec_parse(j, "g.json", &g, &e), &e);
    assert_string_equal(g.run.attention, "auto");
    grid_spec_free(&g);
    snprintf(j, sizeof j, GRID, "\"attention\": \"fast\", ");
    TU_EXPECT_ERR(grid_spec_parse(j, "g.json", &g, &e), &e, "attention");
    TU_EXPECT_ERR(grid_spec_parse(j, "g.json", &g, &e), &e, "g.json: attention: must be one of auto|gemm|cudnn, got 'fast'");
}

static void test_results_json(void **state) {
    aca_run_setup s;
    run_setup_default(&s);
    aca_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.attention, sizeof r.attention, "cudnn");
    snprintf(r.device, sizeof r.device, "cuda/bf16");
    r.cond_name = "joint";
    aca_buf b = {0};
    run_result_to_json(&s, &r, &b);
    assert_non_null(strstr(b.data, "\"attention\":\"cudnn\""));
    buf_free(&b);
}

static char g_aca[1024]; // the aca binary of this build: <build>/aca beside <build>/tests/

// The CLIs check the name before reading any data (exit 2, one line naming --attention).
static void test_cli_checks_first(void **state) {
    static const char *const ARGS[] = {
        "train --config c.json --vocab v.txt --data /nonexistent --out /nonexistent/o --attention fast",
        "eval --model /nonexistent --data /nonexistent --attention fast",
        "run /nonexistent.json --attention fast",
    };
    for (size_t i = 0; i < ACA_ARRAY_LEN(ARGS); i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", g_aca, ARGS[i]);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char line[512] = "";
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        int st = pclose(f);
        printf("ok   aca %.30s...: exit %d, %s", ARGS[i], WEXITSTATUS(st), line);
        assert_int_equal(WEXITSTATUS(st), 2);
        // train and run check it with the run options table (run.h), eval with the backend's parser
        assert_non_null(strstr(line, i == 1 ? "--attention: unknown path 'fast'"
                                            : "--attention: must be one of auto|gemm|cudnn, got 'fast'"));
    }
}

int main(int argc, char **argv) {
    const char *slash = strrchr(argv[0], '/');
    int dir = slash ? (int)(slash - argv[0]) : 0; // <build>/tests
    snprintf(g_aca, sizeof g_aca, "%.*s/../aca", dir, argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_setting),
        cmocka_unit_test(test_grid_field),
        cmocka_unit_test(test_results_json),
        cmocka_unit_test(test_cli_checks_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
