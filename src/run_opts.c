// The run options (include/aca/run_opts.h): every option of a run declared once, in ROWS,
// and what is made from the table here — the defaults, the one range check, a value read as typed
// on the command line, the options written as JSON.  The command-line entries are made in
// src/cli/run_opts.c, the GRID.json sections are read in src/grid_spec.c.
//
// Not made from the table: the trainer's resume fingerprint (train_fingerprint, src/train_ckpt.c).
// It is computed inside train_run, a layer below this one, from aca_train_opts alone, and its lines
// are not one per option (max length, device and precision come from what runs; AdamW's betas and
// eps share a line; some lines appear only in fp16, under DP-SGD or when a flag is on).  The table
// keeps it complete all the same: tests/test_run_opts.c sets every row of aca_train_opts in turn and
// checks that the fingerprint changes, except the rows marked RUN_OPT_NO_FINGERPRINT.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aca/opt.h"
#include "aca/run_opts.h"

#define AT(field) offsetof(aca_run_setup, field)
#define CMD_ALL (RUN_OPT_CMD_TRAIN | RUN_OPT_CMD_RUN | RUN_OPT_CMD_DEMO)
#define CMD_TR (RUN_OPT_CMD_TRAIN | RUN_OPT_CMD_RUN)
#define OUT_BOTH (RUN_OPT_CONFIG | RUN_OPT_DEFINITION)
#define NO_MAX RUN_OPT_NO_MAX

