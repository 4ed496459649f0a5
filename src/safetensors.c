// safetensors reader/writer (include/aca/safetensors.h).  Every header field is validated before a
// byte of tensor data is touched; the data section is only ever read through validated ranges.
#include "aca/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/jsonw.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},     [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_I16] = {"I16", 2}, [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4},
    [ST_I64] = {"I64", 8},   [ST_U64] = {"U64", 8}, [ST_F64] = {"F64", 8},
};

const char *st_dtype_name(st_dtype dt) { return (unsigned)dt < ACA_ARRAY_LEN(DTYPES) ? DTYPES[dt].name : "?"; }
size_t st_dtype_size(st_dtype dt) { return (unsigned)dt < ACA_ARRAY_LEN(DTYPES) ? DTYPES[dt].size : 0; }

static int dtype_parse(const char *s, st_dtype *dt) {
    for (size_t i = 0; i < ACA_ARRAY_LEN(DTYPES); i++)
        if (!strcmp(s, DTYPES[i].name)) return *dt = (st_dtype)i, 0;
    return -1;
}

// A JSON number that is a non-negative integer <= max.
static int json_uint(const cJSON *j, uint64_t max, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > (double)max || d > 9007199254740992.0) return -1;
    *out = (uint64_t)d;
    return 0;
}

static void st_clear(st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) free(f->meta_keys[i]), free(f->meta_vals[i]);
    free(f->meta_keys);
    free(f->meta_vals);
    f->tensors = NULL;
    f->meta_keys = f->meta_vals = NULL;
    f->n = f->n_meta = 0;
    f->data = NULL;
    f->data_size = 0;
}

static int cmp_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int parse_tensor(st_tensor *t, const cJSON *j, const char *path, size_t data_size, aca_err *e) {
    const char *nm = t->name;
    if (!cJSON_IsObject(j)) return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt)) return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", path, nm);
    if (dtype_parse(dt->valuestring, &t->dtype))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, nm, dt->valuestring);
    if (!cJSON_IsArray(sh)) return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': missing or non-array \"shape\"", path, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d supported)", path, nm, nd, ST_MAX_DIMS);
    t->ndim = nd;
    // numel is computed with overflow checks: the product must stay below the data size / dtype size.
    uint64_t numel = 1;
    int zero = 0;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (json_uint(cJSON_GetArrayItem(sh, d), INT64_MAX, &v))
            return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, nm, d);
        t->shape[d] = (int64_t)v;
        if (v == 0) zero = 1;
        else if (!zero && numel > (uint64_t)SIZE_MAX / v)
            return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, nm);
        else if (!zero) numel *= v;
    }
    if (zero) numel = 0;
    size_t es = st_dtype_size(t->dtype);
    if (numel > SIZE_MAX / es) return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, nm);
    t->numel = (size_t)numel;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" must be [begin, end]", path, nm);
    uint64_t b, en;
    if (json_uint(cJSON_GetArrayItem(off, 0), SIZE_MAX, &b) || json_uint(cJSON_GetArrayItem(off, 1), SIZE_MAX, &en))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", path, nm);
    if (b > en) return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, nm,
                                (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section (%zu bytes; truncated file?)",
                        path, nm, (unsigned long long)b, (unsigned long long)en, data_size);
    t->begin = (size_t)b, t->end = (size_t)en;
    if (t->end - t->begin != t->numel * es)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': %s with %zu elements needs %zu bytes, data_offsets give %zu", path,
                        nm, st_dtype_name(t->dtype), t->numel, t->numel * es, t->end - t->begin);
    return 0;
}

