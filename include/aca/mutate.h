// The data-mutation stage: membership sampling, strategies, and the outputs of one condition
// (poisoned train set, clean test set, one probe set per collective).  The collectives spec is spec.h.
#ifndef ACA_MUTATE_H
#define ACA_MUTATE_H

#include <stddef.h>
#include <stdint.h>

#include "aca/corpus.h"
#include "aca/spec.h"
#include "aca/util.h"

// Insertion rule: the signal (surrounded by single spaces) is inserted after every `period`-th
// whitespace-separated word; a document with fewer than `period` words gets it once, after its
// last word.  Appends the mutated text to out.
// Worked example, period 2, signal "X": "a b c d e" -> "a b X c d X e"; "a" -> "a X".
// Whitespace is kept as it was (the inserted text is " " + signal right after the word).
void mutate_insert_signal(aca_buf *out, const char *text, size_t n, const char *signal, int period);
// Several collectives in one doc (overlap "allow"): every signal goes where its own period puts it,
// counted on the ORIGINAL words (inserted signals are not counted); signals landing after the same
// word appear in spec order (the order of `signals`): "w20 SA SB".
void mutate_insert_signals(aca_buf *out, const char *text, size_t n, const char *const *signals, const int *periods,
                           int k);

typedef struct {
    const char *corpus_path;
    const char *spec_path;
    const char *out_dir;
    const char *only; // --only NAME or NAME,NAME,...: only those collectives act (NULL: all; "": none)
    // Split sizes.  0,0: "karan" (20000/5000) when the corpus has >= 25000 docs, else 80/20
    // (n_test = n/5, n_train = the rest).  Too few docs for the sizes asked is an error.
    size_t n_train, n_test;
    const char *split_name; // how the user spelled the split (for messages), or NULL
    int has_seed;           // override the spec's seed
    uint64_t seed;
    aca_corpus_opts corpus_opts;
    aca_buf *summary; // if non-NULL, a human-readable summary is appended on success
    int replace;      // an existing DIR that is not an aca mutate output may be replaced (--replace)
} aca_mutate_opts;

// Runs the whole stage: writes DIR/train.jsonl, DIR/test.jsonl, DIR/probe_<name>.jsonl,
// DIR/manifest.json atomically (everything or nothing: a temporary swapped in for DIR, outdir.h; an
// existing DIR is replaced only when it is empty or an aca mutate output, or replace is set).
// Same inputs and seed: same bytes.
//
// Membership (one seed; collective i draws from RNG stream MEMBER+i, so it depends only on the
// collectives before it):
// - Members come from the TRAIN split only.  Collectives with explicit "members" are placed first
//   (in spec order), then the sampled ones in spec order.  With overlap "disjoint" each draws
//   from the train docs no earlier collective holds; a pool smaller than the size is an error.
// - uniform: k docs uniformly without replacement from the pool.  class: k docs uniformly from
//   the pool's docs of seed_class.  propensity: each of the k members independently comes from
//   seed_class with probability p (a Binomial(k, p) count m), else from the other classes; then m
//   docs uniformly from the pool's seed_class docs and k - m uniformly from its other docs.
// - Every collective is sampled even under --only, so "alone" and "joint" share members.
// Strategies on a train doc, over the ACTING collectives it belongs to (all; or only --only):
//   strike by any of them withholds the doc; otherwise the signals of the collectives that plant in
//   it are inserted (mutate_insert_signals, spec order) and the label becomes the target of the
//   LAST feature-label/label-only collective (for an unplant planter: its estimated label y^) in
//   spec order.  Who plants: every member of feature-label and erase; the unplant planters (not the
//   estimators); for feature-only only the members whose CLEAN label (the corpus's, whatever an
//   earlier collective relabels it to) is the target: the others leave their documents as they
//   were.  A member's train doc's JSON line carries "member_of": [names of its acting collectives]
//   (members who leave their doc unchanged included).
// Sampling and feature-only: "size" counts every member, planting or not (as the planner's n), so a
//   uniform collective of n members has about n * (target's share) planters; sampling
//   {"kind": "class", "seed_class": <target>} makes every member a planter.
// Unplant (for every unplant collective, acting or not, after membership): n_e = the spec's or the
//   planner's optimal split (needs >= 2 members); the estimators are n_e members drawn uniformly
//   (RNG stream UNPLANT+i); y^ = the label != target with the most estimator docs containing the
//   signal (ties: more estimator docs of that label, then the lower class index); when no estimator
//   doc carries the signal, the label != target with the most estimator docs (same ties).
// Outputs: JSONL lines {"id","text","label"(class name)}; train in corpus order; test.jsonl the clean
// test split; probe_<name>.jsonl for EVERY collective (acting or not): each test doc with that
// collective's signal inserted (no signal: the test doc unchanged), true label kept.
// manifest.json: version, seed, only, corpus path/sha256/format/encoding, classes (index order =
// label ids), split sizes, normalized spec, per collective (target, signal, size, "planted": members
// whose training doc got its signal, "unchanged": members whose doc (text and label) it left as it
// was (every member of an idle collective), members by class, member ids; unplant: "unplant": {n_e, n_e_source, planters, estimated_label, estimated_from,
// estimator_carriers, estimators}), counts per class (train before/after, test).
int mutate_run(const aca_mutate_opts *o, aca_err *e);
// Everything mutate_run decides before writing (split, classes, membership, unplant estimators), on
// an already loaded corpus c (named o->corpus_path in messages) and spec, writing nothing: 0 when
// mutate_run would succeed with these inputs, else its error.  o->spec_path and o->only are unused.
int mutate_check(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_err *e);

