// Hugging Face checkpoints of the encoder classifier (include/aca/model.h): model_load (names
// matched with or without the model prefix, every shape and value checked, a missing head
// initialised, a head's classes matched by name), model_check_checkpoint, model_save.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/corpus.h"
#include "aca/safetensors.h"
#include "encoder.h"

// The checkpoint tensor for parameter p.  Base-model tensors are saved as "<prefix>.<name>"; the
// bare name is accepted too (BertModel checkpoints such as all-MiniLM-L6-v2), and both spellings
// for head tensors.
static const st_tensor *find_param(const st_file *f, const char *pf, const aca_param_info *p) {
    char name[320];
    snprintf(name, sizeof name, "%s.%s", pf, p->name);
    const st_tensor *pre = st_find(f, name), *bare = st_find(f, p->name);
    return p->base ? (pre ? pre : bare) : (bare ? bare : pre);
}

// The checkpoint tensor t has parameter p's shape, else an error naming both.
static int tensor_shape_check(const st_file *f, const st_tensor *t, const aca_param_info *p, aca_err *e) {
    int ok = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim == 1 || t->shape[1] == p->shape[1]);
    if (ok) return 0;
    char got[128] = "", want[64];
    for (int d = 0; d < t->ndim; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (p->ndim == 2) snprintf(want, sizeof want, "%lld, %lld", (long long)p->shape[0], (long long)p->shape[1]);
    else snprintf(want, sizeof want, "%lld", (long long)p->shape[0]);
    return aca_errf(e, ACA_ERR_FORMAT, "%s: tensor '%s' has shape [%s], the config needs [%s]", f->path, t->name, got, want);
}

static int missing_tensor(const aca_model *m, const char *file, const aca_param_info *p, aca_err *e) {
    const char *pf = m->arch->prefix;
    return aca_errf(e, ACA_ERR_FORMAT, "%s: missing tensor '%s%s%s' (is this a %s checkpoint of this config?)", file,
                    p->base ? pf : "", p->base ? "." : "", p->name, pf);
}

// One checkpoint tensor into host (at p's offset): the shape must be p's and every value finite.
static int load_tensor(const st_file *f, const st_tensor *t, const aca_param_info *p, float *host, aca_err *e) {
    if (tensor_shape_check(f, t, p, e)) return -1;
    float *x = host + p->offset;
    if (st_read_f32(f, t, x, e)) return -1;
    for (size_t k = 0; k < p->numel; k++) {
        if (isfinite(x[k])) continue;
        char at[64];
        if (p->ndim == 2) snprintf(at, sizeof at, "[%zu, %zu]", k / (size_t)p->shape[1], k % (size_t)p->shape[1]);
        else snprintf(at, sizeof at, "[%zu]", k);
        return aca_errf(e, ACA_ERR_NUMERIC, "%s: tensor '%s' holds %s at %s: a checkpoint with non-finite weights gives no meaningful output",
                        f->path, t->name, isnan(x[k]) ? "NaN" : x[k] > 0 ? "+Inf" : "-Inf", at);
    }
    return 0;
}

// Class names that say nothing: absent, or Hugging Face's defaults LABEL_0, LABEL_1, ...
static int labels_nameless(const aca_config *c) {
    char d[32];
    for (int k = 0; c->labels && k < c->num_labels; k++) {
        snprintf(d, sizeof d, "LABEL_%d", k);
        if (c->labels[k] && strcmp(c->labels[k], d)) return 0;
    }
    return 1;
}

// rows[k] = the row of checkpoint config ck whose name is the model's class k (class_name_equal);
// names that match nothing or match twice are errors.
static int head_match(const aca_config *ck, const aca_config *mc, const char *cpath, int *rows, aca_err *e) {
    const int K = mc->num_labels;
    for (int k = 0; k < K; k++) {
        rows[k] = -1;
        for (int j = 0; j < K; j++) {
            if (!class_name_equal(ck->labels[j], mc->labels[k])) continue;
            if (rows[k] >= 0)
                return aca_errf(e, ACA_ERR_VALUE, "%s: id2label %d \"%s\" and %d \"%s\" name the same class", cpath, rows[k],
                                ck->labels[rows[k]], j, ck->labels[j]);
            rows[k] = j;
        }
        if (rows[k] < 0)
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: the data's class %d \"%s\" is not among the checkpoint head's classes (id2label %d is \"%s\"): "
                            "this head was trained for other classes; train a fresh one (aca train --new-head)",
                            cpath, k, mc->labels[k], k, ck->labels[k]);
    }
    int k = 0;
    while (k < K && rows[k] == k) k++;
    if (k < K)
        log_info("%s: the head's classes are in another order than the data's (class %d \"%s\" is its row %d): its rows are "
                 "reordered to the data's order", cpath, k, mc->labels[k], rows[k]);
    return 0;
}

