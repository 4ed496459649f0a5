// plan: the statistical planner of Gauthier, Bach & Jordan, "Statistical Collusion by Collectives on
// Learning Platforms" (ICML 2025, arXiv 2502.04879).  Before acting, a collective of n members on a
// platform that trains on N documents lower-bounds, with probability >= 1 - delta, the success of a
// strategy, from clean-data statistics and Hoeffding radii R_delta(k) = sqrt(log(1/delta) / (2k)).
//
// Model (the paper's, restated; our mapping to text in brackets):
//  - The platform trains on the mix (n/N) D~_n + ((N-n)/N) D_{N-n} of the collective's modified
//    documents and N - n clean ones, and its classifier is eps-suboptimal on that mix: at a feature
//    cell x it predicts label y whenever the joint mass of (x, y) beats every other label's by more
//    than eps/(1-eps) (eps = 0: the Bayes classifier of the training mix).
//  - The collective is a uniform random sample of the platform's users (the paper's assumption; the
//    member_share argument lets a spec's class-skewed membership change the collective's composition).
//  - [Cells.  For planting and unplanting, all documents that carry the signal form ONE cell: the
//    classifier is assumed to decide signal-carrying documents by the signal (Hardt et al. 2023's
//    reading of a planted character).  "Carries the signal" = the text contains the signal string.
//    For erasing, the cells are (signal, content class c), with the clean label standing in for the
//    content class.]
//  - Success S = P_x(f(g(x)) = y*) for planting, P_x(f(g(x)) != y*) for unplanting, and
//    P_x(f(g(x)) = f(x)) for erasing, measured on the population (n_test = 0) or on n_test test docs.
//
// Bounds (R = R_dt with dt = delta / (2 + 2|X~| + 2|X~||Y|), the paper's union bound; K = |Y| labels;
// a_y = clean joint frequency of (carries the signal, label y); p* = a_{y*}; c = max_{y != y*} a_y,
// attained at y^; margins m are compared with 0):
//  feature-label planting (every member inserts the signal and relabels to y*), |X~| = 1:
//    m = (n/N)(1 - 2R(n)) - ((N-n)/N)(c - p* + 2R(n) + 2R(N-n)) - eps/(1-eps)
//  feature-only planting (members labelled y* insert the signal; the others leave their documents
//  unchanged, so their natural signal carriers count against the collective), |X~| = 1:
//    m = (n/N)(s_{y*} - k - 2R(n)) - ((N-n)/N)(c - p* + 2R(n) + 2R(N-n)) - eps/(1-eps)
//    s_y = share of members with label y; k = max_{y != y*} s_y a_y / pi_y (pi_y = label share)
//  adaptive unplanting (n_e members estimate y^ from their data; the n_p = n - n_e others insert the
//  signal and relabel to y^; the estimators' documents stay clean), |X~| = 1:
//    m(n_e) = (n_p/N)(1 - 2R(n_p)) - ((N-n_p)/N)(p* - c + R(n_p) + R(n_e) + 2R(N-n_p)) - eps/(1-eps)
//    with n_e chosen to maximise m (the "optimal split"): a larger n_e estimates y^'s frequency
//    better (R(n_e)) but leaves fewer members to plant.  The paper's code charges R(n) where we charge
//    R(n_e) for the estimators' frequency; R(n_e) >= R(n), so ours is the more conservative.
//  erasing (every member inserts the signal and keeps its label), cells c = 1..K, |X~| = K:
//    m_c = (n/N)(s_c - 2R(n)) - ((N-n)/N)(-a_c + 2R(n) + 2R(N-n)) - eps/(1-eps)
//    [under the content-class proxy a cell's clean mass is its own label's: no clean competitor, but
//    the Hoeffding slack must still be paid; the collective "fills the gap" in each cell]
//  success bound: S >= sum over cells of w_cell 1{m_cell > 0} - R(n) - R(n_test)
//    (w = 1 for the single cell; w_c = pi_c for erasing; R(n_test) = 0 when n_test = 0).
//
// Monotonicity: with a uniform collective every margin above increases with n.  With R(k) = C/sqrt(k),
// d(N m)/dn = (s - k) + (c - p*) plus positive Hoeffding terms (planting; s - k = pi* - c and
// s - k + c - p* = pi* - p* >= 0 for a uniform sample), pi_c - a_c + ... >= 0 (erasing), and at a
// fixed n_e, d(N m)/dn_p = 1 + p* - c + R(n_e) + ... >= 0 (unplanting; so the maximum over n_e is
// non-decreasing too).  -R(n) increases with n, so the bound is non-decreasing in n; at fixed n/N it
// is non-decreasing in N (every R shrinks).  plan_min_n relies on the first property;
// tests/test_plan.c checks both over a grid.
#ifndef ACA_PLAN_H
#define ACA_PLAN_H

