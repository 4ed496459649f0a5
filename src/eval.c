// The evaluator (see include/aca/eval.h).
#include "aca/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/jsonw.h"

// ---- metrics -----------------------------------------------------------------------------------
int eval_predict(aca_model *m, const aca_dataset *d, int batch, int32_t *pred, aca_err *e) {
    const aca_config *c = model_config(m);
    const int K = c->num_labels;
    if (batch < 1) return aca_errf(e, ACA_ERR_VALUE, "eval batch must be >= 1 (got %d)", batch);
    uint32_t *idx = xmalloc((size_t)batch * sizeof *idx);
    int32_t *ids = xmalloc((size_t)batch * d->max_len * sizeof *ids);
    int32_t *mask = xmalloc((size_t)batch * d->max_len * sizeof *mask);
    float *logits = xmalloc((size_t)batch * K * sizeof *logits);
    int rc = 0;
    for (size_t i0 = 0; i0 < d->n && !rc; i0 += (size_t)batch) {
        int nb = (int)(d->n - i0 < (size_t)batch ? d->n - i0 : (size_t)batch);
        for (int b = 0; b < nb; b++) idx[b] = (uint32_t)(i0 + (size_t)b);
        int T = dataset_fill_batch(d, idx, nb, c->pad_token_id, ids, mask, NULL);
        aca_batch bt = {ids, mask, NULL, NULL, nb, T};
        float loss;
        if (model_forward(m, &bt, 0, 0, logits, &loss, e)) {
            aca_err_prefix(e, "evaluating documents %zu..%zu", i0 + 1, i0 + (size_t)nb);
            rc = -1;
            break;
        }
        for (int b = 0; b < nb; b++) {
            const float *l = logits + (size_t)b * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (l[k] > l[best]) best = k; // first maximum wins, as torch.argmax
            if (!isfinite(l[best])) {
                rc = aca_errf(e, ACA_ERR_NUMERIC, "non-finite logits for document %zu", i0 + (size_t)b + 1);
                break;
            }
            pred[i0 + (size_t)b] = best;
        }
    }
    free(idx);
    free(ids);
    free(mask);
    free(logits);
    return rc;
}

void eval_clean(const int32_t *labels, const int32_t *pred, size_t n, int K, aca_clean_metrics *out) {
    out->K = K;
    out->n = n;
    out->correct = 0;
    out->confusion = xcalloc((size_t)K * K, sizeof *out->confusion);
    for (size_t i = 0; i < n; i++) {
        out->correct += labels[i] == pred[i];
        if (labels[i] >= 0 && labels[i] < K && pred[i] >= 0 && pred[i] < K)
            out->confusion[(size_t)labels[i] * K + pred[i]]++;
    }
    out->accuracy = n ? (double)out->correct / (double)n : NAN;
}

void clean_metrics_free(aca_clean_metrics *c) {
    free(c->confusion);
    memset(c, 0, sizeof *c);
}

void eval_efficacy(const int32_t *probe_labels, const int32_t *probe_pred, size_t n_probe,
                   const int32_t *test_labels, const int32_t *test_pred, size_t n_test, int target,
                   aca_efficacy *out) {
    out->target = target;
    out->n = n_probe, out->hits = 0, out->n_nontarget = 0, out->hits_nontarget = 0;
    for (size_t i = 0; i < n_probe; i++) {
        int hit = probe_pred[i] == target;
        out->hits += hit;
        if (probe_labels[i] != target) out->n_nontarget++, out->hits_nontarget += hit;
    }
    size_t bh = 0, bn = 0, bnh = 0;
    for (size_t i = 0; i < n_test; i++) {
        int hit = test_pred[i] == target;
        bh += hit;
        if (test_labels[i] != target) bn++, bnh += hit;
    }
    out->efficacy = n_probe ? (double)out->hits / (double)n_probe : NAN;
    out->efficacy_nontarget = out->n_nontarget ? (double)out->hits_nontarget / (double)out->n_nontarget : NAN;
    out->clean_target_rate = n_test ? (double)bh / (double)n_test : NAN;
    out->clean_target_rate_nontarget = bn ? (double)bnh / (double)bn : NAN;
    size_t same = 0;
    for (size_t i = 0; n_probe == n_test && i < n_probe; i++) same += probe_pred[i] == test_pred[i];
    out->agreement = n_probe && n_probe == n_test ? (double)same / (double)n_probe : NAN;
}

