// Running a grid's cells (see include/aca/grid.h, "Running a cell"): each cell's derived spec, its
// condition run (run_condition, in the grid's experiment context: the corpus and the tokenizer
// loaded once), its result.json and results.jsonl line; cells one by one or in worker processes;
// the locks and checks before the first cell.
#include "grid_internal.h"

#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/jsonw.h"
#include "aca/outdir.h"

// ---- one cell ----------------------------------------------------------------------------------
// A number that may be "none" (< 0): null.
static void num_or_null(aca_jsonw *w, double x) {
    char num[40];
    if (x < 0) {
        jsonw_null(w);
        return;
    }
    grid_num_str(x, num, sizeof num);
    jsonw_raw(w, num);
}

// The "grid" object of a cell's result: what the cell is, its seeds and its definition.
static void cell_grid_json(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_cell *c, aca_jsonw *w) {
    int pi, hi, ei;
    grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    jsonw_obj(w);
    jsonw_kstr(w, "cell", c->id);
    jsonw_kint(w, "index", c->index);
    jsonw_kstr(w, "kind", grid_kind_json(c->kind));
    jsonw_kint(w, "trial", c->trial);
    jsonw_kint(w, "variant", c->variant);
    jsonw_kint(w, "period", g->periods[pi]);
    jsonw_key(w, "homogeneity"), num_or_null(w, g->homog[hi]);
    jsonw_key(w, "dp_epsilon"), num_or_null(w, g->eps[ei]);
    jsonw_key(w, "acting");
    grid_acting_json(g, c->acting, w);
    jsonw_key(w, "levels");
    jsonw_obj(w);
    for (int i = 0; i < g->n_coll; i++) {
        char l[64];
        grid_level_str(g, i, c->level_idx[i], l, sizeof l);
        jsonw_key(w, g->coll[i].name), jsonw_raw(w, l);
    }
    jsonw_end(w);
    jsonw_kuint(w, "grid_seed", g->seed);
    jsonw_kuint(w, "data_seed", grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA));
    jsonw_kuint(w, "train_seed", grid_trial_seed(g->seed, c->trial, GRID_SEED_TRAIN));
    aca_buf def = {0};
    grid_cell_definition(g, in, c, &def);
    jsonw_key(w, "definition"), jsonw_raw(w, def.data);
    jsonw_end(w);
    buf_free(&def);
}

// The grid's run options (model, split, training, device; DP-SGD off), with its corpus.
static void base_setup(const aca_grid_spec *g, const aca_grid_inputs *in, aca_run_setup *s) {
    *s = g->run;
    s->corpus_path = grid_input_of(in, "corpus")->path;
    if (g->encoding) corpus_parse_encoding(g->encoding, &s->corpus_opts.encoding, NULL);
}

// DP-SGD: sigma chosen so that the whole training spends the variant's epsilon at delta.
static void cell_dp(const aca_grid_spec *g, const aca_grid_cell *c, aca_train_opts *t) {
    int pi, hi, ei;
    grid_variant_axes(g, c->variant, &pi, &hi, &ei);
    if (g->eps[ei] < 0) return;
    t->dp = 1;
    t->dp_epsilon = g->eps[ei];
    t->dp_sigma = NAN; // the other DP settings are the grid's run options (base_setup)
}


// The run setup of cell c: the base setup, its derived spec, seeds, DP and progress.
static void cell_setup(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o, const aca_grid_cell *c,
                       const char *spec, const char *dir, const char *cache, aca_run_setup *s) {
    base_setup(g, in, s);
    s->spec_path = spec;
    s->work_dir = dir;
    s->cache_dir = cache;
    s->has_data_seed = 1;
    s->data_seed = grid_trial_seed(g->seed, c->trial, GRID_SEED_DATA);
    s->train.seed = s->init_seed = grid_trial_seed(g->seed, c->trial, GRID_SEED_TRAIN);
    s->train.on_step = o->on_step;
    s->train.on_step_ctx = o->on_step_ctx;
    s->write_data = o->keep_work; // the data lives in memory: its directory only for a look afterwards
    cell_dp(g, c, &s->train);
}

