// The trainer (see include/aca/train.h): epochs of shuffled (optionally length-bucketed) batches,
// each padded to its longest document; AdamW with a linear schedule, global-norm clipping, fp16
// loss scaling, checkpoints and bit-identical resume.
#include "aca/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/dp.h"
#include "aca/dp_gauss.h"
#include "aca/outdir.h"
#include "aca/philox.h"

// ---- schedule, clipping, order -----------------------------------------------------------------
void train_opts_default(aca_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 5;
    o->batch = 8;
    o->lr = 5e-5;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = 0.0;
    o->max_grad_norm = 1.0;
    o->seed = 42;
    o->loss_scale_init = 65536.0f;
    o->loss_scale_window = 2000;
    o->log_every = 50;
    o->dp_clip = 1.0;
    o->dp_sigma = NAN;
    o->dp_epsilon = NAN;
    o->dp_delta = 1e-5;
    o->dp_sampling = TRAIN_DP_POISSON;
    o->dp_grad = TRAIN_DP_GRAD_GHOST;
    o->dp_micro_batch = 32;
}

long train_total_steps(size_t n, int batch, int epochs) {
    if (batch <= 0 || epochs <= 0) return 0;
    return (long)((n + (size_t)batch - 1) / (size_t)batch) * epochs;
}

double train_lr_at(double lr0, long s, long total) {
    if (total <= 0 || s >= total) return 0.0;
    return lr0 * (double)(total - s) / (double)total;
}

double train_clip_coef(double norm, double max_norm) {
    if (max_norm <= 0) return 1.0;
    double c = max_norm / (norm + 1e-6);
    return c < 1.0 ? c : 1.0;
}

uint64_t train_step_seed(uint64_t seed, long s) {
    uint64_t x = seed ^ 0x64726f706f7574ULL; // "dropout"
    x = hash_fnv1a64(&s, sizeof s, hash_fnv1a64(&x, sizeof x, ACA_FNV_SEED));
    return x;
}

typedef struct {
    uint32_t idx;
    int len;
} len_item;

static int len_item_cmp(const void *a, const void *b) {
    const len_item *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; // ties keep the shuffled order's index: stable
}

void train_epoch_order(const aca_dataset *d, uint64_t seed, int epoch, int batch, int bucket, uint32_t *idx) {
    size_t n = d->n;
    aca_rng r;
    rng_seed(&r, seed, 0x73687566ULL + (uint64_t)epoch); // "shuf"
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    rng_shuffle_u32(&r, idx, n);
    if (!bucket || batch <= 1 || n <= (size_t)batch) return;
    // Sort chunks of 50 batches by length (ties by position in the shuffled order), then shuffle
    // the order of the full batches; a final partial batch stays last.
    size_t chunk = (size_t)batch * 50;
    len_item *it = xmalloc(chunk * sizeof *it);
    for (size_t c0 = 0; c0 < n; c0 += chunk) {
        size_t m = n - c0 < chunk ? n - c0 : chunk;
        for (size_t i = 0; i < m; i++) it[i] = (len_item){(uint32_t)i, dataset_len(d, idx[c0 + i])};
        qsort(it, m, sizeof *it, len_item_cmp);
        uint32_t *tmp = xmalloc(m * sizeof *tmp);
        for (size_t i = 0; i < m; i++) tmp[i] = idx[c0 + it[i].idx];
        memcpy(idx + c0, tmp, m * sizeof *tmp);
        free(tmp);
    }
    free(it);
    size_t nb = n / (size_t)batch;
    uint32_t *perm = xmalloc(nb * sizeof *perm);
    for (size_t i = 0; i < nb; i++) perm[i] = (uint32_t)i;
    rng_shuffle_u32(&r, perm, nb);
    uint32_t *out = xmalloc(n * sizeof *out);
    for (size_t i = 0; i < nb; i++) memcpy(out + i * batch, idx + (size_t)perm[i] * batch, (size_t)batch * sizeof *out);
    memcpy(out + nb * batch, idx + nb * batch, (n - nb * batch) * sizeof *out);
    memcpy(idx, out, n * sizeof *out);
    free(out);
    free(perm);
}

// ---- DP-SGD ------------------------------------------------------------------------------------
int train_dp_sampling_parse(const char *s) {
    if (!strcmp(s, "poisson")) return TRAIN_DP_POISSON;
    if (!strcmp(s, "fixed")) return TRAIN_DP_FIXED;
    return -1;
}

const char *train_dp_sampling_name(int sampling) { return sampling == TRAIN_DP_FIXED ? "fixed" : "poisson"; }

int train_dp_grad_parse(const char *s) {
    if (!strcmp(s, "ghost")) return TRAIN_DP_GRAD_GHOST;
    if (!strcmp(s, "per-example")) return TRAIN_DP_GRAD_PER_EXAMPLE;
    return -1;
}

const char *train_dp_grad_name(int dp_grad) { return dp_grad == TRAIN_DP_GRAD_PER_EXAMPLE ? "per-example" : "ghost"; }

int train_model_batch(const aca_train_opts *o) {
    if (o->dp && o->dp_grad == TRAIN_DP_GRAD_GHOST) return o->dp_micro_batch > 0 && o->dp_micro_batch < o->batch ? o->dp_micro_batch : o->batch;
    return o->dp || o->per_example_grads ? 1 : o->batch;
}

const char *train_dp_fixed_refusal(void) {
    return "shuffled fixed-size batches cannot be accounted as Poisson sampling (the epsilon would be understated: "
           "audits of shuffled DP-SGD measure leakage several times the Poisson-accounted level); use poisson (the "
           "default)";
}

const char *train_dp_bucket_refusal(void) {
    return "length buckets make each batch depend on the private documents' lengths, which the accountant does not "
           "cover; train DP-SGD without them";
}

