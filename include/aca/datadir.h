// The reader of a mutated data directory (`aca mutate` output: manifest.json, train.jsonl,
// test.jsonl, one probe set per collective), shared by train, eval and run, and the loader of its
// JSONL files as datasets (data.h) through the token cache (tokcache.h).
#ifndef ACA_DATADIR_H
#define ACA_DATADIR_H

#include <stddef.h>
#include <stdint.h>

#include "aca/data.h"
#include "aca/tokenizer.h"
#include "aca/util.h"

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
// The same for JSONL text in memory (a mutation's set, mutate.h mutation_jsonl), named `name` in
// messages and in the cache (a file of the same bytes and base name shares its cache entry).
int data_load_jsonl_text(const char *name, const aca_buf *text, char *const *classes, int n_classes,
                         const aca_tokenizer *tok, int max_len, const char *cache_dir, aca_dataset *out, aca_err *e);

// The documents of a JSONL file as data_load_jsonl counts them (its lines that are not blank),
// without parsing or tokenizing: for checks before the work.
int data_count_docs(const char *path, size_t *n, aca_err *e);

#endif
