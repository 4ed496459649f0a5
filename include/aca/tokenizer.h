// Tokenizers: BERT WordPiece (identical to Hugging Face BertTokenizer, uncased and cased) and
// SentencePiece (libsentencepiece), behind one interface; and the token cache.
#ifndef ACA_TOKENIZER_H
#define ACA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

typedef struct aca_tokenizer aca_tokenizer;

// path: a checkpoint directory (vocab.txt, or a *.model SentencePiece file; tokenizer_config.json
// is read for do_lower_case when present), a vocab.txt file, or a .model file.
// lowercase: -1 = from tokenizer_config.json (default true for WordPiece), 0 cased, 1 uncased.
aca_tokenizer *tokenizer_load(const char *path, int lowercase, aca_err *e);
void tokenizer_free(aca_tokenizer *t);

int tokenizer_vocab_size(const aca_tokenizer *t);
int tokenizer_pad_id(const aca_tokenizer *t);
int tokenizer_unk_id(const aca_tokenizer *t);
int tokenizer_cls_id(const aca_tokenizer *t);
int tokenizer_sep_id(const aca_tokenizer *t);
const char *tokenizer_id_to_token(const aca_tokenizer *t, int id);
int tokenizer_token_to_id(const aca_tokenizer *t, const char *token); // -1 if absent
// A stable hash of the vocabulary and settings (for cache keys).
uint64_t tokenizer_hash(const aca_tokenizer *t);

// Tokens of text without special tokens, appended to *ids (grown with xrealloc; *n updated).
// Returns -1 with e filled on invalid UTF-8.
int tokenizer_tokenize(const aca_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap, aca_err *e);
// [CLS] tokens [SEP], truncated on the right to max_len; ids has room for max_len.  *out_len is the
// number of real tokens; positions [out_len, max_len) are filled with the pad id.
int tokenizer_encode(const aca_tokenizer *t, const char *text, size_t len, int max_len, int32_t *ids,
                     int *out_len, aca_err *e);

#endif