#include <stddef.h>

#include "aca/corpus.h"
#include "aca/util.h"

#define PLAN_MAX_CLASSES 256

typedef enum {
    PLAN_FEATURE_LABEL = 0, // planting: insert the signal, relabel to the target
    PLAN_FEATURE_ONLY,      // planting: members labelled with the target insert the signal
    PLAN_UNPLANT,           // adaptive unplanting with the optimal split n_e
    PLAN_ERASE,             // erasing: insert the signal, keep the label
    PLAN_N_STRATEGIES
} plan_strategy;

const char *plan_strategy_name(plan_strategy s); // "feature-label", "feature-only", "unplant", "erase"

// Clean-corpus statistics for one (signal, target) pair.
typedef struct {
    int n_classes;                               // K
    int target;                                  // y* in [0, K)
    size_t n_docs;                               // M documents counted
    size_t label_count[PLAN_MAX_CLASSES];        // [K] documents per label
    size_t signal_label_count[PLAN_MAX_CLASSES]; // [K] documents containing the signal, per label
} plan_stats;

typedef struct {
    double delta;      // failure probability, in (0, 1)
    double eps_subopt; // the classifier's suboptimality eps, in [0, 1)
    long n_test;       // test documents success is measured on (>= 0; 0: the population)
} plan_params;

typedef struct {
    double bound;  // lower bound on success, holds with probability >= 1 - delta (may be <= 0: vacuous)
    double margin; // the smallest cell margin m (> 0: that cell is won); erasing: of the largest cell
    long n_e;      // unplanting: the estimators' group size used; otherwise 0
    int label;     // label pushed in the signal cell: y* (planting), y^ (unplanting), -1 (erasing)
    int cells_won; // cells with m > 0
    double dt;     // the per-event confidence delta / (2 + 2|X~| + 2|X~||Y|)
} plan_bound;

// Hoeffding radius R_delta(k) = sqrt(log(1/delta) / (2k)); +inf for k <= 0.
double plan_radius(double delta, double k);

// Counts, over all documents of c, those whose text contains `signal` (a byte substring), per label.
int plan_stats_from_corpus(const aca_corpus *c, const char *signal, int target, plan_stats *st, aca_err *e);

// The collective's composition by label, share[K]: seed_class < 0: a uniform sample (share = label
// shares); otherwise a member comes from seed_class with probability p and uniformly from the other
// classes otherwise (p = 1: class sampling).
int plan_member_shares(const plan_stats *st, int seed_class, double p, double *share, aca_err *e);

// The bound for a collective of n members on a platform of N documents (1 <= n < N; unplanting
// needs n >= 2).  member_share: NULL for a uniform collective.  Bad values name the parameter
// (delta, eps_subopt, n_test, n, N) or the statistic.
int plan_eval(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long n,
              long N, plan_bound *out, aca_err *e);

// The smallest n in [n_lo, n_max] (n_lo = 2 for unplanting, else 1; n_max < N) whose bound is
// >= s_min (in (0, 1]); *n_min = -1 when none is.  Binary search: assumes the bound is
// non-decreasing in n (see above).
int plan_min_n(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long N,
               double s_min, long n_max, long *n_min, plan_bound *at, aca_err *e);

#endif
