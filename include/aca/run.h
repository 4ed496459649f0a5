// One condition end to end: mutate (or reuse a mutated data dir) -> tokenize (token cache) ->
// train -> eval, and the experiment `aca run SPEC` = the unpoisoned model, each collective alone,
// and all collectives joint, with delta joint-alone = eff_i(joint) - eff_i(alone) and Karan et al.'s
// CT = delta / eff_i(unpoisoned) (see eval.h).
//
// Results: every training appends one JSON object (one line) to a results JSONL file.  The line is
// built in memory, then written with a single write(2) on an O_APPEND descriptor while holding an
// exclusive flock(2) on the file, so concurrent runs (grid cells, Slurm array tasks on one node)
// never interleave or leave half a line.
#ifndef ACA_RUN_H
#define ACA_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "aca/corpus.h"
#include "aca/eval.h"
#include "aca/jsonw.h"
#include "aca/model.h"
#include "aca/spec.h"
#include "aca/tokenizer.h"
#include "aca/train.h"
#include "aca/util.h"

// ---- conditions --------------------------------------------------------------------------------
// A condition is the set of collectives that act in it (the others' probes are still evaluated).
// How many act, as results name it ("act"):
typedef enum {
    RUN_ACT_NONE = 0, // the empty set: the unpoisoned baseline, no collective mutates the training set
    RUN_ACT_ONE,      // one collective acts ("alone")
    RUN_ACT_ALL,      // several act together ("joint"): every collective, or a subset of two or more
} aca_run_act;

const char *run_act_name(aca_run_act a); // "none", "alone", "joint"

typedef struct {
    aca_run_act act;
    char *acting; // the acting collectives' names joined by ',' ("" none, "A", "A,B"); NULL: every collective
    char *name;   // "none", "alone-A", "joint" (every collective), "joint-A,B" (a subset: a pair, all but one)
} aca_run_cond;

// The condition in which the collectives `acting` names act: NULL every collective ("joint"); ""
// none ("none", the unpoisoned baseline); "A" one ("alone-A"); "A,B,..." that subset
// ("joint-A,B,...", which results record with "only": "A,B,...").  Names are checked against the
// spec when the condition runs (mutate_apply's --only).
void run_cond_init(aca_run_cond *c, const char *acting);
void run_cond_free(aca_run_cond *c);

// The base setup shared by all conditions of an experiment.
typedef struct {
    // data: either a corpus + spec (mutated here, per condition) ...
    const char *corpus_path;
    const char *spec_path;
    aca_corpus_opts corpus_opts;
    size_t n_train, n_test; // split sizes (0,0: the mutate stage's default)
    int has_data_seed;      // override the spec's seed
    uint64_t data_seed;
    // ... or an already mutated data dir (then act must match what it holds; no mutation here)
    const char *data_dir;

    // model: a HF checkpoint directory, or a config.json for random init (then vocab_path needed)
    const char *model_dir;
    const char *config_path;
    const char *vocab_path; // vocab.txt / .model; default: model_dir's own
    uint64_t init_seed;     // random init / fresh head seed (default: train seed)
    int new_head;           // a checkpoint's classifier is replaced by a fresh one (any classes)

    aca_train_opts train; // epochs, batch, lr, seed, max_grad_norm ...
    int max_len;          // 512
    int eval_batch;       // 32
    const char *device;   // "cpu" | "cuda"
    const char *precision; // "fp32" | "bf16" | "fp16"
    const char *attention; // "auto" | "gemm" | "cudnn" (--attention; CUDA paths)

    const char *work_dir;  // per-condition dirs go under it: <work>/<cond>/{data,model}
    const char *cache_dir; // shared token cache (NULL: <work_dir>/tokcache)
    int keep_model;        // write the fine-tuned HF directory <work>/<cond>/model
    int write_data;        // write the mutated data (aca mutate's files) to <work>/<cond>/data (default 1;
                           // the condition trains and evaluates on it in memory either way)
} aca_run_setup;

