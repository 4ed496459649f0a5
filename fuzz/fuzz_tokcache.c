// libFuzzer target for the token cache reader (tokenizer/tokcache.c): any byte string must either
// be accepted as a cache whose arrays are consistent (offsets rising from 0 to the id count, 2..max
// length ids per document, ids inside the vocabulary, labels inside the class list) or be rejected
// with a message.  Each input is parsed twice: as given, and "resealed" (its checksum field set to
// the right value), so mutations reach the structural checks behind the checksum.
//
// Build and run (5 minutes, ASan + UBSan), from the repo root:
//   make fuzz && mkdir -p build/fuzz/corpus_tc
//   echo '{"text": "Hello, world", "label": "a"}' > /tmp/s.jsonl
//   build/aca tokenize --vocab models/vocab/bert-base-uncased.txt --in /tmp/s.jsonl --out build/fuzz/corpus_tc/s.tok
//   build/fuzz/bin/fuzz_tokcache -max_total_time=300 -max_len=1024 build/fuzz/corpus_tc
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aca/tokcache.h"

static void check(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); // exactly size bytes: ASan sees any read past them
    memcpy(copy, data, size);
    tokcache_doc_set s;
    aca_err e = {0};
    if (tokcache_parse(copy, size, "fuzz.tok", &s, &e) == 0) {
        const aca_dataset *d = &s.data;
        if (d->off[0] != 0) abort();
        for (size_t i = 0; i < d->n; i++) {
            int l = dataset_len(d, i);
            if (l < 2 || l > d->max_len) abort();
        }
        for (uint64_t i = 0; i < d->off[d->n]; i++)
            if (d->ids[i] < 0 || d->ids[i] >= s.key.vocab_size) abort();
        for (size_t i = 0; d->labels && i < d->n; i++)
            if (d->labels[i] < 0 || d->labels[i] >= s.n_classes) abort();
        for (int i = 0; i < s.n_classes; i++)
            if (!s.classes[i][0]) abort();
        tokcache_doc_set_free(&s);
    } else if (!e.msg[0]) {
        abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size);
    if (size >= TOKCACHE_HEADER_BYTES) { // reseal: the checksum the writer would have stored
        uint8_t *s = malloc(size);
        memcpy(s, data, size);
        uint64_t h = hash_fnv1a64(s, 120, ACA_FNV_SEED);
        h = hash_fnv1a64(s + TOKCACHE_HEADER_BYTES, size - TOKCACHE_HEADER_BYTES, h);
        memcpy(s + 120, &h, 8);
        check(s, size);
        free(s);
    }
    return 0;
}
