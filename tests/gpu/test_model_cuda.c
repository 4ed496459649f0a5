// Whole model on the CUDA backend vs the CPU backend (needs a GPU; run by `make test-gpu`): the
// comparisons of tests/model_compare.h (which `make test` also runs on the CPU emulation of this
// backend's roundings, tests/test_model_emul.c), for each attention path and precision.
//
// The GEMM attention draws the CPU's dropout mask, so every dropout site is on.  cuDNN draws its own
// mask for the attention probabilities, so its cases turn that one site off (hidden and head
// dropout stay on); tests/gpu/test_ops_cuda.c checks cuDNN's keep rate.
#include "../model_compare.h"

static aca_backend *make_with(aca_dtype dt, const char *path, aca_err *e) {
    aca_backend *be = aca_backend_cuda_create(dt, e);
    if (be && aca_backend_set_attention(be, path, e)) {
        aca_backend_destroy(be);
        return NULL;
    }
    return be;
}
static aca_backend *make_gemm(aca_dtype dt, aca_err *e) { return make_with(dt, "gemm", e); }
static aca_backend *make_cudnn(aca_dtype dt, aca_err *e) { return make_with(dt, "cudnn", e); }

static void test_gemm_f32_hs64(void **state) { mc_run_case(make_gemm, ACA_DT_F32, ACA_ARCH_DISTILBERT, 128, 2, 7, 1, 11, 1); }
static void test_gemm_f32_hs32(void **state) { mc_run_case(make_gemm, ACA_DT_F32, ACA_ARCH_DISTILBERT, 96, 3, 7, 1, 12, 1); }
static void test_gemm_bf16(void **state) { mc_run_case(make_gemm, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 128, 2, 7, 1, 16, 1); }
static void test_gemm_bf16_nodrop(void **state) { mc_run_case(make_gemm, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 128, 2, 0, 1, 12, 1); }
static void test_gemm_bf16_hs32(void **state) { mc_run_case(make_gemm, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 96, 3, 7, 1, 12, 1); }
static void test_gemm_fp16(void **state) { mc_run_case(make_gemm, ACA_DT_F16, ACA_ARCH_DISTILBERT, 128, 2, 7, 1, 11, 1); }
static void test_gemm_bert_bf16(void **state) { mc_run_case(make_gemm, ACA_DT_BF16, ACA_ARCH_BERT, 128, 2, 7, 0, 16, 1); }
static void test_cudnn_bf16(void **state) { mc_run_case(make_cudnn, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 128, 2, 5, 1, 16, 1); }
static void test_cudnn_fp16(void **state) { mc_run_case(make_cudnn, ACA_DT_F16, ACA_ARCH_DISTILBERT, 128, 2, 5, 1, 11, 1); }
static void test_cudnn_bert_bf16(void **state) { mc_run_case(make_cudnn, ACA_DT_BF16, ACA_ARCH_BERT, 128, 2, 5, 0, 16, 1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_f32_hs64),  cmocka_unit_test(test_gemm_f32_hs32),    cmocka_unit_test(test_gemm_bf16),
        cmocka_unit_test(test_gemm_bf16_nodrop), cmocka_unit_test(test_gemm_bf16_hs32), cmocka_unit_test(test_gemm_fp16),
        cmocka_unit_test(test_gemm_bert_bf16), cmocka_unit_test(test_cudnn_bf16),       cmocka_unit_test(test_cudnn_fp16),
        cmocka_unit_test(test_cudnn_bert_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