// rows[k] = the checkpoint's head row of the model's class k, matched by name through dir/config.json's
// id2label.  Identity when the model has no class names (tools such as `aca forward` use the
// checkpoint's own config) or the names are the same.  A checkpoint head without names, with another
// class list, or with names that are not distinct is an error naming the first difference.
static int head_rows(const aca_model *m, const char *dir, int *rows, aca_err *e) {
    const int K = m->cfg.num_labels;
    for (int k = 0; k < K; k++) rows[k] = k;
    if (labels_nameless(&m->cfg)) return 0;
    char *cpath = path_join(dir, "config.json");
    aca_config ck;
    memset(&ck, 0, sizeof ck);
    int rc = config_load(cpath, &ck, e), same = !rc && ck.labels && ck.num_labels == K;
    for (int k = 0; same && k < K; k++) same = !strcmp(ck.labels[k], m->cfg.labels[k]);
    if (!rc && !same && ck.num_labels != K)
        rc = aca_errf(e, ACA_ERR_VALUE, "%s: the checkpoint's head has %d classes (num_labels) but the data has %d", cpath,
                      ck.num_labels, K);
    else if (!rc && !same && labels_nameless(&ck))
        rc = aca_errf(e, ACA_ERR_VALUE,
                      "%s: the checkpoint's classification head has no class names (id2label absent or LABEL_0, LABEL_1, ...), so "
                      "aca cannot tell which of its rows is which of the data's classes (%s, ...); add id2label, or train a "
                      "fresh head (aca train --new-head)", cpath, m->cfg.labels[0]);
    else if (!rc && !same)
        rc = head_match(&ck, &m->cfg, cpath, rows, e);
    config_free(&ck);
    free(cpath);
    return rc;
}

// Reorders the classifier's rows (weight (K,C), bias (K)) so that row k is the checkpoint's rows[k].
static void head_permute(const aca_model *m, float *host, const int *rows) {
    const int K = m->cfg.num_labels, C = m->cfg.dim;
    float *w = xmalloc((size_t)K * C * sizeof *w), *b = xmalloc((size_t)K * sizeof *b);
    for (int k = 0; k < K; k++) {
        memcpy(w + (size_t)k * C, host + m->cls_w + (size_t)rows[k] * C, (size_t)C * sizeof *w);
        b[k] = host[m->cls_b + rows[k]];
    }
    memcpy(host + m->cls_w, w, (size_t)K * C * sizeof *w);
    memcpy(host + m->cls_b, b, (size_t)K * sizeof *b);
    free(w), free(b);
}

// The checkpoint file of path (a directory's model.safetensors, or path itself), with a message that
// names what the directory holds instead when it has none.
static char *checkpoint_file(const char *path, int *is_dir, aca_err *e) {
    struct stat sb;
    *is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!*is_dir) return xstrdup(path);
    char *file = path_join(path, "model.safetensors");
    if (file_exists(file)) return file;
    static const char *const other[] = {"model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5"};
    for (size_t k = 0; k < ACA_ARRAY_LEN(other); k++) {
        char *o = path_join(path, other[k]);
        int has = file_exists(o);
        free(o);
        if (has) {
            aca_errf(e, ACA_ERR_IO, "%s: missing; the directory has %s instead (aca reads one model.safetensors: load the model "
                     "in transformers and save_pretrained(DIR, max_shard_size=\"100GB\"))", file, other[k]);
            free(file);
            return NULL;
        }
    }
    return file;
}

// The checkpoint file of path opened into f (its name, malloc'd), or NULL with e filled.
static char *checkpoint_open(const char *path, int *is_dir, st_file *f, aca_err *e) {
    char *file = checkpoint_file(path, is_dir, e);
    if (file && st_open(f, file, e)) {
        free(file);
        return NULL;
    }
    return file;
}

int model_load(aca_model *m, const char *path, uint64_t head_seed, aca_err *e) {
    aca_load_opts o = {head_seed, 0, 0};
    return model_load_with(m, path, &o, e);
}

