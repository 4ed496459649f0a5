// aca train: fine-tune a model on a mutated data directory; also the progress display shared by
// run and demo.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/datadir.h"
#include "aca/run.h"
#include "aca/train.h"
#include "cli.h"

static void fmt_dur(char *out, size_t n, double s) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_progress_init(cli_progress *p, const char *label) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->tty = isatty(fileno(stderr));
}

void cli_progress_step(const aca_train_progress *s, void *ctx) {
    cli_progress *p = ctx;
    char el[32], eta[32];
    fmt_dur(el, sizeof el, s->elapsed_s);
    fmt_dur(eta, sizeof eta, s->eta_s);
    if (p->tty) {
        const int W = 24;
        int fill = (int)((double)W * (double)s->step / (double)s->total_steps);
        char bar[32];
        for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
        bar[W] = 0;
        fprintf(stderr, "\r%s [%s] %ld/%ld ep %d/%d loss %.4f %.0f tok/s %s ETA %s%s   ", p->label ? p->label : "train",
                bar, s->step, s->total_steps, s->epoch, s->epochs, s->loss_avg, s->tokens_per_s, el, eta,
                s->skipped ? " (skip)" : "");
        if (s->step == s->total_steps) fputc('\n', stderr);
        p->dirty = s->step != s->total_steps;
    } else {
        fprintf(stderr, "%s step %ld/%ld epoch %d/%d loss %.4f lr %.3g grad-norm %.3f %.0f tok/s elapsed %s ETA %s%s\n",
                p->label ? p->label : "train", s->step, s->total_steps, s->epoch, s->epochs, s->loss_avg, s->lr,
                s->grad_norm, s->tokens_per_s, el, eta, s->skipped ? " (fp16 overflow: step skipped)" : "");
    }
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (p->dirty) fputc('\n', stderr);
    p->dirty = 0;
}

const char *cli_find_resource(const char *rel, char *buf, size_t n) {
    if (file_exists(rel)) return rel;
    // Next to the binary: <repo>/build/aca -> <repo>/<rel> (also build/san/aca).
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        for (int up = 0; up < 3; up++) {
            char *sl = strrchr(exe, '/');
            if (!sl) break;
            *sl = 0;
            snprintf(buf, n, "%s/%s", exe, rel);
            if (file_exists(buf)) return buf;
        }
    }
    return NULL;
}

void cli_print_train_end(const aca_train_stats *st, const char *device) {
    fprintf(stderr,
            "aca: trained %ld steps (%ld this run%s) in %.1f s, %.0f tokens/s; last-epoch loss %.4f; peak host RSS %.1f MiB",
            st->steps, st->steps_this_run, st->resumed ? ", resumed" : "", st->seconds, st->tokens_per_s,
            st->last_epoch_loss, (double)st->peak_rss / (1024.0 * 1024.0));
    if (st->skipped_steps) fprintf(stderr, "; %ld fp16 overflow steps skipped", st->skipped_steps);
    if (st->dp_q > 0)
        fprintf(stderr, "; DP-SGD: epsilon %.4g spent (q %.4g, sigma %.4g, %ld steps; %.1f%% of per-example gradients clipped)",
                st->dp_epsilon, st->dp_q, st->dp_sigma, st->steps, 100.0 * st->dp_clipped_frac);
    if (device && strcmp(device, "cpu")) fprintf(stderr, " (device peak memory: not reported by this backend)");
    fputc('\n', stderr);
}

static const aca_opt *opt_find(const aca_opt *opts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name)) return &opts[i];
    return NULL;
}

static int opt_seen(const aca_opt *opts, int n, const char *name) {
    const aca_opt *o = opt_find(opts, n, name);
    return o && o->seen;
}

// --dp-grad and --dp-micro-batch, where the command has them (train does).
static int cli_dp_grad_opts(aca_train_opts *to, const aca_opt *opts, int n_opts) {
    const aca_opt *g = opt_find(opts, n_opts, "--dp-grad"), *mb = opt_find(opts, n_opts, "--dp-micro-batch");
    if (g && g->seen) {
        const char *v = *(const char **)g->dst;
        if ((to->dp_grad = train_dp_grad_parse(v)) < 0)
            return fprintf(stderr, "aca: --dp-grad %s: must be ghost or per-example\n", v), 2;
    }
    if (mb && mb->seen) {
        long v = *(const long *)mb->dst;
        if (v < 1 || v > 65536) return fprintf(stderr, "aca: --dp-micro-batch %ld: must be in [1, 65536]\n", v), 2;
        to->dp_micro_batch = (int)v;
    }
    return 0;
}

