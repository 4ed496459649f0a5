// The experiment of a spec: the unpoisoned model, each collective alone, all joint, and the measures
// that compare them (see include/aca/run.h).
#include "aca/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/jsonw.h"

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

// One condition of x: run, appended to results_path (when given).
static int run_one(const aca_run_setup *s, const aca_run_ctx *cx, const char *acting, const char *results_path,
                   aca_run_result *r, aca_err *e) {
    aca_run_cond c;
    run_cond_init(&c, acting);
    int rc = run_condition(s, cx, &c, r, e) || finish_condition(s, results_path, r, e) ? -1 : 0;
    run_cond_free(&c);
    return rc;
}

int run_experiment(const aca_run_setup *s, int with_none, const char *results_path,
                   void (*on_cond)(const char *cond, int i, int n, void *ctx), void *ctx, aca_experiment *x,
                   aca_err *e) {
    memset(x, 0, sizeof *x);
    if (!s->spec_path) return aca_errf(e, ACA_ERR_VALUE, "an experiment needs a collectives spec");
    if (s->data_dir) return aca_errf(e, ACA_ERR_VALUE, "an experiment mutates per condition: give a corpus, not a data dir");
    // The spec, the corpus and the tokenizer once for every condition.
    aca_run_ctx cx;
    if (run_ctx_open(&cx, s, e)) return -1;
    x->n_coll = cx.spec->n;
    x->names = xcalloc((size_t)x->n_coll, sizeof *x->names);
    for (int i = 0; i < x->n_coll; i++) x->names[i] = xstrdup(cx.spec->collectives[i].name);
    x->alone = xcalloc((size_t)x->n_coll, sizeof *x->alone);
    const int n_cond = x->n_coll + 1 + !!with_none;
    int k = 0, rc = -1;
    if (with_none) {
        if (on_cond) on_cond("none", k, n_cond, ctx);
        k++;
        x->has_none = 1; // so that experiment_free frees a partial result
        if (run_one(s, &cx, "", results_path, &x->none, e)) goto done;
    }
    for (int i = 0; i < x->n_coll; i++) {
        char cond[300];
        snprintf(cond, sizeof cond, "alone-%s", x->names[i]);
        if (on_cond) on_cond(cond, k, n_cond, ctx);
        k++;
        if (run_one(s, &cx, x->names[i], results_path, &x->alone[i], e)) goto done;
    }
    if (on_cond) on_cond("joint", k, n_cond, ctx);
    if (run_one(s, &cx, NULL, results_path, &x->joint, e)) goto done;
    rc = experiment_measure(x, e);
done:
    run_ctx_close(&cx);
    return rc;
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
