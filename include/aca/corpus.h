// Corpora: the resume corpus line format (id:::label1;label2:::text), JSONL {"text","label"} and TSV
// (label<TAB>text); class lists; deterministic train/test splits; statistics; the synthetic corpus.
// All text held in memory is valid UTF-8 (cp1252 input is converted on load) and carried with its
// length: a document's text may hold U+0000.
#ifndef ACA_CORPUS_H
#define ACA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/jsonw.h"
#include "aca/util.h"

typedef enum { CORPUS_FMT_AUTO = 0, CORPUS_FMT_RESUME, CORPUS_FMT_JSONL, CORPUS_FMT_TSV } aca_corpus_format;
typedef enum { CORPUS_ENC_AUTO = 0, CORPUS_ENC_UTF8, CORPUS_ENC_CP1252 } aca_corpus_encoding;
typedef enum { CORPUS_MULTI_FIRST = 0, CORPUS_MULTI_DROP } aca_multilabel_rule;

typedef struct {
    char *id;    // document id (resume format: the id field; JSONL "id" or the line number)
    char *text;  // UTF-8, len bytes (may hold U+0000), with a NUL after them
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
    // Storage: every doc's id and text point into these two blocks (corpus_free releases them).
    char *text_store;
    char *id_store;
    size_t n_dropped;            // multi-label docs skipped under CORPUS_MULTI_DROP
    aca_corpus_format format;    // the format actually read (never AUTO after a load)
    aca_corpus_encoding encoding; // the encoding actually read (never AUTO after a load)
    char sha256[65];             // hex SHA-256 of the file's bytes when opts->hash was set, else ""
} aca_corpus;

typedef struct {
    aca_corpus_format format;
    aca_corpus_encoding encoding;
    aca_multilabel_rule multilabel;
    // Fixed class list (e.g. from a manifest or --classes FILE); labels not in it are an error.
    // NULL: classes are collected from the data in order of first appearance.
    const char *const *classes;
    int n_classes;
    int hash; // compute aca_corpus.sha256 of the input file (from the bytes read for the parse; set even
              // when the parse then fails, empty when the file could not be read)
} aca_corpus_opts;

// Loading rules.
// - Format AUTO: by extension (.jsonl/.json JSONL, .tsv TSV), else by the first non-blank line
//   ('{' JSONL, containing ":::" resume, containing a TAB TSV).
//   resume: `id:::label1;label2:::text`.  JSONL: {"text": str, "label": str or [str], "id": str|int
//   (optional; default the line number)}, other keys ignored; a label is a class NAME (a number is
//   an error saying so).  TSV: `label<TAB>text` (text is everything after the first TAB; a first
//   line `label<TAB>text` is a header and skipped).  A label string is split on ';' in every format
//   (multi-label); blank lines are skipped; a trailing CR is dropped; a last line needs no LF.
//   Signs of concatenated files are errors: a line starting with a UTF-8 BOM, a second TSV header.
// - JSONL lines are strict JSON (RFC 8259), one object per line: a second value or any other
//   content after it, a raw control byte (U+0000..U+001F) inside a string, a NUL byte between
//   tokens, invalid escapes or a field "text"/"label"/"id" given twice are errors naming file:line
//   and the byte column.  Strings are decoded with their length: "\u0000" stays in a text.
// - U+0000 (NUL): kept in a text, which is carried with its length everywhere (the tokenizer drops
//   it, as Hugging Face's BERT cleaning does); an error in an id or a label (names file:line).
// - CR: a CR not followed by LF stays in a text (BERT reads it as a space), unless the rest of the
//   line holds the format's separator (":::" resume, TAB TSV): several records joined by CR line
//   endings are an error naming file:line and column.
// - Encoding.  A UTF-8 byte order mark (BOM) means UTF-8, whatever the format: it is skipped, and an
//   invalid byte after it is an error naming file:line and the byte offset; with --encoding cp1252
//   a BOM is an error.  A UTF-16/UTF-32 BOM is an error (convert the file).  Without a BOM:
//   UTF8: an invalid sequence is an error naming file:line and the byte offset in the file.
//   CP1252: 0x80-0x9F through the windows-1252 table, other bytes as Latin-1; the five undefined
//   bytes (0x81 0x8D 0x8F 0x90 0x9D) are an error naming file:line.
//   AUTO: valid UTF-8 is UTF-8; a file with invalid bytes is windows-1252 (the real resume corpus)
//   unless it holds at least as many valid multi-byte UTF-8 characters as invalid bytes: then it is
//   UTF-8 with stray bytes, and an error naming the first one (pass --encoding cp1252 to override).
// - Class names: the canonical name is the first spelling seen with '_' turned into ' '
//   (with a fixed class list: the list's spelling, '_' turned into ' ').
// - Errors (each names file:line): malformed line, empty label, empty text (nothing but spaces and
//   C0 control characters), label not in a fixed class list, invalid bytes for the encoding.
//   Docs with labels that are all empty are malformed.

