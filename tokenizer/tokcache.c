// Tokenized JSONL files and the token cache (include/aca/tokcache.h).
#include "aca/tokcache.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the token cache is written in host byte order, which must be little-endian"
#endif

static const char MAGIC[8] = {'A', 'C', 'A', 'T', 'O', 'K', 'C', '\n'};

// Header field offsets (bytes); see the top of tokcache.h.
enum {
    H_MAGIC = 0, H_VERSION = 8, H_HDR_BYTES = 12, H_SRC_HASH = 16, H_SRC_SIZE = 24, H_TOK_HASH = 32,
    H_CLS_HASH = 40, H_MAX_LEN = 48, H_VOCAB = 52, H_N_DOCS = 56, H_N_IDS = 64, H_N_CLASSES = 72, H_FLAGS = 76,
    H_OFF_OFFSETS = 80, H_OFF_IDS = 88, H_OFF_LABELS = 96, H_OFF_CLASSES = 104, H_FILE_SIZE = 112, H_CHECKSUM = 120,
};
enum { FLAG_LABELS = 1 };

static uint64_t rd64(const uint8_t *h, int at) {
    uint64_t v;
    memcpy(&v, h + at, 8);
    return v;
}
static uint32_t rd32(const uint8_t *h, int at) {
    uint32_t v;
    memcpy(&v, h + at, 4);
    return v;
}
static void wr64(uint8_t *h, int at, uint64_t v) { memcpy(h + at, &v, 8); }
static void wr32(uint8_t *h, int at, uint32_t v) { memcpy(h + at, &v, 4); }
static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

// FNV-1a 64 of the header before the checksum field, then of everything after the header.
static uint64_t file_checksum(const uint8_t *f, size_t n) {
    uint64_t h = hash_fnv1a64(f, H_CHECKSUM, ACA_FNV_SEED);
    return hash_fnv1a64(f + TOKCACHE_HEADER_BYTES, n - TOKCACHE_HEADER_BYTES, h);
}

uint64_t tokcache_classes_hash(char *const *classes, int n_classes) {
    uint64_t h = hash_fnv1a64(&n_classes, sizeof n_classes, ACA_FNV_SEED);
    for (int i = 0; i < n_classes; i++) h = hash_fnv1a64(classes[i], strlen(classes[i]) + 1, h);
    return h;
}

void tokcache_doc_set_free(tokcache_doc_set *s) {
    dataset_free(&s->data);
    for (int i = 0; i < s->n_classes; i++) free(s->classes[i]);
    free(s->classes);
    memset(s, 0, sizeof *s);
}

static void key_fill(tokcache_key *k, const aca_buf *src, const aca_tokenizer *tok, int max_len,
                     char *const *classes, int n_classes) {
    k->source_hash = hash_fnv1a64(src->data ? src->data : "", src->len, ACA_FNV_SEED);
    k->source_size = src->len;
    k->tokenizer_hash = tokenizer_hash(tok);
    k->classes_hash = tokcache_classes_hash(classes, n_classes);
    k->max_len = max_len;
    k->vocab_size = tokenizer_vocab_size(tok);
}

// ---- tokenizing a JSONL buffer -----------------------------------------------------------------
enum { CHUNK_DOCS = 4096 }; // documents parsed (serially) then tokenized (in parallel) at a time

static int class_find(char *const *classes, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (class_name_equal(classes[i], name)) return i;
    return -1;
}

// A line of only JSON whitespace (skipped like an empty line).
static int line_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

// The class id of a line's "label" (NULL: none): looked up in, or added to, the class list.
static int label_id(const cJSON *l, char ***cls, int *ncls, int fixed, const char *path, size_t line, aca_err *e) {
    char kind[64];
    if (!cJSON_IsString(l))
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: field \"label\" must be a string (a class name), not %s", path, line,
                        json_kind(l, kind, sizeof kind));
    int lab = class_find(*cls, *ncls, l->valuestring);
    if (lab >= 0) return lab;
    if (fixed)
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: label \"%s\" is not one of the %d classes", path, line, l->valuestring,
                        *ncls);
    *cls = xrealloc(*cls, ((size_t)*ncls + 2) * sizeof **cls);
    char *c = (*cls)[*ncls] = xstrdup(l->valuestring);
    for (; *c; c++)
        if (*c == '_') *c = ' ';
    return (*ncls)++;
}

