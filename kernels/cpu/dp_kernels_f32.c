// The fp32 CPU DP-SGD kernels: what the ops table runs (dp_kernels.h).
#define R float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define SYRK cblas_ssyrk

#include "dp_kernels_impl.h"
