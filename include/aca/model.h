// Transformer classifiers (DistilBERT, BERT) composed from the ops table, numerically as Hugging
// Face's DistilBertForSequenceClassification / BertForSequenceClassification, built from a
// config (config.h).
//
// Parameters live in one fp32 buffer on the backend (master weights), laid out so that all
// weight-decayed tensors come first (n_decay elements), then biases and LayerNorm parameters.
// Per-layer q/k/v weights (and biases) are contiguous, so one (3C, C) linear computes them.
#ifndef ACA_MODEL_H
#define ACA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/config.h"
#include "aca/ops.h"
#include "aca/util.h"

typedef struct {
    char *name;       // Hugging Face name without the "distilbert."/"bert." prefix, e.g. "classifier.weight"
    int ndim;         // 1 or 2
    int64_t shape[2]; // HF shape
    size_t offset;    // element offset in the parameter buffer
    size_t numel;
    int decay; // weight decay applies (not for biases and LayerNorm)
    int base;  // part of the base model: saved as "<prefix>.<name>" (prefix "distilbert" or "bert")
    int head;  // classification head (pre_classifier/pooler, classifier): initialised when a
               // pretrained checkpoint lacks it
} aca_param_info;

typedef struct {
    const int32_t *ids;      // (B,T) host, token ids, padded with pad id
    const int32_t *mask;     // (B,T) host, 1 real token, 0 padding
    const int32_t *type_ids; // (B,T) host or NULL (zeros)
    const int32_t *labels;   // (B) host or NULL
    int B, T;
} aca_batch;

typedef struct aca_model aca_model;

// Allocates parameters, gradients, AdamW state (lazily, on the first step) and activations for
// batches up to max_B x max_T on backend be.
aca_model *model_create(const aca_config *c, aca_backend *be, int max_B, int max_T, aca_err *e);
void model_free(aca_model *m);
const aca_config *model_config(const aca_model *m);
aca_backend *model_backend(const aca_model *m);
const aca_param_info *model_params(const aca_model *m, int *n);
size_t model_num_params(const aca_model *m);

// Hugging Face initialisation: normal(0, initializer_range) weights, zero biases, LayerNorm 1/0,
// padding row zero.  Deterministic in seed.
void model_init_random(aca_model *m, uint64_t seed);
// Loads a HF checkpoint directory's model.safetensors (or a file); tensors the checkpoint lacks
// that belong to the classification head are initialised as HF does (seeded); any other missing,
// mis-shaped, corrupt or non-finite (NaN/Inf: named with its index) tensor is an error.
// From a directory, a classifier is matched to the model's class names (when the model's config has
// names other than LABEL_k) through the directory's config.json id2label (class_name_equal): the
// same classes in another order have their rows reordered (said on the log); other classes, another
// count or a head without names are errors naming the first difference.
int model_load(aca_model *m, const char *path, uint64_t head_seed, aca_err *e);
typedef struct {
    uint64_t head_seed; // seed of head tensors initialised here
    int new_head;       // ignore the checkpoint's classifier (weight and bias): a fresh one of the model's classes
    int need_head;      // a missing head tensor is an error, not a fresh one (a model to evaluate: a head
                        // initialised here would measure chance)
} aca_load_opts;
int model_load_with(aca_model *m, const char *path, const aca_load_opts *o, aca_err *e);
// What model_load would say of path's tensors for a model of config c, without building the model or
// reading a value: every tensor the config needs (a head may be missing) is there with the config's
// shape.  The same errors (file, tensor, its shape and the config's); 0 when they agree.
int model_check_checkpoint(const aca_config *c, const char *path, aca_err *e);
// Writes dir/config.json and dir/model.safetensors (HF names with the model prefix), atomically.
int model_save(const aca_model *m, const char *dir, aca_err *e);
// Host copies of the fp32 master parameters / gradients (numel floats) for tests and tools.
void model_get_params(const aca_model *m, float *host);
void model_set_params(aca_model *m, const float *host);
void model_get_grads(const aca_model *m, float *host);
// Overwrites the gradient buffer from the host (numel floats): DP-SGD's noisy per-example sum.
void model_set_grads(aca_model *m, const float *host);

// Forward pass.  train != 0 turns dropout on with masks derived from seed.  If batch->labels is set
// the mean cross-entropy loss is returned in *loss (else *loss = 0).  logits (B,K) are copied to
// the host when logits_out != NULL.  Errors: shape beyond the model's limits, label out of range,
// token id out of range.
int model_forward(aca_model *m, const aca_batch *batch, int train, uint64_t seed, float *logits_out,
                  float *loss, aca_err *e);
// Backward pass of the last forward (which needs labels); gradients ACCUMULATE, scaled by
// loss_scale (1 unless fp16 loss scaling).
void model_backward(aca_model *m, float loss_scale);
void model_zero_grad(aca_model *m);
// Global L2 norm of all gradients (NaN/Inf propagate).
double model_grad_norm(aca_model *m);
// The AdamW state (the two moments, numel floats each, zero) allocated on the model's backend unless
// it is there.  Call it before the first model_adamw_step and before model_set_adam_state (train_run
// and train_checkpoint_load do), which would otherwise allocate it themselves and, having no error
// path, abort when out of memory.  0, or -1 with e (ACA_ERR_MEMORY from the backend) naming the bytes.
int model_prepare_adam(aca_model *m, aca_err *e);
// One AdamW step over all parameters (weight decay only on decayed tensors).
void model_adamw_step(aca_model *m, const aca_adamw *h);
// AdamW state for checkpoint/resume: host copies (numel floats each) in and out (zeros out before
// the state is prepared).
void model_get_adam_state(const aca_model *m, float *m_host, float *v_host);
void model_set_adam_state(aca_model *m, const float *m_host, const float *v_host);