// The order of the rows is the order of the flags in --help and of the keys in the results' "config"
// block and a grid cell's definition (which tests/golden pins byte for byte).
static const aca_run_opt ROWS[] = {
    // the model and the split
    {.name = "model", .flag = "--model", .path = "model.dir", .type = RUN_OPT_STR, .off = AT(model_dir), .meta = "DIR",
     .help = "Hugging Face checkpoint directory to fine-tune", .use = CMD_TR | RUN_OPT_CONFIG | RUN_OPT_UNSET},
    {.name = "config", .flag = "--config", .path = "model.config", .type = RUN_OPT_STR, .off = AT(config_path),
     .meta = "FILE", .help = "config.json for a randomly initialised model", .use = CMD_TR | RUN_OPT_CONFIG | RUN_OPT_UNSET},
    {.name = "vocab", .flag = "--vocab", .path = "model.vocab", .type = RUN_OPT_STR, .off = AT(vocab_path),
     .meta = "FILE|DIR", .help = "vocab.txt (uncased), .model, or a tokenizer directory (default: the model's)",
     .use = CMD_TR | RUN_OPT_UNSET},
    {.name = "n_train", .flag = "--train-size", .path = "split.train", .type = RUN_OPT_SIZE, .off = AT(n_train),
     .hi = 1e8, .meta = "N", .help = "training documents of the split, 0: mutate's",
     .use = RUN_OPT_CMD_RUN | RUN_OPT_CMD_DEMO | OUT_BOTH},
    {.name = "n_test", .flag = "--test-size", .path = "split.test", .type = RUN_OPT_SIZE, .off = AT(n_test), .hi = 1e8,
     .meta = "N", .help = "test documents of the split, 0: mutate's", .use = RUN_OPT_CMD_RUN | RUN_OPT_CMD_DEMO | OUT_BOTH},
    // training
    {.name = "epochs", .flag = "--epochs", .path = "train.epochs", .type = RUN_OPT_INT, .off = AT(train.epochs),
     .dflt = 5, .lo = 1, .hi = 100000, .meta = "N", .help = "epochs", .use = CMD_ALL | OUT_BOTH},
    {.name = "batch", .flag = "--batch", .path = "train.batch", .type = RUN_OPT_INT, .off = AT(train.batch), .dflt = 8,
     .lo = 1, .hi = 65536, .meta = "N", .help = "batch size", .use = CMD_ALL | OUT_BOTH},
    {.name = "lr", .flag = "--lr", .path = "train.lr", .type = RUN_OPT_DOUBLE, .off = AT(train.lr), .dflt = 5e-5,
     .lo_open = 1, .hi = INFINITY, .meta = "X", .help = "peak learning rate, decaying linearly to 0", .use = CMD_ALL | OUT_BOTH},
    {.name = "weight_decay", .flag = "--weight-decay", .path = "train.weight_decay", .type = RUN_OPT_DOUBLE,
     .off = AT(train.weight_decay), .hi = INFINITY, .meta = "X", .help = "AdamW weight decay on weights",
     .use = CMD_TR | OUT_BOTH},
    {.name = "max_grad_norm", .flag = "--max-grad-norm", .path = "train.max_grad_norm", .type = RUN_OPT_DOUBLE,
     .off = AT(train.max_grad_norm), .dflt = 1, .hi = INFINITY, .meta = "X", .help = "gradient clipping norm, 0 = off",
     .use = CMD_TR | OUT_BOTH},
    {.name = "seed", .flag = "--seed", .type = RUN_OPT_U64, .off = AT(train.seed), .dflt = 42, .hi = NO_MAX, .meta = "S",
     .help = "shuffling and dropout seed", .use = CMD_TR | RUN_OPT_CLI_ONLY},
    {.name = "init_seed", .flag = "--init-seed", .type = RUN_OPT_U64, .off = AT(init_seed), .dflt = 42, .hi = NO_MAX,
     .meta = "S", .help = "seed of random init / a fresh head (default: --seed)", .use = CMD_TR | RUN_OPT_CLI_ONLY},
    {.name = "data_seed", .flag = "--data-seed", .type = RUN_OPT_U64, .off = AT(data_seed), .hi = NO_MAX, .meta = "S",
     .help = "override the spec's seed (split, membership) (default: the spec's)",
     .use = RUN_OPT_CMD_RUN | RUN_OPT_CLI_ONLY},
    {.name = "max_len", .flag = "--max-len", .path = "train.max_len", .type = RUN_OPT_INT, .off = AT(max_len), .dflt = 512,
     .lo = 2, .hi = 1 << 20, .meta = "N", .help = "max tokens per document incl. [CLS]/[SEP]", .use = CMD_ALL | OUT_BOTH},
    {.name = "bucket", .flag = "--bucket", .path = "train.bucket", .type = RUN_OPT_FLAG, .off = AT(train.bucket), .hi = 1,
     .help = "length-bucketed batches (less padding)", .use = CMD_TR | OUT_BOTH},
    {.name = "eval_batch", .path = "train.eval_batch", .type = RUN_OPT_INT, .off = AT(eval_batch), .dflt = 32, .lo = 1,
     .hi = 65536, .help = "evaluation batch size", .use = RUN_OPT_GRID_ONLY | RUN_OPT_DEFINITION},
    {.name = "freeze_base", .flag = "--freeze-base", .path = "train.freeze_base", .type = RUN_OPT_FLAG,
     .off = AT(train.freeze_base), .hi = 1,
     .help = "train only what the pretrained base lacks (BERT: classifier; DistilBERT: pre_classifier, classifier)",
     .use = RUN_OPT_CMD_TRAIN | OUT_BOTH | RUN_OPT_IF_SET},
    // where it runs
    {.name = "device", .flag = "--device", .path = "device", .type = RUN_OPT_CHOICE, .off = AT(device), .dflt_str = "cpu",
     .meta = "cpu|cuda", .help = "backend", .use = CMD_ALL | RUN_OPT_DEFINITION},
    {.name = "precision", .flag = "--precision", .path = "precision", .type = RUN_OPT_CHOICE, .off = AT(precision),
     .dflt_str = "fp32", .meta = "fp32|bf16|fp16", .help = "compute precision", .use = CMD_TR | OUT_BOTH},
    {.name = "attention", .flag = "--attention", .path = "attention", .type = RUN_OPT_CHOICE, .off = AT(attention),
     .dflt_str = "auto", .meta = "auto|gemm|cudnn", .help = "CUDA attention path; auto: cuDNN where it runs",
     .use = CMD_TR | RUN_OPT_DEFINITION},
    // DP-SGD (train.h): on with --dp-sigma or --dp-epsilon; a grid's "dp": {"epsilon": ...} is an axis
    {.name = "dp_sigma", .flag = "--dp-sigma", .type = RUN_OPT_DOUBLE, .off = AT(train.dp_sigma), .dflt = NAN,
     .hi = INFINITY, .meta = "X", .help = "DP-SGD: noise multiplier (noise std / C); turns DP-SGD on",
     .use = CMD_TR | RUN_OPT_CLI_ONLY | RUN_OPT_UNSET | RUN_OPT_DP},
    {.name = "dp_epsilon", .flag = "--dp-epsilon", .path = "dp.epsilon", .type = RUN_OPT_DOUBLE,
     .off = AT(train.dp_epsilon), .dflt = NAN, .lo_open = 1, .hi = INFINITY, .meta = "E",
     .help = "DP-SGD: target epsilon, sigma chosen by the accountant; turns DP-SGD on",
     .use = CMD_TR | RUN_OPT_UNSET | RUN_OPT_DP | RUN_OPT_AXIS},
    {.name = "dp_delta", .flag = "--dp-delta", .path = "dp.delta", .type = RUN_OPT_DOUBLE, .off = AT(train.dp_delta),
     .dflt = 1e-5, .lo_open = 1, .hi = 1, .hi_open = 1, .meta = "D", .help = "DP-SGD: delta of the reported epsilon",
     .use = CMD_TR | RUN_OPT_DEFINITION | RUN_OPT_DP},
    {.name = "dp_clip", .flag = "--dp-clip", .path = "dp.clip", .type = RUN_OPT_DOUBLE, .off = AT(train.dp_clip), .dflt = 1,
     .lo_open = 1, .hi = INFINITY, .meta = "C", .help = "DP-SGD: per-example L2 clipping norm",
     .use = CMD_TR | RUN_OPT_DEFINITION | RUN_OPT_DP},
    {.name = "dp_sampling", .flag = "--dp-sampling", .path = "dp.sampling", .type = RUN_OPT_ENUM,
     .off = AT(train.dp_sampling), .dflt = TRAIN_DP_POISSON, .meta = "poisson|fixed",
     .help = "DP-SGD: batch sampling, fixed only with --dp-sigma 0", .use = CMD_TR | RUN_OPT_DEFINITION | RUN_OPT_DP},
    {.name = "dp_freeze_embeddings", .flag = "--dp-freeze-embeddings", .path = "dp.freeze_embeddings",
     .type = RUN_OPT_FLAG, .off = AT(train.dp_freeze_embeddings), .hi = 1,
     .help = "DP-SGD: do not train the embedding tables (no clip budget or noise spent on them)",
     .use = CMD_TR | RUN_OPT_DEFINITION | RUN_OPT_DP},
    {.name = "dp_grad", .flag = "--dp-grad", .path = "dp.grad", .type = RUN_OPT_ENUM, .off = AT(train.dp_grad),
     .dflt = TRAIN_DP_GRAD_GHOST, .meta = "ghost|per-example",
     .help = "DP-SGD: per-example norms by ghost clipping in batches, or one B=1 pass per example (CPU)",
     .use = RUN_OPT_CMD_TRAIN | RUN_OPT_DP},
    {.name = "dp_micro_batch", .flag = "--dp-micro-batch", .path = "dp.micro_batch", .type = RUN_OPT_INT,
     .off = AT(train.dp_micro_batch), .dflt = 32, .lo = 1, .hi = 65536, .meta = "N",
     .help = "DP-SGD ghost clipping: examples per forward pass at most", .use = RUN_OPT_CMD_TRAIN | RUN_OPT_DP},
    // checkpoints and logging of `aca train`
    {.name = "new_head", .flag = "--new-head", .type = RUN_OPT_FLAG, .off = AT(new_head), .hi = 1,
     .help = "replace --model's classifier by a fresh one of the data's classes",
     .use = RUN_OPT_CMD_TRAIN | RUN_OPT_CLI_ONLY},
    {.name = "save_every", .flag = "--save-every", .type = RUN_OPT_LONG, .off = AT(train.save_every), .hi = NO_MAX,
     .meta = "N", .help = "checkpoint every N steps to OUT.ckpt/, 0: never",
     .use = RUN_OPT_CMD_TRAIN | RUN_OPT_CLI_ONLY | RUN_OPT_NO_FINGERPRINT},
    {.name = "resume", .flag = "--resume", .type = RUN_OPT_FLAG, .off = AT(train.resume), .hi = 1,
     .help = "continue from the checkpoint in OUT.ckpt/", .use = RUN_OPT_CMD_TRAIN | RUN_OPT_CLI_ONLY | RUN_OPT_NO_FINGERPRINT},
    {.name = "stop_after", .flag = "--stop-after", .type = RUN_OPT_LONG, .off = AT(train.stop_after), .hi = NO_MAX,
     .meta = "N", .help = "stop after global step N with a checkpoint to resume from, 0: never",
     .use = RUN_OPT_CMD_TRAIN | RUN_OPT_CLI_ONLY | RUN_OPT_NO_FINGERPRINT},
    {.name = "log_every", .flag = "--log-every", .type = RUN_OPT_LONG, .off = AT(train.log_every), .dflt = 50, .lo = 1,
     .hi = NO_MAX, .meta = "N", .help = "log line every N steps when not on a terminal",
     .use = RUN_OPT_CMD_TRAIN | RUN_OPT_CLI_ONLY | RUN_OPT_NO_FINGERPRINT},
    // the trainer's constants: AdamW (Hugging Face's defaults) and the fp16 loss scaler (torch's GradScaler)
    {.name = "adam_beta1", .type = RUN_OPT_DOUBLE, .off = AT(train.beta1), .dflt = 0.9, .hi = 1, .hi_open = 1,
     .help = "AdamW beta1", .use = RUN_OPT_FIXED},
    {.name = "adam_beta2", .type = RUN_OPT_DOUBLE, .off = AT(train.beta2), .dflt = 0.999, .hi = 1, .hi_open = 1,
     .help = "AdamW beta2", .use = RUN_OPT_FIXED},
    {.name = "adam_eps", .type = RUN_OPT_DOUBLE, .off = AT(train.eps), .dflt = 1e-8, .lo_open = 1, .hi = INFINITY,
     .help = "AdamW epsilon", .use = RUN_OPT_FIXED},
    {.name = "loss_scale_init", .type = RUN_OPT_FLOAT, .off = AT(train.loss_scale_init), .dflt = 65536, .lo_open = 1,
     .hi = INFINITY, .help = "fp16: the loss scale to start from", .use = RUN_OPT_FIXED},
    {.name = "loss_scale_window", .type = RUN_OPT_INT, .off = AT(train.loss_scale_window), .dflt = 2000, .lo = 1,
     .hi = 1 << 30, .help = "fp16: good steps before the loss scale doubles", .use = RUN_OPT_FIXED},
};

