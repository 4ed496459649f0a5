// DP-SGD in the trainer (see include/aca/train.h and docs/dp.md): its options, Poisson sampling, the
// Gaussian noise, the per-example gradients of a step (the B=1 reference and ghost clipping), and the
// glue to the accountant (dp.h): the noise multiplier for a target epsilon, the epsilon spent.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/dp.h"
#include "aca/dp_gauss.h"
#include "aca/philox.h"
#include "aca/train.h"
#include "train_internal.h"

// ---- options -----------------------------------------------------------------------------------
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

// ---- seeds, Poisson sampling, noise ------------------------------------------------------------
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

// ---- per-example gradients: one B=1 pass each (the reference) ----------------------------------
int train_dp_frozen_ranges(const aca_model *m, size_t *ranges, int max) {
    int np = 0, k = 0;
    const aca_param_info *pi = model_params(m, &np);
    for (int i = 0; i < np && k < max; i++)
        if (!strncmp(pi[i].name, "embeddings.", 11) && strstr(pi[i].name, "_embeddings.weight"))
            ranges[2 * k] = pi[i].offset, ranges[2 * k + 1] = pi[i].offset + pi[i].numel, k++;
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

// ---- per-example gradients by ghost clipping ---------------------------------------------------
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
    int nt = train_trained_ranges(p->frozen, p->n_frozen, numel, tr);
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

// ---- the trainer's glue ------------------------------------------------------------------------
// The sampling rate and noise multiplier of a training over n documents: --dp-sigma, or the sigma
// that spends --dp-epsilon over the run's steps.
static int dp_q_sigma(const aca_train_opts *o, size_t n, long total, double *q, double *sigma, aca_err *e) {
    *q = (size_t)o->batch < n ? (double)o->batch / (double)n : 1.0;
    *sigma = o->dp_sigma;
    if (!isnan(*sigma)) return 0;
    dp_sgm sg = {*q, 1.0, (uint64_t)total, o->dp_delta};
    dp_result at;
    if (dp_sigma_for_epsilon(&sg, o->dp_epsilon, DP_CONVERT_BALLE2020, sigma, &at, e))
        return aca_err_prefix(e, "--dp-epsilon %g (q = %g, %ld steps, delta %g)", o->dp_epsilon, *q, total, o->dp_delta);
    return 0;
}

int train_dp_check(const aca_train_opts *o, size_t n, aca_err *e) {
    double q, sigma;
    if (!o->dp || n == 0) return 0;
    return dp_q_sigma(o, n, train_total_steps(n, o->batch, o->epochs), &q, &sigma, e);
}

int train_dp_setup(const aca_train_opts *o, size_t n, long total, double *q, double *sigma, aca_err *e) {
    if (dp_q_sigma(o, n, total, q, sigma, e)) return -1;
    log_info("DP-SGD: %s sampling q = %.6g, clip C = %g, noise multiplier sigma = %.6g%s, delta = %g, %ld steps",
             train_dp_sampling_name(o->dp_sampling), *q, o->dp_clip, *sigma,
             isnan(o->dp_sigma) ? " (chosen for --dp-epsilon)" : "", o->dp_delta, total);
    return 0;
}

int train_pe_grad(aca_model *m, const aca_dataset *d, const aca_train_opts *o, const uint32_t *idx, int nb, long s,
                  double sigma, const size_t *frozen, int n_frozen, float *gsum, train_pe_step *out, aca_err *e) {
    const int ghost = o->dp && o->dp_grad == TRAIN_DP_GRAD_GHOST;
    aca_dp_step ps = {o->dp ? o->dp_clip : INFINITY, o->dp ? sigma : 0, o->seed, s, frozen, n_frozen, o->dp_micro_batch};
    aca_dp_step_info info;
    int rc = ghost ? train_dp_grad_ghost(m, d, idx, nb, &ps, ACA_GHOST_AUTO, NULL, &info, e)
                   : train_dp_grad(m, d, idx, nb, &ps, gsum, NULL, &info, e);
    if (rc) return -1;
    out->loss = nb ? (float)(info.loss_sum / nb) : NAN;
    out->tokens = info.tokens;
    out->clipped = info.clipped;
    if (!ghost) model_set_grads(m, gsum);
    out->div = train_dp_divisor(o, d->n, nb);
    out->norm = model_grad_norm(m) / out->div;
    return 0;
}

int train_dp_account(const aca_train_opts *o, double q, double sigma, long clipped, aca_train_stats *st, aca_err *e) {
    st->dp_clipped_frac = st->dp_examples ? (double)clipped / (double)st->dp_examples : 0;
    st->dp_epsilon = INFINITY, st->dp_order = NAN;
    if (st->steps == 0) {
        st->dp_epsilon = 0;
    } else if (sigma > 0) {
        dp_sgm sg = {q, sigma, (uint64_t)st->steps, o->dp_delta};
        dp_result r;
        aca_err e2 = {0};
        if (dp_epsilon(&sg, DP_CONVERT_BALLE2020, NULL, 0, &r, &e2))
            return aca_errf(e, e2.kind, "privacy accounting: %s", e2.msg);
        st->dp_epsilon = r.epsilon, st->dp_order = r.best_order;
    }
    return 0;
}
