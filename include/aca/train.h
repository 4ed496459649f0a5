// The trainer: fine-tunes a model (model.h) on a tokenized dataset (data.h) with the Hugging Face
// Trainer defaults — AdamW (lr 5e-5, betas 0.9/0.999, eps 1e-8, weight decay 0 on weights only),
// linear decay to 0 without warmup, global grad-norm clip 1.0, batch 8, 5 epochs, dropout on — plus
// shuffling from the seed, optional length buckets, checkpoints that resume bit-identically on the
// CPU, NaN/Inf detection, fp16 dynamic loss scaling, and DP-SGD.  The loop is src/train.c, DP-SGD
// src/train_dp.c, fingerprints and checkpoints src/train_ckpt.c.
//
// Determinism: the order of epoch e is a permutation drawn from rng_seed(seed, stream e); the
// dropout seed of step s is a hash of (seed, s).  Neither depends on anything but (seed, step),
// so a checkpoint needs only the step, the parameters, the AdamW moments and the loss scaler.
#ifndef ACA_TRAIN_H
#define ACA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "aca/data.h"
#include "aca/model.h"
#include "aca/tokenizer.h"
#include "aca/util.h"

typedef enum { TRAIN_PROGRESS_AUTO = 0, TRAIN_PROGRESS_BAR, TRAIN_PROGRESS_LINES, TRAIN_PROGRESS_OFF } aca_progress_mode;

// Snapshot handed to the progress callback after every optimizer step.
typedef struct {
    long step, total_steps; // step counts from 1
    int epoch, epochs;      // epoch from 1
    double loss;            // this step's mean loss
    double loss_avg;        // mean loss since the last report (or start)
    double lr;              // lr used for this step
    double grad_norm;       // before clipping
    double tokens_per_s;    // real (unpadded) tokens per second since start (or resume)
    double elapsed_s, eta_s;
    int skipped;            // fp16: step skipped because of an overflow
    float loss_scale;
} aca_train_progress;

typedef void (*aca_train_progress_fn)(const aca_train_progress *p, void *ctx);

// The training options.  Their defaults (in the comments) come from the run options table
// (src/run_opts.c): set them with run_setup_default (run.h) and take its .train.
typedef struct {
    int epochs;          // 5
    int batch;           // 8
    double lr;           // 5e-5 (peak; linear decay to 0 over all steps, no warmup)
    double beta1, beta2; // 0.9, 0.999
    double eps;          // 1e-8
    double weight_decay; // 0 (when > 0, only the model's n_decay tensors: weights, not biases/LayerNorm)
    double max_grad_norm; // 1.0 (<= 0: no clipping)
    uint64_t seed;       // 42: shuffling and dropout
    int bucket;          // length-bucketed batches: within chunks of 50 batches sort by length
    long save_every;     // checkpoint every N steps into ckpt_dir (0: never)
    const char *ckpt_dir; // where checkpoints go (required when save_every > 0 or resume)
    int resume;          // continue from ckpt_dir/trainer.ckpt when present
    long stop_after;     // stop (with a checkpoint) after this global step, 0: never; the schedule still spans all steps
    // fp16 dynamic loss scaling (used when the backend computes in fp16):
    float loss_scale_init;   // 65536
    int loss_scale_window;   // grow x2 after this many good steps (2000)
    // DP-SGD (dp != 0; fp32 or bf16): each step's examples are drawn by dp_sampling, each example's
    // gradient is clipped to L2 norm dp_clip, the clipped gradients summed, N(0, (dp_sigma dp_clip)^2)
    // noise added per coordinate (Philox from (seed, step)), the sum divided by the expected batch
    // size, then the AdamW step.  How the per-example norms and the clipped sum are computed is
    // dp_grad: TRAIN_DP_GRAD_GHOST (default; any backend) runs the examples in batches of at most the
    // model's max_B (train_model_batch): a forward, the per-example norms by ghost clipping
    // (model_ghost_norms), and a second backward with each example's loss weighted by its clip
    // factor; TRAIN_DP_GRAD_PER_EXAMPLE (CPU) gives every example its own B=1 forward and backward
    // (the reference: train_dp_grad).
    // max_grad_norm is not applied in DP mode.  Exactly one of dp_sigma / dp_epsilon is set (the
    // other NaN); with dp_epsilon, sigma is the smallest reaching it at dp_delta after all steps (dp.h).
    int dp;
    double dp_clip;    // C > 0 (INFINITY: no clipping) (default 1)
    double dp_sigma;   // noise multiplier >= 0, or NaN: from dp_epsilon
    double dp_epsilon; // target epsilon > 0, or NaN: dp_sigma given
    double dp_delta;   // in (0, 1) (default 1e-5)
    int dp_sampling;   // TRAIN_DP_POISSON (default) or TRAIN_DP_FIXED (only with dp_sigma = 0)
    int dp_freeze_embeddings; // the embedding tables (word, position, token type) are not trained:
                              // their gradient is left out of every norm, clip and noise, so the
                              // noise goes only where the model learns (usual in DP fine-tuning)
    int dp_grad;          // TRAIN_DP_GRAD_GHOST (default) | TRAIN_DP_GRAD_PER_EXAMPLE
    int dp_micro_batch;   // ghost: examples per forward pass at most (default 32; memory, not math)
    // Only the parameters outside the pretrained base model train (BERT: the classifier, on the
    // pooler's output; DistilBERT: pre_classifier and classifier): embeddings, encoder layers and
    // BERT's pooler are frozen (model_set_top_only: no backward below them; AdamW on them alone, so no
    // weight decay elsewhere).  With or without DP; under DP-SGD the norms, clipping and noise cover
    // them alone: DP training of a linear model on fixed pretrained features, the remedy of Tramer &
    // Boneh 2021 for small training sets.
    int freeze_base;
    // Non-DP reference path: each batch's gradient is the sum of its examples' B=1 gradients in
    // batch order (the same code as DP-SGD), times 1/batch and the global clip coefficient.  DP-SGD
    // with dp_clip = INFINITY, dp_sigma = 0 and fixed sampling equals this bit for bit on the CPU.
    int per_example_grads;
    // What else defines the run besides these options, the data, the model config and its initial
    // weights (all in train_fingerprint): "name\tvalue\n" lines, e.g. the tokenizer.  May be NULL.
    const char *fingerprint_extra;
    // reporting
    aca_train_progress_fn on_step; // may be NULL
    void *on_step_ctx;
    long log_every;       // call on_step every N steps (and on the last); 1 when the bar is shown
} aca_train_opts;