const aca_run_opt *run_opts_table(int *n) {
    *n = (int)ACA_ARRAY_LEN(ROWS);
    return ROWS;
}

const aca_run_opt *run_opt_find(const char *name) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++)
        if (!strcmp(ROWS[i].name, name)) return &ROWS[i];
    return NULL;
}

const aca_run_opt *run_opt_find_path(const char *path) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++)
        if (ROWS[i].path && !strcmp(ROWS[i].path, path)) return &ROWS[i];
    return NULL;
}

void *run_opt_field(const aca_run_opt *o, aca_run_setup *s) { return (char *)s + o->off; }

static const void *field_of(const aca_run_opt *o, const aca_run_setup *s) { return (const char *)s + o->off; }

static int is_whole(aca_run_opt_type t) {
    return t == RUN_OPT_INT || t == RUN_OPT_LONG || t == RUN_OPT_SIZE || t == RUN_OPT_U64;
}

static int is_text(aca_run_opt_type t) { return t == RUN_OPT_STR || t == RUN_OPT_CHOICE || t == RUN_OPT_ENUM; }

// The index of v among the '|'-separated names of meta, or -1; with v NULL, the number of names.
static int name_index(const char *meta, const char *v) {
    int k = 0;
    for (const char *s = meta;; k++) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        if (v && strlen(v) == n && !strncmp(v, s, n)) return k;
        if (!bar) return v ? -1 : k + 1;
        s = bar + 1;
    }
}

