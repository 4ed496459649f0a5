// C-callable extras of the CUDA backend for benchmarks and tools (not part of the ops table):
// timing with CUDA events on the backend's stream, device facts, and the two measured ceilings
// (device-to-device copy bandwidth) that the benchmarks print floors against.
#ifndef ACA_CUDA_H
#define ACA_CUDA_H

#include <stddef.h>

#include "aca/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*aca_cuda_fn)(void *ctx);

// Runs fn(ctx) `warmup` times, then `reps` times each timed with a pair of CUDA events recorded on
// be's stream; returns the median milliseconds per call.
double aca_cuda_time_ms(aca_backend *be, aca_cuda_fn fn, void *ctx, int warmup, int reps);
// "NVIDIA H100 80GB HBM3, 132 SMs, cc 9.0, driver 13.0" into buf.
void aca_cuda_describe(char *buf, size_t n);
// Measured device-to-device copy bandwidth in GB/s (bytes read + bytes written), median of 10
// copies of `bytes` bytes.
double aca_cuda_copy_gbps(aca_backend *be, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