int cli_dp_opts(aca_train_opts *to, const aca_opt *opts, int n_opts, double clip, double sigma, double eps,
                double delta, const char *sampling) {
    int has_sigma = opt_seen(opts, n_opts, "--dp-sigma"), has_eps = opt_seen(opts, n_opts, "--dp-epsilon");
    if (!has_sigma && !has_eps) {
        static const char *const others[] = {"--dp-clip", "--dp-delta", "--dp-sampling", "--dp-grad", "--dp-micro-batch"};
        for (size_t i = 0; i < ACA_ARRAY_LEN(others); i++)
            if (opt_seen(opts, n_opts, others[i]))
                return fprintf(stderr, "aca: %s needs --dp-sigma X or --dp-epsilon E (which turn DP-SGD on)\n", others[i]), 2;
        return 0;
    }
    to->dp = 1;
    to->dp_clip = clip;
    to->dp_sigma = has_sigma ? sigma : NAN;
    to->dp_epsilon = has_eps ? eps : NAN;
    to->dp_delta = delta;
    to->dp_sampling = train_dp_sampling_parse(sampling);
    if (to->dp_sampling < 0) return fprintf(stderr, "aca: --dp-sampling %s: must be poisson or fixed\n", sampling), 2;
    if (cli_dp_grad_opts(to, opts, n_opts)) return 2;
    aca_err e = {0};
    if (train_dp_check_opts(to, &e)) return fprintf(stderr, "aca: %s\n", e.msg), 2;
    return 0;
}

// The outputs of train, checked and reserved before any work: OUT, a model directory built in a
// temporary that exists from now on (so an unwritable OUT fails now, not after training), and
// OUT.ckpt, made and marked when checkpoints will be written (aca touches only its own files in an
// OUT.ckpt it did not make).  0 ok, else the exit status (printed).
static int outputs_open(const char *out, const char *ckpt, int replace, int writes_ckpt, const char *const *inputs,
                        int n, aca_outdir *od) {
    aca_out o = {.path = out, .option = "--out", .kind = "model", .mode = OUT_DIR_REPLACE, .replace = replace};
    aca_out c = {.path = ckpt, .option = "--out's checkpoint directory", .kind = "checkpoint", .mode = OUT_DIR_ADD};
    int rc = cli_check_out(&o, inputs, n);
    if (!rc) rc = cli_check_out(&c, inputs, n);
    if (rc) return rc;
    aca_err e = {0};
    if (outdir_begin(od, out, "model", replace, &e)) return cli_fail(&e);
    if (writes_ckpt && !file_exists(ckpt) && (dir_make(ckpt, &e) || outdir_mark(ckpt, "checkpoint", &e))) {
        outdir_abort(od);
        return cli_fail(&e);
    }
    return 0;
}

// After a finished training without --save-every: OUT.ckpt goes when aca made it; in one it did not
// make, only its checkpoint file.
static void ckpt_remove(const char *ckpt) {
    if (outdir_is(ckpt, "checkpoint")) {
        tmp_rm_tree(ckpt);
        return;
    }
    char *p = path_join(ckpt, "trainer.ckpt");
    unlink(p);
    rmdir(ckpt); // only when empty
    free(p);
}

