// The evaluator: clean accuracy and confusion matrix on the test set, each collective's efficacy on
// its probe set (test documents with the collective's signal inserted), and the constructiveness
// score CT.  Also the reader of a mutated data directory (`aca mutate` output) shared by train,
// eval and run.
//
// Efficacy of collective i (Karan et al.): the fraction of its probes classified as its target
// class.  Reported three ways so a high base rate cannot pass for success:
//   efficacy            over all probes,
//   efficacy_nontarget  over probes whose true label is not the target,
//   baseline            the fraction of the UNMODIFIED test documents predicted as the target
//                       (baseline_nontarget: the same over test docs whose label is not the target).
// CT(i) = eff_i(joint) - eff_i(alone); ct_rel = CT / (eff_i(alone) - baseline_i), the change as a
// fraction of the lift the collective achieved alone (NaN when that lift is <= 0).
#ifndef ACA_EVAL_H
#define ACA_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/model.h"
#include "aca/tokenizer.h"
#include "aca/train.h"
#include "aca/util.h"

// ---- the mutated data directory ----------------------------------------------------------------
typedef struct {
    char *name;
    char *target;     // class name as canonical in classes[]
    int target_id;    // index into classes
    char *probe_path; // DIR/probe_<name>.jsonl
    int acts;         // 1 when this collective mutated train.jsonl (manifest "acting"), else probes only
} aca_datadir_coll;

typedef struct {
    char *dir;
    char **classes; // class list from manifest.json, index = label id
    int n_classes;
    aca_datadir_coll *coll;
    int n_coll;
    uint64_t seed;  // the manifest's data seed (0 if absent)
    char *train_path, *test_path;
} aca_datadir;

// Reads DIR/manifest.json (classes, collectives) and checks that train.jsonl, test.jsonl and every
// probe file exist.  Errors name the file and the field.
int datadir_open(const char *dir, aca_datadir *dd, aca_err *e);
void datadir_free(aca_datadir *dd);

// Tokenizes a JSONL file of {"text":..., "label": class name} lines with tok at max_len, labels
// mapped through the class list (an unknown label is an error naming file:line).  With cache_dir
// (may be NULL) the tokens come from, or go to, the token cache there (tokcache.h): a file
// tokenized once for a tokenizer, max length and class list is read back by later runs.
int data_load_jsonl(const char *path, char *const *classes, int n_classes, const aca_tokenizer *tok,
                    int max_len, const char *cache_dir, aca_dataset *out, aca_err *e);

// ---- metrics -----------------------------------------------------------------------------------
typedef struct {
    int K;
    size_t n, correct;
    double accuracy;
    long *confusion; // (K,K) row = true class, column = predicted class
} aca_clean_metrics;

typedef struct {
    char *name;
    int target;
    size_t n, hits;                   // all probes
    double efficacy;
    size_t n_nontarget, hits_nontarget; // probes whose true label != target
    double efficacy_nontarget;
    double baseline;           // unmodified test docs predicted as target
    double baseline_nontarget; // the same over test docs whose label != target
    double agreement;          // probes predicted as their unmodified test document (probe i is test doc
                               // i with the signal): the success of erasing; NaN when the counts differ
} aca_efficacy;

typedef struct {
    aca_clean_metrics clean;
    int n_coll;
    aca_efficacy *eff; // (n_coll), in the data dir's collective order
    double seconds;
} aca_eval_result;

// Argmax predictions (n) for every document of d, batches of `batch` (dropout off).
int eval_predict(aca_model *m, const aca_dataset *d, int batch, int32_t *pred, aca_err *e);
// Accuracy and confusion from labels and predictions (n); labels must be in [0,K).
void eval_clean(const int32_t *labels, const int32_t *pred, size_t n, int K, aca_clean_metrics *out);
void clean_metrics_free(aca_clean_metrics *c);
// Efficacy of one collective: probe labels/predictions (n_probe) and the clean test
// labels/predictions (n_test) for the baseline.  out->name is left untouched.
void eval_efficacy(const int32_t *probe_labels, const int32_t *probe_pred, size_t n_probe,
                   const int32_t *test_labels, const int32_t *test_pred, size_t n_test, int target,
                   aca_efficacy *out);
double eval_ct(double eff_joint, double eff_alone);
double eval_ct_rel(double eff_joint, double eff_alone, double baseline);

typedef struct {
    int batch;             // 32
    int max_len;           // 512
    const char *cache_dir; // token cache directory or NULL
} aca_eval_opts;

// Evaluates m on dd's test set and every probe set.  The model's head must have dd->n_classes
// outputs.
int eval_datadir(aca_model *m, const aca_tokenizer *tok, const aca_datadir *dd, const aca_eval_opts *o,
                 aca_eval_result *r, aca_err *e);
void eval_result_free(aca_eval_result *r);
// JSON object {"accuracy","n_test","confusion":[[..]],"classes":[..],"collectives":[{...}]}.
void eval_result_to_json(const aca_eval_result *r, char *const *classes, aca_buf *out);

#endif
