// rng: xoshiro256** seeded through splitmix64.  Every random choice on the host comes from one of
// these, seeded from the run's seed (and a stream tag), so runs are reproducible.  (Dropout and
// DP noise use the counter-based Philox of philox.h, identical on every backend.)
#ifndef ACA_RNG_H
#define ACA_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} aca_rng;
void rng_seed(aca_rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(aca_rng *r);
uint64_t rng_below(aca_rng *r, uint64_t n); // uniform in [0, n), unbiased
double rng_uniform(aca_rng *r);             // [0, 1)
double rng_normal(aca_rng *r);              // standard normal (Box-Muller)
void rng_shuffle_u32(aca_rng *r, uint32_t *a, size_t n);

#endif