enum { TRAIN_DP_POISSON = 0, TRAIN_DP_FIXED = 1 };
enum { TRAIN_DP_GRAD_GHOST = 0, TRAIN_DP_GRAD_PER_EXAMPLE = 1 };

// "poisson" | "fixed" -> TRAIN_DP_*; -1 if neither.
int train_dp_sampling_parse(const char *s);
const char *train_dp_sampling_name(int sampling);
// "ghost" | "per-example" -> TRAIN_DP_GRAD_*; -1 if neither.
int train_dp_grad_parse(const char *s);
const char *train_dp_grad_name(int dp_grad);
// The batch size the model must be created for (model_create's max_B) to run o: min(batch,
// dp_micro_batch) for DP-SGD by ghost clipping, 1 for the per-example path, else batch.
int train_model_batch(const aca_train_opts *o);
// Validates the DP options (when o->dp); messages name the command-line flag (--dp-clip,
// --dp-sigma, --dp-epsilon, --dp-delta, --dp-sampling, --dp-grad, --dp-micro-batch, --bucket).  Refused because the accountant
// (Poisson-subsampled Gaussian, dp.h) would not bound them: fixed sampling with noise (kept for
// sigma = 0, the bit-for-bit reference, which claims no privacy) and length buckets.  0 or -1.
int train_dp_check_opts(const aca_train_opts *o, aca_err *e);
// Why fixed sampling / length buckets are refused under DP-SGD (one clause each), shared by
// train_dp_check_opts and the run options' check of the command line and GRID.json
// (run_setup_check_dp, run.h).
const char *train_dp_fixed_refusal(void);
const char *train_dp_bucket_refusal(void);

typedef struct {
    long steps;           // optimizer steps done in total (including before a resume)
    long steps_this_run;
    long total_steps;
    long skipped_steps;   // fp16 overflow skips
    double first_loss;      // loss of the first step of this run
    double last_epoch_loss; // mean loss over the steps of the last epoch run
    double seconds;       // training wall time of this run
    double tokens;        // real tokens processed this run
    double tokens_per_s;
    size_t peak_rss;      // host peak RSS (bytes) at the end
    int resumed;          // 1 when a checkpoint was loaded
    int stopped_early;    // 1 when stop_after ended the run
    // DP-SGD (when opts.dp): what was used and the privacy spent after `steps` steps.
    double dp_q;          // sampling rate batch/n
    double dp_sigma;      // noise multiplier used (given or chosen for dp_epsilon)
    double dp_epsilon;    // epsilon spent at dp_delta (RDP accountant, Balle et al. 2020 conversion; +inf if sigma = 0)
    double dp_order;      // the RDP order attaining it
    double dp_clipped_frac; // fraction of per-example gradients whose norm exceeded the clip (this run)
    long dp_examples;     // examples processed (this run)
} aca_train_stats;

