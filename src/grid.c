// Experiment grids: GRID.json parsing, cell enumeration, running cells (resumable), aggregation.
// The report (tables, plots, bundle, Slurm script) is in grid_report.c.  See include/aca/grid.h.
#include "aca/grid.h"
#include "aca/outdir.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

// Unknown keys of an object are an error naming "<prefix>.<key>".
static int check_keys(const pctx *p, const cJSON *o, const char *prefix, const char *const *allowed, size_t n) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        int ok = 0;
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

static int get_num(const pctx *p, const cJSON *o, const char *key, const char *field, double lo, int lo_open,
                   double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || (lo_open && v->valuedouble == lo))
        return perr(p, field, "must be a number %s %g", lo_open ? ">" : ">=", lo);
    *out = v->valuedouble;
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
    free(g->model_dir), free(g->config_path), free(g->vocab_path);
    free(g->device), free(g->precision), free(g->overlap), free(g->attention);
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

// "dp": {"epsilon": E | [E or "none", ...], "delta", "clip", "sampling", "freeze_embeddings", "grad",
// "micro_batch"}; refuses
// what the accountant would not bound (train_dp_check_opts): fixed sampling, and "train.bucket" (parsed
// before "dp") beside a DP cell.
static int parse_dp(const pctx *p, const cJSON *dp, const char *const *keys, size_t nkeys, aca_grid_spec *g) {
    if (check_keys(p, dp, "dp", keys, nkeys)) return -1;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(dp, "epsilon");
    if (!ev) return perr(p, "dp.epsilon", "required: the target epsilon (a number > 0, \"none\", or an array of them)");
    int k = cJSON_IsArray(ev) ? cJSON_GetArraySize(ev) : 1;
    if (k < 1 || k > 1000) return perr(p, "dp.epsilon", "must be a number > 0, \"none\" or a non-empty array of them");
    free(g->eps);
    g->eps = xcalloc((size_t)k, sizeof *g->eps);
    g->n_eps = k;
    for (int i = 0; i < k; i++) {
        const cJSON *x = cJSON_IsArray(ev) ? cJSON_GetArrayItem(ev, i) : ev;
        char f[64];
        if (cJSON_IsArray(ev)) snprintf(f, sizeof f, "dp.epsilon[%d]", i);
        else snprintf(f, sizeof f, "dp.epsilon");
        if (cJSON_IsString(x) && !strcmp(x->valuestring, "none")) g->eps[i] = -1;
        else if (cJSON_IsNumber(x) && isfinite(x->valuedouble) && x->valuedouble > 0) g->eps[i] = x->valuedouble;
        else return perr(p, f, "must be a number > 0 or \"none\" (epsilon <= 0 gives no privacy budget to train with)");
        for (int j = 0; j < i; j++)
            if (g->eps[j] == g->eps[i]) return perr(p, f, "is listed twice");
    }
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(dp, "delta");
    if (dv && !(cJSON_IsNumber(dv) && dv->valuedouble > 0 && dv->valuedouble < 1))
        return perr(p, "dp.delta", "must be a number in (0, 1)");
    if (dv) g->dp_delta = dv->valuedouble;
    if (get_num(p, dp, "clip", "dp.clip", 0, 1, &g->dp_clip)) return -1;
    if (get_bool(p, dp, "freeze_embeddings", "dp.freeze_embeddings", &g->dp_freeze)) return -1;
    char *grad = NULL;
    if (get_str(p, dp, "grad", "dp.grad", &grad)) return -1;
    if (grad) {
        g->dp_grad = train_dp_grad_parse(grad);
        if (g->dp_grad < 0) perr(p, "dp.grad", "'%s' is not a way to compute per-example norms (ghost | per-example)", grad);
        free(grad);
        if (g->dp_grad < 0) return -1;
    }
    long mb = g->dp_micro_batch;
    if (get_int(p, dp, "micro_batch", "dp.micro_batch", 1, 65536, &mb)) return -1;
    g->dp_micro_batch = (int)mb;
    char *smp = NULL;
    if (get_str(p, dp, "sampling", "dp.sampling", &smp)) return -1;
    if (smp) {
        int v = train_dp_sampling_parse(smp);
        if (v < 0) perr(p, "dp.sampling", "'%s' is not a sampling (poisson)", smp);
        else if (v == TRAIN_DP_FIXED) perr(p, "dp.sampling", "'fixed': %s", train_dp_fixed_refusal());
        free(smp);
        if (v != TRAIN_DP_POISSON) return -1;
        g->dp_sampling = v;
    }
    for (int i = 0; i < g->n_eps; i++) // a DP cell with length buckets
        if (g->eps[i] >= 0 && g->bucket) return perr(p, "train.bucket", "true with \"dp\": %s", train_dp_bucket_refusal());
    return 0;
}

