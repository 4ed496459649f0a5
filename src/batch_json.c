// Batches as JSON files (aca forward): {"input_ids":[[..]], "attention_mask":[[..]],
// "token_type_ids":[[..]], "labels":[..]}; only input_ids is required, rows must all have one length.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/model.h"

// A (B,T) int matrix field; absent: *out NULL.  All rows must have the same length (*T, set by the
// first matrix read when *T < 0).
static int read_matrix(const cJSON *root, const char *field, const char *path, int *B, int *T, int32_t **out, aca_err *e) {
    *out = NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!a || cJSON_IsNull(a)) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s': expected a non-empty array of rows", path, field);
    int nb = cJSON_GetArraySize(a);
    if (*B >= 0 && nb != *B)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s' has %d rows, input_ids has %d", path, field, nb, *B);
    *B = nb;
    const cJSON *row0 = cJSON_GetArrayItem(a, 0);
    if (*T < 0) *T = cJSON_IsArray(row0) ? cJSON_GetArraySize(row0) : 0;
    if (*T == 0) return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s': row 0 is not a non-empty array", path, field);
    int32_t *m = xmalloc((size_t)nb * (size_t)*T * sizeof(int32_t));
    int b = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, a) {
        int n = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : -1;
        if (n != *T) {
            free(m);
            if (n < 0) return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s': row %d is not an array", path, field, b);
            return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s': ragged rows: row %d has %d values, expected %d (pad every row to one length)",
                            path, field, b, n, *T);
        }
        int t = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2147483647.0) {
                free(m);
                return aca_errf(e, ACA_ERR_FORMAT, "%s: field '%s': row %d, position %d is not an integer", path, field, b, t);
            }
            m[(size_t)b * *T + t++] = (int32_t)v->valuedouble;
        }
        b++;
    }
    *out = m;
    return 0;
}

void batch_json_free(aca_batch_json *b) {
    free(b->ids), free(b->mask), free(b->types), free(b->labels);
    memset(b, 0, sizeof *b);
}

int batch_json_load(const char *path, aca_batch_json *bf, aca_err *e) {
    memset(bf, 0, sizeof *bf);
    aca_buf txt = {0};
    if (file_read_all(path, &txt, e)) return -1;
    cJSON *root = cJSON_ParseWithLength(txt.data, txt.len);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        if (!root && at && at >= txt.data && at <= txt.data + txt.len)
            for (const char *p = txt.data; p < at; p++) line += *p == '\n';
        cJSON_Delete(root);
        buf_free(&txt);
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%d: not a JSON object (expected {\"input_ids\": [[...]], ...})", path, line);
    }
    buf_free(&txt);
    static const char *known[] = {"input_ids", "attention_mask", "token_type_ids", "labels"};
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, root) {
        int ok = 0;
        for (size_t k = 0; k < ACA_ARRAY_LEN(known); k++) ok |= !strcmp(it->string, known[k]);
        if (!ok) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: unknown field '%s' (expected input_ids, attention_mask, token_type_ids, labels)", path,
                          it->string);
            break;
        }
    }
    bf->B = bf->T = -1;
    if (!rc && !cJSON_GetObjectItemCaseSensitive(root, "input_ids"))
        rc = aca_errf(e, ACA_ERR_FORMAT, "%s: missing field 'input_ids'", path);
    if (!rc) rc = read_matrix(root, "input_ids", path, &bf->B, &bf->T, &bf->ids, e);
    if (!rc) rc = read_matrix(root, "attention_mask", path, &bf->B, &bf->T, &bf->mask, e);
    if (!rc) rc = read_matrix(root, "token_type_ids", path, &bf->B, &bf->T, &bf->types, e);
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(root, "labels");
    if (!rc && lab && !cJSON_IsNull(lab)) {
        if (!cJSON_IsArray(lab) || cJSON_GetArraySize(lab) != bf->B)
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: field 'labels': expected an array of %d class ids (one per row)", path, bf->B);
        else {
            bf->labels = xmalloc((size_t)bf->B * sizeof(int32_t));
            int i = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, lab) {
                if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2147483647.0) {
                    rc = aca_errf(e, ACA_ERR_FORMAT, "%s: field 'labels': entry %d is not an integer", path, i);
                    break;
                }
                bf->labels[i++] = (int32_t)v->valuedouble;
            }
        }
    }
    cJSON_Delete(root);
    if (rc) batch_json_free(bf);
    return rc;
}
