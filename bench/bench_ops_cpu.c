// Times every CPU op (through the ops table, the shipped kernels) at distilbert-base training shapes:
// B=8, T=512, C=768, NH=12, FFN 3072, vocab 30522, 66M parameters.  Median of --reps runs after one
// warm-up; prints GFLOP/s for GEMM-bound ops and GB/s (bytes read + written once) for the rest, and
// a per-step estimate: 6 layers of (qkv, out, lin1, lin2 linears; attention; 2 LayerNorms; GELU;
// 2 dropouts; 2 residual adds) forward + backward, plus embeddings and AdamW.  The ops are timed in
// the order of the op list, which main walks: a CORE or DP op without a bench here does not compile,
// and one that times nothing fails the run (bench_coverage.h).  The DP ops are not in the estimate.
//   usage: bench_ops_cpu [--reps N] [--batch B] [--seq T]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "aca/ops.h"
#include "aca/util.h"
#include "bench_coverage.h"

enum { C = 768, NH = 12, F = 3072, V = 30522, L = 6, K = 2 };
static const size_t NP = 66955010; // distilbert-base-uncased + a 2-class head

typedef struct {
    aca_backend *be;
    int reps, B, T, N;
    size_t nact, nqkv, nf; // N*C, N*3C, N*F
    // inputs and outputs, host memory (the CPU backend's "device")
    float *x, *y, *dx, *w, *bb, *mean, *rstd, *dw, *db, *qkv, *att, *dqkv, *st, *h, *hg, *dh, *wte, *wpe, *logits, *losses;
    float *p, *g, *m, *v;
    int32_t *ids, *mask, *labels, *lens;
    double *sq;
    double layer, emb, opt; // seconds of one layer fwd+bwd, embeddings, optimizer (the step estimate)
    aca_op op;              // the op being benched
    bench_coverage cov;
} bench;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Runs fn reps+1 times and returns the median of the last reps wall times (seconds); marks the op
// being benched as timed.
#define TIME_MEDIAN(bm, out, stmt)                                                                     \
    do {                                                                                               \
        bench_timed(&(bm)->cov, (bm)->op);                                                             \
        double ts_[64];                                                                                \
        int r_ = (bm)->reps < 64 ? (bm)->reps : 63;                                                    \
        stmt;                                                                                          \
        for (int i_ = 0; i_ < r_; i_++) {                                                              \
            double t0_ = time_now();                                                                   \
            stmt;                                                                                      \
            ts_[i_] = time_now() - t0_;                                                                \
        }                                                                                              \
        qsort(ts_, (size_t)r_, sizeof(double), cmp_double);                                            \
        (out) = ts_[r_ / 2];                                                                           \
    } while (0)

static float *frand(size_t n, uint64_t seed) {
    aca_rng r;
    rng_seed(&r, seed, 0);
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_uniform(&r) * 2 - 1);
    return x;
}

static void row(const char *name, double s, double gflop, double gbytes) {
    printf("%-34s %9.2f ms", name, s * 1e3);
    if (gflop > 0) printf("  %7.1f GFLOP/s", gflop / s);
    if (gbytes > 0) printf("  %7.2f GB/s", gbytes / s);
    printf("\n");
}

static float *fzero(size_t n) { return xcalloc(n ? n : 1, sizeof(float)); }

