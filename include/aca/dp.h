// dp: the privacy accountant for DP-SGD (per-example clipping to norm C + Gaussian noise sigma*C on
// the summed gradient, examples drawn by Poisson sampling with rate q).
//
// Method: Renyi DP of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019, "Renyi Differential
// Privacy of the Sampled Gaussian Mechanism"): for an integer order alpha the exact binomial expansion
// of A_alpha, for a fractional order the two convergent series of their Section 3.3; all sums are
// taken in log space.  RDP composes additively over steps.  Conversion to (epsilon, delta):
//   DP_CONVERT_BALLE2020 (default, as Opacus >= 1.0): eps = rdp - (log delta + log alpha)/(alpha-1)
//                         + log((alpha-1)/alpha)      (Balle et al. 2020, Thm 21; Canonne et al. 2020)
//   DP_CONVERT_CLASSIC   (Mironov 2017 Prop. 3, as TF-Privacy's older tutorials):
//                         eps = rdp + log(1/delta)/(alpha-1)
// minimised over the orders.  Default orders: 1.1, 1.2, ..., 10.9 and every integer 11..256.
//
// Adjacency: add/remove one example (the neighbouring dataset has one example more or fewer), the
// relation Mironov et al. analyse and Opacus and TF-Privacy report.  The bound holds only for Poisson
// sampling: shuffled fixed-size batches are NOT covered (accounting them with q = B/N understates
// epsilon; audits of shuffled DP-SGD measure several times the claimed leakage), so the trainer
// refuses them under noise, as it refuses length buckets (train_dp_check_opts).
//
// Errors: invalid parameters fail with ACA_ERR_VALUE and a message that starts with the parameter's
// name (q, sigma, steps, delta, epsilon, orders), the same names as `aca privacy`'s options.
#ifndef ACA_DP_H
#define ACA_DP_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

typedef enum { DP_CONVERT_BALLE2020 = 0, DP_CONVERT_CLASSIC } dp_conversion;

#define DP_MAX_ORDERS 512

typedef struct {
    double q;       // Poisson sampling rate per step, in (0, 1]
    double sigma;   // noise multiplier: noise std / clipping norm, > 0
    uint64_t steps; // noisy optimizer steps, >= 1
    double delta;   // target delta, in (0, 1)
} dp_sgm;

typedef struct {
    double epsilon;    // smallest epsilon over the orders (>= 0; +inf if no order gives a finite one)
    double best_order; // the order alpha that attains it
} dp_result;

// The default orders (see above) into orders[cap]; returns how many (<= DP_MAX_ORDERS).
size_t dp_default_orders(double *orders, size_t cap);

// Checks q, sigma, steps and delta; 0 or -1 with a message naming the bad parameter.
int dp_check(const dp_sgm *p, aca_err *e);

// RDP of ONE step of the sampled Gaussian mechanism at order alpha > 1 (nats).  q = 1 gives the
// plain Gaussian mechanism alpha / (2 sigma^2).
int dp_rdp_step(double q, double sigma, double alpha, double *rdp, aca_err *e);

// Epsilon after p->steps steps at p->delta.  orders == NULL: the default orders.
int dp_epsilon(const dp_sgm *p, dp_conversion conv, const double *orders, size_t n_orders, dp_result *out,
               aca_err *e);

// The smallest noise multiplier (to relative precision 1e-6) whose epsilon after `steps` steps at
// rate q and `delta` is <= target_eps; p->sigma is ignored.  Also returns the epsilon it reaches.
int dp_sigma_for_epsilon(const dp_sgm *p, double target_eps, dp_conversion conv, double *sigma, dp_result *at,
                         aca_err *e);

#endif
