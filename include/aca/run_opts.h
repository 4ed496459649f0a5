// The setup of a run: where its data and model come from, how it trains and where it runs, and
// every option a user sets, each declared once in a table (src/run_opts.c).  `aca train`, `aca run`,
// `aca demo`, a grid's cells and the session (session.h) read the setup; results write it back.
#ifndef ACA_RUN_OPTS_H
#define ACA_RUN_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/corpus.h"
#include "aca/jsonw.h"
#include "aca/train.h"
#include "aca/util.h"

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

#endif