int st_parse(st_file *f, const void *bytes, size_t n, const char *path, aca_err *e) {
    const uint8_t *p = bytes;
    st_clear(f);
    if (f->path != path) {
        free(f->path);
        f->path = xstrdup(path);
    }
    if (n < 8) return aca_errf(e, ACA_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors file (truncated?)", path, n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | p[i];
    if (hl > n - 8)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: header length %llu exceeds the file size (%zu bytes; truncated or not safetensors?)",
                        path, (unsigned long long)hl, n);
    const char *end = NULL;
    cJSON *h = cJSON_ParseWithLengthOpts((const char *)p + 8, (size_t)hl, &end, 0);
    if (!h || !cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    // Only trailing spaces (padding) may follow the JSON object inside the header.
    for (const char *q = end; q < (const char *)p + 8 + hl; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0) {
            cJSON_Delete(h);
            return aca_errf(e, ACA_ERR_FORMAT, "%s: junk after the header's JSON object", path);
        }
    f->data = p + 8 + hl;
    f->data_size = n - 8 - (size_t)hl;
    int cap = cJSON_GetArraySize(h);
    f->tensors = xcalloc((size_t)cap + 1, sizeof *f->tensors);
    int rc = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, h) {
        if (!j->string) continue;
        if (!strcmp(j->string, "__metadata__")) {
            if (!cJSON_IsObject(j) || f->meta_keys) {
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: \"__metadata__\" must be one object of strings", path);
                break;
            }
            int nm = cJSON_GetArraySize(j);
            f->meta_keys = xcalloc((size_t)nm + 1, sizeof(char *));
            f->meta_vals = xcalloc((size_t)nm + 1, sizeof(char *));
            const cJSON *kv;
            cJSON_ArrayForEach(kv, j) {
                if (!cJSON_IsString(kv) || !kv->string) {
                    rc = aca_errf(e, ACA_ERR_FORMAT, "%s: \"__metadata__\" value '%s' is not a string", path,
                                  kv->string ? kv->string : "?");
                    break;
                }
                f->meta_keys[f->n_meta] = xstrdup(kv->string);
                f->meta_vals[f->n_meta++] = xstrdup(kv->valuestring);
            }
            if (rc) break;
            continue;
        }
        st_tensor *t = &f->tensors[f->n++];
        t->name = xstrdup(j->string);
        if ((rc = parse_tensor(t, j, path, f->data_size, e))) break;
    }
    cJSON_Delete(h);
    if (!rc && f->n > 0) {
        // Duplicate names and overlapping ranges: sort views by begin (and by name for duplicates).
        const st_tensor **v = xmalloc((size_t)f->n * sizeof *v);
        for (int i = 0; i < f->n; i++) v[i] = &f->tensors[i];
        qsort(v, (size_t)f->n, sizeof *v, cmp_begin);
        for (int i = 1; i < f->n && !rc; i++)
            if (v[i]->begin < v[i - 1]->end)
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap", path, v[i - 1]->name,
                              v[i - 1]->begin, v[i - 1]->end, v[i]->name, v[i]->begin, v[i]->end);
        qsort(v, (size_t)f->n, sizeof *v, cmp_name);
        for (int i = 1; i < f->n && !rc; i++)
            if (!strcmp(v[i]->name, v[i - 1]->name))
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s' appears twice", path, v[i]->name);
        free(v);
    }
    if (rc) st_clear(f);
    return rc;
}

int st_open(st_file *f, const char *path, aca_err *e) {
    memset(f, 0, sizeof *f);
    if (file_read_all(path, &f->file, e)) return -1;
    if (st_parse(f, f->file.data, f->file.len, path, e)) {
        st_close(f);
        return -1;
    }
    return 0;
}

