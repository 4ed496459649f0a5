// Training-step time and tokens/s of distilbert-base (randomly initialised, 2 classes) on the CUDA
// backend.
//
//   build/bench/bench_train_cuda [B] [T] [precision] [steps] [attention]   (default 8 512 bf16 20 auto)
//
// The last line is one JSON row {engine, config, precision, attention, step_ms, tokens_per_s}
// (bench/run_cuda_checks.sh collects them).
//
// One step = zero_grad + forward (train, dropout on) + backward + global grad norm + AdamW, i.e.
// what `aca train` does per batch.  Random token ids, no padding.  3 warm-up steps, then the median
// of `steps` steps, each timed on the host around a step that ends with a device sync (the loss is
// read back by model_forward and the grad norm by sumsq).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/model.h"
#include "aca/ops.h"
#include "aca/util.h"

#ifndef ACA_HAVE_CUDA
int main(void) {
    printf("bench_train_cuda: this build has no CUDA backend (nvcc not found)\n");
    return 0;
}
#else
#include "../kernels/cuda/aca_cuda.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 8, T = argc > 2 ? atoi(argv[2]) : 512;
    const char *prec = argc > 3 ? argv[3] : "bf16";
    int steps = argc > 4 ? atoi(argv[4]) : 20;
    const char *att = argc > 5 ? argv[5] : "auto";
    if (B <= 0 || T <= 0 || T > 512 || steps <= 0) {
        fprintf(stderr, "usage: bench_train_cuda [B] [T<=512] [fp32|bf16|fp16] [steps] [auto|gemm|cudnn]\n");
        return 1;
    }
    aca_err e = {0};
    aca_backend *be = aca_backend_create("cuda", prec, &e);
    if (!be || aca_backend_set_attention(be, att, &e)) {
        fprintf(stderr, "bench_train_cuda: %s\n", e.msg);
        return 1;
    }
    aca_config c;
    memset(&c, 0, sizeof c);
    c.arch = ACA_ARCH_DISTILBERT;
    c.vocab_size = 30522, c.max_position = 512, c.dim = 768, c.n_layers = 6, c.n_heads = 12, c.hidden_dim = 3072;
    c.activation = ACA_ACT_GELU, c.dropout = 0.1f, c.attention_dropout = 0.1f, c.classifier_dropout = 0.2f;
    c.initializer_range = 0.02f, c.layer_norm_eps = 1e-12f, c.pad_token_id = 0, c.num_labels = 2;
    aca_model *m = model_create(&c, be, B, T, &e);
    if (!m) {
        fprintf(stderr, "bench_train_cuda: %s\n", e.msg);
        return 1;
    }
    model_init_random(m, 1);
    int32_t *ids = xmalloc((size_t)B * T * 4), *mask = xmalloc((size_t)B * T * 4), *labels = xmalloc((size_t)B * 4);
    aca_rng r;
    rng_seed(&r, 2, 0);
    for (int i = 0; i < B * T; i++) ids[i] = 1 + (int32_t)rng_below(&r, 30000), mask[i] = 1;
    for (int b = 0; b < B; b++) labels[b] = (int32_t)rng_below(&r, 2);
    aca_batch batch = {.ids = ids, .mask = mask, .type_ids = NULL, .labels = labels, .B = B, .T = T};
    aca_adamw h = {.lr = 2e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f, .grad_scale = 1,
                   .t = 0};
    double *t = xmalloc((size_t)steps * sizeof(double));
    float loss = 0;
    for (int s = 0; s < 3 + steps; s++) {
        double t0 = time_now();
        model_zero_grad(m);
        if (model_forward(m, &batch, 1, (uint64_t)s, NULL, &loss, &e)) {
            fprintf(stderr, "bench_train_cuda: %s\n", e.msg);
            return 1;
        }
        model_backward(m, 1.0f);
        double norm = model_grad_norm(m);
        h.grad_scale = norm > 1.0 ? (float)(1.0 / norm) : 1.0f;
        h.t = s + 1;
        model_adamw_step(m, &h);
        be->ops->sync(be);
        if (s >= 3) t[s - 3] = time_now() - t0;
    }
    qsort(t, steps, sizeof(double), cmp_double);
    double med = t[steps / 2];
    char dev[256], when[32];
    aca_cuda_describe(dev, sizeof dev);
    time_iso8601(when, sizeof when);
    printf("device: %s\ndate: %s  revision: %s\n", dev, when, aca_git_revision());
    const char *path = aca_backend_attention_name(be);
    printf("| distilbert-base | %s | %s | B=%d T=%d | step %.1f ms (min %.1f, max %.1f) | %.0f tokens/s | last loss %.4f |\n",
           prec, path, B, T, med * 1e3, t[0] * 1e3, t[steps - 1] * 1e3, B * T / med, (double)loss);
    printf("{\"engine\": \"aca\", \"config\": \"B=%d T=%d\", \"precision\": \"%s\", \"attention\": \"%s\", "
           "\"step_ms\": %.3f, \"tokens_per_s\": %.0f}\n",
           B, T, prec, path, med * 1e3, B * T / med);
    free(t), free(ids), free(mask), free(labels);
    model_free(m);
    aca_backend_destroy(be);
    return 0;
}
#endif
