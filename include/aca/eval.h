// The evaluator: clean accuracy and confusion matrix on the test set, each collective's efficacy on
// its probe set (test documents with the collective's signal inserted), and the constructiveness
// score CT, on tokenized sets (a session, session.h, opens them from a data directory or a mutation).
//
// Efficacy of collective i (Karan et al. 2025, Sec. 4.1: g_i(X~_i | theta) = the share of X~_i, the
// test documents with i's signal inserted, classified as i's target).  Reported three ways so a
// high base rate cannot pass for success:
//   efficacy            over all probes,
//   efficacy_nontarget  over probes whose true label is not the target,
//   clean_target_rate   the share of the UNMODIFIED test documents this model predicts as the
//                       target (clean_target_rate_nontarget: over those whose label is not the
//                       target).  Of the unpoisoned model it is "the unpoisoned target rate".
//                       (Until December 2026 this was called "baseline"; Karan et al. call
//                       "baseline" the single-collective curve, eff alone.  The JSON keeps
//                       "baseline"/"baseline_nontarget" as aliases for old readers.)
//
// Joint against alone, two measures with different names:
//   delta joint-alone  eff_i(joint) - eff_i(alone), a difference of shares (printed in points);
//                      aca's "CT" before December 2026 (the JSON keeps "ct" as an alias).
//   CT (Karan)         Karan et al.'s constructiveness score (Sec. 4.2, used in Sec. 5.2):
//                      CT(c_i, c_j) = g_i(X~_i|theta_{i^j}) / g_i(X~_i|theta') - g_i(X~_i|theta_i) / g_i(X~_i|theta')
//                                   = (eff_i(joint) - eff_i(alone)) / eff_i(unpoisoned),
//                      theta' the model trained without any modification, so its denominator is the
//                      UNPOISONED model's efficacy on i's probes (not its clean target rate).  The
//                      paper defines it for its recommender experiments (HR@k) and plots the resume
//                      experiments' efficacies directly; aca applies the same formula to efficacy.
//                      (Sec. 5.2 prints theta* for theta'; Sec. 4.2 defines theta'.)
#ifndef ACA_EVAL_H
#define ACA_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/data.h"
#include "aca/model.h"
#include "aca/util.h"

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
    double clean_target_rate;           // unmodified test docs predicted as target (JSON alias "baseline")
    double clean_target_rate_nontarget; // the same over test docs whose label != target
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
// labels/predictions (n_test) for the clean target rate.  out->name is left untouched.
void eval_efficacy(const int32_t *probe_labels, const int32_t *probe_pred, size_t n_probe,
                   const int32_t *test_labels, const int32_t *test_pred, size_t n_test, int target,
                   aca_efficacy *out);
// eff_joint - eff_alone.
double eval_delta_joint_alone(double eff_joint, double eff_alone);
// Karan et al.'s CT: (eff_joint - eff_alone) / eff_unpoisoned; NaN when eff_unpoisoned is not > 0
// (or any input is NaN).
double eval_ct_karan(double eff_joint, double eff_alone, double eff_unpoisoned);
// (eff_joint - eff_alone) / (eff_alone - clean_target_rate_alone): the change as a fraction of the lift
// the collective achieved alone over its own model's clean target rate (NaN when that lift is <= 0).
// aca's own measure, in the JSON as the alias "ct_rel"; not Karan et al.'s CT.
double eval_delta_over_lift(double eff_joint, double eff_alone, double clean_target_rate_alone);

// One collective's probe set for eval_sets: its name, its target class and its tokenized probes.
typedef struct {
    const char *name;
    int target;
    const aca_dataset *probe;
} aca_eval_probe;

// Evaluates m on the clean test set and each of the n_coll probe sets (labels index m's classes),
// in batches of `batch`: clean accuracy and confusion, and each collective's efficacy.
int eval_sets(aca_model *m, const aca_dataset *test, const aca_eval_probe *probes, int n_coll, int batch,
              aca_eval_result *r, aca_err *e);
void eval_result_free(aca_eval_result *r);
// JSON object {"accuracy","n_test","confusion":[[..]],"classes":[..],"collectives":[{...}]}; each
// collective: name, target, n_probe, hits, efficacy, n_nontarget, hits_nontarget,
// efficacy_nontarget, clean_target_rate, clean_target_rate_nontarget, agreement, and the aliases
// baseline (= clean_target_rate), baseline_nontarget.
void eval_result_to_json(const aca_eval_result *r, char *const *classes, aca_buf *out);

#endif
