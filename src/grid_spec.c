// GRID.json parsing (see include/aca/grid.h): each section by its own function, every error naming
// the JSON path of the field.
#include "aca/grid.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"
#include "aca/mutate.h"

// ---- spec parsing ------------------------------------------------------------------------------
typedef struct {
    const char *file;
    aca_err *e;
} pctx;

static int perr(const pctx *p, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(const pctx *p, const char *field, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return aca_errf(p->e, ACA_ERR_VALUE, "%s: %s: %s", p->file, field, msg);
}

// Unknown keys of an object are an error naming "<prefix>.<key>": known are `allowed` and the run
// options whose GRID.json path lies in the section <prefix> (run.h).
static int check_keys(const pctx *p, const cJSON *o, const char *prefix, const char *const *allowed, size_t n) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        int ok = run_opts_has_key(prefix, it->string);
        for (size_t k = 0; k < n && !ok; k++) ok = !strcmp(it->string, allowed[k]);
        if (!ok) {
            char f[300];
            snprintf(f, sizeof f, "%s%s%s", prefix, *prefix ? "." : "", it->string);
            return perr(p, f, "unknown field");
        }
    }
    return 0;
}

static int get_obj(const pctx *p, const cJSON *root, const char *key, const cJSON **out) {
    *out = cJSON_GetObjectItemCaseSensitive(root, key);
    if (*out && !cJSON_IsObject(*out)) return perr(p, key, "must be an object");
    return 0;
}

static int get_str(const pctx *p, const cJSON *o, const char *key, const char *field, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsString(v) || !*v->valuestring) return perr(p, field, "must be a non-empty string");
    free(*out);
    *out = xstrdup(v->valuestring);
    return 0;
}

static int is_whole(double x) { return isfinite(x) && x == floor(x); }

// A path field: every ${NAME} in it is replaced by the environment variable NAME (unset or empty: an
// error naming the field and the variable), so a preset can point at a checkpoint that lives in a
// different place on every machine (e.g. "${ACA_MINILM_DIR}").  Other text, '$' included, is kept.
static int get_path(const pctx *p, const cJSON *o, const char *key, const char *field, char **out) {
    if (get_str(p, o, key, field, out) || !*out || !strstr(*out, "${")) return 0;
    aca_buf b = {0};
    for (const char *s = *out; *s;) {
        const char *open = strstr(s, "${"), *close = open ? strchr(open + 2, '}') : NULL;
        if (!open || !close) {
            buf_puts(&b, s);
            break;
        }
        buf_printf(&b, "%.*s", (int)(open - s), s);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(close - open - 2), open + 2);
        const char *v = close > open + 2 && (size_t)(close - open - 2) < sizeof name ? getenv(name) : NULL;
        if (!v || !*v) {
            buf_free(&b);
            return perr(p, field, "'%s' names the environment variable %s, which is not set (set it to the path)", *out, name);
        }
        buf_puts(&b, v);
        s = close + 1;
    }
    free(*out);
    *out = b.data ? b.data : xstrdup("");
    return 0;
}

// A whole number in [lo, hi] (when present).
static int get_int(const pctx *p, const cJSON *o, const char *key, const char *field, long lo, long hi, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !is_whole(v->valuedouble) || v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return perr(p, field, "must be a whole number in [%ld, %ld]", lo, hi);
    *out = (long)v->valuedouble;
    return 0;
}

