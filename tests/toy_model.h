// A tiny random-init model on the CPU backend and a toy dataset it can learn, shared by the trainer
// tests (test_train.c, test_dp_train.c).
#ifndef ACA_TOY_MODEL_H
#define ACA_TOY_MODEL_H

#include "testutil.h"

#include "aca/ops.h"
#include "aca/model.h"
#include "aca/train.h"

// A model of the config JSON text on backend be (which toy_model_free destroys), batches up to
// max_B x max_T, weights from seed.
static inline aca_model *toy_model_on(aca_backend *be, const char *config_json, uint64_t seed, int max_B, int max_T) {
    aca_err e = {0};
    aca_config c;
    assert_int_equal(config_parse(config_json, "TINY", &c, &e), 0);
    assert_non_null(be);
    aca_model *m = model_create(&c, be, max_B, max_T, &e);
    if (!m) print_error("%s\n", e.msg);
    assert_non_null(m);
    config_free(&c);
    model_init_random(m, seed);
    return m;
}

// The same on the CPU backend.
static inline aca_model *toy_model(const char *config_json, uint64_t seed, int max_B, int max_T) {
    aca_err e = {0};
    return toy_model_on(aca_backend_cpu_create(&e), config_json, seed, max_B, max_T);
}

static inline void toy_model_free(aca_model *m) {
    aca_backend *be = model_backend(m);
    model_free(m);
    aca_backend_destroy(be);
}

// n documents [CLS=1] ... [SEP=2] of lengths 3..max_len; class k (= i % 3) draws its tokens from
// [8 + 12k, 8 + 12k + 12), so the classes are learnable.
static inline void toy_dataset(aca_dataset *d, uint64_t seed, int n, int max_len) {
    aca_rng r;
    rng_seed(&r, seed, 0);
    int32_t *ids = xmalloc((size_t)n * (size_t)max_len * sizeof *ids), *lens = xmalloc((size_t)n * sizeof *lens),
            *labels = xmalloc((size_t)n * sizeof *labels);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        int lab = i % 3, len = 3 + (int)rng_below(&r, (uint64_t)max_len - 2);
        labels[i] = lab, lens[i] = len;
        ids[k++] = 1;
        for (int t = 1; t < len - 1; t++) ids[k++] = 8 + 12 * lab + (int32_t)rng_below(&r, 12);
        ids[k++] = 2;
    }
    dataset_from_arrays(d, (size_t)n, ids, lens, labels, max_len);
    free(ids), free(lens), free(labels);
}

#endif
