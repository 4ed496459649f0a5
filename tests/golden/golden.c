// golden: the normalised form of an `aca grid` output directory, and its comparison with a committed
// golden file (tests/golden/README.md says what is compared and why).
//
//   golden dump [--digest] LABEL OUT             print OUT's normalised lines, labelled LABEL
//   golden compare [--partial] GOLDEN LABEL OUT  compare OUT with GOLDEN's lines for LABEL; exit 1 on
//                                                a difference (each named by file and field), 2 on error
//
// Output: "= LABEL<tab>FILE" (FILE relative to OUT), then a line FIELD<tab>VALUE for each of its fields.
// How a file becomes fields:
//   text     (inputs.json, grid.json, cells/<id>/spec.json, cells/<id>/manifest.json, summary.csv,
//            plots/*.dat): one line per line of the file, FIELD "L<n>", VALUE its exact bytes; "end" when
//            the file does not end with a newline.
//   record   (cells/<id>/result.json): the JSON flattened, FIELD the key path ("result.metrics.accuracy",
//            "result.metrics.collectives[0].hits"; an array of scalars is one value), VALUE the exact
//            text aca wrote.  Dropped: result.time, result.git, result.timings, result.metrics.eval_seconds.
//   records  (results.jsonl): FIELD the cell id, VALUE the sha256 of that line as a record; FIELD
//            "order" the sha256 of the ids in file order.
//   digest   (bundle/: grid.json, classes.txt, sha256.txt, results.jsonl, summary.csv, plots/*.dat,
//            manifests/*.json): FIELD "sha256", VALUE the sha256 of the file's lines as above.
// Everywhere, the OUT that aca was given (the corpus path of inputs.json less "/corpus.txt") reads "OUT",
// and the value of "aca_version" reads "REV".  Values are escaped (\\ \t \r \xHH) so that a line holds
// one field.  --digest replaces the lines of a file by one sha256 per group (a text file: one; a record:
// one per key path prefix, "result.metrics"; records and bundle files: as they are), for the full-size
// presets.
// A GOLDEN file starts with "# aca golden 1 full" or "# aca golden 1 digest"; other '#' lines are notes.
// --partial compares only the files OUT has and, in results.jsonl, only its cells (for one-cell runs).
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/util.h"

typedef struct {
    char *file, *field, *group, *value;
} gline;

typedef struct {
    gline *v;
    int n, cap;
} glines;

typedef enum { KIND_TEXT, KIND_RECORD, KIND_RECORDS, KIND_DIGEST } file_kind;

typedef struct {
    const char *dir;     // OUT as given to this tool
    const char *out_str; // OUT as aca wrote it in paths
} grid_dir;

static const char *const k_dropped[] = {"result.time", "result.git", "result.timings", "result.metrics.eval_seconds"};

// ---- lines -------------------------------------------------------------------------------------
static void escape(aca_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') buf_puts(b, "\\\\");
        else if (c == '\t') buf_puts(b, "\\t");
        else if (c == '\r') buf_puts(b, "\\r");
        else if (c < 0x20) buf_printf(b, "\\x%02x", c);
        else buf_putc(b, (char)c);
    }
}

// Adds a line whose value is already escaped (taken over).
static void lines_take(glines *L, const char *file, const char *field, const char *group, char *value) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        L->v = xrealloc(L->v, (size_t)L->cap * sizeof *L->v);
    }
    gline *g = &L->v[L->n++];
    g->file = xstrdup(file);
    g->field = xstrdup(field);
    g->group = xstrdup(group);
    g->value = value;
}

static void lines_add(glines *L, const char *file, const char *field, const char *group, const char *value, size_t n) {
    aca_buf b = {0};
    escape(&b, value, n);
    lines_take(L, file, field, group, b.data ? b.data : xstrdup(""));
}

// Drops the lines from n on.
static void lines_truncate(glines *L, int n) {
    for (int i = n; i < L->n; i++) free(L->v[i].file), free(L->v[i].field), free(L->v[i].group), free(L->v[i].value);
    L->n = n;
}

static void lines_free(glines *L) {
    lines_truncate(L, 0);
    free(L->v);
    memset(L, 0, sizeof *L);
}

