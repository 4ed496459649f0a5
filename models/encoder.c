// The encoder classifier shared by DistilBERT and BERT (include/aca/model.h), composed only from the
// ops table: its layout, lifetime, parameters and forward pass.  models/encoder.h holds its state and
// lists the other files (backward, checkpoints); models/distilbert.c and models/bert.c describe what
// differs (names, token types, head activation, dropout after the attention output).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

// ---- small helpers ----
void *encoder_alloc(aca_model *m, size_t bytes, int *failed, aca_err *e) {
    if (*failed) return NULL;
    void *p = m->ops->alloc(m->be, bytes ? bytes : 1, e);
    if (!p) {
        *failed = 1;
        return NULL;
    }
    if (m->n_allocs == m->cap_allocs) {
        m->cap_allocs = m->cap_allocs ? 2 * m->cap_allocs : 64;
        m->allocs = xrealloc(m->allocs, (size_t)m->cap_allocs * sizeof *m->allocs);
    }
    m->allocs[m->n_allocs++] = p;
    return p;
}

uint64_t model_dropout_seed(uint64_t seed, int layer, aca_drop_site site) {
    // splitmix64 finaliser over (seed, layer, site): a fixed function, the same on every backend.
    uint64_t z = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)((int64_t)layer + 2) + ((uint64_t)site << 56));
    for (int r = 0; r < 2; r++) {
        z += 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
    }
    return z;
}

// ---- parameter layout ----
typedef struct {
    aca_model *m;
    int pass; // 0: decayed tensors, 1: the rest
    size_t off;
} builder;