// Name k of meta into out.
static const char *name_at(const char *meta, int k, char *out, size_t n) {
    const char *s = meta;
    for (int i = 0; i < k && s; i++)
        if ((s = strchr(s, '|'))) s++;
    const char *bar = s ? strchr(s, '|') : NULL;
    size_t len = !s ? 0 : bar ? (size_t)(bar - s) : strlen(s);
    snprintf(out, n, "%.*s", (int)len, s ? s : "");
    return out;
}

static double load_num(const aca_run_opt *o, const aca_run_setup *s) {
    const void *f = field_of(o, s);
    switch (o->type) {
    case RUN_OPT_INT: case RUN_OPT_FLAG: case RUN_OPT_ENUM: return *(const int *)f;
    case RUN_OPT_LONG: return (double)*(const long *)f;
    case RUN_OPT_SIZE: return (double)*(const size_t *)f;
    case RUN_OPT_U64: return (double)*(const uint64_t *)f;
    case RUN_OPT_DOUBLE: return *(const double *)f;
    case RUN_OPT_FLOAT: return *(const float *)f;
    default: return NAN;
    }
}

static void store_num(const aca_run_opt *o, aca_run_setup *s, double x) {
    void *f = run_opt_field(o, s);
    switch (o->type) {
    case RUN_OPT_INT: case RUN_OPT_FLAG: case RUN_OPT_ENUM: *(int *)f = (int)x; break;
    case RUN_OPT_LONG: *(long *)f = (long)x; break;
    case RUN_OPT_SIZE: *(size_t *)f = (size_t)x; break;
    case RUN_OPT_U64: *(uint64_t *)f = (uint64_t)x; break;
    case RUN_OPT_DOUBLE: *(double *)f = x; break;
    case RUN_OPT_FLOAT: *(float *)f = (float)x; break;
    default: break;
    }
}

