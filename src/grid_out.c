// A grid's output directory: what may be written there and by whom (locks), what its finished cells
// were computed from (OUT/inputs.json and each cell's definition), and OUT/results.jsonl, derived
// from the cells.  See include/aca/grid.h, "The output directory".
#include "grid_internal.h"

#include "aca/outdir.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/jsonw.h"
#include "aca/mutate.h"

#define RECORD_FORMAT "aca grid inputs 1"

// ---- the record of the inputs (OUT/inputs.json) ------------------------------------------------
// A synthetic corpus's settings: {"docs": N, "seed": S, "char_rates": {"U+007B": 0.0008, ...}}.
static void synth_json(const aca_grid_spec *g, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kint(w, "docs", g->synth_docs);
    jsonw_kuint(w, "seed", g->synth_seed);
    jsonw_key(w, "char_rates");
    jsonw_obj(w);
    for (int k = 0; k < g->synth_opts.n; k++) {
        char cp[16];
        snprintf(cp, sizeof cp, "U+%04X", (unsigned)g->synth_opts.cp[k]);
        jsonw_key(w, cp), jsonw_num_exact(w, g->synth_opts.rate[k]);
    }
    jsonw_end(w);
    jsonw_end(w);
}

static void synth_text(const aca_grid_spec *g, aca_buf *b) {
    aca_jsonw w;
    jsonw_init(&w, b);
    jsonw_spaced(&w);
    synth_json(g, &w);
}

static void record_json(const aca_grid_spec *g, const aca_grid_inputs *in, aca_buf *b) {
    aca_jsonw w;
    jsonw_init(&w, b);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_kstr(&w, "format", RECORD_FORMAT);
    jsonw_newline(&w, 1);
    jsonw_key(&w, "inputs");
    jsonw_arr(&w);
    for (int k = 0; k < in->n; k++) {
        const aca_grid_input *x = &in->v[k];
        jsonw_newline(&w, 2);
        jsonw_obj(&w);
        jsonw_kstr(&w, "role", x->role);
        jsonw_kstr(&w, "field", x->field);
        jsonw_kstr(&w, "path", x->path);
        jsonw_kstr(&w, "sha256", x->sha256);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    if (!g->corpus_path) {
        jsonw_newline(&w, 1);
        jsonw_key(&w, "synthetic");
        synth_json(g, &w);
    }
    jsonw_end(&w);
    buf_putc(b, '\n');
}

// OUT/inputs.json parsed (*rec NULL when absent).
static int record_read(const char *out_dir, cJSON **rec, aca_err *e) {
    char *p = path_join(out_dir, "inputs.json");
    aca_buf b = {0};
    int rc = 0;
    *rec = NULL;
    if (file_exists(p) && !(rc = file_read_all(p, &b, e))) {
        *rec = cJSON_Parse(b.data);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(*rec, "format");
        if (!cJSON_IsString(f) || strcmp(f->valuestring, RECORD_FORMAT) ||
            !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*rec, "inputs"))) {
            cJSON_Delete(*rec);
            *rec = NULL;
            rc = aca_errf(e, ACA_ERR_FORMAT,
                          "%s: not a record of a grid's inputs written by this aca (damaged, or from another program): "
                          "run the grid with a new --out",
                          p);
        }
    }
    buf_free(&b);
    free(p);
    return rc;
}

// The synthetic corpus settings of the record against the spec's.
static int record_check_synthetic(const aca_grid_spec *g, const char *out_dir, const cJSON *rec, aca_err *e) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, "synthetic");
    if (!s && g->corpus_path) return 0;
    aca_buf now = {0};
    char *was = s ? cJSON_PrintUnformatted(s) : NULL, *want = NULL;
    if (!g->corpus_path) {
        synth_text(g, &now);
        cJSON *n = cJSON_Parse(now.data);
        want = cJSON_PrintUnformatted(n);
        cJSON_Delete(n);
    }
    int rc = 0;
    if (!was || !want || strcmp(was, want))
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: %s: %s started with %s%s; the spec now asks for %s%s.  Its finished cells would mix with cells "
                      "of another corpus: undo the change, or run the changed grid with a new --out",
                      g->path, g->corpus_path ? "corpus.path" : "corpus", out_dir, was ? "a synthetic corpus " : "the corpus file",
                      was ? was : "of \"path\"", want ? "a synthetic corpus " : "the corpus file ",
                      want ? want : g->corpus_path);
    cJSON_free(was), cJSON_free(want);
    buf_free(&now);
    return rc;
}