static void declare(builder *b, size_t *slot, int rows, int cols, int decay, int base, int head, const char *fmt, int layer) {
    if (b->pass != !decay) return;
    aca_model *m = b->m;
    aca_param_info *p = &m->info[m->n_info++];
    char name[256];
    snprintf(name, sizeof name, fmt, layer);
    p->name = xstrdup(name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->numel = (size_t)rows * (size_t)(cols ? cols : 1);
    p->offset = b->off;
    p->decay = decay;
    p->base = base;
    p->head = head;
    if (slot) *slot = b->off;
    b->off += p->numel;
}

static void declare_all(builder *b) {
    aca_model *m = b->m;
    const model_arch *a = m->arch;
    const aca_config *c = &m->cfg;
    int C = c->dim, H = c->hidden_dim, K = c->num_labels;
    declare(b, &m->wte, c->vocab_size, C, 1, 1, 0, a->wte, 0);
    declare(b, &m->wpe, c->max_position, C, 1, 1, 0, a->wpe, 0);
    if (a->tte) declare(b, &m->tte, c->type_vocab_size, C, 1, 1, 0, a->tte, 0);
    declare(b, &m->emb_ln_w, C, 0, 0, 1, 0, a->emb_ln_w, 0);
    declare(b, &m->emb_ln_b, C, 0, 0, 1, 0, a->emb_ln_b, 0);
    for (int l = 0; l < c->n_layers; l++) {
        layer_t *L = &m->layers[l];
        declare(b, &L->qkv_w, C, C, 1, 1, 0, a->q_w, l); // q, k, v consecutive: one (3C, C) matrix
        declare(b, NULL, C, C, 1, 1, 0, a->k_w, l);
        declare(b, NULL, C, C, 1, 1, 0, a->v_w, l);
        declare(b, &L->qkv_b, C, 0, 0, 1, 0, a->q_b, l);
        declare(b, NULL, C, 0, 0, 1, 0, a->k_b, l);
        declare(b, NULL, C, 0, 0, 1, 0, a->v_b, l);
        declare(b, &L->o_w, C, C, 1, 1, 0, a->o_w, l);
        declare(b, &L->o_b, C, 0, 0, 1, 0, a->o_b, l);
        declare(b, &L->ln1_w, C, 0, 0, 1, 0, a->ln1_w, l);
        declare(b, &L->ln1_b, C, 0, 0, 1, 0, a->ln1_b, l);
        declare(b, &L->f1_w, H, C, 1, 1, 0, a->f1_w, l);
        declare(b, &L->f1_b, H, 0, 0, 1, 0, a->f1_b, l);
        declare(b, &L->f2_w, C, H, 1, 1, 0, a->f2_w, l);
        declare(b, &L->f2_b, C, 0, 0, 1, 0, a->f2_b, l);
        declare(b, &L->ln2_w, C, 0, 0, 1, 0, a->ln2_w, l);
        declare(b, &L->ln2_b, C, 0, 0, 1, 0, a->ln2_b, l);
    }
    declare(b, &m->head_w, C, C, 1, a->head_dense_in_base, 1, a->head_w, 0);
    declare(b, &m->head_b, C, 0, 0, a->head_dense_in_base, 1, a->head_b, 0);
    declare(b, &m->cls_w, K, C, 1, 0, 1, a->cls_w, 0);
    declare(b, &m->cls_b, K, 0, 0, 0, 1, a->cls_b, 0);
}

// ---- lifetime ----
aca_model *encoder_layout(const aca_config *c) {
    aca_model *m = xcalloc(1, sizeof *m);
    m->cfg = *c;
    m->cfg.labels = NULL;
    config_set_labels(&m->cfg, c->num_labels, c->labels ? (const char *const *)c->labels : NULL);
    m->arch = c->arch == ACA_ARCH_BERT ? &MODEL_ARCH_BERT : &MODEL_ARCH_DISTILBERT;
    m->layers = xcalloc((size_t)c->n_layers, sizeof *m->layers);
    m->info = xcalloc((size_t)(16 * c->n_layers + 16), sizeof *m->info);
    builder b = {m, 0, 0};
    declare_all(&b);
    m->n_decay = b.off;
    b.pass = 1;
    declare_all(&b);
    m->n_params = b.off;
    return m;
}

// The capability query: the backend runs the model's largest shapes (aca_backend_prepare), asked
// before anything is allocated; else an error naming the config's fields and the backend's limit.
static int check_capability(const aca_model *m, aca_err *e) {
    const aca_config *c = &m->cfg;
    const model_arch *a = m->arch;
    aca_shape s = {m->max_B, m->max_T, c->dim, c->n_heads, c->hidden_dim, c->num_labels, c->vocab_size, c->attention_dropout};
    if (!aca_backend_prepare(m->be, &s, e)) return 0;
    return aca_err_prefix(e, "%s config (%s %d, %s %d: head size %d, %s %d, %s %g) with batch %d x %d tokens on the %s backend",
                          a->prefix, a->cfg_dim, c->dim, a->cfg_heads, c->n_heads, c->dim / c->n_heads, a->cfg_ffn,
                          c->hidden_dim, a->cfg_att_drop, (double)c->attention_dropout, m->max_B, m->max_T, m->ops->name);
}

aca_model *model_create(const aca_config *c, aca_backend *be, int max_B, int max_T, aca_err *e) {
    if (max_B < 1 || max_T < 1 || max_T > c->max_position) {
        aca_errf(e, ACA_ERR_VALUE, "model: batch limits %d x %d invalid (tokens must be 1..max_position_embeddings %d)", max_B,
                 max_T, c->max_position);
        return NULL;
    }
    aca_model *m = encoder_layout(c);
    m->be = be;
    m->ops = be->ops;
    m->es = aca_dtype_size(be->dtype);
    m->max_B = max_B, m->max_T = max_T;
    if (check_capability(m, e)) {
        model_free(m);
        return NULL;
    }
    m->lens_host = xcalloc((size_t)max_B, sizeof *m->lens_host);
    int Lc = c->n_layers, C = c->dim, H = c->hidden_dim, K = c->num_labels;

    int failed = 0;
    size_t P = m->n_params, N = (size_t)max_B * max_T, es = m->es, f4 = sizeof(float);
    m->params = encoder_alloc(m, P * f4, &failed, e);
    m->grads = encoder_alloc(m, P * f4, &failed, e);
    m->wc = be->dtype == ACA_DT_F32 ? m->params : encoder_alloc(m, P * es, &failed, e);
    m->ids = encoder_alloc(m, N * 4, &failed, e);
    m->mask = encoder_alloc(m, N * 4, &failed, e);
    m->types = encoder_alloc(m, N * 4, &failed, e);
    m->labels = encoder_alloc(m, (size_t)max_B * 4, &failed, e);
    m->hidden = xcalloc((size_t)Lc + 1, sizeof *m->hidden);
    for (int i = 0; i <= Lc; i++) m->hidden[i] = encoder_alloc(m, N * C * es, &failed, e);
    m->emb_sum = encoder_alloc(m, N * C * es, &failed, e);
    m->emb_mean = encoder_alloc(m, N * f4, &failed, e);
    m->emb_rstd = encoder_alloc(m, N * f4, &failed, e);
    size_t state_bytes = m->ops->attention_state_bytes(be, max_B, max_T, C, c->n_heads);
    for (int l = 0; l < Lc; l++) {
        layer_t *L = &m->layers[l];
        L->qkv = encoder_alloc(m, N * 3 * C * es, &failed, e);
        L->att = encoder_alloc(m, N * C * es, &failed, e);
        L->state = encoder_alloc(m, state_bytes, &failed, e);
        L->res1 = encoder_alloc(m, N * C * es, &failed, e);
        L->h1 = encoder_alloc(m, N * C * es, &failed, e);
        L->ffpre = encoder_alloc(m, N * H * es, &failed, e);
        L->ffact = encoder_alloc(m, N * H * es, &failed, e);
        L->res2 = encoder_alloc(m, N * C * es, &failed, e);
        L->mean1 = encoder_alloc(m, N * f4, &failed, e);
        L->rstd1 = encoder_alloc(m, N * f4, &failed, e);
        L->mean2 = encoder_alloc(m, N * f4, &failed, e);
        L->rstd2 = encoder_alloc(m, N * f4, &failed, e);
    }
    size_t Bm = (size_t)max_B;
    m->cls = encoder_alloc(m, Bm * C * es, &failed, e);
    m->hpre = encoder_alloc(m, Bm * C * es, &failed, e);
    m->hact = encoder_alloc(m, Bm * C * es, &failed, e);
    m->logits = encoder_alloc(m, Bm * K * es, &failed, e);
    m->losses = encoder_alloc(m, Bm * f4, &failed, e);
    m->dres = encoder_alloc(m, N * C * es, &failed, e);
    m->dres2 = encoder_alloc(m, N * C * es, &failed, e);
    m->dtmp = encoder_alloc(m, N * C * es, &failed, e);
    m->datt = encoder_alloc(m, N * C * es, &failed, e);
    m->dffn = encoder_alloc(m, N * H * es, &failed, e);
    m->dqkv = encoder_alloc(m, N * 3 * C * es, &failed, e);
    m->dcls = encoder_alloc(m, Bm * C * es, &failed, e);
    m->dh = encoder_alloc(m, Bm * C * es, &failed, e);
    m->dlogits = encoder_alloc(m, Bm * K * es, &failed, e);
    if (failed) {
        aca_err_prefix(e, "model (%zu parameters, batch %d x %d)", P, max_B, max_T);
        model_free(m);
        return NULL;
    }
    m->ops->memset0(be, m->params, P * f4);
    m->ops->memset0(be, m->grads, P * f4);
    return m;
}

void model_free(aca_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_allocs; i++) m->ops->free(m->be, m->allocs[i]);
    free(m->allocs);
    for (int i = 0; i < m->n_info; i++) free(m->info[i].name);
    free(m->info);
    free(m->layers);
    free(m->hidden);
    free(m->lens_host);
    config_free(&m->cfg);
    free(m);
}

