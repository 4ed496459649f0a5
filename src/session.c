// One way to open a session: tokenizer, model and data with every cross-check (include/aca/session.h).
#include "aca/session.h"

#include <stdlib.h>
#include <string.h>

#include "aca/config.h"
#include "aca/ops.h"
#include "aca/train.h"

// ---- the model ---------------------------------------------------------------------------------
static char *config_path_of(const aca_run_setup *s) {
    return s->model_dir ? path_join(s->model_dir, "config.json") : xstrdup(s->config_path);
}

static int check_one_model(const aca_run_setup *s, aca_err *e) {
    if (!!s->model_dir != !!s->config_path) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "give exactly one of --model DIR (a checkpoint) or --config FILE (random init)");
}

// s->max_len within the model's positions; len_from names what set it (NULL: the option --max-len).
static int check_max_len(const aca_run_setup *s, const aca_config *cfg, const char *cpath, const char *len_from,
                         aca_err *e) {
    if (s->max_len <= cfg->max_position) return 0;
    if (len_from)
        return aca_errf(e, ACA_ERR_VALUE, "%s: %d tokens per document exceed %s's max_position_embeddings %d", len_from,
                        s->max_len, cpath, cfg->max_position);
    return aca_errf(e, ACA_ERR_VALUE, "--max-len %d exceeds %s's max_position_embeddings %d", s->max_len, cpath,
                    cfg->max_position);
}

// A checkpoint's head of n_classes classes, as its config.json says (data: where the data's class
// list comes from, for the message).
static int check_head_count(const aca_config *cfg, const char *cpath, int n_classes, const char *data, aca_err *e) {
    if (cfg->num_labels == n_classes) return 0;
    return aca_errf(e, ACA_ERR_VALUE, "%s: the model's head has %d classes but %s%s lists %d", cpath, cfg->num_labels,
                    data ? data : "the data", data ? "/manifest.json" : "", n_classes);
}

// session_check_model, with len_from as check_max_len takes it, and with head_classes > 0 a
// checkpoint's head of that many classes (a model to evaluate on data whose class list comes from
// the directory data, or from memory when NULL).
static int check_model(const aca_run_setup *s, const aca_tokenizer *tok, const char *len_from, int head_classes,
                       const char *data, aca_err *e) {
    if (check_one_model(s, e)) return -1;
    char *cpath = config_path_of(s);
    aca_config cfg;
    int rc = config_load(cpath, &cfg, e);
    if (!rc) {
        rc = (tok && tokenizer_fits_model(tok, cfg.vocab_size, e)) || check_max_len(s, &cfg, cpath, len_from, e) ||
             (s->model_dir && model_check_checkpoint(&cfg, s->model_dir, e)) ||
             (s->model_dir && head_classes > 0 && check_head_count(&cfg, cpath, head_classes, data, e));
        config_free(&cfg);
    }
    free(cpath);
    return rc ? -1 : 0;
}

int session_check_model(const aca_run_setup *s, const aca_tokenizer *tok, aca_err *e) {
    return check_model(s, tok, NULL, 0, NULL, e);
}