// 0 when every input of the record has the same role and hash now; else the first difference.
static int record_check_hashes(const aca_grid_spec *g, const char *out_dir, const cJSON *rec, const aca_grid_inputs *in,
                               aca_err *e) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "inputs"), *x;
    int n_rec = 0;
    cJSON_ArrayForEach(x, arr) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role"), *path = cJSON_GetObjectItemCaseSensitive(x, "path");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(x, "sha256");
        if (!cJSON_IsString(role) || !cJSON_IsString(path) || !cJSON_IsString(sha))
            return aca_errf(e, ACA_ERR_FORMAT, "%s/inputs.json: inputs[%d]: damaged record: run the grid with a new --out",
                            out_dir, n_rec);
        n_rec++;
        const aca_grid_input *now = grid_input_of(in, role->valuestring);
        if (!now)
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: model: %s started with a %s (%s); the spec now names no such file (a checkpoint and a "
                            "random-init config are different models): undo the change, or run the changed grid with a "
                            "new --out",
                            g->path, out_dir, role->valuestring, path->valuestring);
        if (strcmp(now->sha256, sha->valuestring))
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: %s: the %s changed since this grid started in %s: %s had sha256 %s; %s now has sha256 %s.  "
                            "Its finished cells came from the old file and would mix with cells of the new one: restore "
                            "the old file, or run the changed grid with a new --out",
                            g->path, now->field, now->role, out_dir, path->valuestring, sha->valuestring, now->path,
                            now->sha256);
    }
    if (n_rec != in->n)
        for (int k = 0; k < in->n; k++) {
            int found = 0;
            cJSON_ArrayForEach(x, arr) {
                const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
                found |= !strcmp(role->valuestring, in->v[k].role);
            }
            if (!found)
                return aca_errf(e, ACA_ERR_VALUE,
                                "%s: %s: %s started without a %s; the spec now names %s (another model): undo the change, "
                                "or run the changed grid with a new --out",
                                g->path, in->v[k].field, out_dir, in->v[k].role, in->v[k].path);
        }
    return 0;
}

// ---- the directory -----------------------------------------------------------------------------
// 1 when OUT is missing or empty, 0 when it holds something, -1 (e filled) when it is not a directory.
static int dir_is_empty(const char *dir, aca_err *e) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 1;
        return aca_errf(e, ACA_ERR_IO, "%s: cannot use as the grid's output directory: %s", dir, strerror(errno));
    }
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d))) empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

int grid_out_is_grid(const char *out_dir, aca_err *e) {
    static const char *const marks[] = {"inputs.json", "grid.json", "cells"};
    int empty = dir_is_empty(out_dir, e);
    if (empty) return empty < 0 ? -1 : 0;
    if (outdir_is(out_dir, "grid")) return 0; // marked by `aca grid` (outdir.h) before its first file
    for (size_t k = 0; k < ACA_ARRAY_LEN(marks); k++) {
        char *p = path_join(out_dir, marks[k]);
        int have = file_exists(p);
        free(p);
        if (have) return 0;
    }
    return aca_errf(e, ACA_ERR_VALUE,
                    "%s is not empty and holds no aca grid (no inputs.json, grid.json or cells/): a grid writes only into "
                    "a new or empty directory or one of its own, so that nothing else there is overwritten: give another "
                    "--out",
                    out_dir);
}

// A synthetic corpus is written once to OUT/corpus.txt; one already there must be that very corpus.
static int synth_corpus(const aca_grid_spec *g, const char *out_dir, int have_record, aca_err *e) {
    if (g->corpus_path) return 0;
    char *p = path_join(out_dir, "corpus.txt");
    int exists = file_exists(p), rc = 0;
    if (!exists || !have_record) { // with a record, the hash check below compares it
        aca_buf b = {0};
        corpus_synth_text_opts(&b, (size_t)g->synth_docs, g->synth_seed, &g->synth_opts);
        char want[65], have[65];
        sha256_hex(b.data, b.len, want);
        if (!exists) rc = file_write_atomic(p, b.data, b.len, e);
        else if (!(rc = sha256_file_hex(p, have, e)) && strcmp(want, have))
            rc = aca_errf(e, ACA_ERR_VALUE,
                          "%s: corpus.synthetic: %s is not the synthetic corpus of %ld documents (seed %llu) that the spec "
                          "asks for (written for other settings or by another aca, or edited): run the grid with a new --out",
                          g->path, p, g->synth_docs, (unsigned long long)g->synth_seed);
        buf_free(&b);
    }
    free(p);
    return rc;
}

