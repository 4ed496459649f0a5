// Experiment grids (`aca grid GRID.json`): many fully determined conditions ("cells") of one set of
// collectives — the unpoisoned model (cell kind GRID_CELL_BASELINE, "unpoisoned" in the report),
// each collective alone at each participation level, the collectives joint (all; optionally every
// pair and every all-but-one) — over trials with derived seeds, run one by one (resumable, one cell
// per Slurm array task), then aggregated into tables (mean and sample std over trials, the
// joint-alone difference and Karan et al.'s CT, the pairwise matrices, leave-one-out harm, per-class
// recall cost) and gnuplot figures in the style of Karan et al. (FAccT 2025) Figures 3 and 4.
//
// GRID.json (unknown fields anywhere are an error naming the JSON path).  The fields of "split", "model",
// "train" and "dp" and the top-level "device", "precision" and "attention" are the run options of
// run.h's table: their types, defaults and ranges are the command line's (src/run_opts.c), and so
// are the messages, naming the path ("grid.json: train.lr: must be a number > 0, got 0").
//   name         string (titles, Slurm job name; default: the file's base name)
//   seed         whole number >= 0: the grid seed (default 0).  Trial t uses data seed
//                grid_trial_seed(seed, t, GRID_SEED_DATA) (split + membership) and train seed
//                grid_trial_seed(seed, t, GRID_SEED_TRAIN) (init, dropout, batch order).
//   corpus       {"path": FILE, "encoding": "auto"|"utf8"|"cp1252"} or
//                {"synthetic": N docs, "seed": S, "char_rates": {"{": 0.001, "U+2E17": 0.01}}
//                (written once to OUT/corpus.txt; char_rates: share of documents holding each
//                character, on top of the defaults of corpus_synth_opts_default, see corpus.h)
//   split        {"train": N, "test": N}, both (default, or 0 and 0: mutate's)
//   model        {"dir": HF checkpoint} or {"config": config.json} (random init; default
//                models/configs/distilbert-tiny.json), optional "vocab" (default: the checkpoint's,
//                else models/vocab/bert-base-uncased.txt).  In these paths and corpus.path, ${NAME} is
//                the environment variable NAME (unset or empty: an error naming the field), e.g.
//                {"dir": "${ACA_MINILM_DIR}"}
//   train        {"epochs", "batch", "lr", "weight_decay", "max_grad_norm", "max_len", "bucket",
//                 "eval_batch", "freeze_base"} (defaults: the HF Trainer's, max_len 512, eval_batch 32;
//                freeze_base false: train.h, only the parameters outside the pretrained base train)
//   device       "cpu" | "cuda";  precision "fp32" | "bf16" | "fp16"
//   attention    "auto" (default) | "gemm" | "cudnn": the CUDA attention path (ops.h)
//   overlap      "disjoint" (default) | "allow"
//   collectives  non-empty array of collective objects as in the collectives spec (spec.h) without
//                "size"/"members", plus optional per-collective "levels" or "counts"
//   levels       participation levels, fractions in (0,1] of the training split   } exactly one,
//   counts       participation levels as member counts >= 1                        } here or per collective
//   trials       whole number >= 1 (default 1)
//   period       insertion period for collectives without one: a number >= 1 or an array (an axis)
//   homogeneity  p in [0,1] or an array (an axis): collectives without "sampling" draw members with
//                {"kind": "propensity", "seed_class": <their target>, "p": p}
//   dp           DP-SGD training (train.h): {"epsilon": E or an array (an axis; each E > 0, or
//                "none" for training without DP), "delta": D in (0,1) (default 1e-5), "clip": C > 0
//                (default 1), "sampling": "poisson" (the only one accepted beside a DP cell: "fixed" is
//                refused, as is "train.bucket"; see run_setup_check_dp), "freeze_embeddings": false,
//                "grad": "ghost" (default; any device) | "per-example" (CPU), "micro_batch": 32 (ghost:
//                examples per forward pass)} (see train.h); sigma is chosen per cell so that the whole
//                training spends E at D.  "precision": "fp16" is refused beside a DP cell, and "grad":
//                "per-example" beside "device": "cuda".
//   planner      true or {"delta": D in (0,1)} (default 0.05): the report adds the planner's lower
//                bound (plan.h) beside the measured success of each collective's alone runs, as a
//                table in summary.md and plots/staircase.* (feature-label and unplant collectives)
//   runs         {"baseline": true, "alone": true, "joint": true, "mode": "line"|"product",
//                 "pairs": false, "loo": false}
//                line: point k sets every collective to its k-th level (all need as many levels);
//                product: joint cells at every combination of levels (Figure 4).  pairs: every
//                pair acts jointly (N > 2); loo: every all-but-one subset acts (N > 2; for N = 2 the
//                alone cells are those).  pairs and loo need mode line.
//
// Cells.  Order: trial, then axis variant (period x homogeneity), then baseline, alone (collective,
// level), joint (line points or product combinations, last collective fastest), pairs, leave-one-out.
// Ids: "none-t0", "alone-A0=0.02-t1", "joint-A0=0.02-B1=0.02-t1" (acting collectives and their
// levels; counts as integers), with "-P<period>" / "-h<p>" / "-e<epsilon>" ("-enone") before "-t"
// when that axis has more than one value.  Numbers are written as %g, or with as many digits as it
// takes to read back the same number.  An id over GRID_ID_MAX bytes (long collective names) keeps the
// first 100 bytes of its kind, names and levels, then "-" and 16 hex digits of their SHA-256, then the
// axes and trial.  An id that repeats (a pair that is the whole set) is one cell.  In an alone or
// subset cell the idle collectives keep their sizes (line: the same point's levels; product: their
// first level) so that membership matches the joint cell (mutate samples every collective).
//
// Running a cell: OUT/cells/<id>/ is removed and recreated, spec.json (the derived collectives spec,
// sizes filled in) written, the condition run (run_condition: the acting set of the cell; a pair or
// all-but-one subset is its own condition, "joint-A,B"), its data manifest kept as manifest.json, then
// OUT/cells/<id>/result.json written atomically ({"grid": {cell id, index, kind, trial, variant,
// acting, levels, seeds, definition}, "result": the run_result JSON}) and the same line added to
// OUT/results.jsonl (rebuilt from the cells, in cell order, when a run starts and ends and on a
// report: the cells' result.json files are the truth).  A cell whose result.json exists and parses
// with the same id is skipped, so a grid killed at any point resumes where it stopped.  The corpus
// is read, hashed and parsed once per process (grid_inputs) and every cell mutates that copy in
// memory (mutate_apply); the inputs are checked before and after every cell
// (grid_inputs_unchanged), so a cell during which one was edited fails unrecorded.  The token
// cache is shared: OUT/tokcache.  A cell's data directory (<cond>/data) is written only with
// keep_work.
//
// Worker processes (--jobs) die with the grid: each asks the kernel for SIGKILL when its parent
// dies, and the parent, on SIGINT or SIGTERM, sends its workers SIGTERM, waits for them, then
// re-raises the signal with the handler it found (workers ignore SIGINT: the parent decides).
#ifndef ACA_GRID_H
#define ACA_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "aca/run.h"
#include "aca/util.h"

