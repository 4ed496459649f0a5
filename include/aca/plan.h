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
// Two families of bounds (plan_bound_kind; docs/plan.md has the table of differences and why):
//  PLAN_BOUND_PAPER: the paper's public code (GauthierE/statistical-collusion, src/utils.py,
//    classes SignalPlanting, SignalPlantingFO and SignalUnplanting), formula for formula, with
//    one signal cell (|X~| = 1).  The paper's code has no erasing bound.
//  PLAN_BOUND_CONSERVATIVE (the default): bounds for what `aca mutate` does.  Feature-label is the
//    paper's; feature-only and unplanting differ as noted below; erasing is aca's own derivation.
// Notation: R = R_dt; K = |Y| labels; a_y = clean joint frequency of (carries the signal, label y);
// p* = a_{y*}; c = max_{y != y*} a_y, attained at y^; s_y = share of members with label y; margins
// m are compared with 0; thr = eps/(1-eps).
//  feature-label planting (every member inserts the signal and relabels to y*), both kinds:
//    dt = delta / (2 + 2|X~| + 2|X~||Y|) = delta / (4 + 2K)
//    m = (n/N)(1 - 2R(n)) - ((N-n)/N)(c - p* + 2R(n) + 2R(N-n)) - thr
//  feature-only planting, dt as above:
//    paper (members labelled y* insert the signal; the others move their features AWAY from the
//    signal, to a point x0 outside its cells):
//      m = (n/N)(s_{y*} - 2R(n)) - ((N-n)/N)(c - p* + 2R(n) + 2R(N-n)) - thr
//    conservative (members labelled y* insert the signal; the others leave their documents
//    unchanged, as aca mutate does, so their natural signal carriers count against the collective):
//      m = (n/N)(s_{y*} - k - 2R(n)) - ((N-n)/N)(c - p* + 2R(n) + 2R(N-n)) - thr
//      k = max_{y != y*} s_y a_y / pi_y (pi_y = label share)
//  adaptive unplanting (n_e members estimate y^ from their data; the n_p = n - n_e others insert the
//  signal and relabel to y^; the estimators' documents stay clean):
//    paper:  dt = delta / (2 + 6|X~|) = delta / 8
//      m(n_e) = (n/N)(1 - 2R(n)) - ((N-n)/N)(p* - c + R(n) + R(n - n_e) + 2R(N-n)) - thr
//      success mass of a won cell (n - n_e)/n (the code counts the planters' cells over n)
//    conservative:  dt = delta / (4 + 2K)
//      m(n_e) = (n_p/N)(1 - 2R(n_p)) - ((N-n_p)/N)(p* - c + R(n_p) + R(n_e) + 2R(N-n_p)) - thr
//      success mass of a won cell 1
//    n_e: plan_params.n_e when > 0, else the split in [1, n-1] that maximises m (for the paper's
//    formula that is always n_e = 1: its m and its success mass both fall as n_e grows).
//  erasing (every member inserts the signal and keeps its label), conservative only (aca's own
//  derivation in the paper's framework), cells c = 1..K, |X~| = K, dt = delta / (2 + 2K + 2K^2):
//    m_c = (n/N)(s_c - 2R(n)) - ((N-n)/N)(-a_c + 2R(n) + 2R(N-n)) - thr
//    [under the content-class proxy a cell's clean mass is its own label's: no clean competitor, but
//    the Hoeffding slack must still be paid; the collective "fills the gap" in each cell]
//  success bound: S >= (success mass of the cells won) - R(n) - R(n_test)
//    (single cell: its mass above; erasing: sum of pi_c over cells won; R(n_test) = 0 when n_test = 0).
//
// Monotonicity: with a uniform collective every margin above increases with n.  With R(k) = C/sqrt(k),
// d(N m)/dn = (s - k) + (c - p*) plus positive Hoeffding terms (planting; s - k = pi* - c and
// s - k + c - p* = pi* - p* >= 0 for a uniform sample; the paper's feature-only has k = 0),
// pi_c - a_c + ... >= 0 (erasing), and at a fixed n_e, d(N m)/dn = 1 + p* - c + R(.) + ... >= 0
// (unplanting, both kinds; so the maximum over n_e is non-decreasing too; the paper's success mass
// (n - n_e)/n grows with n).  -R(n) increases with n, so the bound is non-decreasing in n; at fixed
// n/N it is non-decreasing in N (every R shrinks).  plan_min_n relies on the first property;
// tests/test_plan.c checks both over a grid, for both kinds.
#ifndef ACA_PLAN_H
#define ACA_PLAN_H