int grid_spec_parse(const char *json, const char *path, aca_grid_spec *g, aca_err *e) {
    memset(g, 0, sizeof *g);
    pctx p = {path, e};
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not a JSON object (syntax error near byte %ld)", path,
                        (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
    }
    if (json_doc_check(json, strlen(json), path, e)) return cJSON_Delete(root), -1; // strict; no U+0000 in a string
    static const char *const top[] = {"name",   "seed",    "corpus",      "split",     "model",    "train",
                                      "device", "precision", "overlap",   "collectives", "levels", "counts",
                                      "trials", "period",  "homogeneity", "runs", "dp", "planner", "attention"};
    static const char *const k_corpus[] = {"path", "encoding", "synthetic", "seed", "char_rates"};
    static const char *const k_split[] = {"train", "test"};
    static const char *const k_model[] = {"dir", "config", "vocab"};
    static const char *const k_train[] = {"epochs", "batch", "lr", "weight_decay", "max_grad_norm", "max_len", "bucket",
                                          "eval_batch", "freeze_base"};
    static const char *const k_runs[] = {"baseline", "alone", "joint", "mode", "pairs", "loo"};
    static const char *const k_dp[] = {"epsilon", "delta", "clip", "sampling", "freeze_embeddings", "grad", "micro_batch"};
    g->path = xstrdup(path);
    g->inputs = xcalloc(1, sizeof *g->inputs);
    g->epochs = 5, g->batch = 8, g->max_len = 512, g->eval_batch = 32;
    g->lr = 5e-5, g->weight_decay = 0, g->max_grad_norm = 1.0;
    g->trials = 1;
    g->baseline = g->alone = g->joint = 1;
    g->synth_docs = 2000;
    corpus_synth_opts_default(&g->synth_opts);
    const cJSON *corpus, *split, *model, *train, *runs, *dp;
    long v;
    int rc = -1;
    if (check_keys(&p, root, "", top, ACA_ARRAY_LEN(top))) goto done;
    if (get_str(&p, root, "name", "name", &g->name)) goto done;
    if (!g->name) g->name = base_name(path);
    v = 0;
    if (get_int(&p, root, "seed", "seed", 0, 9007199254740991L, &v)) goto done;
    g->seed = (uint64_t)v;
    g->synth_seed = g->seed;
    // corpus
    if (get_obj(&p, root, "corpus", &corpus)) goto done;
    if (corpus) {
        if (check_keys(&p, corpus, "corpus", k_corpus, ACA_ARRAY_LEN(k_corpus))) goto done;
        if (get_path(&p, corpus, "path", "corpus.path", &g->corpus_path)) goto done;
        if (get_str(&p, corpus, "encoding", "corpus.encoding", &g->encoding)) goto done;
        int has_syn = cJSON_GetObjectItemCaseSensitive(corpus, "synthetic") != NULL;
        if (!!g->corpus_path == has_syn) {
            perr(&p, "corpus", "give exactly one of \"path\" (a corpus file) or \"synthetic\" (a document count)");
            goto done;
        }
        if (get_int(&p, corpus, "synthetic", "corpus.synthetic", 10, 100000000, &g->synth_docs)) goto done;
        v = (long)g->synth_seed;
        if (get_int(&p, corpus, "seed", "corpus.seed", 0, 9007199254740991L, &v)) goto done;
        g->synth_seed = (uint64_t)v;
        if (g->corpus_path && cJSON_GetObjectItemCaseSensitive(corpus, "char_rates")) {
            perr(&p, "corpus.char_rates", "shapes a synthetic corpus only (not with \"path\")");
            goto done;
        }
        if (get_char_rates(&p, corpus, &g->synth_opts)) goto done;
        if (g->encoding) {
            aca_corpus_encoding enc;
            if (corpus_parse_encoding(g->encoding, &enc, e)) {
                aca_err_prefix(e, "%s: corpus.encoding", path);
                goto done;
            }
        }
    }
    // split
    if (get_obj(&p, root, "split", &split)) goto done;
    if (split) {
        long tr = 0, te = 0;
        if (check_keys(&p, split, "split", k_split, ACA_ARRAY_LEN(k_split)) ||
            get_int(&p, split, "train", "split.train", 1, 100000000, &tr) ||
            get_int(&p, split, "test", "split.test", 1, 100000000, &te))
            goto done;
        if (!tr || !te) {
            perr(&p, "split", "give both \"train\" and \"test\"");
            goto done;
        }
        g->n_train = (size_t)tr, g->n_test = (size_t)te;
    }
    // model
    if (get_obj(&p, root, "model", &model)) goto done;
    if (model) {
        if (check_keys(&p, model, "model", k_model, ACA_ARRAY_LEN(k_model)) ||
            get_path(&p, model, "dir", "model.dir", &g->model_dir) ||
            get_path(&p, model, "config", "model.config", &g->config_path) ||
            get_path(&p, model, "vocab", "model.vocab", &g->vocab_path))
            goto done;
        if (g->model_dir && g->config_path) {
            perr(&p, "model", "give at most one of \"dir\" (a checkpoint) or \"config\" (random init)");
            goto done;
        }
    }
    // training
    if (get_obj(&p, root, "train", &train)) goto done;
    if (train) {
        long ep = g->epochs, b = g->batch, ml = g->max_len, eb = g->eval_batch;
        if (check_keys(&p, train, "train", k_train, ACA_ARRAY_LEN(k_train)) ||
            get_int(&p, train, "epochs", "train.epochs", 1, 100000, &ep) ||
            get_int(&p, train, "batch", "train.batch", 1, 65536, &b) ||
            get_int(&p, train, "max_len", "train.max_len", 8, 1 << 20, &ml) ||
            get_int(&p, train, "eval_batch", "train.eval_batch", 1, 65536, &eb) ||
            get_num(&p, train, "lr", "train.lr", 0, 1, &g->lr) ||
            get_num(&p, train, "weight_decay", "train.weight_decay", 0, 0, &g->weight_decay) ||
            get_num(&p, train, "max_grad_norm", "train.max_grad_norm", 0, 0, &g->max_grad_norm) ||
            get_bool(&p, train, "bucket", "train.bucket", &g->bucket) ||
            get_bool(&p, train, "freeze_base", "train.freeze_base", &g->freeze_base))
            goto done;
        g->epochs = (int)ep, g->batch = (int)b, g->max_len = (int)ml, g->eval_batch = (int)eb;
    }
    if (get_str(&p, root, "device", "device", &g->device) || get_str(&p, root, "precision", "precision", &g->precision) ||
        get_str(&p, root, "overlap", "overlap", &g->overlap) || get_str(&p, root, "attention", "attention", &g->attention))
        goto done;
    if (!g->attention) g->attention = xstrdup("auto");
    aca_attention att_path;
    aca_err att_e;
    if (aca_attention_parse(g->attention, &att_path, &att_e)) {
        perr(&p, "attention", "'%s' is not an attention path (auto | gemm | cudnn)", g->attention);
        goto done;
    }
    if (!g->device) g->device = xstrdup("cpu");
    if (!g->precision) g->precision = xstrdup("fp32");
    if (!g->overlap) g->overlap = xstrdup("disjoint");
    if (strcmp(g->device, "cpu") && strcmp(g->device, "cuda")) {
        perr(&p, "device", "'%s' is not a device (cpu | cuda)", g->device);
        goto done;
    }
    if (strcmp(g->precision, "fp32") && strcmp(g->precision, "bf16") && strcmp(g->precision, "fp16")) {
        perr(&p, "precision", "'%s' is not a precision (fp32 | bf16 | fp16)", g->precision);
        goto done;
    }
    if (strcmp(g->overlap, "disjoint") && strcmp(g->overlap, "allow")) {
        perr(&p, "overlap", "'%s' is not an overlap rule (disjoint | allow)", g->overlap);
        goto done;
    }
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "trials");
        if (t && (!cJSON_IsNumber(t) || !is_whole(t->valuedouble) || t->valuedouble < 1 || t->valuedouble > 100000)) {
            char got[64];
            if (cJSON_IsNumber(t)) snprintf(got, sizeof got, "%g", t->valuedouble);
            else snprintf(got, sizeof got, "a non-number");
            perr(&p, "trials", "must be a whole number in [1, 100000] (got %s)", got);
            goto done;
        }
        if (t) g->trials = (int)t->valuedouble;
    }
    // axes
    double *ax = NULL;
    int nax = 0;
    if (parse_axis(&p, root, "period", 1, 1, 1e6, &ax, &nax)) goto done;
    g->n_periods = nax ? nax : 1;
    g->periods = xcalloc((size_t)g->n_periods, sizeof *g->periods);
    for (int i = 0; i < nax; i++) g->periods[i] = (int)ax[i];
    free(ax);
    if (parse_axis(&p, root, "homogeneity", 0, 0, 1, &ax, &nax)) goto done;
    g->n_homog = nax ? nax : 1;
    g->homog = xcalloc((size_t)g->n_homog, sizeof *g->homog);
    for (int i = 0; i < g->n_homog; i++) g->homog[i] = nax ? ax[i] : -1;
    free(ax);
    // DP-SGD: an epsilon axis ("none": no DP)
    g->n_eps = 1;
    g->eps = xcalloc(1, sizeof *g->eps);
    g->eps[0] = -1;
    g->dp_delta = 1e-5, g->dp_clip = 1.0, g->dp_sampling = TRAIN_DP_POISSON;
    g->dp_grad = TRAIN_DP_GRAD_GHOST, g->dp_micro_batch = 32;
    if (get_obj(&p, root, "dp", &dp)) goto done;
    if (dp && parse_dp(&p, dp, k_dp, ACA_ARRAY_LEN(k_dp), g)) goto done;
    // planner: true | {"delta": D}
    g->planner_delta = 0.05;
    {
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "planner");
        static const char *const k_pl[] = {"delta"};
        if (cJSON_IsBool(pl)) {
            g->planner = cJSON_IsTrue(pl);
        } else if (cJSON_IsObject(pl)) {
            const cJSON *dv = cJSON_GetObjectItemCaseSensitive(pl, "delta");
            if (check_keys(&p, pl, "planner", k_pl, ACA_ARRAY_LEN(k_pl))) goto done;
            if (dv && !(cJSON_IsNumber(dv) && dv->valuedouble > 0 && dv->valuedouble < 1)) {
                perr(&p, "planner.delta", "must be a number in (0, 1)");
                goto done;
            }
            if (dv) g->planner_delta = dv->valuedouble;
            g->planner = 1;
        } else if (pl) {
            perr(&p, "planner", "must be true, false or {\"delta\": D}");
            goto done;
        }
    }
    // runs
    if (get_obj(&p, root, "runs", &runs)) goto done;
    if (runs) {
        if (check_keys(&p, runs, "runs", k_runs, ACA_ARRAY_LEN(k_runs)) ||
            get_bool(&p, runs, "baseline", "runs.baseline", &g->baseline) ||
            get_bool(&p, runs, "alone", "runs.alone", &g->alone) || get_bool(&p, runs, "joint", "runs.joint", &g->joint) ||
            get_bool(&p, runs, "pairs", "runs.pairs", &g->pairs) || get_bool(&p, runs, "loo", "runs.loo", &g->loo))
            goto done;
        char *mode = NULL;
        if (get_str(&p, runs, "mode", "runs.mode", &mode)) goto done;
        if (mode && !strcmp(mode, "product")) g->mode = GRID_MODE_PRODUCT;
        else if (mode && strcmp(mode, "line")) {
            perr(&p, "runs.mode", "'%s' is not a mode (line | product)", mode);
            free(mode);
            goto done;
        }
        free(mode);
    }
    if (parse_collectives(&p, root, g)) goto done;
    if (g->mode == GRID_MODE_LINE)
        for (int i = 1; i < g->n_coll; i++)
            if (g->coll[i].n_levels != g->coll[0].n_levels) {
                char f[64];
                snprintf(f, sizeof f, "collectives[%d].levels", i);
                perr(&p, f, "mode \"line\" needs every collective to have as many levels (%d here, %d for %s)",
                     g->coll[i].n_levels, g->coll[0].n_levels, g->coll[0].name);
                goto done;
            }
    if ((g->pairs || g->loo) && g->mode != GRID_MODE_LINE) {
        perr(&p, g->pairs ? "runs.pairs" : "runs.loo", "needs \"mode\": \"line\"");
        goto done;
    }
    for (int i = 0; i < g->n_eps; i++) {
        if (g->eps[i] >= 0 && g->dp_grad == TRAIN_DP_GRAD_PER_EXAMPLE && strcmp(g->device, "cpu")) {
            perr(&p, "dp.grad", "'per-example' runs on the CPU backend only (\"device\" is \"%s\"); use \"ghost\"", g->device);
            goto done;
        }
        if (g->eps[i] >= 0 && !strcmp(g->precision, "fp16")) {
            perr(&p, "precision", "'fp16' with \"dp\": per-example clipping runs without loss scaling; use fp32 or bf16");
            goto done;
        }
    }
    if (!g->baseline && !g->alone && !g->joint && !g->pairs && !g->loo) {
        perr(&p, "runs", "asks for no runs at all");
        goto done;
    }
    // Every collective through the collectives-spec parser (signal, period, sampling, strategy,
    // names), with the sizes of a first cell.
    {
        aca_grid_cell c;
        memset(&c, 0, sizeof c);
        aca_buf b = {0};
        grid_cell_spec_json(g, &c, &b);
        aca_spec sp;
        int r = spec_parse(b.data, path, &sp, e);
        buf_free(&b);
        if (r) goto done;
        spec_free(&sp);
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) {
        // keep the message, free the rest
        aca_err keep = *e;
        grid_spec_free(g);
        *e = keep;
    }
    return rc;
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