static void bench_init(bench *bm, aca_backend *be, int reps, int B, int T) {
    memset(bm, 0, sizeof *bm);
    bm->be = be, bm->reps = reps, bm->B = B, bm->T = T, bm->N = B * T;
    size_t N = (size_t)bm->N;
    bm->nact = N * C, bm->nqkv = N * 3 * C, bm->nf = N * F;
    bm->x = frand(bm->nact, 8), bm->y = fzero(bm->nact), bm->dx = fzero(bm->nact);
    bm->w = frand((size_t)F * C, 2), bm->bb = frand(F, 10); // the largest linear weight (OC,IC), and biases
    bm->mean = fzero(N), bm->rstd = fzero(N), bm->dw = fzero((size_t)F * C), bm->db = fzero(F);
    bm->qkv = frand(bm->nqkv, 5), bm->att = frand(bm->nact, 6), bm->dqkv = fzero(bm->nqkv);
    bm->st = xmalloc(be->ops->attention_state_bytes(be, B, T, C, NH));
    bm->h = frand(bm->nf, 12), bm->hg = fzero(bm->nf), bm->dh = fzero(bm->nf);
    bm->wte = fzero((size_t)V * C), bm->wpe = fzero((size_t)T * C), bm->logits = frand((size_t)B * K, 15);
    bm->losses = fzero(B);
    bm->p = frand(NP, 13), bm->g = frand(NP, 14), bm->m = fzero(NP), bm->v = fzero(NP);
    bm->ids = xmalloc(N * sizeof(int32_t)), bm->mask = xmalloc(N * sizeof(int32_t));
    bm->labels = xmalloc((size_t)B * sizeof(int32_t)), bm->lens = xmalloc((size_t)B * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) {
        bm->ids[i] = (int32_t)((i * 7919u) % V);
        bm->mask[i] = (int)(i % T) < T - T / 8; // the last eighth of each row is padding
    }
    for (int b = 0; b < B; b++) bm->labels[b] = b % K, bm->lens[b] = T - T / 8;
    bm->sq = xcalloc((size_t)B, sizeof(double));
}

static void bench_free(bench *bm) {
    float *f[] = {bm->x, bm->y, bm->dx, bm->w, bm->bb, bm->mean, bm->rstd, bm->dw, bm->db, bm->qkv, bm->att, bm->dqkv,
                  bm->st, bm->h, bm->hg, bm->dh, bm->wte, bm->wpe, bm->logits, bm->losses, bm->p, bm->g, bm->m, bm->v};
    for (size_t i = 0; i < ACA_ARRAY_LEN(f); i++) free(f[i]);
    free(bm->ids), free(bm->mask), free(bm->labels), free(bm->lens), free(bm->sq);
}

// The four linears of a layer, forward or backward: (N, IC) -> OC.
static void bench_linears(bench *bm, int backward) {
    static const int SHAPE[4][2] = {{C, 3 * C}, {C, C}, {C, F}, {F, C}};
    static const char *const NAME[4] = {"qkv  768->2304", "out  768->768", "lin1 768->3072", "lin2 3072->768"};
    const aca_ops *o = bm->be->ops;
    int N = bm->N;
    for (int k = 0; k < 4; k++) {
        int IC = SHAPE[k][0], OC = SHAPE[k][1];
        double t, fl = 2.0 * N * IC * OC / 1e9; // in h (N,IC), out hg (N,OC), din dh (N,IC)
        if (backward)
            TIME_MEDIAN(bm, t, o->linear_backward(bm->be, bm->dh, bm->dw, bm->db, bm->hg, bm->h, bm->w, N, IC, OC, 0));
        else
            TIME_MEDIAN(bm, t, o->linear_forward(bm->be, bm->hg, bm->h, bm->w, bm->bb, N, IC, OC));
        char nm[64];
        snprintf(nm, sizeof nm, "linear %s %s", backward ? "bwd" : "fwd", NAME[k]);
        row(nm, t, backward ? 2 * fl : fl, 0);
        bm->layer += t;
    }
}

// The DP-SGD ops at the same shapes: per-example norms of the qkv linear (both forms), a LayerNorm and
// the embeddings, the reweighting of (N, C) rows, the noise over every parameter.
static void bench_ghost_linear(bench *bm) {
    const aca_ops *o = bm->be->ops;
    for (int gram = 1; gram >= 0; gram--) {
        double t;
        TIME_MEDIAN(bm, t, o->ghost_linear(bm->be, bm->sq, bm->sq, bm->hg, bm->h, bm->lens, bm->B, bm->T, C, 3 * C, gram));
        double fl = gram ? 2.0 * bm->B * bm->T * (double)bm->T * (C + 3 * C) / 1e9 : 2.0 * bm->N * C * 3.0 * C / 1e9;
        row(gram ? "ghost_linear qkv (Gram form)" : "ghost_linear qkv (materialised)", t, fl, 0);
    }
}

