// The tokenizer interface (include/aca/tokenizer.h): loading a WordPiece vocabulary (vocab.txt or
// tokenizer.json, with tokenizer_config.json) or a SentencePiece model from a checkpoint directory
// as Hugging Face reads it, writing the files Hugging Face needs back, ids <-> tokens, and
// [CLS] … [SEP] encoding.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/jsonw.h"
#include "tok_internal.h"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

// ---- tokenizer_config.json / special_tokens_map.json ---------------------------------------------
// Hugging Face reads these beside vocab.txt.  What they may say is checked against what aca's
// WordPiece does: do_lower_case and strip_accents are honoured; anything that would make Hugging
// Face tokenize differently from aca (other special tokens, never_split, extra added tokens, no CJK
// spacing, no basic tokenization, another tokenizer class) is an error naming the file and field.
static const char *const SPECIAL_TEXT[TOK_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
static const char *const SPECIAL_FIELD[TOK_N_SPECIAL] = {"pad_token", "unk_token", "cls_token", "sep_token", "mask_token"};
static const char *const WORDPIECE_CLASSES[] = {"BertTokenizer", "BertTokenizerFast", "DistilBertTokenizer",
                                                "DistilBertTokenizerFast"};

// A token field: a string or an AddedToken object {"content": ...}; NULL when neither.
static const char *token_content(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "content") : NULL;
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

// A bool field: absent/null leaves *out; otherwise a boolean, or an error.
static int cfg_bool(const cJSON *j, const char *key, int *out, const char *p, aca_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return aca_errf(e, ACA_ERR_FORMAT, "%s: field %s: not a boolean", p, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

// Empty or absent: null, [], {}.
static int cfg_empty(const cJSON *v) { return !v || cJSON_IsNull(v) || ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !v->child); }

static int cfg_check_specials(const cJSON *j, const char *p, aca_err *e) {
    for (int k = 0; k < TOK_N_SPECIAL; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, SPECIAL_FIELD[k]);
        if (!v || cJSON_IsNull(v)) continue;
        const char *c = token_content(v);
        if (!c) return aca_errf(e, ACA_ERR_FORMAT, "%s: field %s: expected a string or {\"content\": ...}", p, SPECIAL_FIELD[k]);
        if (strcmp(c, SPECIAL_TEXT[k]))
            return aca_errf(e, ACA_ERR_VALUE, "%s: field %s is \"%s\": aca's WordPiece uses %s (other special tokens are not supported)",
                            p, SPECIAL_FIELD[k], c, SPECIAL_TEXT[k]);
    }
    static const char *const extra[] = {"additional_special_tokens", "extra_special_tokens", "never_split"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(extra); k++)
        if (!cfg_empty(cJSON_GetObjectItemCaseSensitive(j, extra[k])))
            return aca_errf(e, ACA_ERR_VALUE, "%s: field %s: tokens kept whole besides %s %s %s %s %s are not supported", p,
                            extra[k], SPECIAL_TEXT[0], SPECIAL_TEXT[1], SPECIAL_TEXT[2], SPECIAL_TEXT[3], SPECIAL_TEXT[4]);
    return 0;
}

static int cfg_check_class(const cJSON *j, const char *p, aca_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "tokenizer_class");
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return aca_errf(e, ACA_ERR_FORMAT, "%s: field tokenizer_class: not a string", p);
    for (size_t k = 0; k < ACA_ARRAY_LEN(WORDPIECE_CLASSES); k++)
        if (!strcmp(v->valuestring, WORDPIECE_CLASSES[k])) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "%s: field tokenizer_class is \"%s\": a vocab.txt directory must hold a BertTokenizer or DistilBertTokenizer",
                    p, v->valuestring);
}

