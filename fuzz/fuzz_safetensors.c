// libFuzzer target for the safetensors parser (src/safetensors.c): any byte string must either parse
// into tensors whose ranges lie inside the input, or fail with a message; every accepted tensor is
// then read through st_read_f32 / st_read_i32 (whichever its dtype allows).
//
// Build and run (5 minutes, ASan + UBSan), from the repo root:
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude \
//     fuzz/fuzz_safetensors.c src/safetensors.c src/util.c -lcjson -lm -o build/fuzz_safetensors
//   mkdir -p build/fuzz_corpus && cp tests/fixtures/*/*.safetensors build/fuzz_corpus/
//   build/fuzz_safetensors -max_total_time=300 -max_len=4096 build/fuzz_corpus
// (src/util.c needs ACA_GIT_REV: add -DACA_GIT_REV='"fuzz"'.)
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
