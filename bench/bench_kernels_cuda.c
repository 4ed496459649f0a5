// Per-kernel times of the CUDA backend at distilbert-base training shapes, each beside its floor.
//
//   build/bench/bench_kernels_cuda [B] [T]        (default B=32, T=512; bf16 then fp32)
//
// Every op of the op list (include/aca/ops_list.h) in its order on the GEMM attention path, then the
// attention ops again on the cuDNN path (bf16) where this build and GPU have it.  A CORE or DP op
// without a bench here does not compile, and one that is never timed fails the run (bench_coverage.h).
//
// Each op is timed with CUDA events on the backend's stream (3 warm-up calls, median of 20) on
// random inputs.  Floors use the two ceilings measured here first: device-to-device copy bandwidth
// (bytes read + written) and the bf16 / fp32 matmul rate of an 8192^3 linear_forward through our
// cuBLASLt path.  floor = max(bytes / bandwidth, FLOPs / matmul rate); "x floor" = time / floor.
// Attention FLOPs are counted against the matmul rate (both paths run on tensor cores).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/ops.h"
#include "aca/util.h"
#include "bench_coverage.h"

#ifndef ACA_HAVE_CUDA
int main(void) {
    printf("bench_kernels_cuda: this build has no CUDA backend (nvcc not found)\n");
    return 0;
}
#else
#include "../kernels/cuda/aca_cuda.h"

typedef struct {
    aca_backend *be;
    aca_op op;   // what run_op runs
    int peak;    // 1: run_op runs the 8192^3 matmul (the ceiling) instead
    int gram;    // ghost_linear's form
    int B, T, C, NH, F, V, N;
    int IC, OC; // linear shapes
    void *x, *y, *z, *qkv, *dqkv, *att_out, *att_state, *w, *bias, *ffh, *ffh2, *logits;
    float *g32, *dw32, *db32, *mean, *rstd, *p32, *m32, *v32, *losses;
    int32_t *ids, *mask, *labels, *lens;
    double *sq;
    size_t nparams;
} bench_ctx;