uint64_t grid_trial_seed(uint64_t grid_seed, int trial, int purpose) {
    aca_rng r;
    rng_seed(&r, grid_seed, 0x67726964ULL * 1000003ULL + (uint64_t)trial * 16 + (uint64_t)purpose);
    return rng_u64(&r) >> 32;
}

// ---- cells -------------------------------------------------------------------------------------
// %g, or as many digits as it takes to read back the same number (so distinct levels, homogeneity
// or epsilon values never share a cell id).
static void num_str(double x, char *out, size_t n) {
    snprintf(out, n, "%g", x);
    for (int digits = 7; strtod(out, NULL) != x && digits <= 17; digits++) snprintf(out, n, "%.*g", digits, x);
}

void grid_level_str(const aca_grid_spec *g, int i, int level_idx, char *out, size_t n) {
    const aca_grid_coll *k = &g->coll[i];
    if (k->is_count) snprintf(out, n, "%ld", (long)k->levels[level_idx]);
    else num_str(k->levels[level_idx], out, n);
}

// An id too long for a file name keeps its first 100 bytes of collectives and levels, then '-' and 16
// hex digits of their SHA-256, then the axes and the trial.
static void id_shorten(aca_buf *id, size_t head_len) {
    if (id->len <= GRID_ID_MAX) return;
    char hex[65];
    sha256_hex(id->data, head_len, hex);
    char *tail = xstrdup(id->data + head_len);
    id->len = 100;
    id->data[100] = 0;
    buf_printf(id, "-%.16s%s", hex, tail);
    free(tail);
}

typedef struct {
    aca_grid_cell *v;
    int n, cap;
} cell_vec;