int train_dp_check_opts(const aca_train_opts *o, aca_err *e) {
    if (!o->dp) return 0;
    if (!(o->dp_clip > 0))
        return aca_errf(e, ACA_ERR_VALUE, "--dp-clip = %g: the per-example clipping norm must be > 0", o->dp_clip);
    int has_sigma = !isnan(o->dp_sigma), has_eps = !isnan(o->dp_epsilon);
    if (has_sigma && has_eps)
        return aca_errf(e, ACA_ERR_VALUE, "--dp-sigma and --dp-epsilon: give one of them (sigma is chosen from epsilon)");
    if (!has_sigma && !has_eps)
        return aca_errf(e, ACA_ERR_VALUE, "DP-SGD needs --dp-sigma (noise multiplier) or --dp-epsilon (target epsilon)");
    if (has_sigma && !(o->dp_sigma >= 0 && isfinite(o->dp_sigma)))
        return aca_errf(e, ACA_ERR_VALUE, "--dp-sigma = %g: the noise multiplier must be finite and >= 0", o->dp_sigma);
    if (has_eps && !(o->dp_epsilon > 0 && isfinite(o->dp_epsilon)))
        return aca_errf(e, ACA_ERR_VALUE, "--dp-epsilon = %g: the target epsilon must be finite and > 0", o->dp_epsilon);
    if (!(o->dp_delta > 0 && o->dp_delta < 1))
        return aca_errf(e, ACA_ERR_VALUE, "--dp-delta = %g: delta must lie in (0, 1)", o->dp_delta);
    if (o->dp_sampling != TRAIN_DP_POISSON && o->dp_sampling != TRAIN_DP_FIXED)
        return aca_errf(e, ACA_ERR_VALUE, "--dp-sampling: must be poisson or fixed");
    if (o->dp_sampling == TRAIN_DP_FIXED && !(has_sigma && o->dp_sigma == 0))
        return aca_errf(e, ACA_ERR_VALUE, "--dp-sampling fixed: %s; fixed batches remain only for --dp-sigma 0, which "
                        "claims no privacy", train_dp_fixed_refusal());
    if (o->dp_grad != TRAIN_DP_GRAD_GHOST && o->dp_grad != TRAIN_DP_GRAD_PER_EXAMPLE)
        return aca_errf(e, ACA_ERR_VALUE, "--dp-grad: must be ghost or per-example");
    if (o->dp_micro_batch < 1)
        return aca_errf(e, ACA_ERR_VALUE, "--dp-micro-batch = %d: must be >= 1", o->dp_micro_batch);
    if (o->bucket) return aca_errf(e, ACA_ERR_VALUE, "--bucket with DP-SGD: %s", train_dp_bucket_refusal());
    return 0;
}

uint64_t train_example_seed(uint64_t seed, long s, int k) {
    uint64_t x = train_step_seed(seed, s);
    int64_t kk = k;
    return hash_fnv1a64(&kk, sizeof kk, x ^ 0x6578616d706c65ULL); // "example"
}

// Philox keys of the DP streams: the run seed hashed with a tag.
static uint64_t dp_key(uint64_t seed, uint64_t tag) {
    uint64_t x = seed ^ tag;
    return hash_fnv1a64(&x, sizeof x, ACA_FNV_SEED);
}
#define DP_TAG_SAMPLE 0x6470736d706cULL // "dpsmpl"
#define DP_TAG_NOISE 0x64706e6f6973ULL  // "dpnois"

size_t train_dp_poisson_batch(size_t n, double q, uint64_t seed, long s, uint32_t *idx) {
    uint64_t key = dp_key(seed, DP_TAG_SAMPLE);
    // u32 < thr has probability thr / 2^32 = q (to 2^-32); q >= 1 takes everything.
    double t = floor(q * 4294967296.0);
    uint64_t thr = q >= 1 ? (1ULL << 32) : t < 0 ? 0 : (uint64_t)t;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        aca_philox4 r = aca_philox4x32((uint32_t)i, (uint32_t)((uint64_t)i >> 32), (uint32_t)s,
                                       (uint32_t)((uint64_t)s >> 32), (uint32_t)key, (uint32_t)(key >> 32));
        if (r.v[0] < thr) idx[k++] = (uint32_t)i;
    }
    return k;
}

void train_dp_add_noise(float *g, size_t n, double std, uint64_t seed, long s) {
    if (!(std > 0)) return;
    uint64_t key = dp_key(seed, DP_TAG_NOISE);
    for (size_t p = 0; 2 * p < n; p++) {
        double x0, x1;
        aca_dp_gauss_pair(key, p, (uint64_t)s, std, &x0, &x1);
        g[2 * p] += (float)x0;
        if (2 * p + 1 < n) g[2 * p + 1] += (float)x1;
    }
}

// The trained coordinates of [0, numel): the gaps between the frozen ranges (which
// train_dp_frozen_ranges returns in increasing, disjoint order), as [begin, end) pairs; returns
// their count (<= n_frozen + 1).
static int dp_trained_ranges(const aca_dp_step *p, size_t numel, size_t *out) {
    size_t at = 0;
    int k = 0;
    for (int f = 0; f < p->n_frozen; f++) {
        if (p->frozen[2 * f] > at) out[2 * k] = at, out[2 * k + 1] = p->frozen[2 * f], k++;
        if (p->frozen[2 * f + 1] > at) at = p->frozen[2 * f + 1];
    }
    if (at < numel) out[2 * k] = at, out[2 * k + 1] = numel, k++;
    return k;
}

int train_dp_frozen_ranges(const aca_model *m, size_t *ranges, int max) {
    int np = 0, k = 0;
    const aca_param_info *pi = model_params(m, &np);
    for (int i = 0; i < np && k < max; i++)
        if (!strncmp(pi[i].name, "embeddings.", 11) && strstr(pi[i].name, "_embeddings.weight"))
            ranges[2 * k] = pi[i].offset, ranges[2 * k + 1] = pi[i].offset + pi[i].numel, k++;
    return k;
}

// Whether parameter p is left untrained by o.
static int param_frozen(const aca_param_info *p, const aca_train_opts *o) {
    int table = !strncmp(p->name, "embeddings.", 11) && strstr(p->name, "_embeddings.weight");
    return (o->freeze_base && p->base) || (o->dp && o->dp_freeze_embeddings && table);
}

int train_frozen_ranges(const aca_model *m, const aca_train_opts *o, size_t *ranges, int max) {
    int np = 0, k = 0;
    const aca_param_info *pi = model_params(m, &np); // in offset order
    for (int i = 0; i < np; i++) {
        if (!param_frozen(&pi[i], o)) continue;
        if (k > 0 && ranges[2 * k - 1] == pi[i].offset) ranges[2 * k - 1] += pi[i].numel;
        else if (k < max) ranges[2 * k] = pi[i].offset, ranges[2 * k + 1] = pi[i].offset + pi[i].numel, k++;
    }
    return k;
}

