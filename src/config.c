// Hugging Face config.json for DistilBERT and BERT (include/aca/config.h): parse with aliases, validate,
// and write back in the form transformers loads.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/config.h"
#include "aca/jsonw.h"

// The first of the names present in j (NULL if none).  Names are listed canonical-first per arch.
static const cJSON *field(const cJSON *j, const char *const *names, const char **which) {
    for (int i = 0; names[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, names[i]);
        if (v) {
            *which = names[i];
            return v;
        }
    }
    return NULL;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

// Integer field (absent: def).  Range [lo, hi].
static int get_int(const cJSON *j, const char *const *names, int def, int lo, int hi, int *out, const char *path,
                   aca_err *e) {
    const char *w = names[0];
    const cJSON *v = field(j, names, &w);
    if (!v || cJSON_IsNull(v)) return *out = def, 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return aca_errf(e, ACA_ERR_VALUE, "%s: field '%s': expected an integer in [%d, %d]", path, w, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int get_float(const cJSON *j, const char *const *names, float def, float lo, float hi, int hi_open, float *out,
                     const char *path, aca_err *e) {
    const char *w = names[0];
    const cJSON *v = field(j, names, &w);
    if (!v || cJSON_IsNull(v)) return *out = def, 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || !(hi_open ? v->valuedouble < hi : v->valuedouble <= hi))
        return aca_errf(e, ACA_ERR_VALUE, "%s: field '%s': expected a number in [%g, %g%s", path, w, lo, hi, hi_open ? ")" : "]");
    *out = (float)v->valuedouble;
    return 0;
}

void config_free(aca_config *c) {
    if (c->labels)
        for (int i = 0; i < c->num_labels; i++) free(c->labels[i]);
    free(c->labels);
    c->labels = NULL;
}

void config_set_labels(aca_config *c, int n, const char *const *names) {
    config_free(c);
    c->num_labels = n;
    if (names) {
        c->labels = xcalloc((size_t)n, sizeof(char *));
        for (int i = 0; i < n; i++) c->labels[i] = xstrdup(names[i]);
    }
}

static int parse_arch(const cJSON *j, const char *path, aca_arch *arch, aca_err *e) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    if (cJSON_IsString(mt)) {
        if (!strcmp(mt->valuestring, "distilbert")) return *arch = ACA_ARCH_DISTILBERT, 0;
        if (!strcmp(mt->valuestring, "bert")) return *arch = ACA_ARCH_BERT, 0;
        return aca_errf(e, ACA_ERR_VALUE, "%s: field 'model_type': unsupported model type '%s' (supported: distilbert, bert)",
                        path, mt->valuestring);
    }
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(j, "architectures");
    const cJSON *a0 = cJSON_IsArray(ar) ? cJSON_GetArrayItem(ar, 0) : NULL;
    if (cJSON_IsString(a0)) {
        if (!strncmp(a0->valuestring, "DistilBert", 10)) return *arch = ACA_ARCH_DISTILBERT, 0;
        if (!strncmp(a0->valuestring, "Bert", 4)) return *arch = ACA_ARCH_BERT, 0;
        return aca_errf(e, ACA_ERR_VALUE, "%s: field 'architectures': unsupported architecture '%s' (supported: DistilBert*, Bert*)",
                        path, a0->valuestring);
    }
    return aca_errf(e, ACA_ERR_VALUE, "%s: neither 'model_type' nor 'architectures' says which model this is", path);
}

// id2label {"0": "name", ...} and/or num_labels.
static int parse_labels(const cJSON *j, aca_config *c, const char *path, aca_err *e) {
    const cJSON *il = cJSON_GetObjectItemCaseSensitive(j, "id2label");
    int n = -1;
    if (get_int(j, NAMES("num_labels"), -1, 1, 1 << 20, &n, path, e)) return -1;
    if (n == 1)
        return aca_errf(e, ACA_ERR_VALUE, "%s: field 'num_labels': 1 means regression in HF, which is not supported (need >= 2 classes)",
                        path);
    if (il && !cJSON_IsNull(il)) {
        if (!cJSON_IsObject(il)) return aca_errf(e, ACA_ERR_VALUE, "%s: field 'id2label': expected an object", path);
        int k = cJSON_GetArraySize(il);
        if (n >= 0 && n != k)
            return aca_errf(e, ACA_ERR_VALUE, "%s: field 'num_labels' is %d but 'id2label' has %d entries", path, n, k);
        if (k < 2) return aca_errf(e, ACA_ERR_VALUE, "%s: field 'id2label': at least 2 classes needed, got %d", path, k);
        c->num_labels = k;
        c->labels = xcalloc((size_t)k, sizeof(char *));
        const cJSON *kv;
        cJSON_ArrayForEach(kv, il) {
            char *endp;
            long id = strtol(kv->string, &endp, 10);
            if (!*kv->string || *endp || id < 0 || id >= k || c->labels[id] || !cJSON_IsString(kv))
                return aca_errf(e, ACA_ERR_VALUE, "%s: field 'id2label': key '%s' must be a distinct class id in [0, %d) with a string name",
                                path, kv->string, k);
            c->labels[id] = xstrdup(kv->valuestring);
        }
        return 0;
    }
    c->num_labels = n >= 0 ? n : 2; // HF's default
    return 0;
}

int config_parse(const char *json, const char *path, aca_config *c, aca_err *e) {
    memset(c, 0, sizeof *c);
    cJSON *j = cJSON_Parse(json);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object", path);
    }
    int rc = parse_arch(j, path, &c->arch, e);
    int db = c->arch == ACA_ARCH_DISTILBERT;
    const char *act_field = db ? "activation" : "hidden_act";
    if (!rc) {
        rc = get_int(j, NAMES("vocab_size"), 30522, 1, INT32_MAX, &c->vocab_size, path, e) ||
             get_int(j, NAMES("max_position_embeddings"), 512, 1, 1 << 20, &c->max_position, path, e) ||
             get_int(j, NAMES("type_vocab_size"), db ? 0 : 2, db ? 0 : 1, 1 << 16, &c->type_vocab_size, path, e) ||
             get_int(j, db ? NAMES("dim", "hidden_size") : NAMES("hidden_size", "dim"), 768, 1, 1 << 16, &c->dim, path, e) ||
             get_int(j, db ? NAMES("n_layers", "num_hidden_layers") : NAMES("num_hidden_layers", "n_layers"), db ? 6 : 12, 1,
                     1024, &c->n_layers, path, e) ||
             get_int(j, db ? NAMES("n_heads", "num_attention_heads") : NAMES("num_attention_heads", "n_heads"), 12, 1, 1024,
                     &c->n_heads, path, e) ||
             get_int(j, db ? NAMES("hidden_dim", "intermediate_size") : NAMES("intermediate_size", "hidden_dim"), 3072, 1,
                     1 << 20, &c->hidden_dim, path, e) ||
             get_float(j, db ? NAMES("dropout", "hidden_dropout_prob") : NAMES("hidden_dropout_prob", "dropout"), 0.1f, 0, 1, 1,
                       &c->dropout, path, e) ||
             get_float(j,
                       db ? NAMES("attention_dropout", "attention_probs_dropout_prob")
                          : NAMES("attention_probs_dropout_prob", "attention_dropout"),
                       0.1f, 0, 1, 1, &c->attention_dropout, path, e) ||
             get_float(j, NAMES("initializer_range"), 0.02f, 0, 10, 0, &c->initializer_range, path, e) ||
             get_int(j, NAMES("pad_token_id"), 0, -1, INT32_MAX, &c->pad_token_id, path, e);
    }
    if (!rc && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "pad_token_id"))) c->pad_token_id = -1;
    if (!rc) {
        // DistilBERT hard-codes eps 1e-12 in its LayerNorms; BERT reads layer_norm_eps.
        c->layer_norm_eps = 1e-12f;
        if (!db) rc = get_float(j, NAMES("layer_norm_eps"), 1e-12f, 0, 1, 0, &c->layer_norm_eps, path, e);
    }
    if (!rc) {
        // BERT: classifier_dropout, null meaning hidden_dropout_prob; DistilBERT: seq_classif_dropout (0.2).
        if (db)
            rc = get_float(j, NAMES("seq_classif_dropout", "classifier_dropout"), 0.2f, 0, 1, 1, &c->classifier_dropout, path, e);
        else
            rc = get_float(j, NAMES("classifier_dropout", "seq_classif_dropout"), c->dropout, 0, 1, 1, &c->classifier_dropout,
                           path, e);
    }
    if (!rc) {
        const char *w = act_field;
        const cJSON *a = field(j, db ? NAMES("activation", "hidden_act") : NAMES("hidden_act", "activation"), &w);
        const char *s = cJSON_IsString(a) ? a->valuestring : a ? NULL : "gelu";
        if (!s) rc = aca_errf(e, ACA_ERR_VALUE, "%s: field '%s': expected a string", path, w);
        else if (!strcmp(s, "gelu")) c->activation = ACA_ACT_GELU;
        else if (!strcmp(s, "relu")) c->activation = ACA_ACT_RELU;
        else if (!strcmp(s, "tanh")) c->activation = ACA_ACT_TANH;
        else rc = aca_errf(e, ACA_ERR_VALUE, "%s: field '%s': unknown activation '%s' (supported: gelu, relu, tanh)", path, w, s);
    }
    if (!rc) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "sinusoidal_pos_embds");
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(j, "position_embedding_type");
        if (cJSON_IsTrue(sp))
            rc = aca_errf(e, ACA_ERR_VALUE, "%s: field 'sinusoidal_pos_embds': sinusoidal position embeddings are not supported", path);
        else if (pe && !(cJSON_IsString(pe) && !strcmp(pe->valuestring, "absolute")))
            rc = aca_errf(e, ACA_ERR_VALUE, "%s: field 'position_embedding_type': only \"absolute\" is supported", path);
    }
    if (!rc && c->dim % c->n_heads)
        rc = aca_errf(e, ACA_ERR_VALUE, "%s: hidden size %d is not a multiple of the number of heads %d", path, c->dim, c->n_heads);
    if (!rc && c->pad_token_id >= c->vocab_size)
        rc = aca_errf(e, ACA_ERR_VALUE, "%s: field 'pad_token_id': %d is outside the vocabulary (%d)", path, c->pad_token_id,
                      c->vocab_size);
    if (!rc) rc = parse_labels(j, c, path, e);
    cJSON_Delete(j);
    if (rc) config_free(c);
    return rc;
}