// Before the record existed (an older aca), OUT/grid.json had to be the very spec.
static int legacy_spec_check(const aca_grid_spec *g, const char *out_dir, aca_err *e) {
    char *p = path_join(out_dir, "grid.json");
    aca_buf mine = {0}, theirs = {0};
    int rc = 0;
    if (file_exists(p) && !(rc = file_read_all(g->path, &mine, e)) && !(rc = file_read_all(p, &theirs, e)) &&
        (theirs.len != mine.len || memcmp(theirs.data, mine.data, mine.len)))
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s holds the results of another grid spec than %s (%s differs) and no record of its inputs: use "
                      "another --out",
                      out_dir, g->path, p);
    buf_free(&mine), buf_free(&theirs);
    free(p);
    return rc;
}

// ---- cells -------------------------------------------------------------------------------------
char *grid_cell_path(const char *out_dir, const aca_grid_cell *c, const char *file) {
    char *cells = path_join(out_dir, "cells");
    char *d = path_join(cells, c->id);
    free(cells);
    if (!file) return d;
    char *p = path_join(d, file);
    free(d);
    return p;
}

cJSON *grid_cell_result(const char *out_dir, const aca_grid_cell *c, aca_buf *text) {
    char *p = grid_cell_path(out_dir, c, "result.json");
    aca_buf b = {0};
    aca_err e = {0};
    cJSON *root = NULL;
    if (file_exists(p) && !file_read_all(p, &b, &e)) root = cJSON_Parse(b.data);
    free(p);
    const cJSON *gr = cJSON_GetObjectItemCaseSensitive(root, "grid");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(gr, "cell");
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "result"), "metrics");
    if (root && (!cJSON_IsString(id) || strcmp(id->valuestring, c->id) || !cJSON_IsObject(met))) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (root && text) {
        *text = b;
        b = (aca_buf){0};
    }
    buf_free(&b);
    return root;
}

int grid_cell_done(const char *out_dir, const aca_grid_cell *c) {
    cJSON *r = grid_cell_result(out_dir, c, NULL);
    cJSON_Delete(r);
    return r != NULL;
}

// ---- a cell's definition -----------------------------------------------------------------------
// DP-SGD of the cell's variant (null: none).
static void dp_json(const aca_grid_spec *g, int ei, aca_jsonw *w) {
    if (g->eps[ei] < 0) {
        jsonw_null(w);
        return;
    }
    jsonw_obj(w);
    jsonw_key(w, "epsilon"), jsonw_num_exact(w, g->eps[ei]);
    run_opts_write_json(&g->run, RUN_OPT_DEFINITION, "dp", w); // delta, clip, sampling, freeze_embeddings
    jsonw_end(w);
}

// The collectives as mutate sees them: every field normalized (defaults filled in), sizes of this cell.
static void mutation_json(const aca_grid_spec *g, const aca_grid_cell *c, aca_jsonw *w) {
    aca_buf sj = {0}, norm = {0};
    grid_cell_spec_json(g, c, &sj);
    aca_spec sp;
    aca_err e = {0};
    if (!spec_parse(sj.data, g->path, &sp, &e)) {
        spec_write_json(&norm, &sp);
        spec_free(&sp);
        jsonw_raw(w, norm.data);
    } else {
        jsonw_raw(w, sj.data);
    }
    buf_free(&sj), buf_free(&norm);
}

void grid_cell_definition(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *c, aca_buf *b) {
    int pi, hi, ei;
    grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    aca_jsonw w;
    jsonw_init(&w, b);
    jsonw_obj(&w);
    jsonw_key(&w, "seed"), jsonw_num_exact(&w, (double)g->seed);
    jsonw_kint(&w, "trial", c->trial);
    jsonw_kstr(&w, "kind", grid_kind_json(c->kind));
    jsonw_key(&w, "inputs");
    jsonw_obj(&w);
    for (int k = 0; k < in->n; k++) jsonw_kstr(&w, in->v[k].role, in->v[k].sha256);
    jsonw_end(&w);
    jsonw_key(&w, "corpus");
    jsonw_obj(&w);
    jsonw_kstr(&w, "encoding", g->encoding ? g->encoding : "auto");
    jsonw_end(&w);
    static const char *const sections[] = {"split", "train"}; // then device, precision, attention
    for (size_t k = 0; k < ACA_ARRAY_LEN(sections); k++) {
        jsonw_key(&w, sections[k]);
        jsonw_obj(&w);
        run_opts_write_json(&g->run, RUN_OPT_DEFINITION, sections[k], &w);
        jsonw_end(&w);
    }
    run_opts_write_json(&g->run, RUN_OPT_DEFINITION, "", &w);
    jsonw_key(&w, "dp");
    dp_json(g, ei, &w);
    jsonw_key(&w, "acting");
    grid_acting_json(g, c->acting, &w);
    jsonw_key(&w, "mutation");
    mutation_json(g, c, &w);
    jsonw_end(&w);
}