// ---- the mutation in memory --------------------------------------------------------------------
// mutate_run is mutate_apply (everything, in memory) followed by mutation_write (the files, the
// one optional sink).  `aca run` and the grid call mutate_apply on the corpus and spec they hold
// and train and evaluate on the sets directly (mutation_jsonl gives a set the bytes its file has).

// One collective as the mutation drew and applied it (the manifest's "collectives" entry).
typedef struct {
    int target;     // class index
    int seed_class; // class index or -1
    uint32_t *members; // (n_members) sorted corpus indices
    size_t n_members;
    size_t from_seed_class; // propensity: members drawn from the seed class
    int acting;             // this collective's strategy was applied to its members' documents
    // unplant
    uint32_t *estimators; // (n_e) sorted corpus indices, a subset of members
    size_t n_e;
    int n_e_from_planner; // 1: the planner's optimal split, 0: the spec's n_e
    int yhat;             // estimated label (class index)
    int from_carriers;    // 1: y^ from estimator docs carrying the signal; 0: label frequency fallback
    size_t *carriers;     // (n_classes) estimator docs containing the signal, per label
    // what applying it did
    size_t planted;   // members whose training doc got this collective's signal (0 when idle)
    size_t unchanged; // members whose doc (text and label) this collective left as it was
} aca_mut_coll;

// One output document: corpus document `doc` (its id) with the text and label the condition gives it.
typedef struct {
    uint32_t doc;     // corpus index
    const char *text; // len bytes: the corpus's own text, or `own`
    size_t len;
    int label;        // class index
    char *own;        // the mutated text (signal inserted), or NULL
} aca_mut_doc;

// A set of output documents, in file order (train.jsonl, test.jsonl, probe_<name>.jsonl).
typedef struct {
    aca_mut_doc *docs;
    size_t n;
    int train; // the training set: a member's line carries "member_of" (mutation_jsonl)
} aca_mut_set;

// The outcome of one condition: the three kinds of sets and the manifest's contents.  It borrows
// the corpus and the spec it was made from: they must outlive it.
typedef struct {
    const aca_corpus *corpus;
    const aca_spec *spec;
    char *corpus_path; // as the manifest names it
    char *only;        // the acting collectives as asked ("A", "A,B"); NULL when all act (or none: "")
    uint64_t seed;     // the data seed (split, membership)
    aca_split split;
    aca_mut_coll *coll; // (spec->n)
    uint8_t *member;    // (corpus->n, spec->n): doc d is in collective j (acting or not)
    // counts for the manifest: per class (corpus->n_classes) before and after the strategies, test
    size_t *train_before, *train_after, *test_counts;
    size_t struck, mutated, relabeled;
    aca_mut_set train, test;
    aca_mut_set *probe; // (spec->n) each collective's probe set (acting or not)
} aca_mutation;

// Applies spec to corpus c in memory: the split, the membership and the strategies of the
// collectives o->only names (NULL: all; "": none), exactly as mutate_run (above) does; o->spec_path,
// o->out_dir, o->corpus_opts, o->summary and o->replace are unused.  On error *out is empty.
int mutate_apply(const aca_mutate_opts *o, const aca_corpus *c, const aca_spec *spec, aca_mutation *out, aca_err *e);
void mutation_free(aca_mutation *m);
// The JSONL bytes of one of m's sets, as its file holds them (appended to out).
void mutation_jsonl(const aca_mutation *m, const aca_mut_set *s, aca_buf *out);
// manifest.json's bytes (appended to out).
void mutation_manifest_json(const aca_mutation *m, aca_buf *out);
// The sink: train.jsonl, test.jsonl, probe_<name>.jsonl and manifest.json written into the
// existing directory dir (the caller makes it all-or-nothing, as mutate_run does with outdir.h).
int mutation_write(const aca_mutation *m, const char *dir, aca_err *e);
// The same into out_dir atomically: a temporary swapped in (outdir.h; an existing out_dir is
// replaced only when it is empty or an aca mutate output, or replace is set).
int mutation_save(const aca_mutation *m, const char *out_dir, int replace, aca_err *e);
// `aca mutate`'s summary of m written to out_dir (appended to out).
void mutation_summary(const aca_mutation *m, const char *out_dir, aca_buf *out);

#endif