// The settings one config file gives (*lower, *strip: -1 = null/absent), checked.
static int cfg_read_settings(const cJSON *j, const char *p, int *lower, int *strip, aca_err *e) {
    int chinese = 1, basic = 1, punc = 1;
    if (!cJSON_IsObject(j)) return aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object", p);
    if (cfg_bool(j, "do_lower_case", lower, p, e) || cfg_bool(j, "strip_accents", strip, p, e) ||
        cfg_bool(j, "tokenize_chinese_chars", &chinese, p, e) || cfg_bool(j, "do_basic_tokenize", &basic, p, e) ||
        cfg_bool(j, "do_split_on_punc", &punc, p, e))
        return -1;
    if (!chinese || !basic || !punc)
        return aca_errf(e, ACA_ERR_VALUE, "%s: field %s is false: aca's WordPiece always does it (as BERT)", p,
                        !chinese ? "tokenize_chinese_chars" : !basic ? "do_basic_tokenize" : "do_split_on_punc");
    return cfg_check_specials(j, p, e) || cfg_check_class(j, p, e);
}

// dir/name parsed (NULL with *e untouched when the file is absent; NULL with rc -1 on error).
static cJSON *cfg_open(const char *dir, const char *name, char **path, int *rc, aca_err *e) {
    *path = path_join(dir, name);
    *rc = 0;
    if (!file_exists(*path)) return NULL;
    aca_buf b = {0};
    cJSON *j = NULL;
    if (file_read_all(*path, &b, e)) *rc = -1;
    else if (!(j = cJSON_ParseWithLength(b.data, b.len))) *rc = aca_errf(e, ACA_ERR_FORMAT, "%s: not valid JSON", *path);
    buf_free(&b);
    return j;
}

// added_tokens_decoder {"<id>": {"content": ...}}: each one of the five special tokens, at its
// vocab.txt id (Hugging Face would otherwise add or move tokens aca does not know).
static int cfg_check_added(const cJSON *j, const char *field, const aca_tokenizer *t, const char *p, aca_err *e) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "added_tokens_decoder"), *kv;
    if (!a || cJSON_IsNull(a)) return 0;
    if (!cJSON_IsObject(a)) return aca_errf(e, ACA_ERR_FORMAT, "%s: field %s: not an object", p, field);
    cJSON_ArrayForEach(kv, a) {
        char *end;
        long id = strtol(kv->string, &end, 10);
        const char *c = token_content(kv);
        int special = 0;
        for (int k = 0; c && k < TOK_N_SPECIAL; k++) special |= !strcmp(c, SPECIAL_TEXT[k]);
        if (!*kv->string || *end || id < 0 || id >= t->vocab.n || !c)
            return aca_errf(e, ACA_ERR_VALUE, "%s: field %s: entry \"%s\" is not a token of the vocabulary (ids 0..%d)", p,
                            field, kv->string, t->vocab.n - 1);
        if (!special || strcmp(c, t->vocab.blob + t->vocab.off[id]))
            return aca_errf(e, ACA_ERR_VALUE, "%s: field %s: id %ld is \"%s\" but the vocabulary's token %ld (vocab.txt line %ld) is \"%s\"%s",
                            p, field, id, c, id, id + 1, t->vocab.blob + t->vocab.off[id],
                            special ? "" : " (only the BERT special tokens may be listed)");
    }
    return 0;
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

