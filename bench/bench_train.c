// End-to-end training throughput through the shipped trainer (train_run): a model from a config
// (random init) trained on random token documents of a fixed length, batch B, for --steps steps.
// Prints the step time (median over steps after the first), tokens/s and the peak host RSS.
// --dp-sigma X: DP-SGD steps instead (Poisson batches of expected size B, clip 1, noise X; the
// per-example norms by --dp-grad, ghost clipping in passes of --dp-micro-batch examples, default B),
// also printing the mean examples per step and the time per example.
//   usage: bench_train --config FILE [--batch B] [--len T] [--steps N] [--device cpu|cuda]
//                      [--precision fp32|bf16|fp16] [--dp-sigma X [--dp-grad ghost|per-example]
//                      [--dp-micro-batch M]]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/model.h"
#include "aca/ops.h"
#include "aca/run.h"
#include "aca/train.h"

typedef struct {
    double t_last;
    double *dt;
    long n;
} timing;

static void on_step(const aca_train_progress *p, void *ctx) {
    timing *t = ctx;
    t->dt[t->n++] = p->elapsed_s - t->t_last;
    t->t_last = p->elapsed_s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *config = NULL, *device = "cpu", *precision = "fp32";
    long batch = 8, len = 512, steps = 5, micro = 0;
    double dp_sigma = NAN;
    const char *dp_grad = "ghost";
    aca_opt opts[] = {
        {"--config", OPT_STR, &config, "FILE", "model config.json", 1, 0},
        {"--batch", OPT_INT, &batch, "B", "batch size (default 8)", 0, 0},
        {"--len", OPT_INT, &len, "T", "tokens per document (default 512)", 0, 0},
        {"--steps", OPT_INT, &steps, "N", "optimizer steps (default 5)", 0, 0},
        {"--device", OPT_STR, &device, "cpu|cuda", "backend", 0, 0},
        {"--precision", OPT_STR, &precision, "fp32|bf16|fp16", "compute precision", 0, 0},
        {"--dp-sigma", OPT_DOUBLE, &dp_sigma, "X", "DP-SGD steps with noise multiplier X", 0, 0},
        {"--dp-grad", OPT_STR, &dp_grad, "ghost|per-example", "DP-SGD per-example norms (default ghost)", 0, 0},
        {"--dp-micro-batch", OPT_INT, &micro, "M", "DP-SGD ghost: examples per pass (default B)", 0, 0},
    };
    aca_err e = {0};
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, "usage: bench_train --config FILE",
                      &e);
    if (r == 1) return 0;
    if (r < 0 || batch < 1 || len < 2 || steps < 2 || micro < 0 || (!isnan(dp_sigma) && train_dp_grad_parse(dp_grad) < 0)) {
        fprintf(stderr, "bench_train: %s\n", r < 0 ? e.msg : "need --batch >= 1, --len >= 2, --steps >= 2, --dp-grad ghost|per-example");
        return 2;
    }
    aca_run_setup rs;
    run_setup_default(&rs); // the run options table's defaults
    aca_train_opts o = rs.train;
    o.epochs = 1;
    o.batch = (int)batch;
    if (!isnan(dp_sigma)) {
        o.dp = 1, o.dp_sigma = dp_sigma, o.dp_grad = train_dp_grad_parse(dp_grad);
        o.dp_micro_batch = micro ? (int)micro : (int)batch;
    }
    aca_config c;
    if (config_load(config, &c, &e)) return fprintf(stderr, "bench_train: %s\n", e.msg), 1;
    if (c.num_labels < 2) {
        const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
        config_set_labels(&c, 10, names);
    }
    aca_backend *be = aca_backend_create(device, precision, &e);
    if (!be) return fprintf(stderr, "bench_train: %s\n", e.msg), 1;
    aca_model *m = model_create(&c, be, train_model_batch(&o), (int)len, &e);
    if (!m) return fprintf(stderr, "bench_train: %s\n", e.msg), 1;
    model_init_random(m, 1);
    // batch * steps documents of exactly len tokens: one epoch of `steps` steps.
    size_t n = (size_t)batch * (size_t)steps;
    int32_t *ids = malloc(n * (size_t)len * sizeof *ids), *lens = malloc(n * sizeof *lens),
            *labels = malloc(n * sizeof *labels);
    aca_rng rng;
    rng_seed(&rng, 3, 0);
    for (size_t i = 0; i < n; i++) {
        lens[i] = (int32_t)len;
        labels[i] = (int32_t)(i % (size_t)c.num_labels);
        for (long t = 0; t < len; t++) ids[i * (size_t)len + (size_t)t] = 1000 + (int32_t)rng_below(&rng, 20000);
    }
    aca_dataset d;
    dataset_from_arrays(&d, n, ids, lens, labels, (int)len);
    timing tm = {0, calloc((size_t)steps, sizeof(double)), 0};
    o.on_step = on_step;
    o.on_step_ctx = &tm;
    o.log_every = 1;
    aca_train_stats st;
    if (train_run(m, &d, &o, &st, &e)) return fprintf(stderr, "bench_train: %s\n", e.msg), 1;
    qsort(tm.dt + 1, (size_t)(tm.n - 1), sizeof(double), cmp_double);
    double med = tm.dt[1 + (tm.n - 1) / 2];
    printf("bench_train: %s (%zu params) %s/%s B=%ld T=%ld: first step %.3f s, median step %.3f s over %ld, "
           "%.0f tokens/s, peak host RSS %.1f MiB\n",
           config, model_num_params(m), device, precision, batch, len, tm.dt[0], med, tm.n - 1,
           (double)(batch * len) / med, (double)mem_peak_rss() / (1024.0 * 1024.0));
    if (o.dp) {
        double mean_b = (double)st.dp_examples / (double)st.steps, mean_t = st.seconds / (double)st.steps;
        printf("bench_train: DP-SGD (%s, passes of %d, sigma %g): %.1f examples per step on average, mean step %.3f s, "
               "%.4f s per example\n", train_dp_grad_name(o.dp_grad), train_model_batch(&o), dp_sigma, mean_b, mean_t,
               mean_t / mean_b);
    } else {
        printf("bench_train: mean step %.3f s, %.4f s per example\n", st.seconds / (double)st.steps,
               st.seconds / (double)st.steps / (double)batch);
    }
    free(tm.dt);
    dataset_free(&d);
    free(ids), free(lens), free(labels);
    model_free(m);
    aca_backend_destroy(be);
    config_free(&c);
    return 0;
}