int train_dp_grad(aca_model *m, const aca_dataset *d, const uint32_t *idx, int nb, const aca_dp_step *p, float *out,
                  double *norms, aca_dp_step_info *info, aca_err *e) {
    const aca_config *cfg = model_config(m);
    size_t numel = model_num_params(m);
    memset(info, 0, sizeof *info);
    memset(out, 0, numel * sizeof *out);
    int T0 = d->max_len > 0 ? d->max_len : 1;
    int32_t *ids = xmalloc((size_t)T0 * sizeof *ids), *mask = xmalloc((size_t)T0 * sizeof *mask);
    float *g = nb > 0 ? xmalloc(numel * sizeof *g) : NULL;
    int rc = 0;
    for (int k = 0; k < nb; k++) {
        int32_t label;
        int T = dataset_fill_batch(d, idx + k, 1, cfg->pad_token_id, ids, mask, &label);
        aca_batch b = {ids, mask, NULL, &label, 1, T};
        float loss;
        if (model_forward(m, &b, 1, train_example_seed(p->seed, p->step, k), NULL, &loss, e)) {
            rc = aca_err_prefix(e, "example %d (document %u) of the batch", k + 1, idx[k] + 1);
            break;
        }
        if (!isfinite(loss)) {
            rc = aca_errf(e, ACA_ERR_NUMERIC, "loss is %s for document %u", isnan(loss) ? "NaN" : "Inf", idx[k] + 1);
            break;
        }
        model_zero_grad(m);
        model_backward(m, 1.0f);
        model_get_grads(m, g);
        for (int f = 0; f < p->n_frozen; f++) memset(g + p->frozen[2 * f], 0, (p->frozen[2 * f + 1] - p->frozen[2 * f]) * sizeof *g);
        double ss = 0;
        for (size_t j = 0; j < numel; j++) ss += (double)g[j] * (double)g[j];
        double norm = sqrt(ss);
        if (!isfinite(norm)) {
            rc = aca_errf(e, ACA_ERR_NUMERIC, "per-example gradient norm is %s for document %u",
                          isnan(norm) ? "NaN" : "Inf", idx[k] + 1);
            break;
        }
        if (norms) norms[k] = norm;
        float c = (float)train_clip_coef(norm, p->clip);
        info->clipped += norm > p->clip;
        for (size_t j = 0; j < numel; j++) out[j] += c * g[j];
        info->loss_sum += loss;
        for (int t = 0; t < T; t++) info->tokens += mask[t];
    }
    if (!rc && p->sigma > 0) train_dp_add_noise(out, numel, p->sigma * p->clip, p->seed, p->step);
    for (int f = 0; !rc && f < p->n_frozen; f++)
        memset(out + p->frozen[2 * f], 0, (p->frozen[2 * f + 1] - p->frozen[2 * f]) * sizeof *out);
    free(ids);
    free(mask);
    free(g);
    return rc;
}

// The embedding tables among the frozen ranges, as model_ghost_norms's skip bits.
static unsigned dp_ghost_skip(const aca_model *m, const aca_dp_step *p) {
    static const struct {
        const char *name;
        unsigned bit;
    } tables[] = {{"embeddings.word_embeddings.weight", ACA_GHOST_SKIP_WTE},
                  {"embeddings.position_embeddings.weight", ACA_GHOST_SKIP_WPE},
                  {"embeddings.token_type_embeddings.weight", ACA_GHOST_SKIP_TTE}};
    unsigned skip = 0;
    for (size_t t = 0; t < ACA_ARRAY_LEN(tables); t++) {
        const aca_param_info *pi = model_param_find(m, tables[t].name);
        for (int f = 0; pi && f < p->n_frozen; f++)
            if (p->frozen[2 * f] <= pi->offset && pi->offset + pi->numel <= p->frozen[2 * f + 1]) skip |= tables[t].bit;
    }
    return skip;
}

// Host buffers of the ghost step, for chunks of up to max_B examples of up to T0 tokens.
typedef struct {
    aca_ghost_opts go;
    int32_t *ids, *mask, *labels; // (max_B, T0), (max_B, T0), (max_B)
    double *sq;                   // (max_B) squared norms
    float *w;                     // (max_B) clip factors
} dp_ghost_work;

// One chunk of the ghost step: examples idx[0..nb), k0 the first one's place in the batch.
static int dp_ghost_chunk(aca_model *m, const aca_dataset *d, const uint32_t *idx, int nb, int k0, const aca_dp_step *p,
                          dp_ghost_work *wk, double *norms, aca_dp_step_info *info, aca_err *e) {
    int T = dataset_fill_batch(d, idx, nb, model_config(m)->pad_token_id, wk->ids, wk->mask, wk->labels);
    aca_batch b = {wk->ids, wk->mask, NULL, wk->labels, nb, T};
    float loss;
    if (model_forward(m, &b, 1, train_example_seed(p->seed, p->step, k0), NULL, &loss, e))
        return aca_err_prefix(e, "examples %d-%d of the batch", k0 + 1, k0 + nb);
    if (!isfinite(loss))
        return aca_errf(e, ACA_ERR_NUMERIC, "loss is %s in examples %d-%d of the batch", isnan(loss) ? "NaN" : "Inf", k0 + 1, k0 + nb);
    if (model_ghost_norms(m, &wk->go, wk->sq, e)) return -1;
    for (int k = 0; k < nb; k++) {
        double norm = sqrt(wk->sq[k]);
        if (!isfinite(norm))
            return aca_errf(e, ACA_ERR_NUMERIC, "per-example gradient norm is %s for document %u", isnan(norm) ? "NaN" : "Inf",
                            idx[k] + 1);
        if (norms) norms[k0 + k] = norm;
        wk->w[k] = (float)train_clip_coef(norm, p->clip);
        info->clipped += norm > p->clip;
    }
    info->loss_sum += (double)loss * nb;
    for (size_t i = 0; i < (size_t)nb * T; i++) info->tokens += wk->mask[i];
    return model_backward_weighted(m, wk->w, e);
}

// Noise on the trained coordinates of the model's gradient buffer; the frozen ones are zeroed.
static void dp_ghost_noise(aca_model *m, const aca_dp_step *p) {
    aca_backend *be = model_backend(m);
    float *g = model_grad_buffer(m);
    size_t numel = model_num_params(m), *tr = xmalloc(2 * ((size_t)p->n_frozen + 1) * sizeof *tr);
    int nt = dp_trained_ranges(p, numel, tr);
    for (int k = 0; k < nt && p->sigma > 0; k++)
        be->ops->dp_noise(be, g, tr[2 * k], tr[2 * k + 1], p->sigma * p->clip, dp_key(p->seed, DP_TAG_NOISE), (uint64_t)p->step);
    for (int f = 0; f < p->n_frozen; f++)
        be->ops->memset0(be, g + p->frozen[2 * f], (p->frozen[2 * f + 1] - p->frozen[2 * f]) * sizeof *g);
    free(tr);
}

