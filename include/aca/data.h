// The data a model trains and is evaluated on: a tokenized labelled dataset, and the reader of a
// mutated data directory (`aca mutate` output: manifest.json, train.jsonl, test.jsonl, one probe
// set per collective) shared by train, eval and run.  Below the model, the trainer and the
// evaluator: nothing here knows about them.  The token cache (tokcache.h) stores datasets;
// data_load_jsonl reads files through it.
#ifndef ACA_DATA_H
#define ACA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "aca/tokenizer.h"
#include "aca/util.h"

// ---- datasets ----------------------------------------------------------------------------------
// A tokenized labelled dataset, ragged: document i is ids[off[i] .. off[i+1]), already encoded as
// [CLS] ... [SEP] and at most max_len tokens long.  Memory is owned by whoever filled it
// (dataset_free frees what dataset_* constructors here allocated).
typedef struct {
    size_t n;             // documents
    const int32_t *ids;   // (off[n]) token ids
    const uint64_t *off;  // (n+1) offsets into ids
    const int32_t *labels; // (n) class ids, or NULL (unlabelled)
    int max_len;          // every document has 1 <= length <= max_len
    void *owned[3];       // internal: buffers to free
} aca_dataset;

void dataset_free(aca_dataset *d);
static inline int dataset_len(const aca_dataset *d, size_t i) { return (int)(d->off[i + 1] - d->off[i]); }
// Builds a dataset from host arrays (copied): lens (n), ids concatenated, labels (n) or NULL.
void dataset_from_arrays(aca_dataset *d, size_t n, const int32_t *ids, const int32_t *lens,
                         const int32_t *labels, int max_len);

// Fills (B,T) host batch buffers ids/mask (pad id pad_id) for documents idx[0..B), T = the longest
// of them; labels (B) when d->labels.  Returns T.
int dataset_fill_batch(const aca_dataset *d, const uint32_t *idx, int B, int pad_id, int32_t *ids,
                       int32_t *mask, int32_t *labels);

// ---- the mutated data directory ----------------------------------------------------------------
typedef struct {
    char *name;
    char *target;     // class name as canonical in classes[]
    int target_id;    // index into classes
    char *probe_path; // DIR/probe_<name>.jsonl
    int acts;         // 1 when this collective mutated train.jsonl (manifest "acting"), else probes only
} aca_datadir_coll;

typedef struct {
    char *dir;
    char **classes; // class list from manifest.json, index = label id
    int n_classes;
    aca_datadir_coll *coll;
    int n_coll;
    uint64_t seed;  // the manifest's data seed (0 if absent)
    char *train_path, *test_path;
} aca_datadir;

// Reads DIR/manifest.json (classes, collectives) and checks that train.jsonl, test.jsonl and every
// probe file exist.  Errors name the file and the field.
int datadir_open(const char *dir, aca_datadir *dd, aca_err *e);
void datadir_free(aca_datadir *dd);

// Tokenizes a JSONL file of {"text":..., "label": class name} lines with tok at max_len, labels
// mapped through the class list (an unknown label is an error naming file:line).  With cache_dir
// (may be NULL) the tokens come from, or go to, the token cache there (tokcache.h): a file
// tokenized once for a tokenizer, max length and class list is read back by later runs.
int data_load_jsonl(const char *path, char *const *classes, int n_classes, const aca_tokenizer *tok,
                    int max_len, const char *cache_dir, aca_dataset *out, aca_err *e);

#endif
