// Before a grid's first cell: everything its cells will need, checked at once, with errors that name
// the GRID.json field (grid_check in include/aca/grid.h).  Nothing here starts OpenMP or CUDA: the
// grid forks its workers afterwards.
#include "aca/grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/collide.h"
#include "aca/config.h"
#include "aca/corpus.h"
#include "aca/dp.h"
#include "aca/model.h"
#include "aca/mutate.h"
#include "aca/safetensors.h"
#include "aca/tokenizer.h"

static int check_split(const aca_grid_spec *g, const aca_grid_input *corpus, const aca_corpus *c, aca_err *e) {
    size_t ntr = g->run.n_train, nte = g->run.n_test;
    if (!ntr && !nte) corpus_split_default(c->n, &ntr, &nte);
    if (ntr >= 1 && nte >= 1 && ntr <= c->n && nte <= c->n - ntr) return 0;
    if (g->run.n_train)
        return aca_errf(e, ACA_ERR_VALUE, "%s: split: asks for %zu train + %zu test documents, but the corpus %s has only %zu",
                        g->path, ntr, nte, corpus->path, c->n);
    return aca_errf(e, ACA_ERR_VALUE,
                    "%s: split: not given, and the corpus %s has too few documents (%zu) for the default split (%zu train "
                    "+ %zu test): give \"split\" or a larger corpus",
                    g->path, corpus->path, c->n, ntr, nte);
}

// The collectives as a cell's spec has them (targets, seed classes and signals are the same in every cell).
static int collectives_spec(const aca_grid_spec *g, aca_spec *sp, aca_err *e) {
    aca_grid_cell cell;
    memset(&cell, 0, sizeof cell);
    aca_buf b = {0};
    grid_cell_spec_json(g, &cell, &b);
    int rc = spec_parse(b.data, g->path, sp, e);
    buf_free(&b);
    return rc;
}

// Every target and seed class is one of the corpus's.
static int check_classes(const aca_grid_spec *g, const aca_grid_input *corpus, const aca_corpus *c, aca_err *e) {
    if (c->n_classes < 2)
        return aca_errf(e, ACA_ERR_VALUE, "%s: %s: %s has %d class%s: a classifier needs at least two", g->path,
                        corpus->field, corpus->path, c->n_classes, c->n_classes == 1 ? "" : "es");
    aca_spec sp;
    int rc = collectives_spec(g, &sp, e);
    const int parsed = rc == 0;
    for (int i = 0; !rc && i < sp.n; i++) {
        const char *cls[2] = {sp.collectives[i].target, sp.collectives[i].seed_class};
        const char *fld[2] = {"target", "sampling.seed_class"};
        for (int k = 0; k < 2 && !rc; k++) {
            if (!cls[k] || corpus_class_index(c, cls[k]) >= 0) continue;
            aca_buf list = {0};
            for (int j = 0; j < c->n_classes; j++) buf_printf(&list, "%s%s", j ? ", " : "", c->classes[j]);
            rc = aca_errf(e, ACA_ERR_VALUE, "%s: collectives[%d].%s: class '%s' is not in the corpus %s (classes: %s)",
                          g->path, i, fld[k], cls[k], corpus->path, list.data ? list.data : "none");
            buf_free(&list);
        }
    }
    if (parsed) spec_free(&sp);
    return rc;
}

// "g.json: collectives[1].size: 50 members asked ..." from mutate becomes "g.json:
// collectives[1].counts: cell 7 (joint-A=40-B=50-t0): 50 members asked ...".
static void name_cell(const aca_grid_spec *g, const aca_grid_cell *c, aca_err *e) {
    const size_t n = strlen(g->path);
    const char *m = e->msg, *f = m + n + 2, *colon = NULL;
    if (!strncmp(m, g->path, n) && !strncmp(m + n, ": ", 2)) colon = strstr(f, ": ");
    aca_buf msg = {0};
    int i;
    if (!colon) {
        buf_printf(&msg, "%s: cell %d (%s): %s", g->path, c->index, c->id, m);
    } else if (sscanf(f, "collectives[%d]", &i) == 1 && i >= 0 && i < g->n_coll && !strncmp(colon - 5, ".size", 5)) {
        if (c->kind == GRID_CELL_BASELINE)
            buf_printf(&msg, "%s: collectives[%d].target: cell %d (%s), the baseline, draws one placeholder member of "
                       "each collective's target class from the training split: %s", g->path, i, c->index, c->id, colon + 2);
        else
            buf_printf(&msg, "%s: collectives[%d].%s: cell %d (%s): %s", g->path, i, g->coll[i].is_count ? "counts" : "levels",
                       c->index, c->id, colon + 2);
    } else {
        buf_printf(&msg, "%s: %.*s: cell %d (%s): %s", g->path, (int)(colon - f), f, c->index, c->id, colon + 2);
    }
    snprintf(e->msg, sizeof e->msg, "%s", msg.data);
    buf_free(&msg);
}