// The first difference between the recorded definition a and the current b, as a path ("train.lr",
// "mutation.collectives[1].size").
static int json_diff(const cJSON *a, const cJSON *b, aca_buf *path, const cJSON **da, const cJSON **db) {
    *da = a, *db = b;
    if (!a || !b || (a->type & 0xFF) != (b->type & 0xFF)) return 1;
    if (cJSON_IsNumber(a)) return a->valuedouble != b->valuedouble;
    if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) != 0;
    const size_t at = path->len;
    if (cJSON_IsArray(a)) {
        int n = cJSON_GetArraySize(a);
        if (n != cJSON_GetArraySize(b)) return 1;
        for (int i = 0; i < n; i++) {
            buf_printf(path, "[%d]", i);
            if (json_diff(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), path, da, db)) return 1;
            path->len = at, path->data[at] = 0;
        }
        return 0;
    }
    if (cJSON_IsObject(a)) { // a setting the recorded definition does not name (an older aca) is not compared ...
        const cJSON *x;
        cJSON_ArrayForEach(x, a) {
            buf_printf(path, "%s%s", at ? "." : "", x->string);
            if (json_diff(x, cJSON_GetObjectItemCaseSensitive(b, x->string), path, da, db)) return 1;
            path->len = at, path->data[at] = 0;
        }
        cJSON_ArrayForEach(x, b) { // ... unless its absence means its default (run.h, RUN_OPT_IF_SET)
            if (cJSON_GetObjectItemCaseSensitive(a, x->string)) continue;
            buf_printf(path, "%s%s", at ? "." : "", x->string);
            const aca_run_opt *o = run_opt_find_path(path->data);
            if (o && (o->use & RUN_OPT_IF_SET)) return *da = NULL, *db = x, 1;
            path->len = at, path->data[at] = 0;
        }
        return 0;
    }
    return 0; // true, false, null: same type
}

// The GRID.json field behind a path of the definition.
static void definition_field(const aca_grid_spec *g, const aca_grid_inputs *in, const char *path, aca_buf *f) {
    if (!strncmp(path, "inputs.", 7)) { // the file of that role
        const aca_grid_input *x = grid_input_of(in, path + 7);
        buf_printf(f, "%s (%s)", x ? x->field : "model", path + 7);
        return;
    }
    int i = -1;
    char rest[64] = "";
    if (!strncmp(path, "mutation.", 9)) {
        const char *m = path + 9;
        if (sscanf(m, "collectives[%d].%63[a-z_]", &i, rest) >= 1 && i >= 0 && i < g->n_coll) {
            const aca_grid_coll *k = &g->coll[i];
            if (!strcmp(rest, "size")) buf_printf(f, "collectives[%d].%s", i, k->is_count ? "counts" : "levels");
            else if (!strcmp(rest, "period") && !k->has_period) buf_puts(f, "period");
            else if (!strcmp(rest, "sampling") && !k->has_sampling) buf_puts(f, "homogeneity");
            else buf_printf(f, "collectives[%d]%s%s", i, *rest ? "." : "", rest);
            return;
        }
        buf_puts(f, strncmp(m, "collectives", 11) ? m : "collectives");
        return;
    }
    if (!strncmp(path, "trial", 5) || !strncmp(path, "kind", 4) || !strncmp(path, "acting", 6)) {
        buf_puts(f, "collectives");
        return;
    }
    buf_puts(f, path);
}

// The value at the definition's path; where it is absent, the default of a run option written only
// when set (RUN_OPT_IF_SET), else "nothing".
static void value_text(const cJSON *v, const char *path, char *out, size_t n) {
    const aca_run_opt *o = v ? NULL : run_opt_find_path(path);
    aca_buf d = {0};
    if (o && (o->use & RUN_OPT_IF_SET)) {
        aca_run_setup s;
        aca_jsonw w;
        run_setup_default(&s);
        jsonw_init(&w, &d);
        run_opt_write_value(o, &s, RUN_OPT_DEFINITION, &w);
    }
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    snprintf(out, n, "%s", s ? s : d.data ? d.data : "nothing");
    if (s && strlen(s) >= n && n > 4) memcpy(out + n - 4, "...", 4);
    cJSON_free(s);
    buf_free(&d);
}

