// Internal to the trainer (src/train.c, the loop; src/train_dp.c, DP-SGD; src/train_ckpt.c,
// fingerprints and checkpoints): what they share beyond include/aca/train.h.
#ifndef ACA_TRAIN_INTERNAL_H
#define ACA_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/train.h"

// The checkpoint's file name in the checkpoint directory.
#define TRAIN_CKPT_NAME "trainer.ckpt"

// The trained coordinates of [0, numel): the gaps between the n_frozen ranges frozen (2 * n_frozen,
// increasing and disjoint, as train_frozen_ranges returns them), as [begin, end) pairs into out;
// returns their count (<= n_frozen + 1).
int train_trained_ranges(const size_t *frozen, int n_frozen, size_t numel, size_t *out);

// DP-SGD's sampling rate q = batch / n (1 when batch >= n) and noise multiplier: o->dp_sigma, or the
// smallest reaching o->dp_epsilon at o->dp_delta after total steps.  Says both on the log.
int train_dp_setup(const aca_train_opts *o, size_t n, long total, double *q, double *sigma, aca_err *e);

// The per-example path of one step (DP-SGD, or the non-DP reference o->per_example_grads): the
// clipped, noised sum of the examples' gradients (train_dp_grad_ghost, or train_dp_grad through the
// host buffer gsum) left in the model's gradient buffer.
typedef struct {
    float loss;    // mean per-example loss (NaN for an empty batch)
    double tokens; // real tokens
    double div;    // what AdamW's grad_scale divides the sum by (train_dp_divisor)
    double norm;   // the sum's norm divided by div
    int clipped;   // examples whose norm exceeded the clip
} train_pe_step;
int train_pe_grad(aca_model *m, const aca_dataset *d, const aca_train_opts *o, const uint32_t *idx, int nb, long s,
                  double sigma, const size_t *frozen, int n_frozen, float *gsum, train_pe_step *out, aca_err *e);

// The privacy spent after st->steps steps at sampling rate q and noise multiplier sigma, and the
// fraction of clipped examples, into st (dp_epsilon 0 before any step, +inf without noise).
// Returns -1 (e filled) when the accountant fails.
int train_dp_account(const aca_train_opts *o, double q, double sigma, long clipped, aca_train_stats *st, aca_err *e);

#endif
