// aca grid: an experiment grid (baseline, alone, joint over participation levels and trials) from
// GRID.json — run (resumable), one cell (Slurm array task), list, emit a Slurm script, or report.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/grid.h"
#include "cli.h"

typedef struct {
    cli_progress prog;
    double t_cell;
} grid_ui;

static void fmt_eta(double s, char *out, size_t n) {
    if (!isfinite(s)) snprintf(out, n, "ETA n/a");
    else if (s < 90) snprintf(out, n, "ETA %.0f s", s);
    else if (s < 5400) snprintf(out, n, "ETA %.0f min", s / 60);
    else snprintf(out, n, "ETA %.1f h", s / 3600);
}

static void on_cell(const aca_grid_spec *g, const aca_grid_cell *c, int n, int skipped, const aca_run_result *r,
                    double eta, void *ctx) {
    grid_ui *ui = ctx;
    if (aca_log_level <= 0) return;
    cli_progress_end(&ui->prog);
    char e[64];
    fmt_eta(eta, e, sizeof e);
    if (skipped) {
        fprintf(stderr, "aca: cell %d/%d %s: finished earlier, skipped\n", c->index + 1, n, c->id);
    } else if (!r) {
        fprintf(stderr, "aca: cell %d/%d %s ...%s%s%s\n", c->index + 1, n, c->id, isfinite(eta) ? " (" : "",
                isfinite(eta) ? e : "", isfinite(eta) ? ")" : "");
        ui->t_cell = time_now();
        ui->prog.label = c->id;
    } else {
        fprintf(stderr, "aca: cell %d/%d %s ... %.0f s, clean acc %.3f, efficacy", c->index + 1, n, c->id,
                time_now() - ui->t_cell, r->eval.clean.accuracy);
        // The acting collectives' efficacy (every probe set's for the baseline).
        for (int i = 0; i < r->eval.n_coll; i++)
            for (int k = 0; k < g->n_coll; k++)
                if (!strcmp(g->coll[k].name, r->eval.eff[i].name) && (c->kind == GRID_CELL_BASELINE || (c->acting >> k & 1)))
                    fprintf(stderr, " %s=%.2f", r->eval.eff[i].name, r->eval.eff[i].efficacy);
        fprintf(stderr, " (%s)\n", e);
    }
}

// A Slurm script that `aca grid --emit-slurm` wrote.
static int is_slurm_script(const char *path) {
    static const char head[] = "#!/bin/bash\n# aca grid ";
    return out_file_starts_with(path, head, sizeof head - 1);
}

// OUT, the grid's own directory (resumed when it is an aca grid output, never replaced), and the
// Slurm script, checked against the grid's inputs before any cell runs; then OUT made and marked.
static int grid_outputs_open(const char *outd, const char *slurm, int replace, const aca_grid_spec *g) {
    const char *inputs[] = {g->path, g->corpus_path, g->run.model_dir, g->run.config_path, g->run.vocab_path};
    const int n = (int)ACA_ARRAY_LEN(inputs);
    aca_out od = {.path = outd, .option = "--out", .kind = "grid", .mode = OUT_DIR_INTO,
                  .fix = "choose another --out, or delete it yourself to start over"};
    aca_out so = {.path = slurm, .option = "--emit-slurm", .kind = "Slurm script", .mode = OUT_FILE,
                  .replace = replace, .recognise = is_slurm_script};
    int rc = cli_check_out(&od, inputs, n);
    if (!rc && slurm) rc = cli_check_out(&so, inputs, n);
    aca_err e = {0};
    if (!rc && outdir_open_into(outd, "grid", 0, &e)) rc = cli_fail(&e);
    return rc;
}

static const char USAGE[] =
    "usage: aca grid GRID.json [--out DIR] [--cell K | --list | --emit-slurm FILE | --report] [options]\n"
    "\n"
    "An experiment grid: the unpoisoned baseline, each collective alone at each participation level,\n"
    "the collectives joint (mode line: all at the same level, Figure 3; mode product: every\n"
    "combination, Figure 4), optional pairs and leave-one-out subsets, over trials with seeds derived\n"
    "from the grid seed.  Each cell runs mutate, tokenize, train and eval in OUT/cells/<id>/ and writes\n"
    "OUT/cells/<id>/result.json (atomically) and a line of OUT/results.jsonl; finished cells are\n"
    "skipped, so a killed grid resumes where it stopped.  After a full run (or with --report) the\n"
    "results are aggregated into OUT/summary.csv, OUT/summary.md, OUT/plots/ (gnuplot PNG + SVG) and\n"
    "the reproduction bundle OUT/bundle/.  The GRID.json format is described in include/aca/grid.h and\n"
    "README.md; presets are in grids/.";