// A WordPiece tokenizer over vocab.txt text (data, n bytes) read as `name`.
static aca_tokenizer *wordpiece_from_text(const char *data, size_t n, const char *name, int lower, int strip, aca_err *e) {
    aca_tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = TOK_WORDPIECE;
    if (vocab_build(&t->vocab, data, n, name, e)) {
        free(t);
        return NULL;
    }
    t->lowercase = lower;
    t->strip_accents = strip;
    t->hash = hash_fnv1a64(data, n, ACA_FNV_SEED);
    int *dst[TOK_N_SPECIAL] = {&t->pad_id, &t->unk_id, &t->cls_id, &t->sep_id, &t->mask_id};
    for (int k = 0; k < TOK_N_SPECIAL; k++) {
        *dst[k] = vocab_lookup(&t->vocab, SPECIAL_TEXT[k], strlen(SPECIAL_TEXT[k]), 0);
        if (*dst[k] < 0 && k != 4) { // [MASK] is optional for classification
            aca_errf(e, ACA_ERR_FORMAT, "%s: no %s token in the vocabulary: none of its %d lines is exactly %s (not a BERT "
                     "WordPiece vocabulary?)", name, SPECIAL_TEXT[k], t->vocab.n, SPECIAL_TEXT[k]);
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

static aca_tokenizer *load_wordpiece(const char *vocab_path, int lower, int strip, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(vocab_path, &b, e)) return NULL;
    aca_tokenizer *t = wordpiece_from_text(b.data ? b.data : "", b.len, vocab_path, lower, strip, e);
    buf_free(&b);
    return t;
}

// ---- tokenizer.json (what transformers 5 saves instead of vocab.txt) ------------------------------
// Its WordPiece vocabulary as vocab.txt text (ids dense from 0), checked: model type WordPiece with
// BERT's "##" prefix, 100-character words and [UNK]; every added token one of the special tokens
// at its own id.  Hugging Face takes do_lower_case and the other settings from
// tokenizer_config.json (its defaults when absent), not from the normalizer here.
static int tokjson_vocab_text(const cJSON *j, const char *p, aca_buf *out, aca_err *e) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(m, "type"), *v = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "WordPiece"))
        return aca_errf(e, ACA_ERR_VALUE, "%s: field model.type is %s%s%s: only a WordPiece tokenizer.json is supported", p,
                        cJSON_IsString(ty) ? "\"" : "", cJSON_IsString(ty) ? ty->valuestring : "missing", cJSON_IsString(ty) ? "\"" : "");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    if ((pre && !(cJSON_IsString(pre) && !strcmp(pre->valuestring, "##"))) ||
        (mx && !(cJSON_IsNumber(mx) && mx->valuedouble == 100)) || (unk && !(cJSON_IsString(unk) && !strcmp(unk->valuestring, "[UNK]"))))
        return aca_errf(e, ACA_ERR_VALUE, "%s: field model.%s: aca's WordPiece uses BERT's (\"##\", 100, \"[UNK]\")", p,
                        pre && !(cJSON_IsString(pre) && !strcmp(pre->valuestring, "##")) ? "continuing_subword_prefix"
                        : unk && !(cJSON_IsString(unk) && !strcmp(unk->valuestring, "[UNK]")) ? "unk_token" : "max_input_chars_per_word");
    int n = cJSON_IsObject(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1) return aca_errf(e, ACA_ERR_FORMAT, "%s: field model.vocab: expected a non-empty object {token: id}", p);
    const char **tok = xcalloc((size_t)n, sizeof *tok);
    const cJSON *kv;
    int rc = 0;
    cJSON_ArrayForEach(kv, v) {
        double id = cJSON_IsNumber(kv) ? kv->valuedouble : -1;
        if (!(id >= 0 && id < n && id == (double)(int)id) || tok[(int)id] || strchr(kv->string, '\n')) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: field model.vocab: token \"%s\" has %s (ids must be 0..%d, each once; no newline in a token)",
                          p, kv->string, cJSON_IsNumber(kv) ? "a bad or repeated id" : "no numeric id", n - 1);
            break;
        }
        tok[(int)id] = kv->string;
    }
    for (int i = 0; !rc && i < n; i++) buf_printf(out, "%s\n", tok[i]);
    free(tok);
    return rc;
}

// added_tokens of tokenizer.json: [{"id": .., "content": ..}], checked as added_tokens_decoder.
static int tokjson_check_added(const cJSON *j, const aca_tokenizer *t, const char *p, aca_err *e) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "added_tokens"), *it;
    if (!a || cJSON_IsNull(a)) return 0;
    if (!cJSON_IsArray(a)) return aca_errf(e, ACA_ERR_FORMAT, "%s: field added_tokens: not an array", p);
    cJSON *dec = cJSON_CreateObject(), *ent = cJSON_CreateObject();
    cJSON_AddItemToObject(ent, "added_tokens_decoder", dec);
    int rc = 0;
    cJSON_ArrayForEach(it, a) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        char key[32];
        snprintf(key, sizeof key, "%.0f", cJSON_IsNumber(id) ? id->valuedouble : -1.0);
        cJSON_AddItemToObject(dec, key, cJSON_Duplicate(it, 1));
    }
    rc = cfg_check_added(ent, "added_tokens", t, p, e);
    cJSON_Delete(ent);
    return rc;
}

