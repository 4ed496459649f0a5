// The tokenizer interface (include/aca/tokenizer.h): loading a WordPiece vocabulary or a
// SentencePiece model from a checkpoint directory, ids <-> tokens, and [CLS] … [SEP] encoding.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok_internal.h"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

// tokenizer_config.json next to the vocabulary: do_lower_case and strip_accents when present.
static int read_tokenizer_config(const char *dir, int *lower, int *strip, aca_err *e) {
    char *p = path_join(dir, "tokenizer_config.json");
    int rc = 0;
    if (file_exists(p)) {
        aca_buf b = {0};
        if (file_read_all(p, &b, e)) {
            rc = -1;
        } else {
            cJSON *j = cJSON_ParseWithLength(b.data, b.len);
            if (!j) {
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: not valid JSON", p);
            } else {
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "do_lower_case");
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "strip_accents");
                if (l && !cJSON_IsBool(l)) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: field do_lower_case: not a boolean", p);
                else if (l) *lower = cJSON_IsTrue(l);
                if (!rc && s && !cJSON_IsNull(s)) {
                    if (!cJSON_IsBool(s)) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: field strip_accents: not a boolean", p);
                    else *strip = cJSON_IsTrue(s);
                }
                cJSON_Delete(j);
            }
        }
        buf_free(&b);
    }
    free(p);
    return rc;
}

// The single *.model file of a directory, or NULL (none, or several: *err set).
static char *find_spm_model(const char *dir, aca_err *e, int *several) {
    DIR *d = opendir(dir);
    char *found = NULL;
    *several = 0;
    if (!d) return NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".model")) continue;
        if (found) {
            *several = 1;
            aca_errf(e, ACA_ERR_VALUE, "%s: several SentencePiece *.model files; name one", dir);
            free(found);
            found = NULL;
            break;
        }
        found = path_join(dir, de->d_name);
    }
    closedir(d);
    return found;
}

static const char *const SPECIAL_TEXT[TOK_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

static aca_tokenizer *load_wordpiece(const char *vocab_path, int lower, int strip, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(vocab_path, &b, e)) return NULL;
    aca_tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = TOK_WORDPIECE;
    if (vocab_build(&t->vocab, b.data ? b.data : "", b.len, vocab_path, e)) {
        buf_free(&b);
        free(t);
        return NULL;
    }
    t->lowercase = lower;
    t->strip_accents = strip;
    t->hash = hash_fnv1a64(b.data ? b.data : "", b.len, ACA_FNV_SEED);
    buf_free(&b);
    int *dst[TOK_N_SPECIAL] = {&t->pad_id, &t->unk_id, &t->cls_id, &t->sep_id, &t->mask_id};
    for (int k = 0; k < TOK_N_SPECIAL; k++) {
        *dst[k] = vocab_lookup(&t->vocab, SPECIAL_TEXT[k], strlen(SPECIAL_TEXT[k]), 0);
        if (*dst[k] < 0 && k != 4) { // [MASK] is optional for classification
            aca_errf(e, ACA_ERR_FORMAT, "%s: no %s token in the vocabulary (not a BERT WordPiece vocab.txt?)",
                     vocab_path, SPECIAL_TEXT[k]);
            tokenizer_free(t);
            return NULL;
        }
        if (*dst[k] >= 0) {
            t->special[t->n_special] = SPECIAL_TEXT[k];
            t->special_len[t->n_special] = (int)strlen(SPECIAL_TEXT[k]);
            t->special_id[t->n_special] = *dst[k];
            t->n_special++;
        }
    }
    uint8_t flags[2] = {(uint8_t)lower, (uint8_t)strip};
    t->hash = hash_fnv1a64(flags, 2, t->hash);
    return t;
}

static aca_tokenizer *load_spm(const char *model_path, aca_err *e) {
    char msg[512];
    spm_model *m = spm_shim_load(model_path, msg, sizeof msg);
    if (!m) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: %s", model_path, msg);
        return NULL;
    }
    aca_tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = TOK_SPM;
    t->spm = m;
    t->unk_id = spm_shim_unk_id(m);
    // ALBERT-style models carry [CLS]/[SEP]/<pad> pieces; otherwise fall back to bos/eos.
    t->cls_id = spm_shim_piece_to_id(m, "[CLS]");
    if (t->cls_id < 0) t->cls_id = spm_shim_bos_id(m);
    t->sep_id = spm_shim_piece_to_id(m, "[SEP]");
    if (t->sep_id < 0) t->sep_id = spm_shim_eos_id(m);
    t->pad_id = spm_shim_pad_id(m);
    if (t->pad_id < 0) t->pad_id = spm_shim_piece_to_id(m, "<pad>");
    t->mask_id = spm_shim_piece_to_id(m, "[MASK]");
    if (t->cls_id < 0 || t->sep_id < 0 || t->pad_id < 0) {
        aca_errf(e, ACA_ERR_FORMAT,
                 "%s: the SentencePiece model has no [CLS]/<s> (%d), [SEP]/</s> (%d) or <pad> (%d) piece",
                 model_path, t->cls_id, t->sep_id, t->pad_id);
        tokenizer_free(t);
        return NULL;
    }
    aca_buf b = {0};
    if (!file_read_all(model_path, &b, NULL)) t->hash = hash_fnv1a64(b.data, b.len, ACA_FNV_SEED ^ 0x5350);
    buf_free(&b);
    return t;
}