typedef struct {
    const char *out, *slurm;
    long cell, jobs;
    int list, report, plot, keep, quiet, replace;
} grid_args;

// The options, checked against each other (exit 2 naming them); 0 ok, 1: --help printed.
static int grid_parse_args(int argc, char **argv, grid_args *a, const char **grid_path) {
    aca_opt opts[] = {
        {"--out", OPT_STR, &a->out, "DIR", "output directory (default out/grid/<GRID file name>)", 0, 0},
        {"--cell", OPT_INT, &a->cell, "K", "run only cell K (0-based; see --list); skipped when finished", 0, 0},
        {"--list", OPT_FLAG, &a->list, NULL, "print the cells (index, id, done/todo) and exit", 0, 0},
        {"--emit-slurm", OPT_STR, &a->slurm, "FILE", "write a Slurm array script (one task per cell) and exit", 0, 0},
        {"--report", OPT_FLAG, &a->report, NULL, "only aggregate the finished cells: summary, plots, bundle", 0, 0},
        {"--plot", OPT_FLAG, &a->plot, NULL, "same as --report", 0, 0},
        {"--keep-work", OPT_FLAG, &a->keep, NULL, "keep each cell's mutated data and checkpoint directories", 0, 0},
        {"--jobs", OPT_INT, &a->jobs, "N", "run N cells at a time in worker processes (CPU: cores are split; "
                                           "CUDA: N contexts share the GPU); default 1", 0, 0},
        {"--quiet", OPT_FLAG, &a->quiet, NULL, "no progress output", 0, 0},
        {"--replace", OPT_FLAG, &a->replace, NULL, "with --emit-slurm: overwrite a FILE that aca did not write", 0, 0},
    };
    const int n = (int)ACA_ARRAY_LEN(opts);
    aca_err e = {0};
    int npos = 0, r = opt_parse(opts, n, argc, argv, 1, grid_path, 1, &npos, USAGE, &e);
    if (r == 1) return 1;
    if (r < 0) return cli_fail(&e), 2;
    if (npos != 1) return fprintf(stderr, "aca: grid needs one GRID.json (see --help)\n"), 2;
    a->report |= a->plot;
    if ((a->cell >= 0) + a->list + !!a->slurm + a->report > 1)
        return fprintf(stderr, "aca: give at most one of --cell, --list, --emit-slurm, --report\n"), 2;
    if (cli_opt_seen(opts, n, "--cell") && a->cell < 0) return fprintf(stderr, "aca: --cell must be >= 0\n"), 2;
    if (a->jobs < 1 || a->jobs > 256) return fprintf(stderr, "aca: --jobs must be in [1, 256]\n"), 2;
    if (a->replace && !a->slurm)
        return fprintf(stderr, "aca: --replace goes with --emit-slurm (a grid's --out is never replaced)\n"), 2;
    if (a->quiet) aca_log_level = 0;
    return 0;
}

// Default model: the tiny config with the uncased BERT vocabulary.  0 ok, else the exit status.
static int grid_default_model(aca_grid_spec *g) {
    aca_run_setup s;
    run_setup_default(&s);
    s.model_dir = g->run.model_dir;
    s.config_path = g->run.config_path;
    s.vocab_path = g->run.vocab_path;
    char cfg_buf[4096], vocab_buf[4096];
    int rc = cli_default_model(&s, cfg_buf, vocab_buf, sizeof cfg_buf);
    if (!rc && !g->run.config_path && s.config_path) g->run.config_path = xstrdup(s.config_path);
    if (!rc && !g->run.vocab_path && s.vocab_path) g->run.vocab_path = xstrdup(s.vocab_path);
    return rc;
}

// --out, else out/grid/<GRID file name without .json> (malloc'd).
static char *grid_out_dir(const char *out, const char *grid_path) {
    if (out) return xstrdup(out);
    const char *slash = strrchr(grid_path, '/');
    char *base = xstrdup(slash ? slash + 1 : grid_path);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    char *d = path_join("out/grid", base);
    free(base);
    return d;
}

static int grid_slurm(const aca_grid_spec *g, const char *grid_path, const char *outd, const char *slurm, int n) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return fprintf(stderr, "aca: cannot find the path of this binary (/proc/self/exe)\n"), 1;
    exe[k] = 0;
    aca_err e = {0};
    if (grid_emit_slurm(g, grid_path, outd, exe, slurm, n, &e)) return cli_fail(&e);
    aca_buf b = {0}; // the hint's paths as shell words, so that it can be pasted whatever they hold
    buf_puts(&b, "submit: sbatch ");
    buf_sh_quote(&b, slurm);
    buf_puts(&b, "   then, when all are done: ");
    grid_command(&b, exe, grid_path, outd);
    printf("wrote %s: a Slurm array of %d tasks (0-%d), one cell each, results under %s\n%s --report\n", slurm, n, n - 1,
           outd, b.data);
    buf_free(&b);
    return 0;
}

