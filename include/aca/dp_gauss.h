// The Gaussian draws of DP-SGD's noise, shared by the CPU and CUDA backends (ops.h dp_noise) so that
// both add the same noise: coordinates 2p and 2p+1 of step `step` take the Box-Muller pair of one
// Philox4x32-10 draw with counter (p, step) and key `key`, in double.  Header-only; C11 and CUDA.
#ifndef ACA_DP_GAUSS_H
#define ACA_DP_GAUSS_H

#include <math.h>
#include <stdint.h>

#include "aca/philox.h"

// A uniform in (0, 1) from 53 bits of two u32 draws (never 0: log is finite).
ACA_HD double aca_dp_u53(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 21) ^ (uint64_t)(b >> 11);
    x &= (1ULL << 53) - 1;
    return ((double)x + 0.5) * (1.0 / 9007199254740992.0);
}

// std times the standard normal pair of pair index p at step `step`: (x0, x1) for coordinates 2p, 2p+1.
ACA_HD void aca_dp_gauss_pair(uint64_t key, uint64_t p, uint64_t step, double std, double *x0, double *x1) {
    aca_philox4 r = aca_philox4x32((uint32_t)p, (uint32_t)(p >> 32), (uint32_t)step, (uint32_t)(step >> 32),
                                   (uint32_t)key, (uint32_t)(key >> 32));
    double u1 = aca_dp_u53(r.v[0], r.v[1]), u2 = aca_dp_u53(r.v[2], r.v[3]);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586476925286766559 * u2;
    *x0 = std * rad * cos(th);
    *x1 = std * rad * sin(th);
}

#endif