static int get_bool(const pctx *p, const cJSON *o, const char *key, const char *field, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return perr(p, field, "must be true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

// corpus.char_rates: {"{": 0.001, "U+2E17": 0.01}, on top of the synthetic corpus's defaults.
static int get_char_rates(const pctx *p, const cJSON *corpus, aca_synth_opts *o) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(corpus, "char_rates"), *it;
    if (!r) return 0;
    if (!cJSON_IsObject(r)) return perr(p, "corpus.char_rates", "must be an object {\"CHAR\": share of documents, ...}");
    cJSON_ArrayForEach(it, r) {
        char f[300];
        snprintf(f, sizeof f, "corpus.char_rates.%s", it->string);
        aca_err e2 = {0};
        if (!cJSON_IsNumber(it)) return perr(p, f, "must be a number in [0, 1]");
        if (corpus_synth_set_rate(o, it->string, strlen(it->string), it->valuedouble, &e2)) return perr(p, f, "%s", e2.msg);
    }
    return 0;
}

// One run option (run.h's table) of a section: read by its type, checked by its range (the same
// check as the command line's, naming the GRID.json path).  A string replaces the spec's own.
static int read_run_opt(const pctx *p, const cJSON *o, const aca_run_opt *r, aca_run_setup *s) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, run_opt_key(r));
    char label[300], *str = NULL;
    snprintf(label, sizeof label, "%s: %s", p->file, r->path);
    if (r->type == RUN_OPT_FLAG && !cJSON_IsBool(v)) return perr(p, r->path, "must be true or false");
    if (r->type == RUN_OPT_FLAG) return run_opt_set_num(r, s, cJSON_IsTrue(v), label, p->e);
    if (r->type != RUN_OPT_STR && r->type != RUN_OPT_CHOICE && r->type != RUN_OPT_ENUM) {
        if (!cJSON_IsNumber(v)) return perr(p, r->path, "must be a number");
        return run_opt_set_num(r, s, v->valuedouble, label, p->e);
    }
    if (r->type == RUN_OPT_STR ? get_path(p, o, run_opt_key(r), r->path, &str) : get_str(p, o, run_opt_key(r), r->path, &str))
        return free(str), -1; // get_path may hold the text it could not expand
    const char **field = run_opt_field(r, s), *old = *field;
    int rc = run_opt_set_str(r, s, str, label, p->e);
    if (rc || r->type == RUN_OPT_ENUM) free(str); // an enum keeps the index
    else if (old != str) free((char *)old);
    return rc;
}

// The run options of the section ("train", "dp"; "" for the top level) that o gives; an axis
// (dp.epsilon) is the grid's own to read.
static int read_run_opts(const pctx *p, const cJSON *o, const char *section, aca_run_setup *s) {
    int n;
    const aca_run_opt *t = run_opts_table(&n);
    for (int i = 0; i < n; i++)
        if (run_opt_in_section(&t[i], section) && !(t[i].use & RUN_OPT_AXIS) &&
            cJSON_GetObjectItemCaseSensitive(o, run_opt_key(&t[i])) && read_run_opt(p, o, &t[i], s))
            return -1;
    return 0;
}

// "levels" (fractions in (0,1]) or "counts" (whole numbers >= 1) of an object; *n = 0 when neither.
static int parse_levels(const pctx *p, const cJSON *o, const char *prefix, double **lv, int *n, int *is_count) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "levels"), *c = cJSON_GetObjectItemCaseSensitive(o, "counts");
    char f[300];
    *n = 0;
    if (l && c) {
        snprintf(f, sizeof f, "%s%scounts", prefix, *prefix ? "." : "");
        return perr(p, f, "give either \"levels\" (fractions) or \"counts\", not both");
    }
    const cJSON *a = l ? l : c;
    if (!a) return 0;
    *is_count = c != NULL;
    snprintf(f, sizeof f, "%s%s%s", prefix, *prefix ? "." : "", l ? "levels" : "counts");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1) return perr(p, f, "must be a non-empty array of numbers");
    int k = cJSON_GetArraySize(a);
    double *v = xcalloc((size_t)k, sizeof *v);
    for (int i = 0; i < k; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        char fi[340];
        snprintf(fi, sizeof fi, "%s[%d]", f, i);
        if (!cJSON_IsNumber(x)) return free(v), perr(p, fi, "must be a number");
        double d = x->valuedouble;
        if (*is_count && (!is_whole(d) || d < 1 || d > 1e9))
            return free(v), perr(p, fi, "%g is not a member count (a whole number >= 1)", d);
        if (!*is_count && !(d > 0 && d <= 1))
            return free(v), perr(p, fi, "%g is not a participation level in (0,1] (fraction of the training split; use \"counts\" for member counts)", d);
        for (int j = 0; j < i; j++)
            if (v[j] == d) return free(v), perr(p, fi, "%g is listed twice", d);
        v[i] = d;
    }
    *lv = v;
    *n = k;
    return 0;
}