void run_setup_default(aca_run_setup *s) {
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++) {
        if (is_text(ROWS[i].type) && ROWS[i].type != RUN_OPT_ENUM) *(const char **)run_opt_field(&ROWS[i], s) = ROWS[i].dflt_str;
        else store_num(&ROWS[i], s, ROWS[i].dflt);
    }
    s->work_dir = "out/run";
    s->write_data = 1; // aca run keeps each condition's data directory; a grid cell only with --keep-work
}

const char *run_opt_key(const aca_run_opt *o) {
    if (!o->path) return NULL;
    const char *dot = strrchr(o->path, '.');
    return dot ? dot + 1 : o->path;
}

int run_opt_in_section(const aca_run_opt *o, const char *section) {
    if (!o->path) return 0;
    const char *dot = strrchr(o->path, '.');
    size_t n = dot ? (size_t)(dot - o->path) : 0;
    return strlen(section) == n && !strncmp(o->path, section, n);
}

int run_opts_has_key(const char *section, const char *key) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++)
        if (run_opt_in_section(&ROWS[i], section) && !strcmp(run_opt_key(&ROWS[i]), key)) return 1;
    return 0;
}

// A number as the user would write it: whole numbers in full, others in the fewest digits that read
// back as the same double (5e-05, 0.001).
static const char *num_text(double x, char *out, size_t n) {
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e17) {
        snprintf(out, n, "%.0f", x);
        return out;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    return out;
}

void run_opt_value_text(const aca_run_opt *o, const aca_run_setup *s, char *out, size_t n) {
    const void *f = field_of(o, s);
    if (o->type == RUN_OPT_STR || o->type == RUN_OPT_CHOICE) snprintf(out, n, "%s", *(const char *const *)f ? *(const char *const *)f : "");
    else if (o->type == RUN_OPT_ENUM) name_at(o->meta, *(const int *)f, out, n);
    else if (o->type == RUN_OPT_FLAG) snprintf(out, n, "%s", *(const int *)f ? "on" : "off");
    else if (o->type == RUN_OPT_U64) snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)f);
    else if (isnan(load_num(o, s))) snprintf(out, n, "%s", "");
    else num_text(load_num(o, s), out, n);
}

// "a whole number in [1, 100000]", "a number > 0", "a number in (0, 1)".
static void range_text(const aca_run_opt *o, char *out, size_t n) {
    char lo[40], hi[40];
    const char *what = is_whole(o->type) ? "a whole number" : "a number";
    num_text(o->lo, lo, sizeof lo);
    if (o->hi >= NO_MAX) snprintf(out, n, "%s %s %s", what, o->lo_open ? ">" : ">=", lo);
    else snprintf(out, n, "%s in %c%s, %s%c", what, o->lo_open ? '(' : '[', lo, num_text(o->hi, hi, sizeof hi), o->hi_open ? ')' : ']');
}

int run_opt_check_num(const aca_run_opt *o, double x, const char *label, aca_err *e) {
    int ok;
    if (o->type == RUN_OPT_STR || o->type == RUN_OPT_CHOICE) return aca_errf(e, ACA_ERR_VALUE, "%s: must be a name", label);
    if (o->type == RUN_OPT_FLAG) ok = x == 0 || x == 1;
    else if (o->type == RUN_OPT_ENUM) ok = x == floor(x) && x >= 0 && x < name_index(o->meta, NULL);
    else ok = isfinite(x) && (!is_whole(o->type) || x == floor(x)) && (o->lo_open ? x > o->lo : x >= o->lo) &&
              (o->hi_open ? x < o->hi : x <= o->hi);
    if (!ok) {
        char rt[96], v[40];
        if (o->type == RUN_OPT_FLAG) snprintf(rt, sizeof rt, "0 or 1");
        else if (o->type == RUN_OPT_ENUM) snprintf(rt, sizeof rt, "one of %s", o->meta);
        else range_text(o, rt, sizeof rt);
        return aca_errf(e, ACA_ERR_VALUE, "%s: must be %s, got %s", label, rt, num_text(x, v, sizeof v));
    }
    return 0;
}