int train_dp_grad_ghost(aca_model *m, const aca_dataset *d, const uint32_t *idx, int nb, const aca_dp_step *p,
                        aca_ghost_form form, double *norms, aca_dp_step_info *info, aca_err *e) {
    memset(info, 0, sizeof *info);
    model_zero_grad(m);
    const int mx = model_max_batch(m);
    const size_t mb = (size_t)(p->chunk > 0 && p->chunk < mx ? p->chunk : mx), T0 = (size_t)(d->max_len > 0 ? d->max_len : 1);
    dp_ghost_work wk = {{form, dp_ghost_skip(m, p)}, xmalloc(mb * T0 * 4), xmalloc(mb * T0 * 4), xmalloc(mb * 4),
                        xmalloc(mb * sizeof(double)), xmalloc(mb * sizeof(float))};
    int rc = 0;
    for (int k0 = 0; k0 < nb && !rc; k0 += (int)mb)
        rc = dp_ghost_chunk(m, d, idx + k0, nb - k0 < (int)mb ? nb - k0 : (int)mb, k0, p, &wk, norms, info, e);
    free(wk.ids), free(wk.mask), free(wk.labels), free(wk.sq), free(wk.w);
    if (!rc) dp_ghost_noise(m, p);
    return rc;
}

double train_dp_divisor(const aca_train_opts *o, size_t n, int nb) {
    if (o->dp && o->dp_sampling == TRAIN_DP_POISSON) return (double)((size_t)o->batch < n ? (size_t)o->batch : n);
    return nb > 0 ? (double)nb : 1.0;
}

// ---- fp16 loss scaling -------------------------------------------------------------------------
void loss_scaler_init(aca_loss_scaler *s, float init, int window) {
    s->scale = init > 0 ? init : 65536.0f;
    s->window = window > 0 ? window : 2000;
    s->good = 0;
}

int loss_scaler_update(aca_loss_scaler *s, int overflow) {
    if (overflow) {
        s->scale *= 0.5f;
        if (s->scale < 1.0f) s->scale = 1.0f; // never scale below 1 (the step is skipped anyway)
        s->good = 0;
        return 1;
    }
    if (++s->good >= s->window) {
        if (s->scale < 16777216.0f) s->scale *= 2.0f; // 2^24 cap
        s->good = 0;
    }
    return 0;
}

// ---- the run's fingerprint ---------------------------------------------------------------------
// A double's shortest decimal that reads back as the same value (5e-05, not 5.0000000000000002e-05).
static const char *fp_num(char *out, size_t n, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    return out;
}

// config.json as one line per field: `  "dim": 32,` -> "config.json dim\t32".
static void fp_config(aca_buf *b, const aca_config *c) {
    aca_buf j = {0};
    config_to_json(c, &j);
    char *save = NULL;
    for (char *line = strtok_r(j.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *k = strchr(line, '"'), *ke = k ? strchr(k + 1, '"') : NULL;
        if (!ke || ke[1] != ':') continue;
        char *v = ke + 2 + (ke[2] == ' ');
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == ',') v[--vl] = 0;
        buf_printf(b, "config.json %.*s\t%s\n", (int)(ke - k - 1), k + 1, v);
    }
    buf_free(&j);
}

static uint64_t fp_dataset_hash(const aca_dataset *d) {
    uint64_t h = hash_fnv1a64(d->off, (d->n + 1) * sizeof *d->off, ACA_FNV_SEED);
    h = hash_fnv1a64(d->ids, d->off[d->n] * sizeof *d->ids, h);
    return d->labels ? hash_fnv1a64(d->labels, d->n * sizeof *d->labels, h) : h;
}

void train_fingerprint(const aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_buf *b) {
    const aca_backend *be = model_backend(m);
    char x[40], y[40], z[40];
    buf_printf(b, "--epochs\t%d\n", o->epochs);
    buf_printf(b, "--batch\t%d\n", o->batch);
    buf_printf(b, "--lr\t%s\n", fp_num(x, sizeof x, o->lr));
    buf_printf(b, "--weight-decay\t%s\n", fp_num(x, sizeof x, o->weight_decay));
    buf_printf(b, "--max-grad-norm\t%s\n", fp_num(x, sizeof x, o->max_grad_norm));
    buf_printf(b, "--seed\t%llu\n", (unsigned long long)o->seed);
    buf_printf(b, "--bucket\t%s\n", o->bucket ? "on" : "off");
    buf_printf(b, "--max-len\t%d\n", d->max_len);
    buf_printf(b, "--device\t%s\n", be->ops->name);
    buf_printf(b, "--precision\t%s\n", aca_dtype_name(be->dtype));
    buf_printf(b, "AdamW betas, eps\t%s %s %s\n", fp_num(x, sizeof x, o->beta1), fp_num(y, sizeof y, o->beta2),
               fp_num(z, sizeof z, o->eps));
    if (be->dtype == ACA_DT_F16)
        buf_printf(b, "fp16 loss scale, window\t%.9g %d\n", (double)o->loss_scale_init, o->loss_scale_window);
    buf_printf(b, "per-example gradients\t%s\n", o->per_example_grads ? "on" : "off");
    if (o->freeze_base) buf_printf(b, "--freeze-base\ton\n"); // absent when off: older checkpoints still resume
    buf_printf(b, "DP-SGD\t%s\n", o->dp ? "on" : "off");
    if (o->dp) {
        buf_printf(b, "--dp-clip\t%s\n", fp_num(x, sizeof x, o->dp_clip));
        int eps = isnan(o->dp_sigma);
        buf_printf(b, "%s\t%s\n", eps ? "--dp-epsilon" : "--dp-sigma", fp_num(x, sizeof x, eps ? o->dp_epsilon : o->dp_sigma));
        buf_printf(b, "--dp-delta\t%s\n", fp_num(x, sizeof x, o->dp_delta));
        buf_printf(b, "--dp-sampling\t%s\n", train_dp_sampling_name(o->dp_sampling));
        buf_printf(b, "--dp-freeze-embeddings\t%s\n", o->dp_freeze_embeddings ? "on" : "off");
        buf_printf(b, "--dp-grad\t%s\n", train_dp_grad_name(o->dp_grad));
        if (o->dp_grad == TRAIN_DP_GRAD_GHOST) buf_printf(b, "--dp-micro-batch\t%d\n", o->dp_micro_batch);
    }
    buf_printf(b, "training data\t%zu documents, %llu tokens, hash %016llx\n", d->n, (unsigned long long)d->off[d->n],
               (unsigned long long)fp_dataset_hash(d));
    fp_config(b, model_config(m));
    size_t n = model_num_params(m);
    float *p = xmalloc(n * sizeof *p);
    model_get_params(m, p);
    buf_printf(b, "initial weights (--model checkpoint, or --config with --init-seed)\t%zu parameters, hash %016llx\n", n,
               (unsigned long long)hash_fnv1a64(p, n * sizeof *p, ACA_FNV_SEED));
    free(p);
    if (o->fingerprint_extra) buf_puts(b, o->fingerprint_extra);
}