// Runs c->op once on the context's buffers (bench_op sets the shapes).
static void run_op(void *vc) {
    bench_ctx *c = vc;
    aca_backend *be = c->be;
    const aca_ops *o = be->ops;
    size_t NC = (size_t)c->N * c->C, NF = (size_t)c->N * c->F;
    if (c->peak) {
        o->linear_forward(be, c->ffh2, c->ffh, c->dqkv, NULL, 8192, 8192, 8192);
        return;
    }
    switch (c->op) {
    case ACA_OP_embed_forward: o->embed_forward(be, c->x, c->ids, NULL, c->w, c->bias, NULL, c->B, c->T, c->C); break;
    case ACA_OP_embed_backward: o->embed_backward(be, c->dw32, c->db32, NULL, c->x, c->ids, NULL, c->B, c->T, c->C, 0); break;
    // linear: in = ffh (N,IC), out = ffh2 (N,OC), din = dqkv (N,IC)
    case ACA_OP_linear_forward: o->linear_forward(be, c->ffh2, c->ffh, c->w, c->bias, c->N, c->IC, c->OC); break;
    case ACA_OP_linear_backward:
        o->linear_backward(be, c->dqkv, c->dw32, c->db32, c->ffh2, c->ffh, c->w, c->N, c->IC, c->OC, 0);
        break;
    case ACA_OP_layernorm_forward:
        o->layernorm_forward(be, c->y, c->mean, c->rstd, c->x, c->w, c->bias, c->N, c->C, 1e-12f);
        break;
    case ACA_OP_layernorm_backward:
        o->layernorm_backward(be, c->z, c->dw32, c->db32, c->y, c->x, c->w, c->mean, c->rstd, c->N, c->C, 0);
        break;
    case ACA_OP_add: o->add(be, c->z, c->x, c->y, NC); break;
    case ACA_OP_act_forward: o->act_forward(be, ACA_ACT_GELU, c->ffh2, c->ffh, NF); break;
    case ACA_OP_act_backward: o->act_backward(be, ACA_ACT_GELU, c->ffh2, c->ffh2, c->ffh, NF); break;
    case ACA_OP_dropout_forward: o->dropout_forward(be, c->z, c->x, NC, 0.1f, 1234); break;
    case ACA_OP_dropout_backward: o->dropout_backward(be, c->z, c->y, NC, 0.1f, 1234); break;
    case ACA_OP_attention_forward:
        o->attention_forward(be, c->att_out, c->att_state, c->qkv, c->mask, c->B, c->T, c->C, c->NH, 0.1f, 99);
        break;
    case ACA_OP_attention_backward:
        o->attention_backward(be, c->dqkv, c->x, c->qkv, c->att_out, c->att_state, c->mask, c->B, c->T, c->C, c->NH,
                              0.1f, 99);
        break;
    case ACA_OP_cls_gather: o->cls_gather(be, c->y, c->x, c->B, c->T, c->C); break;
    case ACA_OP_cls_scatter: o->cls_scatter(be, c->z, c->y, c->B, c->T, c->C); break;
    case ACA_OP_cross_entropy: o->cross_entropy(be, c->losses, c->y, c->logits, c->labels, c->B, 2, 1.0f / c->B); break;
    case ACA_OP_sumsq: (void)o->sumsq(be, c->g32, c->nparams); break;
    case ACA_OP_adamw: {
        aca_adamw h = {.lr = 1e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                       .grad_scale = 1.0f, .t = 1};
        o->adamw(be, c->p32, c->g32, c->m32, c->v32, c->ffh2, c->nparams, c->nparams / 2, &h);
        break;
    }
    case ACA_OP_ghost_linear:
        o->ghost_linear(be, c->sq, c->sq, c->ffh2, c->ffh, c->lens, c->B, c->T, c->IC, c->OC, c->gram);
        break;
    case ACA_OP_ghost_layernorm: o->ghost_layernorm(be, c->sq, c->y, c->x, c->mean, c->rstd, c->lens, c->B, c->T, c->C); break;
    case ACA_OP_ghost_embed:
        o->ghost_embed(be, c->sq, c->sq, NULL, c->x, c->ids, NULL, c->lens, c->B, c->T, c->C, 0);
        break;
    case ACA_OP_scale_rows: o->scale_rows(be, c->z, c->rstd, c->N, c->C); break;
    case ACA_OP_dp_noise: o->dp_noise(be, c->g32, 0, c->nparams, 1e-3, 5, 1); break;
    default: // bench_op times only the ops above
        fprintf(stderr, "bench_kernels_cuda: run_op has no case for '%s'\n", aca_op_name(c->op));
        exit(1);
    }
}

static uint64_t g_lcg = 88172645463325252ULL;
static float lcg_uniform(void) { // [-1, 1)
    g_lcg = g_lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((g_lcg >> 40) * (2.0 / 16777216.0) - 1.0);
}

static void *dev_rand(aca_backend *be, size_t n, float scale, int f32) {
    aca_err e = {0};
    void *d = be->ops->alloc(be, n * (f32 ? 4 : aca_dtype_size(be->dtype)), &e);
    if (!d) {
        fprintf(stderr, "bench_kernels_cuda: %s\n", e.msg);
        exit(1);
    }
    float *h = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = scale * lcg_uniform();
    if (f32)
        be->ops->upload(be, d, h, n * 4);
    else
        be->ops->from_f32(be, d, h, n);
    be->ops->sync(be);
    free(h);
    return d;
}

// n ints uniform in [0, mod), or all 1 when mod == 0 (a mask without padding).
static int32_t *dev_ints(aca_backend *be, size_t n, int mod) {
    aca_err e = {0};
    int32_t *d = be->ops->alloc(be, n * 4, &e), *h = xmalloc(n * 4);
    if (!d) {
        fprintf(stderr, "bench_kernels_cuda: %s\n", e.msg);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        g_lcg = g_lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        h[i] = mod > 0 ? (int32_t)((g_lcg >> 33) % (uint64_t)mod) : 1;
    }
    be->ops->upload(be, d, h, n * 4);
    be->ops->sync(be);
    free(h);
    return d;
}