// Two vocabularies with the same tokens at the same ids, or an error naming the first difference.
static int vocab_same(const tok_vocab *a, const char *pa, const tok_vocab *b, const char *pb, aca_err *e) {
    for (int i = 0; i < a->n || i < b->n; i++) {
        const char *x = i < a->n ? a->blob + a->off[i] : "(none)", *y = i < b->n ? b->blob + b->off[i] : "(none)";
        if (i >= a->n || i >= b->n || strcmp(x, y))
            return aca_errf(e, ACA_ERR_VALUE, "%s and %s disagree at id %d (\"%s\" vs \"%s\"); Hugging Face uses tokenizer.json", pa,
                            pb, i, x, y);
    }
    return 0;
}

// A directory's WordPiece tokenizer: vocab.txt and/or tokenizer.json (which must agree), with the
// settings of tokenizer_config.json and special_tokens_map.json.  NULL with *e untouched when the
// directory holds neither vocabulary (or tokenizer.json is not WordPiece and there is no vocab.txt:
// then *not_wp = 1 and SentencePiece may still apply).
static aca_tokenizer *load_wordpiece_dir(const char *dir, int lowercase, int *not_wp, aca_err *e) {
    char *vpath = path_join(dir, "vocab.txt"), *jp = NULL, *cp = NULL, *sp = NULL;
    int rc = 0, rc2 = 0, lower = 1, strip = -1, have_txt = file_exists(vpath);
    cJSON *tj = cfg_open(dir, "tokenizer.json", &jp, &rc, e), *cfg = NULL, *smap = NULL;
    aca_tokenizer *t = NULL, *tt = NULL;
    aca_buf jv = {0};
    *not_wp = 0;
    if (!rc && !have_txt && !tj) goto done;
    if (!rc) cfg = cfg_open(dir, "tokenizer_config.json", &cp, &rc, e);
    if (!rc) smap = cfg_open(dir, "special_tokens_map.json", &sp, &rc2, e), rc = rc2;
    if (!rc && tj && tokjson_vocab_text(tj, jp, &jv, e)) {
        if (have_txt) rc = -1;
        else *not_wp = 1; // maybe a SentencePiece directory: the caller looks for the .model
        goto done;
    }
    if (!rc && cfg) rc = cfg_read_settings(cfg, cp, &lower, &strip, e);
    if (!rc && smap) rc = cJSON_IsObject(smap) ? cfg_check_specials(smap, sp, e) : aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object", sp);
    if (rc) goto done;
    if (lowercase >= 0) lower = lowercase;
    if (strip < 0) strip = lower;
    if (have_txt && !(t = load_wordpiece(vpath, lower, strip, e))) goto done;
    if (tj) {
        char *name = xmalloc(strlen(jp) + 32);
        sprintf(name, "%s (model.vocab by id)", jp);
        tt = wordpiece_from_text(jv.data, jv.len, name, lower, strip, e);
        free(name);
        if (!tt || (t && vocab_same(&tt->vocab, jp, &t->vocab, vpath, e)) || tokjson_check_added(tj, tt, jp, e)) rc = -1;
        else if (!t) t = tt, tt = NULL;
    }
    if (!rc && cfg) rc = cfg_check_added(cfg, "added_tokens_decoder", t, cp, e);
    if (!rc) t->dir = xstrdup(dir);
done:
    if (rc && t) tokenizer_free(t), t = NULL;
    tokenizer_free(tt);
    buf_free(&jv);
    cJSON_Delete(tj), cJSON_Delete(cfg), cJSON_Delete(smap);
    free(vpath), free(jp), free(cp), free(sp);
    if (rc) *not_wp = 0;
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
    t->spm_path = xstrdup(model_path);
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
    aca_tokenizer *t = NULL;
    if (is_dir(path)) {
        aca_err e0 = {0};
        int not_wp = 0, several = 0;
        if ((t = load_wordpiece_dir(path, lowercase, &not_wp, &e0))) return t;
        if (e0.kind && !not_wp) {
            if (e) *e = e0;
            return NULL;
        }
        char *model = find_spm_model(path, e, &several);
        if (model) t = load_spm(model, e);
        else if (not_wp && e) *e = e0; // a tokenizer.json of another kind and no .model
        else if (!several)
            aca_errf(e, ACA_ERR_IO, "%s: no vocab.txt or SentencePiece *.model in this directory (nor a tokenizer.json)", path);
        if (t) t->dir = xstrdup(path);
        free(model);
        return t;
    }
    if (!file_exists(path)) {
        aca_errf(e, ACA_ERR_IO, "%s: no such tokenizer file or directory", path);
        return NULL;
    }
    int lower = lowercase >= 0 ? lowercase : 1; // BertTokenizer(vocab_file) defaults: uncased
    t = ends_with(path, ".model") ? load_spm(path, e) : load_wordpiece(path, lower, lower, e);
    if (t) t->file = xstrdup(path);
    return t;
}

