// The encoder classifier's state, shared by the files that compute it (internal to models/):
//   encoder.c             layout, lifetime, parameters, forward
//   encoder_backward.c    backward, DP-SGD's per-example norms and reweighted backward, AdamW
//   encoder_checkpoint.c  Hugging Face checkpoints: load, check, save
// (include/aca/model.h is the interface; models/distilbert.c and models/bert.c the names.)
//
// Parameter buffer (fp32, numel floats): all weight-decayed tensors (Linear and Embedding weights)
// first, in declaration order, then biases and LayerNorm parameters.  Per layer the q, k, v weights
// are consecutive, forming one (3C, C) matrix, and so are their biases (3C): one linear computes the
// packed qkv (B,T,3C) the attention op takes.
//
// Activations (compute dtype) for max_B x max_T, N = B*T rows, saved per layer for backward:
//   hidden[0] (N,C)  embeddings output;  hidden[l+1] (N,C) output of layer l
//   emb_sum (N,C)    word + position (+ type) embeddings, the LayerNorm input
//   layer l: qkv (N,3C), att (N,C) attention output before out dense, state (attention op's),
//            res1 (N,C) = dropout(out dense) + x, h1 (N,C) = LN1(res1), ffpre (N,H) lin1 output,
//            ffact (N,H) = act(ffpre), res2 (N,C) = dropout(lin2) + h1; LN mean/rstd fp32 (N)
//   head: cls (B,C), hpre (B,C) dense output, hact (B,C) act + dropout, logits (B,K)
// Backward scratch (shared by the layers): dres, dres2, dtmp, datt (N,C), dffn (N,H), dqkv (N,3C).
#ifndef ACA_MODELS_ENCODER_H
#define ACA_MODELS_ENCODER_H

#include "aca/model.h"
#include "model_arch.h"

typedef struct {
    size_t qkv_w, qkv_b, o_w, o_b, ln1_w, ln1_b, f1_w, f1_b, f2_w, f2_b, ln2_w, ln2_b; // parameter offsets
    void *qkv, *att, *state, *res1, *h1, *ffpre, *ffact, *res2;
    float *mean1, *rstd1, *mean2, *rstd2;
} layer_t;

struct aca_model {
    aca_config cfg;
    const model_arch *arch;
    aca_backend *be;
    const aca_ops *ops;
    size_t es; // bytes per compute-dtype element
    int max_B, max_T;

    aca_param_info *info;
    int n_info;
    size_t n_params, n_decay;
    float *params, *grads, *adam_m, *adam_v;
    void *wc; // compute-dtype weight copy (== params when the dtype is fp32)

    size_t wte, wpe, tte, emb_ln_w, emb_ln_b, head_w, head_b, cls_w, cls_b; // parameter offsets
    layer_t *layers;

    int32_t *ids, *mask, *types, *labels; // (B,T), (B,T), (B,T), (B) backend copies of the batch
    void **hidden;                        // n_layers+1 of (N,C)
    void *emb_sum, *cls, *hpre, *hact, *logits;
    float *emb_mean, *emb_rstd, *losses;
    void *dres, *dres2, *dtmp, *datt, *dffn, *dqkv, *dcls, *dh, *dlogits;

    // DP-SGD ghost clipping (model_ghost_norms), allocated on first use: per-example squared norms,
    // real rows and loss weights (max_B) on the backend, and the parameter gradients of the norm pass
    // (numel, never read: it keeps the real gradient buffer untouched).
    double *ghost_sq;
    int32_t *ghost_lens;
    float *ghost_w, *ghost_grads;
    int32_t *lens_host; // (max_B) real rows of each example of the last forward (last real token + 1)

    void **allocs; // every backend allocation, for model_free
    int n_allocs, cap_allocs;

    int top_only; // model_set_top_only: only the parameters outside the base model train

    // The last forward.
    int B, T, train, has_labels, ran;
    uint64_t seed;
};

// One backend allocation, recorded for model_free; NULL (and *failed set, e filled) on failure, and
// nothing once *failed is set.
void *encoder_alloc(aca_model *m, size_t bytes, int *failed, aca_err *e);
// A model of config c with its parameter table (names, shapes, offsets) and nothing allocated on a
// backend: model_create's first step, and what model_check_checkpoint compares a checkpoint with.
aca_model *encoder_layout(const aca_config *c);
// HF _init_weights on host parameters (numel floats); only_head: just the head tensors.
void encoder_init_host(const aca_model *m, float *host, uint64_t seed, int only_head);

// Compute-dtype pointer to parameter offset off / activation row offset.
static inline const void *W(const aca_model *m, size_t off) { return (const char *)m->wc + off * m->es; }
static inline float *G(const aca_model *m, size_t off) { return m->grads + off; }

static inline float drop_p(const aca_model *m, float p) { return m->train ? p : 0.0f; }

#endif