// Runs the grid's cells (all, or --cell) with progress on stderr.
static int grid_run_cells(const aca_grid_spec *g, const char *outd, const grid_args *a) {
    grid_ui ui;
    memset(&ui, 0, sizeof ui);
    cli_progress_init(&ui.prog, "train");
    aca_grid_opts o;
    memset(&o, 0, sizeof o);
    o.out_dir = outd;
    o.cell = (int)a->cell;
    o.keep_work = a->keep;
    o.jobs = (int)a->jobs;
    o.on_cell = on_cell;
    o.ctx = &ui;
    if (ui.prog.tty && aca_log_level > 0) o.on_step = cli_progress_step, o.on_step_ctx = &ui.prog;
    aca_grid_stats st;
    aca_err e = {0};
    double t0 = time_now();
    int grc = grid_run(g, &o, &st, &e);
    cli_progress_end(&ui.prog);
    if (grc) return cli_fail(&e);
    if (aca_log_level > 0)
        fprintf(stderr, "aca: %d cell%s run, %d skipped (finished earlier), %.0f s\n", st.ran, st.ran == 1 ? "" : "s",
                st.skipped, time_now() - t0);
    return 0;
}

// Aggregates the finished cells, writes the report and prints summary.md.
static int grid_print_report(const aca_grid_spec *g, const char *outd, int report_only) {
    if (report_only && !file_exists(outd))
        return fprintf(stderr, "aca: %s: no such directory: run the grid there first (--report aggregates its finished cells)\n",
                       outd), 1;
    aca_grid_agg a;
    aca_err e = {0};
    if (grid_aggregate(g, outd, &a, &e)) return cli_fail(&e);
    if (grid_report(g, outd, &a, &e)) {
        grid_agg_free(&a);
        return cli_fail(&e);
    }
    char *md = path_join(outd, "summary.md");
    aca_buf b = {0};
    if (!file_read_all(md, &b, &e)) fputs(b.data, stdout);
    printf("\n%d of %d cells finished.  Tables: %s/summary.{md,csv}; plots: %s/plots/; bundle: %s/bundle/\n", a.n_done,
           a.n_cells, outd, outd, outd);
    buf_free(&b);
    free(md);
    grid_agg_free(&a);
    return 0;
}

// The cells and whether each finished.  A finished cell counts only while it still belongs to this
// grid: when an input or a setting changed since, the check's message replaces the list.
static int grid_list(const aca_grid_spec *g, const char *outd, const aca_grid_cell *cells, int n) {
    aca_err e = {0};
    if (file_exists(outd) && grid_out_check(g, outd, cells, n, 0, n, GRID_OUT_REPORT, &e)) return cli_fail(&e);
    for (int k = 0; k < n; k++) printf("%d\t%s\t%s\n", k, cells[k].id, grid_cell_done(outd, &cells[k]) ? "done" : "todo");
    return 0;
}

int cmd_grid(int argc, char **argv) {
    grid_args a = {.cell = -1, .jobs = 1};
    const char *grid_path;
    int rc = grid_parse_args(argc, argv, &a, &grid_path);
    if (rc) return rc == 1 ? 0 : rc;
    aca_grid_spec g;
    aca_err e = {0};
    if (grid_spec_load(grid_path, &g, &e)) return cli_fail(&e);
    if ((rc = grid_default_model(&g))) {
        grid_spec_free(&g);
        return rc;
    }
    char *outd = grid_out_dir(a.out, grid_path);
    aca_grid_cell *cells = NULL;
    int n = 0;
    if (grid_cells(&g, &cells, &n, &e)) {
        rc = cli_fail(&e);
    } else if (a.list) {
        rc = grid_list(&g, outd, cells, n);
    } else if (!(rc = grid_outputs_open(outd, a.slurm, a.replace, &g))) {
        if (a.slurm) rc = grid_slurm(&g, grid_path, outd, a.slurm, n);
        else if (!a.report) rc = grid_run_cells(&g, outd, &a);
        if (!rc && !a.slurm && a.cell < 0) rc = grid_print_report(&g, outd, a.report);
    }
    grid_cells_free(cells, n);
    grid_spec_free(&g);
    free(outd);
    return rc;
}
