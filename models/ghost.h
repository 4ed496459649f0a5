// Per-example gradient norms inside the model's backward (ghost clipping; include/aca/model.h
// model_ghost_norms, docs/dp.md): one call per parameterised op with the op's saved input and its
// output gradient, accumulating each example's squared norm on the backend.  Internal to models/.
#ifndef ACA_MODEL_GHOST_H
#define ACA_MODEL_GHOST_H

#include "aca/model.h"

typedef struct {
    aca_backend *be;
    double *sq;          // (B) backend: the squared norms being accumulated
    const int32_t *lens; // (B) backend: real rows of each example (the rest is padding)
    int B, T;
    aca_ghost_form form;
    unsigned skip; // ACA_GHOST_SKIP_* embedding tables left out
} ghost_ctx;

// A linear layer: dout (B,T,OC) and in (B,T,IC) when per_token, else (B,OC) and (B,IC) (the head's
// layers, one row per example).  bias: add the bias's norm too.
void ghost_linear(const ghost_ctx *g, const void *dout, const void *in, int per_token, int IC, int OC, int bias);
// A LayerNorm over (B,T,C) rows with its saved statistics.
void ghost_layernorm(const ghost_ctx *g, const void *dout, const void *in, const float *mean, const float *rstd, int C);
// The embedding tables (those not skipped): dout (B,T,C) the gradient of the embeddings' sum.
void ghost_embed(const ghost_ctx *g, const void *dout, const int32_t *ids, const int32_t *type_ids, int C, int pad_id);

#endif
