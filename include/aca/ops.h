// The ops table: every numerical operation a model performs, behind one table of function pointers
// filled by each backend (kernels/cpu, kernels/cuda, and kernels/cpu/ops_emul.c for tests).  Models
// call only these; tests compare the backends op by op.  The ops, their signatures and what each
// computes are listed once, in ops_list.h, from which the table below is generated.
//
// Conventions
// - Shapes in comments: B batch, T tokens, C channels, NH heads, HS = C/NH, N = B*T rows, K classes.
// - Activation tensors (void *) are in the backend's compute dtype (be->dtype): fp32, bf16 or fp16.
//   The CPU backend computes in fp32 only.
// - Weights passed to forward/backward ops are the compute-dtype copy (`const void *w`); the fp32
//   master weights live in the model and are updated by adamw, which refreshes the copy.
// - Parameter gradients are fp32 and ALWAYS ACCUMULATE (+=): the trainer zeroes them once per step.
// - Activation gradients (din, dqkv, dlogits) OVERWRITE, unless the op takes an `accum` flag and it
//   is set (then +=).  In-place use is allowed only where a comment says so.
// - Pointers are backend memory (device memory for cuda) obtained from ops->alloc, except where a
//   comment says host.
// - Dropout: element i of a dropout site is kept iff aca_dropout_keep(seed, i, thr) (philox.h); the
//   model derives one seed per (step, layer, site); p = 0 means identity.  Kept values are scaled by
//   1/(1-p), as torch does.
#ifndef ACA_OPS_H
#define ACA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/act.h"
#include "aca/util.h"

typedef enum { ACA_DT_F32 = 0, ACA_DT_BF16, ACA_DT_F16 } aca_dtype;
// The CUDA attention paths (--attention): auto = cuDNN's fused flash attention where cuDNN builds its
// graph for the model's shape (bf16/fp16, sm_80+), the tensor-core GEMMs otherwise.
typedef enum { ACA_ATT_AUTO = 0, ACA_ATT_GEMM, ACA_ATT_CUDNN } aca_attention;

const char *aca_dtype_name(aca_dtype dt);
size_t aca_dtype_size(aca_dtype dt);

// AdamW as torch.optim.AdamW (decoupled weight decay), per element, step t >= 1:
//   g  = grad * grad_scale
//   p -= lr * weight_decay * p                       (only the first n_decay elements)
//   m  = beta1 m + (1-beta1) g;   v = beta2 v + (1-beta2) g^2
//   p -= (lr / (1-beta1^t)) * m / (sqrt(v) / sqrt(1-beta2^t) + eps)
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    float grad_scale; // clip coefficient times 1/loss_scale
    int t;            // step number, from 1
} aca_adamw;

typedef struct aca_backend aca_backend;
typedef struct aca_ops aca_ops;

struct aca_backend {
    const aca_ops *ops;
    aca_dtype dtype;   // compute dtype of activations and weight copies
    int deterministic; // 1: bit-reproducible run to run (no order-dependent atomics)
    int tf32;          // cuda fp32 only: allow TF32 tensor cores
    aca_attention attention;    // the requested attention path (aca_backend_set_attention)
    const char *attention_used; // the path that runs: "cpu", "gemm", "cudnn" (set by ops->prepare)
    void *impl;        // backend-private state
};

// The largest shapes a model runs on a backend: model_create fills it from the config and its
// batch limits, and asks the backend (aca_backend_prepare) before it allocates anything.
typedef struct {
    int B, T;     // batch rows and tokens (--batch, --max-len; T <= max_position_embeddings)
    int C, NH;    // hidden size and attention heads (head size C / NH)
    int H, K, V;  // FFN inner size, classes, vocabulary
    float p_attn; // dropout on the attention probabilities when training (evaluation runs p = 0 too)
} aca_shape;

// The ops: one function pointer per entry of ops_list.h, in its order.
struct aca_ops {
    const char *name; // "cpu", "emul", "cuda"
#define ACA_OP(group, ret, op, params) ret(*op) params;
#include "aca/ops_list.h"
#undef ACA_OP
};