const aca_config *model_config(const aca_model *m) { return &m->cfg; }
int model_max_batch(const aca_model *m) { return m->max_B; }
float *model_grad_buffer(aca_model *m) { return m->grads; }
aca_backend *model_backend(const aca_model *m) { return m->be; }
const char *model_prefix(const aca_model *m) { return m->arch->prefix; }
size_t model_num_params(const aca_model *m) { return m->n_params; }
const aca_param_info *model_params(const aca_model *m, int *n) {
    *n = m->n_info;
    return m->info;
}

const aca_param_info *model_param_find(const aca_model *m, const char *name) {
    size_t pl = strlen(m->arch->prefix);
    if (!strncmp(name, m->arch->prefix, pl) && name[pl] == '.') name += pl + 1;
    for (int i = 0; i < m->n_info; i++)
        if (!strcmp(m->info[i].name, name)) return &m->info[i];
    return NULL;
}

// ---- parameters ----
static void refresh_copy(aca_model *m) {
    if (m->wc != m->params) m->ops->cast_params(m->be, m->wc, m->params, m->n_params);
}

void model_get_params(const aca_model *m, float *host) {
    m->ops->download(m->be, host, m->params, m->n_params * sizeof(float));
}
void model_set_params(aca_model *m, const float *host) {
    m->ops->upload(m->be, m->params, host, m->n_params * sizeof(float));
    refresh_copy(m);
}
void model_get_grads(const aca_model *m, float *host) {
    m->ops->download(m->be, host, m->grads, m->n_params * sizeof(float));
}
void model_set_grads(aca_model *m, const float *host) {
    m->ops->upload(m->be, m->grads, host, m->n_params * sizeof(float));
}

