// Datasets and the mutated-data-directory reader (see include/aca/data.h).
#include "aca/data.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"
#include "aca/tokcache.h"
// ---- datasets ----------------------------------------------------------------------------------
void dataset_free(aca_dataset *d) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(d->owned); i++) free(d->owned[i]);
    memset(d, 0, sizeof *d);
}

void dataset_from_arrays(aca_dataset *d, size_t n, const int32_t *ids, const int32_t *lens,
                         const int32_t *labels, int max_len) {
    memset(d, 0, sizeof *d);
    uint64_t *off = xmalloc((n + 1) * sizeof *off);
    off[0] = 0;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + (uint64_t)lens[i];
    int32_t *cp = xmalloc((off[n] ? off[n] : 1) * sizeof *cp);
    if (off[n]) memcpy(cp, ids, off[n] * sizeof *cp);
    int32_t *lb = NULL;
    if (labels) {
        lb = xmalloc((n ? n : 1) * sizeof *lb);
        if (n) memcpy(lb, labels, n * sizeof *lb);
    }
    d->n = n;
    d->ids = cp;
    d->off = off;
    d->labels = lb;
    d->max_len = max_len;
    d->owned[0] = cp, d->owned[1] = off, d->owned[2] = lb;
}

int dataset_fill_batch(const aca_dataset *d, const uint32_t *idx, int B, int pad_id, int32_t *ids,
                       int32_t *mask, int32_t *labels) {
    int T = 1;
    for (int b = 0; b < B; b++) {
        int len = dataset_len(d, idx[b]);
        if (len > T) T = len;
    }
    for (int b = 0; b < B; b++) {
        const int32_t *src = d->ids + d->off[idx[b]];
        int len = dataset_len(d, idx[b]);
        for (int t = 0; t < T; t++) {
            ids[(size_t)b * T + t] = t < len ? src[t] : pad_id;
            mask[(size_t)b * T + t] = t < len;
        }
        if (labels) labels[b] = d->labels ? d->labels[idx[b]] : -1;
    }
    return T;
}

// ---- the data directory ------------------------------------------------------------------------
void datadir_free(aca_datadir *dd) {
    free(dd->dir);
    for (int i = 0; i < dd->n_classes; i++) free(dd->classes[i]);
    free(dd->classes);
    for (int i = 0; i < dd->n_coll; i++) {
        free(dd->coll[i].name);
        free(dd->coll[i].target);
        free(dd->coll[i].probe_path);
    }
    free(dd->coll);
    free(dd->train_path);
    free(dd->test_path);
    memset(dd, 0, sizeof *dd);
}

static int class_lookup(char *const *classes, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (class_name_equal(classes[i], name)) return i;
    return -1;
}

static int need_file(const char *path, const char *what, aca_err *e) {
    if (file_exists(path)) return 0;
    return aca_errf(e, ACA_ERR_IO, "%s: missing (%s; is this a directory written by `aca mutate`?)", path, what);
}

int datadir_open(const char *dir, aca_datadir *dd, aca_err *e) {
    memset(dd, 0, sizeof *dd);
    dd->dir = xstrdup(dir);
    char *mpath = path_join(dir, "manifest.json");
    aca_buf b = {0};
    cJSON *root = NULL;
    int rc = -1;
    if (need_file(mpath, "the manifest", e) || file_read_all(mpath, &b, e) || json_doc_check(b.data, b.len, mpath, e))
        goto done;
    root = cJSON_ParseWithLength(b.data, b.len);
    if (!root || !cJSON_IsObject(root)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object", mpath);
        goto done;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (!cJSON_IsArray(cls) || cJSON_GetArraySize(cls) < 2) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: field \"classes\" must be an array of at least 2 class names", mpath);
        goto done;
    }
    dd->n_classes = cJSON_GetArraySize(cls);
    dd->classes = xcalloc((size_t)dd->n_classes, sizeof *dd->classes);
    for (int i = 0; i < dd->n_classes; i++) {
        const cJSON *c = cJSON_GetArrayItem(cls, i);
        if (!cJSON_IsString(c) || !c->valuestring[0]) {
            aca_errf(e, ACA_ERR_FORMAT, "%s: field \"classes\"[%d] must be a non-empty string", mpath, i);
            goto done;
        }
        dd->classes[i] = xstrdup(c->valuestring);
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsNumber(seed) && seed->valuedouble >= 0) dd->seed = (uint64_t)seed->valuedouble;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "collectives");
    if (cs && !cJSON_IsArray(cs)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: field \"collectives\" must be an array", mpath);
        goto done;
    }
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(root, "only");
    dd->n_coll = cs ? cJSON_GetArraySize(cs) : 0;
    dd->coll = xcalloc((size_t)dd->n_coll + 1, sizeof *dd->coll);
    for (int i = 0; i < dd->n_coll; i++) {
        const cJSON *c = cJSON_GetArrayItem(cs, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(c, "target");
        if (!cJSON_IsString(name) || !cJSON_IsString(target)) {
            aca_errf(e, ACA_ERR_FORMAT, "%s: collectives[%d] needs string fields \"name\" and \"target\"", mpath, i);
            goto done;
        }
        aca_datadir_coll *k = &dd->coll[i];
        k->name = xstrdup(name->valuestring);
        k->target_id = class_lookup(dd->classes, dd->n_classes, target->valuestring);
        if (k->target_id < 0) {
            aca_errf(e, ACA_ERR_FORMAT, "%s: collectives[%d].target \"%s\" is not in \"classes\"", mpath, i,
                     target->valuestring);
            goto done;
        }
        k->target = xstrdup(dd->classes[k->target_id]);
        const cJSON *acts = cJSON_GetObjectItemCaseSensitive(c, "acting");
        if (cJSON_IsBool(acts)) k->acts = cJSON_IsTrue(acts);
        else if (cJSON_IsString(only)) k->acts = !strcmp(only->valuestring, k->name);
        else k->acts = 1;
        size_t n = strlen(k->name) + 16;
        char *fn = xmalloc(n);
        snprintf(fn, n, "probe_%s.jsonl", k->name);
        k->probe_path = path_join(dir, fn);
        free(fn);
        if (need_file(k->probe_path, "a collective's probe set", e)) goto done;
    }
    dd->train_path = path_join(dir, "train.jsonl");
    dd->test_path = path_join(dir, "test.jsonl");
    if (need_file(dd->train_path, "the training set", e) || need_file(dd->test_path, "the test set", e)) goto done;
    rc = 0;
done:
    if (rc) datadir_free(dd);
    cJSON_Delete(root);
    buf_free(&b);
    free(mpath);
    return rc;
}

// ---- JSONL -> tokens ---------------------------------------------------------------------------
int data_load_jsonl(const char *path, char *const *classes, int n_classes, const aca_tokenizer *tok,
                    int max_len, const char *cache_dir, aca_dataset *out, aca_err *e) {
    memset(out, 0, sizeof *out);
    tokcache_doc_set s;
    int hit = 0;
    if (tokcache_load_jsonl(path, tok, max_len, classes, n_classes, cache_dir, &s, &hit, e)) return -1;
    if (!s.data.labels) {
        tokcache_doc_set_free(&s);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: the documents have no \"label\" field", path);
    }
    log_verbose("%s: %zu documents%s", path, s.data.n, hit ? " (from the token cache)" : "");
    *out = s.data; // the dataset's buffers move to out
    memset(&s.data, 0, sizeof s.data);
    tokcache_doc_set_free(&s);
    return 0;
}