int session_load_model(const aca_run_setup *s, char *const *classes, int n_classes, int max_B, int need_head,
                       aca_model **out, aca_err *e) {
    *out = NULL;
    if (check_one_model(s, e)) return -1;
    aca_config cfg;
    char *cpath = config_path_of(s);
    if (config_load(cpath, &cfg, e)) {
        free(cpath);
        return -1;
    }
    // A checkpoint's head must already have the data's classes unless the checkpoint has no head
    // (a base model): model_load then initialises it, and reports a mis-shaped classifier otherwise.
    int had = cfg.num_labels;
    if (classes) config_set_labels(&cfg, n_classes, (const char *const *)classes);
    aca_backend *be = aca_backend_create(s->device, s->precision, e);
    aca_model *m = NULL;
    if (!be || aca_backend_set_attention(be, s->attention, e)) goto fail;
    if (check_max_len(s, &cfg, cpath, NULL, e)) goto fail;
    if (!(m = model_create(&cfg, be, max_B, s->max_len, e))) goto fail;
    if (s->model_dir) {
        aca_load_opts lo = {s->init_seed, s->new_head, need_head};
        if (model_load_with(m, s->model_dir, &lo, e)) {
            if (classes && had != n_classes && !s->new_head)
                aca_err_prefix(e, need_head ? "%s has a %d-class head but the data has %d classes"
                                            : "%s has a %d-class head but the data has %d classes (aca train --new-head "
                                              "trains a fresh one)",
                               cpath, had, n_classes);
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

void session_free_model(aca_model *m) {
    if (!m) return;
    aca_backend *be = model_backend(m);
    model_free(m);
    aca_backend_destroy(be);
}

// ---- the data ----------------------------------------------------------------------------------
// One set of a mutation tokenized from its JSONL bytes (name: its file's, for messages and the cache).
static int mut_set_tokens(const aca_session_opts *o, const aca_session *ss, const aca_mut_set *set, const char *name,
                          aca_dataset *out, aca_err *e) {
    aca_buf b = {0};
    mutation_jsonl(o->mu, set, &b);
    int rc = data_load_jsonl_text(name, &b, ss->classes, ss->n_classes, ss->tok, o->s->max_len, o->cache_dir, out, e);
    buf_free(&b);
    return rc;
}

static int file_tokens(const aca_session_opts *o, const aca_session *ss, const char *path, aca_dataset *out,
                       aca_err *e) {
    return data_load_jsonl(path, ss->classes, ss->n_classes, ss->tok, o->s->max_len, o->cache_dir, out, e);
}

// The sets o->use asks for, tokenized (through the token cache).
static int session_tokenize(aca_session *ss, const aca_session_opts *o, aca_err *e) {
    const aca_mutation *mu = o->mu;
    const aca_datadir *dd = &ss->dd;
    double t0 = time_now();
    int rc = 0;
    if (o->use & SESSION_TRAIN)
        rc = mu ? mut_set_tokens(o, ss, &mu->train, "train.jsonl", &ss->train, e)
                : file_tokens(o, ss, dd->train_path, &ss->train, e);
    if (!rc && (o->use & SESSION_EVAL)) {
        ss->n_coll = mu ? mu->spec->n : dd->n_coll;
        ss->probe = xcalloc((size_t)ss->n_coll + 1, sizeof *ss->probe);
        ss->ep = xcalloc((size_t)ss->n_coll + 1, sizeof *ss->ep);
        rc = mu ? mut_set_tokens(o, ss, &mu->test, "test.jsonl", &ss->test, e)
                : file_tokens(o, ss, dd->test_path, &ss->test, e);
        for (int i = 0; !rc && i < ss->n_coll; i++) {
            if (mu) {
                const char *nm = mu->spec->collectives[i].name;
                char file[96];
                snprintf(file, sizeof file, "probe_%s.jsonl", nm);
                ss->ep[i] = (aca_eval_probe){nm, mu->coll[i].target, &ss->probe[i]};
                rc = mut_set_tokens(o, ss, &mu->probe[i], file, &ss->probe[i], e);
            } else {
                ss->ep[i] = (aca_eval_probe){dd->coll[i].name, dd->coll[i].target_id, &ss->probe[i]};
                rc = file_tokens(o, ss, dd->coll[i].probe_path, &ss->probe[i], e);
            }
        }
    }
    ss->t_tokenize = time_now() - t0;
    return rc ? -1 : 0;
}

// The data's class list and training-set size, from the manifest or the mutation; nothing tokenized.
static int session_data(aca_session *ss, const aca_session_opts *o, aca_err *e) {
    if (o->mu) {
        ss->classes = o->mu->corpus->classes;
        ss->n_classes = o->mu->corpus->n_classes;
        ss->n_train_docs = o->mu->train.n;
        return 0;
    }
    if (!o->data_dir) {
        if (o->use) return aca_errf(e, ACA_ERR_VALUE, "a session that trains or evaluates needs data");
        return 0;
    }
    if (datadir_open(o->data_dir, &ss->dd, e)) return -1;
    ss->classes = ss->dd.classes;
    ss->n_classes = ss->dd.n_classes;
    // counted only where it is needed (a DP budget): data_count_docs reads the whole file
    if ((o->use & SESSION_TRAIN) && o->s->train.dp) return data_count_docs(ss->dd.train_path, &ss->n_train_docs, e);
    return 0;
}

static int default_max_B(const aca_session_opts *o) {
    int b = 1;
    if (o->use & SESSION_TRAIN) b = train_model_batch(&o->s->train);
    if ((o->use & SESSION_EVAL) && o->s->eval_batch > b) b = o->s->eval_batch;
    return b;
}

int session_open(aca_session *ss, const aca_session_opts *o, aca_err *e) {
    memset(ss, 0, sizeof *ss);
    const aca_run_setup *s = o->s;
    int need_tok = o->use || o->data_dir || o->mu;
    if (session_data(ss, o, e)) goto fail;
    // An unreachable --dp-epsilon is known from the document count: say so before anything is read.
    if ((o->use & SESSION_TRAIN) && train_dp_check(&s->train, ss->n_train_docs, e)) goto fail;
    if (need_tok && !o->tok && !(ss->own_tok = tokenizer_for_model(s->vocab_path, s->model_dir, e))) goto fail;
    ss->tok = o->tok ? o->tok : ss->own_tok;
    // A model to evaluate comes with its head, trained on the data's classes.
    int need_head = (o->use & (SESSION_TRAIN | SESSION_EVAL)) == SESSION_EVAL;
    if (check_model(s, ss->tok, o->max_len_from, need_head ? ss->n_classes : 0, o->data_dir, e)) goto fail;
    if (session_load_model(s, ss->classes, ss->n_classes, o->max_B ? o->max_B : default_max_B(o), need_head,
                           &ss->model, e))
        goto fail;
    if (session_tokenize(ss, o, e)) goto fail;
    return 0;
fail:
    session_close(ss);
    return -1;
}

void session_close(aca_session *ss) {
    session_free_model(ss->model);
    dataset_free(&ss->train);
    dataset_free(&ss->test);
    for (int i = 0; ss->probe && i < ss->n_coll; i++) dataset_free(&ss->probe[i]);
    free(ss->probe), free(ss->ep);
    datadir_free(&ss->dd);
    if (ss->own_tok) tokenizer_free(ss->own_tok);
    memset(ss, 0, sizeof *ss);
}
