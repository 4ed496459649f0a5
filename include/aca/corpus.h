// Corpora: the resume corpus line format (id:::label1;label2:::text), JSONL {"text","label"} and TSV
// (label<TAB>text); class lists; deterministic train/test splits; statistics; the synthetic corpus.
// All text held in memory is valid UTF-8 (cp1252 input is converted on load).
#ifndef ACA_CORPUS_H
#define ACA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

typedef enum { CORPUS_FMT_AUTO = 0, CORPUS_FMT_RESUME, CORPUS_FMT_JSONL, CORPUS_FMT_TSV } aca_corpus_format;
typedef enum { CORPUS_ENC_AUTO = 0, CORPUS_ENC_UTF8, CORPUS_ENC_CP1252 } aca_corpus_encoding;
typedef enum { CORPUS_MULTI_FIRST = 0, CORPUS_MULTI_DROP } aca_multilabel_rule;

typedef struct {
    char *id;    // document id (resume format: the id field; JSONL "id" or the line number)
    char *text;  // UTF-8, NUL-terminated
    size_t len;  // bytes of text
    int label;   // class index into aca_corpus.classes
    int n_labels; // labels on the original line (>1: multi-label)
    size_t line; // 1-based line in the source file
} aca_doc;

typedef struct {
    aca_doc *docs;
    size_t n;
    char **classes; // canonical class names, index = label
    int n_classes;
} aca_corpus;

typedef struct {
    aca_corpus_format format;
    aca_corpus_encoding encoding;
    aca_multilabel_rule multilabel;
    // Fixed class list (e.g. from a manifest or --classes FILE); labels not in it are an error.
    // NULL: classes are collected from the data in order of first appearance.
    const char *const *classes;
    int n_classes;
} aca_corpus_opts;

int corpus_load(const char *path, const aca_corpus_opts *opts, aca_corpus *c, aca_err *e);
void corpus_free(aca_corpus *c);
// Class lookup: case-insensitive, '_' and ' ' alike.  Returns -1 when absent.
int corpus_class_index(const aca_corpus *c, const char *name);
int class_name_equal(const char *a, const char *b);
// Reads a class list file (one name per line, or a JSON array).
int corpus_load_classes(const char *path, char ***names, int *n, aca_err *e);
// Writes JSONL {"id","text","label"} (label as class name) atomically; docs selected by idx (or all).
int corpus_write_jsonl(const char *path, const aca_corpus *c, const uint32_t *idx, size_t n, aca_err *e);

// Deterministic split by seed: a permutation of [0,n); the first n_train are train, the next
// n_test are test.  Presets: "hardt" 25000/4783, "karan" 20000/5000; or explicit counts.
typedef struct {
    uint32_t *train;
    size_t n_train;
    uint32_t *test;
    size_t n_test;
} aca_split;
int corpus_split(const aca_corpus *c, size_t n_train, size_t n_test, uint64_t seed, aca_split *s, aca_err *e);
int corpus_split_preset(const char *name, size_t *n_train, size_t *n_test, aca_err *e);
void split_free(aca_split *s);

// Synthetic resume corpus (deterministic in seed) in the resume line format.
int corpus_synth_write(const char *path, size_t n_docs, uint64_t seed, aca_err *e);
void corpus_synth_text(aca_buf *out, size_t n_docs, uint64_t seed);
// The 10 occupation classes of the resume corpus, in its order.
extern const char *const ACA_RESUME_CLASSES[10];

// Whitespace-separated word count (the unit of the insertion period).
size_t text_count_words(const char *s, size_t n);

#endif