void tokenizer_free(aca_tokenizer *t) {
    if (!t) return;
    vocab_free(&t->vocab);
    if (t->spm) spm_shim_free(t->spm);
    free(t->spm_path);
    free(t->dir);
    free(t->file);
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

aca_tokenizer *tokenizer_for_model(const char *vocab, const char *model_dir, aca_err *e) {
    if (!vocab && !model_dir) {
        aca_errf(e, ACA_ERR_VALUE, "a model built from --config needs --vocab FILE|DIR (the tokenizer)");
        return NULL;
    }
    aca_tokenizer *t = tokenizer_load(vocab ? vocab : model_dir, -1, e);
    if (!t || !vocab || !model_dir) return t;
    // A checkpoint with a tokenizer of its own: another one would feed its ids to embedding rows
    // trained for other tokens.
    aca_err none = {0};
    aca_tokenizer *own = tokenizer_load(model_dir, -1, &none);
    if (own && tokenizer_hash(own) != tokenizer_hash(t)) {
        aca_errf(e, ACA_ERR_VALUE,
                 "%s: tokenizes otherwise than the checkpoint's own tokenizer (%s): its ids would index embedding rows "
                 "trained for other tokens; leave the vocabulary out to use the checkpoint's",
                 vocab, tokenizer_source(own));
        tokenizer_free(t);
        t = NULL;
    }
    if (own) tokenizer_free(own);
    return t;
}

int tokenizer_fits_model(const aca_tokenizer *t, int model_vocab_size, aca_err *e) {
    int n = tokenizer_vocab_size(t);
    if (n <= model_vocab_size) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "%s: the tokenizer has %d tokens but the model's vocab_size is %d (another model's vocabulary?)",
                    tokenizer_source(t), n, model_vocab_size);
}

// SentencePiece: cp between two words changes nothing.
static int spm_drops(const aca_tokenizer *t, uint32_t cp) {
    char u[4], with[16];
    const size_t k = utf8_encode(u, cp);
    memcpy(with, "a ", 2), memcpy(with + 2, u, k), memcpy(with + 2 + k, " b", 2);
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, ca = 0, cb = 0;
    aca_err e = {0};
    int same = !tokenizer_tokenize(t, "a b", 3, &a, &na, &ca, &e) && !tokenizer_tokenize(t, with, k + 4, &b, &nb, &cb, &e) &&
               na == nb && !memcmp(a, b, na * sizeof *a);
    free(a);
    free(b);
    return same;
}

const char *tokenizer_drop_reason(const aca_tokenizer *t, uint32_t cp) {
    if (!t) return wordpiece_drop_reason(cp, 1);
    if (t->kind == TOK_WORDPIECE) return wordpiece_drop_reason(cp, t->strip_accents);
    return spm_drops(t, cp) ? "removed, or made white space, by the SentencePiece model's normalization" : NULL;
}

