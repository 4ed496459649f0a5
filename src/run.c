// One condition end to end and the alone/joint experiment (see include/aca/run.h).
#include "aca/run.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "aca/datadir.h"
#include "aca/jsonw.h"
#include "aca/model.h"
#include "aca/mutate.h"
#include "aca/ops.h"
#include "aca/tokenizer.h"

const char *run_act_name(aca_run_act a) {
    switch (a) {
    case RUN_ACT_NONE: return "none";
    case RUN_ACT_ONE: return "alone";
    case RUN_ACT_ALL: return "joint";
    }
    return "?";
}

void run_result_free(aca_run_result *r) {
    free(r->only);
    free(r->cond_name);
    free(r->data_dir);
    free(r->model_out);
    for (int k = 0; r->classes && k < r->eval.clean.K; k++) free(r->classes[k]);
    free(r->classes);
    eval_result_free(&r->eval);
    memset(r, 0, sizeof *r);
}

static char *str_printf(const char *fmt, const char *a) {
    size_t n = strlen(fmt) + strlen(a) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, fmt, a);
    return s;
}

static int check_max_len(const aca_run_setup *s, const aca_config *cfg, const char *cpath, aca_err *e) {
    if (s->max_len <= cfg->max_position) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "--max-len %d exceeds %s's max_position_embeddings %d", s->max_len, cpath,
                    cfg->max_position);
}

int run_check_model(const aca_run_setup *s, const aca_tokenizer *tok, aca_err *e) {
    if (!!s->model_dir == !!s->config_path) return 0; // run_load_model says it
    char *cpath = s->model_dir ? path_join(s->model_dir, "config.json") : xstrdup(s->config_path);
    aca_config cfg;
    int rc = config_load(cpath, &cfg, e);
    if (!rc) {
        rc = tokenizer_fits_model(tok, cfg.vocab_size, e) || check_max_len(s, &cfg, cpath, e) ||
             (s->model_dir && model_check_checkpoint(&cfg, s->model_dir, e));
        config_free(&cfg);
    }
    free(cpath);
    return rc ? -1 : 0;
}

int run_load_model(const aca_run_setup *s, char *const *classes, int n_classes, int max_B, aca_model **out, aca_err *e) {
    *out = NULL;
    if (!!s->model_dir == !!s->config_path)
        return aca_errf(e, ACA_ERR_VALUE, "give exactly one of --model DIR (a checkpoint) or --config FILE (random init)");
    aca_config cfg;
    char *cpath = s->model_dir ? path_join(s->model_dir, "config.json") : xstrdup(s->config_path);
    int rc = config_load(cpath, &cfg, e);
    if (rc) {
        free(cpath);
        return -1;
    }
    int from_ckpt = s->model_dir != NULL;
    // A checkpoint's head must already have the data's classes unless the checkpoint has no head
    // (a base model): model_load then initialises it, and reports a mis-shaped classifier otherwise.
    int had = cfg.num_labels;
    config_set_labels(&cfg, n_classes, (const char *const *)classes);
    aca_backend *be = aca_backend_create(s->device, s->precision, e);
    aca_model *m = NULL;
    if (!be || aca_backend_set_attention(be, s->attention, e)) goto fail;
    if (check_max_len(s, &cfg, cpath, e)) goto fail;
    m = model_create(&cfg, be, max_B, s->max_len, e);
    if (!m) goto fail;
    if (from_ckpt) {
        aca_load_opts lo = {s->init_seed, s->new_head};
        if (model_load_with(m, s->model_dir, &lo, e)) {
            if (had != n_classes && !s->new_head)
                aca_err_prefix(e, "%s has a %d-class head but the data has %d classes (aca train --new-head trains a fresh "
                               "one)", cpath, had, n_classes);
            goto fail;
        }
    } else {
        model_init_random(m, s->init_seed);
    }
    config_free(&cfg);
    free(cpath);
    *out = m;
    return 0;
fail:
    if (m) model_free(m);
    if (be) aca_backend_destroy(be);
    config_free(&cfg);
    free(cpath);
    return -1;
}

void run_free_model(aca_model *m) {
    if (!m) return;
    aca_backend *be = model_backend(m);
    model_free(m);
    aca_backend_destroy(be);
}

