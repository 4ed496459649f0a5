// The encoder classifier's backward pass (include/aca/model.h), DP-SGD's per-example gradient norms
// (ghost clipping) and reweighted backward, and AdamW over its parameters.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "ghost.h"

// ---- backward ----
// The backward pass of the last forward.  Row b of dlogits is (softmax - onehot) * dscale, times
// row_w[b] when row_w (backend, B floats) is given.  With g, every op with parameters also adds each
// example's squared gradient norm into g->sq (ghost.h), from its output gradient and saved input.
static void backward_pass(aca_model *m, float dscale, const float *row_w, const ghost_ctx *g) {
    const aca_ops *o = m->ops;
    aca_backend *be = m->be;
    const aca_config *c = &m->cfg;
    const model_arch *a = m->arch;
    int B = m->B, T = m->T, C = c->dim, H = c->hidden_dim, K = c->num_labels, NH = c->n_heads, N = B * T;
    size_t nC = (size_t)N * C;
    uint64_t seed = m->seed;
    float p_hid = drop_p(m, c->dropout);

    // Head.
    o->cross_entropy(be, m->losses, m->dlogits, m->logits, m->labels, B, K, dscale);
    if (row_w) o->scale_rows(be, m->dlogits, row_w, B, K);
    if (g) ghost_linear(g, m->dlogits, m->hact, 0, C, K, 1);
    int stop = m->top_only && a->head_dense_in_base; // BERT's pooler is part of the base: frozen too
    o->linear_backward(be, stop ? NULL : m->dh, G(m, m->cls_w), G(m, m->cls_b), m->dlogits, m->hact, W(m, m->cls_w), B, C, K, 0);
    if (stop) return;
    if (drop_p(m, c->classifier_dropout) > 0)
        o->dropout_backward(be, m->dh, m->dh, (size_t)B * C, c->classifier_dropout, model_dropout_seed(seed, -1, ACA_DROP_HEAD));
    o->act_backward(be, a->head_act, m->dh, m->dh, m->hpre, (size_t)B * C);
    if (g) ghost_linear(g, m->dh, m->cls, 0, C, C, 1);
    o->linear_backward(be, m->top_only ? NULL : m->dcls, G(m, m->head_w), G(m, m->head_b), m->dh, m->cls, W(m, m->head_w), B, C,
                       C, 0);
    if (m->top_only) return; // the base model is frozen: nothing below the head needs a gradient
    o->cls_scatter(be, m->dres, m->dcls, B, T, C);

    // Layers, last to first; dres holds the gradient of the layer's output, then of its input.
    for (int l = c->n_layers - 1; l >= 0; l--) {
        layer_t *L = &m->layers[l];
        const void *x = m->hidden[l];
        if (g) ghost_layernorm(g, m->dres, L->res2, L->mean2, L->rstd2, C);
        o->layernorm_backward(be, m->dres2, G(m, L->ln2_w), G(m, L->ln2_b), m->dres, L->res2, W(m, L->ln2_w), L->mean2, L->rstd2, N,
                              C, 0);
        void *dff = m->dres2; // gradient of the lin2 output (after its dropout)
        if (p_hid > 0) {
            o->dropout_backward(be, m->dtmp, m->dres2, nC, c->dropout, model_dropout_seed(seed, l, ACA_DROP_FFN));
            dff = m->dtmp;
        }
        if (g) ghost_linear(g, dff, L->ffact, 1, H, C, 1);
        o->linear_backward(be, m->dffn, G(m, L->f2_w), G(m, L->f2_b), dff, L->ffact, W(m, L->f2_w), N, H, C, 0);
        o->act_backward(be, c->activation, m->dffn, m->dffn, L->ffpre, (size_t)N * H);
        if (g) ghost_linear(g, m->dffn, L->h1, 1, C, H, 1);
        // dres2 (the residual path's gradient of h1) += lin1's input gradient.
        o->linear_backward(be, m->dres2, G(m, L->f1_w), G(m, L->f1_b), m->dffn, L->h1, W(m, L->f1_w), N, C, H, 1);
        if (g) ghost_layernorm(g, m->dres2, L->res1, L->mean1, L->rstd1, C);
        o->layernorm_backward(be, m->dres, G(m, L->ln1_w), G(m, L->ln1_b), m->dres2, L->res1, W(m, L->ln1_w), L->mean1, L->rstd1, N,
                              C, 0);
        void *dproj = m->dres;
        if (a->attn_out_dropout && p_hid > 0) {
            o->dropout_backward(be, m->dtmp, m->dres, nC, c->dropout, model_dropout_seed(seed, l, ACA_DROP_ATTN_OUT));
            dproj = m->dtmp;
        }
        if (g) ghost_linear(g, dproj, L->att, 1, C, C, 1);
        o->linear_backward(be, m->datt, G(m, L->o_w), G(m, L->o_b), dproj, L->att, W(m, L->o_w), N, C, C, 0);
        o->attention_backward(be, m->dqkv, m->datt, L->qkv, L->att, L->state, m->mask, B, T, C, NH, drop_p(m, c->attention_dropout),
                              model_dropout_seed(seed, l, ACA_DROP_ATTN_PROBS));
        if (g) ghost_linear(g, m->dqkv, x, 1, C, 3 * C, 1);
        // dres (the residual path's gradient of x) += the qkv linear's input gradient.
        o->linear_backward(be, m->dres, G(m, L->qkv_w), G(m, L->qkv_b), m->dqkv, x, W(m, L->qkv_w), N, C, 3 * C, 1);
    }

    // Embeddings.
    if (p_hid > 0) o->dropout_backward(be, m->dres, m->dres, nC, c->dropout, model_dropout_seed(seed, -1, ACA_DROP_EMB));
    if (g) ghost_layernorm(g, m->dres, m->emb_sum, m->emb_mean, m->emb_rstd, C);
    o->layernorm_backward(be, m->dtmp, G(m, m->emb_ln_w), G(m, m->emb_ln_b), m->dres, m->emb_sum, W(m, m->emb_ln_w), m->emb_mean,
                          m->emb_rstd, N, C, 0);
    if (g) ghost_embed(g, m->dtmp, m->ids, a->tte ? m->types : NULL, C, c->pad_token_id);
    o->embed_backward(be, G(m, m->wte), G(m, m->wpe), a->tte ? G(m, m->tte) : NULL, m->dtmp, m->ids, a->tte ? m->types : NULL, B, T,
                      C, c->pad_token_id);
}