double eval_delta_joint_alone(double eff_joint, double eff_alone) { return eff_joint - eff_alone; }

double eval_ct_karan(double eff_joint, double eff_alone, double eff_unpoisoned) {
    return eff_unpoisoned > 0 ? (eff_joint - eff_alone) / eff_unpoisoned : NAN;
}

double eval_delta_over_lift(double eff_joint, double eff_alone, double clean_target_rate_alone) {
    double lift = eff_alone - clean_target_rate_alone;
    return lift > 0 ? (eff_joint - eff_alone) / lift : NAN;
}

int eval_sets(aca_model *m, const aca_dataset *test, const aca_eval_probe *probes, int n_coll, int batch,
              aca_eval_result *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    const int K = model_config(m)->num_labels;
    double t0 = time_now();
    int32_t *tpred = xmalloc((test->n + 1) * sizeof *tpred), *ppred = NULL;
    int rc = -1;
    if (eval_predict(m, test, batch, tpred, e)) goto done;
    eval_clean(test->labels, tpred, test->n, K, &r->clean);
    r->n_coll = n_coll;
    r->eff = xcalloc((size_t)n_coll + 1, sizeof *r->eff);
    for (int i = 0; i < n_coll; i++) {
        const aca_dataset *probe = probes[i].probe;
        ppred = xrealloc(ppred, (probe->n + 1) * sizeof *ppred);
        if (eval_predict(m, probe, batch, ppred, e)) goto done;
        eval_efficacy(probe->labels, ppred, probe->n, test->labels, tpred, test->n, probes[i].target, &r->eff[i]);
        r->eff[i].name = xstrdup(probes[i].name);
    }
    rc = 0;
done:
    r->seconds = time_now() - t0;
    if (rc) eval_result_free(r);
    free(tpred);
    free(ppred);
    return rc;
}

void eval_result_free(aca_eval_result *r) {
    clean_metrics_free(&r->clean);
    for (int i = 0; i < r->n_coll && r->eff; i++) free(r->eff[i].name);
    free(r->eff);
    memset(r, 0, sizeof *r);
}

static void efficacy_json(const aca_efficacy *f, char *const *classes, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kstr(w, "name", f->name);
    jsonw_kstr(w, "target", classes[f->target]);
    jsonw_kuint(w, "n_probe", f->n);
    jsonw_kuint(w, "hits", f->hits);
    jsonw_knum(w, "efficacy", f->efficacy);
    jsonw_kuint(w, "n_nontarget", f->n_nontarget);
    jsonw_kuint(w, "hits_nontarget", f->hits_nontarget);
    jsonw_knum(w, "efficacy_nontarget", f->efficacy_nontarget);
    jsonw_knum(w, "clean_target_rate", f->clean_target_rate);
    jsonw_knum(w, "clean_target_rate_nontarget", f->clean_target_rate_nontarget);
    jsonw_knum(w, "agreement", f->agreement);
    jsonw_knum(w, "baseline", f->clean_target_rate); // aliases for readers of older results
    jsonw_knum(w, "baseline_nontarget", f->clean_target_rate_nontarget);
    jsonw_end(w);
}

void eval_result_to_json(const aca_eval_result *r, char *const *classes, aca_buf *out) {
    const int K = r->clean.K;
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_knum(&w, "accuracy", r->clean.accuracy);
    jsonw_kuint(&w, "n_test", r->clean.n);
    jsonw_kuint(&w, "correct", r->clean.correct);
    jsonw_key(&w, "classes");
    jsonw_arr(&w);
    for (int k = 0; k < K; k++) jsonw_str(&w, classes[k]);
    jsonw_end(&w);
    jsonw_key(&w, "confusion");
    jsonw_arr(&w);
    for (int i = 0; i < K; i++) {
        jsonw_arr(&w);
        for (int j = 0; j < K; j++) jsonw_int(&w, r->clean.confusion[(size_t)i * K + j]);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    for (int i = 0; i < r->n_coll; i++) efficacy_json(&r->eff[i], classes, &w);
    jsonw_end(&w);
    jsonw_key(&w, "eval_seconds");
    char t[40];
    snprintf(t, sizeof t, "%.3f", r->seconds);
    jsonw_raw(&w, t);
    jsonw_end(&w);
}
