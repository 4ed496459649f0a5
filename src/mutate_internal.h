// Internal to the mutation stage (src/mutate.c, the stage; src/mutate_members.c, the split and the
// membership; src/mutate_sets.c, the strategies applied into the output sets; src/mutate_write.c,
// the files): the stage's working state, shared beyond include/aca/mutate.h.
#ifndef ACA_MUTATE_INTERNAL_H
#define ACA_MUTATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/mutate.h"

// The stage at work: the options, the borrowed spec and corpus, the split, and who is in which
// collective.  mutate_apply moves split, cs and member into the aca_mutation it returns.
typedef struct {
    const aca_mutate_opts *o;
    const aca_spec *spec;
    const aca_corpus *c;
    aca_split split;
    uint64_t seed;
    int only; // the last collective --only named, or -1
    aca_mut_coll *cs;          // (spec->n)
    uint8_t *in_train, *taken; // (c->n,)
    uint8_t *member;           // (c->n, spec->n): doc d is in collective j
} mut_ctx;

// The split, the classes, the membership and the unplant estimators of m's corpus and spec
// (mutate_members.c).  Errors name the spec's field or the option.
int mutate_plan_members(mut_ctx *m, aca_err *e);
// Whether corpus document d is one of unplant collective s's estimators.
int mutate_is_estimator(const aca_mut_coll *s, uint32_t d);
// The training, test and probe sets of the planned m, its strategies applied, and the manifest's
// counts, into r (mutate_sets.c).
void mutate_build_sets(mut_ctx *m, aca_mutation *r);

#endif