#define GRID_MAX_COLL 16
// Cell ids longer than this are shortened (see "Ids" above) to at most 200 bytes, so that
// OUT/cells/<id>/ and every file named after the id stay within a file name's 255 bytes.
#define GRID_ID_MAX 200
#define GRID_MAX_INPUTS 12

// One input file of a grid (the corpus, the model config, the checkpoint weights, each file of the
// tokenizer) and its SHA-256.
typedef struct {
    char role[64];     // "corpus", "model config", "checkpoint weights", "vocabulary" (a file),
                       // "tokenizer <file name>" (each tokenizer file of a directory)
    const char *field; // the GRID.json field that names it: "corpus.path", "model.config", ...
    char *path;
    char sha256[65];
    int64_t stamp[5]; // device, inode, size, mtime and ctime (ns) when hashed: unchanged means not re-hashed
} aca_grid_input;

// The inputs of a grid, resolved and hashed once per process (grid_inputs), and the corpus loaded
// from the very bytes its hash was computed from: the grid's experiment context (run.h) holds it,
// and no cell reads the corpus file again.
typedef struct {
    char *out_dir; // the OUT they were resolved for (a synthetic corpus lives there); NULL: not yet
    aca_grid_input v[GRID_MAX_INPUTS];
    int n;
    aca_corpus corpus;  // valid when corpus_ok
    int corpus_ok;
    aca_err corpus_err; // why the corpus did not load (read and hashed, but not parsed), when !corpus_ok
} aca_grid_inputs;

