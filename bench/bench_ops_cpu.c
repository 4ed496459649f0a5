// Times every CPU op (through the ops table, the shipped kernels) at distilbert-base training shapes:
// B=8, T=512, C=768, NH=12, FFN 3072, vocab 30522, 66M parameters.  Median of --reps runs after one
// warm-up; prints GFLOP/s for GEMM-bound ops and GB/s (bytes read + written once) for the rest, and
// a per-step estimate: 6 layers of (qkv, out, lin1, lin2 linears; attention; 2 LayerNorms; GELU;
// 2 dropouts; 2 residual adds) forward + backward, plus embeddings and AdamW.
//   usage: bench_ops_cpu [--reps N] [--batch B] [--seq T]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "aca/ops.h"
#include "aca/util.h"

typedef struct {
    aca_backend *be;
    int reps;
} bench;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Runs fn reps+1 times and returns the median of the last reps wall times (seconds).
#define TIME_MEDIAN(bm, out, stmt)                                                                     \
    do {                                                                                               \
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

// Linear forward + backward at (N, IC) -> OC; returns the total time.
static double bench_linear(bench *bm, int N, int IC, int OC, const char *tag) {
    const aca_ops *o = bm->be->ops;
    float *in = frand((size_t)N * IC, 1), *w = frand((size_t)OC * IC, 2), *b = frand(OC, 3);
    float *out = frand((size_t)N * OC, 4), *din = xmalloc((size_t)N * IC * 4), *dw = calloc((size_t)OC * IC, 4);
    float *db = calloc(OC, 4);
    double tf, tb, fl = 2.0 * N * IC * OC / 1e9;
    TIME_MEDIAN(bm, tf, o->linear_forward(bm->be, out, in, w, b, N, IC, OC));
    TIME_MEDIAN(bm, tb, o->linear_backward(bm->be, din, dw, db, out, in, w, N, IC, OC, 0));
    char nm[64];
    snprintf(nm, sizeof nm, "linear fwd %s", tag);
    row(nm, tf, fl, 0);
    snprintf(nm, sizeof nm, "linear bwd %s", tag);
    row(nm, tb, 2 * fl, 0);
    free(in), free(w), free(b), free(out), free(din), free(dw), free(db);
    return tf + tb;
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
    const int C = 768, NH = 12, F = 3072, V = 30522, L = 6;
    const int N = (int)(B * T);
    const size_t NP = 66955010; // distilbert-base-uncased + a 2-class head
    bench bm = {aca_backend_cpu_create(&e), (int)reps};
    const aca_ops *o = bm.be->ops;
    char when[32];
    time_iso8601(when, sizeof when);
    printf("bench_ops_cpu: B=%ld T=%ld C=%d NH=%d FFN=%d; %d OpenMP threads; median of %ld; %s; rev %s\n", B, T, C,
           NH, F, omp_get_max_threads(), reps, when, aca_git_revision());

    double layer = 0, t;
    layer += bench_linear(&bm, N, C, 3 * C, "qkv  768->2304");
    layer += bench_linear(&bm, N, C, C, "out  768->768");
    layer += bench_linear(&bm, N, C, F, "lin1 768->3072");
    layer += bench_linear(&bm, N, F, C, "lin2 3072->768");

    size_t nqkv = (size_t)N * 3 * C, nact = (size_t)N * C;
    float *qkv = frand(nqkv, 5), *att = frand(nact, 6), *dqkv = xmalloc(nqkv * 4);
    int32_t *mask = xmalloc((size_t)N * sizeof(int32_t));
    for (int i = 0; i < N; i++) mask[i] = (i % T) < T - T / 8; // the last eighth of each row is padding
    size_t sb = o->attention_state_bytes(bm.be, (int)B, (int)T, (int)C, NH);
    float *st = xmalloc(sb);
    double att_fl = 4.0 * B * NH * (double)T * T * (C / NH) / 1e9;
    TIME_MEDIAN(&bm, t, o->attention_forward(bm.be, att, st, qkv, mask, (int)B, (int)T, C, NH, 0.1f, 7));
    row("attention fwd (p=0.1)", t, att_fl, 0), layer += t;
    TIME_MEDIAN(&bm, t, o->attention_backward(bm.be, dqkv, att, qkv, att, st, mask, (int)B, (int)T, C, NH, 0.1f, 7));
    row("attention bwd (p=0.1)", t, 2 * att_fl, 0), layer += t;
    printf("%-34s %9.1f MB\n", "attention state", sb / 1e6);

    float *x = frand(nact, 8), *y = xmalloc(nact * 4), *dx = xmalloc(nact * 4), *w = frand(C, 9), *bb = frand(C, 10);
    float *mean = xmalloc((size_t)N * 4), *rstd = xmalloc((size_t)N * 4), *dw = calloc(C, 4), *db = calloc(C, 4);
    double gb = nact * 4.0 / 1e9;
    TIME_MEDIAN(&bm, t, o->layernorm_forward(bm.be, y, mean, rstd, x, w, bb, N, C, 1e-12f));
    row("layernorm fwd", t, 0, 2 * gb), layer += 2 * t;
    TIME_MEDIAN(&bm, t, o->layernorm_backward(bm.be, dx, dw, db, y, x, w, mean, rstd, N, C, 0));
    row("layernorm bwd", t, 0, 3 * gb), layer += 2 * t;
    TIME_MEDIAN(&bm, t, o->add(bm.be, y, x, y, nact));
    row("add (residual)", t, 0, 3 * gb), layer += 2 * t;
    TIME_MEDIAN(&bm, t, o->dropout_forward(bm.be, y, x, nact, 0.1f, 11));
    row("dropout fwd (B,T,C)", t, 0, 2 * gb), layer += t;
    TIME_MEDIAN(&bm, t, o->dropout_backward(bm.be, dx, y, nact, 0.1f, 11));
    row("dropout bwd (B,T,C)", t, 0, 2 * gb), layer += t;
    size_t nf = (size_t)N * F;
    float *h = frand(nf, 12), *hg = xmalloc(nf * 4);
    TIME_MEDIAN(&bm, t, o->act_forward(bm.be, ACA_ACT_GELU, hg, h, nf));
    row("gelu fwd (B,T,4C)", t, 0, 8 * gb), layer += t;
    TIME_MEDIAN(&bm, t, o->act_backward(bm.be, ACA_ACT_GELU, hg, hg, h, nf));
    row("gelu bwd (B,T,4C)", t, 0, 12 * gb), layer += t;

    float *wte = calloc((size_t)V * C, 4), *wpe = calloc((size_t)T * C, 4);
    int32_t *ids = xmalloc((size_t)N * sizeof(int32_t));
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 7919u) % V);
    double emb;
    TIME_MEDIAN(&bm, emb, o->embed_backward(bm.be, wte, wpe, NULL, x, ids, NULL, (int)B, (int)T, C, 0));
    row("embed bwd", emb, 0, 2 * gb);

    float *p = frand(NP, 13), *g = frand(NP, 14), *m = calloc(NP, 4), *v = calloc(NP, 4);
    aca_adamw hp = {.lr = 5e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f, .grad_scale = 1, .t = 1};
    double ta, tn;
    TIME_MEDIAN(&bm, tn, (void)o->sumsq(bm.be, g, NP));
    row("sumsq (66M)", tn, 0, NP * 4.0 / 1e9);
    TIME_MEDIAN(&bm, ta, o->adamw(bm.be, p, g, m, v, NULL, NP, NP / 2, &hp));
    row("adamw (66M)", ta, 0, NP * 28.0 / 1e9);

    printf("%-34s %9.2f ms\n", "one layer fwd+bwd (sum of ops)", layer * 1e3);
    printf("%-34s %9.2f s\n", "step estimate (6 layers + emb + opt)", L * layer + emb + tn + ta);
    return 0;
}