static void cell_add(const aca_grid_spec *g, cell_vec *cv, aca_grid_cell_kind kind, int trial, int variant,
                     unsigned acting, const int *lv) {
    aca_buf id = {0};
    buf_puts(&id, kind == GRID_CELL_BASELINE ? "none" : kind == GRID_CELL_ALONE ? "alone" : "joint");
    for (int i = 0; i < g->n_coll; i++) {
        if (!(acting >> i & 1)) continue;
        char l[64];
        grid_level_str(g, i, lv[i], l, sizeof l);
        buf_printf(&id, "-%s=%s", g->coll[i].name, l);
    }
    const size_t head_len = id.len;
    int pi, hi, ei;
    char num[40];
    grid_variant_axes(g, variant, &pi, &hi, &ei);
    if (g->n_periods > 1) buf_printf(&id, "-P%d", g->periods[pi]);
    if (g->n_homog > 1) num_str(g->homog[hi], num, sizeof num), buf_printf(&id, "-h%s", num);
    if (g->n_eps > 1) {
        if (g->eps[ei] < 0) buf_puts(&id, "-enone");
        else num_str(g->eps[ei], num, sizeof num), buf_printf(&id, "-e%s", num);
    }
    buf_printf(&id, "-t%d", trial);
    id_shorten(&id, head_len);
    for (int k = 0; k < cv->n; k++)
        if (!strcmp(cv->v[k].id, id.data)) {
            buf_free(&id);
            return;
        }
    if (cv->n == cv->cap) {
        cv->cap = cv->cap ? 2 * cv->cap : 64;
        cv->v = xrealloc(cv->v, (size_t)cv->cap * sizeof *cv->v);
    }
    aca_grid_cell *c = &cv->v[cv->n];
    memset(c, 0, sizeof *c);
    c->id = id.data;
    c->index = cv->n;
    c->kind = kind;
    c->trial = trial;
    c->variant = variant;
    c->acting = acting;
    for (int i = 0; i < g->n_coll; i++) c->level_idx[i] = lv[i];
    cv->n++;
}

int grid_cells(const aca_grid_spec *g, aca_grid_cell **cells, int *n, aca_err *e) {
    cell_vec cv = {0};
    const int N = g->n_coll, n_var = grid_n_variants(g);
    const unsigned all = N >= 32 ? ~0u : (1u << N) - 1;
    const int n_points = g->coll[0].n_levels; // line mode
    int lv[GRID_MAX_COLL];
    for (int t = 0; t < g->trials; t++)
        for (int var = 0; var < n_var; var++) {
            memset(lv, 0, sizeof lv);
            if (g->baseline) cell_add(g, &cv, GRID_CELL_BASELINE, t, var, 0, lv);
            if (g->alone)
                for (int i = 0; i < N; i++)
                    for (int l = 0; l < g->coll[i].n_levels; l++) {
                        for (int j = 0; j < N; j++) lv[j] = g->mode == GRID_MODE_LINE ? l : 0;
                        lv[i] = l;
                        cell_add(g, &cv, GRID_CELL_ALONE, t, var, 1u << i, lv);
                    }
            if (g->joint && g->mode == GRID_MODE_LINE) {
                for (int l = 0; l < n_points; l++) {
                    for (int j = 0; j < N; j++) lv[j] = l;
                    cell_add(g, &cv, N == 1 ? GRID_CELL_ALONE : GRID_CELL_JOINT, t, var, all, lv);
                }
            } else if (g->joint) {
                memset(lv, 0, sizeof lv);
                for (;;) {
                    cell_add(g, &cv, N == 1 ? GRID_CELL_ALONE : GRID_CELL_JOINT, t, var, all, lv);
                    int j = N - 1;
                    while (j >= 0 && ++lv[j] == g->coll[j].n_levels) lv[j--] = 0;
                    if (j < 0) break;
                }
            }
            if (g->pairs && N > 2)
                for (int l = 0; l < n_points; l++)
                    for (int i = 0; i < N; i++)
                        for (int j = i + 1; j < N; j++) {
                            for (int k = 0; k < N; k++) lv[k] = l;
                            cell_add(g, &cv, GRID_CELL_JOINT, t, var, 1u << i | 1u << j, lv);
                        }
            if (g->loo && N > 2)
                for (int l = 0; l < n_points; l++)
                    for (int j = 0; j < N; j++) {
                        for (int k = 0; k < N; k++) lv[k] = l;
                        cell_add(g, &cv, GRID_CELL_JOINT, t, var, all & ~(1u << j), lv);
                    }
        }
    if (cv.n == 0) {
        free(cv.v);
        return aca_errf(e, ACA_ERR_VALUE, "%s: the grid has no cells", g->path);
    }
    *cells = cv.v;
    *n = cv.n;
    return 0;
}

void grid_cells_free(aca_grid_cell *cells, int n) {
    for (int k = 0; cells && k < n; k++) free(cells[k].id);
    free(cells);
}

void grid_cell_spec_json(const aca_grid_spec *g, const aca_grid_cell *c, aca_buf *out) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "seed", (double)grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA));
    cJSON_AddStringToObject(root, "overlap", g->overlap ? g->overlap : "disjoint");
    cJSON *arr = cJSON_AddArrayToObject(root, "collectives");
    int pi = 0, hi = 0, ei = 0;
    if (g->periods && g->homog && g->eps) grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    const int period = g->periods ? g->periods[pi] : 0;
    const double p = g->homog ? g->homog[hi] : -1;
    for (int i = 0; i < g->n_coll; i++) {
        const aca_grid_coll *k = &g->coll[i];
        cJSON *o = cJSON_Parse(k->json);
        double lvl = k->levels[c->level_idx[i]];
        if (k->is_count) cJSON_AddNumberToObject(o, "size", lvl);
        else if (lvl >= 1) cJSON_AddStringToObject(o, "size", "100%");
        else cJSON_AddNumberToObject(o, "size", lvl);
        if (!k->has_period && period > 0) cJSON_AddNumberToObject(o, "period", period);
        if (!k->has_sampling && p >= 0) {
            cJSON *s = cJSON_AddObjectToObject(o, "sampling");
            cJSON_AddStringToObject(s, "kind", "propensity");
            cJSON_AddStringToObject(s, "seed_class", k->target);
            cJSON_AddNumberToObject(s, "p", p);
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(root);
    buf_puts(out, txt);
    buf_putc(out, '\n');
    cJSON_free(txt);
    cJSON_Delete(root);
}

// ---- running -----------------------------------------------------------------------------------
static void cell_names(const aca_grid_spec *g, unsigned acting, aca_buf *b) {
    for (int i = 0; i < g->n_coll; i++)
        if (acting >> i & 1) buf_printf(b, "%s%s", b->len ? "," : "", g->coll[i].name);
}

static void cell_grid_json(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *c, aca_buf *b) {
    static const char *const kinds[] = {"baseline", "alone", "joint"};
    buf_puts(b, "{\"cell\":");
    buf_json_str(b, c->id, strlen(c->id));
    buf_printf(b, ",\"index\":%d,\"kind\":\"%s\",\"trial\":%d,\"variant\":%d", c->index, kinds[c->kind], c->trial,
               c->variant);
    int pi, hi, ei;
    char num[40];
    grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    buf_printf(b, ",\"period\":%d,\"homogeneity\":", g->periods[pi]);
    if (g->homog[hi] >= 0) num_str(g->homog[hi], num, sizeof num), buf_puts(b, num);
    else buf_puts(b, "null");
    buf_puts(b, ",\"dp_epsilon\":");
    if (g->eps[ei] >= 0) num_str(g->eps[ei], num, sizeof num), buf_puts(b, num);
    else buf_puts(b, "null");
    buf_puts(b, ",\"acting\":[");
    int first = 1;
    for (int i = 0; i < g->n_coll; i++)
        if (c->acting >> i & 1) {
            buf_puts(b, first ? "" : ",");
            first = 0;
            buf_json_str(b, g->coll[i].name, strlen(g->coll[i].name));
        }
    buf_puts(b, "],\"levels\":{");
    for (int i = 0; i < g->n_coll; i++) {
        char l[64];
        grid_level_str(g, i, c->level_idx[i], l, sizeof l);
        buf_puts(b, i ? "," : "");
        buf_json_str(b, g->coll[i].name, strlen(g->coll[i].name));
        buf_printf(b, ":%s", l);
    }
    buf_printf(b, "},\"grid_seed\":%llu,\"data_seed\":%llu,\"train_seed\":%llu,\"definition\":", (unsigned long long)g->seed,
               (unsigned long long)grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA),
               (unsigned long long)grid_trial_seed(g->seed, c->trial, GRID_SEED_TRAIN));
    grid_cell_definition(g, in, c, b);
    buf_putc(b, '}');
}