// The unpoisoned baseline.  The mutate stage has no "nobody acts" switch, so the spec is rewritten
// to DIR.spec_none.json with every collective turned into a no-op that keeps its name, target and
// signal (so the split, the test set and the probes are those of the other conditions): one member
// drawn from its own target class and relabeled (label-only) to that same class.  The training set
// is then the clean split, byte for byte in text and label.
static int write_none_spec(const char *spec_path, const char *out_path, aca_err *e) {
    aca_buf b = {0};
    if (file_read_all(spec_path, &b, e)) return -1;
    cJSON *root = cJSON_Parse(b.data);
    buf_free(&b);
    const cJSON *cs = root ? cJSON_GetObjectItemCaseSensitive(root, "collectives") : NULL;
    if (!cJSON_IsArray(cs)) {
        cJSON_Delete(root);
        return aca_errf(e, ACA_ERR_FORMAT, "%s: expected a JSON object with a \"collectives\" array", spec_path);
    }
    cJSON *c;
    cJSON_ArrayForEach(c, cs) {
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(c, "target");
        if (!cJSON_IsObject(c) || !cJSON_IsString(target)) continue; // the spec parser reports it
        const char *drop[] = {"size", "members", "sampling", "strategy", "n_e"};
        for (size_t k = 0; k < ACA_ARRAY_LEN(drop); k++) cJSON_DeleteItemFromObjectCaseSensitive(c, drop[k]);
        cJSON_AddNumberToObject(c, "size", 1);
        cJSON *smp = cJSON_AddObjectToObject(c, "sampling");
        cJSON_AddStringToObject(smp, "kind", "class");
        cJSON_AddStringToObject(smp, "seed_class", target->valuestring);
        cJSON_AddStringToObject(c, "strategy", "label-only");
    }
    char *txt = cJSON_Print(root);
    int rc = file_write_atomic(out_path, txt, strlen(txt), e);
    cJSON_free(txt);
    cJSON_Delete(root);
    return rc;
}

static int mutate_condition(const aca_run_setup *s, aca_run_act act, const char *only, const char *dir, aca_err *e) {
    aca_mutate_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.corpus_path = s->corpus_path;
    mo.spec_path = s->spec_path;
    mo.out_dir = dir;
    mo.only = act == RUN_ACT_ONE ? only : NULL;
    mo.n_train = s->n_train;
    mo.n_test = s->n_test;
    mo.has_seed = s->has_data_seed;
    mo.seed = s->data_seed;
    mo.corpus_opts = s->corpus_opts;
    char *none_spec = NULL;
    if (act == RUN_ACT_NONE) {
        none_spec = str_printf("%s.spec_none.json", dir);
        if (write_none_spec(s->spec_path, none_spec, e)) {
            free(none_spec);
            return -1;
        }
        mo.spec_path = none_spec;
    }
    int rc = mutate_run(&mo, e);
    free(none_spec);
    return rc;
}

