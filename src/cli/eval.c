// aca eval: clean accuracy, confusion matrix and each collective's efficacy of a fine-tuned model.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aca/datadir.h"
#include "aca/eval.h"
#include "aca/run.h"
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

static void print_text(const aca_eval_result *r, const aca_datadir *dd) {
    const int K = r->clean.K;
    printf("clean accuracy: %.2f%% (%zu/%zu test documents)\n\n", 100.0 * r->clean.accuracy, r->clean.correct,
           r->clean.n);
    printf("confusion matrix (rows: true class, columns: predicted class id)\n%-25s", "");
    for (int j = 0; j < K; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < K; i++) {
        printf("%2d %-22.22s", i, dd->classes[i]);
        for (int j = 0; j < K; j++) printf(" %5ld", r->clean.confusion[(size_t)i * K + j]);
        printf("\n");
    }
    if (!r->n_coll) return;
    printf("\n%-12s %-22s %7s %9s %13s %14s %10s\n", "collective", "target", "probes", "efficacy", "non-target",
           "clean->target", "agreement");
    for (int i = 0; i < r->n_coll; i++) {
        const aca_efficacy *f = &r->eff[i];
        printf("%-12s %-22s %7zu", f->name, dd->classes[f->target], f->n);
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
    if (batch < 1 || batch > 65536) return fprintf(stderr, "aca: --batch must be in [1, 65536]\n"), 2;
    if (max_len < 2 || max_len > 1 << 20) return fprintf(stderr, "aca: --max-len must be in [2, 1048576], got %ld\n", max_len), 2;

    aca_run_setup s;
    run_setup_default(&s);
    s.model_dir = model;
    s.vocab_path = vocab;
    s.device = device;
    s.precision = precision;
    s.attention = attention;
    s.max_len = (int)max_len;
    char *cache_dir = path_join(data, "tokcache");
    char *cfg_path = path_join(model, "config.json");
    aca_datadir dd = {0};
    aca_config cfg = {0};
    int have_cfg = 0;
    aca_tokenizer *tok = NULL;
    aca_model *m = NULL;
    aca_eval_result res = {0};
    int rc = 1;
    if (datadir_open(data, &dd, &e)) goto fail;
    // A model evaluated here must have been trained on these classes (model_load matches its head's
    // rows to them by name).
    if (config_load(cfg_path, &cfg, &e)) goto fail;
    have_cfg = 1;
    if (cfg.num_labels != dd.n_classes) {
        aca_errf(&e, ACA_ERR_VALUE, "%s: the model's head has %d classes but %s/manifest.json lists %d", cfg_path,
                 cfg.num_labels, data, dd.n_classes);
        goto fail;
    }
    if (!(tok = tokenizer_for_model(vocab, model, &e))) goto fail;
    if (run_load_model(&s, dd.classes, dd.n_classes, (int)batch, &m, &e)) goto fail;
    if (tokenizer_fits_model(tok, model_config(m)->vocab_size, &e)) goto fail;
    s.eval_batch = (int)batch;
    aca_eval_opts eo = {(int)batch, (int)max_len, cache_dir};
    if (eval_datadir(m, tok, &dd, &eo, &res, &e)) goto fail;
    if (json) {
        aca_buf b = {0};
        eval_result_to_json(&res, dd.classes, &b);
        printf("%s\n", b.data);
        buf_free(&b);
    } else {
        print_text(&res, &dd);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(&e);
done:
    eval_result_free(&res);
    run_free_model(m);
    if (tok) tokenizer_free(tok);
    if (have_cfg) config_free(&cfg);
    datadir_free(&dd);
    free(cache_dir);
    free(cfg_path);
    return rc;
}