// The base setup of every cell (paths owned by g / in).
static void base_setup(const aca_grid_spec *g, const aca_grid_inputs *in, aca_run_setup *s) {
    run_setup_default(s);
    s->corpus_path = grid_input_of(in, "corpus")->path;
    if (g->encoding) corpus_parse_encoding(g->encoding, &s->corpus_opts.encoding, NULL);
    s->n_train = g->n_train;
    s->n_test = g->n_test;
    s->model_dir = g->model_dir;
    s->config_path = g->config_path;
    s->vocab_path = g->vocab_path;
    s->train.epochs = g->epochs;
    s->train.batch = g->batch;
    s->train.lr = g->lr;
    s->train.weight_decay = g->weight_decay;
    s->train.max_grad_norm = g->max_grad_norm;
    s->train.bucket = g->bucket;
    s->train.freeze_base = g->freeze_base;
    s->max_len = g->max_len;
    s->eval_batch = g->eval_batch;
    s->device = g->device;
    s->precision = g->precision;
    s->attention = g->attention;
}

// The data manifest of a cell (its split, seed and members) kept beside its result, once it shows
// that mutate read the recorded corpus (not one edited while the grid ran).
static int cell_keep_manifest(const aca_grid_spec *g, const aca_grid_inputs *in, const char *data_dir, const char *dir,
                              aca_err *e) {
    char *mf = path_join(data_dir, "manifest.json"), *keep = path_join(dir, "manifest.json");
    aca_buf mb = {0};
    int rc = file_read_all(mf, &mb, e);
    cJSON *m = rc ? NULL : cJSON_Parse(mb.data);
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "corpus"), "sha256");
    const aca_grid_input *c = grid_input_of(in, "corpus");
    if (!rc && cJSON_IsString(sha) && strcmp(sha->valuestring, c->sha256))
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: %s: %s changed while the grid ran (sha256 %s when the grid started, %s when this cell read it): "
                      "the cell's result is not kept.  Restore the file and run again, or run the changed grid with a "
                      "new --out",
                      g->path, c->field, c->path, c->sha256, sha->valuestring);
    if (!rc) rc = file_write_atomic(keep, mb.data, mb.len, e);
    cJSON_Delete(m);
    buf_free(&mb);
    free(mf), free(keep);
    return rc;
}

// DP-SGD: sigma chosen so that the whole training spends the variant's epsilon at delta.
static void cell_dp(const aca_grid_spec *g, const aca_grid_cell *c, aca_train_opts *t) {
    int pi, hi, ei;
    grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    if (g->eps[ei] < 0) return;
    t->dp = 1;
    t->dp_epsilon = g->eps[ei];
    t->dp_sigma = NAN;
    t->dp_delta = g->dp_delta;
    t->dp_clip = g->dp_clip;
    t->dp_sampling = g->dp_sampling;
    t->dp_freeze_embeddings = g->dp_freeze;
    t->dp_grad = g->dp_grad;
    t->dp_micro_batch = g->dp_micro_batch;
}

static int run_cell(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o, const aca_grid_cell *c,
                    aca_run_result *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    char *dir = grid_cell_path(o->out_dir, c, NULL), *spec = path_join(dir, "spec.json"), *res = path_join(dir, "result.json");
    char *cache = path_join(o->out_dir, "tokcache");
    char *sub_data = NULL;
    aca_buf b = {0}, names = {0};
    int rc = -1;
    // A half-done cell (killed mid-run) leaves no result.json: start it from scratch.
    dir_remove_recursive(dir);
    if (dir_make(dir, e) || dir_make(cache, e)) goto done;
    grid_cell_spec_json(g, c, &b);
    if (file_write_atomic(spec, b.data, b.len, e)) goto done;
    aca_run_setup s;
    base_setup(g, in, &s);
    s.spec_path = spec;
    s.work_dir = dir;
    s.cache_dir = cache;
    s.has_data_seed = 1;
    s.data_seed = grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA);
    s.train.seed = s.init_seed = grid_trial_seed(g->seed, c->trial, GRID_SEED_TRAIN);
    s.train.on_step = o->on_step;
    s.train.on_step_ctx = o->on_step_ctx;
    cell_dp(g, c, &s.train);
    const unsigned all = (1u << g->n_coll) - 1;
    aca_run_act act = c->kind == GRID_CELL_BASELINE ? RUN_ACT_NONE : c->acting == all ? RUN_ACT_ALL : RUN_ACT_ONE;
    const char *only = NULL;
    cell_names(g, c->acting, &names);
    if (act == RUN_ACT_ONE && __builtin_popcount(c->acting) == 1) {
        only = names.data;
    } else if (act == RUN_ACT_ONE) {
        // A subset acts: mutate with --only A,B here, then run on that data directory.
        char *jd = path_join(dir, "joint");
        sub_data = path_join(jd, "data");
        free(jd);
        aca_mutate_opts mo;
        memset(&mo, 0, sizeof mo);
        mo.corpus_path = s.corpus_path;
        mo.spec_path = spec;
        mo.out_dir = sub_data;
        mo.only = names.data;
        mo.n_train = g->n_train;
        mo.n_test = g->n_test;
        mo.has_seed = 1;
        mo.seed = s.data_seed;
        mo.corpus_opts = s.corpus_opts;
        if (mutate_run(&mo, e)) goto done;
        s.data_dir = sub_data;
        act = RUN_ACT_ALL;
    }
    // The inputs as hashed, before the cell and after it (else its result is not recorded).
    if (grid_inputs_unchanged(g, in, e) || run_condition(&s, act, only, r, e) || grid_inputs_unchanged(g, in, e))
        goto done;
    buf_clear(&b);
    buf_puts(&b, "{\"grid\":");
    cell_grid_json(g, in, c, &b);
    buf_puts(&b, ",\"result\":");
    run_result_to_json(&s, r, &b);
    buf_putc(&b, '}');
    // The manifest, then result.json (the cell is finished once it exists), then its line in results.jsonl.
    if (cell_keep_manifest(g, in, r->data_dir, dir, e) || file_write_atomic(res, b.data, b.len, e) ||
        grid_results_add(o->out_dir, c, b.data, b.len, e))
        goto done;
    if (!o->keep_work) {
        char *cd = path_join(dir, r->cond_name);
        char *p1 = path_join(cd, "data"), *p2 = path_join(cd, "ckpt");
        dir_remove_recursive(p1);
        dir_remove_recursive(p2);
        free(p1), free(p2), free(cd);
    }
    rc = 0;
