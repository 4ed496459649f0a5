// The GPU model test's comparisons (tests/model_compare.h) on the CPU emulation of the CUDA
// backend's roundings (aca_backend_emul_create): bf16 and fp16, dropout on, DistilBERT (ReLU head,
// its thresholds moved away from the batch's pre-activations) and BERT (tanh head); and the
// gate-flip failure itself: without moving the thresholds, a seed whose batch puts head
// pre-activations within bf16 rounding of 0 fails by several percent in every gradient.
//
//   ACA_GATE_SWEEP=N build/tests/test_model_emul    the experiment of bench/NOTES.md (2026-12-03):
//   N init seeds x {bf16, fp16} x {DistilBERT, BERT} x {dropout off, on} x {plain, thresholds moved}
#include "model_compare.h"

static void test_distilbert_bf16(void **state) {
    mc_run_case(aca_backend_emul_create, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 128, 2, 7, 1, 16, 1);
}
static void test_distilbert_fp16(void **state) {
    mc_run_case(aca_backend_emul_create, ACA_DT_F16, ACA_ARCH_DISTILBERT, 128, 2, 7, 1, 11, 1);
}
static void test_distilbert_bf16_hs32(void **state) {
    mc_run_case(aca_backend_emul_create, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 96, 3, 7, 1, 12, 1);
}
static void test_bert_bf16(void **state) {
    mc_run_case(aca_backend_emul_create, ACA_DT_BF16, ACA_ARCH_BERT, 128, 2, 7, 0, 16, 1);
}

// The original failure (README's "open defect"): init seed 16, dropout on, bf16, thresholds left
// where they are: two head gates flip and gradients are off by far more than rounding; the same
// seed with the thresholds moved passes (test_distilbert_bf16).
static void test_gate_flip_reproduced(void **state) {
    mc_stats st = mc_run_case(aca_backend_emul_create, ACA_DT_BF16, ACA_ARCH_DISTILBERT, 128, 2, 7, 0, 16, 0);
    printf("ok   without moving the thresholds: %d gates differ, worst gradient tensor rel %.2e, %d checks fail\n",
           st.gates_differ, st.worst, st.failures);
    assert_true(st.gates_differ > 0);
    assert_true(st.worst > 3e-2);
    assert_true(st.failures > 0);
}

static void sweep(int seeds) {
    for (int dt = ACA_DT_BF16; dt <= ACA_DT_F16; dt++)
        for (int arch = 0; arch <= 1; arch++)
            for (int drop = 0; drop <= 7; drop += 7)
                for (uint64_t s = 11; s < 11 + (uint64_t)seeds; s++)
                    for (int immune = 0; immune <= !arch; immune++) {
                        mc_stats st = mc_run_case(aca_backend_emul_create, (aca_dtype)dt, (aca_arch)arch, 128, 2, drop,
                                                  immune, s, 0);
                        printf("SWEEP %s %s drop=%d seed=%llu immune=%d: gates differ %d (moved %d), worst grad rel "
                               "%.3e, failures %d\n",
                               aca_dtype_name((aca_dtype)dt), arch ? "bert" : "distilbert", drop,
                               (unsigned long long)s, immune, st.gates_differ, st.gates_moved, st.worst, st.failures);
                    }
}

int main(void) {
    const char *seeds = getenv("ACA_GATE_SWEEP");
    if (seeds) {
        sweep(atoi(seeds));
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distilbert_bf16),      cmocka_unit_test(test_distilbert_fp16),
        cmocka_unit_test(test_distilbert_bf16_hs32), cmocka_unit_test(test_bert_bf16),
        cmocka_unit_test(test_gate_flip_reproduced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