int run_opt_set_num(const aca_run_opt *o, aca_run_setup *s, double x, const char *label, aca_err *e) {
    if (run_opt_check_num(o, x, label, e)) return -1;
    store_num(o, s, x);
    return 0;
}

int run_opt_set_str(const aca_run_opt *o, aca_run_setup *s, const char *v, const char *label, aca_err *e) {
    if (!is_text(o->type)) return aca_errf(e, ACA_ERR_VALUE, "%s: must be a number, got '%s'", label, v);
    int k = o->type == RUN_OPT_STR ? 0 : name_index(o->meta, v);
    if (k < 0) return aca_errf(e, ACA_ERR_VALUE, "%s: must be one of %s, got '%s'", label, o->meta, v);
    if (o->type == RUN_OPT_ENUM) *(int *)run_opt_field(o, s) = k;
    else *(const char **)run_opt_field(o, s) = v;
    return 0;
}

int run_opt_set_text(const aca_run_opt *o, aca_run_setup *s, const char *text, const char *label, aca_err *e) {
    long l;
    double d;
    if (is_text(o->type)) return run_opt_set_str(o, s, text, label, e);
    if (o->type == RUN_OPT_U64) return parse_u64(text, (uint64_t *)run_opt_field(o, s), label, e);
    if (o->type == RUN_OPT_FLAG) return run_opt_set_num(o, s, 1, label, e);
    if (is_whole(o->type)) return parse_long(text, &l, label, e) ? -1 : run_opt_set_num(o, s, (double)l, label, e);
    return parse_double(text, &d, label, e) ? -1 : run_opt_set_num(o, s, d, label, e);
}

void run_opt_write_value(const aca_run_opt *o, const aca_run_setup *s, unsigned use, aca_jsonw *w) {
    const void *f = field_of(o, s);
    const int exact = use == RUN_OPT_DEFINITION;
    char name[64];
    switch (o->type) {
    case RUN_OPT_INT: case RUN_OPT_LONG: jsonw_int(w, (long long)load_num(o, s)); break;
    case RUN_OPT_SIZE: jsonw_uint(w, *(const size_t *)f); break;
    case RUN_OPT_U64: jsonw_uint(w, *(const uint64_t *)f); break;
    case RUN_OPT_DOUBLE: case RUN_OPT_FLOAT:
        if (exact) jsonw_num_exact(w, load_num(o, s));
        else jsonw_num(w, load_num(o, s));
        break;
    case RUN_OPT_FLAG:
        if (exact) jsonw_bool(w, *(const int *)f);
        else jsonw_int(w, *(const int *)f);
        break;
    case RUN_OPT_STR: case RUN_OPT_CHOICE: jsonw_str(w, *(const char *const *)f); break;
    case RUN_OPT_ENUM: jsonw_str(w, name_at(o->meta, *(const int *)f, name, sizeof name)); break;
    }
}

// 1 when the row's value in s is its default (NaN and NULL included).
static int at_default(const aca_run_opt *o, const aca_run_setup *s) {
    if (o->type == RUN_OPT_STR || o->type == RUN_OPT_CHOICE) {
        const char *v = *(const char *const *)field_of(o, s);
        return v == o->dflt_str || (v && o->dflt_str && !strcmp(v, o->dflt_str));
    }
    double x = load_num(o, s);
    return x == o->dflt || (isnan(x) && isnan(o->dflt));
}

void run_opts_write_json(const aca_run_setup *s, unsigned use, const char *section, aca_jsonw *w) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++) {
        const aca_run_opt *o = &ROWS[i];
        if (!(o->use & use) || (section && !run_opt_in_section(o, section))) continue;
        if ((o->use & RUN_OPT_IF_SET) && at_default(o, s)) continue;
        jsonw_key(w, use == RUN_OPT_DEFINITION ? run_opt_key(o) : o->name);
        run_opt_write_value(o, s, use, w);
    }
}

