// The data-mutation stage: collectives spec (JSON), membership sampling, strategies, and the
// outputs of one condition (poisoned train set, clean test set, one probe set per collective).
#ifndef ACA_MUTATE_H
#define ACA_MUTATE_H

#include <stddef.h>
#include <stdint.h>

#include "aca/corpus.h"
#include "aca/util.h"

typedef enum {
    STRATEGY_FEATURE_LABEL = 0, // insert the signal and relabel to the target
    STRATEGY_FEATURE_ONLY,      // insert the signal, keep the label
    STRATEGY_LABEL_ONLY,        // relabel, no signal
    STRATEGY_STRIKE,            // withhold the document from training
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
} aca_collective;

typedef enum { OVERLAP_DISJOINT = 0, OVERLAP_ALLOW } aca_overlap;

typedef struct {
    uint64_t seed;
    aca_overlap overlap;
    aca_collective *collectives;
    int n;
    char *source_path; // for error messages
} aca_spec;

int spec_load(const char *path, aca_spec *s, aca_err *e);
int spec_parse(const char *json, const char *path_for_errors, aca_spec *s, aca_err *e);
void spec_free(aca_spec *s);
// Parses a signal spelling: "U+2E18", "U+007B U+007D" (code points) or a literal UTF-8 string.
int signal_parse(const char *spelling, char **utf8_out, aca_err *e);

// Insertion rule: the signal (surrounded by single spaces) is inserted after every `period`-th
// whitespace-separated word; a document with fewer than `period` words gets it once, after its
// last word.  Appends the mutated text to out.
void mutate_insert_signal(aca_buf *out, const char *text, size_t n, const char *signal, int period);

typedef struct {
    const char *corpus_path;
    const char *spec_path;
    const char *out_dir;
    const char *only; // --only NAME: only that collective acts (NULL: all)
    size_t n_train, n_test; // split sizes (0,0: preset "karan" capped to the corpus)
    int has_seed;           // override the spec's seed
    uint64_t seed;
    aca_corpus_opts corpus_opts;
} aca_mutate_opts;

// Runs the whole stage: writes DIR/train.jsonl, DIR/test.jsonl, DIR/probe_<name>.jsonl,
// DIR/manifest.json atomically (everything or nothing).  Same inputs and seed: same bytes.
int mutate_run(const aca_mutate_opts *o, aca_err *e);

#endif