// Every cell's membership drawn as mutate will draw it (each distinct derived spec once).
static int check_mutations(const aca_grid_spec *g, const aca_grid_input *corpus, const aca_corpus *c,
                           const aca_grid_cell *cells, int lo, int hi, aca_err *e) {
    uint64_t *seen = xcalloc((size_t)(hi - lo) + 1, sizeof *seen);
    int n_seen = 0, rc = 0;
    aca_corpus_opts co = {0};
    if (g->encoding) corpus_parse_encoding(g->encoding, &co.encoding, NULL);
    for (int k = lo; !rc && k < hi; k++) {
        aca_buf b = {0};
        grid_cell_spec_json(g, &cells[k], &b);
        uint64_t h = hash_fnv1a64(b.data, b.len, ACA_FNV_SEED ^ (uint64_t)(cells[k].kind == GRID_CELL_BASELINE));
        int dup = 0;
        for (int j = 0; j < n_seen && !dup; j++) dup = seen[j] == h;
        aca_spec sp, none = {0};
        if (!dup && !(rc = spec_parse(b.data, g->path, &sp, e)) &&
            !(cells[k].kind == GRID_CELL_BASELINE && (rc = spec_unpoisoned(&sp, &none, e)))) {
            seen[n_seen++] = h;
            aca_mutate_opts mo;
            memset(&mo, 0, sizeof mo);
            mo.corpus_path = corpus->path;
            mo.n_train = g->run.n_train;
            mo.n_test = g->run.n_test;
            mo.has_seed = 1;
            mo.seed = sp.seed;
            mo.corpus_opts = co;
            rc = mutate_check(&mo, c, cells[k].kind == GRID_CELL_BASELINE ? &none : &sp, e);
        }
        if (!dup) spec_free(&sp), spec_free(&none);
        if (rc) name_cell(g, &cells[k], e);
        buf_free(&b);
    }
    free(seen);
    return rc;
}

// Every floating-point tensor of f is finite (a NaN weight would give every input the same logits).
static int check_finite(const aca_grid_spec *g, const aca_grid_input *w, const st_file *f, aca_err *e) {
    int rc = 0;
    for (int k = 0; !rc && k < f->n; k++) {
        const st_tensor *t = &f->tensors[k];
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64) continue;
        float *v = xmalloc((t->numel ? t->numel : 1) * sizeof *v);
        if (st_read_f32(f, t, v, e)) rc = aca_err_prefix(e, "%s: %s", g->path, w->field);
        for (size_t i = 0; !rc && i < t->numel; i++)
            if (!isfinite(v[i]))
                rc = aca_errf(e, ACA_ERR_NUMERIC, "%s: %s: %s: tensor %s holds %s at element %zu: the checkpoint is damaged",
                              g->path, w->field, w->path, t->name, isnan(v[i]) ? "NaN" : "Inf", i);
        free(v);
    }
    return rc;
}

// A checkpoint's weights parse and are finite, and its classification head (if any) has the
// corpus's classes in the corpus's order.
static int check_weights(const aca_grid_spec *g, const aca_grid_input *w, const aca_config *cfg, const aca_corpus *c,
                         aca_err *e) {
    st_file f = {0};
    if (st_open(&f, w->path, e)) return aca_err_prefix(e, "%s: %s", g->path, w->field);
    const st_tensor *t = st_find(&f, "classifier.weight");
    int rc = check_finite(g, w, &f, e);
    if (t && t->ndim == 2 && t->shape[0] != c->n_classes)
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: %s: the checkpoint's classification head has %lld classes, but the corpus has %d: use a base "
                      "checkpoint (no head) or one fine-tuned on these classes",
                      g->path, w->field, (long long)t->shape[0], c->n_classes);
    for (int k = 0; !rc && t && cfg->labels && k < cfg->num_labels && k < c->n_classes; k++) {
        int at = corpus_class_index(c, cfg->labels[k]);
        if (at >= 0 && at != k)
            rc = aca_errf(e, ACA_ERR_VALUE,
                          "%s: %s: the checkpoint's head has class '%s' at index %d, the corpus at %d: its head was "
                          "trained on another class order",
                          g->path, w->field, cfg->labels[k], k, at);
    }
    st_close(&f);
    return rc;
}