// HF _init_weights on host parameters: Linear/Embedding weights normal(0, initializer_range), the
// padding row zero, biases zero, LayerNorm weight 1 and bias 0.  only_head: just the head tensors.
void encoder_init_host(const aca_model *m, float *host, uint64_t seed, int only_head) {
    aca_rng r;
    rng_seed(&r, seed, 0x6d6f64656c696e69ULL); // "modelini"
    for (int i = 0; i < m->n_info; i++) {
        const aca_param_info *p = &m->info[i];
        if (only_head && !p->head) continue;
        float *x = host + p->offset;
        int is_ln = strstr(p->name, "LayerNorm") || strstr(p->name, "layer_norm");
        if (p->decay) {
            for (size_t k = 0; k < p->numel; k++) x[k] = (float)(rng_normal(&r) * m->cfg.initializer_range);
            if (p->offset == m->wte && m->cfg.pad_token_id >= 0)
                memset(x + (size_t)m->cfg.pad_token_id * m->cfg.dim, 0, (size_t)m->cfg.dim * sizeof(float));
        } else {
            float v = is_ln && strstr(p->name, ".weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < p->numel; k++) x[k] = v;
        }
    }
}

void model_init_random(aca_model *m, uint64_t seed) {
    float *host = xmalloc(m->n_params * sizeof(float));
    encoder_init_host(m, host, seed, 0);
    model_set_params(m, host);
    free(host);
}

// ---- forward ----
static int check_batch(const aca_model *m, const aca_batch *b, aca_err *e) {
    const aca_config *c = &m->cfg;
    if (b->B < 1 || b->B > m->max_B || b->T < 1 || b->T > m->max_T)
        return aca_errf(e, ACA_ERR_VALUE, "batch %d x %d exceeds the model's limits %d x %d (batch x tokens)", b->B, b->T, m->max_B,
                        m->max_T);
    for (int i = 0; i < b->B; i++) {
        int real = !b->mask;
        for (int t = 0; t < b->T && !real; t++) real = b->mask[(size_t)i * b->T + t] == 1;
        if (!real) // Hugging Face then attends to the padding (every score at the mask's minimum): not what aca computes
            return aca_errf(e, ACA_ERR_VALUE, "row %d: the attention mask has no 1 (no real token): a row needs at least one",
                            i);
        for (int t = 0; t < b->T; t++) {
            size_t k = (size_t)i * b->T + t;
            if (b->ids[k] < 0 || b->ids[k] >= c->vocab_size)
                return aca_errf(e, ACA_ERR_VALUE, "row %d, position %d: token id %d is outside the vocabulary [0, %d)", i, t,
                                b->ids[k], c->vocab_size);
            if (b->mask && b->mask[k] != 0 && b->mask[k] != 1)
                return aca_errf(e, ACA_ERR_VALUE, "row %d, position %d: attention mask %d (expected 0 or 1)", i, t, b->mask[k]);
            if (b->type_ids && b->type_ids[k] != 0 && (b->type_ids[k] < 0 || b->type_ids[k] >= c->type_vocab_size))
                return aca_errf(e, ACA_ERR_VALUE, "row %d, position %d: token type %d is outside [0, %d)", i, t, b->type_ids[k],
                                c->type_vocab_size ? c->type_vocab_size : 1);
        }
    }
    if (b->labels)
        for (int i = 0; i < b->B; i++)
            if (b->labels[i] < 0 || b->labels[i] >= c->num_labels)
                return aca_errf(e, ACA_ERR_VALUE, "row %d: label %d is outside the head's %d classes [0, %d)", i, b->labels[i],
                                c->num_labels, c->num_labels);
    return 0;
}

// Non-finite activations are an error, never a number: the head's input (B,C) — where DistilBERT's
// ReLU would turn a NaN from anywhere below into 0 and a finite logit — and the logits (B,K).
static int check_head_finite(const aca_model *m, int B, aca_err *e) {
    const int C = m->cfg.dim, K = m->cfg.num_labels;
    float *h = xmalloc((size_t)B * (C > K ? C : K) * sizeof *h);
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        int w = pass ? K : C;
        m->ops->to_f32(m->be, h, pass ? m->logits : m->hpre, (size_t)B * w);
        for (size_t i = 0; i < (size_t)B * w; i++) {
            if (isfinite(h[i])) continue;
            rc = aca_errf(e, ACA_ERR_NUMERIC, "row %zu: %s %zu is %s (the weights or the computation overflowed)", i / w,
                          pass ? "logit" : "the classification head's input, element", i % w, isnan(h[i]) ? "NaN" : "Inf");
            break;
        }
    }
    free(h);
    return rc;
}

