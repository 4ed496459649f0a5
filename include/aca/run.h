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
#include "aca/run_opts.h"
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
