// gnuplot: the figure writer (see include/aca/gnuplot.h).
#include "aca/gnuplot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aca/outdir.h"

void gnuplot_init(aca_gnuplot *p, const char *stem, int width, int height) {
    memset(p, 0, sizeof *p);
    snprintf(p->stem, sizeof p->stem, "%s", stem);
    p->width = width, p->height = height;
}

void gnuplot_free(aca_gnuplot *p) {
    buf_free(&p->dat), buf_free(&p->head), buf_free(&p->body);
    memset(p, 0, sizeof *p);
}

void gnuplot_quote(aca_buf *b, const char *s) {
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '\n') {
            buf_puts(b, "\\n");
            continue;
        }
        if (*s == '"' || *s == '\\') buf_putc(b, '\\');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void vappend(aca_buf *b, const char *fmt, va_list ap) {
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < (int)sizeof small) {
        buf_puts(b, small);
    } else {
        char *big = xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        buf_puts(b, big);
        free(big);
    }
    va_end(ap2);
}

// ---- data --------------------------------------------------------------------------------------
// prefix, the formatted text and a newline.
static void vline(aca_buf *b, const char *prefix, const char *fmt, va_list ap) {
    buf_puts(b, prefix);
    vappend(b, fmt, ap);
    buf_putc(b, '\n');
}

int gnuplot_block(aca_gnuplot *p, const char *header_fmt, ...) {
    if (header_fmt) {
        va_list ap;
        va_start(ap, header_fmt);
        vline(&p->dat, "# ", header_fmt, ap);
        va_end(ap);
    }
    return p->n_blocks++;
}

void gnuplot_block_end(aca_gnuplot *p) { buf_puts(&p->dat, "\n\n"); }

void gnuplot_row(aca_gnuplot *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vappend(&p->dat, fmt, ap);
    va_end(ap);
}

void gnuplot_val(aca_gnuplot *p, double x) {
    if (isfinite(x)) buf_printf(&p->dat, " %.6g", x);
    else buf_puts(&p->dat, " NaN");
}

// ---- settings ----------------------------------------------------------------------------------
void gnuplot_comment(aca_gnuplot *p, const char *text) { buf_printf(&p->head, "# %s\n", text); }

void gnuplot_set(aca_gnuplot *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(&p->head, "set ", fmt, ap);
    va_end(ap);
}

static void set_text(aca_buf *b, const char *what, const char *text) {
    buf_printf(b, "set %s ", what);
    gnuplot_quote(b, text);
    buf_putc(b, '\n');
}

void gnuplot_text(aca_gnuplot *p, const char *what, const char *text) { set_text(&p->head, what, text); }

void gnuplot_tics(aca_gnuplot *p, const char *axis) {
    buf_printf(&p->head, "set %s (", axis);
    p->tics_open = 1;
}

void gnuplot_tic(aca_gnuplot *p, const char *label, double at) {
    if (p->tics_open > 1) buf_puts(&p->head, ", ");
    gnuplot_quote(&p->head, label);
    buf_printf(&p->head, " %g", at);
    p->tics_open = 2;
}

void gnuplot_tics_end(aca_gnuplot *p) {
    buf_puts(&p->head, ")\n");
    p->tics_open = 0;
}

// ---- body --------------------------------------------------------------------------------------
void gnuplot_draw(aca_gnuplot *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vline(&p->body, "", fmt, ap);
    va_end(ap);
}

void gnuplot_draw_text(aca_gnuplot *p, const char *what, const char *text) { set_text(&p->body, what, text); }

void gnuplot_series(aca_gnuplot *p, const char *source, int index, const char *title, const char *style_fmt, ...) {
    buf_puts(&p->body, p->in_plot ? ", \\\n  " : "plot ");
    p->in_plot = 1;
    if (source) {
        buf_puts(&p->body, source);
    } else {
        if (p->inline_data) {
            buf_puts(&p->body, "$data");
        } else {
            char fn[300];
            snprintf(fn, sizeof fn, "%s.dat", p->stem);
            gnuplot_quote(&p->body, fn);
        }
        if (index >= 0) buf_printf(&p->body, " index %d", index);
    }
    buf_putc(&p->body, ' ');
    va_list ap;
    va_start(ap, style_fmt);
    vappend(&p->body, style_fmt, ap);
    va_end(ap);
    if (title) {
        buf_puts(&p->body, " title ");
        gnuplot_quote(&p->body, title);
    } else {
        buf_puts(&p->body, " notitle");
    }
}

