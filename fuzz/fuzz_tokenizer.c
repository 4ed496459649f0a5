// libFuzzer target for the tokenizers (tokenizer/wordpiece.c, tokenizer/spm.cc): any byte string,
// through the uncased and the cased WordPiece tokenizer and the SentencePiece fixture model.
// Checked on every input: valid UTF-8 always tokenizes, invalid UTF-8 fails with a message (never
// a crash); every id is inside the vocabulary; tokenizer_encode at max length L gives [CLS], the
// first L-2 ids of the full tokenization, [SEP], then padding.
//
// Build and run (5 minutes, ASan + UBSan), from the repo root:
//   make fuzz
//   mkdir -p build/fuzz/corpus_tok && cp tests/fixtures/tok/cased_vocab.txt build/fuzz/corpus_tok/
//   build/fuzz/bin/fuzz_tokenizer -max_total_time=300 -max_len=2048 build/fuzz/corpus_tok
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aca/tokenizer.h"

static aca_tokenizer *g_tok[3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aca_err e;
    g_tok[0] = tokenizer_load("models/vocab/bert-base-uncased.txt", 1, &e);
    g_tok[1] = tokenizer_load("tests/fixtures/tok/cased_vocab.txt", 0, &e);
    g_tok[2] = tokenizer_load("tests/fixtures/tok/tiny_spm.model", -1, &e);
    for (int i = 0; i < 3; i++)
        if (!g_tok[i]) {
            fprintf(stderr, "fuzz_tokenizer: run from the repository root (%s)\n", e.msg);
            abort();
        }
    return 0;
}

static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const aca_tokenizer *t = g_tok[data[0] % 3];
    const int max_len = 2 + data[0] / 3 % 40;
    char *text = malloc(size); // exactly the text's bytes: ASan sees any read past them
    memcpy(text, data + 1, size - 1);
    const size_t n = size - 1;
    int32_t *ids = NULL, *row = malloc((size_t)max_len * sizeof *row);
    size_t nid = 0, cap = 0;
    aca_err e = {0};
    const int ok = tokenizer_tokenize(t, text, n, &ids, &nid, &cap, &e) == 0;
    if (ok != valid_utf8(data + 1, n)) abort(); // U+0000 included: texts go by length
    if (!ok && !e.msg[0]) abort(); // a failure always says why
    if (ok) {
        const int V = tokenizer_vocab_size(t);
        for (size_t i = 0; i < nid; i++)
            if (ids[i] < 0 || ids[i] >= V) abort();
        int len = 0;
        if (tokenizer_encode(t, text, n, max_len, row, &len, &e)) abort();
        const size_t body = nid < (size_t)max_len - 2 ? nid : (size_t)max_len - 2;
        if (len != (int)body + 2 || row[0] != tokenizer_cls_id(t) || row[len - 1] != tokenizer_sep_id(t)) abort();
        if (body && memcmp(row + 1, ids, body * sizeof *ids)) abort();
        for (int i = len; i < max_len; i++)
            if (row[i] != tokenizer_pad_id(t)) abort();
    }
    free(ids);
    free(row);
    free(text);
    return 0;
}