void st_close(st_file *f) {
    st_clear(f);
    buf_free(&f->file);
    free(f->path);
    f->path = NULL;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_metadata(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

static float f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (ex == 0x1f) bits = s | 0x7f800000u | (m << 13); // inf / nan
    else if (ex) bits = s | ((ex + 112) << 23) | (m << 13);
    else if (!m) bits = s;
    else { // subnormal: normalise
        int sh = 0;
        while (!(m & 0x400)) m <<= 1, sh++;
        bits = s | ((uint32_t)(113 - sh) << 23) | ((m & 0x3ff) << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

int st_read_f32(const st_file *f, const st_tensor *t, float *out, aca_err *e) {
    const uint8_t *p = f->data + t->begin;
    switch (t->dtype) {
    case ST_F32: memcpy(out, p, t->numel * 4); return 0;
    case ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return 0;
    case ST_F16:
        for (size_t i = 0; i < t->numel; i++) out[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, 4);
        }
        return 0;
    default:
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': dtype %s cannot be read as floating point (F32, F16, BF16, F64)",
                        f->path, t->name, st_dtype_name(t->dtype));
    }
}

int st_read_i32(const st_file *f, const st_tensor *t, int32_t *out, aca_err *e) {
    const uint8_t *p = f->data + t->begin;
    size_t es = st_dtype_size(t->dtype);
    int sgn;
    switch (t->dtype) {
    case ST_BOOL: case ST_U8: case ST_U16: case ST_U32: case ST_U64: sgn = 0; break;
    case ST_I8: case ST_I16: case ST_I32: case ST_I64: sgn = 1; break;
    default:
        return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': dtype %s is not an integer type", f->path, t->name,
                        st_dtype_name(t->dtype));
    }
    for (size_t i = 0; i < t->numel; i++) {
        uint64_t u = 0;
        for (size_t b = 0; b < es; b++) u |= (uint64_t)p[i * es + b] << (8 * b);
        int64_t v;
        if (sgn && es < 8 && (u >> (8 * es - 1)) & 1) v = (int64_t)(u | (~0ULL << (8 * es)));
        else v = (int64_t)u;
        if ((!sgn && u > INT32_MAX) || v < INT32_MIN || v > INT32_MAX)
            return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s': element %zu does not fit in int32", f->path, t->name, i);
        out[i] = (int32_t)v;
    }
    return 0;
}

static size_t out_numel(const st_out *t) {
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
    return numel;
}

// The header's JSON: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...},
// the tensors' data laid out in order.
static void header_json(aca_buf *h, const st_out *t, int n, const char *const *meta_kv, int n_meta) {
    aca_jsonw w;
    jsonw_init(&w, h);
    jsonw_obj(&w);
    if (n_meta > 0) {
        jsonw_key(&w, "__metadata__");
        jsonw_obj(&w);
        for (int i = 0; i < n_meta; i++) jsonw_kstr(&w, meta_kv[2 * i], meta_kv[2 * i + 1]);
        jsonw_end(&w);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = out_numel(&t[i]) * 4;
        jsonw_key(&w, t[i].name);
        jsonw_obj(&w);
        jsonw_kstr(&w, "dtype", t[i].i32 ? "I32" : "F32");
        jsonw_key(&w, "shape");
        jsonw_arr(&w);
        for (int d = 0; d < t[i].ndim; d++) jsonw_int(&w, t[i].shape[d]);
        jsonw_end(&w);
        jsonw_key(&w, "data_offsets");
        jsonw_arr(&w), jsonw_uint(&w, off), jsonw_uint(&w, off + bytes), jsonw_end(&w);
        jsonw_end(&w);
        off += bytes;
    }
    jsonw_end(&w);
}

int st_write(const char *path, const st_out *t, int n, const char *const *meta_kv, int n_meta, aca_err *e) {
    aca_buf h = {0};
    header_json(&h, t, n, meta_kv, n_meta);
    while (h.len % 8) buf_putc(&h, ' ');
    aca_atomic a;
    if (atomic_open(&a, path, e)) {
        buf_free(&h);
        return -1;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    int bad = fwrite(len8, 1, 8, a.f) != 8 || fwrite(h.data, 1, h.len, a.f) != h.len;
    buf_free(&h);
    for (int i = 0; i < n && !bad; i++) {
        size_t numel = out_numel(&t[i]);
        const void *src = t[i].i32 ? (const void *)t[i].i32 : (const void *)t[i].f32;
        if (numel && fwrite(src, 4, numel, a.f) != numel) bad = 1; // little-endian host
    }
    if (bad) {
        atomic_abort(&a);
        return aca_errf(e, ACA_ERR_IO, "%s: write failed", path);
    }
    return atomic_commit(&a, e);
}