void model_backward(aca_model *m, float loss_scale) {
    if (!m->ran || !m->has_labels) return; // documented precondition: a forward with labels
    backward_pass(m, loss_scale / (float)m->B, NULL, NULL); // mean cross-entropy: each row's gradient / B
}

// ---- DP-SGD: ghost clipping ----
static int ghost_ready(aca_model *m, aca_err *e) {
    if (!m->ran || !m->has_labels) return aca_errf(e, ACA_ERR_VALUE, "per-example gradients: no forward pass with labels has run");
    const aca_ops *o = m->ops;
    if (!o->ghost_linear || !o->ghost_layernorm || !o->ghost_embed || !o->scale_rows || !o->dp_noise)
        return aca_errf(e, ACA_ERR_VALUE, "the %s backend has no ghost-clipping ops (DP-SGD per-example norms)", o->name);
    if (m->ghost_sq) return 0;
    int failed = 0;
    size_t Bm = (size_t)m->max_B;
    m->ghost_sq = encoder_alloc(m, Bm * sizeof(double), &failed, e);
    m->ghost_lens = encoder_alloc(m, Bm * sizeof(int32_t), &failed, e);
    m->ghost_w = encoder_alloc(m, Bm * sizeof(float), &failed, e);
    m->ghost_grads = encoder_alloc(m, m->n_params * sizeof(float), &failed, e);
    if (failed) {
        m->ghost_sq = NULL; // the buffers allocated so far stay in allocs until model_free
        return aca_err_prefix(e, "DP-SGD per-example norms (%zu parameters)", m->n_params);
    }
    o->memset0(m->be, m->ghost_grads, m->n_params * sizeof(float));
    return 0;
}