// ---- run options: each declared once (src/run_opts.c) ----------------------------------------
// Every option of a run that a user sets (model, split, training, device, DP-SGD, checkpoints) is one
// row of a table: its name, command-line flag, GRID.json path, type, default, range and help, and
// where it lies in aca_run_setup.  From the table come the defaults (run_setup_default), the range
// check (run_opt_set_num / run_opt_set_str / run_opt_set_text: one message for the command line and
// GRID.json, naming the flag or the path), the options of `aca train`, `aca run` and `aca demo`
// (src/cli/run_opts.c), the grid's "model", "split", "train" and "dp" sections and its "device",
// "precision" and "attention" (grid_spec.c), the results' "config" block and a grid cell's
// definition (run_opts_write_json).  Code looks a row up by its name (run_opt_find), never by index.
typedef enum {
    RUN_OPT_INT,    // int field: a whole number in the range
    RUN_OPT_LONG,   // long field: a whole number in the range
    RUN_OPT_SIZE,   // size_t field: a whole number in the range
    RUN_OPT_U64,    // uint64_t field (a seed): any whole number >= 0 (command line only)
    RUN_OPT_DOUBLE, // double field: a finite number in the range
    RUN_OPT_FLOAT,  // float field (fixed rows only)
    RUN_OPT_FLAG,   // int field, 0 or 1: a flag on the command line, true or false in GRID.json
    RUN_OPT_STR,    // const char * field: a path (GRID.json: ${NAME} is the environment variable NAME)
    RUN_OPT_CHOICE, // const char * field: one of the names of meta ("cpu|cuda")
    RUN_OPT_ENUM,   // int field: the index of a name of meta ("poisson|fixed" -> 0, 1)
} aca_run_opt_type;

// Bits of aca_run_opt.use.
enum {
    RUN_OPT_CMD_TRAIN = 1 << 0,   // a flag of `aca train`
    RUN_OPT_CMD_RUN = 1 << 1,     // a flag of `aca run`
    RUN_OPT_CMD_DEMO = 1 << 2,    // a flag of `aca demo`
    RUN_OPT_CLI_ONLY = 1 << 3,    // a flag with no GRID.json field, on purpose (seeds, checkpoints)
    RUN_OPT_GRID_ONLY = 1 << 4,   // a GRID.json field with no flag
    RUN_OPT_FIXED = 1 << 5,       // neither: a constant of the trainer, declared for its default
    RUN_OPT_CONFIG = 1 << 6,      // written in the results' "config" block, keyed by its name
    RUN_OPT_DEFINITION = 1 << 7,  // written in a grid cell's definition, keyed by its path's last part
    RUN_OPT_UNSET = 1 << 8,       // the default (NaN, NULL) means "not given" and lies outside the range
    RUN_OPT_DP = 1 << 9,          // a DP-SGD setting: only with --dp-sigma or --dp-epsilon
    RUN_OPT_AXIS = 1 << 10,       // GRID.json gives an axis of values at the path, read by the grid itself
    RUN_OPT_IF_SET = 1 << 11,     // written in the definition/config only when it differs from its default, so
                                  // definitions and results recorded before the row was written still match
                                  // (a definition without the key was made at the default)
    RUN_OPT_NO_FINGERPRINT = 1 << 12, // a training option that leaves the trained weights as they are (when
                                  // checkpoints are written, where a run stops, logging, resuming): not in the
                                  // trainer's resume fingerprint, which every other aca_train_opts row changes
                                  // (train_fingerprint; tests/test_run_opts.c checks both)
};
// Whole-number rows without an upper bound use this (every whole number below it is exact as a double).
#define RUN_OPT_NO_MAX 1e15

typedef struct {
    const char *name;  // "max_len": the key of run_opt_find and of the "config" block
    const char *flag;  // "--max-len", or NULL
    const char *path;  // "train.max_len" in GRID.json ("device": top level), or NULL
    aca_run_opt_type type;
    size_t off;        // of the field in aca_run_setup
    double dflt;       // numbers, flags and enums (an index)
    const char *dflt_str; // strings and choices
    double lo, hi;     // numbers: [lo, hi], an end excluded when lo_open / hi_open
    int lo_open, hi_open;
    const char *meta;  // the flag's value in help ("N", "X"); for choices and enums the names ("cpu|cuda")
    const char *help;  // the flag's help, without the default (added from the command's value)
    unsigned use;      // RUN_OPT_* bits
} aca_run_opt;