// Tokenizes the JSONL text in src (a UTF-8 byte order mark at its start is skipped).  The class
// list is fixed (classes != NULL) or grown into out->classes.  Texts are carried with their length
// (a "\u0000" stays in the text; the tokenizer drops it as Hugging Face does).
static int tokenize_buf(aca_buf *src, const char *path, const aca_tokenizer *tok, int max_len, char *const *classes,
                        int n_classes, int threads, tokcache_doc_set *out, aca_err *e) {
    if (max_len < 2) return aca_errf(e, ACA_ERR_VALUE, "max length must be >= 2 (got %d)", max_len);
    if (threads <= 0) threads = omp_get_max_threads();
    const int fixed = classes != NULL;
    char **cls = NULL;
    int ncls = 0;
    if (fixed) {
        cls = xcalloc((size_t)n_classes + 1, sizeof *cls);
        for (int i = 0; i < n_classes; i++) cls[i] = xstrdup(classes[i]);
        ncls = n_classes;
    }
    // chunk state: the texts of up to CHUNK_DOCS lines, back to back in one store
    aca_buf store = {0};
    size_t *toff = xmalloc(CHUNK_DOCS * sizeof *toff);
    size_t *tlen = xmalloc(CHUNK_DOCS * sizeof *tlen), *tline = xmalloc(CHUNK_DOCS * sizeof *tline);
    int32_t *rows = xmalloc((size_t)CHUNK_DOCS * (size_t)max_len * sizeof *rows);
    int *rlen = xmalloc(CHUNK_DOCS * sizeof *rlen);
    // output
    size_t n = 0, ncap = 1024, nids = 0, idcap = 1 << 16;
    uint64_t *off = xmalloc((ncap + 1) * sizeof *off);
    int32_t *ids = xmalloc(idcap * sizeof *ids), *labels = xmalloc(ncap * sizeof *labels);
    off[0] = 0;
    int rc = 0, with_labels = -1; // -1: not known yet (no line seen)
    size_t line = 0, first_label_line = 0;
    const char *p = src->data ? src->data : "", *end = p + src->len;
    p += utf8_bom_len(p, src->len);
    while (p < end && !rc) {
        // 1. parse up to CHUNK_DOCS lines (serial: cJSON keeps a global error position)
        int k = 0;
        buf_clear(&store);
        while (p < end && k < CHUNK_DOCS && !rc) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *s = p;
            size_t len = (size_t)((nl ? nl : end) - p);
            p = nl ? nl + 1 : end;
            line++;
            if (line_blank(s, len)) continue;
            jsonl_doc j;
            if (jsonl_doc_parse(s, len, &store, &j, e)) {
                rc = aca_err_prefix(e, "%s:%zu", path, line);
                break;
            }
            const cJSON *l = j.label;
            if (with_labels >= 0 && with_labels != (l != NULL)) {
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: %s \"label\" but line %zu %s", path, line,
                              l ? "has a" : "lacks a", first_label_line, l ? "has none" : "has one");
            } else {
                if (with_labels < 0) with_labels = l != NULL, first_label_line = line;
                int lab = l ? label_id(l, &cls, &ncls, fixed, path, line, e) : -1;
                if (l && lab < 0) {
                    rc = -1;
                } else {
                    if (n + (size_t)k + 1 > ncap) {
                        ncap = 2 * (n + (size_t)k + 1);
                        off = xrealloc(off, (ncap + 1) * sizeof *off);
                        labels = xrealloc(labels, ncap * sizeof *labels);
                    }
                    labels[n + (size_t)k] = lab;
                    toff[k] = j.text_off;
                    tlen[k] = j.text_len;
                    tline[k] = line;
                    k++;
                }
            }
            cJSON_Delete(j.root);
        }
        if (rc) break;
        // 2. tokenize the chunk in parallel; the first failing line (in file order) is reported
        long bad = -1;
        aca_err bad_err = {0};
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
        for (int i = 0; i < k; i++) {
            aca_err le = {0};
            if (tokenizer_encode(tok, store.data + toff[i], tlen[i], max_len, rows + (size_t)i * (size_t)max_len, &rlen[i],
                                 &le)) {
#pragma omp critical(tokcache_err)
                if (bad < 0 || i < bad) bad = i, bad_err = le;
            }
        }
        if (bad >= 0) {
            if (e) *e = bad_err;
            rc = aca_err_prefix(e, "%s:%zu", path, tline[bad]);
            break;
        }
        // 3. append in order
        for (int i = 0; i < k; i++) {
            while (nids + (size_t)rlen[i] > idcap) idcap *= 2, ids = xrealloc(ids, idcap * sizeof *ids);
            memcpy(ids + nids, rows + (size_t)i * (size_t)max_len, (size_t)rlen[i] * sizeof *ids);
            nids += (size_t)rlen[i];
            off[++n] = nids;
        }
    }
    if (!rc && n == 0) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: no documents", path);
    buf_free(&store);
    free(toff);
    free(tlen);
    free(tline);
    free(rows);
    free(rlen);
    if (rc) {
        free(off);
        free(ids);
        free(labels);
        for (int i = 0; i < ncls; i++) free(cls[i]);
        free(cls);
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!with_labels) free(labels), labels = NULL;
    out->data.n = n;
    out->data.ids = ids;
    out->data.off = off;
    out->data.labels = labels;
    out->data.max_len = max_len;
    out->data.owned[0] = ids, out->data.owned[1] = off, out->data.owned[2] = labels;
    out->classes = cls;
    out->n_classes = ncls;
    if (!with_labels) { // an unlabelled file indexes no classes
        for (int i = 0; i < ncls; i++) free(cls[i]);
        free(cls);
        out->classes = NULL, out->n_classes = 0;
    }
    return 0;
}