// The cell's records: the data manifest (split, seed, members), then result.json (the cell is
// finished once it exists), then its line in results.jsonl; then, unless kept, its checkpoint.
static int cell_record(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_grid_opts *o, const aca_grid_cell *c,
                       const aca_run_setup *s, const aca_run_result *r, const char *dir, aca_err *e) {
    aca_buf b = {0}, res_json = {0};
    char *res = path_join(dir, "result.json"), *man = path_join(dir, "manifest.json");
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    jsonw_key(&w, "grid");
    cell_grid_json(g, in, c, &w);
    run_result_to_json(s, r, &res_json);
    jsonw_key(&w, "result"), jsonw_raw(&w, res_json.data);
    jsonw_end(&w);
    buf_free(&res_json);
    int rc = file_write_atomic(man, r->manifest, strlen(r->manifest), e) || file_write_atomic(res, b.data, b.len, e) ||
                     grid_results_add(o->out_dir, c, b.data, b.len, e)
                 ? -1
                 : 0;
    if (!rc && !o->keep_work) {
        char *cd = path_join(dir, r->cond_name), *ck = path_join(cd, "ckpt");
        dir_remove_recursive(ck);
        free(ck), free(cd);
    }
    buf_free(&b);
    free(res), free(man);
    return rc;
}

// The acting set of cell c as run_cond_init takes it: NULL every collective, "" none, else names.
static char *cell_acting(const aca_grid_spec *g, const aca_grid_cell *c) {
    const unsigned all = (1u << g->n_coll) - 1;
    if (c->kind != GRID_CELL_BASELINE && c->acting == all) return NULL;
    aca_buf names = {0};
    buf_puts(&names, "");
    if (c->kind != GRID_CELL_BASELINE) grid_acting_names(g, c->acting, ",", &names);
    return names.data;
}

// Cell c in the grid's context x: its derived spec (written to spec.json, parsed from memory), its
// acting set, the condition, the records.
static int run_cell(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_run_ctx *x, const aca_grid_opts *o,
                    const aca_grid_cell *c, aca_run_result *r, aca_err *e) {
    memset(r, 0, sizeof *r);
    char *dir = grid_cell_path(o->out_dir, c, NULL), *spec = path_join(dir, "spec.json");
    char *cache = path_join(o->out_dir, "tokcache"), *acting = cell_acting(g, c);
    aca_buf b = {0};
    aca_spec sp = {0};
    aca_run_cond cond;
    run_cond_init(&cond, acting);
    int rc = -1;
    // A half-done cell (killed mid-run) leaves no result.json: start it from scratch.
    dir_remove_recursive(dir);
    if (dir_make(dir, e) || dir_make(cache, e)) goto done;
    grid_cell_spec_json(g, c, &b);
    if (file_write_atomic(spec, b.data, b.len, e) || spec_parse(b.data, spec, &sp, e)) goto done;
    aca_run_setup s;
    cell_setup(g, in, o, c, spec, dir, cache, &s);
    aca_run_ctx cx = *x;
    cx.spec = &sp;
    // The inputs as hashed, before the cell and after it (else its result is not recorded).
    if (grid_inputs_unchanged(g, in, e) || run_condition(&s, &cx, &cond, r, e) || grid_inputs_unchanged(g, in, e) ||
        cell_record(g, in, o, c, &s, r, dir, e))
        goto done;
    rc = 0;
done:
    if (rc) {
        aca_err_prefix(e, "cell %d (%s)", c->index, c->id);
        grid_err_fields(g, e);
    }
    buf_free(&b);
    spec_free(&sp);
    run_cond_free(&cond);
    free(dir), free(spec), free(cache), free(acting);
    return rc;
}

// ---- worker processes --------------------------------------------------------------------------
// The signals the parent watches while its workers run: SIGINT and SIGTERM unless ignored, and
// SIGCHLD (a worker ended).
static void watched_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t k = 0; k < ACA_ARRAY_LEN(sigs); k++) {
        struct sigaction sa;
        if (sigaction(sigs[k], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN) sigaddset(set, sigs[k]);
    }
}

// In a worker right after fork: SIGKILL when the parent dies (it may already have: then getppid()
// is another process), SIGINT left to the parent, SIGTERM not ignored, the parent's old mask back.
static void worker_init(pid_t parent, const sigset_t *old_mask) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
    if (getppid() != parent) raise(SIGKILL); // the parent died before the request: the death signal it would have sent
    signal(SIGINT, SIG_IGN);
    struct sigaction sa;
    if (sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_SETMASK, old_mask, NULL);
}

