// End-to-end CPU training step of distilbert-base (66M parameters, models/configs/distilbert-base-uncased.json,
// 10 classes) at batch 8 x 512 tokens, random init and random tokens: forward (dropout on), backward,
// grad norm + clip, AdamW.  Prints each step's time, the median, tokens/s and the peak RSS; exits 1 if
// the peak RSS reaches 6 GB (the bar).
//
//   build/bench/bench_cpu_model [STEPS=3] [B=8] [T=512]
#include <stdio.h>
#include <stdlib.h>

#include "aca/model.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 3, B = argc > 2 ? atoi(argv[2]) : 8, T = argc > 3 ? atoi(argv[3]) : 512;
    if (steps < 1 || B < 1 || T < 1) {
        fprintf(stderr, "usage: bench_cpu_model [STEPS] [B] [T]\n");
        return 2;
    }
    aca_err e;
    aca_config c;
    if (config_load("models/configs/distilbert-base-uncased.json", &c, &e)) {
        fprintf(stderr, "bench_cpu_model: %s (run from the repo root)\n", e.msg);
        return 1;
    }
    config_set_labels(&c, 10, NULL);
    aca_backend *be = aca_backend_cpu_create(&e);
    aca_model *m = be ? model_create(&c, be, B, T, &e) : NULL;
    if (!m) {
        fprintf(stderr, "bench_cpu_model: %s\n", e.msg);
        return 1;
    }
    model_init_random(m, 1);
    int32_t *ids = malloc((size_t)B * T * 4), *mask = malloc((size_t)B * T * 4), labels[64];
    aca_rng r;
    rng_seed(&r, 7, 0);
    for (int b = 0; b < B; b++) {
        int len = T - (int)rng_below(&r, (uint64_t)T / 4 + 1); // some padding, as real batches have
        for (int t = 0; t < T; t++) {
            ids[(size_t)b * T + t] = t < len ? 1000 + (int32_t)rng_below(&r, 29000) : 0;
            mask[(size_t)b * T + t] = t < len;
        }
        labels[b % 64] = (int32_t)rng_below(&r, 10);
    }
    aca_batch batch = {ids, mask, NULL, labels, B > 64 ? 64 : B, T};
    printf("distilbert-base, %zu parameters, batch %d x %d, cpu backend, %d steps\n", model_num_params(m), batch.B, T, steps);
    double *dt = malloc((size_t)steps * sizeof(double));
    for (int s = 0; s < steps; s++) {
        double t0 = time_now();
        float loss;
        model_zero_grad(m);
        if (model_forward(m, &batch, 1, (uint64_t)s, NULL, &loss, &e)) {
            fprintf(stderr, "bench_cpu_model: %s\n", e.msg);
            return 1;
        }
        double t1 = time_now();
        model_backward(m, 1.0f);
        double norm = model_grad_norm(m);
        double t2 = time_now();
        aca_adamw h = {.lr = 5e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f,
                       .grad_scale = norm > 1.0 ? (float)(1.0 / (norm + 1e-6)) : 1.0f, .t = s + 1};
        model_adamw_step(m, &h);
        double t3 = time_now();
        dt[s] = t3 - t0;
        printf("step %d: loss %.4f  grad norm %.3f  forward %.2f s  backward %.2f s  adamw %.3f s  total %.2f s\n", s + 1, loss,
               norm, t1 - t0, t2 - t1, t3 - t2, dt[s]);
        fflush(stdout);
    }
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double med = dt[steps / 2];
    size_t rss = mem_peak_rss();
    printf("median step %.2f s, %.0f tokens/s, peak RSS %.2f GB (bar: < 6 GB)\n", med, batch.B * (double)T / med,
           (double)rss / 1e9);
    free(dt), free(ids), free(mask);
    model_free(m);
    aca_backend_destroy(be);
    config_free(&c);
    return rss >= (size_t)6000000000ULL ? 1 : 0;
}
