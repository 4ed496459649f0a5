// Host conversions between fp32 and the GPU's 16-bit compute types, bit-exact with the CUDA
// intrinsics the CUDA backend stores with (__float2bfloat16_rn, __float2half_rn: round to nearest,
// ties to even; NaN stays NaN, overflow goes to infinity, fp16 subnormals kept).  Used by the
// reduced-precision emulation backend (ops_emul.c) and the cuBLAS test double.
#ifndef ACA_CPU_HALF_H
#define ACA_CPU_HALF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aca/ops.h"

static inline uint32_t half_bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}
static inline float half_float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static inline uint16_t half_f32_to_bf16(float x) {
    uint32_t u = half_bits_of(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                          // ties to even
    return (uint16_t)(u >> 16);
}
static inline float half_bf16_to_f32(uint16_t h) { return half_float_of((uint32_t)h << 16); }

// IEEE binary16: 1 sign, 5 exponent, 10 fraction bits.
static inline uint16_t half_f32_to_f16(float x) {
    uint32_t u = half_bits_of(x), sign = (u >> 16) & 0x8000u;
    float a = fabsf(x);
    if (a != a) return (uint16_t)(sign | 0x7e00u);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00u); // rounds to infinity
    if (a < 6.103515625e-05f) {                           // below 2^-14: subnormal, step 2^-24
        float q = nearbyintf(a * 16777216.0f);            // the default rounding mode: ties to even
        return (uint16_t)(sign | (uint32_t)q);
    }
    uint32_t b = half_bits_of(a);
    uint32_t e = (b >> 23) - 127 + 15, mant = b & 0x7fffffu;
    uint32_t h = (e << 10) | (mant >> 13), rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; // a carry into the exponent is right
    return (uint16_t)(sign | h);
}
static inline float half_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, f = h & 0x3ffu;
    if (e == 0) {
        float v = (float)f * 5.9604644775390625e-08f; // f * 2^-24
        return sign ? -v : v;
    }
    if (e == 31) return half_float_of(sign | 0x7f800000u | (f << 13));
    return half_float_of(sign | ((e - 15 + 127) << 23) | (f << 13));
}

// Element i of a tensor of dtype dt, as fp32; and a store with rounding.
static inline float half_load(aca_dtype dt, const void *p, size_t i) {
    switch (dt) {
    case ACA_DT_BF16: return half_bf16_to_f32(((const uint16_t *)p)[i]);
    case ACA_DT_F16: return half_f16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}
static inline void half_store(aca_dtype dt, void *p, size_t i, float x) {
    switch (dt) {
    case ACA_DT_BF16: ((uint16_t *)p)[i] = half_f32_to_bf16(x); break;
    case ACA_DT_F16: ((uint16_t *)p)[i] = half_f32_to_f16(x); break;
    default: ((float *)p)[i] = x; break;
    }
}
// x rounded to dt and back (what a store then a load gives).
static inline float half_round(aca_dtype dt, float x) {
    switch (dt) {
    case ACA_DT_BF16: return half_bf16_to_f32(half_f32_to_bf16(x));
    case ACA_DT_F16: return half_f16_to_f32(half_f32_to_f16(x));
    default: return x;
    }
}

#endif
