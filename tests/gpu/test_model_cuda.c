// Whole model on the CUDA backend vs the CPU backend (needs a GPU; run by `make test-gpu`).
//
// A small DistilBERT (head size 64 and 32, so both attention kernel widths run) with identical
// fp32 master weights on both backends, one batch with T not a multiple of 64, padding and dropout
// on: the loss, the logits and every parameter gradient (per tensor, ||got-ref||/||ref||) must agree
// within 1e-4 in fp32 and 1e-2 in bf16 (loss, logits) and per gradient tensor; one AdamW step must
// give the same parameters; and two runs with the same seed must give bit-identical losses and
// gradients on the GPU.
#include "../testutil.h"

#include <stdlib.h>

#include "aca/model.h"
#include "aca/ops.h"
#include "aca/util.h"

static double relnorm(const float *got, const float *ref, size_t n, size_t *nonfinite) {
    double num = 0, den = 0;
    *nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            (*nonfinite)++;
            continue;
        }
        double d = (double)got[i] - ref[i];
        num += d * d, den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static int g_failures; // checks that failed in the current case (all are printed before it fails)

// Relative L2 error within tol, or — for a tensor whose exact value is zero up to rounding, such as
// the key bias's gradient (softmax is shift-invariant, so d loss / d b_k = 0) — every difference
// below atol (a floor set from the scale of the whole model's values).
static void check_abs(const char *what, const float *got, const float *ref, size_t n, double tol, double atol) {
    size_t nf = 0, worst = 0;
    double rel = relnorm(got, ref, n, &nf), maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - ref[i]) > maxd) maxd = fabs((double)got[i] - ref[i]), worst = i;
    int bad = nf || !(rel <= tol || maxd <= atol);
    printf("%s %-44s n=%-9zu rel %.2e max|diff| %.2e worst [%zu] got %.7g want %.7g%s\n", bad ? "FAIL" : "ok  ", what,
           n, rel, maxd, worst, n ? (double)got[worst] : 0.0, n ? (double)ref[worst] : 0.0, nf ? " NON-FINITE" : "");
    if (bad) {
        print_error("%s: rel %.3g > %.3g or %zu non-finite\n", what, rel, tol, nf);
        g_failures++;
    }
}

static void check(const char *what, const float *got, const float *ref, size_t n, double tol) {
    check_abs(what, got, ref, n, tol, 0.0);
}

static aca_config tiny_config(int dim, int heads) {
    aca_config c;
    memset(&c, 0, sizeof c);
    c.arch = ACA_ARCH_DISTILBERT;
    c.vocab_size = 97;
    c.max_position = 160;
    c.dim = dim;
    c.n_layers = 2;
    c.n_heads = heads;
    c.hidden_dim = 4 * dim;
    c.activation = ACA_ACT_GELU;
    c.dropout = 0.1f;
    c.attention_dropout = 0.1f;
    c.classifier_dropout = 0.2f;
    c.initializer_range = 0.02f;
    c.layer_norm_eps = 1e-12f;
    c.pad_token_id = 0;
    c.num_labels = 3;
    return c;
}

typedef struct {
    int32_t ids[4 * 133], mask[4 * 133], labels[4];
    aca_batch b;
} batch_buf;

// B=4, T=133: batch 1 padded after 70 tokens, batch 3 after 5.
static void make_batch(batch_buf *bb, uint64_t seed) {
    aca_rng r;
    rng_seed(&r, seed, 0);
    int B = 4, T = 133;
    for (int b = 0; b < B; b++) {
        int len = b == 1 ? 70 : b == 3 ? 5 : T;
        for (int t = 0; t < T; t++) {
            int real = t < len;
            bb->mask[b * T + t] = real;
            bb->ids[b * T + t] = real ? 1 + (int32_t)rng_below(&r, 96) : 0;
        }
        bb->labels[b] = (int32_t)rng_below(&r, 3);
    }
    bb->b = (aca_batch){.ids = bb->ids, .mask = bb->mask, .type_ids = NULL, .labels = bb->labels, .B = B, .T = T};
}

// Forward (train, dropout on), backward; returns the loss and fills logits and grads.
static float step(aca_model *m, const aca_batch *b, float *logits, float *grads) {
    aca_err e = {0};
    float loss = NAN;
    model_zero_grad(m);
    int rc = model_forward(m, b, 1, 4242, logits, &loss, &e);
    if (rc) print_error("model_forward: %s\n", e.msg);
    assert_int_equal(rc, 0);
    model_backward(m, 1.0f);
    model_get_grads(m, grads);
    return loss;
}

