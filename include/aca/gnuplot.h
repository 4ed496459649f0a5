// gnuplot: one writer for every figure aca draws (the grid's Figures 3 and 4, the planner's
// staircase, `aca plan --plot`).  A figure is a data file of blocks (gnuplot's "index k"), settings,
// and a body (plot commands, or the panels of a multiplot) that is drawn once per output:
//  - gnuplot_write: DIR/<stem>.dat and DIR/<stem>.gp, a script that draws <stem>.png (pngcairo) and
//    <stem>.svg, to be run in DIR (gnuplot_run);
//  - gnuplot_render_png: one PNG at a path, the data inline in the script, gnuplot run on a pipe.
// Text is noenhanced (a name is printed as written) and quoted by gnuplot_quote.
//
//   aca_gnuplot p;
//   gnuplot_init(&p, "fig3", 760, 520);
//   int k = gnuplot_block(&p, "A: x mean std");           // "# A: x mean std"
//   gnuplot_row(&p, "%g", 1.0), gnuplot_val(&p, 0.5), gnuplot_val(&p, NAN), gnuplot_row(&p, "\n");
//   gnuplot_block_end(&p);
//   gnuplot_text(&p, "title", "efficacy");              // set title "efficacy"
//   gnuplot_series(&p, NULL, k, "A", "using 1:2:3 with yerrorlines lc %d", 1);
//   gnuplot_plot_end(&p);
//   gnuplot_write(&p, dir, e), gnuplot_run(dir, "fig3.gp"), gnuplot_free(&p);
#ifndef ACA_GNUPLOT_H
#define ACA_GNUPLOT_H

#include "aca/util.h"

typedef struct {
    char stem[256];  // the figure's files: <stem>.dat, .gp, .png, .svg
    int width, height;
    int inline_data; // the data goes into the script as the datablock $data (gnuplot_render_png)
    aca_buf dat;     // the data file
    int n_blocks;    // blocks begun: the next block's index
    aca_buf head;    // settings, once, before the outputs
    aca_buf body;    // drawn once per output
    int in_plot;     // a plot command is open (series follow)
    int tics_open;   // a "set xtics (" list is open
} aca_gnuplot;

void gnuplot_init(aca_gnuplot *p, const char *stem, int width, int height);
void gnuplot_free(aca_gnuplot *p);

// A gnuplot string literal: "...", with ", \ and newlines escaped.
void gnuplot_quote(aca_buf *b, const char *s);

// ---- data: blocks of rows ----------------------------------------------------------------------
// Begins a block (a "# header" line when header is not NULL); returns its index.
int gnuplot_block(aca_gnuplot *p, const char *header_fmt, ...) __attribute__((format(printf, 2, 3)));
// Ends a block (two blank lines).
void gnuplot_block_end(aca_gnuplot *p);
// Raw row text (the caller ends rows with "\n"), and one more value: " %.6g", or " NaN" (a gap).
void gnuplot_row(aca_gnuplot *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gnuplot_val(aca_gnuplot *p, double x);

// ---- settings (once, before the outputs) ---------------------------------------------------------
void gnuplot_comment(aca_gnuplot *p, const char *text); // "# text"
void gnuplot_set(aca_gnuplot *p, const char *fmt, ...) __attribute__((format(printf, 2, 3))); // "set <fmt>"
void gnuplot_text(aca_gnuplot *p, const char *what, const char *text); // set title|xlabel|ylabel "text"
// set <axis> ("label" at, ...): begin, one tic per call, end.
void gnuplot_tics(aca_gnuplot *p, const char *axis);
void gnuplot_tic(aca_gnuplot *p, const char *label, double at);
void gnuplot_tics_end(aca_gnuplot *p);

// ---- body (drawn once per output) ----------------------------------------------------------------
void gnuplot_draw(aca_gnuplot *p, const char *fmt, ...) __attribute__((format(printf, 2, 3))); // a line
void gnuplot_draw_text(aca_gnuplot *p, const char *what, const char *text); // set what "text" (a panel's title)
// One series of the open plot command (opened by the first): source NULL is the figure's data
// (with "index k" when index >= 0), else a function or value drawn as is; then the style (printf
// format) and the title ("notitle" when NULL).  Series after the first go on continuation lines.
void gnuplot_series(aca_gnuplot *p, const char *source, int index, const char *title, const char *style_fmt, ...)
    __attribute__((format(printf, 5, 6)));
void gnuplot_plot_end(aca_gnuplot *p);

// ---- output --------------------------------------------------------------------------------------
// The script that draws <stem>.png and <stem>.svg in the directory it runs in.
void gnuplot_script(const aca_gnuplot *p, aca_buf *out);
// Writes dir/<stem>.dat (when there is data) and dir/<stem>.gp atomically.
int gnuplot_write(const aca_gnuplot *p, const char *dir, aca_err *e);
// 1 when gnuplot is on PATH.
int gnuplot_available(void);
// Runs gnuplot on dir/script in dir; a missing gnuplot or a failed run is a warning, not an error.
void gnuplot_run(const char *dir, const char *script);
// Draws the figure (inline_data set before its series) into one PNG at path: a temporary beside
// it, renamed once gnuplot has written it; nothing is left at path on failure.
int gnuplot_render_png(const aca_gnuplot *p, const char *path, aca_err *e);

#endif
