// libFuzzer target for the strict JSON scanner (src/jsontext.c), differential against cJSON: any
// byte string through json_scan and jsonl_doc_parse.  Checked on every input: a failure names an
// offset inside the input and a reason; what the scanner accepts cJSON parses too; every decoded
// string is valid UTF-8; each top-level member string equals cJSON's value byte for byte up to the
// first U+0000 (where cJSON's C string ends), and jsonl_doc_parse's text is exactly the scanner's.
//
// Build and run (ASan + UBSan), from the repo root:
//   make fuzz
//   mkdir -p build/fuzz/corpus_json && cp tests/fixtures/tok/spm.json build/fuzz/corpus_json/
//   build/fuzz/bin/fuzz_jsontext -max_total_time=300 -max_len=4096 build/fuzz/corpus_json
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aca/jsontext.h"

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

// cJSON's C string c equals bytes s[0,n) up to the first U+0000.
static void same_up_to_nul(const char *c, const char *s, size_t n) {
    const char *z = memchr(s, 0, n);
    size_t k = z ? (size_t)(z - s) : n;
    if (strlen(c) != k || memcmp(c, s, k)) abort();
}

static int visit(void *ctx, const json_str *v) {
    const cJSON *root = ctx, *c = NULL;
    if (!valid_utf8(v->s, v->n) || v->s[v->n] != 0) abort();
    if (v->depth != 1 || !cJSON_IsObject(root)) return 0;
    int count = 0;
    for (const cJSON *k = root->child; k; k = k->next)
        if (!strcmp(k->string, v->top)) count++, c = c ? c : k;
    if (!c) abort();
    if (count == 1 && cJSON_IsString(c)) same_up_to_nul(c->valuestring, v->s, v->n); // else a duplicate key
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size ? size : 1); // exactly the input's bytes: ASan sees any read past them
    memcpy(s, data, size);
    json_scan_err se = {0};
    int rc = json_scan(s, size, NULL, NULL, &se);
    if (rc < 0 && (se.off > size || !se.why || !se.why[0])) abort();
    if (rc == 0) {
        cJSON *root = cJSON_ParseWithLength(s, size);
        if (!root) abort(); // strict JSON is JSON for cJSON too
        if (json_scan(s, size, visit, root, &se)) abort();
        aca_buf text = {0};
        jsonl_doc d;
        aca_err e = {0};
        if (jsonl_doc_parse(s, size, &text, &d, &e) == 0) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "text");
            if (!cJSON_IsString(t) || text.data[d.text_off + d.text_len] != 0) abort();
            same_up_to_nul(t->valuestring, text.data + d.text_off, d.text_len);
            cJSON_Delete(d.root);
        } else if (!e.msg[0]) {
            abort();
        }
        buf_free(&text);
        cJSON_Delete(root);
    }
    free(s);
    return 0;
}