int run_condition(const aca_run_setup *s, aca_run_act act, const char *only, aca_run_result *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    const double t0 = time_now();
    r->act = act;
    r->only = act == RUN_ACT_ONE && only ? xstrdup(only) : NULL;
    if (act == RUN_ACT_ONE && !only) return aca_errf(e, ACA_ERR_VALUE, "condition 'alone' needs a collective name");
    r->cond_name = act == RUN_ACT_ONE ? str_printf("alone-%s", only) : xstrdup(run_act_name(act));
    r->train_seed = s->train.seed;
    snprintf(r->device, sizeof r->device, "%s/%s", s->device, s->precision);

    char *cond_dir = path_join(s->work_dir, r->cond_name);
    char *ckpt = path_join(cond_dir, "ckpt");
    char *cache = s->cache_dir ? xstrdup(s->cache_dir) : path_join(s->work_dir, "tokcache");
    aca_tokenizer *tok = NULL;
    aca_model *m = NULL;
    aca_datadir dd = {0};
    aca_dataset train = {0};
    int rc = -1;
    if (dir_make(cond_dir, e)) goto done;

    double t = time_now();
    if (s->data_dir) {
        r->data_dir = xstrdup(s->data_dir);
    } else {
        if (!s->corpus_path || !s->spec_path) {
            aca_errf(e, ACA_ERR_VALUE, "a condition needs a corpus and a spec, or a mutated data directory");
            goto done;
        }
        r->data_dir = path_join(cond_dir, "data");
        if (mutate_condition(s, act, only, r->data_dir, e)) goto done;
    }
    r->t_mutate = time_now() - t;
    if (datadir_open(r->data_dir, &dd, e)) goto done;
    r->data_seed = dd.seed;
    if (act == RUN_ACT_ONE) {
        int found = 0;
        for (int i = 0; i < dd.n_coll; i++) found |= !strcmp(dd.coll[i].name, only);
        if (!found) {
            aca_errf(e, ACA_ERR_VALUE, "%s: no collective named \"%s\" in the manifest", r->data_dir, only);
            goto done;
        }
    }

    t = time_now();
    if (!(tok = tokenizer_for_model(s->vocab_path, s->model_dir, e))) goto done;
    if (data_load_jsonl(dd.train_path, dd.classes, dd.n_classes, tok, s->max_len, cache, &train, e)) goto done;
    r->t_tokenize = time_now() - t;

    int tb = train_model_batch(&s->train), maxB = tb > s->eval_batch ? tb : s->eval_batch;
    if (run_load_model(s, dd.classes, dd.n_classes, maxB, &m, e)) goto done;
    snprintf(r->attention, sizeof r->attention, "%s", aca_backend_attention_name(model_backend(m)));
    if (tokenizer_fits_model(tok, model_config(m)->vocab_size, e)) goto done;

    t = time_now();
    aca_train_opts to = s->train;
    to.ckpt_dir = ckpt;
    if (train_run(m, &train, &to, &r->train, e)) goto done;
    r->t_train = time_now() - t;
    if (s->keep_model) {
        r->model_out = path_join(cond_dir, "model");
        if (train_save_hf(m, r->model_out, tok, e)) goto done;
    }

    t = time_now();
    aca_eval_opts eo = {s->eval_batch, s->max_len, cache};
    if (eval_datadir(m, tok, &dd, &eo, &r->eval, e)) goto done;
    r->t_eval = time_now() - t;
    r->classes = xcalloc((size_t)dd.n_classes, sizeof *r->classes);
    for (int k = 0; k < dd.n_classes; k++) r->classes[k] = xstrdup(dd.classes[k]);
    rc = 0;
done:
    if (rc) aca_err_prefix(e, "condition %s", r->cond_name ? r->cond_name : "?");
    r->t_total = time_now() - t0;
    r->peak_rss = mem_peak_rss();
    run_free_model(m);
    if (tok) tokenizer_free(tok);
    dataset_free(&train);
    datadir_free(&dd);
    free(cache);
    free(ckpt);
    free(cond_dir);
    return rc;
}

// ---- results -----------------------------------------------------------------------------------
static void config_json(const aca_run_setup *s, const aca_run_result *r, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kstr(w, "corpus", s->corpus_path);
    jsonw_kstr(w, "spec", s->spec_path);
    jsonw_kstr(w, "data_dir", r->data_dir);
    run_opts_write_json(s, RUN_OPT_CONFIG, NULL, w); // model, config, n_train, ..., precision
    jsonw_end(w);
}

static void timings_json(const aca_run_result *r, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_knum(w, "mutate_s", r->t_mutate);
    jsonw_knum(w, "tokenize_s", r->t_tokenize);
    jsonw_knum(w, "train_s", r->t_train);
    jsonw_knum(w, "eval_s", r->t_eval);
    jsonw_knum(w, "total_s", r->t_total);
    jsonw_knum(w, "tokens_per_s", r->train.tokens_per_s);
    jsonw_kuint(w, "peak_rss_bytes", r->peak_rss);
    jsonw_end(w);
}

// DP-SGD's settings and what the training spent (epsilon null when infinite: sigma = 0); null without DP.
static void dp_json(const aca_run_setup *s, const aca_run_result *r, aca_jsonw *w) {
    if (!s->train.dp) {
        jsonw_null(w);
        return;
    }
    jsonw_obj(w);
    jsonw_kstr(w, "sampling", train_dp_sampling_name(s->train.dp_sampling));
    jsonw_kbool(w, "freeze_embeddings", s->train.dp_freeze_embeddings);
    jsonw_knum(w, "clip", s->train.dp_clip);
    jsonw_knum(w, "sigma", r->train.dp_sigma);
    jsonw_knum(w, "target_epsilon", s->train.dp_epsilon);
    jsonw_knum(w, "q", r->train.dp_q);
    jsonw_knum(w, "delta", s->train.dp_delta);
    jsonw_knum(w, "epsilon", r->train.dp_epsilon);
    jsonw_knum(w, "rdp_order", r->train.dp_order);
    jsonw_knum(w, "clipped_frac", r->train.dp_clipped_frac);
    jsonw_end(w);
}

