// The mutated-data-directory reader (see include/aca/datadir.h).
#include "aca/datadir.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"
#include "aca/tokcache.h"

// ---- the manifest ------------------------------------------------------------------------------
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
// s's dataset moved to out, when it has labels.
static int labelled_dataset(tokcache_doc_set *s, const char *name, int hit, aca_dataset *out, aca_err *e) {
    if (!s->data.labels) {
        tokcache_doc_set_free(s);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: the documents have no \"label\" field", name);
    }
    log_verbose("%s: %zu documents%s", name, s->data.n, hit ? " (from the token cache)" : "");
    *out = s->data; // the dataset's buffers move to out
    memset(&s->data, 0, sizeof s->data);
    tokcache_doc_set_free(s);
    return 0;
}

int data_load_jsonl(const char *path, char *const *classes, int n_classes, const aca_tokenizer *tok,
                    int max_len, const char *cache_dir, aca_dataset *out, aca_err *e) {
    memset(out, 0, sizeof *out);
    tokcache_doc_set s;
    int hit = 0;
    if (tokcache_load_jsonl(path, tok, max_len, classes, n_classes, cache_dir, &s, &hit, e)) return -1;
    return labelled_dataset(&s, path, hit, out, e);
}

int data_load_jsonl_text(const char *name, const aca_buf *text, char *const *classes, int n_classes,
                         const aca_tokenizer *tok, int max_len, const char *cache_dir, aca_dataset *out, aca_err *e) {
    memset(out, 0, sizeof *out);
    tokcache_doc_set s;
    int hit = 0;
    if (tokcache_load_text(name, text->data, text->len, tok, max_len, classes, n_classes, cache_dir, &s, &hit, e))
        return -1;
    return labelled_dataset(&s, name, hit, out, e);
}

int data_count_docs(const char *path, size_t *n, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    size_t k = 0;
    int content = 0; // the current line holds more than white space
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        if (c == '\n') k += content, content = 0;
        else if (c != ' ' && c != '\t' && c != '\r') content = 1;
    }
    *n = k + content;
    buf_free(&b);
    return 0;
}