typedef enum { GRID_CELL_BASELINE = 0, GRID_CELL_ALONE, GRID_CELL_JOINT } aca_grid_cell_kind;
typedef enum { GRID_MODE_LINE = 0, GRID_MODE_PRODUCT } aca_grid_mode;
enum { GRID_SEED_DATA = 1, GRID_SEED_TRAIN = 2 };

typedef struct {
    char *name;
    char *target;
    char *json;      // the collective's object (without levels/counts), as written
    int has_period;  // the object names its own period
    int has_sampling;
    double *levels;  // (n_levels) fractions in (0,1], or counts when is_count
    int n_levels;
    int is_count;
} aca_grid_coll;

typedef struct {
    char *path;   // GRID.json as given
    char *name;
    uint64_t seed;
    // data
    char *corpus_path;     // NULL: synthetic
    long synth_docs;
    uint64_t synth_seed;
    aca_synth_opts synth_opts; // character rates of the synthetic corpus (corpus.char_rates)
    char *encoding;        // NULL: auto
    // The run options of the "model", "split", "train" and "dp" sections and of "device", "precision"
    // and "attention" (run.h's table; its strings owned by the spec): every cell's base setup.  DP-SGD
    // is off here: a cell turns it on with its epsilon (below).
    aca_run_setup run;
    char *overlap;
    // collectives and axes
    aca_grid_coll *coll;
    int n_coll;
    int trials;
    int *periods;          // (n_periods); 0 = each collective's own / the spec default
    int n_periods;
    double *homog;         // (n_homog); < 0 = no homogeneity override
    int n_homog;
    double *eps;           // (n_eps) DP-SGD target epsilon; < 0 = no DP (also the only value without "dp")
    int n_eps;
    int planner;           // report the planner's bound beside the measured success
    double planner_delta;  // 0.05
    // runs
    int baseline, alone, joint, pairs, loo;
    aca_grid_mode mode;
    aca_grid_inputs *inputs; // filled on first use by grid_inputs (allocated by grid_spec_parse)
} aca_grid_spec;

int grid_spec_parse(const char *json, const char *path_for_errors, aca_grid_spec *g, aca_err *e);
int grid_spec_load(const char *path, aca_grid_spec *g, aca_err *e);
void grid_spec_free(aca_grid_spec *g);

// Deterministic per-trial seed (< 2^32) from the grid seed, the trial index and the purpose.
uint64_t grid_trial_seed(uint64_t grid_seed, int trial, int purpose);

typedef struct {
    char *id;
    int index;
    aca_grid_cell_kind kind;
    int trial;
    int variant;        // index into period x homogeneity x epsilon (grid_variant_axes)
    unsigned acting;    // bit i: collective i acts (0 for the baseline)
    int level_idx[GRID_MAX_COLL]; // each collective's level index (its size in this cell)
} aca_grid_cell;

// Variants: every combination of the axes period x homogeneity x epsilon, epsilon fastest.
static inline int grid_n_variants(const aca_grid_spec *g) { return g->n_periods * g->n_homog * g->n_eps; }
static inline void grid_variant_axes(const aca_grid_spec *g, int variant, int *period_i, int *homog_i, int *eps_i) {
    *eps_i = variant % g->n_eps;
    *homog_i = variant / g->n_eps % g->n_homog;
    *period_i = variant / (g->n_eps * g->n_homog);
}

// Enumerates the cells (order and ids above).  *cells is malloc'd; free with grid_cells_free.
int grid_cells(const aca_grid_spec *g, aca_grid_cell **cells, int *n, aca_err *e);
void grid_cells_free(aca_grid_cell *cells, int n);
// The derived collectives spec of a cell (sizes filled in, seed = the trial's data seed).
void grid_cell_spec_json(const aca_grid_spec *g, const aca_grid_cell *c, aca_buf *out);
// The level of collective i in cell c as text ("0.02", "40").
void grid_level_str(const aca_grid_spec *g, int i, int level_idx, char *out, size_t n);