// Worker w of jobs: cells w, w + jobs, ...; exits 0 or 1 (its failure said on stderr).
static _Noreturn void worker_run(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_run_ctx *x,
                                 const aca_grid_opts *o, const aca_grid_cell *cells, int n, int w) {
    int threads = omp_get_num_procs() / o->jobs;
    omp_set_num_threads(threads > 0 ? threads : 1);
    aca_grid_opts co = *o;
    co.on_step = NULL; // no progress bars from several processes
    aca_err ce = {0};
    for (int k = w; k < n; k += o->jobs) {
        if (grid_cell_done(o->out_dir, &cells[k])) {
            if (co.on_cell) co.on_cell(g, &cells[k], n, 1, NULL, NAN, co.ctx);
            continue;
        }
        if (co.on_cell) co.on_cell(g, &cells[k], n, 0, NULL, NAN, co.ctx);
        aca_run_result r;
        if (run_cell(g, in, x, &co, &cells[k], &r, &ce)) {
            fprintf(stderr, "aca: worker %d: %s\n", w, ce.msg);
            _exit(1);
        }
        if (co.on_cell) co.on_cell(g, &cells[k], n, 0, &r, NAN, co.ctx);
        run_result_free(&r);
    }
    _exit(0);
}

// Waits for the n workers (pid[k] = 0 once reaped), counting failures (and those killed by a
// signal).  On a watched SIGINT or SIGTERM, sends every worker SIGTERM and goes on waiting; returns
// that signal (0: none).
static int wait_workers(pid_t *pid, int n, const sigset_t *watch, int *failed, int *killed) {
    int left = n, sig = 0;
    while (left > 0) {
        for (int k = 0; k < n; k++) {
            int status = 0;
            if (pid[k] <= 0 || waitpid(pid[k], &status, WNOHANG) != pid[k]) continue;
            *failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            *killed += WIFSIGNALED(status);
            pid[k] = 0;
            left--;
        }
        if (!left) break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        int s = sigtimedwait(watch, NULL, &ts);
        if ((s == SIGINT || s == SIGTERM) && !sig) {
            sig = s;
            for (int k = 0; k < n; k++)
                if (pid[k] > 0) kill(pid[k], SIGTERM);
        }
    }
    return sig;
}

// jobs worker processes, worker w running cells w, w + jobs, ... (forked before any OpenMP or CUDA
// use in this process).  A failed worker says why on stderr; the others finish their cells.
static int run_workers(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_run_ctx *x, const aca_grid_opts *o,
                       aca_grid_cell *cells, int n, aca_grid_stats *st, aca_err *e) {
    int before = 0;
    for (int k = 0; k < n; k++) before += grid_cell_done(o->out_dir, &cells[k]);
    fflush(stdout);
    fflush(stderr);
    sigset_t watch, old;
    watched_signals(&watch);
    sigprocmask(SIG_BLOCK, &watch, &old);
    const pid_t parent = getpid();
    pid_t *pid = xcalloc((size_t)o->jobs, sizeof *pid);
    int started = 0, failed = 0, killed = 0;
    for (int w = 0; w < o->jobs; w++) {
        pid_t p = fork();
        if (p < 0) {
            failed++;
            break;
        }
        if (p == 0) {
            worker_init(parent, &old);
            worker_run(g, in, x, o, cells, n, w);
        }
        pid[started++] = p;
    }
    const int sig = wait_workers(pid, started, &watch, &failed, &killed);
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(pid);
    int after = 0;
    for (int k = 0; k < n; k++) after += grid_cell_done(o->out_dir, &cells[k]);
    st->skipped = before;
    st->ran = after - before;
    if (sig) {
        raise(sig); // the handler this process had (by default: the end of it)
        return aca_errf(e, ACA_ERR_VALUE, "stopped by %s: the workers were stopped; the %d finished cells are kept: run "
                        "again to resume", strsignal(sig), after);
    }
    if (failed)
        return aca_errf(e, ACA_ERR_VALUE,
                        "%d of %d grid workers failed (%d killed by a signal, the others said why above); the %d finished "
                        "cells are kept: run again to resume",
                        failed, o->jobs, killed, after);
    return 0;
}