// Rows of each example that gradients can reach: up to its last real token (all T when the mask
// has none, as a fully masked row attends to every key).  Past it the output gradient is zero.
static void batch_lens(const aca_batch *b, int32_t *lens) {
    for (int i = 0; i < b->B; i++) {
        int L = b->T;
        if (b->mask) {
            const int32_t *mk = b->mask + (size_t)i * b->T;
            while (L > 0 && !mk[L - 1]) L--;
            if (L == 0) L = b->T;
        }
        lens[i] = L;
    }
}

int model_forward(aca_model *m, const aca_batch *b, int train, uint64_t seed, float *logits_out, float *loss, aca_err *e) {
    if (loss) *loss = 0;
    m->ran = 0;
    if (check_batch(m, b, e)) return -1;
    const aca_ops *o = m->ops;
    aca_backend *be = m->be;
    const aca_config *c = &m->cfg;
    const model_arch *a = m->arch;
    int B = b->B, T = b->T, C = c->dim, H = c->hidden_dim, K = c->num_labels, NH = c->n_heads, N = B * T;
    size_t nC = (size_t)N * C;
    float eps = c->layer_norm_eps;
    m->B = B, m->T = T, m->train = train, m->seed = seed, m->has_labels = b->labels != NULL;

    o->upload(be, m->ids, b->ids, (size_t)N * 4);
    if (b->mask) o->upload(be, m->mask, b->mask, (size_t)N * 4);
    else {
        int32_t *ones = xmalloc((size_t)N * 4);
        for (int i = 0; i < N; i++) ones[i] = 1;
        o->upload(be, m->mask, ones, (size_t)N * 4);
        free(ones);
    }
    if (a->tte) {
        if (b->type_ids) o->upload(be, m->types, b->type_ids, (size_t)N * 4);
        else o->memset0(be, m->types, (size_t)N * 4);
    }
    if (b->labels) o->upload(be, m->labels, b->labels, (size_t)B * 4);
    batch_lens(b, m->lens_host);

    // Embeddings.
    o->embed_forward(be, m->emb_sum, m->ids, a->tte ? m->types : NULL, W(m, m->wte), W(m, m->wpe), a->tte ? W(m, m->tte) : NULL, B,
                     T, C);
    o->layernorm_forward(be, m->hidden[0], m->emb_mean, m->emb_rstd, m->emb_sum, W(m, m->emb_ln_w), W(m, m->emb_ln_b), N, C, eps);
    if (drop_p(m, c->dropout) > 0)
        o->dropout_forward(be, m->hidden[0], m->hidden[0], nC, c->dropout, model_dropout_seed(seed, -1, ACA_DROP_EMB));

    // Layers.
    for (int l = 0; l < c->n_layers; l++) {
        layer_t *L = &m->layers[l];
        const void *x = m->hidden[l];
        o->linear_forward(be, L->qkv, x, W(m, L->qkv_w), W(m, L->qkv_b), N, C, 3 * C);
        o->attention_forward(be, L->att, L->state, L->qkv, m->mask, B, T, C, NH, drop_p(m, c->attention_dropout),
                             model_dropout_seed(seed, l, ACA_DROP_ATTN_PROBS));
        o->linear_forward(be, L->res1, L->att, W(m, L->o_w), W(m, L->o_b), N, C, C);
        if (a->attn_out_dropout && drop_p(m, c->dropout) > 0)
            o->dropout_forward(be, L->res1, L->res1, nC, c->dropout, model_dropout_seed(seed, l, ACA_DROP_ATTN_OUT));
        o->add(be, L->res1, L->res1, x, nC);
        o->layernorm_forward(be, L->h1, L->mean1, L->rstd1, L->res1, W(m, L->ln1_w), W(m, L->ln1_b), N, C, eps);
        o->linear_forward(be, L->ffpre, L->h1, W(m, L->f1_w), W(m, L->f1_b), N, C, H);
        o->act_forward(be, c->activation, L->ffact, L->ffpre, (size_t)N * H);
        o->linear_forward(be, L->res2, L->ffact, W(m, L->f2_w), W(m, L->f2_b), N, H, C);
        if (drop_p(m, c->dropout) > 0)
            o->dropout_forward(be, L->res2, L->res2, nC, c->dropout, model_dropout_seed(seed, l, ACA_DROP_FFN));
        o->add(be, L->res2, L->res2, L->h1, nC);
        o->layernorm_forward(be, m->hidden[l + 1], L->mean2, L->rstd2, L->res2, W(m, L->ln2_w), W(m, L->ln2_b), N, C, eps);
    }

    // Head.
    o->cls_gather(be, m->cls, m->hidden[c->n_layers], B, T, C);
    o->linear_forward(be, m->hpre, m->cls, W(m, m->head_w), W(m, m->head_b), B, C, C);
    o->act_forward(be, a->head_act, m->hact, m->hpre, (size_t)B * C);
    if (drop_p(m, c->classifier_dropout) > 0)
        o->dropout_forward(be, m->hact, m->hact, (size_t)B * C, c->classifier_dropout, model_dropout_seed(seed, -1, ACA_DROP_HEAD));
    o->linear_forward(be, m->logits, m->hact, W(m, m->cls_w), W(m, m->cls_b), B, C, K);
    if (check_head_finite(m, B, e)) return -1;

    if (logits_out) o->to_f32(be, logits_out, m->logits, (size_t)B * K);
    if (b->labels) {
        o->cross_entropy(be, m->losses, NULL, m->logits, m->labels, B, K, 0.0f);
        float *ls = xmalloc((size_t)B * sizeof(float));
        o->download(be, ls, m->losses, (size_t)B * sizeof(float));
        double sum = 0;
        for (int i = 0; i < B; i++) sum += ls[i];
        free(ls);
        if (loss) *loss = (float)(sum / B);
    }
    m->ran = 1;
    return 0;
}

int model_get_hidden(const aca_model *m, int i, float *host, aca_err *e) {
    if (!m->ran) return aca_errf(e, ACA_ERR_VALUE, "model_get_hidden: no forward pass has run");
    if (i < 0 || i > m->cfg.n_layers)
        return aca_errf(e, ACA_ERR_VALUE, "model_get_hidden: index %d outside [0, %d]", i, m->cfg.n_layers);
    m->ops->to_f32(m->be, host, m->hidden[i], (size_t)m->B * m->T * m->cfg.dim);
    return 0;
}