// The table (*n rows), and a row by name (NULL when there is none).
const aca_run_opt *run_opts_table(int *n);
const aca_run_opt *run_opt_find(const char *name);
// Every row's default; the strings are the table's (static).
void run_setup_default(aca_run_setup *s);
// The last part of the row's GRID.json path ("max_len" of "train.max_len"); NULL without a path.
const char *run_opt_key(const aca_run_opt *o);
// 1 when the row's GRID.json path lies in section ("train", "dp"; "" for the top level).
int run_opt_in_section(const aca_run_opt *o, const char *section);
// 1 when some row's path is section.key (the grid's check for unknown fields).
int run_opts_has_key(const char *section, const char *key);
// The row's field in s.
void *run_opt_field(const aca_run_opt *o, aca_run_setup *s);
// The row's value in s as text ("5", "5e-05", "cpu", "poisson"; "on"/"off" for flags; "" for NULL/NaN).
void run_opt_value_text(const aca_run_opt *o, const aca_run_setup *s, char *out, size_t n);
// The one range check: x is stored into s when it is a value of the row (a number in its range, a
// whole number for whole-number rows, 0 or 1 for flags, an index for enums); else an ACA_ERR_VALUE
// error "<label>: must be a whole number in [1, 100000], got 0" (label: "--epochs", or
// "grid.json: train.epochs").  Numeric rows, flags and enums only.
int run_opt_set_num(const aca_run_opt *o, aca_run_setup *s, double x, const char *label, aca_err *e);
// The same check without storing.
int run_opt_check_num(const aca_run_opt *o, double x, const char *label, aca_err *e);
// A name or a path: for choices and enums one of meta's names ("<label>: must be one of cpu|cuda, got
// 'tpu'"); a string is stored as given (not copied).  String, choice and enum rows only.
int run_opt_set_str(const aca_run_opt *o, aca_run_setup *s, const char *v, const char *label, aca_err *e);
// A value as typed on the command line, read by the row's type (parse_long, parse_double, a seed as
// a whole number >= 0, a name) and stored through the two functions above; a flag is set (text unused).
int run_opt_set_text(const aca_run_opt *o, aca_run_setup *s, const char *text, const char *label, aca_err *e);
// Writes the rows with the `use` bit (RUN_OPT_CONFIG or RUN_OPT_DEFINITION) whose path lies in
// section (NULL: any) as keys of the object open in w, in the table's order; a RUN_OPT_IF_SET row
// only when s differs from its default.  RUN_OPT_CONFIG keys by name, numbers with 6 digits and
// flags as 0/1 (the results' "config" block); RUN_OPT_DEFINITION keys by the path's last part,
// numbers exact and flags as true/false (a grid cell's definition).  Enums are written as their
// names, NULL strings as null.
void run_opts_write_json(const aca_run_setup *s, unsigned use, const char *section, aca_jsonw *w);
// The row's value in s as run_opts_write_json writes it for `use` (without the key).
void run_opt_write_value(const aca_run_opt *o, const aca_run_setup *s, unsigned use, aca_jsonw *w);
// The row whose GRID.json path is path ("train.freeze_base"; a definition's keys are these paths),
// or NULL.
const aca_run_opt *run_opt_find_path(const char *path);
// The rules between the DP-SGD options and the others, for a setup with DP-SGD on (s->train.dp;
// 0 otherwise): one of dp_sigma and dp_epsilon; fixed sampling only with dp_sigma 0 (the
// accountant cannot bound shuffled batches: train_dp_fixed_refusal); no length buckets
// (train_dp_bucket_refusal); per-example gradients (dp_grad) on the CPU only; no fp16.  Each
// option is named through its row: grid_file NULL, by its flag ("--dp-grad per-example runs on the
// CPU backend only (--device cuda): ..."); else by "<grid_file>: <GRID.json path>" ("grid.json:
// dp.grad: 'per-example' runs on ...").  0, or -1 with an ACA_ERR_VALUE error.  The ranges of
// single options are the table's (run_opt_set_num); the trainer checks the same rules again, by
// flag (train_dp_check_opts).
int run_setup_check_dp(const aca_run_setup *s, const char *grid_file, aca_err *e);
// The setup's strings copied (xstrdup), so that run_opts_free_strings may free them: a GRID.json's
// setup owns its strings.
void run_opts_own_strings(aca_run_setup *s);
void run_opts_free_strings(aca_run_setup *s);

// Builds the setup's model (model_dir: checkpoint; config_path: random init from init_seed) on its
// device and precision, with a head of the data's n_classes classes, for batches up to max_B x
// s->max_len.  A checkpoint's head is matched to the classes by name (model_load: reordered when
// only the order differs); other classes, another count or a head without class names are errors
// unless s->new_head; a checkpoint without a head (a base model) gets a fresh head.
int run_load_model(const aca_run_setup *s, char *const *classes, int n_classes, int max_B, aca_model **out, aca_err *e);
// What run_load_model (and training with tok) would refuse of s's model, checked without building it
// or reading the data: the config loads, tok fits its vocabulary, s->max_len its positions, and a
// checkpoint's tensors have the config's shapes (model_check_checkpoint).
int run_check_model(const aca_run_setup *s, const aca_tokenizer *tok, aca_err *e);
// Frees the model and its backend.
void run_free_model(aca_model *m);

typedef struct {
    aca_run_act act;
    char *only;       // the acting collectives' names ("A", "A,B"; aca_run_cond.acting), NULL for none and joint
    char *cond_name;  // aca_run_cond.name: "none", "alone-<name>", "joint", "joint-<name>,<name>"
    char *data_dir;   // the mutated data dir (<work>/<cond>/data; written when write_data) or the setup's
    char *manifest;   // the data's manifest.json bytes (mutated here; NULL with a setup's data_dir)
    char *model_out;  // HF dir written, or NULL
    aca_eval_result eval;
    char **classes;   // (eval.clean.K) class names
    aca_train_stats train;
    uint64_t data_seed, train_seed;
    double t_mutate, t_tokenize, t_train, t_eval, t_total; // seconds
    size_t peak_rss;
    char device[64];
    char attention[16]; // the attention path that ran ("cpu", "gemm", "cudnn")
} aca_run_result;

