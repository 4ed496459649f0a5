// Datasets (see include/aca/data.h).
#include "aca/data.h"

#include <stdlib.h>
#include <string.h>

#include "aca/mem.h"

void dataset_free(aca_dataset *d) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(d->owned); i++) free(d->owned[i]);
    memset(d, 0, sizeof *d);
}

void dataset_from_arrays(aca_dataset *d, size_t n, const int32_t *ids, const int32_t *lens,
                         const int32_t *labels, int max_len) {
    memset(d, 0, sizeof *d);
    uint64_t *off = xmalloc((n + 1) * sizeof *off);
    off[0] = 0;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + (uint64_t)lens[i];
    int32_t *cp = xmalloc((off[n] ? off[n] : 1) * sizeof *cp);
    if (off[n]) memcpy(cp, ids, off[n] * sizeof *cp);
    int32_t *lb = NULL;
    if (labels) {
        lb = xmalloc((n ? n : 1) * sizeof *lb);
        if (n) memcpy(lb, labels, n * sizeof *lb);
    }
    d->n = n;
    d->ids = cp;
    d->off = off;
    d->labels = lb;
    d->max_len = max_len;
    d->owned[0] = cp, d->owned[1] = off, d->owned[2] = lb;
}

int dataset_fill_batch(const aca_dataset *d, const uint32_t *idx, int B, int pad_id, int32_t *ids,
                       int32_t *mask, int32_t *labels) {
    int T = 1;
    for (int b = 0; b < B; b++) {
        int len = dataset_len(d, idx[b]);
        if (len > T) T = len;
    }
    for (int b = 0; b < B; b++) {
        const int32_t *src = d->ids + d->off[idx[b]];
        int len = dataset_len(d, idx[b]);
        for (int t = 0; t < T; t++) {
            ids[(size_t)b * T + t] = t < len ? src[t] : pad_id;
            mask[(size_t)b * T + t] = t < len;
        }
        if (labels) labels[b] = d->labels ? d->labels[idx[b]] : -1;
    }
    return T;
}