// ---- the rules between options (DP-SGD) ----------------------------------------------------------
// The row of the field at offset off of aca_run_setup (AT(train.bucket)): the rules below name
// fields, which the compiler checks, not rows by their names.
static const aca_run_opt *row_at(size_t off) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++)
        if (ROWS[i].off == off) return &ROWS[i];
    abort(); // a rule names a field the table does not declare: a programming error
}

// The row of field off set to v as a message of one side names it: "--dp-grad ghost" (a flag alone:
// "--bucket"), or "dp.grad: 'ghost'" ("train.bucket: true"); with lead, after "<grid_file>: " on the
// grid's side.  A row without a GRID.json path keeps its flag.
static const char *setting(size_t off, const char *v, const char *grid_file, int lead, char *out, size_t n) {
    const aca_run_opt *o = row_at(off);
    const int grid = grid_file && o->path;
    const char *pre = grid_file && lead ? grid_file : "", *sep = grid_file && lead ? ": " : "";
    if (!grid) snprintf(out, n, "%s%s%s%s%s", pre, sep, o->flag, v ? " " : "", v ? v : "");
    else if (!v) snprintf(out, n, "%s%s%s: true", pre, sep, o->path);
    else snprintf(out, n, "%s%s%s: '%s'", pre, sep, o->path, v);
    return out;
}

int run_setup_check_dp(const aca_run_setup *s, const char *grid_file, aca_err *e) {
    const aca_train_opts *t = &s->train;
    const char *dp = grid_file ? "\"dp\"" : "DP-SGD";
    char a[300], b[300], c[300], d[300];
    if (!t->dp) return 0;
    if (!isnan(t->dp_sigma) && !isnan(t->dp_epsilon))
        return aca_errf(e, ACA_ERR_VALUE, "%s and %s: give one of them (sigma is chosen from epsilon)",
                        setting(AT(train.dp_sigma), NULL, grid_file, 1, a, sizeof a), setting(AT(train.dp_epsilon), NULL, grid_file, 0, b, sizeof b));
    if (t->dp_sampling == TRAIN_DP_FIXED && !(t->dp_sigma == 0)) {
        int sigma_named = !grid_file || row_at(AT(train.dp_sigma))->path; // the grid has no sigma to set
        return aca_errf(e, ACA_ERR_VALUE, "%s: %s%s%s%s", setting(AT(train.dp_sampling), "fixed", grid_file, 1, a, sizeof a),
                        train_dp_fixed_refusal(), sigma_named ? "; fixed batches remain only for " : "",
                        sigma_named ? setting(AT(train.dp_sigma), "0", grid_file, 0, b, sizeof b) : "",
                        sigma_named ? ", which claims no privacy" : "");
    }
    if (t->bucket)
        return aca_errf(e, ACA_ERR_VALUE, "%s with %s: %s", setting(AT(train.bucket), NULL, grid_file, 1, a, sizeof a), dp,
                        train_dp_bucket_refusal());
    if (t->dp_grad == TRAIN_DP_GRAD_PER_EXAMPLE && strcmp(s->device, "cpu"))
        return aca_errf(e, ACA_ERR_VALUE, "%s runs on the CPU backend only (%s): use %s, or %s",
                        setting(AT(train.dp_grad), "per-example", grid_file, 1, a, sizeof a),
                        setting(AT(device), s->device, grid_file, 0, b, sizeof b), setting(AT(device), "cpu", grid_file, 0, c, sizeof c),
                        setting(AT(train.dp_grad), "ghost", grid_file, 0, d, sizeof d));
    if (!strcmp(s->precision, "fp16"))
        return aca_errf(e, ACA_ERR_VALUE, "%s with %s: per-example clipping runs without loss scaling; use fp32 or bf16",
                        setting(AT(precision), "fp16", grid_file, 1, a, sizeof a), dp);
    return 0;
}

void run_opts_own_strings(aca_run_setup *s) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++) {
        const char **f = run_opt_field(&ROWS[i], s);
        if ((ROWS[i].type == RUN_OPT_STR || ROWS[i].type == RUN_OPT_CHOICE) && *f) *f = xstrdup(*f);
    }
}

void run_opts_free_strings(aca_run_setup *s) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(ROWS); i++) {
        const char **f = run_opt_field(&ROWS[i], s);
        if (ROWS[i].type == RUN_OPT_STR || ROWS[i].type == RUN_OPT_CHOICE) free((char *)*f), *f = NULL;
    }
}