int model_load_with(aca_model *m, const char *path, const aca_load_opts *o, aca_err *e) {
    int is_dir;
    st_file f;
    char *file = checkpoint_open(path, &is_dir, &f, e);
    if (!file) return -1;
    float *host = xcalloc(m->n_params, sizeof(float));
    char *used = xcalloc((size_t)f.n + 1, 1);
    int *rows = xmalloc((size_t)m->cfg.num_labels * sizeof *rows);
    int rc = 0, n_missing_head = 0, n_cls = 0, permute = 0;
    char missing[256] = "";
    const char *pf = m->arch->prefix;
    for (int i = 0; i < m->n_info && !rc; i++) {
        const aca_param_info *p = &m->info[i];
        const st_tensor *t = find_param(&f, pf, p);
        int cls = p->offset == m->cls_w || p->offset == m->cls_b;
        if (t && cls && o->new_head) used[t - f.tensors] = 1, t = NULL;
        if (!t) {
            if (p->head) {
                if (n_missing_head++ < 4)
                    snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", n_missing_head > 1 ? ", " : "", p->name);
                continue;
            }
            rc = missing_tensor(m, file, p, e);
            break;
        }
        used[t - f.tensors] = 1;
        n_cls += cls;
        rc = load_tensor(&f, t, p, host, e);
    }
    if (!rc && n_missing_head && o->need_head)
        rc = aca_errf(e, ACA_ERR_FORMAT, "%s: no classification head (%s%s missing): a base model, not one fine-tuned on "
                      "these classes (aca train fine-tunes one)", file, missing, n_missing_head > 4 ? ", ..." : "");
    // A classifier read from a directory is matched to the model's classes by name.
    if (!rc && n_cls && is_dir && !(rc = head_rows(m, path, rows, e)))
        for (int k = 0; k < m->cfg.num_labels; k++) permute |= rows[k] != k;
    if (!rc) {
        int n_unused = 0;
        const char *example = NULL;
        for (int i = 0; i < f.n; i++)
            if (!used[i] && n_unused++ == 0) example = f.tensors[i].name;
        if (n_unused)
            log_info("%s: ignoring %d tensor%s that %s does not use (e.g. '%s')", file, n_unused, n_unused > 1 ? "s" : "",
                     m->arch->hf_class, example);
        if (n_missing_head) {
            encoder_init_host(m, host, o->head_seed, 1); // only the head; every head tensor is re-drawn together
            // A partially present head keeps what the checkpoint has.
            for (int i = 0; i < m->n_info; i++) {
                const aca_param_info *p = &m->info[i];
                const st_tensor *t = p->head ? find_param(&f, pf, p) : NULL;
                if (t && !(o->new_head && (p->offset == m->cls_w || p->offset == m->cls_b)))
                    st_read_f32(&f, t, host + p->offset, e); // read (and checked) once above
            }
            log_info("%s: %s (%s%s): initialised as Hugging Face does (seed %llu)", file,
                     o->new_head ? "a fresh classifier (--new-head)" : "no classification head", missing,
                     n_missing_head > 4 ? ", ..." : "", (unsigned long long)o->head_seed);
        }
        if (permute) head_permute(m, host, rows);
        model_set_params(m, host);
    }
    free(rows);
    free(used);
    free(host);
    st_close(&f);
    free(file);
    return rc;
}

int model_check_checkpoint(const aca_config *c, const char *path, aca_err *e) {
    int is_dir;
    st_file f;
    char *file = checkpoint_open(path, &is_dir, &f, e);
    if (!file) return -1;
    aca_model *m = encoder_layout(c);
    int rc = 0;
    for (int i = 0; i < m->n_info && !rc; i++) {
        const aca_param_info *p = &m->info[i];
        const st_tensor *t = find_param(&f, m->arch->prefix, p);
        if (t) rc = tensor_shape_check(&f, t, p, e);
        else if (!p->head) rc = missing_tensor(m, file, p, e);
    }
    model_free(m);
    st_close(&f);
    free(file);
    return rc;
}

int model_save(const aca_model *m, const char *dir, aca_err *e) {
    if (dir_make(dir, e)) return -1;
    aca_buf cj = {0};
    config_to_json(&m->cfg, &cj);
    char *cpath = path_join(dir, "config.json"), *wpath = path_join(dir, "model.safetensors");
    float *host = xmalloc(m->n_params * sizeof(float));
    model_get_params(m, host);
    st_out *t = xcalloc((size_t)m->n_info, sizeof *t);
    char **names = xcalloc((size_t)m->n_info, sizeof *names);
    for (int i = 0; i < m->n_info; i++) {
        const aca_param_info *p = &m->info[i];
        aca_buf nb = {0};
        buf_printf(&nb, "%s%s%s", p->base ? m->arch->prefix : "", p->base ? "." : "", p->name);
        names[i] = nb.data;
        t[i].name = names[i];
        t[i].ndim = p->ndim;
        t[i].shape[0] = p->shape[0];
        t[i].shape[1] = p->shape[1];
        t[i].f32 = host + p->offset;
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(wpath, t, m->n_info, meta, 1, e);
    if (!rc) rc = file_write_atomic(cpath, cj.data, cj.len, e);
    for (int i = 0; i < m->n_info; i++) free(names[i]);
    free(names);
    free(t);
    free(host);
    free(cpath);
    free(wpath);
    buf_free(&cj);
    return rc;
}