static const char USAGE[] =
    "usage: aca train (--model DIR | --config FILE) --data DIR --out DIR [options]\n"
    "\n"
    "Fine-tunes a classifier on a directory written by `aca mutate` (train.jsonl, labels mapped with\n"
    "manifest.json's class list) and writes a Hugging Face directory to --out (config.json with the\n"
    "class names, model.safetensors, the vocabulary).  Defaults are the Hugging Face Trainer's: AdamW\n"
    "lr 5e-5, betas 0.9/0.999, eps 1e-8, no weight decay, linear decay to 0, clip 1.0, batch 8, 5 epochs,\n"
    "max length 512.  Checkpoints go to OUT.ckpt/ (--save-every); --resume continues from there, only\n"
    "the run that wrote it (options, data, model config, initial weights and tokenizer are checked).\n"
    "A --model checkpoint's head is matched to the data's classes by name (--new-head: a fresh one).\n"
    "DP-SGD: --dp-sigma X or --dp-epsilon E turns it on: per-example gradients (norms by ghost\n"
    "clipping, or --dp-grad per-example) clipped to --dp-clip, Gaussian noise sigma*C, Poisson batches,\n"
    "no global clip; the epsilon spent at --dp-delta is reported at the end (RDP of the Poisson-subsampled\n"
    "Gaussian, add/remove-one adjacency; docs/dp.md).  Refused under DP-SGD, as the accountant would\n"
    "not bound them: --dp-sampling fixed (allowed only with --dp-sigma 0, no privacy) and --bucket.";