// Op ids (ACA_OP_linear_forward, ...), their names and groups (ops_list.h), for messages, the
// coverage maps of tests and benchmarks, and the empty-slot check.
typedef enum {
#define ACA_OP(group, ret, op, params) ACA_OP_##op,
#include "aca/ops_list.h"
#undef ACA_OP
} aca_op;
enum {
    ACA_OP_COUNT = 0
#define ACA_OP(group, ret, op, params) +1
#include "aca/ops_list.h"
#undef ACA_OP
};
typedef enum { ACA_OP_GROUP_MEM, ACA_OP_GROUP_QUERY, ACA_OP_GROUP_CORE, ACA_OP_GROUP_DP } aca_op_group;
const char *aca_op_name(aca_op op);
aca_op_group aca_op_group_of(aca_op op);
const char *aca_op_group_name(aca_op_group g);
// 0 when every slot of ops is filled; else -1 and e names the backend and the first empty op.
int aca_ops_check(const aca_ops *ops, aca_err *e);

// Bu et al.'s mixed ghost norm rule ("Scalable and Efficient Training of Large Convolutional Neural
// Networks with Differential Privacy", NeurIPS 2022, Sec. 4; their fastDP code): per layer, the Gram
// form when 2 T^2 <= IC * OC (two (T,T) Gram matrices per example against one (OC,IC) gradient).
static inline int aca_ghost_gram(int T, int IC, int OC) { return 2.0 * T * (double)T <= (double)IC * OC; }

// Backends.  device: "cpu" or "cuda"; precision: "fp32", "bf16", "fp16" (cpu: fp32 only).
aca_backend *aca_backend_create(const char *device, const char *precision, aca_err *e);
void aca_backend_destroy(aca_backend *be);
// --attention auto|gemm|cudnn (NULL = auto): gemm and cudnn are CUDA paths; -1 with e filled for an
// unknown name, a CPU backend asked for a CUDA path, or cudnn in a build without cuDNN.
int aca_backend_set_attention(aca_backend *be, const char *name, aca_err *e);
// The name alone (the CLIs check it before any work): 0 and *out, or -1 naming --attention.
int aca_attention_parse(const char *name, aca_attention *out, aca_err *e);
// The attention path that runs ("cpu", "gemm", "cudnn"); "auto" until a model has resolved it.
const char *aca_backend_attention_name(const aca_backend *be);
// The capability query (ops->prepare) behind the limits every backend shares: the ops take rows,
// batch x heads and element counts as int or size_t, so B*T and B*NH must fit an int and every
// buffer size a size_t.  0, or -1 with e naming the quantity and its limit (model_create prefixes
// the config fields).
int aca_backend_prepare(aca_backend *be, const aca_shape *s, aca_err *e);
aca_backend *aca_backend_cpu_create(aca_err *e);
// The CUDA backend's roundings on the CPU (kernels/cpu/ops_emul.c), dtype bf16 or fp16: tensors of
// the compute dtype are stored in it, every op computes in fp32 and rounds its outputs to nearest
// even where the CUDA backend stores them; attention is the CUDA backend's GEMM composition on a
// cuBLAS test double.  For tests: slow.
aca_backend *aca_backend_emul_create(aca_dtype dtype, aca_err *e);
#ifdef ACA_HAVE_CUDA
aca_backend *aca_backend_cuda_create(aca_dtype dtype, aca_err *e);
#endif
// Every backend's creation ends here: be when its ops table has every slot filled (aca_ops_check),
// else be destroyed, NULL and e naming the backend and the empty op.  NULL be passes through.
aca_backend *aca_backend_checked(aca_backend *be, aca_err *e);
// Tests only: hook(ops, arg) returns the table a new backend is checked with and then uses (a copy
// with a slot cleared proves the refusal); NULL restores the default.  Process-wide.
void aca_backend_set_ops_hook(const aca_ops *(*hook)(const aca_ops *ops, void *arg), void *arg);

#endif