// 0 when cell c's result (root) was computed under its current definition; cells of an older aca
// carry no definition (*legacy counts them).
static int definition_check(const aca_grid_spec *g, const aca_grid_inputs *in, const char *out_dir,
                            const aca_grid_cell *c, const cJSON *root, int *legacy, aca_err *e) {
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "grid"), "definition");
    if (!was) {
        (*legacy)++;
        return 0;
    }
    aca_buf b = {0}, path = {0}, field = {0};
    grid_cell_definition(g, in, c, &b);
    cJSON *now = cJSON_Parse(b.data);
    const cJSON *da, *db;
    buf_puts(&path, "");
    int rc = 0;
    if (json_diff(was, now, &path, &da, &db)) {
        definition_field(g, in, path.data, &field);
        char v1[200], v2[200];
        value_text(da, path.data, v1, sizeof v1);
        value_text(db, path.data, v2, sizeof v2);
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: %s: changed since cell %d (%s) finished in %s: it was computed with %s = %s, the grid now "
                      "gives %s.  Results of the old and the new setting would mix: undo the change, or run the changed "
                      "grid with a new --out",
                      g->path, field.data, c->index, c->id, out_dir, path.data, v1, v2);
    }
    cJSON_Delete(now);
    buf_free(&b), buf_free(&path), buf_free(&field);
    return rc;
}

// ---- checking and claiming the directory --------------------------------------------------------
static int any_done(const char *out_dir, const aca_grid_cell *cells, int n) {
    for (int k = 0; k < n; k++)
        if (grid_cell_done(out_dir, &cells[k])) return 1;
    return 0;
}

int grid_out_check(const aca_grid_spec *g, const char *out_dir, const aca_grid_cell *cells, int n, int lo, int hi,
                   aca_grid_out_mode mode, aca_err *e) {
    cJSON *rec = NULL;
    const aca_grid_inputs *in = NULL;
    int rc = record_read(out_dir, &rec, e), legacy = 0;
    if (!rc && !rec) rc = legacy_spec_check(g, out_dir, e);
    if (!rc && rec) rc = record_check_synthetic(g, out_dir, rec, e);
    if (!rc && mode != GRID_OUT_REPORT) rc = synth_corpus(g, out_dir, rec != NULL, e);
    // What finished here must have come from the inputs the spec names now.
    cJSON **roots = xcalloc((size_t)(hi - lo) + 1, sizeof *roots);
    int need = mode != GRID_OUT_REPORT || rec;
    for (int k = lo; !rc && k < hi; k++) {
        roots[k - lo] = grid_cell_result(out_dir, &cells[k], NULL);
        need |= cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(roots[k - lo], "grid"), "definition") != NULL;
    }
    if (!rc && need) rc = grid_inputs(g, out_dir, &in, e);
    if (!rc && rec && record_check_hashes(g, out_dir, rec, in, e)) {
        // Nothing finished yet (and nobody else runs cells here): the new inputs are simply recorded.
        if (mode == GRID_OUT_RUN && !any_done(out_dir, cells, n))
            log_info("%s: the inputs changed since the grid started there, but no cell had finished: the new ones are "
                     "recorded", out_dir);
        else rc = -1;
    }
    for (int k = lo; !rc && k < hi; k++)
        if (roots[k - lo]) rc = definition_check(g, in, out_dir, &cells[k], roots[k - lo], &legacy, e);
    if (!rc && legacy)
        log_warn("%s: %d finished cell%s written by an older aca carry no record of their inputs: they are taken as they are",
                 out_dir, legacy, legacy == 1 ? "" : "s");
    for (int k = lo; k < hi; k++) cJSON_Delete(roots[k - lo]);
    free(roots);
    cJSON_Delete(rec);
    return rc ? -1 : 0;
}