done:
    if (rc) {
        aca_err_prefix(e, "cell %d (%s)", c->index, c->id);
        grid_err_fields(g, e);
    }
    buf_free(&b);
    buf_free(&names);
    free(dir), free(spec), free(res), free(cache), free(sub_data);
    return rc;
}

// ---- worker processes --------------------------------------------------------------------------
// The signals the parent watches while its workers run: SIGINT and SIGTERM unless ignored, and
// SIGCHLD (a worker ended).
static void watched_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t k = 0; k < ACA_ARRAY_LEN(sigs); k++) {
        struct sigaction sa;
        if (sigaction(sigs[k], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN) sigaddset(set, sigs[k]);
    }
}

// In a worker right after fork: SIGKILL when the parent dies (it may already have: then getppid()
// is another process), SIGINT left to the parent, SIGTERM not ignored, the parent's old mask back.
static void worker_init(pid_t parent, const sigset_t *old_mask) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
    signal(SIGINT, SIG_IGN);
    struct sigaction sa;
    if (sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_SETMASK, old_mask, NULL);
}

// Worker w of jobs: cells w, w + jobs, ...; exits 0 or 1 (its failure said on stderr).
static _Noreturn void worker_run(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o,
                                 const aca_grid_cell *cells, int n, int w) {
    int threads = omp_get_num_procs() / o->jobs;
    omp_set_num_threads(threads > 0 ? threads : 1);
    aca_grid_opts co = *o;
    co.on_step = NULL; // no progress bars from several processes
    aca_err ce = {0};
    for (int k = w; k < n; k += o->jobs) {
        if (grid_cell_done(o->out_dir, &cells[k])) {
            if (co.on_cell) co.on_cell(g, &cells[k], n, 1, NULL, NAN, co.ctx);
            continue;
        }
        if (co.on_cell) co.on_cell(g, &cells[k], n, 0, NULL, NAN, co.ctx);
        aca_run_result r;
        if (run_cell(g, in, &co, &cells[k], &r, &ce)) {
            fprintf(stderr, "aca: worker %d: %s\n", w, ce.msg);
            _exit(1);
        }
        if (co.on_cell) co.on_cell(g, &cells[k], n, 0, &r, NAN, co.ctx);
        run_result_free(&r);
    }
    _exit(0);
}

// Waits for the n workers (pid[k] = 0 once reaped), counting failures (and those killed by a
// signal).  On a watched SIGINT or SIGTERM, sends every worker SIGTERM and goes on waiting; returns
// that signal (0: none).
static int wait_workers(pid_t *pid, int n, const sigset_t *watch, int *failed, int *killed) {
    int left = n, sig = 0;
    while (left > 0) {
        for (int k = 0; k < n; k++) {
            int status = 0;
            if (pid[k] <= 0 || waitpid(pid[k], &status, WNOHANG) != pid[k]) continue;
            *failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            *killed += WIFSIGNALED(status);
            pid[k] = 0;
            left--;
        }
        if (!left) break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        int s = sigtimedwait(watch, NULL, &ts);
        if ((s == SIGINT || s == SIGTERM) && !sig) {
            sig = s;
            for (int k = 0; k < n; k++)
                if (pid[k] > 0) kill(pid[k], SIGTERM);
        }
    }
    return sig;
}

// jobs worker processes, worker w running cells w, w + jobs, ... (forked before any OpenMP or CUDA
// use in this process).  A failed worker says why on stderr; the others finish their cells.
static int run_workers(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o, aca_grid_cell *cells,
                       int n, aca_grid_stats *st, aca_err *e) {
    int before = 0;
    for (int k = 0; k < n; k++) before += grid_cell_done(o->out_dir, &cells[k]);
    fflush(stdout);
    fflush(stderr);
    sigset_t watch, old;
    watched_signals(&watch);
    sigprocmask(SIG_BLOCK, &watch, &old);
    const pid_t parent = getpid();
    pid_t *pid = xcalloc((size_t)o->jobs, sizeof *pid);
    int started = 0, failed = 0, killed = 0;
    for (int w = 0; w < o->jobs; w++) {
        pid_t p = fork();
        if (p < 0) {
            failed++;
            break;
        }
        if (p == 0) {
            worker_init(parent, &old);
            worker_run(g, in, o, cells, n, w);
        }
        pid[started++] = p;
    }
    const int sig = wait_workers(pid, started, &watch, &failed, &killed);
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(pid);
    int after = 0;
    for (int k = 0; k < n; k++) after += grid_cell_done(o->out_dir, &cells[k]);
    st->skipped = before;
    st->ran = after - before;
    if (sig) {
        raise(sig); // the handler this process had (by default: the end of it)
        return aca_errf(e, ACA_ERR_VALUE, "stopped by %s: the workers were stopped; the %d finished cells are kept: run "
                        "again to resume", strsignal(sig), after);
    }
    if (failed)
        return aca_errf(e, ACA_ERR_VALUE,
                        "%d of %d grid workers failed (%d killed by a signal, the others said why above); the %d finished "
                        "cells are kept: run again to resume",
                        failed, o->jobs, killed, after);
    return 0;
}

// The cells lo..hi-1 one after the other in this process.
static int run_serial(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o, aca_grid_cell *cells,
                      int n, int lo, int hi, aca_grid_stats *st, aca_err *e) {
    int todo = 0;
    for (int k = lo; k < hi; k++) todo += !grid_cell_done(o->out_dir, &cells[k]);
    double spent = 0;
    for (int k = lo; k < hi; k++) {
        if (grid_cell_done(o->out_dir, &cells[k])) {
            st->skipped++;
            if (o->on_cell) o->on_cell(g, &cells[k], n, 1, NULL, NAN, o->ctx);
            continue;
        }
        double eta = st->ran ? spent / st->ran * (todo - st->ran) : NAN;
        if (o->on_cell) o->on_cell(g, &cells[k], n, 0, NULL, eta, o->ctx);
        aca_run_result r;
        double t = time_now();
        int crc = run_cell(g, in, o, &cells[k], &r, e);
        spent += time_now() - t;
        st->ran++;
        eta = spent / st->ran * (todo - st->ran);
        if (!crc && o->on_cell) o->on_cell(g, &cells[k], n, 0, &r, eta, o->ctx);
        run_result_free(&r);
        if (crc) return -1;
    }
    return 0;
}

