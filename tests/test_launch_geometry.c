// Launch geometry of the CUDA kernels whose grids grow with the batch (kernels/cuda/launch.h),
// checked without a GPU: at the largest batches aca accepts (eval batch 65,536 x 512 tokens, 12
// heads) every grid stays inside CUDA's limits (x < 2^31, y <= 65,535).  Before, LayerNorm's
// backward put its row chunks on grid.y (more than 4.19 M tokens exited) and attention put B x NH
// on grid.y (B >= 5,462 with 12 heads exited).
#include "testutil.h"

#include "../kernels/attention_gemm.h"
#include "../kernels/cuda/launch.h"

static void test_column_chunks(void **state) {
    static const size_t NS[] = {1, 63, 64, 65, 4194304, 4194305, (size_t)65536 * 512};
    for (size_t i = 0; i < ACA_ARRAY_LEN(NS); i++) {
        launch_grid g = launch_column_chunks(NS[i], 768, 64, 256);
        printf("ok   column chunks N=%zu C=768: grid %llu x %llu\n", NS[i], g.x, g.y);
        assert_true(launch_grid_ok(g));
        assert_true(g.x * 64 >= NS[i] && (g.x - 1) * 64 < NS[i]); // every row in exactly one chunk
    }
    // the old layout (chunks on y) fails the limit here: the test can fail
    launch_grid old = {3, ((size_t)65536 * 512 + 63) / 64};
    assert_false(launch_grid_ok(old));
}

// The attention row kernels run per slice of the batch; the slice (at most the executor's scratch
// budget, 1 GiB on the GPU) bounds their grid whatever the batch.
static void test_attention_rows(void **state) {
    att_exec x = att_exec_host(ACA_DT_BF16, ATT_GEMM_GPU_SLICE_BYTES);
    static const int BS[] = {1, 5462, 65536};
    for (size_t i = 0; i < ACA_ARRAY_LEN(BS); i++) {
        int nb = att_gemm_slice(&x, BS[i], 512, 12, 1, 0.1f);
        launch_grid g = launch_rows((size_t)nb * 12 * 512, 8);
        printf("ok   attention B=%d T=512 NH=12: %d sequences per slice, row grid %llu x %llu\n", BS[i], nb, g.x, g.y);
        assert_true(nb >= 1 && nb <= BS[i]);
        assert_true(launch_grid_ok(g));
    }
    att_exec_host_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_chunks),
        cmocka_unit_test(test_attention_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