int model_ghost_norms(aca_model *m, const aca_ghost_opts *opt, double *sq, aca_err *e) {
    if (ghost_ready(m, e)) return -1;
    const aca_ops *o = m->ops;
    int B = m->B;
    o->memset0(m->be, m->ghost_sq, (size_t)B * sizeof(double));
    o->upload(m->be, m->ghost_lens, m->lens_host, (size_t)B * sizeof(int32_t));
    ghost_ctx g = {m->be, m->ghost_sq, m->ghost_lens, B, m->T, opt ? opt->form : ACA_GHOST_AUTO, opt ? opt->skip : 0};
    float *keep = m->grads; // this pass's parameter gradients go to the scratch buffer
    m->grads = m->ghost_grads;
    backward_pass(m, 1.0f, NULL, &g);
    m->grads = keep;
    o->download(m->be, sq, m->ghost_sq, (size_t)B * sizeof(double));
    return 0;
}

int model_backward_weighted(aca_model *m, const float *w, aca_err *e) {
    if (ghost_ready(m, e)) return -1;
    m->ops->upload(m->be, m->ghost_w, w, (size_t)m->B * sizeof(float));
    backward_pass(m, 1.0f, m->ghost_w, NULL);
    return 0;
}

void model_zero_grad(aca_model *m) { m->ops->memset0(m->be, m->grads, m->n_params * sizeof(float)); }

double model_grad_norm(aca_model *m) { return sqrt(m->ops->sumsq(m->be, m->grads, m->n_params)); }

int model_prepare_adam(aca_model *m, aca_err *e) {
    if (m->adam_m) return 0;
    int failed = 0;
    const size_t bytes = m->n_params * sizeof(float);
    float *am = encoder_alloc(m, bytes, &failed, e), *av = encoder_alloc(m, bytes, &failed, e);
    if (failed) // a first buffer allocated stays in allocs until model_free
        return aca_err_prefix(e, "AdamW state of %zu parameters (%zu bytes for each of its two moments)", m->n_params, bytes);
    m->ops->memset0(m->be, am, bytes);
    m->ops->memset0(m->be, av, bytes);
    m->adam_m = am, m->adam_v = av;
    return 0;
}

// The guard of the functions below, which have no error path: their callers prepare the state first
// (model_prepare_adam), so out of memory is an error there, not an abort here.
static void ensure_adam(aca_model *m) {
    aca_err e = {0};
    if (model_prepare_adam(m, &e)) {
        fprintf(stderr, "aca: %s\n", e.msg);
        abort();
    }
}

void model_set_top_only(aca_model *m, int on) { m->top_only = on != 0; }

void model_adamw_step_ranges(aca_model *m, const aca_adamw *h, const size_t *ranges, int n) {
    ensure_adam(m);
    for (int k = 0; k < n; k++) {
        size_t b = ranges[2 * k], len = ranges[2 * k + 1] - b, nd = m->n_decay > b ? m->n_decay - b : 0;
        void *pc = m->wc == m->params ? NULL : (char *)m->wc + b * m->es;
        m->ops->adamw(m->be, m->params + b, m->grads + b, m->adam_m + b, m->adam_v + b, pc, len, nd < len ? nd : len, h);
    }
}

void model_adamw_step(aca_model *m, const aca_adamw *h) {
    ensure_adam(m);
    m->ops->adamw(m->be, m->params, m->grads, m->adam_m, m->adam_v, m->wc == m->params ? NULL : m->wc, m->n_params, m->n_decay, h);
}

void model_get_adam_state(const aca_model *m, float *m_host, float *v_host) {
    size_t bytes = m->n_params * sizeof(float);
    if (!m->adam_m) {
        memset(m_host, 0, bytes);
        memset(v_host, 0, bytes);
        return;
    }
    m->ops->download(m->be, m_host, m->adam_m, bytes);
    m->ops->download(m->be, v_host, m->adam_v, bytes);
}

void model_set_adam_state(aca_model *m, const float *m_host, const float *v_host) {
    ensure_adam(m);
    m->ops->upload(m->be, m->adam_m, m_host, m->n_params * sizeof(float));
    m->ops->upload(m->be, m->adam_v, v_host, m->n_params * sizeof(float));
}