// The cells lo..hi-1 one after the other in this process.
static int run_serial(const aca_grid_spec *g, const aca_grid_inputs *in, const aca_run_ctx *x, const aca_grid_opts *o,
                      aca_grid_cell *cells, int n, int lo, int hi, aca_grid_stats *st, aca_err *e) {
    int todo = 0;
    for (int k = lo; k < hi; k++) todo += !grid_cell_done(o->out_dir, &cells[k]);
    double spent = 0;
    for (int k = lo; k < hi; k++) {
        if (grid_cell_done(o->out_dir, &cells[k])) {
            st->skipped++;
            if (o->on_cell) o->on_cell(g, &cells[k], n, 1, NULL, NAN, o->ctx);
            continue;
        }
        double eta = st->ran ? spent / st->ran * (todo - st->ran) : NAN;
        if (o->on_cell) o->on_cell(g, &cells[k], n, 0, NULL, eta, o->ctx);
        aca_run_result r;
        double t = time_now();
        int crc = run_cell(g, in, x, o, &cells[k], &r, e);
        spent += time_now() - t;
        st->ran++;
        eta = spent / st->ran * (todo - st->ran);
        if (!crc && o->on_cell) o->on_cell(g, &cells[k], n, 0, &r, eta, o->ctx);
        run_result_free(&r);
        if (crc) return -1;
    }
    return 0;
}

// A whole-grid run holds OUT/locks/grid exclusively; a --cell run holds it shared (Slurm tasks of
// one grid side by side) and its cell's lock exclusively.
static int lock_out(const aca_grid_opts *o, const aca_grid_cell *cells, int *grid_fd, int *cell_fd, aca_err *e) {
    if (o->cell < 0)
        return grid_lock(o->out_dir, "grid", 1, 0, "another aca grid runs there (the whole grid, or cells of it with --cell)",
                         grid_fd, e);
    const aca_grid_cell *c = &cells[o->cell];
    char name[GRID_ID_MAX + 16], busy[GRID_ID_MAX + 80];
    snprintf(name, sizeof name, "cell-%s", c->id);
    snprintf(busy, sizeof busy, "another aca grid runs cell %d (%s) there", c->index, c->id);
    return grid_lock(o->out_dir, "grid", 0, 0, "another aca grid runs the whole grid there (this cell too)",
                     grid_fd, e) ||
                   grid_lock(o->out_dir, name, 1, 0, busy, cell_fd, e)
               ? -1
               : 0;
}

int grid_run(const aca_grid_spec *g, const aca_grid_opts *o, aca_grid_stats *st, aca_err *e) {
    memset(st, 0, sizeof *st);
    aca_grid_cell *cells = NULL;
    const aca_grid_inputs *in = NULL;
    aca_tokenizer *tok = NULL;
    int n = 0, rc = -1, grid_fd = -1, cell_fd = -1;
    if (grid_cells(g, &cells, &n, e)) return -1;
    st->n_cells = n;
    const aca_grid_out_mode mode = o->cell >= 0 ? GRID_OUT_CELL : GRID_OUT_RUN;
    const int lo = o->cell >= 0 ? o->cell : 0, hi = o->cell >= 0 ? o->cell + 1 : n;
    char *cdir = path_join(o->out_dir, "cells");
    if (o->cell >= n) aca_errf(e, ACA_ERR_VALUE, "--cell %d: the grid has %d cells (0..%d)", o->cell, n, n - 1);
    else if (!grid_out_is_grid(o->out_dir, e) && !dir_make(cdir, e) &&
             (outdir_is(o->out_dir, "grid") || !outdir_mark(o->out_dir, "grid", e)) && !lock_out(o, cells, &grid_fd, &cell_fd, e) &&
             !grid_out_check(g, o->out_dir, cells, n, lo, hi, mode, e) && !grid_inputs(g, o->out_dir, &in, e) &&
             !grid_check(g, in, cells, lo, hi, &tok, e) && !grid_out_commit(g, o->out_dir, mode, e) &&
             (mode == GRID_OUT_CELL || !grid_results_rebuild(o->out_dir, cells, n, e))) {
        // The experiment context: the corpus grid_inputs read and hashed, the tokenizer grid_check
        // loaded; each cell adds its own spec.
        aca_run_ctx x;
        memset(&x, 0, sizeof x);
        x.corpus = &in->corpus;
        x.corpus_path = grid_input_of(in, "corpus")->path;
        x.tok = tok;
        if (o->jobs > 1 && mode == GRID_OUT_RUN) rc = run_workers(g, in, &x, o, cells, n, st, e);
        else rc = run_serial(g, in, &x, o, cells, n, lo, hi, st, e);
        aca_err e2 = {0}; // results.jsonl in cell order again (also after a failure: the cells are the truth)
        if (mode == GRID_OUT_RUN && grid_results_rebuild(o->out_dir, cells, n, rc ? &e2 : e)) rc = -1;
    }
    if (tok) tokenizer_free(tok);
    grid_unlock(cell_fd);
    grid_unlock(grid_fd);
    grid_cells_free(cells, n);
    free(cdir);
    return rc;
}