int tokcache_tokenize_jsonl(const char *path, const aca_tokenizer *tok, int max_len, char *const *classes,
                            int n_classes, int threads, tokcache_doc_set *out, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    tokcache_key k;
    key_fill(&k, &b, tok, max_len, classes, classes ? n_classes : 0);
    int rc = tokenize_buf(&b, path, tok, max_len, classes, n_classes, threads, out, e);
    buf_free(&b);
    if (rc) return -1;
    // the key names the class list the labels index, which may have been collected from the file
    k.classes_hash = tokcache_classes_hash(out->classes, out->n_classes);
    out->key = k;
    return 0;
}

// ---- the file ----------------------------------------------------------------------------------
typedef struct {
    size_t offsets, ids, labels, classes, size;
} tc_layout;

static size_t classes_bytes(char *const *classes, int n) {
    size_t b = 0;
    for (int i = 0; i < n; i++) b += strlen(classes[i]) + 1;
    return b;
}

static tc_layout layout_of(uint64_t n_docs, uint64_t n_ids, int has_labels, size_t cls_bytes) {
    tc_layout l;
    l.offsets = TOKCACHE_HEADER_BYTES;
    l.ids = l.offsets + (size_t)(n_docs + 1) * 8;
    l.labels = align8(l.ids + (size_t)n_ids * 4);
    l.classes = align8(l.labels + (has_labels ? (size_t)n_docs * 4 : 0));
    l.size = l.classes + cls_bytes;
    return l;
}

