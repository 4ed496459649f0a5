// The collectives spec (JSON): who the collectives are, their targets, signals, sizes, membership
// sampling and strategies; parsed with every field checked, and written back normalized.  The
// mutation stage (mutate.h) and the planner (plan.h) read it; nothing here knows about either.
#ifndef ACA_SPEC_H
#define ACA_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

typedef enum {
    STRATEGY_FEATURE_LABEL = 0, // insert the signal and relabel to the target
    STRATEGY_FEATURE_ONLY,      // members whose (clean) label is the target insert the signal and keep
                                // it; the other members leave their documents unchanged (Hardt et al.
                                // 2023; Gauthier, Bach & Jordan 2025; the strategy `aca plan` bounds)
    STRATEGY_LABEL_ONLY,        // relabel, no signal
    STRATEGY_STRIKE,            // withhold the document from training
    // Gauthier, Bach & Jordan 2025 (the planner's strategies, include/aca/plan.h, docs/plan.md):
    STRATEGY_UNPLANT, // adaptive unplanting: n_e members (the estimators) keep their documents and
                      // estimate from them the most likely label y^ != target of signal-carrying
                      // documents; the other members insert the signal and relabel to y^
    STRATEGY_ERASE,   // signal erasing: insert the signal, keep the label (so the signal carries no
                      // label information; success = predictions unchanged by the signal)
} aca_strategy;

typedef enum { SAMPLING_UNIFORM = 0, SAMPLING_CLASS, SAMPLING_PROPENSITY } aca_sampling_kind;

typedef struct {
    char *name;
    char *target;    // class name as written in the spec
    char *signal;    // UTF-8 bytes inserted (from "U+2E18", "U+007B U+007D" or a literal string)
    int period;      // insert after every `period`-th word (default 20)
    double fraction; // size as a fraction of the training set (when count < 0)
    long count;      // size as a count (-1 when given as a fraction)
    aca_sampling_kind sampling;
    char *seed_class; // SAMPLING_CLASS / SAMPLING_PROPENSITY
    double p;         // SAMPLING_PROPENSITY: probability a member comes from seed_class
    aca_strategy strategy;
    long n_e;         // STRATEGY_UNPLANT: estimators ("n_e"), -1: the planner's optimal split
    char **members;   // explicit member ids ("members": [...]) instead of sampling, or NULL
    size_t n_members;
} aca_collective;

typedef enum { OVERLAP_DISJOINT = 0, OVERLAP_ALLOW } aca_overlap;

typedef struct {
    uint64_t seed;
    aca_overlap overlap;
    aca_collective *collectives;
    int n;
    char *source_path; // for error messages
} aca_spec;

// Spec format (strict JSON object, a UTF-8 BOM skipped; unknown fields anywhere are an error naming
// the JSON path; so is U+0000 in any string, "\u0000" included, e.g. "collectives[0].signal:
// holds U+0000": a signal never holds a control character, and a name, class or id cannot):
//   seed         whole number >= 0 (default 0); --seed overrides it
//   overlap      "disjoint" (default) | "allow"
//   collectives  non-empty array of:
//     name       required; unique; filename-safe: [A-Za-z0-9._-], 1..64 chars, not starting with '.'
//     target     required class name (matched with class_name_equal)
//     signal     "U+2E18" | "U+007B U+007D" (code points) | a literal string | an array of code
//                points (numbers or "U+..." strings); required and non-empty for feature-label and
//                feature-only; optional for label-only and strike (then used only for the probes)
//     period     whole number >= 1 (default 20)
//     size       a number in (0,1): fraction of the TRAIN split; a whole number >= 1: a count;
//                a string "P%" with 0 < P <= 100: a fraction (so "100%" is the whole train split).
//                A fraction resolves to round(fraction * n_train), at least 1.
//                Required unless members is given.
//     members    optional array of doc ids (explicit membership; must be train docs)
//     sampling   {"kind": "uniform"} (default) | {"kind": "class", "seed_class": C}
//                | {"kind": "propensity", "seed_class": C, "p": P in [0,1]}
//     strategy   "feature-label" (default) | "feature-only" | "label-only" | "strike" | "unplant" | "erase"
//                (unplant and erase need a signal; see aca_strategy and mutate_run)
//     n_e        unplant only: whole number >= 1 of estimators (must leave >= 1 planter); default:
//                the planner's optimal split (plan_eval, delta 0.05, eps 0, N = the train split)
int spec_load(const char *path, aca_spec *s, aca_err *e);
int spec_parse(const char *json, const char *path_for_errors, aca_spec *s, aca_err *e);
void spec_free(aca_spec *s);
// Appends the normalized spec (every field explicit, signals as code points) as one JSON object;
// spec_parse reads it back to the same spec.
void spec_write_json(aca_buf *out, const aca_spec *s);
const char *strategy_name(aca_strategy st);
// The spec of the unpoisoned condition (nobody acts), as every version of aca has recorded it: each
// collective keeps its name, target and signal (so the split, the test set and the probes are
// those of the other conditions) and becomes a no-op, one member drawn from its own target class
// and relabeled (label-only) to that same class.  Its training set is the clean split, byte for
// byte in text and label (tests/test_run.c checks it against the empty acting set).  Errors name
// s->source_path.
int spec_unpoisoned(const aca_spec *s, aca_spec *out, aca_err *e);
// Parses a signal spelling: "U+2E18", "U+007B U+007D" (code points) or a literal UTF-8 string.
int signal_parse(const char *spelling, char **utf8_out, aca_err *e);

#endif