static int check_model(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_corpus *c, aca_tokenizer **tok_out,
                       aca_err *e) {
    const aca_grid_input *cf = grid_input_of(in, "model config"), *w = grid_input_of(in, "checkpoint weights");
    const char *tok_field = g->run.vocab_path ? "model.vocab" : "model.dir";
    aca_config cfg;
    if (config_load(cf->path, &cfg, e)) return aca_err_prefix(e, "%s: %s", g->path, cf->field);
    int rc = 0;
    if (g->run.max_len > cfg.max_position)
        rc = aca_errf(e, ACA_ERR_VALUE, "%s: train.max_len: %d exceeds the model's max_position_embeddings %d (%s)", g->path,
                      g->run.max_len, cfg.max_position, cf->path);
    if (!rc && w) rc = check_weights(g, w, &cfg, c, e);
    if (!rc && w) { // every tensor's shape is the config's (the head's with the corpus's classes)
        config_set_labels(&cfg, c->n_classes, (const char *const *)c->classes);
        if (model_check_checkpoint(&cfg, w->path, e)) rc = aca_err_prefix(e, "%s: %s", g->path, w->field);
    }
    // The tokenizer exactly as the cells open it, and its ids within the model's embeddings.
    aca_tokenizer *tok = rc ? NULL : tokenizer_for_model(g->run.vocab_path, g->run.model_dir, e);
    if (!rc && (!tok || tokenizer_fits_model(tok, cfg.vocab_size, e))) rc = aca_err_prefix(e, "%s: %s", g->path, tok_field);
    aca_spec sp;
    if (!rc && !(rc = collectives_spec(g, &sp, e))) {
        rc = collide_check_signals(&sp, tok, e);
        spec_free(&sp);
    }
    if (!rc) *tok_out = tok;
    else if (tok) tokenizer_free(tok);
    config_free(&cfg);
    return rc;
}

// Every DP epsilon is one the accountant reaches for the cells' training, as train_run asks it: q =
// batch / training documents, ceil(documents / batch) * epochs steps, delta.  (Strike members leave
// the training set; q and steps then differ a little, but what makes a target unreachable is delta:
// with the noise unbounded, the epsilon left is the conversion's floor at that delta.)
static int check_dp(const aca_grid_spec *g, const aca_corpus *c, aca_err *e) {
    size_t ntr = g->run.n_train, nte = g->run.n_test;
    if (!ntr && !nte) corpus_split_default(c->n, &ntr, &nte);
    const size_t B = (size_t)g->run.train.batch;
    dp_sgm sg = {B < ntr ? (double)B / (double)ntr : 1.0, 1.0, (uint64_t)((ntr + B - 1) / B) * (uint64_t)g->run.train.epochs,
                 g->run.train.dp_delta};
    for (int i = 0; i < g->n_eps; i++) {
        double sigma;
        dp_result at, floor = {NAN, NAN};
        if (g->eps[i] < 0 || !dp_sigma_for_epsilon(&sg, g->eps[i], DP_CONVERT_BALLE2020, &sigma, &at, e)) continue;
        dp_sgm loud = sg;
        loud.sigma = 1e6;
        dp_epsilon(&loud, DP_CONVERT_BALLE2020, NULL, 0, &floor, NULL);
        char f[32];
        snprintf(f, sizeof f, g->n_eps > 1 ? "dp.epsilon[%d]" : "dp.epsilon", i);
        return aca_errf(e, ACA_ERR_VALUE,
                        "%s: %s: %g is out of the accountant's reach for these cells (q = %g, %llu steps, dp.delta %g): "
                        "even with the noise multiplier at 1e6 the epsilon it certifies is %.3g; raise %s or dp.delta",
                        g->path, f, g->eps[i], sg.q, (unsigned long long)sg.steps, sg.delta, floor.epsilon, f);
    }
    return 0;
}

int grid_check(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *cells, int lo, int hi,
               aca_tokenizer **tok, aca_err *e) {
    const aca_grid_input *corpus = grid_input_of(in, "corpus");
    *tok = NULL;
    if (!in->corpus_ok) { // read and hashed once by grid_inputs, but it did not parse
        if (e) *e = in->corpus_err;
        return aca_err_prefix(e, "%s: %s", g->path, corpus->field);
    }
    const aca_corpus *c = &in->corpus;
    int rc = check_split(g, corpus, c, e) || check_classes(g, corpus, c, e) ||
             check_mutations(g, corpus, c, cells, lo, hi, e) || check_dp(g, c, e) || check_model(g, in, c, tok, e);
    return rc ? -1 : 0;
}
