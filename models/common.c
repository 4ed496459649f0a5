// The encoder classifier shared by DistilBERT and BERT (include/aca/model.h), composed only from the
// ops table.  models/distilbert.c and models/bert.c describe what differs (names, token types, head
// activation, dropout after the attention output).
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
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/corpus.h"
#include "aca/model.h"
#include "aca/safetensors.h"
#include "ghost.h"
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

// ---- small helpers ----
static void *bk_alloc(aca_model *m, size_t bytes, int *failed, aca_err *e) {
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

// Compute-dtype pointer to parameter offset off / activation row offset.
static const void *W(const aca_model *m, size_t off) { return (const char *)m->wc + off * m->es; }
static float *G(const aca_model *m, size_t off) { return m->grads + off; }

static float drop_p(const aca_model *m, float p) { return m->train ? p : 0.0f; }

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
// A model of config c with its parameter table (names, shapes, offsets) and nothing allocated on a
// backend: model_create's first step, and what model_check_checkpoint compares a checkpoint with.
static aca_model *model_layout(const aca_config *c) {
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

aca_model *model_create(const aca_config *c, aca_backend *be, int max_B, int max_T, aca_err *e) {
    if (max_B < 1 || max_T < 1 || max_T > c->max_position) {
        aca_errf(e, ACA_ERR_VALUE, "model: batch limits %d x %d invalid (tokens must be 1..max_position_embeddings %d)", max_B,
                 max_T, c->max_position);
        return NULL;
    }
    aca_model *m = model_layout(c);
    m->be = be;
    m->ops = be->ops;
    m->es = aca_dtype_size(be->dtype);
    m->max_B = max_B, m->max_T = max_T;
    m->lens_host = xcalloc((size_t)max_B, sizeof *m->lens_host);
    int Lc = c->n_layers, C = c->dim, H = c->hidden_dim, K = c->num_labels;

    int failed = 0;
    size_t P = m->n_params, N = (size_t)max_B * max_T, es = m->es, f4 = sizeof(float);
    m->params = bk_alloc(m, P * f4, &failed, e);
    m->grads = bk_alloc(m, P * f4, &failed, e);
    m->wc = be->dtype == ACA_DT_F32 ? m->params : bk_alloc(m, P * es, &failed, e);
    m->ids = bk_alloc(m, N * 4, &failed, e);
    m->mask = bk_alloc(m, N * 4, &failed, e);
    m->types = bk_alloc(m, N * 4, &failed, e);
    m->labels = bk_alloc(m, (size_t)max_B * 4, &failed, e);
    m->hidden = xcalloc((size_t)Lc + 1, sizeof *m->hidden);
    for (int i = 0; i <= Lc; i++) m->hidden[i] = bk_alloc(m, N * C * es, &failed, e);
    m->emb_sum = bk_alloc(m, N * C * es, &failed, e);
    m->emb_mean = bk_alloc(m, N * f4, &failed, e);
    m->emb_rstd = bk_alloc(m, N * f4, &failed, e);
    if (!failed && m->ops->attention_prepare &&
        m->ops->attention_prepare(be, max_B, max_T, C, c->n_heads, c->attention_dropout, e))
        failed = 1;
    size_t state_bytes = failed ? 0 : m->ops->attention_state_bytes(be, max_B, max_T, C, c->n_heads);
    for (int l = 0; l < Lc; l++) {
        layer_t *L = &m->layers[l];
        L->qkv = bk_alloc(m, N * 3 * C * es, &failed, e);
        L->att = bk_alloc(m, N * C * es, &failed, e);
        L->state = bk_alloc(m, state_bytes, &failed, e);
        L->res1 = bk_alloc(m, N * C * es, &failed, e);
        L->h1 = bk_alloc(m, N * C * es, &failed, e);
        L->ffpre = bk_alloc(m, N * H * es, &failed, e);
        L->ffact = bk_alloc(m, N * H * es, &failed, e);
        L->res2 = bk_alloc(m, N * C * es, &failed, e);
        L->mean1 = bk_alloc(m, N * f4, &failed, e);
        L->rstd1 = bk_alloc(m, N * f4, &failed, e);
        L->mean2 = bk_alloc(m, N * f4, &failed, e);
        L->rstd2 = bk_alloc(m, N * f4, &failed, e);
    }
    size_t Bm = (size_t)max_B;
    m->cls = bk_alloc(m, Bm * C * es, &failed, e);
    m->hpre = bk_alloc(m, Bm * C * es, &failed, e);
    m->hact = bk_alloc(m, Bm * C * es, &failed, e);
    m->logits = bk_alloc(m, Bm * K * es, &failed, e);
    m->losses = bk_alloc(m, Bm * f4, &failed, e);
    m->dres = bk_alloc(m, N * C * es, &failed, e);
    m->dres2 = bk_alloc(m, N * C * es, &failed, e);
    m->dtmp = bk_alloc(m, N * C * es, &failed, e);
    m->datt = bk_alloc(m, N * C * es, &failed, e);
    m->dffn = bk_alloc(m, N * H * es, &failed, e);
    m->dqkv = bk_alloc(m, N * 3 * C * es, &failed, e);
    m->dcls = bk_alloc(m, Bm * C * es, &failed, e);
    m->dh = bk_alloc(m, Bm * C * es, &failed, e);
    m->dlogits = bk_alloc(m, Bm * K * es, &failed, e);
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
static void init_host(const aca_model *m, float *host, uint64_t seed, int only_head) {
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
    init_host(m, host, seed, 0);
    model_set_params(m, host);
    free(host);
}

// The checkpoint tensor for parameter p.  Base-model tensors are saved as "<prefix>.<name>"; the
// bare name is accepted too (BertModel checkpoints such as all-MiniLM-L6-v2), and both spellings
// for head tensors.
static const st_tensor *find_param(const st_file *f, const char *pf, const aca_param_info *p) {
    char name[320];
    snprintf(name, sizeof name, "%s.%s", pf, p->name);
    const st_tensor *pre = st_find(f, name), *bare = st_find(f, p->name);
    return p->base ? (pre ? pre : bare) : (bare ? bare : pre);
}

// The checkpoint tensor t has parameter p's shape, else an error naming both.
static int tensor_shape_check(const st_file *f, const st_tensor *t, const aca_param_info *p, aca_err *e) {
    int ok = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim == 1 || t->shape[1] == p->shape[1]);
    if (ok) return 0;
    char got[128] = "", want[64];
    for (int d = 0; d < t->ndim; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (p->ndim == 2) snprintf(want, sizeof want, "%lld, %lld", (long long)p->shape[0], (long long)p->shape[1]);
    else snprintf(want, sizeof want, "%lld", (long long)p->shape[0]);
    return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s' has shape [%s], the config needs [%s]", f->path, t->name, got, want);
}

static int missing_tensor(const aca_model *m, const char *file, const aca_param_info *p, aca_err *e) {
    const char *pf = m->arch->prefix;
    return aca_errf(e, ACA_ERR_FORMAT, "%s: missing tensor '%s%s%s' (is this a %s checkpoint of this config?)", file,
                    p->base ? pf : "", p->base ? "." : "", p->name, pf);
}

// One checkpoint tensor into host (at p's offset): the shape must be p's and every value finite.
static int load_tensor(const st_file *f, const st_tensor *t, const aca_param_info *p, float *host, aca_err *e) {
    if (tensor_shape_check(f, t, p, e)) return -1;
    float *x = host + p->offset;
    if (st_read_f32(f, t, x, e)) return -1;
    for (size_t k = 0; k < p->numel; k++) {
        if (isfinite(x[k])) continue;
        char at[64];
        if (p->ndim == 2) snprintf(at, sizeof at, "[%zu, %zu]", k / (size_t)p->shape[1], k % (size_t)p->shape[1]);
        else snprintf(at, sizeof at, "[%zu]", k);
        return aca_errf(e, ACA_ERR_NUMERIC, "%s: tensor '%s' holds %s at %s: a checkpoint with non-finite weights gives no meaningful output",
                        f->path, t->name, isnan(x[k]) ? "NaN" : x[k] > 0 ? "+Inf" : "-Inf", at);
    }
    return 0;
}

// Class names that say nothing: absent, or Hugging Face's defaults LABEL_0, LABEL_1, ...
static int labels_nameless(const aca_config *c) {
    char d[32];
    for (int k = 0; c->labels && k < c->num_labels; k++) {
        snprintf(d, sizeof d, "LABEL_%d", k);
        if (c->labels[k] && strcmp(c->labels[k], d)) return 0;
    }
    return 1;
}

// rows[k] = the row of checkpoint config ck whose name is the model's class k (class_name_equal);
// names that match nothing or match twice are errors.
static int head_match(const aca_config *ck, const aca_config *mc, const char *cpath, int *rows, aca_err *e) {
    const int K = mc->num_labels;
    for (int k = 0; k < K; k++) {
        rows[k] = -1;
        for (int j = 0; j < K; j++) {
            if (!class_name_equal(ck->labels[j], mc->labels[k])) continue;
            if (rows[k] >= 0)
                return aca_errf(e, ACA_ERR_VALUE, "%s: id2label %d \"%s\" and %d \"%s\" name the same class", cpath, rows[k],
                                ck->labels[rows[k]], j, ck->labels[j]);
            rows[k] = j;
        }
        if (rows[k] < 0)
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: the data's class %d \"%s\" is not among the checkpoint head's classes (id2label %d is \"%s\"): "
                            "this head was trained for other classes; train a fresh one (aca train --new-head)",
                            cpath, k, mc->labels[k], k, ck->labels[k]);
    }
    int k = 0;
    while (k < K && rows[k] == k) k++;
    if (k < K)
        log_info("%s: the head's classes are in another order than the data's (class %d \"%s\" is its row %d): its rows are "
                 "reordered to the data's order", cpath, k, mc->labels[k], rows[k]);
    return 0;
}

// rows[k] = the checkpoint's head row of the model's class k, matched by name through dir/config.json's
// id2label.  Identity when the model has no class names (tools such as `aca forward` use the
// checkpoint's own config) or the names are the same.  A checkpoint head without names, with another
// class list, or with names that are not distinct is an error naming the first difference.
static int head_rows(const aca_model *m, const char *dir, int *rows, aca_err *e) {
    const int K = m->cfg.num_labels;
    for (int k = 0; k < K; k++) rows[k] = k;
    if (labels_nameless(&m->cfg)) return 0;
    char *cpath = path_join(dir, "config.json");
    aca_config ck;
    memset(&ck, 0, sizeof ck);
    int rc = config_load(cpath, &ck, e), same = !rc && ck.labels && ck.num_labels == K;
    for (int k = 0; same && k < K; k++) same = !strcmp(ck.labels[k], m->cfg.labels[k]);
    if (!rc && !same && ck.num_labels != K)
        rc = aca_errf(e, ACA_ERR_VALUE, "%s: the checkpoint's head has %d classes (num_labels) but the data has %d", cpath,
                      ck.num_labels, K);
    else if (!rc && !same && labels_nameless(&ck))
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: the checkpoint's classification head has no class names (id2label absent or LABEL_0, LABEL_1, ...), so "
                      "aca cannot tell which of its rows is which of the data's classes (%s, ...); add id2label, or train a "
                      "fresh head (aca train --new-head)", cpath, m->cfg.labels[0]);
    else if (!rc && !same)
        rc = head_match(&ck, &m->cfg, cpath, rows, e);
    config_free(&ck);
    free(cpath);
    return rc;
}

// Reorders the classifier's rows (weight (K,C), bias (K)) so that row k is the checkpoint's rows[k].
static void head_permute(const aca_model *m, float *host, const int *rows) {
    const int K = m->cfg.num_labels, C = m->cfg.dim;
    float *w = xmalloc((size_t)K * C * sizeof *w), *b = xmalloc((size_t)K * sizeof *b);
    for (int k = 0; k < K; k++) {
        memcpy(w + (size_t)k * C, host + m->cls_w + (size_t)rows[k] * C, (size_t)C * sizeof *w);
        b[k] = host[m->cls_b + rows[k]];
    }
    memcpy(host + m->cls_w, w, (size_t)K * C * sizeof *w);
    memcpy(host + m->cls_b, b, (size_t)K * sizeof *b);
    free(w), free(b);
}

// The checkpoint file of path (a directory's model.safetensors, or path itself), with a message that
// names what the directory holds instead when it has none.
static char *checkpoint_file(const char *path, int *is_dir, aca_err *e) {
    struct stat sb;
    *is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!*is_dir) return xstrdup(path);
    char *file = path_join(path, "model.safetensors");
    if (file_exists(file)) return file;
    static const char *const other[] = {"model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(other); k++) {
        char *o = path_join(path, other[k]);
        int has = file_exists(o);
        free(o);
        if (has) {
            aca_errf(e, ACA_ERR_IO, "%s: missing; the directory has %s instead (aca reads one model.safetensors: load the model "
                     "in transformers and save_pretrained(DIR, max_shard_size=\"100GB\"))", file, other[k]);
            free(file);
            return NULL;
        }
    }
    return file;
}

// The checkpoint file of path opened into f (its name, malloc'd), or NULL with e filled.
static char *checkpoint_open(const char *path, int *is_dir, st_file *f, aca_err *e) {
    char *file = checkpoint_file(path, is_dir, e);
    if (file && st_open(f, file, e)) {
        free(file);
        return NULL;
    }
    return file;
}

int model_load(aca_model *m, const char *path, uint64_t head_seed, aca_err *e) {
    aca_load_opts o = {head_seed, 0};
    return model_load_with(m, path, &o, e);
}

int model_load_with(aca_model *m, const char *path, const aca_load_opts *o, aca_err *e) {
    int is_dir;
    st_file f;
    char *file = checkpoint_open(path, &is_dir, &f, e);
    if (!file) return -1;
    float *host = xcalloc(m->n_params, sizeof(float));
    char *used = xcalloc((size_t)f.n + 1, 1);
    int *rows = xmalloc((size_t)m->cfg.num_labels * sizeof *rows);
    int rc = 0, n_missing_head = 0, n_cls = 0, permute = 0;
    char missing[256] = "";
    const char *pf = m->arch->prefix;
    for (int i = 0; i < m->n_info && !rc; i++) {
        const aca_param_info *p = &m->info[i];
        const st_tensor *t = find_param(&f, pf, p);
        int cls = p->offset == m->cls_w || p->offset == m->cls_b;
        if (t && cls && o->new_head) used[t - f.tensors] = 1, t = NULL;
        if (!t) {
            if (p->head) {
                if (n_missing_head++ < 4)
                    snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", n_missing_head > 1 ? ", " : "", p->name);
                continue;
            }
            rc = missing_tensor(m, file, p, e);
            break;
        }
        used[t - f.tensors] = 1;
        n_cls += cls;
        rc = load_tensor(&f, t, p, host, e);
    }
    // A classifier read from a directory is matched to the model's classes by name.
    if (!rc && n_cls && is_dir && !(rc = head_rows(m, path, rows, e)))
        for (int k = 0; k < m->cfg.num_labels; k++) permute |= rows[k] != k;
    if (!rc) {
        int n_unused = 0;
        const char *example = NULL;
        for (int i = 0; i < f.n; i++)
            if (!used[i] && n_unused++ == 0) example = f.tensors[i].name;
        if (n_unused)
            log_info("%s: ignoring %d tensor%s that %s does not use (e.g. '%s')", file, n_unused, n_unused > 1 ? "s" : "",
                     m->arch->hf_class, example);
        if (n_missing_head) {
            init_host(m, host, o->head_seed, 1); // only the head; every head tensor is re-drawn together
            // A partially present head keeps what the checkpoint has.
            for (int i = 0; i < m->n_info; i++) {
                const aca_param_info *p = &m->info[i];
                const st_tensor *t = p->head ? find_param(&f, pf, p) : NULL;
                if (t && !(o->new_head && (p->offset == m->cls_w || p->offset == m->cls_b)))
                    st_read_f32(&f, t, host + p->offset, e); // read (and checked) once above
            }
            log_info("%s: %s (%s%s): initialised as Hugging Face does (seed %llu)", file,
                     o->new_head ? "a fresh classifier (--new-head)" : "no classification head", missing,
                     n_missing_head > 4 ? ", ..." : "", (unsigned long long)o->head_seed);
        }
        if (permute) head_permute(m, host, rows);
        model_set_params(m, host);
    }
    free(rows);
    free(used);
    free(host);
    st_close(&f);
    free(file);
    return rc;
}

int model_check_checkpoint(const aca_config *c, const char *path, aca_err *e) {
    int is_dir;
    st_file f;
    char *file = checkpoint_open(path, &is_dir, &f, e);
    if (!file) return -1;
    aca_model *m = model_layout(c);
    int rc = 0;
    for (int i = 0; i < m->n_info && !rc; i++) {
        const aca_param_info *p = &m->info[i];
        const st_tensor *t = find_param(&f, m->arch->prefix, p);
        if (t) rc = tensor_shape_check(&f, t, p, e);
        else if (!p->head) rc = missing_tensor(m, file, p, e);
    }
    model_free(m);
    st_close(&f);
    free(file);
    return rc;
}

int model_save(const aca_model *m, const char *dir, aca_err *e) {
    if (dir_make(dir, e)) return -1;
    aca_buf cj = {0};
    config_to_json(&m->cfg, &cj);
    char *cpath = path_join(dir, "config.json"), *wpath = path_join(dir, "model.safetensors");
    float *host = xmalloc(m->n_params * sizeof(float));
    model_get_params(m, host);
    st_out *t = xcalloc((size_t)m->n_info, sizeof *t);
    char **names = xcalloc((size_t)m->n_info, sizeof *names);
    for (int i = 0; i < m->n_info; i++) {
        const aca_param_info *p = &m->info[i];
        aca_buf nb = {0};
        buf_printf(&nb, "%s%s%s", p->base ? m->arch->prefix : "", p->base ? "." : "", p->name);
        names[i] = nb.data;
        t[i].name = names[i];
        t[i].ndim = p->ndim;
        t[i].shape[0] = p->shape[0];
        t[i].shape[1] = p->shape[1];
        t[i].f32 = host + p->offset;
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(wpath, t, m->n_info, meta, 1, e);
    if (!rc) rc = file_write_atomic(cpath, cj.data, cj.len, e);
    for (int i = 0; i < m->n_info; i++) free(names[i]);
    free(names);
    free(t);
    free(host);
    free(cpath);
    free(wpath);
    buf_free(&cj);
    return rc;
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
    m->ghost_sq = bk_alloc(m, Bm * sizeof(double), &failed, e);
    m->ghost_lens = bk_alloc(m, Bm * sizeof(int32_t), &failed, e);
    m->ghost_w = bk_alloc(m, Bm * sizeof(float), &failed, e);
    m->ghost_grads = bk_alloc(m, m->n_params * sizeof(float), &failed, e);
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

static int ensure_adam(aca_model *m) {
    if (m->adam_m) return 0;
    aca_err e;
    int failed = 0;
    m->adam_m = bk_alloc(m, m->n_params * sizeof(float), &failed, &e);
    m->adam_v = bk_alloc(m, m->n_params * sizeof(float), &failed, &e);
    if (failed) {
        fprintf(stderr, "aca: %s (AdamW state)\n", e.msg); // model.h has no error path here: out of memory is fatal
        abort();
    }
    m->ops->memset0(m->be, m->adam_m, m->n_params * sizeof(float));
    m->ops->memset0(m->be, m->adam_v, m->n_params * sizeof(float));
    return 0;
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