// Steps of a whole run: epochs * ceil(n / batch).
long train_total_steps(size_t n, int batch, int epochs);
// DP-SGD's privacy target checked before any work: with --dp-epsilon, that a noise multiplier
// reaches it over n training documents (an error naming the option otherwise).  0 without DP.
int train_dp_check(const aca_train_opts *o, size_t n, aca_err *e);
// Learning rate used at 0-based step s of total: lr0 * (1 - s/total) (HF linear schedule, no warmup).
double train_lr_at(double lr0, long s, long total);
// Clip coefficient for a global grad norm: min(1, max_norm / (norm + 1e-6)); 1 when max_norm <= 0.
double train_clip_coef(double norm, double max_norm);
// The dropout seed of step s (global, 0-based).
uint64_t train_step_seed(uint64_t seed, long s);
// The order of epoch e (0-based): idx (n) filled with a permutation; with bucket != 0 the
// permutation is cut into chunks of 50*batch, each sorted by length (stable), then the batches are
// shuffled, so batches hold documents of similar length.
void train_epoch_order(const aca_dataset *d, uint64_t seed, int epoch, int batch, int bucket, uint32_t *idx);

// ---- DP-SGD building blocks (exposed for tests) ----
// The dropout seed of the k-th example of step s in the per-example path.
uint64_t train_example_seed(uint64_t seed, long s, int k);
// Poisson sampling of step s: each of the n examples independently with probability q (a Philox
// draw keyed by seed, counter (i, s)); idx (n) receives the chosen indices in increasing order.
size_t train_dp_poisson_batch(size_t n, double q, uint64_t seed, long s, uint32_t *idx);
// Adds std * N(0,1) to g[0..n) (Box-Muller on Philox draws keyed by seed, counter (j/2, s):
// aca/dp_gauss.h; the backends' dp_noise op draws the same numbers).
void train_dp_add_noise(float *g, size_t n, double std, uint64_t seed, long s);

typedef struct {
    double clip;   // per-example clip norm C: coefficient train_clip_coef(|g_k|, C) (INFINITY: none)
    double sigma;  // noise multiplier: noise std sigma*C per coordinate (0: none)
    uint64_t seed; // run seed (dropout, noise)
    long step;     // global 0-based step
    const size_t *frozen; // (2 * n_frozen) [begin, end) element ranges left out (zero in out), or NULL;
                          // increasing and disjoint (train_dp_frozen_ranges)
    int n_frozen;
    int chunk;     // ghost path: examples per forward pass at most (0: the model's max_B)
} aca_dp_step;

typedef struct {
    double loss_sum; // summed per-example loss
    double tokens;   // real tokens
    int clipped;     // examples whose norm exceeded clip
} aca_dp_step_info;

// One step's summed gradient into out (numel floats):
//   out = sum_k c_k g_k + sigma C z,  z ~ N(0, I) (train_dp_add_noise with seed and step)
// g_k = gradient of example idx[k]'s loss alone (forward B=1 in training mode with dropout seed
// train_example_seed(seed, step, k), backward), c_k = train_clip_coef(|g_k|, C); the sum is taken in
// float in k order.  norms (nb) receives |g_k| when non-NULL.  nb = 0 is allowed (noise only).
// train_run then applies out / divisor through AdamW's grad_scale, divisor = train_dp_divisor.
// Frozen ranges are zeroed in every g_k before its norm and in out after the noise.
// The element ranges of the embedding tables (word, position, token type) that
// dp_freeze_embeddings leaves out: [begin, end) pairs into ranges (2 * max); returns their count.
int train_dp_frozen_ranges(const aca_model *m, size_t *ranges, int max);
// Every range o leaves untrained, increasing and disjoint (adjacent parameters merged): the
// embedding tables under DP-SGD with dp_freeze_embeddings, every parameter of the base model with
// freeze_base.  Returns their count (at most max; 4 always suffice).
int train_frozen_ranges(const aca_model *m, const aca_train_opts *o, size_t *ranges, int max);
int train_dp_grad(aca_model *m, const aca_dataset *d, const uint32_t *idx, int nb, const aca_dp_step *p, float *out,
                  double *norms, aca_dp_step_info *info, aca_err *e);