typedef struct {
    const char *out_dir;
    int cell;          // >= 0: run only that cell
    int keep_work;     // keep each cell's data/ and ckpt/ directories
    int jobs;          // > 1: that many worker processes share the cells (cell k goes to worker k mod jobs);
                       // each gets cores/jobs OpenMP threads, and with device cuda its own CUDA context,
                       // so several small cells run at once on one GPU.  Results do not depend on it.
    // progress (may be NULL): called before each cell (result NULL) and after (result set)
    void (*on_cell)(const aca_grid_spec *g, const aca_grid_cell *c, int n_cells, int skipped,
                    const aca_run_result *r, double eta_s, void *ctx);
    void *ctx;
    void (*on_step)(const aca_train_progress *p, void *ctx); // training progress (may be NULL)
    void *on_step_ctx;
} aca_grid_opts;

typedef struct {
    int n_cells, ran, skipped;
} aca_grid_stats;

// Runs the grid's cells (all, or o->cell), skipping finished ones; see "The output directory".
int grid_run(const aca_grid_spec *g, const aca_grid_opts *o, aca_grid_stats *st, aca_err *e);
// 1 when OUT/cells/<id>/result.json exists and is a valid result of that cell.
int grid_cell_done(const char *out_dir, const aca_grid_cell *c);

// ---- the output directory (src/grid_out.c; its inputs: src/grid_inputs.c) -------------------------
// OUT holds: grid.json (the spec last run there), inputs.json (the record of the input files:
// role, GRID.json field, path, SHA-256, and a synthetic corpus's settings; written when the grid
// first starts), corpus.txt (a synthetic corpus), cells/<id>/ (spec.json, manifest.json and
// result.json, whose "grid" object holds the cell's "definition": every setting its result depends
// on, input hashes included), results.jsonl (derived: each finished cell's result.json as one
// line), tokcache/, locks/ and the report (summary.*, plots/, bundle/).
//
// What a grid refuses, before any cell runs:
// - an --out that is neither new, empty, nor a grid's (nothing else is overwritten there);
// - an input file whose SHA-256 differs from the record, or a synthetic corpus of other settings
//   (the message names the GRID.json field, both paths and both hashes).  Only when no cell has
//   finished and the whole grid is being run are the new inputs recorded instead;
// - a finished cell whose definition differs from the one the spec now gives it (a changed seed,
//   split, training setting, collective, level, axis value...), naming the field.  Changes that
//   leave every finished cell's definition alone are fine: more trials, new levels or axis values
//   appended, more runs (pairs, loo), the name, the planner.  (A setting that a recorded definition
//   does not name, written by an older aca, is not compared, except a run option written only when
//   it differs from its default, run.h's RUN_OPT_IF_SET: train.freeze_base, absent when false.);
// - anything a cell would fail on for want of a valid input (grid_check);
// - another process: a whole-grid run takes OUT/locks/grid exclusively; a --cell run takes it
//   shared and OUT/locks/cell-<id> exclusively, so Slurm tasks of one grid run side by side.
// --report (grid_aggregate) checks the record and the definitions the same way, writing nothing.
// A process hashes each input once (g->inputs caches them).
typedef enum { GRID_OUT_RUN = 0, GRID_OUT_CELL, GRID_OUT_REPORT } aca_grid_out_mode;
struct cJSON;

