// One condition end to end and the alone/joint experiment (see include/aca/run.h).
#include "aca/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "aca/datadir.h"
#include "aca/jsonw.h"
#include "aca/model.h"
#include "aca/mutate.h"
#include "aca/ops.h"
#include "aca/session.h"
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
    free(r->manifest);
    free(r->model_out);
    for (int k = 0; r->classes && k < r->eval.clean.K; k++) free(r->classes[k]);
    free(r->classes);
    eval_result_free(&r->eval);
    memset(r, 0, sizeof *r);
}

// ---- conditions and the context ----------------------------------------------------------------
void run_cond_init(aca_run_cond *c, const char *acting) {
    memset(c, 0, sizeof *c);
    aca_buf name = {0};
    if (!acting) {
        c->act = RUN_ACT_ALL;
        buf_puts(&name, "joint");
    } else if (!*acting) {
        c->act = RUN_ACT_NONE;
        buf_puts(&name, "none");
    } else {
        c->act = strchr(acting, ',') ? RUN_ACT_ALL : RUN_ACT_ONE;
        buf_printf(&name, "%s-%s", c->act == RUN_ACT_ONE ? "alone" : "joint", acting);
    }
    c->acting = acting ? xstrdup(acting) : NULL;
    c->name = name.data;
}

void run_cond_free(aca_run_cond *c) {
    free(c->acting);
    free(c->name);
    memset(c, 0, sizeof *c);
}

int run_ctx_open(aca_run_ctx *x, const aca_run_setup *s, aca_err *e) {
    memset(x, 0, sizeof *x);
    x->owns = 1;
    aca_corpus_opts co = s->corpus_opts;
    co.hash = 1; // the manifests name the corpus by the SHA-256 of the bytes this one read parsed
    if (s->corpus_path) {
        if (corpus_load(s->corpus_path, &co, &x->own_corpus, e)) goto fail;
        x->corpus = &x->own_corpus;
        x->corpus_path = s->corpus_path;
    }
    if (s->spec_path) {
        if (spec_load(s->spec_path, &x->own_spec, e)) goto fail;
        x->spec = &x->own_spec;
    }
    if (!(x->own_tok = tokenizer_for_model(s->vocab_path, s->model_dir, e))) goto fail;
    x->tok = x->own_tok;
    return 0;
fail:
    run_ctx_close(x);
    return -1;
}

void run_ctx_close(aca_run_ctx *x) {
    if (x->owns) {
        corpus_free(&x->own_corpus);
        spec_free(&x->own_spec);
        if (x->own_tok) tokenizer_free(x->own_tok);
    }
    memset(x, 0, sizeof *x);
}

// ---- one condition -----------------------------------------------------------------------------
// The condition's data made in memory from x's corpus and spec: the acting collectives' strategies
// applied (the empty set through spec_unpoisoned, whose manifest every aca version has recorded;
// its training set is the clean split either way), and the sink when asked.
static int cond_mutate(const aca_run_setup *s, const aca_run_ctx *x, const aca_run_cond *c, aca_spec *none,
                       aca_mutation *mu, aca_run_result *r, aca_err *e) {
    if (!x->corpus || !x->spec)
        return aca_errf(e, ACA_ERR_VALUE, "a condition needs a corpus and a spec, or a mutated data directory");
    aca_mutate_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.corpus_path = x->corpus_path;
    mo.only = c->act == RUN_ACT_NONE ? NULL : c->acting;
    mo.n_train = s->n_train;
    mo.n_test = s->n_test;
    mo.has_seed = s->has_data_seed;
    mo.seed = s->data_seed;
    const aca_spec *spec = x->spec;
    if (c->act == RUN_ACT_NONE) {
        if (spec_unpoisoned(x->spec, none, e)) return -1;
        spec = none;
    }
    if (mutate_apply(&mo, x->corpus, spec, mu, e) || (s->write_data && mutation_save(mu, r->data_dir, 0, e))) return -1;
    aca_buf m = {0};
    mutation_manifest_json(mu, &m);
    r->manifest = m.data;
    r->data_seed = mu->seed;
    return 0;
}