static double g_gbps, g_tflops;

static bench_coverage g_cov;

// Times op at the context's shapes and prints its row beside its floor.
static void report(bench_ctx *c, aca_op op, const char *name, const char *shape, double bytes, double flops) {
    c->op = op;
    double ms = aca_cuda_time_ms(c->be, run_op, c, 3, 20);
    bench_timed(&g_cov, op);
    double fb = bytes / (g_gbps * 1e9) * 1e3, ff = flops / (g_tflops * 1e12) * 1e3;
    double floor = fb > ff ? fb : ff;
    printf("| %s | %-14s | %-26s | %9.3f | %9.3f | %-5s | %6.1f |\n", aca_dtype_name(c->be->dtype), name, shape, ms, floor,
           fb > ff ? "bytes" : "flops", ms / floor);
}

// The rows of op (a linear at each of a layer's four shapes, ghost_linear in both forms).
static void bench_op(bench_ctx *c, aca_op op) {
    size_t NC = (size_t)c->N * c->C, NF = (size_t)c->N * c->F, es = aca_dtype_size(c->be->dtype);
    int B = c->B, T = c->T, N = c->N;
    char shape[64];
    snprintf(shape, sizeof shape, "N=%d C=%d", N, c->C);
    double att = (double)B * c->NH * T * T * (c->C / c->NH);
    static const int LIN[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
    static const char *LIN_NAME[] = {"qkv", "attn_proj", "ffn_up", "ffn_down"};
    switch (op) {
    case ACA_OP_embed_forward: report(c, op, "embed_fwd", shape, 3.0 * NC * es + N * 4.0, 0); break;
    case ACA_OP_embed_backward: report(c, op, "embed_bwd", shape, NC * es + 2.0 * T * c->C * 4 + N * 4.0, 0); break;
    case ACA_OP_linear_forward:
    case ACA_OP_linear_backward:
        for (int li = 0; li < 4; li++) {
            c->IC = LIN[li][0], c->OC = LIN[li][1];
            double fl = 2.0 * N * c->IC * c->OC;
            snprintf(shape, sizeof shape, "%s %dx%dx%d", LIN_NAME[li], N, c->IC, c->OC);
            if (op == ACA_OP_linear_forward)
                report(c, op, "linear_fwd", shape, ((double)N * (c->IC + c->OC) + (double)c->IC * c->OC) * es, fl);
            else
                report(c, op, "linear_bwd", shape, ((double)N * (2 * c->IC + c->OC)) * es + c->IC * (double)c->OC * (es + 8), 2 * fl);
        }
        break;
    case ACA_OP_layernorm_forward: report(c, op, "layernorm_fwd", shape, 2.0 * NC * es + 8.0 * N, 0); break;
    case ACA_OP_layernorm_backward: report(c, op, "layernorm_bwd", shape, 3.0 * NC * es + 8.0 * N, 0); break;
    case ACA_OP_add: report(c, op, "add", shape, 3.0 * NC * es, 0); break;
    case ACA_OP_dropout_forward: report(c, op, "dropout_fwd", shape, 2.0 * NC * es, 0); break;
    case ACA_OP_dropout_backward: report(c, op, "dropout_bwd", shape, 2.0 * NC * es, 0); break;
    case ACA_OP_act_forward:
    case ACA_OP_act_backward:
        snprintf(shape, sizeof shape, "N=%d F=%d", N, c->F);
        if (op == ACA_OP_act_forward) report(c, op, "gelu_fwd", shape, 2.0 * NF * es, 0);
        else report(c, op, "gelu_bwd", shape, 3.0 * NF * es, 0);
        break;
    case ACA_OP_attention_forward:
    case ACA_OP_attention_backward:
        snprintf(shape, sizeof shape, "%s B=%d T=%d NH=%d HS=%d", aca_backend_attention_name(c->be), B, T, c->NH,
                 c->C / c->NH);
        if (op == ACA_OP_attention_forward) report(c, op, "attention_fwd", shape, 4.0 * NC * es, 4 * att);
        else report(c, op, "attention_bwd", shape, 8.0 * NC * es, 10 * att);
        break;
    case ACA_OP_cls_gather:
    case ACA_OP_cls_scatter:
        snprintf(shape, sizeof shape, "B=%d T=%d C=%d", B, T, c->C);
        if (op == ACA_OP_cls_gather) report(c, op, "cls_gather", shape, 2.0 * B * c->C * es, 0);
        else report(c, op, "cls_scatter", shape, (NC + (double)B * c->C) * es, 0);
        break;
    case ACA_OP_cross_entropy:
        snprintf(shape, sizeof shape, "B=%d K=2", B);
        report(c, op, "cross_entropy", shape, B * 2.0 * es * 2 + B * 8.0, 0);
        break;
    case ACA_OP_sumsq:
    case ACA_OP_adamw:
    case ACA_OP_dp_noise:
        snprintf(shape, sizeof shape, "n=%zu", c->nparams);
        if (op == ACA_OP_sumsq) report(c, op, "sumsq", shape, 4.0 * c->nparams, 0);
        else if (op == ACA_OP_adamw) report(c, op, "adamw", shape, (7.0 * 4 + es) * c->nparams, 0);
        else report(c, op, "dp_noise", shape, 8.0 * c->nparams, 0);
        break;
    case ACA_OP_ghost_linear:
        c->IC = 768, c->OC = 2304;
        for (c->gram = 1; c->gram >= 0; c->gram--) {
            snprintf(shape, sizeof shape, "qkv B=%d T=%d %s", B, T, c->gram ? "gram" : "materialised");
            double io = (double)N * (c->IC + c->OC) * es;
            if (c->gram) report(c, op, "ghost_linear", shape, io, 2.0 * B * T * (double)T * (c->IC + c->OC));
            else report(c, op, "ghost_linear", shape, io + 8.0 * B * c->IC * c->OC, 2.0 * N * c->IC * c->OC);
        }
        break;
    case ACA_OP_ghost_layernorm: report(c, op, "ghost_layernorm", shape, 2.0 * NC * es + 8.0 * N, 0); break;
    case ACA_OP_ghost_embed: report(c, op, "ghost_embed", shape, NC * es + 8.0 * N, 0); break;
    case ACA_OP_scale_rows: report(c, op, "scale_rows", shape, 2.0 * NC * es + 4.0 * N, 0); break;
#define ACA_OP(group, ret, op, params) BENCH_UNTIMED_##group(op)
#include "aca/ops_list.h"
#undef ACA_OP
        break; // memory ops and queries: not timed
    }
}

static void bench_dtype(aca_dtype dt, int B, int T, const char *path) {
    aca_err e = {0};
    aca_backend *be = aca_backend_cuda_create(dt, &e);
    aca_shape sh = {B, T, 768, 12, 3072, 2, 30522, 0.1f}; // distilbert-base
    if (!be || aca_backend_set_attention(be, path, &e) || aca_backend_prepare(be, &sh, &e)) {
        if (be && !strcmp(path, "cudnn")) {
            printf("skipped: attention on the cudnn path (%s): %s\n", aca_dtype_name(dt), e.msg);
            aca_backend_destroy(be);
            return;
        }
        fprintf(stderr, "bench_kernels_cuda: %s\n", e.msg);
        exit(1);
    }
    int only_attention = !strcmp(path, "cudnn");
    bench_ctx c = {0};
    c.be = be, c.B = B, c.T = T, c.C = 768, c.NH = 12, c.F = 3072, c.V = 30522, c.N = B * T;
    size_t NC = (size_t)c.N * c.C, NF = (size_t)c.N * c.F;
    size_t big = NF > (size_t)8192 * 8192 ? NF : (size_t)8192 * 8192;
    c.x = dev_rand(be, NC, 1, 0), c.y = dev_rand(be, NC, 1, 0), c.z = dev_rand(be, NC, 1, 0);
    c.qkv = dev_rand(be, 3 * NC, 1, 0);
    c.dqkv = dev_rand(be, big > 3 * NC ? big : 3 * NC, 0.02f, 0);
    c.att_out = dev_rand(be, NC, 1, 0);
    c.att_state = be->ops->alloc(be, be->ops->attention_state_bytes(be, B, T, c.C, c.NH), &e);
    c.w = dev_rand(be, (size_t)c.V * c.C > (size_t)c.F * c.C ? (size_t)c.V * c.C : (size_t)c.F * c.C, 0.02f, 0);
    c.bias = dev_rand(be, (size_t)512 * c.C > (size_t)c.F ? (size_t)512 * c.C : (size_t)c.F, 0.02f, 0);
    c.ffh = dev_rand(be, big, 1, 0), c.ffh2 = dev_rand(be, big, 1, 0);
    c.logits = dev_rand(be, (size_t)B * 2, 1, 0);
    c.nparams = 66955010; // distilbert-base-uncased + a 2-class head
    c.dw32 = dev_rand(be, (size_t)c.V * c.C, 0, 1), c.db32 = dev_rand(be, (size_t)512 * c.C, 0, 1);
    c.mean = dev_rand(be, c.N, 0, 1), c.rstd = dev_rand(be, c.N, 1, 1), c.losses = dev_rand(be, B, 0, 1);
    c.g32 = dev_rand(be, c.nparams, 0.01f, 1), c.p32 = dev_rand(be, c.nparams, 0.05f, 1);
    c.m32 = dev_rand(be, c.nparams, 0.001f, 1), c.v32 = dev_rand(be, c.nparams, 0.001f, 1);
    c.ids = dev_ints(be, c.N, c.V), c.mask = dev_ints(be, c.N, 0), c.labels = dev_ints(be, B, 2);
    c.lens = NULL, c.sq = (double *)dev_rand(be, 2 * (size_t)B, 0, 1); // every example T rows; B doubles, zero
    printf("\n%s, attention path %s%s\n", aca_dtype_name(dt), aca_backend_attention_name(be),
           only_attention ? " (attention ops only)" : "");

    // The matmul ceiling for this dtype.
    c.peak = 1;
    double ms = aca_cuda_time_ms(be, run_op, &c, 3, 10);
    c.peak = 0;
    g_tflops = 2.0 * 8192.0 * 8192.0 * 8192.0 / (ms * 1e-3) / 1e12;
    printf("\n%s: linear_forward 8192^3 %.3f ms = %.1f TFLOP/s (matmul ceiling); copy %.0f GB/s\n\n",
           aca_dtype_name(dt), ms, g_tflops, g_gbps);
    printf("| dtype | op | shape | ms | floor ms | bound | x floor |\n|---|---|---|---|---|---|---|\n");

    for (int k = 0; k < ACA_OP_COUNT; k++)
        if (!only_attention || k == ACA_OP_attention_forward || k == ACA_OP_attention_backward) bench_op(&c, (aca_op)k);
    aca_backend_destroy(be); // frees the backend's own state; the process exit frees the buffers
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 32, T = argc > 2 ? atoi(argv[2]) : 512;
    if (B <= 0 || T <= 0 || T > 512) {
        fprintf(stderr, "usage: bench_kernels_cuda [B] [T<=512]\n");
        return 1;
    }
    aca_err e = {0};
    aca_backend *probe = aca_backend_cuda_create(ACA_DT_F32, &e);
    if (!probe) {
        fprintf(stderr, "bench_kernels_cuda: %s\n", e.msg);
        return 1;
    }
    char dev[256], when[32];
    aca_cuda_describe(dev, sizeof dev);
    time_iso8601(when, sizeof when);
    g_gbps = aca_cuda_copy_gbps(probe, (size_t)1 << 30);
    aca_backend_destroy(probe);
    printf("device: %s\ndate: %s  revision: %s\ncopy bandwidth (read+write): %.0f GB/s\n", dev, when,
           aca_git_revision(), g_gbps);
    bench_dtype(ACA_DT_BF16, B, T, "gemm");
    bench_dtype(ACA_DT_BF16, B, T, "cudnn");
    bench_dtype(ACA_DT_F32, B, T, "gemm");
    return bench_coverage_check("bench_kernels_cuda", &g_cov);
}
#endif