// ---- additions (parity tests, tools) ----
// The parameter with this HF name, with or without the model prefix; NULL if none.
const aca_param_info *model_param_find(const aca_model *m, const char *name);
// "distilbert" or "bert": the prefix of base-model tensor names.
const char *model_prefix(const aca_model *m);
// Hidden states of the last forward, as HF's output_hidden_states: i = 0 the embeddings output
// (after LayerNorm and dropout), i = l+1 the output of layer l.  host: B*T*C floats.
// Returns -1 (e filled) if i is out of range or no forward has run.
int model_get_hidden(const aca_model *m, int i, float *host, aca_err *e);

// ---- DP-SGD: per-example gradient norms and the reweighted backward (docs/dp.md) ----
// Ghost clipping (Li et al. 2022; Bu et al. 2022): each example's gradient norm from the saved
// inputs and output gradients of every op with parameters, never forming the whole per-example
// gradient.  Per linear layer either the Gram form or the layer's per-example gradient (ops.h
// ghost_linear): ACA_GHOST_AUTO picks by Bu et al.'s mixed rule (aca_ghost_gram); the others force
// one form everywhere (tests compare them).
typedef enum { ACA_GHOST_AUTO = 0, ACA_GHOST_GRAM, ACA_GHOST_MATERIALISE } aca_ghost_form;
enum { ACA_GHOST_SKIP_WTE = 1, ACA_GHOST_SKIP_WPE = 2, ACA_GHOST_SKIP_TTE = 4 }; // embedding tables
typedef struct {
    aca_ghost_form form;
    unsigned skip; // ACA_GHOST_SKIP_* bits: tables left out of the norms (frozen parameters)
} aca_ghost_opts;
// After a forward with labels: sq (B, host) receives, for each example b of that batch, the squared
// L2 norm over every parameter (but the skipped tables) of the gradient of b's own cross-entropy
// (unscaled: not divided by B), under the forward's dropout masks.  Runs one backward pass; the
// model's gradient buffer is left as it was.  -1 (e filled) when no forward with labels ran or the
// backend has no ghost-clipping ops.
int model_ghost_norms(aca_model *m, const aca_ghost_opts *o, double *sq, aca_err *e);
// Backward of the last forward with example b's loss gradient weighted by w[b] (host, B floats)
// instead of 1/B: the gradients ACCUMULATE sum_b w[b] * d loss_b / d theta.  Errors as above.
int model_backward_weighted(aca_model *m, const float *w, aca_err *e);
// The largest batch the model was created for (model_create's max_B).
int model_max_batch(const aca_model *m);
// on != 0: only the parameters outside the base model (aca_param_info.base == 0: BERT's classifier,
// DistilBERT's pre_classifier and classifier) train, so every backward pass (model_backward,
// model_ghost_norms, model_backward_weighted) stops below them: no gradient of the base model is
// computed (its gradients stay as they were: zero after model_zero_grad) and the per-example norms
// are those of the parameters outside it.
void model_set_top_only(aca_model *m, int on);
// AdamW (as model_adamw_step) over the n parameter ranges [begin, end) only (ranges 2n, increasing):
// the rest, frozen, keeps its values (no weight decay) and its AdamW state.
void model_adamw_step_ranges(aca_model *m, const aca_adamw *h, const size_t *ranges, int n);
// The fp32 parameter-gradient buffer itself (numel floats, backend memory), for the trainer's ops on
// it (DP-SGD noise, frozen ranges).
float *model_grad_buffer(aca_model *m);

// A batch from a JSON file {"input_ids":[[..]], "attention_mask":[[..]], "token_type_ids":[[..]],
// "labels":[..]}: only input_ids is required; every row the same length (ragged rows, non-integers,
// unknown fields and a labels count other than the rows are errors naming the file and field).
// Values are not range-checked here (model_forward does that against the config).
typedef struct {
    int B, T;
    int32_t *ids, *mask, *types, *labels; // (B,T), (B,T) or NULL, (B,T) or NULL, (B) or NULL
} aca_batch_json;
int batch_json_load(const char *path, aca_batch_json *b, aca_err *e);
void batch_json_free(aca_batch_json *b);

// Dropout sites and the per-site seed: seed = hash(forward seed, layer, site), a fixed function so
// that every backend draws the same masks.  layer is -1 for the embeddings and the head.
typedef enum { ACA_DROP_EMB = 0, ACA_DROP_ATTN_PROBS, ACA_DROP_ATTN_OUT, ACA_DROP_FFN, ACA_DROP_HEAD } aca_drop_site;
uint64_t model_dropout_seed(uint64_t seed, int layer, aca_drop_site site);

#endif