int cmd_train(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *data = NULL, *out = NULL, *vocab = NULL;
    const char *device = "cpu", *precision = "fp32", *attention = "auto";
    long epochs = 5, batch = 8, max_len = 512, save_every = 0, log_every = 50, stop_after = 0;
    double lr = 5e-5, wd = 0.0, clip = 1.0, dp_clip = 1.0, dp_sigma = NAN, dp_eps = NAN, dp_delta = 1e-5;
    const char *dp_sampling = "poisson", *dp_grad = "ghost";
    long dp_micro = 32;
    int dp_freeze = 0;
    uint64_t seed = 42, init_seed = 0;
    int resume = 0, bucket = 0, quiet = 0, new_head = 0, replace = 0, freeze_base = 0;
    aca_opt opts[] = {
        {"--model", OPT_STR, &model, "DIR", "Hugging Face checkpoint directory to fine-tune", 0, 0},
        {"--config", OPT_STR, &config, "FILE", "config.json for a randomly initialised model (needs --vocab)", 0, 0},
        {"--data", OPT_STR, &data, "DIR", "directory written by `aca mutate`", 1, 0},
        {"--out", OPT_STR, &out, "DIR", "output Hugging Face directory (built aside and swapped in whole)", 1, 0},
        {"--vocab", OPT_STR, &vocab, "FILE|DIR", "vocab.txt (uncased), .model, or a tokenizer directory (default: --model's)", 0, 0},
        {"--device", OPT_STR, &device, "cpu|cuda", "backend (default cpu)", 0, 0},
        {"--precision", OPT_STR, &precision, "fp32|bf16|fp16", "compute precision (default fp32)", 0, 0},
        {"--epochs", OPT_INT, &epochs, "N", "epochs (default 5)", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "batch size (default 8)", 0, 0},
        {"--lr", OPT_DOUBLE, &lr, "X", "peak learning rate (default 5e-5)", 0, 0},
        {"--weight-decay", OPT_DOUBLE, &wd, "X", "AdamW weight decay on weights (default 0)", 0, 0},
        {"--max-grad-norm", OPT_DOUBLE, &clip, "X", "gradient clipping norm, 0 = off (default 1)", 0, 0},
        {"--max-len", OPT_INT, &max_len, "N", "max tokens per document incl. [CLS]/[SEP] (default 512)", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "shuffling and dropout seed (default 42)", 0, 0},
        {"--init-seed", OPT_U64, &init_seed, "S", "seed of random init / a fresh head (default: --seed)", 0, 0},
        {"--new-head", OPT_FLAG, &new_head, NULL, "replace --model's classifier by a fresh one of the data's classes", 0, 0},
        {"--bucket", OPT_FLAG, &bucket, NULL, "length-bucketed batches (less padding)", 0, 0},
        {"--save-every", OPT_INT, &save_every, "N", "checkpoint every N steps to OUT.ckpt/ (default never)", 0, 0},
        {"--resume", OPT_FLAG, &resume, NULL, "continue from the checkpoint in OUT.ckpt/", 0, 0},
        {"--stop-after", OPT_INT, &stop_after, "N", "stop after global step N with a checkpoint (resume later)", 0, 0},
        {"--log-every", OPT_INT, &log_every, "N", "log line every N steps when not on a terminal (default 50)", 0, 0},
        {"--dp-clip", OPT_DOUBLE, &dp_clip, "C", "DP-SGD: per-example L2 clipping norm (default 1)", 0, 0},
        {"--dp-sigma", OPT_DOUBLE, &dp_sigma, "X", "DP-SGD: noise multiplier (noise std / C); turns DP-SGD on", 0, 0},
        {"--dp-epsilon", OPT_DOUBLE, &dp_eps, "E", "DP-SGD: target epsilon, sigma chosen by the accountant; turns DP-SGD on", 0, 0},
        {"--dp-delta", OPT_DOUBLE, &dp_delta, "D", "DP-SGD: delta of the reported epsilon (default 1e-5)", 0, 0},
        {"--dp-sampling", OPT_STR, &dp_sampling, "poisson|fixed", "DP-SGD: batch sampling (default poisson; fixed only with --dp-sigma 0)", 0, 0},
        {"--dp-freeze-embeddings", OPT_FLAG, &dp_freeze, NULL,
         "DP-SGD: do not train the embedding tables (no clip budget or noise spent on them)", 0, 0},
        {"--dp-grad", OPT_STR, &dp_grad, "ghost|per-example",
         "DP-SGD: per-example norms by ghost clipping in batches (default), or one B=1 pass per example (CPU)", 0, 0},
        {"--dp-micro-batch", OPT_INT, &dp_micro, "N", "DP-SGD ghost clipping: examples per forward pass at most (default 32)", 0, 0},
        {"--freeze-base", OPT_FLAG, &freeze_base, NULL,
         "train only what the pretrained base lacks (BERT: classifier; DistilBERT: pre_classifier, classifier)", 0, 0},
        {"--quiet", OPT_FLAG, &quiet, NULL, "no progress or log output (errors still print)", 0, 0},
        {"--replace", OPT_FLAG, &replace, NULL, "replace an existing --out DIR that is not an aca model output", 0, 0},
        {"--attention", OPT_STR, &attention, "auto|gemm|cudnn", "CUDA attention path (default auto: cuDNN where it runs)", 0, 0},
    };
    aca_err e = {0};
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return 0;
    aca_attention att_path;
    if (r < 0 || aca_attention_parse(attention, &att_path, &e)) {
        cli_fail(&e);
        return 2;
    }
    if (epochs < 1 || epochs > 100000) return fprintf(stderr, "aca: --epochs must be in [1, 100000]\n"), 2;
    if (batch < 1 || batch > 65536) return fprintf(stderr, "aca: --batch must be in [1, 65536]\n"), 2;
    if (max_len < 2 || max_len > 1 << 20) return fprintf(stderr, "aca: --max-len must be in [2, 1048576], got %ld\n", max_len), 2;
    if (!(lr >= 0)) return fprintf(stderr, "aca: --lr must be >= 0\n"), 2;
    if (save_every < 0 || stop_after < 0 || log_every < 1)
        return fprintf(stderr, "aca: --save-every/--stop-after must be >= 0 and --log-every >= 1\n"), 2;
    if (!!model == !!config) return fprintf(stderr, "aca: give exactly one of --model DIR or --config FILE\n"), 2;
    if (new_head && !model) return fprintf(stderr, "aca: --new-head goes with --model DIR (a --config model's head is always new)\n"), 2;

    aca_run_setup s;
    run_setup_default(&s);
    s.model_dir = model;
    s.config_path = config;
    s.vocab_path = vocab;
    s.device = device;
    s.precision = precision;
    s.attention = attention;
    s.max_len = (int)max_len;
    s.init_seed = opts[14].seen ? init_seed : seed;
    s.new_head = new_head;
    aca_train_opts *to = &s.train;
    to->epochs = (int)epochs;
    to->batch = (int)batch;
    to->lr = lr;
    to->weight_decay = wd;
    to->max_grad_norm = clip;
    to->seed = seed;
    to->bucket = bucket;
    to->save_every = save_every;
    to->resume = resume;
    to->stop_after = stop_after;
    to->log_every = log_every;
    to->freeze_base = freeze_base;
    if (cli_dp_opts(to, opts, (int)ACA_ARRAY_LEN(opts), dp_clip, dp_sigma, dp_eps, dp_delta, dp_sampling)) return 2;
    if (dp_freeze && !(to)->dp) return fprintf(stderr, "aca: --dp-freeze-embeddings needs --dp-sigma X or --dp-epsilon E\n"), 2;
    (to)->dp_freeze_embeddings = dp_freeze;
    if (to->dp && to->dp_grad == TRAIN_DP_GRAD_PER_EXAMPLE && strcmp(device, "cpu"))
        return fprintf(stderr, "aca: --dp-grad per-example is CPU-only: use --device cpu, or --dp-grad ghost\n"), 2;
    if (to->dp && !strcmp(precision, "fp16"))
        return fprintf(stderr, "aca: --precision fp16 with DP-SGD: per-example clipping runs without loss scaling; use fp32 or bf16\n"), 2;
    if (!vocab && !model) return fprintf(stderr, "aca: --config needs --vocab FILE|DIR (the tokenizer)\n"), 2;
    cli_progress prog;
    cli_progress_init(&prog, "train");
    if (quiet) aca_log_level = 0;
    if (!quiet) {
        to->on_step = cli_progress_step;
        to->on_step_ctx = &prog;
        if (prog.tty) to->log_every = 1;
    }
    char *ckpt = out_sibling(out, ".ckpt");
    to->ckpt_dir = ckpt;
    char *cache_dir = path_join(data, "tokcache");
    const char *inputs[] = {data, model, config, vocab};
    aca_outdir od = {0};
    int rc = outputs_open(out, ckpt, replace, save_every > 0 || stop_after > 0, inputs, (int)ACA_ARRAY_LEN(inputs), &od);
    if (rc) {
        free(ckpt), free(cache_dir);
        return rc;
    }
    tmp_sweep(cache_dir, 0);

    aca_datadir dd = {0};
    aca_tokenizer *tok = NULL;
    aca_model *m = NULL;
    aca_dataset train = {0};
    aca_train_stats st;
    aca_buf fpx = {0};
    if (datadir_open(data, &dd, &e)) goto done;
    if (!(tok = tokenizer_for_model(vocab, model, &e)) || run_check_model(&s, tok, &e)) goto done;
    buf_printf(&fpx, "tokenizer\t%016llx\n", (unsigned long long)tokenizer_hash(tok));
    to->fingerprint_extra = fpx.data;
    double t0 = time_now();
    if (data_load_jsonl(dd.train_path, dd.classes, dd.n_classes, tok, s.max_len, cache_dir, &train, &e)) goto done;
    log_info("%s: %zu training documents, %d classes (tokens in %.2f s; token cache %s)", dd.train_path, train.n,
             dd.n_classes, time_now() - t0, cache_dir);
    if (run_load_model(&s, dd.classes, dd.n_classes, train_model_batch(to), &m, &e)) goto done;
    if (tokenizer_fits_model(tok, model_config(m)->vocab_size, &e)) goto done;
    log_info("model: %zu parameters, %s/%s, attention %s; %ld steps (%d epochs x %ld batches of %d)", model_num_params(m),
             device, precision, aca_backend_attention_name(model_backend(m)), train_total_steps(train.n, to->batch, to->epochs), to->epochs,
             train_total_steps(train.n, to->batch, 1), to->batch);
    int trc = train_run(m, &train, to, &st, &e);
    cli_progress_end(&prog);
    if (trc) goto done;
    cli_print_train_end(&st, device);
    if (st.stopped_early) {
        fprintf(stderr, "aca: stopped after step %ld as asked; checkpoint in %s (continue with --resume)\n", st.steps,
                ckpt);
        outdir_abort(&od);
        goto done_quiet;
    }
    if (train_write_hf(m, od.tmp, tok, &e) || outdir_commit(&od, &e)) goto done;
    if (!save_every) ckpt_remove(ckpt);
    printf("wrote %s (config.json, model.safetensors, vocabulary)\n", out);
    goto done_quiet;
done:
    rc = cli_fail(&e);
    outdir_abort(&od);
done_quiet:
    run_free_model(m);
    if (tok) tokenizer_free(tok);
    dataset_free(&train);
    datadir_free(&dd);
    buf_free(&fpx);
    free(cache_dir);
    free(ckpt);
    return rc;
}