// Writes path only when it does not exist yet (a concurrent writer's file wins): 1 when it existed.
static int write_new(const char *path, const aca_buf *b, aca_err *e) {
    size_t n = strlen(path) + 40;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int rc = file_write_atomic(tmp, b->data, b->len, e);
    if (!rc && link(tmp, path) != 0) {
        if (errno == EEXIST) rc = 1;
        else if (errno != EPERM && errno != ENOTSUP && errno != ENOSYS) // a file system without hard links:
            rc = aca_errf(e, ACA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        else if (rename(tmp, path) != 0) // then the last of two simultaneous first runs wins
            rc = aca_errf(e, ACA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    unlink(tmp);
    free(tmp);
    return rc;
}

// 1 when path holds exactly b.
static int same_bytes(const char *path, const aca_buf *b) {
    aca_buf have = {0};
    int same = !file_read_all(path, &have, NULL) && have.len == b->len && !memcmp(have.data, b->data, b->len);
    buf_free(&have);
    return same;
}

int grid_out_commit(const aca_grid_spec *g, const char *out_dir, aca_grid_out_mode mode, aca_err *e) {
    const aca_grid_inputs *in;
    if (mode == GRID_OUT_REPORT) return 0;
    if (grid_inputs(g, out_dir, &in, e)) return -1;
    char *rp = path_join(out_dir, "inputs.json"), *sp = path_join(out_dir, "grid.json");
    aca_buf want = {0}, spec = {0};
    record_json(g, in, &want);
    int rc = file_read_all(g->path, &spec, e);
    // The record first: from then on the directory is known to be this grid's, whatever grid.json holds.
    if (!rc && !file_exists(rp)) {
        rc = write_new(rp, &want, e);
        if (rc > 0) { // another --cell run recorded them first: they must be the same
            cJSON *rec = NULL;
            rc = record_read(out_dir, &rec, e) || record_check_hashes(g, out_dir, rec, in, e) ? -1 : 0;
            cJSON_Delete(rec);
        }
    } else if (!rc && mode == GRID_OUT_RUN && !same_bytes(rp, &want)) {
        rc = file_write_atomic(rp, want.data, want.len, e); // new paths of the same files, or new inputs before any cell
    }
    // OUT/grid.json: the spec last run there (documentation: each cell carries its own definition).
    if (!rc && !same_bytes(sp, &spec)) rc = file_write_atomic(sp, spec.data, spec.len, e);
    buf_free(&want), buf_free(&spec);
    free(rp), free(sp);
    return rc;
}

// ---- messages ----------------------------------------------------------------------------------
// The command-line options that library messages name, and the GRID.json fields that set them.
static const struct {
    const char *flag, *field;
} FLAG_FIELDS[] = {
    {"--split", "split"},           {"--max-len", "train.max_len"},   {"--lr", "train.lr"},
    {"--batch", "train.batch"},     {"--epochs", "train.epochs"},     {"--eval-batch", "train.eval_batch"},
    {"--vocab", "model.vocab"},     {"--config", "model.config"},     {"--model", "model.dir"},
    {"--device", "device"},         {"--precision", "precision"},     {"--encoding", "corpus.encoding"},
    {"--dp-epsilon", "dp.epsilon"}, {"--dp-delta", "dp.delta"},       {"--dp-clip", "dp.clip"},
    {"--dp-sampling", "dp.sampling"}, {"--dp-sigma", "dp.epsilon"},   {"--seed", "seed"},
};

void grid_err_fields(const aca_grid_spec *g, aca_err *e) {
    aca_buf b = {0};
    const char *s = e->msg;
    int changed = 0;
    while (*s) {
        size_t best = 0, k_best = 0;
        if (s[0] == '-' && s[1] == '-' && (s == e->msg || (s[-1] != '-' && s[-1] != '_')))
            for (size_t k = 0; k < ACA_ARRAY_LEN(FLAG_FIELDS); k++) {
                size_t n = strlen(FLAG_FIELDS[k].flag);
                char next = s[n];
                if (n > best && !strncmp(s, FLAG_FIELDS[k].flag, n) && next != '-' && next != '_' &&
                    !(next >= 'a' && next <= 'z'))
                    best = n, k_best = k;
            }
        if (best) {
            buf_puts(&b, FLAG_FIELDS[k_best].field);
            s += best;
            changed = 1;
        } else {
            buf_putc(&b, *s++);
        }
    }
    const size_t n = strlen(g->path); // the fields are the spec's: the message names it first
    if (changed && !strncmp(b.data, g->path, n) && !strncmp(b.data + n, ": ", 2))
        snprintf(e->msg, sizeof e->msg, "%s", b.data);
    else if (changed)
        snprintf(e->msg, sizeof e->msg, "%s: %s", g->path, b.data);
    buf_free(&b);
}
