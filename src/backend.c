// Backend selection by name (--device, --precision) and dtype helpers (include/aca/ops.h).
#include <string.h>

#include "aca/ops.h"

const char *aca_dtype_name(aca_dtype dt) {
    switch (dt) {
    case ACA_DT_F32: return "fp32";
    case ACA_DT_BF16: return "bf16";
    case ACA_DT_F16: return "fp16";
    }
    return "unknown";
}

size_t aca_dtype_size(aca_dtype dt) {
    switch (dt) {
    case ACA_DT_F32: return 4;
    case ACA_DT_BF16:
    case ACA_DT_F16: return 2;
    }
    return 0;
}

// NULL device means "cpu", NULL precision "fp32".
aca_backend *aca_backend_create(const char *device, const char *precision, aca_err *e) {
    const char *dev = device ? device : "cpu", *prec = precision ? precision : "fp32";
    aca_dtype dt;
    if (!strcmp(prec, "fp32"))
        dt = ACA_DT_F32;
    else if (!strcmp(prec, "bf16"))
        dt = ACA_DT_BF16;
    else if (!strcmp(prec, "fp16"))
        dt = ACA_DT_F16;
    else {
        aca_errf(e, ACA_ERR_VALUE, "--precision: unknown precision '%s' (expected fp32, bf16 or fp16)", prec);
        return NULL;
    }
    if (!strcmp(dev, "cpu")) {
        if (dt != ACA_DT_F32) {
            aca_errf(e, ACA_ERR_VALUE, "--precision %s: the cpu backend computes in fp32 only (use --device cuda for %s)",
                     prec, prec);
            return NULL;
        }
        return aca_backend_cpu_create(e);
    }
    if (!strcmp(dev, "cuda")) {
#ifdef ACA_HAVE_CUDA
        return aca_backend_cuda_create(dt, e);
#else
        aca_errf(e, ACA_ERR_VALUE, "--device cuda: this build has no CUDA backend (nvcc was not found at build time)");
        return NULL;
#endif
    }
    aca_errf(e, ACA_ERR_VALUE, "--device: unknown device '%s' (expected cpu or cuda)", dev);
    return NULL;
}

void aca_backend_destroy(aca_backend *be) {
    if (be) be->ops->destroy(be);
}

int aca_attention_parse(const char *name, aca_attention *out, aca_err *e) {
    static const char *const NAMES[] = {"auto", "gemm", "cudnn"};
    const char *n = name ? name : "auto";
    for (int k = 0; k < 3; k++)
        if (!strcmp(n, NAMES[k])) {
            *out = (aca_attention)k;
            return 0;
        }
    return aca_errf(e, ACA_ERR_VALUE, "--attention: unknown path '%s' (expected auto, gemm or cudnn)", n);
}

int aca_backend_set_attention(aca_backend *be, const char *name, aca_err *e) {
    aca_attention k;
    const char *n = name ? name : "auto";
    if (aca_attention_parse(n, &k, e)) return -1;
    if (k != ACA_ATT_AUTO && strcmp(be->ops->name, "cuda"))
        return aca_errf(e, ACA_ERR_VALUE, "--attention %s: a CUDA path; the %s backend has one attention (use --device cuda)",
                        n, be->ops->name);
#ifndef ACA_HAVE_CUDNN_FE
    if (k == ACA_ATT_CUDNN)
        return aca_errf(e, ACA_ERR_VALUE,
                        "--attention cudnn: this build has no cuDNN attention (cuDNN or the cudnn-frontend headers were not "
                        "found at build time: see the Makefile's CUDNN_HOME / CUDNN_FRONTEND)");
#endif
    be->attention = k;
    return 0;
}

const char *aca_backend_attention_name(const aca_backend *be) {
    return be->attention_used ? be->attention_used : "auto";
}