static void bench_op(bench *bm, aca_op op) {
    const aca_ops *o = bm->be->ops;
    aca_backend *be = bm->be;
    int B = bm->B, T = bm->T, N = bm->N;
    size_t nact = bm->nact, nf = bm->nf;
    double t, gb = nact * 4.0 / 1e9;
    bm->op = op;
    switch (op) {
    case ACA_OP_embed_forward:
        TIME_MEDIAN(bm, t, o->embed_forward(be, bm->y, bm->ids, NULL, bm->wte, bm->wpe, NULL, B, T, C));
        row("embed fwd", t, 0, 2 * gb), bm->emb += t;
        break;
    case ACA_OP_embed_backward:
        TIME_MEDIAN(bm, t, o->embed_backward(be, bm->wte, bm->wpe, NULL, bm->x, bm->ids, NULL, B, T, C, 0));
        row("embed bwd", t, 0, 2 * gb), bm->emb += t;
        break;
    case ACA_OP_linear_forward: bench_linears(bm, 0); break;
    case ACA_OP_linear_backward: bench_linears(bm, 1); break;
    case ACA_OP_layernorm_forward:
        TIME_MEDIAN(bm, t, o->layernorm_forward(be, bm->y, bm->mean, bm->rstd, bm->x, bm->w, bm->bb, N, C, 1e-12f));
        row("layernorm fwd", t, 0, 2 * gb), bm->layer += 2 * t;
        break;
    case ACA_OP_layernorm_backward:
        TIME_MEDIAN(bm, t, o->layernorm_backward(be, bm->dx, bm->dw, bm->db, bm->y, bm->x, bm->w, bm->mean, bm->rstd, N, C, 0));
        row("layernorm bwd", t, 0, 3 * gb), bm->layer += 2 * t;
        break;
    case ACA_OP_add:
        TIME_MEDIAN(bm, t, o->add(be, bm->y, bm->x, bm->y, nact));
        row("add (residual)", t, 0, 3 * gb), bm->layer += 2 * t;
        break;
    case ACA_OP_act_forward:
        TIME_MEDIAN(bm, t, o->act_forward(be, ACA_ACT_GELU, bm->hg, bm->h, nf));
        row("gelu fwd (B,T,4C)", t, 0, 8 * gb), bm->layer += t;
        break;
    case ACA_OP_act_backward:
        TIME_MEDIAN(bm, t, o->act_backward(be, ACA_ACT_GELU, bm->hg, bm->hg, bm->h, nf));
        row("gelu bwd (B,T,4C)", t, 0, 12 * gb), bm->layer += t;
        break;
    case ACA_OP_dropout_forward:
        TIME_MEDIAN(bm, t, o->dropout_forward(be, bm->y, bm->x, nact, 0.1f, 11));
        row("dropout fwd (B,T,C)", t, 0, 2 * gb), bm->layer += t;
        break;
    case ACA_OP_dropout_backward:
        TIME_MEDIAN(bm, t, o->dropout_backward(be, bm->dx, bm->y, nact, 0.1f, 11));
        row("dropout bwd (B,T,C)", t, 0, 2 * gb), bm->layer += t;
        break;
    case ACA_OP_attention_forward: {
        double fl = 4.0 * B * NH * (double)T * T * (C / NH) / 1e9;
        TIME_MEDIAN(bm, t, o->attention_forward(be, bm->att, bm->st, bm->qkv, bm->mask, B, T, C, NH, 0.1f, 7));
        row("attention fwd (p=0.1)", t, fl, 0), bm->layer += t;
        printf("%-34s %9.1f MB\n", "attention state", o->attention_state_bytes(be, B, T, C, NH) / 1e6);
        break;
    }
    case ACA_OP_attention_backward: {
        double fl = 8.0 * B * NH * (double)T * T * (C / NH) / 1e9;
        TIME_MEDIAN(bm, t, o->attention_backward(be, bm->dqkv, bm->att, bm->qkv, bm->att, bm->st, bm->mask, B, T, C, NH, 0.1f, 7));
        row("attention bwd (p=0.1)", t, fl, 0), bm->layer += t;
        break;
    }
    case ACA_OP_cls_gather:
        TIME_MEDIAN(bm, t, o->cls_gather(be, bm->y, bm->x, B, T, C));
        row("cls gather (B,C)", t, 0, 0);
        break;
    case ACA_OP_cls_scatter:
        TIME_MEDIAN(bm, t, o->cls_scatter(be, bm->dx, bm->y, B, T, C));
        row("cls scatter (B,T,C)", t, 0, gb);
        break;
    case ACA_OP_cross_entropy:
        TIME_MEDIAN(bm, t, o->cross_entropy(be, bm->losses, bm->y, bm->logits, bm->labels, B, K, 1.0f / B));
        row("cross entropy (B,2)", t, 0, 0);
        break;
    case ACA_OP_sumsq:
        TIME_MEDIAN(bm, t, (void)o->sumsq(be, bm->g, NP));
        row("sumsq (66M)", t, 0, NP * 4.0 / 1e9), bm->opt += t;
        break;
    case ACA_OP_adamw: {
        aca_adamw hp = {.lr = 5e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f, .grad_scale = 1, .t = 1};
        TIME_MEDIAN(bm, t, o->adamw(be, bm->p, bm->g, bm->m, bm->v, NULL, NP, NP / 2, &hp));
        row("adamw (66M)", t, 0, NP * 28.0 / 1e9), bm->opt += t;
        break;
    }
    case ACA_OP_ghost_linear: bench_ghost_linear(bm); break;
    case ACA_OP_ghost_layernorm:
        TIME_MEDIAN(bm, t, o->ghost_layernorm(be, bm->sq, bm->y, bm->x, bm->mean, bm->rstd, bm->lens, B, T, C));
        row("ghost_layernorm", t, 0, 2 * gb);
        break;
    case ACA_OP_ghost_embed:
        TIME_MEDIAN(bm, t, o->ghost_embed(be, bm->sq, bm->sq, NULL, bm->x, bm->ids, NULL, bm->lens, B, T, C, 0));
        row("ghost_embed (wte, wpe)", t, 0, gb);
        break;
    case ACA_OP_scale_rows:
        TIME_MEDIAN(bm, t, o->scale_rows(be, bm->y, bm->rstd, N, C));
        row("scale_rows (B*T,C)", t, 0, 2 * gb);
        break;
    case ACA_OP_dp_noise:
        TIME_MEDIAN(bm, t, o->dp_noise(be, bm->g, 0, NP, 1e-3, 5, 1));
        row("dp_noise (66M)", t, 0, NP * 8.0 / 1e9);
        break;
#define ACA_OP(group, ret, op, params) BENCH_UNTIMED_##group(op)
#include "aca/ops_list.h"
#undef ACA_OP
        break; // memory ops and queries: not timed
    }
}

