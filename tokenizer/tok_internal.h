// Internals shared by the tokenizer files (not a public contract): the vocabulary table, the
// tokenizer object and the SentencePiece shim's C interface.
#ifndef ACA_TOK_INTERNAL_H
#define ACA_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aca/tokenizer.h"

// ---- vocabulary: open addressing over the token's bytes ----------------------------------------
// A continuation piece "##xyz" is stored with its "##"; vocab_lookup(…, cont = 1) hashes and
// compares as if "##" were prepended, so the WordPiece matcher never builds the string.
typedef struct {
    char *blob;         // every token's bytes, NUL after each
    uint32_t *off;      // (n) id -> offset into blob
    uint32_t *len;      // (n) id -> byte length
    int32_t *slots;     // (mask + 1) ids, -1 = empty; load <= 1/2
    uint32_t mask;
    int n;              // lines in vocab.txt = vocabulary size
    int max_len;        // longest token in bytes (bounds the greedy match)
} tok_vocab;

int vocab_build(tok_vocab *v, const char *data, size_t n, const char *path, aca_err *e);
void vocab_free(tok_vocab *v);
int vocab_lookup(const tok_vocab *v, const char *s, size_t n, int cont); // id or -1

// ---- the SentencePiece shim (tokenizer/spm.cc; the only C++ in the project) --------------------
typedef struct spm_model spm_model;
spm_model *spm_shim_load(const char *path, char *err, size_t errn); // NULL + message on failure
void spm_shim_free(spm_model *m);
int spm_shim_size(const spm_model *m);
int spm_shim_piece_to_id(const spm_model *m, const char *piece); // -1 when absent (not unk)
const char *spm_shim_id_to_piece(const spm_model *m, int id);  // NULL when out of range
int spm_shim_unk_id(const spm_model *m);
int spm_shim_pad_id(const spm_model *m); // -1 when the model has none
int spm_shim_bos_id(const spm_model *m);
int spm_shim_eos_id(const spm_model *m);
// Appends the ids of text to *ids (malloc'd, grown with realloc); -1 + message on failure.
int spm_shim_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap,
                    char *err, size_t errn);

// ---- the tokenizer object -----------------------------------------------------------------------
typedef enum { TOK_WORDPIECE = 0, TOK_SPM } tok_kind;

enum { TOK_N_SPECIAL = 5 };

struct aca_tokenizer {
    tok_kind kind;
    tok_vocab vocab;   // TOK_WORDPIECE
    spm_model *spm;    // TOK_SPM
    int lowercase;     // WordPiece: lower-case each word (BertTokenizer do_lower_case)
    int strip_accents; // NFD + drop Mn (default: same as lowercase, as Hugging Face)
    int pad_id, unk_id, cls_id, sep_id, mask_id;
    // Special tokens kept whole where they occur in text (WordPiece): text and id.
    const char *special[TOK_N_SPECIAL];
    int special_len[TOK_N_SPECIAL];
    int special_id[TOK_N_SPECIAL];
    int n_special;
    uint64_t hash;
    char *spm_path; // TOK_SPM: the .model file
    char *dir;      // the checkpoint directory it was loaded from, or NULL
    char *file;     // the vocabulary or .model file it was loaded from (no directory), or NULL
};

// Basic tokenization + WordPiece of text, special tokens in text kept whole; no [CLS]/[SEP].
// Appends to *ids; stops once *n reaches limit (SIZE_MAX: none).  tokenizer/wordpiece.c.
int wordpiece_tokenize(const aca_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap, size_t limit, aca_err *e);

// Why BERT's basic tokenizer leaves no trace of code point c (tokenizer_drop_reason), or NULL.
const char *wordpiece_drop_reason(uint32_t c, int strip_accents);

#endif
