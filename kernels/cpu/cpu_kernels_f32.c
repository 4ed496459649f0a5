// The fp32 CPU kernels: what the ops table runs (cpu_kernels.h).
#include <float.h>

#define R float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define R_EXP expf
#define R_ERF erff
#define R_TANH tanhf
#define R_SQRT sqrtf
#define R_LOWEST (-FLT_MAX)

#include "cpu_kernels_impl.h"
