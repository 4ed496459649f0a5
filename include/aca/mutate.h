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
    const char *only; // --only NAME or NAME,NAME,...: only those collectives act (NULL: all)
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

#endif