// sha256 over "FIELD\tVALUE\n" of lines [lo, hi) of L whose group is group (NULL: all).
static void lines_sha(const glines *L, int lo, int hi, const char *group, char hex[65]) {
    aca_buf b = {0};
    for (int i = lo; i < hi; i++)
        if (!group || !strcmp(L->v[i].group, group)) buf_printf(&b, "%s\t%s\n", L->v[i].field, L->v[i].value);
    sha256_hex(b.data ? b.data : "", b.len, hex);
    buf_free(&b);
}

// ---- text normalisation ------------------------------------------------------------------------
// Every occurrence of the path from in b replaced by to: where it starts a token (after a quote, a space
// or the start) and ends one ('/', a quote, a space or the end), so OUT "out" leaves "layout" alone.
static int path_at(const char *base, const char *q, size_t nf) {
    char before = q > base ? q[-1] : ' ', after = q[nf];
    return strchr("\" \t\n", before) && strchr("/\" \t\n", after); // after may be the NUL: strchr finds it
}

static void replace_all(aca_buf *b, const char *from, const char *to) {
    size_t nf = strlen(from);
    if (!nf || !b->data || !strstr(b->data, from)) return;
    aca_buf r = {0};
    const char *p = b->data, *q = p;
    while ((q = strstr(q, from))) {
        if (!path_at(b->data, q, nf)) {
            q++;
            continue;
        }
        buf_append(&r, p, (size_t)(q - p));
        buf_puts(&r, to);
        p = q = q + nf;
    }
    buf_puts(&r, p);
    buf_free(b);
    *b = r;
}

// The value of every "aca_version": "..." becomes "REV".
static void replace_version(aca_buf *b) {
    static const char key[] = "\"aca_version\": \"";
    if (!b->data || !strstr(b->data, key)) return;
    aca_buf r = {0};
    const char *p = b->data, *q, *end;
    while ((q = strstr(p, key)) && (end = strchr(q + sizeof key - 1, '"'))) {
        buf_append(&r, p, (size_t)(q - p) + sizeof key - 1);
        buf_puts(&r, "REV");
        p = end;
    }
    buf_puts(&r, p);
    buf_free(b);
    *b = r;
}

static int file_normalised(const grid_dir *d, const char *rel, aca_buf *b, aca_err *e) {
    char *p = path_join(d->dir, rel);
    int rc = file_read_all(p, b, e);
    free(p);
    if (rc) return -1;
    if (strlen(b->data) != b->len) return aca_errf(e, ACA_ERR_FORMAT, "%s/%s: holds a NUL byte", d->dir, rel);
    replace_all(b, d->out_str, "OUT");
    replace_version(b);
    return 0;
}

static void text_lines(const char *rel, const char *s, glines *L) {
    int n = 0;
    char field[32];
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        snprintf(field, sizeof field, "L%d", ++n);
        lines_add(L, rel, field, "*", s, len);
        if (!nl) {
            lines_add(L, rel, "end", "*", "no final newline", 16);
            break;
        }
        s = nl + 1;
    }
}

// ---- JSON records, flattened with the text aca wrote -------------------------------------------
typedef struct {
    const char *s, *file;
    size_t i;
    aca_err *e;
} jscan;

