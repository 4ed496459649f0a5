// The whole-model comparison of a reduced-precision backend with the fp32 CPU backend, shared by
// tests/gpu/test_model_cuda.c (the CUDA backend, `make test-gpu`) and tests/test_model_emul.c (the
// CPU emulation of the CUDA backend's roundings, `make test`).
//
// A small model with identical fp32 master weights on both backends, one batch with T not a
// multiple of 64, padding and dropout on: the loss, the logits and every parameter gradient (per
// tensor, ||got-ref||/||ref||) must agree within 1e-4 in fp32 and 1e-2 in bf16/fp16; one AdamW step
// must give the same parameters; two runs with the same seed must be bit-identical.
//
// Gate flips.  DistilBERT's head is pre_classifier -> ReLU: B x C gates.  Rounding to bf16 moves a
// pre-activation by ~1e-3 (RMS ~0.23 here), so a gate whose pre-activation lies that close to 0 can
// be open on one backend and shut on the other, and every gradient flows through the head: one
// flipped gate of B*C = 512 moves every gradient tensor by several percent, which is not a kernel
// error.  So before comparing, the head's thresholds are moved away from this batch's
// pre-activations (the pre_classifier bias of each unit shifted by the smallest amount that leaves
// every pre-activation at least GATE_MARGIN from 0; the encoder does not depend on it), and the
// test prints how many gates still differ (a flip after that is a real error and fails).
#ifndef ACA_TESTS_MODEL_COMPARE_H
#define ACA_TESTS_MODEL_COMPARE_H

#include <stdlib.h>

#include "../kernels/cpu/half.h"
#include "aca/model.h"
#include "aca/ops.h"
#include "aca/util.h"
#include "testutil.h"

static double mc_relnorm(const float *got, const float *ref, size_t n, size_t *nonfinite) {
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

typedef struct {
    int expect_off;  // a case run to show a failure: off-tolerance lines say "off", not FAIL
    int failures;    // checks that failed (all are printed before the case fails)
    double worst;    // the largest relative error of a gradient tensor
    int gates_moved; // pre-activations that were within the margin before the thresholds moved
    int gates_differ;
} mc_stats;

// Relative L2 error within tol, or — for a tensor whose exact value is zero up to rounding, such as
// the key bias's gradient (softmax is shift-invariant) — every difference below atol.
static double mc_check_abs(mc_stats *st, const char *what, const float *got, const float *ref, size_t n, double tol,
                           double atol) {
    size_t nf = 0, worst = 0;
    double rel = mc_relnorm(got, ref, n, &nf), maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - ref[i]) > maxd) maxd = fabs((double)got[i] - ref[i]), worst = i;
    int bad = nf || !(rel <= tol || maxd <= atol);
    printf("%s %-44s n=%-9zu rel %.2e max|diff| %.2e worst [%zu] got %.7g want %.7g%s\n",
           bad ? (st->expect_off ? "off " : "FAIL") : "ok  ", what,
           n, rel, maxd, worst, n ? (double)got[worst] : 0.0, n ? (double)ref[worst] : 0.0, nf ? " NON-FINITE" : "");
    if (bad && !st->expect_off) print_error("%s: rel %.3g > %.3g or %zu non-finite\n", what, rel, tol, nf);
    st->failures += bad;
    return maxd <= atol ? 0.0 : rel;
}

