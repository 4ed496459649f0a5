// Internal to the mutation stage (src/mutate.c, the stage; src/mutate_members.c, the split and the
// membership; src/mutate_write.c, the outputs): the stage's state, shared beyond include/aca/mutate.h.
#ifndef ACA_MUTATE_INTERNAL_H
#define ACA_MUTATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/mutate.h"

// One collective's membership and, while train.jsonl is written, what it did.
typedef struct {
    int target;     // class index
    int seed_class; // class index or -1
    uint32_t *members; // sorted corpus indices
    size_t n_members;
    size_t from_seed_class; // propensity: members drawn from the seed class
    int acting;
    // unplant
    uint32_t *estimators; // sorted corpus indices, a subset of members
    size_t n_e;
    int n_e_from_planner; // 1: the planner's optimal split, 0: the spec's n_e
    int yhat;             // estimated label (class index)
    int from_carriers;    // 1: y^ from estimator docs carrying the signal; 0: label frequency fallback
    size_t *carriers;     // (n_classes) estimator docs containing the signal, per label
    // filled while writing train.jsonl
    size_t planted;   // members whose training doc got this collective's signal (0 when idle)
    size_t unchanged; // members whose doc (text and label) this collective left as it was
} coll_state;

// The stage: the options, the loaded spec and corpus, the split, and who is in which collective.
typedef struct {
    const aca_mutate_opts *o;
    aca_spec spec;
    aca_corpus c;
    aca_split split;
    uint64_t seed;
    int only; // collective index or -1
    coll_state *cs;
    uint8_t *in_train, *taken; // (c.n,)
    uint8_t *member;           // (c.n, spec.n): doc d is in collective j
} mut_ctx;

// The split, the classes, the membership and the unplant estimators of m's loaded corpus and spec
// (mutate_members.c).  Errors name the spec's field or the option.
int mutate_plan_members(mut_ctx *m, aca_err *e);
// Whether corpus document d is one of unplant collective s's estimators.
int mutate_is_estimator(const coll_state *s, uint32_t d);
// train.jsonl, test.jsonl, one probe set per collective and manifest.json into dir, and the summary
// when m->o->summary (mutate_write.c).
int mutate_write_all(mut_ctx *m, const char *dir, aca_err *e);

#endif
