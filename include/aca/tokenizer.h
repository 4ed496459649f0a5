// Tokenizers: BERT WordPiece (identical to Hugging Face BertTokenizer, uncased and cased) and
// SentencePiece (libsentencepiece), behind one interface; and the token cache.
#ifndef ACA_TOKENIZER_H
#define ACA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

typedef struct aca_tokenizer aca_tokenizer;

// The one way aca opens a tokenizer.  path is
//   - a checkpoint directory, read as Hugging Face reads it: WordPiece from vocab.txt and/or
//     tokenizer.json (transformers 5 saves only the latter; when both are there they must hold the
//     same tokens), with tokenizer_config.json's do_lower_case and strip_accents (BERT's defaults
//     when absent: uncased, accents stripped when lower-casing); what those files say that would make
//     Hugging Face tokenize otherwise than aca (other special tokens, never_split, extra added
//     tokens, tokenize_chinese_chars false, another tokenizer_class) is an error naming the file and
//     field.  Without a WordPiece vocabulary, the directory's one SentencePiece *.model;
//   - a vocab.txt file (BertTokenizer(vocab_file)'s defaults: uncased), or a .model file.
// vocab.txt lines end with "\n" or "\r\n"; a line Hugging Face's Python and Rust readers would read
// differently (a lone "\r", trailing white space, a BOM, invalid UTF-8, NUL) is an error naming it.
// lowercase: -1 = as above, 0 cased, 1 uncased (overrides tokenizer_config.json).
aca_tokenizer *tokenizer_load(const char *path, int lowercase, aca_err *e);
// The tokenizer of a run: vocab (a --vocab file or directory) when given, else the checkpoint
// directory model_dir (tokenizer_load); neither is an error (a model from --config needs --vocab),
// and so is a vocab that tokenizes otherwise (tokenizer_hash) than model_dir's own tokenizer.
aca_tokenizer *tokenizer_for_model(const char *vocab, const char *model_dir, aca_err *e);
// 0 when every id of t is below the model's vocab_size; else an error naming both sizes.
int tokenizer_fits_model(const aca_tokenizer *t, int model_vocab_size, aca_err *e);
// Why the tokenizer t leaves no trace of code point cp wherever it stands in a text: a phrase
// ("removed by BERT's text cleaning", "white space", ...), or NULL when cp may give a token.  t NULL:
// Hugging Face BertTokenizer's defaults (uncased, accents stripped; no vocabulary needed).  WordPiece:
// decided per code point by the rules its tokenization applies (tests/test_tokenizer.c compares the
// two over every code point); SentencePiece: "a cp b" encodes as "a b" does.
const char *tokenizer_drop_reason(const aca_tokenizer *t, uint32_t cp);
// Where it was loaded from (directory or file), for messages.
const char *tokenizer_source(const aca_tokenizer *t);
// Writes into dir (which exists) what Hugging Face needs to load the same tokenizer.  WordPiece:
// vocab.txt ("\n" line ends), tokenizer_config.json (BertTokenizer, do_lower_case, strip_accents,
// the special tokens, model_max_length when > 0) and special_tokens_map.json.  SentencePiece: the
// .model file under its own name, and the tokenizer_config.json / special_tokens_map.json of the
// directory it was loaded from, copied (aca does not interpret them for SentencePiece).
int tokenizer_save(const aca_tokenizer *t, const char *dir, int model_max_length, aca_err *e);
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