int tokcache_write(const char *path, const tokcache_doc_set *s, aca_err *e) {
    const aca_dataset *d = &s->data;
    const size_t cb = classes_bytes(s->classes, s->n_classes);
    const tc_layout l = layout_of(d->n, d->off[d->n], d->labels != NULL, cb);
    uint8_t *f = xcalloc(l.size, 1);
    memcpy(f + l.offsets, d->off, (d->n + 1) * 8);
    memcpy(f + l.ids, d->ids, d->off[d->n] * 4);
    if (d->labels) memcpy(f + l.labels, d->labels, d->n * 4);
    char *c = (char *)f + l.classes;
    for (int i = 0; i < s->n_classes; i++) {
        size_t m = strlen(s->classes[i]) + 1;
        memcpy(c, s->classes[i], m);
        c += m;
    }
    memcpy(f + H_MAGIC, MAGIC, 8);
    wr32(f, H_VERSION, TOKCACHE_VERSION);
    wr32(f, H_HDR_BYTES, TOKCACHE_HEADER_BYTES);
    wr64(f, H_SRC_HASH, s->key.source_hash);
    wr64(f, H_SRC_SIZE, s->key.source_size);
    wr64(f, H_TOK_HASH, s->key.tokenizer_hash);
    wr64(f, H_CLS_HASH, tokcache_classes_hash(s->classes, s->n_classes));
    wr32(f, H_MAX_LEN, (uint32_t)s->key.max_len);
    wr32(f, H_VOCAB, (uint32_t)s->key.vocab_size);
    wr64(f, H_N_DOCS, d->n);
    wr64(f, H_N_IDS, d->off[d->n]);
    wr32(f, H_N_CLASSES, (uint32_t)s->n_classes);
    wr32(f, H_FLAGS, d->labels ? FLAG_LABELS : 0);
    wr64(f, H_OFF_OFFSETS, l.offsets);
    wr64(f, H_OFF_IDS, l.ids);
    wr64(f, H_OFF_LABELS, l.labels);
    wr64(f, H_OFF_CLASSES, l.classes);
    wr64(f, H_FILE_SIZE, l.size);
    wr64(f, H_CHECKSUM, file_checksum(f, l.size));
    int rc = file_write_atomic(path, f, l.size, e);
    free(f);
    return rc;
}