void gnuplot_plot_end(aca_gnuplot *p) {
    if (p->in_plot) buf_putc(&p->body, '\n');
    p->in_plot = 0;
}

// ---- output ------------------------------------------------------------------------------------
// The terminal of one format (png: pngcairo; svg), its output file, and the body.
static void output(const aca_gnuplot *p, const char *format, const char *file, aca_buf *out) {
    if (!strcmp(format, "png"))
        buf_printf(out, "set terminal pngcairo size %d,%d noenhanced font \",10\"\n", p->width, p->height);
    else buf_printf(out, "set terminal svg size %d,%d noenhanced font \"sans,10\"\n", p->width, p->height);
    buf_puts(out, "set output ");
    gnuplot_quote(out, file);
    buf_putc(out, '\n');
    buf_append(out, p->body.data ? p->body.data : "", p->body.len);
}

void gnuplot_script(const aca_gnuplot *p, aca_buf *out) {
    char file[300];
    buf_append(out, p->head.data ? p->head.data : "", p->head.len);
    snprintf(file, sizeof file, "%s.png", p->stem);
    output(p, "png", file, out);
    snprintf(file, sizeof file, "%s.svg", p->stem);
    output(p, "svg", file, out);
    buf_puts(out, "unset output\n");
}

static int write_file(const char *dir, const char *stem, const char *ext, const aca_buf *b, aca_err *e) {
    char name[300];
    snprintf(name, sizeof name, "%s%s", stem, ext);
    char *path = path_join(dir, name);
    int rc = file_write_atomic(path, b->data ? b->data : "", b->len, e);
    free(path);
    return rc;
}

int gnuplot_write(const aca_gnuplot *p, const char *dir, aca_err *e) {
    if (p->dat.len && write_file(dir, p->stem, ".dat", &p->dat, e)) return -1;
    aca_buf gp = {0};
    gnuplot_script(p, &gp);
    int rc = write_file(dir, p->stem, ".gp", &gp, e);
    buf_free(&gp);
    return rc;
}

int gnuplot_available(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

void gnuplot_run(const char *dir, const char *script) {
    if (!gnuplot_available()) return; // the caller says so once
    aca_buf cmd = {0};
    buf_puts(&cmd, "cd '");
    for (const char *c = dir; *c; c++) buf_puts(&cmd, *c == '\'' ? "'\\''" : (char[]){*c, 0});
    buf_printf(&cmd, "' && gnuplot '%s' 2>&1", script);
    int r = system(cmd.data);
    if (r != 0) log_warn("gnuplot %s/%s failed (exit %d); the script and data stay there", dir, script, r);
    buf_free(&cmd);
}

// The script of gnuplot_render_png: the data as a datablock, the settings, one PNG output.
static void render_script(const aca_gnuplot *p, const char *png, aca_buf *out) {
    if (p->dat.len) {
        buf_puts(out, "$data << EOD\n");
        buf_append(out, p->dat.data, p->dat.len);
        buf_puts(out, "EOD\n");
    }
    buf_append(out, p->head.data ? p->head.data : "", p->head.len);
    output(p, "png", png, out);
    buf_puts(out, "unset output\n");
}

int gnuplot_render_png(const aca_gnuplot *p, const char *path, aca_err *e) {
    aca_tmp t;
    int fd;
    if (tmp_create(&t, path, 0, &fd, e)) return -1;
    close(fd);
    aca_buf script = {0};
    render_script(p, t.path, &script);
    // gnuplot writes to its stdout when it cannot open the output: never onto ours.
    FILE *g = popen("gnuplot >/dev/null", "w");
    if (!g) {
        buf_free(&script);
        tmp_remove(&t);
        return aca_errf(e, ACA_ERR_IO, "cannot run gnuplot");
    }
    fwrite(script.data, 1, script.len, g);
    buf_free(&script);
    int st = pclose(g);
    struct stat sb;
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || stat(t.path, &sb) != 0 || sb.st_size == 0) {
        tmp_remove(&t);
        return aca_errf(e, ACA_ERR_IO, "gnuplot failed writing %s (is gnuplot with the pngcairo terminal installed?)", path);
    }
    if (rename(t.path, path)) {
        aca_errf(e, ACA_ERR_IO, "cannot rename %s to %s: %s", t.path, path, strerror(errno));
        return tmp_remove(&t), -1;
    }
    tmp_forget(&t);
    return 0;
}