// The same step by ghost clipping (the default path): the examples run in chunks of at most
// p->chunk (and model_max_batch(m)), each chunk a training-mode forward with dropout seed
// train_example_seed(seed, step, k0) (k0 its first example), model_ghost_norms (the frozen tables
// left out) giving each |g_k|, then model_backward_weighted with c_k = train_clip_coef(|g_k|, C).
// Noise (ops dp_noise, the numbers of train_dp_add_noise) is added outside the frozen ranges, which
// are zeroed.  The result is left in the model's gradient buffer (model_get_grads); norms and info
// as train_dp_grad.  form: ACA_GHOST_AUTO, or one form forced (tests).  The per-example gradients
// are those of the batched pass (its padding and dropout masks), so they equal train_dp_grad's only
// up to rounding, and only with dropout off (docs/dp.md).
int train_dp_grad_ghost(aca_model *m, const aca_dataset *d, const uint32_t *idx, int nb, const aca_dp_step *p,
                        aca_ghost_form form, double *norms, aca_dp_step_info *info, aca_err *e);
// What a step's summed gradient is divided by: the expected batch size q*n = min(batch, n) with
// Poisson sampling; the batch's actual size nb with fixed sampling (= batch except a last partial
// batch, as the non-DP trainer's mean) and in the per-example path.
double train_dp_divisor(const aca_train_opts *o, size_t n, int nb);

// fp16 dynamic loss scaling (torch GradScaler semantics): on overflow (non-finite gradients) the
// step is skipped and the scale halves; after `window` good steps in a row it doubles.
typedef struct {
    float scale;
    int window;
    int good; // good steps since the last change
} aca_loss_scaler;
void loss_scaler_init(aca_loss_scaler *s, float init, int window);
// Records a step's outcome; returns 1 when the step must be skipped (overflow).
int loss_scaler_update(aca_loss_scaler *s, int overflow);

// Trains m on d.  Errors: NaN/Inf loss (names the step and epoch), bad options (names the field),
// checkpoint I/O or mismatch (names the file).  On success the parameters of m are the trained
// ones; writing the HF directory is train_save_hf's job.
int train_run(aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_train_stats *st, aca_err *e);

// Where a run stands: what a checkpoint holds besides the parameters and AdamW moments.
typedef struct {
    long step;   // optimizer steps done (global, including skipped fp16 steps)
    long adam_t; // AdamW steps applied (step minus skipped)
    aca_loss_scaler ls;
} aca_train_state;

// The fingerprint of a run: one "name\tvalue\n" line per thing that changes its trajectory, named
// as the user sets it — every training option (--epochs, --batch, --lr, --weight-decay,
// --max-grad-norm, --seed, --bucket, --max-len, --device, --precision, AdamW's betas and eps, the
// fp16 loss scaler, per-example gradients, --freeze-base (when on), the DP-SGD options with
// --dp-grad and, for ghost clipping, --dp-micro-batch), the training data (documents,
// tokens and a hash of every id and label), every field of the model's config.json (class names
// included), a hash of the model's initial weights (the --model checkpoint, or --config with
// --init-seed; m must not have been trained yet), then o->fingerprint_extra.  Appended to b.
// Not in it: --save-every, --resume, --stop-after and --log-every, which leave the trained weights as
// they are (the run options table marks them RUN_OPT_NO_FINGERPRINT; tests/test_run_opts.c checks
// that every other training option of the table changes the fingerprint).
void train_fingerprint(const aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_buf *b);

// Checkpoint file ckpt_dir/trainer.ckpt (binary, written atomically): magic "ACACKPT2", numel,
// state, total steps, seed, the fingerprint's length, the fingerprint text, then the fp32
// parameters, AdamW m and v, and an FNV-1a checksum of all before it.
int train_checkpoint_save(const aca_model *m, const char *ckpt_dir, const aca_train_state *st, long total_steps,
                          uint64_t seed, const char *fingerprint, aca_err *e);
// Loads it into m and *st.  The file's size must be what its header describes and its checksum
// right (else a format error); its fingerprint must equal this run's (else an error naming the
// first field that differs, its value in the checkpoint and now, and the names of the others);
// a checkpoint of the older format without a fingerprint is refused.
int train_checkpoint_load(aca_model *m, const char *ckpt_dir, long total_steps, uint64_t seed, const char *fingerprint,
                          aca_train_state *st, aca_err *e);

// Writes the trained model as a Hugging Face directory, atomically (a temporary swapped in,
// outdir.h; an existing out_dir is replaced only when empty or an aca "model" output):
// config.json (id2label from the model config's labels), model.safetensors, and, when tok is
// given, what Hugging Face needs to load the same tokenizer (tokenizer_save, model_max_length =
// max_position_embeddings).
int train_save_hf(const aca_model *m, const char *out_dir, const aca_tokenizer *tok, aca_err *e);
// The same files into an existing directory (an aca_outdir's tmp: the CLI reserves the output
// before training).
int train_write_hf(const aca_model *m, const char *dir, const aca_tokenizer *tok, aca_err *e);

#endif