int tokcache_parse(const void *data, size_t n, const char *name, tokcache_doc_set *out, aca_err *e) {
    const uint8_t *f = data;
    memset(out, 0, sizeof *out);
    if (n < TOKCACHE_HEADER_BYTES || memcmp(f, MAGIC, 8))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not an aca token cache (%s)", name,
                        n < TOKCACHE_HEADER_BYTES ? "shorter than its 128-byte header" : "bad magic");
    if (rd32(f, H_VERSION) != TOKCACHE_VERSION)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: token cache version %u; this build reads version %d (rebuild it)",
                        name, rd32(f, H_VERSION), TOKCACHE_VERSION);
    if (rd32(f, H_HDR_BYTES) != TOKCACHE_HEADER_BYTES)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: header size %u, expected %d", name, rd32(f, H_HDR_BYTES),
                        TOKCACHE_HEADER_BYTES);
    if (rd64(f, H_FILE_SIZE) != n)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: truncated or extended: the header says %llu bytes, the file has %zu",
                        name, (unsigned long long)rd64(f, H_FILE_SIZE), n);
    const uint64_t n_docs = rd64(f, H_N_DOCS), n_ids = rd64(f, H_N_IDS);
    const uint32_t n_classes = rd32(f, H_N_CLASSES), flags = rd32(f, H_FLAGS);
    const int32_t max_len = (int32_t)rd32(f, H_MAX_LEN), vocab = (int32_t)rd32(f, H_VOCAB);
    const int has_labels = (flags & FLAG_LABELS) != 0;
    if (flags & ~(uint32_t)FLAG_LABELS) return aca_errf(e, ACA_ERR_FORMAT, "%s: unknown flags 0x%x", name, flags);
    if (n_docs == 0 || n_docs > n / 8 || n_ids > n / 4 || n_classes > n || max_len < 2 || vocab < 1)
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: implausible header (documents %llu, ids %llu, classes %u, max length %d, vocab %d)", name,
                        (unsigned long long)n_docs, (unsigned long long)n_ids, n_classes, max_len, vocab);
    if (has_labels != (n_classes > 0))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: %s labels but %u classes", name, has_labels ? "has" : "has no",
                        n_classes);
    if (file_checksum(f, n) != rd64(f, H_CHECKSUM))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: checksum mismatch (the file is corrupt)", name);
    const tc_layout l0 = layout_of(n_docs, n_ids, has_labels, 0);
    if (rd64(f, H_OFF_OFFSETS) != l0.offsets || rd64(f, H_OFF_IDS) != l0.ids || rd64(f, H_OFF_LABELS) != l0.labels ||
        rd64(f, H_OFF_CLASSES) != l0.classes || l0.classes > n)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: array offsets do not match the counts in the header", name);
    // the class names fill the rest of the file exactly
    const char *cs = (const char *)f + l0.classes, *ce = (const char *)f + n;
    char **classes = xcalloc((size_t)n_classes + 1, sizeof *classes);
    uint32_t got = 0;
    int rc = 0;
    for (const char *c = cs; c < ce && !rc; got++) {
        const char *z = memchr(c, 0, (size_t)(ce - c));
        if (!z || z == c || got >= n_classes) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s: class list: %s", name,
                          !z ? "unterminated name" : z == c ? "empty name" : "more names than the header's count");
            break;
        }
        classes[got] = xstrdup(c);
        c = z + 1;
    }
    if (!rc && got != n_classes)
        rc = aca_errf(e, ACA_ERR_FORMAT, "%s: class list holds %u names, the header says %u", name, got, n_classes);
    if (!rc && tokcache_classes_hash(classes, (int)n_classes) != rd64(f, H_CLS_HASH))
        rc = aca_errf(e, ACA_ERR_FORMAT, "%s: class list hash mismatch", name);
    uint64_t *off = NULL;
    int32_t *ids = NULL, *labels = NULL;
    if (!rc) {
        off = xmalloc((size_t)(n_docs + 1) * sizeof *off);
        ids = xmalloc((size_t)(n_ids ? n_ids : 1) * sizeof *ids);
        memcpy(off, f + l0.offsets, (size_t)(n_docs + 1) * 8);
        memcpy(ids, f + l0.ids, (size_t)n_ids * 4);
        if (off[0] != 0 || off[n_docs] != n_ids) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: offsets do not span the ids", name);
        for (uint64_t i = 0; i < n_docs && !rc; i++) {
            if (off[i + 1] < off[i] + 2 || off[i + 1] - off[i] > (uint64_t)max_len)
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: document %llu has %lld tokens (must be 2..%d)", name,
                              (unsigned long long)i, (long long)(off[i + 1] - off[i]), max_len);
        }
        for (uint64_t i = 0; i < n_ids && !rc; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: token id %d at position %llu is outside the vocabulary (0..%d)",
                              name, ids[i], (unsigned long long)i, vocab - 1);
    }
    if (!rc && has_labels) {
        labels = xmalloc((size_t)n_docs * sizeof *labels);
        memcpy(labels, f + l0.labels, (size_t)n_docs * 4);
        for (uint64_t i = 0; i < n_docs && !rc; i++)
            if (labels[i] < 0 || (uint32_t)labels[i] >= n_classes)
                rc = aca_errf(e, ACA_ERR_FORMAT, "%s: document %llu has label %d (there are %u classes)", name,
                              (unsigned long long)i, labels[i], n_classes);
    }
    if (rc) {
        for (uint32_t i = 0; i < got; i++) free(classes[i]);
        free(classes);
        free(off);
        free(ids);
        free(labels);
        return -1;
    }
    out->data.n = n_docs;
    out->data.ids = ids;
    out->data.off = off;
    out->data.labels = labels;
    out->data.max_len = max_len;
    out->data.owned[0] = ids, out->data.owned[1] = off, out->data.owned[2] = labels;
    out->classes = classes;
    out->n_classes = (int)n_classes;
    out->key.source_hash = rd64(f, H_SRC_HASH);
    out->key.source_size = rd64(f, H_SRC_SIZE);
    out->key.tokenizer_hash = rd64(f, H_TOK_HASH);
    out->key.classes_hash = rd64(f, H_CLS_HASH);
    out->key.max_len = max_len;
    out->key.vocab_size = vocab;
    return 0;
}