// dropout: bit 1 hidden, bit 2 attention probabilities, bit 4 classifier head (7 = all, as HF)
static void run_case(aca_dtype dt, int dim, int heads, int dropout) {
    aca_err e = {0};
    g_failures = 0;
    aca_config cfg = tiny_config(dim, heads);
    if (!(dropout & 1)) cfg.dropout = 0.0f;
    if (!(dropout & 2)) cfg.attention_dropout = 0.0f;
    if (!(dropout & 4)) cfg.classifier_dropout = 0.0f;
    aca_backend *cpu = aca_backend_cpu_create(&e), *gpu = aca_backend_cuda_create(dt, &e);
    assert_non_null(cpu);
    if (!gpu) print_error("cuda backend: %s\n", e.msg);
    assert_non_null(gpu);
    batch_buf bb;
    make_batch(&bb, 5);
    aca_model *mc = model_create(&cfg, cpu, 4, 133, &e), *mg = model_create(&cfg, gpu, 4, 133, &e);
    assert_non_null(mc);
    assert_non_null(mg);
    size_t np = model_num_params(mc);
    assert_int_equal(np, model_num_params(mg));
    model_init_random(mc, 11);
    float *p = xmalloc(np * sizeof(float));
    model_get_params(mc, p);
    model_set_params(mg, p);

    int K = cfg.num_labels, B = bb.b.B;
    float lc[16], lg[16];
    float *gc = xmalloc(np * sizeof(float)), *gg = xmalloc(np * sizeof(float));
    float loss_c = step(mc, &bb.b, lc, gc), loss_g = step(mg, &bb.b, lg, gg);
    double tol = dt == ACA_DT_F32 ? 1e-4 : 1e-2;
    char what[160];
    snprintf(what, sizeof what, "model %s C=%d NH=%d loss", aca_dtype_name(dt), dim, heads);
    check(what, &loss_g, &loss_c, 1, tol);
    snprintf(what, sizeof what, "model %s C=%d NH=%d logits", aca_dtype_name(dt), dim, heads);
    check(what, lg, lc, (size_t)B * K, tol);
    int n_info = 0;
    const aca_param_info *info = model_params(mc, &n_info);
    double gscale = 0;
    for (size_t i = 0; i < np; i++) gscale = fmax(gscale, fabs((double)gc[i]));
    for (int i = 0; i < n_info; i++) {
        snprintf(what, sizeof what, "grad %s %s", aca_dtype_name(dt), info[i].name);
        // the padding row of the word embeddings gets no gradient on either side
        check_abs(what, gg + info[i].offset, gc + info[i].offset, info[i].numel, tol, 1e-3 * tol * gscale);
    }

    // One AdamW step from the same gradients.
    aca_adamw h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                   .grad_scale = 1.0f, .t = 1};
    model_adamw_step(mc, &h);
    model_adamw_step(mg, &h);
    float *pc = xmalloc(np * sizeof(float)), *pg = xmalloc(np * sizeof(float));
    model_get_params(mc, pc);
    model_get_params(mg, pg);
    snprintf(what, sizeof what, "model %s params after one AdamW step", aca_dtype_name(dt));
    // AdamW's first step moves every parameter by lr * g / (|g| + eps), i.e. by about ±lr: where a
    // near-zero gradient's sign differs after bf16/fp16 rounding the two moves differ by 2 lr.
    check_abs(what, pg, pc, np, dt == ACA_DT_F32 ? 1e-5 : 1e-3, dt == ACA_DT_F32 ? 0.0 : 2.001 * (double)h.lr);

    // Same seed twice on the GPU: bit-identical loss and gradients.
    model_set_params(mg, p);
    float *g1 = xmalloc(np * sizeof(float)), *g2 = xmalloc(np * sizeof(float));
    float l1 = step(mg, &bb.b, lg, g1), l2 = step(mg, &bb.b, lg, g2);
    assert_memory_equal(&l1, &l2, sizeof l1);
    tu_check_bits("model gradients, same seed twice", g1, g2, np);
    printf("ok   model %s C=%d NH=%d: same seed twice gives bit-identical loss %.9g and gradients\n",
           aca_dtype_name(dt), dim, heads, (double)l1);

    free(p), free(gc), free(gg), free(pc), free(pg), free(g1), free(g2);
    if (g_failures) {
        print_error("%d checks failed\n", g_failures);
        fail();
    }
    model_free(mc);
    model_free(mg);
    aca_backend_destroy(cpu);
    aca_backend_destroy(gpu);
}

static void test_model_f32_hs64(void **state) { run_case(ACA_DT_F32, 128, 2, 7); }
static void test_model_f32_hs32(void **state) { run_case(ACA_DT_F32, 96, 3, 7); }
static void test_model_bf16_hs64(void **state) { run_case(ACA_DT_BF16, 128, 2, 7); }
static void test_model_bf16_nodrop(void **state) { run_case(ACA_DT_BF16, 128, 2, 0); }
static void test_model_bf16_hidden_drop(void **state) { run_case(ACA_DT_BF16, 128, 2, 1); }
static void test_model_bf16_attn_drop(void **state) { run_case(ACA_DT_BF16, 128, 2, 2); }
static void test_model_bf16_head_drop(void **state) { run_case(ACA_DT_BF16, 128, 2, 4); }
static void test_model_fp16_hs64(void **state) { run_case(ACA_DT_F16, 128, 2, 7); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_f32_hs64),
        cmocka_unit_test(test_model_f32_hs32),
        cmocka_unit_test(test_model_bf16_hs64),
        cmocka_unit_test(test_model_bf16_nodrop),
        cmocka_unit_test(test_model_bf16_hidden_drop),
        cmocka_unit_test(test_model_bf16_attn_drop),
        cmocka_unit_test(test_model_bf16_head_drop),
        cmocka_unit_test(test_model_fp16_hs64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
