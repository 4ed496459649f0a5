// The trainer's checkpoints (see include/aca/train.h): the fingerprint of a run, and the checkpoint
// file that holds the parameters, the AdamW moments and where the run stands, checked on resume
// against the fingerprint of the run that resumes it.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/train.h"
#include "train_internal.h"

// ---- the run's fingerprint ---------------------------------------------------------------------
// A double's shortest decimal that reads back as the same value (5e-05, not 5.0000000000000002e-05).
static const char *fp_num(char *out, size_t n, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    return out;
}

// config.json as one line per field: `  "dim": 32,` -> "config.json dim\t32".
static void fp_config(aca_buf *b, const aca_config *c) {
    aca_buf j = {0};
    config_to_json(c, &j);
    char *save = NULL;
    for (char *line = strtok_r(j.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *k = strchr(line, '"'), *ke = k ? strchr(k + 1, '"') : NULL;
        if (!ke || ke[1] != ':') continue;
        char *v = ke + 2 + (ke[2] == ' ');
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == ',') v[--vl] = 0;
        buf_printf(b, "config.json %.*s\t%s\n", (int)(ke - k - 1), k + 1, v);
    }
    buf_free(&j);
}

static uint64_t fp_dataset_hash(const aca_dataset *d) {
    uint64_t h = hash_fnv1a64(d->off, (d->n + 1) * sizeof *d->off, ACA_FNV_SEED);
    h = hash_fnv1a64(d->ids, d->off[d->n] * sizeof *d->ids, h);
    return d->labels ? hash_fnv1a64(d->labels, d->n * sizeof *d->labels, h) : h;
}

void train_fingerprint(const aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_buf *b) {
    const aca_backend *be = model_backend(m);
    char x[40], y[40], z[40];
    buf_printf(b, "--epochs\t%d\n", o->epochs);
    buf_printf(b, "--batch\t%d\n", o->batch);
    buf_printf(b, "--lr\t%s\n", fp_num(x, sizeof x, o->lr));
    buf_printf(b, "--weight-decay\t%s\n", fp_num(x, sizeof x, o->weight_decay));
    buf_printf(b, "--max-grad-norm\t%s\n", fp_num(x, sizeof x, o->max_grad_norm));
    buf_printf(b, "--seed\t%llu\n", (unsigned long long)o->seed);
    buf_printf(b, "--bucket\t%s\n", o->bucket ? "on" : "off");
    buf_printf(b, "--max-len\t%d\n", d->max_len);
    buf_printf(b, "--device\t%s\n", be->ops->name);
    buf_printf(b, "--precision\t%s\n", aca_dtype_name(be->dtype));
    buf_printf(b, "AdamW betas, eps\t%s %s %s\n", fp_num(x, sizeof x, o->beta1), fp_num(y, sizeof y, o->beta2),
               fp_num(z, sizeof z, o->eps));
    if (be->dtype == ACA_DT_F16)
        buf_printf(b, "fp16 loss scale, window\t%.9g %d\n", (double)o->loss_scale_init, o->loss_scale_window);
    buf_printf(b, "per-example gradients\t%s\n", o->per_example_grads ? "on" : "off");
    if (o->freeze_base) buf_printf(b, "--freeze-base\ton\n"); // absent when off: older checkpoints still resume
    buf_printf(b, "DP-SGD\t%s\n", o->dp ? "on" : "off");
    if (o->dp) {
        buf_printf(b, "--dp-clip\t%s\n", fp_num(x, sizeof x, o->dp_clip));
        int eps = isnan(o->dp_sigma);
        buf_printf(b, "%s\t%s\n", eps ? "--dp-epsilon" : "--dp-sigma", fp_num(x, sizeof x, eps ? o->dp_epsilon : o->dp_sigma));
        buf_printf(b, "--dp-delta\t%s\n", fp_num(x, sizeof x, o->dp_delta));
        buf_printf(b, "--dp-sampling\t%s\n", train_dp_sampling_name(o->dp_sampling));
        buf_printf(b, "--dp-freeze-embeddings\t%s\n", o->dp_freeze_embeddings ? "on" : "off");
        buf_printf(b, "--dp-grad\t%s\n", train_dp_grad_name(o->dp_grad));
        if (o->dp_grad == TRAIN_DP_GRAD_GHOST) buf_printf(b, "--dp-micro-batch\t%d\n", o->dp_micro_batch);
    }
    buf_printf(b, "training data\t%zu documents, %llu tokens, hash %016llx\n", d->n, (unsigned long long)d->off[d->n],
               (unsigned long long)fp_dataset_hash(d));
    fp_config(b, model_config(m));
    size_t n = model_num_params(m);
    float *p = xmalloc(n * sizeof *p);
    model_get_params(m, p);
    buf_printf(b, "initial weights (--model checkpoint, or --config with --init-seed)\t%zu parameters, hash %016llx\n", n,
               (unsigned long long)hash_fnv1a64(p, n * sizeof *p, ACA_FNV_SEED));
    free(p);
    if (o->fingerprint_extra) buf_puts(b, o->fingerprint_extra);
}