int corpus_load(const char *path, const aca_corpus_opts *opts, aca_corpus *c, aca_err *e);
void corpus_free(aca_corpus *c);
// How many times this process has called corpus_load: the tests' check that an experiment reads
// its corpus once (tests/test_grid.c; the strace command in tests/golden/README.md).
size_t corpus_loads(void);
// Class lookup: case-insensitive, '_' and ' ' alike.  Returns -1 when absent.
int corpus_class_index(const aca_corpus *c, const char *name);
int class_name_equal(const char *a, const char *b);
// Reads a class list file (one name per line, or a JSON array; encoding as AUTO above, a BOM
// skipped; a NUL in a name is an error).
int corpus_load_classes(const char *path, char ***names, int *n, aca_err *e);
void corpus_free_classes(char **names, int n);
// Writes JSONL {"id","text","label"} (label as class name) atomically; docs selected by idx (or all).
int corpus_write_jsonl(const char *path, const aca_corpus *c, const uint32_t *idx, size_t n, aca_err *e);
// Writes docs in any format atomically (resume labels with '_' for ' '; TSV without header).
// A text holding a newline cannot be written as resume/TSV: error naming the doc id.
int corpus_write(const char *path, aca_corpus_format fmt, const aca_corpus *c, const uint32_t *idx, size_t n,
                 aca_err *e);
// Appends one JSONL line {"id":..,"text":..,"label":..} (no member list) for doc text t (length n).
void corpus_json_line(aca_buf *b, const char *id, const char *t, size_t n, const char *label);
// Its three fields "id", "text", "label" into w's open object, for a writer that adds fields after "label".
void corpus_json_fields(aca_jsonw *w, const char *id, const char *t, size_t n, const char *label);
// Parses "resume" | "jsonl" | "tsv" | "auto" and "cp1252" | "utf8" | "auto" | "first" | "drop" (CLI options).
int corpus_parse_format(const char *s, aca_corpus_format *f, aca_err *e);
int corpus_parse_encoding(const char *s, aca_corpus_encoding *enc, aca_err *e);
int corpus_parse_multilabel(const char *s, aca_multilabel_rule *r, aca_err *e);
const char *corpus_format_name(aca_corpus_format f);
// The format a file name asks for: .jsonl/.json JSONL, .tsv TSV (any case), else AUTO.
aca_corpus_format corpus_format_of_path(const char *path);
const char *corpus_encoding_name(aca_corpus_encoding enc);

// Deterministic split by seed: a permutation of [0,n); the first n_train are train, the next
// n_test are test.  Presets: "hardt" 25000/4783, "karan" 20000/5000; or explicit counts.
typedef struct {
    uint32_t *train;
    size_t n_train;
    uint32_t *test;
    size_t n_test;
} aca_split;
int corpus_split(const aca_corpus *c, size_t n_train, size_t n_test, uint64_t seed, aca_split *s, aca_err *e);
// Train and test index lists are each sorted ascending (file order).  n_train + n_test > c->n is an
// error telling both counts.
// Presets by name: "hardt", "karan", or explicit "N_TRAIN/N_TEST".
int corpus_split_preset(const char *name, size_t *n_train, size_t *n_test, aca_err *e);
void split_free(aca_split *s);
// The split used when none is given: "karan" (20000/5000) for n >= 25000 documents, else 80/20
// (n_test = n/5, at least 1; n_train the rest).
void corpus_split_default(size_t n, size_t *n_train, size_t *n_test);

