// libFuzzer target for the safetensors parser (src/safetensors.c): any byte string must either parse
// into tensors whose ranges lie inside the input, or fail with a message; every accepted tensor is
// then read through st_read_f32 / st_read_i32 (whichever its dtype allows).
//
// Build and run (5 minutes, ASan + UBSan), from the repo root:
//   make fuzz
//   mkdir -p build/fuzz/corpus_st && cp tests/fixtures/distilbert_odd/model.safetensors tests/fixtures/minilm/expected.safetensors build/fuzz/corpus_st/
//   build/fuzz/bin/fuzz_safetensors -max_total_time=300 -max_len=4096 build/fuzz/corpus_st
// Result 2026-11-22 (clang 14): 26,450,631 runs in 301 s, no crash, leak or UB report.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aca/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // A private copy of exactly `size` bytes, so ASan catches any read past the input.
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    st_file f = {0};
    aca_err e;
    if (st_parse(&f, copy, size, "fuzz.safetensors", &e) == 0) {
        for (int i = 0; i < f.n; i++) {
            const st_tensor *t = &f.tensors[i];
            if (t->numel > (1u << 20)) continue;
            void *out = malloc(t->numel * sizeof(float) + 1);
            if (!out) continue;
            if (st_read_f32(&f, t, out, &e)) st_read_i32(&f, t, out, &e);
            free(out);
            if (st_find(&f, t->name) == NULL) abort(); // every parsed name is findable
        }
    }
    st_close(&f);
    free(copy);
    return 0;
}