// A whole-grid run holds OUT/locks/grid exclusively; a --cell run holds it shared (Slurm tasks of
// one grid side by side) and its cell's lock exclusively.
static int lock_out(const aca_grid_opts *o, const aca_grid_cell *cells, int *grid_fd, int *cell_fd, aca_err *e) {
    if (o->cell < 0)
        return grid_lock(o->out_dir, "grid", 1, 0, "another aca grid runs there (the whole grid, or cells of it with --cell)",
                         grid_fd, e);
    const aca_grid_cell *c = &cells[o->cell];
    char name[GRID_ID_MAX + 16], busy[GRID_ID_MAX + 80];
    snprintf(name, sizeof name, "cell-%s", c->id);
    snprintf(busy, sizeof busy, "another aca grid runs cell %d (%s) there", c->index, c->id);
    return grid_lock(o->out_dir, "grid", 0, 0, "another aca grid runs the whole grid there (this cell too)",
                     grid_fd, e) ||
                   grid_lock(o->out_dir, name, 1, 0, busy, cell_fd, e)
               ? -1
               : 0;
}

int grid_run(const aca_grid_spec *g, const aca_grid_opts *o, aca_grid_stats *st, aca_err *e) {
    memset(st, 0, sizeof *st);
    aca_grid_cell *cells = NULL;
    const aca_grid_inputs *in = NULL;
    int n = 0, rc = -1, grid_fd = -1, cell_fd = -1;
    if (grid_cells(g, &cells, &n, e)) return -1;
    st->n_cells = n;
    const aca_grid_out_mode mode = o->cell >= 0 ? GRID_OUT_CELL : GRID_OUT_RUN;
    const int lo = o->cell >= 0 ? o->cell : 0, hi = o->cell >= 0 ? o->cell + 1 : n;
    char *cdir = path_join(o->out_dir, "cells");
    if (o->cell >= n) aca_errf(e, ACA_ERR_VALUE, "--cell %d: the grid has %d cells (0..%d)", o->cell, n, n - 1);
    else if (!grid_out_is_grid(o->out_dir, e) && !dir_make(cdir, e) &&
             (outdir_is(o->out_dir, "grid") || !outdir_mark(o->out_dir, "grid", e)) && !lock_out(o, cells, &grid_fd, &cell_fd, e) &&
             !grid_out_check(g, o->out_dir, cells, n, lo, hi, mode, e) && !grid_inputs(g, o->out_dir, &in, e) &&
             !grid_check(g, in, cells, lo, hi, e) && !grid_out_commit(g, o->out_dir, mode, e) &&
             (mode == GRID_OUT_CELL || !grid_results_rebuild(o->out_dir, cells, n, e))) {
        if (o->jobs > 1 && mode == GRID_OUT_RUN) rc = run_workers(g, in, o, cells, n, st, e);
        else rc = run_serial(g, in, o, cells, n, lo, hi, st, e);
        aca_err e2 = {0}; // results.jsonl in cell order again (also after a failure: the cells are the truth)
        if (mode == GRID_OUT_RUN && grid_results_rebuild(o->out_dir, cells, n, rc ? &e2 : e)) rc = -1;
    }
    grid_unlock(cell_fd);
    grid_unlock(grid_fd);
    grid_cells_free(cells, n);
    free(cdir);
    return rc;
}

// ---- aggregation -------------------------------------------------------------------------------
void grid_mean_std(const double *x, int n, double *mean, double *std, int *n_used) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], k++;
    if (n_used) *n_used = k;
    if (!k) {
        *mean = *std = NAN;
        return;
    }
    double m = s / k, ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = k > 1 ? sqrt(ss / (k - 1)) : 0;
}

static int same_levels(const aca_grid_spec *g, unsigned acting, const int *a, const int *b) {
    for (int i = 0; i < g->n_coll; i++)
        if ((acting >> i & 1) && a[i] != b[i]) return 0;
    return 1;
}

int grid_find_group(const aca_grid_agg *a, int variant, unsigned acting, const int *level_idx) {
    for (int k = 0; k < a->n_groups; k++) {
        const aca_grid_group *gr = &a->groups[k];
        if (gr->variant == variant && gr->acting == acting && same_levels(a->g, acting, gr->level_idx, level_idx))
            return k;
    }
    return -1;
}

// The metrics of group gr's cell in trial t, or NULL.
static const aca_grid_metrics *group_trial(const aca_grid_agg *a, const aca_grid_group *gr, int t) {
    for (int k = 0; k < a->n_cells; k++) {
        const aca_grid_cell *c = &a->cells[k];
        if (a->m[k].have && c->trial == t && c->variant == gr->variant && c->acting == gr->acting &&
            same_levels(a->g, gr->acting, c->level_idx, gr->level_idx))
            return &a->m[k];
    }
    return NULL;
}

