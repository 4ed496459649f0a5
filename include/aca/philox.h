// Philox4x32-10 counter-based RNG (Salmon et al., SC'11), shared by every backend so that dropout
// masks are identical on the CPU and the GPU: the mask bit of element i of a dropout site is a pure
// function of (seed, offset + i).  Header-only; compiles as C11 and as CUDA device code.
#ifndef ACA_PHILOX_H
#define ACA_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define ACA_HD __host__ __device__ __forceinline__
#else
#define ACA_HD static inline
#endif

typedef struct {
    uint32_t v[4];
} aca_philox4;

ACA_HD uint32_t aca_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

// Ten rounds of Philox4x32 on counter ctr with key (k0, k1).
ACA_HD aca_philox4 aca_philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = aca_mulhilo32(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = aca_mulhilo32(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    aca_philox4 out = {{c0, c1, c2, c3}};
    return out;
}

// One uniform 32-bit draw for element index `idx` (a 64-bit position in the site's stream):
// counter = (idx/4 low, idx/4 high, 0, 0), lane idx%4, key = seed.
ACA_HD uint32_t aca_philox_u32(uint64_t seed, uint64_t idx) {
    uint64_t q = idx >> 2;
    aca_philox4 r = aca_philox4x32((uint32_t)q, (uint32_t)(q >> 32), 0u, 0u, (uint32_t)seed, (uint32_t)(seed >> 32));
    return r.v[idx & 3];
}

// Keep element idx with probability 1-p: keep iff u32 >= threshold, threshold = round(p * 2^32).
ACA_HD uint32_t aca_dropout_threshold(float p) {
    double t = (double)p * 4294967296.0;
    return t >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)t;
}
ACA_HD int aca_dropout_keep(uint64_t seed, uint64_t idx, uint32_t threshold) {
    return aca_philox_u32(seed, idx) >= threshold;
}

#endif
