// Backend selection by name (--device, --precision), dtype helpers, the op list's names and the
// checks every backend shares: no empty slot at creation, the ops' shape limits (include/aca/ops.h).
#include <limits.h>
#include <stdint.h>
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

// ---- the op list ----
const char *aca_op_name(aca_op op) {
    static const char *const NAMES[] = {
#define ACA_OP(group, ret, op, params) #op,
#include "aca/ops_list.h"
#undef ACA_OP
    };
    return (unsigned)op < ACA_OP_COUNT ? NAMES[op] : "unknown";
}

aca_op_group aca_op_group_of(aca_op op) {
    static const aca_op_group GROUPS[] = {
#define ACA_OP(group, ret, op, params) ACA_OP_GROUP_##group,
#include "aca/ops_list.h"
#undef ACA_OP
    };
    return (unsigned)op < ACA_OP_COUNT ? GROUPS[op] : ACA_OP_GROUP_MEM;
}

const char *aca_op_group_name(aca_op_group g) {
    static const char *const NAMES[] = {"memory", "query", "core", "dp"};
    return (unsigned)g < sizeof NAMES / sizeof NAMES[0] ? NAMES[g] : "unknown";
}

int aca_ops_check(const aca_ops *ops, aca_err *e) {
    const char *name = ops->name ? ops->name : "(unnamed)";
#define ACA_OP(group, ret, op, params)                                                                 \
    if (!ops->op)                                                                                      \
        return aca_errf(e, ACA_ERR_DEVICE,                                                             \
                        "the %s backend has no '%s' op (its ops table leaves that slot empty): refused", name, #op);
#include "aca/ops_list.h"
#undef ACA_OP
    return ops->name ? 0 : aca_errf(e, ACA_ERR_DEVICE, "a backend without a name: refused");
}

// Tests only (aca_backend_set_ops_hook).
static const aca_ops *(*g_ops_hook)(const aca_ops *ops, void *arg);
static void *g_ops_hook_arg;

void aca_backend_set_ops_hook(const aca_ops *(*hook)(const aca_ops *ops, void *arg), void *arg) {
    g_ops_hook = hook;
    g_ops_hook_arg = arg;
}

aca_backend *aca_backend_checked(aca_backend *be, aca_err *e) {
    if (!be) return NULL;
    const aca_ops *ops = g_ops_hook ? g_ops_hook(be->ops, g_ops_hook_arg) : be->ops;
    if (aca_ops_check(ops, e)) {
        be->ops->destroy(be);
        return NULL;
    }
    be->ops = ops;
    return be;
}

// ---- the capability query ----
// Limits of the ops' argument types, then the backend's own (ops->prepare).
int aca_backend_prepare(aca_backend *be, const aca_shape *s, aca_err *e) {
    long long rows = (long long)s->B * s->T, bh = (long long)s->B * s->NH;
    if (rows > INT_MAX)
        return aca_errf(e, ACA_ERR_VALUE, "batch %d x %d tokens = %lld rows: the ops take at most %d rows (B*T is an int)",
                        s->B, s->T, rows, INT_MAX);
    if (bh > INT_MAX)
        return aca_errf(e, ACA_ERR_VALUE, "batch %d x %d heads = %lld: the ops take at most %d (B*NH is an int)", s->B,
                        s->NH, bh, INT_MAX);
    int wide = 3 * s->C > s->H ? 3 * s->C : s->H;
    double state = (double)bh * s->T * s->T * sizeof(double), act = (double)rows * wide * sizeof(double);
    if (state > (double)SIZE_MAX / 2 || act > (double)SIZE_MAX / 2)
        return aca_errf(e, ACA_ERR_VALUE, "batch %d x %d tokens, %d heads: a buffer of %.3g bytes exceeds the address space",
                        s->B, s->T, s->NH, state > act ? state : act);
    return be->ops->prepare(be, s, e);
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