#include <stddef.h>

#include "aca/corpus.h"
#include "aca/spec.h"
#include "aca/util.h"

#define PLAN_MAX_CLASSES 256

typedef enum {
    PLAN_FEATURE_LABEL = 0, // planting: insert the signal, relabel to the target
    PLAN_FEATURE_ONLY,      // planting: members labelled with the target insert the signal
    PLAN_UNPLANT,           // adaptive unplanting (n_e estimators, the others plant y^)
    PLAN_ERASE,             // erasing: insert the signal, keep the label
    PLAN_N_STRATEGIES
} plan_strategy;

const char *plan_strategy_name(plan_strategy s); // "feature-label", "feature-only", "unplant", "erase"

typedef enum {
    PLAN_BOUND_CONSERVATIVE = 0, // bounds for what aca mutate does (the default)
    PLAN_BOUND_PAPER,            // the paper's public code, formula for formula
    PLAN_N_BOUNDS
} plan_bound_kind;

const char *plan_bound_kind_name(plan_bound_kind k); // "conservative", "paper"
int plan_bound_kind_parse(const char *s);            // PLAN_BOUND_*, or -1

// The formula plan_eval computes for strategy s under kind k: "paper" (the paper code's; for
// feature-label under both kinds), "conservative" (aca's variant of a paper formula), "aca-own"
// (erasing: no formula in the paper's code); NULL when (s, k) has no bound (erasing, paper).
const char *plan_formula(plan_strategy s, plan_bound_kind k);

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
    plan_bound_kind kind; // PLAN_BOUND_CONSERVATIVE (0) or PLAN_BOUND_PAPER
    long n_e;          // unplanting: the estimators' group size (1..n-1); 0: the split maximising the margin
} plan_params;

// Defaults: delta 0.05, eps 0, n_test 0, conservative bounds, n_e 0 (the best split).
void plan_params_default(plan_params *pp);

// The platform size N and test-set size the planner assumes for a corpus of n_docs documents: the
// split `aca mutate` and `aca grid` use by default (corpus_split_default: 20000/5000 from 25000
// documents, else 80/20); n_docs = 0 (no corpus): 20000/5000.
void plan_default_sizes(size_t n_docs, long *N, long *n_test);

typedef struct {
    double bound;  // lower bound on success, holds with probability >= 1 - delta (may be <= 0: vacuous)
    double margin; // the smallest cell margin m (> 0: that cell is won); erasing: of the largest cell
    long n_e;      // unplanting: the estimators' group size used; otherwise 0
    int label;     // label pushed in the signal cell: y* (planting), y^ (unplanting), -1 (erasing)
    int cells_won; // cells with m > 0
    double dt;     // the per-event confidence (the delta split above)
} plan_bound;

// Hoeffding radius R_delta(k) = sqrt(log(1/delta) / (2k)); +inf for k <= 0.
double plan_radius(double delta, double k);

// Counts, over all documents of c, those whose text contains `signal` (a byte substring), per label.
int plan_stats_from_corpus(const aca_corpus *c, const char *signal, int target, plan_stats *st, aca_err *e);

// The collective's composition by label, share[K]: seed_class < 0: a uniform sample (share = label
// shares); otherwise a member comes from seed_class with probability p and uniformly from the other
// classes otherwise (p = 1: class sampling).
int plan_member_shares(const plan_stats *st, int seed_class, double p, double *share, aca_err *e);

// The planner's inputs for collective k of a spec (the one place `aca plan` and the grid planner
// get them): its clean statistics from corpus c (NULL: the 10 resume classes equally frequent over
// 10000 documents, the signal absent; no signal: label counts only) and its members' label shares
// (*uniform = 1 for uniform sampling: pass NULL shares to plan_eval).  Errors name
// "<where>.target" / "<where>.sampling" (where: e.g. "spec.json: collectives[0]") and corpus_name.
int plan_collective_inputs(const aca_corpus *c, const char *corpus_name, const aca_collective *k, const char *where,
                           plan_stats *st, double *share, int *uniform, aca_err *e);