// An axis: a scalar or a non-empty array.  Values written to *vals (malloc'd).
static int parse_axis(const pctx *p, const cJSON *root, const char *key, int whole, double lo, double hi,
                      double **vals, int *n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *n = 0;
    *vals = NULL;
    if (!v) return 0;
    int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
    if (k < 1) return perr(p, key, "must be a number or a non-empty array of numbers");
    double *a = xcalloc((size_t)k, sizeof *a);
    for (int i = 0; i < k; i++) {
        const cJSON *x = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, i) : v;
        char f[64];
        if (cJSON_IsArray(v)) snprintf(f, sizeof f, "%s[%d]", key, i);
        else snprintf(f, sizeof f, "%s", key);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < lo || x->valuedouble > hi ||
            (whole && !is_whole(x->valuedouble)))
            return free(a), perr(p, f, "must be %s in [%g, %g]", whole ? "a whole number" : "a number", lo, hi);
        a[i] = x->valuedouble;
    }
    *vals = a;
    *n = k;
    return 0;
}


void grid_spec_free(aca_grid_spec *g) {
    for (int i = 0; g->coll && i < g->n_coll; i++) {
        free(g->coll[i].name);
        free(g->coll[i].target);
        free(g->coll[i].json);
        free(g->coll[i].levels);
    }
    free(g->coll);
    free(g->path), free(g->name), free(g->corpus_path), free(g->encoding);
    run_opts_free_strings(&g->run);
    free(g->overlap);
    free(g->periods), free(g->homog), free(g->eps);
    grid_inputs_free(g->inputs);
    free(g->inputs);
    memset(g, 0, sizeof *g);
}


static char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    char *b = xstrdup(s);
    char *dot = strrchr(b, '.');
    if (dot && dot != b) *dot = 0;
    return b;
}

static int parse_collectives(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "collectives");
    if (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) < 1)
        return perr(p, "collectives", "must be a non-empty array of collective objects");
    int n = cJSON_GetArraySize(cs);
    if (n > GRID_MAX_COLL) return perr(p, "collectives", "at most %d collectives in a grid (got %d)", GRID_MAX_COLL, n);
    double *lv = NULL;
    int nl = 0, is_count = 0;
    if (parse_levels(p, root, "", &lv, &nl, &is_count)) return -1;
    g->coll = xcalloc((size_t)n, sizeof *g->coll);
    g->n_coll = n;
    static const char *const keys[] = {"name", "target", "signal", "period", "sampling", "strategy", "levels", "counts"};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *c = cJSON_GetArrayItem(cs, i);
        aca_grid_coll *k = &g->coll[i];
        char pre[64];
        snprintf(pre, sizeof pre, "collectives[%d]", i);
        if (!cJSON_IsObject(c)) {
            rc = perr(p, pre, "must be an object");
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(c, "size") || cJSON_GetObjectItemCaseSensitive(c, "members")) {
            char f[80];
            snprintf(f, sizeof f, "%s.%s", pre, cJSON_GetObjectItemCaseSensitive(c, "size") ? "size" : "members");
            rc = perr(p, f, "not allowed in a grid: sizes come from \"levels\" or \"counts\"");
            break;
        }
        if ((rc = check_keys(p, c, pre, keys, ACA_ARRAY_LEN(keys)))) break;
        char f[80];
        snprintf(f, sizeof f, "%s.name", pre);
        if ((rc = get_str(p, c, "name", f, &k->name))) break;
        snprintf(f, sizeof f, "%s.target", pre);
        if ((rc = get_str(p, c, "target", f, &k->target))) break;
        if (!k->name || !k->target) {
            snprintf(f, sizeof f, "%s.%s", pre, k->name ? "target" : "name");
            rc = perr(p, f, "required");
            break;
        }
        k->has_period = cJSON_GetObjectItemCaseSensitive(c, "period") != NULL;
        k->has_sampling = cJSON_GetObjectItemCaseSensitive(c, "sampling") != NULL;
        if ((rc = parse_levels(p, c, pre, &k->levels, &k->n_levels, &k->is_count))) break;
        if (!k->n_levels) {
            if (!nl) {
                rc = perr(p, pre, "no participation levels: give \"levels\" or \"counts\" at the top level or in the collective");
                break;
            }
            k->levels = xcalloc((size_t)nl, sizeof *k->levels);
            memcpy(k->levels, lv, (size_t)nl * sizeof *lv);
            k->n_levels = nl;
            k->is_count = is_count;
        }
        cJSON *dup = cJSON_Duplicate(c, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(dup, "levels");
        cJSON_DeleteItemFromObjectCaseSensitive(dup, "counts");
        char *txt = cJSON_PrintUnformatted(dup);
        k->json = xstrdup(txt);
        cJSON_free(txt);
        cJSON_Delete(dup);
    }
    free(lv);
    return rc;
}