// The value of field `name` (length of the name) in fingerprint text fp, or NULL; *vl its length.
static const char *fp_find(const char *fp, const char *name, size_t nl, size_t *vl) {
    for (const char *l = fp; *l;) {
        const char *tab = strchr(l, '\t'), *end = strchr(l, '\n');
        if (!end) end = l + strlen(l);
        if (tab && tab < end && (size_t)(tab - l) == nl && !memcmp(l, name, nl)) return *vl = (size_t)(end - tab - 1), tab + 1;
        l = *end ? end + 1 : end;
    }
    return NULL;
}

static void fp_value(char *out, size_t n, const char *v, size_t vl) {
    if (v) snprintf(out, n, "%.*s", (int)vl, v);
    else snprintf(out, n, "absent");
}

// Error naming the first field whose value differs between the checkpoint's fingerprint (old) and
// this run's (cur), and the names of the others that differ.
static int fp_compare(const char *path, const char *old, const char *cur, aca_err *e) {
    int ndiff = 0;
    char first[700] = "", more[300] = "", vo[300], vc[300];
    for (int pass = 0; pass < 2; pass++) { // this run's fields, then the checkpoint's that this run lacks
        const char *a = pass ? old : cur, *b = pass ? cur : old;
        for (const char *l = a; *l;) {
            const char *tab = strchr(l, '\t'), *end = strchr(l, '\n');
            if (!end) end = l + strlen(l);
            if (!tab || tab > end) break;
            size_t nl = (size_t)(tab - l), vl = 0, ml = (size_t)(end - tab - 1);
            const char *v = fp_find(b, l, nl, &vl);
            if (!(v && vl == ml && !memcmp(v, tab + 1, vl)) && !(pass && v)) {
                if (ndiff++ == 0) {
                    fp_value(vo, sizeof vo, pass ? tab + 1 : v, pass ? ml : vl);
                    fp_value(vc, sizeof vc, pass ? v : tab + 1, pass ? vl : ml);
                    snprintf(first, sizeof first, "%.*s is %s in the checkpoint but %s now", (int)nl, l, vo, vc);
                } else if (strlen(more) + nl + 3 < sizeof more) {
                    snprintf(more + strlen(more), sizeof more - strlen(more), "%s%.*s", *more ? ", " : "", (int)nl, l);
                }
            }
            l = *end ? end + 1 : end;
        }
    }
    if (!ndiff) return 0;
    return aca_errf(e, ACA_ERR_VALUE,
                    "%s: the checkpoint is of another run: %s%s%s (resume only the run that wrote it, or train without --resume "
                    "into another --out)", path, first, *more ? "; also different: " : "", more);
}

// ---- checkpoints -------------------------------------------------------------------------------
#define CKPT_MAGIC "ACACKPT2"
#define CKPT_MAGIC_V1 "ACACKPT1"

typedef struct {
    char magic[8];
    uint64_t numel, step, adam_t, total, seed;
    float scale;
    int32_t window, good, reserved;
    uint64_t fp_len; // bytes of fingerprint text after the header
} ckpt_header;

static int write_hashed(FILE *f, const void *p, size_t n, uint64_t *h) {
    *h = hash_fnv1a64(p, n, *h);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int train_checkpoint_save(const aca_model *m, const char *ckpt_dir, const aca_train_state *st, long total_steps,
                          uint64_t seed, const char *fingerprint, aca_err *e) {
    if (dir_make(ckpt_dir, e)) return -1;
    size_t numel = model_num_params(m);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.numel = numel, h.step = (uint64_t)st->step, h.adam_t = (uint64_t)st->adam_t;
    h.total = (uint64_t)total_steps, h.seed = seed;
    h.scale = st->ls.scale, h.window = st->ls.window, h.good = st->ls.good;
    h.fp_len = strlen(fingerprint);
    float *buf = xmalloc(numel * sizeof *buf), *v = xmalloc(numel * sizeof *v);
    char *path = path_join(ckpt_dir, TRAIN_CKPT_NAME);
    aca_atomic a;
    int rc = atomic_open(&a, path, e);
    if (!rc) {
        uint64_t hs = ACA_FNV_SEED;
        int bad = write_hashed(a.f, &h, sizeof h, &hs);
        bad |= write_hashed(a.f, fingerprint, h.fp_len, &hs);
        model_get_params(m, buf);
        bad |= write_hashed(a.f, buf, numel * sizeof *buf, &hs);
        model_get_adam_state(m, buf, v);
        bad |= write_hashed(a.f, buf, numel * sizeof *buf, &hs);
        bad |= write_hashed(a.f, v, numel * sizeof *v, &hs);
        bad |= fwrite(&hs, sizeof hs, 1, a.f) != 1;
        if (bad) {
            atomic_abort(&a);
            rc = aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", path);
        } else {
            rc = atomic_commit(&a, e);
        }
    }
    free(path);
    free(buf);
    free(v);
    return rc;
}

// The header, checked against the file's size (before anything is allocated from its fields).
static int ckpt_read_header(FILE *f, const char *path, ckpt_header *h, aca_err *e) {
    struct stat sb;
    if (fstat(fileno(f), &sb)) return aca_errf(e, ACA_ERR_IO, "%s: %s", path, strerror(errno));
    uint64_t size = (uint64_t)sb.st_size;
    memset(h, 0, sizeof *h);
    size_t got = fread(h, 1, sizeof *h, f);
    if (got >= 8 && !memcmp(h->magic, CKPT_MAGIC_V1, 8))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: written by an older aca, without the fingerprint of its run, so it cannot be checked to belong "
                        "to this one; train without --resume (into another --out, or after removing this checkpoint)", path);
    if (got != sizeof *h || memcmp(h->magic, CKPT_MAGIC, 8))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: not an aca trainer checkpoint (bad magic or truncated header)", path);
    uint64_t room = size - sizeof *h - 8; // what the fingerprint and the three arrays may hold
    if (size < sizeof *h + 8 || h->fp_len > room || h->numel > (room - h->fp_len) / 12 ||
        sizeof *h + h->fp_len + 12 * h->numel + 8 != size)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: truncated or corrupt checkpoint (%llu bytes; the header describes another size)", path,
                        (unsigned long long)size);
    return 0;
}