static void ws(jscan *j) {
    while (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r') j->i++;
}

static int jfail(jscan *j, const char *what) {
    return aca_errf(j->e, ACA_ERR_FORMAT, "%s: byte %zu: %s", j->file, j->i, what);
}

static int skip_string(jscan *j) {
    if (j->s[j->i] != '"') return jfail(j, "expected a string");
    for (j->i++; j->s[j->i] && j->s[j->i] != '"'; j->i++)
        if (j->s[j->i] == '\\' && j->s[j->i + 1]) j->i++;
    if (!j->s[j->i]) return jfail(j, "unterminated string");
    j->i++;
    return 0;
}

static int skip_value(jscan *j, int *composite);

// Skips an object or array body after its opening bracket; sets *composite when an element is one.
static int skip_items(jscan *j, char close, int *composite) {
    ws(j);
    if (j->s[j->i] == close) return j->i++, 0;
    for (;;) {
        ws(j);
        if (close == '}' && (skip_string(j) || (ws(j), j->s[j->i++] != ':'))) return jfail(j, "expected \"key\":");
        int sub = 0;
        if (skip_value(j, &sub)) return -1;
        if (composite && sub) *composite = 1;
        ws(j);
        char c = j->s[j->i++];
        if (c == close) return 0;
        if (c != ',') return jfail(j, "expected ',' or a closing bracket");
    }
}

static int skip_value(jscan *j, int *composite) {
    ws(j);
    char c = j->s[j->i];
    if (c == '{' || c == '[') {
        if (composite) *composite = 1;
        j->i++;
        return skip_items(j, c == '{' ? '}' : ']', NULL);
    }
    if (c == '"') return skip_string(j);
    size_t at = j->i;
    while (j->s[j->i] && !strchr(",]} \t\r\n", j->s[j->i])) j->i++;
    return j->i == at ? jfail(j, "expected a value") : 0;
}

static int dropped(const char *path) {
    for (size_t k = 0; k < ACA_ARRAY_LEN(k_dropped); k++)
        if (!strcmp(path, k_dropped[k])) return 1;
    return 0;
}

// The group of a key path: its first component, or its first two when it has three or more.
static void path_group(const char *path, char *out, size_t n) {
    size_t cut[3], k = 0;
    for (size_t i = 0; path[i] && k < 3; i++)
        if (path[i] == '.' || path[i] == '[') cut[k++] = i;
    size_t len = k >= 2 ? cut[1] : k == 1 ? cut[0] : strlen(path);
    snprintf(out, n, "%.*s", (int)len, path);
}

static int flatten(jscan *j, aca_buf *path, const char *rel, glines *L);

static int flatten_members(jscan *j, aca_buf *path, const char *rel, glines *L, char close) {
    const size_t base = path->len;
    int k = 0;
    for (;; k++) {
        ws(j);
        if (close == '}') {
            size_t at = j->i;
            if (skip_string(j)) return -1;
            buf_printf(path, "%s%.*s", base ? "." : "", (int)(j->i - at - 2), j->s + at + 1);
            ws(j);
            if (j->s[j->i++] != ':') return jfail(j, "expected ':'");
        } else {
            buf_printf(path, "[%d]", k);
        }
        if (dropped(path->data) ? skip_value(j, NULL) : flatten(j, path, rel, L)) return -1;
        path->len = base, path->data[base] = 0;
        ws(j);
        char c = j->s[j->i++];
        if (c == close) return 0;
        if (c != ',') return jfail(j, "expected ',' or a closing bracket");
    }
}

// One value at path: a scalar, an array of scalars or an empty container is one line.
static int flatten(jscan *j, aca_buf *path, const char *rel, glines *L) {
    ws(j);
    const size_t at = j->i;
    int composite = 0;
    if (skip_value(j, &composite)) return -1;
    char c = j->s[at];
    size_t after = j->i;
    j->i = at + 1;
    ws(j);
    int empty = j->s[j->i] == (c == '{' ? '}' : ']');
    int leaf = !composite || empty;
    if (composite && c == '[' && !empty) { // an array of scalars stays one value
        int inner = 0;
        skip_items(j, ']', &inner);
        leaf = !inner;
        j->i = at + 1;
    }
    if (leaf) {
        char group[256];
        path_group(path->data ? path->data : "", group, sizeof group);
        lines_add(L, rel, path->data ? path->data : "", group, j->s + at, after - at);
        j->i = after;
        return 0;
    }
    return flatten_members(j, path, rel, L, c == '{' ? '}' : ']');
}

static int record_lines(const char *rel, const char *s, glines *L, aca_err *e) {
    jscan j = {s, rel, 0, e};
    aca_buf path = {0};
    buf_puts(&path, "");
    int rc = flatten(&j, &path, rel, L);
    if (!rc && (ws(&j), s[j.i])) rc = jfail(&j, "text after the record");
    buf_free(&path);
    return rc;
}

// results.jsonl: one sha256 per line, keyed by the cell id; "order": the ids in file order.
static int records_lines(const char *rel, const char *s, glines *L, aca_err *e) {
    aca_buf ids = {0}, line = {0};
    int rc = 0;
    for (int n = 1; *s && !rc; n++) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        buf_clear(&line);
        buf_append(&line, s, len);
        char where[64];
        snprintf(where, sizeof where, "%s line %d", rel, n);
        glines one = {0};
        rc = record_lines(where, line.data, &one, e);
        const char *id = one.n && !strcmp(one.v[0].field, "grid.cell") ? one.v[0].value : NULL;
        if (!rc && !id) rc = aca_errf(e, ACA_ERR_FORMAT, "%s: no grid.cell first", where);
        if (!rc) {
            char hex[65];
            lines_sha(&one, 0, one.n, NULL, hex);
            lines_add(L, rel, id, id, hex, 64);
            buf_printf(&ids, "%s\n", id);
        }
        lines_free(&one);
        s = nl ? nl + 1 : s + len;
    }
    char hex[65];
    sha256_hex(ids.data ? ids.data : "", ids.len, hex);
    if (!rc) lines_add(L, rel, "order", "order", hex, 64);
    buf_free(&ids), buf_free(&line);
    return rc;
}

