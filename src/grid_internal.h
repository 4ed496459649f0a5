// What the grid's files (src/grid_*.c) share and nothing else sees.  The data flow: grid_spec.c
// parses GRID.json; grid_cells.c enumerates and names the cells; grid_run.c runs them (grid_out.c,
// grid_check.c, grid_results.c guard the output directory); grid_aggregate.c reads the results back;
// grid_planner.c computes the planner's rows (no I/O); grid_report.c writes the tables and the
// bundle, grid_plots.c the figures; grid_slurm.c the Slurm script.
#ifndef ACA_GRID_INTERNAL_H
#define ACA_GRID_INTERNAL_H

#include "aca/grid.h"
#include "aca/jsonw.h"
#include "aca/plan.h"

// ---- cells and their names (grid_cells.c) --------------------------------------------------------
// %g, or as many digits as it takes to read back the same number (so distinct levels, homogeneity
// or epsilon values never share a cell id).
void grid_num_str(double x, char *out, size_t n);
// A cell kind as results and definitions write it: "baseline", "alone", "joint".
const char *grid_kind_json(aca_grid_cell_kind k);
// "A0=0.02<sep>B1=0.02": the acting collectives and their levels.
void grid_levels_text(const aca_grid_spec *g, unsigned acting, const int *lv, const char *sep, aca_buf *b);
// "P20 h0.5 eps8" (the axes a variant sets; "-" for none).
void grid_variant_text(const aca_grid_spec *g, int variant, aca_buf *b);
// The acting collectives' names, separated by sep (appended to b, which must start empty).
void grid_acting_names(const aca_grid_spec *g, unsigned acting, const char *sep, aca_buf *b);
// The acting collectives' names as a JSON array.
void grid_acting_json(const aca_grid_spec *g, unsigned acting, aca_jsonw *w);

// ---- aggregation (grid_aggregate.c) ----------------------------------------------------------------
// The unpoisoned group of a variant, or -1.
int grid_baseline_group(const aca_grid_agg *a, int variant);

// ---- the planner's rows (grid_planner.c): computed from the spec and the corpus, no I/O ------------
typedef struct {
    int variant, coll, level; // each collective's alone runs, per variant and level
    plan_strategy strategy;
    long n;                   // the level's size
    double bound;             // the planner's lower bound; NaN where n is outside [plan_n_floor, N)
    double meas_mean, meas_std; // the measured success over the trials (NaN: not run)
    int trials;
} grid_stair_row;

typedef struct {
    int variant, coll;
    long *n;       // (len) sizes from plan_n_floor up to N - 1
    double *bound; // (len) the bound at each
    int len;
} grid_stair_curve;

typedef struct grid_stairs {
    plan_params pp;     // delta, kind, n_test (n_e: per collective)
    long N;             // the platform: the training split
    size_t corpus_docs; // documents the clean statistics come from
    grid_stair_row *rows;
    int n_rows;
    grid_stair_curve *curves;
    int n_curves;
} grid_stairs;

// The planner's bound for each feature-label, unplant and erase collective at each level of its
// alone runs (see grid_planner.c; meas_* left NaN for the aggregate to fill); c: the grid's corpus.
int grid_planner_rows(const aca_grid_spec *g, const aca_corpus *c, const char *corpus_name, grid_stairs *out, aca_err *e);
void grid_stairs_free(grid_stairs *s);

// ---- figures (grid_plots.c) --------------------------------------------------------------------------
// grid_write_plots, and with st (the aggregate's stairs) the planner's staircase per variant.
int grid_plots_write(const aca_grid_agg *a, const grid_stairs *st, const char *dir, int run_gnuplot, aca_err *e);

#endif