static aca_config mc_config(aca_arch arch, int dim, int heads) {
    aca_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.vocab_size = 97;
    c.max_position = 160;
    c.type_vocab_size = arch == ACA_ARCH_BERT ? 2 : 0;
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

enum { MC_B = 4, MC_T = 133 };
typedef struct {
    int32_t ids[MC_B * MC_T], mask[MC_B * MC_T], labels[MC_B];
    aca_batch b;
} mc_batch;

// B=4, T=133: sequence 1 padded after 70 tokens, sequence 3 after 5.
static void mc_make_batch(mc_batch *bb, uint64_t seed) {
    aca_rng r;
    rng_seed(&r, seed, 0);
    for (int b = 0; b < MC_B; b++) {
        int len = b == 1 ? 70 : b == 3 ? 5 : MC_T;
        for (int t = 0; t < MC_T; t++) {
            int real = t < len;
            bb->mask[b * MC_T + t] = real;
            bb->ids[b * MC_T + t] = real ? 1 + (int32_t)rng_below(&r, 96) : 0;
        }
        bb->labels[b] = (int32_t)rng_below(&r, 3);
    }
    bb->b = (aca_batch){.ids = bb->ids, .mask = bb->mask, .type_ids = NULL, .labels = bb->labels, .B = MC_B, .T = MC_T};
}

enum { MC_FORWARD_SEED = 4242 };

// Forward (train, dropout on), backward; returns the loss and fills logits and grads.
static float mc_step(aca_model *m, const aca_batch *b, float *logits, float *grads) {
    aca_err e = {0};
    float loss = NAN;
    model_zero_grad(m);
    int rc = model_forward(m, b, 1, MC_FORWARD_SEED, logits, &loss, &e);
    if (rc) print_error("model_forward: %s\n", e.msg);
    assert_int_equal(rc, 0);
    model_backward(m, 1.0f);
    model_get_grads(m, grads);
    return loss;
}

// Head pre-activations z (B,C) of the last forward of m, as the backend computes them in dtype dt:
// the [CLS] state and the head's weights rounded to dt, fp32 sums, the result rounded to dt.
static void mc_head_preacts(const aca_model *m, const float *params, aca_dtype dt, float *z) {
    const aca_config *c = model_config(m);
    int B = MC_B, T = MC_T, C = c->dim;
    const aca_param_info *w = model_param_find(m, c->arch == ACA_ARCH_BERT ? "pooler.dense.weight" : "pre_classifier.weight");
    const aca_param_info *bi = model_param_find(m, c->arch == ACA_ARCH_BERT ? "pooler.dense.bias" : "pre_classifier.bias");
    assert_non_null(w);
    assert_non_null(bi);
    float *h = xmalloc((size_t)B * T * C * sizeof(float));
    aca_err e = {0};
    assert_int_equal(model_get_hidden(m, c->n_layers, h, &e), 0);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < C; o++) {
            float s = 0;
            for (int k = 0; k < C; k++)
                s += half_round(dt, params[w->offset + (size_t)o * C + k]) * half_round(dt, h[(size_t)b * T * C + k]);
            z[b * C + o] = half_round(dt, s + half_round(dt, params[bi->offset + o]));
        }
    free(h);
}

enum { MC_GATE_MARGIN_PERMILLE = 80 }; // margin = 0.08 x RMS of the pre-activations

// Shifts each head unit's bias by the smallest amount that leaves all B of its pre-activations at
// least `margin` from 0; returns how many pre-activations were inside the margin.
static int mc_move_thresholds(const aca_model *m, float *params, const float *z) {
    const aca_config *c = model_config(m);
    int B = MC_B, C = c->dim, inside = 0;
    const aca_param_info *bi = model_param_find(m, c->arch == ACA_ARCH_BERT ? "pooler.dense.bias" : "pre_classifier.bias");
    double ss = 0;
    for (int i = 0; i < B * C; i++) ss += (double)z[i] * z[i];
    double margin = MC_GATE_MARGIN_PERMILLE * 1e-3 * sqrt(ss / (B * C));
    for (int o = 0; o < C; o++) {
        double best = 0, cand[2 * MC_B + 1] = {0};
        for (int b = 0; b < B; b++) {
            inside += fabs(z[b * C + o]) < margin;
            cand[1 + 2 * b] = -z[b * C + o] + margin, cand[2 + 2 * b] = -z[b * C + o] - margin;
        }
        int found = 0;
        for (int k = 0; k < 2 * B + 1; k++) { // the smallest candidate shift that clears every point
            int ok = 1;
            for (int b = 0; b < B; b++) ok &= fabs(z[b * C + o] + cand[k]) >= margin * 0.999;
            if (ok && (!found || fabs(cand[k]) < fabs(best))) best = cand[k], found = 1;
        }
        params[bi->offset + o] += (float)best;
    }
    return inside;
}

static int mc_gates_differ(const float *za, const float *zb, int n) {
    int d = 0;
    for (int i = 0; i < n; i++) d += (za[i] > 0) != (zb[i] > 0);
    return d;
}

typedef aca_backend *(*mc_backend_fn)(aca_dtype dt, aca_err *e);