int tokcache_read(const char *path, tokcache_doc_set *out, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    int rc = tokcache_parse(b.data ? b.data : "", b.len, path, out, e);
    buf_free(&b);
    return rc;
}

static int key_equal(const tokcache_key *a, const tokcache_key *b) {
    return a->source_hash == b->source_hash && a->source_size == b->source_size &&
           a->tokenizer_hash == b->tokenizer_hash && a->classes_hash == b->classes_hash && a->max_len == b->max_len &&
           a->vocab_size == b->vocab_size;
}

// What differs between a cache file's key and the expected one, for the log.
static const char *key_diff(const tokcache_key *have, const tokcache_key *want) {
    if (have->source_hash != want->source_hash || have->source_size != want->source_size) return "the source changed";
    if (have->tokenizer_hash != want->tokenizer_hash || have->vocab_size != want->vocab_size)
        return "the tokenizer changed";
    if (have->max_len != want->max_len) return "the max length changed";
    return "the class list changed";
}

int tokcache_load_text(const char *name, const char *text, size_t n, const aca_tokenizer *tok, int max_len,
                       char *const *classes, int n_classes, const char *cache_dir, tokcache_doc_set *out, int *hit,
                       aca_err *e) {
    if (hit) *hit = 0;
    aca_buf b = {(char *)text, n, n}; // read only: tokenize_buf and key_fill do not write it
    tokcache_key k;
    key_fill(&k, &b, tok, max_len, classes, classes ? n_classes : 0);
    char *cpath = NULL;
    if (cache_dir && classes) { // only a fixed class list makes the key complete before tokenizing
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        uint64_t kh = hash_fnv1a64(&k, sizeof k, ACA_FNV_SEED);
        size_t m = strlen(base) + 32;
        char *fn = xmalloc(m);
        snprintf(fn, m, "%s-%016llx.tok", base, (unsigned long long)kh);
        cpath = path_join(cache_dir, fn);
        free(fn);
        if (file_exists(cpath)) {
            aca_err ce = {0};
            tokcache_doc_set c;
            if (tokcache_read(cpath, &c, &ce)) {
                log_warn("token cache %s is unusable (%s); rebuilding it", cpath, ce.msg);
            } else if (!key_equal(&c.key, &k)) {
                log_info("token cache %s is stale (%s); rebuilding it", cpath, key_diff(&c.key, &k));
                tokcache_doc_set_free(&c);
            } else {
                *out = c;
                if (hit) *hit = 1;
                free(cpath);
                return 0;
            }
        }
    }
    int rc = tokenize_buf(&b, name, tok, max_len, classes, n_classes, 0, out, e);
    if (!rc) {
        k.classes_hash = tokcache_classes_hash(out->classes, out->n_classes);
        out->key = k;
    }
    if (!rc && cpath) {
        aca_err we = {0};
        if (dir_make(cache_dir, &we) || tokcache_write(cpath, out, &we))
            log_warn("could not write the token cache (%s); continuing without it", we.msg);
    }
    free(cpath);
    return rc;
}

int tokcache_load_jsonl(const char *path, const aca_tokenizer *tok, int max_len, char *const *classes,
                        int n_classes, const char *cache_dir, tokcache_doc_set *out, int *hit, aca_err *e) {
    if (hit) *hit = 0;
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    int rc = tokcache_load_text(path, b.data, b.len, tok, max_len, classes, n_classes, cache_dir, out, hit, e);
    buf_free(&b);
    return rc;
}