// "dp": {"epsilon": E | [E or "none", ...]} and the DP run options (delta, clip, sampling,
// freeze_embeddings, grad, micro_batch); their rules with the other options are checked with the
// DP cells' (check_combinations).
static int parse_dp(const pctx *p, const cJSON *dp, aca_grid_spec *g) {
    if (check_keys(p, dp, "dp", NULL, 0)) return -1;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(dp, "epsilon");
    if (!ev) return perr(p, "dp.epsilon", "required: the target epsilon (a number > 0, \"none\", or an array of them)");
    int k = cJSON_IsArray(ev) ? cJSON_GetArraySize(ev) : 1;
    if (k < 1 || k > 1000) return perr(p, "dp.epsilon", "must be a number > 0, \"none\" or a non-empty array of them");
    free(g->eps);
    g->eps = xcalloc((size_t)k, sizeof *g->eps);
    g->n_eps = k;
    for (int i = 0; i < k; i++) {
        const cJSON *x = cJSON_IsArray(ev) ? cJSON_GetArrayItem(ev, i) : ev;
        char f[64], label[400];
        if (cJSON_IsArray(ev)) snprintf(f, sizeof f, "dp.epsilon[%d]", i);
        else snprintf(f, sizeof f, "dp.epsilon");
        snprintf(label, sizeof label, "%s: %s", p->file, f);
        if (cJSON_IsString(x) && !strcmp(x->valuestring, "none")) g->eps[i] = -1;
        else if (!cJSON_IsNumber(x)) return perr(p, f, "must be a number > 0 or \"none\"");
        else if (run_opt_check_num(run_opt_find("dp_epsilon"), x->valuedouble, label, p->e)) return -1;
        else g->eps[i] = x->valuedouble;
        for (int j = 0; j < i; j++)
            if (g->eps[j] == g->eps[i]) return perr(p, f, "is listed twice");
    }
    return read_run_opts(p, dp, "dp", &g->run);
}

// The defaults every grid starts from: the run options' (the HF Trainer's training settings), one
// trial, baseline, alone and joint runs, a 2000-document synthetic corpus, no DP.
static void spec_defaults(aca_grid_spec *g, const char *path) {
    g->path = xstrdup(path);
    g->inputs = xcalloc(1, sizeof *g->inputs);
    run_setup_default(&g->run);
    run_opts_own_strings(&g->run);
    g->trials = 1;
    g->baseline = g->alone = g->joint = 1;
    g->synth_docs = 2000;
    corpus_synth_opts_default(&g->synth_opts);
    g->planner_delta = 0.05;
}