// dropout: bit 1 hidden, bit 2 attention probabilities, bit 4 classifier head (7 = all, as HF).
// immune: move the head's thresholds first.  Returns the statistics; fails the test when strict.
static mc_stats mc_run_case(mc_backend_fn make, aca_dtype dt, aca_arch arch, int dim, int heads, int dropout,
                            int immune, uint64_t init_seed, int strict) {
    aca_err e = {0};
    mc_stats st = {0};
    st.expect_off = !strict;
    aca_config cfg = mc_config(arch, dim, heads);
    if (!(dropout & 1)) cfg.dropout = 0.0f;
    if (!(dropout & 2)) cfg.attention_dropout = 0.0f;
    if (!(dropout & 4)) cfg.classifier_dropout = 0.0f;
    aca_backend *cpu = aca_backend_cpu_create(&e), *dev = make(dt, &e);
    assert_non_null(cpu);
    if (!dev) print_error("backend: %s\n", e.msg);
    assert_non_null(dev);
    mc_batch bb;
    mc_make_batch(&bb, 5);
    aca_model *mc = model_create(&cfg, cpu, MC_B, MC_T, &e), *mg = model_create(&cfg, dev, MC_B, MC_T, &e);
    assert_non_null(mc);
    assert_non_null(mg);
    size_t np = model_num_params(mc);
    assert_int_equal(np, model_num_params(mg));
    model_init_random(mc, init_seed);
    float *p = xmalloc(np * sizeof(float));
    model_get_params(mc, p);
    int K = cfg.num_labels, B = MC_B, C = dim, relu = arch == ACA_ARCH_DISTILBERT;
    float lc[16], lg[16];
    float *gc = xmalloc(np * sizeof(float)), *gg = xmalloc(np * sizeof(float));
    float *zc = xmalloc((size_t)B * C * sizeof(float)), *zg = xmalloc((size_t)B * C * sizeof(float));
    if (immune && relu) {
        mc_step(mc, &bb.b, lc, gc);
        mc_head_preacts(mc, p, ACA_DT_F32, zc);
        st.gates_moved = mc_move_thresholds(mc, p, zc);
        model_set_params(mc, p);
    }
    model_set_params(mg, p);

    float loss_c = mc_step(mc, &bb.b, lc, gc), loss_g = mc_step(mg, &bb.b, lg, gg);
    if (relu) {
        mc_head_preacts(mc, p, ACA_DT_F32, zc);
        mc_head_preacts(mg, p, dt, zg);
        st.gates_differ = mc_gates_differ(zc, zg, B * C);
    }
    double tol = dt == ACA_DT_F32 ? 1e-4 : 1e-2;
    char what[160];
    const char *an = arch == ACA_ARCH_BERT ? "bert" : "distilbert";
    printf("ok   %s %s %s C=%d NH=%d dropout=%d init seed %llu: head gates that differ: %d of %d%s (%d were within "
           "the margin before the thresholds moved)\n",
           make == aca_backend_emul_create ? "emul" : "device", an, aca_dtype_name(dt), dim, heads, dropout,
           (unsigned long long)init_seed, st.gates_differ, relu ? B * C : 0, relu ? "" : " (tanh head: no gates)",
           st.gates_moved);
    snprintf(what, sizeof what, "model %s C=%d NH=%d loss", aca_dtype_name(dt), dim, heads);
    mc_check_abs(&st, what, &loss_g, &loss_c, 1, tol, 0.0);
    // The logits are themselves stored in the compute dtype (bf16: 2^-9 relative per value) after a
    // classifier sum over C rounded inputs; 12 small values: twice the gradients' tolerance.
    snprintf(what, sizeof what, "model %s C=%d NH=%d logits", aca_dtype_name(dt), dim, heads);
    mc_check_abs(&st, what, lg, lc, (size_t)B * K, 2 * tol, 0.0);
    int n_info = 0;
    const aca_param_info *info = model_params(mc, &n_info);
    double gscale = 0;
    for (size_t i = 0; i < np; i++) gscale = fmax(gscale, fabs((double)gc[i]));
    for (int i = 0; i < n_info; i++) {
        snprintf(what, sizeof what, "grad %s %s", aca_dtype_name(dt), info[i].name);
        // the padding row of the word embeddings gets no gradient on either side
        double r = mc_check_abs(&st, what, gg + info[i].offset, gc + info[i].offset, info[i].numel, tol,
                                1e-3 * tol * gscale);
        st.worst = fmax(st.worst, r);
    }
    if (immune && st.gates_differ) {
        print_error("%d head gates differ after the thresholds moved away from the pre-activations\n", st.gates_differ);
        st.failures++;
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
    mc_check_abs(&st, what, pg, pc, np, dt == ACA_DT_F32 ? 1e-5 : 1e-3, dt == ACA_DT_F32 ? 0.0 : 2.001 * (double)h.lr);

    // Same seed twice on the backend under test: bit-identical loss and gradients.
    model_set_params(mg, p);
    float *g1 = xmalloc(np * sizeof(float)), *g2 = xmalloc(np * sizeof(float));
    float l1 = mc_step(mg, &bb.b, lg, g1), l2 = mc_step(mg, &bb.b, lg, g2);
    assert_memory_equal(&l1, &l2, sizeof l1);
    tu_check_bits("model gradients, same seed twice", g1, g2, np);
    printf("ok   model %s C=%d NH=%d: same seed twice gives bit-identical loss %.9g and gradients; worst gradient "
           "tensor rel %.2e\n",
           aca_dtype_name(dt), dim, heads, (double)l1, st.worst);

    free(p), free(gc), free(gg), free(pc), free(pg), free(g1), free(g2), free(zc), free(zg);
    model_free(mc);
    model_free(mg);
    aca_backend_destroy(cpu);
    aca_backend_destroy(dev);
    if (strict && st.failures) {
        print_error("%d checks failed\n", st.failures);
        fail();
    }
    return st;
}

#endif