int main(int argc, char **argv) {
    long reps = 3, B = 8, T = 512;
    aca_err e = {0};
    for (int i = 1; i < argc; i++) {
        long *dst = !strcmp(argv[i], "--reps") ? &reps : !strcmp(argv[i], "--batch") ? &B : !strcmp(argv[i], "--seq") ? &T : NULL;
        const char *opt = argv[i];
        if (!dst || i + 1 >= argc || parse_long(argv[++i], dst, opt, &e) || *dst < 1) {
            fprintf(stderr, "usage: bench_ops_cpu [--reps N] [--batch B] [--seq T]%s%s\n", e.msg[0] ? "\n  " : "", e.msg);
            return 2;
        }
    }
    aca_backend *be = aca_backend_cpu_create(&e);
    if (!be) {
        fprintf(stderr, "bench_ops_cpu: %s\n", e.msg);
        return 1;
    }
    bench bm;
    bench_init(&bm, be, (int)reps, (int)B, (int)T);
    char when[32];
    time_iso8601(when, sizeof when);
    printf("bench_ops_cpu: B=%ld T=%ld C=%d NH=%d FFN=%d; %d OpenMP threads; median of %ld; %s; rev %s\n", B, T, C,
           NH, F, omp_get_max_threads(), reps, when, aca_git_revision());
    for (int k = 0; k < ACA_OP_COUNT; k++) bench_op(&bm, (aca_op)k);
    printf("%-34s %9.2f ms\n", "one layer fwd+bwd (sum of ops)", bm.layer * 1e3);
    printf("%-34s %9.2f s\n", "step estimate (6 layers + emb + opt)", L * bm.layer + bm.emb + bm.opt);
    int rc = bench_coverage_check("bench_ops_cpu", &bm.cov);
    bench_free(&bm);
    aca_backend_destroy(be);
    return rc;
}