aca_tokenizer *tokenizer_load(const char *path, int lowercase, aca_err *e) {
    int lower = 1, strip = -1;
    aca_tokenizer *t = NULL;
    if (is_dir(path)) {
        char *vocab = path_join(path, "vocab.txt");
        if (file_exists(vocab)) {
            if (!read_tokenizer_config(path, &lower, &strip, e)) {
                if (lowercase >= 0) lower = lowercase;
                t = load_wordpiece(vocab, lower, strip < 0 ? lower : strip, e);
            }
        } else {
            int several = 0;
            char *model = find_spm_model(path, e, &several);
            if (model) t = load_spm(model, e);
            else if (!several)
                aca_errf(e, ACA_ERR_IO, "%s: no vocab.txt or SentencePiece *.model in this directory", path);
            free(model);
        }
        free(vocab);
        return t;
    }
    if (!file_exists(path)) {
        aca_errf(e, ACA_ERR_IO, "%s: no such tokenizer file or directory", path);
        return NULL;
    }
    if (ends_with(path, ".model")) return load_spm(path, e);
    if (lowercase >= 0) lower = lowercase;
    return load_wordpiece(path, lower, lower, e);
}

void tokenizer_free(aca_tokenizer *t) {
    if (!t) return;
    vocab_free(&t->vocab);
    if (t->spm) spm_shim_free(t->spm);
    free(t);
}

int tokenizer_vocab_size(const aca_tokenizer *t) {
    return t->kind == TOK_SPM ? spm_shim_size(t->spm) : t->vocab.n;
}
int tokenizer_pad_id(const aca_tokenizer *t) { return t->pad_id; }
int tokenizer_unk_id(const aca_tokenizer *t) { return t->unk_id; }
int tokenizer_cls_id(const aca_tokenizer *t) { return t->cls_id; }
int tokenizer_sep_id(const aca_tokenizer *t) { return t->sep_id; }
uint64_t tokenizer_hash(const aca_tokenizer *t) { return t->hash; }

const char *tokenizer_id_to_token(const aca_tokenizer *t, int id) {
    if (t->kind == TOK_SPM) return spm_shim_id_to_piece(t->spm, id);
    if (id < 0 || id >= t->vocab.n) return NULL;
    return t->vocab.blob + t->vocab.off[id];
}

int tokenizer_token_to_id(const aca_tokenizer *t, const char *token) {
    if (t->kind == TOK_SPM) return spm_shim_piece_to_id(t->spm, token);
    return vocab_lookup(&t->vocab, token, strlen(token), 0);
}

static int tokenize_limited(const aca_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap, size_t limit, aca_err *e) {
    if (t->kind == TOK_WORDPIECE) return wordpiece_tokenize(t, text, len, ids, n, cap, limit, e);
    // libsentencepiece takes invalid UTF-8 silently; the contract is the same error as WordPiece's
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (!l) return aca_errf(e, ACA_ERR_FORMAT, "invalid UTF-8 at byte %zu", i);
        i += l;
    }
    char msg[512];
    size_t start = *n;
    if (spm_shim_encode(t->spm, text, len, ids, n, cap, msg, sizeof msg))
        return aca_errf(e, ACA_ERR_FORMAT, "SentencePiece: %s", msg);
    if (*n - start > limit) *n = start + limit;
    return 0;
}

int tokenizer_tokenize(const aca_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap, aca_err *e) {
    return tokenize_limited(t, text, len, ids, n, cap, SIZE_MAX, e);
}

int tokenizer_encode(const aca_tokenizer *t, const char *text, size_t len, int max_len, int32_t *ids,
                     int *out_len, aca_err *e) {
    if (max_len < 2) return aca_errf(e, ACA_ERR_VALUE, "max length %d: needs room for [CLS] and [SEP]", max_len);
    int32_t *tmp = NULL;
    size_t n = 0, cap = 0;
    if (tokenize_limited(t, text, len, &tmp, &n, &cap, (size_t)max_len - 2, e)) {
        free(tmp);
        return -1;
    }
    ids[0] = t->cls_id;
    for (size_t i = 0; i < n; i++) ids[1 + i] = tmp[i];
    ids[1 + n] = t->sep_id;
    *out_len = (int)n + 2;
    for (int i = *out_len; i < max_len; i++) ids[i] = t->pad_id;
    free(tmp);
    return 0;
}