// ---- the experiment context ---------------------------------------------------------------------
// What every condition of one experiment (`aca run`, a grid) shares, opened once: the corpus, loaded
// and SHA-256-hashed from the same single read (so every condition's manifest names the bytes it
// was made from), its class list, the parsed collectives spec and the model's tokenizer.
typedef struct {
    const aca_corpus *corpus; // NULL when the conditions read a mutated data dir (setup data_dir)
    const char *corpus_path;  // as messages and manifests name it
    const aca_spec *spec;     // the collectives; a grid gives each cell a context with its own
    const aca_tokenizer *tok;
    // what run_ctx_open loaded (run_ctx_close frees it); a context put together by hand owns nothing
    aca_corpus own_corpus;
    aca_spec own_spec;
    aca_tokenizer *own_tok;
    int owns;
} aca_run_ctx;

// Opens s's context: the corpus (s->corpus_path, s->corpus_opts) and the spec (s->spec_path) when
// given, and the tokenizer (s->vocab_path, else s->model_dir's).  Errors name the file.
int run_ctx_open(aca_run_ctx *x, const aca_run_setup *s, aca_err *e);
void run_ctx_close(aca_run_ctx *x);

// Runs one condition: mutates x's corpus by x's spec for c in memory (mutate_apply; the unpoisoned
// baseline through spec_unpoisoned), writes the data to <work>/<cond>/data when s->write_data, and
// tokenizes (through the token cache), trains and evaluates on the sets in memory.  With
// s->data_dir, the data dir's files instead (then c must be what it holds).
int run_condition(const aca_run_setup *s, const aca_run_ctx *x, const aca_run_cond *c, aca_run_result *r,
                  aca_err *e);
void run_result_free(aca_run_result *r);
// One JSON object (no newline): config (setup), seeds, git revision, device, timings, metrics.
void run_result_to_json(const aca_run_setup *s, const aca_run_result *r, aca_buf *out);
// Appends line + '\n' to path under an exclusive lock with one write (see the top of this file).
int run_results_append(const char *path, const char *line, size_t n, aca_err *e);

// The whole experiment of a spec: [none], each collective alone, all joint.
typedef struct {
    int n_coll;
    char **names;
    aca_run_result none;   // valid when has_none
    int has_none;
    aca_run_result *alone; // (n_coll)
    aca_run_result joint;
    // (n_coll) each, filled by experiment_measure (NaN where undefined):
    double *delta;           // eff_i(joint) - eff_i(alone)
    double *unpoisoned_eff;  // the unpoisoned model's efficacy on i's probes, g_i(X~_i|theta') (needs none)
    double *unpoisoned_rate; // the unpoisoned model's clean target rate for i's target (needs none)
    double *ct_karan;        // Karan et al.'s CT = delta / unpoisoned_eff (eval_ct_karan)
    double *delta_over_lift; // eval_delta_over_lift with the alone model's clean target rate (JSON "ct_rel")
} aca_experiment;

// Runs the conditions in order none (when with_none), alone for each collective, joint; appends
// each result to results_path (when non-NULL) as it finishes.  on_cond (may be NULL) is called
// before each condition with its name, for progress reporting.
int run_experiment(const aca_run_setup *s, int with_none, const char *results_path,
                   void (*on_cond)(const char *cond, int i, int n, void *ctx), void *ctx, aca_experiment *x,
                   aca_err *e);
void experiment_free(aca_experiment *x);
// Fills the per-collective measures above from x's results (run_experiment calls it); an error
// when a collective has no probe results in its alone or joint condition.
int experiment_measure(aca_experiment *x, aca_err *e);
// The summary tables (text): clean accuracy per condition; each collective's efficacy alone and
// joint (all / non-target) and the unpoisoned target rate; delta joint-alone (points), the
// unpoisoned efficacy and CT (Karan, normalised).
void experiment_summary(const aca_experiment *x, aca_buf *out);
// JSON summary object of the experiment: clean_accuracy {condition: acc}, collectives [{name,
// eff_alone, eff_alone_nontarget, eff_joint, eff_joint_nontarget, delta_joint_alone,
// unpoisoned_eff, ct_karan, unpoisoned_target_rate, alone_clean_target_rate, and the aliases of
// older versions: ct (= delta_joint_alone), baseline (= alone_clean_target_rate), ct_rel
// (= delta_over_lift)}].
void experiment_to_json(const aca_experiment *x, aca_buf *out);

#endif