// The top-level keys, "name" and "seed" (the run options at the top level are known to check_keys).
static int parse_top(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    static const char *const top[] = {"name",   "seed",   "corpus",      "split",       "model",  "train",
                                      "overlap", "collectives", "levels", "counts",      "trials", "period",
                                      "homogeneity", "runs", "dp",     "planner"};
    long v = 0;
    if (check_keys(p, root, "", top, ACA_ARRAY_LEN(top)) || get_str(p, root, "name", "name", &g->name)) return -1;
    if (!g->name) g->name = base_name(p->file);
    if (get_int(p, root, "seed", "seed", 0, 9007199254740991L, &v)) return -1;
    g->seed = g->synth_seed = (uint64_t)v;
    return 0;
}

// "corpus": {"path", "encoding"} or {"synthetic", "seed", "char_rates"}.
static int parse_corpus(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    static const char *const keys[] = {"path", "encoding", "synthetic", "seed", "char_rates"};
    const cJSON *corpus;
    if (get_obj(p, root, "corpus", &corpus)) return -1;
    if (!corpus) return 0;
    if (check_keys(p, corpus, "corpus", keys, ACA_ARRAY_LEN(keys)) ||
        get_path(p, corpus, "path", "corpus.path", &g->corpus_path) ||
        get_str(p, corpus, "encoding", "corpus.encoding", &g->encoding))
        return -1;
    if (!!g->corpus_path == (cJSON_GetObjectItemCaseSensitive(corpus, "synthetic") != NULL))
        return perr(p, "corpus", "give exactly one of \"path\" (a corpus file) or \"synthetic\" (a document count)");
    long v = (long)g->synth_seed;
    if (get_int(p, corpus, "synthetic", "corpus.synthetic", 10, 100000000, &g->synth_docs) ||
        get_int(p, corpus, "seed", "corpus.seed", 0, 9007199254740991L, &v))
        return -1;
    g->synth_seed = (uint64_t)v;
    if (g->corpus_path && cJSON_GetObjectItemCaseSensitive(corpus, "char_rates"))
        return perr(p, "corpus.char_rates", "shapes a synthetic corpus only (not with \"path\")");
    if (get_char_rates(p, corpus, &g->synth_opts)) return -1;
    aca_corpus_encoding enc;
    if (g->encoding && corpus_parse_encoding(g->encoding, &enc, p->e))
        return aca_err_prefix(p->e, "%s: corpus.encoding", p->file);
    return 0;
}

// A section of run options ("model", "split", "train"), each field read and checked by the table.
static int parse_section(const pctx *p, const cJSON *root, const char *section, aca_grid_spec *g, const cJSON **obj) {
    if (get_obj(p, root, section, obj)) return -1;
    return *obj && (check_keys(p, *obj, section, NULL, 0) || read_run_opts(p, *obj, section, &g->run)) ? -1 : 0;
}

// "split": {"train": N, "test": N}, both or neither (0 and 0: mutate's split); "model": {"dir"} or
// {"config"}, optional "vocab"; "train": the training settings.
static int parse_run_sections(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    const cJSON *split, *model, *train;
    if (parse_section(p, root, "split", g, &split) || parse_section(p, root, "model", g, &model) ||
        parse_section(p, root, "train", g, &train))
        return -1;
    if (split && (!cJSON_GetObjectItemCaseSensitive(split, "train") || !cJSON_GetObjectItemCaseSensitive(split, "test") ||
                  !g->run.n_train != !g->run.n_test))
        return perr(p, "split", "give both \"train\" and \"test\"");
    if (g->run.model_dir && g->run.config_path)
        return perr(p, "model", "give at most one of \"dir\" (a checkpoint) or \"config\" (random init)");
    return 0;
}

// 0 when v is one of the '|'-separated names of `list` ("cpu|cuda").
static int one_of(const char *v, const char *list) {
    for (const char *s = list;;) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        if (strlen(v) == n && !strncmp(v, s, n)) return 0;
        if (!bar) return -1;
        s = bar + 1;
    }
}