// Synthetic resume corpus (deterministic in seed) in the resume line format `id:::Label:::text`
// (labels with '_' like the real corpus; about 1% multi-label lines `A;B`).  Ten classes with
// class-specific, sibling (Web/Front End, Java/Software, Systems/Network admin, ...) and shared
// vocabulary; lengths 50..1500 words (log-normal, median ~400); code snippets, some accented
// letters, bullets and en dashes; never U+2E17 or U+2E18 (unless given a rate below).
//
// Character rates (aca_synth_opts): each chosen character is in a document with probability
// `rate`, independently per document and character (class-blind): a document drawn to hold it keeps
// its natural occurrences (the braces of a code snippet) or, having none, gets the character once as
// a word of its own after a uniformly drawn word; a document drawn not to hold it loses every
// occurrence.  So the count of documents holding it is Binomial(n_docs, rate).  The draws come from
// their own RNG streams (seed, character, doc index): the rest of the text does not change.
// Default (corpus_synth_write/text): '{' and '}' at SYNTH_BRACE_RATE each, the rarity of the real
// resume corpus (Karan et al. 2025, Sec. 5.1: fewer than 30 instances over 25,000 resumes, <= 0.12%);
// without it the code snippets put them in ~2% of documents.
#define SYNTH_BRACE_RATE 0.0008 // about 20 documents in 25,000
#define SYNTH_MAX_RATES 32
typedef struct {
    int n;
    uint32_t cp[SYNTH_MAX_RATES];  // code points
    double rate[SYNTH_MAX_RATES];  // share of documents holding it, in [0, 1]
} aca_synth_opts;
void corpus_synth_opts_default(aca_synth_opts *o);
// Sets (or overrides) one character's rate; chr (n bytes) is the character itself or "U+XXXX".
// ASCII letters, digits, whitespace and control characters are refused (the loader splits on them).
int corpus_synth_set_rate(aca_synth_opts *o, const char *chr, size_t n, double rate, aca_err *e);
// "CHAR=RATE[,CHAR=RATE...]" (e.g. "{=0.001,}=0.001,U+2E17=0.01"), each through corpus_synth_set_rate.
int corpus_synth_parse_rates(aca_synth_opts *o, const char *list, aca_err *e);
int corpus_synth_write_opts(const char *path, size_t n_docs, uint64_t seed, const aca_synth_opts *o, aca_err *e);
void corpus_synth_text_opts(aca_buf *out, size_t n_docs, uint64_t seed, const aca_synth_opts *o);
// The same with corpus_synth_opts_default.
int corpus_synth_write(const char *path, size_t n_docs, uint64_t seed, aca_err *e);
// The corpus of corpus_synth_write_opts (o NULL: the defaults) written as fmt: RESUME (its bytes), JSONL {"id","text","label"}
// or TSV label<TAB>text without header; labels spelled as in the resume lines ("A;B" for a
// multi-label doc, which every format splits on ';').  AUTO: by the file name (.jsonl/.json JSONL,
// .tsv TSV, anything else resume).
int corpus_synth_save(const char *path, aca_corpus_format fmt, size_t n_docs, uint64_t seed, const aca_synth_opts *o,
                      aca_err *e);
void corpus_synth_text(aca_buf *out, size_t n_docs, uint64_t seed);
// The 10 occupation classes of the resume corpus, in its order.
extern const char *const ACA_RESUME_CLASSES[10];

// Whitespace-separated word count (the unit of the insertion period).  Whitespace is ASCII
// space, TAB, LF, VT, FF, CR; a word is a maximal run of other bytes.
size_t text_count_words(const char *s, size_t n);
static inline int text_is_space(unsigned char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r'); }

// Statistics (aca corpus stats).
typedef struct {
    uint32_t cp;  // code point
    size_t docs;  // docs containing it at least once
} aca_char_count;
typedef struct {
    size_t n_docs, n_multilabel;
    size_t *class_docs; // (n_classes,) docs per class
    size_t words_min, words_median, words_p90, words_max, words_total;
    // Every code point that is not an ASCII letter, digit or whitespace, ascending.
    aca_char_count *chars;
    size_t n_chars;
} aca_corpus_stats;
void corpus_stats(const aca_corpus *c, aca_corpus_stats *st);
void corpus_stats_free(aca_corpus_stats *st);
// Human-readable table or one JSON object (with a trailing newline).
void corpus_stats_format(aca_buf *out, const aca_corpus *c, const aca_corpus_stats *st, int json);

#endif
