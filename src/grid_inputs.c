// A grid's inputs (see include/aca/grid.h, "The output directory"): the files a grid's cells read
// (the corpus, the model config or checkpoint, the tokenizer), resolved from the spec, each stamped
// and hashed once per process, the corpus parsed from that very read; and the check, around every
// cell, that none of them changed since.
#include "grid_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aca/corpus.h"

void grid_inputs_free(aca_grid_inputs *in) {
    if (!in) return;
    for (int k = 0; k < in->n; k++) free(in->v[k].path);
    free(in->out_dir);
    if (in->corpus_ok) corpus_free(&in->corpus);
    memset(in, 0, sizeof *in);
}

static void input_add(aca_grid_inputs *in, const char *role, const char *field, char *path) {
    if (in->n == GRID_MAX_INPUTS) { // a tokenizer directory with many .model files: tokenizer_load refuses it
        free(path);
        return;
    }
    aca_grid_input *x = &in->v[in->n++];
    snprintf(x->role, sizeof x->role, "%s", role);
    x->field = field;
    x->path = path;
    x->sha256[0] = 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

// The files tokenizer_load reads in a directory (those present): the WordPiece files and any
// SentencePiece .model.
static void tokenizer_dir_inputs(aca_grid_inputs *in, const char *dir, const char *field) {
    static const char *const names[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    char role[64];
    for (size_t k = 0; k < ACA_ARRAY_LEN(names); k++) {
        char *p = path_join(dir, names[k]);
        snprintf(role, sizeof role, "tokenizer %s", names[k]);
        if (file_exists(p)) input_add(in, role, field, p);
        else free(p);
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (ends_with(de->d_name, ".model")) {
            snprintf(role, sizeof role, "tokenizer %.50s", de->d_name);
            input_add(in, role, field, path_join(dir, de->d_name));
        }
    if (d) closedir(d);
}

static int inputs_resolve(const aca_grid_spec *g, const char *out_dir, aca_grid_inputs *in, aca_err *e) {
    if (g->corpus_path) input_add(in, "corpus", "corpus.path", xstrdup(g->corpus_path));
    else input_add(in, "corpus", "corpus.synthetic", path_join(out_dir, "corpus.txt"));
    if (g->run.model_dir) {
        input_add(in, "model config", "model.dir", path_join(g->run.model_dir, "config.json"));
        input_add(in, "checkpoint weights", "model.dir", path_join(g->run.model_dir, "model.safetensors"));
    } else if (g->run.config_path) {
        input_add(in, "model config", "model.config", xstrdup(g->run.config_path));
    } else {
        return aca_errf(e, ACA_ERR_VALUE, "%s: model: no model: give \"dir\" (a checkpoint) or \"config\" (random init)",
                        g->path);
    }
    // The tokenizer as the cells open it (tokenizer_for_model): "vocab" (a file or a directory), else
    // the checkpoint directory.  What it lacks there, grid_check reports.
    const char *tok = g->run.vocab_path ? g->run.vocab_path : g->run.model_dir;
    const char *field = g->run.vocab_path ? "model.vocab" : "model.dir";
    struct stat st;
    if (!tok) return aca_errf(e, ACA_ERR_VALUE, "%s: model.vocab: a model from \"config\" needs a vocabulary", g->path);
    if (stat(tok, &st) == 0 && S_ISDIR(st.st_mode)) tokenizer_dir_inputs(in, tok, field);
    else input_add(in, "vocabulary", field, xstrdup(tok));
    return 0;
}

// What stat says of path (all -1 when it cannot).
static void input_stamp(const char *path, int64_t st_out[5]) {
    struct stat st;
    if (stat(path, &st)) {
        for (int k = 0; k < 5; k++) st_out[k] = -1;
        return;
    }
    int64_t v[5] = {(int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size,
                    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                    (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec};
    memcpy(st_out, v, sizeof v);
}

int grid_inputs_unchanged(const aca_grid_spec *g, const aca_grid_inputs *in, aca_err *e) {
    for (int k = 0; k < in->n; k++) {
        const aca_grid_input *x = &in->v[k];
        int64_t now[5];
        char sha[65];
        input_stamp(x->path, now);
        if (!memcmp(now, x->stamp, sizeof now)) continue;
        if (sha256_file_hex(x->path, sha, e)) return aca_err_prefix(e, "%s: %s: the %s changed while the grid ran", g->path, x->field, x->role);
        if (strcmp(sha, x->sha256))
            return aca_errf(e, ACA_ERR_VALUE,
                            "%s: %s: the %s %s changed while the grid ran (sha256 %s when it started, %s now): the cell "
                            "was not recorded, as it may mix both; restore the file and run the grid again (finished cells "
                            "are kept), or run the changed grid with a new --out",
                            g->path, x->field, x->role, x->path, x->sha256, sha);
    }
    return 0;
}

// Input k's SHA-256; the corpus's from the one read that also parses it (kept in in->corpus; a
// corpus that does not parse keeps its error for grid_check, which reports it).
static int input_hash(const aca_grid_spec *g, aca_grid_inputs *in, int k, aca_err *e) {
    aca_grid_input *x = &in->v[k];
    if (strcmp(x->role, "corpus")) return sha256_file_hex(x->path, x->sha256, e);
    aca_corpus_opts co = {0};
    co.hash = 1;
    if (g->encoding) corpus_parse_encoding(g->encoding, &co.encoding, NULL);
    aca_corpus c;
    in->corpus_ok = !corpus_load(x->path, &co, &c, &in->corpus_err);
    snprintf(x->sha256, sizeof x->sha256, "%s", c.sha256);
    if (in->corpus_ok) in->corpus = c;
    if (!x->sha256[0]) { // not even read
        if (e) *e = in->corpus_err;
        return -1;
    }
    return 0;
}

int grid_inputs(const aca_grid_spec *g, const char *out_dir, const aca_grid_inputs **out, aca_err *e) {
    aca_grid_inputs *in = g->inputs;
    if (!in) return aca_errf(e, ACA_ERR_VALUE, "%s: grid spec not from grid_spec_parse", g->path);
    if (in->out_dir && !strcmp(in->out_dir, out_dir)) {
        *out = in;
        return 0;
    }
    grid_inputs_free(in);
    int rc = inputs_resolve(g, out_dir, in, e);
    for (int k = 0; !rc && k < in->n; k++) {
        struct stat st;
        if (stat(in->v[k].path, &st) == 0 && !S_ISREG(st.st_mode)) // a pipe would give its bytes to the hash only
            rc = aca_errf(e, ACA_ERR_IO, "%s: %s: %s is not a regular file (%s): a grid reads its inputs again for every "
                          "cell; save it to a file", g->path, in->v[k].field, in->v[k].path,
                          S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a pipe" : "a device or socket");
        else if (input_stamp(in->v[k].path, in->v[k].stamp), input_hash(g, in, k, e))
            rc = aca_err_prefix(e, "%s: %s", g->path, in->v[k].field);
    }
    if (rc) {
        grid_inputs_free(in);
        return -1;
    }
    in->out_dir = xstrdup(out_dir);
    *out = in;
    return 0;
}

const aca_grid_input *grid_input_of(const aca_grid_inputs *in, const char *role) {
    for (int k = 0; k < in->n; k++)
        if (!strcmp(in->v[k].role, role)) return &in->v[k];
    return NULL;
}