// ---- a grid directory --------------------------------------------------------------------------
static int file_lines(const grid_dir *d, const char *rel, file_kind kind, glines *L, aca_err *e) {
    char *p = path_join(d->dir, rel);
    int exists = file_exists(p);
    free(p);
    if (!exists) return 0;
    aca_buf b = {0};
    int rc = file_normalised(d, rel, &b, e);
    const int lo = L->n;
    if (!rc && (kind == KIND_TEXT || kind == KIND_DIGEST)) {
        if (kind == KIND_DIGEST && strstr(rel, ".jsonl")) rc = records_lines(rel, b.data, L, e);
        else text_lines(rel, b.data, L);
    }
    if (!rc && kind == KIND_RECORD) rc = record_lines(rel, b.data, L, e);
    if (!rc && kind == KIND_RECORDS) rc = records_lines(rel, b.data, L, e);
    if (!rc && kind == KIND_DIGEST) {
        char hex[65];
        lines_sha(L, lo, L->n, NULL, hex);
        lines_truncate(L, lo);
        lines_add(L, rel, "sha256", "sha256", hex, 64);
    }
    buf_free(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The names in OUT/sub (sorted) that end with suffix ("" for any), skipping dot files.
static char **dir_names(const grid_dir *d, const char *sub, const char *suffix, int *n) {
    char *p = path_join(d->dir, sub);
    DIR *dp = opendir(p);
    free(p);
    char **v = NULL;
    *n = 0;
    for (struct dirent *de; dp && (de = readdir(dp));) {
        size_t ln = strlen(de->d_name), ls = strlen(suffix);
        if (de->d_name[0] == '.' || ln < ls || strcmp(de->d_name + ln - ls, suffix)) continue;
        v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
        v[(*n)++] = xstrdup(de->d_name);
    }
    if (dp) closedir(dp);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

// Every file of sub (sorted) ending with suffix, as one kind.
static int dir_lines(const grid_dir *d, const char *sub, const char *suffix, file_kind kind, glines *L, aca_err *e) {
    int n, rc = 0;
    char **names = dir_names(d, sub, suffix, &n);
    for (int i = 0; i < n; i++) {
        char *rel = path_join(sub, names[i]);
        if (!rc) rc = file_lines(d, rel, kind, L, e);
        free(rel), free(names[i]);
    }
    free(names);
    return rc;
}

static int cells_lines(const grid_dir *d, glines *L, aca_err *e) {
    static const char *const files[] = {"spec.json", "manifest.json", "result.json"};
    int n, rc = 0;
    char **ids = dir_names(d, "cells", "", &n);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < ACA_ARRAY_LEN(files) && !rc; k++) {
            char rel[1024];
            snprintf(rel, sizeof rel, "cells/%s/%s", ids[i], files[k]);
            rc = file_lines(d, rel, k == 2 ? KIND_RECORD : KIND_TEXT, L, e);
        }
        free(ids[i]);
    }
    free(ids);
    return rc;
}

static int bundle_lines(const grid_dir *d, glines *L, aca_err *e) {
    static const char *const files[] = {"bundle/grid.json", "bundle/classes.txt", "bundle/sha256.txt",
                                        "bundle/results.jsonl", "bundle/summary.csv"};
    int rc = 0;
    for (size_t k = 0; k < ACA_ARRAY_LEN(files) && !rc; k++) rc = file_lines(d, files[k], KIND_DIGEST, L, e);
    if (!rc) rc = dir_lines(d, "bundle/plots", ".dat", KIND_DIGEST, L, e);
    if (!rc) rc = dir_lines(d, "bundle/manifests", ".json", KIND_DIGEST, L, e);
    return rc;
}

// OUT as aca wrote it: the synthetic corpus's path in inputs.json, less "/corpus.txt".
static char *grid_out_str(const char *dir, aca_err *e) {
    char *p = path_join(dir, "inputs.json");
    aca_buf b = {0};
    int rc = file_read_all(p, &b, e);
    cJSON *root = rc ? NULL : cJSON_Parse(b.data);
    char *out = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "inputs")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role"), *path = cJSON_GetObjectItemCaseSensitive(it, "path");
        size_t n = cJSON_IsString(path) ? strlen(path->valuestring) : 0;
        if (cJSON_IsString(role) && !strcmp(role->valuestring, "corpus") && n > 11 &&
            !strcmp(path->valuestring + n - 11, "/corpus.txt"))
            out = xstrdup(path->valuestring), out[n - 11] = 0;
    }
    if (!rc && !out) aca_errf(e, ACA_ERR_FORMAT, "%s: no synthetic corpus path (OUT/corpus.txt) among the inputs", p);
    cJSON_Delete(root);
    buf_free(&b);
    free(p);
    return out;
}