// The inputs of g for out_dir (a synthetic corpus is OUT/corpus.txt), stamped and hashed on first
// use in this process (g->inputs keeps them), the corpus parsed from the bytes its hash was taken of.
int grid_inputs(const aca_grid_spec *g, const char *out_dir, const aca_grid_inputs **in, aca_err *e);
void grid_inputs_free(aca_grid_inputs *in);
// 0 when every input still has the content it was hashed with, else an error naming the GRID.json
// field and the file: an input edited while the grid runs would make the cells after the edit come
// from another input than the record says (the model and the tokenizer files are still read by
// every cell; the corpus no longer is, but a result recorded against a file that has since changed
// would be one nobody can reproduce from it).  The check is stat-based: each input was stamped
// (device, inode, size, mtime and ctime in ns) just before its one hash; an unchanged stamp means
// unchanged bytes without reading them, and only a moved stamp makes it re-hash the file (a touch
// that keeps the bytes passes).  So a cell costs a few stat calls, not a read of the corpus.
int grid_inputs_unchanged(const aca_grid_spec *g, const aca_grid_inputs *in, aca_err *e);
// The input of that role ("corpus", "model config", "checkpoint weights", "vocabulary"), or NULL.
const aca_grid_input *grid_input_of(const aca_grid_inputs *in, const char *role);
// 0 when out_dir is missing, empty or a grid's output directory.
int grid_out_is_grid(const char *out_dir, aca_err *e);
// Checks the record, the synthetic corpus (written when missing, except for a report) and the
// definitions of the finished cells lo..hi-1 against g (see above).
int grid_out_check(const aca_grid_spec *g, const char *out_dir, const aca_grid_cell *cells, int n, int lo, int hi,
                   aca_grid_out_mode mode, aca_err *e);
// After grid_out_check and grid_check: writes OUT/grid.json and the record (not for a report).
int grid_out_commit(const aca_grid_spec *g, const char *out_dir, aca_grid_out_mode mode, aca_err *e);
// Everything the cells lo..hi-1 need, checked before the first runs: the corpus loads and has the
// split's documents and the collectives' classes; every cell's mutation is feasible (mutate_check:
// sizes, pools, classes); the model config, checkpoint weights and vocabulary load; the vocabulary
// fits the model; max_len fits its positions; a checkpoint's head fits the corpus's classes.
// Errors name the GRID.json field (src/grid_check.c).
// On success *tok is the tokenizer the check loaded, the one the cells use (tokenizer_free it).
int grid_check(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *cells, int lo, int hi,
               aca_tokenizer **tok, aca_err *e);
// The definition of cell c (JSON object text appended to b).
void grid_cell_definition(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *c, aca_buf *b);
// OUT/cells/<id>[/file] (malloc'd).
char *grid_cell_path(const char *out_dir, const aca_grid_cell *c, const char *file);
// The parsed result.json of c when it is a valid result of that cell (caller deletes), else NULL;
// with text, its bytes too.
struct cJSON *grid_cell_result(const char *out_dir, const aca_grid_cell *c, aca_buf *text);
// flock on OUT/locks/<name> (created), exclusive or shared, waiting or not; busy says what a lock
// held elsewhere means ("... is being run by another process"), and the message names the holders.
int grid_lock(const char *out_dir, const char *name, int exclusive, int wait, const char *busy, int *fd, aca_err *e);
void grid_unlock(int fd);
// results.jsonl: every finished cell's result.json as one line, in cell order (collect returns the
// count); rebuild writes it atomically; add appends one cell's line unless it is there already.
// Both hold OUT/locks/results, so concurrent cells, runs and reports never lose or repeat a line.
int grid_results_collect(const char *out_dir, const aca_grid_cell *cells, int n, aca_buf *out);
int grid_results_rebuild(const char *out_dir, const aca_grid_cell *cells, int n, aca_err *e);
int grid_results_add(const char *out_dir, const aca_grid_cell *c, const char *line, size_t n, aca_err *e);
// Rewrites the command-line options named in a message (--max-len ...) as the GRID.json fields
// that set them in a grid (train.max_len ...), the message then starting with the spec's path.
void grid_err_fields(const aca_grid_spec *g, aca_err *e);

// ---- aggregation (src/grid_aggregate.c) and report (src/grid_report.c) --------------------------
// One cell's metrics as read back from result.json.
typedef struct {
    int have;
    int cell;             // index into the cells
    double acc;
    double eff[GRID_MAX_COLL], eff_nt[GRID_MAX_COLL]; // per collective (probe set), NaN if absent
    double agree[GRID_MAX_COLL];  // probes predicted as their unmodified test doc (eval.h agreement)
    double baseline[GRID_MAX_COLL];
    int K;
    double *recall;       // (K) per-class recall on the clean test set
    char **classes;       // (K)
} aca_grid_metrics;

