// A session: what `aca train`, `aca eval`, `aca forward` and each condition of a run work on — the
// tokenizer, the model on its backend and the tokenized data — opened by one function that makes
// every cross-check between them, once, here:
//   - the tokenizer is the model's: --vocab, else the checkpoint directory's own; a --vocab that
//     tokenizes otherwise than the checkpoint's own is refused (tokenizer_for_model);
//   - every id the tokenizer can give lies below the model's vocab_size;
//   - max_len fits the model's positions, and a checkpoint's tensors have its config's shapes;
//   - the model's head has the data's classes, matched by name (reordered when only the order
//     differs).  Training may start a fresh head (a base checkpoint without one, --new-head, a
//     --config model); evaluating may not: a fresh head would measure chance;
//   - a DP-SGD target epsilon is reachable with the data's training documents.
// What costs nothing is checked first (the data's manifest, the DP budget, the tokenizer, the
// config and the checkpoint's tensor shapes), then the weights are read, then the data tokenized
// (through the token cache): a mistake is reported before the long part.
#ifndef ACA_SESSION_H
#define ACA_SESSION_H

#include <stddef.h>

#include "aca/data.h"
#include "aca/datadir.h"
#include "aca/eval.h"
#include "aca/model.h"
#include "aca/mutate.h"
#include "aca/run_opts.h"
#include "aca/tokenizer.h"
#include "aca/util.h"

// What a session is for (bits of aca_session_opts.use).
enum {
    SESSION_TRAIN = 1 << 0, // the training set is tokenized; the model is built for training batches
    SESSION_EVAL = 1 << 1,  // the test set and every probe set; without SESSION_TRAIN the model must
                            // come with a head trained on the data's classes
};

typedef struct {
    unsigned use;             // SESSION_* bits; 0: the model alone (forward: no tokenizer, no data)
    const aca_run_setup *s;   // the model (model_dir | config_path) and its tokenizer (vocab_path), where
                              // it runs (device, precision, attention), max_len, init_seed, new_head,
                              // and for SESSION_TRAIN the training options (train: batch, DP-SGD)
    const char *data_dir;     // the data: a directory written by `aca mutate` ...
    const aca_mutation *mu;   // ... or a mutation in memory (a condition of a run); neither: no data
    const char *cache_dir;    // the token cache (NULL: none)
    const aca_tokenizer *tok; // a tokenizer already open (an experiment's, opened from the same s), or
                              // NULL: s's is opened here
    int max_B;                // the model's batch rows; 0: the larger of the training batch
                              // (train_model_batch) and s->eval_batch that use needs
    const char *max_len_from; // what set s->max_len, for messages (a batch file); NULL: --max-len
} aca_session_opts;

typedef struct {
    const aca_tokenizer *tok; // NULL for a session without tokenizer (use 0, no data)
    aca_model *model;
    char *const *classes;     // the data's class list (label ids index it); NULL without data
    int n_classes;
    aca_datadir dd;           // the data directory, when opts.data_dir
    aca_dataset train;        // SESSION_TRAIN
    aca_dataset test;         // SESSION_EVAL
    int n_coll;               // SESSION_EVAL: collectives, each with its probe set
    aca_dataset *probe;       // (n_coll)
    aca_eval_probe *ep;       // (n_coll) name, target and &probe[i], as eval_sets takes them
    size_t n_train_docs;      // the training set's documents (known before tokenizing)
    double t_tokenize;        // seconds spent tokenizing (or reading the token cache)
    aca_tokenizer *own_tok;   // what session_open opened (session_close frees it)
} aca_session;

// Opens o's session into ss, checks in the order above; on error ss is closed and e names the file
// and field (or option) at fault.
int session_open(aca_session *ss, const aca_session_opts *o, aca_err *e);
void session_close(aca_session *ss);

// The model of s alone (model_dir: checkpoint; config_path: random init from init_seed) on its
// device and precision, with a head of the n_classes classes (NULL: the config's own), for batches up
// to max_B x s->max_len.  A checkpoint's head is matched to the classes by name (model_load:
// reordered when only the order differs); other classes, another count or a head without class
// names are errors unless s->new_head; a checkpoint without a head (a base model) gets a fresh one
// unless need_head.  Errors name config.json or the checkpoint.
int session_load_model(const aca_run_setup *s, char *const *classes, int n_classes, int max_B, int need_head,
                       aca_model **out, aca_err *e);
// What session_load_model (and training with tok) would refuse of s's model, checked without
// building it or reading a weight: the config loads, tok (may be NULL) fits its vocabulary,
// s->max_len its positions, and a checkpoint's tensors have the config's shapes.
int session_check_model(const aca_run_setup *s, const aca_tokenizer *tok, aca_err *e);
// Frees the model and its backend.
void session_free_model(aca_model *m);

#endif