static int grid_lines(const char *dir, glines *L, aca_err *e) {
    char *out_str = grid_out_str(dir, e);
    if (!out_str) return -1;
    grid_dir d = {dir, out_str};
    int rc = file_lines(&d, "inputs.json", KIND_TEXT, L, e) || file_lines(&d, "grid.json", KIND_TEXT, L, e) ||
             cells_lines(&d, L, e) || file_lines(&d, "results.jsonl", KIND_RECORDS, L, e) ||
             file_lines(&d, "summary.csv", KIND_TEXT, L, e) || dir_lines(&d, "plots", ".dat", KIND_TEXT, L, e) ||
             bundle_lines(&d, L, e);
    free(out_str);
    return rc ? -1 : 0;
}

// Each file's lines replaced by one sha256 per group, in the order groups first appear.
static void lines_digest(const glines *in, glines *out) {
    for (int lo = 0, hi; lo < in->n; lo = hi) {
        for (hi = lo; hi < in->n && !strcmp(in->v[hi].file, in->v[lo].file);) hi++;
        for (int i = lo; i < hi; i++) {
            int seen = 0;
            for (int k = lo; k < i && !seen; k++) seen = !strcmp(in->v[k].group, in->v[i].group);
            if (seen) continue;
            if (!strcmp(in->v[i].group, in->v[i].field)) { // a digest already (records, bundle files)
                lines_take(out, in->v[i].file, in->v[i].field, in->v[i].group, xstrdup(in->v[i].value));
                continue;
            }
            char hex[65], field[300];
            lines_sha(in, lo, hi, in->v[i].group, hex);
            snprintf(field, sizeof field, "{%s}", in->v[i].group);
            lines_add(out, in->v[i].file, field, field, hex, 64);
        }
    }
}

