// The aca command line: one function per subcommand (src/cli/<name>.c), dispatched by main.c.
// Each returns the process exit status (util.h ACA_EXIT_*, README "Guarantees"): 0 ok, 2 usage
// error, 3..9 by the error's kind (cli_fail), 1 a failure of no kind; 128 + n after signal n.
#ifndef ACA_CLI_H
#define ACA_CLI_H

#include "aca/outdir.h"
#include "aca/run.h"
#include "aca/train.h"
#include "aca/util.h"

typedef int (*cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    cli_fn fn;
    const char *summary;
} cli_command;

// Prints "aca: <message>" to stderr and returns the exit status for the error's kind.
int cli_fail(const aca_err *e);
// Checks an output (outdir.h out_check: not an input, not something aca did not write) before any
// work; prints the error.  0 ok, else the exit status.  inputs: n paths, NULL entries skipped.
int cli_check_out(const aca_out *o, const char *const *inputs, int n);
// 1 when the option `name` ("--cell") of opts was given on the command line (after opt_parse).
int cli_opt_seen(const aca_opt *opts, int n, const char *name);

// Subcommands (argv[0] is the subcommand name).
int cmd_corpus(int argc, char **argv);
int cmd_mutate(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_collide(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_grid(int argc, char **argv);

// Training progress on stderr (src/cli/train.c): a bar redrawn in place on a terminal, plain log
// lines otherwise.  Pass cli_progress_step as aca_train_opts.on_step with the state as context.
typedef struct {
    const char *label;
    int tty;
    int dirty; // a bar is drawn without its newline
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_step(const aca_train_progress *s, void *ctx);
void cli_progress_end(cli_progress *p);
void cli_print_train_end(const aca_train_stats *st, const char *device);
// The run options of train, run and demo (src/cli/run_opts.c): their entries of the command's
// options made from run.h's table, and the values given, checked and stored into the setup.
#define CLI_MAX_OPTS 64
typedef struct {
    const aca_run_opt *row[CLI_MAX_OPTS];
    aca_opt *opt[CLI_MAX_OPTS];       // the row's entry in the command's options
    const char *text[CLI_MAX_OPTS];   // the value given
    int on[CLI_MAX_OPTS];             // a flag given
    char help[CLI_MAX_OPTS][200];
    int n;
} cli_run_opts;
// Fills opts (room for CLI_MAX_OPTS entries; c keeps pointers into it): the command's own options
// (n_own), then the run options that `command` (RUN_OPT_CMD_TRAIN ...) offers, in the table's order,
// each with its help and its default in s.  Returns the number of entries.
int cli_run_opts_build(cli_run_opts *c, unsigned command, const aca_run_setup *s, const aca_opt *own, int n_own,
                       aca_opt *opts);
// After opt_parse: each run option given read and checked by the table (run_opt_set_text; the message
// names the flag) and stored into s; --init-seed defaults to --seed; DP-SGD is on when --dp-sigma or
// --dp-epsilon was given (the other --dp-* flags need one of them), and the rules between it and
// the other options checked (run_setup_check_dp: no fixed sampling with noise, no --bucket,
// per-example gradients only on the CPU, no fp16).  0, else the error is printed and the exit
// status (2) returned.
int cli_run_opts_apply(const cli_run_opts *c, aca_run_setup *s);
// 1 when the run option `name` (run.h: "init_seed") was given.
int cli_run_opts_seen(const cli_run_opts *c, const char *name);
// A file shipped with the repository (e.g. "models/vocab/bert-base-uncased.txt"): rel itself when it
// exists (run from the repo root), else looked up next to the binary; NULL when not found.
const char *cli_find_resource(const char *rel, char *buf, size_t n);
// Shared by run and demo (src/cli/run.c): default model (tiny config + uncased BERT vocab) when
// none is given (0 ok, else an exit status); run an experiment with progress, write
// OUT/summary.{txt,json}, print the summary (text or JSON).  x is filled (free with experiment_free).
int cli_default_model(aca_run_setup *s, char *cfg_buf, char *vocab_buf, size_t n);
int cli_run_experiment(const aca_run_setup *s, int with_none, const char *out_dir, const char *results, int json,
                       aca_experiment *x);
// --char-rate of corpus synth, run and demo (src/cli/run.c): the synthetic corpus's defaults with
// the list's rates on top (corpus_synth_parse_rates); 0 ok, else the error is printed (exit 2).
#define CLI_CHAR_RATE_HELP                                                                                       \
    "synthetic corpus: share of documents holding each character, e.g. '{=0.05,U+2E17=0.001' "                  \
    "(default: '{' and '}' at 0.0008 each, the real resume corpus's rarity)"
int cli_synth_opts(const char *rates, aca_synth_opts *o);

#endif
