// aca eval: clean accuracy, confusion matrix and each collective's efficacy of a fine-tuned model.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/eval.h"
#include "aca/run.h"
#include "aca/session.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca eval --model DIR --data DIR [--json] [options]\n"
    "\n"
    "Evaluates a fine-tuned Hugging Face directory (e.g. from `aca train`) on a directory written by\n"
    "`aca mutate`: clean accuracy and confusion matrix on test.jsonl, and for each probe_<name>.jsonl\n"
    "the collective's efficacy (probes predicted as its target), over all probes and over probes whose\n"
    "true class is not the target, beside the clean target rate (unmodified test docs this model predicts\n"
    "as the target).";

// x as a percentage in width characters, or "n/a" when it is not a number (an agreement over probe
// and test sets of different sizes, a non-target rate with no non-target probe).
static void put_pct(double x, int width) {
    if (isfinite(x)) printf(" %*.1f%%", width - 1, 100.0 * x);
    else printf(" %*s", width, "n/a");
}

static void print_text(const aca_eval_result *r, char *const *classes) {
    const int K = r->clean.K;
    printf("clean accuracy: %.2f%% (%zu/%zu test documents)\n\n", 100.0 * r->clean.accuracy, r->clean.correct,
           r->clean.n);
    printf("confusion matrix (rows: true class, columns: predicted class id)\n%-25s", "");
    for (int j = 0; j < K; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < K; i++) {
        printf("%2d %-22.22s", i, classes[i]);
        for (int j = 0; j < K; j++) printf(" %5ld", r->clean.confusion[(size_t)i * K + j]);
        printf("\n");
    }
    if (!r->n_coll) return;
    printf("\n%-12s %-22s %7s %9s %13s %14s %10s\n", "collective", "target", "probes", "efficacy", "non-target",
           "clean->target", "agreement");
    for (int i = 0; i < r->n_coll; i++) {
        const aca_efficacy *f = &r->eff[i];
        printf("%-12s %-22s %7zu", f->name, classes[f->target], f->n);
        put_pct(f->efficacy, 9), put_pct(f->efficacy_nontarget, 13), put_pct(f->clean_target_rate, 14);
        put_pct(f->agreement, 10);
        printf("\n");
    }
    printf("(clean->target: unmodified test documents this model predicts as the target;\n"
           " agreement: probes predicted as their unmodified test document; the success of erasing)\n");
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *vocab = NULL;
    const char *device = "cpu", *precision = "fp32", *attention = "auto";
    long batch = 32, max_len = 512;
    int json = 0;
    aca_opt opts[] = {
        {"--model", OPT_STR, &model, "DIR", "fine-tuned Hugging Face directory", 1, 0},
        {"--data", OPT_STR, &data, "DIR", "directory written by `aca mutate`", 1, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object instead of tables", 0, 0},
        {"--vocab", OPT_STR, &vocab, "FILE|DIR", "tokenizer (default: the --model directory's own)", 0, 0},
        {"--device", OPT_STR, &device, "cpu|cuda", "backend (default cpu)", 0, 0},
        {"--precision", OPT_STR, &precision, "fp32|bf16|fp16", "compute precision (default fp32)", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "evaluation batch size (default 32)", 0, 0},
        {"--max-len", OPT_INT, &max_len, "N", "max tokens per document (default 512; use the training value)", 0, 0},
        {"--attention", OPT_STR, &attention, "auto|gemm|cudnn", "CUDA attention path (default auto: cuDNN where it runs)", 0, 0},
    };
    aca_err e = {0};
    int r = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (r == 1) return 0;
    aca_attention att_path;
    if (r < 0 || aca_attention_parse(attention, &att_path, &e)) {
        cli_fail(&e);
        return 2;
    }
    // the ranges of the run options the values stand for (run_opts.h)
    if (run_opt_check_num(run_opt_find("eval_batch"), (double)batch, "--batch", &e) ||
        run_opt_check_num(run_opt_find("max_len"), (double)max_len, "--max-len", &e)) {
        cli_fail(&e);
        return 2;
    }

    aca_run_setup s;
    run_setup_default(&s);
    s.model_dir = model;
    s.vocab_path = vocab;
    s.device = device;
    s.precision = precision;
    s.attention = attention;
    s.max_len = (int)max_len;
    s.eval_batch = (int)batch;
    char *cache_dir = path_join(data, "tokcache");
    aca_session ss;
    aca_eval_result res = {0};
    int rc = 1;
    aca_session_opts so = {.use = SESSION_EVAL, .s = &s, .data_dir = data, .cache_dir = cache_dir};
    if (session_open(&ss, &so, &e)) goto fail;
    if (eval_sets(ss.model, &ss.test, ss.ep, ss.n_coll, s.eval_batch, &res, &e)) goto fail;
    if (json) {
        aca_buf b = {0};
        eval_result_to_json(&res, ss.classes, &b);
        printf("%s\n", b.data);
        buf_free(&b);
    } else {
        print_text(&res, ss.classes);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&e);
done:
    eval_result_free(&res);
    session_close(&ss);
    free(cache_dir);
    return rc;
}
