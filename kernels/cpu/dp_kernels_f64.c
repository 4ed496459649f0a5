// The same CPU DP-SGD kernels in double precision: the tests' reference (dp_kernels.h).  Not
// reachable through the ops table.
#define R double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define SYRK cblas_dsyrk

#include "dp_kernels_impl.h"