void grid_aggregate_metrics(aca_grid_agg *a) {
    const aca_grid_spec *g = a->g;
    const int N = g->n_coll, T = g->trials;
    a->groups = xcalloc((size_t)a->n_cells + 1, sizeof *a->groups);
    a->n_groups = 0;
    for (int k = 0; k < a->n_cells; k++) {
        const aca_grid_cell *c = &a->cells[k];
        if (grid_find_group(a, c->variant, c->acting, c->level_idx) >= 0) continue;
        aca_grid_group *gr = &a->groups[a->n_groups++];
        gr->kind = c->kind;
        gr->variant = c->variant;
        gr->acting = c->acting;
        memcpy(gr->level_idx, c->level_idx, sizeof gr->level_idx);
        gr->first_cell = k;
    }
    double *x = xcalloc((size_t)T + 1, sizeof *x), *y = xcalloc((size_t)T + 1, sizeof *y);
    for (int q = 0; q < a->n_groups; q++) {
        aca_grid_group *gr = &a->groups[q];
        for (int t = 0; t < T; t++) {
            const aca_grid_metrics *m = group_trial(a, gr, t);
            x[t] = m ? m->acc : NAN;
        }
        grid_mean_std(x, T, &gr->acc_mean, &gr->acc_std, &gr->n);
        for (int i = 0; i < N; i++) {
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *m = group_trial(a, gr, t);
                x[t] = m ? m->eff[i] : NAN;
                y[t] = m ? m->eff_nt[i] : NAN;
            }
            grid_mean_std(x, T, &gr->eff_mean[i], &gr->eff_std[i], NULL);
            grid_mean_std(y, T, &gr->eff_nt_mean[i], &gr->eff_nt_std[i], NULL);
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *m = group_trial(a, gr, t);
                x[t] = m ? m->agree[i] : NAN;
            }
            grid_mean_std(x, T, &gr->agree_mean[i], &gr->agree_std[i], NULL);
            gr->ct_mean[i] = gr->ct_std[i] = gr->ctk_mean[i] = gr->ctk_std[i] = NAN;
            // A joint group against collective i alone at the same level, paired by trial: the
            // difference, and Karan's CT (the difference over the same trial's unpoisoned efficacy).
            if (gr->kind != GRID_CELL_JOINT || !(gr->acting >> i & 1)) continue;
            int al = grid_find_group(a, gr->variant, 1u << i, gr->level_idx);
            if (al < 0) continue;
            int b = grid_find_group(a, gr->variant, 0, gr->level_idx);
            for (int t = 0; t < T; t++) {
                const aca_grid_metrics *mj = group_trial(a, gr, t), *ma = group_trial(a, &a->groups[al], t);
                const aca_grid_metrics *mb = b >= 0 ? group_trial(a, &a->groups[b], t) : NULL;
                x[t] = mj && ma ? eval_delta_joint_alone(mj->eff[i], ma->eff[i]) : NAN;
                y[t] = mj && ma && mb ? eval_ct_karan(mj->eff[i], ma->eff[i], mb->eff[i]) : NAN;
            }
            grid_mean_std(x, T, &gr->ct_mean[i], &gr->ct_std[i], &gr->ct_n[i]);
            grid_mean_std(y, T, &gr->ctk_mean[i], &gr->ctk_std[i], &gr->ctk_n[i]);
        }
        if (a->K > 0) {
            gr->recall_mean = xcalloc((size_t)a->K, sizeof *gr->recall_mean);
            for (int k = 0; k < a->K; k++) {
                for (int t = 0; t < T; t++) {
                    const aca_grid_metrics *m = group_trial(a, gr, t);
                    x[t] = m && m->recall && m->K == a->K ? m->recall[k] : NAN;
                }
                double sd;
                grid_mean_std(x, T, &gr->recall_mean[k], &sd, NULL);
            }
        }
    }
    free(x);
    free(y);
}

static double group_eff(const aca_grid_agg *a, int variant, unsigned acting, int point, int i) {
    int lv[GRID_MAX_COLL];
    for (int k = 0; k < GRID_MAX_COLL; k++) lv[k] = point;
    int q = grid_find_group(a, variant, acting, lv);
    return q < 0 ? NAN : a->groups[q].eff_mean[i];
}

double grid_loo_harm(const aca_grid_agg *a, int variant, int point, int i, int j) {
    const unsigned all = (1u << a->g->n_coll) - 1;
    if (i == j) return NAN;
    return group_eff(a, variant, all, point, i) - group_eff(a, variant, all & ~(1u << j), point, i);
}

double grid_ct_pair(const aca_grid_agg *a, int variant, int point, int i, int j) {
    if (i == j) return NAN;
    return group_eff(a, variant, 1u << i | 1u << j, point, i) - group_eff(a, variant, 1u << i, point, i);
}

static double num_or_nan(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Fills m from a result.json root.
static void metrics_from_json(const aca_grid_spec *g, const cJSON *root, aca_grid_metrics *m) {
    const cJSON *met = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "result"), "metrics");
    m->have = 1;
    m->acc = num_or_nan(met, "accuracy");
    for (int i = 0; i < GRID_MAX_COLL; i++) m->eff[i] = m->eff_nt[i] = m->baseline[i] = m->agree[i] = NAN;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(met, "collectives"), *c;
    cJSON_ArrayForEach(c, cs) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        for (int i = 0; cJSON_IsString(nm) && i < g->n_coll; i++)
            if (!strcmp(nm->valuestring, g->coll[i].name)) {
                m->eff[i] = num_or_nan(c, "efficacy");
                m->eff_nt[i] = num_or_nan(c, "efficacy_nontarget");
                m->baseline[i] = num_or_nan(c, "baseline");
                m->agree[i] = num_or_nan(c, "agreement");
            }
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(met, "classes");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(met, "confusion");
    int K = cJSON_IsArray(cls) ? cJSON_GetArraySize(cls) : 0;
    if (K > 0 && cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == K) {
        m->K = K;
        m->classes = xcalloc((size_t)K, sizeof *m->classes);
        m->recall = xcalloc((size_t)K, sizeof *m->recall);
        for (int k = 0; k < K; k++) {
            const cJSON *nm = cJSON_GetArrayItem(cls, k), *row = cJSON_GetArrayItem(conf, k);
            m->classes[k] = xstrdup(cJSON_IsString(nm) ? nm->valuestring : "?");
            double tot = 0, hit = 0;
            for (int j = 0; cJSON_IsArray(row) && j < cJSON_GetArraySize(row); j++) {
                double v = cJSON_GetArrayItem(row, j)->valuedouble;
                tot += v;
                if (j == k) hit = v;
            }
            m->recall[k] = tot > 0 ? hit / tot : NAN;
        }
    }
}

int grid_aggregate(const aca_grid_spec *g, const char *out_dir, aca_grid_agg *a, aca_err *e) {
    memset(a, 0, sizeof *a);
    a->g = g;
    if (grid_cells(g, &a->cells, &a->n_cells, e)) return -1;
    // Nothing is reported from cells of other inputs or settings than the spec's.
    if (grid_out_check(g, out_dir, a->cells, a->n_cells, 0, a->n_cells, GRID_OUT_REPORT, e)) {
        grid_agg_free(a);
        return -1;
    }
    a->m = xcalloc((size_t)a->n_cells, sizeof *a->m);
    for (int k = 0; k < a->n_cells; k++) {
        a->m[k].cell = k;
        cJSON *root = grid_cell_result(out_dir, &a->cells[k], NULL);
        if (!root) continue;
        metrics_from_json(g, root, &a->m[k]);
        cJSON_Delete(root);
        a->n_done++;
        if (!a->classes && a->m[k].K > 0) {
            a->K = a->m[k].K;
            a->classes = xcalloc((size_t)a->K, sizeof *a->classes);
            for (int j = 0; j < a->K; j++) a->classes[j] = xstrdup(a->m[k].classes[j]);
        }
    }
    grid_aggregate_metrics(a);
    return 0;
}

void grid_agg_free(aca_grid_agg *a) {
    for (int k = 0; a->m && k < a->n_cells; k++) {
        for (int j = 0; j < a->m[k].K; j++) free(a->m[k].classes[j]);
        free(a->m[k].classes);
        free(a->m[k].recall);
    }
    free(a->m);
    for (int q = 0; a->groups && q < a->n_groups; q++) free(a->groups[q].recall_mean);
    free(a->groups);
    for (int j = 0; j < a->K; j++) free(a->classes[j]);
    free(a->classes);
    grid_cells_free(a->cells, a->n_cells);
    memset(a, 0, sizeof *a);
}