// The bound for a collective of n members on a platform of N documents (1 <= n < N; unplanting
// needs n >= 2, and n > pp->n_e when that is set).  member_share: NULL for a uniform collective.  Bad
// values name the parameter (delta, eps_subopt, n_test, n, N, n_e, kind) or the statistic; erasing
// under PLAN_BOUND_PAPER is an error (plan_formula gives NULL).
int plan_eval(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long n,
              long N, plan_bound *out, aca_err *e);

// The smallest collective size plan_eval accepts: 1; unplanting 2, or pp->n_e + 1 when n_e is set.
long plan_n_floor(plan_strategy s, const plan_params *pp);

// The smallest n in [plan_n_floor, n_max] (n_max < N) whose bound is >= s_min (in (0, 1]);
// *n_min = -1 when none is.  Binary search: assumes the bound is non-decreasing in n (see above).
int plan_min_n(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long N,
               double s_min, long n_max, long *n_min, plan_bound *at, aca_err *e);

// ---- planning collectives and specs (src/plan_spec.c) ------------------------------------------
// One collective's plan: its inputs (plan_collective_inputs), and for each strategy of q->strategies
// that has a bound under q->pp.kind, the bound at size n and the smallest sufficient size.  The one
// planning function `aca plan` (through plan_spec) and the grid's planner report share.
typedef struct {
    const char *name, *target, *signal; // the collective's (borrowed from its spec)
    int has_signal;                     // 0: only the inputs (nothing to plan without a signal)
    plan_stats st;
    double share[PLAN_MAX_CLASSES];
    int uniform;                        // a uniform collective: plan_eval gets NULL shares
    long n;                             // the size bounded (0: none)
    int ok_n[PLAN_N_STRATEGIES];        // at_n[s] holds the bound at n (plan_n_floor <= n < N)
    plan_bound at_n[PLAN_N_STRATEGIES];
    long n_min[PLAN_N_STRATEGIES];      // the smallest size whose bound reaches s_min; -1: none up to n_max
    plan_bound at_min[PLAN_N_STRATEGIES];
} plan_coll;

typedef struct {
    plan_params pp;
    long N;              // platform size
    unsigned strategies; // bit s: strategy s (those without a bound under pp.kind are skipped)
    double s_min;        // > 0: search the smallest size in [plan_n_floor, n_max] reaching s_min
    long n_max;
} plan_query;

// where names the collective in errors ("spec.json: collectives[0]"); c, corpus_name as in
// plan_collective_inputs.
int plan_collective(const aca_corpus *c, const char *corpus_name, const aca_collective *k, const char *where,
                    const plan_query *q, long n, plan_coll *out, aca_err *e);
// The bound of strategy s for p's collective at size n of N; *ok = 0 (and no bound) when n is
// outside [plan_n_floor, N).
int plan_coll_at(const plan_coll *p, plan_strategy s, const plan_params *pp, long n, long N, plan_bound *b, int *ok,
                 aca_err *e);
// A spec collective's size on a platform of N: its count, or round(fraction * N) and at least 1 (0:
// no size).
long plan_size(const aca_collective *k, long N);

// `aca plan`: every collective of a spec, every strategy.
typedef struct {
    const char *spec_path;
    const char *corpus_path; // NULL: the 10 resume classes, equally frequent, the signal absent
    plan_params pp;          // n_test < 0: the corpus' test split (plan_default_sizes)
    long N;                  // 0: the corpus' train split (plan_default_sizes)
    long n_max;              // 0 or >= N: N - 1
    double s_min;            // in (0, 1]
} plan_spec_opts;

typedef struct {
    plan_params pp; // as used (n_test resolved)
    long N, n_max;
    double s_min;
    aca_spec spec;
    aca_corpus corpus;
    int have_corpus;
    plan_coll *coll; // (spec.n)
} plan_spec_result;

// Loads the spec and the corpus and plans each collective at its size.  Errors name the file and
// field, or the option of `aca plan` (--n-train, --n-max) a size came from.
int plan_spec(const plan_spec_opts *o, plan_spec_result *r, aca_err *e);
void plan_spec_free(plan_spec_result *r);

#endif