void run_result_to_json(const aca_run_setup *s, const aca_run_result *r, aca_buf *out) {
    char ts[32];
    time_iso8601(ts, sizeof ts);
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_kstr(&w, "condition", r->cond_name);
    jsonw_kstr(&w, "act", run_act_name(r->act));
    jsonw_kstr(&w, "only", r->only);
    jsonw_kstr(&w, "time", ts);
    jsonw_kstr(&w, "git", aca_git_revision());
    jsonw_kstr(&w, "device", r->device);
    jsonw_kstr(&w, "attention", r->attention);
    jsonw_key(&w, "config");
    config_json(s, r, &w);
    jsonw_key(&w, "seeds");
    jsonw_obj(&w);
    jsonw_kuint(&w, "data", r->data_seed);
    jsonw_kuint(&w, "train", r->train_seed);
    jsonw_kuint(&w, "init", s->init_seed);
    jsonw_end(&w);
    jsonw_key(&w, "timings");
    timings_json(r, &w);
    jsonw_key(&w, "train");
    jsonw_obj(&w);
    jsonw_kint(&w, "steps", r->train.steps);
    jsonw_kint(&w, "skipped_steps", r->train.skipped_steps);
    jsonw_knum(&w, "first_loss", r->train.first_loss);
    jsonw_knum(&w, "last_epoch_loss", r->train.last_epoch_loss);
    jsonw_key(&w, "dp");
    dp_json(s, r, &w);
    jsonw_end(&w);
    aca_buf m = {0};
    eval_result_to_json(&r->eval, r->classes, &m);
    jsonw_key(&w, "metrics");
    jsonw_raw(&w, m.data);
    jsonw_end(&w);
    buf_free(&m);
}

