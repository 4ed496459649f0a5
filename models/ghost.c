// Per-example gradient norms in the model's backward (models/ghost.h): each call picks the form
// (Bu et al.'s mixed rule unless the caller forces one) and runs the backend's op.
#include "ghost.h"

void ghost_linear(const ghost_ctx *g, const void *dout, const void *in, int per_token, int IC, int OC, int bias) {
    int T = per_token ? g->T : 1;
    int gram = g->form == ACA_GHOST_AUTO ? aca_ghost_gram(T, IC, OC) : g->form == ACA_GHOST_GRAM;
    g->be->ops->ghost_linear(g->be, g->sq, bias ? g->sq : NULL, dout, in, per_token ? g->lens : NULL, g->B, T, IC, OC, gram);
}

void ghost_layernorm(const ghost_ctx *g, const void *dout, const void *in, const float *mean, const float *rstd, int C) {
    g->be->ops->ghost_layernorm(g->be, g->sq, dout, in, mean, rstd, g->lens, g->B, g->T, C);
}

void ghost_embed(const ghost_ctx *g, const void *dout, const int32_t *ids, const int32_t *type_ids, int C, int pad_id) {
    double *wte = g->skip & ACA_GHOST_SKIP_WTE ? NULL : g->sq, *wpe = g->skip & ACA_GHOST_SKIP_WPE ? NULL : g->sq;
    double *tte = !type_ids || (g->skip & ACA_GHOST_SKIP_TTE) ? NULL : g->sq;
    if (wte || wpe || tte) g->be->ops->ghost_embed(g->be, wte, wpe, tte, dout, ids, type_ids, g->lens, g->B, g->T, C, pad_id);
}