// ---- the golden file ---------------------------------------------------------------------------
// The lines of GOLDEN labelled label; *digest from its header.  After "= LABEL<tab>FILE", each line
// is FIELD<tab>VALUE of that file.
static int golden_read(const char *path, const char *label, glines *L, int *digest, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(path, &b, e)) return -1;
    int rc = 0, n = 0;
    if (!strncmp(b.data, "# aca golden 1 full\n", 20)) *digest = 0;
    else if (!strncmp(b.data, "# aca golden 1 digest\n", 22)) *digest = 1;
    else rc = aca_errf(e, ACA_ERR_FORMAT, "%s:1: not '# aca golden 1 full' or '# aca golden 1 digest'", path);
    const char *file = NULL;
    int mine = 0;
    for (char *s = b.data, *nl; !rc && s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = 0;
        n++;
        char *tab = strchr(s, '\t');
        if (*s == '#') continue;
        if (!tab) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s:%d: not '= LABEL<tab>FILE' or FIELD<tab>VALUE", path, n);
        } else if (!strncmp(s, "= ", 2)) {
            *tab = 0;
            mine = !strcmp(s + 2, label);
            file = tab + 1;
        } else if (!file) {
            rc = aca_errf(e, ACA_ERR_FORMAT, "%s:%d: a field before the first '= LABEL<tab>FILE'", path, n);
        } else if (mine) {
            *tab = 0;
            lines_take(L, file, s, s, xstrdup(tab + 1)); // already escaped
        }
    }
    buf_free(&b);
    return rc;
}

typedef struct {
    const char *label;
    int partial, diffs, compared;
    const glines *actual_full; // the actual lines before digesting (shown beside a digest difference)
} cmp_ctx;

// v, or when long a window of it around byte at ("..." where cut).
static void show_value(const char *v, size_t at) {
    size_t n = strlen(v), lo = at > 50 ? at - 50 : 0, hi = lo + 120 < n ? lo + 120 : n;
    if (n <= 120) lo = 0, hi = n;
    printf("%s%.*s%s", lo ? "..." : "", (int)(hi - lo), v + lo, hi < n ? "..." : "");
}

#define MAX_REPORTED 40

static void show_group(const cmp_ctx *c, const char *file, const char *group) {
    if (!c->actual_full) return;
    int shown = 0;
    for (int i = 0; i < c->actual_full->n && shown < 40; i++) {
        const gline *g = &c->actual_full->v[i];
        char want[300];
        snprintf(want, sizeof want, "{%s}", g->group);
        if (!strcmp(g->file, file) && !strcmp(want, group)) {
            printf("      now %s = ", g->field);
            show_value(g->value, 0);
            printf("\n");
            shown++;
        }
    }
}

static void report(cmp_ctx *c, const char *file, const char *field, const char *want, const char *got) {
    if (++c->diffs > MAX_REPORTED) return;
    size_t at = 0;
    while (want && got && want[at] && want[at] == got[at]) at++;
    printf("%s: %s: %s: golden ", c->label, file, field);
    show_value(want ? want : "(absent)", want ? at : 0);
    printf("\n%*s got ", (int)(strlen(c->label) + strlen(file) + strlen(field) + 6), "");
    show_value(got ? got : "(absent)", got ? at : 0);
    if (want && got && strlen(want) > 120) printf("  (first difference at byte %zu)", at);
    printf("\n");
    if (got && want && field[0] == '{') show_group(c, file, field);
}

static int has_file(const glines *L, const char *file) {
    for (int i = 0; i < L->n; i++)
        if (!strcmp(L->v[i].file, file)) return 1;
    return 0;
}

static const gline *find(const glines *L, const char *file, const char *field) {
    for (int i = 0; i < L->n; i++)
        if (!strcmp(L->v[i].file, file) && !strcmp(L->v[i].field, field)) return &L->v[i];
    return NULL;
}

// The fields of one file: values by field name, then their order.
static void compare_file(cmp_ctx *c, const glines *G, const glines *A, const char *file) {
    const int skip_missing = c->partial && !strcmp(file, "results.jsonl");
    int before = c->diffs;
    aca_buf go = {0}, ao = {0};
    for (int i = 0; i < G->n; i++) {
        if (strcmp(G->v[i].file, file)) continue;
        const gline *a = find(A, file, G->v[i].field);
        if (skip_missing && (!a || !strcmp(G->v[i].field, "order"))) continue;
        c->compared++;
        if (!a || strcmp(a->value, G->v[i].value)) report(c, file, G->v[i].field, G->v[i].value, a ? a->value : NULL);
        buf_printf(&go, "%s\n", G->v[i].field);
    }
    for (int i = 0; i < A->n; i++) {
        if (strcmp(A->v[i].file, file)) continue;
        const gline *g = find(G, file, A->v[i].field);
        if (!g) report(c, file, A->v[i].field, NULL, A->v[i].value);
        else buf_printf(&ao, "%s\n", A->v[i].field);
    }
    if (c->diffs == before && !skip_missing && (go.len != ao.len || (go.len && memcmp(go.data, ao.data, go.len))))
        report(c, file, "(field order)", "as in the golden", "another order");
    buf_free(&go), buf_free(&ao);
}

