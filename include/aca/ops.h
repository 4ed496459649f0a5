// The ops table: every numerical operation a model performs, behind one table of function pointers
// filled by each backend (kernels/cpu, kernels/cuda).  Models call only these; tests compare the
// backends op by op.
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
    const char *attention_used; // the path that runs: "cpu", "gemm", "cudnn" (set by attention_prepare)
    void *impl;        // backend-private state
};

struct aca_ops {
    const char *name; // "cpu", "cuda"
    void (*destroy)(aca_backend *be);

    // ---- memory ----
    void *(*alloc)(aca_backend *be, size_t bytes, aca_err *e); // NULL + e filled (names the size) on failure
    void (*free)(aca_backend *be, void *p);
    void (*memset0)(aca_backend *be, void *p, size_t bytes);
    void (*upload)(aca_backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(aca_backend *be, void *host_dst, const void *src, size_t bytes);
    void (*sync)(aca_backend *be);
    // Conversions between host fp32 and backend compute-dtype tensors (n elements).
    void (*from_f32)(aca_backend *be, void *dst, const float *host_src, size_t n);
    void (*to_f32)(aca_backend *be, float *host_dst, const void *src, size_t n);
    // Compute-dtype copy of fp32 backend memory (for the weight copy; a copy when dtype is fp32).
    void (*cast_params)(aca_backend *be, void *dst, const float *src, size_t n);

    // ---- embeddings ----
    // out (B,T,C) = wte[ids] + wpe[t] (+ tte[type_ids] when tte != NULL); ids, type_ids (B,T) int32.
    void (*embed_forward)(aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids,
                          const void *wte, const void *wpe, const void *tte, int B, int T, int C);
    // dwte (V,C), dwpe (maxT,C), dtte (types,C) += ...; rows of dwte whose id == pad_id get nothing
    // (pad_id < 0: no such row).  dtte may be NULL.  Deterministic on every backend.
    void (*embed_backward)(aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                           const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id);

    // ---- linear ----
    // out (N,OC) = in (N,IC) @ w (OC,IC)^T + bias (OC); bias may be NULL.
    void (*linear_forward)(aca_backend *be, void *out, const void *in, const void *w, const void *bias,
                           int N, int IC, int OC);
    // din (N,IC) = dout @ w (overwrite; += when accum_din; skipped when din == NULL);
    // dw (OC,IC) += dout^T @ in;  dbias (OC) += column sums of dout (skipped when NULL).
    void (*linear_backward)(aca_backend *be, void *din, float *dw, float *dbias, const void *dout,
                            const void *in, const void *w, int N, int IC, int OC, int accum_din);

    // ---- layer norm ----
    // out (N,C) = (in - mean) * rstd * w + b; mean, rstd (N) fp32 saved for backward.
    void (*layernorm_forward)(aca_backend *be, void *out, float *mean, float *rstd, const void *in,
                              const void *w, const void *b, int N, int C, float eps);
    // din (N,C) overwrite (+= when accum); dw, db (C) fp32 +=.
    void (*layernorm_backward)(aca_backend *be, void *din, float *dw, float *db, const void *dout,
                               const void *in, const void *w, const float *mean, const float *rstd,
                               int N, int C, int accum);

    // ---- elementwise ----
    void (*add)(aca_backend *be, void *out, const void *a, const void *b, size_t n); // out may alias a or b
    void (*act_forward)(aca_backend *be, aca_act act, void *out, const void *in, size_t n);
    // din = dout * act'(in); din may alias dout.
    void (*act_backward)(aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n);
    // out = keep ? in / (1-p) : 0; in place allowed.
    void (*dropout_forward)(aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed);
    // din = keep ? dout / (1-p) : 0; in place allowed.
    void (*dropout_backward)(aca_backend *be, void *din, const void *dout, size_t n, float p, uint64_t seed);

    // ---- attention ----
    // Called by model_create with the largest shape before attention_state_bytes: resolves `auto`
    // and checks that the requested path runs this shape; -1 with e filled (naming --attention)
    // otherwise.  NULL: every shape runs.
    int (*attention_prepare)(aca_backend *be, int B, int T, int C, int NH, float p_drop, aca_err *e);
    // qkv (B,T,3C) packed per token as [q | k | v], each C = NH*HS; mask (B,T) int32, 1 = real
    // token, 0 = padding (masked as a key; padded query rows are computed like any other).
    // out (B,T,C) = concat_h( dropout(softmax(q_h k_h^T / sqrt(HS) + maskbias)) v_h ).
    // Dropout on the probabilities uses element index ((b*NH + h)*T + i)*T + j.
    // state: attention_state_bytes(B,T,C,NH) bytes the backend saves for backward.
    size_t (*attention_state_bytes)(aca_backend *be, int B, int T, int C, int NH);
    void (*attention_forward)(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask,
                              int B, int T, int C, int NH, float p_drop, uint64_t seed);
    // dqkv (B,T,3C) overwrite.
    void (*attention_backward)(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                               const void *state, const int32_t *mask, int B, int T, int C, int NH,
                               float p_drop, uint64_t seed);

    // ---- classification head ----
    // out (B,C) = in[b, 0, :];  backward: din (B,T,C) = 0 except din[b,0,:] = dout (overwrite).
    void (*cls_gather)(aca_backend *be, void *out, const void *in, int B, int T, int C);
    void (*cls_scatter)(aca_backend *be, void *din, const void *dout, int B, int T, int C);
    // losses (B) fp32 = -log softmax(logits)[label]; when dlogits != NULL it is overwritten with
    // (softmax - onehot(label)) * dscale.  label < 0: loss 0 and zero gradient row.
    void (*cross_entropy)(aca_backend *be, float *losses, void *dlogits, const void *logits,
                          const int32_t *labels, int B, int K, float dscale);

    // ---- optimizer ----
    // Sum of squares of n fp32 values, returned on the host (NaN/Inf propagate).
    double (*sumsq)(aca_backend *be, const float *x, size_t n);
    // AdamW over n fp32 master params p with fp32 grads g and state m, v (see aca_adamw); the first
    // n_decay elements get weight decay.  When pc != NULL, pc = cast(p) in the compute dtype.
    void (*adamw)(aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n,
                  size_t n_decay, const aca_adamw *h);

    // ==== DP-SGD: per-example gradient norms (ghost clipping), reweighting, noise ====
    // (models/ghost.c drives them; docs/dp.md.)  Example b of a (B,T,...) tensor owns rows
    // [b*T, b*T + lens[b]); lens (B) int32 backend memory, or NULL: every example has T rows.  Rows
    // past lens[b] are padding whose output gradient is zero (the model's backward guarantees it):
    // a backend may skip them or include them, they add exact zeros.  sq outputs are (B) fp64 and
    // ACCUMULATE (+=): the squared L2 norm of the example's gradient of that parameter.
    // linear: example b's weight gradient is G_b^T A_b (OC,IC), A_b = its rows of in (T,IC), G_b =
    //   its rows of dout (T,OC).  gram != 0: sq_w[b] += sum_{t,s} (a_t . a_s)(g_t . g_s) (the Gram
    //   form, O(T^2 (IC+OC))); gram == 0: G_b^T A_b is formed and its entries squared (O(T IC OC)).
    //   sq_b (NULL: none) += ||sum_t g_t||^2, the bias's.  Which form is cheaper: aca_ghost_gram.
    void (*ghost_linear)(aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                         const int32_t *lens, int B, int T, int IC, int OC, int gram);
    // layernorm: sq[b] += ||sum_t dout_t * xhat_t||^2 + ||sum_t dout_t||^2 (weight and bias),
    //   xhat = (in - mean) * rstd as layernorm_backward computes it.
    void (*ghost_layernorm)(aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                            const float *rstd, const int32_t *lens, int B, int T, int C);
    // embed (its backward's tables, each NULL to leave it out): sq_wte[b] += sum over token ids v !=
    //   pad_id of ||sum_{t: ids_t = v} dout_t||^2; sq_wpe[b] += sum_t ||dout_t||^2; sq_tte[b] +=
    //   sum over types y of ||sum_{t: type_t = y} dout_t||^2 (type_ids NULL: every token type 0).
    void (*ghost_embed)(aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                        const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C,
                        int pad_id);
    // x (rows, cols) compute dtype: row r *= w[r] (w (rows) fp32), in place.
    void (*scale_rows)(aca_backend *be, void *x, const float *w, int rows, int cols);
    // g[j] += std * z_j for j in [begin, end), z_j ~ N(0,1) the Box-Muller pair (2p, 2p+1) of the
    // Philox draw with key `key`, counter (p, step) (train.h train_dp_add_noise), computed in double.
    void (*dp_noise)(aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key, uint64_t step);
};

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
aca_backend *aca_backend_cpu_create(aca_err *e);
// The CUDA backend's roundings on the CPU (kernels/cpu/ops_emul.c), dtype bf16 or fp16: tensors of
// the compute dtype are stored in it, every op computes in fp32 and rounds its outputs to nearest
// even where the CUDA backend stores them; attention is the CUDA backend's GEMM composition on a
// cuBLAS test double.  For tests: slow.
aca_backend *aca_backend_emul_create(aca_dtype dtype, aca_err *e);
#ifdef ACA_HAVE_CUDA
aca_backend *aca_backend_cuda_create(aca_dtype dtype, aca_err *e);
#endif

#endif