int config_load(const char *path, aca_config *c, aca_err *e) {
    aca_buf b = {0};
    int rc = file_read_all(path, &b, e);
    if (!rc) rc = config_parse(b.data, path, c, e);
    buf_free(&b);
    return rc;
}

// A key and a float: the shortest decimal that reads back as the same float (0.1f prints as 0.1,
// not 0.100000001).
static void put_float(aca_jsonw *w, const char *key, float v) {
    jsonw_key(w, key);
    jsonw_num_float(w, v);
}

// id2label {"0": "name", ...} (names: the labels, or LABEL_<i>), or label2id {"name": 0, ...}.
static void put_labels(aca_jsonw *w, const aca_config *c, int to_id) {
    jsonw_key(w, to_id ? "label2id" : "id2label");
    jsonw_obj(w);
    for (int i = 0; i < c->num_labels; i++) {
        char id[16], dflt[32];
        snprintf(id, sizeof id, "%d", i);
        snprintf(dflt, sizeof dflt, "LABEL_%d", i);
        const char *nm = c->labels ? c->labels[i] : dflt;
        if (to_id) jsonw_kint(w, nm, i);
        else jsonw_kstr(w, id, nm);
    }
    jsonw_end(w);
}

// The names each architecture's config.json gives the fields both have (config_parse takes either).
typedef struct {
    const char *dim, *n_layers, *n_heads, *hidden_dim, *activation, *dropout, *attention_dropout, *classifier_dropout;
} arch_fields;
static const arch_fields ARCH_FIELDS[] = {
    [ACA_ARCH_DISTILBERT] = {"dim", "n_layers", "n_heads", "hidden_dim", "activation", "dropout", "attention_dropout",
                             "seq_classif_dropout"},
    [ACA_ARCH_BERT] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                       "hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"},
};