// The setup's data dir must hold the condition's acting collective.
static int cond_datadir(const aca_run_setup *s, const aca_run_cond *c, const aca_datadir *dd, aca_run_result *r,
                        aca_err *e) {
    r->data_seed = dd->seed;
    if (c->act != RUN_ACT_ONE) return 0;
    for (int i = 0; i < dd->n_coll; i++)
        if (!strcmp(dd->coll[i].name, c->acting)) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "%s: no collective named \"%s\" in the manifest", s->data_dir, c->acting);
}

// Trains the session's model on its training set and evaluates it: into r.
static int cond_train_eval(const aca_run_setup *s, const aca_session *ss, const char *cond_dir, aca_run_result *r,
                           aca_err *e) {
    char *ckpt = path_join(cond_dir, "ckpt");
    int rc = -1;
    snprintf(r->attention, sizeof r->attention, "%s", aca_backend_attention_name(model_backend(ss->model)));
    double t = time_now();
    aca_train_opts to = s->train;
    to.ckpt_dir = ckpt;
    if (train_run(ss->model, &ss->train, &to, &r->train, e)) goto done;
    r->t_train = time_now() - t;
    if (s->keep_model) {
        r->model_out = path_join(cond_dir, "model");
        if (train_save_hf(ss->model, r->model_out, ss->tok, e)) goto done;
    }
    t = time_now();
    if (eval_sets(ss->model, &ss->test, ss->ep, ss->n_coll, s->eval_batch, &r->eval, e)) goto done;
    r->t_eval = time_now() - t;
    r->classes = xcalloc((size_t)ss->n_classes, sizeof *r->classes);
    for (int k = 0; k < ss->n_classes; k++) r->classes[k] = xstrdup(ss->classes[k]);
    rc = 0;
done:
    free(ckpt);
    return rc;
}

int run_condition(const aca_run_setup *s, const aca_run_ctx *x, const aca_run_cond *c, aca_run_result *r,
                  aca_err *e) {
    memset(r, 0, sizeof *r);
    const double t0 = time_now();
    r->act = c->act;
    r->only = c->act != RUN_ACT_NONE && c->acting ? xstrdup(c->acting) : NULL;
    r->cond_name = xstrdup(c->name);
    r->train_seed = s->train.seed;
    snprintf(r->device, sizeof r->device, "%s/%s", s->device, s->precision);
    char *cond_dir = path_join(s->work_dir, r->cond_name);
    char *cache = s->cache_dir ? xstrdup(s->cache_dir) : path_join(s->work_dir, "tokcache");
    aca_mutation mu = {0};
    aca_spec none = {0};
    aca_session ss = {0};
    int rc = -1;
    if (dir_make(cond_dir, e)) goto done;
    double t = time_now();
    r->data_dir = s->data_dir ? xstrdup(s->data_dir) : path_join(cond_dir, "data");
    if (!s->data_dir && cond_mutate(s, x, c, &none, &mu, r, e)) goto done;
    r->t_mutate = time_now() - t;
    aca_session_opts so = {.use = SESSION_TRAIN | SESSION_EVAL, .s = s, .data_dir = s->data_dir,
                           .mu = s->data_dir ? NULL : &mu, .cache_dir = cache, .tok = x->tok};
    if (session_open(&ss, &so, e) || (s->data_dir && cond_datadir(s, c, &ss.dd, r, e))) goto done;
    r->t_tokenize = ss.t_tokenize;
    rc = cond_train_eval(s, &ss, cond_dir, r, e);
done:
    if (rc) aca_err_prefix(e, "condition %s", r->cond_name);
    r->t_total = time_now() - t0;
    r->peak_rss = mem_peak_rss();
    session_close(&ss);
    mutation_free(&mu);
    spec_free(&none);
    free(cache);
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