// The value of field `name` (length of the name) in fingerprint text fp, or NULL; *vl its length.
static const char *fp_find(const char *fp, const char *name, size_t nl, size_t *vl) {
    for (const char *l = fp; *l;) {
        const char *tab = strchr(l, '\t'), *end = strchr(l, '\n');
        if (!end) end = l + strlen(l);
        if (tab && tab < end && (size_t)(tab - l) == nl && !memcmp(l, name, nl)) return *vl = (size_t)(end - tab - 1), tab + 1;
        l = *end ? end + 1 : end;
    }
    return NULL;
}

static void fp_value(char *out, size_t n, const char *v, size_t vl) {
    if (v) snprintf(out, n, "%.*s", (int)vl, v);
    else snprintf(out, n, "absent");
}

// Error naming the first field whose value differs between the checkpoint's fingerprint (old) and
// this run's (cur), and the names of the others that differ.
static int fp_compare(const char *path, const char *old, const char *cur, aca_err *e) {
    int ndiff = 0;
    char first[700] = "", more[300] = "", vo[300], vc[300];
    for (int pass = 0; pass < 2; pass++) { // this run's fields, then the checkpoint's that this run lacks
        const char *a = pass ? old : cur, *b = pass ? cur : old;
        for (const char *l = a; *l;) {
            const char *tab = strchr(l, '\t'), *end = strchr(l, '\n');
            if (!end) end = l + strlen(l);
            if (!tab || tab > end) break;
            size_t nl = (size_t)(tab - l), vl = 0, ml = (size_t)(end - tab - 1);
            const char *v = fp_find(b, l, nl, &vl);
            if (!(v && vl == ml && !memcmp(v, tab + 1, vl)) && !(pass && v)) {
                if (ndiff++ == 0) {
                    fp_value(vo, sizeof vo, pass ? tab + 1 : v, pass ? ml : vl);
                    fp_value(vc, sizeof vc, pass ? v : tab + 1, pass ? vl : ml);
                    snprintf(first, sizeof first, "%.*s is %s in the checkpoint but %s now", (int)nl, l, vo, vc);
                } else if (strlen(more) + nl + 3 < sizeof more) {
                    snprintf(more + strlen(more), sizeof more - strlen(more), "%s%.*s", *more ? ", " : "", (int)nl, l);
                }
            }
            l = *end ? end + 1 : end;
        }
    }
    if (!ndiff) return 0;
    return aca_errf(e, ACA_ERR_VALUE,
                    "%s: the checkpoint is of another run: %s%s%s (resume only the run that wrote it, or train without --resume "
                    "into another --out)", path, first, *more ? "; also different: " : "", more);
}

// ---- checkpoints -------------------------------------------------------------------------------
#define CKPT_MAGIC "ACACKPT2"
#define CKPT_MAGIC_V1 "ACACKPT1"
#define CKPT_NAME "trainer.ckpt"

typedef struct {
    char magic[8];
    uint64_t numel, step, adam_t, total, seed;
    float scale;
    int32_t window, good, reserved;
    uint64_t fp_len; // bytes of fingerprint text after the header
} ckpt_header;

static int write_hashed(FILE *f, const void *p, size_t n, uint64_t *h) {
    *h = hash_fnv1a64(p, n, *h);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int train_checkpoint_save(const aca_model *m, const char *ckpt_dir, const aca_train_state *st, long total_steps,
                          uint64_t seed, const char *fingerprint, aca_err *e) {
    if (dir_make(ckpt_dir, e)) return -1;
    size_t numel = model_num_params(m);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.numel = numel, h.step = (uint64_t)st->step, h.adam_t = (uint64_t)st->adam_t;
    h.total = (uint64_t)total_steps, h.seed = seed;
    h.scale = st->ls.scale, h.window = st->ls.window, h.good = st->ls.good;
    h.fp_len = strlen(fingerprint);
    float *buf = xmalloc(numel * sizeof *buf), *v = xmalloc(numel * sizeof *v);
    char *path = path_join(ckpt_dir, CKPT_NAME);
    aca_atomic a;
    int rc = atomic_open(&a, path, e);
    if (!rc) {
        uint64_t hs = ACA_FNV_SEED;
        int bad = write_hashed(a.f, &h, sizeof h, &hs);
        bad |= write_hashed(a.f, fingerprint, h.fp_len, &hs);
        model_get_params(m, buf);
        bad |= write_hashed(a.f, buf, numel * sizeof *buf, &hs);
        model_get_adam_state(m, buf, v);
        bad |= write_hashed(a.f, buf, numel * sizeof *buf, &hs);
        bad |= write_hashed(a.f, v, numel * sizeof *v, &hs);
        bad |= fwrite(&hs, sizeof hs, 1, a.f) != 1;
        if (bad) {
            atomic_abort(&a);
            rc = aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", path);
        } else {
            rc = atomic_commit(&a, e);
        }
    }
    free(path);
    free(buf);
    free(v);
    return rc;
}

// The header, checked against the file's size (before anything is allocated from its fields).
static int ckpt_read_header(FILE *f, const char *path, ckpt_header *h, aca_err *e) {
    struct stat sb;
    if (fstat(fileno(f), &sb)) return aca_errf(e, ACA_ERR_IO, "%s: %s", path, strerror(errno));
    uint64_t size = (uint64_t)sb.st_size;
    memset(h, 0, sizeof *h);
    size_t got = fread(h, 1, sizeof *h, f);
    if (got >= 8 && !memcmp(h->magic, CKPT_MAGIC_V1, 8))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: written by an older aca, without the fingerprint of its run, so it cannot be checked to belong "
                        "to this one; train without --resume (into another --out, or after removing this checkpoint)", path);
    if (got != sizeof *h || memcmp(h->magic, CKPT_MAGIC, 8))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not an aca trainer checkpoint (bad magic or truncated header)", path);
    uint64_t room = size - sizeof *h - 8; // what the fingerprint and the three arrays may hold
    if (size < sizeof *h + 8 || h->fp_len > room || h->numel > (room - h->fp_len) / 12 ||
        sizeof *h + h->fp_len + 12 * h->numel + 8 != size)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: truncated or corrupt checkpoint (%llu bytes; the header describes another size)", path,
                        (unsigned long long)size);
    return 0;
}