// "device", "precision" and "attention" (run options), and "overlap", with their defaults.
static int parse_choices(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    if (read_run_opts(p, root, "", &g->run) || get_str(p, root, "overlap", "overlap", &g->overlap)) return -1;
    if (!g->overlap) g->overlap = xstrdup("disjoint");
    if (one_of(g->overlap, "disjoint|allow"))
        return perr(p, "overlap", "'%s' is not an overlap rule (disjoint | allow)", g->overlap);
    return 0;
}

static int parse_trials(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "trials");
    if (t && (!cJSON_IsNumber(t) || !is_whole(t->valuedouble) || t->valuedouble < 1 || t->valuedouble > 100000)) {
        char got[64];
        if (cJSON_IsNumber(t)) snprintf(got, sizeof got, "%g", t->valuedouble);
        else snprintf(got, sizeof got, "a non-number");
        return perr(p, "trials", "must be a whole number in [1, 100000] (got %s)", got);
    }
    if (t) g->trials = (int)t->valuedouble;
    return 0;
}

// The axes "period" (0: each collective's own) and "homogeneity" (< 0: no override), one value each
// when absent.
static int parse_axes(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    double *ax = NULL;
    int nax = 0;
    if (parse_axis(p, root, "period", 1, 1, 1e6, &ax, &nax)) return -1;
    g->n_periods = nax ? nax : 1;
    g->periods = xcalloc((size_t)g->n_periods, sizeof *g->periods);
    for (int i = 0; i < nax; i++) g->periods[i] = (int)ax[i];
    free(ax);
    if (parse_axis(p, root, "homogeneity", 0, 0, 1, &ax, &nax)) return -1;
    g->n_homog = nax ? nax : 1;
    g->homog = xcalloc((size_t)g->n_homog, sizeof *g->homog);
    for (int i = 0; i < g->n_homog; i++) g->homog[i] = nax ? ax[i] : -1;
    free(ax);
    return 0;
}

// DP-SGD: the epsilon axis, one "none" (no DP) without "dp".
static int parse_dp_axis(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    const cJSON *dp;
    g->n_eps = 1;
    g->eps = xcalloc(1, sizeof *g->eps);
    g->eps[0] = -1;
    if (get_obj(p, root, "dp", &dp)) return -1;
    return dp ? parse_dp(p, dp, g) : 0;
}

// "planner": true | false | {"delta": D}.
static int parse_planner(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    static const char *const keys[] = {"delta"};
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "planner");
    if (cJSON_IsBool(pl)) {
        g->planner = cJSON_IsTrue(pl);
    } else if (cJSON_IsObject(pl)) {
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(pl, "delta");
        if (check_keys(p, pl, "planner", keys, ACA_ARRAY_LEN(keys))) return -1;
        if (dv && !(cJSON_IsNumber(dv) && dv->valuedouble > 0 && dv->valuedouble < 1))
            return perr(p, "planner.delta", "must be a number in (0, 1)");
        if (dv) g->planner_delta = dv->valuedouble;
        g->planner = 1;
    } else if (pl) {
        return perr(p, "planner", "must be true, false or {\"delta\": D}");
    }
    return 0;
}

// "runs": which cells, and the mode (line | product).
static int parse_runs(const pctx *p, const cJSON *root, aca_grid_spec *g) {
    static const char *const keys[] = {"baseline", "alone", "joint", "mode", "pairs", "loo"};
    const cJSON *runs;
    if (get_obj(p, root, "runs", &runs)) return -1;
    if (!runs) return 0;
    if (check_keys(p, runs, "runs", keys, ACA_ARRAY_LEN(keys)) ||
        get_bool(p, runs, "baseline", "runs.baseline", &g->baseline) ||
        get_bool(p, runs, "alone", "runs.alone", &g->alone) || get_bool(p, runs, "joint", "runs.joint", &g->joint) ||
        get_bool(p, runs, "pairs", "runs.pairs", &g->pairs) || get_bool(p, runs, "loo", "runs.loo", &g->loo))
        return -1;
    char *mode = NULL;
    int rc = get_str(p, runs, "mode", "runs.mode", &mode);
    if (!rc && mode && !strcmp(mode, "product")) g->mode = GRID_MODE_PRODUCT;
    else if (!rc && mode && strcmp(mode, "line")) rc = perr(p, "runs.mode", "'%s' is not a mode (line | product)", mode);
    free(mode);
    return rc;
}

