// aca forward: logits, loss and per-tensor gradient norms of one batch, dropout off — the debugging
// and parity tool.  BATCH.json = {"input_ids":[[..]], "attention_mask":[[..]], "token_type_ids":[[..]],
// "labels":[..]} (only input_ids required); prints {"logits":[[..]],"loss":x,"grad_norms":{..}}.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/jsonw.h"
#include "aca/model.h"
#include "aca/run_opts.h"
#include "aca/session.h"
#include "cli.h"

static const char *USAGE = "usage: aca forward --model DIR|CONFIG.json --batch BATCH.json [--grad] [--device cpu|cuda] [--seed S]\n"
                           "\n"
                           "Runs one forward pass (dropout off) and prints JSON: logits, the mean cross-entropy loss when\n"
                           "BATCH.json has \"labels\", and with --grad the L2 norm of every parameter's gradient by its\n"
                           "Hugging Face name.  --model is a checkpoint directory (config.json + model.safetensors) or a\n"
                           "config.json for a random (HF-style) initialisation from --seed.";

// {"logits":[[..]],"loss":x,"grad_norms":{..},"grad_norm":x}: 9 digits, NaN/Inf as null; after the
// forward pass, and with grad the backward pass run here.
static void forward_json(aca_model *m, const aca_batch_json *bf, int num_labels, const float *logits, float loss,
                         float *grads, aca_buf *o) {
    aca_jsonw w;
    jsonw_init(&w, o);
    w.digits = 9;
    jsonw_obj(&w);
    jsonw_key(&w, "logits");
    jsonw_arr(&w);
    for (int i = 0; i < bf->B; i++) {
        jsonw_arr(&w);
        for (int k = 0; k < num_labels; k++) jsonw_num(&w, logits[(size_t)i * num_labels + k]);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_key(&w, "loss");
    if (bf->labels) jsonw_num(&w, loss);
    else jsonw_null(&w);
    if (grads) {
        model_zero_grad(m);
        model_backward(m, 1.0f);
        model_get_grads(m, grads);
        int n;
        const aca_param_info *info = model_params(m, &n);
        jsonw_key(&w, "grad_norms");
        jsonw_obj(&w);
        for (int i = 0; i < n; i++) {
            double ss = 0;
            for (size_t k = 0; k < info[i].numel; k++) ss += (double)grads[info[i].offset + k] * grads[info[i].offset + k];
            char name[512];
            snprintf(name, sizeof name, "%s%s%s", info[i].base ? model_prefix(m) : "", info[i].base ? "." : "", info[i].name);
            jsonw_knum(&w, name, sqrt(ss));
        }
        jsonw_end(&w);
        jsonw_knum(&w, "grad_norm", model_grad_norm(m));
    }
    jsonw_end(&w);
    buf_putc(o, '\n');
}

int cmd_forward(int argc, char **argv) {
    const char *model_path = NULL, *batch_path = NULL, *device = "cpu";
    int grad = 0;
    uint64_t seed = 42;
    aca_opt opts[] = {
        {"--model", OPT_STR, &model_path, "DIR", "checkpoint directory, or a config.json for random init", 1, 0},
        {"--batch", OPT_STR, &batch_path, "BATCH.json", "{\"input_ids\":[[..]],\"attention_mask\":[[..]],\"labels\":[..]}", 1, 0},
        {"--grad", OPT_FLAG, &grad, NULL, "also print each parameter's gradient norm (needs labels)", 0, 0},
        {"--device", OPT_STR, &device, "cpu|cuda", "backend (default cpu)", 0, 0},
        {"--seed", OPT_U64, &seed, "S", "seed of a random init / of a missing classification head (default 42)", 0, 0},
    };
    aca_err e = {0};
    int prc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL, USAGE, &e);
    if (prc == 1) return 0;
    if (prc < 0) {
        fprintf(stderr, "aca forward: %s\n", e.msg);
        return 2;
    }
    aca_batch_json bf;
    if (batch_json_load(batch_path, &bf, &e)) return cli_fail(&e);
    if (grad && !bf.labels) {
        batch_json_free(&bf);
        fprintf(stderr, "aca forward: --grad needs \"labels\" in %s\n", batch_path);
        return 2;
    }
    // --model is a checkpoint directory, or a config.json to initialise at random from --seed
    struct stat st;
    int is_dir = stat(model_path, &st) == 0 && S_ISDIR(st.st_mode);
    aca_run_setup s;
    run_setup_default(&s);
    s.model_dir = is_dir ? model_path : NULL;
    s.config_path = is_dir ? NULL : model_path;
    s.device = device;
    s.init_seed = seed;
    s.max_len = bf.T;
    aca_session ss;
    aca_session_opts so = {.s = &s, .max_B = bf.B, .max_len_from = batch_path};
    float *logits = NULL, *grads = NULL, loss = 0;
    int rc = 1;
    if (session_open(&ss, &so, &e)) goto done;
    int num_labels = model_config(ss.model)->num_labels;
    aca_batch b = {bf.ids, bf.mask, bf.types, bf.labels, bf.B, bf.T};
    logits = xmalloc((size_t)bf.B * num_labels * sizeof(float));
    if (model_forward(ss.model, &b, 0, 0, logits, &loss, &e)) {
        aca_err_prefix(&e, "%s", batch_path);
        goto done;
    }
    if (grad) grads = xmalloc(model_num_params(ss.model) * sizeof(float));
    aca_buf o = {0};
    forward_json(ss.model, &bf, num_labels, logits, loss, grads, &o);
    fputs(o.data, stdout);
    buf_free(&o);
    rc = 0;
done:
    if (rc) rc = cli_fail(&e);
    free(logits), free(grads);
    session_close(&ss);
    batch_json_free(&bf);
    return rc;
}