static int read_hashed(FILE *f, void *p, size_t n, uint64_t *h) {
    if (fread(p, 1, n, f) != n) return -1;
    *h = hash_fnv1a64(p, n, *h);
    return 0;
}

// What the header says against this run (after the fingerprint matched).
static int ckpt_check_header(const ckpt_header *h, const char *path, size_t numel, long total_steps, uint64_t seed, aca_err *e) {
    if (h->numel != numel)
        return aca_errf(e, ACA_ERR_VALUE, "%s: checkpoint has %llu parameters, the model %zu (another model?)", path,
                        (unsigned long long)h->numel, numel);
    if (h->total != (uint64_t)total_steps || h->seed != seed)
        return aca_errf(e, ACA_ERR_VALUE, "%s: checkpoint is of a run of %llu steps with seed %llu, this run has %ld steps and seed %llu",
                        path, (unsigned long long)h->total, (unsigned long long)h->seed, total_steps, (unsigned long long)seed);
    if (h->step > h->total || h->adam_t > h->step)
        return aca_errf(e, ACA_ERR_FORMAT, "%s: corrupt checkpoint header (step %llu of %llu)", path,
                        (unsigned long long)h->step, (unsigned long long)h->total);
    return 0;
}

int train_checkpoint_load(aca_model *m, const char *ckpt_dir, long total_steps, uint64_t seed, const char *fingerprint,
                          aca_train_state *st, aca_err *e) {
    if (model_prepare_adam(m, e)) return -1; // where model_set_adam_state puts the checkpoint's moments
    char *path = path_join(ckpt_dir, TRAIN_CKPT_NAME);
    FILE *f = fopen(path, "rb");
    if (!f) {
        aca_errf(e, ACA_ERR_IO, "%s: cannot open checkpoint: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    size_t numel = model_num_params(m);
    ckpt_header h;
    uint64_t hs = ACA_FNV_SEED, stored;
    float *p = NULL, *mm = NULL, *vv = NULL;
    char *fp = NULL;
    int rc = -1;
    if (ckpt_read_header(f, path, &h, e)) goto done;
    hs = hash_fnv1a64(&h, sizeof h, hs);
    fp = xcalloc(h.fp_len + 1, 1);
    size_t n = (size_t)h.numel;
    p = xmalloc(n * sizeof *p + 1), mm = xmalloc(n * sizeof *mm + 1), vv = xmalloc(n * sizeof *vv + 1);
    if (read_hashed(f, fp, h.fp_len, &hs) || read_hashed(f, p, n * sizeof *p, &hs) || read_hashed(f, mm, n * sizeof *mm, &hs) ||
        read_hashed(f, vv, n * sizeof *vv, &hs) || fread(&stored, sizeof stored, 1, f) != 1) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: truncated checkpoint", path);
        goto done;
    }
    if (stored != hs || fgetc(f) != EOF || memchr(fp, 0, h.fp_len)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: checkpoint checksum mismatch (corrupt file)", path);
        goto done;
    }
    if (fp_compare(path, fp, fingerprint, e) || ckpt_check_header(&h, path, numel, total_steps, seed, e)) goto done;
    model_set_params(m, p);
    model_set_adam_state(m, mm, vv);
    st->step = (long)h.step;
    st->adam_t = (long)h.adam_t;
    st->ls.scale = h.scale, st->ls.window = h.window, st->ls.good = h.good;
    rc = 0;
done:
    fclose(f);
    free(path);
    free(fp);
    free(p);
    free(mm);
    free(vv);
    return rc;
}
