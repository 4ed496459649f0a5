// JSON text with its length.  cJSON (used everywhere else for JSON) keeps strings NUL-terminated, so
// a "\u0000" inside a string cuts it there, and it skips any control byte between tokens.  Text
// that must arrive whole (a document's "text", a spec's signal) goes through this strict scanner:
// it checks that a buffer holds exactly one JSON value and hands every string, decoded byte-exact
// (U+0000 kept), to a visitor together with where it sits.
#ifndef ACA_JSONTEXT_H
#define ACA_JSONTEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "aca/util.h"

// One string value met by the scanner.
typedef struct {
    const char *path; // JSON path: "text", "label[1]", "collectives[0].signal" ("" for a top-level string)
    const char *top;  // the top-level member's key ("" when the value is not inside a top-level object)
    int depth;        // 1 for a top-level member's value or a top-level array's element, 2 one level down...
    const char *s;    // the decoded bytes (may hold U+0000), NUL-terminated after n bytes
    size_t n;
    size_t off;       // byte offset of the opening quote in the scanned buffer
} json_str;

// A non-zero return stops the scan; json_scan returns that value.
typedef int (*json_str_fn)(void *ctx, const json_str *v);

typedef struct {
    size_t off;      // byte offset of the problem in the scanned buffer
    const char *why; // what is wrong (a static string)
} json_scan_err;

// Checks that s[0,n) is exactly one JSON value (RFC 8259), with only space, TAB, CR and LF around
// and between its tokens: no second value and no trailing content; no raw control character
// (U+0000..U+001F) inside a string; valid UTF-8; valid escapes, a \uD800-\uDBFF escape followed by
// its low surrogate; numbers as the grammar says; no U+0000 in an object key; at most 512 levels.
// fn (may be NULL) is called for every string value (not for keys), in document order.
// Returns 0, -1 on a syntax error (*err filled), or the non-zero value fn returned.
int json_scan(const char *s, size_t n, json_str_fn fn, void *ctx, json_scan_err *err);

// The path of the first string value in s[0,n) that holds U+0000, copied into path (cap bytes).
// Returns 1 (found), 0 (none) or -1 (not valid JSON: *err filled).
int json_find_nul(const char *s, size_t n, char *path, size_t cap, json_scan_err *err);

// For a JSON file read whole (a spec, a grid, a manifest): json_scan, then an error naming
// FILE:LINE: column C when s[0,n) is not strict JSON, or FILE: PATH when a string holds U+0000.
int json_doc_check(const char *s, size_t n, const char *file, aca_err *e);

// 3 when s[0,n) starts with a UTF-8 byte order mark (which means UTF-8 and is skipped), else 0.
size_t utf8_bom_len(const char *s, size_t n);

// 1-based line and byte column of offset off in s.
void json_line_col(const char *s, size_t off, size_t *line, size_t *col);

// "a number (7)", "an object", "null"...: what a JSON value is, for messages.
const char *json_kind(const cJSON *v, char *buf, size_t cap);

// One JSONL document line: {"text": str, "label": ..., "id": ..., other keys}.
typedef struct {
    cJSON *root;       // the whole object (free with cJSON_Delete)
    const cJSON *label; // NULL when absent
    const cJSON *id;    // NULL when absent
    size_t text_off;   // the text's bytes are text->data[text_off, text_off + text_len) (NUL after)
    size_t text_len;
} jsonl_doc;

// Parses line s[0,n) with json_scan, appends the top-level "text" string's exact bytes and a NUL
// to *text, and builds the cJSON tree for the other fields.  Errors (in e, without file or line):
// "column C: <syntax problem>", not an object, "text" missing or not a string, a field "text",
// "label" or "id" given twice, a "label" or "id" string holding U+0000.
int jsonl_doc_parse(const char *s, size_t n, aca_buf *text, jsonl_doc *d, aca_err *e);

#endif