static int read_hashed(FILE *f, void *p, size_t n, uint64_t *h) {
    if (fread(p, 1, n, f) != n) return -1;
    *h = hash_fnv1a64(p, n, *h);
    return 0;
}

// What the header says against this run (after the fingerprint matched).
static int ckpt_check_header(const ckpt_header *h, const char *path, size_t numel, long total_steps, uint64_t seed, aca_err *e) {
    if (h->numel != numel)
        return aca_errf(e, ACA_ERR_VALUE, "%s: checkpoint has %llu parameters, the model %zu (another model?)", path,
                        (unsigned long long)h->numel, numel);
    if (h->total != (uint64_t)total_steps || h->seed != seed)
        return aca_errf(e, ACA_ERR_VALUE, "%s: checkpoint is of a run of %llu steps with seed %llu, this run has %ld steps and seed %llu",
                        path, (unsigned long long)h->total, (unsigned long long)h->seed, total_steps, (unsigned long long)seed);
    if (h->step > h->total || h->adam_t > h->step)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: corrupt checkpoint header (step %llu of %llu)", path,
                        (unsigned long long)h->step, (unsigned long long)h->total);
    return 0;
}

int train_checkpoint_load(aca_model *m, const char *ckpt_dir, long total_steps, uint64_t seed, const char *fingerprint,
                          aca_train_state *st, aca_err *e) {
    char *path = path_join(ckpt_dir, CKPT_NAME);
    FILE *f = fopen(path, "rb");
    if (!f) {
        aca_errf(e, ACA_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    size_t numel = model_num_params(m);
    ckpt_header h;
    uint64_t hs = ACA_FNV_SEED, stored;
    float *p = NULL, *mm = NULL, *vv = NULL;
    char *fp = NULL;
    int rc = -1;
    if (ckpt_read_header(f, path, &h, e)) goto done;
    hs = hash_fnv1a64(&h, sizeof h, hs);
    fp = xcalloc(h.fp_len + 1, 1);
    size_t n = (size_t)h.numel;
    p = xmalloc(n * sizeof *p + 1), mm = xmalloc(n * sizeof *mm + 1), vv = xmalloc(n * sizeof *vv + 1);
    if (read_hashed(f, fp, h.fp_len, &hs) || read_hashed(f, p, n * sizeof *p, &hs) || read_hashed(f, mm, n * sizeof *mm, &hs) ||
        read_hashed(f, vv, n * sizeof *vv, &hs) || fread(&stored, sizeof stored, 1, f) != 1) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: truncated checkpoint", path);
        goto done;
    }
    if (stored != hs || fgetc(f) != EOF || memchr(fp, 0, h.fp_len)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: checkpoint checksum mismatch (corrupt file)", path);
        goto done;
    }
    if (fp_compare(path, fp, fingerprint, e) || ckpt_check_header(&h, path, numel, total_steps, seed, e)) goto done;
    model_set_params(m, p);
    model_set_adam_state(m, mm, vv);
    st->step = (long)h.step;
    st->adam_t = (long)h.adam_t;
    st->ls.scale = h.scale, st->ls.window = h.window, st->ls.good = h.good;
    rc = 0;
done:
    fclose(f);
    free(path);
    free(fp);
    free(p);
    free(mm);
    free(vv);
    return rc;
}

// ---- the training loop -------------------------------------------------------------------------
static int check_opts(const aca_train_opts *o, aca_err *e) {
    if (o->epochs < 1) return aca_errf(e, ACA_ERR_VALUE, "epochs must be >= 1 (got %d)", o->epochs);
    if (o->batch < 1) return aca_errf(e, ACA_ERR_VALUE, "batch must be >= 1 (got %d)", o->batch);
    if (!(o->lr >= 0) || !isfinite(o->lr)) return aca_errf(e, ACA_ERR_VALUE, "lr must be a finite number >= 0");
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return aca_errf(e, ACA_ERR_VALUE, "AdamW betas must lie in [0, 1)");
    if (!(o->eps > 0)) return aca_errf(e, ACA_ERR_VALUE, "AdamW eps must be > 0");
    if (!(o->weight_decay >= 0)) return aca_errf(e, ACA_ERR_VALUE, "weight decay must be >= 0");
    if (o->save_every < 0) return aca_errf(e, ACA_ERR_VALUE, "save-every must be >= 0");
    if ((o->save_every > 0 || o->resume || o->stop_after > 0) && !o->ckpt_dir)
        return aca_errf(e, ACA_ERR_VALUE, "checkpointing (save-every, resume, stop-after) needs a checkpoint directory");
    return train_dp_check_opts(o, e);
}

// A step's forward failed: name the step; a non-finite activation after this run's first update
// means the training diverged.
static int train_step_error(aca_err *e, long s, long start, long total, int ep, double lr) {
    if (e->kind != ACA_ERR_NUMERIC) return aca_err_prefix(e, "step %ld (epoch %d)", s + 1, ep + 1);
    aca_err_prefix(e, "at step %ld of %ld (epoch %d, lr %.3g)", s + 1, total, ep + 1, lr);
    if (s > start) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, ": training diverged; try a smaller --lr");
    }
    return -1;
}