// What no single section can check: levels in line mode, pairs/loo, the DP cells' setup against
// the other options (run_setup_check_dp: sampling, buckets, device, precision), at least one run.
static int check_combinations(const pctx *p, const aca_grid_spec *g) {
    if (g->mode == GRID_MODE_LINE)
        for (int i = 1; i < g->n_coll; i++)
            if (g->coll[i].n_levels != g->coll[0].n_levels) {
                char f[64];
                snprintf(f, sizeof f, "collectives[%d].levels", i);
                return perr(p, f, "mode \"line\" needs every collective to have as many levels (%d here, %d for %s)",
                            g->coll[i].n_levels, g->coll[0].n_levels, g->coll[0].name);
            }
    if ((g->pairs || g->loo) && g->mode != GRID_MODE_LINE)
        return perr(p, g->pairs ? "runs.pairs" : "runs.loo", "needs \"mode\": \"line\"");
    for (int i = 0; i < g->n_eps; i++)
        if (g->eps[i] >= 0) { // the DP cells differ only in epsilon, which no rule looks at
            aca_run_setup s = g->run;
            s.train.dp = 1, s.train.dp_epsilon = g->eps[i];
            if (run_setup_check_dp(&s, p->file, p->e)) return -1;
            break;
        }
    if (!g->baseline && !g->alone && !g->joint && !g->pairs && !g->loo) return perr(p, "runs", "asks for no runs at all");
    return 0;
}

// Every collective through the collectives-spec parser (signal, period, sampling, strategy, names),
// with the sizes of a first cell.
static int check_collectives(const pctx *p, const aca_grid_spec *g) {
    aca_grid_cell c;
    memset(&c, 0, sizeof c);
    aca_buf b = {0};
    grid_cell_spec_json(g, &c, &b);
    aca_spec sp;
    int r = spec_parse(b.data, p->file, &sp, p->e);
    buf_free(&b);
    if (!r) spec_free(&sp);
    return r ? -1 : 0;
}

int grid_spec_parse(const char *json, const char *path, aca_grid_spec *g, aca_err *e) {
    memset(g, 0, sizeof *g);
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object (syntax error near byte %ld)", path,
                        (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
    }
    if (json_doc_check(json, strlen(json), path, e)) return cJSON_Delete(root), -1; // strict; no U+0000 in a string
    const pctx p = {path, e};
    spec_defaults(g, path);
    int rc = parse_top(&p, root, g) || parse_corpus(&p, root, g) || parse_run_sections(&p, root, g) ||
             parse_choices(&p, root, g) ||
             parse_trials(&p, root, g) || parse_axes(&p, root, g) || parse_dp_axis(&p, root, g) ||
             parse_planner(&p, root, g) || parse_runs(&p, root, g) || parse_collectives(&p, root, g) ||
             check_combinations(&p, g) || check_collectives(&p, g);
    cJSON_Delete(root);
    if (rc) { // keep the message, free the rest
        aca_err keep = *e;
        grid_spec_free(g);
        *e = keep;
        return -1;
    }
    return 0;
}

int grid_spec_load(const char *path, aca_grid_spec *g, aca_err *e) {
    aca_buf b = {0};
    memset(g, 0, sizeof *g);
    if (file_read_all(path, &b, e)) return -1;
    // a raw NUL would end the C string grid_spec_parse reads: the scanner names where it is
    size_t bom = utf8_bom_len(b.data, b.len);
    int rc = memchr(b.data, 0, b.len) && json_doc_check(b.data + bom, b.len - bom, path, e)
                 ? -1
                 : grid_spec_parse(b.data + bom, path, g, e);
    buf_free(&b);
    return rc;
}