int run_results_append(const char *path, const char *line, size_t n, aca_err *e) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return aca_errf(e, ACA_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX) != 0) {
        int err = errno;
        close(fd);
        return aca_errf(e, ACA_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
    }
    char *s = xmalloc(n + 1);
    memcpy(s, line, n);
    s[n] = '\n';
    ssize_t w = write(fd, s, n + 1);
    int err = errno;
    int rc = 0;
    if (w != (ssize_t)(n + 1)) {
        // A short write (disk full) leaves a partial line: cut it off again.
        if (w > 0) {
            off_t end = lseek(fd, 0, SEEK_END);
            if (end >= w && ftruncate(fd, end - w) != 0) { /* nothing more to do */ }
        }
        rc = aca_errf(e, ACA_ERR_IO, "%s: append failed: %s", path, w < 0 ? strerror(err) : "short write (disk full?)");
    } else if (fsync(fd) != 0) {
        rc = aca_errf(e, ACA_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    }
    free(s);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

// ---- the experiment ----------------------------------------------------------------------------
void experiment_free(aca_experiment *x) {
    for (int i = 0; i < x->n_coll; i++) {
        free(x->names[i]);
        if (x->alone) run_result_free(&x->alone[i]);
    }
    free(x->names);
    free(x->alone);
    if (x->has_none) run_result_free(&x->none);
    run_result_free(&x->joint);
    free(x->delta), free(x->unpoisoned_eff), free(x->unpoisoned_rate), free(x->ct_karan), free(x->delta_over_lift);
    memset(x, 0, sizeof *x);
}

static const aca_efficacy *find_eff(const aca_run_result *r, const char *name) {
    for (int i = 0; i < r->eval.n_coll; i++)
        if (!strcmp(r->eval.eff[i].name, name)) return &r->eval.eff[i];
    return NULL;
}

static int finish_condition(const aca_run_setup *s, const char *results_path, aca_run_result *r, aca_err *e) {
    if (!results_path) return 0;
    aca_buf b = {0};
    run_result_to_json(s, r, &b);
    int rc = run_results_append(results_path, b.data, b.len, e);
    buf_free(&b);
    return rc;
}

int run_experiment(const aca_run_setup *s, int with_none, const char *results_path,
                   void (*on_cond)(const char *cond, int i, int n, void *ctx), void *ctx, aca_experiment *x,
                   aca_err *e) {
    memset(x, 0, sizeof *x);
    if (!s->spec_path) return aca_errf(e, ACA_ERR_VALUE, "an experiment needs a collectives spec");
    if (s->data_dir) return aca_errf(e, ACA_ERR_VALUE, "an experiment mutates per condition: give a corpus, not a data dir");
    aca_spec spec;
    if (spec_load(s->spec_path, &spec, e)) return -1;
    if (spec.n < 1) {
        spec_free(&spec);
        return aca_errf(e, ACA_ERR_VALUE, "%s: the spec has no collectives", s->spec_path);
    }
    x->n_coll = spec.n;
    x->names = xcalloc((size_t)spec.n, sizeof *x->names);
    for (int i = 0; i < spec.n; i++) x->names[i] = xstrdup(spec.collectives[i].name);
    spec_free(&spec);
    x->alone = xcalloc((size_t)x->n_coll, sizeof *x->alone);
    const int n_cond = x->n_coll + 1 + !!with_none;
    int k = 0;
    if (with_none) {
        if (on_cond) on_cond("none", k, n_cond, ctx);
        k++;
        x->has_none = 1; // so that experiment_free frees a partial result
        if (run_condition(s, RUN_ACT_NONE, NULL, &x->none, e)) goto fail;
        if (finish_condition(s, results_path, &x->none, e)) goto fail;
    }
    for (int i = 0; i < x->n_coll; i++) {
        char cond[300];
        snprintf(cond, sizeof cond, "alone-%s", x->names[i]);
        if (on_cond) on_cond(cond, k, n_cond, ctx);
        k++;
        if (run_condition(s, RUN_ACT_ONE, x->names[i], &x->alone[i], e)) goto fail;
        if (finish_condition(s, results_path, &x->alone[i], e)) goto fail;
    }
    if (on_cond) on_cond("joint", k, n_cond, ctx);
    if (run_condition(s, RUN_ACT_ALL, NULL, &x->joint, e)) goto fail;
    if (finish_condition(s, results_path, &x->joint, e)) goto fail;
    return experiment_measure(x, e);
fail:
    return -1;
}

int experiment_measure(aca_experiment *x, aca_err *e) {
    const size_t n = (size_t)x->n_coll + 1;
    double **v[] = {&x->delta, &x->unpoisoned_eff, &x->unpoisoned_rate, &x->ct_karan, &x->delta_over_lift};
    for (size_t k = 0; k < ACA_ARRAY_LEN(v); k++) {
        free(*v[k]);
        *v[k] = xcalloc(n, sizeof **v[k]);
    }
    for (int i = 0; i < x->n_coll; i++) {
        const aca_efficacy *a = find_eff(&x->alone[i], x->names[i]), *j = find_eff(&x->joint, x->names[i]);
        const aca_efficacy *u = x->has_none ? find_eff(&x->none, x->names[i]) : NULL;
        if (!a || !j)
            return aca_errf(e, ACA_ERR_FORMAT, "collective %s has no probe results (manifest lacks it?)", x->names[i]);
        x->delta[i] = eval_delta_joint_alone(j->efficacy, a->efficacy);
        x->unpoisoned_eff[i] = u ? u->efficacy : NAN;
        x->unpoisoned_rate[i] = u ? u->clean_target_rate : NAN;
        x->ct_karan[i] = eval_ct_karan(j->efficacy, a->efficacy, x->unpoisoned_eff[i]);
        x->delta_over_lift[i] = eval_delta_over_lift(j->efficacy, a->efficacy, a->clean_target_rate);
    }
    return 0;
}

static void pct(aca_buf *b, double x, int width) {
    if (isfinite(x)) buf_printf(b, "%*.1f%%", width - 1, 100.0 * x);
    else buf_printf(b, "%*s", width, "n/a");
}

void experiment_summary(const aca_experiment *x, aca_buf *out) {
    buf_puts(out, "condition           clean acc   train s   final loss\n");
    const aca_run_result *rows[66];
    int nr = 0;
    if (x->has_none) rows[nr++] = &x->none;
    for (int i = 0; i < x->n_coll && nr < 64; i++) rows[nr++] = &x->alone[i];
    rows[nr++] = &x->joint;
    for (int i = 0; i < nr; i++) {
        buf_printf(out, "%-18s ", rows[i]->cond_name);
        pct(out, rows[i]->eval.clean.accuracy, 10);
        buf_printf(out, "  %8.1f   %10.4f\n", rows[i]->t_train, rows[i]->train.last_epoch_loss);
    }
    buf_puts(out, "\ncollective  target                 eff alone  (non-target)  eff joint  (non-target)  "
                  "unpoisoned target rate\n");
    for (int i = 0; i < x->n_coll; i++) {
        const aca_efficacy *a = find_eff(&x->alone[i], x->names[i]), *j = find_eff(&x->joint, x->names[i]);
        if (!a || !j) continue;
        buf_printf(out, "%-11s %-22s ", x->names[i], x->alone[i].classes[a->target]);
        pct(out, a->efficacy, 10);
        buf_puts(out, "  ");
        pct(out, a->efficacy_nontarget, 12);
        buf_puts(out, "  ");
        pct(out, j->efficacy, 9);
        buf_puts(out, "  ");
        pct(out, j->efficacy_nontarget, 12);
        buf_puts(out, "  ");
        pct(out, x->unpoisoned_rate ? x->unpoisoned_rate[i] : NAN, 22);
        buf_putc(out, '\n');
    }
    // Header widths in characters (\u0394 and \u2212 take 2 and 3 bytes).
    buf_puts(out, "\ncollective  \u0394 joint\u2212alone (points)  unpoisoned eff  CT (Karan, normalised)\n");
    for (int i = 0; i < x->n_coll; i++) {
        double d = x->delta ? x->delta[i] : NAN, ck = x->ct_karan ? x->ct_karan[i] : NAN;
        buf_printf(out, "%-11s ", x->names[i]);
        if (isfinite(d)) buf_printf(out, "%+22.1f", 100.0 * d);
        else buf_printf(out, "%22s", "n/a");
        buf_puts(out, "  ");
        pct(out, x->unpoisoned_eff ? x->unpoisoned_eff[i] : NAN, 14);
        if (isfinite(ck)) buf_printf(out, "  %+22.2f\n", ck);
        else buf_printf(out, "  %22s\n", "n/a");
    }
    buf_puts(out, "(efficacy = probes predicted as the target; non-target = over probes whose true class is not the "
                  "target;\n unpoisoned target rate = unmodified test docs the unpoisoned model predicts as the target;\n"
                  " \u0394 joint\u2212alone = eff joint \u2212 eff alone; unpoisoned eff = the unpoisoned model's efficacy "
                  "on the probes;\n CT (Karan, normalised) = \u0394 joint\u2212alone / unpoisoned eff, the constructiveness "
                  "score of Karan et al. 2025)\n");
}

void experiment_to_json(const aca_experiment *x, aca_buf *out) {
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_key(&w, "clean_accuracy");
    jsonw_obj(&w);
    if (x->has_none) jsonw_knum(&w, "none", x->none.eval.clean.accuracy);
    for (int i = 0; i < x->n_coll; i++) jsonw_knum(&w, x->alone[i].cond_name, x->alone[i].eval.clean.accuracy);
    jsonw_knum(&w, "joint", x->joint.eval.clean.accuracy);
    jsonw_end(&w);
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    for (int i = 0; i < x->n_coll; i++) {
        const aca_efficacy *a = find_eff(&x->alone[i], x->names[i]), *j = find_eff(&x->joint, x->names[i]);
        jsonw_obj(&w);
        jsonw_kstr(&w, "name", x->names[i]);
        jsonw_knum(&w, "eff_alone", a ? a->efficacy : NAN);
        jsonw_knum(&w, "eff_alone_nontarget", a ? a->efficacy_nontarget : NAN);
        jsonw_knum(&w, "eff_joint", j ? j->efficacy : NAN);
        jsonw_knum(&w, "eff_joint_nontarget", j ? j->efficacy_nontarget : NAN);
        const char *keys[] = {"delta_joint_alone", "unpoisoned_eff", "ct_karan", "unpoisoned_target_rate",
                              "alone_clean_target_rate", "ct", "baseline", "ct_rel"}; // the last 3: old names
        const double vals[] = {x->delta[i], x->unpoisoned_eff[i], x->ct_karan[i], x->unpoisoned_rate[i],
                               a ? a->clean_target_rate : NAN, x->delta[i], a ? a->clean_target_rate : NAN,
                               x->delta_over_lift[i]};
        for (size_t k = 0; k < ACA_ARRAY_LEN(keys); k++) jsonw_knum(&w, keys[k], vals[k]);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
}