int train_run(aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_train_stats *st, aca_err *e) {
    memset(st, 0, sizeof *st);
    if (check_opts(o, e)) return -1;
    if (d->n == 0) return aca_errf(e, ACA_ERR_VALUE, "the training set is empty");
    if (!d->labels) return aca_errf(e, ACA_ERR_VALUE, "the training set has no labels");
    const aca_config *cfg = model_config(m);
    for (size_t i = 0; i < d->n; i++) {
        if (d->labels[i] < 0 || d->labels[i] >= cfg->num_labels)
            return aca_errf(e, ACA_ERR_VALUE, "training document %zu has label %d, but the model's head has %d classes",
                            i + 1, d->labels[i], cfg->num_labels);
        int len = dataset_len(d, i);
        if (len < 1 || len > d->max_len)
            return aca_errf(e, ACA_ERR_VALUE, "training document %zu has %d tokens (limit %d)", i + 1, len, d->max_len);
    }
    if (d->max_len > cfg->max_position)
        return aca_errf(e, ACA_ERR_VALUE, "max length %d exceeds the model's max_position_embeddings %d", d->max_len,
                        cfg->max_position);

    const int pe = o->dp || o->per_example_grads; // per-example gradients (train_dp_grad or _ghost)
    const int ghost = o->dp && o->dp_grad == TRAIN_DP_GRAD_GHOST;
    if (pe && !ghost && strcmp(model_backend(m)->ops->name, "cpu"))
        return aca_errf(e, ACA_ERR_VALUE, "%s: the per-example path (one B=1 pass per example) is CPU-only; use --device cpu, "
                        "or ghost clipping (--dp-grad ghost)", o->dp ? "--dp-grad per-example" : "per_example_grads");
    if (o->dp && model_backend(m)->dtype == ACA_DT_F16)
        return aca_errf(e, ACA_ERR_VALUE, "--precision fp16 with DP-SGD: per-example clipping runs without loss scaling; use "
                        "fp32 or bf16");

    const long spe = (long)((d->n + (size_t)o->batch - 1) / (size_t)o->batch); // steps per epoch
    const long total = spe * o->epochs;
    st->total_steps = total;
    // DP-SGD: the sampling rate and the noise multiplier (given, or the smallest reaching the target
    // epsilon after all `total` steps).
    double dp_q = (size_t)o->batch < d->n ? (double)o->batch / (double)d->n : 1.0, dp_sigma = 0;
    if (o->dp) {
        dp_sigma = o->dp_sigma;
        if (isnan(dp_sigma)) {
            dp_sgm sg = {dp_q, 1.0, (uint64_t)total, o->dp_delta};
            dp_result at;
            if (dp_sigma_for_epsilon(&sg, o->dp_epsilon, DP_CONVERT_BALLE2020, &dp_sigma, &at, e))
                return aca_err_prefix(e, "--dp-epsilon %g (q = %g, %ld steps, delta %g)", o->dp_epsilon, dp_q, total,
                                      o->dp_delta);
        }
        st->dp_q = dp_q, st->dp_sigma = dp_sigma;
        log_info("DP-SGD: %s sampling q = %.6g, clip C = %g, noise multiplier sigma = %.6g%s, delta = %g, %ld steps",
                 train_dp_sampling_name(o->dp_sampling), dp_q, o->dp_clip, dp_sigma,
                 isnan(o->dp_sigma) ? " (chosen for --dp-epsilon)" : "", o->dp_delta, total);
    }
    aca_train_state ts = {0, 0, {0}};
    loss_scaler_init(&ts.ls, o->loss_scale_init, o->loss_scale_window);
    const int fp16 = model_backend(m)->dtype == ACA_DT_F16;

    // What defines this run, stored in every checkpoint and checked on resume (before any update).
    aca_buf fp = {0};
    if (o->save_every > 0 || o->stop_after > 0 || o->resume) train_fingerprint(m, d, o, &fp);
    if (o->resume) {
        char *ck = path_join(o->ckpt_dir, CKPT_NAME);
        int have = file_exists(ck);
        free(ck);
        if (have) {
            if (train_checkpoint_load(m, o->ckpt_dir, total, o->seed, fp.data, &ts, e)) return buf_free(&fp), -1;
            st->resumed = 1;
            log_info("resuming from %s/%s at step %ld of %ld", o->ckpt_dir, CKPT_NAME, ts.step, total);
        } else {
            log_info("--resume: no checkpoint in %s yet, starting from step 0", o->ckpt_dir);
        }
    }

    const int B = o->batch;
    uint32_t *order = xmalloc(d->n * sizeof *order);
    int32_t *ids = xmalloc((size_t)B * d->max_len * sizeof *ids);
    int32_t *mask = xmalloc((size_t)B * d->max_len * sizeof *mask);
    int32_t *labels = xmalloc((size_t)B * sizeof *labels);
    uint32_t *sample = pe && o->dp && o->dp_sampling == TRAIN_DP_POISSON ? xmalloc(d->n * sizeof *sample) : NULL;
    float *gsum = pe && !ghost ? xmalloc(model_num_params(m) * sizeof *gsum) : NULL;
    // Frozen parameters (dp_freeze_embeddings, freeze_base) and the trained ranges AdamW updates.
    size_t frozen[8], trained[10];
    const int n_frozen = train_frozen_ranges(m, o, frozen, 4);
    aca_dp_step franges = {0, 0, 0, 0, frozen, n_frozen, 0};
    const int n_trained = dp_trained_ranges(&franges, model_num_params(m), trained);
    model_set_top_only(m, o->freeze_base);
    long dp_clipped = 0;
    const long start = ts.step;
    const double t0 = time_now();
    double loss_acc = 0, epoch_loss = 0;
    long n_acc = 0, epoch_n = 0;
    int rc = 0, have_loss = 0;
    int cur_epoch = -1;
    for (long s = start; s < total; s++) {
        int ep = (int)(s / spe);
        long bi = s % spe;
        if (ep != cur_epoch) {
            train_epoch_order(d, o->seed, ep, B, o->bucket, order);
            cur_epoch = ep;
            epoch_loss = 0, epoch_n = 0;
        }
        size_t i0 = (size_t)bi * B;
        int nb = (int)(d->n - i0 < (size_t)B ? d->n - i0 : (size_t)B);
        const uint32_t *bidx = order + i0;
        if (sample) nb = (int)train_dp_poisson_batch(d->n, dp_q, o->seed, s, sample), bidx = sample;
        float loss = 0, scale = 1.0f;
        double norm, lr = train_lr_at(o->lr, s, total), div = 1.0, tokens = 0;
        if (pe) {
            // Per-example gradients: their (clipped, noised) sum, divided through AdamW's grad_scale.
            aca_dp_step ps = {o->dp ? o->dp_clip : INFINITY, o->dp ? dp_sigma : 0, o->seed, s, frozen, n_frozen, o->dp_micro_batch};
            aca_dp_step_info info;
            int grc = ghost ? train_dp_grad_ghost(m, d, bidx, nb, &ps, ACA_GHOST_AUTO, NULL, &info, e)
                            : train_dp_grad(m, d, bidx, nb, &ps, gsum, NULL, &info, e);
            if (grc) {
                rc = train_step_error(e, s, start, total, ep, lr);
                break;
            }
            loss = nb ? (float)(info.loss_sum / nb) : NAN;
            tokens = info.tokens;
            dp_clipped += info.clipped;
            st->dp_examples += nb;
            if (!ghost) model_set_grads(m, gsum);
            div = train_dp_divisor(o, d->n, nb);
            norm = model_grad_norm(m) / div;
        } else {
            int T = dataset_fill_batch(d, bidx, nb, cfg->pad_token_id, ids, mask, labels);
            aca_batch batch = {ids, mask, NULL, labels, nb, T};
            if (model_forward(m, &batch, 1, train_step_seed(o->seed, s), NULL, &loss, e)) {
                rc = train_step_error(e, s, start, total, ep, lr);
                break;
            }
            if (!isfinite(loss)) {
                rc = aca_errf(e, ACA_ERR_NUMERIC,
                              "loss is %s at step %ld of %ld (epoch %d, lr %.3g): training diverged; try a smaller --lr",
                              isnan(loss) ? "NaN" : "Inf", s + 1, total, ep + 1, lr);
                break;
            }
            for (int b = 0; b < nb; b++)
                for (int t = 0; t < T; t++) tokens += mask[(size_t)b * T + t];
            scale = fp16 ? ts.ls.scale : 1.0f;
            model_zero_grad(m);
            model_backward(m, scale);
            norm = model_grad_norm(m) / scale;
        }
        int skipped = 0;
        if (fp16) {
            skipped = loss_scaler_update(&ts.ls, !isfinite(norm));
        } else if (!isfinite(norm)) {
            rc = aca_errf(e, ACA_ERR_NUMERIC, "gradient norm is %s at step %ld of %ld (epoch %d, loss %g, lr %.3g): training diverged; try a smaller --lr",
                          isnan(norm) ? "NaN" : "Inf", s + 1, total, ep + 1, (double)loss, lr);
            break;
        }
        if (!skipped) {
            double coef = o->dp ? 1.0 : train_clip_coef(norm, o->max_grad_norm); // DP: no global clipping
            aca_adamw h = {(float)lr, (float)o->beta1, (float)o->beta2, (float)o->eps, (float)o->weight_decay,
                           (float)(pe ? coef / div : coef / scale), (int)(ts.adam_t + 1)};
            if (n_frozen) model_adamw_step_ranges(m, &h, trained, n_trained);
            else model_adamw_step(m, &h);
            ts.adam_t++;
        } else {
            st->skipped_steps++;
        }
        ts.step = s + 1;
        st->tokens += tokens;
        if (nb > 0) { // an empty Poisson batch has no loss
            if (!have_loss) st->first_loss = loss, have_loss = 1;
            loss_acc += loss, n_acc++;
            epoch_loss += loss, epoch_n++;
            st->last_epoch_loss = epoch_loss / (double)epoch_n;
        }

        int last = ts.step == total || (o->stop_after > 0 && ts.step == o->stop_after);
        if (o->on_step && (last || (o->log_every > 0 && ts.step % o->log_every == 0) || o->log_every <= 1)) {
            double el = time_now() - t0;
            aca_train_progress p = {ts.step, total, ep + 1, o->epochs, loss, n_acc ? loss_acc / (double)n_acc : NAN, lr, norm,
                                    el > 0 ? st->tokens / el : 0, el, el / (double)(ts.step - start) * (double)(total - ts.step),
                                    skipped, ts.ls.scale};
            o->on_step(&p, o->on_step_ctx);
            loss_acc = 0, n_acc = 0;
        }
        if ((o->save_every > 0 && ts.step % o->save_every == 0 && ts.step < total) ||
            (o->stop_after > 0 && ts.step == o->stop_after)) {
            if (train_checkpoint_save(m, o->ckpt_dir, &ts, total, o->seed, fp.data, e)) {
                rc = -1;
                break;
            }
        }
        if (o->stop_after > 0 && ts.step == o->stop_after && ts.step < total) {
            st->stopped_early = 1;
            break;
        }
    }
    model_set_top_only(m, 0);
    st->steps = ts.step;
    st->steps_this_run = ts.step - start;
    st->seconds = time_now() - t0;
    st->tokens_per_s = st->seconds > 0 ? st->tokens / st->seconds : 0;
    st->peak_rss = mem_peak_rss();
    if (o->dp) {
        st->dp_clipped_frac = st->dp_examples ? (double)dp_clipped / (double)st->dp_examples : 0;
        st->dp_epsilon = INFINITY, st->dp_order = NAN;
        if (dp_sigma > 0 && ts.step > 0) {
            dp_sgm sg = {dp_q, dp_sigma, (uint64_t)ts.step, o->dp_delta};
            dp_result r;
            aca_err e2 = {0};
            if (!dp_epsilon(&sg, DP_CONVERT_BALLE2020, NULL, 0, &r, &e2)) st->dp_epsilon = r.epsilon, st->dp_order = r.best_order;
            else if (!rc) rc = aca_errf(e, e2.kind, "privacy accounting: %s", e2.msg);
        } else if (ts.step == 0) {
            st->dp_epsilon = 0;
        }
    }
    free(sample);
    free(gsum);
    free(order);
    free(ids);
    free(mask);
    free(labels);
    buf_free(&fp);
    return rc;
}

// ---- the Hugging Face output directory ---------------------------------------------------------
int train_write_hf(const aca_model *m, const char *dir, const aca_tokenizer *tok, aca_err *e) {
    int rc = model_save(m, dir, e);
    if (!rc && tok) rc = tokenizer_save(tok, dir, model_config(m)->max_position, e);
    return rc;
}

int train_save_hf(const aca_model *m, const char *out_dir, const aca_tokenizer *tok, aca_err *e) {
    aca_outdir od;
    if (outdir_begin(&od, out_dir, "model", 0, e)) return -1;
    if (train_write_hf(m, od.tmp, tok, e)) return outdir_abort(&od), -1;
    return outdir_commit(&od, e);
}
