// aca train: fine-tune a model on a mutated data directory; also the progress display shared by
// run and demo.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/run.h"
#include "aca/session.h"
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

// What train is asked: its own options and the run options (run.h).
typedef struct {
    const char *data, *out;
    int quiet, replace;
    aca_run_setup s;
} train_args;

// The command line into a: 0, -1 after --help, else the exit status (printed).
static int train_parse(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    run_setup_default(&a->s);
    const aca_opt own[] = {
        {"--data", OPT_STR, &a->data, "DIR", "directory written by `aca mutate`", 1, 0},
        {"--out", OPT_STR, &a->out, "DIR", "output Hugging Face directory (built aside and swapped in whole)", 1, 0},
        {"--quiet", OPT_FLAG, &a->quiet, NULL, "no progress or log output (errors still print)", 0, 0},
        {"--replace", OPT_FLAG, &a->replace, NULL, "replace an existing --out DIR that is not an aca model output", 0, 0},
    };
    cli_run_opts ro;
    aca_opt opts[CLI_MAX_OPTS];
    int n = cli_run_opts_build(&ro, RUN_OPT_CMD_TRAIN, &a->s, own, (int)ACA_ARRAY_LEN(own), opts);
    aca_err e = {0};
    int r = opt_parse(opts, n, argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return -1;
    if (r < 0) return cli_fail(&e), 2;
    if ((r = cli_run_opts_apply(&ro, &a->s))) return r;
    const aca_run_setup *s = &a->s;
    if (!!s->model_dir == !!s->config_path) return fprintf(stderr, "aca: give exactly one of --model DIR or --config FILE\n"), 2;
    if (s->new_head && !s->model_dir)
        return fprintf(stderr, "aca: --new-head goes with --model DIR (a --config model's head is always new)\n"), 2;
    if (!s->vocab_path && !s->model_dir) return fprintf(stderr, "aca: --config needs --vocab FILE|DIR (the tokenizer)\n"), 2;
    return 0;
}

// The session (data, tokenizer, model), training, then the model written into od (OUT's temporary)
// and swapped in.
static int train_session(const train_args *a, const char *cache_dir, cli_progress *prog, aca_outdir *od) {
    const aca_run_setup *s = &a->s;
    aca_train_opts to = s->train;
    aca_session ss;
    aca_train_stats st;
    aca_buf fpx = {0};
    aca_err e = {0};
    int rc = 0;
    aca_session_opts so = {.use = SESSION_TRAIN, .s = s, .data_dir = a->data, .cache_dir = cache_dir};
    if (session_open(&ss, &so, &e)) goto done;
    log_info("%s: %zu training documents, %d classes (tokens in %.2f s; token cache %s)", ss.dd.train_path, ss.train.n,
             ss.n_classes, ss.t_tokenize, cache_dir);
    buf_printf(&fpx, "tokenizer\t%016llx\n", (unsigned long long)tokenizer_hash(ss.tok));
    to.fingerprint_extra = fpx.data;
    log_info("model: %zu parameters, %s/%s, attention %s; %ld steps (%d epochs x %ld batches of %d)",
             model_num_params(ss.model), s->device, s->precision, aca_backend_attention_name(model_backend(ss.model)),
             train_total_steps(ss.train.n, to.batch, to.epochs), to.epochs, train_total_steps(ss.train.n, to.batch, 1),
             to.batch);
    int trc = train_run(ss.model, &ss.train, &to, &st, &e);
    cli_progress_end(prog);
    if (trc) goto done;
    cli_print_train_end(&st, s->device);
    if (st.stopped_early) {
        fprintf(stderr, "aca: stopped after step %ld as asked; checkpoint in %s (continue with --resume)\n", st.steps,
                to.ckpt_dir);
        outdir_abort(od);
        goto done_quiet;
    }
    if (train_write_hf(ss.model, od->tmp, ss.tok, &e) || outdir_commit(od, &e)) goto done;
    if (!to.save_every) ckpt_remove(to.ckpt_dir);
    printf("wrote %s (config.json, model.safetensors, vocabulary)\n", a->out);
    goto done_quiet;
done:
    rc = cli_fail(&e);
    outdir_abort(od);
done_quiet:
    session_close(&ss);
    buf_free(&fpx);
    return rc;
}

int cmd_train(int argc, char **argv) {
    train_args a;
    int rc = train_parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    aca_train_opts *to = &a.s.train;
    cli_progress prog;
    cli_progress_init(&prog, "train");
    if (a.quiet) aca_log_level = 0;
    if (!a.quiet) {
        to->on_step = cli_progress_step;
        to->on_step_ctx = &prog;
        if (prog.tty) to->log_every = 1;
    }
    char *ckpt = out_sibling(a.out, ".ckpt"), *cache_dir = path_join(a.data, "tokcache");
    to->ckpt_dir = ckpt;
    const char *inputs[] = {a.data, a.s.model_dir, a.s.config_path, a.s.vocab_path};
    aca_outdir od = {0};
    rc = outputs_open(a.out, ckpt, a.replace, to->save_every > 0 || to->stop_after > 0, inputs,
                      (int)ACA_ARRAY_LEN(inputs), &od);
    if (!rc) {
        tmp_sweep(cache_dir, 0);
        rc = train_session(&a, cache_dir, &prog, &od);
    }
    free(ckpt);
    free(cache_dir);
    return rc;
}