const char *tokenizer_source(const aca_tokenizer *t) { return t->dir ? t->dir : t->file ? t->file : "(tokenizer)"; }

// ---- writing what Hugging Face loads -------------------------------------------------------------
static int save_text(const char *dir, const char *name, const aca_buf *b, aca_err *e) {
    char *p = path_join(dir, name);
    int rc = file_write_atomic(p, b->data ? b->data : "", b->len, e);
    free(p);
    return rc;
}

// A file of the source directory copied as is (absent: nothing).
static int save_copy(const char *src_dir, const char *name, const char *dir, aca_err *e) {
    char *src = path_join(src_dir, name);
    aca_buf b = {0};
    int rc = file_exists(src) ? file_read_all(src, &b, e) || save_text(dir, name, &b, e) : 0;
    buf_free(&b);
    free(src);
    return rc;
}

// The special tokens the vocabulary has, "pad_token": "[PAD]", ..., into w's open object.
static void json_special_tokens(const aca_tokenizer *t, aca_jsonw *w) {
    int ids[TOK_N_SPECIAL] = {t->pad_id, t->unk_id, t->cls_id, t->sep_id, t->mask_id};
    for (int k = 0; k < TOK_N_SPECIAL; k++)
        if (ids[k] >= 0) jsonw_kstr(w, SPECIAL_FIELD[k], SPECIAL_TEXT[k]);
}

// tokenizer_config.json (with_settings) or special_tokens_map.json: one field a line, as
// transformers writes them.
static void json_tokenizer_file(const aca_tokenizer *t, int with_settings, int model_max_length, aca_buf *b) {
    aca_jsonw w;
    jsonw_init(&w, b);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_lines(&w, 2);
    if (with_settings) {
        jsonw_kstr(&w, "tokenizer_class", "BertTokenizer");
        jsonw_kbool(&w, "do_lower_case", t->lowercase);
        jsonw_key(&w, "strip_accents"); // null: as do_lower_case (BERT's default)
        if (t->strip_accents == t->lowercase) jsonw_null(&w);
        else jsonw_bool(&w, t->strip_accents);
        jsonw_kbool(&w, "tokenize_chinese_chars", 1);
        jsonw_kbool(&w, "clean_up_tokenization_spaces", 1);
    }
    json_special_tokens(t, &w);
    if (with_settings && model_max_length > 0) jsonw_kint(&w, "model_max_length", model_max_length);
    jsonw_end(&w);
    buf_putc(b, '\n');
}

static int save_wordpiece(const aca_tokenizer *t, const char *dir, int model_max_length, aca_err *e) {
    aca_buf v = {0}, c = {0}, m = {0};
    for (int i = 0; i < t->vocab.n; i++) buf_printf(&v, "%s\n", t->vocab.blob + t->vocab.off[i]);
    json_tokenizer_file(t, 1, model_max_length, &c);
    json_tokenizer_file(t, 0, 0, &m);
    int rc = save_text(dir, "vocab.txt", &v, e) || save_text(dir, "tokenizer_config.json", &c, e) ||
             save_text(dir, "special_tokens_map.json", &m, e);
    buf_free(&v), buf_free(&c), buf_free(&m);
    return rc ? -1 : 0;
}

int tokenizer_save(const aca_tokenizer *t, const char *dir, int model_max_length, aca_err *e) {
    if (t->kind == TOK_WORDPIECE) return save_wordpiece(t, dir, model_max_length, e);
    const char *base = strrchr(t->spm_path, '/');
    base = base ? base + 1 : t->spm_path;
    aca_buf b = {0};
    int rc = file_read_all(t->spm_path, &b, e) || save_text(dir, base, &b, e);
    buf_free(&b);
    if (!rc && t->dir) rc = save_copy(t->dir, "tokenizer_config.json", dir, e) || save_copy(t->dir, "special_tokens_map.json", dir, e);
    return rc ? -1 : 0;
}

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
