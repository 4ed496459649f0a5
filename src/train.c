// The trainer (see include/aca/train.h): epochs of shuffled (optionally length-bucketed) batches,
// each padded to its longest document; AdamW with a linear schedule, global-norm clipping, fp16
// loss scaling, frozen parameters, and the loop, which checkpoints and resumes bit-identically.
// DP-SGD's per-example gradients are train_dp.c's; fingerprints and checkpoints train_ckpt.c's.
#include "aca/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/outdir.h"
#include "train_internal.h"

// ---- schedule, clipping, order -----------------------------------------------------------------
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

// ---- frozen parameters -------------------------------------------------------------------------
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

int train_trained_ranges(const size_t *frozen, int n_frozen, size_t numel, size_t *out) {
    size_t at = 0;
    int k = 0;
    for (int f = 0; f < n_frozen; f++) {
        if (frozen[2 * f] > at) out[2 * k] = at, out[2 * k + 1] = frozen[2 * f], k++;
        if (frozen[2 * f + 1] > at) at = frozen[2 * f + 1];
    }
    if (at < numel) out[2 * k] = at, out[2 * k + 1] = numel, k++;
    return k;
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

// The data against the model: labels within its head, lengths within max_len and its positions.
static int check_data(const aca_model *m, const aca_dataset *d, aca_err *e) {
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
    return 0;
}

// The per-example path against the backend: B=1 passes run on the CPU only, and DP-SGD's clipping
// without fp16's loss scaling.
static int check_path(const aca_model *m, const aca_train_opts *o, aca_err *e) {
    const int pe = o->dp || o->per_example_grads; // per-example gradients (train_dp_grad or _ghost)
    const int ghost = o->dp && o->dp_grad == TRAIN_DP_GRAD_GHOST;
    if (pe && !ghost && strcmp(model_backend(m)->ops->name, "cpu"))
        return aca_errf(e, ACA_ERR_VALUE, "%s: the per-example path (one B=1 pass per example) is CPU-only; use --device cpu, "
                        "or ghost clipping (--dp-grad ghost)", o->dp ? "--dp-grad per-example" : "per_example_grads");
    if (o->dp && model_backend(m)->dtype == ACA_DT_F16)
        return aca_errf(e, ACA_ERR_VALUE, "--precision fp16 with DP-SGD: per-example clipping runs without loss scaling; use "
                        "fp32 or bf16");
    return 0;
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

// A run in progress: what its steps share.
typedef struct {
    aca_model *m;
    const aca_dataset *d;
    const aca_train_opts *o;
    aca_train_stats *st;
    long spe, total, start; // steps per epoch, steps of the whole run, the first step of this run
    int pe, fp16;           // per-example gradients (DP-SGD or the reference); fp16 loss scaling
    double dp_q, dp_sigma;  // DP-SGD: sampling rate and noise multiplier
    aca_train_state ts;
    aca_buf fp;                   // the run's fingerprint (when it checkpoints or resumes)
    uint32_t *order;              // (n) the order of epoch `epoch`
    uint32_t *sample;             // (n) a Poisson batch (DP-SGD), or NULL
    int32_t *ids, *mask, *labels; // (B, max_len), (B, max_len), (B) host batch
    float *gsum;                  // (numel) the B=1 per-example path's host sum, or NULL
    size_t frozen[8], trained[10]; // parameter ranges left untrained, and those AdamW updates
    int n_frozen, n_trained;
    int epoch;                       // -1 before the first step
    double t0, loss_acc, epoch_loss; // start time; loss summed since the last report, over the epoch
    long n_acc, epoch_n, dp_clipped; // their counts; examples clipped (DP-SGD)
    int have_loss;
} train_loop;

// One optimizer step: its batch and what its gradient gave.
typedef struct {
    long s;                   // global 0-based step
    int ep;                   // 0-based epoch
    double lr;
    const uint32_t *idx;      // (nb) the batch's documents
    int nb;
    float loss, scale;        // mean loss; the fp16 loss scale (1 otherwise)
    double norm, div, tokens; // gradient norm (unscaled, divided by div), AdamW's divisor, real tokens
    int skipped;              // fp16 overflow: no update
} train_step;

// The fingerprint (when the run checkpoints or resumes), then the checkpoint to resume from, if asked
// for and there.
static int loop_resume(train_loop *L, aca_err *e) {
    const aca_train_opts *o = L->o;
    if (o->save_every > 0 || o->stop_after > 0 || o->resume) train_fingerprint(L->m, L->d, o, &L->fp);
    if (!o->resume) return 0;
    char *ck = path_join(o->ckpt_dir, TRAIN_CKPT_NAME);
    int have = file_exists(ck);
    free(ck);
    if (!have) {
        log_info("--resume: no checkpoint in %s yet, starting from step 0", o->ckpt_dir);
        return 0;
    }
    if (train_checkpoint_load(L->m, o->ckpt_dir, L->total, o->seed, L->fp.data, &L->ts, e)) return -1;
    L->st->resumed = 1;
    log_info("resuming from %s/%s at step %ld of %ld", o->ckpt_dir, TRAIN_CKPT_NAME, L->ts.step, L->total);
    return 0;
}

static void loop_alloc(train_loop *L) {
    const aca_dataset *d = L->d;
    const aca_train_opts *o = L->o;
    const int B = o->batch, ghost = o->dp && o->dp_grad == TRAIN_DP_GRAD_GHOST;
    L->order = xmalloc(d->n * sizeof *L->order);
    L->ids = xmalloc((size_t)B * d->max_len * sizeof *L->ids);
    L->mask = xmalloc((size_t)B * d->max_len * sizeof *L->mask);
    L->labels = xmalloc((size_t)B * sizeof *L->labels);
    L->sample = L->pe && o->dp && o->dp_sampling == TRAIN_DP_POISSON ? xmalloc(d->n * sizeof *L->sample) : NULL;
    L->gsum = L->pe && !ghost ? xmalloc(model_num_params(L->m) * sizeof *L->gsum) : NULL;
    L->n_frozen = train_frozen_ranges(L->m, o, L->frozen, 4);
    L->n_trained = train_trained_ranges(L->frozen, L->n_frozen, model_num_params(L->m), L->trained);
    L->epoch = -1;
}

static void loop_free(train_loop *L) {
    free(L->sample);
    free(L->gsum);
    free(L->order);
    free(L->ids);
    free(L->mask);
    free(L->labels);
    buf_free(&L->fp);
}

// Step t->s's batch: the next documents of its epoch's order, or a Poisson sample (DP-SGD).
static void step_batch(train_loop *L, train_step *t) {
    const aca_train_opts *o = L->o;
    const aca_dataset *d = L->d;
    t->ep = (int)(t->s / L->spe);
    if (t->ep != L->epoch) {
        train_epoch_order(d, o->seed, t->ep, o->batch, o->bucket, L->order);
        L->epoch = t->ep;
        L->epoch_loss = 0, L->epoch_n = 0;
    }
    size_t i0 = (size_t)(t->s % L->spe) * o->batch;
    t->nb = (int)(d->n - i0 < (size_t)o->batch ? d->n - i0 : (size_t)o->batch);
    t->idx = L->order + i0;
    if (L->sample) t->nb = (int)train_dp_poisson_batch(d->n, L->dp_q, o->seed, t->s, L->sample), t->idx = L->sample;
    t->lr = train_lr_at(o->lr, t->s, L->total);
}

// The batch's mean-loss gradient: one forward and one backward, scaled by the fp16 loss scale.
static int step_grad_batch(train_loop *L, train_step *t, aca_err *e) {
    int T = dataset_fill_batch(L->d, t->idx, t->nb, model_config(L->m)->pad_token_id, L->ids, L->mask, L->labels);
    aca_batch b = {L->ids, L->mask, NULL, L->labels, t->nb, T};
    if (model_forward(L->m, &b, 1, train_step_seed(L->o->seed, t->s), NULL, &t->loss, e))
        return train_step_error(e, t->s, L->start, L->total, t->ep, t->lr);
    if (!isfinite(t->loss))
        return aca_errf(e, ACA_ERR_NUMERIC, "loss is %s at step %ld of %ld (epoch %d, lr %.3g): training diverged; try a smaller --lr",
                        isnan(t->loss) ? "NaN" : "Inf", t->s + 1, L->total, t->ep + 1, t->lr);
    for (size_t i = 0; i < (size_t)t->nb * T; i++) t->tokens += L->mask[i];
    t->scale = L->fp16 ? L->ts.ls.scale : 1.0f;
    model_zero_grad(L->m);
    model_backward(L->m, t->scale);
    t->norm = model_grad_norm(L->m) / t->scale;
    return 0;
}

// The per-example path (train_dp.c): the clipped, noised sum of the examples' gradients.
static int step_grad_examples(train_loop *L, train_step *t, aca_err *e) {
    train_pe_step r;
    if (train_pe_grad(L->m, L->d, L->o, t->idx, t->nb, t->s, L->dp_sigma, L->frozen, L->n_frozen, L->gsum, &r, e))
        return train_step_error(e, t->s, L->start, L->total, t->ep, t->lr);
    t->loss = r.loss, t->tokens = r.tokens, t->div = r.div, t->norm = r.norm;
    L->dp_clipped += r.clipped;
    L->st->dp_examples += t->nb;
    return 0;
}

// A non-finite gradient skips the step (fp16) or ends the run; otherwise the AdamW step, with the
// global clip (none under DP-SGD), over the trained ranges.
static int step_update(train_loop *L, train_step *t, aca_err *e) {
    const aca_train_opts *o = L->o;
    if (L->fp16) {
        t->skipped = loss_scaler_update(&L->ts.ls, !isfinite(t->norm));
    } else if (!isfinite(t->norm)) {
        return aca_errf(e, ACA_ERR_NUMERIC, "gradient norm is %s at step %ld of %ld (epoch %d, loss %g, lr %.3g): training diverged; try a smaller --lr",
                        isnan(t->norm) ? "NaN" : "Inf", t->s + 1, L->total, t->ep + 1, (double)t->loss, t->lr);
    }
    if (t->skipped) {
        L->st->skipped_steps++;
        return 0;
    }
    double coef = o->dp ? 1.0 : train_clip_coef(t->norm, o->max_grad_norm); // DP: no global clipping
    aca_adamw h = {(float)t->lr, (float)o->beta1, (float)o->beta2, (float)o->eps, (float)o->weight_decay,
                   (float)(L->pe ? coef / t->div : coef / t->scale), (int)(L->ts.adam_t + 1)};
    if (L->n_frozen) model_adamw_step_ranges(L->m, &h, L->trained, L->n_trained);
    else model_adamw_step(L->m, &h);
    L->ts.adam_t++;
    return 0;
}

// The step's loss and tokens into the run's tallies; the progress callback when due.
static void step_record(train_loop *L, const train_step *t) {
    const aca_train_opts *o = L->o;
    aca_train_stats *st = L->st;
    const long step = L->ts.step = t->s + 1;
    st->tokens += t->tokens;
    if (t->nb > 0) { // an empty Poisson batch has no loss
        if (!L->have_loss) st->first_loss = t->loss, L->have_loss = 1;
        L->loss_acc += t->loss, L->n_acc++;
        L->epoch_loss += t->loss, L->epoch_n++;
        st->last_epoch_loss = L->epoch_loss / (double)L->epoch_n;
    }
    int last = step == L->total || (o->stop_after > 0 && step == o->stop_after);
    if (!o->on_step || !(last || (o->log_every > 0 && step % o->log_every == 0) || o->log_every <= 1)) return;
    double el = time_now() - L->t0;
    aca_train_progress p = {step, L->total, t->ep + 1, o->epochs, t->loss, L->n_acc ? L->loss_acc / (double)L->n_acc : NAN,
                            t->lr, t->norm, el > 0 ? st->tokens / el : 0, el,
                            el / (double)(step - L->start) * (double)(L->total - step), t->skipped, L->ts.ls.scale};
    o->on_step(&p, o->on_step_ctx);
    L->loss_acc = 0, L->n_acc = 0;
}

// A checkpoint when due; 1 when stop_after ends the run here, -1 on error.
static int step_checkpoint(train_loop *L, aca_err *e) {
    const aca_train_opts *o = L->o;
    const long step = L->ts.step;
    const int stop = o->stop_after > 0 && step == o->stop_after;
    if (((o->save_every > 0 && step % o->save_every == 0 && step < L->total) || stop) &&
        train_checkpoint_save(L->m, o->ckpt_dir, &L->ts, L->total, o->seed, L->fp.data, e))
        return -1;
    if (stop && step < L->total) return L->st->stopped_early = 1, 1;
    return 0;
}

// Optimizer step s: 0 to go on, 1 when the run stops early here, -1 on error.
static int loop_step(train_loop *L, long s, aca_err *e) {
    train_step t = {.s = s, .scale = 1.0f, .div = 1.0};
    step_batch(L, &t);
    int rc = L->pe ? step_grad_examples(L, &t, e) : step_grad_batch(L, &t, e);
    if (rc || step_update(L, &t, e)) return -1;
    step_record(L, &t);
    return step_checkpoint(L, e);
}

// The run's statistics and, under DP-SGD, the privacy spent; rc is the loop's outcome (an error of
// the accountant is reported only when the loop succeeded).
static int loop_finish(train_loop *L, int rc, aca_err *e) {
    aca_train_stats *st = L->st;
    model_set_top_only(L->m, 0);
    st->steps = L->ts.step;
    st->steps_this_run = L->ts.step - L->start;
    st->seconds = time_now() - L->t0;
    st->tokens_per_s = st->seconds > 0 ? st->tokens / st->seconds : 0;
    st->peak_rss = mem_peak_rss();
    aca_err ignored = {0};
    if (L->o->dp && train_dp_account(L->o, L->dp_q, L->dp_sigma, L->dp_clipped, st, rc ? &ignored : e)) return -1;
    return rc;
}

int train_run(aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_train_stats *st, aca_err *e) {
    memset(st, 0, sizeof *st);
    if (check_opts(o, e) || check_data(m, d, e) || check_path(m, o, e)) return -1;
    train_loop L = {.m = m, .d = d, .o = o, .st = st, .pe = o->dp || o->per_example_grads,
                    .fp16 = model_backend(m)->dtype == ACA_DT_F16};
    L.spe = (long)((d->n + (size_t)o->batch - 1) / (size_t)o->batch);
    L.total = st->total_steps = L.spe * o->epochs;
    if (o->dp) {
        if (train_dp_setup(o, d->n, L.total, &L.dp_q, &L.dp_sigma, e)) return -1;
        st->dp_q = L.dp_q, st->dp_sigma = L.dp_sigma;
    }
    loss_scaler_init(&L.ts.ls, o->loss_scale_init, o->loss_scale_window);
    int rc = model_prepare_adam(m, e) || loop_resume(&L, e) ? -1 : 0; // the AdamW state before any step or restore
    if (!rc) {
        loop_alloc(&L);
        model_set_top_only(m, o->freeze_base);
        L.start = L.ts.step;
        L.t0 = time_now();
        for (long s = L.start; s < L.total && !rc; s++) rc = loop_step(&L, s, e);
        rc = loop_finish(&L, rc < 0 ? -1 : 0, e);
    }
    loop_free(&L);
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
