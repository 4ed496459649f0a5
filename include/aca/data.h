// The data a model trains and is evaluated on: a tokenized labelled dataset, ragged.  Below the
// token cache (tokcache.h), which stores datasets, the data-directory reader (datadir.h), the model,
// the trainer and the evaluator: nothing here knows about them.
#ifndef ACA_DATA_H
#define ACA_DATA_H

#include <stddef.h>
#include <stdint.h>

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

#endif