// One field a line (train_ckpt.c's resume fingerprint reads it line by line: keep the layout).
void config_to_json(const aca_config *c, aca_buf *out) {
    int db = c->arch == ACA_ARCH_DISTILBERT;
    const char *act = c->activation == ACA_ACT_GELU ? "gelu" : c->activation == ACA_ACT_RELU ? "relu" : "tanh";
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_lines(&w, 2);
    jsonw_key(&w, "architectures");
    jsonw_arr(&w);
    jsonw_str(&w, db ? "DistilBertForSequenceClassification" : "BertForSequenceClassification");
    jsonw_end(&w);
    jsonw_kstr(&w, "model_type", db ? "distilbert" : "bert");
    jsonw_kint(&w, "vocab_size", c->vocab_size);
    jsonw_kint(&w, "max_position_embeddings", c->max_position);
    const arch_fields *f = &ARCH_FIELDS[c->arch];
    jsonw_kint(&w, f->dim, c->dim);
    jsonw_kint(&w, f->n_layers, c->n_layers);
    jsonw_kint(&w, f->n_heads, c->n_heads);
    jsonw_kint(&w, f->hidden_dim, c->hidden_dim);
    jsonw_kstr(&w, f->activation, act);
    if (db) {
        jsonw_kbool(&w, "sinusoidal_pos_embds", 0);
    } else {
        jsonw_kint(&w, "type_vocab_size", c->type_vocab_size);
        jsonw_kstr(&w, "position_embedding_type", "absolute");
    }
    put_float(&w, f->dropout, c->dropout);
    put_float(&w, f->attention_dropout, c->attention_dropout);
    put_float(&w, f->classifier_dropout, c->classifier_dropout);
    if (!db) put_float(&w, "layer_norm_eps", c->layer_norm_eps); // DistilBERT's is fixed (1e-12)
    put_float(&w, "initializer_range", c->initializer_range);
    jsonw_key(&w, "pad_token_id");
    if (c->pad_token_id >= 0) jsonw_int(&w, c->pad_token_id);
    else jsonw_null(&w);
    jsonw_kint(&w, "num_labels", c->num_labels);
    put_labels(&w, c, 0);
    put_labels(&w, c, 1);
    jsonw_end(&w);
    buf_putc(out, '\n');
}
