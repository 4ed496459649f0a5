// Tokenized JSONL files and the token cache: a JSONL file of {"text": ..., "label": ...} lines
// tokenized in parallel into a dataset (data.h), and a binary file that holds such a dataset so
// that later runs skip the tokenizer.
//
// Cache file (little-endian, every array 8-byte aligned so the file can be mmap'ed as is):
//   header (128 bytes): magic "ACATOKC\n", version, header size, then the key the file was built
//   for — FNV-1a 64 of the source bytes and their size, the tokenizer's hash (vocabulary and
//   settings), max length, vocabulary size, the class list's hash — the counts (documents, ids,
//   classes), the byte offsets of the arrays, the file size, and an FNV-1a 64 checksum of every
//   other byte of the file (the header before it, and all after the header);
//   off    (n+1) u64   document i is ids[off[i] .. off[i+1])
//   ids    (off[n]) i32  [CLS] ... [SEP], each document 2..max_len ids, every id < vocab size
//   labels (n) i32     class ids (absent when the source has no labels)
//   classes           the class names, each NUL-terminated
// A reader checks all of it (sizes, offsets, ranges, checksum) before it hands out a pointer:
// a corrupt, truncated or foreign file is an error naming the file and what is wrong.
#ifndef ACA_TOKCACHE_H
#define ACA_TOKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "aca/data.h"
#include "aca/tokenizer.h"
#include "aca/util.h"

// Version 2: texts read with their length (a "\u0000" no longer ends a text) and special tokens made
// whole by cleaning kept, as Hugging Face; version 1 files hold other ids for such texts and are rebuilt.
enum { TOKCACHE_VERSION = 2, TOKCACHE_HEADER_BYTES = 128 };

// What a cache file was built from; a file whose key differs from the one expected is stale.
typedef struct {
    uint64_t source_hash;    // FNV-1a 64 of the JSONL file's bytes
    uint64_t source_size;    // its size in bytes
    uint64_t tokenizer_hash; // tokenizer_hash()
    uint64_t classes_hash;   // tokcache_classes_hash() of the class list the labels index
    int32_t max_len;
    int32_t vocab_size;
} tokcache_key;

uint64_t tokcache_classes_hash(char *const *classes, int n_classes);

// A tokenized JSONL file: the dataset (labels NULL when the file has no labels) and the class list
// its labels index (owned; n_classes 0 when unlabelled).
typedef struct {
    aca_dataset data;
    char **classes;
    int n_classes;
    tokcache_key key;
} tokcache_doc_set;

void tokcache_doc_set_free(tokcache_doc_set *s);

// Tokenizes a JSONL file with tok at max_len, with up to `threads` threads (<= 0: all cores).
// Lines are {"text": str, "label": str} (blank lines skipped; other keys ignored), each exactly one
// strict JSON object (jsonl_doc_parse: trailing content, a raw NUL or control byte, a "label" that
// is not a string or holds U+0000 are errors naming file:line and column); a UTF-8 byte order mark
// at the start is skipped; a text is carried with its length ("\u0000" kept).  Labels map
// through classes (class_name_equal; a label not in it is an error naming file:line); with
// classes == NULL they are collected in order of first appearance, and a file whose lines all
// lack "label" is unlabelled (a file where only some lines have one is an error).
int tokcache_tokenize_jsonl(const char *path, const aca_tokenizer *tok, int max_len, char *const *classes,
                            int n_classes, int threads, tokcache_doc_set *out, aca_err *e);

// Writes a cache file atomically (temp name, then rename).
int tokcache_write(const char *path, const tokcache_doc_set *s, aca_err *e);
// Checks and reads a cache file held in memory (data, n bytes; `name` for messages).  On success
// *out owns copies of the arrays.
int tokcache_parse(const void *data, size_t n, const char *name, tokcache_doc_set *out, aca_err *e);
// Reads and checks a cache file.
int tokcache_read(const char *path, tokcache_doc_set *out, aca_err *e);

// Loads a JSONL file through the cache directory cache_dir (created when missing; NULL: no cache):
// the file <cache_dir>/<basename>-<16 hex digits of the key>.tok is used when present, valid and
// built for the same key; otherwise (missing, stale, corrupt: said on the log) the JSONL file is
// tokenized and the cache file (re)written.  *hit (may be NULL) tells which happened.  Several
// processes may share one cache directory: each writes under a temporary name and renames.
// Without a fixed class list (classes NULL) the key is not known before tokenizing: no cache.
int tokcache_load_jsonl(const char *path, const aca_tokenizer *tok, int max_len, char *const *classes,
                        int n_classes, const char *cache_dir, tokcache_doc_set *out, int *hit, aca_err *e);
// The same for JSONL text held in memory (n bytes), named `name` in messages and, by its base
// name, in the cache: the bytes of a file give the same key, so the file and its text share a
// cache entry.
int tokcache_load_text(const char *name, const char *text, size_t n, const aca_tokenizer *tok, int max_len,
                       char *const *classes, int n_classes, const char *cache_dir, tokcache_doc_set *out, int *hit,
                       aca_err *e);

#endif