// A group: cells that differ only in the trial.
typedef struct {
    aca_grid_cell_kind kind;
    int variant;
    unsigned acting;
    int level_idx[GRID_MAX_COLL]; // meaningful for acting collectives
    int n;                        // trials present
    double acc_mean, acc_std;
    double eff_mean[GRID_MAX_COLL], eff_std[GRID_MAX_COLL];
    double eff_nt_mean[GRID_MAX_COLL], eff_nt_std[GRID_MAX_COLL];
    double agree_mean[GRID_MAX_COLL], agree_std[GRID_MAX_COLL];
    // for joint groups, paired over trials: delta joint-alone = eff_i(this) - eff_i(alone at the same
    // level) (ct_*: the name of aca's "CT" before December 2026), and Karan et al.'s CT = that delta
    // / eff_i(unpoisoned model of the same trial and variant) (ctk_*; NaN where the unpoisoned
    // efficacy is 0 or missing; see eval.h)
    double ct_mean[GRID_MAX_COLL], ct_std[GRID_MAX_COLL];
    int ct_n[GRID_MAX_COLL];
    double ctk_mean[GRID_MAX_COLL], ctk_std[GRID_MAX_COLL];
    int ctk_n[GRID_MAX_COLL];
    double *recall_mean;          // (K) mean per-class recall
    int first_cell;               // a representative cell index (for its id without the trial)
} aca_grid_group;

typedef struct {
    const aca_grid_spec *g;
    aca_grid_cell *cells;
    int n_cells;
    aca_grid_metrics *m;   // (n_cells)
    int n_done;
    aca_grid_group *groups;
    int n_groups;
    int K;
    char **classes;        // (K) from the first finished cell
    struct grid_stairs *stairs; // with g->planner: the planner's bound beside the measured success
                                // of each collective's alone runs (src/grid_planner.c), else NULL
} aca_grid_agg;

// Mean and sample standard deviation (n-1; 0 for n = 1; NaN for n = 0) of the finite values of x.
void grid_mean_std(const double *x, int n, double *mean, double *std, int *n_used);
// Reads every finished cell's result.json under out_dir and aggregates.  Unfinished cells are
// left out (m[k].have = 0).  With g->planner, also the planner's rows, from the grid's corpus.
int grid_aggregate(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e);
// Aggregates metrics already filled in a->m (tests; grid_aggregate calls it).
void grid_aggregate_metrics(aca_grid_agg *a);
void grid_agg_free(aca_grid_agg *a);
// Group of (kind, variant, acting, levels of the acting collectives), or -1.
int grid_find_group(const aca_grid_agg *a, int variant, unsigned acting, const int *level_idx);
// Leave-one-out harm of collective j on i at a line point: eff_i(all) - eff_i(all minus j), NaN
// when a run is missing; and the pairwise matrix of differences eff_i({i,j} joint) - eff_i(alone)
// (diagonal NaN; from the group means).
double grid_loo_harm(const aca_grid_agg *a, int variant, int point, int i, int j);
double grid_ct_pair(const aca_grid_agg *a, int variant, int point, int i, int j);

// Writes OUT/summary.csv, OUT/summary.md, OUT/plots/* (gnuplot; a note on stderr when it is
// missing) and OUT/bundle/ (src/grid_report.c).  With a->stairs, summary.md and plots/staircase.*
// add the planner's bound beside the measured success.
int grid_report(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e);
int grid_write_summary(const aca_grid_agg *a, aca_buf *csv, aca_buf *md);
// The figures of Karan et al.'s Figures 3 and 4 under plot_dir (src/grid_plots.c, gnuplot.h).
int grid_write_plots(const aca_grid_agg *a, const char *plot_dir, int run_gnuplot, aca_err *e);
// Appends the shell command `EXE grid GRID --out OUT`, each path one shell word (buf_sh_quote).
void grid_command(aca_buf *b, const char *exe, const char *grid_path, const char *out_dir);
// The Slurm array script for the grid (written atomically to path; src/grid_slurm.c).
int grid_emit_slurm(const aca_grid_spec *g, const char *grid_path, const char *out_dir, const char *exe,
                    const char *path, int n_cells, aca_err *e);

#endif