static int compare(cmp_ctx *c, const glines *G, const glines *A) {
    for (int i = 0; i < G->n; i++) {
        if (i && !strcmp(G->v[i].file, G->v[i - 1].file)) continue;
        if (has_file(A, G->v[i].file)) compare_file(c, G, A, G->v[i].file);
        else if (!c->partial) report(c, G->v[i].file, "(file)", "present", NULL);
    }
    for (int i = 0; i < A->n; i++)
        if ((!i || strcmp(A->v[i].file, A->v[i - 1].file)) && !has_file(G, A->v[i].file))
            report(c, A->v[i].file, "(file)", NULL, "present");
    if (c->diffs > MAX_REPORTED) printf("%s: ... (the first %d shown)\n", c->label, MAX_REPORTED);
    if (!c->diffs && !c->compared) {
        printf("%s: nothing compared (no file of the golden in OUT)\n", c->label);
        return 1;
    }
    if (c->diffs) printf("%s: %d difference%s from the golden\n", c->label, c->diffs, c->diffs == 1 ? "" : "s");
    else printf("%s: identical to the golden (%d fields)\n", c->label, c->compared);
    return c->diffs ? 1 : 0;
}

// ---- command line ------------------------------------------------------------------------------
static int usage(void) {
    fprintf(stderr, "usage: golden dump [--digest] LABEL OUT\n       golden compare [--partial] GOLDEN LABEL OUT\n");
    return 2;
}

static int cmd_dump(int digest, const char *label, const char *dir) {
    glines L = {0}, D = {0};
    aca_err e = {0};
    if (grid_lines(dir, &L, &e)) {
        fprintf(stderr, "golden: %s\n", e.msg);
        return 2;
    }
    if (digest) lines_digest(&L, &D);
    const glines *P = digest ? &D : &L;
    for (int i = 0; i < P->n; i++) {
        if (!i || strcmp(P->v[i].file, P->v[i - 1].file)) printf("= %s\t%s\n", label, P->v[i].file);
        printf("%s\t%s\n", P->v[i].field, P->v[i].value);
    }
    lines_free(&L), lines_free(&D);
    return 0;
}

static int cmd_compare(int partial, const char *golden, const char *label, const char *dir) {
    glines G = {0}, L = {0}, D = {0};
    aca_err e = {0};
    int digest = 0;
    if (golden_read(golden, label, &G, &digest, &e) || grid_lines(dir, &L, &e)) {
        fprintf(stderr, "golden: %s\n", e.msg);
        return 2;
    }
    if (!G.n) {
        fprintf(stderr, "golden: %s holds no line labelled %s\n", golden, label);
        return 2;
    }
    if (digest) lines_digest(&L, &D);
    cmp_ctx c = {label, partial, 0, 0, digest ? &L : NULL};
    int rc = compare(&c, &G, digest ? &D : &L);
    lines_free(&G), lines_free(&L), lines_free(&D);
    return rc;
}

int main(int argc, char **argv) {
    int flag = argc > 2 && (!strcmp(argv[2], "--digest") || !strcmp(argv[2], "--partial"));
    if (argc == 4 + flag && !strcmp(argv[1], "dump") && (!flag || !strcmp(argv[2], "--digest")))
        return cmd_dump(flag, argv[2 + flag], argv[3 + flag]);
    if (argc == 5 + flag && !strcmp(argv[1], "compare") && (!flag || !strcmp(argv[2], "--partial")))
        return cmd_compare(flag, argv[2 + flag], argv[3 + flag], argv[4 + flag]);
    return usage();
}
