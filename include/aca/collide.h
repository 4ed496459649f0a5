// Collision diagnostics: what each collective's signal becomes in the tokenizer, in context.
//
// Two collectives whose signals tokenize to the same ids plant the same feature: the model cannot
// tell them apart and they interfere (Karan et al.: U+2E17 and U+2E18 both become [UNK] in the
// uncased BERT vocabulary).  And a signal id that already occurs in clean documents is not a
// unique feature — [UNK] in particular also stands for every other out-of-vocabulary character.
//
// Signal ids in context: a short context text is tokenized with and without the signal inserted
// by the mutation stage's rule (mutate_insert_signal); the ids of the mutated text that are not in
// the common prefix and suffix of the two are the signal's.  Several contexts are tried (with a
// corpus also one of its documents); a signal whose ids differ between them is flagged.
#ifndef ACA_COLLIDE_H
#define ACA_COLLIDE_H

#include <stddef.h>
#include <stdint.h>

#include "aca/corpus.h"
#include "aca/spec.h"
#include "aca/tokenizer.h"
#include "aca/util.h"

typedef enum {
    COLLIDE_SIG_UNSEEN = 0, // in the vocabulary, absent from the clean documents counted
    COLLIDE_SIG_RARE,       // in fewer than 1% of the clean documents
    COLLIDE_SIG_COMMON,     // in 1% or more
    COLLIDE_SIG_UNK,        // maps (partly) to [UNK]: shared with every out-of-vocabulary character
    COLLIDE_SIG_IN_VOCAB,   // no corpus given: in the vocabulary, frequency unknown
    COLLIDE_SIG_EMPTY,      // tokenizes to nothing (e.g. a zero-width or control character)
} collide_sig_verdict;

typedef struct {
    const char *name, *target, *signal; // borrowed from the spec
    int32_t *ids;          // (n_ids) the signal's ids in context
    int n_ids;
    int has_unk;           // an id is [UNK]
    int consistent;        // the same ids in every context tried
    long docs;             // clean documents holding any of the ids (-1: no corpus)
    long *docs_per_id;     // (n_ids) clean documents holding each id (NULL: no corpus)
    collide_sig_verdict verdict;
} collide_signal;

typedef enum {
    COLLIDE_PAIR_DISTINCT = 0, // no id in common
    COLLIDE_PAIR_OVERLAP,      // some ids in common
    COLLIDE_PAIR_IDENTICAL,    // the same id sequence: indistinguishable to the model
} collide_pair_kind;

typedef struct {
    int a, b; // collective indices, a < b
    collide_pair_kind kind;
    int32_t *shared; // (n_shared) ids in common, ascending, unique
    int n_shared;
} collide_pair;

typedef struct {
    uint32_t cp;   // the character
    int32_t id;    // its single id in context
    long docs;     // clean documents holding the id (-1: no corpus)
} collide_suggestion;

typedef struct {
    int n;
    collide_signal *sig; // (n) in spec order
    int n_pairs;
    collide_pair *pairs; // every pair a < b
    int has_corpus;
    size_t n_docs;  // clean documents counted
    long unk_docs;  // of them, holding [UNK] (-1: no corpus)
    int unk_id;
    collide_suggestion *sugg; // (n_sugg) best first
    int n_sugg;
} collide_report;

typedef struct {
    const aca_corpus *corpus;  // clean documents to count in (NULL: none)
    const uint32_t *doc_idx;   // which of its documents (NULL: all)
    size_t n_idx;
    int suggest;               // K characters to suggest (0: none)
    int threads;               // <= 0: all cores
    int max_len;               // > 0: count only in what the model sees, the first max_len - 2 tokens
                               // of each document ([CLS] ... [SEP] truncation); 0: whole documents
} collide_opts;

// Analyzes every collective of the spec.  Errors: a signal that is not valid UTF-8 for the
// tokenizer (names the collective), a corpus document the tokenizer rejects (names its line).
int collide_analyze(const aca_spec *sp, const aca_tokenizer *tok, const collide_opts *o, collide_report *r,
                    aca_err *e);
void collide_report_free(collide_report *r);
// Every collective's signal gives the model at least one token where mutate inserts it (in each of
// the contexts above), else an error (ACA_ERR_VALUE) naming sp->source_path, collectives[i].signal,
// the collective and each code point's fate: a signal of zero-width, format, control or private-use
// characters only (BERT's text cleaning removes them), of white space, or of accents an uncased
// tokenizer strips plants nothing, and every efficacy measured on it would be meaningless.  tok NULL:
// judged by Hugging Face BertTokenizer's defaults (uncased), code point by code point.
int collide_check_signals(const aca_spec *sp, const aca_tokenizer *tok, aca_err *e);
// The same for a spec file (its errors as spec_load says them).
int collide_check_spec_file(const char *spec_path, const aca_tokenizer *tok, aca_err *e);
// The report as text (a table per collective, per pair, suggestions) or one JSON object + '\n'.
void collide_report_text(const collide_report *r, const aca_tokenizer *tok, aca_buf *out);
void collide_report_json(const collide_report *r, const aca_tokenizer *tok, aca_buf *out);
const char *collide_sig_verdict_name(collide_sig_verdict v);
const char *collide_pair_kind_name(collide_pair_kind k);

#endif
