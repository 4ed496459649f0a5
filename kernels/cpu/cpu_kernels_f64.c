// The same CPU kernels in double precision: the reference for gradient checks and for the fp32
// kernels' error bounds (cpu_kernels.h).  Not reachable through the ops table.
#include <float.h>

#define R double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define R_EXP exp
#define R_ERF erf
#define R_TANH tanh
#define R_SQRT sqrt
#define R_LOWEST (-DBL_MAX)

#include "cpu_kernels_impl.h"
