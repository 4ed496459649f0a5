// cuDNN fused attention graphs (kernels/cuda/cudnn_sdpa.cc) built and validated on the CPU, for the
// shapes aca trains and the targets it ships (sm_80, sm_90): the cuDNN frontend's validate() runs
// its support-surface checks (dtypes, head size, strides of the packed qkv, padding through
// sequence lengths, dropout with a seed and an offset, the target architecture) without a device.
// What it cannot check without one: the backend's engine heuristics and plan build (they need a
// cuDNN handle, i.e. a GPU, or a device-properties blob serialized on one), and execution; those run
// in tests/gpu (make test-gpu).  Also: that cudnnCreate fails cleanly here and the shim says why.
#include "testutil.h"

#ifndef ACA_HAVE_CUDNN_FE
int main(void) {
    printf("skipped: this build has no cuDNN attention (cuDNN or the cudnn-frontend headers were not found)\n");
    return 0;
}
#else
#include "../kernels/cuda/cudnn_sdpa.h"

typedef struct {
    const char *what;
    int B, T, NH, HS;
    aca_dtype dt;
    float p;
    int sm;
    int want_ok;
} graph_case;

static const graph_case CASES[] = {
    // distilbert-base / bert-base training and eval shapes
    {"distilbert-base B=8 T=512 train", 8, 512, 12, 64, ACA_DT_BF16, 0.1f, 90, 1},
    {"distilbert-base B=32 T=512 train", 32, 512, 12, 64, ACA_DT_BF16, 0.1f, 90, 1},
    {"distilbert-base B=8 T=512 train sm80", 8, 512, 12, 64, ACA_DT_BF16, 0.1f, 80, 1},
    {"distilbert-base B=8 T=512 fp16", 8, 512, 12, 64, ACA_DT_F16, 0.1f, 90, 1},
    {"distilbert-base B=32 T=512 eval (no dropout)", 32, 512, 12, 64, ACA_DT_BF16, 0.0f, 90, 1},
    {"bucketed T=137", 8, 137, 12, 64, ACA_DT_BF16, 0.1f, 90, 1},
    {"the GPU model test C=128 NH=2 T=133", 4, 133, 2, 64, ACA_DT_BF16, 0.1f, 90, 1},
    {"the GPU model test C=96 NH=3 T=133", 4, 133, 3, 32, ACA_DT_BF16, 0.1f, 80, 1},
    {"all-MiniLM-L6 (HS 32) T=128", 16, 128, 12, 32, ACA_DT_BF16, 0.1f, 90, 1},
    // what cuDNN refuses, and auto then leaves to the GEMM path
    {"fp32", 8, 512, 12, 64, ACA_DT_F32, 0.1f, 90, 0},
    {"head size 12 (not a multiple of 8)", 2, 65, 4, 12, ACA_DT_BF16, 0.1f, 90, 0},
    {"sm_75 (Turing)", 8, 512, 12, 64, ACA_DT_F16, 0.1f, 75, 0},
};

static void test_validate_model_shapes(void **state) {
    int bad = 0;
    for (size_t i = 0; i < ACA_ARRAY_LEN(CASES); i++) {
        const graph_case *c = &CASES[i];
        cudnn_sdpa_shape s = {c->B, c->T, c->NH, c->HS, c->dt, c->p > 0, c->p, 1};
        char msg[512] = "";
        int ok = cudnn_sdpa_validate(&s, c->sm, msg, sizeof msg) == 0;
        int right = ok == c->want_ok;
        printf("%s sm_%d %-44s %s: %s%s\n", right ? "ok  " : "FAIL", c->sm, c->what, aca_dtype_name(c->dt),
               ok ? "forward and backward graphs valid" : "refused: ", ok ? "" : msg);
        if (!ok && !*msg) bad++, printf("FAIL refusal without a reason\n");
        bad += !right;
    }
    assert_int_equal(bad, 0);
}

static void test_no_device_handle(void **state) {
    char msg[512] = "";
    cudnn_sdpa *s = cudnn_sdpa_create(NULL, msg, sizeof msg);
    if (s) { // a GPU is visible after all: nothing to show here
        printf("ok   a cuDNN handle was created (a GPU is visible): the plan build runs in tests/gpu\n");
        cudnn_sdpa_destroy(s);
        return;
    }
    printf("ok   without a GPU cudnnCreate fails and the shim says so: %s\n", msg);
    assert_non_null(strstr(msg, "cudnnCreate"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_model_shapes),
        cmocka_unit_test(test_no_device_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
